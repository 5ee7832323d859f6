#![cfg(feature = "tls")]
//! Faults a peer can cause over TLS (issue #8, the TLS part): resets in the middle of a
//! handshake and of a record, garbage to a TLS server, stalled handshakes and shutdowns, and a
//! property test of the TLS layer under random record fragmentation.
//!
//! Real sockets on 127.0.0.1 (or socketpairs), every wait bounded by 20 s, no sleep used to
//! order events: a raw peer acts after a message from the test (a byte on the socket, or the
//! loop state the test waited for), and the loop is driven until a condition of its own state
//! holds ([`wait_until`]). Every test holds `util::serial()`: several compare the process's
//! open descriptors before and after, which only works if no other test of this binary opens
//! descriptors meanwhile. The server side's handshake failures are only logged (at debug, as
//! CPython's `_fatal_error` does for SSL errors), so the tests capture the crate's log records
//! per thread ([`capture_log`]); the typed error of the same failures is checked through
//! `start_tls` on an accepted connection, whose future returns it. Behaviour ids (T*, L*, S*,
//! D*) cite `asyncio-semantics.md`.

mod tls_common;
mod util;

use std::cell::{Cell, RefCell};
use std::collections::VecDeque;
use std::io::{self, ErrorKind, Read, Write};
use std::net::{Shutdown, TcpListener, TcpStream};
use std::os::unix::net::UnixStream;
use std::rc::Rc;
use std::sync::{mpsc, Arc};
use std::time::{Duration, Instant};

use asyncio::tls::rustls;
use asyncio::{Error, EventLoop, Protocol, ProtocolRef, StreamReader, StreamWriter, Transport};
use tls_common::{blocking_tls_client, client_hello, hello_of, read_plaintext, seal, Certs};
use util::{open_fds, Forward, Recorder};

/// Upper bound of every wait in this file.
const BOUND: Duration = Duration::from_secs(20);

// ─────────────────────────────── helpers ───────────────────────────────

/// Runs `fut` on `lp` under [`BOUND`].
fn run<F: std::future::IntoFuture>(lp: &EventLoop, fut: F) -> F::Output {
    lp.run_until_complete(asyncio::timeout(BOUND, fut.into_future()))
        .unwrap()
        .expect("test timed out")
}

/// Drives `lp` until `cond` (a predicate on loop-side state) holds; each iteration waits for
/// an event; [`BOUND`] in all.
fn wait_until(lp: &EventLoop, what: &str, mut cond: impl FnMut() -> bool) {
    let deadline = Instant::now() + BOUND;
    while !cond() {
        let left = deadline.saturating_duration_since(Instant::now());
        assert!(!left.is_zero(), "timed out waiting for {what}");
        lp.run_once(Some(left)).unwrap();
    }
}

/// Closes `s` with SO_LINGER 0: the kernel sends RST instead of FIN.
fn reset(s: TcpStream) {
    socket2::SockRef::from(&s)
        .set_linger(Some(Duration::ZERO))
        .unwrap();
    drop(s);
}

fn port_of(server: &asyncio::Server) -> u16 {
    server.sockets()[0].as_inet().unwrap().port()
}

/// What a loop with nothing left (no connection, no task, no timer) reports.
fn assert_loop_empty(lp: &EventLoop) {
    // Callbacks already scheduled (a connection_lost, a server's detach) run first.
    for _ in 0..5 {
        lp.run_once(Some(Duration::ZERO)).unwrap();
    }
    let s = lp.stats();
    assert_eq!(s.tasks, 0, "tasks left: {s:?}");
    assert_eq!(s.timers, 0, "timers left: {s:?}");
    assert_eq!(s.io_registrations, 0, "registrations left: {s:?}");
}

/// `Error` as a short typed description: `tls <kind>: <text>` or `io <kind>: <text>`.
/// An `Io` error carrying a TLS error inside (what a protocol's `connection_lost` and the
/// stream reads get after the handshake) is `io(tls)`.
fn describe(e: &Error) -> String {
    let family = match e {
        Error::Tls(_) => "tls",
        Error::Io(io) if tls_inside(io) => "io(tls)",
        Error::Io(_) => "io",
        _ => "other",
    };
    format!("{family} {:?}: {e}", e.kind())
}

/// Whether `e` wraps the crate's TLS error (as `Error::Tls` or `TlsError`).
fn tls_inside(e: &io::Error) -> bool {
    e.get_ref().is_some_and(|i| {
        matches!(i.downcast_ref::<Error>(), Some(Error::Tls(_))) || i.is::<asyncio::TlsError>()
    })
}

/// A small deterministic generator (splitmix64) for garbage bytes and fragment sizes.
struct Rng(u64);

impl Rng {
    fn next(&mut self) -> u64 {
        self.0 = self.0.wrapping_add(0x9e37_79b9_7f4a_7c15);
        let mut z = self.0;
        z = (z ^ (z >> 30)).wrapping_mul(0xbf58_476d_1ce4_e5b9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94d0_49bb_1331_11eb);
        z ^ (z >> 31)
    }

    /// Uniform in `1..=max`.
    fn size(&mut self, max: usize) -> usize {
        1 + (self.next() % max as u64) as usize
    }

    fn bytes(&mut self, n: usize) -> Vec<u8> {
        (0..n).map(|_| self.next() as u8).collect()
    }
}

/// The crate's log records (target `asyncio`), per thread: each test's loop runs on its own
/// thread, so parallel tests do not see each other's records.
mod capture_log {
    use std::cell::RefCell;

    thread_local!(static LINES: RefCell<Vec<String>> = const { RefCell::new(Vec::new()) });

    struct Capture;

    impl log::Log for Capture {
        fn enabled(&self, m: &log::Metadata) -> bool {
            m.target().starts_with("asyncio")
        }
        fn log(&self, r: &log::Record) {
            if self.enabled(r.metadata()) {
                LINES.with(|l| l.borrow_mut().push(r.args().to_string()));
            }
        }
        fn flush(&self) {}
    }

    static CAPTURE: Capture = Capture;

    /// Installs the capture (once per process) and clears this thread's records.
    pub fn start() {
        static ONCE: std::sync::Once = std::sync::Once::new();
        ONCE.call_once(|| {
            log::set_logger(&CAPTURE).expect("no other logger in this binary");
            log::set_max_level(log::LevelFilter::Debug);
        });
        LINES.with(|l| l.borrow_mut().clear());
    }

    /// This thread's records that start with `prefix`.
    pub fn lines(prefix: &str) -> Vec<String> {
        LINES.with(|l| {
            l.borrow()
                .iter()
                .filter(|s| s.starts_with(prefix))
                .cloned()
                .collect()
        })
    }
}

/// A server's TLS handshake failures, as logged by the TLS layer (`SSL handshake …: <error>`).
fn handshake_failures() -> Vec<String> {
    capture_log::lines("SSL handshake")
}

/// A `start_server` handler that echoes until EOF or an error, then records how the reading
/// ended (`eof close_notify=<bool>` or [`describe`]) in `log` and closes.
fn recording_echo(
    log: util::Log,
) -> impl Fn(
    StreamReader,
    StreamWriter,
) -> std::pin::Pin<Box<dyn std::future::Future<Output = Result<(), Error>>>>
       + 'static {
    move |reader: StreamReader, writer: StreamWriter| {
        let log = log.clone();
        Box::pin(async move {
            let mut buf = vec![0u8; 16 * 1024];
            let r: Result<(), Error> = async {
                loop {
                    let n = reader.read_into(&mut buf).await?;
                    if n == 0 {
                        return Ok(());
                    }
                    writer.write(&buf[..n])?;
                    writer.drain().await?;
                }
            }
            .await;
            let cn = writer.transport().close_notify_received();
            log.push(match &r {
                Ok(()) => format!("eof close_notify={cn}"),
                Err(e) => describe(e),
            });
            writer.close();
            let _ = writer.wait_closed().await;
            Ok(())
        })
    }
}

/// A TLS echo server on `lp` that records each connection's end (see [`recording_echo`]).
fn tls_server(
    lp: &EventLoop,
    configure: impl FnOnce(asyncio::StartServer) -> asyncio::StartServer,
) -> (asyncio::Server, util::Log) {
    let ended = util::Log::default();
    let builder = asyncio::start_server(recording_echo(ended.clone()), "127.0.0.1", 0)
        .ssl(Certs::get().server_config(&[]));
    let server = run(lp, configure(builder)).unwrap();
    (server, ended)
}

/// A good TLS client of `port`, kept open while others misbehave.
struct GoodClient {
    reader: StreamReader,
    writer: StreamWriter,
}

impl GoodClient {
    fn connect(lp: &EventLoop, port: u16) -> GoodClient {
        let (reader, writer) = run(
            lp,
            asyncio::open_connection("127.0.0.1", port)
                .ssl(Certs::get().client_config(&[]))
                .server_hostname("localhost"),
        )
        .expect("a good client connects");
        GoodClient { reader, writer }
    }

    /// One line there and back.
    fn echo(&self, lp: &EventLoop, line: &[u8]) {
        let got = run(lp, async {
            self.writer.write(line)?;
            self.reader.readline().await
        })
        .expect("the good client is served");
        assert_eq!(got, line);
    }

    fn close(self, lp: &EventLoop) {
        self.writer.close();
        run(lp, self.writer.wait_closed()).expect("a clean close");
    }
}

/// A plain server whose connections upgrade at once with the server side of `start_tls`
/// (reading paused from `connection_made`, so no byte is read as plaintext first). Each
/// upgrade's outcome is recorded: `ok`, or [`describe`] of the error the future returned.
/// The TLS layer is the one `.ssl()` servers use; this path returns its error typed.
struct StartTlsServer {
    server: asyncio::Server,
    outcomes: util::Log,
    /// The app protocol of each connection, to check what reached it.
    apps: Rc<RefCell<Vec<Rc<RefCell<Recorder>>>>>,
}

/// Closes a `tls_server` and a [`StartTlsServer`] and waits for both, then checks that
/// nothing is left on the loop and every descriptor of the test (`fds` at its start) went.
fn close_both_and_check(
    lp: &EventLoop,
    server: asyncio::Server,
    upgrade: StartTlsServer,
    fds: usize,
) {
    server.close();
    upgrade.server.close();
    run(lp, async {
        server.wait_closed().await;
        upgrade.server.wait_closed().await;
    });
    drop(upgrade);
    assert_loop_empty(lp);
    assert_eq!(open_fds(), fds, "a socket was not released");
}

struct UpgradeAtOnce {
    outcomes: util::Log,
    apps: Rc<RefCell<Vec<Rc<RefCell<Recorder>>>>>,
}

impl Protocol for UpgradeAtOnce {
    fn connection_made(&mut self, t: Transport) {
        t.pause_reading();
        let app = Rc::new(RefCell::new(Recorder::default()));
        self.apps.borrow_mut().push(app.clone());
        // start_tls keeps the connection_made of the plain connection: tell the recorder.
        app.borrow_mut().connection_made(t.clone());
        let outcomes = self.outcomes.clone();
        let lp = t.get_loop();
        let p: ProtocolRef = app;
        lp.spawn(async move {
            let r = t
                .get_loop()
                .start_tls(&t, p, Certs::get().server_config(&[]), true)
                .await;
            outcomes.push(match r {
                Ok(_) => "ok".to_string(),
                Err(e) => describe(&e),
            });
        })
        .unwrap()
        .detach();
    }
}

impl StartTlsServer {
    fn start(lp: &EventLoop) -> StartTlsServer {
        let outcomes = util::Log::default();
        let apps: Rc<RefCell<Vec<Rc<RefCell<Recorder>>>>> = Rc::default();
        let (o, a) = (outcomes.clone(), apps.clone());
        let server = run(
            lp,
            lp.create_server(
                move || UpgradeAtOnce {
                    outcomes: o.clone(),
                    apps: a.clone(),
                },
                "127.0.0.1",
                0,
            ),
        )
        .unwrap();
        StartTlsServer {
            server,
            outcomes,
            apps,
        }
    }
}

// ─────────────────────────────── resets ───────────────────────────────

/// Reads one TLS record (header and body) from `s`.
fn read_record(s: &mut TcpStream) -> Vec<u8> {
    let mut rec = vec![0u8; 5];
    s.read_exact(&mut rec).unwrap();
    let len = u16::from_be_bytes([rec[3], rec[4]]) as usize;
    rec.resize(5 + len, 0);
    s.read_exact(&mut rec[5..]).unwrap();
    rec
}

// Checklist: T28 (the pending handshake's waiter fails with the loss's error).
#[test]
fn reset_in_the_middle_of_the_handshake_fails_the_connect_with_connection_reset_t8() {
    // The peer reads our ClientHello, answers with half of a real server flight (made by an
    // in-memory rustls server from that very ClientHello), then resets.
    let _serial = util::serial();
    let certs = Certs::get();
    let lp = EventLoop::new().unwrap();
    let seen = util::capture_exceptions(&lp);
    let fds = open_fds();
    let l = TcpListener::bind("127.0.0.1:0").unwrap();
    let port = l.local_addr().unwrap().port();
    let config = certs.server_config(&[]);
    let peer = std::thread::spawn(move || {
        let (mut s, _) = l.accept().unwrap();
        s.set_read_timeout(Some(BOUND)).unwrap();
        let hello = read_record(&mut s);
        let mut conn = rustls::ServerConnection::new(config).unwrap();
        conn.read_tls(&mut &hello[..]).unwrap();
        conn.process_new_packets().unwrap();
        let mut flight = Vec::new();
        while conn.wants_write() {
            conn.write_tls(&mut flight).unwrap();
        }
        assert!(flight.len() > 100, "a server flight: {} B", flight.len());
        s.write_all(&flight[..flight.len() / 2]).unwrap();
        reset(s);
        flight.len()
    });
    let made = Rc::new(RefCell::new(None));
    let m = made.clone();
    let r = run(
        &lp,
        lp.create_connection(
            move || {
                let rec = Rc::new(RefCell::new(Recorder::default()));
                *m.borrow_mut() = Some(rec.clone());
                Forward(rec)
            },
            "127.0.0.1",
            port,
        )
        .ssl(certs.client_config(&[]))
        .server_hostname("localhost"),
    );
    let flight = peer.join().unwrap();
    let e = r.err().expect("the handshake cannot complete");
    assert_eq!(e.kind(), ErrorKind::ConnectionReset, "{}", describe(&e));
    assert!(matches!(e, Error::Io(_)), "{}", describe(&e));
    let rec = made.borrow().clone().expect("the factory ran");
    assert!(
        rec.borrow().calls.is_empty(),
        "T8: nothing reaches the protocol of a failed handshake: {:?}",
        rec.borrow().calls
    );
    assert!(seen.borrow().is_empty(), "{:?}", seen.borrow());
    assert_loop_empty(&lp);
    assert_eq!(open_fds(), fds, "the socket was not released");
    println!(
        "reset after {} of {flight} B of the server flight",
        flight / 2
    );
}

