//! TLS on rustls: `ssl=` for connections and servers, `start_tls`, the handshake and shutdown
//! timeouts (feature `tls`, on by default).
//!
//! Mirrors CPython `Lib/asyncio/sslproto.py` and the TLS parts of `base_events.py`
//! (`create_connection(ssl=…)`, `create_server(ssl=…)`, `start_tls`), Part T of the semantics
//! checklist. The layering is Python's:
//!
//! ```text
//!  app protocol (e.g. the streams' StreamReaderProtocol)
//!       ▲ connection_made / data_received / eof_received / connection_lost
//!       │ write / close / pause_reading …
//!  TlsTransport (transport.rs)  ◄── the app's Transport      _SSLProtocolTransport
//!  TlsProtocol  (protocol.rs)   the state machine            SSLProtocol
//!  Engine       (engine.rs)     rustls::Connection in memory MemoryBIO + SSLObject
//!       ▲ data_received (ciphertext)   │ write (ciphertext)
//!  socket transport (or another TLS transport: TLS in TLS)
//! ```
//!
//! Files: `config.rs` (contexts, roots, PEM loading, host-name rules), `engine.rs` (the only
//! caller of rustls' connection API), `protocol.rs`, `transport.rs`; this file holds the
//! per-connection options and the wiring used by `create_connection`, `create_server` and
//! [`LoopHandle::start_tls`](crate::LoopHandle::start_tls).
//!
//! Ground rules: this module works on transports and protocols only; it calls down into
//! `transport`, `protocol` and `event_loop` and never up into `streams`. The stream-level
//! `StreamWriter.start_tls` lives with the writer and awaits [`StartTls`], as CPython's
//! `streams.py` awaits `loop.start_tls`.
//!
//! ## Certificates that work
//!
//! A server certificate must be a leaf (not a CA) and list its names in subjectAltName; the
//! common name is not used. For a self-signed test certificate:
//!
//! ```text
//! openssl req -x509 -newkey rsa:2048 -nodes -keyout key.pem -out cert.pem -days 365 \
//!     -subj /CN=localhost -addext basicConstraints=critical,CA:FALSE \
//!     -addext subjectAltName=DNS:localhost,IP:127.0.0.1
//! ```
//!
//! and give `cert.pem` to the client as its trust anchor ([`client_config_with_roots`]). The
//! same command without the two `-addext` (openssl's default CA:TRUE, no subjectAltName) makes
//! a certificate Python accepts and rustls refuses: a CA used as its own leaf. We keep
//! rustls' rule (the RFCs where CPython's defaults are lax) and say so in plain words: a
//! refused certificate is an [`Error::Tls`] whose text names what is wrong
//! (unknown issuer, the names it is valid for, the expiry date, a CA used as a leaf) and what to
//! do; rustls' own error is its `source()`.
//!
//! A TLS echo over streams; the certificate is made on the spot (use [`server_config`] and
//! [`client_config_with_roots`] to load PEM files, or `ssl(true)` for the system roots):
//!
//! ```
//! use asyncio::tls::rustls;
//! use asyncio::{StreamReader, StreamWriter};
//! # let made = rcgen::generate_simple_self_signed(vec!["localhost".into()]).unwrap();
//! # let cert = made.cert.der().clone();
//! # let key = rustls::pki_types::PrivatePkcs8KeyDer::from(made.key_pair.serialize_der());
//! let server_config = rustls::ServerConfig::builder()
//!     .with_no_client_auth()
//!     .with_single_cert(vec![cert.clone()], key.into())
//!     .unwrap();
//! let mut roots = rustls::RootCertStore::empty();
//! roots.add(cert).unwrap();
//! let client_config = rustls::ClientConfig::builder()
//!     .with_root_certificates(roots)
//!     .with_no_client_auth();
//!
//! asyncio::run(async move {
//!     let echo_line = |reader: StreamReader, writer: StreamWriter| async move {
//!         let line = reader.readline().await?;
//!         writer.write(&line)?;
//!         writer.close(); // close_notify, then the TCP close
//!         writer.wait_closed().await
//!     };
//!     let server = asyncio::start_server(echo_line, "127.0.0.1", 0)
//!         .ssl(server_config)
//!         .await?;
//!     let port = server.sockets()[0].port().unwrap();
//!     let (reader, writer) = asyncio::open_connection("127.0.0.1", port)
//!         .ssl(client_config)
//!         .server_hostname("localhost")
//!         .await?; // the handshake is done here
//!     assert_eq!(writer.transport().tls_version().as_deref(), Some("TLSv1.3"));
//!     writer.write(b"hello\n")?;
//!     assert_eq!(reader.readline().await?, b"hello\n");
//!     writer.close();
//!     writer.wait_closed().await?;
//!     server.close();
//!     Ok::<_, asyncio::Error>(())
//! })
//! .unwrap()
//! .unwrap();
//! ```
//!
//! Deliberate differences from CPython (see `asyncio-semantics.md`, Decisions):
//! - An EOF without close_notify after the handshake is a clean EOF unless the connection
//!   asked otherwise with `ssl_require_close_notify(true)`;
//!   [`Transport::close_notify_received`](crate::Transport::close_notify_received) tells.
//! - `start_tls` on a closing transport fails at once with `Error::InvalidState`.
//! - A connection lost during the handshake with no error fails the handshake with
//!   `ConnectionAborted` instead of completing it.
//! - The side of `start_tls` follows the configuration type (rustls has one per side).
//! - A failed `start_tls` (refused certificate, handshake timeout, peer gone) ends the
//!   connection for everyone waiting on it: every pending and later read, `drain` and
//!   `wait_closed` on that stream fails with the error instead of waiting forever.
//! - A second `start_tls` on a transport whose first is still in its handshake replaces the
//!   first's layer: the first fails at once with `Error::InvalidState` and closes the
//!   transport, so the second fails too (CPython's first fails at its handshake timeout,
//!   and in between its layer no longer hears from the transport).
//! - `start_tls` on a transport whose writing is paused: the layer takes over the pause, and
//!   the protocol the transport paused gets its `resume_writing` from the layer (CPython's
//!   `SSLProtocol.resume_writing` fails an assertion there and the protocol stays paused).
// Checklist: D13, D9, T35, D14.

