//! SAML 2.0 sign-in (the Web Browser SSO profile): the AuthnRequest goes out by
//! HTTP-Redirect, the response comes back by HTTP-POST. xmlsec (through `samael`) checks
//! the signature with the configured certificate and reduces the document to what was
//! signed. Before any of that, the response must have the one shape this profile gives it
//! (a single assertion, a child of the response, no element ID used twice): signature
//! wrapping works by breaking exactly that shape.

use std::sync::Arc;

use chrono::{DateTime, Utc};
use samael::crypto::{
    AllowedSignatureAlgorithm, CertificateDer, Crypto, CryptoProvider, ReduceMode,
};
use samael::metadata::{EntityDescriptor, IndexedEndpoint, SpSsoDescriptor, HTTP_POST_BINDING};
use samael::schema::Assertion;
use samael::service_provider::ServiceProvider;
use samael::traits::ToXml;

use super::{ExternalIdentity, ProviderError, Started};
use crate::auth::opaque_token::generate;
use crate::domain::Email;
use crate::settings::saml::SamlConfig;
use crate::settings::ProviderConfig;

const SAMLP: &str = "urn:oasis:names:tc:SAML:2.0:protocol";
const SAML: &str = "urn:oasis:names:tc:SAML:2.0:assertion";
const SUCCESS: &str = "urn:oasis:names:tc:SAML:2.0:status:Success";

/// SHA-1 and DSA are refused: only SHA-2 signatures, RSA or ECDSA.
const ALGORITHMS: [AllowedSignatureAlgorithm; 6] = [
    AllowedSignatureAlgorithm::RsaSha256,
    AllowedSignatureAlgorithm::RsaSha384,
    AllowedSignatureAlgorithm::RsaSha512,
    AllowedSignatureAlgorithm::EcdsaSha256,
    AllowedSignatureAlgorithm::EcdsaSha384,
    AllowedSignatureAlgorithm::EcdsaSha512,
];

/// Why a response was not accepted. The text is for the log only.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Refused {
    /// The IdP answered that the person was not signed in (a non-success status).
    Denied(String),
    /// Anything else: unsigned, badly signed, out of shape, for someone else, too old...
    Invalid(String),
}

fn invalid(why: impl Into<String>) -> Refused {
    Refused::Invalid(why.into())
}

/// An accepted assertion: who it vouches for, and what identifies it against replay.
#[derive(Debug)]
pub struct Accepted {
    pub identity: ExternalIdentity,
    /// The IdP's entity id and the assertion's ID: unique per IdP.
    pub replay_key: String,
    /// Until when the assertion could be presented; its use is remembered that long.
    pub expires_at: DateTime<Utc>,
}

pub struct SamlProvider {
    config: Arc<ProviderConfig>,
    saml: SamlConfig,
    sp: ServiceProvider,
    cert: CertificateDer,
    acs_url: String,
    metadata: String,
    tolerance: chrono::Duration,
}

impl SamlProvider {
    /// `acs_url` is where the IdP posts its answer (`DOMAIN_SERVER` and the callback path);
    /// `tolerance` is the clock skew allowed either way.
    pub fn new(
        config: Arc<ProviderConfig>,
        acs_url: &str,
        tolerance: std::time::Duration,
    ) -> anyhow::Result<SamlProvider> {
        let crate::settings::ProviderKind::Saml(saml) = &config.kind else {
            anyhow::bail!("{} is not a SAML provider", config.id);
        };
        let saml = (**saml).clone();
        let tolerance = chrono::Duration::from_std(tolerance)?;
        let sp = ServiceProvider {
            entity_id: Some(saml.entity_id.clone()),
            acs_url: Some(acs_url.to_string()),
            metadata_url: None,
            slo_url: None,
            idp_metadata: idp_metadata(&saml.idp_cert)?,
            allow_idp_initiated: false,
            max_clock_skew: tolerance,
            // A response is posted as soon as it is made; clocks may differ by the skew.
            max_issue_delay: chrono::Duration::seconds(90) + tolerance,
            allowed_signature_algorithms: Some(ALGORITHMS.to_vec()),
            ..ServiceProvider::default()
        };
        let metadata = metadata(&saml.entity_id, acs_url)
            .map_err(|e| anyhow::anyhow!("SAML metadata: {e}"))?;
        let cert = CertificateDer::from(saml.idp_cert.clone());
        // xmlsec sets up its error reporting when it first starts, which a verification
        // does: start it now (this document has no signature to check), then send its
        // messages to our log.
        let _ = Crypto::verify_signed_xml("<start/>", &cert, None);
        super::xml_logs::capture();
        Ok(SamlProvider {
            config,
            cert,
            saml,
            sp,
            acs_url: acs_url.to_string(),
            metadata,
            tolerance,
        })
    }

