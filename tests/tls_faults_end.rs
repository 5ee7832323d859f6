#![cfg(feature = "tls")]
//! The end of a connection while reading is paused, the app is busy or our data is still in
//! flight (T13-T15, T18, T20-T22): nothing lost, every byte we wrote sent before our
//! close_notify, a raw write error surfacing at the next drain.
//!
//! Conventions (raw peers on threads, bounded waits, `util::serial()`, log capture) are those
//! of `tls_helpers::faults`. Behaviour ids (T*, L*, S*, D*) cite `asyncio-semantics.md`.

mod tls_common;
mod tls_helpers;
mod util;

use std::io::{ErrorKind, Read, Write};
use std::net::Shutdown;
use std::os::unix::net::UnixStream;
use std::sync::mpsc;

use asyncio::{Error, Transport};
use tls_common::{read_until_close_notify, send_all, tls_peer_over};
use tls_helpers::faults::*;
use util::Recorder;

/// A peer over `theirs` that sends `words`, its close_notify and EOF, says so on the channel
/// (everything is then in our socket), and reads until we close.
fn last_words_then_eof(
    theirs: UnixStream,
    words: &'static [u8],
) -> (std::thread::JoinHandle<()>, mpsc::Receiver<()>) {
    let (sent, sent_rx) = mpsc::channel();
    let peer = tls_peer_over(theirs, move |sock, conn| {
        conn.writer().write_all(words).unwrap();
        conn.send_close_notify();
        send_all(sock, conn);
        sock.shutdown(Shutdown::Write).unwrap();
        sent.send(()).unwrap();
        tls_common::drain(sock);
    });
    (peer, sent_rx)
}

#[test]
fn close_after_the_peers_eof_while_reading_is_paused_ends_the_connection_t21_t22() {
    let lp = TestLoop::new();
    let (ours, theirs) = asyncio::socketpair().unwrap();
    let (peer, sent_rx) = last_words_then_eof(theirs, b"never read");
    let pause = Recorder {
        on_made: Some(Box::new(|t: &Transport| t.pause_reading())),
        ..Recorder::default()
    };
    let (t, _p, rec) = tls_client_over(&lp, ours, pause);
    sent_rx.recv_timeout(BOUND).unwrap();
    // The records and the EOF are in our socket: the layer takes them in and, as the app
    // reads nothing, keeps the connection open for it (T21).
    turns(&lp, 5);
    assert_eq!(rec.borrow().calls, ["connection_made"]);
    // The app gives up on reading: close() ends the connection (before, the layer kept waiting
    // for a resume_reading that never came).
    t.close();
    wait_until(&lp, "connection_lost", || rec.borrow().lost);
    let calls = rec.borrow().calls.clone();
    assert_eq!(
        calls.last().map(String::as_str),
        Some("connection_lost(None)"),
        "a clean end: {calls:?}"
    );
    assert!(rec.borrow().data.is_empty(), "T17: nothing after close");
    peer.join().unwrap();
    lp.assert_clean();
}

#[test]
fn close_while_the_read_side_is_paused_at_its_high_water_mark_ends_with_the_tls_error_t18_t22() {
    let lp = TestLoop::new();
    let (ours, theirs) = asyncio::socketpair().unwrap();
    let wake = lp.threadsafe();
    // More ciphertext than the read-side high-water mark (256 KiB): with the app's reading
    // paused, the layer stops reading the socket (T18).
    let more_than_high = 320 * 1024;
    let (done, done_rx) = mpsc::channel();
    let peer = tls_peer_over(theirs, move |sock, conn| {
        let record = [b'x'; 16 * 1024];
        let mut left = more_than_high;
        while left > 0 {
            left -= conn
                .writer()
                .write(&record[..left.min(record.len())])
                .unwrap();
            send_all(sock, conn);
        }
        // The message first: the loop checks for it when the wake-up turns it.
        done.send(()).unwrap();
        wake.call_soon_threadsafe(|| ()).unwrap();
        // Then the client's close_notify (after the data it never read), answered with ours
        // if the client is still there: it fails its shutdown on the data that reaches it
        // after its close_notify (T25) and closes its socket with that data unread, so this
        // end may meet a reset at any step from here on.
        let gone = |e: &std::io::Error| {
            matches!(e.kind(), ErrorKind::ConnectionReset | ErrorKind::BrokenPipe)
        };
        loop {
            match conn.read_tls(sock) {
                Ok(0) => break,
                Ok(_) => {}
                Err(e) if gone(&e) => return,
                Err(e) => panic!("peer read: {e}"),
            }
            if conn.process_new_packets().unwrap().peer_has_closed() {
                conn.send_close_notify();
                while conn.wants_write() {
                    match conn.write_tls(sock) {
                        Ok(_) => {}
                        Err(e) if gone(&e) => return,
                        Err(e) => panic!("peer write: {e}"),
                    }
                }
                let _ = sock.shutdown(Shutdown::Write);
                break;
            }
        }
        tls_common::drain(sock);
    });
    let pause = Recorder {
        on_made: Some(Box::new(|t: &Transport| t.pause_reading())),
        ..Recorder::default()
    };
    let (t, _p, rec) = tls_client_over(&lp, ours, pause);
    wait_until(&lp, "the peer's data sent", || done_rx.try_recv().is_ok());
    // The rest is in our socket: the layer reads up to its mark and pauses the socket.
    wait_until(&lp, "the socket's reading paused", || {
        lp.stats().reading_paused == 1
    });
    t.close();
    wait_until(&lp, "connection_lost", || rec.borrow().lost);
    let calls = rec.borrow().calls.clone();
    // The data the app left unread reaches the layer after its close_notify: the shutdown
    // fails with the TLS error (T25), as CPython 3.11's does (APPLICATION_DATA_AFTER_CLOSE_
    // NOTIFY, checked with an app that pauses reading mid-bulk and closes), promptly, not
    // by the shutdown timeout.
    assert_eq!(
        calls.last().map(String::as_str),
        Some("connection_lost(InvalidData)"),
        "T22, T25: the shutdown's TLS error, not the shutdown timeout: {calls:?}"
    );
    peer.join().unwrap();
    lp.assert_clean();
}

