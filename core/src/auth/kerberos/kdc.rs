//! Getting tickets: the ticket-granting ticket from the user's credential cache or, with a password, from
//! an AS exchange; service tickets (`sip/<pool>`, `HTTP/<pool>`) from a TGS exchange. KDCs are reached over
//! TCP (RFC 4120 §7.2.2: a 4-byte length, then the message), found by DNS SRV `_kerberos._tcp.<realm>` or
//! configured; each exchange is bounded in time and size.

use std::net::SocketAddr;
use std::path::PathBuf;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use tokio::io::{AsyncReadExt, AsyncWriteExt};
use zeroize::Zeroizing;

use super::KerberosError;
use super::ccache;
use super::crypto::{Etype, Key};
use super::gss;
use super::messages::{self, Credential, Principal};
use crate::discovery::DnsResolver;

/// The largest KDC reply read (a TGS-REP with a PAC is a few KiB).
const MAX_REPLY: usize = 256 * 1024;
/// How long one KDC gets to connect and answer.
const KDC_TIMEOUT: Duration = Duration::from_secs(5);
/// A ticket this close to its end is renewed from the KDC instead.
const MARGIN: u64 = 60;

/// Where tickets come from.
#[derive(Debug, Clone, Default)]
pub struct KerberosConfig {
    /// The FILE credential cache; `None` reads `KRB5CCNAME`, else `/tmp/krb5cc_<uid>`.
    pub ccache: Option<PathBuf>,
    /// KDC addresses; empty finds them by DNS SRV `_kerberos._tcp.<realm>`.
    pub kdcs: Vec<SocketAddr>,
    /// Session-key encryption types to ask for, preferred first; empty means aes256, aes128, rc4.
    pub etypes: Vec<Etype>,
}

/// A user's Kerberos tickets for one sign-in and the refreshes after it.
pub struct KerberosClient {
    config: KerberosConfig,
    resolver: Arc<dyn DnsResolver>,
    /// `user@REALM` and the password, for an AS exchange.
    password: Option<(Principal, Zeroizing<String>)>,
    tgt: Mutex<Option<Credential>>,
    tickets: Mutex<Vec<Credential>>,
}

impl std::fmt::Debug for KerberosClient {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("KerberosClient").field("config", &self.config).finish_non_exhaustive()
    }
}

/// The Kerberos principal of a Windows account: `user@domain` → `user@DOMAIN`, `DOMAIN\user` and `user` →
/// `user@<SIP domain, upper-cased>` (the realm of an Active Directory domain is its DNS name in capitals).
pub fn principal_of_account(account: &str, sip_domain: &str) -> Principal {
    if let Some((user, domain)) = account.rsplit_once('@') {
        return Principal::user(user, &domain.to_ascii_uppercase());
    }
    let user = account.rsplit_once('\\').map(|(_, u)| u).unwrap_or(account);
    Principal::user(user, &sip_domain.to_ascii_uppercase())
}

fn uid() -> Option<u32> {
    let status = std::fs::read_to_string("/proc/self/status").ok()?;
    let line = status.lines().find(|l| l.starts_with("Uid:"))?;
    line.split_whitespace().nth(1)?.parse().ok()
}

impl KerberosClient {
    pub fn new(
        config: KerberosConfig,
        resolver: Arc<dyn DnsResolver>,
        password: Option<(Principal, Zeroizing<String>)>,
    ) -> KerberosClient {
        KerberosClient { config, resolver, password, tgt: Mutex::new(None), tickets: Mutex::new(Vec::new()) }
    }

    fn etypes(&self) -> Vec<Etype> {
        if self.config.etypes.is_empty() { Etype::ALL.to_vec() } else { self.config.etypes.clone() }
    }

    fn cache_path(&self) -> Result<PathBuf, KerberosError> {
        match &self.config.ccache {
            Some(p) => Ok(p.clone()),
            None => ccache::location(std::env::var("KRB5CCNAME").ok().as_deref(), uid()),
        }
    }

    /// The credential cache, when there is one.
    fn read_cache(&self) -> Result<ccache::CredentialCache, KerberosError> {
        let path = self.cache_path()?;
        let bytes = std::fs::read(&path)
            .map_err(|e| KerberosError::NoCredentials(format!("no credential cache at {} ({e})", path.display())))?;
        ccache::parse(&bytes)
    }

