//! Datagram transports: one UDP or Unix datagram socket, its send queue and its protocol.
//!
//! Mirrors `_SelectorDatagramTransport` in CPython `Lib/asyncio/selector_events.py` (with
//! `DatagramTransport` from `transports.py`). Ground rules, as for the stream transports: the
//! protocol is called only through its `ProtocolSlot` (`protocol.rs`, the one seam every
//! transport calls its protocol through), `connection_made` first (from a queued
//! callback, and reading starts only after it), `connection_lost` exactly once and last, from a
//! queued callback (or from the send path once a closing transport's queue drains); no
//! `RefCell` borrow of the transport is held while the protocol runs. The states are the
//! stream transports' `Life` (`lifecycle.rs`), the water marks their `FlowControl`.
//!
//! Reads: registered edge-triggered, so `read_ready` receives until `WouldBlock`, at most
//! [`READS_PER_EVENT`] datagrams per event before it yields to the rest of the loop (CPython,
//! level-triggered, receives one per event). Datagrams land in the loop's shared 256 KiB read
//! buffer (CPython's `max_size`), so an idle endpoint holds no receive buffer. An `OSError`
//! from `recvfrom` goes to `error_received` and the transport stays open.
//!
//! Sends: `sendto` tries the kernel at once when nothing is queued; a datagram it refuses for
//! now (`WouldBlock`) is queued whole with its address, and the protocol is paused above the
//! high-water mark. An `OSError` goes to `error_received` (that datagram is dropped).
//!
//! Files: `mod.rs` (the transport, the [`DatagramTransport`] handle, the loop's events),
//! `protocol.rs` (`DatagramProtocol`), `io_path.rs` (receive, send, close).

use std::cell::{Cell, OnceCell, RefCell};
use std::collections::VecDeque;
use std::io;
use std::os::fd::{AsRawFd, RawFd};
use std::rc::{Rc, Weak};

mod io_path;
pub(crate) mod protocol;

use mio::Interest;

use super::flow_control::FlowControl;
use super::lifecycle::{Life, Reading, State};
use super::write_path::{warn_unsent_at_loop_close, Unsent};
use super::{register_and_start, Address, ExtraInfo, StoredAddress};
use crate::error::Error;
use crate::event_loop::io::{IoHandler, Readiness};
use crate::event_loop::LoopHandle;
use crate::protocol::ProtocolSlot;
use crate::slots::SlotKey;
use protocol::{DatagramProtocol, DatagramProtocolRef};

/// How many datagrams one readiness event may receive before yielding to the rest of the loop.
const READS_PER_EVENT: usize = 16;

/// How many errors may wait for a held protocol (`errors`). CPython calls `error_received`
/// during the `sendto` that failed, so nothing waits there; here a protocol held elsewhere
/// (a borrow kept across an await, a long callback) while `sendto` keeps failing would grow
/// the queue without end, and no flow-control edge tells the sender. Past the bound the
/// newest are dropped, with a warning as the queue fills: a protocol that has yet to hear the
/// first thousand learns little from the next ones.
const MAX_WAITING_ERRORS: usize = 1024;

/// The socket, by family.
pub(crate) enum DgramSock {
    Udp(mio::net::UdpSocket),
    Unix(mio::net::UnixDatagram),
}

impl DgramSock {
    fn source(&mut self) -> &mut dyn mio::event::Source {
        match self {
            DgramSock::Udp(s) => s,
            DgramSock::Unix(s) => s,
        }
    }

    fn as_raw_fd(&self) -> RawFd {
        match self {
            DgramSock::Udp(s) => s.as_raw_fd(),
            DgramSock::Unix(s) => s.as_raw_fd(),
        }
    }

    fn local_addr(&self) -> Option<Address> {
        match self {
            DgramSock::Udp(s) => s.local_addr().ok().map(Address::Inet),
            DgramSock::Unix(s) => s.local_addr().ok().map(Address::Unix),
        }
    }

    /// `getpeername()`: `None` for an unconnected socket.
    fn peer_addr(&self) -> Option<Address> {
        match self {
            DgramSock::Udp(s) => s.peer_addr().ok().map(Address::Inet),
            DgramSock::Unix(s) => s.peer_addr().ok().map(Address::Unix),
        }
    }
}

/// `sock.register` with a `&mut dyn Source`.
struct DynSource<'a>(&'a mut dyn mio::event::Source);

