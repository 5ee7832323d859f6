//! TLS arguments (issue #5, Part T): ALPN, PEM files that cannot be read or used, server_hostname
//! rules, and the keyword checks every entry point (TCP, Unix, streams, servers) makes before
//! any I/O, as CPython's.
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
use asyncio::{Error, StreamReader, StreamWriter};
use tls_common::Certs;
use tls_helpers::{
    cert_error, close_both, echo, forwarding_recorder, loop_and_tls_echo_server, run,
    tls_echo_server, tls_err, BOUND,
};
use util::Recorder;

/// Python's `set_alpn_protocols` refuses a name of 0 or more than 255 bytes ("ALPN protocols
/// must be 1 to 255 in length"). Here the configuration is rustls', so the rule is checked
/// where it is used, before any byte is sent: before, an empty name panicked inside rustls as
/// the ClientHello was built, and a 256-byte one went out with a wrapped length (the server
/// answered decode_error). A server's list is checked before binding.
#[test]
fn alpn_names_outside_1_to_255_bytes_are_refused_before_any_io() {
    // A listener that never accepts: the TCP connect completes in its backlog, nothing answers.
    let silent = TcpListener::bind("127.0.0.1:0").unwrap();
    let port = silent.local_addr().unwrap().port();
    let expect = "ALPN protocols must be 1 to 255 in length";
    run(async move {
        let certs = Certs::get();
        for bad in [&b""[..], &[b'a'; 256][..]] {
            let client = certs.client_config(&[b"h2", bad]);
            let e = asyncio::open_connection("127.0.0.1", port)
                .ssl(client.clone())
                .server_hostname("localhost")
                .await
                .expect_err("a bad ALPN name");
            assert!(matches!(e, Error::InvalidArgument(_)), "{e:?}");
            assert_eq!(e.to_string(), expect);
            let lp = asyncio::get_running_loop()?;
            let (plain, protocol) = lp
                .create_connection(Recorder::default, "127.0.0.1", port)
                .await?;
            let e = lp
                .start_tls(&plain, protocol, client, false)
                .await
                .expect_err("a bad ALPN name, start_tls");
            assert_eq!(e.to_string(), expect);
            let (plain, protocol) = lp
                .create_connection(Recorder::default, "127.0.0.1", port)
                .await?;
            let e = lp
                .start_tls(&plain, protocol, certs.server_config(&[bad]), true)
                .ssl_handshake_timeout(Duration::from_secs(2))
                .await
                .expect_err("a bad ALPN name, server-side start_tls");
            assert_eq!(e.to_string(), expect);
            let e = asyncio::start_server(echo, "127.0.0.1", 0)
                .ssl(certs.server_config(&[bad]))
                .await
                .expect_err("a bad ALPN name, server");
            assert_eq!(e.to_string(), expect);
        }
        // The limits themselves are fine: 1 and 255 bytes.
        let alpn = negotiated_alpn(&[&[b'a'; 255], b"x"], certs.client_config(&[&[b'a'; 255]]));
        assert_eq!(alpn.await?, Some(vec![b'a'; 255]));
        Ok(())
    });
    drop(silent);
}

/// The ALPN protocol a TLS echo server offering `server_alpn` and a client with `client`
/// agree on; both closed after.
async fn negotiated_alpn(
    server_alpn: &[&[u8]],
    client: std::sync::Arc<rustls::ClientConfig>,
) -> Result<Option<Vec<u8>>, Error> {
    let (server, port) = tls_echo_server(server_alpn).await?;
    let (_reader, writer) = asyncio::open_connection("127.0.0.1", port)
        .ssl(client)
        .await?;
    let alpn = writer.transport().alpn_protocol();
    writer.close();
    writer.wait_closed().await?;
    server.close();
    server.wait_closed().await;
    Ok(alpn)
}

