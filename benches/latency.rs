//! Echo servers side by side (issue #6): ours on the streams layer and on the Protocol layer
//! against tokio current_thread, tokio multi_thread, blocking std thread-per-connection, a
//! minimal raw mio loop (the reactor's floor), and CPython asyncio / uvloop streams when
//! `python3` (and `uvloop`) are installed, all driven by one load generator.
//!
//! Run: `make bench` (this and the timers bench; 7–10 minutes on 2 busy vCPUs) or
//! `make bench-quick` (a smoke run, about 30 s): `cargo bench --bench latency [-- --quick]`, with
//! `--only streams,mio,…` (server ids) and `--phase same,cross,tput,tput-x,bulk,conn,cost,idle,
//! instr,clients,workers`. Writes `target/bench/report.md` (also printed) and `target/bench/latency.svg`.
//!
//! # What is measured
//! - **Ping-pong latency**: one connection, 64 B, 5 000 warm-up round trips then 100 000
//!   recorded (hdrhistogram, ns): p50, p90, p99, p99.9, max. Judged with client and server
//!   pinned to the same CPU (0); also reported across CPUs (server on 1; 20 000 round trips:
//!   there every round trip pays two cross-CPU wake-ups, ~100 µs on this VM).
//! - **Throughput**: 64 connections × 1 KiB, one message in flight per connection (write one on
//!   each, then read each echo), 0.3 s warm-up then 1.5 s; messages/s, p99, and the server's CPU
//!   time per message (schedstat). Same CPU (judged) and client on the other CPU.
//! - **Across cores** (`workers`): the throughput load against our streams echo served by
//!   `serve_on_threads` with 1 and with 2 workers, beside tokio multi_thread (2 workers); server
//!   and load generator unpinned (free on every CPU), so on a 2-CPU machine the load generator
//!   competes with the second worker: a figure of this machine, not of scaling in general.
//! - **Bulk**: 1 GiB written in 64 KiB chunks by one client thread while another reads the echo
//!   back, so the server's read → write → drain path carries it; MiB/s and server CPU ms/GiB.
//!   The client runs on the other CPU. (The Python servers get 256 MiB: they are ~10× slower.)
//! - **Connection rate**: connect, one 64 B echo, close, for 1 s; connections/s (same CPU).
//! - **Cost** (one run per server, same-CPU ping-pong, after warm-up): allocations per echoed
//!   message from the counting `#[global_allocator]` of this binary, which the server child
//!   reports over its stdin/stdout (also over 0.6 s of the 64-connection load); syscalls per
//!   echoed message with `perf stat -e raw_syscalls:sys_enter -p PID` (perf pinned to CPU 1)
//!   over 20 000 round trips; user-space bytes per idle connection: VmRSS (and live heap) of
//!   the server before and after opening 10 000 connections that each echo once (servers in
//!   their "lean" mode: no read buffer held while waiting, see `common/servers.rs`).
//!   RLIMIT_NOFILE is raised to the hard limit. Timer insert+cancel: `cargo bench --bench timers`.
//! - **Instructions** per echoed message under callgrind, the deterministic figure (method in
//!   `benches/instr.rs`, also run alone by `make bench-instr`): the five Rust servers whose
//!   count repeats, 2 000 and 12 000 round trips, one at a time; skipped where valgrind is
//!   missing.
//! - **Clients**: ping-pong against the blocking std server measured by the blocking load
//!   generator, by our client (`open_connection`, `write`/`drain`, `read_into`) and by a tokio
//!   current_thread client (50 000 round trips each, alternating, same CPU).
//!
//! # Method
//! Every server runs as a child process (this binary re-executed with `ASYNCIO_BENCH_SERVER`,
//! or a Python script) pinned with `sched_setaffinity`. The load generator is blocking std
//! sockets on a pinned thread of this process, the same code for every server, so the server is
//! what differs. A round starts every server afresh and interleaves them in slices (A B C … A
//! B C …: 10 000 round trips, a quarter of the throughput time, 256 MiB of bulk, 0.25 s of
//! connections per slice), so that a burst of noise on this shared machine hits all of them
//! alike; each figure is the median of 3 rounds (per percentile for latency), and ratios are
//! taken within this one run. Cost figures are one run per server, one server at a time.
//!
//! `--quick`: 1 round of 2 slices; 10 000 round trips (2 000 across CPUs), 0.5 s of throughput,
//! 64 MiB of bulk, 0.3 s of connections, 2 000 round trips under perf, 1 000 idle connections,
//! 1 000 and 3 000 round trips under callgrind.

