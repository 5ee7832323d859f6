//! I/O registrations: the token slab, interest bookkeeping, dispatch of mio events, and the
//! public `add_reader`/`add_writer` hooks.
//!
//! Mirrors the selector half of CPython `Lib/asyncio/selector_events.py`
//! (`BaseSelectorEventLoop._add_reader`, `_remove_reader`, `_process_events`; L2, L5, L17, L58).
//! Three kinds of registration share one slab:
//! - `Fd`: a raw descriptor with Python-style reader/writer callbacks (`add_reader`);
//! - `Handler`: a transport or listener that handles its own readiness (`IoHandler`);
//! - `Wakers`: a future waiting for readiness (a non-blocking connect, say).
//!
//! Ground rules: a mio `Token` carries slot index *and* generation, so an event for a
//! registration that was removed (and its slot reused) is dropped, never delivered to the new
//! owner. Events become `Runnable::Io` entries on the ready queue; nothing is called while the
//! slab is borrowed. mio is edge-triggered; `add_reader` callbacks are level-triggered as in
//! Python, by re-arming the registration after each callback (one `epoll_ctl`). An `Fd`
//! event calls the callbacks registered when the poll answered, as CPython's
//! `_process_events` queues their handles: one replaced or removed since is not called, and
//! its successor waits for the next poll (`Entry::Fd::queued`, `FD_TOKEN_BIT`).

use std::any::Any;
use std::collections::HashMap;
use std::hash::{BuildHasherDefault, Hasher};
use std::io;
use std::os::fd::RawFd;
use std::rc::Rc;
use std::task::{Context, Poll, Waker};

use mio::event::Source;
use mio::unix::SourceFd;
use mio::{Interest, Token};

use super::exception::drop_contained;
use super::executor::waker::wake_in;
pub(crate) use super::readiness::Readiness;
use super::token::{checked_fd_token, checked_token, fd_token, key_of, token};
pub(crate) use super::token::{FD_TOKEN_BIT, WAKER_TOKEN};
use super::token::{GENERATION_MASK, INDEX_MASK};
use super::{report_panic, LoopHandle, LoopInner};
use crate::error::Error;
use crate::slots::{SlotKey, Slots};

/// A readiness event waiting in the ready queue.
pub(crate) struct IoEvent {
    pub(crate) key: SlotKey,
    pub(crate) readiness: Readiness,
}

/// Something that handles its own readiness: the socket transport, the accept loop.
pub(crate) trait IoHandler {
    /// Called from the run phase, with no loop state borrowed.
    fn io_ready(&self, readiness: Readiness);

    /// The loop is closing with this registration still in place: drop whatever would keep a
    /// reference cycle alive (a transport's protocol).
    fn loop_closed(&self) {}

    /// A transport's buffers, for the loop's totals (`LoopStats`); `None` for other handlers.
    /// Its `kernel_unsent` is `None`: not asked, since the totals do not use it and asking
    /// is a system call per transport (`SIOCOUTQ`, `FIONREAD`) on every `stats()`.
    fn buffer_info(&self) -> Option<crate::transport::BufferInfo> {
        None
    }
}

/// An `add_reader`/`add_writer` callback; called each time the fd is ready.
type FdCallback = Rc<dyn Fn()>;

/// How many of an `Fd` entry's queued readiness events are to call each of its callbacks:
/// those registered, and asked for by the readiness, when the poll answered, less those
/// replaced or removed since (CPython cancels their handles, every queued copy at once).
/// Counted as each event is queued, taken as it runs; zero with no event queued. One event at
/// most per direction, but for an event a panic left queued (`rearm_left_queued`), whose fd
/// the next poll reports again: CPython's `_ready` then holds the reader's handle twice.
#[derive(Clone, Copy, Default)]
struct Queued {
    reader: u8,
    writer: u8,
}

enum Entry {
    Fd {
        fd: RawFd,
        reader: Option<FdCallback>,
        writer: Option<FdCallback>,
        queued: Queued,
        /// A re-arm was refused and logged, and none has succeeded since: the next refusals
        /// of this episode say nothing (one line per fd, not one per event).
        rearm_refused: bool,
    },
    Handler {
        fd: RawFd,
        handler: Rc<dyn IoHandler>,
    },
    Wakers {
        reader: Option<Waker>,
        writer: Option<Waker>,
        seen: Readiness,
    },
}

