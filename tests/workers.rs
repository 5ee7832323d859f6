//! `serve_on_threads` and `ServerGroup`: stream servers across cores, one loop per thread.
//!
//! Peers are blocking std sockets with 10 s timeouts (a bound, never a synchronisation); the
//! group is closed and waited for, and then no worker thread is left (each thread's name is read
//! from `/proc/self/task`). The tests of this binary run one at a time (`util::serial`) so that
//! the thread count is theirs alone. With `SO_REUSEPORT` the kernel spreads connections by a
//! hash of their addresses, so no test asserts how they split between workers, only their sum.
//!
//! CPython has no server group; each worker is a `Server`, so the group's commands are held to
//! the `Server` items: `sockets` (S69), `close` (S73), `wait_closed` (S75), `close_clients` /
//! `abort_clients` (S77), a failing handler (S60), `reuse_port` (L98), the limit (S11). Tests
//! without an id pin what only the group has (worker counts, threads, start-up failures).

mod util;

use std::io::{Read, Write};
use std::net::{SocketAddr, TcpStream};
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use asyncio::{Error, ServerGroup, StreamReader, StreamWriter};

/// The echo handler of `examples/echo_server.rs`: read, write, drain, until EOF.
fn echo() -> impl Fn(
    StreamReader,
    StreamWriter,
) -> std::pin::Pin<Box<dyn std::future::Future<Output = asyncio::Result<()>>>>
       + Clone {
    |reader: StreamReader, writer: StreamWriter| Box::pin(util::echo_example(reader, writer))
}

fn connect(addr: SocketAddr) -> TcpStream {
    let s = TcpStream::connect(addr).expect("connect");
    s.set_read_timeout(Some(Duration::from_secs(10))).unwrap();
    s.set_write_timeout(Some(Duration::from_secs(10))).unwrap();
    s
}

/// The peer's side of a connection the server has ended: EOF, or a reset when it was aborted
/// or closed with unread data. Fails on the read timeout (the connection stayed open) or data.
fn assert_ended(s: &mut TcpStream) {
    let mut rest = Vec::new();
    match s.read_to_end(&mut rest) {
        Ok(_) => assert!(rest.is_empty(), "unexpected data: {rest:?}"),
        Err(e) => assert_eq!(
            e.kind(),
            std::io::ErrorKind::ConnectionReset,
            "the connection was not ended: {e}"
        ),
    }
}

/// One round trip; panics unless the echo comes back whole.
fn ping(s: &mut TcpStream, msg: &[u8]) {
    s.write_all(msg).expect("write");
    let mut back = vec![0; msg.len()];
    s.read_exact(&mut back).expect("echo");
    assert_eq!(back, msg);
}

fn addr_of(group: &ServerGroup) -> SocketAddr {
    group.sockets()[0].as_inet().expect("a TCP listener")
}

/// Every listening address of the group, each a TCP one.
fn inet_sockets(group: &ServerGroup) -> Vec<SocketAddr> {
    let sockets = group.sockets();
    sockets.iter().map(|a| a.as_inet().unwrap()).collect()
}

/// The first of `bound` on `ip`; fails, naming them, when none is.
fn bound_on(bound: &[SocketAddr], ip: std::net::IpAddr) -> SocketAddr {
    let at = bound.iter().find(|a| a.ip() == ip);
    *at.unwrap_or_else(|| panic!("{ip} not bound: {bound:?}"))
}

/// Threads of this process named after a worker (`asyncio-worker-N`, cut to 15 bytes).
fn worker_threads() -> usize {
    std::fs::read_dir("/proc/self/task")
        .map(|tasks| {
            tasks
                .filter_map(|t| std::fs::read_to_string(t.ok()?.path().join("comm")).ok())
                .filter(|name| name.starts_with("asyncio-worker"))
                .count()
        })
        .unwrap_or(0)
}

/// No worker thread is left. The threads are joined already; a joined thread can stay listed
/// in `/proc` for the moment between its exit and the kernel's release of it, so this looks
/// again (yielding, bounded by 10 s) before it fails.
fn assert_no_worker_threads() {
    let deadline = std::time::Instant::now() + Duration::from_secs(10);
    while worker_threads() != 0 && std::time::Instant::now() < deadline {
        std::thread::yield_now();
    }
    assert_eq!(worker_threads(), 0, "a worker thread is left");
}

fn close_and_wait(group: &ServerGroup) -> Result<(), Error> {
    group.close();
    asyncio::run(group.wait_closed())?
}

