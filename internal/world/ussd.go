package world

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"errors"
	"io"
	"net/http"
	"net/url"
	"strconv"
	"strings"
	"sync"
	"time"
	"unicode/utf8"

	"github.com/umeme-wallet/umeme/internal/wallet"
)

// The gateway is Africa's Talking's USSD side as a handset sees it: one
// session per phone; each answer is added to the session's text (inputs
// joined by "*") and the whole form POSTed to the server's callback; CON
// keeps the session open, END closes it; an answer that is not 200, not
// CON/END, or later than the gateway waits, closes it with the handset's
// own error. At the end the gateway posts its end-of-session event.

// networkCode is the gateway's networkCode: AT's simulator network.
const networkCode = "99999"

// gatewayError is what a handset shows when the gateway gets no usable
// answer.
const gatewayError = "Connection problem or invalid MMI code."

// maxInput is the longest answer a handset sends (USSD's 182 characters).
const maxInput = 182

// gateway holds the open sessions, one per phone.
type gateway struct {
	mu       sync.Mutex
	sessions map[string]*session
}

// session is one phone's open USSD session.
type session struct {
	id      string
	inputs  []string
	started time.Time
	last    time.Time
	hops    int
	// busy is set while a hop waits for the server: the handset shows
	// "please wait" and takes no input.
	busy bool
}

// ussdAnswer is what POST /api/ussd returns.
type ussdAnswer struct {
	SessionID string `json:"sessionId"`
	Text      string `json:"text"`
	End       bool   `json:"end"`
	MS        int64  `json:"ms"`
}

var errBusy = errors.New("the last answer is still on its way")

// apiUSSD answers POST /api/ussd {"phone", "input"}: a dial when the phone
// has no open session, else the answer to the screen.
func (w *World) apiUSSD(rw http.ResponseWriter, r *http.Request) {
	var req struct {
		Phone string `json:"phone"`
		Input string `json:"input"`
	}
	if !readJSON(rw, r, &req) {
		return
	}
	p, ok := phone(rw, req.Phone)
	if !ok {
		return
	}
	if utf8.RuneCountInString(req.Input) > maxInput || strings.ContainsAny(req.Input, "\r\n") {
		writeError(rw, http.StatusBadRequest, "an answer is one line of at most 182 characters")
		return
	}
	w.saw(p)
	ans, err := w.hop(r.Context(), p, req.Input)
	if errors.Is(err, errBusy) {
		writeError(rw, http.StatusConflict, err.Error())
		return
	}
	writeJSON(rw, http.StatusOK, ans)
}

// apiUSSDCancel answers POST /api/ussd/cancel {"phone"}: the handset's
// Cancel, which drops the session.
func (w *World) apiUSSDCancel(rw http.ResponseWriter, r *http.Request) {
	var req struct {
		Phone string `json:"phone"`
	}
	if !readJSON(rw, r, &req) {
		return
	}
	p, ok := phone(rw, req.Phone)
	if !ok {
		return
	}
	w.ussd.mu.Lock()
	if s := w.ussd.sessions[p]; s != nil {
		delete(w.ussd.sessions, p)
		w.endEvent(p, s, "Incomplete", "")
	}
	w.ussd.mu.Unlock()
	writeJSON(rw, http.StatusOK, map[string]bool{"ok": true})
}