/// Socket transports' buffers added up (see `LoopStats`).
#[derive(Default)]
pub(crate) struct BufferTotals {
    pub(crate) write_buffered: usize,
    pub(crate) writing_paused: usize,
    pub(crate) reading_paused: usize,
}

/// Every registration of one loop.
#[derive(Default)]
pub(crate) struct IoTable {
    slots: Slots<Entry>,
    /// Descriptors with an `Fd` or `Handler` entry: one registration per fd (L17, L58).
    fds: HashMap<RawFd, SlotKey, BuildHasherDefault<FdHash>>,
}

/// The hash of a file descriptor for [`IoTable::fds`]: one multiplication. Descriptors are
/// small numbers the kernel hands out, not input an attacker picks, so std's keyed SipHash
/// buys nothing here, and it would link std's random seeding (getrandom) into every program.
#[derive(Default)]
pub(crate) struct FdHash(u64);

impl Hasher for FdHash {
    fn write(&mut self, bytes: &[u8]) {
        // Only `write_i32` is used (a `RawFd`); any other key still hashes correctly.
        for &b in bytes {
            self.write_u64(u64::from(b));
        }
    }

    fn write_i32(&mut self, fd: i32) {
        self.write_u64(u64::from(fd as u32));
    }

    fn write_u64(&mut self, n: u64) {
        // Fibonacci hashing: the golden-ratio multiplier spreads consecutive numbers over the
        // high bits, which hashbrown's control bytes use.
        self.0 = (self.0.rotate_left(5) ^ n).wrapping_mul(0x9E37_79B9_7F4A_7C15);
    }

    fn finish(&self) -> u64 {
        self.0
    }
}

/// The poll is gone only after `close()`, and a closed loop does not iterate: no events.
#[cold]
fn closed_poll(events: &mut mio::Events) -> io::Result<()> {
    events.clear();
    Ok(())
}

impl IoTable {
    fn slots(&mut self) -> &mut Slots<Entry> {
        &mut self.slots
    }

    /// Resolves a token's truncated generation to the live key, if it is still live.
    fn live_key(&mut self, t: Token) -> Option<SlotKey> {
        let (index, generation) = key_of(t);
        let slots = self.slots();
        let key = slots.key_at(index & INDEX_MASK)?;
        (key.generation & GENERATION_MASK == generation).then_some(key)
    }

    /// Notes which callbacks of an `Fd` entry its event, now queued, is to call (`queued`).
    #[cold]
    fn queue_fd_callbacks(&mut self, key: SlotKey, readiness: Readiness) {
        if let Some(Entry::Fd {
            reader,
            writer,
            queued,
            ..
        }) = self.slots().get_mut(key)
        {
            if reader.is_some() && readiness.is_readable() {
                queued.reader = queued.reader.saturating_add(1);
            }
            if writer.is_some() && readiness.is_writable() {
                queued.writer = queued.writer.saturating_add(1);
            }
        }
    }

    pub(crate) fn len(&self) -> usize {
        self.slots.len()
    }

    /// The handlers' buffers (socket transports) added up, for `LoopStats`.
    pub(crate) fn buffer_totals(&self) -> BufferTotals {
        let mut t = BufferTotals::default();
        for e in self.slots.values() {
            if let Entry::Handler { handler, .. } = e {
                if let Some(i) = handler.buffer_info() {
                    t.write_buffered += i.write_buffered;
                    t.writing_paused += usize::from(i.writing_paused);
                    t.reading_paused += usize::from(i.reading_paused);
                }
            }
        }
        t
    }
}

impl LoopInner {
    /// Turns a mio event into a ready-queue entry (stale tokens are dropped here). An `Fd`
    /// entry notes the callbacks the event is to call (`queued`).
    pub(crate) fn queue_io_event(&self, ev: &mio::event::Event) {
        if let Some(e) = self.io_event(ev) {
            if ev.token().0 & FD_TOKEN_BIT != 0 {
                self.io.borrow_mut().queue_fd_callbacks(e.key, e.readiness);
            }
            self.ready.push(super::ready::Runnable::Io(e));
        }
    }

    /// Queues a readable event for `key`, as if the poll had reported one: for a handler that
    /// stopped reading before the kernel said `WouldBlock` (its fair share of one event), since
    /// edge-triggered no new event may come for what is left. A ready-queue entry, so no
    /// callback is allocated; a stale key is dropped when it runs.
    pub(crate) fn queue_readable(&self, key: SlotKey) {
        self.ready.push(super::ready::Runnable::Io(IoEvent {
            key,
            readiness: Readiness(Readiness::READABLE),
        }));
    }

