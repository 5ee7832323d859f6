//! Per-stream deadlines: the read timeout, the drain timeout and the idle timeout of one
//! connection, all served by at most one timer-wheel entry.
//!
//! Nothing here is in CPython (there one wraps each call in `asyncio.wait_for`); the
//! behaviour of a deadline that passes is `wait_for`'s: the call fails with `TimeoutError` and,
//! our reads being cancel-safe, nothing is lost (D1).
//!
//! Ground rules:
//! - Free while unset: a core without deadlines holds `None`, and the hot paths test that
//!   pointer only when they are about to wait.
//! - Lazy, and no clock per message: a byte in or out only sets a flag, a read that begins
//!   to wait only stores its id. The one timer looks every eighth of the timeout (at least
//!   every millisecond) and dates what it finds at its own time: the last activity is no
//!   earlier than the look that saw the flag, a wait began no later than the look that first
//!   saw it (a read woken by bytes in the iteration of a look is out of the waiter slot at
//!   that look, yet still waiting: it keeps its date, by id). So a timeout never fires
//!   early, and fires at most an eighth of it late. A busy connection costs eight timer
//!   firings per timeout period, not one timer operation per message; and since its timer
//!   is far away (seconds) most of the time, the loop leaves it to the far alarm and reads
//!   no clock per iteration either (`event_loop/alarm.rs`).
//!   Recording the loop's time per message instead (one clock read per iteration, the poll
//!   timeout computed per iteration) cost 12 % more instructions per echoed message.
//! - Bytes that leave the write buffers are activity too, seen by the looks, not per message:
//!   each look of the idle timeout compares what waits to go out (the write buffers and the
//!   kernel's send queue) with the last look's figure; less, with no write between, means
//!   the peer took some. A large write that a slow peer reads over several timeouts is a
//!   transfer in flow, not an idle connection.
//! - Looks and `set_idle_timeout` read the clock afresh (once per look): what they date may
//!   have happened in this iteration after the loop's own reading, and an older date would
//!   end a timeout early.
//! - The one timer is armed for the earliest look it needs and moved only when a new one is
//!   *earlier* (a `reset`, not a cancel and an insert). Drains wait rarely: they are dated
//!   exactly, a drain's wait from a fresh clock reading when it begins (`fresh_now`), its
//!   checks against the loop's per-iteration clock (`LoopInner::cached_now_ns`), which can only
//!   lag the real time: a drain timeout never ends early. A drain timeout set while drains
//!   wait counts from the setting for them (`drain_set_at`), whatever they waited before.
//! - The timer holds the core weakly; the connection's loss takes the entry out of the wheel.

use std::cell::Cell;
use std::cell::RefCell;
use std::io;
use std::rc::{Rc, Weak};
use std::time::Duration;

use super::core::StreamCore;
use crate::error::SharedError;
use crate::event_loop::clock::FAR_FUTURE;
use crate::event_loop::handle::new_callback;
use crate::event_loop::timer_wheel::TimerKey;
use crate::event_loop::LoopInner;
use crate::event_loop::TimerEntry;
use crate::protocol::{when_cell_free, Hold, Need};

/// A timeout as nanoseconds on the loop's clock; `Duration::MAX` and other huge values
/// saturate at [`FAR_FUTURE`] (`i64::MAX` ns, never reached); sums with it saturate.
fn ns(d: Duration) -> i64 {
    d.min(FAR_FUTURE).as_nanos() as i64
}

/// What the idle timeout shares between the core's deadlines and the writer, made by the
/// first `set_idle_timeout` (a stream without an idle timeout has none, and pays nothing).
#[derive(Default)]
pub(crate) struct Activity {
    /// Whether the writer handed bytes over since the timer last looked: one store per
    /// write; the timer reads and clears it. (Bytes in: `Deadlines::received`.)
    active: Cell<bool>,
    /// `Deadlines::idle`, kept here too so the writer's getter answers without borrowing the
    /// core (a user may hold it: `get_protocol()` across an `.await`).
    idle: Cell<Option<Duration>>,
}

impl Activity {
    /// Records activity (no clock read: the timer dates it when it next looks).
    #[inline]
    pub(crate) fn touch(&self) {
        self.active.set(true);
    }

    /// The idle timeout in force: `Deadlines::idle`, readable while the core is borrowed.
    pub(crate) fn idle(&self) -> Option<Duration> {
        self.idle.get()
    }
}

