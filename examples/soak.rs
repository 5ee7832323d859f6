//! Soak: `examples/echo_server` as a child process (plain TCP, and TLS when the `tls` feature
//! and `openssl` are there) under a mixed load for a bounded time, every echoed byte verified.
//! No Python docs example does this; it plays the load generator you would aim at an asyncio
//! server, written with this crate's own client API (one loop per server, on its own thread).
//!
//! Run: `make soak` (60 s), `SOAK_SECONDS=10 make soak`, or after `cargo build --release
//! --example echo_server --example soak`: `target/release/examples/soak [--seconds N]
//! [--peak 1000] [--tls auto|on|off|only] [--scenarios ping-pong,bulk,…,peak] [--server PATH]
//! [--seed N] [--rss-growth-mib 20]`.
//!
//! The load, per server, all at once on loopback (127.0.0.1):
//! - `ping-pong`: 8 workers, 1–50 round trips of 1 B–64 KiB each, read back before the next;
//! - `bulk`: 2 workers, 1–8 MiB streamed while a second task reads it back;
//! - `slow-reader`: 2 workers, reader limit 4 KiB, reading back in 1–512 B pieces with a 1 ms
//!   pause every 8 pieces, so the server's write buffer fills and its `drain` waits;
//! - `reset`: 2 workers, SO_LINGER 0 then `Transport::abort` (an RST) while idle, with 512 KiB
//!   in flight, or with the server blocked in `drain`;
//! - `half-close` (TCP only: TLS has no half-close): `write_eof`, then the echo read to EOF;
//! - `peak`: waves of 1 000 connections, opened 50 at a time (below the listen backlog), each
//!   held until all are open, pinged again and closed; a wave, a 2 s pause, the next wave.
//!
//! Bytes follow a deterministic pattern per connection (a hash of a per-connection seed and the
//! offset), so a lost, repeated, reordered or foreign byte fails the check where it lands.
//!
//! Phases: start the servers and count their idle fds; a 10 s warm-up under the same load; wait
//! (up to 10 s) for the servers' fds to come back to idle; sample their RSS and fds ("after
//! warm-up"); the soak itself; wait again; sample ("end"). Exit status 1 when any holds:
//! - a corrupted byte, or any client-side error (connect, read, write, close, or a scenario
//!   past its 30 s timeout, i.e. a hang): against an echo server on loopback nothing may fail;
//! - server fds after the warm-up or at end (each after up to 10 s for closing connections) >
//!   fds when idle, before any client: a connection the server never closed. The extra
//!   descriptors are listed with their TCP state and their peer's (CLOSE_WAIT: the client
//!   closed and the server did not notice). The client process's own fds are checked too;
//! - server RSS at end > RSS after warm-up + 20 MiB (`--rss-growth-mib`). The servers run with
//!   glibc's heap trimming off (`GLIBC_TUNABLES=glibc.malloc.trim_threshold=…`), so RSS is the
//!   heap's high-water mark and does not swing with whatever lies at the heap's top when
//!   sampled (with trimming on, the idle RSS of one server varied by 20 MiB from run to run).
//!   The warm-up brings that mark to its plateau: 1 000 connections with the echo loop's 64 KiB
//!   buffer, plus bulk and slow-reader buffers, about 72 MiB for TCP and 83 MiB for TLS; past
//!   it fragmentation added 1–3 MiB a minute. A leak does not level off: 1 KiB per connection
//!   (less than one transport with its task) over the 30 000–40 000 connections each server
//!   serves in a 60 s run is 30–40 MiB. The growth per connection is printed for smaller ones;
//! - a server exited early or wrote "panic" in its log; the client's loop still holds I/O
//!   registrations or timers after all its connections closed; a peak wave never had all its
//!   connections open at once.
//!
//! Errors the servers log (a reset connection's `Connection reset by peer`) are expected and
//! printed grouped, not failures.

mod common;

use std::cell::{Cell, RefCell};
use std::collections::BTreeMap;
use std::future::poll_fn;
use std::io::{BufRead, BufReader};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::rc::Rc;
use std::task::{Poll, Waker};
use std::time::{Duration, Instant};

use asyncio::{StreamReader, StreamWriter};
use common::{Cli, Flag};

static CLI: Cli = Cli {
    name: "soak",
    about: "Soak: examples/echo_server as child processes (TCP, and TLS when possible) under a\n\
            mixed load for a bounded time, every echoed byte verified. Exit status 1 on any\n\
            corruption, client error, leaked descriptor or RSS growth past the bound.",
    args: &[],
    flags: &[
        Flag::value(
            "seconds",
            "N",
            "how long the soak runs, after a 10 s warm-up",
        )
        .default("60"),
        Flag::value("peak", "N", "connections per peak wave").default("1000"),
        Flag::value("tls", "MODE", "auto, on, off or only (TLS server only)").default("auto"),
        Flag::value(
            "scenarios",
            "LIST",
            "comma-separated: ping-pong,bulk,slow-reader,reset,half-close,peak [default: all]",
        ),
        Flag::value(
            "server",
            "PATH",
            "the echo server to run [default: echo_server next to this program]",
        ),
        Flag::value("seed", "N", "the seed of the random load").default("1"),
        Flag::value("rss-growth-mib", "N", "the bound on server RSS growth").default("20"),
    ],
};

type BoxError = Box<dyn std::error::Error>;

const WARMUP: Duration = Duration::from_secs(10);
/// Every scenario (and each peak connection) must finish within this, or it counts as a hang.
const SCENARIO_TIMEOUT: Duration = Duration::from_secs(30);
const PEAK_PAUSE: Duration = Duration::from_secs(2);
/// A peak wave keeps at most this many connections between `connect` and their first echo:
/// half the server's listen backlog (100). Opening all 1 000 at once overflows the backlog;
/// Linux then answers with SYN cookies and drops ACKs while the accept queue is full (nstat:
/// ListenOverflows, SyncookiesSent), and in 2 of about 25 such runs the server was left holding
/// ESTABLISHED sockets (16 and 31) that no segment reached any more, though their clients had
/// closed cleanly. That is the kernel's cookie path, not this crate, and reads as a leaked fd.
const CONNECTS_IN_FLIGHT: usize = 50;
/// Descriptors a server may hold beyond its idle count once the clients are gone. None: the
/// `SETTLE` wait gives closing connections their time, and every extra one is listed.
const FD_MARGIN: usize = 0;
/// How long to wait for the server's fds to come back after the clients are gone.
const SETTLE: Duration = Duration::from_secs(10);
const DEFAULT_LIMIT: usize = 64 * 1024;
/// For the servers: glibc never gives the top of its heap back (1 TiB threshold), see above.
const MALLOC_TUNABLE: &str = "glibc.malloc.trim_threshold=1099511627776";

