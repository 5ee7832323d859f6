//! TLS connects dropped before they return (T12, T37, L94): during the handshake (no waker
//! kept or woken), and once connection_made has run and written (the app transport closes:
//! what it wrote is sent, then close_notify), for create_connection and
//! connect_accepted_socket.

use super::*;

// L94, T12, D12-style: a TLS create_connection dropped during its handshake (here: the server
// accepts but never answers) closes the raw transport and keeps its caller's waker no longer:
// the close must not wake a task that has stopped waiting. The handshake waiter used to keep
// the waker and wake it when the closing transport failed the handshake.
#[test]
fn t12_a_dropped_tls_create_connection_keeps_and_wakes_no_waker() {
    let lp = asyncio::EventLoop::new().unwrap();
    let listener = TcpListener::bind("127.0.0.1:0").unwrap();
    listener.set_nonblocking(true).unwrap();
    let port = listener.local_addr().unwrap().port();
    let probe = util::Probe::new();
    let peer: RefCell<Option<std::net::TcpStream>> = RefCell::new(None);
    let handle = lp.handle();
    // Polled once per loop turn until the server holds the ClientHello: the client then waits
    // for the handshake. Bounded: 100 000 turns.
    let hello_sent = || {
        if peer.borrow().is_none() {
            *peer.borrow_mut() = listener.accept().ok().map(|(s, _)| {
                s.set_nonblocking(true).unwrap(); // peek must not block the loop
                s
            });
        }
        let mut buf = [0u8; 1];
        peer.borrow()
            .as_ref()
            .is_some_and(|s| s.peek(&mut buf).is_ok_and(|n| n > 0))
    };
    let woken_before_drop = lp
        .run_until_complete(asyncio::timeout(BOUND, async {
            let conn = handle
                .create_connection(Recorder::default, "127.0.0.1", port)
                .ssl(Certs::get().client_config(&[]))
                .server_hostname("localhost");
            let mut fut = std::pin::pin!(conn.into_future());
            let mut turns = 0;
            std::future::poll_fn(|cx| {
                assert!(probe.poll(fut.as_mut()).is_pending(), "finished early");
                turns += 1;
                assert!(turns < 100_000, "no ClientHello after {turns} turns");
                if hello_sent() {
                    return std::task::Poll::Ready(());
                }
                cx.waker().wake_by_ref(); // look again next turn
                std::task::Poll::Pending
            })
            .await;
            probe.woken()
        }))
        .unwrap()
        .expect("the ClientHello arrives");
    for _ in 0..3 {
        lp.run_once(Some(Duration::ZERO)).unwrap();
    }
    assert_eq!(
        probe.woken(),
        woken_before_drop,
        "a dropped connect woke its caller"
    );
    assert_eq!(std::sync::Arc::strong_count(&probe), 1, "the waker is kept");
    assert_eq!(
        lp.stats().io_registrations,
        0,
        "the raw transport is closed"
    );
}

// L94, T12: a TLS create_connection dropped after its handshake, once the app's connection_made
// ran and wrote, before it returned, closes the app transport as CPython's
// `except: transport.close()` does: what the app wrote is sent, then close_notify. It used to
// abort the raw transport: what was still queued was dropped, and no close_notify was sent.
#[test]
fn t12_a_tls_create_connection_dropped_after_connection_made_sends_what_it_wrote() {
    const SENT: usize = 8 << 20;
    let lp = asyncio::EventLoop::new().unwrap();
    let listener = TcpListener::bind("127.0.0.1:0").unwrap();
    let port = listener.local_addr().unwrap().port();
    let (start_reading, wait_to_read) = std::sync::mpsc::channel::<()>();
    // A blocking rustls server: the handshake, then (once told) plaintext until close_notify,
    // answered with its own. Returns the bytes it got.
    let peer = std::thread::spawn(move || -> Result<usize, String> {
        let (mut tcp, _) = listener.accept().map_err(|e| e.to_string())?;
        tcp.set_read_timeout(Some(BOUND))
            .map_err(|e| e.to_string())?;
        let config = Certs::get().server_config(&[]);
        let mut conn = rustls::ServerConnection::new(config).map_err(|e| e.to_string())?;
        plaintext_until_close_notify(&mut conn, &mut tcp, &wait_to_read)
    });
    let (rec, made) = Recorder::writing_on_made(SENT);
    let conn = lp
        .create_connection(move || rec, "127.0.0.1", port)
        .ssl(Certs::get().client_config(&[]))
        .server_hostname("localhost");
    let (t, _) = util::drop_once_made(&lp, conn, &made);
    assert!(
        t.is_closing(),
        "the dropped connect left its transport open"
    );
    start_reading.send(()).unwrap();
    util::run_until(&lp, 10_000, || lp.stats().io_registrations == 0);
    let got = peer.join().unwrap();
    assert_eq!(
        got,
        Ok(SENT),
        "the peer got what connection_made wrote, then close_notify"
    );
}

