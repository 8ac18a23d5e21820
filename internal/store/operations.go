package store

import (
	"context"
	"slices"
	"strconv"
	"time"
)

// ServicePause is whether outgoing Lightning payments and M-Pesa
// withdrawals are paused, shared by every server on the database: Auto is
// the liabilities watchdog's, Manual the operator's (which the watchdog
// never lifts).
type ServicePause struct {
	Auto         bool
	AutoReason   string
	Manual       bool
	ManualReason string
	Operator     string
	UpdatedAt    time.Time
}

// Paused reports whether payouts are paused by either.
func (p ServicePause) Paused() bool { return p.Auto || p.Manual }

// AuditRow is one operator action in the append-only audit log. Hash is
// AuditHash of the row, which covers PrevHash: the rows form one chain.
type AuditRow struct {
	ID        int64
	Operator  string
	Action    string
	UserID    int64 // 0: not about one user (pause, resume)
	Reason    string
	Detail    string
	PrevHash  string // "" for the first row
	Hash      string
	CreatedAt time.Time
}

// AuditVersion prefixes the hashed text of an audit row.
const AuditVersion = "audit-v1"

// AuditHash is SHA-256 (hex) of the row's canonical text: the version, the
// operator, action, user, reason, detail, time in microseconds (UTC) and
// the previous row's hash, each string prefixed by its length so that no
// two rows share a text.
func AuditHash(a AuditRow) string {
	b := make([]byte, 0, 256)
	b = append(b, AuditVersion...)
	for _, s := range []string{a.Operator, a.Action, strconv.FormatInt(a.UserID, 10), a.Reason, a.Detail,
		strconv.FormatInt(a.CreatedAt.UnixMicro(), 10), a.PrevHash} {
		b = append(b, '|')
		b = strconv.AppendInt(b, int64(len(s)), 10)
		b = append(b, ':')
		b = append(b, s...)
	}
	return SHA256Hex(string(b))
}

// The audit actions.
const (
	AuditFreeze         = "freeze"
	AuditUnfreeze       = "unfreeze"
	AuditPINReset       = "pin-reset"
	AuditPINResetCancel = "pin-reset-cancel"
	AuditPINResetDone   = "pin-reset-done"
	AuditPause          = "pause"
	AuditResume         = "resume"
	AuditCredit         = "credit"
	AuditDebit          = "debit"
)

// AuditViolation is a break of the audit chain (AuditID set) or an operator
// state without the audit row that should account for it (UserID set, or
// neither for the pause).
type AuditViolation struct {
	AuditID int64  `json:"audit_id,omitempty"`
	UserID  int64  `json:"user_id,omitempty"`
	Reason  string `json:"reason"`
}

// CheckAudit verifies the operators' audit log inside one snapshot: every
// row's hash is AuditHash of its content, each row follows the one before
// it (the first follows ""), every frozen user's latest freeze or unfreeze
// row is a freeze, every pending PIN reset's latest reset row is a reset,
// and a manual pause has a pause row as its latest pause or resume; and
// the other way round, a user whose latest freeze row is a freeze is
// frozen, one whose latest reset row is a reset has it pending, and a
// latest pause row that is a pause has the manual pause set.
func CheckAudit(ctx context.Context, tx Tx) ([]AuditViolation, error) {
	var out []AuditViolation
	latest := map[int64]map[string]string{} // user → family → action
	family := map[string]string{AuditFreeze: "freeze", AuditUnfreeze: "freeze",
		AuditPINReset: "pin", AuditPINResetCancel: "pin", AuditPINResetDone: "pin", AuditPause: "pause", AuditResume: "pause"}
	prev := ""
	for after := int64(0); ; {
		page, err := tx.AuditRows(ctx, after, 1000)
		if err != nil {
			return nil, err
		}
		for _, a := range page {
			if a.PrevHash != prev {
				out = append(out, AuditViolation{AuditID: a.ID, Reason: "does not follow the row before it"})
			}
			if a.Hash != AuditHash(a) {
				out = append(out, AuditViolation{AuditID: a.ID, Reason: "hash does not match the row"})
			}
			prev = a.Hash
			if f, ok := family[a.Action]; ok {
				if latest[a.UserID] == nil {
					latest[a.UserID] = map[string]string{}
				}
				latest[a.UserID][f] = a.Action
			}
		}
		if len(page) < 1000 {
			break
		}
		after = page[len(page)-1].ID
	}
	users, err := tx.FlaggedUsers(ctx)
	if err != nil {
		return nil, err
	}
	frozen, pending := map[int64]bool{}, map[int64]bool{}
	for _, u := range users {
		frozen[u.ID], pending[u.ID] = u.FrozenAt != nil, u.PINResetAt != nil
		if u.FrozenAt != nil && latest[u.ID]["freeze"] != AuditFreeze {
			out = append(out, AuditViolation{UserID: u.ID, Reason: "frozen without a freeze in the audit log"})
		}
		if u.PINResetAt != nil && latest[u.ID]["pin"] != AuditPINReset {
			out = append(out, AuditViolation{UserID: u.ID, Reason: "PIN reset pending without a pin-reset in the audit log"})
		}
	}
	// The other way round: a control the log says is in force was lifted
	// without the row that lifts it (an unfreeze, a cancelled or
	// completed reset, a resume written straight into the database).
	ids := make([]int64, 0, len(latest))
	for id := range latest {
		ids = append(ids, id)
	}
	slices.Sort(ids)
	for _, id := range ids {
		if id != 0 && latest[id]["freeze"] == AuditFreeze && !frozen[id] {
			out = append(out, AuditViolation{UserID: id, Reason: "not frozen, but the audit log's latest freeze row is a freeze"})
		}
		if id != 0 && latest[id]["pin"] == AuditPINReset && !pending[id] {
			out = append(out, AuditViolation{UserID: id, Reason: "no PIN reset pending, but the audit log's latest reset row is a pin-reset"})
		}
	}
	p, err := tx.ServicePause(ctx)
	if err != nil {
		return nil, err
	}
	switch {
	case p.Manual && latest[0]["pause"] != AuditPause:
		out = append(out, AuditViolation{Reason: "paused by hand without a pause in the audit log"})
	case !p.Manual && latest[0]["pause"] == AuditPause:
		out = append(out, AuditViolation{Reason: "not paused by hand, but the audit log's latest pause row is a pause"})
	}
	return out, nil
}
