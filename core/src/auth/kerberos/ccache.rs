//! MIT's FILE credential cache, version 4 (0x0504): what `kinit` and a Linux domain logon (sssd) leave for
//! programs to use. Only FILE caches are read; KCM and KEYRING caches (Fedora's and some distributions'
//! defaults) need their daemons and are reported as unsupported with what to do.
//!
//! Layout (MIT `ccache_file_format`): version, a header of tagged fields, the default principal, then
//! credentials to the end of the file; all integers big-endian, strings counted with 32-bit lengths.

use super::KerberosError;
use super::crypto::{Etype, Key};
use super::messages::{Credential, Principal};

/// A credential cache's default principal and its usable credentials (configuration entries and etypes
/// sfbkit does not speak are left out).
#[derive(Debug)]
pub struct CredentialCache {
    pub principal: Principal,
    pub credentials: Vec<Credential>,
}

/// Where the cache is, from `KRB5CCNAME`'s value (`FILE:/path`, `/path`) or the MIT default for `uid`.
pub fn location(krb5ccname: Option<&str>, uid: Option<u32>) -> Result<std::path::PathBuf, KerberosError> {
    match krb5ccname {
        Some(name) => {
            if let Some(path) = name.strip_prefix("FILE:") {
                return Ok(path.into());
            }
            if name.starts_with('/') {
                return Ok(name.into());
            }
            let kind = name.split(':').next().unwrap_or(name);
            Err(KerberosError::UnsupportedCache(kind.to_string()))
        }
        None => Ok(format!("/tmp/krb5cc_{}", uid.unwrap_or(0)).into()),
    }
}

struct Reader<'a> {
    data: &'a [u8],
}

impl<'a> Reader<'a> {
    fn take(&mut self, n: usize) -> Result<&'a [u8], KerberosError> {
        if self.data.len() < n {
            return Err(KerberosError::Malformed("credential cache truncated"));
        }
        let (a, b) = self.data.split_at(n);
        self.data = b;
        Ok(a)
    }
    fn u8(&mut self) -> Result<u8, KerberosError> {
        Ok(self.take(1)?[0])
    }
    fn u16(&mut self) -> Result<u16, KerberosError> {
        Ok(u16::from_be_bytes(self.take(2)?.try_into().unwrap_or_default()))
    }
    fn u32(&mut self) -> Result<u32, KerberosError> {
        Ok(u32::from_be_bytes(self.take(4)?.try_into().unwrap_or_default()))
    }
    fn data(&mut self) -> Result<&'a [u8], KerberosError> {
        let n = self.u32()? as usize;
        self.take(n)
    }
    fn string(&mut self) -> Result<String, KerberosError> {
        String::from_utf8(self.data()?.to_vec()).map_err(|_| KerberosError::Malformed("credential cache name"))
    }
    fn principal(&mut self) -> Result<Principal, KerberosError> {
        let name_type = self.u32()? as i64;
        let count = self.u32()?;
        if count > 64 {
            return Err(KerberosError::Malformed("credential cache principal"));
        }
        let realm = self.string()?;
        let components = (0..count).map(|_| self.string()).collect::<Result<Vec<_>, _>>()?;
        Ok(Principal { name_type, components, realm })
    }
    fn skip_list(&mut self) -> Result<(), KerberosError> {
        let n = self.u32()?;
        for _ in 0..n {
            self.u16()?;
            self.data()?;
        }
        Ok(())
    }
}

/// Parses a version-4 FILE cache.
pub fn parse(bytes: &[u8]) -> Result<CredentialCache, KerberosError> {
    let mut r = Reader { data: bytes };
    if r.u16()? != 0x0504 {
        return Err(KerberosError::Malformed("not a version 4 credential cache"));
    }
    let header_len = r.u16()? as usize;
    r.take(header_len)?;
    let principal = r.principal()?;
    let mut credentials = Vec::new();
    while !r.data.is_empty() {
        let client = r.principal()?;
        let server = r.principal()?;
        let keytype = r.u16()?;
        let key = r.data()?;
        let (auth_time, start_time, end_time, renew_till) = (r.u32()?, r.u32()?, r.u32()?, r.u32()?);
        let _is_skey = r.u8()?;
        let flags = r.u32()?;
        r.skip_list()?; // addresses
        r.skip_list()?; // authorization data
        let ticket = r.data()?.to_vec();
        r.data()?; // second ticket
        // Configuration entries (X-CACHECONF:) and etypes we cannot use are skipped.
        if server.realm == "X-CACHECONF:" {
            continue;
        }
        let Some(etype) = Etype::from_number(keytype as i64) else { continue };
        let Ok(session_key) = Key::new(etype, key) else { continue };
        credentials.push(Credential {
            client,
            server,
            session_key,
            ticket,
            auth_time: auth_time as u64,
            start_time: if start_time == 0 { auth_time as u64 } else { start_time as u64 },
            end_time: end_time as u64,
            renew_till: renew_till as u64,
            flags,
        });
    }
    Ok(CredentialCache { principal, credentials })
}

impl CredentialCache {
    /// The ticket-granting ticket for the default principal's realm.
    pub fn tgt(&self) -> Option<&Credential> {
        let realm = &self.principal.realm;
        self.credentials.iter().find(|c| c.server.is_tgs() && c.server.components.get(1) == Some(realm))
    }

