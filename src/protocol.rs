//! Protocols: the callbacks a transport makes into your code.
//!
//! Mirrors `BaseProtocol`, `Protocol` and `BufferedProtocol` in CPython
//! `Lib/asyncio/protocols.py`. The call grammar every transport keeps:
//!
//! ```text
//! Protocol:          connection_made  data_received*  eof_received?  connection_lost
//! BufferedProtocol:  connection_made  (get_buffer buffer_updated?)*  eof_received?  connection_lost
//! ```
//! `pause_writing`/`resume_writing` may come anywhere between `connection_made` and
//! `connection_lost`, strictly alternating, starting with pause. Which transport code makes
//! each call, its CPython counterpart, and the three places where the timing differs from
//! CPython's: [the guide's Protocol table](crate::guide#the-protocol-layer-who-calls-what-and-when).
//!
//! Ground rules for implementors: methods take `&mut self`; the transport keeps your protocol
//! in an `Rc<RefCell<…>>` and borrows it only for the duration of one call. Inside any callback
//! you may call any method of the [`Transport`] — `write`, `close`, `abort`, `pause_reading`.
//! A `pause_writing`/`resume_writing` that a `write` made from inside one of your own
//! callbacks triggers is delivered as soon as that callback returns, since your protocol is
//! borrowed at that moment; made from anywhere else, it is delivered at once.
//!
//! Inside the crate these rules are kept in one place: every transport, stream (socket, pipe,
//! TLS, PROXY layer) or datagram, calls its protocol only through one slot type, the seam at
//! the end of this file, so [`DatagramProtocol`] callbacks follow them too.
// Checklist: L44, L49, L83.

use std::cell::RefCell;
use std::io;
use std::panic::{catch_unwind, AssertUnwindSafe};
use std::rc::Rc;

mod held_wait;
#[cfg(feature = "tls")]
pub(crate) use held_wait::until_cell_free;
#[cfg(feature = "futures-io")]
pub(crate) use held_wait::wake_on_running_loop_when_free;
pub(crate) use held_wait::{wake_once_cell_free, wake_when_cell_free, HeldSlot};

pub(crate) use crate::event_loop::exception::Payload;
use crate::event_loop::exception::{drop_contained, report_protocol_callback, Call};
use crate::transport::datagram::protocol::DatagramProtocol;
use crate::transport::datagram::DatagramTransport;
use crate::transport::Transport;

/// A stream protocol (Python's `asyncio.Protocol`, with `BaseProtocol`'s methods).
///
/// Every method has a default that does nothing, so a protocol implements only what it needs.
/// A protocol that wants the transport to read straight into its own memory also implements
/// [`BufferedProtocol`] and returns `Some(self)` from [`as_buffered`](Protocol::as_buffered)
/// (Python's `isinstance(protocol, BufferedProtocol)` check).
///
/// # Examples
///
/// ```
/// use asyncio::{Protocol, Transport};
///
/// /// Echoes every byte back, closes when the peer is done.
/// #[derive(Default)]
/// struct Echo(Option<Transport>);
///
/// impl Protocol for Echo {
///     fn connection_made(&mut self, transport: Transport) {
///         self.0 = Some(transport);
///     }
///     fn data_received(&mut self, data: &[u8]) {
///         let _ = self.0.as_ref().unwrap().write(data);
///     }
/// }
///
/// asyncio::run(async {
///     let lp = asyncio::get_running_loop()?;
///     let server = lp.create_server(Echo::default, "127.0.0.1", 0).await?;
///     let port = server.sockets()[0].port().unwrap();
///     let (reader, writer) = asyncio::open_connection("127.0.0.1", port).await?;
///     writer.write(b"echo?")?;
///     assert_eq!(reader.readexactly(5).await?, b"echo?");
///     writer.close();
///     server.close();
///     Ok::<_, asyncio::Error>(())
/// })??;
/// # Ok::<_, asyncio::Error>(())
/// ```
pub trait Protocol {
    /// The connection is up; keep `transport` to write. Called once, first.
    ///
    /// # Examples
    ///
    /// A server that speaks first greets each client from here.
    ///
    /// ```
    /// use asyncio::{Protocol, Transport};
    ///
    /// #[derive(Default)]
    /// struct Greeter;
    /// impl Protocol for Greeter {
    ///     fn connection_made(&mut self, transport: Transport) {
    ///         let _ = transport.write(b"220 ready\r\n");
    ///     }
    /// }
    /// # asyncio::run(async {
    /// # let lp = asyncio::get_running_loop()?;
    /// let server = lp.create_server(Greeter::default, "127.0.0.1", 0).await?;
    /// # let port = server.sockets()[0].port().unwrap();
    /// let (reader, _writer) = asyncio::open_connection("127.0.0.1", port).await?;
    /// assert_eq!(reader.readline().await?, b"220 ready\r\n");
    /// # server.close();
    /// # Ok::<_, asyncio::Error>(())
    /// # })??;
    /// # Ok::<_, asyncio::Error>(())
    /// ```
    fn connection_made(&mut self, transport: Transport) {
        let _ = transport;
    }

    /// Some bytes arrived: never empty, at most 256 KiB; boundaries carry no meaning.
    ///
    /// # Examples
    ///
    /// Two writes of the peer may arrive as one call or as several: a protocol that wants lines
    /// finds them itself.
    ///
    /// ```
    /// use asyncio::Protocol;
    ///
    /// #[derive(Default)]
    /// struct Lines { pending: Vec<u8>, count: usize }
    /// impl Protocol for Lines {
    ///     fn data_received(&mut self, data: &[u8]) {
    ///         self.pending.extend_from_slice(data);
    ///         while let Some(end) = self.pending.iter().position(|&b| b == b'\n') {
    ///             self.pending.drain(..=end);
    ///             self.count += 1;
    ///         }
    ///     }
    /// }
    /// # asyncio::run(async {
    /// # let lp = asyncio::get_running_loop()?;
    /// # let (a, b) = asyncio::socketpair()?;
    /// let (_transport, lines) = lp.connect_socket(Lines::default, a).await?;
    /// # let (_, peer) = asyncio::open_connection_sock(b).await?;
    /// peer.write(b"one\ntw")?;
    /// peer.write(b"o\nthree")?;
    /// for _ in 0..10_000 {
    ///     if lines.borrow().count == 2 { break }
    ///     asyncio::yield_now().await; // the loop reads and calls data_received
    /// }
    /// assert_eq!(lines.borrow().count, 2); // "three" waits for its newline
    /// # Ok::<_, asyncio::Error>(())
    /// # })??;
    /// # Ok::<_, asyncio::Error>(())
    /// ```
    // Checklist: L46.
    fn data_received(&mut self, data: &[u8]) {
        let _ = data;
    }

