//! server_hostname rules: one rustls cannot take says why, none without ssl, one needed when
//! nothing else names the server (no host, a sock, a Unix entry), the host as the default
//! (L84, S6, S8).

use super::*;

/// A name that cannot be sent is refused before any I/O, saying why. Python encodes an
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
        // What else CPython refuses before connecting: a name its `idna` codec cannot encode
        // ("label empty or too long"), or with a NUL (TypeError). Any other ASCII name is
        // checked in the handshake, as given (tests/tls_hostname.rs, T2, T8).
        let long = format!("{}.example", "a".repeat(64));
        for name in ["a..b", ".localhost", ".", &long] {
            let e = asyncio::open_connection("127.0.0.1", 9)
                .ssl(config.clone())
                .server_hostname(name)
                .await
                .expect_err(name);
            assert!(matches!(e, Error::InvalidArgument(_)), "{name:?}: {e:?}");
            assert_eq!(
                e.to_string(),
                format!(
                    "invalid server_hostname {name:?}: a label (the text between dots) is empty \
                     or longer than 63 characters"
                )
            );
        }
        let e = asyncio::open_connection("127.0.0.1", 9)
            .ssl(config)
            .server_hostname("localhost\0")
            .await
            .expect_err("NUL");
        assert_eq!(
            e.to_string(),
            "invalid server_hostname \"localhost\\0\": it holds a NUL character"
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
