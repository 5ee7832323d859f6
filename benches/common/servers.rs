//! The echo servers under test. Each runs as a child process: the bench binary re-executed with
//! `ASYNCIO_BENCH_SERVER=<id>` (the Rust ones) or `python3 benches/python/echo_*.py`, pinned
//! to one CPU from a `pre_exec` hook (threads it spawns inherit the mask), or unpinned under
//! `valgrind --tool=callgrind` to count instructions (`common/instr.rs`). A child prints
//! `PORT <n>` once listening on 127.0.0.1. Rust children also answer on stdin: each byte read
//! is answered with `<allocations so far> <live heap bytes>`, and EOF on stdin makes them exit.
//!
//! Every server echoes what it reads with a 64 KiB read buffer and TCP_NODELAY. With
//! `ASYNCIO_BENCH_LEAN=1` (the idle-memory run only) the servers that would otherwise hold a
//! 64 KiB buffer per connection while waiting read without one, so that what is measured is
//! the runtime's own cost per connection: ours through `reader.read(n)`, tokio through
//! `readable()` + `try_read`. With `ASYNCIO_BENCH_DEADLINES=1` (`instr --deadlines`) our streams
//! server sets a read timeout and an idle timeout (60 s each, never reached) on every
//! connection: the cost of deadlines while they do not fire.

use std::io::{self, BufRead, BufReader, Read, Write};
use std::net::TcpListener;
use std::os::unix::process::CommandExt;
use std::path::Path;
use std::process::{Child, ChildStdin, ChildStdout, Command, Stdio};
use std::sync::atomic::Ordering;
use std::time::{Duration, Instant};

use asyncio::{Protocol, StreamReader, StreamWriter, Transport};
use tokio::io::{AsyncReadExt, AsyncWriteExt};

use super::loadgen::Sched;
use super::{pin_current, ALLOCS, LIVE};

const BUF: usize = 64 * 1024;

/// A server implementation under test.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum Kind {
    Streams,
    Protocol,
    TokioCt,
    TokioMt,
    StdThreads,
    MioRaw,
    PyAsyncio,
    PyUvloop,
    /// Our streams echo through `serve_on_threads` with 1 worker (the "workers" phase only).
    StreamsW1,
    /// The same with 2 workers, one `SO_REUSEPORT` listener each.
    StreamsW2,
}

impl Kind {
    pub const ALL: [Kind; 8] = [
        Kind::Streams,
        Kind::Protocol,
        Kind::TokioCt,
        Kind::TokioMt,
        Kind::StdThreads,
        Kind::MioRaw,
        Kind::PyAsyncio,
        Kind::PyUvloop,
    ];

    /// The servers of the "workers" phase (across cores, unpinned): not in [`Kind::ALL`].
    pub const WORKERS: [Kind; 3] = [Kind::StreamsW1, Kind::StreamsW2, Kind::TokioMt];

    /// Short id, used on the command line and in the child's environment.
    pub fn id(self) -> &'static str {
        match self {
            Kind::Streams => "streams",
            Kind::Protocol => "protocol",
            Kind::TokioCt => "tokio-ct",
            Kind::TokioMt => "tokio-mt",
            Kind::StdThreads => "std",
            Kind::MioRaw => "mio",
            Kind::PyAsyncio => "py-asyncio",
            Kind::PyUvloop => "py-uvloop",
            Kind::StreamsW1 => "streams-w1",
            Kind::StreamsW2 => "streams-w2",
        }
    }

    /// Row label in the report.
    pub fn label(self) -> &'static str {
        match self {
            Kind::Streams => "asyncio streams (ours)",
            Kind::Protocol => "asyncio Protocol (ours)",
            Kind::TokioCt => "tokio current_thread",
            Kind::TokioMt => "tokio multi_thread (2 workers)",
            Kind::StdThreads => "blocking std, thread/conn",
            Kind::MioRaw => "raw mio loop (floor)",
            Kind::PyAsyncio => "CPython asyncio streams",
            Kind::PyUvloop => "uvloop streams",
            Kind::StreamsW1 => "asyncio streams, serve_on_threads(1)",
            Kind::StreamsW2 => "asyncio streams, serve_on_threads(2)",
        }
    }

    pub fn from_id(id: &str) -> Option<Kind> {
        Kind::ALL
            .into_iter()
            .chain(Kind::WORKERS)
            .find(|k| k.id() == id)
    }

    pub fn is_python(self) -> bool {
        matches!(self, Kind::PyAsyncio | Kind::PyUvloop)
    }

    fn script(self) -> &'static str {
        match self {
            Kind::PyUvloop => "echo_uvloop.py",
            _ => "echo_asyncio.py",
        }
    }
}

