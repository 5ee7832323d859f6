//! Subprocesses with streams: [`create_subprocess_exec`], [`create_subprocess_shell`] and
//! [`Process`].
//!
//! Mirrors CPython `Lib/asyncio/subprocess.py` (`Process`, `create_subprocess_*`,
//! `SubprocessStreamProtocol`), `base_subprocess.py` (`BaseSubprocessTransport`: the pipes, the
//! returncode, `_wait`) and `unix_events.py` (`_UnixSubprocessTransport`, and the child
//! watchers, here `event_loop/child_watcher.rs`). The child is started by
//! `std::process::Command`; each `Stdio::Pipe` is an OS pipe whose parent end is wrapped in a
//! pipe transport (`transport/pipe/`, made non-blocking there; the child's end stays blocking)
//! under a [`StreamWriter`] or [`StreamReader`], exactly as [`open_write_pipe`] and
//! [`open_read_pipe`] do.
//!
//! Ground rules: the parent's pipe ends are close-on-exec, so no other child inherits them,
//! and a child inherits no descriptor but its three standard streams (Python's
//! `close_fds=True`) and starts with `SIGPIPE` and `SIGXFSZ` at their default action (Python's
//! `restore_signals=True`); the child's ends are closed in the parent as soon as the child is
//! started, so EOF comes when the child (and whoever it passed them to) closes them. The
//! child is watched from the moment it is started and reaped when it exits, whatever happens
//! to the [`Process`] (see its docs for what dropping one does).
//!
//! [`open_write_pipe`]: crate::open_write_pipe
//! [`open_read_pipe`]: crate::open_read_pipe

use std::cell::RefCell;
use std::ffi::OsStr;
use std::fmt;
use std::fs::{File, OpenOptions};
use std::future::{poll_fn, Future, IntoFuture};
use std::io;
use std::os::fd::{AsFd, OwnedFd, RawFd};
use std::os::unix::ffi::OsStrExt;
use std::os::unix::process::CommandExt;
use std::path::Path;
use std::pin::{pin, Pin};
use std::process::Command;
use std::rc::Rc;
use std::task::Poll;

use super::core::StreamCore;
use super::reader::{ReaderState, StreamReader};
use super::writer::StreamWriter;
use crate::constants::DEFAULT_LIMIT;
use crate::error::{strerror, Error, OsError};
use crate::event_loop::child_watcher::{
    all_open, restore_signals, set_child_fds, start_new_session, ChildWatch, ChildWatcher,
};
use crate::transport::pipe::{os_pipe, Direction};
use crate::wakers::Withdraw;

/// Where a child's standard stream goes (Python's `stdin=`/`stdout=`/`stderr=` values).
///
/// # Examples
///
/// ```
/// use asyncio::Stdio;
///
/// asyncio::run(async {
///     let proc = asyncio::create_subprocess_shell("echo out; echo err >&2")
///         .stdout(Stdio::Pipe)
///         .stderr(Stdio::Stdout) // merged into the stdout pipe
///         .await?;
///     let (out, _) = proc.communicate(None).await?;
///     assert_eq!(out, b"out\nerr\n");
///     Ok::<_, asyncio::Error>(())
/// })??;
/// # Ok::<_, asyncio::Error>(())
/// ```
#[derive(Debug, Default)]
#[non_exhaustive]
pub enum Stdio {
    /// The parent's own stream (Python's `None`, the default).
    #[default]
    Inherit,
    /// A new pipe, read or written through the [`Process`]'s stream (`asyncio.subprocess.PIPE`).
    Pipe,
    /// `/dev/null` (`asyncio.subprocess.DEVNULL`).
    DevNull,
    /// For `stderr` only: wherever `stdout` goes (`asyncio.subprocess.STDOUT`).
    Stdout,
    /// This descriptor (Python's file object or fd); the child gets a copy, the parent's is
    /// closed once the child is started.
    Fd(OwnedFd),
}

/// Which of the three streams, for messages and for the direction of its pipe.
#[derive(Clone, Copy, PartialEq, Eq)]
enum Which {
    Stdin,
    Stdout,
    Stderr,
}

impl Which {
    fn name(self) -> &'static str {
        match self {
            Which::Stdin => "stdin",
            Which::Stdout => "stdout",
            Which::Stderr => "stderr",
        }
    }
}

/// One stream's two ends: what the child gets (`None`: inherit) and what the parent keeps
/// (`Some` for a pipe).
struct Ends {
    child: Option<OwnedFd>,
    parent: Option<OwnedFd>,
}

impl Ends {
    /// Opens what `stdio` asks for; `stdout_child` is the child's stdout, for `Stdio::Stdout`.
    fn open(stdio: Stdio, which: Which, stdout_child: Option<&OwnedFd>) -> Result<Ends, Error> {
        let child = |fd| {
            Ok(Ends {
                child: Some(fd),
                parent: None,
            })
        };
        match stdio {
            Stdio::Inherit => Ok(Ends {
                child: None,
                parent: None,
            }),
            Stdio::Pipe => {
                let (r, w) = os_pipe()?;
                Ok(match which {
                    Which::Stdin => Ends {
                        child: Some(r),
                        parent: Some(w),
                    },
                    Which::Stdout | Which::Stderr => Ends {
                        child: Some(w),
                        parent: Some(r),
                    },
                })
            }
            Stdio::DevNull => {
                let f = match which {
                    Which::Stdin => File::open("/dev/null")?,
                    _ => OpenOptions::new().write(true).open("/dev/null")?,
                };
                child(f.into())
            }
            Stdio::Fd(fd) => child(fd),
            Stdio::Stdout if which == Which::Stderr => match stdout_child {
                Some(fd) => child(fd.try_clone()?),
                None => child(io::stdout().as_fd().try_clone_to_owned()?),
            },
            Stdio::Stdout => Err(Error::invalid_argument(format!(
                "Stdio::Stdout is for stderr only, not {}",
                which.name()
            ))),
        }
    }

    fn child_stdio(&mut self) -> std::process::Stdio {
        match self.child.take() {
            Some(fd) => fd.into(),
            None => std::process::Stdio::inherit(),
        }
    }
}

