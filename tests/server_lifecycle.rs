//! A running `Server` (the same Server as `start_server` returns) and how it ends: `close`,
//! `wait_closed`, `serve_forever`, `close_clients`/`abort_clients` and `scope` (L106–L110),
//! and the stream-level server's `start_serving`, `serve_forever` and `async with` (S70–S76).
//! Shared helpers: `server_common`; the accept loop itself is in `server_accept.rs`.
//!
//! Ported: `test_server.py` BaseStartServer.test_start_server_1 (`l106_*`, `l109_*`, and
//! whole at stream level in `s72_s76_test_start_server_1`),
//! SelectorStartServerTests.test_start_unix_server_1 (whole in
//! `s70_s72_s76_test_start_unix_server_1`), TestServer2.test_wait_closed_basic/_race
//! (`l108_*`), test_close_clients/test_abort_clients (`l110_*`). Not ported:
//! TestServer2.test_close_race (needs a mocked accept racing close()); the ssl ones (TLS
//! tests). See the appendix of `asyncio-semantics.md`.

mod server_common;
mod util;

use std::cell::{Cell, RefCell};
use std::io::{Read, Write};
use std::net::TcpStream;
use std::rc::Rc;
use std::sync::{mpsc, Arc};
use std::time::{Duration, Instant};

use asyncio::{Error, EventLoop, Protocol, Server, Transport};
use server_common::{
    check_tcp_echo, finish, first_inet, is_refused, peer, roundtrip, run_within, shut,
    spin_a_little, tcp_client, tcp_server, tcp_server_not_serving, unix_client, Seen, BOUND,
};
use util::{temp_dir, Echo};

// ---- close, wait_closed, serve_forever, clients, scope (L106–L110) ------------------------------

#[test]
fn l107_dropping_every_server_handle_keeps_serving() {
    // As in Python, where the loop's accept callback holds the server: only close() stops it.
    let lp = EventLoop::new().unwrap();
    let server = tcp_server(&lp, "127.0.0.1");
    let addr = first_inet(&server);
    drop(server);
    check_tcp_echo(&lp, addr);
    check_tcp_echo(&lp, addr);
}

#[test]
fn l107_close_stops_accepting_but_leaves_connections_open() {
    let lp = EventLoop::new().unwrap();
    let server = tcp_server(&lp, "127.0.0.1");
    let addr = first_inet(&server);
    let mut client = tcp_client(addr);
    run_within(&lp, BOUND, || server.connection_count() == 1);
    server.close();
    server.close(); // idempotent
    assert!(
        !server.is_serving() && server.sockets().is_empty(),
        "L104, L107"
    );
    assert!(
        is_refused(TcpStream::connect_timeout(&addr, BOUND)),
        "L107: no longer listening"
    );
    // The client comes back with the answer: dropped inside the peer thread, its close could
    // reach the server before the count is read.
    let (got, client) = finish(
        &lp,
        peer(&lp, move || {
            let got = roundtrip(&mut client, b"still here");
            (got, client)
        }),
    );
    assert_eq!(got, b"still here", "L107: the connection stays open");
    assert_eq!(server.connection_count(), 1);
    drop(client);
    shut(&lp, &server);
}

#[test]
fn l108_wait_closed_waits_for_connections_after_close() {
    let lp = EventLoop::new().unwrap();
    let server = tcp_server(&lp, "127.0.0.1");
    let client = tcp_client(first_inet(&server));
    run_within(&lp, BOUND, || server.connection_count() == 1);
    server.close();
    let s = server.clone();
    let waiting = lp.spawn(async move { s.wait_closed().await }).unwrap();
    spin_a_little(&lp);
    assert!(
        !waiting.is_done(),
        "L108: a live connection keeps wait_closed waiting"
    );
    drop(client); // EOF: the echo protocol closes, connection_lost detaches it
    run_within(&lp, BOUND, || waiting.is_done());
    assert_eq!(server.connection_count(), 0);
}

#[test]
fn l108_wait_closed_waits_for_close_after_connections_end() {
    let lp = EventLoop::new().unwrap();
    let server = tcp_server(&lp, "127.0.0.1");
    let client = tcp_client(first_inet(&server));
    run_within(&lp, BOUND, || server.connection_count() == 1);
    let s = server.clone();
    let waiting = lp.spawn(async move { s.wait_closed().await }).unwrap();
    drop(client);
    run_within(&lp, BOUND, || server.connection_count() == 0);
    spin_a_little(&lp);
    assert!(
        !waiting.is_done(),
        "L108: an open server keeps wait_closed waiting"
    );
    lp.call_soon({
        let s = server.clone();
        move || s.close()
    })
    .unwrap();
    run_within(&lp, BOUND, || waiting.is_done());
}

