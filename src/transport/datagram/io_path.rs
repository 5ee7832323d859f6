//! A datagram transport's life and traffic: `connection_made` and the start of reading,
//! `read_ready` (receive), `sendto`/`sendto_ready` (send and the queue), the water-mark edges,
//! `close`, `force_close` and `call_connection_lost`.
//!
//! Mirrors `_SelectorDatagramTransport._read_ready`, `sendto`, `_sendto_ready` and the
//! `_SelectorTransport` methods it inherits (`close`, `_force_close`, `_call_connection_lost`)
//! in CPython `Lib/asyncio/selector_events.py`, plus `_FlowControlMixin`'s
//! `_maybe_pause_protocol`/`_maybe_resume_protocol`. No borrow of the transport is held across
//! a protocol call: every call may re-enter with `sendto`, `close` or `abort`.

use std::io;

use super::{
    Address, DatagramSocketTransport, DgramSock, Queued, MAX_WAITING_ERRORS, READS_PER_EVENT,
};
use crate::constants::LOG_THRESHOLD_FOR_CONNLOST_WRITES;
use crate::error::Error;
use crate::event_loop::debug::trace;
use crate::event_loop::exception::{report_protocol_callback, Call};
use crate::event_loop::read_buf::read_window;
use crate::protocol::{Called, FlowEdge};
use crate::transport::lifecycle::{Reading, State};
use crate::transport::unix_name;
use crate::transport::write_path::{warn_write_after_loop_closed, Sender};

/// Where one send goes.
#[derive(Clone, Copy)]
enum Dest<'a> {
    /// The connected peer: `send`.
    Peer,
    /// `sendto` this address.
    To(&'a Address),
}

/// Queues `exc` behind the errors waiting for a held protocol, unless [`MAX_WAITING_ERRORS`]
/// wait already: then it is dropped. The push that fills the queue warns, once per fill.
fn push_bounded(waiting: &mut Vec<io::Error>, exc: io::Error, id: u64) {
    if waiting.len() >= MAX_WAITING_ERRORS {
        trace!("transport[{id}]: error_received({:?}) dropped", exc.kind());
        return;
    }
    waiting.push(exc);
    if waiting.len() == MAX_WAITING_ERRORS {
        crate::event_loop::debug::warning!(
            "transport[{id}]: {MAX_WAITING_ERRORS} errors wait for a held protocol; \
             error_received() will not hear later ones until it is free"
        );
    }
}

/// The remote address as CPython's `ValueError` prints it (its `_address`, as `getaddrinfo`
/// gave it): `('127.0.0.1', 9)`, `('::1', 9, 0, 0)`; a Unix path as the `str` it is.
fn python_address(a: Address) -> String {
    match a {
        Address::Inet(std::net::SocketAddr::V4(a)) => format!("('{}', {})", a.ip(), a.port()),
        Address::Inet(std::net::SocketAddr::V6(a)) => format!(
            "('{}', {}, {}, {})",
            a.ip(),
            a.port(),
            a.flowinfo(),
            a.scope_id()
        ),
        unix => unix.to_string(),
    }
}

impl DgramSock {
    /// One `recvfrom` into `buf` (`EINTR` retried).
    fn recv_from(&self, buf: &mut [u8]) -> io::Result<(usize, Address)> {
        loop {
            let r = match self {
                DgramSock::Udp(s) => s.recv_from(buf).map(|(n, a)| (n, Address::Inet(a))),
                DgramSock::Unix(s) => s.recv_from(buf).map(|(n, a)| (n, Address::Unix(a))),
            };
            match r {
                Err(e) if e.kind() == io::ErrorKind::Interrupted => continue,
                r => return r,
            }
        }
    }

