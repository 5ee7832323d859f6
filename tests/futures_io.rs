//! The futures-io traits over real connections (issue #14 point 4): `AsyncRead`,
//! `AsyncBufRead` on `StreamReader`, `AsyncWrite` on `StreamWriter`, driven by futures-util's
//! `copy`, `lines`, `read_line`, `read_exact`. Run with `cargo test --features futures-io
//! --test futures_io`. Cites the stream ids (S*) whose semantics each impl must keep.
#![cfg(feature = "futures-io")]

mod util;

use util::port_of;

#[cfg(feature = "tls")]
mod tls_common;

use std::cell::RefCell;
use std::future::poll_fn;
use std::io::{self, IoSlice};
use std::pin::Pin;
use std::rc::Rc;
use std::task::{Context, Poll, Waker};
use std::time::Duration;

use asyncio::{StreamReader, StreamWriter};
use futures_util::io::{AsyncBufReadExt, AsyncReadExt, AsyncWrite, AsyncWriteExt};
use futures_util::{FutureExt, StreamExt};

const BOUND: Duration = Duration::from_secs(30);

/// Runs `fut` on a fresh loop, bounded, and returns its output.
fn run<F: std::future::Future + 'static>(fut: F) -> F::Output {
    util::run_fresh(BOUND, fut)
}

/// Both ends of a Unix socket pair, as streams on the running loop.
async fn stream_pair() -> ((StreamReader, StreamWriter), (StreamReader, StreamWriter)) {
    let (a, b) = asyncio::socketpair().unwrap();
    let a = asyncio::open_connection_sock(a).await.unwrap();
    let b = asyncio::open_connection_sock(b).await.unwrap();
    (a, b)
}

/// A server that echoes through `futures_util::io::copy` until EOF, then closes.
async fn copy_echo(reader: StreamReader, writer: StreamWriter) -> io::Result<()> {
    let mut reader = reader;
    futures_util::io::copy(&mut reader, &mut &writer).await?;
    writer.close();
    Ok(())
}

#[test]
fn copy_echoes_through_a_server_and_close_half_closes() {
    run(async {
        let server = asyncio::start_server(copy_echo, "127.0.0.1", 0)
            .await
            .unwrap();
        let (mut reader, mut writer) = asyncio::open_connection("127.0.0.1", port_of(&server))
            .await
            .unwrap();
        let msg: Vec<u8> = (0..100_000u32).map(|i| (i % 251) as u8).collect();
        writer.write_all(&msg).await.unwrap();
        let n = writer
            .write_vectored(&[IoSlice::new(b"ab"), IoSlice::new(b"cd")])
            .await
            .unwrap();
        assert_eq!(n, 4, "poll_write_vectored takes every slice whole");
        AsyncWriteExt::close(&mut writer).await.unwrap();
        assert!(
            !writer.is_closing(),
            "poll_close over TCP is write_eof: the connection stays open for reading"
        );
        let mut echoed = Vec::new();
        AsyncReadExt::read_to_end(&mut reader, &mut echoed)
            .await
            .unwrap();
        assert_eq!(echoed.len(), msg.len() + 4);
        assert_eq!(&echoed[..msg.len()], &msg[..]);
        assert_eq!(&echoed[msg.len()..], b"abcd");
        assert!(reader.at_eof(), "S17: the server's close is our EOF");
        // S44: writing after write_eof is misuse, reported, not a panic.
        let e = writer.write_all(b"late").await.unwrap_err();
        assert!(e.to_string().contains("write_eof"), "{e}");
        writer.close();
        writer.wait_closed().await.unwrap();
        server.close();
    });
}

#[test]
fn poll_close_then_the_peer_reads_eof_and_can_still_answer() {
    run(async {
        let ((a_reader, mut a_writer), (b_reader, b_writer)) = stream_pair().await;
        a_writer.write_all(b"request").await.unwrap();
        AsyncWriteExt::close(&mut a_writer).await.unwrap();
        // The peer reads to EOF with the asyncio API, then answers over its open half.
        let got = b_reader.read(-1).await.unwrap();
        assert_eq!(got, b"request");
        assert!(b_reader.at_eof());
        b_writer.write(b"answer").unwrap();
        b_writer.close();
        let mut a_reader = a_reader;
        let mut answer = String::new();
        a_reader.read_to_string(&mut answer).await.unwrap();
        assert_eq!(answer, "answer");
        // A second close is harmless.
        AsyncWriteExt::close(&mut a_writer).await.unwrap();
        a_writer.close();
    });
}

#[test]
fn lines_and_read_line_over_a_stream_fed_in_pieces() {
    run(async {
        let ((reader, a_writer), (_b_reader, b_writer)) = stream_pair().await;
        let feeder = asyncio::spawn(async move {
            // Lines split across writes, each write its own turn: the reader waits between.
            for piece in [&b"first li"[..], b"ne\nsecond", b" line\n", b"\nlast"] {
                b_writer.write(piece).unwrap();
                b_writer.drain().await.unwrap();
                asyncio::yield_now().await;
            }
            AsyncWriteExt::close(&mut &b_writer).await.unwrap();
            b_writer
        });
        let mut reader = reader;
        let mut line = String::new();
        assert_eq!(reader.read_line(&mut line).await.unwrap(), 11);
        assert_eq!(line, "first line\n");
        let rest: Vec<String> = AsyncBufReadExt::lines(&mut reader)
            .map(|l| l.unwrap())
            .collect()
            .await;
        assert_eq!(rest, ["second line", "", "last"]);
        assert!(reader.at_eof());
        let b_writer = feeder.await.unwrap();
        b_writer.close();
        a_writer.close();
    });
}

#[test]
fn read_exact_and_its_eof_error() {
    run(async {
        let ((mut reader, a_writer), (_b_reader, b_writer)) = stream_pair().await;
        b_writer.write(b"0123456789").unwrap();
        b_writer.write_eof().unwrap();
        let mut four = [0u8; 4];
        reader.read_exact(&mut four).await.unwrap();
        assert_eq!(&four, b"0123");
        let mut ten = [0u8; 10];
        let e = reader.read_exact(&mut ten).await.unwrap_err();
        assert_eq!(e.kind(), io::ErrorKind::UnexpectedEof);
        a_writer.close();
        b_writer.close();
    });
}

/// A writer wrapper that records, after each write, the transport's buffered size, and counts
/// the writes that had to wait (the backpressure), opening `gate` at the first wait.
struct Watch<'a> {
    inner: &'a StreamWriter,
    max_buffered: usize,
    waits: u32,
    gate: Gate,
}

