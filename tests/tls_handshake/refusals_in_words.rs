//! A handshake refused on either side reads in words a newcomer can act on (issue #14):
//! OpenSSL's reason first, as Python's `ssl.SSLError` prints it for the same situation,
//! then what to do. Our client (`open_connection`) meets our server (`start_tls` on each
//! accepted connection, so its error reaches the handler) with configurations that share
//! nothing of one kind. Python's words (CPython 3.11 with OpenSSL 3.0, probed by
//! scratch/s25/probes/tlswords/words_probe.py, each side's `SSLError`):
//! no cipher suite in common: server `no shared cipher`, client `sslv3 alert handshake
//! failure`; no version: server `unsupported protocol`, client `tlsv1 alert protocol
//! version`; no client certificate (TLS 1.3): server `peer did not return a certificate`,
//! client `tlsv13 alert certificate required`; an SNI name refused: server `callback
//! failed`, client `tlsv1 alert access denied` (the alert rustls sends). OpenSSL goes on
//! without ALPN where rustls refuses (D13): its reason for a refusal is `no application
//! protocol`. Groups: OpenSSL's `no suitable key share` (Python 3.11 cannot set a client's
//! groups, so not probed).

use super::*;
use std::sync::Arc;

/// `server` (through `start_tls`) and `client` (through `open_connection`, checking `name`)
/// meet: the server's error text and the client's error text.
fn both_sides(
    server: Arc<rustls::ServerConfig>,
    client: Arc<rustls::ClientConfig>,
    name: &str,
) -> (String, String) {
    run(async move {
        let (listener, port, seen) = tls_helpers::plain_server(move |r, mut w, seen| {
            let server = server.clone();
            async move {
                let e = w.start_tls(server).await.err();
                seen.borrow_mut()
                    .push(e.map_or("ok".into(), |e| e.to_string()));
                drop(r);
                Ok(())
            }
        })
        .await?;
        let opened = asyncio::open_connection("127.0.0.1", port)
            .ssl(client)
            .server_hostname(name)
            .await;
        // A TLS 1.3 client is done before the server has checked its certificate: the
        // refusal comes as an alert its first read meets.
        let client = match opened {
            Ok((reader, _writer)) => match asyncio::timeout(BOUND, reader.read(1)).await? {
                Ok(got) => format!("read {got:?}"),
                Err(e) => e.to_string(),
            },
            Err(e) => e.to_string(),
        };
        asyncio::timeout(BOUND, tls_helpers::handler_done(&seen, 1)).await?;
        listener.close();
        listener.wait_closed().await;
        let server = seen.borrow()[0].clone();
        Ok((server, client))
    })
}

fn provider(
    edit: impl FnOnce(&mut rustls::crypto::CryptoProvider),
) -> Arc<rustls::crypto::CryptoProvider> {
    let mut p = rustls::crypto::ring::default_provider();
    edit(&mut p);
    Arc::new(p)
}

