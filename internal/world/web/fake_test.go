package web_test

import (
	"encoding/json"
	"fmt"
	"net/http"
	"net/http/httptest"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/umeme-wallet/umeme/internal/world/web"
)

// fake is the world simulator's JSON API (internal/world), in memory, with a
// scripted USSD menu: enough to drive the page in a browser and to see what
// the page sent. Tests read its records under mu, and wait for them with
// waitFor, which wakes on every change.
type fake struct {
	srv *httptest.Server

	mu      sync.Mutex
	changed chan struct{} // closed and replaced on every change
	seq     int

	phones   []string
	sessions map[string]*session // by phone
	hops     []hop               // every POST /api/ussd, in order
	cancels  []string            // phones whose session the page cancelled
	sms      map[string][]smsJSON
	mpesa    map[string][]mpesaJSON
	stk      map[string]*stkJSON // pending prompt by phone
	answers  []stkAnswer
	inbound  []inboundSMS
	invoices []invoiceReq
	pays     []payReq
	world    worldJSON
}

type session struct {
	id   string
	text string // the inputs after the dial, joined with "*"
}

// hop is one POST /api/ussd as the simulator saw it.
type hop struct {
	Phone     string
	Input     string
	SessionID string
	Text      string // accumulated, as the gateway would post it
	Dial      bool   // it opened a new session
}

type smsJSON struct {
	ID     string `json:"id"`
	From   string `json:"from"`
	Text   string `json:"text"`
	At     string `json:"at"`
	Status string `json:"status"`
}

type mpesaJSON struct {
	Text string `json:"text"`
	At   string `json:"at"`
}

type stkJSON struct {
	ID        string `json:"id"`
	AmountKES int64  `json:"amountKES"`
	Account   string `json:"account"`
	Text      string `json:"text"`
}

type stkAnswer struct{ ID, Action string }

type inboundSMS struct{ Phone, Text string }

type invoiceReq struct {
	Sats    int64  `json:"sats"`
	Memo    string `json:"memo"`
	Invoice string `json:"-"`
}

type payReq struct {
	Invoice string `json:"invoice"`
	Address string `json:"address"`
	Sats    int64  `json:"sats"`
}

type worldJSON struct {
	Node struct {
		Alias       string `json:"alias"`
		BalanceSats int64  `json:"balanceSats"`
		ChannelSats int64  `json:"channelSats"`
		Pubkey      string `json:"pubkey"`
	} `json:"node"`
	Operator struct {
		Users []struct {
			Phone       string `json:"phone"`
			Status      string `json:"status"`
			BalanceSats int64  `json:"balanceSats"`
		} `json:"users"`
		LiabilitiesSats int64            `json:"liabilitiesSats"`
		SystemAccounts  map[string]int64 `json:"systemAccounts"`
		Reconcile       struct {
			OK   bool   `json:"ok"`
			Text string `json:"text"`
		} `json:"reconcile"`
	} `json:"operator"`
	Invoices []invoiceJSON `json:"invoices"`
	Recent   []struct {
		At   string `json:"at"`
		What string `json:"what"`
	} `json:"recent"`
}

type invoiceJSON struct {
	Invoice string `json:"invoice"`
	Sats    int64  `json:"sats"`
	Memo    string `json:"memo"`
	State   string `json:"state"`
}

const (
	phoneA = "+254700000001"
	phoneB = "+254700000002"

	serviceCode = "*384*1234#"

	menuText = "Umeme\n1. Send\n2. Buy with M-Pesa\n3. Balance\n0. Exit"
)

// menu is the scripted USSD service: the reply to the accumulated text,
// with the prefix the real server would put on it.
func menu(text string) string {
	parts := strings.Split(text, "*")
	switch {
	case text == "":
		return "CON " + menuText
	case text == "1":
		return "CON Send to phone number:"
	case len(parts) == 2 && parts[0] == "1":
		return "CON Amount in sats:"
	case len(parts) == 3 && parts[0] == "1":
		return fmt.Sprintf("END Sent %s sats to %s.", parts[2], parts[1])
	case text == "2":
		return "CON Buy how many KES?"
	case len(parts) == 2 && parts[0] == "2":
		return "END Enter your M-Pesa PIN on the prompt to pay KES " + parts[1] + "."
	case text == "3":
		return "END Balance: 1,000 sats\n(KES 1)"
	case text == "0":
		return "END Goodbye."
	}
	return "END Invalid choice."
}

