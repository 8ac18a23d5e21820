package world_test

import (
	"encoding/hex"
	"encoding/json"
	"fmt"
	"net/http"
	"net/url"
	"os"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/umeme-wallet/umeme/internal/config"
	"github.com/umeme-wallet/umeme/internal/metrics/metricstest"
	"github.com/umeme-wallet/umeme/internal/mpesa/darajasim"
	"github.com/umeme-wallet/umeme/internal/regtest"
)

// TestMetricsAndJSONLogsEndToEnd: the server logs with LOG_FORMAT=json
// through a whole journey on the regtest network and the simulators: A
// and B register with their PINs, A buys with M-Pesa, sends to B, B is
// paid at its Lightning Address, A pays an invoice texted in (approved
// with the PIN), B sells to M-Pesa. Then every line of the whole log is
// JSON; no PIN, callback token, API key, Daraja secret, PIN pepper, lnd
// macaroon or full phone number appears anywhere; every hop has its line
// (session, masked phone, screen, outcome, latency) and every money event
// its transaction id. /metrics, scraped after, shows the journey's money,
// hops and a watcher caught up with the node.
func TestMetricsAndJSONLogsEndToEnd(t *testing.T) {
	n := regtest.Start(t)
	// PINs that no timestamp, hash or amount of the log can hold by
	// chance as a whole word.
	const pinA, pinB = "739146", "582093"
	secrets := map[string]string{
		"USSD_CALLBACK_TOKEN": ussdToken, "SMS_CALLBACK_TOKEN": smsToken, "AT_API_KEY": atKey,
		"MPESA_CALLBACK_TOKEN": "log-test-daraja-callback-token-5d1c", "MPESA_CONSUMER_KEY": "log-test-consumer-key-0a9e",
		"MPESA_CONSUMER_SECRET": "log-test-consumer-secret-77f3", "MPESA_PASSKEY": "log-test-passkey-b41d",
		"MPESA_INITIATOR_PASSWORD": "log-test-initiator-password-c2e8", "PIN_PEPPER": "log-test-pin-pepper-91aa",
	}
	daraja := darajasim.Config{ConsumerKey: secrets["MPESA_CONSUMER_KEY"], ConsumerSecret: secrets["MPESA_CONSUMER_SECRET"],
		ShortCode: "174379", PassKey: secrets["MPESA_PASSKEY"], B2CShortCode: "600000", InitiatorName: "umeme-api",
		InitiatorPassword: secrets["MPESA_INITIATOR_PASSWORD"]}
	mac, err := os.ReadFile(n.Ours.MacaroonPath())
	if err != nil {
		t.Fatal(err)
	}
	secrets["lnd macaroon"] = hex.EncodeToString(mac)

	t.Setenv("LOG_FORMAT", "json")
	out := &logBuffer{whole: true}
	log, err := config.NewLogger(out, os.Getenv("LOG_FORMAT"))
	if err != nil {
		t.Fatal(err)
	}
	e := startWorldWith(t, "sqlite", n, worldOptions{serverLog: log, daraja: &daraja, mutate: func(c *config.Config) {
		c.Mpesa.CallbackToken = secrets["MPESA_CALLBACK_TOKEN"]
		c.PINPepper = secrets["PIN_PEPPER"]
		c.MetricsAddr = "127.0.0.1:0"
	}})
	e.waitReady()

	// Register, buy with M-Pesa, send to B, who registers.
	e.register(phoneA, pinA)
	bought := e.buy(phoneA, "500")
	expect(t, e.ussd(phoneA, menuItem(t, e.ussd(phoneA, ""), "Send")), "1. To a phone number")
	expect(t, e.ussd(phoneA, "1"), "Send to phone number")
	expect(t, e.ussd(phoneA, "0"+strings.TrimPrefix(phoneB, "+254")), "Amount in sats")
	expect(t, e.ussd(phoneA, "1000"), "Send 1,000 sats to", "1. Confirm")
	expect(t, e.ussd(phoneA, "1"), "Enter your PIN")
	expect(t, e.ussd(phoneA, pinA), "Sent 1,000 sats")
	e.register(phoneB, pinB)

	// B is paid at its Lightning Address.
	e.payAddress(phoneB, 2000, 3000)

	// A pays an invoice of the world's, texted in, approved with the PIN.
	var made struct {
		Invoice string `json:"invoice"`
	}
	e.call(http.MethodPost, "/api/world/invoice", map[string]any{"sats": 1500, "memo": "coffee"}, http.StatusOK, &made)
	e.call(http.MethodPost, "/api/phones/"+url.PathEscape(phoneA)+"/sms", map[string]string{"text": made.Invoice}, http.StatusOK, nil)
	eventually(t, 30*time.Second, func() (bool, string) {
		for _, m := range e.phone(phoneA).SMS {
			if strings.Contains(m.Text, "to approve paying 1,500 sats") {
				return true, ""
			}
		}
		return false, "no text asking A to approve the invoice"
	})
	expect(t, e.ussd(phoneA, ""), "Pay 1,500 sats to node ", "1. Pay")
	expect(t, e.ussd(phoneA, "1"), "Enter your PIN")
	expect(t, e.ussd(phoneA, pinA), "1,500 sats to node ")
	eventually(t, 30*time.Second, func() (bool, string) {
		ws := e.world()
		return len(ws.Invoices) == 1 && ws.Invoices[0].State == "SETTLED", fmt.Sprintf("the world's invoices %+v", ws.Invoices)
	})

	// B sells to M-Pesa.
	expect(t, e.ussd(phoneB, menuItem(t, e.ussd(phoneB, ""), "Sell to M-Pesa")), "Amount in KES")
	expect(t, e.ussd(phoneB, "100"), "Get KES 100 on M-Pesa for ", "1. Confirm")
	expect(t, e.ussd(phoneB, "1"), "Enter your PIN")
	expect(t, e.ussd(phoneB, pinB), "KES 100 is on its way")
	eventually(t, 30*time.Second, func() (bool, string) {
		for _, m := range e.phone(phoneB).Mpesa {
			if strings.Contains(m.Text, "You have received Ksh100.00 from Umeme") {
				return true, ""
			}
		}
		return false, "no M-Pesa text on B about the sale"
	})
	eventually(t, 30*time.Second, func() (bool, string) {
		op := e.world().Operator
		return op.Reconcile.OK, op.Reconcile.Text
	})

	// The metrics, scraped over HTTP: the journey's money and hops, and the
	// invoice watcher caught up with the node.
	var m metricstest.Families
	eventually(t, 30*time.Second, func() (bool, string) {
		m = metricstest.Scrape(t, "http://"+e.app.MetricsAddr()+"/metrics")
		lag, ok := m.Sum("umeme_lightning_invoice_watcher_lag")
		return ok && lag == 0 && m.Value("umeme_metrics_source_up", "source", "lightning") == 1, fmt.Sprintf("watcher lag %v (present %v)", lag, ok)
	})
	for _, c := range []struct {
		kind string
		min  float64
	}{
		{"mpesa_in", float64(bought) * 1000}, {"transfer", 1_000_000}, {"lightning_in", 2_000_000},
		{"lightning_out", 1_500_000}, {"mpesa_out", 1}, {"fee", 1}, {"hold", 1}, {"release", 1},
	} {
		if v := m.Value("umeme_money_moved_msat_total", "kind", c.kind); v < c.min {
			t.Errorf("money moved %s: %v msat, want at least %v", c.kind, v, c.min)
		}
	}
	if v := m.Value("umeme_ussd_hops_total"); v != float64(e.hops) {
		t.Errorf("hops counted %v, sent %d", v, e.hops)
	}
	if v := m.Value("umeme_rate_age_seconds"); !m.Has("umeme_rate_age_seconds") || v < 0 {
		t.Errorf("rate age %v (present %v)", v, m.Has("umeme_rate_age_seconds"))
	}
	t.Logf("/metrics after the journey (the interesting lines):\n%s", strings.Join(m.Lines("umeme_money_moved_msat_total", "umeme_transactions_total",
		"umeme_pending_*", "umeme_outbox_*", "umeme_user_liabilities_msat", "umeme_system_account_balance_msat", "umeme_lightning_*",
		"umeme_rate_age_seconds", "umeme_db_pool_connections", "umeme_store_retries_total", "umeme_ussd_hop_deadline_misses_total",
		"umeme_metrics_source_up"), "\n"))

	problems, summary := logProblems(out.String(), e.hops, []string{pinA, pinB}, secrets)
	t.Log(summary)
	for _, p := range problems {
		t.Error(p)
	}
}

