package storetest

import (
	"context"
	"errors"
	"fmt"
	"sort"
	"sync"
	"testing"
	"time"

	"github.com/umeme-wallet/umeme/internal/store"
)

// outboxEpoch is the clock of the outbox checks: no other check queues a
// notification due this early, so a claim at these times takes only the
// rows the check made itself.
var outboxEpoch = time.Date(2001, 2, 3, 4, 5, 6, 0, time.UTC)

// testNotifications: a notification reads back as written; a claim leases
// it (not due again before the lease ends) and counts no attempt; a start
// counts one, by the claim's holder only and once, and leases the row on
// the database's clock, so that no claim takes it whatever its clock says
// until that lease has passed; a claim's unstarted rows are handed back;
// only the lease's holder records the outcome; a retry is due at its time,
// a give-up never; a delivery report finds the sent message, a final
// report is not overwritten, and a message id the gateway gave twice
// keeps one report per message.
func testNotifications(t *testing.T, s store.Store) {
	userID, _, phone := NewFundedUser(t, s, 0)
	at := outboxEpoch
	var txID int64
	var ids [3]int64
	inTx(t, s, func(ctx context.Context, tx store.Tx) error {
		var err error
		if txID, err = tx.InsertTransaction(ctx, newTxn(t, userID, store.TypeReceive, store.StatusCompleted, 5000, base)); err != nil {
			return err
		}
		for i := range ids {
			ids[i], err = tx.InsertNotification(ctx, store.NewNotification{UserID: userID, Phone: phone, Kind: store.NotifyReceived,
				TransactionID: txID, AmountMsat: 5000, Counterparty: "+254700000002", Body: "lnbcrt1", Now: at})
			if err != nil {
				return err
			}
		}
		return nil
	})
	lease := at.Add(2 * time.Minute)
	inTx(t, s, func(ctx context.Context, tx store.Tx) error {
		got, err := tx.NotificationsOf(ctx, txID)
		if err != nil || len(got) != 3 {
			t.Fatalf("NotificationsOf: %+v %v", got, err)
		}
		n := got[0]
		if n.ID != ids[0] || n.UserID != userID || n.Phone != phone || n.Kind != store.NotifyReceived || n.AmountMsat != 5000 ||
			n.Counterparty != "+254700000002" || n.Body != "lnbcrt1" || n.Status != store.NotificationPending || n.SentAt != nil ||
			!n.NextAttemptAt.Equal(at) || n.ClaimToken != "" || n.MessageID != "" || n.LeasedUntil != nil {
			t.Fatalf("notification read back wrong: %+v", n)
		}
		claimed, err := tx.ClaimNotifications(ctx, at.Add(time.Second), lease, "tok-a", 10)
		if err != nil {
			return err
		}
		if len(claimed) != 3 || claimed[0].ID != ids[0] || claimed[0].ClaimToken != "tok-a" || claimed[0].Attempts != 0 ||
			!claimed[0].NextAttemptAt.Equal(lease) || claimed[0].LeasedUntil != nil {
			t.Fatalf("claim: %+v", claimed)
		}
		if again, err := tx.ClaimNotifications(ctx, lease.Add(-time.Second), lease.Add(time.Hour), "tok-b", 10); err != nil || len(again) != 0 {
			t.Fatalf("rows claimed twice within the lease: %+v %v", again, err)
		}

		// Starts: by the holder only, once per claim.
		start := func(id int64, token string, d time.Duration) bool {
			ok, err := tx.StartNotificationAttempt(ctx, id, token, d)
			if err != nil {
				t.Fatalf("StartNotificationAttempt: %v", err)
			}
			return ok
		}
		if start(ids[0], "tok-b", time.Hour) || !start(ids[0], "tok-a", time.Hour) || start(ids[0], "tok-a", time.Hour) {
			t.Fatal("a send started by a sender without the claim, or twice under one claim")
		}
		if n, err := tx.Notification(ctx, ids[0]); err != nil || n.Attempts != 1 || n.LeasedUntil == nil || n.ClaimToken != "tok-a" {
			t.Fatalf("after the start: %+v %v", n, err)
		}
		// Hand-back: only the holder's, only what has not started.
		if n, err := tx.ReleaseNotifications(ctx, "tok-b", ids[:], at.Add(30*time.Second)); err != nil || n != 0 {
			t.Fatalf("a sender without the claim released %d rows: %v", n, err)
		}
		if n, err := tx.ReleaseNotifications(ctx, "tok-a", ids[:2], at.Add(30*time.Second)); err != nil || n != 1 {
			t.Fatalf("ReleaseNotifications: %d %v, want 1 (the row not started)", n, err)
		}
		if n, err := tx.Notification(ctx, ids[1]); err != nil || n.ClaimToken != "" || n.Attempts != 0 || !n.NextAttemptAt.Equal(at.Add(30*time.Second)) {
			t.Fatalf("after the hand-back: %+v %v", n, err)
		}
		// A server whose clock is an hour past the claim's lease takes the
		// row handed back and the one never started (whose start then
		// fails for the first claim), but not the one whose send is in
		// flight: its lease is on the database's clock.
		ahead := lease.Add(time.Hour)
		taken, err := tx.ClaimNotifications(ctx, ahead, ahead.Add(2*time.Minute), "tok-x", 10)
		if err != nil || len(taken) != 2 || taken[0].ID != ids[1] || taken[1].ID != ids[2] {
			t.Fatalf("claim by a server ahead: %+v %v, want the rows not started", taken, err)
		}
		if start(ids[2], "tok-a", time.Hour) {
			t.Fatal("a send started after another sender claimed the row")
		}

		if ok, err := tx.RecordNotificationSent(ctx, ids[0], "tok-b", "ATXid_x", at); err != nil || ok {
			t.Fatalf("a sender without the lease recorded a send: %v %v", ok, err)
		}
		if ok, err := tx.RecordNotificationSent(ctx, ids[0], "tok-a", "ATXid_1", at.Add(time.Second)); err != nil || !ok {
			t.Fatalf("RecordNotificationSent: %v %v", ok, err)
		}
		if ok, err := tx.RecordNotificationSent(ctx, ids[0], "tok-a", "ATXid_1", at.Add(time.Second)); err != nil || ok {
			t.Fatalf("second RecordNotificationSent must not apply: %v %v", ok, err)
		}
		if !start(ids[1], "tok-x", time.Hour) {
			t.Fatal("start by the new holder refused")
		}
		if ok, err := tx.RecordNotificationRetry(ctx, ids[1], "tok-x", at.Add(time.Hour), "gateway said 500", false); err != nil || !ok {
			t.Fatalf("RecordNotificationRetry: %v %v", ok, err)
		}
		if ok, err := tx.RecordNotificationRetry(ctx, ids[2], "tok-x", at, "invalid number", true); err != nil || !ok {
			t.Fatalf("RecordNotificationRetry(give up): %v %v", ok, err)
		}
		if due, err := tx.ClaimNotifications(ctx, at.Add(time.Minute), lease, "tok-c", 10); err != nil || len(due) != 0 {
			t.Fatalf("claimed before the retry is due: %+v %v", due, err)
		}
		due, err := tx.ClaimNotifications(ctx, at.Add(2*time.Hour), at.Add(3*time.Hour), "tok-d", 10)
		if err != nil || len(due) != 1 || due[0].ID != ids[1] || due[0].Attempts != 1 || due[0].LastError != "gateway said 500" ||
			due[0].LeasedUntil != nil {
			t.Fatalf("the retry is not due after its time: %+v %v", due, err)
		}
		got, _ = tx.NotificationsOf(ctx, txID)
		if got[0].Status != store.NotificationSent || got[0].SentAt == nil || got[0].MessageID != "ATXid_1" || got[0].ClaimToken != "" ||
			got[0].LeasedUntil != nil || got[2].Status != store.NotificationFailed || got[2].LastError != "invalid number" {
			t.Fatalf("statuses after delivery: %+v", got)
		}

		// Delivery reports: interim, then final, then a late interim one.
		report := func(status string, final bool) bool {
			ok, err := tx.RecordDeliveryReport(ctx, store.DeliveryReport{MessageID: "ATXid_1", Status: status, FailureReason: "",
				RetryCount: 1, Final: final, Now: at.Add(time.Minute)})
			if err != nil {
				t.Fatalf("RecordDeliveryReport: %v", err)
			}
			return ok
		}
		if !report("Buffered", false) || !report("Success", true) || report("Sent", false) {
			t.Fatal("delivery reports: an interim report overwrote a final one, or a report was not recorded")
		}
		if ok, err := tx.RecordDeliveryReport(ctx, store.DeliveryReport{MessageID: "ATXid_unknown", Status: "Success", Final: true, Now: at}); err != nil || ok {
			t.Fatalf("a report for an unknown message matched: %v %v", ok, err)
		}
		n, err = tx.Notification(ctx, ids[0])
		if err != nil || n.DeliveryStatus != "Success" || !n.DeliveryFinal || n.DeliveryRetries != 1 || n.DeliveredAt == nil {
			t.Fatalf("delivery report read back: %+v %v", n, err)
		}

		// A send whose lease ran out unrecorded (its sender died) is due
		// again once the claim's lease has passed too; the new holder
		// records it. The gateway gives it the first message's id: it must
		// not fail the bookkeeping of a send the gateway took, nor show the
		// first message's report.
		if !start(ids[1], "tok-d", -time.Second) {
			t.Fatal("start by tok-d refused")
		}
		again, err := tx.ClaimNotifications(ctx, at.Add(3*time.Hour), at.Add(4*time.Hour), "tok-e", 10)
		if err != nil || len(again) != 1 || again[0].ID != ids[1] || again[0].Attempts != 2 || again[0].LeasedUntil != nil {
			t.Fatalf("a send whose lease ran out, claimed again: %+v %v", again, err)
		}
		if ok, err := tx.RecordNotificationSent(ctx, ids[1], "tok-d", "ATXid_late", at.Add(3*time.Hour)); err != nil || ok {
			t.Fatalf("a send recorded by a sender that lost its lease: %v %v", ok, err)
		}
		if ok, err := tx.RecordNotificationSent(ctx, ids[1], "tok-e", "ATXid_1", at.Add(3*time.Hour)); err != nil || !ok {
			t.Fatalf("a send with a message id seen before: %v %v", ok, err)
		}
		if n, err := tx.Notification(ctx, ids[1]); err != nil || n.MessageID != "ATXid_1" || n.DeliveryStatus != "" || n.DeliveryFinal {
			t.Fatalf("the second message under one id shows the first one's report: %+v %v", n, err)
		}
		if ok, err := tx.RecordDeliveryReport(ctx, store.DeliveryReport{MessageID: "ATXid_1", Status: "Failed", FailureReason: "AbsentSubscriber",
			Final: true, Now: at.Add(4 * time.Hour)}); err != nil || !ok {
			t.Fatalf("the second message's report: %v %v", ok, err)
		}
		got, _ = tx.NotificationsOf(ctx, txID)
		if got[0].DeliveryStatus != "Success" || got[1].DeliveryStatus != "Failed" || got[1].DeliveryFailure != "AbsentSubscriber" || !got[1].DeliveryFinal {
			t.Fatalf("two messages under one id: %+v", got[:2])
		}
		if _, err := tx.Notification(ctx, -1); !errors.Is(err, store.ErrNotFound) {
			t.Fatalf("Notification(-1): %v", err)
		}
		return nil
	})
}

