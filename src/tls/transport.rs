//! `TlsTransport`: the transport the application sees over TLS.
//!
//! Mirrors `_SSLProtocolTransport` in CPython `Lib/asyncio/sslproto.py`: every call forwards
//! to the [`TlsProtocol`] that made it (T6); `close` starts the close_notify exchange (T22),
//! `abort` drops everything (T26), `write_eof` is unsupported (S44). It also answers the TLS
//! keys of `get_extra_info` (T31, T41–T43) and forwards the rest to the raw transport while
//! connected. Ground rules: it holds the layer weakly (the layer owns it, as Python's
//! `_app_transport`), so after the connection is gone every call is a harmless no-op; it keeps
//! its own copy of what the handshake settled, which outlives the connection.

use std::cell::{Cell, RefCell};
use std::io::IoSlice;
use std::rc::{Rc, Weak};

use super::config::TlsContext;
use super::engine::TlsInfo;
use super::protocol::TlsProtocol;
use crate::constants::LOG_THRESHOLD_FOR_CONNLOST_WRITES;
use crate::error::Error;
use crate::event_loop::LoopHandle;
use crate::protocol::ProtocolRef;
use crate::transport::flow_control::FlowControl;
use crate::transport::{ExtraInfo, Transport, TransportImpl};

/// The application's transport over one TLS connection (Python's `_SSLProtocolTransport`).
pub(crate) struct TlsTransport {
    lp: LoopHandle,
    /// The layer; gone once the raw transport has dropped it after connection_lost.
    proto: Weak<TlsProtocol>,
    /// `close()`/`abort()` was called or the connection is lost (Python's `_closed`).
    closed: Cell<bool>,
    /// What the handshake settled; `None` before it completed.
    info: RefCell<Option<Rc<TlsInfo>>>,
    /// The peer's close_notify was received (D9: a clean end, not a truncation).
    close_notify: Cell<bool>,
    /// The configuration the connection runs with (`sslcontext`, T40).
    context: TlsContext,
    /// The raw transport's id, once connected (log naming).
    id: Cell<u64>,
    /// The raw transport's `peername`, read once connected, for failure reports only: the
    /// layer lets go of the raw transport with the loss, after which `get_extra_info` answers
    /// no raw key (T31), yet a report made then (a handler that failed on a reset, S60)
    /// still names the client, as on a plain socket.
    peername: RefCell<Option<ExtraInfo>>,
    /// Writes dropped so far (T11), counted here from the connection's loss on, when the layer
    /// may be gone: the layer's count then, bumped by each later write. `None` while the
    /// layer counts them.
    lost_writes: Cell<Option<usize>>,
    /// The write-buffer marks `(low, high)` from the connection's loss on, when the layer that
    /// kept them may be gone: they stay readable and settable, as a socket transport's do
    /// (CPython's `SSLProtocol` keeps its marks). `None` while the layer keeps them.
    marks_after_loss: Cell<Option<(usize, usize)>>,
}

impl TlsTransport {
    pub(crate) fn new(
        lp: &LoopHandle,
        proto: Weak<TlsProtocol>,
        context: TlsContext,
    ) -> Rc<TlsTransport> {
        Rc::new(TlsTransport {
            lp: lp.clone(),
            proto,
            closed: Cell::new(false),
            info: RefCell::new(None),
            close_notify: Cell::new(false),
            context,
            id: Cell::new(0),
            peername: RefCell::new(None),
            lost_writes: Cell::new(None),
            marks_after_loss: Cell::new(None),
        })
    }

    pub(crate) fn set_info(&self, info: TlsInfo) {
        *self.info.borrow_mut() = Some(Rc::new(info));
    }

    /// Connected over `raw`: its id, and its peer's address while it can be read.
    pub(crate) fn set_raw(&self, raw: &Transport) {
        self.id.set(raw.id());
        *self.peername.borrow_mut() = raw.get_extra_info("peername");
    }

