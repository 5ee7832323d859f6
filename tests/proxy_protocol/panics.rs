//! Panicking callbacks behind the header (L55): `connection_made`, `data_received` on held
//! bytes, and a late `connection_lost`, each reported as the socket transport reports it.

use super::*;

/// Runs `lp` until `cond` holds, at most 200 turns of at most 50 ms each (a turn with nothing
/// to do waits that long for I/O; the callers' assertions then say what is missing).
fn run_until_or_idle(lp: &asyncio::EventLoop, mut cond: impl FnMut() -> bool) {
    for _ in 0..200 {
        if cond() {
            return;
        }
        lp.run_once(Some(Duration::from_millis(50))).unwrap();
    }
}

/// A loop whose exception handler records each report's message.
fn loop_recording_reports() -> (asyncio::EventLoop, Rc<RefCell<Vec<String>>>) {
    let lp = asyncio::EventLoop::new().unwrap();
    let reports = Rc::new(RefCell::new(Vec::new()));
    let r = reports.clone();
    lp.set_exception_handler(Some(
        move |_: &asyncio::LoopHandle, ctx: &asyncio::ExceptionContext| {
            let keys: Vec<&str> = ctx.details.iter().map(|(k, _)| *k).collect();
            r.borrow_mut().push(format!("{} {keys:?}", ctx.message));
        },
    ));
    (lp, reports)
}

/// Serves protocols of `factory` on `lp` behind `mode`, connects a client that sends `header`
/// then `hello`, and runs until the protocol has its transport (`made`, which it fills in
/// `connection_made`). Returns the server and the client, both to be kept open.
fn serve_one_holding<P: asyncio::Protocol + 'static>(
    lp: &asyncio::EventLoop,
    mode: ProxyProtocol,
    header: &[u8],
    factory: impl Fn() -> P + 'static,
    made: &RefCell<Option<asyncio::Transport>>,
) -> (asyncio::Server, std::net::TcpStream) {
    use std::io::Write;
    let server = lp
        .run_until_complete(
            lp.create_server(factory, "127.0.0.1", 0)
                .proxy_protocol(mode),
        )
        .unwrap()
        .unwrap();
    let mut client = std::net::TcpStream::connect(("127.0.0.1", util::port_of(&server))).unwrap();
    client.write_all(&[header, b"hello"].concat()).unwrap();
    util::run_until(lp, 200, || made.borrow().is_some());
    (server, client)
}

/// L55 behind the header: a `connection_made` that panics is reported as that callback's
/// failure and the connection goes on (its bytes reach `data_received`), as on a server
/// without PROXY. The layer let the panic out through the socket's `data_received`, so it was
/// reported as a failed `data_received` and the connection was closed with it.
#[test]
fn l55_a_panicking_connection_made_behind_the_header_is_reported_and_reading_goes_on() {
    use asyncio::{Protocol, Transport};
    use std::io::Write;
    struct P(Rc<RefCell<Vec<String>>>, Option<Transport>);
    impl Protocol for P {
        fn connection_made(&mut self, t: Transport) {
            self.1 = Some(t);
            panic!("connection_made failed");
        }
        fn data_received(&mut self, data: &[u8]) {
            let data = String::from_utf8_lossy(data);
            self.0.borrow_mut().push(format!("data {data}"));
            self.1.as_ref().unwrap().close();
        }
        fn connection_lost(&mut self, exc: Option<std::io::Error>) {
            self.0
                .borrow_mut()
                .push(format!("lost {:?}", exc.map(|e| e.kind())));
        }
    }
    // Without PROXY (the behaviour to match), then behind a header.
    let off = (ProxyProtocol::Off, &b""[..]);
    for (mode, header) in [off, (ProxyProtocol::Required, b"PROXY UNKNOWN\r\n")] {
        let (lp, reports) = loop_recording_reports();
        let calls = Rc::new(RefCell::new(Vec::new()));
        let c = calls.clone();
        let server = lp
            .run_until_complete(
                lp.create_server(move || P(c.clone(), None), "127.0.0.1", 0)
                    .proxy_protocol(mode),
            )
            .unwrap()
            .unwrap();
        let port = util::port_of(&server);
        let mut client = std::net::TcpStream::connect(("127.0.0.1", port)).unwrap();
        client.write_all(&[header, b"hi"].concat()).unwrap();
        run_until_or_idle(&lp, || calls.borrow().iter().any(|c| c.starts_with("lost")));
        assert_eq!(calls.borrow()[..], ["data hi", "lost None"], "{mode:?}");
        // As the socket transport reports it (CPython: 'Exception in callback
        // P.connection_made(<_SelectorSocketTransport ...>)'), the transport being the socket's.
        let made = format!(
            "Exception in callback {}::connection_made(Transport {{ id: ",
            std::any::type_name::<P>()
        );
        let reports = reports.borrow();
        assert!(
            reports.len() == 1 && reports[0].starts_with(&made),
            "{mode:?}: {reports:?}"
        );
        server.close();
    }
}

