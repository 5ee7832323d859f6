//! The loop inside someone else's loop: a plain `libc::poll` over stdin and the event loop's
//! descriptor drives an echo client. Each line typed is sent to the echo server and what comes
//! back is printed as `Received: LINE`; EOF on stdin closes the connection and exits.
//!
//! Run: `cargo run --example echo_server` in one terminal, then
//! `cargo run --example embed_in_poll -- [--host H] [--port P]` and type lines.
//!
//! The host loop blocks in `poll` whenever we have nothing to do: `EventLoop::next_timeout`
//! says how long it may sleep, and `as_raw_fd` becomes readable when the loop has I/O. With
//! `--count-idle` it prints how many host iterations an idle second took (a busy loop would
//! show thousands).

mod common;

use std::cell::RefCell;
use std::io::BufRead;
use std::rc::Rc;
use std::time::{Duration, Instant};

use asyncio::{EventLoop, StreamReader, StreamWriter};
use common::{Cli, Flag};

static CLI: Cli = Cli {
    name: "embed_in_poll",
    about: "The event loop inside a plain libc::poll loop: each line typed on stdin goes to the\n\
            echo server and comes back as `Received: LINE`; EOF on stdin closes and exits.",
    args: &[],
    flags: &[
        Flag::value("host", "H", "the echo server's host").default("127.0.0.1"),
        Flag::value("port", "P", "the echo server's port").default("8888"),
        Flag::switch(
            "count-idle",
            "first count the host loop's iterations in an idle second",
        ),
    ],
};

/// One `poll` over stdin (optional) and the loop's descriptor. Returns (stdin ready, loop fd ready).
fn host_poll(
    loop_fd: i32,
    watch_stdin: bool,
    timeout: Option<Duration>,
) -> std::io::Result<(bool, bool)> {
    let mut fds = [
        libc::pollfd {
            fd: loop_fd,
            events: libc::POLLIN,
            revents: 0,
        },
        libc::pollfd {
            fd: if watch_stdin { 0 } else { -1 },
            events: libc::POLLIN,
            revents: 0,
        },
    ];
    // Round up: a wait rounded down to 0 ms would spin until the deadline.
    let ms = timeout.map_or(-1, |d| {
        d.as_nanos().div_ceil(1_000_000).min(i32::MAX as u128) as i32
    });
    let n = poll(&mut fds, ms);
    if n < 0 {
        let e = std::io::Error::last_os_error();
        // A signal interrupted the wait: just go round again.
        if e.kind() == std::io::ErrorKind::Interrupted {
            return Ok((false, false));
        }
        return Err(e);
    }
    Ok((fds[1].revents != 0, fds[0].revents != 0))
}

fn poll(fds: &mut [libc::pollfd; 2], ms: i32) -> i32 {
    #[allow(unsafe_code)]
    // SAFETY: `fds` is a valid array of two initialised pollfd structs for the call's duration.
    unsafe {
        libc::poll(fds.as_mut_ptr(), 2, ms)
    }
}

fn main() -> std::process::ExitCode {
    common::init_logging();
    let args = CLI.parse();
    CLI.finish(run(
        args.get("host"),
        args.port("port"),
        args.is_set("count-idle"),
    ))
}

fn run(host: String, port: u16, count_idle: bool) -> Result<(), Box<dyn std::error::Error>> {
    let lp = EventLoop::new()?;
    let loop_fd = lp.as_raw_fd();
    let (reader, writer): (StreamReader, StreamWriter) =
        lp.run_until_complete(asyncio::open_connection(&host, port))??;
    let reader = Rc::new(reader);
    let lines: Rc<RefCell<Vec<String>>> = Rc::default();

    // A task that prints every echoed line as it arrives.
    let (r, out) = (reader.clone(), lines.clone());
    let printer = lp.spawn(async move {
        loop {
            match r.readline().await {
                Ok(line) if line.is_empty() => break, // EOF: the server closed
                Ok(line) => out
                    .borrow_mut()
                    .push(String::from_utf8_lossy(&line).trim_end().to_string()),
                Err(e) => {
                    common::say_err!("read failed: {e}");
                    break;
                }
            }
        }
    })?;

    if count_idle {
        let start = Instant::now();
        let mut iterations = 0u32;
        while start.elapsed() < Duration::from_secs(1) {
            let left = Duration::from_secs(1).saturating_sub(start.elapsed());
            let timeout = lp.next_timeout().map_or(left, |t| t.min(left));
            host_poll(loop_fd, false, Some(timeout))?;

            lp.run_once(Some(Duration::ZERO))?;
            iterations += 1;
        }
        common::say!("idle second: {iterations} host iterations");
    }

    let stdin = std::io::stdin();
    let mut stdin_open = true;
    while stdin_open || !printer.is_done() {
        let (stdin_ready, _) = host_poll(loop_fd, stdin_open, lp.next_timeout())?;
        if stdin_ready {
            let mut line = String::new();
            if stdin.lock().read_line(&mut line)? == 0 {
                // EOF on stdin: half-close; the server closes after echoing the rest.
                stdin_open = false;
                writer.write_eof()?;
            } else {
                writer.write(line.as_bytes())?;
            }
        }
        lp.run_once(Some(Duration::ZERO))?;
        for l in lines.borrow_mut().drain(..) {
            use std::io::Write;
            // stdout closed (e.g. piped into `head`): stop quietly.
            if writeln!(std::io::stdout(), "Received: {l}").is_err() {
                return Ok(());
            }
        }
    }
    writer.close();
    lp.run_until_complete(writer.wait_closed())??;
    Ok(())
}
