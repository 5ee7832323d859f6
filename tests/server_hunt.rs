//! Server keywords and life, as a hunt against CPython 3.11's `base_events.py` and
//! `unix_events.py` found them differing: each test here failed before its fix.
//! Shared set-up: `util` (temp dirs, a do-nothing protocol), `tls_common` (certificates).
//! Every wait is bounded by `asyncio::timeout`.

mod util;

#[cfg(feature = "tls")]
mod tls_common;

/// CPython's create_server and create_unix_server refuse a TLS keyword given without ssl
/// (`ssl_handshake_timeout is only meaningful with ssl`) before they look at host/port, path
/// and sock; ours reported the host/port (or path) and sock conflict first, and for a Unix
/// entry the socket of the wrong kind. A zero timeout with ssl is CPython's later check (in
/// SSLProtocol): the conflict still comes first there.
// Checklist: L96, L114, S9.
#[cfg(feature = "tls")]
#[test]
fn l96_l114_a_server_refuses_tls_keywords_without_ssl_before_host_path_and_sock() {
    use std::time::Duration;

    use asyncio::{Error, StreamReader, StreamWriter};
    use util::Recorder;

    let noop = |_r: StreamReader, w: StreamWriter| w.close();
    let dir = util::temp_dir("l96-tls-first");
    let path = dir.join("s.sock");
    let second = Duration::from_secs(1);
    let handshake = "ssl_handshake_timeout is only meaningful with ssl";
    let shutdown = "ssl_shutdown_timeout is only meaningful with ssl";
    let text = |r: Result<asyncio::Server, Error>| match r {
        Ok(s) => {
            s.close();
            panic!("created a server")
        }
        Err(e) => e.to_string(),
    };
    let lp = asyncio::EventLoop::new().unwrap();
    let checked = lp.run_until_complete(asyncio::timeout(
        std::time::Duration::from_secs(10),
        async move {
            let lp = asyncio::get_running_loop()?;
            let tcp = || std::net::TcpListener::bind("127.0.0.1:0").unwrap();
            let unix = || std::os::unix::net::UnixListener::bind(dir.join("given.sock")).unwrap();
            // A host or port with sock.
            let r = asyncio::start_server(noop, "127.0.0.1", 0)
                .sock(tcp())
                .ssl_handshake_timeout(second)
                .await;
            assert_eq!(text(r), handshake, "start_server, host and sock");
            let r = lp
                .create_server(Recorder::default, "", 8)
                .sock(tcp())
                .ssl_shutdown_timeout(second)
                .await;
            assert_eq!(text(r), shutdown, "create_server, port and sock");
            // A path with sock.
            let given = unix();
            let r = asyncio::start_unix_server(noop, &path)
                .sock(given)
                .ssl_shutdown_timeout(second)
                .await;
            assert_eq!(text(r), shutdown, "start_unix_server, path and sock");
            std::fs::remove_file(dir.join("given.sock"))?;
            // A Unix entry given a TCP socket (CPython checks the socket's kind after the
            // keywords).
            let r = lp
                .create_unix_server(Recorder::default, "")
                .sock(tcp())
                .ssl_handshake_timeout(second)
                .await;
            assert_eq!(text(r), handshake, "create_unix_server, TCP sock");
            // With ssl, a zero timeout is checked after the conflict, as CPython does.
            let r = asyncio::start_server(noop, "127.0.0.1", 0)
                .sock(tcp())
                .ssl(tls_common::Certs::get().server_config(&[]))
                .ssl_handshake_timeout(Duration::ZERO)
                .await;
            assert_eq!(
                text(r),
                "host/port and sock can not be specified at the same time",
                "a zero timeout with ssl"
            );
            assert!(!path.exists(), "refused before binding");
            Ok::<_, Error>(())
        },
    ));
    checked.unwrap().unwrap().unwrap();
}

/// CPython's connect_accepted_socket checks that the socket is a stream socket before its TLS
/// keywords: a datagram socket given with `ssl_handshake_timeout` and no ssl is refused as
/// `A Stream Socket was expected`. Ours checked the keywords first.
// Checklist: L95, T37.
#[cfg(feature = "tls")]
#[test]
fn l95_connect_accepted_socket_checks_the_socket_before_its_tls_keywords() {
    use std::os::fd::OwnedFd;
    use std::time::Duration;

    use util::Recorder;

    let lp = asyncio::EventLoop::new().unwrap();
    let checked = lp.run_until_complete(async {
        let lp = asyncio::get_running_loop()?;
        let udp = std::net::UdpSocket::bind("127.0.0.1:0")?;
        let as_tcp = std::net::TcpStream::from(OwnedFd::from(udp));
        let e = lp
            .connect_accepted_socket(Recorder::default, as_tcp)
            .ssl_handshake_timeout(Duration::from_secs(1))
            .await
            .map(drop)
            .expect_err("a datagram socket");
        assert!(
            e.to_string().starts_with("A Stream Socket was expected"),
            "{e}"
        );
        Ok::<_, asyncio::Error>(())
    });
    checked.unwrap().unwrap();
}

