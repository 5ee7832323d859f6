//! The seam between a pipe transport and its protocol (issue #12), as `tests/protocol.rs` does
//! it for the socket transport and the TLS layer: every callback of a read pipe
//! (connection_made, data_received / buffer_updated, eof_received, connection_lost) and of a
//! write pipe (connection_made, pause_writing, resume_writing, connection_lost) writes, closes,
//! aborts, pauses reading or panics from inside, and the connection goes on to its end.
//!
//! In every case the grammar must hold (L44: made first, data*, eof?, lost exactly once and
//! last; L49: pause and resume strictly alternating, starting with pause), nothing panics but
//! the probe's own panic, which is reported once, and no byte is lost or doubled: what one end
//! wrote arrives at the other once and in order, or, after a close or an abort, a prefix of it.
//!
//! Each case was run against CPython 3.11 (`connect_read_pipe`/`connect_write_pipe`, a
//! protocol acting the same way from the same callback). The calls it makes are the same as
//! here, with these differences, where CPython lacks something or is wrong:
//! - a read pipe has no `write` or `abort` there (`AttributeError`); here `write` is refused
//!   with `Unsupported`, and `abort` closes as `close` does;
//! - a write pipe's `pause_reading` raises `NotImplementedError` there (its `_FlowControlMixin`
//!   is a whole `Transport`); here it does nothing, as on any transport that is not reading;
//! - a write pipe's `resume_writing` that closes or aborts, or a `connection_lost` that
//!   aborts, makes CPython call `_call_connection_lost` twice (its `_write_ready` finishes a
//!   close that the callback already queued; `abort` after the end queues another): the
//!   protocol hears it once, and the second call fails on the released protocol and is
//!   reported ('Exception in callback _UnixWritePipeTransport._call_connection_lost(None)').
//!   Here nothing is reported;
//! - a protocol's failure in a read pipe's `data_received` is reported by CPython as
//!   '_UnixReadPipeTransport._read_ready()' failing; here the report names the protocol's
//!   method (as `tests/pipes/read_side.rs` pins).
// Checklist: L44, L49, L54, L55, L83.

mod protocol_probe;
mod util;

use std::fs::File;
use std::io::{self, Read, Write};
use std::os::fd::OwnedFd;
use std::rc::Rc;
use std::time::Duration;

use asyncio::{BufferedProtocol, EventLoop, Protocol, Transport};
use protocol_probe::{probe, record_and_write, Act, Cb, Probe, Seen, Shared, ACTIONS};

const READ_CALLBACKS: [Cb; 4] = [Cb::Made, Cb::Data, Cb::Eof, Cb::Lost];
const WRITE_CALLBACKS: [Cb; 4] = [Cb::Made, Cb::Pause, Cb::Resume, Cb::Lost];

/// Writes `data` as a pipe takes it: a read pipe refuses; a closing write pipe drops,
/// unrecorded.
fn send(seen: &Shared, t: &Transport, data: &[u8]) {
    if t.is_closing() {
        assert!(t.write(data).is_ok() || !t.can_write_eof(), "L76");
        return;
    }
    if !t.can_write_eof() {
        let refused = t.write(data);
        assert!(
            matches!(refused, Err(asyncio::Error::Unsupported(_))),
            "a read pipe refuses writes: {refused:?}"
        );
        return;
    }
    record_and_write(seen, t, data);
}

/// Runs the loop until `cond`, bounded (a stuck scenario fails instead of hanging).
fn run_until(lp: &EventLoop, what: &str, cond: impl FnMut() -> bool) {
    protocol_probe::run_until_within(lp, 2_000, Duration::from_millis(50), what, cond);
}

/// The report a panicking probe gets, `message | exception | keys` as
/// `util::capture_exceptions_and_keys` writes it; `transport` is the probe's transport id.
fn expected_report(cb: Cb, buffered: bool, transport: u64) -> String {
    let probe = std::any::type_name::<Probe>();
    let panic = format!("panicked: probe panics in {cb:?}");
    let callback =
        |call: String| format!("Exception in callback {probe}::{call} | {panic} | [\"handle\"]");
    match cb {
        Cb::Made => callback(format!("connection_made(Transport {{ id: {transport} }})")),
        Cb::Data if buffered => callback("buffer_updated(..)".into()),
        Cb::Data => callback("data_received(..)".into()),
        Cb::Eof => callback("eof_received()".into()),
        Cb::Lost => callback("connection_lost(None)".into()),
        Cb::Pause | Cb::Resume => {
            let what = if cb == Cb::Pause { "pause" } else { "resume" };
            format!("protocol.{what}_writing() failed | {panic} | [\"transport\", \"protocol\"]")
        }
    }
}

