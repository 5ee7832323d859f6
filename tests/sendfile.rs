//! `StreamWriter::sendfile` (CPython's `loop.sendfile(writer.transport, file, offset, count)`):
//! the native path over TCP and Unix sockets, the fallback over TLS and from a pipe, the
//! file's position afterwards, writes refused while it runs, cancellation. One-to-one ports of
//! CPython 3.11's tests, named after them, are in `sendfile/cpython.rs`; the tests here are
//! named after what they check.
//!
//! CPython's sendfile tests and where they are (our API: `writer.sendfile(&File, offset,
//! Option<count>)`; no `fallback=` flag, no `sock_sendfile`, no datagram sendfile):
//!
//! | CPython (3.11) | here |
//! |---|---|
//! | test_sendfile.py `test_sendfile` | `cpython::test_sendfile` |
//! | `test_sendfile_force_fallback` | `cpython::test_sendfile_force_fallback` (a write-pipe stream: always the fallback) |
//! | `test_sendfile_ssl` | `cpython::test_sendfile_ssl` |
//! | `test_sendfile_for_closing_transp` | `cpython::test_sendfile_for_closing_transp`, `sendfile_on_a_closing_stream_is_refused` |
//! | `test_sendfile_pre_and_post_data`, `_ssl_pre_and_post_data` | `cpython::` same names |
//! | `test_sendfile_partial`, `_ssl_partial` | `cpython::` same names |
//! | `test_sendfile_close_peer_after_receiving`, `_ssl_` | `cpython::` same names |
//! | `test_sendfile_close_peer_in_the_middle_of_receiving` | `a_peer_that_closes_mid_sendfile_fails_it_with_its_errno_and_the_position_says_how_far`; over TLS `cpython::test_sendfile_ssl_close_peer_in_the_middle_of_receiving` |
//! | `test_sendfile_fallback_close_peer_in_the_middle_of_receiving` | `cpython::` same name, `a_fallback_sendfile_stops_at_a_close_and_counts_only_what_it_handed_over` |
//! | `test_sendfile_prevents_bare_write` | `cpython::` same name, `while_sendfile_runs_writes_are_refused_and_reading_is_paused` |
//! | `test_sendfile_not_supported` (datagram transport) | n/a: only a `StreamWriter` has `sendfile`; a datagram endpoint has none to call |
//! | `test_sendfile_force_unsupported_native`, `test_sendfile_no_fallback_for_fallback_transport` | n/a: no `fallback=False`; every stream falls back |
//! | `test_sock_sendfile_success`, `_with_offset_and_count`, `_zero_size`, `_mix_with_regular_send` | `cpython::test_sendfile`, `cpython::` the last three by name (on a stream: no `sock_sendfile`) |
//! | test_base_events.py `test_sock_sendfile_fallback`, `_fallback_offset_and_count` | `cpython::test_sendfile_force_fallback`, `cpython::test_sock_sendfile_fallback_offset_and_count` |
//! | `test__sock_sendfile_native_failure`, `test_sock_sendfile_no_fallback` | n/a: no `fallback=False`, no separate native call |
//! | `test_blocking_socket`, `test_nonstream_socket` | n/a: a stream's socket is non-blocking and a stream |
//! | `test_nonbinary_file`, `test_notint_count`, `test_notint_offset`, `test_negative_offset` | n/a: the types say it (`&File` is bytes, `u64` offset) |
//! | `test_negative_count` | `sendfile_with_count_zero_is_refused_as_cpython_refuses_it` (`Some(0)`, the one bad count a `u64` can say), TLS: `over_tls_sendfile_with_count_zero_is_refused_too` |
//! | test_unix_events.py `test_sock_sendfile_not_available` | n/a on Linux (elsewhere `send_some` answers ENOSYS: the fallback) |
//! | `test_sock_sendfile_not_a_file`, `_iobuffer` | n/a: `&File` is a descriptor |
//! | `test_sock_sendfile_not_regular_file` | `from_a_pipe_sendfile_falls_back_and_reads_to_its_end` |
//! | `test_sock_sendfile_cancel1`, `_cancel2` | `a_cancelled_sendfile_leaves_the_stream_writable_and_the_position_after_what_went` |
//! | `test_sock_sendfile_blocking_error` | `while_sendfile_runs_writes_are_refused_and_reading_is_paused` (waits on EAGAIN) |
//! | `test_sock_sendfile_os_error_first_call` | `cpython::` same name (a file not open for reading) |
//! | `test_sock_sendfile_os_error_next_call`, `test_sock_sendfile_exception` | `a_peer_that_closes_mid_sendfile_...`, `a_close_during_a_native_sendfile_ends_it_with_a_connection_error` (from offset 4096) |
//! | test_events.py `AbstractEventLoopTests` (`sendfile` raises NotImplementedError) | n/a: no abstract loop |
//! | test_ssl.py, test_sslproto.py | no sendfile test |

#[path = "sendfile/cpython.rs"]
mod cpython;
#[cfg(feature = "tls")]
mod tls_common;
mod util;

use std::cell::RefCell;
use std::fs::File;
use std::io::{Read, Seek, SeekFrom, Write};
use std::rc::Rc;
use std::sync::mpsc;
use std::time::Duration;

use asyncio::{Error, Event, StreamReader, StreamWriter};
use util::{port_of, Panicky};

const BOUND: Duration = Duration::from_secs(20);

fn run<F: std::future::Future + 'static>(fut: F) -> F::Output {
    util::run_fresh(BOUND, fut)
}

/// A new empty file `name` in `dir`, open for reading and writing, already unlinked (nothing
/// is left behind whatever the test does).
fn unlinked_file(dir: &std::path::Path, name: &str) -> File {
    let path = dir.join(name);
    let f = std::fs::OpenOptions::new()
        .read(true)
        .write(true)
        .create(true)
        .truncate(true)
        .open(&path)
        .unwrap();
    std::fs::remove_file(&path).unwrap();
    f
}

