-- The request id of each logged request (the caller's `X-Request-Id` when
-- it sent a usable one, else ragway's): the same id is in the response's
-- header and in every log line of the request, so one request can be
-- followed from a client's report to the server's logs.
ALTER TABLE request_logs ADD COLUMN request_id TEXT;
CREATE INDEX request_logs_request_id ON request_logs (request_id);
