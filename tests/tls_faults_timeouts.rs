#![cfg(feature = "tls")]
//! The TLS timeouts under a manual clock (issue #8, T9, T25): a silent client dropped after
//! the handshake timeout, a peer that never answers close_notify or stops reading dropped
//! after the shutdown timeout, and a slow reader of our last bytes that is not.
//!
//! Conventions (raw peers on threads, bounded waits, `util::serial()`, log capture) are those
//! of `tls_helpers::faults`. Behaviour ids (T*, L*, S*, D*) cite `asyncio-semantics.md`.

mod tls_common;
mod tls_helpers;
mod util;

use std::cell::RefCell;
use std::io::Read;
use std::net::{Shutdown, TcpStream};
use std::os::unix::net::UnixStream;
use std::rc::Rc;
use std::sync::mpsc;
use std::time::Duration;

use asyncio::{Error, EventLoop, StreamReader, StreamWriter, Transport};
use tls_common::{blocking_tls_client, read_plaintext, send_all, tls_peer_over, Certs};
use tls_helpers::faults::*;
use util::{port_of, Forward, Recorder};

#[test]
fn a_silent_client_is_dropped_after_the_handshake_timeout_t9_t36() {
    // The manual clock moves only when the test says: the silent client is still there at
    // 199 ms and gone at 200 ms, whatever the machine's load (no wall-clock bound).
    let clock = asyncio::ManualClock::new();
    let lp = TestLoop::with_clock(&clock);
    capture_log::start();
    let (server, ended) = tls_server(&lp, |b| b.ssl_handshake_timeout(Duration::from_millis(200)));
    let port = port_of(&server);
    let steady = GoodClient::connect(&lp, port);
    steady.echo(&lp, b"served first\n"); // the server's side of its handshake is done too
    let mut silent = TcpStream::connect(("127.0.0.1", port)).unwrap();
    wait_until(&lp, "the accept", || server.connection_count() == 2);
    turns(&lp, 5); // its connection_made, which arms the handshake timer
    clock.advance(Duration::from_millis(199));
    turns(&lp, 5);
    assert_eq!(
        server.connection_count(),
        2,
        "T9: dropped before the timeout"
    );
    clock.advance(Duration::from_millis(1));
    wait_until(&lp, "the silent client to go at 200 ms", || {
        server.connection_count() == 1
    });
    silent.set_read_timeout(Some(BOUND)).unwrap();
    let mut buf = [0u8; 64];
    assert_eq!(silent.read(&mut buf).unwrap(), 0, "the server closed it");
    drop(silent);
    assert_eq!(
        handshake_failures(),
        [
            "SSL handshake timed out: SSL handshake is taking longer than 0.2 seconds: \
          aborting the connection"
        ]
    );
    steady.echo(&lp, b"still served\n");
    steady.close(&lp);
    wait_until(&lp, "every connection to go", || {
        server.connection_count() == 0
    });
    assert_eq!(
        ended.get(),
        ["eof close_notify=true"],
        "only the good client's handler ran"
    );
    server.close();
    run(&lp, server.wait_closed());
    lp.assert_released();
}

#[test]
fn a_client_that_never_answers_close_notify_is_dropped_after_the_shutdown_timeout_t25() {
    // The manual clock moves only when the test says: the handler is still waiting at
    // 199 ms after its close() and has its TimedOut at 200 ms (no wall-clock bound).
    let clock = asyncio::ManualClock::new();
    let lp = TestLoop::with_clock(&clock);
    let result = util::Log::default();
    let res = result.clone();
    let server = run(
        &lp,
        asyncio::start_server(
            move |_reader: StreamReader, writer: StreamWriter| {
                let res = res.clone();
                async move {
                    writer.write(b"bye\n")?;
                    writer.close(); // close_notify, then wait for the client's
                    let r = writer.wait_closed().await;
                    res.push(match &r {
                        Ok(()) => "ok".to_string(),
                        Err(e) => describe(e),
                    });
                    Ok::<_, Error>(())
                }
            },
            "127.0.0.1",
            0,
        )
        .ssl(Certs::get().server_config(&[]))
        .ssl_shutdown_timeout(Duration::from_millis(200)),
    )
    .unwrap();
    let port = port_of(&server);
    let (tx, rx) = mpsc::channel();
    let peer = std::thread::spawn(move || {
        let (mut tcp, mut conn) = blocking_tls_client(port);
        // Everything up to the server's close_notify, which it never answers.
        let got = read_plaintext(&mut tcp, &mut conn, usize::MAX);
        let close_notify = conn.reader().read(&mut [0u8; 1]).ok() == Some(0);
        tx.send((got, close_notify)).unwrap();
        // It keeps the connection open until the server drops it.
        let mut rest = Vec::new();
        let end = tcp.read_to_end(&mut rest).map_err(|e| e.kind());
        (end, rest.len())
    });
    // The client has our close_notify: close() ran, and the shutdown timer with it.
    let mut told = None;
    wait_until(&lp, "the server's close_notify at the client", || {
        told = rx.try_recv().ok();
        told.is_some()
    });
    turns(&lp, 5);
    clock.advance(Duration::from_millis(199));
    turns(&lp, 5);
    assert_eq!(
        result.get(),
        Vec::<String>::new(),
        "T25: ended before the timeout"
    );
    assert_eq!(
        server.connection_count(),
        1,
        "T25: dropped before the timeout"
    );
    clock.advance(Duration::from_millis(1));
    wait_until(&lp, "the handler's end at 200 ms", || result.len() == 1);
    wait_until(&lp, "the connection to go", || {
        server.connection_count() == 0
    });
    let (got, close_notify) = told.unwrap();
    assert_eq!(got.as_deref(), Ok(&b"bye\n"[..]));
    assert!(close_notify, "T22: the server sent close_notify");
    let (end, rest) = peer.join().unwrap();
    assert_eq!((end, rest), (Ok(0), 0), "then it closed the connection");
    let result = result.get();
    assert!(
        result[0].starts_with("io TimedOut") && result[0].contains("SSL shutdown timed out"),
        "T25: {result:?}"
    );
    server.close();
    run(&lp, server.wait_closed());
    lp.assert_released();
}

