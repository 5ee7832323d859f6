//! The idle timeout: it closes a connection with no bytes either way and fails every waiter on
//! both sides; reads, writes, sendfile and bytes a slow peer drains (also over TLS) are activity,
//! another writer's bytes in a shared pipe are not.

use super::*;

#[test]
fn idle_timeout_closes_and_every_waiter_on_both_sides_errs() {
    let r = rig();
    r.reader.set_read_timeout(Some(ms(5000))).unwrap();
    r.writer.set_drain_timeout(Some(ms(6000)));
    r.writer.set_idle_timeout(Some(ms(1000)));
    assert_eq!(r.writer.idle_timeout(), Some(ms(1000)));
    let reader = r.reader.clone();
    let read = r.spawn(async move { reader.readline().await });
    let writer = r.writer.clone();
    let closed = r.spawn(async move { writer.wait_closed().await });
    let peer = r.peer_reader.clone();
    let peer_read = r.spawn(async move { peer.read(100).await });
    r.settle();
    r.pass(ms(999));
    assert!(read.borrow().is_none() && closed.borrow().is_none());
    r.pass_until(ms(1000 / 8 + 2), || {
        read.borrow().is_some() && closed.borrow().is_some()
    });
    r.until(|| peer_read.borrow().is_some());
    let idle = |e: Error| {
        assert_eq!(e.kind(), std::io::ErrorKind::TimedOut, "{e}");
        assert!(e.to_string().contains("idle timeout"), "{e}");
    };
    idle(read.borrow_mut().take().unwrap().unwrap_err());
    idle(closed.borrow_mut().take().unwrap().unwrap_err());
    // The idle timeout is spent; the other settings read back as they were set.
    assert_eq!(r.writer.idle_timeout(), None);
    assert_eq!(r.reader.read_timeout(), Some(ms(5000)));
    assert_eq!(r.writer.drain_timeout(), Some(ms(6000)));
    // The peer sees the end of the connection (EOF, or a reset).
    match peer_read.borrow_mut().take().unwrap() {
        Ok(b) => assert!(b.is_empty(), "{b:?}"),
        Err(e) => assert_eq!(e.kind(), std::io::ErrorKind::ConnectionReset, "{e}"),
    }
    // Later calls fail the same way; the timer is gone.
    let reader = r.reader.clone();
    let writer = r.writer.clone();
    let later = r.block_on(async move {
        (
            reader.read(1).await,
            writer.drain().await,
            writer.wait_closed().await,
        )
    });
    idle(later.0.unwrap_err());
    idle(later.1.unwrap_err());
    idle(later.2.unwrap_err());
    assert_eq!(r.writer.idle_timeout(), None);
    assert_eq!(r.timers(), 0);
}

#[test]
fn activity_either_way_keeps_an_idle_connection_open() {
    let r = rig();
    r.writer.set_idle_timeout(Some(ms(100)));
    for i in 0..10u8 {
        r.clock.advance(ms(60));
        if i % 2 == 0 {
            // Bytes in.
            r.peer_writer.write(&[i]).unwrap();
            let reader = r.reader.clone();
            assert_eq!(
                r.block_on(async move { reader.read(1).await }).unwrap(),
                [i]
            );
        } else {
            // Bytes out.
            r.writer.write(&[i]).unwrap();
            let peer = r.peer_reader.clone();
            assert_eq!(r.block_on(async move { peer.read(1).await }).unwrap(), [i]);
        }
    }
    // 600 ms with never 100 ms of silence: still open.
    assert!(!r.writer.is_closing());
    assert_eq!(
        r.timers(),
        1,
        "one timer for the stream, whatever the traffic"
    );
    r.pass(ms(99));
    assert!(!r.writer.is_closing());
    r.pass_until(ms(100 / 8 + 2), || r.writer.is_closing());
}

