//! Subprocesses (issue #15, subprocesses): `create_subprocess_exec`/`_shell`, `Process`, and
//! both child watchers. Test names follow CPython's `test_asyncio/test_subprocess.py`
//! (`SubprocessMixin`) where a test is ported; each runs once per watcher (`_pidfd`: the
//! default where the kernel has pidfd; `_threaded`: the fallback, forced). Children are `sh`,
//! `cat` and `python3`; every test is bounded by `run_fresh`'s timeout, and no test sleeps to
//! synchronise: children that must wait block on their stdin or are killed.

mod util;

use std::cell::Cell;
use std::future::Future;
use std::io;
use std::rc::Rc;
use std::time::Duration;

use asyncio::{
    create_subprocess_exec, create_subprocess_shell, ChildWatcher, Error, Process, Stdio,
};
use util::os_pipe;

const BOUND: Duration = Duration::from_secs(60);

/// `cat` with stdin and stdout pipes.
async fn cat(w: ChildWatcher) -> Result<Process, Error> {
    create_subprocess_exec("cat", [] as [&str; 0])
        .stdin(Stdio::Pipe)
        .stdout(Stdio::Pipe)
        .child_watcher(w)
        .await
}

/// `sh -c script` with the given watcher.
fn sh(script: &str, w: ChildWatcher) -> asyncio::CreateSubprocess {
    create_subprocess_shell(script).child_watcher(w)
}

/// Defines `name_pidfd` and `name_threaded`, each running `body(watcher)` on a fresh loop.
macro_rules! both {
    ($name:ident, $body:expr) => {
        mod $name {
            use super::*;
            #[test]
            fn pidfd() {
                run(ChildWatcher::Auto, $body);
            }
            #[test]
            fn threaded() {
                run(ChildWatcher::Threaded, $body);
            }
        }
    };
}

fn run<F, Fut>(w: ChildWatcher, body: F)
where
    F: FnOnce(ChildWatcher) -> Fut,
    Fut: Future<Output = Result<(), Error>> + 'static,
{
    util::run_fresh(BOUND, body(w)).unwrap();
}

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

both!(test_communicate, |w| async move {
    let proc = cat(w).await?;
    let (out, err) = proc.communicate(Some(b"Python The Winner")).await?;
    assert_eq!(
        (out.as_slice(), err.as_slice()),
        (&b"Python The Winner"[..], &b""[..])
    );
    assert_eq!(proc.returncode(), Some(0));
    Ok(())
});

// More than a pipe buffer each way, the child writing all its output before it reads any
// input: feeding and draining must run together.
both!(
    communicate_large_both_ways_does_not_deadlock,
    |w| async move {
        const N: usize = 2 << 20;
        let script = "import sys\n\
                  sys.stdout.buffer.write(b'x' * (2 << 20)); sys.stdout.flush()\n\
                  data = sys.stdin.buffer.read()\n\
                  sys.stderr.write(str(len(data)))";
        let proc = create_subprocess_exec("python3", ["-c", script])
            .stdin(Stdio::Pipe)
            .stdout(Stdio::Pipe)
            .stderr(Stdio::Pipe)
            .child_watcher(w)
            .await?;
        let input = vec![b'y'; N];
        let (out, err) = proc.communicate(Some(&input)).await?;
        assert_eq!(out.len(), N);
        assert!(out.iter().all(|&b| b == b'x'));
        assert_eq!(String::from_utf8_lossy(&err), N.to_string());
        assert_eq!(proc.returncode(), Some(0));
        Ok(())
    }
);

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

// CPython gh-100133: many children at once, each communicate()d in its own task.
both!(test_subprocess_communicate_stdout, |w| async move {
    let outputs: Vec<String> = (0..10).map(|i| format!("foo{i}")).collect();
    let got = asyncio::gather(outputs.clone().into_iter().map(|out| async move {
        let proc = create_subprocess_exec("python3", ["-c", &format!("print({out:?})")])
            .stdout(Stdio::Pipe)
            .child_watcher(w)
            .await?;
        let (stdout, _) = proc.communicate(None).await?;
        Ok::<_, Error>(String::from_utf8_lossy(&stdout).trim().to_owned())
    }))
    .await?;
    assert_eq!(got, outputs);
    Ok(())
});