// testOutboxClaimsDisjoint: senders claiming at the same time take
// disjoint sets, and between them every due row.
func testOutboxClaimsDisjoint(t *testing.T, s store.Store) {
	userID, _, phone := NewFundedUser(t, s, 0)
	at := outboxEpoch.Add(24 * time.Hour) // after testNotifications' rows
	const rows, senders = 24, 4
	want := map[int64]bool{}
	inTx(t, s, func(ctx context.Context, tx store.Tx) error {
		for range rows {
			id, err := tx.InsertNotification(ctx, store.NewNotification{UserID: userID, Phone: phone, Kind: store.NotifyPINChanged, Now: at})
			if err != nil {
				return err
			}
			want[id] = true
		}
		return nil
	})
	var mu sync.Mutex
	seen := map[int64]string{}
	var wg sync.WaitGroup
	for i := range senders {
		wg.Go(func() {
			token := fmt.Sprintf("sender-%d", i)
			for {
				var got []store.Notification
				err := s.InTx(context.Background(), func(ctx context.Context, tx store.Tx) error {
					var err error
					got, err = tx.ClaimNotifications(ctx, at.Add(time.Second), at.Add(time.Hour), token, 3)
					return err
				})
				if err != nil {
					t.Errorf("%s: claim: %v", token, err)
					return
				}
				if len(got) == 0 {
					return
				}
				mu.Lock()
				for _, n := range got {
					if prev, dup := seen[n.ID]; dup {
						t.Errorf("notification %d claimed by %s and %s", n.ID, prev, token)
					}
					seen[n.ID] = token
				}
				mu.Unlock()
			}
		})
	}
	wg.Wait()
	var missing []int64
	for id := range want {
		if _, ok := seen[id]; !ok {
			missing = append(missing, id)
		}
	}
	sort.Slice(missing, func(i, j int) bool { return missing[i] < missing[j] })
	if len(missing) > 0 {
		t.Fatalf("claims: %d of %d rows missing: %v", len(missing), rows, missing)
	}
}