/// Starts `program` with `args`, not through a shell (Python's
/// `asyncio.create_subprocess_exec(program, *args, …)`). Await the returned builder, after
/// setting any of its options, to get the [`Process`].
///
/// # Examples
///
/// ```
/// use asyncio::Stdio;
///
/// asyncio::run(async {
///     let proc = asyncio::create_subprocess_exec("echo", ["hello", "world"])
///         .stdout(Stdio::Pipe)
///         .await?;
///     let line = proc.stdout.as_ref().unwrap().readline().await?;
///     assert_eq!(line, b"hello world\n");
///     assert_eq!(proc.wait().await, 0);
///     Ok::<_, asyncio::Error>(())
/// })??;
/// # Ok::<_, asyncio::Error>(())
/// ```
pub fn create_subprocess_exec<I, S>(program: impl AsRef<OsStr>, args: I) -> CreateSubprocess
where
    I: IntoIterator<Item = S>,
    S: AsRef<OsStr>,
{
    let program = program.as_ref();
    let mut nul = has_nul(program);
    let mut cmd = Command::new(program);
    for arg in args {
        nul |= has_nul(arg.as_ref());
        cmd.arg(arg);
    }
    CreateSubprocess::new(cmd, nul)
}

/// Runs `cmd` through `/bin/sh -c` (Python's `asyncio.create_subprocess_shell(cmd, …)`). As in
/// Python, quoting anything that comes from outside is the caller's job.
///
/// # Examples
///
/// ```
/// asyncio::run(async {
///     let proc = asyncio::create_subprocess_shell("exit 3").await?;
///     assert_eq!(proc.wait().await, 3);
///     assert_eq!(proc.returncode(), Some(3));
///     Ok::<_, asyncio::Error>(())
/// })??;
/// # Ok::<_, asyncio::Error>(())
/// ```
pub fn create_subprocess_shell(cmd: impl AsRef<OsStr>) -> CreateSubprocess {
    let mut c = Command::new("/bin/sh");
    c.arg("-c").arg(cmd.as_ref());
    CreateSubprocess::new(c, has_nul(cmd.as_ref()))
}

/// The builder [`create_subprocess_exec`] and [`create_subprocess_shell`] return: Python's
/// keyword arguments as methods; await it to start the child.
///
/// # Cancel safety
/// If the awaited creation fails or is dropped (its task cancelled, a timeout) after the
/// child started, the child is killed (and reaped), as CPython kills it when the creation
/// fails: no child is left running that no [`Process`] can reach.
///
/// # Examples
///
/// ```
/// use asyncio::Stdio;
///
/// asyncio::run(async {
///     let proc = asyncio::create_subprocess_shell("pwd; echo $GREETING")
///         .cwd("/")
///         .env("GREETING", "hi")
///         .stdout(Stdio::Pipe)
///         .limit(1024)
///         .await?;
///     let (out, err) = proc.communicate(None).await?;
///     assert_eq!(out, b"/\nhi\n");
///     assert!(err.is_empty()); // stderr was not a pipe
///     Ok::<_, asyncio::Error>(())
/// })??;
/// # Ok::<_, asyncio::Error>(())
/// ```
#[must_use = "a subprocess builder does nothing until awaited"]
pub struct CreateSubprocess {
    cmd: Command,
    stdin: Stdio,
    stdout: Stdio,
    stderr: Stdio,
    limit: usize,
    watcher: ChildWatcher,
    /// `setsid()` in the child (`start_new_session`).
    new_session: bool,
    /// Python's `close_fds`: the child inherits only its standard streams and `pass_fds`.
    close_fds: bool,
    /// Python's `pass_fds`: descriptors the child keeps at the same numbers.
    pass_fds: Vec<RawFd>,
    /// Python's `process_group`: the group `setpgid` puts the child in. `None` (a negative
    /// number given, as Python's internal `-1`) leaves it in the parent's group.
    process_group: Option<i32>,
    /// The program, an argument or the working directory holds a NUL byte, which no C string
    /// can carry. Noted as they are given: `Command` keeps a placeholder in their place.
    nul: bool,
    /// [`env_clear`](Self::env_clear) was called: the child's `PATH` is only one set since
    /// (`Command` does not say so on stable Rust).
    env_cleared: bool,
}

/// Whether `s` holds a NUL byte.
fn has_nul(s: &OsStr) -> bool {
    s.as_bytes().contains(&0)
}

impl CreateSubprocess {
    fn new(cmd: Command, nul: bool) -> Self {
        CreateSubprocess {
            cmd,
            stdin: Stdio::Inherit,
            stdout: Stdio::Inherit,
            stderr: Stdio::Inherit,
            limit: DEFAULT_LIMIT,
            watcher: ChildWatcher::Auto,
            new_session: false,
            close_fds: true,
            pass_fds: Vec::new(),
            process_group: None,
            nul,
            env_cleared: false,
        }
    }

    /// The child's standard input (default [`Stdio::Inherit`]); [`Stdio::Pipe`] gives
    /// [`Process::stdin`].
    ///
    /// # Examples
    ///
    /// The pipes are fields of the [`Process`]: write to the child's stdin and read its
    /// answers as they come, then close stdin for its EOF.
    ///
    /// ```
    /// use asyncio::Stdio;
    ///
    /// asyncio::run(async {
    ///     let proc = asyncio::create_subprocess_exec("cat", [] as [&str; 0])
    ///         .stdin(Stdio::Pipe)
    ///         .stdout(Stdio::Pipe)
    ///         .await?;
    ///     let (stdin, stdout) = (proc.stdin.as_ref().unwrap(), proc.stdout.as_ref().unwrap());
    ///     for line in [&b"one\n"[..], b"two\n"] {
    ///         stdin.write(line)?;
    ///         stdin.drain().await?;
    ///         assert_eq!(stdout.readline().await?, line); // cat answers each line
    ///     }
    ///     stdin.close(); // EOF: cat exits
    ///     assert_eq!(proc.wait().await, 0);
    ///     Ok::<_, asyncio::Error>(())
    /// })??;
    /// # Ok::<_, asyncio::Error>(())
    /// ```
    pub fn stdin(mut self, stdio: Stdio) -> Self {
        self.stdin = stdio;
        self
    }

