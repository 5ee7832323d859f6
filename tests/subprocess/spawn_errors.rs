//! Starts that fail or are refused: a missing program (errno kept, program named only where
//! the failure is about it), bad arguments as InvalidArgument, and no descriptor left behind.

use super::*;

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

/// A program that cannot be started, with each stream a pipe, leaves no descriptor behind.
/// Counted over the whole process, so it must run alone in one:
/// `test_popen_error_with_stdin_pipe` runs it in a child process. Ignored in an ordinary run,
/// where other tests open descriptors at the same time; to run it by hand:
/// ```text
/// cargo test --test subprocess -- --ignored --exact \
///     spawn_errors::child_popen_error_leaves_no_descriptor --test-threads=1
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
            "spawn_errors::child_popen_error_leaves_no_descriptor",
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

/// What starting `program` with no arguments gives: its kind, errno and text.
async fn start_failure(program: &str) -> (io::ErrorKind, Option<i32>, String) {
    match create_subprocess_exec(program, [] as [&str; 0]).await {
        Err(e @ Error::Io(_)) => {
            let (errno, text) = (e.raw_os_error(), e.to_string());
            let Error::Io(e) = e else { unreachable!() };
            (e.kind(), errno, text)
        }
        Err(other) => panic!("{program:?}: expected Error::Io, got {other:?}"),
        Ok(_) => panic!("{program:?}: started"),
    }
}

#[test]
fn a_program_that_cannot_be_executed_is_permission_denied_with_eacces() {
    // CPython 3.11 (probe, PATH with existing directories): create_subprocess_exec(p) raises
    // PermissionError, errno 13, for p = '' ("[Errno 13] Permission denied: ''": its PATH
    // search execs each directory), a directory path and a file without the execute bit;
    // a bare name found nowhere on PATH is FileNotFoundError, errno 2.
    let dir = util::temp_dir("spawn-eacces");
    let file = dir.join("noexec.sh");
    std::fs::write(&file, "#!/bin/sh\nexit 0\n").unwrap();
    util::run_fresh(BOUND, async move {
        let denied = |p: &str| {
            let text = format!("[Errno 13] Permission denied: '{p}'");
            (io::ErrorKind::PermissionDenied, Some(libc::EACCES), text)
        };
        for p in ["", dir.to_str().unwrap(), file.to_str().unwrap()] {
            assert_eq!(start_failure(p).await, denied(p), "{p:?}");
        }
        // The empty name's errno follows the child's PATH (probe: env={'PATH': '/nonexistent'}
        // ENOENT, {'PATH': '/nonexistent:/tmp'} and {} EACCES, a file as the only entry
        // ENOTDIR, "[Errno 20] Not a directory: ''").
        let file_entry = file.to_str().unwrap();
        let cases = [
            (Some("/nonexistent"), libc::ENOENT, io::ErrorKind::NotFound),
            (
                Some("/nonexistent:/tmp"),
                libc::EACCES,
                io::ErrorKind::PermissionDenied,
            ),
            (None, libc::EACCES, io::ErrorKind::PermissionDenied),
            (
                Some(file_entry),
                libc::ENOTDIR,
                io::ErrorKind::NotADirectory,
            ),
        ];
        for (path, errno, kind) in cases {
            let mut cmd = create_subprocess_exec("", [] as [&str; 0]).env_clear();
            if let Some(path) = path {
                cmd = cmd.env("PATH", path);
            }
            let Err(e) = cmd.await else {
                panic!("{path:?}: started")
            };
            assert_eq!(e.raw_os_error(), Some(errno), "{path:?}: {e}");
            let Error::Io(e) = e else { unreachable!() };
            assert_eq!(e.kind(), kind, "{path:?}");
        }
        let missing = "zzz-no-such-program-on-path";
        let text = format!("[Errno 2] No such file or directory: '{missing}'");
        let expected = (io::ErrorKind::NotFound, Some(libc::ENOENT), text);
        assert_eq!(start_failure(missing).await, expected);
    });
}

// Python's pass_fds: a negative number is a ValueError ('bad value(s) in fds_to_keep') before
// anything starts; one that is not open fails the child's start with EBADF (an OSError).
both!(
    pass_fds_negative_is_invalid_argument_and_closed_is_ebadf,
    |w| async move {
        let bad = sh("exit 0", w).pass_fds([-1]).await;
        match bad {
            Err(Error::InvalidArgument(m)) => assert_eq!(m, "bad value(s) in fds_to_keep"),
            other => panic!("expected InvalidArgument, got {other:?}"),
        }
        let closed = 1 << 30; // above any descriptor table: never open
        match sh("exit 0", w).pass_fds([closed]).await {
            Err(Error::Io(e)) => assert_eq!(e.raw_os_error(), Some(libc::EBADF), "{e}"),
            Ok(proc) => panic!("started with a closed descriptor: rc {}", proc.wait().await),
            Err(other) => panic!("expected EBADF, got {other:?}"),
        }
        Ok(())
    }
);

const CLOSED_PASS_FD: &str = "ASYNCIO_TEST_CLOSED_PASS_FD";

// Python's pass_fds: a number that is not open fails the start with EBADF, even when it is
// the lowest free number. The crate's stdio pipes, then std's own (the exec-error pipe), are
// opened before the child starts: one of them took the free number, the child made it
// inheritable, and the start succeeded (with std's exec-error pipe inherited by the child,
// `spawn` waited for the child to exit; with the parent's end of a stdin pipe, the child's
// stdin never ended). In a process of its own (`in_child`): the other tests of this binary
// open descriptors, and would take the free numbers.
#[cfg(target_os = "linux")]
#[test]
fn pass_fds_closed_lowest_free_number_is_ebadf() {
    util::in_child(
        CLOSED_PASS_FD,
        "spawn_errors::pass_fds_closed_lowest_free_number_is_ebadf",
        "closed pass fd child: ok",
        closed_pass_fd_child,
    );
}

fn closed_pass_fd_child() {
    for w in [ChildWatcher::Auto, ChildWatcher::Threaded] {
        util::run_fresh(BOUND, async move {
            // The two lowest free numbers from 3: those std's next pipe takes.
            // SAFETY: `F_DUPFD` duplicates stdin onto the lowest free number >= 3; both are
            // closed again at once, owned by nothing else.
            let free = unsafe {
                let a = libc::fcntl(0, libc::F_DUPFD, 3);
                let b = libc::fcntl(0, libc::F_DUPFD, 3);
                assert!(a >= 3 && b >= 3);
                libc::close(a);
                libc::close(b);
                [a, b]
            };
            // With a pipe for stdin, the crate's own pipe takes the free numbers first.
            for (fd, stdin) in [free[0], free[1]]
                .into_iter()
                .flat_map(|fd| [(fd, Stdio::Inherit), (fd, Stdio::Pipe)])
            {
                match sh("exit 0", w).stdin(stdin).pass_fds([fd]).await {
                    Err(Error::Io(e)) => assert_eq!(e.raw_os_error(), Some(libc::EBADF), "{e}"),
                    Ok(proc) => panic!(
                        "{w:?}: started with closed descriptor {fd}: rc {}",
                        proc.wait().await
                    ),
                    Err(other) => panic!("{w:?}: expected EBADF, got {other:?}"),
                }
            }
            Ok::<_, Error>(())
        })
        .unwrap();
    }
    println!("closed pass fd child: ok");
}