    /// The readiness event for a live registration; `None` for a stale token.
    #[inline]
    pub(crate) fn io_event(&self, ev: &mio::event::Event) -> Option<IoEvent> {
        let key = self.io.borrow_mut().live_key(ev.token())?;
        Some(IoEvent {
            key,
            readiness: Readiness::from_event(ev),
        })
    }

    /// Runs one readiness event straight from the poll's list (the I/O-only iteration's fast
    /// path): one look-up of its token, where [`io_event`](Self::io_event) and then
    /// [`dispatch_io`](Self::dispatch_io) looked the slot up twice. A handler (every
    /// transport) is called here; the other entries go the queued event's way. Never an `Fd`
    /// event: those are queued (`FD_TOKEN_BIT`).
    #[inline]
    pub(crate) fn dispatch_event(self: &Rc<Self>, ev: &mio::event::Event) {
        debug_assert_eq!(ev.token().0 & FD_TOKEN_BIT, 0, "Fd events are queued");
        let (index, generation) = key_of(ev.token());
        let (key, handler) = {
            let io = self.io.borrow();
            match io.slots.get_masked(index, generation, GENERATION_MASK) {
                None => return,
                Some((_, Entry::Handler { handler, .. })) => (None, Some(handler.clone())),
                Some((key, _)) => (Some(key), None),
            }
        };
        let readiness = Readiness::from_event(ev);
        match (key, handler) {
            (_, Some(h)) => h.io_ready(readiness),
            (Some(key), None) => self.dispatch_io(IoEvent { key, readiness }),
            (None, None) => {}
        }
    }