/// T10, T5; CPython: SslProtoHandshakeTests.test_eof_received_waiter,
/// TestSSL.test_ssl_handshake_connection_lost. The peer reads our ClientHello and closes (a
/// FIN, not a reset): the pending create_connection fails with a bare ConnectionReset, and the
/// protocol gets neither connection_made nor connection_lost; nothing is reported.
#[test]
fn eof_after_the_client_hello_fails_the_connect_with_connection_reset_t10() {
    let _serial = util::serial();
    let lp = EventLoop::new().unwrap();
    let seen = util::capture_exceptions(&lp);
    let fds = open_fds();
    let l = TcpListener::bind("127.0.0.1:0").unwrap();
    let port = l.local_addr().unwrap().port();
    let peer = std::thread::spawn(move || {
        let (mut s, _) = l.accept().unwrap();
        s.set_read_timeout(Some(BOUND)).unwrap();
        let hello = read_record(&mut s);
        assert_eq!(hello[0], 0x16, "a handshake record");
        drop(s);
    });
    let made = Rc::new(RefCell::new(None));
    let m = made.clone();
    let r = run(
        &lp,
        lp.create_connection(
            move || {
                let rec = Rc::new(RefCell::new(Recorder::default()));
                *m.borrow_mut() = Some(rec.clone());
                Forward(rec)
            },
            "127.0.0.1",
            port,
        )
        .ssl(Certs::get().client_config(&[]))
        .server_hostname(""),
    );
    peer.join().unwrap();
    let e = r.err().expect("the handshake cannot complete");
    assert_eq!(e.kind(), ErrorKind::ConnectionReset, "{}", describe(&e));
    assert!(matches!(e, Error::Io(_)), "{}", describe(&e));
    let rec = made.borrow().clone().expect("the factory ran");
    assert!(
        rec.borrow().calls.is_empty(),
        "T5: no connection_lost without connection_made: {:?}",
        rec.borrow().calls
    );
    assert!(seen.borrow().is_empty(), "{:?}", seen.borrow());
    assert_loop_empty(&lp);
    assert_eq!(open_fds(), fds, "the socket was not released");
}

#[test]
fn reset_in_the_middle_of_the_handshake_on_a_tls_server_drops_that_connection_t36_d14() {
    // Half a ClientHello, then RST: the `.ssl()` server drops the connection without calling
    // the handler; the `start_tls` server returns the typed error.
    let _serial = util::serial();
    let hello = client_hello();
    let lp = EventLoop::new().unwrap();
    let seen = util::capture_exceptions(&lp);
    capture_log::start();
    let fds = open_fds();
    let (server, ended) = tls_server(&lp, |b| b);
    let port = port_of(&server);
    let upgrade = StartTlsServer::start(&lp);
    let uport = port_of(&upgrade.server);
    for (srv, port) in [(&server, port), (&upgrade.server, uport)] {
        let mut raw = TcpStream::connect(("127.0.0.1", port)).unwrap();
        wait_until(&lp, "the accept", || srv.connection_count() == 1);
        raw.write_all(&hello[..hello.len() / 2]).unwrap();
        reset(raw);
        wait_until(&lp, "the connection to go", || srv.connection_count() == 0);
    }
    wait_until(&lp, "the start_tls outcome", || upgrade.outcomes.len() == 1);
    let outcome = upgrade.outcomes.get();
    assert!(
        outcome[0].starts_with("io ConnectionReset"),
        "a typed ConnectionReset: {outcome:?}"
    );
    assert!(ended.get().is_empty(), "T36: the handler never ran");
    let app = upgrade.apps.borrow()[0].clone();
    assert_eq!(
        app.borrow().calls,
        ["connection_made", "connection_lost(ConnectionReset)"],
        "start_tls failed: the error goes to its caller, and the app's connection ends with it \
         (D14; CPython calls no connection_lost here, so a stream over it waits forever)"
    );
    assert!(
        handshake_failures().is_empty(),
        "{:?}",
        handshake_failures()
    );
    assert!(
        seen.borrow().is_empty(),
        "no panic, nothing reported: {:?}",
        seen.borrow()
    );
    close_both_and_check(&lp, server, upgrade, fds);
}

// Checklist: T28 (connection_lost once, the transport closed, nothing buffered, later writes
// dropped without an error, no timer left).
#[test]
fn reset_in_the_middle_of_a_record_is_connection_reset_and_connection_lost_once_l44_t28() {
    // After the handshake the peer sends one whole record ("x") and the first half of the next
    // in one segment; once "x" arrived we answer, and the peer resets.
    let _serial = util::serial();
    let certs = Certs::get();
    let lp = EventLoop::new().unwrap();
    let seen = util::capture_exceptions(&lp);
    let fds = open_fds();
    let l = TcpListener::bind("127.0.0.1:0").unwrap();
    let port = l.local_addr().unwrap().port();
    let config = certs.server_config(&[]);
    let peer = std::thread::spawn(move || {
        let (mut tcp, _) = l.accept().unwrap();
        tcp.set_read_timeout(Some(BOUND)).unwrap();
        let mut conn = rustls::ServerConnection::new(config).unwrap();
        while conn.is_handshaking() {
            conn.complete_io(&mut tcp).unwrap();
        }
        while conn.wants_write() {
            conn.write_tls(&mut tcp).unwrap();
        }
        let mut seal = |data: &[u8]| {
            conn.writer().write_all(data).unwrap();
            let mut out = Vec::new();
            while conn.wants_write() {
                conn.write_tls(&mut out).unwrap();
            }
            out
        };
        let mut wire = seal(b"x");
        let next = seal(&[7u8; 1000]);
        wire.extend_from_slice(&next[..next.len() / 2]);
        tcp.write_all(&wire).unwrap();
        let mut go = [0u8; 1];
        tcp.read_exact(&mut go).unwrap(); // our answer to "x"
        reset(tcp);
    });
    let rec = Recorder {
        on_data: Some(Box::new(|t: &Transport, _: &[u8]| t.write(b"go").unwrap())),
        ..Default::default()
    };
    let (t, proto) = run(
        &lp,
        lp.create_connection(move || rec, "127.0.0.1", port)
            .ssl(certs.client_config(&[]))
            .server_hostname("localhost"),
    )
    .unwrap();
    wait_until(&lp, "connection_lost", || proto.borrow().lost);
    for _ in 0..10 {
        lp.run_once(Some(Duration::ZERO)).unwrap(); // room for a second connection_lost
    }
    peer.join().unwrap();
    let p = proto.borrow();
    assert_eq!(
        p.data, b"x",
        "the whole record was delivered, the half one not"
    );
    assert_eq!(
        p.grammar(),
        [
            "connection_made",
            "data",
            "connection_lost(ConnectionReset)"
        ],
        "connection_lost exactly once, with the reset"
    );
    assert!(t.is_closing(), "the transport is closed");
    assert_eq!(t.get_write_buffer_size(), 0);
    assert!(
        t.tls_version().is_some(),
        "TLS info outlives the connection"
    );
    t.write(b"late").unwrap(); // T11: dropped silently
    assert!(
        seen.borrow().is_empty(),
        "OS errors are quiet: {:?}",
        seen.borrow()
    );
    drop(p);
    drop((t, proto));
    assert_loop_empty(&lp);
    assert_eq!(open_fds(), fds, "the socket was not released");
}

#[test]
fn corrupted_record_reaches_connection_lost_once_with_the_tls_error_t29_t30() {
    // The protocol-level view of a bad record: connection_lost(InvalidData) once, carrying the
    // crate's TLS error, after the data that came before it.
    let _serial = util::serial();
    let certs = Certs::get();
    let lp = EventLoop::new().unwrap();
    let seen = util::capture_exceptions(&lp);
    let fds = open_fds();
    let l = TcpListener::bind("127.0.0.1:0").unwrap();
    let port = l.local_addr().unwrap().port();
    let config = certs.server_config(&[]);
    let peer = std::thread::spawn(move || {
        let (mut tcp, _) = l.accept().unwrap();
        tcp.set_read_timeout(Some(BOUND)).unwrap();
        let mut conn = rustls::ServerConnection::new(config).unwrap();
        while conn.is_handshaking() {
            conn.complete_io(&mut tcp).unwrap();
        }
        conn.writer().write_all(b"good").unwrap();
        conn.writer().write_all(b"bad!").unwrap(); // two records
        let mut wire = Vec::new();
        while conn.wants_write() {
            conn.write_tls(&mut wire).unwrap();
        }
        let last = wire.len() - 1;
        wire[last] ^= 0x80; // the second record's tag
        tcp.write_all(&wire).unwrap();
        let mut rest = Vec::new();
        let _ = tcp.read_to_end(&mut rest); // until we close
        rest
    });
    // The Recorder keeps only the kind: `Keep` keeps the error itself too.
    struct Keep(Rc<RefCell<Recorder>>, Rc<RefCell<Option<String>>>);
    impl Protocol for Keep {
        fn connection_made(&mut self, t: Transport) {
            self.0.borrow_mut().connection_made(t)
        }
        fn data_received(&mut self, d: &[u8]) {
            self.0.borrow_mut().data_received(d)
        }
        fn eof_received(&mut self) -> bool {
            self.0.borrow_mut().eof_received()
        }
        fn connection_lost(&mut self, e: Option<io::Error>) {
            *self.1.borrow_mut() = e
                .as_ref()
                .map(|e| format!("{:?}: {e} tls_inside={}", e.kind(), tls_inside(e)));
            self.0.borrow_mut().connection_lost(e)
        }
    }
    let proto = Rc::new(RefCell::new(Recorder::default()));
    let error = Rc::new(RefCell::new(None));
    let (p, e) = (proto.clone(), error.clone());
    let (t, _) = run(
        &lp,
        lp.create_connection(move || Keep(p, e), "127.0.0.1", port)
            .ssl(certs.client_config(&[]))
            .server_hostname("localhost"),
    )
    .unwrap();
    wait_until(&lp, "connection_lost", || proto.borrow().lost);
    for _ in 0..10 {
        lp.run_once(Some(Duration::ZERO)).unwrap(); // room for a second connection_lost
    }
    let alert = peer.join().unwrap();
    let p = proto.borrow();
    assert_eq!(
        p.data, b"good",
        "the record before the bad one was delivered"
    );
    assert_eq!(
        p.grammar(),
        ["connection_made", "data", "connection_lost(InvalidData)"],
        "connection_lost exactly once"
    );
    let error = error.borrow().clone().unwrap();
    assert!(
        error.contains("cannot decrypt peer's message") && error.ends_with("tls_inside=true"),
        "the crate's TLS error inside: {error}"
    );
    // Like CPython's `_do_read` → `_fatal_error`, the alert rustls queued after a bad record
    // is not flushed before the abort (only handshake failures send theirs): the peer sees the
    // connection end, or an alert should that change.
    assert!(
        alert.is_empty() || alert[0] == 0x15,
        "the peer got nothing more, or an alert: {alert:02x?}"
    );
    assert!(t.is_closing());
    assert!(
        seen.borrow().is_empty(),
        "TLS errors are quiet: {:?}",
        seen.borrow()
    );
    drop(p);
    drop((t, proto));
    assert_loop_empty(&lp);
    assert_eq!(open_fds(), fds, "the socket was not released");
}

#[test]
fn reset_in_the_middle_of_a_record_on_a_tls_server_fails_the_handlers_read_s19() {
    let _serial = util::serial();
    let lp = EventLoop::new().unwrap();
    let seen = util::capture_exceptions(&lp);
    let fds = open_fds();
    let (server, ended) = tls_server(&lp, |b| b);
    let port = port_of(&server);
    let peer = std::thread::spawn(move || {
        let (mut tcp, mut conn) = blocking_tls_client(port);
        let mut wire = seal(&mut conn, b"ping\n");
        let next = seal(&mut conn, &[7u8; 1000]);
        wire.extend_from_slice(&next[..next.len() / 2]);
        tcp.write_all(&wire).unwrap();
        // The echo proves the server processed the whole record (and holds half the next).
        let echo = read_plaintext(&mut tcp, &mut conn, 5);
        reset(tcp);
        echo
    });
    wait_until(&lp, "the handler's end", || ended.len() == 1);
    wait_until(&lp, "the connection to go", || {
        server.connection_count() == 0
    });
    assert_eq!(peer.join().unwrap().as_deref(), Ok(&b"ping\n"[..]));
    let ended = ended.get();
    assert!(
        ended[0].starts_with("io ConnectionReset"),
        "a typed reset: {ended:?}"
    );
    assert!(seen.borrow().is_empty(), "{:?}", seen.borrow());
    server.close();
    run(&lp, server.wait_closed());
    assert_loop_empty(&lp);
    assert_eq!(open_fds(), fds, "a socket was not released");
}

// ─────────────────────────────── garbage ───────────────────────────────

/// What a misbehaving client sends to a TLS server.
#[derive(Clone, Copy, Debug, PartialEq)]
enum Garbage {
    /// 4 KiB from a fixed-seed generator, then it waits for the server.
    RandomBytes,
    /// `GET / HTTP/1.1`, then it waits.
    HttpRequest,
    /// The first half of a real ClientHello, then EOF.
    TruncatedHello,
    /// A good handshake and line, then a record with one bit flipped.
    CorruptedRecord,
    /// A good handshake and line, then a TCP FIN without close_notify.
    EofWithoutCloseNotify,
}

impl Garbage {
    const ALL: [Garbage; 5] = [
        Garbage::RandomBytes,
        Garbage::HttpRequest,
        Garbage::TruncatedHello,
        Garbage::CorruptedRecord,
        Garbage::EofWithoutCloseNotify,
    ];

    fn during_handshake(self) -> bool {
        matches!(
            self,
            Garbage::RandomBytes | Garbage::HttpRequest | Garbage::TruncatedHello
        )
    }

