//! TLS test fixtures shared by the tests that speak TLS (`tests/tls_*.rs` and others):
//! certificates made at test time with rcgen (a CA, a leaf for localhost/127.0.0.1, an expired
//! leaf, a client certificate, an unrelated CA), written as PEM files to a temp dir, and
//! blocking peers on helper threads for misbehaving-peer tests: scripted, plain TCP
//! (`raw_peer`), or a rustls server over TCP or a socketpair (`tls_peer`, `tls_peer_over`).
#![allow(dead_code)]

use std::io::{Read, Write};
use std::net::{TcpListener, TcpStream};
use std::os::unix::net::UnixStream;
use std::path::PathBuf;
use std::sync::{Arc, OnceLock};
use std::time::Duration;

use asyncio::tls::rustls;
use rcgen::{
    BasicConstraints, CertificateParams, DnType, ExtendedKeyUsagePurpose, IsCa, KeyPair,
    KeyUsagePurpose,
};
use rustls::{ClientConfig, ServerConfig};

/// PEM files of one certificate set.
pub struct Certs {
    pub dir: PathBuf,
    /// The CA that signed `cert`, `expired_cert` and `client_cert`.
    pub ca: PathBuf,
    /// Leaf for `localhost` and `127.0.0.1`, and its key.
    pub cert: PathBuf,
    pub key: PathBuf,
    /// Same names, valid 2000–2001 only.
    pub expired_cert: PathBuf,
    pub expired_key: PathBuf,
    /// A client certificate (CN=client), and its key.
    pub client_cert: PathBuf,
    pub client_key: PathBuf,
    /// A CA that signed nothing here.
    pub other_ca: PathBuf,
    /// DER of `cert`, for comparing with `peercert`.
    pub cert_der: Vec<u8>,
}

fn ca(name: &str) -> (rcgen::Certificate, KeyPair) {
    let key = KeyPair::generate().unwrap();
    let mut p = CertificateParams::new(Vec::<String>::new()).unwrap();
    p.distinguished_name.push(DnType::CommonName, name);
    p.is_ca = IsCa::Ca(BasicConstraints::Unconstrained);
    p.key_usages = vec![KeyUsagePurpose::KeyCertSign, KeyUsagePurpose::CrlSign];
    (p.self_signed(&key).unwrap(), key)
}

fn leaf(
    names: &[&str],
    eku: ExtendedKeyUsagePurpose,
    issuer: &rcgen::Certificate,
    issuer_key: &KeyPair,
    expired: bool,
) -> (rcgen::Certificate, KeyPair) {
    let key = KeyPair::generate().unwrap();
    let mut p =
        CertificateParams::new(names.iter().map(|s| s.to_string()).collect::<Vec<_>>()).unwrap();
    p.distinguished_name.push(
        DnType::CommonName,
        names.first().copied().unwrap_or("client"),
    );
    p.extended_key_usages = vec![eku];
    if expired {
        p.not_before = rcgen::date_time_ymd(2000, 1, 1);
        p.not_after = rcgen::date_time_ymd(2001, 1, 1);
    }
    (p.signed_by(&key, issuer, issuer_key).unwrap(), key)
}

/// The set lives as long as its test process (a static, never dropped), so its directory
/// outlives it: each run removes the directories of earlier runs whose process has ended
/// (`asyncio-tls-<pid>` with no `/proc/<pid>`), leaving at most those of live runs.
fn remove_dead_runs_dirs() {
    let Ok(entries) = std::fs::read_dir(std::env::temp_dir()) else {
        return;
    };
    for entry in entries.flatten() {
        let name = entry.file_name();
        let Some(pid) = name
            .to_str()
            .and_then(|n| n.strip_prefix("asyncio-tls-"))
            .and_then(|p| p.parse::<u32>().ok())
        else {
            continue;
        };
        if !std::path::Path::new(&format!("/proc/{pid}")).exists() {
            let _ = std::fs::remove_dir_all(entry.path());
        }
    }
}

