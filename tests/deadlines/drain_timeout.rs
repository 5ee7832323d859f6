//! The drain timeout: it fails a drain a peer that does not read keeps waiting, counts from the
//! call that set it, and leaves no deadline, timer or wake-up behind once the drain returned, was
//! dropped or was unbounded.

use super::*;

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