/// Whether a Python server can run here: `Ok(version text)` or `Err(reason)`.
pub fn python_probe(kind: Kind) -> Result<String, String> {
    let code = match kind {
        Kind::PyUvloop => "import sys, uvloop; print(sys.version.split()[0], uvloop.__version__)",
        _ => "import sys, asyncio; print(sys.version.split()[0])",
    };
    let out = Command::new("python3")
        .args(["-c", code])
        .stderr(Stdio::null())
        .output()
        .map_err(|e| format!("python3: {e}"))?;
    if !out.status.success() {
        return Err(match kind {
            Kind::PyUvloop => "uvloop not importable".into(),
            _ => "python3 asyncio not importable".into(),
        });
    }
    Ok(String::from_utf8_lossy(&out.stdout).trim().to_string())
}

/// A running server child.
pub struct ServerProc {
    pub kind: Kind,
    pub port: u16,
    child: Child,
    stdin: Option<ChildStdin>,
    stdout: BufReader<ChildStdout>,
}

impl ServerProc {
    /// Starts `kind` pinned to `cpu` and waits until it listens.
    pub fn spawn(kind: Kind, cpu: usize, lean: bool) -> io::Result<ServerProc> {
        let mut cmd = if kind.is_python() {
            let dir = concat!(env!("CARGO_MANIFEST_DIR"), "/benches/python/");
            let mut c = Command::new("python3");
            c.arg(format!("{dir}{}", kind.script()));
            c
        } else {
            let mut c = Command::new(std::env::current_exe()?);
            c.env("ASYNCIO_BENCH_SERVER", kind.id());
            c
        };
        // SAFETY: the hook only calls sched_setaffinity, which is async-signal-safe.
        unsafe {
            cmd.pre_exec(move || pin_current(cpu));
        }
        ServerProc::start(kind, cmd, lean)
    }

    /// Starts the Rust server `kind` under `valgrind --tool=callgrind`, unpinned (valgrind runs
    /// one thread at a time anyway), and waits until it listens. Callgrind writes its counts to
    /// `out` when the child exits: see [`ServerProc::stop`].
    pub fn spawn_callgrind(kind: Kind, out: &Path) -> io::Result<ServerProc> {
        assert!(
            !kind.is_python(),
            "{}: callgrind runs Rust servers",
            kind.id()
        );
        let mut cmd = Command::new("valgrind");
        cmd.args(["-q", "--tool=callgrind"])
            .arg(format!("--callgrind-out-file={}", out.display()))
            .arg(std::env::current_exe()?)
            .env("ASYNCIO_BENCH_SERVER", kind.id());
        ServerProc::start(kind, cmd, false)
    }

    fn start(kind: Kind, mut cmd: Command, lean: bool) -> io::Result<ServerProc> {
        cmd.env("ASYNCIO_BENCH_LEAN", if lean { "1" } else { "0" })
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .stderr(Stdio::inherit());
        let mut child = cmd.spawn()?;
        let stdin = child.stdin.take();
        let mut stdout = BufReader::new(child.stdout.take().expect("piped stdout"));
        let mut line = String::new();
        stdout.read_line(&mut line)?;
        let port = line
            .strip_prefix("PORT ")
            .and_then(|p| p.trim().parse().ok())
            .ok_or_else(|| io::Error::other(format!("{}: no port: {line:?}", kind.id())))?;
        Ok(ServerProc {
            kind,
            port,
            child,
            stdin,
            stdout,
        })
    }