    /// Runs one queued readiness event.
    #[inline]
    pub(crate) fn dispatch_io(self: &Rc<Self>, ev: IoEvent) {
        enum Call {
            Fd(Option<FdCallback>, RawFd),
            Handler(Rc<dyn IoHandler>),
            Wake(Option<Waker>, Option<Waker>),
        }
        let call = {
            let mut io = self.io.borrow_mut();
            let Some(entry) = io.slots().get_mut(ev.key) else {
                return;
            };
            match entry {
                Entry::Fd {
                    fd, reader, queued, ..
                } => {
                    let queued_reader = queued.reader > 0;
                    queued.reader = queued.reader.saturating_sub(1);
                    Call::Fd(reader.clone().filter(|_| queued_reader), *fd)
                }
                Entry::Handler { handler, .. } => Call::Handler(handler.clone()),
                Entry::Wakers {
                    reader,
                    writer,
                    seen,
                } => {
                    *seen = seen.union(ev.readiness);
                    let r = if ev.readiness.is_readable() {
                        reader.take()
                    } else {
                        None
                    };
                    let w = if ev.readiness.is_writable() {
                        writer.take()
                    } else {
                        None
                    };
                    Call::Wake(r, w)
                }
            }
        };
        match call {
            Call::Handler(h) => h.io_ready(ev.readiness),
            // A waker may be another executor's (a connect polled by hand): its panic is
            // reported as a callback's and the loop goes on (L18), as the read-through's.
            Call::Wake(r, w) => {
                let lp = LoopHandle {
                    inner: self.clone(),
                };
                for waker in r.into_iter().chain(w) {
                    wake_in(&lp, waker, "I/O readiness wake-up");
                }
            }
            Call::Fd(reader, fd) => {
                let lp = LoopHandle {
                    inner: self.clone(),
                };
                let run = |cb: FdCallback, added_by: &str| {
                    let result = std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| cb()));
                    if let Err(payload) = result {
                        report_fd_callback(&lp, added_by, fd, payload);
                    }
                };
                if let Some(cb) = reader {
                    run(cb, "add_reader");
                }
                // Checklist: L17. The reader may have removed or replaced the writer, which
                // CPython's `remove_writer`/`add_writer` cancel before its handle runs: the
                // writer runs only if it is still queued.
                if let Some(cb) = self.take_queued_writer(ev.key) {
                    run(cb, "add_writer");
                }
                self.rearm_fd(ev.key, fd);
            }
        }
    }

    /// Level-triggered like Python: re-arms `key`'s fd with its callbacks' interest, so that
    /// a still-ready fd reports again at the next poll. A refusal is logged once an episode.
    fn rearm_fd(&self, key: SlotKey, fd: RawFd) {
        let interest = match self.io.borrow_mut().slots().get(key) {
            Some(Entry::Fd { reader, writer, .. }) => fd_interest(reader, writer),
            _ => None,
        };
        let Some(interest) = interest else { return };
        let rearmed =
            self.with_registry(|r| r.reregister(&mut SourceFd(&fd), fd_token(key), interest));
        let first_refusal = match self.io.borrow_mut().slots().get_mut(key) {
            Some(Entry::Fd { rearm_refused, .. }) => {
                !std::mem::replace(rearm_refused, rearmed.is_err()) && rearmed.is_err()
            }
            _ => false,
        };
        // After the borrow: a logger is user code. None runs while a panic unwinds
        // (`rearm_left_queued`): a logger panicking there would panic inside that panic.
        if let (true, Err(e), false) = (first_refusal, rearmed, std::thread::panicking()) {
            rearm_failed(fd, &e);
        }
    }

    /// A panic left an iteration (only `run_until_complete`'s future propagates one) with fd
    /// events still queued: they run next iteration, after its poll, which must report their
    /// still-ready fds again, as CPython's level-triggered selector does while the leftover
    /// handles wait in `_ready`. Edge-triggered, only a re-arm makes it: done here, as the
    /// panic leaves (`iteration.rs`). Never panics: it runs while one unwinds.
    #[cold]
    #[inline(never)]
    pub(crate) fn rearm_left_queued(&self) {
        let Ok(io) = self.io.try_borrow_mut() else {
            return;
        };
        let mut left = Vec::new();
        for (&fd, &key) in io.fds.iter() {
            if let Some(Entry::Fd { queued, .. }) = io.slots.get(key) {
                if queued.reader > 0 || queued.writer > 0 {
                    left.push((key, fd));
                }
            }
        }
        drop(io);
        for (key, fd) in left {
            self.rearm_fd(key, fd);
        }
    }

    /// The writer of `key`'s queued event, unless replaced or removed since it was queued.
    fn take_queued_writer(&self, key: SlotKey) -> Option<FdCallback> {
        let mut io = self.io.borrow_mut();
        match io.slots().get_mut(key) {
            Some(Entry::Fd { writer, queued, .. }) if queued.writer > 0 => {
                queued.writer -= 1;
                writer.clone()
            }
            _ => None,
        }
    }

    /// Waits for events (the iteration's poll).
    #[inline]
    pub(crate) fn poll_events(
        &self,
        events: &mut mio::Events,
        timeout: Option<std::time::Duration>,
    ) -> io::Result<()> {
        match self.poll.borrow_mut().as_mut() {
            Some(poll) => poll.poll(events, timeout),
            None => closed_poll(events),
        }
    }

    /// The epoll descriptor; `-1` once `close()` has released it.
    pub(crate) fn poll_fd(&self) -> RawFd {
        self.poll
            .borrow()
            .as_ref()
            .map_or(-1, std::os::fd::AsRawFd::as_raw_fd)
    }

    /// Runs `op` on the poll's registry. Once `close()` has released the poll (L16) there is
    /// nothing to register with: `op` is skipped and the loop-closed error returned.
    fn with_registry<R>(&self, op: impl FnOnce(&mio::Registry) -> io::Result<R>) -> io::Result<R> {
        match &*self.poll.borrow() {
            Some(poll) => op(poll.registry()),
            None => Err(crate::error::loop_closed_registry()),
        }
    }

    /// Registers a self-handling source (a transport or listener): `source`, whose
    /// descriptor is `fd`, for `interest`. The three travel as one tuple (one pointer): as
    /// separate arguments they would not all fit in registers, and callers passing some on
    /// the stack get a record of the stack depth after each of their calls in their unwind
    /// tables.
    pub(crate) fn register_handler(
        &self,
        (source, fd, interest): (&mut dyn Source, RawFd, Interest),
        handler: Rc<dyn IoHandler>,
    ) -> io::Result<SlotKey> {
        let mut io = self.io.borrow_mut();
        let key = io.slots().insert(Entry::Handler { fd, handler });
        if let Err(e) = self.with_registry(|r| r.register(source, checked_token(key)?, interest)) {
            let removed = io.slots().remove(key);
            drop(io);
            drop(removed); // the handler, after the borrow
            return Err(e);
        }
        io.fds.insert(fd, key);
        Ok(key)
    }

    // Registering and deregistering take `dyn Source`: once per connection, not worth a copy
    // per source type. `reregister` (interest changes under load) stays generic.

    /// Registers a source whose readiness wakes futures ([`poll_io`](Self::poll_io)).
    pub(crate) fn register_wakers(
        &self,
        source: &mut dyn Source,
        interest: Interest,
    ) -> io::Result<SlotKey> {
        let mut io = self.io.borrow_mut();
        let entry = Entry::Wakers {
            reader: None,
            writer: None,
            seen: Readiness::default(),
        };
        let key = io.slots().insert(entry);
        if let Err(e) = self.with_registry(|r| r.register(source, checked_token(key)?, interest)) {
            io.slots().remove(key);
            return Err(e);
        }
        Ok(key)
    }

    pub(crate) fn reregister(
        &self,
        key: SlotKey,
        source: &mut impl Source,
        interest: Interest,
    ) -> io::Result<()> {
        self.with_registry(|r| r.reregister(source, token(key), interest))
    }

    /// Removes a registration; its queued events are dropped (stale key). The returned entry is
    /// dropped by the caller's scope, after the borrow ends.
    pub(crate) fn deregister(&self, key: SlotKey, source: &mut dyn Source) {
        let removed = {
            let mut io = self.io.borrow_mut();
            let removed = io.slots().remove(key);
            if let Some(Entry::Handler { fd, .. } | Entry::Fd { fd, .. }) = &removed {
                if io.fds.get(fd) == Some(&key) {
                    io.fds.remove(fd);
                }
            }
            removed
        };
        if removed.is_some() {
            let _ = self.with_registry(|r| r.deregister(source));
        }
        drop(removed);
    }

    /// Waits until a `Wakers` registration has seen readiness in the asked direction, then
    /// clears that readiness (the caller retries its syscall and comes back on `WouldBlock`).
    pub(crate) fn poll_io(&self, key: SlotKey, write: bool, cx: &mut Context<'_>) -> Poll<()> {
        let mut io = self.io.borrow_mut();
        let Some(Entry::Wakers {
            reader,
            writer,
            seen,
        }) = io.slots().get_mut(key)
        else {
            return Poll::Ready(());
        };
        let (ready, slot) = if write {
            (seen.is_writable(), writer)
        } else {
            (seen.is_readable(), reader)
        };
        if ready {
            let clear = if write {
                Readiness::WRITABLE | Readiness::WRITE_CLOSED
            } else {
                Readiness::READABLE | Readiness::READ_CLOSED
            };
            seen.0 &= !clear;
            return Poll::Ready(());
        }
        let replaced = match slot {
            Some(w) if w.will_wake(cx.waker()) => None,
            _ => slot.replace(cx.waker().clone()),
        };
        drop(io);
        // After the borrow: a waker's drop may call into the loop. Not caught: the slot is
        // the registration's, polled by the one future that waits on it (a connect), so
        // that future's poller supplied both wakers and a panic of the old one's drop is its
        // own, as the stream reader's replaced waker is (`clone_from`).
        drop(replaced);
        Poll::Pending
    }

    /// Takes every registration out (loop close), so they drop with no borrow held.
    pub(crate) fn take_io(&self, lp: &LoopHandle) -> usize {
        let entries = {
            let mut io = self.io.borrow_mut();
            io.fds.clear();
            io.slots().drain()
        };
        let n = entries.len();
        for (_, entry) in &entries {
            if let Entry::Handler { handler, .. } = entry {
                handler.loop_closed();
            }
        }
        // One at a time and caught: an fd callback's captures are user code (see `close`).
        for (_, entry) in entries {
            drop_contained(Some(lp), "a callback", entry);
        }
        n
    }
}