pub(crate) mod config;
pub(crate) mod engine;
pub(crate) mod nameless;
pub(crate) mod protocol;
pub(crate) mod transport;
pub(crate) mod words;

use std::cell::RefCell;
use std::future::{Future, IntoFuture};
use std::pin::Pin;
use std::rc::Rc;
use std::sync::Arc;
use std::time::Duration;

pub use crate::error::TlsError;
pub use config::{
    client_config_with_roots, default_client_config, load_certs, load_private_key, server_config,
    ClientTls, TlsContext,
};
pub use engine::TlsInfo;
/// The rustls version this crate is built against, for building configurations.
pub use rustls;

use self::config::{client_setup, resolve_server_hostname, ClientSetup, ServerHostname};
use self::engine::Engine;
use self::protocol::{RawSide, TlsProtocol};
use crate::constants::{SSL_HANDSHAKE_TIMEOUT, SSL_SHUTDOWN_TIMEOUT};
use crate::error::Error;
use crate::event_loop::handle::Handle;
use crate::event_loop::LoopHandle;
use crate::protocol::ProtocolRef;
use crate::transport::Transport;

pub(crate) use crate::constants::{
    FLOW_CONTROL_HIGH_WATER_SSL_READ, FLOW_CONTROL_HIGH_WATER_SSL_WRITE,
};

/// The per-connection TLS keywords: `ssl_handshake_timeout`, `ssl_shutdown_timeout` and the
/// D9 truncation switch.
#[derive(Clone, Copy, Debug, Default)]
pub(crate) struct TlsOptions {
    pub(crate) handshake_timeout: Option<Duration>,
    pub(crate) shutdown_timeout: Option<Duration>,
    pub(crate) require_close_notify: bool,
}

impl TlsOptions {
    pub(crate) fn handshake_timeout(&self) -> Duration {
        self.handshake_timeout.unwrap_or(SSL_HANDSHAKE_TIMEOUT)
    }

    pub(crate) fn shutdown_timeout(&self) -> Duration {
        self.shutdown_timeout.unwrap_or(SSL_SHUTDOWN_TIMEOUT)
    }

    /// T1: each timeout must be positive.
    fn check(&self) -> Result<(), Error> {
        for (name, t) in [
            ("ssl_handshake_timeout", self.handshake_timeout),
            ("ssl_shutdown_timeout", self.shutdown_timeout),
        ] {
            if t == Some(Duration::ZERO) {
                return Err(Error::invalid_argument(format!(
                    "{name} should be a positive number, got 0.0"
                )));
            }
        }
        Ok(())
    }