/// `len` patterned bytes: no two neighbouring KiB alike, so that a byte out of place shows.
fn patterned(len: usize) -> Vec<u8> {
    (0..len)
        .map(|i| (i % 251) as u8 ^ (i / 1024) as u8)
        .collect()
}

/// A file of `len` [`patterned`] bytes, already unlinked.
fn patterned_file(dir: &std::path::Path, len: usize) -> (File, Vec<u8>) {
    let data = patterned(len);
    let mut f = unlinked_file(dir, "data");
    f.write_all(&data).unwrap();
    (f, data)
}

/// What a server connection read, up to the client's EOF.
type Received = Rc<RefCell<Vec<u8>>>;

/// A server that keeps what each connection sends until EOF, then sets `done`.
fn collector(
    received: &Received,
    done: &Rc<Event>,
) -> impl Fn(
    StreamReader,
    StreamWriter,
) -> std::pin::Pin<Box<dyn std::future::Future<Output = Result<(), Error>>>> {
    let (received, done) = (received.clone(), done.clone());
    move |reader: StreamReader, writer: StreamWriter| {
        let (received, done) = (received.clone(), done.clone());
        Box::pin(async move {
            let all = reader.read(-1).await?;
            received.borrow_mut().extend_from_slice(&all);
            done.set();
            writer.close();
            Ok(())
        })
    }
}

/// A stream server on 127.0.0.1 whose connections `handler` serves, in plain TCP or over TLS
/// (the test certificate), and a client stream to it.
async fn serve_and_connect<H, F>(
    handler: H,
    ssl: bool,
) -> Result<(asyncio::Server, StreamReader, StreamWriter), Error>
where
    H: Fn(StreamReader, StreamWriter) -> F + 'static,
    F: std::future::Future<Output = Result<(), Error>> + 'static,
{
    if ssl {
        #[cfg(feature = "tls")]
        {
            let certs = tls_common::Certs::get();
            let server = asyncio::start_server(handler, "127.0.0.1", 0)
                .ssl(certs.server_config(&[]))
                .await?;
            let (reader, writer) = asyncio::open_connection("127.0.0.1", port_of(&server))
                .ssl(certs.client_config(&[]))
                .server_hostname("localhost")
                .await?;
            return Ok((server, reader, writer));
        }
        #[cfg(not(feature = "tls"))]
        unreachable!("TLS tests are built with the tls feature only");
    }
    let server = asyncio::start_server(handler, "127.0.0.1", 0).await?;
    let (reader, writer) = asyncio::open_connection("127.0.0.1", port_of(&server)).await?;
    Ok((server, reader, writer))
}

/// A [`collector`] server on 127.0.0.1 and a client stream to it.
async fn tcp_to_collector() -> Result<(asyncio::Server, Received, Rc<Event>, StreamWriter), Error> {
    let (received, done) = (Received::default(), Rc::new(Event::new()));
    let (server, _reader, writer) = serve_and_connect(collector(&received, &done), false).await?;
    Ok((server, received, done, writer))
}

/// As [`tcp_to_collector`], over TLS.
#[cfg(feature = "tls")]
async fn tls_to_collector() -> Result<(asyncio::Server, Received, Rc<Event>, StreamWriter), Error> {
    let (received, done) = (Received::default(), Rc::new(Event::new()));
    let (server, _reader, writer) = serve_and_connect(collector(&received, &done), true).await?;
    Ok((server, received, done, writer))
}

fn position(mut f: &File) -> u64 {
    f.stream_position().unwrap()
}

#[test]
fn native_sendfile_sends_the_file_after_what_was_written_and_moves_the_position() {
    let dir = util::temp_dir("sendfile");
    let (file, data) = patterned_file(&dir, 3 << 20);
    run(async move {
        let (server, received, done, writer) = tcp_to_collector().await?;
        writer.write(b"head:")?; // goes first, before the file
        let sent = writer.sendfile(&file, 0, None).await?;
        assert_eq!(sent, data.len() as u64);
        assert_eq!(
            position(&file),
            sent,
            "the position is after the last byte sent"
        );
        assert!(writer.transport().is_reading(), "reading is back on");
        writer.write(b":tail")?; // writable again
        writer.write_eof()?;
        done.wait().await;
        let got = received.borrow();
        assert_eq!(got.len(), 5 + data.len() + 5);
        assert!(got.starts_with(b"head:") && got.ends_with(b":tail"));
        assert!(
            got[5..5 + data.len()] == data[..],
            "the file's bytes, in order"
        );
        writer.close();
        server.close();
        Ok::<_, Error>(())
    })
    .unwrap();
}

#[test]
fn sendfile_with_offset_and_count_sends_that_slice_and_stops_at_the_files_end() {
    let dir = util::temp_dir("sendfile");
    let (file, data) = patterned_file(&dir, 100_000);
    run(async move {
        let (server, received, done, writer) = tcp_to_collector().await?;
        assert_eq!(writer.sendfile(&file, 1_000, Some(5_000)).await?, 5_000);
        assert_eq!(position(&file), 6_000);
        // A count past the end sends what there is.
        assert_eq!(writer.sendfile(&file, 99_990, Some(100)).await?, 10);
        assert_eq!(position(&file), 100_000);
        // At the end: nothing to send, and the position is left alone.
        assert_eq!(writer.sendfile(&file, 100_000, None).await?, 0);
        writer.write_eof()?;
        done.wait().await;
        let mut want = data[1_000..6_000].to_vec();
        want.extend_from_slice(&data[99_990..]);
        assert!(*received.borrow() == want);
        writer.close();
        server.close();
        Ok::<_, Error>(())
    })
    .unwrap();
}

