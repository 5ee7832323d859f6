//! PROXY protocol v1/v2 on servers: `proxy_protocol(Required | Optional)` on start_server,
//! start_unix_server and create_server. Headers are built by hand from HAProxy's
//! `doc/proxy-protocol.txt` (not with our encoder), sent by our own client over 127.0.0.1 or a
//! Unix socket in a temp dir; a property test fuzzes the parser and round-trips the encoder;
//! a last test goes through a real `haproxy` (`send-proxy`, `send-proxy-v2`) when the binary
//! is installed. Every wait is bounded (a 10 s `timeout` around each client), nothing sleeps.

#[cfg(feature = "tls")]
mod tls_common;
mod util;

use std::cell::RefCell;
use std::rc::Rc;
use std::time::Duration;

use asyncio::proxy_protocol::{
    parse, Addresses, Command, Parsed, ProxyHeader, SocketKind, Tlv, Version,
};
use asyncio::{ExtraInfo, ProxyProtocol, StreamReader, StreamWriter};
use proptest::prelude::*;

/// What the server's callback saw of one connection.
#[derive(Clone, Debug, Default)]
struct Seen {
    peer: String,
    sock: String,
    proxy_peer: Option<String>,
    header: Option<Rc<ProxyHeader>>,
    data: Vec<u8>,
}

type Log = Rc<RefCell<Vec<Seen>>>;

fn addr_info(w: &StreamWriter, key: &str) -> Option<String> {
    match w.get_extra_info(key) {
        Some(ExtraInfo::Address(a)) => Some(a.to_string()),
        _ => None,
    }
}

/// A callback that records what it saw, reads up to 100 bytes and answers `ok`.
type Handled = std::pin::Pin<Box<dyn std::future::Future<Output = asyncio::Result<()>>>>;

fn recorder(log: &Log) -> impl Fn(StreamReader, StreamWriter) -> Handled + 'static {
    let log = log.clone();
    move |r: StreamReader, w: StreamWriter| {
        let log = log.clone();
        Box::pin(async move {
            let mut seen = Seen {
                peer: w.peername().map(|a| a.to_string()).unwrap_or_default(),
                sock: w.sockname().map(|a| a.to_string()).unwrap_or_default(),
                proxy_peer: addr_info(&w, "proxy_peername"),
                header: w.proxy_header(),
                data: Vec::new(),
            };
            seen.data = r.read(100).await?;
            log.borrow_mut().push(seen);
            w.write(b"ok")?;
            w.close();
            w.wait_closed().await
        })
    }
}

/// Connects, sends `chunks` (yielding between them so that they tend to arrive in separate
/// reads), shuts down writing, and returns what the server answered (empty: closed on us).
async fn client(port: u16, chunks: &[&[u8]]) -> Vec<u8> {
    asyncio::timeout(Duration::from_secs(10), async {
        let (reader, writer) = asyncio::open_connection("127.0.0.1", port).await?;
        // The server may close on us mid-way (a refused header): that is an answer too.
        let _ = send(&writer, chunks).await;
        Ok::<_, asyncio::Error>(reader.read(-1).await.unwrap_or_default())
    })
    .await
    .expect("bounded")
    .expect("connect")
}

async fn send(writer: &StreamWriter, chunks: &[&[u8]]) -> asyncio::Result<()> {
    for c in chunks {
        writer.write(c)?;
        writer.drain().await?;
        for _ in 0..3 {
            asyncio::yield_now().await;
        }
    }
    writer.write_eof()
}

async fn proxy_server(mode: ProxyProtocol, log: &Log) -> asyncio::Result<(asyncio::Server, u16)> {
    let server = asyncio::start_server(recorder(log), "127.0.0.1", 0)
        .proxy_protocol(mode)
        .await?;
    let port = util::port_of(&server);
    Ok((server, port))
}

fn v2(ver_cmd: u8, fam: u8, body: &[u8]) -> Vec<u8> {
    let mut v = b"\r\n\r\n\0\r\nQUIT\n".to_vec();
    v.push(ver_cmd);
    v.push(fam);
    v.extend_from_slice(&(body.len() as u16).to_be_bytes());
    v.extend_from_slice(body);
    v
}

/// Gives the loop turns until `cond` holds; at most 10 000 (the caller's assertions then say
/// what is missing).
async fn turns_until(mut cond: impl FnMut() -> bool) {
    for _ in 0..10_000 {
        if cond() {
            return;
        }
        asyncio::yield_now().await;
    }
}

#[test]
fn v1_tcp4_tcp6_and_unknown() {
    asyncio::run(async {
        let log = Log::default();
        let (server, port) = proxy_server(ProxyProtocol::Required, &log).await?;
        let tcp4 = b"PROXY TCP4 192.0.2.1 198.51.100.7 56324 443\r\n";
        assert_eq!(client(port, &[tcp4, b"hello"]).await, b"ok");
        let tcp6 = b"PROXY TCP6 2001:db8::1 2001:db8::2 40000 8443\r\n";
        assert_eq!(client(port, &[tcp6, b"six"]).await, b"ok");
        assert_eq!(
            client(port, &[b"PROXY UNKNOWN ff::1 whatever\r\n", b"u"]).await,
            b"ok"
        );
        let seen = log.borrow().clone();
        assert_eq!(seen.len(), 3);
        assert_eq!(seen[0].peer, "192.0.2.1:56324");
        assert_eq!(seen[0].sock, "198.51.100.7:443");
        assert_eq!(seen[0].data, b"hello");
        assert!(seen[0]
            .proxy_peer
            .as_deref()
            .unwrap()
            .starts_with("127.0.0.1:"));
        let h = seen[0].header.as_ref().unwrap();
        assert_eq!((h.version, h.command), (Version::V1, Command::Proxy));
        assert_eq!(seen[1].peer, "[2001:db8::1]:40000");
        assert_eq!(seen[1].sock, "[2001:db8::2]:8443");
        // UNKNOWN: accepted, and the socket's own addresses are kept (spec 2.1).
        assert!(seen[2].peer.starts_with("127.0.0.1:"), "{}", seen[2].peer);
        assert_eq!(seen[2].sock, format!("127.0.0.1:{port}"));
        assert_eq!(
            seen[2].header.as_ref().unwrap().addresses,
            Addresses::Unspecified
        );
        assert_eq!(seen[2].data, b"u");
        server.close();
        Ok::<_, asyncio::Error>(())
    })
    .unwrap()
    .unwrap();
}

#[test]
fn v2_tcp4_tcp6_local_byte_by_byte_and_in_one_segment() {
    asyncio::run(async {
        let log = Log::default();
        let (server, port) = proxy_server(ProxyProtocol::Required, &log).await?;
        // PROXY, INET/STREAM: 192.0.2.1:56324 -> 198.51.100.7:443
        let tcp4 = v2(
            0x21,
            0x11,
            &[192, 0, 2, 1, 198, 51, 100, 7, 0xdc, 0x04, 0x01, 0xbb],
        );
        let mut one_segment = tcp4.clone();
        one_segment.extend_from_slice(b"payload");
        assert_eq!(client(port, &[&one_segment]).await, b"ok");
        // The same header, one byte per write.
        let bytes: Vec<&[u8]> = tcp4.chunks(1).chain([&b"x"[..]]).collect();
        assert_eq!(client(port, &bytes).await, b"ok");
        // PROXY, INET6/STREAM: [2001:db8::1]:1 -> [2001:db8::2]:2
        let mut six = Vec::new();
        six.extend_from_slice(
            &"2001:db8::1"
                .parse::<std::net::Ipv6Addr>()
                .unwrap()
                .octets(),
        );
        six.extend_from_slice(
            &"2001:db8::2"
                .parse::<std::net::Ipv6Addr>()
                .unwrap()
                .octets(),
        );
        six.extend_from_slice(&[0, 1, 0, 2]);
        assert_eq!(client(port, &[&v2(0x21, 0x21, &six), b"6"]).await, b"ok");
        // LOCAL (a health check), UNSPEC: accepted, real addresses kept.
        assert_eq!(client(port, &[&v2(0x20, 0x00, &[]), b"l"]).await, b"ok");
        let seen = log.borrow().clone();
        assert_eq!(seen[0].peer, "192.0.2.1:56324");
        assert_eq!(seen[0].sock, "198.51.100.7:443");
        assert_eq!(seen[0].data, b"payload");
        assert_eq!(seen[1].peer, "192.0.2.1:56324");
        assert_eq!(seen[1].data, b"x");
        assert_eq!(seen[2].peer, "[2001:db8::1]:1");
        assert_eq!(seen[2].sock, "[2001:db8::2]:2");
        let local = seen[3].header.as_ref().unwrap();
        assert_eq!(
            (local.version, local.command),
            (Version::V2, Command::Local)
        );
        assert!(seen[3].peer.starts_with("127.0.0.1:"));
        assert_eq!(seen[3].data, b"l");
        server.close();
        Ok::<_, asyncio::Error>(())
    })
    .unwrap()
    .unwrap();
}

