//! Behaviours that a report found wrong (issue #13, tried side by side with CPython 3.11), each
//! pinned by the checklist id it concerns. Network tests use 127.0.0.1 and ports from the OS;
//! Unix sockets live in a fresh temp dir.

mod util;

use std::io::ErrorKind;
use std::net::TcpListener;
use std::time::Duration;

use asyncio::Error;
use util::Panicky;

/// Runs `fut` on a fresh loop, bounded.
fn run<F: std::future::IntoFuture + 'static>(fut: F) -> F::Output {
    asyncio::run(asyncio::timeout(Duration::from_secs(20), fut.into_future()))
        .unwrap()
        .expect("timed out")
}

/// A port nothing listens on: bound, then released.
fn closed_port() -> u16 {
    let l = TcpListener::bind("127.0.0.1:0").unwrap();
    l.local_addr().unwrap().port()
}

#[test]
fn l87_a_refused_connect_keeps_errno_and_says_where() {
    let port = closed_port();
    let e = run(async move { asyncio::open_connection("127.0.0.1", port).await.map(drop) })
        .unwrap_err();
    assert_eq!(e.kind(), ErrorKind::ConnectionRefused, "{e:?}");
    assert_eq!(e.raw_os_error(), Some(libc::ECONNREFUSED), "{e:?}");
    assert_eq!(
        e.to_string(),
        format!("[Errno 111] Connect call failed 127.0.0.1:{port}")
    );
}

#[test]
fn l99_a_port_in_use_keeps_errno_and_names_the_address() {
    let taken = TcpListener::bind("127.0.0.1:0").unwrap();
    let port = taken.local_addr().unwrap().port();
    let e = run(async move {
        asyncio::start_server(
            |_r: asyncio::StreamReader, _w: asyncio::StreamWriter| async {},
            "127.0.0.1",
            port,
        )
        .await
        .map(drop)
    })
    .unwrap_err();
    assert_eq!(e.kind(), ErrorKind::AddrInUse, "{e:?}");
    assert_eq!(e.raw_os_error(), Some(libc::EADDRINUSE), "{e:?}");
    assert!(
        e.to_string().contains(&format!("127.0.0.1:{port}")),
        "names the address: {e}"
    );
}

#[test]
fn l111_unix_errors_keep_errno_and_name_the_path() {
    let dir = util::temp_dir("regress-unix");
    // A regular file where the server wants its socket: EADDRINUSE, as CPython.
    let file = dir.join("not-a-socket");
    std::fs::write(&file, b"x").unwrap();
    let f = file.clone();
    let e = run(async move {
        asyncio::start_unix_server(
            |_r: asyncio::StreamReader, _w: asyncio::StreamWriter| async {},
            &f,
        )
        .await
        .map(drop)
    })
    .unwrap_err();
    assert_eq!(e.kind(), ErrorKind::AddrInUse, "{e:?}");
    assert_eq!(e.raw_os_error(), Some(libc::EADDRINUSE), "{e:?}");
    assert!(e.to_string().contains(&*file.to_string_lossy()), "{e}");
    assert_eq!(
        std::fs::read(&file).unwrap(),
        b"x",
        "the file is left alone"
    );

    // Connecting to a path where nothing is: ENOENT, the path in the message.
    let missing = dir.join("missing.sock");
    let m = missing.clone();
    let e = run(async move { asyncio::open_unix_connection(&m).await.map(drop) }).unwrap_err();
    assert_eq!(e.kind(), ErrorKind::NotFound, "{e:?}");
    assert_eq!(e.raw_os_error(), Some(libc::ENOENT), "{e:?}");
    assert_eq!(
        e.to_string(),
        format!(
            "[Errno 2] No such file or directory: '{}'",
            missing.display()
        )
    );
    let _ = std::fs::remove_dir_all(&dir);
}

#[test]
fn l86_an_empty_host_connects_to_loopback_as_cpython_does() {
    // CPython: open_connection(None, port) resolves getaddrinfo(None, port): the loopbacks.
    let l = TcpListener::bind("127.0.0.1:0").unwrap();
    let port = l.local_addr().unwrap().port();
    let peer = run(async move {
        let (_r, w) = asyncio::open_connection("", port).await.unwrap();
        let peer = w.get_extra_info("peername");
        w.close();
        let _ = w.wait_closed().await;
        peer
    });
    assert!(
        format!("{peer:?}").contains(&format!("127.0.0.1:{port}")),
        "{peer:?}"
    );
    drop(l);
}

