package world

import (
	"context"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"strings"
	"time"

	"github.com/umeme-wallet/umeme/internal/wallet"
)

// smsItem is one text the server sent a phone, as its inbox shows it.
type smsItem struct {
	ID   string    `json:"id"`
	From string    `json:"from"`
	Text string    `json:"text"`
	At   time.Time `json:"at"`
	// Status is the latest delivery report's ("Success", "Failed", …), or
	// "Sent" while none was posted.
	Status string `json:"status"`
}

// stkPrompt is the M-Pesa prompt on a phone's screen.
type stkPrompt struct {
	ID        string `json:"id"`
	AmountKES int64  `json:"amountKES"`
	Account   string `json:"account"`
	Text      string `json:"text"`
}

// apiPhone answers GET /api/phones/{phone}: the phone's inbox, its pending
// STK prompt and M-Pesa's texts.
func (w *World) apiPhone(rw http.ResponseWriter, r *http.Request) {
	p, ok := phone(rw, r.PathValue("phone"))
	if !ok {
		return
	}
	var stk *stkPrompt
	for _, pr := range w.daraja.Prompts() {
		if "+"+pr.Phone == p {
			stk = &stkPrompt{ID: pr.CheckoutRequestID, AmountKES: pr.AmountKES, Account: pr.AccountReference,
				Text: fmt.Sprintf("Enter M-Pesa PIN to pay KES %d to %s", pr.AmountKES, w.cfg.Business)}
			break // one prompt per phone at a time (Daraja locks the subscriber)
		}
	}
	writeJSON(rw, http.StatusOK, map[string]any{"sms": w.inbox(p), "stk": stk, "mpesa": w.mpesaTexts(p)})
}

// inbox is every text the server sent to p through the SMS API, oldest
// first, each with its latest delivery status.
func (w *World) inbox(p string) []smsItem {
	status := map[string]string{}
	for _, rep := range w.sms.Reports() {
		status[rep.MessageID] = rep.Status
	}
	items := []smsItem{}
	for _, m := range w.sms.Messages() {
		if m.To != p {
			continue
		}
		from := m.From
		if from == "" {
			from = w.cfg.Business
		}
		st := status[m.ID]
		if st == "" {
			st = "Sent"
		}
		items = append(items, smsItem{ID: m.ID, From: from, Text: m.Text, At: m.At.UTC(), Status: st})
	}
	return items
}

// apiPhoneSMS answers POST /api/phones/{phone}/sms {"text"}: the phone
// texts the service's number, and the simulator posts Africa's Talking's
// incoming-message form to the server.
func (w *World) apiPhoneSMS(rw http.ResponseWriter, r *http.Request) {
	p, ok := phone(rw, r.PathValue("phone"))
	if !ok {
		return
	}
	var req struct {
		Text string `json:"text"`
	}
	if !readJSON(rw, r, &req) {
		return
	}
	if strings.TrimSpace(req.Text) == "" || len(req.Text) > 1600 {
		writeError(rw, http.StatusBadRequest, "a text is 1 to 1600 characters")
		return
	}
	if w.cfg.SMSToken == "" {
		writeError(rw, http.StatusServiceUnavailable, "the server takes no texts (no SMS_CALLBACK_TOKEN)")
		return
	}
	w.saw(p)
	ctx, cancel := context.WithTimeout(r.Context(), w.cfg.USSDTimeout)
	defer cancel()
	var id string
	ctx = context.WithValue(ctx, inboundIDKey{}, &id)
	resp, err := w.sms.SendInbound(ctx, w.cfg.ServerURL+"/sms/"+url.PathEscape(w.cfg.SMSToken)+"/inbound", p, w.cfg.ServiceNumber, req.Text)
	if err != nil {
		w.cfg.Log.Warn("inbound text not delivered", "phone", wallet.MaskPhone(p), "err", err)
		writeError(rw, http.StatusBadGateway, "the server did not answer: "+err.Error())
		return
	}
	io.Copy(io.Discard, io.LimitReader(resp.Body, 4<<10)) //nolint:errcheck
	resp.Body.Close()
	if resp.StatusCode < 200 || resp.StatusCode > 299 {
		writeError(rw, http.StatusBadGateway, "the server answered "+resp.Status)
		return
	}
	writeJSON(rw, http.StatusOK, map[string]any{"ok": true, "id": id})
}

// inboundIDKey carries where idCatcher writes the id of an inbound text.
type inboundIDKey struct{}

// idCatcher is the SMS simulator's transport: it notes the "id" field of
// a form it posts when the request's context asks for it (SendInbound
// makes the id and does not return it).
type idCatcher struct{ next http.RoundTripper }

func (c idCatcher) RoundTrip(r *http.Request) (*http.Response, error) {
	if dst, ok := r.Context().Value(inboundIDKey{}).(*string); ok && r.GetBody != nil {
		if body, err := r.GetBody(); err == nil {
			b, _ := io.ReadAll(io.LimitReader(body, maxBody))
			body.Close()
			if form, err := url.ParseQuery(string(b)); err == nil {
				*dst = form.Get("id")
			}
		}
	}
	return c.next.RoundTrip(r)
}

// apiSTK answers POST /api/stk/{id} {"action"}: the person at the phone
// approves the prompt, cancels it, types a wrong PIN, or lets it lapse.
func (w *World) apiSTK(rw http.ResponseWriter, r *http.Request) {
	var req struct {
		Action string `json:"action"`
	}
	if !readJSON(rw, r, &req) {
		return
	}
	act := map[string]func(string) error{
		"approve": w.daraja.Approve, "cancel": w.daraja.Cancel, "wrongpin": w.daraja.WrongPIN, "ignore": w.daraja.Ignore,
	}[req.Action]
	if act == nil {
		writeError(rw, http.StatusBadRequest, fmt.Sprintf("action %q is none of approve, cancel, wrongpin, ignore", req.Action))
		return
	}
	if err := act(r.PathValue("id")); err != nil {
		writeError(rw, http.StatusNotFound, "no prompt waiting with that id")
		return
	}
	writeJSON(rw, http.StatusOK, map[string]bool{"ok": true})
}
