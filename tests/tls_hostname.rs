//! Whom TLS trusts and names (issue #5, Part T): server_hostname("") with your own configuration,
//! ssl(true) against the roots, SNI, session resumption, connect_accepted_socket over TLS, and
//! server_hostname matched as given, as CPython's OpenSSL does.
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
    cert_error, close_both, echo, expired_tls_echo_server, is_expired, open_tls, plain_server, run,
    tls_echo_server, tls_err, BOUND,
};
use util::Recorder;

// ───────────── issue 17: server_hostname("") with your own client configuration ─────────────

/// Connects with `config` and `server_hostname("")`; the handshake's result.
async fn nameless(config: std::sync::Arc<rustls::ClientConfig>, port: u16) -> Result<(), Error> {
    let (reader, writer) = asyncio::open_connection("127.0.0.1", port)
        .ssl(config)
        .server_hostname("")
        .await?;
    assert!(
        writer
            .transport()
            .get_extra_info("server_hostname")
            .is_none(),
        "no name was used"
    );
    writer.write(b"ping\n")?;
    assert_eq!(reader.readline().await?, b"ping\n");
    writer.close();
    writer.wait_closed().await
}

#[test]
fn t3_t48_empty_server_hostname_with_own_config_checks_the_chain_only() {
    run(async {
        let certs = Certs::get();
        // A server whose certificate names neither the placeholder nor anything we pass.
        let (server, port) = tls_echo_server(&[]).await?;
        nameless(certs.client_config(&[]), port).await?;
        // The chain is still checked: an unknown CA is refused …
        let other = asyncio::tls::client_config_with_roots(&certs.other_ca)?;
        let e = nameless(other.into(), port).await.expect_err("unknown CA");
        assert!(
            matches!(
                cert_error(&e),
                Some(rustls::CertificateError::UnknownIssuer)
            ),
            "{e:?}"
        );
        assert!(tls_err(&e).is_certificate_error());
        server.close();
        server.wait_closed().await;
        // … and so is an expired certificate.
        let (server, port) = expired_tls_echo_server().await?;
        let e = nameless(certs.client_config(&[]), port)
            .await
            .expect_err("expired");
        assert!(is_expired(&e), "{e:?}");
        server.close();
        server.wait_closed().await;
        Ok(())
    });
}

/// `get_extra_info("server_hostname")`: the name a client used, the SNI a server received.
fn sni_of(t: &Transport) -> Option<String> {
    match t.get_extra_info("server_hostname") {
        Some(ExtraInfo::Text(name)) => Some(name),
        _ => None,
    }
}

/// `ssl(true)` with `server_hostname("")` (T3, T48): the default context's roots (here our CA,
/// through `SSL_CERT_FILE`) still verify the chain, but no SNI is sent and no name is checked.
/// And T47: `ssl(true)` offers TLS 1.3 and 1.2 only, and verifies against those roots (our CA
/// trusted, an unrelated one not). In a child process: the variable is set there, before any
/// thread reads the environment.
#[test]
fn t3_t47_t48_ssl_true_verifies_against_the_roots_and_offers_tls12_tls13_only() {
    util::in_child(
        "ASYNCIO_TEST_DEFAULT_ROOTS_CHILD",
        "t3_t47_t48_ssl_true_verifies_against_the_roots_and_offers_tls12_tls13_only",
        "default-roots child: ok",
        default_roots_child,
    );
}