// ---- patterns and randomness ----------------------------------------------------------------

/// The bytes one connection sends: byte `i` is byte `i % 8` of `mix(seed ^ i / 8)`.
#[derive(Clone, Copy)]
struct Pattern(u64);

fn mix(mut z: u64) -> u64 {
    // splitmix64's finaliser: every input bit moves every output bit.
    z = z.wrapping_add(0x9E37_79B9_7F4A_7C15);
    z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
    z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
    z ^ (z >> 31)
}

impl Pattern {
    fn word(&self, block: u64) -> u64 {
        mix(self.0 ^ block)
    }

    fn fill(&self, offset: u64, buf: &mut [u8]) {
        let mut word = self.word(offset >> 3);
        for (i, b) in buf.iter_mut().enumerate() {
            let at = offset + i as u64;
            if at & 7 == 0 {
                word = self.word(at >> 3);
            }
            *b = (word >> ((at & 7) * 8)) as u8;
        }
    }

    /// The first index of `buf` that differs from the pattern at `offset`.
    fn check(&self, offset: u64, buf: &[u8]) -> Option<usize> {
        let mut word = self.word(offset >> 3);
        for (i, &b) in buf.iter().enumerate() {
            let at = offset + i as u64;
            if at & 7 == 0 {
                word = self.word(at >> 3);
            }
            if b != (word >> ((at & 7) * 8)) as u8 {
                return Some(i);
            }
        }
        None
    }
}

/// xorshift64*: deterministic sizes and choices per worker.
struct Rng(u64);

impl Rng {
    fn new(seed: u64) -> Rng {
        Rng(mix(seed) | 1)
    }

    fn next(&mut self) -> u64 {
        self.0 ^= self.0 >> 12;
        self.0 ^= self.0 << 25;
        self.0 ^= self.0 >> 27;
        self.0.wrapping_mul(0x2545_F491_4F6C_DD1D)
    }

    /// A number in `lo..=hi`.
    fn range(&mut self, lo: usize, hi: usize) -> usize {
        lo + (self.next() % (hi - lo + 1) as u64) as usize
    }
}

// ---- what a load thread counts -------------------------------------------------------------

#[derive(Default)]
struct Stats {
    connections: u64,
    bytes_verified: u64,
    runs: BTreeMap<&'static str, u64>,
    /// Client-side failures by "scenario step: kind".
    errors: BTreeMap<String, u64>,
    corrupt: u64,
    corrupt_examples: Vec<String>,
    max_live: usize,
    waves: u64,
    /// The most peak connections that were open at the same moment, over all waves.
    wave_best: usize,
    wave_slowest: Duration,
    /// The client loop's `stats()` once everything closed: (io registrations, timers).
    client_leftovers: (usize, usize),
}

impl Stats {
    fn merge(&mut self, o: Stats) {
        self.connections += o.connections;
        self.bytes_verified += o.bytes_verified;
        for (k, v) in o.runs {
            *self.runs.entry(k).or_default() += v;
        }
        for (k, v) in o.errors {
            *self.errors.entry(k).or_default() += v;
        }
        self.corrupt += o.corrupt;
        self.corrupt_examples.extend(o.corrupt_examples);
        self.max_live = self.max_live.max(o.max_live);
        self.waves += o.waves;
        self.wave_best = self.wave_best.max(o.wave_best);
        self.wave_slowest = self.wave_slowest.max(o.wave_slowest);
        self.client_leftovers.0 += o.client_leftovers.0;
        self.client_leftovers.1 += o.client_leftovers.1;
    }
}

/// Why a scenario stopped early.
enum Failure {
    Corrupt(String),
    Error(&'static str, String),
}

fn kind(e: &asyncio::Error) -> String {
    match e {
        asyncio::Error::Io(io) => format!("{:?}", io.kind()),
        #[cfg(feature = "tls")]
        asyncio::Error::Tls(t) => format!("TLS: {t}"),
        other => format!("{other:?}").chars().take(60).collect(),
    }
}

fn at(step: &'static str) -> impl Fn(asyncio::Error) -> Failure {
    move |e| Failure::Error(step, kind(&e))
}

// ---- one load thread: a loop, its target, its workers -------------------------------------

#[cfg(feature = "tls")]
type ClientTls = std::sync::Arc<asyncio::tls::rustls::ClientConfig>;
#[cfg(not(feature = "tls"))]
type ClientTls = std::convert::Infallible;

#[derive(Clone)]
struct Target {
    name: &'static str,
    port: u16,
    tls: Option<ClientTls>,
}

struct Load {
    target: Target,
    deadline: Instant,
    peak: usize,
    /// The scenario names to run (`--scenarios`); "peak" for the peak waves.
    scenarios: Vec<String>,
    seed: u64,
    stats: RefCell<Stats>,
    live: Cell<usize>,
    next_conn: Cell<u64>,
}

/// One open connection of the load; counts itself in `Load::live` while it exists.
struct Conn {
    load: Rc<Load>,
    reader: StreamReader,
    writer: StreamWriter,
    pattern: Pattern,
}

impl Drop for Conn {
    fn drop(&mut self) {
        self.load.live.set(self.load.live.get() - 1);
    }
}

impl Load {
    async fn connect(self: &Rc<Self>, limit: usize) -> Result<Conn, Failure> {
        let open = asyncio::open_connection("127.0.0.1", self.target.port).limit(limit);
        #[cfg(feature = "tls")]
        let open = match &self.target.tls {
            Some(config) => open.ssl(config.clone()), // verified against our self-signed CA
            None => open,
        };
        let (reader, writer) = open.await.map_err(at("connect"))?;
        let n = self.next_conn.get();
        self.next_conn.set(n + 1);
        let live = self.live.get() + 1;
        self.live.set(live);
        let mut stats = self.stats.borrow_mut();
        stats.connections += 1;
        stats.max_live = stats.max_live.max(live);
        Ok(Conn {
            load: self.clone(),
            reader,
            writer,
            pattern: Pattern(mix(self.seed ^ (n << 16))),
        })
    }

    fn verified(&self, n: usize) {
        self.stats.borrow_mut().bytes_verified += n as u64;
    }

