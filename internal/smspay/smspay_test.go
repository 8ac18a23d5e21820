package smspay_test

import (
	"context"
	"errors"
	"strings"
	"sync"
	"testing"
	"time"
	"unicode/utf8"

	"github.com/umeme-wallet/umeme/internal/database"
	"github.com/umeme-wallet/umeme/internal/dbtest"
	"github.com/umeme-wallet/umeme/internal/smspay"
	"github.com/umeme-wallet/umeme/internal/store"
	"github.com/umeme-wallet/umeme/internal/store/storetest"
	"github.com/umeme-wallet/umeme/internal/wallet"
)

// morning is 10:00 in Nairobi: the day of the once-a-day replies is the
// wallet's (EAT), not UTC's.
var morning = time.Date(2031, 5, 6, 7, 0, 0, 0, time.UTC)

// TestSMSUnregisteredOnceADay: a number never seen and a number that holds
// funds but has no PIN each get one "register first" a day, whatever and
// however much they text; the two replies are alike (nothing tells them
// apart), no user is created, and every text is recorded as unregistered.
func TestSMSUnregisteredOnceADay(t *testing.T) {
	dbtest.ForEachEngine(t, func(t *testing.T, db database.DB) {
		e := newEnv(t, db, nil, morning, nil)
		stranger := storetest.Phone(t)
		holder, _, err := e.w.EnsureUser(e.ctx, storetest.Phone(t))
		if err != nil {
			t.Fatal(err)
		}
		if _, err := e.w.Adjust(e.ctx, holder.Phone, 5_000_000, "waiting for its owner", "fund-"+holder.Phone); err != nil {
			t.Fatal(err)
		}
		bodies := []string{"hi", "pay alice@example.com 5000", smspay.CraftInvoice(t, regtestParams, 5000, morning, time.Hour), "register", "help"}
		var replies [2]int64
		for day := range 2 {
			for i, body := range bodies {
				for j, from := range []string{stranger, holder.Phone} {
					gw := storetest.Token(t, 8)
					res := e.textAs(gw, from, body)
					if res.Outcome != smspay.OutcomeUnregistered || res.RequestID != 0 || (i > 0) != (res.NotificationID == 0) {
						t.Fatalf("day %d, text %d from %s: %+v", day, i, from, res)
					}
					if m := e.inbound(gw); m.Outcome != smspay.OutcomeUnregistered || m.Phone != from || m.UserID != []int64{0, holder.ID}[j] {
						t.Fatalf("day %d, text %d from %s recorded as %+v", day, i, from, m)
					}
				}
				e.clock.Add(time.Hour)
			}
			for j, from := range []string{stranger, holder.Phone} {
				got := e.repliesTo(from)
				if len(got) != day+1 {
					t.Fatalf("day %d: %d replies to %s, want %d: %+v", day, len(got), from, day+1, got)
				}
				n := got[len(got)-1]
				if n.Kind != store.NotifyRegisterFirst || n.Body != "" || n.AmountMsat != 0 || n.Counterparty != "" || n.TransactionID != 0 {
					t.Fatalf("reply to %s: %+v", from, n)
				}
				replies[j] = n.ID
			}
			e.clock.Add(24 * time.Hour)
		}
		if replies[0] == replies[1] {
			t.Fatal("one reply for two numbers")
		}
		if _, err := e.w.UserByPhone(e.ctx, stranger); !errors.Is(err, wallet.ErrUnknownUser) {
			t.Fatalf("a text created a user: %v", err)
		}
	})
}

// TestSMSFloodLimited: past PerHour texts in an hour a number's texts are
// only recorded, as a flood, and answered once a day at most; once the
// hour has passed its texts are read again.
func TestSMSFloodLimited(t *testing.T) {
	dbtest.ForEachEngine(t, func(t *testing.T, db database.DB) {
		e := newEnv(t, db, nil, morning, func(s *smspay.Service) { s.Config.PerHour = 3 })
		u := e.member(0)
		other := e.member(0)
		send := func(n int, want ...string) {
			t.Helper()
			for i := range n {
				res := e.text(u.Phone, "what is this")
				if res.Outcome != want[min(i, len(want)-1)] {
					t.Fatalf("text %d: %+v, want %s", i, res, want[min(i, len(want)-1)])
				}
				e.clock.Add(time.Second)
			}
		}
		count := func(kind store.NotificationKind, body string) int {
			n := 0
			for _, r := range e.repliesTo(u.Phone) {
				if r.Kind == kind && r.Body == body {
					n++
				}
			}
			return n
		}
		invalid := "refused:" + store.PayRefusedInvalid
		send(8, invalid, invalid, invalid, smspay.OutcomeFlood)
		if got, flood := count(store.NotifyPayRefused, store.PayRefusedInvalid), count(store.NotifyPayRefused, store.PayRefusedFlood); got != 3 || flood != 1 {
			t.Fatalf("after 8 texts: %d refusals and %d flood replies, want 3 and 1", got, flood)
		}
		// Another number is not held back by this one.
		if res := e.text(other.Phone, "what is this"); res.Outcome != invalid {
			t.Fatalf("another number: %+v", res)
		}
		// An hour later the number is heard again; a second flood the same
		// day is not answered.
		e.clock.Add(time.Hour)
		send(6, invalid, invalid, invalid, smspay.OutcomeFlood)
		if got, flood := count(store.NotifyPayRefused, store.PayRefusedInvalid), count(store.NotifyPayRefused, store.PayRefusedFlood); got != 6 || flood != 1 {
			t.Fatalf("after the second flood: %d refusals and %d flood replies, want 6 and 1", got, flood)
		}
		// The next day, one more flood reply.
		e.clock.Add(24 * time.Hour)
		send(5, invalid, invalid, invalid, smspay.OutcomeFlood)
		if flood := count(store.NotifyPayRefused, store.PayRefusedFlood); flood != 2 {
			t.Fatalf("the next day's flood: %d flood replies, want 2", flood)
		}
	})
}

