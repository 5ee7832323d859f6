//! `loop.create_datagram_endpoint`: resolve the local and remote addresses, make a datagram
//! socket (bound, connected, with the asked options), wrap it in a datagram transport, wait for
//! `connection_made`.
//!
//! Mirrors `BaseEventLoop.create_datagram_endpoint` in CPython `Lib/asyncio/base_events.py`
//! (3.11): with `sock`, only that socket (no other keyword); with neither address, an unbound
//! socket of the given family; with Unix paths (Python's `family=AF_UNIX` and `str`
//! addresses), a stale socket file at the local path is removed first; with host/port pairs,
//! each is resolved for datagrams, the answers are paired by family (the last address of a
//! family wins, as in CPython's dict), and the first family whose socket can be made, bound and
//! connected wins; if none can, the first error is returned. Python 3.11 has no
//! `reuse_address` keyword (3.8–3.10 refused `reuse_address=True`): neither have we.
//!
//! Ground rules: sockets are made with `socket2` (no mio here) and closed on every error path
//! by their `Drop`; a UDP connect does not wait, so it is the plain `connect(2)`.

use std::cell::RefCell;
use std::future::{Future, IntoFuture};
use std::net::SocketAddr;
use std::os::fd::OwnedFd;
use std::path::PathBuf;
use std::pin::Pin;
use std::rc::Rc;

use socket2::{Domain, Socket, Type};

use super::connect::{unix_addr, unix_path_error, wait_connection_made, AddressFamily};
use super::resolve::resolve;
use crate::error::Error;
use crate::event_loop::LoopHandle;
use crate::net::socket_opts::{remove_stale_socket, reuse_port_refused};
use crate::transport::datagram::DatagramSocketTransport;
use crate::transport::{Address, DatagramProtocol, DatagramTransport};

/// A datagram socket to adopt (`create_datagram_endpoint(sock=…)`): UDP or Unix datagram.
/// The socket's own family decides, not the variant it comes in.
///
/// # Examples
///
/// ```
/// use asyncio::DatagramSocket;
///
/// let udp: DatagramSocket = std::net::UdpSocket::bind("127.0.0.1:0")?.into();
/// let (a, _b) = std::os::unix::net::UnixDatagram::pair()?;
/// let unix: DatagramSocket = a.into();
/// assert!(matches!((udp, unix), (DatagramSocket::Udp(_), DatagramSocket::Unix(_))));
/// # Ok::<_, Box<dyn std::error::Error>>(())
/// ```
#[derive(Debug)]
pub enum DatagramSocket {
    /// A UDP socket, bound or not, connected or not.
    Udp(std::net::UdpSocket),
    /// A Unix datagram socket (e.g. one of `UnixDatagram::pair()`).
    Unix(std::os::unix::net::UnixDatagram),
}

impl From<std::net::UdpSocket> for DatagramSocket {
    fn from(s: std::net::UdpSocket) -> Self {
        DatagramSocket::Udp(s)
    }
}

impl From<std::os::unix::net::UnixDatagram> for DatagramSocket {
    fn from(s: std::os::unix::net::UnixDatagram) -> Self {
        DatagramSocket::Unix(s)
    }
}

/// A local or remote address as given.
#[derive(Clone, Debug)]
enum Endpoint {
    Inet(String, u16),
    Unix(PathBuf),
}

impl Endpoint {
    /// As CPython's refusal of `sock=` prints the keyword's value (`f'{v}'`, a `str` without
    /// quotes): `('127.0.0.1', 0)`, `/tmp/s`; `None` for Python's falsy `''`, not listed.
    fn python(&self) -> Option<String> {
        match self {
            Endpoint::Inet(h, p) => Some(format!("('{h}', {p})")),
            Endpoint::Unix(p) if p.as_os_str().is_empty() => None,
            Endpoint::Unix(p) => Some(p.display().to_string()),
        }
    }
}

