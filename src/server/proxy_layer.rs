//! The PROXY header preamble of an accepted connection: read and check the header a load
//! balancer sends first, then hand the connection to the server's protocol (or its TLS layer)
//! as if it had just been made. No CPython counterpart; the format is `proxy_protocol/`.
//!
//! ```text
//!  socket transport ──► ProxySide ──(its own ProtocolSlot)──► next: TLS layer or protocol
//!        Reading: bytes buffered and parsed, nothing reaches `next`; timer armed
//!        Relaying: `next` got connection_made(facade) and the bytes after the header;
//!                  every later call is forwarded, until the swap below
//!        swap (next turn): the socket transport's slot takes `next` itself, so after the
//!                  header the data path is the plain one (no forwarding, no copy)
//! ```
//! Ground rules: the socket transport reaches us, and we reach `next`, only through
//! `ProtocolSlot`s (the one seam); no `RefCell` of this file is borrowed while `next` runs;
//! every refusal (bad header, EOF or timeout before the header) is one `log::debug!` line and
//! an `abort` of this connection alone. (`Optional` refuses only a connection that sent a
//! whole signature: one that has sent nothing, or only the start of a signature, by the
//! timeout or its EOF is served as a direct one, its bytes included, since it may be waiting
//! for the server to speak first.) `next` sees a [`ProxiedTransport`], whose
//! `peername`/`sockname` are the header's addresses; the socket's stay as `proxy_peername` /
//! `proxy_sockname`. With the feature off nothing here is built: the accept path is unchanged.

use std::cell::{Cell, RefCell};
use std::io::{self, IoSlice};
use std::rc::{Rc, Weak};
use std::time::Duration;

use crate::error::Error;
use crate::event_loop::exception::{
    report_error, report_protocol_callback, Call, Origin, PanicError,
};
use crate::event_loop::handle::TimerHandle;
use crate::event_loop::LoopHandle;
use crate::protocol::{
    deliver_flow, Called, FlowEdge, Payload, Protocol, ProtocolRef, ProtocolSlot,
};
use crate::proxy_protocol::{
    parse, Invalid, Parsed, ProxyHeader, ProxyProtocol, V1_SIGNATURE, V2_SIGNATURE,
};
use crate::transport::{ExtraInfo, Transport, TransportImpl};

/// The server's PROXY settings (`proxy_protocol`, `proxy_protocol_timeout`).
#[derive(Clone, Copy, Debug)]
pub(crate) struct ProxyOptions {
    pub(crate) mode: ProxyProtocol,
    pub(crate) timeout: Duration,
}

impl Default for ProxyOptions {
    fn default() -> Self {
        ProxyOptions {
            mode: ProxyProtocol::Off,
            timeout: crate::constants::PROXY_PROTOCOL_TIMEOUT,
        }
    }
}

impl ProxyOptions {
    /// The header timeout must be positive, as TLS timeouts must (`ssl_handshake_timeout`): a
    /// zero timer would race the first read, and an `Optional` server could then serve a
    /// proxied client as a direct one, its header taken for data.
    pub(crate) fn check(&self) -> Result<(), Error> {
        if self.timeout.is_zero() {
            return Err(Error::invalid_argument(
                "proxy_protocol_timeout should be a positive number, got 0.0",
            ));
        }
        Ok(())
    }

    /// `next` behind a preamble, or `next` itself when the feature is off.
    pub(crate) fn wrap(&self, lp: &LoopHandle, next: ProtocolRef) -> ProtocolRef {
        if self.mode == ProxyProtocol::Off {
            return next;
        }
        let layer = Rc::new_cyclic(|me| ProxyLayer {
            lp: lp.clone(),
            me: me.clone(),
            options: *self,
            phase: Cell::new(Phase::Reading),
            buf: RefCell::new(Vec::new()),
            paused: Cell::new(false),
            eof_held: Cell::new(false),
            fatal: RefCell::new(None),
            timer: RefCell::new(None),
            raw: RefCell::new(None),
            next: ProtocolSlot::new(next, lp.clone(), 0),
        });
        Rc::new(RefCell::new(ProxySide(layer)))
    }
}

/// `Reading ─header─► Relaying ─swap─► Swapped`; any state may go to `Closed`.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Phase {
    /// Waiting for (the rest of) the header; `next` has heard nothing.
    Reading,
    /// `next` is connected; calls from the socket are forwarded to it.
    Relaying,
    /// The socket transport calls `next` directly; we are out of the path.
    Swapped,
    /// The connection ended (or was refused).
    Closed,
}