    /// Plays the client on a thread; returns what it saw of the server's answer.
    fn play(self, port: u16, hello: Vec<u8>) -> std::thread::JoinHandle<String> {
        std::thread::spawn(move || match self {
            Garbage::RandomBytes | Garbage::HttpRequest | Garbage::TruncatedHello => {
                let mut s = TcpStream::connect(("127.0.0.1", port)).unwrap();
                s.set_read_timeout(Some(BOUND)).unwrap();
                match self {
                    Garbage::RandomBytes => {
                        s.write_all(&Rng(0x6a7b_a6e5).bytes(4096)).unwrap();
                    }
                    Garbage::HttpRequest => s
                        .write_all(b"GET / HTTP/1.1\r\nHost: localhost\r\n\r\n")
                        .unwrap(),
                    _ => {
                        s.write_all(&hello[..hello.len() / 2]).unwrap();
                        s.shutdown(Shutdown::Write).unwrap();
                    }
                }
                let mut got = Vec::new();
                let end = match s.read_to_end(&mut got) {
                    Ok(_) => "EOF".to_string(),
                    Err(e) => format!("{:?}", e.kind()),
                };
                // An alert record is 0x15 0x03 0x03 0x00 0x02 <level> <description>.
                match got.as_slice() {
                    [] => format!("nothing, {end}"),
                    [0x15, 3, _, 0, 2, level, desc] => {
                        format!("alert {level}/{desc:?}, {end}")
                    }
                    other => format!("{} bytes {:02x?}, {end}", other.len(), other),
                }
            }
            Garbage::CorruptedRecord => {
                let (mut tcp, mut conn) = blocking_tls_client(port);
                tcp.write_all(&seal(&mut conn, b"fine\n")).unwrap();
                assert_eq!(
                    read_plaintext(&mut tcp, &mut conn, 5).as_deref(),
                    Ok(&b"fine\n"[..])
                );
                let mut bad = seal(&mut conn, b"corrupt me\n");
                let last = bad.len() - 1;
                bad[last] ^= 0x01; // in the AEAD tag
                tcp.write_all(&bad).unwrap();
                match read_plaintext(&mut tcp, &mut conn, usize::MAX) {
                    Ok(more) => format!("clean end after {} B", more.len()),
                    Err(e) => e,
                }
            }
            Garbage::EofWithoutCloseNotify => {
                let (mut tcp, mut conn) = blocking_tls_client(port);
                tcp.write_all(&seal(&mut conn, b"hello\n")).unwrap();
                assert_eq!(
                    read_plaintext(&mut tcp, &mut conn, 6).as_deref(),
                    Ok(&b"hello\n"[..])
                );
                tcp.shutdown(Shutdown::Write).unwrap(); // FIN, no close_notify
                let rest = read_plaintext(&mut tcp, &mut conn, usize::MAX);
                let close_notify = conn.reader().read(&mut [0u8; 1]).ok() == Some(0);
                format!("{:?} close_notify={close_notify}", rest.map(|v| v.len()))
            }
        })
    }
}

#[test]
fn garbage_to_a_tls_server_fails_that_connection_and_the_server_keeps_serving_t29_d9() {
    let _serial = util::serial();
    let hello = client_hello();
    let lp = EventLoop::new().unwrap();
    let seen = util::capture_exceptions(&lp);
    capture_log::start();
    let fds = open_fds();
    let (server, ended) = tls_server(&lp, |b| b);
    let port = port_of(&server);
    // Connected before the garbage and kept through every case (concurrent service).
    let steady = GoodClient::connect(&lp, port);
    steady.echo(&lp, b"before\n");
    let mut report = Vec::new();
    for case in Garbage::ALL {
        let failures = handshake_failures().len();
        let handled = ended.len();
        let peer = case.play(port, hello.clone());
        if case.during_handshake() {
            wait_until(&lp, "the server's handshake failure", || {
                handshake_failures().len() == failures + 1
            });
        } else {
            wait_until(&lp, "the handler's end", || ended.len() == handled + 1);
        }
        wait_until(&lp, "the bad connection to go", || {
            server.connection_count() == 1
        });
        let peer_saw = peer.join().expect("the raw client");
        let server_saw = if case.during_handshake() {
            handshake_failures()[failures].clone()
        } else {
            ended.get()[handled].clone()
        };
        match case {
            Garbage::RandomBytes | Garbage::HttpRequest => {
                assert!(
                    server_saw.starts_with("SSL handshake failed: "),
                    "{case:?}: {server_saw}"
                );
                assert!(
                    peer_saw.starts_with("alert 2/"),
                    "{case:?}: a fatal alert tells the client why: {peer_saw}"
                );
            }
            Garbage::TruncatedHello => assert_eq!(
                server_saw,
                "SSL handshake failed: the peer closed the connection during the TLS handshake",
                "{case:?}"
            ),
            Garbage::CorruptedRecord => {
                assert!(
                    // Issue #13: over streams too, a TLS failure is `Error::Tls`, typed.
                    server_saw.starts_with("tls InvalidData: cannot decrypt peer's message"),
                    "{case:?}: {server_saw}"
                );
                // No alert after the handshake (see the protocol-level test); FIN or RST.
                assert!(
                    ["clean end after 0 B", "io ConnectionReset"].contains(&peer_saw.as_str())
                        || peer_saw.starts_with("tls AlertReceived(BadRecordMac)"),
                    "{case:?}: {peer_saw}"
                );
            }
            Garbage::EofWithoutCloseNotify => {
                assert_eq!(server_saw, "eof close_notify=false", "{case:?}: D9");
                assert!(peer_saw.starts_with("Ok(0)"), "{case:?}: {peer_saw}");
            }
        }
        report.push(format!(
            "{case:?}: server: {server_saw} | client: {peer_saw}"
        ));
        // The server still serves: the old client, and a new one.
        steady.echo(&lp, format!("after {case:?}\n").as_bytes());
        let fresh = GoodClient::connect(&lp, port);
        fresh.echo(&lp, b"fresh\n");
        fresh.close(&lp);
        wait_until(&lp, "the fresh client to go", || {
            server.connection_count() == 1
        });
    }
    steady.close(&lp);
    wait_until(&lp, "every connection to go", || {
        server.connection_count() == 0
    });
    assert_eq!(
        handshake_failures().len(),
        3,
        "exactly the three handshake-time cases failed the handshake: {:?}",
        handshake_failures()
    );
    assert!(
        seen.borrow().is_empty(),
        "no panic, nothing reported: {:?}",
        seen.borrow()
    );
    server.close();
    run(&lp, server.wait_closed());
    assert_loop_empty(&lp);
    assert_eq!(open_fds(), fds, "a socket was not released");
    for line in report {
        println!("{line}");
    }
}

#[test]
fn garbage_during_the_handshake_is_a_typed_error_t29_t49() {
    // The same handshake-time garbage against the server side of `start_tls`, whose future
    // returns the error: `Error::Tls` for bytes that are not TLS, `ConnectionReset` for an EOF
    // in the middle of a ClientHello (as CPython's `eof_received` during the handshake).
    let _serial = util::serial();
    let hello = client_hello();
    let lp = EventLoop::new().unwrap();
    let seen = util::capture_exceptions(&lp);
    let fds = open_fds();
    let upgrade = StartTlsServer::start(&lp);
    let port = port_of(&upgrade.server);
    let cases = [
        (Garbage::RandomBytes, "tls InvalidData"),
        (Garbage::HttpRequest, "tls InvalidData"),
        (Garbage::TruncatedHello, "io ConnectionReset"),
    ];
    for (i, (case, expected)) in cases.into_iter().enumerate() {
        let peer = case.play(port, hello.clone());
        wait_until(&lp, "the start_tls outcome", || {
            upgrade.outcomes.len() == i + 1
        });
        wait_until(&lp, "the connection to go", || {
            upgrade.server.connection_count() == 0
        });
        let peer_saw = peer.join().unwrap();
        let outcome = upgrade.outcomes.get()[i].clone();
        assert!(outcome.starts_with(expected), "{case:?}: {outcome}");
        println!("{case:?}: start_tls: {outcome} | client: {peer_saw}");
    }
    // A good client is still served.
    let (_tcp, _conn) = {
        let peer = std::thread::spawn(move || blocking_tls_client(port));
        wait_until(&lp, "the good handshake", || upgrade.outcomes.len() == 4);
        peer.join().unwrap()
    };
    assert_eq!(upgrade.outcomes.get()[3], "ok");
    drop((_tcp, _conn));
    wait_until(&lp, "the good client to go", || {
        upgrade.server.connection_count() == 0
    });
    assert!(seen.borrow().is_empty(), "{:?}", seen.borrow());
    upgrade.server.close();
    run(&lp, upgrade.server.wait_closed());
    drop(upgrade);
    assert_loop_empty(&lp);
    assert_eq!(open_fds(), fds, "a socket was not released");
}

#[test]
fn eof_without_close_notify_is_an_error_when_the_server_requires_it_d9() {
    let _serial = util::serial();
    let lp = EventLoop::new().unwrap();
    let seen = util::capture_exceptions(&lp);
    let (server, ended) = tls_server(&lp, |b| b.ssl_require_close_notify(true));
    let port = port_of(&server);
    let peer = Garbage::EofWithoutCloseNotify.play(port, Vec::new());
    wait_until(&lp, "the handler's end", || ended.len() == 1);
    wait_until(&lp, "the connection to go", || {
        server.connection_count() == 0
    });
    let peer_saw = peer.join().unwrap();
    let ended = ended.get();
    assert!(
        ended[0].starts_with("tls InvalidData") && ended[0].contains("close_notify"),
        "D9: a truncation error: {ended:?}"
    );
    println!("server: {} | client: {peer_saw}", ended[0]);
    assert!(seen.borrow().is_empty(), "{:?}", seen.borrow());
    server.close();
    run(&lp, server.wait_closed());
    assert_loop_empty(&lp);
}

// ───────────────────── close_notify during the handshake ─────────────────────

/// A warning-level close_notify alert record in plaintext: `15 03 03 00 02 01 00`.
const CLOSE_NOTIFY: [u8; 7] = [0x15, 3, 3, 0, 2, 1, 0];

/// The opening words of the close_notify-during-the-handshake error (OpenSSL's, as Python's
/// `ssl.SSLZeroReturnError` gives them).
const CLOSED_DURING_HANDSHAKE: &str = "TLS/SSL connection has been closed (EOF)";

/// What a raw peer read after sending its last bytes, until our side closed.
fn rest_of(mut s: TcpStream) -> String {
    s.set_read_timeout(Some(BOUND)).unwrap();
    let mut got = Vec::new();
    let end = match s.read_to_end(&mut got) {
        Ok(_) => "EOF".to_string(),
        Err(e) => format!("{:?}", e.kind()),
    };
    format!("{} B, then {end}", got.len())
}

// Checklist: T8, T10 (a handshake the peer ended fails at once, typed, not by the timeout).
#[test]
fn a_server_that_answers_the_client_hello_with_close_notify_fails_the_connect_at_once_t8() {
    // rustls lets a warning-level close_notify pass while the version is not settled yet, so
    // the handshake used to wait for the whole ssl_handshake_timeout; OpenSSL (so CPython)
    // fails it at once with SSLZeroReturnError. With a 60 s timeout, only the close can end
    // this connect within the test's bound.
    let _serial = util::serial();
    let lp = EventLoop::new().unwrap();
    let seen = util::capture_exceptions(&lp);
    let fds = open_fds();
    let l = TcpListener::bind("127.0.0.1:0").unwrap();
    let port = l.local_addr().unwrap().port();
    let peer = std::thread::spawn(move || {
        let (mut s, _) = l.accept().unwrap();
        s.set_read_timeout(Some(BOUND)).unwrap();
        let hello = read_record(&mut s);
        assert_eq!(hello[0], 0x16, "a handshake record first");
        s.write_all(&CLOSE_NOTIFY).unwrap();
        rest_of(s) // the socket stays open until our side closes it
    });
    let made = Rc::new(Cell::new(false));
    let m = made.clone();
    let r = run(
        &lp,
        lp.create_connection(
            move || {
                m.set(true);
                Forward(Rc::default())
            },
            "127.0.0.1",
            port,
        )
        .ssl(Certs::get().client_config(&[]))
        .server_hostname("localhost")
        .ssl_handshake_timeout(Duration::from_secs(60)),
    );
    let e = r.err().expect("the handshake cannot complete");
    let peer_saw = peer.join().unwrap();
    assert!(matches!(e, Error::Tls(_)), "{}", describe(&e));
    assert!(
        e.to_string().starts_with(CLOSED_DURING_HANDSHAKE),
        "the close, not the timeout: {}",
        describe(&e)
    );
    assert!(made.get(), "the factory ran");
    assert!(seen.borrow().is_empty(), "{:?}", seen.borrow());
    assert_loop_empty(&lp);
    assert_eq!(open_fds(), fds, "the socket was not released");
    println!("client: {} | peer: {peer_saw}", describe(&e));
}

// Checklist: T8, T36 (the handshake fails at once; the handler never runs).
#[test]
fn a_client_hello_then_close_notify_fails_that_handshake_at_once_t8_t36() {
    // The client's ClientHello and a plaintext close_notify in one write, for a TLS 1.2 and a
    // TLS 1.3 offer: rustls ignores a warning once TLS 1.2 is chosen (so the server waited
    // for the 60 s timeout) and refuses it in TLS 1.3. Both end at once, with one error.
    let _serial = util::serial();
    let lp = EventLoop::new().unwrap();
    let seen = util::capture_exceptions(&lp);
    capture_log::start();
    let fds = open_fds();
    let (server, ended) = tls_server(&lp, |b| b.ssl_handshake_timeout(Duration::from_secs(60)));
    let upgrade = StartTlsServer::start(&lp); // start_tls' default timeout: 60 s
    let tls12 = rustls::ClientConfig::builder_with_protocol_versions(&[&rustls::version::TLS12])
        .with_root_certificates(rustls::RootCertStore::empty())
        .with_no_client_auth();
    let hellos = [
        ("TLS 1.2", hello_of(Arc::new(tls12))),
        ("TLS 1.3", client_hello()),
    ];
    for (i, (version, hello)) in hellos.iter().enumerate() {
        for srv in [&server, &upgrade.server] {
            let mut s = TcpStream::connect(("127.0.0.1", port_of(srv))).unwrap();
            wait_until(&lp, "the accept", || srv.connection_count() == 1);
            s.write_all(&[&hello[..], &CLOSE_NOTIFY].concat()).unwrap();
            let peer = std::thread::spawn(move || rest_of(s));
            wait_until(&lp, "the connection to go", || srv.connection_count() == 0);
            // Our side closed the socket: the peer reads to its end.
            println!("{version}: client saw {}", peer.join().unwrap());
        }
        wait_until(&lp, "the start_tls outcome", || {
            upgrade.outcomes.len() == i + 1
        });
        let outcome = upgrade.outcomes.get()[i].clone();
        assert!(
            outcome.starts_with(&format!("tls InvalidData: {CLOSED_DURING_HANDSHAKE}")),
            "{version}: the close, typed: {outcome}"
        );
        println!("{version}: start_tls: {outcome}");
    }
    let failures = handshake_failures();
    assert_eq!(failures.len(), 4, "two servers, two offers: {failures:?}");
    for f in &failures {
        assert!(
            f.starts_with(&format!("SSL handshake failed: {CLOSED_DURING_HANDSHAKE}")),
            "{f}"
        );
    }
    assert!(ended.get().is_empty(), "T36: the handler never ran");
    assert!(seen.borrow().is_empty(), "{:?}", seen.borrow());
    close_both_and_check(&lp, server, upgrade, fds);
}