/// The versions a ClientHello record offers: its supported_versions extension (TLS 1.3), or
/// its legacy version when it has none.
fn offered_versions(record: &[u8]) -> Vec<u16> {
    assert_eq!(record[0], 0x16, "a handshake record");
    let hello = &record[5..];
    assert_eq!(hello[0], 1, "a ClientHello");
    let u16_at = |b: &[u8], i: usize| u16::from_be_bytes([b[i], b[i + 1]]);
    let legacy = u16_at(hello, 4);
    let mut i = 4 + 2 + 32; // type, length, legacy_version, random
    i += 1 + hello[i] as usize; // session id
    i += 2 + u16_at(hello, i) as usize; // cipher suites
    i += 1 + hello[i] as usize; // compression methods
    let end = i + 2 + u16_at(hello, i) as usize;
    i += 2;
    while i + 4 <= end {
        let (kind, len) = (u16_at(hello, i), u16_at(hello, i + 2) as usize);
        if kind == 0x002b {
            let list = &hello[i + 5..i + 5 + hello[i + 4] as usize];
            return list
                .chunks(2)
                .map(|v| u16::from_be_bytes([v[0], v[1]]))
                .collect();
        }
        i += 4 + len;
    }
    vec![legacy]
}

/// The child of the test above.
fn default_roots_child() {
    let certs = Certs::get();
    // One test thread in this process (`--test-threads=1`, this test only): nothing reads the
    // environment while it changes.
    std::env::set_var("SSL_CERT_FILE", &certs.ca);
    std::env::remove_var("SSL_CERT_DIR");
    let sni: Rc<RefCell<Vec<Option<String>>>> = Rc::default();
    let seen = sni.clone();
    run(async move {
        // T47: the versions ssl(true) offers, from its ClientHello.
        let listener = TcpListener::bind("127.0.0.1:0")?;
        let port = listener.local_addr()?.port();
        let grab = asyncio::to_thread(move || {
            let (mut s, _) = listener.accept()?;
            s.set_read_timeout(Some(BOUND))?;
            let mut rec = vec![0u8; 5];
            io::Read::read_exact(&mut s, &mut rec)?;
            rec.resize(5 + u16::from_be_bytes([rec[3], rec[4]]) as usize, 0);
            io::Read::read_exact(&mut s, &mut rec[5..])?;
            Ok::<_, io::Error>(rec) // then the socket closes: the handshake fails
        });
        let attempt = asyncio::open_connection("127.0.0.1", port)
            .ssl(true)
            .server_hostname("localhost");
        let (hello, attempt) = futures_util::future::join(grab, attempt.into_future()).await;
        assert!(attempt.is_err(), "the peer said nothing");
        assert_eq!(
            offered_versions(&hello??),
            [0x0304, 0x0303],
            "T47: TLS 1.3 and 1.2, nothing older"
        );
        let handler = move |reader: StreamReader, writer: StreamWriter| {
            seen.borrow_mut().push(sni_of(writer.transport()));
            echo(reader, writer)
        };
        // The certificate names localhost and 127.0.0.1, never the placeholder a nameless
        // client verifies against.
        let server = asyncio::start_server(handler, "127.0.0.1", 0)
            .ssl(certs.server_config(&[]))
            .await?;
        let port = server.sockets()[0].as_inet().unwrap().port();
        let connect = |name: &'static str| async move {
            let (reader, writer) = asyncio::open_connection("127.0.0.1", port)
                .ssl(true)
                .server_hostname(name)
                .await?;
            let used = sni_of(writer.transport());
            writer.write(b"ping\n")?;
            assert_eq!(reader.readline().await?, b"ping\n");
            writer.close();
            writer.wait_closed().await?;
            Ok::<_, Error>(used)
        };
        // Controls: the default context trusts our CA (T47: its roots), and it checks names.
        assert_eq!(connect("localhost").await?.as_deref(), Some("localhost"));
        let e = connect("wrong.example")
            .await
            .expect_err("T2: the name is checked");
        assert!(
            matches!(
                cert_error(&e),
                Some(
                    rustls::CertificateError::NotValidForName
                        | rustls::CertificateError::NotValidForNameContext { .. }
                )
            ),
            "{e:?}"
        );
        // T3: "" connects, with no name on either side.
        assert_eq!(connect("").await?, None, "the client used no name");
        // T48: the chain is still verified: under roots that do not hold our CA, "" fails.
        std::env::set_var("SSL_CERT_FILE", &certs.other_ca);
        let e = connect("").await.expect_err("T48: unknown CA");
        assert!(
            matches!(
                cert_error(&e),
                Some(rustls::CertificateError::UnknownIssuer)
            ),
            "{e:?}"
        );
        server.close();
        server.wait_closed().await;
        Ok(())
    });
    // SNI as the server saw it: the named connections (the refused one included) sent one, the
    // nameless one did not; the last handshake failed before the handler ran.
    assert_eq!(
        *sni.borrow(),
        [Some("localhost".to_string()), None],
        "server-side SNI per connection that reached the handler"
    );
    println!("default-roots child: ok");
}

