//! Pipe transports and streams over pipes (issue #15, pipes): `connect_read_pipe`,
//! `connect_write_pipe`, `open_read_pipe`/`open_write_pipe`, `stdin()` in a child process and
//! the stdin echo client end to end. Test names follow CPython's `test_unix_events.py`
//! (`UnixReadPipeTransportTests`, `UnixWritePipeTransportTests`) where one is ported; there
//! the fd is a mock, here a real OS pipe. Every wait is bounded by a number of loop turns or a
//! read timeout.

// CPython's test names (`test__read_ready`) keep their double underscore.
#![allow(non_snake_case)]

mod util;

use std::cell::RefCell;
use std::fs::File;
use std::io::{self, BufRead, BufReader, Read, Write};
use std::net::TcpListener;
use std::os::fd::OwnedFd;
use std::process::{Command, Stdio};
use std::rc::Rc;
use std::time::Duration;

use asyncio::{EventLoop, ExtraInfo, Transport};
use util::{example_binary, os_pipe, run_until, Recorder};

fn read_pipe(
    lp: &EventLoop,
    r: impl Into<OwnedFd> + 'static,
    rec: Recorder,
) -> (Transport, Rc<RefCell<Recorder>>) {
    let h = lp.handle();
    lp.run_until_complete(async move { h.connect_read_pipe(move || rec, r).await })
        .unwrap()
        .unwrap()
}

fn write_pipe(
    lp: &EventLoop,
    w: impl Into<OwnedFd> + 'static,
    rec: Recorder,
) -> (Transport, Rc<RefCell<Recorder>>) {
    let h = lp.handle();
    lp.run_until_complete(async move { h.connect_write_pipe(move || rec, w).await })
        .unwrap()
        .unwrap()
}

/// Reads everything from `r` on a thread (bounded by the writer closing).
fn drain_thread(mut r: File) -> std::thread::JoinHandle<Vec<u8>> {
    std::thread::spawn(move || {
        let mut all = Vec::new();
        r.read_to_end(&mut all).unwrap();
        all
    })
}

// ---- read side (UnixReadPipeTransportTests) ------------------------------------------------

#[test]
fn test_ctor() {
    let lp = EventLoop::new().unwrap();
    let (r, _w) = os_pipe();
    let (t, proto) = read_pipe(&lp, r, Recorder::default());
    assert_eq!(
        proto.borrow().calls,
        ["connection_made"],
        "made before it resolves"
    );
    assert!(t.is_reading());
    assert!(!t.is_closing());
    assert!(matches!(t.get_extra_info("pipe"), Some(ExtraInfo::Fd(_))));
    assert!(t.get_extra_info("peername").is_none());
    t.close();
    run_until(&lp, 100, || proto.borrow().lost);
    assert!(t.get_extra_info("pipe").is_none(), "closed: no descriptor");
}

#[test]
fn test__read_ready_data_then_eof_then_connection_lost() {
    let lp = EventLoop::new().unwrap();
    let (r, mut w) = os_pipe();
    let (t, proto) = read_pipe(&lp, r, Recorder::default());
    w.write_all(b"data").unwrap();
    run_until(&lp, 100, || proto.borrow().data.len() == 4);
    w.write_all(b" more").unwrap();
    drop(w);
    run_until(&lp, 100, || proto.borrow().lost);
    let p = proto.borrow();
    assert_eq!(p.data, b"data more");
    assert_eq!(
        p.grammar(),
        [
            "connection_made",
            "data",
            "eof_received",
            "connection_lost(None)"
        ]
    );
    assert!(t.is_closing());
}

/// A read pipe whose protocol panics in `data_received` stays open and reads on: CPython's
/// `_UnixReadPipeTransport._read_ready` calls `data_received` unguarded, so the exception
/// leaves for the loop, which reports a failed callback (`handle` key only), unlike a socket
/// transport, whose protocol's failure is fatal. CPython 3.11, a protocol raising on the
/// first of two chunks: {'message': 'Exception in callback
/// _UnixReadPipeTransport._read_ready()', 'exception': RuntimeError('boom-data'), 'handle':
/// ..}, then data_received(b'two'), eof_received, connection_lost(None). Ours names the
/// protocol's method, as for a datagram protocol.
#[test]
fn l18_a_read_pipe_whose_data_received_panics_reports_a_failed_callback_and_reads_on() {
    let lp = EventLoop::new().unwrap();
    let reports = util::capture_exceptions_and_keys(&lp.handle());
    let (r, mut w) = os_pipe();
    let rec = Recorder {
        on_data: Some(Box::new(|_, data| {
            if data == b"one" {
                panic!("boom-data");
            }
        })),
        ..Recorder::default()
    };
    let (t, proto) = read_pipe(&lp, r, rec);
    w.write_all(b"one").unwrap();
    run_until(&lp, 100, || !reports.borrow().is_empty());
    let call = format!("{}::data_received(..)", std::any::type_name::<Recorder>());
    assert_eq!(
        *reports.borrow(),
        [format!(
            "Exception in callback {call} | panicked: boom-data | [\"handle\"]"
        )]
    );
    assert!(!t.is_closing(), "the pipe stays open");
    assert!(t.is_reading());
    w.write_all(b"two").unwrap();
    run_until(&lp, 100, || proto.borrow().data.len() == 6);
    drop(w);
    run_until(&lp, 100, || proto.borrow().lost);
    let p = proto.borrow();
    assert_eq!(p.data, b"onetwo");
    assert_eq!(
        p.calls,
        [
            "connection_made",
            "data_received(3)",
            "data_received(3)",
            "eof_received",
            "connection_lost(None)"
        ]
    );
    assert_eq!(reports.borrow().len(), 1);
}

/// A read pipe whose protocol panics in `eof_received`: CPython runs `eof_received` as a loop
/// callback of its own and `connection_lost(None)` as the next, so the panic is a failed
/// callback's report and the end is as usual. CPython 3.11: {'message': 'Exception in callback
/// P.eof_received()', 'exception': RuntimeError('boom-eof'), 'handle': <Handle
/// P.eof_received()>}, then connection_lost(None).
#[test]
fn l18_a_read_pipe_whose_eof_received_panics_reports_a_failed_callback_then_connection_lost_none() {
    let lp = EventLoop::new().unwrap();
    let reports = util::capture_exceptions_and_keys(&lp.handle());
    let (r, mut w) = os_pipe();
    let rec = Recorder {
        on_eof: Some(Box::new(|_| panic!("boom-eof"))),
        ..Recorder::default()
    };
    let (t, proto) = read_pipe(&lp, r, rec);
    w.write_all(b"data").unwrap();
    drop(w);
    run_until(&lp, 100, || proto.borrow().lost);
    let call = format!("{}::eof_received()", std::any::type_name::<Recorder>());
    assert_eq!(
        *reports.borrow(),
        [format!(
            "Exception in callback {call} | panicked: boom-eof | [\"handle\"]"
        )]
    );
    assert_eq!(
        proto.borrow().grammar(),
        [
            "connection_made",
            "data",
            "eof_received",
            "connection_lost(None)"
        ]
    );
    assert!(t.is_closing());
}

