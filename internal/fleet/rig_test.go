package fleet_test

import (
	"context"
	"crypto/sha256"
	"database/sql"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"net/http"
	"net/http/httptest"
	"net/url"
	"os"
	"path/filepath"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/umeme-wallet/umeme/internal/dbtest"
	"github.com/umeme-wallet/umeme/internal/fleet"
	"github.com/umeme-wallet/umeme/internal/mpesa/darajasim"
	"github.com/umeme-wallet/umeme/internal/regtest"
	"github.com/umeme-wallet/umeme/internal/world"
)

func TestMain(m *testing.M) { os.Exit(regtest.RunShared(m)) }

const (
	ussdToken  = "fleet-test-ussd-token-0123456789"
	smsToken   = "fleet-test-sms-token-0123456789"
	mpesaToken = "fleet-test-daraja-token-0123456789"
	atKey      = "fleet-test-at-key"
	pin        = "7391"
)

var darajaAccount = darajasim.Config{ConsumerKey: "k", ConsumerSecret: "s", ShortCode: "174379", PassKey: "p",
	B2CShortCode: "600000", InitiatorName: "i", InitiatorPassword: "ip"}

// soak reports whether SOAK=1 asks for the long form.
func soak() bool { return os.Getenv("SOAK") == "1" }

// rig is N server processes on one fresh database of an engine, wired
// as production wires them: the regtest network's "ours" lnd, Daraja and
// Africa's Talking's SMS API (the simulators of internal/world, in this
// process), every background job on. The simulators call back through a
// round-robin proxy, which is also the domain of the users' Lightning
// Addresses; the USSD gateway sends the hops of a session to the servers
// in turn.
type rig struct {
	t      *testing.T
	engine string
	dbURL  string
	net    *regtest.Network
	w      *world.World
	sim    string // the simulators' root URL
	proxy  string // the servers' one URL for the simulators' callbacks
	domain string // the proxy's host:port
	fleet  *fleet.Fleet
	gw     *fleet.Gateway
	payee  *payee
	db     *sql.DB
}

