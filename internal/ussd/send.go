package ussd

import (
	"strconv"

	"github.com/umeme-wallet/umeme/internal/wallet"
)

// The send flow: sats to another phone number, inside Umeme. With a
// Lightning node it starts by choosing a number or a Lightning Address
// (lnpay.go).
const (
	stSendKind    = "send_kind"    // phone number or Lightning Address
	stSendTo      = "send_to"      // recipient's number
	stSendAmount  = "send_amount"  // buf: [recipient]
	stSendConfirm = "send_confirm" // buf: [recipient, sats]
	stSendPIN     = "send_pin"     // buf: [recipient, sats]
)

var sendStates = map[string]state{
	stSendKind: {parent: stMain, read: (*hop).sendKind, draw: func(h *hop) []string {
		return []string{"1. " + h.t(kSendToPhone), "2. " + h.t(kSendToAddress), h.t(kBack)}
	}},
	stSendTo:     {parent: stMain, read: (*hop).sendTo, draw: prompt(kEnterPhone)},
	stSendAmount: {parent: stSendTo, keep: 1, read: (*hop).sendAmount, draw: prompt(kEnterAmount)},
	stSendConfirm: {parent: stSendAmount, keep: keepAll, read: (*hop).sendConfirm, draw: func(h *hop) []string {
		n, _ := parseSats(h.buf[1])
		return []string{h.t(kConfirmSend, group(n), maskPhone(h.buf[0])),
			h.t(kFeeLine, sats(h.e.wallet.TransferFee(n*1000))), h.t(kConfirm), h.t(kBack)}
	}},
	stSendPIN: {parent: stSendConfirm, afterPIN: (*hop).send, draw: prompt(kEnterPIN)},
}

func (h *hop) sendKind(in string) {
	switch in {
	case "1":
		h.goTo(stSendTo)
	case "2":
		h.goTo(stSendAddress)
	default:
		h.refuse(kInvalidChoice)
	}
}

func (h *hop) sendTo(in string) {
	to, err := wallet.NormalizePhone(in, h.e.wallet.Config().Region)
	if err != nil {
		h.refuse(kInvalidPhone)
		return
	}
	if to == h.phone {
		h.refuse(kSelfSend)
		return
	}
	h.goTo(stSendAmount, to)
}

func (h *hop) sendAmount(in string) {
	if n, ok := h.spendable(in, h.e.wallet.TransferFee); ok {
		h.goTo(stSendConfirm, h.buf[0], strconv.FormatInt(n, 10))
	}
}

func (h *hop) sendConfirm(in string) {
	if in != "1" {
		h.refuse(kInvalidChoice)
		return
	}
	h.goTo(stSendPIN, h.buf...)
}

func (h *hop) send(auth wallet.Authorization) {
	if len(h.buf) != 2 {
		h.goTo(stMain)
		return
	}
	to := h.buf[0]
	n, _ := parseSats(h.buf[1])
	_, err := h.e.wallet.Transfer(h.ctx, auth, to, n*1000, h.key)
	if h.refusedSpend(err) {
		return
	}
	if err != nil {
		h.sorry(err)
		return
	}
	// The transfer is done: past the deadline, the balance is still read
	// (late), and without it the screen still says it was sent, never
	// the apology that asks to try again.
	ctx, cancel := late(h.ctx)
	defer cancel()
	bal, err := h.e.wallet.Balance(ctx, h.user.ID)
	if err != nil {
		h.e.log.Error("ussd: balance after a transfer", "phone", wallet.MaskPhone(h.phone), "err", err)
		h.finish(h.t(kSentNoBalance, group(n), maskPhone(to)))
		return
	}
	h.finish(h.t(kSent, group(n), maskPhone(to), sats(bal)))
}
