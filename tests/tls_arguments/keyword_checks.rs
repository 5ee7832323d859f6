//! The TLS keyword checks every entry point makes before any I/O, as CPython's: TCP and Unix
//! connections, servers (before binding), ssl_handshake_timeout without ssl, and their order
//! against host, path and sock (T1, L84, L85, L111, L114, S6, S8, S9).

use super::*;

/// The errors of a TLS keyword given without ssl, or of ssl without a server name.
const NO_SSL_HOSTNAME: &str = "server_hostname is only meaningful with ssl";
const NO_SSL_SHUTDOWN: &str = "ssl_shutdown_timeout is only meaningful with ssl";
const NO_SSL_HANDSHAKE: &str = "ssl_handshake_timeout is only meaningful with ssl";
const NEED_HOSTNAME: &str = "you have to pass server_hostname when using ssl";
const NEED_HOSTNAME_NO_HOST: &str = "You must set server_hostname when using ssl without a host";

// CPython: BaseEventLoopWithSelectorTests.test_create_server_ssl_timeout_for_plain_socket
// CPython: SslProtoHandshakeTests.test_handshake_timeout_zero (a zero handshake timeout is
// refused; test_handshake_timeout_negative cannot be written: a `Duration` is never negative).
#[test]
fn t1_s6_s8_l84_argument_rules_before_any_io() {
    run(async {
        let certs = Certs::get();
        // Port 9 on 127.0.0.1: nothing listens; every case must fail before connecting.
        let e = asyncio::open_connection("127.0.0.1", 9)
            .ssl(certs.client_config(&[]))
            .ssl_handshake_timeout(Duration::ZERO)
            .await
            .expect_err("T1");
        assert_eq!(
            e.to_string(),
            "ssl_handshake_timeout should be a positive number, got 0.0"
        );
        let e = asyncio::open_connection("127.0.0.1", 9)
            .server_hostname("x")
            .await
            .expect_err("S6");
        assert_eq!(e.to_string(), NO_SSL_HOSTNAME);
        let e = asyncio::open_connection("127.0.0.1", 9)
            .ssl_shutdown_timeout(Duration::from_secs(1))
            .await
            .expect_err("L84");
        assert_eq!(e.to_string(), NO_SSL_SHUTDOWN);
        let e = asyncio::open_unix_connection("/nonexistent/sock")
            .ssl(true)
            .await
            .expect_err("S8");
        assert_eq!(e.to_string(), NEED_HOSTNAME);
        let (a, _b) = asyncio::socketpair()?;
        let e = asyncio::open_connection_sock(a)
            .ssl(certs.client_config(&[]))
            .await
            .expect_err("S6/S7");
        assert_eq!(e.to_string(), NEED_HOSTNAME_NO_HOST);
        let e = asyncio::start_server(echo, "127.0.0.1", 0)
            .ssl_handshake_timeout(Duration::from_secs(1))
            .await
            .expect_err("L96");
        assert_eq!(e.to_string(), NO_SSL_HANDSHAKE);
        Ok(())
    });
}

// L111, L114: the loop's own Unix methods check their TLS keywords as CPython's do, before any
// I/O (the path is os.devnull or a name that does not exist).
// CPython: SelectorEventLoopUnixSocketTests.test_create_unix_connection_nossl_serverhost,
// SelectorEventLoopUnixSocketTests.test_create_unix_connection_ssl_noserverhost,
// SelectorEventLoopUnixSocketTests.test_create_unix_connection_ssl_timeout_with_plain_sock,
// SelectorEventLoopUnixSocketTests.test_create_unix_server_ssl_timeout_with_plain_sock.
#[test]
fn l111_l114_test_create_unix_connection_and_server_tls_keywords() {
    let dir = util::temp_dir("l111-tls-keywords");
    let spam = dir.join("spam");
    run(async move {
        let lp = asyncio::get_running_loop()?;
        let e = lp
            .create_unix_connection(Recorder::default, "/dev/null")
            .server_hostname("spam")
            .await
            .map(drop)
            .expect_err("nossl_serverhost");
        assert_eq!(e.to_string(), NO_SSL_HOSTNAME);
        let e = lp
            .create_unix_connection(Recorder::default, "/dev/null")
            .ssl(true)
            .await
            .map(drop)
            .expect_err("ssl_noserverhost");
        assert_eq!(e.to_string(), NEED_HOSTNAME);
        let e = lp
            .create_unix_connection(Recorder::default, &spam)
            .ssl_handshake_timeout(Duration::from_secs(1))
            .await
            .map(drop)
            .expect_err("connection ssl_timeout_with_plain_sock");
        assert_eq!(e.to_string(), NO_SSL_HANDSHAKE);
        let e = lp
            .create_unix_server(Recorder::default, &spam)
            .ssl_handshake_timeout(Duration::from_secs(1))
            .await
            .map(drop)
            .expect_err("server ssl_timeout_with_plain_sock");
        assert_eq!(e.to_string(), NO_SSL_HANDSHAKE);
        assert!(!spam.exists(), "refused before binding");
        assert_eq!(lp.stats().io_registrations, 0);
        Ok(())
    });
}

