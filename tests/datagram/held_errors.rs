//! Send errors and a protocol held elsewhere: one pending delivery, in order, before later
//! datagrams, bounded; and an error from a `sendto` inside `datagram_received` before the next
//! datagram.

use super::*;

/// For the held-protocol tests: an endpoint on `host` whose `connection_made` has run, the
/// port-0 address of its family (a send there fails with `EINVAL`, an error for
/// `error_received`), and a std socket on `host` to send the endpoint datagrams from.
async fn endpoint_with_failing_target(
    host: &'static str,
) -> Result<(DatagramTransport, Shared, Address, std::net::UdpSocket), Error> {
    let lp = asyncio::get_running_loop()?;
    let (t, p) = lp
        .create_datagram_endpoint(Rec::default)
        .local_addr(host, 0)
        .await?;
    until(&p, |r| !r.calls.is_empty()).await;
    let port0 = Address::Inet(std::net::SocketAddr::new(host.parse().unwrap(), 0));
    let peer = std::net::UdpSocket::bind((host, 0))?;
    Ok((t, p, port0, peer))
}

/// Send errors met while the protocol is held elsewhere (a borrow kept across an `.await`)
/// reach `error_received` in order once it is free, through one pending delivery: one queued
/// retry per error made a chain of retries per error, each spacing itself out on its own.
/// CPython calls `error_received` at once (`_sendto_ready`/`sendto`); a held `RefCell` cannot.
/// Port 0 is the kernel's `EINVAL`, a Unix address on a UDP socket our `EAFNOSUPPORT`.
#[test]
#[allow(clippy::await_holding_refcell_ref)] // holding the borrow across an await is the point
fn errors_met_while_the_protocol_is_held_wait_in_one_delivery_in_order() {
    run_clean(async {
        let (t, p) = local_endpoint().await?;
        let lp = asyncio::get_running_loop()?;
        until(&p, |r| !r.calls.is_empty()).await;
        let port0 = Address::Inet("127.0.0.1:0".parse().unwrap());
        let unix = Address::Unix(std::os::unix::net::SocketAddr::from_pathname(
            "/nonexistent/asyncio-test",
        )?);
        let held = p.borrow_mut();
        let ready = lp.stats().ready;
        for i in 0..10 {
            t.sendto(b"x", Some(if i % 2 == 0 { &port0 } else { &unix }))?;
        }
        assert!(
            lp.stats().ready <= ready + 1,
            "{} callbacks queued for 10 errors",
            lp.stats().ready - ready
        );
        asyncio::yield_now().await;
        drop(held);
        until(&p, |r| r.errors.len() >= 10).await;
        let want: Vec<_> = (0..10)
            .map(|i| match i % 2 {
                0 => io::ErrorKind::InvalidInput,
                _ => io::Error::from_raw_os_error(libc::EAFNOSUPPORT).kind(),
            })
            .collect();
        assert_eq!(p.borrow().errors, want);
        close_and_check(&t, &p).await;
        Ok(())
    });
}

/// Errors that waited for a held protocol are delivered before datagrams that arrive once it
/// is free: they were met first (CPython would have called `error_received` then, during the
/// `sendto`). Once the protocol is free, a readable edge used to deliver the new datagrams at
/// once, ahead of the errors still waiting for their retry (on a timer after a long hold).
/// Both families, and a short hold (the retry on the next turn) as well as a long one.
#[test]
#[allow(clippy::await_holding_refcell_ref)] // holding the borrow across an await is the point
fn errors_that_waited_for_the_protocol_come_before_later_datagrams() {
    for host in loopbacks() {
        for turns in [1, 20] {
            run_clean(async move {
                let (t, p, port0, peer) = endpoint_with_failing_target(host).await?;
                let held = p.borrow_mut();
                t.sendto(b"x", Some(&port0))?; // EINVAL: waits for the protocol
                for _ in 0..turns {
                    asyncio::yield_now().await;
                }
                drop(held);
                peer.send_to(b"later", (host, port_of(&t)))?;
                until(&p, |r| !r.errors.is_empty() && !r.got.is_empty()).await;
                assert_eq!(
                    p.borrow().calls,
                    ["made", "error(InvalidInput)", "datagram(5)"],
                    "{host}, held {turns} turns"
                );
                close_and_check(&t, &p).await;
                Ok(())
            });
        }
    }
}

/// A `sendto` that fails inside `datagram_received` reports its error before the next
/// datagram, as CPython's `sendto` calls `error_received` before it returns. The error waits
/// for the callback to end; it used to wait for the rest of the burst too (the read loop went
/// on to the datagrams already queued in the kernel, 16 per edge, before the pending
/// delivery ran): `made, datagram(1), datagram(2), datagram(3), error(InvalidInput)`.
#[test]
fn an_error_from_a_sendto_inside_datagram_received_comes_before_the_next_datagram() {
    for host in loopbacks() {
        run_clean(async move {
            let lp = asyncio::get_running_loop()?;
            let (t, p) = lp
                .create_datagram_endpoint(|| Rec {
                    on_datagram: Some(Act::SendFailing),
                    ..Rec::default()
                })
                .local_addr(host, 0)
                .await?;
            let peer = std::net::UdpSocket::bind((host, 0))?;
            for n in 1..=3 {
                peer.send_to(&vec![0; n], (host, port_of(&t)))?; // one burst: all queued
            }
            until(&p, |r| r.got.len() == 3 && !r.errors.is_empty()).await;
            assert_eq!(
                p.borrow().calls,
                [
                    "made",
                    "datagram(1)",
                    "error(InvalidInput)",
                    "datagram(2)",
                    "datagram(3)"
                ],
                "{host}"
            );
            close_and_check(&t, &p).await;
            Ok(())
        });
    }
}

/// While the protocol is held, at most 1024 errors wait for it; the later ones are dropped.
/// CPython calls error_received during the failing sendto, so nothing waits there; here the
/// queue used to grow by one error per failing sendto for as long as the hold lasted (a
/// borrow kept across awaits, a sender that is never told). Both families.
#[test]
#[allow(clippy::await_holding_refcell_ref)] // holding the borrow across an await is the point
fn the_errors_waiting_for_a_held_protocol_are_bounded() {
    const BOUND: usize = 1024;
    for host in loopbacks() {
        run_clean(async move {
            let (t, p, port0, peer) = endpoint_with_failing_target(host).await?;
            let held = p.borrow_mut();
            for _ in 0..3 * BOUND {
                t.sendto(b"x", Some(&port0))?; // EINVAL: waits for the protocol
            }
            asyncio::yield_now().await;
            drop(held);
            // A datagram after them: once it is in, every waiting error has been delivered.
            peer.send_to(b"later", (host, port_of(&t)))?;
            until(&p, |r| !r.got.is_empty()).await;
            let errors = p.borrow().errors.len();
            assert_eq!(errors, BOUND, "{host}: errors delivered after the hold");
            assert_eq!(
                p.borrow().calls.last().map(String::as_str),
                Some("datagram(5)")
            );
            // Free again, the protocol hears every error at once.
            t.sendto(b"x", Some(&port0))?;
            assert_eq!(p.borrow().errors.len(), BOUND + 1, "{host}: after the hold");
            close_and_check(&t, &p).await;
            Ok(())
        });
    }
}
