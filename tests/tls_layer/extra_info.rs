//! The extra info CPython's ports read over TLS: 'sslcontext' and 'ssl_object', and their
//! typed forms `tls_context()` and `tls_info()` (T40, T41).

use super::*;

fn text_of(v: Option<ExtraInfo>) -> Option<String> {
    match v {
        Some(ExtraInfo::Text(s)) => Some(s),
        other => panic!("expected a text value, got {other:?}"),
    }
}

#[test]
fn t40_t41_sslcontext_and_ssl_object_as_the_port_reports_them() {
    // Python's SSLContext and SSLObject. T40: the TlsContext handle (`tls_context()`) is the
    // configuration given to ssl(..), client or server; 'sslcontext' names its type as text.
    // T41: `tls_info()` is a read-only snapshot of what the handshake settled (version,
    // cipher, ALPN, SNI, the peer chain), 'ssl_object' its text form; both agree with the
    // typed accessors and outlive the connection. Neither exists without TLS (S58's over-TLS
    // test).
    run(async {
        let certs = Certs::get();
        let server_config = certs.server_config(&[b"h2", b"http/1.1"]);
        let client_config = certs.client_config(&[b"http/1.1"]);
        let server_side: Rc<RefCell<Vec<Option<String>>>> = Rc::default();
        let server_typed: Rc<RefCell<Option<(asyncio::TlsContext, asyncio::TlsInfo)>>> =
            Rc::default();
        let (seen, typed) = (server_side.clone(), server_typed.clone());
        let server = asyncio::start_server(
            move |reader: StreamReader, writer: StreamWriter| {
                let t = writer.transport();
                seen.borrow_mut().extend([
                    text_of(t.get_extra_info("sslcontext")),
                    text_of(t.get_extra_info("ssl_object")),
                ]);
                *typed.borrow_mut() = t.tls_context().zip(writer.tls_info());
                echo(reader, writer)
            },
            "127.0.0.1",
            0,
        )
        .ssl(server_config.clone())
        .await?;
        let port = server.sockets()[0].as_inet().unwrap().port();
        let (reader, writer) = asyncio::open_connection("127.0.0.1", port)
            .ssl(client_config.clone())
            .server_hostname("localhost")
            .await?;
        let t = writer.transport().clone();
        match t.tls_context() {
            Some(asyncio::TlsContext::Client(c)) => {
                assert!(
                    std::sync::Arc::ptr_eq(&c, &client_config),
                    "T40: the configuration given"
                )
            }
            other => panic!("T40: {other:?}"),
        }
        let info = writer.tls_info().expect("T41: a TLS stream");
        assert_eq!(Some(info.version().to_string()), t.tls_version(), "T41");
        assert_eq!(Some(info.cipher().to_string()), t.cipher_suite(), "T41");
        assert!(info.cipher_bits() >= 128, "T41: {}", info.cipher_bits());
        assert_eq!(info.selected_alpn_protocol(), Some(&b"http/1.1"[..]), "T41");
        assert_eq!(info.server_hostname(), Some("localhost"), "T41");
        assert_eq!(
            info.peer_certificates(),
            t.peer_certificates().as_slice(),
            "T41"
        );
        assert_eq!(info.peer_certificates().len(), 1, "T41: the server's leaf");
        assert!(!info.session_reused(), "T41: a first connection");
        assert_eq!(
            text_of(t.get_extra_info("sslcontext")).as_deref(),
            Some("rustls::ClientConfig"),
            "T40"
        );
        let snapshot = text_of(t.get_extra_info("ssl_object")).unwrap();
        let (version, cipher) = (t.tls_version().unwrap(), t.cipher_suite().unwrap());
        assert!(
            snapshot.starts_with(&format!("{version} {cipher} ("))
                && snapshot.contains(" alpn=http/1.1")
                && snapshot.contains(" server_name=localhost")
                && snapshot.contains(" peer_certificates=1"),
            "T41: {snapshot}"
        );
        writer.write(b"ping\n")?;
        assert_eq!(reader.readline().await?, b"ping\n");
        writer.close();
        writer.wait_closed().await?;
        assert_eq!(
            text_of(t.get_extra_info("ssl_object")).as_deref(),
            Some(snapshot.as_str()),
            "T41: the snapshot outlives the connection"
        );
        assert_eq!(
            t.tls_info().map(|i| i.to_string()),
            Some(snapshot.clone()),
            "T41: the typed snapshot outlives the connection too"
        );
        let server_side = server_side.borrow().clone();
        assert_eq!(
            server_side[0].as_deref(),
            Some("rustls::ServerConfig"),
            "T40"
        );
        match server_typed.borrow_mut().take() {
            Some((asyncio::TlsContext::Server(c), info)) => {
                assert!(
                    std::sync::Arc::ptr_eq(&c, &server_config),
                    "T40: the server's configuration"
                );
                assert_eq!(
                    info.server_hostname(),
                    Some("localhost"),
                    "T41: the SNI received"
                );
                assert!(
                    info.peer_certificates().is_empty(),
                    "T41: no client certificate"
                );
            }
            other => panic!("T40/T41 on the server: {other:?}"),
        }
        let theirs = server_side[1].clone().unwrap();
        assert!(
            theirs.contains(" alpn=http/1.1")
                && theirs.contains(" server_name=localhost")
                && theirs.contains(" peer_certificates=0"),
            "T41: the server's view: SNI received, no client certificate: {theirs}"
        );
        server.close();
        server.wait_closed().await;

        let (a, b) = asyncio::socketpair()?;
        let (_r, plain) = asyncio::open_connection_sock(a).await?;
        assert!(plain.get_extra_info("sslcontext").is_none(), "T40: no TLS");
        assert!(plain.get_extra_info("ssl_object").is_none(), "T41: no TLS");
        assert!(plain.tls_info().is_none() && plain.transport().tls_context().is_none());
        plain.close();
        drop(b);
        Ok(())
    });
}
