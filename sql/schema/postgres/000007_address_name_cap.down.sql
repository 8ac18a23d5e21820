ALTER TABLE invoices DROP COLUMN address_name;
