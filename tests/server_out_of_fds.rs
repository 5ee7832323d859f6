//! A server out of file descriptors (L102, D6), with and without `reserve_fd`: one report per
//! episode, a back-off that sleeps, accepting again once descriptors come back, connections
//! shed with the spare descriptor. Each test re-executes this binary as a child process
//! (`util::in_child`) so that lowering `RLIMIT_NOFILE` cannot starve the other tests. Shared
//! helpers: `server_common`.

mod server_common;
mod util;

use std::cell::{Cell, RefCell};
use std::io::{self, Read};
use std::net::{SocketAddr, TcpStream};
use std::path::Path;
use std::rc::Rc;
use std::time::{Duration, Instant};

use asyncio::EventLoop;
use server_common::{
    finish, first_inet, have_ipv6, inet, iterations_during, peer, roundtrip, run_within, shut,
    tcp_client, timeouts, BOUND,
};
use util::{capture_exceptions, Echo};

const EMFILE_CHILD: &str = "ASYNCIO_TEST_EMFILE_CHILD";
const EMFILE_TEST: &str = "l102_d6_accept_out_of_fds_reports_once_backs_off_and_resumes";

// CPython: BaseEventLoopWithSelectorTests.test_accept_connection_exception
#[test]
fn l102_d6_accept_out_of_fds_reports_once_backs_off_and_resumes() {
    util::in_child(EMFILE_CHILD, EMFILE_TEST, "emfile child: ok", emfile_child);
}

/// Sets the soft `RLIMIT_NOFILE`.
fn set_fd_limit(soft: u64) {
    let mut lim = libc::rlimit {
        rlim_cur: 0,
        rlim_max: 0,
    };
    // SAFETY: `lim` is a valid, writable `rlimit` for the call to fill.
    assert_eq!(unsafe { libc::getrlimit(libc::RLIMIT_NOFILE, &mut lim) }, 0);
    assert!(
        soft <= lim.rlim_max,
        "the hard limit {} is lower",
        lim.rlim_max
    );
    lim.rlim_cur = soft;
    // SAFETY: `lim` is a valid `rlimit`; lowering the soft limit affects only this process.
    assert_eq!(unsafe { libc::setrlimit(libc::RLIMIT_NOFILE, &lim) }, 0);
}

/// Lowers the descriptor limit so that exactly `free` descriptors can still be opened: the
/// limit goes just above the highest open descriptor, every other slot below it is filled
/// with `/dev/null`, and `free` of those are handed back. Returns the filler to keep.
fn leave_free_fds(free: usize) -> Vec<std::fs::File> {
    let highest = std::fs::read_dir("/proc/self/fd")
        .unwrap()
        .filter_map(|e| e.ok()?.file_name().to_str()?.parse::<u64>().ok())
        .max()
        .unwrap();
    set_fd_limit(highest + 1 + free as u64 + 4);
    let mut filler = Vec::new();
    loop {
        match std::fs::File::open("/dev/null") {
            Ok(f) => filler.push(f),
            Err(e) if e.raw_os_error() == Some(libc::EMFILE) => break,
            Err(e) => panic!("filling descriptors: {e}"),
        }
        assert!(filler.len() < 100_000, "the limit did not bite");
    }
    assert!(filler.len() >= free);
    filler.truncate(filler.len() - free);
    filler
}

/// What the loop reported, in order.
type Reports = Rc<RefCell<Vec<String>>>;

/// An echo server for the out-of-descriptors children: every report the loop makes is kept,
/// and `made` counts the connections that got a protocol.
fn counting_server(
    lp: &EventLoop,
    reserve_fd: bool,
) -> (asyncio::Server, Reports, Rc<Cell<usize>>) {
    counting_server_on(lp, reserve_fd, &["127.0.0.1"])
}

