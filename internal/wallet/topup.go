package wallet

import (
	"context"
	"fmt"

	"github.com/umeme-wallet/umeme/internal/store"
)

// Topup is money that M-Pesa reports as paid in for a phone number.
type Topup struct {
	Phone             string
	AmountMsat        int64
	MpesaReceipt      string // the receipt number: credited once per receipt
	CheckoutRequestID string
	Description       string
}

// CreditTopup credits a top-up once per M-Pesa receipt number: a repeated
// callback returns the first credit and moves nothing. A number without an
// account gets one. Money already taken on M-Pesa is credited whatever the
// balance cap (the cap is enforced before the top-up is requested).
func (w *Service) CreditTopup(ctx context.Context, t Topup) (store.Transaction, error) {
	phone, err := NormalizePhone(t.Phone, w.cfg.Region)
	if err != nil {
		return store.Transaction{}, err
	}
	if err := checkMsat("top-up", t.AmountMsat); err != nil {
		return store.Transaction{}, err
	}
	if t.MpesaReceipt == "" {
		return store.Transaction{}, fmt.Errorf("credit topup: a receipt number is required")
	}
	key := "topup:" + t.MpesaReceipt
	same := func(x store.Transaction) bool {
		return x.Type == store.TypeTopup && x.AmountMsat == t.AmountMsat && x.MpesaReceipt == t.MpesaReceipt
	}
	return w.idempotent(ctx, key, same, func() (store.Transaction, error) {
		var row store.Transaction
		err := w.store.InTx(ctx, func(ctx context.Context, tx store.Tx) error {
			now := w.now()
			u, acc, err := ensureAccount(ctx, tx, phone, now)
			if err != nil {
				return err
			}
			row = store.Transaction{
				UserID: u.ID, Type: store.TypeTopup, Direction: store.DirectionIn, Status: store.StatusCompleted,
				AmountMsat: t.AmountMsat, MpesaReceipt: t.MpesaReceipt, MpesaCheckoutRequestID: t.CheckoutRequestID,
				Description: t.Description, IdempotencyKey: key, CreatedAt: now, UpdatedAt: now,
			}
			if row.ID, err = tx.InsertTransaction(ctx, newTransaction(row)); err != nil {
				return err
			}
			entries := []store.Entry{{AccountID: w.sys.mpesa, AmountMsat: -t.AmountMsat}, {AccountID: acc.ID, AmountMsat: t.AmountMsat}}
			if err := tx.PostEntries(ctx, row.ID, entries, w.unlimited(now), now); err != nil {
				return err
			}
			_, err = tx.InsertNotification(ctx, store.NewNotification{
				UserID: u.ID, Phone: phone, Kind: store.NotifyReceived, TransactionID: row.ID, AmountMsat: t.AmountMsat, Now: now,
			})
			return err
		})
		if err != nil {
			return store.Transaction{}, fmt.Errorf("credit topup: %w", err)
		}
		return row, nil
	})
}
