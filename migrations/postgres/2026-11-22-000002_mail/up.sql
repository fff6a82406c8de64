-- One-time email tokens: verify email, password reset, magic link, invite.
CREATE TABLE one_time_tokens (
    id TEXT PRIMARY KEY NOT NULL,
    kind TEXT NOT NULL,
    -- The account it is for; NULL for a magic link to an address with no account yet.
    user_id TEXT REFERENCES users (id) ON DELETE CASCADE,
    email TEXT NOT NULL,
    -- HMAC-SHA-256 of the token; the token itself is only ever in the email.
    token_hash TEXT NOT NULL UNIQUE,
    created_at TIMESTAMP NOT NULL,
    expires_at TIMESTAMP NOT NULL,
    used_at TIMESTAMP
);
CREATE INDEX one_time_tokens_email_kind ON one_time_tokens (email, kind);

-- Mail waiting to be sent, written in the same transaction as the token it carries.
CREATE TABLE outbox (
    id TEXT PRIMARY KEY NOT NULL,
    kind TEXT NOT NULL,
    recipient TEXT NOT NULL,
    subject TEXT NOT NULL,
    -- The bodies carry tokens: cleared once the message is sent or has failed for good.
    body_text TEXT,
    body_html TEXT,
    -- pending | sending | sent | failed
    state TEXT NOT NULL,
    attempts INTEGER NOT NULL DEFAULT 0,
    next_attempt_at TIMESTAMP NOT NULL,
    -- While `sending`, when the claim lapses (a worker that died mid-send).
    claimed_until TIMESTAMP,
    last_error TEXT,
    created_at TIMESTAMP NOT NULL,
    updated_at TIMESTAMP NOT NULL
);
CREATE INDEX outbox_due ON outbox (state, next_attempt_at);
