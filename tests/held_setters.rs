//! A stream's setters and feeds while its user holds the stream's protocol (`get_protocol()`,
//! its `RefCell` borrowed mutably around the call or across an `.await`): none panics with
//! "already borrowed"; each takes effect once the borrow ends, in call order, and the getters
//! answer what was set meanwhile. Time is a `ManualClock`'s: no test sleeps.

mod util;

use util::stream_on;

use std::cell::RefCell;
use std::io::Write;
use std::rc::Rc;
use std::time::Duration;

use asyncio::{Error, EventLoop, ManualClock};

/// Runs `turns` iterations, the clock moving `step` before each.
fn turns(lp: &EventLoop, clock: &ManualClock, turns: usize, step: Duration) {
    for _ in 0..turns {
        clock.advance(step);
        lp.run_once(Some(Duration::ZERO)).unwrap();
    }
}

/// Fills the connection until the writer is paused (the peer reads nothing).
fn pause(lp: &EventLoop, writer: &asyncio::StreamWriter) {
    writer.write(&vec![7u8; 1 << 20]).unwrap();
    for _ in 0..20 {
        lp.run_once(Some(Duration::ZERO)).unwrap();
    }
    assert_eq!(lp.handle().stats().writing_paused, 1, "paused");
}

/// What a drain returned, once it has.
type Outcome = Rc<RefCell<Option<Result<(), Error>>>>;

/// A stream on `lp` whose writer is paused (its peer reads nothing) and a task waiting in
/// its drain, whose outcome lands in the cell returned; the reader and the peer come last,
/// to be kept open.
fn waiting_drain(
    lp: &EventLoop,
    clock: &ManualClock,
) -> (Rc<asyncio::StreamWriter>, Outcome, impl Sized) {
    let (reader, writer, peer) = stream_on(lp);
    pause(lp, &writer);
    let writer = Rc::new(writer);
    let got = Outcome::default();
    let (w, g) = (writer.clone(), got.clone());
    lp.spawn(async move { *g.borrow_mut() = Some(w.drain().await) })
        .unwrap()
        .detach();
    turns(lp, clock, 3, Duration::ZERO);
    (writer, got, (reader, peer))
}

// Checklist: D14 (no panic on any argument or call order). `set_drain_timeout` borrowed the
// core, which is the protocol the user holds: it panicked "already borrowed" (checked by
// reverting). It now answers the new value at once and bounds the waiting drain once the
// borrow ends.
#[test]
fn d14_set_drain_timeout_while_held_applies_after_the_release() {
    let clock = ManualClock::new();
    let lp = EventLoop::with_clock(clock.clone()).unwrap();
    let (writer, got, _keep) = waiting_drain(&lp, &clock);
    let proto = writer.transport().get_protocol().expect("the protocol");
    let held = proto.borrow_mut();
    writer.set_drain_timeout(Some(Duration::from_millis(50)));
    assert_eq!(writer.drain_timeout(), Some(Duration::from_millis(50)));
    turns(&lp, &clock, 100, Duration::from_millis(1));
    assert!(got.borrow().is_none(), "held: the drain cannot fail yet");
    drop(held);
    turns(&lp, &clock, 100, Duration::from_millis(1));
    assert!(
        matches!(got.borrow_mut().take(), Some(Err(Error::Timeout))),
        "the timeout set while held bounds the drain once free"
    );
    writer.transport().abort();
    lp.close().unwrap();
}

// Checklist: D14. Calls made while held apply in call order with the calls after the
// release: a drain timeout set while held and cleared right after the release (before the
// loop ran its retry) stays cleared; the drain waits on.
#[test]
fn d14_a_setter_queued_while_held_does_not_overtake_a_later_call() {
    let clock = ManualClock::new();
    let lp = EventLoop::with_clock(clock.clone()).unwrap();
    let (writer, got, _keep) = waiting_drain(&lp, &clock);
    let proto = writer.transport().get_protocol().expect("the protocol");
    let held = proto.borrow_mut();
    writer.set_drain_timeout(Some(Duration::from_millis(5)));
    drop(held);
    writer.set_drain_timeout(None);
    assert_eq!(writer.drain_timeout(), None);
    turns(&lp, &clock, 200, Duration::from_millis(1));
    assert!(
        got.borrow().is_none(),
        "cleared after the release: no timeout"
    );
    assert_eq!(writer.drain_timeout(), None);
    writer.transport().abort();
    lp.close().unwrap();
}

