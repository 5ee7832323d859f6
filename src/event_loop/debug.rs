//! Debug mode and the layer trace: two switches for people who study or debug the layering.
//!
//! Mirrors asyncio's debug mode (`loop.set_debug`, `PYTHONASYNCIODEBUG`,
//! `slow_callback_duration`; L23). Debug mode (`set_debug(true)` or `ASYNCIO_DEBUG=1`) times
//! every callback and task poll and warns about slow ones: `Executing <name> took 0.123
//! seconds`. The layer trace (`asyncio::set_trace(true)` or `ASYNCIO_TRACE=1`) logs one line
//! per crossing between layers, at `info` level on the `asyncio::trace` target, each naming its
//! connection:
//!
//! ```text
//! loop: poll -> 1 event
//! transport[1]: recv 12 B
//! protocol[1]: buffer_updated(12)
//! reader[1]: feed_data 12 B, buffered 12
//! writer[1]: write 12 B -> sent 12, buffered 0
//! protocol[1]: connection_lost(None)
//! ```
//!
//! Ground rule: off, each costs one relaxed load and a predictable branch; nothing is
//! formatted or allocated.

use std::sync::atomic::{AtomicBool, Ordering};

static TRACE: AtomicBool = AtomicBool::new(false);

/// Turns the layer trace on or off for the whole process (see the module docs).
///
/// The records are at `info` level (not `trace`) on the `asyncio::trace` target: a `log`
/// backend filtering out `info` for that target shows none of them. With no backend
/// installed, they go to stderr.
///
/// # Examples
///
/// ```
/// use std::sync::Mutex;
///
/// /// Keeps each record's level and target.
/// struct Keep(Mutex<Vec<(log::Level, String)>>);
/// impl log::Log for Keep {
///     fn enabled(&self, _: &log::Metadata) -> bool {
///         true
///     }
///     fn log(&self, r: &log::Record) {
///         self.0.lock().unwrap().push((r.level(), r.target().to_string()));
///     }
///     fn flush(&self) {}
/// }
/// static KEPT: Keep = Keep(Mutex::new(Vec::new()));
/// log::set_logger(&KEPT).unwrap();
/// log::set_max_level(log::LevelFilter::Info); // enough for the trace
///
/// asyncio::set_trace(true); // for the whole process
/// assert!(asyncio::trace_enabled());
/// asyncio::run(async {
///     let (a, _b) = asyncio::socketpair()?;
///     let (_reader, writer) = asyncio::open_connection_sock(a).await?;
///     writer.write(b"hi")?; // traced: `writer[1]: write 2 B -> sent 2, buffered 0`
///     writer.close();
///     writer.wait_closed().await
/// })??;
/// asyncio::set_trace(false);
/// let kept = KEPT.0.lock().unwrap();
/// let traced: Vec<_> = kept.iter().filter(|(_, t)| t == "asyncio::trace").collect();
/// assert!(!traced.is_empty());
/// assert!(traced.iter().all(|(level, _)| *level == log::Level::Info));
/// # Ok::<_, asyncio::Error>(())
/// ```
pub fn set_trace(on: bool) {
    TRACE.store(on, Ordering::Relaxed);
}

/// Whether the layer trace is on.
///
/// # Examples
///
/// ```
/// if asyncio::trace_enabled() {
///     println!("the layer trace is on");
/// }
/// ```
#[inline]
pub fn trace_enabled() -> bool {
    TRACE.load(Ordering::Relaxed)
}

/// Reads `ASYNCIO_TRACE` / `ASYNCIO_DEBUG` (any value but empty or `0` means on).
pub(crate) fn env_flag(name: &str) -> bool {
    std::env::var_os(name).is_some_and(|v| !v.is_empty() && v != "0")
}

/// Applies `ASYNCIO_TRACE` once per loop creation (it only ever turns the trace on).
pub(crate) fn trace_from_env() {
    if env_flag("ASYNCIO_TRACE") {
        set_trace(true);
    }
}

/// `d` in seconds the way Python prints a float of them (`60.0`, `0.2`, `1.25`), with
/// integer arithmetic only: formatting an `f64` would pull float-printing code into every
/// binary that uses the loop.
// The TLS timeouts' messages use it (and its tests).
#[cfg(any(feature = "tls", test))]
pub(crate) fn py_seconds(d: std::time::Duration) -> String {
    let mut frac = format!("{:09}", d.subsec_nanos());
    while frac.len() > 1 && frac.ends_with('0') {
        frac.pop();
    }
    format!("{}.{frac}", d.as_secs())
}

