//! TOTP (RFC 6238: SHA-1, 6 digits, 30-second steps, one step of drift either way) and
//! backup codes: the pure parts, testable without a database.

use rand::rngs::OsRng;
use rand::RngCore;
use subtle::ConstantTimeEq;
use totp_rs::{Algorithm, TOTP};

/// The step length, in seconds.
pub const STEP: u64 = 30;
/// How many backup codes a user holds.
pub const BACKUP_CODES: usize = 10;

/// A new secret: 160 bits, as RFC 4226 recommends.
pub fn new_secret() -> Vec<u8> {
    let mut s = vec![0u8; 20];
    OsRng.fill_bytes(&mut s);
    s
}

fn totp(secret: &[u8], issuer: &str, account: &str) -> Result<TOTP, totp_rs::TotpUrlError> {
    // A colon would split the label; the crate refuses it.
    TOTP::new(
        Algorithm::SHA1,
        6,
        1,
        STEP,
        secret.to_vec(),
        Some(issuer.replace(':', "")),
        account.replace(':', ""),
    )
}

/// The secret in base32 (what an authenticator app takes by hand) and the `otpauth://`
/// URI naming `issuer` (`APP_TITLE`) and the account.
pub fn provisioning(
    secret: &[u8],
    issuer: &str,
    account: &str,
) -> anyhow::Result<(String, String)> {
    let t = totp(secret, issuer, account).map_err(|e| anyhow::anyhow!("totp: {e:?}"))?;
    Ok((t.get_secret_base32(), t.get_url()))
}

/// The step a six-digit `code` matches at `unix_secs`, checking one step either side, or
/// `None`. Every candidate is compared, in constant time.
pub fn matched_step(secret: &[u8], code: &str, unix_secs: u64) -> Option<u64> {
    let code: String = code.chars().filter(|c| !c.is_whitespace()).collect();
    if code.len() != 6 || !code.bytes().all(|b| b.is_ascii_digit()) {
        return None;
    }
    // Unchecked: secrets brought over from LibreChat are 80 bits, under the crate's
    // minimum for new ones (ours are 160).
    let t = TOTP::new_unchecked(
        Algorithm::SHA1,
        6,
        1,
        STEP,
        secret.to_vec(),
        None,
        String::new(),
    );
    let now = unix_secs / STEP;
    let mut matched = None;
    for step in [now.saturating_sub(1), now, now + 1] {
        let expected = t.generate(step * STEP);
        if bool::from(expected.as_bytes().ct_eq(code.as_bytes())) && matched.is_none() {
            matched = Some(step);
        }
    }
    matched
}

/// Ten fresh backup codes, `xxxxx-xxxxx` of a 32-letter alphabet (50 bits each).
pub fn new_backup_codes() -> Vec<String> {
    const ALPHABET: &[u8] = b"abcdefghijkmnpqrstuvwxyz23456789";
    (0..BACKUP_CODES)
        .map(|_| {
            let mut bytes = [0u8; 10];
            OsRng.fill_bytes(&mut bytes);
            let s: String = bytes
                .iter()
                .map(|b| ALPHABET[(*b as usize) % ALPHABET.len()] as char)
                .collect();
            format!("{}-{}", &s[..5], &s[5..])
        })
        .collect()
}

/// A backup code as typed: any case, with or without the dash or spaces.
pub fn normalise_backup_code(code: &str) -> String {
    code.chars()
        .filter(|c| c.is_ascii_alphanumeric())
        .map(|c| c.to_ascii_lowercase())
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    const RFC: &[u8] = b"12345678901234567890";

    #[test]
    fn rfc_6238_vectors_and_one_step_of_drift() {
        // RFC 6238, appendix B (SHA-1, the last six digits).
        assert_eq!(matched_step(RFC, "287082", 59), Some(1));
        assert_eq!(
            matched_step(RFC, "081804", 1111111109),
            Some(1111111109 / 30)
        );
        assert_eq!(
            matched_step(RFC, "005924", 1234567890),
            Some(1234567890 / 30)
        );
        // The code of the step before and after is still good; two steps away is not.
        assert_eq!(
            matched_step(RFC, "081804", 1111111109 + 30),
            Some(1111111109 / 30)
        );
        assert_eq!(
            matched_step(RFC, "081804", 1111111109 - 30),
            Some(1111111109 / 30)
        );
        assert_eq!(matched_step(RFC, "081804", 1111111109 + 61), None);
        assert_eq!(
            matched_step(RFC, "08 18 04", 1111111109),
            Some(1111111109 / 30)
        );
        for bad in ["", "12345", "1234567", "abcdef", "081805"] {
            assert_eq!(matched_step(RFC, bad, 1111111109), None, "{bad}");
        }
    }

    #[test]
    fn provisioning_names_the_issuer() {
        let (b32, uri) = provisioning(RFC, "Chat: Latch", "ada@example.com").unwrap();
        assert_eq!(b32, "GEZDGNBVGY3TQOJQGEZDGNBVGY3TQOJQ");
        assert!(
            uri.starts_with("otpauth://totp/Chat%20Latch:ada%40example.com?"),
            "{uri}"
        );
        assert!(
            uri.contains("secret=GEZDGNBVGY3TQOJQGEZDGNBVGY3TQOJQ"),
            "{uri}"
        );
        assert!(uri.contains("issuer=Chat%20Latch"), "{uri}");
    }

    #[test]
    fn backup_codes_are_distinct_and_typed_loosely() {
        let codes = new_backup_codes();
        assert_eq!(codes.len(), 10);
        let mut unique = codes.clone();
        unique.sort();
        unique.dedup();
        assert_eq!(unique.len(), 10);
        assert_eq!(normalise_backup_code(" AbCdE-fGhJk "), "abcdefghjk");
    }
}
