//! Protocols behind the header: `create_server` protocols hear nothing before it; re-entrant
//! `connection_made`; buffered protocols paused or closed mid-segment; EOF behind held bytes;
//! an empty buffer for the bytes after the header.

use super::*;

#[test]
fn create_server_protocols_hear_nothing_before_the_header() {
    use asyncio::{Protocol, Transport};
    #[derive(Default)]
    struct Rec(Rc<RefCell<Vec<String>>>, Option<Transport>);
    impl Protocol for Rec {
        fn connection_made(&mut self, t: Transport) {
            let peer = t.peername().map(|a| a.to_string()).unwrap_or_default();
            self.0.borrow_mut().push(format!("made {peer}"));
            self.1 = Some(t);
        }
        fn data_received(&mut self, data: &[u8]) {
            self.0
                .borrow_mut()
                .push(format!("data {}", String::from_utf8_lossy(data)));
            let t = self.1.as_ref().unwrap();
            let _ = t.write(b"ok");
            t.close();
        }
        fn connection_lost(&mut self, _: Option<std::io::Error>) {
            self.0.borrow_mut().push("lost".into());
        }
    }
    asyncio::run(async {
        let calls = Rc::new(RefCell::new(Vec::new()));
        let c = calls.clone();
        let lp = asyncio::get_running_loop()?;
        let server = lp
            .create_server(move || Rec(c.clone(), None), "127.0.0.1", 0)
            .proxy_protocol(ProxyProtocol::Required)
            .await?;
        let port = util::port_of(&server);
        let h = b"PROXY TCP4 192.0.2.1 198.51.100.7 5 6\r\n";
        let chunks: Vec<&[u8]> = h.chunks(1).chain([&b"go"[..]]).collect();
        assert_eq!(client(port, &chunks).await, b"ok");
        assert_eq!(client(port, &[b"nope"]).await, b"");
        turns_until(|| calls.borrow().len() >= 3).await;
        assert_eq!(
            calls.borrow()[..3],
            ["made 192.0.2.1:5", "data go", "lost"].map(String::from)
        );
        assert_eq!(
            calls.borrow().len(),
            3,
            "the refused connection reached no protocol"
        );
        server.close();
        Ok::<_, asyncio::Error>(())
    })
    .unwrap()
    .unwrap();
}

/// From inside `connection_made` (which runs inside the preamble's own callback): write and
/// close, abort, or pause reading. The bytes that came with the header in the same segment
/// follow the call grammar as the socket's own would: none after abort, none while paused.
#[test]
fn reentrant_connection_made_keeps_the_call_grammar() {
    use asyncio::{Protocol, Transport};
    #[derive(Clone, Copy, PartialEq)]
    enum Act {
        WriteClose,
        Abort,
        PauseThenResume,
    }
    struct P(Act, Rc<RefCell<Vec<String>>>, Option<Transport>);
    impl Protocol for P {
        fn connection_made(&mut self, t: Transport) {
            self.1.borrow_mut().push("made".into());
            match self.0 {
                Act::WriteClose => {
                    let _ = t.write(b"bye");
                    t.close();
                }
                Act::Abort => t.abort(),
                Act::PauseThenResume => {
                    t.pause_reading();
                    let (t2, log) = (t.clone(), self.1.clone());
                    let lp = t.get_loop();
                    let _ = lp.call_soon(move || {
                        log.borrow_mut().push("resume".into());
                        t2.resume_reading();
                    });
                }
            }
            self.2 = Some(t);
        }
        fn data_received(&mut self, data: &[u8]) {
            self.1
                .borrow_mut()
                .push(format!("data {}", String::from_utf8_lossy(data)));
            if let Some(t) = &self.2 {
                let _ = t.write(b"ok");
                t.close();
            }
        }
        fn connection_lost(&mut self, _: Option<std::io::Error>) {
            self.1.borrow_mut().push("lost".into());
        }
    }
    for act in [Act::WriteClose, Act::Abort, Act::PauseThenResume] {
        asyncio::run(async move {
            let calls = Rc::new(RefCell::new(Vec::new()));
            let c = calls.clone();
            let lp = asyncio::get_running_loop()?;
            let server = lp
                .create_server(move || P(act, c.clone(), None), "127.0.0.1", 0)
                .proxy_protocol(ProxyProtocol::Required)
                .await?;
            let port = util::port_of(&server);
            let answer = client(port, &[b"PROXY UNKNOWN\r\npayload"]).await;
            turns_until(|| calls.borrow().last().map(String::as_str) == Some("lost")).await;
            let calls = calls.borrow().clone();
            match act {
                Act::WriteClose => {
                    assert_eq!(answer, b"bye");
                    assert_eq!(calls, ["made", "lost"]);
                }
                Act::Abort => {
                    assert_eq!(answer, b"");
                    assert_eq!(calls, ["made", "lost"]);
                }
                Act::PauseThenResume => {
                    assert_eq!(answer, b"ok");
                    assert_eq!(calls, ["made", "resume", "data payload", "lost"]);
                }
            }
            server.close();
            Ok::<_, asyncio::Error>(())
        })
        .unwrap()
        .unwrap();
    }
}

