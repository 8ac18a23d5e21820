-- post_legs goes; post_entries (000018) was left in place.
DROP PROCEDURE post_legs;