/// One connection's preamble (see the module doc).
struct ProxyLayer {
    lp: LoopHandle,
    me: Weak<ProxyLayer>,
    options: ProxyOptions,
    /// Only `set_phase` assigns it.
    phase: Cell<Phase>,
    /// Reading: the header bytes so far, fewer than the parser's limits (107 bytes for v1;
    /// for v2 what its length field declared, at most `MAX_V2_LEN`), by which it answers
    /// Complete or Invalid; only bytes received are held, whatever the declared length.
    /// Relaying: bytes for `next` that found it busy.
    buf: RefCell<Vec<u8>>,
    /// `next` paused reading through the facade (before the swap): bytes are held.
    paused: Cell<bool>,
    /// The peer's EOF came while `next` was paused or bytes were still held for it: owed to
    /// `next` after them (L62), and the swap waits for it.
    eof_held: Cell<bool>,
    /// Why this layer aborted the connection (the protocol's own fault): what `next`'s
    /// `connection_lost` gets, as from the socket transport's fatal error (L80).
    fatal: RefCell<Option<io::Error>>,
    /// The header timeout while Reading; cancelled on leaving it.
    timer: RefCell<Option<TimerHandle>>,
    /// The socket transport (from connection_made).
    raw: RefCell<Option<Transport>>,
    /// The server's protocol, or its TLS layer; called only through this slot until the swap.
    next: ProtocolSlot,
}

/// Whether `held` (the bytes of a header not complete yet) starts with a whole v1 or v2
/// signature: a sender that got that far began a header, so an `Optional` server refuses it
/// as `Required` does when no complete header follows (timeout, EOF). Short of it, the bytes
/// are a strict prefix of a signature, which a direct client's own first message may be (an
/// empty line is the v2 signature's start), while a balancer sends its header at once.
fn signature_sent(held: &[u8]) -> bool {
    held.starts_with(&V1_SIGNATURE) || held.starts_with(&V2_SIGNATURE)
}

/// What the socket transport holds: a handle whose `RefCell` wraps only the `Rc`, so `next`
/// re-entering the transport from a callback finds the layer free.
struct ProxySide(Rc<ProxyLayer>);

impl ProxyLayer {
    fn set_phase(&self, to: Phase) {
        use Phase::*;
        let from = self.phase.get();
        debug_assert!(
            matches!(
                (from, to),
                (Reading, Relaying) | (Relaying, Swapped) | (Reading | Relaying, Closed)
            ),
            "PROXY preamble {from:?} -> {to:?} is not an edge"
        );
        self.phase.set(to);
    }

    fn raw(&self) -> Option<Transport> {
        self.raw.borrow().clone()
    }

    fn connection_made(&self, transport: Transport) {
        // `next`'s reports (a panic, a long hold) name the socket transport, as its own do.
        self.next.set_transport_id(transport.id());
        *self.raw.borrow_mut() = Some(transport);
        let me = self.me.clone();
        let timeout = self.options.timeout;
        let timer = self.lp.call_later(timeout, move || {
            if let Some(me) = me.upgrade() {
                if me.phase.get() == Phase::Reading {
                    me.header_timed_out(timeout);
                }
            }
        });
        *self.timer.borrow_mut() = timer.ok();
    }

    /// No header within the timeout. Optional: a client that has not sent a whole signature
    /// began no header (it may wait for the server to speak first, after nothing or after a
    /// short message such as an empty line that happens to start a signature), so it is
    /// served as a direct one, its bytes included, as at an EOF. Otherwise (Required, or a
    /// whole signature and then no complete header) the connection is refused.
    fn header_timed_out(&self, timeout: Duration) {
        let begun = signature_sent(&self.buf.borrow());
        if self.options.mode == ProxyProtocol::Optional && !begun {
            let buf = std::mem::take(&mut *self.buf.borrow_mut());
            self.start_relaying(None, &buf);
            return;
        }
        self.refuse(format_args!("no PROXY header within {timeout:?}"));
    }

    /// Ends this connection alone, with one debug line.
    fn refuse(&self, why: std::fmt::Arguments<'_>) {
        self.set_phase(Phase::Closed);
        if let Some(t) = self.timer.borrow_mut().take() {
            t.cancel();
        }
        self.buf.borrow_mut().clear();
        let raw = self.raw();
        let peer = raw.as_ref().and_then(Transport::peername);
        crate::event_loop::debug::debug_log!("closing connection from {peer:?}: {why}");
        if let Some(raw) = raw {
            raw.abort();
        }
    }