// Checklist: D14. `set_idle_timeout` while held panicked "already borrowed" (checked by
// reverting). It now reads back at once and closes the idle connection once the borrow ends.
#[test]
fn d14_set_idle_timeout_while_held_applies_after_the_release() {
    let clock = ManualClock::new();
    let lp = EventLoop::with_clock(clock.clone()).unwrap();
    let (_reader, writer, _peer) = stream_on(&lp);
    let proto = writer.transport().get_protocol().expect("the protocol");
    let held = proto.borrow_mut();
    writer.set_idle_timeout(Some(Duration::from_millis(40)));
    assert_eq!(writer.idle_timeout(), Some(Duration::from_millis(40)));
    writer.set_idle_timeout(Some(Duration::from_millis(30)));
    assert_eq!(
        writer.idle_timeout(),
        Some(Duration::from_millis(30)),
        "the latest"
    );
    turns(&lp, &clock, 10, Duration::from_millis(1));
    drop(held);
    turns(&lp, &clock, 3, Duration::ZERO);
    assert!(!writer.is_closing(), "counted from the release");
    assert_eq!(writer.idle_timeout(), Some(Duration::from_millis(30)));
    turns(&lp, &clock, 100, Duration::from_millis(1));
    assert!(writer.is_closing(), "idle for 30 ms: closed");
    assert_eq!(writer.idle_timeout(), None, "spent");
    lp.close().unwrap();
}

// Checklist: D14. Writes made while an idle timeout set under a hold waits are activity once
// it applies: the writer counts them in the record the deadlines adopt.
#[test]
fn d14_writes_keep_an_idle_timeout_set_while_held_from_firing() {
    let clock = ManualClock::new();
    let lp = EventLoop::with_clock(clock.clone()).unwrap();
    let (_reader, writer, mut peer) = stream_on(&lp);
    peer.set_nonblocking(true).unwrap();
    let proto = writer.transport().get_protocol().expect("the protocol");
    let held = proto.borrow_mut();
    writer.set_idle_timeout(Some(Duration::from_millis(20)));
    drop(held);
    let mut sink = [0u8; 64];
    for _ in 0..10 {
        writer.write(b"tick").unwrap();
        turns(&lp, &clock, 10, Duration::from_millis(1));
        let _ = std::io::Read::read(&mut peer, &mut sink);
    }
    assert!(!writer.is_closing(), "a write every 10 ms keeps it open");
    turns(&lp, &clock, 40, Duration::from_millis(1));
    assert!(writer.is_closing(), "then idle: closed");
    lp.close().unwrap();
}

// Checklist: D14, S1. `set_read_timeout` and `read_timeout` while held panicked "already
// borrowed" (checked by reverting). The timeout now reads back at once and bounds the
// waiting read once the borrow ends.
#[test]
fn d14_set_read_timeout_while_held_applies_after_the_release() {
    let clock = ManualClock::new();
    let lp = EventLoop::with_clock(clock.clone()).unwrap();
    let (reader, writer, _peer) = stream_on(&lp);
    let reader = Rc::new(reader);
    let got = Rc::new(RefCell::new(None));
    let (r, g) = (reader.clone(), got.clone());
    lp.spawn(async move { *g.borrow_mut() = Some(r.read(10).await) })
        .unwrap()
        .detach();
    turns(&lp, &clock, 3, Duration::ZERO);
    let proto = writer.transport().get_protocol().expect("the protocol");
    let set = lp.run_until_complete({
        let (reader, proto) = (reader.clone(), proto.clone());
        async move {
            let held = proto.borrow_mut();
            assert_eq!(
                reader.read_timeout(),
                None,
                "held, never set: unknown, none"
            );
            let set = reader.set_read_timeout(Some(Duration::from_millis(20)));
            assert_eq!(reader.read_timeout(), Some(Duration::from_millis(20)));
            drop(held);
            set
        }
    });
    set.unwrap().unwrap();
    turns(&lp, &clock, 60, Duration::from_millis(1));
    assert!(
        matches!(got.borrow_mut().take(), Some(Err(Error::Timeout))),
        "the timeout set while held bounds the read once free"
    );
    assert_eq!(reader.read_timeout(), Some(Duration::from_millis(20)));
    writer.transport().abort();
    lp.close().unwrap();
}

