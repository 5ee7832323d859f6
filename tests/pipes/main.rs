//! Pipe transports and streams over pipes (issue #15, pipes): `connect_read_pipe`,
//! `connect_write_pipe`, `open_read_pipe`/`open_write_pipe`, `stdin()` in a child process and
//! the stdin echo client end to end. Test names follow CPython's `test_unix_events.py`
//! (`UnixReadPipeTransportTests`, `UnixWritePipeTransportTests`) where one is ported; there
//! the fd is a mock, here a real OS pipe. Every wait is bounded by a number of loop turns or a
//! read timeout.

// CPython's test names (`test__read_ready`) keep their double underscore.
#![allow(non_snake_case)]

#[path = "../util/mod.rs"]
mod util;

use std::cell::RefCell;
use std::fs::File;
use std::io::{self, BufRead, BufReader, Read, Write};
use std::net::TcpListener;
use std::os::fd::OwnedFd;
use std::process::{Command, Stdio};
use std::rc::Rc;
use std::time::Duration;

use asyncio::{EventLoop, ExtraInfo, Transport};
use util::{example_binary, os_pipe, run_until, Recorder};

fn read_pipe(
    lp: &EventLoop,
    r: impl Into<OwnedFd> + 'static,
    rec: Recorder,
) -> (Transport, Rc<RefCell<Recorder>>) {
    let h = lp.handle();
    lp.run_until_complete(async move { h.connect_read_pipe(move || rec, r).await })
        .unwrap()
        .unwrap()
}

fn write_pipe(
    lp: &EventLoop,
    w: impl Into<OwnedFd> + 'static,
    rec: Recorder,
) -> (Transport, Rc<RefCell<Recorder>>) {
    let h = lp.handle();
    lp.run_until_complete(async move { h.connect_write_pipe(move || rec, w).await })
        .unwrap()
        .unwrap()
}

/// Reads everything from `r` on a thread (bounded by the writer closing).
fn drain_thread(mut r: File) -> std::thread::JoinHandle<Vec<u8>> {
    std::thread::spawn(move || {
        let mut all = Vec::new();
        r.read_to_end(&mut all).unwrap();
        all
    })
}

/// Whether a thread named `name` runs in this process.
fn thread_alive(name: &str) -> bool {
    std::fs::read_dir("/proc/self/task")
        .unwrap()
        .filter_map(Result::ok)
        .any(|t| std::fs::read_to_string(t.path().join("comm")).is_ok_and(|c| c.trim() == name))
}

mod drops;
mod read_side;
mod sigpipe;
mod stdin;
mod streams;
mod terminal;
mod write_side;