// Checklist: T8, T10 (an encrypted close_notify ends a TLS 1.2 handshake at once, typed).
#[test]
fn a_tls12_server_that_sends_an_encrypted_close_notify_for_its_finished_fails_the_connect_t8() {
    // After its ChangeCipherSpec the peer's records are encrypted, so the close_notify it
    // sends instead of its Finished hides its level and description; rustls lets a warning
    // one pass, and the connect used to wait for the whole ssl_handshake_timeout. OpenSSL
    // (so CPython) fails it at once, as a plaintext one (the test above).
    let _serial = util::serial();
    let lp = EventLoop::new().unwrap();
    let seen = util::capture_exceptions(&lp);
    let fds = open_fds();
    let (ours, theirs) = UnixStream::pair().unwrap();
    let peer = std::thread::spawn(move || close_notify_for_finished(theirs));
    let r = run(
        &lp,
        lp.create_connection(|| Forward(Rc::default()), "", 0)
            .sock(ours)
            .ssl(Certs::get().client_config(&[]))
            .server_hostname("localhost")
            .ssl_handshake_timeout(Duration::from_secs(60)),
    );
    let e = r.err().expect("the handshake cannot complete");
    peer.join().unwrap();
    assert!(matches!(e, Error::Tls(_)), "{}", describe(&e));
    assert!(
        e.to_string().starts_with(CLOSED_DURING_HANDSHAKE),
        "the close, not the timeout: {}",
        describe(&e)
    );
    assert!(seen.borrow().is_empty(), "{:?}", seen.borrow());
    assert_loop_empty(&lp);
    assert_eq!(open_fds(), fds, "the socket was not released");
}

/// A TLS 1.2 server over `sock` that answers the client's last flight with its
/// ChangeCipherSpec and then, instead of its Finished, a close_notify: the first record under
/// the new keys (sequence number 0), sealed with the keys the handshake agreed (extracted
/// from rustls, which has no way to send it there itself). Reads until our side closes.
fn close_notify_for_finished(mut sock: UnixStream) {
    use rustls::crypto::cipher::{OutboundChunks, OutboundPlainMessage};
    use rustls::{ConnectionTrafficSecrets as Keys, SupportedCipherSuite};
    sock.set_read_timeout(Some(BOUND)).unwrap();
    let certs = Certs::get();
    let mut config =
        rustls::ServerConfig::builder_with_protocol_versions(&[&rustls::version::TLS12])
            .with_no_client_auth()
            .with_single_cert(
                asyncio::tls::load_certs(&certs.cert).unwrap(),
                asyncio::tls::load_private_key(&certs.key).unwrap(),
            )
            .unwrap();
    config.enable_secret_extraction = true;
    let mut conn = rustls::ServerConnection::new(Arc::new(config)).unwrap();
    while conn.is_handshaking() {
        assert!(
            conn.read_tls(&mut sock).unwrap() > 0,
            "EOF in the handshake"
        );
        conn.process_new_packets().unwrap();
        if conn.is_handshaking() {
            send_all(&mut sock, &mut conn);
        }
    }
    let mut last = Vec::new();
    while conn.wants_write() {
        conn.write_tls(&mut last).unwrap();
    }
    let mut at = 0; // the end of the ChangeCipherSpec record
    while last[at] != 0x14 {
        at += 5 + usize::from(u16::from_be_bytes([last[at + 3], last[at + 4]]));
    }
    at += 6;
    let Some(SupportedCipherSuite::Tls12(suite)) = conn.negotiated_cipher_suite() else {
        panic!("TLS 1.2 was negotiated");
    };
    let (Keys::Aes128Gcm { key, iv }
    | Keys::Aes256Gcm { key, iv }
    | Keys::Chacha20Poly1305 { key, iv }) = conn.dangerous_extract_secrets().unwrap().tx.1
    else {
        panic!("a known AEAD");
    };
    let fixed = suite.aead_alg.key_block_shape().fixed_iv_len;
    let (fixed_iv, explicit) = iv.as_ref().split_at(fixed);
    let alert = suite
        .aead_alg
        .encrypter(key, fixed_iv, explicit)
        .encrypt(
            OutboundPlainMessage {
                typ: rustls::ContentType::Alert,
                version: rustls::ProtocolVersion::TLSv1_2,
                payload: OutboundChunks::Single(&[1, 0]), // warning, close_notify
            },
            0,
        )
        .unwrap()
        .encode();
    assert_ne!(alert.len(), CLOSE_NOTIFY.len(), "sealed, not plaintext");
    sock.write_all(&[&last[..at], &alert].concat()).unwrap();
    tls_common::drain(&mut sock);
}

// ─────────────────────────────── stalls ───────────────────────────────

#[test]
fn a_silent_client_is_dropped_after_the_handshake_timeout_t9_t36() {
    // The manual clock moves only when the test says: the silent client is still there at
    // 199 ms and gone at 200 ms, whatever the machine's load (no wall-clock bound).
    let _serial = util::serial();
    let clock = asyncio::ManualClock::new();
    let lp = EventLoop::with_clock(clock.clone()).unwrap();
    let seen = util::capture_exceptions(&lp);
    capture_log::start();
    let fds = open_fds();
    let (server, ended) = tls_server(&lp, |b| b.ssl_handshake_timeout(Duration::from_millis(200)));
    let port = port_of(&server);
    let steady = GoodClient::connect(&lp, port);
    steady.echo(&lp, b"served first\n"); // the server's side of its handshake is done too
    let mut silent = TcpStream::connect(("127.0.0.1", port)).unwrap();
    wait_until(&lp, "the accept", || server.connection_count() == 2);
    turns(&lp, 5); // its connection_made, which arms the handshake timer
    clock.advance(Duration::from_millis(199));
    turns(&lp, 5);
    assert_eq!(
        server.connection_count(),
        2,
        "T9: dropped before the timeout"
    );
    clock.advance(Duration::from_millis(1));
    wait_until(&lp, "the silent client to go at 200 ms", || {
        server.connection_count() == 1
    });
    silent.set_read_timeout(Some(BOUND)).unwrap();
    let mut buf = [0u8; 64];
    assert_eq!(silent.read(&mut buf).unwrap(), 0, "the server closed it");
    drop(silent);
    assert_eq!(
        handshake_failures(),
        [
            "SSL handshake timed out: SSL handshake is taking longer than 0.2 seconds: \
          aborting the connection"
        ]
    );
    steady.echo(&lp, b"still served\n");
    steady.close(&lp);
    wait_until(&lp, "every connection to go", || {
        server.connection_count() == 0
    });
    assert_eq!(
        ended.get(),
        ["eof close_notify=true"],
        "only the good client's handler ran"
    );
    assert!(seen.borrow().is_empty(), "{:?}", seen.borrow());
    server.close();
    run(&lp, server.wait_closed());
    assert_loop_empty(&lp);
    assert_eq!(open_fds(), fds, "a socket was not released");
}

#[test]
fn a_client_that_never_answers_close_notify_is_dropped_after_the_shutdown_timeout_t25() {
    // The manual clock moves only when the test says: the handler is still waiting at
    // 199 ms after its close() and has its TimedOut at 200 ms (no wall-clock bound).
    let _serial = util::serial();
    let clock = asyncio::ManualClock::new();
    let lp = EventLoop::with_clock(clock.clone()).unwrap();
    let seen = util::capture_exceptions(&lp);
    let fds = open_fds();
    let result = util::Log::default();
    let res = result.clone();
    let server = run(
        &lp,
        asyncio::start_server(
            move |_reader: StreamReader, writer: StreamWriter| {
                let res = res.clone();
                async move {
                    writer.write(b"bye\n")?;
                    writer.close(); // close_notify, then wait for the client's
                    let r = writer.wait_closed().await;
                    res.push(match &r {
                        Ok(()) => "ok".to_string(),
                        Err(e) => describe(e),
                    });
                    Ok::<_, Error>(())
                }
            },
            "127.0.0.1",
            0,
        )
        .ssl(Certs::get().server_config(&[]))
        .ssl_shutdown_timeout(Duration::from_millis(200)),
    )
    .unwrap();
    let port = port_of(&server);
    let (tx, rx) = mpsc::channel();
    let peer = std::thread::spawn(move || {
        let (mut tcp, mut conn) = blocking_tls_client(port);
        // Everything up to the server's close_notify, which it never answers.
        let got = read_plaintext(&mut tcp, &mut conn, usize::MAX);
        let close_notify = conn.reader().read(&mut [0u8; 1]).ok() == Some(0);
        tx.send((got, close_notify)).unwrap();
        // It keeps the connection open until the server drops it.
        let mut rest = Vec::new();
        let end = tcp.read_to_end(&mut rest).map_err(|e| e.kind());
        (end, rest.len())
    });
    // The client has our close_notify: close() ran, and the shutdown timer with it.
    let mut told = None;
    wait_until(&lp, "the server's close_notify at the client", || {
        told = rx.try_recv().ok();
        told.is_some()
    });
    turns(&lp, 5);
    clock.advance(Duration::from_millis(199));
    turns(&lp, 5);
    assert_eq!(
        result.get(),
        Vec::<String>::new(),
        "T25: ended before the timeout"
    );
    assert_eq!(
        server.connection_count(),
        1,
        "T25: dropped before the timeout"
    );
    clock.advance(Duration::from_millis(1));
    wait_until(&lp, "the handler's end at 200 ms", || result.len() == 1);
    wait_until(&lp, "the connection to go", || {
        server.connection_count() == 0
    });
    let (got, close_notify) = told.unwrap();
    assert_eq!(got.as_deref(), Ok(&b"bye\n"[..]));
    assert!(close_notify, "T22: the server sent close_notify");
    let (end, rest) = peer.join().unwrap();
    assert_eq!((end, rest), (Ok(0), 0), "then it closed the connection");
    let result = result.get();
    assert!(
        result[0].starts_with("io TimedOut") && result[0].contains("SSL shutdown timed out"),
        "T25: {result:?}"
    );
    assert!(seen.borrow().is_empty(), "{:?}", seen.borrow());
    server.close();
    run(&lp, server.wait_closed());
    assert_loop_empty(&lp);
    assert_eq!(open_fds(), fds, "a socket was not released");
}

// Checklist: T25, T23 (no hang: the shutdown timeout also bounds the raw transport's close).
#[test]
fn a_peer_that_ends_its_side_and_stops_reading_is_dropped_after_the_shutdown_timeout_t25() {
    // The peer's close_notify (or its EOF, T23) completes our shutdown at once, and the raw
    // transport's close() then waits for its buffer to drain. The peer reads no more, so
    // that close never ended: the shutdown timer was cancelled before it, as CPython's is
    // (and the EOF path never had one), and connection_lost (so wait_closed) never came.
    // The manual clock moves only when the test says: the connection is still there at
    // 199 ms after the peer's end and lost at 200 ms (no wall-clock bound).
    let _serial = util::serial();
    let clock = asyncio::ManualClock::new();
    let lp = EventLoop::with_clock(clock.clone()).unwrap();
    let seen = util::capture_exceptions(&lp);
    let fds = open_fds();
    for close_notify in [true, false] {
        let (ours, theirs) = asyncio::socketpair().unwrap();
        let (start, start_rx) = mpsc::channel::<()>();
        let (go, go_rx) = mpsc::channel::<()>();
        let peer = tls_peer_over(theirs, move |sock, conn| {
            start_rx.recv_timeout(BOUND).unwrap();
            if close_notify {
                conn.send_close_notify();
                send_all(sock, conn);
            } else {
                sock.shutdown(Shutdown::Write).unwrap();
            }
            go_rx.recv_timeout(BOUND).unwrap(); // reads nothing until the test is done
        });
        let (t, _p, rec) = tls_client_over_with(&lp, ours, Recorder::default(), |c| {
            c.ssl_shutdown_timeout(Duration::from_millis(200))
        });
        t.write(&vec![b'x'; 4 << 20]).unwrap(); // far more than the socket buffers hold
        start.send(()).unwrap();
        wait_until(&lp, "the peer's end", || {
            rec.borrow().calls.iter().any(|c| c == "eof_received")
        });
        turns(&lp, 5);
        clock.advance(Duration::from_millis(199));
        turns(&lp, 5);
        assert!(
            !rec.borrow().lost,
            "close_notify {close_notify}: dropped before the timeout: {:?}",
            rec.borrow().calls
        );
        clock.advance(Duration::from_millis(1));
        wait_until(&lp, "connection_lost at 200 ms", || rec.borrow().lost);
        go.send(()).unwrap();
        peer.join().unwrap();
        let calls = rec.borrow().calls.clone();
        assert_eq!(
            calls.last().map(String::as_str),
            Some("connection_lost(TimedOut)"),
            "close_notify {close_notify}: {calls:?}"
        );
    }
    assert!(seen.borrow().is_empty(), "{:?}", seen.borrow());
    assert_loop_empty(&lp);
    assert_eq!(open_fds(), fds, "a socket was not released");
}

/// A loop on a manual clock, its exception log, and a socketpair: `(clock, loop, seen, ours,
/// theirs)`.
fn manual_loop_and_socketpair() -> (
    asyncio::ManualClock,
    EventLoop,
    Rc<RefCell<Vec<String>>>,
    UnixStream,
    UnixStream,
) {
    let clock = asyncio::ManualClock::new();
    let lp = EventLoop::with_clock(clock.clone()).unwrap();
    let seen = util::capture_exceptions(&lp);
    let (ours, theirs) = asyncio::socketpair().unwrap();
    (clock, lp, seen, ours, theirs)
}

