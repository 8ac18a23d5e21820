package smspay_test

import (
	"context"
	"errors"
	"testing"
	"time"

	"github.com/umeme-wallet/umeme/internal/database"
	"github.com/umeme-wallet/umeme/internal/dbtest"
	"github.com/umeme-wallet/umeme/internal/smspay"
	"github.com/umeme-wallet/umeme/internal/store"
	"github.com/umeme-wallet/umeme/internal/store/storetest"
)

// TestSMSRegisterRepliesCapped: "register first" goes to at most
// RegisterRepliesPerDay numbers a day in all; the texts past the cap are
// recorded as unregistered and not answered, and the next day has its
// own replies.
func TestSMSRegisterRepliesCapped(t *testing.T) {
	dbtest.ForEachEngine(t, func(t *testing.T, db database.DB) {
		e := newEnv(t, db, nil, morning, func(s *smspay.Service) { s.Config.RegisterRepliesPerDay = 2 })
		strangers := []string{storetest.Phone(t), storetest.Phone(t), storetest.Phone(t)}
		for i, from := range strangers {
			res := e.text(from, "hi")
			if res.Outcome != smspay.OutcomeUnregistered || (i < 2) != (res.NotificationID != 0) {
				t.Fatalf("stranger %d: %+v", i, res)
			}
		}
		// The third number's later texts today: still nothing.
		if res := e.text(strangers[2], "hi again"); res.Outcome != smspay.OutcomeUnregistered || res.NotificationID != 0 {
			t.Fatalf("past the cap, again: %+v", res)
		}
		for i, from := range strangers {
			if got := len(e.repliesTo(from)); got != []int{1, 1, 0}[i] {
				t.Fatalf("stranger %d has %d replies", i, got)
			}
		}
		e.clock.Add(24 * time.Hour)
		if res := e.text(strangers[2], "hi"); res.NotificationID == 0 {
			t.Fatalf("the next day: %+v", res)
		}
	})
}

// TestSMSElsewhere: with the service's number configured, a text the
// gateway reports as sent to another number is recorded and not read or
// answered; one to the service's number, however written, is.
func TestSMSElsewhere(t *testing.T) {
	dbtest.ForEachEngine(t, func(t *testing.T, db database.DB) {
		e := newEnv(t, db, nil, morning, func(s *smspay.Service) { s.Config.Number = "+21234" })
		stranger := storetest.Phone(t)
		gw := storetest.Token(t, 10)
		res, err := e.svc.Receive(e.ctx, smspay.Inbound{GatewayID: gw, From: stranger, To: "40404", Text: "hi"})
		if err != nil || res.Outcome != smspay.OutcomeElsewhere || res.NotificationID != 0 {
			t.Fatalf("a text to another number: %+v %v", res, err)
		}
		if m := e.inbound(gw); m.Outcome != smspay.OutcomeElsewhere {
			t.Fatalf("recorded as %+v", m)
		}
		if got := e.repliesTo(stranger); len(got) != 0 {
			t.Fatalf("answered: %+v", got)
		}
		if res := e.text(stranger, "hi"); res.Outcome != smspay.OutcomeUnregistered || res.NotificationID == 0 {
			t.Fatalf("a text to the service's number (21234): %+v", res)
		}
	})
}

// blockingAddresses is a Lightning Address client whose fetches wait for
// release, saying when one has begun.
type blockingAddresses struct {
	begun   chan struct{}
	release chan struct{}
}

func (a blockingAddresses) FetchInvoice(ctx context.Context, _ string, _ int64) (string, error) {
	a.begun <- struct{}{}
	select {
	case <-a.release:
	case <-ctx.Done():
	}
	return "", errors.New("lnurl: 404 not found")
}

// TestSMSAcceptBounded: Accept acts on at most MaxInFlight texts at once;
// a text that finds no place before its callback's context ends stays
// recorded as received, and a place freed is taken again.
func TestSMSAcceptBounded(t *testing.T) {
	dbtest.ForEachEngine(t, func(t *testing.T, db database.DB) {
		addrs := blockingAddresses{begun: make(chan struct{}, 4), release: make(chan struct{})}
		e := newEnv(t, db, nil, morning, func(s *smspay.Service) {
			s.Config.MaxInFlight = 1
			s.Addresses = addrs
		})
		u := e.member(0)
		accept := func(ctx context.Context, gw string) {
			t.Helper()
			if err := e.svc.Accept(ctx, smspay.Inbound{GatewayID: gw, From: u.Phone, Text: "pay shop@example.com 5000"}); err != nil {
				t.Fatal(err)
			}
		}
		first, second, third := storetest.Token(t, 10), storetest.Token(t, 10), storetest.Token(t, 10)
		accept(context.Background(), first)
		select {
		case <-addrs.begun:
		case <-time.After(10 * time.Second):
			t.Fatal("the first text was not acted on")
		}
		ctx, cancel := context.WithTimeout(context.Background(), 200*time.Millisecond)
		accept(ctx, second)
		cancel()
		if m := e.inbound(second); m.Outcome != smspay.OutcomeReceived {
			t.Fatalf("a text past the bound: %+v", m)
		}
		close(addrs.release)
		accept(context.Background(), third) // waits for the first's place
		e.svc.Close(context.Background())
		for _, gw := range []string{first, third} {
			if m := e.inbound(gw); m.Outcome != "refused:"+store.PayRefusedAddress {
				t.Fatalf("text %s: %+v", gw, m)
			}
		}
		if m := e.inbound(second); m.Outcome != smspay.OutcomeReceived {
			t.Fatalf("the text past the bound was acted on later: %+v", m)
		}
	})
}