    pub(crate) fn mark_closed(&self) {
        self.closed.set(true);
    }

    /// The connection is lost; `dropped` writes (the loss included) were counted so far, and
    /// `marks` are the layer's write-buffer marks `(low, high)`, kept from now on. Lost
    /// because the loop closed under it, the count starts again at 0, and the first write
    /// after is warned about at once, as on a plain stream (`WritePath::dropped_write`).
    pub(crate) fn mark_lost(&self, dropped: usize, marks: (usize, usize)) {
        self.closed.set(true);
        self.marks_after_loss.set(Some(marks));
        let dropped = if self.lp.is_closed() { 0 } else { dropped };
        self.lost_writes.set(Some(dropped));
    }

    /// A write after the loss (T11): dropped, and warned about once the count has reached 5,
    /// as the layer would (`TlsProtocol::write_appdata`), which may be gone by now. `false`
    /// while the layer takes the writes.
    fn dropped_after_loss(&self) -> bool {
        let Some(n) = self.lost_writes.get() else {
            return false;
        };
        if n >= LOG_THRESHOLD_FOR_CONNLOST_WRITES {
            crate::event_loop::debug::warning!("SSL connection is closed");
        } else if n == 0 && self.lp.is_closed() {
            let stream = crate::transport::write_path::Sender::Stream;
            crate::transport::write_path::warn_write_after_loop_closed(self.id.get(), stream);
        }
        self.lost_writes.set(Some(n.saturating_add(1)));
        true
    }

    /// `close()` or `abort()` was called, or the connection is lost.
    pub(crate) fn is_closed(&self) -> bool {
        self.closed.get()
    }

    pub(crate) fn set_close_notify_received(&self) {
        self.close_notify.set(true);
    }

    fn proto(&self) -> Option<Rc<TlsProtocol>> {
        self.proto.upgrade()
    }

    fn tls_key(&self, name: &str) -> Option<Option<ExtraInfo>> {
        let info = self.info.borrow().clone();
        let text = |s: &str| Some(ExtraInfo::Text(s.to_string()));
        Some(match name {
            // The handle itself: `Transport::tls_context`.
            "sslcontext" => text(match self.context {
                TlsContext::Client(_) => "rustls::ClientConfig",
                TlsContext::Server(_) => "rustls::ServerConfig",
            }),
            "close_notify_received" => text(if self.close_notify.get() {
                "true"
            } else {
                "false"
            }),
            "compression" => None, // T44: rustls has no TLS compression
            "peercert" => info?
                .peer_certificates
                .first()
                .map(|c| ExtraInfo::Bytes(c.clone())),
            "peercert_chain" => {
                let info = info?;
                if info.peer_certificates.is_empty() {
                    None
                } else {
                    Some(ExtraInfo::Bytes(info.peer_certificates.concat()))
                }
            }
            "cipher" => text(&info?.cipher),
            "version" => text(info?.version),
            "alpn_protocol" => info?
                .alpn_protocol
                .as_ref()
                .map(|a| match std::str::from_utf8(a) {
                    Ok(s) => ExtraInfo::Text(s.to_string()),
                    Err(_) => ExtraInfo::Bytes(a.clone()),
                }),
            "server_hostname" => info?.server_name.clone().map(ExtraInfo::Text),
            "ssl_object" => text(&info?.to_string()),
            // Python: `get_extra_info("ssl_object").session_reused`.
            "ssl_session_resumed" => text(if info?.resumed { "true" } else { "false" }),
            _ => return None,
        })
    }
}

impl TransportImpl for TlsTransport {
    fn write(&self, data: &[u8]) -> Result<(), Error> {
        if data.is_empty() || self.dropped_after_loss() {
            return Ok(());
        }
        if let Some(p) = self.proto() {
            p.write_appdata(&[data]);
        }
        Ok(())
    }

