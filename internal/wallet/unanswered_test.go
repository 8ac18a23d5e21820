package wallet_test

import (
	"context"
	"errors"
	"testing"
	"time"

	"github.com/umeme-wallet/umeme/internal/database"
	"github.com/umeme-wallet/umeme/internal/dbtest"
	"github.com/umeme-wallet/umeme/internal/store"
	"github.com/umeme-wallet/umeme/internal/wallet"
)

// TestTransferCommitUnanswered loses, delays or drops a transfer's packets
// between the wallet and a database server (a TCP proxy), so that the
// caller's deadline cuts the transaction after its COMMIT went out. The
// wallet must then report what happened, never guess: a transfer that
// committed is a success (the user is not asked to send again), one that
// did not is a failure that moved nothing, and nothing may commit after
// the call returned. SQLite runs in the process: it has no packets to
// lose.
func TestTransferCommitUnanswered(t *testing.T) {
	for _, engine := range []string{"mysql", "postgres"} {
		t.Run(engine, func(t *testing.T) {
			t.Parallel()
			// The COMMIT as each engine's store sends it on its own (the
			// text the proxy watches for): MariaDB's driver writes the
			// statement, pgx the simple query "commit".
			commit := map[string]string{"mysql": "COMMIT", "postgres": "commit"}[engine]
			cases := []cutCase{
				{name: "answer lost after the commit", fault: func(p *dbtest.Proxy) { p.LoseRepliesAfter(commit) }, noDeadline: engine == "postgres", committed: true},
				{name: "commit never arrives", fault: func(p *dbtest.Proxy) { p.LoseRequestsFrom(commit) }, noDeadline: engine == "postgres"},
				{name: "commit arrives after the deadline", fault: func(p *dbtest.Proxy) { p.DelayRequestsFrom(commit, 1500*time.Millisecond) }, noDeadline: engine == "postgres"},
			}
			if engine == "mysql" {
				// Error 1180 is what a Galera node answers a COMMIT when it
				// loses the others meanwhile, and the write set may have
				// been applied by them. Here the server commits and the
				// proxy swaps its OK for that error (outside review).
				cases = append(cases, cutCase{name: "commit answered 1180 after committing", committed: true,
					fault: func(p *dbtest.Proxy) {
						p.ForgeReplyAfter(commit, mysqlError(1180, `Got error 6 "No such device or address" during COMMIT`))
					}})
			}
			if engine == "postgres" {
				// The transfer's one batch (BEGIN … COMMIT) under a deadline.
				cases = append(cases,
					cutCase{name: "batch answer lost", fault: (*dbtest.Proxy).LoseReplies, committed: true},
					cutCase{name: "batch never arrives", fault: (*dbtest.Proxy).LoseRequests},
					// Attack 27: the server starts the batch late (here the
					// network holds it; on a loaded machine the scheduler
					// does), so its statement_timeout is not yet due when
					// the caller's deadline passes, and pgx's cancel request
					// is lost (here the network drops it; under load it
					// comes late); the recipient's row is freed right after
					// the caller is told. The test has
					// used one connection at a time, so the pool holds one,
					// the transfer's: the read that learns the outcome goes
					// on a new one, not held.
					cutCase{name: "batch starts late behind a lock", fault: func(p *dbtest.Proxy) { p.LoseCancels(); p.DelayRequests(700 * time.Millisecond) }, lockRecipient: true},
				)
			}
			for _, c := range cases {
				t.Run(c.name, func(t *testing.T) {
					db, proxy, dbURL := dbtest.OpenProxied(t, engine, database.Options{MaxConns: 4})
					ctx := context.Background()
					w, _ := newWallet(t, db, func(c *wallet.Config) { c.AuthorizationTTL = time.Hour })
					a, b := register(t, w, 10_000*sat), register(t, w, 0)
					// A first transfer, cut the same way, warms the pool, its
					// prepared statements and the wallet's directory: the
					// next one sends only its posting.
					wctx, cancel := context.WithTimeout(ctx, 5*time.Second)
					if c.noDeadline {
						wctx, cancel = context.WithCancel(ctx)
					}
					_, err := w.Transfer(wctx, a.auth, b.user.Phone, 1_000*sat, "warm:"+a.user.Phone)
					cancel()
					if err != nil {
						t.Fatal(err)
					}
					before, beforeB := balance(t, w, a.user.ID), balance(t, w, b.user.ID)
					var release func()
					if c.lockRecipient {
						release = lockAccountOf(t, dbURL, engine, b.user.ID)
					}

					c.fault(proxy)
					tctx, cancel := context.WithTimeout(ctx, time.Second)
					if c.noDeadline {
						tctx, cancel = context.WithCancel(ctx)
						time.AfterFunc(time.Second, cancel)
					}
					sent, err := w.Transfer(tctx, a.auth, b.user.Phone, 2_000*sat, cutKey)
					cancel()
					if release != nil {
						release()
					}
					t.Logf("transfer returned %v (id %d)", err, sent.ID)
					// Anything still in flight has had its chance.
					time.Sleep(2 * time.Second)

					got, gotB := balance(t, w, a.user.ID), balance(t, w, b.user.ID)
					switch {
					case errors.Is(err, wallet.ErrOutcomeUnknown):
						t.Fatalf("outcome unknown, though the database answered: %v", err)
					case c.committed && err != nil:
						t.Fatalf("the transfer committed, and the caller was told %v", err)
					case !c.committed && err == nil:
						t.Fatalf("success reported for a transfer that did not commit")
					case err == nil && (sent.ID == 0 || got != before-2_000*sat || gotB != beforeB+2_000*sat):
						t.Fatalf("success reported: id %d, balances %d → %d and %d → %d", sent.ID, before, got, beforeB, gotB)
					case err != nil && (got != before || gotB != beforeB):
						t.Fatalf("the caller was told %v, and the balances moved: %d → %d and %d → %d", err, before, got, beforeB, gotB)
					case err != nil && !errors.Is(err, store.ErrCommitUnanswered):
						t.Fatalf("the failure does not say its commit went unanswered: %v", err)
					}
					// The same request again (a retried hop) finds what the
					// first did, and sends nothing more.
					again, err := w.Transfer(ctx, a.auth, b.user.Phone, 2_000*sat, cutKey)
					switch {
					case c.committed && (err != nil || again.ID != sent.ID):
						t.Fatalf("retry: %v, id %d (first %d)", err, again.ID, sent.ID)
					case !c.committed && err != nil:
						t.Fatalf("retry of a transfer that did not happen: %v", err)
					}
					if want := before - 2_000*sat; balance(t, w, a.user.ID) != want {
						t.Fatalf("after the retry the sender holds %d, want %d", balance(t, w, a.user.ID), want)
					}
					mustReconcile(t, w)
				})
			}
		})
	}
}