    fn record(&self, scenario: &'static str, outcome: Result<Result<(), Failure>, asyncio::Error>) {
        let mut stats = self.stats.borrow_mut();
        *stats.runs.entry(scenario).or_default() += 1;
        let key = match outcome {
            Ok(Ok(())) => return,
            Ok(Err(Failure::Error(step, kind))) => format!("{scenario} {step}: {kind}"),
            Ok(Err(Failure::Corrupt(what))) => {
                stats.corrupt += 1;
                if stats.corrupt_examples.len() < 5 {
                    let target = self.target.name;
                    stats
                        .corrupt_examples
                        .push(format!("{target} {scenario}: {what}"));
                }
                return;
            }
            Err(e) => format!("{scenario}: {} (a hang?)", kind(&e)), // the 30 s timeout
        };
        *stats.errors.entry(key).or_default() += 1;
    }
}

impl Conn {
    /// Writes `n` pattern bytes from `offset` in chunks of at most `chunk`, draining after each.
    async fn send(&self, offset: u64, n: usize, chunk: usize) -> Result<(), Failure> {
        let mut buf = vec![0u8; chunk.min(n)];
        let mut done = 0;
        while done < n {
            let len = chunk.min(n - done);
            self.pattern.fill(offset + done as u64, &mut buf[..len]);
            self.writer.write(&buf[..len]).map_err(at("write"))?;
            self.writer.drain().await.map_err(at("drain"))?;
            done += len;
        }
        Ok(())
    }

    /// Reads exactly `n` bytes and checks them against the pattern at `offset`. With `slow`,
    /// reads in 1–512 B pieces and pauses 1 ms every 8 pieces.
    async fn recv(&self, offset: u64, n: usize, mut slow: Option<Rng>) -> Result<(), Failure> {
        let mut buf = vec![0u8; n.clamp(1, 64 * 1024)];
        let mut done = 0;
        let mut pieces = 0u32;
        while done < n {
            let want = match &mut slow {
                Some(rng) => rng.range(1, 512),
                None => buf.len(),
            }
            .min(n - done);
            let got = self
                .reader
                .read_into(&mut buf[..want])
                .await
                .map_err(at("read"))?;
            if got == 0 {
                // EOF before the whole echo came back: bytes were lost.
                let what = format!("EOF after {done} of {n} echoed bytes");
                return Err(Failure::Error("read", what));
            }
            if let Some(i) = self.pattern.check(offset + done as u64, &buf[..got]) {
                let mut want_byte = [0u8];
                self.pattern
                    .fill(offset + (done + i) as u64, &mut want_byte);
                return Err(Failure::Corrupt(format!(
                    "byte {} of the echo is {:#04x}, sent {:#04x}",
                    offset + (done + i) as u64,
                    buf[i],
                    want_byte[0]
                )));
            }
            self.load.verified(got);
            done += got;
            pieces += 1;
            if slow.is_some() && pieces % 8 == 0 {
                asyncio::sleep(Duration::from_millis(1)).await; // let the server's buffer fill
            }
        }
        Ok(())
    }

    /// Closes our side and waits until the connection is gone.
    async fn close(self) -> Result<(), Failure> {
        self.writer.close();
        self.writer.wait_closed().await.map_err(at("close"))
    }
}

/// The task reading an echo back; cancelled if the scenario ends without joining it.
struct Reading(asyncio::Task<Result<(), Failure>>);

impl Drop for Reading {
    fn drop(&mut self) {
        self.0.cancel(); // a no-op once it finished
    }
}

impl Reading {
    async fn join(mut self) -> Result<(), Failure> {
        (&mut self.0)
            .await
            .unwrap_or_else(|_| Err(Failure::Error("read", "cancelled".into())))
    }
}

/// Reads `n` echoed bytes on a task of its own while the caller writes (an echo peer that
/// writes everything before reading would deadlock once both directions' buffers are full).
fn spawn_recv(conn: &Rc<Conn>, n: usize, slow: Option<Rng>, then_eof: bool) -> Reading {
    let conn = conn.clone();
    Reading(asyncio::spawn(async move {
        conn.recv(0, n, slow).await?;
        if then_eof && conn.reader.read(1).await.map_err(at("read"))? != b"" {
            // More than we sent came back after the whole echo.
            return Err(Failure::Corrupt(format!("bytes after the {n} echoed")));
        }
        Ok(())
    }))
}

async fn ping_pong(load: Rc<Load>, rng: &mut Rng) -> Result<(), Failure> {
    let conn = load.connect(DEFAULT_LIMIT).await?;
    let mut offset = 0;
    for _ in 0..rng.range(1, 50) {
        let len = match rng.range(0, 9) {
            0 => rng.range(4096, 64 * 1024), // now and then a large message
            _ => rng.range(1, 512),
        };
        conn.send(offset, len, rng.range(1, len)).await?;
        conn.recv(offset, len, None).await?;
        offset += len as u64;
    }
    conn.close().await
}

async fn bulk(load: Rc<Load>, rng: &mut Rng) -> Result<(), Failure> {
    let conn = Rc::new(load.connect(DEFAULT_LIMIT).await?);
    let total = rng.range(1 << 20, 8 << 20);
    let reading = spawn_recv(&conn, total, None, false);
    conn.send(0, total, rng.range(1024, 256 * 1024)).await?;
    reading.join().await?;
    close_rc(conn).await
}

async fn slow_reader(load: Rc<Load>, rng: &mut Rng) -> Result<(), Failure> {
    let conn = Rc::new(load.connect(4096).await?); // pause our reading at 8 KiB buffered
    let total = rng.range(128 << 10, 1 << 20);
    let reading = spawn_recv(&conn, total, Some(Rng::new(rng.next())), false);
    conn.send(0, total, 64 * 1024).await?; // drain waits on the slow reader's backpressure
    reading.join().await?;
    close_rc(conn).await
}

async fn half_close(load: Rc<Load>, rng: &mut Rng) -> Result<(), Failure> {
    let conn = Rc::new(load.connect(DEFAULT_LIMIT).await?);
    let total = rng.range(1, 1 << 20);
    let reading = spawn_recv(&conn, total, None, true);
    conn.send(0, total, rng.range(1, 64 * 1024)).await?;
    conn.writer.write_eof().map_err(at("write_eof"))?;
    reading.join().await?; // the whole echo, then EOF: the server closed after our EOF
    close_rc(conn).await
}

async fn reset(load: Rc<Load>, rng: &mut Rng) -> Result<(), Failure> {
    let conn = load.connect(DEFAULT_LIMIT).await?;
    conn.send(0, 1024, 1024).await?;
    conn.recv(0, 1024, None).await?;
    match rng.range(0, 2) {
        0 => {} // idle: the server waits in read
        1 => {
            // 512 KiB in flight both ways, unread
            let mut big = vec![0u8; 512 * 1024];
            conn.pattern.fill(1024, &mut big);
            conn.writer.write(&big).map_err(at("write"))?;
        }
        _ => {
            // 2.5 MiB sent, none read back: the server's echo ends up waiting in drain
            let mut chunk = vec![0u8; 64 * 1024];
            conn.pattern.fill(1024, &mut chunk);
            for _ in 0..40 {
                conn.writer.write(&chunk).map_err(at("write"))?;
            }
            asyncio::sleep(Duration::from_millis(5)).await;
        }
    }
    if let Some(asyncio::ExtraInfo::Fd(fd)) = conn.writer.get_extra_info("socket") {
        // SAFETY: `fd` is the socket of the transport `conn` holds open; the borrow ends
        // before `abort` below closes it.
        let fd = unsafe { std::os::fd::BorrowedFd::borrow_raw(fd) };
        socket2::SockRef::from(&fd)
            .set_linger(Some(Duration::ZERO))
            .map_err(|e| Failure::Error("SO_LINGER", format!("{:?}", e.kind())))?;
    }
    conn.writer.transport().abort(); // close with linger 0: the kernel sends an RST
    conn.writer.wait_closed().await.map_err(at("abort"))
}

async fn close_rc(conn: Rc<Conn>) -> Result<(), Failure> {
    match Rc::try_unwrap(conn) {
        Ok(conn) => conn.close().await,
        Err(_) => Err(Failure::Error("close", "reader task still holds it".into())),
    }
}

/// The scenarios the workers repeat; `--scenarios` picks some by name.
#[derive(Clone, Copy, PartialEq)]
enum Kind {
    PingPong,
    Bulk,
    Slow,
    Reset,
    HalfClose,
}

impl Kind {
    /// Each kind, its name and its number of workers per server.
    const MIX: [(Kind, &'static str, usize); 5] = [
        (Kind::PingPong, "ping-pong", 8),
        (Kind::Bulk, "bulk", 2),
        (Kind::Slow, "slow-reader", 2),
        (Kind::Reset, "reset", 2),
        (Kind::HalfClose, "half-close", 2),
    ];

    async fn run(self, load: Rc<Load>, rng: &mut Rng) -> Result<(), Failure> {
        match self {
            Kind::PingPong => ping_pong(load, rng).await,
            Kind::Bulk => bulk(load, rng).await,
            Kind::Slow => slow_reader(load, rng).await,
            Kind::Reset => reset(load, rng).await,
            Kind::HalfClose => half_close(load, rng).await,
        }
    }
}

/// Runs one scenario kind again and again until the deadline.
async fn worker(load: Rc<Load>, kind: Kind, name: &'static str, id: u64) {
    let mut rng = Rng::new(load.seed ^ id.wrapping_mul(0x1000_0001));
    while Instant::now() < load.deadline {
        let outcome = asyncio::timeout(SCENARIO_TIMEOUT, kind.run(load.clone(), &mut rng)).await;
        load.record(name, outcome);
    }
}

/// Wakes every waiter once opened; the peak connections wait on it until all have arrived.
#[derive(Default)]
struct Gate {
    open: Cell<bool>,
    waiters: RefCell<Vec<Waker>>,
}

impl Gate {
    fn open(&self) {
        self.open.set(true);
        let waiters = self.waiters.take(); // no borrow alive while the wakers run
        waiters.into_iter().for_each(Waker::wake);
    }

