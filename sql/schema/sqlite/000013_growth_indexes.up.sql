-- What the tables need to stay fast as they grow (issue 13, part 6; the
-- contract's plan check, storetest/plans.go, explains every hot query).
--
-- The cleanup's sweep of invoice transactions (ExpireInvoiceTransactions)
-- reaches an expired invoice from its pending transaction row; without
-- this index it read every expired invoice there ever was, each minute.
CREATE INDEX invoices_transaction_id ON invoices (transaction_id);
