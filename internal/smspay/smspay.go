// Package smspay turns texts sent to the service's number into payment
// requests. A BOLT11 invoice cannot be typed on a keypad, but it can be
// texted: a user texts an invoice (or "pay name@domain 5000"), the service
// checks it and stores a request, and the user's next USSD session asks
// them to approve it with their PIN. A text never moves money and never
// carries a PIN.
//
// Every text is recorded once (a repeated callback does nothing), with
// what became of it, and answered through the outbox: a request, a
// refusal saying why, "register first" to a number without a wallet, "too
// many texts" to a flood. The last two are sent at most once a day per
// number, and neither says whether the number holds anything; "register
// first" also at most Config.RegisterRepliesPerDay times a day in all. A
// text from a number outside the wallet's region, or sent to another
// number than the service's, is recorded and not answered at all.
package smspay

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"strings"
	"sync"
	"time"

	"github.com/nyaruka/phonenumbers"

	"github.com/umeme-wallet/umeme/internal/lightning"
	"github.com/umeme-wallet/umeme/internal/store"
	"github.com/umeme-wallet/umeme/internal/wallet"
)

// Inbound is a text as the gateway reports it (Africa's Talking's
// incoming-message callback). All of it comes from outside.
type Inbound struct {
	// GatewayID is the gateway's id of the text: a callback repeated with
	// the same id is the same text.
	GatewayID string
	// From is the sender's number; To the service's number or short code.
	From, To string
	Text     string
	// Date is the gateway's time stamp and LinkID its link for premium
	// services, as sent; both, and To, are only logged: the service's own
	// clock decides the limits.
	Date, LinkID string
}

// The outcomes recorded on a text; a refusal is "refused:" and its
// store.PayRefused* reason.
const (
	// OutcomeReceived: recorded, not acted on yet (or the server stopped
	// in between: the sender can text again).
	OutcomeReceived = "received"
	// OutcomeRequest: a payment request waits for the user's approval.
	OutcomeRequest = "request"
	// OutcomeUnregistered: the number has no registered wallet.
	OutcomeUnregistered = "unregistered"
	// OutcomeFlood: past the number's texts per hour; nothing was read.
	OutcomeFlood = "flood"
	// OutcomeUnavailable: the Lightning node did not answer.
	OutcomeUnavailable = "unavailable"
	// OutcomeForeign: the number is not of the wallet's region, where
	// alone wallets are held; nothing was read or answered. A reply
	// abroad costs many times a local one, and answering any number that
	// writes in is what SMS pumping (revenue-share fraud) lives on.
	OutcomeForeign = "foreign"
	// OutcomeElsewhere: the text was sent to another number than the
	// service's (Config.Number); nothing was read or answered.
	OutcomeElsewhere = "elsewhere"
	// OutcomeDuplicate is what a repeated callback comes to; it is not
	// recorded again (the first one's row stands).
	OutcomeDuplicate = "duplicate"
)

// refused is the outcome of a refusal.
func refused(reason string) string { return "refused:" + reason }

// Result is what Receive did with a text.
type Result struct {
	InboundID int64
	Outcome   string
	// RequestID is the payment request made, NotificationID the reply
	// queued (0: none).
	RequestID      int64
	NotificationID int64
}

// Config tunes the service; zero values take the defaults.
type Config struct {
	// PerHour is how many texts one number may send in an hour before the
	// rest are only recorded (default 10).
	PerHour int
	// RegisterRepliesPerDay caps the "register first" replies of a day,
	// to all numbers together (default 500); past it those texts are
	// only recorded.
	RegisterRepliesPerDay int
	// Number is the service's number or short code: a text whose To is
	// another is only recorded (empty: any).
	Number string
	// MaxInFlight bounds the texts Accept acts on at once (default 16):
	// past it a callback waits for a place as long as its context lets
	// it, and a text that gets none stays recorded as received.
	MaxInFlight int
	// Network is the Lightning node's network (mainnet, testnet, signet,
	// regtest, simnet): an invoice of another one is refused as such.
	Network string
	// DecodeTimeout bounds each question to the node (default 5 s),
	// AddressTimeout fetching an invoice from a Lightning Address (default
	// 10 s), Timeout the whole handling of one text after it is recorded
	// (default 30 s).
	DecodeTimeout, AddressTimeout, Timeout time.Duration
	// ExpiryMargin refuses invoices that expire sooner than this (default
	// 1 min): the user needs time to dial and approve.
	ExpiryMargin time.Duration
	// Now is the clock (default time.Now).
	Now func() time.Time
}