    /// The cache and its ticket-granting ticket, which must be valid at `now`.
    fn cached_tgt(&self, now: u64) -> Result<(ccache::CredentialCache, Credential), KerberosError> {
        let cache = self.read_cache()?;
        let tgt = cache.tgt().cloned().ok_or_else(|| {
            KerberosError::NoCredentials(format!(
                "the credential cache of {} holds no ticket-granting ticket",
                cache.principal
            ))
        })?;
        if !tgt.valid_at(now, MARGIN) {
            let when = match now.checked_sub(tgt.end_time) {
                Some(ago) => format!("expired {ago} s ago"),
                None => format!("expires in {} s, too soon to use", tgt.end_time - now),
            };
            return Err(KerberosError::TicketExpired { principal: tgt.client.to_string(), when });
        }
        Ok((cache, tgt))
    }

    /// Whether a ticket-granting ticket is at hand without a password: one remembered from an earlier
    /// exchange, or a valid one in the credential cache (a domain logon, kinit).
    pub fn has_ticket(&self, now: u64) -> bool {
        let remembered =
            self.tgt.lock().unwrap_or_else(|p| p.into_inner()).as_ref().is_some_and(|t| t.valid_at(now, MARGIN));
        remembered || self.cached_tgt(now).is_ok()
    }

    /// Whether a ticket can be had without asking anyone: a valid TGT in the cache, or a password. `Err`
    /// says why not (what `--auth auto` reports when it skips Kerberos).
    pub fn available(&self, now: u64) -> Result<String, KerberosError> {
        if let Some(t) = self.tgt.lock().unwrap_or_else(|p| p.into_inner()).as_ref()
            && t.valid_at(now, MARGIN)
        {
            return Ok(format!("an earlier ticket of {}", t.client));
        }
        let from_cache = self.cached_tgt(now).map(|(_, tgt)| format!("the credential cache of {}", tgt.client));
        match (from_cache, &self.password) {
            (Ok(how), _) => Ok(how),
            (Err(e @ KerberosError::TicketExpired { .. }), Some((p, _))) => {
                Ok(format!("the password of {p}, since {e}"))
            }
            (Err(_), Some((p, _))) => Ok(format!("the password of {p}")),
            (Err(e), None) => Err(e),
        }
    }

    /// A service ticket for `service/host` (`sip`, `HTTP`) in the user's realm.
    pub async fn service_ticket(&self, service: &str, host: &str, now: u64) -> Result<Credential, KerberosError> {
        let tgt = self.tgt(now).await?;
        let server = Principal::service(service, host, &tgt.client.realm);
        let known = self
            .tickets
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .iter()
            .find(|c| c.server.name().eq_ignore_ascii_case(&server.name()) && c.valid_at(now, MARGIN))
            .cloned();
        if let Some(c) = known {
            return Ok(c);
        }
        let nonce = rand::random::<u32>() & 0x7fff_ffff;
        let req = messages::tgs_req(&tgt, &server, now, nonce, &self.etypes(), &rand::random())?;
        let reply = self.exchange(&tgt.client.realm, &req).await?;
        let cred = messages::read_kdc_rep(&reply, 13, &tgt.session_key, nonce)?;
        let mut tickets = self.tickets.lock().unwrap_or_else(|p| p.into_inner());
        tickets.retain(|c| !c.server.name().eq_ignore_ascii_case(&server.name()));
        tickets.push(cred.clone());
        Ok(cred)
    }

    /// The ticket-granting ticket: remembered, from the cache, or from an AS exchange with the password.
    async fn tgt(&self, now: u64) -> Result<Credential, KerberosError> {
        if let Some(t) = self.tgt.lock().unwrap_or_else(|p| p.into_inner()).as_ref()
            && t.valid_at(now, MARGIN)
        {
            return Ok(t.clone());
        }
        let cached = self.cached_tgt(now).map(|(cache, tgt)| {
            // Service tickets already in the cache are used as they are.
            let mut tickets = self.tickets.lock().unwrap_or_else(|p| p.into_inner());
            tickets.extend(cache.credentials.into_iter().filter(|c| !c.server.is_tgs()));
            tgt
        });
        let tgt = match (cached, &self.password) {
            (Ok(t), _) => t,
            (Err(_), Some((principal, password))) => self.as_exchange(principal, password, now).await?,
            (Err(e), None) => return Err(e),
        };
        *self.tgt.lock().unwrap_or_else(|p| p.into_inner()) = Some(tgt.clone());
        Ok(tgt)
    }