    /// The child's standard output (default [`Stdio::Inherit`]); [`Stdio::Pipe`] gives
    /// [`Process::stdout`].
    ///
    /// # Examples
    ///
    /// ```
    /// use asyncio::Stdio;
    ///
    /// asyncio::run(async {
    ///     let proc = asyncio::create_subprocess_exec("echo", ["out"])
    ///         .stdout(Stdio::Pipe)
    ///         .await?;
    ///     assert_eq!(proc.stdout.as_ref().unwrap().read(-1).await?, b"out\n");
    ///     assert_eq!(proc.wait().await, 0);
    ///     Ok::<_, asyncio::Error>(())
    /// })??;
    /// # Ok::<_, asyncio::Error>(())
    /// ```
    pub fn stdout(mut self, stdio: Stdio) -> Self {
        self.stdout = stdio;
        self
    }

    /// The child's standard error (default [`Stdio::Inherit`]); [`Stdio::Pipe`] gives
    /// [`Process::stderr`], [`Stdio::Stdout`] merges it into standard output.
    ///
    /// # Examples
    ///
    /// ```
    /// use asyncio::Stdio;
    ///
    /// asyncio::run(async {
    ///     let proc = asyncio::create_subprocess_shell("echo out; echo err >&2")
    ///         .stdout(Stdio::Pipe)
    ///         .stderr(Stdio::Pipe)
    ///         .await?;
    ///     assert_eq!(proc.communicate(None).await?, (b"out\n".to_vec(), b"err\n".to_vec()));
    ///     // Stdio::Stdout: both on one pipe, in the order written.
    ///     let merged = asyncio::create_subprocess_shell("echo out; echo err >&2")
    ///         .stdout(Stdio::Pipe)
    ///         .stderr(Stdio::Stdout)
    ///         .await?;
    ///     assert_eq!(merged.stdout.as_ref().unwrap().read(-1).await?, b"out\nerr\n");
    ///     assert_eq!(merged.wait().await, 0);
    ///     Ok::<_, asyncio::Error>(())
    /// })??;
    /// # Ok::<_, asyncio::Error>(())
    /// ```
    pub fn stderr(mut self, stdio: Stdio) -> Self {
        self.stderr = stdio;
        self
    }

    /// The limit of the stdout/stderr readers (default 64 KiB; Python's `limit=`): the
    /// longest line [`readline`](StreamReader::readline) accepts.
    ///
    /// # Examples
    ///
    /// ```
    /// use asyncio::Stdio;
    ///
    /// asyncio::run(async {
    ///     let proc = asyncio::create_subprocess_shell("printf '%0100d\\n' 0; echo short")
    ///         .stdout(Stdio::Pipe)
    ///         .limit(64)
    ///         .await?;
    ///     let stdout = proc.stdout.as_ref().unwrap();
    ///     let long = stdout.readline().await; // 100 digits: over the limit, discarded
    ///     assert!(matches!(long, Err(asyncio::Error::LimitOverrun { .. })));
    ///     assert_eq!(stdout.readline().await?, b"short\n"); // the reader carries on
    ///     assert_eq!(proc.wait().await, 0);
    ///     Ok::<_, asyncio::Error>(())
    /// })??;
    /// # Ok::<_, asyncio::Error>(())
    /// ```
    pub fn limit(mut self, limit: usize) -> Self {
        self.limit = limit;
        self
    }

    /// The child's working directory (Python's `cwd=`).
    ///
    /// # Examples
    ///
    /// ```
    /// use asyncio::Stdio;
    ///
    /// asyncio::run(async {
    ///     let proc = asyncio::create_subprocess_exec("pwd", [] as [&str; 0])
    ///         .cwd("/")
    ///         .stdout(Stdio::Pipe)
    ///         .await?;
    ///     assert_eq!(proc.stdout.as_ref().unwrap().read(-1).await?, b"/\n");
    ///     assert_eq!(proc.wait().await, 0);
    ///     Ok::<_, asyncio::Error>(())
    /// })??;
    /// # Ok::<_, asyncio::Error>(())
    /// ```
    pub fn cwd(mut self, dir: impl AsRef<Path>) -> Self {
        self.nul |= has_nul(dir.as_ref().as_os_str());
        self.cmd.current_dir(dir);
        self
    }

    /// Sets one environment variable for the child (Python's `env=`, one entry at a time). A
    /// name holding `=` makes the creation fail with `InvalidArgument`, as in Python.
    ///
    /// # Examples
    ///
    /// ```
    /// use asyncio::Stdio;
    ///
    /// asyncio::run(async {
    ///     let proc = asyncio::create_subprocess_shell("echo \"$GREETING\"")
    ///         .env("GREETING", "hello") // added to what the child inherits
    ///         .stdout(Stdio::Pipe)
    ///         .await?;
    ///     assert_eq!(proc.stdout.as_ref().unwrap().read(-1).await?, b"hello\n");
    ///     assert_eq!(proc.wait().await, 0);
    ///     // A name holding `=` is refused.
    ///     let bad = asyncio::create_subprocess_exec("true", [] as [&str; 0])
    ///         .env("A=B", "1")
    ///         .await;
    ///     assert!(matches!(bad, Err(asyncio::Error::InvalidArgument(_))));
    ///     Ok::<_, asyncio::Error>(())
    /// })??;
    /// # Ok::<_, asyncio::Error>(())
    /// ```
    pub fn env(mut self, key: impl AsRef<OsStr>, value: impl AsRef<OsStr>) -> Self {
        self.cmd.env(key, value);
        self
    }

    /// Starts the child with an empty environment, plus what [`env`](Self::env) adds.
    ///
    /// # Examples
    ///
    /// ```
    /// use asyncio::Stdio;
    ///
    /// asyncio::run(async {
    ///     let proc = asyncio::create_subprocess_exec("/usr/bin/env", [] as [&str; 0])
    ///         .env_clear()
    ///         .env("ONLY", "this")
    ///         .stdout(Stdio::Pipe)
    ///         .await?;
    ///     let (out, _) = proc.communicate(None).await?;
    ///     assert_eq!(out, b"ONLY=this\n"); // nothing of the parent's environment
    ///     Ok::<_, asyncio::Error>(())
    /// })??;
    /// # Ok::<_, asyncio::Error>(())
    /// ```
    pub fn env_clear(mut self) -> Self {
        self.cmd.env_clear();
        self.env_cleared = true;
        self
    }

