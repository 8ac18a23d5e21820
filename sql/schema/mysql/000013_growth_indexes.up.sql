-- What the tables need to stay fast as they grow (issue 13, part 6; the
-- contract's plan check, storetest/plans.go, explains every hot query).
-- MySQL needs nothing new: invoices (transaction_id), which the other
-- engines gain here, is indexed for its foreign key already. The version
-- exists so that every engine has the same ones.
DO 0;