/// A duration in seconds with three decimals, rounded to the nearest millisecond, as Python's
/// `'%.3f' % seconds` prints it (the slow-callback warning: `took 0.124 seconds` for 123.6 ms,
/// where cutting at the millisecond said 0.123), with integer arithmetic only (as
/// `py_seconds`). A duration exactly halfway between two milliseconds rounds up; Python's
/// float of it rounds by its binary value, either way. Rounded by adding half a millisecond
/// to the `Duration`, not in nanoseconds as a `u128`: printing a `u128` linked about 2.5 KB
/// into every binary that runs a loop. The addition saturates: within half a millisecond of
/// `Duration::MAX` (half a trillion years), the figure is cut, not rounded up.
pub(crate) struct Seconds3(pub(crate) std::time::Duration);

impl std::fmt::Display for Seconds3 {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let d = self.0.saturating_add(std::time::Duration::from_micros(500));
        write!(f, "{}.{:03}", d.as_secs(), d.subsec_millis())
    }
}

/// Where the crate's records go (issue #14: never silent). With a `log` backend installed
/// (`log::max_level()` above `Off`, as every backend sets it), through `log` on `target`, as
/// before. With none, straight to stderr, one line per record: warnings and errors always
/// (Python's logging prints WARNING and above to stderr through its "last resort" handler
/// when nothing is configured), and the layer trace, which the user asked for; debug and info
/// records are dropped as `log` would.
///
/// Out of line and cold: records are rare (the trace is off by default), and inlined, the
/// `log` call and the stderr fallback were copied into each of some twenty call sites. The
/// record still names its call site's file and line (`#[track_caller]`), not this function's;
/// its module path is left out (`None`): passing `module_path!()` from every site cost the
/// echo client 2.8 KiB.
///
/// The logger is the user's code, and so are the `Display` impls it formats (an error a
/// callback returned): a panic in either costs this record, never unwinds out of the loop's
/// report into `run_forever`. Python's logging does the same for an exception raised inside
/// a handler (`Handler.handleError`): a `--- Logging error ---` note on stderr, and the
/// program goes on. The note names the record's level and target only: formatting its
/// arguments again could panic again.
#[cold]
#[inline(never)]
#[track_caller]
pub(crate) fn emit(level: log::Level, target: &str, args: std::fmt::Arguments<'_>) {
    if log::max_level() != log::LevelFilter::Off {
        if level <= log::STATIC_MAX_LEVEL && level <= log::max_level() {
            let at = std::panic::Location::caller();
            let record = log::Record::builder()
                .args(args)
                .level(level)
                .target(target)
                .file_static(Some(at.file()))
                .line(Some(at.line()))
                .build();
            let logged = std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| {
                log::logger().log(&record);
            }));
            if logged.is_err() {
                to_stderr(format_args!(
                    "--- Logging error --- the logger panicked on a record ({level}, \
                     target {target}); the record is lost"
                ));
            }
        }
    } else if level <= log::Level::Warn || target == TRACE_TARGET {
        to_stderr(args);
    }
}

/// One record, one line on stderr, never a panic nor a fatal `SIGPIPE` (a handler the host
/// installed for it sees one, as for its own writes). `eprintln!` holds stderr's
/// lock for the line (no interleaving across threads) and goes where a test harness captures
/// output, but it panics when the write fails (`EPIPE` once whoever read our stderr has
/// gone); a record nobody can read is lost instead, as Python's last-resort handler loses
/// it. So a stderr the kernel already reports broken is not written to at all (the write
/// would raise `SIGPIPE`, fatal to a host that keeps its default action, as a pipe
/// transport's would: `without_sigpipe`), and a write that fails after the check anyway has
/// its panic caught where panics unwind, and the `SIGPIPE` it may have raised taken. That
/// panic runs the process's panic hook first (a hook may abort, or report each crash to a
/// service), so after one, the records go through a plain write whose error is dropped: a
/// stderr that fails where `poll` cannot see it (`/dev/full`, a full disk or non-blocking
/// pipe) costs the hook one call, not one per record.
fn to_stderr(args: std::fmt::Arguments<'_>) {
    use crate::event_loop::signals::without_sigpipe;
    use std::io::Write;
    use std::sync::atomic::{AtomicBool, Ordering};
    /// An `eprintln!` panicked: stderr failed once, and may again.
    static EPRINTLN_FAILED: AtomicBool = AtomicBool::new(false);
    if stderr_broken() {
        return;
    }
    // One closure for both ways (one copy of `without_sigpipe`'s code in the binary), and
    // both under `catch_unwind`: formatting the record runs the caller's `Display` impls (an
    // error a callback returned), and one that panics must cost this record, not unwind out
    // of the loop's report, whichever way it is written.
    let _ = without_sigpipe(|| {
        let print = || {
            if cfg!(panic = "unwind") && !EPRINTLN_FAILED.load(Ordering::Relaxed) {
                eprintln!("{args}");
                Ok(())
            } else {
                writeln!(std::io::stderr().lock(), "{args}")
            }
        };
        std::panic::catch_unwind(std::panic::AssertUnwindSafe(print))
            // Which error it was is not told: taken as `EPIPE`, so that a `SIGPIPE` the write
            // raised is consumed (a harmless zero-timeout wait if none is pending). A panic
            // that was a `Display`'s, not the write's, also moves later records to the plain
            // write: they then leave the test harness' capture, and nothing else changes.
            .unwrap_or_else(|_| {
                EPRINTLN_FAILED.store(true, Ordering::Relaxed);
                Err(std::io::Error::from_raw_os_error(libc::EPIPE))
            })
    });
}

