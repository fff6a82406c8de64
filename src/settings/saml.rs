//! SAML 2.0 sign-in by LibreChat's `SAML_*` names: on when the IdP's sign-in URL, our
//! entity id and the IdP's signing certificate are all set; half a configuration stops the
//! start.

use base64::Engine as _;

use super::parse::{bad, parse_bool, parse_url, SettingsError};
use super::social::{callback_path, ProviderConfig, ProviderKind};
use super::sources::Raw;

/// What only SAML needs (the common parts are in `ProviderConfig`).
#[derive(Clone, Debug)]
pub struct SamlConfig {
    /// `SAML_ENTRY_POINT`: where the AuthnRequest goes (HTTP-Redirect binding).
    pub entry_point: String,
    /// `SAML_ISSUER`: our entity id, and the audience an assertion must name.
    pub entity_id: String,
    /// `SAML_CERT`: the IdP's signing certificate, DER.
    pub idp_cert: Vec<u8>,
    /// `SAML_USE_AUTHN_RESPONSE_SIGNED`: the whole response must be signed, not only the
    /// assertion.
    pub require_response_signed: bool,
    pub given_name_claim: Option<String>,
    pub family_name_claim: Option<String>,
}

const REQUIRED: [&str; 3] = ["SAML_ENTRY_POINT", "SAML_ISSUER", "SAML_CERT"];

pub fn saml_provider(raw: &Raw) -> Result<Option<ProviderConfig>, SettingsError> {
    let set: Vec<&str> = REQUIRED
        .into_iter()
        .filter(|n| raw.get(n).is_some())
        .collect();
    if set.is_empty() {
        return Ok(None);
    }
    if let Some(missing) = REQUIRED.into_iter().find(|n| raw.get(n).is_none()) {
        return Err(bad(missing, format!("is needed with {}", set.join(", "))));
    }
    let value = |n: &str| raw.get(n).unwrap_or_default().to_string();
    let entry_point = parse_url("SAML_ENTRY_POINT", &value("SAML_ENTRY_POINT"))?;
    let entity_id = value("SAML_ISSUER");
    if entity_id.trim().is_empty() {
        return Err(bad("SAML_ISSUER", "is empty"));
    }
    let idp_cert = certificate(&value("SAML_CERT")).map_err(|e| bad("SAML_CERT", e))?;
    let require_response_signed = raw
        .get("SAML_USE_AUTHN_RESPONSE_SIGNED")
        .map_or(Ok(false), |v| {
            parse_bool("SAML_USE_AUTHN_RESPONSE_SIGNED", v)
        })?;
    let claim = |n: &str| raw.get(n).map(str::to_string);
    Ok(Some(ProviderConfig {
        id: "saml".into(),
        name: raw.get("SAML_BUTTON_LABEL").unwrap_or("SAML").to_string(),
        client_id: String::new(),
        client_secret: None,
        kind: ProviderKind::Saml(Box::new(SamlConfig {
            entry_point,
            entity_id,
            idp_cert,
            require_response_signed,
            given_name_claim: claim("SAML_GIVEN_NAME_CLAIM"),
            family_name_claim: claim("SAML_FAMILY_NAME_CLAIM"),
        })),
        scopes: Vec::new(),
        callback_path: callback_path(raw, "saml")?,
        email_claim: Some(claim("SAML_EMAIL_CLAIM").unwrap_or_else(|| "email".into())),
        trust_email: raw
            .get("SAML_TRUST_EMAIL")
            .map_or(Ok(false), |v| parse_bool("SAML_TRUST_EMAIL", v))?,
        name_claim: claim("SAML_NAME_CLAIM"),
        username_claim: claim("SAML_USERNAME_CLAIM"),
        audience: None,
        secret_in_body: false,
        required_role: None,
        admin_role: None,
        image_url: claim("SAML_IMAGE_URL"),
    }))
}