/// How often the timer looks while a timeout `d` (nanoseconds) is watched: an eighth of it,
/// at least a millisecond (the wheel's tick). A deadline fires at most this late.
fn period(d: i64) -> i64 {
    (d / 8).max(1_000_000)
}

/// Where the timer's looks at the reads stand (read timeout only).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum ReadLooks {
    /// The timer does not look at reads: the next read that waits starts the looks.
    Off,
    /// It looks every `period(read)`; no read began to wait since the last look.
    Looking,
    /// It looks, and a read began to wait since the last look (the next look dates it).
    NewWait,
}

/// One connection's timeouts and the waits they bound (in `StreamCore::deadlines`).
pub(crate) struct Deadlines {
    lp: Rc<LoopInner>,
    read: Option<Duration>,
    /// `read` in nanoseconds (`ns`), for the hot path; `None` also once the idle timeout has
    /// fired (the connection is aborted, so nothing is left to bound).
    read_ns: Option<i64>,
    drain: Option<Duration>,
    /// When the drain timeout was last set (a fresh clock reading): no drain's wait counts
    /// from earlier, so a timeout set while a drain waits counts from the call.
    drain_set_at: i64,
    idle: Option<Duration>,
    /// The read future that last began to wait under the read timeout (0: none).
    read_waiting: u64,
    /// Whether the timer looks at the reads, and whether one began to wait since its last
    /// look. Changed only by [`set_read_looks`](Self::set_read_looks).
    read_looks: ReadLooks,
    /// The waiting read the timer has seen, and when it first saw it (no earlier than the
    /// read began to wait, so the timeout counted from there never fires early).
    read_seen: Option<(u64, i64)>,
    /// The timer found this read past its timeout: its next poll fails it.
    read_expired: u64,
    /// The timer set `read_expired` in its last look, and the loop's next step (where the
    /// read it woke, or that bytes woke, is polled) has not passed yet. Past it, a futures-io
    /// read polled under that id is a new read after an abandoned one (`read_expiry_stale`).
    #[cfg(feature = "futures-io")]
    read_expiry_fresh: bool,
    /// The earliest deadline of a drain waiting under the drain timeout, until the timer
    /// wakes the drains to check their own, or the last dated drain stops waiting.
    drain_due: Option<i64>,
    /// `Drain` futures whose wait is dated (`DrainStep::Waiting` with a `since`): counted
    /// so that the last one to return or be dropped takes `drain_due` (and the timer, if
    /// nothing else needs it) away (`drain_wait_ended`).
    drains_dated: u32,
    /// When the futures-io drain (`poll_write`, `poll_flush`) now waiting began to wait: its
    /// polls keep no state of their own, so the connection keeps it (one writer per
    /// connection). `None` when none waits, and after a resume (which ends every wait).
    #[cfg(feature = "futures-io")]
    io_drain_since: Option<i64>,
    /// The timer woke the drains since the futures-io drain last returned `Pending`, and the
    /// loop's next step has not yet passed: the poll that wake-up causes is the same wait.
    /// Any other poll may be a new drain after an abandoned one, and counts afresh (as an
    /// unwoken futures-io read does). Cleared by that poll, or after the woken tasks' steps
    /// (`wakes_unclaimed`): a drain abandoned before its deadline passed is not polled then.
    #[cfg(feature = "futures-io")]
    io_drain_woken: bool,
    /// Bytes out since the timer last looked, and the idle timeout, shared with the writer;
    /// made by the first `set_idle_timeout` (`idle_activity`): only a stream that sets an
    /// idle timeout holds the record.
    activity: Option<Rc<Activity>>,
    /// Bytes in since the timer last looked: set by the core, one store per message (here,
    /// not in `activity`, so that the store needs no second pointer); read and cleared by
    /// the idle timeout's looks, unused without one.
    received: Cell<bool>,
    /// An instant no earlier than the last activity the timer knows of.
    last_active: i64,
    /// The bytes written but not yet taken by the peer (the transport's write buffer and what
    /// the kernel holds unsent) at the timer's last look, for the idle timeout: fewer at the
    /// next look, with no write between, means bytes went out, which is activity.
    unsent_seen: usize,
    /// The armed wheel entry and its deadline (nanoseconds on the loop's clock).
    timer: Option<(TimerKey, i64)>,
    /// Set by `timer`'s entry as it fires, before it looks; cleared by the look that
    /// borrowed the core, or by arming anew. Set with the core free to borrow, it means the
    /// entry fired and found the core held by a user: `timer` names a spent entry, and the
    /// look waits for the borrow (`look_when_free`: it runs in the iteration after the
    /// borrow ends), so a deadline wanted meanwhile arms a fresh entry instead of trusting
    /// it. Shared with the entry's callback, which cannot borrow the core to say so.
    fired: Rc<Cell<bool>>,
    /// The idle timeout fired: the error every waiter and later call gets.
    pub(crate) idle_error: Option<SharedError>,
    /// Always [`Deadlines::arm`], held as a value so that only programs which set a timeout
    /// (the one way to make a `Deadlines`) link the timer, its callback and its work
    /// ([`fire`]); the read and drain paths, which every program links, reach them only
    /// through here.
    arm: fn(&mut Deadlines, i64, &Weak<RefCell<StreamCore>>),
    /// The stream's transport id (0: a reader fed by hand), for the timer to name it when it
    /// finds the core held, which it then cannot read.
    transport_id: u64,
}

