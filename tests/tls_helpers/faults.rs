//! Helpers of the tests/tls_faults_*.rs files (issue #8, the TLS part: faults a peer can
//! cause over TLS). Those tests drive an [`EventLoop`] of their own, turn by turn, against raw
//! peers on helper threads (`tls_common`'s blocking rustls servers, or plain sockets):
//! every wait bounded by [`BOUND`], no sleep used to order events. A raw peer acts after a
//! message from the test (a byte on the socket, or the loop state the test waited for), and
//! the loop is driven until a condition of its own state holds ([`wait_until`]).
//!
//! Every test holds `util::serial()` (its [`TestLoop`] does): several compare the process's
//! open descriptors before and after, which only works if no other test of the binary opens
//! descriptors meanwhile.
//! The server side's handshake failures are only logged (at debug, as CPython's
//! `_fatal_error` does for SSL errors), so the tests capture the crate's log records per thread
//! ([`capture_log`]); the typed error of the same failures is checked through `start_tls` on
//! an accepted connection, whose future returns it ([`StartTlsServer`]).

use std::cell::RefCell;
use std::io;
use std::net::TcpStream;
use std::os::unix::net::UnixStream;
use std::rc::Rc;
use std::time::{Duration, Instant};

use crate::tls_common::Certs;
use crate::util::{self, open_fds, Forward, Recorder};
use asyncio::{Error, EventLoop, Protocol, ProtocolRef, StreamReader, StreamWriter, Transport};

pub use super::BOUND;

/// The loop of one fault test and what the test checks at its end. Made first thing in the
/// test: it holds `util::serial()` (the binary's tests then run one at a time, so the
/// descriptor count is the test's own), captures the loop's exception reports in `seen`, and
/// counts the open descriptors once the loop exists. Derefs to its [`EventLoop`].
pub struct TestLoop {
    lp: EventLoop,
    /// What reached the exception handler, one `message | exception` a report.
    pub seen: Rc<RefCell<Vec<String>>>,
    fds: usize,
    /// Dropped after `lp` (fields drop in order): the loop's descriptors are gone first.
    _serial: std::sync::MutexGuard<'static, ()>,
}

impl TestLoop {
    pub fn new() -> TestLoop {
        let serial = util::serial();
        TestLoop::around(EventLoop::new().unwrap(), serial)
    }

    /// A loop on `clock`: time moves only when the test advances it.
    pub fn with_clock(clock: &asyncio::ManualClock) -> TestLoop {
        let serial = util::serial();
        TestLoop::around(EventLoop::with_clock(clock.clone()).unwrap(), serial)
    }

    fn around(lp: EventLoop, serial: std::sync::MutexGuard<'static, ()>) -> TestLoop {
        let seen = util::capture_exceptions(&lp);
        TestLoop {
            lp,
            seen,
            fds: open_fds(),
            _serial: serial,
        }
    }

    /// The end of a test: nothing reached the exception handler, nothing is left on the loop.
    pub fn assert_clean(&self) {
        assert!(self.seen.borrow().is_empty(), "{:?}", self.seen.borrow());
        assert_loop_empty(&self.lp);
    }

    /// [`TestLoop::assert_clean`], and every descriptor opened since the start is closed.
    pub fn assert_released(&self) {
        self.assert_clean();
        assert_eq!(open_fds(), self.fds, "a socket was not released");
    }
}

impl std::ops::Deref for TestLoop {
    type Target = EventLoop;
    fn deref(&self) -> &EventLoop {
        &self.lp
    }
}

/// Runs `fut` on `lp` under [`BOUND`].
pub fn run<F: std::future::IntoFuture>(lp: &EventLoop, fut: F) -> F::Output {
    lp.run_until_complete(asyncio::timeout(BOUND, fut.into_future()))
        .unwrap()
        .expect("test timed out")
}

/// Drives `lp` until `cond` (a predicate on loop-side state) holds; each iteration waits for
/// an event; [`BOUND`] in all.
pub fn wait_until(lp: &EventLoop, what: &str, mut cond: impl FnMut() -> bool) {
    let deadline = Instant::now() + BOUND;
    while !cond() {
        let left = deadline.saturating_duration_since(Instant::now());
        assert!(!left.is_zero(), "timed out waiting for {what}");
        lp.run_once(Some(left)).unwrap();
    }
}

/// Closes `s` with SO_LINGER 0: the kernel sends RST instead of FIN.
pub fn reset(s: TcpStream) {
    socket2::SockRef::from(&s)
        .set_linger(Some(Duration::ZERO))
        .unwrap();
    drop(s);
}