// logProblems reads a whole JSON log: every line an object; no PIN as a
// word, no secret, no full phone number anywhere; a line per hop with its
// fields; each money event with a transaction id, of every type the
// journey made. It returns what is wrong, and a summary.
func logProblems(log string, hops int, pins []string, secrets map[string]string) (problems []string, summary string) {
	bad := func(format string, args ...any) { problems = append(problems, fmt.Sprintf(format, args...)) }
	around := func(i, j int) string { return log[max(0, i-200):min(len(log), j+50)] }
	for _, pin := range pins {
		if loc := regexp.MustCompile(`(^|[^0-9A-Za-z])` + pin + `([^0-9A-Za-z]|$)`).FindStringIndex(log); loc != nil {
			bad("a PIN is in the log: …%s…", around(loc[0], loc[1]))
		}
	}
	for name, s := range secrets {
		if i := strings.Index(log, s); i >= 0 {
			bad("%s is in the log: …%s…", name, around(i, i+len(s)))
		}
	}
	for _, p := range []string{phoneA, phoneB, strings.TrimPrefix(phoneA, "+"), strings.TrimPrefix(phoneB, "+"),
		"0" + strings.TrimPrefix(phoneA, "+254"), "0" + strings.TrimPrefix(phoneB, "+254")} {
		if i := strings.Index(log, p); i >= 0 {
			bad("a phone number unmasked in the log: …%s…", around(i, i+len(p)))
		}
	}
	if strings.Contains(log, "Bearer ") {
		bad("an Authorization header is in the log")
	}

	lines := strings.Split(strings.TrimRight(log, "\n"), "\n")
	hopLines := 0
	types := map[string]int{}
	for i, line := range lines {
		var rec map[string]any
		if err := json.Unmarshal([]byte(line), &rec); err != nil {
			bad("line %d is not JSON (%v): %s", i+1, err, line)
			continue
		}
		for _, k := range []string{"time", "level", "msg"} {
			if _, ok := rec[k]; !ok {
				bad("line %d has no %s: %s", i+1, k, line)
			}
		}
		switch rec["msg"] {
		case "ussd hop":
			hopLines++
			session, _ := rec["session"].(string)
			phone, _ := rec["phone"].(string)
			screen, _ := rec["screen"].(string)
			outcome, _ := rec["outcome"].(string)
			ms, isNum := rec["ms"].(float64)
			if session == "" || !strings.Contains(phone, "*") || screen == "" || outcome == "" || !isNum || ms < 0 {
				bad("hop line %d lacks a field: %s", i+1, line)
			}
		case "money":
			id, _ := rec["transaction"].(float64)
			typ, _ := rec["type"].(string)
			if id <= 0 || typ == "" || rec["status"] == nil || rec["amount_msat"] == nil {
				bad("money line %d lacks a field: %s", i+1, line)
			}
			types[typ]++
		}
	}
	if hopLines != hops {
		bad("%d hop lines for %d hops", hopLines, hops)
	}
	for _, typ := range []string{"topup", "send", "invoice", "payment", "withdraw"} {
		if types[typ] == 0 {
			bad("no money event of type %s in the log (%v)", typ, types)
		}
	}
	return problems, fmt.Sprintf("%d JSON lines, %d hop lines, money events by type %v", len(lines), hopLines, types)
}

