//! Echo both ways, over TCP and Unix sockets: our server serving Python's clients (one, then
//! fifty at once), our client against Python's server (S1, S3, S5, S58, S71).

use super::*;

/// `lines()` in `PEER`.
fn lines() -> Vec<Vec<u8>> {
    (0..200)
        .map(|i| format!("line {i} {}\n", "x".repeat(i * 37 % 500)).into_bytes())
        .collect()
}

/// Our side of an echo exchange with Python's `echo` handler: lines one at a time, then
/// pipelined, then EOF both ways (S24, S27, S43, S63) and a clean close (S45, S46).
async fn echo_exchange(reader: StreamReader, writer: StreamWriter) -> Result<(), Error> {
    let want = lines();
    for line in &want[..100] {
        writer.write(line)?;
        writer.drain().await?;
        assert_same(&reader.readline().await?, line, "echoed line");
    }
    let rest: Vec<&[u8]> = want[100..].iter().map(Vec::as_slice).collect();
    writer.writelines(&rest)?;
    writer.drain().await?;
    for line in &want[100..] {
        assert_same(&reader.readline().await?, line, "pipelined echo");
    }
    writer.write_eof()?;
    assert_eq!(reader.read(-1).await?, b"", "python closes after our EOF");
    assert!(reader.at_eof());
    writer.close();
    writer.wait_closed().await
}

/// Case 1. S4, S58, S59, S62, S63, S75: our `start_server` with the looping echo handler
/// serves Python's `open_connection`: line by line, pipelined, then Python's `write_eof` ends
/// our read loop and our `close` reaches Python as EOF.
#[test]
fn s58_our_echo_server_serves_python_client() {
    require_python!();
    run_bounded(async {
        let (server, port) = echo_server().await?;
        let peer = Peer::spawn("echo_client", &[&format!("tcp:{port}")]);
        peer.finish().await;
        close_server(server).await;
        Ok(())
    });
}

/// Case 1b. S58, S71, S74, S75: 50 Python clients connect at once (below the backlog of 100,
/// S10) and each gets its own echo; every connection is tracked until it ends.
#[test]
fn s71_our_echo_server_serves_fifty_python_clients_at_once() {
    require_python!();
    run_bounded(async {
        let (server, port) = echo_server().await?;
        let peer = Peer::spawn("many_clients", &[&format!("tcp:{port}"), "50"]);
        peer.finish().await;
        close_server(server).await;
        Ok(())
    });
}

/// Case 2. S1, S24, S27, S43, S47, S63: our `open_connection` against Python's `start_server`
/// echo; Python closes once it reads our EOF.
#[test]
fn s1_our_client_against_python_echo_server() {
    require_python!();
    run_bounded(async {
        let peer = Peer::spawn("echo_server", &["tcp"]);
        let port = peer.port().await;
        let (reader, writer) = asyncio::open_connection("127.0.0.1", port).await?;
        let peername = writer.peername().and_then(|a| a.as_inet());
        assert_eq!(peername.map(|a| a.port()), Some(port), "S47 peername");
        echo_exchange(reader, writer).await?;
        peer.finish().await;
        Ok(())
    });
}

/// Case 5a. S3, S27, S63: our `open_unix_connection` against Python's `start_unix_server`.
#[test]
fn s3_our_unix_client_against_python_unix_server() {
    require_python!();
    run_bounded(async {
        let dir = temp_dir("interop-py-unix");
        let path = dir.join("py.sock");
        let spec = format!("unix:{}", path.display());
        let peer = Peer::spawn("echo_server", &[&spec]);
        let at = peer.listening().await;
        assert_eq!(at, path.display().to_string());
        let (reader, writer) = asyncio::open_unix_connection(&path).await?;
        echo_exchange(reader, writer).await?;
        peer.finish().await;
        let _ = std::fs::remove_dir_all(&dir);
        Ok(())
    });
}

/// Case 5b. S5, S58, S63, S75: our `start_unix_server` serves Python's
/// `open_unix_connection`; closing the server removes its socket file (3.13, S5).
#[test]
fn s5_our_unix_server_serves_python_client() {
    require_python!();
    run_bounded(async {
        let dir = temp_dir("interop-rs-unix");
        let path = dir.join("rs.sock");
        let server = asyncio::start_unix_server(echo, &path).await?;
        let peer = Peer::spawn("echo_client", &[&format!("unix:{}", path.display())]);
        peer.finish().await;
        close_server(server).await;
        assert!(!path.exists(), "S5: the socket file outlived close()");
        let _ = std::fs::remove_dir_all(&dir);
        Ok(())
    });
}