/// The pending result of [`LoopHandle::create_datagram_endpoint`]: set keywords with the
/// builder methods, then `.await` it for `(DatagramTransport, Rc<RefCell<P>>)`.
///
/// # Examples
///
/// ```
/// #[derive(Default)]
/// struct Quiet;
/// impl asyncio::DatagramProtocol for Quiet {}
///
/// asyncio::run(async {
///     let lp = asyncio::get_running_loop()?;
///     let (server, _) = lp
///         .create_datagram_endpoint(Quiet::default)
///         .local_addr("127.0.0.1", 0)
///         .await?;
///     let port = server.sockname().and_then(|a| a.port()).unwrap();
///     let (client, _) = lp
///         .create_datagram_endpoint(Quiet::default)
///         .remote_addr("127.0.0.1", port) // keywords are methods
///         .await?;
///     assert_eq!(client.peername().and_then(|a| a.port()), Some(port));
///     client.close();
///     server.close();
///     Ok::<_, asyncio::Error>(())
/// })??;
/// # Ok::<_, asyncio::Error>(())
/// ```
///
/// # Cancel safety
/// Dropped before its result, it leaks nothing: the socket, or the transport made on it, is
/// closed as Python's `except: transport.close()` closes it, so the datagrams the protocol
/// queued in `connection_made` are still sent.
#[must_use = "a datagram endpoint builder does nothing until awaited"]
pub struct CreateDatagramEndpoint<P> {
    lp: LoopHandle,
    factory: Box<dyn FnOnce() -> P>,
    local: Option<Endpoint>,
    remote: Option<Endpoint>,
    family: AddressFamily,
    /// `proto=`: 0 for the family's default.
    proto: i32,
    reuse_port: bool,
    allow_broadcast: bool,
    sock: Option<DatagramSocket>,
}

impl LoopHandle {
    /// Makes a UDP (or Unix datagram) endpoint and runs a protocol made by `factory` on it
    /// (Python's `loop.create_datagram_endpoint`). Keywords are builder methods:
    /// [`local_addr`](CreateDatagramEndpoint::local_addr),
    /// [`remote_addr`](CreateDatagramEndpoint::remote_addr),
    /// [`local_path`](CreateDatagramEndpoint::local_path),
    /// [`remote_path`](CreateDatagramEndpoint::remote_path),
    /// [`family`](CreateDatagramEndpoint::family), [`proto`](CreateDatagramEndpoint::proto),
    /// [`reuse_port`](CreateDatagramEndpoint::reuse_port),
    /// [`allow_broadcast`](CreateDatagramEndpoint::allow_broadcast),
    /// [`sock`](CreateDatagramEndpoint::sock). The result arrives after `connection_made`.
    ///
    /// # Errors
    /// `Error::InvalidArgument` for what CPython refuses with `ValueError`: `unexpected
    /// address family` (no address, no family, no socket), `A UDP Socket was expected, got …`,
    /// `socket modifier keyword arguments can not be used when sock is specified. (…)`, `can
    /// not get address information` (no family has both addresses); `Error::Io` for a failed
    /// lookup, socket, bind or connect (the first family's error).
    ///
    /// # Examples
    ///
    /// ```
    /// #[derive(Default)]
    /// struct Quiet;
    /// impl asyncio::DatagramProtocol for Quiet {}
    ///
    /// asyncio::run(async {
    ///     let lp = asyncio::get_running_loop()?;
    ///     let (t, _protocol) = lp
    ///         .create_datagram_endpoint(Quiet::default)
    ///         .local_addr("127.0.0.1", 0)
    ///         .await?;
    ///     t.close();
    ///     let refused = lp.create_datagram_endpoint(Quiet::default).await;
    ///     assert_eq!(refused.err().unwrap().to_string(), "unexpected address family");
    ///     Ok::<_, asyncio::Error>(())
    /// })??;
    /// # Ok::<_, asyncio::Error>(())
    /// ```
    pub fn create_datagram_endpoint<P, F>(&self, factory: F) -> CreateDatagramEndpoint<P>
    where
        P: DatagramProtocol + 'static,
        F: FnOnce() -> P + 'static,
    {
        CreateDatagramEndpoint {
            lp: self.clone(),
            factory: Box::new(factory),
            local: None,
            remote: None,
            family: AddressFamily::Unspecified,
            proto: 0,
            reuse_port: false,
            allow_broadcast: false,
            sock: None,
        }
    }
}

