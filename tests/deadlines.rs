//! Per-stream deadlines (issue #16): the read timeout, the drain timeout and the idle timeout
//! of `StreamReader` / `StreamWriter`. Time is a `ManualClock`: a deadline passes only when a
//! test moves the clock, so every assertion is about order and outcome, never elapsed time.
//! Each test drives its loop with bounded `run_once` calls.

#[cfg(feature = "tls")]
mod tls_common;
mod util;

use std::cell::RefCell;
use std::future::Future;
use std::rc::Rc;
use std::time::Duration;

use asyncio::{Error, EventLoop, ManualClock, StreamReader, StreamWriter};

fn ms(n: u64) -> Duration {
    Duration::from_millis(n)
}

/// A loop on a manual clock and a connected pair of streams over a socketpair.
struct Rig {
    clock: ManualClock,
    lp: EventLoop,
    reader: Rc<StreamReader>,
    writer: Rc<StreamWriter>,
    peer_reader: Rc<StreamReader>,
    peer_writer: Rc<StreamWriter>,
}

fn rig() -> Rig {
    let clock = ManualClock::new();
    let lp = EventLoop::with_clock(clock.clone()).unwrap();
    let ((reader, writer), (peer_reader, peer_writer)) = lp
        .run_until_complete(async {
            let (a, b) = asyncio::socketpair()?;
            let ours = asyncio::open_connection_sock(a).await?;
            let theirs = asyncio::open_connection_sock(b).await?;
            Ok::<_, Error>((ours, theirs))
        })
        .unwrap()
        .unwrap();
    Rig {
        clock,
        lp,
        reader: Rc::new(reader),
        writer: Rc::new(writer),
        peer_reader: Rc::new(peer_reader),
        peer_writer: Rc::new(peer_writer),
    }
}

/// A loop on a manual clock and a stream writer (shared) with `idle` as its idle timeout,
/// over a socketpair whose other end stays a plain non-blocking socket:
/// `(clock, loop, writer, its reader, the raw peer)`.
fn idle_writer_to_a_raw_peer(
    idle: Duration,
) -> (
    ManualClock,
    EventLoop,
    Rc<StreamWriter>,
    StreamReader,
    std::os::unix::net::UnixStream,
) {
    let clock = ManualClock::new();
    let lp = EventLoop::with_clock(clock.clone()).unwrap();
    let (a, b) = asyncio::socketpair().unwrap();
    b.set_nonblocking(true).unwrap();
    let (reader, writer) = lp
        .run_until_complete(asyncio::open_connection_sock(a))
        .unwrap()
        .unwrap();
    let writer = Rc::new(writer);
    writer.set_idle_timeout(Some(idle));
    (clock, lp, writer, reader, b)
}

/// One millisecond of a slow raw peer: the clock moves on, the loop turns, and `b` reads
/// into `got` what has arrived, at most `buf`'s length.
fn a_slow_peers_millisecond(
    clock: &ManualClock,
    lp: &EventLoop,
    b: &mut std::os::unix::net::UnixStream,
    buf: &mut [u8],
    got: &mut Vec<u8>,
) {
    use std::io::Read;
    clock.advance(ms(1));
    for _ in 0..3 {
        lp.run_once(Some(Duration::ZERO)).unwrap();
    }
    match b.read(buf) {
        Ok(n) => got.extend_from_slice(&buf[..n]),
        Err(e) => assert_eq!(e.kind(), std::io::ErrorKind::WouldBlock, "{e}"),
    }
}

/// Where a spawned operation's outcome lands.
type Slot<T> = Rc<RefCell<Option<T>>>;

impl Rig {
    /// Spawns `fut` on the loop; its output goes to the returned slot.
    fn spawn<T: 'static>(&self, fut: impl std::future::Future<Output = T> + 'static) -> Slot<T> {
        let slot: Slot<T> = Rc::default();
        let out = slot.clone();
        let task = self.lp.handle().spawn(async move {
            *out.borrow_mut() = Some(fut.await);
        });
        drop(task.unwrap()); // detached: the slot says when it is done
        slot
    }

    /// Turns the loop until `cond` holds (bounded).
    fn until(&self, cond: impl FnMut() -> bool) {
        util::run_until(&self.lp, 10_000, cond);
    }

    /// Turns the loop a few times without moving the clock: whatever is ready happens.
    fn settle(&self) {
        for _ in 0..20 {
            self.lp.run_once(Some(Duration::ZERO)).unwrap();
        }
    }

    /// Runs `fut` to completion (it must not need the clock to move).
    fn block_on<T: 'static>(&self, fut: impl std::future::Future<Output = T> + 'static) -> T {
        let slot = self.spawn(fut);
        self.until(|| slot.borrow().is_some());
        let out = slot.borrow_mut().take().unwrap();
        out
    }

    /// Lets `d` of loop time pass a millisecond at a time, the loop turning at each, as time
    /// flows for a real loop (the timers look at the streams on their schedule).
    fn pass(&self, d: Duration) {
        for _ in 0..d.as_millis() {
            self.clock.advance(ms(1));
            for _ in 0..3 {
                self.lp.run_once(Some(Duration::ZERO)).unwrap();
            }
        }
    }

    /// Lets time pass a millisecond at a time until `cond` holds, at most `limit`.
    fn pass_until(&self, limit: Duration, mut cond: impl FnMut() -> bool) {
        for _ in 0..limit.as_millis() {
            if cond() {
                return;
            }
            self.pass(ms(1));
        }
        assert!(cond(), "not reached within {limit:?} of loop time");
    }

    fn timers(&self) -> usize {
        self.lp.handle().stats().timers
    }
}

