//! Instructions per echoed message (issue #12): the Rust echo servers of `benches/latency.rs`
//! (ours on the streams layer and on the Protocol layer, tokio current_thread, the raw mio loop,
//! blocking std) each run under `valgrind --tool=callgrind`, and its count of instructions
//! executed (Ir) becomes instructions per 64 B message echoed. The same code given the same
//! messages gives the same count on every run, whatever else the machine is doing: this is
//! the figure to iterate on while shortening the hot path, where a latency difference of a few
//! per cent drowns in the noise of a shared VM.
//!
//! Run: `make bench-instr` (`cargo bench --bench instr [-- --quick] [--only streams,mio,…]
//! [--deadlines] [--conns N] [--connections]`; `--deadlines`: our streams server sets a read
//! and an idle timeout on each connection, never reached, to weigh deadlines that do not fire;
//! `--conns 64`: 64 connections, each round a message written on every one and then every
//! echo read, the load of the throughput phase of `make bench`, where one loop iteration
//! serves many messages and its fixed costs are shared; `--connections`: instructions per
//! connection instead of per message, the load of the connection-rate phase made sequential:
//! `N1` = 200 and `N2` = 1 200 connections one after the other (`--quick`: 100 and 300), each
//! a connect, one 64 B echo, the client's half close and the server's close, so that
//! accepting, setting up, tearing down and the one echo are what the difference counts),
//! about 5 s once built. `ASYNCIO_INSTR_KEEP=<dir>` keeps the callgrind files there
//! (`<server>-<rounds>.callgrind`) for `callgrind_annotate`, to see where the instructions go. Prints a Markdown table, instructions per message with ratios to tokio
//! current_thread (×ct) and to raw mio (×mio); `make bench` puts the same table in
//! `target/bench/report.md`. Where valgrind is missing it says so and exits 0.
//!
//! # Method
//! - **Why callgrind.** It runs the server on a simulated CPU and counts every instruction
//!   the process executes in user space, all its threads, glibc's syscall wrappers included.
//!   The count does not depend on timing, frequency, the other jobs or the hypervisor: three
//!   repeats here gave the same figure to the tenth of an instruction, and totals equal or a
//!   few hundred instructions apart in millions (tokio current_thread 620, blocking std 3:
//!   a connection thread's exit racing the process's). It does not see the kernel (count
//!   syscalls with perf: the cost phase of `make bench`), nor cache misses or branch
//!   mispredictions (not simulated by default): it measures the length of the path a message
//!   takes, not its latency, and a shorter path is what an edit to the hot path can be judged
//!   on in one run.
//! - **Why subtraction.** A run's total also holds the dynamic loader, the runtime's start-up,
//!   bind and listen, the accept, the connection's set-up and teardown, and exit: a few
//!   hundred thousand to millions of instructions, more than thousands of messages cost. Two
//!   runs that differ only in the number of round trips, `N1` and `N2`, differ only by
//!   `N2 − N1` messages, so `(Ir(N2) − Ir(N1)) / (N2 − N1)` is the steady-state cost of one
//!   message, everything else cancelled, with nothing in the servers to switch counting on and
//!   off (no `--toggle-collect`, no client requests).
//! - **A run.** The server is this binary re-executed with `ASYNCIO_BENCH_SERVER=<id>` (the
//!   child mechanism of `common/servers.rs`), under `valgrind -q --tool=callgrind
//!   --callgrind-out-file=<temp dir>/<id>-<n>.callgrind`, unpinned (valgrind runs one thread at
//!   a time anyway). It prints `PORT <n>`; the blocking std load generator of `latency.rs`,
//!   on a thread of this process (not under valgrind, not counted), connects and does `n`
//!   round trips of 64 B, then half-closes and waits for the server's close, so that every run
//!   serves its connection to the end. Then the child's stdin is closed, it exits, callgrind
//!   writes its file, and the `totals:` (older valgrind: `summary:`) line gives Ir. Servers
//!   run one at a time, each twice: `N1` = 2 000 and `N2` = 12 000 round trips (`--quick`:
//!   1 000 and 3 000).
//! - **Not counted**: tokio multi_thread (its workers park and wake each other as timing
//!   falls, so its total moves by about 1 % between identical runs) and the Python servers
//!   (that would count the interpreter).
//! - The server code and the counting allocator are those of `latency.rs`, so the two benches
//!   count the same code; the binaries differ, so a figure can differ by an instruction or two
//!   between them where the compiler inlined differently.

#[allow(dead_code)] // shared with benches/latency.rs, which uses all of it
mod common;

use std::time::Instant;

use common::servers::{self, Kind};
use common::{instr, report};

#[global_allocator]
static GLOBAL: common::Counting = common::Counting;

fn main() {
    if let Ok(id) = std::env::var("ASYNCIO_BENCH_SERVER") {
        servers::child_main(&id);
        return;
    }
    let start = Instant::now();
    let args: Vec<String> = std::env::args().skip(1).collect();
    let quick = args.iter().any(|a| a == "--quick");
    if args.iter().any(|a| a == "--deadlines") {
        // The servers are this binary re-executed: they inherit the variable.
        std::env::set_var("ASYNCIO_BENCH_DEADLINES", "1");
    }
    let only = args
        .iter()
        .position(|a| a == "--only")
        .and_then(|i| args.get(i + 1));
    let kinds: Vec<Kind> = instr::KINDS
        .into_iter()
        .filter(|k| only.is_none_or(|o| o.split(',').any(|x| x == k.id())))
        .collect();
    let conns = match args.iter().position(|a| a == "--conns") {
        None => 1,
        Some(i) => match args.get(i + 1).and_then(|v| v.parse::<usize>().ok()) {
            Some(c @ 1..=1000) => c,
            _ => {
                eprintln!("--conns takes a number of connections from 1 to 1000");
                std::process::exit(2);
            }
        },
    };
    let n = if quick { instr::N_QUICK } else { instr::N };
    // The same number of messages whatever the connections: rounds shrink as they grow.
    let n = if conns > 1 {
        ((n.0 / conns as u64).max(10), (n.1 / conns as u64).max(20))
    } else {
        n
    };
    let (n, load, title) = if args.iter().any(|a| a == "--connections") {
        let n = if quick {
            instr::N_CONNS_QUICK
        } else {
            instr::N_CONNS
        };
        (n, instr::Load::Connections, "connection served")
    } else {
        (n, instr::Load::Messages { conns }, "echoed message")
    };
    match instr::measure(&kinds, n, load) {
        Ok(run) => println!(
            "\n## Instructions per {title} (callgrind)\n\n{}\nWall time: {:.1} s.",
            report::instr_table(&run),
            start.elapsed().as_secs_f64()
        ),
        Err(why) => println!("bench-instr skipped: {why}"),
    }
}
