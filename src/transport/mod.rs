//! Transports: the handle a protocol writes through, and what every transport promises.
//!
//! Mirrors `BaseTransport`, `ReadTransport`, `WriteTransport` and `Transport` in CPython
//! `Lib/asyncio/transports.py`. [`Transport`] is a cheap, cloneable handle (`!Send`) to one
//! connection's transport: the socket transport (`socket/`), a pipe transport (`pipe/`), the
//! TLS transport over a socket (`crate::tls`), or the PROXY layer's (`server/proxy_layer.rs`).
//! Every method is safe to call from inside a protocol callback.
//!
//! Files: `socket/` (`_SelectorSocketTransport`), `pipe/` (`_UnixReadPipeTransport`,
//! `_UnixWritePipeTransport`), what those two share: `write_path.rs` and `write_buffer.rs`
//! (`write`, `_write_ready` and the buffer), `flow_control.rs` (`_FlowControlMixin`'s water
//! marks), `lifecycle.rs` and `life_path.rs` (their states, `_fatal_error`, `_force_close`);
//! the socket transports are made from `connecting.rs` (`sock_connect`) and `listener.rs`
//! (`listen`, `accept`).
// Checklist: L83.

pub(crate) mod connecting;
pub(crate) mod datagram;
pub(crate) mod flow_control;
pub(crate) mod life_path;
pub(crate) mod lifecycle;
pub(crate) mod listener;
pub(crate) mod pipe;
pub(crate) mod socket;
pub(crate) mod write_buffer;
pub(crate) mod write_path;

use std::fmt;
use std::io::{self, IoSlice};
use std::os::fd::RawFd;
use std::rc::Rc;
use std::task::Waker;

use crate::error::Error;
use crate::event_loop::io::IoHandler;
use crate::event_loop::LoopHandle;
use crate::protocol::ProtocolRef;
use crate::slots::SlotKey;

pub use datagram::protocol::DatagramProtocol;
pub use datagram::DatagramTransport;

#[cfg(test)]
thread_local! {
    /// How many times this thread asked the kernel what a transport has not sent yet
    /// (`SIOCOUTQ`, `FIONREAD`): unit tests count the system calls a figure costs.
    pub(crate) static KERNEL_UNSENT_ASKED: std::cell::Cell<usize> =
        const { std::cell::Cell::new(0) };
}

/// The end of every transport's constructor (CPython's transport `__init__`): registers
/// `source` (descriptor `fd`) for `interest` with `t` as its handler, then queues `t`'s
/// `connection_made` and, when given, its start of reading, in that order (L45). Returns the
/// registration, for `t` to keep.
pub(crate) fn register_and_start<T: IoHandler + 'static>(
    lp: &LoopHandle,
    t: &Rc<T>,
    (source, fd, interest): (&mut dyn mio::event::Source, RawFd, mio::Interest),
    connection_made: fn(&T),
    start_reading: Option<fn(&T)>,
) -> Result<SlotKey, Error> {
    let handler = t.clone() as Rc<dyn IoHandler>;
    let key = lp.inner.register_handler((source, fd, interest), handler)?;
    let made = t.clone();
    lp.call_soon(move || connection_made(&made))?;
    if let Some(start) = start_reading {
        let t = t.clone();
        lp.call_soon(move || start(&t))?;
    }
    Ok(key)
}

/// A socket address of either family a stream transport can have.
///
/// # Examples
///
/// ```
/// use asyncio::Address;
///
/// let tcp = Address::Inet("127.0.0.1:8888".parse().unwrap());
/// assert_eq!(tcp.to_string(), "127.0.0.1:8888");
/// assert_eq!(tcp.port(), Some(8888));
/// let unix = Address::Unix(std::os::unix::net::SocketAddr::from_pathname("/tmp/s.sock").unwrap());
/// assert_eq!(unix.to_string(), "/tmp/s.sock");
/// assert!(unix.as_inet().is_none() && unix.port().is_none());
/// ```
#[derive(Clone, Debug)]
pub enum Address {
    /// An IPv4 or IPv6 address and port.
    Inet(std::net::SocketAddr),
    /// A Unix-domain socket address (a path, an abstract name, or unnamed).
    Unix(std::os::unix::net::SocketAddr),
}

impl Address {
    /// The IP address and port, for TCP.
    ///
    /// Shown in the example on [`Address`].
    pub fn as_inet(&self) -> Option<std::net::SocketAddr> {
        match self {
            Address::Inet(a) => Some(*a),
            Address::Unix(_) => None,
        }
    }

    /// The port, for TCP: Python's `getsockname()[1]`, e.g. the port the OS picked for a
    /// server bound to port 0. `None` for a Unix address.
    ///
    /// # Examples
    ///
    /// ```
    /// asyncio::run(async {
    /// #   let echo = |_r: asyncio::StreamReader, w: asyncio::StreamWriter| async move {
    /// #       w.close();
    /// #       w.wait_closed().await
    /// #   };
    ///     let server = asyncio::start_server(echo, "127.0.0.1", 0).await?;
    ///     let port = server.sockets()[0].port().expect("a TCP server");
    ///     assert_ne!(port, 0);
    ///     let (_reader, writer) = asyncio::open_connection("127.0.0.1", port).await?;
    ///     assert_eq!(writer.peername().and_then(|a| a.port()), Some(port));
    ///     Ok::<_, asyncio::Error>(())
    /// })??;
    /// # Ok::<_, asyncio::Error>(())
    /// ```
    pub fn port(&self) -> Option<u16> {
        self.as_inet().map(|a| a.port())
    }
}

/// Equality as Python compares the addresses it hands out: Internet ones by value (IP, port,
/// and for IPv6 the flow info and scope id, as Python's 4-tuples), Unix ones by path or by
/// abstract name (a path and an abstract name are never equal, even with the same bytes).
/// Two unnamed Unix addresses (a socketpair's ends, an unbound socket) are equal, as Python's
/// two empty names are, though they need not be the same socket. An Internet and a Unix
/// address are never equal.
///
/// # Examples
///
/// ```
/// use asyncio::Address;
/// use std::os::unix::net::{SocketAddr, UnixDatagram};
///
/// let a = Address::Inet("127.0.0.1:8888".parse().unwrap());
/// assert_eq!(a, Address::Inet("127.0.0.1:8888".parse().unwrap()));
/// assert_ne!(a, Address::Inet("127.0.0.1:8889".parse().unwrap()));
/// let path = Address::Unix(SocketAddr::from_pathname("/tmp/s.sock").unwrap());
/// assert_eq!(path, Address::Unix(SocketAddr::from_pathname("/tmp/s.sock").unwrap()));
/// let (x, y) = UnixDatagram::pair().unwrap();
/// let (x, y) = (Address::Unix(x.local_addr().unwrap()), Address::Unix(y.local_addr().unwrap()));
/// assert_eq!(x, y); // both unnamed
/// assert_ne!(x, path);
/// ```
impl PartialEq for Address {
    fn eq(&self, other: &Self) -> bool {
        match (self, other) {
            (Address::Inet(a), Address::Inet(b)) => a == b,
            (Address::Unix(a), Address::Unix(b)) => unix_name(a) == unix_name(b),
            _ => false,
        }
    }
}

impl Eq for Address {}

/// A Unix address's name: `(abstract, bytes)`; `None` when unnamed.
pub(crate) fn unix_name(a: &std::os::unix::net::SocketAddr) -> Option<(bool, &[u8])> {
    use std::os::unix::ffi::OsStrExt;
    if let Some(p) = a.as_pathname() {
        return Some((false, p.as_os_str().as_bytes()));
    }
    #[cfg(target_os = "linux")]
    {
        use std::os::linux::net::SocketAddrExt;
        a.as_abstract_name().map(|n| (true, n))
    }
    #[cfg(not(target_os = "linux"))]
    None
}

impl fmt::Display for Address {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Address::Inet(a) => a.fmt(f),
            Address::Unix(a) => match a.as_pathname() {
                Some(p) => p.display().fmt(f),
                None if a.is_unnamed() => f.write_str(""),
                None => write!(f, "{a:?}"),
            },
        }
    }
}