#[test]
fn l108_wait_closed_returns_at_once_when_closed_and_idle() {
    let lp = EventLoop::new().unwrap();
    let server = tcp_server(&lp, "127.0.0.1");
    server.close();
    let s = server.clone();
    let waiting = lp.spawn(async move { s.wait_closed().await }).unwrap();
    lp.run_once(Some(Duration::ZERO)).unwrap(); // the task's first poll
    assert!(waiting.is_done(), "L108: both conditions already held");
}

/// A waker that only counts: `Arc::strong_count` of it tells how many clones are alive.
struct CountingWaker;

impl std::task::Wake for CountingWaker {
    fn wake(self: Arc<Self>) {}
}

#[test]
fn l108_d12_abandoned_wait_closed_calls_leave_no_waker_behind() {
    // A server that runs for days, checked by `timeout(wait_closed())` in a loop, or a
    // wait_closed polled again and again (select-style): each poll and each abandoned wait
    // must not leave a waker in the server until it closes (D12: abandoning is allowed).
    let lp = EventLoop::new().unwrap();
    let server = tcp_server(&lp, "127.0.0.1");
    let counter = Arc::new(CountingWaker);
    let waker = std::task::Waker::from(counter.clone());
    let mut cx = std::task::Context::from_waker(&waker);
    for _ in 0..100 {
        let mut wait = Box::pin(server.wait_closed());
        for _ in 0..10 {
            let polled = std::future::Future::poll(wait.as_mut(), &mut cx);
            assert!(polled.is_pending(), "the server is open");
        }
        drop(wait); // abandoned, as a timeout would
    }
    drop(waker);
    assert_eq!(
        Arc::strong_count(&counter),
        1,
        "wakers of abandoned wait_closed calls are still held"
    );
    // Still working afterwards (D12).
    server.close();
    let s = server.clone();
    lp.run_until_complete(async move { s.wait_closed().await })
        .unwrap();
}

// Checklist: S72 (close() elsewhere ends serve_forever; Ok in the port, issue #14).
#[test]
fn l106_serve_forever_ends_ok_after_close_and_after_its_connections() {
    let lp = EventLoop::new().unwrap();
    let server = tcp_server_not_serving(&lp);
    let s = server.clone();
    let forever = lp.spawn(async move { s.serve_forever().await }).unwrap();
    lp.run_once(Some(Duration::ZERO)).unwrap();
    assert!(server.is_serving(), "L106: serve_forever starts serving");
    let client = tcp_client(first_inet(&server));
    run_within(&lp, BOUND, || server.connection_count() == 1);
    lp.call_soon({
        let s = server.clone();
        move || s.close() // close() from a callback cancels serve_forever's wait
    })
    .unwrap();
    spin_a_little(&lp);
    assert!(!server.is_serving());
    assert!(
        !forever.is_done(),
        "L106 (3.12.1+): serve_forever waits for the connections"
    );
    drop(client);
    run_within(&lp, BOUND, || forever.is_done());
    let out = lp.run_until_complete(forever).unwrap().unwrap();
    assert!(
        out.is_ok(),
        "L106, issue #14: a normal close is Ok: {out:?}"
    );
}

// Checklist: S72.
#[test]
fn l106_serve_forever_refuses_a_second_caller_and_a_closed_server() {
    let lp = EventLoop::new().unwrap();
    let server = tcp_server(&lp, "127.0.0.1");
    let s = server.clone();
    let forever = lp.spawn(async move { s.serve_forever().await }).unwrap();
    lp.run_once(Some(Duration::ZERO)).unwrap();
    let s = server.clone();
    let second = lp
        .run_until_complete(async move { s.serve_forever().await })
        .unwrap();
    assert!(
        matches!(&second, Err(Error::InvalidState(m))
            if m.contains("is already being awaited on serve_forever()")),
        "L106: {second:?}"
    );
    assert!(
        !forever.is_done(),
        "the refused call does not disturb the first"
    );
    server.close();
    let out = lp.run_until_complete(forever).unwrap().unwrap();
    assert!(out.is_ok(), "{out:?}");
    let s = server.clone();
    let closed = lp
        .run_until_complete(async move { s.serve_forever().await })
        .unwrap();
    assert!(
        matches!(&closed, Err(Error::InvalidState(m)) if m.contains("is closed")),
        "L106: {closed:?}"
    );
}

