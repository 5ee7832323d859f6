//! `create_server` / `create_unix_server`: resolving, binding and the builder (CPython
//! `BaseEventLoop.create_server`, `_UnixSelectorEventLoop.create_unix_server`; L96–L100,
//! L114–L120).

use std::cell::{Cell, RefCell};
use std::collections::HashMap;
use std::future::{Future, IntoFuture};
use std::io;
use std::net::SocketAddr;
use std::os::unix::fs::MetadataExt;
use std::path::{Path, PathBuf};
use std::pin::Pin;
use std::rc::{Rc, Weak};

use crate::constants::DEFAULT_BACKLOG;
use crate::error::Error;
use crate::event_loop::LoopHandle;
use crate::net::connect::{unix_addr, AddressFamily};
use crate::net::resolve::resolve;
use crate::net::socket_opts::{
    bind_tcp_listener, bind_unix_listener, check_stream, unix_stream_mismatch, ListenOptions,
};
use crate::protocol::{Protocol, ProtocolRef};
use crate::proxy_protocol::ProxyProtocol;

use super::accept::Accepter;
use super::{Factory, Server, ServerInner, ServerState};

pub(super) enum Bind {
    /// `hosts`: `None` for an empty host (every interface, L97), else the hosts to bind,
    /// possibly none (`hosts(&[])` binds nothing, it does not mean every interface).
    Tcp {
        hosts: Option<Vec<String>>,
        port: u16,
    },
    /// `sock`: one bound listener; a server group's worker gives one per address it serves.
    TcpSocks(Vec<std::net::TcpListener>),
    Unix(PathBuf),
    UnixSock(std::os::unix::net::UnixListener),
}

/// The pending result of [`LoopHandle::create_server`] /
/// [`LoopHandle::create_unix_server`]: set keywords, then `.await` it for a [`Server`].
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
///     let server = lp
///         .create_server(Quiet::default, "127.0.0.1", 0)
///         .backlog(16) // keywords are methods
///         .start_serving(false)
///         .await?; // binds here
///     assert!(!server.is_serving());
///     server.start_serving().await?;
///     assert!(server.is_serving());
///     server.close();
///     Ok::<_, asyncio::Error>(())
/// })??;
/// # Ok::<_, asyncio::Error>(())
/// ```
///
/// The other socket keywords together (the TLS ones are under `ssl`;
/// [`cleanup_socket`](CreateServer::cleanup_socket) has its own, and
/// [`StartServer`](crate::StartServer) shows [`sock`](crate::StartServer::sock) and
/// [`proxy_protocol_timeout`](crate::StartServer::proxy_protocol_timeout)):
///
/// ```
/// use asyncio::{AddressFamily, Protocol, Transport};
///
/// /// Says hi to each client, then closes.
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
///     let server = lp
///         .create_server(Hi::default, "", 0)
///         .hosts(&["localhost"]) // one listening socket per address it names
///         .family(AddressFamily::Inet) // IPv4 addresses only
///         .reuse_address(true) // SO_REUSEADDR (the default)
///         .reuse_port(false) // SO_REUSEPORT (the default)
///         .keep_alive(true) // SO_KEEPALIVE
///         .reserve_fd(true) // a spare descriptor for when they run out
///         .await?;
///     let addrs: Vec<_> = server.sockets().iter().map(|a| a.as_inet().unwrap()).collect();
///     assert!(!addrs.is_empty());
///     assert!(addrs.iter().all(|a| a.is_ipv4() && a.port() != 0)); // no ::1
///
///     let (reader, _writer) = asyncio::open_connection("127.0.0.1", addrs[0].port()).await?;
///     assert_eq!(reader.read(-1).await?, b"hi");
///     server.close();
///     Ok::<_, asyncio::Error>(())
/// })??;
/// # Ok::<_, asyncio::Error>(())
/// ```
#[must_use = "a server builder does nothing until awaited"]
pub struct CreateServer {
    lp: LoopHandle,
    factory: Factory,
    bind: Bind,
    /// Set when `sock` was given along with a host/port or path: the L96/L114 error text.
    conflict: Option<&'static str>,
    /// Made by `create_unix_server` (a path, or a `sock` in its place), whose Python
    /// counterpart has no TCP keywords.
    unix_entry: bool,
    /// The first TCP keyword given (`host`, `family`, `reuse_address`, `reuse_port`,
    /// `keep_alive`), by its Python name: refused on a Unix entry (L114).
    tcp_keyword: Option<&'static str>,
    /// `cleanup_socket` was given: refused on a TCP entry, whose Python counterpart has no
    /// such keyword (and which never removes a file, L119).
    unix_keyword: bool,
    family: AddressFamily,
    backlog: u32,
    reuse_address: bool,
    reuse_port: bool,
    keep_alive: bool,
    reserve_fd: bool,
    start_serving: bool,
    cleanup_socket: bool,
    /// `ssl` and the TLS timeouts (S9, T36).
    #[cfg(feature = "tls")]
    tls: crate::tls::ServerOptions,
    /// `proxy_protocol` and its timeout.
    proxy: super::proxy_layer::ProxyOptions,
    /// What the caller's own check of its keywords refused (`start_server`'s `limit`):
    /// reported after CPython's argument checks, before ours and any bind.
    refused: Option<Error>,
}

