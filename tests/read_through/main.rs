//! Read-through (issue #12): a `read_into` that finds its reader empty reads from the socket
//! straight into the caller's memory; the transport's next readable edge wakes it instead of
//! reading into the reader's buffer. These tests pin what must not change with it: no byte
//! lost or reordered when a read-through ends another way (a shorter buffer, a `readline`
//! next, a drop after the wake-up), no read while reading is paused, EOF and a reset reported
//! as on the protocol path (S17, S18, S19, S63, L61, L62). A read that meets the EOF itself
//! returns it in that poll; the protocol still hears it on a later turn.
//!
//! Peers are blocking std sockets the test writes to itself, after the read is known to wait:
//! no thread, no sleep. Every wait is bounded.

#[path = "../util/mod.rs"]
mod util;

use std::future::Future;
use std::io::{ErrorKind, Read, Write};
use std::net::{Shutdown, TcpListener};
use std::pin::pin;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::task::{Poll, Wake, Waker};
use std::time::Duration;

use util::{poll_with, reader_buffered, Panicky};

const BOUND: Duration = Duration::from_secs(20);

/// Runs `fut` on a fresh loop, bounded.
fn run<T: 'static>(fut: impl Future<Output = T> + 'static) -> T {
    asyncio::run(asyncio::timeout(BOUND, fut))
        .unwrap()
        .expect("test timed out")
}

/// A waker that only records that it was woken.
#[derive(Default)]
struct Flag(AtomicBool);

impl Wake for Flag {
    fn wake(self: Arc<Self>) {
        self.0.store(true, Ordering::SeqCst);
    }
}

impl Flag {
    fn is_set(&self) -> bool {
        self.0.load(Ordering::SeqCst)
    }
}

/// Polls `fut` once with the task's own waker: it must wait.
async fn must_wait<F: Future + ?Sized>(mut fut: std::pin::Pin<&mut F>) {
    std::future::poll_fn(|cx| {
        assert!(fut.as_mut().poll(cx).is_pending(), "the read did not wait");
        Poll::Ready(())
    })
    .await;
}

/// Lets the loop turn until `flag` is set (bounded).
async fn turn_until(flag: &Flag) {
    for _ in 0..10_000 {
        if flag.is_set() {
            return;
        }
        asyncio::yield_now().await;
    }
    panic!("never woken");
}

mod eof_and_reset;
mod foreign_wakers;
mod mixed_reads;
mod reading;
mod wake_ups;
