//! TLS record and handshake framing: a bounded reader for what the server sends and writers for what we send.
//!
//! Every length that comes off the wire is checked against the bytes actually present, so a hostile or
//! truncated flight ends in [`TlsDskError::Malformed`], never in a panic or an oversized allocation.

use super::TlsDskError;

/// Record content types (RFC 5246 §6.2.1).
pub(crate) const CHANGE_CIPHER_SPEC: u8 = 20;
pub(crate) const ALERT: u8 = 21;
pub(crate) const HANDSHAKE: u8 = 22;

/// Handshake message types (RFC 5246 §7.4).
pub(crate) const CLIENT_HELLO: u8 = 1;
pub(crate) const SERVER_HELLO: u8 = 2;
pub(crate) const CERTIFICATE: u8 = 11;
pub(crate) const CERTIFICATE_REQUEST: u8 = 13;
pub(crate) const SERVER_HELLO_DONE: u8 = 14;
pub(crate) const CERTIFICATE_VERIFY: u8 = 15;
pub(crate) const CLIENT_KEY_EXCHANGE: u8 = 16;
pub(crate) const FINISHED: u8 = 20;

/// Largest record fragment a peer may send: 2^14 plaintext plus 2048 of cipher expansion (RFC 5246 §6.2.3).
const MAX_FRAGMENT: usize = (1 << 14) + 2048;
/// Largest plaintext fragment we put in one record.
const MAX_PLAINTEXT: usize = 1 << 14;

fn malformed(what: &'static str) -> TlsDskError {
    TlsDskError::Malformed(what)
}

/// A cursor over untrusted bytes; every read is bounds-checked.
pub(crate) struct Reader<'a> {
    buf: &'a [u8],
}

impl<'a> Reader<'a> {
    pub(crate) fn new(buf: &'a [u8]) -> Self {
        Reader { buf }
    }

    pub(crate) fn is_empty(&self) -> bool {
        self.buf.is_empty()
    }

    pub(crate) fn take(&mut self, n: usize, what: &'static str) -> Result<&'a [u8], TlsDskError> {
        if n > self.buf.len() {
            return Err(malformed(what));
        }
        let (head, tail) = self.buf.split_at(n);
        self.buf = tail;
        Ok(head)
    }

    pub(crate) fn u8(&mut self, what: &'static str) -> Result<u8, TlsDskError> {
        Ok(self.take(1, what)?[0])
    }

    pub(crate) fn u16(&mut self, what: &'static str) -> Result<u16, TlsDskError> {
        let b = self.take(2, what)?;
        Ok(u16::from_be_bytes([b[0], b[1]]))
    }

    pub(crate) fn u24(&mut self, what: &'static str) -> Result<usize, TlsDskError> {
        let b = self.take(3, what)?;
        Ok(usize::from(b[0]) << 16 | usize::from(b[1]) << 8 | usize::from(b[2]))
    }

    /// An opaque vector with a 1-byte length prefix.
    pub(crate) fn vec8(&mut self, what: &'static str) -> Result<&'a [u8], TlsDskError> {
        let n = usize::from(self.u8(what)?);
        self.take(n, what)
    }

    /// An opaque vector with a 2-byte length prefix.
    pub(crate) fn vec16(&mut self, what: &'static str) -> Result<&'a [u8], TlsDskError> {
        let n = usize::from(self.u16(what)?);
        self.take(n, what)
    }

    /// An opaque vector with a 3-byte length prefix.
    pub(crate) fn vec24(&mut self, what: &'static str) -> Result<&'a [u8], TlsDskError> {
        let n = self.u24(what)?;
        self.take(n, what)
    }
}

/// One TLS record as it arrived.
pub(crate) struct Record<'a> {
    pub(crate) content_type: u8,
    pub(crate) fragment: &'a [u8],
}

/// Split a flight into records, checking each header against the bytes present.
pub(crate) fn split_records(flight: &[u8]) -> Result<Vec<Record<'_>>, TlsDskError> {
    let mut r = Reader::new(flight);
    let mut records = Vec::new();
    if r.is_empty() {
        return Err(malformed("empty server flight"));
    }
    while !r.is_empty() {
        let content_type = r.u8("record header")?;
        let version = r.u16("record header")?;
        if version >> 8 != 3 {
            return Err(malformed("record version is not TLS"));
        }
        let fragment = r.vec16("record fragment")?;
        if fragment.len() > MAX_FRAGMENT {
            return Err(malformed("record longer than TLS allows"));
        }
        records.push(Record { content_type, fragment });
    }
    Ok(records)
}

/// One handshake message: its type, its full encoding (header + body, for the transcript) and its body.
pub(crate) struct Handshake<'a> {
    pub(crate) msg_type: u8,
    pub(crate) encoded: &'a [u8],
    pub(crate) body: &'a [u8],
}

/// Split concatenated handshake record payloads into messages.
pub(crate) fn split_handshakes(data: &[u8]) -> Result<Vec<Handshake<'_>>, TlsDskError> {
    let mut out = Vec::new();
    let mut rest = data;
    while !rest.is_empty() {
        let mut r = Reader::new(rest);
        let msg_type = r.u8("handshake header")?;
        let body = r.vec24("handshake message")?;
        let (encoded, tail) = rest.split_at(4 + body.len());
        out.push(Handshake { msg_type, encoded, body });
        rest = tail;
    }
    Ok(out)
}