impl mio::event::Source for DynSource<'_> {
    fn register(&mut self, r: &mio::Registry, t: mio::Token, i: Interest) -> io::Result<()> {
        self.0.register(r, t, i)
    }

    fn reregister(&mut self, r: &mio::Registry, t: mio::Token, i: Interest) -> io::Result<()> {
        self.0.reregister(r, t, i)
    }

    fn deregister(&mut self, r: &mio::Registry) -> io::Result<()> {
        self.0.deregister(r)
    }
}

/// One queued datagram: the bytes and where they go (`None`: the connected peer).
struct Queued {
    data: Box<[u8]>,
    addr: Option<Address>,
}

pub(crate) struct DatagramSocketTransport {
    /// This transport, for queued callbacks and `DatagramTransport` handles.
    me: Weak<DatagramSocketTransport>,
    /// The socket; `None` once released (or the loop closed).
    sock: RefCell<Option<DgramSock>>,
    /// The registration in the loop; `None` once deregistered.
    key: Cell<Option<SlotKey>>,
    /// The protocol, called only through this slot; it also keeps the loop and the id.
    protocol: ProtocolSlot<dyn DatagramProtocol>,
    /// `State` and `Reading`, changed only through their guarded setters. Reading is never
    /// paused (a datagram transport has no `pause_reading`): `NotStarted → Active → Done`.
    life: Life,
    /// Datagrams the kernel has not taken yet, oldest first. Invariant: empty once `Lost`.
    buffer: RefCell<VecDeque<Queued>>,
    /// The bytes in `buffer` (CPython's `_buffer_size`, `get_write_buffer_size()`).
    buffer_size: Cell<usize>,
    /// The water marks and whether the protocol is paused (`_FlowControlMixin`).
    flow: RefCell<FlowControl>,
    /// CPython's `_conn_lost`: 1 once the transport is lost, plus one per dropped `sendto`;
    /// the warning comes from `LOG_THRESHOLD_FOR_CONNLOST_WRITES` on.
    conn_lost: Cell<u32>,
    /// The address given as `remote_addr` (CPython's `_address`): `sendto` accepts only it.
    /// Stored compact (32 bytes, a Unix name boxed) as the socket transport stores its names.
    address: StoredAddress,
    /// `getpeername()` at creation (CPython's `_extra['peername']`): when set, `send`, not
    /// `sendto`, is used.
    peername: StoredAddress,
    /// The socket's descriptor, for `get_extra_info("socket")` (valid while `sock` is set).
    fd: RawFd,
    /// Errors for `error_received` that found the protocol held, oldest first; the slot's
    /// one pending delivery takes them, or `read_ready` as it finds the protocol free (before
    /// its next datagram), or `connection_lost` (before it) (`io_path.rs`). Invariant: at
    /// most [`MAX_WAITING_ERRORS`].
    errors: Cell<Vec<io::Error>>,
    /// `getsockname()` as the socket was closed, for `sockname()` after: boxed, 8 bytes
    /// while open (an `Address` is 120).
    closed_sockname: OnceCell<Box<Address>>,
}

impl DatagramSocketTransport {
    fn id(&self) -> u64 {
        self.protocol.transport_id()
    }

    fn lp(&self) -> &LoopHandle {
        self.protocol.lp()
    }

    /// Registers `sock` (non-blocking already) and queues `connection_made` and the start of
    /// reading (CPython's `__init__`).
    /// `sock` is a UDP socket, or a Unix datagram one when `unix`.
    pub(crate) fn create(
        lp: &LoopHandle,
        sock: socket2::Socket,
        unix: bool,
        protocol: DatagramProtocolRef,
        address: Option<Address>,
    ) -> Result<Rc<DatagramSocketTransport>, Error> {
        lp.inner.check_closed()?;
        sock.set_nonblocking(true)?;
        let fd = std::os::fd::OwnedFd::from(sock);
        let mut sock = if unix {
            DgramSock::Unix(mio::net::UnixDatagram::from_std(fd.into()))
        } else {
            DgramSock::Udp(mio::net::UdpSocket::from_std(fd.into()))
        };
        let fd = sock.as_raw_fd();
        let peername = sock.peer_addr();
        let id = lp.next_conn_id();
        let t = Rc::new_cyclic(|me| DatagramSocketTransport {
            me: me.clone(),
            sock: RefCell::new(None),
            key: Cell::new(None),
            protocol: ProtocolSlot::new(protocol, lp.clone(), id),
            life: Life::new(Reading::NotStarted),
            buffer: RefCell::new(VecDeque::new()),
            buffer_size: Cell::new(0),
            flow: RefCell::new(FlowControl::default()),
            conn_lost: Cell::new(0),
            address: address.into(),
            peername: peername.into(),
            fd,
            errors: Cell::new(Vec::new()),
            closed_sockname: OnceCell::new(),
        });
        // Both directions at once, edge-triggered: a writable edge with nothing queued costs
        // one ignored event, and saves a reregister per queued datagram.
        let key = register_and_start(
            lp,
            &t,
            (sock.source(), fd, Interest::READABLE | Interest::WRITABLE),
            Self::connection_made,
            Some(Self::start_reading),
        )?;
        t.key.set(Some(key));
        *t.sock.borrow_mut() = Some(sock);
        Ok(t)
    }

