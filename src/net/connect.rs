//! `loop.create_connection` and `loop.create_unix_connection`: resolve, connect (happy
//! eyeballs optional), wrap the socket in a transport, wait for `connection_made`.
//!
//! Mirrors `BaseEventLoop.create_connection`, `_connect_sock`, `_create_connection_transport`
//! in CPython `Lib/asyncio/base_events.py` and `sock_connect` in `selector_events.py`
//! (L84–L94), and `_UnixSelectorEventLoop.create_unix_connection` (L111–L113). Ground rules:
//! every socket made here is owned by a value whose `Drop` closes it, so cancelling (dropping)
//! the connect future at any point leaks nothing (L94); names are resolved off the loop
//! (`resolve.rs`); the transport is returned only after `connection_made` has run (L45, L94).
//! The connect itself (non-blocking `connect`, the wait for writability, `SO_ERROR`) is the
//! transport layer's `sock_connect` (`transport/connecting.rs`): nothing here touches mio.

use std::cell::{Cell, RefCell};
use std::future::{Future, IntoFuture};
use std::io;
use std::net::SocketAddr;
use std::os::fd::{AsFd, OwnedFd};
use std::os::unix::ffi::OsStrExt;
use std::path::{Path, PathBuf};
use std::pin::Pin;
use std::rc::Rc;
use std::task::{Poll, Waker};
use std::time::Duration;

use super::happy_eyeballs::{combine_errors, staggered_race, RaceOutcome};
use super::resolve::{interleave, resolve, Family};
use super::socket_opts::{bind_error, check_stream, tcp_socket, unix_stream_mismatch};
use crate::error::{strerror, Error, OsError};
use crate::event_loop::LoopHandle;
use crate::protocol::Protocol;
use crate::transport::connecting::{
    adopt_tcp, adopt_unix, sock_connect, sock_connect_unix, ConnectError,
};
use crate::transport::life_path::LifePath;
use crate::transport::socket::{Socket, SocketTransport};
use crate::transport::Transport;

/// An already connected stream socket to adopt (`create_connection(sock=…)`).
///
/// # Examples
///
/// ```
/// use asyncio::StreamSocket;
///
/// let listener = std::net::TcpListener::bind("127.0.0.1:0")?;
/// let tcp: StreamSocket = std::net::TcpStream::connect(listener.local_addr()?)?.into();
/// let (a, _b) = asyncio::socketpair()?;
/// let unix: StreamSocket = a.into();
/// assert!(matches!((tcp, unix), (StreamSocket::Tcp(_), StreamSocket::Unix(_))));
/// # Ok::<_, Box<dyn std::error::Error>>(())
/// ```
// Checklist: L85, L113, L122.
#[derive(Debug)]
pub enum StreamSocket {
    /// A connected TCP stream.
    Tcp(std::net::TcpStream),
    /// A connected Unix stream (e.g. one end of [`socketpair`]).
    Unix(std::os::unix::net::UnixStream),
}

impl From<std::net::TcpStream> for StreamSocket {
    fn from(s: std::net::TcpStream) -> Self {
        StreamSocket::Tcp(s)
    }
}

impl From<std::os::unix::net::UnixStream> for StreamSocket {
    fn from(s: std::os::unix::net::UnixStream) -> Self {
        StreamSocket::Unix(s)
    }
}

impl StreamSocket {
    /// Whether it is a stream socket (L85): an argument check, made before the TLS ones.
    pub(crate) fn check(&self) -> Result<(), Error> {
        let fd = match self {
            StreamSocket::Tcp(s) => s.as_fd(),
            StreamSocket::Unix(s) => s.as_fd(),
        };
        check_stream(&fd)
    }

    /// The socket, non-blocking, once it is known to be a stream socket (L85, L95). Its own
    /// family decides how it is served, not the std type it came in (any descriptor converts
    /// into either): a Unix stream as Unix, a TCP one as TCP (with TCP_NODELAY, L57); a socket
    /// of another family as the type it came in (never with TCP_NODELAY).
    pub(crate) fn into_socket(self) -> Result<Socket, Error> {
        let (fd, came_as_unix) = match self {
            StreamSocket::Tcp(s) => (OwnedFd::from(s), false),
            StreamSocket::Unix(s) => (OwnedFd::from(s), true),
        };
        check_stream(&fd.as_fd())?;
        let unix = match socket2::SockRef::from(&fd).domain()? {
            socket2::Domain::UNIX => true,
            socket2::Domain::IPV4 | socket2::Domain::IPV6 => false,
            _ => came_as_unix,
        };
        Ok(if unix {
            adopt_unix(fd.into())?
        } else {
            adopt_tcp(fd.into())?
        })
    }
}

/// Two connected Unix stream sockets (Python's `socket.socketpair()`), blocking; give one
/// to [`LoopHandle::create_connection`] with `.sock(…)` (it is made non-blocking there).
///
/// # Errors
/// `Error::Io` if the OS refuses.
///
/// # Examples
///
/// ```
/// asyncio::run(async {
///     let (a, b) = asyncio::socketpair()?;
///     let (_, writer) = asyncio::open_connection_sock(a).await?;
///     let (reader, _w) = asyncio::open_connection_sock(b).await?;
///     writer.write(b"x")?;
///     assert_eq!(reader.readexactly(1).await?, b"x");
///     Ok::<_, asyncio::Error>(())
/// })??;
/// # Ok::<_, asyncio::Error>(())
/// ```
// Checklist: L122.
pub fn socketpair() -> Result<
    (
        std::os::unix::net::UnixStream,
        std::os::unix::net::UnixStream,
    ),
    Error,
> {
    Ok(std::os::unix::net::UnixStream::pair()?)
}

/// The address family to connect or bind with (Python's `family=` keyword).
///
/// # Examples
///
/// ```
/// use asyncio::AddressFamily;
///
/// asyncio::run(async {
///     let noop = |_r: asyncio::StreamReader, w: asyncio::StreamWriter| w.close();
///     let server = asyncio::start_server(noop, "127.0.0.1", 0).family(AddressFamily::Inet).await?;
///     assert!(server.sockets()[0].as_inet().unwrap().is_ipv4());
///     server.close();
///     Ok::<_, asyncio::Error>(())
/// })??;
/// # Ok::<_, asyncio::Error>(())
/// ```
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub enum AddressFamily {
    /// Any (`AF_UNSPEC`, the default).
    #[default]
    Unspecified,
    /// IPv4 only (`AF_INET`).
    Inet,
    /// IPv6 only (`AF_INET6`).
    Inet6,
}

impl AddressFamily {
    pub(crate) fn family(self) -> Family {
        match self {
            AddressFamily::Unspecified => Family::Any,
            AddressFamily::Inet => Family::V4,
            AddressFamily::Inet6 => Family::V6,
        }
    }
}

pub(crate) enum Target {
    Host {
        host: Option<String>,
        port: u16,
    },
    /// Made by [`Target::sock`] only.
    Sock(StreamSocket, SockFns),
    /// Made by [`Target::unix`] only.
    Unix {
        path: PathBuf,
        connect: UnixConnectFn,
    },
}

/// Connects a Unix stream socket to a path, as a value: only the Unix entry points
/// (`create_unix_connection`, `open_unix_connection`) name it, through [`Target::unix`], so a
/// TCP-only program does not link Unix connects (abstract names, the path in the error).
pub(crate) type UnixConnectFn =
    fn(LoopHandle, PathBuf) -> Pin<Box<dyn Future<Output = Result<Socket, Error>>>>;

/// Checks a given socket (`sock=`) and adopts it, as values: only the entry points that take
/// one name them, through [`Target::sock`], so a program that never passes a socket does not
/// link the checks.
#[derive(Clone, Copy)]
pub(crate) struct SockFns {
    check: fn(&StreamSocket) -> Result<(), Error>,
    adopt: fn(StreamSocket) -> Result<Socket, Error>,
}