// L111, S6, S8, L84: CPython's create_unix_connection checks its TLS keywords before its path
// and sock, so with both given the TLS keyword's error comes first; a zero timeout it checks
// later (in SSLProtocol), after them. Ours reported the path-and-sock conflict first.
#[test]
fn l111_a_unix_entry_checks_its_tls_keywords_before_path_and_sock() {
    run_with_loop(|certs, lp| async move {
        let path = "/nonexistent/sock";
        let (a, _b) = asyncio::socketpair()?;
        let e = asyncio::open_unix_connection(path)
            .sock(a)
            .server_hostname("x")
            .await
            .expect_err("S6");
        assert_eq!(e.to_string(), NO_SSL_HOSTNAME);
        let (a, _b) = asyncio::socketpair()?;
        let e = lp
            .create_unix_connection(Recorder::default, path)
            .sock(a)
            .ssl_shutdown_timeout(Duration::from_secs(1))
            .await
            .map(drop)
            .expect_err("L84");
        assert_eq!(e.to_string(), NO_SSL_SHUTDOWN);
        let (a, _b) = asyncio::socketpair()?;
        let e = asyncio::open_unix_connection(path)
            .sock(a)
            .ssl(certs.client_config(&[]))
            .await
            .expect_err("S8");
        assert_eq!(e.to_string(), NEED_HOSTNAME);
        // A zero timeout is CPython's later check: the conflict comes first.
        let (a, _b) = asyncio::socketpair()?;
        let e = asyncio::open_unix_connection(path)
            .sock(a)
            .ssl(certs.client_config(&[]))
            .server_hostname("localhost")
            .ssl_handshake_timeout(Duration::ZERO)
            .await
            .expect_err("T1 after L111");
        assert_eq!(
            e.to_string(),
            "path and sock can not be specified at the same time"
        );
        Ok(())
    });
}

// L85, S6, L84: CPython's create_connection checks server_hostname, ssl without a host and
// the TLS timeouts without ssl before "host/port and sock can not be specified at the same
// time"; a host given with `sock` still names the server for the ssl rule (so with ssl and
// that host the conflict is the error); a zero timeout is checked later (in SSLProtocol).
// Ours reported the conflict first.
#[test]
fn l85_s6_create_connection_checks_its_tls_keywords_before_host_and_sock() {
    run_with_loop(|certs, lp| async move {
        let conflict = "host/port and sock can not be specified at the same time";
        let (a, _b) = asyncio::socketpair()?;
        let e = asyncio::open_connection("127.0.0.1", 9)
            .sock(a)
            .server_hostname("x")
            .await
            .expect_err("S6");
        assert_eq!(e.to_string(), NO_SSL_HOSTNAME);
        let (a, _b) = asyncio::socketpair()?;
        let e = lp
            .create_connection(Recorder::default, "127.0.0.1", 9)
            .sock(a)
            .ssl_shutdown_timeout(Duration::from_secs(1))
            .await
            .map(drop)
            .expect_err("L84");
        assert_eq!(e.to_string(), NO_SSL_SHUTDOWN);
        // A port and no host: nothing names the server.
        let (a, _b) = asyncio::socketpair()?;
        let e = asyncio::open_connection("", 9)
            .sock(a)
            .ssl(certs.client_config(&[]))
            .await
            .expect_err("S6/S7");
        assert_eq!(e.to_string(), NEED_HOSTNAME_NO_HOST);
        // The host names the server: the TLS keywords pass, the conflict is the error.
        let (a, _b) = asyncio::socketpair()?;
        let e = asyncio::open_connection("localhost", 9)
            .sock(a)
            .ssl(certs.client_config(&[]))
            .await
            .expect_err("L85");
        assert_eq!(e.to_string(), conflict);
        let (a, _b) = asyncio::socketpair()?;
        let e = asyncio::open_connection("localhost", 9)
            .sock(a)
            .ssl(certs.client_config(&[]))
            .ssl_handshake_timeout(Duration::ZERO)
            .await
            .expect_err("T1 after L85");
        assert_eq!(e.to_string(), conflict);
        Ok(())
    });
}

