//! A busy or misbehaving app protocol over TLS (L44, L83, T22): every callback later and in
//! order, every action from every callback keeping the grammar.

use super::*;

/// Issue #12, the seam on the TLS side: the app protocol is held by a task across turns
/// while its data, EOF and connection_lost arrive; each comes afterwards, once, in order
/// (L44, T22), and no decrypted byte is lost.
#[test]
fn l44_t22_a_busy_app_protocol_gets_every_callback_later_in_order() {
    let (lp, server, port) = loop_and_tls_echo_server();
    let (t, proto) = recorder_over_tls(&lp, port);
    let p = proto.clone();
    // Holding the borrow across awaits is the point: a user may do it.
    #[allow(clippy::await_holding_refcell_ref)]
    lp.spawn(async move {
        let guard = p.borrow_mut();
        // Long enough for the echo, the server's close and our EOF to arrive meanwhile.
        asyncio::sleep(Duration::from_millis(100)).await;
        drop(guard);
    })
    .unwrap()
    .detach();
    lp.run_once(Some(Duration::ZERO)).unwrap();
    // The echo comes back and the connection closes while the app is held.
    t.write(b"ping").unwrap();
    t.close();
    // Bounded in time: while the app is held, the layer retries every turn (no blocking).
    let start = Instant::now();
    while !proto.try_borrow().is_ok_and(|p| p.lost) {
        assert!(start.elapsed() < BOUND, "connection_lost never came");
        lp.run_once(Some(Duration::from_millis(10))).unwrap();
    }
    let p = proto.borrow();
    tls_helpers::assert_ping_echoed_then_a_clean_end(
        &p,
        "no decrypted byte lost while the app was busy",
    );
    drop(p);
    server.close();
    util::run_until(&lp, 1000, || server.connection_count() == 0);
}

/// Issue #12, the TLS side of the seam: from inside connection_made or data_received, an app
/// protocol writes, closes, aborts or pauses reading; the grammar holds (the Recorder asserts
/// it) and connection_lost comes once, last.
#[test]
fn l44_l83_every_action_from_every_callback_keeps_the_grammar_over_tls() {
    type Act = fn(&Transport);
    let actions: [(&str, Act); 4] = [
        ("write", |t| t.write(b"more").unwrap()),
        ("close", |t| t.close()),
        ("abort", |t| t.abort()),
        ("pause_reading", |t| t.pause_reading()),
    ];
    let (lp, server, port) = loop_and_tls_echo_server();
    for (name, act) in actions {
        for callback in ["connection_made", "data_received"] {
            let mut rec = Recorder::default();
            if callback == "connection_made" {
                rec.on_made = Some(Box::new(move |t: &Transport| {
                    t.write(b"ping").unwrap();
                    act(t)
                }));
            } else {
                rec.on_made = Some(Box::new(|t: &Transport| t.write(b"ping").unwrap()));
                rec.on_data = Some(Box::new(move |t: &Transport, _: &[u8]| act(t)));
            }
            let (t, proto) = tls_helpers::this_recorder_over_tls(&lp, port, rec);
            for _ in 0..20 {
                lp.run_once(Some(Duration::from_millis(2))).unwrap();
                if proto.borrow().lost {
                    break;
                }
            }
            t.close(); // in case the action left it open
            util::run_until(&lp, 200, || proto.borrow().lost);
            let calls = proto.borrow().calls.clone();
            util::assert_made_first_lost_once_last(&calls, &format!("{name} in {callback}"));
        }
    }
    server.close();
    util::run_until(&lp, 1000, || server.connection_count() == 0);
}