/// A `data_received` (or a buffered protocol's `buffer_updated`) that panics on bytes the
/// layer held for a paused protocol (delivered after `resume_reading`, from a later turn) is
/// the protocol's fatal error, as on a server without PROXY: reported once with the socket
/// transport's words (naming the method that panicked), and the connection ends with the
/// panic as `connection_lost`'s error. The layer let the panic out into that turn's callback,
/// where the loop reported it as a stray callback's and the connection went on.
#[test]
fn a_panicking_data_received_on_held_bytes_ends_the_connection() {
    use asyncio::{BufferedProtocol, Protocol, Transport};
    use std::io::Write;
    type Made = Rc<RefCell<Option<Transport>>>;
    struct P(Rc<RefCell<Vec<String>>>, Made, Option<[u8; 8]>);
    impl Protocol for P {
        fn connection_made(&mut self, t: Transport) {
            t.pause_reading();
            *self.1.borrow_mut() = Some(t);
        }
        fn data_received(&mut self, _: &[u8]) {
            panic!("data_received failed");
        }
        fn connection_lost(&mut self, exc: Option<std::io::Error>) {
            self.0
                .borrow_mut()
                .push(format!("lost {:?}", exc.map(|e| e.kind())));
        }
        fn as_buffered(&mut self) -> Option<&mut dyn BufferedProtocol> {
            self.2.is_some().then_some(self)
        }
    }
    impl BufferedProtocol for P {
        fn get_buffer(&mut self, _: usize) -> &mut [u8] {
            self.2.as_mut().unwrap()
        }
        fn buffer_updated(&mut self, _: usize) {
            panic!("buffer_updated failed");
        }
    }
    let off = (ProxyProtocol::Off, &b""[..]);
    for buffered in [false, true] {
        for (mode, header) in [off, (ProxyProtocol::Required, b"PROXY UNKNOWN\r\n")] {
            let (lp, reports) = loop_recording_reports();
            let (calls, made): (Rc<RefCell<Vec<String>>>, Made) = Default::default();
            let (c, m) = (calls.clone(), made.clone());
            let buf = buffered.then_some([0; 8]);
            let server = lp
                .run_until_complete(
                    lp.create_server(move || P(c.clone(), m.clone(), buf), "127.0.0.1", 0)
                        .proxy_protocol(mode),
                )
                .unwrap()
                .unwrap();
            let port = util::port_of(&server);
            let mut client = std::net::TcpStream::connect(("127.0.0.1", port)).unwrap();
            client.write_all(&[header, b"hello"].concat()).unwrap();
            run_until_or_idle(&lp, || made.borrow().is_some());
            // Behind the header the bytes after it are held by then (they came in one segment).
            made.borrow().as_ref().unwrap().resume_reading();
            run_until_or_idle(&lp, || !calls.borrow().is_empty());
            let what = if buffered {
                "buffer_updated"
            } else {
                "data_received"
            };
            let case = format!("{mode:?}, buffered: {buffered}");
            assert_eq!(calls.borrow()[..], ["lost Some(Other)"], "{case}");
            assert_eq!(
                reports.borrow()[..],
                // The socket transport's keys (CPython's _fatal_error: transport, protocol).
                [format!(
                    "Fatal error: protocol.{what}() call failed. [\"transport\", \"protocol\"]"
                )],
                "{case}"
            );
            server.close();
        }
    }
}