#[test]
fn v2_tlvs_reach_the_typed_accessor() {
    // TLVs by hand: ALPN "h2", AUTHORITY "example.com", NOOP padding, UNIQUE_ID, SSL with
    // VERSION/CN/CIPHER/SIG_ALG/KEY_ALG, NETNS, an unknown 0xE0, and a CRC32C at the end.
    let mut body = vec![10, 0, 0, 1, 10, 0, 0, 2, 0x30, 0x39, 0x00, 0x50];
    let tlv = |b: &mut Vec<u8>, kind: u8, value: &[u8]| {
        b.push(kind);
        b.extend_from_slice(&(value.len() as u16).to_be_bytes());
        b.extend_from_slice(value);
    };
    tlv(&mut body, 0x01, b"h2");
    tlv(&mut body, 0x02, b"example.com");
    tlv(&mut body, 0x04, &[0, 0, 0]);
    tlv(&mut body, 0x05, b"id-42");
    let mut ssl = vec![0x07, 0, 0, 0, 0];
    tlv(&mut ssl, 0x21, b"TLSv1.3");
    tlv(&mut ssl, 0x22, b"client.example");
    tlv(&mut ssl, 0x23, b"TLS_AES_128_GCM_SHA256");
    tlv(&mut ssl, 0x24, b"SHA256");
    tlv(&mut ssl, 0x25, b"RSA2048");
    tlv(&mut body, 0x20, &ssl);
    tlv(&mut body, 0x30, b"blue");
    tlv(&mut body, 0xE0, b"raw");
    tlv(&mut body, 0x03, &[0, 0, 0, 0]);
    let mut header = v2(0x21, 0x11, &body);
    let crc = crc32c(&header);
    let n = header.len();
    header[n - 4..].copy_from_slice(&crc.to_be_bytes());

    asyncio::run(async {
        let log = Log::default();
        let (server, port) = proxy_server(ProxyProtocol::Required, &log).await?;
        assert_eq!(client(port, &[&header, b"tlv"]).await, b"ok");
        // A wrong checksum is refused.
        let mut bad = header.clone();
        bad[n - 1] ^= 1;
        assert_eq!(client(port, &[&bad, b"no"]).await, b"");
        let seen = log.borrow().clone();
        assert_eq!(seen.len(), 1);
        let h = seen[0].header.clone().unwrap();
        assert_eq!(seen[0].peer, "10.0.0.1:12345");
        assert_eq!(h.alpn(), Some(&b"h2"[..]));
        assert_eq!(h.authority(), Some("example.com"));
        assert_eq!(h.unique_id(), Some(&b"id-42"[..]));
        assert_eq!(h.netns(), Some("blue"));
        assert_eq!(h.crc32c(), Some(crc));
        assert_eq!(h.tlv(0xE0), Some(&b"raw"[..]));
        let ssl = h.ssl().unwrap();
        assert!(ssl.client_ssl() && ssl.client_cert_verified());
        assert_eq!(ssl.version(), Some("TLSv1.3"));
        assert_eq!(ssl.cn(), Some("client.example"));
        assert_eq!(ssl.cipher(), Some("TLS_AES_128_GCM_SHA256"));
        assert_eq!(ssl.sig_alg(), Some("SHA256"));
        assert_eq!(ssl.key_alg(), Some("RSA2048"));
        server.close();
        Ok::<_, asyncio::Error>(())
    })
    .unwrap()
    .unwrap();
}

/// CRC-32C, written out here independently of the crate's.
fn crc32c(data: &[u8]) -> u32 {
    let mut crc = 0xFFFF_FFFFu32;
    for &b in data {
        crc ^= b as u32;
        for _ in 0..8 {
            let mask = (crc & 1).wrapping_neg();
            crc = (crc >> 1) ^ (0x82F6_3B78 & mask);
        }
    }
    !crc
}

#[test]
fn v2_over_a_unix_server() {
    let dir = util::temp_dir("proxy-unix");
    let path = dir.join("s.sock");
    asyncio::run(async move {
        let log = Log::default();
        let server = asyncio::start_unix_server(recorder(&log), &path)
            .proxy_protocol(ProxyProtocol::Required)
            .await?;
        let mut body = vec![0u8; 216];
        body[..11].copy_from_slice(b"/run/client");
        body[108..108 + 8].copy_from_slice(b"/run/lb0");
        let header = v2(0x21, 0x31, &body);
        let answer = asyncio::timeout(Duration::from_secs(10), async {
            let (reader, writer) = asyncio::open_unix_connection(&path).await?;
            send(&writer, &[&header, b"unix"]).await?;
            reader.read(-1).await
        })
        .await??;
        assert_eq!(answer, b"ok");
        let seen = log.borrow().clone();
        assert_eq!(seen[0].peer, "/run/client");
        assert_eq!(seen[0].sock, "/run/lb0");
        assert_eq!(seen[0].data, b"unix");
        server.close();
        Ok::<_, asyncio::Error>(())
    })
    .unwrap()
    .unwrap();
}

#[test]
fn optional_serves_a_client_without_header_and_loses_nothing() {
    asyncio::run(async {
        let log = Log::default();
        let (server, port) = proxy_server(ProxyProtocol::Optional, &log).await?;
        assert_eq!(client(port, &[b"hello"]).await, b"ok");
        // Starts like the v1 signature, then is not one: every byte still arrives.
        assert_eq!(client(port, &[b"P", b"OST /"]).await, b"ok");
        // Shorter than a signature, then EOF: the bytes are the client's.
        assert_eq!(client(port, &[b"\r\n"]).await, b"ok");
        // And a header is still read when sent.
        let h = b"PROXY TCP4 192.0.2.9 198.51.100.7 1 2\r\n";
        assert_eq!(client(port, &[h, b"x"]).await, b"ok");
        let seen = log.borrow().clone();
        assert_eq!(seen[0].data, b"hello");
        assert!(seen[0].header.is_none() && seen[0].proxy_peer.is_none());
        assert!(seen[0].peer.starts_with("127.0.0.1:"));
        assert_eq!(seen[1].data, b"POST /");
        assert_eq!(seen[2].data, b"\r\n");
        assert_eq!(seen[3].peer, "192.0.2.9:1");
        server.close();
        Ok::<_, asyncio::Error>(())
    })
    .unwrap()
    .unwrap();
}

#[test]
fn bad_headers_close_that_connection_only() {
    asyncio::run(async {
        let log = Log::default();
        let (server, port) = proxy_server(ProxyProtocol::Required, &log).await?;
        let too_long = [&b"PROXY UNKNOWN "[..], &[b'x'; 200]].concat();
        let oversized_v2 = {
            let mut v = v2(0x21, 0x11, &[]);
            v[14..16].copy_from_slice(&0xFFFFu16.to_be_bytes());
            v
        };
        for bad in [
            &b"hello, no header\r\n"[..],        // Required, plain client
            b"PROXY TCP4 1.2.3.4 5.6.7.8 1\r\n", // malformed v1
            &too_long,                           // v1 over 107 bytes
            &oversized_v2,                       // v2 length beyond the cap
            &v2(0x31, 0x11, &[0; 12]),           // v2 version 3
            b"PROXY TCP4 1.2.3.4",               // truncated, then EOF
            &v2(0x21, 0x11, &[0; 12])[..20],     // truncated v2, then EOF
        ] {
            assert_eq!(
                client(port, &[bad]).await,
                b"",
                "{:?}",
                String::from_utf8_lossy(bad)
            );
        }
        assert!(
            log.borrow().is_empty(),
            "no callback ran for a refused connection"
        );
        // The server is fine: the next good connection is served.
        assert_eq!(client(port, &[b"PROXY UNKNOWN\r\n", b"ok?"]).await, b"ok");
        assert_eq!(log.borrow().len(), 1);
        assert!(server.is_serving());
        server.close();
        Ok::<_, asyncio::Error>(())
    })
    .unwrap()
    .unwrap();
}