#[test]
fn l87_a_failed_connect_error_is_the_same_for_every_waiter_and_chain() {
    // The error keeps its errno through Error -> io::Error -> Error (the ? operator both ways).
    let port = closed_port();
    let e = run(async move { asyncio::open_connection("127.0.0.1", port).await.map(drop) })
        .unwrap_err();
    let io: std::io::Error = e.into();
    assert_eq!(io.kind(), ErrorKind::ConnectionRefused);
    let back = Error::from(io);
    assert_eq!(back.raw_os_error(), Some(libc::ECONNREFUSED));
}

// An OS error the crate wrote a message for (naming the address or path) keeps its errno in
// `Error::raw_os_error`, and through `?` into an io::Error its message and kind: an io::Error
// holds a number or a message, not both, and the message says which connection failed (std's
// raw_os_error() is None there: the documented trade of `From<Error> for io::Error`).
#[test]
fn l87_l99_l111_an_os_error_with_our_message_keeps_errno_here_and_its_text_as_an_io_error() {
    let as_io = |e: Error| -> std::io::Error {
        let errno = e.raw_os_error();
        let io: std::io::Error = e.into();
        assert!(errno.is_some(), "{io:?}");
        assert_eq!(io.raw_os_error(), None, "{io:?}");
        io
    };
    let port = closed_port();
    let refused = run(async move { asyncio::open_connection("127.0.0.1", port).await.map(drop) })
        .unwrap_err();
    assert!(
        refused.to_string().contains("Connect call failed"),
        "{refused}"
    );
    assert_eq!(refused.raw_os_error(), Some(libc::ECONNREFUSED));
    let io = as_io(refused);
    assert!(
        io.to_string().contains(&format!("127.0.0.1:{port}")),
        "{io}"
    );
    assert_eq!(io.kind(), ErrorKind::ConnectionRefused);

    let taken = TcpListener::bind("127.0.0.1:0").unwrap();
    let port = taken.local_addr().unwrap().port();
    let in_use = run(async move {
        let cb = |_r: asyncio::StreamReader, _w: asyncio::StreamWriter| async {};
        asyncio::start_server(cb, "127.0.0.1", port).await.map(drop)
    })
    .unwrap_err();
    assert!(
        in_use.to_string().contains("attempting to bind"),
        "{in_use}"
    );
    assert_eq!(in_use.raw_os_error(), Some(libc::EADDRINUSE));
    let io = as_io(in_use);
    assert!(io.to_string().contains("attempting to bind"), "{io}");
    assert_eq!(io.kind(), ErrorKind::AddrInUse);

    let dir = util::temp_dir("regress-errno");
    let missing = dir.join("missing.sock");
    let m = missing.clone();
    let absent = run(async move { asyncio::open_unix_connection(&m).await.map(drop) }).unwrap_err();
    assert!(absent.to_string().contains("missing.sock"), "{absent}");
    assert_eq!(absent.raw_os_error(), Some(libc::ENOENT));
    let io = as_io(absent);
    assert!(io.to_string().contains("missing.sock"), "{io}");
    assert_eq!(io.kind(), ErrorKind::NotFound);

    if cfg!(all(target_os = "linux", target_env = "gnu")) {
        let no_family = run(async move {
            asyncio::open_connection("127.1", port)
                .family(asyncio::AddressFamily::Inet6)
                .await
                .map(drop)
        })
        .unwrap_err();
        assert_eq!(no_family.raw_os_error(), Some(-9), "{no_family:?}"); // EAI_ADDRFAMILY
        let io = as_io(no_family);
        assert_eq!(io.kind(), ErrorKind::InvalidInput);
        assert!(io.to_string().contains("(resolving 127.1:"), "{io}");
    }
}

#[test]
fn l56_the_socket_extra_info_is_gone_once_the_transport_is_closed() {
    // CPython's socket.fileno() is -1 after close; ours returned the closed descriptor's
    // number, which the OS hands to the next open file.
    let l = TcpListener::bind("127.0.0.1:0").unwrap();
    let port = l.local_addr().unwrap().port();
    let (open, closed) = run(async move {
        let (_r, w) = asyncio::open_connection("127.0.0.1", port).await.unwrap();
        let open = w.get_extra_info("socket");
        w.close();
        let _ = w.wait_closed().await;
        (open, w.get_extra_info("socket"))
    });
    assert!(
        matches!(open, Some(asyncio::ExtraInfo::Fd(fd)) if fd >= 0),
        "{open:?}"
    );
    assert!(closed.is_none(), "{closed:?}");
    drop(l);
}