    /// AS exchange with encrypted-timestamp pre-authentication (RFC 4120 §3.1, §5.2.7.2).
    async fn as_exchange(&self, client: &Principal, password: &str, now: u64) -> Result<Credential, KerberosError> {
        // AS replies are encrypted with the user's long-term key; AES first (the KDC picks from this list).
        let etypes = Etype::ALL.to_vec();
        let nonce = rand::random::<u32>() & 0x7fff_ffff;
        let first = messages::as_req(client, now, nonce, &etypes, None)?;
        let reply = self.exchange(&client.realm, &first).await?;
        let (etype, salt, iterations) = if crate::auth::kerberos::der::app_tag(&reply) == Some(30) {
            let err = messages::read_krb_error(&reply)?;
            if err.code != 25 {
                return Err(err.into_error());
            }
            err.etype_info
                .iter()
                .find_map(|(e, salt, it)| Etype::from_number(*e).map(|e| (e, salt.clone(), *it)))
                .ok_or(KerberosError::UnsupportedEtype(err.etype_info.first().map(|e| e.0).unwrap_or(0)))?
        } else {
            // No pre-authentication required: the reply is already here, under the default salt.
            let (n, _) = messages::read_encrypted(
                crate::auth::kerberos::der::Fields::of(crate::auth::kerberos::der::expect_app(&reply, 11)?)?
                    .need(6, "AS-REP.enc-part")?,
            )?;
            let etype = Etype::from_number(n).ok_or(KerberosError::UnsupportedEtype(n))?;
            let key = Key::from_password(etype, password, &client.salt(), None);
            return messages::read_kdc_rep(&reply, 11, &key, nonce).map_err(wrong_password);
        };
        let salt = salt.unwrap_or_else(|| client.salt());
        let key = Key::from_password(etype, password, &salt, iterations);
        let nonce = rand::random::<u32>() & 0x7fff_ffff;
        let req = messages::as_req(client, now, nonce, &etypes, Some((&key, &rand::random())))?;
        let reply = self.exchange(&client.realm, &req).await?;
        messages::read_kdc_rep(&reply, 11, &key, nonce).map_err(wrong_password)
    }

    /// Sends `req` to the realm's KDCs in turn until one answers.
    async fn exchange(&self, realm: &str, req: &[u8]) -> Result<Vec<u8>, KerberosError> {
        let kdcs = self.kdc_addresses(realm).await?;
        let mut problems = Vec::new();
        for kdc in kdcs {
            match tokio::time::timeout(KDC_TIMEOUT, exchange_with(kdc, req)).await {
                Ok(Ok(reply)) => return Ok(reply),
                Ok(Err(e)) => problems.push(format!("{kdc}: {e}")),
                Err(_) => problems.push(format!("{kdc}: no answer within {} s", KDC_TIMEOUT.as_secs())),
            }
        }
        Err(KerberosError::KdcUnreachable { realm: realm.to_string(), detail: problems.join("; ") })
    }

    async fn kdc_addresses(&self, realm: &str) -> Result<Vec<SocketAddr>, KerberosError> {
        if !self.config.kdcs.is_empty() {
            return Ok(self.config.kdcs.clone());
        }
        let name = format!("_kerberos._tcp.{}", realm.to_ascii_lowercase());
        let mut targets =
            self.resolver.srv(&name).await.map_err(|_| KerberosError::NoKdc { realm: realm.to_string() })?;
        targets.sort_by_key(|t| (t.priority, std::cmp::Reverse(t.weight)));
        let mut out = Vec::new();
        for t in targets.iter().take(8) {
            if let Ok(ips) = self.resolver.ips(&t.target).await {
                out.extend(ips.into_iter().map(|ip| SocketAddr::new(ip, t.port)));
            }
        }
        if out.is_empty() {
            return Err(KerberosError::NoKdc { realm: realm.to_string() });
        }
        Ok(out)
    }
}

