//! PROXY protocol v1/v2 on servers: `proxy_protocol(Required | Optional)` on start_server,
//! start_unix_server and create_server. Headers are built by hand from HAProxy's
//! `doc/proxy-protocol.txt` (not with our encoder), sent by our own client over 127.0.0.1 or a
//! Unix socket in a temp dir; a property test fuzzes the parser and round-trips the encoder;
//! a last test goes through a real `haproxy` (`send-proxy`, `send-proxy-v2`) when the binary
//! is installed. Every wait is bounded (a 10 s `timeout` around each client), nothing sleeps.

#[cfg(feature = "tls")]
#[path = "../tls_common/mod.rs"]
mod tls_common;
#[path = "../util/mod.rs"]
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

mod cut_independence;
mod haproxy;
mod headers;
mod held_protocol;
mod optional_and_timeouts;
mod panics;
mod property;
mod protocols;
#[cfg(feature = "tls")]
mod tls;
