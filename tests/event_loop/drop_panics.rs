//! Values the loop owns for user code and drops itself (a panic payload, a task's output, a
//! queued closure, a protocol) whose own `Drop` panics: that panic is reported once through
//! the exception handler, as a failed callback is (L18), and the loop goes on. Before, each
//! of these unwound out of `run_until_complete`, `close` or `Runner::close`.

use super::*;

/// Its drop panics; as a panic payload (`panic_any`) too.
struct PanicsOnDrop;

impl Drop for PanicsOnDrop {
    fn drop(&mut self) {
        panic!("drop fails");
    }
}

/// An error whose drop panics, for a callback's `Err`.
#[derive(Debug)]
struct FailingError(PanicsOnDrop);

impl std::fmt::Display for FailingError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("failing error")
    }
}

impl std::error::Error for FailingError {}

impl std::fmt::Debug for PanicsOnDrop {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("PanicsOnDrop")
    }
}

const DROP_REPORT: &str = " | panicked: drop fails";

fn drop_reports(seen: &[String], what: &str) -> usize {
    let want = format!("Exception in callback drop of {what}{DROP_REPORT}");
    seen.iter().filter(|s| **s == want).count()
}

/// Connects a protocol of `factory` to one end of a socket pair on a fresh loop with reports
/// captured, then closes the loop under the open connection (both ends still held). Fails the
/// test if a panic leaves the close or it fails; returns the reports.
fn close_under_a_connection<P: asyncio::Protocol + 'static>(
    factory: impl Fn() -> P + 'static,
) -> Vec<String> {
    let lp = EventLoop::new().unwrap();
    let seen = capture_exceptions(&lp);
    let (a, _b) = asyncio::socketpair().unwrap();
    let (transport, _p) = lp
        .run_until_complete(async {
            let lp = asyncio::get_running_loop()?;
            lp.connect_socket(factory, a).await
        })
        .unwrap()
        .unwrap();
    let closed = std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| lp.close()));
    assert!(matches!(closed, Ok(Ok(()))), "{:?}", seen.borrow());
    drop(transport);
    let seen = seen.borrow().clone();
    seen
}

/// Runs `body` on a fresh loop with reports captured; the loop is closed afterwards. Fails
/// the test if a panic leaves the run or the close.
fn run_reporting<F: std::future::Future>(body: impl FnOnce() -> F) -> Vec<String> {
    let lp = EventLoop::new().unwrap();
    let seen = capture_exceptions(&lp);
    let run = std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| {
        lp.run_until_complete(body()).unwrap();
        lp.close().unwrap();
    }));
    assert!(run.is_ok(), "a panic left the loop: {:?}", seen.borrow());
    let seen = seen.borrow().clone();
    seen
}

/// A detached task panics with a payload whose drop panics: the failure is reported as never
/// retrieved, then the payload's drop.
// Checklist: L35, L18.
#[test]
fn l35_a_detached_task_panic_payload_that_panics_on_drop_is_contained() {
    let seen = run_reporting(|| async {
        asyncio::spawn(async { std::panic::panic_any(PanicsOnDrop) }).detach();
        asyncio::yield_now().await;
        asyncio::yield_now().await;
    });
    assert!(
        seen[0].starts_with("Task exception was never retrieved | panicked: Box<dyn Any>"),
        "{seen:?}"
    );
    assert_eq!(drop_reports(&seen, "a panic payload"), 1, "{seen:?}");
    assert_eq!(seen.len(), 2, "{seen:?}");
}

/// A detached task's output, which nobody takes, panics as the loop drops it.
// Checklist: L35.
#[test]
fn l35_a_detached_task_output_that_panics_on_drop_is_contained() {
    let seen = run_reporting(|| async {
        asyncio::spawn(async { PanicsOnDrop }).detach();
        asyncio::yield_now().await;
        asyncio::yield_now().await;
    });
    assert_eq!(drop_reports(&seen, "a task's output"), 1, "{seen:?}");
    assert_eq!(seen.len(), 1, "{seen:?}");
}

/// A finished task's handle dropped without taking the outcome: the output the handle held
/// panics as it is dropped with it.
// Checklist: L35.
#[test]
fn l35_a_task_handle_dropped_with_an_output_that_panics_on_drop_is_contained() {
    let seen = run_reporting(|| async {
        let task = asyncio::spawn(async { PanicsOnDrop });
        while !task.is_done() {
            asyncio::yield_now().await;
        }
        drop(task);
    });
    assert_eq!(drop_reports(&seen, "a task's output"), 1, "{seen:?}");
}