/// L53, L79, L83: the bytes that came in the header's segment reach a buffered protocol
/// piece by piece (as much as its buffer takes); a `pause_reading` or `close` from inside
/// `buffer_updated` stops the pieces there, as the socket transport's reads would stop. The
/// paused rest arrives, in order, after `resume_reading`; the closed rest never.
#[test]
fn buffered_next_paused_or_closed_mid_segment_gets_no_more_pieces() {
    use asyncio::{BufferedProtocol, Protocol, Transport};
    #[derive(Clone, Copy, PartialEq, Debug)]
    enum Act {
        Pause,
        Close,
    }
    struct P {
        act: Act,
        log: Rc<RefCell<Vec<String>>>,
        t: Option<Transport>,
        buf: [u8; 4],
        paused: Rc<std::cell::Cell<bool>>,
    }
    impl Protocol for P {
        fn connection_made(&mut self, t: Transport) {
            self.t = Some(t);
        }
        fn connection_lost(&mut self, _: Option<std::io::Error>) {
            self.log.borrow_mut().push("lost".into());
        }
        fn as_buffered(&mut self) -> Option<&mut dyn BufferedProtocol> {
            Some(self)
        }
    }
    impl BufferedProtocol for P {
        fn get_buffer(&mut self, _: usize) -> &mut [u8] {
            &mut self.buf
        }
        fn buffer_updated(&mut self, n: usize) {
            let piece = String::from_utf8_lossy(&self.buf[..n]).into_owned();
            let paused = if self.paused.get() { " (paused)" } else { "" };
            self.log.borrow_mut().push(format!("{piece}{paused}"));
            let Some(t) = self.t.clone() else { return };
            match self.act {
                Act::Pause if piece == "abcd" => {
                    t.pause_reading();
                    self.paused.set(true);
                    let (log, paused) = (self.log.clone(), self.paused.clone());
                    let _ = t.get_loop().call_soon(move || {
                        log.borrow_mut().push("resume".into());
                        paused.set(false);
                        t.resume_reading();
                    });
                }
                Act::Pause => {
                    if piece == "ijkl" {
                        let _ = t.write(b"ok");
                        t.close();
                    }
                }
                Act::Close => {
                    let _ = t.write(b"ok");
                    t.close();
                }
            }
        }
    }
    for act in [Act::Pause, Act::Close] {
        asyncio::run(async move {
            let log = Rc::new(RefCell::new(Vec::new()));
            let l = log.clone();
            let lp = asyncio::get_running_loop()?;
            let server = lp
                .create_server(
                    move || P {
                        act,
                        log: l.clone(),
                        t: None,
                        buf: [0; 4],
                        paused: Rc::default(),
                    },
                    "127.0.0.1",
                    0,
                )
                .proxy_protocol(ProxyProtocol::Required)
                .await?;
            let port = util::port_of(&server);
            let answer = client(port, &[b"PROXY UNKNOWN\r\nabcdefghijkl"]).await;
            turns_until(|| log.borrow().last().map(String::as_str) == Some("lost")).await;
            assert_eq!(answer, b"ok", "{act:?}");
            let log = log.borrow().clone();
            match act {
                Act::Pause => assert_eq!(log, ["abcd", "resume", "efgh", "ijkl", "lost"]),
                Act::Close => assert_eq!(log, ["abcd", "lost"]),
            }
            server.close();
            Ok::<_, asyncio::Error>(())
        })
        .unwrap()
        .unwrap();
    }
}

