package pgstore

import (
	"context"
	"fmt"
	"math"
	"time"

	"github.com/umeme-wallet/umeme/gen/postgresdb"
	"github.com/umeme-wallet/umeme/internal/store"
)

func (t *tx) InsertInboundSMS(ctx context.Context, m store.NewInboundSMS) (int64, error) {
	id, err := t.q.InsertInboundSMS(ctx, postgresdb.InsertInboundSMSParams{
		GatewayID: m.GatewayID, Phone: m.Phone, UserID: nullInt(m.UserID), Text: m.Text, Outcome: m.Outcome, ReceivedAt: m.ReceivedAt.UTC(),
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
		ID: r.ID, GatewayID: r.GatewayID, Phone: r.Phone, UserID: i64(r.UserID), Text: r.Text, Outcome: r.Outcome,
		ReplyKey: str(r.ReplyKey), ReceivedAt: r.ReceivedAt.UTC(),
	}, nil
}

func (t *tx) CountInboundSMSSince(ctx context.Context, phone string, since time.Time) (int64, error) {
	n, err := t.q.CountInboundSMSSince(ctx, postgresdb.CountInboundSMSSinceParams{Phone: phone, Since: since.UTC()})
	if err != nil {
		return 0, interpret(fmt.Errorf("count inbound sms: %w", err))
	}
	return n, nil
}

func (t *tx) SetInboundSMSOutcome(ctx context.Context, id int64, outcome string) error {
	n, err := t.q.SetInboundSMSOutcome(ctx, postgresdb.SetInboundSMSOutcomeParams{Outcome: outcome, ID: id})
	return one(n, err, "set inbound sms outcome")
}

func (t *tx) ClaimInboundReply(ctx context.Context, id int64, key string) error {
	n, err := t.q.SetInboundSMSReplyKey(ctx, postgresdb.SetInboundSMSReplyKeyParams{ReplyKey: nullString(key), ID: id})
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
	if err := t.q.EnsureSMSReplyCount(ctx, postgresdb.EnsureSMSReplyCountParams{Kind: kind, ReplyDay: day}); err != nil {
		return false, interpret(fmt.Errorf("sms reply count: %w", err))
	}
	n, err := t.q.TakeSMSReplyPlace(ctx, postgresdb.TakeSMSReplyPlaceParams{Kind: kind, ReplyDay: day, Cap: int32(min(limit, math.MaxInt32))})
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
	if _, err := t.q.SupersedePaymentRequests(ctx, postgresdb.SupersedePaymentRequestsParams{Now: r.Now.UTC(), UserID: r.UserID}); err != nil {
		return 0, interpret(fmt.Errorf("supersede payment requests: %w", err))
	}
	id, err := t.q.InsertPaymentRequest(ctx, postgresdb.InsertPaymentRequestParams{
		UserID: r.UserID, InboundID: r.InboundID, Invoice: r.Invoice, PaymentHash: r.PaymentHash, AmountMsat: r.AmountMsat,
		Payee: r.Payee, ExpiresAt: r.ExpiresAt.UTC(), Now: r.Now.UTC(),
	})
	if err != nil {
		return 0, interpret(fmt.Errorf("insert payment request: %w", err))
	}
	return id, nil
}

func toPaymentRequest(r postgresdb.PaymentRequest) store.PaymentRequest {
	return store.PaymentRequest{
		ID: r.ID, UserID: r.UserID, InboundID: r.InboundID, Invoice: r.Invoice, PaymentHash: r.PaymentHash, AmountMsat: r.AmountMsat,
		Payee: r.Payee, Status: store.PaymentRequestStatus(r.Status), TransactionID: i64(r.TransactionID),
		ExpiresAt: r.ExpiresAt.UTC(), CreatedAt: r.CreatedAt.UTC(), UpdatedAt: r.UpdatedAt.UTC(),
	}
}

func (t *tx) OpenPaymentRequest(ctx context.Context, userID int64, now time.Time) (store.PaymentRequest, error) {
	r, err := t.q.GetOpenPaymentRequest(ctx, postgresdb.GetOpenPaymentRequestParams{UserID: userID, Now: now.UTC()})
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
	n, err := t.q.SetPaymentRequestStatus(ctx, postgresdb.SetPaymentRequestStatusParams{
		Status: string(to), TransactionID: nullInt(transactionID), Now: now.UTC(), ID: id, FromStatus: string(from),
	})
	if err != nil {
		return false, interpret(fmt.Errorf("set payment request status: %w", err))
	}
	return n == 1, nil
}
