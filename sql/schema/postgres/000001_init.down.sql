DROP TABLE ussd_sessions;
DROP TABLE invoices;
DROP TABLE ledger_entries;
DROP TABLE transactions;
DROP TABLE accounts;
DROP TABLE users;