/// Bytes `sendfile` sends are activity, as bytes handed to `write` are: a file sent to a peer
/// that reads slowly (over several idle periods, bytes moving in each) keeps the connection
/// open. The native path (`sendfile(2)`) used to count nothing, so the idle timeout aborted a
/// transfer in full flow.
#[test]
fn bytes_sent_by_sendfile_keep_an_idle_connection_open() {
    use std::io::Write;
    let dir = util::temp_dir("deadlines");
    let len = 2 << 20;
    let data: Vec<u8> = (0..len).map(|i| (i % 251) as u8).collect();
    let path = dir.join("file");
    std::fs::File::create(&path)
        .unwrap()
        .write_all(&data)
        .unwrap();
    let file = Rc::new(std::fs::File::open(&path).unwrap());
    let (clock, lp, writer, _reader, mut b) = idle_writer_to_a_raw_peer(ms(50));
    let sent: Slot<Result<u64, Error>> = Rc::default();
    let (out, w, f) = (sent.clone(), writer.clone(), file.clone());
    drop(lp.handle().spawn(async move {
        *out.borrow_mut() = Some(w.sendfile(&f, 0, None).await);
    }));
    // The peer takes 8 KiB per millisecond of loop time: the file takes about 250 ms.
    let mut got = Vec::new();
    let mut buf = vec![0u8; 8 * 1024];
    let mut elapsed = 0;
    for _ in 0..2_000 {
        if sent.borrow().is_some() && got.len() == len {
            break;
        }
        elapsed += 1;
        a_slow_peers_millisecond(&clock, &lp, &mut b, &mut buf, &mut got);
    }
    let sent = sent.borrow_mut().take().expect("sendfile ended");
    assert_eq!(sent.unwrap(), len as u64);
    assert!(got == data, "the peer got {} of {len} bytes", got.len());
    assert!(!writer.is_closing());
    // Else the socket's buffers took the file at once, and this showed nothing.
    assert!(
        elapsed > 100,
        "the transfer took {elapsed} ms, under two idle periods"
    );
    writer.close();
}

#[test]
fn zero_idle_timeout_closes_at_once() {
    let r = rig();
    r.writer.set_idle_timeout(Some(Duration::ZERO));
    r.until(|| r.writer.is_closing());
    let reader = r.reader.clone();
    let e = r.block_on(async move { reader.read(1).await }).unwrap_err();
    assert_eq!(e.kind(), std::io::ErrorKind::TimedOut);
}

#[test]
fn a_closed_connection_leaves_no_timer() {
    let r = rig();
    r.reader.set_read_timeout(Some(ms(100))).unwrap();
    r.writer.set_idle_timeout(Some(ms(100)));
    assert_eq!(r.timers(), 1);
    r.writer.close();
    let writer = r.writer.clone();
    r.block_on(async move { writer.wait_closed().await })
        .unwrap();
    assert_eq!(r.timers(), 0);
}

