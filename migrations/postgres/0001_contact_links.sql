-- PostgreSQL version of migrations/sqlite/0001_contact_links.sql: the same tables, columns
-- and indexes, so the gateway's queries run unchanged on both.

-- Unified contacts: one row per contact, holding the native id of each side.
-- A row merged into another keeps its id, so old global ids still resolve.
CREATE TABLE contact_links (
    id TEXT PRIMARY KEY NOT NULL,
    tenant TEXT NOT NULL,
    casebook_id TEXT,
    ghl_id TEXT,
    -- How the two sides were joined: 'single' (one side only), 'email', 'phone', 'manual' or 'gateway'.
    link_method TEXT NOT NULL,
    merged_into TEXT REFERENCES contact_links (id),
    -- RFC 3339 text, as on SQLite.
    created_at TEXT NOT NULL,
    updated_at TEXT NOT NULL
);

CREATE UNIQUE INDEX contact_links_casebook
    ON contact_links (tenant, casebook_id)
    WHERE casebook_id IS NOT NULL AND merged_into IS NULL;

CREATE UNIQUE INDEX contact_links_ghl
    ON contact_links (tenant, ghl_id)
    WHERE ghl_id IS NOT NULL AND merged_into IS NULL;

-- Normalised e-mail and E.164 phone keys of every record seen, for automatic linking.
CREATE TABLE identity_keys (
    tenant TEXT NOT NULL,
    system TEXT NOT NULL,
    record_id TEXT NOT NULL,
    kind TEXT NOT NULL,
    value TEXT NOT NULL,
    PRIMARY KEY (tenant, system, record_id, kind, value)
);

CREATE INDEX identity_keys_by_value ON identity_keys (tenant, kind, value);
