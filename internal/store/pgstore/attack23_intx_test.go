package pgstore_test

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"

	"github.com/umeme-wallet/umeme/internal/store"
	"github.com/umeme-wallet/umeme/internal/store/pgstore"
)

// attackMigrated opens a migrated store at dsn (fresh when empty) and a
// plain connection beside it.
func attackMigrated(t *testing.T, dsn string, isolation store.Isolation) (context.Context, *pgstore.Store, *pgx.Conn) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	t.Cleanup(cancel)
	return ctx, migratedStore(ctx, t, dsn, pgstore.Options{MaxConns: 2, Isolation: isolation}), plainConn(ctx, t, dsn)
}

func attackUser(i int) store.NewUser {
	return store.NewUser{Phone: fmt.Sprintf("+2547990%05d", i), LightningName: fmt.Sprintf("attack23u%d", i), Language: "en", Status: store.UserActive, Now: time.Now()}
}

func countUsers(ctx context.Context, t *testing.T, c *pgx.Conn) int {
	t.Helper()
	var n int
	if err := c.QueryRow(ctx, "SELECT count(*) FROM users WHERE lightning_name LIKE 'attack23u%'").Scan(&n); err != nil {
		t.Fatal(err)
	}
	return n
}

// assertNoTxLeft: no connection of the pool is out and no session of the
// database is left in a transaction (asked on c).
func assertNoTxLeft(ctx context.Context, t *testing.T, s *pgstore.Store, c *pgx.Conn) {
	t.Helper()
	// pgxpool destroys a dropped connection in the background, and a
	// closed connection's backend may take a moment to go.
	acquired := pgstore.PoolOf(s).Stat().AcquiredConns()
	for i := 0; i < 100 && acquired != 0; i++ {
		time.Sleep(10 * time.Millisecond)
		acquired = pgstore.PoolOf(s).Stat().AcquiredConns()
	}
	if acquired != 0 {
		t.Errorf("%d connections still acquired", acquired)
	}
	var n int
	for i := 0; i < 50; i++ {
		if err := c.QueryRow(ctx, `SELECT count(*) FROM pg_stat_activity WHERE datname = current_database()
			AND pid <> pg_backend_pid() AND state LIKE 'idle in transaction%'`).Scan(&n); err != nil {
			t.Fatal(err)
		}
		if n == 0 {
			return
		}
		time.Sleep(20 * time.Millisecond)
	}
	t.Errorf("%d sessions idle in a transaction", n)
}

// TestAttack23RetryableErrorsInFirstStatementAndCommit: a trigger makes
// the first statement of InTx's transaction (it travels with the BEGIN)
// fail with 40001 or 40P01 twice, or a deferred constraint trigger makes
// the COMMIT fail so: InTx runs it again and the user is inserted once,
// at either isolation.
func TestAttack23RetryableErrorsInFirstStatementAndCommit(t *testing.T) {
	for _, isolation := range []store.Isolation{store.IsolationDefault, store.IsolationSerializable} {
		ctx, s, c := attackMigrated(t, freshDatabase(t), isolation)
		for i, tc := range []struct{ code, when string }{
			{"40001", "statement"}, {"40P01", "statement"}, {"40001", "commit"}, {"40P01", "commit"},
		} {
			if _, err := c.Exec(ctx, fmt.Sprintf(`
				DROP TRIGGER IF EXISTS attack23 ON users;
				DROP SEQUENCE IF EXISTS attack23_seq; CREATE SEQUENCE attack23_seq;
				CREATE OR REPLACE FUNCTION attack23_fail() RETURNS trigger LANGUAGE plpgsql AS $$
				BEGIN
					IF nextval('attack23_seq') <= 2 THEN
						RAISE EXCEPTION 'attack23 injected' USING ERRCODE = '%s';
					END IF;
					RETURN NEW;
				END $$;`, tc.code)); err != nil {
				t.Fatal(err)
			}
			trig := `CREATE TRIGGER attack23 BEFORE INSERT ON users FOR EACH ROW EXECUTE FUNCTION attack23_fail()`
			if tc.when == "commit" {
				trig = `CREATE CONSTRAINT TRIGGER attack23 AFTER INSERT ON users DEFERRABLE INITIALLY DEFERRED FOR EACH ROW EXECUTE FUNCTION attack23_fail()`
			}
			if _, err := c.Exec(ctx, trig); err != nil {
				t.Fatal(err)
			}
			before := countUsers(ctx, t, c)
			attempts := 0
			err := s.InTx(ctx, func(ctx context.Context, tx store.Tx) error {
				attempts++
				_, err := tx.InsertUser(ctx, attackUser(100*i+attempts))
				return err
			})
			if err != nil || attempts != 3 {
				t.Errorf("%s %s at %s: %d attempts, %v", isolation, tc.code, tc.when, attempts, err)
			}
			if n := countUsers(ctx, t, c) - before; n != 1 {
				t.Errorf("%s %s at %s: %d users inserted", isolation, tc.code, tc.when, n)
			}
			assertNoTxLeft(ctx, t, s, c)
		}
		c.Exec(ctx, "DROP TRIGGER IF EXISTS attack23 ON users")
	}
}

