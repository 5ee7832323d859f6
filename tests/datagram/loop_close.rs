//! The loop closing under an endpoint: the protocol told, the queue let go, and the warnings
//! about datagrams it could not send (with this binary's per-thread log capture).

use super::*;

/// The loop closing under an open endpoint: the protocol is told
/// (`connection_lost(Other: Event loop is closed)`), as the stream transports do, and the
/// socket is closed. The text is Python's plain one: the streams' longer text speaks of a
/// stream kept past its run, which a datagram endpoint is not.
#[test]
fn the_loop_closing_tells_an_open_endpoint() {
    let (lp, t, p, b) = endpoint_on_own_loop();
    lp.close().unwrap();
    assert_eq!(p.borrow().calls, ["made", "lost(Some(Other))"]);
    assert_eq!(
        p.borrow().lost_text.as_deref(),
        Some("Event loop is closed")
    );
    assert!(t.get_extra_info("socket").is_none());
    assert_eq!(
        b.send(b"anyone?").unwrap_err().kind(),
        io::ErrorKind::ConnectionRefused,
        "our end is closed"
    );
}

/// The loop closing under an endpoint with datagrams queued: nothing is sent after it, so the
/// queue is let go then (not with the last handle), and its size says 0.
#[test]
fn the_loop_closing_frees_what_an_endpoint_could_not_send() {
    let (lp, t, p, _b) = endpoint_on_own_loop(); // `_b` never reads
    fill(&t, 4096).unwrap();
    lp.close().unwrap();
    assert_eq!(p.borrow().calls, ["made", "lost(Some(Other))"]);
    assert_eq!(t.get_write_buffer_size(), 0, "the queue was let go");
}

/// Warnings logged by the thread that logged them, to count those of one test only (tests
/// run in parallel, each on its own thread, and a loop logs on the thread that runs it). This
/// binary's logger, installed by the first test that needs it (one per process).
static LINES: std::sync::Mutex<Vec<(std::thread::ThreadId, String)>> =
    std::sync::Mutex::new(Vec::new());

struct Capture;

impl log::Log for Capture {
    fn enabled(&self, _: &log::Metadata<'_>) -> bool {
        true
    }
    fn log(&self, r: &log::Record<'_>) {
        if r.level() <= log::Level::Warn {
            let line = (std::thread::current().id(), r.args().to_string());
            LINES.lock().unwrap_or_else(|p| p.into_inner()).push(line);
        }
    }
    fn flush(&self) {}
}

static LOGGER: Capture = Capture;

/// The warnings this thread logged that contain `text`.
pub(super) fn my_warnings(text: &str) -> Vec<String> {
    let _ = log::set_logger(&LOGGER);
    log::set_max_level(log::LevelFilter::Warn);
    let me = std::thread::current().id();
    let lines = LINES.lock().unwrap_or_else(|p| p.into_inner());
    let mine = lines.iter().filter(|(t, l)| *t == me && l.contains(text));
    mine.map(|(_, l)| l.clone()).collect()
}

/// An endpoint closed with datagrams still queued as the last thing in `run`: the loop closes
/// before it can send them. CPython drops them silently; as the stream transports do, we say
/// so once, with the count and the bytes. Before, nothing was printed.
// Checklist: L16 (the loop's close drops what was queued: said once, as for streams).
#[test]
fn datagrams_still_queued_when_the_loop_closes_are_warned_about_once() {
    let before = my_warnings("the event loop closed with").len();
    let (queued, _peer) = asyncio::run(async {
        let (t, _p, peer) = stuck_endpoint().await?;
        fill(&t, 8 * 1024)?;
        let queued = t.get_write_buffer_size();
        t.close(); // and the run ends before the loop sends the queue
        Ok::<_, Error>((queued, peer))
    })
    .unwrap()
    .unwrap();
    let lines = my_warnings("the event loop closed with");
    assert_eq!(lines.len(), before + 1, "{lines:?}");
    let want = format!(
        "closed with {} datagrams ({queued} bytes) still to send, dropped",
        queued / 1024
    );
    let line = lines.last().unwrap();
    assert!(line.contains(&want), "{line} (want {want})");
    assert!(line.starts_with("datagram transport "), "{line}");
    assert!(line.contains("connection_lost()"), "{line}");
}

/// The same run with nothing left in the queue warns of nothing.
#[test]
fn a_loop_closing_with_no_datagram_queued_warns_of_nothing() {
    let before = my_warnings("the event loop closed with").len();
    asyncio::run(async {
        let (t, _p, peer) = stuck_endpoint().await?;
        t.sendto(b"fits", None)?;
        assert_eq!(t.get_write_buffer_size(), 0, "sent at once");
        t.close();
        Ok::<_, Error>(peer)
    })
    .unwrap()
    .unwrap();
    assert_eq!(my_warnings("the event loop closed with").len(), before);
}

/// An endpoint kept past its `run`: `sendto` returns `Ok` (as every dropped send does) and
/// the datagram goes nowhere. The first such call is warned about at once, saying why; later
/// ones follow the dropped-send count (CPython's `_conn_lost`), which warns from the fifth on.
/// Before, the first five were silent.
// Checklist: L16, L81 (a dropped write after the loop closed is warned at the first).
#[test]
fn a_sendto_after_the_loop_closed_is_warned_about_at_the_first() {
    let after_close = "sendto after its event loop closed, dropped";
    let (t, peer) = asyncio::run(async {
        let (t, _p, peer) = stuck_endpoint().await?;
        Ok::<_, Error>((t, peer))
    })
    .unwrap()
    .unwrap();
    let before = my_warnings(after_close).len();
    let counted = my_warnings("socket.send() raised exception").len();
    t.sendto(b"late", None).unwrap();
    let lines = my_warnings(after_close);
    assert_eq!(lines.len(), before + 1, "the first is warned about");
    assert!(
        lines.last().unwrap().contains("endpoint's work"),
        "{lines:?}"
    );
    for _ in 0..4 {
        t.sendto(b"later", None).unwrap();
    }
    assert_eq!(my_warnings(after_close).len(), before + 1, "once");
    assert_eq!(
        my_warnings("socket.send() raised exception").len(),
        counted,
        "the count warns from the fifth dropped send after the first, not before"
    );
    t.sendto(b"later", None).unwrap();
    assert_eq!(
        my_warnings("socket.send() raised exception").len(),
        counted + 1
    );
    assert!(
        drain(&peer).is_empty(),
        "nothing sent after the loop closed"
    );
}
