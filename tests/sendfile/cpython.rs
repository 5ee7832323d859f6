//! CPython 3.11's sendfile tests, ported one to one where our API has their subject:
//! `test_sendfile.py` (`SendfileMixin`, `SockSendfileMixin`), `test_base_events.py`
//! (`BaseLoopSockSendfileTests`) and `test_unix_events.py` (`SelectorEventLoopUnixSockSendfileTests`).
//! Each test is named after the CPython test it ports and cites it. `loop.sendfile(transport,
//! ...)` is `writer.sendfile(...)` here; CPython's "force the fallback" (a `_sendfile_native`
//! that raises `SendfileNotAvailableError`) is a stream that is not a socket transport (a
//! write pipe over a Unix socket pair), whose sendfile always takes the fallback.
//! The map of every CPython test to ours (or why it does not apply) is in `tests/sendfile.rs`.

use std::fs::File;
use std::io::{Read, Seek, SeekFrom, Write};
use std::rc::Rc;

use asyncio::{Error, Event, StreamReader, StreamWriter};

use super::{patterned, position, run, serve_and_connect, unlinked_file, util, Received, BOUND};
use util::port_of;

/// `SendfileBase.DATA`: 256 KiB plus one, more than the socket buffers CPython shrinks to
/// 4 KiB. Patterned here (CPython's is all `x`), so that a byte out of place shows.
const DATA_LEN: usize = 256 * 1024 + 1;

fn data() -> Vec<u8> {
    patterned(DATA_LEN)
}

/// The test file, opened for reading and writing, at position 0 as CPython's `open(TESTFN,
/// 'rb')` is; already unlinked.
fn data_file(dir: &std::path::Path, bytes: &[u8]) -> File {
    let mut f = unlinked_file(dir, "data");
    f.write_all(bytes).unwrap();
    f.seek(SeekFrom::Start(0)).unwrap();
    f
}

/// `MySendfileProto(close_after=n)` as a stream server: keeps what a connection sends, and
/// closes it once `close_after` bytes came (0: reads to EOF). Sets `done` at the end.
type Handler = Box<
    dyn Fn(
        StreamReader,
        StreamWriter,
    ) -> std::pin::Pin<Box<dyn std::future::Future<Output = Result<(), Error>>>>,
>;

fn server_proto(received: &Received, done: &Rc<Event>, close_after: usize) -> Handler {
    let (received, done) = (received.clone(), done.clone());
    Box::new(move |reader: StreamReader, writer: StreamWriter| {
        let (received, done) = (received.clone(), done.clone());
        Box::pin(async move {
            loop {
                let got = match reader.read(64 * 1024).await {
                    Ok(got) => got,
                    Err(_) => break, // the client went with bytes unread: a reset
                };
                if got.is_empty() {
                    break;
                }
                received.borrow_mut().extend_from_slice(&got);
                if close_after > 0 && received.borrow().len() >= close_after {
                    break;
                }
            }
            writer.close();
            done.set();
            Ok(())
        })
    })
}

/// What [`prepare_sendfile`] hands back: the server, what it received, set when its
/// connection ended, and the client stream.
type Prepared = (
    asyncio::Server,
    Received,
    Rc<Event>,
    StreamReader,
    StreamWriter,
);

/// `prepare_sendfile(is_ssl=..., close_after=...)`: a server on 127.0.0.1 and a client stream.
async fn prepare_sendfile(is_ssl: bool, close_after: usize) -> Result<Prepared, Error> {
    let (received, done) = (Received::default(), Rc::new(Event::new()));
    let handler = server_proto(&received, &done, close_after);
    let (server, reader, writer) = serve_and_connect(handler, is_ssl).await?;
    Ok((server, received, done, reader, writer))
}

