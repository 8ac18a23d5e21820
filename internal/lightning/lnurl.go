package lightning

import (
	"context"
	"crypto/sha256"
	"encoding/json"
	"net/url"
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
		UserID: to.UserID, Phone: to.Phone, Origin: store.InvoiceByAddress, PayerComment: comment, AddressName: to.Name,
		Invoice: inv.PaymentRequest, PaymentHash: inv.PaymentHash, AmountMsat: amountMsat, Description: req.Memo,
		AddIndex: int64(inv.AddIndex), ExpiresAt: inv.ExpiresAt,
	})
	if err != nil {
		r.unrecorded(ctx, inv.PaymentHash)
		return "", err
	}
	r.capUnpaid(ctx, to.Phone, to.Name)
	return inv.PaymentRequest, nil
}
