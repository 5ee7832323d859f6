//! TLS over a live stream (issue #5, Part T): start_tls mid-stream and its side rules, a handler
//! failing after it, and flow control (16 MiB both ways, write pauses through the layer).
//! Certificates are made at test time (`tls_common`).
//! Every wait is bounded by `asyncio::timeout`.
#![cfg(feature = "tls")]

mod tls_common;
mod tls_helpers;
mod util;

use std::cell::RefCell;
use std::io;
use std::rc::Rc;

use asyncio::{Error, ExtraInfo, StreamReader, StreamWriter};
use tls_common::{tls_peer_on, Certs};
use tls_helpers::{
    close_both, echo, open_tls, recorder_over_tls, run, small_window_listener, tls_echo_server,
    BOUND,
};
use util::Recorder;

/// S60, D7, D9: a server handler that fails after `StreamWriter::start_tls` (returns an
/// error or panics, its writer dropped with it or kept elsewhere) ends its connection through
/// the TLS layer, as `writer.close()` would: the client reads a clean end (close_notify), not
/// a bare TCP EOF, which is a truncation.
#[test]
fn s60_a_handler_failing_after_start_tls_closes_with_close_notify() {
    for how in ["error", "panic", "error, writer kept", "panic, writer kept"] {
        run(async move {
            let lp = asyncio::get_running_loop()?;
            let reports = util::capture_exceptions(&lp);
            let kept: Rc<RefCell<Option<StreamWriter>>> = Rc::default();
            let k = kept.clone();
            let server = asyncio::start_server(
                move |_r: StreamReader, mut w: StreamWriter| {
                    let k = k.clone();
                    async move {
                        // The client starts TLS once it has this line: no ClientHello can
                        // come before our start_tls and be read as plaintext.
                        w.write(b"ready\n")?;
                        w.start_tls(Certs::get().server_config(&[])).await?;
                        if how.ends_with("writer kept") {
                            *k.borrow_mut() = Some(w); // no unclosed-writer close on the way out
                        }
                        if how.starts_with("panic") {
                            panic!("the handler panics after start_tls");
                        }
                        Err::<(), Error>(Error::Io(io::Error::other("the handler fails")))
                    }
                },
                "127.0.0.1",
                0,
            )
            .await?;
            let port = server.sockets()[0].as_inet().unwrap().port();
            let (reader, mut writer) = asyncio::open_connection("127.0.0.1", port).await?;
            assert_eq!(reader.readline().await?, b"ready\n");
            writer
                .start_tls(Certs::get().client_config(&[]))
                .server_hostname("localhost")
                .ssl_require_close_notify(true)
                .await?;
            let end = reader.read(-1).await;
            assert!(
                matches!(end, Ok(ref b) if b.is_empty()),
                "{how}: the client saw {end:?}, not a clean TLS end"
            );
            assert!(writer.transport().close_notify_received(), "{how}");
            assert_eq!(reports.borrow().len(), 1, "{how}: {:?}", reports.borrow());
            writer.close();
            kept.borrow_mut().take();
            server.close();
            Ok(())
        });
    }
}

#[test]
fn t35_start_tls_on_a_closing_transport_fails_at_once() {
    run(async {
        let (server, port) = tls_echo_server(&[]).await?;
        let (_reader, mut writer) = asyncio::open_connection("127.0.0.1", port).await?;
        writer.close();
        let e = writer
            .start_tls(Certs::get().client_config(&[]))
            .await
            .expect_err("T35");
        // Draining a closed writer may already report the loss (S49); either way, no hang.
        assert!(
            matches!(&e, Error::InvalidState(m) if m == "transport is closing")
                || e.kind() == io::ErrorKind::ConnectionReset,
            "{e:?}"
        );
        let lp = asyncio::get_running_loop()?;
        let t = writer.transport().clone();
        let p: asyncio::ProtocolRef = Rc::new(RefCell::new(Recorder::default()));
        let e = lp
            .start_tls(&t, p, Certs::get().client_config(&[]), false)
            .await
            .expect_err("T35");
        assert!(
            matches!(&e, Error::InvalidState(m) if m == "transport is closing"),
            "{e:?}"
        );
        server.close();
        server.wait_closed().await;
        Ok(())
    });
}