/// A rig whose writer has a drain timeout of `d` and a 64 KiB high-water mark.
fn drain_rig(d: Duration) -> Rig {
    let r = rig();
    r.writer.set_drain_timeout(Some(d));
    r.writer
        .transport()
        .set_write_buffer_limits(Some(64 * 1024), None)
        .unwrap();
    r
}

impl Drop for Rig {
    fn drop(&mut self) {
        self.writer.transport().abort();
        self.peer_writer.transport().abort();
        self.settle();
    }
}

#[test]
fn read_timeout_fires_and_the_next_read_gets_the_late_bytes() {
    let r = rig();
    r.reader.set_read_timeout(Some(ms(100))).unwrap();
    assert_eq!(r.reader.read_timeout(), Some(ms(100)));
    let reader = r.reader.clone();
    let read = r.spawn(async move { reader.read(100).await });
    r.until(|| r.timers() == 1); // the read waits, its deadline armed
    r.pass(ms(99));
    assert!(read.borrow().is_none(), "fired before its timeout");
    // Within an eighth of the timeout past it (the timer looks every 12.5 ms).
    r.pass_until(ms(100 / 8 + 2), || read.borrow().is_some());
    assert!(matches!(
        read.borrow_mut().take(),
        Some(Err(Error::Timeout))
    ));
    // The connection is fine: bytes sent after the timeout reach the next read.
    r.peer_writer.write(b"late").unwrap();
    let reader = r.reader.clone();
    assert_eq!(
        r.block_on(async move { reader.read(100).await }).unwrap(),
        b"late"
    );
}

#[test]
fn a_timed_out_readexactly_keeps_its_partial_bytes() {
    let r = rig();
    r.reader.set_read_timeout(Some(ms(50))).unwrap();
    let reader = r.reader.clone();
    let read = r.spawn(async move { reader.readexactly(10).await });
    r.peer_writer.write(b"0123").unwrap();
    r.until(|| util::reader_buffered(&r.reader) == 4);
    r.pass_until(ms(50 + 50 / 8 + 2), || read.borrow().is_some());
    assert!(matches!(
        read.borrow_mut().take(),
        Some(Err(Error::Timeout))
    ));
    assert_eq!(
        util::reader_buffered(&r.reader),
        4,
        "the partial bytes stay buffered"
    );
    r.peer_writer.write(b"456789").unwrap();
    let reader = r.reader.clone();
    let all = r.block_on(async move { reader.readexactly(10).await });
    assert_eq!(all.unwrap(), b"0123456789");
}

#[test]
fn a_timed_out_readuntil_and_readline_keep_the_line_so_far() {
    let r = rig();
    r.reader.set_read_timeout(Some(ms(50))).unwrap();
    let reader = r.reader.clone();
    let read = r.spawn(async move { reader.readuntil(b";").await });
    r.peer_writer.write(b"key=va").unwrap();
    r.until(|| util::reader_buffered(&r.reader) == 6);
    r.pass_until(ms(50 + 50 / 8 + 2), || read.borrow().is_some());
    assert!(matches!(
        read.borrow_mut().take(),
        Some(Err(Error::Timeout))
    ));
    // A readline times out too, over the same bytes, and takes none of them.
    let reader = r.reader.clone();
    let line = r.spawn(async move { reader.readline().await });
    r.settle();
    r.pass_until(ms(50 + 50 / 8 + 2), || line.borrow().is_some());
    assert!(matches!(
        line.borrow_mut().take(),
        Some(Err(Error::Timeout))
    ));
    r.peer_writer.write(b"lue;\n").unwrap();
    let reader = r.reader.clone();
    let got = r.block_on(async move {
        let a = reader.readuntil(b";").await?;
        let b = reader.readline().await?;
        Ok::<_, Error>((a, b))
    });
    assert_eq!(got.unwrap(), (b"key=value;".to_vec(), b"\n".to_vec()));
}

