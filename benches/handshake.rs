//! TLS handshakes, full and resumed, ours beside tokio-rustls (issue #16, "TLS session
//! resumption, proven"): `cargo bench --bench handshake` (part of `make bench`; `-- --quick`
//! for a short run).
//!
//! Four clients, each against its own stack's server on 127.0.0.1 (both servers on rustls
//! 0.23 with the ring provider, one self-signed certificate, the same `ServerConfig`):
//!
//! | client                  | what each connection does                                      |
//! |-------------------------|----------------------------------------------------------------|
//! | ours, full              | `open_connection(..).ssl(config)` with resumption disabled      |
//! | ours, resumed           | the same with one shared config (its session cache)             |
//! | tokio-rustls, full      | `TcpStream::connect` + `TlsConnector::connect`, no resumption   |
//! | tokio-rustls, resumed   | the same with one shared config                                 |
//!
//! The time measured is TCP connect plus handshake, until the client can send application
//! data. Then the client sends one line and reads its echo (so a TLS 1.3 ticket, sent after the
//! handshake, has arrived before the next connection) and closes; none of that is timed. Every
//! connection's resumption is checked: a "resumed" run where a connection did not resume (or a
//! "full" run where one did) fails the bench rather than report a wrong figure.
//!
//! The four run in turn, `ROUNDS` times, so drift on a shared machine hits them alike; the
//! table gives p50 and p99 over all rounds and the ratio to tokio-rustls in the same mode.
//! Client and servers are threads of this process, unpinned: on a 2-CPU machine the client
//! and the server it talks to share the CPUs. Quote the machine and the load with a figure.

use std::sync::Arc;
use std::time::{Duration, Instant};

use hdrhistogram::Histogram;
use rustls::pki_types::{CertificateDer, PrivateKeyDer, PrivatePkcs8KeyDer, ServerName};
use rustls::{ClientConfig, RootCertStore, ServerConfig};

const ROUNDS: usize = 5;

fn provider() -> Arc<rustls::crypto::CryptoProvider> {
    Arc::new(rustls::crypto::ring::default_provider())
}

struct Certs {
    server: Arc<ServerConfig>,
    roots: RootCertStore,
}

fn certs() -> Certs {
    let ck = rcgen::generate_simple_self_signed(vec!["localhost".to_string()]).expect("rcgen");
    let cert = CertificateDer::from(ck.cert.der().to_vec());
    let key = PrivateKeyDer::Pkcs8(PrivatePkcs8KeyDer::from(ck.key_pair.serialize_der()));
    let server = ServerConfig::builder_with_provider(provider())
        .with_safe_default_protocol_versions()
        .expect("versions")
        .with_no_client_auth()
        .with_single_cert(vec![cert.clone()], key)
        .expect("server config");
    let mut roots = RootCertStore::empty();
    roots.add(cert).expect("root");
    Certs {
        server: Arc::new(server),
        roots,
    }
}

fn client_config(roots: &RootCertStore, resume: bool) -> Arc<ClientConfig> {
    let mut c = ClientConfig::builder_with_provider(provider())
        .with_safe_default_protocol_versions()
        .expect("versions")
        .with_root_certificates(roots.clone())
        .with_no_client_auth();
    if !resume {
        c.resumption = rustls::client::Resumption::disabled();
    }
    Arc::new(c)
}

/// Our TLS echo server on a thread of its own; returns its port.
fn serve_ours(config: Arc<ServerConfig>) -> u16 {
    let (tx, rx) = std::sync::mpsc::channel();
    std::thread::spawn(move || {
        let result = asyncio::run(async move {
            let echo = |reader: asyncio::StreamReader, writer: asyncio::StreamWriter| async move {
                while let Ok(line) = reader.readline().await {
                    if line.is_empty() || writer.write(&line).is_err() {
                        break;
                    }
                }
                writer.close();
            };
            let server = asyncio::start_server(echo, "127.0.0.1", 0)
                .ssl(config)
                .await?;
            let port = server.sockets()[0].as_inet().expect("inet").port();
            tx.send(port).expect("main thread waits");
            server.serve_forever().await
        })
        .and_then(|r| r);
        if let Err(e) = result {
            eprintln!("handshake bench: our server failed: {e}");
        }
    });
    rx.recv().expect("our server did not start")
}

/// tokio-rustls' TLS echo server on a thread of its own (current_thread runtime); its port.
fn serve_tokio(config: Arc<ServerConfig>) -> u16 {
    use tokio::io::{AsyncBufReadExt, AsyncWriteExt, BufReader};
    let (tx, rx) = std::sync::mpsc::channel();
    std::thread::spawn(move || {
        let rt = tokio::runtime::Builder::new_current_thread()
            .enable_io()
            .build()
            .expect("runtime");
        rt.block_on(async move {
            let listener = tokio::net::TcpListener::bind("127.0.0.1:0")
                .await
                .expect("bind");
            tx.send(listener.local_addr().expect("addr").port())
                .expect("main thread waits");
            let acceptor = tokio_rustls::TlsAcceptor::from(config);
            loop {
                let Ok((tcp, _)) = listener.accept().await else {
                    continue;
                };
                // As every stream transport of ours (and of asyncio) does.
                let _ = tcp.set_nodelay(true);
                let acceptor = acceptor.clone();
                tokio::spawn(async move {
                    let Ok(tls) = acceptor.accept(tcp).await else {
                        return;
                    };
                    let mut tls = BufReader::new(tls);
                    let mut line = Vec::new();
                    while let Ok(n) = tls.read_until(b'\n', &mut line).await {
                        if n == 0 || tls.get_mut().write_all(&line).await.is_err() {
                            break;
                        }
                        line.clear();
                    }
                    let _ = tls.get_mut().shutdown().await;
                });
            }
        });
    });
    rx.recv().expect("tokio server did not start")
}

