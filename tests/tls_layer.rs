//! The TLS layer's transport (issue #5, Part T): start_tls over paused writing, a protocol's
//! misuse inside the layer, an app protocol held across awaits, set_protocol, reading pauses,
//! the extra info CPython's ports read, and a connection dropped after connection_made.
//! Certificates are made at test time (`tls_common`).
//! Every wait is bounded by `asyncio::timeout`.
#![cfg(feature = "tls")]

mod tls_common;
mod tls_helpers;
mod util;

use std::cell::RefCell;
use std::future::IntoFuture;
use std::io;
use std::net::TcpListener;
use std::rc::Rc;
use std::time::Duration;

use asyncio::tls::rustls;
use asyncio::{Error, ExtraInfo, StreamReader, StreamWriter, Transport};
use tls_common::Certs;
use tls_helpers::{
    bulk_client_before_start_tls, bulk_sender, close_both, echo, loop_and_tls_echo_server,
    narrow_plain_recorder, open_tls, plain_recorder, recorder_over_tls, run, small_window_listener,
    tls_echo_server, turn_until, until_paused, BOUND, BULK,
};
use util::Recorder;

// ───────────── loop.start_tls over a transport whose writing is paused ─────────────

/// Plaintext written before the upgrade: far above the raw transport's 64 KiB mark even after
/// the kernels took their share (both buffers capped: our 64 KiB send buffer, the peer's
/// 64 KiB receive buffer, each doubled by Linux), as long as the peer reads none of it (a
/// peer draining the socket while we write lets the kernel take it all). Autotuned buffers
/// could take all of 8 MiB on a host whose tcp_wmem/tcp_rmem maxima are 8 or 16 MiB.
const FILLER: usize = 1 << 20;

/// A peer that reads nothing until told (once the test saw the raw transport full), then takes
/// the [`FILLER`] plaintext, runs the server side of TLS and returns the plaintext it got
/// before our close_notify (answered).
fn slow_starttls_peer() -> (
    u16,
    std::sync::mpsc::Sender<()>,
    std::thread::JoinHandle<Vec<u8>>,
) {
    let (listener, port) = small_window_listener();
    let (go, wait_go) = std::sync::mpsc::channel::<()>();
    let config = Certs::get().server_config(&[]);
    let peer = std::thread::spawn(move || {
        let (mut tcp, _) = listener.accept().unwrap();
        tcp.set_read_timeout(Some(BOUND)).unwrap();
        let _ = wait_go.recv_timeout(BOUND);
        let mut filler = vec![0u8; FILLER];
        io::Read::read_exact(&mut tcp, &mut filler).unwrap();
        let mut conn = rustls::ServerConnection::new(config).unwrap();
        while conn.is_handshaking() {
            if conn.complete_io(&mut tcp).is_err() {
                return Vec::new();
            }
        }
        // Plaintext until our close_notify, answered with its own.
        let mut got = Vec::new();
        loop {
            let Ok(state) = conn.process_new_packets() else {
                return got;
            };
            let mut buf = [0u8; 4096];
            while let Ok(k) = io::Read::read(&mut conn.reader(), &mut buf) {
                if k == 0 {
                    break;
                }
                got.extend_from_slice(&buf[..k]);
            }
            if state.peer_has_closed() {
                conn.send_close_notify();
            }
            while conn.wants_write() {
                if conn.write_tls(&mut tcp).is_err() {
                    return got;
                }
            }
            if state.peer_has_closed() {
                return got;
            }
            match conn.read_tls(&mut tcp) {
                Ok(0) | Err(_) => return got,
                Ok(_) => {}
            }
        }
    });
    (port, go, peer)
}

/// T33/T15 with the raw transport above its high-water mark when `loop.start_tls` swaps its
/// protocol: the handshake completes, the app protocol (which got `pause_writing` from the
/// raw transport) gets `resume_writing` from the TLS layer, strictly alternating (L49), and
/// nothing is reported (no failed assertion inside the layer's pause/resume_writing). With
/// `hold`, the app protocol is borrowed while it crosses the mark, so its pause is still
/// queued in the seam when start_tls swaps the protocol: it must reach that protocol, not
/// the TLS layer.
fn start_tls_over_paused_writing(hold: bool) {
    let (port, go, peer) = slow_starttls_peer();
    let lp = asyncio::EventLoop::new().unwrap();
    let reports = util::capture_exceptions(&lp.handle());
    let (t, proto) = narrow_plain_recorder(&lp, port);
    let app: asyncio::ProtocolRef = proto.clone();
    let upgrade = lp
        .start_tls(&t, app, Certs::get().client_config(&[]), false)
        .server_hostname("localhost");
    // The write and the swap in one turn: a pause queued for a held protocol is still queued.
    // The peer starts reading only once the pause was seen: told before the write, it could
    // drain the socket while the kernel takes our bytes, and leave less than the high mark
    // in the transport's buffer (the assertion failed once on a loaded machine).
    let (t2, p2) = (t.clone(), proto.clone());
    let tls = lp
        .run_until_complete(asyncio::timeout(BOUND, async move {
            let held = hold.then(|| p2.borrow_mut());
            t2.write(&vec![0u8; FILLER])?;
            drop(held);
            assert!(t2.buffer_info().writing_paused, "the raw transport is full");
            go.send(()).unwrap();
            upgrade.await
        }))
        .unwrap()
        .expect("start_tls hung")
        .expect("start_tls");
    turn_until(&lp, "resume_writing", || {
        proto.borrow().calls.iter().any(|c| c == "resume_writing")
    });
    tls.write(b"after the upgrade").unwrap();
    tls.close();
    turn_until(&lp, "connection_lost", || proto.borrow().lost);
    assert_eq!(
        proto.borrow().grammar(),
        [
            "connection_made",
            "pause_writing",
            "resume_writing",
            "eof_received", // T22: the peer's close_notify answered ours
            "connection_lost(None)"
        ]
    );
    assert!(reports.borrow().is_empty(), "{:?}", reports.borrow());
    assert_eq!(peer.join().unwrap(), b"after the upgrade");
}