    /// One `send` or `sendto` of a whole datagram (`EINTR` retried).
    fn send(&self, data: &[u8], dest: Dest<'_>) -> io::Result<usize> {
        loop {
            let r = match (self, dest) {
                (DgramSock::Udp(s), Dest::Peer) => s.send(data),
                (DgramSock::Unix(s), Dest::Peer) => s.send(data),
                (DgramSock::Udp(s), Dest::To(Address::Inet(a))) => s.send_to(data, *a),
                (DgramSock::Unix(s), Dest::To(Address::Unix(a))) => match a.as_pathname() {
                    Some(p) => s.send_to(data, p),
                    None => send_to_abstract(s, data, a),
                },
                // An address of the other family: the kernel's answer for it.
                (DgramSock::Udp(_), Dest::To(Address::Unix(_)))
                | (DgramSock::Unix(_), Dest::To(Address::Inet(_))) => {
                    return Err(io::Error::from_raw_os_error(libc::EAFNOSUPPORT))
                }
            };
            match r {
                Err(e) if e.kind() == io::ErrorKind::Interrupted => continue,
                r => return r,
            }
        }
    }
}

/// `sendto` an abstract Unix name (Linux): std's `UnixDatagram::send_to` takes paths only.
/// The name is spelt for `socket2` (a leading NUL, then the name) on the stack: this runs once
/// per datagram.
#[cfg(target_os = "linux")]
fn send_to_abstract(
    s: &mio::net::UnixDatagram,
    data: &[u8],
    a: &std::os::unix::net::SocketAddr,
) -> io::Result<usize> {
    use std::os::linux::net::SocketAddrExt;
    use std::os::unix::ffi::OsStrExt;
    let Some(name) = a.as_abstract_name() else {
        return Err(io::ErrorKind::InvalidInput.into()); // unnamed
    };
    // `sun_path` is 108 bytes: a name the kernel gave or took fits with its NUL.
    let mut spelt = [0u8; 108];
    let Some(dst) = spelt.get_mut(1..=name.len()) else {
        return Err(io::ErrorKind::InvalidInput.into());
    };
    dst.copy_from_slice(name);
    let path = std::ffi::OsStr::from_bytes(&spelt[..=name.len()]);
    let to = socket2::SockAddr::unix(path)?;
    socket2::SockRef::from(s).send_to(data, &to)
}

/// No abstract names off Linux: only an unnamed address gets here.
#[cfg(not(target_os = "linux"))]
fn send_to_abstract(
    _: &mio::net::UnixDatagram,
    _: &[u8],
    _: &std::os::unix::net::SocketAddr,
) -> io::Result<usize> {
    Err(io::ErrorKind::InvalidInput.into())
}

impl DatagramSocketTransport {
    /// The first queued callback: `connection_made`, put off while the protocol is held.
    pub(super) fn connection_made(&self) {
        trace!("protocol[{}]: connection_made (datagram)", self.id());
        match self.protocol.made(self.handle()) {
            Called::Done(()) | Called::Gone => {}
            Called::Busy => self.when_free(|t| t.connection_made()),
            Called::Panicked(payload) => self.report_panic(Call::Made(self.id()), &*payload),
        }
    }

    /// The second queued callback: reading starts once `connection_made` has run.
    pub(super) fn start_reading(&self) {
        if !self.protocol.is_made() && self.life.state() == State::Open {
            self.when_free(|t| t.start_reading());
            return;
        }
        if self.life.start_reading() {
            self.read_ready();
        }
    }

    /// A protocol callback panicked: reported as a failed callback, `call` naming it, and
    /// the transport goes on. CPython (3.11) runs connection_made and connection_lost as loop
    /// callbacks, and datagram_received's or error_received's exception leaves `_read_ready`
    /// for the loop: each is reported with the `handle` key only ({'message': 'Exception in
    /// callback _SelectorDatagramTransport._read_ready()', 'exception': .., 'handle':
    /// <Handle _SelectorDatagramTransport._read_ready()>}); ours names the protocol's method.
    fn report_panic(&self, call: Call, payload: &(dyn std::any::Any + Send)) {
        report_protocol_callback(self.lp(), self.protocol.name(), call, payload);
    }

