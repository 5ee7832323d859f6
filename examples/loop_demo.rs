//! The event loop at work, before the streams exist: timers fire in deadline order, tasks join,
//! a callback arrives from another thread.
//!
//! Run: `cargo run --example loop_demo`.
//! Python equivalent: `loop.call_later`, `asyncio.create_task`, `asyncio.gather`,
//! `loop.call_soon_threadsafe`.

mod common;

use common::Cli;

static CLI: Cli = Cli {
    name: "loop_demo",
    about: "The event loop at work: timers fire in deadline order, tasks join, a callback\n\
            arrives from another thread.",
    args: &[],
    flags: &[],
};

use std::time::{Duration, Instant};

async fn worker(name: &'static str, delay_ms: u64) -> &'static str {
    asyncio::sleep(Duration::from_millis(delay_ms)).await;
    common::say!("task {name} done after {delay_ms} ms");
    name
}

async fn main_task() -> Result<(), asyncio::Error> {
    let lp = asyncio::get_running_loop()?;
    let start = Instant::now();
    for (label, ms) in [("third", 30u64), ("first", 10), ("second", 20)] {
        lp.call_later(Duration::from_millis(ms), move || {
            common::say!("timer {label} fired at {ms} ms");
        })?;
    }
    let tasks = [
        asyncio::spawn(worker("b", 25)),
        asyncio::spawn(worker("a", 5)),
    ];
    let mut names = Vec::new();
    for t in tasks {
        names.push(t.await?);
    }
    common::say!("joined tasks: {names:?}");

    let (tx, rx) = std::sync::mpsc::channel();
    let door = lp.threadsafe();
    let helper = std::thread::spawn(move || {
        door.call_soon_threadsafe(move || {
            common::say!("callback from another thread ran on the loop");
            let _ = tx.send(());
        })
    });
    while rx.try_recv().is_err() {
        asyncio::sleep(Duration::from_millis(1)).await;
    }
    // A helper thread that panicked or found the loop closed is an error, not a crash.
    helper
        .join()
        .map_err(|_| asyncio::Error::InvalidState("helper thread panicked".into()))??;
    asyncio::sleep(Duration::from_millis(15)).await;
    common::say!("all done in {} ms", start.elapsed().as_millis());
    Ok(())
}

fn main() -> std::process::ExitCode {
    common::init_logging();
    CLI.parse();
    CLI.finish_run(asyncio::run(main_task()))
}