    /// L84, L96, L111: TLS keywords without `ssl`.
    fn check_without_ssl(&self) -> Result<(), Error> {
        let set = [
            ("ssl_handshake_timeout", self.handshake_timeout.is_some()),
            ("ssl_shutdown_timeout", self.shutdown_timeout.is_some()),
            ("ssl_require_close_notify", self.require_close_notify),
        ];
        match set.iter().find(|(_, on)| *on) {
            Some((name, _)) => Err(Error::invalid_argument(format!(
                "{name} is only meaningful with ssl"
            ))),
            None => Ok(()),
        }
    }
}

/// The client-side TLS keywords of `create_connection` / `open_connection`.
#[derive(Clone, Debug, Default)]
pub(crate) struct ClientOptions {
    pub(crate) ssl: ClientTls,
    /// `server_hostname=`, if given (else the host is the name).
    pub(crate) server_hostname: Option<ServerHostname>,
    pub(crate) options: TlsOptions,
}

impl ClientOptions {
    /// `server_hostname=name`.
    pub(crate) fn set_server_hostname(&mut self, name: &str) {
        self.server_hostname = Some(ServerHostname::new(name));
    }

    /// Python's checks, before any I/O (S6, S8, L84, L111, T1); `host` is the connection's
    /// host (`None` with `sock=`), `unix` for Unix connections. `None`: plain connection.
    pub(crate) fn prepare(
        &self,
        host: Option<&str>,
        unix: bool,
    ) -> Result<Option<PreparedClient>, Error> {
        let Some(ssl) = self.ssl.enabled() else {
            self.refuse_without_ssl()?;
            return Ok(None);
        };
        let name = resolve_server_hostname(self.server_hostname.as_ref(), host, unix)?;
        self.options.check()?;
        let setup = client_setup(ssl, name)?;
        Ok(Some(PreparedClient {
            setup,
            options: self.options,
        }))
    }

    /// The keyword rules CPython's `create_connection` and `create_unix_connection` apply
    /// first, before they look at host/port (or `path`) and `sock`: a TLS keyword without
    /// `ssl`, `ssl` with nothing to name the server (`host` is the host given, also one that
    /// `sock` replaced). [`prepare`](Self::prepare) applies them again, then what CPython
    /// checks later (a zero timeout, in `SSLProtocol`).
    // Checklist: S6, S8, L84, L85, L111.
    pub(crate) fn check_keywords(&self, host: Option<&str>, unix: bool) -> Result<(), Error> {
        match self.ssl.enabled() {
            None => self.refuse_without_ssl(),
            Some(_) => resolve_server_hostname(self.server_hostname.as_ref(), host, unix).map(drop),
        }
    }

    /// A client TLS keyword given without `ssl`.
    fn refuse_without_ssl(&self) -> Result<(), Error> {
        if self.server_hostname.is_some() {
            return Err(Error::invalid_argument(
                "server_hostname is only meaningful with ssl",
            ));
        }
        self.options.check_without_ssl()
    }
}

/// A validated client TLS setup, waiting for its socket.
pub(crate) struct PreparedClient {
    setup: ClientSetup,
    options: TlsOptions,
}

impl PreparedClient {
    /// Wraps `app` in a client TLS layer: returns the protocol to give the socket transport and
    /// the handshake to await (it completes after the app's `connection_made`, T7).
    pub(crate) fn wrap(
        self,
        lp: &LoopHandle,
        app: ProtocolRef,
    ) -> Result<(ProtocolRef, Handshake), Error> {
        let (engine, server_hostname) = self.setup.into_engine()?;
        let layer = TlsProtocol::new(lp, engine, app, server_hostname, self.options, true);
        let raw_side: ProtocolRef = Rc::new(RefCell::new(RawSide(layer.clone())));
        Ok((raw_side, Handshake::new(&layer)))
    }
}

/// A pending handshake: resolves to the app-facing transport.
pub(crate) struct Handshake {
    waiter: Rc<protocol::Waiter>,
    transport: Transport,
}

impl Handshake {
    fn new(layer: &Rc<TlsProtocol>) -> Handshake {
        Handshake {
            waiter: layer.waiter().expect("a new layer has its waiter"),
            transport: layer
                .app_transport()
                .expect("a new layer has its transport"),
        }
    }

    /// # Cancel safety
    /// Dropping it loses nothing here; the caller's guard closes the raw transport (T12).
    pub(crate) async fn wait(self) -> Result<Transport, Error> {
        self.waiter.wait().await?;
        Ok(self.transport)
    }