func newRig(t *testing.T, bin, engine string, n int, extra map[string]string) *rig {
	t.Helper()
	r := &rig{t: t, engine: engine, net: regtest.Shared(t), dbURL: dbtest.URL(t, engine)}
	r.fleet = fleet.New(t, bin, n, nil, nil)
	daraja := darajaAccount
	daraja.LateDelay = time.Second
	proxy := r.fleet.Proxy(t)
	r.proxy, r.domain = proxy.URL, strings.TrimPrefix(proxy.URL, "http://")
	w, err := world.New(world.Config{ServerURL: proxy.URL, USSDToken: ussdToken, SMSToken: smsToken,
		ATUsername: "umeme", ATAPIKey: atKey, Daraja: daraja, USSDTimeout: 30 * time.Second,
		Node: &world.Node{LNCLI: filepath.Join(regtest.BinDir(), "lncli"), Dir: r.net.World.Dir, RPC: r.net.World.RPC, Network: "regtest"}})
	if err != nil {
		t.Fatal(err)
	}
	// M-Pesa's customers approve every prompt a moment later: one
	// callback each, after Daraja's answer to the push.
	w.Daraja().SetSTKDefault(darajasim.STKOutcome{Delivery: darajasim.DeliverLate})
	sim := httptest.NewServer(w.Handler())
	t.Cleanup(func() { sim.Close(); w.Close() })
	r.w, r.sim = w, sim.URL
	cert := filepath.Join(t.TempDir(), "daraja.pem")
	if err := os.WriteFile(cert, w.Daraja().CertPEM(), 0o600); err != nil {
		t.Fatal(err)
	}
	r.payee = newPayee(t, r.net.World)
	env := map[string]string{
		"APP_ENV": "development", "DATABASE_URL": r.dbURL, "PUBLIC_DOMAIN": r.domain, "PIN_PEPPER": "fleet-test-pepper",
		"USSD_CALLBACK_TOKEN": ussdToken, "USSD_HOPS_PER_MINUTE": "0", "USSD_PINS_PER_MINUTE": "0", "USSD_HOP_TIMEOUT": "10s",
		"KES_PER_BTC": "13000000",
		"LND_ADDRESS": r.net.Ours.RPC, "LND_TLS_CERT_PATH": r.net.Ours.TLSCertPath(), "LND_MACAROON_PATH": r.net.Ours.MacaroonPath(), "LND_NETWORK": "regtest",
		"MPESA_BASE_URL": sim.URL + "/daraja", "MPESA_CONSUMER_KEY": darajaAccount.ConsumerKey, "MPESA_CONSUMER_SECRET": darajaAccount.ConsumerSecret,
		"MPESA_SHORTCODE": darajaAccount.ShortCode, "MPESA_PASSKEY": darajaAccount.PassKey, "MPESA_B2C_SHORTCODE": darajaAccount.B2CShortCode,
		"MPESA_INITIATOR_NAME": darajaAccount.InitiatorName, "MPESA_INITIATOR_PASSWORD": darajaAccount.InitiatorPassword,
		"MPESA_CERT_PATH": cert, "MPESA_CALLBACK_URL": proxy.URL, "MPESA_CALLBACK_TOKEN": mpesaToken, "MPESA_QUERY_AFTER": "3s",
		"AT_SMS_URL": sim.URL, "AT_USERNAME": "umeme", "AT_API_KEY": atKey, "SMS_CALLBACK_TOKEN": smsToken, "SMS_POLL": "200ms",
		"CLEANUP_EVERY": "2s",
		// The rig credits users far beyond the regtest node's channel; a
		// declared float (about 77 BTC at the rate above) keeps the
		// liabilities watchdog running on every server without pausing
		// the payouts this suite drives (the watchdog has its own test).
		"MPESA_FLOAT_KES": "1000000000",
		// What the environment says of these would not match the rig.
		"RATES_SOURCES": "", "USSD_ALLOWED_IPS": "", "MPESA_ALLOWED_IPS": "", "TRUSTED_PROXIES": "", "LISTEN_ADDR": "",
	}
	for k, v := range extra {
		env[k] = v
	}
	for k, v := range env {
		r.fleet.Setenv(k, v)
	}
	r.net.WaitRoutable()
	r.fleet.StartAll()
	r.gw = fleet.NewGateway(r.fleet.URLs(), ussdToken)
	r.db = dbtest.RawDB(t, r.dbURL)
	t.Cleanup(func() { r.db.Close() })
	return r
}

// phones are n fresh Kenyan numbers of this rig.
func (r *rig) phones(n int) []string {
	base := 710_000_000 + int(time.Now().UnixNano()%80_000_000)
	out := make([]string, n)
	for i := range out {
		out[i] = fmt.Sprintf("+254%09d", base+i*7)
	}
	return out
}

// flow is a USSD session a journey walks screen by screen.
type flow struct {
	ctx    context.Context
	s      *fleet.Session
	screen string
	err    error
	hops   int
}

func (r *rig) dial(ctx context.Context, phone string) *flow {
	s, body, err := r.gw.Dial(ctx, phone)
	return &flow{ctx: ctx, s: s, screen: body, err: err, hops: 1}
}

// ok reports whether the session is open on a screen holding want.
func (f *flow) ok(want string) bool {
	return f.err == nil && strings.HasPrefix(f.screen, "CON ") && strings.Contains(f.screen, want)
}

// press answers the screen with input.
func (f *flow) press(input string) *flow {
	if f.err != nil {
		return f
	}
	f.screen, f.err = f.s.Answer(f.ctx, input)
	f.hops++
	return f
}

