//! Unix-domain servers and connections over real sockets (L111–L122): paths, abstract names,
//! stale and foreign socket files, cleanup on close, a given `sock`, socketpairs. Shared
//! helpers: `server_common`; Unix sockets live in fresh temp dirs.
//!
//! Ported: `test_server.py` SelectorStartServerTests.test_start_unix_server_1 as far as it
//! starts (`l105_l114_*`; whole in `server_lifecycle.rs`), UnixServerCleanupTests.*
//! (`l119_*`, `l114_l120_*`); `test_unix_events.py` test_create_unix_server_existing_path_sock
//! (`l115_*`), _existing_path_nonsock (`l116_*`), _bind_error (`l116_a_bind_failure_*`),
//! _path_stream_bittype and _path_sock (`l114_l120_*`), test_create_unix_connection_pathlib
//! (`l112_*`), the _nopath_nosock pair (an empty path is no path: `l111_l114_*`). See the
//! appendix of `asyncio-semantics.md`. test_create_unix_server_bind_error asks for a read-only
//! directory, which root ignores, so a missing directory provokes the bind failure instead.

mod server_common;
mod util;

use std::io::{self, Read, Write};
use std::net::{TcpListener, TcpStream};
use std::os::unix::fs::FileTypeExt;
use std::os::unix::net::{UnixListener, UnixStream};
use std::path::Path;

use asyncio::{Address, Error, EventLoop, Server, Transport};
use server_common::{
    check_unix_echo, is_refused, run_within, shut, timeouts, unix_name, Seen, BOUND,
};
use util::{temp_dir, Echo, Recorder};

fn unix_server(lp: &EventLoop, path: &Path) -> Server {
    lp.run_until_complete(lp.create_unix_server(Echo::default, path))
        .unwrap()
        .unwrap()
}

fn is_unnamed(a: &Option<Address>) -> bool {
    matches!(a, Some(Address::Unix(u)) if u.is_unnamed())
}

#[test]
fn l112_l114_l121_unix_echo_and_addresses() {
    let lp = EventLoop::new().unwrap();
    let dir = temp_dir("server-unix");
    let path = dir.join("echo.sock");
    let seen = Seen::default();
    let server = lp
        .run_until_complete(lp.create_unix_server(seen.factory(), &path))
        .unwrap()
        .unwrap();
    assert!(server.is_serving());
    let socks = server.sockets();
    assert_eq!(socks.len(), 1);
    assert_eq!(
        unix_name(&socks[0]).as_deref(),
        Some(path.as_path()),
        "L104"
    );
    assert_eq!(socks[0].to_string(), path.display().to_string());

    let rec = Recorder {
        on_made: Some(Box::new(|t: &Transport| t.write(b"hello").unwrap())),
        ..Default::default()
    };
    let (t, proto) = lp
        .run_until_complete(lp.create_unix_connection(move || rec, &path))
        .unwrap()
        .unwrap();
    run_within(&lp, BOUND, || proto.borrow().data.len() == 5);
    assert_eq!(proto.borrow().data, b"hello", "L112: echoed");
    // L121: the client's peer is the server path, its own name empty; the server side mirrors it.
    assert_eq!(
        unix_name(&t.peername().unwrap()).as_deref(),
        Some(path.as_path())
    );
    assert!(is_unnamed(&t.sockname()), "{:?}", t.sockname());
    assert_eq!(t.sockname().unwrap().to_string(), "");
    let st = seen.get(0);
    assert_eq!(
        unix_name(&st.sockname().unwrap()).as_deref(),
        Some(path.as_path())
    );
    assert!(is_unnamed(&st.peername()), "{:?}", st.peername());
    assert!(t.can_write_eof() && st.can_write_eof(), "L121");
    t.write_eof().unwrap(); // L121: half-close works on Unix streams; Echo then closes
    run_within(&lp, BOUND, || proto.borrow().lost);
    assert_eq!(
        proto.borrow().grammar(),
        [
            "connection_made",
            "data",
            "eof_received",
            "connection_lost(None)"
        ]
    );
    check_unix_echo(&lp, &path); // a std client too
    shut(&lp, &server);
}

#[test]
fn l115_a_stale_socket_file_is_replaced() {
    let lp = EventLoop::new().unwrap();
    let dir = temp_dir("server-stale");
    let path = dir.join("stale.sock");
    drop(UnixListener::bind(&path).unwrap()); // the file stays behind
    assert!(std::fs::symlink_metadata(&path)
        .unwrap()
        .file_type()
        .is_socket());
    let server = unix_server(&lp, &path);
    check_unix_echo(&lp, &path);
    shut(&lp, &server);
}

