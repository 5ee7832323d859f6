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
//!   method (as `tests/pipes.rs` pins).
// Checklist: L44, L49, L54, L55, L83.

mod util;

use std::cell::RefCell;
use std::fs::File;
use std::io::{self, Read, Write};
use std::os::fd::OwnedFd;
use std::rc::Rc;
use std::time::Duration;

use asyncio::{BufferedProtocol, EventLoop, Protocol, Transport};

/// The callback under test.
#[derive(Clone, Copy, Debug, PartialEq)]
enum Cb {
    Made,
    Data,
    Eof,
    Pause,
    Resume,
    Lost,
}

/// What the callback under test does, once, from inside.
#[derive(Clone, Copy, Debug, PartialEq)]
enum Act {
    /// A few bytes (refused by a read pipe).
    Write,
    /// Enough to cross the high-water mark from inside the callback (a write pipe's).
    Flood,
    Close,
    Abort,
    PauseReading,
    /// A bug in the protocol: reported once (L49, L55; a read pipe's data and EOF callbacks
    /// as failed loop callbacks, CPython's exception escaping `_read_ready`).
    Panic,
}

const READ_CALLBACKS: [Cb; 4] = [Cb::Made, Cb::Data, Cb::Eof, Cb::Lost];
const WRITE_CALLBACKS: [Cb; 4] = [Cb::Made, Cb::Pause, Cb::Resume, Cb::Lost];
const ACTIONS: [Act; 6] = [
    Act::Write,
    Act::Flood,
    Act::Close,
    Act::Abort,
    Act::PauseReading,
    Act::Panic,
];

/// What the probe saw and did, shared with the test (borrowed only outside transport calls).
#[derive(Default)]
struct Seen {
    calls: Vec<&'static str>,
    /// Bytes delivered to the probe, in order.
    received: Vec<u8>,
    /// Bytes the probe's transport accepted from `write`, in order.
    sent: Vec<u8>,
    lost: usize,
    /// The callback under test ran its action.
    acted: bool,
    /// `is_closing()` as `eof_received` began.
    closing_at_eof: Option<bool>,
}

type Shared = Rc<RefCell<Seen>>;

/// Records `data` as sent, then writes it (a pause that `write` triggers may write too, and
/// its bytes go after these). A read pipe refuses; a closing write pipe drops, unrecorded.
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
    seen.borrow_mut().sent.extend_from_slice(data);
    t.write(data).unwrap();
}

/// The protocol under test. Each callback first checks the grammar so far (a failed check
/// panics inside the callback and reaches the exception handler, failing the test).
struct Probe {
    seen: Shared,
    cb: Cb,
    act: Act,
    buffered: bool,
    buf: Vec<u8>,
    t: Option<Transport>,
}

impl Probe {
    fn enter(&self, call: &'static str) {
        let s = self.seen.borrow();
        assert_eq!(s.lost, 0, "L44: {call} after connection_lost");
        assert!(
            call == "made" || s.calls.first() == Some(&"made"),
            "L44: {call} before connection_made"
        );
        assert!(
            call != "made" || s.calls.is_empty(),
            "L44: connection_made twice"
        );
        if call == "data" || call == "eof" {
            assert!(!s.calls.contains(&"eof"), "L44: {call} after eof_received");
        }
        let last_flow = s
            .calls
            .iter()
            .rev()
            .find(|c| **c == "pause" || **c == "resume");
        if call == "pause" {
            assert_ne!(last_flow, Some(&"pause"), "L49: pause twice");
        }
        if call == "resume" {
            assert_eq!(last_flow, Some(&"pause"), "L49: resume without pause");
        }
        drop(s);
        self.seen.borrow_mut().calls.push(call);
    }

    /// Runs the action if `cb` is the callback under test (once).
    fn act(&mut self, cb: Cb, t: &Transport) {
        if cb != self.cb || self.seen.borrow().acted {
            return;
        }
        self.seen.borrow_mut().acted = true;
        match self.act {
            Act::Write => send(&self.seen, t, format!("<{cb:?}>").as_bytes()),
            Act::Flood => send(&self.seen, t, &vec![b'f'; 512 * 1024]),
            Act::Close => {
                t.close();
                t.close(); // idempotent (L75)
            }
            Act::Abort => t.abort(),
            Act::PauseReading => t.pause_reading(),
            Act::Panic => panic!("probe panics in {cb:?}"),
        }
    }

