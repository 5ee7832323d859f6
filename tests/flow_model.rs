//! A property test of the socket transport's write buffer and flow control against a model
//! (issue #8, "Randomised testing"; L49, L64–L72).
//!
//! The transport runs over a real Unix socketpair whose send buffer is shrunk to the kernel's
//! minimum, so the kernel takes only a few KiB and the transport's own buffer does the work.
//! The peer end is read by the test itself, non-blocking, in random amounts, and its reading
//! is paused and resumed at random; writes (`write`, `writelines`) and water-mark changes
//! (`set_write_buffer_limits`, valid or not) come at random between single loop iterations.
//!
//! The model checks, after every step:
//! - bytes out == bytes in, in order (each peer read is checked against the written stream;
//!   at the end everything written has been read);
//! - `pause_writing` / `resume_writing` strictly alternate, starting with pause;
//! - pause fires exactly when a `write`/`writelines`/`set_write_buffer_limits` leaves the buffer
//!   above high while not paused (and the size seen inside the callback is that size);
//! - resume fires exactly when a flush makes progress while paused and leaves the buffer at or
//!   below low (raising the marks never resumes by itself, L71);
//! - a rejected `set_write_buffer_limits` changes nothing.
//!
//! Fixed seed, 128 cases, each case on a fresh loop: deterministic and well under a second.

mod util;

use std::cell::RefCell;
use std::io::{ErrorKind, IoSlice, Read};
use std::os::unix::net::UnixStream;
use std::rc::Rc;
use std::time::Duration;

use asyncio::{Error, EventLoop, Protocol, Transport};
use proptest::prelude::*;
use proptest::test_runner::{Config, RngSeed};

/// One step of a case.
#[derive(Clone, Debug)]
enum Op {
    /// `write` of this many bytes of the stream.
    Write(usize),
    /// Several `write`s in a row, with no loop iteration between them.
    Burst(Vec<usize>),
    /// With bytes buffered (so `write` only appends), a `write` that leaves the buffer at
    /// exactly high + this (-1, 0 or 1): the edge of L70's "strictly greater".
    WriteAroundHigh(isize),
    /// `writelines` of chunks of these sizes.
    WriteLines(Vec<usize>),
    /// The peer reads up to this many bytes, if its reading is not paused.
    PeerRead(usize),
    PeerPause,
    PeerResume,
    /// `set_write_buffer_limits(Some(high), Some(low))`; rejected when low > high.
    Limits {
        high: usize,
        low: usize,
    },
    /// Limits with high = the current buffer size + this (-1, 0 or 1), low = min(low, high).
    LimitsAroundSize {
        high: isize,
        low: usize,
    },
    /// One loop iteration (poll with timeout 0): the flush happens here.
    Turn,
    /// This many rounds of: the peer reads what is there (if reading), one loop iteration.
    Pump(usize),
}

/// A water mark: often 0 or 1 (the edges of L70), else anything up to 12 000.
fn mark() -> impl Strategy<Value = usize> {
    prop_oneof![1 => Just(0usize), 1 => Just(1usize), 4 => 0usize..12_000]
}

fn op() -> impl Strategy<Value = Op> {
    prop_oneof![
        3 => (1usize..2_000).prop_map(Op::Write),
        1 => (1usize..30_000).prop_map(Op::Write),
        2 => prop::collection::vec(1usize..4_000, 1..20).prop_map(Op::Burst),
        1 => prop::collection::vec(0usize..4_000, 0..5).prop_map(Op::WriteLines),
        2 => (0usize..3).prop_map(|d| Op::WriteAroundHigh(d as isize - 1)),
        3 => (1usize..16_000).prop_map(Op::PeerRead),
        2 => (1usize..50).prop_map(Op::Pump),
        1 => Just(Op::PeerPause),
        1 => Just(Op::PeerResume),
        2 => (mark(), mark(), 0usize..8).prop_map(|(a, b, k)| {
            // Mostly valid (high >= low), sometimes not.
            if k == 0 { Op::Limits { high: a.min(b), low: a.max(b) + 1 } }
            else { Op::Limits { high: a.max(b), low: a.min(b) } }
        }),
        1 => (0usize..3, mark()).prop_map(|(d, low)| Op::LimitsAroundSize {
            high: d as isize - 1,
            low,
        }),
        4 => Just(Op::Turn),
    ]
}

/// The byte at offset `i` of the written stream.
fn pattern(i: u64) -> u8 {
    (i % 251) as u8
}

/// A pause/resume callback as the protocol saw it.
#[derive(Clone, Debug, PartialEq)]
struct Edge {
    pause: bool,
    /// `get_write_buffer_size()` inside the callback.
    size: usize,
    /// `get_write_buffer_limits()` inside the callback: (low, high).
    limits: (usize, usize),
}

#[derive(Default)]
struct Flow {
    transport: Option<Transport>,
    edges: Vec<Edge>,
    lost: Vec<Option<ErrorKind>>,
}

