package wallet

import (
	"context"
	"fmt"

	"github.com/umeme-wallet/umeme/internal/store"
)

// Transfer sends amount msat from the authorised user to a phone number,
// settled inside the ledger. A number without an account gets one
// (unregistered) and the funds wait there for its owner to register. The
// idempotency key makes a retried request (a repeated USSD hop) return the
// first transfer instead of sending again.
func (w *Service) Transfer(ctx context.Context, auth Authorization, rawTo string, amount int64, key string) (store.Transaction, error) {
	if err := w.checkAuth(auth); err != nil {
		return store.Transaction{}, err
	}
	to, err := w.normalize(rawTo)
	if err != nil {
		return store.Transaction{}, err
	}
	if to == auth.phone {
		return store.Transaction{}, ErrSelfTransfer
	}
	if err := w.checkAmount(amount); err != nil {
		return store.Transaction{}, err
	}
	fee := w.TransferFee(amount)
	same := func(t store.Transaction) bool {
		return t.UserID == auth.userID && t.Type == store.TypeSend && t.AmountMsat == amount && t.CounterpartyPhone == to
	}
	return w.idempotent(ctx, key, same, func() (store.Transaction, error) {
		var sent store.Transaction
		var recipient accountRef
		err := w.store.InTx(ctx, func(ctx context.Context, tx store.Tx) error {
			now := w.now()
			var err error
			recipient, err = w.directory.resolve(ctx, tx, to, now)
			if err != nil {
				return err
			}
			sent = store.Transaction{
				UserID: auth.userID, Type: store.TypeSend, Direction: store.DirectionOut, Status: store.StatusCompleted,
				AmountMsat: amount, FeeMsat: fee, CounterpartyPhone: to, IdempotencyKey: key, CreatedAt: now, UpdatedAt: now,
			}
			entries := []store.Entry{
				{AccountID: auth.accountID, AmountMsat: -(amount + fee), DayOutMsat: amount},
				{AccountID: recipient.accountID, AmountMsat: amount},
			}
			if fee > 0 {
				entries = append(entries, store.Entry{AccountID: w.sys.fees, AmountMsat: fee})
			}
			// One call, one or two round trips where the engine can: the
			// two rows (a repeated key fails there, before anything
			// moves), the sender's check (checkSender's, under the same
			// share lock), the entries, the recipient's text.
			sent.ID, err = tx.PostTransfer(ctx, store.NewTransfer{
				SenderID: auth.userID, SenderPhone: auth.phone, RecipientID: recipient.userID, RecipientPhone: to,
				AmountMsat: amount, FeeMsat: fee, IdempotencyKey: key, Now: now,
			}, entries, w.guard(now), store.NewNotification{
				UserID: recipient.userID, Phone: to, Kind: store.NotifyReceived,
				AmountMsat: amount, Counterparty: auth.phone, Now: now,
			})
			return senderError(w.mapBalanceError(err))
		})
		if err != nil {
			return store.Transaction{}, fmt.Errorf("transfer: %w", err)
		}
		w.directory.remember(to, recipient)
		return sent, nil
	})
}

// newTransaction turns a transaction about to be written into the store's
// insert form.
func newTransaction(t store.Transaction) store.NewTransaction {
	return store.NewTransaction{
		UserID: t.UserID, Type: t.Type, Direction: t.Direction, Status: t.Status, AmountMsat: t.AmountMsat, FeeMsat: t.FeeMsat,
		Invoice: t.Invoice, PaymentHash: t.PaymentHash, MpesaReceipt: t.MpesaReceipt, MpesaCheckoutRequestID: t.MpesaCheckoutRequestID,
		MpesaConversationID: t.MpesaConversationID, CounterpartyPhone: t.CounterpartyPhone, Description: t.Description,
		IdempotencyKey: t.IdempotencyKey, RelatedID: t.RelatedID, HeldMsat: t.HeldMsat, Now: t.CreatedAt,
	}
}