func newFake(t *testing.T) *fake {
	t.Helper()
	f := &fake{
		changed:  make(chan struct{}),
		phones:   []string{phoneA, phoneB},
		sessions: map[string]*session{},
		sms:      map[string][]smsJSON{},
		mpesa:    map[string][]mpesaJSON{},
		stk:      map[string]*stkJSON{},
	}
	f.world.Node.Alias = "world"
	f.world.Node.BalanceSats = 8_999_000
	f.world.Node.ChannelSats = 1_000_000
	f.world.Node.Pubkey = "02" + strings.Repeat("ab", 32)
	f.world.Operator.Users = append(f.world.Operator.Users, struct {
		Phone       string `json:"phone"`
		Status      string `json:"status"`
		BalanceSats int64  `json:"balanceSats"`
	}{phoneA, "active", 12_345})
	f.world.Operator.LiabilitiesSats = 12_345
	f.world.Operator.SystemAccounts = map[string]int64{"lightning": -12_345, "mpesa": 0, "fees": 0}
	f.world.Operator.Reconcile.OK = true
	f.world.Operator.Reconcile.Text = "books balance: liabilities 12,345 sats = lightning 12,345 sats"

	mux := http.NewServeMux()
	mux.Handle("/", web.Handler())
	mux.HandleFunc("GET /api/config", func(w http.ResponseWriter, r *http.Request) {
		writeJSON(w, http.StatusOK, map[string]any{
			"serviceCode": serviceCode, "serviceNumber": "22384",
			"phones": f.phones, "network": "regtest",
		})
	})
	mux.HandleFunc("POST /api/ussd", f.ussd)
	mux.HandleFunc("POST /api/ussd/cancel", func(w http.ResponseWriter, r *http.Request) {
		var req struct{ Phone string }
		if !readJSON(w, r, &req) {
			return
		}
		f.update(func() {
			delete(f.sessions, req.Phone)
			f.cancels = append(f.cancels, req.Phone)
		})
		writeJSON(w, http.StatusOK, map[string]any{"ok": true})
	})
	mux.HandleFunc("GET /api/phones/{phone}", func(w http.ResponseWriter, r *http.Request) {
		phone := r.PathValue("phone")
		if !f.known(phone) {
			writeJSON(w, http.StatusNotFound, map[string]string{"error": "unknown phone " + phone})
			return
		}
		f.mu.Lock()
		defer f.mu.Unlock()
		writeJSON(w, http.StatusOK, map[string]any{
			"sms":   orEmpty(f.sms[phone]),
			"stk":   f.stk[phone],
			"mpesa": orEmpty(f.mpesa[phone]),
		})
	})
	mux.HandleFunc("POST /api/phones/{phone}/sms", func(w http.ResponseWriter, r *http.Request) {
		phone := r.PathValue("phone")
		var req struct{ Text string }
		if !f.known(phone) {
			writeJSON(w, http.StatusNotFound, map[string]string{"error": "unknown phone " + phone})
			return
		}
		if !readJSON(w, r, &req) {
			return
		}
		var id string
		f.update(func() {
			f.seq++
			id = fmt.Sprintf("in_%d", f.seq)
			f.inbound = append(f.inbound, inboundSMS{phone, req.Text})
		})
		writeJSON(w, http.StatusOK, map[string]any{"ok": true, "id": id})
	})
	mux.HandleFunc("POST /api/stk/{id}", func(w http.ResponseWriter, r *http.Request) {
		id := r.PathValue("id")
		var req struct{ Action string }
		if !readJSON(w, r, &req) {
			return
		}
		switch req.Action {
		case "approve", "cancel", "wrongpin", "ignore":
		default:
			writeJSON(w, http.StatusBadRequest, map[string]string{"error": "unknown action " + req.Action})
			return
		}
		found := false
		f.update(func() {
			for phone, p := range f.stk {
				if p.ID == id {
					found = true
					delete(f.stk, phone)
					f.answers = append(f.answers, stkAnswer{id, req.Action})
				}
			}
		})
		if !found {
			writeJSON(w, http.StatusNotFound, map[string]string{"error": "no prompt " + id})
			return
		}
		writeJSON(w, http.StatusOK, map[string]any{"ok": true})
	})
	mux.HandleFunc("GET /api/world", func(w http.ResponseWriter, r *http.Request) {
		f.mu.Lock()
		defer f.mu.Unlock()
		writeJSON(w, http.StatusOK, f.world)
	})
	mux.HandleFunc("POST /api/world/invoice", func(w http.ResponseWriter, r *http.Request) {
		var req invoiceReq
		if !readJSON(w, r, &req) {
			return
		}
		if req.Sats <= 0 {
			writeJSON(w, http.StatusBadRequest, map[string]string{"error": "sats must be positive"})
			return
		}
		f.update(func() {
			f.seq++
			req.Invoice = fmt.Sprintf("lnbcrt%dn1pfake%dxyzzy", req.Sats*10, f.seq)
			f.invoices = append(f.invoices, req)
			f.world.Invoices = append(f.world.Invoices, invoiceJSON{Invoice: req.Invoice, Sats: req.Sats, Memo: req.Memo, State: "OPEN"})
		})
		writeJSON(w, http.StatusOK, map[string]any{"invoice": req.Invoice})
	})
	mux.HandleFunc("POST /api/world/pay", func(w http.ResponseWriter, r *http.Request) {
		var req payReq
		if !readJSON(w, r, &req) {
			return
		}
		f.update(func() { f.pays = append(f.pays, req) })
		writeJSON(w, http.StatusOK, map[string]any{"ok": true, "status": "SUCCEEDED", "feeSats": 1})
	})
	f.srv = httptest.NewServer(mux)
	t.Cleanup(f.srv.Close)
	return f
}

