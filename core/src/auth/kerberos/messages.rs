//! Kerberos V5 messages (RFC 4120 §5): the AS and TGS exchanges, AP-REQ/AP-REP, KRB-ERROR, encoded and
//! decoded with [`super::der`]. Times and nonces are passed in; nothing here reads a clock or a socket.

use zeroize::Zeroizing;

use super::KerberosError;
use super::crypto::{Etype, Key};
use super::der::{self, Fields, app, ctx, flags, int, octets, seq, string};

/// NT-PRINCIPAL (a user), NT-SRV-INST (krbtgt, a service instance).
pub const NT_PRINCIPAL: i64 = 1;
pub const NT_SRV_INST: i64 = 2;
pub const NT_SRV_HST: i64 = 3;

/// KDC options (RFC 4120 §5.4.1): forwardable, renewable, canonicalize (Windows), renewable-ok.
const KDC_OPTIONS: u32 = 0x4000_0000 | 0x0080_0000 | 0x0001_0000 | 0x0000_0010;
/// AP options: mutual-required.
pub const AP_MUTUAL_REQUIRED: u32 = 0x2000_0000;

/// Key usages (RFC 4120 §7.5.1).
pub mod usage {
    pub const PA_ENC_TIMESTAMP: u32 = 1;
    pub const AS_REP_ENC_PART: u32 = 3;
    pub const TGS_REQ_AUTH_CKSUM: u32 = 6;
    pub const TGS_REQ_AUTH: u32 = 7;
    pub const TGS_REP_ENC_PART: u32 = 8;
    pub const AP_REQ_AUTH: u32 = 11;
    pub const AP_REP_ENC_PART: u32 = 12;
}

/// A principal name and its realm.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct Principal {
    pub name_type: i64,
    pub components: Vec<String>,
    pub realm: String,
}

impl Principal {
    /// `user@REALM`.
    pub fn user(name: &str, realm: &str) -> Principal {
        Principal { name_type: NT_PRINCIPAL, components: vec![name.to_string()], realm: realm.to_string() }
    }

    /// `service/host@REALM` (`sip/pool01.contoso.com`, `HTTP/pool01.contoso.com`).
    pub fn service(service: &str, host: &str, realm: &str) -> Principal {
        Principal {
            name_type: NT_SRV_INST,
            components: vec![service.to_string(), host.to_ascii_lowercase()],
            realm: realm.to_string(),
        }
    }

    /// `krbtgt/REALM@REALM`.
    pub fn krbtgt(realm: &str) -> Principal {
        Principal { name_type: NT_SRV_INST, components: vec!["krbtgt".into(), realm.into()], realm: realm.into() }
    }

    /// The components joined by `/`.
    pub fn name(&self) -> String {
        self.components.join("/")
    }

    /// The default salt: the realm then every component (RFC 4120 §4).
    pub fn salt(&self) -> String {
        format!("{}{}", self.realm, self.components.concat())
    }

    pub fn is_tgs(&self) -> bool {
        self.components.first().is_some_and(|c| c == "krbtgt")
    }

    fn encode_name(&self) -> Vec<u8> {
        let names: Vec<Vec<u8>> = self.components.iter().map(|c| string(c)).collect();
        seq(&[ctx(0, int(self.name_type)), ctx(1, seq(&names))])
    }

    fn decode_name(input: &[u8], realm: String) -> Result<Principal, KerberosError> {
        let f = Fields::of(input)?;
        let name_type = f.int(0, "PrincipalName.name-type")?;
        let components = der::seq_of(f.need(1, "PrincipalName.name-string")?)?
            .into_iter()
            .map(der::read_string)
            .collect::<Result<Vec<_>, _>>()?;
        Ok(Principal { name_type, components, realm })
    }
}

impl std::fmt::Display for Principal {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{}@{}", self.name(), self.realm)
    }
}

