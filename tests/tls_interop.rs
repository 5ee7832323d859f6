//! TLS interop with real peers (issue #5): `openssl s_server` / `s_client` and Python's `ssl`
//! module (asyncio with an SSLContext), our client to them and theirs to our server; and the
//! https path of `examples/http_headers.rs` with its CA given through `SSL_CERT_FILE`.
//!
//! Child processes are killed by a drop guard; their output is read on helper threads whose
//! completion wakes our loop, so the loop keeps serving while a child runs. Every wait is
//! bounded. A test is skipped, with the reason printed, only when `openssl` or `python3` is
//! missing.
#![cfg(feature = "tls")]

mod tls_common;
mod util;

use std::future::poll_fn;
use std::io::{BufRead, BufReader, Read, Write};
use std::path::PathBuf;
use std::process::{Child, Command, Stdio};
use std::sync::mpsc;
use std::sync::{Arc, Mutex};
use std::task::{Poll, Waker};
use std::time::Duration;

use asyncio::{Error, StreamReader, StreamWriter};
use tls_common::Certs;

const BOUND: Duration = Duration::from_secs(20);

fn run<T>(fut: impl std::future::Future<Output = Result<T, Error>>) -> T {
    asyncio::run(asyncio::timeout(BOUND, fut))
        .expect("loop")
        .expect("bounded wait expired")
        .expect("test body")
}

/// Kills and reaps the child when the test ends, however it ends.
struct ChildGuard(Child);

impl Drop for ChildGuard {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

fn have(tool: &str, probe: &[&str]) -> bool {
    let ok = Command::new(tool)
        .args(probe)
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .status()
        .is_ok_and(|s| s.success());
    if !ok {
        println!("skipped: `{tool}` is not available");
    }
    ok
}

fn have_openssl() -> bool {
    have("openssl", &["version"])
}

fn have_python_ssl() -> bool {
    have("python3", &["-c", "import ssl, asyncio"])
}

/// Runs `f` on a helper thread; the future resolves with its result, waking our loop from
/// that thread.
fn on_thread<T: Send + 'static>(
    f: impl FnOnce() -> T + Send + 'static,
) -> impl std::future::Future<Output = T> {
    type Slot<T> = Arc<Mutex<(Option<T>, Option<Waker>)>>;
    let slot: Slot<T> = Arc::new(Mutex::new((None, None)));
    let s = slot.clone();
    std::thread::spawn(move || {
        let r = f();
        let mut g = s.lock().unwrap();
        g.0 = Some(r);
        if let Some(w) = g.1.take() {
            w.wake();
        }
    });
    poll_fn(move |cx| {
        let mut g = slot.lock().unwrap();
        match g.0.take() {
            Some(r) => Poll::Ready(r),
            None => {
                g.1 = Some(cx.waker().clone());
                Poll::Pending
            }
        }
    })
}

/// The child's whole stdout, read to EOF on a helper thread.
fn stdout_to_end(child: &mut Child) -> impl std::future::Future<Output = String> {
    let mut out = child.stdout.take().expect("stdout piped");
    on_thread(move || {
        let mut s = String::new();
        let _ = out.read_to_string(&mut s);
        s
    })
}

/// Waits (bounded) for a stdout line starting with `prefix`; later lines keep flowing to the
/// returned receiver.
fn wait_line(child: &mut Child, prefix: &str) -> (String, mpsc::Receiver<String>) {
    let out = child.stdout.take().expect("stdout piped");
    let (tx, rx) = mpsc::channel();
    std::thread::spawn(move || {
        for line in BufReader::new(out).lines() {
            let Ok(line) = line else { break };
            if tx.send(line).is_err() {
                break;
            }
        }
    });
    loop {
        let line = rx
            .recv_timeout(BOUND)
            .unwrap_or_else(|e| panic!("no line starting with {prefix:?}: {e}"));
        if line.starts_with(prefix) {
            return (line, rx);
        }
    }
}