#[test]
fn native_sendfile_over_a_unix_socket() {
    let dir = util::temp_dir("sendfile");
    let (file, data) = patterned_file(&dir, 200_000);
    let path = dir.join("sock");
    run(async move {
        let (received, done) = (Received::default(), Rc::new(Event::new()));
        let server = asyncio::start_unix_server(collector(&received, &done), &path).await?;
        let (_reader, writer) = asyncio::open_unix_connection(&path).await?;
        assert_eq!(writer.sendfile(&file, 0, None).await?, 200_000);
        writer.write_eof()?;
        done.wait().await;
        assert!(*received.borrow() == data);
        writer.close();
        server.close();
        Ok::<_, Error>(())
    })
    .unwrap();
}

/// A blocking peer that accepts one connection and reads nothing until told, then counts
/// what it reads to EOF.
fn slow_peer() -> (u16, mpsc::Sender<()>, std::thread::JoinHandle<usize>) {
    let l = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let port = l.local_addr().unwrap().port();
    let (go, wait) = mpsc::channel();
    let peer = std::thread::spawn(move || {
        let (mut s, _) = l.accept().unwrap();
        s.set_read_timeout(Some(BOUND)).unwrap();
        wait.recv().unwrap();
        let mut n = 0;
        let mut buf = vec![0u8; 1 << 16];
        loop {
            match s.read(&mut buf).unwrap() {
                0 => return n,
                k => n += k,
            }
        }
    });
    (port, go, peer)
}

/// A sparse file far larger than two loopback socket buffers: a sendfile of it must wait for
/// the peer.
fn big_sparse_file(dir: &std::path::Path) -> File {
    let f = unlinked_file(dir, "sparse");
    f.set_len(64 << 20).unwrap();
    f
}

/// `writer.sendfile(file, offset, None)` started as a task and left to run until it waits for
/// room: the peer reads nothing yet, so that `what` (what the socket buffers cannot hold)
/// keeps it from finishing.
async fn sendfile_waiting_for_room(
    writer: &Rc<StreamWriter>,
    file: &Rc<File>,
    offset: u64,
    what: &str,
) -> asyncio::Task<Result<u64, Error>> {
    let (w, f) = (writer.clone(), file.clone());
    let sending = asyncio::spawn(async move { w.sendfile(&f, offset, None).await });
    for _ in 0..20 {
        asyncio::yield_now().await;
    }
    assert!(
        !sending.is_done(),
        "{what} cannot fit in the socket buffers"
    );
    sending
}

#[test]
fn while_sendfile_runs_writes_are_refused_and_reading_is_paused() {
    let dir = util::temp_dir("sendfile");
    let file = Rc::new(big_sparse_file(&dir));
    let (port, go, peer) = slow_peer();
    run(async move {
        let (_reader, writer) = asyncio::open_connection("127.0.0.1", port).await?;
        let writer = Rc::new(writer);
        // The peer reads nothing: the send fills both socket buffers and waits.
        let sending = sendfile_waiting_for_room(&writer, &file, 0, "64 MiB").await;
        match writer.write(b"x") {
            Err(Error::InvalidState(m)) => {
                assert_eq!(m, "unable to write; sendfile is in progress")
            }
            other => panic!("{other:?}"),
        }
        assert!(matches!(writer.write_eof(), Err(Error::InvalidState(_))));
        assert!(!writer.transport().is_reading(), "paused, as CPython does");
        match writer.sendfile(&file, 0, Some(1)).await {
            Err(Error::InvalidState(m)) => assert_eq!(m, "sendfile is already in progress"),
            other => panic!("{other:?}"),
        }
        // A second one that would take the block-by-block path (a pipe) is refused too.
        let (pipe_r, _pipe_w) = util::os_pipe();
        match writer.sendfile(&pipe_r, 0, None).await {
            Err(Error::InvalidState(m)) => assert_eq!(m, "sendfile is already in progress"),
            other => panic!("{other:?}"),
        }
        go.send(()).unwrap();
        let sent = sending.await.unwrap()?;
        assert_eq!(sent, 64 << 20);
        assert!(writer.transport().is_reading());
        writer.write(b"!")?;
        writer.write_eof()?;
        // The byte may wait in the transport's buffer: the close flushes it.
        writer.close();
        writer.wait_closed().await?;
        Ok::<_, Error>(())
    })
    .unwrap();
    assert_eq!(peer.join().unwrap(), (64 << 20) + 1);
}

#[test]
fn a_cancelled_sendfile_leaves_the_stream_writable_and_the_position_after_what_went() {
    let dir = util::temp_dir("sendfile");
    let file = big_sparse_file(&dir);
    let (port, go, peer) = slow_peer();
    let sent = run(async move {
        let (_reader, writer) = asyncio::open_connection("127.0.0.1", port).await?;
        // One poll (D4): it sends what the socket buffers take, then waits; the deadline has
        // passed, so it is dropped there.
        let r = asyncio::timeout(Duration::ZERO, writer.sendfile(&file, 0, None)).await;
        assert!(matches!(r, Err(Error::Timeout)), "{r:?}");
        let sent = position(&file);
        assert!(sent > 0 && sent < 64 << 20, "{sent}");
        assert!(writer.transport().is_reading());
        writer.write(b"after")?; // buffered: the socket is full until the peer reads
        writer.write_eof()?;
        go.send(()).unwrap();
        writer.close();
        writer.wait_closed().await?;
        Ok::<_, Error>(sent)
    })
    .unwrap();
    assert_eq!(peer.join().unwrap() as u64, sent + 5);
}

#[cfg(feature = "tls")]
#[test]
fn over_tls_sendfile_falls_back_to_reads_and_writes() {
    let dir = util::temp_dir("sendfile");
    let (file, data) = patterned_file(&dir, 300_000);
    run(async move {
        let (server, received, done, writer) = tls_to_collector().await?;
        assert_eq!(writer.sendfile(&file, 10, Some(250_000)).await?, 250_000);
        assert_eq!(position(&file), 250_010);
        writer.write_eof().ok(); // TLS cannot half-close; close instead
        writer.close();
        done.wait().await;
        assert!(received.borrow()[..] == data[10..250_010]);
        writer.close();
        server.close();
        Ok::<_, Error>(())
    })
    .unwrap();
}