    fn writelines_other(&self, chunks: &[IoSlice<'_>]) -> Result<(), Error> {
        // Unlike `write(b"")`, every `writelines` reaches the layer, empty or not, and is
        // counted once dropped: CPython's passes its list to `_write_appdata` as it is.
        if self.dropped_after_loss() {
            return Ok(());
        }
        if let Some(p) = self.proto() {
            let chunks: Vec<&[u8]> = chunks
                .iter()
                .map(|c| &**c)
                .filter(|c| !c.is_empty())
                .collect();
            p.write_appdata(&chunks);
        }
        Ok(())
    }

    fn write_eof_other(&self) -> Result<(), Error> {
        Err(Error::Unsupported(
            "write_eof() is not supported over TLS (TLS has no half-close)".into(),
        ))
    }

    fn can_write_eof(&self) -> bool {
        false
    }

    fn close(&self) {
        if !self.closed.replace(true) {
            if let Some(p) = self.proto() {
                p.start_shutdown();
            }
        }
    }

    fn abort(&self) {
        self.closed.set(true);
        if let Some(p) = self.proto() {
            p.abort();
        }
    }

    fn is_closing(&self) -> bool {
        // T27 (gh-118950): a closing raw transport makes us closing too.
        self.closed.get() || self.proto().is_none_or(|p| p.raw_is_closing())
    }

    fn pause_reading(&self) {
        if let Some(p) = self.proto() {
            p.pause_reading();
        }
    }

    fn resume_reading(&self) {
        if let Some(p) = self.proto() {
            p.resume_reading();
        }
    }

    fn is_reading(&self) -> bool {
        // Deliberately not CPython's answer: its `_SSLProtocolTransport.is_reading` reports
        // the app's pause flag alone (True after close() and after the loss), where its socket
        // transport, like every transport of ours, says "not closing and not paused"
        // (`Transport::is_reading`'s contract, L79). Paused or not is the flag (T17); closing
        // is `is_closing`'s answer, a closing raw transport included (T27).
        !self.is_closing() && self.proto().is_some_and(|p| p.is_reading())
    }

    fn set_write_buffer_limits_other(
        &self,
        high: Option<usize>,
        low: Option<usize>,
    ) -> Result<(), Error> {
        let default_high = super::FLOW_CONTROL_HIGH_WATER_SSL_WRITE;
        if self.marks_after_loss.get().is_some() {
            let (high, low) = FlowControl::marks(high, low, default_high)?;
            self.marks_after_loss.set(Some((low, high)));
            return Ok(());
        }
        match self.proto() {
            Some(p) => p.set_write_buffer_limits(high, low),
            None => FlowControl::marks(high, low, default_high).map(drop),
        }
    }

    fn get_write_buffer_size(&self) -> usize {
        self.proto().map_or(0, |p| p.write_buffer_size())
    }

    fn get_write_buffer_limits(&self) -> (usize, usize) {
        if let Some(marks) = self.marks_after_loss.get() {
            return marks;
        }
        self.proto().map_or(
            (
                super::FLOW_CONTROL_HIGH_WATER_SSL_WRITE / 4,
                super::FLOW_CONTROL_HIGH_WATER_SSL_WRITE,
            ),
            |p| p.write_buffer_limits(),
        )
    }

    fn tls_state(&self) -> Option<(TlsContext, Option<Rc<TlsInfo>>)> {
        Some((self.context.clone(), self.info.borrow().clone()))
    }

    fn tls_layer(&self) -> Option<Rc<TlsProtocol>> {
        self.proto()
    }

    fn get_extra_info(&self, name: &str) -> Option<ExtraInfo> {
        match self.tls_key(name) {
            Some(v) => v,
            None => self.proto()?.raw_extra_info(name),
        }
    }

    fn peername_for_reports(&self) -> Option<ExtraInfo> {
        self.get_extra_info("peername")
            .or_else(|| self.peername.borrow().clone())
    }

    fn set_protocol_other(&self, protocol: ProtocolRef) -> Result<(), Error> {
        match self.proto() {
            Some(p) => p.set_app_protocol(protocol),
            None => Ok(()),
        }
    }

    fn get_protocol(&self) -> Option<ProtocolRef> {
        // None once the connection is lost: the layer lets go of the app protocol then (as
        // CPython's `SSLProtocol.connection_lost` drops `_app_protocol`, and as our socket
        // transport drops its own, L82), so a closed connection keeps no protocol alive.
        self.proto()?.app_protocol()
    }

    fn get_loop(&self) -> LoopHandle {
        self.lp.clone()
    }

    fn id(&self) -> u64 {
        self.id.get()
    }

    fn writing_paused(&self) -> bool {
        self.proto().is_some_and(|p| p.writing_paused())
    }

    fn kernel_unsent_other(&self) -> Option<usize> {
        self.proto()?.kernel_unsent()
    }

    fn unsent_mark_other(&self) -> usize {
        self.proto().map_or(0, |p| p.unsent_mark())
    }

    fn proxy_header(&self) -> Option<std::rc::Rc<crate::proxy_protocol::ProxyHeader>> {
        self.proto()?.raw()?.proxy_header()
    }
}

impl Drop for TlsTransport {
    fn drop(&mut self) {
        // T39: warned, not shut down. Only a transport the app was given, which is after the
        // handshake: a layer dropped before (a start_tls refused before it began) had no user.
        if !self.closed.get() && self.info.get_mut().is_some() {
            crate::event_loop::debug::warning!(
                "unclosed transport <asyncio._SSLProtocolTransport object>"
            );
        }
    }
}

/// Typed forms of the TLS `get_extra_info` keys. On a plain transport they return `None`,
/// empty or `false`.
impl Transport {
    /// What the TLS handshake settled (Python's `get_extra_info("ssl_object")`, read-only):
    /// `None` on a plain transport or before the handshake. [`TlsInfo`] shows every field.
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
    ///     let info = writer.transport().tls_info().expect("a TLS transport");
    ///     assert_eq!(info.server_hostname(), Some("localhost"));
    ///     let (a, _b) = asyncio::socketpair()?;
    ///     let (_r, plain) = asyncio::open_connection_sock(a).await?;
    ///     assert!(plain.transport().tls_info().is_none());
    ///     writer.close();
    ///     server.close();
    ///     Ok::<_, asyncio::Error>(())
    /// })??;
    /// # Ok::<_, asyncio::Error>(())
    /// ```
    pub fn tls_info(&self) -> Option<TlsInfo> {
        self.settled().map(|info| (*info).clone())
    }

