package lightning

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/url"
	"regexp"
	"strconv"
	"strings"
	"time"

	"github.com/umeme-wallet/umeme/internal/store"
	"github.com/umeme-wallet/umeme/internal/wallet"
)

// A Lightning Address (LUD-16 over LUD-06 pay): name@domain resolves at
// https://domain/.well-known/lnurlp/name to a payRequest whose callback
// issues an invoice for an amount, with the sha256 of the exact metadata
// string as its description hash.

// PayRequest is the LUD-06 payRequest answer.
type PayRequest struct {
	Tag         string `json:"tag"`
	Callback    string `json:"callback"`
	MinSendable int64  `json:"minSendable"`
	MaxSendable int64  `json:"maxSendable"`
	Metadata    string `json:"metadata"`
	// CommentAllowed is how many characters of a comment the callback
	// takes (LUD-12); 0 or absent: none.
	CommentAllowed int `json:"commentAllowed,omitempty"`
}

// CommentAllowed is how many characters of a payer's comment (LUD-12) our
// addresses take. The comment reaches the payee in the receipt SMS beside
// the amount; 80 leaves room for both in one 160-character message.
const CommentAllowed = 80

// lnurlError is LNURL's error answer.
type lnurlError struct {
	Status string `json:"status"`
	Reason string `json:"reason"`
}

// Metadata is the metadata string of a user's address: a JSON array,
// serialised once, whose sha256 the invoice commits to.
func Metadata(name, domain string) string {
	b, _ := json.Marshal([][2]string{{"text/plain", "Pay " + name + "@" + domain + " on Umeme"}, {"text/identifier", name + "@" + domain}})
	return string(b)
}

// PayRequestFor is the payRequest of a user's address; baseURL is the
// public URL of the server (https://domain).
func (r *Receiver) PayRequestFor(name, domain, baseURL string) PayRequest {
	cfg := r.Wallet.Config()
	return PayRequest{
		Tag: "payRequest", Callback: strings.TrimRight(baseURL, "/") + "/lnurlp/" + url.PathEscape(name) + "/callback",
		MinSendable: cfg.MinAmountMsat, MaxSendable: cfg.MaxAmountMsat, Metadata: Metadata(name, domain),
		CommentAllowed: CommentAllowed,
	}
}

// InvoiceForAddress issues the invoice an LNURL callback answers: for whom
// the address pays, of exactly amount msat, committing to the metadata of
// the name the payer used, payable for AddressExpiry, with the payer's
// comment kept beside it. Only the per-payment bounds apply (they are in
// the payRequest): refusing on the balance cap would tell any stranger
// that the number has an account and roughly what it holds, and money
// that arrives is credited whatever the cap. The number's address invoices
// beyond MaxUnpaid are then cancelled, oldest first.
func (r *Receiver) InvoiceForAddress(ctx context.Context, to wallet.AddressRecipient, domain string, amountMsat int64, comment string) (string, error) {
	if err := r.Wallet.CheckAmount(amountMsat); err != nil {
		return "", err
	}
	meta := sha256.Sum256([]byte(Metadata(to.Name, domain)))
	req := InvoiceRequest{AmountMsat: amountMsat, DescriptionHash: meta[:], Memo: "Lightning Address payment", Expiry: r.AddressExpiry}
	if req.Expiry <= 0 {
		req.Expiry = 10 * time.Minute
	}
	inv, err := r.Node.CreateInvoice(ctx, req)
	if err != nil {
		return "", err
	}
	_, err = r.Wallet.CreateInvoice(ctx, wallet.NewInvoice{
		UserID: to.UserID, Phone: to.Phone, Origin: store.InvoiceByAddress, PayerComment: comment,
		Invoice: inv.PaymentRequest, PaymentHash: inv.PaymentHash, AmountMsat: amountMsat, Description: req.Memo,
		AddIndex: int64(inv.AddIndex), ExpiresAt: inv.ExpiresAt,
	})
	if err != nil {
		r.unrecorded(ctx, inv.PaymentHash)
		return "", err
	}
	r.capUnpaid(ctx, to.Phone)
	return inv.PaymentRequest, nil
}

// LNURLClient resolves other people's Lightning Addresses into invoices,
// checking everything a paying wallet must.
type LNURLClient struct {
	HTTP *http.Client
	Node Node
}

