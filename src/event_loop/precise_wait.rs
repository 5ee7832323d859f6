//! Sleeping until a timer's exact deadline, below epoll's millisecond resolution.
//!
//! `epoll_wait` takes its timeout in whole milliseconds (mio rounds up), so a poll that must
//! end 10.4 ms from now sleeps 11: a timer's lateness would average half a millisecond.
//! CPython has the same floor (`selectors` rounds up to 1 ms too). So the loop polls for the
//! whole milliseconds only (waking up to 1 ms early if no I/O comes first), and the last
//! stretch, under a millisecond, it waits with `ppoll` on the epoll descriptor itself: that
//! takes a `timespec` and returns as soon as the deadline passes or any registered source
//! becomes ready, without consuming the readiness; the mio poll that follows has timeout 0.
//! Cost: one extra wake-up and one extra system call per timer that a wait ends on; none on
//! iterations that I/O ends.
//!
//! The only `unsafe` here is the `ppoll` FFI call.
#![allow(unsafe_code)]

use std::os::fd::RawFd;
use std::time::Duration;

/// Whether waiting `t` through epoll would round it up: it has a sub-millisecond part.
pub(crate) fn has_sub_ms_part(t: Duration) -> bool {
    t.subsec_nanos() % 1_000_000 != 0
}

/// `t` cut down to whole milliseconds (what epoll can wait without rounding up), saturating
/// instead of wrapping for durations whose millisecond count overflows a `u64`.
pub(crate) fn whole_ms(t: Duration) -> Duration {
    Duration::from_millis(u64::try_from(t.as_millis()).unwrap_or(u64::MAX))
}

/// Waits until `epoll_fd` is readable (some source is ready) or `timeout` has passed.
/// Interruptions and errors end the wait early; the caller polls right after either way.
pub(crate) fn wait(epoll_fd: RawFd, timeout: Duration) {
    let mut pfd = libc::pollfd {
        fd: epoll_fd,
        events: libc::POLLIN,
        revents: 0,
    };
    let ts = libc::timespec {
        tv_sec: timeout.as_secs().min(libc::time_t::MAX as u64) as libc::time_t,
        tv_nsec: timeout.subsec_nanos() as libc::c_long,
    };
    // SAFETY: `pfd` is one initialised pollfd and `ts` a valid timespec, both on this stack
    // for the whole call; a null sigmask leaves the signal mask unchanged. The result is only
    // a hint (the caller polls next), so it is ignored.
    unsafe {
        libc::ppoll(&mut pfd, 1, &ts, std::ptr::null());
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn whole_ms_cuts_the_sub_millisecond_part_and_saturates() {
        assert_eq!(whole_ms(Duration::ZERO), Duration::ZERO);
        assert_eq!(whole_ms(Duration::from_micros(999)), Duration::ZERO);
        assert_eq!(whole_ms(Duration::from_millis(1)), Duration::from_millis(1));
        assert_eq!(
            whole_ms(Duration::from_micros(10_400)),
            Duration::from_millis(10)
        );
        // Millisecond counts above u64::MAX: the cut saturates (it wrapped to a short wait).
        let huge = Duration::from_secs(u64::MAX / 2) + Duration::from_micros(500);
        assert_eq!(whole_ms(huge), Duration::from_millis(u64::MAX));
        assert_eq!(whole_ms(Duration::MAX), Duration::from_millis(u64::MAX));
        assert!(!has_sub_ms_part(whole_ms(huge)));
    }
}
