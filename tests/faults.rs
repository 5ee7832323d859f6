//! Faults a peer can cause, and misuse (issue #8, the non-TLS part): a reset in the middle of a
//! `read`, a `readexactly` and a blocked `drain`; a half-close; a peer that never reads; lines
//! over the limit; failing handlers beside healthy connections; misuse as typed errors.
//!
//! Real sockets on 127.0.0.1, every wait bounded, no sleep used to order events: a peer thread
//! acts only after a message from the test (a byte on the socket or a channel), and the loop is
//! driven until a condition holds. Each test holds `util::serial()`: several compare the
//! process's open descriptors before and after, which only works if no other test of this
//! binary opens descriptors meanwhile. Behaviour ids (L*, S*) cite `asyncio-semantics.md`.
//! The TLS faults of issue #8 are not here (TLS is written separately).

mod util;

use std::cell::{Cell, RefCell};
use std::io::{ErrorKind, Read, Write};
use std::net::{Shutdown, TcpListener, TcpStream};
use std::rc::Rc;
use std::sync::mpsc;
use std::time::Duration;

use asyncio::constants::MAX_READ_SIZE;
use asyncio::{Error, EventLoop, StreamReader, StreamWriter, Transport};
use util::{open_fds, reader_buffered, run_until, Recorder};

/// Upper bound of every wait in this file.
const BOUND: Duration = Duration::from_secs(20);
const KIB: usize = 1024;

fn port_of(server: &asyncio::Server) -> u16 {
    server.sockets()[0].as_inet().unwrap().port()
}

/// Runs `fut` on `lp` under [`BOUND`].
fn run<F: std::future::IntoFuture + 'static>(lp: &EventLoop, fut: F) -> F::Output {
    lp.run_until_complete(asyncio::timeout(BOUND, fut.into_future()))
        .unwrap()
        .expect("test timed out")
}

/// Closes `s` with SO_LINGER 0: the kernel sends RST instead of FIN.
fn reset(s: TcpStream) {
    socket2::SockRef::from(&s)
        .set_linger(Some(Duration::ZERO))
        .unwrap();
    drop(s);
}

/// A listener on a free loopback port.
fn listener() -> (TcpListener, u16) {
    let l = TcpListener::bind("127.0.0.1:0").unwrap();
    let port = l.local_addr().unwrap().port();
    (l, port)
}

