//! The child's standard streams: pipes written and read, /dev/stdin and /dev/null, stderr to
//! stdout, a broken stdin pipe, reading paused over the limit, pipes not inherited, stdout
//! read after the exit or dropped.

use super::*;

both!(test_stdin_stdout, |w| async move {
    let proc = cat(w).await?;
    let stdin = proc.stdin.as_ref().unwrap();
    stdin.write(b"Python The Winner")?;
    stdin.drain().await?;
    stdin.close();
    let out = proc.stdout.as_ref().unwrap().read(-1).await?;
    assert_eq!(out, b"Python The Winner");
    assert_eq!(proc.wait().await, 0);
    Ok(())
});

#[cfg(target_os = "linux")]
both!(test_devstdin_input, |w| async move {
    let code = "file = open('/dev/stdin'); data = file.read(); print(len(data))";
    let proc = create_subprocess_exec("python3", ["-c", code])
        .stdin(Stdio::Pipe)
        .stdout(Stdio::Pipe)
        .stderr(Stdio::Pipe)
        .child_watcher(w)
        .await?;
    let (out, _) = proc.communicate(Some(b"abc")).await?;
    assert_eq!(out, b"3\n");
    assert_eq!(proc.wait().await, 0);
    Ok(())
});

// The child exits without reading: writing more than the pipe holds fails with EPIPE.
both!(test_stdin_broken_pipe, |w| async move {
    let proc = sh("exit 0", w).stdin(Stdio::Pipe).await?;
    assert_eq!(proc.wait().await, 0);
    let stdin = proc.stdin.as_ref().unwrap();
    let big = vec![b'x'; 4 << 20];
    let sent = match stdin.write(&big) {
        Ok(()) => stdin.drain().await,
        Err(e) => Err(e),
    };
    let kind = match sent {
        Err(Error::Io(e)) => e.kind(),
        other => panic!("expected BrokenPipe or ConnectionReset, got {other:?}"),
    };
    assert!(
        matches!(
            kind,
            io::ErrorKind::BrokenPipe | io::ErrorKind::ConnectionReset
        ),
        "{kind:?}"
    );
    Ok(())
});

// A small limit: the reader pauses its pipe while the child writes far more, and every byte
// still arrives, in order.
both!(test_pause_reading, |w| async move {
    let limit = 16;
    let size = 1 << 20;
    let proc = create_subprocess_exec(
        "python3",
        [
            "-c",
            "import sys; sys.stdout.buffer.write(bytes(i % 251 for i in range(1 << 20)))",
        ],
    )
    .stdout(Stdio::Pipe)
    .limit(limit)
    .child_watcher(w)
    .await?;
    let stdout = proc.stdout.as_ref().unwrap();
    // Read slowly, a few bytes at a time: without pause_reading the buffer would grow
    // towards the whole megabyte; with it, it stays near 2 x limit (plus one read).
    let mut all = Vec::with_capacity(size);
    let mut most = 0;
    loop {
        let chunk = stdout.read(7).await?;
        if chunk.is_empty() {
            break;
        }
        all.extend_from_slice(&chunk);
        most = most.max(util::reader_buffered(stdout));
    }
    assert!(
        most <= 2 * limit + 256 * 1024,
        "{most} bytes buffered with limit {limit}"
    );
    assert_eq!(all.len(), size);
    assert!(all.iter().enumerate().all(|(i, &b)| b == (i % 251) as u8));
    assert_eq!(proc.wait().await, 0);
    Ok(())
});

// Our end of a child's stdin pipe must not leak into a second child, or EOF never comes.
both!(test_stdin_not_inheritable, |w| async move {
    let first = cat(w).await?;
    let second = ready_child(w).await?; // started while the first's stdin pipe is open
    let (out, _) = first.communicate(Some(b"Python")).await?;
    assert_eq!(out, b"Python");
    assert_eq!(first.returncode(), Some(0));
    second.kill()?;
    second.wait().await;
    Ok(())
});