/// L55 behind the header, on the retry: a `connection_lost` owed to a protocol held elsewhere
/// (a borrow kept across an `.await`), while the layer is still in the path (reading paused,
/// bytes held), is delivered once it is free; if it then panics, the report is the socket
/// transport's (and the layer's own first attempt's): a failed loop callback, with CPython's
/// keys ({message, exception, handle}: 'Exception in callback
/// _SelectorSocketTransport._call_connection_lost(None)'), naming the protocol's method. The
/// retry once ran after the layer had let go of the socket transport, and its report lacked
/// the `transport` key the first attempt's then had.
#[test]
fn l55_a_panicking_connection_lost_delivered_late_is_reported_as_the_socket_transport_does() {
    use asyncio::{Protocol, Transport};
    type Made = Rc<RefCell<Option<Transport>>>;
    /// Each report's message and its keys.
    type Reports = Rc<RefCell<Vec<(String, Vec<(&'static str, String)>)>>>;
    struct P(Made);
    impl Protocol for P {
        fn connection_made(&mut self, t: Transport) {
            t.pause_reading(); // bytes held: the layer stays in the path (no swap)
            *self.0.borrow_mut() = Some(t);
        }
        fn connection_lost(&mut self, _: Option<std::io::Error>) {
            panic!("connection_lost failed");
        }
    }
    let off = (ProxyProtocol::Off, &b""[..]);
    for (mode, header) in [off, (ProxyProtocol::Required, b"PROXY UNKNOWN\r\n")] {
        let lp = asyncio::EventLoop::new().unwrap();
        let reports: Reports = Default::default();
        let r = reports.clone();
        lp.set_exception_handler(Some(
            move |_: &asyncio::LoopHandle, ctx: &asyncio::ExceptionContext| {
                r.borrow_mut()
                    .push((ctx.message.clone(), ctx.details.clone()));
            },
        ));
        let made: Made = Default::default();
        let m = made.clone();
        let (server, _client) = serve_one_holding(&lp, mode, header, move || P(m.clone()), &made);
        let t = made.borrow().clone().unwrap();
        let proto = t.get_protocol().unwrap();
        util::turns_while_held(&lp, &proto, Duration::from_millis(20), || t.abort());
        run_until_or_idle(&lp, || !reports.borrow().is_empty());
        let call = format!("{}::connection_lost(None)", std::any::type_name::<P>());
        assert_eq!(
            reports.borrow()[..],
            [(
                format!("Exception in callback {call}"),
                vec![("handle", format!("<Handle {call}>"))]
            )],
            "{mode:?}"
        );
        server.close();
    }
}

/// L16 behind the header: the loop closes under a connection the layer still relays (reading
/// paused, bytes held), and the protocol's `connection_lost` panics with a payload whose own
/// drop panics. Both go to the loop's exception handler, as without PROXY (the socket
/// transport's `lost_at_close`): the failed callback, then the payload's drop. The layer
/// dropped that payload plainly, so its report looked for a running loop, found none (the
/// loop is closing) and went to the default handler: the loop's own never saw it.
// Checklist: L16, L18, L55.
#[test]
fn l16_loop_close_behind_the_header_reports_a_lost_payload_drop_to_the_loops_handler() {
    use asyncio::{Protocol, Transport};
    /// Its drop panics; it is the payload `connection_lost` panics with.
    struct PanicsOnDrop;
    impl Drop for PanicsOnDrop {
        fn drop(&mut self) {
            panic!("drop fails");
        }
    }
    type Made = Rc<RefCell<Option<Transport>>>;
    struct P(Made);
    impl Protocol for P {
        fn connection_made(&mut self, t: Transport) {
            t.pause_reading(); // bytes held: the layer stays in the path (no swap)
            *self.0.borrow_mut() = Some(t);
        }
        fn connection_lost(&mut self, _: Option<std::io::Error>) {
            std::panic::panic_any(PanicsOnDrop);
        }
    }
    let off = (ProxyProtocol::Off, &b""[..]);
    for (mode, header) in [off, (ProxyProtocol::Required, b"PROXY UNKNOWN\r\n")] {
        let (lp, reports) = loop_recording_reports();
        let made: Made = Default::default();
        let m = made.clone();
        let (server, _client) = serve_one_holding(&lp, mode, header, move || P(m.clone()), &made);
        let closed = std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| lp.close()));
        assert!(
            matches!(closed, Ok(Ok(()))),
            "{mode:?}: {:?}",
            reports.borrow()
        );
        let lost = format!(
            "Exception in callback {}::connection_lost(Some(..))",
            std::any::type_name::<P>()
        );
        let reports = reports.borrow();
        assert_eq!(reports.len(), 2, "{mode:?}: {reports:?}");
        assert!(reports[0].starts_with(&lost), "{mode:?}: {reports:?}");
        assert!(
            reports[1].starts_with("Exception in callback drop of a panic payload "),
            "{mode:?}: {reports:?}"
        );
        drop(made.borrow_mut().take());
        drop(server);
    }
}
