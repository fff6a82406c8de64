-- Where events go: the configured endpoints, written again at every start, so that the
-- statement that records an event finds them without the configuration at hand.
CREATE TABLE webhook_endpoints (
    -- A digest of the URL: deliveries name their endpoint by it.
    id TEXT PRIMARY KEY NOT NULL,
    url TEXT NOT NULL,
    -- The event types it receives, as `,user.created,session.revoked,`, or `*` for all.
    events TEXT NOT NULL,
    -- Appended to an event's id to make this endpoint's webhook-id (`` for the first).
    id_suffix TEXT NOT NULL
);

-- One event for one endpoint, written in the transaction of the change it reports.
CREATE TABLE webhook_deliveries (
    seq INTEGER PRIMARY KEY AUTOINCREMENT,
    -- The webhook-id, the same at every attempt.
    id TEXT NOT NULL UNIQUE,
    endpoint_id TEXT NOT NULL,
    event_type TEXT NOT NULL,
    -- Deliveries of one user's events go in order; NULL (a ping) has no order.
    user_id TEXT,
    body TEXT NOT NULL,
    -- pending, delivered or failed.
    status TEXT NOT NULL,
    attempts INTEGER NOT NULL,
    last_status INTEGER,
    last_error TEXT,
    last_attempt_at TIMESTAMP,
    next_attempt_at TIMESTAMP NOT NULL,
    -- A worker is sending it until then (a crashed worker's claim runs out).
    claimed_until TIMESTAMP,
    -- When a failed attempt marks it failed; NULL: created_at + WEBHOOK_RETRY_FOR.
    give_up_at TIMESTAMP,
    created_at TIMESTAMP NOT NULL
);
CREATE INDEX webhook_deliveries_pending ON webhook_deliveries (seq) WHERE status = 'pending';
CREATE INDEX webhook_deliveries_queue ON webhook_deliveries (endpoint_id, user_id, seq)
    WHERE status = 'pending';
CREATE INDEX webhook_deliveries_status ON webhook_deliveries (status, seq);
