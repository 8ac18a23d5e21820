package main

import (
	"context"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/umeme-wallet/umeme/internal/database"
	"github.com/umeme-wallet/umeme/internal/dbtest"
	"github.com/umeme-wallet/umeme/internal/store"
	"github.com/umeme-wallet/umeme/internal/store/storetest"
	"github.com/umeme-wallet/umeme/internal/wallet"
)

// TestBackupRestore runs scripts/backup-restore-test.sh on PostgreSQL and
// MariaDB: a database the wallet has populated (registered users, transfers
// with their receipts queued, a payment still reserved) is dumped with
// pg_dump or mariadb-dump, restored into a fresh database, checked there by
// `server migrate version` and `server reconcile`, and compared with its
// source. The copy then takes a new transfer (the identity sequences and, on
// MariaDB, the ledger's procedure came along) and still reconciles; and the
// script refuses to restore over a database that has tables.
func TestBackupRestore(t *testing.T) {
	server := filepath.Join(t.TempDir(), "server")
	build := exec.Command("go", "build", "-o", server, ".")
	if out, err := build.CombinedOutput(); err != nil {
		t.Fatalf("go build: %v\n%s", err, out)
	}
	for _, engine := range []string{"postgres", "mysql"} {
		t.Run(engine, func(t *testing.T) {
			t.Parallel()
			for _, tool := range map[string][]string{"postgres": {"pg_dump", "pg_restore", "psql"}, "mysql": {"mariadb-dump", "mariadb"}}[engine] {
				if _, err := exec.LookPath(tool); err != nil {
					t.Fatalf("%s is not installed: the %s backup cannot be tested", tool, engine)
				}
			}
			source, target := dbtest.URL(t, engine), dbtest.URL(t, engine)
			populateForBackup(t, source)

			out, err := restoreDrill(t, server, source, target)
			if err != nil {
				t.Fatalf("the restore drill failed: %v\n%s", err, out)
			}
			for _, want := range []string{"(dirty: false)", "books balance", "restore verified"} {
				if !strings.Contains(out, want) {
					t.Fatalf("the drill's output lacks %q:\n%s", want, out)
				}
			}
			for _, l := range strings.Split(out, "\n") {
				if strings.HasPrefix(l, "source:") || strings.HasPrefix(l, "copy:") || strings.HasPrefix(l, "dump ") {
					t.Log(l)
				}
			}

			// The copy works on: a transfer gets new ids and posts.
			w, db := openDrillWallet(t, target)
			a, b := drillRegistered(t, w, 0), drillRegistered(t, w, 0)
			if _, err := w.Adjust(context.Background(), a.user.Phone, 3_000_000, "after the restore", "restored-fund"); err != nil {
				t.Fatal(err)
			}
			if _, err := w.Transfer(context.Background(), a.auth, b.user.Phone, 1_000_000, "restored-transfer"); err != nil {
				t.Fatalf("a transfer on the restored copy: %v", err)
			}
			if rep, err := w.Reconcile(context.Background()); err != nil || !rep.OK() {
				t.Fatalf("reconcile of the copy after a transfer: %+v %v", rep, err)
			}
			db.Close()

			out, err = restoreDrill(t, server, source, target)
			if err == nil || !strings.Contains(out, "already has tables") {
				t.Fatalf("a restore over a database with tables was not refused: %v\n%s", err, out)
			}
		})
	}
}

// restoreDrill runs the script from the repository's root.
func restoreDrill(t *testing.T, server, source, target string) (string, error) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 3*time.Minute)
	defer cancel()
	cmd := exec.CommandContext(ctx, "bash", "scripts/backup-restore-test.sh", source, target)
	cmd.Dir = filepath.Join("..", "..")
	cmd.Env = append(os.Environ(), "SERVER="+server)
	out, err := cmd.CombinedOutput()
	return string(out), err
}

// populateForBackup gives the database what a running wallet leaves: registered
// users, operator credits, transfers (each with a receipt queued), a
// payment reserved and not yet settled, and one settled.
func populateForBackup(t *testing.T, url string) {
	t.Helper()
	ctx := context.Background()
	w, db := openDrillWallet(t, url)
	defer db.Close()
	ms := make([]drillUser, 6)
	for i := range ms {
		ms[i] = drillRegistered(t, w, 50_000_000)
	}
	for i := range 20 {
		from, to := ms[i%len(ms)], ms[(i*7+1)%len(ms)]
		if from.user.ID == to.user.ID {
			continue
		}
		if _, err := w.Transfer(ctx, from.auth, to.user.Phone, int64(1+i)*100_000, fmt.Sprintf("populate-%d", i)); err != nil {
			t.Fatal(err)
		}
	}
	for i, settle := range []bool{false, true} {
		p, err := w.Reserve(ctx, ms[i].auth, wallet.Reservation{Type: store.TypePayment, AmountMsat: 2_000_000, AllowanceMsat: 20_000,
			PaymentHash: storetest.Token(t, 32), IdempotencyKey: fmt.Sprintf("populate-pay-%d", i)})
		if err != nil {
			t.Fatal(err)
		}
		if settle {
			if _, err := w.Settle(ctx, wallet.Settlement{TransactionID: p.ID, RailFeeMsat: 1_000}); err != nil {
				t.Fatal(err)
			}
		}
	}
}

type drillUser struct {
	user wallet.User
	auth wallet.Authorization
}

func openDrillWallet(t *testing.T, url string) (*wallet.Service, database.DB) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	db, err := database.Open(ctx, url, database.Options{Migrate: true})
	if err != nil {
		t.Fatal(err)
	}
	cfg := wallet.DefaultConfig()
	cfg.Argon2 = wallet.Argon2Params{Time: 1, Memory: 1024, Threads: 1}
	w, err := wallet.New(ctx, db, cfg)
	if err != nil {
		db.Close()
		t.Fatal(err)
	}
	return w, db
}

// drillRegistered makes a registered user holding msat and its authorisation.
func drillRegistered(t *testing.T, w *wallet.Service, msat int64) drillUser {
	t.Helper()
	ctx := context.Background()
	u, _, err := w.EnsureUser(ctx, storetest.Phone(t))
	if err != nil {
		t.Fatal(err)
	}
	if err := w.Register(ctx, u.ID, "2791"); err != nil {
		t.Fatal(err)
	}
	if msat > 0 {
		if _, err := w.Adjust(ctx, u.Phone, msat, "fund", "fund:"+u.Phone); err != nil {
			t.Fatal(err)
		}
	}
	auth, err := w.VerifyPIN(ctx, u.ID, "2791")
	if err != nil {
		t.Fatal(err)
	}
	return drillUser{user: u, auth: auth}
}