/// An `add_reader`/`add_writer` callback that panicked, reported as `Handle._run` reports the
/// handle `_process_events` queued: `Exception in callback {name}` and the `handle` key, the
/// name saying which registration of which fd it was (`add_reader(fd=7)`).
// Checklist: L18.
#[cold]
#[inline(never)]
fn report_fd_callback(lp: &LoopHandle, added_by: &str, fd: RawFd, payload: Box<dyn Any + Send>) {
    let name = format!("{added_by}(fd={fd})");
    let handle = format!("<Handle {name}>");
    let message = format!("Exception in callback {name}");
    report_panic(lp, &message, payload, Some(("handle", handle)));
}

/// A re-arm refused: `fd` was closed behind the loop's back (its number perhaps reused since),
/// and epoll dropped it, so its callbacks stop running while they stay registered. CPython's
/// epoll forgets a closed fd as silently, and says nothing; here a debug record says why.
#[cold]
#[inline(never)]
fn rearm_failed(fd: RawFd, e: &io::Error) {
    super::debug::debug_log!(
        "fd {fd} could not be re-armed for its add_reader/add_writer callbacks ({e}): closed \
         without remove_reader/remove_writer? Its callbacks may not run again"
    );
}

fn fd_interest(reader: &Option<FdCallback>, writer: &Option<FdCallback>) -> Option<Interest> {
    match (reader.is_some(), writer.is_some()) {
        (true, true) => Some(Interest::READABLE | Interest::WRITABLE),
        (true, false) => Some(Interest::READABLE),
        (false, true) => Some(Interest::WRITABLE),
        (false, false) => None,
    }
}