impl<P: DatagramProtocol + 'static> CreateDatagramEndpoint<P> {
    /// Binds to this host and port (resolved for datagrams; `""` is any address).
    ///
    /// # Examples
    ///
    /// ```
    /// #[derive(Default)]
    /// struct Quiet;
    /// impl asyncio::DatagramProtocol for Quiet {}
    ///
    /// asyncio::run(async {
    ///     let lp = asyncio::get_running_loop()?;
    ///     let (t, _protocol) = lp
    ///         .create_datagram_endpoint(Quiet::default)
    ///         .local_addr("127.0.0.1", 0) // the port left to the OS
    ///         .await?;
    ///     let ours = t.sockname().unwrap().as_inet().unwrap();
    ///     assert_eq!(ours.ip(), std::net::Ipv4Addr::LOCALHOST);
    ///     assert_ne!(ours.port(), 0);
    ///     assert!(t.peername().is_none(), "bound, not connected");
    ///     t.close();
    ///     Ok::<_, asyncio::Error>(())
    /// })??;
    /// # Ok::<_, asyncio::Error>(())
    /// ```
    pub fn local_addr(mut self, host: &str, port: u16) -> Self {
        self.local = Some(Endpoint::Inet(host.to_string(), port));
        self
    }

    /// Connects to this host and port: `sendto` then takes no other address, and
    /// `error_received` hears of ICMP errors. An empty host is a name that does not resolve
    /// (`Error::Io`, kind `NotFound`), as in Python.
    ///
    /// # Examples
    ///
    /// ```
    /// #[derive(Default)]
    /// struct Quiet;
    /// impl asyncio::DatagramProtocol for Quiet {}
    ///
    /// let peer = std::net::UdpSocket::bind("127.0.0.1:0")?;
    /// peer.set_read_timeout(Some(std::time::Duration::from_secs(5)))?;
    /// let port = peer.local_addr()?.port();
    /// asyncio::run(async move {
    ///     let lp = asyncio::get_running_loop()?;
    ///     let (t, _protocol) = lp
    ///         .create_datagram_endpoint(Quiet::default)
    ///         .remote_addr("127.0.0.1", port)
    ///         .await?;
    ///     assert_eq!(t.peername().unwrap().port().unwrap(), port);
    ///     t.sendto(b"to the one peer", None)?; // no address: the connected one
    ///     t.close();
    ///     Ok::<_, asyncio::Error>(())
    /// })??;
    /// let mut got = [0u8; 32];
    /// let n = peer.recv(&mut got)?;
    /// assert_eq!(&got[..n], b"to the one peer");
    /// # Ok::<_, Box<dyn std::error::Error>>(())
    /// ```
    pub fn remote_addr(mut self, host: &str, port: u16) -> Self {
        self.remote = Some(Endpoint::Inet(host.to_string(), port));
        self
    }

    /// A Unix datagram socket bound to this path (Python's `family=AF_UNIX` with
    /// `local_addr=path`); a stale socket file there is removed first. An empty path is no
    /// address: the socket stays unbound (Python's `''`).
    ///
    /// # Examples
    ///
    /// A receiver bound to a path in a temp dir, a sender connected to it with
    /// [`remote_path`](Self::remote_path):
    ///
    /// ```
    /// use asyncio::{Address, DatagramProtocol, LoopFuture};
    /// use std::time::Duration;
    ///
    /// /// Hands the first datagram to whoever awaits the future.
    /// struct Inbox(LoopFuture<Vec<u8>>);
    /// impl DatagramProtocol for Inbox {
    ///     fn datagram_received(&mut self, data: &[u8], _from: Address) {
    ///         let _ = self.0.set_result(data.to_vec());
    ///     }
    /// }
    /// # struct Quiet;
    /// # impl DatagramProtocol for Quiet {}
    ///
    /// asyncio::run(async {
    ///     let name = format!("asyncio-doc-dgram-{}.sock", std::process::id());
    ///     let path = std::env::temp_dir().join(name);
    ///     let lp = asyncio::get_running_loop()?;
    ///     let first = lp.create_future();
    ///     let inbox = first.clone();
    ///     let (receiver, _) = lp
    ///         .create_datagram_endpoint(move || Inbox(inbox))
    ///         .local_path(&path)
    ///         .await?;
    ///     let (sender, _) = lp.create_datagram_endpoint(|| Quiet).remote_path(&path).await?;
    ///     sender.sendto(b"over a Unix socket", None)?;
    ///     let got = asyncio::try_timeout(Duration::from_secs(5), first).await?;
    ///     assert_eq!(got, b"over a Unix socket");
    ///     sender.close();
    ///     receiver.close();
    /// #   std::fs::remove_file(&path)?;
    ///     Ok::<_, asyncio::Error>(())
    /// })??;
    /// # Ok::<_, asyncio::Error>(())
    /// ```
    pub fn local_path(mut self, path: impl Into<PathBuf>) -> Self {
        self.local = Some(Endpoint::Unix(path.into()));
        self
    }

    /// A Unix datagram socket connected to this path (`family=AF_UNIX`, `remote_addr=path`);
    /// an empty path is no address (not connected). `sendto(data, None)` then sends there.
    ///
    /// # Examples
    ///
    /// ```
    /// use std::os::unix::net::UnixDatagram;
    /// # struct Quiet;
    /// # impl asyncio::DatagramProtocol for Quiet {}
    ///
    /// let name = format!("asyncio-doc-remote-{}.sock", std::process::id());
    /// let path = std::env::temp_dir().join(name);
    /// # let _ = std::fs::remove_file(&path);
    /// let receiver = UnixDatagram::bind(&path)?; // a plain std socket at the other end
    /// asyncio::run(async {
    ///     let lp = asyncio::get_running_loop()?;
    ///     let (sender, _) = lp.create_datagram_endpoint(|| Quiet).remote_path(&path).await?;
    ///     sender.sendto(b"to the path", None)?; // no address: the connected one
    ///     sender.close();
    ///     Ok::<_, asyncio::Error>(())
    /// })??;
    /// receiver.set_read_timeout(Some(std::time::Duration::from_secs(5)))?;
    /// let mut buf = [0; 32];
    /// let n = receiver.recv(&mut buf)?;
    /// assert_eq!(&buf[..n], b"to the path");
    /// # std::fs::remove_file(&path)?;
    /// # Ok::<_, Box<dyn std::error::Error>>(())
    /// ```
    pub fn remote_path(mut self, path: impl Into<PathBuf>) -> Self {
        self.remote = Some(Endpoint::Unix(path.into()));
        self
    }

    /// Resolves for (or, with no address, makes a socket of) this family only.
    ///
    /// # Examples
    ///
    /// With no address at all, the family says which socket to make: here an unbound IPv4
    /// sender that names the destination of each datagram.
    ///
    /// ```
    /// use asyncio::{Address, AddressFamily};
    /// # struct Quiet;
    /// # impl asyncio::DatagramProtocol for Quiet {}
    ///
    /// asyncio::run(async {
    ///     let peer = std::net::UdpSocket::bind("127.0.0.1:0")?;
    /// #   peer.set_read_timeout(Some(std::time::Duration::from_secs(5)))?;
    ///     let lp = asyncio::get_running_loop()?;
    ///     let (sender, _) = lp
    ///         .create_datagram_endpoint(|| Quiet)
    ///         .family(AddressFamily::Inet)
    ///         .await?;
    ///     sender.sendto(b"hello", Some(&Address::Inet(peer.local_addr()?)))?;
    ///     let mut buf = [0; 16];
    ///     let (n, from) = peer.recv_from(&mut buf)?; // loopback: already there
    ///     assert_eq!(&buf[..n], b"hello");
    ///     assert!(from.is_ipv4());
    ///     sender.close();
    ///     Ok::<_, asyncio::Error>(())
    /// })??;
    /// # Ok::<_, asyncio::Error>(())
    /// ```
    pub fn family(mut self, family: AddressFamily) -> Self {
        self.family = family;
        self
    }

    /// The protocol number for `socket()` (0, the default, for the family's own).
    ///
    /// # Examples
    ///
    /// ```
    /// # struct Quiet;
    /// # impl asyncio::DatagramProtocol for Quiet {}
    /// asyncio::run(async {
    ///     let lp = asyncio::get_running_loop()?;
    ///     let (udp, _) = lp
    ///         .create_datagram_endpoint(|| Quiet)
    ///         .local_addr("127.0.0.1", 0)
    ///         .proto(17) // IPPROTO_UDP, what 0 picks for a datagram socket anyway
    ///         .await?;
    ///     assert!(udp.sockname().and_then(|a| a.as_inet()).is_some());
    ///     udp.close();
    ///     Ok::<_, asyncio::Error>(())
    /// })??;
    /// # Ok::<_, asyncio::Error>(())
    /// ```
    pub fn proto(mut self, proto: i32) -> Self {
        self.proto = proto;
        self
    }

    /// Sets `SO_REUSEPORT`: several endpoints may bind the same address and port.
    ///
    /// # Examples
    ///
    /// ```
    /// # struct Quiet;
    /// # impl asyncio::DatagramProtocol for Quiet {}
    /// asyncio::run(async {
    ///     let lp = asyncio::get_running_loop()?;
    ///     let bind = |port| lp.create_datagram_endpoint(|| Quiet).local_addr("127.0.0.1", port);
    ///     let (first, _) = bind(0).reuse_port(true).await?;
    ///     let port = first.sockname().and_then(|a| a.port()).unwrap();
    ///     // Both ask for SO_REUSEPORT: the second binds the same port.
    ///     let (second, _) = bind(port).reuse_port(true).await?;
    ///     assert_eq!(second.sockname().and_then(|a| a.port()).unwrap(), port);
    ///     // Without it, the port is taken.
    ///     let taken = bind(port).await.err().unwrap();
    ///     assert_eq!(taken.kind(), std::io::ErrorKind::AddrInUse);
    ///     first.close();
    ///     second.close();
    ///     Ok::<_, asyncio::Error>(())
    /// })??;
    /// # Ok::<_, asyncio::Error>(())
    /// ```
    pub fn reuse_port(mut self, on: bool) -> Self {
        self.reuse_port = on;
        self
    }

    /// Sets `SO_BROADCAST`. With a remote address the socket is then not connected; the
    /// remote address is still the only one `sendto` takes.
    ///
    /// # Examples
    ///
    /// ```
    /// # struct Quiet;
    /// # impl asyncio::DatagramProtocol for Quiet {}
    /// asyncio::run(async {
    ///     let peer = std::net::UdpSocket::bind("127.0.0.1:0")?;
    /// #   peer.set_read_timeout(Some(std::time::Duration::from_secs(5)))?;
    ///     let port = peer.local_addr()?.port();
    ///     let lp = asyncio::get_running_loop()?;
    ///     let (sender, _) = lp
    ///         .create_datagram_endpoint(|| Quiet)
    ///         .remote_addr("127.0.0.1", port)
    ///         .allow_broadcast(true)
    ///         .await?;
    ///     sender.sendto(b"to all", None)?; // goes to the remote address
    ///     let mut buf = [0; 16];
    ///     let n = peer.recv(&mut buf)?; // loopback: already there
    ///     assert_eq!(&buf[..n], b"to all");
    ///     sender.close();
    ///     Ok::<_, asyncio::Error>(())
    /// })??;
    /// # Ok::<_, asyncio::Error>(())
    /// ```
    pub fn allow_broadcast(mut self, on: bool) -> Self {
        self.allow_broadcast = on;
        self
    }

    /// Adopts a datagram socket instead of making one; no other keyword may be set.
    ///
    /// # Examples
    ///
    /// ```
    /// # struct Quiet;
    /// # impl asyncio::DatagramProtocol for Quiet {}
    /// asyncio::run(async {
    ///     let lp = asyncio::get_running_loop()?;
    ///     let sock = std::net::UdpSocket::bind("127.0.0.1:0")?; // made and bound by our code
    ///     let addr = sock.local_addr()?;
    ///     let (t, _) = lp.create_datagram_endpoint(|| Quiet).sock(sock).await?;
    ///     assert_eq!(t.sockname().and_then(|a| a.as_inet()), Some(addr));
    ///     t.close();
    ///
    ///     let other = std::net::UdpSocket::bind("127.0.0.1:0")?;
    ///     let refused = lp.create_datagram_endpoint(|| Quiet).sock(other).reuse_port(true).await;
    ///     assert!(matches!(refused, Err(asyncio::Error::InvalidArgument(_))));
    ///     Ok::<_, asyncio::Error>(())
    /// })??;
    /// # Ok::<_, asyncio::Error>(())
    /// ```
    pub fn sock(mut self, sock: impl Into<DatagramSocket>) -> Self {
        self.sock = Some(sock.into());
        self
    }

    async fn run(self) -> Result<(DatagramTransport, Rc<RefCell<P>>), Error> {
        let lp = self.lp.clone();
        let factory = self.factory;
        let (sock, unix, r_addr) = match self.sock {
            Some(sock) => {
                let problems = modifier_problems(
                    &self.local,
                    &self.remote,
                    self.family,
                    self.proto,
                    self.reuse_port,
                    self.allow_broadcast,
                );
                adopt(sock, problems)?
            }
            None => {
                let opts = Opts {
                    proto: self.proto,
                    reuse_port: self.reuse_port,
                    allow_broadcast: self.allow_broadcast,
                };
                make_socket(self.local, self.remote, self.family, opts).await?
            }
        };
        let proto = Rc::new(RefCell::new(factory()));
        let t = DatagramSocketTransport::create(&lp, sock, unix, proto.clone(), r_addr)?;
        let transport = DatagramTransport { inner: t };
        let transport = wait_connection_made(&lp, transport, DatagramTransport::close).await?;
        Ok((transport, proto))
    }
}