    /// The configuration the TLS connection runs with (Python's
    /// `get_extra_info("sslcontext")`, the `SSLContext`): the `Arc` given to `ssl(..)`, or the
    /// default client configuration of `ssl(true)`. `None` on a plain transport.
    ///
    /// # Examples
    ///
    /// ```
    /// # use std::sync::Arc;
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
    /// use asyncio::tls::TlsContext;
    ///
    /// let client_config = Arc::new(
    ///     rustls::ClientConfig::builder()
    ///         .with_root_certificates(roots)
    ///         .with_no_client_auth(),
    /// );
    /// asyncio::run(async move {
    ///     let noop = |_r: asyncio::StreamReader, w: asyncio::StreamWriter| w.close();
    ///     let server = asyncio::start_server(noop, "127.0.0.1", 0).ssl(server_config).await?;
    ///     let port = server.sockets()[0].port().unwrap();
    ///     let (_reader, writer) = asyncio::open_connection("127.0.0.1", port)
    ///         .ssl(client_config.clone())
    ///         .server_hostname("localhost")
    ///         .await?;
    ///     match writer.transport().tls_context() {
    ///         Some(TlsContext::Client(c)) => assert!(Arc::ptr_eq(&c, &client_config)),
    ///         other => panic!("{other:?}"),
    ///     }
    ///     writer.close();
    ///     server.close();
    ///     Ok::<_, asyncio::Error>(())
    /// })??;
    /// # Ok::<_, asyncio::Error>(())
    /// ```
    // Checklist: T40.
    pub fn tls_context(&self) -> Option<TlsContext> {
        self.inner.tls_state().map(|(context, _)| context)
    }