/// [`counting_server`] listening on each of `hosts`.
fn counting_server_on(
    lp: &EventLoop,
    reserve_fd: bool,
    hosts: &[&str],
) -> (asyncio::Server, Reports, Rc<Cell<usize>>) {
    let reports = Rc::new(RefCell::new(Vec::<String>::new()));
    let r = reports.clone();
    lp.set_exception_handler(Some(
        move |_: &asyncio::LoopHandle, ctx: &asyncio::ExceptionContext| {
            r.borrow_mut().push(ctx.to_string())
        },
    ));
    let made = Rc::new(Cell::new(0));
    let m = made.clone();
    let factory = move || {
        m.set(m.get() + 1);
        Echo::default()
    };
    let server = lp
        .run_until_complete(
            lp.create_server(factory, "", 0)
                .hosts(hosts)
                .reserve_fd(reserve_fd),
        )
        .unwrap()
        .unwrap();
    (server, reports, made)
}

fn emfile_child() {
    const CLIENTS: usize = 6;
    const FREE: usize = 3;
    let lp = EventLoop::new().unwrap();
    let (server, reports, made) = counting_server(&lp, false);
    let addr = first_inet(&server);
    // The clients connect while the loop is idle: they wait in the accept queue. They hold
    // their descriptors already, so they cost nothing once the limit is lowered.
    let mut clients: Vec<TcpStream> = (0..CLIENTS).map(|_| tcp_client(addr)).collect();
    let _filler = leave_free_fds(FREE);

    // One round: FREE accepted, then EMFILE: one report, the round ends (D6).
    run_within(&lp, BOUND, || !reports.borrow().is_empty());
    let reported = Instant::now();
    run_within(&lp, BOUND, || made.get() == FREE);
    {
        let reports = reports.borrow();
        assert_eq!(reports.len(), 1, "D6: one report per episode: {reports:?}");
        assert!(
            reports[0].starts_with("socket.accept() out of system resource")
                && reports[0].contains(&format!("socket: {addr}"))
                && reports[0].contains("exception: [Errno 24] Too many open files"),
            "L102 report (errno kept, as Python's OSError shows): {}",
            reports[0]
        );
    }

    // Backing off: nothing to do until the retry timer; the loop must sleep, not spin.
    let quiet = iterations_during(&lp, Duration::from_millis(300));
    assert!(quiet <= 3, "D6: {quiet} iterations in 300 ms of back-off");
    assert_eq!(made.get(), FREE, "no accept while backing off");

    // Two accepted clients leave: their server-side transports close, freeing descriptors.
    clients.drain(..2);
    let before_retry = Instant::now();
    let mut busy = 0;
    while made.get() < CLIENTS {
        assert!(reported.elapsed() < BOUND, "accepting never resumed");
        lp.run_once(Some(BOUND)).unwrap();
        busy += 1;
    }
    let backoff = reported.elapsed();
    assert!(
        backoff >= Duration::from_millis(900),
        "D6: resumed after {backoff:?}, before ACCEPT_RETRY_DELAY"
    );
    assert!(busy <= 20, "D6: {busy} iterations until the retry");
    assert_eq!(
        reports.borrow().len(),
        1,
        "the retry round found enough descriptors"
    );
    // A connection accepted by the retry round is served.
    let mut last = clients.pop().unwrap();
    assert_eq!(
        finish(&lp, peer(&lp, move || roundtrip(&mut last, b"after"))),
        b"after"
    );
    println!(
        "emfile child: ok; {quiet} iterations in 300 ms of back-off; retry after {backoff:?} \
         ({busy} iterations from closing two clients ({:?} after the report) to the retry)",
        before_retry - reported
    );
}

const EPISODE_CHILD: &str = "ASYNCIO_TEST_EPISODE_CHILD";
const EPISODE_TEST: &str = "l102_d6_a_long_episode_is_reported_once_and_its_end_once";