// Test_logProblems: the log check of the end-to-end test fails a log
// that leaks a PIN in a hop's text, a token in a URL, a full number, that
// is not JSON, or that lacks a hop's line or a kind of money event.
func Test_logProblems(t *testing.T) {
	hop := `{"time":"2026-12-06T17:30:00.739146Z","level":"INFO","msg":"ussd hop","session":"ATUid_1","phone":"**********001","screen":"main","outcome":"continue","ms":1.5}`
	money := func(typ string) string {
		return `{"time":"t","level":"INFO","msg":"money","transaction":7,"type":"` + typ + `","status":"completed","amount_msat":1000,"hash":"ab739146cd"}`
	}
	clean := strings.Join([]string{hop, money("topup"), money("send"), money("invoice"), money("payment"), money("withdraw")}, "\n") + "\n"
	secrets := map[string]string{"USSD_CALLBACK_TOKEN": "a-token-of-the-test"}
	if problems, _ := logProblems(clean, 1, []string{"739146"}, secrets); len(problems) != 0 {
		t.Fatalf("a clean log (the PIN's digits only inside a time and a hash) found wanting: %q", problems)
	}
	for name, c := range map[string]struct {
		log  string
		hops int
	}{
		"a PIN in a hop's text":  {clean + `{"time":"t","level":"INFO","msg":"x","text":"1*739146"}` + "\n", 1},
		"a token in a URL":       {clean + `{"time":"t","level":"WARN","msg":"x","url":"/ussd?token=a-token-of-the-test"}` + "\n", 1},
		"a full number":          {clean + `{"time":"t","level":"INFO","msg":"x","to":"` + phoneA + `"}` + "\n", 1},
		"a text line":            {clean + "time=t level=INFO msg=x\n", 1},
		"a hop without its line": {clean, 2},
		"no withdrawal":          {strings.Replace(clean, `"type":"withdraw"`, `"type":"adjustment"`, 1), 1},
	} {
		if problems, _ := logProblems(c.log, c.hops, []string{"739146"}, secrets); len(problems) == 0 {
			t.Errorf("%s: not found", name)
		}
	}
}