/// A stream whose sendfile must take the fallback (CPython's forced fallback): a write pipe
/// over one end of a Unix socket pair; the other end is a stream that keeps what it reads, as
/// [`server_proto`] does.
async fn prepare_fallback(
    close_after: usize,
) -> Result<(Received, Rc<Event>, StreamWriter), Error> {
    let (ours, theirs) = std::os::unix::net::UnixStream::pair()?;
    let writer = asyncio::open_write_pipe(ours).await?;
    let (peer_reader, peer_writer) = asyncio::open_connection_sock(theirs).await?;
    let (received, done) = (Received::default(), Rc::new(Event::new()));
    let handler = server_proto(&received, &done, close_after);
    drop(asyncio::spawn(handler(peer_reader, peer_writer)));
    Ok((received, done, writer))
}

/// The stream a test's sendfile goes over: plain TCP, TLS, or CPython's forced fallback.
#[derive(Clone, Copy, PartialEq)]
enum Via {
    Tcp,
    Tls,
    Fallback,
}

/// The file from `offset` (`count` bytes, or to its end) sent over `via` to a server that
/// closes once `close_after` bytes came (0: at EOF): sendfile returns how many went, the
/// server gets exactly that slice of the file, and the position is after it.
fn sends_slice(via: Via, close_after: usize, offset: u64, count: Option<u64>) {
    let dir = util::temp_dir("sendfile");
    let (data, file) = (data(), data_file(&dir, &data()));
    let end = count.map_or(DATA_LEN as u64, |c| offset + c);
    run(async move {
        let (server, received, done, writer) = match via {
            Via::Fallback => {
                let (received, done, writer) = prepare_fallback(close_after).await?;
                (None, received, done, writer)
            }
            Via::Tcp | Via::Tls => {
                let (server, received, done, reader, writer) =
                    prepare_sendfile(via == Via::Tls, close_after).await?;
                (Some((server, reader)), received, done, writer)
            }
        };
        let ret = writer.sendfile(&file, offset, count).await?;
        writer.close();
        done.wait().await;
        assert_eq!(ret, end - offset);
        assert!(received.borrow()[..] == data[offset as usize..end as usize]);
        assert_eq!(position(&file), end);
        if let Some((server, _reader)) = server {
            server.close();
        }
        Ok::<_, Error>(())
    })
    .unwrap();
}

/// `SendfileMixin.test_sendfile`: the whole file arrives, and the position is its end.
#[test]
fn test_sendfile() {
    sends_slice(Via::Tcp, 0, 0, None);
}

/// `SendfileMixin.test_sendfile_force_fallback`, and `BaseLoopSockSendfileTests.
/// test_sock_sendfile_fallback` (the same on a socket).
#[test]
fn test_sendfile_force_fallback() {
    sends_slice(Via::Fallback, 0, 0, None);
}

/// `BaseLoopSockSendfileTests.test_sock_sendfile_fallback_offset_and_count`: the fallback
/// seeks to the offset and stops after `count`; the position is `offset + count`.
#[test]
fn test_sock_sendfile_fallback_offset_and_count() {
    sends_slice(Via::Fallback, 0, 1000, Some(2000));
}

/// `SendfileMixin.test_sendfile_ssl` (over TLS, sendfile is the fallback).
#[cfg(feature = "tls")]
#[test]
fn test_sendfile_ssl() {
    sends_slice(Via::Tls, 0, 0, None);
}

/// `SendfileMixin.test_sendfile_for_closing_transp`: refused with "is closing", nothing sent,
/// the position untouched.
#[test]
fn test_sendfile_for_closing_transp() {
    let dir = util::temp_dir("sendfile");
    let file = data_file(&dir, &data());
    run(async move {
        let (server, received, done, _r, writer) = prepare_sendfile(false, 0).await?;
        writer.close();
        match writer.sendfile(&file, 0, None).await {
            Err(Error::InvalidState(m)) => assert_eq!(m, "Transport is closing"),
            other => panic!("{other:?}"),
        }
        done.wait().await;
        assert!(received.borrow().is_empty());
        assert_eq!(position(&file), 0);
        server.close();
        Ok::<_, Error>(())
    })
    .unwrap();
}