    /// Our SP metadata, to register with the IdP.
    pub fn metadata(&self) -> &str {
        &self.metadata
    }

    /// The redirect to the IdP: an AuthnRequest with an unguessable ID (kept as the
    /// sign-in's nonce, so the answer can be matched to it) and the `RelayState`.
    pub fn start(&self, relay_state: &str) -> Result<Started, ProviderError> {
        let mut request = self
            .sp
            .make_authentication_request(&self.saml.entry_point)
            .map_err(|e| ProviderError(format!("AuthnRequest: {e}")))?;
        // An XML ID must not start with a digit or a dash.
        request.id = format!("id-{}", generate());
        let url = request
            .redirect(relay_state)
            .map_err(|e| ProviderError(format!("AuthnRequest: {e}")))?
            .ok_or_else(|| ProviderError("AuthnRequest without a destination".into()))?;
        Ok(Started {
            url: url.to_string(),
            nonce: Some(request.id),
            pkce_verifier: String::new(),
        })
    }

    /// Checks a posted `SAMLResponse` (base64) that answers the request `request_id`.
    /// Blocking: XML parsing and signature checks run on a blocking thread.
    pub fn finish(&self, encoded: &str, request_id: &str) -> Result<Accepted, Refused> {
        use base64::Engine as _;
        let compact: String = encoded.chars().filter(|c| !c.is_whitespace()).collect();
        let bytes = base64::engine::general_purpose::STANDARD
            .decode(compact)
            .map_err(|_| invalid("SAMLResponse is not base64"))?;
        let xml = std::str::from_utf8(&bytes).map_err(|_| invalid("SAMLResponse is not UTF-8"))?;
        let shape = inspect(xml, &self.acs_url, request_id)?;
        let reduced = Crypto::reduce_xml_to_signed_with_allowed_algorithms(
            xml,
            std::slice::from_ref(&self.cert),
            ReduceMode::ValidateAndMarkNoAncestors,
            Some(&ALGORITHMS),
        )
        .map_err(|e| invalid(format!("signature: {e}")))?;
        let signed = signed_element(&reduced, &shape)?;
        if self.saml.require_response_signed && signed != Signed::Response {
            return Err(invalid(
                "the response is not signed (SAML_USE_AUTHN_RESPONSE_SIGNED)",
            ));
        }
        // samael checks the signature again, and validates what it reduced the document to.
        let mut sp = self.sp.clone();
        // The certificate names the IdP; its entity id is whatever it signed as issuer.
        sp.idp_metadata.entity_id = Some(shape.issuer.clone());
        let assertion = sp
            .parse_xml_response(xml, Some(&[request_id]))
            .map_err(|e| invalid(e.to_string()))?;
        if assertion.id != shape.assertion_id {
            return Err(invalid("the checked assertion is not the one in place"));
        }
        let audiences = assertion
            .conditions
            .as_ref()
            .and_then(|c| c.audience_restrictions.as_ref())
            .map_or(0, Vec::len);
        if audiences == 0 {
            return Err(invalid("the assertion names no audience"));
        }
        Ok(Accepted {
            identity: identity(&self.config, &self.saml, &assertion)?,
            replay_key: format!("{}\n{}", shape.issuer, assertion.id),
            expires_at: valid_until(&assertion) + self.tolerance,
        })
    }
}