// Addresses fetches invoices from Lightning Addresses (lightning.LNURLClient).
type Addresses interface {
	FetchInvoice(ctx context.Context, address string, amountMsat int64) (string, error)
}

// Service receives texts and serves the payment requests they make.
type Service struct {
	Store     store.Store
	Wallet    *wallet.Service
	Node      lightning.Node
	Addresses Addresses
	// Payer pays an approved request.
	Payer  *lightning.Payer
	Log    *slog.Logger
	Config Config

	once     sync.Once
	life     context.Context // of the work Accept started; Close may end it
	stop     context.CancelFunc
	work     sync.WaitGroup
	places   chan struct{} // one per text Accept is acting on
	mu       sync.Mutex    // guards identity
	identity string        // our node's public key, once known
}

// ErrMalformed is a callback that cannot be a text: no gateway id, or a
// sender that is no phone number.
var ErrMalformed = errors.New("malformed inbound sms")

// The bounds of what is stored of a text.
const (
	maxGatewayID = 128
	maxStored    = 1024 // the inbound_sms.text column (MySQL)
	maxInvoice   = 2048 // the payment_requests.invoice column (MySQL)
	maxNote      = 18   // an invoice's description shown as its note
)

// Receive records a text and acts on it before returning.
func (s *Service) Receive(ctx context.Context, in Inbound) (Result, error) {
	t, fresh, err := s.record(ctx, in)
	if err != nil || !fresh {
		return Result{InboundID: t.id, Outcome: OutcomeDuplicate}, err
	}
	ctx, cancel := context.WithTimeout(ctx, s.timeout())
	defer cancel()
	return s.act(ctx, t)
}

// Accept records a text and acts on it in the background, bounded by
// Config.Timeout, for a callback that must answer at once. It returns once
// the text is recorded: a callback repeated after that finds it. At most
// Config.MaxInFlight texts are acted on at once: past that the callback
// waits for a place until ctx ends, and a text that gets none stays
// recorded as received, unanswered (a burst must not start a decode and
// an address fetch per text all at once).
func (s *Service) Accept(ctx context.Context, in Inbound) error {
	t, fresh, err := s.record(ctx, in)
	if err != nil || !fresh {
		return err
	}
	if t.settled != "" {
		s.logText(t, Result{InboundID: t.id, Outcome: t.settled})
		return nil
	}
	s.init()
	select {
	case s.places <- struct{}{}:
	case <-ctx.Done():
		s.Log.Warn("sms: too many texts in hand; this one is recorded, not acted on", "phone", wallet.MaskPhone(t.phone),
			"inbound", t.id, "in_flight", cap(s.places))
		return nil
	}
	s.work.Add(1)
	go func() {
		defer s.work.Done()
		defer func() { <-s.places }()
		ctx, cancel := context.WithTimeout(s.life, s.timeout())
		defer cancel()
		if _, err := s.act(ctx, t); err != nil {
			s.Log.Error("sms: text not acted on", "phone", wallet.MaskPhone(t.phone), "inbound", t.id, "err", err)
		}
	}()
	return nil
}

// Close waits for the work Accept started; when ctx ends first it
// cancels that work (those texts keep the outcome "received") and waits
// for it to stop.
func (s *Service) Close(ctx context.Context) {
	s.init()
	done := make(chan struct{})
	go func() { s.work.Wait(); close(done) }()
	select {
	case <-done:
	case <-ctx.Done():
		s.stop()
		<-done
	}
}

func (s *Service) init() {
	s.once.Do(func() {
		s.life, s.stop = context.WithCancel(context.Background())
		s.places = make(chan struct{}, s.maxInFlight())
	})
}

// text is a recorded text and what is known of its sender.
type text struct {
	id    int64
	phone string
	user  store.User // ID 0: no user has the number
	body  string
	at    time.Time
	// recent counts the number's texts in the hour up to this one, itself
	// included.
	recent int64
	// settled is the outcome of a text recorded as one not to act on
	// (foreign, elsewhere); "" for one to act on.
	settled string
	// gateway, to, date and link are the callback's own fields, for the log.
	gateway, to, date, link string
}

