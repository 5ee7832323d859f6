//! The read futures of [`StreamReader`]: named, `#[must_use]`, each holding a `Claim` on the
//! reader's single waiter slot (S20, S21). Bytes leave the buffer only when a future returns
//! `Ready`, so dropping one at any point loses nothing (S22, D1).

use super::*;

/// A read future's hold on its reader: the core to borrow at each poll, and the waiter id it
/// waits under (0 until it first waits). Dropping it gives up the waiter slot (S21).
#[derive(Debug)]
pub(super) struct Claim<'a> {
    pub(super) reader: &'a StreamReader,
    pub(super) id: u64,
}

impl Claim<'_> {
    /// Runs one poll of `op` on the reader's state; the borrow ends before this returns.
    /// A read about to wait past the read timeout fails with [`Error::Timeout`] instead,
    /// having taken nothing (D1).
    fn poll<T>(
        &mut self,
        cx: &Context<'_>,
        op: impl FnOnce(&mut StreamCore, &mut u64, &Waker) -> Poll<Result<T, Error>>,
    ) -> Poll<Result<T, Error>> {
        let Ok(mut guard) = self.reader.core.try_borrow_mut() else {
            return self.wait_held(cx);
        };
        let core = &mut *guard;
        let out = op(core, &mut self.id, cx.waker());
        if out.is_pending() {
            if !core.read_timed_out(self.id) {
                return out;
            }
            core.reader.end_wait(self.id);
            self.id = 0;
            return Poll::Ready(Err(Error::Timeout));
        }
        if self.id != 0 {
            core.reader.end_wait(self.id);
            self.id = 0; // the slot is given up: nothing left for Drop to do
        }
        out
    }
}

impl Claim<'_> {
    /// The core is held (its protocol borrowed by the user across an `.await`): polled again
    /// once the borrow ends, instead of panicking. The retry holds the waker itself: a slot
    /// kept in the future across polls (as a drain keeps one) would cost every read's set-up
    /// and drop on the hot path (+4 instructions per message), and a read is polled again
    /// only when woken, so one retry per hold is the rule.
    #[cold]
    #[inline(never)]
    fn wait_held<T>(&mut self, cx: &Context<'_>) -> Poll<T> {
        match crate::event_loop::current_loop() {
            Some(lp) => {
                let core = Rc::downgrade(&self.reader.core);
                crate::protocol::wake_once_cell_free(lp, 0, core, cx);
            }
            None => cx.waker().wake_by_ref(),
        }
        Poll::Pending
    }
}

impl Drop for Claim<'_> {
    /// Inlined into the caller: a future that ended (every completed read) holds no slot.
    #[inline]
    fn drop(&mut self) {
        if self.id != 0 {
            self.give_up_slot();
        }
    }
}

impl Claim<'_> {
    /// A future dropped while waiting gives up the waiter slot (S21).
    #[inline(never)]
    fn give_up_slot(&mut self) {
        // A failed borrow would mean a drop from inside the transport's call into the core,
        // which never drops read futures; leaving the slot then only costs one S20 error.
        if let Ok(mut core) = self.reader.core.try_borrow_mut() {
            core.reader.end_wait(self.id);
        }
    }
}

/// The future of [`StreamReader::read`].
///
/// # Examples
///
/// ```
/// use asyncio::StreamReader;
///
/// asyncio::run(async {
///     let reader = StreamReader::new();
///     reader.feed_data(b"abc");
///     let fut: asyncio::streams::reader::Read<'_> = reader.read(2);
///     assert_eq!(fut.await?, b"ab");
///     Ok::<_, asyncio::Error>(())
/// })??;
/// # Ok::<_, asyncio::Error>(())
/// ```
#[must_use = "futures do nothing unless awaited"]
#[derive(Debug)]
pub struct Read<'a> {
    pub(super) claim: Claim<'a>,
    pub(super) n: isize,
}

