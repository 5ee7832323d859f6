//! A peer's reset (RST) in the middle of a read, a readexactly and a blocked drain, and
//! connection_lost called once at the protocol layer (L44, L61, L80, S18, S19, S38, S46, S48,
//! S50).

use super::*;

/// Closes `s` with SO_LINGER 0: the kernel sends RST instead of FIN.
fn reset(s: TcpStream) {
    socket2::SockRef::from(&s)
        .set_linger(Some(Duration::ZERO))
        .unwrap();
    drop(s);
}

fn assert_reset(e: &Error, what: &str) {
    assert_eq!(e.kind(), ErrorKind::ConnectionReset, "{what}: {e:?}");
    assert!(matches!(e, Error::Io(_)), "{what}: not an Io error: {e:?}");
}

/// Issue #13: a failure that came from a system call keeps its errno for every waiter.
fn assert_errno(e: &Error, errno: i32, what: &str) {
    match e {
        Error::Io(io) => assert_eq!(io.raw_os_error(), Some(errno), "{what}: {e:?}"),
        other => panic!("{what}: not an Io error: {other:?}"),
    }
}

#[test]
fn reset_during_a_read_is_connection_reset_and_releases_the_fd_l61_s18_s19_s46() {
    let _serial = util::serial();
    let lp = EventLoop::new().unwrap();
    let fds = open_fds();
    let (l, port) = listener();
    let peer = std::thread::spawn(move || {
        let (mut s, _) = l.accept().unwrap();
        s.set_read_timeout(Some(BOUND)).unwrap();
        let mut go = [0u8; 2];
        s.read_exact(&mut go).unwrap(); // sent right before our read started waiting
        reset(s);
    });
    run(&lp, async move {
        let (reader, writer) = asyncio::open_connection("127.0.0.1", port).await.unwrap();
        // `write` sends at once; the read below is waiting before the loop polls again, so the
        // RST can only be seen while it waits.
        writer.write(b"go").unwrap();
        let e = reader.read(100).await.unwrap_err();
        assert_reset(&e, "the waiting read");
        assert_errno(&e, libc::ECONNRESET, "the waiting read");
        let e = reader.readline().await.unwrap_err();
        assert_reset(&e, "S19: every later read");
        assert_errno(&e, libc::ECONNRESET, "S19: every later read");
        let e = writer.drain().await.unwrap_err();
        assert_reset(&e, "S48: drain");
        assert_errno(&e, libc::ECONNRESET, "S48: drain");
        let e = writer.wait_closed().await.unwrap_err();
        assert_reset(&e, "S46: wait_closed");
        assert_errno(&e, libc::ECONNRESET, "S46: wait_closed keeps errno 104");
        assert!(writer.is_closing(), "L78: the transport is closed");
        writer.write(b"late").unwrap(); // L81: dropped silently
    });
    peer.join().unwrap();
    assert_loop_empty(&lp, 0);
    assert_eq!(open_fds(), fds, "the socket was not released");
}

#[test]
fn reset_during_a_readexactly_beats_the_partial_bytes_s19_s38() {
    let _serial = util::serial();
    let lp = EventLoop::new().unwrap();
    let fds = open_fds();
    let (l, port) = listener();
    let peer = std::thread::spawn(move || {
        let (mut s, _) = l.accept().unwrap();
        s.set_read_timeout(Some(BOUND)).unwrap();
        s.write_all(b"0123456789").unwrap();
        let mut go = [0u8; 2];
        s.read_exact(&mut go).unwrap();
        reset(s);
    });
    run(&lp, async move {
        let (reader, writer) = asyncio::open_connection("127.0.0.1", port).await.unwrap();
        assert_eq!(reader.readexactly(4).await.unwrap(), b"0123");
        writer.write(b"go").unwrap();
        // 100 bytes never come: the reset ends the wait with the connection's error, not an
        // IncompleteRead (the stored exception wins over the buffered partial bytes, S19).
        let e = reader.readexactly(100).await.unwrap_err();
        assert_reset(&e, "the waiting readexactly");
        assert_reset(&reader.readexactly(1).await.unwrap_err(), "S19");
        assert_reset(&writer.wait_closed().await.unwrap_err(), "S46");
        assert!(writer.transport().is_closing());
    });
    peer.join().unwrap();
    assert_loop_empty(&lp, 0);
    assert_eq!(open_fds(), fds, "the socket was not released");
}