#[test]
fn t33_t15_l49_start_tls_over_a_transport_whose_writing_is_paused() {
    start_tls_over_paused_writing(false);
}

#[test]
fn l49_t33_a_pause_queued_for_a_held_protocol_reaches_it_across_start_tls() {
    start_tls_over_paused_writing(true);
}

// ───────────── T29: a protocol's misuse inside the layer is reported ─────────────

/// A buffered protocol whose `get_buffer` lends nothing (a bug in it).
#[derive(Default)]
struct EmptyBuffer {
    transport: Option<Transport>,
    lost: Option<Option<io::ErrorKind>>,
}

impl asyncio::Protocol for EmptyBuffer {
    fn connection_made(&mut self, t: Transport) {
        t.write(b"ping\n").unwrap();
        self.transport = Some(t);
    }
    fn connection_lost(&mut self, exc: Option<io::Error>) {
        self.lost = Some(exc.map(|e| e.kind()));
    }
    fn as_buffered(&mut self) -> Option<&mut dyn asyncio::BufferedProtocol> {
        Some(self)
    }
}

impl asyncio::BufferedProtocol for EmptyBuffer {
    fn get_buffer(&mut self, _size_hint: usize) -> &mut [u8] {
        &mut []
    }
    fn buffer_updated(&mut self, _n: usize) {}
}

/// T29: an empty buffer from `get_buffer` is not an OS or TLS error (Python would raise a
/// RuntimeError), so besides ending the connection it reaches the exception handler, as the
/// socket transport reports the same misuse (L51), instead of a debug log nobody sees.
#[test]
fn t29_l51_empty_get_buffer_over_tls_reaches_the_exception_handler() {
    let lp = asyncio::EventLoop::new().unwrap();
    let reports = util::capture_exceptions(&lp.handle());
    let (server, proto) = lp
        .run_until_complete(asyncio::timeout(BOUND, async {
            let (server, port) = tls_echo_server(&[]).await?;
            let (_t, proto) = asyncio::get_running_loop()?
                .create_connection(EmptyBuffer::default, "127.0.0.1", port)
                .ssl(Certs::get().client_config(&[]))
                .server_hostname("localhost")
                .await?;
            Ok::<_, Error>((server, proto))
        }))
        .unwrap()
        .expect("bounded")
        .expect("connect");
    turn_until(&lp, "connection_lost", || proto.borrow().lost.is_some());
    assert!(
        matches!(proto.borrow().lost, Some(Some(_))),
        "the connection ends with the error"
    );
    let reports = reports.borrow().clone();
    assert_eq!(reports.len(), 1, "{reports:?}");
    assert!(
        reports[0].contains("get_buffer() returned an empty buffer"),
        "{reports:?}"
    );
    server.close();
}

/// T33: start_tls pauses the raw transport's reading for the swap and resumes it, as
/// CPython does; when the swap is refused (the protocol is busy: `set_protocol` from inside
/// one of its own callbacks, something CPython cannot refuse) the transport is left as the
/// caller had it, so a reading paused before the call stays paused.
#[test]
fn t33_a_refused_start_tls_leaves_a_paused_transport_paused() {
    let listener = TcpListener::bind("127.0.0.1:0").unwrap();
    let port = listener.local_addr().unwrap().port();
    let lp = asyncio::EventLoop::new().unwrap();
    let (t, proto) = plain_recorder(&lp, port);
    let (_peer, _) = listener.accept().unwrap();
    t.pause_reading();
    let app: asyncio::ProtocolRef = proto.clone();
    let upgrade = lp.start_tls(&t, app, Certs::get().client_config(&[]), false);
    let held = proto.borrow_mut(); // as if start_tls ran inside one of its callbacks
    let r = lp
        .run_until_complete(asyncio::timeout(BOUND, upgrade.into_future()))
        .unwrap()
        .expect("bounded");
    drop(held);
    assert!(matches!(r, Err(Error::InvalidState(_))), "{r:?}");
    assert!(!t.is_reading(), "the caller's pause_reading is undone");
    t.close();
}

