package sms_test

import (
	"context"
	"log/slog"
	"strings"
	"testing"

	"github.com/umeme-wallet/umeme/internal/sms"
)

func TestSMSLogSender(t *testing.T) {
	logs := &lockedBuffer{}
	l := sms.NewLog(slog.New(slog.NewTextHandler(logs, nil)))
	invoice := "lnbc10u1pjq" + strings.Repeat("x", 300)
	for i, text := range []string{"Pay this invoice: " + invoice, "Received 500 KES"} {
		res, err := l.Send(context.Background(), sms.Message{To: alice, Text: text})
		if err != nil || !res.Sent || res.MessageID != []string{"log-1", "log-2"}[i] {
			t.Fatalf("send %d: %+v %v", i, res, err)
		}
	}
	out := logs.String()
	for _, bad := range []string{alice, invoice[:60]} {
		if strings.Contains(out, bad) {
			t.Errorf("log holds %q:\n%s", bad, out)
		}
	}
	for _, good := range []string{"*********333", "Pay this invoice:", "bytes=329", "Received 500 KES", "id=log-2"} {
		if !strings.Contains(out, good) {
			t.Errorf("log lacks %q:\n%s", good, out)
		}
	}
	if _, err := l.Send(context.Background(), sms.Message{To: "0711222333", Text: "x"}); !sms.Permanent(err) {
		t.Errorf("a national number: %v, want permanent", err)
	}
	if res, _ := l.Send(context.Background(), sms.Message{To: alice, Text: "x"}); res.MessageID != "log-3" {
		t.Errorf("id after a refusal: %q", res.MessageID)
	}
}