    /// The `PATH` the child would search: set or removed for it, else the parent's;
    /// `None` when it has none.
    fn exec_path(&self) -> Option<std::ffi::OsString> {
        match self.cmd.get_envs().find(|(k, _)| *k == "PATH") {
            Some((_, v)) => v.map(OsStr::to_os_string),
            None if self.env_cleared => None,
            None => std::env::var_os("PATH"),
        }
    }

    /// Starts the child in a new session, as its leader (`setsid()` in the child; Python's
    /// `start_new_session=True`): it leaves the parent's process group and controlling
    /// terminal, so a Ctrl-C at the terminal no longer reaches it.
    ///
    /// # Examples
    ///
    /// ```
    /// asyncio::run(async {
    ///     let proc = asyncio::create_subprocess_shell("exit 8")
    ///         .start_new_session(true)
    ///         .await?;
    ///     assert_eq!(proc.wait().await, 8);
    ///     Ok::<_, asyncio::Error>(())
    /// })??;
    /// # Ok::<_, asyncio::Error>(())
    /// ```
    pub fn start_new_session(mut self, on: bool) -> Self {
        self.new_session = on;
        self
    }

    /// Puts the child in process group `pgid`, `0` meaning a new group led by the child
    /// (`setpgid` in the child; Python's `process_group=`). A negative `pgid` means no group
    /// is set, as in Python, whose default is `-1` underneath: the child stays in the
    /// parent's group, and an earlier call is undone. A group that does not exist (or is in
    /// another session) fails the start with `EPERM`, as does any group together with
    /// [`start_new_session(true)`](Self::start_new_session): as Python, the child starts its
    /// session first, and a session leader cannot change its group.
    ///
    /// # Examples
    ///
    /// ```
    /// use asyncio::Stdio;
    ///
    /// asyncio::run(async {
    ///     let code = "import os; print(os.getpgid(0) == os.getpid())";
    ///     let proc = asyncio::create_subprocess_exec("python3", ["-c", code])
    ///         .process_group(0)
    ///         .stdout(Stdio::Pipe)
    ///         .await?;
    ///     let (out, _) = proc.communicate(None).await?;
    ///     assert_eq!(out, b"True\n"); // the leader of its own group
    ///     Ok::<_, asyncio::Error>(())
    /// })??;
    /// # Ok::<_, asyncio::Error>(())
    /// ```
    pub fn process_group(mut self, pgid: i32) -> Self {
        self.process_group = (pgid >= 0).then_some(pgid);
        self
    }

    /// Whether the child inherits only its standard streams (and
    /// [`pass_fds`](Self::pass_fds)): Python's `close_fds=`, `true` by default as there. The
    /// crate's own descriptors are close-on-exec anyway; this is about those the process
    /// holds without that flag (inherited from its own parent, opened by C code): with
    /// `false` the child inherits them all. Finding them costs one `fcntl` per slot of the
    /// descriptor table at each start (about 0.1 ms for a table of 128, 20 ms at 18 000 open
    /// descriptors on a small VM); `false` skips it.
    ///
    /// # Examples
    ///
    /// ```
    /// use asyncio::Stdio;
    ///
    /// asyncio::run(async {
    ///     let proc = asyncio::create_subprocess_shell("ls /proc/self/fd")
    ///         .close_fds(true) // the default
    ///         .stdout(Stdio::Pipe)
    ///         .await?;
    ///     let (out, _) = proc.communicate(None).await?;
    ///     assert_eq!(out, b"0\n1\n2\n3\n"); // stdio, and the directory `ls` reads
    ///     Ok::<_, asyncio::Error>(())
    /// })??;
    /// # Ok::<_, asyncio::Error>(())
    /// ```
    pub fn close_fds(mut self, on: bool) -> Self {
        self.close_fds = on;
        self
    }

    /// Descriptors the child keeps open at the same numbers (Python's `pass_fds=`), made
    /// inheritable in the child only, whatever their close-on-exec flag here. As in Python,
    /// giving any implies [`close_fds(true)`](Self::close_fds) (with a warning logged when
    /// `close_fds(false)` was asked for, as Python warns). They must stay open until the
    /// creation is awaited.
    ///
    /// # Examples
    ///
    /// ```
    /// use std::os::fd::AsRawFd;
    ///
    /// asyncio::run(async {
    ///     let (r, w) = std::os::unix::net::UnixStream::pair()?;
    ///     let code = format!("import os; os.write({}, b'hello')", w.as_raw_fd());
    ///     let proc = asyncio::create_subprocess_exec("python3", ["-c", &code])
    ///         .pass_fds([w.as_raw_fd()])
    ///         .await?;
    ///     assert_eq!(proc.wait().await, 0);
    ///     drop(w); // the child's copy is closed too: EOF follows what it wrote
    ///     assert_eq!(std::io::read_to_string(r)?, "hello");
    ///     Ok::<_, asyncio::Error>(())
    /// })??;
    /// # Ok::<_, asyncio::Error>(())
    /// ```
    pub fn pass_fds(mut self, fds: impl IntoIterator<Item = RawFd>) -> Self {
        self.pass_fds.extend(fds);
        self
    }

    /// How the child's exit is learnt (default [`ChildWatcher::Auto`]): `Threaded` asks for
    /// a helper thread per child where a pidfd would be taken, `Pidfd` for a pidfd or an error.
    ///
    /// # Examples
    ///
    /// ```
    /// use asyncio::ChildWatcher;
    ///
    /// asyncio::run(async {
    ///     let proc = asyncio::create_subprocess_exec("true", [""; 0])
    ///         .child_watcher(ChildWatcher::Threaded)
    ///         .await?;
    ///     assert_eq!(proc.child_watcher(), ChildWatcher::Threaded);
    ///     assert_eq!(proc.wait().await, 0);
    ///     Ok::<_, asyncio::Error>(())
    /// })??;
    /// # Ok::<_, asyncio::Error>(())
    /// ```
    pub fn child_watcher(mut self, watcher: ChildWatcher) -> Self {
        self.watcher = watcher;
        self
    }