/// The IdP as `samael` knows it: only its signing certificate (its entity id is set per
/// response, from what it signed).
fn idp_metadata(cert: &[u8]) -> anyhow::Result<EntityDescriptor> {
    use base64::Engine as _;
    let cert = base64::engine::general_purpose::STANDARD.encode(cert);
    let xml = format!(
        r#"<md:EntityDescriptor xmlns:md="urn:oasis:names:tc:SAML:2.0:metadata" xmlns:ds="http://www.w3.org/2000/09/xmldsig#" entityID="idp"><md:IDPSSODescriptor protocolSupportEnumeration="{SAMLP}"><md:KeyDescriptor use="signing"><ds:KeyInfo><ds:X509Data><ds:X509Certificate>{cert}</ds:X509Certificate></ds:X509Data></ds:KeyInfo></md:KeyDescriptor></md:IDPSSODescriptor></md:EntityDescriptor>"#
    );
    let descriptor: EntityDescriptor =
        xml.parse().map_err(|e| anyhow::anyhow!("SAML_CERT: {e}"))?;
    Ok(descriptor)
}

fn metadata(entity_id: &str, acs_url: &str) -> Result<String, Box<dyn std::error::Error>> {
    let descriptor = EntityDescriptor {
        entity_id: Some(entity_id.to_string()),
        sp_sso_descriptors: Some(vec![SpSsoDescriptor {
            protocol_support_enumeration: Some(SAMLP.to_string()),
            authn_requests_signed: Some(false),
            want_assertions_signed: Some(true),
            assertion_consumer_services: vec![IndexedEndpoint {
                binding: HTTP_POST_BINDING.to_string(),
                location: acs_url.to_string(),
                index: 0,
                is_default: Some(true),
                ..IndexedEndpoint::default()
            }],
            ..SpSsoDescriptor::default()
        }]),
        ..EntityDescriptor::default()
    };
    descriptor.to_string()
}

/// The IDs and issuer of a response that has the shape of the Web SSO profile.
#[derive(Debug, PartialEq, Eq)]
pub struct Shape {
    pub response_id: String,
    pub assertion_id: String,
    pub issuer: String,
}

