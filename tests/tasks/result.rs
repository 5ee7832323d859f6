//! `Task::result()`: the outcome of an ended task read without awaiting it, Python's
//! `Task.result()` (L26: `Result is not ready.` while pending, the cancellation of a cancelled
//! task; L35: a failure taken counts as seen; L43: what an await would give).

use super::*;

fn is_invalid_state(r: &Result<impl std::fmt::Debug, Error>, text: &str) -> bool {
    matches!(r, Err(Error::InvalidState(m)) if m == text)
}

#[test]
fn l26_result_of_a_task_not_done_is_not_ready_and_takes_nothing() {
    let lp = EventLoop::new().unwrap();
    let mut task = lp.spawn(async { 7u8 }).unwrap();
    let early = task.result();
    assert!(
        is_invalid_state(&early, "Result is not ready."),
        "{early:?}"
    );
    assert_eq!(early.unwrap_err().to_string(), "Result is not ready.");
    assert!(!task.is_done(), "asking does not end or cancel the task");
    assert_eq!(
        lp.run_until_complete(task).unwrap(),
        Ok(7),
        "the await still gets it"
    );
}

#[test]
fn l26_l43_result_of_a_done_task_is_its_output_once() {
    let lp = EventLoop::new().unwrap();
    let mut task = lp.spawn(async { String::from("out") }).unwrap();
    turn_until(&lp, 3, || task.is_done());
    assert!(task.is_done() && !task.is_cancelled());
    assert_eq!(task.result().unwrap(), "out");
    // The output was moved out: a second call says so, an await has only `Err(Cancelled)`.
    let again = task.result();
    assert!(
        is_invalid_state(&again, "result already taken"),
        "{again:?}"
    );
    assert!(!task.is_cancelled(), "the task still ended with a value");
    assert_eq!(lp.run_until_complete(task).unwrap(), Err(Cancelled));
}

#[test]
fn l43_result_after_an_await_took_the_output_says_it_was_taken() {
    let lp = EventLoop::new().unwrap();
    let mut task = lp.spawn(async { 1u8 }).unwrap();
    let (out, mut task) = lp
        .run_until_complete(async move { ((&mut task).await, task) })
        .unwrap();
    assert_eq!(out, Ok(1));
    let r = task.result();
    assert!(is_invalid_state(&r, "result already taken"), "{r:?}");
}

#[test]
fn l35_result_of_a_panicked_task_is_the_panic_and_counts_as_seen() {
    let (lp, log) = recording_loop();
    let mut task = lp
        .spawn(async {
            if true {
                panic!("boom");
            }
            0u8
        })
        .unwrap();
    turn_until(&lp, 3, || task.is_done());
    assert!(task.is_done() && !task.is_cancelled());
    match task.result() {
        Err(Error::Panic(p)) => assert_eq!(p.message(), "boom"),
        other => panic!("expected the panic, got {other:?}"),
    }
    let again = task.result();
    assert!(
        is_invalid_state(&again, "result already taken"),
        "{again:?}"
    );
    drop(task);
    lp.run_once(Some(Duration::ZERO)).unwrap();
    assert!(
        log.borrow().is_empty(),
        "retrieved, so never reported: {log:?}"
    );
}

#[test]
fn l26_l28_result_of_a_cancelled_task_is_cancelled_at_every_call() {
    let lp = EventLoop::new().unwrap();
    let mut task = lp.spawn(std::future::pending::<u8>()).unwrap();
    assert!(task.cancel());
    turn_until(&lp, 3, || task.is_done());
    assert!(task.is_cancelled());
    assert!(matches!(task.result(), Err(Error::Cancelled)));
    assert!(matches!(task.result(), Err(Error::Cancelled)), "not taken");
    assert_eq!(lp.run_until_complete(task).unwrap(), Err(Cancelled));
}
