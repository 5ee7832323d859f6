//! A stream's protocol held by its user (taken with `get_protocol()`, its `RefCell` borrowed
//! across turns or `.await`s) while the crate waits for it: drains, deadlines and the loop's
//! close. The crate waits for such a borrow to end (`Hold`) instead of panicking; these tests
//! pin that no wait it makes outlives the loop or runs late. Every wait is bounded.

mod util;

use std::pin::pin;
use std::task::Poll;

use asyncio::{Error, EventLoop};

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
        let (a, _peer) = asyncio::socketpair().unwrap();
        let (_reader, writer) = lp
            .run_until_complete(asyncio::open_connection_sock(a))
            .unwrap()
            .unwrap();
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
    let (a, _peer) = asyncio::socketpair().unwrap();
    let (_reader, writer) = lp
        .run_until_complete(asyncio::open_connection_sock(a))
        .unwrap()
        .unwrap();
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