#[test]
fn t3_s55_start_tls_without_a_name_with_own_config_checks_the_chain_only() {
    run(async {
        let (server, port) = plain_server(|r, mut w, seen| async move {
            let up = w.start_tls(Certs::get().server_config(&[])).await;
            seen.borrow_mut()
                .push(format!("{:?}", up.as_ref().map(drop)));
            if up.is_ok() {
                let line = r.readline().await?;
                w.write(&line)?;
                w.close();
                w.wait_closed().await?;
            }
            Ok(())
        })
        .await
        .map(|(s, p, _)| (s, p))?;
        let (reader, mut writer) = asyncio::open_connection("127.0.0.1", port).await?;
        // No server_hostname: loop.start_tls never derives one (S55), and the chain is checked.
        writer.start_tls(Certs::get().client_config(&[])).await?;
        writer.write(b"upgraded\n")?;
        assert_eq!(reader.readline().await?, b"upgraded\n");
        close_both(&writer, server).await
    });
}

/// Session resumption between our client and our server (issue #16): the second connection
/// with the same client configuration resumes, both ends report it, and a connection with
/// another configuration (another session cache) does a full handshake.
#[test]
fn d13_our_client_resumes_its_session_with_our_server() {
    let certs = Certs::get();
    let server_side: Rc<RefCell<Vec<Option<bool>>>> = Rc::default();
    let seen = server_side.clone();
    let resumed = run(async move {
        let handler = move |reader: StreamReader, writer: StreamWriter| {
            seen.borrow_mut().push(writer.transport().session_resumed());
            echo(reader, writer)
        };
        let server = asyncio::start_server(handler, "127.0.0.1", 0)
            .ssl(certs.server_config(&[]))
            .await?;
        let port = server.sockets()[0].as_inet().unwrap().port();
        let shared = certs.client_config(&[]);
        let mut resumed = Vec::new();
        for config in [shared.clone(), shared, certs.client_config(&[])] {
            let (reader, writer) = asyncio::open_connection("127.0.0.1", port)
                .ssl(config)
                .server_hostname("localhost")
                .await?;
            writer.write(b"ping\n")?;
            assert_eq!(reader.readline().await?, b"ping\n"); // the ticket came before it
            resumed.push(writer.transport().session_resumed());
            writer.close();
            writer.wait_closed().await?;
        }
        server.close();
        server.wait_closed().await;
        Ok(resumed)
    });
    assert_eq!(
        resumed,
        [Some(false), Some(true), Some(false)],
        "client side"
    );
    assert_eq!(
        *server_side.borrow(),
        [Some(false), Some(true), Some(false)],
        "server side"
    );
}

/// A plain transport has no TLS session to speak of.
#[test]
fn session_resumed_is_none_without_tls() {
    run(async {
        let (a, b) = asyncio::socketpair()?;
        let (_r, w) = asyncio::open_connection_sock(a).await?;
        let (_r2, w2) = asyncio::open_connection_sock(b).await?;
        assert_eq!(w.transport().session_resumed(), None);
        w.close();
        w2.close();
        Ok(())
    });
}

/// Answers each piece of data with "roger" (test_events.py's MyProto in
/// test_connect_accepted_socket).
fn roger() -> Recorder {
    Recorder {
        on_data: Some(Box::new(|t: &Transport, _: &[u8]| {
            t.write(b"roger").unwrap()
        })),
        ..Default::default()
    }
}