// Checklist: L104, L107. A server whose loop is closed under it: the loop closes the
// listening socket with its registration, so the server is closed too, as close() leaves it
// (not serving, no sockets, its connections gone with the loop, a waiting wait_closed
// satisfied). CPython keeps the listening socket open with nobody accepting on it (clients
// wait in the backlog) and says is_serving() until server.close(); here the socket is gone,
// and is_serving() said true with sockets() empty.
#[test]
fn l104_l107_closing_the_loop_closes_its_servers() {
    for closed_first in [false, true] {
        let lp = EventLoop::new().unwrap();
        let server = tcp_server(&lp, "127.0.0.1");
        let addr = first_inet(&server);
        let client = tcp_client(addr);
        run_within(&lp, BOUND, || server.connection_count() == 1);
        if closed_first {
            server.close(); // the connection stays, and goes with the loop
        }
        lp.close().unwrap();
        assert!(!server.is_serving(), "L104 (closed first: {closed_first})");
        assert!(
            server.sockets().is_empty(),
            "L104 (closed first: {closed_first})"
        );
        assert_eq!(
            server.connection_count(),
            0,
            "its connections went with the loop (closed first: {closed_first})"
        );
        assert!(
            is_refused(TcpStream::connect_timeout(&addr, BOUND)),
            "L107: no longer listening (closed first: {closed_first})"
        );
        server.close(); // still idempotent
        drop(client);
    }
}

// Checklist: L100, L104, L105. A server bound with start_serving(false) has nothing
// registered when its loop closes: it keeps its bound socket, not serving, as in CPython;
// starting it afterwards is refused as CPython refuses it, RuntimeError('Event loop is
// closed') (ours said Io, kind Other, from the registry, and closed the server), and leaves
// it as it was, for close() to end.
#[test]
fn l105_a_server_not_yet_serving_cannot_start_after_its_loop_closed() {
    let lp = EventLoop::new().unwrap();
    let server = tcp_server_not_serving(&lp);
    lp.close().unwrap();
    assert!(!server.is_serving());
    assert_eq!(server.sockets().len(), 1, "L104: still bound");
    use std::future::Future;
    let mut start = std::pin::pin!(server.start_serving());
    let waker = std::task::Waker::noop();
    let polled = start
        .as_mut()
        .poll(&mut std::task::Context::from_waker(waker));
    assert!(
        matches!(&polled, std::task::Poll::Ready(Err(Error::InvalidState(m)))
            if m == "Event loop is closed"),
        "{polled:?}"
    );
    assert!(!server.is_serving());
    assert_eq!(server.sockets().len(), 1, "unchanged");
    server.close();
    assert!(server.sockets().is_empty());
}

// Checklist: L119. The Unix socket file goes when the loop closes the listener, as at
// close(); the server's close() afterwards has nothing left to do.
#[test]
fn l119_closing_the_loop_removes_the_unix_socket_file() {
    let dir = temp_dir("loop-close");
    let path = dir.join("s.sock");
    let lp = EventLoop::new().unwrap();
    let server = lp
        .run_until_complete(lp.create_unix_server(Echo::default, &path))
        .unwrap()
        .unwrap();
    assert!(path.exists());
    lp.close().unwrap();
    assert!(!server.is_serving() && server.sockets().is_empty(), "L104");
    assert!(
        !path.exists(),
        "L119: the file of the closed listener is left behind"
    );
    server.close();
}

/// Writes `n` bytes in `connection_made`, more than the socket buffers hold.
struct Blaster {
    n: usize,
    seen: Seen,
}

impl Protocol for Blaster {
    fn connection_made(&mut self, t: Transport) {
        t.write(&vec![b'x'; self.n]).unwrap();
        self.seen.0.borrow_mut().push(t);
    }
}

/// L110 setup: a server whose one connection has a large write queued, and a client thread
/// that starts reading (to EOF or error) when told. Returns what the client read.
fn blasted(close_or_abort: fn(&Server)) -> (usize, usize) {
    const N: usize = 16 << 20;
    let lp = EventLoop::new().unwrap();
    let seen = Seen::default();
    let s2 = seen.clone();
    let server = lp
        .run_until_complete(lp.create_server(
            move || Blaster {
                n: N,
                seen: s2.clone(),
            },
            "127.0.0.1",
            0,
        ))
        .unwrap()
        .unwrap();
    let addr = first_inet(&server);
    let (go, wait) = mpsc::channel::<()>();
    let reader = peer(&lp, move || {
        let mut s = tcp_client(addr);
        wait.recv().unwrap();
        let mut total = 0;
        let mut buf = vec![0u8; 1 << 16];
        loop {
            match s.read(&mut buf) {
                Ok(0) | Err(_) => return total, // EOF, or a reset after abort
                Ok(n) => total += n,
            }
        }
    });
    run_within(&lp, BOUND, || seen.len() == 1);
    let t = seen.get(0);
    assert!(t.get_write_buffer_size() > 0, "the client has not read yet");
    server.close();
    close_or_abort(&server);
    assert!(t.is_closing(), "L110");
    go.send(()).unwrap();
    let got = finish(&lp, reader);
    let s = server.clone();
    lp.run_until_complete(async move { s.wait_closed().await })
        .unwrap();
    assert_eq!(server.connection_count(), 0);
    (got, N)
}

