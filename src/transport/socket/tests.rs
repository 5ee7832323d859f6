//! The start of reading against the events around it: a unit test, because it needs what no
//! public API hands out, the protocol's `RefCell` before `connection_made`. Also a resume of
//! reading against the same events (which bytes, or EOF, the re-registration announces).

use std::cell::RefCell;
use std::io::{self, Write};
use std::net::Shutdown;
use std::rc::Rc;
use std::time::Duration;

use super::{Socket, SocketTransport};
use crate::protocol::{Protocol, ProtocolRef};
use crate::transport::life_path::LifePath;
use crate::transport::Transport;
use crate::EventLoop;

/// What the protocol was told, in order.
#[derive(Default)]
struct Told(Vec<String>);

impl Protocol for Told {
    fn connection_made(&mut self, _t: Transport) {
        self.0.push("made".into());
    }
    fn data_received(&mut self, data: &[u8]) {
        self.0
            .push(format!("data {}", String::from_utf8_lossy(data)));
    }
    fn eof_received(&mut self) -> bool {
        self.0.push("eof".into());
        false
    }
    fn connection_lost(&mut self, _exc: Option<io::Error>) {
        self.0.push("lost".into());
    }
}

// Checklist: L45, L62. Bytes and the peer's EOF come while connection_made waits for a busy
// protocol: their event is polled and passed over before reading starts, and no other event
// will come, so the start of reading must read them, EOF included.
#[test]
fn l45_l62_bytes_and_eof_passed_over_before_reading_starts_are_read_at_the_start() {
    let lp = EventLoop::new().unwrap();
    let (ours, mut peer) = std::os::unix::net::UnixStream::pair().unwrap();
    ours.set_nonblocking(true).unwrap();
    let told = Rc::new(RefCell::new(Told::default()));
    let proto: ProtocolRef = told.clone();
    let sock = Socket::Unix(mio::net::UnixStream::from_std(ours));
    let t = SocketTransport::create(&lp.handle(), sock, proto).unwrap();
    peer.write_all(b"hi").unwrap();
    peer.shutdown(Shutdown::Write).unwrap();
    {
        // Held across the turns that run connection_made, the start of reading and the
        // readable event: both wait for the protocol, the event is passed over.
        let _busy = told.borrow_mut();
        for _ in 0..3 {
            lp.run_once(Some(Duration::ZERO)).unwrap();
        }
    }
    for _ in 0..1000 {
        if told
            .try_borrow()
            .is_ok_and(|p| p.0.last().is_some_and(|l| l == "lost"))
        {
            break;
        }
        lp.run_once(Some(Duration::from_millis(10))).unwrap();
    }
    assert_eq!(told.borrow().0, ["made", "data hi", "eof", "lost"]);
    drop(t);
}

/// A buffered protocol with a 4-byte buffer that records its calls and, when told, pauses
/// reading from inside `buffer_updated`.
struct Buffered {
    buf: [u8; 4],
    calls: Vec<String>,
    transport: Option<Transport>,
    pause_in_update: bool,
}

impl Protocol for Buffered {
    fn connection_made(&mut self, t: Transport) {
        self.calls.push("made".into());
        self.transport = Some(t);
    }
    fn eof_received(&mut self) -> bool {
        self.calls.push("eof".into());
        true
    }
    fn as_buffered(&mut self) -> Option<&mut dyn crate::protocol::BufferedProtocol> {
        Some(self)
    }
}

impl crate::protocol::BufferedProtocol for Buffered {
    fn get_buffer(&mut self, _: usize) -> &mut [u8] {
        self.calls.push("get_buffer".into());
        &mut self.buf
    }
    fn buffer_updated(&mut self, n: usize) {
        self.calls.push(format!(
            "updated {}",
            String::from_utf8_lossy(&self.buf[..n])
        ));
        if std::mem::take(&mut self.pause_in_update) {
            if let Some(t) = &self.transport {
                t.pause_reading();
            }
        }
    }
}

/// Turns of the loop that poll without waiting: whatever is ready or readable now runs.
fn turns(lp: &EventLoop, n: usize) {
    for _ in 0..n {
        lp.run_once(Some(Duration::ZERO)).unwrap();
    }
}

/// Runs the loop until `p`'s calls number `n`, bounded.
fn until_calls(lp: &EventLoop, p: &RefCell<Buffered>, n: usize) {
    for _ in 0..1000 {
        if p.borrow().calls.len() >= n {
            return;
        }
        lp.run_once(Some(Duration::from_millis(10))).unwrap();
    }
    panic!("only {:?}", p.borrow().calls);
}

// Checklist: L50, L79. CPython's resume_reading re-adds the reader, and the selector calls it
// only when the socket is readable: a buffered protocol is asked for a buffer only with bytes
// (or an EOF) to put in it. Here a resume queued a read of its own, which asked `get_buffer`
// and then heard `WouldBlock` (checked: with that read put back, the first assertion fails
// with an extra "get_buffer"). Bytes that came while paused, bytes a pause left unread in the
// kernel, and an EOF that came while paused are all delivered after the resume.
#[test]
fn l50_l79_a_resume_asks_a_buffered_protocol_for_a_buffer_only_when_readable() {
    let lp = EventLoop::new().unwrap();
    let (ours, mut peer) = std::os::unix::net::UnixStream::pair().unwrap();
    ours.set_nonblocking(true).unwrap();
    let p = Rc::new(RefCell::new(Buffered {
        buf: [0; 4],
        calls: Vec::new(),
        transport: None,
        pause_in_update: false,
    }));
    let proto: ProtocolRef = p.clone();
    let sock = Socket::Unix(mio::net::UnixStream::from_std(ours));
    let t = SocketTransport::create(&lp.handle(), sock, proto).unwrap();
    let handle = t.handle();
    turns(&lp, 5);
    assert_eq!(p.borrow().calls, ["made"]);

    // Nothing there: a resume calls nobody.
    handle.pause_reading();
    handle.resume_reading();
    turns(&lp, 5);
    assert_eq!(p.borrow().calls, ["made"], "a resume with nothing to read");

    // Bytes that came while paused.
    handle.pause_reading();
    peer.write_all(b"ab").unwrap();
    turns(&lp, 5);
    assert_eq!(p.borrow().calls, ["made"], "paused");
    handle.resume_reading();
    until_calls(&lp, &p, 3);
    turns(&lp, 5);
    assert_eq!(p.borrow().calls[1..], ["get_buffer", "updated ab"]);

    // A pause from inside buffer_updated with bytes left in the kernel: a full read, then
    // nothing until the resume, then the rest.
    p.borrow_mut().calls.clear();
    p.borrow_mut().pause_in_update = true;
    peer.write_all(b"cdefgh").unwrap();
    until_calls(&lp, &p, 2);
    turns(&lp, 5);
    assert_eq!(p.borrow().calls, ["get_buffer", "updated cdef"]);
    handle.resume_reading();
    until_calls(&lp, &p, 4);
    turns(&lp, 5);
    assert_eq!(p.borrow().calls[2..], ["get_buffer", "updated gh"]);

    // An EOF that came while paused.
    p.borrow_mut().calls.clear();
    handle.pause_reading();
    peer.shutdown(Shutdown::Write).unwrap();
    turns(&lp, 5);
    handle.resume_reading();
    until_calls(&lp, &p, 2);
    turns(&lp, 5);
    assert_eq!(p.borrow().calls, ["get_buffer", "eof"]);
    handle.close();
    turns(&lp, 3);
    drop(t);
}
