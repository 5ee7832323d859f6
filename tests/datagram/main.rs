//! Datagram endpoints: `create_datagram_endpoint`, `DatagramProtocol`, `DatagramTransport`
//! (CPython `base_events.py` `create_datagram_endpoint`, `selector_events.py`
//! `_SelectorDatagramTransport`). Datagrams are out of the checklist's scope, so each test names
//! the CPython test or behaviour it follows instead of an id.
//!
//! Real sockets on 127.0.0.1, ::1 (skipped with a printed reason where the host has no IPv6)
//! and Unix sockets in temp dirs. Every wait is for a callback (a waker the protocol wakes),
//! bounded by [`LIMIT`]; a Unix datagram socketpair whose reader does not read fills up
//! deterministically, which is how the send queue is made to grow.

#[path = "../util/mod.rs"]
mod util;

use std::cell::RefCell;
use std::future::{poll_fn, Future};
use std::io;
use std::os::unix::net::UnixDatagram;
use std::rc::Rc;
use std::task::{Poll, Waker};
use std::time::Duration;

use asyncio::{Address, DatagramProtocol, DatagramTransport, Error};
use util::capture_exceptions;

/// The bound on every test body.
const LIMIT: Duration = Duration::from_secs(20);

/// What a callback does from inside, once.
#[derive(Clone, Copy, Debug, PartialEq)]
enum Act {
    Nothing,
    /// Send the datagram back where it came from.
    Echo,
    Close,
    Abort,
    Panic,
    /// A `sendto` the kernel refuses at once (to port 0: `EINVAL`).
    SendFailing,
}

/// Records every callback, in order, and wakes the test waiting on it.
#[derive(Default)]
struct Rec {
    transport: Option<DatagramTransport>,
    calls: Vec<String>,
    got: Vec<(Vec<u8>, Address)>,
    errors: Vec<io::ErrorKind>,
    /// The OS error number of each `error_received`, in order.
    errnos: Vec<Option<i32>>,
    /// The text of the error `connection_lost` was given, if any.
    lost_text: Option<String>,
    /// Datagrams handed over off a 64-byte boundary.
    misaligned: usize,
    on_datagram: Option<Act>,
    on_made: Option<Act>,
    waker: Option<Waker>,
}

type Shared = Rc<RefCell<Rec>>;

impl Rec {
    fn echo() -> Rec {
        Rec {
            on_datagram: Some(Act::Echo),
            ..Rec::default()
        }
    }

    fn wake(&mut self) {
        if let Some(w) = self.waker.take() {
            w.wake();
        }
    }

    fn act(&mut self, act: Option<Act>, data: &[u8], addr: &Address) {
        let t = self.transport.clone().expect("connection_made first");
        match act.unwrap_or(Act::Nothing) {
            Act::Nothing => {}
            Act::Echo => t.sendto(data, Some(addr)).expect("echo"),
            Act::Close => t.close(),
            Act::Abort => t.abort(),
            Act::Panic => panic!("a bug in datagram_received"),
            Act::SendFailing => {
                let ip = addr.as_inet().expect("an inet peer").ip();
                let port0 = Address::Inet(std::net::SocketAddr::new(ip, 0));
                t.sendto(b"x", Some(&port0))
                    .expect("queued for error_received");
                self.on_datagram = None; // once
            }
        }
    }

    fn lost(&self) -> bool {
        self.calls.last().is_some_and(|c| c.starts_with("lost"))
    }
}