// ussd keeps a session per phone as the simulator does: a POST with no open
// session dials (text ""), one with a session appends its input; END
// closes the session, so the next POST dials anew.
func (f *fake) ussd(w http.ResponseWriter, r *http.Request) {
	var req struct{ Phone, Input string }
	if !readJSON(w, r, &req) {
		return
	}
	if !f.known(req.Phone) {
		writeJSON(w, http.StatusBadRequest, map[string]string{"error": "unknown phone " + req.Phone})
		return
	}
	var reply string
	var h hop
	f.update(func() {
		s, ok := f.sessions[req.Phone]
		if !ok {
			f.seq++
			s = &session{id: fmt.Sprintf("ATUid_fake%d", f.seq)}
			f.sessions[req.Phone] = s
		} else if s.text == "" {
			s.text = req.Input
		} else {
			s.text += "*" + req.Input
		}
		reply = menu(s.text)
		h = hop{Phone: req.Phone, Input: req.Input, SessionID: s.id, Text: s.text, Dial: !ok}
		f.hops = append(f.hops, h)
		if strings.HasPrefix(reply, "END ") {
			delete(f.sessions, req.Phone)
		}
		if parts := strings.Split(s.text, "*"); len(parts) == 2 && parts[0] == "2" {
			kes, _ := strconv.ParseInt(parts[1], 10, 64)
			f.seq++
			f.stk[req.Phone] = &stkJSON{
				ID: fmt.Sprintf("ws_CO_fake%d", f.seq), AmountKES: kes, Account: "Umeme",
				Text: fmt.Sprintf("Enter M-Pesa PIN to pay KES %d to Umeme", kes),
			}
		}
	})
	writeJSON(w, http.StatusOK, map[string]any{
		"sessionId": h.SessionID,
		"text":      reply[len("CON "):],
		"end":       strings.HasPrefix(reply, "END "),
		"ms":        3,
	})
}

func (f *fake) known(phone string) bool {
	for _, p := range f.phones {
		if p == phone {
			return true
		}
	}
	return false
}

// update changes the fake's state under its lock and wakes waiters.
func (f *fake) update(fn func()) {
	f.mu.Lock()
	defer f.mu.Unlock()
	fn()
	close(f.changed)
	f.changed = make(chan struct{})
}

// waitFor waits, up to 15 s, until cond (run under the lock) holds.
func (f *fake) waitFor(t *testing.T, what string, cond func() bool) {
	t.Helper()
	deadline := time.After(15 * time.Second)
	for {
		f.mu.Lock()
		ok, changed := cond(), f.changed
		f.mu.Unlock()
		if ok {
			return
		}
		select {
		case <-changed:
		case <-deadline:
			t.Fatalf("fake world: no %s within 15s", what)
		}
	}
}

// hop waits for the n-th hop (1-based) and returns it.
func (f *fake) hop(t *testing.T, n int) hop {
	t.Helper()
	f.waitFor(t, fmt.Sprintf("USSD hop #%d", n), func() bool { return len(f.hops) >= n })
	f.mu.Lock()
	defer f.mu.Unlock()
	return f.hops[n-1]
}

func (f *fake) sendSMS(phone, text, status string) {
	f.update(func() {
		f.seq++
		f.sms[phone] = append(f.sms[phone], smsJSON{
			ID: fmt.Sprintf("ATXid_fake%d", f.seq), From: "Umeme", Text: text,
			At: time.Date(2026, 12, 6, 14, 5, f.seq%60, 0, time.UTC).Format(time.RFC3339), Status: status,
		})
	})
}

func (f *fake) prompt(phone, id, text string) {
	f.update(func() {
		f.stk[phone] = &stkJSON{ID: id, AmountKES: 500, Account: "Umeme", Text: text}
	})
}

func orEmpty[T any](s []T) []T {
	if s == nil {
		return []T{}
	}
	return s
}

func readJSON(w http.ResponseWriter, r *http.Request, v any) bool {
	if ct := r.Header.Get("Content-Type"); !strings.HasPrefix(ct, "application/json") {
		writeJSON(w, http.StatusUnsupportedMediaType, map[string]string{"error": "want application/json, got " + ct})
		return false
	}
	dec := json.NewDecoder(http.MaxBytesReader(w, r.Body, 64<<10))
	dec.DisallowUnknownFields()
	if err := dec.Decode(v); err != nil {
		writeJSON(w, http.StatusBadRequest, map[string]string{"error": err.Error()})
		return false
	}
	return true
}

func writeJSON(w http.ResponseWriter, status int, v any) {
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(status)
	json.NewEncoder(w).Encode(v)
}
