//! A stream's protocol held by its user (taken with `get_protocol()`, its `RefCell` borrowed
//! across turns or `.await`s) while the crate waits for it: drains, deadlines and the loop's
//! close. The crate waits for such a borrow to end (`Hold`) instead of panicking; these tests
//! pin that no wait it makes outlives the loop or runs late; and the protocol so taken and
//! called by hand. Every wait is bounded.

mod util;

#[cfg(feature = "tls")]
mod tls_common;

use std::cell::RefCell;
use std::future::Future;
use std::pin::pin;
use std::task::Poll;
use std::time::Duration;

use asyncio::{Error, EventLoop, ManualClock};

use util::{capture_log, stream_on};

/// A drain's outcome once the loop has closed: the loop-closed error every other path gives.
fn assert_loop_closed(got: Poll<Result<(), Error>>, what: &str) {
    match got {
        Poll::Ready(Err(Error::Io(e))) => assert!(
            e.to_string().starts_with("Event loop is closed"),
            "{what}: {e}"
        ),
        other => panic!("{what}: the drain did not end with the loop: {other:?}"),
    }
}

// Checklist: L16 (a closed loop runs nothing queued), D14 (no wait hangs). A drain polled
// while the user holds the stream's protocol waits for the borrow to end through a retry the
// loop runs; the loop closing discarded that retry, and the drain stayed pending for ever,
// held or released. It now ends with the loop-closed error, and its waker is woken.
#[test]
fn l16_d14_a_drain_waiting_for_a_held_protocol_ends_when_the_loop_closes() {
    for release_first in [false, true] {
        let lp = EventLoop::new().unwrap();
        let (_reader, writer, _peer) = stream_on(&lp);
        let proto = writer.transport().get_protocol().expect("the protocol");
        let held = proto.borrow_mut();
        let probe = util::Probe::new();
        let mut drain = pin!(writer.drain());
        assert!(probe.poll(drain.as_mut()).is_pending(), "held: it waits");
        lp.close().unwrap();
        assert!(
            probe.woken() > 0,
            "release_first {release_first}: never woken"
        );
        if release_first {
            drop(held);
            assert_loop_closed(probe.poll(drain.as_mut()), "released");
        } else {
            assert_loop_closed(probe.poll(drain.as_mut()), "still held");
            drop(held);
        }
    }
}

// Checklist: L16, D14. The same with a drain already waiting for the transport to drain
// (writing paused, the peer reads nothing) when the user takes the protocol and the loop
// closes: the transport could not tell the held protocol of the loss, and the drain, polled
// again once the borrow ended, waited for a resume that could never come.
#[test]
fn l16_d14_a_paused_drain_whose_protocol_is_held_as_the_loop_closes_ends() {
    let lp = EventLoop::new().unwrap();
    let (_reader, writer, _peer) = stream_on(&lp);
    writer.write(&vec![7u8; 1 << 20]).unwrap();
    for _ in 0..20 {
        lp.run_once(Some(std::time::Duration::ZERO)).unwrap();
    }
    assert_eq!(lp.handle().stats().writing_paused, 1, "paused");
    let probe = util::Probe::new();
    let mut drain = pin!(writer.drain());
    assert!(probe.poll(drain.as_mut()).is_pending(), "paused: it waits");
    let proto = writer.transport().get_protocol().expect("the protocol");
    let held = proto.borrow_mut();
    lp.close().unwrap();
    drop(held);
    assert_loop_closed(probe.poll(drain.as_mut()), "paused, then held at the close");
}

