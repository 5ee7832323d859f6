//! A running `ServerGroup`: a handler's panic (S60), `close` (S73, S69), `close_clients` (S77),
//! dropping the group (its connections aborted), and `wait_closed` (S75): from another loop,
//! twice at once, abandoned (D12), from one of its own workers (L108), and after a worker
//! failed while serving.
//!
//! Peers are blocking std sockets with 10 s timeouts (a bound, never a synchronisation); the
//! group is closed and waited for, and then no worker thread is left (each thread's name is read
//! from `/proc/self/task`). The tests of this binary run one at a time (`util::serial`) so that
//! the thread count is theirs alone.
//!
//! CPython has no server group; each worker is a `Server`, so the group's commands are held to
//! the `Server` items. Shared helpers: `workers_common`; the group's start is in
//! `workers_start.rs`.

mod util;
mod workers_common;

use std::io::{Read, Write};
use std::net::TcpStream;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use asyncio::{Error, ServerGroup, StreamReader, StreamWriter};
use workers_common::{
    addr_of, assert_ended, assert_no_worker_threads, close_and_wait, connect, echo, ping,
    two_echo_workers,
};

// Checklist: S60 (reported to the loop's exception handler, its connection closed).
#[test]
fn a_handler_panic_is_reported_and_its_worker_serves_on() {
    let _serial = util::serial();
    let reports = Arc::new(Mutex::new(Vec::<String>::new()));
    let seen = reports.clone();
    let factory = move || {
        // Called on each worker thread inside its loop: route that loop's reports here.
        let seen = seen.clone();
        let lp = asyncio::get_running_loop().expect("called inside the worker's loop");
        lp.set_exception_handler(Some(
            move |_: &asyncio::LoopHandle, ctx: &asyncio::ExceptionContext| {
                seen.lock().unwrap().push(ctx.message.clone());
            },
        ));
        |reader: StreamReader, writer: StreamWriter| async move {
            let data = reader.read(100).await?;
            if data == b"boom" {
                panic!("the handler blew up");
            }
            writer.write(&data)?;
            writer.close();
            writer.wait_closed().await
        }
    };
    let group = asyncio::serve_on_threads(2, factory, "127.0.0.1", 0)
        .start()
        .unwrap();
    let mut bad = connect(addr_of(&group));
    bad.write_all(b"boom").unwrap();
    assert_ended(&mut bad); // S60: the failed handler's transport is closed
    for _ in 0..8 {
        let mut good = connect(addr_of(&group));
        ping(&mut good, b"fine");
    }
    close_and_wait(&group).unwrap(); // a handler's panic is its connection's, not the worker's
    assert_no_worker_threads();
    let reports = reports.lock().unwrap();
    assert_eq!(*reports, ["Unhandled exception in client_connected_cb"]);
}

/// `close` stops the listening only: held connections are served on, new ones are refused,
/// and `wait_closed` waits for the held ones to end.
// Checklist: S73, S69, S75.
#[test]
fn close_stops_listening_and_leaves_connections_open() {
    let _serial = util::serial();
    for reuse_port in [true, false] {
        let group = asyncio::serve_on_threads(2, echo, "127.0.0.1", 0)
            .reuse_port(reuse_port)
            .start()
            .unwrap();
        let addr = addr_of(&group);
        let mut clients: Vec<TcpStream> = (0..8).map(|_| connect(addr)).collect();
        for c in &mut clients {
            ping(c, b"before");
        }
        group.close();
        // `stats` runs after `close` on each worker's loop (one thread-safe queue, in order):
        // once it returns, every worker has closed its listener.
        let stats = group.stats();
        assert_eq!(stats.iter().map(|s| s.connections).sum::<usize>(), 8);
        assert!(group.sockets().is_empty(), "S69: no socket after close");
        let e = TcpStream::connect(addr).expect_err("S73: the listeners are closed");
        assert_eq!(e.kind(), std::io::ErrorKind::ConnectionRefused, "{e}");
        for c in &mut clients {
            ping(c, b"after"); // S73: accepted connections are left alone
        }
        // S75: closed, but connections are live: wait_closed is not done.
        {
            let mut wait = std::pin::pin!(group.wait_closed());
            let mut cx = std::task::Context::from_waker(std::task::Waker::noop());
            assert!(
                std::future::Future::poll(wait.as_mut(), &mut cx).is_pending(),
                "wait_closed returned with 8 connections open"
            );
        }
        group.close(); // a second close does nothing
        drop(clients); // EOF: the handlers end, then the workers
        close_and_wait(&group).unwrap();
        assert_no_worker_threads();
    }
}