    /// The peer closed its writing side. Return `true` to keep the transport open for writing
    /// (half-close: you close it later); `false` closes it. Called at most once.
    ///
    /// # Examples
    ///
    /// A server that answers only once the client has said everything (the client half-closes):
    ///
    /// ```
    /// use asyncio::{Protocol, Transport};
    ///
    /// #[derive(Default)]
    /// struct Count { transport: Option<Transport>, total: usize }
    /// impl Protocol for Count {
    ///     fn connection_made(&mut self, t: Transport) { self.transport = Some(t) }
    ///     fn data_received(&mut self, data: &[u8]) { self.total += data.len() }
    ///     fn eof_received(&mut self) -> bool {
    ///         let t = self.transport.as_ref().unwrap();
    ///         let _ = t.write(format!("{} bytes\n", self.total).as_bytes());
    ///         t.close(); // closing is ours now: here, once the reply is flushed
    ///         true
    ///     }
    /// }
    /// # asyncio::run(async {
    /// # let lp = asyncio::get_running_loop()?;
    /// # let server = lp.create_server(Count::default, "127.0.0.1", 0).await?;
    /// # let port = server.sockets()[0].port().unwrap();
    /// let (reader, writer) = asyncio::open_connection("127.0.0.1", port).await?;
    /// writer.write(b"12345")?;
    /// writer.write_eof()?; // "that is all"; the client can still read
    /// assert_eq!(reader.read(-1).await?, b"5 bytes\n");
    /// # server.close();
    /// # Ok::<_, asyncio::Error>(())
    /// # })??;
    /// # Ok::<_, asyncio::Error>(())
    /// ```
    // Checklist: L47.
    fn eof_received(&mut self) -> bool {
        false
    }

    /// The connection is gone: `None` after EOF, `close()` or `abort()`, the error after a
    /// failure. Called once, last.
    ///
    /// # Examples
    ///
    /// ```
    /// use std::io;
    ///
    /// #[derive(Default)]
    /// struct Watch { lost: Option<Option<io::Error>> }
    /// impl asyncio::Protocol for Watch {
    ///     fn connection_lost(&mut self, exc: Option<io::Error>) {
    ///         self.lost = Some(exc);
    ///     }
    /// }
    /// # asyncio::run(async {
    /// # let lp = asyncio::get_running_loop()?;
    /// let (a, b) = asyncio::socketpair()?;
    /// let (_transport, watch) = lp.connect_socket(Watch::default, a).await?;
    /// drop(b); // the peer goes away cleanly: EOF, the transport closes
    /// for _ in 0..10_000 {
    ///     if watch.borrow().lost.is_some() { break }
    ///     asyncio::yield_now().await;
    /// }
    /// assert!(matches!(watch.borrow().lost, Some(None))); // no error
    /// # Ok::<_, asyncio::Error>(())
    /// # })??;
    /// # Ok::<_, asyncio::Error>(())
    /// ```
    // Checklist: L48.
    fn connection_lost(&mut self, exc: Option<io::Error>) {
        let _ = exc;
    }

    /// The transport's write buffer rose above its high-water mark.
    ///
    /// # Examples
    ///
    /// A producer stops between `pause_writing` and `resume_writing`, so its buffer stays bounded
    /// however slow the peer is.
    ///
    /// ```
    /// #[derive(Default)]
    /// struct Producer { paused: bool }
    /// impl asyncio::Protocol for Producer {
    ///     fn pause_writing(&mut self) { self.paused = true }
    ///     fn resume_writing(&mut self) { self.paused = false }
    /// }
    /// # asyncio::run(async {
    /// # let lp = asyncio::get_running_loop()?;
    /// # let (a, b) = asyncio::socketpair()?;
    /// let (transport, producer) = lp.connect_socket(Producer::default, a).await?;
    /// # let (peer, _peer_writer) = asyncio::open_connection_sock(b).await?;
    /// transport.write(&vec![0; 1 << 20])?; // far above the 64 KiB high-water mark
    /// assert!(producer.borrow().paused); // stop producing
    /// peer.readexactly(1 << 20).await?; // the peer catches up: the buffer drains
    /// assert!(!producer.borrow().paused); // go on
    /// # Ok::<_, asyncio::Error>(())
    /// # })??;
    /// # Ok::<_, asyncio::Error>(())
    /// ```
    // Checklist: L70.
    fn pause_writing(&mut self) {}

    /// The transport's write buffer fell to its low-water mark or below.
    ///
    /// Shown in the example of [`pause_writing`](Self::pause_writing).
    // Checklist: L70.
    fn resume_writing(&mut self) {}

    /// `Some(self)` for a [`BufferedProtocol`]: the transport then calls `get_buffer` /
    /// `buffer_updated` instead of `data_received`.
    ///
    /// Shown in the example on [`BufferedProtocol`].
    // Checklist: L50, L52.
    fn as_buffered(&mut self) -> Option<&mut dyn BufferedProtocol> {
        None
    }

    /// How failure reports name this protocol (the exception handler's `protocol` key, and
    /// the failed callback of a `handle`, where Python shows the protocol's repr): by default
    /// its type's name. Override it to name a protocol otherwise.
    ///
    /// # Examples
    ///
    /// ```
    /// use asyncio::Protocol;
    ///
    /// struct Echo;
    /// impl Protocol for Echo {}
    /// assert!(Echo.protocol_name().ends_with("Echo"));
    /// ```
    // Checklist: L19, L80.
    fn protocol_name(&self) -> &'static str {
        std::any::type_name::<Self>()
    }
}