/// An optional [`Address`] as a transport keeps it for its whole life: an Internet address
/// inline, a Unix one boxed. std's Unix address is 110 bytes, so two `Option<Address>` would
/// be 240 of an idle TCP connection's bytes; these two are 64.
#[derive(Debug)]
pub(crate) enum StoredAddress {
    None,
    Inet(std::net::SocketAddr),
    Unix(Box<std::os::unix::net::SocketAddr>),
}

impl StoredAddress {
    pub(crate) fn get(&self) -> Option<Address> {
        match self {
            StoredAddress::None => None,
            StoredAddress::Inet(a) => Some(Address::Inet(*a)),
            StoredAddress::Unix(a) => Some(Address::Unix((**a).clone())),
        }
    }

    pub(crate) fn is_some(&self) -> bool {
        !matches!(self, StoredAddress::None)
    }

    pub(crate) fn is_none(&self) -> bool {
        matches!(self, StoredAddress::None)
    }

    /// Whether this is `a`, by [`Address`]'s equality, without a copy of the stored one.
    pub(crate) fn holds(&self, a: &Address) -> bool {
        match (self, a) {
            (StoredAddress::Inet(s), Address::Inet(b)) => s == b,
            (StoredAddress::Unix(s), Address::Unix(b)) => unix_name(s) == unix_name(b),
            _ => false,
        }
    }
}

impl From<Option<Address>> for StoredAddress {
    fn from(a: Option<Address>) -> Self {
        match a {
            None => StoredAddress::None,
            Some(Address::Inet(a)) => StoredAddress::Inet(a),
            Some(Address::Unix(a)) => StoredAddress::Unix(Box::new(a)),
        }
    }
}

/// A value of [`Transport::get_extra_info`] (Python returns objects of several types).
///
/// # Examples
///
/// ```
/// # #[derive(Default)]
/// # struct Sink(Vec<u8>);
/// # impl asyncio::Protocol for Sink {
/// #     fn data_received(&mut self, data: &[u8]) {
/// #         self.0.extend_from_slice(data)
/// #     }
/// # }
/// # /// Lets the loop turn until `peer` holds `n` bytes (bounded).
/// # async fn wait_for(peer: &std::rc::Rc<std::cell::RefCell<Sink>>, n: usize) {
/// #     for _ in 0..10_000 {
/// #         if peer.borrow().0.len() >= n { return }
/// #         asyncio::yield_now().await;
/// #     }
/// #     panic!("no data");
/// # }
/// # asyncio::run(async {
/// # let lp = asyncio::get_running_loop()?;
/// # let (a, b) = asyncio::socketpair()?;
/// # let (transport, _) = lp.connect_socket(Sink::default, a).await?;
/// # let (peer_transport, peer) = lp.connect_socket(Sink::default, b).await?;
/// use asyncio::ExtraInfo;
/// match transport.get_extra_info("peername") {
///     Some(ExtraInfo::Address(addr)) => println!("peer {addr}"),
///     Some(other) => panic!("{other:?}"),
///     None => println!("no peer name"),
/// }
/// # Ok::<_, asyncio::Error>(())
/// # })??;
/// # Ok::<_, asyncio::Error>(())
/// ```
#[derive(Clone, Debug)]
pub enum ExtraInfo {
    /// `sockname`, `peername`.
    Address(Address),
    /// `socket`: the descriptor (owned by the transport; do not close it).
    Fd(RawFd),
    /// A text value (TLS adds `cipher`, `version`, `alpn_protocol`, `server_hostname`).
    Text(String),
    /// A binary value (TLS adds `peercert` as DER).
    Bytes(Vec<u8>),
}

/// What the [`Transport`] handle forwards to. Implemented by the socket transport and the
/// TLS transport.
pub(crate) trait TransportImpl {
    fn write(&self, data: &[u8]) -> Result<(), Error>;
    /// `writelines` of every transport but the plain socket one, which is reached through
    /// [`as_socket`](Self::as_socket) instead (see `impl dyn TransportImpl`). So are the
    /// other `*_other` methods: their defaults are for it only, and never run.
    fn writelines_other(&self, _chunks: &[IoSlice<'_>]) -> Result<(), Error> {
        Err(not_through_the_table())
    }
    fn write_eof_other(&self) -> Result<(), Error> {
        Err(not_through_the_table())
    }
    fn can_write_eof(&self) -> bool;
    fn close(&self);
    fn abort(&self);
    fn is_closing(&self) -> bool;
    fn pause_reading(&self);
    fn resume_reading(&self);
    fn is_reading(&self) -> bool;
    fn set_write_buffer_limits_other(
        &self,
        _high: Option<usize>,
        _low: Option<usize>,
    ) -> Result<(), Error> {
        Err(not_through_the_table())
    }
    fn get_write_buffer_size(&self) -> usize;
    fn get_write_buffer_limits(&self) -> (usize, usize);
    fn get_extra_info(&self, name: &str) -> Option<ExtraInfo>;
    fn set_protocol_other(&self, _protocol: ProtocolRef) -> Result<(), Error> {
        Err(not_through_the_table())
    }
    fn get_protocol(&self) -> Option<ProtocolRef>;
    fn get_loop(&self) -> LoopHandle;
    /// A number naming the connection in logs (stable within a process run).
    fn id(&self) -> u64;
    /// Writing is paused: the protocol got `pause_writing` and not yet `resume_writing`.
    fn writing_paused(&self) -> bool {
        false
    }
    /// Whether the transport reads at all: a write pipe does not, so nothing of it is paused
    /// for reading, and a stream over it holds no bytes read.
    fn reads(&self) -> bool {
        true
    }
    /// Reading is paused or over (`BufferInfo::reading_paused`); a transport that never
    /// reads (a write pipe) says `false`: there is no reading to pause.
    fn reading_paused(&self) -> bool {
        self.reads() && !self.is_reading()
    }
    /// The peer's EOF was read and the transport is still open (a protocol that kept it for
    /// a half-close): nothing more will be read from it. Asked by `start_tls` only.
    #[cfg(feature = "tls")]
    fn peer_eof(&self) -> bool {
        false
    }
    /// Bytes written to the descriptor that the kernel has not passed on yet (a socket's send
    /// queue, a pipe's unread bytes), where the OS says.
    fn kernel_unsent_other(&self) -> Option<usize> {
        None
    }
    /// A figure that falls as the peer takes what was written: the write buffers of every
    /// layer and the kernel's send queue (on a Unix socket its memory, not bytes). Compared
    /// between two looks of the idle timeout, never reported.
    fn unsent_mark_other(&self) -> usize {
        self.get_write_buffer_size()
            .saturating_add(self.kernel_unsent_other().unwrap_or(0))
    }
    /// The PROXY header the connection started with (servers with `proxy_protocol`).
    fn proxy_header(&self) -> Option<Rc<crate::proxy_protocol::ProxyHeader>> {
        None
    }
    /// The TLS configuration and, once the handshake is done, what it settled (TLS only).
    #[cfg(feature = "tls")]
    fn tls_state(&self) -> Option<(crate::tls::TlsContext, Option<Rc<crate::tls::TlsInfo>>)> {
        None
    }
    /// Whether `start_tls` may run over this transport (CPython's `_start_tls_compatible`):
    /// socket and TLS transports, not pipes, which have no peer to shake hands with (T32).
    #[cfg(feature = "tls")]
    fn start_tls_compatible(&self) -> bool {
        true
    }
    /// The TLS layer of a TLS app transport, for what only it answers (its ciphertext read
    /// marks, T18); `None` elsewhere and once the connection is gone.
    #[cfg(feature = "tls")]
    fn tls_layer(&self) -> Option<Rc<crate::tls::protocol::TlsProtocol>> {
        None
    }
    /// Read-through (`SocketTransport::read_through`): a `read_into` whose reader holds no
    /// bytes reads from the socket straight into the caller's memory. `owner` is the protocol
    /// asking (the address of its `RefCell`); only the transport's own protocol may. Other
    /// transports answer [`Through::No`]: the read waits for the protocol path.
    fn read_through(&self, _owner: *const (), _out: &mut [u8], _waker: &Waker) -> Through {
        Through::No
    }
    /// The read-through waiter leaves (its read ended another way, or was dropped): hand its
    /// waker back (if no edge took it yet), and an edge it was given and did not use back to
    /// the protocol path.
    fn end_through(&self) -> Option<Waker> {
        None
    }
    /// The plain socket transport behind this one, for a native sendfile (`StreamWriter::
    /// sendfile`); others (TLS, PROXY, pipes) answer `None` and the sendfile falls back.
    fn as_socket(&self) -> Option<&socket::SocketTransport> {
        None
    }
    /// As the loop closes, the bytes it dropped from this transport's write buffer, not yet
    /// warned of: the taker (a TLS layer, told of the close) says them with its own, so one
    /// connection gets one warning. 0 for transports that warn of nothing.
    #[cfg(feature = "tls")]
    fn take_unsent_at_loop_close(&self) -> usize {
        0
    }
    /// The peer's address for a failure report, which may come after the loss: `peername`'s,
    /// or, for a layer whose raw transport goes with the loss (TLS), the one it read once
    /// connected (its `get_extra_info` then answers no raw key).
    fn peername_for_reports(&self) -> Option<ExtraInfo> {
        self.get_extra_info("peername")
    }
}

/// The operations of [`TransportImpl`] that few programs use. The plain socket transport's
/// are its own methods, called through [`as_socket`](TransportImpl::as_socket), so that its
/// table (which every program with a connection links) does not name them: a program that
/// never calls them does not link them. Every other transport answers through the table.
impl dyn TransportImpl + '_ {
    pub(crate) fn writelines(&self, chunks: &[IoSlice<'_>]) -> Result<(), Error> {
        match self.as_socket() {
            Some(s) => s.writelines(chunks),
            None => self.writelines_other(chunks),
        }
    }

    pub(crate) fn write_eof(&self) -> Result<(), Error> {
        match self.as_socket() {
            Some(s) => s.write_eof(),
            None => self.write_eof_other(),
        }
    }

    pub(crate) fn set_write_buffer_limits(
        &self,
        high: Option<usize>,
        low: Option<usize>,
    ) -> Result<(), Error> {
        match self.as_socket() {
            Some(s) => s.set_write_buffer_limits(high, low),
            None => self.set_write_buffer_limits_other(high, low),
        }
    }

    pub(crate) fn set_protocol(&self, protocol: ProtocolRef) -> Result<(), Error> {
        match self.as_socket() {
            Some(s) => s.set_protocol(protocol),
            None => self.set_protocol_other(protocol),
        }
    }

    pub(crate) fn kernel_unsent(&self) -> Option<usize> {
        match self.as_socket() {
            Some(s) => s.kernel_unsent(),
            None => self.kernel_unsent_other(),
        }
    }

    pub(crate) fn unsent_mark(&self) -> usize {
        match self.as_socket() {
            Some(s) => s.unsent_mark(),
            None => self.unsent_mark_other(),
        }
    }
}

/// What a `*_other` default of [`TransportImpl`] answers: only a transport that
/// [`as_socket`](TransportImpl::as_socket) names keeps a default, and it is never asked
/// through the table.
#[cold]
#[inline(never)]
fn not_through_the_table() -> Error {
    Error::Unsupported("not supported by this transport".into())
}

/// What a [`TransportImpl::read_through`] came to.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum Through {
    /// This many bytes were read into the caller's memory (never 0).
    Read(usize),
    /// Nothing to read yet: the transport wakes the waker at the next readable edge, without
    /// reading, and the read tries again.
    Wait,
    /// The read met the peer's EOF: the caller's reader is at EOF at once, and the read
    /// returns it. The transport still tells its protocol (`eof_received`) on a later turn.
    Eof,
    /// Not through this transport now (another protocol, reading paused or over, an error
    /// met by the read, which failed the transport): wait for the reader's buffer as usual.
    No,
}