// Checklist: L98 (a SO_REUSEPORT listener each), S69 (`sockets`, empty after close), S75
// (`wait_closed` once the connections have ended).
#[test]
fn two_workers_share_one_port_and_serve_every_connection() {
    let _serial = util::serial();
    let group = asyncio::serve_on_threads(2, echo, "127.0.0.1", 0)
        .start()
        .unwrap();
    assert_eq!(group.workers(), 2);
    let sockets = group.sockets();
    if group.reuse_port() {
        assert_eq!(sockets.len(), 2, "one listener per worker");
    }
    let ports = inet_sockets(&group);
    assert!(
        ports.iter().all(|a| a == &ports[0]),
        "one port: {sockets:?}"
    );
    assert_ne!(addr_of(&group).port(), 0);
    if cfg!(target_os = "linux") {
        assert!(group.reuse_port(), "Linux has SO_REUSEPORT");
    }
    assert_eq!(worker_threads(), 2);

    let mut clients: Vec<TcpStream> = (0..64).map(|_| connect(addr_of(&group))).collect();
    for (i, c) in clients.iter_mut().enumerate() {
        ping(c, format!("message {i}").as_bytes());
    }
    // Every client has had its echo and is still open: each is accepted and alive somewhere.
    let stats = group.stats();
    assert_eq!(stats.len(), 2);
    assert_eq!(stats.iter().map(|s| s.worker).collect::<Vec<_>>(), [0, 1]);
    assert_eq!(
        stats.iter().map(|s| s.accepted).sum::<u64>(),
        64,
        "{stats:?}"
    );
    assert_eq!(
        stats.iter().map(|s| s.connections).sum::<usize>(),
        64,
        "{stats:?}"
    );
    let tasks: usize = stats.iter().map(|s| s.loop_stats.tasks).sum();
    assert!(tasks >= 64, "a handler task per connection: {stats:?}");

    drop(clients); // EOF on each: every handler ends, then every worker can end
    close_and_wait(&group).unwrap();
    assert_no_worker_threads();
    assert!(group.sockets().is_empty());
    let after = group.stats();
    assert_eq!(after.iter().map(|s| s.accepted).sum::<u64>(), 64);
    assert!(after.iter().all(|s| s.connections == 0));
}

// Checklist: L98 (reuse_port off: one shared listener).
#[test]
fn one_shared_listener_serves_too() {
    let _serial = util::serial();
    let group = asyncio::serve_on_threads(2, echo, "127.0.0.1", 0)
        .reuse_port(false)
        .start()
        .unwrap();
    assert!(!group.reuse_port());
    assert_eq!(group.sockets().len(), 1);
    let mut clients: Vec<TcpStream> = (0..16).map(|_| connect(addr_of(&group))).collect();
    for c in &mut clients {
        ping(c, b"shared");
    }
    assert_eq!(group.stats().iter().map(|s| s.accepted).sum::<u64>(), 16);
    drop(clients);
    close_and_wait(&group).unwrap();
    assert_no_worker_threads();
}

/// A group's start on an address something already listens on: `AddrInUse`, errno kept, as
/// a plain server's bind fails (L99), not a silent join of the listeners there.
fn assert_addr_in_use(result: Result<ServerGroup, Error>) {
    match result {
        Err(e) => {
            assert_eq!(e.kind(), std::io::ErrorKind::AddrInUse, "{e:?}");
            assert_eq!(e.raw_os_error(), Some(libc::EADDRINUSE), "{e:?}");
        }
        Ok(g) => {
            let sockets = g.sockets();
            drop(g);
            panic!("the group joined the port: {sockets:?}");
        }
    }
}

// Checklist: L98, L99 (SO_REUSEPORT by default does not join another group's port).
#[test]
fn a_second_group_on_the_first_groups_port_fails_with_addr_in_use() {
    let _serial = util::serial();
    let first = asyncio::serve_on_threads(2, echo, "127.0.0.1", 0)
        .start()
        .unwrap();
    assert!(first.reuse_port() || !cfg!(target_os = "linux"));
    let port = addr_of(&first).port();
    assert_addr_in_use(asyncio::serve_on_threads(2, echo, "127.0.0.1", port).start());
    // The first group still has every connection.
    let mut clients: Vec<TcpStream> = (0..16).map(|_| connect(addr_of(&first))).collect();
    for c in &mut clients {
        ping(c, b"mine");
    }
    assert_eq!(first.stats().iter().map(|s| s.accepted).sum::<u64>(), 16);
    drop(clients);
    // Asked for explicitly, joining is what the caller wants.
    if first.reuse_port() {
        let joined = asyncio::serve_on_threads(2, echo, "127.0.0.1", port)
            .reuse_port(true)
            .start()
            .unwrap();
        assert_eq!(addr_of(&joined).port(), port);
        close_and_wait(&joined).unwrap();
    }
    close_and_wait(&first).unwrap();
    assert_no_worker_threads();
}

