package world

import (
	"context"
	"errors"
	"fmt"
	"os"
	"strings"
	"sync"
	"time"

	"github.com/umeme-wallet/umeme/internal/database"
	"github.com/umeme-wallet/umeme/internal/store"
)

// The operator's view reads the server's database as `server reconcile`
// does: in one read-only snapshot (store.Snapshot), which takes no write
// lock and makes no writer wait. It lists the users the world knows by
// phone (the store has no list of all users; the liabilities, though,
// count every user, as minus the system accounts' sum), the system
// accounts, and reconcile's verdict.

// operatorTimeout bounds one reading of the database.
const operatorTimeout = 10 * time.Second

// operator holds the server's database, opened on first use (the server
// creates and migrates it).
type operator struct {
	url string
	mu  sync.Mutex
	db  database.DB
}

// userView is one user in the operator's table.
type userView struct {
	Phone       string `json:"phone"`
	Status      string `json:"status"`
	BalanceSats int64  `json:"balanceSats"`
}

// reconcileView is reconcile's verdict.
type reconcileView struct {
	OK   bool   `json:"ok"`
	Text string `json:"text"`
}

// operatorView is the operator's panel.
type operatorView struct {
	Users           []userView       `json:"users"`
	LiabilitiesSats int64            `json:"liabilitiesSats"`
	SystemAccounts  map[string]int64 `json:"systemAccounts"`
	Reconcile       reconcileView    `json:"reconcile"`
}

// systemAccounts are the operator's accounts, in the panel's order.
var systemAccounts = []store.SystemAccountCode{store.AccountLightning, store.AccountMpesa, store.AccountFees,
	store.AccountAdjustments, store.AccountReserved}

// view reads the panel for the phones the world knows. A database that
// cannot be read is a panel whose reconcile says why.
func (o *operator) view(ctx context.Context, phones []string) operatorView {
	v := operatorView{Users: []userView{}, SystemAccounts: map[string]int64{}}
	db, err := o.open(ctx)
	if err == nil {
		ctx, cancel := context.WithTimeout(ctx, operatorTimeout)
		defer cancel()
		err = db.Snapshot(ctx, func(ctx context.Context, tx store.Tx) error {
			return read(ctx, tx, phones, &v)
		})
	}
	if err != nil {
		v.Reconcile = reconcileView{OK: false, Text: "cannot read the server's database: " + err.Error()}
	}
	return v
}

// read fills v from one snapshot.
func read(ctx context.Context, tx store.Tx, phones []string, v *operatorView) error {
	for _, p := range phones {
		ua, err := tx.UserAccountByPhone(ctx, p)
		if errors.Is(err, store.ErrNotFound) {
			continue
		}
		if err != nil {
			return err
		}
		v.Users = append(v.Users, userView{Phone: p, Status: string(ua.UserStatus), BalanceSats: ua.BalanceMsat / 1000})
	}
	var system int64
	for _, code := range systemAccounts {
		a, err := tx.SystemAccount(ctx, code)
		if err != nil {
			return err
		}
		system += a.BalanceMsat
		v.SystemAccounts[string(code)] = a.BalanceMsat / 1000
	}
	// Every balance sums to zero: what the users hold is what the
	// operator's accounts owe.
	v.LiabilitiesSats = -system / 1000
	rep, err := tx.Reconcile(ctx)
	if err != nil {
		return err
	}
	v.Reconcile = reconcileView{OK: rep.OK(), Text: reconcileText(rep, -system)}
	return nil
}

// reconcileText is reconcile's verdict in a line.
func reconcileText(rep store.ReconcileReport, usersMsat int64) string {
	if rep.OK() {
		return fmt.Sprintf("books balance: every transaction sums to zero, every cached balance is its entries' sum, "+
			"every transaction has its shape and every account's chain verifies; users hold %s sats", group(usersMsat/1000))
	}
	var found []string
	for _, c := range []struct {
		n    int
		what string
	}{
		{len(rep.UnbalancedTransactions), "unbalanced transactions"}, {len(rep.BalanceDrift), "cached balances off their entries"},
		{len(rep.NegativeUserAccounts), "negative user accounts"}, {len(rep.ReservationMismatches), "reservation mismatches"},
		{len(rep.ShapeViolations), "transactions of the wrong shape"}, {len(rep.ChainBreaks), "broken hash chains"},
		{len(rep.DayCounterMismatches), "daily counters off"},
	} {
		if c.n > 0 {
			found = append(found, fmt.Sprintf("%d %s", c.n, c.what))
		}
	}
	if rep.TotalMsat != 0 {
		found = append(found, fmt.Sprintf("balances sum to %d msat, not 0", rep.TotalMsat))
	}
	return "VIOLATIONS: " + strings.Join(found, ", ")
}

// open opens the database once it exists: the world must not create the
// server's SQLite file before the server migrates it.
func (o *operator) open(ctx context.Context) (database.DB, error) {
	o.mu.Lock()
	defer o.mu.Unlock()
	if o.db != nil {
		return o.db, nil
	}
	if o.url == "" {
		return nil, errors.New("no database configured")
	}
	engine, err := database.Engine(o.url)
	if err != nil {
		return nil, err
	}
	if engine == "sqlite" {
		path := strings.TrimPrefix(strings.TrimPrefix(o.url, "sqlite:"), "//")
		if _, err := os.Stat(path); err != nil {
			return nil, fmt.Errorf("the server has not created %s yet", path)
		}
	}
	db, err := database.Open(ctx, o.url, database.Options{MaxConns: 2})
	if err != nil {
		return nil, err
	}
	o.db = db
	return db, nil
}

func (o *operator) close() {
	o.mu.Lock()
	defer o.mu.Unlock()
	if o.db != nil {
		o.db.Close()
		o.db = nil
	}
}