/// What a loop with nothing left (no connection, no task, no timer) reports.
fn assert_loop_empty(lp: &EventLoop, listeners: usize) {
    let s = lp.stats();
    assert_eq!(s.tasks, 0, "tasks left: {s:?}");
    assert_eq!(s.timers, 0, "timers left: {s:?}");
    assert_eq!(s.io_registrations, listeners, "registrations left: {s:?}");
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

// ─────────────────────────────── resets ───────────────────────────────

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

// ─────────────────────────────── half-close ───────────────────────────────

#[test]
fn peer_half_close_reads_eof_and_we_keep_writing_s63_s17_l62_l63() {
    let _serial = util::serial();
    let lp = EventLoop::new().unwrap();
    let fds = open_fds();
    let (l, port) = listener();
    const TOTAL: usize = 4 << 20;
    let peer = std::thread::spawn(move || {
        let (mut s, _) = l.accept().unwrap();
        s.set_read_timeout(Some(BOUND)).unwrap();
        s.write_all(b"request\n").unwrap();
        s.shutdown(Shutdown::Write).unwrap(); // half-close, then keep reading
        let mut got = Vec::new();
        s.read_to_end(&mut got).unwrap();
        got
    });
    let pattern = |i: usize| (i % 253) as u8;
    run(&lp, async move {
        let (reader, writer) = asyncio::open_connection("127.0.0.1", port).await.unwrap();
        assert_eq!(reader.readline().await.unwrap(), b"request\n");
        assert_eq!(reader.read(-1).await.unwrap(), b"", "S25: EOF");
        assert!(reader.at_eof(), "S17");
        assert_eq!(
            reader.read(10).await.unwrap(),
            b"",
            "S24: b'' at EOF, again"
        );
        assert_eq!(reader.readline().await.unwrap(), b"", "S27");
        match reader.readexactly(1).await {
            Err(Error::IncompleteRead { partial, expected }) => {
                assert!(partial.is_empty());
                assert_eq!(expected, Some(1));
            }
            other => panic!("S38: {other:?}"),
        }
        let t = writer.transport();
        assert!(
            !t.is_closing(),
            "S63: EOF keeps a plain transport open for writing"
        );
        assert!(!t.is_reading(), "L63: reading is over after EOF");
        // Write 4 MiB in 64 KiB writes, draining after each: the peer reads them all.
        let data: Vec<u8> = (0..TOTAL).map(pattern).collect();
        for chunk in data.chunks(64 * KIB) {
            writer.write(chunk).unwrap();
            writer.drain().await.unwrap();
        }
        writer.write_eof().unwrap(); // the peer's read_to_end ends
        writer.close();
        writer.wait_closed().await.unwrap();
    });
    let got = peer.join().unwrap();
    assert_eq!(got.len(), TOTAL);
    assert!(
        got.iter().enumerate().all(|(i, &b)| b == pattern(i)),
        "corrupted"
    );
    assert_loop_empty(&lp, 0);
    assert_eq!(open_fds(), fds);
}

#[test]
fn peer_half_close_at_the_protocol_layer_keeps_writing_when_asked_l47_l62() {
    let _serial = util::serial();
    let lp = EventLoop::new().unwrap();
    let (l, port) = listener();
    let peer = std::thread::spawn(move || {
        let (mut s, _) = l.accept().unwrap();
        s.set_read_timeout(Some(BOUND)).unwrap();
        s.write_all(b"bye").unwrap();
        s.shutdown(Shutdown::Write).unwrap();
        let mut got = Vec::new();
        s.read_to_end(&mut got).unwrap();
        got
    });
    let rec = Recorder {
        keep_open_on_eof: true,
        on_eof: Some(Box::new(|t: &Transport| t.write(b"still here").unwrap())),
        ..Default::default()
    };
    let (t, proto) = lp
        .run_until_complete(lp.create_connection(move || rec, "127.0.0.1", port))
        .unwrap()
        .unwrap();
    run_until(&lp, 1000, || {
        proto.borrow().calls.iter().any(|c| c == "eof_received")
    });
    assert!(!t.is_closing(), "L47: eof_received returned true");
    t.write(b" and here").unwrap();
    t.close();
    run_until(&lp, 1000, || proto.borrow().lost);
    assert_eq!(
        proto.borrow().grammar(),
        [
            "connection_made",
            "data",
            "eof_received",
            "connection_lost(None)"
        ]
    );
    assert_eq!(peer.join().unwrap(), b"still here and here");
}

// ─────────────────────────── a peer that never reads ───────────────────────────

/// The writer side of [`never_reading_peer_blocks_drain_and_bounds_memory_l70_s50_s14`].
struct Writer {
    writes: Cell<usize>,
    max_buffered: Cell<usize>,
    stop: Cell<bool>,
}

#[test]
fn never_reading_peer_blocks_drain_and_bounds_memory_l70_s50_s14() {
    // 256 MiB in 64 KiB writes with a drain after each, to an in-loop server whose handler never
    // reads: its reader pauses its transport past 2 x limit (S14), the kernel buffers fill, our
    // buffer passes high water, drain blocks. Then close() (after the peer starts reading) and
    // abort() each release everything.
    const CHUNK: usize = 64 * KIB;
    const WRITES: usize = (256 << 20) / CHUNK;
    let pattern = |i: usize| (i % 251) as u8;
    for release in ["close", "abort"] {
        let _serial = util::serial();
        let lp = EventLoop::new().unwrap();
        let fds = open_fds();
        let slot: Rc<RefCell<Option<(StreamReader, StreamWriter)>>> = Rc::default();
        let s = slot.clone();
        let server = run(
            &lp,
            asyncio::start_server(
                move |r: StreamReader, w: StreamWriter| {
                    *s.borrow_mut() = Some((r, w)); // hold the connection, read nothing
                },
                "127.0.0.1",
                0,
            ),
        )
        .unwrap();
        let port = port_of(&server);
        let (creader, cwriter) = run(&lp, asyncio::open_connection("127.0.0.1", port)).unwrap();
        let cwriter = Rc::new(cwriter);
        let (_, high) = cwriter.transport().get_write_buffer_limits();
        let st = Rc::new(Writer {
            writes: Cell::new(0),
            max_buffered: Cell::new(0),
            stop: Cell::new(false),
        });
        let (w, stc) = (cwriter.clone(), st.clone());
        let task = lp
            .spawn(async move {
                let mut chunk = vec![0u8; CHUNK];
                for i in 0..WRITES {
                    if stc.stop.get() {
                        break;
                    }
                    for (j, b) in chunk.iter_mut().enumerate() {
                        *b = pattern(i * CHUNK + j);
                    }
                    w.write(&chunk)?;
                    stc.writes.set(i + 1);
                    let size = w.transport().get_write_buffer_size();
                    stc.max_buffered.set(stc.max_buffered.get().max(size));
                    w.drain().await?;
                }
                Ok::<_, Error>(())
            })
            .unwrap();
        // Drive the loop until nothing moves any more: same write count and buffer size over a
        // round of iterations (loopback moves bytes only inside our own syscalls).
        let mut last = (usize::MAX, usize::MAX);
        for round in 0.. {
            assert!(round < 10_000, "{release}: the writer never settled");
            for _ in 0..20 {
                lp.run_once(Some(Duration::ZERO)).unwrap();
            }
            let now = (st.writes.get(), cwriter.transport().get_write_buffer_size());
            if now == last {
                break;
            }
            last = now;
        }
        let writes = st.writes.get();
        assert!(
            !task.is_done(),
            "{release}: the writer finished: drain never blocked"
        );
        assert!(
            writes < WRITES,
            "{release}: all 256 MiB written to a peer that never reads"
        );
        let size = cwriter.transport().get_write_buffer_size();
        assert!(size > high, "{release}: blocked below high water ({size})");
        assert!(
            st.max_buffered.get() <= high + CHUNK,
            "{release}: write buffer reached {} > high {high} + one write",
            st.max_buffered.get()
        );
        // The peer's side: its reader paused its transport and holds at most 2 x limit plus
        // what one read brought.
        {
            let slot = slot.borrow();
            let (sreader, swriter) = slot.as_ref().expect("server got the connection");
            let buffered = reader_buffered(sreader);
            let limit = sreader.limit();
            assert!(
                !swriter.transport().is_reading(),
                "{release}: S14 never paused"
            );
            assert!(
                buffered > 2 * limit && buffered <= 2 * limit + MAX_READ_SIZE,
                "{release}: the peer's reader holds {buffered} B (limit {limit})"
            );
            println!(
                "{release}: blocked after {writes} writes ({} MiB): our buffer {size} B \
                 (max {} B, high {high} B), peer reader {buffered} B",
                (writes * CHUNK) >> 20,
                st.max_buffered.get()
            );
        }
        let peer_task = match release {
            "close" => {
                st.stop.set(true);
                cwriter.close();
                for _ in 0..20 {
                    lp.run_once(Some(Duration::ZERO)).unwrap();
                }
                assert!(!task.is_done(), "L75: close() flushes first; still blocked");
                // Now the peer reads everything: the flush completes, connection_lost(None).
                let (sreader, swriter) = slot.borrow_mut().take().unwrap();
                Some(
                    lp.spawn(async move {
                        let mut total = 0usize;
                        let mut buf = vec![0u8; 256 * KIB];
                        loop {
                            let n = sreader.read_into(&mut buf).await?;
                            if n == 0 {
                                break;
                            }
                            for (j, &b) in buf[..n].iter().enumerate() {
                                assert_eq!(b, pattern(total + j), "corrupted at {}", total + j);
                            }
                            total += n;
                        }
                        swriter.close();
                        swriter.wait_closed().await?;
                        Ok::<_, Error>(total)
                    })
                    .unwrap(),
                )
            }
            _ => {
                st.stop.set(true);
                cwriter.transport().abort();
                assert_eq!(cwriter.transport().get_write_buffer_size(), 0, "L77");
                None
            }
        };
        let task_result = run(&lp, task).unwrap();
        assert!(
            task_result.is_ok(),
            "{release}: drain after {release}: {task_result:?}"
        );
        run(&lp, {
            let w = cwriter.clone();
            async move { w.wait_closed().await }
        })
        .unwrap(); // connection_lost(None)
        if let Some(peer_task) = peer_task {
            let total = run(&lp, peer_task).unwrap().unwrap();
            assert_eq!(total, writes * CHUNK, "close: bytes lost or invented");
        } else {
            server.abort_clients();
            drop(slot.borrow_mut().take());
        }
        drop((creader, cwriter));
        server.close();
        let s2 = server.clone();
        run(&lp, async move { s2.wait_closed().await });
        assert_loop_empty(&lp, 0);
        drop(server);
        assert_eq!(open_fds(), fds, "{release}: descriptors not released");
    }
}

// ─────────────────────────── lines over the limit ───────────────────────────

/// An in-loop server that sends `payload` to each client, then closes.
fn sender(lp: &EventLoop, payload: Rc<Vec<u8>>) -> asyncio::Server {
    run(
        lp,
        asyncio::start_server(
            move |_r: StreamReader, w: StreamWriter| {
                let payload = payload.clone();
                async move {
                    for chunk in payload.chunks(64 * KIB) {
                        w.write(chunk)?;
                        w.drain().await?;
                    }
                    w.close();
                    w.wait_closed().await
                }
            },
            "127.0.0.1",
            0,
        ),
    )
    .unwrap()
}

#[test]
fn readuntil_over_the_limit_keeps_the_buffer_bounded_and_recovers_s32_s14_s15() {
    let _serial = util::serial();
    const LIMIT: usize = 1024;
    const LONG: usize = 1 << 20;
    let lp = EventLoop::new().unwrap();
    let mut payload = vec![b'x'; LONG];
    payload.extend_from_slice(b"\nok\n");
    let server = sender(&lp, Rc::new(payload));
    let port = port_of(&server);
    run(&lp, async move {
        let (reader, writer) = asyncio::open_connection("127.0.0.1", port)
            .limit(LIMIT)
            .await
            .unwrap();
        match reader.readuntil(b"\n").await {
            Err(Error::LimitOverrun { consumed, message }) => {
                assert!(consumed > LIMIT, "S32: consumed {consumed}");
                assert_eq!(
                    message,
                    "Separator is not found, and chunk exceed the limit"
                );
            }
            other => panic!("S32: {other:?}"),
        }
        // Nobody reads now: the buffer (left intact, S32) grows until the reader pauses its
        // transport past 2 x limit (S14), then stays there.
        let t = writer.transport().clone();
        for i in 0.. {
            assert!(i < 1_000_000, "never paused");
            if !t.is_reading() {
                break;
            }
            asyncio::yield_now().await;
        }
        for _ in 0..20 {
            asyncio::yield_now().await;
        }
        let buffered = reader_buffered(&reader);
        assert!(
            buffered > 2 * LIMIT && buffered <= 2 * LIMIT + MAX_READ_SIZE,
            "S14: paused reader holds {buffered} B"
        );
        println!("readuntil: paused with {buffered} B buffered (limit {LIMIT})");
        // asyncio's recovery: discard what the error says is consumed, try again.
        let mut discarded = 0;
        let tail = loop {
            match reader.readuntil(b"\n").await {
                Err(Error::LimitOverrun { consumed, .. }) => {
                    let junk = reader.readexactly(consumed).await.unwrap();
                    assert!(junk.iter().all(|&b| b == b'x'));
                    discarded += consumed;
                    assert!(reader_buffered(&reader) <= 2 * LIMIT + MAX_READ_SIZE);
                }
                Ok(line) => break line,
                Err(e) => panic!("{e:?}"),
            }
        };
        assert!(tail.len() <= LIMIT + 1 && tail.ends_with(b"\n"));
        assert_eq!(discarded + tail.len() - 1, LONG, "every byte accounted for");
        assert_eq!(
            reader.readuntil(b"\n").await.unwrap(),
            b"ok\n",
            "keeps working"
        );
        assert_eq!(reader.read(-1).await.unwrap(), b"");
        writer.close();
        writer.wait_closed().await.unwrap();
    });
    server.close();
    let s2 = server.clone();
    run(&lp, async move { s2.wait_closed().await });
    assert_loop_empty(&lp, 0);
}

#[test]
fn readline_over_the_limit_discards_and_keeps_working_s28_s40() {
    let _serial = util::serial();
    const LIMIT: usize = 1024;
    const LONG: usize = 1 << 20;
    let lp = EventLoop::new().unwrap();
    let mut payload = vec![b'y'; LONG];
    payload.extend_from_slice(b"\nok\n");
    let server = sender(&lp, Rc::new(payload));
    let port = port_of(&server);
    run(&lp, async move {
        let (reader, writer) = asyncio::open_connection("127.0.0.1", port)
            .limit(LIMIT)
            .await
            .unwrap();
        let (mut overruns, mut max_buffered) = (0, 0);
        loop {
            let r = reader.readline().await;
            max_buffered = max_buffered.max(reader_buffered(&reader));
            match r {
                Err(Error::LimitOverrun { consumed, .. }) => {
                    assert!(consumed > LIMIT, "S28: consumed {consumed}");
                    overruns += 1;
                }
                // The rest of the long line, after a discard, comes back as a short "line".
                Ok(line) if line != b"ok\n" => {
                    assert!(
                        line.len() <= LIMIT + 1,
                        "a line over the limit: {}",
                        line.len()
                    );
                    assert!(line.iter().take(line.len() - 1).all(|&b| b == b'y'));
                    assert!(line.ends_with(b"\n"));
                }
                Ok(_) => break,
                Err(e) => panic!("{e:?}"),
            }
            assert!(overruns <= LONG / LIMIT + 1, "no progress");
        }
        assert!(overruns >= 1, "S28: no LimitOverrun for a 1 MiB line");
        assert!(max_buffered <= 2 * LIMIT + MAX_READ_SIZE, "{max_buffered}");
        assert_eq!(reader.readline().await.unwrap(), b"", "then EOF (S27)");
        writer.close();
        writer.wait_closed().await.unwrap();
    });
    server.close();
    let s2 = server.clone();
    run(&lp, async move { s2.wait_closed().await });
    assert_loop_empty(&lp, 0);
}

// ─────────────────────── failing handlers beside healthy ones ───────────────────────

/// One echo round trip of `line` over a client connection.
async fn echo_once(reader: &StreamReader, writer: &StreamWriter, line: &[u8]) {
    writer.write(line).unwrap();
    assert_eq!(reader.readline().await.unwrap(), line);
}

/// Healthy clients echo, failing ones connect in the middle, healthy ones echo on; the failures
/// are each reported once and close only their own connection.
fn healthy_clients_survive_failing_ones(
    lp: &EventLoop,
    port: u16,
    bad: &'static [&'static [u8]],
) -> usize {
    const GOOD: usize = 4;
    const ROUNDS: usize = 10;
    let bad_done = Rc::new(Cell::new(0usize));
    run(lp, async move {
        let mut tasks = Vec::new();
        for i in 0..GOOD {
            let bad_done = bad_done.clone();
            tasks.push(asyncio::spawn(async move {
                let (r, w) = asyncio::open_connection("127.0.0.1", port).await.unwrap();
                echo_once(&r, &w, format!("hello {i}\n").as_bytes()).await;
                while bad_done.get() < bad.len() {
                    asyncio::yield_now().await; // the failing clients run meanwhile
                }
                for round in 0..ROUNDS {
                    echo_once(&r, &w, format!("client {i} round {round}\n").as_bytes()).await;
                }
                w.close();
                w.wait_closed().await.unwrap();
            }));
        }
        for &first_line in bad {
            let bad_done = bad_done.clone();
            tasks.push(asyncio::spawn(async move {
                let (r, w) = asyncio::open_connection("127.0.0.1", port).await.unwrap();
                w.write(first_line).unwrap();
                // The server closes this connection: EOF, not a hang. A handler that fails
                // before the transport has read `first_line` closes a socket with unread
                // bytes, which the kernel answers with RST (CPython alike): a reset is a close.
                let reset = match r.read(-1).await {
                    Ok(rest) => {
                        assert_eq!(rest, b"", "{first_line:?}");
                        false
                    }
                    Err(Error::Io(e)) if e.kind() == std::io::ErrorKind::ConnectionReset => true,
                    Err(e) => panic!("{first_line:?}: {e}"),
                };
                w.close();
                match w.wait_closed().await {
                    Ok(()) => {}
                    // wait_closed reports the error the connection was lost with (S51).
                    Err(Error::Io(e))
                        if reset && e.kind() == std::io::ErrorKind::ConnectionReset => {}
                    Err(e) => panic!("{first_line:?}: wait_closed: {e}"),
                }
                bad_done.set(bad_done.get() + 1);
            }));
        }
        for t in tasks {
            t.await.unwrap();
        }
        // And a new connection after the failures is served too.
        let (r, w) = asyncio::open_connection("127.0.0.1", port).await.unwrap();
        echo_once(&r, &w, b"late\n").await;
        w.close();
        w.wait_closed().await.unwrap();
    });
    GOOD
}

