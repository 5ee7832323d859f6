//! What goes when a handle or the loop goes: a dropped reader (helper-fed or over a plain pipe)
//! closes its stream while the loop runs, and the loop's close frees what a write pipe could not send.

use super::*;

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
        "drops::a_dropped_helper_fed_reader_ends_its_thread_while_the_loop_runs",
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
        "drops::a_dropped_pipe_reader_closes_its_stream_while_the_loop_runs",
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
