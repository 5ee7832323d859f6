//! The TLS examples against real certificates: `http_headers` over https with its CA from
//! `SSL_CERT_FILE`, a self-signed CA leaf refused in plain words with the recipe that works,
//! and `tls_echo_client --reconnect` reporting resumed sessions (T8, D13).

use super::*;

/// A TLS server answering HEAD with a fixed header block.
async fn head_responder(reader: StreamReader, writer: StreamWriter) -> Result<(), Error> {
    loop {
        let line = reader.readline().await?;
        if line == b"\r\n" || line.is_empty() {
            break;
        }
    }
    writer.write(b"HTTP/1.0 200 OK\r\nServer: asyncio-tls-test\r\nContent-Length: 0\r\n\r\n")?;
    writer.close();
    writer.wait_closed().await
}

/// Runs `http_headers URL` with `SSL_CERT_FILE=ca`, returning (success, stdout, stderr).
async fn http_headers(url: String, ca: PathBuf) -> (bool, String, String) {
    let mut child = ChildGuard(
        Command::new(util::example_binary("http_headers"))
            .arg(&url)
            .env("SSL_CERT_FILE", &ca)
            .env_remove("SSL_CERT_DIR")
            .stdin(Stdio::null())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .spawn()
            .expect("spawn http_headers"),
    );
    let mut err_pipe = child.0.stderr.take().unwrap();
    let err = on_thread(move || {
        let mut s = String::new();
        let _ = err_pipe.read_to_string(&mut s);
        s
    });
    let out = stdout_to_end(&mut child.0).await;
    let err = err.await;
    let ok = child.0.wait().unwrap().success();
    (ok, out, err)
}

#[test]
fn http_headers_example_over_https_with_ssl_cert_file() {
    run(async {
        let certs = Certs::get();
        let server = asyncio::start_server(head_responder, "127.0.0.1", 0)
            .ssl(certs.server_config(&[]))
            .await?;
        let port = our_tls_server_port(&server);
        let url = format!("https://localhost:{port}/index.html");
        let (ok, out, err) = http_headers(url.clone(), certs.ca.clone()).await;
        assert!(ok, "http_headers failed: {err}");
        assert_eq!(
            out,
            "HTTP header> HTTP/1.0 200 OK\nHTTP header> Server: asyncio-tls-test\n\
             HTTP header> Content-Length: 0\n"
        );
        // The CA is really taken from SSL_CERT_FILE: another CA makes verification fail.
        let (ok, _out, err) = http_headers(url, certs.other_ca.clone()).await;
        assert!(!ok);
        assert!(err.contains("unknown issuer"), "{err}");
        server.close();
        server.wait_closed().await;
        Ok(())
    });
}

/// Makes a self-signed certificate and key with the openssl CLI in `dir`; `extra` are more
/// `req` arguments. Returns (cert, key).
fn openssl_self_signed(dir: &std::path::Path, name: &str, extra: &[&str]) -> (PathBuf, PathBuf) {
    let (cert, key) = (
        dir.join(format!("{name}-cert.pem")),
        dir.join(format!("{name}-key.pem")),
    );
    let status = Command::new("openssl")
        .args([
            "req", "-x509", "-newkey", "rsa:2048", "-nodes", "-days", "2",
        ])
        .args(["-subj", "/CN=localhost", "-keyout"])
        .arg(&key)
        .arg("-out")
        .arg(&cert)
        .args(extra)
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .status()
        .unwrap();
    assert!(status.success(), "openssl req failed");
    (cert, key)
}