/// One connection's buffers and flow control, at one moment: what backpressure looks like
/// from inside ([`Transport::buffer_info`], [`StreamWriter::buffer_info`]).
///
/// The path of a byte you write: the transport's buffer (`write_buffered`; above
/// `high_water` the protocol is paused until it drains to `low_water`), then the kernel's send
/// buffer (`kernel_unsent`), then the network. The path of a byte you read: the kernel, then
/// the reader's buffer (`read_buffered`; above twice the reader's limit the transport stops
/// reading, `reading_paused`, until the reader is down to the limit).
///
/// # Examples
///
/// The read side, seen from a stream: bytes wait in the reader until a read takes them.
///
/// ```
/// # asyncio::run(async {
/// # let (a, b) = asyncio::socketpair()?;
/// let (reader, writer) = asyncio::open_connection_sock(a).await?;
/// # let (_, peer) = asyncio::open_connection_sock(b).await?;
/// peer.write(b"ping\n")?;
/// for _ in 0..10_000 {
///     if writer.buffer_info().read_buffered == Some(5) { break }
///     asyncio::yield_now().await; // let the loop read the socket
/// }
/// assert_eq!(writer.buffer_info().read_buffered, Some(5));
/// assert_eq!(reader.readline().await?, b"ping\n");
/// assert_eq!(writer.buffer_info().read_buffered, Some(0));
/// assert!(!writer.buffer_info().reading_paused);
/// # Ok::<_, asyncio::Error>(())
/// # })??;
/// # Ok::<_, asyncio::Error>(())
/// ```
///
/// [`StreamWriter::buffer_info`]: crate::StreamWriter::buffer_info
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct BufferInfo {
    /// Bytes in the transport's write buffer (`get_write_buffer_size()`).
    pub write_buffered: usize,
    /// The protocol's writing is paused (`pause_writing` sent, `resume_writing` not yet):
    /// a stream's `drain()` waits.
    pub writing_paused: bool,
    /// The write buffer's high-water mark.
    pub high_water: usize,
    /// The write buffer's low-water mark.
    pub low_water: usize,
    /// Bytes the kernel holds unsent (on Linux: `SIOCOUTQ` for TCP; for a pipe's write end,
    /// the bytes in the pipe its reader has not taken yet, `FIONREAD`); `None` where the OS
    /// does not say, and on a Unix socket (its figure there is memory, not bytes).
    pub kernel_unsent: Option<usize>,
    /// The transport is not reading (paused by the protocol, or closing); never set for a
    /// transport that does not read (a write pipe).
    pub reading_paused: bool,
    /// Bytes the stream reader holds; `None` from a transport (its protocol holds them), from
    /// a stream that does not read (a write pipe's, a child's stdin), and while the user holds
    /// the stream's protocol borrowed mutably (taken with `get_protocol()`). Borrowed shared,
    /// the bytes fed meanwhile (`feed_data`, applied once the borrow ends) count as buffered.
    pub read_buffered: Option<usize>,
}

/// A connection's transport (Python's `asyncio.Transport`). Clone it freely; all clones are
/// the same transport.
///
/// # Examples
///
/// ```
/// # #[derive(Default)]
/// # struct Sink(Vec<u8>);
/// # impl asyncio::Protocol for Sink {
/// #     fn data_received(&mut self, data: &[u8]) {
/// #         self.0.extend_from_slice(data)
/// #     }
/// # }
/// # /// Lets the loop turn until `peer` holds `n` bytes (bounded).
/// # async fn wait_for(peer: &std::rc::Rc<std::cell::RefCell<Sink>>, n: usize) {
/// #     for _ in 0..10_000 {
/// #         if peer.borrow().0.len() >= n { return }
/// #         asyncio::yield_now().await;
/// #     }
/// #     panic!("no data");
/// # }
/// # asyncio::run(async {
/// # let lp = asyncio::get_running_loop()?;
/// # let (a, b) = asyncio::socketpair()?;
/// # let (transport, _) = lp.connect_socket(Sink::default, a).await?;
/// # let (peer_transport, peer) = lp.connect_socket(Sink::default, b).await?;
/// // `transport` came from create_connection / connect_socket, or from connection_made.
/// transport.write(b"hello")?;
/// wait_for(&peer, 5).await;
/// assert_eq!(peer.borrow().0, b"hello");
/// assert!(transport.peername().is_some());
/// transport.close();
/// assert!(transport.is_closing());
/// # Ok::<_, asyncio::Error>(())
/// # })??;
/// # Ok::<_, asyncio::Error>(())
/// ```
#[derive(Clone)]
pub struct Transport {
    pub(crate) inner: Rc<dyn TransportImpl>,
}

