//! Helpers the tests/tls_*.rs files share: a bounded run, the echo servers (and a loop with
//! one), the TLS client (`open_tls`) and the end of a client test (`close_both`), the error
//! accessors, start_tls servers and clients, bulk senders, recorders plain and over TLS.
//! `faults` holds what the loop-driven tests/tls_faults_*.rs add: `TestLoop` and its end
//! checks, bounded turns, log capture, recording servers.
#![allow(dead_code)]

pub mod faults;

use std::cell::RefCell;
use std::future::IntoFuture;
use std::net::TcpListener;
use std::rc::Rc;
use std::time::{Duration, Instant};

use crate::tls_common::Certs;
use crate::util;
use crate::util::{Forward, Recorder};
use asyncio::tls::rustls;
use asyncio::{Error, StreamReader, StreamWriter};

pub const BOUND: Duration = Duration::from_secs(20);

/// Runs `fut` on a fresh loop, bounded.
pub fn run<T>(fut: impl std::future::Future<Output = Result<T, Error>>) -> T {
    asyncio::run(asyncio::timeout(BOUND, fut))
        .expect("loop")
        .expect("bounded wait expired")
        .expect("test body")
}

/// Echoes until EOF, then closes (the streams docs' echo, over TLS).
pub async fn echo(reader: StreamReader, writer: StreamWriter) -> Result<(), Error> {
    let mut buf = vec![0u8; 64 * 1024];
    loop {
        let n = reader.read_into(&mut buf).await?;
        if n == 0 {
            break; // EOF: the client is done
        }
        writer.write(&buf[..n])?;
        writer.drain().await?;
    }
    writer.close();
    writer.wait_closed().await
}

/// The end of a client test: the client's writer closes (its TLS shutdown waited for), then
/// the server.
pub async fn close_both(writer: &StreamWriter, server: asyncio::Server) -> Result<(), Error> {
    writer.close();
    writer.wait_closed().await?;
    server.close();
    server.wait_closed().await;
    Ok(())
}

pub async fn tls_echo_server(alpn: &[&[u8]]) -> Result<(asyncio::Server, u16), Error> {
    let server = asyncio::start_server(echo, "127.0.0.1", 0)
        .ssl(Certs::get().server_config(alpn))
        .await?;
    let port = server.sockets()[0].as_inet().unwrap().port();
    Ok((server, port))
}

/// A TLS server on 127.0.0.1 (the test certificate, no ALPN) whose connections `handler`
/// serves, and its port.
pub async fn tls_server<H, F>(handler: H) -> Result<(asyncio::Server, u16), Error>
where
    H: Fn(StreamReader, StreamWriter) -> F + 'static,
    F: std::future::Future<Output = Result<(), Error>> + 'static,
{
    let server = asyncio::start_server(handler, "127.0.0.1", 0)
        .ssl(Certs::get().server_config(&[]))
        .await?;
    let port = util::port_of(&server);
    Ok((server, port))
}

/// `connection` over TLS with our client config and SNI "localhost".
fn with_our_tls(connection: asyncio::OpenConnection) -> asyncio::OpenConnection {
    connection
        .ssl(Certs::get().client_config(&[]))
        .server_hostname("localhost")
}

/// A stream connection over TLS to `127.0.0.1:port` with our client config and SNI
/// "localhost", not yet awaited (a test may add to it).
pub fn open_tls(port: u16) -> asyncio::OpenConnection {
    with_our_tls(asyncio::open_connection("127.0.0.1", port))
}

/// As [`open_tls`], over `sock` (one end of a socketpair, say).
pub fn open_tls_sock(sock: impl Into<asyncio::StreamSocket>) -> asyncio::OpenConnection {
    with_our_tls(asyncio::open_connection_sock(sock))
}

/// A fresh loop with a TLS echo server on it (no ALPN) and its port, for a test that drives
/// the loop by hand.
pub fn loop_and_tls_echo_server() -> (asyncio::EventLoop, asyncio::Server, u16) {
    let lp = asyncio::EventLoop::new().unwrap();
    let (server, port) = lp
        .run_until_complete(tls_echo_server(&[]))
        .unwrap()
        .unwrap();
    (lp, server, port)
}

