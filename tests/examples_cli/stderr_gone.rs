//! Every example with its stderr gone (the reader of its pipe has left, as in
//! `example 2>&1 | head -0`): `eprintln!` panicked there (`failed printing to stderr`, exit
//! 101, the panic message itself lost), so a usage error or a runtime error ended with 101
//! instead of the 2 or 1 a script tests for. Now the line is dropped, as `say!` drops a line
//! for a gone stdout: nothing else changes, the exit status included.

use super::*;

/// `name args` run to its end with its stderr gone from the start (every write to it fails
/// with EPIPE; the child ignores SIGPIPE, as every Rust program does): its exit code and
/// what it printed on stdout.
fn run_with_stderr_gone(name: &str, args: &[&str]) -> (Option<i32>, String) {
    let (read, write) = util::os_pipe();
    drop(read);
    let mut child = spawn_example(name, args, Stdio::piped(), Stdio::from(write));
    let out = read_to_end(child.0.stdout.take().unwrap());
    let stdout = out
        .recv_timeout(BOUND)
        .unwrap_or_else(|_| panic!("{name} {args:?} did not finish within {BOUND:?}"));
    (child.0.wait().unwrap().code(), stdout)
}

/// A usage error (`Cli::fail`) with stderr gone still exits 2, not 101.
#[test]
fn a_usage_error_with_stderr_gone_exits_2() {
    for name in ["tcp_echo_client", "echo_server", "chat_server"] {
        let (code, stdout) = run_with_stderr_gone(name, &["--bogus"]);
        assert_eq!(code, Some(2), "{name}");
        assert_eq!(stdout, "", "{name}");
    }
}

/// A runtime error (`Cli::finish`: here the socket file does not exist) with stderr gone
/// still exits 1, not 101.
#[test]
fn a_runtime_error_with_stderr_gone_exits_1() {
    let dir = util::temp_dir("examples-cli-stderr-gone");
    let path = dir.join("nobody.sock");
    let (code, stdout) =
        run_with_stderr_gone("unix_echo_client", &["--unix", path.to_str().unwrap()]);
    assert_eq!(code, Some(1));
    assert_eq!(stdout, "");
}