impl Transport {
    /// Sends `data`: at once if nothing is queued, else after what is. Never blocks;
    /// what the kernel does not take is copied into the write buffer, and the protocol is
    /// paused above the high-water mark. Empty data is a no-op. After the connection is
    /// lost, data is dropped without an error; once a few writes have been dropped, as in
    /// CPython, each one logs a warning (`socket.send() raised exception.` on a socket,
    /// `SSL connection is closed` over TLS).
    ///
    /// # Errors
    /// [`Error::InvalidState`] (`Cannot call write() after write_eof()`) after
    /// [`write_eof`](Self::write_eof).
    ///
    /// # Examples
    ///
    /// ```
    /// # #[derive(Default)]
    /// # struct Sink(Vec<u8>);
    /// # impl asyncio::Protocol for Sink {
    /// #     fn data_received(&mut self, data: &[u8]) {
    /// #         self.0.extend_from_slice(data)
    /// #     }
    /// # }
    /// # /// Lets the loop turn until `peer` holds `n` bytes (bounded).
    /// # async fn wait_for(peer: &std::rc::Rc<std::cell::RefCell<Sink>>, n: usize) {
    /// #     for _ in 0..10_000 {
    /// #         if peer.borrow().0.len() >= n { return }
    /// #         asyncio::yield_now().await;
    /// #     }
    /// #     panic!("no data");
    /// # }
    /// # asyncio::run(async {
    /// # let lp = asyncio::get_running_loop()?;
    /// # let (a, b) = asyncio::socketpair()?;
    /// # let (transport, _) = lp.connect_socket(Sink::default, a).await?;
    /// # let (peer_transport, peer) = lp.connect_socket(Sink::default, b).await?;
    /// transport.write(b"abc")?; // never blocks
    /// wait_for(&peer, 3).await;
    /// assert_eq!(peer.borrow().0, b"abc");
    /// # Ok::<_, asyncio::Error>(())
    /// # })??;
    /// # Ok::<_, asyncio::Error>(())
    /// ```
    // Checklist: L64, L66, L70, L81.
    #[inline]
    pub fn write(&self, data: &[u8]) -> Result<(), Error> {
        self.inner.write(data)
    }