impl DatagramProtocol for Rec {
    fn connection_made(&mut self, transport: DatagramTransport) {
        self.calls.push("made".into());
        self.transport = Some(transport.clone());
        match self.on_made {
            Some(Act::Close) => transport.close(),
            Some(Act::Abort) => transport.abort(),
            _ => {}
        }
        self.wake();
    }
    fn datagram_received(&mut self, data: &[u8], addr: Address) {
        self.calls.push(format!("datagram({})", data.len()));
        self.misaligned += usize::from(data.as_ptr().align_offset(64) != 0);
        self.got.push((data.to_vec(), addr.clone()));
        self.wake();
        self.act(self.on_datagram, data, &addr);
    }
    fn error_received(&mut self, exc: io::Error) {
        self.calls.push(format!("error({:?})", exc.kind()));
        self.errors.push(exc.kind());
        self.errnos.push(exc.raw_os_error());
        self.wake();
    }
    fn connection_lost(&mut self, exc: Option<io::Error>) {
        self.calls
            .push(format!("lost({:?})", exc.as_ref().map(io::Error::kind)));
        self.lost_text = exc.as_ref().map(io::Error::to_string);
        self.wake();
    }
    fn pause_writing(&mut self) {
        self.calls.push("pause".into());
        self.wake();
    }
    fn resume_writing(&mut self) {
        self.calls.push("resume".into());
        self.wake();
    }
}

/// Waits until `cond` holds of `rec`, woken by its callbacks.
async fn until(rec: &Shared, cond: impl Fn(&Rec) -> bool) {
    poll_fn(|cx| {
        let mut r = rec.borrow_mut();
        if cond(&r) {
            return Poll::Ready(());
        }
        r.waker = Some(cx.waker().clone());
        Poll::Pending
    })
    .await
}

/// The call grammar: made first, lost at most once and last, pause/resume alternating.
fn assert_grammar(calls: &[String]) {
    assert_eq!(calls.first().map(String::as_str), Some("made"), "{calls:?}");
    let lost: Vec<_> = calls.iter().filter(|c| c.starts_with("lost")).collect();
    assert!(lost.len() <= 1, "connection_lost twice: {calls:?}");
    if !lost.is_empty() {
        assert!(
            calls.last().unwrap().starts_with("lost"),
            "lost not last: {calls:?}"
        );
    }
    let flow: Vec<_> = calls
        .iter()
        .filter(|c| *c == "pause" || *c == "resume")
        .collect();
    for (i, c) in flow.iter().enumerate() {
        let want = if i % 2 == 0 { "pause" } else { "resume" };
        assert_eq!(*c, want, "flow edges do not alternate: {calls:?}");
    }
}

/// Closes `t`, waits for its `connection_lost`, and checks the whole call grammar.
async fn close_and_check(t: &DatagramTransport, p: &Shared) {
    t.close();
    until(p, Rec::lost).await;
    assert_grammar(&p.borrow().calls);
}

/// Runs `body` on a fresh loop, bounded; fails on an error or on anything reported to the
/// exception handler unless `reports` says what is expected.
fn run(body: impl Future<Output = Result<(), Error>> + 'static) -> Vec<String> {
    let (out, reported) = asyncio::run(async move {
        let lp = asyncio::get_running_loop().expect("running loop");
        let reported = capture_exceptions(&lp);
        let out = asyncio::timeout(LIMIT, body).await;
        // Let queued connection_lost calls run before the loop goes.
        for _ in 0..4 {
            asyncio::yield_now().await;
        }
        let reported = reported.borrow().clone();
        (out, reported)
    })
    .expect("loop runs");
    match out {
        Ok(Ok(())) => {}
        Ok(Err(e)) => panic!("test body failed: {e} ({e:?})"),
        Err(e) => panic!("test body did not finish within {LIMIT:?}: {e}"),
    }
    reported
}

fn run_clean(body: impl Future<Output = Result<(), Error>> + 'static) {
    let reported = run(body);
    assert!(reported.is_empty(), "exception handler got: {reported:?}");
}

fn port_of(t: &DatagramTransport) -> u16 {
    t.sockname().and_then(|a| a.as_inet()).expect("inet").port()
}

/// Whether ::1 can be bound; where it cannot, says so (printed) for the caller to skip what
/// needs it.
fn ipv6_or_skip() -> bool {
    let have = std::net::UdpSocket::bind("[::1]:0").is_ok();
    if !have {
        println!("skipped ::1: no IPv6 on this host");
    }
    have
}

