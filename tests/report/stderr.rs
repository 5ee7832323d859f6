//! The last resort (L20, L23): failures and the layer trace on stderr without a logger and
//! through `log` with one, and a stderr nobody reads or whose writes fail: the record lost,
//! no panic, no `SIGPIPE`, the panic hook run at most once.

use super::*;

struct Capture(Mutex<Vec<String>>);

impl log::Log for Capture {
    fn enabled(&self, _: &log::Metadata<'_>) -> bool {
        true
    }
    fn log(&self, r: &log::Record<'_>) {
        self.0
            .lock()
            .unwrap()
            .push(format!("{} {}", r.target(), r.args()));
    }
    fn flush(&self) {}
}

static CAPTURE: Capture = Capture(Mutex::new(Vec::new()));

#[test]
fn l20_failures_reach_stderr_without_a_logger_and_log_with_one() {
    match std::env::var(CHILD).as_deref() {
        Ok("bare") => {
            fail_one_handler();
            println!("report child: ok");
        }
        Ok("logger") => {
            log::set_logger(&CAPTURE).unwrap();
            log::set_max_level(log::LevelFilter::Info);
            fail_one_handler();
            let seen = CAPTURE.0.lock().unwrap().clone();
            let failures: Vec<_> = seen
                .iter()
                .filter(|l| l.contains("Unhandled exception in client_connected_cb"))
                .collect();
            assert_eq!(failures.len(), 1, "once, through log: {seen:?}");
            assert!(failures[0].starts_with("asyncio "), "{seen:?}");
            println!("report child: ok");
        }
        _ => {
            let name = &test_path(
                module_path!(),
                "l20_failures_reach_stderr_without_a_logger_and_log_with_one",
            );
            let bare = child_stderr(name, "bare", &[]);
            assert_eq!(
                bare.matches("Unhandled exception in client_connected_cb")
                    .count(),
                1,
                "no logger: once on stderr:\n{bare}"
            );
            assert!(bare.contains("exception: timed out"), "{bare}");
            let logged = child_stderr(name, "logger", &[]);
            assert!(
                !logged.contains("Unhandled exception"),
                "a logger is installed: nothing on stderr:\n{logged}"
            );
        }
    }
}

#[test]
fn l23_the_trace_reaches_stderr_without_a_logger() {
    match std::env::var(CHILD).as_deref() {
        Ok("trace") => {
            fail_one_handler();
            println!("report child: ok");
        }
        _ => {
            let name = &test_path(
                module_path!(),
                "l23_the_trace_reaches_stderr_without_a_logger",
            );
            let err = child_stderr(name, "trace", &[("ASYNCIO_TRACE", "1")]);
            assert!(err.contains("connection_made"), "trace lines:\n{err}");
            assert!(err.contains("loop: poll -> "), "trace lines:\n{err}");
        }
    }
}

/// Makes this process's stderr a socket whose peer is gone: every write to it fails with
/// `EPIPE` (Rust ignores `SIGPIPE`), as for a daemon whose log reader has gone.
fn break_stderr() {
    let (reader, writer) = std::os::unix::net::UnixStream::pair().unwrap();
    drop(reader);
    use std::os::fd::AsRawFd;
    // SAFETY: both descriptors are open (`writer` is owned here, 2 is stderr); `dup2` only
    // replaces descriptor 2, which no Rust object owns.
    #[allow(unsafe_code)]
    let r = unsafe { libc::dup2(writer.as_raw_fd(), 2) };
    assert_eq!(r, 2, "dup2: {}", std::io::Error::last_os_error());
}

/// A record the crate cannot write to stderr is lost, not a panic: the default exception
/// handler, a warning and the layer trace write there with no logger installed, and `EPIPE`
/// from a stderr whose reader has gone made `eprintln!` panic inside the loop.
#[test]
fn l20_a_stderr_nobody_reads_loses_the_record_and_panics_nowhere() {
    match std::env::var(CHILD).as_deref() {
        Ok("broken") => {
            break_stderr();
            asyncio::default_exception_handler(&asyncio::ExceptionContext::new("lost"));
            fail_one_handler(); // the loop's own report, and trace lines, to a broken stderr
            println!("report child: ok");
        }
        _ => {
            let name = &test_path(
                module_path!(),
                "l20_a_stderr_nobody_reads_loses_the_record_and_panics_nowhere",
            );
            child_stderr(name, "broken", &[("ASYNCIO_TRACE", "1")]);
        }
    }
}