/// Issue #13 (D6): a server out of descriptors across several retries reports the episode
/// once, stays silent on each retry that fails again, and logs one line when accepting works
/// again (how long, how many retries).
#[test]
fn l102_d6_a_long_episode_is_reported_once_and_its_end_once() {
    util::in_child(
        EPISODE_CHILD,
        EPISODE_TEST,
        "episode child: ok",
        episode_child,
    );
}

/// Keeps `log` records (warnings and up) for a child-process test.
struct LogCapture(std::sync::Mutex<Vec<String>>);

impl log::Log for LogCapture {
    fn enabled(&self, m: &log::Metadata<'_>) -> bool {
        m.level() <= log::Level::Warn
    }
    fn log(&self, r: &log::Record<'_>) {
        if self.enabled(r.metadata()) {
            self.0.lock().unwrap().push(r.args().to_string());
        }
    }
    fn flush(&self) {}
}

static LOGGED: LogCapture = LogCapture(std::sync::Mutex::new(Vec::new()));

fn episode_child() {
    const FREE: usize = 1;
    log::set_logger(&LOGGED).unwrap();
    log::set_max_level(log::LevelFilter::Warn);
    let lp = EventLoop::new().unwrap();
    let (server, reports, made) = counting_server(&lp, false);
    let addr = first_inet(&server);
    let mut clients: Vec<TcpStream> = (0..3).map(|_| tcp_client(addr)).collect();
    let filler = leave_free_fds(FREE);
    run_within(&lp, BOUND, || {
        made.get() == FREE && !reports.borrow().is_empty()
    });
    // Stay out of descriptors through two retries (ACCEPT_RETRY_DELAY is 1 s each).
    let quiet = iterations_during(&lp, Duration::from_millis(2_300));
    assert_eq!(made.get(), FREE, "no descriptor came free");
    assert_eq!(
        reports.borrow().len(),
        1,
        "D6: one report for the whole episode: {:?}",
        reports.borrow()
    );
    assert!(quiet <= 12, "{quiet} iterations in 2.3 s of episode");
    assert!(
        LOGGED.0.lock().unwrap().is_empty(),
        "nothing logged meanwhile"
    );
    // Descriptors come back: the next retry accepts, and the episode's end is one line.
    drop(filler);
    run_within(&lp, BOUND, || made.get() == 3);
    let logged = LOGGED.0.lock().unwrap().clone();
    assert_eq!(logged.len(), 1, "{logged:?}");
    assert!(
        logged[0].starts_with(&format!("socket.accept() works again on {addr} after "))
            && logged[0].contains(" retries, 0 connections shed"),
        "{}",
        logged[0]
    );
    let retries: u32 = logged[0]
        .split(": ")
        .nth(1)
        .and_then(|t| t.split(' ').next())
        .and_then(|n| n.parse().ok())
        .unwrap();
    assert!(retries >= 2, "{}", logged[0]);
    assert_eq!(reports.borrow().len(), 1, "no further report");
    let mut last = clients.pop().unwrap();
    assert_eq!(
        finish(&lp, peer(&lp, move || roundtrip(&mut last, b"back"))),
        b"back"
    );
    println!("episode child: ok; {}", logged[0]);
}

const DUAL_CHILD: &str = "ASYNCIO_TEST_DUAL_CHILD";
const DUAL_TEST: &str = "l102_d6_a_dual_stack_server_out_of_fds_is_one_episode";

/// D6 for a server with two listening sockets (127.0.0.1 and ::1): running out of
/// descriptors is one episode of the server, reported once and its end logged once, however
/// many of its sockets meet it.
#[test]
fn l102_d6_a_dual_stack_server_out_of_fds_is_one_episode() {
    if !have_ipv6() {
        return;
    }
    util::in_child(
        DUAL_CHILD,
        DUAL_TEST,
        "dual-stack child: ok",
        dual_stack_child,
    );
}

