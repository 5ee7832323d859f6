//! The write side (CPython's `UnixWritePipeTransportTests`): write and `write_eof`, the
//! water marks, `_write_ready` flushes, the reader going away (`EPIPE`, a close) and abort.

use super::*;

#[test]
fn test_write_and_test_write_eof() {
    let lp = EventLoop::new().unwrap();
    let (r, w) = os_pipe();
    let (t, proto) = write_pipe(&lp, w, Recorder::default());
    assert!(t.can_write_eof());
    assert!(!t.is_reading());
    t.write(b"").unwrap(); // test_write_no_data
    t.write(b"data").unwrap();
    t.writelines(&[io::IoSlice::new(b" and"), io::IoSlice::new(b" more")])
        .unwrap();
    t.write_eof().unwrap();
    assert!(t.is_closing());
    assert!(t.write(b"late").is_ok(), "dropped after close, as CPython");
    run_until(&lp, 100, || proto.borrow().lost);
    assert_eq!(
        proto.borrow().grammar(),
        ["connection_made", "connection_lost(None)"]
    );
    assert_eq!(drain_thread(r).join().unwrap(), b"data and more");
}

/// Backpressure you can see (issue #16), on pipes: `reading_paused` says a transport that
/// reads has stopped. A write pipe never reads, so it is never paused for reading; it used to
/// report `reading_paused: true`, and each one (every child's stdin) counted in
/// `LoopStats::reading_paused` as if backpressure held it.
#[test]
fn a_write_pipe_is_not_reported_as_paused_for_reading() {
    let lp = EventLoop::new().unwrap();
    let (_r, w) = os_pipe();
    let (writer, _) = write_pipe(&lp, w, Recorder::default());
    let (r, _w) = os_pipe();
    let (reader, _) = read_pipe(&lp, r, Recorder::default());
    assert!(
        !writer.buffer_info().reading_paused,
        "{:?}",
        writer.buffer_info()
    );
    assert!(!reader.buffer_info().reading_paused);
    assert_eq!(lp.handle().stats().reading_paused, 0);
    // A read pipe paused by its protocol is.
    reader.pause_reading();
    assert!(reader.buffer_info().reading_paused);
    assert_eq!(lp.handle().stats().reading_paused, 1);
    writer.close();
    reader.close();
    for _ in 0..5 {
        lp.run_once(Some(Duration::ZERO)).unwrap();
    }
}

#[test]
fn test_write_buffer_past_the_pipe_capacity_pauses_and_resumes_at_the_marks() {
    let lp = EventLoop::new().unwrap();
    let (r, w) = os_pipe();
    let (t, proto) = write_pipe(&lp, w, Recorder::default());
    t.set_write_buffer_limits(Some(64 * 1024), Some(16 * 1024))
        .unwrap();
    assert_eq!(t.get_write_buffer_limits(), (16 * 1024, 64 * 1024));
    let chunk: Vec<u8> = (0..=255u8).cycle().take(1024 * 1024).collect();
    t.write(&chunk).unwrap(); // far more than a pipe holds (64 KiB on Linux)
    assert!(t.get_write_buffer_size() > 64 * 1024);
    assert_eq!(
        proto.borrow().calls.last().map(String::as_str),
        Some("pause_writing")
    );
    let reader = drain_thread(r);
    run_until(&lp, 10_000, || t.get_write_buffer_size() == 0);
    assert!(proto.borrow().calls.iter().any(|c| c == "resume_writing"));
    t.close();
    run_until(&lp, 100, || proto.borrow().lost);
    assert_eq!(reader.join().unwrap(), chunk);
    assert_eq!(
        proto.borrow().grammar(),
        [
            "connection_made",
            "pause_writing",
            "resume_writing",
            "connection_lost(None)"
        ]
    );
}

