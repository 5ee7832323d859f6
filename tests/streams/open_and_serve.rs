//! Opening streams and serving them: open_connection / open_unix_connection, start_server /
//! start_unix_server over TCP and Unix paths, and the arguments refused before any I/O (S1,
//! S3–S5, S9, S24–S27, S68, L118).

use super::*;

#[test]
fn test_open_connection_s1_s24_s25_s27_s62() {
    let l = TcpListener::bind("127.0.0.1:0").unwrap();
    let port = l.local_addr().unwrap().port();
    let peer = std::thread::spawn(move || {
        let (mut s, _) = l.accept().unwrap();
        s.write_all(b"line1\nline2\nrest").unwrap();
    });
    run(async move {
        let (reader, writer) = asyncio::open_connection("127.0.0.1", port).await.unwrap();
        assert_eq!(reader.readline().await.unwrap(), b"line1\n");
        assert_eq!(reader.readline().await.unwrap(), b"line2\n");
        assert_eq!(reader.read(-1).await.unwrap(), b"rest");
        assert!(reader.at_eof());
        assert_eq!(reader.read(-1).await.unwrap(), b"");
        writer.close();
        writer.wait_closed().await.unwrap();
    });
    peer.join().unwrap();
}

#[test]
fn s1_s4_a_bad_limit_fails_before_any_io() {
    run(async {
        // Port 1 on loopback refuses; the limit error must come first (no connection tried).
        let e = asyncio::open_connection("127.0.0.1", 1)
            .limit(0)
            .await
            .err()
            .unwrap();
        assert!(matches!(e, Error::InvalidArgument(_)), "{e}");
        let e = asyncio::start_server(echo_handler, "127.0.0.1", 0)
            .limit(0)
            .await
            .err()
            .unwrap();
        assert_eq!(e.to_string(), "Limit cannot be <= 0");
    });
}

#[test]
fn test_start_server_s58_s59_s68_s73_s75() {
    run(async {
        let server = asyncio::start_server(echo_handler, "127.0.0.1", 0)
            .await
            .unwrap();
        assert!(
            server.is_serving(),
            "S68: listening when start_server returns"
        );
        let port = port_of(&server);
        for i in 0..3 {
            let (reader, writer) = asyncio::open_connection("127.0.0.1", port).await.unwrap();
            let msg = format!("hello {i}\n");
            writer.write(msg.as_bytes()).unwrap();
            assert_eq!(reader.readline().await.unwrap(), msg.as_bytes());
            writer.write_eof().unwrap();
            assert_eq!(
                reader.read(-1).await.unwrap(),
                b"",
                "server closes after our EOF"
            );
            writer.close();
            writer.wait_closed().await.unwrap();
        }
        server.close();
        assert!(!server.is_serving());
        assert!(server.sockets().is_empty(), "S69");
        server.wait_closed().await; // S75: no connection left
    });
}

#[test]
fn test_start_unix_server_s5_s3() {
    let dir = util::temp_dir("streams-unix");
    let path = dir.join("echo.sock");
    let p2 = path.clone();
    run(async move {
        let server = asyncio::start_unix_server(echo_handler, &p2).await.unwrap();
        let (reader, writer) = asyncio::open_unix_connection(&p2).await.unwrap();
        writer.write(b"over unix\n").unwrap();
        assert_eq!(reader.readline().await.unwrap(), b"over unix\n");
        writer.close();
        writer.wait_closed().await.unwrap();
        server.close();
        server.wait_closed().await;
    });
    assert!(!path.exists(), "S5: the socket file is removed on close");
}

#[test]
fn l118_unix_paths_as_str_pathbuf_and_non_utf8_bytes() {
    // SelectorEventLoopUnixSocketTests.test_create_unix_server_pathlib: str, bytes and
    // path-like all name the socket; here &str, PathBuf and an OsStr of bytes that are not
    // UTF-8 (which a str cannot hold).
    use std::os::unix::ffi::OsStrExt;
    let dir = util::temp_dir("streams-unix-paths");
    let by_str = dir.join("as-str.sock");
    let by_str = by_str.to_str().unwrap().to_owned();
    let by_buf = dir.join("as-pathbuf.sock");
    let by_bytes = dir.join(std::ffi::OsStr::from_bytes(b"bytes-\xff\xfe.sock"));
    let paths = (by_str.clone(), by_buf.clone(), by_bytes.clone());
    run(async move {
        let (by_str, by_buf, by_bytes) = paths;
        let servers = [
            asyncio::start_unix_server(echo_handler, by_str.as_str())
                .await
                .unwrap(),
            asyncio::start_unix_server(echo_handler, by_buf.clone())
                .await
                .unwrap(),
            asyncio::start_unix_server(echo_handler, by_bytes.as_os_str())
                .await
                .unwrap(),
        ];
        for path in [std::path::PathBuf::from(&by_str), by_buf, by_bytes] {
            let (reader, writer) = asyncio::open_unix_connection(&path).await.unwrap();
            writer.write(b"path\n").unwrap();
            assert_eq!(reader.readline().await.unwrap(), b"path\n");
            let peer = match writer.get_extra_info("peername") {
                Some(asyncio::ExtraInfo::Address(asyncio::Address::Unix(a))) => a,
                other => panic!("peername {other:?}"),
            };
            assert_eq!(
                peer.as_pathname(),
                Some(path.as_path()),
                "the same bytes back"
            );
            writer.close();
            writer.wait_closed().await.unwrap();
        }
        for server in servers {
            server.close();
            server.wait_closed().await;
        }
    });
    assert!(!std::path::Path::new(&by_str).exists() && !by_buf.exists() && !by_bytes.exists());
}

