package app_test

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"io"
	stdnet "net"
	"net/http"
	"net/url"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/umeme-wallet/umeme/internal/app"
	"github.com/umeme-wallet/umeme/internal/config"
	"github.com/umeme-wallet/umeme/internal/dbtest"
	"github.com/umeme-wallet/umeme/internal/fleet"
	"github.com/umeme-wallet/umeme/internal/lightning"
	"github.com/umeme-wallet/umeme/internal/lightning/lndnode"
	"github.com/umeme-wallet/umeme/internal/regtest"
	"github.com/umeme-wallet/umeme/internal/store"
	"github.com/umeme-wallet/umeme/internal/store/storetest"
	"github.com/umeme-wallet/umeme/internal/wallet"
)

// TestLightningAddressCustomName: through the gateway handler, a user
// chooses a name for their address in Settings (refused when invalid,
// reserved or taken), changes it, and the Receive screen shows it; the
// name, the one given up (still the same user's, and nobody else's) and
// the number's digits all resolve. No invoice is needed: the node is
// configured but down, which the payRequest does not need.
func TestLightningAddressCustomName(t *testing.T) {
	forEachEngine(t, func(t *testing.T, engine string) {
		a := startApp(t, engine, func(c *config.Config) {
			c.LNDAddress, c.LNDNetwork = "127.0.0.1:1", "regtest" // nothing listens there
			c.LNDTLSCertPath, c.LNDMacaroonPath = "/nonexistent/tls.cert", "/nonexistent/admin.macaroon"
		})
		ctx := context.Background()
		alice, bob := newPhone(t, a), newPhone(t, a)
		register(t, alice, "7391")
		register(t, bob, "5820")
		digits := strings.TrimPrefix(alice.number, "+")
		first, second := "mama"+storetest.Token(t, 3), "duka"+storetest.Token(t, 3)

		alice.dial()
		expect(t, alice.press("5"), "1. Change PIN", "2. Language", "3. Lightning Address")
		expect(t, alice.press("3"), "Your Lightning Address:\n"+digits+"@umeme.test", "1. Choose a name")
		// A name is for good: choosing one takes the PIN.
		expect(t, alice.press("1"), "Enter your PIN")
		expect(t, alice.press("7391"), "3 to 20 letters")
		for _, bad := range []struct{ in, want string }{
			{"ab", "Invalid name"}, {"0712345678", "Invalid name"}, {"mama-mboga", "Invalid name"},
			{strings.Repeat("x", 21), "Invalid name"}, {"admin", "reserved"}, {"Support", "reserved"},
		} {
			expect(t, alice.press(bad.in), bad.want, "3 to 20 letters")
		}
		expect(t, alice.press(strings.ToUpper(first)), "END Your Lightning Address is now:\n"+first+"@umeme.test")

		bob.dial()
		bob.press("5")
		bob.press("3")
		bob.press("1")
		if screen := bob.press("7391"); strings.Contains(screen, "3 to 20 letters") {
			t.Fatalf("a wrong PIN reached the name screen: %q", screen)
		}
		bob.dial()
		bob.press("5")
		bob.press("3")
		bob.press("1")
		bob.press("5820")
		expect(t, bob.press(first), "That name is taken", "3 to 20 letters")

		alice.dial()
		alice.press("5")
		expect(t, alice.press("3"), first+"@umeme.test")
		alice.press("1")
		alice.press("7391")
		expect(t, alice.press(second), "END ", second+"@umeme.test")
		alice.dial()
		alice.press("2")
		expect(t, alice.press("1"), "END ", second+"@umeme.test")

		// The name Alice gave up stays hers: Bob cannot take it.
		bob.dial()
		bob.press("5")
		bob.press("3")
		bob.press("1")
		bob.press("5820")
		expect(t, bob.press(first), "That name is taken")

		base := "http://" + a.Addr()
		for _, name := range []string{second, strings.ToUpper(second), first, digits} {
			status, h, body := httpGet(t, "", base+"/.well-known/lnurlp/"+url.PathEscape(name))
			var pr lightning.PayRequest
			if err := json.Unmarshal([]byte(body), &pr); err != nil || status != http.StatusOK || pr.Tag != "payRequest" {
				t.Fatalf("resolving %q: %d %q", name, status, body)
			}
			canonical := strings.ToLower(name)
			if pr.Callback != "https://umeme.test/lnurlp/"+canonical+"/callback" || !strings.Contains(pr.Metadata, canonical+"@umeme.test") ||
				h.Get("Access-Control-Allow-Origin") != "*" {
				t.Fatalf("payRequest of %q: %+v", name, pr)
			}
		}
		for _, name := range []string{first, second} {
			to, err := a.Wallet.ResolveAddress(ctx, wallet.AddressName{Name: name})
			if err != nil || to.Phone != alice.number {
				t.Fatalf("%q pays %+v %v, not alice", name, to, err)
			}
		}
		_, _, body := httpGet(t, "", base+"/.well-known/lnurlp/nobody"+storetest.Token(t, 3))
		if body != `{"status":"ERROR","reason":"Unknown Lightning Address."}`+"\n" {
			t.Fatalf("an unknown name: %q", body)
		}
	})
}

