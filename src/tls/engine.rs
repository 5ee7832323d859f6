//! The TLS engine: the one file that drives a `rustls::Connection` (rustls pinned at 0.23).
//!
//! Mirrors the `ssl.MemoryBIO` pair and the `SSLObject` that CPython `Lib/asyncio/sslproto.py`
//! wraps (T46): ciphertext goes in with [`Engine::feed`], plaintext comes out of
//! [`Engine::read_into`]; plaintext goes in with [`Engine::write`], ciphertext comes out into
//! the caller's buffer. No I/O and no callbacks: `protocol.rs` moves the bytes.
//!
//! Ground rules:
//! - ciphertext waits in our own `incoming` queue and is handed to rustls only when a read,
//!   handshake or shutdown step asks (rustls holds at most one record plus 16 KiB of plaintext),
//!   so `pending_ciphertext` is the read-side backlog the flow control of T18 watches;
//! - errors are sticky, as in rustls: after the first, every step returns it again;
//! - `read_tls` is never called with an empty source, so rustls never sees a TCP EOF and never
//!   reports a ragged EOF: the protocol decides what a missing close_notify means (D9, T49);
//! - the SSLObject's "want read" is [`ReadEnd::WouldBlock`], its `b''` is [`ReadEnd::Closed`];
//! - a close_notify during the handshake ends it, as in OpenSSL: rustls lets a warning-level
//!   one pass until the TLS version is settled (and through a TLS 1.2 handshake, plaintext or
//!   encrypted), so the handshake's records are watched for it here ([`CloseWatch`]).

use std::io::{self, BufRead, Read, Write};
use std::sync::Arc;

use rustls::pki_types::ServerName;
use rustls::{CipherSuite, ClientConfig, ClientConnection, Connection, ServerConfig};
use rustls::{ProtocolVersion, ServerConnection};

use super::config::TlsContext;
use crate::error::{Error, TlsError};
use crate::transport::write_buffer::WriteBuffer;

/// How one [`Engine::read_into`] ended.
#[derive(Debug)]
pub(crate) enum ReadEnd {
    /// The buffer is full; more plaintext may be ready.
    Full,
    /// Nothing more until more ciphertext arrives (`SSLWantReadError`).
    WouldBlock,
    /// The peer's close_notify: no more data will come (`read()` returned `b''`).
    Closed,
    /// A TLS error (sticky).
    Failed(Error),
}

/// One TLS connection in memory.
pub(crate) struct Engine {
    conn: Connection,
    /// The configuration the connection was made with (`get_extra_info("sslcontext")`).
    context: TlsContext,
    /// Ciphertext received and not yet handed to rustls.
    incoming: WriteBuffer,
    /// The first error; returned by every later step.
    error: Option<TlsError>,
    /// `send_close_notify` has been called.
    close_notify_sent: bool,
    /// The peer's close_notify has been processed.
    close_notify_received: bool,
    /// Watches the records fed during the handshake for a plaintext close_notify; `None`
    /// once the handshake is complete (nothing is scanned after it).
    close_watch: Option<CloseWatch>,
    /// The `server_hostname` a client's stand-in [`ServerName`] replaces, for its errors;
    /// `None` when the name checked is the one given (or on a server).
    stand_in_for: Option<Box<str>>,
}

/// Finds a close_notify among the handshake's records, following the ciphertext stream header
/// by header across [`Engine::feed`] calls. Only the handshake needs it. A plaintext alert
/// record is 2 bytes long (`15 03 0x 00 02 <level> <description>`), and close_notify is
/// description 0. An encrypted one is longer (its AEAD nonce and tag) and can only be a TLS
/// 1.2 alert after the peer's ChangeCipherSpec (TLS 1.3 hides the type): its level and
/// description are sealed, but rustls fails the handshake on a fatal one and lets a warning
/// pass, and a warning that ends a peer's handshake flight is its close_notify (user_canceled
/// must be followed by one), so any encrypted alert counts as one, once its whole record has
/// gone by: rustls reads a fatal one only whole, and a part of it must not pass for a
/// close_notify.
#[derive(Default)]
struct CloseWatch {
    /// The current record's 5-byte header, then (for a 2-byte alert) its level and
    /// description. Invariant: `filled <= 7`.
    head: [u8; 7],
    /// How many bytes of `head` are known.
    filled: usize,
    /// Where the scan stands between two records' headers.
    at: WatchAt,
}

/// [`CloseWatch`]'s place in the record stream.
#[derive(Default, Clone, Copy, PartialEq, Debug)]
enum WatchAt {
    /// In a record's header (`filled` bytes of it known).
    #[default]
    Header,
    /// Passing over `left` more bytes of a record's body; a sealed alert's counts as a
    /// close_notify once its last byte has gone by.
    Body { left: usize, sealed_alert: bool },
    /// A close_notify went by, at any level: the scan is over.
    Seen,
}

impl CloseWatch {
    fn seen(&self) -> bool {
        self.at == WatchAt::Seen
    }

    fn scan(&mut self, mut data: &[u8]) {
        while !data.is_empty() {
            match self.at {
                WatchAt::Seen => return,
                WatchAt::Body { left, sealed_alert } => {
                    let n = left.min(data.len());
                    data = &data[n..];
                    self.at = match (left - n, sealed_alert) {
                        (0, true) => WatchAt::Seen,
                        (0, false) => WatchAt::Header,
                        (left, _) => WatchAt::Body { left, sealed_alert },
                    };
                    continue;
                }
                WatchAt::Header => {}
            }
            let want = if self.filled < 5 { 5 } else { 7 };
            let n = (want - self.filled).min(data.len());
            self.head[self.filled..self.filled + n].copy_from_slice(&data[..n]);
            (self.filled, data) = (self.filled + n, &data[n..]);
            if self.filled < want {
                return; // the rest of the header comes with the next feed
            }
            let len = usize::from(u16::from_be_bytes([self.head[3], self.head[4]]));
            let alert = self.head[0] == 0x15;
            if self.filled == 5 && alert && len == 2 {
                continue; // a plaintext alert: read its level and description
            }
            // A plaintext close_notify now, a sealed (TLS 1.2) alert once its body went by.
            self.at = match (self.filled, alert, len) {
                (7, ..) if self.head[6] == 0 => WatchAt::Seen,
                (7, ..) | (_, false, 0) => WatchAt::Header,
                (_, true, 0) => WatchAt::Seen,
                (_, sealed_alert, left) => WatchAt::Body { left, sealed_alert },
            };
            self.filled = 0;
        }
    }
}

/// Largest plaintext slice encrypted per [`Engine::write`] call: rustls' own outgoing buffer
/// limit, so one call never leaves ciphertext behind in rustls.
const WRITE_CHUNK: usize = 64 * 1024;

impl Engine {
    /// A client connection to `name`; its first flight is ready for [`flush`](Self::flush).
    pub(crate) fn client(
        config: Arc<ClientConfig>,
        name: ServerName<'static>,
    ) -> Result<Engine, Error> {
        let conn = ClientConnection::new(config.clone(), name).map_err(tls_error)?;
        Ok(Engine::new(conn.into(), TlsContext::Client(config)))
    }

