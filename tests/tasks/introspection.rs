//! `current_task`, `all_tasks`, task names, the main future as a task (L15, L24, L35):
//! ports of BaseTaskTests.test_current_task* and BaseCurrentLoopTests.

use super::*;

// CPython: BaseCurrentLoopTests.test_current_task_no_running_loop_implicit
#[test]
fn l15_current_task_outside_a_running_loop() {
    // BaseCurrentLoopTests.test_current_task_no_running_loop(_implicit).
    let err = asyncio::current_task().unwrap_err();
    assert!(matches!(&err, Error::InvalidState(m) if m == "no running event loop"));
    assert!(asyncio::all_tasks().is_err());
    let lp = EventLoop::new().unwrap();
    assert!(lp.current_task().is_none());
    assert!(lp.all_tasks().is_empty());
}

#[test]
fn l24_current_task_is_the_task_being_polled() {
    // test_current_task: inside, the task itself; outside, none.
    let lp = EventLoop::new().unwrap();
    let seen = Rc::new(RefCell::new(Vec::new()));
    let log = seen.clone();
    let task = lp
        .spawn(async move {
            log.borrow_mut().push(asyncio::current_task().unwrap());
        })
        .unwrap();
    let me = task.task_ref();
    lp.run_until_complete(task).unwrap().unwrap();
    assert_eq!(seen.borrow().as_slice(), [Some(me)]);
    assert!(lp.current_task().is_none());
}

#[test]
fn l24_interleaving_tasks_each_see_themselves_across_awaits() {
    // test_current_task_with_interleaving_tasks.
    let lp = EventLoop::new().unwrap();
    let fut1 = lp.create_future::<bool>();
    let fut2 = lp.create_future::<bool>();
    let refs: Rc<RefCell<Vec<(&str, asyncio::TaskRef)>>> = Rc::default();
    let (f1, f2, log) = (fut1.clone(), fut2.clone(), refs.clone());
    let t1 = lp
        .spawn(async move {
            log.borrow_mut()
                .push(("1 before", asyncio::current_task().unwrap().unwrap()));
            f1.clone().await.unwrap();
            log.borrow_mut()
                .push(("1 after", asyncio::current_task().unwrap().unwrap()));
            f2.set_result(true).unwrap();
        })
        .unwrap();
    let (f1, f2, log) = (fut1, fut2, refs.clone());
    let t2 = lp
        .spawn(async move {
            log.borrow_mut()
                .push(("2 before", asyncio::current_task().unwrap().unwrap()));
            f1.set_result(true).unwrap();
            f2.clone().await.unwrap();
            log.borrow_mut()
                .push(("2 after", asyncio::current_task().unwrap().unwrap()));
        })
        .unwrap();
    let (r1, r2) = (t1.task_ref(), t2.task_ref());
    lp.run_until_complete(async move {
        t1.await.unwrap();
        t2.await.unwrap();
    })
    .unwrap();
    let refs = refs.borrow();
    let order: Vec<&str> = refs.iter().map(|(at, _)| *at).collect();
    assert_eq!(order, ["1 before", "2 before", "1 after", "2 after"]);
    for (at, r) in refs.iter() {
        let expected = if at.starts_with('1') { &r1 } else { &r2 };
        assert_eq!(r, expected, "{at}");
        assert_ne!(r, if at.starts_with('1') { &r2 } else { &r1 });
    }
    assert!(lp.current_task().is_none());
}

#[test]
fn l24_the_main_future_is_a_task_and_callbacks_run_outside_any_task() {
    let lp = EventLoop::new().unwrap();
    let in_callback = Rc::new(Cell::new(None));
    let seen = in_callback.clone();
    let handle = lp.handle();
    lp.run_until_complete(async move {
        let main = asyncio::current_task().unwrap().unwrap();
        assert!(main.name().starts_with("Task-"), "{}", main.name());
        assert!(!main.is_done());
        assert_eq!(asyncio::all_tasks().unwrap(), std::slice::from_ref(&main));
        let h = handle.clone();
        handle
            .call_soon(move || seen.set(Some(h.current_task().is_none())))
            .unwrap();
        asyncio::yield_now().await;
        assert_eq!(asyncio::current_task().unwrap(), Some(main));
    })
    .unwrap();
    assert_eq!(
        in_callback.get(),
        Some(true),
        "a plain callback runs in no task"
    );
}