    async fn run(mut self) -> Result<Process, Error> {
        ReaderState::new(self.limit)?;
        let lp = crate::event_loop::get_running_loop()?;
        // Before anything is opened or started: a watcher that cannot work fails the creation
        // with no child ever run (CPython's `is_active()` check, in `_make_subprocess_transport`
        // before Popen runs, so before Popen's refusals of the arguments below).
        ChildWatch::check(&lp, self.watcher)?;
        // Popen's refusals, still before anything starts: a name with `=` (the OS would end
        // the name at the first `=`), a negative fd to keep, a NUL byte.
        if self
            .cmd
            .get_envs()
            .any(|(k, _)| k.as_bytes().contains(&b'='))
        {
            return Err(Error::invalid_argument("illegal environment variable name"));
        }
        if self.pass_fds.iter().any(|&fd| fd < 0) {
            return Err(Error::invalid_argument("bad value(s) in fds_to_keep"));
        }
        let env_nul = |(k, v): (&OsStr, Option<&OsStr>)| has_nul(k) || v.is_some_and(has_nul);
        if self.nul || self.cmd.get_envs().any(env_nul) {
            // Popen's ValueError: the OS would end the string at the NUL (std refuses it at
            // spawn as an `Io(InvalidInput)`; refused here, typed, before anything starts).
            return Err(Error::invalid_argument("embedded null byte"));
        }
        let cwd = self.cmd.get_current_dir();
        if self.cmd.get_program().is_empty() && cwd.is_none_or(Path::is_dir) {
            // A missing cwd fails first, in the child's chdir, as in CPython.
            let errno = empty_program_errno(self.exec_path().as_deref(), cwd);
            let e = io::Error::from_raw_os_error(errno);
            return Err(spawn_error(e, &self.cmd));
        }
        if !all_open(&self.pass_fds) {
            // Popen's OSError from the child, here before any pipe takes a free number.
            return Err(Error::Io(io::Error::from_raw_os_error(libc::EBADF)));
        }
        let mut stdin = Ends::open(self.stdin, Which::Stdin, None)?;
        let mut stdout = Ends::open(self.stdout, Which::Stdout, None)?;
        let mut stderr = Ends::open(self.stderr, Which::Stderr, stdout.child.as_ref())?;
        self.cmd
            .stdin(stdin.child_stdio())
            .stdout(stdout.child_stdio())
            .stderr(stderr.child_stdio());
        if self.new_session {
            // Its `setpgid` after the `setsid`, as Popen orders them (std's would come first).
            start_new_session(&mut self.cmd, self.process_group);
        } else if let Some(pgid) = self.process_group {
            self.cmd.process_group(pgid);
        }
        if !self.close_fds && !self.pass_fds.is_empty() {
            // Popen's `RuntimeWarning: pass_fds overriding close_fds.`, and its override.
            crate::event_loop::debug::warning!(
                "pass_fds given with close_fds(false): the child's other descriptors are \
                 closed anyway"
            );
            self.close_fds = true;
        }
        restore_signals(&mut self.cmd);
        set_child_fds(&mut self.cmd, self.close_fds, self.pass_fds);
        let child = self.cmd.spawn().map_err(|e| spawn_error(e, &self.cmd))?;
        let pid = child.id();
        drop(self.cmd); // closes the child's ends in the parent
        drop(child); // nothing else in it: the pipes are ours, reaping is the watch's
        let watch = ChildWatch::start(&lp, pid, self.watcher)?;
        // From here until the Process is handed out, an error or a cancellation (this future
        // dropped while a pipe is being connected) kills the child, as CPython closes the
        // transport: nobody could ever reach it otherwise. Declared first, dropped last.
        let guard = watch.kill_guard();
        let mut proc = Process {
            stdin: None,
            stdout: None,
            stderr: None,
            pid,
            watch,
            pipes: Vec::new(),
        };
        proc.connect_pipes(&lp, self.limit, stdin, stdout, stderr)
            .await?;
        guard.disarm();
        Ok(proc)
    }
}

/// A spawn that failed over a path names what it could not use, as Python's
/// `FileNotFoundError: [Errno 2] No such file or directory: 'prog'`: the working directory when
/// that is missing, else the program; the kind and errno are kept. Any other failure (the fork,
/// a descriptor, `setsid` or `setpgid` in the child: `EAGAIN`, `EMFILE`, `EPERM`…) says nothing
/// of the program and stays the bare OS error, as Python raises those without a file name
/// (when no working directory was given).
#[cold]
fn spawn_error(e: io::Error, cmd: &Command) -> Error {
    // std hands back the child's failure as its errno alone: the errno is what tells an exec
    // (or chdir) that could not use its path from a fork, dup2, setsid or setpgid that failed.
    // Python's `subprocess._execute_child` names the program for an exec that failed, whatever
    // its errno, and the cwd (None when not given) for any step before the exec: it cannot
    // tell chdir from setpgid either, and blames the cwd for both; we name nothing there. The
    // errnos below are those only exec and chdir give (EIO: an ELF interpreter too short to
    // read; ELIBBAD: one that is no ELF), never the child's other steps.
    let over_a_path = match e.raw_os_error() {
        Some(
            libc::ENOENT
            | libc::EACCES
            | libc::ENOEXEC
            | libc::ENOTDIR
            | libc::EISDIR
            | libc::ELOOP
            | libc::ENAMETOOLONG
            | libc::ETXTBSY
            | libc::E2BIG
            | libc::EIO,
        ) => true,
        #[cfg(any(target_os = "linux", target_os = "android"))]
        Some(libc::ELIBBAD) => true,
        _ => false,
    };
    if !over_a_path {
        return Error::Io(e);
    }
    let named = match cmd.get_current_dir() {
        Some(dir) if !dir.is_dir() => dir,
        _ => Path::new(cmd.get_program()),
    };
    let text = format!("{}: '{}'", strerror(&e), named.display());
    Error::Io(OsError::io(&e, text))
}