/// Append `body` as a handshake message; fails only if the body exceeds the 24-bit length field.
pub(crate) fn push_handshake(out: &mut Vec<u8>, msg_type: u8, body: &[u8]) -> Result<(), TlsDskError> {
    let len = u32::try_from(body.len()).ok().filter(|n| *n < 1 << 24).ok_or(TlsDskError::InvalidClientCertificate)?;
    out.push(msg_type);
    out.extend_from_slice(&len.to_be_bytes()[1..]);
    out.extend_from_slice(body);
    Ok(())
}

/// Append `payload` as one or more records of `content_type`, none over 2^14 bytes.
pub(crate) fn push_records(out: &mut Vec<u8>, content_type: u8, version: u16, payload: &[u8]) {
    for chunk in payload.chunks(MAX_PLAINTEXT) {
        push_record(out, content_type, version, chunk);
    }
}

/// Append one record; callers keep `fragment` within 2^14 + 2048 bytes.
pub(crate) fn push_record(out: &mut Vec<u8>, content_type: u8, version: u16, fragment: &[u8]) {
    out.push(content_type);
    out.extend_from_slice(&version.to_be_bytes());
    out.extend_from_slice(&(fragment.len() as u16).to_be_bytes());
    out.extend_from_slice(fragment);
}

/// Append a vector with a 1-, 2- or 3-byte length prefix; callers guarantee the length fits.
pub(crate) fn push_vec(out: &mut Vec<u8>, prefix_len: usize, data: &[u8]) {
    let len = (data.len() as u32).to_be_bytes();
    out.extend_from_slice(&len[4 - prefix_len..]);
    out.extend_from_slice(data);
}

/// The fields of a ServerHello that the client acts on.
pub(crate) struct ServerHello {
    pub(crate) version: u16,
    pub(crate) random: [u8; 32],
    pub(crate) cipher_suite: u16,
    pub(crate) compression: u8,
}

/// Parse a ServerHello body; extensions are length-checked and then ignored (we request none).
pub(crate) fn parse_server_hello(body: &[u8]) -> Result<ServerHello, TlsDskError> {
    let mut r = Reader::new(body);
    let version = r.u16("ServerHello version")?;
    let mut random = [0u8; 32];
    random.copy_from_slice(r.take(32, "ServerHello random")?);
    let session_id = r.vec8("ServerHello session id")?;
    if session_id.len() > 32 {
        return Err(malformed("ServerHello session id longer than 32 bytes"));
    }
    let cipher_suite = r.u16("ServerHello cipher suite")?;
    let compression = r.u8("ServerHello compression")?;
    if !r.is_empty() {
        r.vec16("ServerHello extensions")?;
        if !r.is_empty() {
            return Err(malformed("bytes after ServerHello extensions"));
        }
    }
    Ok(ServerHello { version, random, cipher_suite, compression })
}

/// Parse a Certificate body into DER certificates, leaf first.
pub(crate) fn parse_certificate_list(body: &[u8]) -> Result<Vec<&[u8]>, TlsDskError> {
    let mut outer = Reader::new(body);
    let list = outer.vec24("Certificate list")?;
    if !outer.is_empty() {
        return Err(malformed("bytes after Certificate list"));
    }
    let mut r = Reader::new(list);
    let mut certs = Vec::new();
    while !r.is_empty() {
        let cert = r.vec24("certificate")?;
        if cert.is_empty() {
            return Err(malformed("empty certificate in chain"));
        }
        certs.push(cert);
    }
    if certs.is_empty() {
        return Err(malformed("server sent no certificate"));
    }
    Ok(certs)
}

/// Parse a CertificateRequest; returns the TLS 1.2 signature_algorithms list (empty before 1.2).
pub(crate) fn parse_certificate_request(body: &[u8], tls12: bool) -> Result<Vec<u16>, TlsDskError> {
    let mut r = Reader::new(body);
    r.vec8("CertificateRequest types")?;
    let mut algorithms = Vec::new();
    if tls12 {
        let list = r.vec16("CertificateRequest signature algorithms")?;
        if list.len() % 2 != 0 {
            return Err(malformed("odd signature algorithm list"));
        }
        algorithms = list.chunks_exact(2).map(|p| u16::from_be_bytes([p[0], p[1]])).collect();
    }
    r.vec16("CertificateRequest authorities")?;
    if !r.is_empty() {
        return Err(malformed("bytes after CertificateRequest"));
    }
    Ok(algorithms)
}

/// Interpret an alert record (plaintext: level, description).
pub(crate) fn alert(fragment: &[u8]) -> TlsDskError {
    match fragment {
        [level, description] => TlsDskError::Alert { level: *level, description: *description },
        _ => malformed("alert record of the wrong length"),
    }
}