    /// A server connection; it waits for the ClientHello.
    pub(crate) fn server(config: Arc<ServerConfig>) -> Result<Engine, Error> {
        #[cfg(test)]
        SERVERS_BUILT.with(|n| n.set(n.get() + 1));
        let conn = ServerConnection::new(config.clone()).map_err(tls_error)?;
        Ok(Engine::new(conn.into(), TlsContext::Server(config)))
    }

    fn new(conn: Connection, context: TlsContext) -> Engine {
        Engine {
            conn,
            context,
            incoming: WriteBuffer::default(),
            error: None,
            close_notify_sent: false,
            close_notify_received: false,
            close_watch: Some(CloseWatch::default()),
            stand_in_for: None,
        }
    }

    /// Queues ciphertext from the socket (`MemoryBIO.write`).
    pub(crate) fn feed(&mut self, ciphertext: &[u8]) {
        if let Some(watch) = &mut self.close_watch {
            watch.scan(ciphertext);
        }
        self.incoming.push(ciphertext);
    }

    /// Ciphertext queued and not yet processed (`MemoryBIO.pending`, T18).
    pub(crate) fn pending_ciphertext(&self) -> usize {
        self.incoming.len()
    }

    /// Whether a read step has anything to look at: queued ciphertext, decrypted plaintext, or
    /// the peer's close_notify not yet reported by a read.
    pub(crate) fn has_input(&mut self) -> bool {
        !self.incoming.is_empty() || self.conn.reader().fill_buf().is_ok() || self.error.is_some()
    }

    /// Drops queued ciphertext (the connection is gone, T28).
    pub(crate) fn clear(&mut self) {
        self.incoming.clear();
    }

    /// The peer's close_notify has arrived (D9: lets a caller tell a clean end from a
    /// truncation).
    pub(crate) fn close_notify_received(&self) -> bool {
        self.close_notify_received
    }

    /// A client whose [`ServerName`] is a stand-in for `host`, a name rustls cannot match
    /// as given: its refusals for the name name `host` (see `config::client_setup`).
    pub(crate) fn check_name_as(&mut self, host: &str) {
        self.stand_in_for = Some(host.into());
    }

    fn fail(&mut self, e: TlsError) -> Error {
        if self.error.is_none() {
            self.error = Some(match &self.stand_in_for {
                Some(host) => e.for_name(host),
                None => e,
            });
        }
        Error::Tls(self.error.clone().expect("set above"))
    }

    fn check(&self) -> Result<(), Error> {
        match &self.error {
            Some(e) => Err(Error::Tls(e.clone())),
            None => Ok(()),
        }
    }

    /// Hands one batch of queued ciphertext to rustls and processes it. `Ok(false)` when
    /// nothing could be handed over (queue empty, or rustls' plaintext buffer is full and must
    /// be read first).
    fn pump(&mut self) -> Result<bool, Error> {
        self.check()?;
        if self.incoming.is_empty() {
            return Ok(false);
        }
        let mut src = self.incoming.as_slice();
        let n = match self.conn.read_tls(&mut src) {
            Ok(n) => n,
            // "received plaintext buffer full": the reader must drain first.
            Err(e) if e.kind() == io::ErrorKind::Other => return Ok(false),
            // rustls' "message buffer full" (its only error here): a handshake message over
            // the 64 KiB it joins. OpenSSL's name for it first, as our other TLS errors do.
            Err(_) => {
                let e = "excessive message size: the peer sent a TLS handshake message larger \
                         than this side accepts (64 KiB at most)";
                return Err(self.fail(TlsError::from_rustls(rustls::Error::General(e.into()))));
            }
        };
        if n == 0 {
            // After close_notify rustls takes nothing more: what follows is discarded.
            self.incoming.clear();
            return Ok(false);
        }
        self.incoming.consume(n);
        let processed = if self.close_notify_sent {
            self.process_after_close_notify()
        } else {
            self.conn.process_new_packets()
        };
        match processed {
            Ok(state) => {
                if state.peer_has_closed() {
                    self.close_notify_received = true;
                }
                Ok(true)
            }
            Err(e) => Err(self.fail(TlsError::from_rustls(e))),
        }
    }

