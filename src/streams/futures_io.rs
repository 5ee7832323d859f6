//! The `futures-io` traits over our streams (requires the `futures-io` feature): `AsyncRead` and
//! `AsyncBufRead` for [`StreamReader`], `AsyncWrite` for [`StreamWriter`] and `&StreamWriter`,
//! so the futures ecosystem's codecs, `copy`, line readers and compressors run on a connection.
//!
//! No CPython counterpart: this is the bridge tokio and smol users expect. Every poll here is a
//! stateless step of an existing stream method, so the asyncio semantics carry over unchanged:
//! - `poll_read` is one poll of [`StreamReader::read_into`]: cancel-safe (bytes leave the buffer
//!   only when it returns `Ready`), the stored exception first (S19), `Ok(0)` at EOF, and a
//!   paused transport resumed when the buffer falls to the limit (S15) or a read must wait (S16).
//! - `poll_fill_buf` lends a *copy* of the buffer's front, kept beside the reader, and removes
//!   nothing; `consume(n)` removes `n` bytes from the reader itself. The copy is needed because
//!   the buffer lives in the connection's `RefCell` (the transport reads into it), so a slice of
//!   it cannot outlive the borrow; a copy that mirrors without taking keeps the reader lossless
//!   when the caller is dropped between `fill_buf` and `consume`, and keeps the reader's own
//!   methods consistent with it. Each byte is copied once, into one reused `Vec`.
//! - `poll_write` is [`StreamWriter::drain`] then [`StreamWriter::write`]; `poll_flush` is the
//!   drain; `poll_close` half-closes with `write_eof`, or over TLS closes and waits for the
//!   connection to be lost.
//!
//! Ground rules: as for the handles (`core.rs`): the core is borrowed for one step, never while
//! the transport is called, and no waker is woken inside a borrow. A poll that finds the core
//! held (its user keeps the protocol from `get_protocol()` borrowed across an `.await`) waits
//! for the borrow's end as a drain does (`protocol::held_wait`), touching nothing meanwhile.

use std::cell::{Cell, RefCell};
use std::io::{self, IoSlice};
use std::pin::Pin;
use std::rc::Rc;
use std::task::{ready, Context, Poll, Waker};

use futures_io::{AsyncBufRead, AsyncRead, AsyncWrite};

use super::core::{Flow, StreamCore};
use super::reader::StreamReader;
use super::writer::StreamWriter;
use crate::protocol::{
    wake_on_running_loop_when_free, wake_once_cell_free, wake_when_cell_free, HeldSlot,
};

/// The most `poll_fill_buf` copies at once. A consumer taking less comes back to the same copy;
/// one taking more gets the rest on the next call.
const STAGE_MAX: usize = 64 * 1024;

/// The futures-io state a [`StreamReader`] carries: its waiter id and the staged copy.
#[derive(Default)]
pub(super) struct ReadSide {
    /// The waiter id of a futures-io read waiting for data (as a read future's `Claim::id`);
    /// 0 when none has waited since the last `Ready`.
    id: u64,
    /// A copy of the reader's buffered bytes; `staged[pos..]` is what `poll_fill_buf` lent.
    /// Invariant: `pos <= staged.len()`.
    staged: Vec<u8>,
    /// How much of `staged` was consumed.
    pos: usize,
    /// The reader's `consumed()` count when `staged[pos]` was its first byte. The copy mirrors
    /// the reader only while the two are equal: a read through the reader's own methods moves
    /// the count and so retires the copy. With bytes `owed`, the count of `staged[pos - owed]`.
    at: u64,
    /// Bytes consumed from the copy while the core was held, not yet from the reader: taken
    /// from it at the next futures-io borrow, if the copy still mirrors it then.
    owed: usize,
    /// While the core is held: the waker its one retry wakes once the borrow ends.
    held: HeldSlot,
}

