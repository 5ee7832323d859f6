//! Helpers shared by the server test files (`server_create/`, `server_accept.rs`,
//! `server_lifecycle.rs`, `server_out_of_fds.rs`, `server_unix/`): real sockets against
//! `create_server`, `Server` and the accept loop.
//!
//! Peers are blocking std sockets with 10 s timeouts, driven from helper threads ([`peer`]) that
//! wake the loop when they finish, so every wait is a bounded `run_*` on the loop and nothing
//! sleeps. TCP binds port 0 on 127.0.0.1 (and ::1 when the host has it); Unix sockets live in
//! fresh temp dirs (`util::temp_dir`). A binary that has this module has `util` too.
#![allow(dead_code)]

use std::cell::RefCell;
use std::io::{self, Read, Write};
use std::net::{SocketAddr, TcpListener, TcpStream};
use std::os::unix::net::UnixStream;
use std::panic::AssertUnwindSafe;
use std::path::{Path, PathBuf};
use std::rc::Rc;
use std::sync::{Arc, Mutex};
use std::thread::JoinHandle;
use std::time::{Duration, Instant};

use asyncio::{Address, EventLoop, Protocol, Server, Transport};

use crate::util::Echo;

/// Bound of every blocking socket call and of every wait on the loop.
pub const BOUND: Duration = Duration::from_secs(10);

/// Runs loop iterations until `cond` holds; fails after `limit` of real time. Each iteration
/// polls for at most the time left, so a missing wake-up fails fast instead of hanging.
pub fn run_within(lp: &EventLoop, limit: Duration, mut cond: impl FnMut() -> bool) {
    let start = Instant::now();
    while !cond() {
        let left = limit.checked_sub(start.elapsed());
        let left = left.unwrap_or_else(|| panic!("condition not reached within {limit:?}"));
        lp.run_once(Some(left)).unwrap();
    }
}

/// Runs iterations for `span` of real time; returns how many there were.
pub fn iterations_during(lp: &EventLoop, span: Duration) -> usize {
    let start = Instant::now();
    let mut n = 0;
    while let Some(left) = span.checked_sub(start.elapsed()) {
        lp.run_once(Some(left)).unwrap();
        n += 1;
        assert!(n < 1_000_000, "the loop spins");
    }
    n
}

/// A few iterations that do not block (for "still not done" checks).
pub fn spin_a_little(lp: &EventLoop) {
    for _ in 0..5 {
        lp.run_once(Some(Duration::ZERO)).unwrap();
    }
}

/// Work on a helper thread. When it ends the loop is woken, so `run_within(.., || p.done())`
/// returns as soon as the thread is done.
pub struct Peer<T> {
    result: Arc<Mutex<Option<std::thread::Result<T>>>>,
    thread: Option<JoinHandle<()>>,
}

pub fn peer<T: Send + 'static>(lp: &EventLoop, f: impl FnOnce() -> T + Send + 'static) -> Peer<T> {
    let result = Arc::new(Mutex::new(None));
    let (slot, wake) = (result.clone(), lp.threadsafe());
    let thread = std::thread::spawn(move || {
        let out = std::panic::catch_unwind(AssertUnwindSafe(f));
        *slot.lock().unwrap() = Some(out);
        let _ = wake.call_soon_threadsafe(|| {});
    });
    Peer {
        result,
        thread: Some(thread),
    }
}

impl<T> Peer<T> {
    pub fn done(&self) -> bool {
        self.result.lock().unwrap().is_some()
    }

    pub fn join(mut self) -> T {
        self.thread.take().unwrap().join().unwrap();
        match self.result.lock().unwrap().take().unwrap() {
            Ok(v) => v,
            Err(panic) => std::panic::resume_unwind(panic),
        }
    }
}

/// Drives the loop until the peer is done and returns what it returned.
pub fn finish<T>(lp: &EventLoop, p: Peer<T>) -> T {
    run_within(lp, BOUND, || p.done());
    p.join()
}

pub fn timeouts<S>(s: S, set: impl Fn(&S, Option<Duration>) -> io::Result<()>) -> S {
    set(&s, Some(BOUND)).unwrap();
    s
}

/// A blocking TCP client with bounded reads and writes.
pub fn tcp_client(addr: SocketAddr) -> TcpStream {
    let s = TcpStream::connect_timeout(&addr, BOUND).unwrap();
    let s = timeouts(s, TcpStream::set_read_timeout);
    timeouts(s, TcpStream::set_write_timeout)
}