    /// Closes the child's stdin (a Rust child then exits) and waits up to `limit` for it to
    /// exit; unlike dropping, which kills it after 0.5 s. `Err` if it did not exit in time
    /// (it is then killed) or exited with a failure.
    pub fn stop(mut self, limit: Duration) -> io::Result<()> {
        drop(self.stdin.take());
        let deadline = Instant::now() + limit;
        while Instant::now() < deadline {
            match self.child.try_wait()? {
                Some(st) if st.success() => return Ok(()),
                Some(st) => return Err(io::Error::other(format!("{}: {st}", self.kind.id()))),
                None => std::thread::sleep(Duration::from_millis(5)),
            }
        }
        let id = self.kind.id();
        Err(io::Error::other(format!(
            "{id}: still running after {limit:?}"
        )))
    }

    pub fn pid(&self) -> u32 {
        self.child.id()
    }

    /// Allocations the child has made so far (Rust servers only).
    pub fn allocs(&mut self) -> Option<u64> {
        self.counters().map(|c| c.0)
    }

    /// Allocations so far and live heap bytes (Rust servers only).
    pub fn counters(&mut self) -> Option<(u64, i64)> {
        if self.kind.is_python() {
            return None;
        }
        self.stdin.as_mut()?.write_all(b"a").ok()?;
        let mut line = String::new();
        self.stdout.read_line(&mut line).ok()?;
        let mut it = line.split_whitespace();
        Some((it.next()?.parse().ok()?, it.next()?.parse().ok()?))
    }

    /// CPU time the child's threads have used so far, in ns (schedstat; threads that have
    /// exited are not counted, so read it while the connections are open).
    pub fn cpu_ns(&self) -> Option<u64> {
        let dir = std::fs::read_dir(format!("/proc/{}/task", self.pid())).ok()?;
        let mut sum = 0;
        for t in dir.flatten() {
            let stat = std::fs::read_to_string(t.path().join("schedstat")).unwrap_or_default();
            sum += stat
                .split_whitespace()
                .next()
                .and_then(|v| v.parse::<u64>().ok())
                .unwrap_or(0);
        }
        Some(sum)
    }

    /// Times the child's threads were preempted so far (`nonvoluntary_ctxt_switches` of
    /// /proc/PID/task/*/status): with the load generator on the same CPU, mostly by the
    /// client, woken by an echo it was blocked on.
    pub fn preempted(&self) -> Option<u64> {
        let dir = std::fs::read_dir(format!("/proc/{}/task", self.pid())).ok()?;
        let mut sum = 0;
        for t in dir.flatten() {
            let status = std::fs::read_to_string(t.path().join("status")).unwrap_or_default();
            sum += status
                .lines()
                .find_map(|l| l.strip_prefix("nonvoluntary_ctxt_switches:"))
                .and_then(|v| v.trim().parse::<u64>().ok())
                .unwrap_or(0);
        }
        Some(sum)
    }

    /// [`cpu_ns`](Self::cpu_ns) and [`preempted`](Self::preempted), 0 where unreadable.
    pub fn sched(&self) -> Sched {
        Sched {
            cpu_ns: self.cpu_ns().unwrap_or(0),
            preempted: self.preempted().unwrap_or(0),
        }
    }

    /// Resident set size of the child, in bytes (VmRSS).
    pub fn rss_bytes(&self) -> Option<u64> {
        let status = std::fs::read_to_string(format!("/proc/{}/status", self.pid())).ok()?;
        let line = status.lines().find(|l| l.starts_with("VmRSS:"))?;
        let kib: u64 = line.split_whitespace().nth(1)?.parse().ok()?;
        Some(kib * 1024)
    }
}

