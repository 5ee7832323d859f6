//! Datagram protocols, and the seam through which a datagram transport calls one.
//!
//! Mirrors `DatagramProtocol` in CPython `Lib/asyncio/protocols.py`. The call grammar:
//!
//! ```text
//! DatagramProtocol:  connection_made  (datagram_received | error_received)*  connection_lost
//! ```
//! `pause_writing`/`resume_writing` may come anywhere between `connection_made` and
//! `connection_lost`, strictly alternating, starting with pause.
//!
//! [`DatagramSlot`] is the stream side's `ProtocolSlot` (`src/protocol.rs`) for this trait: the
//! same ground rules (borrowed for one call only, panics caught and handed back, flow edges
//! made during a call delivered when it returns, `connection_made` first, `connection_lost`
//! once and last). It is a sibling rather than a generic `ProtocolSlot` so that the stream hot
//! path stays exactly as it is; the edge queue (`Edges`) and the retry spacing (`Hold`) are
//! shared.

use std::cell::{Cell, RefCell};
use std::io;
use std::panic::{catch_unwind, AssertUnwindSafe};
use std::rc::Rc;

use super::DatagramTransport;
use crate::event_loop::LoopHandle;
use crate::protocol::{Called, Edges, FlowEdge};
use crate::transport::Address;

/// A datagram protocol (Python's `asyncio.DatagramProtocol`): the callbacks a UDP or Unix
/// datagram endpoint makes into your code.
///
/// Every method has a default that does nothing. Methods take `&mut self`; the transport keeps
/// the protocol in an `Rc<RefCell<…>>` and borrows it for one call at a time, so from inside any
/// callback you may call any [`DatagramTransport`] method (`sendto`, `close`, `abort`). A
/// `pause_writing`/`resume_writing` that a `sendto` made inside one of your callbacks triggers
/// is delivered as soon as that callback returns.
///
/// # Examples
///
/// ```
/// use asyncio::{Address, DatagramProtocol, DatagramTransport};
///
/// /// Sends every datagram back where it came from.
/// #[derive(Default)]
/// struct Echo(Option<DatagramTransport>);
///
/// impl DatagramProtocol for Echo {
///     fn connection_made(&mut self, transport: DatagramTransport) {
///         self.0 = Some(transport);
///     }
///     fn datagram_received(&mut self, data: &[u8], addr: Address) {
///         if let Some(t) = &self.0 {
///             let _ = t.sendto(data, Some(&addr));
///         }
///     }
/// }
///
/// asyncio::run(async {
///     let lp = asyncio::get_running_loop()?;
///     let (server, _) = lp
///         .create_datagram_endpoint(Echo::default)
///         .local_addr("127.0.0.1", 0)
///         .await?;
///     let port = server.sockname().and_then(|a| a.as_inet()).unwrap().port();
///     let client = std::net::UdpSocket::bind("127.0.0.1:0")?;
///     client.send_to(b"ping", ("127.0.0.1", port))?;
///     let mut buf = [0; 16];
///     // The reply needs the loop to turn: let it, then read without blocking.
///     client.set_nonblocking(true)?;
///     for _ in 0..10_000 {
///         match client.recv(&mut buf) {
///             Ok(n) => {
///                 assert_eq!(&buf[..n], b"ping");
///                 break;
///             }
///             Err(_) => asyncio::yield_now().await, // not there yet
///         }
///     }
///     server.close();
///     Ok::<_, asyncio::Error>(())
/// })??;
/// # Ok::<_, asyncio::Error>(())
/// ```
pub trait DatagramProtocol {
    /// The endpoint is ready; keep `transport` to send. Called once, first.
    fn connection_made(&mut self, transport: DatagramTransport) {
        let _ = transport;
    }

    /// One datagram arrived from `addr`: whole, possibly empty, at most 256 KiB (a longer one
    /// is cut to that length by the kernel).
    fn datagram_received(&mut self, data: &[u8], addr: Address) {
        let _ = (data, addr);
    }

    /// A send or receive failed (Python's `OSError`): say, `ConnectionRefused` after an ICMP
    /// port unreachable on a connected socket. The transport stays open.
    fn error_received(&mut self, exc: io::Error) {
        let _ = exc;
    }

    /// The transport is closed: `None` after `close()` or `abort()`. Called once, last.
    fn connection_lost(&mut self, exc: Option<io::Error>) {
        let _ = exc;
    }

    /// The transport's send buffer rose above its high-water mark.
    fn pause_writing(&mut self) {}

    /// The transport's send buffer fell to its low-water mark or below.
    fn resume_writing(&mut self) {}
}

/// A datagram protocol as a transport holds it, shared with whoever made it.
pub(crate) type DatagramProtocolRef = Rc<RefCell<dyn DatagramProtocol>>;

/// Where the protocol is in the call grammar. Changed only by [`DatagramSlot::set_phase`].
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Phase {
    /// Before `connection_made`.
    Fresh,
    /// Between `connection_made` and `connection_lost`.
    Made,
    /// `connection_lost` ran (or will never be owed): nothing more, ever.
    Lost,
}

