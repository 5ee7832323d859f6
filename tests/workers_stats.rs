//! A `ServerGroup`'s figures (`stats`) asked from inside its workers' callbacks, by two workers
//! of one group or of two groups at the same moment: each answers the other's request while it
//! waits for its own (no deadlock). Only the group has this; CPython has no server group.
//!
//! Peers are blocking std sockets with 10 s timeouts (a bound, never a synchronisation); the
//! group is closed and waited for, and then no worker thread is left (each thread's name is read
//! from `/proc/self/task`). The tests of this binary run one at a time (`util::serial`) so that
//! the thread count is theirs alone.
//! Shared helpers: `workers_common`.

mod util;
mod workers_common;

use std::net::TcpStream;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use asyncio::{ServerGroup, StreamReader, StreamWriter};
use workers_common::{addr_of, assert_no_worker_threads, close_and_wait, connect};

/// Where worker callbacks meet: how many have arrived, and the signal that one has.
type Meeting = Arc<(Mutex<usize>, std::sync::Condvar)>;

/// Arrives at `meeting` and holds this thread, and so its worker's loop, until `parties` have
/// arrived. Bounded by 20 s, after which it goes on (the test's own bounds then fail).
fn meet(meeting: &Meeting, parties: usize) {
    let (count, changed) = &**meeting;
    let mut n = count.lock().unwrap();
    *n += 1;
    changed.notify_all();
    let wait = changed.wait_timeout_while(n, Duration::from_secs(20), |n| *n < parties);
    drop(wait.unwrap());
}

/// The two answers the workers send, each within 30 s; fails with what came instead.
fn two_answers<T: std::fmt::Debug>(rx: &std::sync::mpsc::Receiver<T>) -> [T; 2] {
    let first = rx.recv_timeout(Duration::from_secs(30));
    let second = rx.recv_timeout(Duration::from_secs(30));
    match (first, second) {
        (Ok(a), Ok(b)) => [a, b],
        other => panic!("a worker never answered (deadlock?): {other:?}"),
    }
}

// Two workers ask for the group's figures from inside their callbacks at the same moment:
// each answers the other's request while it waits for its own (no deadlock), and both see
// both workers. Bounded: every wait has a timeout, and on failure the group is left undropped
// (its callbacks hold it) so that no join can hang the test.
#[test]
fn workers_asking_for_stats_at_once_answer_each_other() {
    use std::sync::{mpsc, OnceLock};

    let _serial = util::serial();
    let group: Arc<OnceLock<ServerGroup>> = Arc::new(OnceLock::new());
    let inside = Meeting::default();
    let (tx, rx) = mpsc::channel::<Vec<asyncio::WorkerStats>>();
    let make_cb = {
        let (group, inside) = (group.clone(), inside.clone());
        move || {
            let (group, inside, tx) = (group.clone(), inside.clone(), tx.clone());
            let first = std::cell::Cell::new(true);
            move |_r: StreamReader, w: StreamWriter| {
                if first.replace(false) {
                    // The first connection on this worker: hold its loop until the other
                    // worker is inside a callback too, then both ask at once.
                    meet(&inside, 2);
                    let stats = group.get().expect("the group has started").stats();
                    let _ = tx.send(stats);
                }
                w.close();
            }
        }
    };
    let started = asyncio::serve_on_threads(2, make_cb, "127.0.0.1", 0)
        .start()
        .unwrap();
    let addr = addr_of(&started);
    assert!(group.set(started).is_ok());
    // With SO_REUSEPORT the kernel hashes each connection to a worker: 32 connections all on
    // one of two workers has odds of 2^-31.
    let clients: Vec<TcpStream> = (0..32).map(|_| connect(addr)).collect();
    for stats in &two_answers(&rx) {
        assert_eq!(stats.len(), 2, "{stats:?}");
        assert!(
            stats.iter().all(|s| s.accepted >= 1),
            "each worker has accepted the connection it is inside: {stats:?}"
        );
    }
    drop(clients);
    close_and_wait(group.get().unwrap()).unwrap();
    assert_no_worker_threads();
    // The workers' callbacks ended with their threads: the test holds the last reference.
    assert!(Arc::into_inner(group).is_some());
}

// The workers of two groups ask for the other group's figures from inside their callbacks at
// the same moment: each answers the other's request while it waits for its own. Bounded as
// the test above.
#[test]
fn workers_of_two_groups_asking_each_other_at_once_answer_each_other() {
    use std::sync::{mpsc, OnceLock};

    let _serial = util::serial();
    let groups: [Arc<OnceLock<ServerGroup>>; 2] = Default::default();
    let inside = Meeting::default();
    let (tx, rx) = mpsc::channel::<(usize, Vec<asyncio::WorkerStats>)>();
    let make_cb = |mine: usize| {
        let (other, inside, tx) = (groups[1 - mine].clone(), inside.clone(), tx.clone());
        move || {
            let (other, inside, tx) = (other.clone(), inside.clone(), tx.clone());
            let first = std::cell::Cell::new(true);
            move |_r: StreamReader, w: StreamWriter| {
                if first.replace(false) {
                    // Hold this loop until the other group's worker is inside a callback
                    // too, then both ask at once.
                    meet(&inside, 2);
                    let stats = other.get().expect("both groups have started").stats();
                    let _ = tx.send((mine, stats));
                }
                w.close();
            }
        }
    };
    let mut addrs = Vec::new();
    for (mine, slot) in groups.iter().enumerate() {
        let group = asyncio::serve_on_threads(1, make_cb(mine), "127.0.0.1", 0)
            .start()
            .unwrap();
        addrs.push(addr_of(&group));
        assert!(slot.set(group).is_ok());
    }
    let clients: Vec<TcpStream> = addrs.iter().map(|&a| connect(a)).collect();
    for (mine, stats) in &two_answers(&rx) {
        assert_eq!(stats.len(), 1, "{stats:?}");
        assert_eq!(
            stats[0].accepted, 1,
            "group {mine} sees the other's connection: {stats:?}"
        );
    }
    drop(clients);
    for group in &groups {
        close_and_wait(group.get().unwrap()).unwrap();
    }
    assert_no_worker_threads();
    for group in groups {
        assert!(Arc::into_inner(group).is_some());
    }
}