// Checklist: L99 (a group on a plain server's port fails as a second plain server would).
#[test]
fn a_group_on_a_plain_servers_port_fails_with_addr_in_use() {
    let _serial = util::serial();
    let plain = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let port = plain.local_addr().unwrap().port();
    for reuse_port in [None, Some(true), Some(false)] {
        let mut group = asyncio::serve_on_threads(2, echo, "127.0.0.1", port);
        if let Some(on) = reuse_port {
            group = group.reuse_port(on);
        }
        assert_addr_in_use(group.start());
    }
    assert_addr_in_use(asyncio::serve_on_threads(1, echo, "127.0.0.1", port).start());
    drop(plain);
    assert_no_worker_threads();
}

#[test]
fn one_worker_serves_as_start_server_does() {
    let _serial = util::serial();
    let group = asyncio::serve_on_threads(1, echo, "127.0.0.1", 0)
        .start()
        .unwrap();
    assert_eq!(group.workers(), 1);
    assert_eq!(group.sockets().len(), 1);
    assert!(
        !group.reuse_port(),
        "one worker: a plain listener, no SO_REUSEPORT"
    );
    let mut c = connect(addr_of(&group));
    ping(&mut c, b"one");
    ping(&mut c, b"two");
    drop(c);
    close_and_wait(&group).unwrap();
    assert_no_worker_threads();
}

#[test]
fn zero_or_too_many_workers_is_invalid_argument() {
    let _serial = util::serial();
    for n in [0, asyncio::streams::MAX_WORKERS + 1, usize::MAX] {
        let err = asyncio::serve_on_threads(n, echo, "127.0.0.1", 0)
            .start()
            .unwrap_err();
        assert!(matches!(err, Error::InvalidArgument(_)), "{n}: {err:?}");
    }
    assert_no_worker_threads();
}

#[test]
fn a_host_that_does_not_resolve_fails_as_start_server_does() {
    // The same error as start_server's for the same host: CPython's gaierror text and what was
    // being resolved, kind NotFound (it was std's own wording before). An empty label fails
    // inside glibc, with no DNS query.
    let _serial = util::serial();
    let err = asyncio::serve_on_threads(2, echo, "no..such.host", 0)
        .start()
        .unwrap_err();
    let single = asyncio::run(async {
        asyncio::start_server(echo(), "no..such.host", 0)
            .await
            .map(|_| ())
    })
    .unwrap()
    .unwrap_err();
    let Error::Io(e) = &err else {
        panic!("{err:?}")
    };
    assert_eq!(e.kind(), std::io::ErrorKind::NotFound);
    assert!(
        err.to_string().contains("(resolving no..such.host:0)"),
        "{err}"
    );
    assert_eq!(err.to_string(), single.to_string());
    let err = asyncio::serve_on_threads(2, echo, "a\0b", 0)
        .start()
        .unwrap_err();
    assert!(
        matches!(&err, Error::Io(e) if e.kind() == std::io::ErrorKind::InvalidInput),
        "{err:?}"
    );
    assert_no_worker_threads();
}

// Checklist: S11 (a limit of 0, refused on each worker).
#[test]
fn a_bad_option_fails_start_and_stops_every_worker() {
    let _serial = util::serial();
    let err = asyncio::serve_on_threads(2, echo, "127.0.0.1", 0)
        .configure(|s| s.limit(0)) // a limit of 0 is refused on each worker
        .start()
        .unwrap_err();
    assert!(
        matches!(&err, Error::Group(errors) if errors.len() == 2)
            || matches!(err, Error::InvalidArgument(_)),
        "{err:?}"
    );
    assert_no_worker_threads();
}

#[test]
fn a_panicking_factory_fails_start_and_stops_the_other_workers() {
    let _serial = util::serial();
    let calls = Arc::new(AtomicUsize::new(0));
    let counter = calls.clone();
    let factory = move || {
        if counter.fetch_add(1, Ordering::SeqCst) == 1 {
            panic!("no handler for this worker");
        }
        echo()
    };
    let err = asyncio::serve_on_threads(2, factory, "127.0.0.1", 0)
        .start()
        .unwrap_err();
    match err {
        Error::Panic(p) => assert!(p.to_string().contains("no handler"), "{p}"),
        other => panic!("expected a panic error, got {other:?}"),
    }
    assert_eq!(calls.load(Ordering::SeqCst), 2, "called once per worker");
    assert_no_worker_threads();
}

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
    let group = asyncio::serve_on_threads(2, echo, "127.0.0.1", 0)
        .start()
        .unwrap();
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
    let group = asyncio::serve_on_threads(2, echo, "127.0.0.1", 0)
        .start()
        .unwrap();
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
    let group = Arc::new(
        asyncio::serve_on_threads(2, echo, "127.0.0.1", 0)
            .start()
            .unwrap(),
    );
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
    let group = asyncio::serve_on_threads(2, echo, "127.0.0.1", 0)
        .start()
        .unwrap();
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

