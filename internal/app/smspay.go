package app

import (
	"github.com/umeme-wallet/umeme/internal/lightning"
	"github.com/umeme-wallet/umeme/internal/notify"
	"github.com/umeme-wallet/umeme/internal/smspay"
)

// openSMSPay makes the service that turns invoices texted to the
// service's number into payment requests for the USSD menus to approve.
// It needs a Lightning node (to check and pay them) and the SMS callbacks
// (SMS_CALLBACK_TOKEN: without them no text arrives); nil otherwise.
func (a *App) openSMSPay(node lightning.Node, addresses *lightning.LNURLClient) *smspay.Service {
	if a.Config.SMS.CallbackToken == "" || a.Payer == nil {
		return nil
	}
	// Its replies wake the outbox as the wallet's receipts do.
	return &smspay.Service{Store: notify.WakeOnQueue(a.DB, a.Outbox), Wallet: a.Wallet, Node: node, Addresses: addresses, Payer: a.Payer, Log: a.Log,
		Config: smspay.Config{PerHour: a.Config.SMS.InboundPerHour, RegisterRepliesPerDay: a.Config.SMS.RegisterRepliesPerDay,
			Number: a.Config.SMS.InboundNumber, Network: a.Config.LNDNetwork}}
}