/// A list of ALPN names whose encoding overflows the ClientHello is refused before any I/O.
/// Each name may be 1 to 255 bytes, but the ClientHello carries the list, and the extensions
/// around it, under 16-bit lengths: 257 names of 255 bytes (65,792 bytes encoded) aborted the
/// process in rustls' encoder (an overflow assertion in a destructor, hit again while
/// unwinding), and a release build sent a wrapped length. The list may take 32 KiB encoded.
#[test]
fn an_alpn_list_too_long_for_a_client_hello_is_refused_before_any_io() {
    let silent = TcpListener::bind("127.0.0.1:0").unwrap();
    let port = silent.local_addr().unwrap().port();
    // `n` names of 255 bytes, each with its length byte: 256 * n bytes encoded.
    let names = |n: u32| -> Vec<Vec<u8>> {
        (0..n)
            .map(|i| {
                let mut name = vec![b'a'; 255];
                name[..4].copy_from_slice(&i.to_be_bytes());
                name
            })
            .collect()
    };
    let config = |names: &[Vec<u8>]| {
        let names: Vec<&[u8]> = names.iter().map(Vec::as_slice).collect();
        Certs::get().client_config(&names)
    };
    run(async move {
        let at_the_limit = names(128); // 32,768 bytes encoded
        let mut over = at_the_limit.clone();
        over.push(b"x".to_vec()); // 2 bytes more
        for bad in [names(257), over] {
            let e = asyncio::open_connection("127.0.0.1", port)
                .ssl(config(&bad))
                .server_hostname("localhost")
                .await
                .expect_err("an ALPN list too long");
            assert!(matches!(e, Error::InvalidArgument(_)), "{e:?}");
            assert!(
                e.to_string().starts_with("ALPN protocol list too long: "),
                "{e}"
            );
        }
        // At the limit the handshake completes (a server without ALPN ignores the list).
        assert_eq!(negotiated_alpn(&[], config(&at_the_limit)).await?, None);
        Ok(())
    });
    drop(silent);
}

/// A PEM file that cannot be read is the OSError Python raises for it (`load_cert_chain`,
/// `load_verify_locations`, `create_default_context(cafile=…)`: `FileNotFoundError(2, …)`,
/// `IsADirectoryError(21, …)`): the errno survives in `raw_os_error()`, and the text leads with
/// it and names the file. Before, the error was rewrapped with the path and lost its errno.
#[test]
fn unreadable_pem_files_keep_their_errno_and_name_the_file() {
    let dir = util::temp_dir("pem-errno");
    let missing = dir.join("missing.pem");
    let certs = Certs::get();
    let cases: [(&str, Result<(), Error>, &std::path::Path, i32); 6] = [
        (
            "load_certs",
            asyncio::tls::load_certs(&missing).map(drop),
            &missing,
            libc::ENOENT,
        ),
        (
            "load_private_key",
            asyncio::tls::load_private_key(&missing).map(drop),
            &missing,
            libc::ENOENT,
        ),
        (
            "client_config_with_roots",
            asyncio::tls::client_config_with_roots(&missing).map(drop),
            &missing,
            libc::ENOENT,
        ),
        (
            "server_config, key",
            asyncio::tls::server_config(&certs.cert, &missing).map(drop),
            &missing,
            libc::ENOENT,
        ),
        (
            "load_certs, a directory",
            asyncio::tls::load_certs(&*dir).map(drop),
            &dir,
            libc::EISDIR,
        ),
        (
            "server_config, a directory",
            asyncio::tls::server_config(&*dir, &certs.key).map(drop),
            &dir,
            libc::EISDIR,
        ),
    ];
    for (what, r, path, errno) in cases {
        let e = r.expect_err(what);
        assert!(matches!(e, Error::Io(_)), "{what}: {e:?}");
        assert_eq!(e.raw_os_error(), Some(errno), "{what}: {e:?}");
        assert_eq!(
            e.kind(),
            io::Error::from_raw_os_error(errno).kind(),
            "{what}"
        );
        let text = io::Error::from_raw_os_error(errno).to_string();
        let strerror = text.split(" (os error").next().unwrap();
        assert_eq!(
            e.to_string(),
            format!("[Errno {errno}] {strerror}: '{}'", path.display()),
            "{what}"
        );
    }
}