/// A ticket and the session key that goes with it: what a credential cache holds.
#[derive(Clone, Debug)]
pub struct Credential {
    pub client: Principal,
    pub server: Principal,
    pub session_key: Key,
    /// The Ticket, DER as the KDC sent it.
    pub ticket: Vec<u8>,
    pub auth_time: u64,
    pub start_time: u64,
    pub end_time: u64,
    pub renew_till: u64,
    pub flags: u32,
}

impl Credential {
    /// Whether the ticket is still valid at `now`, with `margin` to spare.
    pub fn valid_at(&self, now: u64, margin: u64) -> bool {
        self.start_time.saturating_sub(300) <= now && now + margin < self.end_time
    }
}

fn encrypted_data(etype: Etype, kvno: Option<i64>, cipher: &[u8]) -> Vec<u8> {
    let mut parts = vec![ctx(0, int(etype.number() as i64))];
    if let Some(k) = kvno {
        parts.push(ctx(1, int(k)));
    }
    parts.push(ctx(2, octets(cipher)));
    seq(&parts)
}

/// EncryptedData: its etype number and ciphertext.
pub fn read_encrypted(input: &[u8]) -> Result<(i64, &[u8]), KerberosError> {
    let f = Fields::of(input)?;
    Ok((f.int(0, "EncryptedData.etype")?, f.octets(2, "EncryptedData.cipher")?))
}

fn decrypt_with(key: &Key, usage: u32, input: &[u8]) -> Result<Zeroizing<Vec<u8>>, KerberosError> {
    let (etype, cipher) = read_encrypted(input)?;
    if etype != key.etype.number() as i64 {
        return Err(KerberosError::UnsupportedEtype(etype));
    }
    key.decrypt(usage, cipher)
}

fn encryption_key(key: &Key) -> Vec<u8> {
    seq(&[ctx(0, int(key.etype.number() as i64)), ctx(1, octets(key.bytes()))])
}

fn read_encryption_key(input: &[u8]) -> Result<Key, KerberosError> {
    let f = Fields::of(input)?;
    let n = f.int(0, "EncryptionKey.keytype")?;
    let etype = Etype::from_number(n).ok_or(KerberosError::UnsupportedEtype(n))?;
    Key::new(etype, f.octets(1, "EncryptionKey.keyvalue")?)
}

/// KDC-REQ-BODY for `client` (AS) or for a service ticket (TGS).
fn req_body(client: Option<&Principal>, server: &Principal, till: u64, nonce: u32, etypes: &[Etype]) -> Vec<u8> {
    let mut parts = vec![ctx(0, flags(KDC_OPTIONS))];
    if let Some(c) = client {
        parts.push(ctx(1, c.encode_name()));
    }
    parts.push(ctx(2, string(&server.realm)));
    parts.push(ctx(3, server.encode_name()));
    parts.push(ctx(5, der::time(till)));
    parts.push(ctx(6, der::time(till)));
    parts.push(ctx(7, int(nonce as i64)));
    let list: Vec<Vec<u8>> = etypes.iter().map(|e| int(e.number() as i64)).collect();
    parts.push(ctx(8, seq(&list)));
    seq(&parts)
}

fn pa_data(kind: i64, value: &[u8]) -> Vec<u8> {
    seq(&[ctx(1, int(kind)), ctx(2, octets(value))])
}

/// An AS-REQ for a TGT; with `preauth` (the user's key, the time and a confounder) it carries
/// PA-ENC-TIMESTAMP.
pub fn as_req(
    client: &Principal,
    now: u64,
    nonce: u32,
    etypes: &[Etype],
    preauth: Option<(&Key, &[u8; 16])>,
) -> Result<Vec<u8>, KerberosError> {
    let tgs = Principal::krbtgt(&client.realm);
    let mut parts = vec![ctx(1, int(5)), ctx(2, int(10))];
    if let Some((key, confounder)) = preauth {
        let ts = seq(&[ctx(0, der::time(now)), ctx(1, int(0))]);
        let enc = key.encrypt(usage::PA_ENC_TIMESTAMP, &ts, confounder)?;
        parts.push(ctx(3, seq(&[pa_data(2, &encrypted_data(key.etype, None, &enc))])));
    }
    parts.push(ctx(4, req_body(Some(client), &tgs, now + 10 * 3600, nonce, etypes)));
    Ok(app(10, seq(&parts)))
}