impl LoopHandle {
    /// Listens on `host:port` and runs a protocol made by `factory` on each accepted connection
    /// (Python's `loop.create_server`). An empty `host` binds every interface (IPv4
    /// and IPv6, separate sockets); `port` 0 lets the OS choose (per socket).
    ///
    /// Keywords: [`hosts`](CreateServer::hosts), [`family`](CreateServer::family),
    /// [`backlog`](CreateServer::backlog) (100), [`reuse_address`](CreateServer::reuse_address)
    /// (on), [`reuse_port`](CreateServer::reuse_port), [`keep_alive`](CreateServer::keep_alive),
    /// [`sock`](CreateServer::sock), [`start_serving`](CreateServer::start_serving) (on).
    ///
    /// # Examples
    ///
    /// ```
    /// use asyncio::{Protocol, Transport};
    ///
    /// /// Says hello to each client, then closes.
    /// #[derive(Default)]
    /// struct Hello;
    /// impl Protocol for Hello {
    ///     fn connection_made(&mut self, transport: Transport) {
    ///         let _ = transport.write(b"hello\n");
    ///         transport.close();
    ///     }
    /// }
    ///
    /// asyncio::run(async {
    ///     let lp = asyncio::get_running_loop()?;
    ///     let server = lp.create_server(Hello::default, "127.0.0.1", 0).await?;
    ///     let port = server.sockets()[0].port().unwrap();
    ///     let (reader, _writer) = asyncio::open_connection("127.0.0.1", port).await?;
    ///     assert_eq!(reader.read(-1).await?, b"hello\n");
    ///     server.close();
    ///     Ok::<_, asyncio::Error>(())
    /// })??;
    /// # Ok::<_, asyncio::Error>(())
    /// ```
    // Checklist: L96, L100.
    pub fn create_server<P, F>(&self, factory: F, host: &str, port: u16) -> CreateServer
    where
        P: Protocol + 'static,
        F: Fn() -> P + 'static,
    {
        let hosts = (!host.is_empty()).then(|| vec![host.to_string()]);
        CreateServer::new(self, factory, Bind::Tcp { hosts, port })
    }

    /// Listens on the Unix socket `path` (Python's `loop.create_unix_server`): a
    /// stale socket file there is removed first, any other file is left alone (and binding
    /// fails); the file is removed again on close unless replaced meanwhile. A leading NUL
    /// byte names an abstract socket (nothing to remove). An empty path is no path (Python's
    /// `path=None`): serve a bound listener with [`sock`](CreateServer::sock), else the
    /// creation fails with `Error::InvalidArgument`. So it does with a TCP keyword
    /// ([`hosts`](CreateServer::hosts), [`family`](CreateServer::family),
    /// [`reuse_address`](CreateServer::reuse_address), [`reuse_port`](CreateServer::reuse_port),
    /// [`keep_alive`](CreateServer::keep_alive)), which Python's `create_unix_server` does
    /// not take either.
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
    ///     assert!(path.exists());
    ///     server.close(); // removes the file
    ///     assert!(!path.exists());
    ///     Ok::<_, asyncio::Error>(())
    /// })??;
    /// # Ok::<_, asyncio::Error>(())
    /// ```
    // Checklist: L114, L119.
    pub fn create_unix_server<P, F>(&self, factory: F, path: impl AsRef<Path>) -> CreateServer
    where
        P: Protocol + 'static,
        F: Fn() -> P + 'static,
    {
        CreateServer::new(self, factory, Bind::Unix(path.as_ref().to_path_buf()))
    }
}

impl CreateServer {
    pub(super) fn new<P, F>(lp: &LoopHandle, factory: F, bind: Bind) -> Self
    where
        P: Protocol + 'static,
        F: Fn() -> P + 'static,
    {
        let factory: Factory = Rc::new(move || Rc::new(RefCell::new(factory())) as ProtocolRef);
        Self::with_factory(lp, factory, bind)
    }

    pub(crate) fn with_raw_factory(
        lp: &LoopHandle,
        factory: Factory,
        host: &str,
        port: u16,
    ) -> Self {
        let hosts = (!host.is_empty()).then(|| vec![host.to_string()]);
        Self::with_factory(lp, factory, Bind::Tcp { hosts, port })
    }

    pub(crate) fn with_raw_factory_unix(lp: &LoopHandle, factory: Factory, path: &Path) -> Self {
        Self::with_factory(lp, factory, Bind::Unix(path.to_path_buf()))
    }

    pub(super) fn with_factory(lp: &LoopHandle, factory: Factory, bind: Bind) -> Self {
        CreateServer {
            lp: lp.clone(),
            factory,
            unix_entry: matches!(bind, Bind::Unix(_)),
            bind,
            conflict: None,
            tcp_keyword: None,
            unix_keyword: false,
            family: AddressFamily::Unspecified,
            backlog: DEFAULT_BACKLOG,
            reuse_address: true,
            reuse_port: false,
            keep_alive: false,
            reserve_fd: false,
            start_serving: true,
            cleanup_socket: true,
            #[cfg(feature = "tls")]
            tls: Default::default(),
            proxy: Default::default(),
            refused: None,
        }
    }

    /// Refuse to create the server with `e`, an error of the caller's own keywords (S4:
    /// `start_server`'s `limit`), in its place in the order of checks (see `run`).
    pub(crate) fn refuse(mut self, e: Error) -> Self {
        self.refused.get_or_insert(e);
        self
    }

    /// Binds every one of these hosts (Python passes a sequence as `host`). An empty list
    /// binds none, so the server is not created; it does not mean every interface, as an
    /// empty `host` does. Nor does an empty name inside the list: the server is not created,
    /// with the resolver's error for it (`NotFound`, `[Errno -2] Name or service not known`),
    /// as CPython's `getaddrinfo('')` refuses it.
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
    ///     let server = lp
    ///         .create_server(Quiet::default, "", 0) // the list replaces the empty host
    ///         .hosts(&["127.0.0.1", "127.0.0.2"])
    ///         .await?;
    ///     let ips: Vec<_> = server.sockets().iter().map(|a| a.as_inet().unwrap().ip()).collect();
    ///     assert_eq!(ips, ["127.0.0.1".parse::<std::net::IpAddr>()?, "127.0.0.2".parse()?]);
    ///     server.close();
    ///     Ok::<_, Box<dyn std::error::Error>>(())
    /// })??;
    /// # Ok::<_, Box<dyn std::error::Error>>(())
    /// ```
    // Checklist: L97. Only a lone host "" (Python's '' or None) is every interface.
    pub fn hosts<S: AsRef<str>>(mut self, hosts: &[S]) -> Self {
        self.tcp_keyword = self.tcp_keyword.or(Some("host"));
        let hosts: Vec<String> = hosts.iter().map(|s| s.as_ref().to_string()).collect();
        match &mut self.bind {
            Bind::Tcp { hosts: h, .. } => *h = Some(hosts),
            // After `sock`: hosts as well are the L96 conflict, not silently dropped; a list
            // given, even an empty one, is a host (Python's host=[] is not None), as it is
            // when `sock` comes second. A Unix listener is a socket given as well.
            Bind::TcpSocks(_) | Bind::UnixSock(_) => {
                self.conflict = self.conflict.or(Some(
                    "host/port and sock can not be specified at the same time",
                ));
            }
            _ => {}
        }
        self
    }

