//! The default executor: `run_in_executor`, `to_thread`, the pool's bound.

use super::*;

// ---- run_in_executor / to_thread (base_events.run_in_executor, threads.to_thread) ----

#[test]
fn run_in_executor_returns_the_result() {
    run(async {
        let v = run_in_executor(|| (1..=10u32).product::<u32>())
            .await
            .unwrap();
        assert_eq!(v, 3_628_800);
        let s = to_thread(|| String::from("from a thread")).await.unwrap();
        assert_eq!(s, "from a thread");
    });
}

#[test]
fn run_in_executor_panic_is_an_error_not_a_crash() {
    run(async {
        match run_in_executor(|| -> u8 { panic!("blocking call failed") }).await {
            Err(Error::Panic(p)) => assert_eq!(p.message(), "blocking call failed"),
            other => panic!("{other:?}"),
        }
        // The pool still works afterwards.
        assert_eq!(run_in_executor(|| 1).await.unwrap(), 1);
    });
}

#[test]
fn run_in_executor_reuses_threads() {
    run(async {
        let mut names = HashSet::new();
        for _ in 0..50 {
            let id = run_in_executor(|| {
                let t = std::thread::current();
                assert_eq!(t.name(), Some("asyncio-executor"));
                format!("{:?}", t.id())
            })
            .await
            .unwrap();
            names.insert(id);
        }
        assert!(
            names.len() <= asyncio::executor_max_threads(),
            "{} threads for 50 calls",
            names.len()
        );
    });
}

#[test]
fn run_in_executor_bounded_pool_queues_work() {
    // More blocking jobs than threads: at most `max` run at once, the rest wait their turn,
    // and every one finishes once released.
    run(async {
        let max = asyncio::executor_max_threads();
        let jobs = max + 3;
        let running = Arc::new(AtomicUsize::new(0));
        let peak = Arc::new(AtomicUsize::new(0));
        let gate = Arc::new((Mutex::new(false), Condvar::new()));
        let (started_tx, started_rx) = mpsc::channel();
        let futs: Vec<_> = (0..jobs)
            .map(|i| {
                let (running, peak, gate) = (running.clone(), peak.clone(), gate.clone());
                let started = started_tx.clone();
                run_in_executor(move || {
                    let now = running.fetch_add(1, Ordering::SeqCst) + 1;
                    peak.fetch_max(now, Ordering::SeqCst);
                    started.send(i).unwrap();
                    let (open, cv) = &*gate;
                    let mut open = open.lock().unwrap();
                    while !*open {
                        open = cv.wait(open).unwrap();
                    }
                    running.fetch_sub(1, Ordering::SeqCst);
                    i
                })
            })
            .collect();
        // Blocks the loop thread on purpose: the pool needs no loop to start jobs.
        for _ in 0..max {
            started_rx.recv().unwrap();
        }
        *gate.0.lock().unwrap() = true;
        gate.1.notify_all();
        let results = gather(futs).await.unwrap();
        assert_eq!(results, (0..jobs).collect::<Vec<_>>());
        assert!(
            peak.load(Ordering::SeqCst) <= max,
            "more than {max} ran at once"
        );
    });
}

#[test]
fn run_in_executor_dropped_future_lets_the_job_finish() {
    let (done_tx, done_rx) = mpsc::channel();
    let (go_tx, go_rx) = mpsc::channel::<()>();
    run(async move {
        let fut = run_in_executor(move || {
            go_rx.recv().unwrap();
            done_tx.send("finished").unwrap();
        });
        drop(fut);
        go_tx.send(()).unwrap();
    });
    assert_eq!(done_rx.recv().unwrap(), "finished");
}

#[test]
fn run_in_executor_outside_a_loop_still_delivers() {
    // The future needs only a waker: a loop polls it here after another loop has closed.
    let fut = run_in_executor(|| 9);
    assert_eq!(asyncio::run(fut).unwrap().unwrap(), 9);
}

#[test]
fn set_executor_max_threads_refuses_zero() {
    assert!(matches!(
        asyncio::set_executor_max_threads(0),
        Err(Error::InvalidArgument(_))
    ));
}
