package world

import (
	"encoding/json"
	"fmt"
	"net/http"
	"strings"

	"github.com/umeme-wallet/umeme/internal/sms"
)

// maxBody bounds a request body of the JSON API.
const maxBody = 64 << 10

// writeJSON answers v as JSON.
func writeJSON(w http.ResponseWriter, status int, v any) {
	w.Header().Set("Content-Type", "application/json")
	w.Header().Set("Cache-Control", "no-store")
	w.WriteHeader(status)
	json.NewEncoder(w).Encode(v) //nolint:errcheck // the page is gone
}

// writeError answers the API's error shape: {"error": "text"}.
func writeError(w http.ResponseWriter, status int, text string) {
	writeJSON(w, status, map[string]string{"error": text})
}

// readJSON decodes a request's JSON body into v, answering 400 itself
// when it cannot.
func readJSON(w http.ResponseWriter, r *http.Request, v any) bool {
	if err := json.NewDecoder(http.MaxBytesReader(w, r.Body, maxBody)).Decode(v); err != nil {
		writeError(w, http.StatusBadRequest, fmt.Sprintf("bad JSON body: %v", err))
		return false
	}
	return true
}

// phone reads a phone number from a body or a path, E.164 with its +
// (a number without it, 2547…, is read as if it had one). It answers 400
// itself when it cannot.
func phone(w http.ResponseWriter, p string) (string, bool) {
	p = strings.TrimSpace(p)
	if p != "" && p[0] != '+' {
		p = "+" + p
	}
	if !sms.IsE164(p) {
		writeError(w, http.StatusBadRequest, fmt.Sprintf("%q is not a phone number like +254700000001", p))
		return "", false
	}
	return p, true
}