async fn echo_line_then_wait_eof(reader: StreamReader, writer: StreamWriter) -> Result<(), Error> {
    let line = reader.readline().await?;
    writer.write(&line)?;
    writer.drain().await?;
    let _ = reader.read(-1).await?; // until the client's close_notify (or EOF)
    writer.close();
    writer.wait_closed().await
}

async fn echo_line_then_close(reader: StreamReader, writer: StreamWriter) -> Result<(), Error> {
    let line = reader.readline().await?;
    writer.write(&line)?;
    writer.close();
    writer.wait_closed().await
}

fn our_tls_server_port(server: &asyncio::Server) -> u16 {
    server.sockets()[0].as_inet().unwrap().port()
}

// ---- openssl ---------------------------------------------------------------------------

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

/// `openssl s_client` to our server on `port`, trusting `ca`, with `args` after those; stdin
/// and stdout piped, stderr as given.
fn s_client(port: u16, ca: &std::path::Path, args: &[&str], stderr: Stdio) -> ChildGuard {
    ChildGuard(
        Command::new("openssl")
            .arg("s_client")
            .args(["-connect", &format!("127.0.0.1:{port}")])
            .arg("-CAfile")
            .arg(ca)
            .args(args)
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .stderr(stderr)
            .spawn()
            .expect("spawn openssl s_client"),
    )
}

#[test]
fn openssl_s_client_to_our_server() {
    if !have_openssl() {
        return;
    }
    run(async {
        let certs = Certs::get();
        let server = asyncio::start_server(echo_line_then_close, "127.0.0.1", 0)
            .ssl(certs.server_config(&[]))
            .await?;
        let port = our_tls_server_port(&server);
        let mut child = s_client(
            port,
            &certs.ca,
            &[
                "-verify_return_error",
                "-verify_hostname",
                "localhost",
                "-servername",
                "localhost",
                "-quiet",
            ],
            Stdio::piped(),
        );
        let mut stdin = child.0.stdin.take().unwrap();
        stdin.write_all(b"hello from s_client\n").unwrap();
        drop(stdin); // -quiet ignores stdin EOF: s_client waits for our close
        let out = stdout_to_end(&mut child.0).await;
        let status = child.0.wait().unwrap();
        let mut err = String::new();
        let _ = child.0.stderr.take().unwrap().read_to_string(&mut err);
        assert_eq!(out, "hello from s_client\n", "stderr: {err}");
        assert!(status.success(), "s_client: {status}; stderr: {err}");
        server.close();
        server.wait_closed().await;
        Ok(())
    });
}

/// S60, D7, D9: a server handler that fails after `StreamWriter::start_tls`, its writer kept
/// elsewhere, ends the connection with close_notify, as `writer.close()` would: s_client
/// (`-msg`) shows the alert, where a raw close would show a bare EOF. The upgrade is SMTP's
/// STARTTLS (`-starttls smtp`), so the ClientHello cannot come before our start_tls.
#[test]
fn openssl_s_client_sees_close_notify_from_a_handler_failing_after_start_tls() {
    if !have_openssl() {
        return;
    }
    run(async {
        let certs = Certs::get();
        let kept: std::rc::Rc<std::cell::RefCell<Option<StreamWriter>>> = Default::default();
        let k = kept.clone();
        let fails_after_start_tls = move |reader: StreamReader, mut writer: StreamWriter| {
            let k = k.clone();
            async move {
                writer.write(b"220 ready\r\n")?;
                let _ehlo = reader.readline().await?;
                writer.write(b"250 STARTTLS\r\n")?;
                let _starttls = reader.readline().await?;
                writer.write(b"220 go ahead\r\n")?;
                writer.start_tls(Certs::get().server_config(&[])).await?;
                let line = reader.readline().await?;
                writer.write(&line)?;
                writer.drain().await?;
                *k.borrow_mut() = Some(writer);
                Err::<(), Error>(Error::Io(std::io::Error::other("the handler fails")))
            }
        };
        let server = asyncio::start_server(fails_after_start_tls, "127.0.0.1", 0).await?;
        let port = our_tls_server_port(&server);
        let mut child = s_client(
            port,
            &certs.ca,
            &[
                "-servername",
                "localhost",
                "-starttls",
                "smtp",
                "-quiet",
                "-msg",
            ],
            Stdio::piped(),
        );
        let mut stdin = child.0.stdin.take().unwrap();
        stdin.write_all(b"hello from s_client\n").unwrap();
        drop(stdin); // -quiet ignores stdin EOF: s_client waits for our close
        let out = stdout_to_end(&mut child.0).await;
        let _ = child.0.wait();
        let mut err = String::new();
        let _ = child.0.stderr.take().unwrap().read_to_string(&mut err);
        assert!(out.contains("hello from s_client"), "{out}\nstderr: {err}");
        assert!(
            out.contains("close_notify"),
            "no close_notify from our server:\n{out}\nstderr: {err}"
        );
        kept.borrow_mut().take();
        server.close();
        server.wait_closed().await;
        Ok(())
    });
}