// TestLNURLFloodLimited: anonymous callbacks (and payRequests) from one
// client address, and for one name from many addresses, are refused past
// their budgets with 200 ERROR answers a wallet shows; of the invoices
// issued for one number at most the cap stay payable, the oldest being
// cancelled on lnd and expired in the database; and the flood created no
// user and no transaction row.
func TestLNURLFloodLimited(t *testing.T) {
	net := regtest.Start(t)
	node := connectOurs(t, net)
	for _, engine := range dbtest.Engines {
		t.Run(engine, func(t *testing.T) {
			ctx := context.Background()
			// Budgets per hour, so that no token comes back during the test.
			a := lightningApp(t, net, engine, func(c *config.Config) {
				c.LNURLPerClient, c.LNURLPerName, c.LNURLLimitWindow, c.LNURLMaxUnpaid = 4, 8, time.Hour, 3
				c.LNURLGlobal = 9
			})
			base := "http://" + a.Addr()
			victim := storetest.Phone(t)
			name := strings.TrimPrefix(victim, "+")
			callback := func(from, name string) (string, string) {
				t.Helper()
				status, h, body := httpGet(t, from, base+"/lnurlp/"+name+"/callback?amount=5000000000")
				var ans struct{ PR, Status, Reason string }
				if err := json.Unmarshal([]byte(body), &ans); err != nil || status != http.StatusOK || h.Get("Access-Control-Allow-Origin") != "*" {
					t.Fatalf("callback from %s: %d %q %v", from, status, body, h)
				}
				if ans.Status == "ERROR" && h.Get("Retry-After") == "" {
					t.Fatalf("a refusal without Retry-After: %v", h)
				}
				return ans.PR, ans.Reason
			}
			var issued []string
			for i := range 4 {
				pr, reason := callback("127.0.0.2", name)
				if pr == "" {
					t.Fatalf("callback %d within the client's budget: %q", i, reason)
				}
				issued = append(issued, pr)
			}
			if pr, reason := callback("127.0.0.2", name); pr != "" || !strings.Contains(reason, "Too many requests") {
				t.Fatalf("a 5th callback from one address: %q %q", pr, reason)
			}
			// The payRequest endpoint has budgets of its own.
			for i := range 5 {
				_, _, body := httpGet(t, "127.0.0.2", base+"/.well-known/lnurlp/"+name)
				if refused := strings.Contains(body, "Too many requests"); refused != (i == 4) {
					t.Fatalf("payRequest %d from one address: %q", i, body)
				}
			}
			// From other addresses the name's budget runs out at 8.
			for _, from := range []string{"127.0.0.3", "127.0.0.3", "127.0.0.4", "127.0.0.4"} {
				pr, reason := callback(from, name)
				if pr == "" {
					t.Fatalf("callback from %s: %q", from, reason)
				}
				issued = append(issued, pr)
			}
			if pr, reason := callback("127.0.0.5", name); pr != "" || !strings.Contains(reason, "Too many requests") {
				t.Fatalf("a 9th callback for one name from a fresh address: %q %q", pr, reason)
			}
			if pr, reason := callback("127.0.0.5", strings.TrimPrefix(storetest.Phone(t), "+")); pr == "" {
				t.Fatalf("another name from that address: %q", reason)
			}
			// Nine invoices in all: the node's budget is spent, for any
			// name from any address.
			if pr, reason := callback("127.0.0.6", strings.TrimPrefix(storetest.Phone(t), "+")); pr != "" || !strings.Contains(reason, "Too many requests") {
				t.Fatalf("a 10th callback past the global budget: %q %q", pr, reason)
			}

			// The cap: the 3 newest stay payable, the 5 oldest were
			// cancelled on the node, then expired in the database.
			for i, pr := range issued {
				dec, err := node.DecodeInvoice(ctx, pr)
				if err != nil {
					t.Fatal(err)
				}
				onNode, err := node.LookupInvoice(ctx, dec.PaymentHash)
				if err != nil {
					t.Fatal(err)
				}
				inDB, err := a.Wallet.InvoiceStatus(ctx, dec.PaymentHash)
				if err != nil {
					t.Fatal(err)
				}
				wantNode, wantDB := lightning.InvoiceCanceled, store.InvoiceExpired
				if i >= len(issued)-3 {
					wantNode, wantDB = lightning.InvoiceOpen, store.InvoicePending
				}
				if onNode.State != wantNode || inDB.Status != wantDB || inDB.Origin != store.InvoiceByAddress || inDB.TransactionID != 0 {
					t.Fatalf("invoice %d of %d: node %v, database %+v", i, len(issued), onNode.State, inDB)
				}
			}
			if engine == "sqlite" {
				if out, err := net.World.TryCLI("payinvoice", "--force", issued[0]); err == nil {
					t.Fatalf("the world paid an invoice cancelled by the cap: %s", out)
				}
			}
			if _, err := a.Wallet.UserByPhone(ctx, victim); !errors.Is(err, wallet.ErrUnknownUser) {
				t.Fatalf("the flood created a user: %v", err)
			}
		})
	}
}

