//! The report: one summary table with ratios to tokio current_thread and to raw mio, the
//! callgrind table (instructions per message), detail tables, the targets of issue #6 /
//! DESIGN.md checked, and the SVG percentile plot.

use std::fmt::Write as _;

use super::instr::{Instr, Load};
use super::loadgen::{Lat, QS};
use super::servers::Kind;

/// Medians over the rounds of one server, plus its one-off cost figures.
pub struct Row {
    pub kind: Kind,
    /// Why the server was not measured (or failed), if so.
    pub missing: Option<String>,
    pub same: Lat,
    pub cross: Lat,
    pub msgs_per_s: f64,
    pub tput_p99_ns: f64,
    /// Throughput with the client on the other CPU.
    pub msgs_per_s_x: f64,
    pub tput_p99_ns_x: f64,
    pub bulk_mib_s: f64,
    /// Server CPU time: ms per GiB of bulk, ns per throughput message (same / cross CPU).
    pub bulk_cpu_ms: f64,
    pub tput_cpu_ns: f64,
    pub tput_cpu_ns_x: f64,
    /// Server preemptions per message, same CPU throughput.
    pub tput_preempted: f64,
    pub conns_per_s: f64,
    /// Allocations per echoed message: 1 connection ping-pong, and 64 connections.
    pub allocs_1: Option<f64>,
    pub allocs_64: Option<f64>,
    pub syscalls: Result<f64, String>,
    pub idle_bytes: Option<f64>,
    /// Live heap bytes per idle connection (Rust servers).
    pub idle_heap: Option<f64>,
}

impl Row {
    /// A row with nothing measured (yet).
    pub fn empty(kind: Kind, missing: Option<String>) -> Row {
        Row {
            kind,
            missing,
            same: Lat::default(),
            cross: Lat::default(),
            msgs_per_s: f64::NAN,
            tput_p99_ns: f64::NAN,
            msgs_per_s_x: f64::NAN,
            tput_p99_ns_x: f64::NAN,
            bulk_mib_s: f64::NAN,
            bulk_cpu_ms: f64::NAN,
            tput_cpu_ns: f64::NAN,
            tput_cpu_ns_x: f64::NAN,
            tput_preempted: f64::NAN,
            conns_per_s: f64::NAN,
            allocs_1: None,
            allocs_64: None,
            syscalls: Err("not measured".into()),
            idle_bytes: None,
            idle_heap: None,
        }
    }
}

pub struct ClientRow {
    pub label: &'static str,
    pub lat: Lat,
}

/// What the run was: shown under the tables.
pub struct Meta {
    pub machine: String,
    pub method: String,
    pub command: String,
}

fn find(rows: &[Row], k: Kind) -> Option<&Row> {
    rows.iter().find(|r| r.kind == k && r.missing.is_none())
}

fn num(v: f64) -> String {
    if v.is_nan() {
        "–".into()
    } else if v >= 100.0 {
        format!("{v:.0}")
    } else if v >= 10.0 {
        format!("{v:.1}")
    } else {
        format!("{v:.2}")
    }
}

fn us(ns: f64) -> String {
    num(ns / 1000.0)
}

/// A per-message rate as per 100 messages, one decimal.
fn per100(v: f64) -> String {
    if v.is_nan() {
        "–".into()
    } else {
        format!("{:.1}", v * 100.0)
    }
}

fn ratio(v: f64, base: Option<f64>) -> String {
    match base {
        Some(b) if b > 0.0 && !v.is_nan() && !b.is_nan() => format!("{:.2}", v / b),
        _ => "–".into(),
    }
}

fn opt(v: Option<f64>, digits: usize) -> String {
    v.map_or("–".into(), |v| format!("{v:.digits$}"))
}