#[test]
fn l24_default_names_count_up_and_set_name_renames() {
    // test_bare_create_named_task, test_task_repr_name_not_str, and the `Task-<n>` names of
    // test_task_repr (other tests of this binary spawn in parallel: later, not next).
    asyncio::run(async {
        let number = |name: String| name["Task-".len()..].parse::<u64>().unwrap();
        let a = asyncio::spawn(async {});
        let b = asyncio::spawn(async {});
        let main = asyncio::current_task().unwrap().unwrap();
        assert!(number(main.name()) < number(a.name()));
        assert!(number(a.name()) < number(b.name()));
        a.set_name("No-op");
        assert_eq!(a.name(), "No-op");
        assert_eq!(a.task_ref().name(), "No-op");
        b.task_ref().set_name(6.to_string());
        assert_eq!(b.name(), "6");
        main.set_name("main");
        assert_eq!(asyncio::current_task().unwrap().unwrap().name(), "main");
        let debug = format!("{a:?}");
        assert!(
            debug.starts_with("<Task pending name='No-op' future="),
            "{debug}"
        );
        a.await.unwrap();
        b.await.unwrap();
    })
    .unwrap();
}

#[test]
fn l24_all_tasks_lists_the_live_tasks_once_each() {
    asyncio::run(async {
        let done = asyncio::spawn(async {});
        let sleeper = asyncio::spawn(std::future::pending::<()>());
        let other = asyncio::spawn(std::future::pending::<()>());
        asyncio::yield_now().await; // `done` runs and ends
        assert!(done.is_done());
        let all = asyncio::all_tasks().unwrap();
        let me = asyncio::current_task().unwrap().unwrap();
        assert_eq!(all[0], me, "the main future first");
        let set: HashSet<_> = all.iter().cloned().collect();
        let expected: HashSet<_> = [me.clone(), sleeper.task_ref(), other.task_ref()].into();
        assert_eq!(set, expected);
        assert_eq!(all.len(), 3);
        // Python's shutdown idiom: cancel every task but this one.
        for task in all.iter().filter(|t| **t != me) {
            assert!(task.cancel());
        }
        assert_eq!(sleeper.await, Err(Cancelled));
        assert_eq!(other.await, Err(Cancelled));
        assert!(all[1].is_done() && all[1].is_cancelled() && all[2].is_cancelled());
        assert!(!all[1].cancel(), "already ended");
        assert_eq!(asyncio::all_tasks().unwrap(), [me]);
        drop(done);
    })
    .unwrap();
}

#[test]
fn l35_reports_name_the_task() {
    let (lp, seen) = recording_loop();
    lp.run_until_complete(async {
        let failing = asyncio::spawn(async { Err::<(), Error>(Error::Timeout) });
        failing.set_name("worker");
        failing.detach();
        let pending = asyncio::spawn(std::future::pending::<()>());
        pending.set_name("stuck");
        pending.detach();
        asyncio::yield_now().await;
    })
    .unwrap();
    lp.close().unwrap();
    let seen = seen.borrow();
    assert_eq!(seen.len(), 2, "{seen:?}");
    assert!(seen[0].starts_with("Task exception was never retrieved"));
    assert!(
        seen[0].contains("task: <Task finished name='worker' future="),
        "{}",
        seen[0]
    );
    assert!(seen[1].starts_with("Task was destroyed but it is pending!"));
    // Described as it was when destroyed, as Python's `<Task pending name='stuck' coro=…>`
    // (before: `<Task cancelled …`, what dropping it then made of it).
    assert!(
        seen[1].contains("task: <Task pending name='stuck' future="),
        "{}",
        seen[1]
    );
}

