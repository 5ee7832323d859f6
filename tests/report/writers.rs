//! What a server callback's writer is told (S56, S60): a failed or cancelled handler is not
//! also reported as an unclosed writer; a writer bound to `_` or never used is told why its
//! connection closed.

use super::*;

/// What the child of this module's test `test`, run in `mode`, printed on stderr.
fn stderr_of(test: &str, mode: &str) -> String {
    child_stderr(&test_path(module_path!(), test), mode, &[])
}

/// The `unclosed <StreamWriter ..>` lines of `stderr`.
fn writer_warnings(stderr: &str) -> Vec<&str> {
    stderr
        .lines()
        .filter(|l| l.contains("unclosed <StreamWriter"))
        .collect()
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
            let failed = stderr_of(name, "failed");
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
            let unclosed = stderr_of(name, "unclosed");
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
            run_bounded(async {
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
            });
            println!("report child: ok");
        }
        _ => {
            let stderr = stderr_of(
                "s60_a_cancelled_handler_is_not_reported_as_an_unclosed_writer",
                "cancelled",
            );
            assert!(
                !stderr.contains("unclosed <StreamWriter"),
                "a cancelled handler's writer was reported as unclosed:\n{stderr}"
            );
        }
    }
}

/// S56: a client that only reads and binds its writer to `_`, as Python's `reader, _ = await
/// asyncio.open_connection(...)` does, has it dropped at once in Rust: the connection closes
/// before the first read, which sees EOF. The warning keeps Python's `unclosed <StreamWriter
/// …>` and then says what dropping did and what to do (before: Python's words alone).
#[test]
fn s56_a_writer_bound_to_underscore_is_told_why_its_connection_closed() {
    match std::env::var(CHILD).as_deref() {
        Ok("underscore") => {
            run_bounded(async {
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
            });
            println!("report child: ok");
        }
        _ => {
            let stderr = stderr_of(
                "s56_a_writer_bound_to_underscore_is_told_why_its_connection_closed",
                "underscore",
            );
            let warnings = writer_warnings(&stderr);
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
            let stderr = stderr_of(
                "s56_a_server_callback_that_never_uses_its_writer_is_told_why",
                "callback",
            );
            let warnings = writer_warnings(&stderr);
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

/// A connection whose writer a spawned task holds while it waits forever; returns the task.
/// The server's handler holds its own writer open as long.
async fn a_task_holding_an_open_writer() -> asyncio::Task<()> {
    let w = an_open_writer().await;
    asyncio::spawn(async move {
        let _w = w;
        std::future::pending::<()>().await
    })
}

/// A client's writer, connected and open, to a server whose handler holds its own open.
async fn an_open_writer() -> StreamWriter {
    let hold = |_r: StreamReader, w: StreamWriter| async move {
        w.write(b"hello")?;
        std::future::pending::<()>().await;
        Ok::<_, Error>(())
    };
    let server = asyncio::start_server(hold, "127.0.0.1", 0).await.unwrap();
    let port = server.sockets()[0].as_inet().unwrap().port();
    let (r, w) = asyncio::open_connection("127.0.0.1", port).await.unwrap();
    assert_eq!(r.readexactly(5).await.unwrap(), b"hello");
    w
}

/// S56, S60, L41: `asyncio::run` ending cancels every task left; a writer such a task held
/// open is closed with its connection silently, as a cancelled handler's is (S60). It warned
/// `unclosed <StreamWriter ..>` with the hint for a writer bound to `_` (chat_server at
/// SIGTERM, for a client whose writer task happened to be cancelled before its handler).
/// CPython 3.11 has no such warning; 3.12+'s is a ResourceWarning, hidden by default.
#[test]
fn s56_l41_a_writer_held_open_by_a_task_cancelled_at_run_end_is_closed_silently() {
    match std::env::var(CHILD).as_deref() {
        Ok("shutdown") => {
            run_bounded(async {
                let task = a_task_holding_an_open_writer().await;
                drop(task); // detached: left to the run's end
            });
            println!("report child: ok");
        }
        _ => {
            let stderr = stderr_of(
                "s56_l41_a_writer_held_open_by_a_task_cancelled_at_run_end_is_closed_silently",
                "shutdown",
            );
            assert!(!stderr.contains("unclosed"), "{stderr}");
        }
    }
}

/// S56: a writer dropped open by the cancellation of the task holding it (here
/// `Task::cancel`, in the middle of a run) is still reported, with what happened: its task
/// was cancelled (before: the hint for a writer bound to `_`, which this code does not do).
#[test]
fn s56_a_writer_dropped_by_its_tasks_cancellation_is_told_so() {
    match std::env::var(CHILD).as_deref() {
        Ok("cancel") => {
            run_bounded(async {
                let task = a_task_holding_an_open_writer().await;
                assert!(task.cancel());
                assert!(task.await.is_err(), "cancelled");
            });
            println!("report child: ok");
        }
        _ => {
            let stderr = stderr_of(
                "s56_a_writer_dropped_by_its_tasks_cancellation_is_told_so",
                "cancel",
            );
            let warnings = writer_warnings(&stderr);
            assert_eq!(warnings.len(), 1, "{stderr}");
            assert!(
                warnings[0].ends_with(
                    "> (dropped while open by the cancellation of its task, which closes the \
                     connection: close() it before cancelling that task)"
                ),
                "{}",
                warnings[0]
            );
        }
    }
}

/// S56, L33: a task cancelled at once with the task awaiting it (`awaited`), or with the
/// dropped `TaskGroup` it belongs to (`group`), drops its writer by that cancellation and is
/// told so, as a task cancelled by `Task::cancel` is. Both got the hint for a writer bound to
/// `_` (checked by reverting): the at-once drop left the task's state pending.
#[test]
fn s56_l33_a_writer_dropped_by_a_cancellation_at_once_is_told_so() {
    match std::env::var(CHILD).as_deref() {
        Ok("awaited") => {
            run_bounded(async {
                let inner = a_task_holding_an_open_writer().await;
                let outer = asyncio::spawn(async move {
                    let _ = inner.await;
                });
                asyncio::yield_now().await; // `outer` now awaits `inner`
                assert!(outer.cancel());
                assert!(outer.await.is_err(), "cancelled");
            });
            println!("report child: ok");
        }
        Ok("group") => {
            run_bounded(async {
                let w = an_open_writer().await;
                let outer = asyncio::spawn(asyncio::TaskGroup::run(|g| async move {
                    g.create_task(util::held_until_cancelled(move || w))?
                        .detach();
                    std::future::pending::<()>().await;
                    Ok::<_, Error>(())
                }));
                asyncio::yield_now().await; // the group's child holds `w`
                assert!(outer.cancel()); // drops the group: its child is cancelled at once
                assert!(outer.await.is_err(), "cancelled");
            });
            println!("report child: ok");
        }
        _ => {
            let name = "s56_l33_a_writer_dropped_by_a_cancellation_at_once_is_told_so";
            for mode in ["awaited", "group"] {
                let stderr = stderr_of(name, mode);
                let warnings = writer_warnings(&stderr);
                assert_eq!(warnings.len(), 1, "{mode}: {stderr}");
                assert!(
                    warnings[0].ends_with(
                        "> (dropped while open by the cancellation of its task, which closes \
                         the connection: close() it before cancelling that task)"
                    ),
                    "{mode}: {}",
                    warnings[0]
                );
            }
        }
    }
}