    /// Binds only addresses of this family.
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
    ///     // `localhost` may name ::1 as well: only its IPv4 addresses are bound.
    ///     let server = lp
    ///         .create_server(Quiet::default, "localhost", 0)
    ///         .family(asyncio::AddressFamily::Inet)
    ///         .await?;
    ///     assert!(server.sockets().iter().all(|a| a.as_inet().unwrap().is_ipv4()));
    ///     server.close();
    ///     Ok::<_, asyncio::Error>(())
    /// })??;
    /// # Ok::<_, asyncio::Error>(())
    /// ```
    pub fn family(mut self, family: AddressFamily) -> Self {
        self.tcp_keyword = self.tcp_keyword.or(Some("family"));
        self.family = family;
        self
    }

    /// `listen()` backlog, and the most connections accepted per readiness event (100).
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
    ///     let server = lp.create_server(Quiet::default, "127.0.0.1", 0).backlog(16).await?;
    ///     let port = server.sockets()[0].port().unwrap();
    ///     // Kept by the kernel until accepted: up to 16 at a time.
    ///     let (_reader, writer) = asyncio::open_connection("127.0.0.1", port).await?;
    ///     writer.close();
    ///     server.close();
    ///     Ok::<_, asyncio::Error>(())
    /// })??;
    /// # Ok::<_, asyncio::Error>(())
    /// ```
    pub fn backlog(mut self, backlog: u32) -> Self {
        self.backlog = backlog;
        self
    }

    /// `SO_REUSEADDR` (on by default, as on POSIX in Python): the port can be bound again
    /// while connections it served linger in `TIME_WAIT`.
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
    ///     let first = lp.create_server(Quiet::default, "127.0.0.1", 0).await?;
    ///     let port = first.sockets()[0].port().unwrap();
    ///     first.close();
    ///     first.wait_closed().await;
    ///     // The same port again, at once.
    ///     let server = lp
    ///         .create_server(Quiet::default, "127.0.0.1", port)
    ///         .reuse_address(true)
    ///         .await?;
    ///     assert_eq!(server.sockets()[0].port().unwrap(), port);
    ///     server.close();
    ///     Ok::<_, asyncio::Error>(())
    /// })??;
    /// # Ok::<_, asyncio::Error>(())
    /// ```
    pub fn reuse_address(mut self, on: bool) -> Self {
        self.tcp_keyword = self.tcp_keyword.or(Some("reuse_address"));
        self.reuse_address = on;
        self
    }

    /// `SO_REUSEPORT` (off by default): servers that all set it share a port, the kernel
    /// spreading the connections among them.
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
    ///     let first = lp.create_server(Quiet::default, "127.0.0.1", 0).reuse_port(true).await?;
    ///     let port = first.sockets()[0].port().unwrap();
    ///     let server = lp
    ///         .create_server(Quiet::default, "127.0.0.1", port)
    ///         .reuse_port(true)
    ///         .await?;
    ///     assert_eq!(server.sockets()[0].port().unwrap(), port);
    ///     first.close();
    ///     server.close();
    ///     Ok::<_, asyncio::Error>(())
    /// })??;
    /// # Ok::<_, asyncio::Error>(())
    /// ```
    pub fn reuse_port(mut self, on: bool) -> Self {
        self.tcp_keyword = self.tcp_keyword.or(Some("reuse_port"));
        self.reuse_port = on;
        self
    }

    /// `SO_KEEPALIVE` on the listening sockets (Python 3.13's `keep_alive`).
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
    ///     let server = lp.create_server(Quiet::default, "127.0.0.1", 0).keep_alive(true).await?;
    ///     assert!(server.is_serving());
    ///     server.close();
    ///     Ok::<_, asyncio::Error>(())
    /// })??;
    /// # Ok::<_, asyncio::Error>(())
    /// ```
    pub fn keep_alive(mut self, on: bool) -> Self {
        self.tcp_keyword = self.tcp_keyword.or(Some("keep_alive"));
        self.keep_alive = on;
        self
    }

    /// libuv's answer to running out of descriptors (off by default): keep one spare fd open;
    /// when `accept` fails with EMFILE/ENFILE, close the spare, accept the waiting connection
    /// and close it at once (its client gets a prompt close instead of hanging in the backlog),
    /// then reopen the spare. Reported once per episode, like the default back-off. A spare
    /// that could not be reopened (another thread took the descriptor first) is opened again
    /// once descriptors are free, in time for the next episode.
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
    ///     let server = lp.create_server(Quiet::default, "127.0.0.1", 0).reserve_fd(true).await?;
    ///     assert!(server.is_serving()); // one descriptor more is open, kept for the worst case
    ///     server.close();
    ///     Ok::<_, asyncio::Error>(())
    /// })??;
    /// # Ok::<_, asyncio::Error>(())
    /// ```
    // Checklist: D6.
    pub fn reserve_fd(mut self, on: bool) -> Self {
        self.reserve_fd = on;
        self
    }

    /// Listen now (default) or only at [`Server::start_serving`]/[`Server::serve_forever`]:
    /// until then the sockets are bound but connections are refused.
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
    ///     let server = lp
    ///         .create_server(Quiet::default, "127.0.0.1", 0)
    ///         .start_serving(false)
    ///         .await?;
    ///     let port = server.sockets()[0].port().unwrap();
    ///     let refused = asyncio::open_connection("127.0.0.1", port).await;
    ///     assert_eq!(refused.unwrap_err().kind(), std::io::ErrorKind::ConnectionRefused);
    ///     server.start_serving().await?;
    ///     let (_reader, writer) = asyncio::open_connection("127.0.0.1", port).await?;
    ///     writer.close();
    ///     server.close();
    ///     Ok::<_, asyncio::Error>(())
    /// })??;
    /// # Ok::<_, asyncio::Error>(())
    /// ```
    // Checklist: L100.
    pub fn start_serving(mut self, on: bool) -> Self {
        self.start_serving = on;
        self
    }

