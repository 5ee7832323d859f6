//! What a loop holds right now ([`LoopStats`]): tasks, timers, registrations, buffers. No
//! CPython counterpart; the figures `make bench` and the leak tests read.

use super::LoopHandle;

/// Counters of what a loop holds, for tests and leak checks ([`LoopHandle::stats`]).
///
/// # Examples
///
/// ```
/// asyncio::run(async {
///     let lp = asyncio::get_running_loop().unwrap();
///     let before = lp.stats();
///     let task = asyncio::spawn(asyncio::yield_now());
///     assert_eq!(lp.stats().tasks, before.tasks + 1);
///     task.await.unwrap();
///     assert_eq!(lp.stats().tasks, before.tasks, "an ended task leaves nothing behind");
/// })
/// .unwrap();
/// ```
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct LoopStats {
    /// Tasks spawned and not yet ended.
    pub tasks: usize,
    /// Timers scheduled and not yet due or cancelled (sleeps included).
    pub timers: usize,
    /// I/O registrations: transports, listeners, `add_reader`/`add_writer` descriptors.
    pub io_registrations: usize,
    /// Entries waiting in the ready queue.
    pub ready: usize,
    /// Stream readers holding a read buffer: those with unread bytes, or with a buffer grown
    /// past the pool's largest size. A reader that is waiting for data holds none.
    pub reader_buffers: usize,
    /// Read buffers kept for reuse by this loop's stream readers (a few dozen at most).
    pub pooled_buffers: usize,
    /// Bytes waiting in all the socket transports' write buffers.
    pub write_buffered: usize,
    /// Socket transports whose protocol is paused for writing (above the high-water mark).
    pub writing_paused: usize,
    /// Socket transports not reading (paused by their protocol, or closing).
    pub reading_paused: usize,
}

impl LoopHandle {
    /// What the loop holds right now. A closed connection or an ended task leaves nothing here.
    /// Counted in the process, without a system call (what the kernel holds unsent is per
    /// transport: [`Transport::buffer_info`](crate::Transport::buffer_info)).
    ///
    /// # Examples
    ///
    /// ```
    /// let lp = asyncio::EventLoop::new()?;
    /// lp.call_soon(|| ())?;
    /// assert_eq!(lp.stats().ready, 1);
    /// lp.run_until_complete(asyncio::yield_now())?;
    /// assert_eq!(lp.stats(), asyncio::LoopStats::default()); // nothing left behind
    /// # Ok::<_, asyncio::Error>(())
    /// ```
    pub fn stats(&self) -> LoopStats {
        let totals = self.inner.io.borrow().buffer_totals();
        LoopStats {
            tasks: self.inner.tasks.borrow().len(),
            timers: self.inner.timers.borrow().len(),
            io_registrations: self.inner.io.borrow().len(),
            ready: self.inner.ready.len(),
            reader_buffers: self.inner.reader_pool.held(),
            pooled_buffers: self.inner.reader_pool.pooled(),
            write_buffered: totals.write_buffered,
            writing_paused: totals.writing_paused,
            reading_paused: totals.reading_paused,
        }
    }
}

#[cfg(test)]
mod tests {
    use crate::transport::KERNEL_UNSENT_ASKED;
    use crate::{Error, EventLoop};

    struct Quiet;
    impl crate::Protocol for Quiet {}

    fn asked() -> usize {
        KERNEL_UNSENT_ASKED.with(std::cell::Cell::get)
    }

    /// `stats()` sums the transports' write buffers and pause states, and reports nothing
    /// the kernel holds: it asked the kernel anyway, one `SIOCOUTQ` per TCP transport and
    /// one `FIONREAD` per write pipe on every call (a worker group's `stats()` over
    /// thousands of connections: thousands of system calls). Checked by reverting the fix:
    /// 2 asked here instead of 0. A transport's own `buffer_info` still asks (it reports it).
    #[cfg(target_os = "linux")]
    #[test]
    fn stats_asks_the_kernel_nothing() {
        let lp = EventLoop::new().unwrap();
        let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
        let port = listener.local_addr().unwrap().port();
        let (_read_end, write_end) = crate::transport::pipe::os_pipe().unwrap();
        let h = lp.handle();
        let ((_reader, writer), (pipe, _)) = lp
            .run_until_complete(async move {
                let tcp = crate::open_connection("127.0.0.1", port).await?;
                let pipe = h.connect_write_pipe(|| Quiet, write_end).await?;
                Ok::<_, Error>((tcp, pipe))
            })
            .unwrap()
            .unwrap();
        let _peer = listener.accept().unwrap();
        let before = asked();
        let stats = lp.stats();
        assert_eq!(stats.io_registrations, 2, "{stats:?}");
        assert_eq!(asked() - before, 0, "stats() asked the kernel");
        assert_eq!(writer.buffer_info().kernel_unsent, Some(0));
        assert_eq!(pipe.buffer_info().kernel_unsent, Some(0));
        assert_eq!(
            asked() - before,
            2,
            "each transport's buffer_info asks once"
        );
        writer.transport().abort();
        pipe.abort();
        lp.close().unwrap();
    }
}
