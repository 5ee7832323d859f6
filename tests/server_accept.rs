//! The accept loop of a `Server` over real sockets: a burst beyond the backlog (L101), a
//! panicking protocol factory or `connection_made` (L103, L55), and the addresses an accepted
//! connection reports (L56). Shared helpers: `server_common`. Running out of descriptors while
//! accepting (L102) is in `server_out_of_fds.rs`.

mod server_common;
mod util;

use std::cell::Cell;
use std::io::{self, Read, Write};
use std::net::{Shutdown, SocketAddr, TcpStream};
use std::rc::Rc;
use std::sync::atomic::{AtomicUsize, Ordering::SeqCst};
use std::sync::{Arc, Condvar, Mutex};
use std::time::Instant;

use asyncio::{EventLoop, Protocol, Transport};
use server_common::{
    check_tcp_echo, finish, first_inet, have_ipv6, peer, roundtrip, run_within, shut, tcp_client,
    unix_client, unix_name, Peer, Seen, BOUND,
};
use util::{capture_exceptions, temp_dir, Echo};

// Checklist: L56, L103. An accepted connection's sockname is its own local address, the one
// its peer connected to: the listener's address when that is a single one (127.0.0.1, ::1, a
// Unix path), the connection's destination under a wildcard listener (0.0.0.0: never the
// wildcard itself); and it is still there after connection_lost.
#[test]
fn l56_l103_an_accepted_connections_sockname_is_its_own_address() {
    let lp = EventLoop::new().unwrap();
    let mut hosts = vec!["127.0.0.1", "0.0.0.0"];
    if have_ipv6() {
        hosts.push("::1");
    }
    for host in hosts {
        let seen = Seen::default();
        let server = lp
            .run_until_complete(lp.create_server(seen.factory(), host, 0))
            .unwrap()
            .unwrap();
        let port = first_inet(&server).port();
        let target: SocketAddr = match host {
            "::1" => SocketAddr::from((std::net::Ipv6Addr::LOCALHOST, port)),
            _ => SocketAddr::from(([127, 0, 0, 1], port)),
        };
        let client = tcp_client(target);
        let want = client.peer_addr().unwrap();
        run_within(&lp, BOUND, || seen.len() == 1);
        let t = seen.get(0);
        assert_eq!(t.sockname().and_then(|a| a.as_inet()), Some(want), "{host}");
        assert_eq!(
            t.peername().and_then(|a| a.as_inet()),
            Some(client.local_addr().unwrap()),
            "{host}"
        );
        drop(client); // EOF: Echo closes, connection_lost runs
        run_within(&lp, BOUND, || server.connection_count() == 0);
        assert_eq!(
            t.sockname().and_then(|a| a.as_inet()),
            Some(want),
            "{host}: kept after connection_lost"
        );
        shut(&lp, &server);
    }
    let dir = temp_dir("server-sockname");
    let path = dir.join("s.sock");
    let seen = Seen::default();
    let server = lp
        .run_until_complete(lp.create_unix_server(seen.factory(), &path))
        .unwrap()
        .unwrap();
    let client = unix_client(&path);
    run_within(&lp, BOUND, || seen.len() == 1);
    let name = seen.get(0).sockname();
    let name = name.as_ref().and_then(unix_name);
    assert_eq!(name.as_deref(), Some(path.as_path()), "a Unix connection");
    drop(client);
    shut(&lp, &server);
}