// L115: CPython's check is `os.stat` (it follows a symbolic link) and its removal
// `os.remove` (the link, never its target): a link to a stale socket is replaced by the new
// server's socket, the socket it pointed at stays. Checked with CPython 3.11. We used to look
// at the link itself, leave it, and fail the bind with AddrInUse. A link to a regular file, or
// to nothing, stays, and the bind fails as on any other file (L116).
#[test]
fn l115_a_symlink_to_a_stale_socket_is_replaced_and_its_target_kept() {
    let lp = EventLoop::new().unwrap();
    let dir = temp_dir("server-stale-link");
    let target = dir.join("stale.sock");
    drop(UnixListener::bind(&target).unwrap()); // the file stays behind
    let link = dir.join("link.sock");
    std::os::unix::fs::symlink(&target, &link).unwrap();
    let server = lp.run_until_complete(lp.create_unix_server(Echo::default, &link));
    let server = server
        .unwrap()
        .expect("L115: a link to a stale socket is removed");
    let kind = std::fs::symlink_metadata(&link).unwrap().file_type();
    assert!(kind.is_socket(), "the server's own socket: {kind:?}");
    assert!(target.exists(), "the link's target is left alone");
    check_unix_echo(&lp, &link);
    shut(&lp, &server);
    for pointee in ["file", "missing"] {
        let target = dir.join(pointee);
        if pointee == "file" {
            std::fs::write(&target, b"keep").unwrap();
        }
        let link = dir.join(format!("to-{pointee}"));
        std::os::unix::fs::symlink(&target, &link).unwrap();
        let r = lp.run_until_complete(lp.create_unix_server(Echo::default, &link));
        match r.unwrap() {
            Err(e) => assert_eq!(io::Error::from(e).kind(), io::ErrorKind::AddrInUse),
            Ok(s) => panic!("a link to a {pointee} was replaced: {:?}", s.sockets()),
        }
        assert!(std::fs::symlink_metadata(&link).unwrap().is_symlink());
    }
    assert_eq!(std::fs::read(dir.join("file")).unwrap(), b"keep");
}

#[test]
fn l116_a_regular_file_is_left_alone_and_the_bind_fails() {
    // CPython: SelectorEventLoopUnixSocketTests.test_create_unix_server_existing_path_nonsock.
    let lp = EventLoop::new().unwrap();
    let dir = temp_dir("server-file");
    let path = dir.join("not-a-socket");
    std::fs::write(&path, "keep").unwrap();
    let r = lp
        .run_until_complete(lp.create_unix_server(Echo::default, &path))
        .unwrap();
    match r {
        Err(Error::Io(e)) => {
            assert_eq!(e.kind(), io::ErrorKind::AddrInUse);
            assert_eq!(
                e.to_string(),
                format!(
                    "[Errno {}] Address '{}' is already in use",
                    libc::EADDRINUSE,
                    path.display()
                )
            );
        }
        other => panic!("L116: {other:?}"),
    }
    assert_eq!(
        std::fs::read_to_string(&path).unwrap(),
        "keep",
        "L116: untouched"
    );
    assert_eq!(lp.stats().io_registrations, 0);
}

#[test]
fn l116_a_bind_failure_in_a_missing_directory_is_returned() {
    let lp = EventLoop::new().unwrap();
    let dir = temp_dir("server-no-dir");
    let path = dir.join("missing-dir").join("s.sock");
    let r = lp
        .run_until_complete(lp.create_unix_server(Echo::default, &path))
        .unwrap();
    assert!(
        matches!(&r, Err(e) if e.kind() == io::ErrorKind::NotFound),
        "L116: {r:?}"
    );
    assert_eq!(lp.stats().io_registrations, 0);
}

#[test]
fn l119_the_socket_file_is_removed_on_close_unless_cleanup_is_off() {
    // CPython: UnixServerCleanupTests.test_unix_server_addr_cleanup,
    // UnixServerCleanupTests.test_unix_server_cleanup_prevented.
    let lp = EventLoop::new().unwrap();
    let dir = temp_dir("server-cleanup");
    let path = dir.join("a.sock");
    let server = unix_server(&lp, &path);
    assert!(path.exists());
    shut(&lp, &server);
    assert!(!path.exists(), "L119: removed on close");

    let kept = dir.join("kept.sock");
    let server = lp
        .run_until_complete(
            lp.create_unix_server(Echo::default, &kept)
                .cleanup_socket(false),
        )
        .unwrap()
        .unwrap();
    shut(&lp, &server);
    assert!(
        std::fs::symlink_metadata(&kept)
            .unwrap()
            .file_type()
            .is_socket(),
        "L119: cleanup_socket(false) keeps the file"
    );
}

#[test]
fn l119_a_replaced_or_vanished_file_is_left_as_it_is() {
    // CPython: UnixServerCleanupTests.test_unix_server_cleanup_replaced,
    // UnixServerCleanupTests.test_unix_server_cleanup_gone.
    let lp = EventLoop::new().unwrap();
    let dir = temp_dir("server-replaced");
    let path = dir.join("r.sock");
    let server = unix_server(&lp, &path);
    std::fs::remove_file(&path).unwrap();
    std::fs::write(&path, "someone else's").unwrap();
    shut(&lp, &server);
    assert_eq!(
        std::fs::read_to_string(&path).unwrap(),
        "someone else's",
        "L119: a replaced file survives"
    );

    let gone = dir.join("gone.sock");
    let server = unix_server(&lp, &gone);
    std::fs::remove_file(&gone).unwrap();
    shut(&lp, &server); // L119: a missing file is fine
    assert!(!gone.exists());
}

