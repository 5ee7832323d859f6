//! The start of reading against the events around it: a unit test, because it needs what no
//! public API hands out, the protocol's `RefCell` before `connection_made`.

use std::cell::RefCell;
use std::io::{self, Write};
use std::net::Shutdown;
use std::rc::Rc;
use std::time::Duration;

use super::{Socket, SocketTransport};
use crate::protocol::{Protocol, ProtocolRef};
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
    let t = SocketTransport::create(&lp.handle(), sock, proto, None, None).unwrap();
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