/// Writes to the pipe's write end, ignoring a reader that has gone (`EPIPE`, no `SIGPIPE`:
/// Rust's runtime ignores it).
fn feed(w: &mut File, data: &[u8], fed: &mut Vec<u8>) {
    if w.write_all(data).is_ok() {
        fed.extend_from_slice(data);
    }
}

/// A read pipe: we write into the pipe, then end it; the callback under test acts once.
fn read_scenario(buffered: bool, cb: Cb, act: Act) {
    let name = format!(
        "read/{}/{cb:?}/{act:?}",
        if buffered { "buffered" } else { "plain" }
    );
    let lp = EventLoop::new().unwrap();
    let reports = util::capture_exceptions_and_keys(&lp.handle());
    let seen: Shared = Rc::default();
    let (r, mut w) = util::os_pipe();
    let p = probe(&seen, cb, act, buffered, send);
    let h = lp.handle();
    let (t, _) = lp
        .run_until_complete(async move { h.connect_read_pipe(move || p, r).await })
        .unwrap()
        .unwrap();
    let lost = || seen.borrow().lost > 0;
    let mut fed = Vec::new();

    feed(&mut w, b"hello from the writer", &mut fed);
    run_until(&lp, &format!("{name}: data"), || {
        seen.borrow().received.len() >= fed.len() || !t.is_reading()
    });
    t.resume_reading(); // undo a pause_reading from an earlier callback
    feed(&mut w, b", and more", &mut fed);
    run_until(&lp, &format!("{name}: more data"), || {
        seen.borrow().received.len() >= fed.len() || !t.is_reading()
    });
    t.resume_reading();
    drop(w); // EOF
    run_until(&lp, &format!("{name}: lost"), lost);
    for _ in 0..3 {
        lp.run_once(Some(Duration::ZERO)).unwrap(); // anything queued after the end runs
    }

    let s = seen.borrow();
    check_common(&name, &s, &reports.borrow(), act, cb, buffered, t.id());
    protocol_probe::check_prefix(&name, "writer to us", &fed, &s.received);
    let ended_early = matches!(cb, Cb::Made | Cb::Data) && matches!(act, Act::Close | Act::Abort);
    if !ended_early {
        assert_eq!(s.received, fed, "{name}: L83 bytes lost");
        assert_eq!(
            s.calls.iter().filter(|c| **c == "eof").count(),
            1,
            "{name}: L44 an EOF the protocol hears: {:?}",
            s.calls
        );
    }
    // CPython's read pipe is closing once it has read the EOF: `_closing` is set and
    // connection_lost queued before eof_received runs.
    if let Some(closing) = s.closing_at_eof {
        assert!(closing, "{name}: is_closing() false inside eof_received");
    }
}