/// CPython's close() forgets a running serve_forever (it cancels it and clears its future),
/// so a serve_forever called after close() is refused as `server … is closed`, also while
/// the first one still waits for its connections to end. Ours said the server `is already
/// being awaited on serve_forever()` until that first one returned.
// Checklist: L106, S72.
#[test]
fn l106_serve_forever_after_close_is_refused_as_closed_while_the_first_winds_down() {
    use std::time::Duration;

    use asyncio::{Error, StreamReader, StreamWriter};

    let lp = asyncio::EventLoop::new().unwrap();
    let checked = lp.run_until_complete(asyncio::timeout(Duration::from_secs(10), async {
        // Each connection stays until its client closes it.
        let hold = |r: StreamReader, w: StreamWriter| async move {
            w.write(b"!")?;
            r.read(-1).await?;
            w.close();
            Ok::<_, Error>(())
        };
        let server = asyncio::start_server(hold, "127.0.0.1", 0).await?;
        let port = server.sockets()[0].as_inet().unwrap().port();
        let s = server.clone();
        let first = asyncio::spawn(async move { s.serve_forever().await });
        let (reader, writer) = asyncio::open_connection("127.0.0.1", port).await?;
        reader.readexactly(1).await?; // accepted: serve_forever now waits for it at close
        server.close();
        asyncio::yield_now().await;
        assert!(!first.is_done(), "serve_forever waits for the connection");
        let second = server.serve_forever().await;
        assert!(
            matches!(&second, Err(Error::InvalidState(m)) if m == "server is closed"),
            "{second:?}"
        );
        writer.close();
        let out = first.await;
        assert!(matches!(out, Ok(Ok(()))), "{out:?}");
        Ok::<_, Error>(())
    }));
    checked.unwrap().unwrap().unwrap();
}