impl AsyncWrite for Watch<'_> {
    fn poll_write(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &[u8],
    ) -> Poll<io::Result<usize>> {
        let mut inner = self.inner;
        let r = Pin::new(&mut inner).poll_write(cx, buf);
        match r {
            Poll::Pending => {
                self.waits += 1;
                self.gate.open();
            }
            Poll::Ready(_) => {
                let now = self.inner.transport().get_write_buffer_size();
                self.max_buffered = self.max_buffered.max(now);
            }
        }
        r
    }
    fn poll_flush(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        let mut inner = self.inner;
        let r = Pin::new(&mut inner).poll_flush(cx);
        if r.is_pending() {
            self.gate.open(); // copy's final flush waits for the receiver too
        }
        r
    }
    fn poll_close(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        let mut inner = self.inner;
        Pin::new(&mut inner).poll_close(cx)
    }
}

/// A one-shot signal between two tasks on the loop.
#[derive(Clone, Default)]
struct Gate(Rc<RefCell<(bool, Option<Waker>)>>);

impl Gate {
    fn open(&self) {
        let mut g = self.0.borrow_mut();
        g.0 = true;
        if let Some(w) = g.1.take() {
            w.wake();
        }
    }
    async fn wait(&self) {
        poll_fn(|cx| {
            let mut g = self.0.borrow_mut();
            if g.0 {
                return Poll::Ready(());
            }
            g.1 = Some(cx.waker().clone());
            Poll::Pending
        })
        .await
    }
}

#[test]
fn four_mib_through_copy_with_backpressure_arrive_whole_and_in_order() {
    const TOTAL: usize = 4 << 20;
    let pattern = |i: usize| (i % 253) as u8 ^ (i >> 16) as u8;
    run(async move {
        // The receiver holds off reading until the sender has had to wait (or is done), so the
        // transport's buffer reaches its high-water mark whatever the kernel buffers absorb.
        let gate = Gate::default();
        let received = Rc::new(RefCell::new(Vec::with_capacity(TOTAL)));
        let (g, sink) = (gate.clone(), received.clone());
        // Small kernel buffers on both ends, set before the connection exists: Linux then
        // neither autotunes them nor grows the window past them. Left to autotuning, loopback
        // buffers warmed by earlier bulk transfers to 127.0.0.1 (cached TCP metrics) can absorb
        // all 4 MiB, and the sender never waits.
        let listener = {
            let s =
                socket2::Socket::new(socket2::Domain::IPV4, socket2::Type::STREAM, None).unwrap();
            s.set_recv_buffer_size(64 * 1024).unwrap();
            let any: std::net::SocketAddr = "127.0.0.1:0".parse().unwrap();
            s.bind(&any.into()).unwrap();
            s.listen(16).unwrap();
            std::net::TcpListener::from(s)
        };
        let addr = listener.local_addr().unwrap();
        let server = asyncio::start_server(
            move |reader: StreamReader, writer: StreamWriter| {
                let (g, sink) = (g.clone(), sink.clone());
                async move {
                    g.wait().await;
                    // AsyncBufRead with a small limit: consume() must resume the paused
                    // transport (S15) and fill_buf's wait must too (S16), or this stalls.
                    let mut reader = reader;
                    loop {
                        let chunk = reader.fill_buf().await?;
                        if chunk.is_empty() {
                            break;
                        }
                        let n = chunk.len().min(3000);
                        sink.borrow_mut().extend_from_slice(&chunk[..n]);
                        reader.consume_unpin(n);
                    }
                    writer.write(b"done")?;
                    writer.close();
                    Ok::<_, io::Error>(())
                }
            },
            "",
            0,
        )
        .sock(listener)
        .limit(1024)
        .await
        .unwrap();
        let client =
            socket2::Socket::new(socket2::Domain::IPV4, socket2::Type::STREAM, None).unwrap();
        client.set_send_buffer_size(64 * 1024).unwrap();
        client.connect(&addr.into()).unwrap(); // loopback, listening: completes at once
        let (mut reader, writer) = asyncio::open_connection_sock(std::net::TcpStream::from(client))
            .await
            .unwrap();
        let data: Vec<u8> = (0..TOTAL).map(pattern).collect();
        let mut watch = Watch {
            inner: &writer,
            max_buffered: 0,
            waits: 0,
            gate: gate.clone(),
        };
        let copied = futures_util::io::copy(&data[..], &mut watch).await.unwrap();
        assert_eq!(copied, TOTAL as u64);
        let (max_buffered, waits) = (watch.max_buffered, watch.waits);
        gate.open(); // a sender that never waited opens it when done (and fails below)
        AsyncWriteExt::close(&mut &writer).await.unwrap();
        let mut reply = Vec::new();
        AsyncReadExt::read_to_end(&mut reader, &mut reply)
            .await
            .unwrap();
        assert_eq!(reply, b"done");
        let got = received.borrow();
        assert_eq!(got.len(), TOTAL, "bytes lost or duplicated");
        if let Some(i) = (0..TOTAL).find(|&i| got[i] != data[i]) {
            panic!("byte {i} out of order: {} != {}", got[i], data[i]);
        }
        let (high, _) = writer.transport().get_write_buffer_limits();
        assert!(waits > 0, "the sender never felt backpressure");
        assert!(
            max_buffered <= high + 64 * 1024,
            "the transport buffered {max_buffered} bytes: high-water mark {high} not respected"
        );
        writer.close();
        server.close();
    });
}

#[test]
fn a_set_exception_surfaces_as_io_error_in_every_trait() {
    run(async {
        let ((mut reader, writer), (_b_reader, b_writer)) = stream_pair().await;
        b_writer.write(b"buffered").unwrap();
        // Let the bytes arrive, then fail the reader: S19 says reads fail even so.
        let mut first = [0u8; 1];
        reader.read_exact(&mut first).await.unwrap();
        reader.set_exception(io::Error::new(io::ErrorKind::TimedOut, "no answer"));
        let mut buf = [0u8; 4];
        let e = AsyncReadExt::read(&mut reader, &mut buf).await.unwrap_err();
        assert_eq!(
            (e.kind(), e.to_string()),
            (io::ErrorKind::TimedOut, "no answer".into())
        );
        let e = AsyncBufReadExt::fill_buf(&mut reader).await.unwrap_err();
        assert_eq!(e.kind(), io::ErrorKind::TimedOut);
        // S48: drain, and so poll_write and poll_flush, report the reader's exception.
        let e = (&writer).write_all(b"x").await.unwrap_err();
        assert_eq!(e.kind(), io::ErrorKind::TimedOut);
        let e = (&writer).flush().await.unwrap_err();
        assert_eq!(e.kind(), io::ErrorKind::TimedOut);
        writer.close();
        b_writer.close();
    });
}

