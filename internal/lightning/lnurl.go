package lightning

import (
	"context"
	"crypto/sha256"
	"encoding/json"
	"net/url"
	"strings"

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
}

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
	}
}

// InvoiceForAddress issues the invoice an LNURL callback answers: for the
// user named, of exactly amount msat, committing to the address's metadata.
func (r *Receiver) InvoiceForAddress(ctx context.Context, user wallet.User, domain string, amountMsat int64) (string, error) {
	meta := sha256.Sum256([]byte(Metadata(user.LightningName, domain)))
	inv, err := r.issue(ctx, user.ID, InvoiceRequest{AmountMsat: amountMsat, DescriptionHash: meta[:],
		Memo: "Lightning Address payment"}, false)
	if err != nil {
		return "", err
	}
	return inv.Invoice, nil
}