#[test]
fn l101_a_burst_beyond_the_backlog_is_all_accepted_and_echoed() {
    const BACKLOG: usize = 100;
    const TOTAL: usize = 300;
    const THREADS: usize = 20;
    let lp = EventLoop::new().unwrap();
    let accepted = Rc::new(Cell::new(0));
    let count = accepted.clone();
    let factory = move || {
        count.set(count.get() + 1);
        Echo::default()
    };
    let server = lp
        .run_until_complete(
            lp.create_server(factory, "127.0.0.1", 0)
                .backlog(BACKLOG as u32),
        )
        .unwrap()
        .unwrap();
    let addr = first_inet(&server);

    // Phase 1, deterministic: with the loop idle, fill the kernel's accept queue (it holds
    // backlog + 1). One readiness edge comes; a round accepts `backlog`, so the last one is
    // accepted only if the round re-arms itself: no further edge will come.
    let queued: Vec<TcpStream> = (0..=BACKLOG).map(|_| tcp_client(addr)).collect();
    run_within(&lp, BOUND, || server.connection_count() == BACKLOG + 1);

    // Phase 2: the rest connect from client threads while the loop runs. The kernel caps the
    // accept queue at backlog + 1 and drops SYNs beyond it (a 1 s retransmission), so each
    // thread keeps one handshake in flight, checking each new connection with an echo. Once
    // every thread holds all its connections, all 300 are open at once; then each is echoed
    // again, concurrently, and closed.
    let ready = Arc::new(AtomicUsize::new(0));
    let go = Arc::new((Mutex::new(false), Condvar::new()));
    let mut queued = queued.into_iter();
    let mut peers: Vec<Peer<()>> = (0..THREADS)
        .map(|t| {
            let mine: Vec<TcpStream> = queued.by_ref().take(BACKLOG / THREADS + 1).collect();
            let rest = TOTAL - BACKLOG - 1;
            let new = rest / THREADS + usize::from(t < rest % THREADS);
            let (ready, go, wake) = (ready.clone(), go.clone(), lp.threadsafe());
            peer(&lp, move || {
                let mut all = mine;
                for i in 0..new {
                    let mut s = tcp_client(addr);
                    let msg = format!("thread {t} new connection {i}");
                    assert_eq!(roundtrip(&mut s, msg.as_bytes()), msg.as_bytes());
                    all.push(s);
                }
                ready.fetch_add(1, SeqCst);
                let _ = wake.call_soon_threadsafe(|| {});
                let (lock, cvar) = &*go;
                let started = Instant::now();
                let mut go = lock.lock().unwrap();
                while !*go {
                    assert!(started.elapsed() < BOUND, "never told to go on");
                    go = cvar.wait_timeout(go, BOUND).unwrap().0;
                }
                drop(go);
                for (i, s) in all.iter_mut().enumerate() {
                    let msg = format!("thread {t} connection {i}");
                    assert_eq!(roundtrip(s, msg.as_bytes()), msg.as_bytes());
                }
            })
        })
        .collect();
    assert_eq!(queued.count(), 0, "every queued client went to a thread");
    // Until every thread holds its connections, or one of them failed (join says how).
    run_within(&lp, BOUND, || {
        ready.load(SeqCst) == THREADS || peers.iter().any(Peer::done)
    });
    if let Some(failed) = peers.iter().position(Peer::done) {
        peers.swap_remove(failed).join(); // resumes the thread's panic
    }
    assert_eq!(server.connection_count(), TOTAL, "all {TOTAL} open at once");
    *go.0.lock().unwrap() = true;
    go.1.notify_all();
    run_within(&lp, BOUND, || peers.iter().all(Peer::done));
    for p in peers {
        p.join();
    }
    assert_eq!(accepted.get(), TOTAL, "all {TOTAL} accepted");
    run_within(&lp, BOUND, || server.connection_count() == 0);
    shut(&lp, &server);
}

/// An echo protocol whose `connection_made` panics when `panics` is set.
struct Moody {
    transport: Option<Transport>,
    panics: bool,
}

impl Protocol for Moody {
    fn connection_made(&mut self, t: Transport) {
        if self.panics {
            panic!("moody connection_made");
        }
        self.transport = Some(t);
    }
    fn data_received(&mut self, data: &[u8]) {
        if let Some(t) = &self.transport {
            t.write(data).unwrap();
        }
    }
}

#[test]
fn l103_l55_a_panic_in_connection_made_does_not_stop_the_server() {
    let lp = EventLoop::new().unwrap();
    let reports = capture_exceptions(&lp);
    let n = Rc::new(Cell::new(0));
    let count = n.clone();
    let factory = move || {
        count.set(count.get() + 1);
        Moody {
            transport: None,
            panics: count.get() == 1,
        }
    };
    let (server, addr) = serve(&lp, factory);
    let first = tcp_client(addr);
    run_within(&lp, BOUND, || reports.borrow().len() == 1);
    // A failed loop callback's report, naming the protocol's method and its transport.
    let report = reports.borrow()[0].clone();
    let made = format!(
        "Exception in callback {}::connection_made(Transport {{ id: ",
        std::any::type_name::<Moody>()
    );
    assert!(
        report.starts_with(&made) && report.ends_with(" | panicked: moody connection_made"),
        "L55: {report}"
    );
    assert!(server.is_serving());
    check_tcp_echo(&lp, addr); // L55: later connections are served
    check_tcp_echo(&lp, addr);
    assert_eq!(n.get(), 3);
    // L55: the failed connection still reads: its EOF ends it and detaches it from the server.
    first.shutdown(Shutdown::Write).unwrap();
    run_within(&lp, BOUND, || server.connection_count() == 0);
    assert_eq!(reports.borrow().len(), 1);
    shut(&lp, &server);
}