impl LoopHandle {
    fn set_fd_callback(
        &self,
        fd: RawFd,
        write: bool,
        cb: Option<FdCallback>,
    ) -> Result<bool, Error> {
        let inner = &self.inner;
        let adding = cb.is_some();
        if adding {
            inner.check_closed()?;
        } else if inner.is_closed() {
            return Ok(false);
        }
        // Checklist: L17. CPython's words for a negative number (`selectors._fileobj_to_fd`);
        // its "Invalid file object" is for an object with no `fileno()`, which a `RawFd`
        // cannot be.
        if fd < 0 {
            return Err(Error::invalid_argument(format!(
                "Invalid file descriptor: {fd}"
            )));
        }
        let mut io = inner.io.borrow_mut();
        let existing = io.fds.get(&fd).copied();
        let (key, mut old, had, interest_before, interest_after) = match existing {
            Some(key) => match io.slots().get_mut(key) {
                Some(Entry::Fd {
                    reader,
                    writer,
                    queued,
                    ..
                }) => {
                    // Checklist: L17, L2. The callback replaced or removed here is not called
                    // by an event already queued, and its successor waits for the next poll,
                    // as CPython cancels the handle `_process_events` queued. (A change the
                    // kernel refuses is an added direction, where nothing was queued.)
                    if write {
                        queued.writer = 0;
                    } else {
                        queued.reader = 0;
                    }
                    let before = fd_interest(reader, writer);
                    let slot = if write { &mut *writer } else { &mut *reader };
                    let had = slot.is_some();
                    let old = std::mem::replace(slot, cb);
                    let after = fd_interest(reader, writer);
                    (key, old, had, before, after)
                }
                Some(Entry::Handler { .. }) => {
                    return Err(Error::invalid_state(format!(
                        "File descriptor {fd} is used by transport"
                    )))
                }
                _ => unreachable!("fds only maps Fd and Handler entries"),
            },
            None => {
                if cb.is_none() {
                    return Ok(false);
                }
                let (reader, writer) = if write { (None, cb) } else { (cb, None) };
                let after = fd_interest(&reader, &writer);
                let key = io.slots().insert(Entry::Fd {
                    fd,
                    reader,
                    writer,
                    queued: Queued::default(),
                    rearm_refused: false,
                });
                io.fds.insert(fd, key);
                (key, None, false, None, after)
            }
        };
        let result = match (interest_before, interest_after) {
            (None, Some(i)) => self
                .inner
                .with_registry(|r| r.register(&mut SourceFd(&fd), checked_fd_token(key)?, i)),
            // Checklist: L17. A reader replaced by a reader (a writer by a writer) leaves the
            // interest as it was: no system call, as CPython's selector `modify` only swaps
            // the stored handle then. A still-ready fd reports again all the same: each
            // dispatch re-arms it (`dispatch_io`).
            (Some(before), Some(i)) if before == i => Ok(()),
            (Some(_), Some(i)) => self
                .inner
                .with_registry(|r| r.reregister(&mut SourceFd(&fd), fd_token(key), i)),
            // The fd leaves whatever epoll answers: refused, it was closed (or its number
            // reused) behind the loop's back, and the caller asked for nothing it can fix (as
            // CPython's selector `unregister` ignores the `OSError`).
            (Some(_), None) => {
                io.fds.remove(&fd);
                io.slots().remove(key);
                let _ = self
                    .inner
                    .with_registry(|r| r.deregister(&mut SourceFd(&fd)));
                Ok(())
            }
            (None, None) => Ok(()),
        };
        if let Err(e) = result {
            // A refused change leaves the fd as it was. A new entry leaves with its callback;
            // an existing one gets its previous callback back, and with it the interest the
            // kernel kept (a failed `EPOLL_CTL_MOD` changes nothing). A removal stays done.
            // Whatever leaves is dropped after the borrow, like `old`.
            let (removed, refused) = match interest_before {
                None => {
                    io.fds.remove(&fd);
                    (io.slots().remove(key), None)
                }
                Some(_) if adding => match io.slots().get_mut(key) {
                    Some(Entry::Fd { reader, writer, .. }) => {
                        let slot = if write { writer } else { reader };
                        (None, std::mem::replace(slot, old.take()))
                    }
                    _ => (None, None),
                },
                Some(_) => (None, None),
            };
            drop(io);
            drop((old, removed, refused));
            // Checklist: L17. CPython lets the selector's `OSError` through as it is: EBADF
            // for a closed number, `PermissionError` (EPERM) for a regular file. The errno
            // stays, and with it the kind and the "[Errno N] text" display.
            return Err(Error::Io(e));
        }
        drop(io);
        drop(old); // replaced callback released outside the borrow
        Ok(had)
    }