#[test]
fn failing_async_handlers_leave_other_connections_running_s60_d7() {
    let _serial = util::serial();
    let lp = EventLoop::new().unwrap();
    let seen = util::capture_exceptions(&lp);
    // A failing handler that has put its writer somewhere else: only the failure path can
    // close that connection (dropping the writer would close it too, S56).
    let stash: Rc<RefCell<Vec<StreamWriter>>> = Rc::default();
    let keep = stash.clone();
    let server = run(
        &lp,
        asyncio::start_server(
            move |r: StreamReader, w: StreamWriter| {
                let keep = keep.clone();
                async move {
                    let first = r.readline().await?;
                    match &first[..] {
                        b"panic\n" => panic!("handler panicked on purpose"),
                        b"err\n" => {
                            return Err(Error::InvalidArgument("handler failed on purpose".into()))
                        }
                        b"stash\n" => {
                            keep.borrow_mut().push(w);
                            return Err(Error::InvalidArgument("handler kept its writer".into()));
                        }
                        _ => {}
                    }
                    w.write(&first)?;
                    loop {
                        let line = r.readline().await?;
                        if line.is_empty() {
                            break;
                        }
                        w.write(&line)?;
                        w.drain().await?;
                    }
                    w.close();
                    w.wait_closed().await
                }
            },
            "127.0.0.1",
            0,
        ),
    )
    .unwrap();
    let bad: &[&[u8]] = &[b"panic\n", b"err\n", b"stash\n"];
    healthy_clients_survive_failing_ones(&lp, port_of(&server), bad);
    assert!(server.is_serving());
    run_until(&lp, 1000, || server.connection_count() == 0);
    assert!(
        stash.borrow()[0].is_closing(),
        "D7: the failed handler's transport is closed"
    );
    stash.borrow_mut().clear();
    let seen = seen.borrow().clone();
    assert_eq!(seen.len(), 3, "one report per failure: {seen:?}");
    assert!(seen
        .iter()
        .all(|s| s.starts_with("Unhandled exception in client_connected_cb")));
    assert!(seen
        .iter()
        .any(|s| s.ends_with("panicked: handler panicked on purpose")));
    assert!(seen
        .iter()
        .any(|s| s.ends_with("handler failed on purpose")));
    assert!(seen.iter().any(|s| s.ends_with("handler kept its writer")));
    server.close();
    run_until(&lp, 100, || lp.stats().tasks == 0);
    assert_loop_empty(&lp, 0);
}