/// Which of several mistakes a server creation reports: every combination (one, two, three
/// and four at once) of a keyword the entry point lacks, a TLS keyword without ssl or a zero
/// one with it, a mistake in what to serve on (host/port or path with sock, neither path nor
/// sock, a socket of the wrong kind, an address that cannot be bound) and a zero
/// `proxy_protocol_timeout`, against the order of CPython 3.11/3.13's create_server and
/// create_unix_server: a keyword the signature lacks (TypeError, before the body), the TLS
/// keywords without ssl, then host/port/path and sock (the conflict, a missing path and sock,
/// the socket's kind, all in one if/else), then binding. A zero TLS timeout with ssl is
/// CPython's per-connection check (SSLProtocol) and the PROXY timeout has no CPython
/// counterpart: ours check both after every argument check CPython makes and before any bind.
/// Ours checked the socket's kind (create_server) and the missing path and sock
/// (create_unix_server) after them, so a wrong socket with a bad ssl or PROXY timeout was
/// reported as the timeout.
// Checklist: L96, L99, L114, L116, S9.
#[test]
fn l96_l114_several_mistakes_report_the_one_cpython_checks_first() {
    use std::os::fd::OwnedFd;
    use std::time::Duration;

    use asyncio::Error;
    use util::Recorder;

    #[derive(Clone, Copy, Debug, PartialEq)]
    enum Tls {
        Fine,
        /// `ssl_handshake_timeout` without ssl.
        WithoutSsl,
        /// ssl with a zero `ssl_handshake_timeout`.
        ZeroWithSsl,
    }
    #[derive(Clone, Copy, Debug, PartialEq)]
    enum Source {
        Fine,
        /// host/port (or a path) and sock.
        Conflict,
        /// Unix only: no path (empty) and no sock.
        NoneGiven,
        /// sock alone, of the wrong kind: a datagram socket (TCP), a TCP one (Unix).
        WrongSock,
        /// An address in use (TCP), a path in a missing directory (Unix).
        BindFails,
    }
    /// The error text CPython's order gives (a prefix, or a part for the bind errors).
    fn expected(unix: bool, keyword: bool, tls: Tls, source: Source, proxy: bool) -> &'static str {
        if keyword {
            return if unix {
                "create_unix_server() got an unexpected keyword argument 'family'"
            } else {
                "create_server() got an unexpected keyword argument 'cleanup_socket'"
            };
        }
        if tls == Tls::WithoutSsl {
            return "ssl_handshake_timeout is only meaningful with ssl";
        }
        match (source, unix) {
            (Source::Conflict, false) => {
                return "host/port and sock can not be specified at the same time"
            }
            (Source::Conflict, true) => {
                return "path and sock can not be specified at the same time"
            }
            (Source::NoneGiven, _) => return "path was not specified, and no sock specified",
            (Source::WrongSock, false) => return "A Stream Socket was expected",
            (Source::WrongSock, true) => return "A UNIX Domain Stream Socket was expected",
            _ => {}
        }
        // Ours, after CPython's argument checks and before any bind.
        if tls == Tls::ZeroWithSsl {
            return "ssl_handshake_timeout should be a positive number, got 0.0";
        }
        if proxy {
            return "proxy_protocol_timeout should be a positive number, got 0.0";
        }
        match (source, unix) {
            (Source::BindFails, false) => "error while attempting to bind on address",
            (Source::BindFails, true) => "No such file or directory",
            _ => unreachable!("no mistake"),
        }
    }

    let tls_cases: &[Tls] = if cfg!(feature = "tls") {
        &[Tls::Fine, Tls::WithoutSsl, Tls::ZeroWithSsl]
    } else {
        &[Tls::Fine]
    };
    let dir = util::temp_dir("l96-order");
    let lp = asyncio::EventLoop::new().unwrap();
    let checked = lp.run_until_complete(asyncio::timeout(Duration::from_secs(30), async move {
        let lp = asyncio::get_running_loop()?;
        let taken = std::net::TcpListener::bind("127.0.0.1:0")?;
        let taken_port = taken.local_addr()?.port();
        let mut n = 0;
        let mut checked = 0;
        for unix in [false, true] {
            let sources: &[Source] = if unix {
                &[
                    Source::Fine,
                    Source::Conflict,
                    Source::NoneGiven,
                    Source::WrongSock,
                    Source::BindFails,
                ]
            } else {
                &[
                    Source::Fine,
                    Source::Conflict,
                    Source::WrongSock,
                    Source::BindFails,
                ]
            };
            for keyword in [false, true] {
                for &tls in tls_cases {
                    for &source in sources {
                        for proxy in [false, true] {
                            if !keyword && tls == Tls::Fine && source == Source::Fine && !proxy {
                                continue; // no mistake
                            }
                            n += 1;
                            let path = dir.join(format!("{n}.sock"));
                            let mut b = if unix {
                                let at = match source {
                                    Source::NoneGiven | Source::WrongSock => "".into(),
                                    Source::BindFails => dir.join("missing").join("s.sock"),
                                    _ => path.clone(),
                                };
                                let mut b = lp.create_unix_server(Recorder::default, at);
                                match source {
                                    Source::Conflict => {
                                        let given = dir.join(format!("{n}-given.sock"));
                                        b = b.sock(std::os::unix::net::UnixListener::bind(given)?);
                                    }
                                    Source::WrongSock => {
                                        b = b.sock(std::net::TcpListener::bind("127.0.0.1:0")?);
                                    }
                                    _ => {}
                                }
                                if keyword {
                                    b = b.family(asyncio::AddressFamily::Inet);
                                }
                                b
                            } else {
                                let (host, port) = match source {
                                    Source::WrongSock => ("", 0),
                                    Source::BindFails => ("127.0.0.1", taken_port),
                                    _ => ("127.0.0.1", 0),
                                };
                                let mut b = lp.create_server(Recorder::default, host, port);
                                match source {
                                    Source::Conflict => {
                                        b = b.sock(std::net::TcpListener::bind("127.0.0.1:0")?);
                                    }
                                    Source::WrongSock => {
                                        let udp = std::net::UdpSocket::bind("127.0.0.1:0")?;
                                        b = b.sock(std::net::TcpListener::from(OwnedFd::from(udp)));
                                    }
                                    _ => {}
                                }
                                if keyword {
                                    b = b.cleanup_socket(true);
                                }
                                b
                            };
                            #[cfg(feature = "tls")]
                            match tls {
                                Tls::Fine => {}
                                Tls::WithoutSsl => {
                                    b = b.ssl_handshake_timeout(Duration::from_secs(1));
                                }
                                Tls::ZeroWithSsl => {
                                    b = b
                                        .ssl(tls_common::Certs::get().server_config(&[]))
                                        .ssl_handshake_timeout(Duration::ZERO);
                                }
                            }
                            if proxy {
                                b = b.proxy_protocol_timeout(Duration::ZERO);
                            }
                            let want = expected(unix, keyword, tls, source, proxy);
                            let got = match b.await {
                                Ok(s) => {
                                    s.close();
                                    format!("a server, not {want:?}")
                                }
                                Err(e) => e.to_string(),
                            };
                            let case = format!(
                                "unix {unix}, keyword {keyword}, {tls:?}, {source:?}, proxy {proxy}"
                            );
                            if source == Source::BindFails {
                                assert!(got.contains(want), "{case}: {got}");
                            } else {
                                assert!(got.starts_with(want), "{case}: {got}");
                            }
                            assert!(!path.exists(), "{case}: bound before refusing");
                            checked += 1;
                        }
                    }
                }
            }
        }
        drop(taken);
        Ok::<_, Error>(checked)
    }));
    let checked = checked.unwrap().unwrap().unwrap();
    assert!(checked >= 30, "{checked} combinations");
}