/// A protocol that lends the transport its own memory to read into (Python's
/// `asyncio.BufferedProtocol`): no copy between the socket and your buffer. Implement
/// [`Protocol`] too (for the other callbacks) with `as_buffered` returning `Some(self)`.
///
/// # Examples
///
/// ```
/// use asyncio::{BufferedProtocol, Protocol};
///
/// /// Counts bytes; the transport reads straight into `buf`.
/// struct Counter { buf: Vec<u8>, total: usize }
///
/// impl Protocol for Counter {
///     fn as_buffered(&mut self) -> Option<&mut dyn BufferedProtocol> {
///         Some(self)
///     }
/// }
/// impl BufferedProtocol for Counter {
///     fn get_buffer(&mut self, _size_hint: usize) -> &mut [u8] {
///         &mut self.buf
///     }
///     fn buffer_updated(&mut self, n: usize) {
///         self.total += n;
///     }
/// }
///
/// asyncio::run(async {
///     let lp = asyncio::get_running_loop()?;
///     let (a, b) = asyncio::socketpair()?;
///     let (_t, counter) = lp
///         .connect_socket(|| Counter { buf: vec![0; 4096], total: 0 }, a)
///         .await?;
///     let (_, writer) = asyncio::open_connection_sock(b).await?;
///     writer.write(&[7; 100])?;
///     writer.close();
///     writer.wait_closed().await?;
///     for _ in 0..10_000 {
///         if counter.borrow().total == 100 { break }
///         asyncio::yield_now().await;
///     }
///     assert_eq!(counter.borrow().total, 100);
///     Ok::<_, asyncio::Error>(())
/// })??;
/// # Ok::<_, asyncio::Error>(())
/// ```
// Checklist: L50.
pub trait BufferedProtocol: Protocol {
    /// A buffer to read into. `size_hint` is a suggested minimum (0: any size). An empty buffer
    /// is an error that ends the connection.
    ///
    /// # Examples
    ///
    /// Collect a short message straight into a fixed array, however the peer splits it:
    /// `get_buffer` offers the room left.
    ///
    /// ```
    /// use asyncio::{BufferedProtocol, Protocol};
    ///
    /// #[derive(Default)]
    /// struct Message { buf: [u8; 32], filled: usize }
    /// impl Protocol for Message {
    ///     fn as_buffered(&mut self) -> Option<&mut dyn BufferedProtocol> { Some(self) }
    /// }
    /// impl BufferedProtocol for Message {
    ///     fn get_buffer(&mut self, _size_hint: usize) -> &mut [u8] {
    ///         &mut self.buf[self.filled..]
    ///     }
    ///     fn buffer_updated(&mut self, n: usize) { self.filled += n }
    /// }
    /// # asyncio::run(async {
    /// # let lp = asyncio::get_running_loop()?;
    /// # let (a, b) = asyncio::socketpair()?;
    /// let (_transport, msg) = lp.connect_socket(Message::default, a).await?;
    /// # let (_, peer) = asyncio::open_connection_sock(b).await?;
    /// peer.write(b"hello, ")?;
    /// peer.write(b"world")?;
    /// # for _ in 0..10_000 { if msg.borrow().filled == 12 { break } asyncio::yield_now().await }
    /// let msg = msg.borrow();
    /// assert_eq!(&msg.buf[..msg.filled], b"hello, world");
    /// # Ok::<_, asyncio::Error>(())
    /// # })??;
    /// # Ok::<_, asyncio::Error>(())
    /// ```
    // Checklist: L51.
    fn get_buffer(&mut self, size_hint: usize) -> &mut [u8];

    /// `n` (> 0) bytes were written at the start of the last buffer from `get_buffer`.
    /// Shown in the example of [`get_buffer`](Self::get_buffer).
    fn buffer_updated(&mut self, n: usize);
}

/// A protocol as a transport holds it, shared with whoever made it.
///
/// # Examples
///
/// ```
/// use std::{cell::RefCell, rc::Rc};
///
/// #[derive(Default)]
/// struct Quiet;
/// impl asyncio::Protocol for Quiet {}
///
/// let shared: asyncio::ProtocolRef = Rc::new(RefCell::new(Quiet));
/// // Hand it to Transport::set_protocol; keep a clone to inspect it later.
/// let _mine = shared.clone();
/// ```
pub type ProtocolRef = Rc<RefCell<dyn Protocol>>;

/// Whether the protocol is borrowed right now (one of its callbacks is running).
fn is_busy<P: ?Sized>(p: &Rc<RefCell<P>>) -> bool {
    p.try_borrow_mut().is_err()
}

// ────────────── The seam: every transport calls its protocol through a ProtocolSlot ──────────────

/// The calls a [`ProtocolSlot`] makes into its protocol by itself (flow edges, the last
/// call); everything else comes from the transport through [`ProtocolSlot::call`]. One impl
/// per protocol kind: stream protocols (`dyn Protocol`) and datagram protocols
/// (`dyn DatagramProtocol`), so both kinds pass through the same seam.
pub(crate) trait SlotProtocol {
    fn pause_writing(&mut self);
    fn resume_writing(&mut self);
    fn connection_lost(&mut self, exc: Option<io::Error>);
    fn protocol_name(&self) -> &'static str;
}

impl SlotProtocol for dyn Protocol {
    #[inline]
    fn pause_writing(&mut self) {
        Protocol::pause_writing(self);
    }
    #[inline]
    fn resume_writing(&mut self) {
        Protocol::resume_writing(self);
    }
    #[inline]
    fn connection_lost(&mut self, exc: Option<io::Error>) {
        Protocol::connection_lost(self, exc);
    }
    fn protocol_name(&self) -> &'static str {
        Protocol::protocol_name(self)
    }
}

impl SlotProtocol for dyn DatagramProtocol {
    #[inline]
    fn pause_writing(&mut self) {
        DatagramProtocol::pause_writing(self);
    }
    #[inline]
    fn resume_writing(&mut self) {
        DatagramProtocol::resume_writing(self);
    }
    #[inline]
    fn connection_lost(&mut self, exc: Option<io::Error>) {
        DatagramProtocol::connection_lost(self, exc);
    }
    fn protocol_name(&self) -> &'static str {
        DatagramProtocol::protocol_name(self)
    }
}

/// A pause/resume edge of the write side (L49), in the order the transport produced it.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum FlowEdge {
    Pause,
    Resume,
}

impl FlowEdge {
    fn opposite(self) -> FlowEdge {
        match self {
            FlowEdge::Pause => FlowEdge::Resume,
            FlowEdge::Resume => FlowEdge::Pause,
        }
    }

