package notify

import "fmt"

// key names one piece of an SMS; every one exists in every language.
type key int

// The catalogue's keys.
const (
	kSats key = iota
	kFrom
	kTo
	kBalance
	kReturned
	kNothingPaid
	kReceived
	kPayerNote
	kPaymentSent
	kPaymentFailed
	kPaymentNotDone
	kWhyTimeout
	kWhyNoRoute
	kWhyRefused
	kWhyNoLiquidity
	kWhyCancelled
	kWhyExpired
	kWhyAlreadyPaid
	kWithdrawalPaid
	kWithdrawalFailed
	kTopupFailed
	kTopupNotDone
	kTopupUnconfirmed
	kWhyMpesaCancelled
	kWhyMpesaTimeout
	kWhyMpesaPIN
	kWhyMpesaFunds
	kWhyMpesaBusy
	kWhyMpesaUnsent
	kInvoice
	kInvoiceNoAmount
	kInvoiceMissing
	kPINChanged
	kLockedOut
	kPayRequest
	kFeeUpTo
	kInvoiceSays
	kServiceCode
	kRefusedExpired
	kRefusedNetwork
	kRefusedAmountless
	kRefusedPaid
	kRefusedInvalid
	kRefusedAmount
	kRefusedAmountOf
	kRefusedAddress
	kThatAddress
	kRefusedFlood
	kRefusedBusy
	kRefusedOther
	kRegisterFirst
	kPINReset
	kUpdate
	numKeys
)