    fn data_received(&self, data: &[u8]) {
        match self.phase.get() {
            Phase::Reading => self.read_header(data),
            Phase::Relaying | Phase::Swapped => self.relay(data),
            Phase::Closed => {}
        }
    }

    fn read_header(&self, data: &[u8]) {
        // The common case, the whole header in the first segment, parses in place.
        let mut buf = std::mem::take(&mut *self.buf.borrow_mut());
        if !buf.is_empty() {
            buf.extend_from_slice(data);
        }
        let whole: &[u8] = if buf.is_empty() { data } else { &buf };
        match parse(whole) {
            Parsed::Incomplete => {
                *self.buf.borrow_mut() = if buf.is_empty() { data.to_vec() } else { buf };
            }
            Parsed::Complete(header, used) => {
                self.start_relaying(Some(header), &whole[used..]);
            }
            Parsed::Invalid(Invalid::NotProxy) if self.options.mode == ProxyProtocol::Optional => {
                self.start_relaying(None, whole);
            }
            Parsed::Invalid(why) => self.refuse(format_args!("{why}")),
        }
    }

    /// The header is in (or, optionally, absent): `next` is connected and gets `rest`.
    fn start_relaying(&self, header: Option<ProxyHeader>, rest: &[u8]) {
        if let Some(t) = self.timer.borrow_mut().take() {
            t.cancel();
        }
        let Some(raw) = self.raw() else { return };
        self.set_phase(Phase::Relaying);
        let facade = Rc::new(ProxiedTransport {
            raw: raw.inner.clone(),
            header: header.map(Rc::new),
            layer: self.me.clone(),
        });
        match self.next.made(Transport { inner: facade }) {
            // L55, as the socket transport has it: reported, and the connection goes on.
            Called::Panicked(payload) => {
                let (name, made) = (self.next.name(), Call::Made(raw.id()));
                report_protocol_callback(&self.lp, name, made, &*payload)
            }
            Called::Done(()) => {}
            // A fresh protocol held elsewhere (or none): it can never be connected.
            Called::Gone | Called::Busy => {
                return self.refuse(format_args!("the protocol could not be connected"));
            }
        }
        if !rest.is_empty() {
            self.relay(rest);
        }
        // Next turn (our slot is busy now): the socket transport calls `next` itself.
        let me = self.me.clone();
        let _ = self.lp.call_soon(move || {
            if let Some(me) = me.upgrade() {
                me.swap();
            }
        });
    }

    fn swap(&self) {
        if self.phase.get() != Phase::Relaying
            || !self.buf.borrow().is_empty()
            || self.eof_held.get()
        {
            return; // closed meanwhile, or bytes or EOF still owed to `next`: keep relaying
        }
        let (Some(raw), Some(next)) = (self.raw(), self.next.get()) else {
            return;
        };
        if raw.is_closing() {
            return; // its connection_lost comes through us, with our `fatal` error if any
        }
        if raw.inner.set_protocol(next).is_ok() {
            self.set_phase(Phase::Swapped);
        }
    }

    /// Bytes for `next` (buffered protocols get them copied into their buffer), in order
    /// after any still held: the bytes after the header reach `next` only as the socket's
    /// own would (a `pause_reading` from its `connection_made` holds them until
    /// `resume_reading`; after `close` or `abort` they are dropped).
    fn relay(&self, data: &[u8]) {
        if self.buf.borrow().is_empty() && self.may_deliver() {
            self.deliver_now(data);
        } else {
            self.buf.borrow_mut().extend_from_slice(data);
            self.flush_pending();
        }
    }

    fn may_deliver(&self) -> bool {
        !self.paused.get() && self.raw().is_some_and(|r| !r.is_closing())
    }

    /// Delivers the bytes held in `buf`, if `next` may have them now.
    fn flush_pending(&self) {
        if !self.may_deliver() {
            return;
        }
        let pending = std::mem::take(&mut *self.buf.borrow_mut());
        if !pending.is_empty() {
            self.deliver_now(&pending);
        }
    }

