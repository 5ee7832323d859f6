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
//! - Lazy: activity and waits only *record* instants, read from the loop's per-iteration
//!   clock (`LoopInner::cached_now_ns`, no system call). The one timer is armed for the
//!   earliest deadline it knows of and is moved only when a new deadline is *earlier* than the
//!   armed one (a `reset`, not a cancel and an insert). When it fires it re-reads the
//!   recorded instants: what is due fails, what moved on (more activity, a read that
//!   completed) is re-armed for the time left. A busy connection costs one timer firing per
//!   timeout period, not one timer operation per message.
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

/// A timeout as nanoseconds on the loop's clock; `Duration::MAX` and other huge values
/// saturate at [`FAR_FUTURE`] (about 34 years), so no sum overflows.
fn ns(d: Duration) -> i64 {
    d.min(FAR_FUTURE).as_nanos() as i64
}

/// The instant of the last byte in either direction, shared by the core (bytes in) and the
/// writer (bytes out) of a connection with deadlines.
pub(crate) struct Activity {
    last: Cell<i64>,
    lp: Rc<LoopInner>,
}

impl Activity {
    /// Records activity now (this iteration's time: no clock read after the first).
    #[inline]
    pub(crate) fn touch(&self) {
        self.last.set(self.lp.cached_now_ns());
    }
}

/// One connection's timeouts and the waits they bound (in `StreamCore::deadlines`).
pub(crate) struct Deadlines {
    lp: Rc<LoopInner>,
    read: Option<Duration>,
    /// `read` in nanoseconds (`ns`), for the hot path.
    read_ns: Option<i64>,
    drain: Option<Duration>,
    idle: Option<Duration>,
    /// The read future waiting under the read timeout: its waiter id and when it began to
    /// wait. A later wait of another future replaces it.
    read_wait: Option<(u64, i64)>,
    /// The earliest deadline of a drain waiting under the drain timeout, until the timer
    /// wakes the drains to check their own.
    drain_due: Option<i64>,
    /// Last bytes in either direction, for the idle timeout.
    pub(crate) activity: Rc<Activity>,
    /// The armed wheel entry and its deadline (nanoseconds on the loop's clock).
    timer: Option<(TimerKey, i64)>,
    /// The idle timeout fired: the error every waiter and later call gets.
    pub(crate) idle_error: Option<SharedError>,
}

impl Deadlines {
    pub(crate) fn new(lp: Rc<LoopInner>) -> Box<Self> {
        let now = lp.cached_now_ns();
        Box::new(Deadlines {
            activity: Rc::new(Activity {
                last: Cell::new(now),
                lp: lp.clone(),
            }),
            lp,
            read: None,
            read_ns: None,
            drain: None,
            idle: None,
            read_wait: None,
            drain_due: None,
            timer: None,
            idle_error: None,
        })
    }

