//! The XML libraries' own messages. xmlsec and libxml2 print their errors to standard
//! error by themselves, quoting the document (a SAML response is the sender's text): a
//! line break in a `Reference URI` would start a line of its own, outside `LOG_FORMAT`.
//! Their messages go to our log instead, as fields of one debug event (escaped like any
//! other); libxml2's unstructured messages (a format string without its values) go nowhere.

use std::ffi::{c_char, c_int, c_void, CStr};

type XmlSecErrorsCallback = unsafe extern "C" fn(
    file: *const c_char,
    line: c_int,
    func: *const c_char,
    error_object: *const c_char,
    error_subject: *const c_char,
    reason: c_int,
    msg: *const c_char,
);

// libxml2 calls its generic handler as `handler(ctx, format, ...)`; a handler that reads
// only the two named arguments is safe to call that way on the C calling conventions we
// build for, and needs no variadic function (which stable Rust cannot define).
type GenericHandler = unsafe extern "C" fn(ctx: *mut c_void, msg: *const c_char);
type StructuredHandler = unsafe extern "C" fn(ctx: *mut c_void, error: *mut c_void);

extern "C" {
    fn xmlSecErrorsSetCallback(callback: Option<XmlSecErrorsCallback>);
    fn xmlSetGenericErrorFunc(ctx: *mut c_void, handler: Option<GenericHandler>);
    fn xmlThrDefSetGenericErrorFunc(ctx: *mut c_void, handler: Option<GenericHandler>);
    fn xmlSetStructuredErrorFunc(ctx: *mut c_void, handler: Option<StructuredHandler>);
    fn xmlThrDefSetStructuredErrorFunc(ctx: *mut c_void, handler: Option<StructuredHandler>);
}

fn text(p: *const c_char) -> String {
    if p.is_null() {
        return String::new();
    }
    // SAFETY: xmlsec passes NUL-terminated strings that live for the call.
    unsafe { CStr::from_ptr(p) }.to_string_lossy().into_owned()
}

unsafe extern "C" fn xmlsec_error(
    _file: *const c_char,
    _line: c_int,
    func: *const c_char,
    error_object: *const c_char,
    error_subject: *const c_char,
    reason: c_int,
    msg: *const c_char,
) {
    #[cfg(test)]
    tests::SEEN.lock().unwrap().push(text(msg));
    tracing::debug!(
        func = %text(func),
        object = %text(error_object),
        subject = %text(error_subject),
        reason,
        message = %text(msg),
        "xmlsec"
    );
}

unsafe extern "C" fn libxml_quiet(_ctx: *mut c_void, _msg: *const c_char) {}

/// The leading fields of libxml2's `xmlError`, as its header declares them.
#[repr(C)]
struct XmlError {
    domain: c_int,
    code: c_int,
    message: *const c_char,
}

unsafe extern "C" fn libxml_structured(_ctx: *mut c_void, error: *mut c_void) {
    if error.is_null() {
        return;
    }
    // SAFETY: libxml2 passes a valid `xmlError` for the call.
    let error = unsafe { &*(error as *const XmlError) };
    tracing::debug!(
        domain = error.domain,
        code = error.code,
        message = %text(error.message).trim_end(),
        "libxml2"
    );
}

/// Routes the XML libraries' messages away from standard error: at process start (before
/// any thread uses libxml2, which keeps a handler per thread, starting from the default
/// set here), and again once xmlsec has started (its start sets its own reporting).
pub fn capture() {
    // SAFETY: setting handlers is what these functions are for; the handlers never
    // unwind and touch nothing but their arguments.
    unsafe {
        xmlSecErrorsSetCallback(Some(xmlsec_error));
        xmlThrDefSetGenericErrorFunc(std::ptr::null_mut(), Some(libxml_quiet));
        xmlSetGenericErrorFunc(std::ptr::null_mut(), Some(libxml_quiet));
        xmlThrDefSetStructuredErrorFunc(std::ptr::null_mut(), Some(libxml_structured));
        xmlSetStructuredErrorFunc(std::ptr::null_mut(), Some(libxml_structured));
    }
}

#[cfg(test)]
mod tests {
    /// Messages the xmlsec callback received, for the test below.
    pub static SEEN: std::sync::Mutex<Vec<String>> = std::sync::Mutex::new(Vec::new());

    #[test]
    fn xmlsec_messages_come_to_the_callback_not_to_stderr() {
        // The fuzzing provider is a real SAML provider: making it starts xmlsec.
        let xml = r##"<samlp:Response xmlns:samlp="urn:oasis:names:tc:SAML:2.0:protocol" xmlns:saml="urn:oasis:names:tc:SAML:2.0:assertion" ID="r1" Version="2.0" IssueInstant="2026-01-01T00:00:00Z"><samlp:Status><samlp:StatusCode Value="urn:oasis:names:tc:SAML:2.0:status:Success"/></samlp:Status><saml:Assertion ID="a1" Version="2.0" IssueInstant="2026-01-01T00:00:00Z"><saml:Issuer>idp</saml:Issuer><ds:Signature xmlns:ds="http://www.w3.org/2000/09/xmldsig#"><ds:SignedInfo><ds:CanonicalizationMethod Algorithm="http://www.w3.org/2001/10/xml-exc-c14n#"/><ds:SignatureMethod Algorithm="http://www.w3.org/2001/04/xmldsig-more#rsa-sha256"/><ds:Reference URI="#missing&#10;FORGED-LINE"><ds:Transforms><ds:Transform Algorithm="http://www.w3.org/2000/09/xmldsig#enveloped-signature"/></ds:Transforms><ds:DigestMethod Algorithm="http://www.w3.org/2001/04/xmlenc#sha256"/><ds:DigestValue>AAAA</ds:DigestValue></ds:Reference></ds:SignedInfo><ds:SignatureValue>AAAA</ds:SignatureValue></ds:Signature></saml:Assertion></samlp:Response>"##;
        crate::fuzzing::saml_response(xml.as_bytes());
        let seen = SEEN.lock().unwrap();
        assert!(seen.iter().any(|m| m.contains("FORGED-LINE")), "{seen:?}");
    }
}