// TestLNURLNoEnumeration: a registered number (whose balance is near the
// cap), an unregistered one and one never seen answer both endpoints alike,
// apart from the name itself and the invoice's own hash; no look-up tells
// them apart and the never-seen one gets no user until money arrives, which
// then waits for its owner (paid from the world and paid in the ledger).
// Malformed and unknown names get one generic error.
func TestLNURLNoEnumeration(t *testing.T) {
	net := regtest.Start(t)
	for _, engine := range dbtest.Engines {
		t.Run(engine, func(t *testing.T) {
			ctx := context.Background()
			a := lightningApp(t, net, engine, nil)
			base := "http://" + a.Addr()
			registered := newPhone(t, a)
			register(t, registered, "7391")
			maxBalance := a.Wallet.Config().MaxBalanceMsat / 1000
			fund(t, a, registered, maxBalance-1000)
			unregistered := storetest.Phone(t)
			if _, _, err := a.Wallet.EnsureUser(ctx, unregistered); err != nil {
				t.Fatal(err)
			}
			numbers := []struct{ kind, phone string }{
				{"registered", registered.number}, {"unregistered", unregistered},
				{"never seen", storetest.Phone(t)}, {"never seen, paid in the ledger", storetest.Phone(t)},
			}
			var firstPay, firstCallback string
			var firstInvoice map[string]any
			invoices := map[string]string{}
			for _, n := range numbers {
				name := strings.TrimPrefix(n.phone, "+")
				status, h, body := httpGet(t, "", base+"/.well-known/lnurlp/"+name)
				var pr lightning.PayRequest
				if err := json.Unmarshal([]byte(body), &pr); err != nil || status != http.StatusOK || h.Get("Access-Control-Allow-Origin") != "*" {
					t.Fatalf("%s: payRequest %d %q", n.kind, status, body)
				}
				if same := strings.ReplaceAll(body, name, "NAME"); firstPay == "" {
					firstPay = same
				} else if same != firstPay {
					t.Fatalf("%s: payRequest differs:\n%s\n%s", n.kind, same, firstPay)
				}
				status, _, body = httpGet(t, "", pr.Callback+"?amount=5000000&comment=hi")
				var cb map[string]any
				if err := json.Unmarshal([]byte(body), &cb); err != nil || status != http.StatusOK || len(cb) != 2 {
					t.Fatalf("%s: callback %d %q", n.kind, status, body)
				}
				bolt11, _ := cb["pr"].(string)
				if same := strings.Replace(body, bolt11, "PR", 1); firstCallback == "" {
					firstCallback = same
				} else if same != firstCallback {
					t.Fatalf("%s: callback differs:\n%s\n%s", n.kind, same, firstCallback)
				}
				var dec map[string]any
				net.Ours.CLIJSON(&dec, "decodepayreq", bolt11)
				want := sha256.Sum256([]byte(pr.Metadata))
				if dec["num_msat"] != "5000000" || dec["description_hash"] != hex.EncodeToString(want[:]) {
					t.Fatalf("%s: invoice %v", n.kind, dec)
				}
				for _, f := range []string{"payment_hash", "payment_addr", "timestamp", "description_hash"} {
					delete(dec, f)
				}
				if firstInvoice == nil {
					firstInvoice = dec
				} else if a, b := jsonText(t, dec), jsonText(t, firstInvoice); a != b {
					t.Fatalf("%s: the invoice differs beyond its hashes:\n%s\n%s", n.kind, a, b)
				}
				invoices[n.kind] = bolt11
			}
			for _, n := range numbers[2:] {
				if _, err := a.Wallet.UserByPhone(ctx, n.phone); !errors.Is(err, wallet.ErrUnknownUser) {
					t.Fatalf("%s: a user was created before any money arrived: %v", n.kind, err)
				}
			}
			for _, bad := range []string{"0712345678", "254", "2547123456789999", "+254712345678", "abc-def", "jo.doe", "x",
				"nobody" + storetest.Token(t, 3), "admin", "%F0%9F%90%90", strings.Repeat("a", 64)} {
				for _, u := range []string{base + "/.well-known/lnurlp/" + bad, base + "/lnurlp/" + bad + "/callback?amount=5000000"} {
					status, h, body := httpGet(t, "", u)
					if status != http.StatusOK || h.Get("Access-Control-Allow-Origin") != "*" ||
						body != `{"status":"ERROR","reason":"Unknown Lightning Address."}`+"\n" {
						t.Fatalf("%s: %d %q", u, status, body)
					}
				}
			}

			// Money to a number without an account waits for its owner:
			// from the world, and from a user inside the ledger.
			net.World.CLI("payinvoice", "--force", invoices["never seen"])
			payer := newPhone(t, a)
			register(t, payer, "5820")
			fund(t, a, payer, 10_000)
			pu, _ := a.Wallet.UserByPhone(ctx, payer.number)
			auth, err := a.Wallet.VerifyPIN(ctx, pu.ID, "5820")
			if err != nil {
				t.Fatal(err)
			}
			// The payer's path: hold, cancel on our node, settle inside.
			if p, err := a.Payer.Pay(ctx, auth, invoices["never seen, paid in the ledger"], "pay-never-seen"); err != nil || !p.Internal {
				t.Fatalf("paid in the ledger: %+v %v", p, err)
			}
			for _, n := range numbers[2:] {
				waitFor(t, n.kind+" to be credited", func() bool {
					u, err := a.Wallet.UserByPhone(ctx, n.phone)
					if err != nil {
						return false
					}
					b, err := a.Wallet.Balance(ctx, u.ID)
					return err == nil && b == 5_000_000
				})
				p := &phone{t: t, base: base, token: a.Config.USSDCallbackToken, number: n.phone}
				expect(t, register(t, p, "7391"), "Account ready", "5,000 sats were waiting")
			}
			rep, err := a.Wallet.Reconcile(ctx)
			if err != nil || !rep.OK() {
				t.Fatalf("reconcile: %+v %v", rep, err)
			}
		})
	}
}

