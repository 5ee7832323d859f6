//! Issue #14, point 1: failures are never silent. With no `log` backend installed, the loop's
//! default exception handler, the crate's warnings and the layer trace go to stderr, one line
//! per record (Python's logging "last resort"); with a backend, through `log` only. A logger
//! is process-wide, so each case runs in a child process (this binary re-executed) whose
//! stderr the parent reads.

use std::sync::Mutex;
use std::time::Duration;

use asyncio::{Error, StreamReader, StreamWriter};

const CHILD: &str = "ASYNCIO_TEST_REPORT_CHILD";

/// Runs test `name` of this binary in a child with `CHILD=mode`; returns its stderr.
fn child_stderr(name: &str, mode: &str, env: &[(&str, &str)]) -> String {
    let mut cmd = std::process::Command::new(std::env::current_exe().unwrap());
    cmd.args(["--exact", name, "--nocapture", "--test-threads=1"])
        .env(CHILD, mode);
    for (k, v) in env {
        cmd.env(k, v);
    }
    let out = cmd.output().unwrap();
    let stdout = String::from_utf8_lossy(&out.stdout).into_owned();
    assert!(
        out.status.success(),
        "child failed ({}): {stdout}",
        out.status
    );
    assert!(
        stdout.contains("report child: ok"),
        "child did not run: {stdout}"
    );
    String::from_utf8_lossy(&out.stderr).into_owned()
}

/// A failing handler behind one connection, on a fresh loop; returns once it was reported
/// (the server closes the connection after reporting the failure).
fn fail_one_handler() {
    serve_one_connection(|_r: StreamReader, _w: StreamWriter| async {
        Err::<(), _>(Error::Timeout)
    });
}

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
            let name = "l20_failures_reach_stderr_without_a_logger_and_log_with_one";
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
            let name = "l23_the_trace_reaches_stderr_without_a_logger";
            let err = child_stderr(name, "trace", &[("ASYNCIO_TRACE", "1")]);
            assert!(err.contains("connection_made"), "trace lines:\n{err}");
            assert!(err.contains("loop: poll -> "), "trace lines:\n{err}");
        }
    }
}

