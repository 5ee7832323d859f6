//! `open_connection`, `start_server`, `open_unix_connection`, `start_unix_server`: the streams
//! entry points, as builders that implement `IntoFuture`.
//!
//! Mirrors the module-level functions of CPython `Lib/asyncio/streams.py` (S1–S10). Each
//! builder keeps Python's keywords as methods and is awaited once; the common call stays one
//! line: `asyncio::open_connection("127.0.0.1", 8888).await?`. The limit is checked before any
//! I/O (S1), also for servers (S4, D7).

use std::cell::RefCell;
use std::future::{Future, IntoFuture};
use std::marker::PhantomData;
use std::panic::{catch_unwind, AssertUnwindSafe};
use std::path::{Path, PathBuf};
use std::pin::Pin;
use std::rc::Rc;
use std::task::{Context, Poll};
use std::time::Duration;

use super::core::{handler_failed, ConnectedCb, HandlerState, StreamCore};
use super::reader::{ReaderState, StreamReader};
use super::writer::StreamWriter;
use crate::constants::DEFAULT_LIMIT;
use crate::error::Error;
use crate::event_loop::exception::panic_error;
use crate::event_loop::handle::CallbackOutput;
use crate::net::connect::{AddressFamily, CreateConnection, StreamSocket, Target};
use crate::protocol::ProtocolRef;
use crate::server::{CreateServer, ListenSocket, Server};
use crate::transport::Transport;

type ConnOption = Box<dyn FnOnce(CreateConnection<StreamCore>) -> CreateConnection<StreamCore>>;
type ServerOption = Box<dyn FnOnce(CreateServer) -> CreateServer>;

enum Dest {
    Host(String, u16),
    /// Always a `Target::Unix`.
    Unix(Target),
    /// Always a `Target::Sock`.
    Sock(Target),
}

/// The pending result of [`open_connection`] / [`open_unix_connection`]: set keywords with
/// the methods, then `.await` it for `(StreamReader, StreamWriter)`.
///
/// # Examples
///
/// ```
/// # let listener = std::net::TcpListener::bind("127.0.0.1:0")?;
/// # let port = listener.local_addr()?.port();
/// asyncio::run(async move {
///     let pending: asyncio::OpenConnection = asyncio::open_connection("127.0.0.1", port)
///         .limit(1024) // keywords are methods
///         .family(asyncio::AddressFamily::Inet);
///     let (reader, writer) = pending.await?; // connects here
///     assert_eq!(reader.limit(), 1024);
///     writer.close();
///     Ok::<_, asyncio::Error>(())
/// })??;
/// # Ok::<_, Box<dyn std::error::Error>>(())
/// ```
///
/// The other TCP keywords, each shown doing its part (the TLS ones are under
/// `ssl`, [`sock`](OpenConnection::sock) has its own):
///
/// ```
/// use std::time::Duration;
///
/// # let listener = std::net::TcpListener::bind("127.0.0.1:0")?;
/// # let port = listener.local_addr()?.port();
/// asyncio::run(async move {
///     let (_reader, writer) = asyncio::open_connection("localhost", port)
///         .family(asyncio::AddressFamily::Inet) // only localhost's IPv4 addresses
///         .local_addr("127.0.0.1", 0) // bound here first, the port left to the OS
///         .happy_eyeballs_delay(Duration::from_millis(250)) // race the addresses 250 ms apart
///         .interleave(1) // alternating families (only one here)
///         .await?;
///     let ours = writer.sockname().unwrap().as_inet().unwrap();
///     let theirs = writer.peername().unwrap().as_inet().unwrap();
///     assert_eq!(ours.ip(), std::net::Ipv4Addr::LOCALHOST);
///     assert_ne!(ours.port(), 0);
///     assert_eq!(theirs, std::net::SocketAddr::from(([127, 0, 0, 1], port)));
///     writer.close();
///     Ok::<_, asyncio::Error>(())
/// })??;
/// # Ok::<_, Box<dyn std::error::Error>>(())
/// ```
#[must_use = "a connection builder does nothing until awaited"]
pub struct OpenConnection {
    dest: Dest,
    limit: usize,
    options: Vec<ConnOption>,
}

/// Connects to `host:port` and returns a reader and a writer (Python's
/// `asyncio.open_connection`). Keywords are methods: [`limit`](OpenConnection::limit),
/// [`family`](OpenConnection::family), [`local_addr`](OpenConnection::local_addr),
/// [`sock`](OpenConnection::sock),
/// [`happy_eyeballs_delay`](OpenConnection::happy_eyeballs_delay),
/// [`interleave`](OpenConnection::interleave).
///
/// # Errors
///
/// [`Error::Io`], errno kept ([`Error::raw_os_error`]), in Python's words: kind
/// `ConnectionRefused` when nothing listens there (`[Errno 111] Connect call failed
/// 127.0.0.1:8888`); kind `NotFound` for a host name that does not resolve (`[Errno -2] Name
/// or service not known (resolving HOST:PORT)`); with `ssl(..)`, an `Error::Tls` for a
/// refused handshake. The [`Error`] docs list the rest.
///
/// # No host
///
/// An empty `host` is no host, the way this API spells Python's `host=None`: the loopback
/// addresses that `getaddrinfo(NULL, port)` gives, `::1` then `127.0.0.1`, tried in turn.
/// CPython's `open_connection('', port)` instead asks the resolver for the name `''`, which
/// refuses it (`gaierror`, `[Errno -2] Name or service not known`). An empty `host` with port
/// 0 and no [`sock`](OpenConnection::sock) is nothing to connect to: `Error::InvalidArgument`.
///
/// ```
/// asyncio::run(async {
///     let listener = std::net::TcpListener::bind("127.0.0.1:0")?;
///     let port = listener.local_addr()?.port();
///     // No host: the loopback addresses, here the IPv4 one that listens.
///     let (_reader, writer) = asyncio::open_connection("", port).await?;
///     let peer = writer.peername().unwrap();
///     assert!(peer.as_inet().unwrap().ip().is_loopback());
///     writer.close();
///     Ok::<_, asyncio::Error>(())
/// })
/// .unwrap()
/// .unwrap();
/// ```
///
/// A round trip:
///
/// ```
/// asyncio::run(async {
///     let server = asyncio::start_server(
///         |reader: asyncio::StreamReader, writer: asyncio::StreamWriter| async move {
///             let line = reader.readline().await?;
///             writer.write(&line)?;
///             writer.close();
///             writer.wait_closed().await
///         },
///         "127.0.0.1",
///         0,
///     )
///     .await?;
///     let port = server.sockets()[0].port().unwrap();
///     let (reader, writer) = asyncio::open_connection("127.0.0.1", port).await?;
///     writer.write(b"ping\n")?;
///     assert_eq!(reader.readline().await?, b"ping\n");
///     writer.close();
///     writer.wait_closed().await?;
///     server.close();
///     Ok::<_, asyncio::Error>(())
/// })
/// .unwrap()
/// .unwrap();
/// ```
// Checklist: S1, S2.
pub fn open_connection(host: &str, port: u16) -> OpenConnection {
    OpenConnection {
        dest: Dest::Host(host.to_string(), port),
        limit: DEFAULT_LIMIT,
        options: Vec::new(),
    }
}

/// Connects to the Unix socket at `path` (Python's `asyncio.open_unix_connection`).
/// The TCP keywords (`local_addr`, `family`, `happy_eyeballs_delay`, `interleave`) are
/// refused with [`Error::InvalidArgument`] when awaited.
///
/// # Examples
///
/// ```
/// let path = std::env::temp_dir().join(format!("asyncio-doc-{}.sock", std::process::id()));
/// asyncio::run(async move {
///     let hello = |_r: asyncio::StreamReader, w: asyncio::StreamWriter| w.write(b"hi");
///     let server = asyncio::start_unix_server(hello, &path).await?;
///     let (reader, writer) = asyncio::open_unix_connection(&path).await?;
///     assert_eq!(reader.readexactly(2).await?, b"hi");
///     writer.close();
///     server.close(); // removes the socket file
///     Ok::<_, asyncio::Error>(())
/// })??;
/// # Ok::<_, asyncio::Error>(())
/// ```
// Checklist: S3.
pub fn open_unix_connection(path: impl AsRef<Path>) -> OpenConnection {
    OpenConnection {
        dest: Dest::Unix(Target::unix(path.as_ref().to_path_buf())),
        limit: DEFAULT_LIMIT,
        options: Vec::new(),
    }
}

