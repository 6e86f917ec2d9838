//! What can go wrong with one HTTP exchange, sorted so a report can say which step failed and what to do.

use std::time::Duration;

use crate::discovery::DnsError;
use crate::transport::TransportError;

/// Why an HTTP request got no usable response.
///
/// DNS and TLS failures keep their own types ([`DnsError`], [`TransportError`]) so that "the certificate names
/// sip.contoso.com instead" survives the trip through the HTTP layer unchanged.
#[derive(Debug, thiserror::Error)]
pub enum HttpError {
    /// The URL cannot be requested: unparsable, not http/https, no host, or not this connection's origin.
    #[error("cannot request {url:?}: {reason}")]
    BadUrl {
        /// The URL as given.
        url: String,
        /// What is wrong with it.
        reason: String,
    },
    /// A request header name or value is not valid HTTP (a caller bug, or a value with a line break).
    #[error("request header {name:?} is not valid HTTP")]
    InvalidHeader {
        /// The header's name as given.
        name: String,
    },
    /// A credential header (`Authorization`, `X-MS-WebTicket`...) on a request whose URL did not pass the
    /// trust model: refused before anything is sent ([`crate::trust`]).
    #[error("{url}: the {name} header is only sent to a trusted https URL")]
    CredentialsWithheld {
        /// The URL as given.
        url: String,
        /// The header's name.
        name: String,
    },
    /// The host name did not resolve.
    #[error(transparent)]
    Resolve(DnsError),
    /// TCP or TLS failed: refused, unreachable, untrusted or mismatched certificate, ... (boxed: it is large,
    /// and every `Result` carrying an `HttpError` would otherwise be as large).
    #[error(transparent)]
    Transport(Box<TransportError>),
    /// Connected, but the whole exchange did not finish within the time budget.
    #[error("{url}: no complete HTTP response within {after:?}")]
    Timeout {
        /// The URL requested.
        url: String,
        /// The time budget that ran out.
        after: Duration,
    },
    /// The server broke HTTP/1.1 (garbage, a cut-off response) or closed the connection before answering.
    #[error("{url}: HTTP protocol error: {detail}")]
    Protocol {
        /// The URL requested.
        url: String,
        /// hyper's account of it.
        detail: String,
    },
    /// The response body was longer than the caller allows; reading stopped there.
    #[error("{url}: the response body is larger than {limit} bytes")]
    BodyTooLarge {
        /// The URL requested.
        url: String,
        /// The limit in bytes.
        limit: usize,
    },
}

impl HttpError {
    /// A short class for reports and tests: `bad-url`, `no-such-name`, `untrusted-root`, `name-mismatch`,
    /// `timeout`, `http-protocol`, `body-too-large`, ...
    pub fn class(&self) -> &'static str {
        match self {
            HttpError::BadUrl { .. } => "bad-url",
            HttpError::InvalidHeader { .. } => "bad-request",
            HttpError::CredentialsWithheld { .. } => "untrusted-server",
            HttpError::Resolve(e) => e.class(),
            HttpError::Transport(e) => e.class(),
            HttpError::Timeout { .. } => "timeout",
            HttpError::Protocol { .. } => "http-protocol",
            HttpError::BodyTooLarge { .. } => "body-too-large",
        }
    }

    /// True when the failure means "this service is not there" (no DNS name, nothing listening), which
    /// discovery expects for most of the names it tries, rather than something a person should look at.
    pub fn is_absent(&self) -> bool {
        match self {
            HttpError::Resolve(e) => matches!(e, DnsError::NoSuchName { .. } | DnsError::NoRecords { .. }),
            HttpError::Transport(e) => {
                matches!(**e, TransportError::NameNotResolved { .. } | TransportError::Refused { .. })
            }
            _ => false,
        }
    }

    /// One sentence a person can act on.
    pub fn hint(&self) -> String {
        match self {
            HttpError::BadUrl { url, .. } => {
                format!("Check the URL {url:?}: it must be an absolute http:// or https:// URL with a host name.")
            }
            HttpError::InvalidHeader { name } => {
                format!("The {name} header carries characters HTTP does not allow; this is a bug in the caller.")
            }
            HttpError::CredentialsWithheld { .. } => {
                "Credentials go only to URLs the trust model admitted (HttpClient::send_trusted); this is a bug in \
                 the caller."
                    .to_owned()
            }
            HttpError::Resolve(e) => dns_hint(e),
            HttpError::Transport(e) => transport_hint(e),
            HttpError::Timeout { url, .. } => format!(
                "The server accepted the connection but did not answer {url} in time: check the web service \
                 (IIS) and any reverse proxy in front of it, or allow a longer timeout."
            ),
            HttpError::Protocol { .. } => "The server did not answer with valid HTTP/1.1: check that the port is \
                 the web service's and whether a proxy in between cuts responses short."
                .to_owned(),
            HttpError::BodyTooLarge { url, limit } => format!(
                "{url} answered with more than {limit} bytes, far more than this service sends: the URL probably \
                 leads to a portal or error page rather than the service."
            ),
        }
    }
}