/// The whole Markdown report.
pub fn markdown(
    rows: &[Row],
    clients: &[ClientRow],
    instr: Option<&Result<Instr, String>>,
    meta: &Meta,
) -> String {
    let ct = find(rows, Kind::TokioCt);
    let mio = find(rows, Kind::MioRaw);
    let std = find(rows, Kind::StdThreads);
    let mut o = String::new();
    let _ = writeln!(o, "# Echo server benchmarks (`benches/latency.rs`)\n");
    let _ = writeln!(
        o,
        "Ratios: ×ct = value / tokio current_thread, ×mio = value / raw mio loop, ×std = value / \
         blocking std (lower is better for latency, higher for rates). Ping-pong (64 B, one \
         connection), throughput (64 connections × 1 KiB) and connection rate with client and \
         server pinned to the same CPU; bulk with the client on the other CPU.\n"
    );
    let _ = writeln!(
        o,
        "| server | p50 µs | ×ct | ×mio | p99 µs | ×ct | ×mio | msg/s (64 conns) | ×ct | ×mio \
         | bulk MiB/s | ×std | conn/s | ×ct | allocs/msg (1 / 64 conns) | syscalls/msg | B/idle conn (RSS / heap) |"
    );
    let _ = writeln!(o, "|{}", "---|".repeat(17));
    for r in rows {
        if let Some(why) = &r.missing {
            let _ = writeln!(
                o,
                "| {} | not available: {why} |{}",
                r.kind.label(),
                " |".repeat(15)
            );
            continue;
        }
        let (p50, p99) = (r.same.at(0.5), r.same.at(0.99));
        let sys = match &r.syscalls {
            Ok(v) => format!("{v:.2}"),
            Err(_) => "n/a".into(),
        };
        let _ = writeln!(
            o,
            "| {} | {} | {} | {} | {} | {} | {} | {} | {} | {} | {} | {} | {} | {} | {} / {} | {} | {} / {} |",
            r.kind.label(),
            us(p50),
            ratio(p50, ct.map(|c| c.same.at(0.5))),
            ratio(p50, mio.map(|c| c.same.at(0.5))),
            us(p99),
            ratio(p99, ct.map(|c| c.same.at(0.99))),
            ratio(p99, mio.map(|c| c.same.at(0.99))),
            num(r.msgs_per_s),
            ratio(r.msgs_per_s, ct.map(|c| c.msgs_per_s)),
            ratio(r.msgs_per_s, mio.map(|c| c.msgs_per_s)),
            num(r.bulk_mib_s),
            ratio(r.bulk_mib_s, std.map(|c| c.bulk_mib_s)),
            num(r.conns_per_s),
            ratio(r.conns_per_s, ct.map(|c| c.conns_per_s)),
            opt(r.allocs_1, 3),
            opt(r.allocs_64, 3),
            sys,
            opt(r.idle_bytes, 0),
            opt(r.idle_heap, 0),
        );
    }
    let perf_errs: Vec<&String> = rows
        .iter()
        .filter_map(|r| r.syscalls.as_ref().err())
        .collect();
    if let Some(e) = perf_errs.first() {
        let _ = writeln!(o, "\nsyscalls n/a: {e}");
    }
    if let Some(instr) = instr {
        let _ = writeln!(o, "\n## Instructions per echoed message (callgrind)\n");
        match instr {
            Ok(run) => o.push_str(&instr_table(run)),
            Err(why) => {
                let _ = writeln!(o, "Skipped: {why}.");
            }
        }
    }

    let _ = writeln!(
        o,
        "\n## Latency percentiles, µs (64 B ping-pong, 1 connection)\n"
    );
    let _ = writeln!(
        o,
        "| server | same CPU p50 | p90 | p99 | p99.9 | max | cross CPU p50 | p90 | p99 | p99.9 | max |"
    );
    let _ = writeln!(o, "|{}", "---|".repeat(11));
    for r in rows.iter().filter(|r| r.missing.is_none()) {
        let l = |x: &Lat| {
            format!(
                "{} | {} | {} | {} | {}",
                us(x.at(0.5)),
                us(x.at(0.9)),
                us(x.at(0.99)),
                us(x.at(0.999)),
                us(x.max)
            )
        };
        let _ = writeln!(
            o,
            "| {} | {} | {} |",
            r.kind.label(),
            l(&r.same),
            l(&r.cross)
        );
    }

    let _ = writeln!(
        o,
        "\n## Throughput, 64 connections × 1 KiB\n\n\
         Server CPU is the server's CPU time per message (all its threads, from \
         /proc/PID/task/*/schedstat): less sensitive to a noisy machine than the rate. \
         Preempted: times per 100 messages the server lost the CPU without waiting \
         (nonvoluntary_ctxt_switches), same CPU; mostly to the load generator, woken by an echo \
         it was blocked on. Each costs two context switches and a smaller batch, so the rate \
         falls faster than the server's own CPU time rises.\n\n\
         | server | same CPU msg/s | ×ct | ×mio | p99 µs | server CPU µs/msg | ×ct | preempted /100 msgs \
         | cross CPU msg/s | ×ct | ×mio | p99 µs | server CPU µs/msg | ×ct |\n\
         |---|---|---|---|---|---|---|---|---|---|---|---|---|---|"
    );
    for r in rows.iter().filter(|r| r.missing.is_none()) {
        let _ = writeln!(
            o,
            "| {} | {} | {} | {} | {} | {} | {} | {} | {} | {} | {} | {} | {} | {} |",
            r.kind.label(),
            num(r.msgs_per_s),
            ratio(r.msgs_per_s, ct.map(|c| c.msgs_per_s)),
            ratio(r.msgs_per_s, mio.map(|c| c.msgs_per_s)),
            us(r.tput_p99_ns),
            us(r.tput_cpu_ns),
            ratio(r.tput_cpu_ns, ct.map(|c| c.tput_cpu_ns)),
            per100(r.tput_preempted),
            num(r.msgs_per_s_x),
            ratio(r.msgs_per_s_x, ct.map(|c| c.msgs_per_s_x)),
            ratio(r.msgs_per_s_x, mio.map(|c| c.msgs_per_s_x)),
            us(r.tput_p99_ns_x),
            us(r.tput_cpu_ns_x),
            ratio(r.tput_cpu_ns_x, ct.map(|c| c.tput_cpu_ns_x)),
        );
    }

    let _ = writeln!(
        o,
        "\n## Bulk: the client streams data in and reads the echo back (client on the other CPU)\n\n\
         | server | MiB/s | ×std | ×ct | server CPU ms/GiB | ×std |\n|---|---|---|---|---|---|"
    );
    for r in rows.iter().filter(|r| r.missing.is_none()) {
        let _ = writeln!(
            o,
            "| {} | {} | {} | {} | {} | {} |",
            r.kind.label(),
            num(r.bulk_mib_s),
            ratio(r.bulk_mib_s, std.map(|c| c.bulk_mib_s)),
            ratio(r.bulk_mib_s, ct.map(|c| c.bulk_mib_s)),
            num(r.bulk_cpu_ms),
            ratio(r.bulk_cpu_ms, std.map(|c| c.bulk_cpu_ms)),
        );
    }

    if !clients.is_empty() {
        let base = clients
            .iter()
            .find(|c| c.label.starts_with("tokio"))
            .map(|c| &c.lat);
        let _ = writeln!(
            o,
            "\n## Clients: ping-pong against the blocking std server (same CPU)\n\n\
             | client | p50 µs | p99 µs | p99.9 µs | p50 ×tokio | p99 ×tokio |\n|---|---|---|---|---|---|"
        );
        for c in clients {
            let _ = writeln!(
                o,
                "| {} | {} | {} | {} | {} | {} |",
                c.label,
                us(c.lat.at(0.5)),
                us(c.lat.at(0.99)),
                us(c.lat.at(0.999)),
                ratio(c.lat.at(0.5), base.map(|b| b.at(0.5))),
                ratio(c.lat.at(0.99), base.map(|b| b.at(0.99))),
            );
        }
    }

    let _ = writeln!(
        o,
        "\n## Targets (DESIGN.md \"Performance targets\", issue #6)\n"
    );
    let _ = writeln!(
        o,
        "| target | asyncio streams | asyncio Protocol |\n|---|---|---|"
    );
    for (name, check) in targets() {
        let cell = |k: Kind| match find(rows, k) {
            Some(r) => check(r, ct, mio, std),
            None => "not measured".into(),
        };
        let _ = writeln!(
            o,
            "| {name} | {} | {} |",
            cell(Kind::Streams),
            cell(Kind::Protocol)
        );
    }
    let _ = writeln!(
        o,
        "| timer wheel insert+cancel < 50 ns | see `cargo bench --bench timers` (run first by `make bench`) | |"
    );

    let _ = writeln!(
        o,
        "\n## Machine and method\n\n{}\n\n{}\n\nCommand: `{}`",
        meta.machine, meta.method, meta.command
    );
    o
}

