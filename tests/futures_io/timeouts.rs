//! The read and drain timeouts through the traits: they bound `poll_read`, `poll_fill_buf`,
//! `poll_write` and `poll_flush`, lose nothing, and a wait given up (its future dropped) does
//! not date the next one. On a manual clock where a deadline must pass exactly.

use super::*;

/// The read timeout holds for `AsyncRead` and `AsyncBufRead` too, and loses nothing.
#[test]
fn read_timeout_applies_to_async_read_and_loses_nothing() {
    asyncio::run(async {
        let (a, b) = asyncio::socketpair().unwrap();
        let (mut reader, _writer) = asyncio::open_connection_sock(a).await.unwrap();
        let (_peer_reader, peer) = asyncio::open_connection_sock(b).await.unwrap();
        reader
            .set_read_timeout(Some(Duration::from_millis(10)))
            .unwrap();
        let mut buf = [0u8; 8];
        let e = AsyncReadExt::read(&mut reader, &mut buf).await.unwrap_err();
        assert_eq!(e.kind(), io::ErrorKind::TimedOut);
        let e = AsyncBufReadExt::fill_buf(&mut reader).await.unwrap_err();
        assert_eq!(e.kind(), io::ErrorKind::TimedOut);
        peer.write(b"late").unwrap();
        let mut line = Vec::new();
        peer.write_eof().unwrap();
        AsyncReadExt::read_to_end(&mut reader, &mut line)
            .await
            .unwrap();
        assert_eq!(line, b"late");
        peer.close();
    })
    .unwrap();
}

/// The outcome of a `poll_flush` awaited in a task, once it returns.
type Flushed = Rc<RefCell<Option<io::Result<()>>>>;

/// Spawns a task that awaits `writer`'s `poll_flush` and files its outcome.
fn flush_in_a_task(lp: &asyncio::EventLoop, writer: &Rc<StreamWriter>) -> Flushed {
    let flushed: Flushed = Rc::default();
    let (w, out) = (writer.clone(), flushed.clone());
    let task = lp.handle().spawn(async move {
        let r = poll_fn(|cx| Pin::new(&mut &*w).poll_flush(cx)).await;
        *out.borrow_mut() = Some(r);
    });
    drop(task.unwrap());
    flushed
}

/// The flush failed with `TimedOut`, its bytes still buffered; then the writer is aborted.
fn timed_out_losing_nothing(lp: &asyncio::EventLoop, writer: &StreamWriter, flushed: &Flushed) {
    let e = flushed
        .borrow_mut()
        .take()
        .expect("the drain timed out")
        .unwrap_err();
    assert_eq!(e.kind(), io::ErrorKind::TimedOut, "{e:?}");
    assert!(
        writer.transport().get_write_buffer_size() > 0,
        "nothing lost"
    );
    writer.transport().abort();
    turns(lp, 5);
}

/// A loop on a manual clock and a stream pair on it, whose writer (shared, for flush tasks)
/// pauses above 64 KiB and gives a drain up after `drain_timeout`:
/// `(clock, loop, writer, its reader, the peer's ends)`.
fn pausing_writer(
    drain_timeout: Duration,
) -> (
    asyncio::ManualClock,
    asyncio::EventLoop,
    Rc<StreamWriter>,
    StreamReader,
    (StreamReader, StreamWriter),
) {
    let clock = asyncio::ManualClock::new();
    let lp = asyncio::EventLoop::with_clock(clock.clone()).unwrap();
    let ((r, writer), peer) = lp.run_until_complete(stream_pair()).unwrap();
    let writer = Rc::new(writer);
    writer.set_drain_timeout(Some(drain_timeout));
    writer
        .transport()
        .set_write_buffer_limits(Some(64 * 1024), None)
        .unwrap();
    (clock, lp, writer, r, peer)
}

