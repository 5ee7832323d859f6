//! Run a shell command and capture its output: the first example of Python's asyncio
//! subprocess docs ("Subprocesses", the `run(cmd)` coroutine), ported line for line.
//!
//! Run: `cargo run --example subprocess_shell -- ['ls /zzz']`. Prints
//! `['ls /zzz' exited with 2]` (GNU ls; 1 on BSD), then `[stderr]` and ls's complaint; a
//! command that prints to stdout gets a `[stdout]` section too.

mod common;

use common::{Arg, Cli};

use asyncio::Stdio;

static CLI: Cli = Cli {
    name: "subprocess_shell",
    about: "Run CMD through the shell with create_subprocess_shell (Python's subprocess docs\n\
            example), then print its exit status, stdout and stderr.",
    args: &[Arg::new("CMD", "the shell command to run").default("ls /zzz")],
    flags: &[],
};

async fn run(cmd: String) -> Result<(), asyncio::Error> {
    let proc = asyncio::create_subprocess_shell(&cmd)
        .stdout(Stdio::Pipe)
        .stderr(Stdio::Pipe)
        .await?;

    let (stdout, stderr) = proc.communicate(None).await?;

    // `returncode` is set once communicate() has waited for the child.
    let returncode = proc.returncode().unwrap_or_default();
    common::say!("[{} exited with {returncode}]", common::py_repr(&cmd));
    if !stdout.is_empty() {
        common::say!("[stdout]\n{}", String::from_utf8_lossy(&stdout));
    }
    if !stderr.is_empty() {
        common::say!("[stderr]\n{}", String::from_utf8_lossy(&stderr));
    }
    Ok(())
}

fn main() -> std::process::ExitCode {
    common::init_logging();
    let args = CLI.parse();
    CLI.finish_run(asyncio::run(run(args.get("CMD"))))
}