impl Target {
    /// A connected socket (Python's `sock=`).
    pub(crate) fn sock(sock: StreamSocket) -> Target {
        Target::Sock(
            sock,
            SockFns {
                check: StreamSocket::check,
                adopt: StreamSocket::into_socket,
            },
        )
    }

    /// A Unix socket path (Python's `path=`).
    pub(crate) fn unix(path: PathBuf) -> Target {
        Target::Unix {
            path,
            connect: connect_unix,
        }
    }
}

/// The one [`UnixConnectFn`].
fn connect_unix(
    lp: LoopHandle,
    path: PathBuf,
) -> Pin<Box<dyn Future<Output = Result<Socket, Error>>>> {
    Box::pin(async move {
        let addr = unix_addr(&path)?;
        let sock = sock_connect_unix(&lp, &addr)
            .await
            .map_err(|e| unix_path_error(&e, &path))?;
        Ok(sock)
    })
}

/// The pending result of [`LoopHandle::create_connection`]: set keywords with the builder
/// methods, then `.await` it for `(Transport, Rc<RefCell<P>>)`.
///
/// # Examples
///
/// ```
/// #[derive(Default)]
/// struct Quiet;
/// impl asyncio::Protocol for Quiet {}
///
/// asyncio::run(async {
///     let lp = asyncio::get_running_loop()?;
///     let server = lp.create_server(Quiet::default, "127.0.0.1", 0).await?;
///     let port = server.sockets()[0].port().unwrap();
///     let (transport, _protocol) = lp
///         .create_connection(Quiet::default, "localhost", port)
///         .family(asyncio::AddressFamily::Inet) // keywords are methods
///         .local_addr("127.0.0.1", 0) // bound here first, the port left to the OS
///         .happy_eyeballs_delay(std::time::Duration::from_millis(250))
///         .interleave(1) // alternate the families, one address each
///         .await?; // connects here
///     let ours = transport.sockname().unwrap().as_inet().unwrap();
///     assert_eq!(ours.ip(), std::net::Ipv4Addr::LOCALHOST);
///     assert_ne!(ours.port(), 0);
///     assert_eq!(transport.peername().unwrap().port().unwrap(), port);
///     transport.close();
///     server.close();
///     Ok::<_, asyncio::Error>(())
/// })??;
/// # Ok::<_, asyncio::Error>(())
/// ```
///
/// # Cancel safety
/// Dropped before its result, it leaks nothing: a socket still connecting is closed; a
/// transport already made is closed as Python's `except: transport.close()` closes it, so
/// what the protocol wrote in `connection_made` is still sent, then EOF. Over TLS, once the
/// handshake is done (the protocol's `connection_made` has run) the same close flushes and
/// sends close_notify; before that the connection is aborted.
#[must_use = "a connection builder does nothing until awaited"]
pub struct CreateConnection<P> {
    lp: LoopHandle,
    factory: Box<dyn FnOnce() -> Rc<RefCell<P>>>,
    target: Target,
    /// Set when `sock` was given along with a host/port or path: the L85/L111 error text.
    conflict: Option<&'static str>,
    /// The host a later `sock` replaced: it still names the server for the TLS keyword
    /// rules, which CPython checks before that conflict.
    #[cfg(feature = "tls")]
    replaced_host: Option<String>,
    /// Made by a Unix entry point, which takes none of the TCP keywords (L111), also once
    /// `sock` has replaced its path.
    unix_entry: bool,
    /// `local_addr`, and the bind that uses it once resolved (see [`Locals`]).
    local_addr: Option<(String, u16, BindFn)>,
    family: AddressFamily,
    /// `happy_eyeballs_delay`, and the race that runs it (see [`RaceFn`]).
    happy_eyeballs: Option<(Duration, RaceFn)>,
    interleave: Option<usize>,
    /// Python's `_interleave_addrinfos`, as a value: only the two keywords that turn it on
    /// ([`interleave`](Self::interleave), [`happy_eyeballs_delay`](Self::happy_eyeballs_delay))
    /// store it, so a program that uses neither does not link it.
    reorder: Option<ReorderFn>,
    /// `ssl`, `server_hostname` and the TLS timeouts (T1–T3).
    #[cfg(feature = "tls")]
    tls: crate::tls::ClientOptions,
}

impl LoopHandle {
    /// Opens a TCP connection to `host:port` and runs a protocol made by `factory` on it
    /// (Python's `loop.create_connection`). Keywords are builder methods:
    /// [`local_addr`](CreateConnection::local_addr), [`family`](CreateConnection::family),
    /// [`sock`](CreateConnection::sock),
    /// [`happy_eyeballs_delay`](CreateConnection::happy_eyeballs_delay),
    /// [`interleave`](CreateConnection::interleave).
    ///
    /// ```
    /// use asyncio::{Protocol, Transport};
    /// #[derive(Default)]
    /// struct Hello;
    /// impl Protocol for Hello {
    ///     fn connection_made(&mut self, t: Transport) {
    ///         t.write(b"hello").unwrap();
    ///         t.close();
    ///     }
    /// }
    /// asyncio::run(async {
    ///     let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    ///     let port = listener.local_addr().unwrap().port();
    ///     let lp = asyncio::get_running_loop().unwrap();
    ///     let (transport, _proto) = lp
    ///         .create_connection(Hello::default, "127.0.0.1", port)
    ///         .await
    ///         .unwrap();
    ///     assert!(transport.is_closing());
    /// }).unwrap();
    /// ```
    ///
    /// An empty `host` is no host, the way this API spells Python's `host=None`: the loopback
    /// addresses that `getaddrinfo(NULL, port)` gives, `::1` then `127.0.0.1`, tried in turn.
    /// CPython's `create_connection(f, '', port)` instead asks the resolver for the name `''`,
    /// which refuses it (`gaierror`, `[Errno -2] Name or service not known`). An empty `host`
    /// with port 0 and no [`sock`](CreateConnection::sock) is nothing to connect to:
    /// `Error::InvalidArgument`.
    ///
    /// ```
    /// #[derive(Default)]
    /// struct Quiet;
    /// impl asyncio::Protocol for Quiet {}
    /// asyncio::run(async {
    ///     let listener = std::net::TcpListener::bind("127.0.0.1:0")?;
    ///     let port = listener.local_addr()?.port();
    ///     let lp = asyncio::get_running_loop()?;
    ///     // No host: the loopback addresses, here the IPv4 one that listens.
    ///     let (transport, _quiet) = lp.create_connection(Quiet::default, "", port).await?;
    ///     assert!(transport.peername().unwrap().as_inet().unwrap().ip().is_loopback());
    ///     transport.close();
    ///     Ok::<_, asyncio::Error>(())
    /// })
    /// .unwrap()
    /// .unwrap();
    /// ```
    // Checklist: L84, L94. L85: "" with port 0 and no sock.
    pub fn create_connection<P, F>(&self, factory: F, host: &str, port: u16) -> CreateConnection<P>
    where
        P: Protocol + 'static,
        F: FnOnce() -> P + 'static,
    {
        let host = (!host.is_empty()).then(|| host.to_string());
        CreateConnection::new(self, factory, Target::Host { host, port })
    }

    /// Connects to the Unix socket at `path` (Python's `loop.create_unix_connection`).
    /// A path whose first byte is NUL names a Linux abstract socket. An empty path is no
    /// path (Python's `path=None`): adopt a connected socket with
    /// [`sock`](CreateConnection::sock), else the call fails with `Error::InvalidArgument`.
    /// The TCP keywords ([`local_addr`](CreateConnection::local_addr),
    /// [`family`](CreateConnection::family),
    /// [`happy_eyeballs_delay`](CreateConnection::happy_eyeballs_delay),
    /// [`interleave`](CreateConnection::interleave)) are refused with `Error::InvalidArgument`.
    ///
    /// # Examples
    ///
    /// ```
    /// #[derive(Default)]
    /// struct Quiet;
    /// impl asyncio::Protocol for Quiet {}
    ///
    /// let path = std::env::temp_dir().join(format!("asyncio-doc-{}.sock", std::process::id()));
    /// asyncio::run(async move {
    ///     let lp = asyncio::get_running_loop()?;
    ///     let server = lp.create_unix_server(Quiet::default, &path).await?;
    ///     let (transport, _) = lp.create_unix_connection(Quiet::default, &path).await?;
    ///     assert!(transport.peername().is_some());
    ///     transport.close();
    ///     server.close();
    ///     Ok::<_, asyncio::Error>(())
    /// })??;
    /// # Ok::<_, asyncio::Error>(())
    /// ```
    // Checklist: L111, L112.
    pub fn create_unix_connection<P, F>(
        &self,
        factory: F,
        path: impl AsRef<Path>,
    ) -> CreateConnection<P>
    where
        P: Protocol + 'static,
        F: FnOnce() -> P + 'static,
    {
        CreateConnection::new(self, factory, Target::unix(path.as_ref().to_path_buf()))
    }