/// `SendfileMixin.test_sendfile_pre_and_post_data` (`is_ssl`: `test_sendfile_ssl_pre_and_post_data`),
/// and `SockSendfileMixin.test_sock_sendfile_mix_with_regular_send` (64 KiB either side).
fn pre_and_post_data(is_ssl: bool, prefix: Vec<u8>, suffix: Vec<u8>) {
    let dir = util::temp_dir("sendfile");
    let (data, file) = (data(), data_file(&dir, &data()));
    run(async move {
        let (server, received, done, _r, writer) = prepare_sendfile(is_ssl, 0).await?;
        writer.write(&prefix)?;
        let ret = writer.sendfile(&file, 0, None).await?;
        writer.write(&suffix)?;
        writer.close();
        done.wait().await;
        assert_eq!(ret, DATA_LEN as u64);
        let want = [&prefix[..], &data[..], &suffix[..]].concat();
        let got = received.borrow();
        assert_eq!(got.len(), want.len());
        assert!(*got == want, "PREFIX + DATA + SUFFIX, in that order");
        assert_eq!(position(&file), DATA_LEN as u64);
        server.close();
        Ok::<_, Error>(())
    })
    .unwrap();
}

#[test]
fn test_sendfile_pre_and_post_data() {
    pre_and_post_data(false, b"PREFIX__".repeat(1024), b"--SUFFIX".repeat(1024));
}

#[cfg(feature = "tls")]
#[test]
fn test_sendfile_ssl_pre_and_post_data() {
    pre_and_post_data(true, b"zxcvbnm".repeat(1024), b"0987654321".repeat(1024));
}

#[test]
fn test_sock_sendfile_mix_with_regular_send() {
    let buf = b"mix_regular_send".repeat(4 * 1024); // 64 KiB
    pre_and_post_data(false, buf.clone(), buf);
}

/// `SendfileMixin.test_sendfile_partial`.
#[test]
fn test_sendfile_partial() {
    sends_slice(Via::Tcp, 0, 1000, Some(100));
}

/// `SendfileMixin.test_sendfile_ssl_partial`.
#[cfg(feature = "tls")]
#[test]
fn test_sendfile_ssl_partial() {
    sends_slice(Via::Tls, 0, 1000, Some(100));
}

/// `SockSendfileMixin.test_sock_sendfile_with_offset_and_count`.
#[test]
fn test_sock_sendfile_with_offset_and_count() {
    sends_slice(Via::Tcp, 0, 1000, Some(2000));
}

/// `SockSendfileMixin.test_sock_sendfile_zero_size`: an empty file sends nothing and returns
/// 0, on the native path, over TLS and on the forced fallback; the position stays at 0.
#[test]
fn test_sock_sendfile_zero_size() {
    let dir = util::temp_dir("sendfile");
    let file = data_file(&dir, b"");
    run(async move {
        let (server, received, done, _r, writer) = prepare_sendfile(false, 0).await?;
        assert_eq!(writer.sendfile(&file, 0, None).await?, 0);
        assert_eq!(position(&file), 0);
        writer.write(b"after")?; // the stream is as it was
        writer.close();
        done.wait().await;
        assert_eq!(*received.borrow(), b"after");
        server.close();

        let (received, done, writer) = prepare_fallback(0).await?;
        assert_eq!(writer.sendfile(&file, 0, None).await?, 0);
        assert_eq!(position(&file), 0);
        writer.close();
        done.wait().await;
        assert!(received.borrow().is_empty());

        #[cfg(feature = "tls")]
        {
            let (server, received, done, _r, writer) = prepare_sendfile(true, 0).await?;
            assert_eq!(writer.sendfile(&file, 0, None).await?, 0);
            assert_eq!(position(&file), 0);
            writer.close();
            done.wait().await;
            assert!(received.borrow().is_empty());
            server.close();
        }
        Ok::<_, Error>(())
    })
    .unwrap();
}

