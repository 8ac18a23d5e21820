package httpapi_test

import (
	"context"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"net/url"
	"slices"
	"strings"
	"sync/atomic"
	"testing"

	"github.com/umeme-wallet/umeme/internal/dbtest"
	"github.com/umeme-wallet/umeme/internal/httpapi"
	"github.com/umeme-wallet/umeme/internal/ussd"
	"github.com/umeme-wallet/umeme/internal/wallet"
)

const (
	fuzzPIN   = "2791"
	fuzzPhone = "+254711999001"
	fuzzToken = "fuzz-gateway-token"
)

// FuzzUSSD drives the real handler (over SQLite) with arbitrary sessions:
// each line of hops is one request's text, in one session of a registered,
// funded user (or another number). Whatever comes, every answer is 200 with
// a CON/END screen of at most 182 GSM-7 characters, nothing panics, the
// books balance, and the user's money moves only in a session where the
// right PIN was typed.
func FuzzUSSD(f *testing.F) {
	for _, seed := range []struct {
		who  uint8
		hops string
	}{
		{0, "\n1\n1*0722000333\n1*0722000333*150\n1*0722000333*150*1\n1*0722000333*150*1*" + fuzzPIN},
		{0, "\n1\n1*0722000333\n1*0722000333*150\n1*0722000333*150*1\n1*0722000333*150*1*1111\n1*0722000333*150*1*1111*" + fuzzPIN},
		{0, "\n3\n3*" + fuzzPIN},
		{0, "\n4\n4*" + fuzzPIN + "\n4*" + fuzzPIN + "*9\n4*" + fuzzPIN + "*9*0"},
		{0, "\n5\n5*2\n5*2*2\n5*2*2*6"},
		{0, "\n5\n5*1\n5*1*" + fuzzPIN + "\n5*1*" + fuzzPIN + "*1234"},
		{0, "\n1*00*0*0*00\n9999999999999999999\n**\n*1*"},
		{1, "\n1\n1*8531\n1*8531*8531"},
		{1, "\n2\n2*1\n2*1*0\n2*1*0*0"},
		{2, "\n1"},
		{0, "\n\n\n1\n1\n"},
		{0, "\n1*+254711999001\n1*0722000333*abc\n1*0722000333*1e9"},
	} {
		f.Add(seed.who, seed.hops)
	}
	ctx := context.Background()
	wcfg := wallet.DefaultConfig()
	wcfg.Argon2 = wallet.Argon2Params{Time: 1, Memory: 64, Threads: 1}
	wcfg.LockoutBase = 1 // a lockout must not stall the rest of the fuzzing
	handler, w, userID := ussdFixture(f, wcfg)
	var seq atomic.Int64

	f.Fuzz(func(t *testing.T, who uint8, hops string) {
		if len(hops) > 4096 {
			return
		}
		phone := []string{fuzzPhone, fmt.Sprintf("+2547229%05d", seq.Load()%100000), "garbage"}[who%3]
		session := fmt.Sprintf("fuzz-%d", seq.Add(1))
		before, err := w.Balance(ctx, userID)
		if err != nil {
			t.Fatal(err)
		}
		typedPIN := false
		for _, text := range strings.Split(hops, "\n") {
			typedPIN = typedPIN || slices.Contains(strings.Split(text, "*"), fuzzPIN)
			rec := postUSSD(handler, session, phone, text)
			body := rec.Body.String()
			if rec.Code != http.StatusOK {
				t.Fatalf("text %q: status %d", text, rec.Code)
			}
			end := strings.HasPrefix(body, "END ")
			if !end && !strings.HasPrefix(body, "CON ") {
				t.Fatalf("text %q: body %q", text, body)
			}
			if again, err := ussd.Render(ussd.Screen{Lines: []string{body[4:]}, End: end}); err != nil || again != body {
				t.Fatalf("text %q: screen does not fit: %v (%q)", text, err, body)
			}
		}
		after, err := w.Balance(ctx, userID)
		if err != nil {
			t.Fatal(err)
		}
		if after != before && (phone != fuzzPhone || !typedPIN) {
			t.Fatalf("balance moved %d -> %d in a session where the PIN was not typed: %q", before, after, hops)
		}
		rep, err := w.Reconcile(ctx)
		if err != nil || !rep.OK() {
			t.Fatalf("reconcile: %+v %v", rep, err)
		}
	})
}

// ussdFixture is the real USSD handler (with the callback token fuzzToken)
// over a fresh SQLite database and a wallet of wcfg, with fuzzPhone
// registered (PIN fuzzPIN) and funded with 1,000,000 sats.
func ussdFixture(tb testing.TB, wcfg wallet.Config) (http.Handler, *wallet.Service, int64) {
	tb.Helper()
	ctx := context.Background()
	db := dbtest.Open(tb, "sqlite")
	w, err := wallet.New(ctx, db, wcfg)
	if err != nil {
		tb.Fatal(err)
	}
	log := slog.New(slog.NewTextHandler(io.Discard, nil))
	srv := &httpapi.Server{DB: db, USSD: ussd.New(ussd.Config{Domain: "umeme.test", PINForBalance: true}, w, db, log), Log: log,
		CallbackToken: fuzzToken}
	u, _, err := w.EnsureUser(ctx, fuzzPhone)
	if err != nil {
		tb.Fatal(err)
	}
	if err := w.Register(ctx, u.ID, fuzzPIN); err != nil {
		tb.Fatal(err)
	}
	if _, err := w.Adjust(ctx, fuzzPhone, 1_000_000_000, "fuzz funding", "fuzz-fund"); err != nil {
		tb.Fatal(err)
	}
	return srv.Routes(), w, u.ID
}

// postUSSD sends one gateway hop to the handler, as Africa's Talking does.
func postUSSD(h http.Handler, session, phone, text string) *httptest.ResponseRecorder {
	form := url.Values{"sessionId": {session}, "phoneNumber": {phone}, "networkCode": {"63902"}, "serviceCode": {"*384*1234#"}, "text": {text}}
	req := httptest.NewRequest(http.MethodPost, "/ussd?token="+fuzzToken, strings.NewReader(form.Encode()))
	req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	rec := httptest.NewRecorder()
	h.ServeHTTP(rec, req)
	return rec
}