/// Issue #14, point 2: the certificate a newcomer makes the usual way (`openssl req -x509
/// -newkey rsa:2048 -nodes -subj /CN=localhost`: CA:TRUE, no subjectAltName), given as its own
/// trust anchor, is refused (rustls' rule; Python accepts it) with a sentence that says why and
/// gives the recipe that works; that recipe's certificate is accepted.
#[test]
fn t8_a_self_signed_ca_leaf_is_refused_in_plain_words_and_the_recipe_works() {
    use std::error::Error as _;
    if !have_openssl() {
        return;
    }
    let dir = std::env::temp_dir().join(format!("asyncio-tls-recipe-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let usual = openssl_self_signed(&dir, "usual", &[]);
    let outcome = |(cert, key): (PathBuf, PathBuf)| {
        run(async move {
            let server = asyncio::start_server(echo_line_then_close, "127.0.0.1", 0)
                .ssl(asyncio::tls::server_config(&cert, &key)?)
                .await?;
            let port = our_tls_server_port(&server);
            let client = asyncio::tls::client_config_with_roots(&cert)?;
            let got = asyncio::open_connection("127.0.0.1", port)
                .ssl(client)
                .server_hostname("localhost")
                .await
                .map(drop);
            server.close();
            Ok::<_, Error>(got)
        })
    };
    let text = match outcome(usual) {
        Err(Error::Tls(e)) => {
            let text = e.to_string();
            assert!(
                text.contains("a CA certificate used as its own leaf"),
                "{text}"
            );
            // Short enough to be read to its end (it was 638 characters).
            assert!(text.len() < 300, "{} characters: {text}", text.len());
            // The recipe names 127.0.0.1 too: a client connecting to that address without
            // server_hostname is not refused next for the name (before: DNS:localhost only).
            assert!(
                text.contains(
                    "-addext basicConstraints=CA:FALSE -addext \
                     subjectAltName=DNS:localhost,IP:127.0.0.1"
                ),
                "{text}"
            );
            let source = e
                .source()
                .expect("the rustls error is the source")
                .to_string();
            assert!(source.contains("CaUsedAsEndEntity"), "{source}");
            text
        }
        other => panic!("the usual self-signed certificate: {other:?}"),
    };
    // The recipe as the error prints it, run word for word (only the two file names moved
    // into the test's directory), makes a certificate that works as its own trust anchor.
    let (cert, key) = (dir.join("recipe-cert.pem"), dir.join("recipe-key.pem"));
    let command = &text[text.find("openssl req ").expect("a recipe") + "openssl ".len()..];
    let status = Command::new("openssl")
        .args(command.split_whitespace().map(|w| match w {
            "cert.pem" => cert.as_os_str(),
            "key.pem" => key.as_os_str(),
            w => std::ffi::OsStr::new(w),
        }))
        .stdin(Stdio::null())
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .status()
        .unwrap();
    assert!(status.success(), "the recipe failed: openssl {command}");
    assert!(
        outcome((cert, key)).is_ok(),
        "the recipe the error gives works"
    );
    let _ = std::fs::remove_dir_all(&dir);
}

/// `examples/tls_echo_client --reconnect 2` against our TLS echo server (issue #16): the first
/// handshake is full, the next two resume, and the example says so.
#[test]
fn d13_tls_echo_client_example_reports_resumed_sessions() {
    run(async {
        let certs = Certs::get();
        let server = asyncio::start_server(echo_line_then_close, "127.0.0.1", 0)
            .ssl(certs.server_config(&[]))
            .await?;
        let port = our_tls_server_port(&server);
        let mut child = ChildGuard(
            Command::new(util::example_binary("tls_echo_client"))
                .arg("--cafile")
                .arg(&certs.ca)
                .args(["--server-hostname", "localhost", "--reconnect", "2"])
                .args(["--port", &port.to_string(), "Hello TLS\n"])
                .stdin(Stdio::null())
                .stdout(Stdio::piped())
                .stderr(Stdio::inherit())
                .spawn()
                .expect("spawn tls_echo_client"),
        );
        let out = stdout_to_end(&mut child.0).await;
        assert!(child.0.wait().unwrap().success(), "{out}");
        let said: Vec<&str> = out
            .lines()
            .filter(|l| l.starts_with("Session resumed:"))
            .collect();
        assert_eq!(
            said,
            [
                "Session resumed: no",
                "Session resumed: yes",
                "Session resumed: yes"
            ],
            "{out}"
        );
        server.close();
        server.wait_closed().await;
        Ok(())
    });
}
