//! Interop with the specification itself: our streams against CPython's asyncio as the peer.
//!
//! Each test runs one `python3` child (the script `PEER` below, a mode chosen by argument) and
//! our loop in the test thread. Both directions are covered: our `start_server` /
//! `start_unix_server` against Python's `open_connection` / `open_unix_connection`, and our
//! `open_connection` / `open_unix_connection` against Python's `start_server` /
//! `start_unix_server`; echo, half-close (S44, S63), 16 MiB with `drain` (S48–S52, S14–S16),
//! and `readline` / `readuntil` / `readexactly` over data Python sends in awkward fragments
//! (S27–S38).
//!
//! Ground rules: every wait is bounded. The test body runs under `asyncio::timeout` (20 s), the
//! Python side under `asyncio.wait_for` (15 s), and the child is killed when its guard drops. A
//! thread reads the child's stdout and wakes the loop through the task's `Waker`, which crosses
//! threads by the loop's thread-safe queue (L21); the only polling is for the child's exit after
//! its stdout has closed. If `python3` is missing, each test prints why and passes (CI installs
//! it). Python's fragment timing (`asyncio.sleep` between writes) is the peer's behaviour: our
//! assertions never depend on how the bytes were split.

mod util;

use std::collections::VecDeque;
use std::future::{poll_fn, Future};
use std::io::{BufRead, BufReader, Read};
use std::process::{Child, Command, Stdio};
use std::rc::Rc;
use std::sync::{Arc, Mutex, OnceLock};
use std::task::{Poll, Waker};
use std::thread::JoinHandle;
use std::time::Duration;

use asyncio::{Error, StreamReader, StreamWriter};
use util::{capture_exceptions, temp_dir, Log};

/// Bound on each test body; each takes about a second, most of it Python starting up.
const LIMIT: Duration = Duration::from_secs(20);

/// Size of the bulk transfers (case 4).
const BULK: usize = 16 << 20;

/// The Python peer. `python3 -c PEER MODE ARGS…`; an address is `tcp:PORT`, `unix:PATH`, or
/// for servers `tcp` (bind port 0). Servers print `LISTENING <port|path>` once listening, serve
/// one connection, then print `OK`; clients print `OK` when every check passed. Any failed
/// check raises, so Python exits non-zero with a traceback on stderr.
const PEER: &str = r#"
import array, asyncio, sys

