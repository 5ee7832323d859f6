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