/// A key that does not belong to the certificate is refused when the configuration is made,
/// as Python's `load_cert_chain` does (`[X509: KEY_VALUES_MISMATCH] key values mismatch`), in
/// words a newcomer can act on; before, the text was rustls' `keys may not be consistent:
/// KeyMismatch`. The same holds for a chain file that starts with its CA instead of the leaf.
#[test]
fn a_key_that_does_not_match_the_certificate_is_refused_in_plain_words() {
    let certs = Certs::get();
    let dir = util::temp_dir("key-mismatch");
    let ca_first = dir.join("ca-first.pem");
    let chain = std::fs::read_to_string(&certs.ca).unwrap()
        + &std::fs::read_to_string(&certs.cert).unwrap();
    std::fs::write(&ca_first, chain).unwrap();
    for (cert, key) in [(&certs.cert, &certs.client_key), (&ca_first, &certs.key)] {
        let e = asyncio::tls::server_config(cert, key).expect_err("a key of another certificate");
        let t = tls_err(&e);
        assert!(
            matches!(
                t.rustls_error(),
                Some(rustls::Error::InconsistentKeys(
                    rustls::InconsistentKeys::KeyMismatch
                ))
            ),
            "{e:?}"
        );
        let text = e.to_string();
        assert!(text.starts_with("key values mismatch: "), "{text}");
        assert!(
            text.contains("does not belong to the certificate"),
            "{text}"
        );
        assert!(!text.contains("KeyMismatch"), "no rustls jargon: {text}");
    }
}

/// A password-protected key (PKCS#8 `ENCRYPTED PRIVATE KEY`, or OpenSSL's traditional
/// `Proc-Type: 4,ENCRYPTED` form) cannot be used here (Python's `load_cert_chain` would ask
/// for the password): the error says so and how to decrypt it. Before, the first read "no
/// private key found" and the second "not a valid PEM file: base64 decode error:
/// InvalidCharacter(45)".
#[test]
fn an_encrypted_private_key_is_named_as_such() {
    let dir = util::temp_dir("encrypted-key");
    let body = "MIIBvTBXBgkqhkiG9w0BBQ0wSjApBgkqhkiG9w0BBQwwHAQI\n";
    let pkcs8 = dir.join("pkcs8.pem");
    std::fs::write(
        &pkcs8,
        format!(
            "-----BEGIN ENCRYPTED PRIVATE KEY-----\n{body}-----END ENCRYPTED PRIVATE KEY-----\n"
        ),
    )
    .unwrap();
    let traditional = dir.join("traditional.pem");
    std::fs::write(
        &traditional,
        format!(
            "-----BEGIN RSA PRIVATE KEY-----\nProc-Type: 4,ENCRYPTED\n\
             DEK-Info: AES-256-CBC,E7ABC1C3656691E1B4851013642688A7\n\n{body}\
             -----END RSA PRIVATE KEY-----\n"
        ),
    )
    .unwrap();
    for path in [&pkcs8, &traditional] {
        for e in [
            asyncio::tls::load_private_key(path).map(drop).unwrap_err(),
            asyncio::tls::server_config(&Certs::get().cert, path)
                .map(drop)
                .unwrap_err(),
        ] {
            assert!(matches!(e, Error::InvalidArgument(_)), "{e:?}");
            assert_eq!(
                e.to_string(),
                format!(
                    "the private key in {0} is encrypted (password-protected), which is not \
                     supported: decrypt it first, e.g. openssl pkey -in {0} -out key.pem",
                    path.display()
                )
            );
        }
    }
    // A file with no key at all still says that.
    let e = asyncio::tls::load_private_key(&Certs::get().cert).unwrap_err();
    assert!(e.to_string().starts_with("no private key found in "), "{e}");
}

