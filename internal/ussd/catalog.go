package ussd

import (
	"fmt"
	"strconv"
	"strings"
)

// key names a user-facing string; every one exists in every language.
type key int

// The catalogue's keys.
const (
	kWelcome key = iota
	kCreateAccount
	kSwitchLanguage
	kChoosePIN
	kConfirmPIN
	kPINMismatch
	kPINWeak
	kRegistered
	kWaitingFunds
	kMainTitle
	kSend
	kReceive
	kBalance
	kTransactions
	kSettings
	kExit
	kBack
	kHome
	kEnterPhone
	kEnterAmount
	kConfirmSend
	kFeeLine
	kConfirm
	kEnterPIN
	kSent
	kSentNoBalance
	kBalanceIs
	kBalanceKES
	kReceiveAddress
	kHistoryEmpty
	kMore
	kHistoryIn
	kHistoryOut
	kChangePIN
	kLanguage
	kEnterCurrentPIN
	kEnterNewPIN
	kConfirmNewPIN
	kPINChanged
	kLanguageSaved
	kGoodbye
	kInvalidChoice
	kInvalidPhone
	kInvalidAmount
	kSelfSend
	kInsufficient
	kInsufficientHave
	kLimit
	kDailyLimit
	kWrongPIN
	kLocked
	kFrozen
	kFrozenSend
	kPaused
	kResetPIN
	kTooFast
	kSorry
	kUnconfirmed
	kNoMoreHistory
	kAlreadyRegistered
	kAuthExpired
	kReceiveShowAddress
	kReceiveInvoice
	kInvoiceSent
	kSendToPhone
	kSendToAddress
	kEnterAddress
	kEnterDomain
	kInvalidAddress
	kConfirmPay
	kFeeUpTo
	kPaymentPending
	kPaid
	kLightningDown
	kAddressFailed
	kLightningAddress
	kYourAddress
	kChooseName
	kEnterName
	kNameInvalid
	kNameReserved
	kNameTaken
	kNameLimit
	kNameSaved
	kInvoiceAlreadyPaid
	kBuy
	kSell
	kEnterKES
	kInvalidKES
	kKESLimit
	kBuyQuote
	kSellQuote
	kBuyStarted
	kSellStarted
	kRatesDown
	kQuoteExpired
	kMpesaBusy
	kMpesaDown
	kMpesaRefused
	kBuyOverCap
	kSMSPayAsk
	kSMSPayNote
	kSMSPayYes
	kSMSPayNo
	kSMSPayRejected
	kSMSPayClosed
	kSMSPayExpired
	numKeys
)