/// Debug lines of the crate that mention `needle`, counted from the first call on (a global
/// logger, installed once; the tests of this binary run in parallel, so each counts its own
/// message).
fn count_logs(needle: &'static str) -> impl Fn() -> usize {
    use std::sync::{Mutex, OnceLock};
    struct Capture(Mutex<Vec<String>>);
    impl log::Log for Capture {
        fn enabled(&self, m: &log::Metadata) -> bool {
            m.target() == "asyncio"
        }
        fn log(&self, r: &log::Record) {
            if self.enabled(r.metadata()) && r.level() == log::Level::Debug {
                self.0.lock().unwrap().push(r.args().to_string());
            }
        }
        fn flush(&self) {}
    }
    static LOGGER: OnceLock<&'static Capture> = OnceLock::new();
    let logger = *LOGGER.get_or_init(|| {
        let l: &'static Capture = Box::leak(Box::new(Capture(Mutex::new(Vec::new()))));
        let _ = log::set_logger(l);
        log::set_max_level(log::LevelFilter::Debug);
        l
    });
    move || {
        let lines = logger.0.lock().unwrap();
        lines.iter().filter(|l| l.contains(needle)).count()
    }
}

#[test]
fn a_header_that_never_completes_times_out() {
    let timeouts_logged = count_logs("no PROXY header within 20ms");
    asyncio::run(async {
        let log = Log::default();
        let server = asyncio::start_server(recorder(&log), "127.0.0.1", 0)
            .proxy_protocol(ProxyProtocol::Required)
            .proxy_protocol_timeout(Duration::from_millis(20))
            .await?;
        let port = util::port_of(&server);
        let got = asyncio::timeout(Duration::from_secs(10), async {
            let (reader, writer) = asyncio::open_connection("127.0.0.1", port).await?;
            writer.write(b"PROXY TCP4 1.2.")?; // and nothing more, no EOF either
            Ok::<_, asyncio::Error>(reader.read(-1).await.unwrap_or_default())
        })
        .await??;
        assert_eq!(got, b"", "the server closed the connection");
        assert!(log.borrow().is_empty());
        assert_eq!(
            timeouts_logged(),
            1,
            "one debug line for the refused connection"
        );
        server.close();
        Ok::<_, asyncio::Error>(())
    })
    .unwrap()
    .unwrap();
}

#[test]
fn optional_serves_a_silent_client_at_the_timeout() {
    // A server-speaks-first protocol: the client sends nothing until greeted. With Optional,
    // the timeout finds no header begun, and the client is served as a direct one.
    asyncio::run(async {
        let greeter = |reader: StreamReader, writer: StreamWriter| async move {
            writer.write(b"220 hello\r\n")?;
            let line = reader.readline().await?;
            writer.write(&line)?;
            writer.close();
            Ok::<_, asyncio::Error>(())
        };
        let server = asyncio::start_server(greeter, "127.0.0.1", 0)
            .proxy_protocol(ProxyProtocol::Optional)
            .proxy_protocol_timeout(Duration::from_millis(20))
            .await?;
        let port = util::port_of(&server);
        let got = asyncio::timeout(Duration::from_secs(10), async {
            let (reader, writer) = asyncio::open_connection("127.0.0.1", port).await?;
            let greeting = reader.readline().await?;
            writer.write(b"QUIT\r\n")?;
            let echo = reader.read(-1).await?;
            Ok::<_, asyncio::Error>((greeting, echo))
        })
        .await??;
        assert_eq!(got.0, b"220 hello\r\n");
        assert_eq!(got.1, b"QUIT\r\n");
        // A header begun and never completed is still refused at the timeout.
        let cut = asyncio::timeout(Duration::from_secs(10), async {
            let (reader, writer) = asyncio::open_connection("127.0.0.1", port).await?;
            writer.write(b"PROXY TCP4 1.2.")?;
            Ok::<_, asyncio::Error>(reader.read(-1).await.unwrap_or_default())
        })
        .await??;
        assert_eq!(cut, b"", "closed without a greeting");
        server.close();
        Ok::<_, asyncio::Error>(())
    })
    .unwrap()
    .unwrap();
}

#[test]
fn huge_timeouts_are_accepted() {
    asyncio::run(async {
        let log = Log::default();
        let server = asyncio::start_server(recorder(&log), "127.0.0.1", 0)
            .proxy_protocol(ProxyProtocol::Required)
            .proxy_protocol_timeout(Duration::MAX)
            .await?;
        let port = util::port_of(&server);
        assert_eq!(client(port, &[b"PROXY UNKNOWN\r\n", b"m"]).await, b"ok");
        server.close();
        Ok::<_, asyncio::Error>(())
    })
    .unwrap()
    .unwrap();
}

#[test]
fn a_zero_timeout_is_refused_before_serving_as_tls_timeouts_are_t1() {
    // A zero header timer races the first read: an `Optional` server could serve a proxied
    // client as a direct one. Refused like a zero ssl_handshake_timeout (T1), when awaited,
    // before anything is bound; the smallest positive duration is fine.
    asyncio::run(async {
        let dir = util::temp_dir("proxy-zero");
        let path = dir.join("s.sock");
        let expected = "proxy_protocol_timeout should be a positive number, got 0.0";
        for mode in [ProxyProtocol::Required, ProxyProtocol::Optional] {
            let e = asyncio::start_server(recorder(&Log::default()), "127.0.0.1", 0)
                .proxy_protocol(mode)
                .proxy_protocol_timeout(Duration::ZERO)
                .await
                .expect_err("a zero timeout");
            assert!(matches!(e, asyncio::Error::InvalidArgument(_)), "{e:?}");
            assert_eq!(e.to_string(), expected);
            let e = asyncio::start_unix_server(recorder(&Log::default()), &path)
                .proxy_protocol(mode)
                .proxy_protocol_timeout(Duration::ZERO)
                .await
                .expect_err("a zero timeout");
            assert_eq!(e.to_string(), expected);
            assert!(!path.exists(), "refused before binding");
        }
        let server = asyncio::start_server(recorder(&Log::default()), "127.0.0.1", 0)
            .proxy_protocol(ProxyProtocol::Optional)
            .proxy_protocol_timeout(Duration::from_nanos(1))
            .await?;
        server.close();
        Ok::<_, asyncio::Error>(())
    })
    .unwrap()
    .unwrap();
}

#[test]
fn create_server_protocols_hear_nothing_before_the_header() {
    use asyncio::{Protocol, Transport};
    #[derive(Default)]
    struct Rec(Rc<RefCell<Vec<String>>>, Option<Transport>);
    impl Protocol for Rec {
        fn connection_made(&mut self, t: Transport) {
            let peer = t.peername().map(|a| a.to_string()).unwrap_or_default();
            self.0.borrow_mut().push(format!("made {peer}"));
            self.1 = Some(t);
        }
        fn data_received(&mut self, data: &[u8]) {
            self.0
                .borrow_mut()
                .push(format!("data {}", String::from_utf8_lossy(data)));
            let t = self.1.as_ref().unwrap();
            let _ = t.write(b"ok");
            t.close();
        }
        fn connection_lost(&mut self, _: Option<std::io::Error>) {
            self.0.borrow_mut().push("lost".into());
        }
    }
    asyncio::run(async {
        let calls = Rc::new(RefCell::new(Vec::new()));
        let c = calls.clone();
        let lp = asyncio::get_running_loop()?;
        let server = lp
            .create_server(move || Rec(c.clone(), None), "127.0.0.1", 0)
            .proxy_protocol(ProxyProtocol::Required)
            .await?;
        let port = util::port_of(&server);
        let h = b"PROXY TCP4 192.0.2.1 198.51.100.7 5 6\r\n";
        let chunks: Vec<&[u8]> = h.chunks(1).chain([&b"go"[..]]).collect();
        assert_eq!(client(port, &chunks).await, b"ok");
        assert_eq!(client(port, &[b"nope"]).await, b"");
        turns_until(|| calls.borrow().len() >= 3).await;
        assert_eq!(
            calls.borrow()[..3],
            ["made 192.0.2.1:5", "data go", "lost"].map(String::from)
        );
        assert_eq!(
            calls.borrow().len(),
            3,
            "the refused connection reached no protocol"
        );
        server.close();
        Ok::<_, asyncio::Error>(())
    })
    .unwrap()
    .unwrap();
}

#[cfg(feature = "tls")]
#[test]
fn tls_starts_after_the_header() {
    use tls_common::Certs;
    let certs = Certs::get();
    asyncio::run(async {
        let log = Log::default();
        let server = asyncio::start_server(recorder(&log), "127.0.0.1", 0)
            .proxy_protocol(ProxyProtocol::Required)
            .ssl(certs.server_config(&[]))
            .await?;
        let port = util::port_of(&server);
        let answer = asyncio::timeout(Duration::from_secs(10), async {
            let mut sock = std::net::TcpStream::connect(("127.0.0.1", port))?;
            std::io::Write::write_all(&mut sock, b"PROXY TCP4 192.0.2.1 198.51.100.7 7 443\r\n")?;
            let (reader, writer) = asyncio::open_connection_sock(sock)
                .ssl(certs.client_config(&[]))
                .server_hostname("localhost")
                .await?;
            writer.write(b"secret")?;
            reader.read(-1).await
        })
        .await??;
        assert_eq!(answer, b"ok");
        let seen = log.borrow().clone();
        assert_eq!(seen[0].peer, "192.0.2.1:7");
        assert_eq!(seen[0].data, b"secret");
        // Through the TLS transport: the header and the balancer's address are still there.
        assert_eq!(seen[0].header.as_ref().unwrap().version, Version::V1);
        assert!(seen[0]
            .proxy_peer
            .as_deref()
            .unwrap()
            .starts_with("127.0.0.1:"));
        server.close();
        Ok::<_, asyncio::Error>(())
    })
    .unwrap()
    .unwrap();
}

