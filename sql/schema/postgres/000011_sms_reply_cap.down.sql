DROP TABLE sms_reply_counts;
