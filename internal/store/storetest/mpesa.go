package storetest

import (
	"context"
	"slices"
	"testing"
	"time"

	"github.com/umeme-wallet/umeme/internal/store"
)

// testMpesaRequests: a request reads back as written; Daraja's ids and the
// receipt are recorded once and belong to one request each; the reconciler
// sees an open request when its check is due, in the order they became
// due, and a finished one never.
func testMpesaRequests(t *testing.T, s store.Store) {
	userID, _, phone := NewFundedUser(t, s, 0)
	daraja := "254" + phone[len(phone)-9:]
	var topup, withdraw, other int64
	inTx(t, s, func(ctx context.Context, tx store.Tx) error {
		ids := make([]int64, 3)
		for i, typ := range []store.TransactionType{store.TypeTopup, store.TypeWithdraw, store.TypeTopup} {
			var err error
			if ids[i], err = tx.InsertTransaction(ctx, newTxn(t, userID, typ, store.StatusPending, 1_000_000, base)); err != nil {
				return err
			}
		}
		topup, withdraw, other = ids[0], ids[1], ids[2]
		for _, r := range []store.NewMpesaRequest{
			{TransactionID: topup, Kind: store.MpesaTopup, Phone: daraja, AmountKES: 500, RateMilliKESPerBTC: 12_000_000_000, SpreadBps: 150, NextCheckAt: base.Add(90 * time.Second), Now: base},
			{TransactionID: withdraw, Kind: store.MpesaWithdraw, Phone: daraja, AmountKES: 100, RateMilliKESPerBTC: 12_000_000_500, OriginatorConversationID: "umeme-w-" + Token(t, 8), NextCheckAt: base.Add(60 * time.Second), Now: base},
			{TransactionID: other, Kind: store.MpesaTopup, Phone: daraja, AmountKES: 10, RateMilliKESPerBTC: 1, NextCheckAt: base.Add(120 * time.Second), Now: base},
		} {
			if err := tx.InsertMpesaRequest(ctx, r); err != nil {
				return err
			}
		}
		return nil
	})
	ours := func(rs []store.MpesaRequest) []int64 {
		var out []int64
		for _, r := range rs {
			if r.TransactionID == topup || r.TransactionID == withdraw || r.TransactionID == other {
				out = append(out, r.TransactionID)
			}
		}
		return out
	}
	later := base.Add(time.Second)
	inTx(t, s, func(ctx context.Context, tx store.Tx) error {
		got, err := tx.MpesaRequest(ctx, topup)
		if err != nil {
			return err
		}
		want := store.MpesaRequest{TransactionID: topup, Kind: store.MpesaTopup, Phone: daraja, AmountKES: 500, RateMilliKESPerBTC: 12_000_000_000,
			SpreadBps: 150, NextCheckAt: ptr(base.Add(90 * time.Second)), CreatedAt: base, UpdatedAt: base}
		if !sameRequest(got, want) {
			t.Errorf("MpesaRequest = %+v, want %+v", got, want)
		}
		_, err = tx.MpesaRequest(ctx, -1)
		mustKind(t, err, store.ErrNotFound, "request of no transaction")

		checkout := "ws_CO_" + Token(t, 12)
		if ok, err := tx.SetMpesaCheckout(ctx, topup, checkout, later); err != nil || !ok {
			t.Fatalf("SetMpesaCheckout: %v %v", ok, err)
		}
		if ok, err := tx.SetMpesaCheckout(ctx, topup, "ws_CO_other", later); err != nil || ok {
			t.Errorf("second SetMpesaCheckout: %v %v, want false", ok, err)
		}
		if got, err := tx.MpesaRequestByCheckout(ctx, checkout); err != nil || got.TransactionID != topup || got.CheckoutRequestID != checkout || !got.UpdatedAt.Equal(later) {
			t.Errorf("MpesaRequestByCheckout: %+v %v", got, err)
		}
		_, err = tx.MpesaRequestByCheckout(ctx, "ws_CO_nobody")
		mustKind(t, err, store.ErrNotFound, "unknown checkout id")
		w, err := tx.MpesaRequest(ctx, withdraw)
		if err != nil {
			return err
		}
		if got, err := tx.MpesaRequestByOriginator(ctx, w.OriginatorConversationID); err != nil || got.TransactionID != withdraw {
			t.Errorf("MpesaRequestByOriginator: %+v %v", got, err)
		}
		conversation := "AG_" + Token(t, 12)
		if ok, err := tx.SetMpesaConversation(ctx, withdraw, conversation, later); err != nil || !ok {
			t.Fatalf("SetMpesaConversation: %v %v", ok, err)
		}
		if ok, err := tx.SetMpesaConversation(ctx, withdraw, "AG_other", later); err != nil || ok {
			t.Errorf("second SetMpesaConversation: %v %v, want false", ok, err)
		}
		return nil
	})
	// Another request cannot take an id or a receipt one already holds (each
	// in its own transaction: a refused statement may end a transaction).
	topupReq := get(t, s, topup)
	withdrawReq := get(t, s, withdraw)
	err := s.InTx(ctxT(t), func(ctx context.Context, tx store.Tx) error {
		_, err := tx.SetMpesaCheckout(ctx, other, topupReq.CheckoutRequestID, later)
		return err
	})
	mustKind(t, err, store.ErrConflict, "a checkout id another request holds")
	err = s.InTx(ctxT(t), func(ctx context.Context, tx store.Tx) error {
		_, err := tx.SetMpesaConversation(ctx, other, withdrawReq.ConversationID, later)
		return err
	})
	mustKind(t, err, store.ErrConflict, "a conversation id another request holds")
	err = s.InTx(ctxT(t), func(ctx context.Context, tx store.Tx) error {
		return tx.InsertMpesaRequest(ctx, store.NewMpesaRequest{TransactionID: topup, Kind: store.MpesaTopup, Phone: daraja, AmountKES: 1, RateMilliKESPerBTC: 1, NextCheckAt: base, Now: base})
	})
	mustKind(t, err, store.ErrConflict, "a second request for one transaction")

	inTx(t, s, func(ctx context.Context, tx store.Tx) error {
		due, err := tx.DueMpesaRequests(ctx, base.Add(59*time.Second), 100)
		if err != nil || len(ours(due)) != 0 {
			t.Errorf("due before any check time: %v %v", ours(due), err)
		}
		due, err = tx.DueMpesaRequests(ctx, base.Add(2*time.Minute), 100)
		if err != nil || !slices.Equal(ours(due), []int64{withdraw, topup, other}) {
			t.Errorf("due at +2m: %v %v, want withdraw, topup, other", ours(due), err)
		}
		if ok, err := tx.ScheduleMpesaCheck(ctx, withdraw, base.Add(10*time.Minute), base.Add(time.Minute)); err != nil || !ok {
			t.Fatalf("ScheduleMpesaCheck: %v %v", ok, err)
		}
		due, err = tx.DueMpesaRequests(ctx, base.Add(2*time.Minute), 100)
		if err != nil || !slices.Equal(ours(due), []int64{topup, other}) {
			t.Errorf("due after rescheduling the withdrawal: %v %v", ours(due), err)
		}
		if r, _ := tx.MpesaRequest(ctx, withdraw); r.Checks != 1 || r.NextCheckAt == nil || !r.NextCheckAt.Equal(base.Add(10*time.Minute)) {
			t.Errorf("rescheduled withdrawal: %+v", r)
		}
		// Two reconcilers that both listed other as due: the first claim
		// takes its check, the second finds it no longer due.
		at := base.Add(2 * time.Minute)
		if ok, err := tx.ClaimMpesaCheck(ctx, other, at.Add(time.Minute), at); err != nil || !ok {
			t.Fatalf("ClaimMpesaCheck of a due request: %v %v", ok, err)
		}
		if ok, err := tx.ClaimMpesaCheck(ctx, other, at.Add(time.Minute), at); err != nil || ok {
			t.Errorf("ClaimMpesaCheck taken twice: %v %v", ok, err)
		}
		if r, _ := tx.MpesaRequest(ctx, other); r.Checks != 1 || r.NextCheckAt == nil || !r.NextCheckAt.Equal(at.Add(time.Minute)) {
			t.Errorf("claimed request: %+v", r)
		}

		receipt := "SIM" + Token(t, 7)
		res := store.MpesaResult{TransactionID: topup, Receipt: receipt, ResultCode: "0", ResultDesc: "The service request is processed successfully.", Now: later}
		if ok, err := tx.RecordMpesaResult(ctx, res); err != nil || !ok {
			t.Fatalf("RecordMpesaResult: %v %v", ok, err)
		}
		if ok, err := tx.RecordMpesaResult(ctx, res); err != nil || !ok {
			t.Errorf("the same result again: %v %v, want true", ok, err)
		}
		res.Receipt = "SIM" + Token(t, 7)
		if ok, err := tx.RecordMpesaResult(ctx, res); err != nil || ok {
			t.Errorf("another receipt for a finished request: %v %v, want false", ok, err)
		}
		r, err := tx.MpesaRequest(ctx, topup)
		if err != nil || r.Receipt != receipt || r.ResultCode != "0" || r.NextCheckAt != nil {
			t.Errorf("finished request: %+v %v", r, err)
		}
		if ok, err := tx.ScheduleMpesaCheck(ctx, topup, base.Add(time.Hour), later); err != nil || ok {
			t.Errorf("ScheduleMpesaCheck of a finished request: %v %v, want false", ok, err)
		}
		if ok, err := tx.ClaimMpesaCheck(ctx, topup, base.Add(2*time.Hour), base.Add(time.Hour)); err != nil || ok {
			t.Errorf("ClaimMpesaCheck of a finished request: %v %v, want false", ok, err)
		}
		due, err = tx.DueMpesaRequests(ctx, base.Add(time.Hour), 100)
		if err != nil || !slices.Equal(ours(due), []int64{other, withdraw}) {
			t.Errorf("due after the top-up finished: %v %v", ours(due), err)
		}
		if ok, err := tx.RecordMpesaResult(ctx, store.MpesaResult{TransactionID: withdraw, ResultCode: "2001", ResultDesc: "The initiator information is invalid.", Now: later}); err != nil || !ok {
			t.Errorf("a failure without receipt: %v %v", ok, err)
		}
		return nil
	})
	finished := get(t, s, topup)
	err = s.InTx(ctxT(t), func(ctx context.Context, tx store.Tx) error {
		_, err := tx.RecordMpesaResult(ctx, store.MpesaResult{TransactionID: other, Receipt: finished.Receipt, ResultCode: "0", Now: later})
		return err
	})
	mustKind(t, err, store.ErrConflict, "a receipt another request holds")
	if r := get(t, s, other); r.Receipt != "" || r.NextCheckAt == nil {
		t.Errorf("the request refused a taken receipt changed: %+v", r)
	}
}

