-- Who follows a pending payment to its outcome (issue 13, several servers on
-- one database). A pending Lightning payment is sent, tracked or (for an
-- invoice of our own node) cancelled on the node by one follower at a time,
-- whichever server it runs in: the follower takes a lease on the row, a
-- conditional update that succeeds only while the payment is pending and no
-- unexpired lease is held, and calls the node only while it holds it.
-- Without it two servers re-attaching at once could both send a payment lnd
-- has no record of yet, and a send after the other's refund would pay a
-- refunded payment (lnd starts a failed hash again).
--
-- leased_until is taken from the database's clock (SQLite: the clock of the
-- host whose file it is), so servers whose clocks disagree do not take a
-- lease still held; follow_token names the holder, which alone releases it.
ALTER TABLE transactions ADD COLUMN follow_token TEXT;
ALTER TABLE transactions ADD COLUMN leased_until DATETIME;
