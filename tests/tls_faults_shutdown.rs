#![cfg(feature = "tls")]
//! The close_notify exchange (T50, T22, T23) and its neighbours: close() waits for the
//! peer's close_notify or its EOF, writes after close are dropped and warned about (T11),
//! is_closing (T27), data after closing, no timer left, and the unclosed-transport warning
//! (T39).
//!
//! Conventions (raw peers on threads, bounded waits, `util::serial()`, log capture) are those
//! of `tls_helpers::faults`. Behaviour ids (T*, L*, S*, D*) cite `asyncio-semantics.md`.

mod tls_common;
mod tls_helpers;
mod util;

use std::io::{Read, Write};
use std::net::Shutdown;
use std::os::unix::net::UnixStream;
use std::sync::mpsc;

use asyncio::{Error, EventLoop, ProtocolRef};
use tls_common::{answer_close_notify, send_all, tls_peer_over, Certs};
use tls_helpers::faults::*;
use util::Recorder;

/// What a peer does once our close_notify came.
#[derive(Clone, Copy, PartialEq, Debug)]
enum Answer {
    /// Its own close_notify (`unwrap()` on its side), then EOF once we close.
    CloseNotify,
    /// A TCP FIN with no close_notify.
    Eof,
    /// An application-data record whose ciphertext does not decrypt (a bad record MAC).
    Garbage,
}

/// A peer over a socketpair that waits for our close_notify, tells the test (waking its
/// loop), waits for the test's go, then answers as told and reads until we close.
struct AnsweringPeer {
    thread: std::thread::JoinHandle<()>,
    got: mpsc::Receiver<()>,
    go: mpsc::Sender<()>,
}

impl AnsweringPeer {
    fn over(lp: &EventLoop, theirs: UnixStream, answer: Answer) -> AnsweringPeer {
        let (got, got_rx) = mpsc::channel();
        let (go, go_rx) = mpsc::channel::<()>();
        let wake = lp.threadsafe();
        let thread = tls_peer_over(theirs, move |sock, conn| {
            // The handshake may have taken it in already (rustls then reads no more).
            while !conn.process_new_packets().unwrap().peer_has_closed() {
                assert!(conn.read_tls(sock).unwrap() > 0, "EOF before close_notify");
            }
            got.send(()).unwrap();
            wake.call_soon_threadsafe(|| ()).unwrap();
            go_rx.recv_timeout(BOUND).unwrap();
            match answer {
                Answer::CloseNotify => {
                    conn.send_close_notify();
                    send_all(sock, conn);
                }
                Answer::Eof => sock.shutdown(Shutdown::Write).unwrap(),
                Answer::Garbage => {
                    let mut record = vec![0x17, 0x03, 0x03, 0x00, 0x20];
                    record.extend(Rng(7).bytes(0x20));
                    sock.write_all(&record).unwrap();
                }
            }
            tls_common::drain(sock);
        });
        AnsweringPeer {
            thread,
            got: got_rx,
            go,
        }
    }

    /// Drives `lp` until our close_notify is at the peer.
    fn wait_for_our_close_notify(&self, lp: &EventLoop) {
        wait_until(lp, "our close_notify at the peer", || {
            self.got.try_recv().is_ok()
        });
    }

    /// Lets the peer answer.
    fn answer(&self) {
        self.go.send(()).unwrap();
    }

    fn join(self) {
        self.thread.join().unwrap();
    }
}

/// T50 (`unwrap()` → `send_close_notify` and waiting for the peer's), T22; after CPython's
/// test_ssl.py test_shutdown_cleanly: close() sends close_notify and the connection stays until
/// the peer's close_notify comes, then ends cleanly, the peer's close_notify on record.
#[test]
fn close_sends_close_notify_and_waits_for_the_peers_t50_t22() {
    let lp = TestLoop::new();
    let (ours, theirs) = asyncio::socketpair().unwrap();
    let peer = AnsweringPeer::over(&lp, theirs, Answer::CloseNotify);
    let (t, _p, rec) = tls_client_over(&lp, ours, Recorder::default());
    t.close();
    assert!(t.is_closing(), "T27: closing from close() on");
    peer.wait_for_our_close_notify(&lp);
    turns(&lp, 5);
    assert_eq!(
        rec.borrow().calls,
        ["connection_made"],
        "T50: the layer waits for the peer's close_notify"
    );
    peer.answer();
    wait_until(&lp, "connection_lost", || rec.borrow().lost);
    assert_eq!(
        rec.borrow().grammar(),
        ["connection_made", "eof_received", "connection_lost(None)"]
    );
    assert!(t.close_notify_received(), "the peer's close_notify came");
    peer.join();
    lp.assert_clean();
}