// Port of test_events.py test_connect_accepted_socket with server_ssl: the server side of
// TLS on a socket our own listener accepted; the result comes after the handshake and the
// protocol's connection_made.
#[test]
fn t37_l95_connect_accepted_socket_serves_tls() {
    run(async {
        let listener = TcpListener::bind("127.0.0.1:0")?;
        let port = listener.local_addr()?.port();
        let client = asyncio::spawn(async move {
            let (reader, writer) = open_tls(port).await?;
            writer.write(b"test data")?;
            let answer = reader.readexactly(5).await?;
            writer.close();
            Ok::<_, Error>(answer)
        });
        let (accepted, _) = asyncio::to_thread(move || listener.accept()).await??;
        let lp = asyncio::get_running_loop()?;
        let (transport, proto) = lp
            .connect_accepted_socket(roger, accepted)
            .ssl(Certs::get().server_config(&[]))
            .await?;
        assert_eq!(proto.borrow().calls[0], "connection_made");
        assert!(
            transport.get_extra_info("peercert").is_none(),
            "no client certificate asked"
        );
        assert!(transport.get_extra_info("cipher").is_some(), "TLS is on");
        assert!(
            matches!(transport.get_extra_info("server_hostname"), Some(ExtraInfo::Text(n)) if n == "localhost"),
            "the SNI the client sent"
        );
        assert_eq!(client.await.expect("client task")?, b"roger");
        assert_eq!(proto.borrow().data, b"test data");
        transport.close();
        Ok(())
    });
}

// T37 with a client that never speaks TLS: the handshake times out, the call fails, and the
// protocol never hears of the connection.
#[test]
fn t37_t9_connect_accepted_socket_handshake_failure_is_the_error() {
    run(async {
        let listener = TcpListener::bind("127.0.0.1:0")?;
        let port = listener.local_addr()?.port();
        let silent = std::net::TcpStream::connect(("127.0.0.1", port))?;
        let (accepted, _) = listener.accept()?;
        let made = Rc::new(RefCell::new(false));
        let m = made.clone();
        let lp = asyncio::get_running_loop()?;
        let r = lp
            .connect_accepted_socket(
                move || {
                    *m.borrow_mut() = true;
                    Recorder::default()
                },
                accepted,
            )
            .ssl(Certs::get().server_config(&[]))
            .ssl_handshake_timeout(Duration::from_millis(50))
            .await;
        let e = r.err().expect("the handshake failed");
        // T9: Python's ConnectionAbortedError("SSL handshake is taking longer than …").
        assert!(
            matches!(&e, Error::Io(io) if io.kind() == io::ErrorKind::ConnectionAborted),
            "{e:?}"
        );
        assert!(
            *made.borrow(),
            "the protocol was made (Python makes it first)"
        );
        // The socket was closed: the silent client reads EOF (or a reset).
        let silent = asyncio::to_thread(move || {
            let mut s = silent;
            s.set_read_timeout(Some(BOUND))?;
            let mut buf = [0u8; 1];
            std::io::Read::read(&mut s, &mut buf)
        })
        .await?;
        assert!(matches!(silent, Ok(0)) || silent.is_err(), "{silent:?}");
        Ok(())
    });
}

// ───────────── server_hostname matched literally, as CPython's OpenSSL does ─────────────

/// The handshake's error when connecting to `127.0.0.1:port` (or `::1`) with `config` and
/// `name` as the server_hostname (`None`: the host's).
async fn connect_as(
    config: &std::sync::Arc<rustls::ClientConfig>,
    host: &str,
    port: u16,
    name: Option<&str>,
) -> Result<(), Error> {
    let mut open = asyncio::open_connection(host, port).ssl(config.clone());
    if let Some(name) = name {
        open = open.server_hostname(name);
    }
    let (_r, w) = open.await?;
    w.close();
    w.wait_closed().await
}