/// Wraps an already connected socket in a reader and a writer (Python's
/// `asyncio.open_connection(sock=…)`): the docs' "register an open socket" example.
///
/// # Examples
///
/// ```
/// asyncio::run(async {
///     let (a, b) = asyncio::socketpair()?;
///     let (_, left) = asyncio::open_connection_sock(a).await?;
///     let (right, right_w) = asyncio::open_connection_sock(b).await?;
///     left.write(b"across")?;
///     assert_eq!(right.readexactly(6).await?, b"across");
///     left.close();
///     right_w.close();
///     Ok::<_, asyncio::Error>(())
/// })??;
/// # Ok::<_, asyncio::Error>(())
/// ```
// Checklist: S7.
pub fn open_connection_sock(sock: impl Into<StreamSocket>) -> OpenConnection {
    OpenConnection {
        dest: Dest::Sock(Target::sock(sock.into())),
        limit: DEFAULT_LIMIT,
        options: Vec::new(),
    }
}

impl OpenConnection {
    fn option(
        mut self,
        f: impl FnOnce(CreateConnection<StreamCore>) -> CreateConnection<StreamCore> + 'static,
    ) -> Self {
        self.options.push(Box::new(f));
        self
    }

    /// The reader's limit (default 64 KiB): longest line, half the pause threshold.
    ///
    /// # Examples
    ///
    /// ```
    /// asyncio::run(async {
    ///     let (a, b) = asyncio::socketpair()?;
    ///     let (reader, _writer) = asyncio::open_connection_sock(a).limit(8).await?;
    ///     let (_peer_reader, peer) = asyncio::open_connection_sock(b).await?;
    ///     peer.write(b"longer than eight bytes\nshort\n")?;
    ///     let long = reader.readline().await; // over the limit: an error, the line dropped
    ///     assert!(matches!(long, Err(asyncio::Error::LimitOverrun { .. })));
    ///     assert_eq!(reader.readline().await?, b"short\n"); // the reader carries on
    ///     Ok::<_, asyncio::Error>(())
    /// })??;
    /// # Ok::<_, asyncio::Error>(())
    /// ```
    // Checklist: S11.
    pub fn limit(mut self, limit: usize) -> Self {
        self.limit = limit;
        self
    }

    /// Resolve for this family only.
    ///
    /// # Examples
    ///
    /// ```
    /// # let listener = std::net::TcpListener::bind("127.0.0.1:0")?;
    /// # let port = listener.local_addr()?.port();
    /// asyncio::run(async move {
    ///     // `localhost` may name ::1 as well: only its IPv4 addresses are tried.
    ///     let (_reader, writer) = asyncio::open_connection("localhost", port)
    ///         .family(asyncio::AddressFamily::Inet)
    ///         .await?;
    ///     assert!(writer.peername().unwrap().as_inet().unwrap().is_ipv4());
    ///     writer.close();
    ///     Ok::<_, asyncio::Error>(())
    /// })??;
    /// # Ok::<_, Box<dyn std::error::Error>>(())
    /// ```
    pub fn family(self, family: AddressFamily) -> Self {
        self.option(move |c| c.family(family))
    }

    /// Bind to this local address first (port 0: the OS picks the port).
    ///
    /// # Examples
    ///
    /// ```
    /// # let listener = std::net::TcpListener::bind("127.0.0.1:0")?;
    /// # let port = listener.local_addr()?.port();
    /// asyncio::run(async move {
    ///     let (_reader, writer) = asyncio::open_connection("127.0.0.1", port)
    ///         .local_addr("127.0.0.1", 0)
    ///         .await?;
    ///     let ours = writer.sockname().unwrap().as_inet().unwrap();
    ///     assert_eq!(ours.ip(), std::net::Ipv4Addr::LOCALHOST);
    ///     assert_ne!(ours.port(), 0);
    ///     writer.close();
    ///     Ok::<_, asyncio::Error>(())
    /// })??;
    /// # Ok::<_, Box<dyn std::error::Error>>(())
    /// ```
    pub fn local_addr(self, host: &str, port: u16) -> Self {
        let host = host.to_string();
        self.option(move |c| c.local_addr(&host, port))
    }

    /// Use this connected socket instead of connecting (a host or a non-zero port given too
    /// is an error).
    ///
    /// # Examples
    ///
    /// ```
    /// asyncio::run(async {
    ///     let (a, b) = asyncio::socketpair()?;
    ///     let (_, writer) = asyncio::open_connection("", 0).sock(a).await?;
    ///     let (reader, _peer_writer) = asyncio::open_connection_sock(b).await?;
    ///     writer.write(b"ok")?;
    ///     assert_eq!(reader.readexactly(2).await?, b"ok");
    ///
    ///     // A host as well is refused when awaited.
    ///     let (c, _d) = asyncio::socketpair()?;
    ///     let both = asyncio::open_connection("127.0.0.1", 0).sock(c).await;
    ///     assert!(matches!(both, Err(asyncio::Error::InvalidArgument(_))));
    ///     Ok::<_, asyncio::Error>(())
    /// })??;
    /// # Ok::<_, asyncio::Error>(())
    /// ```
    pub fn sock(mut self, sock: impl Into<StreamSocket>) -> Self {
        let conflict = match &self.dest {
            Dest::Host(h, p) => !h.is_empty() || *p != 0,
            Dest::Unix(_) => true,
            Dest::Sock(_) => false,
        };
        if conflict {
            let sock = sock.into();
            return self.option(move |c| c.sock(sock));
        }
        self.dest = Dest::Sock(Target::sock(sock.into()));
        self
    }

    /// Happy eyeballs delay (RFC 8305): how long one address may try before the next one
    /// starts too; the first to connect wins and the others are closed. Not set, the
    /// addresses are tried one after the other, each to its end.
    ///
    /// # Examples
    ///
    /// ```
    /// use std::time::Duration;
    ///
    /// # let listener = std::net::TcpListener::bind("127.0.0.1:0")?;
    /// # let port = listener.local_addr()?.port();
    /// asyncio::run(async move {
    ///     // Every address `localhost` names gets 250 ms before the next one joins the race
    ///     // (here only 127.0.0.1 listens: a refused ::1 hands over at once).
    ///     let (_reader, writer) = asyncio::open_connection("localhost", port)
    ///         .happy_eyeballs_delay(Duration::from_millis(250))
    ///         .await?;
    ///     let theirs = writer.peername().unwrap().as_inet().unwrap();
    ///     assert_eq!(theirs, std::net::SocketAddr::from(([127, 0, 0, 1], port)));
    ///     writer.close();
    ///     Ok::<_, asyncio::Error>(())
    /// })??;
    /// # Ok::<_, Box<dyn std::error::Error>>(())
    /// ```
    pub fn happy_eyeballs_delay(self, delay: Duration) -> Self {
        self.option(move |c| c.happy_eyeballs_delay(delay))
    }

    /// Address family interleaving: how many addresses of the first family go before one of
    /// the other (1 when only a happy eyeballs delay is set, as in Python).
    ///
    /// # Examples
    ///
    /// ```
    /// use std::time::Duration;
    ///
    /// # let listener = std::net::TcpListener::bind("127.0.0.1:0")?;
    /// # let port = listener.local_addr()?.port();
    /// asyncio::run(async move {
    ///     // `localhost`'s addresses one family, then the other, alternately (if it has both).
    ///     let (_reader, writer) = asyncio::open_connection("localhost", port)
    ///         .happy_eyeballs_delay(Duration::from_millis(250))
    ///         .interleave(1)
    ///         .await?;
    ///     assert_eq!(writer.peername().unwrap().port().unwrap(), port);
    ///     writer.close();
    ///     Ok::<_, asyncio::Error>(())
    /// })??;
    /// # Ok::<_, Box<dyn std::error::Error>>(())
    /// ```
    pub fn interleave(self, n: usize) -> Self {
        self.option(move |c| c.interleave(n))
    }

    async fn run(self) -> Result<(StreamReader, StreamWriter), Error> {
        let reader = ReaderState::new(self.limit)?; // S1: before any I/O
        let lp = crate::event_loop::get_running_loop()?;
        let factory = move || StreamCore::new(reader);
        let target = match self.dest {
            Dest::Host(h, p) => Target::Host {
                host: (!h.is_empty()).then_some(h),
                port: p,
            },
            Dest::Unix(target) | Dest::Sock(target) => target,
        };
        let mut conn = CreateConnection::with_rc_factory(&lp, factory, target);
        for opt in self.options {
            conn = opt(conn);
        }
        let (transport, core) = conn.await?;
        Ok((
            StreamReader::from_core(core.clone()),
            StreamWriter::new(transport, core),
        ))
    }
}