// Checklist: D14, S13, S17, S18. The reader's feeds, `exception` and `at_eof`, and `limit`
// panicked "already borrowed" while the user held the protocol (checked by reverting). Fed
// while held, the bytes are kept and come after the ones buffered before and before the
// ones the transport delivers after the release; the EOF and the exception come in order.
#[test]
fn d14_feeds_while_held_lose_nothing_and_keep_their_order() {
    let clock = ManualClock::new();
    let lp = EventLoop::with_clock(clock.clone()).unwrap();
    let (reader, writer, mut peer) = stream_on(&lp);
    peer.write_all(b"a").unwrap();
    turns(&lp, &clock, 3, Duration::ZERO);
    let proto = writer.transport().get_protocol().expect("the protocol");
    let held = proto.borrow_mut();
    assert_eq!(reader.limit(), 0, "held: the limit cannot be read");
    assert!(!reader.at_eof(), "held: not known to be at EOF");
    assert!(reader.exception().is_none(), "held: none known");
    reader.feed_data(b"b");
    reader.feed_data(b"c");
    peer.write_all(b"d").unwrap(); // read by the transport once the borrow ends
    turns(&lp, &clock, 300, Duration::from_millis(1)); // the retries space out to 64 ms
    drop(held);
    turns(&lp, &clock, 5, Duration::ZERO);
    peer.write_all(b"e").unwrap();
    turns(&lp, &clock, 5, Duration::ZERO);
    assert_eq!(reader.limit(), asyncio::constants::DEFAULT_LIMIT);
    let got = lp.run_until_complete({
        let reader = &reader;
        async move { reader.read(100).await }
    });
    assert_eq!(got.unwrap().unwrap(), b"abcde");
    writer.transport().abort();
    lp.close().unwrap();
}

// Checklist: D14, S17, S18. `feed_eof` and `set_exception` while held apply once free, in
// call order: the exception set while held reads back at once; after the release the read
// fails with it, and then the reader is at EOF.
#[test]
fn d14_feed_eof_and_set_exception_while_held_apply_in_order() {
    let lp = EventLoop::new().unwrap();
    let (reader, writer, _peer) = stream_on(&lp);
    let proto = writer.transport().get_protocol().expect("the protocol");
    let held = proto.borrow_mut();
    reader.feed_data(b"xy");
    reader.set_exception(std::io::Error::other("gone"));
    reader.feed_eof();
    let e = reader.exception().expect("set while held: it reads back");
    assert_eq!(e.to_string(), "gone");
    drop(held);
    // No loop turn: the reader's next call applies what was queued first.
    assert!(!reader.at_eof(), "two bytes still buffered");
    assert_eq!(reader.exception().expect("stored").to_string(), "gone");
    let got = lp.run_until_complete({
        let reader = &reader;
        async move { reader.read(100).await }
    });
    assert_eq!(got.unwrap().unwrap_err().to_string(), "gone");
    writer.transport().abort();
    lp.close().unwrap();
}

// Checklist: D14, S52 (a drain given up leaves nothing behind). The stream's timer woke an
// abandoned futures-io flush past its drain deadline; the callback that then forgets that
// wake-up (nobody claimed it) found the core held by the user and skipped it. The next
// flush was taken for the abandoned one: it kept the old start and failed at once, and the
// drain timer stayed armed (checked by reverting: failed at once). The forget now waits for
// the borrow to end.
#[cfg(feature = "futures-io")]
#[test]
fn d14_a_wake_up_forgotten_while_held_does_not_date_the_next_flush() {
    use futures_util::io::AsyncWrite;
    use std::pin::Pin;
    use std::task::Poll;
    let clock = ManualClock::new();
    let lp = EventLoop::with_clock(clock.clone()).unwrap();
    let (_reader, writer, _peer) = stream_on(&lp);
    writer.set_drain_timeout(Some(Duration::from_millis(200)));
    writer
        .transport()
        .set_write_buffer_limits(Some(64 * 1024), None)
        .unwrap();
    writer.write(&vec![7u8; 16 << 20]).unwrap();
    turns(&lp, &clock, 20, Duration::ZERO);
    let flush = |probe: &std::sync::Arc<util::Probe>| {
        let mut f = std::pin::pin!(std::future::poll_fn(|cx| {
            Poll::Ready(Pin::new(&mut &writer).poll_flush(cx))
        }));
        match probe.poll(f.as_mut()) {
            Poll::Ready(r) => r,
            Poll::Pending => unreachable!("poll_fn answers at once"),
        }
    };
    let first = util::Probe::new();
    assert!(flush(&first).is_pending(), "the first flush waits");
    // Abandoned. Its deadline passes: the timer wakes it (one turn), and the forget that
    // follows (the next turn) finds the protocol held.
    clock.advance(Duration::from_millis(250));
    lp.run_once(Some(Duration::ZERO)).unwrap();
    assert!(first.woken() > 0, "the timer woke the abandoned flush");
    let proto = writer.transport().get_protocol().expect("the protocol");
    let held = proto.borrow_mut();
    turns(&lp, &clock, 5, Duration::ZERO);
    drop(held);
    turns(&lp, &clock, 5, Duration::ZERO);
    let next = util::Probe::new();
    let got = flush(&next);
    assert!(
        got.is_pending(),
        "failed at once, dated by the abandoned flush: {got:?}"
    );
    clock.advance(Duration::from_millis(199));
    turns(&lp, &clock, 20, Duration::ZERO);
    let got = flush(&next);
    assert!(got.is_pending(), "failed early: {got:?}");
    writer.transport().abort();
    lp.close().unwrap();
}