impl ReadSide {
    /// Gives up the waiter slot a dropped futures-io read left behind (S21); called when a read
    /// future is made, which proves (by `&self`) that no futures-io poll is under way.
    pub(super) fn release_stale(&self, core: &RefCell<StreamCore>) {
        if self.id != 0 {
            if let Ok(mut core) = core.try_borrow_mut() {
                core.reader.end_wait(self.id);
            }
        }
    }

    /// Whether staged bytes are left unconsumed and still mirror the reader's front.
    fn live(&self, consumed: u64) -> bool {
        self.pos < self.staged.len() && self.at == consumed
    }

    /// Takes from the reader what a `consume` made while the core was held left owed: one
    /// test while nothing is.
    #[inline]
    fn settle(&mut self, st: &mut super::reader::ReaderState) {
        if self.owed != 0 {
            self.pay_owed(st);
        }
    }

    #[cold]
    #[inline(never)]
    fn pay_owed(&mut self, st: &mut super::reader::ReaderState) {
        let owed = std::mem::take(&mut self.owed);
        // The reader's own methods cannot run while the core is held: unless they read past
        // the copy since, its front is still the bytes owed.
        if st.consumed() == self.at && st.buffered().len() >= owed {
            st.consume(owed);
            self.at += owed as u64;
        }
    }
}

/// A futures-io read polled while the core is held: polled again once the borrow ends.
#[cold]
#[inline(never)]
fn read_held<T>(core: &Rc<RefCell<StreamCore>>, slot: &mut HeldSlot, cx: &Context<'_>) -> Poll<T> {
    wake_on_running_loop_when_free(core, slot, cx);
    Poll::Pending
}

/// Byte-stream reads for the futures ecosystem (requires the `futures-io` feature).
///
/// Each `poll_read` is one poll of [`read_into`](StreamReader::read_into), with its semantics:
/// `Ok(0)` at EOF, the stored exception as an `io::Error` of its kind, and the limit's flow
/// control (a paused transport resumes as the buffer drains). Dropping the caller between polls
/// loses no byte. The two kinds futures-io forbids a poll to return, `Interrupted` and
/// `WouldBlock` (a cancellation passed on as an `io::Error` is `Interrupted`), come out as
/// `Other` with the original error inside, here and from every trait below.
///
/// Under a read timeout ([`set_read_timeout`](StreamReader::set_read_timeout)) a read counts
/// from its first wait, as the reader's own reads do. With no future of its own to carry that
/// date, a poll that finds its earlier wait not woken since counts as a new read, timed afresh:
/// a read dropped while it waited (in a `select`, under an outer timeout) does not shorten the
/// next one's timeout, while a read polled again before anything woke it (a `select` or `join`
/// whose other branch woke the task) starts its timeout over too. A read dropped after its
/// timeout passed but before it saw the failure leaves the failure to the next read. The same
/// holds for `poll_fill_buf`.
///
/// Implemented for the owned reader only: the read methods take `&self`, so a `&StreamReader`
/// impl would let two tasks poll with one waiter id and steal each other's wake-ups (a reader
/// allows one waiting read at a time). `&mut StreamReader` works, through futures-io's blanket
/// impl.
/// Method names shared with the extension traits: the reader's own `read(n)` and
/// `read_to_end()` take precedence over `AsyncReadExt`'s (call those as
/// `AsyncReadExt::read(&mut reader, &mut buf)`). `lines()` goes the other way: with
/// `AsyncBufReadExt` in scope, `reader.lines()` on an owned reader is the trait's, which takes
/// the reader by value; write `StreamReader::lines(&reader)` for ours.
///
/// ```
/// use futures_util::io::AsyncReadExt;
///
/// asyncio::run(async {
///     let mut reader = asyncio::StreamReader::new();
///     reader.feed_data(b"hello world");
///     reader.feed_eof();
///     let mut word = [0u8; 5];
///     reader.read_exact(&mut word).await?;
///     assert_eq!(&word, b"hello");
///     let mut rest = String::new();
///     reader.read_to_string(&mut rest).await?;
///     assert_eq!(rest, " world");
///     Ok::<_, std::io::Error>(())
/// })
/// .unwrap()
/// .unwrap();
/// ```
// Checklist: S14–S16, S19, S20.
impl AsyncRead for StreamReader {
    fn poll_read(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &mut [u8],
    ) -> Poll<io::Result<usize>> {
        let this = self.get_mut();
        let Ok(mut core) = this.core.try_borrow_mut() else {
            return read_held(&this.core, &mut this.io.held, cx);
        };
        this.io.settle(&mut core.reader);
        restart_unwoken(&mut core, this.io.id);
        let polled = core.poll_read_into(buf, &mut this.io.id, cx.waker());
        if polled.is_pending() && core.read_timed_out(this.io.id) {
            end_wait(&mut core.reader, &mut this.io.id);
            return Poll::Ready(Err(crate::error::Error::Timeout.into()));
        }
        let out = ready!(polled);
        end_wait(&mut core.reader, &mut this.io.id);
        Poll::Ready(out.map_err(|e| io_contract(e.into())))
    }
}