#[cfg(feature = "tls")]
#[test]
fn over_tls_sendfile_from_offset_zero_sends_from_the_files_start() {
    // The fallback read from wherever the file stood when asked for offset 0 (the native
    // path sends from byte 0), then set the position to 0 + sent.
    let dir = util::temp_dir("sendfile");
    let (mut file, data) = patterned_file(&dir, 1_000);
    file.seek(std::io::SeekFrom::Start(300)).unwrap();
    run(async move {
        let (server, received, done, writer) = tls_to_collector().await?;
        assert_eq!(writer.sendfile(&file, 0, Some(100)).await?, 100);
        assert_eq!(position(&file), 100);
        writer.close();
        done.wait().await;
        assert!(received.borrow()[..] == data[..100]);
        server.close();
        Ok::<_, Error>(())
    })
    .unwrap();
}

#[test]
fn from_a_pipe_sendfile_falls_back_and_reads_to_its_end() {
    // sendfile(2) cannot read a pipe (ESPIPE/EINVAL): the fallback reads it on a thread.
    let (pipe_r, mut pipe_w) = util::os_pipe();
    let payload: Vec<u8> = (0..150_000u32).map(|i| (i % 239) as u8).collect();
    let to_write = payload.clone();
    let writer_thread = std::thread::spawn(move || {
        pipe_w.write_all(&to_write).unwrap();
    });
    run(async move {
        let (server, received, done, writer) = tcp_to_collector().await?;
        assert_eq!(writer.sendfile(&pipe_r, 0, None).await?, 150_000);
        writer.write_eof()?;
        done.wait().await;
        assert!(*received.borrow() == payload);
        writer.close();
        server.close();
        Ok::<_, Error>(())
    })
    .unwrap();
    writer_thread.join().unwrap();
}

#[test]
fn sendfile_on_a_closing_stream_is_refused() {
    let dir = util::temp_dir("sendfile");
    let (mut file, _) = patterned_file(&dir, 10);
    file.seek(SeekFrom::Start(3)).unwrap();
    run(async move {
        let (server, _, _, writer) = tcp_to_collector().await?;
        writer.close();
        match writer.sendfile(&file, 0, None).await {
            Err(Error::InvalidState(m)) => assert_eq!(m, "Transport is closing"),
            other => panic!("{other:?}"),
        }
        assert_eq!(position(&file), 3, "nothing sent, position untouched");
        writer.close();
        server.close();
        Ok::<_, Error>(())
    })
    .unwrap();
}

#[test]
fn sendfile_with_count_zero_is_refused_as_cpython_refuses_it() {
    // CPython's `_check_sendfile_params`: `count <= 0` is ValueError('count must be a positive
    // integer (got 0)'), raised before a byte goes; `None` is the way to say "to the end".
    let dir = util::temp_dir("sendfile");
    let (mut file, _) = patterned_file(&dir, 10);
    file.seek(SeekFrom::Start(3)).unwrap();
    run(async move {
        let (server, received, done, writer) = tcp_to_collector().await?;
        match writer.sendfile(&file, 0, Some(0)).await {
            Err(Error::InvalidArgument(m)) => {
                assert_eq!(m, "count must be a positive integer (got 0)")
            }
            other => panic!("{other:?}"),
        }
        assert_eq!(position(&file), 3, "nothing sent, position untouched");
        assert!(writer.transport().is_reading(), "reading untouched");
        writer.write(b"after")?; // the stream is still writable
        writer.write_eof()?;
        done.wait().await;
        assert_eq!(*received.borrow(), b"after");
        writer.close();
        server.close();
        Ok::<_, Error>(())
    })
    .unwrap();
}

#[cfg(feature = "tls")]
#[test]
fn over_tls_sendfile_with_count_zero_is_refused_too() {
    // CPython's TLS fallback reads `count=0` as "to the end" (it tests `if count:`) while its
    // native path refuses it; here both paths refuse it, `None` meaning "to the end".
    let dir = util::temp_dir("sendfile");
    let (mut file, _) = patterned_file(&dir, 10);
    file.seek(SeekFrom::Start(3)).unwrap();
    run(async move {
        let (server, _received, _done, writer) = tls_to_collector().await?;
        match writer.sendfile(&file, 0, Some(0)).await {
            Err(Error::InvalidArgument(m)) => {
                assert_eq!(m, "count must be a positive integer (got 0)")
            }
            other => panic!("{other:?}"),
        }
        assert_eq!(position(&file), 3, "nothing sent, position untouched");
        writer.close();
        server.close();
        Ok::<_, Error>(())
    })
    .unwrap();
}

#[test]
fn a_cancelled_fallback_sendfile_leaves_no_read_behind_to_move_the_position() {
    // The fallback reads the file on the default executor. A read still queued (or running)
    // when the sendfile is dropped runs anyway: it must not move the file's position after the
    // drop set it (CPython's `_sendfile_fallback` leaves it at `offset` when nothing went).
    // Alone in a child: one executor thread for the whole process.
    const TEST: &str = "a_cancelled_fallback_sendfile_leaves_no_read_behind_to_move_the_position";
    util::in_child(
        "ASYNCIO_TEST_FALLBACK_CANCEL",
        TEST,
        "fallback-cancel-ok",
        || {
            asyncio::set_executor_max_threads(1).unwrap();
            let dir = util::temp_dir("sendfile");
            let (mut file, _) = patterned_file(&dir, 10_000);
            file.seek(SeekFrom::Start(7)).unwrap();
            let (ours, _peer) = std::os::unix::net::UnixStream::pair().unwrap();
            let pos = run(async move {
                // A write pipe stream: not a socket transport, so the fallback path.
                let writer = asyncio::open_write_pipe(ours).await?;
                let (gate, held) = mpsc::channel::<()>();
                let busy = asyncio::to_thread(move || held.recv().unwrap());
                // One poll: the first block's read is queued behind `busy`; then dropped.
                let r = asyncio::timeout(Duration::ZERO, writer.sendfile(&file, 100, None)).await;
                assert!(matches!(r, Err(Error::Timeout)), "{r:?}");
                assert_eq!(position(&file), 100, "nothing sent: at the offset");
                gate.send(()).unwrap();
                busy.await?;
                asyncio::to_thread(|| ()).await?; // FIFO, one thread: the queued read has run
                writer.close();
                Ok::<_, Error>(position(&file))
            })
            .unwrap();
            assert_eq!(pos, 100, "a read left behind moved the position");
            println!("fallback-cancel-ok");
        },
    );
}

