//! drain and backpressure: drains waiting while writing is paused and released together, a
//! drain on a closing or lost connection, an abandoned drain, a flooding client that never
//! reads (S48–S52, S65, S66, D12).

use super::*;

#[test]
fn test_multiple_drain_s50_s52_s65() {
    // A peer that reads nothing until told: the writer's transport pauses; two drains wait.
    let l = TcpListener::bind("127.0.0.1:0").unwrap();
    let port = l.local_addr().unwrap().port();
    let (go_tx, go_rx) = std::sync::mpsc::channel::<()>();
    let peer = std::thread::spawn(move || {
        let (mut s, _) = l.accept().unwrap();
        go_rx.recv_timeout(BOUND).unwrap();
        s.set_read_timeout(Some(BOUND)).unwrap();
        let mut total = 0usize;
        let mut buf = vec![0u8; 1 << 16];
        loop {
            match s.read(&mut buf) {
                Ok(0) => return total,
                Ok(n) => total += n,
                Err(e) => panic!("{e}"),
            }
        }
    });
    let written = run(async move {
        let (_reader, writer) = asyncio::open_connection("127.0.0.1", port).await.unwrap();
        let writer = Rc::new(writer);
        let chunk = vec![5u8; 64 * 1024];
        let mut written = 0;
        while writer.transport().get_write_buffer_size() <= 64 * 1024 {
            writer.write(&chunk).unwrap();
            written += chunk.len();
        }
        let released = Rc::new(Cell::new(0));
        let mut tasks = Vec::new();
        for _ in 0..2 {
            let (w, r) = (writer.clone(), released.clone());
            tasks.push(asyncio::spawn(async move {
                w.drain().await.unwrap();
                r.set(r.get() + 1);
            }));
        }
        asyncio::yield_now().await;
        asyncio::yield_now().await;
        assert_eq!(released.get(), 0, "drain returned while paused");
        go_tx.send(()).unwrap();
        for t in tasks {
            t.await.unwrap();
        }
        assert_eq!(released.get(), 2, "S52: resume releases every waiter");
        writer.close();
        writer.wait_closed().await.unwrap();
        written
    });
    assert_eq!(peer.join().unwrap(), written);
}

#[test]
fn flooding_client_that_never_reads_keeps_server_memory_bounded() {
    // The echo handler drains after each write: with a client that sends 32 MiB and reads
    // nothing, the server's write buffer stays near the high-water mark and its reader near
    // 2 x limit + one read; the peer's sends block instead.
    let lp = EventLoop::new().unwrap();
    let max_buffered = Rc::new(Cell::new(0usize));
    let m = max_buffered.clone();
    let server = lp
        .run_until_complete(asyncio::start_server(
            move |reader: StreamReader, writer: StreamWriter| {
                let m = m.clone();
                async move {
                    let mut buf = vec![0u8; 64 * 1024];
                    loop {
                        let n = reader.read_into(&mut buf).await?;
                        if n == 0 {
                            break;
                        }
                        writer.write(&buf[..n])?;
                        m.set(m.get().max(writer.transport().get_write_buffer_size()));
                        writer.drain().await?;
                    }
                    writer.close();
                    Ok::<_, Error>(())
                }
            },
            "127.0.0.1",
            0,
        ))
        .unwrap()
        .unwrap();
    let port = port_of(&server);
    let (done_tx, done_rx) = std::sync::mpsc::channel();
    let client = std::thread::spawn(move || {
        let mut s = std::net::TcpStream::connect(("127.0.0.1", port)).unwrap();
        s.set_write_timeout(Some(Duration::from_millis(300)))
            .unwrap();
        let chunk = vec![1u8; 64 * 1024];
        let mut sent = 0usize;
        while sent < 32 << 20 {
            match s.write(&chunk) {
                Ok(n) => sent += n,
                Err(_) => break, // blocked: backpressure reached us
            }
        }
        done_tx.send(sent).unwrap();
        s // keep the socket open until joined
    });
    let mut sent = None;
    for _ in 0..100_000 {
        lp.run_once(Some(Duration::from_millis(50))).unwrap();
        if let Ok(n) = done_rx.try_recv() {
            sent = Some(n);
            break;
        }
    }
    let sent = sent.expect("client never finished");
    assert!(
        sent < 32 << 20,
        "the client was never blocked: no backpressure"
    );
    assert!(
        max_buffered.get() <= 64 * 1024 + 64 * 1024,
        "server write buffer grew to {}",
        max_buffered.get()
    );
    drop(client.join().unwrap());
    server.close();
    server.abort_clients();
    let s = server.clone();
    lp.run_until_complete(async move { s.wait_closed().await })
        .unwrap();
}