// Checklist: L85, L111, T1. After the TLS keywords CPython's create_connection and
// create_unix_connection look at host/port (or path) and sock in one if/else: neither given,
// a socket of the wrong kind. A zero TLS timeout and the server name's text are checked only
// later, in SSLProtocol and ssl, once connected; ours checks them before any I/O, but after
// that if/else. Ours checked them first: a zero timeout, or a name with a NUL, was the error
// where CPython says there is nothing to connect to.
#[test]
fn l85_l111_nothing_to_connect_to_is_said_before_a_zero_timeout_or_a_bad_name() {
    use std::os::fd::OwnedFd;

    run_with_loop(|certs, lp| async move {
        let none_tcp = "host and port was not specified and no sock specified";
        let none_unix = "no path and sock were specified";
        let wrong = "A Stream Socket was expected";
        let wrong_unix = "A UNIX Domain Stream Socket was expected";
        for late in ["zero timeout", "bad name"] {
            let tls = |name: &str| {
                let name = if late == "bad name" { "a\0b" } else { name };
                let timeout = if late == "zero timeout" {
                    Duration::ZERO
                } else {
                    Duration::from_secs(1)
                };
                (certs.client_config(&[]), name.to_string(), timeout)
            };
            // `entry` with the TLS keywords of every case here: ssl, the name and the timeout.
            macro_rules! with_tls {
                ($entry:expr) => {{
                    let (cfg, name, t) = tls("localhost");
                    $entry
                        .ssl(cfg)
                        .server_hostname(&name)
                        .ssl_handshake_timeout(t)
                }};
            }
            let udp = || -> io::Result<OwnedFd> {
                Ok(OwnedFd::from(std::net::UdpSocket::bind("127.0.0.1:0")?))
            };
            let e = with_tls!(lp.create_connection(Recorder::default, "", 0))
                .await
                .map(drop)
                .expect_err("L85");
            assert_eq!(e.to_string(), none_tcp, "{late}");
            let e = with_tls!(lp
                .create_connection(Recorder::default, "", 0)
                .sock(std::net::TcpStream::from(udp()?)))
            .await
            .map(drop)
            .expect_err("L85");
            assert!(e.to_string().starts_with(wrong), "{late}: {e}");
            let e = with_tls!(lp.create_unix_connection(Recorder::default, ""))
                .await
                .map(drop)
                .expect_err("L111");
            assert_eq!(e.to_string(), none_unix, "{late}");
            let e = with_tls!(lp
                .create_unix_connection(Recorder::default, "")
                .sock(std::os::unix::net::UnixStream::from(udp()?)))
            .await
            .map(drop)
            .expect_err("L111");
            assert!(e.to_string().starts_with(wrong_unix), "{late}: {e}");
            // The streams entry points take the same path.
            let e = with_tls!(asyncio::open_connection("", 0))
                .await
                .map(drop)
                .expect_err("S1");
            assert_eq!(e.to_string(), none_tcp, "{late}");
        }
        Ok(())
    });
}