// Checklist: D14. An idle timeout cleared while held, on a writer that never had one, made
// the writer a fresh activity record that the deadlines never adopted (nothing to apply):
// a timeout set later counted in the deadlines' own record while writes touched the
// writer's, and the connection was closed for idleness under a steady stream of writes
// (checked by reverting: closed). The deadlines now always count in the writer's record.
#[test]
fn d14_an_idle_timeout_cleared_while_held_leaves_later_writes_counted() {
    let clock = ManualClock::new();
    let lp = EventLoop::with_clock(clock.clone()).unwrap();
    let (_reader, writer, mut peer) = stream_on(&lp);
    peer.set_nonblocking(true).unwrap();
    let proto = writer.transport().get_protocol().expect("the protocol");
    let held = proto.borrow_mut();
    writer.set_idle_timeout(None);
    drop(held);
    turns(&lp, &clock, 3, Duration::ZERO);
    writer.set_idle_timeout(Some(Duration::from_millis(20)));
    let mut sink = [0u8; 64];
    for _ in 0..10 {
        writer.write(b"tick").unwrap();
        turns(&lp, &clock, 10, Duration::from_millis(1));
        let _ = std::io::Read::read(&mut peer, &mut sink);
    }
    assert!(!writer.is_closing(), "a write every 10 ms keeps it open");
    turns(&lp, &clock, 40, Duration::from_millis(1));
    assert!(writer.is_closing(), "then idle: closed");
    lp.close().unwrap();
}

/// Holds the protocol, feeds "b" and "c" with the feeds' retry spaced out by a long hold,
/// lets `peer_writes` run (before or after the release, as the test says), and reads what
/// the reader got.
fn fed_while_held_then_peer(release_first: bool, peer_turns: usize) -> Vec<u8> {
    let clock = ManualClock::new();
    let lp = EventLoop::with_clock(clock.clone()).unwrap();
    let (reader, writer, mut peer) = stream_on(&lp);
    peer.write_all(b"a").unwrap();
    turns(&lp, &clock, 3, Duration::ZERO);
    let proto = writer.transport().get_protocol().expect("the protocol");
    let held = proto.borrow_mut();
    reader.feed_data(b"b");
    reader.feed_data(b"c");
    turns(&lp, &clock, 300, Duration::from_millis(1)); // the feeds' retry spaces out
    if release_first {
        drop(held);
        peer.write_all(b"d").unwrap();
    } else {
        peer.write_all(b"d").unwrap();
        turns(&lp, &clock, peer_turns, Duration::ZERO); // the read's retry is fresh
        drop(held);
    }
    turns(&lp, &clock, 5, Duration::ZERO);
    let got = lp.run_until_complete({
        let reader = &reader;
        async move { reader.read(100).await }
    });
    writer.transport().abort();
    lp.close().unwrap();
    got.unwrap().unwrap()
}

// Checklist: D14, S13. Bytes fed while held come before the bytes the transport delivers
// after the release, even when the peer's bytes arrived while held, after the feeds: the
// transport's read waited with a fresh retry, which ran before the feeds' spaced one
// (checked by reverting: "adbc"). A transport's retry now applies the calls queued while
// held before it calls the protocol.
#[test]
fn d14_peer_bytes_that_waited_for_the_hold_come_after_the_feeds() {
    assert_eq!(fed_while_held_then_peer(false, 1), b"abcd");
    assert_eq!(fed_while_held_then_peer(false, 20), b"abcd");
}

// Checklist: D14, S13. Bytes fed while held come before the peer's bytes that arrive right
// after the release: the loop found the feeds' spaced retry free before its poll but ran it
// after the I/O that poll brought (checked by reverting: "adbc"). A watched retry found free
// now goes to the ready queue, ahead of the poll's I/O.
#[test]
fn d14_peer_bytes_right_after_the_release_come_after_the_feeds() {
    assert_eq!(fed_while_held_then_peer(true, 0), b"abcd");
}