// Checklist: T25, T23 (no hang: the shutdown timeout also bounds the raw transport's close).
#[test]
fn a_peer_that_ends_its_side_and_stops_reading_is_dropped_after_the_shutdown_timeout_t25() {
    // The peer's close_notify (or its EOF, T23) completes our shutdown at once, and the raw
    // transport's close() then waits for its buffer to drain. The peer reads no more, so
    // that close never ended: the shutdown timer was cancelled before it, as CPython's is
    // (and the EOF path never had one), and connection_lost (so wait_closed) never came.
    // The manual clock moves only when the test says: the connection is still there at
    // 199 ms after the peer's end and lost at 200 ms (no wall-clock bound).
    let clock = asyncio::ManualClock::new();
    let lp = TestLoop::with_clock(&clock);
    for close_notify in [true, false] {
        let (ours, theirs) = asyncio::socketpair().unwrap();
        let (start, start_rx) = mpsc::channel::<()>();
        let (go, go_rx) = mpsc::channel::<()>();
        let peer = tls_peer_over(theirs, move |sock, conn| {
            start_rx.recv_timeout(BOUND).unwrap();
            if close_notify {
                conn.send_close_notify();
                send_all(sock, conn);
            } else {
                sock.shutdown(Shutdown::Write).unwrap();
            }
            go_rx.recv_timeout(BOUND).unwrap(); // reads nothing until the test is done
        });
        let (t, _p, rec) = tls_client_over_with(&lp, ours, Recorder::default(), |c| {
            c.ssl_shutdown_timeout(Duration::from_millis(200))
        });
        t.write(&vec![b'x'; 4 << 20]).unwrap(); // far more than the socket buffers hold
        start.send(()).unwrap();
        wait_until(&lp, "the peer's end", || {
            rec.borrow().calls.iter().any(|c| c == "eof_received")
        });
        turns(&lp, 5);
        clock.advance(Duration::from_millis(199));
        turns(&lp, 5);
        assert!(
            !rec.borrow().lost,
            "close_notify {close_notify}: dropped before the timeout: {:?}",
            rec.borrow().calls
        );
        clock.advance(Duration::from_millis(1));
        wait_until(&lp, "connection_lost at 200 ms", || rec.borrow().lost);
        go.send(()).unwrap();
        peer.join().unwrap();
        let calls = rec.borrow().calls.clone();
        assert_eq!(
            calls.last().map(String::as_str),
            Some("connection_lost(TimedOut)"),
            "close_notify {close_notify}: {calls:?}"
        );
    }
    lp.assert_released();
}

/// A TLS client over `ours` with a 200 ms shutdown timeout and 4 MiB written: far more than
/// the socket buffers hold.
fn client_with_4_mib_to_flush(
    lp: &EventLoop,
    ours: UnixStream,
) -> (Transport, Rc<RefCell<Forward>>, Rc<RefCell<Recorder>>) {
    let (t, p, rec) = tls_client_over_with(lp, ours, Recorder::default(), |c| {
        c.ssl_shutdown_timeout(Duration::from_millis(200))
    });
    t.write(&vec![b'x'; 4 << 20]).unwrap();
    (t, p, rec)
}

/// The end of a T25 flush: lost cleanly, the peer got every byte (`total` of the 4 MiB),
/// nothing reported, nothing left on the loop.
fn assert_clean_end_with_every_byte(lp: &TestLoop, rec: &Rc<RefCell<Recorder>>, total: usize) {
    let calls = rec.borrow().calls.clone();
    assert_eq!(
        calls.last().map(String::as_str),
        Some("connection_lost(None)"),
        "{calls:?}"
    );
    assert!(total > 4 << 20, "the peer got every byte: {total}");
    lp.assert_clean();
}

