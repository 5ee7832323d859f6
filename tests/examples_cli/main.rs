//! The example programs as command-line tools (issue #14, point 7), run as built by `cargo
//! test`: `--help` prints the usage on stdout and exits 0; an unknown flag, a missing or bad
//! value exits 2 with one line on stderr naming it; a runtime failure prints `NAME: error`
//! (Display, not Debug) and exits 1. And the ported Python docs examples, run against each
//! other, print exactly what the Python originals print.
//!
//! Every child runs on loopback (servers take `--port 0` or a Unix socket in a temp dir), and
//! every wait for its output is bounded: a child that hangs fails the test and is killed.

#[path = "../util/mod.rs"]
mod util;

use std::ffi::OsStr;
use std::io::{BufRead, BufReader, Read};
use std::process::{Child, ChildStdout, Command, Stdio};
use std::sync::mpsc;
use std::time::Duration;

use util::example_binary;

/// The longest a child may take to print what a test waits for.
const BOUND: Duration = Duration::from_secs(20);

/// Kills and reaps the child when the test ends, however it ends.
struct ChildGuard(Child);

impl Drop for ChildGuard {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

/// What a finished run printed, and its exit code.
struct Run {
    code: Option<i32>,
    stdout: String,
    stderr: String,
}

/// Reads `pipe` to its end on a thread; the text arrives on the returned channel.
fn read_to_end(mut pipe: impl Read + Send + 'static) -> mpsc::Receiver<String> {
    let (tx, rx) = mpsc::channel();
    std::thread::spawn(move || {
        let mut s = String::new();
        let _ = pipe.read_to_string(&mut s);
        let _ = tx.send(s);
    });
    rx
}

/// Example `name args` spawned without the trace variables, stdin empty, its stdout and stderr
/// as given.
fn spawn_example<S: AsRef<OsStr>>(
    name: &str,
    args: &[S],
    stdout: Stdio,
    stderr: Stdio,
) -> ChildGuard {
    ChildGuard(
        Command::new(example_binary(name))
            .args(args)
            .env_remove("ASYNCIO_TRACE")
            .env_remove("ASYNCIO_DEBUG")
            .stdin(Stdio::null())
            .stdout(stdout)
            .stderr(stderr)
            .spawn()
            .unwrap_or_else(|e| panic!("spawn {name}: {e}")),
    )
}

/// [`spawn_example`] with its stdout and stderr piped: the child, its stdout to read line by
/// line, and its stderr read to the end on a thread.
fn spawn_piped(
    name: &str,
    args: &[&str],
) -> (ChildGuard, BufReader<ChildStdout>, mpsc::Receiver<String>) {
    let mut child = spawn_example(name, args, Stdio::piped(), Stdio::piped());
    let out = BufReader::new(child.0.stdout.take().unwrap());
    let err = read_to_end(child.0.stderr.take().unwrap());
    (child, out, err)
}

/// The next line of `out`, its newline kept.
fn next_line(out: &mut impl BufRead) -> String {
    let mut line = String::new();
    out.read_line(&mut line).unwrap();
    line
}

/// SIGTERM to `child`.
fn sigterm(child: &ChildGuard) {
    // SAFETY: a signal to our own child, which is alive (not reaped yet).
    #[allow(unsafe_code)]
    let rc = unsafe { libc::kill(child.0.id() as libc::pid_t, libc::SIGTERM) };
    assert_eq!(rc, 0);
}

/// Runs example `name` with `args` (stdin empty) to its end, within [`BOUND`].
fn run<S: AsRef<OsStr> + std::fmt::Debug>(name: &str, args: &[S]) -> Run {
    run_with_stdout(name, args, Stdio::piped())
}

/// [`run`] with `stdout` as the child's stdout; `Run::stdout` is what it printed if that is
/// `Stdio::piped()`, else empty.
fn run_with_stdout<S: AsRef<OsStr> + std::fmt::Debug>(
    name: &str,
    args: &[S],
    stdout: Stdio,
) -> Run {
    let mut child = spawn_example(name, args, stdout, Stdio::piped());
    let out = match child.0.stdout.take() {
        Some(pipe) => read_to_end(pipe),
        None => read_to_end(std::io::empty()),
    };
    let err = read_to_end(child.0.stderr.take().unwrap());
    let bounded = |rx: mpsc::Receiver<String>| {
        rx.recv_timeout(BOUND)
            .unwrap_or_else(|_| panic!("{name} {args:?} did not finish within {BOUND:?}"))
    };
    let (stdout, stderr) = (bounded(out), bounded(err));
    let code = child.0.wait().unwrap().code();
    Run {
        code,
        stdout,
        stderr,
    }
}

/// A server example started with `args`, its stdout read line by line.
struct ServerChild {
    _child: ChildGuard,
    lines: mpsc::Receiver<String>,
}

impl ServerChild {
    fn start(name: &str, args: &[&str]) -> ServerChild {
        let mut child = ChildGuard(
            Command::new(example_binary(name))
                .args(args)
                .stdin(Stdio::null())
                .stdout(Stdio::piped())
                .stderr(Stdio::inherit())
                .spawn()
                .unwrap_or_else(|e| panic!("spawn {name}: {e}")),
        );
        let out = child.0.stdout.take().unwrap();
        let (tx, lines) = mpsc::channel();
        std::thread::spawn(move || {
            for line in BufReader::new(out).lines() {
                let Ok(line) = line else { break };
                if tx.send(line).is_err() {
                    break;
                }
            }
        });
        ServerChild {
            _child: child,
            lines,
        }
    }

    /// The next line the server prints, within [`BOUND`].
    fn line(&self) -> String {
        self.lines
            .recv_timeout(BOUND)
            .unwrap_or_else(|e| panic!("no line from the server: {e}"))
    }

    /// The port in the first line, Python's `Serving on ('127.0.0.1', PORT)`.
    fn serving_port(&self) -> String {
        let first = self.line();
        let port = first
            .strip_prefix("Serving on ('127.0.0.1', ")
            .and_then(|rest| rest.strip_suffix(')'))
            .unwrap_or_else(|| panic!("first line: {first:?}"));
        assert!(port.parse::<u16>().is_ok(), "first line: {first:?}");
        port.to_string()
    }
}

mod chat_server;
mod echo_server;
mod help_and_errors;
mod python_docs;
mod stderr_gone;
mod stdout_gone;
