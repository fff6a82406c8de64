-- A sign-in identity at a social provider: (provider, subject) belongs to one user.
CREATE TABLE identities (
    id TEXT PRIMARY KEY NOT NULL,
    user_id TEXT NOT NULL REFERENCES users (id) ON DELETE CASCADE,
    provider TEXT NOT NULL,
    -- The provider's stable id for the person (`sub`, GitHub's numeric id, SAML's NameID).
    subject TEXT NOT NULL,
    -- The address the provider gave when the identity was linked (for display only).
    email TEXT,
    created_at TIMESTAMP NOT NULL,
    last_used_at TIMESTAMP NOT NULL,
    UNIQUE (provider, subject)
);
CREATE INDEX identities_user_id ON identities (user_id);

-- A social sign-in under way: one-time, bound to the browser that started it.
CREATE TABLE oauth_states (
    id TEXT PRIMARY KEY NOT NULL,
    -- SHA-256 of the `state` sent to the provider.
    state_hash TEXT NOT NULL UNIQUE,
    provider TEXT NOT NULL,
    -- SHA-256 of the browser-binding cookie's value.
    browser_hash TEXT NOT NULL,
    nonce TEXT,
    pkce_verifier TEXT NOT NULL,
    created_at TIMESTAMP NOT NULL,
    expires_at TIMESTAMP NOT NULL
);
CREATE INDEX oauth_states_expires_at ON oauth_states (expires_at);
