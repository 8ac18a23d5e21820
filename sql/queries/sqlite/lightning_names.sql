-- name: InsertLightningName :exec
-- Gives a name to a user for good; a taken name violates the primary key.
INSERT INTO lightning_names (name, user_id, created_at) VALUES (sqlc.arg(name), sqlc.arg(user_id), sqlc.arg(now));

-- name: GetLightningNameOwner :one
SELECT user_id FROM lightning_names WHERE name = sqlc.arg(name);

-- name: CountLightningNames :one
SELECT COUNT(*) FROM lightning_names WHERE user_id = sqlc.arg(user_id);

-- name: SetUserLightningName :execrows
-- The name a user shows now (one of theirs in lightning_names, or the digits
-- of the number).
UPDATE users SET lightning_name = sqlc.arg(lightning_name), updated_at = sqlc.arg(now) WHERE id = sqlc.arg(id);