#[test]
fn l110_close_clients_flushes_then_closes() {
    let (got, sent) = blasted(Server::close_clients);
    assert_eq!(got, sent, "L110: close_clients flushes the buffer first");
}

#[test]
fn l110_abort_clients_drops_the_buffer() {
    let (got, sent) = blasted(Server::abort_clients);
    assert!(
        got < sent,
        "L110: abort_clients dropped nothing ({got} of {sent})"
    );
}

// Checklist: S76.
#[test]
fn l109_scope_closes_the_server_and_waits_for_its_connections() {
    let lp = EventLoop::new().unwrap();
    let server = tcp_server(&lp, "127.0.0.1");
    let addr = first_inet(&server);
    let (release, wait) = mpsc::channel::<()>();
    let released = Rc::new(Cell::new(false));
    let client = peer(&lp, move || {
        let mut s = tcp_client(addr);
        let echoed = roundtrip(&mut s, b"in scope");
        wait.recv().unwrap(); // hold the connection open until told
        echoed
    });
    let (handle, flag) = (lp.handle(), released.clone());
    let body_server = lp
        .run_until_complete(server.clone().scope(move |srv| async move {
            let guard = Instant::now() + Duration::from_secs(20); // a hang guard only
            while srv.connection_count() == 0 {
                assert!(Instant::now() < guard, "the client never connected");
                asyncio::yield_now().await;
            }
            // Runs once the body has returned and the scope is waiting in wait_closed.
            handle
                .call_soon(move || {
                    flag.set(true);
                    release.send(()).unwrap();
                })
                .unwrap();
            srv
        }))
        .unwrap();
    assert!(released.get(), "L109: the scope waited for the connection");
    assert!(
        !body_server.is_serving() && body_server.sockets().is_empty(),
        "L109: closed"
    );
    assert_eq!(server.connection_count(), 0, "L108");
    assert_eq!(finish(&lp, client), b"in scope");
}

// ---- the stream-level Server: start_serving, serve_forever, async with (S70, S72, S76) --------

/// Ports `test_server.py` BaseStartServer.test_start_server_1 (`unix` false) and
/// SelectorStartServerTests.test_start_unix_server_1 (`unix` true): a `start_server(..,
/// start_serving=False)` server, served by `serve_forever` inside `async with` (`scope`);
/// the handler cancels that main task once it has read a line, then answers and closes.
/// One port difference: a cancelled (dropped) `serve_forever` or scope closes the server but
/// cannot await `wait_closed` (a drop is synchronous), so the main task ends as soon as it is
/// cancelled, and the test waits for the connection itself afterwards.
fn start_server_1(unix: bool) {
    let lp = EventLoop::new().unwrap();
    let dir = temp_dir("s72-start-server-1");
    let path = dir.join("s.sock");
    type Main = Rc<RefCell<Option<asyncio::Task<Result<(), Error>>>>>;
    let main: Main = Rc::default();
    let m = main.clone();
    let serve = move |reader: asyncio::StreamReader, writer: asyncio::StreamWriter| {
        let m = m.clone();
        async move {
            reader.readline().await?;
            let cancelled = m.borrow().as_ref().map(asyncio::Task::cancel);
            assert_eq!(cancelled, Some(true), "the main task was running");
            writer.write(b"1")?;
            writer.close();
            writer.wait_closed().await
        }
    };
    let builder = if unix {
        asyncio::start_unix_server(serve, &path)
    } else {
        asyncio::start_server(serve, "127.0.0.1", 0)
    };
    let server = lp
        .run_until_complete(builder.start_serving(false))
        .unwrap()
        .unwrap();
    assert!(!server.is_serving(), "S68: start_serving(false)");
    let s = server.clone();
    let task = lp
        .spawn(s.scope(move |srv| async move {
            if unix {
                assert!(!srv.is_serving());
                srv.start_serving().await?;
                assert!(srv.is_serving(), "S70: serving once start_serving returns");
            }
            srv.serve_forever().await
        }))
        .unwrap();
    *main.borrow_mut() = Some(task);
    run_within(&lp, BOUND, || server.is_serving());
    let hello = [vec![b'1'; 1024 * 5], b"\n".to_vec()].concat();
    let client = if unix {
        let path = path.to_path_buf();
        peer(&lp, move || {
            let mut s = unix_client(&path);
            s.write_all(&hello).unwrap();
            let mut one = [0u8; 1];
            s.read_exact(&mut one).unwrap();
            one
        })
    } else {
        let addr = first_inet(&server);
        peer(&lp, move || {
            let mut s = tcp_client(addr);
            s.write_all(&hello).unwrap();
            let mut one = [0u8; 1];
            s.read_exact(&mut one).unwrap();
            one
        })
    };
    run_within(&lp, BOUND, || main.borrow().as_ref().unwrap().is_done());
    assert_eq!(finish(&lp, client), *b"1");
    let task = main.borrow_mut().take().unwrap();
    let out = lp.run_until_complete(task).unwrap();
    assert!(
        matches!(out, Err(asyncio::Cancelled)),
        "S72: serve_forever ends with the cancellation: {out:?}"
    );
    assert!(
        server.sockets().is_empty(),
        "S72, S76: closed on the way out"
    );
    assert!(!server.is_serving());
    let s = server.clone();
    let again = lp
        .run_until_complete(async move { s.serve_forever().await })
        .unwrap();
    assert!(
        matches!(&again, Err(Error::InvalidState(m)) if m.contains("is closed")),
        "S72: {again:?}"
    );
    let s = server.clone();
    lp.run_until_complete(async move { s.wait_closed().await })
        .unwrap();
    assert_eq!(server.connection_count(), 0);
}