impl Deadlines {
    pub(crate) fn new(lp: Rc<LoopInner>, transport_id: u64) -> Box<Self> {
        Box::new(Deadlines {
            activity: None,
            received: Cell::new(false),
            last_active: lp.cached_now_ns(),
            unsent_seen: 0,
            lp,
            read: None,
            read_ns: None,
            drain: None,
            drain_set_at: i64::MIN,
            idle: None,
            read_waiting: 0,
            read_looks: ReadLooks::Off,
            read_seen: None,
            read_expired: 0,
            #[cfg(feature = "futures-io")]
            read_expiry_fresh: false,
            drain_due: None,
            drains_dated: 0,
            #[cfg(feature = "futures-io")]
            io_drain_since: None,
            #[cfg(feature = "futures-io")]
            io_drain_woken: false,
            timer: None,
            fired: Rc::default(),
            idle_error: None,
            arm: Deadlines::arm,
            transport_id,
        })
    }

    pub(crate) fn now(&self) -> i64 {
        self.lp.cached_now_ns()
    }

    /// The clock read now, for the start of a drain's wait: the iteration's cached reading
    /// is older by whatever ran before in this iteration, and dating the start from it would
    /// end the drain's timeout that much early.
    pub(crate) fn fresh_now(&self) -> i64 {
        self.lp.clock.now_ns()
    }

    pub(crate) fn read_timeout(&self) -> Option<Duration> {
        self.read
    }

    pub(crate) fn drain_timeout(&self) -> Option<Duration> {
        self.drain
    }

    pub(crate) fn idle_timeout(&self) -> Option<Duration> {
        self.idle
    }

    /// Sets the read timeout; `waiting`: the read waiting right now, bounded from now on.
    pub(crate) fn set_read_timeout(
        &mut self,
        d: Option<Duration>,
        waiting: Option<u64>,
        me: &Weak<RefCell<StreamCore>>,
    ) {
        self.read = d;
        self.read_ns = d.map(ns);
        self.read_seen = None;
        self.read_expired = 0;
        self.read_waiting = waiting.unwrap_or(0);
        self.set_read_looks(ReadLooks::Off);
        if let (Some(d), Some(_)) = (self.read_ns, waiting) {
            self.start_read_checks(d, me);
        }
    }

    /// Sets the drain timeout. Drains already waiting pick it up when next polled (the
    /// caller wakes them) and count it from now, however long they have waited.
    pub(crate) fn set_drain_timeout(&mut self, d: Option<Duration>) {
        self.drain = d;
        self.drain_set_at = self.fresh_now();
        if d.is_none() {
            // No drain has a deadline any more.
            self.drain_due = None;
            self.drop_unused_timer();
        }
    }

    /// Bytes came in, for the idle timeout (no clock read: the timer dates it when it next
    /// looks).
    #[inline]
    pub(crate) fn touch(&self) {
        self.received.set(true);
    }

    /// The activity record the writer shares, made now if no idle timeout was set before.
    pub(crate) fn idle_activity(&mut self) -> Rc<Activity> {
        self.activity.get_or_insert_with(Rc::default).clone()
    }