/// A buffered protocol on a read pipe: a panic in `buffer_updated` (the bytes were read) is
/// reported as a failed callback and the pipe reads on, as a panic in `data_received`; one
/// in `get_buffer` (nothing read, a retry would fail again) closes the pipe as the socket
/// transport's does, named by the callback that failed.
#[test]
fn l51_a_read_pipe_s_buffered_protocol_failing_in_buffer_updated_reads_on_in_get_buffer_closes() {
    #[derive(Default)]
    struct Buffered {
        buf: Vec<u8>,
        got: Vec<u8>,
        fail_get_buffer: bool,
        lost: Option<bool>,
    }
    impl asyncio::Protocol for Buffered {
        fn as_buffered(&mut self) -> Option<&mut dyn asyncio::BufferedProtocol> {
            Some(self)
        }
        fn connection_lost(&mut self, exc: Option<io::Error>) {
            self.lost = Some(exc.is_some());
        }
    }
    impl asyncio::BufferedProtocol for Buffered {
        fn get_buffer(&mut self, _hint: usize) -> &mut [u8] {
            if self.fail_get_buffer {
                panic!("boom-get_buffer");
            }
            self.buf.resize(64, 0);
            &mut self.buf
        }
        fn buffer_updated(&mut self, n: usize) {
            self.got.extend_from_slice(&self.buf[..n]);
            if self.got == b"one" {
                panic!("boom-updated");
            }
        }
    }
    let name = std::any::type_name::<Buffered>();
    for fail_get_buffer in [false, true] {
        let lp = EventLoop::new().unwrap();
        let reports = util::capture_exceptions_and_keys(&lp.handle());
        let (r, mut w) = os_pipe();
        let h = lp.handle();
        let connect = async move {
            let proto = move || Buffered {
                fail_get_buffer,
                ..Buffered::default()
            };
            h.connect_read_pipe(proto, r).await
        };
        let (t, proto) = lp.run_until_complete(connect).unwrap().unwrap();
        w.write_all(b"one").unwrap(); // readable: get_buffer is asked now, not before
        run_until(&lp, 100, || !reports.borrow().is_empty());
        if fail_get_buffer {
            let message = "Fatal error: protocol.get_buffer() call failed.";
            let expected =
                format!("{message} | panicked: boom-get_buffer | [\"transport\", \"protocol\"]");
            assert_eq!(*reports.borrow(), [expected]);
            run_until(&lp, 100, || proto.borrow().lost.is_some());
            assert_eq!(proto.borrow().lost, Some(true));
            continue;
        }
        let call = format!("{name}::buffer_updated(..)");
        let expected =
            format!("Exception in callback {call} | panicked: boom-updated | [\"handle\"]");
        assert_eq!(*reports.borrow(), [expected]);
        assert!(!t.is_closing(), "the pipe stays open");
        w.write_all(b"two").unwrap();
        drop(w);
        run_until(&lp, 100, || proto.borrow().lost.is_some());
        assert_eq!(proto.borrow().got, b"onetwo");
        assert_eq!(proto.borrow().lost, Some(false));
        assert_eq!(reports.borrow().len(), 1);
    }
}

/// L46: a plain protocol's pipe reads land on a 64-byte boundary of the loop's shared buffer,
/// as its socket reads do (tests/transport/reading.rs
/// `l46_plain_reads_land_on_a_cache_line_boundary`), not at the 16-byte offset where a `malloc`
/// of 256 KiB starts: every read into that buffer goes through the one window.
#[test]
fn l46_pipe_reads_land_on_a_cache_line_boundary() {
    let lp = EventLoop::new().unwrap();
    let (r, mut w) = os_pipe();
    let misaligned = Rc::new(std::cell::Cell::new(0usize));
    let seen = misaligned.clone();
    let rec = Recorder {
        on_data: Some(Box::new(move |_, data| {
            seen.set(seen.get() + usize::from(data.as_ptr().align_offset(64) != 0));
        })),
        ..Recorder::default()
    };
    let (t, proto) = read_pipe(&lp, r, rec);
    let data: Vec<u8> = (0..600 * 1024).map(|i| (i % 251) as u8).collect();
    let expect = data.clone();
    let writer = std::thread::spawn(move || {
        for chunk in data.chunks(40 * 1024 + 7) {
            w.write_all(chunk).unwrap();
        }
    });
    run_until(&lp, 100_000, || proto.borrow().data.len() >= expect.len());
    writer.join().unwrap();
    let p = proto.borrow();
    assert!(p.data == expect, "bytes arrive once and in order");
    let calls = p.calls.len() - 1;
    assert_eq!(
        misaligned.get(),
        0,
        "{} of {calls} data_received slices off a 64-byte boundary",
        misaligned.get()
    );
    drop(p);
    t.abort();
}

#[test]
fn test__read_ready_eof_even_when_the_protocol_asks_to_stay_open() {
    // CPython ignores eof_received's answer on a read pipe: there is nothing to keep open.
    let lp = EventLoop::new().unwrap();
    let (r, w) = os_pipe();
    drop(w);
    let rec = Recorder {
        keep_open_on_eof: true,
        ..Default::default()
    };
    let (_t, proto) = read_pipe(&lp, r, rec);
    run_until(&lp, 100, || proto.borrow().lost);
    assert_eq!(
        proto.borrow().grammar(),
        ["connection_made", "eof_received", "connection_lost(None)"]
    );
}