    /// Sends several buffers, with one vectored system call where possible.
    ///
    /// # Errors
    /// As for [`write`](Self::write).
    ///
    /// # Examples
    ///
    /// ```
    /// # #[derive(Default)]
    /// # struct Sink(Vec<u8>);
    /// # impl asyncio::Protocol for Sink {
    /// #     fn data_received(&mut self, data: &[u8]) {
    /// #         self.0.extend_from_slice(data)
    /// #     }
    /// # }
    /// # /// Lets the loop turn until `peer` holds `n` bytes (bounded).
    /// # async fn wait_for(peer: &std::rc::Rc<std::cell::RefCell<Sink>>, n: usize) {
    /// #     for _ in 0..10_000 {
    /// #         if peer.borrow().0.len() >= n { return }
    /// #         asyncio::yield_now().await;
    /// #     }
    /// #     panic!("no data");
    /// # }
    /// # asyncio::run(async {
    /// # let lp = asyncio::get_running_loop()?;
    /// # let (a, b) = asyncio::socketpair()?;
    /// # let (transport, _) = lp.connect_socket(Sink::default, a).await?;
    /// # let (peer_transport, peer) = lp.connect_socket(Sink::default, b).await?;
    /// use std::io::IoSlice;
    /// transport.writelines(&[IoSlice::new(b"head "), IoSlice::new(b"body")])?;
    /// wait_for(&peer, 9).await;
    /// assert_eq!(peer.borrow().0, b"head body");
    /// # Ok::<_, asyncio::Error>(())
    /// # })??;
    /// # Ok::<_, asyncio::Error>(())
    /// ```
    // Checklist: L68.
    pub fn writelines(&self, chunks: &[IoSlice<'_>]) -> Result<(), Error> {
        self.inner.writelines(chunks)
    }

    /// Closes the write side once the buffer is flushed (half-close). Reading goes on.
    ///
    /// # Errors
    /// [`Error::Unsupported`] for transports that cannot half-close (TLS); `Error::Io` if
    /// `shutdown` fails.
    ///
    /// # Examples
    ///
    /// ```
    /// # #[derive(Default)]
    /// # struct Sink(Vec<u8>);
    /// # impl asyncio::Protocol for Sink {
    /// #     fn data_received(&mut self, data: &[u8]) {
    /// #         self.0.extend_from_slice(data)
    /// #     }
    /// # }
    /// # /// Lets the loop turn until `peer` holds `n` bytes (bounded).
    /// # async fn wait_for(peer: &std::rc::Rc<std::cell::RefCell<Sink>>, n: usize) {
    /// #     for _ in 0..10_000 {
    /// #         if peer.borrow().0.len() >= n { return }
    /// #         asyncio::yield_now().await;
    /// #     }
    /// #     panic!("no data");
    /// # }
    /// # asyncio::run(async {
    /// # let lp = asyncio::get_running_loop()?;
    /// # let (a, b) = asyncio::socketpair()?;
    /// # let (transport, _) = lp.connect_socket(Sink::default, a).await?;
    /// # let (peer_transport, peer) = lp.connect_socket(Sink::default, b).await?;
    /// assert!(transport.can_write_eof());
    /// transport.write(b"done")?;
    /// transport.write_eof()?; // the peer sees EOF after "done"; we can still read
    /// assert!(transport.write(b"more").is_err());
    /// # Ok::<_, asyncio::Error>(())
    /// # })??;
    /// # Ok::<_, asyncio::Error>(())
    /// ```
    // Checklist: L73.
    pub fn write_eof(&self) -> Result<(), Error> {
        self.inner.write_eof()
    }

    /// Whether [`write_eof`](Self::write_eof) is supported (true for TCP and Unix).
    ///
    /// Shown in the example of [`write_eof`](Self::write_eof).
    // Checklist: L74.
    pub fn can_write_eof(&self) -> bool {
        self.inner.can_write_eof()
    }

    /// Closes gracefully: stops reading now, flushes the buffer, then calls
    /// `connection_lost(None)`. Idempotent.
    ///
    /// # Examples
    ///
    /// ```
    /// # #[derive(Default)]
    /// # struct Sink(Vec<u8>);
    /// # impl asyncio::Protocol for Sink {
    /// #     fn data_received(&mut self, data: &[u8]) {
    /// #         self.0.extend_from_slice(data)
    /// #     }
    /// # }
    /// # /// Lets the loop turn until `peer` holds `n` bytes (bounded).
    /// # async fn wait_for(peer: &std::rc::Rc<std::cell::RefCell<Sink>>, n: usize) {
    /// #     for _ in 0..10_000 {
    /// #         if peer.borrow().0.len() >= n { return }
    /// #         asyncio::yield_now().await;
    /// #     }
    /// #     panic!("no data");
    /// # }
    /// # asyncio::run(async {
    /// # let lp = asyncio::get_running_loop()?;
    /// # let (a, b) = asyncio::socketpair()?;
    /// # let (transport, _) = lp.connect_socket(Sink::default, a).await?;
    /// # let (peer_transport, peer) = lp.connect_socket(Sink::default, b).await?;
    /// transport.write(b"flushed first")?;
    /// transport.close();
    /// wait_for(&peer, 13).await;
    /// assert_eq!(peer.borrow().0, b"flushed first");
    /// # Ok::<_, asyncio::Error>(())
    /// # })??;
    /// # Ok::<_, asyncio::Error>(())
    /// ```
    // Checklist: L75.
    pub fn close(&self) {
        self.inner.close()
    }

    /// Closes at once, dropping buffered data; `connection_lost(None)` follows.
    ///
    /// # Examples
    ///
    /// ```
    /// # #[derive(Default)]
    /// # struct Sink(Vec<u8>);
    /// # impl asyncio::Protocol for Sink {
    /// #     fn data_received(&mut self, data: &[u8]) {
    /// #         self.0.extend_from_slice(data)
    /// #     }
    /// # }
    /// # /// Lets the loop turn until `peer` holds `n` bytes (bounded).
    /// # async fn wait_for(peer: &std::rc::Rc<std::cell::RefCell<Sink>>, n: usize) {
    /// #     for _ in 0..10_000 {
    /// #         if peer.borrow().0.len() >= n { return }
    /// #         asyncio::yield_now().await;
    /// #     }
    /// #     panic!("no data");
    /// # }
    /// # asyncio::run(async {
    /// # let lp = asyncio::get_running_loop()?;
    /// # let (a, b) = asyncio::socketpair()?;
    /// # let (transport, _) = lp.connect_socket(Sink::default, a).await?;
    /// # let (peer_transport, peer) = lp.connect_socket(Sink::default, b).await?;
    /// transport.abort(); // buffered data is dropped
    /// assert!(transport.is_closing());
    /// assert!(!transport.is_reading());
    /// # Ok::<_, asyncio::Error>(())
    /// # })??;
    /// # Ok::<_, asyncio::Error>(())
    /// ```
    // Checklist: L77.
    pub fn abort(&self) {
        self.inner.abort()
    }

    /// True from the first `close`, `abort`, failure or EOF-initiated close onwards.
    ///
    /// # Examples
    ///
    /// ```
    /// # #[derive(Default)]
    /// # struct Sink(Vec<u8>);
    /// # impl asyncio::Protocol for Sink {
    /// #     fn data_received(&mut self, data: &[u8]) {
    /// #         self.0.extend_from_slice(data)
    /// #     }
    /// # }
    /// # /// Lets the loop turn until `peer` holds `n` bytes (bounded).
    /// # async fn wait_for(peer: &std::rc::Rc<std::cell::RefCell<Sink>>, n: usize) {
    /// #     for _ in 0..10_000 {
    /// #         if peer.borrow().0.len() >= n { return }
    /// #         asyncio::yield_now().await;
    /// #     }
    /// #     panic!("no data");
    /// # }
    /// # asyncio::run(async {
    /// # let lp = asyncio::get_running_loop()?;
    /// # let (a, b) = asyncio::socketpair()?;
    /// # let (transport, mine) = lp.connect_socket(Sink::default, a).await?;
    /// # let (peer_transport, peer) = lp.connect_socket(Sink::default, b).await?;
    /// peer_transport.close(); // the peer hangs up
    /// for _ in 0..10_000 {
    ///     if transport.is_closing() { break }
    ///     asyncio::yield_now().await;
    /// }
    /// // Our protocol's eof_received said `false` (the default): the transport closes itself.
    /// assert!(transport.is_closing());
    /// # Ok::<_, asyncio::Error>(())
    /// # })??;
    /// # Ok::<_, asyncio::Error>(())
    /// ```
    // Checklist: L78.
    #[inline]
    pub fn is_closing(&self) -> bool {
        self.inner.is_closing()
    }

    /// Stops delivering data until [`resume_reading`](Self::resume_reading); the kernel
    /// buffer fills and the peer's writes block. Idempotent.
    ///
    /// # Examples
    ///
    /// ```
    /// # #[derive(Default)]
    /// # struct Sink(Vec<u8>);
    /// # impl asyncio::Protocol for Sink {
    /// #     fn data_received(&mut self, data: &[u8]) {
    /// #         self.0.extend_from_slice(data)
    /// #     }
    /// # }
    /// # /// Lets the loop turn until `peer` holds `n` bytes (bounded).
    /// # async fn wait_for(peer: &std::rc::Rc<std::cell::RefCell<Sink>>, n: usize) {
    /// #     for _ in 0..10_000 {
    /// #         if peer.borrow().0.len() >= n { return }
    /// #         asyncio::yield_now().await;
    /// #     }
    /// #     panic!("no data");
    /// # }
    /// # asyncio::run(async {
    /// # let lp = asyncio::get_running_loop()?;
    /// # let (a, b) = asyncio::socketpair()?;
    /// # let (transport, _) = lp.connect_socket(Sink::default, a).await?;
    /// # let (peer_transport, peer) = lp.connect_socket(Sink::default, b).await?;
    /// transport.pause_reading();
    /// assert!(!transport.is_reading());
    /// transport.resume_reading();
    /// assert!(transport.is_reading());
    /// # Ok::<_, asyncio::Error>(())
    /// # })??;
    /// # Ok::<_, asyncio::Error>(())
    /// ```
    // Checklist: L79.
    pub fn pause_reading(&self) {
        self.inner.pause_reading()
    }

    /// Delivers data again after [`pause_reading`](Self::pause_reading). Idempotent.
    ///
    /// # Examples
    ///
    /// ```
    /// # #[derive(Default)]
    /// # struct Sink(Vec<u8>);
    /// # impl asyncio::Protocol for Sink {
    /// #     fn data_received(&mut self, data: &[u8]) {
    /// #         self.0.extend_from_slice(data)
    /// #     }
    /// # }
    /// # /// Lets the loop turn until `peer` holds `n` bytes (bounded).
    /// # async fn wait_for(peer: &std::rc::Rc<std::cell::RefCell<Sink>>, n: usize) {
    /// #     for _ in 0..10_000 {
    /// #         if peer.borrow().0.len() >= n { return }
    /// #         asyncio::yield_now().await;
    /// #     }
    /// #     panic!("no data");
    /// # }
    /// # asyncio::run(async {
    /// # let lp = asyncio::get_running_loop()?;
    /// # let (a, b) = asyncio::socketpair()?;
    /// # let (transport, mine) = lp.connect_socket(Sink::default, a).await?;
    /// # let (peer_transport, peer) = lp.connect_socket(Sink::default, b).await?;
    /// transport.pause_reading();
    /// peer_transport.write(b"held")?;
    /// for _ in 0..10 {
    ///     asyncio::yield_now().await; // the bytes wait in the kernel meanwhile
    /// }
    /// assert!(mine.borrow().0.is_empty());
    /// transport.resume_reading();
    /// wait_for(&mine, 4).await;
    /// assert_eq!(mine.borrow().0, b"held");
    /// # Ok::<_, asyncio::Error>(())
    /// # })??;
    /// # Ok::<_, asyncio::Error>(())
    /// ```
    // Checklist: L79.
    pub fn resume_reading(&self) {
        self.inner.resume_reading()
    }

    /// Not closing and not paused.
    ///
    /// # Examples
    ///
    /// ```
    /// # #[derive(Default)]
    /// # struct Sink(Vec<u8>);
    /// # impl asyncio::Protocol for Sink {
    /// #     fn data_received(&mut self, data: &[u8]) {
    /// #         self.0.extend_from_slice(data)
    /// #     }
    /// # }
    /// # /// Lets the loop turn until `peer` holds `n` bytes (bounded).
    /// # async fn wait_for(peer: &std::rc::Rc<std::cell::RefCell<Sink>>, n: usize) {
    /// #     for _ in 0..10_000 {
    /// #         if peer.borrow().0.len() >= n { return }
    /// #         asyncio::yield_now().await;
    /// #     }
    /// #     panic!("no data");
    /// # }
    /// # asyncio::run(async {
    /// # let lp = asyncio::get_running_loop()?;
    /// # let (a, b) = asyncio::socketpair()?;
    /// # let (transport, mine) = lp.connect_socket(Sink::default, a).await?;
    /// # let (peer_transport, peer) = lp.connect_socket(Sink::default, b).await?;
    /// assert!(transport.is_reading());
    /// transport.close();
    /// assert!(!transport.is_reading()); // a closing transport reads no more
    /// # Ok::<_, asyncio::Error>(())
    /// # })??;
    /// # Ok::<_, asyncio::Error>(())
    /// ```
    // Checklist: L79.
    pub fn is_reading(&self) -> bool {
        self.inner.is_reading()
    }

    /// Sets the write buffer's water marks. `None, None` means 64 KiB / 16 KiB; only
    /// `high` gives `low = high / 4`; only `low` gives `high = 4 * low`.
    ///
    /// # Errors
    /// [`Error::InvalidArgument`] unless `high >= low`
    /// (`high (H) must be >= low (L) must be >= 0`).
    ///
    /// # Examples
    ///
    /// ```
    /// # #[derive(Default)]
    /// # struct Sink(Vec<u8>);
    /// # impl asyncio::Protocol for Sink {
    /// #     fn data_received(&mut self, data: &[u8]) {
    /// #         self.0.extend_from_slice(data)
    /// #     }
    /// # }
    /// # /// Lets the loop turn until `peer` holds `n` bytes (bounded).
    /// # async fn wait_for(peer: &std::rc::Rc<std::cell::RefCell<Sink>>, n: usize) {
    /// #     for _ in 0..10_000 {
    /// #         if peer.borrow().0.len() >= n { return }
    /// #         asyncio::yield_now().await;
    /// #     }
    /// #     panic!("no data");
    /// # }
    /// # asyncio::run(async {
    /// # let lp = asyncio::get_running_loop()?;
    /// # let (a, b) = asyncio::socketpair()?;
    /// # let (transport, _) = lp.connect_socket(Sink::default, a).await?;
    /// # let (peer_transport, peer) = lp.connect_socket(Sink::default, b).await?;
    /// transport.set_write_buffer_limits(Some(1024), None)?;
    /// assert_eq!(transport.get_write_buffer_limits(), (256, 1024)); // (low, high)
    /// assert!(transport.set_write_buffer_limits(Some(1), Some(2)).is_err());
    /// assert_eq!(transport.get_write_buffer_size(), 0);
    /// # Ok::<_, asyncio::Error>(())
    /// # })??;
    /// # Ok::<_, asyncio::Error>(())
    /// ```
    ///
    /// The marks say when the protocol hears, not how much a write may buffer: `write` never
    /// refuses bytes, so the write that crosses `high` is taken whole (what the kernel does
    /// not take at once is buffered, however far past `high`), and only then does
    /// [`pause_writing`](crate::Protocol::pause_writing) come, within that `write` (as in
    /// CPython):
    ///
    /// ```
    /// #[derive(Default)]
    /// struct Producer {
    ///     paused: bool,
    /// }
    /// impl asyncio::Protocol for Producer {
    ///     fn pause_writing(&mut self) {
    ///         self.paused = true
    ///     }
    /// }
    /// # asyncio::run(async {
    /// # let lp = asyncio::get_running_loop()?;
    /// # let (a, b) = asyncio::socketpair()?;
    /// let (transport, producer) = lp.connect_socket(Producer::default, a).await?;
    /// # let (_peer_reader, _peer_writer) = asyncio::open_connection_sock(b).await?;
    /// transport.set_write_buffer_limits(Some(4096), None)?;
    /// transport.write(&vec![0; 1 << 20])?; // a peer that reads nothing yet
    /// assert!(producer.borrow().paused);
    /// assert!(transport.get_write_buffer_size() > 4096); // what the kernel did not take
    /// # transport.abort();
    /// # Ok::<_, asyncio::Error>(())
    /// # })??;
    /// # Ok::<_, asyncio::Error>(())
    /// ```
    // Checklist: L69, L71.
    pub fn set_write_buffer_limits(
        &self,
        high: Option<usize>,
        low: Option<usize>,
    ) -> Result<(), Error> {
        self.inner.set_write_buffer_limits(high, low)
    }

    /// The plain socket transport behind this handle, if it is one.
    pub(crate) fn as_socket(&self) -> Option<&socket::SocketTransport> {
        self.inner.as_socket()
    }

    /// See `TransportImpl::peername_for_reports`.
    pub(crate) fn peername_for_reports(&self) -> Option<Address> {
        match self.inner.peername_for_reports() {
            Some(ExtraInfo::Address(a)) => Some(a),
            _ => None,
        }
    }

    /// See `TransportImpl::take_unsent_at_loop_close`.
    #[cfg(feature = "tls")]
    pub(crate) fn take_unsent_at_loop_close(&self) -> usize {
        self.inner.take_unsent_at_loop_close()
    }

    /// Bytes queued in the transport, not yet handed to the kernel.
    ///
    /// # Examples
    ///
    /// ```
    /// # #[derive(Default)]
    /// # struct Sink(Vec<u8>);
    /// # impl asyncio::Protocol for Sink {
    /// #     fn data_received(&mut self, data: &[u8]) {
    /// #         self.0.extend_from_slice(data)
    /// #     }
    /// # }
    /// # /// Lets the loop turn until `peer` holds `n` bytes (bounded).
    /// # async fn wait_for(peer: &std::rc::Rc<std::cell::RefCell<Sink>>, n: usize) {
    /// #     for _ in 0..10_000 {
    /// #         if peer.borrow().0.len() >= n { return }
    /// #         asyncio::yield_now().await;
    /// #     }
    /// #     panic!("no data");
    /// # }
    /// # asyncio::run(async {
    /// # let lp = asyncio::get_running_loop()?;
    /// # let (a, b) = asyncio::socketpair()?;
    /// # let (transport, mine) = lp.connect_socket(Sink::default, a).await?;
    /// # let (peer_transport, peer) = lp.connect_socket(Sink::default, b).await?;
    /// peer_transport.pause_reading(); // a slow peer: the kernel's buffers fill up
    /// transport.write(&vec![7; 8 << 20])?; // more than the kernel takes at once
    /// let queued = transport.get_write_buffer_size();
    /// assert!(queued > 0 && queued < 8 << 20);
    /// peer_transport.resume_reading();
    /// wait_for(&peer, 8 << 20).await;
    /// assert_eq!(transport.get_write_buffer_size(), 0);
    /// # Ok::<_, asyncio::Error>(())
    /// # })??;
    /// # Ok::<_, asyncio::Error>(())
    /// ```
    // Checklist: L72.
    pub fn get_write_buffer_size(&self) -> usize {
        self.inner.get_write_buffer_size()
    }

    /// The water marks as `(low, high)`, Python's order.
    ///
    /// # Examples
    ///
    /// ```
    /// # #[derive(Default)]
    /// # struct Sink(Vec<u8>);
    /// # impl asyncio::Protocol for Sink {
    /// #     fn data_received(&mut self, data: &[u8]) {
    /// #         self.0.extend_from_slice(data)
    /// #     }
    /// # }
    /// # /// Lets the loop turn until `peer` holds `n` bytes (bounded).
    /// # async fn wait_for(peer: &std::rc::Rc<std::cell::RefCell<Sink>>, n: usize) {
    /// #     for _ in 0..10_000 {
    /// #         if peer.borrow().0.len() >= n { return }
    /// #         asyncio::yield_now().await;
    /// #     }
    /// #     panic!("no data");
    /// # }
    /// # asyncio::run(async {
    /// # let lp = asyncio::get_running_loop()?;
    /// # let (a, b) = asyncio::socketpair()?;
    /// # let (transport, mine) = lp.connect_socket(Sink::default, a).await?;
    /// # let (peer_transport, peer) = lp.connect_socket(Sink::default, b).await?;
    /// assert_eq!(transport.get_write_buffer_limits(), (16 * 1024, 64 * 1024)); // the defaults
    /// # Ok::<_, asyncio::Error>(())
    /// # })??;
    /// # Ok::<_, asyncio::Error>(())
    /// ```
    // Checklist: L69.
    pub fn get_write_buffer_limits(&self) -> (usize, usize) {
        self.inner.get_write_buffer_limits()
    }

    /// The write buffer, the water marks, whether writing and reading are paused, and what the
    /// kernel still holds unsent: see [`BufferInfo`] (`read_buffered` is `None` here).
    ///
    /// # Examples
    ///
    /// ```
    /// # asyncio::run(async {
    /// # let lp = asyncio::get_running_loop()?;
    /// # let (a, _b) = asyncio::socketpair()?;
    /// # #[derive(Default)]
    /// # struct Quiet;
    /// # impl asyncio::Protocol for Quiet {}
    /// let (transport, _protocol) = lp.connect_socket(Quiet::default, a).await?;
    /// let info = transport.buffer_info();
    /// assert_eq!(info.write_buffered, 0);
    /// assert!(!info.writing_paused);
    /// assert_eq!((info.low_water, info.high_water), transport.get_write_buffer_limits());
    /// assert_eq!(info.read_buffered, None);
    /// transport.close();
    /// # Ok::<_, asyncio::Error>(())
    /// # })??;
    /// # Ok::<_, asyncio::Error>(())
    /// ```
    pub fn buffer_info(&self) -> BufferInfo {
        let (low_water, high_water) = self.inner.get_write_buffer_limits();
        BufferInfo {
            write_buffered: self.inner.get_write_buffer_size(),
            writing_paused: self.inner.writing_paused(),
            high_water,
            low_water,
            kernel_unsent: self.inner.kernel_unsent(),
            reading_paused: self.inner.reading_paused(),
            read_buffered: None,
        }
    }

    /// What this connection's peer has yet to take, as a figure that falls as it takes
    /// some (`TransportImpl::unsent_mark`): for the idle timeout's looks.
    pub(crate) fn unsent_mark(&self) -> usize {
        self.inner.unsent_mark()
    }

    /// The PROXY protocol header this connection started with: on a server made with
    /// [`proxy_protocol`](crate::CreateServer::proxy_protocol), the version, command,
    /// addresses and v2 TLVs a load balancer sent; `None` elsewhere, and for an optional
    /// header the client did not send. [`peername`](Self::peername) and
    /// [`sockname`](Self::sockname) already report its addresses.
    ///
    /// # Examples
    ///
    /// ```
    /// use asyncio::proxy_protocol::Command;
    /// use asyncio::{ProxyProtocol, Protocol, Transport};
    ///
    /// #[derive(Default)]
    /// struct Check;
    /// impl Protocol for Check {
    ///     fn connection_made(&mut self, t: Transport) {
    ///         let header = t.proxy_header().expect("a PROXY header");
    ///         assert_eq!(header.command, Command::Proxy);
    ///         // The balancer's own connection is still there:
    ///         assert!(t.get_extra_info("proxy_peername").is_some());
    ///         let _ = t.write(header.authority().unwrap_or("-").as_bytes());
    ///         t.close();
    ///     }
    /// }
    ///
    /// asyncio::run(async {
    ///     let lp = asyncio::get_running_loop()?;
    ///     let server = lp
    ///         .create_server(Check::default, "127.0.0.1", 0)
    ///         .proxy_protocol(ProxyProtocol::Required)
    ///         .await?;
    ///     let port = server.sockets()[0].port().unwrap();
    ///     let (reader, writer) = asyncio::open_connection("127.0.0.1", port).await?;
    ///     writer.write(b"PROXY UNKNOWN\r\n")?;
    ///     assert_eq!(reader.read(-1).await?, b"-");
    ///     server.close();
    ///     Ok::<_, asyncio::Error>(())
    /// })??;
    /// # Ok::<_, asyncio::Error>(())
    /// ```
    pub fn proxy_header(&self) -> Option<Rc<crate::proxy_protocol::ProxyHeader>> {
        self.inner.proxy_header()
    }

    /// Python's `get_extra_info(name)`: `"peername"`, `"sockname"`, `"socket"`; TLS adds
    /// its own keys. `None` for an unknown key. Keeps working after the connection is lost.
    ///
    /// # Examples
    ///
    /// ```
    /// # #[derive(Default)]
    /// # struct Sink(Vec<u8>);
    /// # impl asyncio::Protocol for Sink {
    /// #     fn data_received(&mut self, data: &[u8]) {
    /// #         self.0.extend_from_slice(data)
    /// #     }
    /// # }
    /// # /// Lets the loop turn until `peer` holds `n` bytes (bounded).
    /// # async fn wait_for(peer: &std::rc::Rc<std::cell::RefCell<Sink>>, n: usize) {
    /// #     for _ in 0..10_000 {
    /// #         if peer.borrow().0.len() >= n { return }
    /// #         asyncio::yield_now().await;
    /// #     }
    /// #     panic!("no data");
    /// # }
    /// # asyncio::run(async {
    /// # let lp = asyncio::get_running_loop()?;
    /// # let (a, b) = asyncio::socketpair()?;
    /// # let (transport, _) = lp.connect_socket(Sink::default, a).await?;
    /// # let (peer_transport, peer) = lp.connect_socket(Sink::default, b).await?;
    /// use asyncio::ExtraInfo;
    /// assert!(matches!(transport.get_extra_info("socket"), Some(ExtraInfo::Fd(_))));
    /// assert!(matches!(transport.get_extra_info("sockname"), Some(ExtraInfo::Address(_))));
    /// assert!(transport.get_extra_info("nonsense").is_none());
    /// # Ok::<_, asyncio::Error>(())
    /// # })??;
    /// # Ok::<_, asyncio::Error>(())
    /// ```
    // Checklist: L56.
    pub fn get_extra_info(&self, name: &str) -> Option<ExtraInfo> {
        self.inner.get_extra_info(name)
    }

    /// The peer's address (`get_extra_info("peername")`).
    ///
    /// # Examples
    ///
    /// ```
    /// # #[derive(Default)]
    /// # struct Quiet;
    /// # impl asyncio::Protocol for Quiet {}
    /// # asyncio::run(async {
    /// # let lp = asyncio::get_running_loop()?;
    /// # let server = lp.create_server(Quiet::default, "127.0.0.1", 0).await?;
    /// # let server_addr = server.sockets()[0].as_inet().unwrap();
    /// # let port = server_addr.port();
    /// let (transport, _) = lp.create_connection(Quiet::default, "127.0.0.1", port).await?;
    /// let peer = transport.peername().and_then(|a| a.as_inet());
    /// assert_eq!(peer, Some(server_addr));
    /// # server.close();
    /// # Ok::<_, asyncio::Error>(())
    /// # })??;
    /// # Ok::<_, asyncio::Error>(())
    /// ```
    pub fn peername(&self) -> Option<Address> {
        match self.get_extra_info("peername") {
            Some(ExtraInfo::Address(a)) => Some(a),
            _ => None,
        }
    }

    /// The local address (`get_extra_info("sockname")`).
    ///
    /// # Examples
    ///
    /// ```
    /// # #[derive(Default)]
    /// # struct Quiet;
    /// # impl asyncio::Protocol for Quiet {}
    /// # asyncio::run(async {
    /// # let lp = asyncio::get_running_loop()?;
    /// # let server = lp.create_server(Quiet::default, "127.0.0.1", 0).await?;
    /// # let server_addr = server.sockets()[0].as_inet().unwrap();
    /// # let port = server_addr.port();
    /// let (transport, _) = lp.create_connection(Quiet::default, "127.0.0.1", port).await?;
    /// let local = transport.sockname().and_then(|a| a.as_inet()).unwrap();
    /// assert!(local.ip().is_loopback());
    /// assert_ne!(local.port(), 0); // the port the OS picked for us
    /// # server.close();
    /// # Ok::<_, asyncio::Error>(())
    /// # })??;
    /// # Ok::<_, asyncio::Error>(())
    /// ```
    pub fn sockname(&self) -> Option<Address> {
        match self.get_extra_info("sockname") {
            Some(ExtraInfo::Address(a)) => Some(a),
            _ => None,
        }
    }

    /// Swaps the protocol for all later callbacks; the read path follows the new kind.
    ///
    /// # Errors
    /// [`Error::InvalidState`] while the current protocol is borrowed, the swap not made:
    /// - called from inside one of its callbacks (`set_protocol() called from inside a
    ///   callback of the current protocol, …`), where CPython would swap: call it once the
    ///   callback has returned, from a [`call_soon`](crate::LoopHandle::call_soon) callback
    ///   say;
    /// - while a borrow of the protocol's `RefCell`, taken through
    ///   [`get_protocol`](Self::get_protocol), is alive (`set_protocol() called while the
    ///   current protocol is borrowed outside its transport …`): end that borrow first. This
    ///   call cannot wait for it; the loop's `start_tls` (feature `tls`), which swaps the
    ///   protocol too, does.
    ///
    /// # Examples
    ///
    /// ```
    /// # #[derive(Default)]
    /// # struct Sink(Vec<u8>);
    /// # impl asyncio::Protocol for Sink {
    /// #     fn data_received(&mut self, data: &[u8]) {
    /// #         self.0.extend_from_slice(data)
    /// #     }
    /// # }
    /// # /// Lets the loop turn until `peer` holds `n` bytes (bounded).
    /// # async fn wait_for(peer: &std::rc::Rc<std::cell::RefCell<Sink>>, n: usize) {
    /// #     for _ in 0..10_000 {
    /// #         if peer.borrow().0.len() >= n { return }
    /// #         asyncio::yield_now().await;
    /// #     }
    /// #     panic!("no data");
    /// # }
    /// # asyncio::run(async {
    /// # let lp = asyncio::get_running_loop()?;
    /// # let (a, b) = asyncio::socketpair()?;
    /// # let (transport, _) = lp.connect_socket(Sink::default, a).await?;
    /// # let (peer_transport, peer) = lp.connect_socket(Sink::default, b).await?;
    /// use std::{cell::RefCell, rc::Rc};
    /// let next = Rc::new(RefCell::new(Sink::default()));
    /// peer_transport.set_protocol(next.clone())?; // later bytes go to `next`
    /// transport.write(b"to the new one")?;
    /// wait_for(&next, 14).await;
    /// assert!(peer.borrow().0.is_empty());
    /// assert!(peer_transport.get_protocol().is_some());
    /// # Ok::<_, asyncio::Error>(())
    /// # })??;
    /// # Ok::<_, asyncio::Error>(())
    /// ```
    // Checklist: L52.
    pub fn set_protocol(&self, protocol: ProtocolRef) -> Result<(), Error> {
        self.inner.set_protocol(protocol)
    }

    /// The current protocol; `None` once the connection is lost.
    ///
    /// # Examples
    ///
    /// ```
    /// # #[derive(Default)]
    /// # struct Sink(Vec<u8>);
    /// # impl asyncio::Protocol for Sink {
    /// #     fn data_received(&mut self, data: &[u8]) {
    /// #         self.0.extend_from_slice(data)
    /// #     }
    /// # }
    /// # /// Lets the loop turn until `peer` holds `n` bytes (bounded).
    /// # async fn wait_for(peer: &std::rc::Rc<std::cell::RefCell<Sink>>, n: usize) {
    /// #     for _ in 0..10_000 {
    /// #         if peer.borrow().0.len() >= n { return }
    /// #         asyncio::yield_now().await;
    /// #     }
    /// #     panic!("no data");
    /// # }
    /// # asyncio::run(async {
    /// # let lp = asyncio::get_running_loop()?;
    /// # let (a, b) = asyncio::socketpair()?;
    /// # let (transport, mine) = lp.connect_socket(Sink::default, a).await?;
    /// # let (peer_transport, peer) = lp.connect_socket(Sink::default, b).await?;
    /// assert!(transport.get_protocol().is_some());
    /// transport.abort();
    /// for _ in 0..10_000 {
    ///     if transport.get_protocol().is_none() { break }
    ///     asyncio::yield_now().await; // connection_lost runs on a later turn
    /// }
    /// assert!(transport.get_protocol().is_none());
    /// # Ok::<_, asyncio::Error>(())
    /// # })??;
    /// # Ok::<_, asyncio::Error>(())
    /// ```
    pub fn get_protocol(&self) -> Option<ProtocolRef> {
        self.inner.get_protocol()
    }

    /// The loop the transport runs on.
    ///
    /// # Examples
    ///
    /// ```
    /// # #[derive(Default)]
    /// # struct Sink(Vec<u8>);
    /// # impl asyncio::Protocol for Sink {
    /// #     fn data_received(&mut self, data: &[u8]) {
    /// #         self.0.extend_from_slice(data)
    /// #     }
    /// # }
    /// # /// Lets the loop turn until `peer` holds `n` bytes (bounded).
    /// # async fn wait_for(peer: &std::rc::Rc<std::cell::RefCell<Sink>>, n: usize) {
    /// #     for _ in 0..10_000 {
    /// #         if peer.borrow().0.len() >= n { return }
    /// #         asyncio::yield_now().await;
    /// #     }
    /// #     panic!("no data");
    /// # }
    /// # asyncio::run(async {
    /// # let lp = asyncio::get_running_loop()?;
    /// # let (a, b) = asyncio::socketpair()?;
    /// # let (transport, mine) = lp.connect_socket(Sink::default, a).await?;
    /// # let (peer_transport, peer) = lp.connect_socket(Sink::default, b).await?;
    /// // From a protocol callback, where only the transport is at hand:
    /// let t = transport.clone();
    /// transport.get_loop().call_soon(move || t.close())?;
    /// asyncio::yield_now().await;
    /// assert!(transport.is_closing());
    /// # Ok::<_, asyncio::Error>(())
    /// # })??;
    /// # Ok::<_, asyncio::Error>(())
    /// ```
    pub fn get_loop(&self) -> LoopHandle {
        self.inner.get_loop()
    }

    /// A number naming this connection in logs and traces.
    ///
    /// # Examples
    ///
    /// ```
    /// # #[derive(Default)]
    /// # struct Sink(Vec<u8>);
    /// # impl asyncio::Protocol for Sink {
    /// #     fn data_received(&mut self, data: &[u8]) {
    /// #         self.0.extend_from_slice(data)
    /// #     }
    /// # }
    /// # /// Lets the loop turn until `peer` holds `n` bytes (bounded).
    /// # async fn wait_for(peer: &std::rc::Rc<std::cell::RefCell<Sink>>, n: usize) {
    /// #     for _ in 0..10_000 {
    /// #         if peer.borrow().0.len() >= n { return }
    /// #         asyncio::yield_now().await;
    /// #     }
    /// #     panic!("no data");
    /// # }
    /// # asyncio::run(async {
    /// # let lp = asyncio::get_running_loop()?;
    /// # let (a, b) = asyncio::socketpair()?;
    /// # let (transport, mine) = lp.connect_socket(Sink::default, a).await?;
    /// # let (peer_transport, peer) = lp.connect_socket(Sink::default, b).await?;
    /// assert_ne!(transport.id(), peer_transport.id());
    /// assert_eq!(transport.clone().id(), transport.id()); // clones are the same connection
    /// # Ok::<_, asyncio::Error>(())
    /// # })??;
    /// # Ok::<_, asyncio::Error>(())
    /// ```
    pub fn id(&self) -> u64 {
        self.inner.id()
    }

    /// Same transport?
    ///
    /// # Examples
    ///
    /// ```
    /// # #[derive(Default)]
    /// # struct Sink(Vec<u8>);
    /// # impl asyncio::Protocol for Sink {
    /// #     fn data_received(&mut self, data: &[u8]) {
    /// #         self.0.extend_from_slice(data)
    /// #     }
    /// # }
    /// # /// Lets the loop turn until `peer` holds `n` bytes (bounded).
    /// # async fn wait_for(peer: &std::rc::Rc<std::cell::RefCell<Sink>>, n: usize) {
    /// #     for _ in 0..10_000 {
    /// #         if peer.borrow().0.len() >= n { return }
    /// #         asyncio::yield_now().await;
    /// #     }
    /// #     panic!("no data");
    /// # }
    /// # asyncio::run(async {
    /// # let lp = asyncio::get_running_loop()?;
    /// # let (a, b) = asyncio::socketpair()?;
    /// # let (transport, mine) = lp.connect_socket(Sink::default, a).await?;
    /// # let (peer_transport, peer) = lp.connect_socket(Sink::default, b).await?;
    /// assert!(transport.ptr_eq(&transport.clone()));
    /// assert!(!transport.ptr_eq(&peer_transport));
    /// # Ok::<_, asyncio::Error>(())
    /// # })??;
    /// # Ok::<_, asyncio::Error>(())
    /// ```
    pub fn ptr_eq(&self, other: &Transport) -> bool {
        Rc::ptr_eq(&self.inner, &other.inner)
    }
}

impl fmt::Debug for Transport {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Transport")
            .field("id", &self.id())
            .field("closing", &self.is_closing())
            .finish()
    }
}

/// The type `io::Error` values in `connection_lost` have when the peer resets.
pub(crate) fn is_ordinary_disconnect(e: &io::Error) -> bool {
    matches!(
        e.kind(),
        io::ErrorKind::ConnectionReset
            | io::ErrorKind::BrokenPipe
            | io::ErrorKind::ConnectionAborted
    )
}