    /// Runs a protocol on an already connected socket (Python's
    /// `create_connection(sock=…)`). The transport owns the socket.
    ///
    /// # Examples
    ///
    /// ```
    /// #[derive(Default)]
    /// struct Quiet;
    /// impl asyncio::Protocol for Quiet {}
    ///
    /// asyncio::run(async {
    ///     let lp = asyncio::get_running_loop()?;
    ///     let (a, _b) = asyncio::socketpair()?;
    ///     // the transport owns `a`
    ///     let (transport, _) = lp.connect_socket(Quiet::default, a).await?;
    ///     assert!(transport.is_reading());
    ///     transport.close();
    ///     Ok::<_, asyncio::Error>(())
    /// })??;
    /// # Ok::<_, asyncio::Error>(())
    /// ```
    // Checklist: L85, L122.
    pub fn connect_socket<P, F>(
        &self,
        factory: F,
        sock: impl Into<StreamSocket>,
    ) -> CreateConnection<P>
    where
        P: Protocol + 'static,
        F: FnOnce() -> P + 'static,
    {
        CreateConnection::new(self, factory, Target::sock(sock.into()))
    }
}

impl<P: Protocol + 'static> CreateConnection<P> {
    fn new<F: FnOnce() -> P + 'static>(lp: &LoopHandle, factory: F, target: Target) -> Self {
        Self::with_rc_factory(lp, move || Rc::new(RefCell::new(factory())), target)
    }

    /// A connection whose protocol comes ready-made in its `Rc` (the streams' core).
    pub(crate) fn with_rc_factory(
        lp: &LoopHandle,
        factory: impl FnOnce() -> Rc<RefCell<P>> + 'static,
        target: Target,
    ) -> Self {
        CreateConnection {
            lp: lp.clone(),
            factory: Box::new(factory),
            unix_entry: matches!(target, Target::Unix { .. }),
            target,
            conflict: None,
            #[cfg(feature = "tls")]
            replaced_host: None,
            local_addr: None,
            family: AddressFamily::Unspecified,
            happy_eyeballs: None,
            interleave: None,
            reorder: None,
            #[cfg(feature = "tls")]
            tls: Default::default(),
        }
    }

    /// Binds the socket to this local address before connecting. An empty host is a name
    /// that does not resolve (`Error::Io`, kind `NotFound`), as in Python: say `0.0.0.0` or
    /// `::` for any address.
    ///
    /// # Examples
    ///
    /// ```
    /// #[derive(Default)]
    /// struct Quiet;
    /// impl asyncio::Protocol for Quiet {}
    ///
    /// # let listener = std::net::TcpListener::bind("127.0.0.1:0")?;
    /// # let port = listener.local_addr()?.port();
    /// asyncio::run(async move {
    ///     let lp = asyncio::get_running_loop()?;
    ///     let (transport, _protocol) = lp
    ///         .create_connection(Quiet::default, "127.0.0.1", port)
    ///         .local_addr("127.0.0.1", 0) // the port left to the OS
    ///         .await?;
    ///     let ours = transport.sockname().unwrap().as_inet().unwrap();
    ///     assert_eq!(ours.ip(), std::net::Ipv4Addr::LOCALHOST);
    ///     assert_ne!(ours.port(), 0);
    ///     transport.close();
    ///     Ok::<_, asyncio::Error>(())
    /// })??;
    /// # Ok::<_, Box<dyn std::error::Error>>(())
    /// ```
    // Checklist: L87.
    pub fn local_addr(mut self, host: &str, port: u16) -> Self {
        self.local_addr = Some((host.to_string(), port, bind_local));
        self
    }

    /// Resolves for this family only.
    ///
    /// # Examples
    ///
    /// ```
    /// #[derive(Default)]
    /// struct Quiet;
    /// impl asyncio::Protocol for Quiet {}
    ///
    /// # let listener = std::net::TcpListener::bind("127.0.0.1:0")?;
    /// # let port = listener.local_addr()?.port();
    /// asyncio::run(async move {
    ///     let lp = asyncio::get_running_loop()?;
    ///     let (transport, _protocol) = lp
    ///         .create_connection(Quiet::default, "localhost", port)
    ///         .family(asyncio::AddressFamily::Inet) // `localhost` may name ::1 too: not tried
    ///         .await?;
    ///     assert!(transport.peername().unwrap().as_inet().unwrap().is_ipv4());
    ///     transport.close();
    ///     Ok::<_, asyncio::Error>(())
    /// })??;
    /// # Ok::<_, Box<dyn std::error::Error>>(())
    /// ```
    pub fn family(mut self, family: AddressFamily) -> Self {
        self.family = family;
        self
    }

    /// Adopts a connected socket instead of connecting. Combined with a host or a non-zero
    /// port it is an error (`host/port and sock can not be specified at the same time`), with
    /// a Unix path too (`path and sock can not be specified at the same time`).
    ///
    /// # Examples
    ///
    /// ```
    /// use asyncio::{Protocol, Transport};
    ///
    /// /// Says hi, then closes.
    /// #[derive(Default)]
    /// struct Hi;
    /// impl Protocol for Hi {
    ///     fn connection_made(&mut self, transport: Transport) {
    ///         let _ = transport.write(b"hi");
    ///         transport.close();
    ///     }
    /// }
    ///
    /// asyncio::run(async {
    ///     let lp = asyncio::get_running_loop()?;
    ///     let (a, b) = asyncio::socketpair()?;
    ///     let (_transport, _hi) = lp.create_connection(Hi::default, "", 0).sock(a).await?;
    ///     let (reader, _writer) = asyncio::open_connection_sock(b).await?;
    ///     assert_eq!(reader.read(-1).await?, b"hi");
    ///
    ///     // A host as well is refused when awaited.
    ///     let (c, _d) = asyncio::socketpair()?;
    ///     let both = lp.create_connection(Hi::default, "127.0.0.1", 0).sock(c).await;
    ///     assert!(matches!(both, Err(asyncio::Error::InvalidArgument(_))));
    ///     Ok::<_, asyncio::Error>(())
    /// })??;
    /// # Ok::<_, asyncio::Error>(())
    /// ```
    // Checklist: L85, L111.
    pub fn sock(mut self, sock: impl Into<StreamSocket>) -> Self {
        let sock = sock.into();
        // CPython: `host is not None or port is not None`; port 0 is our "no port".
        let conflict = match &self.target {
            Target::Host { host, port } if host.is_some() || *port != 0 => {
                Some("host/port and sock can not be specified at the same time")
            }
            // An empty path is no path (L111), as an empty host is no host.
            Target::Unix { path, .. } if !path.as_os_str().is_empty() => {
                Some("path and sock can not be specified at the same time")
            }
            // A Unix entry point takes a Unix stream socket only (L111), whatever type holds it.
            Target::Unix { .. } => match &sock {
                StreamSocket::Tcp(s) => unix_stream_mismatch(s),
                StreamSocket::Unix(s) => unix_stream_mismatch(s),
            },
            Target::Host { .. } | Target::Sock(..) => None,
        };
        // Differs from CPython: after any of these errors the socket is closed, with the builder
        // that owns it; CPython's caller still holds its (open) socket object.
        self.conflict = self.conflict.or(conflict);
        #[cfg(feature = "tls")]
        if let Target::Host { host: Some(h), .. } = &self.target {
            self.replaced_host = Some(h.clone());
        }
        self.target = Target::sock(sock);
        self
    }

    /// Happy eyeballs (RFC 8305): start the next address after `delay` if the
    /// previous attempt has not finished; the first to connect wins. Turns `interleave` to 1
    /// unless set.
    ///
    /// # Examples
    ///
    /// ```
    /// use std::time::Duration;
    ///
    /// #[derive(Default)]
    /// struct Quiet;
    /// impl asyncio::Protocol for Quiet {}
    ///
    /// # let listener = std::net::TcpListener::bind("127.0.0.1:0")?;
    /// # let port = listener.local_addr()?.port();
    /// asyncio::run(async move {
    ///     let lp = asyncio::get_running_loop()?;
    ///     let (transport, _protocol) = lp
    ///         .create_connection(Quiet::default, "localhost", port)
    ///         // 250 ms for each address before the next joins; a refused ::1 hands over at once
    ///         .happy_eyeballs_delay(Duration::from_millis(250))
    ///         .await?;
    ///     let theirs = transport.peername().unwrap().as_inet().unwrap();
    ///     assert_eq!(theirs, std::net::SocketAddr::from(([127, 0, 0, 1], port)));
    ///     transport.close();
    ///     Ok::<_, asyncio::Error>(())
    /// })??;
    /// # Ok::<_, Box<dyn std::error::Error>>(())
    /// ```
    // Checklist: L89, L91.
    pub fn happy_eyeballs_delay(mut self, delay: Duration) -> Self {
        self.happy_eyeballs = Some((delay, race_connects));
        self.reorder = Some(interleave);
        self
    }

    /// Reorders the addresses by family: `n` of the first family, then alternate.
    ///
    /// # Examples
    ///
    /// ```
    /// use std::time::Duration;
    ///
    /// #[derive(Default)]
    /// struct Quiet;
    /// impl asyncio::Protocol for Quiet {}
    ///
    /// # let listener = std::net::TcpListener::bind("127.0.0.1:0")?;
    /// # let port = listener.local_addr()?.port();
    /// asyncio::run(async move {
    ///     let lp = asyncio::get_running_loop()?;
    ///     let (transport, _protocol) = lp
    ///         .create_connection(Quiet::default, "localhost", port)
    ///         .happy_eyeballs_delay(Duration::from_millis(250))
    ///         .interleave(2) // two addresses of the first family, then one of the other, ...
    ///         .await?;
    ///     assert_eq!(transport.peername().unwrap().port().unwrap(), port);
    ///     transport.close();
    ///     Ok::<_, asyncio::Error>(())
    /// })??;
    /// # Ok::<_, Box<dyn std::error::Error>>(())
    /// ```
    // Checklist: L90.
    pub fn interleave(mut self, n: usize) -> Self {
        self.interleave = Some(n);
        self.reorder = Some(interleave);
        self
    }

    async fn run(self) -> Result<(Transport, Rc<RefCell<P>>), Error> {
        let CreateConnection {
            lp,
            factory,
            target,
            conflict,
            #[cfg(feature = "tls")]
            replaced_host,
            unix_entry,
            local_addr,
            family,
            happy_eyeballs,
            interleave: il,
            reorder,
            #[cfg(feature = "tls")]
            tls,
        } = self;
        // Checklist: L111, S3. CPython's create_unix_connection has none of these keywords (a
        // TypeError); ignored, the connect would go ahead without the bind or family asked for.
        // Python refuses the call before its body runs, so this comes before the conflicts.
        let tcp_only = [
            ("local_addr", local_addr.is_some()),
            ("family", family != AddressFamily::Unspecified),
            ("happy_eyeballs_delay", happy_eyeballs.is_some()),
            ("interleave", il.is_some()),
        ];
        if let Some((name, _)) = tcp_only.iter().find(|(_, set)| unix_entry && *set) {
            return Err(Error::invalid_argument(format!(
                "create_unix_connection() got an unexpected keyword argument '{name}'"
            )));
        }
        // Checklist: L85, L111. CPython's create_connection and create_unix_connection check
        // their TLS keywords before host/port (or path) and sock; a host that `sock` replaced
        // still names the server there.
        #[cfg(feature = "tls")]
        {
            let host = match &target {
                Target::Host { host, .. } => host.as_deref(),
                _ => replaced_host.as_deref(),
            };
            tls.check_keywords(host, unix_entry)?;
        }
        if let Some(conflict) = conflict {
            return Err(Error::invalid_argument(conflict));
        }
        // Checklist: L85, L111. The rest of CPython's if/else on host/port (or path) and sock
        // comes before what it checks only once connected (SSLProtocol: a zero timeout, the
        // name's text), which ours checks next, before any I/O.
        match &target {
            Target::Sock(s, fns) => (fns.check)(s)?,
            // An empty path is Python's `path=None` with no sock (L111).
            Target::Unix { path, .. } if path.as_os_str().is_empty() => {
                return Err(Error::invalid_argument("no path and sock were specified"));
            }
            // Neither a host nor a port (`""`, 0) nor a socket: nothing to connect to (L85).
            Target::Host {
                host: None,
                port: 0,
            } => {
                return Err(Error::invalid_argument(
                    "host and port was not specified and no sock specified",
                ));
            }
            Target::Unix { .. } | Target::Host { .. } => {}
        }
        // S6, S8, L84, L111: the TLS keywords are checked before any I/O.
        #[cfg(feature = "tls")]
        let tls = match &target {
            Target::Host { host, .. } => tls.prepare(host.as_deref(), false)?,
            // A Unix entry's rule also once `sock` replaced its path (CPython's
            // create_unix_connection asks for server_hostname whatever it connects).
            Target::Sock(..) => tls.prepare(None, unix_entry)?,
            Target::Unix { .. } => tls.prepare(None, true)?,
        };
        let sock = match target {
            Target::Sock(s, fns) => (fns.adopt)(s)?,
            Target::Unix { path, connect } => connect(lp.clone(), path).await?,
            // No host (`""`): CPython's getaddrinfo(None, port), the loopback addresses.
            Target::Host { host, port } => {
                let fam = family.family();
                let mut addrs = resolve(host.as_deref(), port, fam, false).await?;
                addrs = attempt_order(addrs, il, happy_eyeballs.is_some(), reorder);
                let locals = match local_addr {
                    Some((h, p, bind)) => {
                        let addrs = resolve(Some(&h), p, fam, true).await?;
                        Some(Rc::new(Locals { addrs, bind }))
                    }
                    None => None,
                };
                let outcome = match happy_eyeballs {
                    Some((delay, race)) => race(lp.clone(), addrs, locals, delay).await,
                    None => connect_in_turn(&lp, addrs, locals.as_deref()).await,
                };
                first_connected(outcome)?
            }
        };
        let proto = factory();
        #[cfg(feature = "tls")]
        if let Some(tls) = tls {
            // T7: the app's connection_made runs after the handshake, and we return after it.
            let (lower, handshake) = tls.wrap(&lp, proto.clone())?;
            let raw = SocketTransport::create(&lp, sock, lower)?;
            let transport = handshake.wait_over(raw.handle()).await?;
            return Ok((transport, proto));
        }
        let transport = SocketTransport::create(&lp, sock, proto.clone())?;
        let transport = wait_connection_made(&lp, transport.handle(), Transport::close).await?;
        Ok((transport, proto))
    }
}