/// A TLS echo server that presents the expired certificate, and its port.
pub async fn expired_tls_echo_server() -> Result<(asyncio::Server, u16), Error> {
    let certs = Certs::get();
    let expired = asyncio::tls::server_config(&certs.expired_cert, &certs.expired_key)?;
    let server = asyncio::start_server(echo, "127.0.0.1", 0)
        .ssl(expired)
        .await?;
    let port = server.sockets()[0].as_inet().unwrap().port();
    Ok((server, port))
}

/// Whether the certificate check refused an expired certificate (rustls says it two ways).
pub fn is_expired(e: &Error) -> bool {
    matches!(
        cert_error(e),
        Some(rustls::CertificateError::Expired | rustls::CertificateError::ExpiredContext { .. })
    )
}

pub fn tls_err(e: &Error) -> &asyncio::TlsError {
    match e {
        Error::Tls(t) => t,
        other => panic!("expected Error::Tls, got {other:?}"),
    }
}

/// The certificate check that refused the handshake, if that is what failed.
pub fn cert_error(e: &Error) -> Option<&rustls::CertificateError> {
    match tls_err(e).rustls_error() {
        Some(rustls::Error::InvalidCertificate(c)) => Some(c),
        _ => None,
    }
}

/// A stale copy of the test CA: its name ("asyncio test CA"), a fresh `alg` key; written to
/// `file` in the test certificates' directory, whose path comes back.
pub fn stale_test_ca(file: &str, alg: &'static rcgen::SignatureAlgorithm) -> std::path::PathBuf {
    let key = rcgen::KeyPair::generate_for(alg).unwrap();
    let mut p = rcgen::CertificateParams::new(Vec::<String>::new()).unwrap();
    p.distinguished_name
        .push(rcgen::DnType::CommonName, "asyncio test CA");
    p.is_ca = rcgen::IsCa::Ca(rcgen::BasicConstraints::Unconstrained);
    let stale = Certs::get().dir.join(file);
    std::fs::write(&stale, p.self_signed(&key).unwrap().pem()).unwrap();
    stale
}

/// A listener whose accepted sockets keep a small (64 KiB) receive buffer, without
/// autotuning, so a peer that stops reading fills quickly; and its port.
pub fn small_window_listener() -> (TcpListener, u16) {
    let listener = TcpListener::bind("127.0.0.1:0").unwrap();
    socket2::SockRef::from(&listener)
        .set_recv_buffer_size(64 * 1024)
        .unwrap();
    let port = listener.local_addr().unwrap().port();
    (listener, port)
}

// ───────────── issue 17: typed failures after the handshake, no hang after start_tls ─────────────

/// `fut`'s error, or a panic naming `what` if it succeeds or never ends (bounded).
pub async fn fails<T: std::fmt::Debug>(
    what: &str,
    fut: impl std::future::Future<Output = Result<T, Error>>,
) -> Error {
    match asyncio::timeout(Duration::from_secs(10), fut).await {
        Err(Error::Timeout) => panic!("{what} never completes"),
        Err(e) => panic!("{what}: the bound failed: {e:?}"),
        Ok(Ok(v)) => panic!("{what} succeeded: {v:?}"),
        Ok(Err(e)) => e,
    }
}

/// Every read, drain and wait_closed after a failure ends with an error; returns them.
pub async fn every_waiter_fails(reader: &StreamReader, writer: &StreamWriter) -> Vec<Error> {
    vec![
        fails("read", reader.read(-1)).await,
        fails("readline", reader.readline()).await,
        fails("drain", writer.drain()).await,
        fails("wait_closed", writer.wait_closed()).await,
        fails("a second wait_closed", writer.wait_closed()).await,
    ]
}

/// A plain server whose handler runs `then` on each connection; its result is kept.
pub async fn plain_server<F, Fut>(
    then: F,
) -> Result<(asyncio::Server, u16, Rc<RefCell<Vec<String>>>), Error>
where
    F: Fn(StreamReader, StreamWriter, Rc<RefCell<Vec<String>>>) -> Fut + 'static,
    Fut: std::future::Future<Output = Result<(), Error>> + 'static,
{
    let seen = Rc::new(RefCell::new(Vec::new()));
    let s = seen.clone();
    let then = Rc::new(then);
    let server = asyncio::start_server(
        move |r: StreamReader, w: StreamWriter| {
            let (s, then) = (s.clone(), then.clone());
            async move { then(r, w, s).await }
        },
        "127.0.0.1",
        0,
    )
    .await?;
    let port = server.sockets()[0].as_inet().unwrap().port();
    Ok((server, port, seen))
}