    /// `Pause` for true.
    pub(crate) fn pause(pause: bool) -> FlowEdge {
        if pause {
            FlowEdge::Pause
        } else {
            FlowEdge::Resume
        }
    }
}

/// Delivers `edge` through the slot `slot_of(owner)`, and while it stays queued because the
/// protocol is held elsewhere, flushes again on each later turn (L49). For transports that
/// own a `ProtocolSlot` and a `Weak` to themselves.
pub(crate) fn deliver_flow<T: 'static, P: ?Sized + SlotProtocol + 'static>(
    lp: &crate::event_loop::LoopHandle,
    owner: &std::rc::Weak<T>,
    slot_of: fn(&T) -> &ProtocolSlot<P>,
    edge: FlowEdge,
) {
    let Some(me) = owner.upgrade() else { return };
    if slot_of(&me).flow(edge) {
        schedule_flush(lp, owner.clone(), slot_of);
    }
}

fn schedule_flush<T: 'static, P: ?Sized + SlotProtocol + 'static>(
    lp: &crate::event_loop::LoopHandle,
    owner: std::rc::Weak<T>,
    slot_of: fn(&T) -> &ProtocolSlot<P>,
) {
    retry_when_free(lp, owner, slot_of, Retry::Flush, Hold::new());
}

/// [`when_free`] for the owner's delivery step (a socket or pipe read, a TLS step, the PROXY
/// layer's held bytes), at most one queued per slot: each chunk that arrives while the
/// protocol is held calls this again, and joins the retry already waiting instead of queueing
/// (and spacing out) one of its own.
pub(crate) fn delivery_when_free<T: 'static, P: ?Sized + SlotProtocol + 'static>(
    lp: &crate::event_loop::LoopHandle,
    owner: std::rc::Weak<T>,
    slot_of: fn(&T) -> &ProtocolSlot<P>,
    step: fn(&T),
) {
    let Some(me) = owner.upgrade() else { return };
    if slot_of(&me).delivery_queued.replace(true) {
        return;
    }
    when_free(lp, owner, slot_of, move |me| {
        slot_of(me).delivery_queued.set(false);
        step(me);
    });
}

/// Runs `f` on `owner` on a later turn, once the protocol in its slot is free: the next turn
/// if it is free by then, else later ones as [`Hold`] spaces them (a protocol held across an
/// `.await` must not spin the loop). Nothing runs if the owner has gone or the loop closed.
pub(crate) fn when_free<T: 'static, P: ?Sized + SlotProtocol + 'static>(
    lp: &crate::event_loop::LoopHandle,
    owner: std::rc::Weak<T>,
    slot_of: fn(&T) -> &ProtocolSlot<P>,
    f: impl FnOnce(&T) + 'static,
) {
    retry_when_free(lp, owner, slot_of, Retry::Call(Box::new(f)), Hold::new());
}

/// What a [`retry_when_free`] does on its turn. One retry for both, so that each owner type
/// compiles one retry closure (its `call_soon`, `call_later` and callback), not two.
enum Retry<T> {
    /// Flush the slot's queued flow edges ([`ProtocolSlot::flush`]); again on a later turn
    /// while the protocol is still held.
    Flush,
    /// Once the protocol is free: apply the stream calls held for it, then call this.
    Call(Box<dyn FnOnce(&T)>),
}

/// Does `what` on a later turn; while the protocol is still held, again on later ones, as
/// [`Hold`] spaces them.
fn retry_when_free<T: 'static, P: ?Sized + SlotProtocol + 'static>(
    lp: &crate::event_loop::LoopHandle,
    owner: std::rc::Weak<T>,
    slot_of: fn(&T) -> &ProtocolSlot<P>,
    what: Retry<T>,
    mut hold: Hold,
) {
    let lp2 = lp.clone();
    let delay = hold.delay();
    let watched = owner.clone();
    let run = move || {
        let Some(me) = owner.upgrade() else { return };
        let slot = slot_of(&me);
        let again = match what {
            Retry::Flush => slot.flush().then_some(Retry::Flush),
            Retry::Call(f) if slot.is_busy() => Some(Retry::Call(f)),
            Retry::Call(f) => {
                slot.apply_held_calls();
                f(&me);
                None
            }
        };
        if let Some(what) = again {
            hold.still_held(slot.transport_id(), &lp2);
            retry_when_free(&lp2, owner, slot_of, what, hold);
        }
    };
    queue_retry(lp, delay, run, watched, slot_of);
}

/// A protocol found held elsewhere while its transport waits to call it (a user keeping a
/// borrow of it across an `.await`, say): since when, and how many turns have found it so.
/// The first [`Hold::EAGER`] retries run on the next turns, as a short hold needs; later ones
/// wait 1 ms, doubling up to 64 ms, so a long hold costs a few wake-ups a second instead of a
/// spinning loop; a hold past [`Hold::WARN_AFTER`] is reported once, since it is most likely
/// a bug (the transport can deliver nothing meanwhile). Time is the loop's clock (a
/// `ManualClock` loop's too), read only when a retry finds the protocol held.
pub(crate) struct Hold {
    /// When the first retry found the protocol held, in nanoseconds on the loop's clock;
    /// `None` before.
    since: Option<i64>,
    tries: u32,
    warned: bool,
}

impl Hold {
    const EAGER: u32 = 8;
    const MAX_SHIFT: u32 = 6;
    const WARN_AFTER: std::time::Duration = std::time::Duration::from_secs(1);

    pub(crate) fn new() -> Hold {
        Hold {
            since: None,
            tries: 0,
            warned: false,
        }
    }

    /// How long the next retry waits: `None` for the next turn.
    pub(crate) fn delay(&self) -> Option<std::time::Duration> {
        let beyond = self.tries.checked_sub(Self::EAGER)?;
        Some(std::time::Duration::from_millis(
            1 << beyond.min(Self::MAX_SHIFT),
        ))
    }

