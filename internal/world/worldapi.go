package world

import (
	"fmt"
	"net/http"
	"strconv"
	"strings"
)

// maxWorldSats bounds what the page may ask the world node to move at
// once (the regtest channel holds 0.1 BTC).
const maxWorldSats = 10_000_000

// apiWorld answers GET /api/world: the world node, the operator's view,
// the invoices the world node made and whether they were paid, and what
// the world node did lately (oldest first).
func (w *World) apiWorld(rw http.ResponseWriter, r *http.Request) {
	out := map[string]any{"node": nil, "invoices": []madeInvoice{}}
	if w.cfg.Node != nil {
		info, err := w.node.get(r.Context())
		if err != nil {
			out["node"] = map[string]string{"error": err.Error()}
		} else {
			out["node"] = info
		}
		// Before the log: a payment found now is in this answer's log.
		out["invoices"] = w.invoices(r.Context())
	}
	out["recent"] = w.recentEvents()
	out["operator"] = w.op.view(r.Context(), w.phones())
	writeJSON(rw, http.StatusOK, out)
}

// apiWorldPay answers POST /api/world/pay: {"invoice"} or {"address",
// "sats"}; the world node pays.
func (w *World) apiWorldPay(rw http.ResponseWriter, r *http.Request) {
	if w.cfg.Node == nil {
		writeError(rw, http.StatusServiceUnavailable, "no world node")
		return
	}
	var req struct {
		Invoice string `json:"invoice"`
		Address string `json:"address"`
		Sats    int64  `json:"sats"`
	}
	if !readJSON(rw, r, &req) {
		return
	}
	invoice, what := strings.TrimSpace(req.Invoice), ""
	// A pasted invoice may carry its URI scheme.
	invoice = strings.TrimPrefix(strings.TrimPrefix(invoice, "lightning:"), "LIGHTNING:")
	switch {
	case invoice != "" && req.Address != "":
		writeError(rw, http.StatusBadRequest, "an invoice or an address, not both")
		return
	case invoice != "":
		d, err := w.cfg.Node.decode(r.Context(), invoice)
		if err != nil {
			writeError(rw, http.StatusBadRequest, "not an invoice the world node can read: "+err.Error())
			return
		}
		if d.AmountMsat <= 0 {
			writeError(rw, http.StatusBadRequest, "an invoice without an amount cannot be paid from here")
			return
		}
		what = fmt.Sprintf("world paid %s (%s sats)", short(invoice), group(d.AmountMsat/1000))
	case req.Address != "":
		if req.Sats <= 0 || req.Sats > maxWorldSats {
			writeError(rw, http.StatusBadRequest, fmt.Sprintf("sats must be 1 to %s", group(maxWorldSats)))
			return
		}
		inv, err := w.addressInvoice(r.Context(), req.Address, req.Sats*1000)
		if err != nil {
			writeError(rw, http.StatusBadGateway, err.Error())
			return
		}
		invoice = inv
		what = fmt.Sprintf("world paid %s (%s sats)", strings.TrimSpace(req.Address), group(req.Sats))
	default:
		writeError(rw, http.StatusBadRequest, "give an invoice, or an address and sats")
		return
	}
	p, err := w.cfg.Node.pay(r.Context(), invoice)
	w.node.forget()
	if err != nil {
		w.note(what + ": " + err.Error())
		writeError(rw, http.StatusBadGateway, err.Error())
		return
	}
	fee, _ := strconv.ParseInt(p.FeeSat, 10, 64)
	if p.Status != "SUCCEEDED" {
		w.note(fmt.Sprintf("%s: %s %s", what, p.Status, p.FailureReason))
		writeError(rw, http.StatusBadGateway, fmt.Sprintf("payment %s: %s", p.Status, p.FailureReason))
		return
	}
	w.note(what)
	writeJSON(rw, http.StatusOK, map[string]any{"ok": true, "status": p.Status, "feeSats": fee})
}

// apiWorldInvoice answers POST /api/world/invoice {"sats", "memo"}: the
// world node makes an invoice for a user to pay.
func (w *World) apiWorldInvoice(rw http.ResponseWriter, r *http.Request) {
	if w.cfg.Node == nil {
		writeError(rw, http.StatusServiceUnavailable, "no world node")
		return
	}
	var req struct {
		Sats int64  `json:"sats"`
		Memo string `json:"memo"`
	}
	if !readJSON(rw, r, &req) {
		return
	}
	if req.Sats <= 0 || req.Sats > maxWorldSats {
		writeError(rw, http.StatusBadRequest, fmt.Sprintf("sats must be 1 to %s", group(maxWorldSats)))
		return
	}
	if len(req.Memo) > 200 {
		writeError(rw, http.StatusBadRequest, "a memo is at most 200 characters")
		return
	}
	inv, hash, err := w.cfg.Node.addInvoice(r.Context(), req.Sats, req.Memo)
	if err != nil {
		writeError(rw, http.StatusBadGateway, err.Error())
		return
	}
	w.madeOne(inv, hash, req.Sats, req.Memo)
	what := fmt.Sprintf("world made an invoice of %s sats", group(req.Sats))
	if req.Memo != "" {
		what += fmt.Sprintf(" (%s)", req.Memo)
	}
	w.note(what)
	writeJSON(rw, http.StatusOK, map[string]string{"invoice": inv})
}

// short abbreviates an invoice for the log.
func short(invoice string) string {
	if len(invoice) <= 20 {
		return invoice
	}
	return invoice[:16] + "…"
}

// group writes n with commas between thousands.
func group(n int64) string {
	s := strconv.FormatInt(n, 10)
	neg := strings.HasPrefix(s, "-")
	s = strings.TrimPrefix(s, "-")
	for i := len(s) - 3; i > 0; i -= 3 {
		s = s[:i] + "," + s[i:]
	}
	if neg {
		s = "-" + s
	}
	return s
}