impl Certs {
    /// The process-wide set (made once; tests only read the files).
    pub fn get() -> &'static Certs {
        static CERTS: OnceLock<Certs> = OnceLock::new();
        CERTS.get_or_init(Certs::make)
    }

    fn make() -> Certs {
        remove_dead_runs_dirs();
        let dir = std::env::temp_dir().join(format!("asyncio-tls-{}", std::process::id()));
        let _ = std::fs::remove_dir_all(&dir);
        std::fs::create_dir_all(&dir).unwrap();
        let (ca_cert, ca_key) = ca("asyncio test CA");
        let (other, _) = ca("unrelated CA");
        let server = ExtendedKeyUsagePurpose::ServerAuth;
        let (cert, key) = leaf(
            &["localhost", "127.0.0.1"],
            server.clone(),
            &ca_cert,
            &ca_key,
            false,
        );
        let (old, old_key) = leaf(&["localhost", "127.0.0.1"], server, &ca_cert, &ca_key, true);
        let (client, client_key) = leaf(
            &[],
            ExtendedKeyUsagePurpose::ClientAuth,
            &ca_cert,
            &ca_key,
            false,
        );
        let write = |name: &str, text: String| {
            let p = dir.join(name);
            std::fs::write(&p, text).unwrap();
            p
        };
        Certs {
            ca: write("ca.pem", ca_cert.pem()),
            cert: write("cert.pem", cert.pem()),
            key: write("key.pem", key.serialize_pem()),
            expired_cert: write("expired.pem", old.pem()),
            expired_key: write("expired.key", old_key.serialize_pem()),
            client_cert: write("client.pem", client.pem()),
            client_key: write("client.key", client_key.serialize_pem()),
            other_ca: write("other-ca.pem", other.pem()),
            cert_der: cert.der().to_vec(),
            dir,
        }
    }

    /// Server config for `cert`/`key`, with ALPN protocols.
    pub fn server_config(&self, alpn: &[&[u8]]) -> Arc<ServerConfig> {
        let mut c = asyncio::tls::server_config(&self.cert, &self.key).unwrap();
        c.alpn_protocols = alpn.iter().map(|a| a.to_vec()).collect();
        Arc::new(c)
    }

    /// Client config trusting `ca`, with ALPN protocols.
    pub fn client_config(&self, alpn: &[&[u8]]) -> Arc<ClientConfig> {
        let mut c = asyncio::tls::client_config_with_roots(&self.ca).unwrap();
        c.alpn_protocols = alpn.iter().map(|a| a.to_vec()).collect();
        Arc::new(c)
    }

    /// Server config demanding a client certificate signed by `ca` (client auth).
    pub fn server_config_client_auth(&self) -> Arc<ServerConfig> {
        let mut roots = rustls::RootCertStore::empty();
        roots.add_parsable_certificates(asyncio::tls::load_certs(&self.ca).unwrap());
        let verifier = rustls::server::WebPkiClientVerifier::builder(Arc::new(roots))
            .build()
            .unwrap();
        Arc::new(
            ServerConfig::builder()
                .with_client_cert_verifier(verifier)
                .with_single_cert(
                    asyncio::tls::load_certs(&self.cert).unwrap(),
                    asyncio::tls::load_private_key(&self.key).unwrap(),
                )
                .unwrap(),
        )
    }

    /// Client config trusting `ca` and presenting `client_cert`.
    pub fn client_config_with_cert(&self) -> Arc<ClientConfig> {
        let mut roots = rustls::RootCertStore::empty();
        roots.add_parsable_certificates(asyncio::tls::load_certs(&self.ca).unwrap());
        Arc::new(
            ClientConfig::builder()
                .with_root_certificates(roots)
                .with_client_auth_cert(
                    asyncio::tls::load_certs(&self.client_cert).unwrap(),
                    asyncio::tls::load_private_key(&self.client_key).unwrap(),
                )
                .unwrap(),
        )
    }
}

/// What the blocking peer does after its TLS handshake.
#[derive(Clone, Copy, Debug)]
pub enum PeerScript {
    /// Send `hello`, then a TCP FIN without close_notify; drain until EOF.
    TruncateAfterHello,
    /// Send `hello`, close_notify, then FIN; drain until EOF.
    CleanAfterHello,
    /// Read (and ignore) everything, never answering close_notify, until the client goes.
    IgnoreCloseNotify,
}