#[test]
fn l44_a_read_pipe_protocol_held_across_a_long_await_is_retried_sparingly_then_gets_its_data() {
    // As the socket transport's test of the same name (tests/transport/protocol_calls.rs): a
    // user task keeps the protocol's RefCell across a 300 ms sleep while bytes arrive on the
    // pipe. The pipe transport waits through the seam's spaced-out retry (protocol::Hold), one
    // at a time however many edges come; retried on every turn, the loop spun through the
    // whole hold.
    let lp = EventLoop::new().unwrap();
    let (r, mut w) = os_pipe();
    let (_t, proto) = read_pipe(&lp, r, Recorder::default());
    let turns = util::turns_while_held(&lp, &proto, Duration::from_millis(300), || {
        w.write_all(b"while held").unwrap()
    });
    assert!(turns <= 60, "{turns} loop turns during a 300 ms hold");
    run_until(&lp, 200, || {
        proto.try_borrow().is_ok_and(|p| p.data == b"while held")
    });
    assert_eq!(proto.borrow().grammar(), ["connection_made", "data"]);
}

#[test]
fn test_pause_reading_and_resume_reading() {
    let lp = EventLoop::new().unwrap();
    let (r, mut w) = os_pipe();
    let (t, proto) = read_pipe(&lp, r, Recorder::default());
    t.pause_reading();
    assert!(!t.is_reading());
    t.pause_reading(); // test_pause_reading_on_paused_pipe: no-op
    w.write_all(b"held").unwrap();
    for _ in 0..5 {
        lp.run_once(Some(Duration::from_millis(0))).unwrap();
    }
    assert!(proto.borrow().data.is_empty(), "nothing read while paused");
    t.resume_reading();
    assert!(t.is_reading());
    t.resume_reading(); // test_resume_reading_on_paused_pipe's counterpart: no-op
    run_until(&lp, 100, || proto.borrow().data == b"held");
    t.close();
    run_until(&lp, 100, || proto.borrow().lost);
    // test_pause_reading_on_closed_pipe / test_resume_reading_on_closed_pipe.
    t.pause_reading();
    t.resume_reading();
    assert!(!t.is_reading());
}

#[test]
fn test_close() {
    let lp = EventLoop::new().unwrap();
    let (r, mut w) = os_pipe();
    let (t, proto) = read_pipe(&lp, r, Recorder::default());
    t.close();
    t.close(); // idempotent
    assert!(t.is_closing());
    run_until(&lp, 100, || proto.borrow().lost);
    assert_eq!(
        proto.borrow().grammar(),
        ["connection_made", "connection_lost(None)"]
    );
    // Our end is closed: the writer sees EPIPE.
    let e = w.write_all(b"x").unwrap_err();
    assert_eq!(e.kind(), io::ErrorKind::BrokenPipe);
}

#[test]
fn read_pipe_refuses_the_write_side_methods() {
    let lp = EventLoop::new().unwrap();
    let (r, _w) = os_pipe();
    let (t, proto) = read_pipe(&lp, r, Recorder::default());
    assert!(matches!(t.write(b"x"), Err(asyncio::Error::Unsupported(_))));
    assert!(matches!(t.write_eof(), Err(asyncio::Error::Unsupported(_))));
    assert!(!t.can_write_eof());
    assert!(matches!(
        t.set_write_buffer_limits(Some(10), None),
        Err(asyncio::Error::Unsupported(_))
    ));
    assert_eq!(t.get_write_buffer_size(), 0);
    t.abort();
    run_until(&lp, 100, || proto.borrow().lost);
}

/// Whether `O_NONBLOCK` is set on the open file description behind `fd`.
fn nonblocking(fd: &impl std::os::fd::AsRawFd) -> bool {
    // SAFETY: plain syscall on a descriptor the caller keeps open.
    let flags = unsafe { libc::fcntl(fd.as_raw_fd(), libc::F_GETFL) };
    assert!(flags >= 0, "fcntl: {}", io::Error::last_os_error());
    flags & libc::O_NONBLOCK != 0
}

/// CPython's `_UnixReadPipeTransport.__init__` / `_UnixWritePipeTransport.__init__`: a
/// descriptor that is no pipe, socket or character device (a regular file, a directory) is
/// a ValueError, raised before the descriptor is touched. Here `InvalidArgument` with the
/// same words, and the open file description (shared with `keep`, a duplicate) is left
/// blocking. It was epoll's `EPERM`, after the description had been made non-blocking.
#[test]
fn a_pipe_transport_refuses_a_regular_file_or_a_directory_untouched() {
    let lp = EventLoop::new().unwrap();
    let dir = util::temp_dir("pipes-file"); // removed when the test ends
    let path = dir.join("f");
    std::fs::write(&path, b"x").unwrap();
    let h = lp.handle();
    let cases = [
        (File::open(&path).unwrap(), Direction::Read),
        (
            File::options().append(true).open(&path).unwrap(),
            Direction::Write,
        ),
        (File::open(&*dir).unwrap(), Direction::Read),
    ];
    for (f, direction) in cases {
        let keep = f.try_clone().unwrap();
        let h = h.clone();
        let got = lp
            .run_until_complete(async move {
                match direction {
                    Direction::Read => h.connect_read_pipe(Recorder::default, f).await,
                    Direction::Write => h.connect_write_pipe(Recorder::default, f).await,
                }
            })
            .unwrap();
        match got {
            Err(asyncio::Error::InvalidArgument(m)) => assert!(
                m.starts_with("Pipe transport is") && m.contains("character devices"),
                "{direction:?}: {m}"
            ),
            Err(e) => panic!("{direction:?}: {e:?}"),
            Ok(_) => panic!("{direction:?}: a regular file or directory is no pipe"),
        }
        assert!(!nonblocking(&keep), "{direction:?}: made non-blocking");
    }
}

#[derive(Clone, Copy, Debug)]
enum Direction {
    Read,
    Write,
}

// ---- write side (UnixWritePipeTransportTests) ----------------------------------------------

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

// ---- streams over pipes --------------------------------------------------------------------

#[test]
fn stream_reader_readline_over_a_pipe() {
    asyncio::run(async {
        let (r, mut w) = os_pipe();
        let writer = std::thread::spawn(move || {
            for i in 0..1000 {
                writeln!(w, "line {i}").unwrap();
            }
        });
        let reader = asyncio::open_read_pipe(r).await?;
        for i in 0..1000 {
            assert_eq!(reader.readline().await?, format!("line {i}\n").as_bytes());
        }
        assert_eq!(reader.readline().await?, b"");
        assert!(reader.at_eof());
        writer.join().unwrap();
        Ok::<_, asyncio::Error>(())
    })
    .unwrap()
    .unwrap();
}

