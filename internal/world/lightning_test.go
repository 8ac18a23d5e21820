package world_test

import (
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"strings"
	"testing"
	"time"

	"github.com/umeme-wallet/umeme/internal/regtest"
)

// TestWorldLightning: on the regtest network, the world node shows its
// balances; it pays a user's Lightning Address (LNURL-pay against the
// server) and an invoice of the server's; it makes an invoice that decodes
// as asked; each shows in the log, the user's balance and reconcile; an
// unknown address and a bad invoice are refused with their reason.
func TestWorldLightning(t *testing.T) {
	n := regtest.Start(t)
	e := startWorld(t, "sqlite", n)
	e.waitReady()
	ws := e.world()
	if ws.Node == nil || ws.Node.Error != "" || ws.Node.ChannelSats < 1_000_000 || len(ws.Node.Pubkey) != 66 || ws.Node.Alias != "world" {
		t.Fatalf("world node %+v", ws.Node)
	}
	channel := ws.Node.ChannelSats

	e.register(phoneA, pinA)
	digits := strings.TrimPrefix(phoneA, "+")
	host := strings.TrimPrefix(e.server, "http://")
	e.payAddress(phoneA, 1000, 1000)
	var paid worldPaid

	// An invoice of the server's, as a payer's wallet would get it.
	var pr struct {
		Callback string `json:"callback"`
	}
	getJSON(t, e.server+"/.well-known/lnurlp/"+digits, &pr)
	var inv struct {
		PR string `json:"pr"`
	}
	getJSON(t, pr.Callback+"?amount=2000000", &inv)
	e.call(http.MethodPost, "/api/world/pay", map[string]string{"invoice": "lightning:" + inv.PR}, http.StatusOK, &paid)
	if paid.Status != "SUCCEEDED" {
		t.Fatalf("paying the invoice: %+v", paid)
	}
	eventually(t, 20*time.Second, func() (bool, string) {
		b := e.world().balance(phoneA)
		return b == 3000, fmt.Sprintf("A holds %d sats", b)
	})

	var made struct {
		Invoice string `json:"invoice"`
	}
	e.call(http.MethodPost, "/api/world/invoice", map[string]any{"sats": 1500, "memo": "coffee"}, http.StatusOK, &made)
	var dec struct {
		NumSatoshis string `json:"num_satoshis"`
		Description string `json:"description"`
	}
	if err := json.Unmarshal(n.Ours.CLI("decodepayreq", made.Invoice), &dec); err != nil || dec.NumSatoshis != "1500" || dec.Description != "coffee" {
		t.Fatalf("the world's invoice %q decodes as %+v (%v)", made.Invoice, dec, err)
	}

	var refused struct {
		Error string `json:"error"`
	}
	e.call(http.MethodPost, "/api/world/pay", map[string]any{"address": "nobody@" + host, "sats": 1000}, http.StatusBadGateway, &refused)
	if !strings.Contains(refused.Error, "Unknown Lightning Address") {
		t.Fatalf("an unknown address: %q", refused.Error)
	}
	e.call(http.MethodPost, "/api/world/pay", map[string]string{"invoice": "lnbcrt1notaninvoice"}, http.StatusBadRequest, nil)
	e.call(http.MethodPost, "/api/world/pay", map[string]any{"address": digits + "@" + host, "sats": 0}, http.StatusBadRequest, nil)

	ws = e.world()
	var log []string
	for _, r := range ws.Recent {
		log = append(log, r.What)
	}
	want := []string{"world paid " + digits + "@" + host + " (1,000 sats)", "world paid lnbcrt20u", "world made an invoice of 1,500 sats (coffee)"}
	if len(log) < 3 || !strings.HasPrefix(log[0], want[0]) || !strings.HasPrefix(log[1], want[1]) || log[2] != want[2] {
		t.Fatalf("the world's log %q, want %q", log, want)
	}
	if ws.Node.ChannelSats != channel-3000 || !ws.Operator.Reconcile.OK || ws.Operator.LiabilitiesSats != 3000 || ws.Operator.SystemAccounts["lightning"] != -3000 {
		t.Fatalf("after paying 3,000 sats: node %+v, operator %+v", ws.Node, ws.Operator)
	}

	// The world's invoice waits until someone pays it (here the server's
	// node, behind its ledger's back: the last thing this test does), and
	// then shows paid, once, in the log too.
	if len(ws.Invoices) != 1 || ws.Invoices[0].Invoice != made.Invoice || ws.Invoices[0].State != "OPEN" || ws.Invoices[0].Sats != 1500 || ws.Invoices[0].Memo != "coffee" {
		t.Fatalf("the world's invoices before payment: %+v", ws.Invoices)
	}
	n.Ours.CLI("payinvoice", "--pay_req", made.Invoice, "--force")
	eventually(t, 20*time.Second, func() (bool, string) {
		ws = e.world()
		return len(ws.Invoices) == 1 && ws.Invoices[0].State == "SETTLED", fmt.Sprintf("the world's invoices %+v", ws.Invoices)
	})
	paidNotes := 0
	for _, r := range e.world().Recent {
		if r.What == "world was paid 1,500 sats (coffee)" {
			paidNotes++
		}
	}
	if paidNotes != 1 {
		t.Fatalf("the world's log noted the payment %d times: %+v", paidNotes, e.world().Recent)
	}
}

// getJSON fetches u (an LNURL endpoint) into v.
func getJSON(t *testing.T, u string, v any) {
	t.Helper()
	if _, err := url.Parse(u); err != nil {
		t.Fatal(err)
	}
	resp, err := http.Get(u)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	if err := json.Unmarshal(b, v); err != nil {
		t.Fatalf("%s: %v in %s", u, err, b)
	}
}
