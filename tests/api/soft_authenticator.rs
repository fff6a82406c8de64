//! A software WebAuthn authenticator (and client) for the passkey tests: ES256, "none"
//! attestation, resident credentials (it returns the user handle), user verification on
//! by default. Cloning it copies its keys and counters: a cloned authenticator.
use base64::{engine::general_purpose::URL_SAFE_NO_PAD as B64, Engine as _};
use openssl::bn::{BigNum, BigNumContext};
use openssl::ec::{EcGroup, EcKey};
use openssl::hash::MessageDigest;
use openssl::nid::Nid;
use openssl::pkey::{PKey, Private};
use openssl::sha::sha256;
use openssl::sign::Signer;
use serde_json::{json, Value};

const UP: u8 = 0x01;
const UV: u8 = 0x04;
const AT: u8 = 0x40;

#[derive(Clone)]
pub struct SoftCredential {
    pub id: Vec<u8>,
    pub rp_id: String,
    pub user_handle: Vec<u8>,
    pub sign_count: u32,
    key: PKey<Private>,
}

#[derive(Clone)]
pub struct SoftAuthenticator {
    /// Written into clientDataJSON.origin: set it to a wrong origin to test InvalidRPOrigin.
    pub origin: String,
    /// UV flag; false -> the server must answer UserNotVerified.
    pub user_verified: bool,
    /// Added to the counter per assertion; 0 behaves like a synced passkey (counter always 0).
    pub counter_step: u32,
    pub creds: Vec<SoftCredential>,
}

impl SoftAuthenticator {
    pub fn new(origin: &str) -> Self {
        Self {
            origin: origin.to_owned(),
            user_verified: true,
            counter_step: 1,
            creds: Vec::new(),
        }
    }

    fn client_data(&self, kind: &str, challenge: &str) -> Vec<u8> {
        json!({"type": kind, "challenge": challenge, "origin": self.origin, "crossOrigin": false})
            .to_string()
            .into_bytes()
    }

    /// `pk`: the `publicKey` of the server's creation options. Returns RegisterPublicKeyCredential JSON.
    pub fn create(&mut self, pk: &Value) -> Value {
        let rp_id = pk["rp"]["id"].as_str().expect("rp.id").to_owned();
        let user_handle = B64
            .decode(pk["user"]["id"].as_str().expect("user.id"))
            .expect("user.id");
        let challenge = pk["challenge"].as_str().expect("challenge");
        let params = pk["pubKeyCredParams"].as_array().expect("pubKeyCredParams");
        assert!(params.iter().any(|p| p["alg"] == -7), "ES256 not offered");

        let group = EcGroup::from_curve_name(Nid::X9_62_PRIME256V1).unwrap();
        let ec = EcKey::generate(&group).unwrap();
        let mut x = BigNum::new().unwrap();
        let mut y = BigNum::new().unwrap();
        let mut ctx = BigNumContext::new().unwrap();
        ec.public_key()
            .affine_coordinates_gfp(&group, &mut x, &mut y, &mut ctx)
            .unwrap();
        let key = PKey::from_ec_key(ec).unwrap();
        let mut id = vec![0u8; 32];
        openssl::rand::rand_bytes(&mut id).unwrap();

        let mut cose = vec![0xa5, 0x01, 0x02, 0x03, 0x26, 0x20, 0x01, 0x21, 0x58, 0x20];
        cose.extend(x.to_vec_padded(32).unwrap());
        cose.extend([0x22, 0x58, 0x20]);
        cose.extend(y.to_vec_padded(32).unwrap());

        let mut auth_data = sha256(rp_id.as_bytes()).to_vec();
        auth_data.push(UP | AT | if self.user_verified { UV } else { 0 });
        auth_data.extend(0u32.to_be_bytes());
        auth_data.extend([0u8; 16]);
        auth_data.extend(u16::try_from(id.len()).unwrap().to_be_bytes());
        auth_data.extend(&id);
        auth_data.extend(&cose);

        let mut att = b"\xa3\x63fmt\x64none\x67attStmt\xa0\x68authData".to_vec();
        cbor_bytes_header(&mut att, auth_data.len());
        att.extend(&auth_data);

        let client_data = self.client_data("webauthn.create", challenge);
        self.creds.push(SoftCredential {
            id: id.clone(),
            rp_id,
            user_handle,
            sign_count: 0,
            key,
        });
        json!({
            "id": B64.encode(&id),
            "rawId": B64.encode(&id),
            "type": "public-key",
            "response": {
                "attestationObject": B64.encode(&att),
                "clientDataJSON": B64.encode(&client_data),
                "transports": ["internal"],
            },
            "extensions": {},
        })
    }

    /// `pk`: the `publicKey` of the server's request options. Uses the first credential for `rpId`
    /// that `allowCredentials` allows (any when empty). Returns PublicKeyCredential JSON, or None.
    pub fn get(&mut self, pk: &Value) -> Option<Value> {
        let rp_id = pk["rpId"].as_str().expect("rpId").to_owned();
        let challenge = pk["challenge"].as_str().expect("challenge").to_owned();
        let allowed: Vec<Vec<u8>> = pk["allowCredentials"]
            .as_array()
            .map(|a| {
                a.iter()
                    .map(|c| B64.decode(c["id"].as_str().expect("id")).expect("id"))
                    .collect()
            })
            .unwrap_or_default();
        let flags = UP | if self.user_verified { UV } else { 0 };
        let step = self.counter_step;
        let client_data = self.client_data("webauthn.get", &challenge);
        let cred = self
            .creds
            .iter_mut()
            .find(|c| c.rp_id == rp_id && (allowed.is_empty() || allowed.contains(&c.id)))?;
        cred.sign_count += step;

        let mut auth_data = sha256(rp_id.as_bytes()).to_vec();
        auth_data.push(flags);
        auth_data.extend(cred.sign_count.to_be_bytes());
        let mut signed = auth_data.clone();
        signed.extend(sha256(&client_data));
        let mut signer = Signer::new(MessageDigest::sha256(), &cred.key).unwrap();
        signer.update(&signed).unwrap();
        let signature = signer.sign_to_vec().unwrap(); // DER, as WebAuthn expects

        Some(json!({
            "id": B64.encode(&cred.id),
            "rawId": B64.encode(&cred.id),
            "type": "public-key",
            "response": {
                "authenticatorData": B64.encode(&auth_data),
                "clientDataJSON": B64.encode(&client_data),
                "signature": B64.encode(&signature),
                "userHandle": B64.encode(&cred.user_handle),
            },
            "extensions": {},
        }))
    }
}

fn cbor_bytes_header(out: &mut Vec<u8>, len: usize) {
    match len {
        0..=23 => out.push(0x40 | len as u8),
        24..=255 => out.extend([0x58, len as u8]),
        _ => {
            out.push(0x59);
            out.extend(u16::try_from(len).unwrap().to_be_bytes());
        }
    }
}