fn server_with(
    p: Arc<rustls::crypto::CryptoProvider>,
    versions: &[&'static rustls::SupportedProtocolVersion],
) -> Arc<rustls::ServerConfig> {
    let certs = Certs::get();
    Arc::new(
        rustls::ServerConfig::builder_with_provider(p)
            .with_protocol_versions(versions)
            .unwrap()
            .with_no_client_auth()
            .with_single_cert(
                asyncio::tls::load_certs(&certs.cert).unwrap(),
                asyncio::tls::load_private_key(&certs.key).unwrap(),
            )
            .unwrap(),
    )
}

fn client_with(
    p: Arc<rustls::crypto::CryptoProvider>,
    versions: &[&'static rustls::SupportedProtocolVersion],
) -> Arc<rustls::ClientConfig> {
    let mut roots = rustls::RootCertStore::empty();
    roots.add_parsable_certificates(asyncio::tls::load_certs(&Certs::get().ca).unwrap());
    Arc::new(
        rustls::ClientConfig::builder_with_provider(p)
            .with_protocol_versions(versions)
            .unwrap()
            .with_root_certificates(roots)
            .with_no_client_auth(),
    )
}

fn assert_opens(side: &str, text: &str, opening: &str) {
    assert!(
        text.starts_with(opening),
        "{side}: {text:?} does not open with {opening:?}"
    );
}

const BOTH: &[&rustls::SupportedProtocolVersion] = rustls::ALL_VERSIONS;

#[test]
fn no_cipher_suite_in_common_reads_no_shared_cipher() {
    use rustls::crypto::ring::cipher_suite as cs;
    let server = server_with(
        provider(|p| p.cipher_suites = vec![cs::TLS13_CHACHA20_POLY1305_SHA256]),
        BOTH,
    );
    let client = client_with(
        provider(|p| p.cipher_suites = vec![cs::TLS13_AES_128_GCM_SHA256]),
        BOTH,
    );
    let (s, c) = both_sides(server, client, "localhost");
    assert_opens("server", &s, "no shared cipher: ");
    assert_opens("client", &c, "sslv3 alert handshake failure: ");
}

#[test]
fn no_version_in_common_reads_unsupported_protocol() {
    let server = server_with(provider(|_| {}), &[&rustls::version::TLS12]);
    let client = client_with(provider(|_| {}), &[&rustls::version::TLS13]);
    let (s, c) = both_sides(server, client, "localhost");
    assert_opens("server", &s, "unsupported protocol: the client ");
    assert_opens("client", &c, "tlsv1 alert protocol version: ");
}

#[test]
fn no_key_exchange_group_in_common_reads_no_suitable_key_share() {
    use rustls::crypto::ring::kx_group;
    let server = server_with(provider(|p| p.kx_groups = vec![kx_group::X25519]), BOTH);
    let client = client_with(provider(|p| p.kx_groups = vec![kx_group::SECP256R1]), BOTH);
    let (s, c) = both_sides(server, client, "localhost");
    assert_opens("server", &s, "no suitable key share: ");
    assert_opens("client", &c, "sslv3 alert handshake failure: ");
}

#[test]
fn no_client_certificate_reads_peer_did_not_return_a_certificate() {
    let certs = Certs::get();
    let (s, c) = both_sides(
        certs.server_config_client_auth(),
        certs.client_config(&[]),
        "localhost",
    );
    assert_opens("server", &s, "peer did not return a certificate: ");
    // The client learns it from the server's alert, after its own Finished: at its read.
    assert_opens("client", &c, "tlsv13 alert certificate required: ");
}

#[test]
fn no_alpn_protocol_in_common_reads_no_application_protocol() {
    let certs = Certs::get();
    let (s, c) = both_sides(
        certs.server_config(&[b"h2"]),
        certs.client_config(&[b"http/1.1"]),
        "localhost",
    );
    assert_opens("server", &s, "no application protocol: ");
    assert_opens("client", &c, "tlsv1 alert no application protocol: ");
}

/// A server that serves certificates by SNI name and has none for the name asked.
#[test]
fn an_sni_name_the_server_does_not_serve_reads_access_denied() {
    let certs = Certs::get();
    let p = provider(|_| {});
    let key = p
        .key_provider
        .load_private_key(asyncio::tls::load_private_key(&certs.key).unwrap())
        .unwrap();
    let mut by_name = rustls::server::ResolvesServerCertUsingSni::new();
    let certified =
        rustls::sign::CertifiedKey::new(asyncio::tls::load_certs(&certs.cert).unwrap(), key);
    by_name.add("localhost", certified).unwrap();
    let server = Arc::new(
        rustls::ServerConfig::builder_with_provider(p.clone())
            .with_safe_default_protocol_versions()
            .unwrap()
            .with_no_client_auth()
            .with_cert_resolver(Arc::new(by_name)),
    );
    let (s, c) = both_sides(server, certs.client_config(&[]), "other.example");
    assert_opens("server", &s, "callback failed: ");
    assert_opens("client", &c, "tlsv1 alert access denied: ");
}

/// A client that offers Ed25519 signatures only meets a server with an ECDSA key (the
/// refusal comes before any certificate check: the client's verifier accepts any).
#[test]
fn no_signature_scheme_in_common_reads_no_suitable_signature_algorithm() {
    let p = provider(|_| {});
    let only = tls_helpers::AcceptAny::new(p.clone()).offering(&[rustls::SignatureScheme::ED25519]);
    let client = rustls::ClientConfig::builder_with_provider(p)
        .with_safe_default_protocol_versions()
        .unwrap()
        .dangerous()
        .with_custom_certificate_verifier(Arc::new(only))
        .with_no_client_auth();
    let server = Certs::get().server_config(&[]);
    let (s, c) = both_sides(server, Arc::new(client), "localhost");
    assert_opens(
        "server",
        &s,
        "no suitable signature algorithm: this side's certificate",
    );
    assert_opens("client", &c, "sslv3 alert handshake failure: ");
}
