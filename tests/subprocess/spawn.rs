//! Starting a child: exec and shell, a new session or process group, a path-like program,
//! the repr, and a creation cancelled after the child started (which kills it).

use super::*;

both!(test_shell, |w| async move {
    let proc = sh("exit 7", w).await?;
    assert_eq!(proc.wait().await, 7);
    assert_eq!(proc.returncode(), Some(7));
    Ok(())
});

both!(test_start_new_session, |w| async move {
    let proc = sh("exit 8", w).start_new_session(true).await?;
    assert_eq!(proc.wait().await, 8);
    // And it is a session leader: its session id is its pid.
    let code = "import os; print(os.getsid(0) == os.getpid())";
    let proc = create_subprocess_exec("python3", ["-c", code])
        .start_new_session(true)
        .stdout(Stdio::Pipe)
        .child_watcher(w)
        .await?;
    let (out, _) = proc.communicate(None).await?;
    assert_eq!(out, b"True\n");
    Ok(())
});

// Python's `process_group=0`: the child leads a new process group.
both!(process_group_0_leads_a_group, |w| async move {
    let code = "import os; print(os.getpgid(0) == os.getpid())";
    for (pgid, expected) in [(Some(0), &b"True\n"[..]), (None, &b"False\n"[..])] {
        let mut create = create_subprocess_exec("python3", ["-c", code])
            .stdout(Stdio::Pipe)
            .child_watcher(w);
        if let Some(pgid) = pgid {
            create = create.process_group(pgid);
        }
        let proc = create.await?;
        let (out, _) = proc.communicate(None).await?;
        assert_eq!(out, expected, "process_group {pgid:?}");
    }
    Ok(())
});

// Python's `os_helper.FakePath` program and argument: anything path-like will do.
both!(test_create_subprocess_exec_with_path, |w| async move {
    let sh_path = std::path::Path::new("/bin/sh");
    let proc = create_subprocess_exec(sh_path, ["-c", "exit 0"])
        .child_watcher(w)
        .await?;
    assert_eq!(proc.wait().await, 0);
    let dir = std::path::PathBuf::from(".");
    let proc = create_subprocess_exec("test", [dir.as_os_str(), "-ef".as_ref(), ".".as_ref()])
        .child_watcher(w)
        .await?;
    assert_eq!(proc.wait().await, 0);
    Ok(())
});

both!(test_subprocess_repr, |w| async move {
    let proc = sh("exit 0", w).await?;
    assert_eq!(format!("{proc:?}"), format!("<Process {}>", proc.pid()));
    proc.wait().await;
    Ok(())
});

// Creation cancelled after the child started (while its stdout pipe is being connected): the
// child is killed, as CPython kills it when the creation fails, since nobody could reach it.
// The child's stderr is a probe pipe we read: EOF there means the child is gone (a `sleep
// 3600` left running would hold it until the test's bound fails it).
both!(test_cancel_make_subprocess_transport_exec, |w| async move {
    let (probe_r, probe_w) = os_pipe();
    let started = Rc::new(Cell::new(false));
    let s = started.clone();
    let task = asyncio::spawn(async move {
        let create = create_subprocess_exec("sleep", ["3600"])
            .stdout(Stdio::Pipe)
            .stderr(Stdio::Fd(probe_w.into()))
            .child_watcher(w);
        s.set(true); // the first poll of `create` runs on to the child's start
        create.await
    });
    asyncio::yield_now().await; // the task's first turn: child started, pipe connecting
    assert!(
        started.get() && !task.is_done(),
        "the creation did not get to wait"
    );
    assert!(task.cancel());
    assert!(task.await.is_err(), "the creation was not cancelled");
    let probe = asyncio::open_read_pipe(probe_r).await?;
    assert_eq!(probe.read(-1).await?, b"");
    Ok(())
});

// CPython test_cancel_post_init (test_subprocess.py, SubprocessMixin): the creation task is
// cancelled once it has started the child and waits for its pipes (stdin and stdout here,
// `subprocess_exec`'s defaults). The child is killed and reaped, no zombie, and the pipes
// the creation had made say nothing of being unclosed. The child writes its pid to a probe
// pipe (its stderr) before it blocks, if the kill does not come first; in the end this
// thread has no child left at all.
both!(test_cancel_post_init, |w| async move {
    util::capture_log::start();
    let (probe_r, probe_w) = os_pipe();
    let task = asyncio::spawn(async move {
        sh("echo $$ >&2; exec sleep 3600", w)
            .stdin(Stdio::Pipe)
            .stdout(Stdio::Pipe)
            .stderr(Stdio::Fd(probe_w.into()))
            .await
    });
    asyncio::yield_now().await; // the task's first turn: child started, pipes connecting
    assert!(!task.is_done(), "the creation did not get to wait");
    assert!(task.cancel());
    assert!(task.await.is_err(), "the creation was not cancelled");
    let probe = asyncio::open_read_pipe(probe_r).await?;
    let said = probe.read(-1).await?; // EOF: the child is gone
    if let Some(pid) = std::str::from_utf8(&said)
        .ok()
        .and_then(|s| s.trim().parse().ok())
    {
        until_reaped(pid).await;
    }
    let end = std::time::Instant::now() + Duration::from_secs(20); // a bound
    while my_children().is_some_and(|c| !c.trim().is_empty()) {
        assert!(
            std::time::Instant::now() < end,
            "the killed child is left a zombie"
        );
        asyncio::yield_now().await;
    }
    let warned = util::capture_log::containing("nclosed");
    assert!(warned.is_empty(), "wrongly warned: {warned:?}");
    Ok(())
});