// catalogue holds every piece in English and Kiswahili, in the words of the
// USSD menus (ussd/catalog.go), so that the texts read as the same product.
// Pieces are fmt templates; an amount is passed already worded by kSats
// ("5,000 sats", "sats 5,000"). They stay plain GSM-7: no curly quotes, no
// emoji, no accented letters.
var catalogue = map[string][numKeys]string{
	"en": {
		kSats:        "%s sats",
		kFrom:        " from %s",
		kTo:          " to %s",
		kBalance:     "Balance: %s",
		kReturned:    "Your sats were returned to your balance.",
		kNothingPaid: "Nothing was paid.",

		kReceived:  "You received %s%s.",
		kPayerNote: "Note from the payer: \"%s\"",

		kPaymentSent:    "Your payment of %s%s is complete.",
		kPaymentFailed:  "Your payment of %s%s failed: %s.",
		kPaymentNotDone: "Your payment of %s%s could not be completed.",
		kWhyTimeout:     "it timed out",
		kWhyNoRoute:     "no route to the recipient was found",
		kWhyRefused:     "the recipient refused it",
		kWhyNoLiquidity: "the service could not send it just now, please try again later",
		kWhyCancelled:   "it was cancelled",
		kWhyExpired:     "the invoice expired",
		kWhyAlreadyPaid: "the invoice was already paid",

		kWithdrawalPaid:   "Sold %s to M-Pesa. The money was sent to your M-Pesa.",
		kWithdrawalFailed: "Your sale of %s to M-Pesa did not go through.",

		kTopupFailed:       "Your purchase of %s with M-Pesa did not go through: %s. Nothing was charged.",
		kTopupNotDone:      "Your purchase of %s with M-Pesa did not go through. Nothing was charged.",
		kTopupUnconfirmed:  "We could not confirm your M-Pesa payment for %s, so nothing was credited. If M-Pesa charged you, contact support with the M-Pesa message.",
		kWhyMpesaCancelled: "the M-Pesa prompt was cancelled",
		kWhyMpesaTimeout:   "the M-Pesa prompt was not answered in time",
		kWhyMpesaPIN:       "the M-Pesa PIN was wrong",
		kWhyMpesaFunds:     "your M-Pesa balance was too low",
		kWhyMpesaBusy:      "another M-Pesa prompt was open on your phone",
		kWhyMpesaUnsent:    "M-Pesa did not take the request",

		kInvoice:         "Lightning invoice for %s:\n%s",
		kInvoiceNoAmount: "Lightning invoice:\n%s",
		kInvoiceMissing:  "Your invoice for %s could not be sent by SMS. Please ask for a new one.",

		kPINChanged: "Your Umeme PIN was changed. If this was not you, contact support at once.",
		kLockedOut:  "Too many wrong PINs: your Umeme account is locked for a while. If this was not you, contact support.",

		kPayRequest:  "Dial %s to approve paying %s%s%s.%s Nothing is paid until you approve with your PIN.",
		kFeeUpTo:     " (fee up to %s)",
		kInvoiceSays: " Invoice says: \"%s\".",
		kServiceCode: "the Umeme USSD code",

		kRefusedExpired:    "That invoice has expired: ask for a new invoice.",
		kRefusedNetwork:    "That invoice is for another Bitcoin network and cannot be paid here: ask for a new invoice.",
		kRefusedAmountless: "That invoice has no amount: ask for an invoice with an amount.",
		kRefusedPaid:       "That invoice was already paid or tried: ask for a new invoice.",
		kRefusedInvalid:    "We could not read that text. To pay by SMS, send the invoice alone, or send: pay name@domain 5000 (the amount in sats).",
		kRefusedAmount:     "The amount%s is outside what you may pay.",
		kRefusedAmountOf:   " (%s)",
		kRefusedAddress:    "Could not get an invoice from %s: check the address and try again.",
		kThatAddress:       "that Lightning Address",
		kRefusedFlood:      "Too many texts from your number. Please wait a while before you text again.",
		kRefusedBusy:       "Lightning payments are unavailable right now. Nothing was charged. Please text the invoice again later.",
		kRefusedOther:      "Your text could not be made into a payment.",

		kRegisterFirst: "This number has no Umeme wallet yet. Dial %s to open a wallet first.",
		kPINReset:      "Umeme support reset your PIN. From %s (EAT) dial %s to choose a new one. If you did not ask for this, call support at once.",
		kUpdate:        "There is news on your Umeme account. Dial %s for details.",
	},
	"sw": {
		kSats:        "sats %s",
		kFrom:        " kutoka kwa %s",
		kTo:          " kwa %s",
		kBalance:     "Salio: %s",
		kReturned:    "Sats zako zimerudishwa kwenye salio lako.",
		kNothingPaid: "Hakuna kilicholipwa.",

		kReceived:  "Umepokea %s%s.",
		kPayerNote: "Ujumbe wa mlipaji: \"%s\"",

		kPaymentSent:    "Malipo yako ya %s%s yamekamilika.",
		kPaymentFailed:  "Malipo yako ya %s%s hayakufanikiwa: %s.",
		kPaymentNotDone: "Malipo yako ya %s%s hayakuweza kukamilika.",
		kWhyTimeout:     "muda uliisha",
		kWhyNoRoute:     "njia ya kumfikia mpokeaji haikupatikana",
		kWhyRefused:     "mpokeaji aliyakataa",
		kWhyNoLiquidity: "huduma haikuweza kuyatuma kwa sasa, tafadhali jaribu tena baadaye",
		kWhyCancelled:   "yalisitishwa",
		kWhyExpired:     "ankara iliisha muda",
		kWhyAlreadyPaid: "ankara ilikuwa imeshalipwa",

		kWithdrawalPaid:   "Umeuza %s kwa M-Pesa. Pesa zimetumwa kwenye M-Pesa yako.",
		kWithdrawalFailed: "Uuzaji wa %s kwa M-Pesa haukufanikiwa.",

		kTopupFailed:       "Ununuzi wa %s kwa M-Pesa haukufanikiwa: %s. Hakuna kilichotozwa.",
		kTopupNotDone:      "Ununuzi wa %s kwa M-Pesa haukufanikiwa. Hakuna kilichotozwa.",
		kTopupUnconfirmed:  "Hatukuweza kuthibitisha malipo yako ya M-Pesa ya %s, kwa hivyo hakuna kilichowekwa. Kama M-Pesa ilikutoza, wasiliana na huduma kwa wateja ukiwa na ujumbe wa M-Pesa.",
		kWhyMpesaCancelled: "ombi la M-Pesa lilisitishwa",
		kWhyMpesaTimeout:   "ombi la M-Pesa halikujibiwa kwa wakati",
		kWhyMpesaPIN:       "PIN ya M-Pesa haikuwa sahihi",
		kWhyMpesaFunds:     "salio lako la M-Pesa halikutosha",
		kWhyMpesaBusy:      "kulikuwa na ombi lingine la M-Pesa kwenye simu yako",
		kWhyMpesaUnsent:    "M-Pesa haikupokea ombi",

		kInvoice:         "Ankara ya Lightning ya %s:\n%s",
		kInvoiceNoAmount: "Ankara ya Lightning:\n%s",
		kInvoiceMissing:  "Ankara yako ya %s haikuweza kutumwa kwa SMS. Tafadhali omba mpya.",

		kPINChanged: "PIN yako ya Umeme imebadilishwa. Kama si wewe, wasiliana na huduma kwa wateja mara moja.",
		kLockedOut:  "PIN zisizo sahihi mara nyingi: akaunti yako ya Umeme imefungwa kwa muda. Kama si wewe, wasiliana na huduma kwa wateja.",

		kPayRequest:  "Piga %s kuidhinisha kulipa %s%s%s.%s Hakuna kitakacholipwa hadi uidhinishe kwa PIN yako.",
		kFeeUpTo:     " (ada hadi %s)",
		kInvoiceSays: " Ankara inasema: \"%s\".",
		kServiceCode: "msimbo wa USSD wa Umeme",

		kRefusedExpired:    "Ankara hiyo imeisha muda: omba ankara mpya.",
		kRefusedNetwork:    "Ankara hiyo ni ya mtandao mwingine wa Bitcoin na haiwezi kulipwa hapa: omba ankara mpya.",
		kRefusedAmountless: "Ankara hiyo haina kiasi: omba ankara yenye kiasi.",
		kRefusedPaid:       "Ankara hiyo imeshalipwa au imeshajaribiwa: omba ankara mpya.",
		kRefusedInvalid:    "Hatukuelewa ujumbe huo. Kulipa kwa SMS, tuma ankara pekee, au tuma: pay jina@kikoa 5000 (kiasi kwa sats).",
		kRefusedAmount:     "Kiasi%s kiko nje ya kile unachoruhusiwa kulipa.",
		kRefusedAmountOf:   " (%s)",
		kRefusedAddress:    "Imeshindwa kupata ankara kutoka kwa %s: hakikisha anwani ni sahihi ujaribu tena.",
		kThatAddress:       "anwani hiyo ya Lightning",
		kRefusedFlood:      "Ujumbe mwingi mno kutoka nambari yako. Tafadhali subiri kwa muda kabla ya kutuma tena.",
		kRefusedBusy:       "Malipo ya Lightning hayapatikani kwa sasa. Hakuna kilichotozwa. Tafadhali tuma ankara tena baadaye.",
		kRefusedOther:      "Ujumbe wako haukuweza kugeuzwa kuwa malipo.",

		kRegisterFirst: "Nambari hii bado haina akaunti ya Umeme. Piga %s kufungua akaunti kwanza.",
		kPINReset:      "Huduma ya Umeme imeweka upya PIN yako. Kuanzia %s (EAT) piga %s kuchagua PIN mpya. Kama hukuomba, piga simu kwa huduma kwa wateja mara moja.",
		kUpdate:        "Kuna habari mpya kwenye akaunti yako ya Umeme. Piga %s kwa maelezo zaidi.",
	},
}

// text returns a catalogue piece in lang (English when lang is unknown),
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
