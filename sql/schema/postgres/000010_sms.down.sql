DROP TABLE payment_requests;
DROP TABLE inbound_sms;
DROP TABLE sms_deliveries;
ALTER TABLE notifications
    DROP COLUMN claim_token,
    DROP COLUMN message_id,
    DROP COLUMN last_error,
    DROP COLUMN leased_until;