/// `n` connections of our client; each handshake's time recorded in `h`.
fn run_ours(port: u16, config: &Arc<ClientConfig>, resume: bool, n: usize, h: &mut Histogram<u64>) {
    let config = config.clone();
    let times = asyncio::run(async move {
        let mut times = Vec::with_capacity(n);
        for _ in 0..n {
            let t0 = Instant::now();
            let (reader, writer) = asyncio::open_connection("127.0.0.1", port)
                .ssl(config.clone())
                .server_hostname("localhost")
                .await?;
            times.push(t0.elapsed());
            writer.write(b"ping\n")?;
            assert_eq!(reader.readline().await?, b"ping\n");
            let resumed = writer.transport().session_resumed();
            assert!(
                resumed == Some(resume) || (resume && times.len() == 1),
                "ours: connection {} resumed: {resumed:?}, expected {resume}",
                times.len()
            );
            writer.close();
            writer.wait_closed().await?;
        }
        Ok::<_, asyncio::Error>(times)
    })
    .and_then(|r| r)
    .expect("our client");
    record(h, &times, resume);
}

/// `n` connections of tokio-rustls' client.
fn run_tokio(
    rt: &tokio::runtime::Runtime,
    port: u16,
    config: &Arc<ClientConfig>,
    resume: bool,
    n: usize,
    h: &mut Histogram<u64>,
) {
    use tokio::io::{AsyncReadExt, AsyncWriteExt};
    let connector = tokio_rustls::TlsConnector::from(config.clone());
    let times = rt.block_on(async move {
        let mut times = Vec::with_capacity(n);
        let name = ServerName::try_from("localhost").expect("name");
        for _ in 0..n {
            let t0 = Instant::now();
            let tcp = tokio::net::TcpStream::connect(("127.0.0.1", port))
                .await
                .expect("connect");
            tcp.set_nodelay(true).expect("nodelay");
            let mut tls = connector
                .connect(name.clone(), tcp)
                .await
                .expect("handshake");
            times.push(t0.elapsed());
            tls.write_all(b"ping\n").await.expect("write");
            let mut back = [0u8; 5];
            tls.read_exact(&mut back).await.expect("read");
            let resumed = tls.get_ref().1.handshake_kind() == Some(rustls::HandshakeKind::Resumed);
            assert!(
                resumed == resume || (resume && times.len() == 1),
                "tokio-rustls: connection {} resumed: {resumed}, expected {resume}",
                times.len()
            );
            let _ = tls.shutdown().await;
        }
        times
    });
    record(h, &times, resume);
}

/// Records `times`; a resumed run's first connection is the full handshake that fills the
/// cache, so it is left out.
fn record(h: &mut Histogram<u64>, times: &[Duration], resume: bool) {
    for t in &times[usize::from(resume)..] {
        h.record(t.as_nanos().max(1) as u64).expect("in range");
    }
}

fn main() {
    let quick = std::env::args().any(|a| a == "--quick");
    let n = if quick { 50 } else { 200 };
    let certs = certs();
    let ours_port = serve_ours(certs.server.clone());
    let tokio_port = serve_tokio(certs.server.clone());
    let rt = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .expect("runtime");
    let modes = [("full", false), ("resumed", true)];
    let new_h = || Histogram::<u64>::new_with_bounds(1, 60_000_000_000, 3).expect("histogram");
    let mut ours = [new_h(), new_h()];
    let mut theirs = [new_h(), new_h()];
    let rounds = if quick { 1 } else { ROUNDS };
    for round in 1..=rounds {
        for (i, (_, resume)) in modes.iter().enumerate() {
            // A fresh shared config per round: each resumed run starts with an empty cache.
            let config = client_config(&certs.roots, *resume);
            run_ours(ours_port, &config, *resume, n, &mut ours[i]);
            let config = client_config(&certs.roots, *resume);
            run_tokio(&rt, tokio_port, &config, *resume, n, &mut theirs[i]);
        }
        eprintln!("handshake bench: round {round}/{rounds} done");
    }
    let us = |h: &Histogram<u64>, q: f64| h.value_at_quantile(q) as f64 / 1e3;
    println!("## TLS handshakes: connect + handshake, 127.0.0.1, rustls 0.23 (ring)\n");
    println!("{n} connections per client per round, {rounds} round(s), client and server threads unpinned.\n");
    println!(
        "| client | handshake | p50 µs | p99 µs | p50 vs tokio-rustls | p99 vs tokio-rustls |"
    );
    println!("|---|---|---|---|---|---|");
    for (i, (mode, _)) in modes.iter().enumerate() {
        for (who, h) in [("tokio-rustls", &theirs[i]), ("ours", &ours[i])] {
            println!(
                "| {who} | {mode} | {:.0} | {:.0} | {:.2}x | {:.2}x |",
                us(h, 0.5),
                us(h, 0.99),
                us(h, 0.5) / us(&theirs[i], 0.5),
                us(h, 0.99) / us(&theirs[i], 0.99),
            );
        }
    }
    println!(
        "\nResumed / full, p50: ours {:.2}x, tokio-rustls {:.2}x.",
        us(&ours[1], 0.5) / us(&ours[0], 0.5),
        us(&theirs[1], 0.5) / us(&theirs[0], 0.5),
    );
}