    /// Calls `f` whenever `fd` is readable (Python's `loop.add_reader`), until
    /// [`remove_reader`](Self::remove_reader). Adding again replaces the previous callback.
    /// Level-triggered: `f` runs again next iteration while data remains. As in Python, an
    /// iteration calls the callbacks registered when its poll answered: one replaced or
    /// removed since is not called, and its replacement runs from the next poll on.
    ///
    /// # Errors
    /// `InvalidState` on a closed loop or when a transport owns `fd`; `InvalidArgument` for a
    /// negative descriptor; `Io` (errno kept) when epoll refuses `fd`: `EBADF` for a closed
    /// number, `EPERM` ([`PermissionDenied`](std::io::ErrorKind::PermissionDenied)) for a
    /// regular file.
    ///
    /// # Examples
    ///
    /// ```
    /// use std::io::Write;
    /// use std::os::fd::AsRawFd;
    /// use std::rc::Rc;
    /// use std::cell::Cell;
    ///
    /// let (mut a, b) = std::os::unix::net::UnixStream::pair()?;
    /// let lp = asyncio::EventLoop::new()?;
    /// let readable = Rc::new(Cell::new(false));
    /// let flag = readable.clone();
    /// lp.add_reader(b.as_raw_fd(), move || flag.set(true))?;
    /// a.write_all(b"x")?;
    /// lp.run_once(None)?; // the poll sees `b` readable and runs the callback
    /// assert!(readable.get());
    /// assert!(lp.remove_reader(b.as_raw_fd())?);
    /// # Ok::<_, Box<dyn std::error::Error>>(())
    /// ```
    // Checklist: L17.
    pub fn add_reader(&self, fd: RawFd, f: impl Fn() + 'static) -> Result<(), Error> {
        self.set_fd_callback(fd, false, Some(Rc::new(f))).map(drop)
    }

    /// Calls `f` whenever `fd` is writable (Python's `loop.add_writer`); replaced and removed
    /// as the reader of [`add_reader`](Self::add_reader) is.
    ///
    /// # Errors
    /// As for [`add_reader`](Self::add_reader).
    ///
    /// # Examples
    ///
    /// ```
    /// use std::os::fd::AsRawFd;
    ///
    /// let (a, _b) = std::os::unix::net::UnixStream::pair()?;
    /// let lp = asyncio::EventLoop::new()?;
    /// let handle = lp.handle();
    /// let fd = a.as_raw_fd();
    /// lp.add_writer(fd, move || {
    ///     handle.remove_writer(fd).unwrap(); // writable at once: stop watching
    /// })?;
    /// lp.run_once(None)?;
    /// assert!(!lp.remove_writer(fd)?, "already removed by the callback");
    /// # Ok::<_, Box<dyn std::error::Error>>(())
    /// ```
    // Checklist: L17.
    pub fn add_writer(&self, fd: RawFd, f: impl Fn() + 'static) -> Result<(), Error> {
        self.set_fd_callback(fd, true, Some(Rc::new(f))).map(drop)
    }