    /// Takes `mine`, the record a writer made while the core was held, as the one the
    /// deadlines count in (if it is not that one already).
    pub(crate) fn adopt_activity(&mut self, mine: &Rc<Activity>) {
        if !self.activity.as_ref().is_some_and(|a| Rc::ptr_eq(a, mine)) {
            self.activity = Some(mine.clone());
        }
    }

    /// Sets the idle timeout, counted from now (setting it is activity of a kind: a
    /// connection is not reaped for the silence before anyone asked). `unsent`: what waits
    /// to go out now (`unsent_out`), when the timeout starts; `None` keeps the last look's.
    pub(crate) fn set_idle_timeout(
        &mut self,
        d: Option<Duration>,
        unsent: Option<usize>,
        me: &Weak<RefCell<StreamCore>>,
    ) {
        self.idle = d;
        let Some(d) = d else {
            if let Some(activity) = &self.activity {
                activity.idle.set(None);
            }
            return;
        };
        let activity = self.activity.get_or_insert_with(Rc::default);
        activity.idle.set(Some(d));
        activity.active.set(false);
        self.received.set(false);
        if let Some(unsent) = unsent {
            self.unsent_seen = unsent; // else the last look's figure stands
        }
        // A fresh reading: the iteration's may be older by what ran before in it, and
        // counting from there would end the idle period that much early.
        self.last_active = self.fresh_now();
        let d = ns(d);
        self.want(self.last_active.saturating_add(d.min(period(d))), me);
    }

    /// A read future `id` is about to return `Pending`: true if it must fail with
    /// `Error::Timeout` instead (the timer found it overdue, or the timeout is zero). Costs a
    /// few loads and stores: the wait is dated by the timer, not here.
    #[inline]
    pub(crate) fn read_timed_out(&mut self, id: u64, me: &Weak<RefCell<StreamCore>>) -> bool {
        let Some(d) = self.read_ns else {
            return false;
        };
        if d == 0 {
            return true; // zero: fail what would wait (only what would wait, unlike wait_for(…, 0))
        }
        if id != self.read_waiting {
            self.read_waiting = id;
            if self.read_looks == ReadLooks::Off {
                self.start_read_checks(d, me);
            } else {
                self.set_read_looks(ReadLooks::NewWait);
            }
            return false;
        }
        if self.read_expired == id {
            self.read_expired = 0;
            return true;
        }
        if self.read_looks == ReadLooks::Off {
            // The same read waits again after a look found the slot empty (it had been woken
            // by bytes that did not complete it): the looks go on, its date kept.
            self.start_read_checks(d, me);
        }
        false
    }

    /// The futures-io read `id` is polled again without having been woken since it began to
    /// wait: a new read (the one that waited was dropped) or the same one polled for another
    /// reason. Its wait counts from this poll on (`read_timed_out` dates it afresh), so an
    /// abandoned read does not shorten the next one's timeout.
    #[cfg(feature = "futures-io")]
    pub(crate) fn restart_read(&mut self, id: u64) {
        if self.read_waiting == id {
            self.read_waiting = 0;
            if matches!(self.read_seen, Some((w, _)) if w == id) {
                self.read_seen = None;
            }
            if self.read_expired == id {
                self.read_expired = 0;
            }
        }
    }

    /// The futures-io read `id` was found past its timeout and woken, and the step that
    /// wake-up caused is over without it being polled: it was abandoned, and a poll under
    /// `id` now is a new read (`restart_read`), not the expired one.
    #[cfg(feature = "futures-io")]
    pub(crate) fn read_expiry_stale(&self, id: u64) -> bool {
        self.read_expired == id && !self.read_expiry_fresh
    }

    /// The first wait since the timer stopped looking at reads: it looks again.
    #[cold]
    #[inline(never)]
    fn start_read_checks(&mut self, d: i64, me: &Weak<RefCell<StreamCore>>) {
        self.set_read_looks(ReadLooks::NewWait);
        self.want(self.now().saturating_add(period(d)), me);
    }

    /// The one place `read_looks` changes. Every move is legal but one: the looks start
    /// with a wait (`NewWait`), never straight at `Looking`: a look that finds them `Off`
    /// would mean a read waited without `read_timed_out` seeing it.
    #[inline]
    fn set_read_looks(&mut self, to: ReadLooks) {
        debug_assert!(
            !(self.read_looks == ReadLooks::Off && to == ReadLooks::Looking),
            "read looks Off -> Looking: a read waited unseen"
        );
        self.read_looks = to;
    }