#[test]
fn t32_start_tls_side_must_match_the_configuration() {
    run(async {
        let (server, port) = tls_echo_server(&[]).await?;
        let lp = asyncio::get_running_loop()?;
        let (t, _p) = lp
            .create_connection(Recorder::default, "127.0.0.1", port)
            .await?;
        let p: asyncio::ProtocolRef = Rc::new(RefCell::new(Recorder::default()));
        let e = lp
            .start_tls(&t, p, Certs::get().client_config(&[]), true)
            .await
            .expect_err("T2: server side needs a ServerConfig");
        assert!(matches!(e, Error::InvalidArgument(_)), "{e:?}");
        t.close();
        server.close();
        server.wait_closed().await;
        Ok(())
    });
}

/// T32; CPython: BaseEventLoop.start_tls raises TypeError('transport <...> is not supported
/// by start_tls()') for a transport without `_start_tls_compatible` (pipes), before it builds
/// the layer or touches the transport. A pipe has no peer to shake hands with: the upgrade
/// used to be accepted and wait for the whole handshake timeout (the ClientHello written into
/// the pipe, or refused by a read pipe), then close the pipe. Checked against the old code.
#[test]
fn t32_start_tls_refuses_a_pipe_transport_at_once() {
    run(async {
        let lp = asyncio::get_running_loop()?;
        for write in [true, false] {
            let (r, w) = util::os_pipe();
            let (t, _keep) = if write {
                let (t, p) = lp.connect_write_pipe(Recorder::default, w).await?;
                (t, (p, Some(r), None))
            } else {
                let (t, p) = lp.connect_read_pipe(Recorder::default, r).await?;
                (t, (p, None, Some(w)))
            };
            let p: asyncio::ProtocolRef = Rc::new(RefCell::new(Recorder::default()));
            let upgrade = lp.start_tls(&t, p, Certs::get().client_config(&[]), false);
            let upgrade = std::future::IntoFuture::into_future(upgrade);
            let e = asyncio::timeout(std::time::Duration::from_secs(2), upgrade)
                .await
                .expect("T32: refused at once, not at the handshake timeout")
                .expect_err("T32: a pipe cannot carry TLS");
            assert!(
                matches!(&e, Error::InvalidArgument(m)
                    if m.starts_with("transport <") && m.ends_with("> is not supported by start_tls()")),
                "write pipe {write}: {e:?}"
            );
            assert!(!t.is_closing(), "T32: the pipe is left as it was");
            t.close();
        }
        Ok(())
    });
}

#[test]
fn t13_t14_t17_16_mib_both_ways_with_drain() {
    const TOTAL: usize = 16 << 20;
    fn byte(i: usize) -> u8 {
        (i % 251) as u8
    }
    run(async {
        let (server, port) = tls_echo_server(&[]).await?;
        let (reader, writer) = open_tls(port).await?;
        let writer = Rc::new(writer);
        let w = writer.clone();
        let sending = asyncio::spawn(async move {
            let chunk: Vec<u8> = (0..TOTAL).map(byte).collect();
            for part in chunk.chunks(256 * 1024) {
                w.write(part)?;
                w.drain().await?;
            }
            Ok::<_, Error>(())
        });
        let mut got = 0usize;
        let mut buf = vec![0u8; 64 * 1024];
        while got < TOTAL {
            let n = reader.read_into(&mut buf).await?;
            assert!(n > 0, "EOF after {got} bytes");
            for (k, &b) in buf[..n].iter().enumerate() {
                assert_eq!(b, byte(got + k), "byte {} differs", got + k);
            }
            got += n;
        }
        sending.await.expect("not cancelled")?;
        close_both(&writer, server).await
    });
}