    /// Receives while readable: one `datagram_received` per datagram, an OS error to
    /// `error_received`; at most `READS_PER_EVENT`, then the rest on a later turn.
    pub(super) fn read_ready(&self) {
        for _ in 0..READS_PER_EVENT {
            if !self.life.may_read() {
                return;
            }
            // Errors met while the protocol was held were met before the next datagram: they
            // go first, also when this edge comes ahead of their pending delivery. Checked
            // before each datagram, not once per edge: a `sendto` failing inside the last
            // `datagram_received` left its error here (CPython reports it inside that
            // `sendto`), and it must not wait behind the rest of the burst.
            if !self.protocol.is_busy() {
                self.deliver_errors();
                if !self.life.may_read() {
                    return; // `error_received` closed the transport
                }
            }
            if self.protocol.is_busy() {
                // Held elsewhere: the datagrams wait in the kernel until it is free; the
                // readable edges that find it held meanwhile join this one retry.
                self.deliver_when_free();
                return;
            }
            let mut buf = self.lp().inner.read_buf.take();
            let window = read_window(&mut buf);
            let at = window.start;
            let got = match self.sock.borrow().as_ref() {
                Some(sock) => sock.recv_from(&mut buf[window]),
                None => Err(io::ErrorKind::NotConnected.into()),
            };
            let called = match got {
                Ok((n, addr)) => {
                    trace!("protocol[{}]: datagram_received({n})", self.id());
                    let datagram = &buf[at..at + n];
                    self.protocol.call(|p| p.datagram_received(datagram, addr))
                }
                Err(e) if e.kind() == io::ErrorKind::WouldBlock => {
                    self.lp().inner.read_buf.set(buf);
                    return; // drained: wait for the next edge
                }
                Err(e) => {
                    self.lp().inner.read_buf.set(buf);
                    self.error_received(e);
                    continue;
                }
            };
            self.lp().inner.read_buf.set(buf);
            if let Called::Panicked(payload) = called {
                self.report_panic(Call::Other("datagram_received"), &*payload);
            }
        }
        // A fair share read: the rest on a later turn, as a queued readable event (a busy
        // endpoint in steady state hits this often, and it allocates nothing).
        if let Some(key) = self.key.get() {
            self.lp().inner.queue_readable(key);
        }
    }

    /// `error_received(exc)`: now if the protocol is free and no earlier error waits; else
    /// behind the waiting ones, all delivered in order by the one pending delivery (dropped
    /// past [`MAX_WAITING_ERRORS`]).
    pub(super) fn error_received(&self, exc: io::Error) {
        trace!("protocol[{}]: error_received({:?})", self.id(), exc.kind());
        let mut waiting = self.errors.take();
        let now = waiting.is_empty() && !self.protocol.is_busy();
        if !now {
            push_bounded(&mut waiting, exc, self.id());
            self.errors.set(waiting);
            self.deliver_when_free();
            return;
        }
        if let Called::Panicked(payload) = self.protocol.call(|p| p.error_received(exc)) {
            self.report_panic(Call::Other("error_received"), &*payload);
        }
    }

    /// The slot's one pending delivery (joined by every error and readable edge that finds
    /// the protocol held): the waiting errors, then the waiting datagrams.
    fn deliver_when_free(&self) {
        crate::protocol::delivery_when_free(self.lp(), self.me.clone(), Self::slot, |t| {
            t.deliver_errors();
            t.read_ready();
        });
    }

    /// Delivers the errors that waited for the protocol, oldest first.
    fn deliver_errors(&self) {
        let waiting = self.errors.take();
        if waiting.is_empty() {
            return; // the usual case, every read: nothing allocated, nothing freed
        }
        let mut waiting = waiting.into_iter();
        while let Some(exc) = waiting.next() {
            if self.protocol.is_busy() {
                let mut rest: Vec<io::Error> = std::iter::once(exc).chain(waiting).collect();
                for newer in self.errors.take() {
                    push_bounded(&mut rest, newer, self.id());
                }
                self.errors.set(rest);
                self.deliver_when_free();
                return;
            }
            if let Called::Panicked(payload) = self.protocol.call(|p| p.error_received(exc)) {
                self.report_panic(Call::Other("error_received"), &*payload);
            }
        }
    }