    /// A drain that began waiting at `since` is about to return `Pending`: true if the drain
    /// timeout has passed since, or since the timeout was set if that is later. (Drains wait
    /// rarely; they are dated exactly.)
    pub(crate) fn drain_timed_out(&mut self, since: i64, me: &Weak<RefCell<StreamCore>>) -> bool {
        let Some(d) = self.drain else {
            return false;
        };
        if d.is_zero() {
            // Zero fails what would wait, now: `since` is a fresh reading and `now()` the
            // iteration's older one, which compared would put it off to the timer's firing.
            return true;
        }
        // A drain dated under an earlier setting counts the new one from its setting.
        let due = since.max(self.drain_set_at).saturating_add(ns(d));
        if self.now() >= due {
            return true;
        }
        self.drain_due = Some(self.drain_due.map_or(due, |t| t.min(due)));
        self.want(due, me);
        false
    }

    /// Writing resumed: every drain waiting is released, so the timer has no drain to wake
    /// when the earliest one's deadline comes (it would wake the stream's other waiters for
    /// nothing). The timer itself goes when the released drains return (`drain_wait_ended`).
    /// The futures-io drain's wait ends too: a `poll_write`/`poll_flush` abandoned while it
    /// waited would otherwise date the next one's wait, which then failed early.
    pub(crate) fn drains_released(&mut self) {
        self.drain_due = None;
        #[cfg(feature = "futures-io")]
        {
            self.io_drain_since = None;
        }
        self.release_drain_due();
    }

    /// A `Drain` dates its wait: counted until it returns or is dropped.
    pub(crate) fn drain_wait_dated(&mut self) {
        self.drains_dated = self.drains_dated.saturating_add(1);
    }

    /// A `Drain` whose wait was dated returned or was dropped: once no dated drain waits,
    /// no drain deadline is left, and the timer goes if nothing else needs it.
    // Out of line: only a writer with a drain timeout gets here; inlined, it was copied into
    // each of the four places a `Drain` ends (0.7 KiB of the echo client).
    #[inline(never)]
    pub(crate) fn drain_wait_ended(&mut self) {
        self.drains_dated = self.drains_dated.saturating_sub(1);
        self.release_drain_due();
    }

    /// Drops `drain_due` if no drain with a dated wait is left (nor a futures-io one).
    fn release_drain_due(&mut self) {
        #[cfg(feature = "futures-io")]
        if self.io_drain_since.is_some() {
            return;
        }
        if self.drains_dated == 0 {
            self.drain_due = None;
            self.drop_unused_timer();
        }
    }

    /// Takes the timer out of the wheel if no look is wanted: no drain deadline, no idle
    /// timeout, no read looks. (Otherwise it fires as armed; a look re-arms as needed.)
    fn drop_unused_timer(&mut self) {
        if self.drain_due.is_none() && self.idle.is_none() && self.read_looks == ReadLooks::Off {
            if let Some((key, _)) = self.timer.take() {
                self.lp.remove_timer(key);
            }
        }
    }

    /// A futures-io drain is about to return `Pending`: true if it has waited past the drain
    /// timeout since its first `Pending` (then the next one starts afresh). A poll that nothing
    /// woke since the last `Pending` counts afresh too: with no future of its own to carry the
    /// date, a drain cannot tell a new `poll_write` after an abandoned one from the same one
    /// polled again, and the abandoned one's date must not shorten the new one's timeout.
    #[cfg(feature = "futures-io")]
    pub(crate) fn io_drain_timed_out(&mut self, me: &Weak<RefCell<StreamCore>>) -> bool {
        if self.drain.is_none() {
            self.io_drain_since = None;
            return false;
        }
        let woken = std::mem::replace(&mut self.io_drain_woken, false);
        let began = match self.io_drain_since {
            Some(t) if woken => t,
            _ => {
                let t = self.fresh_now();
                self.io_drain_since = Some(t);
                t
            }
        };
        let out = self.drain_timed_out(began, me);
        if out {
            self.io_drain_since = None;
            self.release_drain_due();
        }
        out
    }

    /// The tasks the timer woke have had their step: a futures-io drain or read that none
    /// polled was abandoned (dropped while it waited), and whatever polls next is a new one,
    /// timed afresh.
    #[cfg(feature = "futures-io")]
    fn wakes_unclaimed(&mut self) {
        self.read_expiry_fresh = false;
        if std::mem::replace(&mut self.io_drain_woken, false) {
            self.io_drain_since = None;
            self.release_drain_due();
        }
    }