    /// `process_new_packets` once our close_notify is out. A record rustls cannot read makes
    /// it send a fatal alert, and in debug builds it asserts that none follows a close_notify
    /// (rustls issue #959): a panic a peer could cause at will. It is caught here and told as
    /// what it is, the peer's bad record, ending the shutdown as CPython's `SSL_shutdown`
    /// error does (the panic hook still prints the assertion). Release builds never panic.
    #[cold]
    fn process_after_close_notify(&mut self) -> Result<rustls::IoState, rustls::Error> {
        let conn = &mut self.conn;
        std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| conn.process_new_packets()))
            .unwrap_or_else(|_| {
                Err(rustls::Error::General(
                    "the peer sent data that is not valid TLS after this side had begun to \
                     close the connection (its close_notify sent)"
                        .into(),
                ))
            })
    }

    /// `SSLObject.do_handshake()`: processes queued ciphertext; `Ok(true)` once the handshake
    /// is complete, `Ok(false)` while it needs more from the peer. Records that follow the
    /// handshake stay queued for [`read_into`](Self::read_into). A close_notify among the
    /// handshake's records fails it once every record before it is processed (OpenSSL's
    /// `SSL_ERROR_ZERO_RETURN`, Python's `SSLZeroReturnError`) with the error rustls itself
    /// gives where it refuses one (a TLS 1.3 warning, any fatal one).
    pub(crate) fn do_handshake(&mut self) -> Result<bool, Error> {
        loop {
            self.check()?;
            if !self.conn.is_handshaking() {
                self.close_watch = None;
                return Ok(true);
            }
            if !self.pump()? {
                if self.close_watch.as_ref().is_some_and(CloseWatch::seen) {
                    let closed =
                        rustls::Error::AlertReceived(rustls::AlertDescription::CloseNotify);
                    return Err(self.fail(TlsError::from_rustls(closed)));
                }
                return Ok(false);
            }
        }
    }

    /// Fills `buf` with plaintext, decrypting queued ciphertext as needed (`SSLObject.read`).
    /// Returns how many bytes were written and why it stopped; the bytes count even when the
    /// reason is `Closed` or `Failed` (data before an alert is delivered first, as OpenSSL does).
    pub(crate) fn read_into(&mut self, buf: &mut [u8]) -> (usize, ReadEnd) {
        let mut filled = 0;
        while filled < buf.len() {
            match self.conn.reader().read(&mut buf[filled..]) {
                Ok(0) => return (filled, ReadEnd::Closed),
                Ok(n) => filled += n,
                Err(e) if e.kind() == io::ErrorKind::WouldBlock => match self.pump() {
                    Ok(true) => {}
                    Ok(false) => return (filled, ReadEnd::WouldBlock),
                    Err(e) => {
                        // Records before the bad one were decrypted by the same pump: they
                        // come first (the error stays sticky for the next call).
                        while filled < buf.len() {
                            match self.conn.reader().read(&mut buf[filled..]) {
                                Ok(n) if n > 0 => filled += n,
                                _ => break,
                            }
                        }
                        if filled == buf.len() {
                            return (filled, ReadEnd::Full);
                        }
                        return (filled, ReadEnd::Failed(e));
                    }
                },
                Err(e) => {
                    // rustls' `UnexpectedEof` (its text links to its manual) cannot come: it
                    // never sees a TCP EOF (`read_tls` is never given an empty source).
                    let e = format!("reading the peer's decrypted data failed: {}", e.kind());
                    let e = TlsError::from_rustls(rustls::Error::General(e));
                    return (filled, ReadEnd::Failed(self.fail(e)));
                }
            }
        }
        (filled, ReadEnd::Full)
    }

    /// Encrypts a prefix of `plaintext` (`SSLObject.write`) and appends the records to `out`.
    /// Returns how much was taken; never 0 for non-empty input on a healthy connection.
    /// After close_notify was sent, data is dropped (reported as taken).
    pub(crate) fn write(&mut self, plaintext: &[u8], out: &mut Vec<u8>) -> Result<usize, Error> {
        self.check()?;
        if self.close_notify_sent {
            return Ok(plaintext.len());
        }
        let chunk = &plaintext[..plaintext.len().min(WRITE_CHUNK)];
        let n = self.conn.writer().write(chunk).map_err(Error::Io)?;
        self.flush(out);
        Ok(n)
    }

    /// Moves every record rustls has ready (handshake flights, alerts, close_notify, data) to
    /// the end of `out` (`outgoing.read()`).
    pub(crate) fn flush(&mut self, out: &mut Vec<u8>) {
        while self.conn.wants_write() {
            match self.conn.write_tls(out) {
                Ok(0) | Err(_) => break, // a Vec never refuses; guard against looping anyway
                Ok(_) => {}
            }
        }
    }

    /// `SSLObject.unwrap()`: sends close_notify once, then waits for the peer's; `Ok(true)`
    /// once it has arrived. Plaintext decrypted before our close_notify and never read is
    /// dropped. Application data that comes after it, before the peer's close_notify, fails
    /// the shutdown, as OpenSSL's `SSL_shutdown` does (`APPLICATION_DATA_AFTER_CLOSE_NOTIFY`,
    /// which CPython's layer hands to connection_lost). Data after the peer's close_notify
    /// never reaches us: rustls ignores it (RFC 8446, 6.1), as OpenSSL throws it away.
    pub(crate) fn shutdown(&mut self) -> Result<bool, Error> {
        self.check()?;
        if !self.close_notify_sent {
            self.close_notify_sent = true;
            self.conn.send_close_notify();
            self.discard_plaintext();
        }
        loop {
            if self.close_notify_received {
                return Ok(true);
            }
            if !self.pump()? {
                return Ok(false);
            }
            if self.discard_plaintext() > 0 {
                let e = "application data after close notify: the peer sent data after this \
                         side had begun to close the connection (its close_notify sent)";
                return Err(self.fail(TlsError::from_rustls(rustls::Error::General(e.into()))));
            }
        }
    }

    /// Drops the plaintext rustls holds for the reader; how many bytes it was.
    fn discard_plaintext(&mut self) -> usize {
        let mut reader = self.conn.reader();
        let mut dropped = 0;
        while let Ok(chunk) = reader.fill_buf() {
            let n = chunk.len();
            if n == 0 {
                break;
            }
            reader.consume(n);
            dropped += n;
        }
        dropped
    }

    /// The configuration the connection was made with.
    pub(crate) fn context(&self) -> &TlsContext {
        &self.context
    }

    /// What `get_extra_info` reports after the handshake (T31, T41–T43).
    pub(crate) fn info(&self, server_hostname: Option<&str>) -> TlsInfo {
        let suite = self.conn.negotiated_cipher_suite().map(|s| s.suite());
        let (cipher, bits) = suite.map(openssl_name).unwrap_or((None, 0));
        let server_name = match &self.conn {
            Connection::Client(_) => server_hostname.map(str::to_string),
            Connection::Server(s) => s.server_name().map(str::to_string),
        };
        TlsInfo {
            version: match self.conn.protocol_version() {
                Some(ProtocolVersion::TLSv1_3) => "TLSv1.3",
                Some(ProtocolVersion::TLSv1_2) => "TLSv1.2",
                _ => "unknown",
            },
            cipher: cipher
                .map(str::to_string)
                .or_else(|| suite.map(|s| format!("{s:?}")))
                .unwrap_or_default(),
            cipher_bits: bits,
            alpn_protocol: self.conn.alpn_protocol().map(<[u8]>::to_vec),
            server_name,
            peer_certificates: self
                .conn
                .peer_certificates()
                .map(|c| c.iter().map(|c| c.as_ref().to_vec()).collect())
                .unwrap_or_default(),
            resumed: self.conn.handshake_kind() == Some(rustls::HandshakeKind::Resumed),
        }
    }
}

fn tls_error(e: rustls::Error) -> Error {
    Error::Tls(TlsError::from_rustls(e))
}

