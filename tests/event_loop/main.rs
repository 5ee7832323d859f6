//! The event loop, tasks and timers (issue #2). Each test cites the ids of
//! `asyncio-semantics.md` it covers. Time is virtual (ManualClock) wherever a test is about
//! timer order; real-clock tests only wait for events, never sleep to synchronise.

#[path = "../util/mod.rs"]
mod util;

use std::cell::{Cell, RefCell};
use std::io::Write;
use std::os::fd::{AsRawFd, RawFd};
use std::os::unix::net::UnixStream;
use std::rc::Rc;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Arc;
use std::time::Duration;

use asyncio::{Error, EventLoop, ManualClock};
use util::{capture_exceptions, Log};

fn ms(n: u64) -> Duration {
    Duration::from_millis(n)
}

/// Another executor's waker whose `wake` panics (`foreign waker failed`).
fn waker_whose_wake_panics() -> std::task::Waker {
    use std::task::{RawWaker, RawWakerVTable};
    fn clone(data: *const ()) -> RawWaker {
        RawWaker::new(data, &VTABLE)
    }
    fn wake(_: *const ()) {
        panic!("foreign waker failed");
    }
    fn noop(_: *const ()) {}
    static VTABLE: RawWakerVTable = RawWakerVTable::new(clone, wake, wake, noop);
    foreign_waker(&VTABLE)
}

/// Another executor's waker whose clones panic as they drop (`drop fails`); the one returned
/// is to be forgotten by the test, so that only the clone the crate filed fails.
fn waker_whose_drop_panics() -> std::task::Waker {
    use std::task::{RawWaker, RawWakerVTable};
    fn clone(data: *const ()) -> RawWaker {
        RawWaker::new(data, &VTABLE)
    }
    fn noop(_: *const ()) {}
    fn drop_fails(_: *const ()) {
        panic!("drop fails");
    }
    static VTABLE: RawWakerVTable = RawWakerVTable::new(clone, noop, noop, drop_fails);
    foreign_waker(&VTABLE)
}

/// A waker of `vtable`, whose functions ignore the data pointer.
fn foreign_waker(vtable: &'static std::task::RawWakerVTable) -> std::task::Waker {
    // SAFETY: the vtable's functions ignore the data pointer, so any pointer is valid, and
    // each satisfies the `RawWaker` contract (clone returns the same vtable).
    #[allow(unsafe_code)]
    unsafe {
        std::task::Waker::from_raw(std::task::RawWaker::new(std::ptr::null(), vtable))
    }
}

mod drop_panics;
mod errors;
mod executor_cancel;
mod executor_pool;
mod fd_callback_reports;
mod foreign_wakers;
mod hunt_loop;
mod io_callbacks;
mod lifecycle;
mod run;
mod scheduling;
mod selector_errors;
mod tasks;
mod threadsafe;
mod timers;