fn dual_stack_child() {
    const FREE: usize = 1;
    log::set_logger(&LOGGED).unwrap();
    log::set_max_level(log::LevelFilter::Warn);
    let lp = EventLoop::new().unwrap();
    let (server, reports, made) = counting_server_on(&lp, false, &["127.0.0.1", "::1"]);
    let addrs = inet(&server);
    assert_eq!(addrs.len(), 2, "{addrs:?}");
    // Two clients wait on each socket; one descriptor is free: both sockets meet EMFILE in
    // the loop's first rounds.
    let clients: Vec<TcpStream> = addrs
        .iter()
        .flat_map(|a| [tcp_client(*a), tcp_client(*a)])
        .collect();
    let filler = leave_free_fds(FREE);
    run_within(&lp, BOUND, || {
        made.get() == FREE && !reports.borrow().is_empty()
    });
    for _ in 0..10 {
        lp.run_once(Some(Duration::ZERO)).unwrap();
    }
    assert_eq!(made.get(), FREE);
    assert_eq!(
        reports.borrow().len(),
        1,
        "D6: one report for the server's episode: {:?}",
        reports.borrow()
    );
    // Descriptors come back: both sockets accept again after their retry, one line says so.
    drop(filler);
    run_within(&lp, BOUND, || made.get() == clients.len());
    let logged = LOGGED.0.lock().unwrap().clone();
    assert_eq!(
        logged.len(),
        1,
        "one line for the episode's end: {logged:?}"
    );
    assert!(
        logged[0].starts_with("socket.accept() works again on "),
        "{}",
        logged[0]
    );
    assert_eq!(reports.borrow().len(), 1, "no further report");
    shut(&lp, &server);
    println!("dual-stack child: ok; {}", logged[0]);
}

const RESERVE_CHILD: &str = "ASYNCIO_TEST_RESERVE_CHILD";
const RESERVE_TEST: &str = "l102_reserve_fd_sheds_waiting_connections_promptly";

/// issue #8: libuv's reserve descriptor (`reserve_fd(true)`). Out of descriptors, the server
/// accepts each waiting connection with its spare and closes it at once, instead of leaving the
/// clients hanging in the backlog; one report per episode; served connections go on.
#[test]
fn l102_reserve_fd_sheds_waiting_connections_promptly() {
    util::in_child(
        RESERVE_CHILD,
        RESERVE_TEST,
        "reserve child: ok",
        reserve_child,
    );
}

fn reserve_child() {
    const CLIENTS: usize = 6;
    const FREE: usize = 2;
    log::set_logger(&LOGGED).unwrap();
    log::set_max_level(log::LevelFilter::Warn);
    let lp = EventLoop::new().unwrap();
    let (server, reports, made) = counting_server(&lp, true);
    let addr = first_inet(&server);
    let mut clients: Vec<TcpStream> = (0..CLIENTS).map(|_| tcp_client(addr)).collect();
    let _filler = leave_free_fds(FREE);
    // FREE connections are served; the rest are accepted with the spare and closed at once.
    run_within(&lp, BOUND, || !reports.borrow().is_empty());
    for _ in 0..10 {
        lp.run_once(Some(Duration::ZERO)).unwrap();
    }
    assert_eq!(made.get(), FREE, "only FREE connections get a protocol");
    assert_eq!(
        reports.borrow().len(),
        1,
        "one report per episode: {:?}",
        reports.borrow()
    );
    // The shed clients see the close promptly (EOF or reset), without waiting for a retry.
    for c in clients.iter_mut().skip(FREE) {
        c.set_read_timeout(Some(BOUND)).unwrap();
        let mut buf = [0u8; 1];
        match c.read(&mut buf) {
            Ok(0) => {}
            Err(e) if e.kind() == std::io::ErrorKind::ConnectionReset => {}
            other => panic!("a shed client was not closed promptly: {other:?}"),
        }
    }
    // The served ones still echo.
    let mut first = clients.remove(0);
    assert_eq!(
        finish(&lp, peer(&lp, move || roundtrip(&mut first, b"kept"))),
        b"kept"
    );
    assert!(
        LOGGED.0.lock().unwrap().is_empty(),
        "nothing logged mid-episode"
    );
    // Descriptors come back: the next connection is served, and the episode's end is one
    // line counting the connections shed (issue #13).
    drop(_filler);
    let mut late = tcp_client(addr);
    assert_eq!(
        finish(&lp, peer(&lp, move || roundtrip(&mut late, b"late"))),
        b"late"
    );
    let logged = LOGGED.0.lock().unwrap().clone();
    assert_eq!(logged.len(), 1, "{logged:?}");
    assert!(
        logged[0].contains(&format!("0 retries, {} connections shed", CLIENTS - FREE)),
        "{}",
        logged[0]
    );
    assert_eq!(reports.borrow().len(), 1, "still one report");
    println!("reserve child: ok; {} shed; {}", CLIENTS - FREE, logged[0]);
}