#[test]
fn t13_t14_t15_write_flow_control_passes_through_the_layer() {
    // A TLS peer that completes the handshake, then stops reading until told; its small
    // receive buffer (no autotuning) keeps what the kernels absorb well below 16 MiB.
    let lp = asyncio::EventLoop::new().unwrap();
    let (t, proto, go, peer) = recorder_to_a_late_reader(&lp, true);
    let (low, high) = t.get_write_buffer_limits();
    assert_eq!((low, high), (128 * 1024, 512 * 1024), "T14: the TLS marks");
    t.write(&vec![7u8; 16 << 20]).unwrap();
    assert_eq!(
        proto.borrow().calls.last().map(String::as_str),
        Some("pause_writing"),
        "T14, T15: the raw transport paused us, our buffer passed the high mark"
    );
    assert!(
        t.get_write_buffer_size() >= high,
        "T13: held ciphertext counts: {}",
        t.get_write_buffer_size()
    );
    go.send(()).unwrap();
    util::run_until(&lp, 100_000, || {
        proto.borrow().calls.iter().any(|c| c == "resume_writing")
    });
    assert!(
        t.get_write_buffer_size() <= low,
        "T14: resumed at the low mark"
    );
    t.abort();
    util::run_until(&lp, 1000, || proto.borrow().lost);
    assert_eq!(
        proto.borrow().grammar(),
        [
            "connection_made",
            "pause_writing",
            "resume_writing",
            "connection_lost(None)"
        ],
        "T26: abort gives connection_lost(None)"
    );
    peer.join().unwrap();
}

#[test]
fn alpn_negotiated_on_both_sides() {
    run(async {
        let certs = Certs::get();
        let seen = Rc::new(RefCell::new(None));
        let s = seen.clone();
        let server = asyncio::start_server(
            move |reader: StreamReader, writer: StreamWriter| {
                *s.borrow_mut() = writer.transport().alpn_protocol();
                async move { echo(reader, writer).await }
            },
            "127.0.0.1",
            0,
        )
        .ssl(certs.server_config(&[b"h2", b"http/1.1"]))
        .await?;
        let port = server.sockets()[0].as_inet().unwrap().port();
        let (_reader, writer) = asyncio::open_connection("127.0.0.1", port)
            .ssl(certs.client_config(&[b"http/1.1"]))
            .await?;
        assert_eq!(
            writer.transport().alpn_protocol().as_deref(),
            Some(&b"http/1.1"[..])
        );
        assert!(
            matches!(writer.get_extra_info("alpn_protocol"), Some(ExtraInfo::Text(a)) if a == "http/1.1")
        );
        writer.close();
        writer.wait_closed().await?;
        assert_eq!(seen.borrow().as_deref(), Some(&b"http/1.1"[..]));
        server.close();
        server.wait_closed().await;
        Ok(())
    });
}

/// S53: `StreamWriter::start_tls` drains first, and the drain looked at the stream's protocol
/// with a plain borrow: a user holding that protocol (`get_protocol()`, borrowed mutably
/// across an `.await`) made it panic ('already mutably borrowed'). The drain now waits for
/// the borrow to end, as the transport waits for a held protocol, and the upgrade completes.
#[test]
#[allow(clippy::await_holding_refcell_ref)] // holding the stream's protocol: the misuse tested
fn s53_stream_start_tls_begun_while_the_streams_protocol_is_held_waits_for_it() {
    run(async {
        let (server, reader, mut writer, proto) = tls_helpers::go_then_start_tls(None).await?;
        let probe = util::Probe::new();
        let tls = {
            let mut upgrade = std::pin::pin!(std::future::IntoFuture::into_future(
                writer
                    .start_tls(Certs::get().client_config(&[]))
                    .server_hostname("localhost")
            ));
            let held = proto.borrow_mut();
            assert!(probe.poll(upgrade.as_mut()).is_pending(), "the drain waits");
            for _ in 0..3 {
                asyncio::yield_now().await;
            }
            assert!(probe.poll(upgrade.as_mut()).is_pending(), "still held");
            let before = probe.woken();
            drop(held);
            for _ in 0..10_000 {
                if probe.woken() > before {
                    break;
                }
                asyncio::yield_now().await;
            }
            assert!(probe.woken() > before, "the release wakes the drain");
            asyncio::timeout(BOUND, upgrade).await??
        };
        assert_eq!(tls.tls_version().as_deref(), Some("TLSv1.3"), "upgraded");
        assert_eq!(reader.read(-1).await?, b"over tls");
        close_both(&writer, server).await
    });
}