/// Buffered reads for the futures ecosystem (requires the `futures-io` feature): line codecs,
/// `read_line`, `read_until`, `lines()`.
///
/// `poll_fill_buf` waits as `read` does, then lends a copy of up to 64 KiB of the buffered
/// bytes and removes nothing; `consume(n)` removes `n` of them from the reader. The copy (made
/// once per byte, into a reused buffer) is what makes this sound without `unsafe`: the reader's
/// buffer sits in the connection's `RefCell`, where the transport writes, so no slice of it can
/// be handed out past one borrow. Bytes lent but not consumed stay in the reader: dropping the
/// caller loses nothing, and the reader's own methods see them. If the reader's own methods took
/// bytes between `poll_fill_buf` and `consume`, the copy no longer matches and `consume` leaves
/// the reader alone (the next `poll_fill_buf` copies afresh).
///
/// # Errors
/// The stored exception as an `io::Error` of its kind (`Other` for `Interrupted` and
/// `WouldBlock`, as for [`AsyncRead`]), even with a copy still lent.
///
/// ```
/// use futures_util::io::AsyncBufReadExt;
///
/// asyncio::run(async {
///     let mut reader = asyncio::StreamReader::new();
///     reader.feed_data(b"GET / HTTP/1.1\r\nHost: x\r\n");
///     reader.feed_eof();
///     let mut line = String::new();
///     reader.read_line(&mut line).await?;
///     assert_eq!(line, "GET / HTTP/1.1\r\n");
///     // What `read_line` did not consume is still the reader's.
///     assert_eq!(reader.readline().await.unwrap(), b"Host: x\r\n");
///     Ok::<_, std::io::Error>(())
/// })
/// .unwrap()
/// .unwrap();
/// ```
impl AsyncBufRead for StreamReader {
    fn poll_fill_buf(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<&[u8]>> {
        let StreamReader { core: cell, io, .. } = self.get_mut();
        let Ok(mut core) = cell.try_borrow_mut() else {
            return read_held(cell, &mut io.held, cx);
        };
        io.settle(&mut core.reader);
        if let Some(e) = core.reader.exception() {
            return Poll::Ready(Err(io_contract(e.into())));
        }
        if !io.live(core.reader.consumed()) {
            restart_unwoken(&mut core, io.id);
            let polled = core.reader.poll_fill(&mut io.id, cx.waker());
            if polled.is_pending() && core.read_timed_out(io.id) {
                end_wait(&mut core.reader, &mut io.id);
                return Poll::Ready(Err(crate::error::Error::Timeout.into()));
            }
            let st = &mut core.reader;
            let filled = ready!(polled);
            end_wait(st, &mut io.id);
            if let Err(e) = filled {
                return Poll::Ready(Err(io_contract(e.into())));
            }
            let front = st.buffered();
            let n = front.len().min(STAGE_MAX);
            io.staged.clear();
            io.staged.extend_from_slice(&front[..n]);
            io.pos = 0;
            io.at = st.consumed();
        }
        Poll::Ready(Ok(&io.staged[io.pos..]))
    }

    fn consume(self: Pin<&mut Self>, amt: usize) {
        let StreamReader { core, io, .. } = self.get_mut();
        let Ok(mut core) = core.try_borrow_mut() else {
            // Held: the copy is consumed now, the reader at the next futures-io borrow.
            let amt = amt.min(io.staged.len() - io.pos);
            io.pos += amt;
            io.owed += amt;
            return;
        };
        let st = &mut core.reader;
        io.settle(st);
        if !io.live(st.consumed()) {
            // Nothing lent, or the reader was read past the copy: nothing of ours to remove.
            io.staged.clear();
            io.pos = 0;
            return;
        }
        let amt = amt.min(io.staged.len() - io.pos);
        st.consume(amt); // S15: resumes a paused transport once at most `limit` bytes remain
        io.pos += amt;
        io.at += amt as u64;
    }
}

/// futures-io forbids `Interrupted` and `WouldBlock` from every poll (a caller may retry the
/// first at once and wait on the second, and a sticky exception would spin it): an error of
/// those kinds (a cancellation passed on as an `io::Error`, `EINTR`/`EAGAIN` given to
/// `set_exception`) leaves as kind `Other`, the original inside. A crate [`Error`] inside goes
/// in as itself, so a cancellation still reads as one (`is_cancellation`); an OS error keeps its
/// errno in the inner `io::Error`. Only errors pass here: nothing on the data path.
///
/// [`Error`]: crate::error::Error
#[cold]
fn io_contract(e: io::Error) -> io::Error {
    if !matches!(
        e.kind(),
        io::ErrorKind::Interrupted | io::ErrorKind::WouldBlock
    ) {
        return e;
    }
    match e.downcast::<crate::error::Error>() {
        Ok(inner) => io::Error::other(inner),
        Err(e) => io::Error::other(e),
    }
}

/// A read polled while its wait, begun at an earlier poll, still holds the waiter slot
/// (nothing woke it since) counts its read timeout from this poll: with no future of its own,
/// a futures-io read cannot tell a new read after an abandoned one from the same read polled
/// again, and the abandoned one's date must not shorten the new one's timeout. So does one
/// the timer failed (and woke) if the step that wake-up caused passed without polling it.
fn restart_unwoken(core: &mut StreamCore, id: u64) {
    if id == 0 {
        return;
    }
    let unwoken = core.reader.waiter_id() == Some(id);
    if let Some(dl) = &mut core.deadlines {
        if unwoken || dl.read_expiry_stale(id) {
            dl.restart_read(id);
        }
    }
}

/// A read that returned `Ready` gives up the waiter slot, as a read future's `Claim` does.
fn end_wait(st: &mut super::reader::ReaderState, id: &mut u64) {
    if *id != 0 {
        st.end_wait(*id);
        *id = 0;
    }
}

/// `drain` without its one-turn yield (S48–S52): the reader's exception first, a lost
/// connection as `ConnectionReset`, and a wait while the transport is above its high-water mark.
/// Flow state decides, so a writer paused again before this task ran waits again, which is the
/// backpressure `poll_write` wants. The one thing kept between polls is when the wait began
/// (unless nothing woke it since: see `io_drain_timed_out`), for the drain timeout
/// (`Error::Timeout` as `io::ErrorKind::TimedOut`, nothing lost).
/// `own`: polled through the owned writer, whose wait keeps one waker ([`WriteSide`]).
fn poll_drain(w: &StreamWriter, cx: &Context<'_>, own: bool) -> Poll<io::Result<()>> {
    let Ok(mut guard) = w.core.try_borrow_mut() else {
        return write_held(w, cx, own);
    };
    let core = &mut *guard;
    let out = if let Some(e) = core.reader.exception() {
        Err(e.into())
    } else {
        match core.flow() {
            Flow::Flowing => Ok(()),
            Flow::Lost => Err(io::Error::new(
                io::ErrorKind::ConnectionReset,
                "Connection lost",
            )),
            Flow::Paused => {
                // The drain timeout (`set_drain_timeout`), dated from this wait's first poll.
                if let Some(dl) = &mut core.deadlines {
                    if dl.io_drain_timed_out(&core.me) {
                        return Poll::Ready(Err(crate::error::Error::Timeout.into()));
                    }
                }
                let replaced = file_waiter(w, core, cx.waker(), own.then_some(Wait::Drain));
                drop(guard);
                drop(replaced); // after the borrow: dropping a waker may run its task's code
                return Poll::Pending;
            }
        }
    };
    if let Some(dl) = &mut core.deadlines {
        dl.io_drain_done();
    }
    Poll::Ready(out)
}

/// A futures-io write, flush or close polled while the writer's core is held: polled again
/// once the borrow ends, through one retry (kept, for the owned writer, across its polls; a
/// shared reference's poll has nowhere to keep it, and files one of its own). A loop closed
/// meanwhile ends the wait with the loop-closed error, as it ends a drain.
#[cold]
#[inline(never)]
fn write_held<T>(w: &StreamWriter, cx: &Context<'_>, own: bool) -> Poll<io::Result<T>> {
    let lp = w.transport().get_loop();
    if lp.is_closed() {
        return Poll::Ready(Err(crate::error::loop_closed_io()));
    }
    let id = w.transport().id();
    let core = Rc::downgrade(&w.core);
    if !own {
        wake_once_cell_free(lp, id, core, cx);
        return Poll::Pending;
    }
    let side = w.io_waits();
    let mut slot = side.held.take();
    wake_when_cell_free(lp, id, core, &mut slot, cx);
    side.held.set(slot);
    Poll::Pending
}

/// The futures-io waits of an owned [`StreamWriter`], each under its key among the core's
/// waiters (`wakers.rs`; 0 before its first wait). `&mut` access proves one caller, so a wait
/// polled again replaces its waker: only the last poll's must be woken (the futures-io
/// contract), and a caller whose waker changes at every poll keeps one entry, not one per poll.
/// An entry woken leaves the list; the key stays, for the next wait to file under.
#[derive(Default)]
pub(super) struct WriteSide {
    /// `poll_write`, `poll_write_vectored`, `poll_flush` and a TCP/Unix `poll_close`: one
    /// wait, for the transport to fall to its low-water mark.
    drain: Cell<u64>,
    /// A TLS `poll_close`: the wait for the connection to be lost.
    closed: Cell<u64>,
    /// While the core is held, any of these waits: the waker its one retry wakes once the
    /// borrow ends.
    held: Cell<HeldSlot>,
}

impl WriteSide {
    /// The writer `w` (whose waits these are) is dropped: its entries leave with it rather
    /// than keep their tasks alive until the next wake-up of all; while its user holds the
    /// stream's protocol, once the borrow ends.
    pub(super) fn withdraw(&self, w: &StreamWriter) {
        let keys = [self.drain.get(), self.closed.get()];
        if keys == [0, 0] {
            return;
        }
        w.settle_when_free(Box::new(move |core: &RefCell<StreamCore>| {
            let mut c = core.borrow_mut();
            let wakers = keys.map(|k| {
                if k == 0 {
                    None
                } else {
                    c.remove_keyed_waiter(k)
                }
            });
            drop(c);
            drop(wakers); // after the borrow: dropping a waker may run its task's code
        }));
    }
}

/// Which of an owned writer's waits files a waker.
#[derive(Clone, Copy)]
enum Wait {
    Drain,
    Closed,
}

/// Files `waker` among the core's waiters: under the owned writer's key for `own`'s wait
/// (replacing that wait's earlier waker, handed back to drop once the borrow ends), or, for a
/// shared reference, once per distinct waker (tasks sharing the writer wait side by side).
fn file_waiter(
    w: &StreamWriter,
    core: &mut StreamCore,
    waker: &Waker,
    own: Option<Wait>,
) -> Option<Waker> {
    let Some(wait) = own else {
        core.add_waiter(waker);
        return None;
    };
    let side = w.io_waits();
    let key = match wait {
        Wait::Drain => &side.drain,
        Wait::Closed => &side.closed,
    };
    let mut k = key.get();
    let replaced = core.add_keyed_waiter(&mut k, waker);
    key.set(k);
    replaced
}

impl StreamWriter {
    fn poll_write_io(&self, cx: &Context<'_>, buf: &[u8], own: bool) -> Poll<io::Result<usize>> {
        if buf.is_empty() {
            return Poll::Ready(Ok(0));
        }
        ready!(poll_drain(self, cx, own))?;
        self.write(buf)?;
        Poll::Ready(Ok(buf.len()))
    }