/// A blocking rustls server on a helper thread, for one connection. Returns its port.
pub fn blocking_tls_peer(script: PeerScript) -> (u16, std::thread::JoinHandle<()>) {
    let listener = TcpListener::bind("127.0.0.1:0").unwrap();
    let port = listener.local_addr().unwrap().port();
    let config = Certs::get().server_config(&[]);
    let h = std::thread::spawn(move || {
        let (mut tcp, _) = listener.accept().unwrap();
        tcp.set_read_timeout(Some(Duration::from_secs(20))).unwrap();
        let mut conn = rustls::ServerConnection::new(config).unwrap();
        while conn.is_handshaking() {
            if conn.complete_io(&mut tcp).is_err() {
                return;
            }
        }
        if !matches!(script, PeerScript::IgnoreCloseNotify) {
            conn.writer().write_all(b"hello").unwrap();
        }
        if matches!(script, PeerScript::CleanAfterHello) {
            conn.send_close_notify();
        }
        while conn.wants_write() {
            if conn.write_tls(&mut tcp).is_err() {
                return;
            }
        }
        if !matches!(script, PeerScript::IgnoreCloseNotify) {
            let _ = tcp.shutdown(std::net::Shutdown::Write);
        }
        drain(&mut tcp);
    });
    (port, h)
}

/// How long a blocking peer waits for a read before it gives up.
const PEER_BOUND: Duration = Duration::from_secs(20);

/// A plain TCP peer on a helper thread for one connection to `127.0.0.1:<port>`: `then` gets
/// the accepted socket (its reads time out after 20 s), and the thread returns its result.
/// Returns the port and the thread.
pub fn raw_peer<T: Send + 'static>(
    then: impl FnOnce(TcpStream) -> T + Send + 'static,
) -> (u16, std::thread::JoinHandle<T>) {
    let listener = TcpListener::bind("127.0.0.1:0").unwrap();
    let port = listener.local_addr().unwrap().port();
    let peer = std::thread::spawn(move || {
        let (tcp, _) = listener.accept().unwrap();
        tcp.set_read_timeout(Some(PEER_BOUND)).unwrap();
        then(tcp)
    });
    (port, peer)
}

/// A rustls server (the test certificate) on a helper thread for one connection to
/// `127.0.0.1:<port>`: the handshake, its last flight sent, then `then` with the socket and
/// the connection, whose result the thread returns. Returns the port and the thread.
pub fn tls_peer<T: Send + 'static>(
    then: impl FnOnce(TcpStream, rustls::ServerConnection) -> T + Send + 'static,
) -> (u16, std::thread::JoinHandle<T>) {
    let listener = TcpListener::bind("127.0.0.1:0").unwrap();
    let port = listener.local_addr().unwrap().port();
    (port, tls_peer_on(listener, then))
}

/// [`tls_peer`] for the first connection `listener` accepts.
pub fn tls_peer_on<T: Send + 'static>(
    listener: TcpListener,
    then: impl FnOnce(TcpStream, rustls::ServerConnection) -> T + Send + 'static,
) -> std::thread::JoinHandle<T> {
    let config = Certs::get().server_config(&[]);
    std::thread::spawn(move || {
        let (mut tcp, _) = listener.accept().unwrap();
        tcp.set_read_timeout(Some(PEER_BOUND)).unwrap();
        let mut conn = rustls::ServerConnection::new(config).unwrap();
        while conn.is_handshaking() {
            conn.complete_io(&mut tcp).unwrap();
        }
        send_all(&mut tcp, &mut conn);
        then(tcp, conn)
    })
}

/// A rustls server on `sock` (one end of a socketpair), on a thread: the handshake, then
/// `then`. Writes to a socketpair are in the other end's receive queue when they return, so
/// what `then` sent before signalling is there for the loop to take, in a known number of turns.
pub fn tls_peer_over<T: Send + 'static>(
    mut sock: UnixStream,
    then: impl FnOnce(&mut UnixStream, &mut rustls::ServerConnection) -> T + Send + 'static,
) -> std::thread::JoinHandle<T> {
    std::thread::spawn(move || {
        sock.set_read_timeout(Some(PEER_BOUND)).unwrap();
        let mut conn = rustls::ServerConnection::new(Certs::get().server_config(&[])).unwrap();
        while conn.is_handshaking() {
            conn.complete_io(&mut sock).unwrap();
        }
        then(&mut sock, &mut conn)
    })
}