#[test]
fn l24_a_panicking_main_future_leaves_no_current_task_and_ends() {
    // The panic propagates out of run_until_complete (as a BaseException out of Python's
    // run_until_complete): the main future is no longer polled, so it is neither the current
    // task of later callbacks nor listed among the live tasks, and its refs say it ended.
    let lp = EventLoop::new().unwrap();
    let main_ref = Rc::new(RefCell::new(None));
    let slot = main_ref.clone();
    let panicked = std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| {
        lp.run_until_complete(async move {
            *slot.borrow_mut() = asyncio::current_task().unwrap();
            panic!("main fails");
        })
    }));
    assert!(panicked.is_err());
    let main = main_ref.borrow_mut().take().unwrap();
    assert!(main.is_done(), "{main:?}");
    assert!(!main.cancel(), "a task that ended cannot be cancelled");
    let seen = Rc::new(RefCell::new(None));
    let (out, handle) = (seen.clone(), lp.handle());
    lp.call_soon(move || {
        *out.borrow_mut() = Some((handle.current_task(), handle.all_tasks()));
        handle.stop();
    })
    .unwrap();
    lp.run_forever().unwrap();
    let (current, all) = seen.borrow_mut().take().unwrap();
    assert_eq!(current, None, "a plain callback runs in no task");
    assert!(all.is_empty(), "{all:?}");
}

#[test]
fn l24_a_refused_nested_run_leaves_the_running_main_future_alone() {
    // Python's run_until_complete checks the loop is not running before it makes a task of
    // its argument: the refused call must not replace the running main future's record.
    let lp = EventLoop::new().unwrap();
    let handle = lp.handle();
    lp.run_until_complete(async move {
        let me = asyncio::current_task().unwrap().unwrap();
        me.set_name("main");
        let refused = handle.run_until_complete(async {});
        assert!(
            matches!(&refused, Err(Error::InvalidState(m)) if m == "This event loop is already running"),
            "{refused:?}"
        );
        assert!(!me.is_done(), "{me:?}");
        assert_eq!(me.name(), "main");
        assert_eq!(asyncio::all_tasks().unwrap(), std::slice::from_ref(&me));
        assert_eq!(asyncio::current_task().unwrap().unwrap().name(), "main");
    })
    .unwrap();
}

/// The text a panic carried, as `panic!` with a format or `expect` leaves it.
fn panic_text(payload: &(dyn std::any::Any + Send)) -> &str {
    payload
        .downcast_ref::<String>()
        .map(String::as_str)
        .or_else(|| payload.downcast_ref::<&str>().copied())
        .unwrap_or("")
}

/// L24: `spawn` and a polled `sleep` outside a running loop panic, as documented, with
/// Python's `no running event loop` and then where to call them instead (the commonest
/// first mistakes: spawning in `main` before `asyncio::run`, awaiting our sleep under another
/// runtime). Before, the texts stopped at Python's words.
#[test]
fn l24_spawn_and_sleep_outside_a_running_loop_say_where_to_call_them() {
    let spawned = std::panic::catch_unwind(|| drop(asyncio::spawn(async {}))).unwrap_err();
    assert_eq!(
        panic_text(&*spawned),
        "asyncio::spawn: no running event loop (spawn from code that asyncio::run runs, or \
         onto a loop that is not running with LoopHandle::spawn)"
    );
    let slept = std::panic::catch_unwind(|| {
        let mut sleep = std::pin::pin!(asyncio::sleep(Duration::from_secs(1)));
        let mut cx = std::task::Context::from_waker(std::task::Waker::noop());
        let _ = std::future::Future::poll(sleep.as_mut(), &mut cx);
    })
    .unwrap_err();
    assert_eq!(
        panic_text(&*slept),
        "asyncio::sleep polled outside a running event loop (await it in code that \
         asyncio::run runs; another runtime's executor cannot drive it)"
    );
}
