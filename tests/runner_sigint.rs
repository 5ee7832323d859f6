//! `asyncio::Runner` and Ctrl-C: the first SIGINT during a run ends that run with
//! `Error::KeyboardInterrupt`, gives SIGINT its default disposition back, and leaves the runner
//! usable for the next run, as Python 3.11's `Runner.run` does (L42).
//!
//! Its own binary without the test harness: the runner installs its SIGINT handler only on the
//! main thread, which a harness test is not, and the signal goes to the whole process.

use std::time::Duration;

fn disposition_is_default(sig: i32) -> bool {
    // SAFETY: an all-zero sigaction is valid; a null new action only queries.
    #[allow(unsafe_code)]
    unsafe {
        let mut old: libc::sigaction = std::mem::zeroed();
        libc::sigaction(sig, std::ptr::null(), &mut old) == 0 && old.sa_sigaction == libc::SIG_DFL
    }
}

fn main() {
    // A shell's background job (or nohup) hands SIGINT down ignored; the runner then rightly
    // leaves it alone. This process is ours: give SIGINT its default disposition first.
    // SAFETY: FFI; setting SIG_DFL installs no handler of ours.
    #[allow(unsafe_code)]
    unsafe {
        libc::signal(libc::SIGINT, libc::SIG_DFL);
    }
    // Python's first Ctrl-C cancels the main task, whose cleanup (`finally`) runs in the loop:
    // here the future's Drop, which sees the loop still running.
    struct Cleanup(std::rc::Rc<std::cell::Cell<Option<bool>>>);
    impl Drop for Cleanup {
        fn drop(&mut self) {
            self.0.set(Some(asyncio::get_running_loop().is_ok()));
        }
    }
    let in_loop = std::rc::Rc::new(std::cell::Cell::new(None));
    let cleanup = Cleanup(in_loop.clone());
    let runner = asyncio::Runner::new();
    let interrupted = runner.run(async move {
        let _cleanup = cleanup;
        // SAFETY: FFI; the runner's handler for SIGINT is installed, so this does not kill us.
        #[allow(unsafe_code)]
        unsafe {
            libc::raise(libc::SIGINT);
        }
        asyncio::sleep(Duration::from_secs(60)).await; // the run ends long before
    });
    assert!(
        matches!(interrupted, Err(asyncio::Error::KeyboardInterrupt)),
        "{interrupted:?}"
    );
    assert!(disposition_is_default(libc::SIGINT), "SIGINT default again");
    assert_eq!(
        in_loop.get(),
        Some(true),
        "the future was dropped in the loop"
    );
    assert_eq!(
        runner.run(async { 42 }).unwrap(),
        42,
        "the runner runs again"
    );
    println!("test l42_ctrl_c_ends_one_run_and_the_runner_runs_again ... ok");

    // SIGINT in the very step where the future completes: the run was reached by it, and
    // ends with KeyboardInterrupt, as CPython's `_on_sigint` raises it for a done main task.
    // (It returned the value, found by helper-46; and see below.)
    let last_step = runner.run(async {
        // SAFETY: FFI; the runner's handler for SIGINT is installed, so this does not kill us.
        #[allow(unsafe_code)]
        unsafe {
            libc::raise(libc::SIGINT);
        }
        42
    });
    // Its callback, queued for an iteration that never came, ran in the next run and
    // cancelled that one (Err(Cancelled)).
    let next = runner.run(async {
        asyncio::yield_now().await;
        43
    });
    assert!(
        matches!(last_step, Err(asyncio::Error::KeyboardInterrupt)),
        "{last_step:?}"
    );
    assert!(disposition_is_default(libc::SIGINT), "SIGINT default again");
    assert_eq!(next.unwrap(), 43, "a late Ctrl-C is not the next run's");
    println!("test l42_ctrl_c_in_the_last_step_is_not_lost ... ok");

    // A panic in the future unwinds through `run`: SIGINT gets its default disposition back
    // all the same (CPython's `finally`), or Ctrl-C outside a run would be swallowed.
    let panicked = std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| {
        runner.run(async { panic!("main fails") })
    }));
    assert!(panicked.is_err());
    assert!(
        disposition_is_default(libc::SIGINT),
        "SIGINT default again after a panicking run"
    );
    assert_eq!(
        runner.run(async { 7 }).unwrap(),
        7,
        "and the runner runs again"
    );
    println!("test l42_a_panicking_run_gives_sigint_back ... ok");

    // A SIGINT handler the future installs on the loop replaces the runner's; the end of the
    // run leaves it alone (CPython restores SIGINT only if the runner's handler is still
    // the one installed).
    let added = runner.run(async {
        let lp = asyncio::get_running_loop().unwrap();
        lp.add_signal_handler(libc::SIGINT, || println!("graceful shutdown"))
    });
    added.unwrap().unwrap();
    assert!(
        !disposition_is_default(libc::SIGINT),
        "the loop's own SIGINT handler is kept"
    );
    assert!(
        runner
            .get_loop()
            .unwrap()
            .remove_signal_handler(libc::SIGINT)
            .unwrap(),
        "still installed on the loop"
    );
    assert!(disposition_is_default(libc::SIGINT));
    runner.close().unwrap();
    println!("test l42_a_sigint_handler_of_the_user_survives_the_run ... ok");
}