/// L119: the file is recorded after the bind with `stat` (CPython 3.13's `os.stat(path).st_ino`,
/// which follows symlinks) and looked at on close the same way. A symlink put in the socket's
/// place that leads to the socket is the socket's path still: removed (the link only; the
/// socket file it leads to stays). One that leads to another file, or nowhere, is left. The
/// close used `lstat`, which saw the link's own inode: the link to the socket was left
/// (checked by reverting the fix).
#[test]
fn l119_a_path_that_became_a_symlink_is_judged_by_what_it_leads_to() {
    let lp = EventLoop::new().unwrap();
    let dir = temp_dir("server-symlinked");
    for (name, leads_to_the_socket) in [("to-socket", true), ("elsewhere", false)] {
        let path = dir.join(format!("{name}.sock"));
        let moved = dir.join(format!("{name}-moved.sock"));
        let other = dir.join(format!("{name}-other"));
        let server = unix_server(&lp, &path);
        std::fs::rename(&path, &moved).unwrap();
        std::fs::write(&other, "someone else's").unwrap();
        let target = if leads_to_the_socket { &moved } else { &other };
        std::os::unix::fs::symlink(target, &path).unwrap();
        shut(&lp, &server);
        let link_left = std::fs::symlink_metadata(&path).is_ok();
        assert_eq!(link_left, !leads_to_the_socket, "{name}: the link");
        assert!(
            std::fs::symlink_metadata(&moved)
                .unwrap()
                .file_type()
                .is_socket(),
            "{name}: the socket file the link led to stays"
        );
        assert_eq!(std::fs::read_to_string(&other).unwrap(), "someone else's");
    }
    let dangling = dir.join("dangling.sock");
    let server = unix_server(&lp, &dangling);
    std::fs::remove_file(&dangling).unwrap();
    std::os::unix::fs::symlink(dir.join("nothing"), &dangling).unwrap();
    shut(&lp, &server);
    assert!(
        std::fs::symlink_metadata(&dangling).is_ok(),
        "a link to nothing is left"
    );
}

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

// L114: create_unix_server (and start_unix_server, which forwards its keywords to it) takes
// none of create_server's TCP keywords: CPython 3.11 raises TypeError ("unexpected keyword
// argument 'reuse_port'", checked with python3) before binding. Ours shares the builder, and
// used to ignore them: the server went ahead without the options or hosts asked for. The
// client side refuses its TCP keywords the same way (regressions.rs, L111).
#[test]
fn l114_the_unix_server_entry_points_refuse_the_tcp_keywords() {
    let lp = EventLoop::new().unwrap();
    let dir = temp_dir("unix-server-tcp-keywords");
    let path = dir.join("s.sock");
    let refused = |r: Result<Server, Error>, name: &str, call: &str| {
        let want = format!("create_unix_server() got an unexpected keyword argument '{name}'");
        match r {
            Err(Error::InvalidArgument(m)) => assert_eq!(m, want, "{call}"),
            other => panic!("{call} with {name}: {:?}", other.map(|s| s.sockets())),
        }
        assert!(!path.exists(), "{call} with {name}: refused before binding");
    };
    type Setter = fn(asyncio::StartServer) -> asyncio::StartServer;
    let cases: [(&str, Setter); 5] = [
        ("host", |s| s.hosts(&["127.0.0.1"])),
        ("family", |s| s.family(asyncio::AddressFamily::Inet)),
        ("reuse_address", |s| s.reuse_address(true)),
        ("reuse_port", |s| s.reuse_port(true)),
        ("keep_alive", |s| s.keep_alive(true)),
    ];
    let noop = |_r: asyncio::StreamReader, w: asyncio::StreamWriter| w.close();
    for (name, set) in cases {
        let r = lp.run_until_complete(set(asyncio::start_unix_server(noop, &path)));
        refused(r.unwrap(), name, "start_unix_server");
    }
    // The loop method, and a listener given in place of the path: the same rule.
    let r = lp.run_until_complete(lp.create_unix_server(Echo::default, &path).reuse_port(true));
    refused(r.unwrap(), "reuse_port", "create_unix_server");
    let other = dir.join("bound.sock");
    let listener = UnixListener::bind(&other).unwrap();
    let given = lp
        .create_unix_server(Echo::default, "")
        .sock(listener.try_clone().unwrap());
    let r = lp.run_until_complete(given.keep_alive(true));
    refused(r.unwrap(), "keep_alive", "create_unix_server(sock)");
    // The TCP entry point with a socket ignores them, as CPython's create_server does.
    let given = lp.create_server(Echo::default, "", 0).sock(listener);
    let server = lp
        .run_until_complete(given.reuse_port(true))
        .unwrap()
        .unwrap();
    check_unix_echo(&lp, &other);
    shut(&lp, &server);
}