// record stores a text once; fresh is false when its gateway id was
// recorded before.
func (s *Service) record(ctx context.Context, in Inbound) (t text, fresh bool, err error) {
	gw := strings.TrimSpace(in.GatewayID)
	if gw == "" || len(gw) > maxGatewayID || !printable(gw) {
		return text{}, false, fmt.Errorf("%w: gateway id", ErrMalformed)
	}
	phone, err := wallet.NormalizePhone(in.From, s.Wallet.Config().Region)
	if err != nil {
		// The error names the raw number: not passed on to a log.
		return text{}, false, fmt.Errorf("%w: sender is no phone number", ErrMalformed)
	}
	t = text{phone: phone, body: in.Text, at: s.now(), gateway: gw, to: lightning.CleanText(in.To, 20),
		date: lightning.CleanText(in.Date, 40), link: lightning.CleanText(in.LinkID, 64)}
	switch {
	case abroad(phone, s.Wallet.Config().Region):
		t.settled = OutcomeForeign
	case !s.forUs(in.To):
		t.settled = OutcomeElsewhere
	}
	outcome := OutcomeReceived
	if t.settled != "" {
		outcome = t.settled
	}
	err = s.Store.InTx(ctx, func(ctx context.Context, tx store.Tx) error {
		t.user = store.User{}
		if t.settled != "" {
			var err error
			t.id, err = tx.InsertInboundSMS(ctx, store.NewInboundSMS{GatewayID: gw, Phone: phone,
				Text: store.Clip(storable(in.Text), maxStored), Outcome: outcome, ReceivedAt: t.at})
			return err
		}
		u, err := tx.UserByPhone(ctx, phone)
		switch {
		case err == nil:
			// The user's row is locked before the count: a burst of
			// texts from one number is recorded one text at a time, and
			// each counts the ones before it. (Without it, under READ
			// COMMITTED, texts recorded at once do not see each other,
			// and each is answered as if it were the first.) A number
			// without a user has no row to lock; its replies are once a
			// day anyway (replyOnce).
			if t.user, err = tx.LockUser(ctx, u.ID); err != nil {
				return err
			}
		case !errors.Is(err, store.ErrNotFound):
			return err
		}
		t.id, err = tx.InsertInboundSMS(ctx, store.NewInboundSMS{GatewayID: gw, Phone: phone, UserID: t.user.ID,
			Text: store.Clip(storable(in.Text), maxStored), Outcome: outcome, ReceivedAt: t.at})
		if err != nil {
			return err
		}
		t.recent, err = tx.CountInboundSMSSince(ctx, phone, t.at.Add(-time.Hour))
		return err
	})
	if errors.Is(err, store.ErrConflict) {
		s.Log.Info("sms: repeated callback ignored", "phone", wallet.MaskPhone(phone), "gateway_id", gw)
		return t, false, nil
	}
	if err != nil {
		return t, false, fmt.Errorf("record inbound sms: %w", err)
	}
	return t, true, nil
}

// act decides what a recorded text comes to, records it and queues the
// reply. Only a failure to record is an error.
func (s *Service) act(ctx context.Context, t text) (Result, error) {
	var res Result
	var err error
	switch {
	case t.settled != "":
		res = Result{InboundID: t.id, Outcome: t.settled}
	case t.recent > int64(s.perHour()):
		res, err = s.replyOnce(ctx, t, "flood", OutcomeFlood, store.NewNotification{Kind: store.NotifyPayRefused, Body: store.PayRefusedFlood}, 0)
	case !registered(t.user):
		res, err = s.replyOnce(ctx, t, "register", OutcomeUnregistered, store.NewNotification{Kind: store.NotifyRegisterFirst},
			s.registerRepliesPerDay())
	default:
		res, err = s.pay(ctx, t)
	}
	if err != nil {
		return res, err
	}
	s.logText(t, res)
	return res, nil
}

// logText logs what became of a text: its sender masked, never its words.
func (s *Service) logText(t text, res Result) {
	s.Log.Info("sms received", "phone", wallet.MaskPhone(t.phone), "to", t.to, "gateway_id", t.gateway, "gateway_date", t.date,
		"link_id", t.link, "length", len(t.body), "outcome", res.Outcome, "request", res.RequestID, "replied", res.NotificationID != 0)
}

// abroad reports whether a number (E.164) is of another country calling
// code than the wallet's region: only numbers of the region hold wallets.
func abroad(phone, region string) bool {
	num, err := phonenumbers.Parse(phone, region)
	return err != nil || int(num.GetCountryCode()) != phonenumbers.GetCountryCodeForRegion(region)
}

// forUs reports whether a text was sent to the service's number, when
// one is configured: the gateway's "to", compared without a plus or
// spaces.
func (s *Service) forUs(to string) bool {
	if s.Config.Number == "" {
		return true
	}
	bare := func(n string) string {
		return strings.TrimPrefix(strings.ReplaceAll(strings.TrimSpace(n), " ", ""), "+")
	}
	return strings.EqualFold(bare(to), bare(s.Config.Number))
}