impl Drop for ServerProc {
    fn drop(&mut self) {
        drop(self.stdin.take()); // a Rust child exits on stdin EOF
        let deadline = Instant::now() + Duration::from_millis(500);
        while Instant::now() < deadline && !self.kind.is_python() {
            if let Ok(Some(_)) = self.child.try_wait() {
                return;
            }
            std::thread::sleep(Duration::from_millis(5));
        }
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// Counts the syscalls of process `pid` with `perf stat -e raw_syscalls:sys_enter -p` while
/// `f` runs. `Err` carries why perf could not count.
pub fn count_syscalls<R>(
    pid: u32,
    perf_cpu: usize,
    f: impl FnOnce() -> R,
) -> (R, Result<u64, String>) {
    let mut cmd = Command::new("perf");
    cmd.args(["stat", "-x", ",", "-e", "raw_syscalls:sys_enter", "-p"])
        .arg(pid.to_string())
        .stdout(Stdio::null())
        .stderr(Stdio::piped());
    // SAFETY: as in `ServerProc::spawn`.
    unsafe {
        cmd.pre_exec(move || pin_current(perf_cpu));
    }
    let mut perf = match cmd.spawn() {
        Ok(p) => p,
        Err(e) => return (f(), Err(format!("perf: {e}"))),
    };
    std::thread::sleep(Duration::from_millis(400)); // let perf attach
    let r = f();
    // SAFETY: signalling our own child by its pid.
    unsafe {
        libc::kill(perf.id() as libc::pid_t, libc::SIGINT);
    }
    let mut err = String::new();
    let _ = perf.stderr.take().map(|mut s| s.read_to_string(&mut err));
    let _ = perf.wait();
    let count = err
        .lines()
        .find(|l| l.contains("raw_syscalls:sys_enter"))
        .and_then(|l| l.split(',').next())
        .and_then(|n| n.trim().parse::<u64>().ok());
    match count {
        Some(n) => (r, Ok(n)),
        None => (r, Err(format!("perf: {}", err.trim().replace('\n', " ")))),
    }
}

// ---------------------------------------------------------------------------------------------
// Child side.

/// Entry point of a server child (`ASYNCIO_BENCH_SERVER` set).
pub fn child_main(id: &str) {
    let kind = Kind::from_id(id).unwrap_or_else(|| panic!("unknown server {id}"));
    let lean = std::env::var("ASYNCIO_BENCH_LEAN").as_deref() == Ok("1");
    std::thread::spawn(control);
    match kind {
        Kind::Streams => run_streams(lean),
        Kind::Protocol => run_protocol(),
        Kind::TokioCt => run_tokio(
            tokio::runtime::Builder::new_current_thread().enable_io(),
            lean,
        ),
        Kind::TokioMt => run_tokio(
            tokio::runtime::Builder::new_multi_thread()
                .worker_threads(2)
                .enable_io(),
            lean,
        ),
        Kind::StdThreads => run_std(),
        Kind::MioRaw => run_mio(),
        Kind::StreamsW1 => run_streams_workers(1),
        Kind::StreamsW2 => run_streams_workers(2),
        Kind::PyAsyncio | Kind::PyUvloop => unreachable!("python servers are scripts"),
    }
}

fn announce(port: u16) {
    println!("PORT {port}");
    io::stdout().flush().expect("stdout");
}

/// Answers each stdin byte with the allocation count; exits the process at EOF. Uses raw
/// read/write on a stack buffer so that answering allocates nothing.
fn control() {
    let mut b = [0u8; 1];
    loop {
        // SAFETY: reading into a 1-byte stack buffer.
        let n = unsafe { libc::read(0, b.as_mut_ptr().cast(), 1) };
        if n <= 0 {
            std::process::exit(0);
        }
        let count = ALLOCS.load(Ordering::SeqCst);
        let live = LIVE.load(Ordering::SeqCst);
        let mut out = [0u8; 48];
        let mut c = io::Cursor::new(&mut out[..]);
        let _ = writeln!(c, "{count} {live}");
        let len = c.position() as usize;
        // SAFETY: writing `len` initialized bytes of a stack buffer to stdout.
        unsafe { libc::write(1, out.as_ptr().cast(), len) };
    }
}

/// `ASYNCIO_BENCH_DEADLINES=1`: the streams servers set read and idle timeouts. The variable
/// is read once, not per accepted connection (the connection-rate phase would pay for it).
fn with_deadlines(reader: &StreamReader, writer: &StreamWriter) -> Result<(), asyncio::Error> {
    static ON: std::sync::OnceLock<bool> = std::sync::OnceLock::new();
    if *ON.get_or_init(|| std::env::var("ASYNCIO_BENCH_DEADLINES").as_deref() == Ok("1")) {
        reader.set_read_timeout(Some(Duration::from_secs(60)))?;
        writer.set_idle_timeout(Some(Duration::from_secs(60)));
    }
    Ok(())
}

async fn echo_streams(reader: StreamReader, writer: StreamWriter) -> Result<(), asyncio::Error> {
    with_deadlines(&reader, &writer)?;
    let mut buf = vec![0u8; BUF];
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

/// Holds no buffer while waiting (idle-memory run).
async fn echo_streams_lean(
    reader: StreamReader,
    writer: StreamWriter,
) -> Result<(), asyncio::Error> {
    with_deadlines(&reader, &writer)?;
    loop {
        let data = reader.read(BUF as isize).await?;
        if data.is_empty() {
            break;
        }
        writer.write(&data)?;
        writer.drain().await?;
    }
    writer.close();
    writer.wait_closed().await
}

/// `serve_on_threads(n)`: n loops, each with its own listener; this thread only waits.
fn run_streams_workers(n: usize) {
    let group = asyncio::serve_on_threads(n, || echo_streams, "127.0.0.1", 0)
        .configure(|s| s.backlog(1024))
        .start()
        .expect("serve_on_threads");
    announce(group.sockets()[0].as_inet().expect("inet").port());
    // The control thread exits the process at EOF on stdin; until then the workers serve.
    asyncio::run(group.wait_closed())
        .expect("asyncio::run")
        .expect("a worker failed");
}

fn run_streams(lean: bool) {
    asyncio::run(async move {
        let server = if lean {
            asyncio::start_server(echo_streams_lean, "127.0.0.1", 0)
                .backlog(1024)
                .await
        } else {
            asyncio::start_server(echo_streams, "127.0.0.1", 0)
                .backlog(1024)
                .await
        }
        .expect("start_server");
        announce(server.sockets()[0].as_inet().expect("inet").port());
        let _ = server.serve_forever().await;
    })
    .expect("asyncio::run");
}

/// Echo on the Protocol layer, with backpressure: stop reading while the write buffer is
/// above its high-water mark.
#[derive(Default)]
struct EchoProtocol {
    transport: Option<Transport>,
}

impl Protocol for EchoProtocol {
    fn connection_made(&mut self, t: Transport) {
        self.transport = Some(t);
    }
    fn data_received(&mut self, data: &[u8]) {
        let _ = self.transport.as_ref().expect("connected").write(data);
    }
    fn pause_writing(&mut self) {
        self.transport.as_ref().expect("connected").pause_reading();
    }
    fn resume_writing(&mut self) {
        self.transport.as_ref().expect("connected").resume_reading();
    }
}

fn run_protocol() {
    asyncio::run(async {
        let lp = asyncio::get_running_loop().expect("loop");
        let server = lp
            .create_server(EchoProtocol::default, "127.0.0.1", 0)
            .backlog(1024)
            .await
            .expect("create_server");
        announce(server.sockets()[0].as_inet().expect("inet").port());
        let _ = server.serve_forever().await;
    })
    .expect("asyncio::run");
}

fn bind() -> TcpListener {
    let l = TcpListener::bind("127.0.0.1:0").expect("bind");
    announce(l.local_addr().expect("local_addr").port());
    l
}

async fn tokio_echo(mut s: tokio::net::TcpStream) {
    let mut buf = vec![0u8; BUF];
    loop {
        let n = match s.read(&mut buf).await {
            Ok(0) | Err(_) => return,
            Ok(n) => n,
        };
        if s.write_all(&buf[..n]).await.is_err() {
            return;
        }
    }
}

/// Holds no buffer while waiting (idle-memory run).
async fn tokio_echo_lean(mut s: tokio::net::TcpStream) {
    loop {
        if s.readable().await.is_err() {
            return;
        }
        let mut buf = vec![0u8; BUF];
        match s.try_read(&mut buf) {
            Ok(0) => return,
            Ok(n) => {
                if s.write_all(&buf[..n]).await.is_err() {
                    return;
                }
            }
            Err(e) if e.kind() == io::ErrorKind::WouldBlock => {}
            Err(_) => return,
        }
    }
}

fn run_tokio(builder: &mut tokio::runtime::Builder, lean: bool) {
    let rt = builder.build().expect("tokio runtime");
    let l = bind();
    l.set_nonblocking(true).expect("nonblocking");
    rt.block_on(async move {
        let l = tokio::net::TcpListener::from_std(l).expect("listener");
        loop {
            let Ok((s, _)) = l.accept().await else {
                continue;
            };
            let _ = s.set_nodelay(true);
            if lean {
                tokio::spawn(tokio_echo_lean(s));
            } else {
                tokio::spawn(tokio_echo(s));
            }
        }
    });
}

fn run_std() {
    let l = bind();
    for s in l.incoming() {
        let Ok(mut s) = s else { continue };
        let _ = s.set_nodelay(true);
        let spawned = std::thread::Builder::new()
            .stack_size(256 * 1024)
            .spawn(move || {
                let mut buf = vec![0u8; BUF];
                loop {
                    let n = match s.read(&mut buf) {
                        Ok(0) | Err(_) => return,
                        Ok(n) => n,
                    };
                    if s.write_all(&buf[..n]).is_err() {
                        return;
                    }
                }
            });
        if spawned.is_err() {
            std::thread::sleep(Duration::from_millis(1));
        }
    }
}

/// One connection of the raw mio loop: bytes read but not yet written back.
struct MioConn {
    sock: mio::net::TcpStream,
    pending: Vec<u8>,
}

/// The floor: one edge-triggered registration (read + write) per connection, read until a
/// short read (the queue is then empty: no read that ends in EAGAIN), write straight back,
/// keep what the socket did not take and stop reading until it is flushed.
fn run_mio() {
    use mio::{Events, Interest, Poll, Token};
    const LISTENER: Token = Token(usize::MAX);
    let l = bind();
    l.set_nonblocking(true).expect("nonblocking");
    let mut listener = mio::net::TcpListener::from_std(l);
    let mut poll = Poll::new().expect("poll");
    let mut events = Events::with_capacity(1024);
    poll.registry()
        .register(&mut listener, LISTENER, Interest::READABLE)
        .expect("register");
    let mut conns: slab::Slab<MioConn> = slab::Slab::new();
    let mut buf = vec![0u8; BUF];
    loop {
        if let Err(e) = poll.poll(&mut events, None) {
            assert_eq!(e.kind(), io::ErrorKind::Interrupted, "poll: {e}");
            continue;
        }
        for ev in events.iter() {
            if ev.token() == LISTENER {
                while let Ok((mut sock, _)) = listener.accept() {
                    let _ = sock.set_nodelay(true);
                    let entry = conns.vacant_entry();
                    let interest = Interest::READABLE | Interest::WRITABLE;
                    if poll
                        .registry()
                        .register(&mut sock, Token(entry.key()), interest)
                        .is_ok()
                    {
                        entry.insert(MioConn {
                            sock,
                            pending: Vec::new(),
                        });
                    }
                }
                continue;
            }
            let key = ev.token().0;
            let Some(c) = conns.get_mut(key) else {
                continue;
            };
            if !mio_serve(c, &mut buf) {
                let mut c = conns.remove(key);
                let _ = poll.registry().deregister(&mut c.sock);
            }
        }
    }
}

/// Flushes what is pending, then echoes until a short read. `false`: close the connection.
fn mio_serve(c: &mut MioConn, buf: &mut [u8]) -> bool {
    if !c.pending.is_empty() {
        match c.sock.write(&c.pending) {
            Ok(n) => {
                c.pending.drain(..n);
            }
            Err(e) if e.kind() == io::ErrorKind::WouldBlock => return true,
            Err(_) => return false,
        }
        if !c.pending.is_empty() {
            return true; // wait for the next writable edge
        }
    }
    loop {
        let n = match c.sock.read(buf) {
            Ok(0) => return false,
            Ok(n) => n,
            Err(e) if e.kind() == io::ErrorKind::WouldBlock => return true,
            Err(e) if e.kind() == io::ErrorKind::Interrupted => continue,
            Err(_) => return false,
        };
        match c.sock.write(&buf[..n]) {
            Ok(w) if w == n => {}
            Ok(w) => {
                c.pending.extend_from_slice(&buf[w..n]);
                return true;
            }
            Err(e) if e.kind() == io::ErrorKind::WouldBlock => {
                c.pending.extend_from_slice(&buf[..n]);
                return true;
            }
            Err(_) => return false,
        }
        if n < buf.len() {
            return true; // short read: the receive queue is empty, the next edge will come
        }
    }
}