/// The one door from a datagram transport to its protocol (see the module docs).
pub(crate) struct DatagramSlot {
    /// The protocol; `None` once released.
    protocol: RefCell<Option<DatagramProtocolRef>>,
    phase: Cell<Phase>,
    /// A call through this slot is running (flow edges queue meanwhile).
    in_call: Cell<bool>,
    /// Flow edges waiting for the protocol to be free, oldest first.
    pending: Cell<Edges>,
    /// For reports of a panicking pause/resume_writing.
    lp: LoopHandle,
    /// The transport's id, in those reports.
    transport_id: u64,
}

impl DatagramSlot {
    pub(crate) fn new(protocol: DatagramProtocolRef, lp: LoopHandle, transport_id: u64) -> Self {
        DatagramSlot {
            protocol: RefCell::new(Some(protocol)),
            phase: Cell::new(Phase::Fresh),
            in_call: Cell::new(false),
            pending: Cell::new(Edges::default()),
            lp,
            transport_id,
        }
    }

    fn set_phase(&self, to: Phase) {
        debug_assert!(
            matches!(
                (self.phase.get(), to),
                (Phase::Fresh, Phase::Made) | (Phase::Fresh | Phase::Made, Phase::Lost)
            ),
            "datagram protocol phase {:?} -> {to:?} breaks the call grammar",
            self.phase.get()
        );
        self.phase.set(to);
    }

    pub(crate) fn lp(&self) -> &LoopHandle {
        &self.lp
    }

    pub(crate) fn transport_id(&self) -> u64 {
        self.transport_id
    }

    /// The protocol (`get_protocol`); `None` once released.
    pub(crate) fn get(&self) -> Option<DatagramProtocolRef> {
        self.protocol.borrow().clone()
    }

    /// Whether the protocol is borrowed right now (one of its callbacks is running, or a user
    /// holds it).
    pub(crate) fn is_busy(&self) -> bool {
        self.protocol
            .borrow()
            .as_ref()
            .is_some_and(|p| p.try_borrow_mut().is_err())
    }

    /// Whether `connection_made` ran and `connection_lost` did not.
    pub(crate) fn is_made(&self) -> bool {
        self.phase.get() == Phase::Made
    }

    /// Lets go of the protocol: later calls reach nobody.
    pub(crate) fn release(&self) -> Option<DatagramProtocolRef> {
        self.pending.take();
        if self.phase.get() != Phase::Lost {
            self.set_phase(Phase::Lost);
        }
        self.protocol.borrow_mut().take()
    }

    /// One call into the protocol: borrowed for `f` only, a panic caught, edges queued
    /// meanwhile delivered when it returns.
    pub(crate) fn call<R>(&self, f: impl FnOnce(&mut dyn DatagramProtocol) -> R) -> Called<R> {
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
            let _ = self.flush();
        }
        match r {
            Ok(v) => Called::Done(v),
            Err(payload) => Called::Panicked(payload),
        }
    }

    /// `connection_made(transport)`, first and once.
    pub(crate) fn made(&self, transport: DatagramTransport) -> Called<()> {
        if self.phase.get() != Phase::Fresh {
            return Called::Gone;
        }
        if self.is_busy() {
            return Called::Busy;
        }
        // Made before the call, so that edges queued during it are delivered after it.
        self.set_phase(Phase::Made);
        self.call(|p| p.connection_made(transport))
    }

    /// `connection_lost(exc)`, exactly once and last: queued edges go first. `Err(exc)` if
    /// the protocol is busy: the caller retries later with it.
    pub(crate) fn lost(&self, exc: Option<io::Error>) -> Result<Called<()>, Option<io::Error>> {
        match self.phase.get() {
            Phase::Lost => return Ok(Called::Gone),
            Phase::Fresh => {
                // Closed before connection_made ran: the protocol hears nothing at all.
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
        Ok(self.call(|p| p.connection_lost(exc)))
    }

    /// A water-mark edge: delivered now if the protocol is free, else queued for when the
    /// running call returns. True if nothing will deliver it by itself (the protocol is held
    /// outside any call of ours): the transport then schedules [`flush`](Self::flush).
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
    /// some are still queued.
    pub(crate) fn flush(&self) -> bool {
        while self.phase.get() == Phase::Made && !self.is_busy() {
            let mut pending = self.pending.get();
            let Some(edge) = pending.pop() else { break };
            self.pending.set(pending);
            self.deliver(edge);
        }
        !self.pending.get().is_empty() && self.phase.get() != Phase::Lost
    }

    fn deliver(&self, edge: FlowEdge) {
        let what = match edge {
            FlowEdge::Pause => "pause_writing",
            FlowEdge::Resume => "resume_writing",
        };
        let r = self.call(|p| match edge {
            FlowEdge::Pause => p.pause_writing(),
            FlowEdge::Resume => p.resume_writing(),
        });
        if let Called::Panicked(payload) = r {
            // Reported, and the endpoint goes on (as the stream transports do).
            crate::event_loop::exception::report_error(
                &self.lp,
                format!("protocol.{what}() failed"),
                Box::new(crate::event_loop::exception::PanicError::from_payload(
                    &*payload,
                )),
                Some(self.transport_id),
            );
        }
    }
}
