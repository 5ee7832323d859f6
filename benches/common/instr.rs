//! Instructions per echoed message, counted by callgrind: the mechanics shared by
//! `benches/instr.rs` (`make bench-instr`; its `//!` explains the method) and the `instr` phase
//! of `benches/latency.rs` (the table in `make bench`'s report).
//!
//! One count is one run: a fresh server child under callgrind, `conns` connections doing `n`
//! rounds of 64 B (a message written on every connection, then every echo read), a half close
//! answered by the server's close, stdin EOF, exit, and callgrind's total from its output
//! file. Two counts (`n.0` and `n.1` rounds) make one figure. With [`Load::Connections`] a run
//! is `n` connections instead, one after the other, each a connect, one 64 B echo, a half
//! close and the server's close: the figure is then instructions per connection.

use std::io::{self, Read, Write};
use std::net::Shutdown;
use std::path::{Path, PathBuf};
use std::process::Command;
use std::time::Duration;

use super::loadgen;
use super::servers::{Kind, ServerProc};

/// The servers counted: the Rust ones whose count repeats run after run. tokio multi_thread
/// is left out: its workers park and wake each other as timing falls, so its total moves by
/// about 1 % between identical runs.
pub const KINDS: [Kind; 5] = [
    Kind::Streams,
    Kind::Protocol,
    Kind::TokioCt,
    Kind::MioRaw,
    Kind::StdThreads,
];

/// Round trips of the short and of the long run.
pub const N: (u64, u64) = (2_000, 12_000);
/// The same for `--quick`: the figure is as exact (it is a count, not a sample), only the
/// few instructions that do differ between runs weigh more.
pub const N_QUICK: (u64, u64) = (1_000, 3_000);

/// Connections of the short and of the long run with [`Load::Connections`] (`instr
/// --connections` only: `latency.rs` counts messages).
#[allow(dead_code)]
pub const N_CONNS: (u64, u64) = (200, 1_200);
/// The same for `--quick`.
#[allow(dead_code)]
pub const N_CONNS_QUICK: (u64, u64) = (100, 300);

/// What a run repeats, `n` times: the unit of the figure.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Load {
    /// `conns` connections open for the whole run, `n` rounds of one 64 B message on each:
    /// instructions per echoed message.
    Messages { conns: usize },
    /// `n` connections one after the other, each a connect, one 64 B echo, a half close and
    /// the server's close: instructions per connection served (accept, set-up, the echo,
    /// teardown). `instr --connections` only.
    #[allow(dead_code)]
    Connections,
}

/// How long a child under callgrind may take to exit and write its counts.
const EXIT_LIMIT: Duration = Duration::from_secs(30);

/// One server's totals: instructions (Ir) of the short run and of the long run.
pub struct Count {
    pub kind: Kind,
    pub ir: Result<(u64, u64), String>,
}

/// A whole measurement, every server counted one after the other.
pub struct Instr {
    /// `valgrind --version`, for the report.
    pub valgrind: String,
    /// Rounds (or connections) of the short and of the long run. Invariant: `n.0 < n.1`.
    pub n: (u64, u64),
    pub load: Load,
    pub counts: Vec<Count>,
}

impl Instr {
    /// Instructions per echoed message (per connection with [`Load::Connections`]) from one
    /// server's two totals: their difference over the difference of the units served.
    pub fn per_msg(&self, (short, long): (u64, u64)) -> f64 {
        let per_round = match self.load {
            Load::Messages { conns } => conns as u64,
            Load::Connections => 1,
        };
        (long - short) as f64 / ((self.n.1 - self.n.0) * per_round) as f64
    }

    /// Instructions per unit of `kind`; `None` if it was not counted or failed.
    pub fn of(&self, kind: Kind) -> Option<f64> {
        let c = self.counts.iter().find(|c| c.kind == kind)?;
        Some(self.per_msg(*c.ir.as_ref().ok()?))
    }
}

/// valgrind's version if it runs here, or why not.
pub fn probe() -> Result<String, String> {
    let out = Command::new("valgrind")
        .arg("--version")
        .output()
        .map_err(|e| format!("valgrind not found ({e})"))?;
    if !out.status.success() {
        return Err(format!("`valgrind --version` failed: {}", out.status));
    }
    Ok(String::from_utf8_lossy(&out.stdout).trim().to_string())
}

