//! Failing callbacks and the exception handler (L18, L19, L23): the loop goes on, reports
//! carry the handle, a panicking handler falls back to the default.

use super::*;

// CPython: BaseEventLoopTests.test_set_exc_handler_custom
#[test]
fn l19_test_set_exc_handler_custom() {
    let lp = EventLoop::new().unwrap();
    lp.set_debug(true);
    assert!(!lp.has_exception_handler());
    let seen = capture_exceptions(&lp);
    assert!(lp.has_exception_handler());
    lp.call_soon::<_, ()>(|| panic!("zero_error")).unwrap();
    lp.run_once(Some(Duration::ZERO)).unwrap();
    {
        let seen = seen.borrow();
        assert_eq!(seen.len(), 1, "{seen:?}");
        assert!(seen[0].starts_with("Exception in callback"), "{seen:?}");
        assert!(seen[0].ends_with("panicked: zero_error"), "{seen:?}");
    }
    // Back to the default handler: the custom one is not called any more.
    lp.set_exception_handler(None::<fn(&asyncio::LoopHandle, &asyncio::ExceptionContext)>);
    assert!(!lp.has_exception_handler());
    lp.call_soon::<_, ()>(|| panic!("zero_error")).unwrap();
    lp.run_once(Some(Duration::ZERO)).unwrap();
    assert_eq!(seen.borrow().len(), 1);
}

// CPython: HandleTests.test_callback_with_exception
#[test]
fn l18_a_panicking_or_failing_callback_does_not_stop_the_loop() {
    let lp = EventLoop::new().unwrap();
    let seen = capture_exceptions(&lp);
    lp.call_soon::<_, ()>(|| panic!("boom")).unwrap();
    lp.call_soon(|| -> Result<(), std::io::Error> { Err(std::io::Error::other("bad")) })
        .unwrap();
    let ok = Rc::new(Cell::new(false));
    let (o, h) = (ok.clone(), lp.handle());
    lp.call_soon(move || {
        o.set(true);
        h.stop();
    })
    .unwrap();
    lp.run_forever().unwrap();
    assert!(ok.get());
    let seen = seen.borrow();
    assert_eq!(seen.len(), 2);
    assert!(seen[0].starts_with("Exception in callback") && seen[0].ends_with("panicked: boom"));
    assert!(seen[1].ends_with("| bad"));
}

#[test]
fn l18_a_failing_callback_is_reported_with_its_handle() {
    // CPython's context for a failing Handle: {message, exception, handle}; the default
    // handler prints `handle: <Handle cb() at file:line>` (we have no source location).
    fn boom() {
        panic!("boom");
    }
    fn bad() -> Result<(), std::io::Error> {
        Err(std::io::Error::other("bad"))
    }
    let lp = EventLoop::new().unwrap();
    let seen = Rc::new(RefCell::new(Vec::new()));
    let s = seen.clone();
    lp.set_exception_handler(Some(
        move |_: &asyncio::LoopHandle, ctx: &asyncio::ExceptionContext| {
            s.borrow_mut().push((ctx.details.clone(), ctx.to_string()));
        },
    ));
    let first = lp.call_soon(boom).unwrap();
    assert_eq!(
        format!("{first:?}"),
        format!("<Handle {}()>", std::any::type_name_of_val(&boom))
    );
    lp.call_soon(bad).unwrap();
    lp.run_once(Some(Duration::ZERO)).unwrap();
    let seen = seen.borrow();
    assert_eq!(seen.len(), 2, "{seen:?}");
    for ((details, shown), name) in seen.iter().zip(["boom", "bad"]) {
        let handle = format!(
            "<Handle event_loop::errors::l18_a_failing_callback_is_reported_with_its_handle::{name}()>"
        );
        assert_eq!(details, &[("handle", handle.clone())]);
        assert!(
            shown.contains(&format!("\nhandle: {handle}\nexception: ")),
            "{shown}"
        );
    }
    first.cancel();
    assert_eq!(format!("{first:?}"), "<Handle cancelled>");
}

#[test]
fn l18_a_foreign_waker_that_panics_as_its_sleep_ends_is_reported_and_the_loop_goes_on() {
    // A sleep polled with another executor's waker files that waker in the loop's timer; the
    // loop wakes it in the timer's turn. Its panic is reported as a callback's is, and the
    // loop carries on (it once unwound out of run_until_complete).
    use std::future::Future;
    use std::task::Context;

    let lp = EventLoop::new().unwrap();
    let seen = capture_exceptions(&lp);
    let out = lp.run_until_complete(async {
        let mut first = Box::pin(asyncio::sleep(ms(1)));
        let waker = waker_whose_wake_panics();
        assert!(first
            .as_mut()
            .poll(&mut Context::from_waker(&waker))
            .is_pending());
        // Due after the first: its turn comes once the foreign waker has been woken.
        asyncio::sleep(ms(20)).await;
        "went on"
    });
    assert_eq!(out.unwrap(), "went on");
    assert_eq!(
        *seen.borrow(),
        ["Exception in callback timer wake-up | panicked: foreign waker failed"]
    );
}

