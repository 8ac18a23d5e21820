package sqlitestore

import (
	"context"
	"fmt"
	"time"

	"github.com/umeme-wallet/umeme/gen/sqlitedb"
	"github.com/umeme-wallet/umeme/internal/store"
	"github.com/umeme-wallet/umeme/internal/store/sqlvalue"
)

func (t *tx) InsertMpesaRequest(ctx context.Context, r store.NewMpesaRequest) error {
	err := t.q.InsertMpesaRequest(ctx, sqlitedb.InsertMpesaRequestParams{
		TransactionID: r.TransactionID, Kind: string(r.Kind), Phone: r.Phone, AmountKes: r.AmountKES,
		RateMillikesPerBtc: r.RateMilliKESPerBTC, SpreadBps: int64(r.SpreadBps),
		OriginatorConversationID: sqlvalue.NullString(r.OriginatorConversationID),
		NextCheckAt:              sqlvalue.NullTime(&r.NextCheckAt), Now: r.Now.UTC(),
	})
	if err != nil {
		return interpret(fmt.Errorf("insert mpesa request: %w", err))
	}
	return nil
}

func toMpesaRequest(r sqlitedb.MpesaRequest) store.MpesaRequest {
	return store.MpesaRequest{
		TransactionID: r.TransactionID, Kind: store.MpesaKind(r.Kind), Phone: r.Phone, AmountKES: r.AmountKes,
		RateMilliKESPerBTC: r.RateMillikesPerBtc, SpreadBps: int(r.SpreadBps), CheckoutRequestID: r.CheckoutRequestID.String,
		OriginatorConversationID: r.OriginatorConversationID.String, ConversationID: r.ConversationID.String,
		Receipt: r.Receipt.String, ResultCode: r.ResultCode, ResultDesc: r.ResultDesc, Checks: int(r.Checks),
		NextCheckAt: sqlvalue.TimePtr(r.NextCheckAt), SentAt: sqlvalue.TimePtr(r.SentAt), SentBy: r.SentBy.String, CreatedAt: r.CreatedAt.UTC(), UpdatedAt: r.UpdatedAt.UTC(),
	}
}

func (t *tx) MpesaRequest(ctx context.Context, transactionID int64) (store.MpesaRequest, error) {
	r, err := t.q.GetMpesaRequest(ctx, transactionID)
	if err != nil {
		return store.MpesaRequest{}, interpret(fmt.Errorf("mpesa request of %d: %w", transactionID, err))
	}
	return toMpesaRequest(r), nil
}

func (t *tx) MpesaRequestByCheckout(ctx context.Context, checkoutRequestID string) (store.MpesaRequest, error) {
	r, err := t.q.GetMpesaRequestByCheckout(ctx, sqlvalue.NullString(checkoutRequestID))
	if err != nil {
		return store.MpesaRequest{}, interpret(fmt.Errorf("mpesa request by checkout id: %w", err))
	}
	return toMpesaRequest(r), nil
}

func (t *tx) MpesaRequestByOriginator(ctx context.Context, originatorConversationID string) (store.MpesaRequest, error) {
	r, err := t.q.GetMpesaRequestByOriginator(ctx, sqlvalue.NullString(originatorConversationID))
	if err != nil {
		return store.MpesaRequest{}, interpret(fmt.Errorf("mpesa request by originator id: %w", err))
	}
	return toMpesaRequest(r), nil
}

func (t *tx) SetMpesaCheckout(ctx context.Context, transactionID int64, checkoutRequestID string, now time.Time) (bool, error) {
	n, err := t.q.SetMpesaCheckout(ctx, sqlitedb.SetMpesaCheckoutParams{
		CheckoutRequestID: sqlvalue.NullString(checkoutRequestID), Now: now.UTC(), TransactionID: transactionID,
	})
	if err != nil {
		return false, interpret(fmt.Errorf("set mpesa checkout id: %w", err))
	}
	return n == 1, nil
}

func (t *tx) SetMpesaConversation(ctx context.Context, transactionID int64, conversationID string, now time.Time) (bool, error) {
	n, err := t.q.SetMpesaConversation(ctx, sqlitedb.SetMpesaConversationParams{
		ConversationID: sqlvalue.NullString(conversationID), Now: now.UTC(), TransactionID: transactionID,
	})
	if err != nil {
		return false, interpret(fmt.Errorf("set mpesa conversation id: %w", err))
	}
	return n == 1, nil
}

