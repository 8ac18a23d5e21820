// Package ussd is the menu engine behind the USSD channel: it turns one hop
// of the gateway's session (the whole input history in text) into the next
// screen, keeping the session's state in the database, in English or
// Kiswahili. It moves money only through the wallet, and only after a
// correct PIN.
package ussd

import (
	"context"
	"crypto/hmac"
	"crypto/rand"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"log/slog"
	"strconv"
	"strings"
	"time"

	"github.com/umeme-wallet/umeme/internal/lightning"
	"github.com/umeme-wallet/umeme/internal/ratelimit"
	"github.com/umeme-wallet/umeme/internal/smspay"
	"github.com/umeme-wallet/umeme/internal/store"
	"github.com/umeme-wallet/umeme/internal/wallet"
)

// RateSource gives the price of bitcoin in Kenyan shillings from memory
// (a source that fetches it must do so in the background: no hop waits).
type RateSource interface {
	KESPerBTC() (float64, bool)
}

// Config shapes the menus.
type Config struct {
	// Domain is the Lightning Address domain (name@Domain).
	Domain string
	// PINForBalance asks for the PIN before showing the balance and the
	// transactions.
	PINForBalance bool
	// Rate, when set, adds the KES value to the balance.
	Rate RateSource
	// Lightning, when set, adds the Lightning items: invoices by SMS and
	// payments to Lightning Addresses.
	Lightning *Lightning
	// Mpesa, when set, adds buying and selling through M-Pesa.
	Mpesa *Mpesa
	// HistoryPage is how many transactions one screen lists.
	HistoryPage int
	// HopsPerMinute and PINsPerMinute limit each phone (0: no limit).
	HopsPerMinute, PINsPerMinute int
	// Now is the clock; default time.Now.
	Now func() time.Time
}

// Lightning is the Lightning rail as the menus use it.
type Lightning struct {
	Receiver  *lightning.Receiver
	Payer     *lightning.Payer
	Addresses *lightning.LNURLClient
	// Requests, when set, opens a new session on the payment request the
	// user texted in, if any (smspay.go).
	Requests *smspay.Service
	// ResolveTimeout bounds fetching an invoice from an address within a
	// hop (default 2 s).
	ResolveTimeout time.Duration
}

// Engine answers hops.
type Engine struct {
	cfg    Config
	wallet *wallet.Service
	store  store.Store
	log    *slog.Logger
	hops   *ratelimit.Limiter
	pins   *ratelimit.Limiter
	key    []byte // for digests of the gateway's text
}

// New returns an engine.
func New(cfg Config, w *wallet.Service, s store.Store, log *slog.Logger) *Engine {
	if cfg.HistoryPage <= 0 {
		cfg.HistoryPage = 4
	}
	if cfg.Now == nil {
		cfg.Now = time.Now
	}
	if cfg.Domain == "" {
		cfg.Domain = "localhost"
	}
	// The digest key is random per process: texts hold PINs, and a keyless
	// hash of a 4-digit PIN is no secret. After a restart a repeated hop is
	// no longer recognised as such, but it still adds no input, so it only
	// shows the current screen again.
	key := make([]byte, 32)
	if _, err := rand.Read(key); err != nil {
		panic(fmt.Sprintf("ussd: random key: %v", err))
	}
	e := &Engine{cfg: cfg, wallet: w, store: s, log: log, key: key}
	if cfg.HopsPerMinute > 0 {
		e.hops = ratelimit.New(cfg.HopsPerMinute, time.Minute)
	}
	if cfg.PINsPerMinute > 0 {
		e.pins = ratelimit.New(cfg.PINsPerMinute, time.Minute)
	}
	return e
}

// Request is one hop as the gateway sends it.
type Request struct {
	SessionID   string
	PhoneNumber string
	NetworkCode string
	ServiceCode string
	Text        string
}

// SessionEnd is the gateway's end-of-session report.
type SessionEnd struct {
	SessionID  string
	Status     string
	DurationMs int64
	Hops       int
}

// ErrUnknownSession is an end-of-session report for a session never seen.
var ErrUnknownSession = errors.New("unknown ussd session")