/// The callgrind table (`common/instr.rs`): instructions per echoed message with ratios to
/// tokio current_thread and to raw mio, both totals, and how they were taken.
pub fn instr_table(instr: &Instr) -> String {
    let (ct, mio) = (instr.of(Kind::TokioCt), instr.of(Kind::MioRaw));
    let (n1, n2) = instr.n;
    // Column unit, the load in words, the figure's unit, units in the difference, and what
    // cancels out in it.
    let (unit, load, per, units, cancelled) = match instr.load {
        Load::Messages { conns } => (
            if conns == 1 { "round trips" } else { "rounds" },
            match conns {
                1 => "one connection".to_string(),
                c => format!("{c} connections, one message each per round"),
            },
            "msg",
            (n2 - n1) * conns as u64,
            "64 B message echoed; start-up, set-up and exit cancel out",
        ),
        Load::Connections => (
            "connections",
            "connections one after the other, each a connect, one 64 B echo, the client's \
             half close and the server's close"
                .to_string(),
            "conn",
            n2 - n1,
            "connection served; start-up and exit cancel out",
        ),
    };
    let mut o = String::new();
    let _ = writeln!(
        o,
        "| server | instructions/{per} | ×ct | ×mio | Ir, {n1} {unit} | Ir, {n2} {unit} |\n\
         |---|---|---|---|---|---|"
    );
    for c in &instr.counts {
        let cells = match c.ir {
            Ok(ir) => {
                let v = instr.per_msg(ir);
                format!(
                    "{v:.1} | {} | {} | {} | {}",
                    ratio(v, ct),
                    ratio(v, mio),
                    ir.0,
                    ir.1
                )
            }
            Err(ref e) => format!("failed: {e} | | | |"),
        };
        let _ = writeln!(o, "| {} | {cells} |", c.kind.label());
    }
    let _ = writeln!(
        o,
        "\n{}, `--tool=callgrind`, one fresh server per run, {load}: (Ir({n2}) − Ir({n1})) / {}, \
         the server's user-space instructions (all threads) per {cancelled}. Method: \
         `benches/instr.rs`.",
        instr.valgrind, units
    );
    o
}

