package app

import (
	"context"

	"github.com/umeme-wallet/umeme/internal/httpapi"
	"github.com/umeme-wallet/umeme/internal/notify"
	"github.com/umeme-wallet/umeme/internal/sms"
)

// openSMS makes the outbox's sender from the SMS settings: Africa's
// Talking when AT_API_KEY is set, otherwise a sender that only logs each
// text (development). The wallet is given a store that wakes it after
// each commit that queued a text (notify.WakeOnQueue), so SMS_POLL only
// bounds the wait for retries and for rows queued by another server.
func (a *App) openSMS() error {
	c := a.Config.SMS
	var sender sms.Sender = sms.NewLog(a.Log)
	if c.Enabled() {
		at, err := sms.NewAT(sms.Config{BaseURL: c.BaseURL, Username: c.Username, APIKey: c.APIKey, From: c.From, Logger: a.Log})
		if err != nil {
			return err
		}
		sender = at
	}
	var err error
	a.Outbox, err = notify.NewOutbox(notify.OutboxConfig{Store: a.DB, Sender: sender, Log: a.Log, Batch: c.Batch, Lease: c.Lease,
		MaxAttempts: c.MaxAttempts, Poll: c.Poll, ServiceCode: c.ServiceCode, SendTimeout: sms.DefaultTimeout, Now: a.Config.Ops.Now})
	return err
}

// startSMS starts the outbox's sender with the other background workers;
// Close stops it with them.
func (a *App) startSMS(ctx context.Context) {
	if !a.Config.SMS.Enabled() {
		a.Log.Warn("SMS: no AT_API_KEY, texts are logged, not sent")
	}
	a.rails.Go(func() { a.Outbox.Run(ctx) })
}

// smsRoutes are the SMS callbacks the HTTP edge serves: none without
// SMS_CALLBACK_TOKEN.
func (a *App) smsRoutes() *httpapi.SMSRoutes {
	if a.Config.SMS.CallbackToken == "" {
		return nil
	}
	r := &httpapi.SMSRoutes{Token: a.Config.SMS.CallbackToken, Reports: a.Outbox}
	if a.SMSPay != nil {
		r.Inbound = a.SMSPay
	}
	return r
}