/// T25: a record the peer sends after our close_notify that does not decrypt ends the
/// shutdown with the TLS error (CPython 3.11: `SSL_shutdown` raises `SSLError` bad record mac,
/// the raw transport is force-closed with it and the app gets `connection_lost(exc)`).
/// rustls (0.23, rustls issue #959) asserts, in debug builds, that it sends no fatal alert
/// after a close_notify, and a bad record makes it send one: the assertion panicked inside
/// our engine, the socket transport caught the panic and reported it as a failed
/// `data_received` of the layer ("Fatal error: protocol.data_received() call failed",
/// exception "panicked: assertion failed: !self.sent_fatal_alert"), and the app's
/// connection_lost carried that panic instead of the TLS error. Checked against the old code.
#[test]
fn a_bad_record_after_our_close_notify_ends_the_shutdown_with_the_tls_error_t25() {
    let lp = TestLoop::new();
    let (ours, theirs) = asyncio::socketpair().unwrap();
    let peer = AnsweringPeer::over(&lp, theirs, Answer::Garbage);
    let (t, _p, rec) = tls_client_over(&lp, ours, Recorder::default());
    t.close();
    peer.wait_for_our_close_notify(&lp);
    peer.answer();
    wait_until(&lp, "connection_lost", || rec.borrow().lost);
    assert!(
        lp.seen.borrow().is_empty(),
        "reported: {:?}",
        lp.seen.borrow()
    );
    assert_eq!(
        rec.borrow().calls,
        ["connection_made", "connection_lost(InvalidData)"],
        "T25: the TLS error (kind InvalidData), not a panic"
    );
    assert!(!t.close_notify_received(), "no close_notify came");
    peer.join();
    lp.assert_clean();
}

/// T11: once closed, the TLS transport takes writes without an error and drops them; the
/// sixth dropped write, and every one after it, logs 'SSL connection is closed' (CPython's
/// `_write_appdata` warns once its drop counter, which the connection's loss also bumps,
/// has reached 5), after the connection is lost too, as on a plain socket (S42).
// CPython: SslProtoHandshakeTests.test_write_after_closing
#[test]
fn writes_after_close_are_dropped_and_warned_about_from_the_sixth_on_t11() {
    capture_log::start();
    let lp = TestLoop::new();
    let (ours, theirs) = asyncio::socketpair().unwrap();
    let peer = AnsweringPeer::over(&lp, theirs, Answer::CloseNotify);
    let (t, _p, rec) = tls_client_over(&lp, ours, Recorder::default());
    let warned = || capture_log::lines("SSL connection is closed").len();
    t.close();
    for _ in 0..5 {
        t.write(b"late").unwrap();
    }
    assert_eq!(warned(), 0, "five drops pass quietly");
    t.write(b"late").unwrap();
    assert_eq!(warned(), 1, "the sixth is warned about");
    peer.wait_for_our_close_notify(&lp);
    peer.answer();
    wait_until(&lp, "connection_lost", || rec.borrow().lost);
    turns(&lp, 5);
    t.write(b"late").unwrap();
    assert_eq!(
        warned(),
        2,
        "and so is each one after the connection is lost"
    );
    peer.join();
    lp.assert_clean();
}

