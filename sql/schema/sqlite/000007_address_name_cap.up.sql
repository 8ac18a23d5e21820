-- The name an address invoice was asked for (a chosen name, or the digits of
-- the number): the cap on unpaid address invoices is kept per name, so that a
-- stranger flooding the digits of a guessed number cannot cancel the
-- invoices of a chosen name, and learn from that whose number it is.
ALTER TABLE invoices ADD COLUMN address_name TEXT NOT NULL DEFAULT '';