// Checklist: L18. A sendfile polled by hand with another executor's waker leaves that waker
// waiting for room; the transport's writable edge wakes it from inside the I/O dispatch. Its
// panic is reported as a callback's is and the loop goes on (it used to unwind out of
// run_until_complete), as the timer's wake-up of such a waker does.
#[test]
fn l18_a_foreign_waker_that_panics_as_its_sendfile_is_woken_is_reported_and_the_loop_goes_on() {
    use std::future::Future;
    use std::task::{Context, Waker};

    let dir = util::temp_dir("sendfile");
    let (file, _) = patterned_file(&dir, 16 << 20);
    let (a, mut peer) = asyncio::socketpair().unwrap();
    peer.set_nonblocking(true).unwrap();
    let lp = asyncio::EventLoop::new().unwrap();
    let seen = util::capture_exceptions(&lp.handle());
    let s = seen.clone();
    lp.run_until_complete(async move {
        let (_reader, writer) = asyncio::open_connection_sock(a).await.unwrap();
        let waker = Waker::from(std::sync::Arc::new(Panicky));
        let mut send = Box::pin(writer.sendfile(&file, 0, None));
        let polled = send.as_mut().poll(&mut Context::from_waker(&waker));
        assert!(polled.is_pending(), "16 MiB went into the socket at once");
        // Room again: the writable edge wakes the sendfile's (foreign) waker.
        let mut buf = vec![0u8; 1 << 16];
        for _ in 0..10_000 {
            if !s.borrow().is_empty() {
                break;
            }
            while peer.read(&mut buf).is_ok_and(|n| n > 0) {}
            asyncio::yield_now().await;
        }
        drop(send); // cancelled: what it sent stays sent
        writer.close();
    })
    .unwrap();
    assert_eq!(
        *seen.borrow(),
        ["Exception in callback sendfile wake-up | panicked: foreign waker failed"]
    );
}

#[test]
fn a_fallback_sendfile_stops_at_a_close_and_counts_only_what_it_handed_over() {
    // CPython's `_sendfile_fallback` checks the transport before each block (its protocol's
    // `drain` raises ConnectionError once it is closing). Writes to a closing transport are
    // dropped without an error (L76), so a fallback that went on counted blocks nobody sent
    // and left the file's position after them.
    let dir = util::temp_dir("sendfile");
    let (file, data) = patterned_file(&dir, 4 << 20);
    let file = Rc::new(file);
    run(async move {
        let (ours, theirs) = std::os::unix::net::UnixStream::pair()?;
        // A write pipe stream: not a socket transport, so the fallback path.
        let writer = Rc::new(asyncio::open_write_pipe(ours).await?);
        let (peer, peer_writer) = asyncio::open_connection_sock(theirs).await?;
        let (w, f) = (writer.clone(), file.clone());
        let sending = asyncio::spawn(async move { w.sendfile(&f, 0, None).await });
        let mut got = peer.read(64 * 1024).await?;
        assert!(!got.is_empty());
        writer.close();
        let outcome = sending.await.unwrap();
        got.extend_from_slice(&peer.read(-1).await?);
        match outcome {
            Err(Error::Io(e)) => assert_eq!(e.kind(), std::io::ErrorKind::BrokenPipe, "{e}"),
            other => panic!("{other:?}"),
        }
        assert!(got.len() < data.len(), "the close stopped it");
        assert!(
            got[..] == data[..got.len()],
            "the file's first bytes, in order"
        );
        assert_eq!(
            position(&file),
            got.len() as u64,
            "the position is after the last byte handed to the transport"
        );
        peer_writer.close();
        Ok::<_, Error>(())
    })
    .unwrap();
}

/// CPython's `test_sendfile_close_peer_in_the_middle_of_receiving`: the peer reads 1 KiB and
/// closes (its unread bytes make that a reset). The sendfile fails with the connection error,
/// its errno kept, having sent at least that KiB and not the whole file; the position says
/// how far it got. Reading, paused while the kernel copied, is back on: the reader hears the
/// end of the connection. (CPython's test also finds the transport closing: its plain protocol
/// closes at EOF, where a stream keeps a half-closed connection open, as here.)
#[test]
fn a_peer_that_closes_mid_sendfile_fails_it_with_its_errno_and_the_position_says_how_far() {
    let dir = util::temp_dir("sendfile");
    let file = big_sparse_file(&dir);
    let l = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let port = l.local_addr().unwrap().port();
    let peer = std::thread::spawn(move || {
        let (mut s, _) = l.accept().unwrap();
        s.set_read_timeout(Some(BOUND)).unwrap();
        let mut kib = [0u8; 1024];
        s.read_exact(&mut kib).unwrap();
        // Dropped with bytes unread: the kernel answers the sender with a reset.
    });
    run(async move {
        let (reader, writer) = asyncio::open_connection("127.0.0.1", port).await?;
        match writer.sendfile(&file, 0, None).await {
            Err(Error::Io(e)) => assert!(
                matches!(
                    e.kind(),
                    std::io::ErrorKind::ConnectionReset | std::io::ErrorKind::BrokenPipe
                ) && e.raw_os_error().is_some(),
                "{e:?}"
            ),
            other => panic!("{other:?}"),
        }
        let at = position(&file);
        assert!((1024..64 << 20).contains(&at), "position {at}");
        assert!(writer.transport().is_reading(), "reading is back on");
        match reader.read(-1).await {
            Ok(rest) => assert!(rest.is_empty(), "{} bytes", rest.len()),
            Err(e) => assert_eq!(e.kind(), std::io::ErrorKind::ConnectionReset, "{e:?}"),
        }
        writer.close();
        Ok::<_, Error>(())
    })
    .unwrap();
    peer.join().unwrap();
}