#[test]
fn failing_plain_handlers_leave_other_connections_running_s61_d7() {
    let _serial = util::serial();
    let lp = EventLoop::new().unwrap();
    let seen = util::capture_exceptions(&lp);
    // A plain callback starts an echo task itself; it fails when the connection number says so.
    let n = Rc::new(Cell::new(0usize));
    let server = run(
        &lp,
        asyncio::start_server(
            move |r: StreamReader, w: StreamWriter| -> Result<(), Error> {
                n.set(n.get() + 1);
                match n.get() {
                    5 => panic!("plain handler panicked on purpose"),
                    6 => return Err(Error::InvalidArgument("plain handler failed".into())),
                    _ => {}
                }
                asyncio::spawn(async move {
                    loop {
                        let line = r.readline().await?;
                        if line.is_empty() {
                            break;
                        }
                        w.write(&line)?;
                        w.drain().await?;
                    }
                    w.close();
                    w.wait_closed().await
                })
                .detach();
                Ok(())
            },
            "127.0.0.1",
            0,
        ),
    )
    .unwrap();
    // Connections 1-4 are the healthy ones (they connect first), 5 and 6 fail, 7 is the late one.
    healthy_clients_survive_failing_ones(&lp, port_of(&server), &[b"x\n", b"y\n"]);
    let seen = seen.borrow().clone();
    assert_eq!(seen.len(), 2, "{seen:?}");
    assert!(seen
        .iter()
        .all(|s| s.starts_with("Unhandled exception in client_connected_cb")));
    server.close();
    run_until(&lp, 1000, || {
        server.connection_count() == 0 && lp.stats().tasks == 0
    });
    assert_loop_empty(&lp, 0);
}