/// A TLS server on `lp` running `handler` per connection, and a `Recorder` client connected
/// to it over TLS: the set-up of the tests that hold the client's app protocol.
fn held_app_pair<H, Fut>(
    lp: &asyncio::EventLoop,
    handler: H,
) -> (asyncio::Server, Transport, Rc<RefCell<Recorder>>)
where
    H: Fn(StreamReader, StreamWriter) -> Fut + 'static,
    Fut: std::future::Future<Output = Result<(), Error>> + 'static,
{
    let certs = Certs::get();
    let server = lp
        .run_until_complete(
            asyncio::start_server(handler, "127.0.0.1", 0).ssl(certs.server_config(&[])),
        )
        .unwrap()
        .unwrap();
    let port = server.sockets()[0].as_inet().unwrap().port();
    let (t, proto) = lp
        .run_until_complete(
            lp.create_connection(Recorder::default, "127.0.0.1", port)
                .ssl(certs.client_config(&[]))
                .server_hostname("localhost")
                .into_future(),
        )
        .unwrap()
        .unwrap();
    (server, t, proto)
}

#[test]
fn l44_t22_a_tls_app_protocol_held_across_a_long_await_is_retried_sparingly_then_gets_its_data() {
    // As over a plain socket (tests/transport/protocol_calls.rs): the TLS layer waits for an
    // app protocol a user task keeps borrowed across a 300 ms sleep, without spinning the loop,
    // and then delivers what came meanwhile.
    let lp = asyncio::EventLoop::new().unwrap();
    let (server, t, proto) = held_app_pair(&lp, |r: StreamReader, w: StreamWriter| async move {
        r.readexactly(1).await?; // the client's go-ahead
        w.write(b"while held")?;
        w.drain().await?;
        let _ = r.read(-1).await;
        w.close();
        Ok::<_, Error>(())
    });
    let turns = util::turns_while_held(&lp, &proto, Duration::from_millis(300), || {
        t.write(b"g").unwrap()
    });
    assert!(turns <= 80, "{turns} loop turns during a 300 ms hold");
    util::run_until(&lp, 200, || {
        proto.try_borrow().is_ok_and(|p| p.data == b"while held")
    });
    t.close();
    server.close();
}

#[test]
fn l44_t22_records_arriving_while_the_tls_app_protocol_is_held_share_one_retry() {
    // As in the PROXY layer (tests/proxy_protocol.rs): 30 records arriving one by one while a
    // user task keeps the app protocol borrowed wait behind one retry, not one retry each.
    let lp = asyncio::EventLoop::new().unwrap();
    let (server, t, proto) = held_app_pair(&lp, |r: StreamReader, w: StreamWriter| async move {
        r.readexactly(1).await?; // the client's go-ahead
        for _ in 0..30 {
            w.write(b"+")?;
            w.drain().await?;
            asyncio::sleep(Duration::from_millis(5)).await;
        }
        let _ = r.read(-1).await;
        w.close();
        Ok::<_, Error>(())
    });
    let turns = util::turns_while_held(&lp, &proto, Duration::from_millis(300), || {
        t.write(b"g").unwrap()
    });
    // The server's 30 sleeps and writes and the client's 30 reads take up to about 100
    // turns, the one spaced-out retry about 15 more (one retry per record: several hundred).
    assert!(turns <= 200, "{turns} loop turns during a 300 ms hold");
    util::run_until(&lp, 200, || {
        proto.try_borrow().is_ok_and(|p| p.data == [b'+'; 30])
    });
    t.close();
    server.close();
}

#[test]
fn l44_t22_connection_lost_for_a_held_tls_app_protocol_waits_sparingly_and_comes_once() {
    // The peer closes while a user task keeps the app protocol borrowed across a 300 ms
    // sleep: the TLS layer's connection_lost waits for it without spinning the loop, then
    // comes once, last.
    let lp = asyncio::EventLoop::new().unwrap();
    let (server, t, proto) = held_app_pair(&lp, |r: StreamReader, w: StreamWriter| async move {
        r.readexactly(1).await?; // the client's go-ahead: close at once
        w.close();
        Ok::<_, Error>(())
    });
    let turns = util::turns_while_held(&lp, &proto, Duration::from_millis(300), || {
        t.write(b"g").unwrap()
    });
    assert!(turns <= 80, "{turns} loop turns during a 300 ms hold");
    util::run_until(&lp, 200, || proto.try_borrow().is_ok_and(|p| p.lost));
    let grammar = proto.borrow().grammar();
    assert_eq!(grammar.first().map(String::as_str), Some("connection_made"));
    assert!(
        grammar.last().unwrap().starts_with("connection_lost"),
        "{grammar:?}"
    );
    let lost = grammar.iter().filter(|c| c.starts_with("connection_lost"));
    assert_eq!(lost.count(), 1, "{grammar:?}");
    server.close();
}

