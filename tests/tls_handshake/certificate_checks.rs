//! The certificate checks that refuse a peer (T8, T49): wrong name, unknown CA, expired, a
//! trusted name with another key, a handshake signed with a key not the certificate's.

use super::*;

/// T8: the certificate error rustls gives for a signature that does not verify (a stale
/// trust anchor, or a handshake signed with a key that is not the certificate's).
fn assert_signature_refused(e: &Error) {
    assert!(
        matches!(
            cert_error(e),
            Some(
                rustls::CertificateError::BadSignature
                    | rustls::CertificateError::UnsupportedSignatureAlgorithmForPublicKeyContext { .. }
            )
        ),
        "{e:?}"
    );
}

#[test]
fn t8_t49_wrong_host_name_refused() {
    run(async {
        let (server, port) = tls_echo_server(&[]).await?;
        let e = refused(Certs::get().client_config(&[]), port, "example.com").await;
        let t = tls_err(&e);
        assert!(
            t.is_certificate_error(),
            "T49: SSLCertVerificationError: {e}"
        );
        assert!(
            matches!(
                t.rustls_error(),
                Some(rustls::Error::InvalidCertificate(
                    rustls::CertificateError::NotValidForName
                        | rustls::CertificateError::NotValidForNameContext { .. }
                ))
            ),
            "{e:?}"
        );
        assert_eq!(e.kind(), io::ErrorKind::InvalidData);
        // The names the certificate is for, as a user writes them (before: rustls' Debug forms,
        // `DnsName("localhost"), IpAddress(127.0.0.1)`).
        assert_eq!(
            e.to_string(),
            "certificate verify failed: the certificate is for localhost, 127.0.0.1, not for \
             \"example.com\"; connect with one of those names, or set server_hostname to one"
        );
        server.close();
        server.wait_closed().await;
        Ok(())
    });
}

/// T8/T49: a client that trusts only an unrelated CA is refused by our server's chain with
/// the certificate error (UnknownIssuer), whatever `server_hostname` it names.
async fn an_unknown_ca_is_refused(server_hostname: &str) -> Result<(), Error> {
    let (server, port) = tls_echo_server(&[]).await?;
    let other = asyncio::tls::client_config_with_roots(&Certs::get().other_ca)?;
    let e = refused(other.into(), port, server_hostname).await;
    assert!(tls_err(&e).is_certificate_error(), "{e}");
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
}

#[test]
fn t8_t49_unknown_ca_refused() {
    run(an_unknown_ca_is_refused("localhost"));
}

/// T8/T49: a trusted certificate with the issuer's name and another key (a CA file copied
/// before the certificate was made again; a system store's own `CN=localhost`, as Debian's
/// ssl-cert-snakeoil). rustls said only `invalid peer certificate: BadSignature`, or with a key
/// of another kind `UnsupportedSignatureAlgorithmForPublicKeyContext { signature_algorithm_id:
/// [6, 8, 42, …] … }`; Python says `certificate verify failed: self-signed certificate`. Ours
/// says what is wrong and what to do, rustls' words kept as the source.
#[test]
fn t8_t49_a_trusted_certificate_of_the_issuers_name_but_another_key_is_told_in_plain_words() {
    let cases = [
        (
            "stale-ca-same-kind.pem",
            &rcgen::PKCS_ECDSA_P256_SHA256,
            "bad signature",
        ),
        (
            "stale-ca-other-kind.pem",
            &rcgen::PKCS_ED25519,
            "signed by another kind of key (e.g. ECDSA against RSA)",
        ),
    ];
    for (file, alg, says) in cases {
        // The test CA's name (the leaf's issuer), a fresh key.
        let stale = stale_test_ca(file, alg);
        run(async move {
            let (server, port) = tls_echo_server(&[]).await?;
            let client = asyncio::tls::client_config_with_roots(&stale)?;
            let e = refused(client.into(), port, "localhost").await;
            assert!(tls_err(&e).is_certificate_error(), "{e}");
            assert_signature_refused(&e);
            let text = e.to_string();
            assert!(
                text.starts_with(&format!(
                    "certificate verify failed: {says}: either this side trusts another \
                     certificate of the issuer's name"
                )),
                "{file}: {text}"
            );
            assert!(text.contains("client_config_with_roots(ca_file)"), "{text}");
            assert!(text.len() < 450, "{} characters: {text}", text.len());
            for jargon in ["BadSignature", "UnsupportedSignatureAlgorithm", "[6, 8"] {
                assert!(!text.contains(jargon), "no rustls jargon: {text}");
            }
            server.close();
            server.wait_closed().await;
            Ok(())
        });
    }
}

/// T8: rustls gives the same two certificate errors when the chain checks out but the peer's
/// handshake signature (CertificateVerify) does not: its private key is not its certificate's
/// (a server whose certificate resolver pairs them by hand; a broken or intercepting peer).
/// The text must not send that case to re-make the trust anchor alone: it names both causes.
#[test]
fn t8_a_handshake_signed_with_a_key_not_the_certificates_names_that_cause_too() {
    let certs = Certs::get();
    for alg in [&rcgen::PKCS_ECDSA_P256_SHA256, &rcgen::PKCS_ED25519] {
        // The test leaf (ECDSA P-256, issued by the trusted test CA), served with a fresh key.
        let chain = asyncio::tls::load_certs(&certs.cert).unwrap();
        let wrong = rcgen::KeyPair::generate_for(alg).unwrap();
        let der = rustls::pki_types::PrivatePkcs8KeyDer::from(wrong.serialize_der());
        let key = rustls::crypto::ring::default_provider()
            .key_provider
            .load_private_key(der.into())
            .unwrap();
        let paired = rustls::sign::CertifiedKey::new(chain, key);
        let config = rustls::ServerConfig::builder()
            .with_no_client_auth()
            .with_cert_resolver(std::sync::Arc::new(rustls::sign::SingleCertAndKey::from(
                paired,
            )));
        run(async move {
            let server = asyncio::start_server(echo, "127.0.0.1", 0)
                .ssl(config)
                .await?;
            let port = server.sockets()[0].as_inet().unwrap().port();
            let e = refused(certs.client_config(&[]), port, "localhost").await;
            assert_signature_refused(&e);
            let text = e.to_string();
            assert!(
                text.contains("or the peer's private key does not match its certificate"),
                "{alg:?}: {text}"
            );
            server.close();
            server.wait_closed().await;
            Ok(())
        });
    }
}

#[test]
fn t8_t49_expired_certificate_refused() {
    run(async {
        let certs = Certs::get();
        let (server, port) = expired_tls_echo_server().await?;
        let e = refused(certs.client_config(&[]), port, "localhost").await;
        assert!(tls_err(&e).is_certificate_error(), "{e}");
        assert!(is_expired(&e), "{e:?}");
        server.close();
        server.wait_closed().await;
        Ok(())
    });
}

/// T8, T49; CPython: BaseStartTLS.test_create_connection_ssl_failed_certificate,
/// TestSSL.test_create_connection_ssl_failed_certificate. A verifying client with an empty
/// server_hostname (no name check) still checks the chain: a server whose CA it does not
/// trust fails open_connection with the certificate error.
#[test]
fn t8_t49_test_create_connection_ssl_failed_certificate() {
    run(an_unknown_ca_is_refused(""));
}