/// The errno CPython's own `PATH` search gives an empty program name: `_posixsubprocess` execs
/// `dir/` for each entry (`''` for an empty one) and keeps the first errno other than
/// `ENOENT`/`ENOTDIR`, else the last; a directory fails `EACCES`. std's exec ends in
/// `execvp("")`, which fails `ENOENT` at once. Each entry is looked up as that exec's path
/// resolution would (relative ones from the child's cwd), without starting anything: an exec
/// of a name ending in `/` can only fail. `path` `None`: CPython's `os.defpath`.
// CPython: `Lib/subprocess.py` `_execute_child`, `Modules/_posixsubprocess.c` `child_exec`.
#[cold]
fn empty_program_errno(path: Option<&OsStr>, cwd: Option<&Path>) -> i32 {
    let path = path.unwrap_or(OsStr::new("/bin:/usr/bin"));
    let mut last = libc::ENOENT;
    for dir in path.as_bytes().split(|&b| b == b':') {
        let dir = Path::new(OsStr::from_bytes(dir));
        let errno = if dir.as_os_str().is_empty() {
            libc::ENOENT // execve("")
        } else {
            match std::fs::metadata(cwd.map_or_else(|| dir.to_path_buf(), |c| c.join(dir))) {
                Ok(m) if m.is_dir() => libc::EACCES,
                Ok(_) => libc::ENOTDIR,
                Err(e) => e.raw_os_error().unwrap_or(libc::ENOENT),
            }
        };
        if errno != libc::ENOENT && errno != libc::ENOTDIR {
            return errno;
        }
        last = errno;
    }
    last
}

impl IntoFuture for CreateSubprocess {
    type Output = Result<Process, Error>;
    type IntoFuture = Pin<Box<dyn Future<Output = Self::Output>>>;

    /// # Errors
    /// `Error::Io` if the program cannot be started (`NotFound` when it or the working
    /// directory does not exist, `PermissionDenied` when it is not executable, as for an empty
    /// program name when `PATH` holds a directory, as Python's own `PATH` search; the text names
    /// which, `[Errno 2] No such file or directory: 'prog'`, and [`Error::raw_os_error`] gives
    /// the errno), or the start fails otherwise (a pipe, the fork, `setpgid` or `setsid` in the
    /// child: the bare OS error, `[Errno 1] Operation not permitted`, naming nothing);
    /// `InvalidArgument` for a zero limit, [`Stdio::Stdout`] given for stdin or stdout, an
    /// environment variable name with `=`, or a negative descriptor in
    /// [`pass_fds`](CreateSubprocess::pass_fds) (`EBADF` for one that is not open);
    /// `InvalidState` outside a running loop.
    fn into_future(self) -> Self::IntoFuture {
        Box::pin(self.run())
    }
}

/// A child process started by [`create_subprocess_exec`] or [`create_subprocess_shell`]
/// (Python's `asyncio.subprocess.Process`).
///
/// The streams are public fields, as Python's attributes are: `Some` for each
/// [`Stdio::Pipe`]. Being fields, they can be borrowed apart (read stdout while writing
/// stdin) or moved out with `Option::take` into other tasks; [`communicate`](Self::communicate)
/// uses whatever is still there. A stdout or stderr reader, dropped, closes its pipe (a
/// child still writing to it then gets `EPIPE` or `SIGPIPE`), as a dropped writer closes
/// stdin; CPython's protocol keeps reading a pipe whose reader the caller let go.
///
/// **Dropping a `Process`** neither kills nor waits for the child (as `std::process::Child`
/// and CPython's `Process` object): the pipes still held in its fields are closed, and the
/// child is reaped in the background when it exits, by the loop's pidfd registration or the
/// helper thread, so it does not linger as a zombie (if the loop is closed first, a thread
/// takes over the reaping). To stop it, call [`kill`](Self::kill) before dropping. (CPython
/// 3.11 kills a still-running child when its transport is garbage-collected, with a
/// `ResourceWarning`.)
///
/// # Examples
///
/// ```
/// use asyncio::Stdio;
///
/// asyncio::run(async {
///     let proc = asyncio::create_subprocess_exec("cat", [] as [&str; 0])
///         .stdin(Stdio::Pipe)
///         .stdout(Stdio::Pipe)
///         .await?;
///     let (out, _) = proc.communicate(Some(b"through cat")).await?;
///     assert_eq!(out, b"through cat");
///     assert_eq!(proc.returncode(), Some(0));
///     Ok::<_, asyncio::Error>(())
/// })??;
/// # Ok::<_, asyncio::Error>(())
/// ```
pub struct Process {
    /// The child's standard input, if it is [`Stdio::Pipe`].
    pub stdin: Option<StreamWriter>,
    /// The child's standard output, if it is [`Stdio::Pipe`].
    pub stdout: Option<StreamReader>,
    /// The child's standard error, if it is [`Stdio::Pipe`].
    pub stderr: Option<StreamReader>,
    pid: u32,
    /// Knows the returncode once the child is reaped; signals it until then.
    watch: ChildWatch,
    /// The stdout/stderr pipes' cores (even once moved out of the fields): once the child is
    /// reaped and each has seen `connection_lost`, CPython's transport is finished, and
    /// [`send_signal`](Self::send_signal) says `ESRCH`.
    pipes: Vec<Rc<RefCell<StreamCore>>>,
}

impl Process {
    /// The child's process id (Python's `pid`).
    ///
    /// # Examples
    ///
    /// ```
    /// asyncio::run(async {
    ///     let proc = asyncio::create_subprocess_shell("exit 0").await?;
    ///     assert!(proc.pid() > 0);
    ///     proc.wait().await;
    ///     Ok::<_, asyncio::Error>(())
    /// })??;
    /// # Ok::<_, asyncio::Error>(())
    /// ```
    pub fn pid(&self) -> u32 {
        self.pid
    }

    /// The exit status once the child has exited and been reaped, `None` before (Python's
    /// `returncode`). Killed by a signal, it is minus that signal's number.
    ///
    /// # Examples
    ///
    /// ```
    /// asyncio::run(async {
    ///     let proc = asyncio::create_subprocess_exec("sleep", ["60"]).await?;
    ///     assert_eq!(proc.returncode(), None);
    ///     proc.kill()?;
    ///     assert_eq!(proc.wait().await, -9);
    ///     assert_eq!(proc.returncode(), Some(-9));
    ///     Ok::<_, asyncio::Error>(())
    /// })??;
    /// # Ok::<_, asyncio::Error>(())
    /// ```
    pub fn returncode(&self) -> Option<i32> {
        self.watch.returncode()
    }