mod common;

use std::collections::HashMap;
use std::time::Duration;

use common::loadgen::{self, Lat, PingPong, Sched, Throughput, Tput};
use common::report::{self, ClientRow, Meta, Row};
use common::servers::{self, Kind, ServerProc};
use common::{catch, instr, median, on_cpu};

#[global_allocator]
static GLOBAL: common::Counting = common::Counting;

struct Config {
    quick: bool,
    rounds: usize,
    slices: usize,
    warm: u64,
    n_same: u64,
    n_cross: u64,
    tput_warm: Duration,
    tput_dur: Duration,
    bulk_bytes: u64,
    conn_dur: Duration,
    idle_n: usize,
    cost_n: u64,
    /// Round trips of the short and the long callgrind run.
    instr_n: (u64, u64),
}

impl Config {
    fn new(quick: bool, nofile: u64) -> Config {
        let idle_n: usize = if quick { 1_000 } else { 10_000 };
        let ms = Duration::from_millis;
        Config {
            quick,
            rounds: if quick { 1 } else { 3 },
            slices: if quick { 2 } else { 4 },
            warm: if quick { 1_000 } else { 5_000 },
            n_same: if quick { 10_000 } else { 100_000 },
            n_cross: if quick { 2_000 } else { 20_000 },
            tput_warm: ms(if quick { 100 } else { 300 }),
            tput_dur: ms(if quick { 500 } else { 1_500 }),
            bulk_bytes: if quick { 64 << 20 } else { 1 << 30 },
            conn_dur: ms(if quick { 300 } else { 1_000 }),
            idle_n: idle_n.min(nofile.saturating_sub(200) as usize),
            cost_n: if quick { 2_000 } else { 20_000 },
            instr_n: if quick { instr::N_QUICK } else { instr::N },
        }
    }
}

const TPUT_CONNS: usize = 64;
const TPUT_SIZE: usize = 1024;

/// Everything measured for one server: one entry per round, or one-off cost figures.
#[derive(Default)]
struct Data {
    same: Vec<Lat>,
    cross: Vec<Lat>,
    tput: Vec<Tput>,
    tput_x: Vec<Tput>,
    /// (MiB/s, server CPU ms per GiB)
    bulk: Vec<(f64, f64)>,
    conn: Vec<f64>,
    allocs_1: Option<f64>,
    allocs_64: Option<f64>,
    syscalls: Option<Result<f64, String>>,
    /// Per idle connection: VmRSS growth, live heap growth (Rust servers).
    idle: Option<(f64, Option<f64>)>,
    errors: Vec<String>,
}

impl Data {
    fn row(&self, kind: Kind) -> Row {
        let med = |f: &dyn Fn(&Tput) -> f64, v: &[Tput]| median(v.iter().map(f).collect());
        Row {
            same: Lat::median_of(&self.same),
            cross: Lat::median_of(&self.cross),
            msgs_per_s: med(&|t| t.msgs_per_s, &self.tput),
            tput_p99_ns: med(&|t| t.p99_ns, &self.tput),
            tput_cpu_ns: med(&|t| t.server_cpu_ns, &self.tput),
            tput_preempted: med(&|t| t.server_preempted, &self.tput),
            msgs_per_s_x: med(&|t| t.msgs_per_s, &self.tput_x),
            tput_p99_ns_x: med(&|t| t.p99_ns, &self.tput_x),
            tput_cpu_ns_x: med(&|t| t.server_cpu_ns, &self.tput_x),
            bulk_mib_s: median(self.bulk.iter().map(|b| b.0).collect()),
            bulk_cpu_ms: median(self.bulk.iter().map(|b| b.1).collect()),
            conns_per_s: median(self.conn.clone()),
            allocs_1: self.allocs_1,
            allocs_64: self.allocs_64,
            syscalls: self.syscalls.clone().unwrap_or(Err("not measured".into())),
            idle_bytes: self.idle.map(|i| i.0),
            idle_heap: self.idle.and_then(|i| i.1),
            ..Row::empty(kind, None)
        }
    }
}