impl From<DnsError> for HttpError {
    fn from(e: DnsError) -> HttpError {
        HttpError::Resolve(e)
    }
}

impl From<TransportError> for HttpError {
    fn from(e: TransportError) -> HttpError {
        HttpError::Transport(Box::new(e))
    }
}

/// The transport's variants as report classes; the names follow the variants so a reader can find them.
/// The transport's hints speak of SIP ports; where the advice differs for a web service, say it for HTTP.
fn transport_hint(e: &TransportError) -> String {
    match e {
        TransportError::Refused { host, .. } => format!(
            "Nothing listens on that port at {host}: check the URL's port (web services use 443 externally and \
             4443 on the internal site) and that the web server or reverse proxy is running."
        ),
        TransportError::Protocol { host, error: rustls::Error::InvalidMessage(_), .. } => format!(
            "{host} did not answer with TLS: check that the URL's scheme and port match (https on 443/4443, \
             http on 80/8080) and whether a proxy sits in between."
        ),
        // Seed 002: an external web site with the wrong certificate breaks autodiscover and, for
        // clients without a cached TLS-DSK certificate, web ticket sign-in too.
        TransportError::NameMismatch { host, presented, .. } if !presented.is_empty() => format!(
            "The certificate served by {host} names {} only: the web site behind {host} (or the reverse proxy in \
             front of it) has the wrong certificate. Add {host} to its subject alternative names; until then \
             autodiscover and web ticket sign-in through this site fail.",
            presented.join(", ")
        ),
        other => other.hint(),
    }
}

fn dns_hint(e: &DnsError) -> String {
    match e {
        DnsError::NoSuchName { name } | DnsError::NoRecords { name, .. } => format!(
            "{name} is not in DNS here: internal names (lyncdiscoverinternal, pool FQDNs) resolve only on the \
             corporate network or VPN; otherwise check the spelling and the DNS zone."
        ),
        DnsError::Timeout { .. } | DnsError::NameserversSilent { .. } => {
            "No DNS server answered in time: check this machine's DNS settings and network.".to_owned()
        }
        DnsError::Failed { .. } => {
            "The DNS server refused or failed the lookup: check this machine's DNS settings.".to_owned()
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn classes_keep_the_transport_and_dns_verdicts() {
        let addr = "192.0.2.1:443".parse().unwrap();
        let mismatch = HttpError::from(TransportError::NameMismatch {
            host: "lyncdiscover.contoso.com".into(),
            addr,
            presented: vec!["sip.contoso.com".into()],
        });
        assert_eq!(mismatch.class(), "name-mismatch");
        assert!(mismatch.to_string().contains("sip.contoso.com"), "{mismatch}");
        assert!(mismatch.hint().contains("sip.contoso.com"), "{}", mismatch.hint());

        let nx = HttpError::from(DnsError::NoSuchName { name: "lyncdiscoverinternal.contoso.com".into() });
        assert_eq!(nx.class(), "no-such-name");
        assert!(nx.is_absent());
        assert!(nx.hint().contains("VPN"));
    }

    #[test]
    fn hints_are_sentences() {
        let errors = [
            HttpError::BadUrl { url: "x".into(), reason: "relative".into() },
            HttpError::Timeout { url: "https://a/".into(), after: Duration::from_secs(1) },
            HttpError::Protocol { url: "https://a/".into(), detail: "garbage".into() },
            HttpError::BodyTooLarge { url: "https://a/".into(), limit: 10 },
            HttpError::Resolve(DnsError::Timeout { name: "a".into(), after: Duration::from_secs(1) }),
        ];
        for e in errors {
            assert!(e.hint().ends_with('.'), "{}", e.hint());
            assert!(!e.is_absent());
        }
    }
}