/// futures-io forbids `Interrupted` and `WouldBlock` from every poll: a caller may retry the
/// first at once, and a sticky exception of that kind (a cancellation passed on as an
/// `io::Error`, say) would spin such a caller for ever. Such an exception comes out as kind
/// `Other` from every trait, the original inside: a cancellation still reads as one, an OS
/// error keeps its errno. It came out as `Interrupted` (or `WouldBlock`).
#[test]
fn an_exception_of_a_retry_kind_comes_out_of_the_io_traits_as_other() {
    fn cancellation(e: &io::Error) -> bool {
        let inner = e.get_ref().and_then(|i| i.downcast_ref::<asyncio::Error>());
        matches!(inner, Some(asyncio::Error::Cancelled))
    }
    fn errno(e: &io::Error) -> Option<i32> {
        let inner = e.get_ref().and_then(|i| i.downcast_ref::<io::Error>());
        inner.and_then(io::Error::raw_os_error)
    }
    type Check = fn(&io::Error) -> bool;
    let cases: [(io::Error, Check); 3] = [
        (asyncio::Error::Cancelled.into(), cancellation),
        (io::Error::from_raw_os_error(libc::EINTR), |e| {
            errno(e) == Some(libc::EINTR)
        }),
        (io::Error::from_raw_os_error(libc::EAGAIN), |e| {
            errno(e) == Some(libc::EAGAIN)
        }),
    ];
    for (exc, inside) in cases {
        run(async move {
            let ((mut reader, writer), (_b_reader, b_writer)) = stream_pair().await;
            let what = format!("{exc:?}");
            reader.set_exception(exc);
            let mut buf = [0u8; 4];
            let read = AsyncReadExt::read(&mut reader, &mut buf).await.unwrap_err();
            let fill = AsyncBufReadExt::fill_buf(&mut reader).await.unwrap_err();
            let write = (&writer).write_all(b"x").await.unwrap_err();
            let flush = (&writer).flush().await.unwrap_err();
            let close = AsyncWriteExt::close(&mut &writer).await.unwrap_err();
            for (call, e) in [
                ("read", read),
                ("fill_buf", fill),
                ("write", write),
                ("flush", flush),
                ("close", close),
            ] {
                assert_eq!(e.kind(), io::ErrorKind::Other, "{call} with {what}: {e:?}");
                assert!(
                    inside(&e),
                    "{call} with {what}: the original is inside: {e:?}"
                );
            }
            writer.close();
            b_writer.close();
        });
    }
}

#[test]
fn a_peer_reset_surfaces_as_connection_reset() {
    let l = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let port = l.local_addr().unwrap().port();
    let (connected, wait_connected) = std::sync::mpsc::channel();
    let peer = std::thread::spawn(move || {
        let (s, _) = l.accept().unwrap();
        wait_connected.recv().unwrap(); // reset only once the client's connect has completed
        socket2::SockRef::from(&s)
            .set_linger(Some(Duration::ZERO))
            .unwrap();
        drop(s); // RST
    });
    run(async move {
        let (mut reader, writer) = asyncio::open_connection("127.0.0.1", port).await.unwrap();
        connected.send(()).unwrap();
        let mut buf = [0u8; 16];
        let e = AsyncReadExt::read(&mut reader, &mut buf).await.unwrap_err();
        assert_eq!(e.kind(), io::ErrorKind::ConnectionReset, "{e}");
        writer.wait_closed().await.unwrap_err();
        // S50: the connection is gone; writes fail instead of vanishing.
        let e = (&writer).write_all(b"x").await.unwrap_err();
        assert_eq!(e.kind(), io::ErrorKind::ConnectionReset, "{e}");
        let e = AsyncWriteExt::close(&mut &writer).await.unwrap_err();
        assert_eq!(e.kind(), io::ErrorKind::ConnectionReset, "{e}");
    });
    peer.join().unwrap();
}

#[test]
fn s22_fill_buf_and_a_dropped_read_lose_nothing() {
    run(async {
        let mut reader = StreamReader::new();
        // A futures-io read dropped while waiting leaves no waiter behind (S21): the reader's
        // own read may wait next without S20's error.
        let mut buf = [0u8; 8];
        assert!(AsyncReadExt::read(&mut reader, &mut buf)
            .now_or_never()
            .is_none());
        assert!(
            reader.readline().now_or_never().is_none(),
            "S20 tripped by the dropped futures-io read"
        );
        reader.feed_data(b"alpha\nbeta\n");
        assert_eq!(reader.readline().await.unwrap(), b"alpha\n");
        // fill_buf lends a copy and removes nothing: the reader's own methods still see it.
        assert_eq!(reader.fill_buf().await.unwrap(), b"beta\n");
        assert_eq!(reader.read(2).await.unwrap(), b"be");
        // The copy no longer mirrors the reader: consume leaves the reader alone.
        reader.consume_unpin(5);
        assert_eq!(reader.fill_buf().await.unwrap(), b"ta\n");
        reader.consume_unpin(1);
        reader.feed_data(b"gamma");
        reader.feed_eof();
        assert_eq!(
            reader.fill_buf().await.unwrap(),
            b"a\n",
            "the lent copy, as it was"
        );
        reader.consume_unpin(2);
        let mut rest = Vec::new();
        AsyncReadExt::read_to_end(&mut reader, &mut rest)
            .await
            .unwrap();
        assert_eq!(rest, b"gamma");
        assert!(reader.fill_buf().await.unwrap().is_empty(), "EOF");
    });
}

/// Over TLS, which cannot half-close, poll_close closes and waits for the connection to go.
#[cfg(feature = "tls")]
mod tls {
    use super::*;
    use crate::tls_common::Certs;

