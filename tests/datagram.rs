//! Datagram endpoints: `create_datagram_endpoint`, `DatagramProtocol`, `DatagramTransport`
//! (CPython `base_events.py` `create_datagram_endpoint`, `selector_events.py`
//! `_SelectorDatagramTransport`). Datagrams are out of the checklist's scope, so each test names
//! the CPython test or behaviour it follows instead of an id.
//!
//! Real sockets on 127.0.0.1, ::1 (skipped with a printed reason where the host has no IPv6)
//! and Unix sockets in temp dirs. Every wait is for a callback (a waker the protocol wakes),
//! bounded by [`LIMIT`]; a Unix datagram socketpair whose reader does not read fills up
//! deterministically, which is how the send queue is made to grow.

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

fn have_ipv6() -> bool {
    std::net::UdpSocket::bind("[::1]:0").is_ok()
}

/// 127.0.0.1, and ::1 where IPv6 can be bound (else a printed skip).
fn loopbacks() -> Vec<&'static str> {
    let mut hosts = vec!["127.0.0.1"];
    if have_ipv6() {
        hosts.push("::1");
    } else {
        println!("skipped ::1: no IPv6 on this host");
    }
    hosts
}

/// An echo server on `host` and a client connected to it: datagrams go there and back, in
/// order, each whole; both grammars hold (CPython test_events `test_create_datagram_endpoint`).
async fn echo_round_trip(host: &'static str) -> Result<(), Error> {
    let lp = asyncio::get_running_loop()?;
    let (server, sp) = lp
        .create_datagram_endpoint(Rec::echo)
        .local_addr(host, 0)
        .await?;
    assert_eq!(
        sp.borrow().calls,
        ["made"],
        "returned after connection_made"
    );
    let (client, cp) = lp
        .create_datagram_endpoint(Rec::default)
        .remote_addr(host, port_of(&server))
        .await?;
    for msg in [&b"one"[..], b"", b"three", &[7u8; 60_000]] {
        client.sendto(msg, None)?;
    }
    // The empty one is not sent (CPython 3.11's `if not data: return`).
    until(&cp, |r| r.got.len() == 3).await;
    let got: Vec<Vec<u8>> = cp.borrow().got.iter().map(|g| g.0.clone()).collect();
    assert_eq!(got, [b"one".to_vec(), b"three".to_vec(), vec![7u8; 60_000]]);
    let from = cp.borrow().got[0].1.as_inet().unwrap();
    assert_eq!(from, server.sockname().unwrap().as_inet().unwrap());
    let client_addr = client.sockname().unwrap().as_inet().unwrap();
    assert_eq!(sp.borrow().got[0].1.as_inet().unwrap(), client_addr);
    client.close();
    server.close();
    until(&cp, Rec::lost).await;
    until(&sp, Rec::lost).await;
    for p in [&cp, &sp] {
        assert_grammar(&p.borrow().calls);
        assert_eq!(p.borrow().calls.last().unwrap(), "lost(None)");
    }
    assert!(client.get_extra_info("socket").is_none(), "socket closed");
    Ok(())
}

#[test]
fn echo_round_trip_v4() {
    run_clean(echo_round_trip("127.0.0.1"));
}

#[test]
fn echo_round_trip_v6() {
    if !have_ipv6() {
        eprintln!("skipped: no IPv6 loopback here");
        return;
    }
    run_clean(echo_round_trip("::1"));
}

/// A connected endpoint takes only its remote address (CPython `sendto`'s ValueError text),
/// sends with `None` to it, and reports both addresses.
#[test]
fn connected_endpoint_refuses_another_address() {
    run_clean(async {
        let peer = std::net::UdpSocket::bind("127.0.0.1:0")?;
        let remote = peer.local_addr()?;
        let lp = asyncio::get_running_loop()?;
        let (t, _p) = lp
            .create_datagram_endpoint(Rec::default)
            .remote_addr("127.0.0.1", remote.port())
            .await?;
        assert_eq!(t.peername().unwrap().as_inet(), Some(remote));
        let other = Address::Inet("127.0.0.1:9".parse().unwrap());
        let err = t.sendto(b"x", Some(&other)).unwrap_err();
        assert_eq!(
            err.to_string(),
            format!("Invalid address: must be None or {remote}")
        );
        assert!(matches!(err, Error::InvalidArgument(_)));
        t.sendto(b"to none", None)?;
        t.sendto(b"to same", Some(&Address::Inet(remote)))?;
        let mut buf = [0; 32];
        // Loopback delivers during sendto: already queued at the peer.
        let n = peer.recv(&mut buf)?;
        assert_eq!(&buf[..n], b"to none");
        let n = peer.recv(&mut buf)?;
        assert_eq!(&buf[..n], b"to same");
        t.close();
        Ok(())
    });
}

/// An unconnected endpoint needs an address.
#[test]
fn unconnected_endpoint_needs_an_address() {
    run_clean(async {
        let (t, _p) = local_endpoint().await?;
        let err = t.sendto(b"x", None).unwrap_err();
        assert!(matches!(err, Error::InvalidArgument(_)), "{err:?}");
        t.close();
        Ok(())
    });
}