// Checklist: L86. A name whose addresses are all of another family than asked: CPython passes
// the family to getaddrinfo, whose own gaierror comes back (glibc: `[Errno -9] Address family
// for hostname not supported`), never `getaddrinfo() returned empty list`. `127.1` is an IPv4
// address getaddrinfo parses itself (inet_aton's short form, no name server asked) and the
// crate's literal parser does not, so it goes through the resolver thread, as in CPython.
#[test]
fn l86_a_name_with_only_addresses_of_the_other_family_is_the_resolvers_error() {
    let port = closed_port();
    let conn = run(async move {
        asyncio::open_connection("127.1", port)
            .family(asyncio::AddressFamily::Inet6)
            .await
            .map(drop)
    })
    .unwrap_err();
    let serve = run(async {
        asyncio::start_server(
            |_r: asyncio::StreamReader, w: asyncio::StreamWriter| w.close(),
            "127.1",
            0,
        )
        .family(asyncio::AddressFamily::Inet6)
        .await
        .map(drop)
    })
    .unwrap_err();
    for (e, port) in [(conn, port), (serve, 0)] {
        let text = e.to_string();
        assert!(!text.contains("returned empty list"), "{text}");
        if cfg!(all(target_os = "linux", target_env = "gnu")) {
            assert_eq!(e.raw_os_error(), Some(-9), "{e:?}"); // glibc's EAI_ADDRFAMILY
            assert_eq!(e.kind(), ErrorKind::InvalidInput, "{e:?}");
            assert_eq!(
                text,
                format!(
                    "[Errno -9] Address family for hostname not supported (resolving 127.1:{port})"
                )
            );
        }
    }
}

// Checklist: L86. An IP literal of the other family than asked is what CPython makes of it:
// `_ipaddr_info` leaves it to getaddrinfo, whose gaierror (glibc: `[Errno -9] Address family
// for hostname not supported`, errno -9) is the same as for a name with no address of that
// family (the test above). The two paths must not differ in text, kind or code.
#[test]
fn l86_an_ip_literal_of_the_other_family_is_the_same_gaierror_as_a_name() {
    let port = closed_port();
    let conn = |host: &'static str| {
        run(async move {
            asyncio::open_connection(host, port)
                .family(asyncio::AddressFamily::Inet6)
                .await
                .map(drop)
        })
        .unwrap_err()
    };
    let (literal, name) = (conn("127.0.0.1"), conn("127.1"));
    assert_eq!(literal.kind(), ErrorKind::InvalidInput, "{literal:?}");
    assert_eq!(literal.kind(), name.kind(), "{literal:?} vs {name:?}");
    assert_eq!(literal.raw_os_error(), name.raw_os_error(), "{literal:?}");
    if cfg!(all(target_os = "linux", target_env = "gnu")) {
        assert_eq!(
            literal.to_string(),
            format!(
                "[Errno -9] Address family for hostname not supported (resolving 127.0.0.1:{port})"
            )
        );
    }
}

/// `r` is the Unix entry points' refusal of TCP keyword `name`: CPython's TypeError text.
/// `call` says which call it was, for the failure message.
fn assert_unexpected_keyword(r: &Result<(), Error>, name: &str, call: &str) {
    let want = format!("create_unix_connection() got an unexpected keyword argument '{name}'");
    assert!(
        matches!(r, Err(Error::InvalidArgument(m)) if *m == want),
        "{call} with {name}: {r:?}"
    );
}

// Checklist: L111, S3. create_unix_connection (and open_unix_connection, which forwards its
// keywords to it) takes none of create_connection's TCP keywords: CPython raises TypeError
// ("unexpected keyword argument"), before any I/O. Ours shares the builder, and used to ignore
// them: the connect went ahead without the bind or the family asked for.
#[test]
fn l111_s3_the_unix_entry_points_refuse_the_tcp_keywords() {
    let dir = util::temp_dir("unix-tcp-keywords");
    let path = dir.join("s.sock");
    let listener = std::os::unix::net::UnixListener::bind(&path).unwrap();
    listener.set_nonblocking(true).unwrap();
    type Setter = fn(asyncio::OpenConnection) -> asyncio::OpenConnection;
    let cases: [(&str, Setter); 4] = [
        ("local_addr", |c| c.local_addr("127.0.0.1", 0)),
        ("family", |c| c.family(asyncio::AddressFamily::Inet)),
        ("happy_eyeballs_delay", |c| {
            c.happy_eyeballs_delay(Duration::from_millis(250))
        }),
        ("interleave", |c| c.interleave(1)),
    ];
    for (name, set) in cases {
        let p = path.clone();
        let e = run(async move { set(asyncio::open_unix_connection(&p)).await.map(drop) });
        assert_unexpected_keyword(&e, name, "open_unix_connection");
    }
    // The loop method, and a socket given in place of the path: the same rule.
    let p = path.clone();
    let e = run(async move {
        let lp = asyncio::get_running_loop()?;
        lp.create_unix_connection(|| Quiet, &p)
            .family(asyncio::AddressFamily::Inet6)
            .await
            .map(drop)
    });
    assert_unexpected_keyword(&e, "family", "create_unix_connection");
    let (a, _b) = asyncio::socketpair().unwrap();
    let e = run(async move {
        asyncio::open_unix_connection("")
            .sock(a)
            .local_addr("127.0.0.1", 0)
            .await
            .map(drop)
    });
    assert_unexpected_keyword(&e, "local_addr", "open_unix_connection(sock)");
    // Refused before any I/O: the listener never saw a connection.
    let accepted = listener.accept().map(drop);
    assert_eq!(
        accepted.map_err(|e| e.kind()),
        Err(ErrorKind::WouldBlock),
        "a refused call connected"
    );
    // The TCP entry point with a socket ignores local_addr, as CPython's create_connection does.
    let (a, _b) = asyncio::socketpair().unwrap();
    let ok = run(async move {
        let (_r, w) = asyncio::open_connection_sock(a)
            .local_addr("127.0.0.1", 0)
            .await?;
        w.close();
        Ok::<_, Error>(())
    });
    assert!(ok.is_ok(), "{ok:?}");
}