// L96: create_server with a Unix listener as its sock and a host list is the host/port-and-
// sock conflict, in either order, as with a TCP listener (server_create.rs). Given after the
// Unix listener, the hosts used to be dropped: the server served the listener as if no host
// had been asked for.
#[test]
fn l96_hosts_with_a_unix_listener_as_sock_conflict_in_either_order() {
    let lp = EventLoop::new().unwrap();
    let dir = temp_dir("unix-sock-hosts");
    for hosts_first in [true, false] {
        let path = dir.join(format!("hosts-first-{hosts_first}.sock"));
        let listener = UnixListener::bind(&path).unwrap();
        let builder = lp.create_server(Echo::default, "", 0);
        let builder = match hosts_first {
            true => builder.hosts(&["127.0.0.1"]).sock(listener),
            false => builder.sock(listener).hosts(&["127.0.0.1"]),
        };
        match lp.run_until_complete(builder).unwrap() {
            Err(Error::InvalidArgument(m)) => assert_eq!(
                m, "host/port and sock can not be specified at the same time",
                "hosts first: {hosts_first}"
            ),
            other => panic!(
                "hosts first: {hosts_first}: {:?}",
                other.map(|s| s.sockets())
            ),
        }
    }
}

// L119: cleanup_socket is create_unix_server's keyword only; CPython 3.13's create_server
// (and start_server) has none, a TypeError. Ours ignored it there, since create_server never
// removes a file: now the TCP entry points refuse it, as the Unix ones refuse the TCP keywords
// (l114_the_unix_server_entry_points_refuse_the_tcp_keywords), with a Unix listener as sock
// too. A server group's workers, TCP servers, refuse it the same way.
#[test]
fn l119_cleanup_socket_is_refused_by_the_tcp_entry_points() {
    let lp = EventLoop::new().unwrap();
    let want = "create_server() got an unexpected keyword argument 'cleanup_socket'";
    let refused = |r: Result<Server, Error>, call: &str| match r {
        Err(Error::InvalidArgument(m)) => assert_eq!(m, want, "{call}"),
        other => panic!("{call}: {:?}", other.map(|s| s.sockets())),
    };
    for on in [true, false] {
        let r = lp.run_until_complete(
            lp.create_server(Echo::default, "127.0.0.1", 0)
                .cleanup_socket(on),
        );
        refused(r.unwrap(), "create_server");
        let noop = |_r: asyncio::StreamReader, w: asyncio::StreamWriter| w.close();
        let r = asyncio::start_server(noop, "127.0.0.1", 0).cleanup_socket(on);
        refused(lp.run_until_complete(r).unwrap(), "start_server");
    }
    let dir = temp_dir("tcp-cleanup-keyword");
    let path = dir.join("given.sock");
    let listener = UnixListener::bind(&path).unwrap();
    let given = lp.create_server(Echo::default, "", 0).sock(listener);
    refused(
        lp.run_until_complete(given.cleanup_socket(false)).unwrap(),
        "create_server(unix sock)",
    );
    let noop = || |_r: asyncio::StreamReader, w: asyncio::StreamWriter| w.close();
    let group = asyncio::serve_on_threads(1, noop, "127.0.0.1", 0)
        .configure(|s| s.cleanup_socket(false))
        .start();
    match group {
        Err(Error::InvalidArgument(m)) => assert_eq!(m, want, "serve_on_threads"),
        other => panic!("serve_on_threads: {other:?}"),
    }
    // The Unix entry points take it, on and off.
    for on in [true, false] {
        let path = dir.join(format!("cleanup-{on}.sock"));
        let r = lp.run_until_complete(
            lp.create_unix_server(Echo::default, &path)
                .cleanup_socket(on),
        );
        shut(&lp, &r.unwrap().unwrap());
        assert_eq!(path.exists(), !on, "cleanup_socket({on})");
    }
}

#[test]
fn l111_a_path_with_sock_is_refused_with_the_unix_text() {
    // CPython: SelectorEventLoopUnixSocketTests.test_create_unix_connection_path_sock.
    // CPython's create_unix_connection says "path and sock …", not "host/port and sock …";
    // a later sock() does not clear the conflict either.
    let lp = EventLoop::new().unwrap();
    let dir = temp_dir("l111-sock");
    let path = dir.join("s.sock");
    let (a, _b) = asyncio::socketpair().unwrap();
    let (c, _d) = asyncio::socketpair().unwrap();
    let r = lp
        .run_until_complete(
            lp.create_unix_connection(Echo::default, &path)
                .sock(a)
                .sock(c),
        )
        .unwrap();
    assert!(
        matches!(&r, Err(Error::InvalidArgument(m))
            if m == "path and sock can not be specified at the same time"),
        "L111: {:?}",
        r.map(drop)
    );
    let (a, _b) = asyncio::socketpair().unwrap();
    let r = lp
        .run_until_complete(async move { asyncio::open_unix_connection(&path).sock(a).await })
        .unwrap();
    assert!(
        matches!(&r, Err(Error::InvalidArgument(m))
            if m == "path and sock can not be specified at the same time"),
        "L111 (streams): {:?}",
        r.map(drop)
    );
}