/// TLS keywords (feature `tls`).
// Checklist: T1–T3, S6, S8, L84, L111.
#[cfg(feature = "tls")]
impl<P: Protocol + 'static> CreateConnection<P> {
    /// TLS (Python's `ssl=`): `true` for the default verifying context, or a
    /// `rustls::ClientConfig`. The result arrives after the handshake and the protocol's
    /// `connection_made`.
    ///
    /// # Examples
    ///
    /// ```
    /// use std::time::Duration;
    ///
    /// #[derive(Default)]
    /// struct Quiet;
    /// impl asyncio::Protocol for Quiet {}
    ///
    /// # let dir = std::env::temp_dir().join(format!("asyncio-doc-cc-{}", std::process::id()));
    /// # std::fs::create_dir_all(&dir)?;
    /// # let made = rcgen::generate_simple_self_signed(vec!["localhost".into()])?;
    /// # std::fs::write(dir.join("cert.pem"), made.cert.pem())?;
    /// # std::fs::write(dir.join("key.pem"), made.key_pair.serialize_pem())?;
    /// // cert.pem / key.pem: a self-signed certificate for localhost.
    /// let (cert, key) = (dir.join("cert.pem"), dir.join("key.pem"));
    /// asyncio::run(async move {
    ///     let hi = |_r: asyncio::StreamReader, w: asyncio::StreamWriter| w.write(b"hi");
    ///     let tls = asyncio::tls::server_config(&cert, &key)?;
    ///     let server = asyncio::start_server(hi, "127.0.0.1", 0).ssl(tls).await?;
    ///     let port = server.sockets()[0].port().unwrap();
    ///
    ///     let lp = asyncio::get_running_loop()?;
    ///     let (transport, _quiet) = lp
    ///         .create_connection(Quiet::default, "127.0.0.1", port)
    ///         .ssl(asyncio::tls::client_config_with_roots(&cert)?) // trust this certificate
    ///         .server_hostname("localhost") // the name it was made for
    ///         .ssl_handshake_timeout(Duration::from_secs(10))
    ///         .ssl_shutdown_timeout(Duration::from_secs(5)) // for close()
    ///         .ssl_require_close_notify(true) // an EOF without close_notify is an error
    ///         .await?; // the handshake is done here
    ///     let info = transport.tls_info().expect("a TLS transport");
    ///     assert_eq!(info.server_hostname(), Some("localhost"));
    ///     transport.close();
    ///     server.close();
    ///     Ok::<_, asyncio::Error>(())
    /// })??;
    /// # std::fs::remove_dir_all(&dir)?;
    /// # Ok::<_, Box<dyn std::error::Error>>(())
    /// ```
    // Checklist: T7.
    pub fn ssl(mut self, ssl: impl Into<crate::tls::ClientTls>) -> Self {
        self.tls.ssl = ssl.into();
        self
    }

    /// The name sent as SNI and checked (default: the host). Required with `sock` or a Unix
    /// path. `""` sends none and checks no name, with `ssl(true)` as with your own
    /// `ClientConfig`: the certificate chain is still verified (Python's `server_hostname=''`).
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
    ///     let lp = asyncio::get_running_loop()?;
    ///     let noop = |_r: asyncio::StreamReader, _w: asyncio::StreamWriter| async {};
    ///     let server = asyncio::start_server(noop, "127.0.0.1", 0).ssl(server_config).await?;
    ///     let port = server.sockets()[0].port().unwrap();
    ///     // The certificate names `localhost`, not the address connected to.
    ///     let (transport, _protocol) = lp
    ///         .create_connection(Quiet::default, "127.0.0.1", port)
    ///         .ssl(client_config)
    ///         .server_hostname("localhost")
    ///         .await?;
    ///     let info = transport.tls_info().unwrap();
    ///     assert_eq!(info.server_hostname(), Some("localhost"));
    ///     transport.close();
    ///     server.close();
    ///     Ok::<_, asyncio::Error>(())
    /// })??;
    /// # Ok::<_, asyncio::Error>(())
    /// ```
    // Checklist: T3.
    pub fn server_hostname(mut self, name: &str) -> Self {
        self.tls.set_server_hostname(name);
        self
    }

    /// How long the handshake may take (default 60 s): past it the connection is aborted
    /// and the creation fails with [`Error::Io`] of kind `ConnectionAborted`.
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
    /// #[derive(Default)]
    /// struct Quiet;
    /// impl asyncio::Protocol for Quiet {}
    ///
    /// // Accepts (in the kernel) but never answers: the handshake can only time out.
    /// let silent = std::net::TcpListener::bind("127.0.0.1:0")?;
    /// let port = silent.local_addr()?.port();
    /// asyncio::run(async move {
    ///     let lp = asyncio::get_running_loop()?;
    ///     let late = lp
    ///         .create_connection(Quiet::default, "127.0.0.1", port)
    ///         .ssl(client_config)
    ///         .server_hostname("localhost")
    ///         .ssl_handshake_timeout(Duration::from_millis(50))
    ///         .await;
    ///     let Err(asyncio::Error::Io(e)) = late else { panic!("expected a timeout") };
    ///     assert_eq!(e.kind(), std::io::ErrorKind::ConnectionAborted);
    ///     Ok::<_, asyncio::Error>(())
    /// })??;
    /// # Ok::<_, Box<dyn std::error::Error>>(())
    /// ```
    // Checklist: T1, T9.
    pub fn ssl_handshake_timeout(mut self, timeout: Duration) -> Self {
        self.tls.options.handshake_timeout = Some(timeout);
        self
    }

    /// How long the close_notify exchange may take (default 30 s): past it, `close` stops
    /// waiting for the peer's close_notify and aborts.
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
    /// #[derive(Default)]
    /// struct Quiet;
    /// impl asyncio::Protocol for Quiet {}
    ///
    /// asyncio::run(async move {
    ///     let lp = asyncio::get_running_loop()?;
    ///     let noop = |_r: asyncio::StreamReader, _w: asyncio::StreamWriter| async {};
    ///     let server = asyncio::start_server(noop, "127.0.0.1", 0).ssl(server_config).await?;
    ///     let port = server.sockets()[0].port().unwrap();
    ///     let (transport, _protocol) = lp
    ///         .create_connection(Quiet::default, "127.0.0.1", port)
    ///         .ssl(client_config)
    ///         .server_hostname("localhost")
    ///         .ssl_shutdown_timeout(Duration::from_secs(5))
    ///         .await?;
    ///     transport.close(); // close_notify, then at most 5 s for the server's
    ///     server.close();
    ///     Ok::<_, asyncio::Error>(())
    /// })??;
    /// # Ok::<_, asyncio::Error>(())
    /// ```
    // Checklist: T25.
    pub fn ssl_shutdown_timeout(mut self, timeout: Duration) -> Self {
        self.tls.options.shutdown_timeout = Some(timeout);
        self
    }

    /// Report an EOF without close_notify as `Error::Tls` instead of a clean EOF: the
    /// protocol's `connection_lost` gets an error of kind `InvalidData`
    /// ([`TlsError::is_truncation`](crate::TlsError::is_truncation) for the streams).
    ///
    /// # Examples
    ///
    /// A server that aborts after the handshake, sending no close_notify:
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
    /// asyncio::run(async move {
    ///     let rude = |_r: asyncio::StreamReader, w: asyncio::StreamWriter| w.transport().abort();
    ///     let server = asyncio::start_server(rude, "127.0.0.1", 0).ssl(server_config).await?;
    ///     let port = server.sockets()[0].port().unwrap();
    ///     let lp = asyncio::get_running_loop()?;
    ///     let lost = lp.create_future();
    ///     let ending = lost.clone();
    ///     lp.create_connection(move || Ending(ending), "127.0.0.1", port)
    ///         .ssl(client_config)
    ///         .server_hostname("localhost")
    ///         .ssl_require_close_notify(true) // else a clean EOF: `None`
    ///         .await?;
    ///     assert_eq!(lost.await?, Some(ErrorKind::InvalidData));
    ///     server.close();
    ///     Ok::<_, asyncio::Error>(())
    /// })??;
    /// # Ok::<_, asyncio::Error>(())
    /// ```
    // Checklist: D9.
    pub fn ssl_require_close_notify(mut self, on: bool) -> Self {
        self.tls.options.require_close_notify = on;
        self
    }
}