/// A [`plain_server`] whose handler answers with `start_tls` (server side) and records how
/// it ended, `None` or the error.
pub async fn start_tls_server_recording(
) -> Result<(asyncio::Server, u16, Rc<RefCell<Vec<String>>>), Error> {
    plain_server(|r, mut w, seen| async move {
        let e = w.start_tls(Certs::get().server_config(&[])).await.err();
        seen.borrow_mut().push(format!("{e:?}"));
        drop(r);
        Ok(())
    })
    .await
}

/// Waits (bounded by the test's bound) until the server's handler has recorded `n` entries.
pub async fn handler_done(seen: &Rc<RefCell<Vec<String>>>, n: usize) {
    while seen.borrow().len() < n {
        asyncio::yield_now().await;
    }
}

/// Runs loop turns until `cond`, for at most [`BOUND`] in all.
pub fn turn_until(lp: &asyncio::EventLoop, what: &str, mut cond: impl FnMut() -> bool) {
    let deadline = Instant::now() + BOUND;
    while !cond() {
        assert!(
            Instant::now() < deadline,
            "{what}: not reached within {BOUND:?}"
        );
        lp.run_once(Some(Duration::from_millis(100))).unwrap();
    }
}

/// Yields until `reader` has paused its transport (S14), bounded.
pub async fn until_paused(reader: &StreamReader) {
    for _ in 0..100_000 {
        if util::reader_field(reader, "paused") == "true" {
            return;
        }
        asyncio::yield_now().await;
    }
    panic!("the reader never paused: {reader:?}");
}

/// A server handler that sends `BULK` bytes (after a plain `GO` line and start_tls when
/// `upgrade`), then waits for the client's end.
pub async fn bulk_sender(
    reader: StreamReader,
    mut writer: StreamWriter,
    upgrade: bool,
) -> Result<(), Error> {
    if upgrade {
        writer.write(b"GO\n")?;
        writer.start_tls(Certs::get().server_config(&[])).await?;
    }
    writer.write(&vec![b'b'; BULK])?;
    writer.drain().await?;
    reader.read(-1).await?;
    writer.close();
    writer.wait_closed().await
}

pub const BULK: usize = 256 * 1024;

/// A plain client of a `bulk_sender(.., true)` server with a reader limit of 1024, once the
/// server's `GO` line is read: the next step is the client's `start_tls`.
pub async fn bulk_client_before_start_tls(
) -> Result<(asyncio::Server, StreamReader, StreamWriter), Error> {
    let server = asyncio::start_server(
        |r: StreamReader, w: StreamWriter| bulk_sender(r, w, true),
        "127.0.0.1",
        0,
    )
    .await?;
    let port = server.sockets()[0].as_inet().unwrap().port();
    let (reader, writer) = asyncio::open_connection("127.0.0.1", port)
        .limit(1024)
        .await?;
    assert_eq!(reader.readline().await?, b"GO\n");
    Ok((server, reader, writer))
}

/// A [`plain_recorder`] over a socket whose send buffer is capped (64 KiB, without
/// autotuning) before it connects: with a [`small_window_listener`] peer that reads nothing,
/// the kernels take a few hundred KiB of a write at most, whatever the host's tcp_wmem and
/// tcp_rmem maxima allow an autotuned socket.
pub fn narrow_plain_recorder(
    lp: &asyncio::EventLoop,
    port: u16,
) -> (asyncio::Transport, Rc<RefCell<Recorder>>) {
    let sock = socket2::Socket::new(socket2::Domain::IPV4, socket2::Type::STREAM, None).unwrap();
    sock.set_send_buffer_size(64 * 1024).unwrap();
    let addr = std::net::SocketAddr::from(([127, 0, 0, 1], port));
    sock.connect(&addr.into()).unwrap();
    let connect = lp
        .create_connection(Recorder::default, "", 0)
        .sock(std::net::TcpStream::from(sock));
    connected(lp, connect)
}

/// A `Recorder` connected in plain TCP to `port`, bounded: the plain side of a start_tls test.
pub fn plain_recorder(
    lp: &asyncio::EventLoop,
    port: u16,
) -> (asyncio::Transport, Rc<RefCell<Recorder>>) {
    let connect = lp.create_connection(Recorder::default, "127.0.0.1", port);
    connected(lp, connect)
}