    /// A handle on this transport.
    fn handle(&self) -> DatagramTransport {
        DatagramTransport {
            inner: self.me.upgrade().expect("transport alive while in use"),
        }
    }

    /// The slot, as `protocol::when_free` and its siblings take it.
    fn slot(&self) -> &ProtocolSlot<dyn DatagramProtocol> {
        &self.protocol
    }

    /// Runs `f` once the protocol is free (the next turn, or later ones spaced out as
    /// `protocol::Hold` says while a user holds it).
    fn when_free(&self, f: impl FnOnce(&Self) + 'static) {
        crate::protocol::when_free(self.lp(), self.me.clone(), Self::slot, f);
    }

    /// Takes the socket out, keeping its address for `sockname()`.
    fn take_sock(&self) -> Option<DgramSock> {
        let sock = self.sock.borrow_mut().take();
        if let Some(a) = sock.as_ref().and_then(DgramSock::local_addr) {
            let _ = self.closed_sockname.set(Box::new(a));
        }
        sock
    }

    /// Leaves the loop, closes the socket, drops the protocol.
    fn release(&self) {
        let sock = self.take_sock();
        if let (Some(mut sock), Some(key)) = (sock, self.key.take()) {
            self.lp()
                .inner
                .deregister(key, &mut DynSource(sock.source()));
            drop(sock);
        }
        self.protocol.let_go();
    }
}

impl IoHandler for DatagramSocketTransport {
    fn io_ready(&self, readiness: Readiness) {
        if self.life.state() >= State::Lost {
            return;
        }
        if readiness.is_readable() && self.life.reading() == Reading::Active {
            self.read_ready();
        }
        if readiness.is_writable() && !self.buffer.borrow().is_empty() {
            self.sendto_ready();
        }
    }

    fn loop_closed(&self) {
        let was = self.life.loop_closed();
        // Nothing queued can be sent any more: freed now, not with the last handle (as the
        // stream transports do).
        let unsent = std::mem::take(&mut *self.buffer.borrow_mut());
        let bytes = self.buffer_size.replace(0);
        if !unsent.is_empty() {
            // Silent in CPython, as for the stream transports: here the usual cause is a
            // `close()` whose queue the run ended before the loop could send. Said once, at
            // the one place the datagrams are lost.
            // Checklist: L16.
            let what = Unsent::Datagrams {
                count: unsent.len(),
                bytes,
            };
            warn_unsent_at_loop_close("datagram transport", self.id(), what);
        }
        drop(unsent);
        // The dropped-send count starts again: `sendto` warns at the first from now on (a
        // call CPython cannot make: its loop is closed), not from the L81 threshold.
        self.conn_lost.set(0);
        if was < State::Closed {
            // Python's plain text: the streams' longer one speaks of a stream kept past its run.
            let exc = crate::error::loop_closed_registry();
            self.protocol.lost_at_close(Some(exc));
        }
        self.protocol.let_go();
        drop(self.take_sock());
    }

    fn buffer_info(&self) -> Option<super::BufferInfo> {
        let flow = self.flow.borrow();
        let (low_water, high_water) = flow.limits();
        Some(super::BufferInfo {
            write_buffered: self.buffer_size.get(),
            writing_paused: flow.is_paused(),
            high_water,
            low_water,
            kernel_unsent: None,
            reading_paused: !self.life.is_reading(),
            read_buffered: None,
        })
    }
}

/// A datagram endpoint's transport (Python's `asyncio.DatagramTransport`). Clone it freely;
/// all clones are the same transport. Every method is safe to call from inside a
/// [`DatagramProtocol`] callback.
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
///     let (transport, _protocol) = lp
///         .create_datagram_endpoint(Quiet::default)
///         .local_addr("127.0.0.1", 0)
///         .await?;
///     let port = transport.sockname().and_then(|a| a.port()).unwrap();
///     assert_ne!(port, 0);
///     transport.close();
///     assert!(transport.is_closing());
///     Ok::<_, asyncio::Error>(())
/// })??;
/// # Ok::<_, asyncio::Error>(())
/// ```
#[derive(Clone)]
pub struct DatagramTransport {
    pub(crate) inner: Rc<DatagramSocketTransport>,
}