/// T11: an empty `writelines` after close counts toward the warning too, in the layer and
/// after the loss alike: CPython's `_SSLProtocolTransport.writelines` hands its list to
/// `_write_appdata` as it is, which counts every call once closed (only `write(b"")` returns
/// before it). Empty lists of both shapes (no chunk, empty chunks) used to be skipped.
#[test]
fn empty_writelines_after_close_count_toward_the_warning_t11() {
    use std::io::IoSlice;
    capture_log::start();
    let lp = TestLoop::new();
    let (ours, theirs) = asyncio::socketpair().unwrap();
    let peer = AnsweringPeer::over(&lp, theirs, Answer::CloseNotify);
    let (t, _p, rec) = tls_client_over(&lp, ours, Recorder::default());
    let warned = || capture_log::lines("SSL connection is closed").len();
    let empty = [IoSlice::new(b""), IoSlice::new(b"")];
    t.close();
    for _ in 0..3 {
        t.writelines(&empty).unwrap();
    }
    for _ in 0..2 {
        t.writelines(&[]).unwrap();
    }
    t.write(b"").unwrap(); // write(b"") is not a write: not counted
    assert_eq!(warned(), 0, "five drops pass quietly");
    t.writelines(&empty).unwrap();
    assert_eq!(warned(), 1, "the sixth is warned about");
    peer.wait_for_our_close_notify(&lp);
    peer.answer();
    wait_until(&lp, "connection_lost", || rec.borrow().lost);
    turns(&lp, 5);
    t.writelines(&[]).unwrap();
    assert_eq!(warned(), 2, "and after the connection is lost");
    peer.join();
    lp.assert_clean();
}

/// T23, the SHUTDOWN half (after CPython's test_ssl.py
/// test_remote_shutdown_receives_trailing_data, whose peer also ends with a bare EOF): our
/// close_notify is out and the peer answers with a FIN only: the layer finishes at once, a
/// clean end, instead of waiting out the shutdown timeout (30 s here, beyond the bound).
#[test]
fn eof_while_shutting_down_finishes_at_once_t23() {
    let lp = TestLoop::new();
    let (ours, theirs) = asyncio::socketpair().unwrap();
    let peer = AnsweringPeer::over(&lp, theirs, Answer::Eof);
    let (t, _p, rec) = tls_client_over(&lp, ours, Recorder::default());
    t.close();
    peer.wait_for_our_close_notify(&lp);
    peer.answer();
    wait_until(&lp, "connection_lost", || rec.borrow().lost);
    assert_eq!(
        rec.borrow().grammar(),
        ["connection_made", "eof_received", "connection_lost(None)"],
        "a clean end, not the shutdown timeout's TimedOut"
    );
    assert!(!t.close_notify_received(), "the peer sent none");
    peer.join();
    lp.assert_clean(); // the shutdown timer went with the connection
}

/// T23, the FLUSHING half: close() while the app protocol is busy leaves the layer in
/// FLUSHING (its step waits for the app); a FIN from the peer then finishes the shutdown
/// without close_notify either way, and once free the app gets eof_received, then
/// connection_lost(None), as CPython's `_do_shutdown` calls them.
#[test]
fn eof_while_flushing_finishes_without_close_notify_t23() {
    let lp = TestLoop::new();
    let (ours, theirs) = asyncio::socketpair().unwrap();
    let (go, go_rx) = mpsc::channel::<()>();
    let (sent, sent_rx) = mpsc::channel();
    let peer = tls_peer_over(theirs, move |sock, conn| {
        go_rx.recv_timeout(BOUND).unwrap();
        sock.shutdown(Shutdown::Write).unwrap();
        sent.send(()).unwrap();
        // Nothing more from us: no close_notify was sent before the end.
        let mut rest = Vec::new();
        sock.read_to_end(&mut rest).unwrap();
        let mut rest = &rest[..];
        while !rest.is_empty() {
            assert!(conn.read_tls(&mut rest).unwrap() > 0);
            let state = conn.process_new_packets().unwrap();
            assert!(
                !state.peer_has_closed(),
                "T23: no close_notify after the EOF"
            );
        }
    });
    let (t, p, rec) = tls_client_over(&lp, ours, Recorder::default());
    {
        let _busy = p.borrow_mut();
        t.close();
        go.send(()).unwrap();
        // The FIN is in our socket: the layer takes it in while the app is still busy.
        sent_rx.recv_timeout(BOUND).unwrap();
        turns(&lp, 5);
        assert!(!rec.borrow().lost);
    }
    wait_until(&lp, "connection_lost", || rec.borrow().lost);
    assert_eq!(
        rec.borrow().grammar(),
        ["connection_made", "eof_received", "connection_lost(None)"]
    );
    peer.join().unwrap();
    lp.assert_clean();
}