// item is the number of a menu item on the screen, "" when absent.
func (f *flow) item(label string) string {
	m := regexp.MustCompile(`(\d+)\. ` + regexp.QuoteMeta(label)).FindStringSubmatch(f.screen)
	if m == nil {
		return ""
	}
	return m[1]
}

// outcome is what the load generator saw of an operation.
type outcome string

const (
	acked   outcome = "acknowledged" // the screen said it was done (or under way)
	refused outcome = "refused"      // a final screen that did not
	aborted outcome = "aborted"      // cut before the hop that moves money: nothing may have moved
	unknown outcome = "unknown"      // the hop that moves money got no answer
)

// op is one operation of the load.
type op struct {
	kind    string // transfer, ln-out, ln-in, buy, sell
	phone   string
	session string // its USSD session ("" for ln-in)
	out     outcome
	screen  string
	hash    string // ln-in: the paid invoice's hash, when known
}

// money walks a journey whose last step moves money: every step must
// find its screen, and the answer to the last is judged by success.
func (r *rig) money(ctx context.Context, kind, phone string, steps []step, success ...string) op {
	f := r.dial(ctx, phone)
	o := op{kind: kind, phone: phone, session: f.s.ID}
	for _, st := range steps {
		in := st.input
		if st.menu != "" {
			in = f.item(st.menu)
		}
		if !f.ok(st.want) || in == "" {
			o.out, o.screen = aborted, f.screen
			if f.err != nil {
				o.screen = f.err.Error()
			}
			return o
		}
		f.press(in)
	}
	o.screen = f.screen
	switch {
	case f.err != nil:
		o.out, o.screen = unknown, f.err.Error()
	case strings.Contains(f.screen, "the service is busy"):
		// The hop's deadline passed: what it did is unknown.
		o.out = unknown
	default:
		o.out = refused
		for _, s := range success {
			if strings.HasPrefix(f.screen, "END ") && strings.Contains(f.screen, s) {
				o.out = acked
			}
		}
	}
	return o
}

// step is one screen of a journey and the answer to it: input, or the
// number of the menu item labelled menu.
type step struct{ want, input, menu string }

func (r *rig) transfer(ctx context.Context, from, to string, sats int64) op {
	return r.money(ctx, "transfer", from, []step{
		{want: "Umeme", menu: "Send"}, {want: "To a phone number", input: "1"}, {want: "Send to phone number:", input: "0" + to[4:]},
		{want: "Amount in sats:", input: strconv.FormatInt(sats, 10)}, {want: "1. Confirm", input: "1"}, {want: "Enter your PIN:", input: pin},
	}, "Sent ")
}

func (r *rig) payAddress(ctx context.Context, from string, sats int64) op {
	return r.money(ctx, "ln-out", from, []step{
		{want: "Umeme", menu: "Send"}, {want: "To a Lightning Address", menu: "To a Lightning Address"},
		{want: "Lightning Address", input: r.payee.address}, {want: "Amount in sats:", input: strconv.FormatInt(sats, 10)},
		{want: "1. Confirm", input: "1"}, {want: "Enter your PIN:", input: pin},
	}, "Paying ", "Paid ")
}

func (r *rig) buy(ctx context.Context, phone string, kes int) op {
	return r.money(ctx, "buy", phone, []step{
		{want: "Umeme", menu: "Buy with M-Pesa"}, {want: "Amount in KES", input: strconv.Itoa(kes)}, {want: "1. Confirm", input: "1"},
	}, "Check your phone")
}

func (r *rig) sell(ctx context.Context, phone string, kes int) op {
	return r.money(ctx, "sell", phone, []step{
		{want: "Umeme", menu: "Sell to M-Pesa"}, {want: "Amount in KES", input: strconv.Itoa(kes)}, {want: "1. Confirm", input: "1"},
		{want: "Enter your PIN:", input: pin},
	}, "is on its way")
}

