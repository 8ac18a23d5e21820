package wallet

import (
	"context"
	"errors"
	"sync"
	"time"

	"github.com/umeme-wallet/umeme/internal/store"
)

// directory remembers which user and account a phone number has. A number's
// user and account never change once created and are never deleted, so an
// entry can never go stale; entries are only added after the transaction
// that created them committed. It saves the transfer path a round trip for
// every recipient seen before.
type directory struct {
	mu      sync.Mutex
	entries map[string]accountRef
	max     int
}

// accountRef is a user and its wallet account.
type accountRef struct {
	userID, accountID int64
}

func newDirectory(max int) *directory {
	return &directory{entries: make(map[string]accountRef), max: max}
}

func (d *directory) get(phone string) (accountRef, bool) {
	d.mu.Lock()
	defer d.mu.Unlock()
	r, ok := d.entries[phone]
	return r, ok
}

// remember adds an entry; when the directory is full it starts over, which
// costs each number one lookup again.
func (d *directory) remember(phone string, r accountRef) {
	d.mu.Lock()
	defer d.mu.Unlock()
	if len(d.entries) >= d.max {
		clear(d.entries)
	}
	d.entries[phone] = r
}

// normalize is NormalizePhone with a fast path: a number already in the
// directory was normalised when it went in, so its E.164 form is known good
// (parsing a number costs more than the rest of a transfer's work here).
func (w *Service) normalize(raw string) (string, error) {
	if _, ok := w.directory.get(raw); ok {
		return raw, nil
	}
	return NormalizePhone(raw, w.cfg.Region)
}

// resolve returns the account of a phone number inside tx, creating the user
// (unregistered) if the number has none; the caller remembers it once tx
// has committed.
func (d *directory) resolve(ctx context.Context, tx store.Tx, phone string, now time.Time) (accountRef, error) {
	if r, ok := d.get(phone); ok {
		return r, nil
	}
	ua, err := tx.UserAccountByPhone(ctx, phone)
	if errors.Is(err, store.ErrNotFound) {
		if _, _, err = ensureUser(ctx, tx, phone, now); err != nil {
			return accountRef{}, err
		}
		ua, err = tx.UserAccountByPhone(ctx, phone)
	}
	if err != nil {
		return accountRef{}, err
	}
	return accountRef{userID: ua.UserID, accountID: ua.AccountID}, nil
}