    /// One more turn of `lp` found the protocol held; reported once past `WARN_AFTER`.
    pub(crate) fn still_held(&mut self, id: u64, lp: &crate::event_loop::LoopHandle) {
        self.tries = self.tries.saturating_add(1);
        let now = lp.inner.clock.now_ns();
        let held_ns = now.saturating_sub(*self.since.get_or_insert(now));
        if !self.warned && held_ns >= Self::WARN_AFTER.as_nanos() as i64 {
            self.warned = true;
            // Every holder knows its transport's id once connected (the TLS and PROXY layers'
            // slots take their raw transport's); 0 only for a stream reader fed by hand.
            let who = match id {
                0 => "a transport".to_string(),
                id => format!("transport {id}"),
            };
            crate::event_loop::debug::warning!(
                "{who}: its protocol has been borrowed elsewhere for {} ms, so the transport \
                 cannot call it (is a borrow of the protocol's RefCell held across an \
                 .await?); it retries every {} ms meanwhile",
                held_ns / 1_000_000,
                1u32 << Self::MAX_SHIFT
            );
        }
    }
}

/// What [`when_cell_free`] runs on its cell once the borrow it needs is free.
pub(crate) type CellAction<T> = Box<dyn FnOnce(&RefCell<T>)>;

/// The borrow a [`when_cell_free`] action needs of its cell.
#[derive(Clone, Copy)]
pub(crate) enum Need {
    /// A shared borrow suffices: the cell may be borrowed elsewhere, but not mutably.
    #[cfg(feature = "tls")] // start_tls' re-pause only
    Shared,
    /// The exclusive borrow: no other borrow of the cell may be alive.
    Exclusive,
}

impl Need {
    /// Whether `cell` can lend this borrow now.
    fn met<T: ?Sized>(self, cell: &RefCell<T>) -> bool {
        match self {
            #[cfg(feature = "tls")]
            Need::Shared => cell.try_borrow().is_ok(),
            Need::Exclusive => cell.try_borrow_mut().is_ok(),
        }
    }
}

/// Runs `act` on `cell` now if the borrow it needs is free, else on a later turn once it is:
/// the next turns, then as [`Hold`] spaces them, with one warning naming transport `id`; a
/// spaced retry runs in the next iteration once the loop, before a poll, finds the cell
/// free (`LoopInner::expedite_freed`), not up to 64 ms after the borrow's end. For
/// a protocol the loop must reach outside its transport's slot (the stream core, told of its
/// TLS transport or looked at by its timeouts), which a user may hold borrowed across an
/// `.await` (taken with `get_protocol()`). `act` gets the cell with no borrow alive and the
/// one it needs free to take: it borrows for itself, and may release before calling out.
/// Nothing runs if the cell has gone or the loop closed. Cold: only a held protocol gets here,
/// so `act` comes boxed: one copy of this retry serves every action, for one allocation.
#[cold]
#[inline(never)]
pub(crate) fn when_cell_free<T: ?Sized + 'static>(
    lp: crate::event_loop::LoopHandle,
    id: u64,
    cell: std::rc::Weak<RefCell<T>>,
    need: Need,
    act: CellAction<T>,
    mut hold: Hold,
) {
    let Some(strong) = cell.upgrade() else { return };
    if need.met(&strong) {
        act(&strong);
        return;
    }
    drop(strong);
    hold.still_held(id, &lp);
    let delay = hold.delay();
    let again = lp.clone();
    let watched = cell.clone();
    let retry = move || when_cell_free(again, id, cell, need, act, hold);
    match delay {
        None => drop(lp.call_soon(retry)),
        // Spaced out: the loop runs it sooner if it finds the cell free before a poll.
        Some(d) => {
            if let Ok(timer) = lp.call_later(d, retry) {
                let free = move || watched.upgrade().is_none_or(|c| need.met(&c));
                lp.inner.watch_held(timer.key, Box::new(free));
            }
        }
    }
}

/// Queues `retry` for the next turn, or for after `delay`: a [`Hold`]'s
/// [`delay`](Hold::delay), read before `retry` took the hold. Spaced out, it is watched as
/// [`when_cell_free`]'s are: the loop runs it in its next iteration once it finds the
/// protocol in `slot_of(owner)` free (or the owner gone), not up to 64 ms after the borrow's
/// end. A closed loop refuses it: what waited goes with the loop's transports and timers.
#[cold]
#[inline(never)]
fn queue_retry<T: 'static, P: ?Sized + SlotProtocol + 'static>(
    lp: &crate::event_loop::LoopHandle,
    delay: Option<std::time::Duration>,
    retry: impl FnOnce() + 'static,
    owner: std::rc::Weak<T>,
    slot_of: fn(&T) -> &ProtocolSlot<P>,
) {
    match delay {
        None => drop(lp.call_soon(retry)),
        Some(d) => {
            if let Ok(timer) = lp.call_later(d, retry) {
                let free = move || owner.upgrade().is_none_or(|me| !slot_of(&me).is_busy());
                lp.inner.watch_held(timer.key, Box::new(free));
            }
        }
    }
}

/// What became of one call into the protocol.
pub(crate) enum Called<R> {
    Done(R),
    /// The protocol is borrowed elsewhere (a user holds it, or another call runs): nothing
    /// ran. The transport tries again on a later turn.
    Busy,
    /// No protocol any more (after `release`).
    Gone,
    /// It panicked; the payload, for the transport to report as its own failure.
    Panicked(Payload),
}

/// Where the protocol is in the call grammar (L44). Changed only by `ProtocolSlot::set_phase`.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Phase {
    /// Before `connection_made`.
    Fresh,
    /// Between `connection_made` and `connection_lost`: data, eof and flow edges may come.
    Made,
    /// `connection_lost` ran: nothing more, ever.
    Lost,
}