/// Starts `kind` on `cpu`, runs `f` against it, stops it; a panic or spawn failure is an `Err`.
fn with_server<T>(
    kind: Kind,
    cpu: usize,
    lean: bool,
    f: impl FnOnce(&mut ServerProc) -> T,
) -> Result<T, String> {
    let mut srv = ServerProc::spawn(kind, cpu, lean).map_err(|e| format!("spawn: {e}"))?;
    catch(|| f(&mut srv))
}

/// One workload: per round, every server is started on `scpu`, then driven from a thread on
/// `ccpu`: `init` each (connect, warm up), then `slices` × (`step` each in turn), then `finish`
/// each. `keep` files each server's result and says what to print.
#[allow(clippy::too_many_arguments)]
fn phase<S, T: Send>(
    name: &str,
    kinds: &[Kind],
    data: &mut HashMap<Kind, Data>,
    (rounds, slices): (usize, usize),
    (scpu, ccpu): (usize, usize),
    init: impl Fn(&ServerProc) -> S + Sync,
    step: impl Fn(&mut S, &ServerProc) + Sync,
    finish: impl Fn(&S) -> T + Sync,
    mut keep: impl FnMut(&mut Data, T) -> String,
) {
    for r in 0..rounds {
        let procs: Vec<Result<ServerProc, String>> = kinds
            .iter()
            .map(|&k| ServerProc::spawn(k, scpu, false).map_err(|e| format!("spawn: {e}")))
            .collect();
        let results: Vec<Result<T, String>> = on_cpu(ccpu, || {
            let mut st: Vec<Result<(S, &ServerProc), String>> = procs
                .iter()
                .map(|p| {
                    let p = p.as_ref().map_err(Clone::clone)?;
                    catch(|| init(p)).map(|s| (s, p))
                })
                .collect();
            for _ in 0..slices {
                for e in st.iter_mut() {
                    if let Ok((s, p)) = e {
                        if let Err(err) = catch(|| step(s, p)) {
                            *e = Err(err);
                        }
                    }
                }
            }
            st.into_iter().map(|e| e.map(|(s, _)| finish(&s))).collect()
        });
        drop(procs);
        for (&k, res) in kinds.iter().zip(results) {
            let d = data.get_mut(&k).expect("data");
            let msg = match res {
                Ok(v) => keep(d, v),
                Err(e) => {
                    d.errors.push(format!("{name}: {e}"));
                    format!("FAILED: {e}")
                }
            };
            eprintln!("[{name} {}/{rounds}] {:<10} {msg}", r + 1, k.id());
        }
    }
}

fn lat_msg(l: &Lat) -> String {
    let us = |q| l.at(q) / 1e3;
    format!(
        "p50 {:.1} µs  p99 {:.1} µs  max {:.0} µs",
        us(0.5),
        us(0.99),
        l.max / 1e3
    )
}

fn machine() -> String {
    let cpuinfo = std::fs::read_to_string("/proc/cpuinfo").unwrap_or_default();
    let model = cpuinfo
        .lines()
        .find(|l| l.starts_with("model name"))
        .and_then(|l| l.split(':').nth(1))
        .unwrap_or("?")
        .trim()
        .to_string();
    let kernel = std::fs::read_to_string("/proc/sys/kernel/osrelease").unwrap_or_default();
    let n = std::thread::available_parallelism().map_or(0, |n| n.get());
    format!("{n} CPUs ({model}), Linux {}", kernel.trim())
}