// EndSession records the gateway's end-of-session report; it never moves
// money.
func (e *Engine) EndSession(ctx context.Context, r SessionEnd) error {
	err := e.store.InTx(ctx, func(ctx context.Context, tx store.Tx) error {
		return tx.EndSession(ctx, store.SessionEnd{
			SessionID: r.SessionID, Status: r.Status, DurationMs: r.DurationMs, Hops: r.Hops, Now: time.Now(),
		})
	})
	if errors.Is(err, store.ErrNotFound) {
		return ErrUnknownSession
	}
	return err
}

// ErrBadRequest is a hop that cannot belong to a session (no session id,
// an impossible phone number).
var ErrBadRequest = errors.New("bad ussd request")

// Reply is a hop's answer and what became of the hop, for the metrics and
// the hop's log line.
type Reply struct {
	// Body is the rendered screen ("CON …" or "END …").
	Body string
	// State is the state the session is left in (a name of states, or
	// empty when the hop never reached one).
	State string
	// Outcome is one of the Outcome constants.
	Outcome string
}

// What became of a hop that got a screen. Bounded, for a metric's label.
const (
	OutcomeContinue = "continue" // a CON screen
	OutcomeEnd      = "end"      // an END screen the flow chose
	OutcomeSorry    = "sorry"    // the flow failed and apologised (logged)
	OutcomeRepeat   = "repeat"   // the gateway's retry of the last hop: the same screen
	OutcomeExpired  = "expired"  // a hop of a session already closed
	OutcomeTooFast  = "too_fast" // over the per-phone hop limit
)

// Handle answers one hop with the rendered screen ("CON …" or "END …"). An
// error means no screen could be made; the caller answers an apology.
func (e *Engine) Handle(ctx context.Context, r Request) (Reply, error) {
	if r.SessionID == "" || len(r.SessionID) > 128 {
		return Reply{}, fmt.Errorf("%w: session id", ErrBadRequest)
	}
	phone, err := wallet.NormalizePhone(r.PhoneNumber, e.wallet.Config().Region)
	if err != nil {
		return Reply{}, fmt.Errorf("%w: %v", ErrBadRequest, err)
	}
	now := e.cfg.Now().UTC()
	if e.hops != nil && !e.hops.Allow(phone, now) {
		return rendered(Screen{Lines: []string{text("en", kTooFast)}, End: true}, "", OutcomeTooFast)
	}

	segments := splitText(r.Text)
	digest := e.digest(r.Text, len(segments))
	sess, user, haveUser, err := e.load(ctx, r.SessionID, phone, len(segments) == 0, now)
	if err != nil {
		return Reply{}, fmt.Errorf("load session: %w", err)
	}
	if sess.Phone != phone {
		return Reply{}, fmt.Errorf("%w: session %s belongs to another number", ErrBadRequest, r.SessionID)
	}
	// The same hop again (a gateway retry): the same screen, no side effect.
	if sess.LastInput != nil && *sess.LastInput == digest && sess.LastResponse != nil {
		return Reply{Body: *sess.LastResponse, State: sess.State, Outcome: OutcomeRepeat}, nil
	}
	if !sess.Active {
		return rendered(Screen{Lines: []string{text(user.Language, kAuthExpired)}, End: true}, sess.State, OutcomeExpired)
	}
	if !haveUser {
		if user, _, err = e.wallet.EnsureUser(ctx, phone); err != nil {
			return Reply{}, fmt.Errorf("ensure user: %w", err)
		}
	}

	h := &hop{e: e, ctx: ctx, user: user, phone: phone, state: sess.State, buf: sess.InputBuffer, key: fmt.Sprintf("ussd:%s:%d", r.SessionID, len(segments))}
	if h.state == "" {
		h.state = h.home()
		if len(segments) == 0 {
			h.openRequest()
		}
	}
	for _, in := range newInputs(segments, processed(sess.LastInput)) {
		if h.end != nil {
			break
		}
		h.apply(strings.TrimSpace(in))
	}
	screen := h.screen()
	body, err := Render(screen)
	if err != nil {
		return Reply{}, fmt.Errorf("render %s: %w", h.state, err)
	}
	// Saved even past the hop's deadline: the screen may say what money
	// did, and a gateway retry must get it again, not the busy apology.
	sctx, cancel := late(ctx)
	defer cancel()
	err = e.store.Autocommit(sctx, func(ctx context.Context, tx store.Tx) error {
		return tx.SaveSessionHop(ctx, store.SessionHop{
			SessionID: r.SessionID, UserID: h.user.ID, State: h.state, InputBuffer: h.buf,
			LastInput: digest, LastResponse: body, End: screen.End, Now: now,
		})
	})
	if err != nil {
		return Reply{}, fmt.Errorf("save session: %w", err)
	}
	outcome := OutcomeContinue
	switch {
	case h.failed:
		outcome = OutcomeSorry
	case screen.End:
		outcome = OutcomeEnd
	}
	return Reply{Body: body, State: h.state, Outcome: outcome}, nil
}