func get(t *testing.T, s store.Store, transactionID int64) store.MpesaRequest {
	t.Helper()
	var r store.MpesaRequest
	inTx(t, s, func(ctx context.Context, tx store.Tx) error {
		var err error
		r, err = tx.MpesaRequest(ctx, transactionID)
		return err
	})
	return r
}

func ptr[T any](v T) *T { return &v }

// sameRequest compares requests, times by instant.
func sameRequest(a, b store.MpesaRequest) bool {
	ta, tb := a.NextCheckAt, b.NextCheckAt
	if (ta == nil) != (tb == nil) || (ta != nil && !ta.Equal(*tb)) || !a.CreatedAt.Equal(b.CreatedAt) || !a.UpdatedAt.Equal(b.UpdatedAt) {
		return false
	}
	a.NextCheckAt, b.NextCheckAt = nil, nil
	a.CreatedAt, b.CreatedAt, a.UpdatedAt, b.UpdatedAt = time.Time{}, time.Time{}, time.Time{}, time.Time{}
	return a == b
}

// testMpesaSent: a request is marked sent once, and only while open; an
// unsent one closes, and can then no longer be marked (nor a sent one
// closed as unsent); an answer noted leaves it open with its next check,
// and is refused once it is closed.
func testMpesaSent(t *testing.T, s store.Store) {
	userID, _, phone := NewFundedUser(t, s, 0)
	daraja := "254" + phone[len(phone)-9:]
	var sent, unsent int64
	later, next := base.Add(time.Second), base.Add(time.Hour)
	inTx(t, s, func(ctx context.Context, tx store.Tx) error {
		ids := make([]int64, 2)
		for i := range ids {
			var err error
			if ids[i], err = tx.InsertTransaction(ctx, newTxn(t, userID, store.TypeWithdraw, store.StatusPending, 1_000_000, base)); err != nil {
				return err
			}
			if err := tx.InsertMpesaRequest(ctx, store.NewMpesaRequest{TransactionID: ids[i], Kind: store.MpesaWithdraw, Phone: daraja, AmountKES: 100,
				RateMilliKESPerBTC: 12_000_000_000, OriginatorConversationID: "umeme-s-" + Token(t, 8), NextCheckAt: base.Add(time.Minute), Now: base}); err != nil {
				return err
			}
		}
		sent, unsent = ids[0], ids[1]
		for _, c := range []struct {
			name string
			do   func() (bool, error)
			want bool
		}{
			{"mark", func() (bool, error) { return tx.MarkMpesaSent(ctx, sent, later, "first-call") }, true},
			{"mark again", func() (bool, error) { return tx.MarkMpesaSent(ctx, sent, later, "second-call") }, false},
			{"close a sent one as unsent", func() (bool, error) { return tx.CloseUnsentMpesaRequest(ctx, sent, later) }, false},
			{"close an unsent one", func() (bool, error) { return tx.CloseUnsentMpesaRequest(ctx, unsent, later) }, true},
			{"mark a closed one", func() (bool, error) { return tx.MarkMpesaSent(ctx, unsent, later, "third-call") }, false},
			{"note on an open one", func() (bool, error) {
				return tx.NoteMpesaResult(ctx, store.MpesaResult{TransactionID: sent, ResultCode: "2032", ResultDesc: "not found", Now: later}, next)
			}, true},
			{"note on a closed one", func() (bool, error) {
				return tx.NoteMpesaResult(ctx, store.MpesaResult{TransactionID: unsent, ResultCode: "2032", Now: later}, next)
			}, false},
		} {
			if ok, err := c.do(); err != nil || ok != c.want {
				t.Errorf("%s: %v %v, want %v", c.name, ok, err, c.want)
			}
		}
		return nil
	})
	if r := get(t, s, sent); r.SentAt == nil || !r.SentAt.Equal(later) || r.SentBy != "first-call" || r.ResultCode != "2032" || r.NextCheckAt == nil || !r.NextCheckAt.Equal(next) {
		t.Errorf("sent request: %+v", r)
	}
	if r := get(t, s, unsent); r.SentAt != nil || r.SentBy != "" || r.NextCheckAt != nil || r.ResultCode != "" {
		t.Errorf("closed unsent request: %+v", r)
	}
}