#[test]
fn a_fallback_sendfile_gives_a_paused_writer_no_block_until_it_resumes() {
    // CPython's `_sendfile_fallback` drains before each write: a writer already above its
    // high-water mark gets nothing more buffered until it resumes. Ours wrote each block, then
    // drained, so a paused writer took one more block (up to 64 KiB) at once.
    // Alone in a child: one executor thread for the whole process (its FIFO says when the
    // fallback's first read has run).
    const TEST: &str = "a_fallback_sendfile_gives_a_paused_writer_no_block_until_it_resumes";
    util::in_child(
        "ASYNCIO_TEST_FALLBACK_PAUSED",
        TEST,
        "fallback-paused-ok",
        || {
            asyncio::set_executor_max_threads(1).unwrap();
            let dir = util::temp_dir("sendfile");
            let (file, data) = patterned_file(&dir, 200_000);
            let file = Rc::new(file);
            run(async move {
                let (ours, theirs) = std::os::unix::net::UnixStream::pair()?;
                // A write pipe stream: not a socket transport, so the fallback path.
                let writer = Rc::new(asyncio::open_write_pipe(ours).await?);
                let mut peer = theirs; // read by hand, later: nothing moves until then
                peer.set_nonblocking(true)?;
                let before = vec![9u8; 4 << 20];
                writer.write(&before)?; // far above the high-water mark: paused
                asyncio::yield_now().await;
                let buffered = writer.transport().get_write_buffer_size();
                assert!(buffered > 64 * 1024, "paused: {buffered}");
                let (w, f) = (writer.clone(), file.clone());
                let sending = asyncio::spawn(async move { w.sendfile(&f, 0, None).await });
                asyncio::yield_now().await; // the sendfile queues its first read
                asyncio::to_thread(|| ()).await?; // FIFO, one thread: that read has run
                for _ in 0..10 {
                    asyncio::yield_now().await;
                }
                assert_eq!(
                    writer.transport().get_write_buffer_size(),
                    buffered,
                    "a block was buffered on a paused writer"
                );
                // The peer reads: writing resumes and the file follows what was written.
                let (mut got, mut buf) = (Vec::new(), vec![0u8; 1 << 16]);
                for _ in 0..100_000 {
                    if got.len() == before.len() + data.len() {
                        break;
                    }
                    while let Ok(n @ 1..) = peer.read(&mut buf) {
                        got.extend_from_slice(&buf[..n]);
                    }
                    asyncio::yield_now().await;
                }
                assert_eq!(sending.await.unwrap()?, data.len() as u64);
                assert!(got[..before.len()] == before[..]);
                assert!(got[before.len()..] == data[..], "the file, in order");
                writer.close();
                Ok::<_, Error>(())
            })
            .unwrap();
            println!("fallback-paused-ok");
        },
    );
}

/// Close or abort (`how`) during a native sendfile that is waiting for room: CPython's
/// `close()` removes the writer callback its `sock_sendfile` waits on, so its sendfile never
/// ends; here it ends at once with the connection error, and the position (from a non-zero
/// offset, as `test_sock_sendfile_os_error_next_call` checks) is after exactly what the peer
/// gets. L75, L77.
fn closed_during_a_native_sendfile(abort: bool) {
    let dir = util::temp_dir("sendfile");
    let file = big_sparse_file(&dir);
    let (port, go, peer) = slow_peer();
    let at = run(async move {
        let (_reader, writer) = asyncio::open_connection("127.0.0.1", port).await?;
        let (writer, file) = (Rc::new(writer), Rc::new(file));
        let sending = sendfile_waiting_for_room(&writer, &file, 4096, "64 MiB").await;
        if abort {
            writer.transport().abort();
        } else {
            writer.close();
        }
        match sending.await.unwrap() {
            Err(Error::Io(e)) => assert_eq!(e.kind(), std::io::ErrorKind::BrokenPipe, "{e}"),
            other => panic!("{other:?}"),
        }
        go.send(()).unwrap();
        let at = position(&file);
        assert!((4096 + 1..64 << 20).contains(&at), "position {at}");
        writer.wait_closed().await.ok();
        Ok::<_, Error>(at)
    })
    .unwrap();
    let got = peer.join().unwrap() as u64;
    if abort {
        assert!(got <= at - 4096, "{got} bytes for a position of {at}");
    } else {
        assert_eq!(
            got,
            at - 4096,
            "the peer got what the position says was sent"
        );
    }
}

#[test]
fn a_close_during_a_native_sendfile_ends_it_with_a_connection_error() {
    closed_during_a_native_sendfile(false);
}

#[test]
fn an_abort_during_a_native_sendfile_ends_it_with_a_connection_error() {
    closed_during_a_native_sendfile(true);
}

/// A native sendfile starts only once the bytes written before it are out (CPython's
/// `_make_empty_waiter`); a close while it waits for them lets them go, and then the sendfile
/// fails without sending a byte of the file (CPython: its fallback's `drain` raises
/// ConnectionError, the transport being closed).
#[test]
fn a_close_while_a_native_sendfile_waits_for_the_buffer_sends_no_byte_of_the_file() {
    let dir = util::temp_dir("sendfile");
    let (file, _) = patterned_file(&dir, 1 << 20);
    let (port, go, peer) = slow_peer();
    let prefix = 32 << 20;
    run(async move {
        let (_reader, writer) = asyncio::open_connection("127.0.0.1", port).await?;
        let (writer, file) = (Rc::new(writer), Rc::new(file));
        writer.write(&vec![1u8; prefix])?;
        let sending = sendfile_waiting_for_room(&writer, &file, 0, "32 MiB").await;
        assert!(writer.transport().get_write_buffer_size() > 0);
        writer.close();
        go.send(()).unwrap();
        match sending.await.unwrap() {
            Err(Error::Io(e)) => assert_eq!(e.kind(), std::io::ErrorKind::BrokenPipe, "{e}"),
            other => panic!("{other:?}"),
        }
        assert_eq!(
            position(&file),
            1 << 20,
            "nothing sent: the position untouched"
        );
        writer.wait_closed().await?;
        Ok::<_, Error>(())
    })
    .unwrap();
    assert_eq!(
        peer.join().unwrap(),
        prefix,
        "the bytes written before, and no more"
    );
}