impl<P: Protocol + 'static> IntoFuture for CreateConnection<P> {
    type Output = Result<(Transport, Rc<RefCell<P>>), Error>;
    type IntoFuture = Pin<Box<dyn Future<Output = Self::Output>>>;

    fn into_future(self) -> Self::IntoFuture {
        Box::pin(self.run())
    }
}

/// Python's `try: await waiter; except: transport.close(); raise` where the waiter is a new
/// transport's `connection_made` (`_create_connection_transport`, `create_datagram_endpoint`,
/// the pipe connects): hands `transport` back once the `connection_made` and start of reading
/// its constructor queued have had their turn (L45, L94): run, or put off while the protocol
/// is held elsewhere (a borrow kept across an await), in which case they run once it is free,
/// after this returns.
///
/// # Cancel safety
/// Dropped before then, it closes the transport with `close`: a close, not an abort, so what
/// the protocol wrote in `connection_made` is still sent.
pub(crate) async fn wait_connection_made<T>(
    lp: &LoopHandle,
    transport: T,
    close: fn(&T),
) -> Result<T, Error> {
    let mut guard = CloseOnDrop {
        transport: Some(transport),
        close,
    };
    next_turn(lp).await?;
    Ok(guard.transport.take().expect("armed until here"))
}

/// Closes `transport` with `close` unless it was taken (see [`wait_connection_made`]).
struct CloseOnDrop<T> {
    transport: Option<T>,
    close: fn(&T),
}

