//! The default executor's bound (`run_in_executor`, `to_thread`): CPython's
//! `ThreadPoolExecutor` default, `min(32, os.cpu_count() + 4)` threads.

use std::sync::{Condvar, Mutex};
use std::time::Instant;

use super::*;

/// The online CPUs as Python's `os.cpu_count()` reads them.
fn cpu_count() -> usize {
    // SAFETY: sysconf takes a plain integer name and reports failure as -1.
    let n = unsafe { libc::sysconf(libc::_SC_NPROCESSORS_ONLN) };
    usize::try_from(n).map_or(1, |n| n.max(1))
}

// Nothing in this binary changes the bound: it is the default.
#[test]
fn the_default_executor_bound_is_cpythons_cpu_count_plus_4_at_most_32() {
    assert_eq!(
        asyncio::executor_max_threads(),
        (cpu_count() + 4).min(32),
        "ThreadPoolExecutor's default max_workers"
    );
}

/// Five blocking jobs that each wait for all five to have started (a rendezvous, as jobs
/// blocked on one another's input are): CPython's default pool runs them at once on any
/// machine (at least 5 threads); a bound of the CPU count left the later ones queued behind
/// the waiting ones on a machine with fewer than 5 CPUs, each waiting out its bound.
#[test]
fn five_blocking_jobs_that_wait_for_one_another_all_run_at_once() {
    const JOBS: usize = 5;
    let meeting = Arc::new((Mutex::new(0usize), Condvar::new()));
    let lp = EventLoop::new().unwrap();
    let met = lp
        .run_until_complete(async move {
            let jobs: Vec<_> = (0..JOBS)
                .map(|_| {
                    let meeting = meeting.clone();
                    asyncio::run_in_executor(move || {
                        let (arrived, cv) = &*meeting;
                        let mut n = arrived.lock().unwrap();
                        *n += 1;
                        cv.notify_all();
                        let end = Instant::now() + Duration::from_secs(10);
                        while *n < JOBS {
                            let left = end.saturating_duration_since(Instant::now());
                            if left.is_zero() {
                                return false; // bounded: the others never came
                            }
                            n = cv.wait_timeout(n, left).unwrap().0;
                        }
                        true
                    })
                })
                .collect();
            let mut met = Vec::new();
            for job in jobs {
                met.push(job.await.unwrap());
            }
            met
        })
        .unwrap();
    assert_eq!(
        met, [true; JOBS],
        "some jobs waited in the queue behind the others"
    );
}
