// Package store is the wallet's one seam to SQL: the operations the
// application needs, in the application's own types, behind an interface that
// an adapter implements for each engine (SQLite, MySQL/MariaDB, PostgreSQL).
//
// The adapters live in the subpackages sqlitestore, mysqlstore and pgstore and
// are the only code that imports the sqlc-generated packages under gen/. Every
// operation runs inside a transaction opened by Store.InTx: the caller decides
// where a unit of work begins and ends, helpers only receive the Tx.
package store

import (
	"context"
	"time"
)

// Store is an open database of one engine.
type Store interface {
	// InTx runs fn in one database transaction and commits it when fn returns
	// nil. A retryable failure (deadlock, serialization failure, SQLite busy)
	// of the transaction or of its commit runs fn again, a bounded number of
	// times with jittered backoff, so fn must do nothing but database work
	// through tx. The rollback of a failed attempt runs even when ctx has been
	// cancelled. When InTx returns, the transaction has committed or never
	// will: a COMMIT sent and not answered comes back as ErrCommitUnanswered
	// once the server's session is ended (read what fn wrote to learn the
	// outcome), or as ErrOutcomeUnknown if it could not be.
	InTx(ctx context.Context, fn func(ctx context.Context, tx Tx) error) error
	// Autocommit runs fn with every statement committed on its own, which
	// saves a transaction's two extra round trips: for a single statement,
	// or reads that need no common snapshot. Retryable failures run fn
	// again, as InTx does. Locking reads lock nothing beyond their statement.
	Autocommit(ctx context.Context, fn func(ctx context.Context, tx Tx) error) error
	// Snapshot runs fn in a read-only transaction that sees the database as
	// of one instant, for checks that read it with many statements while
	// postings go on (Reconcile). It takes no write lock and makes no
	// writer wait, and it is not retried: fn may write nothing.
	Snapshot(ctx context.Context, fn func(ctx context.Context, tx Tx) error) error
	// Ping checks that the database answers within the context's deadline.
	Ping(ctx context.Context) error
	// Engine names the engine: "sqlite", "mysql" or "postgres".
	Engine() string
	// Retries reports how many transaction attempts were run again after
	// a retryable failure since the store was opened.
	Retries() int64
	// Transactions reports how many InTx and Autocommit calls ran since
	// the store was opened (Retries over Transactions is the retry rate).
	Transactions() int64
	// Pool reports the use of the connection pool (for the metrics).
	Pool() PoolStats
	// Close releases the connections.
	Close() error
}

