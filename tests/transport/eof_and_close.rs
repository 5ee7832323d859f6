//! EOF, close and abort (L47, L61–L63, L73, L75, L77, L80): half-close, peer resets, what
//! close flushes and abort drops.

use super::*;

#[test]
fn l47_l62_l73_half_close_both_ways() {
    // CPython: SelectorSocketTransportTests.test_read_ready_eof_keep_open.
    let lp = EventLoop::new().unwrap();
    let (l, port) = peer_listener();
    let peer = std::thread::spawn(move || {
        let (mut s, _) = l.accept().unwrap();
        s.set_read_timeout(Some(BOUND)).unwrap();
        s.write_all(b"request").unwrap();
        s.shutdown(Shutdown::Write).unwrap();
        let mut got = Vec::new();
        s.read_to_end(&mut got).unwrap();
        got
    });
    let rec = Recorder {
        keep_open_on_eof: true,
        on_eof: Some(Box::new(|t: &Transport| {
            t.write(b"response after eof").unwrap();
            t.write_eof().unwrap();
            assert!(
                matches!(t.write(b"x"), Err(asyncio::Error::InvalidState(_))),
                "L64"
            );
            assert!(
                t.write(b"").is_err(),
                "L64: the write_eof check comes first"
            );
        })),
        ..Default::default()
    };
    let (t, proto) = connect_recorder(&lp, port, rec);
    run_until(&lp, 100, || {
        proto.borrow().calls.iter().any(|c| c == "eof_received")
    });
    assert!(!t.is_reading(), "L63: no reading after EOF");
    assert!(
        !t.is_closing(),
        "L47: true from eof_received keeps the transport open"
    );
    let got = peer.join().unwrap();
    assert_eq!(got, b"response after eof");
    t.close();
    run_until(&lp, 10, || proto.borrow().lost);
    assert_eq!(
        proto.borrow().grammar(),
        [
            "connection_made",
            "data",
            "eof_received",
            "connection_lost(None)"
        ]
    );
}

#[test]
fn l47_eof_without_keep_open_closes() {
    let lp = EventLoop::new().unwrap();
    let (l, port) = peer_listener();
    let (t, proto) = connect_recorder(&lp, port, Recorder::default());
    let (s, _) = l.accept().unwrap();
    s.shutdown(Shutdown::Write).unwrap();
    run_until(&lp, 100, || proto.borrow().lost);
    assert_eq!(
        proto.borrow().grammar(),
        ["connection_made", "eof_received", "connection_lost(None)"]
    );
    assert!(t.is_closing());
}

#[test]
fn l61_l80_peer_reset_is_connection_lost_with_the_error() {
    // CPython: SelectorSocketTransportTests.test_read_ready_conn_reset.
    let lp = EventLoop::new().unwrap();
    let (l, port) = peer_listener();
    let (_t, proto) = connect_recorder(&lp, port, Recorder::default());
    let (s, _) = l.accept().unwrap();
    socket2::SockRef::from(&s)
        .set_linger(Some(Duration::ZERO))
        .unwrap();
    drop(s); // RST
    run_until(&lp, 100, || proto.borrow().lost);
    assert_eq!(
        proto.borrow().grammar(),
        ["connection_made", "connection_lost(ConnectionReset)"]
    );
}

#[test]
fn l75_close_flushes_before_connection_lost_and_l77_abort_does_not() {
    // CPython: SelectorTransportTests.test_close_write_buffer (no connection_lost while the
    // buffer flushes).
    for abort in [false, true] {
        let lp = EventLoop::new().unwrap();
        // Capped buffers: autotuned, the kernel takes all 8 MiB where tcp_wmem allows.
        let (t, proto, mut s) = narrow_tcp_pair(&lp, Recorder::default());
        let big = vec![3u8; 8 * 1024 * 1024];
        t.write(&big).unwrap();
        assert!(t.get_write_buffer_size() > 0);
        t.close();
        t.close(); // idempotent
        assert!(t.is_closing());
        if abort {
            t.abort();
            assert_eq!(t.get_write_buffer_size(), 0, "L77: abort drops the buffer");
        }
        let reader = std::thread::spawn(move || {
            s.set_read_timeout(Some(BOUND)).unwrap();
            let mut got = Vec::new();
            let _ = s.read_to_end(&mut got);
            got.len()
        });
        run_until(&lp, 100_000, || proto.borrow().lost);
        assert_eq!(
            proto.borrow().calls.last().unwrap(),
            "connection_lost(None)"
        );
        let n = reader.join().unwrap();
        if abort {
            assert!(n < big.len(), "abort still flushed everything");
        } else {
            assert_eq!(n, big.len(), "L75: close must flush first");
        }
        t.write(b"late").unwrap(); // L76/L81: dropped silently, never an error
    }
}

