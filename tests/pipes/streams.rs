//! Streams over pipes: `StreamReader`/`StreamWriter` over a pipe, what they report, and
//! `open_read_pipe`/`open_write_pipe` over a regular file or `/dev/null` through the helper thread.

use super::*;

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