impl<T> Drop for CloseOnDrop<T> {
    fn drop(&mut self) {
        if let Some(t) = self.transport.take() {
            (self.close)(&t);
        }
    }
}

/// Waits one `call_soon` turn: queued after the transport's `connection_made` and start of
/// reading, so it completes once both have had their turn (L45; a held protocol puts them
/// off). The turn's callback and the wait share one [`Turn`], and the wait is a named future,
/// [`NextTurn`]: smaller in each connect future that awaits it than the two shared cells and
/// the `poll_fn` it replaced (1.2 KB of the echo client).
///
/// # Errors
/// The loop's close (`call_soon` refuses).
///
/// # Cancel safety
/// Dropped, it takes back the waker it filed: the turn wakes nobody.
async fn next_turn(lp: &LoopHandle) -> Result<(), Error> {
    let turn = NextTurn(Rc::new(Turn::default()));
    let ran = turn.0.clone();
    lp.call_soon(move || ran.end())?;
    turn.await;
    Ok(())
}

/// What [`next_turn`]'s callback and its wait share.
#[derive(Default)]
struct Turn {
    /// Set by the callback: the turn has come.
    done: Cell<bool>,
    /// The waker of the wait's latest poll; taken by the callback, or by the wait's drop.
    waker: Cell<Option<Waker>>,
}

impl Turn {
    fn end(&self) {
        self.done.set(true);
        if let Some(w) = self.waker.take() {
            w.wake();
        }
    }
}

/// Ready once [`next_turn`]'s callback has run.
///
/// # Cancel safety
/// Dropped, it takes back the waker it filed: the turn wakes nobody.
struct NextTurn(Rc<Turn>);

impl Future for NextTurn {
    type Output = ();

    fn poll(self: Pin<&mut Self>, cx: &mut std::task::Context<'_>) -> Poll<()> {
        if self.0.done.get() {
            return Poll::Ready(());
        }
        drop(self.0.waker.replace(Some(cx.waker().clone())));
        Poll::Pending
    }
}

impl Drop for NextTurn {
    fn drop(&mut self) {
        drop(self.0.waker.take());
    }
}

/// A failed Unix connect (or a datagram socket's bind or connect) names its path
/// (`[Errno 2] No such file or directory: '/tmp/x'`), errno kept.
pub(crate) fn unix_path_error(e: &io::Error, path: &std::path::Path) -> io::Error {
    OsError::io(e, format!("{}: '{}'", strerror(e), path.display()))
}

/// CPython's text for a connect that failed in the background (`[Errno 111] Connect call
/// failed ('127.0.0.1', 1)`), errno kept.
fn connect_failed(e: io::Error, addr: &dyn std::fmt::Display) -> Error {
    let text = match e.raw_os_error() {
        Some(_) => format!("Connect call failed {addr}"), // shown `[Errno N] Connect call …`
        None => format!("Connect call failed {addr}: {e}"),
    };
    Error::Io(OsError::io(&e, text))
}

/// The staggered race of `happy_eyeballs_delay` (L91) over TCP connects to `addrs`, from
/// `locals` if given, as a value: only [`CreateConnection::happy_eyeballs_delay`] stores it,
/// so a program that never staggers its attempts does not link the race.
type RaceFn = fn(
    LoopHandle,
    Vec<SocketAddr>,
    Option<Rc<Locals>>,
    Duration,
) -> Pin<Box<dyn Future<Output = RaceOutcome<Socket>>>>;

/// [`interleave`]'s type, stored by the keywords that turn it on.
type ReorderFn = fn(Vec<SocketAddr>, usize) -> Vec<SocketAddr>;

/// The one [`RaceFn`].
fn race_connects(
    lp: LoopHandle,
    addrs: Vec<SocketAddr>,
    locals: Option<Rc<Locals>>,
    delay: Duration,
) -> Pin<Box<dyn Future<Output = RaceOutcome<Socket>>>> {
    let attempts: Vec<_> = addrs
        .into_iter()
        .map(|addr| {
            let (lp, locals) = (lp.clone(), locals.clone());
            move || async move { connect_tcp(&lp, addr, locals.as_deref()).await }
        })
        .collect();
    Box::pin(staggered_race(attempts, delay))
}

/// Without `happy_eyeballs_delay`: one address after another, the next only once the previous
/// failed (L88: CPython's loop over the addresses in `create_connection`). Returns what the race
/// returns: the winner and its index, and the errors before it.
async fn connect_in_turn(
    lp: &LoopHandle,
    addrs: Vec<SocketAddr>,
    locals: Option<&Locals>,
) -> RaceOutcome<Socket> {
    let mut errors = Vec::new();
    for (i, addr) in addrs.into_iter().enumerate() {
        match connect_tcp(lp, addr, locals).await {
            Ok(sock) => return (Some((sock, i)), errors),
            Err(e) => errors.push(e),
        }
    }
    (None, errors)
}

/// The order the addresses are tried in (L89): interleaved by `interleave` if given, else by 1
/// with happy eyeballs, else not at all; 0 keeps the resolver's order. `reorder` is
/// [`interleave`] when a keyword that may reorder was used (so that others do not link it).
fn attempt_order(
    addrs: Vec<SocketAddr>,
    interleave: Option<usize>,
    happy_eyeballs: bool,
    reorder: Option<ReorderFn>,
) -> Vec<SocketAddr> {
    match (reorder, interleave.unwrap_or(usize::from(happy_eyeballs))) {
        (Some(reorder), n @ 1..) => reorder(addrs, n),
        _ => addrs,
    }
}

/// The winner's socket, or the one error for every failed attempt (L92). An attempt that
/// failed more than once (bind failures, then its connect) reports an `Error::Group` of its
/// failures (see [`connect_tcp`]): they are combined with the others', flat, as CPython
/// flattens each attempt's list.
fn first_connected(outcome: RaceOutcome<Socket>) -> Result<Socket, Error> {
    match outcome {
        (Some((sock, _)), _) => Ok(sock),
        (None, errors) => {
            let mut flat = Vec::with_capacity(errors.len());
            for e in errors {
                match e {
                    Error::Group(each) => flat.extend(each),
                    e => flat.push(e),
                }
            }
            Err(combine_errors(flat))
        }
    }
}

/// One TCP attempt (L87, L88, L93): socket, bind, then the transport layer's `sock_connect`
/// (non-blocking connect, wait, check SO_ERROR). Every failure of the attempt is kept, as
/// CPython's `_connect_sock` does: each local address that would not bind, and then the
/// connect's; more than one comes back as `Error::Group`, for [`first_connected`].
async fn connect_tcp(
    lp: &LoopHandle,
    addr: SocketAddr,
    locals: Option<&Locals>,
) -> Result<Socket, Error> {
    let sock = tcp_socket(&addr)?;
    let mut failed = Vec::new();
    if let Some(locals) = locals {
        (locals.bind)(&sock, &addr, &locals.addrs, &mut failed)?;
    }
    match sock_connect(lp, sock, &addr).await {
        Ok(sock) => Ok(sock),
        Err(e) => {
            failed.push(match e {
                // CPython raises `connect`'s own error as it is (`[Errno 101] Network is
                // unreachable`): its reason stays in the text.
                ConnectError::Immediate(e) => Error::Io(e),
                ConnectError::Outcome(e) => connect_failed(e, &addr),
            });
            Err(attempt_error(failed))
        }
    }
}