fn loadavg() -> String {
    let load = std::fs::read_to_string("/proc/loadavg").unwrap_or_default();
    load.split_whitespace()
        .take(3)
        .collect::<Vec<_>>()
        .join(" ")
}

fn main() {
    if let Ok(id) = std::env::var("ASYNCIO_BENCH_SERVER") {
        servers::child_main(&id);
        return;
    }
    let args: Vec<String> = std::env::args().skip(1).collect();
    let list = |flag: &str| -> Option<Vec<String>> {
        let i = args.iter().position(|a| a == flag)?;
        Some(args.get(i + 1)?.split(',').map(str::to_string).collect())
    };
    let (only, phases) = (list("--only"), list("--phase"));
    let want = |p: &str| phases.as_ref().is_none_or(|v| v.iter().any(|x| x == p));
    let nofile = common::raise_nofile();
    let cfg = Config::new(args.iter().any(|a| a == "--quick"), nofile);
    let ncpu = std::thread::available_parallelism().map_or(1, |n| n.get());
    let other = if ncpu > 1 { 1 } else { 0 };
    let load_start = loadavg();

    let mut missing: HashMap<Kind, String> = HashMap::new();
    let mut python = Vec::new();
    let kinds: Vec<Kind> = Kind::ALL
        .into_iter()
        .filter(|k| only.as_ref().is_none_or(|o| o.iter().any(|x| x == k.id())))
        .collect();
    for &k in kinds.iter().filter(|k| k.is_python()) {
        match servers::python_probe(k) {
            Ok(v) => python.push(format!("{}: {v}", k.id())),
            Err(e) => drop(missing.insert(k, e)),
        }
    }
    let live: Vec<Kind> = kinds
        .iter()
        .copied()
        .filter(|k| !missing.contains_key(k))
        .collect();
    let mut data: HashMap<Kind, Data> = live.iter().map(|&k| (k, Data::default())).collect();
    // The "workers" phase has servers of its own (Kind::WORKERS), kept apart from the table.
    let wkinds: Vec<Kind> = Kind::WORKERS
        .into_iter()
        .filter(|k| only.as_ref().is_none_or(|o| o.iter().any(|x| x == k.id())))
        .collect();
    let mut wdata: HashMap<Kind, Data> = wkinds.iter().map(|&k| (k, Data::default())).collect();
    let (r, sl) = (cfg.rounds, cfg.slices);

    for (key, name, scpu, n) in [
        ("same", "ping-pong same CPU", 0, cfg.n_same),
        ("cross", "ping-pong cross CPU", other, cfg.n_cross),
    ] {
        if want(key) {
            let slices = (n / 10_000).max(1);
            phase(
                name,
                &live,
                &mut data,
                (r, slices as usize),
                (scpu, 0),
                |p| PingPong::new(p.port, cfg.warm * n / cfg.n_same),
                |pp, _| pp.run(n / slices),
                |pp| pp.lat(),
                |d, l| {
                    let m = lat_msg(&l);
                    if key == "same" {
                        &mut d.same
                    } else {
                        &mut d.cross
                    }
                    .push(l);
                    m
                },
            );
        }
    }
    for (key, name, ccpu) in [
        ("tput", "throughput same CPU", 0),
        ("tput-x", "throughput cross CPU", other),
    ] {
        if want(key) {
            let pick = if key == "tput" { same_cpu } else { cross_cpu };
            tput_phase(name, &live, &mut data, (r, sl), (0, ccpu), &cfg, pick);
        }
    }
    if want("workers") && !wkinds.is_empty() {
        let cpus = (common::ANY_CPU, common::ANY_CPU);
        tput_phase(
            "throughput across cores",
            &wkinds,
            &mut wdata,
            (r, sl),
            cpus,
            &cfg,
            same_cpu,
        );
    }
    if want("bulk") {
        let per = cfg.bulk_bytes / sl as u64;
        phase(
            "bulk",
            &live,
            &mut data,
            (r, sl),
            (0, other),
            |_| (0u64, 0.0f64, 0u64),
            |acc, p| {
                // Python moves ~100 MiB/s here: a quarter of the bytes keeps the run short.
                let n = if p.kind.is_python() { per / 4 } else { per };
                let (secs, cpu) = loadgen::bulk(p.port, n, other, || p.cpu_ns().unwrap_or(0));
                *acc = (acc.0 + n, acc.1 + secs, acc.2 + cpu);
            },
            |&(bytes, secs, cpu)| {
                let mib = bytes as f64 / (1u64 << 20) as f64;
                (mib / secs, cpu as f64 / 1e6 / (mib / 1024.0))
            },
            |d, (rate, cpu)| {
                d.bulk.push((rate, cpu));
                format!("{rate:.0} MiB/s  server CPU {cpu:.0} ms/GiB")
            },
        );
    }
    if want("conn") {
        phase(
            "connections",
            &live,
            &mut data,
            (r, sl),
            (0, 0),
            |_| (0u64, 0.0f64),
            |acc, p| {
                let (n, secs) = loadgen::conn_rate(p.port, cfg.conn_dur / sl as u32);
                *acc = (acc.0 + n, acc.1 + secs);
            },
            |&(n, secs)| n as f64 / secs,
            |d, v| {
                d.conn.push(v);
                format!("{v:.0} conn/s")
            },
        );
    }
    for &k in live.iter().filter(|_| want("cost")) {
        let res = with_server(k, 0, false, |s| {
            let (a1, sys) = on_cpu(0, || {
                let mut c = loadgen::connect(s.port).expect("connect");
                loadgen::round_trips(&mut c, cfg.warm, None);
                let a0 = s.allocs();
                let ((), sys) = servers::count_syscalls(s.pid(), other, || {
                    loadgen::round_trips(&mut c, cfg.cost_n, None)
                });
                let a1 = s.allocs();
                (
                    per_msg(a0, a1, cfg.cost_n),
                    sys.map(|n| n as f64 / cfg.cost_n as f64),
                )
            });
            let a64 = on_cpu(other, || {
                let mut t = Throughput::new(s.port, TPUT_CONNS, TPUT_SIZE, cfg.tput_warm);
                let a0 = s.allocs();
                t.run(cfg.tput_warm * 2, Sched::default);
                per_msg(a0, s.allocs(), t.result().msgs)
            });
            (a1, a64, sys)
        });
        let d = data.get_mut(&k).expect("data");
        let msg = match res {
            Ok((a1, a64, sys)) => {
                (d.allocs_1, d.allocs_64) = (a1, a64);
                let sys_txt = sys
                    .as_ref()
                    .map_or_else(Clone::clone, |v| format!("{v:.2}"));
                d.syscalls = Some(sys);
                format!("allocs/msg {a1:?} (64 conns {a64:?}), syscalls/msg {sys_txt}")
            }
            Err(e) => {
                d.errors.push(format!("cost: {e}"));
                format!("FAILED: {e}")
            }
        };
        eprintln!("[cost] {:<10} {msg}", k.id());
    }
    for &k in live.iter().filter(|_| want("idle")) {
        let res = with_server(k, 0, true, |s| {
            on_cpu(other, || {
                let warm = loadgen::open_idle(s.port, 10);
                let settle = Duration::from_millis(if cfg.quick { 50 } else { 200 });
                std::thread::sleep(settle);
                let (rss0, heap0) = (s.rss_bytes(), s.counters());
                let conns = loadgen::open_idle(s.port, cfg.idle_n);
                std::thread::sleep(settle * 2);
                let (rss1, heap1) = (s.rss_bytes(), s.counters());
                drop((warm, conns));
                let n = cfg.idle_n as f64;
                let heap = heap0.zip(heap1).map(|(a, b)| (b.1 - a.1) as f64 / n);
                Some((rss1?.saturating_sub(rss0?) as f64 / n, heap))
            })
        });
        let d = data.get_mut(&k).expect("data");
        let msg = match res {
            Ok(Some((rss, heap))) => {
                d.idle = Some((rss, heap));
                let heap = heap.map_or("–".into(), |h| format!("{h:.0}"));
                format!("{rss:.0} B RSS, {heap} B heap per idle connection")
            }
            Ok(None) => "VmRSS unreadable".into(),
            Err(e) => {
                d.errors.push(format!("idle: {e}"));
                format!("FAILED: {e}")
            }
        };
        eprintln!("[idle {}] {:<10} {msg}", cfg.idle_n, k.id());
    }

    // Instructions per message under callgrind (method: benches/instr.rs).
    let instr = want("instr").then(|| {
        let res = instr::measure(&live, cfg.instr_n, instr::Load::Messages { conns: 1 });
        if let Err(why) = &res {
            eprintln!("[instr] skipped: {why}");
        }
        res
    });

    // Clients against the same blocking std server, alternating within each round.
    type Client = fn(u16, u64, u64) -> Lat;
    let clients: [(&str, Client); 3] = [
        ("blocking std (the load generator)", loadgen::pingpong),
        ("asyncio streams client (ours)", loadgen::client_asyncio),
        ("tokio current_thread client", loadgen::client_tokio),
    ];
    let mut client_runs: Vec<Vec<Lat>> = vec![Vec::new(); clients.len()];
    if want("clients") {
        let res = with_server(Kind::StdThreads, 0, false, |s| {
            for round in 0..r {
                for (i, (label, f)) in clients.iter().enumerate() {
                    let l = on_cpu(0, || f(s.port, cfg.warm, cfg.n_same / 2));
                    eprintln!("[clients {}/{r}] {label}: {}", round + 1, lat_msg(&l));
                    client_runs[i].push(l);
                }
            }
        });
        if let Err(e) = res {
            eprintln!("[clients] FAILED: {e}");
        }
    }
    let client_rows: Vec<ClientRow> = clients
        .iter()
        .zip(&client_runs)
        .filter(|(_, runs)| !runs.is_empty())
        .map(|((label, _), runs)| ClientRow {
            label,
            lat: Lat::median_of(runs),
        })
        .collect();

    let rows: Vec<Row> = kinds
        .iter()
        .map(|&k| match data.get(&k) {
            Some(d) if d.same.is_empty() && want("same") => {
                Row::empty(k, Some(d.errors.first().cloned().unwrap_or_default()))
            }
            Some(d) => d.row(k),
            None => Row::empty(k, missing.get(&k).cloned()),
        })
        .collect();
    let errors: Vec<String> = kinds
        .iter()
        .filter_map(|k| data.get(k).map(|d| (k, d)))
        .flat_map(|(k, d)| d.errors.iter().map(move |e| format!("- {}: {e}", k.id())))
        .collect();
    let method = format!(
        "{} round(s), each interleaving all servers in slices; medians over rounds. Ping-pong: \
         {} warm-up + {} recorded round trips with client and server on CPU 0; {} recorded with \
         the server on CPU {other}. Throughput: {TPUT_CONNS} × {TPUT_SIZE} B, {:?} warm-up + \
         {:?}, server on CPU 0, client on CPU 0 (same) or {other} (cross). Bulk: {} MiB, client \
         on CPU {other}. Connections: {:?}, same CPU. Cost: {} round trips under perf; {} idle \
         connections (RLIMIT_NOFILE {nofile}). Load average {load_start} at start, {} at end. \
         Python: {}.{}",
        cfg.rounds,
        cfg.warm,
        cfg.n_same,
        cfg.n_cross,
        cfg.tput_warm,
        cfg.tput_dur,
        cfg.bulk_bytes >> 20,
        cfg.conn_dur,
        cfg.cost_n,
        cfg.idle_n,
        loadavg(),
        if python.is_empty() {
            "none".into()
        } else {
            python.join(", ")
        },
        if errors.is_empty() {
            String::new()
        } else {
            format!("\n\nFailures:\n{}", errors.join("\n"))
        },
    );
    let meta = Meta {
        machine: machine(),
        method,
        command: format!("make {}", if cfg.quick { "bench-quick" } else { "bench" }),
    };
    let mut md = report::markdown(&rows, &client_rows, instr.as_ref(), &meta);
    md.push_str(&workers_table(&wkinds, &wdata, cfg.rounds));
    let title = format!(
        "64 B ping-pong, same CPU: round trip by percentile (median of {} run(s))",
        cfg.rounds
    );
    let dir = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("target/bench");
    std::fs::create_dir_all(&dir).expect("create target/bench");
    std::fs::write(dir.join("report.md"), &md).expect("write report.md");
    std::fs::write(dir.join("latency.svg"), report::svg(&rows, &title)).expect("write svg");
    println!(
        "{md}\nWritten: {0}/report.md, {0}/latency.svg",
        dir.display()
    );
}