/// An empty path is no path (CPython's `path=None`): without a socket there is nothing to serve
/// or to reach, CPython's ValueErrors. It used to go to bind(2), where Linux gives an empty
/// Unix name a random abstract one (a server nobody could find), and to connect(2) (EINVAL).
// Checklist: L111, L114.
#[test]
fn l111_l114_an_empty_unix_path_is_no_path() {
    // CPython: SelectorEventLoopUnixSocketTests.test_create_unix_server_nopath_nosock,
    // SelectorEventLoopUnixSocketTests.test_create_unix_connection_nopath_nosock.
    let lp = EventLoop::new().unwrap();
    let no_server = "path was not specified, and no sock specified";
    let no_client = "no path and sock were specified";
    let r = lp
        .run_until_complete(lp.create_unix_server(Echo::default, ""))
        .unwrap();
    assert!(
        matches!(&r, Err(Error::InvalidArgument(m)) if m == no_server),
        "create_unix_server: {:?}",
        r.as_ref().map(Server::sockets)
    );
    let r = lp
        .run_until_complete(async {
            let noop = |_r: asyncio::StreamReader, w: asyncio::StreamWriter| w.close();
            asyncio::start_unix_server(noop, "").await
        })
        .unwrap();
    assert!(
        matches!(&r, Err(Error::InvalidArgument(m)) if m == no_server),
        "start_unix_server: {:?}",
        r.as_ref().map(Server::sockets)
    );
    let r = lp
        .run_until_complete(lp.create_unix_connection(Recorder::default, ""))
        .unwrap()
        .map(drop);
    assert!(
        matches!(&r, Err(Error::InvalidArgument(m)) if m == no_client),
        "create_unix_connection: {r:?}"
    );
    let r = lp
        .run_until_complete(async { asyncio::open_unix_connection("").await })
        .unwrap()
        .map(drop);
    assert!(
        matches!(&r, Err(Error::InvalidArgument(m)) if m == no_client),
        "open_unix_connection: {r:?}"
    );
    assert_eq!(lp.stats().io_registrations, 0, "nothing was registered");
}

/// An empty path is no path, so with a socket it is CPython's `path=None, sock=s`: a Unix
/// socket is served or adopted, a TCP one refused with the Unix text. It was refused as "path
/// and sock can not be specified at the same time", so a Unix entry point took no socket.
// Checklist: L111, L114.
#[test]
fn l111_l114_an_empty_unix_path_goes_with_a_sock() {
    let lp = EventLoop::new().unwrap();
    let dir = temp_dir("l114-empty-sock");
    let path = dir.join("s.sock");
    let server = lp
        .run_until_complete(
            lp.create_unix_server(Echo::default, "")
                .sock(UnixListener::bind(&path).unwrap()),
        )
        .unwrap()
        .unwrap();
    check_unix_echo(&lp, &path);
    shut(&lp, &server);
    let listener = UnixListener::bind(&path).unwrap();
    let server = lp
        .run_until_complete(async move {
            let noop = |_r: asyncio::StreamReader, w: asyncio::StreamWriter| w.close();
            asyncio::start_unix_server(noop, "").sock(listener).await
        })
        .unwrap()
        .unwrap();
    shut(&lp, &server);
    let (a, _b) = asyncio::socketpair().unwrap();
    let (t, _) = lp
        .run_until_complete(lp.create_unix_connection(Recorder::default, "").sock(a))
        .unwrap()
        .unwrap();
    t.close();
    let (a, _b) = asyncio::socketpair().unwrap();
    let (_reader, writer) = lp
        .run_until_complete(async move { asyncio::open_unix_connection("").sock(a).await })
        .unwrap()
        .unwrap();
    writer.close();
    // Only a Unix socket, as CPython's Unix entry points check.
    let want = "A UNIX Domain Stream Socket was expected, got a TCP socket";
    let listening = TcpListener::bind("127.0.0.1:0").unwrap();
    let port = listening.local_addr().unwrap().port();
    let tcp = listening.try_clone().unwrap();
    let r = lp
        .run_until_complete(lp.create_unix_server(Echo::default, "").sock(tcp))
        .unwrap();
    assert!(
        matches!(&r, Err(Error::InvalidArgument(m)) if m == want),
        "create_unix_server: {:?}",
        r.as_ref().map(Server::sockets)
    );
    let stream = TcpStream::connect(("127.0.0.1", port)).unwrap();
    let r = lp
        .run_until_complete(
            lp.create_unix_connection(Recorder::default, "")
                .sock(stream),
        )
        .unwrap()
        .map(drop);
    assert!(
        matches!(&r, Err(Error::InvalidArgument(m)) if m == want),
        "create_unix_connection: {r:?}"
    );
}