    /// `DatagramTransport::sendto`.
    pub(super) fn sendto(&self, data: &[u8], addr: Option<&Address>) -> Result<(), Error> {
        if data.is_empty() {
            return Ok(()); // CPython 3.11: nothing is sent
        }
        // The fixed address is named (a remote address), so `holds` compares as CPython.
        if let Some(a) = addr {
            if self.address.is_some() && !self.address.holds(a) {
                let fixed = self.address.get().map(python_address).unwrap_or_default();
                return Err(Error::invalid_argument(format!(
                    "Invalid address: must be None or {fixed}"
                )));
            }
        }
        let connected = self.peername.is_some();
        // Only an unconnected socket sends to an address: then the fixed one stands in for
        // none given (no copy of it per send on a connected socket).
        let fixed = match addr {
            None if !connected => self.address.get(),
            _ => None,
        };
        let addr = addr.or(fixed.as_ref());
        if !connected && addr.is_none() {
            return Err(Error::invalid_argument(
                "no address given for an unconnected datagram transport",
            ));
        }
        // A connected socket sends to its peer whatever `addr` says (CPython's `send`), so an
        // unnamed address (a socketpair peer's, say) is a problem only when it is the target.
        if let (false, Some(Address::Unix(a))) = (connected, addr) {
            if unix_name(a).is_none() {
                return Err(Error::invalid_argument(
                    "an unnamed Unix address cannot be sent to",
                ));
            }
        }
        if self.life.state() >= State::Lost {
            // Differs from CPython: it drops and counts these on a connected endpoint only;
            // an unconnected one still sends until `connection_lost` closes the socket, then
            // fails inside `_fatal_error`. Sending after close is an accident: both drop.
            // A loop closed under the endpoint (`loop_closed` restarted the count) warns at
            // the first, saying why: the call returns `Ok` and the datagram goes nowhere.
            let n = self.conn_lost.get();
            if n as usize >= LOG_THRESHOLD_FOR_CONNLOST_WRITES {
                crate::event_loop::debug::warning!("socket.send() raised exception.");
            } else if n == 0 && self.lp().is_closed() {
                warn_write_after_loop_closed(self.id(), Sender::Datagram);
            }
            self.conn_lost.set(n.saturating_add(1));
            return Ok(());
        }
        if self.buffer.borrow().is_empty() {
            let dest = match addr {
                Some(a) if !connected => Dest::To(a),
                _ => Dest::Peer,
            };
            let sent = match self.sock.borrow().as_ref() {
                Some(sock) => sock.send(data, dest),
                None => Ok(data.len()),
            };
            match sent {
                Ok(_) => return Ok(()),
                Err(e) if e.kind() == io::ErrorKind::WouldBlock => {}
                Err(e) => {
                    self.error_received(e);
                    return Ok(());
                }
            }
        }
        self.buffer.borrow_mut().push_back(Queued {
            data: data.into(),
            addr: addr.cloned(),
        });
        self.buffer_size.set(self.buffer_size.get() + data.len());
        self.maybe_pause_protocol();
        Ok(())
    }

