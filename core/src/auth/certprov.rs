//! Certificate provisioning ([MS-OCAUTHWS] GetAndPublishCert, REFERENCE.md §2.4, CLIENT-NOTES.md
//! §6): the TLS-DSK user certificate. The client makes an RSA-2048 key pair and a PKCS#10 request
//! with subject `CN=<user@domain>`, sends it to the Certificate Provisioning Service with a web
//! ticket, and gets an X.509 certificate back. Sans-I/O: request bodies and response parsing.
//!
//! Signature hash: SIPE signs the request with SHA-1; rcgen offers RSA only with SHA-256 and up.
//! REFERENCE.md §2.4 notes newer servers accept SHA-256 (unverified here); the lab pool accepts it.

use base64::Engine;
use zeroize::{Zeroize, ZeroizeOnDrop};

use crate::xml::Document;

/// SOAPAction of GetAndPublishCert.
pub const GET_AND_PUBLISH_CERT_ACTION: &str = "http://schemas.microsoft.com/OCS/AuthWebServices/GetAndPublishCert";
/// Largest response read.
pub const MAX_RESPONSE: usize = 256 * 1024;

/// Why provisioning failed.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum CertProvError {
    #[error("could not create the key pair or certificate request: {0}")]
    KeyGeneration(String),
    #[error("the Certificate Provisioning Service's answer is not well-formed XML: {0}")]
    Xml(String),
    #[error("the Certificate Provisioning Service's answer carries no certificate")]
    NoCertificate,
    #[error("the returned certificate is not base64 DER")]
    BadCertificate,
    #[error("the answer is larger than {0} bytes")]
    TooLarge(usize),
}

/// A fresh key pair and the PKCS#10 request for it. `Debug` shows the request's size only; the private key
/// is wiped on drop.
#[derive(ZeroizeOnDrop)]
pub struct CertificateRequest {
    /// DER of the PKCS#10 request.
    #[zeroize(skip)]
    pub csr_der: Vec<u8>,
    /// The private key, PKCS#8 DER (a secret: goes to the keystore only).
    key_pkcs8_der: Vec<u8>,
}

impl std::fmt::Debug for CertificateRequest {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("CertificateRequest").field("csr_bytes", &self.csr_der.len()).finish_non_exhaustive()
    }
}

impl CertificateRequest {
    /// RSA-2048, subject `CN=<user@domain>` only (the SIP address without `sip:`), as SIPE sends.
    pub fn generate(sip_address: &str) -> Result<CertificateRequest, CertProvError> {
        let cn = sip_address.strip_prefix("sip:").unwrap_or(sip_address);
        let mut key = rcgen::KeyPair::generate_for(&rcgen::PKCS_RSA_SHA256)
            .map_err(|e| CertProvError::KeyGeneration(e.to_string()))?;
        let mut params = rcgen::CertificateParams::default();
        params.distinguished_name = rcgen::DistinguishedName::new();
        params.distinguished_name.push(rcgen::DnType::CommonName, cn);
        let csr = params.serialize_request(&key);
        let request =
            csr.map(|csr| CertificateRequest { csr_der: csr.der().to_vec(), key_pkcs8_der: key.serialize_der() });
        // rcgen keeps a PKCS#8 copy of the key in the KeyPair (aws-lc wipes its own when freed).
        key.zeroize();
        request.map_err(|e| CertProvError::KeyGeneration(e.to_string()))
    }

    /// The private key (PKCS#8 DER), to store with the certificate.
    pub fn key_pkcs8_der(&self) -> &[u8] {
        &self.key_pkcs8_der
    }
}

/// The GetAndPublishCert SOAP body. `device_id` is the endpoint's `+sip.instance` UUID
/// (CLIENT-NOTES.md §3: the same UUID serves as DeviceId); `request_id` is a fresh UUID.
pub fn get_and_publish_cert(sip_address: &str, device_id: &str, request_id: &str, csr_der: &[u8]) -> String {
    let entity = sip_address.strip_prefix("sip:").unwrap_or(sip_address);
    let csr = base64::engine::general_purpose::STANDARD.encode(csr_der);
    format!(
        concat!(
            r#"<s:Envelope xmlns:s="http://schemas.xmlsoap.org/soap/envelope/"><s:Body>"#,
            r#"<GetAndPublishCert xmlns="http://schemas.microsoft.com/OCS/AuthWebServices/" "#,
            r#"xmlns:wst="http://docs.oasis-open.org/ws-sx/ws-trust/200512/" "#,
            r#"xmlns:wstep="http://schemas.microsoft.com/windows/pki/2009/01/enrollment" "#,
            r#"DeviceId="{{{device}}}" Entity="{entity}">"#,
            r#"<wst:RequestSecurityToken>"#,
            r#"<wst:TokenType>http://docs.oasis-open.org/wss/2004/01/oasis-200401-wss-x509-token-profile-1.0#X509v3</wst:TokenType>"#,
            r#"<wst:RequestType>http://docs.oasis-open.org/ws-sx/ws-trust/200512/Issue</wst:RequestType>"#,
            r#"<wsse:BinarySecurityToken xmlns:wsse="http://docs.oasis-open.org/wss/2004/01/oasis-200401-wss-wssecurity-secext-1.0.xsd" "#,
            r#"ValueType="http://schemas.microsoft.com/OCS/AuthWebServices.xsd#PKCS10" "#,
            r#"EncodingType="http://docs.oasis-open.org/wss/2004/01/oasis-200401-wss-wssecurity-secext-1.0.xsd#Base64Binary">{csr}</wsse:BinarySecurityToken>"#,
            r#"<wstep:RequestID>{request}</wstep:RequestID>"#,
            r#"</wst:RequestSecurityToken></GetAndPublishCert></s:Body></s:Envelope>"#
        ),
        device = device_id,
        entity = entity.replace('&', "&amp;").replace('"', "&quot;").replace('<', "&lt;"),
        csr = csr,
        request = request_id,
    )
}