/// The drain timeout bounds futures-io's drains too (`poll_write`, `poll_flush`), dated from the
/// wait's first poll; on a manual clock, so the deadline passes exactly when the test says.
#[test]
fn the_drain_timeout_bounds_poll_flush_with_a_peer_that_does_not_read() {
    let (clock, lp, writer, _r, _peer) = pausing_writer(Duration::from_millis(200));
    writer.write(&vec![7u8; 16 << 20]).unwrap(); // far above the high-water mark
    let flushed = flush_in_a_task(&lp, &writer);
    let turn = |n: usize| turns(&lp, n);
    turn(20);
    assert!(flushed.borrow().is_none(), "the flush waits");
    clock.advance(Duration::from_millis(199));
    turn(20);
    assert!(flushed.borrow().is_none(), "fired before its timeout");
    clock.advance(Duration::from_millis(1));
    for _ in 0..1000 {
        if flushed.borrow().is_some() {
            break;
        }
        turn(1);
    }
    timed_out_losing_nothing(&lp, &writer, &flushed);
}

/// A shorter drain timeout set while `poll_flush` waits under a longer one counts from the
/// call, as for `drain`: not from the flush's first poll (then it would fail at once).
#[test]
fn a_shorter_drain_timeout_set_while_poll_flush_waits_counts_from_the_call() {
    let (clock, lp, writer, _r, _peer) = pausing_writer(Duration::from_secs(3600));
    writer.write(&vec![7u8; 16 << 20]).unwrap(); // far above the high-water mark
    let flushed = flush_in_a_task(&lp, &writer);
    let turn = |n: usize| turns(&lp, n);
    turn(20);
    clock.advance(Duration::from_millis(500));
    turn(20);
    assert!(flushed.borrow().is_none(), "the flush waits");
    writer.set_drain_timeout(Some(Duration::from_millis(200)));
    turn(20);
    assert!(
        flushed.borrow().is_none(),
        "failed at once, dated from its start"
    );
    clock.advance(Duration::from_millis(199));
    turn(20);
    assert!(
        flushed.borrow().is_none(),
        "fired before 200 ms after the call"
    );
    clock.advance(Duration::from_millis(1));
    turn(20);
    timed_out_losing_nothing(&lp, &writer, &flushed);
}

/// A `poll_flush` given up while it waited (its future dropped, as a select does) leaves no
/// date behind once writing resumes: a later flush that waits counts its drain timeout from
/// its own first poll (it used to inherit the abandoned one's and fail at once).
#[test]
fn an_abandoned_poll_flush_does_not_date_the_next_one() {
    let (clock, lp, writer, _r, (peer_reader, _peer_writer)) =
        pausing_writer(Duration::from_millis(200));
    let peer_reader = Rc::new(peer_reader);
    let turn = |n: usize| turns(&lp, n);
    // A flush polled once, pending, and dropped.
    writer.write(&vec![7u8; 4 << 20]).unwrap();
    let w = writer.clone();
    let pending = lp
        .run_until_complete(async move {
            let mut once = false;
            poll_fn(|cx| {
                let p = Pin::new(&mut &*w).poll_flush(cx);
                once = p.is_pending();
                Poll::Ready(())
            })
            .await;
            once
        })
        .unwrap();
    assert!(pending, "the first flush waits");
    // The peer reads it all: writing resumes. Then time passes.
    let p = peer_reader.clone();
    let got = lp
        .run_until_complete(async move { p.readexactly(4 << 20).await })
        .unwrap()
        .unwrap();
    assert_eq!(got.len(), 4 << 20);
    turn(5);
    assert_eq!(writer.transport().get_write_buffer_size(), 0);
    assert_eq!(lp.stats().timers, 0, "a timer left for the abandoned flush");
    clock.advance(Duration::from_millis(1000));
    turn(5);
    // A new flush that waits has its own 200 ms.
    writer.write(&vec![7u8; 16 << 20]).unwrap();
    let flushed = flush_in_a_task(&lp, &writer);
    turn(20);
    assert!(
        flushed.borrow().is_none(),
        "failed at once: dated by the abandoned flush"
    );
    clock.advance(Duration::from_millis(199));
    turn(20);
    assert!(flushed.borrow().is_none(), "fired before its timeout");
    clock.advance(Duration::from_millis(1));
    turn(20);
    let e = flushed.borrow_mut().take().expect("timed out").unwrap_err();
    assert_eq!(e.kind(), io::ErrorKind::TimedOut, "{e:?}");
    writer.transport().abort();
    turn(5);
}

