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