const SHED_ROUNDS_CHILD: &str = "ASYNCIO_TEST_SHED_ROUNDS_CHILD";
const SHED_ROUNDS_TEST: &str = "l101_l102_reserve_fd_sheds_beyond_one_round";

/// D6 with `reserve_fd`, L101: shedding takes at most `backlog` connections per round, like
/// accepting. With more waiting, the next round must come on its own: the listener is
/// edge-triggered, so no new event announces connections already queued.
#[test]
fn l101_l102_reserve_fd_sheds_beyond_one_round() {
    util::in_child(
        SHED_ROUNDS_CHILD,
        SHED_ROUNDS_TEST,
        "shed rounds child: ok",
        shed_rounds_child,
    );
}

fn shed_rounds_child() {
    let lp = EventLoop::new().unwrap();
    let reports = capture_exceptions(&lp.handle());
    let server = lp
        .run_until_complete(
            lp.create_server(Echo::default, "127.0.0.1", 0)
                .backlog(1)
                .reserve_fd(true),
        )
        .unwrap()
        .unwrap();
    let addr = first_inet(&server);
    // listen(1) queues two connections; both wait while the loop is idle.
    let clients: Vec<TcpStream> = (0..2).map(|_| tcp_client(addr)).collect();
    let _filler = leave_free_fds(0);
    // No descriptor is free: each one is accepted with the spare and closed, one per round.
    // The clients stay open until every one has been read: closing one would free a
    // descriptor, and the next would be accepted and served instead of shed.
    let shed = peer(&lp, move || {
        let mut clients = clients;
        for c in &mut clients {
            let mut buf = [0u8; 1];
            match c.read(&mut buf) {
                Ok(0) => {}
                Err(e) if e.kind() == io::ErrorKind::ConnectionReset => {}
                other => panic!("a shed client was not closed: {other:?}"),
            }
        }
    });
    finish(&lp, shed);
    let reports = reports.borrow();
    assert_eq!(reports.len(), 1, "one report per episode: {reports:?}");
    println!("shed rounds child: ok");
}

const SPARE_AGAIN_CHILD: &str = "ASYNCIO_TEST_SPARE_AGAIN_CHILD";
const SPARE_AGAIN_TEST: &str = "l102_reserve_fd_a_lost_spare_is_back_for_the_next_episode";

/// D6 with `reserve_fd`: the spare descriptor can be lost in an episode (freed to accept with,
/// and its slot taken before it could be reopened). Once descriptors are available again it
/// is reopened, so the next episode sheds waiting connections as the first did; it used to
/// stay lost, and the next episode's clients waited in the backlog.
#[test]
fn l102_reserve_fd_a_lost_spare_is_back_for_the_next_episode() {
    util::in_child(
        SPARE_AGAIN_CHILD,
        SPARE_AGAIN_TEST,
        "spare again child: ok",
        spare_again_child,
    );
}

/// This process's descriptors open on `/dev/null`.
fn dev_null_fds() -> Vec<u64> {
    std::fs::read_dir("/proc/self/fd")
        .unwrap()
        .filter_map(|e| {
            let e = e.ok()?;
            let target = std::fs::read_link(e.path()).ok()?;
            (target == Path::new("/dev/null")).then_some(())?;
            e.file_name().to_str()?.parse().ok()
        })
        .collect()
}