// TestLNURLWalletCompat: what the common LNURL client libraries need. Both
// endpoints send Access-Control-Allow-Origin: * on answers and errors and
// answer the CORS preflight; every error is HTTP 200 with
// {"status":"ERROR","reason":…}; the payRequest offers LUD-12 comments, a
// too long one is refused, and one within the limit comes with the payment
// to the transaction and the receipt; the Transactions screen lists the
// paid invoice and one the user asked for, never the unpaid invoices
// anonymous payers asked for.
func TestLNURLWalletCompat(t *testing.T) {
	net := regtest.Start(t)
	for _, engine := range dbtest.Engines {
		t.Run(engine, func(t *testing.T) {
			ctx := context.Background()
			a := lightningApp(t, net, engine, nil)
			base := "http://" + a.Addr()
			alice := newPhone(t, a)
			register(t, alice, "7391")
			name := strings.TrimPrefix(alice.number, "+")

			for _, u := range []string{base + "/.well-known/lnurlp/" + name, base + "/lnurlp/" + name + "/callback"} {
				req, _ := http.NewRequest(http.MethodOptions, u, nil)
				req.Header.Set("Origin", "https://wallet.example")
				req.Header.Set("Access-Control-Request-Method", "GET")
				req.Header.Set("Access-Control-Request-Headers", "content-type")
				resp, err := http.DefaultClient.Do(req)
				if err != nil {
					t.Fatal(err)
				}
				resp.Body.Close()
				if resp.StatusCode != http.StatusNoContent || resp.Header.Get("Access-Control-Allow-Origin") != "*" ||
					!strings.Contains(resp.Header.Get("Access-Control-Allow-Methods"), "GET") || resp.Header.Get("Access-Control-Allow-Headers") == "" {
					t.Fatalf("preflight of %s: %d %v", u, resp.StatusCode, resp.Header)
				}
			}
			status, h, body := httpGet(t, "", base+"/.well-known/lnurlp/"+name)
			var pr lightning.PayRequest
			if err := json.Unmarshal([]byte(body), &pr); err != nil || status != http.StatusOK || h.Get("Access-Control-Allow-Origin") != "*" ||
				pr.CommentAllowed != lightning.CommentAllowed || !strings.Contains(body, `"commentAllowed":80`) {
				t.Fatalf("payRequest: %d %q %v", status, body, h)
			}
			for _, c := range []struct{ query, reason string }{
				{"amount=1", "Amount must be"}, {"amount=abc", "Amount must be"}, {"", "Amount must be"},
				{"amount=9000000000000", "Amount must be"},
				{"amount=7000000&comment=" + url.QueryEscape(strings.Repeat("é", lightning.CommentAllowed+1)), "longer than 80"},
				{"amount=7000000&comment=%FF", "not valid text"},
			} {
				status, h, body := httpGet(t, "", pr.Callback+"?"+c.query)
				var e struct{ Status, Reason string }
				if err := json.Unmarshal([]byte(body), &e); err != nil || status != http.StatusOK || e.Status != "ERROR" ||
					!strings.Contains(e.Reason, c.reason) || h.Get("Access-Control-Allow-Origin") != "*" || h.Get("Content-Type") != "application/json" {
					t.Fatalf("callback ?%s: %d %q %v", c.query, status, body, h)
				}
			}

			// Anonymous payers ask for five invoices and pay one, with a
			// comment; Alice asks for one herself.
			comment := strings.Repeat("x", lightning.CommentAllowed-17) + " asante 🐐 rafiki!"
			// What a receipt can carry: plain GSM-7, the emoji as "?".
			kept := strings.Repeat("x", lightning.CommentAllowed-17) + " asante ? rafiki!"
			var paid string
			for i := range 5 {
				q := "amount=7000000"
				if i == 2 {
					q += "&comment=" + url.QueryEscape(comment)
				}
				_, _, body := httpGet(t, "", pr.Callback+"?"+q)
				var cb struct{ PR string }
				if err := json.Unmarshal([]byte(body), &cb); err != nil || cb.PR == "" {
					t.Fatalf("callback %d: %q", i, body)
				}
				if i == 2 {
					paid = cb.PR
				}
			}
			alice.dial()
			alice.press("2")
			alice.press("2")
			expect(t, alice.press("3000"), "END An invoice for 3,000 sats")
			net.World.CLI("payinvoice", "--force", paid)
			u, err := a.Wallet.UserByPhone(ctx, alice.number)
			if err != nil {
				t.Fatal(err)
			}
			waitFor(t, "the address payment to be credited", func() bool {
				b, err := a.Wallet.Balance(ctx, u.ID)
				return err == nil && b == 7_000_000
			})
			hist, err := a.Wallet.History(ctx, u.ID, 0, 50)
			if err != nil || len(hist) != 2 {
				t.Fatalf("history: %+v %v", hist, err)
			}
			received, asked := hist[0], hist[1]
			if received.Status != store.StatusCompleted || received.AmountMsat != 7_000_000 || received.Description != kept ||
				asked.Status != store.StatusPending || asked.AmountMsat != 3_000_000 {
				t.Fatalf("history: %+v", hist)
			}
			err = a.DB.InTx(ctx, func(ctx context.Context, tx store.Tx) error {
				notes, err := tx.NotificationsOf(ctx, received.ID)
				if err == nil && (len(notes) != 1 || notes[0].Kind != store.NotifyReceived || notes[0].Body != kept) {
					t.Fatalf("receipt: %+v", notes)
				}
				return err
			})
			if err != nil {
				t.Fatal(err)
			}
			alice.dial()
			alice.press("4")
			screen := alice.press("7391")
			expect(t, screen, "+7,000 invoice", "+3,000 invoice(pend)")
			if strings.Count(screen, "\n") != 2 {
				t.Fatalf("the Transactions screen lists more than the two: %q", screen)
			}
		})
	}
}