/// A `poll_flush` given up while it waited, with writing never resumed afterwards, does not
/// date the next one either: a later flush counts its drain timeout from its own first poll,
/// as a futures-io read does after an abandoned read. (It used to inherit the abandoned
/// flush's start and fail 50 ms into its own 200.)
#[test]
fn a_poll_flush_abandoned_while_paused_does_not_date_the_next_one() {
    let (clock, lp, writer, _r, _peer) = pausing_writer(Duration::from_millis(200));
    let turn = |n: usize| turns(&lp, n);
    // A flush polled once, pending, and dropped; the peer never reads.
    writer.write(&vec![7u8; 16 << 20]).unwrap();
    let w = writer.clone();
    let pending = lp
        .run_until_complete(async move {
            poll_fn(|cx| Poll::Ready(Pin::new(&mut &*w).poll_flush(cx).is_pending())).await
        })
        .unwrap();
    assert!(pending, "the first flush waits");
    clock.advance(Duration::from_millis(150));
    turn(20);
    // A new flush, still paused: it has its own 200 ms.
    let flushed = flush_in_a_task(&lp, &writer);
    turn(20);
    clock.advance(Duration::from_millis(199));
    turn(20);
    assert!(
        flushed.borrow().is_none(),
        "failed early: dated by the abandoned flush"
    );
    clock.advance(Duration::from_millis(1));
    turn(20);
    timed_out_losing_nothing(&lp, &writer, &flushed);
}

/// As above, with the abandoned flush's own deadline passing before the next flush: the
/// timer's wake-up for it (nobody polls it then) is not taken by a later flush for the same
/// wait. (That later flush failed at once, dated by the abandoned one.)
#[test]
fn a_poll_flush_abandoned_past_its_deadline_does_not_date_the_next_one() {
    let (clock, lp, writer, _r, _peer) = pausing_writer(Duration::from_millis(200));
    let turn = |n: usize| turns(&lp, n);
    writer.write(&vec![7u8; 16 << 20]).unwrap();
    let w = writer.clone();
    let pending = lp
        .run_until_complete(async move {
            poll_fn(|cx| Poll::Ready(Pin::new(&mut &*w).poll_flush(cx).is_pending())).await
        })
        .unwrap();
    assert!(pending, "the first flush waits");
    clock.advance(Duration::from_millis(250)); // its deadline passes: the timer wakes it
    turn(20);
    let flushed = flush_in_a_task(&lp, &writer);
    turn(20);
    assert!(
        flushed.borrow().is_none(),
        "failed at once: dated by the abandoned flush"
    );
    clock.advance(Duration::from_millis(199));
    turn(20);
    assert!(flushed.borrow().is_none(), "failed early");
    clock.advance(Duration::from_millis(1));
    turn(20);
    timed_out_losing_nothing(&lp, &writer, &flushed);
}

/// The outcome of a futures-io read awaited in a task, once it returns.
type ReadOutcome = Rc<RefCell<Option<io::Result<usize>>>>;

