//! Names and paths: abstract names (no file, a leading NUL), a path with a NUL inside refused
//! rather than cut short, a path too long refused naming it (L112, L114, L117).

use super::*;

#[test]
fn l117_an_abstract_name_serves_and_needs_no_file() {
    use std::os::linux::net::SocketAddrExt;
    let lp = EventLoop::new().unwrap();
    let name = format!("\0asyncio-test-abstract-{}", std::process::id());
    let server = unix_server(&lp, Path::new(&name));
    match &server.sockets()[0] {
        Address::Unix(a) => assert_eq!(a.as_abstract_name(), Some(&name.as_bytes()[1..])),
        other => panic!("{other:?}"),
    }
    let rec = Recorder {
        on_made: Some(Box::new(|t: &Transport| t.write(b"abc").unwrap())),
        ..Default::default()
    };
    let (t, proto) = lp
        .run_until_complete(lp.create_unix_connection(move || rec, &name))
        .unwrap()
        .unwrap();
    run_within(&lp, BOUND, || proto.borrow().data == b"abc");
    t.close();
    shut(&lp, &server);
    let again = lp
        .run_until_complete(lp.create_unix_connection(Recorder::default, &name))
        .unwrap()
        .map(drop);
    assert!(
        matches!(&again, Err(e) if e.kind() == io::ErrorKind::ConnectionRefused),
        "L117: the name is released on close: {again:?}"
    );
}

// L112, L117: an abstract name is every byte after the leading NUL, a NUL among them too, on
// both sides. The client used to send one byte too few for a name that starts with NUL (mio's
// address length), so it asked for another name than the server's and was refused.
#[test]
fn l112_an_abstract_name_starting_with_nul_reaches_its_server() {
    use std::os::linux::net::SocketAddrExt;
    let lp = EventLoop::new().unwrap();
    let name = format!("\0\0asyncio-test-nul-abstract-{}", std::process::id());
    let server = unix_server(&lp, Path::new(&name));
    let (t, _proto) = lp
        .run_until_complete(lp.create_unix_connection(Recorder::default, &name))
        .unwrap()
        .expect("the server listens on this very name");
    match t.peername() {
        Some(Address::Unix(a)) => assert_eq!(a.as_abstract_name(), Some(&name.as_bytes()[1..])),
        other => panic!("{other:?}"),
    }
    t.close();
    shut(&lp, &server);
}

// L112: a path with a NUL inside is refused; the kernel would read it up to the NUL and
// connect to the shorter path, here a listening socket. Refused as the server's path is:
// `InvalidArgument('embedded null byte')`, CPython's ValueError for the server (its client
// connects to the shorter path, an accident of its C layer we do not follow).
#[test]
fn l112_a_path_with_an_interior_nul_is_refused_not_cut_short() {
    let lp = EventLoop::new().unwrap();
    let dir = temp_dir("l112-nul");
    let short = dir.join("s");
    let server = unix_server(&lp, &short);
    let mut long = short.clone().into_os_string();
    long.push("\0tail");
    let r = lp
        .run_until_complete(lp.create_unix_connection(Recorder::default, &long))
        .unwrap()
        .map(drop);
    assert!(
        matches!(&r, Err(Error::InvalidArgument(m)) if m == "embedded null byte"),
        "{r:?}"
    );
    shut(&lp, &server);
}

// L112, L116: the server side of the test above. The path was cut at the NUL as well: the
// server bound the shorter path (after an ERROR log from the stale-socket check, which could
// not stat the whole one) and left that socket file behind on close (the cleanup could not
// find it under the name it was given). CPython 3.11: ValueError('embedded null byte').
#[test]
fn l112_l116_a_server_path_with_an_interior_nul_is_refused_not_cut_short() {
    let lp = EventLoop::new().unwrap();
    let dir = temp_dir("l116-nul");
    let short = dir.join("s");
    let mut long = short.clone().into_os_string();
    long.push("\0tail");
    let r = lp
        .run_until_complete(lp.create_unix_server(Echo::default, &long))
        .unwrap();
    assert!(
        matches!(&r, Err(Error::InvalidArgument(m)) if m == "embedded null byte"),
        "{:?}",
        r.as_ref().map(Server::sockets)
    );
    assert!(!short.exists(), "nothing was bound at the shorter path");
}

// L112, L114: a path longer than `sun_path` holds is CPython's "AF_UNIX path too long", an
// InvalidInput that names the path (as every other failure of a Unix path does), from the
// server, the client and the stream entry points alike; an abstract name may use every byte
// (it needs no terminating NUL), one more is too long. The message used to be socket2's "path
// must be shorter than SUN_LEN", which said neither which path nor how long.
#[test]
fn l112_l114_a_path_too_long_is_refused_naming_the_path() {
    let lp = EventLoop::new().unwrap();
    let dir = temp_dir("too-long");
    let long = dir.join("x".repeat(120));
    let shown = long.display().to_string();
    let check = |what: &str, e: &io::Error, name: &str, room: usize| {
        assert_eq!(e.kind(), io::ErrorKind::InvalidInput, "{what}: {e}");
        let n = if name.starts_with('@') {
            name.len()
        } else {
            long.as_os_str().len()
        };
        let want = format!("AF_UNIX path too long: '{name}' is {n} bytes, at most {room}");
        assert_eq!(e.to_string(), want, "{what}");
    };
    let server = lp.run_until_complete(lp.create_unix_server(Echo::default, &long));
    match server.unwrap() {
        Err(Error::Io(e)) => check("create_unix_server", &e, &shown, 107),
        other => panic!("create_unix_server: {:?}", other.map(|s| s.sockets())),
    }
    let noop = |_r: asyncio::StreamReader, w: asyncio::StreamWriter| w.close();
    match lp
        .run_until_complete(asyncio::start_unix_server(noop, &long))
        .unwrap()
    {
        Err(Error::Io(e)) => check("start_unix_server", &e, &shown, 107),
        other => panic!("start_unix_server: {:?}", other.map(|s| s.sockets())),
    }
    let client = lp.run_until_complete(lp.create_unix_connection(Recorder::default, &long));
    match client.unwrap() {
        Err(Error::Io(e)) => check("create_unix_connection", &e, &shown, 107),
        other => panic!("create_unix_connection: {:?}", other.map(drop)),
    }
    match lp
        .run_until_complete(asyncio::open_unix_connection(&long))
        .unwrap()
    {
        Err(Error::Io(e)) => check("open_unix_connection", &e, &shown, 107),
        other => panic!("open_unix_connection: {:?}", other.map(drop)),
    }
    assert_eq!(
        std::fs::read_dir(&*dir).unwrap().count(),
        0,
        "nothing was bound"
    );
    // Abstract names: 108 bytes with the leading NUL fit, 109 do not.
    let name = |n: usize| {
        let text = format!(
            "\0asyncio-too-long-{}-{}",
            std::process::id(),
            "a".repeat(n)
        );
        std::path::PathBuf::from(&text[..n])
    };
    let fits = unix_server(&lp, &name(108));
    shut(&lp, &fits);
    let over = name(109);
    let shown = over.display().to_string().replacen('\0', "@", 1);
    match lp
        .run_until_complete(lp.create_unix_server(Echo::default, &over))
        .unwrap()
    {
        Err(Error::Io(e)) => check("abstract", &e, &shown, 108),
        other => panic!("abstract: {:?}", other.map(|s| s.sockets())),
    }
    assert_eq!(lp.stats().io_registrations, 0, "every socket was closed");
}