#[test]
fn a_peer_eof_while_the_app_is_busy_loses_no_data_t21_l44() {
    let lp = TestLoop::new();
    let (ours, theirs) = asyncio::socketpair().unwrap();
    let (peer, sent_rx) = last_words_then_eof(theirs, b"last words");
    let (_t, p, rec) = tls_client_over(&lp, ours, Recorder::default());
    sent_rx.recv_timeout(BOUND).unwrap();
    {
        // The app is busy (its owner holds it) while the data and the EOF come in.
        let _busy = p.borrow_mut();
        turns(&lp, 5);
    }
    wait_until(&lp, "connection_lost", || rec.borrow().lost);
    let r = rec.borrow();
    assert_eq!(
        r.data, b"last words",
        "L44: the data, then the end: {:?}",
        r.calls
    );
    assert_eq!(r.grammar(), util::DATA_THEN_A_CLEAN_END);
    drop(r);
    peer.join().unwrap();
    lp.assert_clean();
}

/// T27, S49, S50 (gh-118950, which the port follows); CPython:
/// SslProtoHandshakeTests.test_connection_lost_when_busy. The raw socket fails a write (the
/// peer is gone: EPIPE): the TLS stream's write is accepted, and a drain after it raises
/// ConnectionReset instead of the writes vanishing silently.
#[test]
fn a_raw_write_error_under_a_tls_stream_fails_the_next_drain_t27() {
    let lp = TestLoop::new();
    let (ours, theirs) = asyncio::socketpair().unwrap();
    let (gone, gone_rx) = mpsc::channel::<()>();
    let peer = tls_peer_over(theirs, move |sock, _conn| {
        sock.shutdown(Shutdown::Both).unwrap();
        gone.send(()).unwrap();
    });
    let (reader, writer) = tls_streams_over(&lp, ours);
    peer.join().unwrap();
    gone_rx.recv_timeout(BOUND).unwrap();
    let data = b"An interesting message";
    let outcome = run(&lp, async {
        for round in 0..100 {
            writer.write(data)?;
            if let Err(e) = writer.drain().await {
                return Ok((round, e));
            }
        }
        Err(Error::InvalidState("every drain succeeded".into()))
    });
    let (round, e) = outcome.expect("a drain fails");
    assert!(
        round <= 1,
        "the first or second drain fails, not round {round}"
    );
    assert_eq!(e.kind(), ErrorKind::ConnectionReset, "{}", describe(&e));
    assert!(writer.is_closing());
    drop((reader, writer));
    lp.assert_clean();
}

