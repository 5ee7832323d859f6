//! The default exception handler's reports (L18, L19, L20, L23, L35): a panicking handler with
//! its context, CPython's test_default_exc_handler_callback and _coro, and slow callbacks.

use super::*;

/// L19 (BaseEventLoopTests.test_set_exc_handler_broken): a custom handler that panics is
/// reported by the default handler as `Unhandled error in exception handler`, with the
/// handler's panic as the exception and the context it was given, and the loop goes on.
#[test]
fn l19_a_panicking_handler_is_reported_by_the_default_one_with_its_context() {
    match std::env::var(CHILD).as_deref() {
        Ok("broken handler") => {
            let lp = asyncio::EventLoop::new().unwrap();
            lp.set_exception_handler(Some(
                |_: &asyncio::LoopHandle, _: &asyncio::ExceptionContext| panic!("handler broke"),
            ));
            lp.call_soon::<_, ()>(|| panic!("callback broke")).unwrap();
            let h = lp.handle();
            lp.call_soon(move || h.stop()).unwrap();
            lp.run_forever().unwrap();
            println!("report child: ok");
        }
        _ => {
            let name = &test_path(
                module_path!(),
                "l19_a_panicking_handler_is_reported_by_the_default_one_with_its_context",
            );
            let err = child_stderr(name, "broken handler", &[]);
            let at = err
                .find("Unhandled error in exception handler\n")
                .unwrap_or_else(|| panic!("no report of the broken handler:\n{err}"));
            let report: Vec<&str> = err[at..].lines().take(3).collect();
            assert!(
                report[1].starts_with("context: Exception in callback "),
                "{report:?}"
            );
            // The context's own lines follow its message, then the handler's panic.
            let rest = &err[at..];
            assert!(
                rest.contains("exception: panicked: callback broke"),
                "{err}"
            );
            assert!(rest.contains("exception: panicked: handler broke"), "{err}");
        }
    }
}

/// L19: a custom handler that calls `call_exception_handler` from inside itself, without end,
/// is stopped at a bounded depth with one `Unhandled error in exception handler` report, as
/// CPython's innermost call catches the `RecursionError` and reports it; every outer call
/// then returns and the loop goes on. (The stack overflowed, aborting the process.)
#[test]
fn l19_a_handler_that_calls_the_handler_from_inside_itself_is_stopped_with_one_report() {
    match std::env::var(CHILD).as_deref() {
        Ok("recursing handler") => {
            let lp = asyncio::EventLoop::new().unwrap();
            let calls = std::rc::Rc::new(std::cell::Cell::new(0u32));
            let seen = calls.clone();
            lp.set_exception_handler(Some(
                move |lp: &asyncio::LoopHandle, ctx: &asyncio::ExceptionContext| {
                    seen.set(seen.get() + 1);
                    lp.call_exception_handler(ctx);
                },
            ));
            lp.call_soon::<_, ()>(|| panic!("callback broke")).unwrap();
            let h = lp.handle();
            lp.call_soon(move || h.stop()).unwrap();
            lp.run_forever().unwrap();
            println!("handler calls: {}", calls.get());
            println!("report child: ok");
        }
        _ => {
            let name = &test_path(
                module_path!(),
                "l19_a_handler_that_calls_the_handler_from_inside_itself_is_stopped_with_one_report",
            );
            let (out, err) = child_output(name, "recursing handler", &[]);
            assert!(out.contains("handler calls: 100\n"), "{out}");
            assert_eq!(
                err.matches("Unhandled error in exception handler").count(),
                1,
                "{err}"
            );
            assert!(
                err.contains(
                    "maximum recursion depth exceeded while calling the exception handler"
                ),
                "{err}"
            );
            assert!(err.contains("context: Exception in callback "), "{err}");
        }
    }
}

// CPython: BaseEventLoopTests.test_default_exc_handler_callback
#[test]
fn l18_l20_test_default_exc_handler_callback() {
    // A failing call_soon callback and a failing call_later one, each reported by the default
    // handler as "Exception in callback" with the failure.
    match std::env::var(CHILD).as_deref() {
        Ok("failing callbacks") => {
            let lp = asyncio::EventLoop::new().unwrap();
            lp.call_soon::<_, ()>(|| panic!("zero soon")).unwrap();
            lp.call_later::<_, ()>(Duration::from_millis(1), || panic!("zero later"))
                .unwrap();
            let h = lp.handle();
            lp.call_later(Duration::from_millis(2), move || h.stop())
                .unwrap();
            lp.run_forever().unwrap();
            println!("report child: ok");
        }
        _ => {
            let name = &test_path(module_path!(), "l18_l20_test_default_exc_handler_callback");
            let err = child_stderr(name, "failing callbacks", &[]);
            assert_eq!(err.matches("Exception in callback").count(), 2, "{err}");
            assert!(err.contains("exception: panicked: zero soon"), "{err}");
            assert!(err.contains("exception: panicked: zero later"), "{err}");
        }
    }
}

