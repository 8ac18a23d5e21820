-- Which call marked the request sent: a token of its own, written with
-- sent_at. A call whose mark's COMMIT was answered into the void (the
-- store settles it: committed or never will) reads the request back and
-- sends it only if the token is its own; neither sent_at nor its time can
-- tell two calls of one request apart. NULL for a request not marked, or
-- marked before this column.
ALTER TABLE mpesa_requests ADD COLUMN sent_by TEXT;