    /// The futures-io drain returned (flowing again, lost, failed): no wait to date.
    #[cfg(feature = "futures-io")]
    pub(crate) fn io_drain_done(&mut self) {
        if self.io_drain_since.take().is_some() {
            self.release_drain_due();
        }
    }

    /// Makes sure the timer fires no later than `at`: arms it if it is not armed, moves it
    /// if it is armed for later, and otherwise (the common case) does nothing.
    /// An entry that fired and found the core held (`fired`) is spent: a fresh one is
    /// armed, no later than the spent one's time, so the look it missed runs at the next
    /// iteration rather than at the held look's next retry.
    #[inline]
    fn want(&mut self, at: i64, me: &Weak<RefCell<StreamCore>>) {
        match self.timer {
            Some((_, armed)) if armed <= at => {
                if self.fired.get() {
                    (self.arm)(self, armed, me);
                }
            }
            _ => (self.arm)(self, at, me),
        }
    }

    /// Arms the timer for `at` (see [`want`](Self::want)); called through the `arm` field.
    #[cold]
    #[inline(never)]
    fn arm(&mut self, at: i64, me: &Weak<RefCell<StreamCore>>) {
        let spent = self.fired.replace(false);
        match self.timer {
            Some((key, _)) if !spent && self.lp.reset_timer_ns(key, at) => {
                self.timer = Some((key, at));
            }
            _ => {
                let (me, fired) = (me.clone(), self.fired.clone());
                let id = self.transport_id;
                let look = move || {
                    fired.set(true);
                    fire(&me, id);
                };
                let key = self
                    .lp
                    .insert_timer_ns(at, TimerEntry::Callback(new_callback(look)));
                self.timer = Some((key, at));
            }
        }
    }

    /// Takes the timer out of the wheel (the connection is gone, or the core is dropped).
    pub(crate) fn disarm(&mut self) {
        if let Some((key, _)) = self.timer.take() {
            self.lp.remove_timer(key);
        }
        self.fired.set(false);
        self.set_read_looks(ReadLooks::Off);
        self.read_seen = None;
        self.drain_due = None;
    }
}

impl Drop for Deadlines {
    fn drop(&mut self) {
        self.disarm();
    }
}

/// The idle timeout's error: `TimedOut`, saying which timeout and how long.
fn idle_error(d: Duration) -> io::Error {
    io::Error::new(
        io::ErrorKind::TimedOut,
        format!("idle timeout: no bytes in either direction for {d:?}"),
    )
}

/// What was written to the connection and the peer has not taken yet, as a figure that falls
/// when it takes some (`Transport::unsent_mark`). Read once per look of the idle timeout,
/// never per message.
pub(crate) fn unsent_out(transport: Option<&crate::transport::Transport>) -> usize {
    transport.map_or(0, crate::transport::Transport::unsent_mark)
}

