package smspay

import (
	"context"
	"errors"
	"fmt"
	"strconv"

	"github.com/umeme-wallet/umeme/internal/lightning"
	"github.com/umeme-wallet/umeme/internal/store"
	"github.com/umeme-wallet/umeme/internal/wallet"
)

// The USSD side: a user's next session opens on their open request, which
// they approve with their PIN or reject.

// ErrClosed means a payment request can no longer be approved or rejected:
// it is not the user's, it was approved, rejected or superseded, or it
// expired.
var ErrClosed = errors.New("payment request no longer open")

// Key is the idempotency key of the payment of a request: however many
// hops or sessions approve it, it is paid once.
func Key(requestID int64) string { return "smspay:" + strconv.FormatInt(requestID, 10) }

// Open is a user's open payment request: the newest pending one that has
// not expired (false when there is none).
func (s *Service) Open(ctx context.Context, userID int64) (store.PaymentRequest, bool, error) {
	var r store.PaymentRequest
	err := s.Store.Autocommit(ctx, func(ctx context.Context, tx store.Tx) error {
		var err error
		r, err = tx.OpenPaymentRequest(ctx, userID, s.now())
		return err
	})
	if errors.Is(err, store.ErrNotFound) {
		return store.PaymentRequest{}, false, nil
	}
	if err != nil {
		return store.PaymentRequest{}, false, fmt.Errorf("open payment request: %w", err)
	}
	return r, true, nil
}

// Approve pays an open request of the authorised user through the payer,
// as the Lightning Address flow pays: the payment may still be pending on
// return, and the user hears its outcome by SMS. The request is approved
// with its payment's transaction; one that can never be paid (already
// paid by someone, expired, our own invoice gone) is closed as rejected.
// A refusal of the wallet (balance, limits) leaves it open, to approve
// after a top-up.
func (s *Service) Approve(ctx context.Context, auth wallet.Authorization, requestID int64) (store.PaymentRequest, lightning.Payment, error) {
	r, err := s.pending(ctx, auth.UserID(), requestID)
	if err != nil {
		return r, lightning.Payment{}, err
	}
	p, err := s.Payer.Pay(ctx, auth, r.Invoice, Key(r.ID))
	switch {
	case err == nil:
		s.close(ctx, r, store.PaymentRequestApproved, p.Transaction.ID)
	case errors.Is(err, wallet.ErrInvoiceAlreadyPaid), errors.Is(err, lightning.ErrInvalidInvoice),
		errors.Is(err, wallet.ErrNotFound), errors.Is(err, wallet.ErrSelfTransfer):
		s.close(ctx, r, store.PaymentRequestRejected, 0)
	}
	return r, p, err
}

// Reject closes an open request of the user unpaid.
func (s *Service) Reject(ctx context.Context, userID, requestID int64) error {
	r, err := s.pending(ctx, userID, requestID)
	if err != nil {
		return err
	}
	var ok bool
	err = s.Store.InTx(ctx, func(ctx context.Context, tx store.Tx) error {
		ok, err = tx.SetPaymentRequestStatus(ctx, r.ID, store.PaymentRequestPending, store.PaymentRequestRejected, 0, s.now())
		return err
	})
	switch {
	case err != nil:
		return fmt.Errorf("reject payment request: %w", err)
	case !ok:
		return ErrClosed
	}
	return nil
}

// pending reads a request that the user may still approve or reject.
func (s *Service) pending(ctx context.Context, userID, requestID int64) (store.PaymentRequest, error) {
	var r store.PaymentRequest
	err := s.Store.Autocommit(ctx, func(ctx context.Context, tx store.Tx) error {
		var err error
		r, err = tx.PaymentRequest(ctx, requestID)
		return err
	})
	switch {
	case errors.Is(err, store.ErrNotFound):
		return r, ErrClosed
	case err != nil:
		return r, fmt.Errorf("payment request: %w", err)
	case r.UserID != userID || r.Status != store.PaymentRequestPending || !s.now().Before(r.ExpiresAt):
		return r, ErrClosed
	}
	return r, nil
}

// close moves a pending request on. A failure is only logged: the payment
// is keyed by the request, so approving the still-open request again
// replays it and pays nothing twice.
func (s *Service) close(ctx context.Context, r store.PaymentRequest, to store.PaymentRequestStatus, transactionID int64) {
	err := s.Store.InTx(context.WithoutCancel(ctx), func(ctx context.Context, tx store.Tx) error {
		_, err := tx.SetPaymentRequestStatus(ctx, r.ID, store.PaymentRequestPending, to, transactionID, s.now())
		return err
	})
	if err != nil {
		s.Log.Error("sms: payment request not closed", "request", r.ID, "to", to, "err", err)
	}
}