#[test]
fn reads_served_from_the_buffer_never_time_out_and_zero_fails_only_a_wait() {
    let r = rig();
    r.reader.set_read_timeout(Some(Duration::ZERO)).unwrap();
    r.peer_writer.write(b"ready").unwrap();
    r.until(|| util::reader_buffered(&r.reader) == 5);
    let reader = r.reader.clone();
    let got = r.block_on(async move {
        let first = reader.read(100).await;
        let second = reader.read(100).await; // would wait: fails at once, clock unmoved
        (first, second)
    });
    assert_eq!(got.0.unwrap(), b"ready");
    assert!(matches!(got.1, Err(Error::Timeout)));
}

#[test]
fn a_zero_read_timeout_set_while_a_read_waits_fails_it_at_once() {
    let r = rig();
    let reader = r.reader.clone();
    let read = r.spawn(async move { reader.read(100).await });
    r.settle();
    assert!(read.borrow().is_none(), "the read waits");
    r.reader.set_read_timeout(Some(Duration::ZERO)).unwrap();
    r.settle(); // no loop time passes
    assert!(matches!(
        read.borrow_mut().take(),
        Some(Err(Error::Timeout))
    ));
    // Nothing lost: bytes that come next are read as usual.
    r.reader.set_read_timeout(None).unwrap();
    r.peer_writer.write(b"late").unwrap();
    let reader = r.reader.clone();
    assert_eq!(
        r.block_on(async move { reader.read(100).await }).unwrap(),
        b"late"
    );
}

#[test]
fn duration_max_never_fires_and_none_clears() {
    let r = rig();
    r.reader.set_read_timeout(Some(Duration::MAX)).unwrap();
    r.writer.set_idle_timeout(Some(Duration::MAX));
    r.writer.set_drain_timeout(Some(Duration::MAX));
    let reader = r.reader.clone();
    let read = r.spawn(async move { reader.read(100).await });
    r.settle();
    r.clock.advance(Duration::from_secs(10 * 365 * 24 * 3600)); // ten years
    r.settle();
    assert!(read.borrow().is_none(), "Duration::MAX fired");
    // Cleared: the read waits past what the old timeout would have allowed.
    r.reader.set_read_timeout(Some(ms(10))).unwrap();
    r.reader.set_read_timeout(None).unwrap();
    r.writer.set_idle_timeout(None);
    assert_eq!(
        (r.reader.read_timeout(), r.writer.idle_timeout()),
        (None, None)
    );
    r.clock.advance(Duration::from_secs(60));
    r.settle();
    assert!(read.borrow().is_none(), "a cleared timeout fired");
    r.peer_writer.write(b"x").unwrap();
    r.until(|| read.borrow().is_some());
    assert_eq!(read.borrow_mut().take().unwrap().unwrap(), b"x");
}

#[test]
fn a_read_timeout_needs_a_loop_for_a_reader_fed_by_hand() {
    let reader = StreamReader::new();
    assert!(matches!(
        reader.set_read_timeout(Some(ms(1))),
        Err(Error::InvalidState(_))
    ));
    reader.set_read_timeout(None).unwrap(); // nothing to arm: fine anywhere
    asyncio::run(async {
        let reader = StreamReader::new();
        reader.set_read_timeout(Some(Duration::ZERO)).unwrap();
        reader.feed_data(b"ab");
        assert_eq!(reader.read(1).await.unwrap(), b"a");
        assert_eq!(reader.read(1).await.unwrap(), b"b");
        assert!(matches!(reader.read(1).await, Err(Error::Timeout)));
    })
    .unwrap();
}

#[test]
fn drain_timeout_with_a_peer_that_does_not_read() {
    let r = drain_rig(ms(200));
    let writer = r.writer.clone();
    let drained = r.spawn(async move {
        let chunk = vec![7u8; 64 * 1024];
        loop {
            writer.write(&chunk)?;
            writer.drain().await?;
        }
        #[allow(unreachable_code)]
        Ok::<(), Error>(())
    });
    // Until the socket is full: paused, and the buffer no longer moves.
    let mut last = usize::MAX;
    for _ in 0..1000 {
        r.settle();
        let now = r.writer.transport().get_write_buffer_size();
        if now == last && r.lp.handle().stats().writing_paused == 1 {
            break;
        }
        last = now;
    }
    assert_eq!(r.timers(), 1, "the waiting drain armed its deadline");
    r.clock.advance(ms(199));
    r.settle();
    assert!(drained.borrow().is_none(), "fired before its timeout");
    r.clock.advance(ms(1));
    r.until(|| drained.borrow().is_some());
    assert!(matches!(
        drained.borrow_mut().take(),
        Some(Err(Error::Timeout))
    ));
    let buffered = r.writer.transport().get_write_buffer_size();
    assert!(buffered > 0, "the bytes stay in the transport");
    // The peer catches up: a new drain returns once the buffer has gone out.
    let peer = r.peer_reader.clone();
    let _reading = r.spawn(async move {
        while !peer.read(1 << 20).await?.is_empty() {}
        Ok::<_, Error>(())
    });
    let writer = r.writer.clone();
    r.block_on(async move { writer.drain().await }).unwrap();
    assert!(r.writer.transport().get_write_buffer_size() < buffered);
}