// payIn has the world node pay the user's Lightning Address (through the
// proxy): acknowledged when the world's payment succeeded.
func (r *rig) payIn(ctx context.Context, phone string, sats int64) op {
	o := op{kind: "ln-in", phone: phone}
	body := fmt.Sprintf(`{"address":%q,"sats":%d}`, strings.TrimPrefix(phone, "+")+"@"+r.domain, sats)
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, r.sim+"/api/world/pay", strings.NewReader(body))
	if err != nil {
		r.t.Fatal(err)
	}
	req.Header.Set("Content-Type", "application/json")
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		o.out, o.screen = unknown, err.Error()
		return o
	}
	defer resp.Body.Close()
	var ans struct {
		Status string `json:"status"`
		Error  string `json:"error"`
	}
	json.NewDecoder(resp.Body).Decode(&ans) //nolint:errcheck // judged by the status
	switch {
	case resp.StatusCode == http.StatusOK && ans.Status == "SUCCEEDED":
		o.out = acked
	case strings.Contains(ans.Error, "payment ") || strings.Contains(ans.Error, "lncli"):
		// The invoice was had and the payment did not succeed, or its
		// outcome is not known to us.
		o.out, o.screen = unknown, ans.Error
	default:
		o.out, o.screen = refused, ans.Error
	}
	return o
}

// register creates phone's wallet over USSD, failing the test unless it
// is done.
func (r *rig) register(ctx context.Context, phone string) *fleet.Session {
	r.t.Helper()
	f := r.dial(ctx, phone)
	for _, st := range []struct{ want, in string }{{"1. Create account", "1"}, {"Choose a PIN", pin}, {"again", pin}} {
		if !f.ok(st.want) {
			r.t.Fatalf("registering %s: screen %q (%v), want %q", phone, f.screen, f.err, st.want)
		}
		f.press(st.in)
	}
	if f.err != nil || !strings.HasPrefix(f.screen, "END Account ready.") {
		r.t.Fatalf("registering %s: %q (%v)", phone, f.screen, f.err)
	}
	return f.s
}

// credit books an operator's credit with the server binary.
func (r *rig) credit(phone string, sats int64) {
	r.t.Helper()
	out, code, err := r.fleet.Run("admin", "credit", "--phone", phone, "--sats", strconv.FormatInt(sats, 10), "--reason", "float")
	if err != nil || code != 0 {
		r.t.Fatalf("admin credit: exit %d %v\n%s", code, err, out)
	}
}

// reconcile runs `server reconcile` and returns its report; the test
// fails unless the books balance.
func (r *rig) reconcile() string {
	r.t.Helper()
	out, code, err := r.fleet.Run("reconcile")
	if err != nil || code != 0 || !strings.Contains(out, "books balance") {
		r.t.Errorf("reconcile: exit %d %v\n%s", code, err, out)
		return out + "\nVIOLATIONS"
	}
	return out
}

// txn is one row of transactions.
type txn struct {
	id                  int64
	typ, status, key    string
	amount, fee         int64
	hash, checkout, oid string
	mphone              string // the M-Pesa request's number and shillings
	kes                 int64
}

// txns reads every transaction, with its M-Pesa request's ids.
func (r *rig) txns() []txn {
	r.t.Helper()
	rows, err := r.db.Query(`SELECT t.id, t.type, t.status, t.amount_msat, t.fee_msat, t.idempotency_key, COALESCE(t.payment_hash, ''),
		COALESCE(m.checkout_request_id, ''), COALESCE(m.originator_conversation_id, ''), COALESCE(m.phone, ''), COALESCE(m.amount_kes, 0)
		FROM transactions t LEFT JOIN mpesa_requests m ON m.transaction_id = t.id ORDER BY t.id`)
	if err != nil {
		r.t.Fatal(err)
	}
	defer rows.Close()
	var out []txn
	for rows.Next() {
		var x txn
		if err := rows.Scan(&x.id, &x.typ, &x.status, &x.amount, &x.fee, &x.key, &x.hash, &x.checkout, &x.oid, &x.mphone, &x.kes); err != nil {
			r.t.Fatal(err)
		}
		out = append(out, x)
	}
	if err := rows.Err(); err != nil {
		r.t.Fatal(err)
	}
	return out
}