    /// The peer's certificate chain, DER, leaf first (`get_extra_info("peercert_chain")`):
    /// Python's `getpeercert(binary_form=True)` for the leaf, plus the intermediates.
    /// Empty when the peer sent none (a client without a certificate) or before the handshake.
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
    ///     let t = writer.transport();
    ///     assert_eq!(t.peer_certificates().len(), 1); // the server's self-signed leaf
    ///     assert_eq!(t.tls_version().as_deref(), Some("TLSv1.3"));
    ///     assert!(t.cipher_suite().unwrap().starts_with("TLS_"));
    ///     assert_eq!(t.alpn_protocol(), None); // none configured
    ///     writer.close();
    ///     server.close();
    ///     Ok::<_, asyncio::Error>(())
    /// })??;
    /// # Ok::<_, asyncio::Error>(())
    /// ```
    // Checklist: T42.
    pub fn peer_certificates(&self) -> Vec<Vec<u8>> {
        self.settled()
            .map(|i| i.peer_certificates.clone())
            .unwrap_or_default()
    }

    /// The negotiated cipher suite in OpenSSL's spelling, e.g. `TLS_AES_256_GCM_SHA384`
    /// (`get_extra_info("cipher")`).
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
    ///     let suite = writer.transport().cipher_suite().unwrap();
    ///     assert!(suite.starts_with("TLS_"), "{suite}"); // a TLS 1.3 suite
    ///     writer.close();
    ///     server.close();
    ///     Ok::<_, asyncio::Error>(())
    /// })??;
    /// # Ok::<_, asyncio::Error>(())
    /// ```
    // Checklist: T43.
    pub fn cipher_suite(&self) -> Option<String> {
        self.settled().map(|i| i.cipher.clone())
    }

    /// `"TLSv1.3"` or `"TLSv1.2"` (`get_extra_info("version")`).
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
    ///     assert_eq!(writer.transport().tls_version().as_deref(), Some("TLSv1.3"));
    ///     writer.close();
    ///     server.close();
    ///     Ok::<_, asyncio::Error>(())
    /// })??;
    /// # Ok::<_, asyncio::Error>(())
    /// ```
    pub fn tls_version(&self) -> Option<String> {
        self.settled().map(|i| i.version.to_string())
    }

    /// The ALPN protocol agreed, if any (`get_extra_info("alpn_protocol")`).
    ///
    /// # Examples
    ///
    /// ```
    /// # use asyncio::tls::rustls;
    /// # let made = rcgen::generate_simple_self_signed(vec!["localhost".into()]).unwrap();
    /// # let cert = made.cert.der().clone();
    /// # let key = rustls::pki_types::PrivatePkcs8KeyDer::from(made.key_pair.serialize_der());
    /// # let mut server_config = rustls::ServerConfig::builder()
    /// #     .with_no_client_auth()
    /// #     .with_single_cert(vec![cert.clone()], key.into())
    /// #     .unwrap();
    /// # let mut roots = rustls::RootCertStore::empty();
    /// # roots.add(cert).unwrap();
    /// # let mut client_config = rustls::ClientConfig::builder()
    /// #     .with_root_certificates(roots)
    /// #     .with_no_client_auth();
    /// // The server prefers h2; the client offers http/1.1 and h2.
    /// server_config.alpn_protocols = vec![b"h2".to_vec(), b"http/1.1".to_vec()];
    /// client_config.alpn_protocols = vec![b"http/1.1".to_vec(), b"h2".to_vec()];
    /// asyncio::run(async move {
    ///     let noop = |_r: asyncio::StreamReader, w: asyncio::StreamWriter| w.close();
    ///     let server = asyncio::start_server(noop, "127.0.0.1", 0).ssl(server_config).await?;
    ///     let port = server.sockets()[0].port().unwrap();
    ///     let (_reader, writer) = asyncio::open_connection("127.0.0.1", port)
    ///         .ssl(client_config)
    ///         .server_hostname("localhost")
    ///         .await?;
    ///     assert_eq!(writer.transport().alpn_protocol().as_deref(), Some(&b"h2"[..]));
    ///     writer.close();
    ///     server.close();
    ///     Ok::<_, asyncio::Error>(())
    /// })??;
    /// # Ok::<_, asyncio::Error>(())
    /// ```
    pub fn alpn_protocol(&self) -> Option<Vec<u8>> {
        self.settled()?.alpn_protocol.clone()
    }