#[test]
fn l18_a_foreign_waker_that_panics_as_the_task_it_awaits_ends_is_reported_and_the_loop_goes_on() {
    // A task handle polled with another executor's waker files that waker in the task's join
    // slot; the task's end wakes it. Its panic is reported as a callback's is, the loop carries
    // on, and the task's outcome is still there for the handle.
    use std::future::Future;
    use std::task::Context;

    let lp = EventLoop::new().unwrap();
    let seen = capture_exceptions(&lp);
    let out = lp.run_until_complete(async {
        let mut task = asyncio::spawn(async {
            asyncio::yield_now().await;
            5
        });
        let waker = waker_whose_wake_panics();
        assert!(std::pin::Pin::new(&mut task)
            .poll(&mut Context::from_waker(&waker))
            .is_pending());
        for _ in 0..3 {
            asyncio::yield_now().await; // the task ends meanwhile
        }
        assert!(task.is_done());
        task.await
    });
    assert_eq!(out.unwrap(), Ok(5));
    assert_eq!(
        *seen.borrow(),
        ["Exception in callback task wake-up | panicked: foreign waker failed"]
    );
}

#[test]
fn l19_a_panicking_exception_handler_falls_back_to_the_default() {
    let lp = EventLoop::new().unwrap();
    lp.set_exception_handler(Some(
        |_: &asyncio::LoopHandle, _: &asyncio::ExceptionContext| panic!("handler broke"),
    ));
    assert!(lp.has_exception_handler());
    lp.call_soon::<_, ()>(|| panic!("first")).unwrap();
    let h = lp.handle();
    lp.call_soon(move || h.stop()).unwrap();
    lp.run_forever().unwrap();
    lp.set_exception_handler(None::<fn(&asyncio::LoopHandle, &asyncio::ExceptionContext)>);
    assert!(!lp.has_exception_handler());
}

#[test]
fn a_replaced_exception_handler_is_dropped_after_the_borrow() {
    // The handler replaced may own something whose drop asks the loop about its handler.
    // Dropped inside the borrow, that panicked with "already borrowed".
    let lp = EventLoop::new().unwrap();
    let saw = Rc::new(Cell::new(None));
    struct AsksOnDrop(asyncio::LoopHandle, Rc<Cell<Option<bool>>>);
    impl Drop for AsksOnDrop {
        fn drop(&mut self) {
            self.1.set(Some(self.0.has_exception_handler()));
        }
    }
    let owned = AsksOnDrop(lp.handle(), saw.clone());
    lp.set_exception_handler(Some(
        move |_: &asyncio::LoopHandle, _: &asyncio::ExceptionContext| {
            let _ = &owned;
        },
    ));
    lp.set_exception_handler(None::<fn(&asyncio::LoopHandle, &asyncio::ExceptionContext)>);
    assert_eq!(
        saw.get(),
        Some(false),
        "dropped once the new (no) handler was in place"
    );
}

/// `loop.slow_callback_duration` is read as well as written (Python's attribute): the default
/// threshold, then what was set, seen through any handle on the loop.
// Checklist: L23.
#[test]
fn l23_slow_callback_duration_reads_back_what_was_set() {
    let lp = asyncio::EventLoop::new().unwrap();
    assert_eq!(
        lp.slow_callback_duration(),
        asyncio::constants::SLOW_CALLBACK_DURATION
    );
    lp.set_slow_callback_duration(Duration::from_micros(2500));
    let seen = lp
        .run_until_complete(async {
            let running = asyncio::get_running_loop().unwrap();
            let before = running.slow_callback_duration();
            running.set_slow_callback_duration(Duration::ZERO);
            before
        })
        .unwrap();
    assert_eq!(seen, Duration::from_micros(2500));
    assert_eq!(lp.slow_callback_duration(), Duration::ZERO);
}

#[test]
fn l18_a_failing_timer_callback_is_reported_with_its_timer_handle() {
    // CPython's handle for a call_later/call_at callback is a TimerHandle, and the context's
    // `handle` shows its deadline on the loop's clock: (3.11, a failing call_later callback)
    // {'message': 'Exception in callback cb() at t1.py:2', 'exception': ValueError('boom'),
    //  'handle': <TimerHandle when=37570.866398253005 cb() at t1.py:2>}. The message names the
    // callback only, as for a Handle. On a ManualClock the loop's clock counts from zero.
    fn boom() {
        panic!("boom");
    }
    let clock = ManualClock::new();
    let lp = EventLoop::with_clock(clock.clone()).unwrap();
    let seen = Rc::new(RefCell::new(Vec::new()));
    let s = seen.clone();
    lp.set_exception_handler(Some(
        move |_: &asyncio::LoopHandle, ctx: &asyncio::ExceptionContext| {
            s.borrow_mut()
                .push((ctx.message.clone(), ctx.details.clone()));
        },
    ));
    let name = std::any::type_name_of_val(&boom);
    let later = lp.call_later(Duration::from_millis(1500), boom).unwrap();
    assert_eq!(
        format!("{later:?}"),
        format!("<TimerHandle when=1.5 {name}()>")
    );
    let at = lp
        .call_at(lp.time() + Duration::from_secs(2), boom)
        .unwrap();
    at.cancel();
    assert_eq!(format!("{at:?}"), "<TimerHandle cancelled when=2.0>");
    clock.advance(Duration::from_millis(1500));
    lp.run_once(Some(Duration::ZERO)).unwrap();
    assert_eq!(
        *seen.borrow(),
        [(
            format!("Exception in callback {name}"),
            vec![("handle", format!("<TimerHandle when=1.5 {name}()>"))]
        )]
    );
    // A call_soon callback stays a plain Handle.
    lp.call_soon(boom).unwrap();
    lp.run_once(Some(Duration::ZERO)).unwrap();
    assert_eq!(
        seen.borrow()[1].1,
        [("handle", format!("<Handle {name}()>"))]
    );
}
