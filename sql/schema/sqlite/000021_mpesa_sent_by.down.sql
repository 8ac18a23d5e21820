ALTER TABLE mpesa_requests DROP COLUMN sent_by;