#[test]
fn stream_writer_over_a_pipe_drains_and_write_eof_ends_it() {
    asyncio::run(async {
        let (r, w) = os_pipe();
        let reader = drain_thread(r);
        let writer = asyncio::open_write_pipe(w).await?;
        let big = vec![b'z'; 1024 * 1024];
        writer.write(&big)?;
        writer.drain().await?;
        writer.write(b"end")?;
        assert!(writer.can_write_eof());
        writer.write_eof()?;
        writer.wait_closed().await?;
        let got = reader.join().unwrap();
        assert_eq!(got.len(), big.len() + 3);
        assert!(got.ends_with(b"zend"));
        Ok::<_, asyncio::Error>(())
    })
    .unwrap()
    .unwrap();
}

/// `kernel_unsent` on a write pipe: the bytes in the pipe that its reader has not taken yet
/// (Linux's `FIONREAD` on the write end), falling as the reader reads; `None` for a read pipe,
/// for a socket used as a write pipe (its `FIONREAD` counts its input), and once the pipe is
/// lost. It was `None` on every pipe (checked: the first assertion fails with the fix out).
#[cfg(target_os = "linux")]
#[test]
fn a_write_pipe_reports_the_bytes_its_reader_has_not_taken_as_kernel_unsent() {
    let lp = EventLoop::new().unwrap();
    let (mut r, w) = os_pipe();
    let (t, proto) = write_pipe(&lp, w, Recorder::default());
    t.write(&[7; 100]).unwrap(); // the pipe takes it all at once
    assert_eq!(t.buffer_info().write_buffered, 0);
    assert_eq!(
        t.buffer_info().kernel_unsent,
        Some(100),
        "{:?}",
        t.buffer_info()
    );
    let mut got = [0; 40];
    r.read_exact(&mut got).unwrap();
    assert_eq!(t.buffer_info().kernel_unsent, Some(60));
    let (r2, _w2) = os_pipe();
    let (reader, _) = read_pipe(&lp, r2, Recorder::default());
    assert_eq!(reader.buffer_info().kernel_unsent, None, "a read pipe");
    let (ours, _theirs) = std::os::unix::net::UnixStream::pair().unwrap();
    let (on_socket, _) = write_pipe(&lp, ours, Recorder::default());
    assert_eq!(
        on_socket.buffer_info().kernel_unsent,
        None,
        "a socket's end"
    );
    t.abort();
    run_until(&lp, 1_000, || proto.borrow().lost);
    assert_eq!(t.buffer_info().kernel_unsent, None, "lost");
    reader.close();
    on_socket.close();
    for _ in 0..5 {
        lp.run_once(Some(Duration::ZERO)).unwrap();
    }
}

/// `BufferInfo` says `None` for a field that does not apply: a write pipe's stream reads
/// nothing, so its `read_buffered` is `None`, not `Some(0)` (a stream over a socket, which
/// reads, says `Some(0)` when its reader is empty). It said `Some(0)` (checked: the
/// assertion fails with the fix taken out).
#[test]
fn a_write_pipe_stream_has_no_read_buffer_to_report() {
    asyncio::run(async {
        let (r, w) = os_pipe();
        let reader = drain_thread(r);
        let writer = asyncio::open_write_pipe(w).await?;
        writer.write(b"x")?;
        let info = writer.buffer_info();
        assert_eq!(info.read_buffered, None, "{info:?}");
        assert!(!info.reading_paused, "{info:?}");
        writer.close();
        writer.wait_closed().await?;
        assert_eq!(reader.join().unwrap(), b"x");
        let (a, _b) = asyncio::socketpair()?;
        let (_, socket_writer) = asyncio::open_connection_sock(a).await?;
        assert_eq!(socket_writer.buffer_info().read_buffered, Some(0));
        socket_writer.close();
        Ok::<_, asyncio::Error>(())
    })
    .unwrap()
    .unwrap();
}

#[test]
fn open_read_pipe_reads_a_regular_file_through_the_helper_thread() {
    let dir = util::temp_dir("pipes-regular"); // removed when the test ends
    let path = dir.join("f");
    std::fs::write(&path, b"first\nsecond\n").unwrap();
    let f = std::fs::File::open(&path).unwrap();
    asyncio::run(async move {
        let reader = asyncio::open_read_pipe(f).await?;
        assert_eq!(reader.readline().await?, b"first\n");
        assert_eq!(reader.read(-1).await?, b"second\n");
        Ok::<_, asyncio::Error>(())
    })
    .unwrap()
    .unwrap();
}

#[test]
fn a_read_error_of_the_helper_thread_reaches_the_reader_not_an_eof() {
    // A directory as input: no pipe transport takes it, the helper thread's read fails with
    // EISDIR, and its pipe alone could only show an end of file.
    let dir = util::temp_dir("pipes-dir");
    let d = std::fs::File::open(&*dir).unwrap();
    asyncio::run(async move {
        let reader = asyncio::open_read_pipe(d).await?;
        let e = reader
            .read(-1)
            .await
            .expect_err("the read error, not an empty read");
        assert_eq!(e.raw_os_error(), Some(libc::EISDIR), "{e}");
        Ok::<_, asyncio::Error>(())
    })
    .unwrap()
    .unwrap();
}

#[test]
fn open_read_pipe_reads_dev_null_through_the_helper_thread() {
    // epoll refuses /dev/null with EPERM: the fallback takes over.
    let f = std::fs::File::open("/dev/null").unwrap();
    asyncio::run(async move {
        let reader = asyncio::open_read_pipe(f).await?;
        assert_eq!(reader.read(-1).await?, b"");
        Ok::<_, asyncio::Error>(())
    })
    .unwrap()
    .unwrap();
}

#[test]
fn open_write_pipe_writes_a_regular_file_through_the_helper_thread() {
    let dir = util::temp_dir("pipes-out"); // removed when the test ends
    let path = dir.join("f");
    let f = std::fs::File::create(&path).unwrap();
    let check = path.clone();
    asyncio::run(async move {
        let writer = asyncio::open_write_pipe(f).await?;
        writer.write(b"to a file\n")?;
        writer.close();
        // Returns once the helper thread has written the file and closed it.
        writer.wait_closed().await?;
        assert_eq!(std::fs::read(&check)?, b"to a file\n");
        Ok::<_, asyncio::Error>(())
    })
    .unwrap()
    .unwrap();
}

// ---- stdin() in a child process ------------------------------------------------------------