// catalogue holds every string in English and Kiswahili. Strings are
// fmt templates; they stay plain GSM-7 (no curly quotes, no emoji).
var catalogue = map[string][numKeys]string{
	"en": {
		kWelcome:            "Welcome to Umeme, bitcoin on your phone.",
		kCreateAccount:      "Create account",
		kSwitchLanguage:     "Kiswahili",
		kChoosePIN:          "Choose a PIN of 4 to 6 digits:",
		kConfirmPIN:         "Enter the same PIN again:",
		kPINMismatch:        "The PINs did not match.",
		kPINWeak:            "That PIN is too easy to guess.",
		kRegistered:         "Account ready. Your Lightning Address:\n%s",
		kWaitingFunds:       "%s sats were waiting for you.",
		kMainTitle:          "Umeme",
		kSend:               "Send",
		kReceive:            "Receive",
		kBalance:            "Balance",
		kTransactions:       "Transactions",
		kSettings:           "Settings",
		kExit:               "Exit",
		kBack:               "0. Back",
		kHome:               "00. Home",
		kEnterPhone:         "Send to phone number:",
		kEnterAmount:        "Amount in sats:",
		kConfirmSend:        "Send %s sats to %s?",
		kFeeLine:            "Fee: %s sats",
		kConfirm:            "1. Confirm",
		kEnterPIN:           "Enter your PIN:",
		kSent:               "Sent %s sats to %s.\nBalance: %s sats",
		kSentNoBalance:      "Sent %s sats to %s.",
		kBalanceIs:          "Balance: %s sats",
		kBalanceKES:         "About KES %s",
		kReceiveAddress:     "Receive bitcoin at your Lightning Address:\n%s\nOr ask an Umeme user to send to your number.",
		kHistoryEmpty:       "No transactions yet.",
		kMore:               "9. More",
		kHistoryIn:          "+%s %s %s",
		kHistoryOut:         "-%s %s %s",
		kChangePIN:          "Change PIN",
		kLanguage:           "Language / Lugha",
		kEnterCurrentPIN:    "Enter your current PIN:",
		kEnterNewPIN:        "Enter a new PIN of 4 to 6 digits:",
		kConfirmNewPIN:      "Enter the new PIN again:",
		kPINChanged:         "Your PIN has been changed.",
		kLanguageSaved:      "Language saved.",
		kGoodbye:            "Thank you for using Umeme.",
		kInvalidChoice:      "Invalid choice.",
		kInvalidPhone:       "Invalid phone number.",
		kInvalidAmount:      "Invalid amount.",
		kSelfSend:           "You cannot send to yourself.",
		kInsufficient:       "Not sent: your balance is too low.",
		kInsufficientHave:   "Balance too low (%s sats).",
		kLimit:              "Amount must be %s to %s sats.",
		kDailyLimit:         "Not sent: over your daily limit of %s sats.",
		kWrongPIN:           "Wrong PIN, %d tries left.",
		kLocked:             "Too many wrong PINs. Try again after %s (EAT).",
		kFrozen:             "Your account is locked. Please contact support.",
		kFrozenSend:         "Your account is frozen: you can receive, but not send. Please contact support.",
		kPaused:             "This service is temporarily unavailable. Nothing was taken from your balance. Please try again later.",
		kResetPIN:           "Your PIN was reset. Choose a new 4-6 digit PIN:",
		kTooFast:            "Too many requests. Please try again in a minute.",
		kSorry:              "Sorry, the service is busy. Please try again later.",
		kUnconfirmed:        "Sorry, we could not confirm this. Check your balance before you try again.",
		kNoMoreHistory:      "No older transactions.",
		kAlreadyRegistered:  "This number already has an account.",
		kAuthExpired:        "Took too long. Please start again.",
		kReceiveShowAddress: "Show my Lightning Address",
		kReceiveInvoice:     "Invoice by SMS",
		kInvoiceSent:        "An invoice for %s sats is on its way to you by SMS.",
		kSendToPhone:        "To a phone number",
		kSendToAddress:      "To a Lightning Address",
		kEnterAddress:       "Lightning Address (name@domain), or only the name:",
		kEnterDomain:        "Domain (the part after @):",
		kInvalidAddress:     "Invalid Lightning Address.",
		kConfirmPay:         "Pay %s sats to %s?",
		kFeeUpTo:            "Fee: up to %s sats",
		kPaymentPending:     "Paying %s sats to %s. We will SMS you the result.",
		kPaid:               "Paid %s sats to %s.",
		kLightningDown:      "Lightning is unavailable right now. Please try later.",
		kAddressFailed:      "Could not get an invoice from that address. Nothing was paid.",
		kLightningAddress:   "Lightning Address",
		kYourAddress:        "Your Lightning Address:\n%s",
		kChooseName:         "Choose a name",
		kEnterName:          "New name: 3 to 20 letters a-z and digits, at least one letter:",
		kNameInvalid:        "Invalid name.",
		kNameReserved:       "That name is reserved.",
		kNameTaken:          "That name is taken.",
		kNameLimit:          "You have chosen as many names as allowed.",
		kNameSaved:          "Your Lightning Address is now:\n%s\nYour number's address still works.",
		kInvoiceAlreadyPaid: "This invoice was already paid or tried. Ask for a new invoice. Nothing was charged.",
		kBuy:                "Buy with M-Pesa",
		kSell:               "Sell to M-Pesa",
		kEnterKES:           "Amount in KES (%s-%s):",
		kInvalidKES:         "Enter whole shillings, e.g. 500.",
		kKESLimit:           "Amount must be KES %s to %s.",
		kBuyQuote:           "Pay KES %s for %s sats?\nPrice holds %d min.",
		kSellQuote:          "Get KES %s on M-Pesa for %s sats?\nPrice holds %d min.",
		kBuyStarted:         "Check your phone: enter your M-Pesa PIN to pay KES %s. Your sats arrive when M-Pesa confirms.",
		kSellStarted:        "KES %s is on its way to %s. You will get an M-Pesa message.",
		kRatesDown:          "Prices are not available right now. Nothing was charged. Please try later.",
		kQuoteExpired:       "The price has expired. Nothing was charged. Please start again.",
		kMpesaBusy:          "An M-Pesa prompt is already open on your phone. Finish it, then try again.",
		kMpesaDown:          "M-Pesa did not take the request. Nothing was charged. Please try later.",
		kMpesaRefused:       "M-Pesa refused the payment. Your sats were returned.",
		kBuyOverCap:         "Not started: that would take your balance over its limit.",
		kSMSPayAsk:          "Pay %s sats to %s (fee up to %s sats)?",
		kSMSPayNote:         "Invoice says: \"%s\"",
		kSMSPayYes:          "Pay",
		kSMSPayNo:           "Reject",
		kSMSPayRejected:     "Payment request rejected. Nothing was paid.",
		kSMSPayClosed:       "This payment request is no longer open.",
		kSMSPayExpired:      "This invoice can no longer be paid. Nothing was charged. Ask for a new invoice.",
	},
	"sw": {
		kWelcome:            "Karibu Umeme, bitcoin kwenye simu yako.",
		kCreateAccount:      "Fungua akaunti",
		kSwitchLanguage:     "English",
		kChoosePIN:          "Chagua PIN ya tarakimu 4 hadi 6:",
		kConfirmPIN:         "Weka PIN hiyo tena:",
		kPINMismatch:        "PIN hazilingani.",
		kPINWeak:            "PIN hiyo ni rahisi kukisia.",
		kRegistered:         "Akaunti iko tayari. Anwani yako ya Lightning:\n%s",
		kWaitingFunds:       "Sats %s zilikuwa zinakusubiri.",
		kMainTitle:          "Umeme",
		kSend:               "Tuma",
		kReceive:            "Pokea",
		kBalance:            "Salio",
		kTransactions:       "Miamala",
		kSettings:           "Mipangilio",
		kExit:               "Ondoka",
		kBack:               "0. Rudi",
		kHome:               "00. Mwanzo",
		kEnterPhone:         "Tuma kwa nambari ya simu:",
		kEnterAmount:        "Kiasi kwa sats:",
		kConfirmSend:        "Tuma sats %s kwa %s?",
		kFeeLine:            "Ada: sats %s",
		kConfirm:            "1. Thibitisha",
		kEnterPIN:           "Weka PIN yako:",
		kSent:               "Umetuma sats %s kwa %s.\nSalio: sats %s",
		kSentNoBalance:      "Umetuma sats %s kwa %s.",
		kBalanceIs:          "Salio: sats %s",
		kBalanceKES:         "Takriban KES %s",
		kReceiveAddress:     "Pokea bitcoin kwa Anwani yako ya Lightning:\n%s\nAu mwombe mtumiaji wa Umeme akutumie kwa nambari yako.",
		kHistoryEmpty:       "Bado hakuna miamala.",
		kMore:               "9. Zaidi",
		kHistoryIn:          "+%s %s %s",
		kHistoryOut:         "-%s %s %s",
		kChangePIN:          "Badilisha PIN",
		kLanguage:           "Lugha / Language",
		kEnterCurrentPIN:    "Weka PIN yako ya sasa:",
		kEnterNewPIN:        "Weka PIN mpya ya tarakimu 4 hadi 6:",
		kConfirmNewPIN:      "Weka PIN mpya tena:",
		kPINChanged:         "PIN yako imebadilishwa.",
		kLanguageSaved:      "Lugha imehifadhiwa.",
		kGoodbye:            "Asante kwa kutumia Umeme.",
		kInvalidChoice:      "Chaguo si sahihi.",
		kInvalidPhone:       "Nambari ya simu si sahihi.",
		kInvalidAmount:      "Kiasi si sahihi.",
		kSelfSend:           "Huwezi kujitumia mwenyewe.",
		kInsufficient:       "Haijatumwa: salio lako halitoshi.",
		kInsufficientHave:   "Salio halitoshi (sats %s).",
		kLimit:              "Kiasi kiwe kati ya sats %s na %s.",
		kDailyLimit:         "Haijatumwa: umezidi kikomo cha siku cha sats %s.",
		kWrongPIN:           "PIN si sahihi, majaribio %d yamebaki.",
		kLocked:             "PIN zisizo sahihi mara nyingi. Jaribu tena baada ya saa %s.",
		kFrozen:             "Akaunti yako imefungwa. Tafadhali wasiliana na huduma kwa wateja.",
		kFrozenSend:         "Akaunti yako imezuiwa: unaweza kupokea, lakini huwezi kutuma. Tafadhali wasiliana na huduma kwa wateja.",
		kPaused:             "Huduma hii haipatikani kwa muda. Hakuna kilichotolewa kwenye salio lako. Tafadhali jaribu tena baadaye.",
		kResetPIN:           "PIN yako imewekwa upya. Chagua PIN mpya ya tarakimu 4-6:",
		kTooFast:            "Maombi mengi mno. Tafadhali jaribu tena baada ya dakika moja.",
		kSorry:              "Samahani, huduma ina shughuli nyingi. Tafadhali jaribu tena baadaye.",
		kUnconfirmed:        "Samahani, hatukuweza kuthibitisha hili. Angalia salio lako kabla ya kujaribu tena.",
		kNoMoreHistory:      "Hakuna miamala ya zamani zaidi.",
		kAlreadyRegistered:  "Nambari hii tayari ina akaunti.",
		kAuthExpired:        "Muda umeisha. Tafadhali anza tena.",
		kReceiveShowAddress: "Onyesha Anwani yangu ya Lightning",
		kReceiveInvoice:     "Ankara kwa SMS",
		kInvoiceSent:        "Ankara ya sats %s inakujia kwa SMS.",
		kSendToPhone:        "Kwa nambari ya simu",
		kSendToAddress:      "Kwa Anwani ya Lightning",
		kEnterAddress:       "Anwani ya Lightning (jina@kikoa), au jina pekee:",
		kEnterDomain:        "Kikoa (sehemu baada ya @):",
		kInvalidAddress:     "Anwani ya Lightning si sahihi.",
		kConfirmPay:         "Lipa sats %s kwa %s?",
		kFeeUpTo:            "Ada: hadi sats %s",
		kPaymentPending:     "Tunalipa sats %s kwa %s. Tutakutumia SMS ya matokeo.",
		kPaid:               "Umelipa sats %s kwa %s.",
		kLightningDown:      "Lightning haipatikani kwa sasa. Tafadhali jaribu baadaye.",
		kAddressFailed:      "Imeshindwa kupata ankara kutoka kwa anwani hiyo. Hakuna kilicholipwa.",
		kLightningAddress:   "Anwani ya Lightning",
		kYourAddress:        "Anwani yako ya Lightning:\n%s",
		kChooseName:         "Chagua jina",
		kEnterName:          "Jina jipya: herufi a-z na tarakimu, 3 hadi 20, angalau herufi moja:",
		kNameInvalid:        "Jina si sahihi.",
		kNameReserved:       "Jina hilo limetengwa.",
		kNameTaken:          "Jina hilo limeshachukuliwa.",
		kNameLimit:          "Umeshachagua majina mengi kadri inavyoruhusiwa.",
		kNameSaved:          "Anwani yako ya Lightning sasa ni:\n%s\nAnwani ya nambari yako bado inafanya kazi.",
		kInvoiceAlreadyPaid: "Ankara hii imeshalipwa au imeshajaribiwa. Omba ankara mpya. Hujatozwa chochote.",
		kBuy:                "Nunua kwa M-Pesa",
		kSell:               "Uza kwa M-Pesa",
		kEnterKES:           "Kiasi kwa KES (%s-%s):",
		kInvalidKES:         "Weka shilingi kamili, mfano 500.",
		kKESLimit:           "Kiasi kiwe KES %s hadi %s.",
		kBuyQuote:           "Lipa KES %s upate sats %s?\nBei ni ya dak %d.",
		kSellQuote:          "Pokea KES %s kwenye M-Pesa kwa sats %s?\nBei ni ya dak %d.",
		kBuyStarted:         "Angalia simu yako: weka PIN ya M-Pesa ulipe KES %s. Sats zitaingia M-Pesa ikithibitisha.",
		kSellStarted:        "KES %s inatumwa kwa %s. Utapokea ujumbe wa M-Pesa.",
		kRatesDown:          "Bei hazipatikani kwa sasa. Hakuna kilichotozwa. Tafadhali jaribu baadaye.",
		kQuoteExpired:       "Bei imeisha muda. Hakuna kilichotozwa. Tafadhali anza tena.",
		kMpesaBusy:          "Kuna ombi la M-Pesa tayari kwenye simu yako. Limalize, kisha ujaribu tena.",
		kMpesaDown:          "M-Pesa haikupokea ombi. Hakuna kilichotozwa. Tafadhali jaribu baadaye.",
		kMpesaRefused:       "M-Pesa imekataa malipo. Sats zako zimerudishwa.",
		kBuyOverCap:         "Haikuanzishwa: salio lingezidi kikomo chake.",
		kSMSPayAsk:          "Lipa sats %s kwa %s (ada hadi sats %s)?",
		kSMSPayNote:         "Ankara inasema: \"%s\"",
		kSMSPayYes:          "Lipa",
		kSMSPayNo:           "Kataa",
		kSMSPayRejected:     "Ombi la malipo limekataliwa. Hakuna kilicholipwa.",
		kSMSPayClosed:       "Ombi hili la malipo halipo wazi tena.",
		kSMSPayExpired:      "Ankara hii haiwezi kulipwa tena. Hujatozwa chochote. Omba ankara mpya.",
	},
}

// Languages are the languages the catalogue speaks.
var Languages = []string{"en", "sw"}

// text returns a catalogue string in lang (English when lang is unknown),
// filled with args.
func text(lang string, k key, args ...any) string {
	c, ok := catalogue[lang]
	if !ok {
		c = catalogue["en"]
	}
	if len(args) == 0 {
		return c[k]
	}
	return fmt.Sprintf(c[k], args...)
}

// sats formats an msat amount as whole sats with thousands separators.
func sats(msat int64) string { return group(msat / 1000) }

// group writes n with commas between thousands.
func group(n int64) string {
	s := strconv.FormatInt(n, 10)
	neg := strings.HasPrefix(s, "-")
	s = strings.TrimPrefix(s, "-")
	var b strings.Builder
	for i, r := range s {
		if i > 0 && (len(s)-i)%3 == 0 {
			b.WriteByte(',')
		}
		b.WriteRune(r)
	}
	if neg {
		return "-" + b.String()
	}
	return b.String()
}