// Checklist: D14 (a held protocol is waited for, and a long hold is reported once). The
// stream's timer looked at it while its user held the stream's protocol mutably; the warning
// of that hold named "a transport (TLS or PROXY layer)", since the look could not read the
// transport's id from the held core (checked by reverting). It names the stream's transport
// now. The hold is timed on the loop's clock, a manual one here: the warning comes after a
// second of loop time, and the test takes no real second (it did, when `Hold` measured real
// time: checked by reverting, no warning within the turns below).
#[test]
#[allow(clippy::await_holding_refcell_ref)] // holding the stream's protocol: the misuse tested
fn d14_a_long_hold_seen_by_a_streams_timer_names_its_transport() {
    capture_log::start();
    let clock = ManualClock::new();
    let lp = EventLoop::with_clock(clock.clone()).unwrap();
    let (reader, writer, _peer) = stream_on(&lp);
    let id = writer.transport().id();
    reader
        .set_read_timeout(Some(Duration::from_millis(100)))
        .unwrap();
    let read = std::rc::Rc::new(RefCell::new(None));
    let r = read.clone();
    let task = lp.spawn(async move { *r.borrow_mut() = Some(reader.read(10).await) });
    task.unwrap().detach();
    for _ in 0..5 {
        lp.run_once(Some(Duration::ZERO)).unwrap(); // the read waits, its timer armed
    }
    let proto = writer.transport().get_protocol().expect("the protocol");
    let held = proto.borrow_mut();
    // Loop time moves a millisecond a turn.
    let warned = || capture_log::containing("its protocol has been borrowed");
    let mut turns = 0;
    while warned().is_empty() && turns < 1200 {
        clock.advance(Duration::from_millis(1));
        lp.run_once(Some(Duration::ZERO)).unwrap();
        turns += 1;
    }
    // Reported a second after the first look found it held (at most one look period, 12.5
    // ms, after the borrow), at a retry (at most 64 ms apart).
    assert!(
        (1000..=1000 + 13 + 64).contains(&turns),
        "warned after {turns} ms of loop time: {:?}",
        warned()
    );
    drop(held);
    let lines = warned();
    assert_eq!(lines.len(), 1, "{lines:?}");
    assert!(
        lines[0].starts_with(&format!("transport {id}: ")),
        "{lines:?}"
    );
    for _ in 0..200 {
        clock.advance(Duration::from_millis(1));
        lp.run_once(Some(Duration::ZERO)).unwrap();
    }
    assert!(
        matches!(read.borrow_mut().take(), Some(Err(Error::Timeout))),
        "the timeout is enforced once free"
    );
}

// Checklist: D12 (a drain's wait is its own, and costs the loop no more than one wait). A
// drain polled again and again while its user holds the stream's protocol (a select loop,
// say) queued one more retry chain on the loop per poll, each living until the borrow ended:
// 50 polls, 50 retries queued (checked by reverting). One drain now keeps one chain, which
// wakes the waker of its latest poll.
#[test]
#[allow(clippy::await_holding_refcell_ref)] // holding the stream's protocol: the misuse tested
fn d12_a_drain_polled_often_while_the_protocol_is_held_keeps_one_retry() {
    let lp = EventLoop::new().unwrap();
    let (_reader, writer, _peer) = stream_on(&lp);
    let proto = writer.transport().get_protocol().expect("the protocol");
    let held = proto.borrow_mut();
    let (first, last) = (util::Probe::new(), util::Probe::new());
    let mut drain = pin!(writer.drain());
    let before = lp.handle().stats().ready;
    assert!(first.poll(drain.as_mut()).is_pending(), "held: it waits");
    for _ in 0..49 {
        assert!(last.poll(drain.as_mut()).is_pending(), "held: it waits");
    }
    let queued = lp.handle().stats().ready - before;
    assert_eq!(queued, 1, "{queued} retries queued for one drain");
    drop(held);
    lp.run_once(Some(Duration::ZERO)).unwrap();
    assert!(
        last.woken() > 0,
        "the latest poll's waker is woken once free"
    );
    assert!(matches!(last.poll(drain.as_mut()), Poll::Ready(Ok(()))));
}