impl DatagramTransport {
    /// Sends `data` as one datagram to `addr` (Python's `sendto(data, addr=None)`): at once
    /// if nothing is queued, else after what is. Never blocks: a datagram the kernel cannot
    /// take now is queued whole, and the protocol is paused above the high-water mark. On an
    /// endpoint made with a remote address, `addr` must be `None` or that address. Empty
    /// `data` sends nothing (CPython 3.11; 3.12 sends an empty datagram). A failure of the
    /// send itself goes to [`DatagramProtocol::error_received`], not to the caller. After the
    /// transport is lost, data is dropped (with a warning after a few such calls, or at the
    /// first once the event loop has closed under the endpoint).
    ///
    /// # Errors
    /// [`Error::InvalidArgument`]: `Invalid address: must be None or ('127.0.0.1', 9)` (the
    /// remote address as Python prints it) on a connected endpoint given another address; `no
    /// address given for an unconnected datagram transport` when `addr` is `None` and there is
    /// no peer; `an unnamed Unix address cannot be sent to` when an unconnected endpoint is
    /// given one.
    ///
    /// # Examples
    ///
    /// ```
    /// #[derive(Default)]
    /// struct Quiet;
    /// impl asyncio::DatagramProtocol for Quiet {}
    ///
    /// asyncio::run(async {
    ///     let peer = std::net::UdpSocket::bind("127.0.0.1:0")?;
    ///     let port = peer.local_addr()?.port();
    ///     let lp = asyncio::get_running_loop()?;
    ///     let (transport, _) = lp
    ///         .create_datagram_endpoint(Quiet::default)
    ///         .remote_addr("127.0.0.1", port)
    ///         .await?;
    ///     transport.sendto(b"hello", None)?; // to the remote address
    ///     let mut buf = [0; 16];
    ///     let n = peer.recv(&mut buf)?; // loopback: already there
    ///     assert_eq!(&buf[..n], b"hello");
    ///     let other = asyncio::Address::Inet("127.0.0.1:9".parse().unwrap());
    ///     assert!(transport.sendto(b"x", Some(&other)).is_err());
    ///     transport.close();
    ///     Ok::<_, asyncio::Error>(())
    /// })??;
    /// # Ok::<_, asyncio::Error>(())
    /// ```
    pub fn sendto(&self, data: &[u8], addr: Option<&Address>) -> Result<(), Error> {
        self.inner.sendto(data, addr)
    }

    /// Closes the transport once its queued datagrams are sent; then
    /// `connection_lost(None)`. Nothing more is received. A second call does nothing.
    ///
    /// # Examples
    ///
    /// See [`DatagramTransport`].
    pub fn close(&self) {
        self.inner.close();
    }

    /// Closes the transport at once: queued datagrams are dropped; then
    /// `connection_lost(None)`.
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
    ///     let endpoint = lp.create_datagram_endpoint(Quiet::default);
    ///     let (t, _) = endpoint.local_addr("127.0.0.1", 0).await?;
    ///     t.abort();
    ///     assert!(t.is_closing());
    ///     Ok::<_, asyncio::Error>(())
    /// })??;
    /// # Ok::<_, asyncio::Error>(())
    /// ```
    pub fn abort(&self) {
        self.inner.force_close(None);
    }

    /// Whether `close` or `abort` was called (or the transport was lost).
    ///
    /// # Examples
    ///
    /// See [`DatagramTransport`].
    pub fn is_closing(&self) -> bool {
        self.inner.life.state() != State::Open
    }

    /// The local address (`get_extra_info("sockname")`); once closed, the one it had.
    ///
    /// # Examples
    ///
    /// See [`DatagramTransport`].
    pub fn sockname(&self) -> Option<Address> {
        // Differs from CPython: read live while open (CPython keeps the creation-time value, so
        // an unbound socket's port stays 0 after its first send binds it), kept after close.
        match self.inner.sock.borrow().as_ref() {
            Some(sock) => sock.local_addr(),
            None => self.inner.closed_sockname.get().map(|a| (**a).clone()),
        }
    }