    /// [`wait`](Self::wait) for a layer its caller put over the new socket transport `raw`
    /// (create_connection, connect_accepted_socket).
    ///
    /// # Cancel safety
    /// Dropped, it ends the connection as CPython's `except: transport.close()` around the
    /// waiter does. Once the handshake is done (the app's `connection_made` has run, and may
    /// have written), the app transport closes: what the app wrote is sent, then close_notify.
    /// Before that, or after a failed handshake, the raw transport is aborted, as CPython's
    /// close of a layer still in its handshake aborts it.
    // Checklist: L94, T12.
    pub(crate) async fn wait_over(self, raw: Transport) -> Result<Transport, Error> {
        let guard = EndOnDrop(Some((self.waiter.clone(), self.transport.clone(), raw)));
        let transport = self.wait().await?;
        guard.disarm();
        Ok(transport)
    }
}

/// Ends the connection of a handshake whose [`Handshake::wait_over`] was dropped: the
/// waiter, the app transport and the raw one. Empty once disarmed.
struct EndOnDrop(Option<(Rc<protocol::Waiter>, Transport, Transport)>);

impl EndOnDrop {
    fn disarm(mut self) {
        self.0 = None;
    }
}

impl Drop for EndOnDrop {
    fn drop(&mut self) {
        let Some((waiter, app, raw)) = self.0.take() else {
            return;
        };
        if waiter.succeeded() {
            app.close();
        } else {
            raw.abort();
        }
    }
}

/// The server-side TLS keywords of `create_server` / `start_server`.
#[derive(Clone, Debug, Default)]
pub(crate) struct ServerOptions {
    pub(crate) ssl: Option<Arc<rustls::ServerConfig>>,
    pub(crate) options: TlsOptions,
}

impl ServerOptions {
    /// L96, S9, T1: checked before binding. So is a configuration rustls refuses for every
    /// connection (a `max_fragment_size` out of range): served, each accepted socket would
    /// be closed with nothing said but a debug line.
    pub(crate) fn check(&self) -> Result<(), Error> {
        self.checked_engine().map(drop)
    }

    /// [`check`](Self::check), keeping the engine it built: the one for the single socket
    /// `connect_accepted_socket` serves, so that call builds one rustls connection, not two.
    /// `None`: no `ssl`.
    pub(crate) fn checked_engine(&self) -> Result<Option<Engine>, Error> {
        match &self.ssl {
            Some(config) => {
                config::check_alpn(&config.alpn_protocols)?;
                let engine = Engine::server(config.clone())?;
                self.options.check()?;
                Ok(Some(engine))
            }
            None => self.options.check_without_ssl().map(|()| None),
        }
    }

    /// The protocol for an accepted socket: `app` itself, or `app` under a server TLS layer
    /// whose handshake completes before the app's `connection_made` (T36).
    pub(crate) fn wrap(&self, lp: &LoopHandle, app: ProtocolRef) -> Result<ProtocolRef, Error> {
        let Some(config) = &self.ssl else {
            return Ok(app);
        };
        let engine = Engine::server(config.clone())?;
        let layer = TlsProtocol::new(lp, engine, app, None, self.options, true);
        Ok(Rc::new(RefCell::new(RawSide(layer))))
    }
}

impl ServerOptions {
    /// The server side of TLS on one socket whose handshake the caller awaits
    /// (`connect_accepted_socket`, T37), over the `engine` [`checked_engine`] built: the
    /// protocol for the socket transport and the handshake, which completes after the app's
    /// `connection_made`.
    ///
    /// [`checked_engine`]: Self::checked_engine
    pub(crate) fn wrap_awaited(
        &self,
        lp: &LoopHandle,
        engine: Engine,
        app: ProtocolRef,
    ) -> (ProtocolRef, Handshake) {
        let layer = TlsProtocol::new(lp, engine, app, None, self.options, true);
        let raw_side: ProtocolRef = Rc::new(RefCell::new(RawSide(layer.clone())));
        (raw_side, Handshake::new(&layer))
    }
}