/// The one door from a transport (socket, pipe, TLS app side, PROXY layer, datagram
/// endpoint) to its protocol: `P` is the protocol kind, `dyn Protocol` for the stream
/// transports, `dyn DatagramProtocol` for the datagram ones. The rules below hold for both;
/// what only one kind has (`connection_made`'s transport, `set_protocol`, `BufferedProtocol`)
/// lives in the `impl` for that kind.
///
/// Mirrors the discipline `selector_events.py` and `sslproto.py` keep by hand around every
/// `self._protocol.x()` call. Ground rules:
/// - the protocol is borrowed for exactly one call, and no borrow of the slot is held while it
///   runs, so from any callback the protocol may write, close, abort, pause reading, swap the
///   protocol (refused while its own callback runs) or drop its last handle (L83);
/// - a panic is caught and handed back ([`Called::Panicked`]) for the transport to report as it
///   reports any protocol failure (S60/S61 style, L55);
/// - `pause_writing`/`resume_writing` edges that arrive while a call runs (a `write` made from
///   inside a callback crossed a water mark) are queued and delivered, in order, as soon as
///   that call returns (L49); when the protocol is held by someone else, [`flow`]
///   (ProtocolSlot::flow) asks the transport to schedule [`flush`](ProtocolSlot::flush);
/// - `connection_made` first and once, `connection_lost` exactly once and last (L44):
///   [`made`](ProtocolSlot::made) and [`lost`](ProtocolSlot::lost) move the phase; a call after
///   `lost` reaches nobody; a busy `lost` hands its argument back to be retried, never dropped.
pub(crate) struct ProtocolSlot<P: ?Sized + SlotProtocol = dyn Protocol> {
    protocol: RefCell<Option<Rc<RefCell<P>>>>,
    phase: std::cell::Cell<Phase>,
    /// A call through this slot is running (edges queue meanwhile).
    in_call: std::cell::Cell<bool>,
    /// A delivery retry waits for the protocol ([`delivery_when_free`]).
    delivery_queued: std::cell::Cell<bool>,
    /// Flow edges waiting for the protocol to be free, oldest first.
    pending: std::cell::Cell<Edges>,
    /// Whether the protocol is a `BufferedProtocol` (asked once per protocol, L50); stream
    /// protocols only.
    buffered: std::cell::Cell<Option<bool>>,
    /// The protocol's address (of its `RefCell`), for [`holds`](ProtocolSlot::holds); null
    /// once released. Only compared, never dereferenced.
    addr: std::cell::Cell<*const ()>,
    /// For reports of a panicking pause/resume_writing.
    lp: crate::event_loop::LoopHandle,
    /// The transport's id, in those reports (0: no detail). Set at creation, or once the
    /// transport has one (a TLS layer's app side takes its raw transport's).
    transport_id: std::cell::Cell<u64>,
    /// The `protocol` those reports name.
    flow_reporter: std::cell::Cell<FlowReporter>,
}

/// Who a failed pause/resume_writing's report names as its `protocol`. One byte, in the
/// slot's padding: every transport (a datagram endpoint's too) keeps its size.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum FlowReporter {
    /// The protocol itself, as a transport's `_FlowControlMixin` names it.
    Protocol,
    /// The TLS layer, which calls its app protocol's pause/resume_writing itself and names
    /// itself, as CPython's `SSLProtocol._control_app_writing` does (`'protocol': self`).
    #[cfg(feature = "tls")]
    TlsLayer,
}

/// A queue of flow edges, in two words: edges alternate (a pause is always followed by a
/// resume), so the oldest edge and the count say everything. A repeated edge adds nothing
/// (pausing a paused protocol again would break the alternation the protocol relies on).
#[derive(Clone, Copy, Debug, Default)]
pub(crate) struct Edges {
    oldest: Option<FlowEdge>,
    len: u32,
}

impl Edges {
    pub(crate) fn is_empty(self) -> bool {
        self.len == 0
    }

    fn newest(self) -> Option<FlowEdge> {
        let oldest = self.oldest?;
        Some(if self.len % 2 == 1 {
            oldest
        } else {
            oldest.opposite()
        })
    }

    pub(crate) fn push(&mut self, edge: FlowEdge) {
        if self.newest() == Some(edge) {
            return;
        }
        if self.len == 0 {
            self.oldest = Some(edge);
        }
        self.len += 1;
    }

    pub(crate) fn pop(&mut self) -> Option<FlowEdge> {
        let oldest = self.oldest?;
        self.len -= 1;
        self.oldest = (self.len > 0).then(|| oldest.opposite());
        Some(oldest)
    }
}

impl<P: ?Sized + SlotProtocol> ProtocolSlot<P> {
    /// A slot for `protocol`; `transport_id` (0: none) names the transport in reports.
    pub(crate) fn new(
        protocol: Rc<RefCell<P>>,
        lp: crate::event_loop::LoopHandle,
        transport_id: u64,
    ) -> Self {
        ProtocolSlot {
            addr: std::cell::Cell::new(Rc::as_ptr(&protocol).cast::<()>()),
            protocol: RefCell::new(Some(protocol)),
            phase: std::cell::Cell::new(Phase::Fresh),
            in_call: std::cell::Cell::new(false),
            delivery_queued: std::cell::Cell::new(false),
            pending: std::cell::Cell::new(Edges::default()),
            buffered: std::cell::Cell::new(None),
            lp,
            transport_id: std::cell::Cell::new(transport_id),
            flow_reporter: std::cell::Cell::new(FlowReporter::Protocol),
        }
    }

    fn set_phase(&self, to: Phase) {
        debug_assert!(
            matches!(
                (self.phase.get(), to),
                (Phase::Fresh, Phase::Made) | (Phase::Fresh | Phase::Made, Phase::Lost)
            ),
            "protocol phase {:?} -> {to:?} breaks the call grammar (L44)",
            self.phase.get()
        );
        self.phase.set(to);
    }

    /// The protocol (`get_protocol`); `None` once released.
    pub(crate) fn get(&self) -> Option<Rc<RefCell<P>>> {
        self.protocol.borrow().clone()
    }

    /// Applies the stream calls (setters, feeds) queued while the protocol was held, before
    /// a delivery that waited for the same borrow to end (`streams/held_sets.rs`). Cold: only
    /// a retry after a hold calls it.
    #[cold]
    #[inline(never)]
    fn apply_held_calls(&self) {
        use crate::streams::held_sets::{applier, cell_addr};
        // Through the queue's hook, not a call: a program that never queues a stream call
        // links none of the setters (`held_sets::applier`).
        let Some(apply) = applier() else { return };
        let Some(proto) = self.get() else { return };
        apply(cell_addr(Rc::as_ptr(&proto)));
    }

    /// The loop given at creation (the transport reads it from here: one copy per connection).
    #[inline]
    pub(crate) fn lp(&self) -> &crate::event_loop::LoopHandle {
        &self.lp
    }

    /// The transport id given at creation (0: none).
    #[inline]
    pub(crate) fn transport_id(&self) -> u64 {
        self.transport_id.get()
    }