// cutKey is the idempotency key of the transfer TestTransferCommitUnanswered
// cuts.
const cutKey = "cut:1"

// cutCase is a fault of TestTransferCommitUnanswered.
type cutCase struct {
	name string
	// noDeadline cuts by cancelling instead: PostgreSQL then sends the
	// COMMIT on its own, not in the transfer's batch.
	noDeadline bool
	fault      func(p *dbtest.Proxy)
	// lockRecipient holds the recipient's account row until the call
	// returns, and then frees it.
	lockRecipient bool
	// committed is whether the transfer reaches the ledger.
	committed bool
}

// mysqlError is a MariaDB ERR packet answering a command (sequence 1).
func mysqlError(code uint16, msg string) []byte {
	payload := append([]byte{0xff, byte(code), byte(code >> 8), '#'}, []byte("HY000"+msg)...)
	return append([]byte{byte(len(payload)), byte(len(payload) >> 8), byte(len(payload) >> 16), 1}, payload...)
}

// lockAccountOf holds a lock on the account row of a user, from a
// connection straight to the server, until the returned func is called.
func lockAccountOf(t *testing.T, dbURL, engine string, userID int64) func() {
	t.Helper()
	raw := dbtest.RawDB(t, dbURL)
	ctx := context.Background()
	conn, err := raw.Conn(ctx)
	if err != nil {
		t.Fatal(err)
	}
	tx, err := conn.BeginTx(ctx, nil)
	if err != nil {
		t.Fatal(err)
	}
	q := "SELECT id FROM accounts WHERE user_id = $1 FOR UPDATE"
	if engine == "mysql" {
		q = "SELECT id FROM accounts WHERE user_id = ? FOR UPDATE"
	}
	var id int64
	if err := tx.QueryRowContext(ctx, q, userID).Scan(&id); err != nil {
		t.Fatal(err)
	}
	return func() {
		if err := tx.Rollback(); err != nil {
			t.Error(err)
		}
		conn.Close()
	}
}