// hop sends one hop of phone's session: a new session (text "") when
// none is open, or one that the network ended for being idle; else input
// added to the open one's text.
func (w *World) hop(ctx context.Context, phone, input string) (ussdAnswer, error) {
	now := time.Now()
	g := &w.ussd
	g.mu.Lock()
	s := g.sessions[phone]
	if s != nil && s.busy {
		g.mu.Unlock()
		return ussdAnswer{}, errBusy
	}
	if s != nil && now.Sub(s.last) > w.cfg.USSDIdle {
		// The network timed the session out while nobody answered.
		delete(g.sessions, phone)
		w.endEvent(phone, s, "Incomplete", "")
		s = nil
	}
	if s == nil {
		s = &session{id: "ATUid_" + randomHex(16), started: now}
		g.sessions[phone] = s
	} else {
		s.inputs = append(s.inputs, input)
	}
	s.busy, s.last = true, now
	text := strings.Join(s.inputs, "*")
	g.mu.Unlock()

	body, err := w.callback(ctx, phone, s.id, text)
	took := time.Since(now)
	ans := ussdAnswer{SessionID: s.id, MS: took.Milliseconds()}
	status := ""
	switch {
	case err != nil:
		ans.Text, ans.End, status = gatewayError, true, "Failed"
		w.cfg.Log.Warn("ussd hop not answered", "phone", wallet.MaskPhone(phone), "session", s.id, "err", err)
	case strings.HasPrefix(body, "CON "):
		ans.Text = strings.TrimPrefix(body, "CON ")
	case strings.HasPrefix(body, "END "):
		ans.Text, ans.End, status = strings.TrimPrefix(body, "END "), true, "Success"
	default:
		ans.Text, ans.End, status = gatewayError, true, "Failed"
		w.cfg.Log.Warn("ussd answer is neither CON nor END", "phone", wallet.MaskPhone(phone), "session", s.id)
	}

	g.mu.Lock()
	current := g.sessions[phone] == s
	s.busy, s.last = false, time.Now()
	s.hops++
	if ans.End && current {
		delete(g.sessions, phone)
	}
	g.mu.Unlock()
	if ans.End && current {
		errText := ""
		if status == "Failed" {
			errText = ans.Text
		}
		w.endEvent(phone, s, status, errText)
	}
	return ans, nil
}

// callback POSTs one hop as Africa's Talking does and returns the body of
// a 200 answer; anything else is an error.
func (w *World) callback(ctx context.Context, phone, sessionID, text string) (string, error) {
	ctx, cancel := context.WithTimeout(ctx, w.cfg.USSDTimeout)
	defer cancel()
	form := url.Values{
		"sessionId":   {sessionID},
		"phoneNumber": {phone},
		"networkCode": {networkCode},
		"serviceCode": {w.cfg.ServiceCode},
		"text":        {text},
	}
	resp, err := w.postForm(ctx, w.cfg.ServerURL+"/ussd?token="+url.QueryEscape(w.cfg.USSDToken), form)
	if err != nil {
		return "", err
	}
	defer resp.Body.Close()
	b, err := io.ReadAll(io.LimitReader(resp.Body, 4<<10))
	if err != nil {
		return "", err
	}
	if resp.StatusCode != http.StatusOK {
		return "", errors.New("the server answered " + resp.Status)
	}
	return string(b), nil
}

// endEvent posts the gateway's end-of-session notification in the
// background, as Africa's Talking does to the events URL. The session is
// read now: call it with the gateway's lock held, or once the session is
// out of the map.
func (w *World) endEvent(phone string, s *session, status, errText string) {
	form := url.Values{
		"date":             {time.Now().UTC().Format(time.DateTime)},
		"sessionId":        {s.id},
		"serviceCode":      {w.cfg.ServiceCode},
		"networkCode":      {networkCode},
		"phoneNumber":      {phone},
		"status":           {status},
		"cost":             {"KES 0.00"},
		"durationInMillis": {strconv.FormatInt(time.Since(s.started).Milliseconds(), 10)},
		"hopsCount":        {strconv.Itoa(s.hops)},
		"input":            {strings.Join(s.inputs, "*")},
		"errorMessage":     {errText},
	}
	u := w.cfg.ServerURL + "/ussd/events?token=" + url.QueryEscape(w.cfg.USSDToken)
	w.background(func(ctx context.Context) {
		resp, err := w.postForm(ctx, u, form)
		if err != nil {
			w.cfg.Log.Warn("ussd end-of-session event not delivered", "session", s.id, "err", err)
			return
		}
		io.Copy(io.Discard, io.LimitReader(resp.Body, 4<<10)) //nolint:errcheck
		resp.Body.Close()
	})
}

// postForm posts a form with the world's client.
func (w *World) postForm(ctx context.Context, u string, form url.Values) (*http.Response, error) {
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, u, strings.NewReader(form.Encode()))
	if err != nil {
		return nil, err
	}
	req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	return w.hc.Do(req)
}

func randomHex(n int) string {
	b := make([]byte, n)
	rand.Read(b) //nolint:errcheck // crypto/rand does not fail
	return hex.EncodeToString(b)
}