    async fn wait(&self) {
        poll_fn(|cx| {
            if self.open.get() {
                return Poll::Ready(());
            }
            self.waiters.borrow_mut().push(cx.waker().clone());
            Poll::Pending
        })
        .await
    }
}

/// One wave's shared state: the gate opens when every connection arrived (or failed).
struct Wave {
    gate: Gate,
    size: usize,
    arrived: Cell<usize>,
    open: Cell<usize>,
}

/// Marks its connection arrived at the gate, also when the connection failed or timed out.
struct Arrival(Rc<Wave>, bool);

impl Arrival {
    fn arrive(&mut self, connected: bool) {
        if std::mem::replace(&mut self.1, true) {
            return;
        }
        let wave = &self.0;
        wave.open.set(wave.open.get() + connected as usize);
        wave.arrived.set(wave.arrived.get() + 1);
        if wave.arrived.get() == wave.size {
            wave.gate.open();
        }
    }
}

impl Drop for Arrival {
    fn drop(&mut self) {
        self.arrive(false);
    }
}

async fn peak_connection(load: Rc<Load>, wave: Rc<Wave>) -> Result<(), Failure> {
    let mut arrival = Arrival(wave.clone(), false);
    let conn = load.connect(DEFAULT_LIMIT).await?;
    conn.send(0, 64, 64).await?;
    conn.recv(0, 64, None).await?;
    arrival.arrive(true);
    wave.gate.wait().await; // all `size` connections are open now (or failed)
    conn.send(64, 64, 64).await?;
    conn.recv(64, 64, None).await?;
    conn.close().await
}

async fn peak_waves(load: Rc<Load>) {
    while Instant::now() < load.deadline {
        let started = Instant::now();
        let wave = Rc::new(Wave {
            gate: Gate::default(),
            size: load.peak,
            arrived: Cell::new(0),
            open: Cell::new(0),
        });
        let mut tasks = Vec::with_capacity(load.peak);
        for k in 0..load.peak {
            while k >= wave.arrived.get() + CONNECTS_IN_FLIGHT {
                asyncio::sleep(Duration::from_millis(1)).await; // see CONNECTS_IN_FLIGHT
            }
            let (load, wave) = (load.clone(), wave.clone());
            tasks.push(asyncio::spawn(async move {
                let conn = peak_connection(load.clone(), wave);
                let outcome = asyncio::timeout(SCENARIO_TIMEOUT, conn).await;
                load.record("peak", outcome);
            }));
        }
        for task in tasks {
            let _ = task.await; // each records its own outcome
        }
        {
            let mut stats = load.stats.borrow_mut(); // released before the sleep below
            stats.waves += 1;
            stats.wave_best = stats.wave_best.max(wave.open.get());
            stats.wave_slowest = stats.wave_slowest.max(started.elapsed());
        }
        asyncio::sleep(PEAK_PAUSE.min(load.deadline.saturating_duration_since(Instant::now())))
            .await;
    }
}

/// A load thread's main: the workers and the peak waves until the deadline, then the loop's
/// leftovers once every connection is closed.
async fn load_main(load: Rc<Load>) -> Stats {
    let mut tasks = Vec::new();
    if load.scenarios.iter().any(|s| s == "peak") {
        tasks.push(asyncio::spawn(peak_waves(load.clone())));
    }
    let mut id = 0;
    for (kind, name, workers) in Kind::MIX {
        if kind == Kind::HalfClose && load.target.tls.is_some() {
            continue; // write_eof is Error::Unsupported over TLS: TLS has no half-close
        }
        if !load.scenarios.iter().any(|s| s == name) {
            continue;
        }
        for _ in 0..workers {
            id += 1;
            tasks.push(asyncio::spawn(worker(load.clone(), kind, name, id)));
        }
    }
    for task in tasks {
        let _ = task.await; // workers record their own outcomes
    }
    asyncio::sleep(Duration::from_millis(50)).await; // let the last connection_lost calls run
    if let Ok(lp) = asyncio::get_running_loop() {
        let s = lp.stats();
        // `timers` counts this loop's own sleeps; none is pending here.
        load.stats.borrow_mut().client_leftovers = (s.io_registrations, s.timers);
    }
    load.stats.take()
}

/// Runs the load against every target, one thread and loop each, for `duration`; samples the
/// servers' RSS meanwhile. Returns the merged stats per target and the highest RSS per server.
fn run_phase(
    targets: &[Target],
    servers: &[ServerProc],
    duration: Duration,
    opt: &Options,
    seed: u64,
) -> Result<(Vec<Stats>, Vec<u64>), BoxError> {
    let deadline = Instant::now() + duration;
    let threads: Vec<_> = targets
        .iter()
        .enumerate()
        .map(|(i, target)| {
            let (target, scenarios, peak) = (target.clone(), opt.scenarios.clone(), opt.peak);
            let seed = mix(seed ^ (i as u64 + 1));
            std::thread::spawn(move || {
                let load = Rc::new(Load {
                    target,
                    deadline,
                    peak,
                    scenarios,
                    seed,
                    stats: RefCell::default(),
                    live: Cell::new(0),
                    next_conn: Cell::new(0),
                });
                asyncio::run(load_main(load)).map_err(|e| e.to_string())
            })
        })
        .collect();
    let mut rss_max = vec![0; servers.len()];
    while threads.iter().any(|t| !t.is_finished()) {
        for (max, s) in rss_max.iter_mut().zip(servers) {
            *max = (*max).max(rss_kib(s.pid).unwrap_or(0));
        }
        std::thread::sleep(Duration::from_millis(200));
    }
    let mut stats = Vec::new();
    for t in threads {
        stats.push(t.join().map_err(|_| "a load thread panicked")??);
    }
    Ok((stats, rss_max))
}

// ---- the servers ----------------------------------------------------------------------------

struct ServerProc {
    child: Child,
    pid: u32,
    port: u16,
    log: PathBuf,
}

impl ServerProc {
    fn spawn(bin: &Path, tls: Option<&(PathBuf, PathBuf)>, log: PathBuf) -> Result<Self, BoxError> {
        let mut cmd = Command::new(bin);
        cmd.args(["--host", "127.0.0.1", "--port", "0"]);
        // No heap trimming: RSS becomes the heap's high-water mark, a steady measure (see top).
        let tunables = match std::env::var("GLIBC_TUNABLES") {
            Ok(t) if !t.is_empty() => format!("{t}:{MALLOC_TUNABLE}"),
            _ => MALLOC_TUNABLE.to_string(),
        };
        cmd.env("GLIBC_TUNABLES", tunables);
        if let Some((cert, key)) = tls {
            cmd.arg("--tls-cert").arg(cert).arg("--tls-key").arg(key);
        }
        let mut child = cmd
            .stdin(Stdio::null())
            .stdout(Stdio::piped())
            .stderr(std::fs::File::create(&log)?)
            .spawn()
            .map_err(|e| format!("{}: {e} (build it first)", bin.display()))?;
        let pid = child.id();
        SERVER_PIDS
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .push(pid);
        // It prints `Serving on 127.0.0.1:PORT` once listening; read on a thread to bound the wait.
        let stdout = child.stdout.take().ok_or("no stdout")?;
        let (tx, rx) = std::sync::mpsc::channel();
        std::thread::spawn(move || {
            let mut lines = BufReader::new(stdout).lines().map_while(Result::ok);
            let _ = tx.send(lines.find(|l| l.starts_with("Serving on ")));
            lines.for_each(drop); // keep the pipe drained
        });
        let line = match rx.recv_timeout(Duration::from_secs(10)) {
            Ok(Some(line)) => line,
            _ => {
                let _ = child.kill();
                let log = std::fs::read_to_string(&log).unwrap_or_default();
                return Err(format!("echo_server did not start; its log:\n{log}").into());
            }
        };
        let addr = line
            .strip_prefix("Serving on ")
            .and_then(|a| a.split(", ").next())
            .and_then(|a| a.parse::<std::net::SocketAddr>().ok())
            .ok_or_else(|| format!("unexpected first line from echo_server: {line:?}"))?;
        Ok(ServerProc {
            child,
            pid,
            port: addr.port(),
            log,
        })
    }