/// The pending result of [`LoopHandle::start_tls`]: set the keywords, then `.await` it for the
/// TLS transport.
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
/// #[derive(Default)]
/// struct Quiet;
/// impl asyncio::Protocol for Quiet {}
///
/// asyncio::run(async move {
///     // A server that upgrades each connection at once (STARTTLS-style).
///     let upgrade = move |_r: asyncio::StreamReader, mut w: asyncio::StreamWriter| {
///         let config = server_config.clone();
///         async move {
///             w.start_tls(config).await?;
///             w.wait_closed().await
///         }
///     };
///     let server = asyncio::start_server(upgrade, "127.0.0.1", 0).await?;
///     let port = server.sockets()[0].port().unwrap();
///
///     let lp = asyncio::get_running_loop()?;
///     let (plain, protocol) = lp.create_connection(Quiet::default, "127.0.0.1", port).await?;
///     let tls: asyncio::StartTls = lp.start_tls(&plain, protocol, client_config, false);
///     let tls = tls.server_hostname("localhost").await?; // the handshake is done here
///     assert!(tls.tls_version().is_some());
///     tls.close();
///     server.close();
///     Ok::<_, asyncio::Error>(())
/// })??;
/// # Ok::<_, asyncio::Error>(())
/// ```
#[must_use = "start_tls does nothing until awaited"]
pub struct StartTls {
    lp: LoopHandle,
    transport: Transport,
    protocol: ProtocolRef,
    context: TlsContext,
    server_side: bool,
    server_hostname: Option<String>,
    options: TlsOptions,
    /// Runs as the handshake succeeds, before the waiter wakes (see
    /// [`on_handshake`](Self::on_handshake)).
    on_handshake: Option<Box<dyn FnOnce()>>,
}

impl LoopHandle {
    /// Upgrades an open connection to TLS (Python's `loop.start_tls`): the raw
    /// transport's protocol becomes a TLS layer that feeds `protocol`, which gets decrypted data
    /// from then on without a second `connection_made`. Resolves to the new TLS transport once
    /// the handshake is done; the old transport is its carrier and must not be written to.
    ///
    /// `server_side` must match the configuration type: rustls has one per side.
    /// Without [`server_hostname`](StartTls::server_hostname) (or with `""`) a client sends no
    /// SNI and checks no name; the certificate chain is still verified by the configuration's
    /// verifier.
    ///
    /// The upgrade swaps the transport's protocol for the TLS layer, which needs the current
    /// protocol free of every borrow: while its user holds it (a borrow of the `RefCell`
    /// [`Transport::get_protocol`] returns, kept across an `.await`), the upgrade waits for
    /// that borrow's end before it touches the transport. A borrow kept across the `.await`
    /// of this very call never ends: the wait is reported as a warning after a second.
    ///
    /// # Errors
    /// [`Error::InvalidState`] (`transport is closing`) at once on a closing transport, or
    /// on one closed while the upgrade waited for its protocol;
    /// [`Error::InvalidArgument`] for a side mismatch, a zero timeout, or a pipe transport
    /// (`transport <pipe transport> is not supported by start_tls()`: only socket and TLS
    /// transports carry TLS, as in CPython), the transport left as it was; the handshake's
    /// error ([`Error::Tls`], `Error::Io` with kind `ConnectionAborted` on timeout, or with
    /// kind `ConnectionReset` when the peer closed the TCP connection before or during it;
    /// its close_notify during it is an [`Error::Tls`]), after
    /// which the raw transport is closed and `protocol` gets `connection_lost` with that error
    /// (a timeout included, where CPython tells the protocol nothing). `Error::Io`
    /// (`Event loop is closed`) if the loop closes while the upgrade waits for a held protocol.
    ///
    /// # Cancel safety
    /// Dropping the future closes the raw transport; dropped while it waits for a held
    /// protocol, before the swap, it leaves the transport as it was.
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
    /// #[derive(Default)]
    /// struct Quiet;
    /// impl asyncio::Protocol for Quiet {}
    ///
    /// asyncio::run(async move {
    /// #   let up = move |_r: asyncio::StreamReader, mut w: asyncio::StreamWriter| {
    /// #       let config = server_config.clone();
    /// #       async move {
    /// #           w.start_tls(config).await?;
    /// #           w.wait_closed().await
    /// #       }
    /// #   };
    /// #   let server = asyncio::start_server(up, "127.0.0.1", 0).await?;
    /// #   let port = server.sockets()[0].port().unwrap();
    ///     // A plain connection to a server that expects TLS to start at once:
    ///     let lp = asyncio::get_running_loop()?;
    ///     let (plain, protocol) = lp.create_connection(Quiet::default, "127.0.0.1", port).await?;
    ///     let tls = lp
    ///         .start_tls(&plain, protocol, client_config, false) // false: we are the client
    ///         .server_hostname("localhost")
    ///         .await?;
    ///     assert_eq!(tls.tls_version().as_deref(), Some("TLSv1.3"));
    ///     tls.close();
    /// #   server.close();
    ///     Ok::<_, asyncio::Error>(())
    /// })??;
    /// # Ok::<_, asyncio::Error>(())
    /// ```
    // Checklist: T32, T35, T3, D7, T12, D14.
    pub fn start_tls(
        &self,
        transport: &Transport,
        protocol: ProtocolRef,
        context: impl Into<TlsContext>,
        server_side: bool,
    ) -> StartTls {
        StartTls {
            lp: self.clone(),
            transport: transport.clone(),
            protocol,
            context: context.into(),
            server_side,
            server_hostname: None,
            options: TlsOptions::default(),
            on_handshake: None,
        }
    }
}