/// TLS keywords (feature `tls`): forwarded to [`CreateConnection`].
// Checklist: S2, S3, T1–T3.
#[cfg(feature = "tls")]
impl OpenConnection {
    /// TLS (Python's `ssl=`): `true` for the default verifying context (system roots or
    /// `SSL_CERT_FILE`/`SSL_CERT_DIR`, host name checked), or a `rustls::ClientConfig`. The
    /// handshake completes before this resolves.
    ///
    /// A server with a certificate of its own making (self-signed, or from a private CA) is
    /// refused by `ssl(true)` with an [`Error::Tls`] that
    /// [`is_certificate_error`](crate::TlsError::is_certificate_error) and says what to do;
    /// trust that certificate (or its CA) with
    /// [`client_config_with_roots`](crate::tls::client_config_with_roots), Python's
    /// `ssl.create_default_context(cafile=…)`.
    ///
    /// # Examples
    ///
    /// ```
    /// # let dir = std::env::temp_dir().join(format!("asyncio-doc-ssl-{}", std::process::id()));
    /// # std::fs::create_dir_all(&dir)?;
    /// # let made = rcgen::generate_simple_self_signed(vec!["localhost".into()])?;
    /// # std::fs::write(dir.join("cert.pem"), made.cert.pem())?;
    /// # std::fs::write(dir.join("key.pem"), made.key_pair.serialize_pem())?;
    /// // cert.pem / key.pem: a self-signed certificate for localhost.
    /// let (cert, key) = (dir.join("cert.pem"), dir.join("key.pem"));
    /// asyncio::run(async move {
    ///     let tls = asyncio::tls::server_config(&cert, &key)?;
    ///     let hello = |_r: asyncio::StreamReader, w: asyncio::StreamWriter| w.write(b"hi");
    ///     let server = asyncio::start_server(hello, "127.0.0.1", 0).ssl(tls).await?;
    ///     let port = server.sockets()[0].port().unwrap();
    ///
    ///     // No system authority issued it: refused, with a text that says what to do.
    ///     let refused = asyncio::open_connection("127.0.0.1", port)
    ///         .ssl(true)
    ///         .server_hostname("localhost")
    ///         .await;
    ///     match refused {
    ///         Err(asyncio::Error::Tls(e)) => {
    ///             assert!(e.is_certificate_error());
    ///             assert!(e.to_string().starts_with("certificate verify failed: "), "{e}");
    ///         }
    ///         Err(e) => println!("{e}"), // no system CA bundle on this machine
    ///         Ok(_) => unreachable!("a self-signed certificate is not trusted by default"),
    ///     }
    ///
    ///     // Trusting the certificate itself (Python's `cafile=`) lets the handshake through.
    ///     let trusted = asyncio::tls::client_config_with_roots(&cert)?;
    ///     let (reader, writer) = asyncio::open_connection("127.0.0.1", port)
    ///         .ssl(trusted)
    ///         .server_hostname("localhost") // the name the certificate was made for
    ///         .ssl_shutdown_timeout(std::time::Duration::from_secs(5)) // for close()
    ///         .ssl_require_close_notify(true) // an EOF without close_notify is an error
    ///         .await?;
    ///     assert_eq!(reader.readexactly(2).await?, b"hi");
    ///     writer.close();
    ///     server.close();
    ///     Ok::<_, asyncio::Error>(())
    /// })??;
    /// # std::fs::remove_dir_all(&dir)?;
    /// # Ok::<_, Box<dyn std::error::Error>>(())
    /// ```
    pub fn ssl(self, ssl: impl Into<crate::tls::ClientTls>) -> Self {
        let ssl = ssl.into();
        self.option(move |c| c.ssl(ssl))
    }

    /// The name sent as SNI and checked against the certificate (default: the host; required
    /// for Unix sockets and `sock=`). `""` sends none and checks no name, with `ssl(true)` as
    /// with your own `ClientConfig`: the certificate chain is still verified (Python's
    /// `server_hostname=''`).
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
    ///     // The certificate names `localhost`, not the address connected to.
    ///     let (_reader, writer) = asyncio::open_connection("127.0.0.1", port)
    ///         .ssl(client_config.clone())
    ///         .server_hostname("localhost")
    ///         .await?;
    ///     writer.close();
    ///     // Checked against 127.0.0.1, the default, it fails verification.
    ///     let wrong = asyncio::open_connection("127.0.0.1", port).ssl(client_config).await;
    ///     assert!(matches!(wrong, Err(asyncio::Error::Tls(_))));
    ///     server.close();
    ///     Ok::<_, asyncio::Error>(())
    /// })??;
    /// # Ok::<_, asyncio::Error>(())
    /// ```
    pub fn server_hostname(self, name: &str) -> Self {
        let name = name.to_string();
        self.option(move |c| c.server_hostname(&name))
    }

    /// How long the TLS handshake may take (default 60 s). Past it the connection is
    /// aborted and this fails with [`Error::Io`] of kind `ConnectionAborted`.
    ///
    /// # Examples
    ///
    /// ```
    /// use std::time::Duration;
    ///
    /// # let dir = std::env::temp_dir().join(format!("asyncio-doc-hs-{}", std::process::id()));
    /// # std::fs::create_dir_all(&dir)?;
    /// # let made = rcgen::generate_simple_self_signed(vec!["localhost".into()])?;
    /// # std::fs::write(dir.join("cert.pem"), made.cert.pem())?;
    /// let tls = asyncio::tls::client_config_with_roots(dir.join("cert.pem"))?;
    /// // Accepts (in the kernel) but never answers: the handshake can only time out.
    /// let silent = std::net::TcpListener::bind("127.0.0.1:0")?;
    /// let port = silent.local_addr()?.port();
    /// asyncio::run(async move {
    ///     let late = asyncio::open_connection("127.0.0.1", port)
    ///         .ssl(tls)
    ///         .server_hostname("localhost")
    ///         .ssl_handshake_timeout(Duration::from_millis(50))
    ///         .await;
    ///     match late {
    ///         Err(asyncio::Error::Io(e)) => {
    ///             assert_eq!(e.kind(), std::io::ErrorKind::ConnectionAborted)
    ///         }
    ///         _ => panic!("expected the handshake to time out"),
    ///     }
    /// })?;
    /// # std::fs::remove_dir_all(&dir)?;
    /// # Ok::<_, Box<dyn std::error::Error>>(())
    /// ```
    pub fn ssl_handshake_timeout(self, timeout: Duration) -> Self {
        self.option(move |c| c.ssl_handshake_timeout(timeout))
    }

    /// How long the close_notify exchange may take (default 30 s): past it,
    /// [`close`](StreamWriter::close) gives up waiting for the peer's close_notify and
    /// aborts the connection.
    ///
    /// # Examples
    ///
    /// ```
    /// use std::time::Duration;
    ///
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
    ///     let hi = |_r: asyncio::StreamReader, w: asyncio::StreamWriter| w.write(b"hi");
    ///     let server = asyncio::start_server(hi, "127.0.0.1", 0).ssl(server_config).await?;
    ///     let port = server.sockets()[0].port().unwrap();
    ///     let (reader, writer) = asyncio::open_connection("127.0.0.1", port)
    ///         .ssl(client_config)
    ///         .server_hostname("localhost")
    ///         .ssl_shutdown_timeout(Duration::from_secs(5))
    ///         .await?;
    ///     assert_eq!(reader.readexactly(2).await?, b"hi");
    ///     writer.close(); // close_notify, then at most 5 s for the server's
    ///     writer.wait_closed().await?;
    ///     server.close();
    ///     Ok::<_, asyncio::Error>(())
    /// })??;
    /// # Ok::<_, asyncio::Error>(())
    /// ```
    pub fn ssl_shutdown_timeout(self, timeout: Duration) -> Self {
        self.option(move |c| c.ssl_shutdown_timeout(timeout))
    }