    fn poll_write_vectored_io(
        &self,
        cx: &Context<'_>,
        bufs: &[IoSlice<'_>],
        own: bool,
    ) -> Poll<io::Result<usize>> {
        let len = bufs.iter().map(|b| b.len()).sum();
        if len == 0 {
            return Poll::Ready(Ok(0));
        }
        ready!(poll_drain(self, cx, own))?;
        self.touch_activity();
        self.transport().writelines(bufs)?;
        Poll::Ready(Ok(len))
    }

    fn poll_close_io(&self, cx: &Context<'_>, own: bool) -> Poll<io::Result<()>> {
        if !self.can_write_eof() {
            // TLS: close_notify, then the connection goes; wait for it, as wait_closed does.
            self.close();
            let Ok(mut core) = self.core.try_borrow_mut() else {
                return write_held(self, cx, own);
            };
            if let Some(outcome) = core.lost_outcome() {
                return Poll::Ready(outcome.map_err(io::Error::from));
            }
            let replaced = file_waiter(self, &mut core, cx.waker(), own.then_some(Wait::Closed));
            drop(core);
            drop(replaced); // after the borrow: dropping a waker may run its task's code
            return Poll::Pending;
        }
        let Ok(core) = self.core.try_borrow() else {
            return write_held(self, cx, own);
        };
        if let Some(outcome) = core.lost_outcome() {
            return Poll::Ready(outcome.map_err(io::Error::from));
        }
        drop(core);
        self.write_eof()?; // idempotent: a second poll finds the write side shut or pending
        poll_drain(self, cx, own)
    }
}

/// `AsyncWrite` for `$ty`, through the writer's `*_io` methods (the owned writer and a shared
/// reference behave the same), each error through [`io_contract`].
macro_rules! async_write_for {
    ($(#[$attr:meta])* $ty:ty, own: $own:expr) => {
        $(#[$attr])*
        impl AsyncWrite for $ty {
            fn poll_write(
                self: Pin<&mut Self>,
                cx: &mut Context<'_>,
                buf: &[u8],
            ) -> Poll<io::Result<usize>> {
                self.poll_write_io(cx, buf, $own).map_err(io_contract)
            }

            fn poll_write_vectored(
                self: Pin<&mut Self>,
                cx: &mut Context<'_>,
                bufs: &[IoSlice<'_>],
            ) -> Poll<io::Result<usize>> {
                self.poll_write_vectored_io(cx, bufs, $own).map_err(io_contract)
            }

            fn poll_flush(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
                poll_drain(&self, cx, $own).map_err(io_contract)
            }

            fn poll_close(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
                self.poll_close_io(cx, $own).map_err(io_contract)
            }
        }
    };
}

// Checklist: S48, S50.
async_write_for!(
    /// Byte-stream writes for the futures ecosystem (requires the `futures-io` feature), on
    /// [`StreamWriter`] and on `&StreamWriter` (its methods take `&self`, and any number of tasks
    /// may wait in `drain`, so sharing it is sound).
    ///
    /// - `poll_write` waits as [`drain`](StreamWriter::drain) does while the transport is above
    ///   its high-water mark (backpressure: `copy` never buffers without bound), then hands all of
    ///   `buf` to [`write`](StreamWriter::write), which sends or buffers it; it never returns a
    ///   short count.
    /// - `poll_flush` is `drain`: it waits until the transport's buffer is at or below its
    ///   low-water mark, not until it is empty. The transport sends the rest on its own while the
    ///   loop runs.
    /// - `poll_close` where [`can_write_eof`](StreamWriter::can_write_eof) holds (TCP, Unix) calls
    ///   [`write_eof`](StreamWriter::write_eof): the peer reads EOF after the buffered bytes, and
    ///   this side can still read its answer; then it drains. The connection stays open: call
    ///   [`close`](StreamWriter::close) when done reading. Over TLS, which cannot half-close, it
    ///   calls `close` and waits for the connection to be lost, as
    ///   [`wait_closed`](StreamWriter::wait_closed) does.
    ///
    /// Under a drain timeout ([`set_drain_timeout`](StreamWriter::set_drain_timeout)) a wait
    /// counts from its first `Pending`. As for reads, a poll that finds nothing woke the writer
    /// since its last `Pending` counts as a new wait, timed afresh: a `poll_write` dropped while
    /// it waited does not shorten the next one's timeout. (A wake-up by the timeout's timer
    /// counts for the woken task's next step only: a drain dropped before its deadline passed
    /// dates no later one either.)
    ///
    /// The writer's own `write(data)` and `close()` shadow the extension trait's methods of those
    /// names: call the latter as `AsyncWriteExt::close(&mut writer)`.
    ///
    /// # Errors
    /// The reader's stored exception, then `ConnectionReset` (`Connection lost`) once the
    /// connection is lost; a write after `poll_close` fails with kind `Other` (`Cannot call
    /// write() after write_eof()`). `poll_close` on a lost connection returns how it was lost.
    /// An error of kind `Interrupted` or `WouldBlock`, which futures-io forbids, comes out as
    /// `Other` with the original inside.
    ///
    /// ```
    /// use futures_util::io::{AsyncReadExt, AsyncWriteExt};
    ///
    /// asyncio::run(async {
    ///     let server = asyncio::start_server(
    ///         |reader: asyncio::StreamReader, writer: asyncio::StreamWriter| async move {
    ///             let mut reader = reader;
    ///             futures_util::io::copy(&mut reader, &mut &writer).await?; // echo until EOF
    ///             writer.close();
    ///             Ok::<_, std::io::Error>(())
    ///         },
    ///         "127.0.0.1",
    ///         0,
    ///     )
    ///     .await?;
    ///     let port = server.sockets()[0].port().unwrap();
    ///     let (mut reader, mut writer) = asyncio::open_connection("127.0.0.1", port).await?;
    ///     writer.write_all(b"ping").await?;
    ///     AsyncWriteExt::close(&mut writer).await?; // write_eof: the server reads EOF
    ///     let mut echoed = Vec::new();
    ///     AsyncReadExt::read_to_end(&mut reader, &mut echoed).await?;
    ///     assert_eq!(echoed, b"ping");
    ///     writer.close(); // the reader is done too: release the connection
    ///     Ok::<_, std::io::Error>(())
    /// })
    /// .unwrap()
    /// .unwrap();
    /// ```
    StreamWriter,
    own: true
);
async_write_for!(
    /// As for [`StreamWriter`]: the same calls through a shared reference, which any number
    /// of tasks may hold and wait through at once. So each distinct waker a wait is polled
    /// with is kept until the next wake-up of all (resume, loss, timeout), where the owned
    /// writer keeps only the last one: a caller whose waker changes from poll to poll (one
    /// that wraps it anew each time) should write through the owned writer (`&mut`).
    &StreamWriter,
    own: false
);