#[test]
fn a_drain_timeout_set_while_a_drain_waits_bounds_that_drain_from_the_call() {
    // No timeout when the drain begins to wait; one is set while it waits: that drain fails
    // 200 ms after the call (it used to wait on, unbounded), and nothing is lost.
    let r = drain_rig(ms(200));
    r.writer.set_drain_timeout(None);
    let writer = r.writer.clone();
    let drained = r.spawn(async move {
        writer.write(&vec![7u8; 16 << 20])?; // far above the high-water mark: paused
        writer.drain().await
    });
    r.settle();
    assert!(drained.borrow().is_none(), "the drain waits");
    r.clock.advance(ms(1000));
    r.settle();
    assert!(drained.borrow().is_none(), "no timeout yet: it waits on");
    r.writer.set_drain_timeout(Some(ms(200)));
    r.settle();
    r.clock.advance(ms(199));
    r.settle();
    assert!(
        drained.borrow().is_none(),
        "fired before 200 ms from the call"
    );
    // Bounded in loop time (the old code waited on for good).
    r.pass_until(ms(10), || drained.borrow().is_some());
    assert!(matches!(
        drained.borrow_mut().take(),
        Some(Err(Error::Timeout))
    ));
    assert!(
        r.writer.transport().get_write_buffer_size() > 0,
        "nothing dropped"
    );
}

#[test]
fn a_drain_timeout_cleared_then_set_again_counts_from_the_second_call() {
    let r = drain_rig(ms(200));
    let writer = r.writer.clone();
    let drained = r.spawn(async move {
        writer.write(&vec![7u8; 16 << 20])?; // far above the high-water mark: paused
        writer.drain().await
    });
    r.settle();
    r.clock.advance(ms(150));
    r.writer.set_drain_timeout(None);
    r.settle();
    r.clock.advance(ms(850));
    r.settle();
    assert!(drained.borrow().is_none(), "no timeout: it waits on");
    r.writer.set_drain_timeout(Some(ms(200)));
    r.settle();
    r.clock.advance(ms(199));
    r.settle();
    assert!(
        drained.borrow().is_none(),
        "fired before 200 ms from the second call"
    );
    r.pass_until(ms(10), || drained.borrow().is_some());
    assert!(matches!(
        drained.borrow_mut().take(),
        Some(Err(Error::Timeout))
    ));
}

#[test]
fn a_drain_timeout_counts_from_when_the_drain_began_not_from_the_iteration_start() {
    let r = drain_rig(ms(200));
    // A timer makes each iteration read the clock before its callbacks run.
    let timer = r.lp.handle().call_later(ms(500), || ()).unwrap();
    let (clock, writer) = (r.clock.clone(), r.writer.clone());
    let drained = r.spawn(async move {
        // Something slow runs: the loop's reading of the clock, taken as the iteration began
        // (it has a timer to look at), is 150 ms old when the drain starts waiting.
        clock.advance(ms(150));
        writer.write(&vec![7u8; 16 << 20])?; // far above the high-water mark: paused
        writer.drain().await
    });
    // A running loop (run_once does not cache the clock): the drain starts waiting in there.
    r.lp.run_until_complete(async {
        for _ in 0..5 {
            asyncio::yield_now().await;
        }
    })
    .unwrap();
    assert!(drained.borrow().is_none(), "the drain waits");
    r.clock.advance(ms(199));
    r.settle();
    assert!(
        drained.borrow().is_none(),
        "fired before 200 ms had passed since the drain began"
    );
    r.clock.advance(ms(1));
    r.until(|| drained.borrow().is_some());
    assert!(matches!(
        drained.borrow_mut().take(),
        Some(Err(Error::Timeout))
    ));
    timer.cancel();
}

#[test]
fn an_idle_timeout_counts_from_the_call_not_from_the_iterations_clock() {
    let r = rig();
    // A timer makes each iteration read the clock before its callbacks run.
    let timer = r.lp.handle().call_later(ms(5000), || ()).unwrap();
    let (clock, writer) = (r.clock.clone(), r.writer.clone());
    r.lp.run_until_complete(async move {
        // Something slow ran first: the iteration's reading is 150 ms old at the call.
        clock.advance(ms(150));
        writer.set_idle_timeout(Some(ms(200)));
    })
    .unwrap();
    let reader = r.reader.clone();
    let read = r.spawn(async move { reader.read(1).await });
    r.pass(ms(199));
    assert!(
        read.borrow().is_none(),
        "closed before 200 ms from the call"
    );
    r.pass_until(ms(200 / 8 + 2), || read.borrow().is_some());
    let e = read.borrow_mut().take().unwrap().unwrap_err();
    assert_eq!(e.kind(), std::io::ErrorKind::TimedOut, "{e}");
    timer.cancel();
}

