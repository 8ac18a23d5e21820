-- name: InsertUserIfAbsent :execrows
-- Creates the user unless the phone number is taken; 1 row means created.
-- IGNORE only ever meets the unique keys here: every other column is set by
-- the application from validated values.
INSERT IGNORE INTO users (phone, lightning_name, language, status, created_at, updated_at)
VALUES (sqlc.arg(phone), sqlc.arg(lightning_name), sqlc.arg(language), 'unregistered', sqlc.arg(now), sqlc.arg(now));

-- name: InsertUser :execlastid
INSERT INTO users (phone, lightning_name, language, status, created_at, updated_at)
VALUES (sqlc.arg(phone), sqlc.arg(lightning_name), sqlc.arg(language), sqlc.arg(status), sqlc.arg(now), sqlc.arg(now));

-- name: GetUserByID :one
SELECT * FROM users WHERE id = sqlc.arg(id);

-- name: GetUserByIDForShare :one
-- A sender's row, held against an operator's freeze or PIN reset (which
-- lock it for update) while a send commits; senders do not wait for each
-- other, nor for the foreign-key checks of money coming in.
SELECT * FROM users WHERE id = sqlc.arg(id) LOCK IN SHARE MODE;

-- name: GetUserByIDForUpdate :one
-- Serialises concurrent PIN checks and changes of one user.
SELECT * FROM users WHERE id = sqlc.arg(id) FOR UPDATE;

-- name: GetUserWithAccountID :one
-- A user and its wallet account's id in one round trip, without a lock
-- (a correct PIN that changes nothing).
SELECT sqlc.embed(users), accounts.id AS account_id
FROM users JOIN accounts ON accounts.user_id = users.id
WHERE users.id = sqlc.arg(id);

-- name: GetUserByPhone :one
SELECT * FROM users WHERE phone = sqlc.arg(phone);

-- name: GetUserByLightningName :one
SELECT * FROM users WHERE lightning_name = sqlc.arg(lightning_name);

-- name: SetUserPIN :execrows
UPDATE users
SET pin_hash = sqlc.arg(pin_hash), status = sqlc.arg(status), failed_pin_attempts = 0, locked_until = NULL, updated_at = sqlc.arg(now)
WHERE id = sqlc.arg(id);

-- name: SetUserPINGuard :execrows
-- Records the outcome of a PIN check: the failure count, how many lockouts
-- the user has had, and until when the account is locked.
UPDATE users
SET failed_pin_attempts = sqlc.arg(failed_pin_attempts), lockout_count = sqlc.arg(lockout_count),
    locked_until = sqlc.narg(locked_until), updated_at = sqlc.arg(now)
WHERE id = sqlc.arg(id);

-- name: SetUserLanguage :execrows
UPDATE users SET language = sqlc.arg(language), updated_at = sqlc.arg(now) WHERE id = sqlc.arg(id);

-- name: SetUserStatus :execrows
UPDATE users SET status = sqlc.arg(status), updated_at = sqlc.arg(now) WHERE id = sqlc.arg(id);

-- name: SetUserLightningPubkey :execrows
UPDATE users SET lightning_pubkey = sqlc.narg(lightning_pubkey), updated_at = sqlc.arg(now) WHERE id = sqlc.arg(id);
