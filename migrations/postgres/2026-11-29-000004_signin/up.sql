-- A verification link keeps the password of the registration it was sent for, and no
-- other: the scrypt hash chosen by that registration (NULL: none).
ALTER TABLE one_time_tokens ADD COLUMN password_hash TEXT;