    /// A service ticket for `server` already in the cache.
    pub fn ticket_for(&self, server: &Principal) -> Option<&Credential> {
        self.credentials.iter().find(|c| {
            c.server.components.len() == server.components.len()
                && c.server.components.iter().zip(&server.components).all(|(a, b)| a.eq_ignore_ascii_case(b))
                && c.server.realm.eq_ignore_ascii_case(&server.realm)
        })
    }
}

#[cfg(test)]
pub(crate) mod tests {
    use super::*;

    fn put_data(out: &mut Vec<u8>, d: &[u8]) {
        out.extend_from_slice(&(d.len() as u32).to_be_bytes());
        out.extend_from_slice(d);
    }

    fn put_principal(out: &mut Vec<u8>, p: &Principal) {
        out.extend_from_slice(&(p.name_type as u32).to_be_bytes());
        out.extend_from_slice(&(p.components.len() as u32).to_be_bytes());
        put_data(out, p.realm.as_bytes());
        for c in &p.components {
            put_data(out, c.as_bytes());
        }
    }

    /// A cache laid out as MIT writes one (the lab's tests read one `kinit` wrote).
    pub(crate) fn cache_with(principal: &Principal, creds: &[(&Principal, Etype, u32)]) -> Vec<u8> {
        let mut out = vec![0x05, 0x04, 0x00, 0x0c, 0x00, 0x01, 0x00, 0x08, 0, 0, 0, 0, 0, 0, 0, 0];
        put_principal(&mut out, principal);
        for (server, etype, end) in creds {
            put_principal(&mut out, principal);
            put_principal(&mut out, server);
            out.extend_from_slice(&(etype.number() as u16).to_be_bytes());
            put_data(&mut out, &vec![9u8; etype.key_len()]);
            for t in [end - 3600, end - 3600, *end, 0] {
                out.extend_from_slice(&t.to_be_bytes());
            }
            out.push(0);
            out.extend_from_slice(&0x4000_0000u32.to_be_bytes());
            out.extend_from_slice(&[0; 8]);
            put_data(&mut out, b"\x61\x00");
            put_data(&mut out, b"");
        }
        out
    }

    #[test]
    fn a_kinit_style_cache_yields_its_tgt_and_service_tickets() {
        let alice = Principal::user("alice", "CONTOSO.LAB");
        let tgs = Principal::krbtgt("CONTOSO.LAB");
        let sip = Principal::service("sip", "pool01.contoso.lab", "CONTOSO.LAB");
        let conf =
            Principal { name_type: 1, components: vec!["krb5_ccache_conf_data".into()], realm: "X-CACHECONF:".into() };
        let bytes = cache_with(
            &alice,
            &[
                (&conf, Etype::Aes256, 2_000_000_000),
                (&tgs, Etype::Aes256, 2_000_000_000),
                (&sip, Etype::Rc4Hmac, 2_000_000_000),
            ],
        );
        let cache = parse(&bytes).unwrap();
        assert_eq!(cache.principal.to_string(), "alice@CONTOSO.LAB");
        assert_eq!(cache.credentials.len(), 2, "the configuration entry is skipped");
        assert_eq!(cache.tgt().unwrap().session_key.etype, Etype::Aes256);
        assert_eq!(cache.ticket_for(&sip).unwrap().session_key.etype, Etype::Rc4Hmac);
        for n in 0..bytes.len() {
            let _ = parse(&bytes[..n]); // never panics
        }
    }

    #[test]
    fn locations_follow_krb5ccname() {
        assert_eq!(location(Some("FILE:/tmp/x"), None).unwrap(), std::path::PathBuf::from("/tmp/x"));
        assert_eq!(location(None, Some(1000)).unwrap(), std::path::PathBuf::from("/tmp/krb5cc_1000"));
        assert!(matches!(location(Some("KCM:"), None), Err(KerberosError::UnsupportedCache(k)) if k == "KCM"));
    }
}

#[cfg(test)]
mod mit_tests {
    use super::*;

    /// Caches MIT's `kinit` and `kvno` wrote (krb5 1.20.1, Debian 12) for alice@CONTOSO.LAB: configuration
    /// entries first, then the TGT and service tickets; the second with a KDC time offset in its header.
    #[test]
    fn caches_mit_kinit_wrote_are_read() {
        let cache = parse(include_bytes!("fixtures/mit-kinit-alice.ccache")).unwrap();
        assert_eq!(cache.principal.to_string(), "alice@CONTOSO.LAB");
        let tgt = cache.tgt().expect("the TGT");
        assert_eq!(tgt.server.to_string(), "krbtgt/CONTOSO.LAB@CONTOSO.LAB");
        assert!(tgt.end_time > tgt.auth_time && tgt.ticket.first() == Some(&0x61), "a Ticket, [APPLICATION 1]");
        let sip = Principal::service("sip", "pool01.contoso.lab", "CONTOSO.LAB");
        assert_eq!(cache.ticket_for(&sip).expect("kvno's service ticket").session_key.etype, Etype::Aes256);
        let rc4 = Principal::service("sip", "rc4.contoso.lab", "CONTOSO.LAB");
        assert_eq!(cache.ticket_for(&rc4).expect("the RC4 service's ticket").session_key.etype, Etype::Rc4Hmac);
        assert!(cache.credentials.iter().all(|c| c.server.realm != "X-CACHECONF:"));
        let offset = parse(include_bytes!("fixtures/mit-kinit-alice-offset.ccache")).unwrap();
        assert!(offset.tgt().is_some());
    }
}