impl Future for Read<'_> {
    type Output = Result<Vec<u8>, Error>;

    fn poll(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Self::Output> {
        let n = self.n;
        self.claim
            .poll(cx, |c, id, waker| c.reader.poll_read(n, id, waker))
    }
}

/// The future of [`StreamReader::read_into`].
///
/// # Examples
///
/// ```
/// use asyncio::StreamReader;
///
/// asyncio::run(async {
///     let reader = StreamReader::new();
///     reader.feed_data(b"abc");
///     let mut buf = [0u8; 8];
///     let n = reader.read_into(&mut buf).await?; // no allocation
///     assert_eq!(&buf[..n], b"abc");
///     Ok::<_, asyncio::Error>(())
/// })??;
/// # Ok::<_, asyncio::Error>(())
/// ```
#[must_use = "futures do nothing unless awaited"]
#[derive(Debug)]
pub struct ReadInto<'a> {
    pub(super) claim: Claim<'a>,
    pub(super) buf: &'a mut [u8],
}

impl Future for ReadInto<'_> {
    type Output = Result<usize, Error>;

    fn poll(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Self::Output> {
        let this = &mut *self;
        let buf = &mut *this.buf;
        this.claim
            .poll(cx, |c, id, waker| c.poll_read_into(buf, id, waker))
    }
}

/// The future of [`StreamReader::readline`].
///
/// # Examples
///
/// ```
/// use asyncio::StreamReader;
///
/// asyncio::run(async {
///     let reader = StreamReader::new();
///     reader.feed_data(b"one\ntwo");
///     reader.feed_eof();
///     assert_eq!(reader.readline().await?, b"one\n");
///     assert_eq!(reader.readline().await?, b"two"); // the last line may lack its newline
///     Ok::<_, asyncio::Error>(())
/// })??;
/// # Ok::<_, asyncio::Error>(())
/// ```
#[must_use = "futures do nothing unless awaited"]
#[derive(Debug)]
pub struct ReadLine<'a> {
    pub(super) claim: Claim<'a>,
    /// Scan resume point; see `ReaderState::poll_readuntil`.
    pub(super) scan: u64,
}

impl Future for ReadLine<'_> {
    type Output = Result<Vec<u8>, Error>;

    fn poll(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Self::Output> {
        let this = &mut *self;
        let scan = &mut this.scan;
        this.claim
            .poll(cx, |c, id, waker| c.reader.poll_readline(scan, id, waker))
    }
}

/// One separator or several, without allocating a list for the one.
#[derive(Debug, Clone, Copy)]
pub(super) enum Separators<'a> {
    One(&'a [u8]),
    Many(&'a [&'a [u8]]),
}

impl<'a> Separators<'a> {
    fn as_slice(&self) -> &[&'a [u8]] {
        match self {
            Separators::One(sep) => std::slice::from_ref(sep),
            Separators::Many(seps) => seps,
        }
    }
}

/// The future of [`StreamReader::readuntil`] and [`StreamReader::readuntil_any`].
///
/// # Examples
///
/// ```
/// use asyncio::StreamReader;
///
/// asyncio::run(async {
///     let reader = StreamReader::new();
///     reader.feed_data(b"key=value;");
///     assert_eq!(reader.readuntil(b"=").await?, b"key=");
///     assert_eq!(reader.readuntil(b";").await?, b"value;");
///     Ok::<_, asyncio::Error>(())
/// })??;
/// # Ok::<_, asyncio::Error>(())
/// ```
#[must_use = "futures do nothing unless awaited"]
#[derive(Debug)]
pub struct ReadUntil<'a> {
    pub(super) claim: Claim<'a>,
    pub(super) seps: Separators<'a>,
    /// Scan resume point; see `ReaderState::poll_readuntil`.
    pub(super) scan: u64,
}

impl Future for ReadUntil<'_> {
    type Output = Result<Vec<u8>, Error>;

    fn poll(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Self::Output> {
        let this = &mut *self;
        let (seps, scan) = (this.seps, &mut this.scan);
        this.claim.poll(cx, |c, id, waker| {
            c.reader.poll_readuntil(seps.as_slice(), scan, id, waker)
        })
    }
}