/// The "workers" phase as a table of its own (empty when the phase did not run).
fn workers_table(kinds: &[Kind], data: &HashMap<Kind, Data>, rounds: usize) -> String {
    let ran: Vec<(Kind, &Data)> = kinds
        .iter()
        .filter_map(|k| Some((*k, data.get(k)?)))
        .filter(|(_, d)| !d.tput.is_empty() || !d.errors.is_empty())
        .collect();
    if ran.is_empty() {
        return String::new();
    }
    let mut md = format!(
        "\n## Throughput across cores\n\n{TPUT_CONNS} connections × {TPUT_SIZE} B, one message in \
         flight each; server and load generator unpinned (every CPU); median of {rounds} \
         round(s).\n\n| server | msg/s | p99 µs | server CPU µs/msg |\n|---|---:|---:|---:|\n"
    );
    for (k, d) in ran {
        if d.tput.is_empty() {
            md.push_str(&format!(
                "| {} | failed: {} | | |\n",
                k.label(),
                d.errors.join("; ")
            ));
            continue;
        }
        let row = d.row(k);
        md.push_str(&format!(
            "| {} | {:.0} | {:.1} | {:.2} |\n",
            k.label(),
            row.msgs_per_s,
            row.tput_p99_ns / 1e3,
            row.tput_cpu_ns / 1e3,
        ));
    }
    md
}