    fn deliver_now(&self, data: &[u8]) {
        let calling = Cell::new("data_received");
        match self
            .next
            .call(|p| deliver(p, data, &|| self.may_deliver(), &calling))
        {
            Called::Done(None) => self.empty_buffer(),
            Called::Done(Some(used)) if used < data.len() => {
                // Paused or closed between two pieces: the rest waits in front (for
                // `resume_reading`), or is never delivered (after `close`/`abort`).
                let mut buf = self.buf.borrow_mut();
                let later = std::mem::take(&mut *buf);
                buf.extend_from_slice(&data[used..]);
                buf.extend_from_slice(&later);
            }
            Called::Done(_) | Called::Gone => {}
            Called::Panicked(payload) => self.protocol_failed(calling.get(), payload),
            Called::Busy => {
                // Held elsewhere across a turn: keep the bytes, in front, and retry.
                let mut buf = self.buf.borrow_mut();
                let later = std::mem::take(&mut *buf);
                buf.extend_from_slice(data);
                buf.extend_from_slice(&later);
                drop(buf);
                self.retry_later();
            }
        }
    }

    /// A failure of `next`'s, reported here whichever turn it ran in (from the socket's read
    /// or from one of our retries), with the socket transport's words and keys (L80).
    fn report(&self, message: &str, exception: Box<dyn std::error::Error>) {
        let origin = Origin {
            transport: self.raw().map(|r| r.id()),
            protocol: self.next.name(),
        };
        report_error(&self.lp, message.to_string(), exception, &origin);
    }

    /// `next` panicked on the data path: its fatal error, as the socket transport's read makes
    /// it (reported, and `connection_lost` gets the panic), whichever turn it ran in.
    fn protocol_failed(&self, what: &str, payload: Payload) {
        let panic = PanicError::from_payload(&*payload);
        self.report(
            &format!("Fatal error: protocol.{what}() call failed."),
            Box::new(panic.clone()),
        );
        drop(payload); // reported first; its drop is caught (`Payload`)
        self.buf.borrow_mut().clear();
        self.fatal
            .borrow_mut()
            .get_or_insert(io::Error::other(panic));
        if let Some(raw) = self.raw() {
            raw.abort();
        }
    }

    /// An empty buffer from `get_buffer` is the protocol's fatal error, reported, and the
    /// connection ends with it, as the socket transport's read would end it.
    // Checklist: L51.
    fn empty_buffer(&self) {
        let message = "Fatal error: protocol.get_buffer() call failed.";
        let e = io::Error::other(Error::invalid_state(
            "get_buffer() returned an empty buffer",
        ));
        self.report(message, Box::new(crate::error::copy_io(&e)));
        self.buf.borrow_mut().clear();
        self.fatal.borrow_mut().get_or_insert(e);
        if let Some(raw) = self.raw() {
            raw.abort();
        }
    }

    /// The held bytes, then a held EOF, then the swap, on a later turn: the next one if `next`
    /// is free by then; while it is held elsewhere (a borrow kept across an `.await`), later
    /// ones spaced out as the socket and TLS layers space theirs (`protocol::when_free`).
    /// One retry at a time: chunks that arrive while it waits join the held bytes it
    /// delivers, instead of each queueing (and spacing out) a retry of its own.
    fn retry_later(&self) {
        crate::protocol::delivery_when_free(&self.lp, self.me.clone(), next_slot, |me| {
            if me.phase.get() == Phase::Relaying {
                me.flush_pending();
                me.deliver_held_eof();
                me.swap();
            }
        });
    }

    fn eof_received(&self) -> bool {
        match self.phase.get() {
            Phase::Reading => {
                let buf = std::mem::take(&mut *self.buf.borrow_mut());
                if self.options.mode == ProxyProtocol::Optional && !signature_sent(&buf) {
                    // No header begun (as at the timeout): the client's own bytes, then its
                    // EOF.
                    self.start_relaying(None, &buf);
                    return self.eof_received();
                }
                self.refuse(format_args!(
                    "EOF after {} bytes of a PROXY header",
                    buf.len()
                ));
                false
            }
            Phase::Relaying | Phase::Swapped => {
                self.flush_pending(); // bytes still held come before the EOF
                if !self.buf.borrow().is_empty() || !self.may_deliver() {
                    // Paused (or bytes held): the socket's own reads would not have seen the
                    // EOF yet. Keep the transport open; `next` decides after resume_reading.
                    self.eof_held.set(true);
                    return true;
                }
                self.next_eof()
            }
            Phase::Closed => false,
        }
    }

