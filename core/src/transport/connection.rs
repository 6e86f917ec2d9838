//! An established SIP/TLS connection: bytes in, bytes out, orderly close. No SIP framing here; the driver
//! feeds what [`TlsConnection::recv`] returns to the sans-I/O parser.

use std::net::SocketAddr;

use tokio::io::{AsyncReadExt, AsyncWriteExt, ReadHalf, WriteHalf};
use tokio::net::TcpStream;

use super::error::{Phase, TransportError};

/// The tokio-rustls stream underneath a [`TlsConnection`], for callers that want the raw `AsyncRead`/`AsyncWrite`.
pub type TlsStream = tokio_rustls::client::TlsStream<TcpStream>;

/// What was negotiated, kept as plain data for the sign-in report and for building Via/Contact headers.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SessionInfo {
    /// The name the certificate was verified against.
    pub server_name: String,
    /// The server's address.
    pub peer_addr: SocketAddr,
    /// This end's address, as Via and Contact must state it.
    pub local_addr: SocketAddr,
    /// The TLS version, in rustls's naming (`TLSv1_3`, `TLSv1_2`).
    pub protocol_version: String,
    /// The cipher suite, in rustls's naming (`TLS13_AES_256_GCM_SHA384`, ...).
    pub cipher_suite: String,
}

/// A verified TLS connection to a SIP server.
pub struct TlsConnection {
    stream: TlsStream,
    info: SessionInfo,
}

impl std::fmt::Debug for TlsConnection {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("TlsConnection").field("info", &self.info).finish_non_exhaustive()
    }
}

impl TlsConnection {
    pub(crate) fn new(stream: TlsStream, host: &str) -> Result<TlsConnection, TransportError> {
        let (tcp, tls) = stream.get_ref();
        let addrs = tcp.peer_addr().and_then(|peer| Ok((peer, tcp.local_addr()?)));
        let (peer_addr, local_addr) = addrs.map_err(|source| TransportError::Io {
            host: host.to_owned(),
            addr: None,
            phase: Phase::Handshake,
            source,
        })?;
        let info = SessionInfo {
            server_name: host.to_owned(),
            peer_addr,
            local_addr,
            protocol_version: tls.protocol_version().map(|v| format!("{v:?}")).unwrap_or_default(),
            cipher_suite: tls.negotiated_cipher_suite().map(|s| format!("{:?}", s.suite())).unwrap_or_default(),
        };
        tracing::debug!(
            host,
            peer = %info.peer_addr,
            version = %info.protocol_version,
            suite = %info.cipher_suite,
            "tls established"
        );
        Ok(TlsConnection { stream, info })
    }

    /// What was negotiated and between which addresses.
    pub fn info(&self) -> &SessionInfo {
        &self.info
    }

    /// The server's address.
    pub fn peer_addr(&self) -> SocketAddr {
        self.info.peer_addr
    }

    /// This end's address (for Via and Contact).
    pub fn local_addr(&self) -> SocketAddr {
        self.info.local_addr
    }

    /// Writes all of `bytes` and flushes them to the socket.
    ///
    /// Not cancel-safe: if the future is dropped midway, part of a message may have gone out and the connection
    /// must be closed.
    pub async fn send(&mut self, bytes: &[u8]) -> Result<(), TransportError> {
        send(&mut self.stream, bytes, &self.info).await
    }

    /// Reads what has arrived into `buf`; `Ok(0)` means the server closed the connection cleanly.
    ///
    /// Cancel-safe (nothing is lost if the future is dropped), so a driver can `select!` on it alongside timers.
    /// A server that drops TCP without TLS close_notify yields an [`TransportError::Io`] of kind
    /// `UnexpectedEof`, since the stream may have been cut short.
    pub async fn recv(&mut self, buf: &mut [u8]) -> Result<usize, TransportError> {
        recv(&mut self.stream, buf, &self.info).await
    }

    /// Sends TLS close_notify and shuts the TCP write side: the orderly goodbye servers log as a clean close.
    ///
    /// Waits for pending bytes to drain; wrap it in a timeout if the server may have stopped reading.
    pub async fn close(mut self) -> Result<(), TransportError> {
        close(&mut self.stream, &self.info).await
    }

    /// Splits into a reader and a writer so one task can wait for incoming requests while another sends.
    pub fn into_split(self) -> (TlsReader, TlsWriter) {
        let (read, write) = tokio::io::split(self.stream);
        let reader = TlsReader { half: read, info: self.info.clone() };
        (reader, TlsWriter { half: write, info: self.info })
    }

    /// The underlying stream, for callers that need `AsyncRead`/`AsyncWrite` directly.
    pub fn into_inner(self) -> (TlsStream, SessionInfo) {
        (self.stream, self.info)
    }
}

/// The receiving half of a split [`TlsConnection`].
pub struct TlsReader {
    half: ReadHalf<TlsStream>,
    info: SessionInfo,
}

impl TlsReader {
    /// As [`TlsConnection::recv`].
    pub async fn recv(&mut self, buf: &mut [u8]) -> Result<usize, TransportError> {
        recv(&mut self.half, buf, &self.info).await
    }

    /// What was negotiated.
    pub fn info(&self) -> &SessionInfo {
        &self.info
    }
}

/// The sending half of a split [`TlsConnection`].
pub struct TlsWriter {
    half: WriteHalf<TlsStream>,
    info: SessionInfo,
}

impl TlsWriter {
    /// As [`TlsConnection::send`].
    pub async fn send(&mut self, bytes: &[u8]) -> Result<(), TransportError> {
        send(&mut self.half, bytes, &self.info).await
    }

    /// As [`TlsConnection::close`]; the reader then sees the server's own close as `Ok(0)`.
    pub async fn close(mut self) -> Result<(), TransportError> {
        close(&mut self.half, &self.info).await
    }

    /// What was negotiated.
    pub fn info(&self) -> &SessionInfo {
        &self.info
    }
}

async fn send(w: &mut (impl AsyncWriteExt + Unpin), bytes: &[u8], info: &SessionInfo) -> Result<(), TransportError> {
    let sent = async {
        w.write_all(bytes).await?;
        w.flush().await
    };
    sent.await.map_err(|source| io_error(info, Phase::Send, source))
}

async fn recv(
    r: &mut (impl AsyncReadExt + Unpin),
    buf: &mut [u8],
    info: &SessionInfo,
) -> Result<usize, TransportError> {
    r.read(buf).await.map_err(|source| io_error(info, Phase::Receive, source))
}

async fn close(w: &mut (impl AsyncWriteExt + Unpin), info: &SessionInfo) -> Result<(), TransportError> {
    w.shutdown().await.map_err(|source| io_error(info, Phase::Close, source))
}

fn io_error(info: &SessionInfo, phase: Phase, source: std::io::Error) -> TransportError {
    // A TLS alert or bad record after the handshake arrives here too, as an io::Error wrapping rustls's
    // error; it stays the source, and the phase says it happened on an established connection.
    TransportError::Io { host: info.server_name.clone(), addr: Some(info.peer_addr), phase, source }
}
