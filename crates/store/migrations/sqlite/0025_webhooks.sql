-- Webhooks: subscriptions, the deliveries queued for them (in the same
-- transaction as the event), and every attempt to deliver. A subscription
-- is disabled, never deleted, so its log stays.
CREATE TABLE webhook_subscriptions (
    id INTEGER PRIMARY KEY AUTOINCREMENT,
    owner_id BIGINT NOT NULL REFERENCES people (id),
    url TEXT NOT NULL,
    secret TEXT NOT NULL,
    events TEXT NOT NULL,
    description TEXT NOT NULL,
    created_at BIGINT NOT NULL,
    enabled BIGINT NOT NULL,
    disabled_at BIGINT,
    disabled_reason TEXT,
    last_success_at BIGINT
);
CREATE INDEX webhook_subscriptions_owner ON webhook_subscriptions (owner_id);

CREATE TABLE webhook_deliveries (
    id INTEGER PRIMARY KEY AUTOINCREMENT,
    subscription_id BIGINT NOT NULL REFERENCES webhook_subscriptions (id),
    msg_id TEXT NOT NULL,
    event_type TEXT NOT NULL,
    payload TEXT NOT NULL,
    created_at BIGINT NOT NULL,
    attempts BIGINT NOT NULL,
    next_attempt_at BIGINT,
    delivered_at BIGINT,
    failed_at BIGINT,
    last_status BIGINT,
    last_error TEXT,
    resent_from BIGINT
);
CREATE INDEX webhook_deliveries_due ON webhook_deliveries (next_attempt_at);
CREATE INDEX webhook_deliveries_of ON webhook_deliveries (subscription_id, id);

CREATE TABLE webhook_attempts (
    id INTEGER PRIMARY KEY AUTOINCREMENT,
    delivery_id BIGINT NOT NULL REFERENCES webhook_deliveries (id),
    at BIGINT NOT NULL,
    status BIGINT,
    error TEXT,
    millis BIGINT NOT NULL
);
CREATE INDEX webhook_attempts_of ON webhook_attempts (delivery_id);