/// The future of [`StreamReader::readexactly`].
///
/// # Examples
///
/// ```
/// use asyncio::StreamReader;
///
/// asyncio::run(async {
///     let reader = StreamReader::new();
///     reader.feed_data(&[0, 5, b'h', b'e', b'l', b'l', b'o']);
///     let len = reader.readexactly(2).await?; // a 2-byte length prefix
///     let n = u16::from_be_bytes([len[0], len[1]]) as usize;
///     assert_eq!(reader.readexactly(n).await?, b"hello");
///     Ok::<_, asyncio::Error>(())
/// })??;
/// # Ok::<_, asyncio::Error>(())
/// ```
#[must_use = "futures do nothing unless awaited"]
#[derive(Debug)]
pub struct ReadExactly<'a> {
    pub(super) claim: Claim<'a>,
    pub(super) n: usize,
}

impl Future for ReadExactly<'_> {
    type Output = Result<Vec<u8>, Error>;

    fn poll(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Self::Output> {
        let n = self.n;
        self.claim
            .poll(cx, |c, id, waker| c.reader.poll_readexactly(n, id, waker))
    }
}

/// The lines of a [`StreamReader`], from [`StreamReader::lines`] (Python's `async for`).
///
/// # Examples
///
/// ```
/// use asyncio::StreamReader;
///
/// asyncio::run(async {
///     let reader = StreamReader::new();
///     reader.feed_data(b"a\nb\n");
///     reader.feed_eof();
///     let mut lines = reader.lines();
///     let mut seen = Vec::new();
///     while let Some(line) = lines.next_line().await? {
///         seen.push(line);
///     }
///     assert_eq!(seen, [b"a\n".to_vec(), b"b\n".to_vec()]);
///     Ok::<_, asyncio::Error>(())
/// })??;
/// # Ok::<_, asyncio::Error>(())
/// ```
#[derive(Debug)]
pub struct Lines<'a> {
    pub(super) reader: &'a StreamReader,
}

impl Lines<'_> {
    /// The next line, `\n` included; the last one may lack it. `Ok(None)` once
    /// [`readline`](StreamReader::readline) returns `b""`, i.e. at EOF. The shape of
    /// tokio's `Lines::next_line`, so `while let Some(line) = lines.next_line().await? {}`.
    ///
    /// # Errors
    /// Whatever `readline` fails with. After [`Error::LimitOverrun`] the offending bytes are
    /// gone and iteration may go on; a stored exception comes back on every call.
    ///
    /// # Cancel safety
    /// Cancel-safe, as `readline`.
    ///
    /// # Examples
    ///
    /// A line longer than the reader's limit fails, and the next call goes on after it; the
    /// last line lacks its `\n`:
    ///
    /// ```
    /// use asyncio::{Error, StreamReader};
    ///
    /// asyncio::run(async {
    ///     let reader = StreamReader::with_limit(4)?;
    ///     reader.feed_data(b"ok\nmuch too long\nend");
    ///     reader.feed_eof();
    ///     let mut lines = reader.lines();
    ///     assert_eq!(lines.next_line().await?, Some(b"ok\n".to_vec()));
    ///     let e = lines.next_line().await.unwrap_err();
    ///     assert!(matches!(e, Error::LimitOverrun { .. }), "{e:?}");
    ///     assert_eq!(lines.next_line().await?, Some(b"end".to_vec()));
    ///     assert_eq!(lines.next_line().await?, None); // EOF
    ///     Ok::<_, asyncio::Error>(())
    /// })??;
    /// # Ok::<_, asyncio::Error>(())
    /// ```
    // Checklist: S40.
    pub async fn next_line(&mut self) -> Result<Option<Vec<u8>>, Error> {
        let line = self.reader.readline().await?;
        Ok((!line.is_empty()).then_some(line))
    }
}
