-- When the request to Daraja (the STK push of a top-up, the B2C payment of a
-- withdrawal) was about to leave: set, in its own committed statement, just
-- before Daraja is called. NULL means the call certainly never left, so the
-- reconciler may refund a withdrawal or fail a top-up that nothing charged;
-- set means Daraja may have it, and its outcome is never guessed.
ALTER TABLE mpesa_requests ADD COLUMN sent_at TIMESTAMPTZ;

-- A request from before this column may have left: it counts as sent.
UPDATE mpesa_requests SET sent_at = created_at;