    /// The connected peer (`get_extra_info("peername")`); `None` for an unconnected endpoint.
    ///
    /// # Examples
    ///
    /// See [`sendto`](Self::sendto); `peername()` there is the remote address.
    pub fn peername(&self) -> Option<Address> {
        self.inner.peername.get()
    }

    /// Python's `get_extra_info(name)`: `"sockname"`, `"peername"` (addresses) and `"socket"`
    /// (the descriptor, owned by the transport); `None` for other names.
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
    ///     let endpoint = lp.create_datagram_endpoint(Quiet::default);
    ///     let (t, _) = endpoint.local_addr("127.0.0.1", 0).await?;
    ///     assert!(matches!(t.get_extra_info("socket"), Some(asyncio::ExtraInfo::Fd(_))));
    ///     assert!(t.get_extra_info("peername").is_none());
    ///     t.close();
    ///     Ok::<_, asyncio::Error>(())
    /// })??;
    /// # Ok::<_, asyncio::Error>(())
    /// ```
    pub fn get_extra_info(&self, name: &str) -> Option<ExtraInfo> {
        match name {
            "sockname" => self.sockname().map(ExtraInfo::Address),
            "peername" => self.peername().map(ExtraInfo::Address),
            // Differs from CPython: it returns the closed socket object (`fileno()` -1); a
            // closed descriptor's number may already name another file, so `None`, as the
            // stream transports answer after close.
            "socket" => self
                .inner
                .sock
                .borrow()
                .as_ref()
                .map(|_| ExtraInfo::Fd(self.inner.fd)),
            _ => None,
        }
    }

    /// Bytes queued, waiting for the kernel.
    ///
    /// # Examples
    ///
    /// See [`set_write_buffer_limits`](Self::set_write_buffer_limits).
    pub fn get_write_buffer_size(&self) -> usize {
        self.inner.buffer_size.get()
    }

    /// Sets the water marks of the send queue (Python's defaults: high 64 KiB, low a quarter
    /// of high); the protocol is paused above `high` and resumed at `low` or below.
    ///
    /// # Errors
    /// [`Error::InvalidArgument`] when `low > high`.
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
    ///     let endpoint = lp.create_datagram_endpoint(Quiet::default);
    ///     let (t, _) = endpoint.local_addr("127.0.0.1", 0).await?;
    ///     t.set_write_buffer_limits(Some(1024), None)?;
    ///     assert_eq!(t.get_write_buffer_limits(), (256, 1024));
    ///     assert_eq!(t.get_write_buffer_size(), 0);
    ///     assert!(t.set_write_buffer_limits(Some(1), Some(2)).is_err());
    ///     t.close();
    ///     Ok::<_, asyncio::Error>(())
    /// })??;
    /// # Ok::<_, asyncio::Error>(())
    /// ```
    pub fn set_write_buffer_limits(
        &self,
        high: Option<usize>,
        low: Option<usize>,
    ) -> Result<(), Error> {
        self.inner.flow.borrow_mut().set_limits(high, low)?;
        self.inner.maybe_pause_protocol();
        Ok(())
    }

    /// `(low, high)` water marks, as Python returns them.
    ///
    /// # Examples
    ///
    /// See [`set_write_buffer_limits`](Self::set_write_buffer_limits).
    pub fn get_write_buffer_limits(&self) -> (usize, usize) {
        self.inner.flow.borrow().limits()
    }

    /// The protocol; `None` once the transport is closed.
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
    ///     let endpoint = lp.create_datagram_endpoint(Quiet::default);
    ///     let (t, _) = endpoint.local_addr("127.0.0.1", 0).await?;
    ///     assert!(t.get_protocol().is_some());
    ///     t.close();
    ///     Ok::<_, asyncio::Error>(())
    /// })??;
    /// # Ok::<_, asyncio::Error>(())
    /// ```
    pub fn get_protocol(&self) -> Option<Rc<RefCell<dyn DatagramProtocol>>> {
        self.inner.protocol.get()
    }
}

#[cfg(test)]
mod tests {
    /// An idle endpoint's transport stays compact: its two addresses are stored as the socket
    /// transport stores its names (two `Option<Address>` were 240 bytes; the whole was 456,
    /// 280 with them compact, 304 with the queue of errors waiting for the protocol).
    #[test]
    #[cfg(target_pointer_width = "64")]
    fn an_idle_datagram_transport_stays_compact() {
        let size = std::mem::size_of::<super::DatagramSocketTransport>();
        assert!(size <= 304, "DatagramSocketTransport is {size} bytes");
    }
}