/// T13, T14, T15, T22; CPython: TestSSL.test_flush_before_shutdown. 4 MiB written while the
/// peer reads nothing (the raw transport pauses the layer), then close(): every byte still
/// reaches the peer, then our close_notify; the peer then closes without answering, which
/// ends our shutdown cleanly (T23), and the reader sees EOF.
#[test]
fn flush_before_shutdown_sends_every_byte_then_close_notify_t13_t22() {
    const CHUNK: usize = 128 * 1024;
    const SIZE: usize = 32;
    let lp = TestLoop::new();
    let (ours, theirs) = asyncio::socketpair().unwrap();
    let (go, go_rx) = mpsc::channel::<()>();
    let (got_tx, got_rx) = mpsc::channel::<(usize, bool)>();
    let peer = tls_peer_over(theirs, move |sock, conn| {
        go_rx.recv_timeout(BOUND).unwrap();
        got_tx.send(read_until_close_notify(sock, conn)).unwrap();
        // Returns: the socket closes with no close_notify of the peer's.
    });
    let (reader, writer) = tls_streams_over(&lp, ours);
    for _ in 0..SIZE {
        writer.write(&[b'x'; CHUNK]).unwrap();
    }
    writer.close();
    go.send(()).unwrap();
    run(&lp, writer.wait_closed()).expect("a clean end");
    let (got, closed) = got_rx.recv_timeout(BOUND).unwrap();
    assert_eq!(got, CHUNK * SIZE, "every byte written before close()");
    assert!(closed, "then our close_notify");
    match run(&lp, reader.read(-1)) {
        Ok(rest) => assert!(rest.is_empty(), "{} B", rest.len()),
        Err(e) => assert_eq!(e.kind(), ErrorKind::ConnectionReset, "{}", describe(&e)),
    }
    peer.join().unwrap();
    drop((reader, writer));
    lp.assert_clean();
}

/// T17, T21, T25; CPython: TestSSL.test_shutdown_timeout_handler_not_set. The app pauses
/// reading after "hello"; the peer's "extra bytes" and its EOF (no close_notify) arrive while
/// it is paused. resume_reading delivers them, the EOF is a clean end (D9) and no shutdown
/// timer is armed for it: connection_lost(None), nothing left on the loop.
#[test]
fn extra_bytes_and_eof_while_paused_arrive_on_resume_with_no_shutdown_timer_t21_t25() {
    let lp = TestLoop::new();
    let (ours, theirs) = asyncio::socketpair().unwrap();
    let (eof, eof_rx) = mpsc::channel::<()>();
    let peer = tls_peer_over(theirs, move |sock, conn| {
        conn.writer().write_all(b"hello").unwrap();
        send_all(sock, conn);
        let mut got = Vec::new();
        let mut buf = [0u8; 64];
        while got.len() < 5 {
            assert!(conn.read_tls(sock).unwrap() > 0, "EOF before world");
            conn.process_new_packets().unwrap();
            while let Ok(n @ 1..) = conn.reader().read(&mut buf) {
                got.extend_from_slice(&buf[..n]);
            }
        }
        assert_eq!(got, b"world");
        conn.writer().write_all(b"extra bytes").unwrap();
        send_all(sock, conn);
        sock.shutdown(Shutdown::Write).unwrap();
        eof.send(()).unwrap();
        tls_common::drain(sock);
    });
    let rec = Recorder {
        on_data: Some(Box::new(|t: &Transport, d: &[u8]| {
            if d == b"hello" {
                t.write(b"world").unwrap();
                t.pause_reading();
            }
        })),
        ..Recorder::default()
    };
    let (t, _p, rec) = tls_client_over(&lp, ours, rec);
    wait_until(&lp, "the peer's EOF", || eof_rx.try_recv().is_ok());
    turns(&lp, 5);
    assert_eq!(rec.borrow().data, b"hello", "T17: nothing while paused");
    assert!(!rec.borrow().lost);
    t.resume_reading();
    wait_until(&lp, "connection_lost", || rec.borrow().lost);
    assert_eq!(rec.borrow().data, b"helloextra bytes");
    assert_eq!(
        rec.borrow().calls.last().map(String::as_str),
        Some("connection_lost(None)"),
        "D9: {:?}",
        rec.borrow().calls
    );
    t.close();
    peer.join().unwrap();
    drop(t);
    lp.assert_clean();
}