// D12: a `wait` polled once and then dropped (abandoned under a `timeout`, in a select)
// takes its waker back; the waker used to stay in the watch until the child ended.
both!(
    d12_a_wait_abandoned_before_the_exit_leaves_no_waker,
    |w| async move {
        let proc = cat(w).await?;
        let probe = util::Probe::new();
        for _ in 0..10 {
            let mut wait = std::pin::pin!(proc.wait());
            assert!(probe.poll(wait.as_mut()).is_pending(), "cat runs");
            assert!(probe.poll(wait.as_mut()).is_pending(), "cat runs");
        }
        assert_eq!(std::sync::Arc::strong_count(&probe), 1, "waker kept");
        proc.stdin.as_ref().unwrap().close();
        assert_eq!(proc.wait().await, 0, "a later wait still ends");
        Ok(())
    }
);

both!(test_subprocess_repr, |w| async move {
    let proc = sh("exit 0", w).await?;
    assert_eq!(format!("{proc:?}"), format!("<Process {}>", proc.pid()));
    proc.wait().await;
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

// Python's bpo-43884: the killed shell's child still holds stdout; wait() returns the
// shell's -SIGKILL (at its exit: it does not wait for that child, gh-119710).
both!(test_kill_issue43884, |w| async move {
    let proc = sh("cat; true", w)
        .stdin(Stdio::Pipe)
        .stdout(Stdio::Pipe)
        .await?;
    // An echo through `cat` proves the shell's child runs and holds stdout.
    proc.stdin.as_ref().unwrap().write(b"x\n")?;
    assert_eq!(proc.stdout.as_ref().unwrap().readline().await?, b"x\n");
    proc.kill()?;
    proc.stdin.as_ref().unwrap().close(); // `cat` sees EOF and exits
    assert_eq!(proc.wait().await, -libc::SIGKILL);
    Ok(())
});

/// A child that says "ready" once it runs, then waits on its stdin, which we never close.
async fn ready_child(w: ChildWatcher) -> Result<Process, Error> {
    let proc = sh("echo ready; exec cat >/dev/null", w)
        .stdin(Stdio::Pipe)
        .stdout(Stdio::Pipe)
        .await?;
    let line = proc.stdout.as_ref().unwrap().readline().await?;
    assert_eq!(line, b"ready\n");
    Ok(proc)
}

both!(test_kill, |w| async move {
    let proc = ready_child(w).await?;
    proc.kill()?;
    assert_eq!(proc.wait().await, -libc::SIGKILL);
    Ok(())
});

both!(test_terminate, |w| async move {
    let proc = ready_child(w).await?;
    proc.terminate()?;
    assert_eq!(proc.wait().await, -libc::SIGTERM);
    Ok(())
});

both!(test_send_signal, |w| async move {
    // CPython's test sends SIGHUP; a test run under `nohup` hands its children SIGHUP
    // ignored (and sh cannot reset it), so SIGUSR1, whose default also terminates.
    let proc = ready_child(w).await?;
    proc.send_signal(libc::SIGUSR1)?;
    assert_eq!(proc.wait().await, -libc::SIGUSR1);
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

both!(test_communicate_ignore_broken_pipe, |w| async move {
    let proc = sh("exit 0", w).stdin(Stdio::Pipe).await?;
    assert_eq!(proc.wait().await, 0);
    let big = vec![b'x'; 4 << 20];
    let (out, err) = proc.communicate(Some(&big)).await?;
    assert!(out.is_empty() && err.is_empty());
    assert_eq!(proc.returncode(), Some(0));
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

both!(test_empty_input, |w| async move {
    let proc = cat(w).await?;
    let (out, err) = proc.communicate(Some(b"")).await?;
    assert!(out.is_empty() && err.is_empty());
    assert_eq!(proc.returncode(), Some(0));
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

// Signalling a child that has finished sends nothing: with no pipe left open it is
// ProcessLookupError (ESRCH) once `wait` returns, as CPython's finished transport says; the
// returncode stays. (`test_wait_even_if_pipe_is_open` has a pipe that outlives the child.)
both!(test_close_dont_kill_finished, |w| async move {
    let proc = sh("exit 0", w).await?;
    assert_eq!(proc.wait().await, 0);
    for r in [
        proc.kill(),
        proc.terminate(),
        proc.send_signal(libc::SIGHUP),
    ] {
        match r {
            Err(Error::Io(e)) => assert_eq!(e.raw_os_error(), Some(libc::ESRCH)),
            other => panic!("expected ESRCH, got {other:?}"),
        }
    }
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

// CPython gh-119710 (test_wait_even_if_pipe_is_open; 3.11 to 3.14 hang here): `wait` returns
// at the child's exit, as Popen.wait, uvloop and trio do, even while a grandchild keeps its
// stdout pipe open. Until that pipe is closed too a signal sends nothing and is no error
// (CPython's transport is not finished yet); the pipe still carries the grandchild's output.
both!(test_wait_even_if_pipe_is_open, |w| async move {
    let proc = sh("exec 3<&0; cat <&3 & echo started", w)
        .stdin(Stdio::Pipe)
        .stdout(Stdio::Pipe)
        .await?;
    let stdout = proc.stdout.as_ref().unwrap();
    assert_eq!(stdout.readline().await?, b"started\n");
    // The background `cat` holds stdout until its stdin (ours) closes. A bound, not a
    // synchronisation: on failure `wait` never returns.
    let rc = asyncio::timeout(Duration::from_secs(20), proc.wait()).await;
    assert!(matches!(rc, Ok(0)), "wait() hung on the open pipe: {rc:?}");
    assert_eq!(proc.returncode(), Some(0));
    proc.kill()?; // the child is reaped: nothing is sent, and no ESRCH while the pipe is open
    let stdin = proc.stdin.as_ref().unwrap();
    stdin.write(b"tail\n")?;
    assert_eq!(stdout.readline().await?, b"tail\n");
    stdin.close();
    assert_eq!(stdout.read(-1).await?, b"");
    // The pipe's `connection_lost` comes a turn or two after its EOF: then ESRCH.
    let mut turns = 0;
    while proc.kill().is_ok() {
        turns += 1;
        assert!(turns < 100, "still no ESRCH with every pipe closed");
        asyncio::yield_now().await;
    }
    match proc.kill() {
        Err(Error::Io(e)) => assert_eq!(e.raw_os_error(), Some(libc::ESRCH)),
        other => panic!("expected ESRCH, got {other:?}"),
    }
    Ok(())
});

#[test]
fn program_not_found_is_io_not_found_with_errno() {
    util::run_fresh(BOUND, async {
        match create_subprocess_exec("/nonexistent/zzz-no-such-program", ["x"]).await {
            Err(e @ Error::Io(_)) => {
                assert_eq!(e.raw_os_error(), Some(libc::ENOENT));
                // Python's text names the program: a newcomer sees which one is missing.
                let text =
                    "[Errno 2] No such file or directory: '/nonexistent/zzz-no-such-program'";
                assert_eq!(e.to_string(), text);
                let Error::Io(e) = e else { unreachable!() };
                assert_eq!(e.kind(), io::ErrorKind::NotFound);
            }
            other => panic!("expected Io(NotFound), got {other:?}"),
        }
        // A missing working directory is what gets named (Python's too).
        let r = create_subprocess_exec("true", [] as [&str; 0])
            .cwd("/nonexistent/zzz-no-such-dir")
            .await;
        let Err(e) = r else {
            panic!("a missing cwd is an error")
        };
        assert_eq!(
            e.to_string(),
            "[Errno 2] No such file or directory: '/nonexistent/zzz-no-such-dir'"
        );
        assert_eq!(e.raw_os_error(), Some(libc::ENOENT));
    });
}

// A spawn that fails for a reason other than its program (setpgid or setsid in the child:
// EPERM) does not name the program, as Python 3.11 does not: create_subprocess_exec(
// "/bin/true", process_group=2**31-1), and process_group=0 with start_new_session=True, each
// raise `PermissionError: [Errno 1] Operation not permitted` (filename None). An exec that
// cannot use its program (EACCES) still names it. (Before: "[Errno 1] Operation not permitted:
// 'true'", blaming the program; checked by reverting src/streams/subprocess.rs.)
#[test]
fn a_spawn_failure_not_about_the_program_does_not_name_it() {
    util::run_fresh(BOUND, async {
        let no_such_group = create_subprocess_exec("true", [] as [&str; 0]).process_group(i32::MAX);
        let leader_then_session = create_subprocess_exec("true", [] as [&str; 0])
            .process_group(0)
            .start_new_session(true);
        for (what, create) in [
            ("no such group", no_such_group),
            ("a leader then setsid", leader_then_session),
        ] {
            let Err(e) = create.await else {
                panic!("{what}: started")
            };
            assert_eq!(e.raw_os_error(), Some(libc::EPERM), "{what}: {e:?}");
            assert_eq!(e.kind(), io::ErrorKind::PermissionDenied, "{what}");
            assert_eq!(e.to_string(), "[Errno 1] Operation not permitted", "{what}");
        }
        let dir = util::temp_dir("subprocess-noexec");
        let script = dir.join("not-executable");
        std::fs::write(&script, "#!/bin/sh\n")?;
        let Err(e) = create_subprocess_exec(&script, [] as [&str; 0]).await else {
            panic!("a file without the x bit started")
        };
        assert_eq!(e.raw_os_error(), Some(libc::EACCES), "{e:?}");
        let named = format!("[Errno 13] Permission denied: '{}'", script.display());
        assert_eq!(e.to_string(), named);
        Ok::<_, Error>(())
    })
    .unwrap();
}

// An exec that fails with an errno outside the usual path ones still names the program, as
// Python 3.11 names it for whatever errno its exec gives. A hand-made ELF whose interpreter
// (PT_INTERP) is an executable shell script: 10 bytes, too short for an ELF header, gives EIO;
// 200 bytes, no ELF, gives ELIBBAD. python3: Popen([prog]) -> "[Errno 5] Input/output error:
// '<prog>'", then "[Errno 80] Accessing a corrupted shared library: '<prog>'". (Before: the
// bare "[Errno 5] Input/output error"; checked by reverting src/streams/subprocess.rs.)
#[cfg(all(
    target_os = "linux",
    any(target_arch = "x86_64", target_arch = "aarch64")
))]
#[test]
fn an_exec_failing_with_eio_or_elibbad_names_the_program() {
    use std::os::unix::fs::PermissionsExt;
    let dir = util::temp_dir("subprocess-bad-interp");
    let interp = dir.join("interp");
    let prog = dir.join("prog");
    let mut path = interp.as_os_str().as_encoded_bytes().to_vec();
    path.push(0);
    let machine: u16 = if cfg!(target_arch = "x86_64") {
        62
    } else {
        183
    };
    let mut elf = b"\x7fELF\x02\x01\x01".to_vec(); // 64-bit, little-endian, version 1
    elf.resize(16, 0);
    for half in [2u16, machine] {
        elf.extend(half.to_le_bytes()); // ET_EXEC, the machine
    }
    elf.extend(1u32.to_le_bytes());
    for word in [0x40_0000u64, 64, 0] {
        elf.extend(word.to_le_bytes()); // entry, program headers at 64, no sections
    }
    elf.extend(0u32.to_le_bytes());
    for half in [64u16, 56, 1, 0, 0, 0] {
        elf.extend(half.to_le_bytes()); // header sizes, one program header
    }
    elf.extend(3u32.to_le_bytes()); // PT_INTERP
    elf.extend(4u32.to_le_bytes());
    let len = path.len() as u64;
    for word in [120u64, 0, 0, len, len, 1] {
        elf.extend(word.to_le_bytes()); // the path at 120
    }
    assert_eq!(elf.len(), 120);
    elf.extend(&path);
    std::fs::write(&prog, &elf).unwrap();
    let mode = std::fs::Permissions::from_mode(0o755);
    std::fs::set_permissions(&prog, mode.clone()).unwrap();
    for (script, errno, text) in [
        (
            "#!/bin/sh\n".to_string(),
            libc::EIO,
            "[Errno 5] Input/output error",
        ),
        (
            format!("#!/bin/sh\n{}\n", "#".repeat(200)),
            libc::ELIBBAD,
            "[Errno 80] Accessing a corrupted shared library",
        ),
    ] {
        std::fs::write(&interp, script).unwrap();
        std::fs::set_permissions(&interp, mode.clone()).unwrap();
        let (prog, named) = (prog.clone(), format!("{text}: '{}'", prog.display()));
        util::run_fresh(BOUND, async move {
            // ETXTBSY: a child another test thread forked while `prog` or `interp` was open
            // for writing here holds that descriptor until its own exec; it goes then, so a
            // few retries (bounded) see the file as written.
            let mut tries = 0;
            let e = loop {
                let Err(e) = create_subprocess_exec(&prog, [] as [&str; 0]).await else {
                    panic!("{named}: started")
                };
                tries += 1;
                if e.raw_os_error() != Some(libc::ETXTBSY) || tries == 100 {
                    break e;
                }
                asyncio::sleep(Duration::from_millis(10)).await;
            };
            assert_eq!(e.raw_os_error(), Some(errno), "{e:?}");
            assert_eq!(e.to_string(), named);
            Ok::<_, Error>(())
        })
        .unwrap();
    }
}

#[test]
fn stdio_stdout_is_for_stderr_only_and_limit_zero_is_refused() {
    util::run_fresh(BOUND, async {
        let r = create_subprocess_exec("true", [] as [&str; 0])
            .stdout(Stdio::Stdout)
            .await;
        assert!(matches!(r, Err(Error::InvalidArgument(_))), "{r:?}");
        let r = create_subprocess_exec("true", [] as [&str; 0])
            .stdin(Stdio::Stdout)
            .await;
        assert!(matches!(r, Err(Error::InvalidArgument(_))), "{r:?}");
        let r = create_subprocess_exec("true", [] as [&str; 0])
            .limit(0)
            .await;
        assert!(matches!(r, Err(Error::InvalidArgument(_))), "{r:?}");
    });
}

// Popen refuses a NUL byte in the program, an argument, the environment or the working
// directory with ValueError("embedded null byte"), before anything starts (the OS would end
// the string at the NUL): InvalidArgument here, not std's spawn error `Io(InvalidInput)`.
#[test]
fn a_nul_byte_anywhere_in_the_command_is_invalid_argument() {
    util::run_fresh(BOUND, async {
        let cases = [
            create_subprocess_exec("tr\0ue", [] as [&str; 0]),
            create_subprocess_exec("true", ["a\0b"]),
            create_subprocess_shell("true \0"),
            create_subprocess_exec("true", [] as [&str; 0]).env("A\0B", "x"),
            create_subprocess_exec("true", [] as [&str; 0]).env("A", "x\0y"),
            create_subprocess_exec("true", [] as [&str; 0]).cwd("/tm\0p"),
        ];
        for (i, case) in cases.into_iter().enumerate() {
            match case.await {
                Err(Error::InvalidArgument(m)) => assert_eq!(m, "embedded null byte", "case {i}"),
                other => panic!("case {i}: expected InvalidArgument, got {other:?}"),
            }
        }
    });
}

// CPython's test_subprocess ProcessTestCase.test_invalid_env: a variable name with `=` is
// ValueError("illegal environment variable name"), before anything starts. It used to start
// the child with `A=B=x` in its environment, which the child reads as `A` set to `B=x`.
#[test]
fn env_name_with_an_equals_sign_is_invalid_argument() {
    util::run_fresh(BOUND, async {
        let r = create_subprocess_exec("true", [] as [&str; 0])
            .env("FRUIT=ORANGE", "lemon")
            .await;
        match r {
            Err(Error::InvalidArgument(m)) => assert_eq!(m, "illegal environment variable name"),
            other => panic!("expected InvalidArgument, got {other:?}"),
        }
        // A value may hold `=`.
        let proc = create_subprocess_shell("printf %s \"$FRUIT\"")
            .env("FRUIT", "ORANGE=lemon")
            .stdout(Stdio::Pipe)
            .await?;
        assert_eq!(proc.communicate(None).await?.0, b"ORANGE=lemon");
        Ok::<_, Error>(())
    })
    .unwrap();
}

#[test]
fn communicate_input_without_a_stdin_pipe_is_invalid_argument() {
    util::run_fresh(BOUND, async {
        let proc = create_subprocess_exec("true", [] as [&str; 0]).await?;
        let r = proc.communicate(Some(b"x")).await;
        assert!(matches!(r, Err(Error::InvalidArgument(_))), "{r:?}");
        assert_eq!(proc.wait().await, 0);
        Ok::<_, Error>(())
    })
    .unwrap();
}

#[test]
fn without_pidfd_auto_falls_back_to_the_threaded_watcher() {
    asyncio::simulate_no_pidfd(true);
    let r = util::run_fresh(BOUND, async {
        let proc = ready_child(ChildWatcher::Auto).await?;
        assert_eq!(proc.child_watcher(), ChildWatcher::Threaded);
        proc.kill()?;
        assert_eq!(proc.wait().await, -libc::SIGKILL);
        let r = create_subprocess_shell("exit 0")
            .child_watcher(ChildWatcher::Pidfd)
            .await;
        match r {
            Err(Error::Io(e)) => assert_eq!(e.raw_os_error(), Some(libc::ENOSYS)),
            other => panic!("expected ENOSYS, got {other:?}"),
        }
        Ok::<_, Error>(())
    });
    asyncio::simulate_no_pidfd(false);
    r.unwrap();
}

#[test]
fn auto_uses_a_pidfd_on_linux() {
    util::run_fresh(BOUND, async {
        let proc = create_subprocess_shell("exit 0").await?;
        if cfg!(target_os = "linux") {
            assert_eq!(proc.child_watcher(), ChildWatcher::Pidfd);
        }
        proc.wait().await;
        Ok::<_, Error>(())
    })
    .unwrap();
}

/// `/proc/<pid>` exists while the process runs or is a zombie; gone once reaped.
fn proc_exists(pid: u32) -> bool {
    std::path::Path::new(&format!("/proc/{pid}")).exists()
}

// Dropping a running Process kills nothing; the child is still reaped when it exits. Our own
// pidfd for the child turns readable in the same poll as the watcher's, so once our callback
// has run and one more turn passed, the watcher has reaped it.
#[test]
fn dropped_process_is_reaped_when_the_child_exits_pidfd() {
    let lp = asyncio::EventLoop::new().unwrap();
    let h = lp.handle();
    let proc = lp
        .run_until_complete(async { ready_child(ChildWatcher::Pidfd).await })
        .unwrap()
        .unwrap();
    let pid = proc.pid();
    // SAFETY: plain syscall; the returned descriptor is owned by `_pidfd` below.
    let raw = unsafe { libc::syscall(libc::SYS_pidfd_open, pid as libc::pid_t, 0) };
    assert!(raw >= 0, "pidfd_open: {}", io::Error::last_os_error());
    // SAFETY: `raw` is a fresh descriptor nothing else owns.
    let pidfd =
        unsafe { <std::os::fd::OwnedFd as std::os::fd::FromRawFd>::from_raw_fd(raw as i32) };
    let exited = Rc::new(Cell::new(false));
    let e = exited.clone();
    h.add_reader(raw as i32, move || e.set(true)).unwrap();
    drop(proc); // closes the child's stdin: `cat` sees EOF and exits
    util::run_until(&lp, 1000, || exited.get());
    lp.run_once(Some(Duration::ZERO)).unwrap();
    h.remove_reader(raw as i32).unwrap();
    drop(pidfd);
    assert!(!proc_exists(pid), "child {pid} was left a zombie");
}

// A wait() dropped under a timeout loses nothing: the process is still there to kill and wait.
both!(test_cancel_process_wait, |w| async move {
    let proc = ready_child(w).await?;
    let r = asyncio::timeout(Duration::from_millis(1), proc.wait()).await;
    assert!(matches!(r, Err(Error::Timeout)), "{r:?}");
    assert_eq!(proc.returncode(), None);
    proc.kill()?;
    assert_eq!(proc.wait().await, -libc::SIGKILL);
    Ok(())
});

// ---- in a child process of its own: descriptor counts ---------------------------------------

/// Descriptors open in this process now.
#[cfg(target_os = "linux")]
fn open_fds() -> usize {
    std::fs::read_dir("/proc/self/fd").unwrap().count()
}

/// A program that cannot be started, with each stream a pipe, leaves no descriptor behind.
/// Counted over the whole process, so it must run alone in one:
/// `test_popen_error_with_stdin_pipe` runs it in a child process. Ignored in an ordinary run,
/// where other tests open descriptors at the same time; to run it by hand:
/// ```text
/// cargo test --test subprocess -- --ignored --exact \
///     child_popen_error_leaves_no_descriptor --test-threads=1
/// ```
#[cfg(target_os = "linux")]
#[test]
#[ignore = "counts the process's descriptors: run alone, by test_popen_error_with_stdin_pipe"]
fn child_popen_error_leaves_no_descriptor() {
    util::run_fresh(BOUND, async {
        let before = open_fds();
        for stdin in [Stdio::Inherit, Stdio::Pipe] {
            let r = create_subprocess_exec("/nonexistent/zzz-no-such-program", ["x"])
                .stdin(stdin)
                .stdout(Stdio::Pipe)
                .stderr(Stdio::Pipe)
                .await;
            assert!(matches!(r, Err(Error::Io(_))), "{r:?}");
            assert_eq!(open_fds(), before, "a failed start left descriptors open");
        }
    });
    println!("popen-error child: ok");
}

// CPython's test_popen_error and test_popen_error_with_stdin_pipe (bpo-24763, bpo-35721): when
// the program cannot be started, the pipes made for it are closed. Run in a child process of
// this test binary, since other tests open descriptors concurrently in this one.
#[cfg(target_os = "linux")]
#[test]
fn test_popen_error_with_stdin_pipe() {
    let exe = std::env::current_exe().unwrap();
    let out = std::process::Command::new(exe)
        .args([
            "--ignored",
            "--exact",
            "child_popen_error_leaves_no_descriptor",
            "--nocapture",
            "--test-threads=1",
        ])
        .output()
        .unwrap();
    let stdout = String::from_utf8_lossy(&out.stdout);
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(out.status.success(), "{stdout}{stderr}");
    assert!(
        stdout.contains("popen-error child: ok"),
        "the child ran no test body: {stdout}"
    );
}

// S-subprocess (CPython `Process._feed_stdin`): `communicate(None)` still closes a piped stdin,
// as CPython's does (it drains and closes stdin whether or not there is input). Left open, a
// child that reads its input to the end (`cat`) never exits and communicate never returns.
both!(
    communicate_without_input_closes_a_stdin_pipe,
    |w| async move {
        let proc = cat(w).await?;
        let done = asyncio::timeout(Duration::from_secs(20), proc.communicate(None)).await;
        let (out, err) = done.expect("communicate(None) hung with stdin left open")?;
        assert!(out.is_empty() && err.is_empty());
        assert_eq!(proc.returncode(), Some(0));
        assert!(proc.stdin.as_ref().unwrap().is_closing());
        Ok(())
    }
);

// CPython's `communicate` gathers its three steps and raises the first exception at once.
// One step failing (here stdin's drain, under a drain timeout, to a child that never reads
// and never exits) must end communicate with that error, not leave it waiting for the other
// steps, whose output never ends while the child waits for the rest of its input.
both!(
    communicate_fails_at_once_when_a_step_fails,
    |w| async move {
        let proc = sh("exec sleep 600", w)
            .stdin(Stdio::Pipe)
            .stdout(Stdio::Pipe)
            .await?;
        let stdin = proc.stdin.as_ref().unwrap();
        stdin.set_drain_timeout(Some(Duration::from_millis(20)));
        let input = vec![b'x'; 4 << 20]; // far more than a pipe holds
        let done = asyncio::timeout(Duration::from_secs(20), proc.communicate(Some(&input))).await;
        let got = done.expect("communicate waited on after its stdin failed");
        assert!(matches!(got, Err(Error::Timeout)), "{got:?}");
        proc.kill()?;
        proc.wait().await;
        Ok(())
    }
);

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

const REAPED_ELSEWHERE: &str = "ASYNCIO_TEST_REAPED_ELSEWHERE_CHILD";

/// With `SIGCHLD` ignored the kernel reaps children itself, so the watcher's `waitpid` gets
/// `ECHILD`: the returncode is 255, and the warning says so.
fn reaped_elsewhere_child() {
    // SAFETY: the process is this test's alone (`in_child`); `SIG_IGN` is a valid disposition.
    unsafe { libc::signal(libc::SIGCHLD, libc::SIG_IGN) };
    for w in [ChildWatcher::Pidfd, ChildWatcher::Threaded] {
        util::run_fresh(BOUND, async move {
            let proc = ready_child(w).await?;
            proc.kill()?;
            assert_eq!(proc.wait().await, 255, "{w:?}");
            Ok::<_, Error>(())
        })
        .unwrap();
    }
    println!("reaped elsewhere child: ok");
}

// Checklist issue #14 (never silent): CPython logs "Unknown child process pid N, will report
// returncode 255" at WARNING, which reaches stderr with logging unconfigured.
#[test]
fn child_reaped_by_someone_else_is_255_and_warned_on_stderr_with_no_logger() {
    let err = util::in_child_stderr(
        REAPED_ELSEWHERE,
        "child_reaped_by_someone_else_is_255_and_warned_on_stderr_with_no_logger",
        "reaped elsewhere child: ok",
        reaped_elsewhere_child,
    );
    if std::env::var_os(REAPED_ELSEWHERE).is_none() {
        let warned = err.matches("Unknown child process pid").count();
        assert_eq!(warned, 2, "one warning per watcher, on stderr: {err:?}");
    }
}

const SIGNAL_AFTER_AUTO_REAP: &str = "ASYNCIO_TEST_SIGNAL_AFTER_AUTO_REAP_CHILD";

/// Waits (bounded) until the process `pidfd` names has exited.
fn wait_pidfd_readable(pidfd: &std::os::fd::OwnedFd) {
    use std::os::fd::AsRawFd;
    let mut pfd = libc::pollfd {
        fd: pidfd.as_raw_fd(),
        events: libc::POLLIN,
        revents: 0,
    };
    // SAFETY: `pfd` is one valid `pollfd` for the call.
    let n = unsafe { libc::poll(&mut pfd, 1, 20_000) };
    assert_eq!(n, 1, "the child did not exit within 20 s");
}

/// With `SIGCHLD` ignored the kernel reaps a child the moment it exits, and its pid is free
/// for any new process. Here the child has exited (our own pidfd for it says so) while the
/// loop has not turned, so the watch still takes it for running: `send_signal` sends nothing
/// and answers `Ok`, as CPython's does (its `kill` raising `ProcessLookupError` is ignored);
/// its stdout pipe is not yet seen closed. The pidfd way used to `kill(pid)` and fail with
/// `ESRCH`, and would have signalled whoever had the pid by then.
fn signal_after_auto_reap_child() {
    // SAFETY: the process is this test's alone (`in_child`); `SIG_IGN` is a valid disposition.
    unsafe { libc::signal(libc::SIGCHLD, libc::SIG_IGN) };
    for w in [ChildWatcher::Pidfd, ChildWatcher::Threaded] {
        util::run_fresh(BOUND, async move {
            let (hold, keep) = os_pipe(); // the child waits until `keep` closes
            let proc = sh("read x", w)
                .stdin(Stdio::Fd(hold.into()))
                .stdout(Stdio::Pipe)
                .await?;
            let pid = libc::pid_t::try_from(proc.pid()).unwrap();
            // SAFETY: plain syscall; the returned descriptor is owned by `pidfd` below.
            let raw = unsafe { libc::syscall(libc::SYS_pidfd_open, pid, 0) };
            assert!(raw >= 0, "pidfd_open: {}", io::Error::last_os_error());
            // SAFETY: `raw` is a fresh descriptor nothing else owns.
            let pidfd = unsafe {
                <std::os::fd::OwnedFd as std::os::fd::FromRawFd>::from_raw_fd(raw as i32)
            };
            drop(keep); // EOF on the child's stdin: it exits, and the kernel reaps it
            wait_pidfd_readable(&pidfd);
            let r = proc.send_signal(libc::SIGUSR1);
            assert!(
                r.is_ok(),
                "{w:?}: signalling a child reaped by the kernel: {r:?}"
            );
            assert_eq!(proc.wait().await, 255, "{w:?}");
            Ok::<_, Error>(())
        })
        .unwrap();
    }
    println!("signal after auto reap child: ok");
}

const KILL_WITHOUT_DESCRIPTORS: &str = "ASYNCIO_TEST_KILL_WITHOUT_DESCRIPTORS_CHILD";

/// In a child process (its descriptor limit is lowered): a thread-watched child is killed
/// while no descriptor is left for the pidfd `send_signal` would open.
fn kill_without_descriptors_child() {
    util::run_fresh(BOUND, async {
        let (hold, keep) = os_pipe(); // the child waits until `keep` closes
        let proc = sh("read x", ChildWatcher::Threaded)
            .stdin(Stdio::Fd(hold.into()))
            .await?;
        let highest = std::fs::read_dir("/proc/self/fd")
            .unwrap()
            .filter_map(|e| e.ok()?.file_name().to_str()?.parse::<u64>().ok())
            .max()
            .unwrap();
        let mut lim = libc::rlimit {
            rlim_cur: 0,
            rlim_max: 0,
        };
        // SAFETY: `lim` is a valid out-pointer; the process is this test's alone.
        assert_eq!(unsafe { libc::getrlimit(libc::RLIMIT_NOFILE, &mut lim) }, 0);
        let full = libc::rlimit {
            rlim_cur: highest + 1,
            ..lim
        };
        // SAFETY: as above; lowering the soft limit only.
        assert_eq!(unsafe { libc::setrlimit(libc::RLIMIT_NOFILE, &full) }, 0);
        let mut gaps = Vec::new(); // every free number below the limit taken too
        while let Ok(f) = std::fs::File::open("/dev/null") {
            gaps.push(f);
            assert!(gaps.len() as u64 <= highest, "the limit does not hold");
        }
        let killed = proc.kill();
        drop(gaps);
        // SAFETY: as above; the old limit back.
        assert_eq!(unsafe { libc::setrlimit(libc::RLIMIT_NOFILE, &lim) }, 0);
        assert!(
            matches!(killed, Ok(())),
            "kill with no descriptor left: {killed:?}"
        );
        assert_eq!(proc.wait().await, -libc::SIGKILL);
        drop(keep);
        Ok::<_, Error>(())
    })
    .unwrap();
    println!("kill without descriptors child: ok");
}

// A kill must work when descriptors run out (a server at its limit stopping its children):
// with no descriptor for the pidfd that makes the signal safe against a reused pid, the pid
// is signalled once it is seen to be our unreaped child, as where the kernel has no pidfds.
#[cfg(target_os = "linux")]
#[test]
fn a_thread_watched_child_is_killed_when_no_descriptor_is_left() {
    util::in_child(
        KILL_WITHOUT_DESCRIPTORS,
        "a_thread_watched_child_is_killed_when_no_descriptor_is_left",
        "kill without descriptors child: ok",
        kill_without_descriptors_child,
    );
}

#[cfg(target_os = "linux")]
#[test]
fn a_child_reaped_by_the_kernel_is_not_signalled_and_send_signal_is_ok() {
    util::in_child(
        SIGNAL_AFTER_AUTO_REAP,
        "a_child_reaped_by_the_kernel_is_not_signalled_and_send_signal_is_ok",
        "signal after auto reap child: ok",
        signal_after_auto_reap_child,
    );
}