    #[test]
    fn poll_close_over_tls_closes_and_waits_for_the_loss() {
        run(async {
            let certs = Certs::get();
            let server = asyncio::start_server(copy_echo, "127.0.0.1", 0)
                .ssl(certs.server_config(&[]))
                .await
                .unwrap();
            let (mut reader, mut writer) = asyncio::open_connection("127.0.0.1", port_of(&server))
                .ssl(certs.client_config(&[]))
                .server_hostname("localhost")
                .await
                .unwrap();
            assert!(!writer.can_write_eof());
            writer.write_all(b"over tls\n").await.unwrap();
            let mut line = String::new();
            reader.read_line(&mut line).await.unwrap();
            assert_eq!(line, "over tls\n");
            AsyncWriteExt::close(&mut writer).await.unwrap();
            assert!(writer.is_closing());
            writer.wait_closed().await.unwrap();
            server.close();
        });
    }
}

/// The read timeout holds for `AsyncRead` and `AsyncBufRead` too, and loses nothing.
#[test]
fn read_timeout_applies_to_async_read_and_loses_nothing() {
    asyncio::run(async {
        let (a, b) = asyncio::socketpair().unwrap();
        let (mut reader, _writer) = asyncio::open_connection_sock(a).await.unwrap();
        let (_peer_reader, peer) = asyncio::open_connection_sock(b).await.unwrap();
        reader
            .set_read_timeout(Some(Duration::from_millis(10)))
            .unwrap();
        let mut buf = [0u8; 8];
        let e = AsyncReadExt::read(&mut reader, &mut buf).await.unwrap_err();
        assert_eq!(e.kind(), io::ErrorKind::TimedOut);
        let e = AsyncBufReadExt::fill_buf(&mut reader).await.unwrap_err();
        assert_eq!(e.kind(), io::ErrorKind::TimedOut);
        peer.write(b"late").unwrap();
        let mut line = Vec::new();
        peer.write_eof().unwrap();
        AsyncReadExt::read_to_end(&mut reader, &mut line)
            .await
            .unwrap();
        assert_eq!(line, b"late");
        peer.close();
    })
    .unwrap();
}

/// The outcome of a `poll_flush` awaited in a task, once it returns.
type Flushed = Rc<RefCell<Option<io::Result<()>>>>;

/// Spawns a task that awaits `writer`'s `poll_flush` and files its outcome.
fn flush_in_a_task(lp: &asyncio::EventLoop, writer: &Rc<StreamWriter>) -> Flushed {
    let flushed: Flushed = Rc::default();
    let (w, out) = (writer.clone(), flushed.clone());
    let task = lp.handle().spawn(async move {
        let r = poll_fn(|cx| Pin::new(&mut &*w).poll_flush(cx)).await;
        *out.borrow_mut() = Some(r);
    });
    drop(task.unwrap());
    flushed
}

/// The flush failed with `TimedOut`, its bytes still buffered; then the writer is aborted.
fn timed_out_losing_nothing(lp: &asyncio::EventLoop, writer: &StreamWriter, flushed: &Flushed) {
    let e = flushed
        .borrow_mut()
        .take()
        .expect("the drain timed out")
        .unwrap_err();
    assert_eq!(e.kind(), io::ErrorKind::TimedOut, "{e:?}");
    assert!(
        writer.transport().get_write_buffer_size() > 0,
        "nothing lost"
    );
    writer.transport().abort();
    turns(lp, 5);
}

/// A loop on a manual clock and a stream pair on it, whose writer (shared, for flush tasks)
/// pauses above 64 KiB and gives a drain up after `drain_timeout`:
/// `(clock, loop, writer, its reader, the peer's ends)`.
fn pausing_writer(
    drain_timeout: Duration,
) -> (
    asyncio::ManualClock,
    asyncio::EventLoop,
    Rc<StreamWriter>,
    StreamReader,
    (StreamReader, StreamWriter),
) {
    let clock = asyncio::ManualClock::new();
    let lp = asyncio::EventLoop::with_clock(clock.clone()).unwrap();
    let ((r, writer), peer) = lp.run_until_complete(stream_pair()).unwrap();
    let writer = Rc::new(writer);
    writer.set_drain_timeout(Some(drain_timeout));
    writer
        .transport()
        .set_write_buffer_limits(Some(64 * 1024), None)
        .unwrap();
    (clock, lp, writer, r, peer)
}

/// `n` loop iterations that do not wait.
fn turns(lp: &asyncio::EventLoop, n: usize) {
    for _ in 0..n {
        lp.run_once(Some(Duration::ZERO)).unwrap();
    }
}

/// The drain timeout bounds futures-io's drains too (`poll_write`, `poll_flush`), dated from the
/// wait's first poll; on a manual clock, so the deadline passes exactly when the test says.
#[test]
fn the_drain_timeout_bounds_poll_flush_with_a_peer_that_does_not_read() {
    let (clock, lp, writer, _r, _peer) = pausing_writer(Duration::from_millis(200));
    writer.write(&vec![7u8; 16 << 20]).unwrap(); // far above the high-water mark
    let flushed = flush_in_a_task(&lp, &writer);
    let turn = |n: usize| turns(&lp, n);
    turn(20);
    assert!(flushed.borrow().is_none(), "the flush waits");
    clock.advance(Duration::from_millis(199));
    turn(20);
    assert!(flushed.borrow().is_none(), "fired before its timeout");
    clock.advance(Duration::from_millis(1));
    for _ in 0..1000 {
        if flushed.borrow().is_some() {
            break;
        }
        turn(1);
    }
    timed_out_losing_nothing(&lp, &writer, &flushed);
}

/// A shorter drain timeout set while `poll_flush` waits under a longer one counts from the
/// call, as for `drain`: not from the flush's first poll (then it would fail at once).
#[test]
fn a_shorter_drain_timeout_set_while_poll_flush_waits_counts_from_the_call() {
    let (clock, lp, writer, _r, _peer) = pausing_writer(Duration::from_secs(3600));
    writer.write(&vec![7u8; 16 << 20]).unwrap(); // far above the high-water mark
    let flushed = flush_in_a_task(&lp, &writer);
    let turn = |n: usize| turns(&lp, n);
    turn(20);
    clock.advance(Duration::from_millis(500));
    turn(20);
    assert!(flushed.borrow().is_none(), "the flush waits");
    writer.set_drain_timeout(Some(Duration::from_millis(200)));
    turn(20);
    assert!(
        flushed.borrow().is_none(),
        "failed at once, dated from its start"
    );
    clock.advance(Duration::from_millis(199));
    turn(20);
    assert!(
        flushed.borrow().is_none(),
        "fired before 200 ms after the call"
    );
    clock.advance(Duration::from_millis(1));
    turn(20);
    timed_out_losing_nothing(&lp, &writer, &flushed);
}

