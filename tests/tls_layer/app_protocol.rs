//! The app protocol above the TLS layer: its misuse reported (T29, L51), a protocol a user
//! task holds borrowed across awaits (L44, T22), and set_protocol switching it (T6).

use super::*;

/// A buffered protocol whose `get_buffer` lends nothing (a bug in it).
#[derive(Default)]
struct EmptyBuffer {
    transport: Option<Transport>,
    lost: Option<Option<io::ErrorKind>>,
}

impl asyncio::Protocol for EmptyBuffer {
    fn connection_made(&mut self, t: Transport) {
        t.write(b"ping\n").unwrap();
        self.transport = Some(t);
    }
    fn connection_lost(&mut self, exc: Option<io::Error>) {
        self.lost = Some(exc.map(|e| e.kind()));
    }
    fn as_buffered(&mut self) -> Option<&mut dyn asyncio::BufferedProtocol> {
        Some(self)
    }
}

impl asyncio::BufferedProtocol for EmptyBuffer {
    fn get_buffer(&mut self, _size_hint: usize) -> &mut [u8] {
        &mut []
    }
    fn buffer_updated(&mut self, _n: usize) {}
}

/// T29: an empty buffer from `get_buffer` is not an OS or TLS error (Python would raise a
/// RuntimeError), so besides ending the connection it reaches the exception handler, as the
/// socket transport reports the same misuse (L51), instead of a debug log nobody sees.
#[test]
fn t29_l51_empty_get_buffer_over_tls_reaches_the_exception_handler() {
    let lp = asyncio::EventLoop::new().unwrap();
    let reports = util::capture_exceptions(&lp.handle());
    let (server, proto) = lp
        .run_until_complete(asyncio::timeout(BOUND, async {
            let (server, port) = tls_echo_server(&[]).await?;
            let (_t, proto) = asyncio::get_running_loop()?
                .create_connection(EmptyBuffer::default, "127.0.0.1", port)
                .ssl(Certs::get().client_config(&[]))
                .server_hostname("localhost")
                .await?;
            Ok::<_, Error>((server, proto))
        }))
        .unwrap()
        .expect("bounded")
        .expect("connect");
    turn_until(&lp, "connection_lost", || proto.borrow().lost.is_some());
    assert!(
        matches!(proto.borrow().lost, Some(Some(_))),
        "the connection ends with the error"
    );
    let reports = reports.borrow().clone();
    assert_eq!(reports.len(), 1, "{reports:?}");
    assert!(
        reports[0].contains("get_buffer() returned an empty buffer"),
        "{reports:?}"
    );
    server.close();
}

/// A TLS server on `lp` running `handler` per connection, and a `Recorder` client connected
/// to it over TLS: the set-up of the tests that hold the client's app protocol.
fn held_app_pair<H, Fut>(
    lp: &asyncio::EventLoop,
    handler: H,
) -> (asyncio::Server, Transport, Rc<RefCell<Recorder>>)
where
    H: Fn(StreamReader, StreamWriter) -> Fut + 'static,
    Fut: std::future::Future<Output = Result<(), Error>> + 'static,
{
    let certs = Certs::get();
    let server = lp
        .run_until_complete(
            asyncio::start_server(handler, "127.0.0.1", 0).ssl(certs.server_config(&[])),
        )
        .unwrap()
        .unwrap();
    let port = server.sockets()[0].as_inet().unwrap().port();
    let (t, proto) = lp
        .run_until_complete(
            lp.create_connection(Recorder::default, "127.0.0.1", port)
                .ssl(certs.client_config(&[]))
                .server_hostname("localhost")
                .into_future(),
        )
        .unwrap()
        .unwrap();
    (server, t, proto)
}

#[test]
fn l44_t22_a_tls_app_protocol_held_across_a_long_await_is_retried_sparingly_then_gets_its_data() {
    // As over a plain socket (tests/transport/protocol_calls.rs): the TLS layer waits for an
    // app protocol a user task keeps borrowed across a 300 ms sleep, without spinning the loop,
    // and then delivers what came meanwhile.
    let lp = asyncio::EventLoop::new().unwrap();
    let (server, t, proto) = held_app_pair(&lp, |r: StreamReader, w: StreamWriter| async move {
        r.readexactly(1).await?; // the client's go-ahead
        w.write(b"while held")?;
        w.drain().await?;
        let _ = r.read(-1).await;
        w.close();
        Ok::<_, Error>(())
    });
    let turns = util::turns_while_held(&lp, &proto, Duration::from_millis(300), || {
        t.write(b"g").unwrap()
    });
    assert!(turns <= 80, "{turns} loop turns during a 300 ms hold");
    util::run_until(&lp, 200, || {
        proto.try_borrow().is_ok_and(|p| p.data == b"while held")
    });
    t.close();
    server.close();
}