// Checklist: D12 (a wait given up keeps no task alive and wakes nobody). A drain dropped
// while it waited for a held protocol left its waker with its retry, which woke it once the
// borrow ended: a spurious wake-up of a task that had moved on, and the task kept alive by
// the retry until then (checked by reverting: woken once). The retry now finds the drain
// gone and wakes nobody; a drain kept is still woken (`d12_..._keeps_one_retry`).
#[test]
fn d12_a_drain_dropped_while_the_protocol_is_held_is_not_woken_later() {
    let lp = EventLoop::new().unwrap();
    let (_reader, writer, _peer) = stream_on(&lp);
    let proto = writer.transport().get_protocol().expect("the protocol");
    let held = proto.borrow_mut();
    let probe = util::Probe::new();
    {
        let mut drain = pin!(writer.drain());
        assert!(probe.poll(drain.as_mut()).is_pending(), "held: it waits");
    }
    assert_eq!(
        std::sync::Arc::strong_count(&probe),
        1,
        "the dropped drain's waker is let go with it"
    );
    drop(held);
    for _ in 0..5 {
        lp.run_once(Some(Duration::ZERO)).unwrap();
    }
    assert_eq!(probe.woken(), 0, "a dropped drain was woken");
}

// Checklist: D12, S52 (a drain given up leaves nothing behind). A drain waiting for the
// transport to drain (writing paused, its wait dated under a drain timeout) and dropped while
// its user held the stream's protocol could not take its entry back: its waker stayed among
// the stream's waiters (keeping its task alive) until the next wake-up of all, and the count
// of dated drains stayed one too high for good, so the drain deadline stayed armed after the
// last dated drain had ended (checked by reverting: the probe's waker still held). Both are
// now settled once the borrow ends.
#[test]
fn d12_a_paused_drain_dropped_while_the_protocol_is_held_leaves_no_waker_behind() {
    let lp = EventLoop::new().unwrap();
    let (_reader, writer, _peer) = stream_on(&lp);
    writer.set_drain_timeout(Some(Duration::from_secs(3600)));
    writer.write(&vec![7u8; 1 << 20]).unwrap();
    for _ in 0..20 {
        lp.run_once(Some(Duration::ZERO)).unwrap();
    }
    assert_eq!(lp.handle().stats().writing_paused, 1, "paused");
    let timers_before = lp.handle().stats().timers;
    let probe = util::Probe::new();
    let proto = writer.transport().get_protocol().expect("the protocol");
    let mut drain = Box::pin(writer.drain());
    assert!(probe.poll(drain.as_mut()).is_pending(), "paused: it waits");
    assert_eq!(
        lp.handle().stats().timers,
        timers_before + 1,
        "the drain deadline is armed"
    );
    let held = proto.borrow_mut();
    drop(drain);
    drop(held);
    for _ in 0..5 {
        lp.run_once(Some(Duration::ZERO)).unwrap();
    }
    assert_eq!(
        std::sync::Arc::strong_count(&probe),
        1,
        "the dropped drain's waker is still among the stream's waiters"
    );
    assert_eq!(
        lp.handle().stats().timers,
        timers_before,
        "no dated drain is left, yet the drain deadline stays armed"
    );
    assert_eq!(probe.woken(), 0);
}

/// `wait_closed` abandoned (a timeout, a select) while the user holds the stream's protocol
/// takes its waker back once the borrow ends; before, its entry stayed among the waiters,
/// keeping the task alive until the connection was lost.
#[test]
fn s46_a_wait_closed_dropped_while_the_protocol_is_held_leaves_no_waker_behind() {
    let lp = EventLoop::new().unwrap();
    let (_reader, writer, _peer) = stream_on(&lp);
    let probe = util::Probe::new();
    let proto = writer.transport().get_protocol().expect("the protocol");
    let mut closed = Box::pin(writer.wait_closed());
    assert!(probe.poll(closed.as_mut()).is_pending(), "open: it waits");
    assert_eq!(
        std::sync::Arc::strong_count(&probe),
        2,
        "its waker is filed"
    );
    let held = proto.borrow_mut();
    drop(closed);
    drop(held);
    for _ in 0..5 {
        lp.run_once(Some(Duration::ZERO)).unwrap();
    }
    assert_eq!(
        std::sync::Arc::strong_count(&probe),
        1,
        "the dropped wait_closed's waker is still among the stream's waiters"
    );
    assert_eq!(probe.woken(), 0);
}