/// A name rustls cannot take is refused before any I/O, saying why. Python encodes an
/// internationalized name to its IDNA form itself (`bücher.example` goes out as
/// `xn--bcher-kva.example`); rustls takes ASCII names only, so the error says which form to
/// give, also when the name came from the host (S6) rather than from `server_hostname`.
/// Before, both read only `invalid server_hostname "…"`.
#[test]
fn s6_a_server_hostname_rustls_cannot_take_says_why() {
    run(async {
        let config = Certs::get().client_config(&[]);
        let e = asyncio::open_connection("127.0.0.1", 9)
            .ssl(config.clone())
            .server_hostname("bücher.example")
            .await
            .expect_err("not ASCII");
        assert!(matches!(e, Error::InvalidArgument(_)), "{e:?}");
        assert_eq!(
            e.to_string(),
            "invalid server_hostname \"bücher.example\": rustls takes ASCII names only; give an \
             internationalized name in its IDNA (xn--) form"
        );
        let e = asyncio::open_connection("bücher.example", 9)
            .ssl(config.clone())
            .await
            .expect_err("not ASCII, from the host");
        assert!(e.to_string().contains("in its IDNA (xn--) form"), "{e}");
        let e = asyncio::open_connection("127.0.0.1", 9)
            .ssl(config)
            .server_hostname("a b")
            .await
            .expect_err("no DNS name");
        assert_eq!(
            e.to_string(),
            "invalid server_hostname \"a b\": neither a DNS name nor an IP address"
        );
        Ok(())
    });
}

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
        assert_eq!(e.to_string(), "server_hostname is only meaningful with ssl");
        let e = asyncio::open_connection("127.0.0.1", 9)
            .ssl_shutdown_timeout(Duration::from_secs(1))
            .await
            .expect_err("L84");
        assert_eq!(
            e.to_string(),
            "ssl_shutdown_timeout is only meaningful with ssl"
        );
        let e = asyncio::open_unix_connection("/nonexistent/sock")
            .ssl(true)
            .await
            .expect_err("S8");
        assert_eq!(
            e.to_string(),
            "you have to pass server_hostname when using ssl"
        );
        let (a, _b) = asyncio::socketpair()?;
        let e = asyncio::open_connection_sock(a)
            .ssl(certs.client_config(&[]))
            .await
            .expect_err("S6/S7");
        assert_eq!(
            e.to_string(),
            "You must set server_hostname when using ssl without a host"
        );
        let e = asyncio::start_server(echo, "127.0.0.1", 0)
            .ssl_handshake_timeout(Duration::from_secs(1))
            .await
            .expect_err("L96");
        assert_eq!(
            e.to_string(),
            "ssl_handshake_timeout is only meaningful with ssl"
        );
        Ok(())
    });
}

