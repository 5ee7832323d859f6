//! The read side (CPython's `UnixReadPipeTransportTests`): construction, `_read_ready` with data,
//! EOF and errors, a protocol that panics in a callback, pause and resume, close, and what a read
//! pipe or a pipe transport over the wrong kind of descriptor refuses.

use super::*;

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