// ---- Python's ssl module ---------------------------------------------------------------

const PY_CLIENT: &str = r#"
import asyncio, ssl, sys
async def main():
    ctx = ssl.create_default_context(cafile=sys.argv[1])
    r, w = await asyncio.open_connection('127.0.0.1', int(sys.argv[2]), ssl=ctx,
                                        server_hostname='localhost')
    w.write(b'hello from python\n')
    line = await r.readline()
    print('GOT', line.decode().strip(), w.get_extra_info('cipher')[1], flush=True)
    w.close()
    await w.wait_closed()
    print('CLOSED', flush=True)
asyncio.run(main())
"#;

const PY_SERVER: &str = r#"
import asyncio, ssl, sys
async def main():
    ctx = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
    ctx.load_cert_chain(sys.argv[1], sys.argv[2])
    done = asyncio.Event()
    async def handle(r, w):
        line = await r.readline()
        w.write(line.upper())
        await w.drain()
        rest = await r.read()
        print('EOF', len(rest), flush=True)
        w.close()
        await w.wait_closed()
        done.set()
    srv = await asyncio.start_server(handle, '127.0.0.1', 0, ssl=ctx)
    print('PORT', srv.sockets[0].getsockname()[1], flush=True)
    await asyncio.wait_for(done.wait(), 20)
    srv.close()
    print('DONE', flush=True)
asyncio.run(main())
"#;

#[test]
fn python_ssl_client_to_our_server() {
    if !have_python_ssl() {
        return;
    }
    run(async {
        let certs = Certs::get();
        let server = asyncio::start_server(echo_line_then_wait_eof, "127.0.0.1", 0)
            .ssl(certs.server_config(&[]))
            .await?;
        let port = our_tls_server_port(&server);
        let mut child = ChildGuard(
            Command::new("python3")
                .args(["-c", PY_CLIENT])
                .arg(&certs.ca)
                .arg(port.to_string())
                .stdin(Stdio::null())
                .stdout(Stdio::piped())
                .stderr(Stdio::inherit())
                .spawn()
                .expect("spawn python3"),
        );
        let out = stdout_to_end(&mut child.0).await;
        let status = child.0.wait().unwrap();
        assert_eq!(out, "GOT hello from python TLSv1.3\nCLOSED\n");
        assert!(status.success(), "python3: {status}");
        server.close();
        server.wait_closed().await; // our side finished its close_notify exchange too
        Ok(())
    });
}

#[test]
fn our_client_to_python_ssl_server() {
    if !have_python_ssl() {
        return;
    }
    let certs = Certs::get();
    let mut child = ChildGuard(
        Command::new("python3")
            .args(["-c", PY_SERVER])
            .arg(&certs.cert)
            .arg(&certs.key)
            .stdin(Stdio::null())
            .stdout(Stdio::piped())
            .stderr(Stdio::inherit())
            .spawn()
            .expect("spawn python3"),
    );
    let (line, rest) = wait_line(&mut child.0, "PORT");
    let port: u16 = line[5..].trim().parse().unwrap();
    run(async move {
        let (reader, writer) = asyncio::open_connection("127.0.0.1", port)
            .ssl(certs.client_config(&[]))
            .server_hostname("localhost")
            .ssl_require_close_notify(true)
            .await?;
        writer.write(b"hello from rust\n")?;
        assert_eq!(reader.readline().await?, b"HELLO FROM RUST\n");
        writer.close();
        writer.wait_closed().await?; // Python answered our close_notify
        Ok(())
    });
    let tail: Vec<String> = (0..2).map(|_| rest.recv_timeout(BOUND).unwrap()).collect();
    assert_eq!(tail, ["EOF 0", "DONE"]);
    assert!(child.0.wait().unwrap().success());
}