/// Sends everything `conn` has queued (data, close_notify) to `sock`.
pub fn send_all(sock: &mut impl Write, conn: &mut rustls::ServerConnection) {
    while conn.wants_write() {
        conn.write_tls(sock).unwrap();
    }
}

/// Reads until our close_notify (or EOF), answers it with the peer's, then reads until we close.
pub fn answer_close_notify<S: Read + Write>(sock: &mut S, conn: &mut rustls::ServerConnection) {
    while !conn
        .process_new_packets()
        .is_ok_and(|s| s.peer_has_closed())
    {
        if !matches!(conn.read_tls(sock), Ok(n) if n > 0) {
            return;
        }
    }
    conn.send_close_notify();
    send_all(sock, conn);
    drain(sock);
}

/// Reads the plaintext that comes until our close_notify, EOF or an error: how many bytes, and
/// whether our close_notify came.
pub fn read_until_close_notify<S: Read>(
    sock: &mut S,
    conn: &mut rustls::ServerConnection,
) -> (usize, bool) {
    let mut total = 0;
    let mut buf = vec![0u8; 64 * 1024];
    loop {
        if !matches!(conn.read_tls(sock), Ok(n) if n > 0) {
            return (total, false);
        }
        let Ok(state) = conn.process_new_packets() else {
            return (total, false);
        };
        while let Ok(n @ 1..) = conn.reader().read(&mut buf) {
            total += n;
        }
        if state.peer_has_closed() {
            return (total, true);
        }
    }
}

/// Reads and discards until EOF or an error.
pub fn drain(tcp: &mut impl Read) {
    let mut buf = [0u8; 4096];
    while matches!(tcp.read(&mut buf), Ok(n) if n > 0) {}
}

// ---- issue #8 (tests/tls_faults_*.rs): raw rustls clients and captured flights ----

/// The first flight of a rustls client for `localhost` (its ClientHello record), captured in
/// memory with `write_tls` into a `Vec`: no socket involved.
pub fn client_hello() -> Vec<u8> {
    hello_of(Certs::get().client_config(&[]))
}

/// The first flight of a rustls client of `config` for `localhost`, captured in memory.
pub fn hello_of(config: Arc<ClientConfig>) -> Vec<u8> {
    let mut conn = rustls::ClientConnection::new(config, "localhost".try_into().unwrap()).unwrap();
    let mut out = Vec::new();
    while conn.wants_write() {
        conn.write_tls(&mut out).unwrap();
    }
    out
}

/// A blocking rustls client connected to `127.0.0.1:port`, its handshake done and its last
/// flight sent (reads time out after 20 s).
pub fn blocking_tls_client(port: u16) -> (TcpStream, rustls::ClientConnection) {
    let mut tcp = TcpStream::connect(("127.0.0.1", port)).unwrap();
    tcp.set_read_timeout(Some(Duration::from_secs(20))).unwrap();
    let mut conn = rustls::ClientConnection::new(
        Certs::get().client_config(&[]),
        "localhost".try_into().unwrap(),
    )
    .unwrap();
    while conn.is_handshaking() {
        conn.complete_io(&mut tcp).unwrap();
    }
    while conn.wants_write() {
        conn.write_tls(&mut tcp).unwrap();
    }
    (tcp, conn)
}

/// `data` as application-data records of `conn`, returned instead of sent (so a test can cut
/// or corrupt them).
pub fn seal(conn: &mut rustls::ClientConnection, data: &[u8]) -> Vec<u8> {
    conn.writer().write_all(data).unwrap();
    let mut out = Vec::new();
    while conn.wants_write() {
        conn.write_tls(&mut out).unwrap();
    }
    out
}