    /// Report an EOF without close_notify as `Error::Tls` instead of a clean EOF.
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
    /// use asyncio::{StreamReader, StreamWriter};
    ///
    /// asyncio::run(async move {
    ///     // After the handshake, abort: the TCP stream ends without close_notify.
    ///     let rude = |_r: StreamReader, w: StreamWriter| async move { w.transport().abort() };
    ///     let server = asyncio::start_server(rude, "127.0.0.1", 0).ssl(server_config).await?;
    ///     let port = server.sockets()[0].port().unwrap();
    ///     let connect = |strict: bool| {
    ///         asyncio::open_connection("127.0.0.1", port)
    ///             .ssl(client_config.clone())
    ///             .server_hostname("localhost")
    ///             .ssl_require_close_notify(strict)
    ///     };
    ///     let (reader, _writer) = connect(false).await?;
    ///     assert_eq!(reader.read(100).await?, b""); // by default a clean EOF, as in Python
    ///     let (reader, _writer) = connect(true).await?;
    ///     match reader.read(100).await {
    ///         Err(asyncio::Error::Tls(e)) => assert!(e.is_truncation(), "{e}"),
    ///         other => panic!("expected a truncation, got {other:?}"),
    ///     }
    ///     server.close();
    ///     Ok::<_, asyncio::Error>(())
    /// })??;
    /// # Ok::<_, asyncio::Error>(())
    /// ```
    // Checklist: D9.
    pub fn ssl_require_close_notify(self, on: bool) -> Self {
        self.option(move |c| c.ssl_require_close_notify(on))
    }
}

impl IntoFuture for OpenConnection {
    type Output = Result<(StreamReader, StreamWriter), Error>;
    type IntoFuture = Pin<Box<dyn Future<Output = Self::Output>>>;

    fn into_future(self) -> Self::IntoFuture {
        Box::pin(self.run())
    }
}

/// Marker for an `async` `client_connected_cb` (spawned as a task).
///
/// # Examples
///
/// ```
/// // Chosen by inference when the callback returns a future:
/// let cb = |_r: asyncio::StreamReader, w: asyncio::StreamWriter| async move {
///     w.close();
///     w.wait_closed().await
/// };
/// asyncio::run(async move {
///     let server = asyncio::start_server(cb, "127.0.0.1", 0).await?;
///     server.close();
///     Ok::<_, asyncio::Error>(())
/// })??;
/// # Ok::<_, asyncio::Error>(())
/// ```
pub struct AsyncCallback<Fut>(PhantomData<Fut>);
/// Marker for a plain `client_connected_cb` (called directly).
///
/// # Examples
///
/// ```
/// // Chosen by inference when the callback is a plain function:
/// fn greet(_r: asyncio::StreamReader, w: asyncio::StreamWriter) -> asyncio::Result<()> {
///     w.write(b"welcome\n")?;
///     w.close();
///     Ok(())
/// }
/// asyncio::run(async {
///     let server = asyncio::start_server(greet, "127.0.0.1", 0).await?;
///     server.close();
///     Ok::<_, asyncio::Error>(())
/// })??;
/// # Ok::<_, asyncio::Error>(())
/// ```
pub struct PlainCallback<R>(PhantomData<R>);

/// A `client_connected_cb`: a function of `(StreamReader, StreamWriter)` that returns a future
/// (spawned as a task) or a plain value; either may be `()` or a `Result` whose `Err` is
/// reported. `M` is inferred; you never name it.
///
/// A closure needs its parameter types written out, `|reader: StreamReader, writer:
/// StreamWriter|`: the compiler cannot infer them through this trait (without them it asks
/// for "type annotations needed" at the first method call on `reader`). The reader and
/// writer come by value, not as references: the callback owns them and may move them into
/// tasks.
///
/// # Examples
///
/// ```
/// use asyncio::{StreamReader, StreamWriter};
///
/// asyncio::run(async {
///     // An async callback: spawned as a task per connection.
///     let echo = |r: StreamReader, w: StreamWriter| async move {
///         w.write(&r.read(100).await?)?;
///         w.close();
///         w.wait_closed().await
///     };
///     let a = asyncio::start_server(echo, "127.0.0.1", 0).await?;
///     // A plain one: called directly; returning () is fine too.
///     let b = asyncio::start_server(|_r: StreamReader, w: StreamWriter| w.close(), "127.0.0.1", 0)
///         .await?;
///     a.close();
///     b.close();
///     Ok::<_, asyncio::Error>(())
/// })??;
/// # Ok::<_, asyncio::Error>(())
/// ```
#[diagnostic::on_unimplemented(
    message = "`{Self}` cannot be a server's `client_connected_cb`",
    label = "a server callback takes `(StreamReader, StreamWriter)` by value",
    note = "the callback takes `(StreamReader, StreamWriter)` by value and returns `()`, \
            `Result<(), E>`, or a future of either (an `async fn` or a closure returning \
            `async move {{ .. }}`): `asyncio::Result<()>` is the usual choice",
    note = "a closure needs its parameter types: `|reader: StreamReader, writer: StreamWriter|`"
)]
pub trait ClientConnected<M>: 'static {
    #[doc(hidden)]
    fn into_callback(self) -> ServerCallback;
}

/// The callback in the form the server calls, as [`ClientConnected`] gives it. Public in
/// name only: declared in this private module and never re-exported, nothing outside the
/// crate can name it, so nobody else can implement the trait (its method's signature names
/// this type), and its field is private, so a caller of the hidden method gets nothing it can
/// use. (The crate's own `ConnectedCb` there would be a private type in a public interface.)
#[doc(hidden)]
pub struct ServerCallback(pub(super) ConnectedCb);

impl<F, Fut> ClientConnected<AsyncCallback<Fut>> for F
where
    F: Fn(StreamReader, StreamWriter) -> Fut + 'static,
    Fut: Future + 'static,
    Fut::Output: CallbackOutput,
{
    fn into_callback(self) -> ServerCallback {
        let cb = Rc::new(self);
        ServerCallback(ConnectedCb::Async(Rc::new(move |core, transport| {
            let lp = transport.get_loop();
            // Made now, not at the first step: a task dropped before it ever ran (the loop
            // closed) closes its connection too, as a cancelled one does (S60).
            let owner = Owner(Some(core));
            lp.spawn(Handler {
                owner,
                start: Some(cb.clone()),
                fut: None,
            })
            .map(crate::Task::detach)
        })))
    }
}

/// The task of one connection with an async `client_connected_cb`, spawned by
/// `connection_made`. Its first step gives the callback the reader and writer and calls it
/// (the function may run code before it returns its future: that code reads and writes too,
/// so it runs here, not inside `connection_made`); every step then polls that future. S60: a
/// failure (an `Err` or a panic) is reported and closes this connection only; a handler
/// cancelled before it ends closes its connection silently (as CPython 3.12's done-callback
/// does for a cancelled task; 3.11's asks `task.exception()`, which raises there, so the loop
/// reports a failed callback and the connection stays open): what it wrote is still sent.
///
/// One future polled straight by the task, the callback's boxed: an `async` block around
/// it cost 27 instructions per echoed message (callgrind), a box costs one allocation per
/// connection.
struct Handler<F, Fut> {
    /// The connection, to report on and close when the future ends or is dropped. Declared
    /// first, so dropped first: a cancelled handler's connection is closed before its future
    /// drops the writer, which then finds it closing and warns of nothing (S60: silently).
    owner: Owner,
    /// Until the first step: the callback. (The connection's transport is its core's: not
    /// kept here too, as this lives as long as the connection.)
    start: Option<Rc<F>>,
    /// The callback's future, from the first step on (`None` if the callback panicked).
    fut: Option<Pin<Box<Fut>>>,
}

/// The connection of a handler task (its transport is the reader's); `Some` until the handler
/// ends. Dropped before then (the task cancelled, or dropped with its loop), it closes the
/// connection.
struct Owner(Option<Rc<RefCell<StreamCore>>>);

impl Owner {
    /// The handler ended, with `failure` if it failed: a failure is reported and closes the
    /// connection, a cancellation only closes it (S60).
    fn ended(&mut self, failure: Option<Box<dyn std::error::Error>>) {
        let core = self.0.take();
        if let (Some(e), Some(core)) = (failure, core) {
            if let Some(transport) = transport_of(&core) {
                if crate::error::is_cancellation(&e) {
                    // Checklist: S60, L32. A cancellation passed on with `?` ends the handler
                    // as a cancelled task: closed, not reported.
                    transport.close();
                } else {
                    handler_failed(&core, &transport, e);
                }
            }
        }
    }
}

/// The transport of a connection's core, the TLS one after `start_tls` (so a failure closes
/// with close_notify, as the writer's `close` would); `None` only if the core is borrowed,
/// which it never is when a handler ends (the transport's calls into the core never drop
/// tasks).
fn transport_of(core: &RefCell<StreamCore>) -> Option<Transport> {
    core.try_borrow().ok().and_then(|c| c.transport().cloned())
}