/// A TGS-REQ for `server` with the TGT `tgt`.
pub fn tgs_req(
    tgt: &Credential,
    server: &Principal,
    now: u64,
    nonce: u32,
    etypes: &[Etype],
    confounder: &[u8; 16],
) -> Result<Vec<u8>, KerberosError> {
    let body = req_body(None, server, now + 10 * 3600, nonce, etypes);
    let key = &tgt.session_key;
    let cksum = seq(&[
        ctx(0, int(key.etype.checksum_type() as i64)),
        ctx(1, octets(&key.checksum(usage::TGS_REQ_AUTH_CKSUM, &body))),
    ]);
    let authenticator = authenticator(&tgt.client, Some(cksum), now, 0, None, None);
    let enc = key.encrypt(usage::TGS_REQ_AUTH, &authenticator, confounder)?;
    let ap = ap_req(&tgt.ticket, key.etype, &enc, 0);
    let parts = vec![ctx(1, int(5)), ctx(2, int(12)), ctx(3, seq(&[pa_data(1, &ap)])), ctx(4, body)];
    Ok(app(12, seq(&parts)))
}

fn authenticator(
    client: &Principal,
    cksum: Option<Vec<u8>>,
    now: u64,
    usec: u32,
    subkey: Option<&Key>,
    seq_number: Option<u32>,
) -> Vec<u8> {
    let mut parts = vec![ctx(0, int(5)), ctx(1, string(&client.realm)), ctx(2, client.encode_name())];
    if let Some(c) = cksum {
        parts.push(ctx(3, c));
    }
    parts.push(ctx(4, int(usec as i64)));
    parts.push(ctx(5, der::time(now)));
    if let Some(k) = subkey {
        parts.push(ctx(6, encryption_key(k)));
    }
    if let Some(s) = seq_number {
        parts.push(ctx(7, int(s as i64)));
    }
    app(2, seq(&parts))
}

fn ap_req(ticket: &[u8], etype: Etype, enc_authenticator: &[u8], options: u32) -> Vec<u8> {
    app(
        14,
        seq(&[
            ctx(0, int(5)),
            ctx(1, int(14)),
            ctx(2, flags(options)),
            ctx(3, ticket.to_vec()),
            ctx(4, encrypted_data(etype, None, enc_authenticator)),
        ]),
    )
}

/// What an AP-REQ for a GSS context carries besides the ticket.
pub struct ApRequest<'a> {
    pub credential: &'a Credential,
    /// The GSS checksum (type 0x8003, RFC 4121 §4.1.1) value.
    pub gss_checksum: Vec<u8>,
    pub now: u64,
    pub usec: u32,
    pub subkey: Option<&'a Key>,
    pub seq_number: u32,
    pub mutual: bool,
    pub confounder: [u8; 16],
}

/// The AP-REQ of a GSS initial context token.
pub fn gss_ap_req(r: &ApRequest<'_>) -> Result<Vec<u8>, KerberosError> {
    let cksum = seq(&[ctx(0, int(0x8003)), ctx(1, octets(&r.gss_checksum))]);
    let auth = authenticator(&r.credential.client, Some(cksum), r.now, r.usec, r.subkey, Some(r.seq_number));
    let key = &r.credential.session_key;
    let enc = key.encrypt(usage::AP_REQ_AUTH, &auth, &r.confounder)?;
    let options = if r.mutual { AP_MUTUAL_REQUIRED } else { 0 };
    Ok(ap_req(&r.credential.ticket, key.etype, &enc, options))
}

/// The parts of an AP-REP the initiator needs.
#[derive(Debug)]
pub struct ApReply {
    pub ctime: u64,
    pub cusec: i64,
    pub subkey: Option<Key>,
    pub seq_number: Option<u32>,
}