/// L19 (BaseEventLoopTests.test_set_exc_handler_broken): a custom handler that panics is
/// reported by the default handler as `Unhandled error in exception handler`, with the
/// handler's panic as the exception and the context it was given, and the loop goes on.
#[test]
fn l19_a_panicking_handler_is_reported_by_the_default_one_with_its_context() {
    match std::env::var(CHILD).as_deref() {
        Ok("broken handler") => {
            let lp = asyncio::EventLoop::new().unwrap();
            lp.set_exception_handler(Some(
                |_: &asyncio::LoopHandle, _: &asyncio::ExceptionContext| panic!("handler broke"),
            ));
            lp.call_soon::<_, ()>(|| panic!("callback broke")).unwrap();
            let h = lp.handle();
            lp.call_soon(move || h.stop()).unwrap();
            lp.run_forever().unwrap();
            println!("report child: ok");
        }
        _ => {
            let name = "l19_a_panicking_handler_is_reported_by_the_default_one_with_its_context";
            let err = child_stderr(name, "broken handler", &[]);
            let at = err
                .find("Unhandled error in exception handler\n")
                .unwrap_or_else(|| panic!("no report of the broken handler:\n{err}"));
            let report: Vec<&str> = err[at..].lines().take(3).collect();
            assert!(
                report[1].starts_with("context: Exception in callback "),
                "{report:?}"
            );
            // The context's own lines follow its message, then the handler's panic.
            let rest = &err[at..];
            assert!(
                rest.contains("exception: panicked: callback broke"),
                "{err}"
            );
            assert!(rest.contains("exception: panicked: handler broke"), "{err}");
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
            let name = "l20_a_stderr_nobody_reads_loses_the_record_and_panics_nowhere";
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
            let name = "l20_a_stderr_that_fails_unseen_runs_the_panic_hook_at_most_once";
            let mut cmd = std::process::Command::new(std::env::current_exe().unwrap());
            cmd.args(["--exact", name, "--nocapture", "--test-threads=1"])
                .env(CHILD, "full")
                .env("ASYNCIO_TRACE", "1");
            let out = cmd.output().unwrap();
            let stdout = String::from_utf8_lossy(&out.stdout);
            assert!(
                out.status.success(),
                "child failed ({}): {stdout}",
                out.status
            );
            assert!(
                stdout.contains("report child: ok"),
                "child did not run: {stdout}"
            );
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
    let name = "l20_a_stderr_nobody_reads_raises_no_sigpipe_in_a_host_that_keeps_its_default";
    for mode in ["gone, SIGPIPE default", "shut, SIGPIPE default"] {
        child_stderr(name, mode, &[("ASYNCIO_TRACE", "1")]);
    }
}

/// A handler that holds its writer (it writes) and returns without closing it, with
/// `outcome`; returns once the server closed the connection.
fn end_one_handler_with_its_writer_open(outcome: Result<(), Error>) {
    let outcome = std::rc::Rc::new(std::cell::RefCell::new(Some(outcome)));
    // The dropped writer closes the connection.
    serve_one_connection(move |_r: StreamReader, w: StreamWriter| {
        let outcome = outcome.borrow_mut().take().unwrap();
        async move {
            w.write(b"hello")?;
            outcome // `w` is dropped here, unclosed
        }
    });
}

/// S60, S56: a handler that fails is reported once, as a failure; the writer it dropped on
/// the way out is not reported as well as "unclosed" (which blamed a missing close() for
/// what was the handler's error). A handler that ends well without closing its writer still
/// gets the warning.
#[test]
fn s60_a_failed_handler_is_not_also_reported_as_an_unclosed_writer() {
    match std::env::var(CHILD).as_deref() {
        Ok("failed") => {
            end_one_handler_with_its_writer_open(Err(Error::Timeout));
            println!("report child: ok");
        }
        Ok("unclosed") => {
            end_one_handler_with_its_writer_open(Ok(()));
            println!("report child: ok");
        }
        _ => {
            let name = "s60_a_failed_handler_is_not_also_reported_as_an_unclosed_writer";
            let failed = child_stderr(name, "failed", &[]);
            assert_eq!(
                failed
                    .matches("Unhandled exception in client_connected_cb")
                    .count(),
                1,
                "{failed}"
            );
            assert!(
                !failed.contains("unclosed <StreamWriter"),
                "the failure was also reported as an unclosed writer:\n{failed}"
            );
            let unclosed = child_stderr(name, "unclosed", &[]);
            assert_eq!(
                unclosed.matches("unclosed <StreamWriter").count(),
                1,
                "{unclosed}"
            );
        }
    }
}

/// S60: a handler task cancelled while it holds its writer closes its connection silently,
/// as CPython's done-callback does: no "unclosed" warning for the writer the cancellation
/// dropped (the handler did nothing wrong). The writer was dropped before the task closed the
/// connection, and warned.
#[test]
fn s60_a_cancelled_handler_is_not_reported_as_an_unclosed_writer() {
    match std::env::var(CHILD).as_deref() {
        Ok("cancelled") => {
            asyncio::run(asyncio::timeout(Duration::from_secs(20), async {
                let handler: std::rc::Rc<std::cell::RefCell<Option<asyncio::TaskRef>>> =
                    std::rc::Rc::default();
                let h = handler.clone();
                let server = asyncio::start_server(
                    move |_r: StreamReader, w: StreamWriter| {
                        let h = h.clone();
                        async move {
                            w.write(b"hello")?;
                            *h.borrow_mut() = asyncio::current_task()?;
                            std::future::pending::<()>().await;
                            Ok::<_, Error>(())
                        }
                    },
                    "127.0.0.1",
                    0,
                )
                .await
                .unwrap();
                let port = server.sockets()[0].as_inet().unwrap().port();
                let (r, w) = asyncio::open_connection("127.0.0.1", port).await.unwrap();
                for _ in 0..1000 {
                    if handler.borrow().is_some() {
                        break;
                    }
                    asyncio::yield_now().await;
                }
                let task = handler.borrow_mut().take().expect("the handler ran");
                assert!(task.cancel());
                assert_eq!(r.read(-1).await.unwrap(), b"hello");
                // The writer's warning would come a turn after its drop.
                for _ in 0..5 {
                    asyncio::yield_now().await;
                }
                w.close();
                let _ = w.wait_closed().await;
                server.close();
                server.wait_closed().await;
            }))
            .unwrap()
            .unwrap();
            println!("report child: ok");
        }
        _ => {
            let name = "s60_a_cancelled_handler_is_not_reported_as_an_unclosed_writer";
            let stderr = child_stderr(name, "cancelled", &[]);
            assert!(
                !stderr.contains("unclosed <StreamWriter"),
                "a cancelled handler's writer was reported as unclosed:\n{stderr}"
            );
        }
    }
}

/// On a fresh loop, bounded: serves `handler` on 127.0.0.1, connects once, reads until the
/// server closes the connection, then closes both.
fn serve_one_connection<M>(handler: impl asyncio::streams::ClientConnected<M>) {
    asyncio::run(asyncio::timeout(Duration::from_secs(20), async move {
        let server = asyncio::start_server(handler, "127.0.0.1", 0)
            .await
            .unwrap();
        let port = server.sockets()[0].as_inet().unwrap().port();
        let (r, w) = asyncio::open_connection("127.0.0.1", port).await.unwrap();
        let _ = r.read(-1).await;
        w.close();
        let _ = w.wait_closed().await;
        server.close();
        server.wait_closed().await;
    }))
    .unwrap()
    .unwrap();
}

/// S56: a client that only reads and binds its writer to `_`, as Python's `reader, _ = await
/// asyncio.open_connection(...)` does, has it dropped at once in Rust: the connection closes
/// before the first read, which sees EOF. The warning keeps Python's `unclosed <StreamWriter
/// …>` and then says what dropping did and what to do (before: Python's words alone).
#[test]
fn s56_a_writer_bound_to_underscore_is_told_why_its_connection_closed() {
    match std::env::var(CHILD).as_deref() {
        Ok("underscore") => {
            asyncio::run(asyncio::timeout(Duration::from_secs(20), async {
                let banner = |_r: StreamReader, w: StreamWriter| async move {
                    w.write(b"220 welcome\n")?;
                    w.close();
                    w.wait_closed().await
                };
                let server = asyncio::start_server(banner, "127.0.0.1", 0).await.unwrap();
                let port = server.sockets()[0].as_inet().unwrap().port();
                let (reader, _) = asyncio::open_connection("127.0.0.1", port).await.unwrap();
                let _ = reader.read(-1).await;
                server.close();
                server.wait_closed().await;
            }))
            .unwrap()
            .unwrap();
            println!("report child: ok");
        }
        _ => {
            let name = "s56_a_writer_bound_to_underscore_is_told_why_its_connection_closed";
            let stderr = child_stderr(name, "underscore", &[]);
            let warnings: Vec<&str> = stderr
                .lines()
                .filter(|l| l.contains("unclosed <StreamWriter"))
                .collect();
            assert_eq!(warnings.len(), 1, "{stderr}");
            let hint = " (dropped while open, which closes the connection: keep the writer as \
                        long as the connection is in use, `let (reader, _writer)` rather than \
                        `let (reader, _)`, and close() it when done)";
            let id = warnings[0]
                .strip_prefix("unclosed <StreamWriter transport=")
                .and_then(|rest| rest.strip_suffix(hint))
                .and_then(|rest| rest.strip_suffix('>'));
            assert!(
                id.is_some_and(|id| id.parse::<u64>().is_ok()),
                "{}",
                warnings[0]
            );
        }
    }
}

/// S56 for a server: a newcomer's `|reader: StreamReader, _writer: StreamWriter| async move
/// { .. }` whose block never names the writer does not capture it, so it is dropped as the
/// closure returns and the connection closes before the block's first read. The warning says
/// so for a callback's writer (before: the client-side hint, `let (reader, _writer)`, which is
/// what this code already wrote).
#[test]
fn s56_a_server_callback_that_never_uses_its_writer_is_told_why() {
    match std::env::var(CHILD).as_deref() {
        Ok("callback") => {
            let seen = std::rc::Rc::new(std::cell::RefCell::new(None));
            let put = seen.clone();
            serve_one_connection(move |r: StreamReader, _writer: StreamWriter| {
                let put = put.clone();
                async move {
                    *put.borrow_mut() = Some(r.read(100).await?);
                    Ok::<_, Error>(())
                }
            });
            assert_eq!(seen.borrow().as_deref(), Some(&b""[..]), "EOF at once");
            println!("report child: ok");
        }
        _ => {
            let name = "s56_a_server_callback_that_never_uses_its_writer_is_told_why";
            let stderr = child_stderr(name, "callback", &[]);
            let warnings: Vec<&str> = stderr
                .lines()
                .filter(|l| l.contains("unclosed <StreamWriter"))
                .collect();
            assert_eq!(warnings.len(), 1, "{stderr}");
            assert!(
                warnings[0].ends_with(
                    "> (dropped while open, which closes the connection: a server callback \
                     keeps its writer only while its future holds it, and in `|reader, writer| \
                     async move { .. }` a block that never uses `writer` drops it at once, \
                     before the first read; use it, and close() it when done)"
                ),
                "{}",
                warnings[0]
            );
        }
    }
}

// CPython: BaseEventLoopTests.test_default_exc_handler_callback
#[test]
fn l18_l20_test_default_exc_handler_callback() {
    // A failing call_soon callback and a failing call_later one, each reported by the default
    // handler as "Exception in callback" with the failure.
    match std::env::var(CHILD).as_deref() {
        Ok("failing callbacks") => {
            let lp = asyncio::EventLoop::new().unwrap();
            lp.call_soon::<_, ()>(|| panic!("zero soon")).unwrap();
            lp.call_later::<_, ()>(Duration::from_millis(1), || panic!("zero later"))
                .unwrap();
            let h = lp.handle();
            lp.call_later(Duration::from_millis(2), move || h.stop())
                .unwrap();
            lp.run_forever().unwrap();
            println!("report child: ok");
        }
        _ => {
            let name = "l18_l20_test_default_exc_handler_callback";
            let err = child_stderr(name, "failing callbacks", &[]);
            assert_eq!(err.matches("Exception in callback").count(), 2, "{err}");
            assert!(err.contains("exception: panicked: zero soon"), "{err}");
            assert!(err.contains("exception: panicked: zero later"), "{err}");
        }
    }
}

// CPython: BaseEventLoopTests.test_default_exc_handler_coro
#[test]
fn l20_l35_test_default_exc_handler_coro() {
    // A task that fails after a sleep, whose failure nobody retrieves: once its handle is
    // gone the default handler reports it.
    match std::env::var(CHILD).as_deref() {
        Ok("failing task") => {
            let lp = asyncio::EventLoop::new().unwrap();
            let t = lp
                .spawn(async {
                    asyncio::sleep(Duration::from_millis(1)).await;
                    Err::<(), _>(std::io::Error::other("zero_error_coro"))
                })
                .unwrap();
            let probe = t.task_ref();
            drop(t);
            for _ in 0..100 {
                if probe.is_done() {
                    break;
                }
                lp.run_once(Some(Duration::from_secs(10))).unwrap();
            }
            assert!(probe.is_done());
            println!("report child: ok");
        }
        _ => {
            let name = "l20_l35_test_default_exc_handler_coro";
            let err = child_stderr(name, "failing task", &[]);
            assert_eq!(
                err.matches("Task exception was never retrieved").count(),
                1,
                "{err}"
            );
            assert!(err.contains("exception: zero_error_coro"), "{err}");
        }
    }
}

// CPython: BaseEventLoopTests.test_log_slow_callbacks
#[test]
fn l23_test_log_slow_callbacks() {
    // Debug mode with a zero threshold: a callback and a task step each draw a warning
    // "Executing <what> took <s> seconds".
    match std::env::var(CHILD).as_deref() {
        Ok("slow") => {
            let lp = asyncio::EventLoop::new().unwrap();
            lp.set_debug(true);
            lp.set_slow_callback_duration(Duration::ZERO);
            let h = lp.handle();
            lp.call_soon(move || h.stop()).unwrap();
            lp.run_forever().unwrap();
            let h = lp.handle();
            let t = lp.spawn(async move { h.stop() }).unwrap();
            t.set_name("stop_loop_coro");
            t.detach();
            lp.run_forever().unwrap();
            println!("report child: ok");
        }
        _ => {
            let name = "l23_test_log_slow_callbacks";
            let err = child_stderr(name, "slow", &[]);
            let slow: Vec<&str> = err
                .lines()
                .filter(|l| l.contains("Executing ") && l.ends_with(" seconds"))
                .collect();
            assert!(slow.len() >= 2, "{err}");
            assert!(
                slow.iter().any(|l| l.contains("stop_loop_coro")),
                "the task step is named: {err}"
            );
            assert!(slow.iter().all(|l| l.contains(" took ")), "{slow:?}");
        }
    }
}

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
            let name = "l20_a_panicking_display_in_a_report_never_unwinds_out_of_the_loop";
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
            let name = "l20_a_panic_inside_the_users_logger_never_unwinds_out_of_the_loop";
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