// balances are the users' balances by phone.
func (r *rig) balances() map[string]int64 {
	r.t.Helper()
	rows, err := r.db.Query(`SELECT u.phone, a.balance_msat FROM accounts a JOIN users u ON u.id = a.user_id WHERE a.kind = 'user'`)
	if err != nil {
		r.t.Fatal(err)
	}
	defer rows.Close()
	out := map[string]int64{}
	for rows.Next() {
		var p string
		var b int64
		if err := rows.Scan(&p, &b); err != nil {
			r.t.Fatal(err)
		}
		out[p] = b
	}
	return out
}

// count runs a COUNT(*) query.
func (r *rig) count(query string) int {
	r.t.Helper()
	var n int
	if err := r.db.QueryRow(query).Scan(&n); err != nil {
		r.t.Fatalf("%s: %v", query, err)
	}
	return n
}

// settle waits until nothing is pending that the servers can finish: no
// payment in flight, no top-up whose push Daraja acknowledged, no
// withdrawal Daraja received, and (when texts) every text sent. A top-up
// whose push's answer was lost has nothing to ask Daraja about, and a
// withdrawal cut before its payment was sent is not found by Daraja:
// both stay pending (unknown) for an operator, and are returned.
func (r *rig) settle(within time.Duration, texts bool) (unknown []txn) {
	r.t.Helper()
	deadline := time.Now().Add(within)
	for {
		sent := r.b2cSent()
		var open []string
		unknown = nil
		for _, x := range r.txns() {
			switch {
			case x.status != "pending" || x.typ == "invoice" || x.typ == "send":
			case x.typ == "topup" && x.checkout == "", x.typ == "withdraw" && !sent[x.oid]:
				unknown = append(unknown, x)
			default:
				open = append(open, fmt.Sprintf("%+v", x))
			}
		}
		unsent := 0
		if texts {
			unsent = r.count(`SELECT COUNT(*) FROM notifications WHERE status = 'pending'`)
		}
		if len(open) == 0 && unsent == 0 {
			return unknown
		}
		if time.Now().After(deadline) {
			r.t.Errorf("after %s still %d operations pending and %d texts unsent:\n%s", within, len(open), unsent, strings.Join(open, "\n"))
			return unknown
		}
		time.Sleep(500 * time.Millisecond)
	}
}

// b2cSent are the OriginatorConversationIDs of the B2C payments Daraja
// received.
func (r *rig) b2cSent() map[string]bool {
	out := map[string]bool{}
	for _, q := range r.w.Daraja().Requests() {
		var b struct{ OriginatorConversationID string }
		if strings.HasSuffix(q.Path, "/b2c/v3/paymentrequest") && json.Unmarshal(q.Body, &b) == nil {
			out[b.OriginatorConversationID] = true
		}
	}
	return out
}

// byKeyPrefix counts the transactions of a type whose key starts with
// the session's.
func byKeyPrefix(all []txn, typ, session string) []txn {
	var out []txn
	for _, x := range all {
		if x.typ == typ && strings.HasPrefix(x.key, "ussd:"+session+":") {
			out = append(out, x)
		}
	}
	return out
}

// txnType is the type of the transaction each kind of operation books.
var txnType = map[string]string{"transfer": "send", "ln-out": "payment", "buy": "topup", "sell": "withdraw"}