// testBalanceAfter: the balance a notification reports is the ledger's
// running balance right after its transaction.
func testBalanceAfter(t *testing.T, s store.Store) {
	userID, accountID, _ := NewFundedUser(t, s, 7000)
	other, _, _ := NewFundedUser(t, s, 0)
	inTx(t, s, func(ctx context.Context, tx store.Tx) error {
		adj, err := tx.SystemAccount(ctx, store.AccountAdjustments)
		if err != nil {
			return err
		}
		txID, err := tx.InsertTransaction(ctx, newTxn(t, userID, store.TypeAdjustment, store.StatusCompleted, 500, base))
		if err != nil {
			return err
		}
		if err := tx.PostEntries(ctx, txID, []store.Entry{{AccountID: adj.ID, AmountMsat: -500}, {AccountID: accountID, AmountMsat: 500}}, store.NoLimits, base); err != nil {
			return err
		}
		if b, err := tx.BalanceAfter(ctx, txID, userID); err != nil || b != 7500 {
			t.Fatalf("BalanceAfter: %d %v, want 7500", b, err)
		}
		if _, err := tx.BalanceAfter(ctx, txID, other); !errors.Is(err, store.ErrNotFound) {
			t.Fatalf("BalanceAfter of a user the transaction did not move: %v", err)
		}
		return nil
	})
}