    /// Whether the peer's close_notify has been received: after EOF, `false` means the
    /// stream may have been truncated.
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
    ///     // sends close_notify
    ///     let bye = |_r: asyncio::StreamReader, w: asyncio::StreamWriter| w.close();
    ///     let server = asyncio::start_server(bye, "127.0.0.1", 0).ssl(server_config).await?;
    ///     let port = server.sockets()[0].port().unwrap();
    ///     let (reader, writer) = asyncio::open_connection("127.0.0.1", port)
    ///         .ssl(client_config)
    ///         .server_hostname("localhost")
    ///         .await?;
    ///     assert_eq!(reader.read(-1).await?, b"");
    ///     assert!(
    ///         writer.transport().close_notify_received(),
    ///         "a clean TLS close, not a truncation"
    ///     );
    ///     writer.close();
    ///     server.close();
    ///     Ok::<_, asyncio::Error>(())
    /// })??;
    /// # Ok::<_, asyncio::Error>(())
    /// ```
    // Checklist: D9.
    pub fn close_notify_received(&self) -> bool {
        text(self.get_extra_info("close_notify_received")).as_deref() == Some("true")
    }

    /// Whether the handshake resumed an earlier session instead of doing a full one
    /// (`get_extra_info("ssl_session_resumed")`; Python's `ssl_object.session_reused`).
    /// `None` on a plain transport or before the handshake.
    ///
    /// A client resumes when it connects again with the same client configuration (an
    /// `Arc<ClientConfig>` shared by the connections, or `ssl(true)`'s own, shared per thread)
    /// to a server that gave it a ticket: rustls keeps the tickets in memory on the
    /// configuration. Our TLS servers give tickets (rustls' default, stateful in-memory
    /// sessions). A ticket arrives after the handshake, with the first data from the server,
    /// so a connection that read nothing may have none to offer next time.
    ///
    /// # Examples
    ///
    /// ```
    /// # use std::sync::Arc;
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
    /// let client_config = Arc::new(
    ///     rustls::ClientConfig::builder()
    ///         .with_root_certificates(roots)
    ///         .with_no_client_auth(),
    /// );
    /// asyncio::run(async move {
    ///     let hello = |_r: asyncio::StreamReader, w: asyncio::StreamWriter| {
    ///         w.write(b"hi")?; // the session ticket travels with the first data
    ///         w.close();
    ///         Ok::<_, asyncio::Error>(())
    ///     };
    ///     let server = asyncio::start_server(hello, "127.0.0.1", 0).ssl(server_config).await?;
    ///     let port = server.sockets()[0].port().unwrap();
    ///     let mut resumed = Vec::new();
    ///     for _ in 0..2 {
    ///         let (reader, writer) = asyncio::open_connection("127.0.0.1", port)
    ///             .ssl(client_config.clone()) // one configuration: one session cache
    ///             .server_hostname("localhost")
    ///             .await?;
    ///         reader.read(-1).await?;
    ///         resumed.push(writer.transport().session_resumed());
    ///         writer.close();
    ///     }
    ///     assert_eq!(resumed, [Some(false), Some(true)]);
    ///     server.close();
    ///     Ok::<_, asyncio::Error>(())
    /// })??;
    /// # Ok::<_, asyncio::Error>(())
    /// ```
    pub fn session_resumed(&self) -> Option<bool> {
        self.settled().map(|i| i.resumed)
    }