/// A buffered protocol that keeps what it is given: which read path a TLS transport takes
/// after `set_protocol` (T6).
#[derive(Default)]
struct Collect {
    buf: Vec<u8>,
    got: Vec<u8>,
    /// Bytes that came through `data_received`: none expected for a buffered protocol.
    plain: usize,
}

impl asyncio::Protocol for Collect {
    fn data_received(&mut self, data: &[u8]) {
        self.plain += data.len();
    }
    fn as_buffered(&mut self) -> Option<&mut dyn asyncio::BufferedProtocol> {
        Some(self)
    }
}

impl asyncio::BufferedProtocol for Collect {
    fn get_buffer(&mut self, _size_hint: usize) -> &mut [u8] {
        self.buf.resize(4096, 0);
        &mut self.buf
    }
    fn buffer_updated(&mut self, n: usize) {
        self.got.extend_from_slice(&self.buf[..n]);
    }
}

/// Whether `p` is the protocol `t` calls now.
fn calls(t: &Transport, p: asyncio::ProtocolRef) -> bool {
    t.get_protocol().is_some_and(|now| Rc::ptr_eq(&now, &p))
}

#[test]
fn t6_one_app_transport_whose_set_protocol_switches_the_app_protocol() {
    // Ports test_sslproto.py test_set_new_app_protocol over a real connection: the TLS
    // layer's one app transport is the one connection_made got and create_connection
    // returned; set_protocol hands later data to the new protocol, plain or buffered (the
    // read path follows its kind), and get_protocol names it.
    let (lp, server, port) = loop_and_tls_echo_server();
    let (t, first) = recorder_over_tls(&lp, port);
    let made_with = first
        .borrow()
        .transport
        .clone()
        .expect("connection_made ran");
    assert!(made_with.ptr_eq(&t), "T6: one app transport");
    assert!(calls(&t, first.clone()), "T6: get_protocol");

    let second = Rc::new(RefCell::new(Recorder::default()));
    second.borrow_mut().calls.push("connection_made".into()); // it never gets one
    t.set_protocol(second.clone()).unwrap();
    assert!(
        calls(&t, second.clone()),
        "T6: get_protocol after set_protocol"
    );
    t.write(b"to the second\n").unwrap();
    util::run_until(&lp, 1000, || {
        second.borrow().data.len() + first.borrow().data.len() == 14
    });

    let third = Rc::new(RefCell::new(Collect::default()));
    t.set_protocol(third.clone()).unwrap();
    assert!(calls(&t, third.clone()));
    t.write(b"to the third\n").unwrap();
    util::run_until(&lp, 1000, || {
        let third = third.borrow();
        third.got.len() + third.plain == 13
    });
    assert_eq!(
        third.borrow().plain,
        0,
        "T6: a buffered protocol is fed through get_buffer"
    );
    assert_eq!(third.borrow().got, b"to the third\n");
    assert_eq!(second.borrow().data, b"to the second\n");
    assert!(first.borrow().data.is_empty(), "nothing went to the first");
    t.close();
    util::run_until(&lp, 1000, || server.connection_count() == 0);
    server.close();
}

#[test]
fn t34_after_loop_start_tls_the_old_transport_carries_the_new_one() {
    // Ports what test_start_tls_client_reg_proto_1 checks of the switch: the plain transport
    // lives on under the TLS one (its protocol is now the TLS layer, so what arrives is TLS
    // input), the original protocol gets decrypted data with no second connection_made,
    // and closing the TLS transport ends the plain one too.
    let lp = asyncio::EventLoop::new().unwrap();
    let server = lp
        .run_until_complete(asyncio::start_server(
            |reader: StreamReader, mut writer: StreamWriter| async move {
                writer.write(b"GO\n")?;
                writer.start_tls(Certs::get().server_config(&[])).await?;
                let line = reader.readline().await?;
                writer.write(&line)?;
                assert_eq!(reader.read(-1).await?, b"", "the client's close_notify");
                writer.close();
                writer.wait_closed().await
            },
            "127.0.0.1",
            0,
        ))
        .unwrap()
        .unwrap();
    let port = server.sockets()[0].as_inet().unwrap().port();
    let (raw, rec) = lp
        .run_until_complete(lp.create_connection(Recorder::default, "127.0.0.1", port))
        .unwrap()
        .unwrap();
    util::run_until(&lp, 1000, || rec.borrow().data == b"GO\n");
    let app: asyncio::ProtocolRef = rec.clone();
    let upgrade = lp
        .start_tls(&raw, app.clone(), Certs::get().client_config(&[]), false)
        .server_hostname("localhost");
    let tls = lp
        .run_until_complete(asyncio::timeout(BOUND, upgrade.into_future()))
        .unwrap()
        .unwrap()
        .unwrap();
    assert!(!tls.ptr_eq(&raw));
    assert!(
        calls(&tls, app.clone()),
        "the app protocol is the TLS transport's"
    );
    assert!(
        raw.get_protocol().is_some() && !calls(&raw, app),
        "T34: the plain transport now feeds the TLS layer"
    );
    assert!(!raw.is_closing(), "T34: the plain transport lives on");
    tls.write(b"ping\n").unwrap();
    util::run_until(&lp, 1000, || rec.borrow().data == b"GO\nping\n");
    tls.close();
    util::run_until(&lp, 1000, || rec.borrow().lost);
    assert_eq!(
        rec.borrow().grammar(),
        [
            "connection_made",
            "data",
            "eof_received",
            "connection_lost(None)"
        ],
        "T34: one connection_made, decrypted data to the same protocol"
    );
    util::run_until(&lp, 1000, || raw.get_protocol().is_none());
    assert!(
        raw.is_closing(),
        "T34: closing the TLS transport closed the plain one"
    );
    util::run_until(&lp, 1000, || server.connection_count() == 0);
    server.close();
}