/// A `Recorder` connected over TLS to `port` (our client config, SNI "localhost"), bounded.
pub fn recorder_over_tls(
    lp: &asyncio::EventLoop,
    port: u16,
) -> (asyncio::Transport, Rc<RefCell<Recorder>>) {
    this_recorder_over_tls(lp, port, Recorder::default())
}

/// [`recorder_over_tls`] with `rec`, its hooks set by the test.
pub fn this_recorder_over_tls(
    lp: &asyncio::EventLoop,
    port: u16,
    rec: Recorder,
) -> (asyncio::Transport, Rc<RefCell<Recorder>>) {
    let connect = lp
        .create_connection(move || rec, "127.0.0.1", port)
        .ssl(Certs::get().client_config(&[]))
        .server_hostname("localhost");
    connected(lp, connect)
}

/// A protocol factory whose protocols forward to a `Recorder`, and where the test finds the
/// one made.
#[allow(clippy::type_complexity)]
pub fn forwarding_recorder() -> (
    impl Fn() -> Forward,
    Rc<RefCell<Option<Rc<RefCell<Recorder>>>>>,
) {
    let made = Rc::new(RefCell::new(None));
    let m = made.clone();
    let factory = move || {
        let rec = Rc::new(RefCell::new(Recorder::default()));
        *m.borrow_mut() = Some(rec.clone());
        Forward(rec)
    };
    (factory, made)
}

/// A server whose handler runs `first` on each connection (read to EOF, start_tls...), then
/// keeps its side open (reader and writer) until the returned event is set, and closes.
pub async fn server_held_until_done<F, Fut>(
    first: F,
) -> Result<(asyncio::Server, u16, Rc<asyncio::Event>), Error>
where
    F: Fn(StreamReader, StreamWriter) -> Fut + 'static,
    Fut: std::future::Future<Output = Result<(StreamReader, StreamWriter), Error>> + 'static,
{
    let done = Rc::new(asyncio::Event::new());
    let d = done.clone();
    let first = Rc::new(first);
    let server = asyncio::start_server(
        move |r: StreamReader, w: StreamWriter| {
            let (done, first) = (d.clone(), first.clone());
            async move {
                let (_r, w) = first(r, w).await?;
                done.wait().await;
                w.close();
                Ok::<_, Error>(())
            }
        },
        "127.0.0.1",
        0,
    )
    .await?;
    let port = server.sockets()[0].as_inet().unwrap().port();
    Ok((server, port, done))
}

/// A server whose handler writes `GO\n`, answers with start_tls (server side), reads the
/// line `line_first` if given, then writes `over tls` and closes; and a plain client that
/// has read the `GO`, with its stream's protocol (for the tests that hold it).
pub async fn go_then_start_tls(
    line_first: Option<&'static [u8]>,
) -> Result<
    (
        asyncio::Server,
        StreamReader,
        StreamWriter,
        asyncio::ProtocolRef,
    ),
    Error,
> {
    let server = asyncio::start_server(
        move |r: StreamReader, mut w: StreamWriter| async move {
            w.write(b"GO\n")?;
            w.start_tls(Certs::get().server_config(&[])).await?;
            if let Some(line) = line_first {
                assert_eq!(r.readline().await?, line);
            }
            w.write(b"over tls")?;
            w.close();
            w.wait_closed().await
        },
        "127.0.0.1",
        0,
    )
    .await?;
    let port = server.sockets()[0].as_inet().unwrap().port();
    let (reader, writer) = asyncio::open_connection("127.0.0.1", port).await?;
    assert_eq!(reader.readline().await?, b"GO\n");
    let proto = writer
        .transport()
        .get_protocol()
        .expect("the stream's protocol");
    Ok((server, reader, writer, proto))
}

/// The end of a test whose server recorded one handler's outcome: waits for it (bounded by
/// the test's bound), then closes the server.
pub async fn close_after_handler(server: asyncio::Server, seen: &Rc<RefCell<Vec<String>>>) {
    handler_done(seen, 1).await;
    server.close();
    server.wait_closed().await;
}

/// Runs `connect` (a connection being made) on `lp`, bounded: what it made. The test fails
/// on a timeout or an error.
pub fn connected<F, T>(lp: &asyncio::EventLoop, connect: F) -> T
where
    F: IntoFuture<Output = Result<T, Error>>,
{
    lp.run_until_complete(asyncio::timeout(BOUND, connect.into_future()))
        .unwrap()
        .unwrap()
        .unwrap()
}