// checkOps checks each USSD operation against the books: an acknowledged
// one booked exactly once, a refused or aborted one holding no money (a
// failed row of a refused request moves none), an unknown one at most
// once. It returns the violations.
func checkOps(all []txn, ops []op) []string {
	var v []string
	for _, o := range ops {
		typ, ok := txnType[o.kind]
		if !ok {
			continue
		}
		rows := byKeyPrefix(all, typ, o.session)
		live := 0
		for _, x := range rows {
			if x.status == "pending" || x.status == "completed" {
				live++
			}
		}
		switch {
		case len(rows) > 1:
			v = append(v, fmt.Sprintf("%s of session %s (%s) booked %d times", o.kind, o.session, o.out, len(rows)))
		case o.out == acked && len(rows) != 1:
			v = append(v, fmt.Sprintf("%s of session %s acknowledged (%q) but not booked", o.kind, o.session, o.screen))
		case (o.out == refused || o.out == aborted) && live != 0:
			v = append(v, fmt.Sprintf("%s of session %s %s (%q) but booked %+v", o.kind, o.session, o.out, o.screen, rows[0]))
		}
	}
	return v
}

// payments are a node's payments (lncli listpayments with args) by hash:
// the status of each.
func (r *rig) payments(node *regtest.LND, args ...string) map[string][]string {
	r.t.Helper()
	var list struct {
		Payments []struct {
			Hash   string `json:"payment_hash"`
			Status string `json:"status"`
		} `json:"payments"`
	}
	node.CLIJSON(&list, append([]string{"listpayments", "--max_payments", "100000"}, args...)...)
	out := map[string][]string{}
	for _, p := range list.Payments {
		out[p.Hash] = append(out[p.Hash], p.Status)
	}
	return out
}

// checkLightning checks both directions against the nodes' records: a
// payment out booked completed iff our node paid it, never two attempts of
// one hash, each of the payee's invoices paid at most once; every invoice
// of ours the world paid credited exactly once, and nothing credited that
// the world did not pay.
func (r *rig) checkLightning(all []txn) []string {
	var v []string
	lnd := r.payments(r.net.Ours, "--include_incomplete")
	issued := r.payee.issued()
	for _, x := range all {
		if x.typ != "payment" {
			continue
		}
		st := lnd[x.hash]
		succeeded := len(st) == 1 && st[0] == "SUCCEEDED"
		switch {
		case len(st) > 1:
			v = append(v, fmt.Sprintf("payment %d (%s): our node paid the hash %d times", x.id, x.hash, len(st)))
		case x.status == "completed" && !succeeded:
			v = append(v, fmt.Sprintf("payment %d (%s) booked completed, our node says %v", x.id, x.hash, st))
		case x.status != "completed" && succeeded:
			v = append(v, fmt.Sprintf("payment %d (%s) booked %s, but our node paid it", x.id, x.hash, x.status))
		}
		if issued[x.hash] == 0 {
			v = append(v, fmt.Sprintf("payment %d (%s) of an invoice the payee never issued", x.id, x.hash))
		}
	}
	paid := map[string]bool{}
	for h, st := range r.payments(r.net.World) {
		paid[h] = slices.Contains(st, "SUCCEEDED")
	}
	credited := map[string]int{}
	for _, x := range all {
		if x.typ == "invoice" && x.status == "completed" {
			credited[x.hash]++
		}
	}
	ours := map[string]bool{}
	rows, err := r.db.Query(`SELECT payment_hash FROM invoices`)
	if err != nil {
		r.t.Fatal(err)
	}
	defer rows.Close()
	for rows.Next() {
		var h string
		if err := rows.Scan(&h); err != nil {
			r.t.Fatal(err)
		}
		ours[h] = true
	}
	for h := range ours {
		if paid[h] && credited[h] != 1 {
			v = append(v, fmt.Sprintf("invoice %s paid by the world, credited %d times", h, credited[h]))
		}
		if !paid[h] && credited[h] != 0 {
			v = append(v, fmt.Sprintf("invoice %s never paid by the world, credited %d times", h, credited[h]))
		}
	}
	return v
}

