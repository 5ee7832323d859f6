//! `loop.connect_accepted_socket`: a protocol on a socket some other code accepted, as the
//! server side of the connection (TLS included: the handshake is the server's).
//!
//! Mirrors `BaseEventLoop.connect_accepted_socket` and `_create_connection_transport(…,
//! server_side=True)` in CPython `Lib/asyncio/base_events.py` (L95, T37). There is no
//! listener and no `Server`: the transport belongs to the caller, as with
//! `create_connection(sock=…)`. Ground rules: the TLS keywords are checked before the socket
//! is touched; the socket is owned by a value that closes it on drop at every step, so
//! cancelling the future leaks nothing; the result comes after the protocol's
//! `connection_made` (after the handshake under TLS).

use std::cell::RefCell;
use std::future::{Future, IntoFuture};
use std::pin::Pin;
use std::rc::Rc;

use super::connect::{wait_connection_made, StreamSocket};
use crate::error::Error;
use crate::event_loop::LoopHandle;
use crate::protocol::Protocol;
use crate::transport::life_path::LifePath;
use crate::transport::socket::SocketTransport;
use crate::transport::Transport;

/// The pending result of [`LoopHandle::connect_accepted_socket`]: set the TLS keywords
/// (feature `tls`), then `.await` it for `(Transport, Rc<RefCell<P>>)`.
///
/// # Examples
///
/// ```
/// use asyncio::{Protocol, Transport};
/// use std::io::{Read, Write};
///
/// /// Answers each message with "roger".
/// #[derive(Default)]
/// struct Roger(Option<Transport>);
/// impl Protocol for Roger {
///     fn connection_made(&mut self, t: Transport) {
///         self.0 = Some(t);
///     }
///     fn data_received(&mut self, _data: &[u8]) {
///         self.0.as_ref().unwrap().write(b"roger").unwrap();
///     }
/// }
///
/// let listener = std::net::TcpListener::bind("127.0.0.1:0")?;
/// let mut client = std::net::TcpStream::connect(listener.local_addr()?)?;
/// let (accepted, _) = listener.accept()?; // accepted by code of our own
/// asyncio::run(async move {
///     let lp = asyncio::get_running_loop()?;
///     let (transport, _roger) = lp.connect_accepted_socket(Roger::default, accepted).await?;
///     client.write_all(b"test data")?;
///     let mut answer = [0u8; 5];
///     let read = asyncio::to_thread(move || client.read_exact(&mut answer).map(|()| answer));
///     assert_eq!(&read.await??, b"roger");
///     transport.close();
///     Ok::<_, asyncio::Error>(())
/// })??;
/// # Ok::<_, Box<dyn std::error::Error>>(())
/// ```
///
/// # Cancel safety
/// Dropped before its result, it leaks nothing: the socket, or the transport made on it, is
/// closed as Python's `except: transport.close()` closes it, so what the protocol wrote in
/// `connection_made` is still sent, then EOF. With `ssl`, once the handshake is done (the
/// protocol's `connection_made` has run) the same close flushes and sends close_notify;
/// before that the connection is aborted.
#[must_use = "a connection builder does nothing until awaited"]
pub struct ConnectAcceptedSocket<P> {
    lp: LoopHandle,
    factory: Box<dyn FnOnce() -> Rc<RefCell<P>>>,
    sock: StreamSocket,
    /// `ssl` and its timeouts: the server side's (T37).
    #[cfg(feature = "tls")]
    tls: crate::tls::ServerOptions,
}

