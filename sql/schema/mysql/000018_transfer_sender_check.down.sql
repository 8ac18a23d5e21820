DROP PROCEDURE post_entries;