/// A futures-io read given up while it waited under the read timeout (its future dropped, as
/// a select or an outer timeout does) does not date the next read: the next one counts its
/// timeout from its own first poll. The reader kept the abandoned read's waiter id and date,
/// so the next read passed for the same wait and failed early.
// Checklist: S21.
#[test]
fn an_abandoned_futures_io_read_does_not_date_the_next_one() {
    for fill_buf in [false, true] {
        let clock = asyncio::ManualClock::new();
        let lp = asyncio::EventLoop::with_clock(clock.clone()).unwrap();
        let ((reader, _w), (_pr, peer)) = lp.run_until_complete(stream_pair()).unwrap();
        reader
            .set_read_timeout(Some(Duration::from_millis(200)))
            .unwrap();
        // Time passes in steps, the stream's timer looking (and dating waits) as it goes.
        let pass = |ms: u64| {
            for _ in 0..ms / 25 {
                clock.advance(Duration::from_millis(25));
                turns(&lp, 5);
            }
        };
        // A read polled once, pending, and dropped.
        let (mut reader, pending) = lp
            .run_until_complete(async move {
                let mut reader = reader;
                let once = io_read(&mut reader, fill_buf).now_or_never().is_none();
                (reader, once)
            })
            .unwrap();
        assert!(pending, "the first read waits");
        pass(150);
        // A new read has its own 200 ms.
        let got: ReadOutcome = Rc::default();
        let out = got.clone();
        let task = lp.handle().spawn(async move {
            let r = io_read(&mut reader, fill_buf).await;
            *out.borrow_mut() = Some(r);
            reader
        });
        let task = task.unwrap();
        turns(&lp, 5);
        pass(175);
        assert!(
            got.borrow().is_none(),
            "fill_buf {fill_buf}: failed early, dated by the abandoned read"
        );
        pass(75); // the timer looks every eighth of the timeout: at most 25 ms late
        let e = got.borrow_mut().take().expect("timed out").unwrap_err();
        assert_eq!(e.kind(), io::ErrorKind::TimedOut, "{e:?}");
        // Nothing lost, and the reader reads on.
        peer.write(b"late").unwrap();
        let mut reader = lp.run_until_complete(task).unwrap().unwrap();
        let n = lp
            .run_until_complete(async move { io_read(&mut reader, fill_buf).await })
            .unwrap()
            .unwrap();
        assert_eq!(n, 4);
        peer.close();
        turns(&lp, 5);
    }
}

/// As above, with the abandoned read left past its own deadline: the timer fails it and
/// wakes its task, which no longer polls it. The next read, under the same reader, is a new
/// one with its own timeout. (It failed at once, taken for the expired read.)
// Checklist: S21.
#[test]
fn a_futures_io_read_abandoned_past_its_deadline_does_not_fail_the_next_one() {
    for fill_buf in [false, true] {
        let clock = asyncio::ManualClock::new();
        let lp = asyncio::EventLoop::with_clock(clock.clone()).unwrap();
        let ((reader, _w), (_pr, peer)) = lp.run_until_complete(stream_pair()).unwrap();
        reader
            .set_read_timeout(Some(Duration::from_millis(200)))
            .unwrap();
        let pass = |ms: u64| {
            for _ in 0..ms / 25 {
                clock.advance(Duration::from_millis(25));
                turns(&lp, 5);
            }
        };
        let (mut reader, pending) = lp
            .run_until_complete(async move {
                let mut reader = reader;
                let once = io_read(&mut reader, fill_buf).now_or_never().is_none();
                (reader, once)
            })
            .unwrap();
        assert!(pending, "the first read waits");
        pass(300); // past its deadline: the timer fails it, and nobody polls it
        let got: ReadOutcome = Rc::default();
        let out = got.clone();
        let task = lp.handle().spawn(async move {
            let r = io_read(&mut reader, fill_buf).await;
            *out.borrow_mut() = Some(r);
            reader
        });
        let task = task.unwrap();
        turns(&lp, 5);
        assert!(
            got.borrow().is_none(),
            "fill_buf {fill_buf}: failed at once, taken for the abandoned read"
        );
        pass(175);
        assert!(got.borrow().is_none(), "fill_buf {fill_buf}: failed early");
        pass(75); // the timer looks every eighth of the timeout: at most 25 ms late
        let e = got.borrow_mut().take().expect("timed out").unwrap_err();
        assert_eq!(e.kind(), io::ErrorKind::TimedOut, "{e:?}");
        drop(lp.run_until_complete(task).unwrap().unwrap());
        peer.close();
        turns(&lp, 5);
    }
}