    /// Names the transport in reports from now on (a slot made before its transport had an id).
    pub(crate) fn set_transport_id(&self, id: u64) {
        self.transport_id.set(id);
    }

    /// Who a failed pause/resume_writing's report names as its `protocol` from now on.
    #[cfg(feature = "tls")]
    pub(crate) fn report_flow_as(&self, reporter: FlowReporter) {
        self.flow_reporter.set(reporter);
    }

    /// The protocol's name for a report ([`Protocol::protocol_name`]); `"?"` while it is
    /// borrowed elsewhere or gone. Read after the failed call, when nothing holds it. Out of
    /// line: only failure reports ask.
    #[cold]
    #[inline(never)]
    pub(crate) fn name(&self) -> &'static str {
        let slot = self.protocol.borrow();
        let name = slot
            .as_ref()
            .and_then(|p| Some(p.try_borrow().ok()?.protocol_name()));
        name.unwrap_or("?")
    }

    /// Whether the protocol is borrowed right now (one of its callbacks is running).
    pub(crate) fn is_busy(&self) -> bool {
        self.protocol.borrow().as_ref().is_some_and(is_busy)
    }

    /// Whether `connection_made` ran and `connection_lost` did not.
    pub(crate) fn is_made(&self) -> bool {
        self.phase.get() == Phase::Made
    }

    /// Lets go of the protocol (the transport is done with it): later calls reach nobody.
    pub(crate) fn release(&self) -> Option<Rc<RefCell<P>>> {
        self.pending.take();
        self.addr.set(std::ptr::null());
        if self.phase.get() != Phase::Lost {
            self.set_phase(Phase::Lost);
        }
        self.protocol.borrow_mut().take()
    }

    /// Lets go of the protocol for good ([`release`](Self::release)) and drops the transport's
    /// reference to it, a panic of the protocol's `Drop` caught and reported: a transport
    /// lets go from the loop's own code (after `connection_lost`, at the loop's close).
    pub(crate) fn let_go(&self) {
        drop_contained(Some(&self.lp), "a protocol", self.release());
    }

    /// One call into the protocol: borrowed for `f` only, a panic caught, edges queued
    /// meanwhile delivered when it returns.
    #[inline]
    pub(crate) fn call<R>(&self, f: impl FnOnce(&mut P) -> R) -> Called<R> {
        let Some(proto) = self.get() else {
            return Called::Gone;
        };
        let Ok(mut p) = proto.try_borrow_mut() else {
            return Called::Busy;
        };
        let outer = self.in_call.replace(true);
        let r = catch_unwind(AssertUnwindSafe(|| f(&mut *p)));
        drop(p);
        self.in_call.set(outer);
        if !outer && !self.pending.get().is_empty() {
            // Still held elsewhere after this call: the transport's scheduled flush retries.
            let _ = self.flush();
        }
        match r {
            Ok(v) => Called::Done(v),
            // Wrapped: wherever a transport drops it after its report, that drop is caught.
            Err(payload) => Called::Panicked(Payload::new(payload)),
        }
    }

    /// `connection_made`, first and once (L44, L45), as `f` makes it (the transport handle
    /// differs by kind: [`made`](ProtocolSlot::made)).
    fn made_with(&self, f: impl FnOnce(&mut P)) -> Called<()> {
        debug_assert_eq!(self.phase.get(), Phase::Fresh, "connection_made twice");
        if self.phase.get() != Phase::Fresh {
            return Called::Gone;
        }
        if self.is_busy() {
            return Called::Busy;
        }
        // Made before the call, so that edges queued during it are delivered after it.
        self.set_phase(Phase::Made);
        self.call(f)
    }

    /// `connection_lost(exc)`, exactly once and last (L44, L48): edges still queued go first.
    /// `Err(exc)` if the protocol is busy: the caller retries later with it.
    pub(crate) fn lost(&self, exc: Option<io::Error>) -> Result<Called<()>, Option<io::Error>> {
        match self.phase.get() {
            Phase::Lost => return Ok(Called::Gone),
            Phase::Fresh => {
                // Never made (closed before connection_made could run): a protocol hears
                // nothing at all rather than a connection_lost without its connection_made.
                self.set_phase(Phase::Lost);
                return Ok(Called::Gone);
            }
            Phase::Made => {}
        }
        if self.is_busy() {
            return Err(exc);
        }
        let _ = self.flush();
        self.set_phase(Phase::Lost);
        Ok(self.call(|p| SlotProtocol::connection_lost(p, exc)))
    }

    /// `connection_lost(exc)` as the loop closes under the transport: now, as no turn will
    /// come. Its panic is reported to this loop as CPython's loop reports that callback's
    /// exception (`Exception in callback P.connection_lost(..)`; before, it went unreported),
    /// then its payload is dropped with a panic of that drop reported to this loop too: the
    /// loop is closing, not running, so no running loop is there to be found.
    // Checklist: L16, L18, L55.
    pub(crate) fn lost_at_close(&self, exc: Option<io::Error>) {
        let with = exc.is_some();
        if let Ok(Called::Panicked(payload)) = self.lost(exc) {
            report_protocol_callback(&self.lp, self.name(), Call::Lost(with), &*payload);
            payload.let_go(&self.lp);
        }
    }

    /// A water-mark edge (L49, L70): delivered now if the protocol is free, else queued for
    /// when the running call returns. True if nothing will deliver it by itself (the protocol
    /// is held outside any call of ours): the transport then schedules [`flush`]
    /// (Self::flush) for a later turn.
    pub(crate) fn flow(&self, edge: FlowEdge) -> bool {
        if self.phase.get() == Phase::Lost {
            return false;
        }
        let mut pending = self.pending.get();
        if pending.is_empty() && !self.in_call.get() && !self.is_busy() {
            self.deliver(edge);
            return false;
        }
        pending.push(edge);
        self.pending.set(pending);
        !self.in_call.get()
    }

    /// Delivers queued edges while the protocol is free (after `connection_made`). True if
    /// some are still queued (the protocol is held elsewhere): schedule another flush.
    pub(crate) fn flush(&self) -> bool {
        while self.phase.get() == Phase::Made && !self.is_busy() {
            let mut pending = self.pending.get();
            let Some(edge) = pending.pop() else { break };
            self.pending.set(pending);
            self.deliver(edge);
        }
        !self.pending.get().is_empty() && self.phase.get() != Phase::Lost
    }

    /// The `protocol` a failed pause/resume_writing's report names. Out of line: only
    /// failure reports ask.
    #[cold]
    #[inline(never)]
    fn flow_reporter_name(&self) -> &'static str {
        match self.flow_reporter.get() {
            FlowReporter::Protocol => self.name(),
            #[cfg(feature = "tls")]
            FlowReporter::TlsLayer => std::any::type_name::<crate::tls::protocol::TlsProtocol>(),
        }
    }

    fn deliver(&self, edge: FlowEdge) {
        let r = self.call(|p| match edge {
            FlowEdge::Pause => SlotProtocol::pause_writing(p),
            FlowEdge::Resume => SlotProtocol::resume_writing(p),
        });
        if let Called::Panicked(payload) = r {
            // L49/T14: reported, and the connection goes on.
            let what = match edge {
                FlowEdge::Pause => "pause_writing",
                FlowEdge::Resume => "resume_writing",
            };
            // CPython: {'message': 'protocol.pause_writing() failed', 'exception': ..,
            // 'transport': .., 'protocol': ..}: the transport and its protocol from
            // `_FlowControlMixin`, the app transport and the SSLProtocol from sslproto.
            crate::event_loop::exception::report_error(
                &self.lp,
                format!("protocol.{what}() failed"),
                Box::new(crate::event_loop::exception::PanicError::from_payload(
                    &*payload,
                )),
                &crate::event_loop::exception::Origin {
                    transport: Some(self.transport_id()).filter(|&id| id != 0),
                    protocol: self.flow_reporter_name(),
                },
            );
        }
    }
}

