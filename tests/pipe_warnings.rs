//! The warning for writes dropped after a transport closed (L81). A write pipe (CPython's
//! `_UnixWritePipeTransport.write`) counts from the first dropped write and logs from the sixth
//! on, and an empty write returns before it is counted; a socket (`_SelectorTransport`, whose
//! close counts the loss itself) logs from the fifth. Its own test binary, because it installs
//! a logger (one per process) and reads everything logged.

mod util;

use std::sync::{Mutex, MutexGuard};

use asyncio::EventLoop;
use util::{os_pipe, run_until, Recorder};

static LINES: Mutex<Vec<String>> = Mutex::new(Vec::new());

struct Capture;

impl log::Log for Capture {
    fn enabled(&self, _: &log::Metadata<'_>) -> bool {
        true
    }
    fn log(&self, r: &log::Record<'_>) {
        if r.level() <= log::Level::Warn {
            LINES.lock().unwrap().push(r.args().to_string());
        }
    }
    fn flush(&self) {}
}

static LOGGER: Capture = Capture;

/// A write pipe's transport on `lp`, its protocol a [`Recorder`].
fn write_pipe(
    lp: &EventLoop,
    w: std::fs::File,
) -> (
    asyncio::Transport,
    std::rc::Rc<std::cell::RefCell<Recorder>>,
) {
    let h = lp.handle();
    lp.run_until_complete(async move { h.connect_write_pipe(Recorder::default, w).await })
        .unwrap()
        .unwrap()
}

/// A socket transport on `lp` over one end of a socketpair, its protocol a [`Recorder`], and
/// the other end.
fn socket_transport(
    lp: &EventLoop,
) -> (
    asyncio::Transport,
    std::rc::Rc<std::cell::RefCell<Recorder>>,
    std::os::unix::net::UnixStream,
) {
    let (a, b) = asyncio::socketpair().unwrap();
    let h = lp.handle();
    let (t, proto) = lp
        .run_until_complete(async move { h.connect_socket(Recorder::default, a).await })
        .unwrap()
        .unwrap();
    (t, proto, b)
}

/// A socket transport on `lp` over one end of a socketpair, closed and lost (nothing was
/// buffered); the other end is returned to keep it open.
fn lost_socket(lp: &EventLoop) -> (asyncio::Transport, std::os::unix::net::UnixStream) {
    let (t, proto, b) = socket_transport(lp);
    t.close();
    run_until(lp, 100, || proto.borrow().lost);
    (t, b)
}

/// Drops writes with `write` and checks that the `nth` is the first that `count` sees warned.
fn warned_from(nth: usize, count: impl Fn() -> usize, mut write: impl FnMut()) {
    let before = count();
    for _ in 1..nth {
        write();
    }
    assert_eq!(count(), before, "the first {} are only counted", nth - 1);
    write();
    assert_eq!(count(), before + 1, "write {nth} is warned about");
}

fn warnings(text: &str) -> usize {
    LINES
        .lock()
        .unwrap()
        .iter()
        .filter(|l| l.contains(text))
        .count()
}

fn send_warnings() -> usize {
    warnings("socket.send() raised exception")
}

fn dropped_warnings() -> usize {
    warnings("pipe closed by peer")
}

/// Held by the tests that count the socket's warning, which they share: one at a time, each
/// counting from what was logged before it.
static SOCKET_WARNINGS: Mutex<()> = Mutex::new(());

fn install() {
    let _ = log::set_logger(&LOGGER);
    log::set_max_level(log::LevelFilter::Warn);
}