impl StartTls {
    /// The name to send as SNI and to check (client side only, never derived). `""` is the
    /// same as no name: no SNI, the chain verified, no name checked.
    ///
    /// # Examples
    ///
    /// The certificate is for `localhost`; asking for another name fails the handshake.
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
    /// # #[derive(Default)]
    /// # struct Quiet;
    /// # impl asyncio::Protocol for Quiet {}
    /// # asyncio::run(async move {
    /// #   let upgrade = move |_r: asyncio::StreamReader, mut w: asyncio::StreamWriter| {
    /// #       let config = server_config.clone();
    /// #       async move {
    /// #           w.start_tls(config).await?;
    /// #           w.wait_closed().await
    /// #       }
    /// #   };
    /// #   let server = asyncio::start_server(upgrade, "127.0.0.1", 0).await?;
    /// #   let port = server.sockets()[0].port().unwrap();
    /// #   let lp = asyncio::get_running_loop()?;
    /// let (plain, protocol) = lp.create_connection(Quiet::default, "127.0.0.1", port).await?;
    /// let result = lp
    ///     .start_tls(&plain, protocol, client_config, false)
    ///     .server_hostname("example.com")
    ///     .await;
    /// let Err(asyncio::Error::Tls(e)) = result else { panic!("the name must not match") };
    /// assert!(e.is_certificate_error());
    /// #   server.close();
    /// #   Ok::<_, asyncio::Error>(())
    /// # })??;
    /// # Ok::<_, asyncio::Error>(())
    /// ```
    // Checklist: S55.
    pub fn server_hostname(mut self, name: &str) -> Self {
        self.server_hostname = Some(name.to_string());
        self
    }

    /// How long the handshake may take (default 60 s).
    ///
    /// # Examples
    ///
    /// A peer that never answers the handshake (here a server that does not speak TLS at all)
    /// is given up on after the timeout.
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
    /// # #[derive(Default)]
    /// # struct Quiet;
    /// # impl asyncio::Protocol for Quiet {}
    /// use std::time::Duration;
    /// # asyncio::run(async move {
    /// # let silent = |r: asyncio::StreamReader, w: asyncio::StreamWriter| async move {
    /// #     let _ = r.read(-1).await; // reads the ClientHello, answers nothing
    /// #     w.close();
    /// #     Ok::<_, asyncio::Error>(())
    /// # };
    /// # let server = asyncio::start_server(silent, "127.0.0.1", 0).await?;
    /// # let port = server.sockets()[0].port().unwrap();
    /// # let lp = asyncio::get_running_loop()?;
    /// let (plain, protocol) = lp.create_connection(Quiet::default, "127.0.0.1", port).await?;
    /// let result = lp
    ///     .start_tls(&plain, protocol, client_config, false)
    ///     .server_hostname("localhost")
    ///     .ssl_handshake_timeout(Duration::from_millis(100))
    ///     .await;
    /// let Err(asyncio::Error::Io(e)) = result else { panic!("a timeout") };
    /// assert_eq!(e.kind(), std::io::ErrorKind::ConnectionAborted);
    /// #   server.close();
    /// #   Ok::<_, asyncio::Error>(())
    /// # })??;
    /// # Ok::<_, asyncio::Error>(())
    /// ```
    // Checklist: T1, T9.
    pub fn ssl_handshake_timeout(mut self, timeout: Duration) -> Self {
        self.options.handshake_timeout = Some(timeout);
        self
    }