/// D14, T10 behind a PROXY header: a handler's start_tls on a connection whose client has
/// already sent its EOF fails at once with ConnectionReset, as on a plain socket, instead of
/// waiting for the handshake timeout (the proxied transport tells the EOF its socket read).
#[cfg(feature = "tls")]
#[test]
fn start_tls_after_the_clients_eof_fails_at_once() {
    use tls_common::Certs;
    asyncio::run(async {
        let outcome: Rc<RefCell<Option<asyncio::Error>>> = Rc::default();
        let out = outcome.clone();
        let server = asyncio::start_server(
            move |r: StreamReader, mut w: StreamWriter| {
                let out = out.clone();
                async move {
                    assert_eq!(r.read(-1).await?, b"STARTTLS\n");
                    let e = w
                        .start_tls(Certs::get().server_config(&[]))
                        // Far beyond the bound: only the client's EOF can end it in time.
                        .ssl_handshake_timeout(Duration::from_secs(3600))
                        .await
                        .expect_err("no handshake with a client that has closed");
                    *out.borrow_mut() = Some(e);
                    Ok::<_, asyncio::Error>(())
                }
            },
            "127.0.0.1",
            0,
        )
        .proxy_protocol(ProxyProtocol::Required)
        .await?;
        let port = util::port_of(&server);
        asyncio::timeout(Duration::from_secs(10), async {
            let (_reader, writer) = asyncio::open_connection("127.0.0.1", port).await?;
            writer.write(b"PROXY TCP4 192.0.2.1 198.51.100.7 7 443\r\nSTARTTLS\n")?;
            writer.write_eof()?;
            while outcome.borrow().is_none() {
                asyncio::yield_now().await;
            }
            writer.close();
            Ok::<_, asyncio::Error>(())
        })
        .await??;
        let e = outcome.borrow_mut().take().unwrap();
        assert_eq!(e.kind(), std::io::ErrorKind::ConnectionReset, "{e:?}");
        server.close();
        Ok::<_, asyncio::Error>(())
    })
    .unwrap()
    .unwrap();
}

fn any_header() -> impl Strategy<Value = ProxyHeader> {
    let inet = (
        any::<bool>(),
        any::<[u8; 16]>(),
        any::<[u8; 16]>(),
        any::<u16>(),
        any::<u16>(),
    )
        .prop_map(|(v4, s, d, sp, dp)| {
            let ip = |b: [u8; 16]| -> std::net::IpAddr {
                if v4 {
                    std::net::Ipv4Addr::new(b[0], b[1], b[2], b[3]).into()
                } else {
                    std::net::Ipv6Addr::from(b).into()
                }
            };
            Addresses::Inet {
                source: (ip(s), sp).into(),
                destination: (ip(d), dp).into(),
            }
        });
    let path = proptest::collection::vec(1u8..=255, 0..108);
    let unix = (path.clone(), path).prop_map(|(source, destination)| Addresses::Unix {
        source,
        destination,
    });
    let addresses = prop_oneof![Just(Addresses::Unspecified), inet, unix];
    let tlv = (any::<u8>(), proptest::collection::vec(any::<u8>(), 0..40))
        .prop_filter("no CRC (needs its checksum)", |(k, _)| *k != 0x03)
        .prop_map(|(kind, value)| Tlv { kind, value });
    (
        any::<bool>(),
        any::<bool>(),
        prop_oneof![
            Just(SocketKind::Unspecified),
            Just(SocketKind::Stream),
            Just(SocketKind::Datagram)
        ],
        addresses,
        proptest::collection::vec(tlv, 0..5),
    )
        .prop_map(|(v1, local, kind, addresses, tlvs)| {
            if v1 {
                // v1 carries TCP addresses or nothing.
                let inet = matches!(addresses, Addresses::Inet { .. });
                ProxyHeader {
                    version: Version::V1,
                    command: Command::Proxy,
                    kind: if inet {
                        SocketKind::Stream
                    } else {
                        SocketKind::Unspecified
                    },
                    addresses: if inet {
                        addresses
                    } else {
                        Addresses::Unspecified
                    },
                    tlvs: Vec::new(),
                }
            } else {
                ProxyHeader {
                    version: Version::V2,
                    command: if local {
                        Command::Local
                    } else {
                        Command::Proxy
                    },
                    kind,
                    addresses,
                    tlvs,
                }
            }
        })
}

proptest! {
    #[test]
    fn parse_never_panics(bytes in proptest::collection::vec(any::<u8>(), 0..300)) {
        let _ = parse(&bytes);
        // With a signature in front, the parser goes deeper.
        let _ = parse(&[&b"PROXY "[..], &bytes].concat());
        let _ = parse(&[&b"\r\n\r\n\0\r\nQUIT\n"[..], &bytes].concat());
    }

    #[test]
    fn encode_then_parse_round_trips(header in any_header(), tail in proptest::collection::vec(any::<u8>(), 0..20)) {
        let bytes = header.to_bytes().unwrap();
        let with_tail = [&bytes[..], &tail].concat();
        match parse(&with_tail) {
            Parsed::Complete(back, used) => {
                prop_assert_eq!(used, bytes.len());
                prop_assert_eq!(back, header);
            }
            other => prop_assert!(false, "{:?}", other),
        }
        for i in 0..bytes.len() {
            prop_assert_eq!(parse(&bytes[..i]), Parsed::Incomplete);
        }
    }

    /// Where a header is cut must not change the answer: whatever bytes follow the v2
    /// signature (LOCAL or PROXY, any family byte, any block), if the whole header parses, every
    /// shorter prefix of it is Incomplete, not Invalid (split at every byte, spec section 2.2:
    /// a LOCAL header's family is ignored, so it cannot be refused from the family byte alone).
    #[test]
    fn a_header_that_parses_whole_is_incomplete_at_every_cut(
        local in any::<bool>(),
        fam in any::<u8>(),
        body in proptest::collection::vec(any::<u8>(), 0..60),
    ) {
        let whole = v2(if local { 0x20 } else { 0x21 }, fam, &body);
        if let Parsed::Complete(_, used) = parse(&whole) {
            prop_assert_eq!(used, whole.len());
            for i in 0..whole.len() {
                prop_assert_eq!(parse(&whole[..i]), Parsed::Incomplete, "cut at {}", i);
            }
        }
    }
}

