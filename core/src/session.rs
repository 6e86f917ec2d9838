//! The I/O driver for one SIP connection: it moves bytes between a [`TlsConnection`] and the
//! sans-I/O layers (stream parser, client transactions) and keeps time for them, while sign-in
//! runs its REGISTER legs; once registered, `crate::driver` takes the connection over.

use std::time::{Duration, Instant};

use crate::auth::sa::{AuthError, SecurityAssociation};
use crate::sip::transaction::{ClientTransactions, RequestFactory, ResponseRoute, TransactionEvent};
use crate::sip::{Limits, Message, Method, ParseError, StreamItem, StreamParser};
use crate::transport::{TlsConnection, TransportError};

/// Why a request got no final response.
#[derive(Debug, thiserror::Error)]
pub enum SessionError {
    #[error(transparent)]
    Transport(#[from] TransportError),
    #[error("the server's byte stream could not be parsed: {0}")]
    Stream(ParseError),
    #[error("the server closed the connection")]
    Closed,
    #[error("no answer within {0:?} (for a request: RFC 3261 Timer F)")]
    TimedOut(Duration),
    #[error("the request could not be sent: {0}")]
    Request(#[from] crate::sip::transaction::TransactionError),
    #[error("the request could not be signed: {0}")]
    Signing(#[from] AuthError),
}

/// One signed-in connection: transport, framing, transactions and the request factory.
pub(crate) struct SipSession {
    pub conn: TlsConnection,
    pub factory: RequestFactory,
    /// Once established, every request is signed with it and every message from the server is
    /// verified against it ([MS-SIPAE] 3.2.5); unsigned or badly signed ones are dropped.
    pub sa: Option<SecurityAssociation>,
    /// Messages dropped because their signature was missing or wrong.
    pub bad_signatures: u64,
    pub(crate) parser: StreamParser,
    transactions: ClientTransactions,
    /// Counters for the report and diagnostics.
    pub stray_responses: u64,
    pub invalid_messages: u64,
    /// Where the messages are traced (nowhere by default).
    pub(crate) tap: crate::trace::Tap,
    /// The registrar's name, for the trace.
    pub(crate) host: String,
}

impl SipSession {
    pub fn new(conn: TlsConnection, factory: RequestFactory, limits: Limits) -> SipSession {
        SipSession {
            conn,
            factory,
            sa: None,
            bad_signatures: 0,
            parser: StreamParser::new(limits),
            transactions: ClientTransactions::new(),
            stray_responses: 0,
            invalid_messages: 0,
            tap: crate::trace::Tap::default(),
            host: String::new(),
        }
    }

    /// Sends bytes (one message) and traces them.
    async fn send(&mut self, bytes: &[u8]) -> Result<(), TransportError> {
        self.trace(crate::trace::Direction::Sent, bytes);
        self.conn.send(bytes).await
    }

    fn trace(&self, direction: crate::trace::Direction, bytes: &[u8]) {
        if self.tap.is_on() {
            let info = self.conn.info();
            self.tap.sip(direction, info.local_addr, info.peer_addr, &self.host, bytes);
        }
    }

    /// Sends `request` and waits for its final response (provisional ones are skipped),
    /// answering what the server sends meanwhile (keep-alive pings, OPTIONS, NOTIFY).
    pub async fn request(&mut self, mut request: Message) -> Result<Message, SessionError> {
        if let Some(sa) = self.sa.as_mut() {
            sa.sign(&mut request)?;
        }
        let key = self.transactions.start(request, Instant::now())?;
        while let Some(bytes) = self.transactions.poll_transmit() {
            self.send(&bytes).await?;
        }
        let mut buf = vec![0u8; 16 * 1024];
        loop {
            while let Some(item) = self.parser.next_item().map_err(SessionError::Stream)? {
                if let Some(resp) = self.handle_item(item, &key).await? {
                    return Ok(resp);
                }
            }
            let deadline = self.transactions.poll_timeout();
            let read = match deadline {
                Some(d) => {
                    let wait = d.saturating_duration_since(Instant::now());
                    match tokio::time::timeout(wait, self.conn.recv(&mut buf)).await {
                        Ok(r) => r?,
                        Err(_) => {
                            for (k, ev) in self.transactions.handle_timeout(Instant::now()) {
                                if k == key && ev == TransactionEvent::TimedOut {
                                    return Err(SessionError::TimedOut(
                                        crate::sip::transaction::Timers::default().timer_f(),
                                    ));
                                }
                            }
                            continue;
                        }
                    }
                }
                None => self.conn.recv(&mut buf).await?,
            };
            if read == 0 {
                return Err(SessionError::Closed);
            }
            self.parser.push(&buf[..read]).map_err(SessionError::Stream)?;
        }
    }

    async fn handle_item(
        &mut self,
        item: StreamItem,
        key: &crate::sip::transaction::TransactionKey,
    ) -> Result<Option<Message>, SessionError> {
        if let Some(m) = item.message() {
            self.tap.sip_received(m);
            if self.tap.is_on() {
                self.trace(crate::trace::Direction::Received, &m.to_bytes());
            }
        }
        match item {
            StreamItem::Ping => self.conn.send(b"\r\n").await?,
            StreamItem::Pong => {}
            StreamItem::Invalid { error, message } => {
                self.invalid_messages += 1;
                tracing::warn!(error = %error, "dropped an invalid message from the server");
                if message.is_request() && !matches!(message.method(), Some(Method::Ack | Method::Benotify)) {
                    let resp = Message::response_to(&message, error.status_code(), "Bad Request", None);
                    self.send(&resp.to_bytes()).await?;
                }
            }
            StreamItem::Message(m) if !self.signature_ok(&m) => {}
            StreamItem::Message(m) if m.is_request() => self.answer_server_request(&m).await?,
            StreamItem::Message(m) => match self.transactions.handle_response(m, Instant::now()) {
                ResponseRoute::Matched { key: k, event: Some(TransactionEvent::Final(resp)) } if &k == key => {
                    return Ok(Some(resp));
                }
                ResponseRoute::Matched { .. } => {}
                ResponseRoute::Unmatched(why) => {
                    self.stray_responses += 1;
                    tracing::debug!(?why, "dropped a response that matches no transaction");
                }
            },
        }
        Ok(None)
    }

    /// With an established association, a message from the server counts only when its signature
    /// verifies; others are dropped, logged and counted ([MS-SIPAE] 3.2.5.2).
    fn signature_ok(&mut self, m: &Message) -> bool {
        crate::auth::sa::admit(self.sa.as_ref(), m, &mut self.bad_signatures)
    }

    /// Requests from the server while we wait: OPTIONS and NOTIFY get 200, BENOTIFY nothing
    /// ([MS-SIP] 4.4), anything else 501 until the layers that handle them exist.
    async fn answer_server_request(&mut self, req: &Message) -> Result<(), SessionError> {
        let resp = match req.method() {
            Some(Method::Benotify | Method::Ack) | None => return Ok(()),
            Some(Method::Options | Method::Notify) => {
                Message::response_to(req, 200, "OK", Some(self.factory.from_tag()))
            }
            Some(_) => Message::response_to(req, 501, "Not Implemented", Some(self.factory.from_tag())),
        };
        let mut resp = resp;
        if let Some(sa) = self.sa.as_mut() {
            sa.sign(&mut resp)?;
        }
        self.send(&resp.to_bytes()).await?;
        Ok(())
    }
}
