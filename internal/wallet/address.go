package wallet

import (
	"context"
	"errors"
	"fmt"
	"regexp"
	"strings"

	"github.com/umeme-wallet/umeme/internal/store"
)

// Lightning Address names. Every valid phone number has one, its digits
// (LUD-16 names are a-z0-9-_.), and it answers the same whether or not the
// number has an account: what a stranger gets for a number tells nothing
// about it, and money sent to a number without an account waits for its
// owner, as a transfer's does.
//
// A user may also choose a name, so as not to publish the number: 3 to 20
// lower-case letters and digits with at least one letter, so that it never
// looks like a number. A chosen name is its user's for good. When the user
// chooses another, the old one keeps paying them and nobody else can take
// it: an address that payers saved must never start paying a stranger.
// MaxLightningNames bounds the names one user holds, so that nobody hoards
// names by changing them in a loop.

// MaxLightningNames is how many names one user can choose in all.
const MaxLightningNames = 5

// chosenName is the shape of a chosen name; it must also hold one of the
// letters.
var chosenName = regexp.MustCompile(`^[a-z0-9]{3,20}$`)

const letters = "abcdefghijklmnopqrstuvwxyz"

// reservedNames could pass for the operator or a service; nobody gets them.
var reservedNames = map[string]bool{}

func init() {
	for _, n := range strings.Fields(`
		abuse account accounts admin administrator airtel api billing bitcoin btc cashier contact
		customercare docs help helpdesk hostmaster info lightning lnurl lnurlp mail mpesa node noreply
		null official operator pay payment payments postmaster refund refunds root safaricom sats satoshi
		security server service staff support sysadmin system team telkom test umeme undefined user wallet
		webmaster www`) {
		reservedNames[n] = true
	}
}

// CheckChosenName refuses a name a user may not choose: ErrInvalidName for
// its shape, ErrNameReserved for a reserved one.
func CheckChosenName(name string) error {
	if !chosenName.MatchString(name) || !strings.ContainsAny(name, letters) {
		return fmt.Errorf("%w: %q", ErrInvalidName, name)
	}
	if reservedNames[name] {
		return fmt.Errorf("%w: %q", ErrNameReserved, name)
	}
	for _, brand := range impersonated {
		if strings.Contains(name, brand) {
			return fmt.Errorf("%w: %q", ErrNameReserved, name)
		}
	}
	return nil
}

// impersonated are names of the operator, its rails and its support that
// may not appear anywhere in a chosen name ("mpesaagent", "umemesupport").
var impersonated = []string{"umeme", "mpesa", "safaricom", "airtel", "telkom", "support", "admin", "customercare", "helpdesk", "official", "refund"}

// AddressName is the name of a Lightning Address, checked.
type AddressName struct {
	Name string
	// Phone is the number (E.164) a name of digits stands for; empty for a
	// chosen name.
	Phone string
}

// ParseAddressName reads the name part of an address (upper case is read
// as lower case). A name of digits must be a valid number written with its
// country code, exactly as the number's own address writes it; any other
// name must have a chosen name's shape. Anything else is ErrUnknownAddress,
// the same answer an unknown chosen name gets.
func ParseAddressName(raw string) (AddressName, error) {
	name := strings.ToLower(raw)
	if name != "" && len(name) <= 15 && strings.Trim(name, "0123456789") == "" {
		phone, err := NormalizePhone("+"+name, "")
		if err == nil && LightningName(phone) == name {
			return AddressName{Name: name, Phone: phone}, nil
		}
		return AddressName{}, ErrUnknownAddress
	}
	if !chosenName.MatchString(name) || !strings.ContainsAny(name, letters) {
		return AddressName{}, ErrUnknownAddress
	}
	return AddressName{Name: name}, nil
}

// AddressRecipient is whom an address pays.
type AddressRecipient struct {
	Name  string
	Phone string // E.164
	// UserID is the user of a chosen name; 0 for a number's digits, which
	// are not looked up: the number's user is found (or created) when a
	// payment arrives.
	UserID int64
}

