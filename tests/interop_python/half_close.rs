//! Half-close both ways (S42, S44, S45, S63): Python writes and half-closes, our handler
//! answers; we write and half-close, Python answers.

use super::*;

/// `response(req)` in `PEER`: a header, then the request reversed.
fn response(req: &[u8]) -> Vec<u8> {
    let mut v = format!("got {} bytes\n", req.len()).into_bytes();
    v.extend(req.iter().rev());
    v
}

/// Case 3a. S25, S44, S45, S63: Python writes, half-closes with `write_eof`, then reads to
/// EOF. Our handler reads to EOF with `read(-1)`, still writes (a peer EOF does not close the
/// transport, S63), and `close` flushes the whole response before the FIN (S45).
#[test]
fn s63_python_half_closes_then_our_handler_answers() {
    require_python!();
    const SIZE: usize = 300_000;
    run_bounded(async {
        let seen = Log::default();
        let log = seen.clone();
        let handler = move |reader: StreamReader, writer: StreamWriter| {
            let log = log.clone();
            async move {
                let req = reader.read(-1).await?;
                log.push(if req == pattern(SIZE) {
                    "request intact".to_string()
                } else {
                    format!("request of {} bytes differs", req.len())
                });
                log.push(format!("at_eof {}", reader.at_eof()));
                // No drain: close() itself must flush the ~300 kB still buffered (S45).
                writer.write(&response(&req))?;
                writer.close();
                writer.wait_closed().await
            }
        };
        let server = asyncio::start_server(handler, "127.0.0.1", 0).await?;
        let port = server.sockets()[0].as_inet().expect("TCP").port();
        let peer = Peer::spawn(
            "half_close_client",
            &[&format!("tcp:{port}"), &SIZE.to_string()],
        );
        peer.finish().await;
        close_server(server).await;
        assert_eq!(seen.get(), ["request intact", "at_eof true"]);
        Ok(())
    });
}

/// Case 3b. S42, S44, S63: we write and `write_eof` at once, so the FIN waits behind a full
/// buffer, then read Python's response to EOF; `write` after `write_eof` is refused.
#[test]
fn s44_we_half_close_then_python_answers() {
    require_python!();
    const SIZE: usize = 300_000;
    run_bounded(async {
        let peer = Peer::spawn("half_close_server", &["tcp", &SIZE.to_string()]);
        let port = peer.port().await;
        let (reader, writer) = asyncio::open_connection("127.0.0.1", port).await?;
        let req = pattern(SIZE);
        writer.write(&req)?;
        assert!(writer.can_write_eof(), "S44: TCP can write EOF");
        // No drain first: most of the request is still buffered, and the FIN must follow it
        // (S44). drain() after write_eof still waits for the buffer to go down.
        writer.write_eof()?;
        writer.drain().await?;
        assert!(
            matches!(writer.write(b"late"), Err(Error::InvalidState(_))),
            "S42: write after write_eof"
        );
        let resp = reader.read(-1).await?;
        assert_same(&resp, &response(&req), "response");
        assert!(reader.at_eof());
        writer.close();
        writer.wait_closed().await?;
        peer.finish().await;
        Ok(())
    });
}
