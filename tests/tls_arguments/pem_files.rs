//! PEM files that cannot be read or used: an unreadable file keeps its errno and is named, a
//! key that does not match its certificate and an encrypted key are refused in plain words.

use super::*;

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
