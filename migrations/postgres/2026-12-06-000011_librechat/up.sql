-- A username (LibreChat's, a provider's or the directory's) and, for accounts brought over
-- by `latch import librechat`, LibreChat's `_id`, so the chat backend finds their data.
ALTER TABLE users ADD COLUMN username TEXT;
ALTER TABLE users ADD COLUMN legacy_id TEXT;
CREATE UNIQUE INDEX users_legacy_id ON users (legacy_id);

-- The provider a session was opened through (`openid`, `saml`…), for ending the
-- provider's session too at logout.
ALTER TABLE sessions ADD COLUMN provider TEXT;