/// A blocking Unix client with bounded reads and writes.
pub fn unix_client(path: &Path) -> UnixStream {
    let s = UnixStream::connect(path).unwrap();
    let s = timeouts(s, UnixStream::set_read_timeout);
    timeouts(s, UnixStream::set_write_timeout)
}

/// Writes `msg` and reads the same number of bytes back.
pub fn roundtrip(s: &mut (impl Read + Write), msg: &[u8]) -> Vec<u8> {
    s.write_all(msg).unwrap();
    let mut got = vec![0; msg.len()];
    s.read_exact(&mut got).unwrap();
    got
}

/// Connects to `addr` from a helper thread and checks one echo.
pub fn check_tcp_echo(lp: &EventLoop, addr: SocketAddr) {
    let got = finish(
        lp,
        peer(lp, move || roundtrip(&mut tcp_client(addr), b"ping")),
    );
    assert_eq!(got, b"ping", "echo through {addr}");
}

/// Connects to `path` from a helper thread and checks one echo.
pub fn check_unix_echo(lp: &EventLoop, path: &Path) {
    let path = path.to_path_buf();
    let got = finish(
        lp,
        peer(lp, move || roundtrip(&mut unix_client(&path), b"ping")),
    );
    assert_eq!(got, b"ping");
}

pub fn tcp_server(lp: &EventLoop, host: &str) -> Server {
    lp.run_until_complete(lp.create_server(Echo::default, host, 0))
        .unwrap()
        .unwrap()
}

/// An echo server on 127.0.0.1, port 0, created with `start_serving(false)`: bound, listening
/// on nothing yet.
pub fn tcp_server_not_serving(lp: &EventLoop) -> Server {
    lp.run_until_complete(
        lp.create_server(Echo::default, "127.0.0.1", 0)
            .start_serving(false),
    )
    .unwrap()
    .unwrap()
}

pub fn inet(server: &Server) -> Vec<SocketAddr> {
    server
        .sockets()
        .iter()
        .filter_map(Address::as_inet)
        .collect()
}

pub fn first_inet(server: &Server) -> SocketAddr {
    inet(server)[0]
}

/// Close the server and wait until it is closed and its connections are gone.
pub fn shut(lp: &EventLoop, server: &Server) {
    server.close();
    server.abort_clients();
    let s = server.clone();
    lp.run_until_complete(async move { s.wait_closed().await })
        .unwrap();
}

/// The server-side transports a protocol factory handed out, for address checks and
/// close/abort from the test. The protocol echoes.
#[derive(Clone, Default)]
pub struct Seen(pub Rc<RefCell<Vec<Transport>>>);

pub struct EchoSeen {
    seen: Seen,
    transport: Option<Transport>,
}

impl Protocol for EchoSeen {
    fn connection_made(&mut self, t: Transport) {
        self.seen.0.borrow_mut().push(t.clone());
        self.transport = Some(t);
    }
    fn data_received(&mut self, data: &[u8]) {
        if let Some(t) = &self.transport {
            t.write(data).unwrap();
        }
    }
}

impl Seen {
    pub fn factory(&self) -> impl Fn() -> EchoSeen + 'static {
        let seen = self.clone();
        move || EchoSeen {
            seen: seen.clone(),
            transport: None,
        }
    }
    pub fn len(&self) -> usize {
        self.0.borrow().len()
    }
    pub fn get(&self, i: usize) -> Transport {
        self.0.borrow()[i].clone()
    }
}

pub fn is_refused(r: io::Result<impl Sized>) -> bool {
    matches!(r, Err(e) if e.kind() == io::ErrorKind::ConnectionRefused)
}

/// Whether this host can bind ::1; prints why not when it cannot.
pub fn have_ipv6() -> bool {
    match TcpListener::bind("[::1]:0") {
        Ok(_) => true,
        Err(e) => {
            println!("skipping the IPv6 part: binding [::1]:0 failed: {e}");
            false
        }
    }
}

/// The path of a Unix address that has one.
pub fn unix_name(a: &Address) -> Option<PathBuf> {
    match a {
        Address::Unix(u) => u.as_pathname().map(Path::to_path_buf),
        Address::Inet(_) => None,
    }
}