#[test]
fn l79_l82_t17_the_tls_transport_answers_is_reading_and_get_protocol_as_the_socket_one_does() {
    // One `Transport` contract for both: `is_reading()` is "not closing and not paused", and
    // the protocol is let go at the loss. CPython 3.11 agrees on the second (its
    // `SSLProtocol.connection_lost` drops `_app_protocol`, so `get_protocol()` is None) but
    // its TLS transport answers `is_reading()` with the pause flag alone, True after close()
    // and after the loss, where its socket transport says False: we keep the socket's answer.
    run(async {
        let (tls_server, port) = tls_echo_server(&[]).await?;
        let plain_server = asyncio::start_server(echo, "127.0.0.1", 0).await?;
        let plain_port = plain_server.sockets()[0].as_inet().unwrap().port();
        let lp = asyncio::get_running_loop()?;
        let (tls, _) = lp
            .create_connection(Recorder::default, "127.0.0.1", port)
            .ssl(Certs::get().client_config(&[]))
            .server_hostname("localhost")
            .await?;
        let (plain, _) = lp
            .create_connection(Recorder::default, "127.0.0.1", plain_port)
            .await?;
        for (what, t) in [("tls", &tls), ("socket", &plain)] {
            assert!(t.is_reading(), "{what}: open");
            t.pause_reading();
            assert!(!t.is_reading(), "{what}: T17, L79: paused");
            t.resume_reading();
            assert!(t.is_reading(), "{what}: resumed");
            assert!(t.get_protocol().is_some(), "{what}: L52, T6");
            t.close();
            assert!(
                !t.is_reading(),
                "{what}: L79: a closing transport reads no more"
            );
            for _ in 0..10_000 {
                if t.get_protocol().is_none() {
                    break;
                }
                asyncio::yield_now().await; // the close completes on later turns
            }
            assert!(
                t.get_protocol().is_none(),
                "{what}: L82: released at the loss"
            );
            assert!(!t.is_reading(), "{what}: lost");
        }
        tls_server.close();
        plain_server.close();
        Ok(())
    });
}

#[test]
fn t19_with_ssl_the_reader_pauses_the_tls_transport() {
    // T19 with T17: a reader over open_connection(ssl) pauses the TLS app transport, whose
    // is_reading() then says so; reading resumes it.
    run(async {
        let server = asyncio::start_server(
            |r: StreamReader, w: StreamWriter| bulk_sender(r, w, false),
            "127.0.0.1",
            0,
        )
        .ssl(Certs::get().server_config(&[]))
        .await?;
        let port = server.sockets()[0].as_inet().unwrap().port();
        let (reader, writer) = open_tls(port).limit(1024).await?;
        until_paused(&reader).await;
        assert!(
            !writer.transport().is_reading(),
            "T19: the TLS app transport is the one paused"
        );
        assert_eq!(reader.readexactly(BULK).await?.len(), BULK);
        assert!(writer.transport().is_reading(), "S15: resumed");
        close_both(&writer, server).await
    });
}

#[test]
fn t19_s54_after_stream_start_tls_the_reader_pauses_the_raw_transport() {
    // T19 with S54: the reader keeps the transport connection_made gave it, so after
    // StreamWriter.start_tls its pause stops the raw socket transport, and the TLS
    // transport's own reading is never paused.
    run(async {
        let (server, reader, mut writer) = bulk_client_before_start_tls().await?;
        let raw = writer.transport().clone();
        let tls = writer
            .start_tls(Certs::get().client_config(&[]))
            .server_hostname("localhost")
            .await?;
        until_paused(&reader).await;
        assert!(!raw.is_reading(), "T19, S54: the raw transport is paused");
        assert!(tls.is_reading(), "T19, S54: the TLS transport is not");
        assert_eq!(reader.readexactly(BULK).await?.len(), BULK);
        assert!(raw.is_reading(), "S15: resumed");
        close_both(&writer, server).await
    });
}

fn text_of(v: Option<ExtraInfo>) -> Option<String> {
    match v {
        Some(ExtraInfo::Text(s)) => Some(s),
        other => panic!("expected a text value, got {other:?}"),
    }
}

