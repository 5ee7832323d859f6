//! Read a child's output line by line: the `get_date()` example of Python's asyncio
//! subprocess docs ("Subprocess and Threads" / "Examples"), ported line for line. The child is
//! Python printing the current date; `create_subprocess_exec` starts it without a shell, its
//! stdout is a pipe, and one line is read from it.
//!
//! Run: `cargo run --example subprocess_exec -- [--python python3]`. Prints
//! `Current date: 2026-12-04 18:20:56.123456`.

mod common;

use common::{Cli, Flag};

use asyncio::Stdio;

static CLI: Cli = Cli {
    name: "subprocess_exec",
    about: "Start Python with create_subprocess_exec (Python's subprocess docs example), read\n\
            the date it prints from its stdout, and print `Current date: …`.",
    args: &[],
    flags: &[Flag::value("python", "PROGRAM", "the Python to run").default("python3")],
};

async fn get_date(python: String) -> Result<String, asyncio::Error> {
    let code = "import datetime; print(datetime.datetime.now())";

    // Create the subprocess; redirect the standard output
    // into a pipe.
    let proc = asyncio::create_subprocess_exec(&python, ["-c", code])
        .stdout(Stdio::Pipe)
        .await?;

    // Read one line of output.
    let stdout = proc.stdout.as_ref().expect("stdout is a pipe");
    let data = stdout.readline().await?;
    let line = String::from_utf8_lossy(&data).trim_end().to_string();

    // Wait for the subprocess exit.
    proc.wait().await;
    Ok(line)
}

fn main() -> std::process::ExitCode {
    common::init_logging();
    let args = CLI.parse();
    let result = asyncio::run(async move {
        let date = get_date(args.get("python")).await?;
        common::say!("Current date: {date}");
        Ok::<_, asyncio::Error>(())
    });
    CLI.finish_run(result)
}