/// S46, D14: `wait_closed()` polled while the user holds the stream's protocol waits for the
/// borrow's end instead of panicking ('already borrowed': its poll took the core's borrow
/// unchecked), then waits for the connection's end as usual; a loop closed under a held
/// protocol ends the wait with the loop-closed error, as it ends a drain.
#[test]
fn s46_d14_wait_closed_polled_while_the_protocol_is_held_waits_for_the_release() {
    let lp = EventLoop::new().unwrap();
    let (_reader, writer, _peer) = stream_on(&lp);
    let probe = util::Probe::new();
    let proto = writer.transport().get_protocol().expect("the protocol");
    let mut closed = Box::pin(writer.wait_closed());
    let held = proto.borrow_mut();
    assert!(probe.poll(closed.as_mut()).is_pending(), "held: it waits");
    assert!(probe.poll(closed.as_mut()).is_pending(), "polled again");
    lp.run_once(Some(Duration::ZERO)).unwrap();
    assert_eq!(
        probe.woken(),
        0,
        "nobody wakes it while the protocol is held"
    );
    drop(held);
    for _ in 0..5 {
        lp.run_once(Some(Duration::ZERO)).unwrap();
    }
    assert!(probe.woken() >= 1, "the release wakes the wait");
    assert!(
        probe.poll(closed.as_mut()).is_pending(),
        "still open: it waits"
    );
    writer.close();
    for _ in 0..5 {
        lp.run_once(Some(Duration::ZERO)).unwrap();
    }
    match probe.poll(closed.as_mut()) {
        Poll::Ready(r) => r.expect("a clean close"),
        Poll::Pending => panic!("wait_closed still pending after the close"),
    }

    // The loop closes while the protocol is held: the wait ends, it does not hang.
    let lp = EventLoop::new().unwrap();
    let (_reader, writer, _peer) = stream_on(&lp);
    let proto = writer.transport().get_protocol().expect("the protocol");
    let mut closed = Box::pin(writer.wait_closed());
    let held = proto.borrow_mut();
    assert!(probe.poll(closed.as_mut()).is_pending());
    lp.close().unwrap();
    match probe.poll(closed.as_mut()) {
        Poll::Ready(Err(Error::Io(e))) => assert!(e.to_string().contains("closed"), "{e}"),
        other => panic!("after the loop closed: {other:?}"),
    }
    drop(held);
}

/// A plain transport (a `Recorder` over one end of a socket pair) on `lp`, its protocol, and
/// the other end.
fn recorder_on(
    lp: &EventLoop,
) -> (
    asyncio::Transport,
    std::rc::Rc<RefCell<util::Recorder>>,
    std::os::unix::net::UnixStream,
) {
    let (a, peer) = asyncio::socketpair().unwrap();
    let (t, proto) = lp
        .run_until_complete(lp.handle().connect_socket(util::Recorder::default, a))
        .unwrap()
        .unwrap();
    (t, proto, peer)
}

// Checklist: L52 (set_protocol), D14. `set_protocol` cannot swap a protocol that is borrowed,
// and a synchronous call cannot wait for the borrow's end: its refusal says which borrow and
// what to do. One text served both cases, so a user holding the protocol was told it might
// be inside one of its callbacks (checked by reverting: the texts below are missing).
#[test]
fn l52_set_protocol_refused_while_the_protocol_is_borrowed_says_what_to_do() {
    let lp = EventLoop::new().unwrap();
    let (t, proto, mut peer) = recorder_on(&lp);
    let next = std::rc::Rc::new(RefCell::new(util::Recorder::default()));
    let held = proto.borrow();
    match t.set_protocol(next.clone()) {
        Err(Error::InvalidState(m)) => assert!(
            m.contains("borrowed outside its transport") && m.contains("end that borrow first"),
            "{m}"
        ),
        other => panic!("held: {other:?}"),
    }
    drop(held);
    // From inside one of its own callbacks.
    let refused = std::rc::Rc::new(RefCell::new(None));
    let (r, n) = (refused.clone(), next.clone());
    proto.borrow_mut().on_data = Some(Box::new(move |t: &asyncio::Transport, _: &[u8]| {
        *r.borrow_mut() = Some(t.set_protocol(n.clone()));
    }));
    std::io::Write::write_all(&mut peer, b"x").unwrap();
    util::run_until(&lp, 1000, || refused.borrow().is_some());
    match refused.borrow_mut().take() {
        Some(Err(Error::InvalidState(m))) => assert!(
            m.contains("from inside a callback") && m.contains("once the callback has returned"),
            "{m}"
        ),
        other => panic!("in a callback: {other:?}"),
    }
    t.set_protocol(next.clone()).expect("free: swapped");
    t.close();
    lp.run_once(Some(Duration::ZERO)).unwrap();
}