/// Reads the response as XML (no DTD, no comments: canonicalisation drops comments, so a
/// comment inside a signed value would change what is read without breaking the signature)
/// and checks its shape: a `Response` root and no other response, a success status, exactly one (unencrypted) assertion and that one a child of
/// the root, every `ID` used once, and `Destination` and `InResponseTo` (optional on the
/// response) ours when present.
pub fn inspect(xml: &str, acs_url: &str, request_id: &str) -> Result<Shape, Refused> {
    let doc = roxmltree::Document::parse(xml).map_err(|e| invalid(format!("XML: {e}")))?;
    if doc.descendants().any(|n| n.is_comment() || n.is_pi()) {
        return Err(invalid("comments or processing instructions"));
    }
    let root = doc.root_element();
    if !root.has_tag_name((SAMLP, "Response")) {
        return Err(invalid("not a SAML Response"));
    }
    let named = |ns: &'static str, name: &'static str| {
        doc.descendants()
            .filter(move |n| n.has_tag_name((ns, name)))
            .collect::<Vec<_>>()
    };
    if named(SAMLP, "Response").len() != 1 {
        return Err(invalid("a response inside the response"));
    }
    let status = root
        .children()
        .find(|n| n.has_tag_name((SAMLP, "Status")))
        .and_then(|s| s.children().find(|n| n.has_tag_name((SAMLP, "StatusCode"))))
        .and_then(|c| c.attribute("Value"));
    if status != Some(SUCCESS) {
        return Err(Refused::Denied(format!("status {status:?}")));
    }
    if !named(SAML, "EncryptedAssertion").is_empty() {
        return Err(invalid("encrypted assertions are not supported"));
    }
    let assertions = named(SAML, "Assertion");
    let [assertion] = assertions.as_slice() else {
        return Err(invalid(format!("{} assertions", assertions.len())));
    };
    if assertion.parent() != Some(root) {
        return Err(invalid("the assertion is not a child of the response"));
    }
    let mut ids = std::collections::HashSet::new();
    for id in doc.descendants().filter_map(|n| n.attribute("ID")) {
        if !ids.insert(id) {
            return Err(invalid("an ID is used twice"));
        }
    }
    if root.attribute("Destination").is_some_and(|d| d != acs_url) {
        return Err(invalid("Destination is not our ACS URL"));
    }
    if root
        .attribute("InResponseTo")
        .is_some_and(|r| r != request_id)
    {
        return Err(invalid("InResponseTo names another request"));
    }
    let issuer = assertion
        .children()
        .find(|n| n.has_tag_name((SAML, "Issuer")))
        .and_then(|n| n.text())
        .map(str::trim)
        .filter(|s| !s.is_empty())
        .ok_or_else(|| invalid("the assertion has no issuer"))?;
    Ok(Shape {
        response_id: root.attribute("ID").unwrap_or_default().to_string(),
        assertion_id: assertion
            .attribute("ID")
            .filter(|id| !id.is_empty())
            .ok_or_else(|| invalid("the assertion has no ID"))?
            .to_string(),
        issuer: issuer.to_string(),
    })
}

#[derive(Debug, PartialEq, Eq)]
enum Signed {
    Response,
    Assertion,
}

/// What the signature covers, from the document xmlsec reduced to the signed content: the
/// response (and so its assertion) or the assertion alone. Anything else was not ours.
fn signed_element(reduced: &str, shape: &Shape) -> Result<Signed, Refused> {
    let doc = roxmltree::Document::parse(reduced).map_err(|e| invalid(format!("XML: {e}")))?;
    let root = doc.root_element();
    let id = root.attribute("ID");
    if root.has_tag_name((SAMLP, "Response")) && id == Some(shape.response_id.as_str()) {
        Ok(Signed::Response)
    } else if root.has_tag_name((SAML, "Assertion")) && id == Some(shape.assertion_id.as_str()) {
        Ok(Signed::Assertion)
    } else {
        Err(invalid(
            "the signature covers neither the response nor its assertion",
        ))
    }
}

/// The last moment the assertion could be accepted.
fn valid_until(assertion: &Assertion) -> DateTime<Utc> {
    let confirmed = assertion
        .subject
        .iter()
        .flat_map(|s| s.subject_confirmations.iter().flatten())
        .filter_map(|c| c.subject_confirmation_data.as_ref()?.not_on_or_after);
    let condition = assertion
        .conditions
        .as_ref()
        .and_then(|c| c.not_on_or_after);
    confirmed
        .chain(condition)
        .max()
        .unwrap_or_else(|| assertion.issue_instant + chrono::Duration::hours(1))
}

/// The first value of the first attribute named `name` (or so called by its friendly name).
fn attribute<'a>(assertion: &'a Assertion, name: &str) -> Option<&'a str> {
    assertion
        .attribute_statements
        .iter()
        .flatten()
        .flat_map(|s| s.attributes.iter())
        .filter(|a| a.name.as_deref() == Some(name) || a.friendly_name.as_deref() == Some(name))
        .flat_map(|a| a.values.iter())
        .filter_map(|v| v.value.as_deref().map(str::trim))
        .find(|v| !v.is_empty())
}

fn first_of<'a>(
    assertion: &'a Assertion,
    configured: Option<&str>,
    defaults: &[&str],
) -> Option<&'a str> {
    match configured {
        Some(name) => attribute(assertion, name),
        None => defaults.iter().find_map(|n| attribute(assertion, n)),
    }
}