impl<P: DatagramProtocol + 'static> IntoFuture for CreateDatagramEndpoint<P> {
    type Output = Result<(DatagramTransport, Rc<RefCell<P>>), Error>;
    type IntoFuture = Pin<Box<dyn Future<Output = Self::Output>>>;

    fn into_future(self) -> Self::IntoFuture {
        Box::pin(self.run())
    }
}

/// The keywords set alongside `sock`, as CPython lists them in its refusal.
fn modifier_problems(
    local: &Option<Endpoint>,
    remote: &Option<Endpoint>,
    family: AddressFamily,
    proto: i32,
    reuse_port: bool,
    allow_broadcast: bool,
) -> Vec<String> {
    let mut problems = Vec::new();
    if let Some(l) = local.as_ref().and_then(Endpoint::python) {
        problems.push(format!("local_addr={l}"));
    }
    if let Some(r) = remote.as_ref().and_then(Endpoint::python) {
        problems.push(format!("remote_addr={r}"));
    }
    let unix = |e: &Option<Endpoint>| matches!(e, Some(Endpoint::Unix(_)));
    let fam = match family {
        // A path (even an empty one) is Python's family=AF_UNIX: listed as `family=1`.
        _ if unix(local) || unix(remote) => Some(libc::AF_UNIX),
        AddressFamily::Unspecified => None,
        AddressFamily::Inet => Some(libc::AF_INET),
        AddressFamily::Inet6 => Some(libc::AF_INET6),
    };
    if let Some(f) = fam {
        problems.push(format!("family={f}"));
    }
    if proto != 0 {
        problems.push(format!("proto={proto}"));
    }
    if reuse_port {
        problems.push("reuse_port=True".into());
    }
    if allow_broadcast {
        problems.push("allow_broadcast=True".into());
    }
    problems
}

