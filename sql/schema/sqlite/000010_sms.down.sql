DROP TABLE payment_requests;
DROP TABLE inbound_sms;
DROP TABLE sms_deliveries;
ALTER TABLE notifications DROP COLUMN claim_token;
ALTER TABLE notifications DROP COLUMN message_id;
ALTER TABLE notifications DROP COLUMN last_error;
ALTER TABLE notifications DROP COLUMN leased_until;
