//! `make bench`'s file-serving table: one file, page-cached, sent to one client over loopback,
//! four ways, side by side in one run (BENCHMARKING.md: ratios from one run, medians).
//!
//! servers (each serves one connection per round, on its own thread):
//!   ours sendfile   `StreamWriter::sendfile`: `sendfile(2)`, no byte through user space
//!   ours write      64 KiB `read`s of the file, each `write` + `drain`ed (code without sendfile)
//!   tokio           `tokio::io::copy(tokio::fs::File, TcpStream)`, current_thread runtime
//!   std             `std::io::copy(File, TcpStream)` on a blocking thread (std uses
//!                   `sendfile(2)` itself for this pair on Linux: the floor)
//! client: a blocking thread that connects, reads to EOF into a 256 KiB buffer and checks the
//! byte count. The server runs on CPU 0 and the client on CPU 1, as the bulk phase of
//! `benches/latency.rs` (unpinned, the two landing on one CPU or two made rounds bimodal). A
//! round runs every server once, in rotating order; the table has medians of the rate (MiB/s,
//! connect to EOF) and of the process's CPU time per GiB (client included, the same work for
//! every row), with ratios to tokio.
//!
//! `cargo bench --bench sendfile [-- --quick]`: 256 MiB x 7 rounds, or 64 MiB x 3.

// Only its CPU pinning is used here; the rest serves the other benches.
#[allow(dead_code)]
mod common;

use std::io::{Read, Write};
use std::net::{TcpListener, TcpStream};
use std::time::{Duration, Instant};

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Server {
    OursSendfile,
    OursWrite,
    Tokio,
    Std,
}

const SERVERS: [Server; 4] = [
    Server::OursSendfile,
    Server::OursWrite,
    Server::Tokio,
    Server::Std,
];

impl Server {
    fn name(self) -> &'static str {
        match self {
            Server::OursSendfile => "asyncio `writer.sendfile` (ours)",
            Server::OursWrite => "asyncio `write` + `drain`, 64 KiB reads (ours)",
            Server::Tokio => "tokio `io::copy(fs::File, TcpStream)`",
            Server::Std => "std `io::copy(File, TcpStream)`",
        }
    }
}

/// Serves `path` once on `listener` the way `server` does.
fn serve(server: Server, listener: TcpListener, path: std::path::PathBuf) {
    let (stream, _) = listener.accept().expect("accept");
    match server {
        Server::OursSendfile | Server::OursWrite => {
            asyncio::run(async move {
                let file = std::fs::File::open(&path)?;
                let (_reader, writer) = asyncio::open_connection_sock(stream).await?;
                if server == Server::OursSendfile {
                    writer.sendfile(&file, 0, None).await?;
                } else {
                    let mut file = file;
                    let mut buf = vec![0u8; 64 * 1024];
                    loop {
                        let n = file.read(&mut buf)?;
                        if n == 0 {
                            break;
                        }
                        writer.write(&buf[..n])?;
                        writer.drain().await?;
                    }
                }
                writer.close();
                writer.wait_closed().await
            })
            .expect("loop")
            .expect("ours");
        }
        Server::Tokio => {
            let rt = tokio::runtime::Builder::new_current_thread()
                .enable_all()
                .build()
                .expect("runtime");
            rt.block_on(async move {
                use tokio::io::AsyncWriteExt;
                stream.set_nonblocking(true).expect("nonblocking");
                let mut s = tokio::net::TcpStream::from_std(stream).expect("tokio stream");
                let mut f = tokio::fs::File::open(&path).await.expect("open");
                tokio::io::copy(&mut f, &mut s).await.expect("copy");
                s.shutdown().await.expect("shutdown");
            });
        }
        Server::Std => {
            let mut stream = stream;
            let mut f = std::fs::File::open(&path).expect("open");
            std::io::copy(&mut f, &mut stream).expect("copy");
        }
    }
}

/// The process's CPU time so far (all threads).
fn cpu_now() -> Duration {
    // SAFETY: an all-zero `rusage` is a valid value for getrusage to fill.
    let mut ru: libc::rusage = unsafe { std::mem::zeroed() };
    // SAFETY: `ru` is a valid, writable `rusage`; RUSAGE_SELF is always accepted.
    unsafe { libc::getrusage(libc::RUSAGE_SELF, &mut ru) };
    let tv = |t: libc::timeval| Duration::new(t.tv_sec as u64, t.tv_usec as u32 * 1000);
    tv(ru.ru_utime) + tv(ru.ru_stime)
}

