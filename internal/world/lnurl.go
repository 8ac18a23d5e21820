package world

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"net"
	"net/http"
	"net/url"
	"strconv"
	"strings"
	"time"
)

// The world pays a Lightning Address as any wallet does (LUD-16, LUD-06):
// the payRequest from https://host/.well-known/lnurlp/name (http for a
// loopback host, as the server in development serves it), an invoice from
// its callback for the amount, checked for that amount and for committing
// to the metadata, then paid.

// lnurlTimeout bounds each LNURL request.
const lnurlTimeout = 10 * time.Second

// payRequest is the first LNURL answer.
type payRequest struct {
	Tag         string `json:"tag"`
	Callback    string `json:"callback"`
	MinSendable int64  `json:"minSendable"`
	MaxSendable int64  `json:"maxSendable"`
	Metadata    string `json:"metadata"`
}

// addressInvoice resolves address (name@host[:port]) into an invoice of
// msat, checked as a paying wallet must.
func (w *World) addressInvoice(ctx context.Context, address string, msat int64) (string, error) {
	name, host, ok := strings.Cut(strings.TrimSpace(address), "@")
	if !ok || name == "" || host == "" || strings.ContainsAny(name, "/?#") || strings.ContainsAny(host, "/?#@") {
		return "", fmt.Errorf("%q is not a Lightning Address (name@host)", address)
	}
	scheme := "https"
	if loopback(host) {
		scheme = "http"
	}
	var pr payRequest
	if err := w.lnurlGet(ctx, scheme+"://"+host+"/.well-known/lnurlp/"+url.PathEscape(name), &pr); err != nil {
		return "", err
	}
	if pr.Tag != "payRequest" {
		return "", fmt.Errorf("the address answered tag %q, not payRequest", pr.Tag)
	}
	if msat < pr.MinSendable || msat > pr.MaxSendable {
		return "", fmt.Errorf("the address takes %d to %d sats", (pr.MinSendable+999)/1000, pr.MaxSendable/1000)
	}
	cb, err := url.Parse(pr.Callback)
	if err != nil || cb.Host == "" || (cb.Scheme != "https" && !(cb.Scheme == "http" && loopback(cb.Host))) {
		return "", fmt.Errorf("the address's callback %q is not https", pr.Callback)
	}
	q := cb.Query()
	q.Set("amount", strconv.FormatInt(msat, 10))
	cb.RawQuery = q.Encode()
	var inv struct {
		PR string `json:"pr"`
	}
	if err := w.lnurlGet(ctx, cb.String(), &inv); err != nil {
		return "", err
	}
	d, err := w.cfg.Node.decode(ctx, inv.PR)
	if err != nil {
		return "", err
	}
	if d.AmountMsat != msat {
		return "", fmt.Errorf("the address's invoice is for %d msat, not %d", d.AmountMsat, msat)
	}
	if sum := sha256.Sum256([]byte(pr.Metadata)); d.DescriptionHash != hex.EncodeToString(sum[:]) {
		return "", errors.New("the address's invoice does not commit to its metadata")
	}
	return inv.PR, nil
}

// lnurlGet fetches an LNURL answer into v; {"status":"ERROR"} is an
// error with its reason.
func (w *World) lnurlGet(ctx context.Context, u string, v any) error {
	ctx, cancel := context.WithTimeout(ctx, lnurlTimeout)
	defer cancel()
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, u, nil)
	if err != nil {
		return err
	}
	req.Header.Set("Accept", "application/json")
	resp, err := w.hc.Do(req)
	if err != nil {
		return err
	}
	defer resp.Body.Close()
	b, err := readLimited(resp.Body, maxBody)
	if err != nil {
		return err
	}
	var status struct {
		Status string `json:"status"`
		Reason string `json:"reason"`
	}
	if json.Unmarshal(b, &status) == nil && strings.EqualFold(status.Status, "ERROR") {
		return fmt.Errorf("the address answered: %s", status.Reason)
	}
	if resp.StatusCode != http.StatusOK {
		return fmt.Errorf("the address answered %s", resp.Status)
	}
	if err := json.Unmarshal(b, v); err != nil {
		return fmt.Errorf("the address's answer: %w", err)
	}
	return nil
}

// loopback reports whether host (maybe with a port) is this machine.
func loopback(host string) bool {
	if h, _, err := net.SplitHostPort(host); err == nil {
		host = h
	}
	if strings.EqualFold(host, "localhost") {
		return true
	}
	ip := net.ParseIP(host)
	return ip != nil && ip.IsLoopback()
}