/// ICMP port unreachable on a connected socket: `error_received(ConnectionRefused)`, and the
/// transport stays open (CPython `_read_ready`: `OSError` → `protocol.error_received`).
#[test]
fn port_unreachable_is_error_received_and_the_endpoint_stays_open() {
    run_clean(async {
        let closed_port = {
            let s = std::net::UdpSocket::bind("127.0.0.1:0")?;
            s.local_addr()?.port()
        }; // nobody listens there now
        let lp = asyncio::get_running_loop()?;
        let (t, p) = lp
            .create_datagram_endpoint(Rec::default)
            .remote_addr("127.0.0.1", closed_port)
            .await?;
        t.sendto(b"anyone?", None)?;
        until(&p, |r| !r.errors.is_empty()).await;
        assert_eq!(p.borrow().errors, [io::ErrorKind::ConnectionRefused]);
        assert!(!t.is_closing(), "an error_received does not close");
        assert_eq!(p.borrow().calls, ["made", "error(ConnectionRefused)"]);
        t.close();
        until(&p, Rec::lost).await;
        assert_grammar(&p.borrow().calls);
        Ok(())
    });
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

/// An unconnected endpoint on 127.0.0.1 (a port from the OS), recording its calls.
async fn local_endpoint() -> Result<(DatagramTransport, Shared), Error> {
    let lp = asyncio::get_running_loop()?;
    lp.create_datagram_endpoint(Rec::default)
        .local_addr("127.0.0.1", 0)
        .await
}

/// For the held-protocol tests: an endpoint on `host` whose `connection_made` has run, the
/// port-0 address of its family (a send there fails with `EINVAL`, an error for
/// `error_received`), and a std socket on `host` to send the endpoint datagrams from.
async fn endpoint_with_failing_target(
    host: &'static str,
) -> Result<(DatagramTransport, Shared, Address, std::net::UdpSocket), Error> {
    let lp = asyncio::get_running_loop()?;
    let (t, p) = lp
        .create_datagram_endpoint(Rec::default)
        .local_addr(host, 0)
        .await?;
    until(&p, |r| !r.calls.is_empty()).await;
    let port0 = Address::Inet(std::net::SocketAddr::new(host.parse().unwrap(), 0));
    let peer = std::net::UdpSocket::bind((host, 0))?;
    Ok((t, p, port0, peer))
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

/// L94 as CPython's create_datagram_endpoint keeps it (`except: transport.close()`): an
/// endpoint creation dropped after connection_made ran, before it returned, closes the
/// transport, so the datagrams connection_made queued still go out. It used to abort it: the
/// queue was dropped.
#[test]
fn a_create_datagram_endpoint_dropped_after_connection_made_sends_what_it_queued() {
    /// Queues 8 KiB of datagrams in connection_made (the peer does not read yet).
    struct FillOnMade(Rc<std::cell::Cell<Option<usize>>>);
    impl DatagramProtocol for FillOnMade {
        fn connection_made(&mut self, t: DatagramTransport) {
            self.0.set(Some(fill(&t, 8 * 1024).expect("sendto")));
        }
    }
    let lp = asyncio::EventLoop::new().unwrap();
    let (a, b) = stuck_pair().unwrap();
    let sent: Rc<std::cell::Cell<Option<usize>>> = Rc::default();
    let s = sent.clone();
    let probe = util::Probe::new();
    let handle = lp.handle();
    lp.run_until_complete(async {
        let make = handle
            .create_datagram_endpoint(move || FillOnMade(s))
            .sock(a);
        let mut fut = std::pin::pin!(std::future::IntoFuture::into_future(make));
        // Dropped once connection_made has run, before the turn it waited for reaches it.
        probe
            .poll_each_turn(fut.as_mut(), || sent.get().is_some())
            .await;
    })
    .unwrap();
    let sent = sent.get().unwrap();
    // The peer reads; the closing transport flushes into the room that makes. Bounded.
    let mut got = drain(&b);
    for _ in 0..1_000 {
        if lp.stats().io_registrations == 0 {
            break;
        }
        lp.run_once(Some(LIMIT)).unwrap();
        got.extend(drain(&b));
    }
    got.extend(drain(&b));
    assert_eq!(lp.stats().io_registrations, 0, "the transport closed");
    let want: Vec<u8> = (0..sent).map(|i| i as u8).collect();
    assert_eq!(got, want, "every queued datagram arrived, in order");
}

/// Flow control: queued datagrams pause the protocol above the high-water mark and resume it
/// at the low one; nothing is lost or reordered (CPython `_maybe_pause_protocol`,
/// `_sendto_ready`, SelectorDatagramTransportTests `test_sendto_buffer*`).
#[test]
fn flow_control_pauses_above_high_and_resumes_at_low() {
    run_clean(async {
        let (t, p, b) = stuck_endpoint().await?;
        t.set_write_buffer_limits(Some(8 * 1024), Some(2 * 1024))?;
        assert_eq!(t.get_write_buffer_limits(), (2 * 1024, 8 * 1024));
        let sent = fill(&t, 8 * 1024 + 1)?;
        assert_eq!(
            p.borrow().calls,
            ["made", "pause"],
            "paused above high, once"
        );
        let mut firsts = Vec::new();
        while !p.borrow().calls.contains(&"resume".to_string()) {
            firsts.extend(drain(&b));
            // Each drained batch frees the kernel buffer: a writable edge flushes the queue.
            let before = t.get_write_buffer_size();
            asyncio::yield_now().await;
            assert!(t.get_write_buffer_size() <= before);
        }
        assert!(
            t.get_write_buffer_size() <= 2 * 1024,
            "resumed at or below low"
        );
        while firsts.len() < sent {
            asyncio::yield_now().await;
            firsts.extend(drain(&b));
        }
        let want: Vec<u8> = (0..sent).map(|i| i as u8).collect();
        assert_eq!(firsts, want, "every datagram once, in order");
        t.close();
        until(&p, Rec::lost).await;
        assert_grammar(&p.borrow().calls);
        Ok(())
    });
}

/// A pause and a resume made while a user holds the protocol (its `RefCell` borrowed across
/// loop turns, outside any callback): each waits, and arrives once, in order, as soon as the
/// borrow ends (the stream transports' rule, L49: the seam retries the flush, spaced out).
#[test]
#[allow(clippy::await_holding_refcell_ref)] // holding the borrow across awaits is the point
fn flow_edges_made_while_the_protocol_is_held_arrive_once_it_is_free() {
    run_clean(async {
        let (t, p, b) = stuck_endpoint().await?;
        t.set_write_buffer_limits(Some(8 * 1024), Some(2 * 1024))?;
        let held = p.borrow_mut();
        fill(&t, 8 * 1024 + 1)?; // crosses the high mark: the pause waits
        for _ in 0..20 {
            asyncio::yield_now().await; // the retries find it held
        }
        assert_eq!(held.calls, ["made"], "nothing reaches a held protocol");
        drop(held);
        until(&p, |r| r.calls.len() > 1).await;
        assert_eq!(p.borrow().calls, ["made", "pause"]);
        let held = p.borrow_mut();
        for _ in 0..10_000 {
            if t.get_write_buffer_size() <= 2 * 1024 {
                break;
            }
            drain(&b); // room in the kernel: a writable edge sends the queue
            asyncio::yield_now().await;
        }
        assert!(t.get_write_buffer_size() <= 2 * 1024, "the queue drained");
        assert_eq!(held.calls, ["made", "pause"], "the resume waits too");
        drop(held);
        until(&p, |r| r.calls.len() > 2).await;
        assert_eq!(p.borrow().calls, ["made", "pause", "resume"]);
        t.abort(); // a datagram may still be queued: close would wait for the peer to read
        until(&p, Rec::lost).await;
        assert_grammar(&p.borrow().calls);
        Ok(())
    });
}

/// A datagram too long for the socket (`EMSGSIZE`) goes to `error_received`, errno kept, and
/// is not fatal: the transport stays open and the next datagram is sent (CPython
/// `_SelectorDatagramTransport.sendto` and `_sendto_ready`: `OSError` →
/// `protocol.error_received`; SelectorDatagramTransportTests `test_sendto_error_received`).
/// Sent at once (UDP, past the 64 KiB datagram limit) and from the queue (a Unix datagram
/// longer than the send buffer, queued behind one the kernel could not take yet).
#[test]
fn a_datagram_too_long_is_error_received_not_fatal_at_once_or_queued() {
    for host in loopbacks() {
        run_clean(async move {
            let lp = asyncio::get_running_loop()?;
            let (t, p) = lp
                .create_datagram_endpoint(Rec::default)
                .local_addr(host, 0)
                .await?;
            let peer = std::net::UdpSocket::bind((host, 0))?;
            let to = Address::Inet(peer.local_addr()?);
            t.sendto(&[1; 70_000], Some(&to))?;
            assert_eq!(p.borrow().errnos, [Some(libc::EMSGSIZE)], "{host}");
            assert!(!t.is_closing(), "{host}: not fatal");
            t.sendto(b"after", Some(&to))?;
            let mut buf = [0; 16];
            assert_eq!(peer.recv(&mut buf)?, 5, "{host}: the next datagram went");
            t.close();
            until(&p, Rec::lost).await;
            let calls = p.borrow().calls.clone();
            assert_eq!(calls.len(), 3, "{host}: {calls:?}");
            assert!(calls[1].starts_with("error("), "{host}: {calls:?}");
            assert_eq!(calls[2], "lost(None)", "{host}");
            Ok(())
        });
    }
    run_clean(async {
        let (t, p, b) = stuck_endpoint().await?;
        let sent = fill(&t, 1)?;
        t.sendto(&[0xEE; 64 * 1024], None)?; // queued: longer than the send buffer
        t.sendto(&[sent as u8; 1024], None)?;
        assert_eq!(t.get_write_buffer_size(), 1024 + 64 * 1024 + 1024);
        let mut firsts = Vec::new();
        while t.get_write_buffer_size() > 0 {
            firsts.extend(drain(&b));
            asyncio::yield_now().await;
        }
        firsts.extend(drain(&b));
        assert_eq!(p.borrow().errnos, [Some(libc::EMSGSIZE)]);
        assert!(!t.is_closing(), "not fatal");
        let want: Vec<u8> = (0..=sent).map(|i| i as u8).collect();
        assert_eq!(firsts, want, "every other datagram, in order");
        t.close();
        until(&p, Rec::lost).await;
        assert_grammar(&p.borrow().calls);
        Ok(())
    });
}

/// `close` with datagrams queued: they are all sent first, then `connection_lost(None)`
/// (CPython `_sendto_ready`: `if self._closing: self._call_connection_lost(None)`).
#[test]
fn close_flushes_the_queue_then_connection_lost() {
    run_clean(async {
        let (t, p, b) = stuck_endpoint().await?;
        let sent = fill(&t, 3 * 1024)?;
        t.close();
        assert!(t.is_closing());
        for _ in 0..4 {
            asyncio::yield_now().await;
        }
        assert!(!p.borrow().lost(), "not lost while datagrams are queued");
        let mut firsts = Vec::new();
        while !p.borrow().lost() {
            firsts.extend(drain(&b));
            asyncio::yield_now().await;
        }
        firsts.extend(drain(&b));
        assert_eq!(
            firsts.len(),
            sent,
            "every queued datagram was sent before the close"
        );
        assert_eq!(p.borrow().calls.last().unwrap(), "lost(None)");
        assert_grammar(&p.borrow().calls);
        Ok(())
    });
}

/// `abort` drops the queue: `connection_lost(None)` at once, nothing more is sent.
#[test]
fn abort_drops_the_queue() {
    run_clean(async {
        let (t, p, b) = stuck_endpoint().await?;
        let sent = fill(&t, 3 * 1024)?;
        let in_kernel = sent - t.get_write_buffer_size() / 1024;
        t.abort();
        assert_eq!(t.get_write_buffer_size(), 0);
        until(&p, Rec::lost).await;
        assert_eq!(p.borrow().calls.last().unwrap(), "lost(None)");
        assert_eq!(drain(&b).len(), in_kernel, "only what the kernel had took");
        Ok(())
    });
}

/// `sendto` after `close` drops the datagram, with no error to the caller: at once (the
/// socket is still open until `connection_lost` runs) and after (CPython `sendto`'s
/// `_conn_lost` branch).
#[test]
fn sendto_after_close_is_dropped() {
    run_clean(async {
        let (a, b) = UnixDatagram::pair()?;
        b.set_nonblocking(true)?;
        let lp = asyncio::get_running_loop()?;
        let (t, p) = lp.create_datagram_endpoint(Rec::default).sock(a).await?;
        t.close();
        t.sendto(b"late", None)?;
        until(&p, Rec::lost).await;
        t.sendto(b"later", None)?;
        assert!(drain(&b).is_empty(), "nothing sent after close");
        assert_eq!(p.borrow().calls, ["made", "lost(None)"]);
        Ok(())
    });
}

/// The same on an unconnected endpoint: CPython drops and counts only on a connected one; an
/// unconnected one would still send on the socket until `connection_lost` closes it, and
/// fail after. Ours drops both, and nothing reaches the peer.
#[test]
fn sendto_after_close_is_dropped_unconnected_too() {
    run_clean(async {
        let peer = std::net::UdpSocket::bind("127.0.0.1:0")?;
        peer.set_nonblocking(true)?;
        let to = Address::Inet(peer.local_addr()?);
        let (t, p) = local_endpoint().await?;
        assert!(t.peername().is_none(), "unconnected");
        t.close();
        t.sendto(b"late", Some(&to))?;
        until(&p, Rec::lost).await;
        t.sendto(b"later", Some(&to))?;
        let mut buf = [0; 16];
        // Loopback delivers at once: a datagram sent would be there now.
        let got = peer.recv(&mut buf).map(|n| buf[..n].to_vec());
        assert_eq!(
            got.map_err(|e| e.kind()),
            Err(io::ErrorKind::WouldBlock),
            "nothing sent after close"
        );
        assert_eq!(p.borrow().calls, ["made", "lost(None)"]);
        Ok(())
    });
}

/// A queued datagram the kernel refuses goes to `error_received` and the queue goes on: the
/// next one is sent in the same flush, and `close` then completes. CPython returns after
/// `error_received` and lets its level-triggered writer call again; edge-triggered, waiting
/// for another writable edge would leave the rest queued for good.
#[test]
fn a_failed_queued_datagram_does_not_stall_the_queue() {
    run_clean(async {
        let dir = util::temp_dir("dgram-stall");
        let recv_path = dir.join("r.sock");
        let r = UnixDatagram::bind(&recv_path)?;
        r.set_nonblocking(true)?;
        let to_r = Address::Unix(std::os::unix::net::SocketAddr::from_pathname(&recv_path)?);
        let nobody = Address::Unix(std::os::unix::net::SocketAddr::from_pathname(
            dir.join("nobody.sock"),
        )?);
        let a = UnixDatagram::unbound()?;
        socket2::SockRef::from(&a).set_send_buffer_size(4096)?;
        let lp = asyncio::get_running_loop()?;
        let (t, p) = lp.create_datagram_endpoint(Rec::default).sock(a).await?;
        assert!(t.peername().is_none(), "unconnected");
        for i in 0..1000 {
            if t.get_write_buffer_size() > 0 {
                break;
            }
            t.sendto(&[i as u8; 1024], Some(&to_r))?;
        }
        assert_eq!(t.get_write_buffer_size(), 1024, "one datagram queued");
        t.sendto(&[0xEE; 1024], Some(&nobody))?; // fails when flushed
        t.sendto(&[0xFF; 1024], Some(&to_r))?;
        assert_eq!(t.get_write_buffer_size(), 3 * 1024);
        drain(&r); // room again: a writable edge flushes the queue
        until(&p, |r| !r.errors.is_empty()).await;
        assert_eq!(p.borrow().errors, [io::ErrorKind::NotFound]);
        assert_eq!(t.get_write_buffer_size(), 0, "the rest was sent");
        assert_eq!(drain(&r).last(), Some(&0xFF));
        t.close();
        until(&p, Rec::lost).await;
        assert_grammar(&p.borrow().calls);
        Ok(())
    });
}

/// `allow_broadcast` sets `SO_BROADCAST`: without it the kernel refuses a send to the limited
/// broadcast address (`EACCES`, to `error_received`); with it, it does not.
#[test]
fn allow_broadcast_sets_so_broadcast() {
    run_clean(async {
        let lp = asyncio::get_running_loop()?;
        let bcast = Address::Inet("255.255.255.255:9".parse().unwrap());
        let mut kinds = Vec::new();
        for allow in [false, true] {
            let (t, p) = lp
                .create_datagram_endpoint(Rec::default)
                .local_addr("0.0.0.0", 0)
                .allow_broadcast(allow)
                .await?;
            t.sendto(b"hello, everyone", Some(&bcast))?;
            // A refusal is delivered from inside sendto (the protocol is free).
            kinds.push(p.borrow().errors.clone());
            t.close();
        }
        assert_eq!(kinds[0], [io::ErrorKind::PermissionDenied]);
        assert!(
            !kinds[1].contains(&io::ErrorKind::PermissionDenied),
            "{:?}",
            kinds[1]
        );
        Ok(())
    });
}

/// `reuse_port` sets `SO_REUSEPORT` on both: a second endpoint binds the same port; without
/// it the bind fails with `EADDRINUSE` (CPython test_events `test_create_datagram_endpoint_reuse_port`).
#[test]
fn reuse_port_lets_two_endpoints_share_a_port() {
    run_clean(async {
        let lp = asyncio::get_running_loop()?;
        let (first, _) = lp
            .create_datagram_endpoint(Rec::default)
            .local_addr("127.0.0.1", 0)
            .reuse_port(true)
            .await?;
        let port = port_of(&first);
        let (second, _) = lp
            .create_datagram_endpoint(Rec::default)
            .local_addr("127.0.0.1", port)
            .reuse_port(true)
            .await?;
        assert_eq!(port_of(&second), port);
        let refused = lp
            .create_datagram_endpoint(Rec::default)
            .local_addr("127.0.0.1", port)
            .await
            .err()
            .expect("a third bind without reuse_port fails");
        let Error::Io(e) = refused else {
            panic!("{refused:?}")
        };
        assert_eq!(e.kind(), io::ErrorKind::AddrInUse);
        first.close();
        second.close();
        Ok(())
    });
}

/// `create_datagram_endpoint` on the running loop refuses `sock` with `InvalidArgument` whose
/// text starts with `text`.
async fn sock_refused(sock: impl Into<asyncio::DatagramSocket>, text: &str) {
    let lp = asyncio::get_running_loop().unwrap();
    let err = lp
        .create_datagram_endpoint(Rec::default)
        .sock(sock)
        .await
        .err()
        .expect("refused");
    assert!(matches!(err, Error::InvalidArgument(_)), "{err:?}");
    assert!(err.to_string().starts_with(text), "{err}");
}

/// `sock=` adoption: the socket is used as it is; the refusals of CPython test_base_events
/// `test_create_datagram_endpoint_sock_sockopts` and `..._wrong_sock`.
#[test]
fn sock_is_adopted_and_modifiers_are_refused() {
    run_clean(async {
        let lp = asyncio::get_running_loop()?;
        let (a, b) = UnixDatagram::pair()?;
        let (t, p) = lp.create_datagram_endpoint(Rec::default).sock(a).await?;
        b.send(b"over the pair")?;
        until(&p, |r| !r.got.is_empty()).await;
        assert_eq!(p.borrow().got[0].0, b"over the pair");
        t.sendto(b"back", None)?; // connected: no address needed
        let mut buf = [0; 16];
        let n = b.recv(&mut buf)?;
        assert_eq!(&buf[..n], b"back");
        t.close();

        let udp = std::net::UdpSocket::bind("127.0.0.1:0")?;
        let err = lp
            .create_datagram_endpoint(Rec::default)
            .sock(udp)
            .local_addr("127.0.0.1", 0)
            .reuse_port(true)
            .allow_broadcast(true)
            .await
            .err()
            .unwrap();
        assert_eq!(
            err.to_string(),
            "socket modifier keyword arguments can not be used when sock is specified. \
             (local_addr=('127.0.0.1', 0), reuse_port=True, allow_broadcast=True)"
        );
        let err = lp
            .create_datagram_endpoint(Rec::default)
            .family(asyncio::AddressFamily::Inet)
            .sock(std::net::UdpSocket::bind("127.0.0.1:0")?)
            .await
            .err()
            .unwrap();
        assert!(err.to_string().ends_with("(family=2)"), "{err}");

        // A stream socket in UdpSocket's clothing.
        let listener = std::net::TcpListener::bind("127.0.0.1:0")?;
        let tcp = std::net::TcpStream::connect(listener.local_addr()?)?;
        let fake = std::net::UdpSocket::from(std::os::fd::OwnedFd::from(tcp));
        sock_refused(fake, "A UDP Socket was expected, got").await;
        Ok(())
    });
}

/// `sock=` takes the family from the socket, not from the wrapper it came in: a Unix datagram
/// descriptor passed as a `UdpSocket` (any descriptor converts) still hears its datagrams with
/// Unix addresses, and replies; a datagram socket of another family is refused.
#[test]
fn sock_family_comes_from_the_socket_not_the_wrapper() {
    run_clean(async {
        let lp = asyncio::get_running_loop()?;
        let (a, b) = UnixDatagram::pair()?;
        let as_udp = std::net::UdpSocket::from(std::os::fd::OwnedFd::from(a));
        let (t, p) = lp
            .create_datagram_endpoint(Rec::default)
            .sock(as_udp)
            .await?;
        b.send(b"unix inside")?;
        until(&p, |r| !r.got.is_empty() || !r.errors.is_empty()).await;
        assert_eq!(p.borrow().errors, [], "{:?}", p.borrow().calls);
        assert!(matches!(p.borrow().got[0].1, Address::Unix(_)));
        t.sendto(b"back", None)?;
        b.set_read_timeout(Some(LIMIT))?; // bounded, should the reply never come
        let mut buf = [0; 16];
        let n = b.recv(&mut buf)?;
        assert_eq!(&buf[..n], b"back");
        t.close();

        let udp = std::net::UdpSocket::bind("127.0.0.1:0")?;
        let port = udp.local_addr()?.port();
        let as_unix = UnixDatagram::from(std::os::fd::OwnedFd::from(udp));
        let (t, p) = lp
            .create_datagram_endpoint(Rec::default)
            .sock(as_unix)
            .await?;
        std::net::UdpSocket::bind("127.0.0.1:0")?.send_to(b"inet inside", ("127.0.0.1", port))?;
        until(&p, |r| !r.got.is_empty() || !r.errors.is_empty()).await;
        assert_eq!(p.borrow().errors, [], "{:?}", p.borrow().calls);
        assert!(matches!(p.borrow().got[0].1, Address::Inet(_)));
        t.close();

        // A netlink datagram socket (no privilege needed): not an address we can speak.
        let netlink = socket2::Socket::new(
            socket2::Domain::from(libc::AF_NETLINK),
            socket2::Type::DGRAM,
            None,
        )?;
        let fake = UnixDatagram::from(std::os::fd::OwnedFd::from(netlink));
        sock_refused(fake, "A UDP or Unix datagram socket was expected, got").await;
        Ok(())
    });
}

/// A connected endpoint sends to its peer whatever address it is given (CPython uses `send`
/// once there is a peername): an echo over a socketpair, replying to the unnamed address the
/// datagram came from, works.
#[test]
fn a_connected_unix_endpoint_echoes_to_its_unnamed_peer() {
    run_clean(async {
        let lp = asyncio::get_running_loop()?;
        let (a, b) = UnixDatagram::pair()?;
        let (t, p) = lp.create_datagram_endpoint(Rec::echo).sock(a).await?;
        b.send(b"ping")?;
        until(&p, |r| !r.got.is_empty()).await;
        assert!(matches!(&p.borrow().got[0].1, Address::Unix(a) if a.is_unnamed()));
        b.set_nonblocking(true)?;
        let mut buf = [0; 16];
        let n = b.recv(&mut buf)?; // sent from inside datagram_received, already there
        assert_eq!(&buf[..n], b"ping");
        t.close();
        until(&p, Rec::lost).await;
        Ok(())
    });
}

/// A datagram is received at a 64-byte boundary of the loop's shared read buffer, as a plain
/// socket read is (tests/transport/reading.rs `l46_plain_reads_land_on_a_cache_line_boundary`),
/// not at the 16-byte offset where a `malloc` of 256 KiB starts: every read into that buffer
/// goes through the one window.
#[test]
fn datagrams_land_on_a_cache_line_boundary() {
    run_clean(async {
        let lp = asyncio::get_running_loop()?;
        let (a, b) = UnixDatagram::pair()?;
        let (t, p) = lp.create_datagram_endpoint(Rec::default).sock(a).await?;
        let sizes = [1, 63, 64, 65, 1500, 9000, 64 * 1024];
        for (i, &n) in sizes.iter().enumerate() {
            b.send(&vec![i as u8; n])?;
        }
        until(&p, |r| r.got.len() == sizes.len()).await;
        {
            let r = p.borrow();
            let got: Vec<usize> = r.got.iter().map(|(d, _)| d.len()).collect();
            assert_eq!(got, sizes, "each datagram whole, in order");
            let same = |(i, (d, _)): (usize, &(Vec<u8>, Address))| d.iter().all(|&x| x == i as u8);
            assert!(
                r.got.iter().enumerate().all(same),
                "each datagram's own bytes"
            );
            assert_eq!(
                r.misaligned,
                0,
                "{} of {} datagrams off a 64-byte boundary",
                r.misaligned,
                sizes.len()
            );
        }
        t.close();
        until(&p, Rec::lost).await;
        Ok(())
    });
}

/// A datagram longer than 256 KiB is cut to exactly 256 KiB (CPython's `max_size`, our
/// `MAX_READ_SIZE`) whatever read used the loop's shared buffer before. The receive used to be
/// offered the buffer's whole length, 64 bytes longer once a plain stream read had sized it
/// for its aligned window, so the same datagram came cut to 256 KiB + 64.
#[test]
fn a_long_datagram_is_cut_to_max_read_size_whatever_read_came_before() {
    /// A plain stream protocol: counts the bytes it is given, in the shared buffer.
    struct Count(Rc<std::cell::Cell<usize>>);
    impl asyncio::Protocol for Count {
        fn data_received(&mut self, data: &[u8]) {
            self.0.set(self.0.get() + data.len());
        }
    }
    const MAX: usize = asyncio::constants::MAX_READ_SIZE;
    run_clean(async {
        let lp = asyncio::get_running_loop()?;
        // A plain stream read first: it sizes the loop's shared buffer.
        let (sa, mut sb) = std::os::unix::net::UnixStream::pair()?;
        let counted: Rc<std::cell::Cell<usize>> = Rc::default();
        let c = counted.clone();
        let (stream, _) = lp
            .create_connection(move || Count(c), "", 0)
            .sock(sa)
            .await?;
        std::io::Write::write_all(&mut sb, b"x")?;
        for _ in 0..10_000 {
            if counted.get() == 1 {
                break;
            }
            asyncio::yield_now().await;
        }
        assert_eq!(counted.get(), 1, "the stream read came first");
        // Then a datagram longer than any read offers.
        let (a, b) = UnixDatagram::pair()?;
        socket2::SockRef::from(&b).set_send_buffer_size(4 * MAX)?;
        let (t, p) = lp.create_datagram_endpoint(Rec::default).sock(a).await?;
        let long = vec![5u8; MAX + 4096];
        match b.send(&long) {
            Ok(n) => assert_eq!(n, long.len()),
            Err(e) => {
                // The host caps SO_SNDBUF below a datagram this long: nothing to check here.
                println!("skipped: a {} B datagram cannot be sent: {e}", long.len());
                t.close();
                stream.close();
                return Ok(());
            }
        }
        until(&p, |r| !r.got.is_empty()).await;
        let got = p.borrow().got[0].0.len();
        assert_eq!(got, MAX, "the datagram as received");
        t.close();
        stream.close();
        until(&p, Rec::lost).await;
        Ok(())
    });
}

/// The builder's own refusals (CPython test_base_events
/// `test_create_datagram_endpoint_wrong_sock`, `..._no_addrinfo`, `..._addr_error`).
#[test]
fn builder_refusals() {
    run_clean(async {
        let lp = asyncio::get_running_loop()?;
        let err = lp
            .create_datagram_endpoint(Rec::default)
            .await
            .err()
            .unwrap();
        assert_eq!(err.to_string(), "unexpected address family");
        // Local IPv4, remote IPv6: no family has both.
        let err = lp
            .create_datagram_endpoint(Rec::default)
            .local_addr("127.0.0.1", 0)
            .remote_addr("::1", 9)
            .await
            .err()
            .unwrap();
        assert_eq!(err.to_string(), "can not get address information");
        // A family and no address: an unbound socket of that family.
        let (t, _) = lp
            .create_datagram_endpoint(Rec::default)
            .family(asyncio::AddressFamily::Inet)
            .await?;
        assert!(t.peername().is_none());
        t.close();
        Ok(())
    });
}

/// A remote address the socket cannot connect to fails the call with the OS error, errno
/// kept (CPython test_base_events `test_create_datagram_endpoint_connect_err`): the limited
/// broadcast address without `allow_broadcast` (`EACCES`; `ENETUNREACH` with no route).
#[test]
fn a_failed_connect_is_the_error_with_its_errno() {
    run_clean(async {
        let lp = asyncio::get_running_loop()?;
        let r = lp
            .create_datagram_endpoint(Rec::default)
            .remote_addr("255.255.255.255", 9)
            .await;
        let Err(Error::Io(e)) = r else {
            panic!(
                "expected the connect's error, got {:?}",
                r.map(|(t, _)| t.peername())
            );
        };
        let code = e.raw_os_error();
        assert!(
            code == Some(libc::EACCES) || code == Some(libc::ENETUNREACH),
            "{e}"
        );
        Ok(())
    });
}

/// Unix datagram endpoints on paths: a server bound to a path, a client bound and connected;
/// the stale socket file a dead server left is removed before the bind (CPython
/// `test_create_datagram_endpoint_existing_sock_unix`-like behaviour of the `AF_UNIX` branch).
#[test]
fn unix_path_endpoints_echo() {
    run_clean(async {
        let dir = util::temp_dir("dgram");
        let server_path = dir.join("server.sock");
        let client_path = dir.join("client.sock");
        drop(UnixDatagram::bind(&server_path)?); // a stale socket file
        let lp = asyncio::get_running_loop()?;
        let (server, sp) = lp
            .create_datagram_endpoint(Rec::echo)
            .local_path(&server_path)
            .await?;
        let (client, cp) = lp
            .create_datagram_endpoint(Rec::default)
            .local_path(&client_path)
            .remote_path(&server_path)
            .await?;
        client.sendto(b"over unix", None)?;
        until(&cp, |r| !r.got.is_empty()).await;
        assert_eq!(cp.borrow().got[0].0, b"over unix");
        let from = sp.borrow().got[0].1.clone();
        assert!(matches!(&from, Address::Unix(a) if a.as_pathname() == Some(&client_path)));
        let elsewhere = Address::Unix(std::os::unix::net::SocketAddr::from_pathname(
            dir.join("other"),
        )?);
        assert_eq!(
            client
                .sendto(b"x", Some(&elsewhere))
                .unwrap_err()
                .to_string(),
            format!("Invalid address: must be None or {}", server_path.display())
        );
        client.close();
        server.close();
        until(&sp, Rec::lost).await;
        until(&cp, Rec::lost).await;
        Ok(())
    });
}

/// Abstract Unix names (Linux; CPython takes them as `str`/`bytes` starting with a NUL): an
/// endpoint bound to one, a client connected to one with `remote_path`, and a reply from the
/// server to the client's abstract name.
#[cfg(target_os = "linux")]
#[test]
fn abstract_unix_names_as_local_remote_and_reply_addresses() {
    use std::os::linux::net::SocketAddrExt;
    run_clean(async {
        let tag = format!("asyncio-dgram-test-{}", std::process::id());
        let server_name = format!("\0{tag}-server");
        let lp = asyncio::get_running_loop()?;
        let (server, sp) = lp
            .create_datagram_endpoint(Rec::echo)
            .local_path(&server_name)
            .await?;
        let (client, cp) = lp
            .create_datagram_endpoint(Rec::default)
            .local_path(format!("\0{tag}-client"))
            .remote_path(&server_name)
            .await?;
        client.sendto(b"abstract", None)?;
        until(&cp, |r| !r.got.is_empty()).await;
        assert_eq!(cp.borrow().got[0].0, b"abstract");
        let from = sp.borrow().got[0].1.clone();
        let client_name = format!("{tag}-client");
        assert!(
            matches!(&from, Address::Unix(a) if a.as_abstract_name() == Some(client_name.as_bytes()))
        );
        // The same abstract name is the remote address; another is refused.
        let same = std::os::unix::net::SocketAddr::from_abstract_name(format!("{tag}-server"))?;
        client.sendto(b"again", Some(&Address::Unix(same)))?;
        until(&cp, |r| r.got.len() == 2).await;
        let other = std::os::unix::net::SocketAddr::from_abstract_name(format!("{tag}-other"))?;
        assert!(client.sendto(b"x", Some(&Address::Unix(other))).is_err());
        client.close();
        server.close();
        until(&sp, Rec::lost).await;
        until(&cp, Rec::lost).await;
        Ok(())
    });
}

/// A panicking `datagram_received` is reported, and the endpoint goes on receiving (CPython:
/// the exception leaves `_read_ready` for the loop's handler; the transport stays open). The
/// report is a failed loop callback's, with CPython's keys (3.11: {'message': 'Exception in
/// callback _SelectorDatagramTransport._read_ready()', 'exception': .., 'handle': <Handle
/// _SelectorDatagramTransport._read_ready()>}), naming the protocol's method that failed.
#[test]
fn panicking_datagram_received_is_reported_and_the_endpoint_goes_on() {
    let reported = Rc::new(RefCell::new(Vec::new()));
    let seen = reported.clone();
    let silent = run(async move {
        let lp = asyncio::get_running_loop()?;
        let (a, b) = UnixDatagram::pair()?;
        let panicky = || Rec {
            on_datagram: Some(Act::Panic),
            ..Rec::default()
        };
        let seen = seen.clone();
        lp.set_exception_handler(Some(
            move |_: &asyncio::LoopHandle, ctx: &asyncio::ExceptionContext| {
                seen.borrow_mut()
                    .push((ctx.message.clone(), ctx.details.clone()));
            },
        ));
        let (t, p) = lp.create_datagram_endpoint(panicky).sock(a).await?;
        b.send(b"first")?;
        b.send(b"second")?;
        until(&p, |r| r.got.len() == 2).await;
        assert!(!t.is_closing());
        t.close();
        until(&p, Rec::lost).await;
        assert_grammar(&p.borrow().calls);
        Ok(())
    });
    assert!(silent.is_empty(), "{silent:?}");
    let call = format!("{}::datagram_received(..)", std::any::type_name::<Rec>());
    let one = (
        format!("Exception in callback {call}"),
        vec![("handle", format!("<Handle {call}>"))],
    );
    assert_eq!(reported.borrow()[..], [one.clone(), one]);
}

/// Re-entrancy: `close` and `abort` from inside `connection_made` and `datagram_received`;
/// the grammar holds and nothing panics on a nested borrow.
#[test]
fn close_and_abort_from_inside_callbacks() {
    for (made, dgram) in [
        (Some(Act::Close), None),
        (Some(Act::Abort), None),
        (None, Some(Act::Close)),
        (None, Some(Act::Abort)),
    ] {
        run_clean(async move {
            let lp = asyncio::get_running_loop()?;
            let (a, b) = UnixDatagram::pair()?;
            let rec = move || Rec {
                on_made: made,
                on_datagram: dgram,
                ..Rec::default()
            };
            let (t, p) = lp.create_datagram_endpoint(rec).sock(a).await?;
            // Closed from connection_made, our end may be gone already: ECONNREFUSED then.
            let _ = b.send(b"one");
            let _ = b.send(b"two");
            until(&p, Rec::lost).await;
            assert!(t.is_closing());
            let calls = p.borrow().calls.clone();
            assert_grammar(&calls);
            let want: &[&str] = match made {
                Some(_) => &["made", "lost(None)"],
                None => &["made", "datagram(3)", "lost(None)"],
            };
            assert_eq!(calls, want, "{made:?} {dgram:?}");
            Ok(())
        });
    }
}

/// A `sendto` inside `datagram_received` that crosses the high-water mark: `pause_writing`
/// comes right after the callback returns, not inside it.
#[test]
fn pause_from_a_sendto_inside_a_callback_comes_after_it() {
    struct Flood {
        rec: Rec,
        inside: bool,
    }
    impl DatagramProtocol for Flood {
        fn connection_made(&mut self, t: DatagramTransport) {
            t.set_write_buffer_limits(Some(2048), Some(0)).unwrap();
            self.rec.connection_made(t);
        }
        fn datagram_received(&mut self, data: &[u8], _addr: Address) {
            self.rec.calls.push(format!("datagram({})", data.len()));
            self.inside = true;
            let t = self.rec.transport.clone().unwrap();
            fill(&t, 2049).unwrap();
            self.inside = false;
            self.rec.calls.push("datagram returns".into());
        }
        fn pause_writing(&mut self) {
            assert!(!self.inside, "pause_writing inside datagram_received");
            self.rec.pause_writing();
        }
        fn connection_lost(&mut self, exc: Option<io::Error>) {
            self.rec.connection_lost(exc);
        }
    }
    run_clean(async {
        let lp = asyncio::get_running_loop()?;
        let (a, b) = stuck_pair()?;
        let flood = || Flood {
            rec: Rec::default(),
            inside: false,
        };
        let (t, p) = lp.create_datagram_endpoint(flood).sock(a).await?;
        b.send(b"go")?;
        for _ in 0..100 {
            if p.borrow().rec.calls.contains(&"pause".to_string()) {
                break;
            }
            asyncio::yield_now().await;
        }
        assert_eq!(
            p.borrow().rec.calls,
            ["made", "datagram(2)", "datagram returns", "pause"]
        );
        t.abort();
        Ok(())
    });
}

/// The Python interop peer's scripts (CPython 3.11's own `create_datagram_endpoint`).
const PY_ECHO_SERVER: &str = r#"
import asyncio
class Echo(asyncio.DatagramProtocol):
    def __init__(self, done): self.done = done
    def connection_made(self, t): self.t = t
    def datagram_received(self, data, addr):
        self.t.sendto(b'py:' + data, addr)
        if not self.done.done(): self.done.set_result(None)
async def main():
    loop = asyncio.get_running_loop()
    done = loop.create_future()
    t, _ = await loop.create_datagram_endpoint(lambda: Echo(done), local_addr=('127.0.0.1', 0))
    print(t.get_extra_info('sockname')[1], flush=True)
    await asyncio.wait_for(done, 15)
    t.close()
asyncio.run(main())
"#;

const PY_CLIENT: &str = r#"
import asyncio, sys
class Client(asyncio.DatagramProtocol):
    def __init__(self, fut): self.fut = fut
    def connection_made(self, t): t.sendto(b'hello from python')
    def datagram_received(self, data, addr): self.fut.set_result(data)
    def error_received(self, exc): self.fut.set_exception(exc)
async def main():
    loop = asyncio.get_running_loop()
    fut = loop.create_future()
    t, _ = await loop.create_datagram_endpoint(lambda: Client(fut), remote_addr=('127.0.0.1', int(sys.argv[1])))
    print((await asyncio.wait_for(fut, 15)).decode(), flush=True)
    t.close()
asyncio.run(main())
"#;

fn have_python() -> bool {
    std::process::Command::new("python3")
        .args(["-c", "import asyncio"])
        .status()
        .is_ok_and(|s| s.success())
}

/// Our client against a Python asyncio UDP echo server.
#[test]
fn interop_our_client_python_server() {
    if !have_python() {
        eprintln!("skipped: python3 with asyncio is not installed");
        return;
    }
    run_clean(async {
        let py = asyncio::create_subprocess_exec("python3", ["-c", PY_ECHO_SERVER])
            .stdout(asyncio::Stdio::Pipe)
            .await?;
        let line = py.stdout.as_ref().unwrap().readline().await?;
        let port: u16 = String::from_utf8_lossy(&line).trim().parse().expect("port");
        let lp = asyncio::get_running_loop()?;
        let (t, p) = lp
            .create_datagram_endpoint(Rec::default)
            .remote_addr("127.0.0.1", port)
            .await?;
        t.sendto(b"hello from rust", None)?;
        until(&p, |r| !r.got.is_empty()).await;
        assert_eq!(p.borrow().got[0].0, b"py:hello from rust");
        t.close();
        assert_eq!(py.wait().await, 0);
        Ok(())
    });
}

/// A Python asyncio UDP client against our echo server.
#[test]
fn interop_python_client_our_server() {
    if !have_python() {
        eprintln!("skipped: python3 with asyncio is not installed");
        return;
    }
    run_clean(async {
        let lp = asyncio::get_running_loop()?;
        let (server, sp) = lp
            .create_datagram_endpoint(Rec::echo)
            .local_addr("127.0.0.1", 0)
            .await?;
        let port = port_of(&server).to_string();
        let py = asyncio::create_subprocess_exec("python3", ["-c", PY_CLIENT, &port])
            .stdout(asyncio::Stdio::Pipe)
            .await?;
        let line = py.stdout.as_ref().unwrap().readline().await?;
        assert_eq!(line, b"hello from python\n");
        assert_eq!(py.wait().await, 0);
        assert_eq!(sp.borrow().got[0].0, b"hello from python");
        server.close();
        Ok(())
    });
}

/// A protocol a user holds across an `.await`: the datagrams wait in the kernel (the loop does
/// not spin), and once it is free every one arrives, once, in order, more than one event's
/// share of them included.
#[test]
fn a_held_protocol_gets_every_datagram_once_it_is_free() {
    let lp = asyncio::EventLoop::new().unwrap();
    let h = lp.handle();
    let (a, b) = UnixDatagram::pair().unwrap();
    let (t, p) = lp
        .run_until_complete(async move { h.create_datagram_endpoint(Rec::default).sock(a).await })
        .unwrap()
        .unwrap();
    let turns = util::turns_while_held(&lp, &p, Duration::from_millis(50), || {
        for i in 0..40u8 {
            b.send(&[i]).unwrap();
        }
    });
    assert!(turns < 1_000);
    // Each turn finds datagrams already waiting; the bound is on turns, short ones.
    for _ in 0..1_000 {
        if p.borrow().got.len() >= 40 {
            break;
        }
        lp.run_once(Some(Duration::from_millis(10))).unwrap();
    }
    let got: Vec<u8> = p.borrow().got.iter().map(|g| g.0[0]).collect();
    assert_eq!(got, (0..40).collect::<Vec<u8>>(), "each once, in order");
    t.close();
    util::run_until(&lp, 100, || p.borrow().lost());
    assert_grammar(&p.borrow().calls);
}

/// The loop closing under an open endpoint: the protocol is told
/// (`connection_lost(Other: Event loop is closed)`), as the stream transports do, and the
/// socket is closed. The text is Python's plain one: the streams' longer text speaks of a
/// stream kept past its run, which a datagram endpoint is not.
#[test]
fn the_loop_closing_tells_an_open_endpoint() {
    let lp = asyncio::EventLoop::new().unwrap();
    let h = lp.handle();
    let (a, b) = UnixDatagram::pair().unwrap();
    let (t, p) = lp
        .run_until_complete(async move { h.create_datagram_endpoint(Rec::default).sock(a).await })
        .unwrap()
        .unwrap();
    lp.close().unwrap();
    assert_eq!(p.borrow().calls, ["made", "lost(Some(Other))"]);
    assert_eq!(
        p.borrow().lost_text.as_deref(),
        Some("Event loop is closed")
    );
    assert!(t.get_extra_info("socket").is_none());
    assert_eq!(
        b.send(b"anyone?").unwrap_err().kind(),
        io::ErrorKind::ConnectionRefused,
        "our end is closed"
    );
}

/// An empty path is no address (Python's `local_addr=''` / `remote_addr=''` are falsy in
/// `create_datagram_endpoint`): the socket is neither bound (Linux would autobind an abstract
/// name) nor connected.
#[test]
fn an_empty_unix_path_is_no_address() {
    run_clean(async {
        let lp = asyncio::get_running_loop()?;
        let (t, _p) = lp
            .create_datagram_endpoint(Rec::default)
            .local_path("")
            .remote_path("")
            .await?;
        match t.sockname() {
            Some(Address::Unix(a)) => assert!(a.is_unnamed(), "bound to {a:?}"),
            other => panic!("a Unix endpoint, got {other:?}"),
        }
        assert!(t.peername().is_none(), "not connected");
        t.close();
        Ok(())
    });
}

/// A Unix path with a NUL inside is refused, as the stream side refuses it (L112): the kernel
/// reads a path up to its first NUL, so the endpoint was bound to the shorter path (after an
/// ERROR log from the stale-socket check, which could not look at the whole one), and a
/// remote path was connected to the shorter one before the address check failed.
#[test]
fn a_unix_path_with_an_interior_nul_is_refused_not_cut_short() {
    run_clean(async {
        let dir = util::temp_dir("dgram-nul");
        let short = dir.join("s");
        let mut long = short.clone().into_os_string();
        long.push("\0tail");
        let lp = asyncio::get_running_loop()?;
        let local = lp
            .create_datagram_endpoint(Rec::default)
            .local_path(&long)
            .await;
        assert!(
            matches!(&local, Err(Error::Io(e)) if e.kind() == io::ErrorKind::InvalidInput),
            "bound to {:?}",
            local.map(|(t, _)| t.sockname())
        );
        assert!(!short.exists(), "nothing was bound at the shorter path");
        let receiver = UnixDatagram::bind(&short)?;
        receiver.set_nonblocking(true)?;
        let remote = lp
            .create_datagram_endpoint(Rec::default)
            .remote_path(&long)
            .await;
        assert!(
            matches!(&remote, Err(Error::Io(e)) if e.kind() == io::ErrorKind::InvalidInput),
            "connected to {:?}",
            remote.map(|(t, _)| t.peername())
        );
        Ok(())
    });
}

/// `sockname()` (`get_extra_info("sockname")`) still answers once the transport is closed
/// and its socket gone, as CPython's `_extra['sockname']` does: an inet and a Unix path.
#[test]
fn sockname_outlives_the_socket() {
    run_clean(async {
        let dir = util::temp_dir("dgram-sockname");
        let path = dir.join("s.sock");
        let (inet, ip) = local_endpoint().await?;
        let lp = asyncio::get_running_loop()?;
        let (unix, up) = lp
            .create_datagram_endpoint(Rec::default)
            .local_path(&path)
            .await?;
        let port = port_of(&inet);
        inet.close();
        unix.abort();
        until(&ip, Rec::lost).await;
        until(&up, Rec::lost).await;
        assert!(
            inet.get_extra_info("socket").is_none(),
            "the socket is gone"
        );
        assert_eq!(port_of(&inet), port);
        match inet.get_extra_info("sockname") {
            Some(asyncio::ExtraInfo::Address(Address::Inet(a))) => assert_eq!(a.port(), port),
            other => panic!("{other:?}"),
        }
        match unix.sockname() {
            Some(Address::Unix(a)) => assert_eq!(a.as_pathname(), Some(path.as_path())),
            other => panic!("{other:?}"),
        }
        Ok(())
    });
}

/// Send errors met while the protocol is held elsewhere (a borrow kept across an `.await`)
/// reach `error_received` in order once it is free, through one pending delivery: one queued
/// retry per error made a chain of retries per error, each spacing itself out on its own.
/// CPython calls `error_received` at once (`_sendto_ready`/`sendto`); a held `RefCell` cannot.
/// Port 0 is the kernel's `EINVAL`, a Unix address on a UDP socket our `EAFNOSUPPORT`.
#[test]
#[allow(clippy::await_holding_refcell_ref)] // holding the borrow across an await is the point
fn errors_met_while_the_protocol_is_held_wait_in_one_delivery_in_order() {
    run_clean(async {
        let (t, p) = local_endpoint().await?;
        let lp = asyncio::get_running_loop()?;
        until(&p, |r| !r.calls.is_empty()).await;
        let port0 = Address::Inet("127.0.0.1:0".parse().unwrap());
        let unix = Address::Unix(std::os::unix::net::SocketAddr::from_pathname(
            "/nonexistent/asyncio-test",
        )?);
        let held = p.borrow_mut();
        let ready = lp.stats().ready;
        for i in 0..10 {
            t.sendto(b"x", Some(if i % 2 == 0 { &port0 } else { &unix }))?;
        }
        assert!(
            lp.stats().ready <= ready + 1,
            "{} callbacks queued for 10 errors",
            lp.stats().ready - ready
        );
        asyncio::yield_now().await;
        drop(held);
        until(&p, |r| r.errors.len() >= 10).await;
        let want: Vec<_> = (0..10)
            .map(|i| match i % 2 {
                0 => io::ErrorKind::InvalidInput,
                _ => io::Error::from_raw_os_error(libc::EAFNOSUPPORT).kind(),
            })
            .collect();
        assert_eq!(p.borrow().errors, want);
        t.close();
        until(&p, Rec::lost).await;
        assert_grammar(&p.borrow().calls);
        Ok(())
    });
}

/// Errors that waited for a held protocol are delivered before datagrams that arrive once it
/// is free: they were met first (CPython would have called `error_received` then, during the
/// `sendto`). Once the protocol is free, a readable edge used to deliver the new datagrams at
/// once, ahead of the errors still waiting for their retry (on a timer after a long hold).
/// Both families, and a short hold (the retry on the next turn) as well as a long one.
#[test]
#[allow(clippy::await_holding_refcell_ref)] // holding the borrow across an await is the point
fn errors_that_waited_for_the_protocol_come_before_later_datagrams() {
    for host in loopbacks() {
        for turns in [1, 20] {
            run_clean(async move {
                let (t, p, port0, peer) = endpoint_with_failing_target(host).await?;
                let held = p.borrow_mut();
                t.sendto(b"x", Some(&port0))?; // EINVAL: waits for the protocol
                for _ in 0..turns {
                    asyncio::yield_now().await;
                }
                drop(held);
                peer.send_to(b"later", (host, port_of(&t)))?;
                until(&p, |r| !r.errors.is_empty() && !r.got.is_empty()).await;
                assert_eq!(
                    p.borrow().calls,
                    ["made", "error(InvalidInput)", "datagram(5)"],
                    "{host}, held {turns} turns"
                );
                t.close();
                until(&p, Rec::lost).await;
                assert_grammar(&p.borrow().calls);
                Ok(())
            });
        }
    }
}

/// A `sendto` that fails inside `datagram_received` reports its error before the next
/// datagram, as CPython's `sendto` calls `error_received` before it returns. The error waits
/// for the callback to end; it used to wait for the rest of the burst too (the read loop went
/// on to the datagrams already queued in the kernel, 16 per edge, before the pending
/// delivery ran): `made, datagram(1), datagram(2), datagram(3), error(InvalidInput)`.
#[test]
fn an_error_from_a_sendto_inside_datagram_received_comes_before_the_next_datagram() {
    for host in loopbacks() {
        run_clean(async move {
            let lp = asyncio::get_running_loop()?;
            let (t, p) = lp
                .create_datagram_endpoint(|| Rec {
                    on_datagram: Some(Act::SendFailing),
                    ..Rec::default()
                })
                .local_addr(host, 0)
                .await?;
            let peer = std::net::UdpSocket::bind((host, 0))?;
            for n in 1..=3 {
                peer.send_to(&vec![0; n], (host, port_of(&t)))?; // one burst: all queued
            }
            until(&p, |r| r.got.len() == 3 && !r.errors.is_empty()).await;
            assert_eq!(
                p.borrow().calls,
                [
                    "made",
                    "datagram(1)",
                    "error(InvalidInput)",
                    "datagram(2)",
                    "datagram(3)"
                ],
                "{host}"
            );
            t.close();
            until(&p, Rec::lost).await;
            assert_grammar(&p.borrow().calls);
            Ok(())
        });
    }
}

/// While the protocol is held, at most 1024 errors wait for it; the later ones are dropped.
/// CPython calls error_received during the failing sendto, so nothing waits there; here the
/// queue used to grow by one error per failing sendto for as long as the hold lasted (a
/// borrow kept across awaits, a sender that is never told). Both families.
#[test]
#[allow(clippy::await_holding_refcell_ref)] // holding the borrow across an await is the point
fn the_errors_waiting_for_a_held_protocol_are_bounded() {
    const BOUND: usize = 1024;
    for host in loopbacks() {
        run_clean(async move {
            let (t, p, port0, peer) = endpoint_with_failing_target(host).await?;
            let held = p.borrow_mut();
            for _ in 0..3 * BOUND {
                t.sendto(b"x", Some(&port0))?; // EINVAL: waits for the protocol
            }
            asyncio::yield_now().await;
            drop(held);
            // A datagram after them: once it is in, every waiting error has been delivered.
            peer.send_to(b"later", (host, port_of(&t)))?;
            until(&p, |r| !r.got.is_empty()).await;
            let errors = p.borrow().errors.len();
            assert_eq!(errors, BOUND, "{host}: errors delivered after the hold");
            assert_eq!(
                p.borrow().calls.last().map(String::as_str),
                Some("datagram(5)")
            );
            // Free again, the protocol hears every error at once.
            t.sendto(b"x", Some(&port0))?;
            assert_eq!(p.borrow().errors.len(), BOUND + 1, "{host}: after the hold");
            t.close();
            until(&p, Rec::lost).await;
            assert_grammar(&p.borrow().calls);
            Ok(())
        });
    }
}

/// A failed bind or connect of a Unix datagram endpoint names its path, errno kept, as the
/// stream side's `open_unix_connection` does (`[Errno 2] No such file or directory:
/// '<path>'`). It used to say only `No such file or directory (os error 2)`.
#[test]
fn a_failed_unix_bind_or_connect_names_its_path_errno_kept() {
    run_clean(async {
        let dir = util::temp_dir("dgram-enoent");
        let lp = asyncio::get_running_loop()?;
        // A directory that does not exist: the bind fails with ENOENT.
        let local = dir.join("missing").join("s");
        let bound = lp
            .create_datagram_endpoint(Rec::default)
            .local_path(&local)
            .await;
        // Nothing bound there: the connect fails with ENOENT too.
        let remote = dir.join("nobody");
        let connected = lp
            .create_datagram_endpoint(Rec::default)
            .remote_path(&remote)
            .await;
        for (r, path) in [(bound, &local), (connected, &remote)] {
            let Err(e) = r else {
                panic!(
                    "{} is no usable address, yet the call succeeded",
                    path.display()
                );
            };
            assert_eq!(e.raw_os_error(), Some(libc::ENOENT), "{e:?}");
            let Error::Io(io_err) = &e else {
                panic!("an I/O error, got {e:?}");
            };
            assert_eq!(io_err.kind(), io::ErrorKind::NotFound, "{e:?}");
            let text = e.to_string();
            assert!(
                text.ends_with(&format!(": '{}'", path.display())),
                "the path is not named: {text}"
            );
            assert!(text.starts_with("[Errno 2] "), "{text}");
        }
        Ok(())
    });
}

/// The loop closing under an endpoint with datagrams queued: nothing is sent after it, so the
/// queue is let go then (not with the last handle), and its size says 0.
#[test]
fn the_loop_closing_frees_what_an_endpoint_could_not_send() {
    let lp = asyncio::EventLoop::new().unwrap();
    let h = lp.handle();
    let (a, _b) = UnixDatagram::pair().unwrap(); // `_b` never reads
    let (t, p) = lp
        .run_until_complete(async move { h.create_datagram_endpoint(Rec::default).sock(a).await })
        .unwrap()
        .unwrap();
    fill(&t, 4096).unwrap();
    lp.close().unwrap();
    assert_eq!(p.borrow().calls, ["made", "lost(Some(Other))"]);
    assert_eq!(t.get_write_buffer_size(), 0, "the queue was let go");
}

/// Warnings logged by the thread that logged them, to count those of one test only (tests
/// run in parallel, each on its own thread, and a loop logs on the thread that runs it). This
/// binary's logger, installed by the first test that needs it (one per process).
static LINES: std::sync::Mutex<Vec<(std::thread::ThreadId, String)>> =
    std::sync::Mutex::new(Vec::new());

struct Capture;

impl log::Log for Capture {
    fn enabled(&self, _: &log::Metadata<'_>) -> bool {
        true
    }
    fn log(&self, r: &log::Record<'_>) {
        if r.level() <= log::Level::Warn {
            let line = (std::thread::current().id(), r.args().to_string());
            LINES.lock().unwrap_or_else(|p| p.into_inner()).push(line);
        }
    }
    fn flush(&self) {}
}

static LOGGER: Capture = Capture;

/// The warnings this thread logged that contain `text`.
fn my_warnings(text: &str) -> Vec<String> {
    let _ = log::set_logger(&LOGGER);
    log::set_max_level(log::LevelFilter::Warn);
    let me = std::thread::current().id();
    let lines = LINES.lock().unwrap_or_else(|p| p.into_inner());
    let mine = lines.iter().filter(|(t, l)| *t == me && l.contains(text));
    mine.map(|(_, l)| l.clone()).collect()
}

/// An endpoint closed with datagrams still queued as the last thing in `run`: the loop closes
/// before it can send them. CPython drops them silently; as the stream transports do, we say
/// so once, with the count and the bytes. Before, nothing was printed.
// Checklist: L16 (the loop's close drops what was queued: said once, as for streams).
#[test]
fn datagrams_still_queued_when_the_loop_closes_are_warned_about_once() {
    let before = my_warnings("the event loop closed with").len();
    let (queued, _peer) = asyncio::run(async {
        let (t, _p, peer) = stuck_endpoint().await?;
        fill(&t, 8 * 1024)?;
        let queued = t.get_write_buffer_size();
        t.close(); // and the run ends before the loop sends the queue
        Ok::<_, Error>((queued, peer))
    })
    .unwrap()
    .unwrap();
    let lines = my_warnings("the event loop closed with");
    assert_eq!(lines.len(), before + 1, "{lines:?}");
    let want = format!(
        "closed with {} datagrams ({queued} bytes) still to send, dropped",
        queued / 1024
    );
    let line = lines.last().unwrap();
    assert!(line.contains(&want), "{line} (want {want})");
    assert!(line.starts_with("datagram transport "), "{line}");
    assert!(line.contains("connection_lost()"), "{line}");
}

/// The same run with nothing left in the queue warns of nothing.
#[test]
fn a_loop_closing_with_no_datagram_queued_warns_of_nothing() {
    let before = my_warnings("the event loop closed with").len();
    asyncio::run(async {
        let (t, _p, peer) = stuck_endpoint().await?;
        t.sendto(b"fits", None)?;
        assert_eq!(t.get_write_buffer_size(), 0, "sent at once");
        t.close();
        Ok::<_, Error>(peer)
    })
    .unwrap()
    .unwrap();
    assert_eq!(my_warnings("the event loop closed with").len(), before);
}

/// An endpoint kept past its `run`: `sendto` returns `Ok` (as every dropped send does) and
/// the datagram goes nowhere. The first such call is warned about at once, saying why; later
/// ones follow the dropped-send count (CPython's `_conn_lost`), which warns from the fifth on.
/// Before, the first five were silent.
// Checklist: L16, L81 (a dropped write after the loop closed is warned at the first).
#[test]
fn a_sendto_after_the_loop_closed_is_warned_about_at_the_first() {
    let after_close = "sendto after its event loop closed, dropped";
    let (t, peer) = asyncio::run(async {
        let (t, _p, peer) = stuck_endpoint().await?;
        Ok::<_, Error>((t, peer))
    })
    .unwrap()
    .unwrap();
    let before = my_warnings(after_close).len();
    let counted = my_warnings("socket.send() raised exception").len();
    t.sendto(b"late", None).unwrap();
    let lines = my_warnings(after_close);
    assert_eq!(lines.len(), before + 1, "the first is warned about");
    assert!(
        lines.last().unwrap().contains("endpoint's work"),
        "{lines:?}"
    );
    for _ in 0..4 {
        t.sendto(b"later", None).unwrap();
    }
    assert_eq!(my_warnings(after_close).len(), before + 1, "once");
    assert_eq!(
        my_warnings("socket.send() raised exception").len(),
        counted,
        "the count warns from the fifth dropped send after the first, not before"
    );
    t.sendto(b"later", None).unwrap();
    assert_eq!(
        my_warnings("socket.send() raised exception").len(),
        counted + 1
    );
    assert!(
        drain(&peer).is_empty(),
        "nothing sent after the loop closed"
    );
}
