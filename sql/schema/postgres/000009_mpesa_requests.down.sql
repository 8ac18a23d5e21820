DROP TABLE mpesa_requests;
