//! 16 MiB through an echo with `drain` as the backpressure, both ways (S14–S16, S48–S52,
//! S67): every byte checked in order.

use super::*;

/// Size of the bulk transfers (case 4).
const BULK: usize = 16 << 20;

/// Sends `data` in `chunk`-sized writes, each followed by `drain`, then `write_eof`.
async fn send_all(writer: &StreamWriter, data: &[u8], chunk: usize) -> Result<(), Error> {
    for part in data.chunks(chunk) {
        writer.write(part)?;
        writer.drain().await?;
    }
    writer.write_eof()
}

/// Reads to EOF with `read_into`, checking every chunk against `want` as it arrives.
async fn receive_all(reader: StreamReader, want: Rc<Vec<u8>>) -> Result<usize, Error> {
    let mut buf = vec![0u8; 64 * 1024];
    let mut at = 0;
    loop {
        let n = reader.read_into(&mut buf).await?;
        if n == 0 {
            return Ok(at);
        }
        assert!(
            at + n <= want.len(),
            "echo longer than sent: {} bytes",
            at + n
        );
        if buf[..n] != want[at..at + n] {
            assert_same(
                &buf[..n],
                &want[at..at + n],
                &format!("echo at offset {at}"),
            );
        }
        at += n;
    }
}

/// Case 4a. S14–S16, S48–S52, S67: 16 MiB from our client through Python's echo server and
/// back. We write with `drain` while a spawned task reads, so neither side's buffers fill
/// for good; every byte is checked in order.
#[test]
fn s50_sixteen_mib_through_python_echo_server() {
    require_python!();
    run_bounded(async {
        let peer = Peer::spawn("echo_server", &["tcp"]);
        let port = peer.port().await;
        let (reader, writer) = asyncio::open_connection("127.0.0.1", port).await?;
        let data = Rc::new(pattern(BULK));
        let receiver = asyncio::spawn(receive_all(reader, data.clone()));
        send_all(&writer, &data, 100_000).await?;
        let got = receiver.await.expect("receiver not cancelled")?;
        assert_eq!(got, BULK, "bytes echoed");
        writer.close();
        writer.wait_closed().await?;
        peer.finish().await;
        Ok(())
    });
}

/// Case 4b. S14–S16, S48–S52, S67: Python's client sends 16 MiB (drain per 100 000 bytes)
/// while reading the echo concurrently; our echo handler's `drain` is the backpressure.
#[test]
fn s50_sixteen_mib_from_python_through_our_echo_server() {
    require_python!();
    run_bounded(async {
        let (server, port) = echo_server().await?;
        let peer = Peer::spawn("bulk_client", &[&format!("tcp:{port}"), &BULK.to_string()]);
        peer.finish().await;
        close_server(server).await;
        Ok(())
    });
}