// TestAttack23IgnoredErrorThenCommit: fn ignores the error of its first
// statement (a PL/pgSQL trigger raising) and of its second and returns nil:
// nothing is committed and InTx says so.
func TestAttack23IgnoredErrorThenCommit(t *testing.T) {
	ctx, s, c := attackMigrated(t, freshDatabase(t), store.IsolationDefault)
	if _, err := c.Exec(ctx, `
		CREATE FUNCTION attack23_fail() RETURNS trigger LANGUAGE plpgsql AS $$
		BEGIN
			IF NEW.lightning_name = 'attack23u1' THEN RAISE EXCEPTION 'attack23 refused'; END IF;
			RETURN NEW;
		END $$;
		CREATE TRIGGER attack23 BEFORE INSERT ON users FOR EACH ROW EXECUTE FUNCTION attack23_fail()`); err != nil {
		t.Fatal(err)
	}
	var firstErr, secondErr error
	err := s.InTx(ctx, func(ctx context.Context, tx store.Tx) error {
		_, firstErr = tx.InsertUser(ctx, attackUser(1))
		_, secondErr = tx.InsertUser(ctx, attackUser(2))
		return nil
	})
	if err == nil || countUsers(ctx, t, c) != 0 {
		t.Errorf("InTx %v, %d users (first %v, second %v)", err, countUsers(ctx, t, c), firstErr, secondErr)
	}
	if errors.Is(err, store.ErrRetryable) {
		t.Errorf("a commit answered ROLLBACK is retryable: %v", err)
	}
	assertNoTxLeft(ctx, t, s, c)
}

// TestAttack23PanicInFn: fn panics after its first statement, and after
// opening (not reading) its first rows: the panic goes through, nothing
// is committed, no lock or transaction stays on a pooled connection.
func TestAttack23PanicInFn(t *testing.T) {
	ctx, s, c := attackMigrated(t, freshDatabase(t), store.IsolationDefault)
	for _, open := range []bool{false, true} {
		func() {
			defer func() {
				if recover() == nil {
					t.Error("the panic did not go through")
				}
			}()
			s.InTx(ctx, func(ctx context.Context, tx store.Tx) error {
				if _, err := tx.InsertUser(ctx, attackUser(1)); err != nil {
					return err
				}
				if open {
					// Leave the connection busy: a statement whose
					// answer is never read.
					tx.InsertUser(context.WithoutCancel(ctx), attackUser(2))
				}
				panic("attack23")
			})
		}()
		if n := countUsers(ctx, t, c); n != 0 {
			t.Errorf("%d users after a panic", n)
		}
		assertNoTxLeft(ctx, t, s, c)
	}
	// The pool still works and the name is free.
	if err := s.InTx(ctx, func(ctx context.Context, tx store.Tx) error { _, err := tx.InsertUser(ctx, attackUser(1)); return err }); err != nil {
		t.Fatal(err)
	}
}

// TestAttack23RealDeadlockAndSerializationFailure: two InTx transactions
// lock two users' rows in opposite orders (a real 40P01), and at
// SERIALIZABLE two write-skew transactions (a real 40001): InTx retries
// the loser and both land, each once.
func TestAttack23RealDeadlockAndSerializationFailure(t *testing.T) {
	for _, isolation := range []store.Isolation{store.IsolationDefault, store.IsolationSerializable} {
		ctx, s, c := attackMigrated(t, freshDatabase(t), isolation)
		var ids [2]int64
		for i := range ids {
			if err := s.InTx(ctx, func(ctx context.Context, tx store.Tx) error {
				var err error
				ids[i], err = tx.InsertUser(ctx, attackUser(i))
				if err == nil {
					_, err = tx.InsertUserAccount(ctx, ids[i], time.Now())
				}
				return err
			}); err != nil {
				t.Fatal(err)
			}
		}
		var wg sync.WaitGroup
		var attempts [2]atomic.Int32
		var errs [2]error
		barrier := make(chan struct{}, 2)
		for w := 0; w < 2; w++ {
			wg.Add(1)
			go func() {
				defer wg.Done()
				errs[w] = s.InTx(ctx, func(ctx context.Context, tx store.Tx) error {
					n := attempts[w].Add(1)
					a, err := tx.AccountByUserID(ctx, ids[w])
					if err != nil {
						return err
					}
					if _, err := tx.LockAccounts(ctx, a.ID); err != nil {
						return err
					}
					if n == 1 {
						barrier <- struct{}{}
						for len(barrier) < 2 {
							time.Sleep(time.Millisecond)
						}
					}
					b, err := tx.AccountByUserID(ctx, ids[1-w])
					if err != nil {
						return err
					}
					_, err = tx.LockAccounts(ctx, b.ID)
					return err
				})
			}()
		}
		wg.Wait()
		if errs[0] != nil || errs[1] != nil {
			t.Errorf("%s: %v / %v", isolation, errs[0], errs[1])
		}
		if attempts[0].Load()+attempts[1].Load() < 3 {
			t.Logf("%s: no collision (%d, %d attempts)", isolation, attempts[0].Load(), attempts[1].Load())
		}
		t.Logf("%s: attempts %d, %d; retries %d", isolation, attempts[0].Load(), attempts[1].Load(), s.Retries())
		assertNoTxLeft(ctx, t, s, c)
	}
}

