//! TLS interop with real peers (issue #5): `openssl s_server` / `s_client` and Python's `ssl`
//! module (asyncio with an SSLContext), our client to them and theirs to our server; and the
//! https path of `examples/http_headers.rs` with its CA given through `SSL_CERT_FILE`.
//!
//! Child processes are killed by a drop guard; their output is read on helper threads whose
//! completion wakes our loop, so the loop keeps serving while a child runs. Every wait is
//! bounded. A test is skipped, with the reason printed, only when `openssl` or `python3` is
//! missing.
#![cfg(feature = "tls")]

#[path = "../tls_common/mod.rs"]
mod tls_common;
#[path = "../util/mod.rs"]
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

async fn echo_line_then_close(reader: StreamReader, writer: StreamWriter) -> Result<(), Error> {
    let line = reader.readline().await?;
    writer.write(&line)?;
    writer.close();
    writer.wait_closed().await
}

fn our_tls_server_port(server: &asyncio::Server) -> u16 {
    server.sockets()[0].as_inet().unwrap().port()
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

mod examples;
mod openssl_s_client;
mod openssl_s_server;
mod python_ssl;
mod renegotiation;