    /// Unix servers: remove the socket file on close (default on, Python 3.13). Only
    /// [`create_unix_server`](LoopHandle::create_unix_server) (and `start_unix_server`), with a
    /// path or a listener given as [`sock`](Self::sock), remove it: `create_server` serving a
    /// Unix listener leaves its file alone, as CPython's `create_server` does, and refuses
    /// this keyword (`Error::InvalidArgument` when awaited), as CPython's has none.
    ///
    /// # Examples
    ///
    /// ```
    /// #[derive(Default)]
    /// struct Quiet;
    /// impl asyncio::Protocol for Quiet {}
    ///
    /// let name = format!("asyncio-doc-left-{}.sock", std::process::id());
    /// let path = std::env::temp_dir().join(name);
    /// let file = path.clone();
    /// asyncio::run(async move {
    ///     let lp = asyncio::get_running_loop()?;
    ///     let server = lp.create_unix_server(Quiet::default, &file).cleanup_socket(false).await?;
    ///     server.close();
    ///     Ok::<_, asyncio::Error>(())
    /// })??;
    /// assert!(path.exists(), "the socket file is left in place");
    /// std::fs::remove_file(&path)?;
    /// # Ok::<_, Box<dyn std::error::Error>>(())
    /// ```
    // Checklist: L119.
    pub fn cleanup_socket(mut self, on: bool) -> Self {
        self.unix_keyword = true;
        self.cleanup_socket = on;
        self
    }

    /// Serves on an already bound socket instead of binding: give `""` and port 0 (or an
    /// empty path) to `create_server`; with a host, port or path given too it is an error.
    ///
    /// # Examples
    ///
    /// ```
    /// #[derive(Default)]
    /// struct Quiet;
    /// impl asyncio::Protocol for Quiet {}
    ///
    /// let listener = std::net::TcpListener::bind("127.0.0.1:0")?; // bound by our own code
    /// let addr = listener.local_addr()?;
    /// asyncio::run(async move {
    ///     let lp = asyncio::get_running_loop()?;
    ///     let server = lp.create_server(Quiet::default, "", 0).sock(listener).await?;
    ///     assert_eq!(server.sockets()[0].as_inet(), Some(addr)); // served as it was bound
    ///     server.close();
    ///     Ok::<_, asyncio::Error>(())
    /// })??;
    /// # Ok::<_, Box<dyn std::error::Error>>(())
    /// ```
    // Checklist: L96, L120.
    pub fn sock(mut self, sock: impl Into<ListenSocket>) -> Self {
        let sock = sock.into();
        let conflict = match &self.bind {
            Bind::Tcp { hosts, port } if hosts.is_some() || *port != 0 => {
                Some("host/port and sock can not be specified at the same time")
            }
            // An empty path is no path (L114), as an empty host is no host.
            Bind::Unix(p) if !p.as_os_str().is_empty() => {
                Some("path and sock can not be specified at the same time")
            }
            // A Unix entry point serves a Unix stream socket only (L114), whatever type holds it.
            Bind::Unix(_) => match &sock {
                ListenSocket::Tcp(l) => unix_stream_mismatch(l),
                ListenSocket::Unix(l) => unix_stream_mismatch(l),
            },
            _ => None,
        };
        // Kept once set: a second `sock` finds the first socket, not the host or path.
        self.conflict = self.conflict.or(conflict);
        self.bind = match sock {
            ListenSocket::Tcp(l) => Bind::TcpSocks(vec![l]),
            ListenSocket::Unix(l) => Bind::UnixSock(l),
        };
        self
    }

    /// Serves on these bound TCP listeners, one per address: what a server group's worker
    /// starts with (its builder has no host, port or socket of its own, so nothing to
    /// conflict with).
    pub(crate) fn tcp_socks(mut self, listeners: Vec<std::net::TcpListener>) -> Self {
        debug_assert!(
            matches!(
                &self.bind,
                Bind::Tcp {
                    hosts: None,
                    port: 0
                }
            ),
            "tcp_socks on a builder that binds already"
        );
        self.bind = Bind::TcpSocks(listeners);
        self
    }

    /// Read a PROXY protocol header (v1 or v2) at the start of each accepted connection,
    /// as sent by a load balancer (HAProxy's `send-proxy`/`send-proxy-v2`, nginx, Envoy,
    /// cloud network balancers): off by default. With [`ProxyProtocol::Required`] every
    /// connection must start with one; with [`ProxyProtocol::Optional`] a connection whose
    /// first bytes are not a signature is served as is, those bytes included.
    ///
    /// The header is read and checked before the protocol's `connection_made` (and before
    /// the TLS handshake with `ssl`: balancers send it in the clear). Then
    /// `get_extra_info("peername")`/`("sockname")` are the client's addresses from the
    /// header, `"proxy_peername"`/`"proxy_sockname"` the balancer's connection, and
    /// [`Transport::proxy_header`](crate::Transport::proxy_header) the whole header (v2
    /// TLVs included). v2 `LOCAL` and v1 `UNKNOWN` headers (a balancer's health check) are
    /// accepted and keep the socket's own addresses, as the specification requires.
    ///
    /// A malformed or oversized header, an EOF before it is complete, or no complete header
    /// within [`proxy_protocol_timeout`](Self::proxy_protocol_timeout) closes that connection
    /// with one `log::debug!` line; the protocol never hears of it, other connections and
    /// the server go on. With `Optional`, a client that by the timeout (or its EOF) has sent
    /// nothing, or only the start of a signature (an empty line, say, which begins the v2
    /// signature), is served as a direct one, its bytes included: it may be waiting for the
    /// server to speak first. Only a connection that sent a whole signature is refused.
    ///
    /// # Examples
    ///
    /// ```
    /// use asyncio::{ProxyProtocol, Protocol, Transport};
    /// use std::io::{Read, Write};
    ///
    /// /// Writes the client's address as the header gave it, then closes.
    /// #[derive(Default)]
    /// struct Who;
    /// impl Protocol for Who {
    ///     fn connection_made(&mut self, t: Transport) {
    ///         let peer = t.peername().map(|a| a.to_string()).unwrap_or_default();
    ///         let _ = t.write(peer.as_bytes());
    ///         t.close();
    ///     }
    /// }
    ///
    /// asyncio::run(async {
    ///     let lp = asyncio::get_running_loop()?;
    ///     let server = lp
    ///         .create_server(Who::default, "127.0.0.1", 0)
    ///         .proxy_protocol(ProxyProtocol::Required)
    ///         .await?;
    ///     let port = server.sockets()[0].port().unwrap();
    ///     let (reader, writer) = asyncio::open_connection("127.0.0.1", port).await?;
    ///     writer.write(b"PROXY TCP4 192.0.2.1 198.51.100.7 56324 443\r\n")?;
    ///     assert_eq!(reader.read(-1).await?, b"192.0.2.1:56324");
    ///     server.close();
    ///     Ok::<_, asyncio::Error>(())
    /// })??;
    /// # Ok::<_, asyncio::Error>(())
    /// ```
    pub fn proxy_protocol(mut self, mode: ProxyProtocol) -> Self {
        self.proxy.mode = mode;
        self
    }