// ─────────────────────────────── misuse ───────────────────────────────

/// An in-loop echo server (line by line) and one client connected to it.
fn echo_pair(lp: &EventLoop) -> (asyncio::Server, StreamReader, StreamWriter) {
    let server = run(
        lp,
        asyncio::start_server(
            |r: StreamReader, w: StreamWriter| async move {
                loop {
                    let line = r.readline().await?;
                    if line.is_empty() {
                        break;
                    }
                    w.write(&line)?;
                    w.drain().await?;
                }
                w.close();
                w.wait_closed().await
            },
            "127.0.0.1",
            0,
        ),
    )
    .unwrap();
    let port = port_of(&server);
    let (r, w) = run(lp, asyncio::open_connection("127.0.0.1", port)).unwrap();
    (server, r, w)
}

fn finish(lp: &EventLoop, server: asyncio::Server) {
    server.close();
    let s2 = server.clone();
    run(lp, async move { s2.wait_closed().await });
    assert_loop_empty(lp, 0);
}

#[test]
fn two_tasks_reading_one_reader_is_invalid_state_not_a_hang_s20_s21() {
    let _serial = util::serial();
    let lp = EventLoop::new().unwrap();
    let (server, reader, writer) = echo_pair(&lp);
    run(&lp, async move {
        let reader = Rc::new(reader);
        let r = reader.clone();
        let first = asyncio::spawn(async move { r.read(100).await });
        asyncio::yield_now().await; // `first` is waiting now
        assert!(!first.is_done());
        for (e, name) in [
            (reader.readline().await.unwrap_err(), "readuntil"),
            (reader.readuntil(b"!").await.unwrap_err(), "readuntil"),
            (reader.readexactly(3).await.unwrap_err(), "readexactly"),
            (reader.read(5).await.unwrap_err(), "read"),
            (reader.read(-1).await.unwrap_err(), "read"),
        ] {
            assert!(matches!(e, Error::InvalidState(_)), "{e:?}");
            assert_eq!(
                e.to_string(),
                format!(
                    "{name}() called while another coroutine is already waiting for incoming data"
                )
            );
        }
        writer.write(b"abc\n").unwrap();
        assert_eq!(
            first.await.unwrap().unwrap(),
            b"abc\n",
            "the first reader was not disturbed"
        );
        writer.write(b"def\n").unwrap();
        assert_eq!(
            reader.readline().await.unwrap(),
            b"def\n",
            "S21: the slot is free again"
        );
        writer.close();
        writer.wait_closed().await.unwrap();
    });
    finish(&lp, server);
}