/// S49, S51: on a closing transport `drain` yields exactly one turn (CPython's `sleep(0)`):
/// a callback queued before it has run when it returns, one queued by that callback has not.
/// With bytes still being flushed (the peer does not read) and writing not paused, it then
/// returns normally; once the connection is lost, it fails with `Connection lost`.
#[test]
fn s49_s51_drain_on_a_closing_transport_yields_exactly_one_turn() {
    run(async {
        let (a, b) = asyncio::socketpair().unwrap();
        let (_reader, writer) = asyncio::open_connection_sock(a).await.unwrap();
        let (_peer_reader, peer) = asyncio::open_connection_sock(b).await.unwrap();
        peer.transport().pause_reading(); // our bytes stay in our buffer
        writer
            .transport()
            .set_write_buffer_limits(Some(usize::MAX), None)
            .unwrap(); // never paused: drain has nothing to wait for but the close
        let chunk = vec![0u8; 1 << 20];
        for _ in 0..64 {
            if writer.transport().get_write_buffer_size() > 0 {
                break;
            }
            writer.write(&chunk).unwrap();
        }
        assert!(
            writer.transport().get_write_buffer_size() > 0,
            "the kernel took 64 MiB"
        );
        writer.close();
        assert!(writer.is_closing());
        let lp = asyncio::get_running_loop().unwrap();
        let turns = Rc::new(Cell::new(0));
        let (t, l) = (turns.clone(), lp.clone());
        lp.call_soon(move || {
            t.set(1);
            l.call_soon(move || t.set(2)).unwrap();
        })
        .unwrap();
        writer.drain().await.unwrap(); // still flushing: S51 returns normally
        assert_eq!(turns.get(), 1, "drain took one turn, not {}", turns.get());
        writer.transport().abort();
        let e = writer.drain().await.unwrap_err();
        assert_eq!(
            e.to_string(),
            "Connection lost",
            "S51 once the connection is lost"
        );
        peer.close();
    });
}

#[test]
fn test_drain_raises_s48_s49_s50_s66() {
    // The peer closes abruptly while we keep writing: drain eventually raises the loss error.
    let l = TcpListener::bind("127.0.0.1:0").unwrap();
    let port = l.local_addr().unwrap().port();
    let (connected, go) = std::sync::mpsc::channel::<()>();
    let peer = std::thread::spawn(move || {
        let (s, _) = l.accept().unwrap();
        // Reset only once the client has seen its connect succeed: a reset racing the
        // connect's completion check is a failed connect ([Errno 104], as in CPython).
        go.recv_timeout(Duration::from_secs(20)).unwrap();
        socket2::SockRef::from(&s)
            .set_linger(Some(Duration::ZERO))
            .unwrap();
        drop(s);
    });
    run(async move {
        let (_reader, writer) = asyncio::open_connection("127.0.0.1", port).await.unwrap();
        connected.send(()).unwrap();
        peer.join().unwrap();
        let mut err = None;
        for _ in 0..10_000 {
            writer.write(&[0u8; 1024]).unwrap(); // never an error (S42)
            if let Err(e) = writer.drain().await {
                err = Some(e);
                break;
            }
            asyncio::yield_now().await;
        }
        let e = err.expect("drain never raised");
        assert!(
            matches!(
                e.kind(),
                std::io::ErrorKind::ConnectionReset | std::io::ErrorKind::BrokenPipe
            ),
            "{e}"
        );
    });
}