// Checklist: T32, T33, D14. The loop-level `start_tls` called while the user holds the
// transport's protocol (`get_protocol()`, borrowed across an `.await`) refused at once with
// `InvalidState`, as if it were called from one of the protocol's callbacks, where
// `StreamWriter::start_tls` waits (checked by reverting: the first poll ended with the
// refusal). It now waits for the borrow's end, touching nothing meanwhile, and upgrades; a
// loop closed while it waits ends it with the loop-closed error.
#[cfg(feature = "tls")]
#[test]
fn t32_loop_start_tls_while_the_protocol_is_held_waits_for_the_release() {
    use std::future::IntoFuture;
    use tls_common::Certs;

    let lp = EventLoop::new().unwrap();
    let (a, b) = asyncio::socketpair().unwrap();
    let server = lp
        .spawn(async move {
            let (reader, mut writer) = asyncio::open_connection_sock(b).await?;
            writer.start_tls(Certs::get().server_config(&[])).await?;
            let line = reader.readline().await?;
            writer.write(&line)?;
            writer.drain().await
        })
        .unwrap();
    let (t, proto) = lp
        .run_until_complete(lp.handle().connect_socket(util::Recorder::default, a))
        .unwrap()
        .unwrap();
    let app: asyncio::ProtocolRef = proto.clone();
    let probe = util::Probe::new();
    let mut upgrade = Box::pin(
        lp.handle()
            .start_tls(&t, app.clone(), Certs::get().client_config(&[]), false)
            .server_hostname("localhost")
            .into_future(),
    );
    let held = proto.borrow_mut();
    assert!(probe.poll(upgrade.as_mut()).is_pending(), "held: it waits");
    for _ in 0..20 {
        lp.run_once(Some(Duration::ZERO)).unwrap();
    }
    assert!(probe.poll(upgrade.as_mut()).is_pending(), "still held");
    let same = t
        .get_protocol()
        .is_some_and(|p| std::rc::Rc::ptr_eq(&p, &app));
    assert!(same, "the protocol is not swapped while held");
    assert!(t.is_reading(), "the transport is left as it was");
    drop(held);
    let tls = lp
        .run_until_complete(asyncio::timeout(Duration::from_secs(30), upgrade))
        .unwrap()
        .expect("bounded")
        .expect("upgraded once released");
    assert_eq!(tls.tls_version().as_deref(), Some("TLSv1.3"));
    tls.write(b"over tls\n").unwrap();
    util::run_until(&lp, 10_000, || proto.borrow().data == b"over tls\n");
    lp.run_until_complete(server).unwrap().unwrap().unwrap();
    tls.close();

    // The loop closes while it waits: the upgrade ends, it does not hang.
    let lp = EventLoop::new().unwrap();
    let (t, proto, _peer) = recorder_on(&lp);
    let app: asyncio::ProtocolRef = proto.clone();
    let mut upgrade = Box::pin(
        lp.handle()
            .start_tls(&t, app, Certs::get().client_config(&[]), false)
            .into_future(),
    );
    let held = proto.borrow_mut();
    assert!(probe.poll(upgrade.as_mut()).is_pending());
    lp.close().unwrap();
    match probe.poll(upgrade.as_mut()) {
        Poll::Ready(Err(Error::Io(e))) => assert!(e.to_string().contains("closed"), "{e}"),
        other => panic!("after the loop closed: {other:?}"),
    }
    drop(held);
}