/// Decrypts an AP-REP with the ticket's session key.
pub fn read_ap_rep(input: &[u8], session_key: &Key) -> Result<ApReply, KerberosError> {
    if der::app_tag(input) == Some(30) {
        return Err(read_krb_error(input)?.into_error());
    }
    let f = Fields::of(der::expect_app(input, 15)?)?;
    let plain = decrypt_with(session_key, usage::AP_REP_ENC_PART, f.need(2, "AP-REP.enc-part")?)?;
    let e = Fields::of(der::expect_app(&plain, 27)?)?;
    Ok(ApReply {
        ctime: e.time(0, "EncAPRepPart.ctime")?,
        cusec: e.int(1, "EncAPRepPart.cusec")?,
        subkey: e.get(2).map(read_encryption_key).transpose()?,
        seq_number: e.get(3).map(der::read_int).transpose()?.map(|s| s as u32),
    })
}

/// A KDC's refusal.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct KrbError {
    pub code: i64,
    pub server_time: u64,
    pub text: Option<String>,
    /// ETYPE-INFO2 entries from a PREAUTH_REQUIRED's e-data: etype, salt, iterations.
    pub etype_info: Vec<(i64, Option<String>, Option<u32>)>,
    pub server: Option<String>,
}

impl KrbError {
    pub fn into_error(self) -> KerberosError {
        KerberosError::Kdc { code: self.code, text: self.text, server_time: self.server_time, server: self.server }
    }
}

pub fn read_krb_error(input: &[u8]) -> Result<KrbError, KerberosError> {
    let f = Fields::of(der::expect_app(input, 30)?)?;
    let realm = f.get(9).map(der::read_string).transpose()?.unwrap_or_default();
    let server =
        f.get(10).map(|n| Principal::decode_name(n, realm.clone())).transpose().ok().flatten().map(|p| p.to_string());
    let mut etype_info = Vec::new();
    if let Some(edata) = f.get(12).map(|d| der::expect(d, 0x04)).transpose()? {
        // METHOD-DATA: a SEQUENCE OF PA-DATA; PA-ETYPE-INFO2 is type 19.
        if let Ok(items) = der::seq_of(edata) {
            for pa in items {
                let Ok(p) = Fields::of(pa) else { continue };
                if p.int(1, "PA-DATA.type").ok() != Some(19) {
                    continue;
                }
                let Ok(value) = p.octets(2, "PA-DATA.value") else { continue };
                for entry in der::seq_of(value).unwrap_or_default() {
                    let Ok(e) = Fields::of(entry) else { continue };
                    let Ok(etype) = e.int(0, "ETYPE-INFO2.etype") else { continue };
                    let salt = e.get(1).and_then(|s| der::read_string(s).ok());
                    let iterations = e
                        .get(2)
                        .and_then(|p| der::expect(p, 0x04).ok())
                        .and_then(|b| <[u8; 4]>::try_from(b).ok())
                        .map(u32::from_be_bytes);
                    etype_info.push((etype, salt, iterations));
                }
            }
        }
    }
    Ok(KrbError {
        code: f.int(6, "KRB-ERROR.error-code")?,
        server_time: f.time(4, "KRB-ERROR.stime")?,
        text: f.get(11).and_then(|t| der::read_string(t).ok()),
        etype_info,
        server,
    })
}

