DROP PROCEDURE apply_balance_deltas;