/// A connection's `local_addr`, resolved, with the bind that uses it. The bind is a value
/// (as the race's [`RaceFn`]): only [`CreateConnection::local_addr`] stores [`bind_local`],
/// so a program that never binds its connects does not link the bind loop and its error
/// texts (2.2 KB of the echo client).
struct Locals {
    addrs: Vec<SocketAddr>,
    bind: BindFn,
}

/// [`bind_local`]'s type.
type BindFn =
    fn(&socket2::Socket, &SocketAddr, &[SocketAddr], &mut Vec<Error>) -> Result<(), Error>;

/// Binds `sock`, about to connect to `addr`, to the first of `locals` of its family that
/// binds (L87), pushing each failure to `failed` (CPython's `_connect_sock` records every
/// one, also when a later address binds). Fails, with the attempt's error, when none binds.
fn bind_local(
    sock: &socket2::Socket,
    addr: &SocketAddr,
    locals: &[SocketAddr],
    failed: &mut Vec<Error>,
) -> Result<(), Error> {
    for local in locals.iter().filter(|l| l.is_ipv4() == addr.is_ipv4()) {
        match sock.bind(&(*local).into()) {
            Ok(()) => return Ok(()),
            Err(e) => failed.push(Error::Io(bind_error(e, local))),
        }
    }
    if failed.is_empty() {
        let fam = if addr.is_ipv4() {
            "AF_INET"
        } else {
            "AF_INET6"
        };
        // CPython's plain OSError (no errno); the kind says what is wrong, as for a server
        // that could bind none of its addresses.
        return Err(Error::Io(io::Error::new(
            io::ErrorKind::AddrNotAvailable,
            format!("no matching local address with family={fam} found"),
        )));
    }
    Err(attempt_error(std::mem::take(failed)))
}

/// One attempt's failures as one error: the error itself when there is one.
fn attempt_error(mut failed: Vec<Error>) -> Error {
    match failed.len() {
        1 => failed.remove(0),
        _ => Error::Group(failed),
    }
}

/// The address of a Unix path; a leading NUL byte names an abstract socket, all of whose bytes
/// count, NULs too (L112), as for the server's bind (socket2 reads it the same way).
///
/// A NUL further in is `Error::InvalidArgument('embedded null byte')`, CPython's
/// `ValueError` for a server's or a datagram endpoint's path (its stale-socket `os.stat`
/// refuses it). CPython's clients pass the bytes to the kernel, which stops at the NUL and
/// connects to the shorter path: an accident of its C layer, refused here on both sides.
pub(crate) fn unix_addr(path: &Path) -> Result<socket2::SockAddr, Error> {
    let bytes = path.as_os_str().as_bytes();
    let abstract_name = bytes.first() == Some(&0);
    if !abstract_name && bytes.contains(&0) {
        return Err(Error::invalid_argument("embedded null byte"));
    }
    // `sun_path`'s room: a path needs its terminating NUL, an abstract name does not.
    let sun_path = std::mem::size_of::<libc::sockaddr_un>()
        - std::mem::offset_of!(libc::sockaddr_un, sun_path);
    let room = sun_path - usize::from(!abstract_name);
    if bytes.len() > room {
        return Err(unix_path_too_long(path, room).into());
    }
    Ok(socket2::SockAddr::unix(path)?)
}

/// CPython's "AF_UNIX path too long", naming the path as every other failure of a Unix
/// address does (an abstract name's leading NUL shown as `@`, as `ss` shows it).
#[cold]
fn unix_path_too_long(path: &Path, room: usize) -> io::Error {
    let shown = path.display().to_string().replacen('\0', "@", 1);
    let n = path.as_os_str().len();
    io::Error::new(
        io::ErrorKind::InvalidInput,
        format!("AF_UNIX path too long: '{shown}' is {n} bytes, at most {room}"),
    )
}

#[cfg(test)]
mod tests {
    //! The default connect path (no `happy_eyeballs_delay`) over real loopback sockets: a port
    //! bound but not listening refuses at once (ECONNREFUSED), so every outcome is deterministic.
    use super::*;
    use crate::event_loop::EventLoop;
    use socket2::{Domain, Socket as RawSocket, Type};

    /// A socket bound to `ip` port 0 and never listening: connecting to it is refused. Kept
    /// alive by the caller so the port stays taken. `None` where `ip` cannot be bound (no ::1).
    fn refusing(ip: &str) -> Option<(RawSocket, SocketAddr)> {
        let addr = SocketAddr::new(ip.parse().unwrap(), 0);
        let sock = RawSocket::new(Domain::for_address(addr), Type::STREAM, None).unwrap();
        if let Err(e) = sock.bind(&addr.into()) {
            println!("skipped the {ip} case: cannot bind {addr}: {e}");
            return None;
        }
        let bound = sock.local_addr().unwrap().as_socket().unwrap();
        Some((sock, bound))
    }

    /// Runs `connect_in_turn` then `first_connected` over `addrs`, as `create_connection` does.
    fn connect_all(addrs: Vec<SocketAddr>) -> Result<Socket, Error> {
        let lp = EventLoop::new().unwrap();
        let handle = lp.handle();
        lp.run_until_complete(async move {
            first_connected(connect_in_turn(&handle, addrs, None).await)
        })
        .unwrap()
    }

    fn refused_text(addr: SocketAddr) -> String {
        format!("[Errno {}] Connect call failed {addr}", libc::ECONNREFUSED)
    }

    struct Nop;
    impl Protocol for Nop {}

    #[test]
    fn l89_the_keywords_decide_the_attempt_order() {
        // BaseEventLoopTests.test_create_connection_happy_eyeballs(_ipv4_only) check that
        // create_connection hands interleave=1 to the race when only a delay is given; here the
        // whole rule: no keyword keeps the resolver's order, a delay alone interleaves by 1,
        // an explicit interleave wins over that default (0: resolver order), and a non-zero
        // interleave reorders without a delay too.
        let v6 = |n: u16| SocketAddr::new("::1".parse().unwrap(), n);
        let v4 = |n: u16| SocketAddr::new("127.0.0.1".parse().unwrap(), n);
        let resolved = vec![v6(1), v6(2), v6(3), v4(4), v4(5)];
        let lp = EventLoop::new().unwrap();
        let order = |b: CreateConnection<Nop>| {
            assert!(b.conflict.is_none());
            let he = b.happy_eyeballs.is_some();
            attempt_order(resolved.clone(), b.interleave, he, b.reorder)
        };
        let plain = || lp.create_connection(|| Nop, "localhost", 1);
        let by_one = vec![v6(1), v4(4), v6(2), v4(5), v6(3)];
        let by_two = vec![v6(1), v6(2), v4(4), v6(3), v4(5)];
        let delay = Duration::from_millis(250);
        let b = plain();
        assert!(
            b.happy_eyeballs.is_none() && b.interleave.is_none(),
            "defaults: None"
        );
        assert_eq!(order(b), resolved, "no keyword");
        assert_eq!(
            order(plain().happy_eyeballs_delay(delay)),
            by_one,
            "a delay alone"
        );
        let b = plain().happy_eyeballs_delay(delay).interleave(0);
        assert_eq!(order(b), resolved, "a delay with interleave 0");
        let b = plain().interleave(2).happy_eyeballs_delay(delay);
        assert_eq!(
            order(b),
            by_two,
            "a delay with interleave 2, in either order"
        );
        assert_eq!(
            order(plain().interleave(2)),
            by_two,
            "interleave without a delay"
        );
        assert_eq!(order(plain().interleave(0)), resolved, "interleave 0");
    }