/// A stderr whose writes fail where `poll` cannot tell (`/dev/full`: `ENOSPC`, as on a full
/// disk) costs the process's panic hook at most one call, not one per record: the first
/// failed `eprintln!` panics (caught), and later records skip it. A hook that aborts, or
/// reports each crash to a service, fired for every log record.
#[test]
fn l20_a_stderr_that_fails_unseen_runs_the_panic_hook_at_most_once() {
    use std::sync::atomic::{AtomicUsize, Ordering};
    static HOOKS: AtomicUsize = AtomicUsize::new(0);
    match std::env::var(CHILD).as_deref() {
        Ok("full") => {
            let full = std::fs::OpenOptions::new()
                .write(true)
                .open("/dev/full")
                .unwrap();
            use std::os::fd::AsRawFd;
            // SAFETY: as in `break_stderr`.
            #[allow(unsafe_code)]
            let r = unsafe { libc::dup2(full.as_raw_fd(), 2) };
            assert_eq!(r, 2, "dup2: {}", std::io::Error::last_os_error());
            std::panic::set_hook(Box::new(|_| {
                HOOKS.fetch_add(1, Ordering::Relaxed);
            }));
            for _ in 0..20 {
                asyncio::default_exception_handler(&asyncio::ExceptionContext::new("lost"));
            }
            fail_one_handler(); // the loop's own report, and trace lines
            let _ = std::panic::take_hook();
            println!("hooks: {}", HOOKS.load(Ordering::Relaxed));
            println!("report child: ok");
        }
        _ => {
            let name = &test_path(
                module_path!(),
                "l20_a_stderr_that_fails_unseen_runs_the_panic_hook_at_most_once",
            );
            let (stdout, _) = child_output(name, "full", &[("ASYNCIO_TRACE", "1")]);
            let hooks: usize = stdout
                .lines()
                .find_map(|l| l.split("hooks: ").nth(1))
                .and_then(|n| n.trim().parse().ok())
                .unwrap_or_else(|| panic!("no count: {stdout}"));
            assert!(hooks <= 1, "the panic hook ran {hooks} times");
        }
    }
}

/// Makes this process's stderr a socket whose peer lives on but has shut its reading down:
/// `poll` finds it writable, with no error or hang-up, and every write to it fails with
/// `EPIPE` (as when the reader goes between a check and the write).
fn half_break_stderr() {
    let (reader, writer) = std::os::unix::net::UnixStream::pair().unwrap();
    reader.shutdown(std::net::Shutdown::Read).unwrap();
    std::mem::forget(reader); // alive for the whole child
    use std::os::fd::AsRawFd;
    // SAFETY: as in `break_stderr`.
    #[allow(unsafe_code)]
    let r = unsafe { libc::dup2(writer.as_raw_fd(), 2) };
    assert_eq!(r, 2, "dup2: {}", std::io::Error::last_os_error());
}

/// As above in a host that keeps `SIGPIPE` at its default action (a C program or a cdylib
/// embedding the loop; Rust's `main` ignores it): a record for a stderr whose reader has gone
/// is lost, and the process lives on, whether `poll` reports the stderr broken (the peer
/// gone) or not (the peer shut its reading down). A write to that stderr raised `SIGPIPE`
/// and killed it.
#[test]
fn l20_a_stderr_nobody_reads_raises_no_sigpipe_in_a_host_that_keeps_its_default() {
    let mode = std::env::var(CHILD);
    if let Ok(mode @ ("gone, SIGPIPE default" | "shut, SIGPIPE default")) = mode.as_deref() {
        // SAFETY: restores the default action of SIGPIPE for this child process only.
        #[allow(unsafe_code)]
        let old = unsafe { libc::signal(libc::SIGPIPE, libc::SIG_DFL) };
        assert_ne!(old, libc::SIG_ERR);
        if mode.starts_with("gone") {
            break_stderr();
        } else {
            half_break_stderr();
        }
        asyncio::default_exception_handler(&asyncio::ExceptionContext::new("lost"));
        fail_one_handler(); // the loop's own report, and trace lines, to a broken stderr
        println!("report child: ok");
        return;
    }
    let name = &test_path(
        module_path!(),
        "l20_a_stderr_nobody_reads_raises_no_sigpipe_in_a_host_that_keeps_its_default",
    );
    for mode in ["gone, SIGPIPE default", "shut, SIGPIPE default"] {
        child_stderr(name, mode, &[("ASYNCIO_TRACE", "1")]);
    }
}