impl LoopHandle {
    /// Runs a protocol made by `factory` on a stream socket accepted elsewhere, as the
    /// server side of the connection (Python's `loop.connect_accepted_socket`): for servers
    /// whose accepting is not asyncio's (a socket handed over by another process or thread,
    /// a listener of your own). The transport owns the socket; there is no [`Server`].
    /// With `ssl` (the `tls` feature) the TLS handshake is the server's and
    /// completes before the protocol's `connection_made` and the result.
    ///
    /// # Errors
    /// `Error::InvalidArgument` for a TLS keyword without `ssl` or a zero TLS timeout, or a
    /// socket that is not a stream socket (Python's "A Stream Socket was expected": a
    /// `TcpStream` or `UnixStream` made from another kind of socket);
    /// `Error::Io` if the socket cannot be registered; under TLS, the handshake's error
    /// (the socket is closed).
    ///
    /// # Examples
    ///
    /// See [`ConnectAcceptedSocket`] (a plain protocol on a socket from a std listener) and
    /// its `ssl` method (the same served over TLS; with the `tls` feature).
    ///
    /// [`Server`]: crate::Server
    // Checklist: L95, T37.
    pub fn connect_accepted_socket<P, F>(
        &self,
        factory: F,
        sock: impl Into<StreamSocket>,
    ) -> ConnectAcceptedSocket<P>
    where
        P: Protocol + 'static,
        F: FnOnce() -> P + 'static,
    {
        ConnectAcceptedSocket {
            lp: self.clone(),
            factory: Box::new(move || Rc::new(RefCell::new(factory()))),
            sock: sock.into(),
            #[cfg(feature = "tls")]
            tls: Default::default(),
        }
    }
}

impl<P: Protocol + 'static> ConnectAcceptedSocket<P> {
    async fn run(self) -> Result<(Transport, Rc<RefCell<P>>), Error> {
        let ConnectAcceptedSocket {
            lp,
            factory,
            sock,
            #[cfg(feature = "tls")]
            tls,
        } = self;
        // L95, T1: the socket's kind first, then the keywords, as CPython's
        // connect_accepted_socket checks them (on an error the socket, dropped, closes). The
        // engine the check builds is the one the socket is served with.
        let sock = sock.into_socket()?;
        #[cfg(feature = "tls")]
        let engine = tls.checked_engine()?;
        let proto = factory();
        #[cfg(feature = "tls")]
        if let Some(engine) = engine {
            let (lower, handshake) = tls.wrap_awaited(&lp, engine, proto.clone());
            let raw = SocketTransport::create(&lp, sock, lower)?;
            let transport = handshake.wait_over(raw.handle()).await?;
            return Ok((transport, proto));
        }
        let transport = SocketTransport::create(&lp, sock, proto.clone())?;
        let transport = wait_connection_made(&lp, transport.handle(), Transport::close).await?;
        Ok((transport, proto))
    }
}

/// TLS keywords (feature `tls`): the server side's, as [`CreateServer`]'s.
///
/// [`CreateServer`]: crate::CreateServer
// Checklist: T37, T1.
#[cfg(feature = "tls")]
impl<P> ConnectAcceptedSocket<P> {
    /// Serve TLS on the socket with this configuration (Python's `ssl=<SSLContext>`).
    ///
    /// # Examples
    ///
    /// The TLS keywords together: the result comes once the server's handshake is done.
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
    /// use asyncio::{Protocol, Transport};
    /// use std::time::Duration;
    ///
    /// /// Greets each client, then closes.
    /// struct Greeter;
    /// impl Protocol for Greeter {
    ///     fn connection_made(&mut self, t: Transport) {
    ///         let _ = t.write(b"hello over TLS\n");
    ///         t.close();
    ///     }
    /// }
    ///
    /// let listener = std::net::TcpListener::bind("127.0.0.1:0")?;
    /// let client_sock = std::net::TcpStream::connect(listener.local_addr()?)?;
    /// let (accepted, _) = listener.accept()?; // accepted by code of our own
    /// asyncio::run(async move {
    ///     let client = asyncio::spawn(async move {
    ///         let (reader, _writer) = asyncio::open_connection_sock(client_sock)
    ///             .ssl(client_config)
    ///             .server_hostname("localhost")
    ///             .await?;
    ///         reader.readline().await
    ///     });
    ///     let lp = asyncio::get_running_loop()?;
    ///     let (transport, _) = lp
    ///         .connect_accepted_socket(|| Greeter, accepted)
    ///         .ssl(server_config)
    ///         .ssl_handshake_timeout(Duration::from_secs(10))
    ///         .ssl_shutdown_timeout(Duration::from_secs(5))
    ///         .await?;
    ///     assert!(transport.tls_version().is_some()); // the handshake is done
    ///     assert_eq!(client.await??, b"hello over TLS\n");
    ///     Ok::<_, asyncio::Error>(())
    /// })??;
    /// # Ok::<_, Box<dyn std::error::Error>>(())
    /// ```
    pub fn ssl(mut self, config: impl Into<std::sync::Arc<rustls::ServerConfig>>) -> Self {
        self.tls.ssl = Some(config.into());
        self
    }