type Check = fn(&Row, Option<&Row>, Option<&Row>, Option<&Row>) -> String;

/// `met`/`MISSED` with the measured figure; `limit` is the bound the figure must satisfy.
fn verdict(v: f64, ok: bool, what: &str) -> String {
    if v.is_nan() {
        return "–".into();
    }
    format!("{} ({what})", if ok { "met" } else { "**MISSED**" })
}

fn lat_ratio(r: &Row, base: Option<&Row>, q: f64, max: f64, strict: bool) -> String {
    let Some(b) = base else {
        return "no baseline".into();
    };
    let x = r.same.at(q) / b.same.at(q);
    let ok = if strict { x < max } else { x <= max };
    verdict(x, ok, &format!("{x:.3}×"))
}

fn targets() -> Vec<(&'static str, Check)> {
    vec![
        ("ping-pong p50 ≤ 1.05 × raw mio", |r, _, mio, _| {
            lat_ratio(r, mio, 0.5, 1.05, false)
        }),
        ("ping-pong p50 < tokio current_thread", |r, ct, _, _| {
            lat_ratio(r, ct, 0.5, 1.0, true)
        }),
        ("ping-pong p99 < tokio current_thread", |r, ct, _, _| {
            lat_ratio(r, ct, 0.99, 1.0, true)
        }),
        (
            "throughput ≥ 1.1 × tokio current_thread (same CPU)",
            |r, ct, _, _| match ct {
                Some(c) => {
                    let x = r.msgs_per_s / c.msgs_per_s;
                    verdict(x, x >= 1.1, &format!("{x:.3}×"))
                }
                None => "no baseline".into(),
            },
        ),
        (
            "throughput ≥ 1.1 × tokio current_thread (client on the other CPU)",
            |r, ct, _, _| match ct {
                Some(c) => {
                    let x = r.msgs_per_s_x / c.msgs_per_s_x;
                    verdict(x, x >= 1.1, &format!("{x:.3}×"))
                }
                None => "no baseline".into(),
            },
        ),
        ("bulk ≥ 0.9 × blocking std", |r, _, _, std| match std {
            Some(s) => {
                let x = r.bulk_mib_s / s.bulk_mib_s;
                verdict(x, x >= 0.9, &format!("{x:.3}×"))
            }
            None => "no baseline".into(),
        }),
        (
            "0 allocations per steady-state message",
            |r, _, _, _| match (r.allocs_1, r.allocs_64) {
                (Some(a), Some(b)) => verdict(a, a == 0.0 && b == 0.0, &format!("{a:.3} / {b:.3}")),
                _ => "–".into(),
            },
        ),
        ("≤ 3 syscalls per echoed message", |r, _, _, _| {
            match &r.syscalls {
                Ok(v) => verdict(*v, *v <= 3.05, &format!("{v:.2}")),
                Err(e) => format!("not measured: {e}"),
            }
        }),
        (
            "idle connection ≤ 1 KiB (streams), ≤ 512 B (Protocol), user space",
            |r, _, _, _| match r.idle_bytes {
                Some(b) => {
                    let bound = if matches!(r.kind, Kind::Protocol) {
                        512.0
                    } else {
                        1024.0
                    };
                    verdict(b, b <= bound, &format!("{b:.0} B"))
                }
                None => "–".into(),
            },
        ),
    ]
}

const COLORS: [&str; 8] = [
    "#d62728", "#ff7f0e", "#1f77b4", "#17becf", "#7f7f7f", "#2ca02c", "#9467bd", "#8c564b",
];