/// Reads an AS-REP or TGS-REP (`expect_tag` 11 or 13), decrypting its enc-part with `key` and checking the
/// nonce. A KRB-ERROR becomes [`KerberosError::Kdc`].
pub fn read_kdc_rep(input: &[u8], expect_tag: u8, key: &Key, nonce: u32) -> Result<Credential, KerberosError> {
    if der::app_tag(input) == Some(30) {
        return Err(read_krb_error(input)?.into_error());
    }
    let f = Fields::of(der::expect_app(input, expect_tag)?)?;
    let crealm = f.string(3, "KDC-REP.crealm")?;
    let client = Principal::decode_name(f.need(4, "KDC-REP.cname")?, crealm)?;
    let ticket = f.need(5, "KDC-REP.ticket")?.to_vec();
    let usage = if expect_tag == 11 { usage::AS_REP_ENC_PART } else { usage::TGS_REP_ENC_PART };
    let plain = decrypt_with(key, usage, f.need(6, "KDC-REP.enc-part")?)?;
    // MIT sends EncTGSRepPart (26) inside AS-REPs too (RFC 4120 §5.4.2 allows it).
    let inner = der::expect_app(&plain, 25).or_else(|_| der::expect_app(&plain, 26))?;
    let e = Fields::of(inner)?;
    if e.int(2, "EncKDCRepPart.nonce")? as u32 != nonce {
        return Err(KerberosError::Malformed("the KDC's reply carries another nonce"));
    }
    let srealm = e.string(9, "EncKDCRepPart.srealm")?;
    let server = Principal::decode_name(e.need(10, "EncKDCRepPart.sname")?, srealm)?;
    let auth_time = e.time(5, "EncKDCRepPart.authtime")?;
    Ok(Credential {
        client,
        server,
        session_key: read_encryption_key(e.need(0, "EncKDCRepPart.key")?)?,
        ticket,
        auth_time,
        start_time: e.get(6).map(der::read_time).transpose()?.unwrap_or(auth_time),
        end_time: e.time(7, "EncKDCRepPart.endtime")?,
        renew_till: e.get(8).map(der::read_time).transpose()?.unwrap_or(0),
        flags: e.get(4).map(der::read_flags).transpose()?.unwrap_or(0),
    })
}

/// The enctype of a Ticket's encrypted part (what the service's key is), for reports.
pub fn ticket_etype(ticket: &[u8]) -> Option<i64> {
    let f = Fields::of(der::expect_app(ticket, 1).ok()?).ok()?;
    read_encrypted(f.get(3)?).ok().map(|(e, _)| e)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn an_as_req_is_an_application_10_with_the_client_and_the_tgs() {
        let alice = Principal::user("alice", "CONTOSO.LAB");
        let key = Key::from_password(Etype::Aes256, "pw", &alice.salt(), None);
        let req = as_req(&alice, 1_796_000_000, 42, &Etype::ALL, Some((&key, &[1; 16]))).unwrap();
        assert_eq!(der::app_tag(&req), Some(10));
        let f = Fields::of(der::expect_app(&req, 10).unwrap()).unwrap();
        assert_eq!(f.int(2, "msg-type").unwrap(), 10);
        let body = Fields::of(f.get(4).unwrap()).unwrap();
        assert_eq!(body.string(2, "realm").unwrap(), "CONTOSO.LAB");
        let sname = Principal::decode_name(body.get(3).unwrap(), "CONTOSO.LAB".into()).unwrap();
        assert_eq!(sname.to_string(), "krbtgt/CONTOSO.LAB@CONTOSO.LAB");
        // The timestamp decrypts with the user's key.
        let pa = der::seq_of(f.get(3).unwrap()).unwrap();
        let p = Fields::of(pa[0]).unwrap();
        let enc = p.octets(2, "value").unwrap();
        let ts = decrypt_with(&key, usage::PA_ENC_TIMESTAMP, enc).unwrap();
        assert_eq!(Fields::of(&ts).unwrap().time(0, "ts").unwrap(), 1_796_000_000);
    }

    #[test]
    fn hostile_replies_are_errors() {
        let key = Key::new(Etype::Aes128, &[0; 16]).unwrap();
        for bad in [&[][..], &[0x6b, 0x00], &[0x6b, 0x03, 0x30, 0x01, 0x00], &[0x7e, 0x02, 0x30, 0x00]] {
            assert!(read_kdc_rep(bad, 11, &key, 1).is_err());
            assert!(read_ap_rep(bad, &key).is_err());
        }
    }
}
