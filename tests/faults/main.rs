//! Faults a peer can cause, and misuse (issue #8, the non-TLS part): a reset in the middle of a
//! `read`, a `readexactly` and a blocked `drain`; a half-close; a peer that never reads; lines
//! over the limit; failing handlers beside healthy connections; misuse as typed errors.
//!
//! Real sockets on 127.0.0.1, every wait bounded, no sleep used to order events: a peer thread
//! acts only after a message from the test (a byte on the socket or a channel), and the loop is
//! driven until a condition holds. Each test holds `util::serial()`: several compare the
//! process's open descriptors before and after, which only works if no other test of this
//! binary opens descriptors meanwhile. Behaviour ids (L*, S*) cite `asyncio-semantics.md`.
//! The TLS faults of issue #8 are not here (TLS is written separately).

#[path = "../util/mod.rs"]
mod util;

use std::cell::{Cell, RefCell};
use std::io::{ErrorKind, Read, Write};
use std::net::{Shutdown, TcpListener, TcpStream};
use std::rc::Rc;
use std::sync::mpsc;
use std::time::Duration;

use asyncio::constants::MAX_READ_SIZE;
use asyncio::{Error, EventLoop, StreamReader, StreamWriter, Transport};
use util::{open_fds, port_of, reader_buffered, run_until, Recorder};

/// Upper bound of every wait in these tests.
const BOUND: Duration = Duration::from_secs(20);
const KIB: usize = 1024;

/// Runs `fut` on `lp` under [`BOUND`].
fn run<F: std::future::IntoFuture + 'static>(lp: &EventLoop, fut: F) -> F::Output {
    lp.run_until_complete(asyncio::timeout(BOUND, fut.into_future()))
        .unwrap()
        .expect("test timed out")
}

/// A listener on a free loopback port.
fn listener() -> (TcpListener, u16) {
    let l = TcpListener::bind("127.0.0.1:0").unwrap();
    let port = l.local_addr().unwrap().port();
    (l, port)
}

/// What a loop with nothing left (no connection, no task, no timer) reports.
fn assert_loop_empty(lp: &EventLoop, listeners: usize) {
    let s = lp.stats();
    assert_eq!(s.tasks, 0, "tasks left: {s:?}");
    assert_eq!(s.timers, 0, "timers left: {s:?}");
    assert_eq!(s.io_registrations, listeners, "registrations left: {s:?}");
}

/// One echo round trip of `line` over a client connection.
async fn echo_once(reader: &StreamReader, writer: &StreamWriter, line: &[u8]) {
    writer.write(line).unwrap();
    assert_eq!(reader.readline().await.unwrap(), line);
}

mod failing_handlers;
mod half_close;
mod lines_over_limit;
mod misuse;
mod never_reading_peer;
mod resets;