impl Flow {
    fn edge(&mut self, pause: bool) {
        let t = self.transport.as_ref().expect("connection_made first");
        self.edges.push(Edge {
            pause,
            size: t.get_write_buffer_size(),
            limits: t.get_write_buffer_limits(),
        });
    }
}

impl Protocol for Flow {
    fn connection_made(&mut self, t: Transport) {
        self.transport = Some(t);
    }
    fn connection_lost(&mut self, exc: Option<std::io::Error>) {
        self.lost.push(exc.map(|e| e.kind()));
    }
    fn pause_writing(&mut self) {
        self.edge(true);
    }
    fn resume_writing(&mut self) {
        self.edge(false);
    }
}

/// The model's state and the real objects it watches.
struct Case {
    lp: EventLoop,
    t: Transport,
    proto: Rc<RefCell<Flow>>,
    peer: UnixStream,
    /// Bytes handed to `write`/`writelines` so far.
    written: u64,
    /// Bytes the peer has read (and checked) so far.
    read: u64,
    peer_reading: bool,
    /// The model's "protocol is paused" flag.
    paused: bool,
    /// The model's water marks, (low, high).
    limits: (usize, usize),
    /// Edges already checked.
    seen: usize,
    /// The peer's read buffer (64 KiB, the most one read asks for).
    peer_buf: Vec<u8>,
}

impl Case {
    fn new(high: usize, low: usize) -> Case {
        let lp = EventLoop::new().unwrap();
        let (ours, peer) = UnixStream::pair().unwrap();
        // The kernel's minimum: only a few KiB in flight, the rest waits in our buffer.
        socket2::SockRef::from(&ours)
            .set_send_buffer_size(1)
            .unwrap();
        socket2::SockRef::from(&peer)
            .set_recv_buffer_size(1)
            .unwrap();
        peer.set_nonblocking(true).unwrap();
        let (t, proto) = lp
            .run_until_complete(lp.connect_socket(Flow::default, ours))
            .unwrap()
            .unwrap();
        t.set_write_buffer_limits(Some(high), Some(low)).unwrap();
        let limits = t.get_write_buffer_limits();
        assert_eq!(limits, (low, high));
        Case {
            lp,
            t,
            proto,
            peer,
            written: 0,
            read: 0,
            peer_reading: true,
            paused: false,
            limits,
            seen: 0,
            peer_buf: vec![0; 64 * 1024],
        }
    }

    /// Edges that came since the last call.
    fn new_edges(&mut self) -> Vec<Edge> {
        let p = self.proto.borrow();
        let new = p.edges[self.seen..].to_vec();
        self.seen = p.edges.len();
        new
    }

    fn stream(&self, n: usize) -> Vec<u8> {
        (self.written..self.written + n as u64)
            .map(pattern)
            .collect()
    }

    /// After a user call that may pause (write, writelines, set_write_buffer_limits).
    fn check_pause_point(&mut self, what: &str) -> Result<(), TestCaseError> {
        let size = self.t.get_write_buffer_size();
        let edges = self.new_edges();
        let (low, high) = self.limits;
        if !self.paused && size > high {
            prop_assert_eq!(
                edges,
                vec![Edge {
                    pause: true,
                    size,
                    limits: (low, high)
                }],
                "{}: size {} > high {} must pause once",
                what,
                size,
                high
            );
            self.paused = true;
        } else {
            prop_assert!(
                edges.is_empty(),
                "{}: size {} (low {}, high {}, paused {}) but edges {:?}",
                what,
                size,
                low,
                high,
                self.paused,
                edges
            );
        }
        Ok(())
    }

    /// One loop iteration; a flush may happen, and with it a resume.
    fn turn(&mut self) -> Result<(), TestCaseError> {
        let before = self.t.get_write_buffer_size();
        self.lp.run_once(Some(Duration::ZERO)).unwrap();
        let after = self.t.get_write_buffer_size();
        prop_assert!(
            after <= before,
            "the buffer grew in a turn: {} -> {}",
            before,
            after
        );
        let edges = self.new_edges();
        let (low, high) = self.limits;
        if self.paused && after < before && after <= low {
            prop_assert_eq!(
                edges,
                vec![Edge {
                    pause: false,
                    size: after,
                    limits: (low, high)
                }],
                "flush {} -> {} at or below low {} must resume once",
                before,
                after,
                low
            );
            self.paused = false;
        } else {
            prop_assert!(
                edges.is_empty(),
                "turn {} -> {} (low {}, high {}, paused {}): unexpected {:?}",
                before,
                after,
                low,
                high,
                self.paused,
                edges
            );
        }
        Ok(())
    }

    /// The peer reads up to `n` bytes and checks them against the stream.
    fn peer_read(&mut self, n: usize) -> Result<(), TestCaseError> {
        let n = n.min(self.peer_buf.len());
        let got = match self.peer.read(&mut self.peer_buf[..n]) {
            Ok(0) => return Err(TestCaseError::fail("EOF on the peer")),
            Ok(got) => got,
            Err(e) if e.kind() == ErrorKind::WouldBlock => 0,
            Err(e) => return Err(TestCaseError::fail(format!("peer read: {e}"))),
        };
        for (k, &b) in self.peer_buf[..got].iter().enumerate() {
            let at = self.read + k as u64;
            prop_assert_eq!(b, pattern(at), "byte {} out of order or corrupted", at);
        }
        self.read += got as u64;
        prop_assert!(
            self.read <= self.written,
            "the peer read bytes never written"
        );
        Ok(())
    }