/// L62, L79: `Optional`, a client whose only bytes are the start of a signature (an empty
/// line, `\r\n`) and then EOF. Its protocol pauses reading in `connection_made`: the EOF,
/// already read, waits behind the held bytes, which come first after `resume_reading`.
#[test]
fn eof_waits_behind_bytes_held_for_a_paused_protocol() {
    use asyncio::{Protocol, Transport};
    struct P(Rc<RefCell<Vec<String>>>, Option<Transport>);
    impl Protocol for P {
        fn connection_made(&mut self, t: Transport) {
            self.0.borrow_mut().push("made".into());
            t.pause_reading();
            let (t2, log) = (t.clone(), self.0.clone());
            let _ = t.get_loop().call_soon(move || {
                log.borrow_mut().push("resume".into());
                t2.resume_reading();
            });
            self.1 = Some(t);
        }
        fn data_received(&mut self, data: &[u8]) {
            self.0.borrow_mut().push(format!("data {data:?}"));
        }
        fn eof_received(&mut self) -> bool {
            self.0.borrow_mut().push("eof".into());
            if let Some(t) = &self.1 {
                let _ = t.write(b"ok");
            }
            false
        }
        fn connection_lost(&mut self, _: Option<std::io::Error>) {
            self.0.borrow_mut().push("lost".into());
        }
    }
    asyncio::run(async {
        let calls = Rc::new(RefCell::new(Vec::new()));
        let c = calls.clone();
        let lp = asyncio::get_running_loop()?;
        let server = lp
            .create_server(move || P(c.clone(), None), "127.0.0.1", 0)
            .proxy_protocol(ProxyProtocol::Optional)
            .await?;
        let port = util::port_of(&server);
        let answer = client(port, &[b"\r\n"]).await;
        turns_until(|| calls.borrow().last().map(String::as_str) == Some("lost")).await;
        assert_eq!(
            calls.borrow()[..],
            ["made", "resume", "data [13, 10]", "eof", "lost"].map(String::from)
        );
        assert_eq!(answer, b"ok");
        server.close();
        Ok::<_, asyncio::Error>(())
    })
    .unwrap()
    .unwrap();
}

/// L51, L53: a buffered protocol that lends an empty buffer for the bytes after the header
/// is a fatal error, reported, and the connection ends, as the socket transport does; the
/// bytes are not dropped silently on a connection left open.
#[test]
fn empty_buffer_for_the_bytes_after_the_header_is_a_fatal_error() {
    use asyncio::{BufferedProtocol, Protocol, Transport};
    struct P(Rc<RefCell<Vec<String>>>, Option<Transport>);
    impl Protocol for P {
        fn connection_made(&mut self, t: Transport) {
            self.1 = Some(t);
        }
        fn eof_received(&mut self) -> bool {
            self.0.borrow_mut().push("eof".into());
            true // keep the connection: only a fatal error ends it here
        }
        fn connection_lost(&mut self, exc: Option<std::io::Error>) {
            self.0.borrow_mut().push(format!("lost {}", exc.is_some()));
        }
        fn as_buffered(&mut self) -> Option<&mut dyn BufferedProtocol> {
            Some(self)
        }
    }
    impl BufferedProtocol for P {
        fn get_buffer(&mut self, _: usize) -> &mut [u8] {
            &mut []
        }
        fn buffer_updated(&mut self, _: usize) {
            self.0.borrow_mut().push("updated".into());
        }
    }
    asyncio::run(async {
        let calls = Rc::new(RefCell::new(Vec::new()));
        let c = calls.clone();
        let lp = asyncio::get_running_loop()?;
        let reports = util::capture_exceptions(&lp);
        let server = lp
            .create_server(move || P(c.clone(), None), "127.0.0.1", 0)
            .proxy_protocol(ProxyProtocol::Required)
            .await?;
        let port = util::port_of(&server);
        let answer = asyncio::timeout(Duration::from_secs(10), async {
            let (reader, writer) = asyncio::open_connection("127.0.0.1", port).await?;
            writer.write(b"PROXY UNKNOWN\r\npayload")?;
            // No EOF from us: the server must end the connection by itself.
            Ok::<_, asyncio::Error>(reader.read(-1).await.unwrap_or_default())
        })
        .await
        .expect("the server ended the connection")?;
        assert_eq!(answer, b"");
        turns_until(|| calls.borrow().iter().any(|c| c.starts_with("lost"))).await;
        assert_eq!(calls.borrow()[..], ["lost true".to_string()]);
        let reports = reports.borrow().clone();
        assert_eq!(reports.len(), 1, "{reports:?}");
        assert!(reports[0].contains("get_buffer"), "{reports:?}");
        server.close();
        Ok::<_, asyncio::Error>(())
    })
    .unwrap()
    .unwrap();
}