// commitDropper is a TCP proxy in front of PostgreSQL that, once armed,
// passes the next simple-protocol COMMIT to the server and then cuts the
// client off before the answer comes back: the COMMIT's outcome is
// unknown to the client (the server did commit).
type commitDropper struct {
	ln    net.Listener
	armed atomic.Bool
	cut   atomic.Int32
}

func newCommitDropper(t *testing.T) *commitDropper {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	d := &commitDropper{ln: ln}
	t.Cleanup(func() { ln.Close() })
	go func() {
		for {
			cl, err := ln.Accept()
			if err != nil {
				return
			}
			go d.serve(cl)
		}
	}()
	return d
}

func (d *commitDropper) serve(cl net.Conn) {
	sv, err := net.Dial("tcp", "127.0.0.1:5432")
	if err != nil {
		cl.Close()
		return
	}
	defer sv.Close()
	defer cl.Close()
	var mute atomic.Bool
	go func() {
		buf := make([]byte, 32<<10)
		for {
			n, err := sv.Read(buf)
			if n > 0 && !mute.Load() {
				cl.Write(buf[:n])
			}
			if err != nil {
				cl.Close() // the server hung up (as after a cancel request)
				return
			}
		}
	}()
	// The startup message has no type byte.
	var hdr [5]byte
	if _, err := io.ReadFull(cl, hdr[:4]); err != nil {
		return
	}
	n := int(hdr[0])<<24 | int(hdr[1])<<16 | int(hdr[2])<<8 | int(hdr[3])
	body := make([]byte, n-4)
	if _, err := io.ReadFull(cl, body); err != nil {
		return
	}
	sv.Write(append(hdr[:4:4], body...))
	for {
		if _, err := io.ReadFull(cl, hdr[:]); err != nil {
			return
		}
		n := int(hdr[1])<<24 | int(hdr[2])<<16 | int(hdr[3])<<8 | int(hdr[4])
		body := make([]byte, n-4)
		if _, err := io.ReadFull(cl, body); err != nil {
			return
		}
		drop := hdr[0] == 'Q' && strings.HasPrefix(strings.ToLower(string(body)), "commit") && d.armed.CompareAndSwap(true, false)
		if drop {
			mute.Store(true)
		}
		if _, err := sv.Write(append(hdr[:5:5], body...)); err != nil {
			return
		}
		if drop {
			time.Sleep(300 * time.Millisecond) // the server commits
			d.cut.Add(1)
			cl.Close()
			return
		}
	}
}

// TestAttack23CommitLostOnTheWire: the COMMIT reaches the server, which
// commits, but its answer never comes back. InTx must not run fn again
// (that would insert the money twice) and must not call the error
// retryable.
func TestAttack23CommitLostOnTheWire(t *testing.T) {
	for _, isolation := range []store.Isolation{store.IsolationDefault, store.IsolationSerializable} {
		dsn := freshDatabase(t)
		d := newCommitDropper(t)
		_, port, _ := net.SplitHostPort(d.ln.Addr().String())
		proxied := strings.Replace(dsn, "127.0.0.1:5432", "127.0.0.1:"+port, 1)
		if proxied == dsn {
			t.Fatalf("cannot proxy %s", dsn)
		}
		ctx, s, c := attackMigrated(t, proxied, isolation)
		attempts := 0
		start := time.Now()
		defer func() { t.Logf("took %v; acquired %d", time.Since(start), pgstore.PoolOf(s).Stat().AcquiredConns()) }()
		err := s.InTx(ctx, func(ctx context.Context, tx store.Tx) error {
			attempts++
			if _, err := tx.InsertUser(ctx, attackUser(attempts)); err != nil {
				return err
			}
			d.armed.Store(true)
			return nil
		})
		if d.cut.Load() != 1 {
			t.Fatalf("the proxy cut %d connections", d.cut.Load())
		}
		if err == nil || errors.Is(err, store.ErrRetryable) || attempts != 1 {
			t.Errorf("%s: commit lost: %d attempts, %v", isolation, attempts, err)
		}
		if n := countUsers(ctx, t, c); n != 1 {
			t.Errorf("%s: %d users", isolation, n)
		}
		t.Logf("%s: %v after %v", isolation, err, time.Since(start))
		assertNoTxLeft(ctx, t, s, c)
	}
}