/// A real HAProxy in front of our server: `send-proxy-v2` (with CRC32C and a unique id) on
/// one frontend, `send-proxy` on another. The frontends' listening sockets are ours, bound to
/// port 0 and inherited by haproxy (`bind fd@N`), so there is no port race and no waiting for
/// haproxy to be up: a connection waits in the backlog until it accepts.
#[test]
fn through_a_real_haproxy() {
    use std::os::fd::AsRawFd;
    use std::process::{Command as Process, Stdio};
    let found = std::env::var_os("PATH")
        .map(|p| std::env::split_paths(&p).any(|d| d.join("haproxy").is_file()))
        .unwrap_or(false);
    if !found {
        println!(
            "SKIPPED through_a_real_haproxy: no haproxy binary on PATH (apt-get install haproxy)"
        );
        return;
    }
    let v2_front = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let v1_front = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    for l in [&v2_front, &v1_front] {
        socket2::SockRef::from(l).set_cloexec(false).unwrap();
    }
    let log = Log::default();
    let log2 = log.clone();
    let dir = util::temp_dir("proxy-haproxy");
    let cfg = dir.join("haproxy.cfg");
    asyncio::run(async move {
        let (server, port) = proxy_server(ProxyProtocol::Required, &log2).await?;
        let config = format!(
            "defaults\n  mode tcp\n  timeout connect 5s\n  timeout client 10s\n  timeout server 10s\n\
             frontend v2\n  bind fd@{v2fd}\n  unique-id-format id-%rt\n  default_backend be_v2\n\
             backend be_v2\n  server s 127.0.0.1:{port} send-proxy-v2 proxy-v2-options crc32c,unique-id\n\
             frontend v1\n  bind fd@{v1fd}\n  default_backend be_v1\n\
             backend be_v1\n  server s 127.0.0.1:{port} send-proxy\n",
            v2fd = v2_front.as_raw_fd(),
            v1fd = v1_front.as_raw_fd(),
        );
        std::fs::write(&cfg, config)?;
        let mut child = Process::new("haproxy")
            .arg("-db")
            .arg("-f")
            .arg(&cfg)
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .spawn()?;
        let mut results = Vec::new();
        for front in [&v2_front, &v1_front] {
            let fport = front.local_addr()?.port();
            let got = asyncio::timeout(Duration::from_secs(10), async {
                let (reader, writer) = asyncio::open_connection("127.0.0.1", fport).await?;
                let me = writer.sockname().unwrap().to_string();
                writer.write(b"through haproxy")?;
                Ok::<_, asyncio::Error>((me, reader.read(-1).await?))
            })
            .await;
            results.push(got);
        }
        let _ = child.kill();
        let _ = child.wait();
        server.close();
        let seen = log2.borrow().clone();
        for (i, r) in results.into_iter().enumerate() {
            let (me, answer) = r.expect("bounded").expect("through haproxy");
            assert_eq!(answer, b"ok");
            assert_eq!(seen[i].peer, me, "the client's own address, from the header");
            assert_eq!(seen[i].data, b"through haproxy");
            assert!(seen[i].proxy_peer.is_some());
        }
        assert_eq!(seen[0].sock, v2_front.local_addr()?.to_string());
        let h2 = seen[0].header.clone().unwrap();
        assert_eq!((h2.version, h2.command), (Version::V2, Command::Proxy));
        assert!(h2.crc32c().is_some(), "{h2:?}");
        assert!(h2.unique_id().is_some_and(|id| id.starts_with(b"id-")), "{h2:?}");
        assert_eq!(seen[1].header.as_ref().unwrap().version, Version::V1);
        Ok::<_, Box<dyn std::error::Error>>(())
    })
    .unwrap()
    .unwrap();
    let _ = std::fs::remove_dir_all(dir);
}

/// From inside `connection_made` (which runs inside the preamble's own callback): write and
/// close, abort, or pause reading. The bytes that came with the header in the same segment
/// follow the call grammar as the socket's own would: none after abort, none while paused.
#[test]
fn reentrant_connection_made_keeps_the_call_grammar() {
    use asyncio::{Protocol, Transport};
    #[derive(Clone, Copy, PartialEq)]
    enum Act {
        WriteClose,
        Abort,
        PauseThenResume,
    }
    struct P(Act, Rc<RefCell<Vec<String>>>, Option<Transport>);
    impl Protocol for P {
        fn connection_made(&mut self, t: Transport) {
            self.1.borrow_mut().push("made".into());
            match self.0 {
                Act::WriteClose => {
                    let _ = t.write(b"bye");
                    t.close();
                }
                Act::Abort => t.abort(),
                Act::PauseThenResume => {
                    t.pause_reading();
                    let (t2, log) = (t.clone(), self.1.clone());
                    let lp = t.get_loop();
                    let _ = lp.call_soon(move || {
                        log.borrow_mut().push("resume".into());
                        t2.resume_reading();
                    });
                }
            }
            self.2 = Some(t);
        }
        fn data_received(&mut self, data: &[u8]) {
            self.1
                .borrow_mut()
                .push(format!("data {}", String::from_utf8_lossy(data)));
            if let Some(t) = &self.2 {
                let _ = t.write(b"ok");
                t.close();
            }
        }
        fn connection_lost(&mut self, _: Option<std::io::Error>) {
            self.1.borrow_mut().push("lost".into());
        }
    }
    for act in [Act::WriteClose, Act::Abort, Act::PauseThenResume] {
        asyncio::run(async move {
            let calls = Rc::new(RefCell::new(Vec::new()));
            let c = calls.clone();
            let lp = asyncio::get_running_loop()?;
            let server = lp
                .create_server(move || P(act, c.clone(), None), "127.0.0.1", 0)
                .proxy_protocol(ProxyProtocol::Required)
                .await?;
            let port = util::port_of(&server);
            let answer = client(port, &[b"PROXY UNKNOWN\r\npayload"]).await;
            turns_until(|| calls.borrow().last().map(String::as_str) == Some("lost")).await;
            let calls = calls.borrow().clone();
            match act {
                Act::WriteClose => {
                    assert_eq!(answer, b"bye");
                    assert_eq!(calls, ["made", "lost"]);
                }
                Act::Abort => {
                    assert_eq!(answer, b"");
                    assert_eq!(calls, ["made", "lost"]);
                }
                Act::PauseThenResume => {
                    assert_eq!(answer, b"ok");
                    assert_eq!(calls, ["made", "resume", "data payload", "lost"]);
                }
            }
            server.close();
            Ok::<_, asyncio::Error>(())
        })
        .unwrap()
        .unwrap();
    }
}

/// L53, L79, L83: the bytes that came in the header's segment reach a buffered protocol
/// piece by piece (as much as its buffer takes); a `pause_reading` or `close` from inside
/// `buffer_updated` stops the pieces there, as the socket transport's reads would stop. The
/// paused rest arrives, in order, after `resume_reading`; the closed rest never.
#[test]
fn buffered_next_paused_or_closed_mid_segment_gets_no_more_pieces() {
    use asyncio::{BufferedProtocol, Protocol, Transport};
    #[derive(Clone, Copy, PartialEq, Debug)]
    enum Act {
        Pause,
        Close,
    }
    struct P {
        act: Act,
        log: Rc<RefCell<Vec<String>>>,
        t: Option<Transport>,
        buf: [u8; 4],
        paused: Rc<std::cell::Cell<bool>>,
    }
    impl Protocol for P {
        fn connection_made(&mut self, t: Transport) {
            self.t = Some(t);
        }
        fn connection_lost(&mut self, _: Option<std::io::Error>) {
            self.log.borrow_mut().push("lost".into());
        }
        fn as_buffered(&mut self) -> Option<&mut dyn BufferedProtocol> {
            Some(self)
        }
    }
    impl BufferedProtocol for P {
        fn get_buffer(&mut self, _: usize) -> &mut [u8] {
            &mut self.buf
        }
        fn buffer_updated(&mut self, n: usize) {
            let piece = String::from_utf8_lossy(&self.buf[..n]).into_owned();
            let paused = if self.paused.get() { " (paused)" } else { "" };
            self.log.borrow_mut().push(format!("{piece}{paused}"));
            let Some(t) = self.t.clone() else { return };
            match self.act {
                Act::Pause if piece == "abcd" => {
                    t.pause_reading();
                    self.paused.set(true);
                    let (log, paused) = (self.log.clone(), self.paused.clone());
                    let _ = t.get_loop().call_soon(move || {
                        log.borrow_mut().push("resume".into());
                        paused.set(false);
                        t.resume_reading();
                    });
                }
                Act::Pause => {
                    if piece == "ijkl" {
                        let _ = t.write(b"ok");
                        t.close();
                    }
                }
                Act::Close => {
                    let _ = t.write(b"ok");
                    t.close();
                }
            }
        }
    }
    for act in [Act::Pause, Act::Close] {
        asyncio::run(async move {
            let log = Rc::new(RefCell::new(Vec::new()));
            let l = log.clone();
            let lp = asyncio::get_running_loop()?;
            let server = lp
                .create_server(
                    move || P {
                        act,
                        log: l.clone(),
                        t: None,
                        buf: [0; 4],
                        paused: Rc::default(),
                    },
                    "127.0.0.1",
                    0,
                )
                .proxy_protocol(ProxyProtocol::Required)
                .await?;
            let port = util::port_of(&server);
            let answer = client(port, &[b"PROXY UNKNOWN\r\nabcdefghijkl"]).await;
            turns_until(|| log.borrow().last().map(String::as_str) == Some("lost")).await;
            assert_eq!(answer, b"ok", "{act:?}");
            let log = log.borrow().clone();
            match act {
                Act::Pause => assert_eq!(log, ["abcd", "resume", "efgh", "ijkl", "lost"]),
                Act::Close => assert_eq!(log, ["abcd", "lost"]),
            }
            server.close();
            Ok::<_, asyncio::Error>(())
        })
        .unwrap()
        .unwrap();
    }
}