#[test]
fn l44_t22_records_arriving_while_the_tls_app_protocol_is_held_share_one_retry() {
    // As in the PROXY layer (tests/proxy_protocol/held_protocol.rs): 30 records arriving one by
    // one while a user task keeps the app protocol borrowed wait behind one retry, not one retry
    // each.
    let lp = asyncio::EventLoop::new().unwrap();
    let (server, t, proto) = held_app_pair(&lp, |r: StreamReader, w: StreamWriter| async move {
        r.readexactly(1).await?; // the client's go-ahead
        for _ in 0..30 {
            w.write(b"+")?;
            w.drain().await?;
            asyncio::sleep(Duration::from_millis(5)).await;
        }
        let _ = r.read(-1).await;
        w.close();
        Ok::<_, Error>(())
    });
    let turns = util::turns_while_held(&lp, &proto, Duration::from_millis(300), || {
        t.write(b"g").unwrap()
    });
    // The server's 30 sleeps and writes and the client's 30 reads take up to about 100
    // turns, the one spaced-out retry about 15 more (one retry per record: several hundred).
    assert!(turns <= 200, "{turns} loop turns during a 300 ms hold");
    util::run_until(&lp, 200, || {
        proto.try_borrow().is_ok_and(|p| p.data == [b'+'; 30])
    });
    t.close();
    server.close();
}

#[test]
fn l44_t22_connection_lost_for_a_held_tls_app_protocol_waits_sparingly_and_comes_once() {
    // The peer closes while a user task keeps the app protocol borrowed across a 300 ms
    // sleep: the TLS layer's connection_lost waits for it without spinning the loop, then
    // comes once, last.
    let lp = asyncio::EventLoop::new().unwrap();
    let (server, t, proto) = held_app_pair(&lp, |r: StreamReader, w: StreamWriter| async move {
        r.readexactly(1).await?; // the client's go-ahead: close at once
        w.close();
        Ok::<_, Error>(())
    });
    let turns = util::turns_while_held(&lp, &proto, Duration::from_millis(300), || {
        t.write(b"g").unwrap()
    });
    assert!(turns <= 80, "{turns} loop turns during a 300 ms hold");
    util::run_until(&lp, 200, || proto.try_borrow().is_ok_and(|p| p.lost));
    let grammar = proto.borrow().grammar();
    assert_eq!(grammar.first().map(String::as_str), Some("connection_made"));
    assert!(
        grammar.last().unwrap().starts_with("connection_lost"),
        "{grammar:?}"
    );
    let lost = grammar.iter().filter(|c| c.starts_with("connection_lost"));
    assert_eq!(lost.count(), 1, "{grammar:?}");
    server.close();
}

/// A buffered protocol that keeps what it is given: which read path a TLS transport takes
/// after `set_protocol` (T6).
#[derive(Default)]
pub(super) struct Collect {
    buf: Vec<u8>,
    got: Vec<u8>,
    /// Bytes that came through `data_received`: none expected for a buffered protocol.
    plain: usize,
}

impl asyncio::Protocol for Collect {
    fn data_received(&mut self, data: &[u8]) {
        self.plain += data.len();
    }
    fn as_buffered(&mut self) -> Option<&mut dyn asyncio::BufferedProtocol> {
        Some(self)
    }
}

impl asyncio::BufferedProtocol for Collect {
    fn get_buffer(&mut self, _size_hint: usize) -> &mut [u8] {
        self.buf.resize(4096, 0);
        &mut self.buf
    }
    fn buffer_updated(&mut self, n: usize) {
        self.got.extend_from_slice(&self.buf[..n]);
    }
}

#[test]
fn t6_one_app_transport_whose_set_protocol_switches_the_app_protocol() {
    // Ports test_sslproto.py test_set_new_app_protocol over a real connection: the TLS
    // layer's one app transport is the one connection_made got and create_connection
    // returned; set_protocol hands later data to the new protocol, plain or buffered (the
    // read path follows its kind), and get_protocol names it.
    let (lp, server, port) = loop_and_tls_echo_server();
    let (t, first) = recorder_over_tls(&lp, port);
    let made_with = first
        .borrow()
        .transport
        .clone()
        .expect("connection_made ran");
    assert!(made_with.ptr_eq(&t), "T6: one app transport");
    assert!(calls(&t, first.clone()), "T6: get_protocol");

    let second = Rc::new(RefCell::new(Recorder::default()));
    second.borrow_mut().calls.push("connection_made".into()); // it never gets one
    t.set_protocol(second.clone()).unwrap();
    assert!(
        calls(&t, second.clone()),
        "T6: get_protocol after set_protocol"
    );
    t.write(b"to the second\n").unwrap();
    util::run_until(&lp, 1000, || {
        second.borrow().data.len() + first.borrow().data.len() == 14
    });

    let third = Rc::new(RefCell::new(Collect::default()));
    t.set_protocol(third.clone()).unwrap();
    assert!(calls(&t, third.clone()));
    t.write(b"to the third\n").unwrap();
    util::run_until(&lp, 1000, || {
        let third = third.borrow();
        third.got.len() + third.plain == 13
    });
    assert_eq!(
        third.borrow().plain,
        0,
        "T6: a buffered protocol is fed through get_buffer"
    );
    assert_eq!(third.borrow().got, b"to the third\n");
    assert_eq!(second.borrow().data, b"to the second\n");
    assert!(first.borrow().data.is_empty(), "nothing went to the first");
    t.close();
    util::run_until(&lp, 1000, || server.connection_count() == 0);
    server.close();
}