// lateGrace bounds what a hop still does once its deadline has passed
// with money moved (a transfer whose commit's answer came late, or was
// learned by reading it): reading the balance it shows, and saving the
// session. The gateway waits about 10 s; the hop's deadline is 3 s.
const lateGrace = time.Second

// late is ctx, or, once ctx has ended, a context of lateGrace of its own.
func late(ctx context.Context) (context.Context, context.CancelFunc) {
	if ctx.Err() == nil {
		return ctx, func() {}
	}
	return context.WithTimeout(context.WithoutCancel(ctx), lateGrace)
}

// load reads a hop's session and the user of its number. Every statement
// is committed alone: nothing here needs them to share a transaction (two
// identical hops racing are resolved by the idempotency of what they do,
// not by a lock). A hop after the first finds its session with the user its
// first hop recorded in one statement; the first (dial) hop, or a session
// not saved yet, opens the session and looks the user up by number.
func (e *Engine) load(ctx context.Context, sessionID, phone string, dial bool, now time.Time) (sess store.Session, user store.User, haveUser bool, err error) {
	if !dial {
		err = e.store.Autocommit(ctx, func(ctx context.Context, tx store.Tx) error {
			var err error
			sess, user, err = tx.SessionWithUser(ctx, sessionID)
			return err
		})
		if err == nil && user.Phone == sess.Phone {
			return sess, user, true, nil
		}
		if err != nil && !errors.Is(err, store.ErrNotFound) {
			return sess, user, false, err
		}
	}
	err = e.store.Autocommit(ctx, func(ctx context.Context, tx store.Tx) error {
		var err error
		if sess, err = tx.UpsertSession(ctx, store.NewSession{SessionID: sessionID, Phone: phone, Now: now}); err != nil {
			return err
		}
		user, err = tx.UserByPhone(ctx, phone)
		haveUser = err == nil
		if errors.Is(err, store.ErrNotFound) {
			err = nil
		}
		return err
	})
	return sess, user, haveUser, err
}

// rendered is the reply of a screen shown without running the session.
func rendered(s Screen, state, outcome string) (Reply, error) {
	body, err := Render(s)
	return Reply{Body: body, State: state, Outcome: outcome}, err
}

// splitText cuts the gateway's text into the inputs of the session so far.
func splitText(t string) []string {
	if t == "" {
		return nil
	}
	return strings.Split(t, "*")
}

// digest stands for a hop's text in the session row: the text carries every
// PIN typed in the session, so it is never stored. The count of inputs is
// kept beside it to find the new ones on the next hop.
func (e *Engine) digest(t string, n int) string {
	m := hmac.New(sha256.New, e.key)
	m.Write([]byte(t))
	return strconv.Itoa(n) + ":" + hex.EncodeToString(m.Sum(nil)[:16])
}

// processed reads the count of inputs a session has handled.
func processed(last *string) int {
	if last == nil {
		return 0
	}
	n, _, _ := strings.Cut(*last, ":")
	v, err := strconv.Atoi(n)
	if err != nil {
		return 0
	}
	return v
}

// newInputs are the inputs this hop adds. A text that does not extend the
// last one (it should always) is read as its last input alone.
func newInputs(segments []string, done int) []string {
	switch {
	case done <= len(segments):
		return segments[done:]
	case len(segments) == 0:
		return nil
	}
	return segments[len(segments)-1:]
}
