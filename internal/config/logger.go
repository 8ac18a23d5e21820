package config

import (
	"fmt"
	"io"
	"log/slog"
)

// NewLogger makes the server's logger from LOG_FORMAT: "json" writes one
// JSON object a line (log/slog's JSONHandler), "text" or empty slog's
// key=value lines. It is read apart from the rest of the settings, so
// that the errors of those are logged in the chosen format too.
func NewLogger(w io.Writer, format string) (*slog.Logger, error) {
	switch format {
	case "", "text":
		return slog.New(slog.NewTextHandler(w, nil)), nil
	case "json":
		return slog.New(slog.NewJSONHandler(w, nil)), nil
	}
	return slog.New(slog.NewTextHandler(w, nil)), fmt.Errorf("LOG_FORMAT: %q is neither json nor text", format)
}