/// A cancelled task's cleanup panics with a payload whose drop panics, as `Runner::close`
/// cancels it (the panic behind last session's shutdown-mark fix): `close` returns.
// Checklist: L35, L41.
#[test]
fn l41_runner_close_contains_a_cleanup_payload_that_panics_on_drop() {
    struct CleanupFails;
    impl Drop for CleanupFails {
        fn drop(&mut self) {
            std::panic::panic_any(PanicsOnDrop);
        }
    }
    let seen: Rc<RefCell<Vec<String>>> = Rc::default();
    let s = seen.clone();
    let runner = asyncio::Runner::new();
    runner
        .run(async move {
            let lp = asyncio::get_running_loop().unwrap();
            lp.set_exception_handler(Some(
                move |_: &asyncio::LoopHandle, ctx: &asyncio::ExceptionContext| {
                    s.borrow_mut().push(ctx.message.clone());
                },
            ));
            let held = CleanupFails;
            asyncio::spawn(async move {
                let _held = held;
                std::future::pending::<()>().await;
            })
            .detach();
            asyncio::yield_now().await;
        })
        .unwrap();
    let closing = std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| runner.close()));
    assert!(matches!(closing, Ok(Ok(()))), "{:?}", seen.borrow());
    let seen = seen.borrow();
    assert_eq!(
        *seen,
        [
            "unhandled exception during asyncio.run() shutdown",
            "Exception in callback drop of a panic payload"
        ]
    );
}

/// A `call_soon` callback panics with a payload whose drop panics.
// Checklist: L18.
#[test]
fn l18_a_callback_panic_payload_that_panics_on_drop_is_contained() {
    let seen = run_reporting(|| async {
        let lp = asyncio::get_running_loop().unwrap();
        lp.call_soon(|| -> () { std::panic::panic_any(PanicsOnDrop) })
            .unwrap();
        asyncio::yield_now().await;
    });
    assert!(seen[0].starts_with("Exception in callback "), "{seen:?}");
    assert!(seen[0].ends_with(" | panicked: Box<dyn Any>"), "{seen:?}");
    assert_eq!(drop_reports(&seen, "a panic payload"), 1, "{seen:?}");
    assert_eq!(seen.len(), 2, "{seen:?}");
}

/// A `call_soon` callback returns an `Err` whose drop panics, after the report.
// Checklist: L18.
#[test]
fn l18_a_callback_error_that_panics_on_drop_is_contained() {
    let seen = run_reporting(|| async {
        let lp = asyncio::get_running_loop().unwrap();
        lp.call_soon(|| Err::<(), _>(FailingError(PanicsOnDrop)))
            .unwrap();
        asyncio::yield_now().await;
    });
    assert!(seen[0].ends_with(" | failing error"), "{seen:?}");
    assert_eq!(drop_reports(&seen, "a callback's error"), 1, "{seen:?}");
    assert_eq!(seen.len(), 2, "{seen:?}");
}

/// Closing the loop drops what is still queued: a `call_soon` callback, a timer and an fd
/// callback, each holding a value whose drop panics. Each is reported; `close` returns.
// Checklist: L16, L5.
#[test]
fn l16_close_contains_queued_closures_that_panic_on_drop() {
    let lp = EventLoop::new().unwrap();
    let seen = capture_exceptions(&lp);
    let (a, _b) = UnixStream::pair().unwrap();
    let held = PanicsOnDrop;
    lp.call_soon(move || {
        let _ = &held;
    })
    .unwrap();
    let held = PanicsOnDrop;
    lp.call_later(Duration::from_secs(3600), move || {
        let _ = &held;
    })
    .unwrap();
    let held = PanicsOnDrop;
    lp.add_reader(a.as_raw_fd(), move || {
        let _ = &held;
    })
    .unwrap();
    let closed = std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| lp.close()));
    assert!(matches!(closed, Ok(Ok(()))), "{:?}", seen.borrow());
    assert_eq!(
        drop_reports(&seen.borrow(), "a callback"),
        3,
        "{:?}",
        seen.borrow()
    );
}