#[test]
fn writes_after_write_eof_or_close_and_drain_after_close_s42_s51_l64_l76() {
    let _serial = util::serial();
    let lp = EventLoop::new().unwrap();
    let seen = util::capture_exceptions(&lp);
    let (server, reader, writer) = echo_pair(&lp);
    run(&lp, async move {
        echo_once(&reader, &writer, b"one\n").await;
        writer.write_eof().unwrap();
        writer.write_eof().unwrap(); // L73: a second one does nothing
        let e = writer.write(b"two\n").unwrap_err();
        assert!(matches!(e, Error::InvalidState(_)), "{e:?}");
        assert_eq!(e.to_string(), "Cannot call write() after write_eof()");
        let e = writer.writelines(&[b"a", b"b"]).unwrap_err();
        assert!(matches!(e, Error::InvalidState(_)), "{e:?}");
        assert_eq!(e.to_string(), "Cannot call writelines() after write_eof()");
        writer.drain().await.unwrap(); // nothing buffered, not closing: returns
        assert_eq!(
            reader.read(-1).await.unwrap(),
            b"",
            "the server closed after our EOF"
        );
        writer.close();
        writer.wait_closed().await.unwrap();
    });
    // A second connection: write after close (no write_eof) is dropped without an error.
    let port = port_of(&server);
    run(&lp, async move {
        let (reader, writer) = asyncio::open_connection("127.0.0.1", port).await.unwrap();
        echo_once(&reader, &writer, b"one\n").await;
        writer.close();
        for _ in 0..10 {
            writer.write(b"after close\n").unwrap(); // L76/L81: dropped (warns from the 5th)
            writer.writelines(&[b"x", b"y"]).unwrap();
        }
        // S51: close() with an empty buffer completes within drain's one yield.
        let e = writer.drain().await.unwrap_err();
        assert_eq!(e.kind(), ErrorKind::ConnectionReset);
        assert_eq!(e.to_string(), "Connection lost");
        writer.wait_closed().await.unwrap();
        let e = writer.drain().await.unwrap_err();
        assert_eq!(
            e.to_string(),
            "Connection lost",
            "S51: drain after wait_closed"
        );
        writer.write_eof().unwrap(); // L73: nothing on a closed transport
        writer.close(); // idempotent
        assert_eq!(
            reader.read(-1).await.unwrap(),
            b"",
            "S64: EOF after our own close"
        );
    });
    assert!(seen.borrow().is_empty(), "{:?}", seen.borrow());
    finish(&lp, server);
}