/// A `poll_flush` given up while it waited (its future dropped, as a select does) leaves no
/// date behind once writing resumes: a later flush that waits counts its drain timeout from
/// its own first poll (it used to inherit the abandoned one's and fail at once).
#[test]
fn an_abandoned_poll_flush_does_not_date_the_next_one() {
    let (clock, lp, writer, _r, (peer_reader, _peer_writer)) =
        pausing_writer(Duration::from_millis(200));
    let peer_reader = Rc::new(peer_reader);
    let turn = |n: usize| turns(&lp, n);
    // A flush polled once, pending, and dropped.
    writer.write(&vec![7u8; 4 << 20]).unwrap();
    let w = writer.clone();
    let pending = lp
        .run_until_complete(async move {
            let mut once = false;
            poll_fn(|cx| {
                let p = Pin::new(&mut &*w).poll_flush(cx);
                once = p.is_pending();
                Poll::Ready(())
            })
            .await;
            once
        })
        .unwrap();
    assert!(pending, "the first flush waits");
    // The peer reads it all: writing resumes. Then time passes.
    let p = peer_reader.clone();
    let got = lp
        .run_until_complete(async move { p.readexactly(4 << 20).await })
        .unwrap()
        .unwrap();
    assert_eq!(got.len(), 4 << 20);
    turn(5);
    assert_eq!(writer.transport().get_write_buffer_size(), 0);
    assert_eq!(lp.stats().timers, 0, "a timer left for the abandoned flush");
    clock.advance(Duration::from_millis(1000));
    turn(5);
    // A new flush that waits has its own 200 ms.
    writer.write(&vec![7u8; 16 << 20]).unwrap();
    let flushed = flush_in_a_task(&lp, &writer);
    turn(20);
    assert!(
        flushed.borrow().is_none(),
        "failed at once: dated by the abandoned flush"
    );
    clock.advance(Duration::from_millis(199));
    turn(20);
    assert!(flushed.borrow().is_none(), "fired before its timeout");
    clock.advance(Duration::from_millis(1));
    turn(20);
    let e = flushed.borrow_mut().take().expect("timed out").unwrap_err();
    assert_eq!(e.kind(), io::ErrorKind::TimedOut, "{e:?}");
    writer.transport().abort();
    turn(5);
}

/// A `poll_flush` given up while it waited, with writing never resumed afterwards, does not
/// date the next one either: a later flush counts its drain timeout from its own first poll,
/// as a futures-io read does after an abandoned read. (It used to inherit the abandoned
/// flush's start and fail 50 ms into its own 200.)
#[test]
fn a_poll_flush_abandoned_while_paused_does_not_date_the_next_one() {
    let (clock, lp, writer, _r, _peer) = pausing_writer(Duration::from_millis(200));
    let turn = |n: usize| turns(&lp, n);
    // A flush polled once, pending, and dropped; the peer never reads.
    writer.write(&vec![7u8; 16 << 20]).unwrap();
    let w = writer.clone();
    let pending = lp
        .run_until_complete(async move {
            poll_fn(|cx| Poll::Ready(Pin::new(&mut &*w).poll_flush(cx).is_pending())).await
        })
        .unwrap();
    assert!(pending, "the first flush waits");
    clock.advance(Duration::from_millis(150));
    turn(20);
    // A new flush, still paused: it has its own 200 ms.
    let flushed = flush_in_a_task(&lp, &writer);
    turn(20);
    clock.advance(Duration::from_millis(199));
    turn(20);
    assert!(
        flushed.borrow().is_none(),
        "failed early: dated by the abandoned flush"
    );
    clock.advance(Duration::from_millis(1));
    turn(20);
    timed_out_losing_nothing(&lp, &writer, &flushed);
}

/// As above, with the abandoned flush's own deadline passing before the next flush: the
/// timer's wake-up for it (nobody polls it then) is not taken by a later flush for the same
/// wait. (That later flush failed at once, dated by the abandoned one.)
#[test]
fn a_poll_flush_abandoned_past_its_deadline_does_not_date_the_next_one() {
    let (clock, lp, writer, _r, _peer) = pausing_writer(Duration::from_millis(200));
    let turn = |n: usize| turns(&lp, n);
    writer.write(&vec![7u8; 16 << 20]).unwrap();
    let w = writer.clone();
    let pending = lp
        .run_until_complete(async move {
            poll_fn(|cx| Poll::Ready(Pin::new(&mut &*w).poll_flush(cx).is_pending())).await
        })
        .unwrap();
    assert!(pending, "the first flush waits");
    clock.advance(Duration::from_millis(250)); // its deadline passes: the timer wakes it
    turn(20);
    let flushed = flush_in_a_task(&lp, &writer);
    turn(20);
    assert!(
        flushed.borrow().is_none(),
        "failed at once: dated by the abandoned flush"
    );
    clock.advance(Duration::from_millis(199));
    turn(20);
    assert!(flushed.borrow().is_none(), "failed early");
    clock.advance(Duration::from_millis(1));
    turn(20);
    timed_out_losing_nothing(&lp, &writer, &flushed);
}

/// The outcome of a futures-io read awaited in a task, once it returns.
type ReadOutcome = Rc<RefCell<Option<io::Result<usize>>>>;

/// One futures-io read of `reader`: `poll_read`, or `poll_fill_buf` (the bytes' count).
async fn io_read(reader: &mut StreamReader, fill_buf: bool) -> io::Result<usize> {
    if fill_buf {
        AsyncBufReadExt::fill_buf(reader).await.map(|b| b.len())
    } else {
        AsyncReadExt::read(reader, &mut [0u8; 8]).await
    }
}