// S8, L111: the Unix entry points ask for server_hostname with ssl also when given a socket
// in place of a path (CPython's create_unix_connection: "you have to pass server_hostname when
// using ssl", whatever it connects). Ours used to answer with create_connection's rule for a
// socket ("You must set server_hostname when using ssl without a host").
#[test]
fn s8_a_unix_entry_given_a_sock_asks_for_server_hostname_with_ssl() {
    run(async {
        let certs = Certs::get();
        let want = "you have to pass server_hostname when using ssl";
        let (a, _b) = asyncio::socketpair()?;
        let e = asyncio::open_unix_connection("")
            .sock(a)
            .ssl(certs.client_config(&[]))
            .await
            .expect_err("S8 with sock");
        assert_eq!(e.to_string(), want);
        let (a, _b) = asyncio::socketpair()?;
        let lp = asyncio::get_running_loop()?;
        let e = lp
            .create_unix_connection(Recorder::default, "")
            .sock(a)
            .ssl(certs.client_config(&[]))
            .await
            .map(drop)
            .expect_err("S8 with sock, the loop method");
        assert_eq!(e.to_string(), want);
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
        assert_eq!(e.to_string(), "server_hostname is only meaningful with ssl");
        let e = lp
            .create_unix_connection(Recorder::default, "/dev/null")
            .ssl(true)
            .await
            .map(drop)
            .expect_err("ssl_noserverhost");
        assert_eq!(
            e.to_string(),
            "you have to pass server_hostname when using ssl"
        );
        let e = lp
            .create_unix_connection(Recorder::default, &spam)
            .ssl_handshake_timeout(Duration::from_secs(1))
            .await
            .map(drop)
            .expect_err("connection ssl_timeout_with_plain_sock");
        assert_eq!(
            e.to_string(),
            "ssl_handshake_timeout is only meaningful with ssl"
        );
        let e = lp
            .create_unix_server(Recorder::default, &spam)
            .ssl_handshake_timeout(Duration::from_secs(1))
            .await
            .map(drop)
            .expect_err("server ssl_timeout_with_plain_sock");
        assert_eq!(
            e.to_string(),
            "ssl_handshake_timeout is only meaningful with ssl"
        );
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
    run(async {
        let certs = Certs::get();
        let lp = asyncio::get_running_loop()?;
        let path = "/nonexistent/sock";
        let (a, _b) = asyncio::socketpair()?;
        let e = asyncio::open_unix_connection(path)
            .sock(a)
            .server_hostname("x")
            .await
            .expect_err("S6");
        assert_eq!(e.to_string(), "server_hostname is only meaningful with ssl");
        let (a, _b) = asyncio::socketpair()?;
        let e = lp
            .create_unix_connection(Recorder::default, path)
            .sock(a)
            .ssl_shutdown_timeout(Duration::from_secs(1))
            .await
            .map(drop)
            .expect_err("L84");
        assert_eq!(
            e.to_string(),
            "ssl_shutdown_timeout is only meaningful with ssl"
        );
        let (a, _b) = asyncio::socketpair()?;
        let e = asyncio::open_unix_connection(path)
            .sock(a)
            .ssl(certs.client_config(&[]))
            .await
            .expect_err("S8");
        assert_eq!(
            e.to_string(),
            "you have to pass server_hostname when using ssl"
        );
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
    run(async {
        let certs = Certs::get();
        let lp = asyncio::get_running_loop()?;
        let conflict = "host/port and sock can not be specified at the same time";
        let (a, _b) = asyncio::socketpair()?;
        let e = asyncio::open_connection("127.0.0.1", 9)
            .sock(a)
            .server_hostname("x")
            .await
            .expect_err("S6");
        assert_eq!(e.to_string(), "server_hostname is only meaningful with ssl");
        let (a, _b) = asyncio::socketpair()?;
        let e = lp
            .create_connection(Recorder::default, "127.0.0.1", 9)
            .sock(a)
            .ssl_shutdown_timeout(Duration::from_secs(1))
            .await
            .map(drop)
            .expect_err("L84");
        assert_eq!(
            e.to_string(),
            "ssl_shutdown_timeout is only meaningful with ssl"
        );
        // A port and no host: nothing names the server.
        let (a, _b) = asyncio::socketpair()?;
        let e = asyncio::open_connection("", 9)
            .sock(a)
            .ssl(certs.client_config(&[]))
            .await
            .expect_err("S6/S7");
        assert_eq!(
            e.to_string(),
            "You must set server_hostname when using ssl without a host"
        );
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

// CPython: BaseEventLoopWithSelectorTests.test_create_connection_no_ssl_server_hostname_errors
#[test]
fn l84_test_create_connection_no_ssl_server_hostname_errors() {
    // Without ssl a server_hostname is refused, an empty one too (Python's '' is not None).
    run(async {
        let lp = asyncio::get_running_loop()?;
        for name in ["", "python.org"] {
            let e = lp
                .create_connection(Recorder::default, "127.0.0.1", 9)
                .server_hostname(name)
                .await
                .map(drop)
                .expect_err("L84");
            assert!(matches!(e, Error::InvalidArgument(_)), "{name:?}: {e:?}");
            assert_eq!(e.to_string(), "server_hostname is only meaningful with ssl");
        }
        Ok(())
    });
}

// CPython: BaseEventLoopWithSelectorTests.test_create_connection_ssl_server_hostname_errors
#[test]
fn l84_test_create_connection_ssl_server_hostname_errors() {
    // With ssl and no host (Python's '' and None are both "" here), or a socket and no host,
    // nothing names the server.
    run(async {
        let certs = Certs::get();
        let lp = asyncio::get_running_loop()?;
        let want = "You must set server_hostname when using ssl without a host";
        let e = lp
            .create_connection(Recorder::default, "", 80)
            .ssl(certs.client_config(&[]))
            .await
            .map(drop)
            .expect_err("no host");
        assert_eq!(e.to_string(), want);
        let (a, _b) = asyncio::socketpair()?;
        let e = lp
            .create_connection(Recorder::default, "", 0)
            .sock(a)
            .ssl(certs.client_config(&[]))
            .await
            .map(drop)
            .expect_err("sock, no host");
        assert_eq!(e.to_string(), want);
        assert_eq!(lp.stats().io_registrations, 0);
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
        assert_eq!(
            e.to_string(),
            "ssl_handshake_timeout is only meaningful with ssl"
        );
        Ok(())
    });
}

// CPython: BaseEventLoopWithSelectorTests.test_create_connection_ssl_server_hostname_default
#[test]
fn l84_test_create_connection_ssl_server_hostname_default() {
    // With ssl and no server_hostname the host is the name checked: the leaf is for
    // `localhost` and `127.0.0.1`, so connecting as "localhost" passes and the address,
    // given as a host name it is not, fails.
    run(async {
        let lp = asyncio::get_running_loop()?;
        let (_server, port) = tls_echo_server(&[]).await?;
        let (t, _p) = lp
            .create_connection(Recorder::default, "localhost", port)
            .ssl(Certs::get().client_config(&[]))
            .await?;
        t.close();
        let e = lp
            .create_connection(Recorder::default, "127.0.0.1", port)
            .ssl(Certs::get().client_config(&[]))
            .server_hostname("python.org")
            .await
            .map(drop)
            .expect_err("the name given replaces the host");
        assert!(cert_error(&e).is_some(), "{e:?}");
        Ok(())
    });
}

/// Answers one request line with a response whose body is `Test message`, then closes: the
/// `run_test_server` of CPython's stream tests, over TLS.
async fn http_like(reader: StreamReader, writer: StreamWriter) -> Result<(), Error> {
    reader.readline().await?;
    writer.write(b"HTTP/1.0 200 OK\r\n\r\nTest message")?;
    writer.close();
    writer.wait_closed().await
}

/// CPython's `_basetest_open_connection_no_loop_ssl`: a request, the whole response up to
/// EOF, and no report to the loop's exception handler.
async fn get_test_message(reader: StreamReader, writer: StreamWriter) -> Result<(), Error> {
    writer.write(b"GET / HTTP/1.0\r\n\r\n")?;
    let data = reader.read(-1).await?;
    assert!(data.ends_with(b"\r\n\r\nTest message"), "{data:?}");
    writer.close();
    writer.wait_closed().await
}

// CPython: test_streams.StreamTests.test_open_connection_no_loop_ssl
#[test]
fn s1_t2_t38_test_open_connection_no_loop_ssl() {
    let seen = Rc::new(RefCell::new(Vec::new()));
    let s = seen.clone();
    run(async move {
        let lp = asyncio::get_running_loop()?;
        lp.set_exception_handler(Some(
            move |_: &asyncio::LoopHandle, ctx: &asyncio::ExceptionContext| {
                s.borrow_mut().push(ctx.message.clone())
            },
        ));
        let server = asyncio::start_server(http_like, "127.0.0.1", 0)
            .ssl(Certs::get().server_config(&[]))
            .await?;
        let port = server.sockets()[0].as_inet().unwrap().port();
        let (reader, writer) = asyncio::open_connection("127.0.0.1", port)
            .ssl(Certs::get().client_config(&[]))
            .await?;
        get_test_message(reader, writer).await?;
        server.close();
        server.wait_closed().await;
        Ok(())
    });
    assert!(seen.borrow().is_empty(), "{:?}", seen.borrow());
}

// CPython: test_streams.StreamTests.test_open_unix_connection_no_loop_ssl
#[test]
fn s3_s8_t3_test_open_unix_connection_no_loop_ssl() {
    // Over a Unix socket with server_hostname '' (no name to check, as Python's '').
    let dir = util::temp_dir("s3-no-loop-ssl");
    let path = dir.join("s.sock");
    let seen = Rc::new(RefCell::new(Vec::new()));
    let s = seen.clone();
    run(async move {
        let lp = asyncio::get_running_loop()?;
        lp.set_exception_handler(Some(
            move |_: &asyncio::LoopHandle, ctx: &asyncio::ExceptionContext| {
                s.borrow_mut().push(ctx.message.clone())
            },
        ));
        let server = asyncio::start_unix_server(http_like, &path)
            .ssl(Certs::get().server_config(&[]))
            .await?;
        let (reader, writer) = asyncio::open_unix_connection(&path)
            .ssl(Certs::get().client_config(&[]))
            .server_hostname("")
            .await?;
        get_test_message(reader, writer).await?;
        server.close();
        server.wait_closed().await;
        Ok(())
    });
    assert!(seen.borrow().is_empty(), "{:?}", seen.borrow());
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
        assert_eq!(
            e.to_string(),
            "ssl_handshake_timeout is only meaningful with ssl"
        );
        let e = asyncio::start_server(echo, "127.0.0.1", 0)
            .ssl_shutdown_timeout(Duration::from_secs(1))
            .await
            .expect_err("S9");
        assert_eq!(
            e.to_string(),
            "ssl_shutdown_timeout is only meaningful with ssl"
        );
        let e = lp
            .create_unix_server(Recorder::default, &path)
            .ssl_shutdown_timeout(Duration::from_secs(1))
            .await
            .expect_err("S9");
        assert_eq!(
            e.to_string(),
            "ssl_shutdown_timeout is only meaningful with ssl"
        );
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

#[test]
fn t8_failed_handshake_never_reaches_the_protocol() {
    let (lp, server, port) = loop_and_tls_echo_server();
    let (factory, made) = forwarding_recorder();
    let connect = lp
        .create_connection(factory, "127.0.0.1", port)
        .ssl(Certs::get().client_config(&[]))
        .server_hostname("wrong.example");
    let r = lp
        .run_until_complete(asyncio::timeout(BOUND, connect.into_future()))
        .unwrap()
        .unwrap();
    assert!(r.is_err());
    // The server's side ends too; by then every callback of ours has run: none may reach
    // the protocol (T8).
    util::run_until(&lp, 1000, || server.connection_count() == 0);
    lp.run_once(Some(Duration::ZERO)).unwrap();
    let rec = made.borrow().clone().expect("factory ran");
    assert!(rec.borrow().calls.is_empty(), "{:?}", rec.borrow().calls);
    server.close();
}

#[test]
fn t32_tls_in_tls_through_loop_start_tls() {
    run(async {
        // A STARTTLS exchange inside a TLS connection: both sides run a second TLS session
        // whose records are the outer session's plaintext.
        let certs = Certs::get();
        let server = asyncio::start_server(
            |reader: StreamReader, mut writer: StreamWriter| async move {
                assert_eq!(reader.readline().await?, b"STARTTLS\n");
                writer.write(b"GO\n")?;
                writer.start_tls(Certs::get().server_config(&[])).await?;
                let line = reader.readline().await?;
                writer.write(&line)?;
                writer.close();
                writer.wait_closed().await
            },
            "127.0.0.1",
            0,
        )
        .ssl(certs.server_config(&[]))
        .await?;
        let port = server.sockets()[0].as_inet().unwrap().port();
        let (reader, mut writer) = asyncio::open_connection("127.0.0.1", port)
            .ssl(certs.client_config(&[]))
            .server_hostname("localhost")
            .await?;
        writer.write(b"STARTTLS\n")?;
        assert_eq!(reader.readline().await?, b"GO\n");
        writer
            .start_tls(certs.client_config(&[]))
            .server_hostname("localhost")
            .await?;
        writer.write(b"inner\n")?;
        assert_eq!(reader.readline().await?, b"inner\n");
        close_both(&writer, server).await
    });
}
