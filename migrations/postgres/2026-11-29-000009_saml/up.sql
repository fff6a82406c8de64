-- SAML assertions already used to sign in: each is accepted once (replay refused). A row
-- is kept until the assertion itself would have expired.
CREATE TABLE saml_assertions (
    -- SHA-256 of the issuer and the assertion's ID.
    id_hash TEXT PRIMARY KEY NOT NULL,
    expires_at TIMESTAMP NOT NULL
);
CREATE INDEX saml_assertions_expires_at ON saml_assertions (expires_at);