    fn next_eof(&self) -> bool {
        match self.next.call(|p| p.eof_received()) {
            Called::Done(keep) => keep,
            Called::Panicked(payload) => {
                self.protocol_failed("eof_received", payload);
                false
            }
            Called::Gone | Called::Busy => false,
        }
    }

    /// The EOF held back by `eof_received`, once every held byte is in and `next` reads.
    fn deliver_held_eof(&self) {
        if !self.eof_held.get() || !self.buf.borrow().is_empty() || !self.may_deliver() {
            return;
        }
        self.eof_held.set(false);
        if !self.next_eof() {
            if let Some(raw) = self.raw() {
                raw.close(); // what the socket transport does on a false eof_received (L62)
            }
        }
    }

    fn connection_lost(&self, exc: Option<io::Error>) {
        if let Some(t) = self.timer.borrow_mut().take() {
            t.cancel();
        }
        if self.phase.get() != Phase::Closed {
            self.set_phase(Phase::Closed);
        }
        let raw = self.raw.borrow_mut().take();
        drop(raw);
        let exc = exc.or_else(|| self.fatal.borrow_mut().take());
        self.next_lost(exc);
    }

    /// `next`'s connection_lost; a panic in it is reported as the socket transport reports
    /// one, as a failed callback (L55), also from a retry, which runs after we have let go of
    /// that transport.
    fn next_lost(&self, exc: Option<io::Error>) {
        let call = Call::Lost(exc.is_some());
        match self.next.lost(exc) {
            Ok(Called::Panicked(payload)) => {
                report_protocol_callback(&self.lp, self.next.name(), call, &*payload);
                // Dropped with a panic of that drop reported to this loop, as the socket
                // transport's `lost_at_close` does: at the loop's close no loop runs to be
                // found, and a plain drop's report went to the default handler.
                payload.let_go(&self.lp);
            }
            Ok(_) => {}
            Err(exc) => {
                // `next` is held elsewhere: connection_lost is owed once, when it is free.
                // The socket transport lets go of this layer now: the retry keeps it alive.
                let alive = self.me.upgrade();
                crate::protocol::when_free(&self.lp, self.me.clone(), next_slot, move |me| {
                    let _alive = alive;
                    me.next_lost(exc);
                });
            }
        }
    }
}

/// Hands `data` to a plain protocol, or copies it into a buffered one's buffer piece by piece
/// (L53), stopping between pieces once `may_go_on` says no, as the socket's reads would stop
/// after a `pause_reading` or `close` from `buffer_updated`. Returns how much was used, or
/// `None` for an empty buffer (L51). `calling` names the protocol method running (what a
/// panic is reported as).
fn deliver(
    p: &mut dyn Protocol,
    data: &[u8],
    may_go_on: &dyn Fn() -> bool,
    calling: &Cell<&'static str>,
) -> Option<usize> {
    let Some(b) = p.as_buffered() else {
        p.data_received(data);
        return Some(data.len());
    };
    let mut used = 0;
    while used < data.len() {
        if used > 0 && !may_go_on() {
            return Some(used);
        }
        let left = &data[used..];
        calling.set("get_buffer");
        let buf = b.get_buffer(left.len());
        let n = buf.len().min(left.len());
        if n == 0 {
            return None;
        }
        buf[..n].copy_from_slice(&left[..n]);
        calling.set("buffer_updated");
        b.buffer_updated(n);
        used += n;
    }
    Some(used)
}

impl Protocol for ProxySide {
    fn connection_made(&mut self, transport: Transport) {
        self.0.connection_made(transport);
    }

    fn data_received(&mut self, data: &[u8]) {
        self.0.data_received(data);
    }

    fn eof_received(&mut self) -> bool {
        self.0.eof_received()
    }

    fn connection_lost(&mut self, exc: Option<io::Error>) {
        self.0.connection_lost(exc);
    }

    fn pause_writing(&mut self) {
        deliver_flow(&self.0.lp, &self.0.me, next_slot, FlowEdge::Pause);
    }

    fn resume_writing(&mut self) {
        deliver_flow(&self.0.lp, &self.0.me, next_slot, FlowEdge::Resume);
    }
}

fn next_slot(layer: &ProxyLayer) -> &ProtocolSlot {
    &layer.next
}