// Checklist: L111, S3. A TCP keyword given to a Unix entry point is refused before the
// conflicts of its arguments (a path and a socket, a socket of the wrong kind): Python refuses
// the call itself (TypeError) before its body can raise the ValueError. Ours reported the
// conflict first.
#[test]
fn l111_s3_a_tcp_keyword_is_refused_before_the_path_and_sock_conflict() {
    let dir = util::temp_dir("unix-keyword-first");
    let path = dir.join("s.sock");
    // A path and a socket.
    let (a, _b) = asyncio::socketpair().unwrap();
    let p = path.clone();
    let e = run(async move {
        asyncio::open_unix_connection(&p)
            .sock(a)
            .local_addr("127.0.0.1", 0)
            .await
            .map(drop)
    });
    assert_unexpected_keyword(&e, "local_addr", "open_unix_connection(path, sock)");
    // A TCP socket (over ::1 and 127.0.0.1) where a Unix one is expected, on the loop method.
    for host in ["::1", "127.0.0.1"] {
        let Ok(listener) = std::net::TcpListener::bind((host, 0)) else {
            println!("skipped {host}: cannot bind");
            continue;
        };
        let tcp = std::net::TcpStream::connect(listener.local_addr().unwrap()).unwrap();
        let e = run(async move {
            let lp = asyncio::get_running_loop()?;
            lp.create_unix_connection(|| Quiet, "")
                .sock(tcp)
                .family(asyncio::AddressFamily::Inet)
                .await
                .map(drop)
        });
        assert_unexpected_keyword(
            &e,
            "family",
            &format!("create_unix_connection(TCP sock over {host})"),
        );
    }
}

struct Quiet;
impl asyncio::Protocol for Quiet {}

struct QuietDatagrams;
impl asyncio::DatagramProtocol for QuietDatagrams {}

// Checklist: L86, L87. An empty host is "every interface" only to a server (CPython
// create_server's `host == ''`) and, as documented, to a datagram endpoint's local_addr. On the
// connecting side CPython passes '' to getaddrinfo, which refuses it (`[Errno -2] Name or
// service not known`): a connection's local_addr and a datagram endpoint's remote_addr fail
// with that resolver error, before any socket. They used to bind the wildcard address and
// connect to the loopback address.
#[test]
fn l87_an_empty_host_on_the_connecting_side_is_the_resolvers_no_name_error() {
    let listener = TcpListener::bind("127.0.0.1:0").unwrap();
    let port = listener.local_addr().unwrap().port();
    let local = run(async move {
        asyncio::open_connection("127.0.0.1", port)
            .local_addr("", 0)
            .await
            .map(drop)
    })
    .unwrap_err();
    let peer = std::net::UdpSocket::bind("127.0.0.1:0").unwrap();
    let udp = peer.local_addr().unwrap().port();
    let remote = run(async move {
        let lp = asyncio::get_running_loop()?;
        lp.create_datagram_endpoint(|| QuietDatagrams)
            .remote_addr("", udp)
            .await
            .map(|(t, _)| t.close())
    })
    .unwrap_err();
    for (e, port) in [(local, 0), (remote, udp)] {
        assert!(matches!(e, Error::Io(_)), "{e:?}");
        assert_eq!(e.kind(), ErrorKind::NotFound, "{e:?}");
        assert_eq!(e.raw_os_error(), Some(libc::EAI_NONAME), "{e:?}");
        let text = e.to_string();
        assert!(text.ends_with(&format!("(resolving :{port})")), "{text}");
        if cfg!(all(target_os = "linux", target_env = "gnu")) {
            let want = format!("[Errno -2] Name or service not known (resolving :{port})");
            assert_eq!(text, want);
        }
    }
    // A datagram endpoint's local "" stays any address, as its docs say.
    let bound = run(async {
        let lp = asyncio::get_running_loop()?;
        let (t, _) = lp
            .create_datagram_endpoint(|| QuietDatagrams)
            .local_addr("", 0)
            .family(asyncio::AddressFamily::Inet)
            .await?;
        let addr = t.sockname().and_then(|a| a.as_inet());
        t.close();
        Ok::<_, Error>(addr)
    })
    .unwrap();
    let ip = bound.expect("an inet address").ip();
    assert!(ip.is_unspecified(), "{ip}");
}