    /// How long a connection may take to send its whole PROXY header (default 5 s; any
    /// positive duration, `Duration::MAX` meaning no limit in practice). Zero is refused when
    /// the server is awaited: [`Error::InvalidArgument`]
    /// (`proxy_protocol_timeout should be a positive number, got 0.0`), as a zero
    /// `ssl_handshake_timeout` is.
    ///
    /// This is also what bounds a slow sender's memory: a v2 header may declare up to
    /// 64 KiB (`proxy_protocol::MAX_V2_LEN`), and one sent in small pieces is held as it
    /// comes, up to about 128 KiB of buffer per connection with the buffer's growth, until
    /// it is complete or this timeout closes the connection.
    ///
    /// # Examples
    ///
    /// A client that sends half a header and stalls is closed after 50 ms, not 5 s:
    ///
    /// ```
    /// use asyncio::ProxyProtocol;
    /// use std::time::Duration;
    ///
    /// struct Never;
    /// impl asyncio::Protocol for Never {}
    ///
    /// asyncio::run(async {
    ///     let lp = asyncio::get_running_loop()?;
    ///     let server = lp
    ///         .create_server(|| Never, "127.0.0.1", 0)
    ///         .proxy_protocol(ProxyProtocol::Required)
    ///         .proxy_protocol_timeout(Duration::from_millis(50))
    ///         .await?;
    ///     let port = server.sockets()[0].port().unwrap();
    ///     let (reader, writer) = asyncio::open_connection("127.0.0.1", port).await?;
    ///     writer.write(b"PROXY TCP4 192.0.2.1")?; // and no more
    ///     let end = asyncio::timeout(Duration::from_secs(5), reader.read(-1)).await?;
    ///     assert_eq!(end?, b""); // the server closed the connection
    ///     server.close();
    ///     Ok::<_, asyncio::Error>(())
    /// })??;
    /// # Ok::<_, asyncio::Error>(())
    /// ```
    pub fn proxy_protocol_timeout(mut self, timeout: std::time::Duration) -> Self {
        self.proxy.timeout = timeout;
        self
    }