/// L62, L79: `Optional`, a client whose only bytes are the start of a signature (an empty
/// line, `\r\n`) and then EOF. Its protocol pauses reading in `connection_made`: the EOF,
/// already read, waits behind the held bytes, which come first after `resume_reading`.
#[test]
fn eof_waits_behind_bytes_held_for_a_paused_protocol() {
    use asyncio::{Protocol, Transport};
    struct P(Rc<RefCell<Vec<String>>>, Option<Transport>);
    impl Protocol for P {
        fn connection_made(&mut self, t: Transport) {
            self.0.borrow_mut().push("made".into());
            t.pause_reading();
            let (t2, log) = (t.clone(), self.0.clone());
            let _ = t.get_loop().call_soon(move || {
                log.borrow_mut().push("resume".into());
                t2.resume_reading();
            });
            self.1 = Some(t);
        }
        fn data_received(&mut self, data: &[u8]) {
            self.0.borrow_mut().push(format!("data {data:?}"));
        }
        fn eof_received(&mut self) -> bool {
            self.0.borrow_mut().push("eof".into());
            if let Some(t) = &self.1 {
                let _ = t.write(b"ok");
            }
            false
        }
        fn connection_lost(&mut self, _: Option<std::io::Error>) {
            self.0.borrow_mut().push("lost".into());
        }
    }
    asyncio::run(async {
        let calls = Rc::new(RefCell::new(Vec::new()));
        let c = calls.clone();
        let lp = asyncio::get_running_loop()?;
        let server = lp
            .create_server(move || P(c.clone(), None), "127.0.0.1", 0)
            .proxy_protocol(ProxyProtocol::Optional)
            .await?;
        let port = util::port_of(&server);
        let answer = client(port, &[b"\r\n"]).await;
        turns_until(|| calls.borrow().last().map(String::as_str) == Some("lost")).await;
        assert_eq!(
            calls.borrow()[..],
            ["made", "resume", "data [13, 10]", "eof", "lost"].map(String::from)
        );
        assert_eq!(answer, b"ok");
        server.close();
        Ok::<_, asyncio::Error>(())
    })
    .unwrap()
    .unwrap();
}

/// L51, L53: a buffered protocol that lends an empty buffer for the bytes after the header
/// is a fatal error, reported, and the connection ends, as the socket transport does; the
/// bytes are not dropped silently on a connection left open.
#[test]
fn empty_buffer_for_the_bytes_after_the_header_is_a_fatal_error() {
    use asyncio::{BufferedProtocol, Protocol, Transport};
    struct P(Rc<RefCell<Vec<String>>>, Option<Transport>);
    impl Protocol for P {
        fn connection_made(&mut self, t: Transport) {
            self.1 = Some(t);
        }
        fn eof_received(&mut self) -> bool {
            self.0.borrow_mut().push("eof".into());
            true // keep the connection: only a fatal error ends it here
        }
        fn connection_lost(&mut self, exc: Option<std::io::Error>) {
            self.0.borrow_mut().push(format!("lost {}", exc.is_some()));
        }
        fn as_buffered(&mut self) -> Option<&mut dyn BufferedProtocol> {
            Some(self)
        }
    }
    impl BufferedProtocol for P {
        fn get_buffer(&mut self, _: usize) -> &mut [u8] {
            &mut []
        }
        fn buffer_updated(&mut self, _: usize) {
            self.0.borrow_mut().push("updated".into());
        }
    }
    asyncio::run(async {
        let calls = Rc::new(RefCell::new(Vec::new()));
        let c = calls.clone();
        let lp = asyncio::get_running_loop()?;
        let reports = util::capture_exceptions(&lp);
        let server = lp
            .create_server(move || P(c.clone(), None), "127.0.0.1", 0)
            .proxy_protocol(ProxyProtocol::Required)
            .await?;
        let port = util::port_of(&server);
        let answer = asyncio::timeout(Duration::from_secs(10), async {
            let (reader, writer) = asyncio::open_connection("127.0.0.1", port).await?;
            writer.write(b"PROXY UNKNOWN\r\npayload")?;
            // No EOF from us: the server must end the connection by itself.
            Ok::<_, asyncio::Error>(reader.read(-1).await.unwrap_or_default())
        })
        .await
        .expect("the server ended the connection")?;
        assert_eq!(answer, b"");
        turns_until(|| calls.borrow().iter().any(|c| c.starts_with("lost"))).await;
        assert_eq!(calls.borrow()[..], ["lost true".to_string()]);
        let reports = reports.borrow().clone();
        assert_eq!(reports.len(), 1, "{reports:?}");
        assert!(reports[0].contains("get_buffer"), "{reports:?}");
        server.close();
        Ok::<_, asyncio::Error>(())
    })
    .unwrap()
    .unwrap();
}

/// A server protocol behind `Required` that pauses reading in `connection_made`, so the bytes
/// after the header stay held in the PROXY layer (no swap yet); returns the loop, the server,
/// the client socket, the protocol as the transport holds it, and its transport and log.
#[allow(clippy::type_complexity)]
fn paused_behind_the_header() -> (
    asyncio::EventLoop,
    asyncio::Server,
    std::net::TcpStream,
    asyncio::ProtocolRef,
    asyncio::Transport,
    Rc<RefCell<Vec<String>>>,
) {
    use asyncio::{Protocol, Transport};
    use std::io::Write;
    type Made = Rc<RefCell<Option<Transport>>>;
    struct P(Rc<RefCell<Vec<String>>>, Made);
    impl Protocol for P {
        fn connection_made(&mut self, t: Transport) {
            t.pause_reading();
            *self.1.borrow_mut() = Some(t);
        }
        fn data_received(&mut self, data: &[u8]) {
            self.0
                .borrow_mut()
                .push(format!("data {}", String::from_utf8_lossy(data)));
        }
        fn connection_lost(&mut self, _: Option<std::io::Error>) {
            self.0.borrow_mut().push("lost".into());
        }
    }
    let lp = asyncio::EventLoop::new().unwrap();
    let (calls, made): (Rc<RefCell<Vec<String>>>, Made) = Default::default();
    let (c, m) = (calls.clone(), made.clone());
    let server = lp
        .run_until_complete(
            lp.create_server(move || P(c.clone(), m.clone()), "127.0.0.1", 0)
                .proxy_protocol(ProxyProtocol::Required),
        )
        .unwrap()
        .unwrap();
    let mut client = std::net::TcpStream::connect(("127.0.0.1", util::port_of(&server))).unwrap();
    client.write_all(b"PROXY UNKNOWN\r\nhello").unwrap();
    util::run_until(&lp, 200, || made.borrow().is_some());
    let t = made.borrow().clone().unwrap();
    let proto = t.get_protocol().unwrap();
    (lp, server, client, proto, t, calls)
}

/// L44: bytes the PROXY layer holds for a protocol that a user task keeps borrowed across a
/// 300 ms sleep wait for it without spinning the loop (the next turns, then 1 ms doubling to
/// 64 ms, as the socket and TLS layers wait), then arrive. Retried every turn, this loop turned
/// many thousand times in those 300 ms.
#[test]
fn l44_bytes_held_for_a_borrowed_protocol_are_retried_sparingly() {
    let (lp, server, _client, proto, t, calls) = paused_behind_the_header();
    let turns = util::turns_while_held(&lp, &proto, Duration::from_millis(300), || {
        t.resume_reading()
    });
    assert!(turns <= 80, "{turns} loop turns during a 300 ms hold");
    util::run_until(&lp, 200, || {
        calls.borrow().iter().any(|c| c == "data hello")
    });
    t.close();
    server.close();
}

/// L44: chunks that keep arriving while the protocol is held join the bytes already held:
/// one retry waits for the protocol, not one per chunk (each spaced out on its own timers).
#[test]
fn l44_chunks_arriving_while_the_protocol_is_held_share_one_retry() {
    use std::io::Write;
    let (lp, server, client, proto, t, calls) = paused_behind_the_header();
    let client = Rc::new(RefCell::new(client));
    let turns = util::turns_while_held(&lp, &proto, Duration::from_millis(300), || {
        t.resume_reading();
        for i in 0..30u64 {
            let c = client.clone();
            lp.call_later(Duration::from_millis(5 * i + 5), move || {
                c.borrow_mut().write_all(b"+").unwrap();
            })
            .unwrap();
        }
    });
    // Our 30 timers and the 30 reads they cause take up to 60 turns, the one spaced-out
    // retry about 15 more (one retry per chunk: over 600).
    assert!(turns <= 160, "{turns} loop turns during a 300 ms hold");
    util::run_until(&lp, 200, || {
        calls.borrow().concat().matches('+').count() == 30
    });
    assert!(calls.borrow()[0].starts_with("data hello"));
    t.close();
    server.close();
}