    /// How long the handshake may take (default 60 s); only with `ssl`. Past it the call
    /// fails with [`Error::Io`](crate::Error::Io) of kind `ConnectionAborted`.
    ///
    /// # Examples
    ///
    /// A client that connects and never starts the handshake:
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
    /// #[derive(Default)]
    /// struct Quiet;
    /// impl asyncio::Protocol for Quiet {}
    ///
    /// let listener = std::net::TcpListener::bind("127.0.0.1:0")?;
    /// let _silent = std::net::TcpStream::connect(listener.local_addr()?)?; // sends nothing
    /// let (accepted, _) = listener.accept()?;
    /// asyncio::run(async move {
    ///     let lp = asyncio::get_running_loop()?;
    ///     let late = lp
    ///         .connect_accepted_socket(Quiet::default, accepted)
    ///         .ssl(server_config)
    ///         .ssl_handshake_timeout(std::time::Duration::from_millis(50))
    ///         .await;
    ///     let Err(asyncio::Error::Io(e)) = late else { panic!("expected a timeout") };
    ///     assert_eq!(e.kind(), std::io::ErrorKind::ConnectionAborted);
    ///     Ok::<_, asyncio::Error>(())
    /// })??;
    /// # Ok::<_, Box<dyn std::error::Error>>(())
    /// ```
    pub fn ssl_handshake_timeout(mut self, timeout: std::time::Duration) -> Self {
        self.tls.options.handshake_timeout = Some(timeout);
        self
    }

    /// How long the close_notify exchange may take (default 30 s); only with `ssl`. Past it,
    /// `close` stops waiting for the peer's close_notify and aborts.
    ///
    /// # Examples
    ///
    /// A client that reads the server's close_notify but never sends its own: the
    /// connection is lost 50 ms after `close`, not 30 s.
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
    /// use std::{rc::Rc, time::Duration};
    ///
    /// struct Lost(Rc<asyncio::Event>);
    /// impl asyncio::Protocol for Lost {
    ///     fn connection_lost(&mut self, _exc: Option<std::io::Error>) {
    ///         self.0.set();
    ///     }
    /// }
    ///
    /// let listener = std::net::TcpListener::bind("127.0.0.1:0")?;
    /// let sock = std::net::TcpStream::connect(listener.local_addr()?)?;
    /// # // A blocking rustls client: handshake, read to the close_notify, keep the socket.
    /// # let client = std::thread::spawn(move || {
    /// #     let name = rustls::pki_types::ServerName::try_from("localhost").unwrap();
    /// #     let conn = rustls::ClientConnection::new(client_config.into(), name).unwrap();
    /// #     let mut tls = rustls::StreamOwned::new(conn, sock);
    /// #     let mut got = Vec::new();
    /// #     std::io::Read::read_to_end(&mut tls, &mut got).map(|_| tls)
    /// # });
    /// let (accepted, _) = listener.accept()?;
    /// asyncio::run(async move {
    ///     let lost = Rc::new(asyncio::Event::new());
    ///     let seen = lost.clone();
    ///     let lp = asyncio::get_running_loop()?;
    ///     let (transport, _) = lp
    ///         .connect_accepted_socket(move || Lost(seen), accepted)
    ///         .ssl(server_config)
    ///         .ssl_shutdown_timeout(Duration::from_millis(50))
    ///         .await?;
    ///     transport.close(); // close_notify; the client never answers
    ///     asyncio::timeout(Duration::from_secs(5), lost.wait()).await // not 30 s
    /// })??;
    /// # let _client_socket = client.join().unwrap()?;
    /// # Ok::<_, Box<dyn std::error::Error>>(())
    /// ```
    pub fn ssl_shutdown_timeout(mut self, timeout: std::time::Duration) -> Self {
        self.tls.options.shutdown_timeout = Some(timeout);
        self
    }