#[test]
fn activity_the_timer_sees_is_dated_at_its_look_not_at_the_iterations_clock() {
    // 800 ms idle timeout: the timer looks every 100 ms. In the iteration of one look, a
    // callback that runs before it takes 150 ms and writes: the look sees that write and must
    // date it no earlier than the write itself (it used the iteration's older reading).
    let r = rig();
    r.writer.set_idle_timeout(Some(ms(800)));
    let reader = r.reader.clone();
    let read = r.spawn(async move { reader.read(1).await });
    r.pass(ms(199));
    let (clock, writer) = (r.clock.clone(), r.writer.clone());
    r.lp.handle()
        .call_soon(move || {
            clock.advance(ms(150));
            writer.write(b"x").unwrap();
        })
        .unwrap();
    // The look due at 200 ms runs in the same iteration, after that callback.
    r.clock.advance(ms(1));
    r.lp.run_once(Some(Duration::ZERO)).unwrap();
    // The write happened at 350 ms: the connection stays open until 1 150 ms.
    r.pass(ms(1100 - 350));
    assert!(
        read.borrow().is_none(),
        "closed before 800 ms after the write"
    );
    r.pass_until(ms(150), || read.borrow().is_some());
    let e = read.borrow_mut().take().unwrap().unwrap_err();
    assert_eq!(e.kind(), std::io::ErrorKind::TimedOut, "{e}");
}

#[test]
fn a_released_drain_leaves_no_wake_up_behind() {
    // A drain waits under a 200 ms timeout, then the peer reads and writing resumes: the
    // drain returns. When the 200 ms come, the stream's timer must not wake the other
    // waiters (here a wait_closed, whose polls are counted) for that finished drain.
    let r = drain_rig(ms(200));
    let writer = r.writer.clone();
    let drained = r.spawn(async move {
        writer.write(&vec![7u8; 1 << 20])?;
        writer.drain().await
    });
    r.settle();
    assert!(drained.borrow().is_none(), "the drain waits");
    let peer = r.peer_reader.clone();
    let _reading = r.spawn(async move {
        while !peer.read(1 << 20).await?.is_empty() {}
        Ok::<_, Error>(())
    });
    r.until(|| drained.borrow().is_some());
    assert!(matches!(drained.borrow_mut().take(), Some(Ok(()))));
    let polls = counted_wait_closed(&r);
    r.pass(ms(250));
    assert_eq!(polls.get(), 1, "woken for a drain that had ended");
}

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

#[test]
fn a_shorter_drain_timeout_set_while_a_drain_waits_counts_from_the_call() {
    // The drain begins to wait under an hour's timeout; after 500 ms of it a 200 ms timeout
    // is set: the drain fails 200 ms after the call, neither at once (200 ms from its start
    // has passed already) nor after the hour. Nothing is lost.
    let r = drain_rig(Duration::from_secs(3600));
    let writer = r.writer.clone();
    let drained = r.spawn(async move {
        writer.write(&vec![7u8; 16 << 20])?; // far above the high-water mark: paused
        writer.drain().await
    });
    r.settle();
    r.clock.advance(ms(500));
    r.settle();
    assert!(drained.borrow().is_none(), "the drain waits");
    r.writer.set_drain_timeout(Some(ms(200)));
    r.settle();
    assert!(
        drained.borrow().is_none(),
        "failed at once: dated from its start, not the call"
    );
    r.clock.advance(ms(199));
    r.settle();
    assert!(
        drained.borrow().is_none(),
        "fired before 200 ms from the call"
    );
    r.pass_until(ms(10), || drained.borrow().is_some());
    assert!(matches!(
        drained.borrow_mut().take(),
        Some(Err(Error::Timeout))
    ));
    let peer = r.peer_reader.clone();
    let got = r.block_on(async move { peer.readexactly(16 << 20).await });
    assert!(got.unwrap().iter().all(|&b| b == 7), "nothing lost");
}

/// A rig whose writer holds 1 MiB above the high-water mark, unread by the peer.
fn paused_rig(d: Duration) -> Rig {
    let r = drain_rig(d);
    r.writer.write(&vec![7u8; 1 << 20]).unwrap();
    r.settle();
    assert_eq!(r.lp.handle().stats().writing_paused, 1);
    r
}