/// `sock=`: a datagram socket and nothing else.
fn adopt(
    sock: DatagramSocket,
    problems: Vec<String>,
) -> Result<(Socket, bool, Option<Address>), Error> {
    // The wrapper type is only how the socket came in (any descriptor converts into either):
    // the socket's own family says how to read its addresses.
    let fd = match sock {
        DatagramSocket::Udp(s) => OwnedFd::from(s),
        DatagramSocket::Unix(s) => OwnedFd::from(s),
    };
    let sock = Socket::from(fd);
    let ty = sock.r#type()?;
    if ty != Type::DGRAM {
        return Err(Error::invalid_argument(format!(
            "A UDP Socket was expected, got a {ty:?} socket"
        )));
    }
    let unix = match sock.domain()? {
        Domain::UNIX => true,
        Domain::IPV4 | Domain::IPV6 => false,
        // CPython takes any datagram socket, but its addresses are beyond `Address`.
        other => {
            return Err(Error::invalid_argument(format!(
                "A UDP or Unix datagram socket was expected, got a {other:?} socket"
            )))
        }
    };
    if !problems.is_empty() {
        return Err(Error::invalid_argument(format!(
            "socket modifier keyword arguments can not be used when sock is specified. ({})",
            problems.join(", ")
        )));
    }
    Ok((sock, unix, None))
}