func (t *tx) RecordMpesaResult(ctx context.Context, r store.MpesaResult) (bool, error) {
	n, err := t.q.RecordMpesaResult(ctx, sqlitedb.RecordMpesaResultParams{
		Receipt: sqlvalue.NullString(r.Receipt), ResultCode: r.ResultCode, ResultDesc: r.ResultDesc, Now: r.Now.UTC(), TransactionID: r.TransactionID,
	})
	if err != nil {
		return false, interpret(fmt.Errorf("record mpesa result: %w", err))
	}
	return n == 1, nil
}

func (t *tx) ScheduleMpesaCheck(ctx context.Context, transactionID int64, next, now time.Time) (bool, error) {
	n, err := t.q.ScheduleMpesaCheck(ctx, sqlitedb.ScheduleMpesaCheckParams{
		NextCheckAt: sqlvalue.NullTime(&next), Now: now.UTC(), TransactionID: transactionID,
	})
	if err != nil {
		return false, interpret(fmt.Errorf("schedule mpesa check: %w", err))
	}
	return n == 1, nil
}

func (t *tx) ClaimMpesaCheck(ctx context.Context, transactionID int64, next, now time.Time) (bool, error) {
	n, err := t.q.ClaimMpesaCheck(ctx, sqlitedb.ClaimMpesaCheckParams{
		NextCheckAt: sqlvalue.NullTime(&next), Now: now.UTC(), TransactionID: transactionID, DueAt: sqlvalue.NullTime(&now),
	})
	if err != nil {
		return false, interpret(fmt.Errorf("claim mpesa check: %w", err))
	}
	return n == 1, nil
}

func (t *tx) DueMpesaRequests(ctx context.Context, now time.Time, limit int) ([]store.MpesaRequest, error) {
	rows, err := t.q.ListDueMpesaRequests(ctx, sqlitedb.ListDueMpesaRequestsParams{Now: sqlvalue.NullTime(&now), MaxRows: int64(limit)})
	if err != nil {
		return nil, interpret(fmt.Errorf("due mpesa requests: %w", err))
	}
	out := make([]store.MpesaRequest, len(rows))
	for i, r := range rows {
		out[i] = toMpesaRequest(r)
	}
	return out, nil
}

func (t *tx) UnacknowledgedTopup(ctx context.Context, phone string, amountKES int64) (store.MpesaRequest, error) {
	r, err := t.q.GetUnacknowledgedTopup(ctx, sqlitedb.GetUnacknowledgedTopupParams{Phone: phone, AmountKes: amountKES})
	if err != nil {
		return store.MpesaRequest{}, interpret(fmt.Errorf("unacknowledged top-up: %w", err))
	}
	return toMpesaRequest(r), nil
}

func (t *tx) MarkMpesaSent(ctx context.Context, transactionID int64, now time.Time, by string) (bool, error) {
	n, err := t.q.MarkMpesaSent(ctx, sqlitedb.MarkMpesaSentParams{SentAt: sqlvalue.NullTime(&now), SentBy: sqlvalue.NullString(by), Now: now.UTC(), TransactionID: transactionID})
	if err != nil {
		return false, interpret(fmt.Errorf("mark mpesa request sent: %w", err))
	}
	return n == 1, nil
}

func (t *tx) CloseUnsentMpesaRequest(ctx context.Context, transactionID int64, now time.Time) (bool, error) {
	n, err := t.q.CloseUnsentMpesaRequest(ctx, sqlitedb.CloseUnsentMpesaRequestParams{Now: now.UTC(), TransactionID: transactionID})
	if err != nil {
		return false, interpret(fmt.Errorf("close unsent mpesa request: %w", err))
	}
	return n == 1, nil
}

func (t *tx) NoteMpesaResult(ctx context.Context, r store.MpesaResult, next time.Time) (bool, error) {
	n, err := t.q.NoteMpesaResult(ctx, sqlitedb.NoteMpesaResultParams{
		ResultCode: r.ResultCode, ResultDesc: r.ResultDesc, NextCheckAt: sqlvalue.NullTime(&next), Now: r.Now.UTC(), TransactionID: r.TransactionID,
	})
	if err != nil {
		return false, interpret(fmt.Errorf("note mpesa result: %w", err))
	}
	return n == 1, nil
}