// Tx is the set of operations available inside one transaction.
type Tx interface {
	// InsertUserIfAbsent creates an unregistered user with that phone number
	// unless one exists; it reports whether it created one.
	InsertUserIfAbsent(ctx context.Context, u NewUser) (bool, error)
	// InsertUser creates a user and returns its id; a taken phone number or
	// Lightning name is ErrConflict.
	InsertUser(ctx context.Context, u NewUser) (int64, error)
	UserByID(ctx context.Context, id int64) (User, error)
	// LockUser reads a user and locks the row for the rest of the
	// transaction, so that checks of the PIN serialise.
	LockUser(ctx context.Context, id int64) (User, error)
	// ShareLockUser reads a user and holds the row against LockUser (and
	// any update) for the rest of the transaction, without excluding
	// other ShareLockUsers: a send holds its sender against a freeze.
	ShareLockUser(ctx context.Context, id int64) (User, error)
	UserByPhone(ctx context.Context, phone string) (User, error)
	// UserWithAccountID reads a user and the id of its wallet account in
	// one round trip, without a lock.
	UserWithAccountID(ctx context.Context, id int64) (User, int64, error)
	UserByLightningName(ctx context.Context, name string) (User, error)
	// SetUserPIN stores a PIN hash and a status, clearing failures and locks.
	SetUserPIN(ctx context.Context, id int64, pinHash string, status UserStatus, now time.Time) error
	// SetUserPINGuard records the failure count, lockout count and lock of a user.
	SetUserPINGuard(ctx context.Context, g PINGuard) error
	SetUserLanguage(ctx context.Context, id int64, lang string, now time.Time) error
	SetUserStatus(ctx context.Context, id int64, status UserStatus, now time.Time) error
	// InsertLightningName gives a chosen Lightning Address name to a user
	// for good; a taken name is ErrConflict.
	InsertLightningName(ctx context.Context, userID int64, name string, now time.Time) error
	// LightningNameOwner is the user a chosen name belongs to; ErrNotFound
	// when nobody chose it.
	LightningNameOwner(ctx context.Context, name string) (int64, error)
	// CountLightningNames counts the names a user has chosen.
	CountLightningNames(ctx context.Context, userID int64) (int64, error)
	// SetUserLightningName sets the name a user's address shows.
	SetUserLightningName(ctx context.Context, id int64, name string, now time.Time) error

	// InsertUserAccount opens the wallet account of a user.
	InsertUserAccount(ctx context.Context, userID int64, now time.Time) (int64, error)
	AccountByID(ctx context.Context, id int64) (Account, error)
	AccountByUserID(ctx context.Context, userID int64) (Account, error)
	SystemAccount(ctx context.Context, code SystemAccountCode) (Account, error)
	// UserAccountByPhone returns a user's ids and balance in one round trip.
	UserAccountByPhone(ctx context.Context, phone string) (UserAccount, error)
	// LockAccounts locks the accounts for the rest of the transaction, always
	// in ascending id order, and returns them in that order.
	LockAccounts(ctx context.Context, ids ...int64) ([]Account, error)
	// PostEntries books a balanced set of entries against a transaction:
	// the amounts must sum to zero. Cached balances move in ascending account
	// id order. A user account that would go below zero, that a credit would
	// take above the guard's maximum, or whose sends would pass the daily
	// limit makes it fail with a *BalanceError naming the account and the
	// reason; nothing of the call is kept once the caller rolls back.
	PostEntries(ctx context.Context, transactionID int64, entries []Entry, guard Guard, now time.Time) error
	// EntriesOf lists the ledger entries of a transaction.
	EntriesOf(ctx context.Context, transactionID int64) ([]LedgerEntry, error)
	// HeldBy sums the entries of one transaction on one account.
	HeldBy(ctx context.Context, transactionID, accountID int64) (int64, error)

	// InsertTransaction adds a row to the user-facing log; a taken
	// idempotency key (or M-Pesa id) is ErrConflict, and a payment whose
	// hash another pending or completed payment holds is an ErrConflict
	// that is also ErrPaymentHashTaken.
	InsertTransaction(ctx context.Context, t NewTransaction) (int64, error)
	// InsertTransfer adds both rows of a phone-to-phone transfer in one
	// statement and returns the id of the sending row; a taken key is
	// ErrConflict.
	InsertTransfer(ctx context.Context, t NewTransfer) (int64, error)
	// PostTransfer books a whole phone-to-phone transfer: its two rows (as
	// InsertTransfer; a taken key is ErrConflict), then it reads the
	// sender's user row under a share lock held to the end of the
	// transaction (as ShareLockUser: a freeze waits for the transfer, or
	// the transfer sees the freeze) and refuses a frozen sender
	// (ErrSenderFrozen) or one whose PIN reset is due at t.Now
	// (ErrSenderPINResetDue), then its entries under the sending row (as
	// PostEntries, at t.Now) and the recipient's text (note, as
	// InsertNotification, its TransactionID the sending row's). It returns
	// the sending row's id. An engine with a routine for it does it in one
	// or two round trips. It must be its transaction's last statement: in
	// InTx, under a deadline, PostgreSQL's commits the transaction with it
	// (a statement after it fails, and InTx's commit is then a no-op).
	PostTransfer(ctx context.Context, t NewTransfer, entries []Entry, guard Guard, note NewNotification) (int64, error)
	TransactionByID(ctx context.Context, id int64) (Transaction, error)
	TransactionByIdempotencyKey(ctx context.Context, key string) (Transaction, error)
	// FinishTransaction moves a transaction from one status to another and
	// sets its final amount and fee; it reports false when the transaction
	// was not in from.
	FinishTransaction(ctx context.Context, f Finish) (bool, error)
	// LatestTransactions lists a user's transactions newest first, only those
	// with an id below beforeID (0 means from the newest).
	LatestTransactions(ctx context.Context, userID, beforeID int64, limit int) ([]Transaction, error)
	// PaymentByHash returns the outgoing payment that owns a payment hash,
	// in whatever status (the schema allows one per hash, ever; an insert
	// that would add a second fails with ErrPaymentHashTaken).
	// ErrNotFound if there is none.
	PaymentByHash(ctx context.Context, hash string) (Transaction, error)
	// PendingTransactions lists pending transactions of one type, oldest first.
	PendingTransactions(ctx context.Context, typ TransactionType) ([]Transaction, error)
	// PendingBacklog counts the pending transactions of each type that has
	// any, with the oldest's creation, reading only pending rows (the
	// metrics' gauges).
	PendingBacklog(ctx context.Context) ([]Backlog, error)
	// LeaseTransaction leases a pending transaction to the holder of token
	// for lease from now on the database's clock (SQLite: its host's), so
	// that one follower at a time, in whichever server, calls a rail about
	// it. False when it is no longer pending or another holder's lease has
	// not run out. The holder renews its lease with the same token (until
	// another has taken it over once it ran out).
	LeaseTransaction(ctx context.Context, id int64, token string, lease time.Duration) (bool, error)
	// ReleaseTransaction ends token's lease of a transaction, so that any
	// follower may take it at once; false when token holds none.
	ReleaseTransaction(ctx context.Context, id int64, token string) (bool, error)

	InsertInvoice(ctx context.Context, inv NewInvoice) (int64, error)
	InvoiceByPaymentHash(ctx context.Context, hash string) (Invoice, error)
	// MarkInvoicePaid moves a pending (or expired) invoice to paid; it reports
	// false when the invoice was already paid or cancelled.
	MarkInvoicePaid(ctx context.Context, hash string, amountPaidMsat int64, now time.Time) (bool, error)
	// ExpireInvoices expires the pending invoices (and their pending
	// transaction rows) whose expiry is before now, returning how many.
	ExpireInvoices(ctx context.Context, now time.Time) (int64, error)
	// ExpireInvoice expires one pending invoice; false when it was not
	// pending.
	ExpireInvoice(ctx context.Context, hash string, now time.Time) (bool, error)
	// UnpaidAddressInvoices lists the payment hashes of the address
	// invoices asked for under one name of a number, still pending and not
	// yet due at now, newest first.
	UnpaidAddressInvoices(ctx context.Context, phone, name string, now time.Time) ([]string, error)
	// SetInvoiceReceipt records the user and the transaction row a paid
	// address invoice credited.
	SetInvoiceReceipt(ctx context.Context, hash string, userID, transactionID int64, now time.Time) error
	// DeleteStaleAddressInvoices deletes the address invoices that expired
	// unpaid before before, returning how many.
	DeleteStaleAddressInvoices(ctx context.Context, before time.Time) (int64, error)
	// MaxInvoiceAddIndex is the highest lnd add index recorded, 0 if none.
	MaxInvoiceAddIndex(ctx context.Context) (int64, error)
	// MinUnpaidInvoiceAddIndex is the lowest add index of an invoice still
	// pending, or expired after since; 0 if none.
	MinUnpaidInvoiceAddIndex(ctx context.Context, since time.Time) (int64, error)

	// UpsertSession opens a session on its first hop and returns it as it
	// is on later ones (locked, inside InTx); SaveSessionHop records the
	// activity.
	UpsertSession(ctx context.Context, s NewSession) (Session, error)
	Session(ctx context.Context, sessionID string) (Session, error)
	// SessionWithUser reads a session and its user in one round trip,
	// without a lock: ErrNotFound when there is no such session, or it has
	// no user yet (none of its hops was saved).
	SessionWithUser(ctx context.Context, sessionID string) (Session, User, error)
	// AppendSessionInput adds one key to the session's input buffer.
	AppendSessionInput(ctx context.Context, sessionID, key string, now time.Time) ([]string, error)
	// SaveSessionHop records what a hop did to a session.
	SaveSessionHop(ctx context.Context, h SessionHop) error
	// EndSession closes a session with the gateway's final report.
	EndSession(ctx context.Context, e SessionEnd) error
	// CloseIdleSessions closes active sessions idle since before idleBefore.
	CloseIdleSessions(ctx context.Context, idleBefore, now time.Time) (int64, error)

	// OutboxBacklog counts the notifications still to be sent, with the
	// oldest's creation (a zero Backlog when none waits).
	OutboxBacklog(ctx context.Context) (Backlog, error)
	// InsertNotification queues a message for a user in the outbox.
	InsertNotification(ctx context.Context, n NewNotification) (int64, error)
	// NotificationsOf lists the notifications about one transaction (no
	// index serves it: it is for tests and operators, not a hot path).
	NotificationsOf(ctx context.Context, transactionID int64) ([]Notification, error)
	// Notification reads one notification (ErrNotFound when none).
	Notification(ctx context.Context, id int64) (Notification, error)
	// ClaimNotifications leases up to limit due notifications to the
	// holder of token until leaseUntil and returns them: another sender
	// sees none of them as due before then. now and leaseUntil are times of
	// the caller's clock; a row whose send is in flight (the lease
	// StartNotificationAttempt takes, on the database's clock) is not due
	// whatever they say. Rows another transaction is claiming are passed
	// over, not waited for (SKIP LOCKED). A claim counts no attempt.
	ClaimNotifications(ctx context.Context, now, leaseUntil time.Time, token string, limit int) ([]Notification, error)
	// StartNotificationAttempt counts an attempt of a claimed row as its
	// send starts, and leases the row to that send for lease from now on
	// the database's clock: no claim takes it before then, however far
	// ahead the claiming server's clock runs. False when token no longer
	// holds the row (another sender claimed it) or its send already
	// started under this claim: the caller must not send.
	StartNotificationAttempt(ctx context.Context, id int64, token string, lease time.Duration) (bool, error)
	// ReleaseNotifications hands back the rows of ids that token claimed
	// and whose sends never started: due again at now, no attempt counted,
	// no longer held. It returns how many it released.
	ReleaseNotifications(ctx context.Context, token string, ids []int64, now time.Time) (int64, error)
	// RecordNotificationSent records the gateway's message id; false when
	// token no longer holds the row (the lease ran out and another sender
	// took it, or it is not pending).
	RecordNotificationSent(ctx context.Context, id int64, token, messageID string, now time.Time) (bool, error)
	// RecordNotificationRetry records a failed attempt: due again at next,
	// or failed for good when giveUp; false as for RecordNotificationSent.
	RecordNotificationRetry(ctx context.Context, id int64, token string, next time.Time, lastError string, giveUp bool) (bool, error)
	// RecordDeliveryReport records a delivery report against the sent
	// message it names; false when none matches or its report is final.
	// Under a message id the gateway gave to more than one message, it goes
	// to the earliest of them whose report is not final yet.
	RecordDeliveryReport(ctx context.Context, r DeliveryReport) (bool, error)
	// BalanceAfter is a user's balance right after a transaction that
	// moved it, from the ledger (ErrNotFound when it did not).
	BalanceAfter(ctx context.Context, transactionID, userID int64) (int64, error)

	// InsertInboundSMS records a text that reached the service's number;
	// ErrConflict when its gateway id was recorded before (a repeated
	// callback). A conflict ends the transaction on PostgreSQL.
	InsertInboundSMS(ctx context.Context, m NewInboundSMS) (int64, error)
	// InboundSMSByGatewayID finds a text by the gateway's id (ErrNotFound).
	InboundSMSByGatewayID(ctx context.Context, gatewayID string) (InboundSMS, error)
	// CountInboundSMSSince counts the texts of a number since a time.
	CountInboundSMSSince(ctx context.Context, phone string, since time.Time) (int64, error)
	// SetInboundSMSOutcome records what became of a text.
	SetInboundSMSOutcome(ctx context.Context, id int64, outcome string) error
	// ClaimInboundReply marks a text as the one that earned the reply
	// named by key (say "register:+2547...:2026-12-06"); ErrConflict when
	// another text has it. A conflict ends the transaction on PostgreSQL.
	ClaimInboundReply(ctx context.Context, id int64, key string) error
	// TakeReplyPlace counts one more reply of kind on day (YYYY-MM-DD)
	// while fewer than limit were counted: false, and nothing counted,
	// once the day's limit is reached. The day's count is one row,
	// raised in place, so replies racing for the last place cannot both
	// have it (a cap on all numbers' replies together).
	TakeReplyPlace(ctx context.Context, kind, day string, limit int) (bool, error)
	// InsertPaymentRequest stores an invoice texted in for approval,
	// superseding the user's pending requests. It locks the user's row
	// first (LockUser), so that of two made at once the later supersedes
	// the earlier.
	InsertPaymentRequest(ctx context.Context, r NewPaymentRequest) (int64, error)
	// OpenPaymentRequest is the user's latest pending request that has not
	// expired at now (ErrNotFound when none).
	OpenPaymentRequest(ctx context.Context, userID int64, now time.Time) (PaymentRequest, error)
	// PaymentRequest reads one request (ErrNotFound when none).
	PaymentRequest(ctx context.Context, id int64) (PaymentRequest, error)
	// SetPaymentRequestStatus moves a request from one status to another,
	// recording its payment's transaction when transactionID is not 0;
	// false when it was not in from.
	SetPaymentRequestStatus(ctx context.Context, id int64, from, to PaymentRequestStatus, transactionID int64, now time.Time) (bool, error)

	// InsertMpesaRequest records a request to Daraja beside its
	// transaction, before it is sent.
	InsertMpesaRequest(ctx context.Context, r NewMpesaRequest) error
	// MpesaRequest, MpesaRequestByCheckout and MpesaRequestByOriginator
	// find a request by its transaction, by Daraja's CheckoutRequestID and
	// by our OriginatorConversationID (ErrNotFound when none).
	MpesaRequest(ctx context.Context, transactionID int64) (MpesaRequest, error)
	MpesaRequestByCheckout(ctx context.Context, checkoutRequestID string) (MpesaRequest, error)
	MpesaRequestByOriginator(ctx context.Context, originatorConversationID string) (MpesaRequest, error)
	// UnacknowledgedTopup finds the open top-up of a number and amount whose
	// push Daraja never acknowledged (ErrNotFound when none).
	UnacknowledgedTopup(ctx context.Context, phone string, amountKES int64) (MpesaRequest, error)
	// SetMpesaCheckout and SetMpesaConversation record the id Daraja gave
	// the request, once: false when it already has one. ErrConflict when
	// another request holds the id.
	SetMpesaCheckout(ctx context.Context, transactionID int64, checkoutRequestID string, now time.Time) (bool, error)
	SetMpesaConversation(ctx context.Context, transactionID int64, conversationID string, now time.Time) (bool, error)
	// RecordMpesaResult records a final answer and closes the request to the
	// reconciler; false when the request already holds another receipt,
	// ErrConflict when another request holds this one.
	RecordMpesaResult(ctx context.Context, r MpesaResult) (bool, error)
	// ScheduleMpesaCheck counts a check and sets the next; false once the
	// request is closed.
	ScheduleMpesaCheck(ctx context.Context, transactionID int64, next, now time.Time) (bool, error)
	// MarkMpesaSent records, before Daraja is called, that a request may
	// leave, and the token of the call that marks it (by, the request's
	// SentBy); false when it was marked already or is closed (then it must
	// not be sent).
	MarkMpesaSent(ctx context.Context, transactionID int64, now time.Time, by string) (bool, error)
	// CloseUnsentMpesaRequest closes an open request never marked sent;
	// false when it was sent or closed meanwhile.
	CloseUnsentMpesaRequest(ctx context.Context, transactionID int64, now time.Time) (bool, error)
	// NoteMpesaResult records an answer that leaves a request open, and its
	// next check; false once the request is closed.
	NoteMpesaResult(ctx context.Context, r MpesaResult, next time.Time) (bool, error)
	// ClaimMpesaCheck takes a due check of an open request for one
	// reconciler: its next check moves to next and is counted, only while
	// it is still due at now. False when another reconciler took it first
	// or the request is closed: the caller must not ask Daraja.
	ClaimMpesaCheck(ctx context.Context, transactionID int64, next, now time.Time) (bool, error)
	// DueMpesaRequests lists open requests due for a check at now, the
	// longest waiting first.
	DueMpesaRequests(ctx context.Context, now time.Time, limit int) ([]MpesaRequest, error)

	// Reconcile checks the whole ledger's invariants (see the package
	// function Reconcile); run it inside Snapshot.
	Reconcile(ctx context.Context) (ReconcileReport, error)
	// SetUserFrozen freezes a user's account at frozenAt, or unfreezes it
	// (nil).
	SetUserFrozen(ctx context.Context, id int64, frozenAt *time.Time, now time.Time) error
	// SetUserPINReset schedules an operator's PIN reset to take effect at
	// at, or clears it (nil).
	SetUserPINReset(ctx context.Context, id int64, at *time.Time, now time.Time) error
	// FlaggedUsers lists the users that are frozen or have a PIN reset
	// pending, in id order.
	FlaggedUsers(ctx context.Context) ([]User, error)
	// ServicePause reads whether payouts are paused, and by whom.
	ServicePause(ctx context.Context) (ServicePause, error)
	// SetAutoPause sets the watchdog's pause; false when it already was so
	// (another server changed it first).
	SetAutoPause(ctx context.Context, paused bool, reason string, now time.Time) (bool, error)
	// SetManualPause sets the operator's pause; false when it already was so.
	SetManualPause(ctx context.Context, paused bool, reason, operator string, now time.Time) (bool, error)
	// InsertAudit appends a row to the operators' audit log; ErrConflict
	// when another row already follows a.PrevHash (a racing action: read
	// the head again and retry).
	InsertAudit(ctx context.Context, a AuditRow) (int64, error)
	// LastAudit is the newest audit row (ErrNotFound when none).
	LastAudit(ctx context.Context) (AuditRow, error)
	// AuditRows lists audit rows with an id above afterID, in id order.
	AuditRows(ctx context.Context, afterID int64, limit int) ([]AuditRow, error)
	// UserAudit lists one user's newest audit rows first.
	UserAudit(ctx context.Context, userID int64, limit int) ([]AuditRow, error)
	// UserLiabilities is what the users are owed: every user account's
	// balance plus the holds of pending operations.
	UserLiabilities(ctx context.Context) (int64, error)
	// OpenSessions lists a number's active USSD sessions, newest first.
	OpenSessions(ctx context.Context, phone string) ([]Session, error)

	// LightningMovements lists the invoice and payment transactions that
	// carry a payment hash, with an id above afterID, in id order, at most
	// limit, each with what it moved on the Lightning account.
	LightningMovements(ctx context.Context, afterID int64, limit int) ([]LightningMovement, error)
}
