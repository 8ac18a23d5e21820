DROP INDEX invoices_transaction_id;