// ResolveAddress finds whom an address name pays. The digits of a valid
// number need no look-up at all, so numbers with and without an account
// cost the same; a chosen name nobody holds is ErrUnknownAddress.
func (w *Service) ResolveAddress(ctx context.Context, a AddressName) (AddressRecipient, error) {
	if a.Phone != "" {
		return AddressRecipient{Name: a.Name, Phone: a.Phone}, nil
	}
	var u User
	err := w.store.Autocommit(ctx, func(ctx context.Context, tx store.Tx) error {
		owner, err := tx.LightningNameOwner(ctx, a.Name)
		if err != nil {
			return err
		}
		u, err = tx.UserByID(ctx, owner)
		return err
	})
	if errors.Is(err, store.ErrNotFound) {
		return AddressRecipient{}, ErrUnknownAddress
	}
	if err != nil {
		return AddressRecipient{}, fmt.Errorf("resolve address: %w", err)
	}
	return AddressRecipient{Name: a.Name, Phone: u.Phone, UserID: u.ID}, nil
}

// SetLightningName makes name (read as lower case) the name of the user's
// address: a new one is the user's for good, one of their own is shown
// again. Refusals: ErrInvalidName, ErrNameReserved, ErrNameTaken (by
// someone else, now or before), ErrTooManyNames. It returns the name set.
func (w *Service) SetLightningName(ctx context.Context, userID int64, raw string) (string, error) {
	name := strings.ToLower(strings.TrimSpace(raw))
	if err := CheckChosenName(name); err != nil {
		return "", err
	}
	err := w.store.InTx(ctx, func(ctx context.Context, tx store.Tx) error {
		now := w.now()
		// The user's row lock serialises their changes, so the count holds.
		if _, err := tx.LockUser(ctx, userID); err != nil {
			return err
		}
		owner, err := tx.LightningNameOwner(ctx, name)
		switch {
		case err == nil && owner != userID:
			return ErrNameTaken
		case errors.Is(err, store.ErrNotFound):
			n, err := tx.CountLightningNames(ctx, userID)
			if err != nil {
				return err
			}
			if n >= MaxLightningNames {
				return ErrTooManyNames
			}
			if err := tx.InsertLightningName(ctx, userID, name, now); errors.Is(err, store.ErrConflict) {
				return ErrNameTaken // chosen by someone else a moment ago
			} else if err != nil {
				return err
			}
		case err != nil:
			return err
		}
		return tx.SetUserLightningName(ctx, userID, name, now)
	})
	switch {
	case errors.Is(err, store.ErrNotFound):
		return "", ErrUnknownUser
	case errors.Is(err, ErrNameTaken), errors.Is(err, ErrTooManyNames):
		return "", err
	case err != nil:
		return "", fmt.Errorf("set lightning name: %w", err)
	}
	return name, nil
}

// UnpaidAddressInvoices lists the payment hashes of the address invoices
// asked for under one name of a number that can still be paid, newest
// first. The cap is per name: a flood on a number's digits must not cancel
// (and so give away) the invoices of the name its owner chose.
func (w *Service) UnpaidAddressInvoices(ctx context.Context, phone, name string) ([]string, error) {
	var hashes []string
	err := w.store.Autocommit(ctx, func(ctx context.Context, tx store.Tx) error {
		var err error
		hashes, err = tx.UnpaidAddressInvoices(ctx, phone, name, w.now())
		return err
	})
	if err != nil {
		return nil, fmt.Errorf("unpaid address invoices: %w", err)
	}
	return hashes, nil
}

// ExpireInvoice expires one pending invoice (the node must have cancelled
// it first); false when it was no longer pending. An invoice the node
// settles anyway is still credited: MarkInvoicePaid takes expired ones.
func (w *Service) ExpireInvoice(ctx context.Context, paymentHash string) (bool, error) {
	var ok bool
	err := w.store.Autocommit(ctx, func(ctx context.Context, tx store.Tx) error {
		var err error
		ok, err = tx.ExpireInvoice(ctx, paymentHash, w.now())
		return err
	})
	if err != nil {
		return false, fmt.Errorf("expire invoice: %w", err)
	}
	return ok, nil
}
