//! Our client against `openssl s_server`: TLS 1.3 and 1.2, a client certificate it demands
//! and we lack, session resumption, and an empty server_hostname with our own config (T3, T8,
//! T48, D13).

use super::*;

fn s_server(extra: &[&str]) -> (ChildGuard, u16) {
    s_server_accepting(extra, 1)
}

/// `openssl s_server -www` serving `connections` connections, one after the other.
fn s_server_accepting(extra: &[&str], connections: usize) -> (ChildGuard, u16) {
    let certs = Certs::get();
    let naccept = connections.to_string();
    let mut child = ChildGuard(
        Command::new("openssl")
            .arg("s_server")
            .args([
                "-accept",
                "127.0.0.1:0",
                "-naccept",
                naccept.as_str(),
                "-www",
            ])
            .arg("-cert")
            .arg(&certs.cert)
            .arg("-key")
            .arg(&certs.key)
            .args(extra)
            .stdin(Stdio::null())
            .stdout(Stdio::piped())
            .stderr(Stdio::null())
            .spawn()
            .expect("spawn openssl s_server"),
    );
    let (line, _rest) = wait_line(&mut child.0, "ACCEPT");
    let port = line
        .rsplit(':')
        .next()
        .and_then(|p| p.trim().parse().ok())
        .unwrap_or_else(|| panic!("no port in {line:?}"));
    (child, port)
}

fn our_client_against_s_server(extra: &[&str], version: &str, cipher: &str) {
    let (_guard, port) = s_server(extra);
    run(async move {
        let (reader, writer) = asyncio::open_connection("127.0.0.1", port)
            .ssl(Certs::get().client_config(&[]))
            .server_hostname("localhost")
            .await?;
        let t = writer.transport();
        assert_eq!(t.tls_version().as_deref(), Some(version));
        assert_eq!(
            t.cipher_suite().as_deref(),
            Some(cipher),
            "T43: OpenSSL's spelling"
        );
        writer.write(b"GET / HTTP/1.0\r\n\r\n")?;
        let page = reader.read(-1).await?;
        let page = String::from_utf8_lossy(&page);
        assert!(page.starts_with("HTTP/1.0 200 ok"), "{page}");
        writer.close();
        writer.wait_closed().await?;
        Ok(())
    });
}

#[test]
fn our_client_to_openssl_s_server_tls13() {
    if !have_openssl() {
        return;
    }
    our_client_against_s_server(&["-tls1_3"], "TLSv1.3", "TLS_AES_256_GCM_SHA384");
}

#[test]
fn our_client_to_openssl_s_server_tls12() {
    if !have_openssl() {
        return;
    }
    our_client_against_s_server(
        &["-tls1_2", "-cipher", "ECDHE-ECDSA-AES128-GCM-SHA256"],
        "TLSv1.2",
        "ECDHE-ECDSA-AES128-GCM-SHA256",
    );
}

/// OpenSSL refuses a TLS 1.2 client that sends no certificate where one is required with
/// `handshake_failure` (TLS 1.3 has `certificate_required` for it): the error says that this
/// can be the cause, in Python's words first.
#[test]
fn t8_handshake_failure_from_openssl_for_a_missing_client_certificate_names_that_cause() {
    if !have_openssl() {
        return;
    }
    let ca = Certs::get().ca.clone();
    let ca = ca.to_str().expect("a UTF-8 temp path");
    let (_guard, port) = s_server(&["-tls1_2", "-Verify", "1", "-CAfile", ca]);
    run(async move {
        let e = asyncio::open_connection("127.0.0.1", port)
            .ssl(Certs::get().client_config(&[]))
            .server_hostname("localhost")
            .await
            .expect_err("no client certificate");
        let text = e.to_string();
        assert!(
            text.starts_with("sslv3 alert handshake failure: the peer refused the handshake"),
            "{text}"
        );
        assert!(
            text.contains("in TLS 1.2, it requires a client certificate"),
            "{text}"
        );
        assert_eq!(e.kind(), std::io::ErrorKind::InvalidData);
        Ok(())
    });
}

/// Session resumption against `openssl s_server` (issue #16): a second connection made with
/// the same client configuration resumes its session, in TLS 1.3 (a ticket, PSK) and TLS 1.2,
/// and `session_resumed()` says so.
#[test]
fn d13_our_client_resumes_its_session_with_openssl_s_server() {
    if !have_openssl() {
        return;
    }
    for extra in [&["-tls1_3"][..], &["-tls1_2"][..]] {
        let (_guard, port) = s_server_accepting(extra, 2);
        let config = Certs::get().client_config(&[]);
        run(async move {
            let mut resumed = Vec::new();
            for _ in 0..2 {
                let (reader, writer) = asyncio::open_connection("127.0.0.1", port)
                    .ssl(config.clone())
                    .server_hostname("localhost")
                    .await?;
                writer.write(b"GET / HTTP/1.0\r\n\r\n")?;
                let page = reader.read(-1).await?;
                assert!(page.starts_with(b"HTTP/1.0 200 ok"), "{extra:?}");
                resumed.push(writer.transport().session_resumed());
                writer.close();
                writer.wait_closed().await?;
            }
            assert_eq!(resumed, [Some(false), Some(true)], "{extra:?}");
            Ok(())
        });
    }
}

/// `server_hostname("")` with our own `ClientConfig` against `openssl s_server`: the chain is
/// verified, the name is not (CPython's `server_hostname=''`), in TLS 1.3 and TLS 1.2.
// Checklist: T3, T48.
#[test]
fn t3_t48_empty_server_hostname_with_own_config_to_openssl_s_server() {
    if !have_openssl() {
        return;
    }
    for extra in [&["-tls1_3"][..], &["-tls1_2"][..]] {
        let (_guard, port) = s_server(extra);
        run(async move {
            let (reader, writer) = asyncio::open_connection("127.0.0.1", port)
                .ssl(Certs::get().client_config(&[]))
                .server_hostname("")
                .await?;
            writer.write(b"GET / HTTP/1.0\r\n\r\n")?;
            let page = reader.read(-1).await?;
            let page = String::from_utf8_lossy(&page);
            assert!(page.starts_with("HTTP/1.0 200 ok"), "{extra:?}: {page}");
            writer.close();
            writer.wait_closed().await?;
            Ok(())
        });
        // The chain still counts: a client trusting another CA is refused.
        let (_guard, port) = s_server(extra);
        let e = asyncio::run(asyncio::timeout(Duration::from_secs(20), async move {
            let other = asyncio::tls::client_config_with_roots(&Certs::get().other_ca)?;
            asyncio::open_connection("127.0.0.1", port)
                .ssl(other)
                .server_hostname("")
                .await
                .map(drop)
        }))
        .expect("loop")
        .expect("bounded")
        .expect_err("unknown CA refused");
        match &e {
            Error::Tls(t) => assert!(t.is_certificate_error(), "{extra:?}: {e}"),
            other => panic!("{extra:?}: expected Error::Tls, got {other:?}"),
        }
    }
}
