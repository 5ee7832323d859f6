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

/// Which of several mistakes a server creation reports: every combination (one to five at
/// once) of a keyword the entry point lacks, a TLS keyword without ssl or a zero one with it,
/// a mistake in what to serve on (host/port or path with sock, neither path nor sock, a
/// socket of the wrong kind, an address that cannot be bound), a zero
/// `proxy_protocol_timeout` and (start_server, start_unix_server) a zero `limit`, against the
/// order of CPython 3.11/3.13's create_server and create_unix_server: a keyword the signature
/// lacks (TypeError, before the body), the TLS keywords without ssl, then host/port/path and
/// sock (the conflict, a missing path and sock, the socket's kind, all in one if/else), then
/// binding. CPython checks the limit (StreamReader) and a zero TLS timeout with ssl
/// (SSLProtocol) per connection, in that order, and has no PROXY timeout: ours refuses the
/// three after every argument check CPython makes and before any bind, in that order. Ours
/// checked the socket's kind (create_server) and the missing path and sock
/// (create_unix_server) after the timeouts, and the limit before everything.
// Checklist: L96, L99, L114, L116, S4, S9.
#[test]
fn l96_l114_several_mistakes_report_the_one_cpython_checks_first() {
    use std::future::{Future, IntoFuture};
    use std::os::fd::OwnedFd;
    use std::path::{Path, PathBuf};
    use std::pin::Pin;
    use std::time::Duration;

    use asyncio::{Error, Server, StreamReader, StreamWriter};
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
    #[derive(Clone, Copy, Debug)]
    struct Case {
        /// start_server / start_unix_server, else create_server / create_unix_server.
        start: bool,
        unix: bool,
        keyword: bool,
        tls: Tls,
        source: Source,
        proxy: bool,
        limit: bool,
    }
    /// The error text CPython's order gives (a prefix, or a part for the bind errors).
    fn expected(c: Case) -> &'static str {
        if c.keyword {
            return if c.unix {
                "create_unix_server() got an unexpected keyword argument 'family'"
            } else {
                "create_server() got an unexpected keyword argument 'cleanup_socket'"
            };
        }
        if c.tls == Tls::WithoutSsl {
            return "ssl_handshake_timeout is only meaningful with ssl";
        }
        match (c.source, c.unix) {
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
        if c.limit {
            return "Limit cannot be <= 0";
        }
        if c.tls == Tls::ZeroWithSsl {
            return "ssl_handshake_timeout should be a positive number, got 0.0";
        }
        if c.proxy {
            return "proxy_protocol_timeout should be a positive number, got 0.0";
        }
        match (c.source, c.unix) {
            (Source::BindFails, false) => "error while attempting to bind on address",
            (Source::BindFails, true) => "No such file or directory",
            _ => unreachable!("no mistake"),
        }
    }
    /// Where a Unix case binds: `path`, nothing, or a missing directory.
    fn unix_path(c: Case, dir: &Path, path: &Path) -> PathBuf {
        match c.source {
            Source::NoneGiven | Source::WrongSock => PathBuf::new(),
            Source::BindFails => dir.join("missing").join("s.sock"),
            _ => path.to_path_buf(),
        }
    }
    // The same keywords on either builder (CreateServer, StartServer).
    macro_rules! configure {
        ($b:expr, $c:expr, $dir:expr, $n:expr) => {{
            let (c, mut b) = ($c, $b);
            match (c.source, c.unix) {
                (Source::Conflict, false) => {
                    b = b.sock(std::net::TcpListener::bind("127.0.0.1:0")?)
                }
                (Source::Conflict, true) => {
                    let given = $dir.join(format!("{}-given.sock", $n));
                    b = b.sock(std::os::unix::net::UnixListener::bind(given)?);
                }
                (Source::WrongSock, false) => {
                    let udp = std::net::UdpSocket::bind("127.0.0.1:0")?;
                    b = b.sock(std::net::TcpListener::from(OwnedFd::from(udp)));
                }
                (Source::WrongSock, true) => {
                    b = b.sock(std::net::TcpListener::bind("127.0.0.1:0")?)
                }
                _ => {}
            }
            if c.keyword && c.unix {
                b = b.family(asyncio::AddressFamily::Inet);
            } else if c.keyword {
                b = b.cleanup_socket(true);
            }
            #[cfg(feature = "tls")]
            match c.tls {
                Tls::Fine => {}
                Tls::WithoutSsl => b = b.ssl_handshake_timeout(Duration::from_secs(1)),
                Tls::ZeroWithSsl => {
                    b = b
                        .ssl(tls_common::Certs::get().server_config(&[]))
                        .ssl_handshake_timeout(Duration::ZERO)
                }
            }
            if c.proxy {
                b = b.proxy_protocol_timeout(Duration::ZERO);
            }
            let f: Pin<Box<dyn Future<Output = Result<Server, Error>>>> = Box::pin(b.into_future());
            f
        }};
    }

    let tls_cases: &[Tls] = if cfg!(feature = "tls") {
        &[Tls::Fine, Tls::WithoutSsl, Tls::ZeroWithSsl]
    } else {
        &[Tls::Fine]
    };
    let mut cases = Vec::new();
    for start in [false, true] {
        for unix in [false, true] {
            for keyword in [false, true] {
                for &tls in tls_cases {
                    for source in [
                        Source::Fine,
                        Source::Conflict,
                        Source::NoneGiven,
                        Source::WrongSock,
                        Source::BindFails,
                    ] {
                        for proxy in [false, true] {
                            for limit in [false, true] {
                                let c = Case {
                                    start,
                                    unix,
                                    keyword,
                                    tls,
                                    source,
                                    proxy,
                                    limit,
                                };
                                let no_mistake = !keyword
                                    && tls == Tls::Fine
                                    && source == Source::Fine
                                    && !proxy
                                    && !limit;
                                let impossible =
                                    (source == Source::NoneGiven && !unix) || (limit && !start);
                                if !no_mistake && !impossible {
                                    cases.push(c);
                                }
                            }
                        }
                    }
                }
            }
        }
    }
    let total = cases.len();
    let dir = util::temp_dir("l96-order");
    let lp = asyncio::EventLoop::new().unwrap();
    let checked = lp.run_until_complete(asyncio::timeout(Duration::from_secs(60), async move {
        let lp = asyncio::get_running_loop()?;
        let taken = std::net::TcpListener::bind("127.0.0.1:0")?;
        let taken_port = taken.local_addr()?.port();
        let noop = |_r: StreamReader, w: StreamWriter| w.close();
        for (n, c) in cases.into_iter().enumerate() {
            let path = dir.join(format!("{n}.sock"));
            let (host, port) = match c.source {
                Source::WrongSock => ("", 0),
                Source::BindFails => ("127.0.0.1", taken_port),
                _ => ("127.0.0.1", 0),
            };
            let limit = if c.limit { 0 } else { 1 << 16 };
            let made = match (c.start, c.unix) {
                (false, false) => {
                    configure!(lp.create_server(Recorder::default, host, port), c, dir, n)
                }
                (false, true) => {
                    let at = unix_path(c, &dir, &path);
                    configure!(lp.create_unix_server(Recorder::default, at), c, dir, n)
                }
                (true, false) => {
                    configure!(
                        asyncio::start_server(noop, host, port).limit(limit),
                        c,
                        dir,
                        n
                    )
                }
                (true, true) => {
                    let at = unix_path(c, &dir, &path);
                    configure!(asyncio::start_unix_server(noop, at).limit(limit), c, dir, n)
                }
            };
            let want = expected(c);
            let got = match made.await {
                Ok(s) => {
                    s.close();
                    format!("a server, not {want:?}")
                }
                Err(e) => e.to_string(),
            };
            if c.source == Source::BindFails {
                assert!(got.contains(want), "{c:?}: {got}");
            } else {
                assert!(got.starts_with(want), "{c:?}: {got}");
            }
            assert!(!path.exists(), "{c:?}: bound before refusing");
        }
        drop(taken);
        Ok::<_, Error>(())
    }));
    checked.unwrap().unwrap().unwrap();
    assert!(total > 100, "{total} combinations");
}