/// Reads records from `tcp` into `conn` until `n` bytes of plaintext came (returned), the
/// peer's close_notify, EOF, or an error (returned as the `Err` text).
pub fn read_plaintext(
    tcp: &mut TcpStream,
    conn: &mut rustls::ClientConnection,
    n: usize,
) -> Result<Vec<u8>, String> {
    let mut got = Vec::new();
    loop {
        let mut buf = [0u8; 4096];
        while let Ok(k) = conn.reader().read(&mut buf) {
            if k == 0 {
                return Ok(got); // close_notify
            }
            got.extend_from_slice(&buf[..k]);
        }
        if got.len() >= n {
            return Ok(got);
        }
        match conn.read_tls(tcp) {
            Ok(0) => return Ok(got),
            Ok(_) => {}
            Err(e) => return Err(format!("io {:?}", e.kind())),
        }
        if let Err(e) = conn.process_new_packets() {
            return Err(format!("tls {e:?}"));
        }
    }
}

// ---- one-segment peers (tests/tls_layer/segments.rs, tests/tls_start_tls/segments.rs) ----

/// A server config for the test certificate that speaks TLS 1.2 only: its handshake ends on
/// the server's flight (ChangeCipherSpec, Finished), which TLS 1.3's does not.
pub fn tls12_server_config() -> ServerConfig {
    let certs = Certs::get();
    ServerConfig::builder_with_protocol_versions(&[&rustls::version::TLS12])
        .with_no_client_auth()
        .with_single_cert(
            asyncio::tls::load_certs(&certs.cert).unwrap(),
            asyncio::tls::load_private_key(&certs.key).unwrap(),
        )
        .unwrap()
}

/// Runs a server's handshake over `sock` one read at a time, sending every flight but the
/// last: that one (ChangeCipherSpec, Finished under TLS 1.2) stays queued in `conn`, for the
/// caller to send in one write with what it adds.
pub fn handshake_keeping_last_flight<S: Read + Write>(
    sock: &mut S,
    conn: &mut rustls::ServerConnection,
) {
    while conn.is_handshaking() {
        assert!(conn.read_tls(sock).unwrap() > 0, "EOF in the handshake");
        conn.process_new_packets().unwrap();
        if conn.is_handshaking() {
            send_all(sock, conn);
        }
    }
}

/// What `conn` has queued, then `data` and, if `close`, its close_notify, as the bytes of one
/// write (returned, not sent).
pub fn flight_with<D>(conn: &mut rustls::ConnectionCommon<D>, data: &[u8], close: bool) -> Vec<u8> {
    conn.writer().write_all(data).unwrap();
    if close {
        conn.send_close_notify();
    }
    let mut out = Vec::new();
    while conn.wants_write() {
        conn.write_tls(&mut out).unwrap();
    }
    out
}

/// A TLS 1.2 rustls server on `sock`: its handshake, then its last flight, `data` and, if
/// `close`, its close_notify, in one write. The connection comes back for the rest.
pub fn tls12_server_finished_with<S: Read + Write>(
    sock: &mut S,
    data: &[u8],
    close: bool,
) -> rustls::ServerConnection {
    let mut conn = rustls::ServerConnection::new(Arc::new(tls12_server_config())).unwrap();
    handshake_keeping_last_flight(sock, &mut conn);
    sock.write_all(&flight_with(&mut conn, data, close))
        .unwrap();
    conn
}

/// A rustls client (our client config, SNI `localhost`) on `sock`: its handshake, then its
/// Finished, `data` and its close_notify in one write; then it reads until EOF or an error
/// and returns the plaintext that came.
pub fn client_finished_with<S: Read + Write>(sock: &mut S, data: &[u8]) -> Vec<u8> {
    let mut conn = rustls::ClientConnection::new(
        Certs::get().client_config(&[]),
        "localhost".try_into().unwrap(),
    )
    .unwrap();
    while conn.is_handshaking() {
        while conn.wants_write() {
            conn.write_tls(sock).unwrap();
        }
        assert!(conn.read_tls(sock).unwrap() > 0, "EOF in the handshake");
        conn.process_new_packets().unwrap();
    }
    sock.write_all(&flight_with(&mut conn, data, true)).unwrap();
    let mut got = Vec::new();
    while let Ok(1..) = conn.read_tls(sock) {
        if conn.process_new_packets().is_err() {
            break;
        }
        let mut buf = [0u8; 4096];
        while let Ok(n @ 1..) = conn.reader().read(&mut buf) {
            got.extend_from_slice(&buf[..n]);
        }
    }
    got
}