/// Offsets no file can have (past `off_t`, and at its end): a typed answer, never a panic, on
/// the native path and the fallback; the stream stays usable. (CPython raises OverflowError
/// converting the offset; the kernel's EINVAL here.)
#[test]
fn an_offset_past_what_a_file_can_hold_is_answered_not_a_panic() {
    let dir = util::temp_dir("sendfile");
    let (file, _) = patterned_file(&dir, 10);
    run(async move {
        let (server, received, done, writer) = tcp_to_collector().await?;
        let (ours, _theirs) = std::os::unix::net::UnixStream::pair()?;
        let pipe_writer = asyncio::open_write_pipe(ours).await?;
        for w in [&writer, &pipe_writer] {
            for offset in [u64::MAX, i64::MAX as u64 + 1, i64::MAX as u64] {
                match w.sendfile(&file, offset, None).await {
                    Err(Error::Io(e)) => {
                        assert_eq!(e.raw_os_error(), Some(libc::EINVAL), "{offset}: {e:?}")
                    }
                    other => panic!("{offset}: {other:?}"),
                }
                assert_eq!(
                    position(&file),
                    10,
                    "{offset}: nothing sent, position untouched"
                );
            }
        }
        writer.write(b"after")?;
        writer.write_eof()?;
        done.wait().await;
        assert_eq!(*received.borrow(), b"after");
        writer.close();
        pipe_writer.close();
        server.close();
        Ok::<_, Error>(())
    })
    .unwrap();
}

/// Reads from `peer` (non-blocking) until it has `n` bytes, letting the loop turn (bounded).
async fn peer_reads(peer: &mut std::os::unix::net::UnixStream, n: usize) -> Vec<u8> {
    let mut got = Vec::new();
    let mut buf = [0u8; 64];
    for _ in 0..100_000 {
        match peer.read(&mut buf) {
            Ok(0) => break,
            Ok(k) => got.extend_from_slice(&buf[..k]),
            Err(e) if e.kind() == std::io::ErrorKind::WouldBlock => {}
            Err(e) => panic!("peer read: {e}"),
        }
        if got.len() >= n {
            return got;
        }
        asyncio::yield_now().await;
    }
    panic!("the peer got {} of {n} bytes", got.len());
}

/// CPython's `_sendfile_fallback` pauses reading for the duration (its
/// `_SendfileFallbackProtocol`) and resumes it after: what the peer sends meanwhile waits in
/// the socket and reaches the reader only once the sendfile has ended. From a pipe, so the
/// fallback runs (sendfile(2) cannot read a pipe), and the test decides when it ends.
#[test]
fn a_fallback_sendfile_pauses_reading_until_it_ends() {
    let (pipe_r, mut pipe_w) = util::os_pipe();
    let (ours, mut peer) = std::os::unix::net::UnixStream::pair().unwrap();
    peer.set_nonblocking(true).unwrap();
    run(async move {
        let (reader, writer) = asyncio::open_connection_sock(ours).await?;
        let (writer, pipe_r) = (Rc::new(writer), Rc::new(pipe_r));
        pipe_w.write_all(b"first")?;
        let (w, f) = (writer.clone(), pipe_r.clone());
        let sending = asyncio::spawn(async move { w.sendfile(&f, 0, Some(10)).await });
        // The first block went out: the sendfile now waits for the pipe's next bytes.
        assert_eq!(peer_reads(&mut peer, 5).await, b"first");
        peer.write_all(b"hello").unwrap(); // in our socket at once (a socketpair)
        for _ in 0..20 {
            asyncio::yield_now().await;
        }
        assert!(!sending.is_done());
        let early = asyncio::timeout(Duration::ZERO, reader.read(5)).await;
        assert!(
            matches!(early, Err(Error::Timeout)),
            "the peer's data reached the reader during the sendfile: {early:?}"
        );
        assert!(
            !writer.transport().is_reading(),
            "paused, as CPython's fallback"
        );
        pipe_w.write_all(b"rest!")?;
        drop(pipe_w);
        assert_eq!(sending.await.unwrap()?, 10);
        assert!(writer.transport().is_reading(), "resumed: it was on before");
        assert_eq!(reader.readexactly(5).await?, b"hello");
        assert_eq!(peer_reads(&mut peer, 5).await, b"rest!");
        writer.close();
        Ok::<_, Error>(())
    })
    .unwrap();
}

/// A reader paused for its limit (S14) before a sendfile is still paused after it, on both
/// paths (CPython resumes only a transport that was reading), and resumes as it is read.
fn a_reader_paused_for_its_limit_stays_paused(fallback: bool) {
    let dir = util::temp_dir("sendfile-paused");
    let (pipe_r, mut pipe_w) = util::os_pipe();
    let (file, data) = if fallback {
        pipe_w.write_all(b"12345").unwrap();
        drop(pipe_w);
        (pipe_r, b"12345".to_vec())
    } else {
        patterned_file(&dir, 5)
    };
    let (ours, mut peer) = std::os::unix::net::UnixStream::pair().unwrap();
    peer.set_nonblocking(true).unwrap();
    peer.write_all(b"0123456789abcdefghij").unwrap();
    run(async move {
        let (reader, writer) = asyncio::open_connection_sock(ours).limit(4).await?;
        for _ in 0..1_000 {
            if !writer.transport().is_reading() {
                break;
            }
            asyncio::yield_now().await;
        }
        assert!(
            !writer.transport().is_reading(),
            "20 bytes over a limit of 4"
        );
        assert_eq!(writer.sendfile(&file, 0, Some(5)).await?, 5);
        assert!(
            !writer.transport().is_reading(),
            "the sendfile resumed a transport its reader keeps paused"
        );
        assert_eq!(peer_reads(&mut peer, 5).await, data);
        assert_eq!(reader.readexactly(20).await?, b"0123456789abcdefghij");
        assert!(writer.transport().is_reading(), "resumed by the reader");
        writer.close();
        Ok::<_, Error>(())
    })
    .unwrap();
}