/// `e` is a refusal of the certificate for the name, naming `name` as the user gave it, in
/// its message and in every source below it, and never the stand-in rustls checked for a
/// name it cannot match as written (`unnamed.invalid`), not even in Debug or in
/// `rustls_error()`. A stand-in's refusal is rustls' `NotValidForName`: its context would
/// name the stand-in.
fn assert_mismatch_naming(e: &Error, name: &str) {
    assert!(
        matches!(
            cert_error(e),
            Some(
                rustls::CertificateError::NotValidForNameContext { .. }
                    | rustls::CertificateError::NotValidForName
            )
        ),
        "{name:?}: {e:?}"
    );
    let want = format!("not for {name:?}");
    assert!(e.to_string().contains(&want), "{name:?}: {e}");
    let mut chain = Vec::new();
    let mut next = std::error::Error::source(e);
    while let Some(s) = next {
        chain.push(s.to_string());
        next = s.source();
    }
    let rustls_words = tls_err(e).rustls_error().map(|r| r.to_string());
    let quoted = format!("{name:?}");
    assert!(
        chain.iter().any(|s| s.contains(&quoted)),
        "{name:?}: no source names it: {chain:?}"
    );
    let all = format!("{e} {e:?} {chain:?} {rustls_words:?}");
    assert!(!all.contains("unnamed.invalid"), "{name:?}: {all}");
}

/// T2, T8, S6: CPython checks server_hostname as given: `[localhost]`, `[127.0.0.1]`,
/// `localhost.`, and IPv4 in other spellings than dotted-quad (`127.1`, `0x7f.1`,
/// `2130706433`, `127.0.0.1.`) connect, then fail certificate verification ("Hostname
/// mismatch, certificate is not valid for '127.1'", `ssl.SSLCertVerificationError`;
/// CPython 3.11 probed, scratch/s24/probes/tls2/probe.py), as does `a b`. Ours trimmed
/// brackets greedily and let rustls drop a final dot (both connected), and refused the
/// others with InvalidArgument before connecting. The plain forms keep working.
#[test]
fn t2_t8_s6_server_hostname_is_matched_as_given_as_cpython_does() {
    run(async {
        let (server, port) = tls_echo_server(&[]).await?;
        let config = Certs::get().client_config(&[]);
        for name in ["localhost", "LOCALHOST", "127.0.0.1"] {
            connect_as(&config, "127.0.0.1", port, Some(name)).await?;
        }
        connect_as(&config, "127.0.0.1", port, None).await?; // S6: the host
        let odd = [
            "[localhost]",
            "[127.0.0.1]",
            "localhost.",
            "127.1",
            "0x7f.1",
            "2130706433",
            "127.0.0.1.",
            "a b",
        ];
        for name in odd {
            let e = connect_as(&config, "127.0.0.1", port, Some(name))
                .await
                .expect_err(name);
            assert_mismatch_naming(&e, name);
        }
        // In words a newcomer reads, with what to change.
        let e = connect_as(&config, "127.0.0.1", port, Some("localhost."))
            .await
            .expect_err("final dot");
        assert_eq!(
            e.to_string(),
            "certificate verify failed: the certificate is for localhost, 127.0.0.1, not for \
             \"localhost.\"; connect with one of those names, or set server_hostname to one; a \
             name is matched as written: without brackets or a final dot, an IPv4 address as \
             four decimal numbers"
        );
        // S6: a host in such a spelling is the name checked (CPython: `127.1` connects, then
        // "certificate is not valid for '127.1'").
        let e = connect_as(&config, "127.1", port, None)
            .await
            .expect_err("127.1");
        assert_mismatch_naming(&e, "127.1");
        server.close();
        server.wait_closed().await;
        Ok(())
    });
}