// ---- the https example ----------------------------------------------------------------

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
    let recipe = openssl_self_signed(
        &dir,
        "recipe",
        &[
            "-addext",
            "basicConstraints=critical,CA:FALSE",
            "-addext",
            "subjectAltName=DNS:localhost,IP:127.0.0.1",
        ],
    );
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
    match outcome(usual) {
        Err(Error::Tls(e)) => {
            let text = e.to_string();
            assert!(
                text.contains("CA certificate (basicConstraints CA:TRUE) used as its own leaf"),
                "{text}"
            );
            // The recipe names 127.0.0.1 too: a client connecting to that address without
            // server_hostname is not refused next for the name (before: DNS:localhost only).
            assert!(
                text.contains(
                    "-addext basicConstraints=critical,CA:FALSE -addext \
                     subjectAltName=DNS:localhost,IP:127.0.0.1"
                ),
                "{text}"
            );
            let source = e
                .source()
                .expect("the rustls error is the source")
                .to_string();
            assert!(source.contains("CaUsedAsEndEntity"), "{source}");
        }
        other => panic!("the usual self-signed certificate: {other:?}"),
    }
    assert!(outcome(recipe).is_ok(), "the documented recipe works");
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

// ---- T45: renegotiation --------------------------------------------------------------------

/// The lines `rx` still brings until the child's stdout ends (bounded).
fn rest_of(rx: mpsc::Receiver<String>) -> String {
    let mut out = String::new();
    while let Ok(line) = rx.recv_timeout(BOUND) {
        out.push_str(&line);
        out.push('\n');
    }
    out
}

/// T45: rustls refuses renegotiation. `openssl s_server -tls1_2` asked to renegotiate (`r` on
/// its stdin) sends a HelloRequest; our client answers with a no_renegotiation alert and the
/// connection ends (OpenSSL treats the refusal as fatal) with a typed error or an EOF on our
/// read, bounded: no hang, no panic.
#[test]
fn t45_our_client_refuses_a_renegotiation_from_openssl_s_server() {
    if !have_openssl() {
        return;
    }
    let certs = Certs::get();
    let mut child = ChildGuard(
        Command::new("openssl")
            .arg("s_server")
            .args(["-accept", "127.0.0.1:0", "-naccept", "1", "-tls1_2", "-msg"])
            .arg("-cert")
            .arg(&certs.cert)
            .arg("-key")
            .arg(&certs.key)
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .stderr(Stdio::null())
            .spawn()
            .expect("spawn openssl s_server"),
    );
    let mut stdin = child.0.stdin.take().unwrap();
    let (line, rx) = wait_line(&mut child.0, "ACCEPT");
    let port: u16 = line.rsplit(':').next().unwrap().trim().parse().unwrap();
    let read = run(async move {
        let (reader, writer) = asyncio::open_connection("127.0.0.1", port)
            .ssl(Certs::get().client_config(&[]))
            .server_hostname("localhost")
            .await?;
        assert_eq!(writer.transport().tls_version().as_deref(), Some("TLSv1.2"));
        stdin.write_all(b"r\n").unwrap(); // s_server: renegotiate
        stdin.flush().unwrap();
        let read = reader.read(-1).await;
        writer.close();
        let _ = writer.wait_closed().await;
        Ok(read)
    });
    let out = rest_of(rx);
    println!("our read: {read:?}\ns_server:\n{out}");
    assert!(
        out.contains("HelloRequest"),
        "s_server asked to renegotiate:\n{out}"
    );
    assert!(
        out.contains("no_renegotiation"),
        "T45: refused with no_renegotiation:\n{out}"
    );
    match read {
        Ok(rest) => assert!(rest.is_empty(), "{rest:?}"),
        Err(e) => assert!(matches!(e, Error::Tls(_)), "a typed TLS error: {e:?}"),
    }
}

