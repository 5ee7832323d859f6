//! No `SIGPIPE` in a host that keeps its default action: writes to a gone reader, through the
//! transport and through the helper thread, each in a child process of its own.

use super::*;

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
        "sigpipe::test_write_err_epipe_raises_no_sigpipe_in_a_host_that_keeps_its_default_action",
        "pipe sigpipe child: ok",
        write_to_a_gone_reader_child,
    );
}

const HELPER_SIGPIPE_CHILD: &str = "ASYNCIO_TEST_HELPER_SIGPIPE_CHILD";

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
        "sigpipe::open_read_pipe_helper_thread_raises_no_sigpipe_when_the_stream_is_gone",
        "helper sigpipe child: ok",
        helper_thread_meets_a_gone_reader_child,
    );
}