// L95, L94, T12: connect_accepted_socket over TLS (the server side) dropped once the app's
// connection_made has run and written, before it returned, ends as CPython's
// `except: transport.close()` around its waiter does: the app transport closes, so the peer
// gets what connection_made wrote, then close_notify. Over 127.0.0.1 and ::1.
#[test]
fn t37_l94_a_tls_connect_accepted_socket_dropped_after_connection_made_sends_what_it_wrote() {
    for host in ["127.0.0.1", "::1"] {
        accepted_tls_dropped_after_connection_made(host);
    }
}

/// A connected pair of TCP streams on `host`: ours (accepted), the peer's. `None` where `host`
/// cannot be bound (no IPv6).
fn accepted_pair(host: &str) -> Option<(std::net::TcpStream, std::net::TcpStream)> {
    let listener = match TcpListener::bind((host, 0)) {
        Ok(l) => l,
        Err(e) => {
            println!("skipped {host}: {e}");
            return None;
        }
    };
    let peer = std::net::TcpStream::connect(listener.local_addr().unwrap()).unwrap();
    let (accepted, _) = listener.accept().unwrap();
    Some((accepted, peer))
}

fn accepted_tls_dropped_after_connection_made(host: &str) {
    const SENT: usize = 8 << 20;
    let Some((accepted, mut tcp)) = accepted_pair(host) else {
        return;
    };
    let lp = asyncio::EventLoop::new().unwrap();
    let (start_reading, wait_to_read) = std::sync::mpsc::channel::<()>();
    // A blocking rustls client: the handshake, then (once told) plaintext until close_notify,
    // answered with its own. Returns the bytes it got.
    let peer = std::thread::spawn(move || -> Result<usize, String> {
        tcp.set_read_timeout(Some(BOUND))
            .map_err(|e| e.to_string())?;
        let name = rustls::pki_types::ServerName::try_from("localhost").unwrap();
        let config = Certs::get().client_config(&[]);
        let mut conn = rustls::ClientConnection::new(config, name).map_err(|e| e.to_string())?;
        plaintext_until_close_notify(&mut conn, &mut tcp, &wait_to_read)
    });
    let made: Rc<RefCell<Option<Transport>>> = Rc::default();
    let m = made.clone();
    let rec = Recorder {
        on_made: Some(Box::new(move |t: &Transport| {
            t.write(&vec![7u8; SENT]).unwrap();
            *m.borrow_mut() = Some(t.clone());
        })),
        ..Default::default()
    };
    let probe = util::Probe::new();
    let handle = lp.handle();
    lp.run_until_complete(async {
        let serve = handle
            .connect_accepted_socket(move || rec, accepted)
            .ssl(Certs::get().server_config(&[]));
        let mut fut = std::pin::pin!(serve.into_future());
        // Dropped once connection_made has run, before its result reaches it.
        probe
            .poll_each_turn(fut.as_mut(), || made.borrow().is_some())
            .await;
    })
    .unwrap();
    let t = made.borrow_mut().take().unwrap();
    assert!(
        t.is_closing(),
        "{host}: the dropped call left its transport open"
    );
    start_reading.send(()).unwrap();
    util::run_until(&lp, 10_000, || lp.stats().io_registrations == 0);
    let got = peer.join().unwrap();
    assert_eq!(
        got,
        Ok(SENT),
        "{host}: the peer got what connection_made wrote, then close_notify"
    );
}

/// A blocking rustls peer's side after its `conn` is set up over `tcp`: the handshake, then
/// (once told through `wait_to_read`) plaintext until close_notify, answered with its own.
/// The bytes it got, or what went wrong and after how many bytes.
fn plaintext_until_close_notify<D>(
    conn: &mut rustls::ConnectionCommon<D>,
    tcp: &mut std::net::TcpStream,
    wait_to_read: &std::sync::mpsc::Receiver<()>,
) -> Result<usize, String> {
    use std::io::{Read, Write};
    while conn.is_handshaking() {
        conn.complete_io(tcp).map_err(|e| e.to_string())?;
    }
    wait_to_read
        .recv_timeout(BOUND)
        .map_err(|e| e.to_string())?;
    let mut got = 0;
    let mut buf = vec![0u8; 64 * 1024];
    loop {
        match conn.reader().read(&mut buf) {
            Ok(0) => break, // close_notify
            Ok(n) => got += n,
            Err(e) if e.kind() == io::ErrorKind::WouldBlock => {
                let (read, _) = conn.complete_io(tcp).map_err(|e| e.to_string())?;
                if read == 0 {
                    return Err(format!("EOF without close_notify after {got} bytes"));
                }
            }
            Err(e) => return Err(format!("{e} after {got} bytes")),
        }
    }
    conn.send_close_notify();
    conn.complete_io(tcp).map_err(|e| e.to_string())?;
    tcp.flush().map_err(|e| e.to_string())?;
    Ok(got)
}
