//! A server's hosts are resolved concurrently, as CPython's `create_server` gathers one
//! `getaddrinfo` per host (L97). Alone in its binary: it narrows the process-wide default
//! executor to one thread, which no other test may share.

use std::future::IntoFuture;
use std::sync::mpsc;
use std::time::Duration;

use asyncio::{StreamReader, StreamWriter};

// Checklist: L97. With one executor thread, held by a gate, the lookups queue in the pool's
// FIFO order. Both hosts' lookups are queued before a second gate job: released, the one
// thread runs the first gate, both lookups, then blocks in the second gate, and the server
// comes up while it blocks. Resolved one after another, the second lookup would be queued
// only once the first had answered, behind the second gate: the server would not come up
// until that gate opened, and the bound below would expire. `127.1` and `127.2` are IPv4
// addresses in inet_aton's short form, which the crate's literal parser leaves to
// getaddrinfo (no name server asked).
#[test]
fn l97_every_hosts_lookup_is_started_before_any_answers() {
    asyncio::set_executor_max_threads(1).unwrap();
    let (open_first, first) = mpsc::channel::<()>();
    let (open_second, second) = mpsc::channel::<()>();
    let up = asyncio::run(async move {
        let gate = asyncio::run_in_executor(move || first.recv());
        let server = asyncio::spawn(
            asyncio::start_server(|_r: StreamReader, w: StreamWriter| w.close(), "", 0)
                .hosts(&["127.1", "127.2"])
                .into_future(),
        );
        // Turns of the ready queue, no I/O: the server's task and whatever it spawns start
        // their lookups in these.
        for _ in 0..10 {
            asyncio::yield_now().await;
        }
        let second_gate = asyncio::run_in_executor(move || second.recv());
        open_first.send(()).unwrap();
        gate.await?.unwrap();
        let server = asyncio::timeout(Duration::from_secs(10), server).await;
        open_second.send(()).unwrap();
        second_gate.await?.unwrap();
        let server = server
            .map_err(|_| "the server waited for the second gate: one lookup at a time")???;
        let mut bound: Vec<_> = server
            .sockets()
            .iter()
            .map(|a| a.as_inet().unwrap().ip().to_string())
            .collect();
        bound.sort();
        server.close();
        Ok::<_, Box<dyn std::error::Error>>(bound)
    })
    .unwrap()
    .unwrap();
    assert_eq!(up, ["127.0.0.1", "127.0.0.2"]);
}