    /// The ciphertext this TLS transport holds, received and not yet decrypted (Python's
    /// `get_read_buffer_size()` of an SSL transport): while the app's reading is paused it
    /// grows, up to the high mark of [`set_read_buffer_limits`](Self::set_read_buffer_limits).
    /// `None` on a plain transport and once the connection is lost (from the protocol's
    /// `connection_lost` on).
    // Checklist: T18.
    pub fn get_read_buffer_size(&self) -> Option<usize> {
        Some(self.inner.tls_layer()?.read_buffer_size())
    }

    /// The ciphertext read marks as `(low, high)`, Python's order: `(65536, 262144)` by
    /// default. `None` on a plain transport and once the connection is lost (from the
    /// protocol's `connection_lost` on).
    // Checklist: T18.
    pub fn get_read_buffer_limits(&self) -> Option<(usize, usize)> {
        Some(self.inner.tls_layer()?.read_buffer_limits())
    }

    /// Sets the ciphertext read marks of a TLS transport (Python's `set_read_buffer_limits`
    /// of an SSL transport): when the ciphertext held (the app's reading paused, or records
    /// arriving faster than they are decrypted) reaches `high`, the socket below stops being
    /// read until it is down to `low`. The rules of
    /// [`set_write_buffer_limits`](Self::set_write_buffer_limits) with a 256 KiB default
    /// `high`: `low` defaults to `high / 4`, `high` to `4 * low`. Applied at once: the socket
    /// is paused or resumed by the new marks now.
    ///
    /// # Errors
    ///
    /// [`Error::InvalidArgument`] when `high < low` (the text CPython's ValueError has), and
    /// [`Error::Unsupported`] on a plain transport (no TLS layer to hold ciphertext). Once
    /// the connection is lost it checks the values and changes nothing.
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
    ///     let t = writer.transport();
    ///     assert_eq!(t.get_read_buffer_limits(), Some((65536, 262144)));
    ///     t.set_read_buffer_limits(Some(16 * 1024), None)?;
    ///     assert_eq!(t.get_read_buffer_limits(), Some((4096, 16384)));
    ///     assert!(t.set_read_buffer_limits(Some(1), Some(2)).is_err());
    ///     assert_eq!(t.get_read_buffer_size(), Some(0));
    ///     writer.close();
    ///     server.close();
    ///     Ok::<_, asyncio::Error>(())
    /// })??;
    /// # Ok::<_, asyncio::Error>(())
    /// ```
    // Checklist: T18.
    pub fn set_read_buffer_limits(
        &self,
        high: Option<usize>,
        low: Option<usize>,
    ) -> Result<(), Error> {
        if let Some(layer) = self.inner.tls_layer() {
            return layer.set_read_buffer_limits(high, low);
        }
        let default_high = super::FLOW_CONTROL_HIGH_WATER_SSL_READ;
        FlowControl::marks(high, low, default_high)?;
        if self.inner.tls_state().is_none() {
            return Err(Error::Unsupported(
                "read buffer limits are a TLS transport's (the ciphertext it holds)".into(),
            ));
        }
        Ok(())
    }

    /// What the handshake settled, shared (the typed accessors read it, not the text forms).
    fn settled(&self) -> Option<Rc<TlsInfo>> {
        self.inner.tls_state()?.1
    }
}

fn text(v: Option<ExtraInfo>) -> Option<String> {
    match v {
        Some(ExtraInfo::Text(s)) => Some(s),
        _ => None,
    }
}
