package main

import (
	"bufio"
	"context"
	"io"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/umeme-wallet/umeme/internal/mpesa"
	"github.com/umeme-wallet/umeme/internal/mpesa/darajasim"
)

func TestMpesaSimCommand(t *testing.T) {
	cert := filepath.Join(t.TempDir(), "cert.pem")
	ctx, cancel := context.WithCancel(context.Background())
	pr, pw := io.Pipe()
	done := make(chan error, 1)
	go func() {
		done <- run(ctx, []string{"-listen", "127.0.0.1:0", "-cert", cert, "-stk", "1032/twice"}, pw)
		pw.Close()
	}()
	lines := bufio.NewScanner(pr)
	if !lines.Scan() {
		t.Fatalf("no output: %v", <-done)
	}
	go io.Copy(io.Discard, pr)
	first := lines.Text()
	base := strings.Fields(first)[2]
	if !strings.HasPrefix(base, "http://127.0.0.1:") {
		t.Fatalf("first line %q", first)
	}
	pem, err := os.ReadFile(cert)
	if err != nil {
		t.Fatal(err)
	}
	c, err := mpesa.New(mpesa.Config{BaseURL: base, ConsumerKey: "sim-key", ConsumerSecret: "sim-secret",
		B2CShortCode: "600000", InitiatorName: "simapi", InitiatorPassword: "sim-initiator", CertPEM: pem})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := c.B2C(ctx, mpesa.B2C{OriginatorConversationID: "x", Phone: "0712345678", AmountKES: 10, Remarks: "r",
		ResultURL: "http://127.0.0.1:1/r", QueueTimeOutURL: "http://127.0.0.1:1/t"}); err != nil {
		t.Fatalf("B2C through the command: %v", err)
	}
	resp, err := http.Get(base + "/sim/callbacks")
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		t.Errorf("control API: HTTP %d", resp.StatusCode)
	}
	cancel()
	select {
	case err := <-done:
		if err != nil {
			t.Fatal(err)
		}
	case <-time.After(10 * time.Second):
		t.Fatal("no shutdown within 10 s")
	}
}

func TestMpesaSimParseOutcome(t *testing.T) {
	for in, want := range map[string]darajasim.STKOutcome{
		"0": {}, "1032/late": {ResultCode: 1032, Delivery: darajasim.DeliverLate}, "manual": {Delivery: darajasim.DeliverManual},
		"0/queue-timeout": {Delivery: darajasim.DeliverQueueTimeout},
	} {
		code, del, err := parseOutcome(in)
		if err != nil || code != want.ResultCode || del != want.Delivery {
			t.Errorf("%q: %d %d %v", in, code, del, err)
		}
	}
	for _, bad := range []string{"", "x", "0/sometimes"} {
		if _, _, err := parseOutcome(bad); err == nil {
			t.Errorf("%q accepted", bad)
		}
	}
}