    /// Report an EOF without close_notify as `Error::Tls` instead of a clean EOF; only
    /// with `ssl`.
    ///
    /// The protocol's `connection_lost` then gets an error of kind `InvalidData`
    /// ([`TlsError::is_truncation`](crate::TlsError::is_truncation) for the streams).
    ///
    /// # Examples
    ///
    /// A client that aborts after the handshake, sending no close_notify:
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
    /// use std::io::ErrorKind;
    ///
    /// /// Hands the kind of `connection_lost`'s error, if any, to a future.
    /// struct Ending(asyncio::LoopFuture<Option<ErrorKind>>);
    /// impl asyncio::Protocol for Ending {
    ///     fn connection_lost(&mut self, exc: Option<std::io::Error>) {
    ///         let _ = self.0.set_result(exc.map(|e| e.kind()));
    ///     }
    /// }
    ///
    /// let listener = std::net::TcpListener::bind("127.0.0.1:0")?;
    /// let client_sock = std::net::TcpStream::connect(listener.local_addr()?)?;
    /// let (accepted, _) = listener.accept()?;
    /// asyncio::run(async move {
    ///     let client = asyncio::spawn(async move {
    ///         let (_reader, writer) = asyncio::open_connection_sock(client_sock)
    ///             .ssl(client_config)
    ///             .server_hostname("localhost")
    ///             .await?;
    ///         writer.transport().abort();
    ///         Ok::<_, asyncio::Error>(())
    ///     });
    ///     let lp = asyncio::get_running_loop()?;
    ///     let lost = lp.create_future();
    ///     let ending = lost.clone();
    ///     lp.connect_accepted_socket(move || Ending(ending), accepted)
    ///         .ssl(server_config)
    ///         .ssl_require_close_notify(true) // else a clean EOF: `None`
    ///         .await?;
    ///     client.await??;
    ///     assert_eq!(lost.await?, Some(ErrorKind::InvalidData));
    ///     Ok::<_, asyncio::Error>(())
    /// })??;
    /// # Ok::<_, Box<dyn std::error::Error>>(())
    /// ```
    // Checklist: D9.
    pub fn ssl_require_close_notify(mut self, on: bool) -> Self {
        self.tls.options.require_close_notify = on;
        self
    }
}

impl<P: Protocol + 'static> IntoFuture for ConnectAcceptedSocket<P> {
    type Output = Result<(Transport, Rc<RefCell<P>>), Error>;
    type IntoFuture = Pin<Box<dyn Future<Output = Self::Output>>>;

    fn into_future(self) -> Self::IntoFuture {
        Box::pin(self.run())
    }
}

#[cfg(all(test, feature = "tls"))]
mod tests {
    use std::net::{TcpListener, TcpStream};
    use std::sync::Arc;

    use crate::tls::engine::SERVERS_BUILT;

    #[derive(Default)]
    struct Quiet;
    impl crate::Protocol for Quiet {}

    fn server_config() -> Arc<rustls::ServerConfig> {
        let made = rcgen::generate_simple_self_signed(vec!["localhost".into()]).unwrap();
        let key = rustls::pki_types::PrivatePkcs8KeyDer::from(made.key_pair.serialize_der());
        let config = rustls::ServerConfig::builder()
            .with_no_client_auth()
            .with_single_cert(vec![made.cert.der().clone()], key.into())
            .unwrap();
        Arc::new(config)
    }

    // Checklist: T37, T1. The keyword check's engine serves the socket: one rustls server
    // connection per call, not one for the check and another for the socket.
    #[test]
    fn t37_one_server_engine_per_accepted_socket() {
        let config = server_config();
        let listener = TcpListener::bind("127.0.0.1:0").unwrap();
        let peer = TcpStream::connect(listener.local_addr().unwrap()).unwrap();
        let (accepted, _) = listener.accept().unwrap();
        // The peer goes at once: the handshake ends in an EOF, after the engine is built.
        drop(peer);
        let before = SERVERS_BUILT.with(|n| n.get());
        let outcome = crate::run(async move {
            let lp = crate::get_running_loop()?;
            lp.connect_accepted_socket(Quiet::default, accepted)
                .ssl(config)
                .await
                .map(drop)
        })
        .unwrap();
        assert!(outcome.is_err(), "no handshake without a peer");
        assert_eq!(SERVERS_BUILT.with(|n| n.get()) - before, 1);
    }
}