var addressRE = regexp.MustCompile(`^[a-z0-9\-_.]+@[a-zA-Z0-9\-.]+(:[0-9]+)?$`)

// ErrAddress is a Lightning Address that could not be used.
var ErrAddress = errors.New("lightning address")

// FetchInvoice resolves address for amount msat: it fetches the payRequest,
// checks the tag and limits, asks the callback for an invoice, and checks
// that the invoice is for exactly that amount and commits to the metadata.
// Plain http is used only for loopback hosts.
func (c *LNURLClient) FetchInvoice(ctx context.Context, address string, amountMsat int64) (string, error) {
	if !addressRE.MatchString(address) {
		return "", fmt.Errorf("%w: %q is not name@domain", ErrAddress, address)
	}
	name, host, _ := strings.Cut(address, "@")
	scheme := "https"
	if isLoopback(host) {
		scheme = "http"
	}
	var pr PayRequest
	if err := c.getJSON(ctx, scheme+"://"+host+"/.well-known/lnurlp/"+name, &pr); err != nil {
		return "", err
	}
	if pr.Tag != "payRequest" {
		return "", fmt.Errorf("%w: tag %q", ErrAddress, pr.Tag)
	}
	if amountMsat < pr.MinSendable || amountMsat > pr.MaxSendable {
		return "", fmt.Errorf("%w: amount %d msat outside %d-%d", ErrAddress, amountMsat, pr.MinSendable, pr.MaxSendable)
	}
	cb, err := url.Parse(pr.Callback)
	if err != nil || (cb.Scheme != "https" && !(cb.Scheme == "http" && isLoopback(cb.Host))) {
		return "", fmt.Errorf("%w: callback %q", ErrAddress, pr.Callback)
	}
	q := cb.Query()
	q.Set("amount", strconv.FormatInt(amountMsat, 10))
	cb.RawQuery = q.Encode()
	var inv struct {
		PR string `json:"pr"`
	}
	if err := c.getJSON(ctx, cb.String(), &inv); err != nil {
		return "", err
	}
	dec, err := c.Node.DecodeInvoice(ctx, inv.PR)
	if err != nil {
		return "", err
	}
	if dec.AmountMsat != amountMsat {
		return "", fmt.Errorf("%w: the invoice is for %d msat, not %d", ErrAddress, dec.AmountMsat, amountMsat)
	}
	want := sha256.Sum256([]byte(pr.Metadata))
	if dec.DescriptionHash != hex.EncodeToString(want[:]) {
		return "", fmt.Errorf("%w: the invoice does not commit to the metadata", ErrAddress)
	}
	return inv.PR, nil
}

func (c *LNURLClient) getJSON(ctx context.Context, u string, v any) error {
	ctx, cancel := context.WithTimeout(ctx, 10*time.Second)
	defer cancel()
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, u, nil)
	if err != nil {
		return fmt.Errorf("%w: %v", ErrAddress, err)
	}
	hc := c.HTTP
	if hc == nil {
		hc = http.DefaultClient
	}
	resp, err := hc.Do(req)
	if err != nil {
		return fmt.Errorf("%w: %v", ErrAddress, err)
	}
	defer resp.Body.Close()
	body, err := io.ReadAll(io.LimitReader(resp.Body, 1<<20))
	if err != nil {
		return fmt.Errorf("%w: %v", ErrAddress, err)
	}
	var le lnurlError
	if json.Unmarshal(body, &le) == nil && le.Status == "ERROR" {
		return fmt.Errorf("%w: %s", ErrAddress, le.Reason)
	}
	if resp.StatusCode != http.StatusOK {
		return fmt.Errorf("%w: status %d", ErrAddress, resp.StatusCode)
	}
	if err := json.Unmarshal(body, v); err != nil {
		return fmt.Errorf("%w: %v", ErrAddress, err)
	}
	return nil
}

// isLoopback reports whether host (maybe with a port) is this machine.
func isLoopback(host string) bool {
	if h, _, err := net.SplitHostPort(host); err == nil {
		host = h
	}
	if host == "localhost" {
		return true
	}
	ip := net.ParseIP(host)
	return ip != nil && ip.IsLoopback()
}