/// L44: connection_lost owed to a protocol that a user task keeps borrowed (the connection
/// aborted while the PROXY layer still relays) waits without spinning, then comes once.
#[test]
fn l44_connection_lost_for_a_borrowed_protocol_is_retried_sparingly() {
    let (lp, server, _client, proto, t, calls) = paused_behind_the_header();
    let turns = util::turns_while_held(&lp, &proto, Duration::from_millis(300), || t.abort());
    assert!(turns <= 80, "{turns} loop turns during a 300 ms hold");
    util::run_until(&lp, 200, || !calls.borrow().is_empty());
    assert_eq!(calls.borrow()[..], ["lost".to_string()]);
    server.close();
}

/// Runs `lp` until `cond` holds, at most 200 turns of at most 50 ms each (a turn with nothing
/// to do waits that long for I/O; the callers' assertions then say what is missing).
fn run_until_or_idle(lp: &asyncio::EventLoop, mut cond: impl FnMut() -> bool) {
    for _ in 0..200 {
        if cond() {
            return;
        }
        lp.run_once(Some(Duration::from_millis(50))).unwrap();
    }
}

/// A loop whose exception handler records each report's message.
fn loop_recording_reports() -> (asyncio::EventLoop, Rc<RefCell<Vec<String>>>) {
    let lp = asyncio::EventLoop::new().unwrap();
    let reports = Rc::new(RefCell::new(Vec::new()));
    let r = reports.clone();
    lp.set_exception_handler(Some(
        move |_: &asyncio::LoopHandle, ctx: &asyncio::ExceptionContext| {
            let keys: Vec<&str> = ctx.details.iter().map(|(k, _)| *k).collect();
            r.borrow_mut().push(format!("{} {keys:?}", ctx.message));
        },
    ));
    (lp, reports)
}

/// L55 behind the header: a `connection_made` that panics is reported as that callback's
/// failure and the connection goes on (its bytes reach `data_received`), as on a server
/// without PROXY. The layer let the panic out through the socket's `data_received`, so it was
/// reported as a failed `data_received` and the connection was closed with it.
#[test]
fn l55_a_panicking_connection_made_behind_the_header_is_reported_and_reading_goes_on() {
    use asyncio::{Protocol, Transport};
    use std::io::Write;
    struct P(Rc<RefCell<Vec<String>>>, Option<Transport>);
    impl Protocol for P {
        fn connection_made(&mut self, t: Transport) {
            self.1 = Some(t);
            panic!("connection_made failed");
        }
        fn data_received(&mut self, data: &[u8]) {
            let data = String::from_utf8_lossy(data);
            self.0.borrow_mut().push(format!("data {data}"));
            self.1.as_ref().unwrap().close();
        }
        fn connection_lost(&mut self, exc: Option<std::io::Error>) {
            self.0
                .borrow_mut()
                .push(format!("lost {:?}", exc.map(|e| e.kind())));
        }
    }
    // Without PROXY (the behaviour to match), then behind a header.
    let off = (ProxyProtocol::Off, &b""[..]);
    for (mode, header) in [off, (ProxyProtocol::Required, b"PROXY UNKNOWN\r\n")] {
        let (lp, reports) = loop_recording_reports();
        let calls = Rc::new(RefCell::new(Vec::new()));
        let c = calls.clone();
        let server = lp
            .run_until_complete(
                lp.create_server(move || P(c.clone(), None), "127.0.0.1", 0)
                    .proxy_protocol(mode),
            )
            .unwrap()
            .unwrap();
        let port = util::port_of(&server);
        let mut client = std::net::TcpStream::connect(("127.0.0.1", port)).unwrap();
        client.write_all(&[header, b"hi"].concat()).unwrap();
        run_until_or_idle(&lp, || calls.borrow().iter().any(|c| c.starts_with("lost")));
        assert_eq!(calls.borrow()[..], ["data hi", "lost None"], "{mode:?}");
        // As the socket transport reports it (CPython: 'Exception in callback
        // P.connection_made(<_SelectorSocketTransport ...>)'), the transport being the socket's.
        let made = format!(
            "Exception in callback {}::connection_made(Transport {{ id: ",
            std::any::type_name::<P>()
        );
        let reports = reports.borrow();
        assert!(
            reports.len() == 1 && reports[0].starts_with(&made),
            "{mode:?}: {reports:?}"
        );
        server.close();
    }
}

/// A `data_received` (or a buffered protocol's `buffer_updated`) that panics on bytes the
/// layer held for a paused protocol (delivered after `resume_reading`, from a later turn) is
/// the protocol's fatal error, as on a server without PROXY: reported once with the socket
/// transport's words (naming the method that panicked), and the connection ends with the
/// panic as `connection_lost`'s error. The layer let the panic out into that turn's callback,
/// where the loop reported it as a stray callback's and the connection went on.
#[test]
fn a_panicking_data_received_on_held_bytes_ends_the_connection() {
    use asyncio::{BufferedProtocol, Protocol, Transport};
    use std::io::Write;
    type Made = Rc<RefCell<Option<Transport>>>;
    struct P(Rc<RefCell<Vec<String>>>, Made, Option<[u8; 8]>);
    impl Protocol for P {
        fn connection_made(&mut self, t: Transport) {
            t.pause_reading();
            *self.1.borrow_mut() = Some(t);
        }
        fn data_received(&mut self, _: &[u8]) {
            panic!("data_received failed");
        }
        fn connection_lost(&mut self, exc: Option<std::io::Error>) {
            self.0
                .borrow_mut()
                .push(format!("lost {:?}", exc.map(|e| e.kind())));
        }
        fn as_buffered(&mut self) -> Option<&mut dyn BufferedProtocol> {
            self.2.is_some().then_some(self)
        }
    }
    impl BufferedProtocol for P {
        fn get_buffer(&mut self, _: usize) -> &mut [u8] {
            self.2.as_mut().unwrap()
        }
        fn buffer_updated(&mut self, _: usize) {
            panic!("buffer_updated failed");
        }
    }
    let off = (ProxyProtocol::Off, &b""[..]);
    for buffered in [false, true] {
        for (mode, header) in [off, (ProxyProtocol::Required, b"PROXY UNKNOWN\r\n")] {
            let (lp, reports) = loop_recording_reports();
            let (calls, made): (Rc<RefCell<Vec<String>>>, Made) = Default::default();
            let (c, m) = (calls.clone(), made.clone());
            let buf = buffered.then_some([0; 8]);
            let server = lp
                .run_until_complete(
                    lp.create_server(move || P(c.clone(), m.clone(), buf), "127.0.0.1", 0)
                        .proxy_protocol(mode),
                )
                .unwrap()
                .unwrap();
            let port = util::port_of(&server);
            let mut client = std::net::TcpStream::connect(("127.0.0.1", port)).unwrap();
            client.write_all(&[header, b"hello"].concat()).unwrap();
            run_until_or_idle(&lp, || made.borrow().is_some());
            // Behind the header the bytes after it are held by then (they came in one segment).
            made.borrow().as_ref().unwrap().resume_reading();
            run_until_or_idle(&lp, || !calls.borrow().is_empty());
            let what = if buffered {
                "buffer_updated"
            } else {
                "data_received"
            };
            let case = format!("{mode:?}, buffered: {buffered}");
            assert_eq!(calls.borrow()[..], ["lost Some(Other)"], "{case}");
            assert_eq!(
                reports.borrow()[..],
                // The socket transport's keys (CPython's _fatal_error: transport, protocol).
                [format!(
                    "Fatal error: protocol.{what}() call failed. [\"transport\", \"protocol\"]"
                )],
                "{case}"
            );
            server.close();
        }
    }
}