/// A write pipe: we write until paused, the other end drains it, we close; the callback under
/// test acts once.
fn write_scenario(cb: Cb, act: Act) {
    let name = format!("write/{cb:?}/{act:?}");
    let lp = EventLoop::new().unwrap();
    let reports = util::capture_exceptions_and_keys(&lp.handle());
    let seen: Shared = Rc::default();
    let (r, w) = util::os_pipe();
    let r = mio::unix::pipe::Receiver::from(OwnedFd::from(r));
    r.set_nonblocking(true).unwrap();
    let p = probe(&seen, cb, act, false, send);
    let h = lp.handle();
    let (t, _) = lp
        .run_until_complete(async move { h.connect_write_pipe(move || p, w).await })
        .unwrap()
        .unwrap();
    let lost = || seen.borrow().lost > 0;
    let mut got = Vec::new();
    // Reads what the pipe holds; true at its EOF (our end closed).
    let drain = |got: &mut Vec<u8>| {
        let mut buf = [0u8; 64 * 1024];
        loop {
            match (&r).read(&mut buf) {
                Ok(0) => return true,
                Ok(n) => got.extend_from_slice(&buf[..n]),
                Err(e) if e.kind() == io::ErrorKind::WouldBlock => return false,
                Err(e) => panic!("{e}"),
            }
        }
    };

    // We write until the protocol is paused (pause_writing), inside `write` itself.
    protocol_probe::write_until_paused(&name, &seen, &t, send);
    // The other end reads it all (resume_writing).
    run_until(&lp, &format!("{name}: resumed"), || {
        drain(&mut got);
        seen.borrow().calls.contains(&"resume") || lost()
    });
    run_until(&lp, &format!("{name}: flushed"), || {
        drain(&mut got);
        t.get_write_buffer_size() == 0
    });
    t.close();
    run_until(&lp, &format!("{name}: lost"), || drain(&mut got) && lost());
    for _ in 0..3 {
        lp.run_once(Some(Duration::ZERO)).unwrap(); // anything queued after the end runs
    }

    let s = seen.borrow();
    check_common(&name, &s, &reports.borrow(), act, cb, false, t.id());
    protocol_probe::check_prefix(&name, "us to the reader", &s.sent, &got);
    if act != Act::Abort {
        assert_eq!(got.len(), s.sent.len(), "{name}: L83 bytes lost");
    }
    // A pause is always answered before the end, unless an abort dropped the buffer (CPython's
    // `_write_ready` resumes before it finishes a close, as here).
    if act != Act::Abort || cb == Cb::Lost || cb == Cb::Resume {
        let pauses = s.calls.iter().filter(|c| **c == "pause").count();
        let resumes = s.calls.iter().filter(|c| **c == "resume").count();
        assert_eq!(pauses, resumes, "{name}: L49 {:?}", s.calls);
    }
}

fn check_common(
    name: &str,
    s: &Seen,
    reports: &[String],
    act: Act,
    cb: Cb,
    buffered: bool,
    id: u64,
) {
    match act {
        Act::Panic => assert_eq!(
            reports,
            [expected_report(cb, buffered, id)],
            "{name}: reported once"
        ),
        _ => assert!(reports.is_empty(), "{name}: reported {reports:?}"),
    }
    protocol_probe::check_ended(name, s);
}

fn read_matrix(buffered: bool) {
    for cb in READ_CALLBACKS {
        for act in ACTIONS {
            read_scenario(buffered, cb, act);
        }
    }
}

#[test]
fn l44_l54_l55_l83_read_pipe_plain_protocol_acts_from_every_callback() {
    read_matrix(false);
}

#[test]
fn l44_l50_l55_l83_read_pipe_buffered_protocol_acts_from_every_callback() {
    read_matrix(true);
}

#[test]
fn l44_l49_l55_l83_write_pipe_protocol_acts_from_every_callback() {
    for cb in WRITE_CALLBACKS {
        for act in ACTIONS {
            write_scenario(cb, act);
        }
    }
}

/// L45, L50: a read pipe asks a buffered protocol for a buffer only once the pipe is readable,
/// as the socket transport does (CPython's `_read_ready__get_buffer` runs from the reader
/// callback only; CPython's read pipe takes no `BufferedProtocol` at all, it calls
/// `data_received`). It asked at the start of reading, before any byte: a `get_buffer` with
/// nothing to follow. Bytes already in the pipe as it connects are read at the start.
#[test]
fn l45_l50_a_read_pipe_asks_a_buffered_protocol_for_a_buffer_only_once_readable() {
    struct Counting {
        buf: [u8; 64],
        calls: Vec<String>,
    }
    impl Protocol for Counting {
        fn connection_made(&mut self, _: Transport) {
            self.calls.push("made".into());
        }
        fn as_buffered(&mut self) -> Option<&mut dyn BufferedProtocol> {
            Some(self)
        }
    }
    impl BufferedProtocol for Counting {
        fn get_buffer(&mut self, _: usize) -> &mut [u8] {
            self.calls.push("get_buffer".into());
            &mut self.buf
        }
        fn buffer_updated(&mut self, n: usize) {
            self.calls.push(format!("buffer_updated({n})"));
        }
    }
    for written_before in [false, true] {
        let lp = EventLoop::new().unwrap();
        let (r, mut w) = util::os_pipe();
        if written_before {
            w.write_all(b"abc").unwrap();
        }
        let h = lp.handle();
        let connect = async move {
            let proto = || Counting {
                buf: [0; 64],
                calls: Vec::new(),
            };
            h.connect_read_pipe(proto, r).await
        };
        let (t, proto) = lp.run_until_complete(connect).unwrap().unwrap();
        for _ in 0..10 {
            lp.run_once(Some(Duration::ZERO)).unwrap();
        }
        if !written_before {
            assert_eq!(proto.borrow().calls, ["made"], "nothing to read yet");
            w.write_all(b"abc").unwrap();
        }
        run_until(&lp, "the bytes", || proto.borrow().calls.len() >= 3);
        assert_eq!(
            proto.borrow().calls,
            ["made", "get_buffer", "buffer_updated(3)"],
            "written before the connection: {written_before}"
        );
        t.close();
    }
}