/// Latency by percentile, one line per server: x is log(1 / (1 - q)), y is log µs.
pub fn svg(rows: &[Row], title: &str) -> String {
    let (w, h, left, right, top, bottom) = (880.0, 430.0, 60.0, 320.0, 40.0, 50.0);
    let pw = w - left - right;
    let ph = h - top - bottom;
    let live: Vec<&Row> = rows.iter().filter(|r| r.missing.is_none()).collect();
    let all: Vec<f64> = live
        .iter()
        .flat_map(|r| r.same.q.iter().map(|ns| ns / 1000.0))
        .filter(|v| v.is_finite() && *v > 0.0)
        .collect();
    let lo = all.iter().cloned().fold(f64::INFINITY, f64::min).max(0.1);
    let hi = all.iter().cloned().fold(0.0, f64::max).max(lo * 2.0);
    let (ylo, yhi) = (lo.log10().floor(), hi.log10().ceil());
    let xmax = (1.0f64 / (1.0 - QS[QS.len() - 1])).log10();
    let xmin = (1.0f64 / (1.0 - QS[0])).log10();
    let x = |q: f64| left + ((1.0 / (1.0 - q)).log10() - xmin) / (xmax - xmin) * pw;
    let y = |v: f64| top + ph - (v.log10() - ylo) / (yhi - ylo) * ph;
    let mut s = String::new();
    let _ = writeln!(
        s,
        r#"<svg xmlns="http://www.w3.org/2000/svg" width="{w}" height="{h}" font-family="sans-serif" font-size="12">"#
    );
    let _ = writeln!(s, r#"<rect width="{w}" height="{h}" fill="white"/>"#);
    let _ = writeln!(
        s,
        r#"<text x="{left}" y="22" font-size="14">{title}</text>"#
    );
    // Y grid: 1-2-5 per decade.
    let mut d = ylo;
    while d < yhi + 1e-9 {
        for m in [1.0, 2.0, 5.0] {
            let v = m * 10f64.powf(d);
            if v.log10() > yhi + 1e-9 {
                continue;
            }
            let yy = y(v);
            let _ = writeln!(
                s,
                r##"<line x1="{left}" x2="{:.1}" y1="{yy:.1}" y2="{yy:.1}" stroke="#ddd"/><text x="{:.1}" y="{:.1}" text-anchor="end">{}</text>"##,
                left + pw,
                left - 6.0,
                yy + 4.0,
                if v >= 1.0 {
                    format!("{v:.0}")
                } else {
                    format!("{v}")
                }
            );
        }
        d += 1.0;
    }
    for &q in QS.iter() {
        let xx = x(q);
        let label = format!("p{}", (q * 100.0 * 100.0).round() / 100.0);
        let _ = writeln!(
            s,
            r##"<line x1="{xx:.1}" x2="{xx:.1}" y1="{top}" y2="{:.1}" stroke="#eee"/><text x="{xx:.1}" y="{:.1}" text-anchor="middle" font-size="10">{label}</text>"##,
            top + ph,
            top + ph + 16.0
        );
    }
    let _ = writeln!(
        s,
        r##"<rect x="{left}" y="{top}" width="{pw}" height="{ph}" fill="none" stroke="#333"/><text x="{:.1}" y="{:.1}" text-anchor="middle">percentile</text><text x="16" y="{:.1}" transform="rotate(-90 16 {:.1})" text-anchor="middle">round trip, µs (log)</text>"##,
        left + pw / 2.0,
        h - 12.0,
        top + ph / 2.0,
        top + ph / 2.0
    );
    for (i, r) in live.iter().enumerate() {
        let c = COLORS[i % COLORS.len()];
        let pts: Vec<String> = QS
            .iter()
            .zip(&r.same.q)
            .map(|(&q, ns)| format!("{:.1},{:.1}", x(q), y((ns / 1000.0).max(lo))))
            .collect();
        let _ = writeln!(
            s,
            r#"<polyline points="{}" fill="none" stroke="{c}" stroke-width="2"/>"#,
            pts.join(" ")
        );
        let ly = top + 10.0 + i as f64 * 18.0;
        let lx = left + pw + 12.0;
        let _ = writeln!(
            s,
            r#"<line x1="{lx}" x2="{:.1}" y1="{ly:.1}" y2="{ly:.1}" stroke="{c}" stroke-width="3"/><text x="{:.1}" y="{:.1}">{}: p50 {} µs</text>"#,
            lx + 18.0,
            lx + 24.0,
            ly + 4.0,
            r.kind.label(),
            us(r.same.at(0.5))
        );
    }
    s.push_str("</svg>\n");
    s
}
