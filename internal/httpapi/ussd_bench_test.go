package httpapi_test

import (
	"context"
	"fmt"
	"net/http"
	"strings"
	"testing"

	"github.com/umeme-wallet/umeme/internal/wallet"
)

// BenchmarkUSSDHop measures one gateway hop through the real handler
// (routing, token check, form parsing, the USSD engine) and a real SQLite
// store, with the production wallet settings (the PIN hashed at its
// default Argon2 cost): the time and allocations of one hop of each kind.
// One op is one hop; the earlier hops of its session run with the timer
// stopped.
//
//	go test -run '^$' -bench USSDHop -benchmem ./internal/httpapi
func BenchmarkUSSDHop(b *testing.B) {
	ctx := context.Background()
	handler, w, _ := ussdFixture(b, wallet.DefaultConfig())
	const payee = "0722000333"
	if _, _, err := w.EnsureUser(ctx, payee); err != nil {
		b.Fatal(err)
	}
	send := "1*" + payee + "*1*1" // 1 sat to payee, confirmed
	hop := func(session, text string) string {
		rec := postUSSD(handler, session, fuzzPhone, text)
		body := rec.Body.String()
		if rec.Code != http.StatusOK || !(strings.HasPrefix(body, "CON ") || strings.HasPrefix(body, "END ")) || strings.Contains(body, "Sorry") {
			b.Fatalf("text %q: status %d, %q", text, rec.Code, body)
		}
		return body
	}
	seq := 0
	for _, c := range []struct {
		name   string
		before []string // the session's earlier texts
		text   string   // the hop measured
		want   string
	}{
		{"dial", nil, "", "Send"},                                                                              // the main menu
		{"balance-menu", []string{""}, "3", "PIN"},                                                             // asks for the PIN
		{"balance-pin", []string{"", "3"}, "3*" + fuzzPIN, "Balance"},                                          // checks it, shows the balance
		{"history-pin", []string{"", "4"}, "4*" + fuzzPIN, "adjustment"},                                       // checks it, reads the history
		{"send-pin", []string{"", "1", "1*" + payee, "1*" + payee + "*1", send}, send + "*" + fuzzPIN, "Sent"}, // checks it, books the transfer
	} {
		b.Run(c.name, func(b *testing.B) {
			b.ReportAllocs()
			for range b.N {
				b.StopTimer()
				seq++
				session := fmt.Sprintf("bench-%d", seq)
				for _, text := range c.before {
					hop(session, text)
				}
				b.StartTimer()
				if body := hop(session, c.text); !strings.Contains(body, c.want) {
					b.Fatalf("%s: %q has no %q", c.name, body, c.want)
				}
			}
		})
	}
}