/// An `add_reader` callback panics with a payload whose drop panics.
// Checklist: L17, L18.
#[test]
fn l18_an_fd_callback_panic_payload_that_panics_on_drop_is_contained() {
    let (a, mut b) = UnixStream::pair().unwrap();
    b.write_all(b"x").unwrap();
    let seen = run_reporting(|| async move {
        let lp = asyncio::get_running_loop().unwrap();
        let fired = Rc::new(Cell::new(false));
        let f = fired.clone();
        lp.add_reader(a.as_raw_fd(), move || -> () {
            f.set(true);
            std::panic::panic_any(PanicsOnDrop)
        })
        .unwrap();
        for _ in 0..1000 {
            if fired.get() {
                break;
            }
            asyncio::yield_now().await;
        }
        let _ = lp.remove_reader(a.as_raw_fd());
        drop(a);
    });
    assert!(
        seen[0].starts_with("Exception in callback add_reader(fd=")
            && seen[0].ends_with(") | panicked: Box<dyn Any>"),
        "{seen:?}"
    );
    assert_eq!(drop_reports(&seen, "a panic payload"), 1, "{seen:?}");
}

/// A protocol whose drop panics: the transport lets go of it after `connection_lost`.
/// A protocol callback that panics with such a payload is reported, the payload contained.
// Checklist: L82, L54.
#[test]
fn l82_a_protocol_that_panics_on_drop_is_contained() {
    struct Dropping {
        _held: PanicsOnDrop,
    }
    impl asyncio::Protocol for Dropping {
        fn data_received(&mut self, _: &[u8]) {
            std::panic::panic_any(PanicsOnDrop);
        }
    }
    let (a, mut b) = asyncio::socketpair().unwrap();
    b.write_all(b"x").unwrap();
    let seen = run_reporting(|| async move {
        let lp = asyncio::get_running_loop().unwrap();
        let made = move || Dropping {
            _held: PanicsOnDrop,
        };
        let (t, _) = lp.create_connection(made, "", 0).sock(a).await.unwrap();
        for _ in 0..1000 {
            if t.is_closing() {
                break;
            }
            asyncio::yield_now().await;
        }
        for _ in 0..3 {
            asyncio::yield_now().await; // connection_lost, then the release
        }
    });
    assert_eq!(
        seen,
        [
            "Fatal error: protocol.data_received() call failed. | panicked: Box<dyn Any>",
            "Exception in callback drop of a panic payload | panicked: drop fails",
            "Exception in callback drop of a protocol | panicked: drop fails",
        ]
    );
}

/// A task that cancels itself and then returns ends cancelled (L30): its output, which nobody
/// can ever take, is dropped by the loop as the task ends, a panic of that drop contained.
/// Before, that drop unwound out of `run_until_complete`.
// Checklist: L30, L18.
#[test]
fn l30_a_self_cancelled_task_output_that_panics_on_drop_is_contained() {
    let seen = run_reporting(|| async {
        let task = asyncio::spawn(async {
            let me = asyncio::current_task().unwrap().expect("inside a task");
            me.cancel();
            PanicsOnDrop
        });
        assert!(matches!(task.await, Err(asyncio::Cancelled)));
    });
    assert_eq!(drop_reports(&seen, "a task's output"), 1, "{seen:?}");
    assert_eq!(seen.len(), 1, "{seen:?}");
}

/// A future that returns an output, then panics as the task drops it: the task ends with that
/// panic (its cleanup's), and the output nobody will take is dropped by the loop, a panic of
/// that drop contained too. Before, that drop unwound out of `run_until_complete`.
// Checklist: L30, L18.
#[test]
fn l18_an_output_left_by_a_cleanup_panic_that_panics_on_drop_is_contained() {
    /// Ready at once with a `PanicsOnDrop`; its own drop panics (the task's cleanup).
    struct ReadyThenFails;
    impl std::future::Future for ReadyThenFails {
        type Output = PanicsOnDrop;
        fn poll(
            self: std::pin::Pin<&mut Self>,
            _: &mut std::task::Context<'_>,
        ) -> std::task::Poll<PanicsOnDrop> {
            std::task::Poll::Ready(PanicsOnDrop)
        }
    }
    impl Drop for ReadyThenFails {
        fn drop(&mut self) {
            panic!("cleanup fails");
        }
    }
    let seen = run_reporting(|| async {
        let task = asyncio::spawn(ReadyThenFails);
        while !task.is_done() {
            asyncio::yield_now().await;
        }
        let caught = std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| drop(task)));
        assert!(caught.is_ok(), "dropping the handle panicked");
    });
    assert_eq!(drop_reports(&seen, "a task's output"), 1, "{seen:?}");
    assert!(
        seen.iter()
            .any(|s| s.starts_with("Task exception was never retrieved")
                && s.ends_with("panicked: cleanup fails")),
        "{seen:?}"
    );
    assert_eq!(seen.len(), 2, "{seen:?}");
}

