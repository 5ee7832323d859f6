//! TLS after the header: the handshake starts once the header is read, and `start_tls`
//! after the client's EOF fails at once.

use super::*;

#[cfg(feature = "tls")]
#[test]
fn tls_starts_after_the_header() {
    use tls_common::Certs;
    let certs = Certs::get();
    asyncio::run(async {
        let log = Log::default();
        let server = asyncio::start_server(recorder(&log), "127.0.0.1", 0)
            .proxy_protocol(ProxyProtocol::Required)
            .ssl(certs.server_config(&[]))
            .await?;
        let port = util::port_of(&server);
        let answer = asyncio::timeout(Duration::from_secs(10), async {
            let mut sock = std::net::TcpStream::connect(("127.0.0.1", port))?;
            std::io::Write::write_all(&mut sock, b"PROXY TCP4 192.0.2.1 198.51.100.7 7 443\r\n")?;
            let (reader, writer) = asyncio::open_connection_sock(sock)
                .ssl(certs.client_config(&[]))
                .server_hostname("localhost")
                .await?;
            writer.write(b"secret")?;
            reader.read(-1).await
        })
        .await??;
        assert_eq!(answer, b"ok");
        let seen = log.borrow().clone();
        assert_eq!(seen[0].peer, "192.0.2.1:7");
        assert_eq!(seen[0].data, b"secret");
        // Through the TLS transport: the header and the balancer's address are still there.
        assert_eq!(seen[0].header.as_ref().unwrap().version, Version::V1);
        assert!(seen[0]
            .proxy_peer
            .as_deref()
            .unwrap()
            .starts_with("127.0.0.1:"));
        server.close();
        Ok::<_, asyncio::Error>(())
    })
    .unwrap()
    .unwrap();
}

/// D14, T10 behind a PROXY header: a handler's start_tls on a connection whose client has
/// already sent its EOF fails at once with ConnectionReset, as on a plain socket, instead of
/// waiting for the handshake timeout (the proxied transport tells the EOF its socket read).
#[cfg(feature = "tls")]
#[test]
fn start_tls_after_the_clients_eof_fails_at_once() {
    use tls_common::Certs;
    asyncio::run(async {
        let outcome: Rc<RefCell<Option<asyncio::Error>>> = Rc::default();
        let out = outcome.clone();
        let server = asyncio::start_server(
            move |r: StreamReader, mut w: StreamWriter| {
                let out = out.clone();
                async move {
                    assert_eq!(r.read(-1).await?, b"STARTTLS\n");
                    let e = w
                        .start_tls(Certs::get().server_config(&[]))
                        // Far beyond the bound: only the client's EOF can end it in time.
                        .ssl_handshake_timeout(Duration::from_secs(3600))
                        .await
                        .expect_err("no handshake with a client that has closed");
                    *out.borrow_mut() = Some(e);
                    Ok::<_, asyncio::Error>(())
                }
            },
            "127.0.0.1",
            0,
        )
        .proxy_protocol(ProxyProtocol::Required)
        .await?;
        let port = util::port_of(&server);
        asyncio::timeout(Duration::from_secs(10), async {
            let (_reader, writer) = asyncio::open_connection("127.0.0.1", port).await?;
            writer.write(b"PROXY TCP4 192.0.2.1 198.51.100.7 7 443\r\nSTARTTLS\n")?;
            writer.write_eof()?;
            while outcome.borrow().is_none() {
                asyncio::yield_now().await;
            }
            writer.close();
            Ok::<_, asyncio::Error>(())
        })
        .await??;
        let e = outcome.borrow_mut().take().unwrap();
        assert_eq!(e.kind(), std::io::ErrorKind::ConnectionReset, "{e:?}");
        server.close();
        Ok::<_, asyncio::Error>(())
    })
    .unwrap()
    .unwrap();
}