/// The socket options of `create_datagram_endpoint`.
#[derive(Clone, Copy)]
struct Opts {
    proto: i32,
    reuse_port: bool,
    allow_broadcast: bool,
}

impl Opts {
    /// A datagram socket of `domain` with the options set (before any bind).
    fn socket(self, domain: Domain) -> std::io::Result<Socket> {
        let proto = (self.proto != 0).then(|| socket2::Protocol::from(self.proto));
        let s = Socket::new(domain, Type::DGRAM, proto)?;
        if self.reuse_port {
            s.set_reuse_port(true).map_err(|e| reuse_port_refused(&e))?;
        }
        if self.allow_broadcast {
            s.set_broadcast(true)?;
        }
        s.set_nonblocking(true)?;
        Ok(s)
    }
}

/// No `sock=`: make one, bound and connected as asked.
async fn make_socket(
    local: Option<Endpoint>,
    remote: Option<Endpoint>,
    family: AddressFamily,
    opts: Opts,
) -> Result<(Socket, bool, Option<Address>), Error> {
    let any_unix =
        matches!(local, Some(Endpoint::Unix(_))) || matches!(remote, Some(Endpoint::Unix(_)));
    let any_inet =
        matches!(local, Some(Endpoint::Inet(..))) || matches!(remote, Some(Endpoint::Inet(..)));
    if any_unix && any_inet {
        // Python: family=AF_UNIX wants `str` addresses, an Internet family 2-tuples.
        return Err(Error::invalid_argument("string is expected"));
    }
    if any_unix {
        if family != AddressFamily::Unspecified {
            return Err(Error::invalid_argument("2-tuple is expected"));
        }
        let path_of = |e: Option<Endpoint>| match e {
            Some(Endpoint::Unix(p)) => Some(p),
            _ => None,
        };
        return unix_socket(path_of(local), path_of(remote), opts);
    }
    let inet = |e: &Option<Endpoint>| match e {
        Some(Endpoint::Inet(h, p)) => Some((h.clone(), *p)),
        _ => None,
    };
    let (local, remote) = (inet(&local), inet(&remote));
    if local.is_none() && remote.is_none() {
        let domain = match family {
            AddressFamily::Unspecified => {
                return Err(Error::invalid_argument("unexpected address family"))
            }
            AddressFamily::Inet => Domain::IPV4,
            AddressFamily::Inet6 => Domain::IPV6,
        };
        return Ok((opts.socket(domain)?, false, None));
    }
    let fam = family.family();
    let locals = match &local {
        // `""` is any address here, as `local_addr` documents (CPython's getaddrinfo refuses
        // it); a remote `""` is refused, as in CPython.
        Some((h, p)) => {
            let host = (!h.is_empty()).then_some(h.as_str());
            resolve(host, *p, fam, true).await?
        }
        None => Vec::new(),
    };
    let remotes = match &remote {
        Some((h, p)) => resolve(Some(h), *p, fam, false).await?,
        None => Vec::new(),
    };
    let pairs = pair_by_family(&locals, &remotes, local.is_some(), remote.is_some());
    if pairs.is_empty() {
        return Err(Error::invalid_argument("can not get address information"));
    }
    let mut first_error = None;
    for (l, r) in pairs {
        let family_of = l.or(r).expect("a pair has an address");
        match inet_socket(family_of, l, r, opts) {
            Ok(made) => return Ok(made),
            Err(e) => {
                first_error.get_or_insert(e);
            }
        }
    }
    Err(first_error.expect("one attempt per pair").into())
}