/// T45, the server side: `openssl s_client -tls1_2` asked to renegotiate (`R` on its stdin)
/// sends a new ClientHello; our server refuses it (no_renegotiation), the handler's read ends
/// with a typed error or an EOF, and the server goes on serving.
#[test]
fn t45_our_server_refuses_a_renegotiation_from_openssl_s_client() {
    if !have_openssl() {
        return;
    }
    let ended: std::rc::Rc<std::cell::RefCell<Vec<String>>> = Default::default();
    let (e, ended_in) = (ended.clone(), ended.clone());
    let done = std::rc::Rc::new(asyncio::Event::new());
    let d = done.clone();
    let out = run(async move {
        let certs = Certs::get();
        let handler = move |reader: StreamReader, writer: StreamWriter| {
            let (e, d) = (e.clone(), d.clone());
            async move {
                let line = reader.readline().await?;
                writer.write(&line)?;
                writer.drain().await?;
                let rest = reader.read(-1).await;
                e.borrow_mut().push(match rest {
                    Ok(b) => format!("eof {}", b.len()),
                    Err(Error::Tls(t)) => format!("tls {t}"),
                    Err(other) => format!("other {other:?}"),
                });
                d.set();
                writer.close();
                let _ = writer.wait_closed().await;
                Ok::<_, Error>(())
            }
        };
        let server = asyncio::start_server(handler, "127.0.0.1", 0)
            .ssl(certs.server_config(&[]))
            .await?;
        let port = our_tls_server_port(&server);
        let mut child = s_client(
            port,
            &certs.ca,
            &["-servername", "localhost", "-tls1_2", "-msg"],
            Stdio::null(),
        );
        let mut stdin = child.0.stdin.take().unwrap();
        let out = child.0.stdout.take().unwrap();
        let (tx, rx) = mpsc::channel::<String>();
        std::thread::spawn(move || {
            for line in BufReader::new(out).lines() {
                let Ok(line) = line else { break };
                if tx.send(line).is_err() {
                    break;
                }
            }
        });
        // Our echo of a first line proves the handshake done; then the renegotiation.
        stdin.write_all(b"ping\n").unwrap();
        stdin.flush().unwrap();
        let (echoed, rx) = on_thread(move || {
            let mut seen = String::new();
            loop {
                match rx.recv_timeout(BOUND) {
                    Ok(line) if line == "ping" => return (true, rx),
                    Ok(line) => {
                        seen.push_str(&line);
                        seen.push('\n');
                    }
                    Err(_) => {
                        println!("s_client so far:\n{seen}");
                        return (false, rx);
                    }
                }
            }
        })
        .await;
        assert!(echoed, "the echo before the renegotiation");
        stdin.write_all(b"R\n").unwrap();
        stdin.flush().unwrap();
        done.wait().await; // the handler's read has ended
        assert_eq!(ended_in.borrow().len(), 1);
        drop(stdin);
        let out = on_thread(move || rest_of(rx)).await;
        let _ = child.0.wait();
        // The server still serves.
        let (reader, writer) = asyncio::open_connection("127.0.0.1", port)
            .ssl(certs.client_config(&[]))
            .server_hostname("localhost")
            .await?;
        writer.write(b"after\n")?;
        assert_eq!(reader.readline().await?, b"after\n");
        writer.close();
        writer.wait_closed().await?;
        server.close();
        server.wait_closed().await;
        Ok(out)
    });
    println!("handler: {:?}\ns_client:\n{out}", ended.borrow());
    assert!(
        out.contains("no_renegotiation"),
        "T45: refused with no_renegotiation:\n{out}"
    );
    let ended = ended.borrow();
    assert!(
        ended[0].starts_with("eof") || ended[0].starts_with("tls"),
        "{ended:?}"
    );
}
