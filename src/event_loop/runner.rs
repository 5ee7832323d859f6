//! `asyncio.run` (CPython `Lib/asyncio/runners.py`): a new loop for one future, Ctrl-C as
//! Python 3.11's `Runner` handles it, every task left cancelled and drained, the loop closed.
// Checklist: L41.

use std::cell::Cell;
use std::future::IntoFuture;
use std::rc::Rc;

use super::{current_loop, signals, EventLoop};
use crate::error::Error;

/// Runs `fut` to completion on a new loop, then cancels and drains every task left, and closes
/// the loop (Python's `asyncio.run`).
///
/// ```
/// let out = asyncio::run(async {
///     asyncio::sleep(std::time::Duration::from_millis(1)).await;
///     "done"
/// });
/// assert_eq!(out.unwrap(), "done");
/// ```
///
/// # Ctrl-C
///
/// As Python 3.11's `asyncio.Runner`: when called on the main thread while SIGINT has its
/// default disposition (no handler of yours), `run` handles SIGINT through the loop
/// ([`LoopHandle::add_signal_handler`](crate::LoopHandle::add_signal_handler)). The first SIGINT cancels `fut` (it is dropped at the
/// end of that loop iteration, so servers it owns close and remove their Unix socket files),
/// every remaining task is cancelled and drained, the loop is closed, and `run` returns
/// [`Error::KeyboardInterrupt`]. The process is not exited behind your back: exit with status
/// 130 yourself, as a shell expects of a program ended by Ctrl-C. SIGINT gets its default
/// disposition back as soon as `fut` is gone, so a second Ctrl-C during the shutdown ends the
/// process at once (CPython raises `KeyboardInterrupt` then, to the same effect).
///
/// ```no_run
/// fn main() -> std::process::ExitCode {
///     match asyncio::run(std::future::pending::<()>()) {
///         Err(asyncio::Error::KeyboardInterrupt) => {
///             eprintln!("Interrupted");
///             std::process::ExitCode::from(130)
///         }
///         _ => std::process::ExitCode::SUCCESS,
///     }
/// }
/// ```
///
/// # Errors
/// [`Error::InvalidState`] (`asyncio.run() cannot be called from a running event loop`) inside
/// a running loop; `Error::Io` if the loop cannot be created; [`Error::KeyboardInterrupt`]
/// after a SIGINT cancelled `fut`.
// Checklist: L41.
pub fn run<F: IntoFuture>(fut: F) -> Result<F::Output, Error> {
    // Only the run itself depends on `F`: set-up and tear-down are compiled once, not once
    // per future type.
    let runner = Runner::start()?;
    let result = runner.lp.run_until_complete(fut);
    runner.finish(result.is_err())?;
    result
}

/// [`run`]'s loop and its Ctrl-C state, between [`start`](Runner::start) and
/// [`finish`](Runner::finish).
struct Runner {
    lp: EventLoop,
    /// Set by the SIGINT handler.
    interrupted: Rc<Cell<bool>>,
    /// Whether `run` installed that handler (main thread, default disposition).
    on_sigint: bool,
}

impl Runner {
    #[inline(never)]
    fn start() -> Result<Runner, Error> {
        if current_loop().is_some() {
            return Err(Error::invalid_state(
                "asyncio.run() cannot be called from a running event loop",
            ));
        }
        let lp = EventLoop::new()?;
        let interrupted = Rc::new(Cell::new(false));
        // CPython's Runner: only on the main thread, and only over the default handler.
        let on_sigint = signals::is_main_thread() && signals::is_default(libc::SIGINT);
        if on_sigint {
            let (flag, stopper) = (interrupted.clone(), lp.handle());
            lp.add_signal_handler(libc::SIGINT, move || {
                flag.set(true);
                stopper.stop(); // `fut` is dropped (cancelled) when run_until_complete returns
            })?;
        }
        Ok(Runner {
            lp,
            interrupted,
            on_sigint,
        })
    }

    /// Restores SIGINT, drains the tasks, closes the loop; a failed run that SIGINT stopped
    /// becomes [`Error::KeyboardInterrupt`].
    #[inline(never)]
    fn finish(self, failed: bool) -> Result<(), Error> {
        let Runner {
            lp,
            interrupted,
            on_sigint,
        } = self;
        if on_sigint {
            let _ = lp.remove_signal_handler(libc::SIGINT);
        }
        lp.shutdown_tasks();
        lp.close()?;
        if failed && interrupted.get() {
            return Err(Error::KeyboardInterrupt);
        }
        Ok(())
    }
}
