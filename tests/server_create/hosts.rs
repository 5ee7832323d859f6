//! Hosts (L97, L98, L99): the empty host (IPv4 and IPv6 sockets of their own), an empty host
//! list, an empty name in a list, several hosts resolved inside the server's own future, a
//! host listed twice, CPython's multiple-hosts, dual-stack and IPv6 ports.

use super::*;

// CPython: BaseEventLoopWithSelectorTests.test_create_server_empty_host
#[test]
fn l97_l98_empty_host_binds_ipv4_and_ipv6_separately() {
    let lp = EventLoop::new().unwrap();
    let server = tcp_server(&lp, "");
    let addrs = inet(&server);
    let v4: Vec<_> = addrs.iter().filter(|a| a.is_ipv4()).collect();
    assert_eq!(v4.len(), 1, "L97: one IPv4 wildcard socket in {addrs:?}");
    assert!(v4[0].ip().is_unspecified() && v4[0].port() != 0);
    check_tcp_echo(&lp, SocketAddr::from(([127, 0, 0, 1], v4[0].port())));
    if have_ipv6() {
        let v6: Vec<_> = addrs.iter().filter(|a| a.is_ipv6()).collect();
        assert_eq!(v6.len(), 1, "L97: one IPv6 wildcard socket in {addrs:?}");
        assert!(v6[0].ip().is_unspecified() && v6[0].port() != 0);
        // L98: IPV6_V6ONLY, so this is a socket of its own with its own OS-chosen port.
        let loopback6: SocketAddr = format!("[::1]:{}", v6[0].port()).parse().unwrap();
        check_tcp_echo(&lp, loopback6);
    }
    shut(&lp, &server);
}

/// An empty list of hosts is no host at all, not "every interface": CPython 3.13 raises
/// OSError('could not bind on any address out of []') (3.11 returned a server without
/// sockets). It used to bind 0.0.0.0 and :: as an empty host does, so a server configured
/// with no listen address listened on every interface.
// Checklist: L97, L99.
#[test]
fn l97_l99_an_empty_host_list_binds_nothing() {
    let lp = EventLoop::new().unwrap();
    let none: [&str; 0] = [];
    for (call, r) in servers_on_hosts(&lp, &none) {
        assert!(
            matches!(&r, Err(Error::Io(e)) if e.kind() == io::ErrorKind::AddrNotAvailable
                && e.to_string() == "could not bind on any address out of []"),
            "{call} hosts []: {:?}",
            r.as_ref().map(Server::sockets)
        );
    }
    // A list given, even an empty one, is a host for the sock= conflict (host=[] is not None).
    assert_host_list_conflicts_with_sock(&lp, &none);
}