    /// Which watcher learns of this child's exit: [`ChildWatcher::Pidfd`] or
    /// [`ChildWatcher::Threaded`] (never `Auto`).
    ///
    /// # Examples
    ///
    /// ```
    /// use asyncio::ChildWatcher;
    ///
    /// asyncio::run(async {
    ///     let proc = asyncio::create_subprocess_shell("exit 0").await?;
    ///     assert_ne!(proc.child_watcher(), ChildWatcher::Auto);
    ///     proc.wait().await;
    ///     Ok::<_, asyncio::Error>(())
    /// })??;
    /// # Ok::<_, asyncio::Error>(())
    /// ```
    pub fn child_watcher(&self) -> ChildWatcher {
        self.watch.kind()
    }

    /// Waits for the child to exit, then returns the returncode (Python's `wait()`).
    ///
    /// It returns at the exit, as `subprocess.Popen.wait` does and asyncio's since CPython
    /// gh-119710: not only once the stdout and stderr pipes are closed too, as CPython 3.11
    /// to 3.14 do, where a grandchild that keeps a pipe open (a daemon started by a shell)
    /// makes `wait()` hang. What the child wrote stays in its pipe for the readers; to read
    /// everything and then wait, use [`communicate`](Self::communicate).
    ///
    /// # Cancel safety
    /// Dropping it loses nothing; it may be awaited again, by any number of tasks.
    ///
    /// # Examples
    ///
    /// ```
    /// asyncio::run(async {
    ///     let proc = asyncio::create_subprocess_shell("exit 7").await?;
    ///     assert_eq!(proc.wait().await, 7);
    ///     assert_eq!(proc.wait().await, 7); // and again
    ///     Ok::<_, asyncio::Error>(())
    /// })??;
    /// # Ok::<_, asyncio::Error>(())
    /// ```
    pub async fn wait(&self) -> i32 {
        // The registration leaves with this future if it is dropped mid-wait, so an abandoned
        // wait keeps no waker of its task (D12).
        let mut exit = Withdraw::new(|key| self.watch.withdraw(key));
        poll_fn(|cx| self.watch.poll_exit(&mut exit.key, cx)).await
    }

    /// Writes `input` (if any) to stdin and closes it, while reading stdout and stderr to
    /// their end, all at once; then waits for the child (Python's `communicate(input=None)`).
    /// Returns what was read: empty for a stream that is not a pipe (or was moved out).
    ///
    /// Feeding and draining run together, so a child that writes a lot before reading its
    /// input does not deadlock. A child that exits without reading all of `input` is no error
    /// (`BrokenPipe` and `ConnectionReset` on stdin are ignored, as in Python). A piped stdin
    /// is closed once `input` is written, and also with no `input` (Python 3.12+, gh-83925),
    /// so a child that reads its input to the end sees EOF.
    ///
    /// # Errors
    /// `InvalidArgument` if `input` is given but stdin is not a pipe; a read error of
    /// stdout/stderr, or a write error of stdin other than the two above (a drain timeout
    /// included). The first error ends `communicate` at once, as Python's `gather` raises it;
    /// output not yet read stays in its reader.
    ///
    /// # Cancel safety
    /// Not cancel safe: bytes already read are lost with the future, and `input` may be
    /// partly written.
    ///
    /// # Examples
    ///
    /// ```
    /// use asyncio::Stdio;
    ///
    /// asyncio::run(async {
    ///     let proc = asyncio::create_subprocess_shell("tr a-z A-Z; echo done >&2")
    ///         .stdin(Stdio::Pipe)
    ///         .stdout(Stdio::Pipe)
    ///         .stderr(Stdio::Pipe)
    ///         .await?;
    ///     let (out, err) = proc.communicate(Some(b"shout")).await?;
    ///     assert_eq!((out.as_slice(), err.as_slice()), (&b"SHOUT"[..], &b"done\n"[..]));
    ///     Ok::<_, asyncio::Error>(())
    /// })??;
    /// # Ok::<_, asyncio::Error>(())
    /// ```
    pub async fn communicate(&self, input: Option<&[u8]>) -> Result<(Vec<u8>, Vec<u8>), Error> {
        let feed = async {
            match (&self.stdin, input) {
                // 3.12+ (gh-83925): stdin is closed even with no input, as
                // `subprocess.Popen.communicate` does; a child reading to EOF would hang.
                (Some(stdin), input) => feed_stdin(stdin, input).await,
                (None, None) => Ok(()),
                (None, Some(_)) => Err(Error::invalid_argument(
                    "communicate(input) needs stdin=Stdio::Pipe",
                )),
            }
        };
        let out = read_all(self.stdout.as_ref());
        let err = read_all(self.stderr.as_ref());
        let ((), out, err) = try_join3(feed, out, err).await?;
        self.wait().await;
        Ok((out, err))
    }

    /// Sends signal `sig` to the child (Python's `send_signal(signal)`).
    ///
    /// The signal goes through a pidfd where the kernel has one, so it reaches the child and
    /// never another process. After the child has exited, even before the exit is noticed, it
    /// sends nothing (its pid may belong to another process by then) and, as in CPython,
    /// returns `Ok` while its stdout or stderr pipe is still open, and the `ESRCH` error
    /// (Python's `ProcessLookupError`) once they are closed too (CPython's transport is
    /// finished then).
    ///
    /// # Errors
    /// `Error::Io`: `ESRCH` as above, or `EINVAL` for an invalid signal number.
    ///
    /// # Examples
    ///
    /// ```
    /// asyncio::run(async {
    ///     let proc = asyncio::create_subprocess_exec("sleep", ["60"]).await?;
    ///     // A signal `sleep` neither handles nor ignores ends it. (Not SIGHUP: a signal the
    ///     // parent ignores, as under `nohup`, stays ignored in the child.)
    ///     proc.send_signal(libc::SIGUSR1)?;
    ///     assert_eq!(proc.wait().await, -libc::SIGUSR1); // minus the signal that ended it
    ///     Ok::<_, asyncio::Error>(())
    /// })??;
    /// # Ok::<_, asyncio::Error>(())
    /// ```
    pub fn send_signal(&self, sig: i32) -> Result<(), Error> {
        if self.watch.returncode().is_some() && self.pipes_closed() {
            return Err(io::Error::from_raw_os_error(libc::ESRCH).into());
        }
        self.watch.send_signal(sig)?;
        Ok(())
    }