const GIVEN_NAMES: [&str; 3] = [
    "given_name",
    "givenName",
    "http://schemas.xmlsoap.org/ws/2005/05/identity/claims/givenname",
];
const FAMILY_NAMES: [&str; 4] = [
    "family_name",
    "sn",
    "surname",
    "http://schemas.xmlsoap.org/ws/2005/05/identity/claims/surname",
];

/// A NameID that names nobody twice: no identity can be keyed by it.
const TRANSIENT: &str = "urn:oasis:names:tc:SAML:2.0:nameid-format:transient";

/// Who the assertion describes: the identity is the NameID (a transient one is refused);
/// the address (from `SAML_EMAIL_CLAIM`) is vouched for only when the operator says so
/// (`SAML_TRUST_EMAIL`): an IdP may let its users set any address; the name is
/// `SAML_NAME_CLAIM`, else given and family names.
fn identity(
    config: &ProviderConfig,
    saml: &SamlConfig,
    assertion: &Assertion,
) -> Result<ExternalIdentity, Refused> {
    let name_id = assertion
        .subject
        .as_ref()
        .and_then(|s| s.name_id.as_ref())
        .ok_or_else(|| invalid("the assertion has no NameID"))?;
    if name_id.format.as_deref() == Some(TRANSIENT) {
        return Err(invalid(
            "a transient NameID names nobody twice; configure a persistent one",
        ));
    }
    let subject = Some(name_id.value.trim())
        .filter(|v| !v.is_empty())
        .ok_or_else(|| invalid("the assertion has no NameID"))?;
    let email_claim = config.email_claim.as_deref().unwrap_or("email");
    let email = attribute(assertion, email_claim).and_then(|v| Email::parse("email", v).ok());
    let name = match config.name_claim.as_deref() {
        Some(claim) => attribute(assertion, claim).map(str::to_string),
        None => {
            let given = first_of(assertion, saml.given_name_claim.as_deref(), &GIVEN_NAMES);
            let family = first_of(assertion, saml.family_name_claim.as_deref(), &FAMILY_NAMES);
            let joined = [given, family]
                .into_iter()
                .flatten()
                .collect::<Vec<_>>()
                .join(" ");
            Some(joined).filter(|n| !n.is_empty())
        }
    };
    Ok(ExternalIdentity {
        provider: config.id.clone(),
        subject: subject.to_string(),
        vouched: config.trust_email && email.is_some(),
        email,
        username: config
            .username_claim
            .as_deref()
            .and_then(|claim| attribute(assertion, claim))
            .map(str::to_string),
        name,
        admin: None,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    const ACS: &str = "https://chat.example/auth/oauth/saml/callback";

    fn response(inner: &str, attrs: &str) -> String {
        format!(
            r#"<samlp:Response xmlns:samlp="{SAMLP}" xmlns:saml="{SAML}" ID="_r" Version="2.0" IssueInstant="2026-01-01T00:00:00Z" {attrs}><saml:Issuer>https://idp.example/</saml:Issuer><samlp:Status><samlp:StatusCode Value="{SUCCESS}"/></samlp:Status>{inner}</samlp:Response>"#
        )
    }

    fn assertion(id: &str) -> String {
        format!(
            r#"<saml:Assertion ID="{id}" Version="2.0" IssueInstant="2026-01-01T00:00:00Z"><saml:Issuer>https://idp.example/</saml:Issuer></saml:Assertion>"#
        )
    }

    #[test]
    fn a_plain_response_has_the_shape() {
        let xml = response(
            &assertion("_a"),
            &format!(r#"Destination="{ACS}" InResponseTo="id-1""#),
        );
        assert_eq!(
            inspect(&xml, ACS, "id-1").unwrap(),
            Shape {
                response_id: "_r".into(),
                assertion_id: "_a".into(),
                issuer: "https://idp.example/".into(),
            }
        );
    }

    #[test]
    fn wrapping_shapes_are_refused() {
        let refused = |xml: &str| {
            assert!(
                matches!(inspect(xml, ACS, "id-1"), Err(Refused::Invalid(_))),
                "{xml}"
            )
        };
        // Two assertions, wherever the second one hides.
        refused(&response(
            &format!("{}{}", assertion("_a"), assertion("_b")),
            "",
        ));
        refused(&response(&assertion("_b"), "").replace(
            "<samlp:Status>",
            &format!(
                "<samlp:Extensions>{}</samlp:Extensions><samlp:Status>",
                assertion("_a")
            ),
        ));
        // The assertion somewhere other than under the response.
        refused(&response("", "").replace(
            "<samlp:Status>",
            &format!(
                "<samlp:Extensions>{}</samlp:Extensions><samlp:Status>",
                assertion("_a")
            ),
        ));
        // A response inside the response.
        refused(&response(&assertion("_a"), "").replace(
            "<samlp:Status>",
            &format!(
                "<samlp:Extensions>{}</samlp:Extensions><samlp:Status>",
                response("", "").replace("_r", "_r2")
            ),
        ));
        // One ID twice.
        refused(&response(&assertion("_r"), ""));
        // A comment inside a value (it would cut the text short after canonicalisation).
        refused(&response(&assertion("_a"), "").replace(
            "https://idp.example/</saml:Issuer></saml:Assertion>",
            "https://idp.example/<!---->.evil</saml:Issuer></saml:Assertion>",
        ));
        // No assertion; an encrypted one; a DTD.
        refused(&response("", ""));
        refused(&response(
            &format!(
                "<saml:EncryptedAssertion>{}</saml:EncryptedAssertion>",
                assertion("_a")
            ),
            "",
        ));
        refused(&format!(
            "<!DOCTYPE r [<!ENTITY x \"y\">]>{}",
            response(&assertion("_a"), "")
        ));
        refused(&assertion("_a"));
    }

    #[test]
    fn destination_and_in_response_to_are_ours_when_present() {
        let xml = response(
            &assertion("_a"),
            r#"Destination="https://elsewhere.example/acs""#,
        );
        assert!(inspect(&xml, ACS, "id-1").is_err());
        let xml = response(&assertion("_a"), r#"InResponseTo="id-2""#);
        assert!(inspect(&xml, ACS, "id-1").is_err());
        assert!(inspect(&response(&assertion("_a"), ""), ACS, "id-1").is_ok());
    }

    #[test]
    fn a_failed_status_is_a_denial() {
        let xml = response("", "").replace(SUCCESS, "urn:oasis:names:tc:SAML:2.0:status:Responder");
        assert!(matches!(
            inspect(&xml, ACS, "id-1"),
            Err(Refused::Denied(_))
        ));
    }

    fn with_attributes_xml(name_id: &str) -> Assertion {
        format!(
            r#"<saml:Assertion xmlns:saml="{SAML}" ID="_a" Version="2.0" IssueInstant="2026-01-01T00:00:00Z"><saml:Issuer>https://idp.example/</saml:Issuer><saml:Subject>{name_id}</saml:Subject></saml:Assertion>"#
        )
        .parse()
        .unwrap()
    }

    fn with_attributes(name_id: Option<&str>, attributes: &[(&str, &str)]) -> Assertion {
        let name_id = name_id
            .map(|n| format!("<saml:NameID>{n}</saml:NameID>"))
            .unwrap_or_default();
        let attrs: String = attributes
            .iter()
            .map(|(n, v)| {
                format!(r#"<saml:Attribute Name="{n}"><saml:AttributeValue>{v}</saml:AttributeValue></saml:Attribute>"#)
            })
            .collect();
        format!(
            r#"<saml:Assertion xmlns:saml="{SAML}" ID="_a" Version="2.0" IssueInstant="2026-01-01T00:00:00Z"><saml:Issuer>https://idp.example/</saml:Issuer><saml:Subject>{name_id}</saml:Subject><saml:AttributeStatement>{attrs}</saml:AttributeStatement></saml:Assertion>"#
        )
        .parse()
        .unwrap()
    }

    fn config(pairs: &[(&str, &str)]) -> (ProviderConfig, SamlConfig) {
        let pem = include_str!("../../tests/providers/saml/idp.crt");
        let mut raw = vec![
            ("SAML_ENTRY_POINT", "https://idp.example/sso"),
            ("SAML_ISSUER", "https://chat.example/saml"),
            ("SAML_CERT", pem),
        ];
        raw.extend_from_slice(pairs);
        let raw = crate::settings::sources::Raw::from_pairs(&raw);
        let config = crate::settings::saml::saml_provider(&raw).unwrap().unwrap();
        let crate::settings::ProviderKind::Saml(saml) = &config.kind else {
            unreachable!()
        };
        let saml = (**saml).clone();
        (config, saml)
    }

    #[test]
    fn the_claims_settings_pick_the_attributes() {
        let a = with_attributes(
            Some(" u-1 "),
            &[
                ("email", "Ada@Example.com"),
                ("mail", "ada.l@example.com"),
                ("givenName", "Ada"),
                ("sn", "Lovelace"),
                ("first", "Augusta"),
                ("last", "King"),
                ("displayName", "Countess of Lovelace"),
            ],
        );
        // Defaults: `email`, and given and family names under their usual names.
        let (c, s) = config(&[]);
        let id = identity(&c, &s, &a).unwrap();
        assert_eq!(id.subject, "u-1");
        assert_eq!(
            id.email.as_ref().map(|e| e.as_str()),
            Some("ada@example.com")
        );
        assert!(
            !id.vouched,
            "an IdP's address counts only with SAML_TRUST_EMAIL"
        );
        assert_eq!(id.name.as_deref(), Some("Ada Lovelace"));
        let (trusting, s2) = config(&[("SAML_TRUST_EMAIL", "true")]);
        assert!(identity(&trusting, &s2, &a).unwrap().vouched);
        // Configured given and family names; then a whole name, which wins.
        let (c, s) = config(&[
            ("SAML_GIVEN_NAME_CLAIM", "first"),
            ("SAML_FAMILY_NAME_CLAIM", "last"),
            ("SAML_EMAIL_CLAIM", "mail"),
        ]);
        let id = identity(&c, &s, &a).unwrap();
        assert_eq!(id.name.as_deref(), Some("Augusta King"));
        assert_eq!(
            id.email.as_ref().map(|e| e.as_str()),
            Some("ada.l@example.com")
        );
        let (c, s) = config(&[
            ("SAML_NAME_CLAIM", "displayName"),
            ("SAML_GIVEN_NAME_CLAIM", "first"),
        ]);
        assert_eq!(
            identity(&c, &s, &a).unwrap().name.as_deref(),
            Some("Countess of Lovelace")
        );
        // No address where the claim points: no email, so nothing is vouched for.
        let (c, s) = config(&[
            ("SAML_EMAIL_CLAIM", "nowhere"),
            ("SAML_TRUST_EMAIL", "true"),
        ]);
        let id = identity(&c, &s, &a).unwrap();
        assert!(id.email.is_none() && !id.vouched);
        // No NameID, or a transient one: refused.
        assert!(identity(&c, &s, &with_attributes(None, &[])).is_err());
        let transient: Assertion = with_attributes_xml(
            r#"<saml:NameID Format="urn:oasis:names:tc:SAML:2.0:nameid-format:transient">_x</saml:NameID>"#,
        );
        assert!(identity(&c, &s, &transient).is_err());
        let persistent: Assertion = with_attributes_xml(
            r#"<saml:NameID Format="urn:oasis:names:tc:SAML:2.0:nameid-format:persistent">p-1</saml:NameID>"#,
        );
        assert_eq!(identity(&c, &s, &persistent).unwrap().subject, "p-1");
    }
}