// CPython: BaseEventLoopWithSelectorTests.test_create_connection_ssl_timeout_for_plain_socket
#[test]
fn l84_test_create_connection_ssl_timeout_for_plain_socket() {
    run(async {
        let lp = asyncio::get_running_loop()?;
        let e = lp
            .create_connection(Recorder::default, "127.0.0.1", 9)
            .ssl_handshake_timeout(Duration::from_secs(1))
            .await
            .map(drop)
            .expect_err("L84");
        assert!(matches!(e, Error::InvalidArgument(_)), "{e:?}");
        assert_eq!(e.to_string(), NO_SSL_HANDSHAKE);
        Ok(())
    });
}

#[test]
fn s9_server_tls_keywords_need_ssl_and_are_checked_before_binding() {
    // S9: a TLS timeout without ssl is refused (the "… is only meaningful with ssl" text), and
    // with ssl a zero timeout is refused (T1), by start_server, start_unix_server and the
    // loop's create_unix_server alike, before the socket file exists. (ssl=True is not
    // writable here: `ssl` takes a `rustls::ServerConfig`.)
    let dir = util::temp_dir("s9-tls");
    let path = dir.join("s.sock");
    run(async move {
        let lp = asyncio::get_running_loop()?;
        let e = asyncio::start_unix_server(echo, &path)
            .ssl_handshake_timeout(Duration::from_secs(1))
            .await
            .expect_err("S9");
        assert_eq!(e.to_string(), NO_SSL_HANDSHAKE);
        let e = asyncio::start_server(echo, "127.0.0.1", 0)
            .ssl_shutdown_timeout(Duration::from_secs(1))
            .await
            .expect_err("S9");
        assert_eq!(e.to_string(), NO_SSL_SHUTDOWN);
        let e = lp
            .create_unix_server(Recorder::default, &path)
            .ssl_shutdown_timeout(Duration::from_secs(1))
            .await
            .expect_err("S9");
        assert_eq!(e.to_string(), NO_SSL_SHUTDOWN);
        let e = asyncio::start_unix_server(echo, &path)
            .ssl(Certs::get().server_config(&[]))
            .ssl_shutdown_timeout(Duration::ZERO)
            .await
            .expect_err("T1");
        assert_eq!(
            e.to_string(),
            "ssl_shutdown_timeout should be a positive number, got 0.0"
        );
        assert!(!path.exists(), "S9: refused before binding");
        Ok(())
    });
}

/// A server configuration rustls refuses for every connection (here a `max_fragment_size`
/// below its minimum of 32) is an `Error::Tls` from start_server and create_unix_server,
/// before binding, as a bad ALPN list is (S9). Before, the server bound and served: each
/// accepted socket was closed at once and only a debug line said why, so its clients saw
/// the peer close during the handshake and nothing told the server's owner.
#[test]
fn s9_t36_a_server_configuration_rustls_refuses_is_an_error_before_binding() {
    let dir = util::temp_dir("s9-fragment");
    let path = dir.join("s.sock");
    run(async move {
        let mut config = (*Certs::get().server_config(&[])).clone();
        config.max_fragment_size = Some(10);
        let config = std::sync::Arc::new(config);
        let want = "the supplied max_fragment_size was too small or large";
        let e = asyncio::start_server(echo, "127.0.0.1", 0)
            .ssl(config.clone())
            .await
            .expect_err("served a configuration rustls refuses");
        assert!(matches!(e, Error::Tls(_)), "{e:?}");
        assert_eq!(e.to_string(), want);
        let lp = asyncio::get_running_loop()?;
        let e = lp
            .create_unix_server(Recorder::default, &path)
            .ssl(config)
            .await
            .expect_err("served a configuration rustls refuses");
        assert_eq!(e.to_string(), want);
        assert!(!path.exists(), "S9: refused before binding");
        Ok(())
    });
}

/// Runs `body` with the test certificates and the running loop, bounded as [`run`] is.
fn run_with_loop<Fut: std::future::Future<Output = Result<(), Error>>>(
    body: impl FnOnce(&'static Certs, asyncio::LoopHandle) -> Fut,
) {
    run(async { body(Certs::get(), asyncio::get_running_loop()?).await })
}
