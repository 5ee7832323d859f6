//! The futures-io traits over real connections (issue #14 point 4): `AsyncRead`,
//! `AsyncBufRead` on `StreamReader`, `AsyncWrite` on `StreamWriter`, driven by futures-util's
//! `copy`, `lines`, `read_line`, `read_exact`. Run with `cargo test --features futures-io
//! --test futures_io`. Cites the stream ids (S*) whose semantics each impl must keep.
#![cfg(feature = "futures-io")]

#[path = "../util/mod.rs"]
mod util;

use util::port_of;

#[cfg(feature = "tls")]
#[path = "../tls_common/mod.rs"]
mod tls_common;

use std::cell::RefCell;
use std::future::poll_fn;
use std::io::{self, IoSlice};
use std::pin::Pin;
use std::rc::Rc;
use std::task::{Context, Poll, Waker};
use std::time::Duration;

use asyncio::{StreamReader, StreamWriter};
use futures_util::io::{AsyncBufReadExt, AsyncReadExt, AsyncWrite, AsyncWriteExt};
use futures_util::{FutureExt, StreamExt};

const BOUND: Duration = Duration::from_secs(30);

/// Runs `fut` on a fresh loop, bounded, and returns its output.
fn run<F: std::future::Future + 'static>(fut: F) -> F::Output {
    util::run_fresh(BOUND, fut)
}

/// Both ends of a Unix socket pair, as streams on the running loop.
async fn stream_pair() -> ((StreamReader, StreamWriter), (StreamReader, StreamWriter)) {
    let (a, b) = asyncio::socketpair().unwrap();
    let a = asyncio::open_connection_sock(a).await.unwrap();
    let b = asyncio::open_connection_sock(b).await.unwrap();
    (a, b)
}

/// A server that echoes through `futures_util::io::copy` until EOF, then closes.
async fn copy_echo(reader: StreamReader, writer: StreamWriter) -> io::Result<()> {
    let mut reader = reader;
    futures_util::io::copy(&mut reader, &mut &writer).await?;
    writer.close();
    Ok(())
}

/// `n` loop iterations that do not wait.
fn turns(lp: &asyncio::EventLoop, n: usize) {
    for _ in 0..n {
        lp.run_once(Some(Duration::ZERO)).unwrap();
    }
}

/// One futures-io read of `reader`: `poll_read`, or `poll_fill_buf` (the bytes' count).
async fn io_read(reader: &mut StreamReader, fill_buf: bool) -> io::Result<usize> {
    if fill_buf {
        AsyncBufReadExt::fill_buf(reader).await.map(|b| b.len())
    } else {
        AsyncReadExt::read(reader, &mut [0u8; 8]).await
    }
}

/// A waker that counts its wake-ups; its `Arc`'s strong count tells whether a list keeps it.
#[derive(Default)]
struct Counting(std::sync::atomic::AtomicUsize);

impl std::task::Wake for Counting {
    fn wake(self: std::sync::Arc<Self>) {
        self.wake_by_ref();
    }
    fn wake_by_ref(self: &std::sync::Arc<Self>) {
        self.0.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
    }
}

impl Counting {
    fn woken(&self) -> usize {
        self.0.load(std::sync::atomic::Ordering::Relaxed)
    }
}

/// `n` counting wakers, each a distinct waker (as a caller that wraps its waker anew at every
/// poll hands in).
fn counting_wakers(n: usize) -> Vec<std::sync::Arc<Counting>> {
    (0..n).map(|_| std::sync::Arc::default()).collect()
}

/// How many of `wakers` something besides the test still holds.
fn held(wakers: &[std::sync::Arc<Counting>]) -> usize {
    wakers
        .iter()
        .filter(|a| std::sync::Arc::strong_count(a) > 1)
        .count()
}

mod backpressure;
mod errors;
mod held;
mod timeouts;
#[cfg(feature = "tls")]
mod tls;
mod traits;
mod wakers;