/// In the child (`PIPES_CHILD=1`): echo stdin's lines to stdout() with a prefix, then say
/// whether fd 0 is still open. Elsewhere a no-op.
#[test]
fn child_stdin_lines() {
    if std::env::var_os("PIPES_CHILD").is_none() {
        return;
    }
    asyncio::run(async {
        let input = asyncio::stdin().await?;
        let out = asyncio::stdout().await?;
        loop {
            let line = input.readline().await?;
            if line.is_empty() {
                break;
            }
            out.write(b"got: ")?;
            out.write(&line)?;
        }
        out.write(b"EOF\n")?;
        out.close();
        out.wait_closed().await?;
        Ok::<_, asyncio::Error>(())
    })
    .unwrap()
    .unwrap();
    // Closing the streams closed the duplicates, not fd 0/1.
    println!("fd1 still open");
}

#[test]
fn stdin_in_a_child_process_reads_piped_lines() {
    let exe = std::env::current_exe().unwrap();
    let mut child = Command::new(exe)
        .args([
            "--exact",
            "child_stdin_lines",
            "--nocapture",
            "--test-threads=1",
        ])
        .env("PIPES_CHILD", "1")
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::null())
        .spawn()
        .unwrap();
    let mut stdin = child.stdin.take().unwrap();
    stdin.write_all(b"alpha\nbeta\n").unwrap();
    drop(stdin);
    let mut out = String::new();
    child
        .stdout
        .take()
        .unwrap()
        .read_to_string(&mut out)
        .unwrap();
    assert!(child.wait().unwrap().success(), "{out}");
    assert!(out.contains("got: alpha\ngot: beta\nEOF\n"), "{out}");
    assert!(out.contains("fd1 still open"), "{out}");
}

// ---- the example end to end ----------------------------------------------------------------

#[test]
fn stdin_echo_client_example_against_an_echo_server() {
    // An in-process echo server on a thread: echoes until the client half-closes, then closes.
    let listener = TcpListener::bind("127.0.0.1:0").unwrap();
    let port = listener.local_addr().unwrap().port();
    let server = std::thread::spawn(move || {
        let (mut conn, _) = listener.accept().unwrap();
        conn.set_read_timeout(Some(Duration::from_secs(20)))
            .unwrap();
        let mut buf = [0u8; 4096];
        let mut total = 0;
        loop {
            let n = conn.read(&mut buf).unwrap();
            if n == 0 {
                return total; // the client's write_eof
            }
            total += n;
            conn.write_all(&buf[..n]).unwrap();
        }
    });
    let mut child = Command::new(example_binary("stdin_echo_client"))
        .args(["--port", &port.to_string()])
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    let mut stdin = child.stdin.take().unwrap();
    let mut stdout = BufReader::new(child.stdout.take().unwrap());
    // Interactive: one line, its reply, then the next (proves stdin is read as it comes).
    stdin.write_all(b"hello\n").unwrap();
    let mut line = String::new();
    stdout.read_line(&mut line).unwrap();
    assert_eq!(line, "Received: 'hello\\n'\n");
    stdin.write_all(b"world\n").unwrap();
    line.clear();
    stdout.read_line(&mut line).unwrap();
    assert_eq!(line, "Received: 'world\\n'\n");
    drop(stdin); // EOF: the client half-closes; the server closes; the client exits
    let mut rest = String::new();
    stdout.read_to_string(&mut rest).unwrap();
    assert_eq!(rest, "Server closed the connection\n");
    let status = child.wait().unwrap();
    let mut err = String::new();
    child
        .stderr
        .take()
        .unwrap()
        .read_to_string(&mut err)
        .unwrap();
    assert!(status.success(), "{status:?}: {err}");
    assert_eq!(server.join().unwrap(), 12);
}

/// CPython's `_UnixReadPipeTransport._fatal_error`: a read error other than `EIO` (a pty whose
/// other side closed) goes to the exception handler, with the message of `_read_ready`; the
/// protocol gets `connection_lost` with the error. Here the "pipe" is a listening socket
/// (pollable), readable once a client waits to be accepted, whose `read` then fails with
/// `ENOTCONN`.
#[test]
fn test__read_ready_error_is_reported_unless_eio() {
    let lp = EventLoop::new().unwrap();
    let seen = util::capture_exceptions(&lp.handle());
    let listener = TcpListener::bind("127.0.0.1:0").unwrap();
    let addr = listener.local_addr().unwrap();
    let (_t, proto) = read_pipe(&lp, OwnedFd::from(listener), Recorder::default());
    let _client = std::net::TcpStream::connect(addr).unwrap();
    run_until(&lp, 1000, || proto.borrow().lost);
    assert_eq!(
        proto.borrow().calls.last().map(String::as_str),
        Some("connection_lost(NotConnected)")
    );
    let seen = seen.borrow();
    assert_eq!(seen.len(), 1, "{seen:?}");
    assert!(
        seen[0].starts_with("Fatal read error on pipe transport | "),
        "{seen:?}"
    );
}

/// CPython's `_UnixReadPipeTransport` reads on any event its selector reports, and epoll's
/// error-only event (EPOLLERR without EPOLLIN) is one: the read fails and the error is fatal,
/// reported. Here the "pipe" is a connected UDP socket whose datagram met a closed port: the
/// ICMP error sets the socket's error, which polls as EPOLLERR alone (nothing to read).
#[test]
fn test__read_ready_on_an_error_only_event_is_a_fatal_read_error() {
    let lp = EventLoop::new().unwrap();
    let seen = util::capture_exceptions(&lp.handle());
    let closed = std::net::UdpSocket::bind("127.0.0.1:0").unwrap();
    let to = closed.local_addr().unwrap();
    drop(closed);
    let sock = std::net::UdpSocket::bind("127.0.0.1:0").unwrap();
    sock.connect(to).unwrap();
    let sender = sock.try_clone().unwrap();
    let (_t, proto) = read_pipe(&lp, OwnedFd::from(sock), Recorder::default());
    lp.run_once(Some(Duration::ZERO)).unwrap(); // the first read: nothing yet
    assert_eq!(proto.borrow().calls, ["connection_made"]);
    sender.send(b"to nobody").unwrap(); // ECONNREFUSED comes back as the socket's error
                                        // Bounded: 10 s in all, not 10 s a turn, should the event be ignored.
    for _ in 0..200 {
        if proto.borrow().lost {
            break;
        }
        lp.run_once(Some(Duration::from_millis(50))).unwrap();
    }
    assert_eq!(
        proto.borrow().grammar(),
        ["connection_made", "connection_lost(ConnectionRefused)"]
    );
    let seen = seen.borrow();
    assert_eq!(seen.len(), 1, "{seen:?}");
    assert!(
        seen[0].starts_with("Fatal read error on pipe transport | "),
        "{seen:?}"
    );
}