/// A futures-io read given up while it waited under the read timeout (its future dropped, as
/// a select or an outer timeout does) does not date the next read: the next one counts its
/// timeout from its own first poll. The reader kept the abandoned read's waiter id and date,
/// so the next read passed for the same wait and failed early.
// Checklist: S21.
#[test]
fn an_abandoned_futures_io_read_does_not_date_the_next_one() {
    for fill_buf in [false, true] {
        let clock = asyncio::ManualClock::new();
        let lp = asyncio::EventLoop::with_clock(clock.clone()).unwrap();
        let ((reader, _w), (_pr, peer)) = lp.run_until_complete(stream_pair()).unwrap();
        reader
            .set_read_timeout(Some(Duration::from_millis(200)))
            .unwrap();
        // Time passes in steps, the stream's timer looking (and dating waits) as it goes.
        let pass = |ms: u64| {
            for _ in 0..ms / 25 {
                clock.advance(Duration::from_millis(25));
                turns(&lp, 5);
            }
        };
        // A read polled once, pending, and dropped.
        let (mut reader, pending) = lp
            .run_until_complete(async move {
                let mut reader = reader;
                let once = io_read(&mut reader, fill_buf).now_or_never().is_none();
                (reader, once)
            })
            .unwrap();
        assert!(pending, "the first read waits");
        pass(150);
        // A new read has its own 200 ms.
        let got: ReadOutcome = Rc::default();
        let out = got.clone();
        let task = lp.handle().spawn(async move {
            let r = io_read(&mut reader, fill_buf).await;
            *out.borrow_mut() = Some(r);
            reader
        });
        let task = task.unwrap();
        turns(&lp, 5);
        pass(175);
        assert!(
            got.borrow().is_none(),
            "fill_buf {fill_buf}: failed early, dated by the abandoned read"
        );
        pass(75); // the timer looks every eighth of the timeout: at most 25 ms late
        let e = got.borrow_mut().take().expect("timed out").unwrap_err();
        assert_eq!(e.kind(), io::ErrorKind::TimedOut, "{e:?}");
        // Nothing lost, and the reader reads on.
        peer.write(b"late").unwrap();
        let mut reader = lp.run_until_complete(task).unwrap().unwrap();
        let n = lp
            .run_until_complete(async move { io_read(&mut reader, fill_buf).await })
            .unwrap()
            .unwrap();
        assert_eq!(n, 4);
        peer.close();
        turns(&lp, 5);
    }
}

/// As above, with the abandoned read left past its own deadline: the timer fails it and
/// wakes its task, which no longer polls it. The next read, under the same reader, is a new
/// one with its own timeout. (It failed at once, taken for the expired read.)
// Checklist: S21.
#[test]
fn a_futures_io_read_abandoned_past_its_deadline_does_not_fail_the_next_one() {
    for fill_buf in [false, true] {
        let clock = asyncio::ManualClock::new();
        let lp = asyncio::EventLoop::with_clock(clock.clone()).unwrap();
        let ((reader, _w), (_pr, peer)) = lp.run_until_complete(stream_pair()).unwrap();
        reader
            .set_read_timeout(Some(Duration::from_millis(200)))
            .unwrap();
        let pass = |ms: u64| {
            for _ in 0..ms / 25 {
                clock.advance(Duration::from_millis(25));
                turns(&lp, 5);
            }
        };
        let (mut reader, pending) = lp
            .run_until_complete(async move {
                let mut reader = reader;
                let once = io_read(&mut reader, fill_buf).now_or_never().is_none();
                (reader, once)
            })
            .unwrap();
        assert!(pending, "the first read waits");
        pass(300); // past its deadline: the timer fails it, and nobody polls it
        let got: ReadOutcome = Rc::default();
        let out = got.clone();
        let task = lp.handle().spawn(async move {
            let r = io_read(&mut reader, fill_buf).await;
            *out.borrow_mut() = Some(r);
            reader
        });
        let task = task.unwrap();
        turns(&lp, 5);
        assert!(
            got.borrow().is_none(),
            "fill_buf {fill_buf}: failed at once, taken for the abandoned read"
        );
        pass(175);
        assert!(got.borrow().is_none(), "fill_buf {fill_buf}: failed early");
        pass(75); // the timer looks every eighth of the timeout: at most 25 ms late
        let e = got.borrow_mut().take().expect("timed out").unwrap_err();
        assert_eq!(e.kind(), io::ErrorKind::TimedOut, "{e:?}");
        drop(lp.run_until_complete(task).unwrap().unwrap());
        peer.close();
        turns(&lp, 5);
    }
}

/// A waker that counts its wake-ups; its `Arc`'s strong count tells whether a list keeps it.
#[derive(Default)]
struct Counting(std::sync::atomic::AtomicUsize);

impl std::task::Wake for Counting {
    fn wake(self: std::sync::Arc<Self>) {
        self.wake_by_ref();
    }
    fn wake_by_ref(self: &std::sync::Arc<Self>) {
        self.0.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
    }
}

impl Counting {
    fn woken(&self) -> usize {
        self.0.load(std::sync::atomic::Ordering::Relaxed)
    }
}

/// `n` counting wakers, each a distinct waker (as a caller that wraps its waker anew at every
/// poll hands in).
fn counting_wakers(n: usize) -> Vec<std::sync::Arc<Counting>> {
    (0..n).map(|_| std::sync::Arc::default()).collect()
}

/// How many of `wakers` something besides the test still holds.
fn held(wakers: &[std::sync::Arc<Counting>]) -> usize {
    wakers
        .iter()
        .filter(|a| std::sync::Arc::strong_count(a) > 1)
        .count()
}

/// A pending `poll_flush` on the owned writer polled again and again, each time with another
/// waker, keeps only the last one (the futures-io contract: only the latest poll's waker must
/// be woken), which the resume wakes; and a writer dropped while waiting leaves no waker
/// behind. Every distinct waker used to be kept until the next resume: a caller wrapping its
/// waker anew at each poll grew the list by one per poll while the peer stayed slow.
// Checklist: S48, S50.
#[test]
fn a_pending_flush_polled_with_ever_new_wakers_keeps_only_the_last() {
    let lp = asyncio::EventLoop::new().unwrap();
    let ((_r, mut writer), (peer_reader, _peer_writer)) =
        lp.run_until_complete(stream_pair()).unwrap();
    writer
        .transport()
        .set_write_buffer_limits(Some(64 * 1024), None)
        .unwrap();
    writer.write(&vec![7u8; 4 << 20]).unwrap(); // far above the high-water mark
    let wakers = counting_wakers(1000);
    for (i, a) in wakers.iter().enumerate() {
        let waker = Waker::from(a.clone());
        let mut cx = Context::from_waker(&waker);
        let polled = if i % 2 == 0 {
            Pin::new(&mut writer).poll_flush(&mut cx)
        } else {
            Pin::new(&mut writer).poll_write(&mut cx, b"x").map_ok(drop)
        };
        assert!(polled.is_pending(), "poll {i}: the writer is paused");
    }
    assert_eq!(held(&wakers), 1, "wakers kept for one pending wait");
    let last = wakers.last().unwrap();
    assert_eq!(std::sync::Arc::strong_count(last), 2, "the last is kept");
    // The peer reads it all: writing resumes, and the last waker is woken.
    let got = lp
        .run_until_complete(async move { peer_reader.readexactly(4 << 20).await })
        .unwrap()
        .unwrap();
    assert_eq!(got.len(), 4 << 20);
    turns(&lp, 5);
    assert_eq!(last.woken(), 1, "the last poll's waker is woken");
    assert_eq!(wakers.iter().map(|a| a.woken()).sum::<usize>(), 1);
    assert_eq!(held(&wakers), 0, "a woken waiter leaves the list");
    // Paused again, polled, then the writer dropped while it waits: the waker goes with it.
    writer.write(&vec![7u8; 4 << 20]).unwrap();
    let again = counting_wakers(1);
    let waker = Waker::from(again[0].clone());
    let polled = Pin::new(&mut writer).poll_flush(&mut Context::from_waker(&waker));
    assert!(polled.is_pending());
    drop(waker);
    assert_eq!(held(&again), 1);
    drop(writer);
    assert_eq!(held(&again), 0, "a dropped writer's wait keeps its waker");
    turns(&lp, 5);
}