// Checklist: S66 (a loss with an error fails the drain waiting while paused).
#[test]
fn reset_during_a_blocked_drain_fails_the_drain_s48_s50() {
    let _serial = util::serial();
    let lp = EventLoop::new().unwrap();
    let fds = open_fds();
    let (l, port) = listener();
    let (go_tx, go_rx) = mpsc::channel::<()>();
    let peer = std::thread::spawn(move || {
        let (s, _) = l.accept().unwrap();
        go_rx.recv_timeout(BOUND).unwrap(); // never reads: our write buffer fills
        reset(s);
    });
    run(&lp, async move {
        let (reader, writer) = asyncio::open_connection("127.0.0.1", port).await.unwrap();
        let writer = Rc::new(writer);
        let (_low, high) = writer.transport().get_write_buffer_limits();
        let chunk = vec![0x5au8; 64 * KIB];
        let mut writes = 0;
        while writer.transport().get_write_buffer_size() <= high {
            writer.write(&chunk).unwrap();
            writes += 1;
            assert!(writes < 4096, "256 MiB written and never paused");
        }
        let (w, started) = (writer.clone(), Rc::new(Cell::new(false)));
        let s = started.clone();
        let drain = asyncio::spawn(async move {
            s.set(true);
            w.drain().await
        });
        asyncio::yield_now().await; // the drain task runs first and waits (paused above high)
        assert!(
            started.get() && !drain.is_done(),
            "drain returned above high water"
        );
        go_tx.send(()).unwrap();
        let e = drain.await.unwrap().unwrap_err();
        assert_reset(&e, "the blocked drain");
        assert_eq!(
            writer.transport().get_write_buffer_size(),
            0,
            "L80: buffer dropped"
        );
        assert_reset(
            &reader.read(1).await.unwrap_err(),
            "S19: the reader has the error",
        );
        assert_reset(&writer.wait_closed().await.unwrap_err(), "S46");
    });
    peer.join().unwrap();
    assert_loop_empty(&lp, 0);
    assert_eq!(open_fds(), fds, "the socket was not released");
}

#[test]
fn reset_calls_connection_lost_exactly_once_at_the_protocol_layer_l44_l61_l80() {
    // The stream layer hides connection_lost; a recording Protocol sees it. Three moments: an
    // idle reading connection, one that has just received data, one paused for writing.
    for mode in ["idle", "after-data", "paused-writer"] {
        let _serial = util::serial();
        let lp = EventLoop::new().unwrap();
        let seen = util::capture_exceptions(&lp);
        let fds = open_fds();
        let (l, port) = listener();
        let (go_tx, go_rx) = mpsc::channel::<()>();
        let send_data = mode == "after-data";
        let peer = std::thread::spawn(move || {
            let (mut s, _) = l.accept().unwrap();
            if send_data {
                s.write_all(b"some data").unwrap();
            }
            go_rx.recv_timeout(BOUND).unwrap();
            reset(s);
        });
        let (t, proto) = lp
            .run_until_complete(lp.create_connection(Recorder::default, "127.0.0.1", port))
            .unwrap()
            .unwrap();
        match mode {
            "after-data" => run_until(&lp, 1000, || proto.borrow().data == b"some data"),
            "paused-writer" => {
                let chunk = vec![1u8; 64 * KIB];
                let mut writes = 0;
                while !proto.borrow().calls.iter().any(|c| c == "pause_writing") {
                    t.write(&chunk).unwrap();
                    lp.run_once(Some(Duration::ZERO)).unwrap();
                    writes += 1;
                    assert!(writes < 4096, "256 MiB written and never paused");
                }
            }
            _ => {}
        }
        go_tx.send(()).unwrap();
        run_until(&lp, 1000, || proto.borrow().lost);
        for _ in 0..10 {
            lp.run_once(Some(Duration::ZERO)).unwrap(); // room for a second connection_lost
        }
        peer.join().unwrap();
        let p = proto.borrow();
        let lost: Vec<_> = p
            .calls
            .iter()
            .filter(|c| c.starts_with("connection_lost"))
            .collect();
        assert_eq!(
            lost,
            ["connection_lost(ConnectionReset)"],
            "{mode}: {:?}",
            p.calls
        );
        assert_eq!(p.calls.last().unwrap(), "connection_lost(ConnectionReset)");
        let expected: &[&str] = match mode {
            "idle" => &["connection_made", "connection_lost(ConnectionReset)"],
            "after-data" => &[
                "connection_made",
                "data",
                "connection_lost(ConnectionReset)",
            ],
            _ => &[
                "connection_made",
                "pause_writing",
                "connection_lost(ConnectionReset)",
            ],
        };
        assert_eq!(p.grammar(), expected, "{mode}");
        assert!(seen.borrow().is_empty(), "{mode}: {:?}", seen.borrow()); // L80: OS errors are quiet
        assert!(t.is_closing(), "{mode}: L78");
        assert_eq!(t.get_write_buffer_size(), 0, "{mode}: L80 drops the buffer");
        assert!(t.get_protocol().is_none(), "{mode}: L82 drops the protocol");
        drop(p);
        drop((t, proto));
        assert_loop_empty(&lp, 0);
        assert_eq!(open_fds(), fds, "{mode}: the socket was not released");
    }
}