/// A std Unix type can hold a socket of any family (`From<OwnedFd>`, `from_raw_fd`): CPython's
/// Unix entry points check `sock.family != AF_UNIX` and refuse it with their Unix text; ours
/// served a TCP listener as a Unix server and adopted a TCP stream as a Unix connection.
// Checklist: L111, L114.
#[test]
fn l111_l114_a_unix_type_around_a_tcp_socket_is_refused_by_the_unix_entry_points() {
    // CPython: SelectorEventLoopUnixSocketTests.test_create_unix_server_path_inetsock,
    // SelectorEventLoopUnixSocketTests.test_create_unix_connection_path_inetsock.
    use std::os::fd::OwnedFd;
    let lp = EventLoop::new().unwrap();
    let want = "A UNIX Domain Stream Socket was expected, got a TCP socket";
    for v6 in [false, true] {
        let Ok(listening) = TcpListener::bind(if v6 { "[::1]:0" } else { "127.0.0.1:0" }) else {
            eprintln!("skipped ::1: no IPv6 loopback here");
            continue;
        };
        let addr = listening.local_addr().unwrap();
        let disguised = UnixListener::from(OwnedFd::from(listening.try_clone().unwrap()));
        let r = lp
            .run_until_complete(lp.create_unix_server(Echo::default, "").sock(disguised))
            .unwrap();
        assert!(
            matches!(&r, Err(Error::InvalidArgument(m)) if m == want),
            "create_unix_server {addr}: {:?}",
            r.as_ref().map(Server::sockets)
        );
        let disguised = UnixListener::from(OwnedFd::from(listening.try_clone().unwrap()));
        let r = lp
            .run_until_complete(async move {
                let noop = |_r: asyncio::StreamReader, w: asyncio::StreamWriter| w.close();
                asyncio::start_unix_server(noop, "").sock(disguised).await
            })
            .unwrap();
        assert!(
            matches!(&r, Err(Error::InvalidArgument(m)) if m == want),
            "start_unix_server {addr}: {:?}",
            r.as_ref().map(Server::sockets)
        );
        let stream = UnixStream::from(OwnedFd::from(TcpStream::connect(addr).unwrap()));
        let r = lp
            .run_until_complete(
                lp.create_unix_connection(Recorder::default, "")
                    .sock(stream),
            )
            .unwrap()
            .map(drop);
        assert!(
            matches!(&r, Err(Error::InvalidArgument(m)) if m == want),
            "create_unix_connection {addr}: {r:?}"
        );
        let stream = UnixStream::from(OwnedFd::from(TcpStream::connect(addr).unwrap()));
        let r = lp
            .run_until_complete(async move { asyncio::open_unix_connection("").sock(stream).await })
            .unwrap()
            .map(drop);
        assert!(
            matches!(&r, Err(Error::InvalidArgument(m)) if m == want),
            "open_unix_connection {addr}: {r:?}"
        );
        // The TCP entry points take any stream socket, as CPython's (only the type is checked).
        let disguised = UnixListener::from(OwnedFd::from(listening.try_clone().unwrap()));
        let server = lp
            .run_until_complete(
                lp.create_server(Echo::default, "", 0)
                    .start_serving(false)
                    .sock(disguised),
            )
            .unwrap();
        match server {
            Ok(server) => shut(&lp, &server),
            Err(e) => panic!("create_server {addr}: {e:?}"),
        }
    }
    assert_eq!(lp.stats().io_registrations, 0, "nothing left registered");
}

/// CPython's Unix entry points refuse any socket that is not `AF_UNIX` and `SOCK_STREAM` with
/// their Unix text (`sock.family != AF_UNIX or sock.type != SOCK_STREAM`): a Unix datagram
/// socket got the generic "A Stream Socket was expected" text, and a UDP socket was called a
/// TCP one. Each is named for what it is, whichever std type holds it.
// Checklist: L111, L114.
#[test]
fn l111_l114_the_unix_entry_points_name_what_they_were_given() {
    use socket2::{Domain, Socket, Type};
    use std::os::fd::OwnedFd;
    let lp = EventLoop::new().unwrap();
    let text = |what: &str| format!("A UNIX Domain Stream Socket was expected, got {what}");
    let udp = || OwnedFd::from(std::net::UdpSocket::bind("127.0.0.1:0").unwrap());
    let unix = |ty| OwnedFd::from(Socket::new(Domain::UNIX, ty, None).unwrap());
    let cases = [
        (udp(), udp(), text("a UDP socket")),
        (
            unix(Type::DGRAM),
            unix(Type::DGRAM),
            text("a Unix datagram socket"),
        ),
        (
            unix(Type::SEQPACKET),
            unix(Type::SEQPACKET),
            text("a Unix socket of another type"),
        ),
    ];
    for (a, b, want) in cases {
        let (a2, b2) = (a.try_clone().unwrap(), b.try_clone().unwrap());
        let server = |sock: asyncio::ListenSocket| {
            lp.run_until_complete(lp.create_unix_server(Echo::default, "").sock(sock))
                .unwrap()
                .map(drop)
        };
        let connect = |sock: asyncio::StreamSocket| {
            lp.run_until_complete(lp.create_unix_connection(Recorder::default, "").sock(sock))
                .unwrap()
                .map(drop)
        };
        let got = [
            server(UnixListener::from(a).into()),
            server(TcpListener::from(a2).into()),
            connect(UnixStream::from(b).into()),
            connect(TcpStream::from(b2).into()),
        ];
        for (i, r) in got.iter().enumerate() {
            assert!(
                matches!(r, Err(Error::InvalidArgument(m)) if *m == want),
                "{want}, case {i}: {r:?}"
            );
        }
    }
}