#[test]
fn l103_a_panicking_factory_is_reported_and_its_socket_closed() {
    let lp = EventLoop::new().unwrap();
    let reports = capture_exceptions(&lp);
    let (_, factory) = echo_failing_at(1, "factory failed");
    let (server, addr) = serve(&lp, factory);
    let mut first = tcp_client(addr);
    run_within(&lp, BOUND, || reports.borrow().len() == 1);
    assert_eq!(
        reports.borrow()[0],
        "Error on transport creation for incoming connection | panicked: factory failed"
    );
    match first.read(&mut [0u8; 1]) {
        Ok(0) => {}
        Err(e) if e.kind() == io::ErrorKind::ConnectionReset => {}
        other => panic!("L103: the accepted socket was not closed: {other:?}"),
    }
    assert_eq!(server.connection_count(), 0);
    check_tcp_echo(&lp, addr);
    assert_eq!(reports.borrow().len(), 1);
    shut(&lp, &server);
}

/// A factory that panics with a payload whose own drop panics (`panic_any`): the failure and
/// then the payload's drop are reported, and the accept round goes on (before, that second
/// panic unwound out of the loop's run).
// Checklist: L103, L18.
#[test]
fn l103_a_factory_panic_payload_that_panics_on_drop_is_contained() {
    struct PanicsOnDrop;
    impl Drop for PanicsOnDrop {
        fn drop(&mut self) {
            panic!("drop fails");
        }
    }
    let lp = EventLoop::new().unwrap();
    let reports = capture_exceptions(&lp);
    let factory = || -> Echo { std::panic::panic_any(PanicsOnDrop) };
    let (server, addr) = serve(&lp, factory);
    let _first = tcp_client(addr);
    run_within(&lp, BOUND, || reports.borrow().len() == 2);
    assert_eq!(
        *reports.borrow(),
        [
            "Error on transport creation for incoming connection | panicked: Box<dyn Any>",
            "Exception in callback drop of a panic payload | panicked: drop fails"
        ]
    );
    assert_eq!(server.connection_count(), 0);
    shut(&lp, &server);
}

// Checklist: L101, L103. CPython's _accept_connection calls protocol_factory() once per
// accepted socket, each in its own _accept_connection2: a factory that fails for one
// connection of a round leaves the others of that same round served. Ours: that socket is
// closed and reported once, the round goes on.
#[test]
fn l103_a_factory_failing_mid_round_leaves_the_rest_of_the_round_served() {
    let lp = EventLoop::new().unwrap();
    let reports = capture_exceptions(&lp);
    let (n, factory) = echo_failing_at(2, "second connection");
    let (server, addr) = serve(&lp, factory);
    // All three wait in the kernel's queue before the loop looks: one round takes them.
    let clients: Vec<TcpStream> = (0..3).map(|_| tcp_client(addr)).collect();
    one_turn(&lp);
    assert_eq!(
        n.get(),
        3,
        "L103: one factory call per accepted socket, in one round"
    );
    assert_eq!(server.connection_count(), 2);
    assert_eq!(
        *reports.borrow(),
        ["Error on transport creation for incoming connection | panicked: second connection"]
    );
    // Exactly one client finds its socket closed; the other two are echoed.
    let outcomes = finish(
        &lp,
        peer(&lp, move || {
            clients
                .into_iter()
                .map(|mut c| {
                    if c.write_all(b"ping").is_err() {
                        return "closed";
                    }
                    let mut got = [0u8; 4];
                    match c.read_exact(&mut got) {
                        Ok(()) if &got == b"ping" => "echoed",
                        Ok(()) => "garbled",
                        Err(e) if e.kind() == io::ErrorKind::UnexpectedEof => "closed",
                        Err(e) if e.kind() == io::ErrorKind::ConnectionReset => "closed",
                        Err(_) => "left open",
                    }
                })
                .collect::<Vec<_>>()
        }),
    );
    let closed = outcomes.iter().filter(|o| **o == "closed").count();
    let echoed = outcomes.iter().filter(|o| **o == "echoed").count();
    assert_eq!((closed, echoed), (1, 2), "L103: {outcomes:?}");
    assert_eq!(reports.borrow().len(), 1);
    shut(&lp, &server);
}