#[test]
fn d12_an_abandoned_wait_closed_or_drain_does_not_poison_later_calls() {
    // CPython: cancelling wait_closed() cancels the closed future, and every later
    // wait_closed() raises CancelledError. D12: abandoning a wait is not cancelling the
    // connection.
    let l = TcpListener::bind("127.0.0.1:0").unwrap();
    let port = l.local_addr().unwrap().port();
    let (release, go) = std::sync::mpsc::channel::<()>();
    let peer = std::thread::spawn(move || {
        let (mut s, _) = l.accept().unwrap();
        go.recv_timeout(Duration::from_secs(20)).unwrap(); // not reading until told
        s.set_read_timeout(Some(Duration::from_secs(20))).unwrap();
        let mut sink = Vec::new();
        s.read_to_end(&mut sink).unwrap();
        sink.len()
    });
    let sent = run(async move {
        let (_reader, writer) = asyncio::open_connection("127.0.0.1", port).await.unwrap();
        let r = asyncio::timeout(Duration::from_millis(5), writer.wait_closed()).await;
        assert!(matches!(r, Err(Error::Timeout)), "still open: {r:?}");
        // Fill the socket and our buffer past the high-water mark: drain must wait.
        let chunk = vec![7u8; 64 * 1024];
        let mut sent = 0;
        while writer.transport().get_write_buffer_size() <= 64 * 1024 {
            writer.write(&chunk).unwrap();
            sent += chunk.len();
            assert!(sent < 64 << 20, "the write buffer never filled");
        }
        let r = asyncio::timeout(Duration::from_millis(5), writer.drain()).await;
        assert!(matches!(r, Err(Error::Timeout)), "paused: {r:?}");
        release.send(()).unwrap();
        writer.drain().await.unwrap();
        writer.close();
        writer.wait_closed().await.unwrap();
        writer.wait_closed().await.unwrap();
        sent
    });
    assert_eq!(peer.join().unwrap(), sent, "every byte arrived");
}

#[test]
fn s66_a_clean_loss_releases_the_drains_waiting_while_paused() {
    // FlowControlMixin.connection_lost(None) completes every pending drain waiter with None:
    // a drain blocked above the high-water mark returns Ok when the connection ends without
    // an error (here abort(), whose connection_lost carries none). The loss with an error is
    // tests/faults/resets.rs reset_during_a_blocked_drain_fails_the_drain_s48_s50.
    let (a, _peer) = asyncio::socketpair().unwrap(); // the peer never reads
    run(async move {
        let (_reader, writer) = asyncio::open_connection_sock(a).await.unwrap();
        let writer = Rc::new(writer);
        let (_low, high) = writer.transport().get_write_buffer_limits();
        let chunk = vec![7u8; 64 * 1024];
        let mut writes = 0;
        while writer.transport().get_write_buffer_size() <= high {
            writer.write(&chunk).unwrap();
            writes += 1;
            assert!(writes < 4096, "256 MiB written and never paused");
        }
        let drains: Vec<_> = (0..2)
            .map(|_| {
                let w = writer.clone();
                asyncio::spawn(async move { w.drain().await })
            })
            .collect();
        asyncio::yield_now().await; // both drains run and wait: writing is paused
        assert!(drains.iter().all(|d| !d.is_done()), "the drains wait");
        writer.transport().abort();
        for d in drains {
            let out = d.await.unwrap();
            assert!(out.is_ok(), "S66: a clean loss releases the drain: {out:?}");
        }
        let after = writer.drain().await;
        assert!(
            matches!(&after, Err(e) if e.kind() == std::io::ErrorKind::ConnectionReset
                && e.to_string() == "Connection lost"),
            "S50: a later drain: {after:?}"
        );
        assert!(writer.wait_closed().await.is_ok(), "S46: a clean close");
    });
}
