//! Unix datagram endpoints on paths and abstract names: the echo, an empty path, a path with a
//! NUL inside, a failed bind or connect naming its path, and `sockname` outliving the socket.

use super::*;

/// Unix datagram endpoints on paths: a server bound to a path, a client bound and connected;
/// the stale socket file a dead server left is removed before the bind (CPython
/// `test_create_datagram_endpoint_existing_sock_unix`-like behaviour of the `AF_UNIX` branch).
#[test]
fn unix_path_endpoints_echo() {
    run_clean(async {
        let dir = util::temp_dir("dgram");
        let server_path = dir.join("server.sock");
        let client_path = dir.join("client.sock");
        drop(UnixDatagram::bind(&server_path)?); // a stale socket file
        let lp = asyncio::get_running_loop()?;
        let (server, sp) = lp
            .create_datagram_endpoint(Rec::echo)
            .local_path(&server_path)
            .await?;
        let (client, cp) = lp
            .create_datagram_endpoint(Rec::default)
            .local_path(&client_path)
            .remote_path(&server_path)
            .await?;
        client.sendto(b"over unix", None)?;
        until(&cp, |r| !r.got.is_empty()).await;
        assert_eq!(cp.borrow().got[0].0, b"over unix");
        let from = sp.borrow().got[0].1.clone();
        assert!(matches!(&from, Address::Unix(a) if a.as_pathname() == Some(&client_path)));
        let elsewhere = Address::Unix(std::os::unix::net::SocketAddr::from_pathname(
            dir.join("other"),
        )?);
        assert_eq!(
            client
                .sendto(b"x", Some(&elsewhere))
                .unwrap_err()
                .to_string(),
            format!("Invalid address: must be None or {}", server_path.display())
        );
        client.close();
        server.close();
        until(&sp, Rec::lost).await;
        until(&cp, Rec::lost).await;
        Ok(())
    });
}

/// Abstract Unix names (Linux; CPython takes them as `str`/`bytes` starting with a NUL): an
/// endpoint bound to one, a client connected to one with `remote_path`, and a reply from the
/// server to the client's abstract name.
#[cfg(target_os = "linux")]
#[test]
fn abstract_unix_names_as_local_remote_and_reply_addresses() {
    use std::os::linux::net::SocketAddrExt;
    run_clean(async {
        let tag = format!("asyncio-dgram-test-{}", std::process::id());
        let server_name = format!("\0{tag}-server");
        let lp = asyncio::get_running_loop()?;
        let (server, sp) = lp
            .create_datagram_endpoint(Rec::echo)
            .local_path(&server_name)
            .await?;
        let (client, cp) = lp
            .create_datagram_endpoint(Rec::default)
            .local_path(format!("\0{tag}-client"))
            .remote_path(&server_name)
            .await?;
        client.sendto(b"abstract", None)?;
        until(&cp, |r| !r.got.is_empty()).await;
        assert_eq!(cp.borrow().got[0].0, b"abstract");
        let from = sp.borrow().got[0].1.clone();
        let client_name = format!("{tag}-client");
        assert!(
            matches!(&from, Address::Unix(a) if a.as_abstract_name() == Some(client_name.as_bytes()))
        );
        // The same abstract name is the remote address; another is refused.
        let same = std::os::unix::net::SocketAddr::from_abstract_name(format!("{tag}-server"))?;
        client.sendto(b"again", Some(&Address::Unix(same)))?;
        until(&cp, |r| r.got.len() == 2).await;
        let other = std::os::unix::net::SocketAddr::from_abstract_name(format!("{tag}-other"))?;
        assert!(client.sendto(b"x", Some(&Address::Unix(other))).is_err());
        client.close();
        server.close();
        until(&sp, Rec::lost).await;
        until(&cp, Rec::lost).await;
        Ok(())
    });
}

/// An empty path is no address (Python's `local_addr=''` / `remote_addr=''` are falsy in
/// `create_datagram_endpoint`): the socket is neither bound (Linux would autobind an abstract
/// name) nor connected.
#[test]
fn an_empty_unix_path_is_no_address() {
    run_clean(async {
        let lp = asyncio::get_running_loop()?;
        let (t, _p) = lp
            .create_datagram_endpoint(Rec::default)
            .local_path("")
            .remote_path("")
            .await?;
        match t.sockname() {
            Some(Address::Unix(a)) => assert!(a.is_unnamed(), "bound to {a:?}"),
            other => panic!("a Unix endpoint, got {other:?}"),
        }
        assert!(t.peername().is_none(), "not connected");
        t.close();
        Ok(())
    });
}

