package sqlitestore

import (
	"context"
	"fmt"
	"time"

	"github.com/umeme-wallet/umeme/gen/sqlitedb"
	"github.com/umeme-wallet/umeme/internal/store"
	"github.com/umeme-wallet/umeme/internal/store/sqlvalue"
)

func (t *tx) InsertInboundSMS(ctx context.Context, m store.NewInboundSMS) (int64, error) {
	id, err := t.q.InsertInboundSMS(ctx, sqlitedb.InsertInboundSMSParams{
		GatewayID: m.GatewayID, Phone: m.Phone, UserID: sqlvalue.NullInt(m.UserID), Text: m.Text, Outcome: m.Outcome, ReceivedAt: m.ReceivedAt.UTC(),
	})
	if err != nil {
		return 0, interpret(fmt.Errorf("insert inbound sms: %w", err))
	}
	return id, nil
}

func (t *tx) InboundSMSByGatewayID(ctx context.Context, gatewayID string) (store.InboundSMS, error) {
	r, err := t.q.GetInboundSMSByGatewayID(ctx, gatewayID)
	if err != nil {
		return store.InboundSMS{}, interpret(fmt.Errorf("inbound sms by gateway id: %w", err))
	}
	return store.InboundSMS{
		ID: r.ID, GatewayID: r.GatewayID, Phone: r.Phone, UserID: r.UserID.Int64, Text: r.Text, Outcome: r.Outcome,
		ReplyKey: r.ReplyKey.String, ReceivedAt: r.ReceivedAt.UTC(),
	}, nil
}

func (t *tx) CountInboundSMSSince(ctx context.Context, phone string, since time.Time) (int64, error) {
	n, err := t.q.CountInboundSMSSince(ctx, sqlitedb.CountInboundSMSSinceParams{Phone: phone, Since: since.UTC()})
	if err != nil {
		return 0, interpret(fmt.Errorf("count inbound sms: %w", err))
	}
	return n, nil
}

func (t *tx) SetInboundSMSOutcome(ctx context.Context, id int64, outcome string) error {
	n, err := t.q.SetInboundSMSOutcome(ctx, sqlitedb.SetInboundSMSOutcomeParams{Outcome: outcome, ID: id})
	return one(n, err, "set inbound sms outcome")
}

func (t *tx) ClaimInboundReply(ctx context.Context, id int64, key string) error {
	n, err := t.q.SetInboundSMSReplyKey(ctx, sqlitedb.SetInboundSMSReplyKeyParams{ReplyKey: sqlvalue.NullString(key), ID: id})
	if err == nil && n != 1 {
		err = fmt.Errorf("inbound sms %d already has a reply: %w", id, store.ErrConflict)
	}
	if err != nil {
		return interpret(fmt.Errorf("claim inbound reply: %w", err))
	}
	return nil
}

func (t *tx) TakeReplyPlace(ctx context.Context, kind, day string, limit int) (bool, error) {
	if limit <= 0 {
		return false, nil
	}
	if err := t.q.EnsureSMSReplyCount(ctx, sqlitedb.EnsureSMSReplyCountParams{Kind: kind, ReplyDay: day}); err != nil {
		return false, interpret(fmt.Errorf("sms reply count: %w", err))
	}
	n, err := t.q.TakeSMSReplyPlace(ctx, sqlitedb.TakeSMSReplyPlaceParams{Kind: kind, ReplyDay: day, Cap: int64(limit)})
	if err != nil {
		return false, interpret(fmt.Errorf("take sms reply place: %w", err))
	}
	return n == 1, nil
}

func (t *tx) InsertPaymentRequest(ctx context.Context, r store.NewPaymentRequest) (int64, error) {
	// The user's row is locked first: two requests of one user made at
	// once then run one after the other, and the second supersedes the
	// first (without it, under READ COMMITTED, neither sees the other's
	// new row and both stay pending).
	if _, err := t.LockUser(ctx, r.UserID); err != nil {
		return 0, fmt.Errorf("insert payment request: %w", err)
	}
	if _, err := t.q.SupersedePaymentRequests(ctx, sqlitedb.SupersedePaymentRequestsParams{Now: r.Now.UTC(), UserID: r.UserID}); err != nil {
		return 0, interpret(fmt.Errorf("supersede payment requests: %w", err))
	}
	id, err := t.q.InsertPaymentRequest(ctx, sqlitedb.InsertPaymentRequestParams{
		UserID: r.UserID, InboundID: r.InboundID, Invoice: r.Invoice, PaymentHash: r.PaymentHash, AmountMsat: r.AmountMsat,
		Payee: r.Payee, ExpiresAt: r.ExpiresAt.UTC(), Now: r.Now.UTC(),
	})
	if err != nil {
		return 0, interpret(fmt.Errorf("insert payment request: %w", err))
	}
	return id, nil
}

func toPaymentRequest(r sqlitedb.PaymentRequest) store.PaymentRequest {
	return store.PaymentRequest{
		ID: r.ID, UserID: r.UserID, InboundID: r.InboundID, Invoice: r.Invoice, PaymentHash: r.PaymentHash, AmountMsat: r.AmountMsat,
		Payee: r.Payee, Status: store.PaymentRequestStatus(r.Status), TransactionID: r.TransactionID.Int64,
		ExpiresAt: r.ExpiresAt.UTC(), CreatedAt: r.CreatedAt.UTC(), UpdatedAt: r.UpdatedAt.UTC(),
	}
}

func (t *tx) OpenPaymentRequest(ctx context.Context, userID int64, now time.Time) (store.PaymentRequest, error) {
	r, err := t.q.GetOpenPaymentRequest(ctx, sqlitedb.GetOpenPaymentRequestParams{UserID: userID, Now: now.UTC()})
	if err != nil {
		return store.PaymentRequest{}, interpret(fmt.Errorf("open payment request: %w", err))
	}
	return toPaymentRequest(r), nil
}

func (t *tx) PaymentRequest(ctx context.Context, id int64) (store.PaymentRequest, error) {
	r, err := t.q.GetPaymentRequest(ctx, id)
	if err != nil {
		return store.PaymentRequest{}, interpret(fmt.Errorf("payment request %d: %w", id, err))
	}
	return toPaymentRequest(r), nil
}

func (t *tx) SetPaymentRequestStatus(ctx context.Context, id int64, from, to store.PaymentRequestStatus, transactionID int64, now time.Time) (bool, error) {
	n, err := t.q.SetPaymentRequestStatus(ctx, sqlitedb.SetPaymentRequestStatusParams{
		Status: string(to), TransactionID: sqlvalue.NullInt(transactionID), Now: now.UTC(), ID: id, FromStatus: string(from),
	})
	if err != nil {
		return false, interpret(fmt.Errorf("set payment request status: %w", err))
	}
	return n == 1, nil
}
