//! Bytes and a lost connection held for a borrowed protocol behind the header: retried
//! sparingly, one retry for the chunks that arrive meanwhile (L44).

use super::*;

/// A server protocol behind `Required` that pauses reading in `connection_made`, so the bytes
/// after the header stay held in the PROXY layer (no swap yet); returns the loop, the server,
/// the client socket, the protocol as the transport holds it, and its transport and log.
#[allow(clippy::type_complexity)]
fn paused_behind_the_header() -> (
    asyncio::EventLoop,
    asyncio::Server,
    std::net::TcpStream,
    asyncio::ProtocolRef,
    asyncio::Transport,
    Rc<RefCell<Vec<String>>>,
) {
    use asyncio::{Protocol, Transport};
    use std::io::Write;
    type Made = Rc<RefCell<Option<Transport>>>;
    struct P(Rc<RefCell<Vec<String>>>, Made);
    impl Protocol for P {
        fn connection_made(&mut self, t: Transport) {
            t.pause_reading();
            *self.1.borrow_mut() = Some(t);
        }
        fn data_received(&mut self, data: &[u8]) {
            self.0
                .borrow_mut()
                .push(format!("data {}", String::from_utf8_lossy(data)));
        }
        fn connection_lost(&mut self, _: Option<std::io::Error>) {
            self.0.borrow_mut().push("lost".into());
        }
    }
    let lp = asyncio::EventLoop::new().unwrap();
    let (calls, made): (Rc<RefCell<Vec<String>>>, Made) = Default::default();
    let (c, m) = (calls.clone(), made.clone());
    let server = lp
        .run_until_complete(
            lp.create_server(move || P(c.clone(), m.clone()), "127.0.0.1", 0)
                .proxy_protocol(ProxyProtocol::Required),
        )
        .unwrap()
        .unwrap();
    let mut client = std::net::TcpStream::connect(("127.0.0.1", util::port_of(&server))).unwrap();
    client.write_all(b"PROXY UNKNOWN\r\nhello").unwrap();
    util::run_until(&lp, 200, || made.borrow().is_some());
    let t = made.borrow().clone().unwrap();
    let proto = t.get_protocol().unwrap();
    (lp, server, client, proto, t, calls)
}

/// L44: bytes the PROXY layer holds for a protocol that a user task keeps borrowed across a
/// 300 ms sleep wait for it without spinning the loop (the next turns, then 1 ms doubling to
/// 64 ms, as the socket and TLS layers wait), then arrive. Retried every turn, this loop turned
/// many thousand times in those 300 ms.
#[test]
fn l44_bytes_held_for_a_borrowed_protocol_are_retried_sparingly() {
    let (lp, server, _client, proto, t, calls) = paused_behind_the_header();
    let turns = util::turns_while_held(&lp, &proto, Duration::from_millis(300), || {
        t.resume_reading()
    });
    assert!(turns <= 80, "{turns} loop turns during a 300 ms hold");
    util::run_until(&lp, 200, || {
        calls.borrow().iter().any(|c| c == "data hello")
    });
    t.close();
    server.close();
}

/// L44: chunks that keep arriving while the protocol is held join the bytes already held:
/// one retry waits for the protocol, not one per chunk (each spaced out on its own timers).
#[test]
fn l44_chunks_arriving_while_the_protocol_is_held_share_one_retry() {
    use std::io::Write;
    let (lp, server, client, proto, t, calls) = paused_behind_the_header();
    let client = Rc::new(RefCell::new(client));
    let turns = util::turns_while_held(&lp, &proto, Duration::from_millis(300), || {
        t.resume_reading();
        for i in 0..30u64 {
            let c = client.clone();
            lp.call_later(Duration::from_millis(5 * i + 5), move || {
                c.borrow_mut().write_all(b"+").unwrap();
            })
            .unwrap();
        }
    });
    // Our 30 timers and the 30 reads they cause take up to 60 turns, the one spaced-out
    // retry about 15 more (one retry per chunk: over 600).
    assert!(turns <= 160, "{turns} loop turns during a 300 ms hold");
    util::run_until(&lp, 200, || {
        calls.borrow().concat().matches('+').count() == 30
    });
    assert!(calls.borrow()[0].starts_with("data hello"));
    t.close();
    server.close();
}

/// L44: connection_lost owed to a protocol that a user task keeps borrowed (the connection
/// aborted while the PROXY layer still relays) waits without spinning, then comes once.
#[test]
fn l44_connection_lost_for_a_borrowed_protocol_is_retried_sparingly() {
    let (lp, server, _client, proto, t, calls) = paused_behind_the_header();
    let turns = util::turns_while_held(&lp, &proto, Duration::from_millis(300), || t.abort());
    assert!(turns <= 80, "{turns} loop turns during a 300 ms hold");
    util::run_until(&lp, 200, || !calls.borrow().is_empty());
    assert_eq!(calls.borrow()[..], ["lost".to_string()]);
    server.close();
}