/// What a TLS handshake settled, read-only: Python's `get_extra_info("ssl_object")`, the
/// `SSLObject` whose `version()`, `cipher()`, `selected_alpn_protocol()`, `server_hostname`,
/// `getpeercert(binary_form=True)` and `session_reused` a program reads. A snapshot taken when
/// the handshake completed; it outlives the connection. Get it with
/// [`Transport::tls_info`](crate::Transport::tls_info) or
/// [`StreamWriter::tls_info`](crate::StreamWriter::tls_info).
///
/// # Examples
///
/// ```
/// # use asyncio::tls::rustls;
/// # let made = rcgen::generate_simple_self_signed(vec!["localhost".into()]).unwrap();
/// # let cert = made.cert.der().clone();
/// # let key = rustls::pki_types::PrivatePkcs8KeyDer::from(made.key_pair.serialize_der());
/// # let server_config = rustls::ServerConfig::builder()
/// #     .with_no_client_auth()
/// #     .with_single_cert(vec![cert.clone()], key.into())
/// #     .unwrap();
/// # let mut roots = rustls::RootCertStore::empty();
/// # roots.add(cert).unwrap();
/// # let client_config = rustls::ClientConfig::builder()
/// #     .with_root_certificates(roots)
/// #     .with_no_client_auth();
/// asyncio::run(async move {
///     let noop = |_r: asyncio::StreamReader, w: asyncio::StreamWriter| w.close();
///     let server = asyncio::start_server(noop, "127.0.0.1", 0).ssl(server_config).await?;
///     let port = server.sockets()[0].port().unwrap();
///     let (_reader, writer) = asyncio::open_connection("127.0.0.1", port)
///         .ssl(client_config)
///         .server_hostname("localhost")
///         .await?;
///     let info = writer.tls_info().expect("a TLS stream");
///     assert_eq!(info.version(), "TLSv1.3");
///     assert!(info.cipher().starts_with("TLS_") && info.cipher_bits() >= 128);
///     assert_eq!(info.server_hostname(), Some("localhost"));
///     assert_eq!(info.peer_certificates().len(), 1); // the server's self-signed leaf
///     assert_eq!(info.selected_alpn_protocol(), None); // none configured
///     assert!(!info.session_reused()); // a first connection
///     writer.close();
///     server.close();
///     Ok::<_, asyncio::Error>(())
/// })??;
/// # Ok::<_, asyncio::Error>(())
/// ```
// Checklist: T41 (the ssl_object as a read-only snapshot).
#[derive(Clone, Debug)]
pub struct TlsInfo {
    /// `"TLSv1.3"` or `"TLSv1.2"`.
    pub(crate) version: &'static str,
    /// OpenSSL's name of the suite (T43), e.g. `TLS_AES_256_GCM_SHA384`.
    pub(crate) cipher: String,
    /// Secret bits of the bulk cipher (256 for AES-256 and ChaCha20).
    pub(crate) cipher_bits: u32,
    /// The ALPN protocol agreed, if any.
    pub(crate) alpn_protocol: Option<Vec<u8>>,
    /// Client: the name sent as SNI and checked; server: the SNI the client sent.
    pub(crate) server_name: Option<String>,
    /// The peer's chain, DER, leaf first; empty when the peer sent none (T42).
    pub(crate) peer_certificates: Vec<Vec<u8>>,
    /// The handshake resumed an earlier session (a TLS 1.3 ticket / PSK or a TLS 1.2 session
    /// id) instead of a full key exchange and certificate check.
    pub(crate) resumed: bool,
}

impl TlsInfo {
    /// `"TLSv1.3"` or `"TLSv1.2"` (Python's `SSLObject.version()`).
    ///
    /// # Examples
    ///
    /// A client that offers only TLS 1.2:
    ///
    /// ```
    /// # use asyncio::tls::rustls;
    /// # let made = rcgen::generate_simple_self_signed(vec!["localhost".into()]).unwrap();
    /// # let cert = made.cert.der().clone();
    /// # let key = rustls::pki_types::PrivatePkcs8KeyDer::from(made.key_pair.serialize_der());
    /// # let server_config = rustls::ServerConfig::builder()
    /// #     .with_no_client_auth()
    /// #     .with_single_cert(vec![cert.clone()], key.into())
    /// #     .unwrap();
    /// # let mut roots = rustls::RootCertStore::empty();
    /// # roots.add(cert.clone()).unwrap();
    /// let only_tls12 = &[&rustls::version::TLS12];
    /// let client_config = rustls::ClientConfig::builder_with_protocol_versions(only_tls12)
    ///     .with_root_certificates(roots)
    ///     .with_no_client_auth();
    /// asyncio::run(async move {
    ///     let noop = |_r: asyncio::StreamReader, w: asyncio::StreamWriter| w.close();
    ///     let server = asyncio::start_server(noop, "127.0.0.1", 0).ssl(server_config).await?;
    ///     let port = server.sockets()[0].port().unwrap();
    ///     let (_reader, writer) = asyncio::open_connection("127.0.0.1", port)
    ///         .ssl(client_config)
    ///         .server_hostname("localhost")
    ///         .await?;
    ///     let info = writer.tls_info().expect("a TLS stream");
    ///     assert_eq!(info.version(), "TLSv1.2");
    ///     writer.close();
    ///     server.close();
    ///     Ok::<_, asyncio::Error>(())
    /// })??;
    /// # Ok::<_, Box<dyn std::error::Error>>(())
    /// ```
    pub fn version(&self) -> &str {
        self.version
    }

    /// The cipher suite in OpenSSL's spelling, e.g. `TLS_AES_256_GCM_SHA384` (the name in
    /// Python's `SSLObject.cipher()`).
    ///
    /// # Examples
    ///
    /// A TLS 1.2 client that offers one suite, by its IANA name in rustls:
    ///
    /// ```
    /// # use asyncio::tls::rustls;
    /// # let made = rcgen::generate_simple_self_signed(vec!["localhost".into()]).unwrap();
    /// # let cert = made.cert.der().clone();
    /// # let key = rustls::pki_types::PrivatePkcs8KeyDer::from(made.key_pair.serialize_der());
    /// # let server_config = rustls::ServerConfig::builder()
    /// #     .with_no_client_auth()
    /// #     .with_single_cert(vec![cert.clone()], key.into())
    /// #     .unwrap();
    /// # let mut roots = rustls::RootCertStore::empty();
    /// # roots.add(cert.clone()).unwrap();
    /// use rustls::crypto::{ring, CryptoProvider};
    /// use ring::cipher_suite::TLS_ECDHE_ECDSA_WITH_CHACHA20_POLY1305_SHA256 as SUITE;
    /// let provider = CryptoProvider {
    ///     cipher_suites: vec![SUITE],
    ///     ..ring::default_provider()
    /// };
    /// let client_config = rustls::ClientConfig::builder_with_provider(provider.into())
    ///     .with_protocol_versions(&[&rustls::version::TLS12])?
    ///     .with_root_certificates(roots)
    ///     .with_no_client_auth();
    /// asyncio::run(async move {
    ///     let noop = |_r: asyncio::StreamReader, w: asyncio::StreamWriter| w.close();
    ///     let server = asyncio::start_server(noop, "127.0.0.1", 0).ssl(server_config).await?;
    ///     let port = server.sockets()[0].port().unwrap();
    ///     let (_reader, writer) = asyncio::open_connection("127.0.0.1", port)
    ///         .ssl(client_config)
    ///         .server_hostname("localhost")
    ///         .await?;
    ///     let info = writer.tls_info().expect("a TLS stream");
    ///     assert_eq!(info.cipher(), "ECDHE-ECDSA-CHACHA20-POLY1305"); // as OpenSSL names it
    ///     writer.close();
    ///     server.close();
    ///     Ok::<_, asyncio::Error>(())
    /// })??;
    /// # Ok::<_, Box<dyn std::error::Error>>(())
    /// ```
    pub fn cipher(&self) -> &str {
        &self.cipher
    }