    fn act_here(&mut self, cb: Cb) {
        let t = self.t.clone().expect("a transport since connection_made");
        self.act(cb, &t);
    }

    fn data(&mut self, n: usize) {
        self.enter("data");
        if self.buffered {
            let chunk = self.buf[..n].to_vec();
            self.seen.borrow_mut().received.extend_from_slice(&chunk);
        }
        self.act_here(Cb::Data);
    }
}

impl Protocol for Probe {
    fn connection_made(&mut self, t: Transport) {
        self.enter("made");
        self.t = Some(t);
        self.act_here(Cb::Made);
    }
    fn data_received(&mut self, data: &[u8]) {
        assert!(!self.buffered, "L50: data_received for a buffered protocol");
        self.seen.borrow_mut().received.extend_from_slice(data);
        self.data(data.len());
    }
    fn eof_received(&mut self) -> bool {
        self.enter("eof");
        let closing = self.t.as_ref().map(Transport::is_closing);
        self.seen.borrow_mut().closing_at_eof = closing;
        self.act_here(Cb::Eof);
        false
    }
    fn connection_lost(&mut self, _: Option<io::Error>) {
        self.enter("lost");
        self.seen.borrow_mut().lost += 1;
        // The transport is still in hand: acting on it after the end must do nothing.
        let t = self.t.take().expect("a transport since connection_made");
        self.act(Cb::Lost, &t);
    }
    fn pause_writing(&mut self) {
        self.enter("pause");
        self.act_here(Cb::Pause);
    }
    fn resume_writing(&mut self) {
        self.enter("resume");
        self.act_here(Cb::Resume);
    }
    fn as_buffered(&mut self) -> Option<&mut dyn BufferedProtocol> {
        if self.buffered {
            Some(self)
        } else {
            None
        }
    }
}

impl BufferedProtocol for Probe {
    fn get_buffer(&mut self, _: usize) -> &mut [u8] {
        &mut self.buf
    }
    fn buffer_updated(&mut self, n: usize) {
        self.data(n);
    }
}

/// Runs the loop until `cond`, bounded (a stuck scenario fails instead of hanging).
fn run_until(lp: &EventLoop, what: &str, mut cond: impl FnMut() -> bool) {
    for _ in 0..2_000 {
        if cond() {
            return;
        }
        lp.run_once(Some(Duration::from_millis(50))).unwrap();
    }
    assert!(cond(), "not reached: {what}");
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

fn probe(seen: &Shared, cb: Cb, act: Act, buffered: bool) -> Probe {
    Probe {
        seen: seen.clone(),
        cb,
        act,
        buffered,
        buf: vec![0; 4096],
        t: None,
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
    let p = probe(&seen, cb, act, buffered);
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
    assert!(
        fed.starts_with(&s.received),
        "{name}: we got {} B that the writer did not send in that order",
        s.received.len()
    );
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
    let p = probe(&seen, cb, act, false);
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
    let chunk: Vec<u8> = (0..16 * 1024).map(|i| (i % 251) as u8).collect();
    let mut written = 0;
    while !t.is_closing() && !seen.borrow().calls.contains(&"pause") {
        send(&seen, &t, &chunk);
        written += chunk.len();
        assert!(written < 64 << 20, "{name}: never paused");
    }
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
    assert!(
        s.sent.starts_with(&got),
        "{name}: the reader got {} B of our {} B, not as a prefix",
        got.len(),
        s.sent.len()
    );
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
    assert!(
        s.acted,
        "{name}: the callback under test never ran: {:?}",
        s.calls
    );
    assert_eq!(s.lost, 1, "{name}: L44 connection_lost exactly once");
    assert_eq!(s.calls.last(), Some(&"lost"), "{name}: L44 lost last");
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