/// The loop closes under an open connection whose `connection_lost` panics with a payload
/// whose drop panics: that drop's report goes to the loop's exception handler, as every
/// other report of the close does (the loop is not running then, so "the running loop"
/// names none; before, the report went to the default handler, the user's never saw it).
// Checklist: L16, L18, L54.
#[test]
fn l16_loop_close_reports_a_lost_payload_drop_to_the_loops_handler() {
    struct LostFails;
    impl asyncio::Protocol for LostFails {
        fn connection_lost(&mut self, _: Option<std::io::Error>) {
            std::panic::panic_any(PanicsOnDrop);
        }
    }
    let seen = close_under_a_connection(|| LostFails);
    assert_eq!(drop_reports(&seen, "a panic payload"), 1, "{seen:?}");
}

/// A `run_in_executor` closure panics with a payload whose drop panics: the awaiter gets the
/// panic as `Error::Panic`, and the payload's drop is reported on the loop that started the
/// job. Before, that drop unwound out of the job on the helper thread before the result was
/// stored, and the await never ended (bounded here: the timeout fails the test).
// Checklist: L18.
#[test]
fn l18_a_run_in_executor_panic_payload_that_panics_on_drop_is_contained() {
    let seen = run_reporting(|| async {
        let job = asyncio::run_in_executor(|| -> u8 { std::panic::panic_any(PanicsOnDrop) });
        let r = asyncio::timeout(Duration::from_secs(60), job).await;
        assert!(matches!(r, Ok(Err(Error::Panic(_)))), "{r:?}");
    });
    assert_eq!(drop_reports(&seen, "a panic payload"), 1, "{seen:?}");
}

/// The loop closes under an open connection whose `connection_lost` panics: that panic is
/// reported once through the loop's exception handler, as CPython's loop reports an exception
/// in that callback (`Exception in callback P.connection_lost(..)`), and `close` returns.
/// Before, the panic went unreported (only a panic of its payload's drop was).
// Checklist: L16, L18, L55.
#[test]
fn l16_loop_close_reports_a_connection_lost_panic() {
    struct LostPanics;
    impl asyncio::Protocol for LostPanics {
        fn connection_lost(&mut self, _: Option<std::io::Error>) {
            panic!("lost fails");
        }
    }
    let seen = close_under_a_connection(|| LostPanics);
    assert_eq!(seen.len(), 1, "{seen:?}");
    assert!(
        seen[0].starts_with("Exception in callback ")
            && seen[0].contains("LostPanics::connection_lost(Some(..))")
            && seen[0].ends_with(" | panicked: lost fails"),
        "{seen:?}"
    );
}

/// Closes the loop it was given, then panics with a payload whose drop panics: a task's
/// cleanup that ends the task itself (the close abandons it) and then fails.
struct ClosesThenFails(asyncio::LoopHandle);

impl Drop for ClosesThenFails {
    fn drop(&mut self) {
        self.0.close().unwrap();
        std::panic::panic_any(PanicsOnDrop);
    }
}

/// An awaited task handle dropped outside a run cancels the task at once (L33); its cleanup
/// closes the loop (which ends the task, cancelled) and then panics. That panic is nobody's:
/// reported once as never retrieved through the loop's handler, its payload's drop
/// contained. Before, the payload was dropped plainly and unreported: its drop's panic
/// unwound into the handle's drop.
// Checklist: L33, L35, L16.
#[test]
#[allow(clippy::async_yields_async)] // the run hands the awaited handle out, to drop
fn l33_a_cleanup_that_closes_the_loop_then_panics_is_reported() {
    let lp = EventLoop::new().unwrap();
    let seen = capture_exceptions(&lp);
    let task = lp
        .run_until_complete(async {
            let held = ClosesThenFails(asyncio::get_running_loop().unwrap());
            let mut task = asyncio::spawn(async move {
                let _held = held;
                std::future::pending::<()>().await;
            });
            // Polled once, so the handle counts as awaited: its drop cancels at once.
            let polled = asyncio::timeout(Duration::ZERO, &mut task).await;
            assert!(polled.is_err(), "the task cannot have ended");
            task
        })
        .unwrap();
    drops_reporting_the_cleanup_panic_once(&lp, &seen, task, "handle");
}