/// A Unix path with a NUL inside is refused, as the stream side refuses it (L112): the kernel
/// reads a path up to its first NUL, so the endpoint was bound to the shorter path (after an
/// ERROR log from the stale-socket check, which could not look at the whole one), and a
/// remote path was connected to the shorter one before the address check failed.
#[test]
fn a_unix_path_with_an_interior_nul_is_refused_not_cut_short() {
    run_clean(async {
        let dir = util::temp_dir("dgram-nul");
        let short = dir.join("s");
        let mut long = short.clone().into_os_string();
        long.push("\0tail");
        let lp = asyncio::get_running_loop()?;
        let local = lp
            .create_datagram_endpoint(Rec::default)
            .local_path(&long)
            .await;
        assert!(
            matches!(&local, Err(Error::InvalidArgument(m)) if m == "embedded null byte"),
            "bound to {:?}",
            local.map(|(t, _)| t.sockname())
        );
        assert!(!short.exists(), "nothing was bound at the shorter path");
        let receiver = UnixDatagram::bind(&short)?;
        receiver.set_nonblocking(true)?;
        let remote = lp
            .create_datagram_endpoint(Rec::default)
            .remote_path(&long)
            .await;
        assert!(
            matches!(&remote, Err(Error::InvalidArgument(m)) if m == "embedded null byte"),
            "connected to {:?}",
            remote.map(|(t, _)| t.peername())
        );
        Ok(())
    });
}

/// `sockname()` (`get_extra_info("sockname")`) still answers once the transport is closed
/// and its socket gone, as CPython's `_extra['sockname']` does: an inet and a Unix path.
#[test]
fn sockname_outlives_the_socket() {
    run_clean(async {
        let dir = util::temp_dir("dgram-sockname");
        let path = dir.join("s.sock");
        let (inet, ip) = local_endpoint().await?;
        let lp = asyncio::get_running_loop()?;
        let (unix, up) = lp
            .create_datagram_endpoint(Rec::default)
            .local_path(&path)
            .await?;
        let port = port_of(&inet);
        inet.close();
        unix.abort();
        until(&ip, Rec::lost).await;
        until(&up, Rec::lost).await;
        assert!(
            inet.get_extra_info("socket").is_none(),
            "the socket is gone"
        );
        assert_eq!(port_of(&inet), port);
        match inet.get_extra_info("sockname") {
            Some(asyncio::ExtraInfo::Address(Address::Inet(a))) => assert_eq!(a.port(), port),
            other => panic!("{other:?}"),
        }
        match unix.sockname() {
            Some(Address::Unix(a)) => assert_eq!(a.as_pathname(), Some(path.as_path())),
            other => panic!("{other:?}"),
        }
        Ok(())
    });
}

/// A failed bind or connect of a Unix datagram endpoint names its path, errno kept, as the
/// stream side's `open_unix_connection` does (`[Errno 2] No such file or directory:
/// '<path>'`). It used to say only `No such file or directory (os error 2)`.
#[test]
fn a_failed_unix_bind_or_connect_names_its_path_errno_kept() {
    run_clean(async {
        let dir = util::temp_dir("dgram-enoent");
        let lp = asyncio::get_running_loop()?;
        // A directory that does not exist: the bind fails with ENOENT.
        let local = dir.join("missing").join("s");
        let bound = lp
            .create_datagram_endpoint(Rec::default)
            .local_path(&local)
            .await;
        // Nothing bound there: the connect fails with ENOENT too.
        let remote = dir.join("nobody");
        let connected = lp
            .create_datagram_endpoint(Rec::default)
            .remote_path(&remote)
            .await;
        for (r, path) in [(bound, &local), (connected, &remote)] {
            let Err(e) = r else {
                panic!(
                    "{} is no usable address, yet the call succeeded",
                    path.display()
                );
            };
            assert_eq!(e.raw_os_error(), Some(libc::ENOENT), "{e:?}");
            let Error::Io(io_err) = &e else {
                panic!("an I/O error, got {e:?}");
            };
            assert_eq!(io_err.kind(), io::ErrorKind::NotFound, "{e:?}");
            let text = e.to_string();
            assert!(
                text.ends_with(&format!(": '{}'", path.display())),
                "the path is not named: {text}"
            );
            assert!(text.starts_with("[Errno 2] "), "{text}");
        }
        Ok(())
    });
}