/// A TLS client over `ours` with a 200 ms shutdown timeout and 4 MiB written: far more than
/// the socket buffers hold.
fn client_with_4_mib_to_flush(
    lp: &EventLoop,
    ours: UnixStream,
) -> (Transport, Rc<RefCell<Forward>>, Rc<RefCell<Recorder>>) {
    let (t, p, rec) = tls_client_over_with(lp, ours, Recorder::default(), |c| {
        c.ssl_shutdown_timeout(Duration::from_millis(200))
    });
    t.write(&vec![b'x'; 4 << 20]).unwrap();
    (t, p, rec)
}

/// The end of a T25 flush: lost cleanly, the peer got every byte (`total` of the 4 MiB),
/// nothing reported, nothing left on the loop.
fn assert_clean_end_with_every_byte(
    lp: &EventLoop,
    rec: &Rc<RefCell<Recorder>>,
    seen: &Rc<RefCell<Vec<String>>>,
    total: usize,
) {
    let calls = rec.borrow().calls.clone();
    assert_eq!(
        calls.last().map(String::as_str),
        Some("connection_lost(None)"),
        "{calls:?}"
    );
    assert!(total > 4 << 20, "the peer got every byte: {total}");
    assert!(seen.borrow().is_empty(), "{:?}", seen.borrow());
    assert_loop_empty(lp);
}

// Checklist: T25 (the timeout bounds a close nobody reads, not a slow reader).
#[test]
fn a_peer_still_reading_our_last_bytes_after_its_close_notify_gets_them_all_t25() {
    // After the peer's close_notify our shutdown is complete and only the raw transport's
    // close() is left, flushing 4 MiB. The peer reads on, slowly: each timeout that finds
    // fewer bytes left than when it was armed arms it again, so the peer gets every byte and
    // the connection ends cleanly. (Before, the first timeout aborted it: TimedOut.) The
    // manual clock moves only when the test says: no wall-clock race.
    let _serial = util::serial();
    let (clock, lp, seen, ours, theirs) = manual_loop_and_socketpair();
    let (start, start_rx) = mpsc::channel::<()>();
    let (more, more_rx) = mpsc::channel::<usize>(); // read this many more bytes
    let (read, read_rx) = mpsc::channel::<usize>(); // read so far
    let peer = tls_peer_over(theirs, move |sock, conn| {
        start_rx.recv_timeout(BOUND).unwrap();
        conn.send_close_notify();
        send_all(sock, conn);
        let mut total: usize = 0;
        let mut buf = vec![0u8; 64 << 10];
        while let Ok(n) = more_rx.recv_timeout(BOUND) {
            let goal = total.saturating_add(n);
            while total < goal {
                match sock.read(&mut buf) {
                    Ok(0) | Err(_) => break,
                    Ok(k) => total += k,
                }
            }
            read.send(total).unwrap();
        }
    });
    let (_t, _p, rec) = client_with_4_mib_to_flush(&lp, ours);
    start.send(()).unwrap();
    wait_until(&lp, "the peer's close_notify", || {
        rec.borrow().calls.iter().any(|c| c == "eof_received")
    });
    turns(&lp, 5);
    // Two timeouts, each after the peer read 1 MiB more (more than the socket pair holds,
    // so our buffer went down).
    for round in 1..=2 {
        more.send(1 << 20).unwrap();
        let mut got = 0;
        wait_until(&lp, "the peer's reading", || {
            if let Ok(n) = read_rx.try_recv() {
                got = n;
            }
            got >= round << 20
        });
        clock.advance(Duration::from_millis(250));
        turns(&lp, 5);
        assert!(
            !rec.borrow().lost,
            "round {round}: dropped while the peer read on: {:?}",
            rec.borrow().calls
        );
    }
    more.send(usize::MAX).unwrap(); // the rest, to our EOF
    wait_until(&lp, "connection_lost", || rec.borrow().lost);
    let total = read_rx.recv_timeout(BOUND).unwrap();
    drop(more); // the peer's last wait ends
    peer.join().unwrap();
    assert_clean_end_with_every_byte(&lp, &rec, &seen, total);
}

// Checklist: T25 (the flush after a clean shutdown gets a whole timeout to make progress).
#[test]
fn a_shutdown_completed_late_gives_the_flush_a_whole_timeout_t25() {
    // Our close() starts the shutdown with 4 MiB unsent, and the timeout with it; the peer's
    // close_notify completes the shutdown only 190 ms into the 200 ms timeout, and the raw
    // transport's close() is left flushing. A timeout only 10 ms later must not count as
    // "the peer read nothing for a whole timeout": the flush is measured from its own start.
    // (Before, the timer our close() armed fired at 200 ms and found nothing read since
    // 190 ms: TimedOut.) The manual clock moves only when the test says: no wall-clock race.
    let _serial = util::serial();
    let (clock, lp, seen, ours, theirs) = manual_loop_and_socketpair();
    let (start, start_rx) = mpsc::channel::<()>();
    let (more, more_rx) = mpsc::channel::<()>(); // read to EOF
    let (read, read_rx) = mpsc::channel::<usize>(); // read in all
    let peer = tls_peer_over(theirs, move |sock, conn| {
        start_rx.recv_timeout(BOUND).unwrap();
        conn.send_close_notify();
        send_all(sock, conn);
        more_rx.recv_timeout(BOUND).unwrap();
        let mut total: usize = 0;
        let mut buf = vec![0u8; 64 << 10];
        loop {
            match sock.read(&mut buf) {
                Ok(0) | Err(_) => break,
                Ok(k) => total += k,
            }
        }
        read.send(total).unwrap();
    });
    let (t, _p, rec) = client_with_4_mib_to_flush(&lp, ours);
    t.close(); // the shutdown starts, and its timeout
    turns(&lp, 5);
    clock.advance(Duration::from_millis(190));
    lp.run_once(Some(Duration::ZERO)).unwrap();
    start.send(()).unwrap();
    wait_until(&lp, "the peer's close_notify", || t.close_notify_received());
    turns(&lp, 5);
    clock.advance(Duration::from_millis(20)); // 210 ms since close(), 20 ms of flushing
    turns(&lp, 5);
    assert!(
        !rec.borrow().lost,
        "dropped 20 ms into the flush: {:?}",
        rec.borrow().calls
    );
    more.send(()).unwrap();
    wait_until(&lp, "connection_lost", || rec.borrow().lost);
    let total = read_rx.recv_timeout(BOUND).unwrap();
    peer.join().unwrap();
    assert_clean_end_with_every_byte(&lp, &rec, &seen, total);
}

// ─────────────────── paused reading and the end of the connection ───────────────────

/// A rustls server on `sock` (one end of a socketpair), on a thread: the handshake, then
/// `then`. Writes to a socketpair are in the other end's receive queue when they return, so
/// what `then` sent before signalling is there for the loop to take, in a known number of turns.
fn tls_peer_over(
    sock: UnixStream,
    then: impl FnOnce(&mut UnixStream, &mut rustls::ServerConnection) + Send + 'static,
) -> std::thread::JoinHandle<()> {
    std::thread::spawn(move || {
        let mut sock = sock;
        sock.set_read_timeout(Some(BOUND)).unwrap();
        let mut conn = rustls::ServerConnection::new(Certs::get().server_config(&[])).unwrap();
        while conn.is_handshaking() {
            conn.complete_io(&mut sock).unwrap();
        }
        then(&mut sock, &mut conn);
    })
}

/// Sends everything `conn` has queued (data, close_notify) to `sock`.
fn send_all(sock: &mut UnixStream, conn: &mut rustls::ServerConnection) {
    while conn.wants_write() {
        conn.write_tls(sock).unwrap();
    }
}

/// Our TLS client over `sock` with a [`Recorder`] as its protocol, the handshake done.
fn tls_client_over(
    lp: &EventLoop,
    sock: UnixStream,
    rec: Recorder,
) -> (Transport, Rc<RefCell<Forward>>, Rc<RefCell<Recorder>>) {
    tls_client_over_with(lp, sock, rec, |c| c)
}

/// [`tls_client_over`], with `configure` applied to the connection's builder (a timeout).
fn tls_client_over_with(
    lp: &EventLoop,
    sock: UnixStream,
    rec: Recorder,
    configure: impl FnOnce(asyncio::CreateConnection<Forward>) -> asyncio::CreateConnection<Forward>,
) -> (Transport, Rc<RefCell<Forward>>, Rc<RefCell<Recorder>>) {
    let rec = Rc::new(RefCell::new(rec));
    let r = rec.clone();
    let (t, p) = run(
        lp,
        configure(
            lp.create_connection(move || Forward(r.clone()), "", 0)
                .sock(sock)
                .ssl(Certs::get().client_config(&[]))
                .server_hostname("localhost"),
        ),
    )
    .expect("the handshake");
    (t, p, rec)
}

/// A peer over `theirs` that sends `words`, its close_notify and EOF, says so on the channel
/// (everything is then in our socket), and reads until we close.
fn last_words_then_eof(
    theirs: UnixStream,
    words: &'static [u8],
) -> (std::thread::JoinHandle<()>, mpsc::Receiver<()>) {
    let (sent, sent_rx) = mpsc::channel();
    let peer = tls_peer_over(theirs, move |sock, conn| {
        conn.writer().write_all(words).unwrap();
        conn.send_close_notify();
        send_all(sock, conn);
        sock.shutdown(Shutdown::Write).unwrap();
        sent.send(()).unwrap();
        tls_common::drain(sock);
    });
    (peer, sent_rx)
}

/// A few turns with nothing to wait for: the loop takes in what already sits in its sockets.
fn turns(lp: &EventLoop, n: usize) {
    for _ in 0..n {
        lp.run_once(Some(Duration::ZERO)).unwrap();
    }
}

#[test]
fn close_after_the_peers_eof_while_reading_is_paused_ends_the_connection_t21_t22() {
    let _serial = util::serial();
    let lp = EventLoop::new().unwrap();
    let seen = util::capture_exceptions(&lp);
    let (ours, theirs) = asyncio::socketpair().unwrap();
    let (peer, sent_rx) = last_words_then_eof(theirs, b"never read");
    let pause = Recorder {
        on_made: Some(Box::new(|t: &Transport| t.pause_reading())),
        ..Recorder::default()
    };
    let (t, _p, rec) = tls_client_over(&lp, ours, pause);
    sent_rx.recv_timeout(BOUND).unwrap();
    // The records and the EOF are in our socket: the layer takes them in and, as the app
    // reads nothing, keeps the connection open for it (T21).
    turns(&lp, 5);
    assert_eq!(rec.borrow().calls, ["connection_made"]);
    // The app gives up on reading: close() ends the connection (before, the layer kept waiting
    // for a resume_reading that never came).
    t.close();
    wait_until(&lp, "connection_lost", || rec.borrow().lost);
    let calls = rec.borrow().calls.clone();
    assert_eq!(
        calls.last().map(String::as_str),
        Some("connection_lost(None)"),
        "a clean end: {calls:?}"
    );
    assert!(rec.borrow().data.is_empty(), "T17: nothing after close");
    peer.join().unwrap();
    assert!(seen.borrow().is_empty(), "{:?}", seen.borrow());
    assert_loop_empty(&lp);
}

#[test]
fn close_while_the_read_side_is_paused_at_its_high_water_mark_shuts_down_cleanly_t18_t22() {
    let _serial = util::serial();
    let lp = EventLoop::new().unwrap();
    let seen = util::capture_exceptions(&lp);
    let (ours, theirs) = asyncio::socketpair().unwrap();
    let wake = lp.threadsafe();
    // More ciphertext than the read-side high-water mark (256 KiB): with the app's reading
    // paused, the layer stops reading the socket (T18).
    let more_than_high = 320 * 1024;
    let (done, done_rx) = mpsc::channel();
    let peer = tls_peer_over(theirs, move |sock, conn| {
        let record = [b'x'; 16 * 1024];
        let mut left = more_than_high;
        while left > 0 {
            left -= conn
                .writer()
                .write(&record[..left.min(record.len())])
                .unwrap();
            send_all(sock, conn);
        }
        // The message first: the loop checks for it when the wake-up turns it.
        done.send(()).unwrap();
        wake.call_soon_threadsafe(|| ()).unwrap();
        // Then the client's close_notify (after the data it never read), answered with ours.
        loop {
            match conn.read_tls(sock) {
                Ok(0) => break,
                Ok(_) => {}
                Err(e) => panic!("peer read: {e}"),
            }
            if conn.process_new_packets().unwrap().peer_has_closed() {
                conn.send_close_notify();
                send_all(sock, conn);
                sock.shutdown(Shutdown::Write).unwrap();
                break;
            }
        }
        tls_common::drain(sock);
    });
    let pause = Recorder {
        on_made: Some(Box::new(|t: &Transport| t.pause_reading())),
        ..Recorder::default()
    };
    let (t, _p, rec) = tls_client_over(&lp, ours, pause);
    wait_until(&lp, "the peer's data sent", || done_rx.try_recv().is_ok());
    // The rest is in our socket: the layer reads up to its mark and pauses the socket.
    wait_until(&lp, "the socket's reading paused", || {
        lp.stats().reading_paused == 1
    });
    t.close();
    wait_until(&lp, "connection_lost", || rec.borrow().lost);
    let calls = rec.borrow().calls.clone();
    assert_eq!(
        calls.last().map(String::as_str),
        Some("connection_lost(None)"),
        "T22: close_notify both ways, not the shutdown timeout: {calls:?}"
    );
    peer.join().unwrap();
    assert!(seen.borrow().is_empty(), "{:?}", seen.borrow());
    assert_loop_empty(&lp);
}

#[test]
fn a_peer_eof_while_the_app_is_busy_loses_no_data_t21_l44() {
    let _serial = util::serial();
    let lp = EventLoop::new().unwrap();
    let seen = util::capture_exceptions(&lp);
    let (ours, theirs) = asyncio::socketpair().unwrap();
    let (peer, sent_rx) = last_words_then_eof(theirs, b"last words");
    let (_t, p, rec) = tls_client_over(&lp, ours, Recorder::default());
    sent_rx.recv_timeout(BOUND).unwrap();
    {
        // The app is busy (its owner holds it) while the data and the EOF come in.
        let _busy = p.borrow_mut();
        turns(&lp, 5);
    }
    wait_until(&lp, "connection_lost", || rec.borrow().lost);
    let r = rec.borrow();
    assert_eq!(
        r.data, b"last words",
        "L44: the data, then the end: {:?}",
        r.calls
    );
    assert_eq!(
        r.grammar(),
        [
            "connection_made",
            "data",
            "eof_received",
            "connection_lost(None)"
        ]
    );
    drop(r);
    peer.join().unwrap();
    assert!(seen.borrow().is_empty(), "{:?}", seen.borrow());
    assert_loop_empty(&lp);
}