    async fn run(mut self) -> Result<Server, Error> {
        // Checklist: L114. CPython's create_unix_server has none of these keywords (a
        // TypeError before its body runs, so before the conflicts); ignored, the server would
        // go ahead without the socket options or hosts asked for.
        if let Some(name) = self.tcp_keyword.filter(|_| self.unix_entry) {
            return Err(Error::invalid_argument(format!(
                "create_unix_server() got an unexpected keyword argument '{name}'"
            )));
        }
        if self.unix_keyword && !self.unix_entry {
            return Err(Error::invalid_argument(
                "create_server() got an unexpected keyword argument 'cleanup_socket'",
            ));
        }
        // Checklist: L96, L114. CPython's create_server and create_unix_server refuse a TLS
        // keyword given without ssl before looking at host/port (or path) and sock; a bad
        // stream limit and a zero timeout with ssl are its per-connection checks: ours refuses
        // them, and the PROXY timeout CPython lacks, after CPython's argument checks and
        // before binding.
        #[cfg(feature = "tls")]
        if self.tls.ssl.is_none() {
            self.tls.check()?;
        }
        if let Some(conflict) = self.conflict {
            return Err(Error::invalid_argument(conflict));
        }
        // The rest of CPython's if/else on host/port (or path) and sock comes before anything
        // of ours (a given ssl's configuration, the PROXY timeout) and before any bind.
        match &self.bind {
            Bind::TcpSocks(listeners) => listeners.iter().try_for_each(check_stream)?,
            Bind::UnixSock(l) => check_stream(l)?,
            // An empty path is Python's `path=None` (L114), not a name for bind(2) (which
            // would make up an abstract one on Linux: a server nobody could find).
            Bind::Unix(path) if path.as_os_str().is_empty() => {
                return Err(Error::invalid_argument(
                    "path was not specified, and no sock specified",
                ));
            }
            Bind::Tcp { .. } | Bind::Unix(_) => {}
        }
        // S4: CPython's StreamReader refuses a bad limit in the factory, before the SSLProtocol
        // is made with its timeouts: per connection there, here before serving, in that order.
        if let Some(e) = self.refused.take() {
            return Err(e);
        }
        #[cfg(feature = "tls")]
        if self.tls.ssl.is_some() {
            self.tls.check()?;
        }
        self.proxy.check()?;
        let opts = ListenOptions {
            reuse_address: self.reuse_address,
            reuse_port: self.reuse_port,
            keep_alive: self.keep_alive,
        };
        let mut sockets = Vec::new();
        let mut cleanup = None;
        match &self.bind {
            Bind::Tcp { hosts, port } => {
                let family = self.family.family();
                let mut addrs: Vec<SocketAddr> = match hosts {
                    None => resolve(None, *port, family, true).await?,
                    // One host: awaited in place.
                    Some(hosts) if hosts.len() == 1 => {
                        resolve(Some(&hosts[0]), *port, family, true).await?
                    }
                    // Several: every lookup at once, as CPython gathers them (L97); the first
                    // failure is the error, the others' lookups are abandoned.
                    Some(hosts) => resolve_all(hosts, *port, family).await?,
                };
                let mut seen = std::collections::HashSet::new();
                addrs.retain(|a| seen.insert(*a));
                sockets = bind_each(&addrs, |addr| bind_tcp_listener(addr, opts))?;
            }
            Bind::TcpSocks(listeners) => {
                for l in listeners {
                    let s = socket2::Socket::from(l.try_clone()?);
                    s.set_nonblocking(true)?;
                    sockets.push(s);
                }
            }
            Bind::Unix(path) => {
                let abstract_name = path.as_os_str().as_encoded_bytes().first() == Some(&0);
                // A leading NUL byte is a Linux abstract name (L117); one further in is
                // refused, as the client's (L112): the kernel would bind a shorter path.
                let addr = unix_addr(path)?;
                if !abstract_name {
                    crate::net::socket_opts::remove_stale_socket(path);
                }
                let s = bind_unix_listener(&addr, path)?;
                if !abstract_name && self.cleanup_socket {
                    if let Ok(m) = std::fs::metadata(path) {
                        cleanup = Some((path.clone(), m.dev(), m.ino()));
                    }
                }
                sockets.push(s);
            }
            Bind::UnixSock(l) => {
                let s = socket2::Socket::from(l.try_clone()?);
                s.set_nonblocking(true)?;
                // Checklist: L119, L120. CPython 3.13 records the file in create_unix_server
                // only: its create_server, given a Unix socket, never removes one (a socket
                // handed over by a supervisor, systemd's socket activation, stays its own).
                if self.cleanup_socket && self.unix_entry {
                    if let Some(path) = l
                        .local_addr()
                        .ok()
                        .and_then(|a| a.as_pathname().map(Path::to_path_buf))
                    {
                        if let Ok(m) = std::fs::metadata(&path) {
                            cleanup = Some((path, m.dev(), m.ino()));
                        }
                    }
                }
                sockets.push(s);
            }
        }
        let inner = Rc::new_cyclic(|weak: &Weak<ServerInner>| {
            let accepters = sockets
                .into_iter()
                .map(|s| {
                    Rc::new_cyclic(|me| Accepter {
                        server: weak.clone(),
                        me: me.clone(),
                        listener: RefCell::new(None),
                        unlistened: RefCell::new(Some(s)),
                        key: Cell::new(None),

                        spare: RefCell::new(None),
                        state: Cell::new(super::accept::Accepting::Open),
                    })
                })
                .collect();
            ServerInner {
                lp: self.lp.clone(),
                factory: self.factory.clone(),
                accepters: RefCell::new(accepters),
                backlog: self.backlog,
                reserve_fd: self.reserve_fd,
                state: Cell::new(ServerState::Bound),
                clients: RefCell::new(HashMap::default()),
                waiters: RefCell::default(),
                cleanup: RefCell::new(cleanup),
                #[cfg(feature = "tls")]
                tls: self.tls.clone(),
                proxy: self.proxy,
            }
        });
        let server = Server { inner };
        if self.start_serving {
            // Once one socket listens the loop holds the server (`Armed`), and the caller has
            // no handle to close it: if `listen` fails on a later socket, or this future is
            // dropped in the yield that follows, close it here, or it serves forever.
            struct CloseUnlessReturned(Option<Server>);
            impl Drop for CloseUnlessReturned {
                fn drop(&mut self) {
                    if let Some(server) = self.0.take() {
                        server.close();
                    }
                }
            }
            let mut guard = CloseUnlessReturned(Some(server.clone()));
            server.start_serving().await?;
            guard.0 = None;
        }
        Ok(server)
    }
}

/// One listener on each of `addrs`, in their order, each bound by `bind` (CPython
/// create_server's loop over its addresses; `serve_on_threads` binds its shared listeners so
/// too). An address that is [`not_this_hosts`] is skipped, for any host, as the newest CPython
/// does (L99); when none binds, the error is [`bound_none`]'s, with the errno of the first one
/// skipped. Any other refusal is the error.
pub(crate) fn bind_each(
    addrs: &[SocketAddr],
    mut bind: impl FnMut(&SocketAddr) -> io::Result<socket2::Socket>,
) -> Result<Vec<socket2::Socket>, Error> {
    let mut sockets = Vec::with_capacity(addrs.len());
    let mut not_local = None;
    for addr in addrs {
        match bind(addr) {
            Ok(s) => sockets.push(s),
            Err(e) if not_this_hosts(&e) => not_local = not_local.or(Some(e)),
            Err(e) => return Err(Error::Io(e)),
        }
    }
    if sockets.is_empty() {
        return Err(Error::Io(bound_none(addrs, not_local)));
    }
    Ok(sockets)
}

/// A bind refused because the address is not one of this host's (`EADDRNOTAVAIL`), or is of
/// a family it lacks (`EAFNOSUPPORT`: a `localhost` that also names ::1 without IPv6).
pub(crate) fn not_this_hosts(e: &io::Error) -> bool {
    e.kind() == io::ErrorKind::AddrNotAvailable || e.raw_os_error() == Some(libc::EAFNOSUPPORT)
}

/// CPython 3.13's error when no address of a TCP server could be bound (L99):
/// `could not bind on any address out of [...]`, every address tried listed; the errno of the
/// first one skipped as not this host's is kept (`EADDRNOTAVAIL` or `EAFNOSUPPORT`).
pub(crate) fn bound_none(addrs: &[SocketAddr], not_local: Option<io::Error>) -> io::Error {
    use std::fmt::Write;
    let mut text = String::from("could not bind on any address out of [");
    for (i, addr) in addrs.iter().enumerate() {
        let sep = if i == 0 { "" } else { ", " };
        let _ = write!(text, "{sep}{addr}");
    }
    text.push(']');
    match not_local {
        Some(e) => crate::error::OsError::io(&e, text),
        None => io::Error::new(io::ErrorKind::AddrNotAvailable, text),
    }
}