#[test]
fn test_open_unix_connection_s3_s25_s27() {
    let dir = util::temp_dir("open-unix");
    let path = dir.join("s.sock");
    let listener = std::os::unix::net::UnixListener::bind(&path).unwrap();
    let peer = std::thread::spawn(move || {
        let (mut s, _) = listener.accept().unwrap();
        s.write_all(b"line1\nline2\n").unwrap();
    });
    run(async move {
        let (reader, writer) = asyncio::open_unix_connection(&path).await.unwrap();
        assert_eq!(reader.readline().await.unwrap(), b"line1\n");
        assert_eq!(reader.read(-1).await.unwrap(), b"line2\n");
        writer.close();
    });
    peer.join().unwrap();
}

#[test]
fn test_open_unix_connection_error_s19_s64() {
    let dir = util::temp_dir("open-unix-err");
    let path = dir.join("missing.sock");
    run(async move {
        let e = asyncio::open_unix_connection(&path)
            .await
            .expect_err("connected to nothing");
        assert_eq!(e.kind(), std::io::ErrorKind::NotFound);
    });
}

#[test]
fn s9_start_server_refuses_an_address_together_with_sock_before_binding() {
    // S9 (streams face of L96/L114): host/port or path with sock= is refused with CPython's
    // text, before anything is bound or removed. (A bool for ssl, no address at all, and a
    // sock that is not a stream socket cannot be written in Rust.)
    let dir = util::temp_dir("s9");
    let path = dir.join("stale.sock");
    // A stale socket file: a path server would remove it before binding (L115); a refused
    // call must not.
    drop(std::os::unix::net::UnixListener::bind(&path).unwrap());
    let (tcp, unix) = run({
        let path = path.clone();
        async move {
            let noop = |_r: StreamReader, w: StreamWriter| w.close();
            let listener = TcpListener::bind("127.0.0.1:0").unwrap();
            let tcp = asyncio::start_server(noop, "127.0.0.1", 0)
                .sock(listener)
                .await
                .map(drop);
            let listener = std::os::unix::net::UnixListener::bind(path.with_extension("other"));
            let unix = asyncio::start_unix_server(noop, &path)
                .sock(listener.unwrap())
                .await
                .map(drop);
            (tcp, unix)
        }
    });
    assert!(
        matches!(&tcp, Err(Error::InvalidArgument(m))
            if m == "host/port and sock can not be specified at the same time"),
        "S9: {tcp:?}"
    );
    assert!(
        matches!(&unix, Err(Error::InvalidArgument(m))
            if m == "path and sock can not be specified at the same time"),
        "S9: {unix:?}"
    );
    assert!(path.exists(), "S9: refused before touching the path");
}

#[test]
fn s1_s4_a_nul_byte_in_a_host_is_an_invalid_argument() {
    // CPython raises ValueError('embedded null character') for these (checklist mapping:
    // Error::InvalidArgument), before any I/O: `open_connection('127.0.0.1\0', 80)`, the same
    // in `local_addr`, and `start_server(cb, 'local\0host', 0)`. They were `Error::Io` of kind
    // InvalidInput ("host name contains a NUL byte"), from a lookup thread started for them.
    let outcomes = run(async move {
        let noop = |_r: StreamReader, w: StreamWriter| w.close();
        let host = asyncio::open_connection("127.0.0.1\0", 80).await.map(drop);
        let local = asyncio::open_connection("127.0.0.1", 1)
            .local_addr("127.0.0.1\0", 0)
            .await
            .map(drop);
        let server = asyncio::start_server(noop, "local\0host", 0)
            .await
            .map(drop);
        [host, local, server]
    });
    for (i, outcome) in outcomes.iter().enumerate() {
        assert!(
            matches!(outcome, Err(Error::InvalidArgument(m)) if m == "embedded null character"),
            "case {i}: {outcome:?}"
        );
    }
}
