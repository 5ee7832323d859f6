//! Helpers shared by the server group test files (`workers_start.rs`, `workers_lifecycle.rs`,
//! `workers_stats.rs`): blocking std peers with 10 s timeouts, the group's addresses, its
//! worker threads as `/proc/self/task` lists them, and its close.
//! A binary that has this module has `util` too.
#![allow(dead_code)]

use std::io::{Read, Write};
use std::net::{SocketAddr, TcpStream};
use std::time::Duration;

use asyncio::{Error, ServerGroup, StreamReader, StreamWriter};

use crate::util;

/// The echo handler of `examples/echo_server.rs`: read, write, drain, until EOF.
pub fn echo() -> impl Fn(
    StreamReader,
    StreamWriter,
) -> std::pin::Pin<Box<dyn std::future::Future<Output = asyncio::Result<()>>>>
       + Clone {
    |reader: StreamReader, writer: StreamWriter| Box::pin(util::echo_example(reader, writer))
}

pub fn connect(addr: SocketAddr) -> TcpStream {
    let s = TcpStream::connect(addr).expect("connect");
    s.set_read_timeout(Some(Duration::from_secs(10))).unwrap();
    s.set_write_timeout(Some(Duration::from_secs(10))).unwrap();
    s
}

/// The peer's side of a connection the server has ended: EOF, or a reset when it was aborted
/// or closed with unread data. Fails on the read timeout (the connection stayed open) or data.
pub fn assert_ended(s: &mut TcpStream) {
    let mut rest = Vec::new();
    match s.read_to_end(&mut rest) {
        Ok(_) => assert!(rest.is_empty(), "unexpected data: {rest:?}"),
        Err(e) => assert_eq!(
            e.kind(),
            std::io::ErrorKind::ConnectionReset,
            "the connection was not ended: {e}"
        ),
    }
}

/// One round trip; panics unless the echo comes back whole.
pub fn ping(s: &mut TcpStream, msg: &[u8]) {
    s.write_all(msg).expect("write");
    let mut back = vec![0; msg.len()];
    s.read_exact(&mut back).expect("echo");
    assert_eq!(back, msg);
}

pub fn addr_of(group: &ServerGroup) -> SocketAddr {
    group.sockets()[0].as_inet().expect("a TCP listener")
}

/// Every listening address of the group, each a TCP one.
pub fn inet_sockets(group: &ServerGroup) -> Vec<SocketAddr> {
    let sockets = group.sockets();
    sockets.iter().map(|a| a.as_inet().unwrap()).collect()
}

/// The first of `bound` on `ip`; fails, naming them, when none is.
pub fn bound_on(bound: &[SocketAddr], ip: std::net::IpAddr) -> SocketAddr {
    let at = bound.iter().find(|a| a.ip() == ip);
    *at.unwrap_or_else(|| panic!("{ip} not bound: {bound:?}"))
}

/// Threads of this process named after a worker (`asyncio-worker-N`, cut to 15 bytes).
pub fn worker_threads() -> usize {
    std::fs::read_dir("/proc/self/task")
        .map(|tasks| {
            tasks
                .filter_map(|t| std::fs::read_to_string(t.ok()?.path().join("comm")).ok())
                .filter(|name| name.starts_with("asyncio-worker"))
                .count()
        })
        .unwrap_or(0)
}

/// No worker thread is left. The threads are joined already; a joined thread can stay listed
/// in `/proc` for the moment between its exit and the kernel's release of it, so this looks
/// again (yielding, bounded by 10 s) before it fails.
pub fn assert_no_worker_threads() {
    let deadline = std::time::Instant::now() + Duration::from_secs(10);
    while worker_threads() != 0 && std::time::Instant::now() < deadline {
        std::thread::yield_now();
    }
    assert_eq!(worker_threads(), 0, "a worker thread is left");
}

pub fn close_and_wait(group: &ServerGroup) -> Result<(), Error> {
    group.close();
    asyncio::run(group.wait_closed())?
}

/// A group of two workers serving [`echo`] on 127.0.0.1, on a port the system picks.
pub fn two_echo_workers() -> ServerGroup {
    asyncio::serve_on_threads(2, echo, "127.0.0.1", 0)
        .start()
        .unwrap()
}