/// CPython's `_UnixWritePipeTransport._write_ready` calls `_maybe_resume_protocol` only once
/// the buffer is empty: a partial flush that leaves the buffer at or below the low mark does
/// not resume a write pipe's protocol (a socket's it does, L67/L71).
#[test]
fn test__write_ready_partial_resumes_only_once_the_buffer_is_empty() {
    // SAFETY: sysconf reads a constant of the system; no memory is handed over.
    let page = usize::try_from(unsafe { libc::sysconf(libc::_SC_PAGESIZE) }).unwrap();
    let lp = EventLoop::new().unwrap();
    let (mut r, w) = os_pipe();
    let (t, proto) = write_pipe(&lp, w, Recorder::default());
    let chunk: Vec<u8> = (0..=255u8).cycle().take(64 * page * 16).collect();
    t.write(&chunk).unwrap(); // the pipe takes what it holds, the rest is buffered
    let buffered = t.get_write_buffer_size();
    assert!(buffered > 2 * page, "{buffered}");
    assert_eq!(
        proto.borrow().calls.last().map(String::as_str),
        Some("pause_writing")
    );
    // The low mark is what stays buffered once the pipe takes two more pages.
    let low = buffered - 2 * page;
    t.set_write_buffer_limits(Some(buffered), Some(low))
        .unwrap();
    let mut got = vec![0u8; 2 * page];
    r.read_exact(&mut got).unwrap(); // two full pages out of the full pipe
    run_until(&lp, 100, || t.get_write_buffer_size() < buffered);
    let left = t.get_write_buffer_size();
    assert!(left > 0 && left <= low, "left {left}, low {low}");
    assert_eq!(
        proto.borrow().calls.last().map(String::as_str),
        Some("pause_writing"),
        "at the low mark, not yet empty: still paused"
    );
    let reader = drain_thread(r);
    run_until(&lp, 10_000, || t.get_write_buffer_size() == 0);
    assert_eq!(
        proto.borrow().calls.last().map(String::as_str),
        Some("resume_writing"),
        "empty: resumed"
    );
    t.close();
    run_until(&lp, 100, || proto.borrow().lost);
    got.extend(reader.join().unwrap());
    assert!(got == chunk);
}

/// A write pipe paused above its high-water mark and then lost (its reader gone) reports no
/// writing paused: its protocol hears no more of writing.
#[test]
fn a_lost_write_pipe_reports_no_writing_paused() {
    let lp = EventLoop::new().unwrap();
    let (r, w) = os_pipe();
    let (t, proto) = write_pipe(&lp, w, Recorder::default());
    t.write(&vec![7u8; 1024 * 1024]).unwrap(); // far more than a pipe holds
    assert!(t.buffer_info().writing_paused, "{:?}", t.buffer_info());
    drop(r); // the next flush fails with EPIPE: the connection is lost
    run_until(&lp, 10_000, || proto.borrow().lost);
    let info = t.buffer_info();
    assert_eq!(info.write_buffered, 0, "{info:?}");
    assert!(!info.writing_paused, "{info:?}");
}

#[test]
fn test_write_eof_pending_flushes_before_closing() {
    let lp = EventLoop::new().unwrap();
    let (r, w) = os_pipe();
    let (t, proto) = write_pipe(&lp, w, Recorder::default());
    let chunk = vec![7u8; 300 * 1024];
    t.write(&chunk).unwrap();
    assert!(t.get_write_buffer_size() > 0);
    t.write_eof().unwrap();
    assert!(t.is_closing());
    let reader = drain_thread(r);
    run_until(&lp, 10_000, || proto.borrow().lost);
    assert_eq!(reader.join().unwrap().len(), chunk.len());
    assert_eq!(
        proto.borrow().calls.last().unwrap(),
        "connection_lost(None)"
    );
}

#[test]
fn test_write_err_epipe_is_connection_lost_broken_pipe() {
    let lp = EventLoop::new().unwrap();
    let (r, w) = os_pipe();
    let w_fd = std::os::fd::AsRawFd::as_raw_fd(&w);
    let (t, proto) = write_pipe(&lp, w, Recorder::default());
    drop(r);
    until_no_reader(w_fd);
    t.write(b"nobody reads").unwrap(); // EPIPE on the fast path; no SIGPIPE
    run_until(&lp, 100, || proto.borrow().lost);
    assert_eq!(
        proto.borrow().grammar(),
        ["connection_made", "connection_lost(BrokenPipe)"]
    );
    t.write(b"again").unwrap(); // dropped silently once lost
}

#[test]
fn test__write_ready_err_with_bytes_buffered_is_broken_pipe() {
    let lp = EventLoop::new().unwrap();
    let (r, w) = os_pipe();
    let (t, proto) = write_pipe(&lp, w, Recorder::default());
    t.write(&vec![1u8; 256 * 1024]).unwrap();
    assert!(t.get_write_buffer_size() > 0);
    drop(r);
    run_until(&lp, 100, || proto.borrow().lost);
    assert_eq!(
        proto.borrow().calls.last().unwrap(),
        "connection_lost(BrokenPipe)"
    );
    assert_eq!(t.get_write_buffer_size(), 0, "buffer dropped");
}

