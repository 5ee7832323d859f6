//! CPython's create_server/create_connection ports over ssl (T3, T32, T36): test_create_server_ssl_1,
//! test_create_connection_ssl_1 and test_create_server_ssl_over_ssl.

use super::*;

/// The data of the create_server/create_connection exchanges: CPython's 1 KiB ×
/// BUF_MULTIPLIER with its macOS multiplier (64), to keep 25 debug-build connections quick.
static A_DATA: [u8; 64 * 1024] = [b'A'; 64 * 1024];

static B_DATA: [u8; 64 * 1024] = [b'B'; 64 * 1024];

/// The blocking client's side of the exchanges: A, then OK back; B, then SPAM back.
fn a_then_b_client_side(s: &mut (impl std::io::Read + std::io::Write)) {
    s.write_all(&A_DATA).unwrap();
    let mut ok = [0u8; 2];
    s.read_exact(&mut ok).unwrap();
    assert_eq!(&ok, b"OK");
    s.write_all(&B_DATA).unwrap();
    let mut spam = [0u8; 4];
    s.read_exact(&mut spam).unwrap();
    assert_eq!(&spam, b"SPAM");
}

/// S4, S43, T22, T36; CPython: TestSSL.test_create_server_ssl_1. 25 blocking TLS clients to a
/// start_server(ssl) whose handler reads A, says OK, reads B and answers with writelines
/// ("SP", "A", "M"), drains and closes: every client gets OK and SPAM, every handler finishes.
#[test]
fn t36_test_create_server_ssl_1() {
    const TOTAL: usize = 25;
    let lp = asyncio::EventLoop::new().unwrap();
    let done = Rc::new(std::cell::Cell::new(0usize));
    let d = done.clone();
    let handler = move |reader: StreamReader, writer: StreamWriter| {
        let d = d.clone();
        async move {
            assert_eq!(reader.readexactly(A_DATA.len()).await?, A_DATA);
            writer.write(b"OK")?;
            assert_eq!(reader.readexactly(B_DATA.len()).await?, B_DATA);
            writer.writelines(&[b"SP", b"A", b"M"])?;
            writer.drain().await?;
            writer.close();
            d.set(d.get() + 1);
            Ok::<(), Error>(())
        }
    };
    let server = lp
        .run_until_complete(
            asyncio::start_server(handler, "127.0.0.1", 0)
                .ssl(Certs::get().server_config(&[]))
                .ssl_handshake_timeout(BOUND)
                .into_future(),
        )
        .unwrap()
        .unwrap();
    let port = server.sockets()[0].as_inet().unwrap().port();
    let clients: Vec<_> = (0..TOTAL)
        .map(|_| {
            std::thread::spawn(move || {
                let (tcp, conn) = tls_common::blocking_tls_client(port);
                let mut s = rustls::StreamOwned::new(conn, tcp);
                a_then_b_client_side(&mut s);
            })
        })
        .collect();
    util::run_until(&lp, 100_000, || done.get() == TOTAL);
    for c in clients {
        c.join().unwrap();
    }
    assert_eq!(done.get(), TOTAL);
    server.close();
    lp.run_until_complete(server.wait_closed()).unwrap();
}

/// S1, S6, S7, T3; CPython: TestSSL.test_create_connection_ssl_1. 25 concurrent
/// open_connection clients (by address, then by socket) with an empty server_hostname to a
/// blocking TLS server: A then OK, B then SPAM, close; every client completes.
#[test]
fn t3_test_create_connection_ssl_1() {
    const TOTAL: usize = 25;
    for by_sock in [false, true] {
        let listener = TcpListener::bind("127.0.0.1:0").unwrap();
        let port = listener.local_addr().unwrap().port();
        let config = Certs::get().server_config(&[]);
        let server = std::thread::spawn(move || {
            let peers: Vec<_> = (0..TOTAL)
                .map(|_| {
                    let (tcp, _) = listener.accept().unwrap();
                    let config = config.clone();
                    std::thread::spawn(move || {
                        use std::io::{Read, Write};
                        tcp.set_read_timeout(Some(BOUND)).unwrap();
                        let conn = rustls::ServerConnection::new(config).unwrap();
                        let mut s = rustls::StreamOwned::new(conn, tcp);
                        let mut a = vec![0u8; A_DATA.len()];
                        s.read_exact(&mut a).unwrap();
                        assert_eq!(a, A_DATA);
                        s.write_all(b"OK").unwrap();
                        let mut b = vec![0u8; B_DATA.len()];
                        s.read_exact(&mut b).unwrap();
                        assert_eq!(b, B_DATA);
                        s.write_all(b"SPAM").unwrap();
                        s.flush().unwrap();
                    })
                })
                .collect();
            for p in peers {
                p.join().unwrap();
            }
        });
        let count = run(async move {
            let done = Rc::new(std::cell::Cell::new(0usize));
            let mut tasks = Vec::new();
            for _ in 0..TOTAL {
                let done = done.clone();
                tasks.push(asyncio::spawn(async move {
                    let (reader, writer) = if by_sock {
                        let sock = std::net::TcpStream::connect(("127.0.0.1", port))?;
                        asyncio::open_connection_sock(sock)
                            .ssl(Certs::get().client_config(&[]))
                            .server_hostname("")
                            .await?
                    } else {
                        asyncio::open_connection("127.0.0.1", port)
                            .ssl(Certs::get().client_config(&[]))
                            .server_hostname("")
                            .ssl_handshake_timeout(BOUND)
                            .await?
                    };
                    writer.write(&A_DATA)?;
                    assert_eq!(reader.readexactly(2).await?, b"OK");
                    writer.write(&B_DATA)?;
                    assert_eq!(reader.readexactly(4).await?, b"SPAM");
                    done.set(done.get() + 1);
                    writer.close();
                    match writer.wait_closed().await {
                        Err(e)
                            if matches!(
                                e.kind(),
                                io::ErrorKind::ConnectionReset | io::ErrorKind::BrokenPipe
                            ) => {}
                        other => other?,
                    }
                    Ok::<(), Error>(())
                }));
            }
            for t in tasks {
                t.await??;
            }
            Ok(done.get())
        });
        assert_eq!(count, TOTAL, "by_sock {by_sock}");
        server.join().unwrap();
    }
}