/// Drops `held` (a handle or a group a run handed out, whose task's cleanup closes the loop
/// and then panics) outside any run: the drop returns, the loop is closed, and the panic is
/// reported once as never retrieved, its payload's drop contained.
fn drops_reporting_the_cleanup_panic_once<T>(
    lp: &EventLoop,
    seen: &RefCell<Vec<String>>,
    held: T,
    whose: &str,
) {
    let dropped = std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| drop(held)));
    assert!(
        dropped.is_ok(),
        "a panic left the {whose}'s drop: {:?}",
        seen.borrow()
    );
    assert!(lp.is_closed());
    let seen = seen.borrow();
    assert!(
        seen[0].starts_with("Task exception was never retrieved | panicked: Box<dyn Any>"),
        "{seen:?}"
    );
    assert_eq!(drop_reports(&seen, "a panic payload"), 1, "{seen:?}");
    assert_eq!(seen.len(), 2, "{seen:?}");
}

/// A `TaskGroup` dropped outside a run drops its tasks' futures at once (L33); a task's
/// cleanup closes the loop (ending the task, cancelled) and then panics: the panic is
/// reported once, its payload's drop contained, and the group's drop returns. Before, the
/// payload was dropped plainly: its drop's panic unwound into the group's drop.
// Checklist: L33, L35, L16.
#[test]
#[allow(clippy::async_yields_async)] // the run hands the awaited handle out, to drop
fn l33_a_group_task_cleanup_that_closes_the_loop_then_panics_is_reported() {
    let lp = EventLoop::new().unwrap();
    let seen = capture_exceptions(&lp);
    let group = lp
        .run_until_complete(async {
            let held = ClosesThenFails(asyncio::get_running_loop().unwrap());
            let mut group = Box::pin(asyncio::TaskGroup::run(move |tg| async move {
                let child = tg.create_task(async move {
                    let _held = held;
                    std::future::pending::<()>().await;
                    Ok::<_, Error>(())
                })?;
                child.detach();
                std::future::pending::<()>().await;
                Ok::<_, Error>(())
            }));
            let polled = asyncio::timeout(Duration::ZERO, group.as_mut()).await;
            assert!(polled.is_err(), "the group cannot have ended");
            group
        })
        .unwrap();
    drops_reporting_the_cleanup_panic_once(&lp, &seen, group, "group");
}

/// The two other ways a task's cleanup runs cannot end the task first, so its panic stays
/// the task's outcome: a cancelled task's run (`close` from its cleanup is refused, the loop
/// runs) and the loop's close (`close` again from a cleanup is a no-op, the loop is closed
/// already). Both panics reach the loop's handler, payload drops contained.
// Checklist: L16, L29, L35.
#[test]
fn l16_a_cleanup_closing_the_loop_during_a_run_or_a_close_keeps_its_panic() {
    struct TriesToClose(asyncio::LoopHandle);
    impl Drop for TriesToClose {
        fn drop(&mut self) {
            let refused = self.0.close().is_err();
            assert_eq!(refused, self.0.is_running());
            std::panic::panic_any(PanicsOnDrop);
        }
    }
    let lp = EventLoop::new().unwrap();
    let seen = capture_exceptions(&lp);
    lp.run_until_complete(async {
        let lp = asyncio::get_running_loop().unwrap();
        for what in ["in a run", "at close"] {
            let held = TriesToClose(lp.clone());
            let task = asyncio::spawn(async move {
                let _held = held;
                std::future::pending::<()>().await;
            });
            if what == "in a run" {
                task.cancel();
            }
            task.detach();
        }
        for _ in 0..3 {
            asyncio::yield_now().await;
        }
    })
    .unwrap();
    let closed = std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| lp.close()));
    assert!(matches!(closed, Ok(Ok(()))), "{:?}", seen.borrow());
    let seen = seen.borrow();
    let failures = seen
        .iter()
        .filter(|s| s.starts_with("Task exception was never retrieved | panicked: Box<dyn Any>"));
    assert_eq!(failures.count(), 2, "{seen:?}");
    assert_eq!(drop_reports(&seen, "a panic payload"), 2, "{seen:?}");
}