/// The end of an echoed `ping` over TLS that we closed: the echo came back whole, then
/// eof_received at the end of our own shutdown, then connection_lost.
pub fn assert_ping_echoed_then_a_clean_end(p: &Recorder, what: &str) {
    assert_eq!(p.data, b"ping", "{what}");
    assert_eq!(p.grammar(), util::DATA_THEN_A_CLEAN_END, "{what}");
}

/// A plain server on `lp` (started from outside it) whose handler writes `GO\n`, answers with
/// start_tls (server side), then goes on with `then`; and its port.
pub fn upgrading_server_on<T, F>(lp: &asyncio::EventLoop, then: T) -> (asyncio::Server, u16)
where
    T: Fn(StreamReader, StreamWriter) -> F + 'static,
    F: std::future::Future<Output = Result<(), Error>> + 'static,
{
    let then = Rc::new(then);
    util::serve_on(lp, move |reader: StreamReader, mut writer: StreamWriter| {
        let then = then.clone();
        async move {
            writer.write(b"GO\n")?;
            writer.start_tls(Certs::get().server_config(&[])).await?;
            then(reader, writer).await
        }
    })
}

/// `loop.start_tls` of `raw`, a plain connection of `rec`, for `rec` (our client config, SNI
/// "localhost") once the server's `GO\n` has come, bounded: the TLS transport.
pub fn loop_start_tls_after_go(
    lp: &asyncio::EventLoop,
    raw: &asyncio::Transport,
    rec: &Rc<RefCell<Recorder>>,
) -> asyncio::Transport {
    util::run_until(lp, 1000, || rec.borrow().data == b"GO\n");
    let upgrade = lp
        .start_tls(raw, rec.clone(), Certs::get().client_config(&[]), false)
        .server_hostname("localhost");
    connected(lp, upgrade)
}

/// A verifier that accepts any certificate (CPython's `CERT_NONE` without `check_hostname`),
/// offering the signature schemes of `provider`, or only `schemes` when set.
#[derive(Debug)]
pub struct AcceptAny {
    provider: std::sync::Arc<rustls::crypto::CryptoProvider>,
    schemes: Option<Vec<rustls::SignatureScheme>>,
}

impl AcceptAny {
    pub fn new(provider: std::sync::Arc<rustls::crypto::CryptoProvider>) -> Self {
        AcceptAny {
            provider,
            schemes: None,
        }
    }

    /// Offering only `schemes` in the ClientHello.
    pub fn offering(mut self, schemes: &[rustls::SignatureScheme]) -> Self {
        self.schemes = Some(schemes.to_vec());
        self
    }
}

impl rustls::client::danger::ServerCertVerifier for AcceptAny {
    fn verify_server_cert(
        &self,
        _: &rustls::pki_types::CertificateDer<'_>,
        _: &[rustls::pki_types::CertificateDer<'_>],
        _: &rustls::pki_types::ServerName<'_>,
        _: &[u8],
        _: rustls::pki_types::UnixTime,
    ) -> Result<rustls::client::danger::ServerCertVerified, rustls::Error> {
        Ok(rustls::client::danger::ServerCertVerified::assertion())
    }

    fn verify_tls12_signature(
        &self,
        message: &[u8],
        cert: &rustls::pki_types::CertificateDer<'_>,
        dss: &rustls::DigitallySignedStruct,
    ) -> Result<rustls::client::danger::HandshakeSignatureValid, rustls::Error> {
        let algs = &self.provider.signature_verification_algorithms;
        rustls::crypto::verify_tls12_signature(message, cert, dss, algs)
    }

    fn verify_tls13_signature(
        &self,
        message: &[u8],
        cert: &rustls::pki_types::CertificateDer<'_>,
        dss: &rustls::DigitallySignedStruct,
    ) -> Result<rustls::client::danger::HandshakeSignatureValid, rustls::Error> {
        let algs = &self.provider.signature_verification_algorithms;
        rustls::crypto::verify_tls13_signature(message, cert, dss, algs)
    }

    fn supported_verify_schemes(&self) -> Vec<rustls::SignatureScheme> {
        match &self.schemes {
            Some(only) => only.clone(),
            None => self
                .provider
                .signature_verification_algorithms
                .supported_schemes(),
        }
    }
}