// Checklist: S77 (close_clients after close), S75.
#[test]
fn close_clients_ends_held_connections_and_wait_closed_returns() {
    let _serial = util::serial();
    let group = two_echo_workers();
    let mut clients: Vec<TcpStream> = (0..8).map(|_| connect(addr_of(&group))).collect();
    for c in &mut clients {
        ping(c, b"held");
    }
    group.close();
    group.close_clients(); // each held connection is closed by its worker
    for c in &mut clients {
        let mut rest = Vec::new();
        c.read_to_end(&mut rest).expect("a clean EOF");
        assert!(rest.is_empty());
    }
    asyncio::run(group.wait_closed()).unwrap().unwrap();
    assert_no_worker_threads();
}

#[test]
fn dropping_the_group_aborts_connections_and_joins_the_threads() {
    let _serial = util::serial();
    let group = two_echo_workers();
    let mut held = connect(addr_of(&group));
    ping(&mut held, b"held");
    drop(group);
    assert_no_worker_threads();
    assert_ended(&mut held); // aborted with its worker (S77's abort_clients, then the loop ends)
}

// Checklist: S75 (no connection: wait_closed returns once closed).
#[test]
fn wait_closed_from_another_loop_thread_and_the_group_is_send_sync() {
    fn send_sync<T: Send + Sync>(_: &T) {}
    let _serial = util::serial();
    let group = Arc::new(two_echo_workers());
    send_sync(&*group);
    let lt = asyncio::LoopThread::spawn().unwrap();
    let waiter = group.clone();
    let done = lt.run_coroutine_threadsafe(move || async move { waiter.wait_closed().await });
    group.close();
    done.result(Some(Duration::from_secs(10))).unwrap().unwrap();
    lt.stop().unwrap();
    assert_no_worker_threads();
}

/// A worker that ends with an error after it started serving (here its loop is stopped under
/// it) does not take the group down silently: the other worker goes on until closed, the
/// group's figures still list the ended one, `workers()` and (with a listener each)
/// `sockets()` no longer count it, and `wait_closed` returns its error.
// Checklist: S75 (group only: the error a worker ended with).
#[test]
fn a_worker_that_fails_while_serving_is_surfaced_by_wait_closed() {
    let _serial = util::serial();
    let (stopped_tx, stopped_rx) = std::sync::mpsc::channel::<()>();
    let stopped_tx = Arc::new(Mutex::new(stopped_tx));
    let factory = move || {
        let stopped_tx = stopped_tx.clone();
        move |reader: StreamReader, writer: StreamWriter| {
            let stopped_tx = stopped_tx.clone();
            async move {
                let data = reader.read(100).await?;
                if data == b"stop" {
                    // No await between the two: the stop is set before any group command runs.
                    let _ = stopped_tx.lock().unwrap().send(());
                    asyncio::get_running_loop()?.stop();
                    return Ok(());
                }
                writer.write(&data)?;
                writer.close();
                writer.wait_closed().await
            }
        }
    };
    let group = asyncio::serve_on_threads(2, factory, "127.0.0.1", 0)
        .start()
        .unwrap();
    let mut victim = connect(addr_of(&group));
    victim.write_all(b"stop").unwrap();
    stopped_rx
        .recv_timeout(Duration::from_secs(10))
        .expect("a worker read the stop");
    // Its thread ends after the stop: looked at again (yielding, bounded by 10 s).
    let deadline = std::time::Instant::now() + Duration::from_secs(10);
    while group.workers() != 1 && std::time::Instant::now() < deadline {
        std::thread::yield_now();
    }
    assert_eq!(group.workers(), 1, "the ended worker no longer counts");
    // The survivor's own listener (`SO_REUSEPORT`), or the shared one it still holds; the
    // ended worker closed its copy with its loop, so a new connection reaches the survivor.
    assert_eq!(group.sockets().len(), 1, "{:?}", group.sockets());
    ping(&mut connect(addr_of(&group)), b"still served");
    assert_eq!(group.stats().len(), 2, "an ended worker is still listed");
    let err = close_and_wait(&group).unwrap_err();
    assert_eq!(group.workers(), 0);
    match &err {
        Error::InvalidState(msg) => assert!(msg.contains("stopped"), "{msg}"),
        other => panic!("expected the stopped worker's error, got {other:?}"),
    }
    assert_no_worker_threads();
    // Every call reports it: a second wait (another task, a retry) sees the same error. It
    // used to drain the errors and return `Ok`.
    match asyncio::run(group.wait_closed()).unwrap() {
        Err(Error::InvalidState(msg)) => assert!(msg.contains("stopped"), "{msg}"),
        other => panic!("expected the same error again, got {other:?}"),
    }
    drop(victim);
}