/// The certificate (DER) from a GetAndPublishCertResponse: the first `BinarySecurityToken` under
/// `RequestedSecurityToken`. Read with the shared [`Document`] reader, which expands character
/// references (a server may write the base64 line breaks as `&#xD;&#xA;`).
pub fn parse_certificate(xml: &[u8]) -> Result<Vec<u8>, CertProvError> {
    if xml.len() > MAX_RESPONSE {
        return Err(CertProvError::TooLarge(MAX_RESPONSE));
    }
    let doc = Document::parse(xml).map_err(|e| CertProvError::Xml(e.to_string()))?;
    let token = doc
        .root
        .descendants("RequestedSecurityToken")
        .into_iter()
        .find_map(|r| r.descendants("BinarySecurityToken").into_iter().next())
        .ok_or(CertProvError::NoCertificate)?;
    let b64: String = token.text.split_whitespace().collect();
    base64::engine::general_purpose::STANDARD.decode(b64).map_err(|_| CertProvError::BadCertificate)
}

#[cfg(test)]
mod tests {
    use super::*;
    use x509_parser::prelude::FromDer;

    #[test]
    fn csr_is_rsa_2048_with_the_sip_address_as_cn() {
        let req = CertificateRequest::generate("sip:alice@contoso.lab").unwrap();
        let csr = x509_parser::certification_request::X509CertificationRequest::from_der(&req.csr_der).unwrap().1;
        let info = &csr.certification_request_info;
        assert_eq!(info.subject.to_string(), "CN=alice@contoso.lab");
        let spki = &info.subject_pki;
        assert_eq!(spki.algorithm.algorithm.to_id_string(), "1.2.840.113549.1.1.1", "rsaEncryption");
        let bits = match spki.parsed().unwrap() {
            x509_parser::public_key::PublicKey::RSA(rsa) => rsa.key_size(),
            _ => 0,
        };
        assert_eq!(bits, 2048);
        assert!(!format!("{req:?}").contains("key_pkcs8"), "Debug shows no key");
        assert!(req.key_pkcs8_der().len() > 1000);
        // Not the key, nor its private half (the end of the DER), in any printed form; and it is wiped on drop.
        let key = req.key_pkcs8_der();
        crate::auth::secret_tests::assert_redacted(&format!("{req:?}"), key);
        crate::auth::secret_tests::assert_redacted(&format!("{req:?}"), &key[key.len() - 64..]);
        crate::auth::secret_tests::assert_zeroize_on_drop::<CertificateRequest>();
    }

    #[test]
    fn request_and_response_bodies() {
        let body = get_and_publish_cert("alice@contoso.lab", "4233FD41-093B-5FD6-B5D2-651ED55969E6", "r-1", &[1, 2, 3]);
        assert!(body.contains(r#"DeviceId="{4233FD41-093B-5FD6-B5D2-651ED55969E6}" Entity="alice@contoso.lab""#));
        assert!(body.contains(">AQID</wsse:BinarySecurityToken>"));
        let resp = r#"<s:Envelope xmlns:s="http://schemas.xmlsoap.org/soap/envelope/"><s:Body><GetAndPublishCertResponse xmlns="http://schemas.microsoft.com/OCS/AuthWebServices/"><RequestSecurityTokenResponse xmlns="http://docs.oasis-open.org/ws-sx/ws-trust/200512/"><TokenType>x</TokenType><RequestedSecurityToken><BinarySecurityToken ValueType="x">AQID
BAU=</BinarySecurityToken></RequestedSecurityToken></RequestSecurityTokenResponse></GetAndPublishCertResponse></s:Body></s:Envelope>"#;
        assert_eq!(parse_certificate(resp.as_bytes()).unwrap(), vec![1, 2, 3, 4, 5]);
        assert_eq!(parse_certificate(b"<a><b/></a>"), Err(CertProvError::NoCertificate));
        assert!(parse_certificate(b"<a").is_err());
    }

    #[test]
    fn references_in_the_certificate_text_are_expanded() {
        // quick-xml 0.42 hands references over as separate events; a server that writes the
        // base64 line breaks as character references, or `&amp;` elsewhere, must still work.
        let resp = r#"<s:Envelope xmlns:s="http://schemas.xmlsoap.org/soap/envelope/"><s:Body><GetAndPublishCertResponse xmlns="http://schemas.microsoft.com/OCS/AuthWebServices/"><RequestSecurityTokenResponse xmlns="http://docs.oasis-open.org/ws-sx/ws-trust/200512/"><TokenType>urn:a?b=1&amp;c=2</TokenType><RequestedSecurityToken><BinarySecurityToken ValueType="x">AQID&#xD;&#xA;BAU&#x3D;</BinarySecurityToken></RequestedSecurityToken></RequestSecurityTokenResponse></GetAndPublishCertResponse></s:Body></s:Envelope>"#;
        assert_eq!(parse_certificate(resp.as_bytes()).unwrap(), vec![1, 2, 3, 4, 5]);
        let bad = resp.replace("BAU&#x3D;", "BAU&amp;");
        assert_eq!(parse_certificate(bad.as_bytes()), Err(CertProvError::BadCertificate));
    }
}
