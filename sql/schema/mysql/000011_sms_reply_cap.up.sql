-- How many replies of a kind the service sent unasked on a day (reply_day, in
-- the wallet's time zone, YYYY-MM-DD), for a cap on all numbers together:
-- "register first" goes to any number of the region that texts in, once a
-- day each, and numbers enough would make the operator pay for a reply to
-- every one (SMS_REGISTER_REPLIES_PER_DAY). A reply takes its place by
-- raising sent in place while it is below the cap, so replies racing for
-- the last place cannot both take it.
CREATE TABLE sms_reply_counts (
    kind      VARCHAR(32) CHARACTER SET ascii NOT NULL,
    reply_day CHAR(10)    CHARACTER SET ascii NOT NULL,
    sent      INT         NOT NULL DEFAULT 0,
    PRIMARY KEY (kind, reply_day)
) ENGINE = InnoDB DEFAULT CHARSET = utf8mb4;