// Checklist: T25 (the timeout bounds a close nobody reads, not a slow reader).
#[test]
fn a_peer_still_reading_our_last_bytes_after_its_close_notify_gets_them_all_t25() {
    // After the peer's close_notify our shutdown is complete and only the raw transport's
    // close() is left, flushing 4 MiB. The peer reads on, slowly: each timeout that finds
    // fewer bytes left than when it was armed arms it again, so the peer gets every byte and
    // the connection ends cleanly. (Before, the first timeout aborted it: TimedOut.) The
    // manual clock moves only when the test says: no wall-clock race.
    let clock = asyncio::ManualClock::new();
    let lp = TestLoop::with_clock(&clock);
    let (ours, theirs) = asyncio::socketpair().unwrap();
    let (start, start_rx) = mpsc::channel::<()>();
    let (more, more_rx) = mpsc::channel::<usize>(); // read this many more bytes
    let (read, read_rx) = mpsc::channel::<usize>(); // read so far
    let peer = tls_peer_over(theirs, move |sock, conn| {
        start_rx.recv_timeout(BOUND).unwrap();
        conn.send_close_notify();
        send_all(sock, conn);
        let mut total: usize = 0;
        let mut buf = vec![0u8; 64 << 10];
        while let Ok(n) = more_rx.recv_timeout(BOUND) {
            let goal = total.saturating_add(n);
            while total < goal {
                match sock.read(&mut buf) {
                    Ok(0) | Err(_) => break,
                    Ok(k) => total += k,
                }
            }
            read.send(total).unwrap();
        }
    });
    let (_t, _p, rec) = client_with_4_mib_to_flush(&lp, ours);
    start.send(()).unwrap();
    wait_until(&lp, "the peer's close_notify", || {
        rec.borrow().calls.iter().any(|c| c == "eof_received")
    });
    turns(&lp, 5);
    // Two timeouts, each after the peer read 1 MiB more (more than the socket pair holds,
    // so our buffer went down).
    for round in 1..=2 {
        more.send(1 << 20).unwrap();
        let mut got = 0;
        wait_until(&lp, "the peer's reading", || {
            if let Ok(n) = read_rx.try_recv() {
                got = n;
            }
            got >= round << 20
        });
        clock.advance(Duration::from_millis(250));
        turns(&lp, 5);
        assert!(
            !rec.borrow().lost,
            "round {round}: dropped while the peer read on: {:?}",
            rec.borrow().calls
        );
    }
    more.send(usize::MAX).unwrap(); // the rest, to our EOF
    wait_until(&lp, "connection_lost", || rec.borrow().lost);
    let total = read_rx.recv_timeout(BOUND).unwrap();
    drop(more); // the peer's last wait ends
    peer.join().unwrap();
    assert_clean_end_with_every_byte(&lp, &rec, total);
}

// Checklist: T25 (the flush after a clean shutdown gets a whole timeout to make progress).
#[test]
fn a_shutdown_completed_late_gives_the_flush_a_whole_timeout_t25() {
    // Our close() starts the shutdown with 4 MiB unsent, and the timeout with it; the peer's
    // close_notify completes the shutdown only 190 ms into the 200 ms timeout, and the raw
    // transport's close() is left flushing. A timeout only 10 ms later must not count as
    // "the peer read nothing for a whole timeout": the flush is measured from its own start.
    // (Before, the timer our close() armed fired at 200 ms and found nothing read since
    // 190 ms: TimedOut.) The manual clock moves only when the test says: no wall-clock race.
    let clock = asyncio::ManualClock::new();
    let lp = TestLoop::with_clock(&clock);
    let (ours, theirs) = asyncio::socketpair().unwrap();
    let (start, start_rx) = mpsc::channel::<()>();
    let (more, more_rx) = mpsc::channel::<()>(); // read to EOF
    let (read, read_rx) = mpsc::channel::<usize>(); // read in all
    let peer = tls_peer_over(theirs, move |sock, conn| {
        start_rx.recv_timeout(BOUND).unwrap();
        conn.send_close_notify();
        send_all(sock, conn);
        more_rx.recv_timeout(BOUND).unwrap();
        let mut total: usize = 0;
        let mut buf = vec![0u8; 64 << 10];
        loop {
            match sock.read(&mut buf) {
                Ok(0) | Err(_) => break,
                Ok(k) => total += k,
            }
        }
        read.send(total).unwrap();
    });
    let (t, _p, rec) = client_with_4_mib_to_flush(&lp, ours);
    t.close(); // the shutdown starts, and its timeout
    turns(&lp, 5);
    clock.advance(Duration::from_millis(190));
    lp.run_once(Some(Duration::ZERO)).unwrap();
    start.send(()).unwrap();
    wait_until(&lp, "the peer's close_notify", || t.close_notify_received());
    turns(&lp, 5);
    clock.advance(Duration::from_millis(20)); // 210 ms since close(), 20 ms of flushing
    turns(&lp, 5);
    assert!(
        !rec.borrow().lost,
        "dropped 20 ms into the flush: {:?}",
        rec.borrow().calls
    );
    more.send(()).unwrap();
    wait_until(&lp, "connection_lost", || rec.borrow().lost);
    let total = read_rx.recv_timeout(BOUND).unwrap();
    peer.join().unwrap();
    assert_clean_end_with_every_byte(&lp, &rec, total);
}