/// D12: a `wait_closed` polled and then dropped (abandoned under a `timeout`, in a select)
/// takes its waker back; each one used to stay with the group until the workers ended.
// Checklist: D12, S75.
#[test]
fn d12_abandoned_wait_closed_calls_leave_no_waker_behind() {
    let _serial = util::serial();
    let group = two_echo_workers();
    let probe = util::Probe::new();
    for _ in 0..10 {
        let mut wait = std::pin::pin!(group.wait_closed());
        assert!(probe.poll(wait.as_mut()).is_pending(), "the group serves");
        assert!(probe.poll(wait.as_mut()).is_pending(), "the group serves");
    }
    assert_eq!(Arc::strong_count(&probe), 1, "waker kept");
    close_and_wait(&group).unwrap(); // a later wait still ends
    assert_no_worker_threads();
}

/// What a worker thread still does after it has told the group it ended: the destructor of
/// a thread-local its callback factory touched. It holds the thread's end until the test has
/// its answer: a waiter has returned (too early: the failure), or both waiters sleep on the
/// thread's end (see [`both_wait_on_the_threads_end`]). Bounded by one second, waited out
/// only where neither comes (a /proc that does not show where threads sleep): a bound on a
/// failure, never the wait of a passing run.
struct HoldsTheThreadsEnd;

/// Set by [`HoldsTheThreadsEnd`]'s drop once it lets the thread end.
static THREAD_ENDED: AtomicBool = AtomicBool::new(false);
/// Set by a waiter once its `wait_closed` has returned (after it has read `THREAD_ENDED`).
static RETURNED: AtomicBool = AtomicBool::new(false);
/// The waiters' thread ids, each filed on its loop just before its `wait_closed`.
static WAITERS: Mutex<Vec<u32>> = Mutex::new(Vec::new());

impl Drop for HoldsTheThreadsEnd {
    fn drop(&mut self) {
        let bound = Instant::now() + Duration::from_secs(1);
        while !RETURNED.load(Ordering::SeqCst) && Instant::now() < bound {
            if both_wait_on_the_threads_end() {
                break;
            }
            std::thread::park_timeout(Duration::from_millis(1)); // between two looks
        }
        THREAD_ENDED.store(true, Ordering::SeqCst);
    }
}

thread_local! {
    static HOLD: HoldsTheThreadsEnd = const { HoldsTheThreadsEnd };
}

/// This thread's id (`gettid`), from the `/proc/thread-self` link (`PID/task/TID`).
fn thread_id() -> Option<u32> {
    let link = std::fs::read_link("/proc/thread-self").ok()?;
    link.file_name()?.to_str()?.parse().ok()
}

