//! A real HAProxy in front of our server (`send-proxy`, `send-proxy-v2`), when the binary is
//! installed.

use super::*;

/// A real HAProxy in front of our server: `send-proxy-v2` (with CRC32C and a unique id) on
/// one frontend, `send-proxy` on another. The frontends' listening sockets are ours, bound to
/// port 0 and inherited by haproxy (`bind fd@N`), so there is no port race and no waiting for
/// haproxy to be up: a connection waits in the backlog until it accepts.
#[test]
fn through_a_real_haproxy() {
    use std::os::fd::AsRawFd;
    use std::process::{Command as Process, Stdio};
    let found = std::env::var_os("PATH")
        .map(|p| std::env::split_paths(&p).any(|d| d.join("haproxy").is_file()))
        .unwrap_or(false);
    if !found {
        println!(
            "SKIPPED through_a_real_haproxy: no haproxy binary on PATH (apt-get install haproxy)"
        );
        return;
    }
    let v2_front = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let v1_front = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    for l in [&v2_front, &v1_front] {
        socket2::SockRef::from(l).set_cloexec(false).unwrap();
    }
    let log = Log::default();
    let log2 = log.clone();
    let dir = util::temp_dir("proxy-haproxy");
    let cfg = dir.join("haproxy.cfg");
    asyncio::run(async move {
        let (server, port) = proxy_server(ProxyProtocol::Required, &log2).await?;
        let config = format!(
            "defaults\n  mode tcp\n  timeout connect 5s\n  timeout client 10s\n  timeout server 10s\n\
             frontend v2\n  bind fd@{v2fd}\n  unique-id-format id-%rt\n  default_backend be_v2\n\
             backend be_v2\n  server s 127.0.0.1:{port} send-proxy-v2 proxy-v2-options crc32c,unique-id\n\
             frontend v1\n  bind fd@{v1fd}\n  default_backend be_v1\n\
             backend be_v1\n  server s 127.0.0.1:{port} send-proxy\n",
            v2fd = v2_front.as_raw_fd(),
            v1fd = v1_front.as_raw_fd(),
        );
        std::fs::write(&cfg, config)?;
        let mut child = Process::new("haproxy")
            .arg("-db")
            .arg("-f")
            .arg(&cfg)
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .spawn()?;
        let mut results = Vec::new();
        for front in [&v2_front, &v1_front] {
            let fport = front.local_addr()?.port();
            let got = asyncio::timeout(Duration::from_secs(10), async {
                let (reader, writer) = asyncio::open_connection("127.0.0.1", fport).await?;
                let me = writer.sockname().unwrap().to_string();
                writer.write(b"through haproxy")?;
                Ok::<_, asyncio::Error>((me, reader.read(-1).await?))
            })
            .await;
            results.push(got);
        }
        let _ = child.kill();
        let _ = child.wait();
        server.close();
        let seen = log2.borrow().clone();
        for (i, r) in results.into_iter().enumerate() {
            let (me, answer) = r.expect("bounded").expect("through haproxy");
            assert_eq!(answer, b"ok");
            assert_eq!(seen[i].peer, me, "the client's own address, from the header");
            assert_eq!(seen[i].data, b"through haproxy");
            assert!(seen[i].proxy_peer.is_some());
        }
        assert_eq!(seen[0].sock, v2_front.local_addr()?.to_string());
        let h2 = seen[0].header.clone().unwrap();
        assert_eq!((h2.version, h2.command), (Version::V2, Command::Proxy));
        assert!(h2.crc32c().is_some(), "{h2:?}");
        assert!(h2.unique_id().is_some_and(|id| id.starts_with(b"id-")), "{h2:?}");
        assert_eq!(seen[1].header.as_ref().unwrap().version, Version::V1);
        Ok::<_, Box<dyn std::error::Error>>(())
    })
    .unwrap()
    .unwrap();
    let _ = std::fs::remove_dir_all(dir);
}