both!(test_devnull_input, |w| async move {
    let proc = create_subprocess_exec("cat", [] as [&str; 0])
        .stdin(Stdio::DevNull)
        .stdout(Stdio::Pipe)
        .child_watcher(w)
        .await?;
    assert!(proc.stdin.is_none());
    let (out, _) = proc.communicate(None).await?;
    assert!(out.is_empty());
    assert_eq!(proc.returncode(), Some(0));
    Ok(())
});

both!(test_devnull_output, |w| async move {
    let proc = create_subprocess_exec("cat", [] as [&str; 0])
        .stdin(Stdio::Pipe)
        .stdout(Stdio::DevNull)
        .child_watcher(w)
        .await?;
    assert!(proc.stdout.is_none());
    let (out, _) = proc.communicate(Some(b"abc")).await?;
    assert!(out.is_empty());
    assert_eq!(proc.returncode(), Some(0));
    Ok(())
});

both!(test_devnull_error, |w| async move {
    let proc = sh("echo to-stderr >&2; echo to-stdout", w)
        .stdout(Stdio::Pipe)
        .stderr(Stdio::DevNull)
        .await?;
    assert!(proc.stderr.is_none());
    let (out, err) = proc.communicate(None).await?;
    assert_eq!(out, b"to-stdout\n");
    assert!(err.is_empty());
    assert_eq!(proc.returncode(), Some(0));
    Ok(())
});

both!(test_stderr_stdout, |w| async move {
    let proc = sh("echo out; echo err >&2", w)
        .stdout(Stdio::Pipe)
        .stderr(Stdio::Stdout)
        .await?;
    assert!(proc.stderr.is_none());
    let (out, _) = proc.communicate(None).await?;
    assert_eq!(out, b"out\nerr\n");
    assert_eq!(proc.returncode(), Some(0));
    Ok(())
});

both!(test_read_stdout_after_process_exit, |w| async move {
    let proc = sh("printf 'data from the child'", w)
        .stdout(Stdio::Pipe)
        .await?;
    assert_eq!(proc.wait().await, 0);
    let out = proc.stdout.as_ref().unwrap().read(-1).await?;
    assert_eq!(out, b"data from the child");
    Ok(())
});

// A stdout reader taken out and dropped closes its pipe: the child, writing far more than a
// pipe and the reader's limit hold, gets SIGPIPE instead of blocking forever, and `wait`
// returns. Left open, the pipe paused over the limit and `wait` never returned.
both!(
    a_dropped_stdout_reader_closes_its_pipe_so_the_child_can_end,
    |w| async move {
        let mut proc = create_subprocess_exec("head", ["-c", "16777216", "/dev/zero"])
            .stdout(Stdio::Pipe)
            .limit(1024)
            .child_watcher(w)
            .await?;
        let stdout = proc.stdout.take().unwrap();
        assert_eq!(stdout.read(1).await?, b"\0");
        drop(stdout);
        // The bound only turns the old hang into a failure.
        let rc = asyncio::timeout(Duration::from_secs(10), proc.wait()).await;
        let rc = rc.expect("the child was left blocked on its stdout");
        // Killed by SIGPIPE, or exited with an error on EPIPE had it ignored the signal.
        assert!(rc == -libc::SIGPIPE || rc == 1, "returncode {rc}");
        Ok(())
    }
);

const CLOSE_FDS: &str = "ASYNCIO_TEST_CLOSE_FDS";

// Python's close_fds=True: a descriptor this process holds without close-on-exec (inherited
// from its own parent, opened by C code) does not reach the child. Here a pipe's write end:
// a child holding it, blocked on its stdin, kept the reader of the pipe from ever seeing EOF.
// In a process of its own (`in_child`): the other tests of this binary start children too,
// and std's `Command` would hand them the inheritable end as well.
#[cfg(target_os = "linux")]
#[test]
fn a_descriptor_without_close_on_exec_does_not_reach_the_child() {
    util::in_child(
        CLOSE_FDS,
        "stdio::a_descriptor_without_close_on_exec_does_not_reach_the_child",
        "close fds child: ok",
        close_fds_child,
    );
}