    /// The bulk cipher's secret bits, e.g. 256 (the bits in Python's `SSLObject.cipher()`).
    ///
    /// # Examples
    ///
    /// A client that offers only AES-128:
    ///
    /// ```
    /// # use asyncio::tls::rustls;
    /// # let made = rcgen::generate_simple_self_signed(vec!["localhost".into()]).unwrap();
    /// # let cert = made.cert.der().clone();
    /// # let key = rustls::pki_types::PrivatePkcs8KeyDer::from(made.key_pair.serialize_der());
    /// # let server_config = rustls::ServerConfig::builder()
    /// #     .with_no_client_auth()
    /// #     .with_single_cert(vec![cert.clone()], key.into())
    /// #     .unwrap();
    /// # let mut roots = rustls::RootCertStore::empty();
    /// # roots.add(cert.clone()).unwrap();
    /// use rustls::crypto::{ring, CryptoProvider};
    /// let provider = CryptoProvider {
    ///     cipher_suites: vec![ring::cipher_suite::TLS13_AES_128_GCM_SHA256],
    ///     ..ring::default_provider()
    /// };
    /// let client_config = rustls::ClientConfig::builder_with_provider(provider.into())
    ///     .with_safe_default_protocol_versions()?
    ///     .with_root_certificates(roots)
    ///     .with_no_client_auth();
    /// asyncio::run(async move {
    ///     let noop = |_r: asyncio::StreamReader, w: asyncio::StreamWriter| w.close();
    ///     let server = asyncio::start_server(noop, "127.0.0.1", 0).ssl(server_config).await?;
    ///     let port = server.sockets()[0].port().unwrap();
    ///     let (_reader, writer) = asyncio::open_connection("127.0.0.1", port)
    ///         .ssl(client_config)
    ///         .server_hostname("localhost")
    ///         .await?;
    ///     let info = writer.tls_info().expect("a TLS stream");
    ///     assert_eq!((info.cipher(), info.cipher_bits()), ("TLS_AES_128_GCM_SHA256", 128));
    ///     writer.close();
    ///     server.close();
    ///     Ok::<_, asyncio::Error>(())
    /// })??;
    /// # Ok::<_, Box<dyn std::error::Error>>(())
    /// ```
    pub fn cipher_bits(&self) -> u32 {
        self.cipher_bits
    }

    /// The ALPN protocol agreed, if any (Python's `SSLObject.selected_alpn_protocol()`).
    ///
    /// # Examples
    ///
    /// Both sides offer protocols; the server picks the first of its own the client offers:
    ///
    /// ```
    /// # let dir = std::env::temp_dir().join(format!("asyncio-doc-alpn-{}", std::process::id()));
    /// # std::fs::create_dir_all(&dir)?;
    /// # let made = rcgen::generate_simple_self_signed(vec!["localhost".into()])?;
    /// # std::fs::write(dir.join("cert.pem"), made.cert.pem())?;
    /// # std::fs::write(dir.join("key.pem"), made.key_pair.serialize_pem())?;
    /// // cert.pem / key.pem: a self-signed certificate for localhost.
    /// let (cert, key) = (dir.join("cert.pem"), dir.join("key.pem"));
    /// asyncio::run(async move {
    ///     let mut server_tls = asyncio::tls::server_config(&cert, &key)?;
    ///     server_tls.alpn_protocols = vec![b"h2".to_vec(), b"http/1.1".to_vec()];
    ///     let mut client_tls = asyncio::tls::client_config_with_roots(&cert)?;
    ///     client_tls.alpn_protocols = vec![b"http/1.1".to_vec(), b"h2".to_vec()];
    ///
    ///     let noop = |_r: asyncio::StreamReader, w: asyncio::StreamWriter| w.close();
    ///     let server = asyncio::start_server(noop, "127.0.0.1", 0).ssl(server_tls).await?;
    ///     let port = server.sockets()[0].port().unwrap();
    ///     let (_reader, writer) = asyncio::open_connection("127.0.0.1", port)
    ///         .ssl(client_tls)
    ///         .server_hostname("localhost")
    ///         .await?;
    ///     let info = writer.tls_info().expect("a TLS stream");
    ///     assert_eq!(info.selected_alpn_protocol(), Some(&b"h2"[..]));
    ///     writer.close();
    ///     server.close();
    ///     Ok::<_, asyncio::Error>(())
    /// })??;
    /// # std::fs::remove_dir_all(&dir)?;
    /// # Ok::<_, Box<dyn std::error::Error>>(())
    /// ```
    pub fn selected_alpn_protocol(&self) -> Option<&[u8]> {
        self.alpn_protocol.as_deref()
    }

    /// A client's: the name it sent as SNI and checked; a server's: the SNI the client sent
    /// (Python's `SSLObject.server_hostname`).
    ///
    /// # Examples
    ///
    /// A server reads the name its client asked for (to pick a virtual host, say):
    ///
    /// ```
    /// # use asyncio::tls::rustls;
    /// # let made = rcgen::generate_simple_self_signed(vec!["localhost".into()]).unwrap();
    /// # let cert = made.cert.der().clone();
    /// # let key = rustls::pki_types::PrivatePkcs8KeyDer::from(made.key_pair.serialize_der());
    /// # let server_config = rustls::ServerConfig::builder()
    /// #     .with_no_client_auth()
    /// #     .with_single_cert(vec![cert.clone()], key.into())
    /// #     .unwrap();
    /// # let mut roots = rustls::RootCertStore::empty();
    /// # roots.add(cert.clone()).unwrap();
    /// # let client_config = rustls::ClientConfig::builder()
    /// #     .with_root_certificates(roots)
    /// #     .with_no_client_auth();
    /// use asyncio::{StreamReader, StreamWriter};
    ///
    /// asyncio::run(async move {
    ///     let greet = |_r: StreamReader, w: StreamWriter| {
    ///         let sni = w.tls_info().and_then(|i| i.server_hostname().map(str::to_owned));
    ///         w.write(sni.unwrap_or_default().as_bytes())?;
    ///         w.close();
    ///         Ok::<_, asyncio::Error>(())
    ///     };
    ///     let server = asyncio::start_server(greet, "127.0.0.1", 0).ssl(server_config).await?;
    ///     let port = server.sockets()[0].port().unwrap();
    ///     let (reader, _writer) = asyncio::open_connection("127.0.0.1", port)
    ///         .ssl(client_config)
    ///         .server_hostname("localhost")
    ///         .await?;
    ///     assert_eq!(reader.read(-1).await?, b"localhost");
    ///     server.close();
    ///     Ok::<_, asyncio::Error>(())
    /// })??;
    /// # Ok::<_, Box<dyn std::error::Error>>(())
    /// ```
    pub fn server_hostname(&self) -> Option<&str> {
        self.server_name.as_deref()
    }