// checkMpesa checks the ledger against what Daraja did: every push M-Pesa
// collected credited once, or still pending as unknown (its answer and
// its callback both lost: no server ever learnt its id), and none credited
// that it did not; every payment out M-Pesa made completed in the books,
// none refunded. It returns the violations and the collected pushes left
// unknown.
func (r *rig) checkMpesa(all []txn) (v, unknowns []string) {
	type push struct {
		phone string
		kes   int64
	}
	collected, paidOut := map[string]push{}, map[string]bool{}
	delivery := map[string]string{} // checkout → how its callback was answered
	for _, cb := range r.w.Daraja().Callbacks() {
		switch cb.Kind {
		case "stk":
			var b struct {
				Body struct {
					StkCallback struct {
						CheckoutRequestID string
						ResultCode        int
						CallbackMetadata  struct {
							Item []struct {
								Name  string
								Value json.RawMessage // a number, a string, or none
							}
						}
					} `json:"stkCallback"`
				}
			}
			if json.Unmarshal(cb.Body, &b) != nil || b.Body.StkCallback.ResultCode != 0 {
				continue
			}
			var p push
			for _, it := range b.Body.StkCallback.CallbackMetadata.Item {
				switch it.Name {
				case "Amount":
					p.kes, _ = strconv.ParseInt(string(it.Value), 10, 64)
				case "PhoneNumber":
					p.phone = string(it.Value)
				}
			}
			collected[b.Body.StkCallback.CheckoutRequestID] = p
			delivery[b.Body.StkCallback.CheckoutRequestID] = fmt.Sprintf("callback answered %d %s", cb.Status, cb.Err)
		case "b2c-result":
			var b struct {
				Result struct {
					OriginatorConversationID string
					ResultCode               int
				}
			}
			if json.Unmarshal(cb.Body, &b) == nil && b.Result.ResultCode == 0 {
				paidOut[b.Result.OriginatorConversationID] = true
			}
		}
	}
	topups, withdrawals := map[string]txn{}, map[string]txn{}
	unacknowledged := map[push]int{}
	for _, x := range all {
		switch {
		case x.typ == "topup" && x.checkout != "":
			topups[x.checkout] = x
		case x.typ == "topup" && x.status == "pending":
			unacknowledged[push{strings.TrimPrefix(x.mphone, "+"), x.kes}]++
		case x.typ == "topup" && x.status == "completed":
			v = append(v, fmt.Sprintf("top-up %d completed without a checkout id", x.id))
		case x.typ == "withdraw" && x.oid != "":
			withdrawals[x.oid] = x
		}
	}
	for id, p := range collected {
		x, ok := topups[id]
		switch {
		case ok && x.status == "completed":
		case !ok && unacknowledged[p] > 0:
			unacknowledged[p]--
			unknowns = append(unknowns, fmt.Sprintf("M-Pesa collected checkout %s (KES %d from %s; %s); its top-up is pending without it", id, p.kes, p.phone, delivery[id]))
		default:
			v = append(v, fmt.Sprintf("M-Pesa collected checkout %s (KES %d from %s); the books have %+v", id, p.kes, p.phone, x))
		}
	}
	for id, x := range topups {
		if x.status == "completed" {
			if _, ok := collected[id]; !ok {
				v = append(v, fmt.Sprintf("top-up %d credited, M-Pesa never collected checkout %s", x.id, id))
			}
		}
	}
	for id := range paidOut {
		if x, ok := withdrawals[id]; !ok || x.status != "completed" {
			v = append(v, fmt.Sprintf("M-Pesa paid out %s; the books have %+v", id, x))
		}
	}
	for id, x := range withdrawals {
		if x.status == "completed" && !paidOut[id] {
			v = append(v, fmt.Sprintf("withdrawal %d completed, M-Pesa never paid %s", x.id, id))
		}
	}
	return v, unknowns
}

// darajaCalls counts the requests Daraja accepted on a path.
func (r *rig) darajaCalls(path string) int {
	n := 0
	for _, q := range r.w.Daraja().Requests() {
		if strings.HasSuffix(q.Path, path) && q.Status == http.StatusOK {
			n++
		}
	}
	return n
}