    pub(crate) fn now(&self) -> i64 {
        self.lp.cached_now_ns()
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

    pub(crate) fn set_read_timeout(&mut self, d: Option<Duration>, me: &Weak<RefCell<StreamCore>>) {
        self.read = d;
        self.read_ns = d.map(ns);
        // A read already waiting is bounded from when it began; arm for it at once.
        if let (Some(d), Some((_, since))) = (d, self.read_wait) {
            self.want(since.saturating_add(ns(d)), me);
        }
    }

    pub(crate) fn set_drain_timeout(&mut self, d: Option<Duration>) {
        // Drains already waiting pick the timeout up when next polled.
        self.drain = d;
    }

    /// Sets the idle timeout, counted from now (setting it is activity of a kind: a
    /// connection is not reaped for the silence before anyone asked).
    pub(crate) fn set_idle_timeout(&mut self, d: Option<Duration>, me: &Weak<RefCell<StreamCore>>) {
        self.idle = d;
        if let Some(d) = d {
            self.activity.touch();
            self.want(self.activity.last.get().saturating_add(ns(d)), me);
        }
    }

    /// A read future `id` is about to return `Pending`: records when its wait began (its
    /// first `Pending`) and whether the read timeout has passed since. True: fail it now.
    #[inline]
    pub(crate) fn read_timed_out(&mut self, id: u64, me: &Weak<RefCell<StreamCore>>) -> bool {
        let Some(d) = self.read_ns else {
            return false;
        };
        let now = self.now();
        let since = match self.read_wait {
            Some((w, since)) if w == id => since,
            _ => {
                self.read_wait = Some((id, now));
                now
            }
        };
        let due = since.saturating_add(d);
        if now >= due {
            self.read_wait = None;
            return true;
        }
        self.want(due, me);
        false
    }

    /// A drain that began waiting at `since` is about to return `Pending`: true if the drain
    /// timeout has passed since.
    pub(crate) fn drain_timed_out(&mut self, since: i64, me: &Weak<RefCell<StreamCore>>) -> bool {
        let Some(d) = self.drain else {
            return false;
        };
        let due = since.saturating_add(ns(d));
        if self.now() >= due {
            return true;
        }
        self.drain_due = Some(self.drain_due.map_or(due, |t| t.min(due)));
        self.want(due, me);
        false
    }

    /// Makes sure the timer fires no later than `at`: arms it if it is not armed, moves it
    /// if it is armed for later, and otherwise (the common case) does nothing.
    #[inline]
    fn want(&mut self, at: i64, me: &Weak<RefCell<StreamCore>>) {
        if !matches!(self.timer, Some((_, armed)) if armed <= at) {
            self.arm(at, me);
        }
    }

    #[cold]
    #[inline(never)]
    fn arm(&mut self, at: i64, me: &Weak<RefCell<StreamCore>>) {
        match self.timer {
            Some((key, _)) if self.lp.reset_timer_ns(key, at) => self.timer = Some((key, at)),
            _ => {
                let me = me.clone();
                let key = self
                    .lp
                    .insert_timer_ns(at, TimerEntry::Callback(new_callback(move || fire(&me))));
                self.timer = Some((key, at));
            }
        }
    }

    /// Takes the timer out of the wheel (the connection is gone, or the core is dropped).
    pub(crate) fn disarm(&mut self) {
        if let Some((key, _)) = self.timer.take() {
            self.lp.remove_timer(key);
        }
        self.read_wait = None;
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

/// The timer came due: fail or wake what is due, re-arm for what is not.
fn fire(me: &Weak<RefCell<StreamCore>>) {
    let Some(core) = me.upgrade() else {
        return;
    };
    let mut wake = Vec::new();
    let mut abort = None;
    {
        let mut guard = core.borrow_mut();
        let core = &mut *guard;
        let lost = core.is_lost();
        let Some(dl) = core.deadlines.as_mut() else {
            return;
        };
        dl.timer = None;
        if lost {
            return;
        }
        let now = dl.now();
        let mut next: Option<i64> = None;
        let mut later = |at: i64| next = Some(next.map_or(at, |n: i64| n.min(at)));
        if let Some(d) = dl.idle {
            let due = dl.activity.last.get().saturating_add(ns(d));
            if now >= due {
                // Both sides' waiters fail with it, and every later call: the reader keeps it
                // as its exception, `connection_lost` reports it to drain and wait_closed.
                let e = idle_error(d);
                dl.idle_error = Some(SharedError::from_io(&e));
                dl.idle = None;
                dl.read_wait = None;
                dl.drain_due = None;
                wake.extend(core.reader.set_exception(&e));
                wake.append(&mut core.waiters);
                abort = core.reader.transport().cloned();
            } else {
                later(due);
            }
        }
        if abort.is_none() {
            if let (Some(d), Some((id, since))) = (dl.read, dl.read_wait) {
                if core.reader.waiter_id() == Some(id) {
                    let due = since.saturating_add(ns(d));
                    if now >= due {
                        // The read sees its deadline passed when polled, and fails.
                        wake.extend(core.reader.wakeup_waiter());
                    } else {
                        later(due);
                    }
                } else {
                    dl.read_wait = None; // that read completed or was dropped
                }
            }
            if let (Some(_), Some(due)) = (dl.drain, dl.drain_due) {
                if now >= due {
                    // Each drain checks its own deadline; those not due wait again.
                    dl.drain_due = None;
                    wake.append(&mut core.waiters);
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
    if let Some(transport) = abort {
        log::debug!(target: "asyncio", "connection {}: idle timeout, aborted", transport.id());
        transport.abort();
    }
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
        // One per 10 s period (the timer fires, sees activity, re-arms), and some slack.
        assert!(inserts <= 6, "{inserts} timer inserts for 400 messages");
    }
}
