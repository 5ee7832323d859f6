//! The crate's log records (target `asyncio`), per thread: each test's loop runs on its own
//! thread, so parallel tests do not see each other's records. One logger per binary: a
//! binary that installs its own does not use this.

use std::cell::RefCell;

thread_local!(static LINES: RefCell<Vec<String>> = const { RefCell::new(Vec::new()) });

struct Capture;

impl log::Log for Capture {
    fn enabled(&self, m: &log::Metadata) -> bool {
        m.target().starts_with("asyncio")
    }
    fn log(&self, r: &log::Record) {
        if self.enabled(r.metadata()) {
            LINES.with(|l| l.borrow_mut().push(r.args().to_string()));
        }
    }
    fn flush(&self) {}
}

static CAPTURE: Capture = Capture;

/// Installs the capture (once per process) and clears this thread's records.
pub fn start() {
    static ONCE: std::sync::Once = std::sync::Once::new();
    ONCE.call_once(|| {
        log::set_logger(&CAPTURE).expect("no other logger in this binary");
        log::set_max_level(log::LevelFilter::Debug);
    });
    LINES.with(|l| l.borrow_mut().clear());
}

/// This thread's records that start with `prefix`.
pub fn lines(prefix: &str) -> Vec<String> {
    LINES.with(|l| {
        l.borrow()
            .iter()
            .filter(|s| s.starts_with(prefix))
            .cloned()
            .collect()
    })
}

/// This thread's records that contain `part` anywhere.
pub fn containing(part: &str) -> Vec<String> {
    LINES.with(|l| {
        l.borrow()
            .iter()
            .filter(|s| s.contains(part))
            .cloned()
            .collect()
    })
}