/// A server protocol that, as CPython's test ServerProtocol, pauses reading in connection_made
/// and starts a second TLS session (server side) over the TLS transport it was given; the
/// inner transport lands in `inner`, and everything is forwarded to a [`Recorder`].
struct StartsTls {
    rec: Rc<RefCell<Recorder>>,
    inner: Rc<RefCell<Option<Result<Transport, Error>>>>,
}

impl asyncio::Protocol for StartsTls {
    fn connection_made(&mut self, t: Transport) {
        t.pause_reading();
        self.rec.borrow_mut().connection_made(t.clone());
        let inner = self.inner.clone();
        drop(asyncio::spawn(async move {
            let lp = asyncio::get_running_loop().expect("the loop");
            let app = t.get_protocol().expect("this protocol");
            let r = lp
                .start_tls(&t, app, Certs::get().server_config(&[]), true)
                .await;
            *inner.borrow_mut() = Some(r);
        }));
    }
    fn data_received(&mut self, d: &[u8]) {
        self.rec.borrow_mut().data_received(d)
    }
    fn eof_received(&mut self) -> bool {
        self.rec.borrow_mut().eof_received()
    }
    fn connection_lost(&mut self, e: Option<io::Error>) {
        self.rec.borrow_mut().connection_lost(e)
    }
}

/// T32, T36; CPython: TestSSL.test_create_server_ssl_over_ssl (one client here). A TLS server
/// whose protocol runs loop.start_tls over each accepted TLS transport from connection_made,
/// reading paused meanwhile; a blocking client runs TLS in TLS: A then OK, B then SPAM.
#[test]
fn t32_t36_test_create_server_ssl_over_ssl() {
    let lp = asyncio::EventLoop::new().unwrap();
    let seen = util::capture_exceptions(&lp);
    let rec = Rc::new(RefCell::new(Recorder::default()));
    let inner: Rc<RefCell<Option<Result<Transport, Error>>>> = Rc::default();
    let (r, i) = (rec.clone(), inner.clone());
    let server = lp
        .run_until_complete(
            lp.create_server(
                move || StartsTls {
                    rec: r.clone(),
                    inner: i.clone(),
                },
                "127.0.0.1",
                0,
            )
            .ssl(Certs::get().server_config(&[]))
            .into_future(),
        )
        .unwrap()
        .unwrap();
    let port = server.sockets()[0].as_inet().unwrap().port();
    let client = std::thread::spawn(move || {
        let (tcp, conn) = tls_common::blocking_tls_client(port);
        let mut outer = rustls::StreamOwned::new(conn, tcp);
        let mut conn2 = rustls::ClientConnection::new(
            Certs::get().client_config(&[]),
            "localhost".try_into().unwrap(),
        )
        .unwrap();
        while conn2.is_handshaking() {
            conn2.complete_io(&mut outer).unwrap();
        }
        let mut s = rustls::StreamOwned::new(conn2, outer);
        a_then_b_client_side(&mut s);
    });
    util::run_until(&lp, 100_000, || rec.borrow().data.len() >= A_DATA.len());
    let t = match inner.borrow_mut().take() {
        Some(Ok(t)) => t,
        other => panic!("the inner handshake: {other:?}"),
    };
    assert_eq!(rec.borrow().data, A_DATA);
    t.write(b"OK").unwrap();
    util::run_until(&lp, 100_000, || {
        rec.borrow().data.len() >= A_DATA.len() + B_DATA.len()
    });
    assert_eq!(rec.borrow().data[A_DATA.len()..], B_DATA);
    for part in [&b"SP"[..], b"A", b"M"] {
        t.write(part).unwrap();
    }
    t.close();
    util::run_until(&lp, 100_000, || rec.borrow().lost);
    client.join().unwrap();
    assert_eq!(
        rec.borrow().calls.first().map(String::as_str),
        Some("connection_made")
    );
    assert_eq!(
        rec.borrow()
            .calls
            .iter()
            .filter(|c| *c == "connection_made")
            .count(),
        1
    );
    assert!(seen.borrow().is_empty(), "{:?}", seen.borrow());
    server.close();
    lp.run_until_complete(server.wait_closed()).unwrap();
}