/// `Duration::ZERO` fails a drain that would wait at once, at its first poll, on any clock.
/// The drain dates its wait from a fresh clock reading and compared it with the iteration's
/// older one, so on a clock that moved since the iteration began (a real one, always) the
/// zero timeout did not count as passed: the drain returned `Pending` and failed an
/// iteration later, after the stream's timer fired.
#[test]
fn a_zero_drain_timeout_fails_a_drain_that_would_wait_at_its_first_poll() {
    let r = paused_rig(Duration::ZERO);
    // A near timer: each iteration reads the clock as it begins, for the timers due.
    let _near = r.lp.handle().call_later(ms(5), || ()).unwrap();
    let (writer, clock) = (r.writer.clone(), r.clock.clone());
    let first = r.block_on(async move {
        // Time passes within this iteration: its clock reading is older than a fresh one.
        clock.advance(ms(1));
        let mut drain = std::pin::pin!(writer.drain());
        std::future::poll_fn(|cx| std::task::Poll::Ready(drain.as_mut().poll(cx))).await
    });
    assert!(
        matches!(first, std::task::Poll::Ready(Err(Error::Timeout))),
        "{first:?}"
    );
    assert!(
        r.writer.transport().get_write_buffer_size() > 0,
        "nothing dropped"
    );
}

/// Polls `fut` once (it must wait) and drops it: a drain given up, as a `select` does.
fn poll_once_and_drop<F>(r: &Rig, fut: F) -> bool
where
    F: std::future::Future + 'static,
    F::Output: 'static,
{
    r.block_on(async move {
        let mut fut = std::pin::pin!(fut);
        std::future::poll_fn(|cx| std::task::Poll::Ready(fut.as_mut().poll(cx).is_pending())).await
    })
}

/// A wait_closed whose polls are counted: it should be polled once, and woken by nothing.
fn counted_wait_closed(r: &Rig) -> Rc<std::cell::Cell<u32>> {
    let polls = Rc::new(std::cell::Cell::new(0));
    let (p, writer) = (polls.clone(), r.writer.clone());
    let _closed = r.spawn(async move {
        let mut wait = std::pin::pin!(writer.wait_closed());
        std::future::poll_fn(|cx| {
            p.set(p.get() + 1);
            wait.as_mut().poll(cx)
        })
        .await
    });
    r.settle();
    assert_eq!(polls.get(), 1, "wait_closed waits");
    polls
}

#[test]
fn a_dropped_waiting_drain_takes_its_deadline_and_the_timer_away() {
    // A drain waits under a 200 ms timeout and is dropped (given up by a select, say): no
    // deadline is left behind, so the timer leaves the wheel and, when the 200 ms come, no
    // other waiter (a wait_closed, whose polls are counted) is woken for it.
    let r = paused_rig(ms(200));
    let polls = counted_wait_closed(&r);
    let writer = r.writer.clone();
    assert!(poll_once_and_drop(&r, async move { writer.drain().await }));
    assert_eq!(
        r.timers(),
        0,
        "the stream's timer stays armed for a dropped drain"
    );
    r.pass(ms(250));
    assert_eq!(polls.get(), 1, "woken for a drain that was dropped");
    // A second drain still times out (the deadlines work on).
    let writer = r.writer.clone();
    let drained = r.spawn(async move { writer.drain().await });
    r.settle();
    assert!(drained.borrow().is_none(), "the drain waits");
    r.pass_until(ms(201), || drained.borrow().is_some());
    assert!(matches!(
        drained.borrow_mut().take(),
        Some(Err(Error::Timeout))
    ));
}

#[test]
fn a_returned_or_unbounded_drain_leaves_no_timer_armed() {
    // The drain returns when the peer reads: the stream's timer, armed for its deadline only,
    // leaves the wheel then (it used to stay and fire for nothing, a loop wake-up).
    let r = paused_rig(ms(200));
    let writer = r.writer.clone();
    let drained = r.spawn(async move { writer.drain().await });
    r.settle();
    assert_eq!(r.timers(), 1, "the waiting drain armed its deadline");
    let peer = r.peer_reader.clone();
    let _reading = r.spawn(async move {
        while !peer.read(1 << 20).await?.is_empty() {}
        Ok::<_, Error>(())
    });
    r.until(|| drained.borrow().is_some());
    assert!(matches!(drained.borrow_mut().take(), Some(Ok(()))));
    assert_eq!(
        r.timers(),
        0,
        "the timer outlives the drain it was armed for"
    );
    // Cleared while a drain waits: the deadline goes with the setting.
    let r = paused_rig(ms(200));
    let polls = counted_wait_closed(&r);
    let writer = r.writer.clone();
    let drained = r.spawn(async move { writer.drain().await });
    r.settle();
    assert_eq!(r.timers(), 1);
    r.writer.set_drain_timeout(None);
    assert_eq!(
        r.timers(),
        0,
        "the timer outlives the cleared drain timeout"
    );
    r.pass(ms(250));
    assert!(drained.borrow().is_none(), "no timeout: the drain waits on");
    assert_eq!(polls.get(), 1, "woken for a cleared drain timeout");
}