/// Counts each of `kinds` that is in [`KINDS`], one at a time, with `n.0` and `n.1` rounds
/// (or connections) of `load`, printing each server's figure to stderr as it comes. `Err`:
/// valgrind cannot run here.
pub fn measure(kinds: &[Kind], n: (u64, u64), load: Load) -> Result<Instr, String> {
    assert!(
        n.0 < n.1,
        "the long run ({}) must be longer than the short ({})",
        n.1,
        n.0
    );
    let load = match load {
        Load::Messages { conns } => Load::Messages {
            conns: conns.max(1),
        },
        l => l,
    };
    let mut instr = Instr {
        valgrind: probe()?,
        n,
        load,
        counts: Vec::new(),
    };
    let dir = TempDir::new().map_err(|e| format!("temp dir: {e}"))?;
    for &kind in kinds.iter().filter(|k| KINDS.contains(k)) {
        let ir = total(kind, n.0, load, &dir.0).and_then(|short| {
            let long = total(kind, n.1, load, &dir.0)?;
            if long > short {
                Ok((short, long))
            } else {
                Err(format!("Ir {long} at {} rounds ≤ {short} at {}", n.1, n.0))
            }
        });
        let unit = match load {
            Load::Messages { .. } => "msg",
            Load::Connections => "conn",
        };
        let msg = match ir {
            Ok(ir) => format!(
                "{:.1} instructions/{unit} (Ir {} → {})",
                instr.per_msg(ir),
                ir.0,
                ir.1
            ),
            Err(ref e) => format!("FAILED: {e}"),
        };
        eprintln!("[instr] {:<10} {msg}", kind.id());
        instr.counts.push(Count { kind, ir });
    }
    Ok(instr)
}

/// Instructions callgrind counted in one run of `kind` serving `n` rounds (or connections) of
/// `load`, from start to exit, all of the server's threads.
fn total(kind: Kind, n: u64, load: Load, dir: &Path) -> Result<u64, String> {
    let out = dir.join(format!("{}-{n}.callgrind", kind.id()));
    let srv = ServerProc::spawn_callgrind(kind, &out).map_err(|e| format!("valgrind: {e}"))?;
    let run = || match load {
        Load::Messages { conns } => rounds(srv.port, n, conns),
        Load::Connections => connections(srv.port, n),
    };
    super::catch(run)?.map_err(|e| format!("client: {e}"))?;
    srv.stop(EXIT_LIMIT).map_err(|e| format!("exit: {e}"))?;
    read_total(&out)
}

/// `n` rounds of 64 B on `conns` fresh connections (one: plain round trips; more: a message
/// written on each, then each echo read, as the throughput phase does), then a half close on
/// each; returns once the server has closed every one too, so that every run has served its
/// connections to the end.
fn rounds(port: u16, n: u64, conns: usize) -> io::Result<()> {
    let mut socks = (0..conns)
        .map(|_| loadgen::connect(port))
        .collect::<io::Result<Vec<_>>>()?;
    if let [s] = &mut socks[..] {
        loadgen::round_trips(s, n, None);
    } else {
        let (out, mut back) = ([0x5au8; loadgen::MSG], [0u8; loadgen::MSG]);
        for _ in 0..n {
            for s in &mut socks {
                s.write_all(&out)?;
            }
            for s in &mut socks {
                s.read_exact(&mut back)?;
            }
        }
    }
    for s in &mut socks {
        s.shutdown(Shutdown::Write)?;
        if s.read(&mut [0u8; 1])? != 0 {
            return Err(io::Error::other("data after the last echo"));
        }
    }
    Ok(())
}

/// `n` connections one after the other: connect, one 64 B round trip, half close, and wait
/// for the server's close, so that the server has served each one to the end before the
/// next arrives (the same work in every run, whatever the timing).
fn connections(port: u16, n: u64) -> io::Result<()> {
    for _ in 0..n {
        let mut s = loadgen::connect(port)?;
        let (out, mut back) = ([0x5au8; loadgen::MSG], [0u8; loadgen::MSG]);
        s.write_all(&out)?;
        s.read_exact(&mut back)?;
        s.shutdown(Shutdown::Write)?;
        if s.read(&mut [0u8; 1])? != 0 {
            return Err(io::Error::other("data after the echo"));
        }
    }
    Ok(())
}

/// The total Ir of a callgrind output file: its `totals:` line (or `summary:`, the older name).
/// With callgrind's default options Ir is the only event, so the first number is it.
fn read_total(path: &Path) -> Result<u64, String> {
    let text = std::fs::read_to_string(path).map_err(|e| format!("{}: {e}", path.display()))?;
    let line = |key: &str| text.lines().find_map(|l| l.strip_prefix(key));
    line("totals:")
        .or_else(|| line("summary:"))
        .and_then(|rest| rest.split_whitespace().next()?.parse().ok())
        .ok_or_else(|| format!("{}: no totals: or summary: line", path.display()))
}

/// Where the callgrind files go: a directory of our own under the system temp dir, removed
/// with its files when dropped; or, when `ASYNCIO_INSTR_KEEP` names a directory, that one,
/// kept, so that `callgrind_annotate <dir>/streams-12000.callgrind` can show where a
/// message's instructions go.
struct TempDir(PathBuf, bool);

impl TempDir {
    fn new() -> io::Result<TempDir> {
        let (dir, keep) = match std::env::var_os("ASYNCIO_INSTR_KEEP") {
            Some(d) => (PathBuf::from(d), true),
            None => {
                let tmp = std::env::temp_dir();
                (
                    tmp.join(format!("asyncio-instr-{}", std::process::id())),
                    false,
                )
            }
        };
        std::fs::create_dir_all(&dir)?;
        Ok(TempDir(dir, keep))
    }
}

impl Drop for TempDir {
    fn drop(&mut self) {
        if !self.1 {
            let _ = std::fs::remove_dir_all(&self.0);
        }
    }
}