#[test]
fn t40_t41_sslcontext_and_ssl_object_as_the_port_reports_them() {
    // Python's SSLContext and SSLObject. T40: the TlsContext handle (`tls_context()`) is the
    // configuration given to ssl(..), client or server; 'sslcontext' names its type as text.
    // T41: `tls_info()` is a read-only snapshot of what the handshake settled (version,
    // cipher, ALPN, SNI, the peer chain), 'ssl_object' its text form; both agree with the
    // typed accessors and outlive the connection. Neither exists without TLS (S58's over-TLS
    // test).
    run(async {
        let certs = Certs::get();
        let server_config = certs.server_config(&[b"h2", b"http/1.1"]);
        let client_config = certs.client_config(&[b"http/1.1"]);
        let server_side: Rc<RefCell<Vec<Option<String>>>> = Rc::default();
        let server_typed: Rc<RefCell<Option<(asyncio::TlsContext, asyncio::TlsInfo)>>> =
            Rc::default();
        let (seen, typed) = (server_side.clone(), server_typed.clone());
        let server = asyncio::start_server(
            move |reader: StreamReader, writer: StreamWriter| {
                let t = writer.transport();
                seen.borrow_mut().extend([
                    text_of(t.get_extra_info("sslcontext")),
                    text_of(t.get_extra_info("ssl_object")),
                ]);
                *typed.borrow_mut() = t.tls_context().zip(writer.tls_info());
                echo(reader, writer)
            },
            "127.0.0.1",
            0,
        )
        .ssl(server_config.clone())
        .await?;
        let port = server.sockets()[0].as_inet().unwrap().port();
        let (reader, writer) = asyncio::open_connection("127.0.0.1", port)
            .ssl(client_config.clone())
            .server_hostname("localhost")
            .await?;
        let t = writer.transport().clone();
        match t.tls_context() {
            Some(asyncio::TlsContext::Client(c)) => {
                assert!(
                    std::sync::Arc::ptr_eq(&c, &client_config),
                    "T40: the configuration given"
                )
            }
            other => panic!("T40: {other:?}"),
        }
        let info = writer.tls_info().expect("T41: a TLS stream");
        assert_eq!(Some(info.version().to_string()), t.tls_version(), "T41");
        assert_eq!(Some(info.cipher().to_string()), t.cipher_suite(), "T41");
        assert!(info.cipher_bits() >= 128, "T41: {}", info.cipher_bits());
        assert_eq!(info.selected_alpn_protocol(), Some(&b"http/1.1"[..]), "T41");
        assert_eq!(info.server_hostname(), Some("localhost"), "T41");
        assert_eq!(
            info.peer_certificates(),
            t.peer_certificates().as_slice(),
            "T41"
        );
        assert_eq!(info.peer_certificates().len(), 1, "T41: the server's leaf");
        assert!(!info.session_reused(), "T41: a first connection");
        assert_eq!(
            text_of(t.get_extra_info("sslcontext")).as_deref(),
            Some("rustls::ClientConfig"),
            "T40"
        );
        let snapshot = text_of(t.get_extra_info("ssl_object")).unwrap();
        let (version, cipher) = (t.tls_version().unwrap(), t.cipher_suite().unwrap());
        assert!(
            snapshot.starts_with(&format!("{version} {cipher} ("))
                && snapshot.contains(" alpn=http/1.1")
                && snapshot.contains(" server_name=localhost")
                && snapshot.contains(" peer_certificates=1"),
            "T41: {snapshot}"
        );
        writer.write(b"ping\n")?;
        assert_eq!(reader.readline().await?, b"ping\n");
        writer.close();
        writer.wait_closed().await?;
        assert_eq!(
            text_of(t.get_extra_info("ssl_object")).as_deref(),
            Some(snapshot.as_str()),
            "T41: the snapshot outlives the connection"
        );
        assert_eq!(
            t.tls_info().map(|i| i.to_string()),
            Some(snapshot.clone()),
            "T41: the typed snapshot outlives the connection too"
        );
        let server_side = server_side.borrow().clone();
        assert_eq!(
            server_side[0].as_deref(),
            Some("rustls::ServerConfig"),
            "T40"
        );
        match server_typed.borrow_mut().take() {
            Some((asyncio::TlsContext::Server(c), info)) => {
                assert!(
                    std::sync::Arc::ptr_eq(&c, &server_config),
                    "T40: the server's configuration"
                );
                assert_eq!(
                    info.server_hostname(),
                    Some("localhost"),
                    "T41: the SNI received"
                );
                assert!(
                    info.peer_certificates().is_empty(),
                    "T41: no client certificate"
                );
            }
            other => panic!("T40/T41 on the server: {other:?}"),
        }
        let theirs = server_side[1].clone().unwrap();
        assert!(
            theirs.contains(" alpn=http/1.1")
                && theirs.contains(" server_name=localhost")
                && theirs.contains(" peer_certificates=0"),
            "T41: the server's view: SNI received, no client certificate: {theirs}"
        );
        server.close();
        server.wait_closed().await;

        let (a, b) = asyncio::socketpair()?;
        let (_r, plain) = asyncio::open_connection_sock(a).await?;
        assert!(plain.get_extra_info("sslcontext").is_none(), "T40: no TLS");
        assert!(plain.get_extra_info("ssl_object").is_none(), "T41: no TLS");
        assert!(plain.tls_info().is_none() && plain.transport().tls_context().is_none());
        plain.close();
        drop(b);
        Ok(())
    });
}