/// Bytes leaving the write buffer are activity too: one large `write` that a slow peer takes
/// over several idle periods (bytes moving in each) keeps the connection open while it
/// drains. Only bytes handed to `write` counted, so the idle timeout aborted a drain in full
/// flow, saying no byte had moved.
#[test]
fn a_large_write_a_slow_peer_drains_over_several_idle_periods_keeps_the_connection_open() {
    let (clock, lp, writer, _reader, mut b) = idle_writer_to_a_raw_peer(ms(50));
    let len = 2 << 20;
    let data: Vec<u8> = (0..len).map(|i| (i % 251) as u8).collect();
    let drained: Slot<Result<(), Error>> = Rc::default();
    let (out, w, d) = (drained.clone(), writer.clone(), data.clone());
    drop(lp.handle().spawn(async move {
        w.write(&d)?; // one write: the rest is the transport's to flush
        let r = w.drain().await;
        *out.borrow_mut() = Some(r);
        Ok::<_, Error>(())
    }));
    // The peer takes 8 KiB per millisecond of loop time: about 250 ms for the whole.
    let mut got = Vec::new();
    let mut buf = vec![0u8; 8 * 1024];
    let mut elapsed = 0;
    while got.len() < len && elapsed < 2_000 && !writer.is_closing() {
        elapsed += 1;
        a_slow_peers_millisecond(&clock, &lp, &mut b, &mut buf, &mut got);
    }
    assert!(
        !writer.is_closing(),
        "closed after {elapsed} ms with {} of {len} bytes read",
        got.len()
    );
    assert!(got == data, "the peer got {} of {len} bytes", got.len());
    assert!(elapsed > 100, "took {elapsed} ms, under two idle periods");
    for _ in 0..10 {
        lp.run_once(Some(Duration::ZERO)).unwrap();
    }
    assert!(matches!(drained.borrow_mut().take(), Some(Ok(()))));
    // Then silence: closed once the idle timeout has passed.
    let mut silent = 0;
    while !writer.is_closing() && silent < 50 + 50 / 8 + 2 {
        silent += 1;
        clock.advance(ms(1));
        for _ in 0..3 {
            lp.run_once(Some(Duration::ZERO)).unwrap();
        }
    }
    assert!(
        writer.is_closing(),
        "still open after {silent} ms of silence"
    );
    assert!(silent >= 50, "closed after {silent} ms of silence");
}

/// As above after `start_tls` on both ends: the bytes wait as TLS records in the raw transport
/// and the kernel, and leave from there while the peer reads.
#[cfg(feature = "tls")]
#[test]
fn over_tls_a_large_write_a_slow_peer_drains_keeps_the_connection_open() {
    use std::cell::Cell;
    use std::future::IntoFuture;
    let certs = tls_common::Certs::get();
    let clock = ManualClock::new();
    let lp = EventLoop::with_clock(clock.clone()).unwrap();
    let ((_reader, writer), (peer_reader, peer_writer)) = lp
        .run_until_complete(async move {
            let (a, b) = asyncio::socketpair()?;
            let (reader, mut writer) = asyncio::open_connection_sock(a).await?;
            let (peer_reader, mut peer_writer) = asyncio::open_connection_sock(b).await?;
            let client = writer
                .start_tls(certs.client_config(&[]))
                .server_hostname("localhost");
            let server = peer_writer.start_tls(certs.server_config(&[]));
            let (c, s) = util::join(client.into_future(), server.into_future()).await;
            c?;
            s?;
            Ok::<_, Error>(((reader, writer), (peer_reader, peer_writer)))
        })
        .unwrap()
        .unwrap();
    let writer = Rc::new(writer);
    writer.set_idle_timeout(Some(ms(50)));
    let len = 2 << 20;
    writer.write(&vec![5u8; len]).unwrap();
    // The peer reads up to 8 KiB per millisecond of loop time.
    let (budget, total) = (Rc::new(Cell::new(0usize)), Rc::new(Cell::new(0usize)));
    let (b, t) = (budget.clone(), total.clone());
    drop(lp.handle().spawn(async move {
        loop {
            if b.get() == 0 {
                asyncio::yield_now().await;
                continue;
            }
            let got = peer_reader.read(b.get() as isize).await?;
            if got.is_empty() {
                return Ok::<_, Error>(());
            }
            b.set(b.get() - got.len());
            t.set(t.get() + got.len());
        }
    }));
    let mut elapsed = 0;
    while total.get() < len && elapsed < 2_000 && !writer.is_closing() {
        elapsed += 1;
        budget.set(8 * 1024);
        clock.advance(ms(1));
        for _ in 0..3 {
            lp.run_once(Some(Duration::ZERO)).unwrap();
        }
    }
    assert!(
        !writer.is_closing(),
        "closed after {elapsed} ms with {} of {len} bytes read",
        total.get()
    );
    assert_eq!(total.get(), len);
    assert!(elapsed > 100, "took {elapsed} ms, under two idle periods");
    writer.transport().abort();
    peer_writer.transport().abort();
    for _ in 0..20 {
        lp.run_once(Some(Duration::ZERO)).unwrap();
    }
}