/// A drain dated under a timeout and polled again (its task woken by something else) after
/// the timeout was cleared waits on undated, and no longer counts among the dated drains. It
/// used to stay counted for good, so every later drain deadline outlived its drain: the
/// stream's timer stayed armed after the drain returned, to fire for nothing.
#[test]
fn a_drain_polled_after_its_timeout_was_cleared_leaves_no_timer_behind() {
    let r = paused_rig(Duration::from_secs(3600));
    // A second branch beside the drain, which the test wakes: the drain is polled again.
    let poke: Rc<RefCell<(bool, Option<std::task::Waker>)>> = Rc::default();
    let other = poke.clone();
    let writer = r.writer.clone();
    let drained = r.spawn(async move {
        let other = std::future::poll_fn(move |cx| {
            let mut o = other.borrow_mut();
            if o.0 {
                return std::task::Poll::Ready(());
            }
            o.1 = Some(cx.waker().clone());
            std::task::Poll::Pending
        });
        util::join(writer.drain(), other).await.0
    });
    r.settle();
    assert_eq!(r.timers(), 1, "the waiting drain armed its deadline");
    r.writer.set_drain_timeout(None);
    let waker = poke.borrow_mut().1.take().expect("the other branch waits");
    waker.wake(); // the drain is polled with no timeout set
    r.settle();
    assert!(drained.borrow().is_none(), "no timeout: the drain waits on");
    // The peer reads what paused_rig wrote: the drain returns.
    let peer = r.peer_reader.clone();
    let read = r.spawn(async move { peer.readexactly(1 << 20).await.map(|b| b.len()) });
    poke.borrow_mut().0 = true;
    if let Some(w) = poke.borrow_mut().1.take() {
        w.wake();
    }
    r.until(|| drained.borrow().is_some() && read.borrow().is_some());
    assert!(matches!(drained.borrow_mut().take(), Some(Ok(()))));
    assert!(matches!(read.borrow_mut().take(), Some(Ok(n)) if n == 1 << 20));
    // A timeout again, and a drain that waits under it and returns: no timer is left.
    r.writer.set_drain_timeout(Some(Duration::from_secs(3600)));
    r.writer.write(&vec![7u8; 1 << 20]).unwrap();
    let writer = r.writer.clone();
    let drained = r.spawn(async move { writer.drain().await });
    r.settle();
    assert!(drained.borrow().is_none(), "the drain waits");
    assert_eq!(r.timers(), 1, "the waiting drain armed its deadline");
    let peer = r.peer_reader.clone();
    let _read = r.spawn(async move { peer.readexactly(1 << 20).await.map(|b| b.len()) });
    r.until(|| drained.borrow().is_some());
    assert!(matches!(drained.borrow_mut().take(), Some(Ok(()))));
    assert_eq!(
        r.timers(),
        0,
        "the timer outlives the drain it was armed for"
    );
}