// CPython: BaseEventLoopTests.test_default_exc_handler_coro
#[test]
fn l20_l35_test_default_exc_handler_coro() {
    // A task that fails after a sleep, whose failure nobody retrieves: once its handle is
    // gone the default handler reports it.
    match std::env::var(CHILD).as_deref() {
        Ok("failing task") => {
            let lp = asyncio::EventLoop::new().unwrap();
            let t = lp
                .spawn(async {
                    asyncio::sleep(Duration::from_millis(1)).await;
                    Err::<(), _>(std::io::Error::other("zero_error_coro"))
                })
                .unwrap();
            let probe = t.task_ref();
            drop(t);
            for _ in 0..100 {
                if probe.is_done() {
                    break;
                }
                lp.run_once(Some(Duration::from_secs(10))).unwrap();
            }
            assert!(probe.is_done());
            println!("report child: ok");
        }
        _ => {
            let name = &test_path(module_path!(), "l20_l35_test_default_exc_handler_coro");
            let err = child_stderr(name, "failing task", &[]);
            assert_eq!(
                err.matches("Task exception was never retrieved").count(),
                1,
                "{err}"
            );
            assert!(err.contains("exception: zero_error_coro"), "{err}");
        }
    }
}

// CPython: BaseEventLoopTests.test_log_slow_callbacks
#[test]
fn l23_test_log_slow_callbacks() {
    // Debug mode with a zero threshold: a callback and a task step each draw a warning
    // "Executing <what> took <s> seconds".
    match std::env::var(CHILD).as_deref() {
        Ok("slow") => {
            let lp = asyncio::EventLoop::new().unwrap();
            lp.set_debug(true);
            lp.set_slow_callback_duration(Duration::ZERO);
            let h = lp.handle();
            lp.call_soon(move || h.stop()).unwrap();
            lp.run_forever().unwrap();
            let h = lp.handle();
            let t = lp.spawn(async move { h.stop() }).unwrap();
            t.set_name("stop_loop_coro");
            t.detach();
            lp.run_forever().unwrap();
            println!("report child: ok");
        }
        _ => {
            let name = &test_path(module_path!(), "l23_test_log_slow_callbacks");
            let err = child_stderr(name, "slow", &[]);
            let slow: Vec<&str> = err
                .lines()
                .filter(|l| l.contains("Executing ") && l.ends_with(" seconds"))
                .collect();
            assert!(slow.len() >= 2, "{err}");
            assert!(
                slow.iter().any(|l| l.contains("stop_loop_coro")),
                "the task step is named: {err}"
            );
            assert!(slow.iter().all(|l| l.contains(" took ")), "{slow:?}");
        }
    }
}

/// L35: a custom handler that, on each report, lets a failed future of its own loop go unseen
/// reported again from inside that report, and so on: the recursion overflowed the stack (the
/// child died of it; checked by reverting the fix). A report made inside the same loop's
/// handler for a never-retrieved future now goes to the default handler, once.
#[test]
fn l35_a_handler_dropping_a_failed_future_does_not_recurse() {
    match std::env::var(CHILD).as_deref() {
        Ok("recursing handler") => {
            let lp = asyncio::EventLoop::new().unwrap();
            let calls = std::rc::Rc::new(std::cell::Cell::new(0u32));
            let c = calls.clone();
            lp.set_exception_handler(Some(
                move |h: &asyncio::LoopHandle, _: &asyncio::ExceptionContext| {
                    c.set(c.get() + 1);
                    let f = h.create_future::<()>();
                    f.set_exception(Error::Timeout).unwrap();
                },
            ));
            let f = lp.create_future::<()>();
            f.set_exception(Error::Timeout).unwrap();
            drop(f);
            assert_eq!(calls.get(), 1, "the handler ran once");
            println!("report child: ok");
        }
        _ => {
            let name = &test_path(
                module_path!(),
                "l35_a_handler_dropping_a_failed_future_does_not_recurse",
            );
            let err = child_stderr(name, "recursing handler", &[]);
            assert_eq!(
                err.matches("Future exception was never retrieved").count(),
                1,
                "the nested report, by the default handler:\n{err}"
            );
        }
    }
}