/// L55 behind the header, on the retry: a `connection_lost` owed to a protocol held elsewhere
/// (a borrow kept across an `.await`), while the layer is still in the path (reading paused,
/// bytes held), is delivered once it is free; if it then panics, the report is the socket
/// transport's (and the layer's own first attempt's): a failed loop callback, with CPython's
/// keys ({message, exception, handle}: 'Exception in callback
/// _SelectorSocketTransport._call_connection_lost(None)'), naming the protocol's method. The
/// retry once ran after the layer had let go of the socket transport, and its report lacked
/// the `transport` key the first attempt's then had.
#[test]
fn l55_a_panicking_connection_lost_delivered_late_is_reported_as_the_socket_transport_does() {
    use asyncio::{Protocol, Transport};
    use std::io::Write;
    type Made = Rc<RefCell<Option<Transport>>>;
    /// Each report's message and its keys.
    type Reports = Rc<RefCell<Vec<(String, Vec<(&'static str, String)>)>>>;
    struct P(Made);
    impl Protocol for P {
        fn connection_made(&mut self, t: Transport) {
            t.pause_reading(); // bytes held: the layer stays in the path (no swap)
            *self.0.borrow_mut() = Some(t);
        }
        fn connection_lost(&mut self, _: Option<std::io::Error>) {
            panic!("connection_lost failed");
        }
    }
    let off = (ProxyProtocol::Off, &b""[..]);
    for (mode, header) in [off, (ProxyProtocol::Required, b"PROXY UNKNOWN\r\n")] {
        let lp = asyncio::EventLoop::new().unwrap();
        let reports: Reports = Default::default();
        let r = reports.clone();
        lp.set_exception_handler(Some(
            move |_: &asyncio::LoopHandle, ctx: &asyncio::ExceptionContext| {
                r.borrow_mut()
                    .push((ctx.message.clone(), ctx.details.clone()));
            },
        ));
        let made: Made = Default::default();
        let m = made.clone();
        let server = lp
            .run_until_complete(
                lp.create_server(move || P(m.clone()), "127.0.0.1", 0)
                    .proxy_protocol(mode),
            )
            .unwrap()
            .unwrap();
        let mut client =
            std::net::TcpStream::connect(("127.0.0.1", util::port_of(&server))).unwrap();
        client.write_all(&[header, b"hello"].concat()).unwrap();
        util::run_until(&lp, 200, || made.borrow().is_some());
        let t = made.borrow().clone().unwrap();
        let proto = t.get_protocol().unwrap();
        util::turns_while_held(&lp, &proto, Duration::from_millis(20), || t.abort());
        run_until_or_idle(&lp, || !reports.borrow().is_empty());
        let call = format!("{}::connection_lost(None)", std::any::type_name::<P>());
        assert_eq!(
            reports.borrow()[..],
            [(
                format!("Exception in callback {call}"),
                vec![("handle", format!("<Handle {call}>"))]
            )],
            "{mode:?}"
        );
        server.close();
    }
}

/// A v2 header as long as the length field allows (16 + 65,535 bytes): a TLS TLV carrying a
/// whole DER client certificate (sub-TLV 0x28, as ghostunnel and go-proxyproto send it) is a
/// real header, not an attack. Sent in 4 KiB pieces, it is accepted, and the bytes after it
/// are the client's.
#[test]
fn v2_header_of_the_largest_declarable_length_split_across_reads() {
    let tlv = |b: &mut Vec<u8>, kind: u8, value: &[u8]| {
        b.push(kind);
        b.extend_from_slice(&(value.len() as u16).to_be_bytes());
        b.extend_from_slice(value);
    };
    let mut body = vec![10, 0, 0, 1, 10, 0, 0, 2, 0x30, 0x39, 0x00, 0x50];
    let mut ssl = vec![0x03, 0, 0, 0, 0];
    tlv(&mut ssl, 0x22, b"client.example");
    let cert: Vec<u8> = (0..65_535 - body.len() - 3 - ssl.len() - 3)
        .map(|i| (i * 7) as u8)
        .collect();
    tlv(&mut ssl, 0x28, &cert);
    tlv(&mut body, 0x20, &ssl);
    assert_eq!(body.len(), 65_535);
    let header = v2(0x21, 0x11, &body);
    let mut chunks: Vec<&[u8]> = header.chunks(4096).collect();
    chunks.push(b"after");

    asyncio::run(async {
        let log = Log::default();
        let (server, port) = proxy_server(ProxyProtocol::Required, &log).await?;
        assert_eq!(client(port, &chunks).await, b"ok");
        let seen = log.borrow().clone();
        assert_eq!(seen[0].peer, "10.0.0.1:12345");
        assert_eq!(seen[0].data, b"after");
        let ssl = seen[0].header.as_ref().unwrap().ssl().unwrap();
        assert_eq!(ssl.cn(), Some("client.example"));
        let got = ssl
            .tlvs
            .iter()
            .find(|t| t.kind == 0x28)
            .expect("the certificate");
        assert!(got.value == cert, "the certificate arrives whole");
        server.close();
        Ok::<_, asyncio::Error>(())
    })
    .unwrap()
    .unwrap();
}

/// The encoder refuses what a v2 header cannot hold instead of writing one that says
/// something else: a Unix path over 108 bytes (it was cut short), addresses and TLVs over
/// 65,535 bytes (the length and the body were cut short). At the limits it round-trips.
#[test]
fn encoder_refuses_what_a_v2_header_cannot_hold() {
    let unix = |n: usize| ProxyHeader {
        version: Version::V2,
        command: Command::Proxy,
        kind: SocketKind::Stream,
        addresses: Addresses::Unix {
            source: vec![b'a'; n],
            destination: b"/run/app.sock".to_vec(),
        },
        tlvs: Vec::new(),
    };
    let fits = unix(108).to_bytes().expect("108 bytes fill the field");
    assert_eq!(parse(&fits), Parsed::Complete(unix(108), fits.len()));
    match unix(109).to_bytes() {
        Err(asyncio::Error::InvalidArgument(msg)) => {
            assert_eq!(msg, "PROXY v2 Unix address of 109 bytes (at most 108)")
        }
        other => panic!("{other:?}"),
    }

    // INET addresses take 12 bytes and a TLV's type and length 3: 65,520 bytes of value fill
    // the body exactly.
    let with_tlv = |n: usize| ProxyHeader {
        addresses: Addresses::Inet {
            source: "192.0.2.1:1".parse().unwrap(),
            destination: "192.0.2.2:2".parse().unwrap(),
        },
        tlvs: vec![Tlv {
            kind: 0xE0,
            value: vec![0x5a; n],
        }],
        ..unix(0)
    };
    let fits = with_tlv(65_520).to_bytes().expect("the largest body");
    assert_eq!(fits.len(), 16 + 65_535);
    assert_eq!(parse(&fits), Parsed::Complete(with_tlv(65_520), fits.len()));
    for n in [65_521, 65_536, 70_000] {
        match with_tlv(n).to_bytes() {
            Err(asyncio::Error::InvalidArgument(msg)) => assert_eq!(
                msg,
                format!(
                    "PROXY v2 address block and TLVs of {} bytes (at most 65535)",
                    n + 15
                )
            ),
            other => panic!("{n}: {other:?}"),
        }
    }
}

/// `Optional`: a client that sent only the start of a signature (an empty line begins the v2
/// one) and then waits for an answer is served at the timeout as a direct client, its bytes
/// included, exactly as it is when it sends the same bytes and then EOF
/// (`eof_waits_behind_bytes_held_for_a_paused_protocol`). A balancer sends its header at
/// once, so a stall inside the signature is a direct client's short first message. It used
/// to be refused at the timeout but served at the EOF. `Required` refuses it at the timeout;
/// a whole signature and no header is refused in both modes
/// (`optional_serves_a_silent_client_at_the_timeout`).
#[test]
fn optional_serves_the_start_of_a_signature_at_the_timeout_as_at_eof() {
    let prefixes: [&[u8]; 4] = [b"\r\n", b"\r\n\r\n\0\r\nQUI", b"P", b"PROXY"];
    asyncio::run(async move {
        for mode in [ProxyProtocol::Optional, ProxyProtocol::Required] {
            let log = Log::default();
            let server = asyncio::start_server(recorder(&log), "127.0.0.1", 0)
                .proxy_protocol(mode)
                .proxy_protocol_timeout(Duration::from_millis(20))
                .await?;
            let port = util::port_of(&server);
            for prefix in prefixes {
                // Sent, then no EOF: the client waits for the server's answer.
                let answer = asyncio::timeout(Duration::from_secs(10), async {
                    let (reader, writer) = asyncio::open_connection("127.0.0.1", port).await?;
                    writer.write(prefix)?;
                    let answer = reader.read(-1).await.unwrap_or_default();
                    writer.close();
                    Ok::<_, asyncio::Error>(answer)
                })
                .await??;
                let at_eof = client(port, &[prefix]).await;
                if mode == ProxyProtocol::Required {
                    assert_eq!(
                        (&answer[..], &at_eof[..]),
                        (&b""[..], &b""[..]),
                        "{prefix:?}"
                    );
                    continue;
                }
                assert_eq!(answer, b"ok", "{prefix:?}: served at the timeout");
                assert_eq!(at_eof, b"ok", "{prefix:?}: served at the EOF");
            }
            let seen = log.borrow().clone();
            if mode == ProxyProtocol::Optional {
                assert_eq!(seen.len(), 2 * prefixes.len());
                for (s, prefix) in seen.iter().zip(prefixes.iter().flat_map(|p| [p, p])) {
                    assert_eq!(&s.data[..], *prefix, "the client's bytes, whole");
                    assert!(s.header.is_none() && s.proxy_peer.is_none(), "direct");
                }
            } else {
                assert!(seen.is_empty(), "Required served {seen:?}");
            }
            server.close();
        }
        Ok::<_, asyncio::Error>(())
    })
    .unwrap()
    .unwrap();
}