    /// Waits until the server holds at most `fds` descriptors or `SETTLE` passed; the count.
    fn settle(&self, fds: usize) -> Result<usize, BoxError> {
        let until = Instant::now() + SETTLE;
        loop {
            let n = fd_count(self.pid)?;
            if n <= fds || Instant::now() > until {
                return Ok(n);
            }
            std::thread::sleep(Duration::from_millis(50));
        }
    }
}

impl Drop for ServerProc {
    fn drop(&mut self) {
        SERVER_PIDS
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .retain(|&p| p != self.pid);
        let _ = self.child.kill(); // bounded run: the servers end with the soak
        let _ = self.child.wait();
    }
}

/// Sends SIGTERM to server `pid` and reaps it, waiting at most 5 s.
fn terminate(pid: u32) {
    let pid = pid as libc::pid_t;
    // SAFETY: `kill` and `waitpid` take plain integers; `pid` is our own unreaped child (its
    // `Child` is only reaped in `ServerProc::drop`, which also takes it off the list first).
    #[allow(unsafe_code)]
    unsafe {
        libc::kill(pid, libc::SIGTERM);
    }
    let until = Instant::now() + Duration::from_secs(5);
    while Instant::now() < until {
        let mut status = 0;
        // SAFETY: as above; `status` is ours to fill.
        #[allow(unsafe_code)]
        let r = unsafe { libc::waitpid(pid, &mut status, libc::WNOHANG) };
        if r != 0 {
            return; // reaped, or not ours any more
        }
        std::thread::sleep(Duration::from_millis(20));
    }
}

fn rss_kib(pid: u32) -> Result<u64, BoxError> {
    let status = std::fs::read_to_string(format!("/proc/{pid}/status"))?;
    let line = status.lines().find(|l| l.starts_with("VmRSS:"));
    let kib = line.and_then(|l| l.split_whitespace().nth(1)?.parse().ok());
    Ok(kib.ok_or("no VmRSS in /proc/PID/status")?)
}

fn fd_count(pid: u32) -> Result<usize, BoxError> {
    Ok(std::fs::read_dir(format!("/proc/{pid}/fd"))?.count())
}

/// The server's descriptors as `fd -> what`, e.g. `12 -> socket:[4711]`.
fn fd_list(pid: u32) -> Vec<String> {
    let Ok(dir) = std::fs::read_dir(format!("/proc/{pid}/fd")) else {
        return Vec::new(); // the server is gone
    };
    let mut fds: Vec<String> = dir
        .filter_map(Result::ok)
        .map(|e| {
            let what = std::fs::read_link(e.path()).unwrap_or_default();
            format!("{} -> {}", e.file_name().to_string_lossy(), what.display())
        })
        .collect();
    fds.sort();
    fds
}

/// The server's descriptors that are not in `idle`, each with its TCP state.
fn extra_fds(pid: u32, idle: &[String]) -> Vec<String> {
    fd_list(pid)
        .into_iter()
        .filter(|fd| !idle.contains(fd))
        .map(|fd| format!("{fd}{}", tcp_state(&fd)))
        .collect()
}

/// For `socket:[INODE]`: the TCP state and queues from /proc/net/tcp, and the state of the
/// other end if it is on this host (loopback), marked "ours" when this process holds it. Tells a
/// connection the server never closed (CLOSE_WAIT) from one whose client never closed.
fn tcp_state(fd: &str) -> String {
    const STATES: &str = "? ESTABLISHED SYN_SENT SYN_RECV FIN_WAIT1 FIN_WAIT2 TIME_WAIT CLOSE \
                          CLOSE_WAIT LAST_ACK LISTEN CLOSING";
    let Some(inode) = fd.split("socket:[").nth(1).map(|s| s.trim_end_matches(']')) else {
        return String::new(); // not a socket
    };
    let table = std::fs::read_to_string("/proc/net/tcp").unwrap_or_default();
    let rows: Vec<Vec<&str>> = table
        .lines()
        .skip(1)
        .map(|r| r.split_whitespace().collect::<Vec<_>>())
        .filter(|f| f.len() > 9)
        .collect();
    let state = |f: &[&str]| {
        let n = usize::from_str_radix(f[3], 16).unwrap_or(0);
        STATES.split_whitespace().nth(n).unwrap_or("?")
    };
    let Some(me) = rows.iter().find(|f| f[9] == inode) else {
        return " (not in /proc/net/tcp)".into();
    };
    let (tx, rx) = me[4].split_once(':').unwrap_or(("0", "0"));
    let (tx, rx) = (
        u64::from_str_radix(tx, 16).unwrap_or(0),
        u64::from_str_radix(rx, 16).unwrap_or(0),
    );
    let peer = match rows.iter().find(|f| f[1] == me[2] && f[2] == me[1]) {
        None => "gone".to_string(),
        Some(p) => {
            let ours = fd_list(std::process::id())
                .iter()
                .any(|fd| fd.ends_with(&format!("socket:[{}]", p[9])));
            format!(
                "{}{}",
                state(p),
                if ours {
                    ", held by this soak client"
                } else {
                    ""
                }
            )
        }
    };
    format!(
        " ({}, send-q {tx}, recv-q {rx}; peer {}: {peer})",
        state(me),
        me[2]
    )
}

/// Error entries of a server log, grouped: first line plus `exception:` line, digits as `N`.
fn log_summary(log: &Path) -> (BTreeMap<String, u64>, bool) {
    let text = std::fs::read_to_string(log).unwrap_or_default();
    let mut groups = BTreeMap::new();
    let mut head: Option<String> = None;
    let mut flush = |head: &mut Option<String>, extra: &str| {
        if let Some(h) = head.take() {
            let mut key = String::new();
            for c in format!("{h}{extra}").chars() {
                match c.is_ascii_digit() {
                    true if key.ends_with('N') => {} // a number becomes one `N`
                    true => key.push('N'),
                    false => key.push(c),
                }
            }
            *groups.entry(key).or_insert(0) += 1;
        }
    };
    for line in text.lines() {
        if line.starts_with("ERROR") || line.starts_with("WARN") {
            flush(&mut head, "");
            head = Some(line.to_string());
        } else if let Some(exc) = line.strip_prefix("exception: ") {
            flush(&mut head, &format!(" / {exc}"));
        }
    }
    flush(&mut head, "");
    (groups, text.to_lowercase().contains("panic"))
}

// ---- set-up: fd limit, TLS files -------------------------------------------------------------

/// Raises the soft `RLIMIT_NOFILE` to at least `need` (children inherit it).
fn raise_nofile(need: u64) -> Result<u64, BoxError> {
    let mut lim = libc::rlimit {
        rlim_cur: 0,
        rlim_max: 0,
    };
    // SAFETY: `lim` is a valid, writable rlimit for the call to fill.
    if unsafe { libc::getrlimit(libc::RLIMIT_NOFILE, &mut lim) } != 0 {
        return Err(std::io::Error::last_os_error().into());
    }
    if lim.rlim_cur < need {
        if lim.rlim_max < need {
            return Err(format!("RLIMIT_NOFILE hard limit {} < {need}", lim.rlim_max).into());
        }
        lim.rlim_cur = need.max(lim.rlim_cur.min(lim.rlim_max));
        // SAFETY: `lim` is a valid rlimit; raising the soft limit up to the hard one is allowed.
        if unsafe { libc::setrlimit(libc::RLIMIT_NOFILE, &lim) } != 0 {
            return Err(std::io::Error::last_os_error().into());
        }
    }
    Ok(lim.rlim_cur)
}

/// A self-signed P-256 certificate for localhost / 127.0.0.1, made by `openssl`; the client
/// trusts it as its only CA.
fn make_cert(dir: &Path) -> Result<(PathBuf, PathBuf), BoxError> {
    let (cert, key) = (dir.join("cert.pem"), dir.join("key.pem"));
    let args = "req -x509 -newkey ec -pkeyopt ec_paramgen_curve:prime256v1 -nodes \
                -subj /CN=localhost -addext subjectAltName=DNS:localhost,IP:127.0.0.1 \
                -addext basicConstraints=critical,CA:FALSE -days 2";
    // `basicConstraints`: `req -x509` marks the certificate a CA by default, and webpki
    // refuses a CA as a server's own certificate (`CaUsedAsEndEntity`).
    let status = Command::new("openssl")
        .args(args.split_whitespace())
        .arg("-keyout")
        .arg(&key)
        .arg("-out")
        .arg(&cert)
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .status()
        .map_err(|e| format!("openssl: {e}"))?;
    if !status.success() {
        return Err(format!("openssl req failed: {status}").into());
    }
    Ok((cert, key))
}

#[cfg(feature = "tls")]
fn client_tls(ca: &Path) -> Result<ClientTls, BoxError> {
    Ok(std::sync::Arc::new(asyncio::tls::client_config_with_roots(
        ca,
    )?))
}

#[cfg(not(feature = "tls"))]
fn client_tls(_: &Path) -> Result<ClientTls, BoxError> {
    Err("TLS needs the `tls` feature, off in this build".into())
}

// ---- main: phases and the report ------------------------------------------------------------

struct Options {
    seconds: u64,
    peak: usize,
    tls: String,
    server: PathBuf,
    seed: u64,
    rss_growth_kib: u64,
    scenarios: Vec<String>,
}

/// `--tls`: which servers to run.
struct TlsMode(String);

impl std::str::FromStr for TlsMode {
    type Err = &'static str;