    /// How long the close_notify exchange may take (default 30 s).
    ///
    /// # Examples
    ///
    /// `close()` on the TLS transport sends close_notify and waits for the peer's, at most this
    /// long, before the protocol's `connection_lost`.
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
    /// use std::{io, time::Duration};
    ///
    /// #[derive(Default)]
    /// struct Watch { lost: Option<Option<io::Error>> }
    /// impl asyncio::Protocol for Watch {
    ///     fn connection_lost(&mut self, exc: Option<io::Error>) { self.lost = Some(exc) }
    /// }
    /// # asyncio::run(async move {
    /// #   let upgrade = move |_r: asyncio::StreamReader, mut w: asyncio::StreamWriter| {
    /// #       let config = server_config.clone();
    /// #       async move {
    /// #           w.start_tls(config).await?;
    /// #           w.wait_closed().await
    /// #       }
    /// #   };
    /// #   let server = asyncio::start_server(upgrade, "127.0.0.1", 0).await?;
    /// #   let port = server.sockets()[0].port().unwrap();
    /// #   let lp = asyncio::get_running_loop()?;
    /// let (plain, watch) = lp.create_connection(Watch::default, "127.0.0.1", port).await?;
    /// let tls = lp
    ///     .start_tls(&plain, watch.clone(), client_config, false)
    ///     .server_hostname("localhost")
    ///     .ssl_shutdown_timeout(Duration::from_secs(5))
    ///     .await?;
    /// tls.close();
    /// for _ in 0..10_000 {
    ///     if watch.borrow().lost.is_some() { break }
    ///     asyncio::yield_now().await;
    /// }
    /// assert!(matches!(watch.borrow().lost, Some(None))); // the peer answered in time
    /// #   server.close();
    /// #   Ok::<_, asyncio::Error>(())
    /// # })??;
    /// # Ok::<_, asyncio::Error>(())
    /// ```
    // Checklist: T25.
    pub fn ssl_shutdown_timeout(mut self, timeout: Duration) -> Self {
        self.options.shutdown_timeout = Some(timeout);
        self
    }

    /// Report an EOF without close_notify as [`Error::Tls`] instead of a clean EOF.
    ///
    /// # Examples
    ///
    /// A peer that drops the connection without close_notify (here one that aborts) could be an
    /// attacker cutting a response short; with this set, the protocol hears of it as an error.
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
    /// use std::io;
    ///
    /// #[derive(Default)]
    /// struct Watch { lost: Option<Option<io::Error>> }
    /// impl asyncio::Protocol for Watch {
    ///     fn connection_lost(&mut self, exc: Option<io::Error>) { self.lost = Some(exc) }
    /// }
    /// # asyncio::run(async move {
    /// #   let upgrade = move |r: asyncio::StreamReader, mut w: asyncio::StreamWriter| {
    /// #       let config = server_config.clone();
    /// #       async move {
    /// #           w.start_tls(config).await?;
    /// #           let _ = r.read(1).await; // the client's cue
    /// #           w.transport().abort(); // no close_notify
    /// #           Ok::<_, asyncio::Error>(())
    /// #       }
    /// #   };
    /// #   let server = asyncio::start_server(upgrade, "127.0.0.1", 0).await?;
    /// #   let port = server.sockets()[0].port().unwrap();
    /// #   let lp = asyncio::get_running_loop()?;
    /// let (plain, watch) = lp.create_connection(Watch::default, "127.0.0.1", port).await?;
    /// let tls = lp
    ///     .start_tls(&plain, watch.clone(), client_config, false)
    ///     .server_hostname("localhost")
    ///     .ssl_require_close_notify(true)
    ///     .await?;
    /// tls.write(b"!")?; // the server aborts now
    /// for _ in 0..10_000 {
    ///     if watch.borrow().lost.is_some() { break }
    ///     asyncio::yield_now().await;
    /// }
    /// assert!(matches!(watch.borrow().lost, Some(Some(_)))); // not a clean EOF
    /// #   server.close();
    /// #   Ok::<_, asyncio::Error>(())
    /// # })??;
    /// # Ok::<_, asyncio::Error>(())
    /// ```
    // Checklist: D9.
    pub fn ssl_require_close_notify(mut self, on: bool) -> Self {
        self.options.require_close_notify = on;
        self
    }

    /// `f` runs as the handshake succeeds, inside the read that ended it and before the
    /// awaiting task wakes: StreamWriter::start_tls re-pauses a paused reader's transport
    /// there, so no read goes by in between (S14, S54).
    pub(crate) fn on_handshake(mut self, f: impl FnOnce() + 'static) -> Self {
        self.on_handshake = Some(Box::new(f));
        self
    }

