-- When a key starts signing: a rotated key is published (in the JWKS) before it signs,
-- so verifiers holding a cached JWKS already know it. A key signs from `activates_at`
-- until `retired_at`, and stays published until its last token has expired.
ALTER TABLE signing_keys ADD COLUMN activates_at TIMESTAMP;
UPDATE signing_keys SET activates_at = created_at;