// connectOurs is a client of the network's "ours" lnd, for looking at
// invoices as the node sees them.
func connectOurs(t *testing.T, net *regtest.Network) *lndnode.Node {
	t.Helper()
	node, err := lndnode.Connect(context.Background(), lndnode.Config{Address: net.Ours.RPC, TLSCertPath: net.Ours.TLSCertPath(),
		MacaroonPath: net.Ours.MacaroonPath(), Network: "regtest"})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { node.Close() })
	return node
}

// lightningApp runs the whole server against a fresh database of engine,
// with the regtest network's "ours" as its node, on a loopback port that is
// also its public domain (so that payRequests call back to it). Several
// servers can share one network: each credits only its own invoices.
func lightningApp(t *testing.T, net *regtest.Network, engine string, mutate func(*config.Config)) *app.App {
	t.Helper()
	return lightningAppLogged(t, net, engine, io.Discard, mutate)
}

// lightningAppLogged is lightningApp with the server's log written to logs.
func lightningAppLogged(t *testing.T, net *regtest.Network, engine string, logs io.Writer, mutate func(*config.Config)) *app.App {
	t.Helper()
	addr := fleet.FreeAddr(t)
	a := startAppLogged(t, engine, logs, func(c *config.Config) {
		c.ListenAddr, c.PublicDomain = addr, addr
		c.LNDAddress, c.LNDTLSCertPath, c.LNDMacaroonPath, c.LNDNetwork = net.Ours.RPC, net.Ours.TLSCertPath(), net.Ours.MacaroonPath(), "regtest"
		if mutate != nil {
			mutate(c)
		}
	})
	if err := a.WaitLightning(context.Background(), 30*time.Second); err != nil {
		t.Fatal(err)
	}
	return a
}