/// A certificate given as PEM, as bare base64 of its DER, or as the path of a file holding
/// any of these or the DER itself (LibreChat accepts the first three). Returns the DER,
/// once OpenSSL has read it as X.509.
pub fn certificate(value: &str) -> Result<Vec<u8>, String> {
    let v = value.trim();
    let path = std::path::Path::new(v);
    if !v.starts_with("-----BEGIN") && path.is_file() {
        let bytes = std::fs::read(path).map_err(|e| format!("cannot read {v}: {e}"))?;
        if openssl::x509::X509::from_der(&bytes).is_ok() {
            return Ok(bytes);
        }
        let text = String::from_utf8(bytes).map_err(|_| format!("{v} holds no certificate"))?;
        return from_text(&text).map_err(|e| format!("{v}: {e}"));
    }
    from_text(v).map_err(|e| {
        if v.starts_with('/') || v.starts_with('.') {
            format!("{v}: no such file, and {e}")
        } else {
            e
        }
    })
}

/// PEM, or bare base64 of the DER.
fn from_text(v: &str) -> Result<Vec<u8>, String> {
    let v = v.trim();
    let cert = if v.starts_with("-----BEGIN") {
        openssl::x509::X509::from_pem(v.as_bytes())
            .map_err(|e| format!("not a PEM certificate: {e}"))?
    } else {
        let compact: String = v.chars().filter(|c| !c.is_whitespace()).collect();
        let der = base64::engine::general_purpose::STANDARD
            .decode(compact)
            .map_err(|_| "neither PEM nor base64".to_string())?;
        openssl::x509::X509::from_der(&der).map_err(|e| format!("not a certificate: {e}"))?
    };
    cert.to_der().map_err(|e| e.to_string())
}

#[cfg(test)]
mod tests {
    use super::*;

    const PEM: &str = include_str!("../../tests/providers/saml/idp.crt");

    fn load(pairs: &[(&str, &str)]) -> Result<Option<ProviderConfig>, SettingsError> {
        saml_provider(&Raw::from_pairs(pairs))
    }

    fn bare() -> String {
        PEM.lines().filter(|l| !l.starts_with("-----")).collect()
    }

    #[test]
    fn the_certificate_may_be_pem_bare_base64_or_a_file() {
        let der = certificate(PEM).unwrap();
        assert_eq!(certificate(&bare()).unwrap(), der);
        let dir = std::env::temp_dir().join(format!("latch-saml-{}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        let pem_file = dir.join("idp.pem");
        std::fs::write(&pem_file, PEM).unwrap();
        assert_eq!(certificate(pem_file.to_str().unwrap()).unwrap(), der);
        let b64_file = dir.join("idp.crt");
        std::fs::write(&b64_file, bare()).unwrap();
        assert_eq!(certificate(b64_file.to_str().unwrap()).unwrap(), der);
        let der_file = dir.join("idp-der.crt");
        std::fs::write(&der_file, &der).unwrap();
        assert_eq!(certificate(der_file.to_str().unwrap()).unwrap(), der);
        assert!(certificate("/nowhere/idp.pem")
            .unwrap_err()
            .contains("no such file"));
        assert!(certificate("bm90IGEgY2VydA==").is_err());
        assert!(
            certificate("-----BEGIN CERTIFICATE-----\nAAAA\n-----END CERTIFICATE-----").is_err()
        );
    }

    #[test]
    fn saml_is_on_with_its_three_names_and_half_a_configuration_stops_the_start() {
        assert!(load(&[]).unwrap().is_none());
        let err = load(&[("SAML_ENTRY_POINT", "https://idp.example/sso")]).unwrap_err();
        assert!(err.to_string().contains("SAML_ISSUER"), "{err}");
        let p = load(&[
            ("SAML_ENTRY_POINT", "https://idp.example/sso"),
            ("SAML_ISSUER", "https://chat.example/"),
            ("SAML_CERT", PEM),
            ("SAML_CALLBACK_URL", "/oauth/saml/callback"),
            ("SAML_BUTTON_LABEL", "Staff sign-in"),
            ("SAML_USE_AUTHN_RESPONSE_SIGNED", "true"),
        ])
        .unwrap()
        .unwrap();
        assert_eq!(p.id, "saml");
        assert_eq!(p.name, "Staff sign-in");
        assert_eq!(p.callback_path, "/oauth/saml/callback");
        assert_eq!(p.email_claim.as_deref(), Some("email"));
        let ProviderKind::Saml(c) = &p.kind else {
            panic!("not SAML")
        };
        assert!(c.require_response_signed);
        assert_eq!(c.entity_id, "https://chat.example/");
    }
}