// registered reports whether a user has a wallet they can approve with.
func registered(u store.User) bool {
	return u.ID != 0 && u.Status != store.UserUnregistered && u.PINHash != ""
}

// pay reads a registered user's text and makes it a payment request, or
// refuses it.
func (s *Service) pay(ctx context.Context, t text) (Result, error) {
	cmd, ok := parse(t.body)
	if !ok {
		return s.refuse(ctx, t, store.PayRefusedInvalid, 0, "")
	}
	bolt11, payee := cmd.Invoice, ""
	if cmd.Address != "" {
		msat := cmd.Sats * 1000
		if !s.payable(msat) {
			return s.refuse(ctx, t, store.PayRefusedAmount, msat, "")
		}
		actx, cancel := context.WithTimeout(ctx, s.addressTimeout())
		got, err := s.Addresses.FetchInvoice(actx, cmd.Address, msat)
		cancel()
		switch {
		case errors.Is(err, lightning.ErrUnavailable):
			return s.unavailable(ctx, t, err)
		case err != nil || len(got) > maxInvoice:
			s.Log.Info("sms: lightning address gave no invoice", "phone", wallet.MaskPhone(t.phone), "address", addressForLog(cmd.Address),
				"err", scrubAddress(err, cmd.Address))
			return s.refuse(ctx, t, store.PayRefusedAddress, 0, cmd.Address)
		}
		bolt11, payee = got, cmd.Address
	}
	c, err := s.check(ctx, t, bolt11)
	switch {
	case errors.Is(err, lightning.ErrUnavailable):
		return s.unavailable(ctx, t, err)
	case err != nil:
		return Result{InboundID: t.id}, err
	case c.reason != "":
		return s.refuse(ctx, t, c.reason, c.amountMsat, "")
	}
	if payee == "" {
		// What the invoice says it is for stands beside who is paid,
		// quoted, never in their place.
		payee = c.payee
	}
	return s.request(ctx, t, bolt11, c.inv, payee)
}

// checked is an invoice as checked: a refusal's reason, or what a request
// needs.
type checked struct {
	reason     string
	amountMsat int64 // with the reason "amount"
	inv        lightning.DecodedInvoice
	payee      string
}

// check decodes an invoice with the node and refuses what can never be
// paid from this wallet by this user. The balance is not checked: it can
// change before the approval, which checks it.
func (s *Service) check(ctx context.Context, t text, bolt11 string) (checked, error) {
	ctx, cancel := context.WithTimeout(ctx, s.decodeTimeout())
	defer cancel()
	if len(bolt11) > maxInvoice {
		return checked{reason: store.PayRefusedInvalid}, nil
	}
	inv, err := s.Node.DecodeInvoice(ctx, bolt11)
	switch {
	case errors.Is(err, lightning.ErrInvalidInvoice):
		if n := networkOf(bolt11); n != "" && !sameNetwork(n, s.Config.Network) {
			return checked{reason: store.PayRefusedNetwork}, nil
		}
		return checked{reason: store.PayRefusedInvalid}, nil
	case err != nil:
		return checked{}, fmt.Errorf("%w: decode invoice: %v", lightning.ErrUnavailable, err)
	case inv.AmountMsat <= 0:
		return checked{reason: store.PayRefusedAmountless}, nil
	case inv.ExpiresAt.Sub(t.at) < s.expiryMargin():
		return checked{reason: store.PayRefusedExpired}, nil
	case !s.payable(inv.AmountMsat):
		return checked{reason: store.PayRefusedAmount, amountMsat: inv.AmountMsat}, nil
	}
	own, err := s.ownIdentity(ctx)
	if err != nil {
		return checked{}, fmt.Errorf("%w: node identity: %v", lightning.ErrUnavailable, err)
	}
	c := checked{inv: inv, payee: nodePayee(inv)}
	// One read for both: an invoice of our own node (paid inside the
	// ledger), and a payment of the hash by anyone.
	var ours store.Invoice
	var oursErr, paidErr error
	var payment store.Transaction
	err = s.Store.Autocommit(ctx, func(ctx context.Context, tx store.Tx) error {
		if inv.Destination == own {
			if ours, oursErr = tx.InvoiceByPaymentHash(ctx, inv.PaymentHash); oursErr != nil && !errors.Is(oursErr, store.ErrNotFound) {
				return oursErr
			}
		}
		if payment, paidErr = tx.PaymentByHash(ctx, inv.PaymentHash); paidErr != nil && !errors.Is(paidErr, store.ErrNotFound) {
			return paidErr
		}
		return nil
	})
	if err != nil {
		return checked{}, fmt.Errorf("check invoice: %w", err)
	}
	if paidErr == nil && (payment.Status == store.StatusPending || payment.Status == store.StatusCompleted) {
		return checked{reason: store.PayRefusedPaid}, nil
	}
	if inv.Destination == own {
		// Our node's invoice: the ledger's record says whose it is and
		// whether it can still be paid. One for the sender themself is
		// no payment.
		switch {
		case oursErr != nil, ours.UserID != 0 && ours.UserID == t.user.ID, ours.Phone == t.phone:
			return checked{reason: store.PayRefusedInvalid}, nil
		case ours.Status == store.InvoicePaid:
			return checked{reason: store.PayRefusedPaid}, nil
		case ours.Status != store.InvoicePending:
			return checked{reason: store.PayRefusedExpired}, nil
		}
		// Who is paid is the wallet's own record of the invoice: the
		// user's number, not what the invoice says.
		c.payee = ours.Phone
		if ours.UserID != 0 {
			if c.payee, err = s.phoneOf(ctx, ours.UserID); err != nil {
				return checked{}, err
			}
		}
		if c.payee == "" {
			c.payee = nodeName(inv.Destination)
		}
	}
	return c, nil
}

