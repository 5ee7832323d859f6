//! Inside the protocol's callbacks: a panicking `datagram_received`, `close` and `abort` from
//! inside callbacks, and a pause caused by a `sendto` inside one.

use super::*;

/// A panicking `datagram_received` is reported, and the endpoint goes on receiving (CPython:
/// the exception leaves `_read_ready` for the loop's handler; the transport stays open). The
/// report is a failed loop callback's, with CPython's keys (3.11: {'message': 'Exception in
/// callback _SelectorDatagramTransport._read_ready()', 'exception': .., 'handle': <Handle
/// _SelectorDatagramTransport._read_ready()>}), naming the protocol's method that failed.
#[test]
fn panicking_datagram_received_is_reported_and_the_endpoint_goes_on() {
    let reported = Rc::new(RefCell::new(Vec::new()));
    let seen = reported.clone();
    let silent = run(async move {
        let lp = asyncio::get_running_loop()?;
        let (a, b) = UnixDatagram::pair()?;
        let panicky = || Rec {
            on_datagram: Some(Act::Panic),
            ..Rec::default()
        };
        let seen = seen.clone();
        lp.set_exception_handler(Some(
            move |_: &asyncio::LoopHandle, ctx: &asyncio::ExceptionContext| {
                seen.borrow_mut()
                    .push((ctx.message.clone(), ctx.details.clone()));
            },
        ));
        let (t, p) = lp.create_datagram_endpoint(panicky).sock(a).await?;
        b.send(b"first")?;
        b.send(b"second")?;
        until(&p, |r| r.got.len() == 2).await;
        assert!(!t.is_closing());
        close_and_check(&t, &p).await;
        Ok(())
    });
    assert!(silent.is_empty(), "{silent:?}");
    let call = format!("{}::datagram_received(..)", std::any::type_name::<Rec>());
    let one = (
        format!("Exception in callback {call}"),
        vec![("handle", format!("<Handle {call}>"))],
    );
    assert_eq!(reported.borrow()[..], [one.clone(), one]);
}

/// Re-entrancy: `close` and `abort` from inside `connection_made` and `datagram_received`;
/// the grammar holds and nothing panics on a nested borrow.
#[test]
fn close_and_abort_from_inside_callbacks() {
    for (made, dgram) in [
        (Some(Act::Close), None),
        (Some(Act::Abort), None),
        (None, Some(Act::Close)),
        (None, Some(Act::Abort)),
    ] {
        run_clean(async move {
            let lp = asyncio::get_running_loop()?;
            let (a, b) = UnixDatagram::pair()?;
            let rec = move || Rec {
                on_made: made,
                on_datagram: dgram,
                ..Rec::default()
            };
            let (t, p) = lp.create_datagram_endpoint(rec).sock(a).await?;
            // Closed from connection_made, our end may be gone already: ECONNREFUSED then.
            let _ = b.send(b"one");
            let _ = b.send(b"two");
            until(&p, Rec::lost).await;
            assert!(t.is_closing());
            let calls = p.borrow().calls.clone();
            assert_grammar(&calls);
            let want: &[&str] = match made {
                Some(_) => &["made", "lost(None)"],
                None => &["made", "datagram(3)", "lost(None)"],
            };
            assert_eq!(calls, want, "{made:?} {dgram:?}");
            Ok(())
        });
    }
}

/// A `sendto` inside `datagram_received` that crosses the high-water mark: `pause_writing`
/// comes right after the callback returns, not inside it.
#[test]
fn pause_from_a_sendto_inside_a_callback_comes_after_it() {
    struct Flood {
        rec: Rec,
        inside: bool,
    }
    impl DatagramProtocol for Flood {
        fn connection_made(&mut self, t: DatagramTransport) {
            t.set_write_buffer_limits(Some(2048), Some(0)).unwrap();
            self.rec.connection_made(t);
        }
        fn datagram_received(&mut self, data: &[u8], _addr: Address) {
            self.rec.calls.push(format!("datagram({})", data.len()));
            self.inside = true;
            let t = self.rec.transport.clone().unwrap();
            fill(&t, 2049).unwrap();
            self.inside = false;
            self.rec.calls.push("datagram returns".into());
        }
        fn pause_writing(&mut self) {
            assert!(!self.inside, "pause_writing inside datagram_received");
            self.rec.pause_writing();
        }
        fn connection_lost(&mut self, exc: Option<io::Error>) {
            self.rec.connection_lost(exc);
        }
    }
    run_clean(async {
        let lp = asyncio::get_running_loop()?;
        let (a, b) = stuck_pair()?;
        let flood = || Flood {
            rec: Rec::default(),
            inside: false,
        };
        let (t, p) = lp.create_datagram_endpoint(flood).sock(a).await?;
        b.send(b"go")?;
        for _ in 0..100 {
            if p.borrow().rec.calls.contains(&"pause".to_string()) {
                break;
            }
            asyncio::yield_now().await;
        }
        assert_eq!(
            p.borrow().rec.calls,
            ["made", "datagram(2)", "datagram returns", "pause"]
        );
        t.abort();
        Ok(())
    });
}