const SIGPIPE_CHILD: &str = "ASYNCIO_TEST_PIPE_SIGPIPE_CHILD";

/// The child's half of the next test: `SIGPIPE` back at its default action (a C host, a
/// cdylib), then `write`, `writelines` and a buffered flush to pipes whose reader has gone.
fn write_to_a_gone_reader_child() {
    // SAFETY: the child runs this one test alone (`--test-threads=1`); setting a signal's
    // disposition to its default races with nothing.
    let previous = unsafe { libc::signal(libc::SIGPIPE, libc::SIG_DFL) };
    assert_ne!(previous, libc::SIG_ERR);
    let lp = EventLoop::new().unwrap();
    // `write`'s fast path, then `writelines`' vectored one.
    for vectored in [false, true] {
        let (r, w) = os_pipe();
        let (t, proto) = write_pipe(&lp, w, Recorder::default());
        drop(r);
        if vectored {
            t.writelines(&[io::IoSlice::new(b"nobody "), io::IoSlice::new(b"reads")])
                .unwrap();
        } else {
            t.write(b"nobody reads").unwrap();
        }
        run_until(&lp, 100, || proto.borrow().lost);
        assert_eq!(
            proto.borrow().grammar(),
            ["connection_made", "connection_lost(BrokenPipe)"]
        );
    }
    // The flush of a buffer the reader leaves behind (`write_ready`).
    let (r, w) = os_pipe();
    let (t, proto) = write_pipe(&lp, w, Recorder::default());
    t.write(&vec![7u8; 256 * 1024]).unwrap(); // more than the pipe holds: the rest waits
    assert!(t.get_write_buffer_size() > 0);
    drop(r);
    run_until(&lp, 100, || proto.borrow().lost);
    assert_eq!(
        proto.borrow().calls.last().map(String::as_str),
        Some("connection_lost(BrokenPipe)")
    );
    // SIGPIPE was consumed, not left pending: unblocked, it would end the process now.
    // SAFETY: an all-zero `sigset_t` is a valid value to be overwritten.
    let mut pending: libc::sigset_t = unsafe { std::mem::zeroed() };
    // SAFETY: `pending` is a valid out-pointer.
    assert_eq!(unsafe { libc::sigpending(&mut pending) }, 0);
    // SAFETY: `pending` was filled by sigpending.
    assert_eq!(unsafe { libc::sigismember(&pending, libc::SIGPIPE) }, 0);
    println!("pipe sigpipe child: ok");
}

#[test]
fn test_write_err_epipe_raises_no_sigpipe_in_a_host_that_keeps_its_default_action() {
    util::in_child(
        SIGPIPE_CHILD,
        "test_write_err_epipe_raises_no_sigpipe_in_a_host_that_keeps_its_default_action",
        "pipe sigpipe child: ok",
        write_to_a_gone_reader_child,
    );
}

const HELPER_SIGPIPE_CHILD: &str = "ASYNCIO_TEST_HELPER_SIGPIPE_CHILD";

/// Whether a thread named `name` runs in this process.
fn thread_alive(name: &str) -> bool {
    std::fs::read_dir("/proc/self/task")
        .unwrap()
        .filter_map(Result::ok)
        .any(|t| std::fs::read_to_string(t.path().join("comm")).is_ok_and(|c| c.trim() == name))
}

/// The child's half of the next test: `SIGPIPE` at its default action, a regular file read
/// through the helper thread, and the stream gone (with its loop) while the thread still has
/// bytes to pass on: its next write to the pipe fails with `EPIPE`.
fn helper_thread_meets_a_gone_reader_child() {
    // SAFETY: the child runs this one test alone (`--test-threads=1`); setting a signal's
    // disposition to its default races with nothing.
    let previous = unsafe { libc::signal(libc::SIGPIPE, libc::SIG_DFL) };
    assert_ne!(previous, libc::SIG_ERR);
    let dir = util::temp_dir("pipes-helper-sigpipe"); // removed when the test ends
    let path = dir.join("big");
    std::fs::write(&path, vec![b'x'; 1 << 20]).unwrap(); // far more than a pipe holds
    let f = File::open(&path).unwrap();
    assert!(!thread_alive("asyncio-stdin"));
    asyncio::run(async move {
        let reader = asyncio::open_read_pipe(f).await?;
        assert_eq!(reader.readexactly(10).await?, b"xxxxxxxxxx");
        Ok::<_, asyncio::Error>(())
    })
    .unwrap()
    .unwrap();
    // The loop is closed, and the pipe's read end with it: the helper's write fails. Wait
    // (bounded) for the thread to end; a SIGPIPE would have ended the process instead.
    for _ in 0..2000 {
        if !thread_alive("asyncio-stdin") {
            println!("helper sigpipe child: ok");
            return;
        }
        std::thread::sleep(Duration::from_millis(5));
    }
    panic!("the helper thread did not end");
}

#[test]
fn open_read_pipe_helper_thread_raises_no_sigpipe_when_the_stream_is_gone() {
    util::in_child(
        HELPER_SIGPIPE_CHILD,
        "open_read_pipe_helper_thread_raises_no_sigpipe_when_the_stream_is_gone",
        "helper sigpipe child: ok",
        helper_thread_meets_a_gone_reader_child,
    );
}

/// A new pseudo-terminal: `(master, slave)`, neither our controlling terminal.
fn pty() -> (File, File) {
    use std::os::fd::FromRawFd;
    // SAFETY: plain calls with valid flags; each descriptor returned is checked, then owned
    // by exactly one `File`. `ptsname` returns a static buffer we copy at once, and no other
    // thread of this test calls it.
    unsafe {
        let master = libc::posix_openpt(libc::O_RDWR | libc::O_NOCTTY | libc::O_CLOEXEC);
        assert!(master >= 0, "posix_openpt: {}", io::Error::last_os_error());
        let master = File::from_raw_fd(master);
        use std::os::fd::AsRawFd;
        assert_eq!(libc::grantpt(master.as_raw_fd()), 0);
        assert_eq!(libc::unlockpt(master.as_raw_fd()), 0);
        let name = libc::ptsname(master.as_raw_fd());
        assert!(!name.is_null());
        let slave = libc::open(name, libc::O_RDWR | libc::O_NOCTTY | libc::O_CLOEXEC);
        assert!(slave >= 0, "open slave: {}", io::Error::last_os_error());
        (master, File::from_raw_fd(slave))
    }
}