#[test]
fn a_read_woken_by_bytes_in_the_iteration_of_a_look_still_times_out() {
    // A slow sender: one byte a millisecond towards a readexactly(1000) under a 100 ms read
    // timeout. Each byte wakes the read in the iteration of the timer's look (I/O callbacks
    // run before the look, the woken read after it), so every look finds the waiter slot
    // empty. The looks turned off at such a look and the read, waiting again under the same
    // id, never turned them on: it waited for all 1000 bytes. It must fail within the
    // timeout and an eighth (no sooner than the timeout), keeping the bytes it got (D1).
    // Also when the sender stops after 30 ms: the read then waits in the slot again.
    for (idle, stop) in [
        (None, 300),
        (Some(Duration::from_secs(3600)), 300),
        (None, 30),
    ] {
        let r = rig();
        r.writer.set_idle_timeout(idle); // a timer that looks anyway must not hide it
        r.reader.set_read_timeout(Some(ms(100))).unwrap();
        let reader = r.reader.clone();
        let read = r.spawn(async move { reader.readexactly(1000).await });
        r.settle();
        let (mut elapsed, mut sent) = (0, 0);
        while read.borrow().is_none() && elapsed < 300 {
            if elapsed < stop {
                r.peer_writer.write(b"x").unwrap();
                sent += 1;
            }
            elapsed += 1;
            r.clock.advance(ms(1));
            r.lp.run_once(Some(Duration::ZERO)).unwrap();
        }
        assert!(
            matches!(read.borrow_mut().take(), Some(Err(Error::Timeout))),
            "{idle:?}/{stop}: no timeout after {elapsed} ms"
        );
        assert!(
            (100..=100 + 100 / 8 + 2).contains(&elapsed),
            "{idle:?}/{stop}: timed out after {elapsed} ms"
        );
        r.settle();
        assert_eq!(
            util::reader_buffered(&r.reader),
            sent,
            "{idle:?}/{stop}: bytes lost"
        );
    }
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

// A read timeout that comes due while the user holds the stream's protocol borrowed (taken
// with get_protocol(), held across loop turns) is enforced once the borrow ends. (Before: the
// timer's callback panicked on the borrow, 'already borrowed', reported as a callback failure,
// and no timer looked at the stream again: the read waited for ever; checked by reverting.)
#[test]
fn a_read_timeout_due_while_the_protocol_is_held_fails_the_read_once_it_is_free() {
    let r = rig();
    r.reader.set_read_timeout(Some(ms(100))).unwrap();
    let reader = r.reader.clone();
    let read = r.spawn(async move { reader.read(100).await });
    r.until(|| r.timers() == 1); // the read waits, its deadline armed
    let protocol = r
        .writer
        .transport()
        .get_protocol()
        .expect("the stream's protocol");
    let held = protocol.borrow_mut();
    r.pass(ms(150));
    assert!(
        read.borrow().is_none(),
        "failed while the protocol was held"
    );
    drop(held);
    // The wait is dated by the first look the borrow allowed: a whole timeout from there.
    r.pass_until(ms(200), || read.borrow().is_some());
    assert!(matches!(
        read.borrow_mut().take(),
        Some(Err(Error::Timeout))
    ));
}

// Checklist: D14 (a wait ends on time, never hangs on a user's borrow). The stream's timer
// came due while the user held the stream's protocol (taken with get_protocol()); its look
// waits for the borrow through retries spaced up to 64 ms apart. A read timeout set right
// after the release must still fire on time: the stream believed its timer armed (at the
// time of the entry that had fired), so it armed nothing, and the read failed only when the
// held look's next retry ran, up to 64 ms late (checked by reverting: 10 ms timeout, failed
// after 68 ms).
#[test]
fn a_read_timeout_set_right_after_the_protocol_was_held_fires_on_time() {
    let r = rig();
    r.writer.set_idle_timeout(Some(ms(1_000))); // the timer looks every 125 ms
    r.settle();
    let protocol = r
        .writer
        .transport()
        .get_protocol()
        .expect("the stream's protocol");
    let held = protocol.borrow_mut();
    r.pass(ms(260)); // the look due at 125 ms finds the protocol held, and retries
    drop(held);
    r.reader.set_read_timeout(Some(ms(10))).unwrap();
    let reader = r.reader.clone();
    let read = r.spawn(async move { reader.read(100).await });
    r.settle();
    let mut waited = 0;
    while read.borrow().is_none() && waited < 200 {
        r.pass(ms(1));
        waited += 1;
    }
    assert!(matches!(
        read.borrow_mut().take(),
        Some(Err(Error::Timeout))
    ));
    // On time: the timeout, then at most one look period (1 ms here) and one wheel tick.
    assert!(waited <= 12, "a 10 ms read timeout fired after {waited} ms");
}

// Checklist: D14. The idle timeout's getter with the stream's protocol held (taken with
// get_protocol()), on each path of the idle record, which the first set_idle_timeout makes
// (a stream with other timeouts only has none): a read timeout only (None), set (Some),
// spent by firing (None again); and on another stream, set then cleared (None).
#[test]
fn idle_timeout_reads_back_while_the_protocol_is_held_before_set_and_after_firing() {
    let r = rig();
    let protocol = r.writer.transport().get_protocol().expect("the protocol");
    let held = |writer: &StreamWriter, expect: Option<Duration>, what: &str| {
        let _held = protocol.borrow_mut();
        assert_eq!(writer.idle_timeout(), expect, "{what}");
    };
    r.reader.set_read_timeout(Some(ms(5000))).unwrap();
    r.writer.set_drain_timeout(Some(ms(6000)));
    held(&r.writer, None, "read and drain timeouts only");
    r.writer.set_idle_timeout(Some(ms(100)));
    held(&r.writer, Some(ms(100)), "set");
    r.pass_until(ms(100 + 100 / 8 + 2), || r.writer.is_closing());
    assert!(r.writer.is_closing(), "the idle timeout fired");
    held(&r.writer, None, "spent");
    assert_eq!(r.writer.idle_timeout(), None, "spent, free");
    // Set then cleared: the record exists and reads None.
    let other = rig();
    let protocol = other
        .writer
        .transport()
        .get_protocol()
        .expect("the protocol");
    other.writer.set_idle_timeout(Some(ms(100)));
    other.writer.set_idle_timeout(None);
    let _held = protocol.borrow_mut();
    assert_eq!(other.writer.idle_timeout(), None, "cleared");
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
