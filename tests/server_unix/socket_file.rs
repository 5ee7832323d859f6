//! The socket file: a stale socket (or a link to one) is replaced, a regular file or a missing
//! directory fails the bind, and the file is removed on close unless cleanup is off or it was
//! replaced, vanished or became a link (L115, L116, L119).

use super::*;

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