// checkNegative reports negative user balances.
func checkNegative(bal map[string]int64) []string {
	var v []string
	for p, b := range bal {
		if b < 0 {
			v = append(v, fmt.Sprintf("%s holds %d msat", p, b))
		}
	}
	return v
}

// payee is a Lightning Address of the world node ("world@host:port",
// LUD-16 over loopback http), served by the test: its invoices are the
// world node's, made for the amount and the metadata's hash.
type payee struct {
	address string
	node    *regtest.LND

	mu     sync.Mutex
	hashes map[string]int // payment hash → invoices issued for it
}

const payeeMetadata = `[["text/plain","the world"]]`

func newPayee(t *testing.T, node *regtest.LND) *payee {
	p := &payee{node: node, hashes: map[string]int{}}
	mux := http.NewServeMux()
	var base string
	mux.HandleFunc("GET /.well-known/lnurlp/world", func(w http.ResponseWriter, _ *http.Request) {
		w.Header().Set("Content-Type", "application/json")
		json.NewEncoder(w).Encode(map[string]any{"tag": "payRequest", "callback": base + "/lnurlp/world/callback", //nolint:errcheck
			"minSendable": 1000, "maxSendable": 100_000_000_000, "metadata": payeeMetadata})
	})
	mux.HandleFunc("GET /lnurlp/world/callback", func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Type", "application/json")
		msat, err := strconv.ParseInt(r.URL.Query().Get("amount"), 10, 64)
		if err != nil || msat < 1000 {
			json.NewEncoder(w).Encode(map[string]string{"status": "ERROR", "reason": "amount"}) //nolint:errcheck
			return
		}
		sum := sha256.Sum256([]byte(payeeMetadata))
		out, err := node.TryCLI("addinvoice", "--amt_msat", strconv.FormatInt(msat, 10), "--description_hash", hex.EncodeToString(sum[:]))
		var inv struct {
			PaymentRequest string `json:"payment_request"`
			Hash           string `json:"r_hash"`
		}
		if err == nil {
			err = json.Unmarshal(out, &inv)
		}
		if err != nil {
			json.NewEncoder(w).Encode(map[string]string{"status": "ERROR", "reason": "no invoice"}) //nolint:errcheck
			return
		}
		p.mu.Lock()
		p.hashes[inv.Hash]++
		p.mu.Unlock()
		json.NewEncoder(w).Encode(map[string]any{"pr": inv.PaymentRequest, "routes": []any{}}) //nolint:errcheck
	})
	srv := httptest.NewServer(mux)
	t.Cleanup(srv.Close)
	base = srv.URL
	u, _ := url.Parse(srv.URL)
	p.address = "world@" + u.Host
	return p
}

// add counts an invoice of the world node made for the payee by other
// means (texted in by a user).
func (p *payee) add(hash string) {
	p.mu.Lock()
	defer p.mu.Unlock()
	p.hashes[hash]++
}

func (p *payee) issued() map[string]int {
	p.mu.Lock()
	defer p.mu.Unlock()
	out := map[string]int{}
	for h, n := range p.hashes {
		out[h] = n
	}
	return out
}

// tally counts operations by kind and outcome.
func tally(ops []op) string {
	counts := map[string]map[outcome]int{}
	var kinds []string
	for _, o := range ops {
		if counts[o.kind] == nil {
			counts[o.kind] = map[outcome]int{}
			kinds = append(kinds, o.kind)
		}
		counts[o.kind][o.out]++
	}
	var b strings.Builder
	for _, k := range kinds {
		c := counts[k]
		fmt.Fprintf(&b, "%s: %d acknowledged, %d refused, %d aborted, %d unknown; ", k, c[acked], c[refused], c[aborted], c[unknown])
	}
	return strings.TrimSuffix(b.String(), "; ")
}
