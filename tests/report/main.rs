//! Issue #14, point 1: failures are never silent. With no `log` backend installed, the loop's
//! default exception handler, the crate's warnings and the layer trace go to stderr, one line
//! per record (Python's logging "last resort"); with a backend, through `log` only. A logger
//! is process-wide, so each case runs in a child process (this binary re-executed) whose
//! stderr the parent reads.

#[path = "../util/mod.rs"]
mod util;

use std::sync::Mutex;
use std::time::Duration;

use asyncio::{Error, StreamReader, StreamWriter};

const CHILD: &str = "ASYNCIO_TEST_REPORT_CHILD";

/// Test `name` of the module whose `module_path!()` is `module`, as libtest names it for
/// `--exact`: the module path less this crate's name (`report::stderr` gives `stderr::name`).
fn test_path(module: &str, name: &str) -> String {
    match module.split_once("::") {
        Some((_, inner)) => format!("{inner}::{name}"),
        None => name.to_owned(),
    }
}

/// Runs test `name` of this binary in a child with `CHILD=mode`; returns its stdout and its
/// stderr, once it has succeeded and said that it ran.
fn child_output(name: &str, mode: &str, env: &[(&str, &str)]) -> (String, String) {
    let mut cmd = std::process::Command::new(std::env::current_exe().unwrap());
    cmd.args(["--exact", name, "--nocapture", "--test-threads=1"])
        .env(CHILD, mode);
    for (k, v) in env {
        cmd.env(k, v);
    }
    let out = cmd.output().unwrap();
    let stdout = String::from_utf8_lossy(&out.stdout).into_owned();
    assert!(
        out.status.success(),
        "child failed ({}): {stdout}",
        out.status
    );
    assert!(
        stdout.contains("report child: ok"),
        "child did not run: {stdout}"
    );
    (stdout, String::from_utf8_lossy(&out.stderr).into_owned())
}

/// Runs test `name` of this binary in a child with `CHILD=mode`; returns its stderr.
fn child_stderr(name: &str, mode: &str, env: &[(&str, &str)]) -> String {
    child_output(name, mode, env).1
}

/// A failing handler behind one connection, on a fresh loop; returns once it was reported
/// (the server closes the connection after reporting the failure).
fn fail_one_handler() {
    serve_one_connection(|_r: StreamReader, _w: StreamWriter| async {
        Err::<(), _>(Error::Timeout)
    });
}

/// Runs `body` on a fresh loop, bounded by 20 s; a failed or late run panics.
fn run_bounded(body: impl std::future::Future<Output = ()>) {
    asyncio::run(asyncio::timeout(Duration::from_secs(20), body))
        .unwrap()
        .unwrap();
}

/// On a fresh loop, bounded: serves `handler` on 127.0.0.1, connects once, reads until the
/// server closes the connection, then closes both.
fn serve_one_connection<M>(handler: impl asyncio::streams::ClientConnected<M>) {
    run_bounded(async move {
        let server = asyncio::start_server(handler, "127.0.0.1", 0)
            .await
            .unwrap();
        let port = server.sockets()[0].as_inet().unwrap().port();
        let (r, w) = asyncio::open_connection("127.0.0.1", port).await.unwrap();
        let _ = r.read(-1).await;
        w.close();
        let _ = w.wait_closed().await;
        server.close();
        server.wait_closed().await;
    });
}

mod default_handler;
mod panicking_formatters;
mod stderr;
mod writers;
