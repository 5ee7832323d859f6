//! One server on several loops, one per thread (`serve_on_threads`, issue #16 "Across cores").

use std::io::{Read, Write};
use std::net::TcpStream;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Arc;
use std::time::Duration;

use asyncio::{Error, StreamReader, StreamWriter};

async fn echo(reader: StreamReader, writer: StreamWriter) {
    while let Ok(data) = reader.read(1024).await {
        if data.is_empty() || writer.write(&data).is_err() {
            break;
        }
    }
    writer.close();
}

fn port_of(w: &asyncio::Workers) -> u16 {
    w.sockets()[0].as_inet().expect("inet").port()
}

#[test]
fn two_workers_share_one_port_and_serve_every_connection() {
    let built = Arc::new(AtomicUsize::new(0));
    let seen = built.clone();
    let workers = asyncio::serve_on_threads(2, "127.0.0.1", 0, move |w| {
        seen.fetch_add(1, Ordering::SeqCst);
        asyncio::start_server(echo, &w.host, w.port)
    })
    .unwrap();
    assert_eq!(workers.len(), 2);
    assert_eq!(built.load(Ordering::SeqCst), 2, "setup ran once per worker");
    let port = port_of(&workers);
    assert_ne!(port, 0);
    // 64 connections, all open at once: each is echoed, whichever loop took it.
    let mut socks: Vec<TcpStream> = (0..64)
        .map(|_| TcpStream::connect(("127.0.0.1", port)).unwrap())
        .collect();
    for (i, s) in socks.iter_mut().enumerate() {
        s.set_read_timeout(Some(Duration::from_secs(30))).unwrap();
        s.write_all(format!("m{i:02}").as_bytes()).unwrap();
    }
    for (i, s) in socks.iter_mut().enumerate() {
        let mut back = [0u8; 3];
        s.read_exact(&mut back).unwrap();
        assert_eq!(back, *format!("m{i:02}").as_bytes());
    }
    // Every connection is registered on exactly one loop, beside each loop's own listener.
    let stats = workers.stats().unwrap();
    assert_eq!(stats.len(), 2);
    let registered: usize = stats.iter().map(|s| s.io_registrations).sum();
    assert_eq!(registered, 64 + 2, "{stats:?}");
    assert!(stats.iter().all(|s| s.io_registrations >= 1), "{stats:?}");
    workers.close().unwrap();
    // Closed: nothing listens on the port any more.
    assert!(TcpStream::connect(("127.0.0.1", port)).is_err());
    // And the open connections were closed by their loops.
    for s in &mut socks {
        let mut buf = [0u8; 1];
        assert!(matches!(s.read(&mut buf), Ok(0) | Err(_)));
    }
}

#[test]
fn zero_workers_is_invalid_input() {
    let e = asyncio::serve_on_threads(0, "127.0.0.1", 0, |w| {
        asyncio::start_server(echo, &w.host, w.port)
    })
    .unwrap_err();
    assert_eq!(e.kind(), std::io::ErrorKind::InvalidInput);
}

#[test]
fn one_worker_serves_as_a_server_does() {
    let workers = asyncio::serve_on_threads(1, "127.0.0.1", 0, |w| {
        asyncio::start_server(echo, &w.host, w.port)
    })
    .unwrap();
    let mut s = TcpStream::connect(("127.0.0.1", port_of(&workers))).unwrap();
    s.write_all(b"hi").unwrap();
    let mut back = [0u8; 2];
    s.read_exact(&mut back).unwrap();
    assert_eq!(&back, b"hi");
    workers.close().unwrap();
}

/// A port another socket holds without SO_REUSEPORT: the first worker's error comes back, and
/// no worker is left running.
#[test]
fn a_port_in_use_fails_with_the_servers_error() {
    let taken = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let port = taken.local_addr().unwrap().port();
    let e = asyncio::serve_on_threads(2, "127.0.0.1", port, |w| {
        asyncio::start_server(echo, &w.host, w.port)
    })
    .unwrap_err();
    assert_eq!(e.kind(), std::io::ErrorKind::AddrInUse, "{e}");
}

/// A setup function that panics on the second worker: an error, and the first worker stopped.
#[test]
fn a_panicking_setup_is_an_error_not_a_hang() {
    let e: Error = asyncio::serve_on_threads(2, "127.0.0.1", 0, |w| {
        assert!(w.index == 0, "setup refuses worker {}", w.index);
        asyncio::start_server(echo, &w.host, w.port)
    })
    .unwrap_err();
    assert!(e.to_string().contains("setup refuses worker 1"), "{e}");
}
