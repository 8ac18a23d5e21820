-- name: UpsertSession :exec
-- Opens the session on its first hop (a concurrent twin only refreshes its
-- activity).
INSERT INTO ussd_sessions (session_id, user_id, phone, state, input_buffer, active, last_activity_at, created_at)
VALUES (sqlc.arg(session_id), sqlc.narg(user_id), sqlc.arg(phone), sqlc.arg(state), '[]', TRUE, sqlc.arg(now), sqlc.arg(now))
ON DUPLICATE KEY UPDATE last_activity_at = VALUES(last_activity_at);

-- name: GetSession :one
SELECT * FROM ussd_sessions WHERE session_id = sqlc.arg(session_id);

-- name: GetSessionWithUser :one
-- A hop's session with its user in one round trip, and without a lock: a
-- hop after the first reads this, works, then saves (SaveSessionHop). The
-- first hop records the user, so a session not saved yet has no row here.
SELECT sqlc.embed(ussd_sessions), sqlc.embed(users)
FROM ussd_sessions JOIN users ON users.id = ussd_sessions.user_id
WHERE ussd_sessions.session_id = sqlc.arg(session_id);

-- name: GetSessionForUpdate :one
-- Serialises two hops of one session that arrive at once.
SELECT * FROM ussd_sessions WHERE session_id = sqlc.arg(session_id) FOR UPDATE;

-- name: SetSessionInputBuffer :execrows
UPDATE ussd_sessions SET input_buffer = sqlc.arg(input_buffer), last_activity_at = sqlc.arg(now)
WHERE session_id = sqlc.arg(session_id);

-- name: SaveSessionHop :execrows
-- Records the state a hop left the session in, the input it processed and
-- the screen it answered, so a repeated hop can be answered alike; a hop
-- that answered a final screen also closes the session.
UPDATE ussd_sessions
SET user_id = sqlc.narg(user_id), state = sqlc.arg(state), input_buffer = sqlc.arg(input_buffer),
    last_input = sqlc.narg(last_input), last_response = sqlc.narg(last_response),
    hops = hops + 1, last_activity_at = sqlc.arg(now),
    active = sqlc.arg(active), ended_at = sqlc.narg(ended_at)
WHERE session_id = sqlc.arg(session_id);

-- name: EndSession :execrows
UPDATE ussd_sessions
SET active = FALSE, end_status = sqlc.narg(end_status), duration_ms = sqlc.narg(duration_ms),
    hops = GREATEST(hops, CAST(sqlc.arg(hops) AS SIGNED)),
    ended_at = sqlc.arg(now)
WHERE session_id = sqlc.arg(session_id);

-- name: CloseIdleSessions :execrows
UPDATE ussd_sessions SET active = FALSE, ended_at = sqlc.arg(now)
WHERE active = TRUE AND last_activity_at < sqlc.arg(idle_before);