/// CPython's `addr_infos` dict: per family, in order of first appearance, the last local and
/// the last remote address of that family; only families with every address asked for.
fn pair_by_family(
    locals: &[SocketAddr],
    remotes: &[SocketAddr],
    want_local: bool,
    want_remote: bool,
) -> Vec<(Option<SocketAddr>, Option<SocketAddr>)> {
    let mut pairs: Vec<(bool, Option<SocketAddr>, Option<SocketAddr>)> = Vec::new();
    for (is_remote, addrs) in [(false, locals), (true, remotes)] {
        for a in addrs {
            let i = match pairs.iter().position(|p| p.0 == a.is_ipv6()) {
                Some(i) => i,
                None => {
                    pairs.push((a.is_ipv6(), None, None));
                    pairs.len() - 1
                }
            };
            if is_remote {
                pairs[i].2 = Some(*a);
            } else {
                pairs[i].1 = Some(*a);
            }
        }
    }
    pairs
        .into_iter()
        .filter(|(_, l, r)| (l.is_some() || !want_local) && (r.is_some() || !want_remote))
        .map(|(_, l, r)| (l, r))
        .collect()
}

/// One family's attempt: socket, options, bind, connect (unless broadcasting).
fn inet_socket(
    family_of: SocketAddr,
    local: Option<SocketAddr>,
    remote: Option<SocketAddr>,
    opts: Opts,
) -> std::io::Result<(Socket, bool, Option<Address>)> {
    let s = opts.socket(Domain::for_address(family_of))?;
    if let Some(l) = local {
        s.bind(&l.into())?;
    }
    if let Some(r) = remote {
        if !opts.allow_broadcast {
            s.connect(&r.into())?;
        }
    }
    Ok((s, false, remote.map(Address::Inet)))
}

