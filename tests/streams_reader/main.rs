//! `StreamReader` without a connection: the reader cases of CPython's
//! `Lib/test/test_asyncio/test_streams.py` (StreamTests), plus cancel safety (D1, S22), the
//! one-waiter rule (S20, S21), `lines()` (S40) and a property test against a model.
//!
//! Each test cites the `asyncio-semantics.md` ids it covers. Data is fed from callbacks
//! (`call_soon`) or spawned tasks; waiting is bounded by the loop's own ordering, never by
//! sleeps. Python's `stream._buffer` checks become `drain`, which takes what is buffered
//! without waiting. S14–S16 (pause/resume) need a transport and are tested beside the code, in
//! `src/streams/reader.rs`.

use std::future::Future;
use std::io;
use std::pin::pin;
use std::rc::Rc;
use std::task::{Context, Poll, Waker};
use std::time::Duration;

use asyncio::streams::reader::StreamReader;
use asyncio::{Error, EventLoop};

/// `self.DATA` of test_streams.py.
const DATA: &[u8] = b"line1\nline2\nline3\n";

fn new_loop() -> EventLoop {
    EventLoop::new().expect("event loop")
}

/// Polls `fut` once with a waker that does nothing, then drops it.
fn poll_once<F: Future>(fut: F) -> Poll<F::Output> {
    pin!(fut).poll(&mut Context::from_waker(Waker::noop()))
}

/// Takes everything buffered, without waiting (Python's `stream._buffer`).
fn drain(r: &StreamReader) -> Vec<u8> {
    match poll_once(r.read(isize::MAX)) {
        Poll::Ready(Ok(v)) => v,
        Poll::Pending => Vec::new(),
        Poll::Ready(Err(e)) => panic!("drain: {e}"),
    }
}

/// A bound on every test's wait: a read that would wait forever fails the test instead.
const BOUND: Duration = Duration::from_secs(10);

/// Runs `fut` on the loop and returns its output.
fn block<F: Future>(lp: &EventLoop, fut: F) -> F::Output {
    lp.run_until_complete(asyncio::timeout(BOUND, fut))
        .expect("run_until_complete")
        .expect("waited too long: a read that should complete kept waiting")
}

/// Runs the loop until `task` finishes; returns its output.
fn run_task<T: 'static>(lp: &EventLoop, task: asyncio::Task<T>) -> T {
    block(lp, task).expect("task was cancelled")
}

fn spawn<T: 'static, F: Future<Output = T> + 'static>(lp: &EventLoop, fut: F) -> asyncio::Task<T> {
    lp.spawn(fut).expect("spawn")
}

/// Schedules `f(&reader)` as a loop callback.
fn call_soon(lp: &EventLoop, r: &Rc<StreamReader>, f: impl FnOnce(&StreamReader) + 'static) {
    let r = r.clone();
    lp.call_soon(move || f(&r)).expect("call_soon");
}

fn io_error(msg: &str) -> io::Error {
    io::Error::other(msg.to_string())
}

fn is_io(r: &Result<Vec<u8>, Error>, msg: &str) -> bool {
    matches!(r, Err(Error::Io(e)) if e.to_string() == msg)
}

fn overrun(r: Result<Vec<u8>, Error>) -> (&'static str, usize) {
    match r {
        Err(Error::LimitOverrun { message, consumed }) => (message, consumed),
        other => panic!("expected LimitOverrun, got {other:?}"),
    }
}

/// Runs `fut` with a zero timeout: polled once (D4), then dropped if still pending.
async fn cancelled<F: Future>(fut: F) -> Option<F::Output> {
    asyncio::timeout(Duration::ZERO, fut).await.ok()
}

mod cancel_safety;
mod lines;
mod model;
mod one_waiter;
mod read;
mod readexactly;
mod readline;
mod readuntil;
mod set_exception;
