//! When a deadline counts from: a drain from when it began, an idle timeout from the call, and
//! activity from the look that saw it, never from the loop iteration's clock; a read woken by bytes
//! in the iteration of a look still times out.

use super::*;

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