/// T27: `is_closing()` is true once the shutdown has started, here from the peer's
/// close_notify with no close() of ours, before the connection is lost; and after abort().
#[test]
fn is_closing_once_the_peers_close_notify_starts_the_shutdown_t27() {
    let lp = TestLoop::new();
    let (ours, theirs) = asyncio::socketpair().unwrap();
    let (start, start_rx) = mpsc::channel::<()>();
    let (go, go_rx) = mpsc::channel::<()>();
    let peer = tls_peer_over(theirs, move |sock, conn| {
        start_rx.recv_timeout(BOUND).unwrap();
        conn.send_close_notify();
        send_all(sock, conn);
        go_rx.recv_timeout(BOUND).unwrap();
        tls_common::drain(sock);
    });
    let (t, _p, rec) = tls_client_over(&lp, ours, Recorder::default());
    assert!(!t.is_closing());
    start.send(()).unwrap();
    // Returns after the turn that delivered eof_received: the raw transport's close, which
    // that turn scheduled, has not run yet.
    wait_until(&lp, "eof_received", || {
        rec.borrow().calls.iter().any(|c| c == "eof_received")
    });
    assert!(!rec.borrow().lost, "the raw transport closes a turn later");
    assert!(t.is_closing(), "T27: the shutdown has started");
    go.send(()).unwrap();
    wait_until(&lp, "connection_lost", || rec.borrow().lost);
    assert!(t.is_closing(), "T27: lost");
    peer.join().unwrap();
    // abort() on a live connection: closing at once.
    let (ours, theirs) = asyncio::socketpair().unwrap();
    let peer = tls_peer_over(theirs, |sock, conn| {
        conn.writer().write_all(b"hi").unwrap(); // after its last handshake record
        send_all(sock, conn);
        tls_common::drain(sock);
    });
    let (t, _p, rec) = tls_client_over(&lp, ours, Recorder::default());
    wait_until(&lp, "the peer's hi", || rec.borrow().data == b"hi");
    t.abort();
    assert!(t.is_closing(), "T27: after abort()");
    wait_until(&lp, "connection_lost", || rec.borrow().lost);
    peer.join().unwrap();
    lp.assert_clean();
}

/// T28, T11, T25; CPython: SslProtoHandshakeTests.test_data_received_after_closing. Records
/// that arrive after close() (the peer's last data, sent after it got our close_notify) raise
/// nothing and are reported to no handler, but they fail the shutdown: the app gets
/// connection_lost with the TLS error, and no data_received, no eof_received. So CPython 3.11
/// behaves against such a peer (checked with a hand-driven `ssl.MemoryBIO` peer): OpenSSL's
/// `SSL_shutdown` fails with APPLICATION_DATA_AFTER_CLOSE_NOTIFY and the layer force-closes
/// with it. Before, the data was dropped and the shutdown ended cleanly
/// (`connection_lost(None)`).
#[test]
fn data_received_after_closing_raises_nothing_and_fails_the_shutdown_t28_t25() {
    let lp = TestLoop::new();
    let (ours, theirs) = asyncio::socketpair().unwrap();
    let peer = tls_peer_over(theirs, |sock, conn| {
        while !conn.process_new_packets().unwrap().peer_has_closed() {
            assert!(conn.read_tls(sock).unwrap() > 0, "EOF before close_notify");
        }
        conn.writer().write_all(b"late data").unwrap();
        conn.send_close_notify();
        send_all(sock, conn);
        tls_common::drain(sock);
    });
    let (t, _p, rec) = tls_client_over(&lp, ours, Recorder::default());
    t.close();
    wait_until(&lp, "connection_lost", || rec.borrow().lost);
    assert!(
        lp.seen.borrow().is_empty(),
        "reported: {:?}",
        lp.seen.borrow()
    );
    assert_eq!(
        rec.borrow().calls,
        ["connection_made", "connection_lost(InvalidData)"],
        "T25: the TLS error of the shutdown (kind InvalidData)"
    );
    peer.join().unwrap();
    lp.assert_clean();
}