/// TLS keywords (feature `tls`).
// Checklist: S9, L96, T36.
#[cfg(feature = "tls")]
impl CreateServer {
    /// Serve TLS with this configuration (Python's `ssl=<SSLContext>`; a bool is not accepted):
    /// each accepted connection's handshake completes before its protocol's
    /// `connection_made`; failed handshakes close the socket and reach no protocol.
    ///
    /// # Examples
    ///
    /// ```
    /// use std::time::Duration;
    /// use asyncio::{Protocol, Transport};
    ///
    /// /// Says hi over TLS (the transport encrypts), then closes.
    /// #[derive(Default)]
    /// struct Hi;
    /// impl Protocol for Hi {
    ///     fn connection_made(&mut self, transport: Transport) {
    ///         let _ = transport.write(b"hi");
    ///         transport.close();
    ///     }
    /// }
    ///
    /// # let dir = std::env::temp_dir().join(format!("asyncio-doc-cs-{}", std::process::id()));
    /// # std::fs::create_dir_all(&dir)?;
    /// # let made = rcgen::generate_simple_self_signed(vec!["localhost".into()])?;
    /// # std::fs::write(dir.join("cert.pem"), made.cert.pem())?;
    /// # std::fs::write(dir.join("key.pem"), made.key_pair.serialize_pem())?;
    /// // cert.pem / key.pem: a self-signed certificate for localhost.
    /// let (cert, key) = (dir.join("cert.pem"), dir.join("key.pem"));
    /// asyncio::run(async move {
    ///     let lp = asyncio::get_running_loop()?;
    ///     let server = lp
    ///         .create_server(Hi::default, "127.0.0.1", 0)
    ///         .ssl(asyncio::tls::server_config(&cert, &key)?)
    ///         .ssl_handshake_timeout(Duration::from_secs(10)) // per connection
    ///         .ssl_shutdown_timeout(Duration::from_secs(5))
    ///         .ssl_require_close_notify(true)
    ///         .await?;
    ///     let port = server.sockets()[0].port().unwrap();
    ///
    ///     let (reader, _writer) = asyncio::open_connection("127.0.0.1", port)
    ///         .ssl(asyncio::tls::client_config_with_roots(&cert)?)
    ///         .server_hostname("localhost")
    ///         .await?;
    ///     assert_eq!(reader.read(-1).await?, b"hi");
    ///     server.close();
    ///     Ok::<_, asyncio::Error>(())
    /// })??;
    /// # std::fs::remove_dir_all(&dir)?;
    /// # Ok::<_, Box<dyn std::error::Error>>(())
    /// ```
    // Checklist: S9, T36.
    pub fn ssl(mut self, config: impl Into<std::sync::Arc<rustls::ServerConfig>>) -> Self {
        self.tls.ssl = Some(config.into());
        self
    }

    /// How long each handshake may take (default 60 s): past it the connection is aborted.
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
    ///     let server = lp
    ///         .create_server(Quiet::default, "127.0.0.1", 0)
    ///         .ssl(server_config)
    ///         .ssl_handshake_timeout(Duration::from_millis(50))
    ///         .await?;
    ///     let port = server.sockets()[0].port().unwrap();
    ///     // A plain client that never starts the handshake is disconnected.
    ///     let (reader, _writer) = asyncio::open_connection("127.0.0.1", port).await?;
    ///     let end = reader.read(-1).await; // EOF, or a reset: no byte either way
    ///     assert!(end.map_or(true, |got| got.is_empty()));
    ///     server.close();
    ///     Ok::<_, asyncio::Error>(())
    /// })??;
    /// # let _ = client_config;
    /// # Ok::<_, asyncio::Error>(())
    /// ```
    pub fn ssl_handshake_timeout(mut self, timeout: std::time::Duration) -> Self {
        self.tls.options.handshake_timeout = Some(timeout);
        self
    }

    /// How long each close_notify exchange may take (default 30 s): past it, a connection
    /// being closed stops waiting for the client's close_notify and is aborted.
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
    /// use asyncio::{Protocol, Transport};
    ///
    /// /// Closes each connection once its handshake is done.
    /// #[derive(Default)]
    /// struct Bye;
    /// impl Protocol for Bye {
    ///     fn connection_made(&mut self, transport: Transport) {
    ///         transport.close(); // close_notify, then at most 5 s for the client's
    ///     }
    /// }
    ///
    /// asyncio::run(async move {
    ///     let lp = asyncio::get_running_loop()?;
    ///     let server = lp
    ///         .create_server(Bye::default, "127.0.0.1", 0)
    ///         .ssl(server_config)
    ///         .ssl_shutdown_timeout(Duration::from_secs(5))
    ///         .await?;
    ///     let port = server.sockets()[0].port().unwrap();
    ///     let (reader, _writer) = asyncio::open_connection("127.0.0.1", port)
    ///         .ssl(client_config)
    ///         .server_hostname("localhost")
    ///         .await?;
    ///     assert_eq!(reader.read(-1).await?, b""); // the server's close_notify
    ///     server.close();
    ///     Ok::<_, asyncio::Error>(())
    /// })??;
    /// # Ok::<_, asyncio::Error>(())
    /// ```
    pub fn ssl_shutdown_timeout(mut self, timeout: std::time::Duration) -> Self {
        self.tls.options.shutdown_timeout = Some(timeout);
        self
    }

