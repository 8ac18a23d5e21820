DROP TABLE admin_audit;
DROP TABLE service_pause;
ALTER TABLE users DROP COLUMN pin_reset_at;
ALTER TABLE users DROP COLUMN frozen_at;
