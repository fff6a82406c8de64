//! LibreChat's TOTP secrets, opened with its `CREDS_KEY` (64 hex digits, 32 bytes): the
//! `v3:<iv>:<ciphertext>` form (AES-256-CTR) it writes now, the older `<iv>:<ciphertext>`
//! form (AES-256-CBC), or a plain Base32 secret (as some versions stored it).

use openssl::symm::{decrypt, Cipher};

pub struct Key([u8; 32]);

impl Key {
    /// `CREDS_KEY` as LibreChat reads it: hex, 32 bytes.
    pub fn parse(hex: &str) -> anyhow::Result<Key> {
        let bytes = decode_hex(hex.trim())
            .filter(|b| b.len() == 32)
            .ok_or_else(|| {
                anyhow::anyhow!(
                    "setting CREDS_KEY: expected 64 hex digits (32 bytes), as LibreChat's"
                )
            })?;
        let mut key = [0u8; 32];
        key.copy_from_slice(&bytes);
        Ok(Key(key))
    }

    /// The secret's bytes, from the form LibreChat stored it in.
    pub fn totp_secret(&self, stored: &str) -> Result<Vec<u8>, String> {
        let base32 = match stored.split(':').collect::<Vec<_>>().as_slice() {
            ["v3", iv, ct] => self.open(Cipher::aes_256_ctr(), iv, ct)?,
            [iv, ct] => self.open(Cipher::aes_256_cbc(), iv, ct)?,
            [plain] => plain.to_string(),
            _ => return Err("not a form LibreChat writes".into()),
        };
        decode_base32(base32.trim())
            .ok_or_else(|| "not Base32 once opened (is CREDS_KEY the one LibreChat used?)".into())
    }

    fn open(&self, cipher: Cipher, iv: &str, ct: &str) -> Result<String, String> {
        let iv = decode_hex(iv)
            .filter(|iv| iv.len() == 16)
            .ok_or("a bad IV")?;
        let ct = decode_hex(ct).ok_or("a bad ciphertext")?;
        let plain = decrypt(cipher, &self.0, Some(&iv), &ct)
            .map_err(|_| "does not open with this CREDS_KEY".to_string())?;
        String::from_utf8(plain).map_err(|_| "does not open with this CREDS_KEY".to_string())
    }
}

fn decode_hex(s: &str) -> Option<Vec<u8>> {
    if !s.len().is_multiple_of(2) {
        return None;
    }
    (0..s.len())
        .step_by(2)
        .map(|i| u8::from_str_radix(s.get(i..i + 2)?, 16).ok())
        .collect()
}

/// RFC 4648 Base32, without padding (or with it), any case.
fn decode_base32(s: &str) -> Option<Vec<u8>> {
    const ALPHABET: &[u8] = b"ABCDEFGHIJKLMNOPQRSTUVWXYZ234567";
    let mut bits: u64 = 0;
    let mut count = 0;
    let mut out = Vec::new();
    for c in s.trim_end_matches('=').bytes() {
        let v = ALPHABET.iter().position(|&a| a == c.to_ascii_uppercase())? as u64;
        bits = (bits << 5) | v;
        count += 5;
        if count >= 8 {
            count -= 8;
            out.push((bits >> count) as u8);
            bits &= (1 << count) - 1;
        }
    }
    (!out.is_empty()).then_some(out)
}

#[cfg(test)]
pub mod tests {
    use super::*;
    use openssl::symm::encrypt;

    pub const KEY: &str = "00112233445566778899aabbccddeeff00112233445566778899aabbccddeeff";

    /// What LibreChat stores for `base32` today (`v3:`, AES-256-CTR).
    pub fn v3(base32: &str) -> String {
        let key = decode_hex(KEY).unwrap();
        let iv = [7u8; 16];
        let ct = encrypt(Cipher::aes_256_ctr(), &key, Some(&iv), base32.as_bytes()).unwrap();
        let hex = |b: &[u8]| b.iter().map(|x| format!("{x:02x}")).collect::<String>();
        format!("v3:{}:{}", hex(&iv), hex(&ct))
    }

    #[test]
    fn every_form_librechat_stored_opens() {
        let key = Key::parse(KEY).unwrap();
        let secret = "JBSWY3DPEHPK3PXP";
        let expected = decode_base32(secret).unwrap();
        assert_eq!(key.totp_secret(&v3(secret)).unwrap(), expected);
        let raw = decode_hex(KEY).unwrap();
        let iv = [9u8; 16];
        let ct = encrypt(Cipher::aes_256_cbc(), &raw, Some(&iv), secret.as_bytes()).unwrap();
        let hex = |b: &[u8]| b.iter().map(|x| format!("{x:02x}")).collect::<String>();
        let cbc = format!("{}:{}", hex(&iv), hex(&ct));
        assert_eq!(key.totp_secret(&cbc).unwrap(), expected);
        assert_eq!(key.totp_secret(secret).unwrap(), expected);
        let other = Key::parse(&"ff".repeat(32)).unwrap();
        assert!(other.totp_secret(&cbc).is_err());
        assert!(Key::parse("short").is_err());
        assert_eq!(decode_base32("MZXW6YQ").unwrap(), b"foob");
    }
}