    fn from_str(s: &str) -> Result<TlsMode, &'static str> {
        match s {
            "auto" | "on" | "off" | "only" => Ok(TlsMode(s.to_string())),
            _ => Err("expected auto, on, off or only"),
        }
    }
}

/// `--scenarios`: a comma-separated list of known scenario names.
struct Scenarios(Vec<String>);

impl Scenarios {
    fn known() -> Vec<&'static str> {
        Kind::MIX.iter().map(|k| k.1).chain(["peak"]).collect()
    }
}

impl std::str::FromStr for Scenarios {
    type Err = String;

    fn from_str(list: &str) -> Result<Scenarios, String> {
        let known = Scenarios::known();
        let scenarios: Vec<String> = list.split(',').map(str::to_string).collect();
        match scenarios.iter().find(|s| !known.contains(&s.as_str())) {
            Some(bad) => Err(format!(
                "unknown scenario '{bad}'; known: {}",
                known.join(",")
            )),
            None => Ok(Scenarios(scenarios)),
        }
    }
}

fn options() -> Result<Options, BoxError> {
    let args = CLI.parse();
    let scenarios = match args.opt::<Scenarios>("scenarios") {
        Some(list) => list.0,
        None => Scenarios::known().iter().map(|s| s.to_string()).collect(),
    };
    let server = match args.opt::<PathBuf>("server") {
        Some(p) => p,
        None => std::env::current_exe()?.with_file_name("echo_server"),
    };
    Ok(Options {
        // Bounded so that deadlines and the descriptor count cannot overflow.
        seconds: args.get_in("seconds", 0..=365 * 24 * 3600),
        peak: args.get_in("peak", 0..=1_000_000),
        tls: args.get::<TlsMode>("tls").0,
        server,
        seed: args.get_in("seed", 0..=u64::MAX),
        rss_growth_kib: args.get_in::<u64>("rss-growth-mib", 0..=1 << 30) * 1024,
        scenarios,
    })
}