/// T25, T28; CPython: TestSSL.test_shutdown_timeout_handler_leak, adapted: instead of the
/// weak reference, no timer is left armed. The peer reads our close_notify and closes without
/// answering; close() then ends the connection and its shutdown timer with it.
#[test]
fn close_to_a_peer_that_closes_without_answering_leaves_no_timer_t25() {
    let lp = TestLoop::new();
    let (ours, theirs) = asyncio::socketpair().unwrap();
    let peer = tls_peer_over(theirs, |sock, conn| {
        while !conn.process_new_packets().unwrap().peer_has_closed() {
            assert!(conn.read_tls(sock).unwrap() > 0, "EOF before close_notify");
        }
    });
    let (t, _p, rec) = tls_client_over(&lp, ours, Recorder::default());
    t.close();
    wait_until(&lp, "connection_lost", || rec.borrow().lost);
    peer.join().unwrap();
    drop(t);
    lp.assert_clean();
}

/// T39 (D8): the "unclosed transport <asyncio._SSLProtocolTransport object>" warning comes from
/// `Drop`, for a TLS transport nobody closed; a connection that ended (closed, or told
/// connection_lost when its loop closed) is marked closed and never warns, and neither does
/// the transport of a `start_tls` given up before it began, while it waited for its held
/// protocol (the caller never had it).
#[test]
fn unclosed_warning_only_for_a_tls_transport_nobody_closed_t39() {
    let _serial = util::serial();
    capture_log::start();
    let unclosed = || capture_log::lines("unclosed transport <asyncio._SSLProtocolTransport");
    let lp = EventLoop::new().unwrap();
    // Closed: no warning.
    let (ours, theirs) = asyncio::socketpair().unwrap();
    let peer = tls_peer_over(theirs, answer_close_notify);
    let (t, _p, rec) = tls_client_over(&lp, ours, Recorder::default());
    t.close();
    wait_until(&lp, "connection_lost", || rec.borrow().lost);
    drop((t, _p, rec));
    peer.join().unwrap();
    assert!(unclosed().is_empty(), "{:?}", unclosed());
    // A start_tls given up before it began (it waited for its held protocol, where it was
    // once refused): no warning either.
    let (ours, _theirs) = asyncio::socketpair().unwrap();
    let (plain, proto) = run(
        &lp,
        lp.create_connection(Recorder::default, "", 0).sock(ours),
    )
    .unwrap();
    let app: ProtocolRef = proto.clone();
    let upgrade = lp.start_tls(&plain, app, Certs::get().client_config(&[]), false);
    let mut upgrade = Box::pin(std::future::IntoFuture::into_future(upgrade));
    let held = proto.borrow_mut();
    let probe = util::Probe::new();
    assert!(probe.poll(upgrade.as_mut()).is_pending(), "held: it waits");
    for _ in 0..5 {
        lp.run_once(Some(std::time::Duration::ZERO)).unwrap();
    }
    drop(upgrade);
    drop(held);
    assert!(unclosed().is_empty(), "{:?}", unclosed());
    plain.close();
    // Open when the loop closes: the loop tells the layer (connection_lost), which marks its
    // transport closed: no warning, and no shutdown (no close_notify reaches the peer).
    let (ours, theirs) = asyncio::socketpair().unwrap();
    let (ended, ended_rx) = mpsc::channel();
    let peer = tls_peer_over(theirs, move |sock, conn| {
        conn.writer().write_all(b"hi").unwrap(); // after its last handshake record
        send_all(sock, conn);
        let mut close_notify = false;
        loop {
            match conn.read_tls(sock) {
                Ok(0) | Err(_) => break,
                Ok(_) => {}
            }
            match conn.process_new_packets() {
                Ok(state) => close_notify |= state.peer_has_closed(),
                Err(_) => break,
            }
        }
        ended.send(close_notify).unwrap();
    });
    let (t, p, rec) = tls_client_over(&lp, ours, Recorder::default());
    wait_until(&lp, "the peer's hi", || rec.borrow().data == b"hi");
    drop(lp);
    assert!(t.is_closing(), "the loop's close ended the connection");
    drop((t, p, rec));
    let close_notify = ended_rx.recv_timeout(BOUND).expect("the socket was closed");
    assert!(!close_notify, "T39: no shutdown, no close_notify");
    peer.join().unwrap();
    assert!(unclosed().is_empty(), "{:?}", unclosed());
}