var (
	clientsMu sync.Mutex
	clients   = map[string]*http.Client{}
)

// httpGet fetches u from the loopback address from (127.0.0.x; empty: the
// default), as a client there would.
func httpGet(t *testing.T, from, u string) (int, http.Header, string) {
	t.Helper()
	clientsMu.Lock()
	c, ok := clients[from]
	if !ok {
		d := &stdnet.Dialer{Timeout: 10 * time.Second}
		if from != "" {
			d.LocalAddr = &stdnet.TCPAddr{IP: stdnet.ParseIP(from)}
		}
		c = &http.Client{Timeout: 30 * time.Second, Transport: &http.Transport{DialContext: d.DialContext}}
		clients[from] = c
	}
	clientsMu.Unlock()
	resp, err := c.Get(u)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	b, err := io.ReadAll(resp.Body)
	if err != nil {
		t.Fatal(err)
	}
	return resp.StatusCode, resp.Header, string(b)
}

func jsonText(t *testing.T, v any) string {
	t.Helper()
	b, err := json.Marshal(v)
	if err != nil {
		t.Fatal(err)
	}
	return string(b)
}

func waitFor(t *testing.T, what string, ok func() bool) {
	t.Helper()
	deadline := time.Now().Add(60 * time.Second)
	for !ok() {
		if time.Now().After(deadline) {
			t.Fatalf("timed out waiting for %s", what)
		}
		time.Sleep(50 * time.Millisecond)
	}
}