// Checklist: D14 (a held protocol is waited for, and no wait runs late). A read timeout that
// came due while the user held the stream's protocol was enforced by the timer's look once
// the borrow ended, but that look retried on the loop's own schedule, spaced out to 64 ms
// while the hold lasted: released with nothing new set, the read failed at the next retry,
// up to 64 ms of loop time late (checked by reverting: after the release and ten turns with
// the clock standing still, the read still waited). The loop now looks at the held core
// before it sleeps, and the read fails in the turns right after the release.
#[test]
fn d14_a_read_timeout_due_while_the_protocol_is_held_fires_right_after_the_release() {
    let clock = ManualClock::new();
    let lp = EventLoop::with_clock(clock.clone()).unwrap();
    let (reader, writer, _peer) = stream_on(&lp);
    reader
        .set_read_timeout(Some(Duration::from_millis(100)))
        .unwrap();
    let read = std::rc::Rc::new(RefCell::new(None));
    let r = read.clone();
    let task = lp.spawn(async move { *r.borrow_mut() = Some(reader.read(10).await) });
    task.unwrap().detach();
    // The read waits, and the timer's first look (an eighth of the timeout on) dates it.
    for _ in 0..20 {
        clock.advance(Duration::from_millis(1));
        lp.run_once(Some(Duration::ZERO)).unwrap();
    }
    let proto = writer.transport().get_protocol().expect("the protocol");
    let held = proto.borrow_mut();
    // 300 ms of loop time, a millisecond a turn: the deadline passes, and the look's
    // retries are spaced out to 64 ms by the end.
    for _ in 0..300 {
        clock.advance(Duration::from_millis(1));
        lp.run_once(Some(Duration::ZERO)).unwrap();
    }
    assert!(
        read.borrow().is_none(),
        "held: the read cannot be failed yet"
    );
    drop(held);
    for _ in 0..10 {
        lp.run_once(Some(Duration::ZERO)).unwrap(); // the clock stands still
    }
    assert!(
        matches!(read.borrow_mut().take(), Some(Err(Error::Timeout))),
        "the timeout fires right after the release"
    );
}

// Checklist: D14 (no panic on any state; no wait hangs). A read future polled while the user
// holds the stream's protocol borrowed the core unchecked and panicked "already borrowed".
// It now waits for the release and then reads what arrived meanwhile.
#[test]
#[allow(clippy::await_holding_refcell_ref)] // holding the stream's protocol: the misuse tested
fn d14_reads_polled_while_the_protocol_is_held_wait_for_the_release() {
    use std::io::Write;
    let lp = EventLoop::new().unwrap();
    let (reader, writer, mut peer) = stream_on(&lp);
    let proto = writer.transport().get_protocol().expect("the protocol");
    peer.write_all(b"one\ntwo\nthree").unwrap();
    lp.run_once(Some(Duration::ZERO)).unwrap(); // the bytes reach the buffer

    // Outside a running loop: pending while held, woken to look again, no panic.
    let probe = util::Probe::new();
    let held = proto.borrow_mut();
    let mut line = Box::pin(reader.readline());
    assert!(probe.poll(line.as_mut()).is_pending(), "held: it waits");
    assert!(
        probe.woken() >= 1,
        "no loop to wait on: woken to look again"
    );
    drop(held);
    match probe.poll(line.as_mut()) {
        Poll::Ready(r) => assert_eq!(r.unwrap(), b"one\n"),
        Poll::Pending => panic!("released: the line is buffered"),
    }

    // Inside the loop: each read kind waits for the release, then reads.
    let got = lp.run_until_complete(async {
        let bounded = asyncio::timeout(Duration::from_secs(10), async {
            let held = proto.borrow_mut();
            let mut line = pin!(reader.readline());
            let polled = std::future::poll_fn(|cx| Poll::Ready(line.as_mut().poll(cx))).await;
            assert!(polled.is_pending(), "held: readline waits");
            drop(held);
            let first = line.await?;
            let held = proto.borrow_mut();
            let mut buf = [0u8; 2];
            let mut into = Box::pin(reader.read_into(&mut buf));
            let polled = std::future::poll_fn(|cx| Poll::Ready(into.as_mut().poll(cx))).await;
            assert!(polled.is_pending(), "held: read_into waits");
            drop(held);
            let n = into.await?;
            let next = buf[..n].to_vec();
            let held = proto.borrow_mut();
            let mut rest = pin!(reader.read(-1));
            let polled = std::future::poll_fn(|cx| Poll::Ready(rest.as_mut().poll(cx))).await;
            assert!(polled.is_pending(), "held: read waits");
            drop(held);
            writer.transport().abort(); // EOF ends read(-1)
            let rest = rest.await?;
            Ok::<_, Error>((first, next, rest))
        });
        bounded.await
    });
    let (first, next, rest) = got.unwrap().expect("within the bound").unwrap();
    assert_eq!(first, b"two\n");
    assert_eq!(next, b"th");
    assert_eq!(rest, b"ree");
    drop(peer);
    lp.close().unwrap();
}

