//! The probe protocol that `tests/protocol.rs` (sockets, TLS) and `tests/protocol_pipes.rs`
//! (pipes) run through every callback: it records its calls and bytes, checks the call grammar
//! on entry to each callback, and acts once from the callback under test. What differs between
//! the transports (how a write is checked, the set-ups, the expected reports) stays in each
//! test file.
// Checklist: L44, L49, L50, L75.
#![allow(dead_code)]

use std::cell::RefCell;
use std::io;
use std::rc::Rc;
use std::time::Duration;

use asyncio::{BufferedProtocol, EventLoop, Protocol, Transport};

/// The callback under test.
#[derive(Clone, Copy, Debug, PartialEq)]
pub enum Cb {
    Made,
    Data,
    Eof,
    Pause,
    Resume,
    Lost,
}

/// What the callback under test does, once, from inside.
#[derive(Clone, Copy, Debug, PartialEq)]
pub enum Act {
    /// A few bytes (refused by a read pipe).
    Write,
    /// Enough to cross the high-water mark: `pause_writing` is due while the callback still
    /// runs, and must come right after it (L49).
    Flood,
    Close,
    Abort,
    PauseReading,
    /// A bug in the protocol: reported once, fatal or not as the callback's rules say (a read
    /// pipe's data and EOF callbacks as failed loop callbacks, CPython's exception escaping
    /// `_read_ready`).
    // Checklist: L49, L51, L54, L55, T14, T30.
    Panic,
}

pub const ACTIONS: [Act; 6] = [
    Act::Write,
    Act::Flood,
    Act::Close,
    Act::Abort,
    Act::PauseReading,
    Act::Panic,
];

/// What one end saw and did, shared with the test (borrowed only outside transport calls).
#[derive(Default)]
pub struct Seen {
    pub calls: Vec<&'static str>,
    /// Bytes delivered to this end's protocol, in order.
    pub received: Vec<u8>,
    /// Bytes this end's transport accepted from `write`, in order.
    pub sent: Vec<u8>,
    pub lost: usize,
    /// The callback under test ran its action.
    pub acted: bool,
    /// `is_closing()` as `eof_received` began.
    pub closing_at_eof: Option<bool>,
}

pub type Shared = Rc<RefCell<Seen>>;

/// How a test file writes through a transport: its own checks, then [`record_and_write`].
pub type SendFn = fn(&Shared, &Transport, &[u8]);

/// Records `data` as sent, then writes it (in this order: a callback that `write` triggers
/// may write too, and its bytes go after these).
pub fn record_and_write(seen: &Shared, t: &Transport, data: &[u8]) {
    seen.borrow_mut().sent.extend_from_slice(data);
    t.write(data).unwrap();
}

/// The protocol under test. Each callback first checks the grammar so far (a failed check
/// panics inside the callback and reaches the exception handler, failing the test).
pub struct Probe {
    seen: Shared,
    cb: Cb,
    act: Act,
    buffered: bool,
    buf: Vec<u8>,
    t: Option<Transport>,
    send: SendFn,
}

/// A probe recording into `seen` that runs `act` from `cb`, writing with `send`.
pub fn probe(seen: &Shared, cb: Cb, act: Act, buffered: bool, send: SendFn) -> Probe {
    Probe {
        seen: seen.clone(),
        cb,
        act,
        buffered,
        buf: vec![0; 4096],
        t: None,
        send,
    }
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
            Act::Write => (self.send)(&self.seen, t, format!("<{cb:?}>").as_bytes()),
            Act::Flood => (self.send)(&self.seen, t, &vec![b'f'; 512 * 1024]),
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

/// Runs the loop until `cond`, at most `rounds` times waiting up to `wait` each (a stuck
/// scenario fails instead of hanging).
pub fn run_until_within(
    lp: &EventLoop,
    rounds: usize,
    wait: Duration,
    what: &str,
    mut cond: impl FnMut() -> bool,
) {
    for _ in 0..rounds {
        if cond() {
            return;
        }
        lp.run_once(Some(wait)).unwrap();
    }
    assert!(cond(), "not reached: {what}");
}

/// Writes through `t` until its protocol is paused (pause_writing), inside `write` itself, or
/// the transport closes.
pub fn write_until_paused(name: &str, seen: &Shared, t: &Transport, send: SendFn) {
    let chunk: Vec<u8> = (0..16 * 1024).map(|i| (i % 251) as u8).collect();
    let mut written = 0;
    while !t.is_closing() && !seen.borrow().calls.contains(&"pause") {
        send(seen, t, &chunk);
        written += chunk.len();
        assert!(written < 64 << 20, "{name}: never paused");
    }
}

/// The probe's end as every scenario must finish: the callback under test ran, and
/// connection_lost came exactly once and last (L44).
pub fn check_ended(name: &str, s: &Seen) {
    assert!(
        s.acted,
        "{name}: the callback under test never ran: {:?}",
        s.calls
    );
    assert_eq!(s.lost, 1, "{name}: L44 connection_lost exactly once");
    assert_eq!(s.calls.last(), Some(&"lost"), "{name}: L44 lost last");
}

/// Nothing doubled, nothing reordered: `got` is a prefix of `sent`.
pub fn check_prefix(name: &str, what: &str, sent: &[u8], got: &[u8]) {
    assert!(
        sent.starts_with(got),
        "{name}: {what}: {} B of {} B sent, not as a prefix",
        got.len(),
        sent.len()
    );
}