fn wrong_password(e: KerberosError) -> KerberosError {
    match e {
        // The reply did not decrypt with the key from the password.
        KerberosError::Integrity => KerberosError::Kdc { code: 24, text: None, server_time: 0, server: None },
        other => other,
    }
}

async fn exchange_with(kdc: SocketAddr, req: &[u8]) -> Result<Vec<u8>, std::io::Error> {
    let mut stream = tokio::net::TcpStream::connect(kdc).await?;
    let mut framed = (req.len() as u32).to_be_bytes().to_vec();
    framed.extend_from_slice(req);
    stream.write_all(&framed).await?;
    let mut len = [0u8; 4];
    stream.read_exact(&mut len).await?;
    let len = u32::from_be_bytes(len) as usize;
    if len > MAX_REPLY {
        return Err(std::io::Error::new(std::io::ErrorKind::InvalidData, format!("a {len}-byte reply is too large")));
    }
    let mut reply = vec![0u8; len];
    stream.read_exact(&mut reply).await?;
    Ok(reply)
}

/// A krb5 GSS context from the initiator's side: the initial token and the key its MIC tokens use.
pub struct InitiatorContext {
    /// The initial context token (base64 it for `gssapi-data`, or wrap it in SPNEGO).
    pub token: Vec<u8>,
    /// The initiator subkey: SIP signatures are MICs with it (MIT puts one in every AP-REQ).
    pub key: Key,
    /// The ticket's end: the security association ends with it ([MS-SIPAE] 3.2.2).
    pub expires: u64,
    /// `ctime`/`cusec` of the authenticator, which a mutual AP-REP must echo.
    pub ctime: u64,
    pub cusec: u32,
    pub session_key: Key,
    pub ticket_etype: Option<i64>,
}

impl InitiatorContext {
    /// A new context on `credential` requesting `flags` (integrity; mutual for HTTP); `now`, `usec`, the
    /// subkey bytes and the confounder come from the caller.
    pub fn new(
        credential: &Credential,
        flags: u32,
        now: u64,
        usec: u32,
        subkey: &[u8; 32],
        confounder: [u8; 16],
    ) -> Result<InitiatorContext, KerberosError> {
        let etype = credential.session_key.etype;
        let key = Key::new(etype, &subkey[..etype.key_len()])?;
        let ap = messages::gss_ap_req(&messages::ApRequest {
            credential,
            gss_checksum: gss::checksum_value(flags),
            now,
            usec,
            subkey: Some(&key),
            seq_number: 0,
            mutual: flags & gss::GSS_MUTUAL != 0,
            confounder,
        })?;
        Ok(InitiatorContext {
            token: gss::initial_token(&ap),
            key,
            expires: credential.end_time,
            ctime: now,
            cusec: usec,
            session_key: credential.session_key.clone(),
            ticket_etype: messages::ticket_etype(&credential.ticket),
        })
    }

    /// Checks the acceptor's AP-REP (mutual authentication) and takes its subkey when it sent one.
    pub fn accept_reply(&mut self, token: &[u8]) -> Result<(), KerberosError> {
        let ap_rep = gss::unwrap_reply(token)?;
        let reply = messages::read_ap_rep(ap_rep, &self.session_key)?;
        if reply.ctime != self.ctime || reply.cusec != self.cusec as i64 {
            return Err(KerberosError::Malformed("the AP-REP does not echo the authenticator's time"));
        }
        if let Some(k) = reply.subkey {
            self.key = k;
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn accounts_map_to_principals() {
        assert_eq!(principal_of_account("alice@contoso.com", "contoso.com").to_string(), "alice@CONTOSO.COM");
        assert_eq!(principal_of_account("CONTOSO\\alice", "contoso.com").to_string(), "alice@CONTOSO.COM");
        assert_eq!(principal_of_account("alice", "contoso.lab").to_string(), "alice@CONTOSO.LAB");
    }
}