/// Through a shared reference, tasks wait side by side: each distinct waker is kept and woken
/// at the resume (a writer shared by two tasks must wake both). The reason the shared impl
/// cannot keep only the last waker as the owned one does.
// Checklist: S48.
#[test]
fn tasks_flushing_through_a_shared_writer_are_all_woken() {
    let lp = asyncio::EventLoop::new().unwrap();
    let ((_r, writer), (peer_reader, _peer_writer)) = lp.run_until_complete(stream_pair()).unwrap();
    writer
        .transport()
        .set_write_buffer_limits(Some(64 * 1024), None)
        .unwrap();
    writer.write(&vec![7u8; 4 << 20]).unwrap();
    let wakers = counting_wakers(2);
    for a in &wakers {
        let waker = Waker::from(a.clone());
        let polled = Pin::new(&mut &writer).poll_flush(&mut Context::from_waker(&waker));
        assert!(polled.is_pending());
    }
    assert_eq!(held(&wakers), 2);
    let got = lp
        .run_until_complete(async move { peer_reader.readexactly(4 << 20).await })
        .unwrap()
        .unwrap();
    assert_eq!(got.len(), 4 << 20);
    turns(&lp, 5);
    assert!(wakers.iter().all(|a| a.woken() == 1), "both tasks woken");
    writer.close();
    turns(&lp, 5);
}

/// The read side keeps one waker too: a pending `poll_read` or `poll_fill_buf` polled with ever
/// new wakers holds only the last, which the data wakes.
// Checklist: S20.
#[test]
fn a_pending_read_polled_with_ever_new_wakers_keeps_only_the_last() {
    for fill_buf in [false, true] {
        let lp = asyncio::EventLoop::new().unwrap();
        let ((mut reader, _w), (_pr, peer)) = lp.run_until_complete(stream_pair()).unwrap();
        let wakers = counting_wakers(1000);
        for a in &wakers {
            let waker = Waker::from(a.clone());
            let mut cx = Context::from_waker(&waker);
            let pending = if fill_buf {
                futures_util::io::AsyncBufRead::poll_fill_buf(Pin::new(&mut reader), &mut cx)
                    .is_pending()
            } else {
                let mut buf = [0u8; 16];
                futures_util::io::AsyncRead::poll_read(Pin::new(&mut reader), &mut cx, &mut buf)
                    .is_pending()
            };
            assert!(pending, "fill_buf {fill_buf}: nothing to read yet");
        }
        assert_eq!(held(&wakers), 1, "fill_buf {fill_buf}: wakers kept");
        peer.write(b"hi").unwrap();
        turns(&lp, 5);
        assert_eq!(wakers.last().unwrap().woken(), 1, "fill_buf {fill_buf}");
        peer.close();
        turns(&lp, 5);
    }
}

/// D12 (a wait given up leaves nothing behind): an owned writer dropped while its futures-io
/// drain waits and while its user holds the stream's protocol (`get_protocol()`, borrowed
/// across an `.await`) takes its waker back once the borrow ends, as a dropped `drain()` does.
/// It could not borrow the core at its drop, and the entry stayed among the waiters, keeping
/// its task alive, until the next wake-up of all (checked by reverting: still held).
#[test]
fn d12_a_writer_dropped_while_its_protocol_is_held_leaves_no_waker_behind() {
    let lp = asyncio::EventLoop::new().unwrap();
    let ((_r, mut writer), (_peer_reader, _peer_writer)) =
        lp.run_until_complete(stream_pair()).unwrap();
    writer
        .transport()
        .set_write_buffer_limits(Some(64 * 1024), None)
        .unwrap();
    writer.write(&vec![7u8; 4 << 20]).unwrap(); // far above the high-water mark
    let wakers = counting_wakers(1);
    let waker = Waker::from(wakers[0].clone());
    let polled = Pin::new(&mut writer).poll_flush(&mut Context::from_waker(&waker));
    assert!(polled.is_pending(), "paused: the flush waits");
    drop(waker);
    assert_eq!(held(&wakers), 1, "its waker is filed");
    let proto = writer.transport().get_protocol().expect("the protocol");
    let guard = proto.borrow_mut();
    drop(writer);
    turns(&lp, 3);
    assert_eq!(
        held(&wakers),
        1,
        "the core is held: the entry waits for the release"
    );
    drop(guard);
    turns(&lp, 3);
    assert_eq!(
        held(&wakers),
        0,
        "the dropped writer's waker is still filed"
    );
    assert_eq!(wakers[0].woken(), 0, "nobody was woken");
    drop(proto);
    turns(&lp, 5);
}

/// Runs `lp` until `cond` holds, at most 100 iterations of at most 100 ms each (a transport's
/// own retry for a held protocol may wait a few ms), so that a broken wait fails soon.
fn run_briefly_until(lp: &asyncio::EventLoop, cond: impl Fn() -> bool) {
    for _ in 0..100 {
        if cond() {
            return;
        }
        lp.run_once(Some(Duration::from_millis(100))).unwrap();
    }
    assert!(cond(), "not reached within 100 iterations");
}

/// The futures-io reads below run in a task of `lp`; each stores its outcome in the cell.
type Outcome<T> = Rc<RefCell<Option<T>>>;