/// `SendfileMixin.test_sendfile_close_peer_after_receiving`: the peer closes once it has it
/// all; the sendfile still succeeds.
#[test]
fn test_sendfile_close_peer_after_receiving() {
    sends_slice(Via::Tcp, DATA_LEN, 0, None);
}

/// `SendfileMixin.test_sendfile_ssl_close_peer_after_receiving`.
#[cfg(feature = "tls")]
#[test]
fn test_sendfile_ssl_close_peer_after_receiving() {
    sends_slice(Via::Tls, DATA_LEN, 0, None);
}

/// `SendfileMixin.test_sendfile_fallback_close_peer_in_the_middle_of_receiving`: the forced
/// fallback to a peer that reads 1 KiB and goes fails with a connection error; the peer got
/// at least that KiB and not all, and the position is after what was handed over. (A bigger
/// file than CPython's: it shrinks the socket buffers to 4 KiB, a Unix socket pair's are
/// larger.)
#[test]
fn test_sendfile_fallback_close_peer_in_the_middle_of_receiving() {
    let dir = util::temp_dir("sendfile");
    let len = 16 << 20;
    let file = data_file(&dir, &vec![7u8; len]);
    run(async move {
        let (ours, theirs) = std::os::unix::net::UnixStream::pair()?;
        let writer = asyncio::open_write_pipe(ours).await?;
        let peer = std::thread::spawn(move || {
            let mut theirs = theirs;
            theirs.set_read_timeout(Some(BOUND)).unwrap();
            let mut kib = [0u8; 1024];
            theirs.read_exact(&mut kib).unwrap();
            // Dropped with bytes unread: the sender's next write fails.
        });
        match writer.sendfile(&file, 0, None).await {
            Err(Error::Io(e)) => assert!(
                matches!(
                    e.kind(),
                    std::io::ErrorKind::BrokenPipe | std::io::ErrorKind::ConnectionReset
                ),
                "{e:?}"
            ),
            other => panic!("{other:?}"),
        }
        peer.join().unwrap();
        let at = position(&file);
        assert!((1024..len as u64).contains(&at), "position {at}");
        writer.close();
        Ok::<_, Error>(())
    })
    .unwrap();
}

/// `SelectorEventLoopUnixSockSendfileTests.test_sock_sendfile_os_error_first_call`: a
/// `sendfile(2)` that fails before any byte went, here because the file is not open for
/// reading (`EBADF`). CPython takes that as "not available" and falls back, whose read then
/// fails (`io.UnsupportedOperation: read`); here the error comes straight, as an
/// `Error::Io`. Either way: nothing sent, the position untouched, the stream usable.
#[test]
fn test_sock_sendfile_os_error_first_call() {
    let dir = util::temp_dir("sendfile");
    let path = dir.join("write-only");
    std::fs::write(&path, data()).unwrap();
    let file = std::fs::OpenOptions::new().write(true).open(&path).unwrap();
    run(async move {
        let (server, received, done, _r, writer) = prepare_sendfile(false, 0).await?;
        match writer.sendfile(&file, 0, None).await {
            Err(Error::Io(e)) => assert_eq!(e.raw_os_error(), Some(libc::EBADF), "{e:?}"),
            other => panic!("{other:?}"),
        }
        assert_eq!(position(&file), 0);
        assert!(writer.transport().is_reading(), "reading is back on");
        writer.write(b"after")?;
        writer.close();
        done.wait().await;
        assert_eq!(*received.borrow(), b"after");
        server.close();

        // The forced fallback: its read fails the same way.
        let (received, done, writer) = prepare_fallback(0).await?;
        match writer.sendfile(&file, 0, None).await {
            Err(Error::Io(e)) => assert_eq!(e.raw_os_error(), Some(libc::EBADF), "{e:?}"),
            other => panic!("{other:?}"),
        }
        assert_eq!(position(&file), 0);
        writer.close();
        done.wait().await;
        assert!(received.borrow().is_empty());
        Ok::<_, Error>(())
    })
    .unwrap();
}