// TestSMSRepeatedGatewayID: a callback repeated, even many at once, is one
// text: one row, one reply, the others "duplicate" and no error, through
// Receive and Accept alike. A callback that holds no text is refused as
// malformed; a text that no column could hold as sent is stored cleaned
// and cut.
func TestSMSRepeatedGatewayID(t *testing.T) {
	dbtest.ForEachEngine(t, func(t *testing.T, db database.DB) {
		e := newEnv(t, db, nil, morning, nil)
		u := e.member(0)
		gw := storetest.Token(t, 12)
		var wg sync.WaitGroup
		results := make(chan smspay.Result, 6)
		for range 6 {
			wg.Go(func() {
				res, err := e.svc.Receive(e.ctx, smspay.Inbound{GatewayID: gw, From: u.Phone, Text: "gibberish"})
				if err != nil {
					t.Errorf("receive: %v", err)
				}
				results <- res
			})
		}
		wg.Wait()
		close(results)
		fresh := 0
		for res := range results {
			if res.Outcome != smspay.OutcomeDuplicate {
				fresh++
			}
		}
		if err := e.svc.Accept(e.ctx, smspay.Inbound{GatewayID: gw, From: u.Phone, Text: "gibberish"}); err != nil {
			t.Fatalf("accept of a repeat: %v", err)
		}
		if fresh != 1 || len(e.repliesTo(u.Phone)) != 1 {
			t.Fatalf("six callbacks of one text: %d acted on, %d replies", fresh, len(e.repliesTo(u.Phone)))
		}
		if m := e.inbound(gw); m.Outcome != "refused:"+store.PayRefusedInvalid || m.Text != "gibberish" || m.UserID != u.ID {
			t.Fatalf("recorded: %+v", m)
		}

		for _, in := range []smspay.Inbound{
			{From: u.Phone, Text: "x"}, {GatewayID: "has space", From: u.Phone}, {GatewayID: strings.Repeat("x", 129), From: u.Phone},
			{GatewayID: storetest.Token(t, 8), From: "not a number"}, {GatewayID: storetest.Token(t, 8), From: ""},
		} {
			if _, err := e.svc.Receive(e.ctx, in); !errors.Is(err, smspay.ErrMalformed) {
				t.Errorf("%+v: %v, want ErrMalformed", in, err)
			}
		}

		// NUL, other control characters, invalid UTF-8, and more than
		// the column holds.
		gw = storetest.Token(t, 12)
		raw := "a\x00b\x07c\xffd\r\n" + strings.Repeat("ñ", 1500)
		e.textAs(gw, u.Phone, raw)
		m := e.inbound(gw)
		if !strings.HasPrefix(m.Text, "a b c?d  ñ") || len(m.Text) > 1024 || !utf8.ValidString(m.Text) || strings.ContainsAny(m.Text, "\x00\x07\r\n") {
			t.Fatalf("stored text: %q (%d bytes)", m.Text[:min(len(m.Text), 40)], len(m.Text))
		}
	})
}

// TestSMSAcceptInBackground: Accept returns once the text is recorded and
// acts on it in the background; Close waits for that work to finish.
func TestSMSAcceptInBackground(t *testing.T) {
	dbtest.ForEachEngine(t, func(t *testing.T, db database.DB) {
		e := newEnv(t, db, nil, morning, nil)
		stranger := storetest.Phone(t)
		gw := storetest.Token(t, 12)
		if err := e.svc.Accept(context.Background(), smspay.Inbound{GatewayID: gw, From: stranger, Text: "hello"}); err != nil {
			t.Fatal(err)
		}
		e.svc.Close(context.Background())
		if m := e.inbound(gw); m.Outcome != smspay.OutcomeUnregistered {
			t.Fatalf("after Close: %+v", m)
		}
		if got := e.repliesTo(stranger); len(got) != 1 || got[0].Kind != store.NotifyRegisterFirst {
			t.Fatalf("replies: %+v", got)
		}
	})
}