#[test]
fn l112_connecting_to_a_missing_path_or_a_dead_socket_fails_typed() {
    let lp = EventLoop::new().unwrap();
    let dir = temp_dir("server-connect-errors");
    let missing = lp
        .run_until_complete(lp.create_unix_connection(Recorder::default, dir.join("missing")))
        .unwrap()
        .map(drop);
    assert!(
        matches!(&missing, Err(e) if e.kind() == io::ErrorKind::NotFound),
        "L112: {missing:?}"
    );
    let dead = dir.join("dead.sock");
    drop(UnixListener::bind(&dead).unwrap());
    let refused = lp
        .run_until_complete(lp.create_unix_connection(Recorder::default, &dead))
        .unwrap()
        .map(drop);
    assert!(
        matches!(&refused, Err(e) if e.kind() == io::ErrorKind::ConnectionRefused),
        "L112: {refused:?}"
    );
    assert_eq!(lp.stats().io_registrations, 0, "L112: the socket is closed");
}

// Checklist: S9 (create_unix_server: path with sock).
#[test]
fn l114_l120_serving_on_a_bound_unix_listener() {
    let lp = EventLoop::new().unwrap();
    let dir = temp_dir("server-unix-sock");
    let path = dir.join("sock.sock");
    let listener = UnixListener::bind(&path).unwrap();
    let server = lp
        .run_until_complete(lp.create_unix_server(Echo::default, "").sock(listener))
        .unwrap()
        .unwrap();
    assert_eq!(
        unix_name(&server.sockets()[0]).as_deref(),
        Some(path.as_path())
    );
    check_unix_echo(&lp, &path);
    shut(&lp, &server);
    assert!(!path.exists(), "L119, L120: cleaned up like a path server");
    // The TCP entry point serves a Unix listener too, and leaves its file, as CPython 3.13's
    // create_server does (only create_unix_server records a file to remove). It used to
    // remove it: a socket file handed over by a supervisor (systemd's socket activation) was
    // gone after the server's close.
    let listener = UnixListener::bind(&path).unwrap();
    let server = lp
        .run_until_complete(lp.create_server(Echo::default, "", 0).sock(listener))
        .unwrap()
        .unwrap();
    check_unix_echo(&lp, &path);
    shut(&lp, &server);
    assert!(
        path.exists(),
        "L119: create_server removed the file of the listener it was given"
    );
    std::fs::remove_file(&path).unwrap();

    let listener = UnixListener::bind(dir.join("other.sock")).unwrap();
    let both = lp
        .run_until_complete(lp.create_unix_server(Echo::default, &path).sock(listener))
        .unwrap();
    assert!(
        matches!(&both, Err(Error::InvalidArgument(m))
            if m == "path and sock can not be specified at the same time"),
        "L114: {both:?}"
    );
}

#[test]
fn l105_l114_unix_start_serving_false_refuses_until_started() {
    let lp = EventLoop::new().unwrap();
    let dir = temp_dir("server-unix-later");
    let path = dir.join("later.sock");
    let server = lp
        .run_until_complete(
            lp.create_unix_server(Echo::default, &path)
                .start_serving(false),
        )
        .unwrap()
        .unwrap();
    assert!(!server.is_serving());
    assert_eq!(
        server.sockets().first().and_then(unix_name).as_deref(),
        Some(path.as_path()),
        "L104: the bound socket is listed before serving"
    );
    assert!(
        is_refused(UnixStream::connect(&path)),
        "bound, not listening"
    );
    let s = server.clone();
    lp.run_until_complete(async move { s.start_serving().await.unwrap() })
        .unwrap();
    check_unix_echo(&lp, &path);
    shut(&lp, &server);
}