/// A server on `hosts` from each entry point, named: `create_server` (a protocol server, host
/// "") and `start_server` (a streams server, host 127.0.0.1); the list stands for the host.
fn servers_on_hosts(lp: &EventLoop, hosts: &[&str]) -> [(&'static str, Result<Server, Error>); 2] {
    let created = lp.run_until_complete(lp.create_server(Echo::default, "", 0).hosts(hosts));
    let started = lp.run_until_complete(async move {
        let noop = |_r: asyncio::StreamReader, w: asyncio::StreamWriter| w.close();
        asyncio::start_server(noop, "127.0.0.1", 0)
            .hosts(hosts)
            .await
    });
    [
        ("create_server", created.unwrap()),
        ("start_server", started.unwrap()),
    ]
}

/// `hosts` with a socket given (in either order) is the host/port-and-sock conflict (L96).
fn assert_host_list_conflicts_with_sock(lp: &EventLoop, hosts: &[&str]) {
    for hosts_first in [true, false] {
        let listener = TcpListener::bind("127.0.0.1:0").unwrap();
        let builder = lp.create_server(Echo::default, "", 0);
        let builder = match hosts_first {
            true => builder.hosts(hosts).sock(listener),
            false => builder.sock(listener).hosts(hosts),
        };
        let r = lp.run_until_complete(builder).unwrap();
        assert!(
            is_host_port_and_sock(&r),
            "L96, hosts {hosts:?} given first: {hosts_first}: {:?}",
            r.as_ref().map(Server::sockets)
        );
    }
}

/// An empty name inside a host list is a name the resolver refuses (CPython 3.11:
/// `start_server(host=['', '127.0.0.1'])` and `host=['']` raise `gaierror(-2, 'Name or service
/// not known')`); only a lone empty host means every interface. It used to be dropped from the
/// list, so `['', '127.0.0.1']` served 127.0.0.1 alone and `['']` bound nothing.
// Checklist: L97.
#[test]
fn l97_an_empty_name_in_a_host_list_is_the_resolvers_no_name_error() {
    let lp = EventLoop::new().unwrap();
    let no_name = |r: &Result<Server, Error>| {
        matches!(r, Err(e @ Error::Io(io)) if io.kind() == io::ErrorKind::NotFound
            && e.raw_os_error() == Some(-2)
            && io.to_string().starts_with("[Errno -2] Name or service not known"))
    };
    for hosts in [&["", "127.0.0.1"][..], &["127.0.0.1", ""][..], &[""][..]] {
        for (call, r) in servers_on_hosts(&lp, hosts) {
            assert!(
                no_name(&r),
                "{call} hosts {hosts:?}: {:?}",
                r.as_ref().map(Server::sockets)
            );
        }
    }
    // With sock=, a list holding "" is a host given: the host/port conflict, as for Python.
    assert_host_list_conflicts_with_sock(&lp, &[""]);
}

// Checklist: L97. Several hosts are looked up at once inside the server's own future, not in
// tasks of whatever loop runs (`asyncio::spawn` panics where none does): a create_server
// awaited by another executor, or polled by hand as here, binds its literal hosts as it binds
// one.
#[test]
fn l97_several_hosts_are_resolved_without_tasks_of_the_running_loop() {
    use std::future::{Future, IntoFuture};
    use std::task::{Context, Poll, Waker};
    let lp = EventLoop::new().unwrap();
    for hosts in [&["127.0.0.1"][..], &["127.0.0.1", "127.0.0.2"]] {
        let fut = lp
            .create_server(Echo::default, "", 0)
            .hosts(hosts)
            .start_serving(false)
            .into_future();
        let mut fut = std::pin::pin!(fut);
        let polled = std::panic::catch_unwind(AssertUnwindSafe(|| {
            fut.as_mut().poll(&mut Context::from_waker(Waker::noop()))
        }));
        let Ok(Poll::Ready(Ok(server))) = polled else {
            panic!("{hosts:?}: not bound at the first poll outside a running loop");
        };
        assert_eq!(inet(&server).len(), hosts.len(), "{hosts:?}");
        shut(&lp, &server);
    }
}

#[test]
fn l97_a_host_listed_twice_binds_once() {
    let lp = EventLoop::new().unwrap();
    let server = lp
        .run_until_complete(
            lp.create_server(Echo::default, "", 0)
                .hosts(&["127.0.0.1", "127.0.0.1"]),
        )
        .unwrap()
        .unwrap();
    assert_eq!(inet(&server).len(), 1, "L97: de-duplicated");
    check_tcp_echo(&lp, first_inet(&server));
    shut(&lp, &server);
    if have_ipv6() {
        let server = lp
            .run_until_complete(lp.create_server(Echo::default, "", 0).hosts(&[
                "127.0.0.1",
                "::1",
                "::1",
            ]))
            .unwrap()
            .unwrap();
        let addrs = inet(&server);
        assert_eq!(addrs.len(), 2, "L97: two hosts, two sockets: {addrs:?}");
        for addr in addrs {
            check_tcp_echo(&lp, addr);
        }
        shut(&lp, &server);
    }
}

/// Serves `hosts` (port 0) and returns the set of addresses the server listens on.
fn hosts_served(lp: &EventLoop, hosts: &[&str]) -> std::collections::BTreeSet<String> {
    let server = lp
        .run_until_complete(lp.create_server(Echo::default, "", 0).hosts(hosts))
        .unwrap()
        .unwrap();
    let served = inet(&server).iter().map(|a| a.ip().to_string()).collect();
    for addr in inet(&server) {
        check_tcp_echo(lp, addr);
    }
    shut(lp, &server);
    served
}

// CPython: EventLoopTestsMixin.test_create_server_multiple_hosts_ipv4
#[test]
fn l97_test_create_server_multiple_hosts_ipv4() {
    // Real loopback addresses in place of the mocked ones; the one listed twice binds once.
    let lp = EventLoop::new().unwrap();
    let served = hosts_served(&lp, &["127.0.0.1", "127.0.0.2", "127.0.0.1"]);
    assert_eq!(
        served.into_iter().collect::<Vec<_>>(),
        ["127.0.0.1", "127.0.0.2"]
    );
}

// CPython: EventLoopTestsMixin.test_create_server_multiple_hosts_ipv6
#[test]
fn l97_test_create_server_multiple_hosts_ipv6() {
    // `::1` and the IPv6 wildcard stand for the mocked `::1` and `::2` (a host has one IPv6
    // loopback address).
    if !have_ipv6() {
        return;
    }
    let lp = EventLoop::new().unwrap();
    let served = hosts_served(&lp, &["::1", "::", "::1"]);
    assert_eq!(served.into_iter().collect::<Vec<_>>(), ["::", "::1"]);
}

// CPython: EventLoopTestsMixin.test_create_server_dual_stack
#[test]
fn l97_l98_test_create_server_dual_stack() {
    // No host and one port: an IPv4 and an IPv6 socket on that port, each reachable by its
    // own loopback. The port is one found free a moment before, so, as CPython, up to five
    // tries when another process took it meanwhile.
    if !have_ipv6() {
        return;
    }
    let lp = EventLoop::new().unwrap();
    let mut tries = 0;
    let (server, port) = loop {
        let port = TcpListener::bind("127.0.0.1:0")
            .unwrap()
            .local_addr()
            .unwrap()
            .port();
        match lp
            .run_until_complete(lp.create_server(Echo::default, "", port))
            .unwrap()
        {
            Ok(server) => break (server, port),
            Err(Error::Io(e)) if e.kind() == io::ErrorKind::AddrInUse && tries < 5 => tries += 1,
            Err(e) => panic!("{e:?}"),
        }
    };
    assert!(inet(&server).iter().all(|a| a.port() == port));
    check_tcp_echo(&lp, SocketAddr::from(([127, 0, 0, 1], port)));
    check_tcp_echo(&lp, format!("[::1]:{port}").parse().unwrap());
    shut(&lp, &server);
}

// CPython: BaseEventLoopWithSelectorTests.test_create_server_ipv6
#[test]
fn l97_l99_test_create_server_ipv6() {
    // start_server on `::1`, port 0: at least one socket; skipped, as CPython, where `::1`
    // cannot be bound (EADDRNOTAVAIL).
    let lp = EventLoop::new().unwrap();
    let r = lp
        .run_until_complete(async {
            asyncio::start_server(
                |_r: asyncio::StreamReader, w: asyncio::StreamWriter| w.close(),
                "::1",
                0,
            )
            .await
        })
        .unwrap();
    let server = match r {
        Ok(server) => server,
        Err(Error::Io(e)) if e.kind() == io::ErrorKind::AddrNotAvailable => return,
        Err(e) => panic!("{e:?}"),
    };
    assert!(!server.sockets().is_empty());
    assert!(inet(&server).iter().all(|a| a.is_ipv6()));
    shut(&lp, &server);
}