fn close_fds_child() {
    use std::os::fd::AsRawFd;
    for w in [ChildWatcher::Auto, ChildWatcher::Threaded] {
        let (r, wr) = inheritable_pipe();
        util::run_fresh(BOUND, async move {
            // It waits on its stdin until killed.
            let child = ready_child(w).await?;
            // SAFETY: `F_GETFD` only reads the flags of a descriptor we hold.
            let flags = unsafe { libc::fcntl(wr.as_raw_fd(), libc::F_GETFD) };
            assert_eq!(
                flags & libc::FD_CLOEXEC,
                0,
                "this process's end was changed"
            );
            drop(wr);
            let reader = asyncio::open_read_pipe(r).await?;
            // A bound, not a synchronisation: without the fix EOF never comes.
            let eof = asyncio::timeout(Duration::from_secs(10), reader.read(-1)).await;
            assert!(
                matches!(&eof, Ok(Ok(rest)) if rest.is_empty()),
                "{w:?}: the child holds the pipe's write end: {eof:?}"
            );
            child.kill()?;
            child.wait().await;
            // close_fds(false): the child inherits it, as before (and as Popen's).
            let (r, wr) = inheritable_pipe();
            let proc = write_to_fd(wr.as_raw_fd(), "inherited", w)
                .close_fds(false)
                .await?;
            assert_eq!(proc.wait().await, 0, "the child could not write to it");
            drop(wr);
            let reader = asyncio::open_read_pipe(r).await?;
            assert_eq!(reader.read(-1).await?, b"inherited\n");
            Ok::<_, Error>(())
        })
        .unwrap();
    }
    println!("close fds child: ok");
}

/// A child that writes `text` and a newline to its descriptor `fd`. (Not `sh`'s `>&N`: dash
/// takes one digit there, and this binary's parallel tests hold many descriptors.)
fn write_to_fd(fd: std::os::fd::RawFd, text: &str, w: ChildWatcher) -> asyncio::CreateSubprocess {
    let code = format!("import os; os.write({fd}, b'{text}\\n')");
    create_subprocess_exec("python3", ["-c", code.as_str()]).child_watcher(w)
}

/// A pipe whose two ends are inheritable, as C code or a parent process may leave them:
/// `(read end, write end)`.
fn inheritable_pipe() -> (std::os::fd::OwnedFd, std::os::fd::OwnedFd) {
    use std::os::fd::{FromRawFd, OwnedFd};
    let mut fds = [0 as libc::c_int; 2];
    // SAFETY: `fds` has room for the two descriptors `pipe` writes; no flags: both ends are
    // inheritable.
    assert_eq!(unsafe { libc::pipe(fds.as_mut_ptr()) }, 0);
    // SAFETY: fresh descriptors, owned by nothing else.
    unsafe { (OwnedFd::from_raw_fd(fds[0]), OwnedFd::from_raw_fd(fds[1])) }
}

// Python's pass_fds: a descriptor the child keeps at its number, close-on-exec here or not
// (util's pipe is close-on-exec, as the crate's and std's descriptors are).
both!(
    pass_fds_keeps_a_close_on_exec_descriptor_open_in_the_child,
    |w| async move {
        use std::os::fd::AsRawFd;
        let (r, wr) = os_pipe();
        let proc = write_to_fd(wr.as_raw_fd(), "passed", w)
            .pass_fds([wr.as_raw_fd()])
            .await?;
        assert_eq!(proc.wait().await, 0, "the child could not write to it");
        drop(wr);
        let reader = asyncio::open_read_pipe(r).await?;
        assert_eq!(reader.read(-1).await?, b"passed\n");
        Ok(())
    }
);
