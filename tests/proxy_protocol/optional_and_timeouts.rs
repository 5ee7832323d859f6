//! `Optional` and the header timeout: a client without a header, a silent one, the start of a
//! signature at the timeout; a header that never completes; huge and zero timeouts.

use super::*;

#[test]
fn optional_serves_a_client_without_header_and_loses_nothing() {
    asyncio::run(async {
        let log = Log::default();
        let (server, port) = proxy_server(ProxyProtocol::Optional, &log).await?;
        assert_eq!(client(port, &[b"hello"]).await, b"ok");
        // Starts like the v1 signature, then is not one: every byte still arrives.
        assert_eq!(client(port, &[b"P", b"OST /"]).await, b"ok");
        // Shorter than a signature, then EOF: the bytes are the client's.
        assert_eq!(client(port, &[b"\r\n"]).await, b"ok");
        // And a header is still read when sent.
        let h = b"PROXY TCP4 192.0.2.9 198.51.100.7 1 2\r\n";
        assert_eq!(client(port, &[h, b"x"]).await, b"ok");
        let seen = log.borrow().clone();
        assert_eq!(seen[0].data, b"hello");
        assert!(seen[0].header.is_none() && seen[0].proxy_peer.is_none());
        assert!(seen[0].peer.starts_with("127.0.0.1:"));
        assert_eq!(seen[1].data, b"POST /");
        assert_eq!(seen[2].data, b"\r\n");
        assert_eq!(seen[3].peer, "192.0.2.9:1");
        server.close();
        Ok::<_, asyncio::Error>(())
    })
    .unwrap()
    .unwrap();
}

/// Debug lines of the crate that mention `needle`, counted from the first call on (a global
/// logger, installed once; the tests of this binary run in parallel, so each counts its own
/// message).
fn count_logs(needle: &'static str) -> impl Fn() -> usize {
    use std::sync::{Mutex, OnceLock};
    struct Capture(Mutex<Vec<String>>);
    impl log::Log for Capture {
        fn enabled(&self, m: &log::Metadata) -> bool {
            m.target() == "asyncio"
        }
        fn log(&self, r: &log::Record) {
            if self.enabled(r.metadata()) && r.level() == log::Level::Debug {
                self.0.lock().unwrap().push(r.args().to_string());
            }
        }
        fn flush(&self) {}
    }
    static LOGGER: OnceLock<&'static Capture> = OnceLock::new();
    let logger = *LOGGER.get_or_init(|| {
        let l: &'static Capture = Box::leak(Box::new(Capture(Mutex::new(Vec::new()))));
        let _ = log::set_logger(l);
        log::set_max_level(log::LevelFilter::Debug);
        l
    });
    move || {
        let lines = logger.0.lock().unwrap();
        lines.iter().filter(|l| l.contains(needle)).count()
    }
}

#[test]
fn a_header_that_never_completes_times_out() {
    let timeouts_logged = count_logs("no PROXY header within 20ms");
    asyncio::run(async {
        let log = Log::default();
        let server = asyncio::start_server(recorder(&log), "127.0.0.1", 0)
            .proxy_protocol(ProxyProtocol::Required)
            .proxy_protocol_timeout(Duration::from_millis(20))
            .await?;
        let port = util::port_of(&server);
        let got = asyncio::timeout(Duration::from_secs(10), async {
            let (reader, writer) = asyncio::open_connection("127.0.0.1", port).await?;
            writer.write(b"PROXY TCP4 1.2.")?; // and nothing more, no EOF either
            Ok::<_, asyncio::Error>(reader.read(-1).await.unwrap_or_default())
        })
        .await??;
        assert_eq!(got, b"", "the server closed the connection");
        assert!(log.borrow().is_empty());
        assert_eq!(
            timeouts_logged(),
            1,
            "one debug line for the refused connection"
        );
        server.close();
        Ok::<_, asyncio::Error>(())
    })
    .unwrap()
    .unwrap();
}

#[test]
fn optional_serves_a_silent_client_at_the_timeout() {
    // A server-speaks-first protocol: the client sends nothing until greeted. With Optional,
    // the timeout finds no header begun, and the client is served as a direct one.
    asyncio::run(async {
        let greeter = |reader: StreamReader, writer: StreamWriter| async move {
            writer.write(b"220 hello\r\n")?;
            let line = reader.readline().await?;
            writer.write(&line)?;
            writer.close();
            Ok::<_, asyncio::Error>(())
        };
        let server = asyncio::start_server(greeter, "127.0.0.1", 0)
            .proxy_protocol(ProxyProtocol::Optional)
            .proxy_protocol_timeout(Duration::from_millis(20))
            .await?;
        let port = util::port_of(&server);
        let got = asyncio::timeout(Duration::from_secs(10), async {
            let (reader, writer) = asyncio::open_connection("127.0.0.1", port).await?;
            let greeting = reader.readline().await?;
            writer.write(b"QUIT\r\n")?;
            let echo = reader.read(-1).await?;
            Ok::<_, asyncio::Error>((greeting, echo))
        })
        .await??;
        assert_eq!(got.0, b"220 hello\r\n");
        assert_eq!(got.1, b"QUIT\r\n");
        // A header begun and never completed is still refused at the timeout.
        let cut = asyncio::timeout(Duration::from_secs(10), async {
            let (reader, writer) = asyncio::open_connection("127.0.0.1", port).await?;
            writer.write(b"PROXY TCP4 1.2.")?;
            Ok::<_, asyncio::Error>(reader.read(-1).await.unwrap_or_default())
        })
        .await??;
        assert_eq!(cut, b"", "closed without a greeting");
        server.close();
        Ok::<_, asyncio::Error>(())
    })
    .unwrap()
    .unwrap();
}