/// Where a throughput phase keeps its results.
fn same_cpu(d: &mut Data) -> &mut Vec<Tput> {
    &mut d.tput
}

fn cross_cpu(d: &mut Data) -> &mut Vec<Tput> {
    &mut d.tput_x
}

/// One throughput phase (64 connections, see [`Throughput`]): every server of `kinds` in
/// slices, results kept in `pick(data)`.
fn tput_phase(
    name: &str,
    kinds: &[Kind],
    data: &mut HashMap<Kind, Data>,
    rounds: (usize, usize),
    cpus: (usize, usize),
    cfg: &Config,
    pick: fn(&mut Data) -> &mut Vec<Tput>,
) {
    let slice = cfg.tput_dur / rounds.1 as u32;
    phase(
        name,
        kinds,
        data,
        rounds,
        cpus,
        |p| Throughput::new(p.port, TPUT_CONNS, TPUT_SIZE, cfg.tput_warm),
        |t, p| t.run(slice, || p.sched()),
        |t| t.result(),
        |d, t| {
            pick(d).push(t);
            let (rate, p99, cpu) = (t.msgs_per_s, t.p99_ns / 1e3, t.server_cpu_ns / 1e3);
            let pre = t.server_preempted * 100.0;
            format!(
                "{rate:.0} msg/s  p99 {p99:.1} µs  server CPU {cpu:.2} µs/msg  \
                 preempted {pre:.1}/100 msgs"
            )
        },
    );
}

fn per_msg(a0: Option<u64>, a1: Option<u64>, msgs: u64) -> Option<f64> {
    Some(a1?.checked_sub(a0?)? as f64 / msgs.max(1) as f64)
}