fn mib(kib: u64) -> String {
    format!("{:.1} MiB", kib as f64 / 1024.0)
}

/// What was measured of one server: descriptors (count and names) and RSS in KiB.
#[derive(Default)]
struct Samples {
    idle_names: Vec<String>,
    idle_fds: usize,
    fds_start: usize,
    extra_start: Vec<String>,
    fds_end: usize,
    extra_end: Vec<String>,
    rss_start: u64,
    rss_peak: u64,
    rss_end: u64,
}

/// Prints one server's figures and adds what went wrong to `failures`.
fn report(
    target: &Target,
    server: &mut ServerProc,
    stats: &Stats,
    m: &Samples,
    opt: &Options,
    failures: &mut Vec<String>,
) {
    let name = target.name;
    let mut fail = |what: String| failures.push(format!("{name}: {what}"));
    common::say!(
        "== {name} server (pid {}, port {})",
        server.pid,
        server.port
    );
    let conns = stats.connections;
    common::say!("connections served   {conns} (warm-up included)");
    let bytes = stats.bytes_verified;
    common::say!("bytes verified       {bytes} ({})", mib(bytes / 1024));
    let runs: Vec<String> = stats.runs.iter().map(|(k, v)| format!("{k} {v}")).collect();
    common::say!("scenarios run        {}", runs.join(", "));
    common::say!(
        "peak waves           {} waves, at most {} of {} open at once (max live {}), slowest \
         wave {:.1} s",
        stats.waves,
        stats.wave_best,
        opt.peak,
        stats.max_live,
        stats.wave_slowest.as_secs_f64()
    );
    if stats.wave_best < opt.peak && opt.scenarios.iter().any(|s| s == "peak") {
        fail(format!("never {} connections open at once", opt.peak));
    }
    common::say!("corrupted bytes      on {} connections", stats.corrupt);
    stats
        .corrupt_examples
        .iter()
        .for_each(|e| common::say!("    {e}"));
    if stats.corrupt > 0 {
        fail(format!("corrupted echo on {} connections", stats.corrupt));
    }
    if stats.errors.is_empty() {
        common::say!("client errors        none");
    } else {
        stats
            .errors
            .iter()
            .for_each(|(k, v)| common::say!("client error         {v} x {k}"));
        fail(format!(
            "{} client-side errors",
            stats.errors.values().sum::<u64>()
        ));
    }
    let (io, timers) = stats.client_leftovers;
    common::say!("client loop at end   {io} I/O registrations, {timers} timers");
    if io > 0 || timers > 0 {
        fail(format!(
            "the client loop kept {io} sources, {timers} timers"
        ));
    }

    let (log_groups, panicked) = log_summary(&server.log);
    common::say!("server log entries   {}", log_groups.values().sum::<u64>());
    log_groups
        .iter()
        .for_each(|(k, v)| common::say!("    {v} x {k}"));
    if panicked {
        fail(format!("'panic' in {}", server.log.display()));
    }
    if let Ok(Some(status)) = server.child.try_wait() {
        fail(format!("echo_server exited early: {status}"));
    }
    let growth = m.rss_end.saturating_sub(m.rss_start);
    common::say!(
        "server RSS           after warm-up {}, end {}, highest {}; growth {} = {} B per \
         connection (bound {})",
        mib(m.rss_start),
        mib(m.rss_end),
        mib(m.rss_peak),
        mib(growth),
        growth * 1024 / conns.max(1),
        mib(opt.rss_growth_kib)
    );
    if growth > opt.rss_growth_kib {
        fail(format!("server RSS grew {}", mib(growth)));
    }
    common::say!(
        "server fds           idle {}, after warm-up {}, end {} (margin {FD_MARGIN})",
        m.idle_fds,
        m.fds_start,
        m.fds_end
    );
    for (when, fds, extra) in [
        ("after the warm-up", m.fds_start, &m.extra_start),
        ("at end", m.fds_end, &m.extra_end),
    ] {
        if !extra.is_empty() {
            common::say!("    open {when}, not when idle: {}", extra.join(", "));
        }
        if fds > m.idle_fds + FD_MARGIN {
            fail(format!(
                "server fds {fds} {when} > {} idle + {FD_MARGIN}",
                m.idle_fds
            ));
        }
    }
}

