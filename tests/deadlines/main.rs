//! Per-stream deadlines (issue #16): the read timeout, the drain timeout and the idle timeout
//! of `StreamReader` / `StreamWriter`. Time is a `ManualClock`: a deadline passes only when a
//! test moves the clock, so every assertion is about order and outcome, never elapsed time.
//! Each test drives its loop with bounded `run_once` calls.

#[cfg(feature = "tls")]
#[path = "../tls_common/mod.rs"]
mod tls_common;
#[path = "../util/mod.rs"]
mod util;

use std::cell::RefCell;
use std::future::Future;
use std::rc::Rc;
use std::time::Duration;

use asyncio::{Error, EventLoop, ManualClock, StreamReader, StreamWriter};

fn ms(n: u64) -> Duration {
    Duration::from_millis(n)
}

/// A loop on a manual clock and a connected pair of streams over a socketpair.
struct Rig {
    clock: ManualClock,
    lp: EventLoop,
    reader: Rc<StreamReader>,
    writer: Rc<StreamWriter>,
    peer_reader: Rc<StreamReader>,
    peer_writer: Rc<StreamWriter>,
}

fn rig() -> Rig {
    let clock = ManualClock::new();
    let lp = EventLoop::with_clock(clock.clone()).unwrap();
    let ((reader, writer), (peer_reader, peer_writer)) = lp
        .run_until_complete(async {
            let (a, b) = asyncio::socketpair()?;
            let ours = asyncio::open_connection_sock(a).await?;
            let theirs = asyncio::open_connection_sock(b).await?;
            Ok::<_, Error>((ours, theirs))
        })
        .unwrap()
        .unwrap();
    Rig {
        clock,
        lp,
        reader: Rc::new(reader),
        writer: Rc::new(writer),
        peer_reader: Rc::new(peer_reader),
        peer_writer: Rc::new(peer_writer),
    }
}

/// A loop on a manual clock and a stream writer (shared) with `idle` as its idle timeout,
/// over a socketpair whose other end stays a plain non-blocking socket:
/// `(clock, loop, writer, its reader, the raw peer)`.
fn idle_writer_to_a_raw_peer(
    idle: Duration,
) -> (
    ManualClock,
    EventLoop,
    Rc<StreamWriter>,
    StreamReader,
    std::os::unix::net::UnixStream,
) {
    let clock = ManualClock::new();
    let lp = EventLoop::with_clock(clock.clone()).unwrap();
    let (a, b) = asyncio::socketpair().unwrap();
    b.set_nonblocking(true).unwrap();
    let (reader, writer) = lp
        .run_until_complete(asyncio::open_connection_sock(a))
        .unwrap()
        .unwrap();
    let writer = Rc::new(writer);
    writer.set_idle_timeout(Some(idle));
    (clock, lp, writer, reader, b)
}

/// One millisecond of a slow raw peer: the clock moves on, the loop turns, and `b` reads
/// into `got` what has arrived, at most `buf`'s length.
fn a_slow_peers_millisecond(
    clock: &ManualClock,
    lp: &EventLoop,
    b: &mut std::os::unix::net::UnixStream,
    buf: &mut [u8],
    got: &mut Vec<u8>,
) {
    use std::io::Read;
    clock.advance(ms(1));
    for _ in 0..3 {
        lp.run_once(Some(Duration::ZERO)).unwrap();
    }
    match b.read(buf) {
        Ok(n) => got.extend_from_slice(&buf[..n]),
        Err(e) => assert_eq!(e.kind(), std::io::ErrorKind::WouldBlock, "{e}"),
    }
}

/// Where a spawned operation's outcome lands.
type Slot<T> = Rc<RefCell<Option<T>>>;

impl Rig {
    /// Spawns `fut` on the loop; its output goes to the returned slot.
    fn spawn<T: 'static>(&self, fut: impl std::future::Future<Output = T> + 'static) -> Slot<T> {
        let slot: Slot<T> = Rc::default();
        let out = slot.clone();
        let task = self.lp.handle().spawn(async move {
            *out.borrow_mut() = Some(fut.await);
        });
        drop(task.unwrap()); // detached: the slot says when it is done
        slot
    }

    /// Turns the loop until `cond` holds (bounded).
    fn until(&self, cond: impl FnMut() -> bool) {
        util::run_until(&self.lp, 10_000, cond);
    }

    /// Turns the loop a few times without moving the clock: whatever is ready happens.
    fn settle(&self) {
        for _ in 0..20 {
            self.lp.run_once(Some(Duration::ZERO)).unwrap();
        }
    }

    /// Runs `fut` to completion (it must not need the clock to move).
    fn block_on<T: 'static>(&self, fut: impl std::future::Future<Output = T> + 'static) -> T {
        let slot = self.spawn(fut);
        self.until(|| slot.borrow().is_some());
        let out = slot.borrow_mut().take().unwrap();
        out
    }

    /// Lets `d` of loop time pass a millisecond at a time, the loop turning at each, as time
    /// flows for a real loop (the timers look at the streams on their schedule).
    fn pass(&self, d: Duration) {
        for _ in 0..d.as_millis() {
            self.clock.advance(ms(1));
            for _ in 0..3 {
                self.lp.run_once(Some(Duration::ZERO)).unwrap();
            }
        }
    }

    /// Lets time pass a millisecond at a time until `cond` holds, at most `limit`.
    fn pass_until(&self, limit: Duration, mut cond: impl FnMut() -> bool) {
        for _ in 0..limit.as_millis() {
            if cond() {
                return;
            }
            self.pass(ms(1));
        }
        assert!(cond(), "not reached within {limit:?} of loop time");
    }

    fn timers(&self) -> usize {
        self.lp.handle().stats().timers
    }
}

/// A rig whose writer has a drain timeout of `d` and a 64 KiB high-water mark.
fn drain_rig(d: Duration) -> Rig {
    let r = rig();
    r.writer.set_drain_timeout(Some(d));
    r.writer
        .transport()
        .set_write_buffer_limits(Some(64 * 1024), None)
        .unwrap();
    r
}

impl Drop for Rig {
    fn drop(&mut self) {
        self.writer.transport().abort();
        self.peer_writer.transport().abort();
        self.settle();
    }
}

mod dating;
mod drain_timeout;
mod held;
mod idle_timeout;
mod read_timeout;