/// Whether descriptor `fd` is open on `/dev/null` (no descriptor needed to look).
fn is_dev_null(fd: u64) -> bool {
    std::fs::read_link(format!("/proc/self/fd/{fd}")).is_ok_and(|t| t == Path::new("/dev/null"))
}

/// Connects the socket made beforehand (connecting takes no new descriptor).
fn connect_made(sock: socket2::Socket, addr: SocketAddr) -> TcpStream {
    sock.connect_timeout(&addr.into(), BOUND).unwrap();
    timeouts(TcpStream::from(sock), TcpStream::set_read_timeout)
}

/// A client the server shed: EOF or a reset, at once (the server closed it already). The
/// read's bound is below `finish`'s, so that a client left waiting fails here, by name.
fn assert_shed(lp: &EventLoop, mut c: TcpStream, which: &str) {
    c.set_read_timeout(Some(BOUND / 2)).unwrap();
    let which = which.to_string();
    finish(
        lp,
        peer(lp, move || {
            let mut buf = [0u8; 1];
            match c.read(&mut buf) {
                Ok(0) => {}
                Err(e) if e.kind() == io::ErrorKind::ConnectionReset => {}
                other => panic!("{which} was not shed: {other:?}"),
            }
        }),
    );
}

fn spare_again_child() {
    let lp = EventLoop::new().unwrap();
    let before = dev_null_fds();
    let (server, reports, made) = counting_server(&lp, true);
    let spare: Vec<u64> = dev_null_fds()
        .into_iter()
        .filter(|fd| !before.contains(fd))
        .collect();
    assert_eq!(spare.len(), 1, "one spare descriptor: {spare:?}");
    let spare = spare[0];
    let addr = first_inet(&server);
    let mut lim = libc::rlimit {
        rlim_cur: 0,
        rlim_max: 0,
    };
    // SAFETY: `lim` is a valid, writable `rlimit` for the call to fill.
    assert_eq!(unsafe { libc::getrlimit(libc::RLIMIT_NOFILE, &mut lim) }, 0);
    // The clients' sockets are made now: once the limit bites, connecting takes no descriptor.
    let mut socks: Vec<socket2::Socket> = (0..3)
        .map(|_| socket2::Socket::new(socket2::Domain::IPV4, socket2::Type::STREAM, None).unwrap())
        .collect();

    // Episode 1: no descriptor free; the first client is shed with the spare.
    let filler = leave_free_fds(0);
    let first = connect_made(socks.remove(0), addr);
    run_within(&lp, BOUND, || !reports.borrow().is_empty());
    assert_shed(&lp, first, "the first episode's client");
    assert!(is_dev_null(spare), "the spare is back after shedding");
    // The spare is lost: with the limit at its number, once freed it cannot be reopened (as
    // when another thread takes the slot first). The episode goes on, backing off.
    set_fd_limit(spare);
    let waiting = connect_made(socks.remove(0), addr);
    run_within(&lp, BOUND, || !is_dev_null(spare));
    assert_eq!(made.get(), 0);
    // Descriptors come back: the retry accepts the waiting client, the episode ends.
    set_fd_limit(lim.rlim_cur);
    drop(filler);
    run_within(&lp, BOUND, || made.get() == 1);
    assert_eq!(reports.borrow().len(), 1, "one episode so far");

    // Episode 2: out of descriptors again; the next client is shed at once, as in the first.
    let _filler = leave_free_fds(0);
    let second = connect_made(socks.remove(0), addr);
    run_within(&lp, BOUND, || reports.borrow().len() == 2);
    assert_shed(&lp, second, "the second episode's client");
    assert_eq!(made.get(), 1, "the shed client got no protocol");
    drop(waiting);
    println!("spare again child: ok");
}