#[test]
fn l122_a_socketpair_end_adopted_by_connect_socket() {
    let lp = EventLoop::new().unwrap();
    let (ours, theirs) = asyncio::socketpair().unwrap();
    let mut theirs = timeouts(theirs, UnixStream::set_read_timeout);
    let (t, proto) = lp
        .run_until_complete(lp.connect_socket(Recorder::default, ours))
        .unwrap()
        .unwrap();
    assert!(
        is_unnamed(&t.sockname()) && is_unnamed(&t.peername()),
        "L121"
    );
    theirs.write_all(b"hi").unwrap();
    run_within(&lp, BOUND, || proto.borrow().data == b"hi");
    t.write(b"yo").unwrap();
    t.close(); // L122: closing the transport closes our end
    run_within(&lp, BOUND, || proto.borrow().lost);
    let mut got = Vec::new();
    theirs.read_to_end(&mut got).unwrap();
    assert_eq!(got, b"yo");
}

/// L93: a Unix listener whose backlog is full (it never accepts) answers `connect` with
/// `EAGAIN`: nothing is under way, so `open_unix_connection` fails at once with that errno
/// and the path, where a wait for writability would end only by chance. (CPython 3.11 waits
/// after `BlockingIOError`; the unconnected socket reports writable at once, `SO_ERROR` is 0,
/// and it hands out a stream whose first read fails with `EINVAL`.)
#[test]
fn l93_a_unix_listener_with_a_full_backlog_fails_the_connect_with_eagain() {
    use socket2::{Domain, SockAddr, Socket, Type};
    let dir = temp_dir("server-unix-full-backlog");
    let path = dir.join("full.sock");
    let listener = Socket::new(Domain::UNIX, Type::STREAM, None).unwrap();
    listener.bind(&SockAddr::unix(&path).unwrap()).unwrap();
    listener.listen(1).unwrap();
    let mut queued = Vec::new();
    for _ in 0..64 {
        let s = Socket::new(Domain::UNIX, Type::STREAM, None).unwrap();
        s.set_nonblocking(true).unwrap();
        match s.connect(&SockAddr::unix(&path).unwrap()) {
            Ok(()) => queued.push(s),
            Err(e) if e.raw_os_error() == Some(libc::EAGAIN) => break,
            Err(e) => panic!("filling the backlog: {e}"),
        }
    }
    assert!(
        !queued.is_empty() && queued.len() < 64,
        "backlog never filled"
    );
    let lp = EventLoop::new().unwrap();
    let p = path.clone();
    let got = lp
        .run_until_complete(asyncio::timeout(BOUND, async move {
            asyncio::open_unix_connection(&p).await.map(drop)
        }))
        .unwrap();
    let err = match got {
        Ok(Err(e)) => e,
        Ok(Ok(())) => panic!("connected to a listener whose backlog is full"),
        Err(e) => panic!("the connect waited for a writable edge ({e:?})"),
    };
    assert_eq!(err.raw_os_error(), Some(libc::EAGAIN), "{err}");
    assert!(err.to_string().contains("full.sock"), "{err}");
    assert_eq!(lp.stats().io_registrations, 0, "the socket is closed");
}

// Checklist: L114, L119, L120. CPython: SelectorEventLoopUnixSocketTests.
// test_create_unix_server_path_stream_bittype, UnixServerCleanupTests.
// test_unix_server_sock_cleanup. A bound Unix stream socket created with SOCK_NONBLOCK |
// SOCK_CLOEXEC in its type is still a stream socket: served, closed, and its file removed.
#[test]
fn l114_l120_test_create_unix_server_path_stream_bittype() {
    use socket2::{Domain, Socket, Type};
    let lp = EventLoop::new().unwrap();
    let dir = temp_dir("server-bittype");
    let path = dir.join("bits.sock");
    let sock = Socket::new(Domain::UNIX, Type::STREAM.nonblocking().cloexec(), None).unwrap();
    sock.bind(&socket2::SockAddr::unix(&path).unwrap()).unwrap();
    let listener = UnixListener::from(std::os::fd::OwnedFd::from(sock));
    let server = lp
        .run_until_complete(lp.create_unix_server(Echo::default, "").sock(listener))
        .unwrap()
        .unwrap();
    check_unix_echo(&lp, &path);
    shut(&lp, &server);
    assert!(
        !path.exists(),
        "the sock= variant is cleaned up like a path"
    );
    assert_eq!(lp.stats().io_registrations, 0);
}

// CPython: EventLoopTestsMixin.test_create_unix_server_path_socket_error
#[test]
fn l114_test_create_unix_server_path_socket_error() {
    // A path and a socket together: refused before anything is bound, and no file is made.
    let lp = EventLoop::new().unwrap();
    let dir = temp_dir("l114-path-sock");
    let sock = UnixListener::bind(dir.join("given.sock")).unwrap();
    let path = dir.join("test.sock");
    let r = lp
        .run_until_complete(lp.create_unix_server(Echo::default, &path).sock(sock))
        .unwrap();
    assert!(
        matches!(&r, Err(Error::InvalidArgument(m))
            if m == "path and sock can not be specified at the same time"),
        "L114: {:?}",
        r.map(drop)
    );
    assert!(!path.exists());
}
