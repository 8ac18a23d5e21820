package sms

import (
	"context"
	"log/slog"
	"strconv"
	"strings"
	"sync/atomic"

	"github.com/umeme-wallet/umeme/internal/redact"
)

// Log is the development Sender: it sends nothing and logs that it would
// have, showing the masked number, the text's length and its first words
// (an invoice is long and the rest adds nothing to a log). It refuses
// what AT would refuse before sending, so mistakes show in development.
type Log struct {
	log *slog.Logger
	n   atomic.Int64
}

var _ Sender = (*Log)(nil)

// NewLog returns a Log writing to l (slog.Default() when nil).
func NewLog(l *slog.Logger) *Log {
	if l == nil {
		l = slog.Default()
	}
	return &Log{log: l}
}

// logPreviewWords and logPreviewBytes bound what of a text is logged.
const (
	logPreviewWords = 4
	logPreviewBytes = 40
)

// Send logs m and returns a synthetic id, log-1, log-2, ...
func (l *Log) Send(ctx context.Context, m Message) (Result, error) {
	if err := validate(m); err != nil {
		return Result{}, err
	}
	id := "log-" + strconv.FormatInt(l.n.Add(1), 10)
	l.log.InfoContext(ctx, "sms: not sent (log sender)", "id", id, "to", redact.Phone(m.To),
		"bytes", len(m.Text), "start", preview(m.Text))
	return Result{Sent: true, MessageID: id, StatusCode: StatusSent, Status: StatusName(StatusSent)}, nil
}

// preview is the first few words of a text, cut to a few dozen bytes.
func preview(text string) string {
	words := strings.Fields(text)
	more := len(words) > logPreviewWords
	if more {
		words = words[:logPreviewWords]
	}
	p := strings.Join(words, " ")
	if len(p) > logPreviewBytes {
		p = clipBytes(p, logPreviewBytes)
		more = true
	}
	if more {
		p += "..."
	}
	return p
}