// Checklist: D14 (a held protocol is waited for, and no wait runs late). Bytes that reached
// the socket while the user held the stream's protocol were delivered by the transport's own
// retry, which the loop did not watch: spaced out to 64 ms by a long hold, it ran up to 64 ms
// of loop time after the release (checked by reverting: ten turns after the release, with the
// clock standing still, the read still waited). The loop now runs it in the turns right
// after the release, as it does the stream's own held retries.
#[test]
fn d14_bytes_that_arrived_while_held_are_delivered_right_after_the_release() {
    use std::io::Write;
    let clock = ManualClock::new();
    let lp = EventLoop::with_clock(clock.clone()).unwrap();
    let (reader, writer, mut peer) = stream_on(&lp);
    let read = std::rc::Rc::new(RefCell::new(None));
    let r = read.clone();
    let task = lp.spawn(async move { *r.borrow_mut() = Some(reader.read(10).await) });
    task.unwrap().detach();
    for _ in 0..5 {
        lp.run_once(Some(Duration::ZERO)).unwrap(); // the read waits
    }
    let proto = writer.transport().get_protocol().expect("the protocol");
    let held = proto.borrow_mut();
    peer.write_all(b"held").unwrap();
    // 300 ms of loop time, a millisecond a turn: the transport's retries space out to 64 ms.
    for _ in 0..300 {
        clock.advance(Duration::from_millis(1));
        lp.run_once(Some(Duration::ZERO)).unwrap();
    }
    assert!(read.borrow().is_none(), "held: nothing delivered");
    drop(held);
    for _ in 0..10 {
        lp.run_once(Some(Duration::ZERO)).unwrap(); // the clock stands still
    }
    let got = read.borrow_mut().take();
    assert_eq!(
        got.map(|r| r.unwrap()),
        Some(b"held".to_vec()),
        "delivered right after the release"
    );
    writer.transport().abort();
    lp.close().unwrap();
}

// Checklist: S17 (nothing is appended after EOF), L80 (the error funnel). Bytes after the
// user's own `feed_eof` fail the connection, and the report names the call that brought
// them: it said `buffer_updated()` whatever that was (checked by reverting), for bytes
// given to the protocol's `data_received` (here by hand, through `get_protocol()`, as a
// transport that reads for plain protocols would) or to the reader's own `feed_data`.
#[test]
fn s17_l80_bytes_after_a_hand_fed_eof_are_reported_as_the_call_that_brought_them() {
    for (by_protocol, call) in [
        (true, "protocol.data_received()"),
        (false, "StreamReader.feed_data()"),
    ] {
        let lp = EventLoop::new().unwrap();
        let seen = util::capture_exceptions(&lp.handle());
        let (reader, writer, _peer) = stream_on(&lp);
        reader.feed_eof();
        if by_protocol {
            let proto = writer.transport().get_protocol().expect("the protocol");
            proto.borrow_mut().data_received(b"late");
        } else {
            reader.feed_data(b"late");
        }
        util::run_until(&lp, 20, || !seen.borrow().is_empty());
        assert_eq!(
            *seen.borrow(),
            [format!(
                "Fatal error: {call} call failed. | feed_data after feed_eof"
            )]
        );
        assert!(writer.is_closing(), "{call}: the connection failed");
        lp.close().unwrap();
    }
}