/// What a loop with nothing left (no connection, no task, no timer) reports.
pub fn assert_loop_empty(lp: &EventLoop) {
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
pub fn describe(e: &Error) -> String {
    let family = match e {
        Error::Tls(_) => "tls",
        Error::Io(io) if tls_inside(io) => "io(tls)",
        Error::Io(_) => "io",
        _ => "other",
    };
    format!("{family} {:?}: {e}", e.kind())
}

/// Whether `e` wraps the crate's TLS error (as `Error::Tls` or `TlsError`).
pub fn tls_inside(e: &io::Error) -> bool {
    e.get_ref().is_some_and(|i| {
        matches!(i.downcast_ref::<Error>(), Some(Error::Tls(_))) || i.is::<asyncio::TlsError>()
    })
}

/// A small deterministic generator (splitmix64) for garbage bytes and fragment sizes.
pub struct Rng(pub u64);

impl Rng {
    pub fn next(&mut self) -> u64 {
        self.0 = self.0.wrapping_add(0x9e37_79b9_7f4a_7c15);
        let mut z = self.0;
        z = (z ^ (z >> 30)).wrapping_mul(0xbf58_476d_1ce4_e5b9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94d0_49bb_1331_11eb);
        z ^ (z >> 31)
    }

    /// Uniform in `1..=max`.
    pub fn size(&mut self, max: usize) -> usize {
        1 + (self.next() % max as u64) as usize
    }

    pub fn bytes(&mut self, n: usize) -> Vec<u8> {
        (0..n).map(|_| self.next() as u8).collect()
    }
}

/// The crate's log records, per thread (shared with other test binaries: tests/util).
pub use crate::util::capture_log;

/// A server's TLS handshake failures, as logged by the TLS layer (`SSL handshake …: <error>`).
pub fn handshake_failures() -> Vec<String> {
    capture_log::lines("SSL handshake")
}

/// A `start_server` handler that echoes until EOF or an error, then records how the reading
/// ended (`eof close_notify=<bool>` or [`describe`]) in `log` and closes.
pub fn recording_echo(
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
pub fn tls_server(
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
pub struct GoodClient {
    pub reader: StreamReader,
    pub writer: StreamWriter,
}

impl GoodClient {
    pub fn connect(lp: &EventLoop, port: u16) -> GoodClient {
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
    pub fn echo(&self, lp: &EventLoop, line: &[u8]) {
        let got = run(lp, async {
            self.writer.write(line)?;
            self.reader.readline().await
        })
        .expect("the good client is served");
        assert_eq!(got, line);
    }

    pub fn close(self, lp: &EventLoop) {
        self.writer.close();
        run(lp, self.writer.wait_closed()).expect("a clean close");
    }
}

/// A plain server whose connections upgrade at once with the server side of `start_tls`
/// (reading paused from `connection_made`, so no byte is read as plaintext first). Each
/// upgrade's outcome is recorded: `ok`, or [`describe`] of the error the future returned.
/// The TLS layer is the one `.ssl()` servers use; this path returns its error typed.
pub struct StartTlsServer {
    pub server: asyncio::Server,
    pub outcomes: util::Log,
    /// The app protocol of each connection, to check what reached it.
    pub apps: Rc<RefCell<Vec<Rc<RefCell<Recorder>>>>>,
}

/// Closes a `tls_server` and a [`StartTlsServer`] and waits for both, then checks that
/// nothing is left on the loop and every descriptor of the test went
/// ([`TestLoop::assert_released`]).
pub fn close_both_and_check(lp: &TestLoop, server: asyncio::Server, upgrade: StartTlsServer) {
    server.close();
    upgrade.server.close();
    run(lp, async {
        server.wait_closed().await;
        upgrade.server.wait_closed().await;
    });
    drop(upgrade);
    lp.assert_released();
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
    pub fn start(lp: &EventLoop) -> StartTlsServer {
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

/// Our TLS client over `sock` with a [`Recorder`] as its protocol, the handshake done.
pub fn tls_client_over(
    lp: &EventLoop,
    sock: UnixStream,
    rec: Recorder,
) -> (Transport, Rc<RefCell<Forward>>, Rc<RefCell<Recorder>>) {
    tls_client_over_with(lp, sock, rec, |c| c)
}

/// [`tls_client_over`], with `configure` applied to the connection's builder (a timeout).
pub fn tls_client_over_with(
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

/// Our TLS client over `sock` as a stream pair, the handshake done.
pub fn tls_streams_over(lp: &EventLoop, sock: UnixStream) -> (StreamReader, StreamWriter) {
    run(
        lp,
        asyncio::open_connection_sock(sock)
            .ssl(Certs::get().client_config(&[]))
            .server_hostname("localhost"),
    )
    .expect("the handshake")
}

/// A few turns with nothing to wait for: the loop takes in what already sits in its sockets.
pub fn turns(lp: &EventLoop, n: usize) {
    for _ in 0..n {
        lp.run_once(Some(Duration::ZERO)).unwrap();
    }
}
