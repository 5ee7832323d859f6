//! What a stream's deadlines cost in memory: the idle timeout's shared record (bytes moved,
//! and the timeout itself for the writer's getter) is made by the first `set_idle_timeout`,
//! so a stream with a read or drain timeout only does not hold it. Its own test binary,
//! because it installs a global allocator that counts live bytes (one test: a second one,
//! run on another thread, would move the count).

use std::time::Duration;

use asyncio::{Error, EventLoop, ManualClock};

mod live_bytes;

#[global_allocator]
static GLOBAL: live_bytes::LiveBytes = live_bytes::LiveBytes;

/// The live bytes that setting a read and a drain timeout on a fresh stream adds, then what
/// an idle timeout set after them adds. A read waits meanwhile, so that the stream's timer
/// is armed by the read timeout and the idle timeout (as long, its look no earlier) finds
/// it armed: what the idle timeout adds is its own state only.
fn bytes_of_timeouts(lp: &EventLoop) -> (isize, isize) {
    let secs = Duration::from_secs(60);
    lp.run_until_complete(async move {
        let (a, b) = asyncio::socketpair()?;
        let (reader, writer) = asyncio::open_connection_sock(a).await?;
        let (_peer_reader, peer_writer) = asyncio::open_connection_sock(b).await?;
        let reader = std::rc::Rc::new(reader);
        let read = asyncio::spawn({
            let reader = reader.clone();
            async move { reader.read(10).await }
        });
        asyncio::yield_now().await; // the read waits
        let start = live_bytes::live();
        reader.set_read_timeout(Some(secs))?;
        writer.set_drain_timeout(Some(secs));
        let read_and_drain = live_bytes::live() - start;
        let before_idle = live_bytes::live();
        writer.set_idle_timeout(Some(secs));
        let idle = live_bytes::live() - before_idle;
        assert_eq!(writer.idle_timeout(), Some(secs));
        writer.transport().abort();
        peer_writer.transport().abort();
        let _ = read.await; // ended by the abort
        Ok::<_, Error>((read_and_drain, idle))
    })
    .unwrap()
    .unwrap()
}

/// The idle timeout's record used to be made with the deadlines themselves, by any timeout
/// (a read timeout alone, say), and every such stream held it; since it also mirrors the
/// idle timeout (16 B, for the getter to answer while the protocol is held) it is made
/// only when an idle timeout is set. Checked by reverting: the idle timeout then added
/// 0 bytes (the record was there already).
#[test]
fn only_an_idle_timeout_makes_the_idle_record() {
    let lp = EventLoop::with_clock(ManualClock::new()).unwrap();
    // A first stream with all three: the loop's tables (timer slab, pools) grow to hold them,
    // so that the measured stream's figures are its own.
    let _ = bytes_of_timeouts(&lp);
    let (read_and_drain, idle) = bytes_of_timeouts(&lp);
    assert!(read_and_drain > 0, "the read and drain timeouts' own state");
    assert!(
        (24..=48).contains(&idle),
        "the idle timeout made its record ({idle} B; read and drain took {read_and_drain} B)"
    );
    lp.close().unwrap();
}