// Checklist: D14 (a held protocol is waited for, never a panic). `poll_read` and
// `poll_fill_buf` borrowed the core unchecked: polled while the user held the stream's
// protocol (`get_protocol()`, borrowed across an `.await`), they panicked with 'already
// borrowed' (checked by reverting: the task failed, no outcome). They now wait for the
// borrow's end as a drain does, then read what arrived meanwhile.
#[test]
#[allow(clippy::await_holding_refcell_ref)] // holding the stream's protocol: the misuse tested
fn d14_futures_io_reads_polled_while_the_protocol_is_held_wait_for_the_release() {
    for fill_buf in [false, true] {
        let lp = asyncio::EventLoop::new().unwrap();
        let ((reader, writer), (_peer_reader, peer_writer)) =
            lp.run_until_complete(stream_pair()).unwrap();
        let proto = writer.transport().get_protocol().expect("the protocol");
        let held = proto.borrow_mut();
        let got: Outcome<io::Result<Vec<u8>>> = Rc::default();
        let g = got.clone();
        let task = lp.spawn(async move {
            let mut reader = reader;
            let mut buf = [0u8; 16];
            let read = if fill_buf {
                AsyncBufReadExt::fill_buf(&mut reader)
                    .await
                    .map(<[u8]>::to_vec)
            } else {
                let n = AsyncReadExt::read(&mut reader, &mut buf).await;
                n.map(|n| buf[..n].to_vec())
            };
            *g.borrow_mut() = Some(read);
        });
        task.unwrap().detach();
        peer_writer.write(b"hello").unwrap();
        turns(&lp, 20);
        assert!(
            got.borrow().is_none(),
            "fill_buf {fill_buf}: held, it waits"
        );
        drop(held);
        run_briefly_until(&lp, || got.borrow().is_some());
        let read = got.borrow_mut().take().expect("an outcome");
        assert_eq!(
            read.expect("read once released"),
            b"hello",
            "fill_buf {fill_buf}"
        );
        peer_writer.close();
        turns(&lp, 3);
    }
}

// Checklist: D14, S15. `consume` borrowed the core unchecked: called while the user held the
// stream's protocol it panicked with 'already borrowed' (checked by reverting). It now
// consumes from the copy at once and from the reader at the next futures-io borrow, so the
// bytes it took are neither lost nor read twice.
#[test]
fn d14_a_futures_io_consume_while_the_protocol_is_held_takes_its_bytes_once() {
    let lp = asyncio::EventLoop::new().unwrap();
    let ((mut reader, writer), (_peer_reader, peer_writer)) =
        lp.run_until_complete(stream_pair()).unwrap();
    peer_writer.write(b"hello world").unwrap();
    util::run_until(&lp, 100, || util::reader_buffered(&reader) == 11);
    let probe = util::Probe::new();
    let fill = |reader: &mut StreamReader| {
        let mut f = poll_fn(|cx| {
            futures_util::io::AsyncBufRead::poll_fill_buf(Pin::new(&mut *reader), cx)
                .map_ok(<[u8]>::to_vec)
        });
        match probe.poll(Pin::new(&mut f)) {
            Poll::Ready(r) => r.expect("buffered bytes"),
            Poll::Pending => panic!("bytes are buffered: no wait"),
        }
    };
    assert_eq!(fill(&mut reader), b"hello world");
    let proto = writer.transport().get_protocol().expect("the protocol");
    let held = proto.borrow_mut();
    futures_util::io::AsyncBufRead::consume(Pin::new(&mut reader), 6);
    drop(held);
    assert_eq!(fill(&mut reader), b"world", "the consumed bytes are gone");
    futures_util::io::AsyncBufRead::consume(Pin::new(&mut reader), 5);
    assert_eq!(util::reader_buffered(&reader), 0, "all consumed, once");
    peer_writer.close();
    turns(&lp, 3);
}

// Checklist: D14, S48, S44. `poll_write`, `poll_flush` and `poll_close` borrowed the core
// unchecked: polled while the user held the stream's protocol, through the owned writer or a
// shared reference, they panicked with 'already borrowed' (checked by reverting). They now
// wait for the borrow's end, then write (and half-close) as usual; a loop closed meanwhile
// ends the wait with the loop-closed error.
#[test]
#[allow(clippy::await_holding_refcell_ref)] // holding the stream's protocol: the misuse tested
fn d14_futures_io_writes_polled_while_the_protocol_is_held_wait_for_the_release() {
    for shared in [false, true] {
        let lp = asyncio::EventLoop::new().unwrap();
        let ((_reader, writer), (peer_reader, _peer_writer)) =
            lp.run_until_complete(stream_pair()).unwrap();
        let proto = writer.transport().get_protocol().expect("the protocol");
        let held = proto.borrow_mut();
        let done: Outcome<io::Result<()>> = Rc::default();
        let d = done.clone();
        let task = lp.spawn(async move {
            let mut writer = writer;
            let out = if shared {
                let mut w = &writer;
                let wrote = w.write_all(b"ping").await;
                match wrote {
                    Ok(()) => w.flush().await,
                    e => e,
                }
            } else {
                writer.write_all(b"ping").await
            };
            let out = match out {
                Ok(()) => AsyncWriteExt::close(&mut writer).await,
                e => e,
            };
            *d.borrow_mut() = Some(out);
        });
        task.unwrap().detach();
        turns(&lp, 20);
        assert!(done.borrow().is_none(), "shared {shared}: held, it waits");
        drop(held);
        run_briefly_until(&lp, || done.borrow().is_some());
        let out = done.borrow_mut().take().expect("an outcome");
        out.expect("written once released");
        let echoed = lp
            .run_until_complete(peer_reader.read(-1))
            .unwrap()
            .unwrap();
        assert_eq!(echoed, b"ping", "shared {shared}: written, then EOF");
    }

    // The loop closes while a write waits for the held protocol: the write ends.
    let lp = asyncio::EventLoop::new().unwrap();
    let ((_reader, mut writer), _peer) = lp.run_until_complete(stream_pair()).unwrap();
    let proto = writer.transport().get_protocol().expect("the protocol");
    let held = proto.borrow_mut();
    let probe = util::Probe::new();
    let mut write = poll_fn(|cx| Pin::new(&mut writer).poll_write(cx, b"x"));
    assert!(
        probe.poll(Pin::new(&mut write)).is_pending(),
        "held: it waits"
    );
    lp.close().unwrap();
    assert!(probe.woken() > 0, "the loop's close wakes it");
    match probe.poll(Pin::new(&mut write)) {
        Poll::Ready(Err(e)) => assert!(e.to_string().contains("closed"), "{e}"),
        other => panic!("after the loop closed: {other:?}"),
    }
    drop(held);
}