def pattern(n):
    # Word i (4 bytes, little-endian) holds i: a lost, doubled or moved chunk shows.
    a = array.array('I', range((n + 3) // 4))
    assert a.itemsize == 4
    if sys.byteorder == 'big':
        a.byteswap()
    return a.tobytes()[:n]

def response(req):
    return b'got %d bytes\n' % len(req) + req[::-1]

def lines():
    return [b'line %d %s\n' % (i, b'x' * (i * 37 % 500)) for i in range(200)]

def say(*words):
    print(*words, flush=True)

async def connect(addr):
    kind, _, where = addr.partition(':')
    if kind == 'tcp':
        return await asyncio.open_connection('127.0.0.1', int(where))
    return await asyncio.open_unix_connection(where)

async def serve_one(handler, addr):
    done = asyncio.get_running_loop().create_future()
    async def cb(reader, writer):
        try:
            await handler(reader, writer)
        except BaseException as e:
            if not done.done():
                done.set_exception(e)
            raise
        if not done.done():
            done.set_result(None)
    kind, _, where = addr.partition(':')
    if kind == 'tcp':
        server = await asyncio.start_server(cb, '127.0.0.1', 0)
        say('LISTENING', server.sockets[0].getsockname()[1])
    else:
        server = await asyncio.start_unix_server(cb, where)
        say('LISTENING', where)
    try:
        await done
    finally:
        server.close()
    say('OK')

async def echo(reader, writer):
    while data := await reader.read(65536):
        writer.write(data)
        await writer.drain()
    writer.close()
    await writer.wait_closed()

async def echo_server(addr):
    await serve_one(echo, addr)

async def echo_client(addr):
    reader, writer = await connect(addr)
    want = lines()
    for line in want[:100]:  # one at a time
        writer.write(line)
        await writer.drain()
        got = await reader.readline()
        assert got == line, (got[:40], line[:40])
    writer.writelines(want[100:])  # pipelined
    await writer.drain()
    for line in want[100:]:
        got = await reader.readline()
        assert got == line, (got[:40], line[:40])
    writer.write_eof()
    rest = await reader.read()  # the server closes once it has seen our EOF
    assert rest == b'', rest[:40]
    writer.close()
    await writer.wait_closed()
    say('OK')

async def many_clients(addr, n):
    async def one(i):
        reader, writer = await connect(addr)
        msg = b'client %d\n' % i * 100
        writer.write(msg)
        writer.write_eof()
        got = await reader.read()
        assert got == msg, (i, len(got))
        writer.close()
        await writer.wait_closed()
    await asyncio.gather(*(one(i) for i in range(int(n))))
    say('OK')

async def half_close_client(addr, size):
    reader, writer = await connect(addr)
    req = pattern(int(size))
    writer.write(req)
    await writer.drain()
    assert writer.can_write_eof()
    writer.write_eof()
    resp = await reader.read()
    assert resp == response(req), (len(resp), resp[:40])
    assert reader.at_eof()
    writer.close()
    await writer.wait_closed()
    say('OK')

async def half_close_server(addr, size):
    async def handler(reader, writer):
        req = await reader.read()
        assert req == pattern(int(size)), len(req)
        writer.write(response(req))
        await writer.drain()
        writer.close()
        await writer.wait_closed()
    await serve_one(handler, addr)

async def bulk_client(addr, size):
    size = int(size)
    reader, writer = await connect(addr)
    data = pattern(size)
    async def send():
        view = memoryview(data)
        for i in range(0, size, 100_000):
            writer.write(view[i:i + 100_000])
            await writer.drain()
        writer.write_eof()
    sender = asyncio.create_task(send())
    got = bytearray()
    while chunk := await reader.read(65536):
        got += chunk
    await sender
    assert len(got) == size, len(got)
    assert got == data, next(i for i in range(size) if got[i] != data[i])
    writer.close()
    await writer.wait_closed()
    say('OK')

async def fragments_server(addr):
    async def handler(reader, writer):
        async def send(*parts):
            for part in parts:
                writer.write(part)
                await writer.drain()
                await asyncio.sleep(0.002)  # let each fragment travel on its own
        await send(b'hello wor', b'ld\n')
        await send(*[bytes([b]) for b in b'one byte at a time\n'])
        sep = b'--END--'
        for k in range(1, len(sep)):
            await send(b'rec%d' % k + sep[:k], sep[k:])
        await send(b'false --EN', b'D- start--END--')
        await send(b'HEAD: 1\r', b'\n', b'\r', b'\nBO', b'DY')
        await send(b'0123', b'456789')
        big = pattern(300_000)
        await send(big[:7], big[7:65543], big[65543:])
        await send(b'CRLF line\r', b'\nLF line\n')
        await send(b'tail\n', b'rest--EN')
        writer.write_eof()
        rest = await reader.read()  # until the client closes
        assert rest == b'', rest[:40]
        writer.close()
        await writer.wait_closed()
    await serve_one(handler, addr)

async def main():
    mode, *args = sys.argv[1:]
    await asyncio.wait_for(globals()[mode](*args), 15)

asyncio.run(main())
"#;

/// Whether `python3` can run asyncio here; checked once per test binary.
fn have_python() -> bool {
    static HAVE: OnceLock<bool> = OnceLock::new();
    *HAVE.get_or_init(|| {
        Command::new("python3")
            .args(["-c", "import asyncio"])
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .status()
            .is_ok_and(|s| s.success())
    })
}

/// Returns from the test, after saying why, when `python3` is missing.
macro_rules! require_python {
    () => {
        if !have_python() {
            eprintln!("skipped: python3 with asyncio is not installed");
            return;
        }
    };
}

/// Runs `body` on a fresh loop under [`LIMIT`]; fails on an error, a timeout, or anything
/// reported to the loop's exception handler (a failing connection handler lands there, S60).
fn run_bounded(body: impl Future<Output = Result<(), Error>> + 'static) {
    let (out, reported) = asyncio::run(async move {
        let lp = asyncio::get_running_loop().expect("running loop");
        let reported = capture_exceptions(&lp);
        let out = asyncio::timeout(LIMIT, body).await;
        let reported = reported.borrow().clone();
        (out, reported)
    })
    .expect("loop runs");
    match out {
        Ok(Ok(())) => {}
        Ok(Err(e)) => panic!("test body failed: {e} ({e:?})"),
        Err(e) => panic!("test body did not finish within {LIMIT:?}: {e}"),
    }
    assert!(reported.is_empty(), "exception handler got: {reported:?}");
}

/// What the stdout thread hands the loop.
#[derive(Default)]
struct Stdout {
    /// Lines not yet taken, oldest first.
    lines: VecDeque<String>,
    /// The child closed its stdout (it exited or is exiting).
    eof: bool,
    /// The task waiting in [`Peer::line`], woken from the stdout thread.
    waker: Option<Waker>,
}

/// A running Python peer. Dropping it before [`finish`](Peer::finish) kills the child and
/// prints what it wrote to stderr.
struct Peer {
    child: Option<Child>,
    stdout: Arc<Mutex<Stdout>>,
    stderr: Option<JoinHandle<String>>,
}

impl Peer {
    /// Starts `python3 -c PEER mode args…`.
    fn spawn(mode: &str, args: &[&str]) -> Peer {
        let mut child = Command::new("python3")
            .arg("-c")
            .arg(PEER)
            .arg(mode)
            .args(args)
            .stdin(Stdio::null())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .spawn()
            .expect("spawn python3");
        let out = child.stdout.take().expect("piped stdout");
        let mut err = child.stderr.take().expect("piped stderr");
        let stdout = Arc::new(Mutex::new(Stdout::default()));
        let shared = stdout.clone();
        std::thread::spawn(move || {
            let mut lines = BufReader::new(out).lines();
            loop {
                let line = lines.next().and_then(Result::ok);
                // Push under the lock, wake after it: `line` registers under the same lock,
                // so no wake-up is lost.
                let waker = {
                    let mut s = shared.lock().unwrap_or_else(|p| p.into_inner());
                    match &line {
                        Some(l) => s.lines.push_back(l.clone()),
                        None => s.eof = true,
                    }
                    s.waker.take()
                };
                if let Some(w) = waker {
                    w.wake();
                }
                if line.is_none() {
                    return;
                }
            }
        });
        let stderr = std::thread::spawn(move || {
            let mut text = String::new();
            let _ = err.read_to_string(&mut text);
            text
        });
        Peer {
            child: Some(child),
            stdout,
            stderr: Some(stderr),
        }
    }

    /// The child's next stdout line; `None` once its stdout has closed.
    async fn line(&self) -> Option<String> {
        poll_fn(|cx| {
            let mut s = self.stdout.lock().unwrap_or_else(|p| p.into_inner());
            if let Some(l) = s.lines.pop_front() {
                return Poll::Ready(Some(l));
            }
            if s.eof {
                return Poll::Ready(None);
            }
            s.waker = Some(cx.waker().clone());
            Poll::Pending
        })
        .await
    }

    /// Waits for a server peer's `LISTENING <where>` line and returns `<where>`.
    async fn listening(&self) -> String {
        let line = self.line().await;
        match line.as_deref().and_then(|l| l.strip_prefix("LISTENING ")) {
            Some(at) => at.to_string(),
            None => panic!("expected LISTENING from python, got {line:?}"),
        }
    }

    /// Like [`listening`](Self::listening), parsed as a TCP port.
    async fn port(&self) -> u16 {
        let at = self.listening().await;
        at.parse()
            .unwrap_or_else(|_| panic!("python listens on {at:?}, not a port"))
    }

    /// Waits for the child to print `OK` as its last line and to exit with status 0.
    async fn finish(mut self) {
        let mut rest = Vec::new();
        while let Some(l) = self.line().await {
            rest.push(l);
        }
        let status = loop {
            let child = self.child.as_mut().expect("finished once");
            if let Some(status) = child.try_wait().expect("try_wait on python") {
                break status;
            }
            // Its stdout has closed, so it is exiting: poll for its exit. Bounded by LIMIT;
            // if that expires, dropping `self` kills it.
            asyncio::sleep(Duration::from_millis(2)).await;
        };
        self.child = None; // reaped: nothing left for Drop to kill
        let stderr = self.stderr.take().map(|h| h.join().unwrap_or_default());
        let stderr = stderr.unwrap_or_default();
        assert!(
            status.success() && rest == ["OK"],
            "python peer: {status}, stdout {rest:?}, stderr:\n{stderr}"
        );
    }
}

impl Drop for Peer {
    fn drop(&mut self) {
        let Some(mut child) = self.child.take() else {
            return;
        };
        let _ = child.kill();
        let _ = child.wait();
        let stderr = self.stderr.take().map(|h| h.join().unwrap_or_default());
        eprintln!(
            "python peer killed; its stderr:\n{}",
            stderr.unwrap_or_default()
        );
    }
}

/// The bytes `pattern(n)` makes in `PEER`: word i, little-endian, holds i.
fn pattern(n: usize) -> Vec<u8> {
    let mut v = Vec::with_capacity(n + 4);
    for i in 0..n.div_ceil(4) {
        v.extend_from_slice(&(i as u32).to_le_bytes());
    }
    v.truncate(n);
    v
}

/// `response(req)` in `PEER`: a header, then the request reversed.
fn response(req: &[u8]) -> Vec<u8> {
    let mut v = format!("got {} bytes\n", req.len()).into_bytes();
    v.extend(req.iter().rev());
    v
}

/// `lines()` in `PEER`.
fn lines() -> Vec<Vec<u8>> {
    (0..200)
        .map(|i| format!("line {i} {}\n", "x".repeat(i * 37 % 500)).into_bytes())
        .collect()
}

/// Asserts `got == want` without printing megabytes when they differ.
fn assert_same(got: &[u8], want: &[u8], what: &str) {
    if got != want {
        let at = got.iter().zip(want).position(|(a, b)| a != b);
        panic!(
            "{what}: {} bytes, want {}; first difference at {at:?}",
            got.len(),
            want.len()
        );
    }
}

/// The looping echo handler of `examples/echo_server.rs`: read, write, drain until EOF; close.
async fn echo(reader: StreamReader, writer: StreamWriter) -> Result<(), Error> {
    let mut buf = vec![0u8; 64 * 1024];
    loop {
        let n = reader.read_into(&mut buf).await?;
        if n == 0 {
            break;
        }
        writer.write(&buf[..n])?;
        writer.drain().await?;
    }
    writer.close();
    writer.wait_closed().await
}

/// Our side of an echo exchange with Python's `echo` handler: lines one at a time, then
/// pipelined, then EOF both ways (S24, S27, S43, S63) and a clean close (S45, S46).
async fn echo_exchange(reader: StreamReader, writer: StreamWriter) -> Result<(), Error> {
    let want = lines();
    for line in &want[..100] {
        writer.write(line)?;
        writer.drain().await?;
        assert_same(&reader.readline().await?, line, "echoed line");
    }
    let rest: Vec<&[u8]> = want[100..].iter().map(Vec::as_slice).collect();
    writer.writelines(&rest)?;
    writer.drain().await?;
    for line in &want[100..] {
        assert_same(&reader.readline().await?, line, "pipelined echo");
    }
    writer.write_eof()?;
    assert_eq!(reader.read(-1).await?, b"", "python closes after our EOF");
    assert!(reader.at_eof());
    writer.close();
    writer.wait_closed().await
}

/// Serves `echo` on a loopback port and returns the server with its port.
async fn echo_server() -> Result<(asyncio::Server, u16), Error> {
    let server = asyncio::start_server(echo, "127.0.0.1", 0).await?;
    let port = server.sockets()[0]
        .as_inet()
        .expect("a TCP listener")
        .port();
    Ok((server, port))
}

/// Closes `server` and waits until every connection it accepted has ended (S73, S75): our
/// handlers closed their connections.
async fn close_server(server: asyncio::Server) {
    server.close();
    server.wait_closed().await;
    assert_eq!(server.connection_count(), 0);
}

/// Case 1. S4, S58, S59, S62, S63, S75: our `start_server` with the looping echo handler
/// serves Python's `open_connection`: line by line, pipelined, then Python's `write_eof` ends
/// our read loop and our `close` reaches Python as EOF.
#[test]
fn s58_our_echo_server_serves_python_client() {
    require_python!();
    run_bounded(async {
        let (server, port) = echo_server().await?;
        let peer = Peer::spawn("echo_client", &[&format!("tcp:{port}")]);
        peer.finish().await;
        close_server(server).await;
        Ok(())
    });
}

/// Case 1b. S58, S71, S74, S75: 50 Python clients connect at once (below the backlog of 100,
/// S10) and each gets its own echo; every connection is tracked until it ends.
#[test]
fn s71_our_echo_server_serves_fifty_python_clients_at_once() {
    require_python!();
    run_bounded(async {
        let (server, port) = echo_server().await?;
        let peer = Peer::spawn("many_clients", &[&format!("tcp:{port}"), "50"]);
        peer.finish().await;
        close_server(server).await;
        Ok(())
    });
}

/// Case 2. S1, S24, S27, S43, S47, S63: our `open_connection` against Python's `start_server`
/// echo; Python closes once it reads our EOF.
#[test]
fn s1_our_client_against_python_echo_server() {
    require_python!();
    run_bounded(async {
        let peer = Peer::spawn("echo_server", &["tcp"]);
        let port = peer.port().await;
        let (reader, writer) = asyncio::open_connection("127.0.0.1", port).await?;
        let peername = writer.peername().and_then(|a| a.as_inet());
        assert_eq!(peername.map(|a| a.port()), Some(port), "S47 peername");
        echo_exchange(reader, writer).await?;
        peer.finish().await;
        Ok(())
    });
}

/// Case 3a. S25, S44, S45, S63: Python writes, half-closes with `write_eof`, then reads to
/// EOF. Our handler reads to EOF with `read(-1)`, still writes (a peer EOF does not close the
/// transport, S63), and `close` flushes the whole response before the FIN (S45).
#[test]
fn s63_python_half_closes_then_our_handler_answers() {
    require_python!();
    const SIZE: usize = 300_000;
    run_bounded(async {
        let seen = Log::default();
        let log = seen.clone();
        let handler = move |reader: StreamReader, writer: StreamWriter| {
            let log = log.clone();
            async move {
                let req = reader.read(-1).await?;
                log.push(if req == pattern(SIZE) {
                    "request intact".to_string()
                } else {
                    format!("request of {} bytes differs", req.len())
                });
                log.push(format!("at_eof {}", reader.at_eof()));
                // No drain: close() itself must flush the ~300 kB still buffered (S45).
                writer.write(&response(&req))?;
                writer.close();
                writer.wait_closed().await
            }
        };
        let server = asyncio::start_server(handler, "127.0.0.1", 0).await?;
        let port = server.sockets()[0].as_inet().expect("TCP").port();
        let peer = Peer::spawn(
            "half_close_client",
            &[&format!("tcp:{port}"), &SIZE.to_string()],
        );
        peer.finish().await;
        close_server(server).await;
        assert_eq!(seen.get(), ["request intact", "at_eof true"]);
        Ok(())
    });
}

/// Case 3b. S42, S44, S63: we write and `write_eof` at once, so the FIN waits behind a full
/// buffer, then read Python's response to EOF; `write` after `write_eof` is refused.
#[test]
fn s44_we_half_close_then_python_answers() {
    require_python!();
    const SIZE: usize = 300_000;
    run_bounded(async {
        let peer = Peer::spawn("half_close_server", &["tcp", &SIZE.to_string()]);
        let port = peer.port().await;
        let (reader, writer) = asyncio::open_connection("127.0.0.1", port).await?;
        let req = pattern(SIZE);
        writer.write(&req)?;
        assert!(writer.can_write_eof(), "S44: TCP can write EOF");
        // No drain first: most of the request is still buffered, and the FIN must follow it
        // (S44). drain() after write_eof still waits for the buffer to go down.
        writer.write_eof()?;
        writer.drain().await?;
        assert!(
            matches!(writer.write(b"late"), Err(Error::InvalidState(_))),
            "S42: write after write_eof"
        );
        let resp = reader.read(-1).await?;
        assert_same(&resp, &response(&req), "response");
        assert!(reader.at_eof());
        writer.close();
        writer.wait_closed().await?;
        peer.finish().await;
        Ok(())
    });
}

/// Sends `data` in `chunk`-sized writes, each followed by `drain`, then `write_eof`.
async fn send_all(writer: &StreamWriter, data: &[u8], chunk: usize) -> Result<(), Error> {
    for part in data.chunks(chunk) {
        writer.write(part)?;
        writer.drain().await?;
    }
    writer.write_eof()
}

/// Reads to EOF with `read_into`, checking every chunk against `want` as it arrives.
async fn receive_all(reader: StreamReader, want: Rc<Vec<u8>>) -> Result<usize, Error> {
    let mut buf = vec![0u8; 64 * 1024];
    let mut at = 0;
    loop {
        let n = reader.read_into(&mut buf).await?;
        if n == 0 {
            return Ok(at);
        }
        assert!(
            at + n <= want.len(),
            "echo longer than sent: {} bytes",
            at + n
        );
        if buf[..n] != want[at..at + n] {
            assert_same(
                &buf[..n],
                &want[at..at + n],
                &format!("echo at offset {at}"),
            );
        }
        at += n;
    }
}

/// Case 4a. S14–S16, S48–S52, S67: 16 MiB from our client through Python's echo server and
/// back. We write with `drain` while a spawned task reads, so neither side's buffers fill
/// for good; every byte is checked in order.
#[test]
fn s50_sixteen_mib_through_python_echo_server() {
    require_python!();
    run_bounded(async {
        let peer = Peer::spawn("echo_server", &["tcp"]);
        let port = peer.port().await;
        let (reader, writer) = asyncio::open_connection("127.0.0.1", port).await?;
        let data = Rc::new(pattern(BULK));
        let receiver = asyncio::spawn(receive_all(reader, data.clone()));
        send_all(&writer, &data, 100_000).await?;
        let got = receiver.await.expect("receiver not cancelled")?;
        assert_eq!(got, BULK, "bytes echoed");
        writer.close();
        writer.wait_closed().await?;
        peer.finish().await;
        Ok(())
    });
}

/// Case 4b. S14–S16, S48–S52, S67: Python's client sends 16 MiB (drain per 100 000 bytes)
/// while reading the echo concurrently; our echo handler's `drain` is the backpressure.
#[test]
fn s50_sixteen_mib_from_python_through_our_echo_server() {
    require_python!();
    run_bounded(async {
        let (server, port) = echo_server().await?;
        let peer = Peer::spawn("bulk_client", &[&format!("tcp:{port}"), &BULK.to_string()]);
        peer.finish().await;
        close_server(server).await;
        Ok(())
    });
}

/// Case 5a. S3, S27, S63: our `open_unix_connection` against Python's `start_unix_server`.
#[test]
fn s3_our_unix_client_against_python_unix_server() {
    require_python!();
    run_bounded(async {
        let dir = temp_dir("interop-py-unix");
        let path = dir.join("py.sock");
        let spec = format!("unix:{}", path.display());
        let peer = Peer::spawn("echo_server", &[&spec]);
        let at = peer.listening().await;
        assert_eq!(at, path.display().to_string());
        let (reader, writer) = asyncio::open_unix_connection(&path).await?;
        echo_exchange(reader, writer).await?;
        peer.finish().await;
        let _ = std::fs::remove_dir_all(&dir);
        Ok(())
    });
}

/// Case 5b. S5, S58, S63, S75: our `start_unix_server` serves Python's
/// `open_unix_connection`; closing the server removes its socket file (3.13, S5).
#[test]
fn s5_our_unix_server_serves_python_client() {
    require_python!();
    run_bounded(async {
        let dir = temp_dir("interop-rs-unix");
        let path = dir.join("rs.sock");
        let server = asyncio::start_unix_server(echo, &path).await?;
        let peer = Peer::spawn("echo_client", &[&format!("unix:{}", path.display())]);
        peer.finish().await;
        close_server(server).await;
        assert!(!path.exists(), "S5: the socket file outlived close()");
        let _ = std::fs::remove_dir_all(&dir);
        Ok(())
    });
}

/// Expects `Error::IncompleteRead` with these fields (S34, S38, S39).
fn assert_incomplete(r: Result<Vec<u8>, Error>, partial: &[u8], expected: Option<usize>) {
    match r {
        Err(Error::IncompleteRead {
            partial: p,
            expected: e,
        }) => {
            assert_eq!(
                (p.as_slice(), e),
                (partial, expected),
                "IncompleteRead fields"
            );
        }
        other => panic!("expected IncompleteRead, got {other:?}"),
    }
}

/// Case 6. S16, S17, S27, S31, S34, S35, S37, S38: Python sends with a drain and a short
/// sleep between fragments, splitting lines, separators (at every offset of a 7-byte one) and
/// counted blocks; a 300 000-byte `readexactly` exceeds twice the limit, so the reader pauses
/// and must resume to finish (S16). Then EOF: the unfinished separator comes back in
/// `IncompleteRead` (S34), `readexactly` fails empty (S38) and `readline` returns b"" (S27).
#[test]
fn s31_reads_across_python_fragments() {
    require_python!();
    run_bounded(async {
        let peer = Peer::spawn("fragments_server", &["tcp"]);
        let port = peer.port().await;
        let (reader, writer) = asyncio::open_connection("127.0.0.1", port).await?;
        assert_eq!(reader.readline().await?, b"hello world\n");
        assert_eq!(reader.readline().await?, b"one byte at a time\n");
        let sep: &[u8] = b"--END--";
        for k in 1..sep.len() {
            let want = format!("rec{k}--END--");
            assert_eq!(
                reader.readuntil(sep).await?,
                want.as_bytes(),
                "split at {k}"
            );
        }
        assert_eq!(reader.readuntil(sep).await?, b"false --END- start--END--");
        assert_eq!(reader.readuntil(b"\r\n\r\n").await?, b"HEAD: 1\r\n\r\n");
        assert_eq!(reader.readexactly(4).await?, b"BODY");
        assert_eq!(reader.readexactly(10).await?, b"0123456789");
        assert_same(
            &reader.readexactly(300_000).await?,
            &pattern(300_000),
            "S16",
        );
        let crlf: &[&[u8]] = &[b"\r\n", b"\n"];
        assert_eq!(reader.readuntil_any(crlf).await?, b"CRLF line\r\n");
        assert_eq!(reader.readuntil_any(crlf).await?, b"LF line\n");
        assert_eq!(reader.readline().await?, b"tail\n");
        assert_incomplete(reader.readuntil(sep).await, b"rest--EN", None);
        assert_incomplete(reader.readexactly(1).await, b"", Some(1));
        assert_eq!(reader.readline().await?, b"");
        assert!(reader.at_eof(), "S17");
        writer.close();
        writer.wait_closed().await?;
        peer.finish().await;
        Ok(())
    });
}