    /// Sends `SIGTERM` (Python's `terminate()`); see [`send_signal`](Self::send_signal).
    ///
    /// # Errors
    /// As [`send_signal`](Self::send_signal).
    ///
    /// # Examples
    ///
    /// ```
    /// asyncio::run(async {
    ///     let proc = asyncio::create_subprocess_exec("sleep", ["60"]).await?;
    ///     proc.terminate()?;
    ///     assert_eq!(proc.wait().await, -15);
    ///     Ok::<_, asyncio::Error>(())
    /// })??;
    /// # Ok::<_, asyncio::Error>(())
    /// ```
    pub fn terminate(&self) -> Result<(), Error> {
        self.send_signal(libc::SIGTERM)
    }

    /// Sends `SIGKILL` (Python's `kill()`); see [`send_signal`](Self::send_signal).
    ///
    /// # Errors
    /// As [`send_signal`](Self::send_signal).
    ///
    /// # Examples
    ///
    /// ```
    /// asyncio::run(async {
    ///     let proc = asyncio::create_subprocess_exec("sleep", ["60"]).await?;
    ///     proc.kill()?;
    ///     assert_eq!(proc.wait().await, -9);
    ///     Ok::<_, asyncio::Error>(())
    /// })??;
    /// # Ok::<_, asyncio::Error>(())
    /// ```
    pub fn kill(&self) -> Result<(), Error> {
        self.send_signal(libc::SIGKILL)
    }

    /// Wraps the parent's pipe ends in streams.
    async fn connect_pipes(
        &mut self,
        lp: &crate::event_loop::LoopHandle,
        limit: usize,
        stdin: Ends,
        stdout: Ends,
        stderr: Ends,
    ) -> Result<(), Error> {
        if let Some(fd) = stdin.parent {
            let core = StreamCore::new(ReaderState::new(limit)?);
            let t = lp
                .connect_pipe_rc(fd, Direction::Write, core.clone())
                .await?;
            self.stdin = Some(StreamWriter::new(t, core));
        }
        for (ends, is_stderr) in [(stdout, false), (stderr, true)] {
            if let Some(fd) = ends.parent {
                let core = StreamCore::new(ReaderState::new(limit)?);
                // Its reader is its only handle: dropped (taken out of the field first, or
                // with this `Process`), it closes the pipe, so a child still writing gets
                // EPIPE instead of blocking on a pipe nobody reads and `wait` can return.
                core.borrow_mut().read_pipe(None);
                lp.connect_pipe_rc(fd, Direction::Read, core.clone())
                    .await?;
                self.pipes.push(core.clone());
                let reader = Some(StreamReader::from_core(core));
                if is_stderr {
                    self.stderr = reader;
                } else {
                    self.stdout = reader;
                }
            }
        }
        Ok(())
    }

    fn pipes_closed(&self) -> bool {
        self.pipes
            .iter()
            .all(|c| c.borrow().lost_outcome().is_some())
    }
}

impl Drop for Process {
    fn drop(&mut self) {
        if let Some(w) = &self.stdin {
            w.close();
        }
        for r in [&self.stdout, &self.stderr].into_iter().flatten() {
            let transport = r.core.borrow().reader.transport().cloned();
            if let Some(t) = transport {
                t.close();
            }
        }
    }
}

impl fmt::Debug for Process {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "<Process {}>", self.pid)
    }
}

/// `_feed_stdin`: write, drain, close; a child that stopped reading is no error.
async fn feed_stdin(stdin: &StreamWriter, input: Option<&[u8]>) -> Result<(), Error> {
    let sent = match input.map_or(Ok(()), |input| stdin.write(input)) {
        Ok(()) => stdin.drain().await,
        Err(e) => Err(e),
    };
    match sent {
        Err(Error::Io(e))
            if matches!(
                e.kind(),
                io::ErrorKind::BrokenPipe | io::ErrorKind::ConnectionReset
            ) =>
        {
            crate::event_loop::debug::debug_log!("communicate: stdin got {e}");
        }
        other => other?,
    }
    stdin.close();
    Ok(())
}

/// `_read_stream`: everything to EOF, or nothing when there is no pipe.
async fn read_all(reader: Option<&StreamReader>) -> Result<Vec<u8>, Error> {
    match reader {
        Some(r) => r.read(-1).await,
        None => Ok(Vec::new()),
    }
}

/// Polls three fallible futures together (`gather` without tasks: they borrow) until all
/// succeed, or until one fails: that error is the result at once, as `gather` raises the
/// first exception without waiting for the rest. Waiting for them could be for ever (a
/// child blocked on the input whose feeding failed never ends its output). The others are
/// dropped: a read loses nothing (our reads are cancel-safe), the feeding stops.
async fn try_join3<A, B, C>(a: A, b: B, c: C) -> Result<(A::Ok, B::Ok, C::Ok), Error>
where
    A: TryFuture,
    B: TryFuture,
    C: TryFuture,
{
    let (mut a, mut b, mut c) = (pin!(a), pin!(b), pin!(c));
    let (mut ra, mut rb, mut rc) = (None, None, None);
    poll_fn(|cx| {
        if ra.is_none() {
            if let Poll::Ready(v) = a.as_mut().poll(cx) {
                ra = Some(v?);
            }
        }
        if rb.is_none() {
            if let Poll::Ready(v) = b.as_mut().poll(cx) {
                rb = Some(v?);
            }
        }
        if rc.is_none() {
            if let Poll::Ready(v) = c.as_mut().poll(cx) {
                rc = Some(v?);
            }
        }
        match (ra.take(), rb.take(), rc.take()) {
            (Some(a), Some(b), Some(c)) => Poll::Ready(Ok((a, b, c))),
            (a, b, c) => {
                (ra, rb, rc) = (a, b, c);
                Poll::Pending
            }
        }
    })
    .await
}

/// A future of `Result<_, Error>`, named by its success type.
trait TryFuture: Future<Output = Result<Self::Ok, Error>> {
    type Ok;
}

impl<T, F: Future<Output = Result<T, Error>>> TryFuture for F {
    type Ok = T;
}