// L94, T12, D12-style: a TLS create_connection dropped during its handshake (here: the server
// accepts but never answers) closes the raw transport and keeps its caller's waker no longer:
// the close must not wake a task that has stopped waiting. The handshake waiter used to keep
// the waker and wake it when the closing transport failed the handshake.
#[test]
fn t12_a_dropped_tls_create_connection_keeps_and_wakes_no_waker() {
    let lp = asyncio::EventLoop::new().unwrap();
    let listener = TcpListener::bind("127.0.0.1:0").unwrap();
    listener.set_nonblocking(true).unwrap();
    let port = listener.local_addr().unwrap().port();
    let probe = util::Probe::new();
    let peer: RefCell<Option<std::net::TcpStream>> = RefCell::new(None);
    let handle = lp.handle();
    // Polled once per loop turn until the server holds the ClientHello: the client then waits
    // for the handshake. Bounded: 100 000 turns.
    let hello_sent = || {
        if peer.borrow().is_none() {
            *peer.borrow_mut() = listener.accept().ok().map(|(s, _)| {
                s.set_nonblocking(true).unwrap(); // peek must not block the loop
                s
            });
        }
        let mut buf = [0u8; 1];
        peer.borrow()
            .as_ref()
            .is_some_and(|s| s.peek(&mut buf).is_ok_and(|n| n > 0))
    };
    let woken_before_drop = lp
        .run_until_complete(asyncio::timeout(BOUND, async {
            let conn = handle
                .create_connection(Recorder::default, "127.0.0.1", port)
                .ssl(Certs::get().client_config(&[]))
                .server_hostname("localhost");
            let mut fut = std::pin::pin!(conn.into_future());
            let mut turns = 0;
            std::future::poll_fn(|cx| {
                assert!(probe.poll(fut.as_mut()).is_pending(), "finished early");
                turns += 1;
                assert!(turns < 100_000, "no ClientHello after {turns} turns");
                if hello_sent() {
                    return std::task::Poll::Ready(());
                }
                cx.waker().wake_by_ref(); // look again next turn
                std::task::Poll::Pending
            })
            .await;
            probe.woken()
        }))
        .unwrap()
        .expect("the ClientHello arrives");
    for _ in 0..3 {
        lp.run_once(Some(Duration::ZERO)).unwrap();
    }
    assert_eq!(
        probe.woken(),
        woken_before_drop,
        "a dropped connect woke its caller"
    );
    assert_eq!(std::sync::Arc::strong_count(&probe), 1, "the waker is kept");
    assert_eq!(
        lp.stats().io_registrations,
        0,
        "the raw transport is closed"
    );
}

// L94, T12: a TLS create_connection dropped after its handshake, once the app's connection_made
// ran and wrote, before it returned, closes the app transport as CPython's
// `except: transport.close()` does: what the app wrote is sent, then close_notify. It used to
// abort the raw transport: what was still queued was dropped, and no close_notify was sent.
#[test]
fn t12_a_tls_create_connection_dropped_after_connection_made_sends_what_it_wrote() {
    const SENT: usize = 8 << 20;
    let lp = asyncio::EventLoop::new().unwrap();
    let listener = TcpListener::bind("127.0.0.1:0").unwrap();
    let port = listener.local_addr().unwrap().port();
    let (start_reading, wait_to_read) = std::sync::mpsc::channel::<()>();
    // A blocking rustls server: the handshake, then (once told) plaintext until close_notify,
    // answered with its own. Returns the bytes it got.
    let peer = std::thread::spawn(move || -> Result<usize, String> {
        let (mut tcp, _) = listener.accept().map_err(|e| e.to_string())?;
        tcp.set_read_timeout(Some(BOUND))
            .map_err(|e| e.to_string())?;
        let config = Certs::get().server_config(&[]);
        let mut conn = rustls::ServerConnection::new(config).map_err(|e| e.to_string())?;
        plaintext_until_close_notify(&mut conn, &mut tcp, &wait_to_read)
    });
    let (rec, made) = Recorder::writing_on_made(SENT);
    let conn = lp
        .create_connection(move || rec, "127.0.0.1", port)
        .ssl(Certs::get().client_config(&[]))
        .server_hostname("localhost");
    let (t, _) = util::drop_once_made(&lp, conn, &made);
    assert!(
        t.is_closing(),
        "the dropped connect left its transport open"
    );
    start_reading.send(()).unwrap();
    util::run_until(&lp, 10_000, || lp.stats().io_registrations == 0);
    let got = peer.join().unwrap();
    assert_eq!(
        got,
        Ok(SENT),
        "the peer got what connection_made wrote, then close_notify"
    );
}