fn main() -> std::process::ExitCode {
    common::init_logging();
    CLI.finish(soak())
}

/// The pids of the running echo servers, for the signal handler to terminate.
static SERVER_PIDS: std::sync::Mutex<Vec<u32>> = std::sync::Mutex::new(Vec::new());

fn soak() -> Result<(), BoxError> {
    let opt = options()?;
    let dir = std::env::temp_dir().join(format!("asyncio-soak-{}", std::process::id()));
    std::fs::create_dir_all(&dir)?;
    // Ctrl-C or `kill`: the servers get SIGTERM (they close and exit 143), the temporary
    // directory goes, then exit 130 / 143.
    let tmp = dir.clone();
    common::exit_on_signal("soak stopped, servers terminated", move || {
        let pids = SERVER_PIDS
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .clone();
        for pid in pids {
            terminate(pid);
        }
        let _ = std::fs::remove_dir_all(&tmp);
    });

    let tls_files = match opt.tls.as_str() {
        "off" => None,
        "on" | "only" => Some(make_cert(&dir)?),
        "auto" if !cfg!(feature = "tls") => None,
        "auto" => make_cert(&dir)
            .inspect_err(|e| common::say_err!("soak: no TLS server ({e}); TCP only"))
            .ok(),
        other => return Err(format!("--tls {other:?}: auto, on, off or only").into()),
    };
    let names: &[&'static str] = match (&tls_files, opt.tls.as_str()) {
        (Some(_), "only") => &["tls"],
        (Some(_), _) => &["tcp", "tls"],
        (None, _) => &["tcp"],
    };
    let nofile = raise_nofile(names.len() as u64 * (opt.peak as u64 + 64) * 2 + 256)?;

    let (mut servers, mut targets, mut samples) = (Vec::new(), Vec::new(), Vec::new());
    for &name in names {
        let tls = tls_files.as_ref().filter(|_| name == "tls");
        let server = ServerProc::spawn(&opt.server, tls, dir.join(format!("{name}.log")))?;
        let client = match tls {
            Some((cert, _)) => Some(client_tls(cert)?),
            None => None,
        };
        let port = server.port;
        samples.push(Samples {
            idle_names: fd_list(server.pid),
            idle_fds: fd_count(server.pid)?,
            ..Samples::default()
        });
        targets.push(Target {
            name,
            port,
            tls: client,
        });
        servers.push(server);
    }
    common::say!(
        "soak: {} s after a {} s warm-up; servers {} ({}), loopback, peak {} per server, \
         RLIMIT_NOFILE {nofile}, seed {}",
        opt.seconds,
        WARMUP.as_secs(),
        opt.server.display(),
        names.join(" + "),
        opt.peak,
        opt.seed
    );

    let started = Instant::now();
    let client_fds_start = fd_count(std::process::id())?;
    let (warm, _) = run_phase(&targets, &servers, WARMUP, &opt, opt.seed ^ 0xAAAA)?;
    for (s, m) in servers.iter().zip(&mut samples) {
        m.fds_start = s.settle(m.idle_fds)?;
        m.extra_start = extra_fds(s.pid, &m.idle_names);
        m.rss_start = rss_kib(s.pid)?;
    }
    let soak_started = Instant::now();
    let duration = Duration::from_secs(opt.seconds);
    let (stats, rss_peak) = run_phase(&targets, &servers, duration, &opt, opt.seed)?;
    let soak_took = soak_started.elapsed();
    let client_fds_end = fd_count(std::process::id())?;
    for ((s, m), peak) in servers.iter().zip(&mut samples).zip(rss_peak) {
        m.fds_end = s.settle(m.idle_fds)?;
        m.extra_end = extra_fds(s.pid, &m.idle_names);
        m.rss_end = rss_kib(s.pid)?;
        m.rss_peak = peak;
    }

    let mut failures = Vec::new();
    for (i, (mut stats, warm)) in stats.into_iter().zip(warm).enumerate() {
        stats.merge(warm);
        report(
            &targets[i],
            &mut servers[i],
            &stats,
            &samples[i],
            &opt,
            &mut failures,
        );
    }
    common::say!("client fds           start {client_fds_start}, end {client_fds_end}");
    if client_fds_end > client_fds_start + FD_MARGIN {
        let ours = extra_fds(std::process::id(), &[]);
        let sockets: Vec<&String> = ours.iter().filter(|fd| fd.contains("socket:")).collect();
        common::say!("    {} sockets, e.g. {:?}", sockets.len(), sockets.first());
        failures.push(format!(
            "client fds {client_fds_end} at end > {client_fds_start} at start"
        ));
    }
    common::say!(
        "duration             {:.1} s soak ({:.1} s with warm-up and settling)",
        soak_took.as_secs_f64(),
        started.elapsed().as_secs_f64()
    );
    drop(servers); // stops them
    if failures.is_empty() {
        std::fs::remove_dir_all(&dir)?;
        common::say!("soak: PASS");
        return Ok(());
    }
    common::say!("soak: FAIL (server logs kept in {})", dir.display());
    failures.iter().for_each(|f| common::say!("  - {f}"));
    std::process::exit(1);
}