/// A write pipe shared with another writer (stdout and stderr into one pipe, `2>&1 |`): the
/// kernel counts the pipe's unread bytes from either end, everyone's. Our stream writes
/// nothing after its idle timeout starts; the other writer's bytes, already in the pipe, are
/// read a little each millisecond. None of that is our stream's traffic: the timeout fires.
/// Before, the idle looks took each fall of the pipe's count for the peer taking our bytes,
/// and the connection stayed open as long as the other writer's bytes lasted (checked by
/// reverting the fix: not closed within 400 ms of a 100 ms timeout).
#[cfg(target_os = "linux")]
#[test]
fn a_pipe_drained_of_another_writers_bytes_is_not_our_streams_activity() {
    use std::io::{Read, Write};
    let clock = ManualClock::new();
    let lp = EventLoop::with_clock(clock.clone()).unwrap();
    let (read_end, write_end) = std::io::pipe().unwrap();
    let mut other: std::fs::File =
        std::os::fd::OwnedFd::from(write_end.try_clone().unwrap()).into();
    let mut read_end: std::fs::File = std::os::fd::OwnedFd::from(read_end).into();
    let writer = lp
        .run_until_complete(asyncio::open_write_pipe(write_end))
        .unwrap()
        .unwrap();
    other.write_all(&[7; 60_000]).unwrap(); // fits in the pipe (64 KiB): no wait
    writer.set_idle_timeout(Some(ms(100)));
    let mut buf = [0u8; 100];
    let mut elapsed = 0;
    while !writer.is_closing() && elapsed < 400 {
        clock.advance(ms(1));
        elapsed += 1;
        for _ in 0..3 {
            lp.run_once(Some(Duration::ZERO)).unwrap();
        }
        read_end.read_exact(&mut buf).unwrap(); // the other writer's bytes, 100 a millisecond
    }
    assert!(writer.is_closing(), "still open after {elapsed} ms");
    assert!(
        (100..=100 + 100 / 8 + 2).contains(&elapsed),
        "closed at {elapsed} ms"
    );
    lp.close().unwrap();
}

/// The other side of the test above: our own bytes in a write pipe, taken by a slow reader
/// a little each millisecond, are a transfer in flow, as on a socket: the idle timeout
/// does not fire while they drain, and fires once they are all read and nothing moves.
#[cfg(target_os = "linux")]
#[test]
fn our_bytes_drained_from_a_write_pipe_keep_it_open_until_they_are_read() {
    use std::io::Read;
    let clock = ManualClock::new();
    let lp = EventLoop::with_clock(clock.clone()).unwrap();
    let (read_end, write_end) = std::io::pipe().unwrap();
    let mut read_end: std::fs::File = std::os::fd::OwnedFd::from(read_end).into();
    let writer = lp
        .run_until_complete(asyncio::open_write_pipe(write_end))
        .unwrap()
        .unwrap();
    writer.write(&[7; 30_000]).unwrap(); // into the pipe at once (64 KiB)
    writer.set_idle_timeout(Some(ms(100)));
    let mut buf = [0u8; 100];
    for elapsed in 1..=300 {
        clock.advance(ms(1));
        for _ in 0..3 {
            lp.run_once(Some(Duration::ZERO)).unwrap();
        }
        assert!(
            !writer.is_closing(),
            "closed at {elapsed} ms while its bytes drained"
        );
        read_end.read_exact(&mut buf).unwrap(); // 100 a millisecond: 300 ms for all
    }
    let mut elapsed = 0;
    while !writer.is_closing() && elapsed < 200 {
        clock.advance(ms(1));
        elapsed += 1;
        for _ in 0..3 {
            lp.run_once(Some(Duration::ZERO)).unwrap();
        }
    }
    assert!(
        (100..=100 + 100 / 8 + 2).contains(&elapsed),
        "closed {elapsed} ms after the last byte"
    );
    lp.close().unwrap();
}
