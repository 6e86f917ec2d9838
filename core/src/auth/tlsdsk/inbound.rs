//! Reading the server's two flights: the first one's message order, and the ChangeCipherSpec + Finished
//! that authenticates the server before any key leaves the engine.

use super::codec::{self, Handshake, Reader};
use super::record::{DirectionKeys, Protection, constant_time_eq};
use super::{TlsDskError, TlsDskKeys};

/// What the client needs to check the server's last flight; the keys are released only after that check.
pub(super) struct Pending {
    pub(super) protection: Protection,
    pub(super) server_keys: DirectionKeys,
    pub(super) expected_server_verify: Vec<u8>,
    pub(super) keys: TlsDskKeys,
}

/// The server's first flight in the only order TLS allows for static RSA.
pub(super) struct ServerFlight<'m, 'a> {
    pub(super) hello: &'m Handshake<'a>,
    pub(super) certificate: &'m Handshake<'a>,
    pub(super) request: Option<&'m Handshake<'a>>,
}

impl<'m, 'a> ServerFlight<'m, 'a> {
    pub(super) fn parse(messages: &'m [Handshake<'a>]) -> Result<Self, TlsDskError> {
        let mut it = messages.iter().peekable();
        let hello = it
            .next()
            .filter(|m| m.msg_type == codec::SERVER_HELLO)
            .ok_or(TlsDskError::UnexpectedMessage("expected ServerHello"))?;
        let certificate = it
            .next()
            .filter(|m| m.msg_type == codec::CERTIFICATE)
            .ok_or(TlsDskError::UnexpectedMessage("expected Certificate (static RSA key exchange)"))?;
        let request = it.next_if(|m| m.msg_type == codec::CERTIFICATE_REQUEST);
        it.next()
            .filter(|m| m.msg_type == codec::SERVER_HELLO_DONE && m.body.is_empty())
            .ok_or(TlsDskError::UnexpectedMessage("expected ServerHelloDone"))?;
        if it.next().is_some() {
            return Err(TlsDskError::UnexpectedMessage("handshake message after ServerHelloDone"));
        }
        Ok(ServerFlight { hello, certificate, request })
    }
}

/// Check the server's ChangeCipherSpec + Finished and release the keys.
pub(super) fn on_server_finished(flight: &[u8], pending: &Pending) -> Result<TlsDskKeys, TlsDskError> {
    let records = codec::split_records(flight)?;
    let mut it = records.iter();
    match it.next() {
        Some(r) if r.content_type == codec::CHANGE_CIPHER_SPEC && r.fragment == [1] => {}
        Some(r) if r.content_type == codec::ALERT => return Err(codec::alert(r.fragment)),
        _ => return Err(TlsDskError::UnexpectedMessage("expected ChangeCipherSpec")),
    }
    let record = it
        .next()
        .filter(|r| r.content_type == codec::HANDSHAKE)
        .ok_or(TlsDskError::UnexpectedMessage("expected the server's encrypted Finished"))?;
    if it.next().is_some() {
        return Err(TlsDskError::UnexpectedMessage("record after the server's Finished"));
    }
    let plain = pending.protection.open(&pending.server_keys, 0, codec::HANDSHAKE, record.fragment)?;
    let mut r = Reader::new(&plain);
    if r.u8("Finished")? != codec::FINISHED {
        return Err(TlsDskError::UnexpectedMessage("expected Finished"));
    }
    let verify_data = r.vec24("Finished")?;
    if !r.is_empty() {
        return Err(TlsDskError::UnexpectedMessage("data after the server's Finished"));
    }
    if !constant_time_eq(verify_data, &pending.expected_server_verify) {
        return Err(TlsDskError::FinishedMismatch);
    }
    Ok(pending.keys.clone())
}