    /// Report an EOF without close_notify as `Error::Tls` instead of a clean EOF: each
    /// connection's `connection_lost` gets an error of kind `InvalidData`
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
    /// asyncio::run(async move {
    ///     let lp = asyncio::get_running_loop()?;
    ///     let lost = lp.create_future();
    ///     let ending = lost.clone();
    ///     let server = lp
    ///         .create_server(move || Ending(ending.clone()), "127.0.0.1", 0)
    ///         .ssl(server_config)
    ///         .ssl_require_close_notify(true) // else a clean EOF: `None`
    ///         .await?;
    ///     let port = server.sockets()[0].port().unwrap();
    ///     let (_reader, writer) = asyncio::open_connection("127.0.0.1", port)
    ///         .ssl(client_config)
    ///         .server_hostname("localhost")
    ///         .await?;
    ///     writer.transport().abort();
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

/// Every host's addresses, in the hosts' order, the lookups running at once (CPython's
/// `gather` of one `getaddrinfo` per host, L97). Polled together inside this one future, not
/// as tasks: those would need a running loop (and be that loop's, not the server's). The
/// first failure is the error; dropping the future abandons the lookups still running.
async fn resolve_all(
    hosts: &[String],
    port: u16,
    family: crate::net::resolve::Family,
) -> Result<Vec<SocketAddr>, Error> {
    let mut lookups: Vec<_> = hosts
        .iter()
        .map(|h| Some(Box::pin(resolve(Some(h), port, family, true))))
        .collect();
    let mut found = vec![Vec::new(); hosts.len()];
    std::future::poll_fn(|cx| {
        for (lookup, addrs) in lookups.iter_mut().zip(&mut found) {
            if let Some(pending) = lookup {
                if let std::task::Poll::Ready(got) = pending.as_mut().poll(cx) {
                    *addrs = got?;
                    *lookup = None;
                }
            }
        }
        if lookups.iter().all(Option::is_none) {
            std::task::Poll::Ready(Ok::<_, Error>(()))
        } else {
            std::task::Poll::Pending
        }
    })
    .await?;
    Ok(found.concat())
}

impl IntoFuture for CreateServer {
    type Output = Result<Server, Error>;
    type IntoFuture = Pin<Box<dyn Future<Output = Self::Output>>>;

    fn into_future(self) -> Self::IntoFuture {
        Box::pin(self.run())
    }
}

/// An already bound listening socket to serve on (`create_server(sock=…)`).
///
/// # Examples
///
/// ```
/// let listener = std::net::TcpListener::bind("127.0.0.1:0")?;
/// let port = listener.local_addr()?.port();
/// asyncio::run(async move {
///     let noop = |_r: asyncio::StreamReader, w: asyncio::StreamWriter| w.close();
///     // Serve on a socket bound elsewhere (e.g. inherited); From gives the ListenSocket.
///     let server = asyncio::start_server(noop, "", 0).sock(listener).await?;
///     assert_eq!(server.sockets()[0].port().unwrap(), port);
///     server.close();
///     Ok::<_, asyncio::Error>(())
/// })??;
/// # Ok::<_, Box<dyn std::error::Error>>(())
/// ```
#[derive(Debug)]
pub enum ListenSocket {
    /// A bound TCP listener.
    Tcp(std::net::TcpListener),
    /// A bound Unix listener.
    Unix(std::os::unix::net::UnixListener),
}

impl From<std::net::TcpListener> for ListenSocket {
    fn from(l: std::net::TcpListener) -> Self {
        ListenSocket::Tcp(l)
    }
}

impl From<std::os::unix::net::UnixListener> for ListenSocket {
    fn from(l: std::os::unix::net::UnixListener) -> Self {
        ListenSocket::Unix(l)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::error::errno;

    /// Binds `addrs` with a double that refuses the i-th address with `refusals[i]` (0: binds
    /// 127.0.0.1, port 0, for real).
    fn bind_scripted(refusals: &[i32]) -> Result<Vec<socket2::Socket>, Error> {
        let addrs: Vec<SocketAddr> = (0..refusals.len())
            .map(|i| SocketAddr::from(([192, 0, 2, i as u8 + 1], 80)))
            .collect();
        let mut next = refusals.iter();
        bind_each(&addrs, |_| match next.next() {
            Some(&0) | None => {
                let any: SocketAddr = "127.0.0.1:0".parse().unwrap();
                let opts = ListenOptions {
                    reuse_address: true,
                    reuse_port: false,
                    keep_alive: false,
                };
                bind_tcp_listener(&any, opts)
            }
            Some(&code) => Err(io::Error::from_raw_os_error(code)),
        })
    }

    fn io_err(r: Result<Vec<socket2::Socket>, Error>) -> io::Error {
        match r {
            Err(Error::Io(e)) => e,
            Err(other) => panic!("an I/O error, got {other:?}"),
            Ok(s) => panic!("{} listeners bound", s.len()),
        }
    }

    // Checklist: L99. A family the host lacks (EAFNOSUPPORT) is skipped as an address not of
    // this host is, and its errno kept for the error when nothing binds. create_server used
    // to drop it: the error then had no errno, kind AddrNotAvailable (serve_on_threads kept
    // it; both bind through here now).
    #[test]
    fn l99_a_skipped_family_keeps_its_errno_when_nothing_binds() {
        let (afno, notavail) = (libc::EAFNOSUPPORT, libc::EADDRNOTAVAIL);
        let e = io_err(bind_scripted(&[afno, notavail]));
        assert_eq!(errno(&e), Some(afno), "{e}");
        let kind = io::Error::from_raw_os_error(afno).kind();
        assert_eq!(e.kind(), kind, "{e}");
        let text = e.to_string();
        let want = "could not bind on any address out of [192.0.2.1:80, 192.0.2.2:80]";
        assert!(text.ends_with(want), "{text}");
        let e = io_err(bind_scripted(&[afno]));
        assert_eq!(errno(&e), Some(afno), "{e}");
        // The first skipped one's errno, whichever it is.
        let e = io_err(bind_scripted(&[notavail, afno]));
        assert_eq!(errno(&e), Some(notavail), "{e}");
        assert_eq!(e.kind(), io::ErrorKind::AddrNotAvailable, "{e}");
        // Skipped, not fatal: the next address binds.
        assert_eq!(bind_scripted(&[afno, 0]).unwrap().len(), 1);
        // Any other refusal is the error, the addresses after it not tried.
        let e = io_err(bind_scripted(&[libc::EADDRINUSE, 0]));
        assert_eq!(e.raw_os_error(), Some(libc::EADDRINUSE), "{e}");
    }
}