#[test]
fn test__read_ready_reader_gone_with_nothing_buffered_closes() {
    // CPython watches the write end for readability: the reader going away with nothing
    // buffered is a plain close.
    let lp = EventLoop::new().unwrap();
    let (r, w) = os_pipe();
    let (_t, proto) = write_pipe(&lp, w, Recorder::default());
    drop(r);
    run_until(&lp, 100, || proto.borrow().lost);
    assert_eq!(
        proto.borrow().grammar(),
        ["connection_made", "connection_lost(None)"]
    );
}

/// A write pipe over one end of a bidirectional socket, read through another transport as
/// well (stdin and stdout on one socket, as under inetd or a socket-activating supervisor):
/// the peer's bytes and its half-close are the reader's, and leave the writer open, so the
/// answer still goes out. (CPython's reader on a socket's write end would close the writer
/// at the first byte: python/asyncio#369; a terminal's end is exempt there for that reason.)
/// The peer closing altogether still closes the writer with nothing buffered.
#[test]
fn a_write_pipe_sharing_a_socket_with_a_reader_outlives_the_peer_s_data_and_half_close() {
    use std::net::Shutdown;
    use std::os::unix::net::UnixStream;
    let lp = EventLoop::new().unwrap();
    let (ours, mut peer) = UnixStream::pair().unwrap();
    let (_rt, reader) = read_pipe(
        &lp,
        ours.try_clone().unwrap(),
        Recorder {
            keep_open_on_eof: true,
            ..Default::default()
        },
    );
    let (wt, writer) = write_pipe(&lp, ours, Recorder::default());
    peer.write_all(b"request").unwrap();
    peer.shutdown(Shutdown::Write).unwrap();
    run_until(&lp, 100, || reader.borrow().lost);
    assert_eq!(reader.borrow().data, b"request");
    assert_eq!(writer.borrow().grammar(), ["connection_made"]);
    assert!(!wt.is_closing(), "the writer closed at the peer's bytes");
    wt.write(b"answer").unwrap();
    let mut got = [0u8; 6];
    peer.set_read_timeout(Some(Duration::from_secs(10)))
        .unwrap();
    peer.read_exact(&mut got).unwrap();
    assert_eq!(&got, b"answer");
    drop(peer);
    run_until(&lp, 100, || writer.borrow().lost);
    assert_eq!(
        writer.borrow().grammar(),
        ["connection_made", "connection_lost(None)"]
    );
}

#[test]
fn test_abort() {
    let lp = EventLoop::new().unwrap();
    let (r, w) = os_pipe();
    let (t, proto) = write_pipe(&lp, w, Recorder::default());
    t.write(&vec![1u8; 256 * 1024]).unwrap();
    t.abort();
    assert_eq!(t.get_write_buffer_size(), 0);
    run_until(&lp, 100, || proto.borrow().lost);
    assert_eq!(
        proto.borrow().calls.last().unwrap(),
        "connection_lost(None)"
    );
    let got = drain_thread(r).join().unwrap();
    assert!(got.len() < 256 * 1024, "the buffered tail was dropped");
}

/// Waits until the pipe whose write end is `w_fd` has no reader left. A child that another
/// test of this binary forks between our `pipe2` and the drop of the read end holds a copy of
/// it until its exec closes it (`O_CLOEXEC`): a write in that window succeeds, and the test
/// would see the reader's later close instead of `EPIPE` (one run in five under a full
/// `cargo test`). `poll(2)` reports `POLLERR` on a write end once no reader is left; bounded
/// (a child's exec takes milliseconds).
fn until_no_reader(w_fd: std::os::fd::RawFd) {
    for _ in 0..1000 {
        let mut pfd = libc::pollfd {
            fd: w_fd,
            events: 0,
            revents: 0,
        };
        // SAFETY: one valid `pollfd` for a descriptor the transport keeps open; 10 ms timeout.
        let n = unsafe { libc::poll(&mut pfd, 1, 10) };
        assert!(n >= 0, "poll: {}", io::Error::last_os_error());
        if pfd.revents & libc::POLLERR != 0 {
            return;
        }
    }
    panic!("the pipe's read end is still open somewhere after 10 s");
}