/// The loop closing while the layer still holds application bytes (ciphertext the paused raw
/// transport was not handed): they are dropped with the layer, and said once, in the words
/// the raw transport uses for its own unsent bytes, with the count. Before, silently.
/// The raw transport, which paused the layer, holds bytes too: one line says both (the
/// layer speaks for its raw transport), not one line each for one connection (checked by
/// reverting: a 'transport 1' line and a 'TLS transport 1' line).
// Checklist: L16 (close() discards what was queued: said once, not silently).
#[test]
fn bytes_the_layer_holds_when_the_loop_closes_are_warned_about_once() {
    tls_helpers::faults::capture_log::start();
    let lp = asyncio::EventLoop::new().unwrap();
    let (t, proto, go, peer) = recorder_to_a_late_reader(&lp, true);
    t.write(&vec![7u8; 16 << 20]).unwrap();
    assert_eq!(
        proto.borrow().calls.last().map(String::as_str),
        Some("pause_writing"),
        "the raw transport paused the layer"
    );
    let held = t.get_write_buffer_size();
    assert!(held > 0, "the layer holds bytes");
    lp.close().unwrap();
    drop(go); // the peer reads to our EOF
    let mut lines = tls_helpers::faults::capture_log::lines("");
    lines.retain(|l| l.contains("still to send"));
    assert_eq!(lines.len(), 1, "one connection, one line: {lines:?}");
    assert!(lines[0].starts_with("TLS transport"), "{lines:?}");
    // The layer's bytes, and the raw transport's (above its high-water mark, as it paused
    // the layer): more than the layer's alone.
    let said: usize = lines[0]
        .split("the event loop closed with ")
        .nth(1)
        .and_then(|rest| rest.split(' ').next())
        .and_then(|n| n.parse().ok())
        .unwrap_or_else(|| panic!("no count: {lines:?}"));
    assert!(
        said > held,
        "{held} bytes in the layer, said {said}: {lines:?}"
    );
    assert!(
        lines[0].contains("bytes still to send, dropped"),
        "{lines:?}"
    );
    assert!(lines[0].contains("wait_closed()"), "{lines:?}");
    peer.join().unwrap();
}