#[test]
fn the_loop_closing_frees_what_a_socket_transport_could_not_send() {
    // Nothing is sent after the loop closed: the queued bytes go then, not with the last handle.
    // Over a Unix pair, whose kernel buffers hold far less than 8 MiB on any host (over TCP
    // loopback the kernel took 4 MiB of it here, and takes all of it where tcp_wmem allows).
    let lp = EventLoop::new().unwrap();
    let (t, proto, _peer) = unix_pair(&lp, Recorder::default()); // `_peer` never reads
    t.write(&vec![3u8; 8 * 1024 * 1024]).unwrap();
    assert!(t.get_write_buffer_size() > 0, "the kernel took all 8 MiB");
    lp.close().unwrap();
    assert!(proto.borrow().lost);
    assert_eq!(t.get_write_buffer_size(), 0, "the unsent bytes were let go");
}

/// L62, L75, L79 (SelectorSocketTransportTests.test_pause_resume_reading): bytes and the
/// peer's EOF that arrive while reading is paused are delivered, EOF included, once reading
/// resumes (edge-triggered: no edge is left for them); closed while paused instead, the
/// transport still ends with `connection_lost(None)`, delivering neither, and a resume or
/// pause of the closing transport is a no-op.
#[test]
fn l62_l75_l79_data_and_eof_that_came_while_paused_after_a_resume_or_a_close() {
    let lp = EventLoop::new().unwrap();
    for close in [false, true] {
        let (t, p, mut peer) = unix_pair(&lp, Recorder::default());
        t.pause_reading();
        peer.write_all(b"hello").unwrap();
        peer.shutdown(Shutdown::Write).unwrap();
        for _ in 0..3 {
            lp.run_once(Some(Duration::ZERO)).unwrap();
        }
        assert_eq!(
            p.borrow().grammar(),
            ["connection_made"],
            "read while paused"
        );
        if close {
            t.close();
            t.resume_reading();
            assert!(!t.is_reading(), "L79: a closing transport does not resume");
            t.pause_reading();
        } else {
            t.resume_reading();
        }
        run_turns_until(&lp, 20, || p.borrow().lost);
        let want: &[&str] = if close {
            &["connection_made", "connection_lost(None)"]
        } else {
            &[
                "connection_made",
                "data",
                "eof_received",
                "connection_lost(None)",
            ]
        };
        assert_eq!(p.borrow().grammar(), want, "close: {close}");
    }
}

/// L56, L64, L73 (SelectorSocketTransportTests.test_write_eof_after_close,
/// test_write_eof_buffer): `write_eof` with bytes buffered, again, and after `abort` is a
/// no-op, never an error; any write after it, even an empty one, is refused; `abort` drops
/// the buffer; `sockname` and `peername` outlive the connection, `socket` does not.
#[test]
fn l56_l64_l73_write_eof_twice_and_after_abort_with_bytes_buffered() {
    let lp = EventLoop::new().unwrap();
    let (t, p, _peer) = unix_pair(&lp, Recorder::default());
    t.write(&vec![1u8; 4 << 20]).unwrap(); // more than the socket buffers hold
    assert!(t.get_write_buffer_size() > 0);
    t.write_eof().unwrap();
    t.write_eof().unwrap();
    assert!(matches!(t.write(b""), Err(asyncio::Error::InvalidState(_))));
    assert!(matches!(
        t.writelines(&[]),
        Err(asyncio::Error::InvalidState(_))
    ));
    t.abort();
    assert_eq!(t.get_write_buffer_size(), 0, "L77: abort drops the buffer");
    t.write_eof().unwrap();
    run_turns_until(&lp, 20, || p.borrow().lost);
    assert_eq!(
        p.borrow().grammar(),
        ["connection_made", "pause_writing", "connection_lost(None)"]
    );
    assert!(t.get_extra_info("socket").is_none());
    assert!(t.sockname().is_some() && t.peername().is_some());
}