/// S43/L64/L68: after `write_eof`, `writelines` of no chunk at all is refused like any write
/// (CPython 3.11 joins the list and `write(b"")` raises; 3.13's `writelines` raises before
/// looking at the list), as `Transport::writelines` already did; the stream's returned `Ok`.
#[test]
fn s43_writelines_of_no_chunk_after_write_eof_is_refused_too_l68() {
    let _serial = util::serial();
    let lp = EventLoop::new().unwrap();
    let (a, b) = asyncio::socketpair().unwrap();
    run(&lp, async move {
        let (_reader, writer) = asyncio::open_connection_sock(a).await.unwrap();
        writer.write_eof().unwrap();
        for (what, e) in [
            ("write", writer.write(b"").unwrap_err()),
            ("writelines", writer.writelines(&[]).unwrap_err()),
        ] {
            assert!(matches!(e, Error::InvalidState(_)), "{what}: {e:?}");
            assert_eq!(
                e.to_string(),
                format!("Cannot call {what}() after write_eof()")
            );
        }
        writer.close();
        writer.wait_closed().await.unwrap();
    });
    drop(b);
}

#[test]
fn misuse_streams_of_a_closed_loop_fail_instead_of_hanging() {
    // CPython raises RuntimeError (a future attached to a different loop). Here closing the
    // loop gives each live transport's protocol connection_lost("Event loop is closed"), so
    // the reader fails and wait_closed returns instead of waiting forever.
    let _serial = util::serial();
    let (reader, writer) = {
        let lp = EventLoop::new().unwrap();
        let (server, reader, writer) = echo_pair(&lp);
        server.close();
        lp.close().unwrap();
        (reader, writer)
    };
    asyncio::run(async move {
        let short = Duration::from_millis(200);
        let read = asyncio::timeout(short, reader.read(10)).await;
        assert!(matches!(read, Ok(Err(_))), "read: {read:?}");
        let closed = asyncio::timeout(short, writer.wait_closed()).await;
        assert!(closed.is_ok(), "wait_closed: {closed:?}");
    })
    .unwrap();
}