    /// The peer's certificate chain, DER, leaf first; empty when the peer sent none (Python's
    /// `getpeercert(binary_form=True)` is the first).
    ///
    /// # Examples
    ///
    /// The client checks it got the very certificate the server was given (pinning):
    ///
    /// ```
    /// # use asyncio::tls::rustls;
    /// # let made = rcgen::generate_simple_self_signed(vec!["localhost".into()]).unwrap();
    /// # let cert = made.cert.der().clone();
    /// # let key = rustls::pki_types::PrivatePkcs8KeyDer::from(made.key_pair.serialize_der());
    /// # let server_config = rustls::ServerConfig::builder()
    /// #     .with_no_client_auth()
    /// #     .with_single_cert(vec![cert.clone()], key.into())
    /// #     .unwrap();
    /// # let mut roots = rustls::RootCertStore::empty();
    /// # roots.add(cert.clone()).unwrap();
    /// # let client_config = rustls::ClientConfig::builder()
    /// #     .with_root_certificates(roots)
    /// #     .with_no_client_auth();
    /// let pinned = cert.to_vec(); // the server's DER
    /// asyncio::run(async move {
    ///     let noop = |_r: asyncio::StreamReader, w: asyncio::StreamWriter| w.close();
    ///     let server = asyncio::start_server(noop, "127.0.0.1", 0).ssl(server_config).await?;
    ///     let port = server.sockets()[0].port().unwrap();
    ///     let (_reader, writer) = asyncio::open_connection("127.0.0.1", port)
    ///         .ssl(client_config)
    ///         .server_hostname("localhost")
    ///         .await?;
    ///     let info = writer.tls_info().expect("a TLS stream");
    ///     assert_eq!(info.peer_certificates(), [pinned]); // the leaf, and no more
    ///     writer.close();
    ///     server.close();
    ///     Ok::<_, asyncio::Error>(())
    /// })??;
    /// # Ok::<_, Box<dyn std::error::Error>>(())
    /// ```
    pub fn peer_certificates(&self) -> &[Vec<u8>] {
        &self.peer_certificates
    }

    /// Whether the handshake resumed an earlier session (Python's `SSLObject.session_reused`).
    /// See [`Transport::session_resumed`](crate::Transport::session_resumed) for when a client
    /// resumes.
    ///
    /// # Examples
    ///
    /// One client configuration, two connections: the second resumes.
    ///
    /// ```
    /// # use asyncio::tls::rustls;
    /// # let made = rcgen::generate_simple_self_signed(vec!["localhost".into()]).unwrap();
    /// # let cert = made.cert.der().clone();
    /// # let key = rustls::pki_types::PrivatePkcs8KeyDer::from(made.key_pair.serialize_der());
    /// # let server_config = rustls::ServerConfig::builder()
    /// #     .with_no_client_auth()
    /// #     .with_single_cert(vec![cert.clone()], key.into())
    /// #     .unwrap();
    /// # let mut roots = rustls::RootCertStore::empty();
    /// # roots.add(cert.clone()).unwrap();
    /// let client_config = std::sync::Arc::new(
    ///     rustls::ClientConfig::builder().with_root_certificates(roots).with_no_client_auth(),
    /// );
    /// asyncio::run(async move {
    ///     let hi = |_r: asyncio::StreamReader, w: asyncio::StreamWriter| {
    ///         w.write(b"hi")?; // the session ticket travels with the first data
    ///         w.close();
    ///         Ok::<_, asyncio::Error>(())
    ///     };
    ///     let server = asyncio::start_server(hi, "127.0.0.1", 0).ssl(server_config).await?;
    ///     let port = server.sockets()[0].port().unwrap();
    ///     let mut reused = Vec::new();
    ///     for _ in 0..2 {
    ///         let (reader, writer) = asyncio::open_connection("127.0.0.1", port)
    ///             .ssl(client_config.clone())
    ///             .server_hostname("localhost")
    ///             .await?;
    ///         reader.read(-1).await?;
    ///         reused.push(writer.tls_info().map(|i| i.session_reused()));
    ///     }
    ///     assert_eq!(reused, [Some(false), Some(true)]);
    ///     server.close();
    ///     Ok::<_, asyncio::Error>(())
    /// })??;
    /// # Ok::<_, asyncio::Error>(())
    /// ```
    pub fn session_reused(&self) -> bool {
        self.resumed
    }
}

impl std::fmt::Display for TlsInfo {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(
            f,
            "{} {} ({} bits)",
            self.version, self.cipher, self.cipher_bits
        )?;
        if let Some(a) = &self.alpn_protocol {
            write!(f, " alpn={}", String::from_utf8_lossy(a))?;
        }
        if let Some(n) = &self.server_name {
            write!(f, " server_name={n}")?;
        }
        write!(f, " peer_certificates={}", self.peer_certificates.len())?;
        if self.resumed {
            f.write_str(" resumed")?;
        }
        Ok(())
    }
}

/// rustls' suite → OpenSSL's name and the secret bits (T43), for the suites rustls' ring
/// provider offers.
fn openssl_name(suite: CipherSuite) -> (Option<&'static str>, u32) {
    use CipherSuite::*;
    match suite {
        TLS13_AES_128_GCM_SHA256 => (Some("TLS_AES_128_GCM_SHA256"), 128),
        TLS13_AES_256_GCM_SHA384 => (Some("TLS_AES_256_GCM_SHA384"), 256),
        TLS13_CHACHA20_POLY1305_SHA256 => (Some("TLS_CHACHA20_POLY1305_SHA256"), 256),
        TLS_ECDHE_ECDSA_WITH_AES_128_GCM_SHA256 => (Some("ECDHE-ECDSA-AES128-GCM-SHA256"), 128),
        TLS_ECDHE_ECDSA_WITH_AES_256_GCM_SHA384 => (Some("ECDHE-ECDSA-AES256-GCM-SHA384"), 256),
        TLS_ECDHE_ECDSA_WITH_CHACHA20_POLY1305_SHA256 => {
            (Some("ECDHE-ECDSA-CHACHA20-POLY1305"), 256)
        }
        TLS_ECDHE_RSA_WITH_AES_128_GCM_SHA256 => (Some("ECDHE-RSA-AES128-GCM-SHA256"), 128),
        TLS_ECDHE_RSA_WITH_AES_256_GCM_SHA384 => (Some("ECDHE-RSA-AES256-GCM-SHA384"), 256),
        TLS_ECDHE_RSA_WITH_CHACHA20_POLY1305_SHA256 => (Some("ECDHE-RSA-CHACHA20-POLY1305"), 256),
        _ => (None, 0),
    }
}