/// One transfer: `(MiB/s, CPU ms per GiB)`.
fn round(server: Server, path: &std::path::Path, len: u64) -> (f64, f64) {
    let listener = TcpListener::bind("127.0.0.1:0").expect("bind");
    let addr = listener.local_addr().expect("addr");
    let path = path.to_path_buf();
    let cpu0 = cpu_now();
    let start = Instant::now();
    let thread = std::thread::spawn(move || {
        common::pin_current(0).expect("sched_setaffinity");
        serve(server, listener, path)
    });
    let mut client = TcpStream::connect(addr).expect("connect");
    let mut buf = vec![0u8; 256 * 1024];
    let mut got = 0u64;
    loop {
        match client.read(&mut buf).expect("read") {
            0 => break,
            n => got += n as u64,
        }
    }
    let secs = start.elapsed().as_secs_f64();
    thread.join().expect("server thread");
    let cpu = (cpu_now() - cpu0).as_secs_f64() * 1000.0;
    assert_eq!(got, len, "{server:?} sent the whole file");
    let gib = len as f64 / (1u64 << 30) as f64;
    (len as f64 / (1 << 20) as f64 / secs, cpu / gib)
}

fn median(mut v: Vec<f64>) -> f64 {
    v.sort_by(f64::total_cmp);
    v[v.len() / 2]
}

fn main() {
    let quick = std::env::args().any(|a| a == "--quick");
    let ncpu = std::thread::available_parallelism().map_or(0, |n| n.get());
    common::pin_current(1).expect("sched_setaffinity"); // the client's CPU
    let (len, rounds): (u64, usize) = if quick { (64 << 20, 3) } else { (256 << 20, 7) };
    let path = std::env::temp_dir().join(format!("asyncio-sendfile-bench-{}", std::process::id()));
    {
        let mut f = std::fs::File::create(&path).expect("create");
        let block: Vec<u8> = (0..1u32 << 20).map(|i| (i % 251) as u8).collect();
        for _ in 0..(len >> 20) {
            f.write_all(&block).expect("write");
        }
        f.sync_all().expect("sync");
    }
    let mut rates = vec![Vec::new(); SERVERS.len()];
    let mut cpus = vec![Vec::new(); SERVERS.len()];
    round(Server::Std, &path, len); // warm-up: the file into the page cache
    for r in 0..rounds {
        for k in 0..SERVERS.len() {
            let i = (r + k) % SERVERS.len();
            let (rate, cpu) = round(SERVERS[i], &path, len);
            eprintln!(
                "[sendfile] round {r}: {:?} {rate:.0} MiB/s, {cpu:.0} ms CPU/GiB",
                SERVERS[i]
            );
            rates[i].push(rate);
            cpus[i].push(cpu);
        }
    }
    let _ = std::fs::remove_file(&path);
    let rate: Vec<f64> = rates.into_iter().map(median).collect();
    let cpu: Vec<f64> = cpus.into_iter().map(median).collect();
    let t = SERVERS
        .iter()
        .position(|s| *s == Server::Tokio)
        .expect("tokio row");
    println!(
        "\n## Sending a file ({} MiB, page-cached, loopback, one client)\n",
        len >> 20
    );
    println!("| server | MiB/s | ×tokio | CPU ms/GiB (process) | ×tokio |");
    println!("|---|---:|---:|---:|---:|");
    for (i, s) in SERVERS.iter().enumerate() {
        println!(
            "| {} | {:.0} | {:.2} | {:.0} | {:.2} |",
            s.name(),
            rate[i],
            rate[i] / rate[t],
            cpu[i],
            cpu[i] / cpu[t]
        );
    }
    println!(
        "\nMedians of {rounds} rounds, servers in rotating order; {ncpu} CPUs, server on CPU 0, \
         client on CPU 1. \
         CPU time is the whole process's (the client's reads included, the same for every row). \
         Method: `benches/sendfile.rs`."
    );
}
