package store

import (
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
