-- OAuth tokens the gateway obtained, encrypted with the key in token_encryption_key.
CREATE TABLE oauth_tokens (
    tenant TEXT NOT NULL,
    -- 'ghl'.
    system TEXT NOT NULL,
    -- The GHL location the tokens are for.
    account_id TEXT NOT NULL,
    -- 12-byte nonce followed by the ChaCha20-Poly1305 ciphertext.
    access_token BLOB NOT NULL,
    refresh_token BLOB NOT NULL,
    -- Expiry of the access token, in Unix milliseconds.
    expires_at INTEGER NOT NULL,
    scope TEXT NOT NULL DEFAULT '',
    -- Incremented on each install or refresh, so replicas can tell a newer pair.
    generation INTEGER NOT NULL,
    -- A refresh in progress: its owner and the time its claim lapses (Unix milliseconds).
    refresh_owner TEXT,
    refresh_lease_until INTEGER,
    -- 'active', or 'reinstall_required' after the refresh token was rejected.
    status TEXT NOT NULL,
    status_reason TEXT,
    updated_at TEXT NOT NULL,
    PRIMARY KEY (tenant, system)
);

-- OAuth `state` values of install flows that have not come back yet.
CREATE TABLE oauth_states (
    state TEXT PRIMARY KEY NOT NULL,
    tenant TEXT NOT NULL,
    -- Unix milliseconds.
    expires_at INTEGER NOT NULL
);