/// The timer came due: date what happened since it last looked, fail what is overdue, and
/// re-arm for the next look.
fn fire(me: &Weak<RefCell<StreamCore>>, id: u64) {
    let Some(core) = me.upgrade() else {
        return;
    };
    let mut wake = Vec::new();
    let mut abort = None;
    // The look woke the futures-io drain or failed a read: see `io_drain_woken` and
    // `read_expiry_fresh`.
    #[cfg(feature = "futures-io")]
    let mut io_woken = false;
    {
        let Ok(mut guard) = core.try_borrow_mut() else {
            // A user holds the stream's protocol (`get_protocol()`, borrowed across an
            // `.await`): look again once it is free, as a transport waits for a held
            // protocol; the timeouts stay enforced.
            look_when_free(me, id);
            return;
        };
        let core = &mut *guard;
        let lost = core.is_lost();
        let waiter = core.reader.waiter_id();
        let Some(dl) = core.deadlines.as_mut() else {
            return;
        };
        // The entry that fired is gone; unless this look was held back by a user's borrow
        // and a fresh entry was armed since (`want`), which stays.
        if dl.fired.replace(false) {
            dl.timer = None;
        }
        if lost {
            return;
        }
        // A fresh reading, once per look: what it dates (activity seen, a wait first seen)
        // may have happened in this iteration after the loop read its clock, and dating it
        // at that older time would make a timeout end early.
        let now = dl.fresh_now();
        let mut next: Option<i64> = None;
        let mut later = |at: i64| next = Some(next.map_or(at, |n: i64| n.min(at)));
        if let Some(d) = dl.idle {
            let d = ns(d);
            // Bytes handed over since the last look, or fewer waiting to go out (the peer
            // took some: a large write drained by a slow reader is a transfer in flow).
            // Measured only here: the read and drain looks need no system call.
            let unsent = unsent_out(core.reader.transport());
            let drained = unsent < dl.unsent_seen;
            dl.unsent_seen = unsent;
            // Bytes in or out since the last look; both flags cleared here.
            let received = dl.received.replace(false);
            let sent = dl
                .activity
                .as_ref()
                .is_some_and(|a| a.active.replace(false));
            if received || sent || drained {
                dl.last_active = now; // bytes moved since the last look: no earlier than them
            }
            if now.saturating_sub(dl.last_active) >= d {
                // Both sides' waiters fail with it, and every later call: the reader keeps it
                // as its exception, `connection_lost` reports it to drain and wait_closed.
                let e = idle_error(dl.idle.unwrap_or_default());
                dl.idle_error = Some(SharedError::from_io(&e));
                // The timer stops looking; the read and drain settings stay as the user set
                // them (their getters report them), only the idle timeout is spent.
                dl.idle = None;
                if let Some(activity) = &dl.activity {
                    activity.idle.set(None);
                }
                dl.read_ns = None;
                dl.drain_due = None;
                wake.extend(core.reader.set_exception(&e));
                wake.extend(core.waiters.drain());
                abort = core.reader.transport().cloned();
            } else {
                later(
                    dl.last_active
                        .saturating_add(d)
                        .min(now.saturating_add(period(d))),
                );
            }
        }
        if abort.is_none() {
            if let Some(d) = dl.read_ns {
                // The read in the waiter slot, if it waits under the timeout.
                let in_slot = waiter.filter(|&w| w == dl.read_waiting);
                // Or the read last seen waiting, or one that began to wait since the last
                // look, out of the slot: bytes that arrived in this iteration (I/O runs
                // before the timers) woke it, and it runs after this look. It may wait
                // again, under the same id: it keeps its date, and fails if past it (ids
                // are never reused, so a read that completed instead is never failed).
                let out_of_slot = (dl.read_waiting != 0
                    && (dl.read_looks == ReadLooks::NewWait
                        || matches!(dl.read_seen, Some((id, _)) if id == dl.read_waiting)))
                .then_some(dl.read_waiting);
                match in_slot.or(out_of_slot) {
                    Some(w) => {
                        let since = match dl.read_seen {
                            Some((id, t)) if id == w => t,
                            _ => {
                                dl.read_seen = Some((w, now));
                                now
                            }
                        };
                        if now.saturating_sub(since) >= d {
                            dl.read_expired = w;
                            #[cfg(feature = "futures-io")]
                            {
                                dl.read_expiry_fresh = true;
                                io_woken = true;
                            }
                            dl.read_seen = None;
                            // The read sees it when polled, and fails. Woken by us, not
                            // by the socket: a read-through it parked ends first (it may be
                            // dropped before it looks again).
                            if in_slot.is_some() {
                                core.reader.end_parked_through();
                                wake.extend(core.reader.wakeup_waiter());
                            }
                        } else {
                            // (Out of the slot: one look at its deadline, whatever follows.)
                            later(since.saturating_add(d));
                        }
                    }
                    None => dl.read_seen = None,
                }
                if in_slot.is_some() || dl.read_looks == ReadLooks::NewWait {
                    dl.set_read_looks(ReadLooks::Looking);
                    later(now.saturating_add(period(d)));
                } else {
                    dl.set_read_looks(ReadLooks::Off); // the next wait starts the looks again
                }
            }
            if let (Some(_), Some(due)) = (dl.drain, dl.drain_due) {
                if now >= due {
                    // Each drain checks its own deadline; those not due wait again.
                    dl.drain_due = None;
                    #[cfg(feature = "futures-io")]
                    {
                        dl.io_drain_woken = dl.io_drain_since.is_some();
                        io_woken |= dl.io_drain_woken;
                    }
                    wake.extend(core.waiters.drain());
                } else {
                    later(due);
                }
            }
            if let Some(at) = next {
                dl.want(at, me);
            }
        }
    }
    for w in wake {
        w.wake();
    }
    #[cfg(feature = "futures-io")]
    if io_woken {
        forget_unclaimed_wakes(me, id);
    }
    if let Some(transport) = abort {
        crate::event_loop::debug::debug_log!(
            "connection {}: idle timeout, aborted",
            transport.id()
        );
        transport.abort();
    }
}