// Checklist: L18, L88. An open_connection polled by hand with another executor's waker parks
// that waker on the connecting socket's registration; the writable edge wakes it from inside
// the I/O dispatch. Its panic is reported as a callback's is and the loop goes on, as the
// read-through's and the sendfile's wake-ups of such a waker are (it used to unwind out of
// run_until_complete).
#[test]
fn l18_a_foreign_waker_that_panics_as_its_connect_is_woken_is_reported_and_the_loop_goes_on() {
    use std::future::{Future, IntoFuture};
    use std::task::{Context, Waker};
    let listener = TcpListener::bind("127.0.0.1:0").unwrap();
    let port = listener.local_addr().unwrap().port();
    let lp = asyncio::EventLoop::new().unwrap();
    let seen = util::capture_exceptions(&lp.handle());
    let s = seen.clone();
    let out = lp.run_until_complete(async move {
        let waker = Waker::from(std::sync::Arc::new(Panicky));
        let mut connect = std::pin::pin!(asyncio::open_connection("127.0.0.1", port).into_future());
        let first = connect.as_mut().poll(&mut Context::from_waker(&waker));
        assert!(
            first.is_pending(),
            "the connect did not wait for its writable edge"
        );
        for _ in 0..10_000 {
            if !s.borrow().is_empty() {
                break;
            }
            asyncio::yield_now().await;
        }
        // Polled by its task now, the connect finds the socket connected.
        connect.await.map(drop)
    });
    out.unwrap()
        .expect("the connect, polled by its task, succeeds");
    assert_eq!(
        *seen.borrow(),
        ["Exception in callback I/O readiness wake-up | panicked: foreign waker failed"]
    );
}

/// The writer a [`LooksAtTheStream`] waker looks through, and what it saw there.
mod looked_at {
    use std::cell::{Cell, RefCell};

    thread_local! {
        pub static WRITER: RefCell<Option<asyncio::StreamWriter>> = const { RefCell::new(None) };
        pub static SAW: Cell<Option<Option<usize>>> = const { Cell::new(None) };
    }
}

/// Another executor's waker that, as it is woken, reads the stream's buffer size through
/// the writer filed in [`looked_at::WRITER`] (a waker may call into the stream that woke it).
struct LooksAtTheStream;

impl std::task::Wake for LooksAtTheStream {
    fn wake(self: std::sync::Arc<Self>) {
        looked_at::WRITER.with(|w| {
            if let Some(w) = w.borrow().as_ref() {
                looked_at::SAW.set(Some(w.buffer_info().read_buffered));
            }
        });
    }
}

// Checklist: L18. A read polled by hand with another executor's waker is woken by the
// stream's data_received; that waker is foreign code and may call back into the stream. It
// ran with the stream's state borrowed (inside the protocol call), so its call panicked
// ('already mutably borrowed'), reported as the waker's failure, and it never saw the bytes.
#[test]
fn l18_a_foreign_waker_woken_by_the_stream_may_call_into_that_stream() {
    use std::future::Future;
    use std::io::Write;
    use std::task::{Context, Waker};

    let (a, mut peer) = asyncio::socketpair().unwrap();
    let lp = asyncio::EventLoop::new().unwrap();
    let seen = util::capture_exceptions(&lp.handle());
    let s = seen.clone();
    let got = lp.run_until_complete(async move {
        let (reader, writer) = asyncio::open_connection_sock(a).await.unwrap();
        looked_at::WRITER.with(|w| *w.borrow_mut() = Some(writer));
        let mut read = std::pin::pin!(reader.read(8));
        let waker = Waker::from(std::sync::Arc::new(LooksAtTheStream));
        let polled = read.as_mut().poll(&mut Context::from_waker(&waker));
        assert!(polled.is_pending(), "the read waits, its waker parked");
        peer.write_all(b"x").unwrap();
        for _ in 0..10_000 {
            if looked_at::SAW.get().is_some() || !s.borrow().is_empty() {
                break;
            }
            asyncio::yield_now().await;
        }
        let got = read.await;
        drop(looked_at::WRITER.with(|w| w.borrow_mut().take()));
        got
    });
    assert_eq!(*seen.borrow(), Vec::<String>::new());
    assert_eq!(
        looked_at::SAW.get(),
        Some(Some(1)),
        "the waker saw the byte"
    );
    assert_eq!(got.unwrap().unwrap(), b"x");
}