/// Takes `lock` (one test at a time counts the warnings it guards; a panicked holder's poison
/// is ignored) and installs the logger.
fn counting(lock: &'static Mutex<()>) -> MutexGuard<'static, ()> {
    let guard = lock.lock().unwrap_or_else(|p| p.into_inner());
    install();
    guard
}

/// Held by the tests that count the pipe's warning, which they share (see
/// [`SOCKET_WARNINGS`]).
static PIPE_WARNINGS: Mutex<()> = Mutex::new(());

#[test]
fn writes_after_close_are_counted_and_warned_from_the_sixth_and_empty_ones_are_not_l81() {
    let _one_at_a_time = counting(&PIPE_WARNINGS);
    let lp = EventLoop::new().unwrap();
    let (_r, w) = os_pipe();
    let (t, proto) = write_pipe(&lp, w);
    t.close();
    run_until(&lp, 100, || proto.borrow().lost);
    for _ in 0..10 {
        t.write(b"").unwrap(); // nothing to write: not a dropped write
        t.writelines(&[]).unwrap();
    }
    warned_from(6, dropped_warnings, || t.write(b"late").unwrap());
}

/// CPython's `_UnixWritePipeTransport.write` counts the failed write itself (`_conn_lost += 1`
/// before `_fatal_error`), so after a write that failed with `EPIPE` the fifth dropped write
/// is the first warned about, one earlier than after a `close()`.
#[test]
fn a_failed_pipe_write_counts_so_the_fifth_dropped_write_warns_l81() {
    let _one_at_a_time = counting(&PIPE_WARNINGS);
    let lp = EventLoop::new().unwrap();
    let (r, w) = os_pipe();
    let (t, proto) = write_pipe(&lp, w);
    drop(r);
    t.write(b"nobody reads").unwrap(); // EPIPE on the fast path: fatal, and counted
    run_until(&lp, 100, || proto.borrow().lost);
    warned_from(5, dropped_warnings, || t.write(b"late").unwrap());
}

/// The same over a terminal, whose failed write is a flush: CPython watches a write pipe's
/// reader only on a pipe or a socket, so over a terminal that hangs up nothing closes the
/// transport before its `_write_ready` fails with `EIO`, and that counts the failed write too
/// (`_conn_lost += 1`): the fifth dropped write is the first warned about.
#[test]
fn a_failed_flush_to_a_terminal_counts_so_the_fifth_dropped_write_warns_l81() {
    let _one_at_a_time = counting(&PIPE_WARNINGS);
    let lp = EventLoop::new().unwrap();
    let (master, slave) = pty();
    let (t, proto) = write_pipe(&lp, slave);
    let mut written = 0usize;
    while t.get_write_buffer_size() == 0 {
        t.write(&[b'x'; 1024]).unwrap(); // nobody reads the master: the terminal fills
        written += 1024;
        assert!(written < 64 << 20, "the terminal never filled");
    }
    drop(master);
    run_until(&lp, 100, || proto.borrow().lost); // the flush fails with EIO
    warned_from(5, dropped_warnings, || t.write(b"late").unwrap());
}

#[test]
fn socket_writes_after_close_are_warned_from_the_fifth_l81() {
    // CPython: SelectorSocketTransportTests.test_write_closing.
    let _one_at_a_time = counting(&SOCKET_WARNINGS);
    let lp = EventLoop::new().unwrap();
    let (t, _peer) = lost_socket(&lp);
    warned_from(5, send_warnings, || t.write(b"late").unwrap());
}

/// L65, L81. CPython: SelectorSocketTransportTests.test_write_exception. A socket write that
/// fails (EPIPE: the peer is gone) is fatal, with the error to connection_lost; the writes
/// after it are dropped, never sent nor raised, and from the fifth each is warned about (the
/// failed write itself is not counted: `_force_close` counts the loss).
#[test]
fn test_write_exception_a_failed_socket_write_then_the_fifth_dropped_write_warns_l81() {
    let _one_at_a_time = counting(&SOCKET_WARNINGS);
    let lp = EventLoop::new().unwrap();
    let (t, proto, b) = socket_transport(&lp);
    drop(b);
    t.write(b"data").unwrap(); // EPIPE on the fast path
    assert_eq!(t.get_write_buffer_size(), 0, "the failed data is dropped");
    run_until(&lp, 100, || proto.borrow().lost);
    assert_eq!(
        proto.borrow().calls.last().map(String::as_str),
        Some("connection_lost(BrokenPipe)")
    );
    warned_from(5, send_warnings, || t.write(b"data").unwrap());
    assert_eq!(t.get_write_buffer_size(), 0);
}

/// Datagrams: CPython's `_SelectorDatagramTransport.sendto` keeps the socket's count (the
/// close counts the loss), so the fifth `sendto` after a close is the first warned about; an
/// empty one returns before the count.
#[test]
fn datagram_sendto_after_close_is_warned_from_the_fifth() {
    #[derive(Default)]
    struct Quiet;
    impl asyncio::DatagramProtocol for Quiet {}
    let _one_at_a_time = counting(&SOCKET_WARNINGS);
    let lp = EventLoop::new().unwrap();
    let (a, _b) = std::os::unix::net::UnixDatagram::pair().unwrap();
    let h = lp.handle();
    let (t, _) = lp
        .run_until_complete(async move { h.create_datagram_endpoint(Quiet::default).sock(a).await })
        .unwrap()
        .unwrap();
    t.close();
    run_until(&lp, 100, || t.get_protocol().is_none());
    for _ in 0..10 {
        t.sendto(b"", None).unwrap();
    }
    warned_from(5, send_warnings, || t.sendto(b"late", None).unwrap());
}

/// The warnings (and errors) logged so far that mention `text`.
fn fatal_lines(text: &str) -> Vec<String> {
    LINES
        .lock()
        .unwrap()
        .iter()
        .filter(|l| l.contains(text))
        .cloned()
        .collect()
}

/// L80, with the house rule that a failure is visible with no configuration: an OS error
/// that is no reset, broken pipe or abort (here ENOTCONN) is one warning line, and reaches
/// `connection_lost`. CPython only debug-logs it, in debug mode; an ordinary disconnect is
/// debug-logged here too.
#[test]
fn a_non_reset_os_error_on_a_socket_is_one_warning_l80() {
    install();
    let lp = EventLoop::new().unwrap();
    // A stream socket that was never connected: epoll reports it hung up at once, and the
    // read then fails with ENOTCONN, an OS error that is no reset.
    let sock = socket2::Socket::new(socket2::Domain::IPV4, socket2::Type::STREAM, None).unwrap();
    let sock: std::net::TcpStream = sock.into();
    let h = lp.handle();
    let (_t, proto) = lp
        .run_until_complete(async move { h.connect_socket(Recorder::default, sock).await })
        .unwrap()
        .unwrap();
    run_until(&lp, 100, || proto.borrow().lost);
    assert_eq!(
        proto.borrow().calls.last().map(String::as_str),
        Some("connection_lost(NotConnected)"),
        "the error reaches connection_lost"
    );
    let lines = fatal_lines("Fatal read error on socket transport");
    assert_eq!(lines.len(), 1, "{lines:?}");
    assert!(
        lines[0].contains("[Errno 107] Transport endpoint is not connected"),
        "ENOTCONN named: {}",
        lines[0]
    );
}

/// L68 (the 3.13 form) with L81: a socket's `writelines` after the loss is dropped and counted
/// as soon as it is given any chunk, even only empty ones (CPython returns early only for an
/// empty list); `write(b"")` and `writelines([])` return before the count.
#[test]
fn socket_writelines_of_empty_chunks_after_loss_are_counted_l68_l81() {
    let _one_at_a_time = counting(&SOCKET_WARNINGS);
    let lp = EventLoop::new().unwrap();
    let (t, _peer) = lost_socket(&lp);
    for _ in 0..10 {
        t.write(b"").unwrap(); // not counted: had they been, the next ones would all warn
        t.writelines(&[]).unwrap();
    }
    warned_from(5, send_warnings, || {
        t.writelines(&[std::io::IoSlice::new(b"")]).unwrap()
    });
}

/// L68/L81 through a stream: `StreamWriter::writelines` of more chunks than it hands the
/// transport in one vectored call (64) is still one `writelines`, so after the loss each call
/// counts as one dropped write and the fifth is the first warned about (it counted one per
/// 64 chunks, and warned from the third call).
#[test]
fn a_stream_writelines_of_many_chunks_after_loss_counts_once_l68_l81() {
    let _one_at_a_time = counting(&SOCKET_WARNINGS);
    let lp = EventLoop::new().unwrap();
    let (a, _peer) = asyncio::socketpair().unwrap();
    let writer = lp
        .run_until_complete(async move {
            let (_reader, writer) = asyncio::open_connection_sock(a).await?;
            writer.close();
            writer.wait_closed().await?;
            Ok::<_, asyncio::Error>(writer)
        })
        .unwrap()
        .unwrap();
    let chunks = [&b"x"[..]; 130];
    warned_from(5, send_warnings, || writer.writelines(&chunks).unwrap());
}

/// Held by the tests that count the helper thread's error (see [`SOCKET_WARNINGS`]).
static HELPER_WARNINGS: Mutex<()> = Mutex::new(());

/// Never silent (issue #14): a helper thread's write error that nobody asked
/// [`wait_closed`](asyncio::StreamWriter::wait_closed) for is logged once the error and the
/// writer are both gone, instead of vanishing with them. `/dev/full` cannot be polled, so it is
/// written through the helper thread, whose write fails with `ENOSPC`.
#[test]
fn a_helper_thread_write_error_nobody_awaited_is_logged() {
    let _one_at_a_time = counting(&HELPER_WARNINGS);
    let before = warnings("No space left on device");
    util::run_fresh(std::time::Duration::from_secs(20), async {
        let full = std::fs::OpenOptions::new().write(true).open("/dev/full")?;
        let writer = asyncio::open_write_pipe(full).await?;
        writer.write(b"lost to a full device")?;
        writer.close(); // and dropped, never waited for
        Ok::<_, asyncio::Error>(())
    })
    .unwrap();
    // The thread reports as it lets go of the error, which it may do after the loop is gone:
    // wait for it (bounded), without a sleep.
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(20);
    while warnings("No space left on device") == before && std::time::Instant::now() < deadline {
        std::thread::yield_now();
    }
    assert_eq!(
        warnings("No space left on device"),
        before + 1,
        "the helper thread's ENOSPC was never reported: {:?}",
        LINES.lock().unwrap()
    );
}

/// The same error, awaited through `wait_closed`, is the caller's: it is not logged as well.
#[test]
fn a_helper_thread_write_error_returned_by_wait_closed_is_not_logged_again() {
    let _one_at_a_time = counting(&HELPER_WARNINGS);
    let before = warnings("No space left on device");
    let got = util::run_fresh(std::time::Duration::from_secs(20), async {
        let full = std::fs::OpenOptions::new().write(true).open("/dev/full")?;
        let writer = asyncio::open_write_pipe(full).await?;
        writer.write(b"lost to a full device")?;
        writer.close();
        Ok::<_, asyncio::Error>(writer.wait_closed().await)
    })
    .unwrap();
    let e = got.unwrap_err();
    assert_eq!(e.kind(), std::io::ErrorKind::StorageFull, "{e}");
    assert_eq!(warnings("No space left on device"), before);
}

/// Whether a thread named `name` runs in this process (`/proc/self/task/*/comm`).
fn a_thread_named(name: &str) -> bool {
    std::fs::read_dir("/proc/self/task").unwrap().any(|task| {
        let comm = task.unwrap().path().join("comm");
        std::fs::read_to_string(comm).is_ok_and(|c| c.trim_end() == name)
    })
}

/// A stream writer over a terminal writes through a helper thread. Its write failing with
/// `EIO`, the terminal hung up, is how a session ends: quiet, as the write pipe transport's
/// own `EIO` (CPython's `_UnixWritePipeTransport._fatal_error` logs no `OSError`), even when
/// nobody awaited `wait_closed`, which still returns it. It was logged as an error.
#[test]
fn a_helper_thread_write_to_a_hung_up_terminal_is_not_logged() {
    let _one_at_a_time = counting(&HELPER_WARNINGS);
    let before = warnings("helper thread failed");
    for await_it in [false, true] {
        let (master, slave) = pty();
        let got = util::run_fresh(std::time::Duration::from_secs(20), async move {
            let writer = asyncio::open_write_pipe(slave).await?;
            drop(master); // hung up: the helper's next write fails with EIO
            writer.write(b"after the hang-up")?;
            writer.close();
            if !await_it {
                return Ok::<_, asyncio::Error>(None);
            }
            Ok(Some(writer.wait_closed().await))
        })
        .unwrap();
        if let Some(got) = got {
            let e = got.unwrap_err();
            let eio = std::io::Error::from_raw_os_error(libc::EIO).kind();
            assert_eq!(e.kind(), eio, "{e}");
        }
        // The helper thread reports as it ends, perhaps after the loop is gone: wait for its
        // end (bounded), without a sleep.
        let deadline = std::time::Instant::now() + std::time::Duration::from_secs(20);
        while a_thread_named("asyncio-stdout") && std::time::Instant::now() < deadline {
            std::thread::yield_now();
        }
        assert!(!a_thread_named("asyncio-stdout"), "the helper never ended");
        assert_eq!(
            warnings("helper thread failed"),
            before,
            "logged: {:?}",
            LINES.lock().unwrap()
        );
    }
}

/// A new pseudo-terminal: `(master, slave)`, neither our controlling terminal.
fn pty() -> (std::fs::File, std::fs::File) {
    use std::os::fd::{AsRawFd, FromRawFd};
    // SAFETY: plain calls with valid flags; each descriptor returned is checked, then owned
    // by exactly one `File`. `ptsname_r` writes into our own buffer.
    unsafe {
        let master = libc::posix_openpt(libc::O_RDWR | libc::O_NOCTTY | libc::O_CLOEXEC);
        assert!(
            master >= 0,
            "posix_openpt: {}",
            std::io::Error::last_os_error()
        );
        let master = std::fs::File::from_raw_fd(master);
        assert_eq!(libc::grantpt(master.as_raw_fd()), 0);
        assert_eq!(libc::unlockpt(master.as_raw_fd()), 0);
        let mut name = [0 as libc::c_char; 128];
        assert_eq!(
            libc::ptsname_r(master.as_raw_fd(), name.as_mut_ptr(), name.len()),
            0
        );
        let slave = libc::open(
            name.as_ptr(),
            libc::O_RDWR | libc::O_NOCTTY | libc::O_CLOEXEC,
        );
        assert!(
            slave >= 0,
            "open slave: {}",
            std::io::Error::last_os_error()
        );
        (master, std::fs::File::from_raw_fd(slave))
    }
}

/// CPython's `test_read_pty_output` and `_UnixReadPipeTransport._fatal_error`: a read pipe
/// over a terminal's master side ends with `EIO` once the other side has closed. That is how a
/// terminal session ends, so CPython is quiet about it (a debug line in debug mode only): the
/// protocol gets `connection_lost(EIO)`, nothing is reported and nothing is logged.
#[test]
fn a_pty_whose_other_side_closed_ends_the_read_pipe_quietly() {
    use std::io::Write;
    install();
    let lp = EventLoop::new().unwrap();
    let seen = util::capture_exceptions(&lp.handle());
    let (master, mut slave) = pty();
    let h = lp.handle();
    let (_t, proto) = lp
        .run_until_complete(async move { h.connect_read_pipe(Recorder::default, master).await })
        .unwrap()
        .unwrap();
    slave.write_all(b"1").unwrap();
    run_until(&lp, 1000, || proto.borrow().data.len() == 1);
    slave.write_all(b"2345").unwrap();
    run_until(&lp, 1000, || proto.borrow().data.len() == 5);
    drop(slave);
    run_until(&lp, 1000, || proto.borrow().lost);
    assert_eq!(proto.borrow().data, b"12345");
    let last = proto.borrow().calls.last().cloned().unwrap_or_default();
    assert!(
        last.starts_with("connection_lost(") && last != "connection_lost(None)",
        "the EIO reaches connection_lost: {last}"
    );
    assert!(seen.borrow().is_empty(), "reported: {:?}", seen.borrow());
    let lines = fatal_lines("Fatal read error on pipe transport");
    assert!(lines.is_empty(), "logged as a warning: {lines:?}");
}

/// The write side's counterpart, CPython's `_UnixWritePipeTransport._fatal_error`: a write
/// pipe over a terminal whose other side closed ends at its next write, with `EIO`. That is
/// how a session ends too: the protocol gets `connection_lost(EIO)`, nothing is reported and
/// nothing is logged as a warning.
#[test]
fn a_write_to_a_pty_whose_other_side_closed_ends_the_write_pipe_quietly() {
    install();
    let lp = EventLoop::new().unwrap();
    let seen = util::capture_exceptions(&lp.handle());
    let (master, slave) = pty();
    let (t, proto) = write_pipe(&lp, slave);
    drop(master);
    t.write(b"after the hang-up").unwrap(); // EIO on the fast path
    run_until(&lp, 100, || proto.borrow().lost);
    let eio = std::io::Error::from_raw_os_error(libc::EIO).kind();
    assert_eq!(
        proto.borrow().grammar(),
        [
            "connection_made".to_string(),
            format!("connection_lost({eio:?})")
        ]
    );
    assert!(seen.borrow().is_empty(), "reported: {:?}", seen.borrow());
    let lines = fatal_lines("Fatal write error on pipe transport");
    assert!(lines.is_empty(), "logged as a warning: {lines:?}");
}

/// Held by the tests that count the loop-closed warning (see [`SOCKET_WARNINGS`]).
static UNSENT_WARNINGS: Mutex<()> = Mutex::new(());

fn unsent_warnings() -> usize {
    warnings("the event loop closed with")
}

/// A newcomer's `writer.close()` without `wait_closed()` as the last thing in `run`: the loop
/// closes with bytes still buffered, and the peer sees a clean EOF after a prefix. CPython
/// drops them silently; we say so once, naming the count and the fix. Before, nothing was
/// printed at all.
// Checklist: L16 (close() discards what was queued: said once, not silently).
#[test]
fn bytes_still_buffered_when_the_loop_closes_are_warned_about_once() {
    let _g = counting(&UNSENT_WARNINGS);
    let before = unsent_warnings();
    let (a, peer) = asyncio::socketpair().unwrap();
    asyncio::run(async move {
        let (_reader, writer) = asyncio::open_connection_sock(a).await?;
        writer.write(&vec![b'x'; 8 << 20])?; // far more than the socket buffers take
        assert!(
            writer.buffer_info().write_buffered > 0,
            "nothing left buffered"
        );
        writer.close(); // and no wait_closed(): the run ends with the bytes queued
        Ok::<_, asyncio::Error>(())
    })
    .unwrap()
    .unwrap();
    drop(peer);
    assert_eq!(unsent_warnings(), before + 1, "{:?}", LINES.lock().unwrap());
    let lines = LINES.lock().unwrap();
    let line = lines
        .iter()
        .rev()
        .find(|l| l.contains("the event loop closed with"));
    let line = line.unwrap();
    assert!(line.contains("bytes still to send, dropped"), "{line}");
    assert!(line.contains("wait_closed()"), "{line}");
}

/// The same run with everything sent (a few bytes the kernel takes at once) warns of nothing.
#[test]
fn a_loop_closing_with_nothing_left_to_send_warns_of_nothing() {
    let _g = counting(&UNSENT_WARNINGS);
    let before = unsent_warnings();
    let (a, _peer) = asyncio::socketpair().unwrap();
    asyncio::run(async move {
        let (_reader, writer) = asyncio::open_connection_sock(a).await?;
        writer.write(b"fits")?;
        writer.close();
        Ok::<_, asyncio::Error>(())
    })
    .unwrap()
    .unwrap();
    assert_eq!(unsent_warnings(), before);
}

fn loop_closed_write_warnings() -> usize {
    warnings("write after its event loop closed, dropped")
}

/// The newcomer's stream kept past its `run`: a write to it returns `Ok` (every dropped write
/// does, L81) and the bytes go nowhere. The first such write is warned about at once, saying
/// why; later ones follow the L81 count. Before, the first five were silent.
// Checklist: L16, L81 (a dropped write after the loop closed is warned at the first).
#[test]
fn a_write_after_the_loop_closed_is_warned_about_at_the_first() {
    let _g = counting(&SOCKET_WARNINGS);
    let before = loop_closed_write_warnings();
    let (a, _peer) = asyncio::socketpair().unwrap();
    let (_reader, writer) = asyncio::run(asyncio::open_connection_sock(a))
        .unwrap()
        .unwrap();
    writer.write(b"late").unwrap(); // Ok, and dropped
    assert_eq!(loop_closed_write_warnings(), before + 1);
    writer.write(b"later").unwrap();
    assert_eq!(
        loop_closed_write_warnings(),
        before + 1,
        "once per transport"
    );
}