/// 127.0.0.1, and ::1 where IPv6 can be bound (else a printed skip).
fn loopbacks() -> Vec<&'static str> {
    let mut hosts = vec!["127.0.0.1"];
    if ipv6_or_skip() {
        hosts.push("::1");
    }
    hosts
}

/// A client endpoint connected to `server`'s (inet) address, recording its calls.
async fn client_of(server: &DatagramTransport) -> Result<(DatagramTransport, Shared), Error> {
    let to = server.sockname().and_then(|a| a.as_inet()).expect("inet");
    let lp = asyncio::get_running_loop()?;
    lp.create_datagram_endpoint(Rec::default)
        .remote_addr(&to.ip().to_string(), to.port())
        .await
}

/// An endpoint connected to a 127.0.0.1 port nobody listens on (a port from the OS, its
/// socket closed again), recording its calls: what it sends draws an ICMP port unreachable.
async fn connected_to_a_closed_port() -> Result<(DatagramTransport, Shared), Error> {
    let closed_port = std::net::UdpSocket::bind("127.0.0.1:0")?
        .local_addr()?
        .port();
    let lp = asyncio::get_running_loop()?;
    lp.create_datagram_endpoint(Rec::default)
        .remote_addr("127.0.0.1", closed_port)
        .await
}

/// A Unix datagram socketpair whose other end does not read, with a small send buffer: sends
/// fail with `WouldBlock` after a few datagrams, deterministically.
fn stuck_pair() -> io::Result<(UnixDatagram, UnixDatagram)> {
    let (a, b) = UnixDatagram::pair()?;
    socket2::SockRef::from(&a).set_send_buffer_size(4096)?;
    b.set_nonblocking(true)?;
    Ok((a, b))
}

/// An endpoint on one end of a [`stuck_pair`], recording its calls; the other end to drain.
async fn stuck_endpoint() -> Result<(DatagramTransport, Shared, UnixDatagram), Error> {
    let (a, b) = stuck_pair()?;
    let lp = asyncio::get_running_loop()?;
    let (t, p) = lp.create_datagram_endpoint(Rec::default).sock(a).await?;
    Ok((t, p, b))
}

/// A loop of the test's own (no `run`) with an endpoint made on it, outside any callback, on
/// one end of a Unix datagram socketpair; the other end to talk to it.
fn endpoint_on_own_loop() -> (asyncio::EventLoop, DatagramTransport, Shared, UnixDatagram) {
    let lp = asyncio::EventLoop::new().unwrap();
    let h = lp.handle();
    let (a, b) = UnixDatagram::pair().unwrap();
    let (t, p) = lp
        .run_until_complete(async move { h.create_datagram_endpoint(Rec::default).sock(a).await })
        .unwrap()
        .unwrap();
    (lp, t, p, b)
}

/// An unconnected endpoint on 127.0.0.1 (a port from the OS), recording its calls.
async fn local_endpoint() -> Result<(DatagramTransport, Shared), Error> {
    let lp = asyncio::get_running_loop()?;
    lp.create_datagram_endpoint(Rec::default)
        .local_addr("127.0.0.1", 0)
        .await
}

/// Sends 1 KiB datagrams until `n` bytes are queued in the transport.
fn fill(t: &DatagramTransport, n: usize) -> Result<usize, Error> {
    for sent in 0..100_000 {
        if t.get_write_buffer_size() >= n {
            return Ok(sent);
        }
        t.sendto(&[sent as u8; 1024], None)?;
    }
    panic!("the send queue never reached {n} bytes");
}

/// Reads every datagram waiting at `b`: their first bytes, in order.
fn drain(b: &UnixDatagram) -> Vec<u8> {
    let mut firsts = Vec::new();
    let mut buf = [0; 2048];
    while let Ok(n) = b.recv(&mut buf) {
        assert_eq!(n, 1024, "datagrams arrive whole");
        firsts.push(buf[0]);
    }
    firsts
}

mod callbacks;
mod cpython_ports;
mod echo;
mod held_errors;
mod interop_python;
mod loop_close;
mod options;
mod reading;
mod send_queue;
mod unix_paths;