    /// The socket is writable with datagrams queued: send them in order until the kernel
    /// refuses one; a failed one is dropped and reported to `error_received`.
    pub(super) fn sendto_ready(&self) {
        loop {
            let Some(q) = self.buffer.borrow_mut().pop_front() else {
                break;
            };
            self.buffer_size.set(self.buffer_size.get() - q.data.len());
            let dest = match &q.addr {
                Some(a) if self.peername.is_none() => Dest::To(a),
                _ => Dest::Peer,
            };
            let sent = match self.sock.borrow().as_ref() {
                Some(sock) => sock.send(&q.data, dest),
                None => return,
            };
            match sent {
                Ok(_) => {}
                Err(e) if e.kind() == io::ErrorKind::WouldBlock => {
                    self.buffer_size.set(self.buffer_size.get() + q.data.len());
                    self.buffer.borrow_mut().push_front(q); // again at the next edge
                    break;
                }
                Err(e) => {
                    // Differs from CPython: it returns here and its level-triggered writer
                    // calls again; edge-triggered, no new edge would come and the rest would
                    // stay queued (and a `close` never finish), so go on with the next one.
                    self.error_received(e);
                    if self.life.state() >= State::Lost {
                        return;
                    }
                }
            }
        }
        self.maybe_resume_protocol(); // may queue more
        if self.buffer.borrow().is_empty() && self.life.state() == State::Closing {
            self.life.set_state(State::Lost);
            self.conn_lost.set(self.conn_lost.get().saturating_add(1));
            self.call_connection_lost(None);
        }
    }

    /// `pause_writing` once the queue is above the high mark.
    pub(super) fn maybe_pause_protocol(&self) {
        let size = self.buffer_size.get();
        if self.flow.borrow_mut().should_pause(size) {
            trace!("transport[{}]: pause_writing ({size} B queued)", self.id());
            self.deliver_flow(FlowEdge::Pause);
        }
    }

    /// `resume_writing` once the queue is at or below the low mark.
    fn maybe_resume_protocol(&self) {
        let size = self.buffer_size.get();
        if self.flow.borrow_mut().should_resume(size) {
            trace!("transport[{}]: resume_writing ({size} B queued)", self.id());
            self.deliver_flow(FlowEdge::Resume);
        }
    }

    /// Delivers a flow edge through the slot; while the protocol is held outside our calls,
    /// on a later turn once it is free.
    fn deliver_flow(&self, edge: FlowEdge) {
        crate::protocol::deliver_flow(self.lp(), &self.me, Self::slot, edge);
    }

    /// `close()`: no more receiving; `connection_lost(None)` once the queue is sent.
    pub(super) fn close(&self) {
        if self.life.state() != State::Open {
            return;
        }
        self.life.set_reading(Reading::Done);
        if self.buffer.borrow().is_empty() {
            self.life.set_state(State::Lost);
            self.conn_lost.set(1);
            self.queue_connection_lost(None);
        } else {
            self.life.set_state(State::Closing);
        }
    }

    /// `abort()` and the error path: drops the queue, queues `connection_lost(exc)` once.
    pub(super) fn force_close(&self, exc: Option<io::Error>) {
        if self.life.state() >= State::Lost {
            return;
        }
        self.buffer.borrow_mut().clear();
        self.buffer_size.set(0);
        self.life.set_reading(Reading::Done);
        self.life.set_state(State::Lost);
        self.conn_lost.set(1);
        self.queue_connection_lost(exc);
    }

    fn queue_connection_lost(&self, exc: Option<io::Error>) {
        if let Some(me) = self.me.upgrade() {
            if self
                .lp()
                .call_soon(move || me.call_connection_lost(exc))
                .is_err()
            {
                self.release();
            }
        }
    }

    /// `connection_lost(exc)` exactly once, then `release`; later if the protocol is held.
    fn call_connection_lost(&self, exc: Option<io::Error>) {
        if self.life.state() == State::Closed {
            return;
        }
        if self.protocol.is_busy() {
            self.when_free(move |t| t.call_connection_lost(exc));
            return;
        }
        self.deliver_errors(); // what waited for the protocol comes before the end
        self.life.set_state(State::Closed);
        trace!("protocol[{}]: connection_lost (datagram)", self.id());
        let call = Call::Lost(exc.is_some());
        if let Ok(Called::Panicked(payload)) = self.protocol.lost(exc) {
            self.report_panic(call, &*payload);
        }
        self.release();
    }
}