    async fn run(self) -> Result<Transport, Error> {
        let StartTls {
            lp,
            transport,
            protocol,
            context,
            server_side,
            server_hostname,
            options,
            on_handshake,
        } = self;
        if !transport.inner.start_tls_compatible() {
            // T32: before the layer is built or the transport touched, as CPython's TypeError.
            return Err(Error::invalid_argument(
                "transport <pipe transport> is not supported by start_tls()",
            ));
        }
        options.check()?;
        if transport.is_closing() {
            return Err(Error::invalid_state("transport is closing")); // T35
        }
        let (engine, name) = match (context, server_side) {
            (TlsContext::Server(c), true) => {
                config::check_alpn(&c.alpn_protocols)?;
                (Engine::server(c)?, None)
            }
            (TlsContext::Client(c), false) => {
                // Nameless unless told (S55); start_tls links the server half anyway.
                let name = ServerHostname::new(server_hostname.as_deref().unwrap_or(""));
                client_setup(config::EnabledTls::Config(&c), name)?.into_engine()?
            }
            (TlsContext::Client(_), true) => {
                return Err(Error::invalid_argument(
                    "Server side SSL needs a valid SSLContext (a rustls::ServerConfig)",
                ))
            }
            (TlsContext::Server(_), false) => {
                return Err(Error::invalid_argument(
                    "client side SSL needs a rustls::ClientConfig, got a ServerConfig",
                ))
            }
        };
        // The swap below needs the transport's protocol free of every borrow. Held by a user
        // (`get_protocol()`, borrowed across an `.await`) or by a callback of its own that
        // polls us, it is free later: wait for that, as a transport waits to call a held
        // protocol (CPython, which has no borrows, swaps at once). No turn passes between the
        // last look and the swap.
        let busy = |p: &ProtocolRef| p.try_borrow_mut().is_err();
        while let Some(held) = transport
            .get_protocol()
            .filter(busy)
            .as_ref()
            .map(Rc::downgrade)
        {
            crate::protocol::until_cell_free(&lp, transport.id(), held).await?;
            if transport.is_closing() {
                return Err(Error::invalid_state("transport is closing")); // T35, closed meanwhile
            }
        }
        let app = protocol.clone();
        let layer = TlsProtocol::new(&lp, engine, protocol, name, options, false);
        let handshake = Handshake::new(&layer);
        if let (Some(f), Some(waiter)) = (on_handshake, layer.waiter()) {
            waiter.on_success(f);
        }
        // T33: nothing may reach the layer before its connection_made.
        let was_reading = transport.is_reading();
        transport.pause_reading();
        let app_was_raws = transport
            .get_protocol()
            .is_some_and(|p| std::ptr::addr_eq(Rc::as_ptr(&p), Rc::as_ptr(&app)));
        let raw_side: ProtocolRef = Rc::new(RefCell::new(RawSide(layer.clone())));
        if let Err(e) = transport.set_protocol(raw_side) {
            if was_reading {
                transport.resume_reading(); // as it was: a pause of the caller's stays
            }
            return Err(e);
        }
        // A raw transport above its high-water mark resumes us later; the app it paused is
        // resumed by the layer (T15, L49).
        let raw_paused = transport.buffer_info().writing_paused;
        layer.inherit_raw_flow(raw_paused, app_was_raws);
        let (l, t) = (layer.clone(), transport.clone());
        let made = lp.call_soon(move || l.connection_made(t))?;
        let (l, t) = (layer.clone(), transport.clone());
        let resume = lp.call_soon(move || {
            t.resume_reading();
            // An EOF the transport read before the upgrade (a plain stream stays open after
            // it, S63) is the layer's too: the peer can send no handshake, so it fails now
            // (T10), as CPython's resumed socket reads the EOF again, not at its timeout.
            if t.inner.peer_eof() {
                l.eof_received();
            }
        })?;
        let guard = StartTlsGuard(Some((transport, made, resume)));
        let tls = handshake.wait().await?;
        guard.disarm();
        Ok(tls)
    }
}

impl IntoFuture for StartTls {
    type Output = Result<Transport, Error>;
    type IntoFuture = Pin<Box<dyn Future<Output = Self::Output>>>;

    fn into_future(self) -> Self::IntoFuture {
        Box::pin(self.run())
    }
}

/// On failure or cancellation: cancel the two scheduled callbacks, close the raw transport
/// (T12, T33).
struct StartTlsGuard(Option<(Transport, Handle, Handle)>);

impl StartTlsGuard {
    fn disarm(mut self) {
        self.0 = None;
    }
}

impl Drop for StartTlsGuard {
    fn drop(&mut self) {
        if let Some((transport, made, resume)) = self.0.take() {
            made.cancel();
            resume.cancel();
            transport.close();
        }
    }
}