/// T14, L49: an app protocol whose pause_writing or resume_writing panics over TLS is reported
/// with CPython's keys and values (sslproto.py `_control_app_writing`): the message, the
/// exception, the app transport ('transport', whose id is the raw transport's) and the TLS
/// layer as the 'protocol' (`'protocol': self`, the SSLProtocol), not the app protocol; the
/// connection goes on. It named the app protocol, as a plain transport's report does.
#[test]
fn t14_a_failed_pause_or_resume_writing_over_tls_names_the_layer_as_the_protocol() {
    #[derive(Default)]
    struct Failing {
        lost: bool,
    }
    impl asyncio::Protocol for Failing {
        fn pause_writing(&mut self) {
            panic!("boom-pause");
        }
        fn resume_writing(&mut self) {
            panic!("boom-resume");
        }
        fn connection_lost(&mut self, _: Option<io::Error>) {
            self.lost = true;
        }
    }
    type Seen = Rc<RefCell<Vec<(String, String, Vec<(&'static str, String)>)>>>;
    let (port, go, peer) = late_reader(true);
    let lp = asyncio::EventLoop::new().unwrap();
    let seen: Seen = Rc::default();
    let s = seen.clone();
    lp.set_exception_handler(Some(
        move |_: &asyncio::LoopHandle, ctx: &asyncio::ExceptionContext| {
            let exc = ctx.exception.as_ref().map(|e| e.to_string());
            let details = ctx.details.clone();
            s.borrow_mut()
                .push((ctx.message.clone(), exc.unwrap_or_default(), details));
        },
    ));
    let connect = lp
        .create_connection(Failing::default, "127.0.0.1", port)
        .ssl(Certs::get().client_config(&[]))
        .server_hostname("localhost");
    let (t, proto) = tls_helpers::connected(&lp, connect);
    t.write(&vec![7u8; 16 << 20]).unwrap(); // the peer does not read yet: paused
    go.send(()).unwrap();
    util::run_until(&lp, 100_000, || seen.borrow().len() >= 2);
    let layer = "asyncio::tls::protocol::TlsProtocol";
    let expected = |what: &str| {
        (
            format!("protocol.{what}_writing() failed"),
            format!("panicked: boom-{what}"),
            vec![
                ("transport", t.id().to_string()),
                ("protocol", format!("<{layer} object>")),
            ],
        )
    };
    assert_eq!(*seen.borrow(), [expected("pause"), expected("resume")]);
    assert!(!t.is_closing(), "L49: the connection goes on");
    t.abort();
    util::run_until(&lp, 1000, || proto.borrow().lost);
    peer.join().unwrap();
}

/// The same one line when the TLS layer's raw transport is the PROXY layer's facade (a
/// server with `proxy_protocol` and `ssl`): the facade hands the layer its socket's dropped
/// bytes, so the socket does not say them a second time. Before, two lines for the one
/// connection, 'transport N' and 'TLS transport N' (checked by reverting the fix).
// Checklist: L16 (close() discards what was queued: said once, not silently).
#[test]
fn bytes_dropped_at_loop_close_behind_a_proxy_header_are_warned_about_once() {
    use asyncio::ProxyProtocol;
    tls_helpers::faults::capture_log::start();
    let lp = asyncio::EventLoop::new().unwrap();
    let kept: Rc<RefCell<Option<StreamWriter>>> = Rc::default();
    let k = kept.clone();
    let handler = move |_r: StreamReader, w: StreamWriter| {
        let k = k.clone();
        async move {
            // The client never reads: the raw transport pauses the layer, which keeps the rest.
            w.write(&vec![7u8; 16 << 20])?;
            *k.borrow_mut() = Some(w);
            Ok::<_, Error>(())
        }
    };
    let serve = asyncio::start_server(handler, "127.0.0.1", 0)
        .proxy_protocol(ProxyProtocol::Required)
        .ssl(Certs::get().server_config(&[]));
    let server = lp.run_until_complete(serve).unwrap().unwrap();
    let port = util::port_of(&server);
    let sock = std::net::TcpStream::connect(("127.0.0.1", port)).unwrap();
    socket2::SockRef::from(&sock)
        .set_recv_buffer_size(64 * 1024)
        .unwrap();
    io::Write::write_all(&mut &sock, b"PROXY TCP4 192.0.2.1 198.51.100.7 7 443\r\n").unwrap();
    let connect = asyncio::open_connection_sock(sock)
        .ssl(Certs::get().client_config(&[]))
        .server_hostname("localhost");
    let client = tls_helpers::connected(&lp, connect);
    tls_helpers::turn_until(&lp, "the handler's write", || kept.borrow().is_some());
    let held = kept
        .borrow()
        .as_ref()
        .map_or(0, |w| w.transport().get_write_buffer_size());
    assert!(held > 0, "the layer holds bytes");
    lp.close().unwrap();
    let mut lines = tls_helpers::faults::capture_log::lines("");
    lines.retain(|l| l.contains("still to send"));
    assert_eq!(lines.len(), 1, "one connection, one line: {lines:?}");
    assert!(lines[0].starts_with("TLS transport"), "{lines:?}");
    drop((client, kept, server));
}

/// T26, L49: after `abort()` a TLS transport reports writing no longer paused at once, as the
/// socket transport does (its state is lost from the abort on; the protocol hears no more of
/// writing), not only once `connection_lost` has run. After `close()` both still flush, and
/// both still report the pause. The TLS layer said `writing_paused: true` until its
/// connection_lost (checked: with the fix taken out, the TLS assertion after abort fails).
#[test]
fn t26_writing_paused_ends_at_abort_as_on_the_socket_transport() {
    for tls in [false, true] {
        let lp = asyncio::EventLoop::new().unwrap();
        let (t, proto, go, peer) = recorder_to_a_late_reader(&lp, tls);
        t.write(&vec![7u8; 16 << 20]).unwrap(); // the peer does not read: paused
        assert!(t.buffer_info().writing_paused, "tls {tls}: paused");
        t.close();
        assert!(t.is_closing());
        assert!(
            t.buffer_info().writing_paused,
            "tls {tls}: still flushing after close()"
        );
        t.abort();
        assert!(
            !t.buffer_info().writing_paused,
            "tls {tls}: writing paused after abort(): {:?}",
            t.buffer_info()
        );
        assert!(!proto.borrow().lost, "connection_lost has not run yet");
        go.send(()).unwrap();
        util::run_until(&lp, 1000, || proto.borrow().lost);
        assert!(!t.buffer_info().writing_paused);
        peer.join().unwrap();
    }
}

/// T26, T13, T14: what a TLS transport answers after `abort()`, next to the socket transport.
/// CPython 3.11 (probed, `scratch/s25/probes/tlswords/abort_probe.py`: 100 MiB written to a TLS peer that
/// does not read, then `abort()`): the layer's buffers are dropped (its `connection_lost`
/// empties them; `get_write_buffer_size()` 99748480 before, 0 after), the marks are kept
/// (`(262144, 1048576)` throughout), and no `resume_writing` follows. Ours dropped nothing
/// until connection_lost: the size after `abort()` was the 16 MiB held while
/// `writing_paused` already said false, and a `set_write_buffer_limits` then delivered a
/// `resume_writing` to an aborted protocol (checked: with the fix taken out, the size and the
/// resume assertions fail). Now the size is 0 from `abort()` on, as on the socket transport.
/// `is_reading()` says false after abort, ours by design (`Transport::is_reading`, L79).
#[test]
fn t26_t13_an_aborted_tls_transport_holds_nothing_and_keeps_its_marks() {
    for tls in [false, true] {
        let lp = asyncio::EventLoop::new().unwrap();
        let (t, proto, go, peer) = recorder_to_a_late_reader(&lp, tls);
        t.set_write_buffer_limits(Some(1 << 20), None).unwrap();
        t.write(&vec![7u8; 16 << 20]).unwrap(); // the peer does not read: held
        let before = t.buffer_info();
        assert!(before.writing_paused, "tls {tls}: {before:?}");
        assert!(t.get_write_buffer_size() > 1 << 20, "tls {tls}: {before:?}");
        t.abort();
        let after = |what: &str| {
            assert_eq!(t.get_write_buffer_size(), 0, "tls {tls}, {what}");
            assert_eq!(
                t.get_write_buffer_limits(),
                (1 << 18, 1 << 20),
                "tls {tls}, {what}"
            );
            assert!(!t.is_reading(), "tls {tls}, {what}");
            assert!(!t.buffer_info().writing_paused, "tls {tls}, {what}");
        };
        after("at abort()");
        // Marks set after abort: nothing is buffered, yet the protocol hears no resume.
        t.set_write_buffer_limits(Some(1 << 20), None).unwrap();
        assert!(!proto.borrow().lost, "connection_lost has not run yet");
        go.send(()).unwrap();
        util::run_until(&lp, 1000, || proto.borrow().lost);
        after("after connection_lost");
        let calls = proto.borrow().calls.clone();
        assert!(
            !calls.iter().any(|c| c == "resume_writing"),
            "tls {tls}: {calls:?}"
        );
        peer.join().unwrap();
    }
}

/// A peer behind a small window (`small_window_listener`) that reads nothing until `go` is
/// sent (or dropped), then reads to EOF: over TLS (after its handshake) or plain TCP. Its
/// port, `go`, and its thread.
fn late_reader(
    tls: bool,
) -> (
    u16,
    std::sync::mpsc::Sender<()>,
    std::thread::JoinHandle<()>,
) {
    let (listener, port) = small_window_listener();
    let (go, wait_go) = std::sync::mpsc::channel::<()>();
    let peer = if tls {
        tls_peer_on(listener, move |mut tcp, _conn| {
            let _ = wait_go.recv_timeout(BOUND);
            tls_common::drain(&mut tcp);
        })
    } else {
        std::thread::spawn(move || {
            let (mut tcp, _) = listener.accept().unwrap();
            let _ = wait_go.recv_timeout(BOUND);
            tls_common::drain(&mut tcp);
        })
    };
    (port, go, peer)
}

/// A `Recorder` connected over TLS (`tls`) or plain TCP to a [`late_reader`].
#[allow(clippy::type_complexity)]
fn recorder_to_a_late_reader(
    lp: &asyncio::EventLoop,
    tls: bool,
) -> (
    asyncio::Transport,
    Rc<RefCell<Recorder>>,
    std::sync::mpsc::Sender<()>,
    std::thread::JoinHandle<()>,
) {
    let (port, go, peer) = late_reader(tls);
    let (t, proto) = if tls {
        recorder_over_tls(lp, port)
    } else {
        tls_helpers::plain_recorder(lp, port)
    };
    (t, proto, go, peer)
}