impl<F, Fut> Future for Handler<F, Fut>
where
    F: Fn(StreamReader, StreamWriter) -> Fut,
    Fut: Future,
    Fut::Output: CallbackOutput,
{
    type Output = ();

    fn poll(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<()> {
        let this = &mut *self;
        if let Some(cb) = this.start.take() {
            let Some(core) = this.owner.0.clone() else {
                return Poll::Ready(());
            };
            let Some(transport) = transport_of(&core) else {
                return Poll::Ready(()); // never: connection_made gave the core its transport
            };
            core.borrow_mut().handler = HandlerState::Given;
            let reader = StreamReader::from_core(core.clone());
            let writer = StreamWriter::new(transport, core);
            match catch_unwind(AssertUnwindSafe(|| cb(reader, writer))) {
                Ok(fut) => this.fut = Some(Box::pin(fut)),
                Err(p) => {
                    this.owner.ended(Some(Box::new(panic_error(None, p))));
                    return Poll::Ready(());
                }
            }
        }
        let Some(fut) = this.fut.as_mut() else {
            return Poll::Ready(()); // polled again after its end
        };
        let failure = match catch_unwind(AssertUnwindSafe(|| fut.as_mut().poll(cx))) {
            Ok(Poll::Pending) => return Poll::Pending,
            Ok(Poll::Ready(v)) => v.into_error(),
            // Converted (the payload dropped caught) first: a payload whose drop panics must
            // not skip the report and the close below.
            Err(p) => Some(Box::new(panic_error(None, p)) as Box<dyn std::error::Error>),
        };
        this.owner.ended(failure);
        Poll::Ready(())
    }
}

impl Drop for Owner {
    fn drop(&mut self) {
        if let Some(t) = self.0.take().as_deref().and_then(transport_of) {
            // Checklist: S60. A close, not an abort: the bytes the handler wrote still go out.
            t.close();
        }
    }
}

impl<F, R> ClientConnected<PlainCallback<R>> for F
where
    F: Fn(StreamReader, StreamWriter) -> R + 'static,
    R: CallbackOutput + 'static,
{
    fn into_callback(self) -> ServerCallback {
        ServerCallback(ConnectedCb::Plain(Rc::new(move |reader, writer| {
            let (core, transport) = (writer.core.clone(), writer.transport().clone());
            let failure = match catch_unwind(AssertUnwindSafe(|| self(reader, writer))) {
                Ok(v) => v.into_error(),
                Err(p) => Some(Box::new(panic_error(None, p)) as Box<dyn std::error::Error>),
            };
            if let Some(e) = failure {
                handler_failed(&core, &transport, e);
            }
        })))
    }
}

enum Listen {
    Host(String, u16),
    Unix(PathBuf),
}

/// The pending result of [`start_server`] / [`start_unix_server`]: set keywords, then
/// `.await` it for a [`Server`].
///
/// # Examples
///
/// ```
/// asyncio::run(async {
///     let noop = |_r: asyncio::StreamReader, w: asyncio::StreamWriter| w.close();
///     let pending: asyncio::StartServer = asyncio::start_server(noop, "127.0.0.1", 0)
///         .limit(4096)
///         .backlog(16);
///     let server = pending.await?; // binds and listens here
///     assert!(server.is_serving());
///     server.close();
///     Ok::<_, asyncio::Error>(())
/// })??;
/// # Ok::<_, asyncio::Error>(())
/// ```
///
/// The other socket keywords together (the TLS ones are under `ssl`;
/// [`sock`](StartServer::sock), [`cleanup_socket`](StartServer::cleanup_socket) and
/// [`proxy_protocol_timeout`](StartServer::proxy_protocol_timeout) have their own):
///
/// ```
/// use asyncio::{AddressFamily, StreamReader, StreamWriter};
///
/// asyncio::run(async {
///     let hi = |_r: StreamReader, w: StreamWriter| w.write(b"hi");
///     let server = asyncio::start_server(hi, "", 0)
///         .hosts(&["localhost"]) // one listening socket per address it names
///         .family(AddressFamily::Inet) // IPv4 addresses only
///         .reuse_address(true) // SO_REUSEADDR (the default)
///         .reuse_port(false) // SO_REUSEPORT (the default)
///         .keep_alive(true) // SO_KEEPALIVE
///         .reserve_fd(true) // a spare descriptor for when they run out
///         .start_serving(false) // bound, but not yet accepting
///         .await?;
///     let addrs: Vec<_> = server.sockets().iter().map(|a| a.as_inet().unwrap()).collect();
///     assert!(!addrs.is_empty());
///     assert!(addrs.iter().all(|a| a.is_ipv4() && a.port() != 0)); // no ::1
///     assert!(!server.is_serving());
///
///     server.start_serving().await?;
///     let (reader, writer) = asyncio::open_connection("127.0.0.1", addrs[0].port()).await?;
///     assert_eq!(reader.readexactly(2).await?, b"hi");
///     writer.close();
///     server.close();
///     Ok::<_, asyncio::Error>(())
/// })??;
/// # Ok::<_, asyncio::Error>(())
/// ```
#[must_use = "a server builder does nothing until awaited"]
pub struct StartServer {
    cb: ConnectedCb,
    listen: Listen,
    limit: usize,
    options: Vec<ServerOption>,
}

/// Starts a server that calls `client_connected_cb(reader, writer)` for each connection
/// (Python's `asyncio.start_server`). The callback may be an `async` function
/// (spawned as a task) or a plain one; an error or panic in it is reported and closes that
/// connection only. An empty `host` listens on every interface.
///
/// # Errors
///
/// [`Error::Io`], errno kept: kind `AddrInUse` when the port is taken (`[Errno 98] error
/// while attempting to bind on address 127.0.0.1:8888: address already in use`; port 0 lets
/// the OS pick a free one); kind `NotFound` for a host name that does not resolve.
///
/// # Examples
///
/// ```
/// use asyncio::{StreamReader, StreamWriter};
///
/// asyncio::run(async {
///     let upper = |reader: StreamReader, writer: StreamWriter| async move {
///         let line = reader.readline().await?;
///         writer.write(&line.to_ascii_uppercase())?;
///         writer.close();
///         writer.wait_closed().await
///     };
///     let server = asyncio::start_server(upper, "127.0.0.1", 0).await?;
///     let port = server.sockets()[0].port().unwrap();
///
///     let (reader, writer) = asyncio::open_connection("127.0.0.1", port).await?;
///     writer.write(b"shout\n")?;
///     assert_eq!(reader.readline().await?, b"SHOUT\n");
///     writer.close();
///     server.close();
///     Ok::<_, asyncio::Error>(())
/// })??;
/// # Ok::<_, asyncio::Error>(())
/// ```
///
/// State shared by the connections (a chat server's clients, where Python would use a
/// module-level dict): put it in an `Rc`, and pass a `move` closure that hands each call its
/// own clone. The loop is single-threaded, so `Rc<RefCell<..>>` does; no `Arc`, no
/// `thread_local!`.
///
/// ```
/// use std::{cell::RefCell, rc::Rc};
/// use asyncio::{StreamReader, StreamWriter};
///
/// async fn handle(r: StreamReader, w: StreamWriter, seen: Rc<RefCell<Vec<Vec<u8>>>>)
///     -> Result<(), asyncio::Error> {
///     let line = r.readline().await?;
///     seen.borrow_mut().push(line);
///     w.write(format!("{} lines so far\n", seen.borrow().len()).as_bytes())?;
///     w.close();
///     w.wait_closed().await
/// }
///
/// asyncio::run(async {
///     let seen = Rc::new(RefCell::new(Vec::new()));
///     let shared = seen.clone();
///     let cb = move |r, w| handle(r, w, shared.clone());
///     let server = asyncio::start_server(cb, "127.0.0.1", 0).await?;
///     let port = server.sockets()[0].port().unwrap();
///     for _ in 0..2 {
///         let (reader, writer) = asyncio::open_connection("127.0.0.1", port).await?;
///         writer.write(b"hi\n")?;
///         reader.read_to_end().await?;
///     }
///     assert_eq!(seen.borrow().len(), 2);
///     Ok::<_, asyncio::Error>(())
/// })??;
/// # Ok::<_, asyncio::Error>(())
/// ```
// Checklist: S4, S10, S60, S61.
pub fn start_server<M, C: ClientConnected<M>>(
    client_connected_cb: C,
    host: &str,
    port: u16,
) -> StartServer {
    StartServer {
        cb: client_connected_cb.into_callback().0,
        listen: Listen::Host(host.to_string(), port),
        limit: DEFAULT_LIMIT,
        options: Vec::new(),
    }
}

/// Starts a Unix-socket server (Python's `asyncio.start_unix_server`). The TCP keywords
/// (`hosts`, `family`, `reuse_address`, `reuse_port`, `keep_alive`) make it fail with
/// `Error::InvalidArgument`, as
/// [`LoopHandle::create_unix_server`](crate::LoopHandle::create_unix_server) does.
///
/// # Examples
///
/// ```
/// let path = std::env::temp_dir().join(format!("asyncio-doc-{}.sock", std::process::id()));
/// asyncio::run(async move {
///     let bye = |_r: asyncio::StreamReader, w: asyncio::StreamWriter| w.close();
///     let server = asyncio::start_unix_server(bye, &path).await?;
///     assert_eq!(server.sockets()[0].to_string(), path.display().to_string());
///     server.close();
///     server.wait_closed().await;
///     assert!(!path.exists(), "the socket file is removed on close");
///     Ok::<_, asyncio::Error>(())
/// })??;
/// # Ok::<_, asyncio::Error>(())
/// ```
// Checklist: S5.
pub fn start_unix_server<M, C: ClientConnected<M>>(
    client_connected_cb: C,
    path: impl AsRef<Path>,
) -> StartServer {
    StartServer {
        cb: client_connected_cb.into_callback().0,
        listen: Listen::Unix(path.as_ref().to_path_buf()),
        limit: DEFAULT_LIMIT,
        options: Vec::new(),
    }
}

impl StartServer {
    fn option(mut self, f: impl FnOnce(CreateServer) -> CreateServer + 'static) -> Self {
        self.options.push(Box::new(f));
        self
    }

    /// Each reader's limit (default 64 KiB); checked before the server starts.
    ///
    /// # Examples
    ///
    /// ```
    /// use asyncio::{StreamReader, StreamWriter};
    ///
    /// asyncio::run(async {
    ///     let say_limit = |reader: StreamReader, writer: StreamWriter| async move {
    ///         writer.write(reader.limit().to_string().as_bytes())?;
    ///         writer.close();
    ///         writer.wait_closed().await
    ///     };
    ///     let server = asyncio::start_server(say_limit, "127.0.0.1", 0).limit(1024).await?;
    ///     let port = server.sockets()[0].port().unwrap();
    ///     let (reader, _writer) = asyncio::open_connection("127.0.0.1", port).await?;
    ///     assert_eq!(reader.read(-1).await?, b"1024");
    ///     // A limit of 0 is refused before anything is bound.
    ///     let zero = asyncio::start_server(say_limit, "127.0.0.1", 0).limit(0).await;
    ///     assert!(matches!(zero, Err(asyncio::Error::InvalidArgument(_))));
    ///     server.close();
    ///     Ok::<_, asyncio::Error>(())
    /// })??;
    /// # Ok::<_, asyncio::Error>(())
    /// ```
    // Checklist: S4.
    pub fn limit(mut self, limit: usize) -> Self {
        self.limit = limit;
        self
    }

    /// Bind several hosts (see [`CreateServer::hosts`]): a listening socket for each
    /// address they name, all serving the same callback.
    ///
    /// # Examples
    ///
    /// ```
    /// asyncio::run(async {
    ///     let noop = |_r: asyncio::StreamReader, w: asyncio::StreamWriter| w.close();
    ///     // The host argument is left empty; the list replaces it.
    ///     let server = asyncio::start_server(noop, "", 0)
    ///         .hosts(&["127.0.0.1", "127.0.0.2"])
    ///         .await?;
    ///     let ips: Vec<_> = server.sockets().iter().map(|a| a.as_inet().unwrap().ip()).collect();
    ///     assert_eq!(ips, ["127.0.0.1".parse::<std::net::IpAddr>()?, "127.0.0.2".parse()?]);
    ///     server.close();
    ///     Ok::<_, Box<dyn std::error::Error>>(())
    /// })??;
    /// # Ok::<_, Box<dyn std::error::Error>>(())
    /// ```
    pub fn hosts<S: AsRef<str>>(self, hosts: &[S]) -> Self {
        let hosts: Vec<String> = hosts.iter().map(|h| h.as_ref().to_string()).collect();
        self.option(move |s| s.hosts(&hosts))
    }

    /// Bind only the addresses of this family among those the host names.
    ///
    /// # Examples
    ///
    /// ```
    /// use asyncio::AddressFamily;
    ///
    /// asyncio::run(async {
    ///     let noop = |_r: asyncio::StreamReader, w: asyncio::StreamWriter| w.close();
    ///     // `localhost` may name ::1 as well: only its IPv4 addresses are bound.
    ///     let server = asyncio::start_server(noop, "localhost", 0)
    ///         .family(AddressFamily::Inet)
    ///         .await?;
    ///     assert!(server.sockets().iter().all(|a| a.as_inet().unwrap().is_ipv4()));
    ///     server.close();
    ///     Ok::<_, asyncio::Error>(())
    /// })??;
    /// # Ok::<_, asyncio::Error>(())
    /// ```
    pub fn family(self, family: AddressFamily) -> Self {
        self.option(move |s| s.family(family))
    }

    /// `listen()` backlog (100): how many connections the kernel completes and keeps for
    /// the server before it accepts them.
    ///
    /// # Examples
    ///
    /// ```
    /// asyncio::run(async {
    ///     let hi = |_r: asyncio::StreamReader, w: asyncio::StreamWriter| w.write(b"hi");
    ///     let server = asyncio::start_server(hi, "127.0.0.1", 0).backlog(16).await?;
    ///     let port = server.sockets()[0].port().unwrap();
    ///     let (reader, writer) = asyncio::open_connection("127.0.0.1", port).await?;
    ///     assert_eq!(reader.readexactly(2).await?, b"hi");
    ///     writer.close();
    ///     server.close();
    ///     Ok::<_, asyncio::Error>(())
    /// })??;
    /// # Ok::<_, asyncio::Error>(())
    /// ```
    pub fn backlog(self, backlog: u32) -> Self {
        self.option(move |s| s.backlog(backlog))
    }

    /// `SO_REUSEADDR` (on): a port can be bound again while connections it served linger
    /// in `TIME_WAIT`, so a restarted server need not wait for them.
    ///
    /// # Examples
    ///
    /// ```
    /// asyncio::run(async {
    ///     let bye = |_r: asyncio::StreamReader, w: asyncio::StreamWriter| w.close();
    ///     let first = asyncio::start_server(bye, "127.0.0.1", 0).reuse_address(true).await?;
    ///     let port = first.sockets()[0].port().unwrap();
    ///     // A connection the server closes first: its end lingers in TIME_WAIT.
    ///     let (reader, writer) = asyncio::open_connection("127.0.0.1", port).await?;
    ///     assert_eq!(reader.read(-1).await?, b"");
    ///     writer.close();
    ///     first.close();
    ///     first.wait_closed().await;
    ///     // The same port again, at once.
    ///     let again = asyncio::start_server(bye, "127.0.0.1", port).reuse_address(true).await?;
    ///     assert_eq!(again.sockets()[0].port().unwrap(), port);
    ///     again.close();
    ///     Ok::<_, asyncio::Error>(())
    /// })??;
    /// # Ok::<_, asyncio::Error>(())
    /// ```
    pub fn reuse_address(self, on: bool) -> Self {
        self.option(move |s| s.reuse_address(on))
    }

    /// `SO_REUSEPORT` (off): with it on every server that shares a port, the kernel spreads
    /// the connections among them.
    ///
    /// # Examples
    ///
    /// ```
    /// asyncio::run(async {
    ///     let noop = |_r: asyncio::StreamReader, w: asyncio::StreamWriter| w.close();
    ///     let first = asyncio::start_server(noop, "127.0.0.1", 0).reuse_port(true).await?;
    ///     let port = first.sockets()[0].port().unwrap();
    ///     // Both ask for SO_REUSEPORT: the second listens on the same port.
    ///     let second = asyncio::start_server(noop, "127.0.0.1", port).reuse_port(true).await?;
    ///     assert_eq!(second.sockets()[0].port().unwrap(), port);
    ///     // Without it, the port is taken.
    ///     let Err(taken) = asyncio::start_server(noop, "127.0.0.1", port).await else {
    ///         panic!("bound a port in use");
    ///     };
    ///     assert_eq!(taken.kind(), std::io::ErrorKind::AddrInUse);
    ///     first.close();
    ///     second.close();
    ///     Ok::<_, asyncio::Error>(())
    /// })??;
    /// # Ok::<_, asyncio::Error>(())
    /// ```
    pub fn reuse_port(self, on: bool) -> Self {
        self.option(move |s| s.reuse_port(on))
    }

    /// `SO_KEEPALIVE` on the listening sockets (off), which the accepted connections
    /// inherit on Linux: the kernel probes a connection silent for long (two hours by default) and
    /// ends it if the peer is gone.
    ///
    /// # Examples
    ///
    /// ```
    /// asyncio::run(async {
    ///     let hi = |_r: asyncio::StreamReader, w: asyncio::StreamWriter| w.write(b"hi");
    ///     let server = asyncio::start_server(hi, "127.0.0.1", 0).keep_alive(true).await?;
    ///     let port = server.sockets()[0].port().unwrap();
    ///     let (reader, writer) = asyncio::open_connection("127.0.0.1", port).await?;
    ///     assert_eq!(reader.readexactly(2).await?, b"hi");
    ///     writer.close();
    ///     server.close();
    ///     Ok::<_, asyncio::Error>(())
    /// })??;
    /// # Ok::<_, asyncio::Error>(())
    /// ```
    pub fn keep_alive(self, on: bool) -> Self {
        self.option(move |s| s.keep_alive(on))
    }

    /// Keep a spare descriptor to shed connections when out of descriptors
    /// (see [`CreateServer::reserve_fd`]).
    ///
    /// # Examples
    ///
    /// ```
    /// asyncio::run(async {
    ///     let hi = |_r: asyncio::StreamReader, w: asyncio::StreamWriter| w.write(b"hi");
    ///     // Out of descriptors, the server would close the spare, accept a waiting client
    ///     // and close it at once (no hanging in the backlog), then reopen the spare.
    ///     let server = asyncio::start_server(hi, "127.0.0.1", 0).reserve_fd(true).await?;
    ///     let port = server.sockets()[0].port().unwrap();
    ///     let (reader, writer) = asyncio::open_connection("127.0.0.1", port).await?;
    ///     assert_eq!(reader.readexactly(2).await?, b"hi"); // served as usual until then
    ///     writer.close();
    ///     server.close();
    ///     Ok::<_, asyncio::Error>(())
    /// })??;
    /// # Ok::<_, asyncio::Error>(())
    /// ```
    pub fn reserve_fd(self, on: bool) -> Self {
        self.option(move |s| s.reserve_fd(on))
    }

    /// Listen at once (default) or at [`Server::start_serving`].
    ///
    /// # Examples
    ///
    /// ```
    /// asyncio::run(async {
    ///     let hi = |_r: asyncio::StreamReader, w: asyncio::StreamWriter| w.write(b"hi");
    ///     let server = asyncio::start_server(hi, "127.0.0.1", 0).start_serving(false).await?;
    ///     assert!(!server.is_serving()); // bound, its address known, not accepting yet
    ///     let port = server.sockets()[0].port().unwrap();
    ///     server.start_serving().await?;
    ///     assert!(server.is_serving());
    ///     let (reader, writer) = asyncio::open_connection("127.0.0.1", port).await?;
    ///     assert_eq!(reader.readexactly(2).await?, b"hi");
    ///     writer.close();
    ///     server.close();
    ///     Ok::<_, asyncio::Error>(())
    /// })??;
    /// # Ok::<_, asyncio::Error>(())
    /// ```
    pub fn start_serving(self, on: bool) -> Self {
        self.option(move |s| s.start_serving(on))
    }

    /// Serve on a listening socket you made (Python's `start_server(cb, sock=…)`) instead of
    /// binding: give `""` and port 0 as host and port, since a host or port given too is an
    /// error (`host/port and sock can not be specified at the same time`).
    ///
    /// # Examples
    ///
    /// ```
    /// asyncio::run(async {
    ///     let listener = std::net::TcpListener::bind("127.0.0.1:0")?;
    ///     let addr = listener.local_addr()?;
    ///     let bye = |_r: asyncio::StreamReader, w: asyncio::StreamWriter| w.close();
    ///     let server = asyncio::start_server(bye, "", 0).sock(listener).await?;
    ///     assert_eq!(server.sockets()[0].as_inet(), Some(addr));
    ///     server.close();
    ///     Ok::<_, asyncio::Error>(())
    /// })??;
    /// # Ok::<_, asyncio::Error>(())
    /// ```
    pub fn sock(self, sock: impl Into<ListenSocket>) -> Self {
        let sock = sock.into();
        self.option(move |s| s.sock(sock))
    }

    /// Unix: remove the socket file on close (default on; `start_unix_server` only, see
    /// [`CreateServer::cleanup_socket`](crate::CreateServer::cleanup_socket)).
    ///
    /// # Examples
    ///
    /// ```
    /// let name = format!("asyncio-doc-keep-{}.sock", std::process::id());
    /// let path = std::env::temp_dir().join(name);
    /// let file = path.clone();
    /// asyncio::run(async move {
    ///     let bye = |_r: asyncio::StreamReader, w: asyncio::StreamWriter| w.close();
    ///     let server = asyncio::start_unix_server(bye, &file).cleanup_socket(false).await?;
    ///     server.close();
    ///     server.wait_closed().await;
    ///     Ok::<_, asyncio::Error>(())
    /// })??;
    /// assert!(path.exists(), "the socket file is left in place");
    /// std::fs::remove_file(&path)?;
    /// # Ok::<_, Box<dyn std::error::Error>>(())
    /// ```
    pub fn cleanup_socket(self, on: bool) -> Self {
        self.option(move |s| s.cleanup_socket(on))
    }

    /// Read a PROXY protocol header first on each connection (see
    /// [`CreateServer::proxy_protocol`]): the callback runs once it is in, and the writer's
    /// `peername()` is the client's address it carries.
    ///
    /// # Examples
    ///
    /// ```
    /// use asyncio::{ProxyProtocol, StreamReader, StreamWriter};
    ///
    /// asyncio::run(async {
    ///     let who = |_r: StreamReader, w: StreamWriter| {
    ///         let peer = w.peername().map(|a| a.to_string()).unwrap_or_default();
    ///         let _ = w.write(peer.as_bytes());
    ///         w.close();
    ///     };
    ///     let server = asyncio::start_server(who, "127.0.0.1", 0)
    ///         .proxy_protocol(ProxyProtocol::Optional)
    ///         .await?;
    ///     let port = server.sockets()[0].port().unwrap();
    ///     let (reader, writer) = asyncio::open_connection("127.0.0.1", port).await?;
    ///     writer.write(b"PROXY TCP6 2001:db8::1 2001:db8::2 40000 443\r\n")?;
    ///     assert_eq!(reader.read(-1).await?, b"[2001:db8::1]:40000");
    ///     server.close();
    ///     Ok::<_, asyncio::Error>(())
    /// })??;
    /// # Ok::<_, asyncio::Error>(())
    /// ```
    pub fn proxy_protocol(self, mode: crate::proxy_protocol::ProxyProtocol) -> Self {
        self.option(move |s| s.proxy_protocol(mode))
    }

    /// How long a PROXY header may take (default 5 s; see
    /// [`CreateServer::proxy_protocol_timeout`]).
    ///
    /// # Examples
    ///
    /// ```
    /// use std::time::Duration;
    /// use asyncio::{ProxyProtocol, StreamReader, StreamWriter};
    ///
    /// asyncio::run(async {
    ///     let hi = |_r: StreamReader, w: StreamWriter| w.write(b"hi");
    ///     let server = asyncio::start_server(hi, "127.0.0.1", 0)
    ///         .proxy_protocol(ProxyProtocol::Required)
    ///         .proxy_protocol_timeout(Duration::from_millis(50))
    ///         .await?;
    ///     let port = server.sockets()[0].port().unwrap();
    ///     let (reader, _writer) = asyncio::open_connection("127.0.0.1", port).await?;
    ///     // No header within 50 ms: closed, and the callback never ran.
    ///     assert_eq!(reader.read(-1).await?, b"");
    ///     server.close();
    ///     Ok::<_, asyncio::Error>(())
    /// })??;
    /// # Ok::<_, asyncio::Error>(())
    /// ```
    pub fn proxy_protocol_timeout(self, timeout: Duration) -> Self {
        self.option(move |s| s.proxy_protocol_timeout(timeout))
    }

    async fn run(self) -> Result<Server, Error> {
        let lp = crate::event_loop::get_running_loop()?;
        // S4 (D7): a bad limit fails before serving, in create_server's order of checks.
        let refused = ReaderState::new(self.limit).err();
        let (cb, limit) = (self.cb, self.limit);
        let factory: Rc<dyn Fn() -> ProtocolRef> = Rc::new(move || {
            let reader = ReaderState::new(limit).expect("limit checked above");
            StreamCore::with_callback(reader, cb.clone()) as ProtocolRef
        });
        let mut builder = match &self.listen {
            Listen::Host(h, p) => CreateServer::with_raw_factory(&lp, factory, h, *p),
            Listen::Unix(path) => CreateServer::with_raw_factory_unix(&lp, factory, path),
        };
        for opt in self.options {
            builder = opt(builder);
        }
        if let Some(e) = refused {
            builder = builder.refuse(e);
        }
        builder.await
    }
}

impl StartServer {
    /// A builder serving the bound `listeners` (one per address) with an already erased
    /// callback: what each worker of a [`ServerGroup`](crate::ServerGroup) starts on its own
    /// thread.
    pub(crate) fn on_listeners(cb: ConnectedCb, listeners: Vec<std::net::TcpListener>) -> Self {
        StartServer {
            cb,
            listen: Listen::Host(String::new(), 0),
            limit: DEFAULT_LIMIT,
            options: Vec::new(),
        }
        .option(move |s| s.tcp_socks(listeners))
    }
}

/// TLS keywords (feature `tls`): forwarded to [`CreateServer`].
// Checklist: S9, T36.
#[cfg(feature = "tls")]
impl StartServer {
    /// Serve TLS with this configuration (Python's `ssl=<SSLContext>`): each handshake completes
    /// before `client_connected_cb` runs; failed handshakes never reach it.
    ///
    /// # Examples
    ///
    /// ```
    /// use std::time::Duration;
    ///
    /// # let dir = std::env::temp_dir().join(format!("asyncio-doc-srv-{}", std::process::id()));
    /// # std::fs::create_dir_all(&dir)?;
    /// # let made = rcgen::generate_simple_self_signed(vec!["localhost".into()])?;
    /// # std::fs::write(dir.join("cert.pem"), made.cert.pem())?;
    /// # std::fs::write(dir.join("key.pem"), made.key_pair.serialize_pem())?;
    /// // cert.pem / key.pem: a self-signed certificate for localhost.
    /// let (cert, key) = (dir.join("cert.pem"), dir.join("key.pem"));
    /// asyncio::run(async move {
    ///     let hi = |_r: asyncio::StreamReader, w: asyncio::StreamWriter| w.write(b"hi");
    ///     let server = asyncio::start_server(hi, "127.0.0.1", 0)
    ///         .ssl(asyncio::tls::server_config(&cert, &key)?)
    ///         .ssl_handshake_timeout(Duration::from_secs(10)) // per connection
    ///         .ssl_shutdown_timeout(Duration::from_secs(5))
    ///         .ssl_require_close_notify(true)
    ///         .await?;
    ///     let port = server.sockets()[0].port().unwrap();
    ///
    ///     let (reader, writer) = asyncio::open_connection("127.0.0.1", port)
    ///         .ssl(asyncio::tls::client_config_with_roots(&cert)?)
    ///         .server_hostname("localhost")
    ///         .await?;
    ///     assert_eq!(reader.readexactly(2).await?, b"hi");
    ///     assert!(writer.tls_info().is_some());
    ///     writer.close();
    ///     server.close();
    ///     Ok::<_, asyncio::Error>(())
    /// })??;
    /// # std::fs::remove_dir_all(&dir)?;
    /// # Ok::<_, Box<dyn std::error::Error>>(())
    /// ```
    pub fn ssl(self, config: impl Into<std::sync::Arc<rustls::ServerConfig>>) -> Self {
        let config = config.into();
        self.option(move |s| s.ssl(config))
    }

    /// How long each TLS handshake may take (default 60 s): a client that has not finished
    /// its handshake by then is disconnected, and the callback never hears of it.
    ///
    /// # Examples
    ///
    /// ```
    /// use std::time::Duration;
    ///
    /// # let dir = std::env::temp_dir().join(format!("asyncio-doc-shs-{}", std::process::id()));
    /// # std::fs::create_dir_all(&dir)?;
    /// # let made = rcgen::generate_simple_self_signed(vec!["localhost".into()])?;
    /// # std::fs::write(dir.join("cert.pem"), made.cert.pem())?;
    /// # std::fs::write(dir.join("key.pem"), made.key_pair.serialize_pem())?;
    /// let tls = asyncio::tls::server_config(dir.join("cert.pem"), dir.join("key.pem"))?;
    /// asyncio::run(async move {
    ///     let hi = |_r: asyncio::StreamReader, w: asyncio::StreamWriter| w.write(b"hi");
    ///     let server = asyncio::start_server(hi, "127.0.0.1", 0)
    ///         .ssl(tls)
    ///         .ssl_handshake_timeout(Duration::from_millis(50))
    ///         .await?;
    ///     let port = server.sockets()[0].port().unwrap();
    ///     // A plain client that never starts the handshake.
    ///     let (reader, _writer) = asyncio::open_connection("127.0.0.1", port).await?;
    ///     let end = reader.read(-1).await; // EOF, or a reset: no byte either way
    ///     assert!(end.map_or(true, |got| got.is_empty()));
    ///     server.close();
    ///     Ok::<_, asyncio::Error>(())
    /// })??;
    /// # std::fs::remove_dir_all(&dir)?;
    /// # Ok::<_, Box<dyn std::error::Error>>(())
    /// ```
    pub fn ssl_handshake_timeout(self, timeout: Duration) -> Self {
        self.option(move |s| s.ssl_handshake_timeout(timeout))
    }

    /// How long each close_notify exchange may take (default 30 s): past it, a connection
    /// the handler closed stops waiting for the client's close_notify and is aborted.
    ///
    /// # Examples
    ///
    /// ```
    /// use std::time::Duration;
    ///
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
    ///     let bye = |_r: asyncio::StreamReader, w: asyncio::StreamWriter| w.close();
    ///     let server = asyncio::start_server(bye, "127.0.0.1", 0)
    ///         .ssl(server_config)
    ///         .ssl_shutdown_timeout(Duration::from_secs(5))
    ///         .await?;
    ///     let port = server.sockets()[0].port().unwrap();
    ///     let (reader, _writer) = asyncio::open_connection("127.0.0.1", port)
    ///         .ssl(client_config)
    ///         .server_hostname("localhost")
    ///         .await?;
    ///     assert_eq!(reader.read(100).await?, b""); // the server's close_notify
    ///     server.close();
    ///     Ok::<_, asyncio::Error>(())
    /// })??;
    /// # Ok::<_, asyncio::Error>(())
    /// ```
    pub fn ssl_shutdown_timeout(self, timeout: Duration) -> Self {
        self.option(move |s| s.ssl_shutdown_timeout(timeout))
    }

    /// Report an EOF without close_notify as `Error::Tls` instead of a clean EOF, to each
    /// connection's reader.
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
    /// use asyncio::{StreamReader, StreamWriter};
    ///
    /// asyncio::run(async move {
    ///     let lp = asyncio::get_running_loop()?;
    ///     let truncated = lp.create_future();
    ///     let tell = truncated.clone();
    ///     let strict = move |reader: StreamReader, writer: StreamWriter| {
    ///         let tell = tell.clone();
    ///         async move {
    ///             writer.write(b"go")?;
    ///             let end = reader.read(100).await;
    ///             let cut = matches!(end, Err(asyncio::Error::Tls(e)) if e.is_truncation());
    ///             let _ = tell.set_result(cut);
    ///             writer.close();
    ///             Ok::<_, asyncio::Error>(())
    ///         }
    ///     };
    ///     let server = asyncio::start_server(strict, "127.0.0.1", 0)
    ///         .ssl(server_config)
    ///         .ssl_require_close_notify(true)
    ///         .await?;
    ///     let port = server.sockets()[0].port().unwrap();
    ///     let (reader, writer) = asyncio::open_connection("127.0.0.1", port)
    ///         .ssl(client_config)
    ///         .server_hostname("localhost")
    ///         .await?;
    ///     assert_eq!(reader.readexactly(2).await?, b"go");
    ///     writer.transport().abort(); // gone without close_notify
    ///     assert!(truncated.await?, "the handler's read fails as a truncation");
    ///     server.close();
    ///     Ok::<_, asyncio::Error>(())
    /// })??;
    /// # Ok::<_, asyncio::Error>(())
    /// ```
    // Checklist: D9.
    pub fn ssl_require_close_notify(self, on: bool) -> Self {
        self.option(move |s| s.ssl_require_close_notify(on))
    }
}

impl IntoFuture for StartServer {
    type Output = Result<Server, Error>;
    type IntoFuture = Pin<Box<dyn Future<Output = Self::Output>>>;

    fn into_future(self) -> Self::IntoFuture {
        Box::pin(self.run())
    }
}