/// What only a stream transport's slot does: hand over a [`Transport`], swap the protocol,
/// read through a `BufferedProtocol`.
impl ProtocolSlot<dyn Protocol> {
    /// Whether the protocol is the one at `owner` (the address of its `RefCell`).
    #[inline]
    pub(crate) fn holds(&self, owner: *const ()) -> bool {
        std::ptr::eq(self.addr.get(), owner)
    }

    /// Records that the protocol already had its `connection_made` from an earlier transport
    /// (`start_tls` hands a connected protocol to the TLS layer, T5).
    #[cfg(feature = "tls")]
    pub(crate) fn mark_made(&self) {
        self.set_phase(Phase::Made);
    }

    /// `set_protocol` (L56): the next calls go to `protocol`.
    ///
    /// # Errors
    /// `InvalidState` while the current protocol is borrowed, its text saying by whom and
    /// what to do: from inside one of its callbacks (CPython swaps there; we cannot while the
    /// callback holds it), or held by a user (`get_protocol()`), which a synchronous call
    /// cannot wait out (the async `start_tls` does).
    pub(crate) fn replace(&self, protocol: ProtocolRef) -> Result<(), crate::error::Error> {
        let refuse = || {
            crate::error::Error::invalid_state(if self.in_call.get() {
                "set_protocol() called from inside a callback of the current protocol, which \
                 is borrowed while it runs: call it once the callback has returned (from a \
                 call_soon callback, say)"
            } else {
                "set_protocol() called while the current protocol is borrowed outside its \
                 transport (a borrow of the RefCell that get_protocol() returned is alive): \
                 end that borrow first"
            })
        };
        if self.is_busy() {
            return Err(refuse());
        }
        // Edges queued while the current protocol was held elsewhere are its own (Python would
        // have called it there and then): deliver them before it goes, so that the new one
        // does not get a pause or resume meant for the old (L49).
        let _ = self.flush();
        let mut slot = self.protocol.borrow_mut();
        if slot.as_ref().is_some_and(is_busy) {
            return Err(refuse());
        }
        if slot.is_some() {
            self.addr.set(Rc::as_ptr(&protocol).cast::<()>());
            *slot = Some(protocol);
            self.buffered.set(None);
        }
        Ok(())
    }

    /// Whether the protocol reads through its own buffer (`as_buffered`, L50), cached until
    /// the protocol is replaced; `None` while it is busy and not known yet.
    #[inline]
    pub(crate) fn is_buffered(&self) -> Option<bool> {
        if let Some(b) = self.buffered.get() {
            return Some(b);
        }
        let proto = self.get()?;
        let b = proto.try_borrow_mut().ok()?.as_buffered().is_some();
        self.buffered.set(Some(b));
        Some(b)
    }

    /// `connection_made(transport)`, first and once (L44, L45).
    pub(crate) fn made(&self, transport: Transport) -> Called<()> {
        self.made_with(|p| p.connection_made(transport))
    }
}

/// What only a datagram transport's slot does: hand over a [`DatagramTransport`].
impl ProtocolSlot<dyn DatagramProtocol> {
    /// `connection_made(transport)`, first and once.
    pub(crate) fn made(&self, transport: DatagramTransport) -> Called<()> {
        self.made_with(|p| p.connection_made(transport))
    }
}

#[cfg(test)]
mod tests {
    use super::Hold;
    use std::time::Duration;

    #[test]
    fn a_hold_retries_at_once_then_spaced_out_and_warns_once() {
        // On the loop's clock: a manual one here, so no real time passes.
        let clock = crate::ManualClock::new();
        let lp = crate::EventLoop::with_clock(clock.clone()).unwrap();
        let lp = lp.handle();
        let mut hold = Hold::new();
        for _ in 0..Hold::EAGER {
            assert_eq!(hold.delay(), None, "the first retries take the next turn");
            hold.still_held(1, &lp);
        }
        let mut delays = Vec::new();
        for _ in 0..9 {
            delays.push(hold.delay().unwrap().as_millis());
            hold.still_held(1, &lp);
        }
        assert_eq!(delays, [1, 2, 4, 8, 16, 32, 64, 64, 64]);
        clock.advance(Duration::from_millis(999));
        hold.still_held(1, &lp);
        assert!(!hold.warned, "a short hold is not reported");
        clock.advance(Duration::from_millis(1));
        hold.still_held(1, &lp);
        assert!(hold.warned, "a hold of a second is reported");
        hold.tries = u32::MAX;
        hold.still_held(1, &lp); // once only, and no overflow
        assert_eq!(hold.delay(), Some(Duration::from_millis(64)));
    }
}