/// Another executor's waker that only records that it was woken.
#[derive(Default)]
struct Woken(std::sync::atomic::AtomicBool);

impl std::task::Wake for Woken {
    fn wake(self: std::sync::Arc<Self>) {
        self.0.store(true, std::sync::atomic::Ordering::SeqCst);
    }
}

/// On a fresh loop: parks `waker` on a read, lets one byte in, turns the loop until the byte
/// is buffered (the protocol released the waker then, and queued its wake-up), then closes
/// the loop before another turn; returns what `close` said.
fn close_with_a_foreign_wake_up_queued(waker: std::task::Waker) -> Result<(), asyncio::Error> {
    use std::future::Future;
    use std::io::Write;

    let (a, mut peer) = asyncio::socketpair().unwrap();
    let lp = asyncio::EventLoop::new().unwrap();
    let (reader, writer) = lp
        .run_until_complete(asyncio::open_connection_sock(a))
        .unwrap()
        .unwrap();
    let mut read = std::pin::pin!(reader.read(8));
    let polled = read
        .as_mut()
        .poll(&mut std::task::Context::from_waker(&waker));
    assert!(polled.is_pending(), "the read waits, its waker parked");
    peer.write_all(b"x").unwrap();
    for _ in 0..100 {
        lp.run_once(Some(Duration::from_secs(10))).unwrap();
        if util::reader_buffered(&reader) > 0 {
            break;
        }
    }
    assert_eq!(util::reader_buffered(&reader), 1, "the byte arrived");
    let closed = lp.close();
    drop((read, writer));
    closed
}

// Checklist: L18, L16. The foreign wake-up the stream queues for after its protocol call is
// not lost when the loop is closed before it runs (an embedder's one run_once, then close):
// it happens as the queued callback is dropped, and a panic there stays out of close.
#[test]
fn l18_a_foreign_wake_up_queued_by_the_stream_happens_even_if_the_loop_closes_first() {
    let woken = std::sync::Arc::new(Woken::default());
    close_with_a_foreign_wake_up_queued(std::task::Waker::from(woken.clone())).unwrap();
    assert!(
        woken.0.load(std::sync::atomic::Ordering::SeqCst),
        "the foreign waker was woken"
    );
    let panicky = std::task::Waker::from(std::sync::Arc::new(Panicky));
    close_with_a_foreign_wake_up_queued(panicky).unwrap();
}

/// A reader and a writer on one descriptor, both ready in the same poll: the reader runs first
/// (L2) and removes, or replaces, the writer. CPython's `remove_writer`/`add_writer` cancel the
/// writer's handle, already queued, so it does not run; the new writer waits for the next
/// readiness. Here the writer taken before the reader ran was called anyway: a callback called
/// after `remove_writer` had returned `true` (a writer whose fd its reader just closed).
#[test]
fn l17_a_writer_removed_or_replaced_by_its_fds_reader_in_the_same_event_does_not_run() {
    use std::cell::RefCell;
    use std::io::Write;
    use std::os::fd::AsRawFd;
    use std::rc::Rc;

    for replace in [false, true] {
        let (mut peer, end) = std::os::unix::net::UnixStream::pair().unwrap();
        peer.write_all(b"x").unwrap(); // readable, and writable: both in one event
        let lp = asyncio::EventLoop::new().unwrap();
        let fd = end.as_raw_fd();
        let ran = Rc::new(RefCell::new(Vec::<&str>::new()));
        let (log, h) = (ran.clone(), lp.handle());
        lp.add_reader(fd, move || {
            log.borrow_mut().push("reader");
            if replace {
                let log = log.clone();
                h.add_writer(fd, move || log.borrow_mut().push("new writer"))
                    .unwrap();
            } else {
                assert!(h.remove_writer(fd).unwrap());
                h.remove_reader(fd).unwrap(); // one event only
            }
        })
        .unwrap();
        let log = ran.clone();
        lp.add_writer(fd, move || log.borrow_mut().push("old writer"))
            .unwrap();
        lp.run_once(Some(Duration::ZERO)).unwrap();
        assert_eq!(*ran.borrow(), ["reader"], "replace: {replace}");
        if replace {
            lp.remove_reader(fd).unwrap();
            lp.run_once(Some(Duration::ZERO)).unwrap();
            assert_eq!(
                *ran.borrow(),
                ["reader", "new writer"],
                "the new writer, next poll"
            );
            lp.remove_writer(fd).unwrap();
        }
    }
}

