//! The far alarm: a `timerfd` in the loop's poll set that rings a little before the earliest
//! timer, when that timer is far away.
//!
//! Why: with a timer armed, every iteration would read the clock (to see whether it is due)
//! and compute a poll timeout from it. A connection with an idle or read timeout keeps one
//! timer armed for its whole life, seconds or minutes ahead, so that would be a cost per
//! message for a timer that does not fire. While the alarm is set ("far mode"), the kernel
//! watches the time instead: no timer can be due before the alarm rings, so the iteration
//! reads no clock and polls without a timeout; when it rings (`STALE_MARGIN` before the
//! earliest deadline), the loop is back to exact timeouts for the last stretch.
//!
//! Linux only (timerfd); elsewhere the loop never enters far mode. Never with a
//! `ManualClock`. Ground rule: far mode holds only while no timer is due before the alarm
//! (`LoopInner::timer_due_by` leaves it when an earlier one is filed).
#![allow(unsafe_code)]

use std::io;
use std::os::fd::{AsRawFd, FromRawFd, OwnedFd};

use mio::unix::SourceFd;
use mio::{Interest, Token};

/// The alarm's token in the poll set (the waker has `usize::MAX`).
pub(crate) const ALARM_TOKEN: Token = Token(usize::MAX - 1);

/// A one-shot `CLOCK_MONOTONIC` timerfd registered with the loop's poll (one per loop, made
/// with it, so a loop holds three descriptors: the poll, the waker and this).
pub(crate) struct Alarm {
    fd: OwnedFd,
}

impl Alarm {
    pub(crate) fn new(registry: &mio::Registry) -> io::Result<Alarm> {
        // SAFETY: plain system call with valid flags; the result is checked.
        let fd = unsafe {
            libc::timerfd_create(
                libc::CLOCK_MONOTONIC,
                libc::TFD_NONBLOCK | libc::TFD_CLOEXEC,
            )
        };
        if fd < 0 {
            return Err(io::Error::last_os_error());
        }
        // SAFETY: `fd` is a fresh descriptor nobody else owns.
        let fd = unsafe { OwnedFd::from_raw_fd(fd) };
        registry.register(
            &mut SourceFd(&fd.as_raw_fd()),
            ALARM_TOKEN,
            Interest::READABLE,
        )?;
        Ok(Alarm { fd })
    }

    /// Rings at `raw_ns` on `CLOCK_MONOTONIC` (absolute); replaces any earlier setting and
    /// clears a ring not yet read.
    pub(crate) fn set(&self, raw_ns: i64) -> io::Result<()> {
        let raw_ns = raw_ns.max(1); // 0 would disarm it
        let spec = libc::itimerspec {
            it_interval: libc::timespec {
                tv_sec: 0,
                tv_nsec: 0,
            },
            it_value: libc::timespec {
                tv_sec: (raw_ns / 1_000_000_000) as libc::time_t,
                tv_nsec: (raw_ns % 1_000_000_000) as libc::c_long,
            },
        };
        // SAFETY: `spec` is a valid itimerspec, the old value is not asked for, and the fd is
        // ours.
        let r = unsafe {
            libc::timerfd_settime(
                self.fd.as_raw_fd(),
                libc::TFD_TIMER_ABSTIME,
                &spec,
                std::ptr::null_mut(),
            )
        };
        if r < 0 {
            return Err(io::Error::last_os_error());
        }
        Ok(())
    }

    /// Reads the ring (if any) so the descriptor is quiet until it rings again.
    pub(crate) fn clear(&self) {
        let mut count = 0u64;
        // SAFETY: reads at most 8 bytes into `count`; a would-block error is expected.
        let _ = unsafe {
            libc::read(
                self.fd.as_raw_fd(),
                (&mut count as *mut u64).cast(),
                std::mem::size_of::<u64>(),
            )
        };
    }
}

#[cfg(test)]
mod tests {
    use std::cell::RefCell;
    use std::rc::Rc;
    use std::time::Duration;

    use crate::EventLoop;

    /// A far timer is left to the alarm (far mode), a nearer one filed meanwhile leaves far
    /// mode, and both fire in order, neither before its deadline.
    #[test]
    fn far_timers_ring_through_the_alarm_and_never_early() {
        let lp = EventLoop::new().unwrap();
        let h = lp.handle();
        let log: Rc<RefCell<Vec<(&str, bool)>>> = Rc::default();
        let far_when = h.time() + Duration::from_millis(1200);
        let (l, hh) = (log.clone(), h.clone());
        h.call_at(far_when, move || {
            l.borrow_mut().push(("far", hh.time() >= far_when))
        })
        .unwrap();
        lp.run_once(Some(Duration::from_millis(1))).unwrap();
        let alarm = h
            .inner
            .far_alarm
            .get()
            .expect("a timer 1.2 s ahead is left to the alarm");
        let far_ns = h.inner.clock.ns_of(far_when);
        assert!(alarm < far_ns, "the alarm rings before the deadline");
        // `next_timeout` (for embedders) stays exact in far mode.
        assert!(lp
            .next_timeout()
            .is_some_and(|t| t > Duration::from_secs(1)));
        let near_when = h.time() + Duration::from_millis(20);
        let (l, hh) = (log.clone(), h.clone());
        h.call_at(near_when, move || {
            l.borrow_mut().push(("near", hh.time() >= near_when))
        })
        .unwrap();
        assert!(!h.inner.is_far(), "a nearer timer leaves far mode");
        lp.run_until_complete(crate::sleep_until(far_when + Duration::from_millis(1)))
            .unwrap();
        assert_eq!(*log.borrow(), [("near", true), ("far", true)]);
        assert!(!h.inner.is_far());
    }

    /// A timer that never comes due (`Duration::MAX`, saturated where the loop's counts end)
    /// is left to the alarm too: the kernel takes an alarm that far ahead.
    #[test]
    fn a_never_due_timer_is_left_to_the_alarm() {
        let lp = EventLoop::new().unwrap();
        let h = lp.handle();
        h.call_later(Duration::MAX, || ()).unwrap();
        lp.run_once(Some(Duration::from_millis(1))).unwrap();
        assert!(h.inner.is_far(), "no far mode for a never-due timer");
    }
}