#[test]
fn s14_a_reader_paused_for_its_limit_stays_paused_after_a_fallback_sendfile() {
    a_reader_paused_for_its_limit_stays_paused(true);
}

#[test]
fn s14_a_reader_paused_for_its_limit_stays_paused_after_a_native_sendfile() {
    a_reader_paused_for_its_limit_stays_paused(false);
}

/// A fallback sendfile from a pipe (its reads wait for the test to fill it) runs on `writer`;
/// a second sendfile meanwhile, native (`file` over TCP) or block by block (over TLS), is
/// refused, and the first one's bytes reach the peer whole and alone. They used to run
/// together, the peer getting the two files' bytes interleaved. CPython 3.11 refuses a
/// second sendfile only during a native one (a `KeyError` from `_sendfile_native`'s `del
/// self._transports[fd]`, probed; its "Empty waiter is already set" is never reached), and
/// runs two fallbacks at once; we refuse in either case.
async fn a_second_sendfile_during_a_fallback_one_is_refused(
    (server, received, done, writer): (asyncio::Server, Received, Rc<Event>, StreamWriter),
    file: Rc<File>,
) -> Result<(), Error> {
    let (pipe_r, mut pipe_w) = util::os_pipe();
    let writer = Rc::new(writer);
    let w = writer.clone();
    let first = asyncio::spawn(async move { w.sendfile(&pipe_r, 0, None).await });
    for _ in 0..1000 {
        if !writer.transport().is_reading() {
            break; // the fallback has begun: it pauses reading
        }
        asyncio::yield_now().await;
    }
    assert!(!writer.transport().is_reading(), "the first sendfile runs");
    match writer.sendfile(&file, 0, None).await {
        Err(Error::InvalidState(m)) => assert_eq!(m, "sendfile is already in progress"),
        other => panic!("the second sendfile: {other:?}"),
    }
    assert_eq!(position(&file), 0, "the refused one moved nothing");
    assert!(!first.is_done(), "the first goes on");
    pipe_w.write_all(b"the first file, whole")?;
    drop(pipe_w);
    assert_eq!(first.await.unwrap()?, 21);
    writer.close();
    done.wait().await;
    assert_eq!(&received.borrow()[..], b"the first file, whole");
    server.close();
    Ok(())
}

#[test]
fn a_native_sendfile_during_a_fallback_one_is_refused() {
    let dir = util::temp_dir("sendfile");
    let file = Rc::new(patterned_file(&dir, 100_000).0);
    file.as_ref().seek(SeekFrom::Start(0)).unwrap();
    run(async move {
        a_second_sendfile_during_a_fallback_one_is_refused(tcp_to_collector().await?, file).await
    })
    .unwrap();
}

#[cfg(feature = "tls")]
#[test]
fn over_tls_a_fallback_sendfile_during_another_one_is_refused() {
    let dir = util::temp_dir("sendfile");
    let file = Rc::new(patterned_file(&dir, 100_000).0);
    file.as_ref().seek(SeekFrom::Start(0)).unwrap();
    run(async move {
        a_second_sendfile_during_a_fallback_one_is_refused(tls_to_collector().await?, file).await
    })
    .unwrap();
}

/// The future of a fallback sendfile, the writer it runs on and their loop, kept by a thread
/// for its whole life (a loop embedded in a thread-local, as a host program may keep one).
type KeptSendfile = (
    std::pin::Pin<Box<dyn std::future::Future<Output = Result<u64, Error>>>>,
    Rc<StreamWriter>,
    asyncio::EventLoop,
);

thread_local! {
    static KEPT: RefCell<Option<KeptSendfile>> = const { RefCell::new(None) };
}

/// A fallback sendfile still running when its thread ends is dropped by the thread-locals'
/// destructors, possibly after the list of running fallbacks is gone: its mark's drop must
/// not touch that list then. It did (`LocalKey::with`), a panic in a thread-local's
/// destructor, which aborts the process.
#[test]
fn a_fallback_sendfile_dropped_as_its_thread_ends_ends_quietly() {
    let dir = util::temp_dir("sendfile");
    let (file, _) = patterned_file(&dir, 1 << 20);
    let ended = std::thread::spawn(move || {
        // Registered first, so destroyed after what the sendfile registers later (glibc runs
        // thread-local destructors in reverse order of registration).
        KEPT.with(|_| ());
        let lp = asyncio::EventLoop::new().unwrap();
        let (ours, theirs) = std::os::unix::net::UnixStream::pair().unwrap();
        let writer = lp.run_until_complete(asyncio::open_write_pipe(ours));
        let writer = Rc::new(writer.unwrap().unwrap());
        let w = writer.clone();
        let mut sending: std::pin::Pin<Box<dyn std::future::Future<Output = _>>> =
            Box::pin(async move { w.sendfile(&file, 0, None).await });
        let pending = lp.run_until_complete(std::future::poll_fn(|cx| {
            std::task::Poll::Ready(sending.as_mut().poll(cx).is_pending())
        }));
        assert!(
            pending.unwrap(),
            "the fallback runs, its first block read on a thread"
        );
        KEPT.with(|k| *k.borrow_mut() = Some((sending, writer, lp)));
        drop(theirs);
    })
    .join();
    assert!(ended.is_ok(), "the thread ended without a panic");
}
