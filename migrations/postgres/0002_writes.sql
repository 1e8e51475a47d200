-- PostgreSQL version of migrations/sqlite/0002_writes.sql.
--
-- Timestamps stay RFC 3339 UTC text with milliseconds, as on SQLite. The outbox compares and
-- sorts them as text, so those columns use the "C" collation: byte order, which is time order
-- for that fixed format whatever the database's default collation is.

-- Tasks, notes and appointments written to both systems, so each shows once in reads.
CREATE TABLE record_links (
    id TEXT PRIMARY KEY NOT NULL,
    tenant TEXT NOT NULL,
    -- 'task', 'note' or 'appointment'.
    kind TEXT NOT NULL,
    contact_id TEXT NOT NULL,
    casebook_id TEXT,
    ghl_id TEXT,
    -- GHL reads tasks and notes under their contact.
    ghl_contact_id TEXT,
    created_at TEXT NOT NULL
);

CREATE UNIQUE INDEX record_links_casebook ON record_links (tenant, kind, casebook_id)
    WHERE casebook_id IS NOT NULL;
CREATE UNIQUE INDEX record_links_ghl ON record_links (tenant, kind, ghl_id)
    WHERE ghl_id IS NOT NULL;

-- Writes to one system that still have to happen; a background worker retries them.
CREATE TABLE outbox (
    id TEXT PRIMARY KEY NOT NULL,
    tenant TEXT NOT NULL,
    system TEXT NOT NULL,
    -- The write as JSON (see writes::ops::SideWrite).
    operation TEXT NOT NULL,
    summary TEXT NOT NULL,
    -- 'pending', 'running', 'done' or 'failed'.
    status TEXT NOT NULL,
    attempts BIGINT NOT NULL DEFAULT 0,
    -- 1 after a failure that may have taken effect upstream (a timeout).
    outcome_unknown BIGINT NOT NULL DEFAULT 0,
    next_attempt_at TEXT COLLATE "C" NOT NULL,
    lease_until TEXT COLLATE "C",
    last_error TEXT,
    created_at TEXT COLLATE "C" NOT NULL,
    updated_at TEXT NOT NULL
);

CREATE INDEX outbox_due ON outbox (status, next_attempt_at);

-- Results of mutations by idempotency key, so a replay returns the first result.
CREATE TABLE idempotency_keys (
    tenant TEXT NOT NULL,
    key TEXT NOT NULL,
    -- Hash of the mutation and its input; the same key with another input is rejected.
    request_hash TEXT NOT NULL,
    -- 'in_progress' or 'done'.
    state TEXT NOT NULL,
    outcome TEXT,
    created_at TEXT NOT NULL,
    PRIMARY KEY (tenant, key)
);