/// Whether thread `tid` of this process sleeps in a futex wait (a lock or a join): its
/// `wchan` names the kernel function it sleeps in, and is `0` while it runs or may run.
fn asleep_in_futex(tid: u32) -> bool {
    let wchan = std::fs::read_to_string(format!("/proc/self/task/{tid}/wchan"));
    wchan.is_ok_and(|w| w.contains("futex"))
}

/// Whether both waiters sleep on the worker thread's end: one in its join, the other on the
/// lock the first holds across that join. Read first, second, first: before the second waiter
/// has chosen between waiting and returning, the two cannot both sleep in a futex (one held
/// up on a lock the other holds is woken as the other lets go, before the other can sleep in
/// its join).
fn both_wait_on_the_threads_end() -> bool {
    let waiters = WAITERS.lock().unwrap().clone();
    let [first, second] = waiters[..] else {
        return false;
    };
    asleep_in_futex(first) && asleep_in_futex(second) && asleep_in_futex(first)
}

// Two wait_closed calls at once both return after every worker thread has ended: the second
// used to return while the first was still joining the threads (it found none left to join).
// Checklist: S75 (the group's wait_closed).
#[test]
fn two_wait_closed_calls_at_once_both_return_after_every_worker_has_ended() {
    let _serial = util::serial();
    let make = || {
        HOLD.with(|_| ()); // the worker thread's end now waits for its destructor
        echo()
    };
    let group = Arc::new(
        asyncio::serve_on_threads(1, make, "127.0.0.1", 0)
            .start()
            .unwrap(),
    );
    let waiters: Vec<_> = (0..2)
        .map(|_| {
            let group = group.clone();
            std::thread::spawn(move || {
                asyncio::run(async move {
                    // Filed and read inside the loop, right around wait_closed: a futex
                    // sleep of the loop's set-up or teardown (none is known) can neither
                    // pass for the wait nor let the thread end before `ended` is read.
                    WAITERS.lock().unwrap().extend(thread_id());
                    let result = group.wait_closed().await;
                    let ended = THREAD_ENDED.load(Ordering::SeqCst);
                    RETURNED.store(true, Ordering::SeqCst);
                    (result, ended)
                })
            })
        })
        .collect();
    group.close();
    for waiter in waiters {
        let (result, ended) = waiter.join().unwrap().unwrap();
        result.unwrap();
        assert!(
            ended,
            "a wait_closed returned before the worker thread had ended"
        );
    }
    assert_no_worker_threads();
}

// A worker's handler awaiting its own group's wait_closed would wait for its own end (its
// connection keeps its loop, and so its thread, running): refused at once, as joining the
// current thread is.
#[test]
fn l108_wait_closed_on_one_of_the_groups_own_workers_is_refused() {
    use std::sync::{mpsc, OnceLock};

    let _serial = util::serial();
    let group: Arc<OnceLock<ServerGroup>> = Arc::new(OnceLock::new());
    let (tx, rx) = mpsc::channel::<Result<(), Error>>();
    let make_cb = {
        let group = group.clone();
        move || {
            let (group, tx) = (group.clone(), tx.clone());
            move |_r: StreamReader, w: StreamWriter| {
                let (group, tx) = (group.clone(), tx.clone());
                async move {
                    let g = group.get().expect("the group has started");
                    let _ = tx.send(g.wait_closed().await);
                    w.close();
                    Ok::<_, Error>(())
                }
            }
        }
    };
    let started = asyncio::serve_on_threads(1, make_cb, "127.0.0.1", 0)
        .start()
        .unwrap();
    let addr = addr_of(&started);
    assert!(group.set(started).is_ok());
    let client = connect(addr);
    let got = rx
        .recv_timeout(Duration::from_secs(30))
        .expect("the handler's wait_closed returned");
    match got {
        Err(Error::InvalidState(text)) => assert!(text.contains("own workers"), "{text}"),
        other => panic!("expected InvalidState, got {other:?}"),
    }
    drop(client);
    close_and_wait(group.get().unwrap()).unwrap();
    assert_no_worker_threads();
    assert!(Arc::into_inner(group).is_some());
}