// L95, L94, T12: connect_accepted_socket over TLS (the server side) dropped once the app's
// connection_made has run and written, before it returned, ends as CPython's
// `except: transport.close()` around its waiter does: the app transport closes, so the peer
// gets what connection_made wrote, then close_notify. Over 127.0.0.1 and ::1.
#[test]
fn t37_l94_a_tls_connect_accepted_socket_dropped_after_connection_made_sends_what_it_wrote() {
    for host in ["127.0.0.1", "::1"] {
        accepted_tls_dropped_after_connection_made(host);
    }
}

/// A connected pair of TCP streams on `host`: ours (accepted), the peer's. `None` where `host`
/// cannot be bound (no IPv6).
fn accepted_pair(host: &str) -> Option<(std::net::TcpStream, std::net::TcpStream)> {
    let listener = match TcpListener::bind((host, 0)) {
        Ok(l) => l,
        Err(e) => {
            println!("skipped {host}: {e}");
            return None;
        }
    };
    let peer = std::net::TcpStream::connect(listener.local_addr().unwrap()).unwrap();
    let (accepted, _) = listener.accept().unwrap();
    Some((accepted, peer))
}

fn accepted_tls_dropped_after_connection_made(host: &str) {
    const SENT: usize = 8 << 20;
    let Some((accepted, mut tcp)) = accepted_pair(host) else {
        return;
    };
    let lp = asyncio::EventLoop::new().unwrap();
    let (start_reading, wait_to_read) = std::sync::mpsc::channel::<()>();
    // A blocking rustls client: the handshake, then (once told) plaintext until close_notify,
    // answered with its own. Returns the bytes it got.
    let peer = std::thread::spawn(move || -> Result<usize, String> {
        tcp.set_read_timeout(Some(BOUND))
            .map_err(|e| e.to_string())?;
        let name = rustls::pki_types::ServerName::try_from("localhost").unwrap();
        let config = Certs::get().client_config(&[]);
        let mut conn = rustls::ClientConnection::new(config, name).map_err(|e| e.to_string())?;
        plaintext_until_close_notify(&mut conn, &mut tcp, &wait_to_read)
    });
    let made: Rc<RefCell<Option<Transport>>> = Rc::default();
    let m = made.clone();
    let rec = Recorder {
        on_made: Some(Box::new(move |t: &Transport| {
            t.write(&vec![7u8; SENT]).unwrap();
            *m.borrow_mut() = Some(t.clone());
        })),
        ..Default::default()
    };
    let probe = util::Probe::new();
    let handle = lp.handle();
    lp.run_until_complete(async {
        let serve = handle
            .connect_accepted_socket(move || rec, accepted)
            .ssl(Certs::get().server_config(&[]));
        let mut fut = std::pin::pin!(serve.into_future());
        // Dropped once connection_made has run, before its result reaches it.
        probe
            .poll_each_turn(fut.as_mut(), || made.borrow().is_some())
            .await;
    })
    .unwrap();
    let t = made.borrow_mut().take().unwrap();
    assert!(
        t.is_closing(),
        "{host}: the dropped call left its transport open"
    );
    start_reading.send(()).unwrap();
    util::run_until(&lp, 10_000, || lp.stats().io_registrations == 0);
    let got = peer.join().unwrap();
    assert_eq!(
        got,
        Ok(SENT),
        "{host}: the peer got what connection_made wrote, then close_notify"
    );
}

/// A blocking rustls peer's side after its `conn` is set up over `tcp`: the handshake, then
/// (once told through `wait_to_read`) plaintext until close_notify, answered with its own.
/// The bytes it got, or what went wrong and after how many bytes.
fn plaintext_until_close_notify<D>(
    conn: &mut rustls::ConnectionCommon<D>,
    tcp: &mut std::net::TcpStream,
    wait_to_read: &std::sync::mpsc::Receiver<()>,
) -> Result<usize, String> {
    use std::io::{Read, Write};
    while conn.is_handshaking() {
        conn.complete_io(tcp).map_err(|e| e.to_string())?;
    }
    wait_to_read
        .recv_timeout(BOUND)
        .map_err(|e| e.to_string())?;
    let mut got = 0;
    let mut buf = vec![0u8; 64 * 1024];
    loop {
        match conn.reader().read(&mut buf) {
            Ok(0) => break, // close_notify
            Ok(n) => got += n,
            Err(e) if e.kind() == io::ErrorKind::WouldBlock => {
                let (read, _) = conn.complete_io(tcp).map_err(|e| e.to_string())?;
                if read == 0 {
                    return Err(format!("EOF without close_notify after {got} bytes"));
                }
            }
            Err(e) => return Err(format!("{e} after {got} bytes")),
        }
    }
    conn.send_close_notify();
    conn.complete_io(tcp).map_err(|e| e.to_string())?;
    tcp.flush().map_err(|e| e.to_string())?;
    Ok(got)
}
