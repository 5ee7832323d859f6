//! A report whose formatting panics (L20): an error whose `Display` panics, and a user's logger
//! that panics, never unwind out of the loop.

use super::*;

/// An error whose `Display` panics: formatting it is the report's job, not the caller's.
#[derive(Debug)]
struct DisplayPanics;

impl std::fmt::Display for DisplayPanics {
    fn fmt(&self, _: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        panic!("Display of the callback's error broke")
    }
}

impl std::error::Error for DisplayPanics {}

/// A callback's error whose `Display` panics costs its report, every time: the loop reports
/// the next failure too, and runs on (as Python's logging survives a failing `__str__`). The
/// first such panic sends later records to the plain write (as a failed `eprintln!` does);
/// a second one there unwound out of the loop's report, through `run_forever`.
#[test]
fn l20_a_panicking_display_in_a_report_never_unwinds_out_of_the_loop() {
    match std::env::var(CHILD).as_deref() {
        Ok("display") => {
            std::panic::set_hook(Box::new(|_| {})); // the three panics are expected
            let lp = asyncio::EventLoop::new().unwrap();
            for _ in 0..3 {
                lp.call_soon(|| Err::<(), _>(DisplayPanics)).unwrap();
            }
            lp.call_soon(|| Err::<(), _>("the last failure")).unwrap();
            let h = lp.handle();
            lp.call_soon(move || h.stop()).unwrap();
            lp.run_forever().unwrap();
            let _ = std::panic::take_hook();
            println!("report child: ok");
        }
        _ => {
            let name = &test_path(
                module_path!(),
                "l20_a_panicking_display_in_a_report_never_unwinds_out_of_the_loop",
            );
            let err = child_stderr(name, "display", &[]);
            assert!(
                err.contains("the last failure"),
                "reported after them:\n{err}"
            );
        }
    }
}

/// A logger that formats each record (running its `Display` impls, which may panic), panics
/// itself on a record that says "the logger breaks", and keeps the rest.
struct FormattingLogger(Mutex<Vec<String>>);

impl log::Log for FormattingLogger {
    fn enabled(&self, _: &log::Metadata<'_>) -> bool {
        true
    }
    fn log(&self, r: &log::Record<'_>) {
        let line = r.args().to_string();
        assert!(!line.contains("the logger breaks"), "a broken logger");
        self.0.lock().unwrap().push(line);
    }
    fn flush(&self) {}
}

static FORMATTING: FormattingLogger = FormattingLogger(Mutex::new(Vec::new()));

/// As with no logger, so with one: a `Display` that panics inside the user's logger, or the
/// logger panicking on its own, costs that record (a `--- Logging error ---` note on stderr,
/// as Python's `Handler.handleError` prints) and the loop reports the next failure. The
/// first such panic unwound out of the logger, through the report, out of `run_forever`.
#[test]
fn l20_a_panic_inside_the_users_logger_never_unwinds_out_of_the_loop() {
    match std::env::var(CHILD).as_deref() {
        Ok("logger") => {
            log::set_logger(&FORMATTING).unwrap();
            log::set_max_level(log::LevelFilter::Info);
            std::panic::set_hook(Box::new(|_| {})); // the four panics are expected
            let lp = asyncio::EventLoop::new().unwrap();
            for _ in 0..3 {
                lp.call_soon(|| Err::<(), _>(DisplayPanics)).unwrap();
            }
            lp.call_soon(|| Err::<(), _>("the logger breaks")).unwrap();
            lp.call_soon(|| Err::<(), _>("the last failure")).unwrap();
            let h = lp.handle();
            lp.call_soon(move || h.stop()).unwrap();
            lp.run_forever().unwrap();
            let _ = std::panic::take_hook();
            let seen = FORMATTING.0.lock().unwrap().clone();
            assert_eq!(seen.len(), 1, "only the last failure was logged: {seen:?}");
            assert!(seen[0].contains("the last failure"), "{seen:?}");
            println!("report child: ok");
        }
        _ => {
            let name = &test_path(
                module_path!(),
                "l20_a_panic_inside_the_users_logger_never_unwinds_out_of_the_loop",
            );
            let err = child_stderr(name, "logger", &[]);
            let notes = err
                .lines()
                .filter(|l| l.starts_with(
                        "--- Logging error --- the logger panicked on a record (ERROR, target asyncio)",
                    ))
                .count();
            assert_eq!(notes, 4, "one note per lost record:\n{err}");
            assert!(
                !err.contains("the last failure"),
                "logged, not on stderr:\n{err}"
            );
        }
    }
}

/// A logger that panics on every record (and counts them).
struct AlwaysPanics(std::sync::atomic::AtomicUsize);

impl log::Log for AlwaysPanics {
    fn enabled(&self, _: &log::Metadata<'_>) -> bool {
        true
    }
    fn log(&self, _: &log::Record<'_>) {
        self.0.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
        panic!("the logger breaks");
    }
    fn flush(&self) {}
}

static ALWAYS_PANICS: AlwaysPanics = AlwaysPanics(std::sync::atomic::AtomicUsize::new(0));

/// A panic leaving `run_until_complete` with an fd's event still queued re-arms that fd as it
/// unwinds. An fd closed behind the loop's back refuses the re-arm, which was logged at debug
/// level through the user's logger during the unwinding: a logger panicking there panicked
/// inside a panic (caught by the record's guard on this toolchain, at the cost of a `---
/// Logging error ---` note; checked by reverting the fix). No user code runs while it unwinds:
/// the record is skipped, and the process goes on.
// Checklist: L17, L20.
#[test]
fn l20_the_re_arm_made_while_a_panic_unwinds_calls_no_logger() {
    use std::io::Write;
    use std::os::fd::AsRawFd;
    match std::env::var(CHILD).as_deref() {
        Ok("rearm") => {
            log::set_logger(&ALWAYS_PANICS).unwrap();
            log::set_max_level(log::LevelFilter::Debug);
            std::panic::set_hook(Box::new(|_| {})); // the panics are expected
            let lp = asyncio::EventLoop::new().unwrap();
            let (a, mut b) = std::os::unix::net::UnixStream::pair().unwrap();
            // Registered under a second number, closed below while `a` keeps the socket (and
            // epoll its registration): re-arming that number is refused.
            let second = a.try_clone().unwrap();
            let fd = second.as_raw_fd();
            b.write_all(b"x").unwrap();
            let h = lp.handle();
            let panicked = std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| {
                lp.run_until_complete(async move {
                    h.add_reader(fd, || {}).unwrap();
                    drop(second);
                    // The next poll queues the reader's event behind this task's step.
                    asyncio::yield_now().await;
                    panic!("main fails");
                })
            }));
            let _ = std::panic::take_hook();
            assert!(panicked.is_err(), "the panic reaches the caller");
            let calls = ALWAYS_PANICS.0.load(std::sync::atomic::Ordering::Relaxed);
            assert_eq!(calls, 0, "the logger ran while the panic unwound");
            assert!(matches!(lp.remove_reader(fd), Ok(true)));
            drop((a, b));
            println!("report child: ok");
        }
        _ => {
            let name = &test_path(
                module_path!(),
                "l20_the_re_arm_made_while_a_panic_unwinds_calls_no_logger",
            );
            let err = child_stderr(name, "rearm", &[]);
            assert!(!err.contains("--- Logging error ---"), "{err}");
        }
    }
}