/// A terminal whose buffer is full: `(master, fresh)`, `fresh` a blocking descriptor of its
/// slave side, so that a helper thread's first write to it blocks until the master is read.
fn blocked_terminal() -> (File, File) {
    use std::os::fd::AsRawFd;
    use std::os::unix::fs::OpenOptionsExt;
    let (master, slave) = pty();
    // Fill the terminal's buffer through a non-blocking descriptor of our own, so that the
    // helper thread's first write blocks until the test drains the master side.
    let filler = slave.try_clone().unwrap();
    // SAFETY: `filler` is an open descriptor; setting O_NONBLOCK on it changes only its flags
    // (the helper's copy below is a separate open file description, so stays blocking).
    unsafe { libc::fcntl(filler.as_raw_fd(), libc::F_SETFL, libc::O_NONBLOCK) };
    let fresh = {
        let path = std::fs::read_link(format!("/proc/self/fd/{}", slave.as_raw_fd())).unwrap();
        std::fs::OpenOptions::new()
            .write(true)
            .custom_flags(libc::O_NOCTTY)
            .open(path)
            .unwrap()
    };
    drop(slave);
    let chunk = [b'x'; 4096];
    let mut filled = 0usize;
    loop {
        match (&filler).write(&chunk) {
            Ok(n) => filled += n,
            Err(e) if e.kind() == io::ErrorKind::WouldBlock => break,
            Err(e) => panic!("filling the terminal: {e}"),
        }
        assert!(filled < 64 << 20, "the terminal never filled");
    }
    drop(filler);
    (master, fresh)
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

/// Whether `poll(2)` reports a hang-up on `f` now (zero timeout).
fn hung_up(f: &File) -> bool {
    use std::os::fd::AsRawFd;
    let mut pfd = libc::pollfd {
        fd: f.as_raw_fd(),
        events: libc::POLLOUT,
        revents: 0,
    };
    // SAFETY: one valid `pollfd` for a descriptor `f` keeps open; zero timeout.
    let n = unsafe { libc::poll(&mut pfd, 1, 0) };
    assert!(n >= 0, "poll: {}", io::Error::last_os_error());
    pfd.revents & libc::POLLHUP != 0
}

/// CPython's `_UnixWritePipeTransport` watches the write end of a pipe or a socket for its
/// reader going away (`_read_ready`: a close, `BrokenPipeError` with bytes buffered), but not
/// a character device's: a terminal that hangs up (its master side closed) is heard of when a
/// write fails, with `EIO`. With nothing buffered, the transport stays open through the
/// hang-up and the next write ends it with `connection_lost(EIO)`; with bytes buffered, the
/// flush the hang-up wakes fails with `EIO` too.
#[test]
fn a_write_pipe_over_a_terminal_that_hangs_up_ends_with_the_write_s_eio() {
    let lp = EventLoop::new().unwrap();
    let eio = format!(
        "connection_lost({:?})",
        io::Error::from_raw_os_error(libc::EIO).kind()
    );
    // Nothing buffered: the hang-up alone closes nothing.
    let (master, slave) = pty();
    let probe = slave.try_clone().unwrap();
    let (t, proto) = write_pipe(&lp, slave, Recorder::default());
    t.write(b"before").unwrap(); // the terminal takes it
    assert_eq!(t.get_write_buffer_size(), 0);
    drop(master);
    assert!(hung_up(&probe), "the kernel reports the hang-up at once");
    for _ in 0..5 {
        lp.run_once(Some(Duration::ZERO)).unwrap(); // the hang-up's event, then anything queued
    }
    assert_eq!(
        proto.borrow().grammar(),
        ["connection_made"],
        "closed at the hang-up, before any write failed"
    );
    assert!(!t.is_closing());
    t.write(b"after").unwrap(); // fails with EIO on the fast path
    run_until(&lp, 100, || proto.borrow().lost);
    assert_eq!(proto.borrow().grammar(), ["connection_made", eio.as_str()]);
    // Bytes buffered: the flush fails with EIO.
    let (master, fresh) = blocked_terminal();
    let (t, proto) = write_pipe(&lp, fresh, Recorder::default());
    // Full, but the kernel may still free some room a moment later (as it moves its flip
    // buffer into the line discipline's, on a worker thread): write until some of it waits.
    let mut written = 0usize;
    while t.get_write_buffer_size() == 0 {
        t.write(&[b'w'; 512]).unwrap();
        written += 512;
        assert!(written < 1 << 20, "the terminal never filled");
    }
    drop(master);
    run_until(&lp, 100, || proto.borrow().lost);
    assert_eq!(proto.borrow().grammar(), ["connection_made", eio.as_str()]);
    assert_eq!(t.get_write_buffer_size(), 0);
}

/// S46: `wait_closed` may be awaited by any number of tasks at once. Over a terminal the
/// writer's helper thread is part of the wait: two tasks both waiting for it must both be
/// woken when it ends, not only the one that polled last.
#[test]
fn wait_closed_of_a_helper_thread_writer_wakes_every_waiting_task_s46() {
    let (master, fresh) = blocked_terminal();
    let done = asyncio::run(async move {
        let writer = Rc::new(asyncio::open_write_pipe(fresh).await?);
        // Less than a pipe holds, so none of it waits in the transport, which closes at once;
        // far more than the full terminal can take, so the helper's write to it blocks.
        writer.write(&[b'y'; 60_000])?;
        assert_eq!(writer.transport().get_write_buffer_size(), 0);
        writer.close();
        let waiters: Vec<_> = (0..2)
            .map(|_| {
                let w = writer.clone();
                asyncio::spawn(async move { w.wait_closed().await })
            })
            .collect();
        for _ in 0..50 {
            asyncio::yield_now().await; // both reach the helper's wait (it cannot end yet)
        }
        assert!(waiters.iter().all(|t| !t.is_done()));
        // Now let the helper write, reach EOF and end.
        let mut master = master;
        let drain = std::thread::spawn(move || {
            let mut buf = [0u8; 4096];
            while let Ok(n) = master.read(&mut buf) {
                if n == 0 {
                    break;
                }
            }
        });
        let mut ended = 0;
        for t in waiters {
            if asyncio::timeout(Duration::from_secs(10), t).await.is_ok() {
                ended += 1;
            }
        }
        drop(drain); // it ends at EIO once the helper closed the terminal
        Ok::<_, asyncio::Error>(ended)
    })
    .unwrap()
    .unwrap();
    assert_eq!(done, 2, "a task waiting in wait_closed was never woken");
}

/// D12: a `wait_closed` abandoned while it waits for the writer's helper thread takes its
/// waker back; it stayed with the helper until the thread ended, keeping its task alive.
#[test]
fn d12_a_wait_closed_abandoned_in_the_helper_wait_leaves_no_waker() {
    let (master, fresh) = blocked_terminal();
    let ended = asyncio::run(async move {
        let writer = asyncio::open_write_pipe(fresh).await?;
        writer.write(&[b'y'; 60_000])?; // as above: the helper's write blocks
        writer.close();
        let probe = util::Probe::new();
        {
            let mut wait = std::pin::pin!(writer.wait_closed());
            // `close` queued connection_lost (L4): the first poll waits for it, the next one,
            // after its wake-up, for the helper thread.
            probe.drive(wait.as_mut(), || probe.woken() > 0).await;
        }
        assert_eq!(std::sync::Arc::strong_count(&probe), 1, "waker kept");
        let mut master = master;
        let drain =
            std::thread::spawn(move || while matches!(master.read(&mut [0; 4096]), Ok(1..)) {});
        let ended = asyncio::timeout(Duration::from_secs(10), writer.wait_closed()).await;
        drain.join().unwrap(); // it ends at EIO once the helper closed the terminal
        Ok::<_, asyncio::Error>(ended.is_ok())
    })
    .unwrap()
    .unwrap();
    assert!(ended, "a later wait_closed still ends");
}

const HELPER_DROP_CHILD: &str = "ASYNCIO_TEST_HELPER_DROP_CHILD";

/// The child's half of the next test: a regular file far larger than the pipe and the reader's
/// limit, read through the helper thread. Over its limit the reader stops reading the pipe, so
/// the thread blocks on it; dropped (mid-read), the reader closes the pipe and the thread ends
/// while the loop goes on.
fn a_dropped_helper_fed_reader_child() {
    let dir = util::temp_dir("pipes-helper-drop"); // removed when the test ends
    let path = dir.join("big");
    std::fs::write(&path, vec![b'x'; 4 << 20]).unwrap(); // far more than a pipe holds
    let f = File::open(&path).unwrap();
    assert!(!thread_alive("asyncio-stdin"));
    asyncio::run(async move {
        let lp = asyncio::get_running_loop()?;
        let reader = asyncio::open_read_pipe(f).await?;
        assert_eq!(reader.readexactly(10).await?, b"xxxxxxxxxx");
        let mut waits = 0;
        while lp.stats().reading_paused == 0 {
            assert!(waits < 2000, "the reader never paused: {:?}", lp.stats());
            asyncio::sleep(Duration::from_millis(5)).await; // the thread fills the pipe
            waits += 1;
        }
        assert!(thread_alive("asyncio-stdin"), "blocked on the full pipe");
        // Dropped mid-read: one poll of a read to the end, then the reader itself.
        let r = asyncio::timeout(Duration::ZERO, reader.read(-1)).await;
        assert!(matches!(r, Err(asyncio::Error::Timeout)), "{r:?}");
        drop(reader);
        for _ in 0..2000 {
            if !thread_alive("asyncio-stdin") && lp.stats().io_registrations == 0 {
                println!("helper drop child: ok");
                return Ok::<_, asyncio::Error>(());
            }
            asyncio::sleep(Duration::from_millis(5)).await; // bounded: 10 s
        }
        panic!("the helper thread did not end: {:?}", lp.stats());
    })
    .unwrap()
    .unwrap();
}

#[test]
fn a_dropped_helper_fed_reader_ends_its_thread_while_the_loop_runs() {
    util::in_child(
        HELPER_DROP_CHILD,
        "a_dropped_helper_fed_reader_ends_its_thread_while_the_loop_runs",
        "helper drop child: ok",
        a_dropped_helper_fed_reader_child,
    );
}

/// A reader over a plain pipe is its stream's only handle too: dropped while the loop runs,
/// it closes the stream, and the pipe's writer hears that its reader is gone (it used to stay
/// registered, and the writer blocked once the pipe was full, until the loop closed).
///
/// In a child process of its own: a child another test of this binary forks meanwhile holds a
/// copy of the pipe's read end until it execs, and the write below then succeeds (seen once
/// under load).
#[test]
fn a_dropped_pipe_reader_closes_its_stream_while_the_loop_runs() {
    util::in_child(
        PIPE_DROP_CHILD,
        "a_dropped_pipe_reader_closes_its_stream_while_the_loop_runs",
        "pipe drop child: ok",
        a_dropped_pipe_reader_child,
    );
}

const PIPE_DROP_CHILD: &str = "ASYNCIO_TEST_PIPE_DROP_CHILD";

fn a_dropped_pipe_reader_child() {
    let (r, mut w) = os_pipe();
    asyncio::run(async move {
        let lp = asyncio::get_running_loop()?;
        let reader = asyncio::open_read_pipe(r).await?;
        w.write_all(b"xy")?;
        assert_eq!(reader.readexactly(1).await?, b"x"); // mid-stream
        assert_eq!(lp.stats().io_registrations, 1);
        drop(reader);
        for _ in 0..100 {
            if lp.stats().io_registrations == 0 {
                break;
            }
            asyncio::yield_now().await;
        }
        assert_eq!(
            lp.stats().io_registrations,
            0,
            "the pipe's transport is gone"
        );
        let e = w.write(b"z").expect_err("no reader is left");
        assert_eq!(e.kind(), io::ErrorKind::BrokenPipe);
        println!("pipe drop child: ok");
        Ok::<_, asyncio::Error>(())
    })
    .unwrap()
    .unwrap();
}

#[test]
fn the_loop_closing_frees_what_a_write_pipe_could_not_send() {
    // Nothing is sent after the loop closed: the queued bytes go then, not with the last handle.
    let lp = EventLoop::new().unwrap();
    let (_r, w) = os_pipe(); // never read
    let (t, proto) = write_pipe(&lp, w, Recorder::default());
    t.write(&vec![5u8; 1024 * 1024]).unwrap(); // more than a pipe holds
    assert!(t.get_write_buffer_size() > 0);
    lp.close().unwrap();
    assert!(proto.borrow().lost);
    assert_eq!(t.get_write_buffer_size(), 0, "the unsent bytes were let go");
}