/// T7, T21; CPython: BaseStartTLS/TestSSL.test_create_connection_memory_leak, without its
/// weak-reference check (D8: nothing is left on the loop instead). The peer says "O", reads
/// 100 KiB, then sends its close_notify and waits for ours: connection_made exactly once,
/// "O", eof_received, and after close() connection_lost(None) with nothing left behind.
#[test]
fn create_connection_memory_leak_connection_made_once_and_nothing_left_t7_t21() {
    const SIZE: usize = 100 * 1024;
    let lp = TestLoop::new();
    let (ours, theirs) = asyncio::socketpair().unwrap();
    let peer = tls_peer_over(theirs, |sock, conn| {
        conn.writer().write_all(b"O").unwrap();
        send_all(sock, conn);
        let mut total = 0;
        let mut buf = vec![0u8; 64 * 1024];
        while total < SIZE {
            assert!(conn.read_tls(sock).unwrap() > 0, "EOF before the hello");
            conn.process_new_packets().unwrap();
            while let Ok(n @ 1..) = conn.reader().read(&mut buf) {
                total += n;
            }
        }
        assert_eq!(total, SIZE);
        // unwrap(): our close_notify, then wait for the peer's.
        conn.send_close_notify();
        send_all(sock, conn);
        while !conn.process_new_packets().unwrap().peer_has_closed() {
            assert!(conn.read_tls(sock).unwrap() > 0, "EOF before close_notify");
        }
    });
    let (t, _p, rec) = tls_client_over(&lp, ours, Recorder::default());
    wait_until(&lp, "the peer's O", || rec.borrow().data == b"O");
    t.write(&vec![b'1'; SIZE]).unwrap();
    wait_until(&lp, "eof_received", || {
        rec.borrow().calls.iter().any(|c| c == "eof_received")
    });
    t.close();
    wait_until(&lp, "connection_lost", || rec.borrow().lost);
    assert_eq!(rec.borrow().grammar(), util::DATA_THEN_A_CLEAN_END);
    peer.join().unwrap();
    drop(t);
    lp.assert_clean();
}

/// T20 with T15: the peer's close_notify comes while the raw transport has paused the layer
/// (megabytes of ours unsent): every byte we wrote still goes out, then our close_notify,
/// and only then does the raw transport close (a peer may read on after its close_notify).
// CPython: TestSSL.test_remote_shutdown_receives_trailing_data_on_slow_socket (gh-115514)
#[test]
fn the_peers_close_notify_first_still_gets_every_byte_we_wrote_then_ours_t20_t15() {
    let lp = TestLoop::new();
    let (ours, theirs) = asyncio::socketpair().unwrap();
    let (go, go_rx) = mpsc::channel::<()>();
    let (got_tx, got_rx) = mpsc::channel::<(usize, bool)>();
    let peer = tls_peer_over(theirs, move |sock, conn| {
        go_rx.recv_timeout(BOUND).unwrap();
        conn.send_close_notify();
        send_all(sock, conn);
        // Reads on: (plaintext bytes, whether our close_notify came).
        got_tx.send(read_until_close_notify(sock, conn)).unwrap();
    });
    let (t, _p, rec) = tls_client_over(&lp, ours, Recorder::default());
    const SENT: usize = 8 << 20;
    t.write(&vec![b'x'; SENT]).unwrap();
    assert!(
        t.get_write_buffer_size() > 0,
        "T15: the layer holds ciphertext"
    );
    go.send(()).unwrap();
    wait_until(&lp, "connection_lost", || rec.borrow().lost);
    assert_eq!(
        rec.borrow().grammar(),
        ["connection_made", "eof_received", "connection_lost(None)"]
    );
    let (got, closed) = got_rx.recv_timeout(BOUND).unwrap();
    assert_eq!(
        got, SENT,
        "every byte written before the peer's close_notify"
    );
    assert!(closed, "then our close_notify");
    peer.join().unwrap();
    lp.assert_clean();
}

/// D9 with T21, T17: a peer that sends its last words and a TCP FIN without close_notify
/// while the app's reading is paused, on a connection that requires close_notify: the layer
/// holds both for the app; on resume the words come first, then the truncation ends the
/// connection with the TLS error (no eof_received: it is not a clean end).
#[test]
fn a_truncation_while_paused_comes_after_the_data_on_resume_d9_t21() {
    let lp = TestLoop::new();
    let (ours, theirs) = asyncio::socketpair().unwrap();
    let (sent, sent_rx) = mpsc::channel();
    let peer = tls_peer_over(theirs, move |sock, conn| {
        conn.writer().write_all(b"cut short").unwrap();
        send_all(sock, conn);
        sock.shutdown(Shutdown::Write).unwrap();
        sent.send(()).unwrap();
        tls_common::drain(sock);
    });
    let pause = Recorder {
        on_made: Some(Box::new(|t: &Transport| t.pause_reading())),
        ..Recorder::default()
    };
    let (t, _p, rec) = tls_client_over_with(&lp, ours, pause, |b| b.ssl_require_close_notify(true));
    sent_rx.recv_timeout(BOUND).unwrap();
    turns(&lp, 5);
    assert_eq!(rec.borrow().calls, ["connection_made"], "T21: held");
    assert!(!t.is_closing(), "T21: kept open for the app");
    t.resume_reading();
    wait_until(&lp, "connection_lost", || rec.borrow().lost);
    assert_eq!(rec.borrow().data, b"cut short", "the data first");
    assert_eq!(
        rec.borrow().grammar(),
        ["connection_made", "data", "connection_lost(InvalidData)"],
        "D9: then the truncation"
    );
    peer.join().unwrap();
    lp.assert_clean();
}