/// The Unix datagram socket: the stale file removed, bound and connected as asked.
fn unix_socket(
    local: Option<PathBuf>,
    remote: Option<PathBuf>,
    opts: Opts,
) -> Result<(Socket, bool, Option<Address>), Error> {
    let s = opts.socket(Domain::UNIX)?;
    // An empty path is no address, as Python's `''` is falsy there: not bound (Linux would
    // autobind an abstract name) and not connected.
    let local = local.filter(|p| !p.as_os_str().is_empty());
    let remote = remote.filter(|p| !p.as_os_str().is_empty());
    // Both addresses checked before anything is touched: a path with a NUL inside is refused
    // (`unix_addr`), as the kernel would bind or connect the path cut at that NUL.
    let local = match local {
        Some(l) => Some((unix_addr(&l)?, l)),
        None => None,
    };
    let remote = match remote {
        Some(r) => Some((unix_addr(&r)?, unix_address(&r)?, r)),
        None => None,
    };
    if let Some((addr, l)) = &local {
        if l.as_os_str().as_encoded_bytes().first() != Some(&0) {
            remove_stale_socket(l);
        }
        s.bind(addr).map_err(|e| unix_path_error(&e, l))?;
    }
    let mut r_addr = None;
    if let Some((addr, address, r)) = remote {
        if !opts.allow_broadcast {
            s.connect(&addr).map_err(|e| unix_path_error(&e, &r))?;
        }
        r_addr = Some(Address::Unix(address));
    }
    Ok((s, true, r_addr))
}

/// A Unix path as an address: a leading NUL byte makes it an abstract name (Linux).
fn unix_address(path: &std::path::Path) -> std::io::Result<std::os::unix::net::SocketAddr> {
    #[cfg(target_os = "linux")]
    if let Some(name) = path.as_os_str().as_encoded_bytes().strip_prefix(&[0]) {
        use std::os::linux::net::SocketAddrExt;
        return std::os::unix::net::SocketAddr::from_abstract_name(name);
    }
    std::os::unix::net::SocketAddr::from_pathname(path)
}

#[cfg(test)]
mod tests {
    use super::pair_by_family;
    use std::net::SocketAddr;

    fn a(s: &str) -> SocketAddr {
        s.parse().unwrap()
    }

    #[test]
    fn pairs_keep_first_appearance_order_the_last_address_and_only_complete_families() {
        let locals = [a("127.0.0.1:1"), a("[::1]:1"), a("127.0.0.2:1")];
        let remotes = [a("[::1]:2")];
        let pairs = pair_by_family(&locals, &remotes, true, true);
        assert_eq!(pairs, [(Some(a("[::1]:1")), Some(a("[::1]:2")))]);
        let pairs = pair_by_family(&locals, &[], true, false);
        assert_eq!(
            pairs,
            [(Some(a("127.0.0.2:1")), None), (Some(a("[::1]:1")), None)]
        );
        assert!(pair_by_family(&[a("127.0.0.1:1")], &remotes, true, true).is_empty());
    }
}