// Checklist: L103, L107. A factory may close its own server (user code runs inside the
// accept round): the connection it was called for is still served, as in CPython, whose
// close() leaves accepted connections alone; the round stops there, and nothing panics on a
// listener borrowed across the call.
#[test]
fn l103_l107_a_factory_that_closes_its_server_ends_the_round() {
    let lp = EventLoop::new().unwrap();
    let reports = capture_exceptions(&lp);
    let slot: Rc<std::cell::RefCell<Option<asyncio::Server>>> = Rc::default();
    let n = Rc::new(Cell::new(0));
    let (inside, count) = (slot.clone(), n.clone());
    let factory = move || {
        count.set(count.get() + 1);
        if let Some(s) = inside.borrow().as_ref() {
            s.close();
        }
        Echo::default()
    };
    let (server, addr) = serve(&lp, factory);
    *slot.borrow_mut() = Some(server.clone());
    let mut clients: Vec<TcpStream> = (0..3).map(|_| tcp_client(addr)).collect();
    run_within(&lp, BOUND, || n.get() >= 1);
    lp.run_once(Some(std::time::Duration::ZERO)).unwrap();
    assert_eq!(n.get(), 1, "L107: no accept after close()");
    assert!(!server.is_serving() && server.sockets().is_empty());
    assert_eq!(
        server.connection_count(),
        1,
        "L107: the connection made stays"
    );
    let first = clients.remove(0);
    let (got, first) = finish(
        &lp,
        peer(&lp, move || {
            let mut first = first;
            (roundtrip(&mut first, b"still"), first)
        }),
    );
    assert_eq!(got, b"still");
    assert!(reports.borrow().is_empty(), "{:?}", reports.borrow());
    drop((first, clients));
    slot.borrow_mut().take();
    shut(&lp, &server);
}

// Checklist: L101. CPython: BaseSelectorEventLoopTests.test_accept_connection_multiple. One
// readiness event accepts `backlog` connections in one round, no more; the round then hands
// over to the next loop turn, which takes the rest.
#[test]
fn l101_test_accept_connection_multiple() {
    const BACKLOG: usize = 3;
    let lp = EventLoop::new().unwrap();
    let server = lp
        .run_until_complete(
            lp.create_server(Echo::default, "127.0.0.1", 0)
                .backlog(BACKLOG as u32),
        )
        .unwrap()
        .unwrap();
    let addr = first_inet(&server);
    // The kernel's queue holds backlog + 1; all are queued before the loop looks.
    let _clients: Vec<TcpStream> = (0..=BACKLOG).map(|_| tcp_client(addr)).collect();
    one_turn(&lp);
    assert_eq!(
        server.connection_count(),
        BACKLOG,
        "one round: backlog accepts"
    );
    one_turn(&lp);
    assert_eq!(
        server.connection_count(),
        BACKLOG + 1,
        "the next turn takes the rest"
    );
    shut(&lp, &server);
}

// CPython: BaseEventLoopWithSelectorTests.test_accept_connection_retry
#[test]
fn l101_test_accept_connection_retry() {
    // Each accept round ends at EAGAIN once the queue is empty: quietly (no report), with the
    // listener still registered, so a later connection is accepted as well.
    let lp = EventLoop::new().unwrap();
    let seen = capture_exceptions(&lp);
    let (server, addr) = serve(&lp, Echo::default);
    let _first = tcp_client(addr);
    run_within(&lp, BOUND, || server.connection_count() == 1);
    for _ in 0..3 {
        lp.run_once(Some(std::time::Duration::ZERO)).unwrap(); // nothing more to accept
    }
    let _second = tcp_client(addr);
    run_within(&lp, BOUND, || server.connection_count() == 2);
    assert!(seen.borrow().is_empty(), "{:?}", seen.borrow());
    shut(&lp, &server);
}

/// A server for `factory` on 127.0.0.1, port 0, and its address.
fn serve<P: Protocol + 'static>(
    lp: &EventLoop,
    factory: impl Fn() -> P + 'static,
) -> (asyncio::Server, SocketAddr) {
    let server = lp
        .run_until_complete(lp.create_server(factory, "127.0.0.1", 0))
        .unwrap()
        .unwrap();
    let addr = first_inet(&server);
    (server, addr)
}

/// An echo factory whose call number `k` (from 1) panics with `msg`, and its count of calls.
fn echo_failing_at(k: usize, msg: &'static str) -> (Rc<Cell<usize>>, impl Fn() -> Echo) {
    let n = Rc::new(Cell::new(0));
    let count = n.clone();
    let factory = move || {
        count.set(count.get() + 1);
        if count.get() == k {
            std::panic::panic_any(msg);
        }
        Echo::default()
    };
    (n, factory)
}

/// One loop turn: a callback due at once stops the loop.
fn one_turn(lp: &EventLoop) {
    let h = lp.handle();
    lp.call_later(std::time::Duration::ZERO, move || h.stop())
        .unwrap();
    lp.run_forever().unwrap();
}