    fn step(&mut self, op: &Op) -> Result<(), TestCaseError> {
        match op {
            Op::Write(n) => {
                let data = self.stream(*n);
                self.t.write(&data).unwrap();
                self.written += *n as u64;
                self.check_pause_point("write")?;
            }
            Op::Burst(sizes) => {
                for &n in sizes {
                    self.step(&Op::Write(n))?;
                }
            }
            Op::WriteAroundHigh(d) => {
                let size = self.t.get_write_buffer_size();
                let target = self.limits.1.checked_add_signed(*d);
                if let Some(n) = target.filter(|&t| size > 0 && t > size).map(|t| t - size) {
                    self.step(&Op::Write(n))?;
                    prop_assert_eq!(self.t.get_write_buffer_size(), size + n, "L66: appended");
                }
            }
            Op::LimitsAroundSize { high, low } => {
                let size = self.t.get_write_buffer_size();
                if let Some(high) = size.checked_add_signed(*high) {
                    let low = (*low).min(high);
                    self.step(&Op::Limits { high, low })?;
                }
            }
            Op::WriteLines(sizes) => {
                let total: usize = sizes.iter().sum();
                let data = self.stream(total);
                let mut slices = Vec::new();
                let mut at = 0;
                for &s in sizes {
                    slices.push(IoSlice::new(&data[at..at + s]));
                    at += s;
                }
                self.t.writelines(&slices).unwrap();
                self.written += total as u64;
                self.check_pause_point("writelines")?;
            }
            Op::PeerRead(n) if self.peer_reading => self.peer_read(*n)?,
            Op::PeerRead(_) => {}
            Op::PeerPause => self.peer_reading = false,
            Op::PeerResume => self.peer_reading = true,
            Op::Limits { high, low } => {
                match self.t.set_write_buffer_limits(Some(*high), Some(*low)) {
                    Ok(()) => {
                        prop_assert!(high >= low, "accepted high {} < low {}", high, low);
                        self.limits = (*low, *high);
                    }
                    Err(e) => {
                        prop_assert!(high < low, "rejected valid marks: {}", e);
                        prop_assert!(matches!(e, Error::InvalidArgument(_)), "{:?}", e);
                    }
                }
                prop_assert_eq!(self.t.get_write_buffer_limits(), self.limits);
                self.check_pause_point("set_write_buffer_limits")?;
            }
            Op::Turn => self.turn()?,
            Op::Pump(rounds) => {
                for _ in 0..*rounds {
                    if self.peer_reading {
                        self.peer_read(64 * 1024)?;
                    }
                    self.turn()?;
                }
            }
        }
        Ok(())
    }

    /// The peer reads everything; the buffer empties; every byte arrived in order.
    fn finish(&mut self) -> Result<(), TestCaseError> {
        self.peer_reading = true;
        for _ in 0..100_000 {
            if self.read == self.written && self.t.get_write_buffer_size() == 0 {
                break;
            }
            self.peer_read(64 * 1024)?;
            self.turn()?;
        }
        prop_assert_eq!(self.read, self.written, "bytes out != bytes in");
        prop_assert_eq!(self.t.get_write_buffer_size(), 0);
        prop_assert!(!self.paused, "still paused with an empty buffer");
        let p = self.proto.borrow();
        // Strict alternation, starting with pause (L49), over the whole case.
        for (i, e) in p.edges.iter().enumerate() {
            prop_assert_eq!(e.pause, i % 2 == 0, "edges do not alternate: {:?}", p.edges);
        }
        prop_assert!(p.lost.is_empty(), "connection lost: {:?}", p.lost);
        Ok(())
    }
}

fn run_case(marks: (usize, usize), ops: &[Op]) -> Result<(), TestCaseError> {
    let (a, b) = marks;
    let mut case = Case::new(a.max(b), a.min(b));
    let seen = util::capture_exceptions(&case.lp);
    for op in ops {
        case.step(op)?;
    }
    case.finish()?;
    prop_assert!(seen.borrow().is_empty(), "reported: {:?}", seen.borrow());
    case.t.close();
    util::run_until(&case.lp, 100, || !case.proto.borrow().lost.is_empty());
    prop_assert_eq!(&case.proto.borrow().lost, &vec![None]);
    Ok(())
}

proptest! {
    #![proptest_config(Config {
        cases: 128,
        rng_seed: RngSeed::Fixed(0x8_f10c_0de1),
        failure_persistence: None,
        ..Config::default()
    })]

    #[test]
    fn write_buffer_and_flow_control_match_the_model(
        marks in (0usize..20_000, 0usize..20_000),
        ops in prop::collection::vec(op(), 1..150),
    ) {
        run_case(marks, &ops)?;
    }
}
