//! Service metadata as an HTTP GET of `…/mex` returns it (REFERENCE.md §2.2): the WSDL `definitions` element at the
//! root, a `Policy` per port (`Id="<port>_policy"`) and the `service` with each port's address as its children.
//! pidgin-sipe reads them exactly there (sipe-webticket.c service_metadata, webticket_metadata) and works against
//! real pools; with the WS-MEX `Metadata/MetadataSection` wrapper the lab used to send, it found neither
//! (docs/interop.md). Reduced to what clients read.

use quick_xml::escape::escape;

/// What a port's policy asks of the caller.
pub(crate) enum Policy<'a> {
    /// HTTP Negotiate (NTLM or Kerberos) over TLS: the Web Ticket Service's Windows port.
    Negotiate,
    /// A ticket from `issuer`, used with its proof key (EndorsingSupportingTokens: requests are signed).
    Endorsing { issuer: &'a str },
    /// A token from `issuer`, presented as it is (SignedSupportingTokens: Office 365's bearer port).
    Signed { issuer: &'a str },
}

/// One port: its name, its policy, its address.
pub(crate) struct Port<'a> {
    pub name: &'a str,
    pub policy: Policy<'a>,
    pub location: &'a str,
}

/// The metadata document of the service `service` with these ports.
pub(crate) fn definitions(service: &str, ports: &[Port<'_>]) -> String {
    let mut out = format!(
        concat!(
            r#"<wsdl:definitions name="{}" targetNamespace="http://tempuri.org/" "#,
            r#"xmlns:wsdl="http://schemas.xmlsoap.org/wsdl/" xmlns:soap="http://schemas.xmlsoap.org/wsdl/soap/" "#,
            r#"xmlns:wsp="http://schemas.xmlsoap.org/ws/2004/09/policy" "#,
            r#"xmlns:wsa="http://www.w3.org/2005/08/addressing" "#,
            r#"xmlns:wsu="http://docs.oasis-open.org/wss/2004/01/oasis-200401-wss-wssecurity-utility-1.0.xsd">"#,
        ),
        escape(service)
    );
    for port in ports {
        out.push_str(&format!(r#"<wsp:Policy wsu:Id="{}_policy"><wsp:ExactlyOne><wsp:All>"#, escape(port.name)));
        match &port.policy {
            Policy::Negotiate => out.push_str(
                r#"<http:NegotiateAuthentication xmlns:http="http://schemas.microsoft.com/ws/06/2004/policy/http"/>"#,
            ),
            Policy::Endorsing { issuer } => out.push_str(&format!(
                concat!(
                    r#"<sp:EndorsingSupportingTokens xmlns:sp="http://schemas.xmlsoap.org/ws/2005/07/securitypolicy">"#,
                    r#"<wsp:Policy><sp:IssuedToken><sp:Issuer><wsa:Address>{}</wsa:Address></sp:Issuer></sp:IssuedToken>"#,
                    r#"</wsp:Policy></sp:EndorsingSupportingTokens>"#
                ),
                escape(*issuer)
            )),
            Policy::Signed { issuer } => out.push_str(&format!(
                concat!(
                    r#"<sp:SignedSupportingTokens xmlns:sp="http://docs.oasis-open.org/ws-sx/ws-securitypolicy/200702">"#,
                    r#"<wsp:Policy><sp:IssuedToken><sp:Issuer><wsa:Address>{}</wsa:Address></sp:Issuer></sp:IssuedToken>"#,
                    r#"</wsp:Policy></sp:SignedSupportingTokens>"#
                ),
                escape(*issuer)
            )),
        }
        out.push_str("</wsp:All></wsp:ExactlyOne></wsp:Policy>");
    }
    out.push_str(&format!(r#"<wsdl:service name="{}">"#, escape(service)));
    for port in ports {
        out.push_str(&format!(
            r#"<wsdl:port name="{name}" binding="tns:{name}"><soap:address location="{}"/></wsdl:port>"#,
            escape(port.location),
            name = escape(port.name),
        ));
    }
    out.push_str("</wsdl:service></wsdl:definitions>");
    out
}