// testInboundSMS: a text is recorded once per gateway id; texts are
// counted per number; a reply key is earned by one text only.
func testInboundSMS(t *testing.T, s store.Store) {
	userID, _, phone := NewFundedUser(t, s, 0)
	gw := Token(t, 12)
	var id int64
	inTx(t, s, func(ctx context.Context, tx store.Tx) error {
		var err error
		id, err = tx.InsertInboundSMS(ctx, store.NewInboundSMS{GatewayID: gw, Phone: phone, UserID: userID, Text: "pay x 5", ReceivedAt: base})
		if err != nil {
			return err
		}
		if _, err := tx.InsertInboundSMS(ctx, store.NewInboundSMS{GatewayID: gw + "-2", Phone: phone, Text: "hi", ReceivedAt: base.Add(time.Hour)}); err != nil {
			return err
		}
		if err := tx.SetInboundSMSOutcome(ctx, id, "request"); err != nil {
			return err
		}
		return tx.ClaimInboundReply(ctx, id, "register:"+phone)
	})
	err := s.InTx(ctxT(t), func(ctx context.Context, tx store.Tx) error {
		_, err := tx.InsertInboundSMS(ctx, store.NewInboundSMS{GatewayID: gw, Phone: phone, Text: "again", ReceivedAt: base})
		return err
	})
	mustKind(t, err, store.ErrConflict, "a repeated gateway id")
	inTx(t, s, func(ctx context.Context, tx store.Tx) error {
		m, err := tx.InboundSMSByGatewayID(ctx, gw)
		if err != nil || m.ID != id || m.Phone != phone || m.UserID != userID || m.Text != "pay x 5" || m.Outcome != "request" ||
			m.ReplyKey != "register:"+phone || !m.ReceivedAt.Equal(base) {
			t.Fatalf("InboundSMSByGatewayID: %+v %v", m, err)
		}
		if n, err := tx.CountInboundSMSSince(ctx, phone, base); err != nil || n != 2 {
			t.Fatalf("CountInboundSMSSince(base): %d %v", n, err)
		}
		if n, err := tx.CountInboundSMSSince(ctx, phone, base.Add(time.Minute)); err != nil || n != 1 {
			t.Fatalf("CountInboundSMSSince(base+1m): %d %v", n, err)
		}
		if _, err := tx.InboundSMSByGatewayID(ctx, "none-"+gw); !errors.Is(err, store.ErrNotFound) {
			t.Fatalf("unknown gateway id: %v", err)
		}
		return nil
	})
	// The same reply key for another text, and a second key for the first.
	err = s.InTx(ctxT(t), func(ctx context.Context, tx store.Tx) error {
		m, err := tx.InboundSMSByGatewayID(ctx, gw+"-2")
		if err != nil {
			return err
		}
		return tx.ClaimInboundReply(ctx, m.ID, "register:"+phone)
	})
	mustKind(t, err, store.ErrConflict, "a reply key taken by another text")
	err = s.InTx(ctxT(t), func(ctx context.Context, tx store.Tx) error { return tx.ClaimInboundReply(ctx, id, "other:"+phone) })
	mustKind(t, err, store.ErrConflict, "a second reply for one text")
}