    /// Stops watching `fd` for reading; `Ok(true)` if a reader was registered. On a closed
    /// loop it returns `Ok(false)`. The reader is removed even when `fd` was closed behind the
    /// loop's back.
    ///
    /// # Errors
    /// `InvalidState` when a transport owns `fd`. When `fd` keeps a writer, the reader is
    /// removed but `Io` says that epoll refused the new interest (`fd` was closed, or its
    /// number reused, behind the loop's back).
    ///
    /// # Examples
    ///
    /// ```
    /// use std::io::Write;
    /// use std::os::fd::AsRawFd;
    ///
    /// let (mut a, b) = std::os::unix::net::UnixStream::pair()?;
    /// let lp = asyncio::EventLoop::new()?;
    /// lp.add_reader(b.as_raw_fd(), || panic!("removed before it could run"))?;
    /// assert!(lp.remove_reader(b.as_raw_fd())?);
    /// assert!(!lp.remove_reader(b.as_raw_fd())?, "no reader any more");
    /// a.write_all(b"x")?;
    /// lp.run_once(Some(std::time::Duration::ZERO))?; // `b` is readable: nobody is called
    /// # Ok::<_, Box<dyn std::error::Error>>(())
    /// ```
    // Checklist: L17, L16.
    pub fn remove_reader(&self, fd: RawFd) -> Result<bool, Error> {
        self.set_fd_callback(fd, false, None)
    }

    /// Stops watching `fd` for writing; `Ok(true)` if a writer was registered. As
    /// [`remove_reader`](Self::remove_reader), the other way round.
    ///
    /// # Errors
    /// As for [`remove_reader`](Self::remove_reader).
    ///
    /// # Examples
    ///
    /// ```
    /// use std::os::fd::AsRawFd;
    ///
    /// let (a, _b) = std::os::unix::net::UnixStream::pair()?;
    /// let lp = asyncio::EventLoop::new()?;
    /// lp.add_writer(a.as_raw_fd(), || panic!("removed before it could run"))?;
    /// assert!(lp.remove_writer(a.as_raw_fd())?);
    /// lp.run_once(Some(std::time::Duration::ZERO))?; // `a` is writable: nobody is called
    /// assert!(!lp.remove_writer(a.as_raw_fd())?, "no writer any more");
    /// # Ok::<_, Box<dyn std::error::Error>>(())
    /// ```
    // Checklist: L17.
    pub fn remove_writer(&self, fd: RawFd) -> Result<bool, Error> {
        self.set_fd_callback(fd, true, None)
    }
}

#[cfg(test)]
mod tests {
    use std::sync::atomic::{AtomicUsize, Ordering};
    use std::sync::Arc;
    use std::task::{Context, Poll, Wake, Waker};

    use mio::Interest;

    use crate::EventLoop;

    /// A waker whose last drop reads the loop's tables (`stats()`), as user code may.
    struct Probe(Arc<AtomicUsize>);

    impl Wake for Probe {
        fn wake(self: Arc<Self>) {}
    }

    impl Drop for Probe {
        fn drop(&mut self) {
            if let Ok(lp) = crate::get_running_loop() {
                let _ = lp.stats();
            }
            self.0.fetch_add(1, Ordering::SeqCst);
        }
    }

    #[test]
    fn poll_io_drops_a_replaced_waker_after_the_io_borrow() {
        let lp = EventLoop::new().unwrap();
        let (a, _b) = std::os::unix::net::UnixStream::pair().unwrap();
        a.set_nonblocking(true).unwrap();
        let mut a = mio::net::UnixStream::from_std(a);
        let key = lp
            .inner
            .register_wakers(&mut a, Interest::READABLE)
            .unwrap();
        let drops = Arc::new(AtomicUsize::new(0));
        let d = drops.clone();
        let inner = lp.inner.clone();
        lp.run_until_complete(async move {
            let first = Waker::from(Arc::new(Probe(d.clone())));
            let polled = inner.poll_io(key, false, &mut Context::from_waker(&first));
            assert_eq!(polled, Poll::Pending, "nothing to read yet");
            drop(first); // the registration holds the last clone
            let second = Waker::from(Arc::new(Probe(d.clone())));
            let polled = inner.poll_io(key, false, &mut Context::from_waker(&second));
            assert_eq!(polled, Poll::Pending);
            assert_eq!(d.load(Ordering::SeqCst), 1, "the replaced waker is dropped");
        })
        .unwrap();
        assert_eq!(drops.load(Ordering::SeqCst), 1);
        lp.inner.deregister(key, &mut a);
        assert_eq!(drops.load(Ordering::SeqCst), 2);
    }
}