/// A TLS stream kept past the run of its loop: its first write after the loop closed is
/// warned about at once (why, and what to do), as a plain stream's is; later ones follow the
/// T11 count. Before, the first five were silent, and the crate docs said otherwise.
// Checklist: L16, L81.
#[test]
fn a_tls_write_after_its_loop_closed_is_warned_about_at_the_first() {
    capture_log::start();
    let lp = EventLoop::new().unwrap();
    let (server, port) = lp
        .run_until_complete(tls_helpers::tls_echo_server(&[]))
        .unwrap()
        .unwrap();
    let (_reader, writer) = lp
        .run_until_complete(asyncio::timeout(tls_helpers::BOUND, async move {
            let (reader, writer) = tls_helpers::open_tls(port).await?;
            writer.write(b"ping")?;
            assert_eq!(reader.readexactly(4).await?, b"ping");
            Ok::<_, Error>((reader, writer))
        }))
        .unwrap()
        .unwrap()
        .unwrap();
    drop(server);
    lp.close().unwrap();
    let warned = || {
        capture_log::lines("transport ")
            .iter()
            .filter(|l| l.contains(": write after its event loop closed, dropped"))
            .count()
    };
    assert_eq!(warned(), 0, "nothing written yet");
    writer.write(b"late").unwrap(); // Ok, and dropped
    assert_eq!(warned(), 1, "the first write is warned about");
    writer.write(b"later").unwrap();
    assert_eq!(warned(), 1, "once");
}

/// T26 with T22, T25: abort() while the shutdown waits for the peer's close_notify (ours
/// sent, theirs not yet come) ends the connection at once: the app gets connection_lost(None),
/// not the shutdown timeout's error, and the shutdown timer goes with the connection (CPython:
/// `_abort` force-closes the raw transport, whose connection_lost cancels the timer).
#[test]
fn abort_while_waiting_for_the_peers_close_notify_is_connection_lost_none_t26() {
    let lp = TestLoop::new();
    let (ours, theirs) = asyncio::socketpair().unwrap();
    let (got, got_rx) = mpsc::channel::<()>();
    let wake = lp.threadsafe();
    let peer = tls_peer_over(theirs, move |sock, conn| {
        while !conn.process_new_packets().unwrap().peer_has_closed() {
            assert!(conn.read_tls(sock).unwrap() > 0, "EOF before close_notify");
        }
        got.send(()).unwrap();
        wake.call_soon_threadsafe(|| ()).unwrap();
        tls_common::drain(sock); // never answers: our abort ends it
    });
    let (t, _p, rec) = tls_client_over_with(&lp, ours, Recorder::default(), |b| {
        b.ssl_shutdown_timeout(std::time::Duration::from_secs(60))
    });
    t.close();
    wait_until(&lp, "our close_notify at the peer", || {
        got_rx.try_recv().is_ok()
    });
    assert_eq!(rec.borrow().calls, ["connection_made"], "T22: waiting");
    t.abort();
    assert!(t.is_closing(), "T27");
    wait_until(&lp, "connection_lost", || rec.borrow().lost);
    assert_eq!(
        rec.borrow().grammar(),
        ["connection_made", "connection_lost(None)"],
        "T26: the abort's loss, no eof_received, no timeout"
    );
    t.abort(); // T26: a second abort is harmless
    t.close();
    peer.join().unwrap();
    lp.assert_clean(); // no timer left (T25, T28)
}