/// `SendfileMixin.test_sendfile_prevents_bare_write`: once the sendfile has started (one
/// step of its task, as CPython's `run_loop(fut)`), a bare write is refused with CPython's
/// RuntimeError text, an empty one too (CPython checks before it looks at the length); the
/// sendfile then completes. The client's send buffer is shrunk to 4 KiB, as CPython's
/// `reduce_send_buffer_size` does, so that the file cannot go in one step.
#[test]
fn test_sendfile_prevents_bare_write() {
    let dir = util::temp_dir("sendfile");
    let (data, file) = (data(), data_file(&dir, &data()));
    run(async move {
        let (received, done) = (Received::default(), Rc::new(Event::new()));
        let server =
            asyncio::start_server(server_proto(&received, &done, 0), "127.0.0.1", 0).await?;
        let sock = std::net::TcpStream::connect(("127.0.0.1", port_of(&server)))?;
        socket2::SockRef::from(&sock).set_send_buffer_size(4096)?;
        let (_r, writer) = asyncio::open_connection_sock(sock).await?;
        let (writer, file) = (Rc::new(writer), Rc::new(file));
        let (w, f) = (writer.clone(), file.clone());
        let started = Rc::new(Event::new());
        let s = started.clone();
        let t = asyncio::spawn(async move {
            s.set();
            w.sendfile(&f, 0, None).await
        });
        started.wait().await;
        assert!(!t.is_done(), "the file went in one step");
        for bare in [&b"data"[..], b""] {
            match writer.write(bare) {
                Err(Error::InvalidState(m)) => {
                    assert_eq!(m, "unable to write; sendfile is in progress")
                }
                other => panic!("write({bare:?}): {other:?}"),
            }
        }
        assert_eq!(t.await.unwrap()?, DATA_LEN as u64);
        writer.close();
        done.wait().await;
        assert!(*received.borrow() == data);
        server.close();
        Ok::<_, Error>(())
    })
    .unwrap();
}

/// `SendfileMixin.test_sendfile_close_peer_in_the_middle_of_receiving`, over TLS (CPython
/// runs it on plain sockets only; over TLS sendfile is its fallback). The peer takes 1 KiB
/// and closes: it sends close_notify and waits for ours (T22), discarding what still comes.
/// The fallback pauses reading for its duration, as CPython's `_SendfileFallbackProtocol`
/// does, so the close_notify is not seen until it ends, and every block is handed over: the
/// sendfile returns the whole length, as CPython 3.11's does here (checked: its
/// `loop.sendfile` over TLS returned 16 MiB while its server, OpenSSL, failed with
/// APPLICATION_DATA_AFTER_CLOSE_NOTIFY). The peer got at least that KiB and not all; the
/// position is after what was handed over. Our peer's layer now fails the same way (T25) and
/// aborts, which may reach this side before the last block is handed over: the sendfile then
/// fails with the transport closed (BrokenPipe) or reset, as CPython's fallback raises
/// ConnectionError from its drain once the transport is closing. Which comes first is
/// timing, in CPython too; either is accepted.
#[cfg(feature = "tls")]
#[test]
fn test_sendfile_ssl_close_peer_in_the_middle_of_receiving() {
    let dir = util::temp_dir("sendfile");
    let len = 16usize << 20;
    let file = data_file(&dir, &vec![7u8; len]);
    run(async move {
        let (server, received, done, _r, writer) = prepare_sendfile(true, 1024).await?;
        match writer.sendfile(&file, 0, None).await {
            Ok(sent) => {
                assert_eq!(sent, len as u64);
                assert_eq!(position(&file), len as u64);
            }
            Err(Error::Io(e))
                if matches!(
                    e.kind(),
                    std::io::ErrorKind::BrokenPipe | std::io::ErrorKind::ConnectionReset
                ) => {}
            Err(e) => return Err(e),
        }
        done.wait().await;
        let n = received.borrow().len();
        assert!((1024..len).contains(&n), "the peer got {n}");
        writer.close();
        server.close();
        Ok::<_, Error>(())
    })
    .unwrap();
}