/// The transport `next` sees: the socket transport, with the header's addresses as
/// `peername`/`sockname` and the header itself (see the module doc).
struct ProxiedTransport {
    raw: Rc<dyn TransportImpl>,
    /// `None`: an optional header that was not sent.
    header: Option<Rc<ProxyHeader>>,
    /// To reach `next` while the layer still stands between it and the socket.
    layer: Weak<ProxyLayer>,
}

impl ProxiedTransport {
    /// The layer, while it still relays (before the swap).
    fn relaying(&self) -> Option<Rc<ProxyLayer>> {
        self.layer
            .upgrade()
            .filter(|l| l.phase.get() == Phase::Relaying)
    }
}

impl TransportImpl for ProxiedTransport {
    fn write(&self, data: &[u8]) -> Result<(), Error> {
        self.raw.write(data)
    }
    fn writelines_other(&self, chunks: &[IoSlice<'_>]) -> Result<(), Error> {
        self.raw.writelines(chunks)
    }
    fn write_eof_other(&self) -> Result<(), Error> {
        self.raw.write_eof()
    }
    fn can_write_eof(&self) -> bool {
        self.raw.can_write_eof()
    }
    fn close(&self) {
        self.raw.close()
    }
    fn abort(&self) {
        self.raw.abort()
    }
    fn is_closing(&self) -> bool {
        self.raw.is_closing()
    }
    fn pause_reading(&self) {
        if let Some(layer) = self.relaying() {
            layer.paused.set(true);
        }
        self.raw.pause_reading()
    }
    fn resume_reading(&self) {
        if let Some(layer) = self.relaying() {
            layer.paused.set(false);
            // Held bytes (and a held EOF) go first: queued before the socket's next read.
            if !layer.buf.borrow().is_empty() || layer.eof_held.get() {
                layer.retry_later();
            }
        }
        self.raw.resume_reading();
    }
    fn is_reading(&self) -> bool {
        self.raw.is_reading()
    }
    fn set_write_buffer_limits_other(
        &self,
        high: Option<usize>,
        low: Option<usize>,
    ) -> Result<(), Error> {
        self.raw.set_write_buffer_limits(high, low)
    }
    fn get_write_buffer_size(&self) -> usize {
        self.raw.get_write_buffer_size()
    }
    fn get_write_buffer_limits(&self) -> (usize, usize) {
        self.raw.get_write_buffer_limits()
    }
    fn get_extra_info(&self, name: &str) -> Option<ExtraInfo> {
        let relayed = |addr: Option<crate::transport::Address>| match addr {
            Some(a) => Some(ExtraInfo::Address(a)),
            None => self.raw.get_extra_info(name),
        };
        let header = self.header.as_deref();
        match name {
            "peername" => relayed(header.and_then(ProxyHeader::source)),
            "sockname" => relayed(header.and_then(ProxyHeader::destination)),
            "proxy_peername" if header.is_some() => self.raw.get_extra_info("peername"),
            "proxy_sockname" if header.is_some() => self.raw.get_extra_info("sockname"),
            _ => self.raw.get_extra_info(name),
        }
    }
    fn set_protocol_other(&self, protocol: ProtocolRef) -> Result<(), Error> {
        match self.relaying() {
            Some(layer) => layer.next.replace(protocol),
            None => self.raw.set_protocol(protocol),
        }
    }
    fn get_protocol(&self) -> Option<ProtocolRef> {
        match self.relaying() {
            Some(layer) => layer.next.get(),
            None => self.raw.get_protocol(),
        }
    }
    fn get_loop(&self) -> LoopHandle {
        self.raw.get_loop()
    }
    fn id(&self) -> u64 {
        self.raw.id()
    }
    fn writing_paused(&self) -> bool {
        self.raw.writing_paused()
    }
    fn kernel_unsent_other(&self) -> Option<usize> {
        self.raw.kernel_unsent()
    }
    fn unsent_mark_other(&self) -> usize {
        self.raw.unsent_mark()
    }
    #[cfg(feature = "tls")]
    fn peer_eof(&self) -> bool {
        self.raw.peer_eof()
    }
    // A TLS layer above says its socket's dropped bytes in its own warning (one per
    // connection): the facade hands them over as the socket would.
    #[cfg(feature = "tls")]
    fn take_unsent_at_loop_close(&self) -> usize {
        self.raw.take_unsent_at_loop_close()
    }
    fn proxy_header(&self) -> Option<Rc<ProxyHeader>> {
        self.header.clone()
    }
}