    #[test]
    fn l88_the_next_address_is_tried_after_one_fails() {
        let (_keep, refused) = refusing("127.0.0.1").unwrap();
        let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
        let good = listener.local_addr().unwrap();
        let lp = EventLoop::new().unwrap();
        let handle = lp.handle();
        let (winner, errors) = lp
            .run_until_complete(
                async move { connect_in_turn(&handle, vec![refused, good], None).await },
            )
            .unwrap();
        let (sock, index) = winner.expect("the second address accepts");
        assert_eq!(index, 1, "the listener is the second address");
        let peer = sock.peer_addr().unwrap();
        assert_eq!(peer.as_inet(), Some(good));
        let texts: Vec<String> = errors.iter().map(ToString::to_string).collect();
        assert_eq!(
            texts,
            [refused_text(refused)],
            "the first attempt's error is kept"
        );
        assert_eq!(errors[0].kind(), io::ErrorKind::ConnectionRefused);
    }

    #[test]
    fn l88_an_ipv6_refusal_falls_back_to_ipv4() {
        // `localhost` as most resolvers give it: ::1 first, then 127.0.0.1.
        let Some((_keep, refused)) = refusing("::1") else {
            return;
        };
        let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
        let good = listener.local_addr().unwrap();
        let sock = connect_all(vec![refused, good]).expect("127.0.0.1 accepts");
        assert_eq!(sock.peer_addr().unwrap().as_inet(), Some(good));
    }

    // CPython: BaseEventLoopWithSelectorTests.test_create_connection_multiple
    // CPython: BaseEventLoopWithSelectorTests.test_create_connection_multiple_errors
    #[test]
    fn l92_every_address_failing_gives_multiple_exceptions() {
        let (_k1, a) = refusing("127.0.0.1").unwrap();
        let (_k2, b) = refusing("127.0.0.1").unwrap();
        let Err(e) = connect_all(vec![a, b]) else {
            panic!("nothing listens, yet a connect succeeded");
        };
        assert_eq!(
            e.to_string(),
            format!(
                "Multiple exceptions: {}, {}",
                refused_text(a),
                refused_text(b)
            )
        );
        assert_eq!(
            e.kind(),
            io::ErrorKind::ConnectionRefused,
            "the kind they share"
        );
        // CPython's has errno None; ours keeps the number they share, as the docs of Error
        // promise for a refused connect (`raw_os_error()` 111).
        assert_eq!(
            e.raw_os_error(),
            Some(libc::ECONNREFUSED),
            "the errno they share"
        );
    }

    #[test]
    fn l92_equal_errors_give_the_first_unchanged() {
        // The same refusing address twice: two errors with one text → that error, errno kept.
        let (_keep, a) = refusing("127.0.0.1").unwrap();
        let Err(Error::Io(e)) = connect_all(vec![a, a]) else {
            panic!("expected Error::Io");
        };
        assert_eq!(e.to_string(), refused_text(a));
        assert_eq!(crate::error::errno(&e), Some(libc::ECONNREFUSED));
    }

    /// A local address nobody else can bind: a listener holds it. Kept alive by the caller.
    fn taken_local() -> (std::net::TcpListener, SocketAddr) {
        let l = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
        let addr = l.local_addr().unwrap();
        (l, addr)
    }

    fn in_use_text(local: SocketAddr) -> String {
        format!(
            "[Errno {}] error while attempting to bind on address {local}: address already in use",
            libc::EADDRINUSE
        )
    }

    /// Runs `connect_in_turn` from `locals`, then `first_connected`, as `create_connection`
    /// does with `local_addr`.
    fn connect_from(addrs: Vec<SocketAddr>, locals: Vec<SocketAddr>) -> Result<Socket, Error> {
        let lp = EventLoop::new().unwrap();
        let handle = lp.handle();
        lp.run_until_complete(async move {
            let locals = Locals {
                addrs: locals,
                bind: bind_local,
            };
            first_connected(connect_in_turn(&handle, addrs, Some(&locals)).await)
        })
        .unwrap()
    }

    // CPython: BaseEventLoopWithSelectorTests.test_create_connection_multiple_errors_local_addr
    #[test]
    fn l87_l92_a_bind_failure_before_a_bind_that_works_is_kept() {
        // CPython's _connect_sock records every bind failure, also when a later local address
        // binds: here the first local is taken, the second binds, the connect is refused.
        let (_keep, refused) = refusing("127.0.0.1").unwrap();
        let (_taken, taken) = taken_local();
        let free: SocketAddr = "127.0.0.1:0".parse().unwrap();
        let Err(e) = connect_from(vec![refused], vec![taken, free]) else {
            panic!("nothing listens, yet a connect succeeded");
        };
        assert_eq!(
            e.to_string(),
            format!(
                "Multiple exceptions: {}, {}",
                in_use_text(taken),
                refused_text(refused)
            )
        );
    }

    #[test]
    fn l87_l92_every_failed_bind_is_reported() {
        // No local address binds: each failure is recorded, not only the last one.
        let (_keep, refused) = refusing("127.0.0.1").unwrap();
        let (_t1, a) = taken_local();
        let (_t2, b) = taken_local();
        let Err(e) = connect_from(vec![refused], vec![a, b]) else {
            panic!("both local addresses are taken, yet a connect succeeded");
        };
        assert_eq!(
            e.to_string(),
            format!(
                "Multiple exceptions: {}, {}",
                in_use_text(a),
                in_use_text(b)
            )
        );
        assert_eq!(e.kind(), io::ErrorKind::AddrInUse, "the kind they share");
    }

    // Ports of EventLoopTestsMixin.test_create_connection_local_addr_skip_different_family and
    // test_create_connection_local_addr_nomatch_family (CPython issue 86508): a local address
    // of the other family is skipped, not tried (no bind error for it), and an attempt with no
    // local address of its family fails with its own error, not the bind error of another.
    #[test]
    fn l87_local_addresses_of_the_other_family_are_skipped() {
        let (_keep, refused) = refusing("127.0.0.1").unwrap();
        let v6_local: SocketAddr = "[::1]:0".parse().unwrap();
        let v4_local: SocketAddr = "127.0.0.1:0".parse().unwrap();
        let Err(e) = connect_from(vec![refused], vec![v6_local, v4_local]) else {
            panic!("nothing listens, yet a connect succeeded");
        };
        assert_eq!(
            e.to_string(),
            refused_text(refused),
            "only the connect failed"
        );
        assert_eq!(e.raw_os_error(), Some(libc::ECONNREFUSED));
    }

    #[test]
    fn l87_no_local_address_of_the_family_is_its_own_error() {
        let (_keep, refused) = refusing("127.0.0.1").unwrap();
        let v6_local: SocketAddr = "[::1]:0".parse().unwrap();
        let Err(e) = connect_from(vec![refused], vec![v6_local]) else {
            panic!("no IPv4 local address, yet a connect succeeded");
        };
        assert_eq!(
            e.to_string(),
            "no matching local address with family=AF_INET found"
        );
        assert_eq!(
            e.raw_os_error(),
            None,
            "CPython's OSError has no errno here"
        );
        // With an IPv6 attempt that binds and is refused first: both are reported.
        let Some((_keep6, refused6)) = refusing("::1") else {
            return;
        };
        let Err(e) = connect_from(vec![refused6, refused], vec![v6_local]) else {
            panic!("nothing listens, yet a connect succeeded");
        };
        assert_eq!(
            e.to_string(),
            format!(
                "Multiple exceptions: {}, no matching local address with family=AF_INET found",
                refused_text(refused6)
            )
        );
    }

    #[test]
    fn l92_a_single_failure_is_raised_unchanged() {
        let (_keep, a) = refusing("127.0.0.1").unwrap();
        let Err(Error::Io(e)) = connect_all(vec![a]) else {
            panic!("expected Error::Io");
        };
        assert_eq!(e.to_string(), refused_text(a));
        assert_eq!(crate::error::errno(&e), Some(libc::ECONNREFUSED));
    }
}
