//! Write pipes over a terminal (a pseudo-terminal pair): a hang-up ends the writer with the write's
//! `EIO`, and `wait_closed` of a helper-thread writer wakes every waiting task and keeps no waker.

use super::*;

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