#[test]
fn s72_s76_test_start_server_1() {
    start_server_1(false);
}

#[test]
fn s70_s72_s76_test_start_unix_server_1() {
    start_server_1(true);
}

#[test]
fn s70_start_serving_yields_exactly_once_even_when_already_serving() {
    // CPython's Server.start_serving is `_start_serving(); await sleep(0)`: the repeat call
    // skips the listen but still gives up one iteration.
    let lp = EventLoop::new().unwrap();
    let noop = |_r: asyncio::StreamReader, w: asyncio::StreamWriter| w.close();
    let server = lp
        .run_until_complete(asyncio::start_server(noop, "127.0.0.1", 0).start_serving(false))
        .unwrap()
        .unwrap();
    let s = server.clone();
    let h = lp.handle();
    let turns = lp
        .run_until_complete(async move {
            let mut turns = Vec::new();
            for _ in 0..2 {
                let (first, second) = (Rc::new(Cell::new(false)), Rc::new(Cell::new(false)));
                let (f, s2, h2) = (first.clone(), second.clone(), h.clone());
                // `first` is queued before the yield; `second`, queued by `first`, lands behind
                // the task's own wake-up: one turn runs the one, not the other.
                h.call_soon(move || {
                    f.set(true);
                    h2.call_soon(move || s2.set(true)).unwrap();
                })
                .unwrap();
                s.start_serving().await.unwrap();
                turns.push((first.get(), second.get(), s.is_serving()));
            }
            turns
        })
        .unwrap();
    assert_eq!(
        turns,
        [(true, false, true), (true, false, true)],
        "S70: (one turn passed, not two, serving) for the first and the repeat call"
    );
    let listening = TcpStream::connect_timeout(&first_inet(&server), BOUND);
    assert!(listening.is_ok(), "S70: listening: {listening:?}");
    shut(&lp, &server);
}

#[test]
fn s76_a_cancelled_scope_still_closes_the_server() {
    // `async with server:` closes on every way out, a cancellation included; the port's
    // scope does it when its future is dropped.
    let lp = EventLoop::new().unwrap();
    let server = tcp_server(&lp, "127.0.0.1");
    let addr = first_inet(&server);
    let task = lp
        .spawn(server.clone().scope(|_srv| std::future::pending::<()>()))
        .unwrap();
    spin_a_little(&lp);
    assert!(server.is_serving(), "the body is still running");
    assert!(task.cancel());
    let out = lp.run_until_complete(task).unwrap();
    assert!(matches!(out, Err(asyncio::Cancelled)), "{out:?}");
    assert!(
        !server.is_serving() && server.sockets().is_empty(),
        "S76: the scope closed the server"
    );
    assert!(
        is_refused(TcpStream::connect_timeout(&addr, BOUND)),
        "S76: no longer listening"
    );
}