/// Whether ::1 can be bound here; prints the reason a test skips when not.
fn loopback_v6_bindable() -> bool {
    match std::net::TcpListener::bind("[::1]:0") {
        Ok(_) => true,
        Err(e) => {
            println!("skipped: ::1 cannot be bound here ({e})");
            false
        }
    }
}

// Checklist: L97 (every address of the host is served, as start_server serves them). Where
// `localhost` names 127.0.0.1 and ::1, the group is reached over both; the group used to bind
// the first address only. Skipped where ::1 cannot be bound or the hosts file names only one
// (the same rule with both addresses given is unit-tested in src/streams/workers/mod.rs).
#[test]
fn l97_localhost_is_served_on_127_0_0_1_and_on_1() {
    use std::net::{IpAddr, Ipv4Addr, Ipv6Addr, ToSocketAddrs};
    let _serial = util::serial();
    if !loopback_v6_bindable() {
        return;
    }
    let names: Vec<IpAddr> = ("localhost", 0)
        .to_socket_addrs()
        .map(|a| a.map(|a| a.ip()).collect())
        .unwrap_or_default();
    let want = [
        IpAddr::V4(Ipv4Addr::LOCALHOST),
        IpAddr::V6(Ipv6Addr::LOCALHOST),
    ];
    if !want.iter().all(|ip| names.contains(ip)) {
        println!("skipped: localhost resolves to {names:?} here, not to both 127.0.0.1 and ::1");
        return;
    }
    let group = asyncio::serve_on_threads(2, echo, "localhost", 0)
        .start()
        .unwrap();
    let bound = inet_sockets(&group);
    for ip in want {
        ping(&mut connect(bound_on(&bound, ip)), b"both");
    }
    close_and_wait(&group).unwrap();
    assert_no_worker_threads();
}

// Checklist: L97 (None or '' is every interface: the wildcard of each family, 0.0.0.0 and ::),
// as start_server binds it. The group used to bind 0.0.0.0 alone, so ::1 found no listener.
// With separate and with shared listeners; skipped where ::1 cannot be bound.
#[test]
fn l97_an_empty_host_is_served_on_every_interface_ipv6_too() {
    use std::net::{IpAddr, Ipv4Addr, Ipv6Addr};
    let _serial = util::serial();
    if !loopback_v6_bindable() {
        return;
    }
    for reuse_port in [true, false] {
        let group = asyncio::serve_on_threads(2, echo, "", 0)
            .reuse_port(reuse_port)
            .start()
            .unwrap();
        let bound = inet_sockets(&group);
        let per_address = if group.reuse_port() { 2 } else { 1 };
        assert_eq!(bound.len(), 2 * per_address, "{bound:?}");
        for (wildcard, loopback) in [
            (
                IpAddr::V4(Ipv4Addr::UNSPECIFIED),
                IpAddr::V4(Ipv4Addr::LOCALHOST),
            ),
            (
                IpAddr::V6(Ipv6Addr::UNSPECIFIED),
                IpAddr::V6(Ipv6Addr::LOCALHOST),
            ),
        ] {
            let port = bound_on(&bound, wildcard).port();
            ping(&mut connect(SocketAddr::new(loopback, port)), b"any");
        }
        close_and_wait(&group).unwrap();
    }
    assert_no_worker_threads();
}

// Checklist: L98 (reuse_port=True sets SO_REUSEPORT whatever the number of sockets).
#[test]
fn one_worker_with_reuse_port_asked_for_joins_and_can_be_joined() {
    let _serial = util::serial();
    let first = asyncio::serve_on_threads(2, echo, "127.0.0.1", 0)
        .start()
        .unwrap();
    if !first.reuse_port() {
        return; // no SO_REUSEPORT here: nothing to join
    }
    let port = addr_of(&first).port();
    // One worker asked to join a SO_REUSEPORT port joins it, as two would.
    let one = asyncio::serve_on_threads(1, echo, "127.0.0.1", port)
        .reuse_port(true)
        .start()
        .expect("one worker with reuse_port(true) joins the port");
    assert_eq!(addr_of(&one).port(), port);
    close_and_wait(&one).unwrap();
    close_and_wait(&first).unwrap();
    // And a lone worker asked for reuse_port(true) leaves its port open to joiners.
    let lone = asyncio::serve_on_threads(1, echo, "127.0.0.1", 0)
        .reuse_port(true)
        .start()
        .unwrap();
    let port = addr_of(&lone).port();
    let joined = asyncio::serve_on_threads(2, echo, "127.0.0.1", port)
        .reuse_port(true)
        .start()
        .expect("a group joins a lone worker that asked for reuse_port(true)");
    close_and_wait(&joined).unwrap();
    close_and_wait(&lone).unwrap();
    assert_no_worker_threads();
}