// testPaymentRequests: a request reads back; a newer one supersedes it;
// the open one is the newest unexpired; a status moves only from the one
// the caller read; one request per text.
func testPaymentRequests(t *testing.T, s store.Store) {
	userID, _, phone := NewFundedUser(t, s, 0)
	var first, second, txID int64
	var inbound [3]int64
	inTx(t, s, func(ctx context.Context, tx store.Tx) error {
		var err error
		for i := range inbound {
			if inbound[i], err = tx.InsertInboundSMS(ctx, store.NewInboundSMS{GatewayID: Token(t, 12), Phone: phone, UserID: userID, Text: "lnbc", ReceivedAt: base}); err != nil {
				return err
			}
		}
		if txID, err = tx.InsertTransaction(ctx, newTxn(t, userID, store.TypePayment, store.StatusPending, 5000, base)); err != nil {
			return err
		}
		first, err = tx.InsertPaymentRequest(ctx, store.NewPaymentRequest{UserID: userID, InboundID: inbound[0], Invoice: "lnbcrt1",
			PaymentHash: Token(t, 32), AmountMsat: 5000, Payee: "alice@example.com", ExpiresAt: base.Add(time.Hour), Now: base})
		if err != nil {
			return err
		}
		r, err := tx.OpenPaymentRequest(ctx, userID, base.Add(time.Minute))
		if err != nil || r.ID != first || r.Invoice != "lnbcrt1" || r.AmountMsat != 5000 || r.Payee != "alice@example.com" ||
			r.Status != store.PaymentRequestPending || r.InboundID != inbound[0] || !r.ExpiresAt.Equal(base.Add(time.Hour)) {
			t.Fatalf("OpenPaymentRequest: %+v %v", r, err)
		}
		second, err = tx.InsertPaymentRequest(ctx, store.NewPaymentRequest{UserID: userID, InboundID: inbound[1], Invoice: "lnbcrt2",
			PaymentHash: Token(t, 32), AmountMsat: 6000, ExpiresAt: base.Add(time.Hour), Now: base})
		if err != nil {
			return err
		}
		if r, err := tx.PaymentRequest(ctx, first); err != nil || r.Status != store.PaymentRequestSuperseded {
			t.Fatalf("the older request was not superseded: %+v %v", r, err)
		}
		if r, err := tx.OpenPaymentRequest(ctx, userID, base.Add(time.Minute)); err != nil || r.ID != second {
			t.Fatalf("open request: %+v %v", r, err)
		}
		if _, err := tx.OpenPaymentRequest(ctx, userID, base.Add(time.Hour)); !errors.Is(err, store.ErrNotFound) {
			t.Fatalf("an expired request is open: %v", err)
		}
		if ok, err := tx.SetPaymentRequestStatus(ctx, second, store.PaymentRequestPending, store.PaymentRequestApproved, txID, base); err != nil || !ok {
			t.Fatalf("approve: %v %v", ok, err)
		}
		if ok, err := tx.SetPaymentRequestStatus(ctx, second, store.PaymentRequestPending, store.PaymentRequestRejected, 0, base); err != nil || ok {
			t.Fatalf("a request moved from a status it was not in: %v %v", ok, err)
		}
		if r, err := tx.PaymentRequest(ctx, second); err != nil || r.Status != store.PaymentRequestApproved || r.TransactionID != txID {
			t.Fatalf("approved request: %+v %v", r, err)
		}
		if _, err := tx.OpenPaymentRequest(ctx, userID, base.Add(time.Minute)); !errors.Is(err, store.ErrNotFound) {
			t.Fatalf("an approved request is open: %v", err)
		}
		return nil
	})
	err := s.InTx(ctxT(t), func(ctx context.Context, tx store.Tx) error {
		_, err := tx.InsertPaymentRequest(ctx, store.NewPaymentRequest{UserID: userID, InboundID: inbound[1], Invoice: "lnbcrt3",
			PaymentHash: Token(t, 32), AmountMsat: 1, ExpiresAt: base.Add(time.Hour), Now: base})
		return err
	})
	mustKind(t, err, store.ErrConflict, "a second request for one text")
}
