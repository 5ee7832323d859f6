//! The warning for writes dropped after a write pipe closed (L81, as CPython's
//! `_UnixWritePipeTransport.write`): counted from the first dropped write, logged from the
//! sixth on; an empty write returns before it is counted. Its own test binary, because it
//! installs a logger (one per process) and reads everything logged.

mod util;

use std::sync::Mutex;

use asyncio::EventLoop;
use util::{os_pipe, run_until, Recorder};

static LINES: Mutex<Vec<String>> = Mutex::new(Vec::new());

struct Capture;

impl log::Log for Capture {
    fn enabled(&self, _: &log::Metadata<'_>) -> bool {
        true
    }
    fn log(&self, r: &log::Record<'_>) {
        if r.level() <= log::Level::Warn {
            LINES.lock().unwrap().push(r.args().to_string());
        }
    }
    fn flush(&self) {}
}

static LOGGER: Capture = Capture;

fn dropped_warnings() -> usize {
    LINES
        .lock()
        .unwrap()
        .iter()
        .filter(|l| l.contains("pipe closed by peer"))
        .count()
}

#[test]
fn writes_after_close_are_counted_and_warned_from_the_sixth_and_empty_ones_are_not_l81() {
    let _ = log::set_logger(&LOGGER);
    log::set_max_level(log::LevelFilter::Warn);
    let lp = EventLoop::new().unwrap();
    let (_r, w) = os_pipe();
    let h = lp.handle();
    let (t, proto) = lp
        .run_until_complete(async move { h.connect_write_pipe(Recorder::default, w).await })
        .unwrap()
        .unwrap();
    t.close();
    run_until(&lp, 100, || proto.borrow().lost);
    for _ in 0..10 {
        t.write(b"").unwrap(); // nothing to write: not a dropped write
        t.writelines(&[]).unwrap();
    }
    for _ in 0..5 {
        t.write(b"late").unwrap();
    }
    assert_eq!(
        dropped_warnings(),
        0,
        "five dropped writes are only counted"
    );
    t.write(b"late").unwrap();
    assert_eq!(dropped_warnings(), 1, "the sixth is warned about");
}
