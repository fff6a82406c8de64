-- Who did what to whom, from where. Never a secret, token or hash.
CREATE TABLE audit_events (
    id TEXT PRIMARY KEY NOT NULL,
    kind TEXT NOT NULL,
    -- Who acted (NULL: an anonymous client, or the system).
    actor_id TEXT,
    -- Whose account it concerns.
    subject_id TEXT,
    ip TEXT,
    user_agent TEXT,
    -- A short, non-secret note (a sign-in method, the changed fields).
    detail TEXT,
    created_at TIMESTAMP NOT NULL
);
CREATE INDEX audit_events_created_at ON audit_events (created_at);
CREATE INDEX audit_events_subject ON audit_events (subject_id, created_at);
CREATE INDEX audit_events_kind ON audit_events (kind, created_at);