/// A waker that counts its wake-ups; its `Arc`'s strong count tells whether a list keeps it.
#[derive(Default)]
struct CountingWaker(std::sync::atomic::AtomicUsize);

impl std::task::Wake for CountingWaker {
    fn wake(self: std::sync::Arc<Self>) {
        self.wake_by_ref();
    }
    fn wake_by_ref(self: &std::sync::Arc<Self>) {
        self.0.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
    }
}

/// S48, S50: a pending `drain()` polled again and again, each time with another waker (a
/// caller that wraps its waker anew at every poll, as some select loops and combinators do),
/// keeps only the last one, which the resume wakes; a drain dropped while it waits keeps none.
/// It used to keep every distinct waker until the next resume (a list growing by one per poll
/// while the peer stayed slow), and a dropped drain's waker until then too.
#[test]
fn s48_a_pending_drain_polled_with_ever_new_wakers_keeps_only_the_last() {
    use std::future::Future;
    use std::sync::Arc;
    use std::task::{Context, Waker};
    let held = |ws: &[Arc<CountingWaker>]| ws.iter().filter(|a| Arc::strong_count(a) > 1).count();
    let lp = asyncio::EventLoop::new().unwrap();
    let (a, b) = asyncio::socketpair().unwrap();
    let ((_r, writer), (peer_reader, _peer_writer)) = lp
        .run_until_complete(async move {
            let a = asyncio::open_connection_sock(a).await.unwrap();
            let b = asyncio::open_connection_sock(b).await.unwrap();
            (a, b)
        })
        .unwrap();
    writer
        .transport()
        .set_write_buffer_limits(Some(64 * 1024), None)
        .unwrap();
    writer.write(&vec![7u8; 4 << 20]).unwrap(); // far above the high-water mark
    let wakers: Vec<Arc<CountingWaker>> = (0..1000).map(|_| Arc::default()).collect();
    let mut drain = writer.drain();
    for (i, a) in wakers.iter().enumerate() {
        let waker = Waker::from(a.clone());
        let polled = std::pin::Pin::new(&mut drain).poll(&mut Context::from_waker(&waker));
        assert!(polled.is_pending(), "poll {i}: the writer is paused");
    }
    assert_eq!(held(&wakers), 1, "wakers kept for one pending drain");
    let got = lp
        .run_until_complete(async move { peer_reader.readexactly(4 << 20).await })
        .unwrap()
        .unwrap();
    assert_eq!(got.len(), 4 << 20);
    for _ in 0..5 {
        lp.run_once(Some(Duration::ZERO)).unwrap();
    }
    let last = wakers.last().unwrap();
    assert_eq!(
        last.0.load(std::sync::atomic::Ordering::Relaxed),
        1,
        "the last is woken"
    );
    assert_eq!(held(&wakers), 0, "a woken drain leaves the list");
    let waker = Waker::from(last.clone());
    let polled = std::pin::Pin::new(&mut drain).poll(&mut Context::from_waker(&waker));
    assert!(polled.is_ready(), "resumed");
    drop(drain);
    // Paused again: a drain dropped while it waits takes its waker with it.
    writer.write(&vec![7u8; 4 << 20]).unwrap();
    let again: Vec<Arc<CountingWaker>> = vec![Arc::default()];
    let mut drain = writer.drain();
    let waker = Waker::from(again[0].clone());
    let polled = std::pin::Pin::new(&mut drain).poll(&mut Context::from_waker(&waker));
    assert!(polled.is_pending());
    drop(waker);
    assert_eq!(held(&again), 1);
    drop(drain);
    assert_eq!(held(&again), 0, "a dropped drain keeps its waker");
    writer.transport().abort();
    for _ in 0..5 {
        lp.run_once(Some(Duration::ZERO)).unwrap();
    }
}