// ─────────────────── the shutdown exchange (T50, T23) and its neighbours ───────────────────

/// What a peer does once our close_notify came.
#[derive(Clone, Copy, PartialEq, Debug)]
enum Answer {
    /// Its own close_notify (`unwrap()` on its side), then EOF once we close.
    CloseNotify,
    /// A TCP FIN with no close_notify.
    Eof,
}

/// A peer over `theirs` that waits for our close_notify, says so on the first channel (waking
/// `lp`), waits for the test's go on the second, then answers as told and reads until we close.
fn peer_answering_close_notify(
    lp: &EventLoop,
    theirs: UnixStream,
    answer: Answer,
) -> (
    std::thread::JoinHandle<()>,
    mpsc::Receiver<()>,
    mpsc::Sender<()>,
) {
    let (got, got_rx) = mpsc::channel();
    let (go, go_rx) = mpsc::channel::<()>();
    let wake = lp.threadsafe();
    let peer = tls_peer_over(theirs, move |sock, conn| {
        // The handshake may have taken it in already (rustls then reads no more).
        while !conn.process_new_packets().unwrap().peer_has_closed() {
            assert!(conn.read_tls(sock).unwrap() > 0, "EOF before close_notify");
        }
        got.send(()).unwrap();
        wake.call_soon_threadsafe(|| ()).unwrap();
        go_rx.recv_timeout(BOUND).unwrap();
        match answer {
            Answer::CloseNotify => {
                conn.send_close_notify();
                send_all(sock, conn);
            }
            Answer::Eof => sock.shutdown(Shutdown::Write).unwrap(),
        }
        tls_common::drain(sock);
    });
    (peer, got_rx, go)
}

/// T50 (`unwrap()` → `send_close_notify` and waiting for the peer's), T22; after CPython's
/// test_ssl.py test_shutdown_cleanly: close() sends close_notify and the connection stays until
/// the peer's close_notify comes, then ends cleanly, the peer's close_notify on record.
#[test]
fn close_sends_close_notify_and_waits_for_the_peers_t50_t22() {
    let _serial = util::serial();
    let lp = EventLoop::new().unwrap();
    let seen = util::capture_exceptions(&lp);
    let (ours, theirs) = asyncio::socketpair().unwrap();
    let (peer, got, go) = peer_answering_close_notify(&lp, theirs, Answer::CloseNotify);
    let (t, _p, rec) = tls_client_over(&lp, ours, Recorder::default());
    t.close();
    assert!(t.is_closing(), "T27: closing from close() on");
    wait_until(&lp, "our close_notify at the peer", || {
        got.try_recv().is_ok()
    });
    turns(&lp, 5);
    assert_eq!(
        rec.borrow().calls,
        ["connection_made"],
        "T50: the layer waits for the peer's close_notify"
    );
    go.send(()).unwrap();
    wait_until(&lp, "connection_lost", || rec.borrow().lost);
    assert_eq!(
        rec.borrow().grammar(),
        ["connection_made", "eof_received", "connection_lost(None)"]
    );
    assert!(t.close_notify_received(), "the peer's close_notify came");
    peer.join().unwrap();
    assert!(seen.borrow().is_empty(), "{:?}", seen.borrow());
    assert_loop_empty(&lp);
}

/// T11: once closed, the TLS transport takes writes without an error and drops them; the
/// sixth dropped write, and every one after it, logs 'SSL connection is closed' (CPython's
/// `_write_appdata` warns once its drop counter, which the connection's loss also bumps,
/// has reached 5), after the connection is lost too, as on a plain socket (S42).
// CPython: SslProtoHandshakeTests.test_write_after_closing
#[test]
fn writes_after_close_are_dropped_and_warned_about_from_the_sixth_on_t11() {
    let _serial = util::serial();
    capture_log::start();
    let lp = EventLoop::new().unwrap();
    let seen = util::capture_exceptions(&lp);
    let (ours, theirs) = asyncio::socketpair().unwrap();
    let (peer, got, go) = peer_answering_close_notify(&lp, theirs, Answer::CloseNotify);
    let (t, _p, rec) = tls_client_over(&lp, ours, Recorder::default());
    let warned = || capture_log::lines("SSL connection is closed").len();
    t.close();
    for _ in 0..5 {
        t.write(b"late").unwrap();
    }
    assert_eq!(warned(), 0, "five drops pass quietly");
    t.write(b"late").unwrap();
    assert_eq!(warned(), 1, "the sixth is warned about");
    wait_until(&lp, "our close_notify at the peer", || {
        got.try_recv().is_ok()
    });
    go.send(()).unwrap();
    wait_until(&lp, "connection_lost", || rec.borrow().lost);
    turns(&lp, 5);
    t.write(b"late").unwrap();
    assert_eq!(
        warned(),
        2,
        "and so is each one after the connection is lost"
    );
    peer.join().unwrap();
    assert!(seen.borrow().is_empty(), "{:?}", seen.borrow());
    assert_loop_empty(&lp);
}

/// T11: an empty `writelines` after close counts toward the warning too, in the layer and
/// after the loss alike: CPython's `_SSLProtocolTransport.writelines` hands its list to
/// `_write_appdata` as it is, which counts every call once closed (only `write(b"")` returns
/// before it). Empty lists of both shapes (no chunk, empty chunks) used to be skipped.
#[test]
fn empty_writelines_after_close_count_toward_the_warning_t11() {
    use std::io::IoSlice;
    let _serial = util::serial();
    capture_log::start();
    let lp = EventLoop::new().unwrap();
    let seen = util::capture_exceptions(&lp);
    let (ours, theirs) = asyncio::socketpair().unwrap();
    let (peer, got, go) = peer_answering_close_notify(&lp, theirs, Answer::CloseNotify);
    let (t, _p, rec) = tls_client_over(&lp, ours, Recorder::default());
    let warned = || capture_log::lines("SSL connection is closed").len();
    let empty = [IoSlice::new(b""), IoSlice::new(b"")];
    t.close();
    for _ in 0..3 {
        t.writelines(&empty).unwrap();
    }
    for _ in 0..2 {
        t.writelines(&[]).unwrap();
    }
    t.write(b"").unwrap(); // write(b"") is not a write: not counted
    assert_eq!(warned(), 0, "five drops pass quietly");
    t.writelines(&empty).unwrap();
    assert_eq!(warned(), 1, "the sixth is warned about");
    wait_until(&lp, "our close_notify at the peer", || {
        got.try_recv().is_ok()
    });
    go.send(()).unwrap();
    wait_until(&lp, "connection_lost", || rec.borrow().lost);
    turns(&lp, 5);
    t.writelines(&[]).unwrap();
    assert_eq!(warned(), 2, "and after the connection is lost");
    peer.join().unwrap();
    assert!(seen.borrow().is_empty(), "{:?}", seen.borrow());
    assert_loop_empty(&lp);
}

/// T23, the SHUTDOWN half (after CPython's test_ssl.py
/// test_remote_shutdown_receives_trailing_data, whose peer also ends with a bare EOF): our
/// close_notify is out and the peer answers with a FIN only: the layer finishes at once, a
/// clean end, instead of waiting out the shutdown timeout (30 s here, beyond the bound).
#[test]
fn eof_while_shutting_down_finishes_at_once_t23() {
    let _serial = util::serial();
    let lp = EventLoop::new().unwrap();
    let seen = util::capture_exceptions(&lp);
    let (ours, theirs) = asyncio::socketpair().unwrap();
    let (peer, got, go) = peer_answering_close_notify(&lp, theirs, Answer::Eof);
    let (t, _p, rec) = tls_client_over(&lp, ours, Recorder::default());
    t.close();
    wait_until(&lp, "our close_notify at the peer", || {
        got.try_recv().is_ok()
    });
    go.send(()).unwrap();
    wait_until(&lp, "connection_lost", || rec.borrow().lost);
    assert_eq!(
        rec.borrow().grammar(),
        ["connection_made", "eof_received", "connection_lost(None)"],
        "a clean end, not the shutdown timeout's TimedOut"
    );
    assert!(!t.close_notify_received(), "the peer sent none");
    peer.join().unwrap();
    assert!(seen.borrow().is_empty(), "{:?}", seen.borrow());
    assert_loop_empty(&lp); // the shutdown timer went with the connection
}

/// T23, the FLUSHING half: close() while the app protocol is busy leaves the layer in
/// FLUSHING (its step waits for the app); a FIN from the peer then finishes the shutdown
/// without close_notify either way, and once free the app gets eof_received, then
/// connection_lost(None), as CPython's `_do_shutdown` calls them.
#[test]
fn eof_while_flushing_finishes_without_close_notify_t23() {
    let _serial = util::serial();
    let lp = EventLoop::new().unwrap();
    let seen = util::capture_exceptions(&lp);
    let (ours, theirs) = asyncio::socketpair().unwrap();
    let (go, go_rx) = mpsc::channel::<()>();
    let (sent, sent_rx) = mpsc::channel();
    let peer = tls_peer_over(theirs, move |sock, conn| {
        go_rx.recv_timeout(BOUND).unwrap();
        sock.shutdown(Shutdown::Write).unwrap();
        sent.send(()).unwrap();
        // Nothing more from us: no close_notify was sent before the end.
        let mut rest = Vec::new();
        sock.read_to_end(&mut rest).unwrap();
        let mut rest = &rest[..];
        while !rest.is_empty() {
            assert!(conn.read_tls(&mut rest).unwrap() > 0);
            let state = conn.process_new_packets().unwrap();
            assert!(
                !state.peer_has_closed(),
                "T23: no close_notify after the EOF"
            );
        }
    });
    let (t, p, rec) = tls_client_over(&lp, ours, Recorder::default());
    {
        let _busy = p.borrow_mut();
        t.close();
        go.send(()).unwrap();
        // The FIN is in our socket: the layer takes it in while the app is still busy.
        sent_rx.recv_timeout(BOUND).unwrap();
        turns(&lp, 5);
        assert!(!rec.borrow().lost);
    }
    wait_until(&lp, "connection_lost", || rec.borrow().lost);
    assert_eq!(
        rec.borrow().grammar(),
        ["connection_made", "eof_received", "connection_lost(None)"]
    );
    peer.join().unwrap();
    assert!(seen.borrow().is_empty(), "{:?}", seen.borrow());
    assert_loop_empty(&lp);
}

/// T27: `is_closing()` is true once the shutdown has started, here from the peer's
/// close_notify with no close() of ours, before the connection is lost; and after abort().
#[test]
fn is_closing_once_the_peers_close_notify_starts_the_shutdown_t27() {
    let _serial = util::serial();
    let lp = EventLoop::new().unwrap();
    let (ours, theirs) = asyncio::socketpair().unwrap();
    let (start, start_rx) = mpsc::channel::<()>();
    let (go, go_rx) = mpsc::channel::<()>();
    let peer = tls_peer_over(theirs, move |sock, conn| {
        start_rx.recv_timeout(BOUND).unwrap();
        conn.send_close_notify();
        send_all(sock, conn);
        go_rx.recv_timeout(BOUND).unwrap();
        tls_common::drain(sock);
    });
    let (t, _p, rec) = tls_client_over(&lp, ours, Recorder::default());
    assert!(!t.is_closing());
    start.send(()).unwrap();
    // Returns after the turn that delivered eof_received: the raw transport's close, which
    // that turn scheduled, has not run yet.
    wait_until(&lp, "eof_received", || {
        rec.borrow().calls.iter().any(|c| c == "eof_received")
    });
    assert!(!rec.borrow().lost, "the raw transport closes a turn later");
    assert!(t.is_closing(), "T27: the shutdown has started");
    go.send(()).unwrap();
    wait_until(&lp, "connection_lost", || rec.borrow().lost);
    assert!(t.is_closing(), "T27: lost");
    peer.join().unwrap();
    // abort() on a live connection: closing at once.
    let (ours, theirs) = asyncio::socketpair().unwrap();
    let peer = tls_peer_over(theirs, |sock, conn| {
        conn.writer().write_all(b"hi").unwrap(); // after its last handshake record
        send_all(sock, conn);
        tls_common::drain(sock);
    });
    let (t, _p, rec) = tls_client_over(&lp, ours, Recorder::default());
    wait_until(&lp, "the peer's hi", || rec.borrow().data == b"hi");
    t.abort();
    assert!(t.is_closing(), "T27: after abort()");
    wait_until(&lp, "connection_lost", || rec.borrow().lost);
    peer.join().unwrap();
    assert_loop_empty(&lp);
}

/// T28, T11; CPython: SslProtoHandshakeTests.test_data_received_after_closing. Records that
/// arrive after close() (the peer's last data, sent after it got our close_notify) raise
/// nothing: the shutdown ends cleanly with the peer's close_notify, nothing is reported.
#[test]
fn data_received_after_closing_raises_nothing_t28() {
    let _serial = util::serial();
    let lp = EventLoop::new().unwrap();
    let seen = util::capture_exceptions(&lp);
    let (ours, theirs) = asyncio::socketpair().unwrap();
    let peer = tls_peer_over(theirs, |sock, conn| {
        while !conn.process_new_packets().unwrap().peer_has_closed() {
            assert!(conn.read_tls(sock).unwrap() > 0, "EOF before close_notify");
        }
        conn.writer().write_all(b"late data").unwrap();
        conn.send_close_notify();
        send_all(sock, conn);
        tls_common::drain(sock);
    });
    let (t, _p, rec) = tls_client_over(&lp, ours, Recorder::default());
    t.close();
    wait_until(&lp, "connection_lost", || rec.borrow().lost);
    let grammar = rec.borrow().grammar();
    assert_eq!(grammar.first().map(String::as_str), Some("connection_made"));
    assert_eq!(
        grammar.last().map(String::as_str),
        Some("connection_lost(None)"),
        "{grammar:?}"
    );
    peer.join().unwrap();
    assert!(seen.borrow().is_empty(), "{:?}", seen.borrow());
    assert_loop_empty(&lp);
}