/// L50, L79: CPython's `resume_reading` re-adds the reader, which fires only on a readable
/// pipe; a resume here queued a read of its own, which asked a buffered protocol for a buffer
/// with nothing to put in it (checked: with that read put back, the first assertion fails
/// with an extra "get_buffer"). Bytes that came while paused, bytes a pause left in the pipe,
/// and an EOF that came while paused are all read after the resume.
#[test]
fn l50_l79_a_read_pipe_resumed_asks_for_a_buffer_only_when_readable() {
    struct Pausing {
        buf: [u8; 4],
        calls: Vec<String>,
        transport: Option<Transport>,
        pause_in_update: bool,
    }
    impl Protocol for Pausing {
        fn connection_made(&mut self, t: Transport) {
            self.calls.push("made".into());
            self.transport = Some(t);
        }
        fn eof_received(&mut self) -> bool {
            self.calls.push("eof".into());
            false
        }
        fn as_buffered(&mut self) -> Option<&mut dyn BufferedProtocol> {
            Some(self)
        }
    }
    impl BufferedProtocol for Pausing {
        fn get_buffer(&mut self, _: usize) -> &mut [u8] {
            self.calls.push("get_buffer".into());
            &mut self.buf
        }
        fn buffer_updated(&mut self, n: usize) {
            let got = String::from_utf8_lossy(&self.buf[..n]);
            self.calls.push(format!("updated {got}"));
            if std::mem::take(&mut self.pause_in_update) {
                if let Some(t) = &self.transport {
                    t.pause_reading();
                }
            }
        }
    }
    let turns = |lp: &EventLoop| {
        for _ in 0..10 {
            lp.run_once(Some(Duration::ZERO)).unwrap();
        }
    };
    let lp = EventLoop::new().unwrap();
    let (r, mut w) = util::os_pipe();
    let h = lp.handle();
    let proto = || Pausing {
        buf: [0; 4],
        calls: Vec::new(),
        transport: None,
        pause_in_update: false,
    };
    let (t, p) = lp
        .run_until_complete(async move { h.connect_read_pipe(proto, r).await })
        .unwrap()
        .unwrap();
    turns(&lp);
    assert_eq!(p.borrow().calls, ["made"]);

    t.pause_reading();
    t.resume_reading();
    turns(&lp);
    assert_eq!(p.borrow().calls, ["made"], "a resume with nothing to read");

    t.pause_reading();
    w.write_all(b"ab").unwrap();
    turns(&lp);
    assert_eq!(p.borrow().calls, ["made"], "paused");
    t.resume_reading();
    run_until(&lp, "bytes written while paused", || {
        p.borrow().calls.len() >= 3
    });
    turns(&lp);
    assert_eq!(p.borrow().calls[1..], ["get_buffer", "updated ab"]);

    // A pause from inside buffer_updated after a full read: the rest waits for the resume.
    p.borrow_mut().calls.clear();
    p.borrow_mut().pause_in_update = true;
    w.write_all(b"cdefgh").unwrap();
    run_until(&lp, "a full read", || p.borrow().calls.len() >= 2);
    turns(&lp);
    assert_eq!(p.borrow().calls, ["get_buffer", "updated cdef"]);
    t.resume_reading();
    run_until(&lp, "the rest", || p.borrow().calls.len() >= 4);
    turns(&lp);
    assert_eq!(p.borrow().calls[2..], ["get_buffer", "updated gh"]);

    // An EOF that came while paused.
    p.borrow_mut().calls.clear();
    t.pause_reading();
    drop(w);
    turns(&lp);
    assert!(
        p.borrow().calls.is_empty(),
        "paused: {:?}",
        p.borrow().calls
    );
    t.resume_reading();
    run_until(&lp, "the EOF", || p.borrow().calls.len() >= 2);
    assert_eq!(p.borrow().calls, ["get_buffer", "eof"]);
}
