//! The crate's futures awaited from another executor: that executor's waker, whose `drop` or
//! `wake` is its code, let go of or woken by someone who did not supply it (a handle's drop,
//! a helper thread). A panic of it is reported once through the loop's exception handler
//! (L18), never unwound into that someone.

use super::*;
use std::future::Future;
use std::pin::Pin;

const WAKER_DROP: &str = "Exception in callback drop of a waker | panicked: drop fails";

/// Polls `fut` once under [`waker_whose_drop_panics`]; it must be pending.
fn poll_foreign<F: Future + ?Sized>(fut: Pin<&mut F>) {
    let waker = waker_whose_drop_panics();
    assert!(fut
        .poll(&mut std::task::Context::from_waker(&waker))
        .is_pending());
    std::mem::forget(waker);
}

/// Runs `f` with a panic out of it caught: whether one left it.
fn panicked(f: impl FnOnce()) -> bool {
    std::panic::catch_unwind(std::panic::AssertUnwindSafe(f)).is_err()
}

/// A `shield` polled under another executor's waker, then dropped: it takes its waker back
/// out of the task's join slot, and a panic of that waker's drop is reported to the task's
/// loop. Before, it unwound into the shield's drop.
// Checklist: L33, L18.
#[test]
fn l33_a_dropped_shield_contains_a_foreign_waker_that_panics_on_drop() {
    let lp = EventLoop::new().unwrap();
    let seen = capture_exceptions(&lp);
    let mut task = lp.spawn(std::future::pending::<()>()).unwrap();
    let mut shield = Box::pin(asyncio::shield(&mut task));
    poll_foreign(shield.as_mut());
    assert!(!panicked(|| drop(shield)), "{:?}", seen.borrow());
    assert_eq!(*seen.borrow(), [WAKER_DROP]);
    drop(task);
    lp.close().unwrap();
}

/// A handle a `shield` polled under another executor's waker (and that shield forgotten, so
/// the waker stays filed), then dropped unawaited: the task is detached and the waker let
/// go, a panic of its drop reported to the task's loop. Before, it unwound into the handle's
/// drop.
// Checklist: L33, L18.
#[test]
fn l33_a_handle_dropped_unawaited_contains_a_foreign_waker_that_panics_on_drop() {
    let lp = EventLoop::new().unwrap();
    let seen = capture_exceptions(&lp);
    let mut task = lp.spawn(std::future::pending::<()>()).unwrap();
    let mut shield = Box::pin(asyncio::shield(&mut task));
    poll_foreign(shield.as_mut());
    // Leaked: the shield's drop, which would take the waker back, never runs.
    std::mem::forget(shield);
    assert!(!panicked(|| drop(task)), "{:?}", seen.borrow());
    assert_eq!(*seen.borrow(), [WAKER_DROP]);
    lp.close().unwrap();
}

/// A handle awaited from another executor, then dropped by its own task's poll (the handle
/// reached the task through an `Rc`): the task is being polled, so it is cancelled when that
/// poll returns (L33), and the waker let go now; a panic of its drop is reported to the
/// loop, and the task still ends cancelled. Before, the panic unwound into the task's poll:
/// the task failed with another executor's panic, reported as its own.
// Checklist: L33, L35, L18.
#[test]
fn l33_a_handle_dropped_by_its_own_task_contains_a_foreign_waker_that_panics_on_drop() {
    let lp = EventLoop::new().unwrap();
    let seen = capture_exceptions(&lp);
    let handle: Rc<RefCell<Option<asyncio::Task<()>>>> = Rc::default();
    let inside = handle.clone();
    let mut task = lp
        .spawn(async move {
            asyncio::yield_now().await;
            drop(inside.borrow_mut().take()); // its own handle, awaited elsewhere
            std::future::pending::<()>().await;
        })
        .unwrap();
    poll_foreign(Pin::new(&mut task));
    let task_ref = task.task_ref();
    *handle.borrow_mut() = Some(task);
    lp.run_until_complete(async {
        for _ in 0..10 {
            asyncio::yield_now().await;
        }
    })
    .unwrap();
    assert!(
        task_ref.is_done() && task_ref.is_cancelled(),
        "{:?}",
        seen.borrow()
    );
    assert_eq!(*seen.borrow(), [WAKER_DROP]);
    lp.close().unwrap();
}

/// A `run_in_executor` future polled under another executor's waker whose wake-up panics:
/// the helper thread wakes it as the job ends, and that panic is reported once to the loop
/// the job was started from. Before, it unwound out of the job into the pool's worker,
/// which dropped it unreported. The job's end is awaited through
/// `shutdown_default_executor`, which resolves only after the wake-up (bounded by a timeout).
// Checklist: L41, L18.
#[test]
fn l41_a_foreign_wake_up_panic_on_a_helper_thread_reports_to_the_jobs_loop() {
    let lp = EventLoop::new().unwrap();
    let seen = capture_exceptions(&lp);
    let handle = lp.handle();
    let (go, wait) = std::sync::mpsc::channel::<()>();
    let job = lp
        .run_until_complete(async move {
            // The job waits for the poll below, so the waker is filed before it ends.
            let mut job = Box::pin(asyncio::run_in_executor(move || wait.recv().is_ok()));
            let waker = waker_whose_wake_panics();
            let cx = &mut std::task::Context::from_waker(&waker);
            assert!(job.as_mut().poll(cx).is_pending());
            go.send(()).unwrap();
            let shut = handle.shutdown_default_executor(None);
            asyncio::timeout(Duration::from_secs(30), shut)
                .await
                .unwrap();
            (job,) // kept to the end: a tuple, not a future to await
        })
        .unwrap();
    assert_eq!(
        *seen.borrow(),
        ["Exception in callback run_in_executor wake-up | panicked: foreign waker failed"]
    );
    drop(job);
    lp.close().unwrap();
}