#[cfg(test)]
thread_local! {
    /// How many server engines this thread has built: unit tests count them per connection.
    pub(crate) static SERVERS_BUILT: std::cell::Cell<usize> = const { std::cell::Cell::new(0) };
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn t43_suite_names_follow_openssl() {
        assert_eq!(
            openssl_name(CipherSuite::TLS13_AES_256_GCM_SHA384),
            (Some("TLS_AES_256_GCM_SHA384"), 256)
        );
        assert_eq!(
            openssl_name(CipherSuite::TLS_ECDHE_RSA_WITH_AES_128_GCM_SHA256),
            (Some("ECDHE-RSA-AES128-GCM-SHA256"), 128)
        );
        assert_eq!(openssl_name(CipherSuite::TLS_NULL_WITH_NULL_NULL).0, None);
    }

    /// A self-signed certificate for `localhost`, its key, and a client engine for
    /// `localhost` that trusts it.
    fn localhost_cert_and_client() -> (
        rustls::pki_types::CertificateDer<'static>,
        rustls::pki_types::PrivatePkcs8KeyDer<'static>,
        Engine,
    ) {
        let made = rcgen::generate_simple_self_signed(vec!["localhost".into()]).unwrap();
        let cert = made.cert.der().clone();
        let key = rustls::pki_types::PrivatePkcs8KeyDer::from(made.key_pair.serialize_der());
        let mut roots = rustls::RootCertStore::empty();
        roots.add(cert.clone()).unwrap();
        let client_config = ClientConfig::builder()
            .with_root_certificates(roots)
            .with_no_client_auth();
        let name = ServerName::try_from("localhost").unwrap();
        let client = Engine::client(Arc::new(client_config), name).unwrap();
        (cert, key, client)
    }

    /// A client and a server engine for `localhost`, their handshake done in memory.
    fn connected_pair() -> (Engine, Engine) {
        let (cert, key, mut client) = localhost_cert_and_client();
        let server_config = ServerConfig::builder()
            .with_no_client_auth()
            .with_single_cert(vec![cert], key.into())
            .unwrap();
        let mut server = Engine::server(Arc::new(server_config)).unwrap();
        let mut done = (false, false);
        for _ in 0..10 {
            let mut wire = Vec::new();
            client.flush(&mut wire);
            server.feed(&wire);
            done.1 = server.do_handshake().unwrap();
            wire.clear();
            server.flush(&mut wire);
            client.feed(&wire);
            done.0 = client.do_handshake().unwrap();
            if done == (true, true) {
                return (client, server);
            }
        }
        panic!("no handshake in 10 rounds: {done:?}");
    }

    /// The watch finds a close_notify (at either level) or a sealed TLS 1.2 alert (whose
    /// description it cannot read) wherever the stream is split, after other records, and
    /// nothing else: another plaintext alert, an application-data record as long as a sealed
    /// alert, or a close_notify's bytes inside another record's body.
    #[test]
    fn close_watch_finds_a_close_notify_across_any_split() {
        let hello = [0x16, 3, 1, 0, 4, 0x15, 3, 3, 0];
        let warning = [0x15, 3, 3, 0, 2, 1, 0];
        let fatal = [0x15, 3, 3, 0, 2, 2, 0];
        let other_alert = [0x15, 3, 3, 0, 2, 1, 90];
        let mut sealed = vec![0x15, 3, 3, 0, 26];
        sealed.extend([0u8; 26]);
        let mut data = sealed.clone();
        data[0] = 0x17;
        let cases: [(Vec<u8>, bool); 9] = [
            ([&hello[..], &warning].concat(), true),
            ([&hello[..], &fatal].concat(), true),
            ([&hello[..], &other_alert, &warning].concat(), true),
            ([&hello[..], &other_alert].concat(), false),
            ([&hello[..], &sealed].concat(), true),
            ([&hello[..], &data, &other_alert, &sealed].concat(), true),
            ([&hello[..], &data, &other_alert].concat(), false),
            // A sealed alert short of its last byte: not yet (it may be a fatal one).
            ([&hello[..], &sealed[..sealed.len() - 1]].concat(), false),
            ([&hello[..], &data, &sealed[..6]].concat(), false),
        ];
        for (stream, close) in &cases {
            for a in 0..=stream.len() {
                for b in a..=stream.len() {
                    let mut w = CloseWatch::default();
                    for part in [&stream[..a], &stream[a..b], &stream[b..]] {
                        w.scan(part);
                    }
                    assert_eq!(w.seen(), *close, "{stream:02x?} split at {a}, {b}");
                }
            }
        }
    }

    /// A rustls TLS 1.2 server driven by hand against our client engine, up to its last
    /// flight; then, in place of its Finished, an alert at `level` (1 warning, 2 fatal) and
    /// `description`, sealed under the agreed keys as the first record under them. Returns
    /// the client and the server's bytes: the flight up to its ChangeCipherSpec, the sealed
    /// alert.
    fn client_and_sealed_alert(level: u8, description: u8) -> (Engine, Vec<u8>, Vec<u8>) {
        use rustls::crypto::cipher::{OutboundChunks, OutboundPlainMessage};
        use rustls::{ConnectionTrafficSecrets as Keys, SupportedCipherSuite};
        let (cert, key, mut client) = localhost_cert_and_client();
        let mut server_config =
            ServerConfig::builder_with_protocol_versions(&[&rustls::version::TLS12])
                .with_no_client_auth()
                .with_single_cert(vec![cert], key.into())
                .unwrap();
        server_config.enable_secret_extraction = true;
        let mut server = ServerConnection::new(Arc::new(server_config)).unwrap();
        let mut wire = Vec::new();
        for _ in 0..10 {
            wire.clear();
            client.flush(&mut wire);
            server.read_tls(&mut &wire[..]).unwrap();
            server.process_new_packets().unwrap();
            wire.clear();
            while server.wants_write() {
                server.write_tls(&mut wire).unwrap();
            }
            if !server.is_handshaking() {
                break;
            }
            client.feed(&wire);
            assert!(
                !client.do_handshake().unwrap(),
                "done before the last flight"
            );
        }
        assert!(!server.is_handshaking(), "no handshake in 10 rounds");
        let mut at = 0; // the end of the ChangeCipherSpec record
        while wire[at] != 0x14 {
            at += 5 + usize::from(u16::from_be_bytes([wire[at + 3], wire[at + 4]]));
        }
        wire.truncate(at + 6);
        let Some(SupportedCipherSuite::Tls12(suite)) = server.negotiated_cipher_suite() else {
            panic!("TLS 1.2 was negotiated");
        };
        let (Keys::Aes128Gcm { key, iv }
        | Keys::Aes256Gcm { key, iv }
        | Keys::Chacha20Poly1305 { key, iv }) = server.dangerous_extract_secrets().unwrap().tx.1
        else {
            panic!("a known AEAD");
        };
        let fixed = suite.aead_alg.key_block_shape().fixed_iv_len;
        let (fixed_iv, explicit) = iv.as_ref().split_at(fixed);
        let alert = suite
            .aead_alg
            .encrypter(key, fixed_iv, explicit)
            .encrypt(
                OutboundPlainMessage {
                    typ: rustls::ContentType::Alert,
                    version: ProtocolVersion::TLSv1_2,
                    payload: OutboundChunks::Single(&[level, description]),
                },
                0,
            )
            .unwrap()
            .encode();
        (client, wire, alert)
    }

    /// T8, T10: a sealed TLS 1.2 alert in place of the server's Finished, split across two
    /// feeds anywhere: a fatal one fails the handshake as that alert once whole, never as
    /// a close_notify; a close_notify (warning) fails it as the close once whole. Before, the
    /// watch counted a sealed alert as a close_notify from its header on: a fatal one split
    /// after its header failed the handshake as a close (checked by reverting the fix).
    #[test]
    fn a_sealed_tls12_alert_split_across_feeds_counts_only_once_whole() {
        let handshake_failure = 40;
        for (level, description) in [(2, handshake_failure), (1, 0)] {
            let alert_len = client_and_sealed_alert(level, description).2.len();
            for split in [0, 1, 4, 5, 6, alert_len / 2, alert_len - 1] {
                let (mut client, flight, alert) = client_and_sealed_alert(level, description);
                client.feed(&[&flight[..], &alert[..split]].concat());
                let first = client.do_handshake().map_err(|e| e.to_string());
                assert_eq!(
                    first,
                    Ok(false),
                    "alert {level}/{description} split at {split}"
                );
                client.feed(&alert[split..]);
                let e = match client.do_handshake() {
                    Err(e) => e.to_string(),
                    Ok(done) => panic!("the handshake went on ({done}) after the alert"),
                };
                let expected = match level {
                    2 => "alert handshake failure",
                    _ => "TLS/SSL connection has been closed (EOF)",
                };
                assert!(e.contains(expected), "split at {split}: {e}");
            }
        }
    }

    /// A handshake message too large for rustls to take in (a ServerHello claiming 64 KiB,
    /// sent in full records) reads in plain words, not as rustls' "unexpected error:
    /// message buffer full".
    #[test]
    fn t8_an_oversized_handshake_message_is_told_in_plain_words() {
        let (_, _, mut client) = localhost_cert_and_client();
        let mut wire = Vec::new();
        client.flush(&mut wire); // its ClientHello, unanswered
        let mut body = vec![2u8, 0, 0xff, 0xff]; // ServerHello of 65535 bytes
        body.resize(0xffff + 4, 0);
        for chunk in body.chunks(16 * 1024) {
            let len = chunk.len() as u16;
            client.feed(&[22, 3, 3, (len >> 8) as u8, len as u8]);
            client.feed(chunk);
        }
        let e = client.do_handshake().expect_err("too large").to_string();
        assert_eq!(
            e,
            "excessive message size: the peer sent a TLS handshake message larger than this \
             side accepts (64 KiB at most)"
        );
        assert!(client.do_handshake().is_err(), "sticky");
    }

    /// `data` sealed by `from` as records.
    fn seal(from: &mut Engine, data: &[u8]) -> Vec<u8> {
        let mut wire = Vec::new();
        assert_eq!(from.write(data, &mut wire).unwrap(), data.len());
        wire
    }

    /// T25: a record that does not decrypt, arriving after our close_notify, is a TLS error
    /// of the shutdown, sticky, not a panic (rustls' debug assertion, issue #959); the
    /// peer's close_notify after nothing else ends the shutdown as usual.
    #[test]
    fn t25_a_bad_record_after_our_close_notify_is_an_error_not_a_panic() {
        let (mut client, _server) = connected_pair();
        assert!(
            !client.shutdown().unwrap(),
            "waits for the peer's close_notify"
        );
        let mut record = vec![0x17, 3, 3, 0, 32];
        record.extend([0x5a; 32]);
        client.feed(&record);
        let Err(Error::Tls(e)) = client.shutdown() else {
            panic!("the bad record must fail the shutdown");
        };
        assert_eq!(
            e.to_string(),
            "the peer sent data that is not valid TLS after this side had begun to close the \
             connection (its close_notify sent)"
        );
        assert!(client.shutdown().is_err(), "sticky");

        let (mut client, mut server) = connected_pair();
        assert!(!client.shutdown().unwrap());
        let mut wire = Vec::new();
        server.shutdown().unwrap();
        server.flush(&mut wire);
        client.feed(&wire);
        assert!(client.shutdown().unwrap(), "the peer's close_notify came");
    }

    /// T25: application data the peer sends after our close_notify, before its own, fails the
    /// shutdown with a sticky TLS error, as OpenSSL's `SSL_shutdown` fails with
    /// APPLICATION_DATA_AFTER_CLOSE_NOTIFY (CPython 3.11: connection_lost gets that
    /// SSLError), even when its close_notify follows in the same batch. Before, the data was
    /// dropped and the shutdown ended cleanly. Plaintext decrypted before our close_notify
    /// and not read is still dropped quietly.
    #[test]
    fn t25_application_data_after_our_close_notify_fails_the_shutdown() {
        let (mut client, mut server) = connected_pair();
        client.feed(&seal(&mut server, b"sent before our close, never read"));
        let mut buf = [0u8; 4];
        let _ = client.read_into(&mut buf); // decrypted, mostly left unread
        assert!(
            !client.shutdown().unwrap(),
            "unread data is dropped quietly"
        );
        let mut wire = seal(&mut server, b"late data");
        server.shutdown().unwrap();
        server.flush(&mut wire); // its close_notify right behind the data
        client.feed(&wire);
        let Err(Error::Tls(e)) = client.shutdown() else {
            panic!("data after our close_notify must fail the shutdown");
        };
        assert!(
            e.to_string()
                .starts_with("application data after close notify"),
            "{e}"
        );
        assert!(client.shutdown().is_err(), "sticky");
    }

    /// T46: the engine is the MemoryBIO pair. Fed ciphertext waits in our queue, counted as
    /// pending, until a read asks for it; a partial record is SSLWantReadError (`WouldBlock`),
    /// not an error; the peer's close_notify is `read()`'s `b''` (`Closed`); and an error is
    /// sticky, as rustls' are.
    #[test]
    fn t46_the_engine_is_a_memory_bio_pair() {
        let (mut client, mut server) = connected_pair();
        // The server's session tickets: taken in, no plaintext.
        let mut buf = [0u8; 64];
        assert!(matches!(
            client.read_into(&mut buf),
            (0, ReadEnd::WouldBlock)
        ));
        let wire = seal(&mut server, b"hello");
        client.feed(&wire[..3]);
        assert_eq!(
            client.pending_ciphertext(),
            3,
            "fed, not yet handed to rustls"
        );
        assert!(
            matches!(client.read_into(&mut buf), (0, ReadEnd::WouldBlock)),
            "a partial record: want read"
        );
        client.feed(&wire[3..]);
        assert_eq!(client.pending_ciphertext(), wire.len() - 3);
        let (n, end) = client.read_into(&mut buf);
        assert_eq!(&buf[..n], b"hello");
        assert!(matches!(end, ReadEnd::WouldBlock), "{end:?}");
        assert_eq!(client.pending_ciphertext(), 0);
        // close_notify: read() returns b''.
        assert!(!server.shutdown().unwrap(), "the server waits for ours");
        let mut wire = Vec::new();
        server.flush(&mut wire);
        client.feed(&wire);
        assert!(matches!(client.read_into(&mut buf), (0, ReadEnd::Closed)));
        assert!(client.close_notify_received());
        // Garbage: an error, and the same error on every later step.
        let (mut client, _server) = connected_pair();
        client.feed(&[0x17, 0x03, 0x03, 0x00, 0x05, 1, 2, 3, 4, 5]);
        let first = match client.read_into(&mut buf) {
            (0, ReadEnd::Failed(e)) => e.to_string(),
            other => panic!("{other:?}"),
        };
        match client.read_into(&mut buf) {
            (0, ReadEnd::Failed(e)) => assert_eq!(e.to_string(), first, "sticky"),
            other => panic!("{other:?}"),
        }
        assert!(client.shutdown().is_err(), "sticky for every step");
    }
}