// A user may hold the stream's protocol borrowed (`get_protocol()`, across an `.await`): the
// crate waits for such a borrow instead of panicking. `buffer_info` borrowed the core to count
// the reader's bytes, and panicked ("RefCell already mutably borrowed") while it was held; the
// count is now not said then (`None`), the transport's figures are.
#[test]
fn buffer_info_while_the_user_holds_the_streams_protocol_does_not_panic() {
    let lp = asyncio::EventLoop::new().unwrap();
    let (a, _peer) = asyncio::socketpair().unwrap();
    let (_reader, writer) = lp
        .run_until_complete(asyncio::open_connection_sock(a))
        .unwrap()
        .unwrap();
    let proto = writer.transport().get_protocol().expect("the protocol");
    let held = proto.borrow_mut();
    let info = writer.buffer_info();
    assert_eq!(info.write_buffered, 0);
    drop(held);
    assert_eq!(writer.buffer_info().read_buffered, Some(0));
}

/// A server connection whose reader the handler fed EOF by hand (`feed_eof`), with the
/// handler's reader and writer, the peer and the loop's recorded reports.
type HandFedEof = (
    asyncio::EventLoop,
    asyncio::Server,
    asyncio::StreamReader,
    asyncio::StreamWriter,
    std::net::TcpStream,
    std::rc::Rc<std::cell::RefCell<Vec<String>>>,
);

fn hand_fed_eof() -> HandFedEof {
    use std::cell::RefCell;
    use std::rc::Rc;
    let lp = asyncio::EventLoop::new().unwrap();
    let seen = util::capture_exceptions(&lp.handle());
    let got = Rc::new(RefCell::new(None));
    let slot = got.clone();
    let server = lp
        .run_until_complete(asyncio::start_server(
            move |r: asyncio::StreamReader, w: asyncio::StreamWriter| {
                r.feed_eof();
                *slot.borrow_mut() = Some((r, w));
                async { Ok::<_, Error>(()) }
            },
            "127.0.0.1",
            0,
        ))
        .unwrap()
        .unwrap();
    let peer = std::net::TcpStream::connect(("127.0.0.1", util::port_of(&server))).unwrap();
    util::run_until(&lp, 100, || got.borrow().is_some());
    let (reader, writer) = got.borrow_mut().take().unwrap();
    (lp, server, reader, writer, peer, seen)
}

/// S17, L80: bytes from the peer after the user's own `feed_eof` on a connection's reader.
/// CPython 3.11 (probed): `feed_data` fails its assertion inside `data_received`, the
/// transport reports "Fatal error: protocol.data_received() call failed." and closes with
/// AssertionError('feed_data after feed_eof'), which reads and `wait_closed` then raise; the
/// peer reads EOF. Here it was a panic caught in `get_buffer` in a debug build (reported as
/// a panic, the connection lost with it) and the bytes silently appended in a release one.
#[test]
fn s17_l80_bytes_after_a_hand_fed_eof_fail_the_connection_with_a_typed_error() {
    use std::io::{Read, Write};
    let (lp, server, reader, writer, mut peer, seen) = hand_fed_eof();
    peer.write_all(b"hi").unwrap();
    util::run_until(&lp, 100, || reader.exception().is_some());
    assert!(writer.is_closing());
    let read = lp.run_until_complete(reader.read(10)).unwrap();
    assert!(
        matches!(&read, Err(Error::InvalidState(m)) if m == "feed_data after feed_eof"),
        "{read:?}"
    );
    let closed = lp.run_until_complete(writer.wait_closed()).unwrap();
    assert!(
        matches!(&closed, Err(Error::InvalidState(m)) if m == "feed_data after feed_eof"),
        "{closed:?}"
    );
    assert_eq!(
        *seen.borrow(),
        ["Fatal error: protocol.buffer_updated() call failed. | feed_data after feed_eof"]
    );
    peer.set_read_timeout(Some(Duration::from_secs(10)))
        .unwrap();
    let mut buf = [0u8; 4];
    assert!(matches!(peer.read(&mut buf), Ok(0) | Err(_)), "closed");
    server.close();
}

/// S17: the peer's EOF after the user's own `feed_eof` is no error (CPython reads b'' and
/// calls `eof_received`). A debug build panicked here too: `get_buffer` runs before the read
/// that finds the EOF.
#[test]
fn s17_the_peers_eof_after_a_hand_fed_eof_is_no_error() {
    let (lp, server, reader, writer, peer, seen) = hand_fed_eof();
    peer.shutdown(std::net::Shutdown::Write).unwrap();
    // The EOF read stops reading; the stream keeps the transport open for a reply (S63).
    util::run_until(&lp, 100, || !writer.transport().is_reading());
    assert!(reader.exception().is_none());
    assert!(!writer.is_closing());
    assert_eq!(
        lp.run_until_complete(reader.read(10)).unwrap().unwrap(),
        b""
    );
    writer.close();
    lp.run_until_complete(writer.wait_closed())
        .unwrap()
        .unwrap();
    assert!(seen.borrow().is_empty(), "{:?}", seen.borrow());
    server.close();
}