/// T27, S49, S50 (gh-118950, which the port follows); CPython:
/// SslProtoHandshakeTests.test_connection_lost_when_busy. The raw socket fails a write (the
/// peer is gone: EPIPE): the TLS stream's write is accepted, and a drain after it raises
/// ConnectionReset instead of the writes vanishing silently.
#[test]
fn a_raw_write_error_under_a_tls_stream_fails_the_next_drain_t27() {
    let _serial = util::serial();
    let lp = EventLoop::new().unwrap();
    let (ours, theirs) = asyncio::socketpair().unwrap();
    let (gone, gone_rx) = mpsc::channel::<()>();
    let peer = tls_peer_over(theirs, move |sock, _conn| {
        sock.shutdown(Shutdown::Both).unwrap();
        gone.send(()).unwrap();
    });
    let (reader, writer) = run(
        &lp,
        asyncio::open_connection_sock(ours)
            .ssl(Certs::get().client_config(&[]))
            .server_hostname("localhost"),
    )
    .expect("the handshake");
    peer.join().unwrap();
    gone_rx.recv_timeout(BOUND).unwrap();
    let data = b"An interesting message";
    let outcome = run(&lp, async {
        for round in 0..100 {
            writer.write(data)?;
            if let Err(e) = writer.drain().await {
                return Ok((round, e));
            }
        }
        Err(Error::InvalidState("every drain succeeded".into()))
    });
    let (round, e) = outcome.expect("a drain fails");
    assert!(
        round <= 1,
        "the first or second drain fails, not round {round}"
    );
    assert_eq!(e.kind(), ErrorKind::ConnectionReset, "{}", describe(&e));
    assert!(writer.is_closing());
    drop((reader, writer));
    assert_loop_empty(&lp);
}

/// T13, T14, T15, T22; CPython: TestSSL.test_flush_before_shutdown. 4 MiB written while the
/// peer reads nothing (the raw transport pauses the layer), then close(): every byte still
/// reaches the peer, then our close_notify; the peer then closes without answering, which
/// ends our shutdown cleanly (T23), and the reader sees EOF.
#[test]
fn flush_before_shutdown_sends_every_byte_then_close_notify_t13_t22() {
    const CHUNK: usize = 128 * 1024;
    const SIZE: usize = 32;
    let _serial = util::serial();
    let lp = EventLoop::new().unwrap();
    let seen = util::capture_exceptions(&lp);
    let (ours, theirs) = asyncio::socketpair().unwrap();
    let (go, go_rx) = mpsc::channel::<()>();
    let (got_tx, got_rx) = mpsc::channel::<(usize, bool)>();
    let peer = tls_peer_over(theirs, move |sock, conn| {
        go_rx.recv_timeout(BOUND).unwrap();
        let mut total = 0;
        let mut buf = vec![0u8; 64 * 1024];
        let closed = loop {
            if !matches!(conn.read_tls(sock), Ok(n) if n > 0) {
                break false;
            }
            let Ok(state) = conn.process_new_packets() else {
                break false;
            };
            while let Ok(n @ 1..) = conn.reader().read(&mut buf) {
                total += n;
            }
            if state.peer_has_closed() {
                break true;
            }
        };
        got_tx.send((total, closed)).unwrap();
        // Returns: the socket closes with no close_notify of the peer's.
    });
    let (reader, writer) = run(
        &lp,
        asyncio::open_connection_sock(ours)
            .ssl(Certs::get().client_config(&[]))
            .server_hostname("localhost"),
    )
    .expect("the handshake");
    for _ in 0..SIZE {
        writer.write(&[b'x'; CHUNK]).unwrap();
    }
    writer.close();
    go.send(()).unwrap();
    run(&lp, writer.wait_closed()).expect("a clean end");
    let (got, closed) = got_rx.recv_timeout(BOUND).unwrap();
    assert_eq!(got, CHUNK * SIZE, "every byte written before close()");
    assert!(closed, "then our close_notify");
    match run(&lp, reader.read(-1)) {
        Ok(rest) => assert!(rest.is_empty(), "{} B", rest.len()),
        Err(e) => assert_eq!(e.kind(), ErrorKind::ConnectionReset, "{}", describe(&e)),
    }
    peer.join().unwrap();
    drop((reader, writer));
    assert!(seen.borrow().is_empty(), "{:?}", seen.borrow());
    assert_loop_empty(&lp);
}

/// T25, T28; CPython: TestSSL.test_shutdown_timeout_handler_leak, adapted: instead of the
/// weak reference, no timer is left armed. The peer reads our close_notify and closes without
/// answering; close() then ends the connection and its shutdown timer with it.
#[test]
fn close_to_a_peer_that_closes_without_answering_leaves_no_timer_t25() {
    let _serial = util::serial();
    let lp = EventLoop::new().unwrap();
    let seen = util::capture_exceptions(&lp);
    let (ours, theirs) = asyncio::socketpair().unwrap();
    let peer = tls_peer_over(theirs, |sock, conn| {
        while !conn.process_new_packets().unwrap().peer_has_closed() {
            assert!(conn.read_tls(sock).unwrap() > 0, "EOF before close_notify");
        }
    });
    let (t, _p, rec) = tls_client_over(&lp, ours, Recorder::default());
    t.close();
    wait_until(&lp, "connection_lost", || rec.borrow().lost);
    peer.join().unwrap();
    assert!(seen.borrow().is_empty(), "{:?}", seen.borrow());
    drop(t);
    assert_loop_empty(&lp);
}

/// T17, T21, T25; CPython: TestSSL.test_shutdown_timeout_handler_not_set. The app pauses
/// reading after "hello"; the peer's "extra bytes" and its EOF (no close_notify) arrive while
/// it is paused. resume_reading delivers them, the EOF is a clean end (D9) and no shutdown
/// timer is armed for it: connection_lost(None), nothing left on the loop.
#[test]
fn extra_bytes_and_eof_while_paused_arrive_on_resume_with_no_shutdown_timer_t21_t25() {
    let _serial = util::serial();
    let lp = EventLoop::new().unwrap();
    let seen = util::capture_exceptions(&lp);
    let (ours, theirs) = asyncio::socketpair().unwrap();
    let (eof, eof_rx) = mpsc::channel::<()>();
    let peer = tls_peer_over(theirs, move |sock, conn| {
        conn.writer().write_all(b"hello").unwrap();
        send_all(sock, conn);
        let mut got = Vec::new();
        let mut buf = [0u8; 64];
        while got.len() < 5 {
            assert!(conn.read_tls(sock).unwrap() > 0, "EOF before world");
            conn.process_new_packets().unwrap();
            while let Ok(n @ 1..) = conn.reader().read(&mut buf) {
                got.extend_from_slice(&buf[..n]);
            }
        }
        assert_eq!(got, b"world");
        conn.writer().write_all(b"extra bytes").unwrap();
        send_all(sock, conn);
        sock.shutdown(Shutdown::Write).unwrap();
        eof.send(()).unwrap();
        tls_common::drain(sock);
    });
    let rec = Recorder {
        on_data: Some(Box::new(|t: &Transport, d: &[u8]| {
            if d == b"hello" {
                t.write(b"world").unwrap();
                t.pause_reading();
            }
        })),
        ..Recorder::default()
    };
    let (t, _p, rec) = tls_client_over(&lp, ours, rec);
    wait_until(&lp, "the peer's EOF", || eof_rx.try_recv().is_ok());
    turns(&lp, 5);
    assert_eq!(rec.borrow().data, b"hello", "T17: nothing while paused");
    assert!(!rec.borrow().lost);
    t.resume_reading();
    wait_until(&lp, "connection_lost", || rec.borrow().lost);
    assert_eq!(rec.borrow().data, b"helloextra bytes");
    assert_eq!(
        rec.borrow().calls.last().map(String::as_str),
        Some("connection_lost(None)"),
        "D9: {:?}",
        rec.borrow().calls
    );
    t.close();
    peer.join().unwrap();
    assert!(seen.borrow().is_empty(), "{:?}", seen.borrow());
    drop(t);
    assert_loop_empty(&lp);
}

/// T7, T21; CPython: BaseStartTLS/TestSSL.test_create_connection_memory_leak, without its
/// weak-reference check (D8: nothing is left on the loop instead). The peer says "O", reads
/// 100 KiB, then sends its close_notify and waits for ours: connection_made exactly once,
/// "O", eof_received, and after close() connection_lost(None) with nothing left behind.
#[test]
fn create_connection_memory_leak_connection_made_once_and_nothing_left_t7_t21() {
    const SIZE: usize = 100 * 1024;
    let _serial = util::serial();
    let lp = EventLoop::new().unwrap();
    let seen = util::capture_exceptions(&lp);
    let (ours, theirs) = asyncio::socketpair().unwrap();
    let peer = tls_peer_over(theirs, |sock, conn| {
        conn.writer().write_all(b"O").unwrap();
        send_all(sock, conn);
        let mut total = 0;
        let mut buf = vec![0u8; 64 * 1024];
        while total < SIZE {
            assert!(conn.read_tls(sock).unwrap() > 0, "EOF before the hello");
            conn.process_new_packets().unwrap();
            while let Ok(n @ 1..) = conn.reader().read(&mut buf) {
                total += n;
            }
        }
        assert_eq!(total, SIZE);
        // unwrap(): our close_notify, then wait for the peer's.
        conn.send_close_notify();
        send_all(sock, conn);
        while !conn.process_new_packets().unwrap().peer_has_closed() {
            assert!(conn.read_tls(sock).unwrap() > 0, "EOF before close_notify");
        }
    });
    let (t, _p, rec) = tls_client_over(&lp, ours, Recorder::default());
    wait_until(&lp, "the peer's O", || rec.borrow().data == b"O");
    t.write(&vec![b'1'; SIZE]).unwrap();
    wait_until(&lp, "eof_received", || {
        rec.borrow().calls.iter().any(|c| c == "eof_received")
    });
    t.close();
    wait_until(&lp, "connection_lost", || rec.borrow().lost);
    assert_eq!(
        rec.borrow().grammar(),
        [
            "connection_made",
            "data",
            "eof_received",
            "connection_lost(None)"
        ]
    );
    peer.join().unwrap();
    assert!(seen.borrow().is_empty(), "{:?}", seen.borrow());
    drop(t);
    assert_loop_empty(&lp);
}

// ─────────────────── T16: how plaintext reaches the app; T39: unclosed ───────────────────

/// Reads until our close_notify (or EOF), answers it with the peer's, then reads until we close.
fn answer_close_notify(sock: &mut UnixStream, conn: &mut rustls::ServerConnection) {
    while !conn
        .process_new_packets()
        .is_ok_and(|s| s.peer_has_closed())
    {
        if !matches!(conn.read_tls(sock), Ok(n) if n > 0) {
            return;
        }
    }
    conn.send_close_notify();
    send_all(sock, conn);
    tls_common::drain(sock);
}

/// A peer over `theirs` that sends `parts` as one record each, all in one write, and reports
/// how many bytes of ciphertext that was (our loop woken), then answers our close_notify.
fn records_in_one_write(
    lp: &EventLoop,
    theirs: UnixStream,
    parts: Vec<Vec<u8>>,
) -> (std::thread::JoinHandle<()>, mpsc::Receiver<usize>) {
    let (sent, sent_rx) = mpsc::channel();
    let wake = lp.threadsafe();
    let peer = tls_peer_over(theirs, move |sock, conn| {
        let mut wire = Vec::new();
        for part in &parts {
            conn.writer().write_all(part).unwrap();
            while conn.wants_write() {
                conn.write_tls(&mut wire).unwrap();
            }
        }
        sock.write_all(&wire).unwrap();
        sent.send(wire.len()).unwrap();
        wake.call_soon_threadsafe(|| ()).unwrap();
        answer_close_notify(sock, conn);
    });
    (peer, sent_rx)
}

/// T16 (CPython's `_do_read__copied`): records that arrive together are decrypted in one pass
/// and reach a plain protocol as one data_received with their concatenation.
#[test]
fn records_that_arrive_together_reach_a_plain_protocol_in_one_data_received_t16() {
    let _serial = util::serial();
    let lp = EventLoop::new().unwrap();
    let (ours, theirs) = asyncio::socketpair().unwrap();
    let parts = vec![b"abc".to_vec(), b"def".to_vec(), b"ghi".to_vec()];
    let (peer, sent_rx) = records_in_one_write(&lp, theirs, parts);
    let (t, _p, rec) = tls_client_over(&lp, ours, Recorder::default());
    wait_until(&lp, "the records sent", || sent_rx.try_recv().is_ok());
    wait_until(&lp, "the data", || rec.borrow().data.len() == 9);
    assert_eq!(rec.borrow().data, b"abcdefghi");
    assert_eq!(
        rec.borrow().calls,
        ["connection_made", "data_received(9)"],
        "T16: one data_received for the three records"
    );
    t.close();
    wait_until(&lp, "connection_lost", || rec.borrow().lost);
    peer.join().unwrap();
    assert_loop_empty(&lp);
}

/// A buffered protocol lending 7 bytes at a time; it records each size hint.
#[derive(Default)]
struct SevenBytes {
    buf: [u8; 7],
    got: Vec<u8>,
    hints: Vec<usize>,
    updates: usize,
    lost: bool,
}

impl Protocol for SevenBytes {
    fn connection_lost(&mut self, _: Option<io::Error>) {
        self.lost = true;
    }
    fn as_buffered(&mut self) -> Option<&mut dyn asyncio::BufferedProtocol> {
        Some(self)
    }
}

impl asyncio::BufferedProtocol for SevenBytes {
    fn get_buffer(&mut self, size_hint: usize) -> &mut [u8] {
        self.hints.push(size_hint);
        &mut self.buf
    }
    fn buffer_updated(&mut self, n: usize) {
        self.updates += 1;
        self.got.extend_from_slice(&self.buf[..n]);
    }
}

