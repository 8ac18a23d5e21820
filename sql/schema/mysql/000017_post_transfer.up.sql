-- PostgreSQL books a phone-to-phone transfer in one round trip in this
-- migration (post_transfer). Here the transfer's statements stay apart:
-- nothing changes, and the number is kept so every engine has the same
-- migrations.
SELECT 1;