#[test]
fn huge_timeouts_are_accepted() {
    asyncio::run(async {
        let log = Log::default();
        let server = asyncio::start_server(recorder(&log), "127.0.0.1", 0)
            .proxy_protocol(ProxyProtocol::Required)
            .proxy_protocol_timeout(Duration::MAX)
            .await?;
        let port = util::port_of(&server);
        assert_eq!(client(port, &[b"PROXY UNKNOWN\r\n", b"m"]).await, b"ok");
        server.close();
        Ok::<_, asyncio::Error>(())
    })
    .unwrap()
    .unwrap();
}

#[test]
fn a_zero_timeout_is_refused_before_serving_as_tls_timeouts_are_t1() {
    // A zero header timer races the first read: an `Optional` server could serve a proxied
    // client as a direct one. Refused like a zero ssl_handshake_timeout (T1), when awaited,
    // before anything is bound; the smallest positive duration is fine.
    asyncio::run(async {
        let dir = util::temp_dir("proxy-zero");
        let path = dir.join("s.sock");
        let expected = "proxy_protocol_timeout should be a positive number, got 0.0";
        for mode in [ProxyProtocol::Required, ProxyProtocol::Optional] {
            let e = asyncio::start_server(recorder(&Log::default()), "127.0.0.1", 0)
                .proxy_protocol(mode)
                .proxy_protocol_timeout(Duration::ZERO)
                .await
                .expect_err("a zero timeout");
            assert!(matches!(e, asyncio::Error::InvalidArgument(_)), "{e:?}");
            assert_eq!(e.to_string(), expected);
            let e = asyncio::start_unix_server(recorder(&Log::default()), &path)
                .proxy_protocol(mode)
                .proxy_protocol_timeout(Duration::ZERO)
                .await
                .expect_err("a zero timeout");
            assert_eq!(e.to_string(), expected);
            assert!(!path.exists(), "refused before binding");
        }
        let server = asyncio::start_server(recorder(&Log::default()), "127.0.0.1", 0)
            .proxy_protocol(ProxyProtocol::Optional)
            .proxy_protocol_timeout(Duration::from_nanos(1))
            .await?;
        server.close();
        Ok::<_, asyncio::Error>(())
    })
    .unwrap()
    .unwrap();
}

/// `Optional`: a client that sent only the start of a signature (an empty line begins the v2
/// one) and then waits for an answer is served at the timeout as a direct client, its bytes
/// included, exactly as it is when it sends the same bytes and then EOF
/// (`eof_waits_behind_bytes_held_for_a_paused_protocol`). A balancer sends its header at
/// once, so a stall inside the signature is a direct client's short first message. It used
/// to be refused at the timeout but served at the EOF. `Required` refuses it at the timeout;
/// a whole signature and no header is refused in both modes
/// (`optional_serves_a_silent_client_at_the_timeout`).
#[test]
fn optional_serves_the_start_of_a_signature_at_the_timeout_as_at_eof() {
    let prefixes: [&[u8]; 4] = [b"\r\n", b"\r\n\r\n\0\r\nQUI", b"P", b"PROXY"];
    asyncio::run(async move {
        for mode in [ProxyProtocol::Optional, ProxyProtocol::Required] {
            let log = Log::default();
            let server = asyncio::start_server(recorder(&log), "127.0.0.1", 0)
                .proxy_protocol(mode)
                .proxy_protocol_timeout(Duration::from_millis(20))
                .await?;
            let port = util::port_of(&server);
            for prefix in prefixes {
                // Sent, then no EOF: the client waits for the server's answer.
                let answer = asyncio::timeout(Duration::from_secs(10), async {
                    let (reader, writer) = asyncio::open_connection("127.0.0.1", port).await?;
                    writer.write(prefix)?;
                    let answer = reader.read(-1).await.unwrap_or_default();
                    writer.close();
                    Ok::<_, asyncio::Error>(answer)
                })
                .await??;
                let at_eof = client(port, &[prefix]).await;
                if mode == ProxyProtocol::Required {
                    assert_eq!(
                        (&answer[..], &at_eof[..]),
                        (&b""[..], &b""[..]),
                        "{prefix:?}"
                    );
                    continue;
                }
                assert_eq!(answer, b"ok", "{prefix:?}: served at the timeout");
                assert_eq!(at_eof, b"ok", "{prefix:?}: served at the EOF");
            }
            let seen = log.borrow().clone();
            if mode == ProxyProtocol::Optional {
                assert_eq!(seen.len(), 2 * prefixes.len());
                for (s, prefix) in seen.iter().zip(prefixes.iter().flat_map(|p| [p, p])) {
                    assert_eq!(&s.data[..], *prefix, "the client's bytes, whole");
                    assert!(s.header.is_none() && s.proxy_peer.is_none(), "direct");
                }
            } else {
                assert!(seen.is_empty(), "Required served {seen:?}");
            }
            server.close();
        }
        Ok::<_, asyncio::Error>(())
    })
    .unwrap()
    .unwrap();
}
