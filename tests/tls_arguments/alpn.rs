//! ALPN names and lists: a name outside 1 to 255 bytes and a list too long for a ClientHello
//! are refused before any I/O, on every entry point; the negotiated protocol is reported.

use super::*;

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
