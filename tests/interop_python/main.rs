//! Interop with the specification itself: our streams against CPython's asyncio as the peer.
//!
//! Each test runs one `python3` child (the script `PEER` in `peer.rs`, a mode chosen by
//! argument) and our loop in the test thread. Both directions are covered: our `start_server` /
//! `start_unix_server` against Python's `open_connection` / `open_unix_connection`, and our
//! `open_connection` / `open_unix_connection` against Python's `start_server` /
//! `start_unix_server`; echo, half-close (S44, S63), 16 MiB with `drain` (S48–S52, S14–S16),
//! and `readline` / `readuntil` / `readexactly` over data Python sends in awkward fragments
//! (S27–S38).
//!
//! Ground rules: every wait is bounded. The test body runs under `asyncio::timeout` (20 s), the
//! Python side under `asyncio.wait_for` (15 s), and the child is killed when its guard drops. A
//! thread reads the child's stdout and wakes the loop through the task's `Waker`, which crosses
//! threads by the loop's thread-safe queue (L21); the only polling is for the child's exit after
//! its stdout has closed. If `python3` is missing, each test prints why and passes (CI installs
//! it). Python's fragment timing (`asyncio.sleep` between writes) is the peer's behaviour: our
//! assertions never depend on how the bytes were split.

#[path = "../util/mod.rs"]
mod util;

use std::collections::VecDeque;
use std::future::{poll_fn, Future};
use std::io::{BufRead, BufReader, Read};
use std::process::{Child, Command, Stdio};
use std::rc::Rc;
use std::sync::{Arc, Mutex, OnceLock};
use std::task::{Poll, Waker};
use std::thread::JoinHandle;
use std::time::Duration;

use asyncio::{Error, StreamReader, StreamWriter};
use peer::Peer;
use util::{capture_exceptions, temp_dir, Log};

/// Bound on each test body; each takes about a second, most of it Python starting up.
const LIMIT: Duration = Duration::from_secs(20);

/// Whether `python3` can run asyncio here; checked once per test binary.
fn have_python() -> bool {
    static HAVE: OnceLock<bool> = OnceLock::new();
    *HAVE.get_or_init(|| {
        Command::new("python3")
            .args(["-c", "import asyncio"])
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .status()
            .is_ok_and(|s| s.success())
    })
}

/// Returns from the test, after saying why, when `python3` is missing.
macro_rules! require_python {
    () => {
        if !have_python() {
            eprintln!("skipped: python3 with asyncio is not installed");
            return;
        }
    };
}

/// Runs `body` on a fresh loop under [`LIMIT`]; fails on an error, a timeout, or anything
/// reported to the loop's exception handler (a failing connection handler lands there, S60).
fn run_bounded(body: impl Future<Output = Result<(), Error>> + 'static) {
    let (out, reported) = asyncio::run(async move {
        let lp = asyncio::get_running_loop().expect("running loop");
        let reported = capture_exceptions(&lp);
        let out = asyncio::timeout(LIMIT, body).await;
        let reported = reported.borrow().clone();
        (out, reported)
    })
    .expect("loop runs");
    match out {
        Ok(Ok(())) => {}
        Ok(Err(e)) => panic!("test body failed: {e} ({e:?})"),
        Err(e) => panic!("test body did not finish within {LIMIT:?}: {e}"),
    }
    assert!(reported.is_empty(), "exception handler got: {reported:?}");
}

/// The bytes `pattern(n)` makes in `PEER`: word i, little-endian, holds i.
fn pattern(n: usize) -> Vec<u8> {
    let mut v = Vec::with_capacity(n + 4);
    for i in 0..n.div_ceil(4) {
        v.extend_from_slice(&(i as u32).to_le_bytes());
    }
    v.truncate(n);
    v
}

/// Asserts `got == want` without printing megabytes when they differ.
fn assert_same(got: &[u8], want: &[u8], what: &str) {
    if got != want {
        let at = got.iter().zip(want).position(|(a, b)| a != b);
        panic!(
            "{what}: {} bytes, want {}; first difference at {at:?}",
            got.len(),
            want.len()
        );
    }
}

/// The looping echo handler of `examples/echo_server.rs`: read, write, drain until EOF; close.
async fn echo(reader: StreamReader, writer: StreamWriter) -> Result<(), Error> {
    let mut buf = vec![0u8; 64 * 1024];
    loop {
        let n = reader.read_into(&mut buf).await?;
        if n == 0 {
            break;
        }
        writer.write(&buf[..n])?;
        writer.drain().await?;
    }
    writer.close();
    writer.wait_closed().await
}

/// Serves `echo` on a loopback port and returns the server with its port.
async fn echo_server() -> Result<(asyncio::Server, u16), Error> {
    let server = asyncio::start_server(echo, "127.0.0.1", 0).await?;
    let port = server.sockets()[0]
        .as_inet()
        .expect("a TCP listener")
        .port();
    Ok((server, port))
}

/// Closes `server` and waits until every connection it accepted has ended (S73, S75): our
/// handlers closed their connections.
async fn close_server(server: asyncio::Server) {
    server.close();
    server.wait_closed().await;
    assert_eq!(server.connection_count(), 0);
}

mod bulk;
mod echo;
mod fragments;
mod half_close;
mod peer;