// payable reports whether an amount fits the wallet's limits on one
// payment and one day's sends: an amount outside them can never be paid.
func (s *Service) payable(msat int64) bool {
	cfg := s.Wallet.Config()
	return msat >= cfg.MinAmountMsat && msat <= cfg.MaxAmountMsat && msat <= cfg.DailyLimitMsat
}

// phoneOf is a user's number.
func (s *Service) phoneOf(ctx context.Context, userID int64) (string, error) {
	var u store.User
	err := s.Store.Autocommit(ctx, func(ctx context.Context, tx store.Tx) error {
		var err error
		u, err = tx.UserByID(ctx, userID)
		return err
	})
	if err != nil {
		return "", fmt.Errorf("payee of own invoice: %w", err)
	}
	return u.Phone, nil
}

// ownIdentity is our node's public key, asked once.
func (s *Service) ownIdentity(ctx context.Context) (string, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.identity == "" {
		id, err := s.Node.Identity(ctx)
		if err != nil {
			return "", err
		}
		s.identity = id
	}
	return s.identity, nil
}

// printable reports whether s is plain printable ASCII.
func printable(s string) bool {
	for i := range len(s) {
		if s[i] < 0x21 || s[i] > 0x7e {
			return false
		}
	}
	return true
}

// storable makes a stranger's text fit for any engine's text column: valid
// UTF-8 without control characters (PostgreSQL refuses NUL; a newline is
// kept as a space).
func storable(s string) string {
	s = strings.ToValidUTF8(s, "?")
	return strings.Map(func(r rune) rune {
		if r < 0x20 || r == 0x7f || (r >= 0x80 && r < 0xa0) {
			return ' '
		}
		return r
	}, s)
}

func (s *Service) now() time.Time {
	if s.Config.Now != nil {
		return s.Config.Now().UTC()
	}
	return time.Now().UTC()
}

func (s *Service) perHour() int {
	if s.Config.PerHour > 0 {
		return s.Config.PerHour
	}
	return 10
}

func (s *Service) registerRepliesPerDay() int {
	if s.Config.RegisterRepliesPerDay > 0 {
		return s.Config.RegisterRepliesPerDay
	}
	return 500
}

func (s *Service) maxInFlight() int {
	if s.Config.MaxInFlight > 0 {
		return s.Config.MaxInFlight
	}
	return 16
}

func (s *Service) timeout() time.Duration {
	if s.Config.Timeout > 0 {
		return s.Config.Timeout
	}
	return 30 * time.Second
}

func (s *Service) decodeTimeout() time.Duration {
	if s.Config.DecodeTimeout > 0 {
		return s.Config.DecodeTimeout
	}
	return 5 * time.Second
}

func (s *Service) addressTimeout() time.Duration {
	if s.Config.AddressTimeout > 0 {
		return s.Config.AddressTimeout
	}
	return 10 * time.Second
}

func (s *Service) expiryMargin() time.Duration {
	if s.Config.ExpiryMargin > 0 {
		return s.Config.ExpiryMargin
	}
	return time.Minute
}