/// The newcomer's version: a stream returned out of one `asyncio::run` and read in another.
/// The read fails (Python's `Event loop is closed`) and says why: the stream's loop closed
/// when its run returned. Before, the text was Python's alone.
// Checklist: L16.
#[test]
fn misuse_a_stream_kept_past_its_run_says_its_loop_closed_with_the_run() {
    let (a, b) = asyncio::socketpair().unwrap();
    let (reader, _writer) = asyncio::run(asyncio::open_connection_sock(a))
        .unwrap()
        .unwrap();
    let read =
        asyncio::run(
            async move { asyncio::timeout(Duration::from_secs(5), reader.read(10)).await },
        );
    let e = match read {
        Ok(Ok(Err(e))) => e,
        other => panic!("the read did not fail: {other:?}"),
    };
    assert!(matches!(e, asyncio::Error::Io(_)), "{e:?}");
    let text = e.to_string();
    assert!(text.starts_with("Event loop is closed (the loop this connection was made on: asyncio::run closes its loop as it returns"), "{text}");
    assert!(
        text.contains("use a Runner for several runs on one loop"),
        "{text}"
    );
    drop(b);
}

/// A server or connection set up through a handle kept past its loop's `close()`: nothing
/// was made, so the error is Python's bare `Event loop is closed`, not the text of a stream
/// that outlived its run ("the loop this connection was made on ...").
// Checklist: L1, L24 (a closed loop refuses new work with Event loop is closed).
#[test]
fn misuse_a_server_or_connection_set_up_on_a_closed_loop_says_only_that_it_is_closed() {
    let lp = asyncio::EventLoop::new().unwrap();
    let h = lp.handle();
    lp.close().unwrap();
    let (a, _b) = asyncio::socketpair().unwrap();
    let (server, conn) = asyncio::run(async move {
        let server = h.create_server(Recorder::default, "127.0.0.1", 0).await;
        let conn = h.connect_socket(Recorder::default, a).await;
        (server.map(drop), conn.map(drop))
    })
    .unwrap();
    for (what, r) in [("create_server", server), ("connect_socket", conn)] {
        let e = r.expect_err(what);
        assert_eq!(e.to_string(), "Event loop is closed", "{what}: {e:?}");
    }
}

const SIGPIPE_CHILD: &str = "ASYNCIO_TEST_SIGPIPE_CHILD";

/// The child's half of the next test: `SIGPIPE` back at its default action (as in a C host
/// embedding the loop), then a `writelines` to a peer that has gone.
fn writelines_to_a_gone_peer_child() {
    // SAFETY: the child runs this one test alone (`--test-threads=1`); setting a signal's
    // disposition to its default races with nothing.
    let previous = unsafe { libc::signal(libc::SIGPIPE, libc::SIG_DFL) };
    assert_ne!(previous, libc::SIG_ERR);
    let (a, b) = asyncio::socketpair().unwrap();
    drop(b);
    let lost = asyncio::run(asyncio::timeout(BOUND, async move {
        let (_reader, writer) = asyncio::open_connection_sock(a).await.unwrap();
        // The peer's EOF keeps the write side open (S63); its close makes a send fail EPIPE.
        writer.writelines(&[b"nobody ", b"reads"]).unwrap();
        writer.wait_closed().await
    }))
    .unwrap()
    .expect("bounded");
    let err = lost.expect_err("the write must fail");
    assert!(
        matches!(&err, Error::Io(e) if e.kind() == ErrorKind::BrokenPipe),
        "{err:?}"
    );
    println!("sigpipe child: ok");
}

#[test]
fn writelines_to_a_gone_peer_is_broken_pipe_not_sigpipe_l65_l80() {
    // `write` sends with MSG_NOSIGNAL; the vectored path of `writelines` must too, or a peer
    // that closes kills a process that has not ignored SIGPIPE (a C host, a cdylib).
    // Serialised like the rest of this file: running the child opens pipes in this process,
    // which the descriptor counts of the other tests would see.
    let _serial = util::serial();
    util::in_child(
        SIGPIPE_CHILD,
        "writelines_to_a_gone_peer_is_broken_pipe_not_sigpipe_l65_l80",
        "sigpipe child: ok",
        writelines_to_a_gone_peer_child,
    );
}