/// T16 (CPython's `_do_read__buffered`, ported from the buffered half of test_sslproto.py
/// test_start_tls_client_buf_proto_1): a buffered protocol gets get_buffer with the pending
/// ciphertext as its hint and buffer_updated(n) for what was decrypted into it; a buffer
/// smaller than the data is filled again and again until all of it is delivered, in order.
/// (CPython goes on with the next buffer on the next loop turn; we go on in the same pass.)
#[test]
fn a_buffered_protocol_gets_the_pending_ciphertext_as_hint_and_every_byte_t16() {
    let _serial = util::serial();
    let lp = EventLoop::new().unwrap();
    let (ours, theirs) = asyncio::socketpair().unwrap();
    let data: Vec<u8> = (0..1000u32).map(|i| (i % 251) as u8).collect();
    let (peer, sent_rx) = records_in_one_write(
        &lp,
        theirs,
        vec![data[..600].to_vec(), data[600..].to_vec()],
    );
    let (t, proto) = run(
        &lp,
        lp.create_connection(SevenBytes::default, "", 0)
            .sock(ours)
            .ssl(Certs::get().client_config(&[]))
            .server_hostname("localhost"),
    )
    .expect("the handshake");
    let mut wire = 0;
    wait_until(&lp, "the records sent", || match sent_rx.try_recv() {
        Ok(n) => {
            wire = n;
            true
        }
        Err(_) => false,
    });
    wait_until(&lp, "the data", || proto.borrow().got.len() == data.len());
    let p = proto.borrow();
    assert_eq!(p.got, data);
    assert!(p.updates >= data.len() / 7, "{} updates", p.updates);
    assert!(
        p.hints.iter().any(|&h| h >= wire),
        "T16: the hint is the pending ciphertext ({wire} B): {:?}",
        p.hints
    );
    drop(p);
    t.close();
    wait_until(&lp, "connection_lost", || proto.borrow().lost);
    peer.join().unwrap();
    assert_loop_empty(&lp);
}

/// T39 (D8): the "unclosed transport <asyncio._SSLProtocolTransport object>" warning comes from
/// `Drop`, for a TLS transport nobody closed; a connection that ended (closed, or told
/// connection_lost when its loop closed) is marked closed and never warns, and neither does
/// the transport of a `start_tls` that was refused before it began (the caller never had it).
#[test]
fn unclosed_warning_only_for_a_tls_transport_nobody_closed_t39() {
    let _serial = util::serial();
    capture_log::start();
    let unclosed = || capture_log::lines("unclosed transport <asyncio._SSLProtocolTransport");
    let lp = EventLoop::new().unwrap();
    // Closed: no warning.
    let (ours, theirs) = asyncio::socketpair().unwrap();
    let peer = tls_peer_over(theirs, answer_close_notify);
    let (t, _p, rec) = tls_client_over(&lp, ours, Recorder::default());
    t.close();
    wait_until(&lp, "connection_lost", || rec.borrow().lost);
    drop((t, _p, rec));
    peer.join().unwrap();
    assert!(unclosed().is_empty(), "{:?}", unclosed());
    // A start_tls refused before it began (its protocol is busy): no warning either.
    let (ours, _theirs) = asyncio::socketpair().unwrap();
    let (plain, proto) = run(
        &lp,
        lp.create_connection(Recorder::default, "", 0).sock(ours),
    )
    .unwrap();
    let app: ProtocolRef = proto.clone();
    let upgrade = lp.start_tls(&plain, app, Certs::get().client_config(&[]), false);
    let held = proto.borrow_mut();
    let r = run(&lp, upgrade);
    drop(held);
    assert!(matches!(r, Err(Error::InvalidState(_))), "{r:?}");
    assert!(unclosed().is_empty(), "{:?}", unclosed());
    plain.close();
    // Open when the loop closes: the loop tells the layer (connection_lost), which marks its
    // transport closed: no warning, and no shutdown (no close_notify reaches the peer).
    let (ours, theirs) = asyncio::socketpair().unwrap();
    let (ended, ended_rx) = mpsc::channel();
    let peer = tls_peer_over(theirs, move |sock, conn| {
        conn.writer().write_all(b"hi").unwrap(); // after its last handshake record
        send_all(sock, conn);
        let mut close_notify = false;
        loop {
            match conn.read_tls(sock) {
                Ok(0) | Err(_) => break,
                Ok(_) => {}
            }
            match conn.process_new_packets() {
                Ok(state) => close_notify |= state.peer_has_closed(),
                Err(_) => break,
            }
        }
        ended.send(close_notify).unwrap();
    });
    let (t, p, rec) = tls_client_over(&lp, ours, Recorder::default());
    wait_until(&lp, "the peer's hi", || rec.borrow().data == b"hi");
    drop(lp);
    assert!(t.is_closing(), "the loop's close ended the connection");
    drop((t, p, rec));
    let close_notify = ended_rx.recv_timeout(BOUND).expect("the socket was closed");
    assert!(!close_notify, "T39: no shutdown, no close_notify");
    peer.join().unwrap();
    assert!(unclosed().is_empty(), "{:?}", unclosed());
}

// ─────────────────────── random record fragmentation ───────────────────────

/// One end of the relay: what it reads goes to the queue towards the other end.
struct RelayEnd {
    side: usize,
    relay: Rc<Relay>,
}

/// Two connections (0 faces our TLS client, 1 our TLS server) and a byte queue per direction.
#[derive(Default)]
struct Relay {
    transports: [RefCell<Option<Transport>>; 2],
    /// `queues[i]`: read from end `i`, to write to end `1 - i`.
    queues: [RefCell<VecDeque<u8>>; 2],
    /// End `i` saw EOF or lost its connection.
    ended: [Cell<bool>; 2],
    lost: [Cell<bool>; 2],
    pieces: Cell<usize>,
}

impl Protocol for RelayEnd {
    fn connection_made(&mut self, t: Transport) {
        *self.relay.transports[self.side].borrow_mut() = Some(t);
    }
    fn data_received(&mut self, data: &[u8]) {
        self.relay.queues[self.side].borrow_mut().extend(data);
    }
    fn eof_received(&mut self) -> bool {
        self.relay.ended[self.side].set(true);
        true // the pump forwards the EOF once the queue is empty
    }
    fn connection_lost(&mut self, _: Option<io::Error>) {
        self.relay.ended[self.side].set(true);
        self.relay.lost[self.side].set(true);
    }
}

/// Forwards each direction one piece of 1..=`max_piece` bytes per loop iteration (a separate
/// write each, `yield_now` between), EOF after the last byte; ends when both directions ended.
async fn pump(relay: Rc<Relay>, mut rng: Rng, max_piece: usize) {
    let mut eof_sent = [false; 2];
    while eof_sent != [true, true] {
        for (from, sent) in eof_sent.iter_mut().enumerate() {
            let to = 1 - from;
            let piece: Vec<u8> = {
                let mut q = relay.queues[from].borrow_mut();
                let n = rng.size(max_piece).min(q.len());
                q.drain(..n).collect()
            };
            let t = relay.transports[to].borrow().clone().expect("connected");
            if !piece.is_empty() {
                relay.pieces.set(relay.pieces.get() + 1);
                let _ = t.write(&piece);
            } else if relay.ended[from].get() && !*sent {
                *sent = true;
                if t.can_write_eof() {
                    let _ = t.write_eof();
                }
            }
        }
        asyncio::yield_now().await;
    }
    for t in &relay.transports {
        if let Some(t) = t.borrow().as_ref() {
            t.close();
        }
    }
}

/// Writes `data` in pieces of 1..=`max` bytes, then drains.
async fn write_in_pieces(
    w: &StreamWriter,
    data: &[u8],
    rng: &mut Rng,
    max: usize,
) -> Result<(), Error> {
    let mut rest = data;
    while !rest.is_empty() {
        let n = rng.size(max).min(rest.len());
        w.write(&rest[..n])?;
        rest = &rest[n..];
    }
    w.drain().await
}

/// One exchange through the fragmenting relay: `up` from client to server and `down` back,
/// at once, then a close_notify exchange. Returns what each side read and the piece count.
fn fragmented_exchange(
    up: &[u8],
    down: &[u8],
    seed: u64,
    max_piece: usize,
) -> Result<(Vec<u8>, Vec<u8>, usize), Error> {
    let lp = EventLoop::new().unwrap();
    let seen = util::capture_exceptions(&lp);
    let (client_sock, relay_client) = asyncio::socketpair()?;
    let (relay_server, server_sock) = asyncio::socketpair()?;
    let certs = Certs::get();
    let relay = Rc::new(Relay::default());
    let (up_len, down_len) = (up.len(), down.len());
    let (up, down) = (up.to_vec(), down.to_vec());
    let out = run(&lp, async {
        let lp = asyncio::get_running_loop()?;
        // The server: a plain connection upgraded with start_tls, installed before any byte
        // can reach it (the relay does not exist yet).
        let (sreader, mut swriter) = asyncio::open_connection_sock(server_sock).await?;
        let raw = swriter.transport().clone();
        let plain = raw.get_protocol().expect("a protocol");
        let mut srng = Rng(seed ^ 0x5e);
        let server = asyncio::spawn(async move {
            swriter.start_tls(certs.server_config(&[])).await?;
            let (got, ()) = {
                let write = write_in_pieces(&swriter, &down, &mut srng, 3000);
                let read = sreader.readexactly(up_len);
                let (w, r) = util::join(write, read).await;
                (r?, w?)
            };
            assert_eq!(sreader.read(-1).await?, b"", "EOF after the data");
            assert!(swriter.transport().close_notify_received(), "T20");
            swriter.close();
            swriter.wait_closed().await?;
            Ok::<_, Error>(got)
        });
        while Rc::ptr_eq(&raw.get_protocol().expect("a protocol"), &plain) {
            asyncio::yield_now().await; // the server task's first step installs the layer
        }
        for (side, sock) in [(0, relay_client), (1, relay_server)] {
            let r = relay.clone();
            lp.connect_socket(move || RelayEnd { side, relay: r }, sock)
                .await?;
        }
        let pumping = asyncio::spawn(pump(relay.clone(), Rng(seed), max_piece));
        let mut crng = Rng(seed ^ 0xc1);
        let client = asyncio::spawn(async move {
            let (creader, cwriter) = asyncio::open_connection_sock(client_sock)
                .ssl(certs.client_config(&[]))
                .server_hostname("localhost")
                .await?;
            let write = write_in_pieces(&cwriter, &up, &mut crng, 3000);
            let read = creader.readexactly(down_len);
            let (w, r) = util::join(write, read).await;
            w?;
            let got = r?;
            cwriter.close();
            cwriter.wait_closed().await?;
            assert!(cwriter.transport().close_notify_received(), "T20");
            Ok::<_, Error>(got)
        });
        let got_down = client.await.expect("not cancelled")?;
        let got_up = server.await.expect("not cancelled")?;
        pumping.await.expect("not cancelled");
        Ok::<_, Error>((got_up, got_down))
    })?;
    wait_until(&lp, "the relay's connections to go", || {
        relay.lost[0].get() && relay.lost[1].get()
    });
    assert!(seen.borrow().is_empty(), "{:?}", seen.borrow());
    drop(relay.transports[0].take());
    drop(relay.transports[1].take());
    assert_loop_empty(&lp);
    Ok((out.0, out.1, relay.pieces.get()))
}

mod fragmentation {
    use super::*;
    use proptest::prelude::*;
    use proptest::test_runner::{Config, RngSeed};

    /// Largest fragment: mostly tiny (a byte at a time through the handshake), some mid-size,
    /// some larger than a record.
    fn max_piece() -> impl Strategy<Value = usize> {
        prop_oneof![1usize..=8, 9usize..=700, 701usize..=20_000]
    }

    proptest! {
        #![proptest_config(Config {
            cases: 32,
            rng_seed: RngSeed::Fixed(0xf4a6_7e57),
            failure_persistence: None,
            // A failure may be a hang (each case is bounded by 20 s): keep shrinking short.
            max_shrink_iters: 32,
            ..Config::default()
        })]

        #[test]
        fn random_record_fragmentation_delivers_identical_plaintext_both_ways(
            up in prop::collection::vec(any::<u8>(), 0..=40_000),
            down in prop::collection::vec(any::<u8>(), 0..=40_000),
            seed in any::<u64>(),
            max_piece in max_piece(),
        ) {
            let _serial = util::serial();
            let (got_up, got_down, pieces) =
                fragmented_exchange(&up, &down, seed, max_piece).expect("the exchange");
            prop_assert!(got_up == up, "client to server differs ({} B)", up.len());
            prop_assert!(got_down == down, "server to client differs ({} B)", down.len());
            prop_assert!(pieces > 2, "the relay cut the stream: {pieces} pieces");
        }
    }
}

/// T20 with T15: the peer's close_notify comes while the raw transport has paused the layer
/// (megabytes of ours unsent): every byte we wrote still goes out, then our close_notify,
/// and only then does the raw transport close (a peer may read on after its close_notify).
// CPython: TestSSL.test_remote_shutdown_receives_trailing_data_on_slow_socket (gh-115514)
#[test]
fn the_peers_close_notify_first_still_gets_every_byte_we_wrote_then_ours_t20_t15() {
    let _serial = util::serial();
    let lp = EventLoop::new().unwrap();
    let seen = util::capture_exceptions(&lp);
    let (ours, theirs) = asyncio::socketpair().unwrap();
    let (go, go_rx) = mpsc::channel::<()>();
    let (got_tx, got_rx) = mpsc::channel::<(usize, bool)>();
    let peer = tls_peer_over(theirs, move |sock, conn| {
        go_rx.recv_timeout(BOUND).unwrap();
        conn.send_close_notify();
        send_all(sock, conn);
        // Reads on: (plaintext bytes, whether our close_notify came).
        let mut total = 0;
        let mut buf = vec![0u8; 64 * 1024];
        let closed = loop {
            if !matches!(conn.read_tls(sock), Ok(n) if n > 0) {
                break false;
            }
            let Ok(state) = conn.process_new_packets() else {
                break false;
            };
            while let Ok(n @ 1..) = conn.reader().read(&mut buf) {
                total += n;
            }
            if state.peer_has_closed() {
                break true;
            }
        };
        got_tx.send((total, closed)).unwrap();
    });
    let (t, _p, rec) = tls_client_over(&lp, ours, Recorder::default());
    const SENT: usize = 8 << 20;
    t.write(&vec![b'x'; SENT]).unwrap();
    assert!(
        t.get_write_buffer_size() > 0,
        "T15: the layer holds ciphertext"
    );
    go.send(()).unwrap();
    wait_until(&lp, "connection_lost", || rec.borrow().lost);
    assert_eq!(
        rec.borrow().grammar(),
        ["connection_made", "eof_received", "connection_lost(None)"]
    );
    let (got, closed) = got_rx.recv_timeout(BOUND).unwrap();
    assert_eq!(
        got, SENT,
        "every byte written before the peer's close_notify"
    );
    assert!(closed, "then our close_notify");
    peer.join().unwrap();
    assert!(seen.borrow().is_empty(), "{:?}", seen.borrow());
    assert_loop_empty(&lp);
}
