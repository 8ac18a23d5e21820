package ussd

import (
	"errors"

	"github.com/umeme-wallet/umeme/internal/lightning"
	"github.com/umeme-wallet/umeme/internal/wallet"
)

// The receive flow with a Lightning node: show the address, or have an
// invoice sent by SMS. Without a node the main menu shows the address
// alone.
const (
	stReceive    = "receive"        // address or invoice
	stInvoiceAmt = "invoice_amount" // an invoice by SMS
)

var receiveStates = map[string]state{
	stReceive: {parent: stMain, read: (*hop).receive, draw: func(h *hop) []string {
		return []string{"1. " + h.t(kReceiveShowAddress), "2. " + h.t(kReceiveInvoice), h.t(kBack)}
	}},
	stInvoiceAmt: {parent: stReceive, read: (*hop).invoiceAmount, draw: prompt(kEnterAmount)},
}

func (h *hop) receive(in string) {
	switch in {
	case "1":
		h.finish(h.t(kReceiveAddress, h.address()))
	case "2":
		h.goTo(stInvoiceAmt)
	default:
		h.refuse(kInvalidChoice)
	}
}

// invoiceAmount issues an invoice on the node; its BOLT11 string goes out
// by SMS (through the outbox), since it cannot fit a screen.
func (h *hop) invoiceAmount(in string) {
	n, ok := parseSats(in)
	if !ok {
		h.refuse(kInvalidAmount)
		return
	}
	_, err := h.e.cfg.Lightning.Receiver.RequestInvoice(h.ctx, h.user.ID, n*1000, "Umeme "+wallet.MaskPhone(h.phone))
	var le *wallet.LimitError
	switch {
	case errors.As(err, &le):
		cfg := h.e.wallet.Config()
		h.refuse(kLimit, sats(cfg.MinAmountMsat), sats(cfg.MaxAmountMsat))
		return
	case errors.Is(err, lightning.ErrUnavailable):
		h.finish(h.t(kLightningDown))
		return
	case err != nil:
		h.sorry(err)
		return
	}
	h.finish(h.t(kInvoiceSent, group(n)))
}