/// A look's wake-up of the futures-io drain, or its failing of a read, holds for the steps of
/// the tasks just woken, not beyond: a callback queued after them (on the ready queue, in
/// order) ends it, whether or not a poll took it.
#[cfg(feature = "futures-io")]
#[cold]
#[inline(never)]
fn forget_unclaimed_wakes(me: &Weak<RefCell<StreamCore>>, id: u64) {
    // The timer's own loop: it runs.
    let Some(lp) = crate::event_loop::current_loop() else {
        return;
    };
    let me = me.clone();
    let again = lp.clone();
    // A closed loop refuses it: nothing will poll the drain again.
    drop(lp.call_soon(move || {
        // Held by a user (`get_protocol()`): forgotten once the borrow ends, as a held
        // protocol's calls wait (skipped, a later poll kept the wait's old start and failed
        // early, and the drain deadline stayed armed).
        let forget = |cell: &RefCell<StreamCore>| {
            if let Some(dl) = cell.borrow_mut().deadlines.as_mut() {
                dl.wakes_unclaimed();
            }
        };
        when_cell_free(
            again,
            id,
            me,
            Need::Exclusive,
            Box::new(forget),
            Hold::new(),
        );
    }));
}

/// `fire` again once the stream core is no longer borrowed: next turns, then spaced out, with
/// one warning after a while (`Hold`).
#[cold]
#[inline(never)]
fn look_when_free(me: &Weak<RefCell<StreamCore>>, id: u64) {
    let Some(lp) = crate::event_loop::current_loop() else {
        return;
    };
    let again = me.clone();
    let look = move |_: &RefCell<StreamCore>| fire(&again, id);
    when_cell_free(
        lp,
        id,
        me.clone(),
        Need::Exclusive,
        Box::new(look),
        Hold::new(),
    );
}

#[cfg(test)]
mod tests {
    use std::time::Duration;

    use crate::{EventLoop, ManualClock};

    /// Lazy re-arming: a busy stream with a read and an idle timeout files one timer when the
    /// timeouts are set, and then one per timeout period, not one per message.
    #[test]
    fn a_busy_stream_rearms_once_per_period_not_per_message() {
        let clock = ManualClock::new();
        let lp = EventLoop::with_clock(clock.clone()).unwrap();
        let inner = lp.handle().inner.clone();
        let c = clock.clone();
        let (inserts, timers) = lp
            .run_until_complete(async move {
                let (a, b) = crate::socketpair()?;
                let (reader, writer) = crate::open_connection_sock(a).await?;
                let (peer_reader, peer_writer) = crate::open_connection_sock(b).await?;
                reader.set_read_timeout(Some(Duration::from_secs(10)))?;
                writer.set_idle_timeout(Some(Duration::from_secs(10)));
                let before = inner.timer_inserts.get();
                let mut most_timers = 0;
                // 400 echoed messages over 40 s of loop time: 100 ms apart.
                for i in 0..400u32 {
                    c.advance(Duration::from_millis(100));
                    peer_writer.write(&i.to_be_bytes())?;
                    let got = reader.readexactly(4).await?;
                    writer.write(&got)?;
                    writer.drain().await?;
                    assert_eq!(peer_reader.readexactly(4).await?, i.to_be_bytes());
                    most_timers = most_timers.max(crate::get_running_loop()?.stats().timers);
                }
                writer.close();
                peer_writer.close();
                writer.wait_closed().await?;
                Ok::<_, crate::Error>((inner.timer_inserts.get() - before, most_timers))
            })
            .unwrap()
            .unwrap();
        assert_eq!(timers, 1, "one wheel entry for the stream");
        // The timer looks every 1.25 s (an eighth of the timeouts) and re-arms: about 32
        // inserts for 40 s, whatever the number of messages in them.
        assert!(
            inserts <= 40 * 8 / 10 + 2,
            "{inserts} timer inserts for 400 messages"
        );
    }
}