/// T2, S6 over IPv6, against a certificate for `::1`: the address as host or server_hostname,
/// also spelled out, connects; a bracketed host (which our resolver takes; CPython's
/// getaddrinfo does not) names the address. A bracketed server_hostname is a name CPython
/// checks as given and refuses ("certificate is not valid for '[::1]'"), `[[::1]` too (ours
/// trimmed every bracket and connected).
#[test]
fn t2_s6_ipv6_names_with_and_without_brackets() {
    if std::net::TcpListener::bind("[::1]:0").is_err() {
        eprintln!("no IPv6 loopback here: skipped");
        return;
    }
    run(async {
        let made = rcgen::generate_simple_self_signed(vec!["::1".into()]).unwrap();
        let cert = made.cert.der().clone();
        let key = rustls::pki_types::PrivatePkcs8KeyDer::from(made.key_pair.serialize_der());
        let server_config = rustls::ServerConfig::builder()
            .with_no_client_auth()
            .with_single_cert(vec![cert.clone()], key.into())
            .unwrap();
        let mut roots = rustls::RootCertStore::empty();
        roots.add(cert).unwrap();
        let config = std::sync::Arc::new(
            rustls::ClientConfig::builder()
                .with_root_certificates(roots)
                .with_no_client_auth(),
        );
        let server = asyncio::start_server(echo, "::1", 0)
            .ssl(server_config)
            .await?;
        let port = server.sockets()[0].as_inet().unwrap().port();
        connect_as(&config, "::1", port, None).await?;
        connect_as(&config, "[::1]", port, None).await?;
        connect_as(&config, "::1", port, Some("::1")).await?;
        connect_as(&config, "::1", port, Some("0:0:0:0:0:0:0:1")).await?;
        for name in ["[::1]", "[[::1]", "[::1", "::1]"] {
            let e = connect_as(&config, "::1", port, Some(name))
                .await
                .expect_err(name);
            assert_mismatch_naming(&e, name);
        }
        server.close();
        server.wait_closed().await;
        Ok(())
    });
}

/// T2: a configuration that verifies nothing connects whatever the name, also one checked
/// through the stand-in (CPython with `CERT_NONE` connects as `127.1`); the name is still
/// the one reported (`get_extra_info("server_hostname")`, T31).
#[test]
fn t2_t31_a_config_that_verifies_nothing_connects_under_any_name() {
    run(async {
        let (server, port) = tls_echo_server(&[]).await?;
        let provider = std::sync::Arc::new(rustls::crypto::ring::default_provider());
        let mut config = rustls::ClientConfig::builder_with_provider(provider.clone())
            .with_safe_default_protocol_versions()
            .unwrap()
            .with_root_certificates(rustls::RootCertStore::empty())
            .with_no_client_auth();
        config
            .dangerous()
            .set_certificate_verifier(std::sync::Arc::new(tls_helpers::AcceptAny::new(provider)));
        let config = std::sync::Arc::new(config);
        for name in ["127.1", "[localhost]", "localhost.", "example.com"] {
            let (_r, w) = asyncio::open_connection("127.0.0.1", port)
                .ssl(config.clone())
                .server_hostname(name)
                .await?;
            let seen = w
                .tls_info()
                .and_then(|i| i.server_hostname().map(str::to_owned));
            assert_eq!(seen.as_deref(), Some(name));
            w.close();
            w.wait_closed().await?;
        }
        server.close();
        server.wait_closed().await;
        Ok(())
    });
}

/// T2, S55: start_tls checks a given server_hostname as create_connection does: `127.1` is
/// refused in the handshake, naming it (ours refused it before the handshake with
/// InvalidArgument); `localhost` connects.
#[test]
fn t2_s55_start_tls_matches_server_hostname_as_given() {
    run(async {
        let (server, port, seen) = tls_helpers::start_tls_server_recording().await?;
        for (name, ok) in [("127.1", false), ("localhost", true)] {
            let (_reader, mut writer) = asyncio::open_connection("127.0.0.1", port).await?;
            let up = writer
                .start_tls(Certs::get().client_config(&[]))
                .server_hostname(name)
                .await;
            match up {
                Ok(_) if ok => {}
                Err(e) if !ok => assert_mismatch_naming(&e, name),
                other => panic!("{name:?}: {:?}", other.map(drop)),
            }
            writer.close();
        }
        tls_helpers::handler_done(&seen, 2).await;
        server.close();
        server.wait_closed().await;
        Ok(())
    });
}