/// Whether a write to stderr would fail at once: its reader has gone (`POLLERR`, a pipe),
/// its peer or terminal hung up (`POLLHUP`). One `poll` that does not wait; records are rare.
#[allow(unsafe_code)]
fn stderr_broken() -> bool {
    let mut fd = libc::pollfd {
        fd: libc::STDERR_FILENO,
        events: libc::POLLOUT,
        revents: 0,
    };
    // SAFETY: one valid `pollfd` for the length of the call; a timeout of 0 never blocks.
    let ready = unsafe { libc::poll(&mut fd, 1, 0) };
    ready == 1 && fd.revents & (libc::POLLERR | libc::POLLHUP) != 0
}

/// The `log` target of the layer trace.
pub(crate) const TRACE_TARGET: &str = "asyncio::trace";

/// Logs one trace line if the trace is on (stderr when no logger is installed).
macro_rules! trace {
    ($($arg:tt)*) => {
        if $crate::event_loop::debug::trace_enabled() {
            $crate::event_loop::debug::emit(
                log::Level::Info,
                $crate::event_loop::debug::TRACE_TARGET,
                format_args!($($arg)*),
            );
        }
    };
}
pub(crate) use trace;

/// A warning on the `asyncio` target (stderr when no logger is installed).
macro_rules! warning {
    ($($arg:tt)*) => {
        $crate::event_loop::debug::emit(
            log::Level::Warn,
            "asyncio",
            format_args!($($arg)*),
        )
    };
}
pub(crate) use warning;

/// A debug record on the `asyncio` target: through `log` like `log::debug!`, dropped when no
/// logger is installed, but with the `log` call out of line in [`emit`].
macro_rules! debug_log {
    ($($arg:tt)*) => {
        $crate::event_loop::debug::emit(
            log::Level::Debug,
            "asyncio",
            format_args!($($arg)*),
        )
    };
}
pub(crate) use debug_log;

/// An error on the `asyncio` target (stderr when no logger is installed).
macro_rules! error {
    ($($arg:tt)*) => {
        $crate::event_loop::debug::emit(
            log::Level::Error,
            "asyncio",
            format_args!($($arg)*),
        )
    };
}
pub(crate) use error;

#[cfg(test)]
mod tests {
    use super::{py_seconds, Seconds3};
    use std::time::Duration;

    #[test]
    fn slow_callback_seconds_round_as_python_percent_3f() {
        // Each as Python prints `'%.3f' % (nanos / 1e9)`.
        let cases = [
            (123_000_000, "0.123"),
            (123_600_000, "0.124"),
            (123_400_000, "0.123"),
            (1_999_600_000, "2.000"),
            (499_999, "0.000"),
            (60_000_000_000, "60.000"),
        ];
        for (nanos, text) in cases {
            assert_eq!(
                Seconds3(Duration::from_nanos(nanos)).to_string(),
                text,
                "{nanos} ns"
            );
        }
        // No overflow at the end of the range: the rounding saturates there.
        let max = Seconds3(Duration::MAX).to_string();
        assert_eq!(max, "18446744073709551615.999");
    }

    #[test]
    fn seconds_print_like_python_floats() {
        assert_eq!(py_seconds(Duration::from_secs(60)), "60.0");
        assert_eq!(py_seconds(Duration::from_millis(200)), "0.2");
        assert_eq!(py_seconds(Duration::from_millis(1250)), "1.25");
        assert_eq!(py_seconds(Duration::from_nanos(1)), "0.000000001");
    }
}
