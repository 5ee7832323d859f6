//! A line-based chat server on streams and `asyncio::sync::Queue`: every line a client sends
//! goes to every other client, prefixed with the sender's address; joins and departures are
//! announced to the others. Each client has an outbox queue drained by its own writer task, so
//! one slow reader never holds up the rest (its outbox is bounded: when it is full, lines for
//! that client are dropped, a `QueueFull`).
//!
//! Run: `cargo run --example chat_server [-- --host H --port P]` (port 0 picks a free port;
//! the `Serving on …` line says which), then connect a few `nc 127.0.0.1 PORT`.
//!
//! What a client sees: `* you are ADDR` first, then `* ADDR joined`, `ADDR: text`, and
//! `* ADDR left` lines about the others.

mod common;

use std::cell::RefCell;
use std::rc::Rc;

use asyncio::sync::Queue;
use asyncio::{StreamReader, StreamWriter};
use common::{Cli, Flag};

static CLI: Cli = Cli {
    name: "chat_server",
    about:
        "A chat server: each line a client sends is broadcast to every other client; joins\n\
            and departures are announced. Prints `Serving on ADDR`, serves until SIGINT or SIGTERM.",
    args: &[],
    flags: &[
        Flag::value("host", "H", "the address to listen on").default("127.0.0.1"),
        Flag::value("port", "P", "the port to listen on; 0 lets the OS pick").default("8888"),
        Flag::value(
            "outbox",
            "N",
            "lines queued for a slow client before its lines are dropped",
        )
        .default("1000"),
    ],
};

/// What a writer task receives: a line to send, or `None`: stop.
type Outbox = Queue<Option<Rc<str>>>;

/// The connected clients, by id.
struct Chat {
    clients: RefCell<Vec<(u64, Rc<Outbox>)>>,
    next_id: std::cell::Cell<u64>,
    outbox_limit: usize,
}

impl Chat {
    fn join(&self) -> (u64, Rc<Outbox>) {
        let id = self.next_id.get();
        self.next_id.set(id + 1);
        let outbox = Rc::new(Queue::new(self.outbox_limit));
        self.clients.borrow_mut().push((id, outbox.clone()));
        (id, outbox)
    }

    fn leave(&self, id: u64) {
        self.clients.borrow_mut().retain(|(i, _)| *i != id);
    }

    /// Queues `line` for every client but `from`; a full outbox drops it.
    fn broadcast(&self, from: u64, line: &str) {
        let line: Rc<str> = Rc::from(line);
        for (id, outbox) in self.clients.borrow().iter() {
            if *id != from && outbox.put_nowait(Some(line.clone())).is_err() {
                common::say_err!("chat_server: client {id} is too slow, a line was dropped");
            }
        }
    }
}

async fn handle_client(chat: Rc<Chat>, reader: StreamReader, writer: StreamWriter) {
    let name = writer
        .peername()
        .and_then(|a| a.as_inet())
        .map(|a| a.to_string())
        .unwrap_or_else(|| "?".into());
    let (id, outbox) = chat.join();
    // The welcome goes first, so a client that has read it knows it is in the room.
    let _ = outbox.put_nowait(Some(format!("* you are {name}\n").into()));
    chat.broadcast(id, &format!("* {name} joined\n"));
    common::say!("{name} joined");

    let out = outbox.clone();
    let writer_task = asyncio::spawn(async move {
        while let Some(line) = out.get().await {
            if writer.write(line.as_bytes()).is_err() || writer.drain().await.is_err() {
                break;
            }
        }
        writer.close();
        let _ = writer.wait_closed().await;
    });

    loop {
        match reader.readline().await {
            Ok(line) if !line.is_empty() => {
                let text = String::from_utf8_lossy(&line);
                let text = text.trim_end_matches(['\r', '\n']);
                chat.broadcast(id, &format!("{name}: {text}\n"));
            }
            // EOF, a reset, or a line over the reader's limit: the client is gone.
            _ => break,
        }
    }

    chat.leave(id);
    chat.broadcast(id, &format!("* {name} left\n"));
    common::say!("{name} left");
    // Let the writer send what is queued, then stop. The outbox may be full: then stop now.
    if outbox.put_nowait(None).is_err() {
        writer_task.cancel();
    }
    let _ = writer_task.await;
}

async fn main_task(host: String, port: u16, outbox_limit: usize) -> Result<(), asyncio::Error> {
    let chat = Rc::new(Chat {
        clients: RefCell::new(Vec::new()),
        next_id: std::cell::Cell::new(0),
        outbox_limit,
    });
    let server =
        asyncio::start_server(move |r, w| handle_client(chat.clone(), r, w), &host, port).await?;

    let addrs: Vec<String> = server
        .sockets()
        .iter()
        .filter_map(|a| a.as_inet())
        .map(|a| common::py_addr(&a))
        .collect();
    common::say!("Serving on {}", addrs.join(", "));

    server
        .scope(|server| async move { server.serve_forever().await })
        .await
}

fn main() -> std::process::ExitCode {
    common::init_logging();
    let args = CLI.parse();
    let (host, port) = (args.get("host"), args.port("port"));
    let outbox = args.get_in("outbox", 1..=usize::MAX);
    // Ctrl-C or `kill`: the server closes, then exit 130 / 143.
    let result = common::run_until_signal(main_task(host, port, outbox));
    CLI.finish_served(result)
}