/// A stream read polled under another executor's waker: the data's arrival queues its
/// wake-up as a callback of its own, and the loop closes before that callback's turn, so the
/// close wakes it. Its panic is reported to the loop's exception handler, as every other
/// report of the close is. Before, it went to the default handler (stderr) even with the
/// loop's own handler set.
// Checklist: L16, L18.
#[test]
fn l16_close_reports_an_unrun_foreign_wake_up_to_the_loops_handler() {
    use std::future::Future;
    let lp = EventLoop::new().unwrap();
    let seen = capture_exceptions(&lp);
    let (a, mut b) = asyncio::socketpair().unwrap();
    let waker = waker_whose_wake_panics();
    let read = lp
        .run_until_complete(async {
            let (reader, writer) = asyncio::open_connection_sock(a).await.unwrap();
            let mut read = Box::pin(async move {
                let _writer = writer;
                reader.read(10).await
            });
            let cx = &mut std::task::Context::from_waker(&waker);
            assert!(read.as_mut().poll(cx).is_pending());
            (read,)
        })
        .unwrap();
    b.write_all(b"x").unwrap();
    // One turn: the data arrives, its wake-up is queued for the next turn, which never comes.
    lp.stop();
    lp.run_forever().unwrap();
    assert_eq!(*seen.borrow(), Vec::<String>::new(), "the wake-up ran");
    let closed = std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| lp.close()));
    assert!(matches!(closed, Ok(Ok(()))), "{:?}", seen.borrow());
    let seen = seen.borrow();
    assert_eq!(seen.len(), 1, "{seen:?}");
    assert!(
        seen[0].starts_with("Exception in callback ")
            && seen[0].ends_with(" | panicked: foreign waker failed"),
        "{seen:?}"
    );
    drop(read);
}

/// An awaited task handle polled under another executor's waker whose drop panics, then
/// dropped outside a run: the task is cancelled at once (L33) and nobody awaits it any more,
/// so the loop drops that waker unwoken, the panic of its drop reported once to the loop's
/// handler. Before, it unwound into the handle's drop.
// Checklist: L33, L18.
#[test]
fn l33_a_foreign_waker_dropped_unwoken_by_a_cancel_is_contained() {
    use std::future::Future;
    let lp = EventLoop::new().unwrap();
    let seen = capture_exceptions(&lp);
    let task = lp
        .run_until_complete(async {
            let mut task = asyncio::spawn(std::future::pending::<()>());
            // Only the clone the task filed fails: the test's own waker is forgotten.
            let waker = waker_whose_drop_panics();
            let cx = &mut std::task::Context::from_waker(&waker);
            assert!(std::pin::Pin::new(&mut task).poll(cx).is_pending());
            std::mem::forget(waker);
            (task,)
        })
        .unwrap();
    let dropped = std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| drop(task)));
    assert!(
        dropped.is_ok(),
        "a panic left the handle's drop: {:?}",
        seen.borrow()
    );
    assert_eq!(
        *seen.borrow(),
        [format!(
            "Exception in callback drop of a waker{DROP_REPORT}"
        )]
    );
    lp.close().unwrap();
}

const NO_THREADS_CHILD: &str = "ASYNCIO_TEST_NO_THREADS_CHILD";

/// No helper thread exists and none can be started: `run_in_executor` resolves to
/// `Error::Io`, and the job closure it drops unrun holds a value whose drop panics: that
/// panic is reported once through the running loop's handler, not unwound into
/// `run_in_executor`. Spawning is made to fail deterministically in a child process: a
/// `RUST_MIN_STACK` larger than the address space makes every thread's stack allocation
/// fail (the test harness then runs the test on its main thread).
// Checklist: L18.
#[test]
fn l18_an_executor_job_dropped_unrun_that_panics_on_drop_is_contained() {
    util::in_child_env(
        NO_THREADS_CHILD,
        "drop_panics::l18_an_executor_job_dropped_unrun_that_panics_on_drop_is_contained",
        "no threads child: ok",
        &[("RUST_MIN_STACK", "1152921504606846976")], // 2^60 bytes
        no_threads_child,
    );
}

fn no_threads_child() {
    let spawned = std::thread::Builder::new().spawn(|| {});
    assert!(spawned.is_err(), "a thread could be started: no test");
    let seen = run_reporting(|| async {
        let held = PanicsOnDrop;
        let job = asyncio::run_in_executor(move || {
            let _held = &held;
        });
        let r = asyncio::timeout(Duration::from_secs(60), job).await;
        assert!(matches!(r, Ok(Err(Error::Io(_)))), "{r:?}");
    });
    assert_eq!(drop_reports(&seen, "an executor job"), 1, "{seen:?}");
    assert_eq!(seen.len(), 1, "{seen:?}");
    println!("no threads child: ok");
}
