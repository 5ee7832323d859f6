//! Backpressure through `AsyncWrite`: 4 MiB through `copy` arrive whole and in order, the
//! transport's buffer held near its high-water mark while the peer reads slowly.

use super::*;

/// A writer wrapper that records, after each write, the transport's buffered size, and counts
/// the writes that had to wait (the backpressure), opening `gate` at the first wait.
struct Watch<'a> {
    inner: &'a StreamWriter,
    max_buffered: usize,
    waits: u32,
    gate: Gate,
}

impl AsyncWrite for Watch<'_> {
    fn poll_write(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &[u8],
    ) -> Poll<io::Result<usize>> {
        let mut inner = self.inner;
        let r = Pin::new(&mut inner).poll_write(cx, buf);
        match r {
            Poll::Pending => {
                self.waits += 1;
                self.gate.open();
            }
            Poll::Ready(_) => {
                let now = self.inner.transport().get_write_buffer_size();
                self.max_buffered = self.max_buffered.max(now);
            }
        }
        r
    }
    fn poll_flush(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        let mut inner = self.inner;
        let r = Pin::new(&mut inner).poll_flush(cx);
        if r.is_pending() {
            self.gate.open(); // copy's final flush waits for the receiver too
        }
        r
    }
    fn poll_close(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        let mut inner = self.inner;
        Pin::new(&mut inner).poll_close(cx)
    }
}

/// A one-shot signal between two tasks on the loop.
#[derive(Clone, Default)]
struct Gate(Rc<RefCell<(bool, Option<Waker>)>>);

impl Gate {
    fn open(&self) {
        let mut g = self.0.borrow_mut();
        g.0 = true;
        if let Some(w) = g.1.take() {
            w.wake();
        }
    }
    async fn wait(&self) {
        poll_fn(|cx| {
            let mut g = self.0.borrow_mut();
            if g.0 {
                return Poll::Ready(());
            }
            g.1 = Some(cx.waker().clone());
            Poll::Pending
        })
        .await
    }
}

#[test]
fn four_mib_through_copy_with_backpressure_arrive_whole_and_in_order() {
    const TOTAL: usize = 4 << 20;
    let pattern = |i: usize| (i % 253) as u8 ^ (i >> 16) as u8;
    run(async move {
        // The receiver holds off reading until the sender has had to wait (or is done), so the
        // transport's buffer reaches its high-water mark whatever the kernel buffers absorb.
        let gate = Gate::default();
        let received = Rc::new(RefCell::new(Vec::with_capacity(TOTAL)));
        let (g, sink) = (gate.clone(), received.clone());
        // Small kernel buffers on both ends, set before the connection exists: Linux then
        // neither autotunes them nor grows the window past them. Left to autotuning, loopback
        // buffers warmed by earlier bulk transfers to 127.0.0.1 (cached TCP metrics) can absorb
        // all 4 MiB, and the sender never waits.
        let listener = {
            let s =
                socket2::Socket::new(socket2::Domain::IPV4, socket2::Type::STREAM, None).unwrap();
            s.set_recv_buffer_size(64 * 1024).unwrap();
            let any: std::net::SocketAddr = "127.0.0.1:0".parse().unwrap();
            s.bind(&any.into()).unwrap();
            s.listen(16).unwrap();
            std::net::TcpListener::from(s)
        };
        let addr = listener.local_addr().unwrap();
        let server = asyncio::start_server(
            move |reader: StreamReader, writer: StreamWriter| {
                let (g, sink) = (g.clone(), sink.clone());
                async move {
                    g.wait().await;
                    // AsyncBufRead with a small limit: consume() must resume the paused
                    // transport (S15) and fill_buf's wait must too (S16), or this stalls.
                    let mut reader = reader;
                    loop {
                        let chunk = reader.fill_buf().await?;
                        if chunk.is_empty() {
                            break;
                        }
                        let n = chunk.len().min(3000);
                        sink.borrow_mut().extend_from_slice(&chunk[..n]);
                        reader.consume_unpin(n);
                    }
                    writer.write(b"done")?;
                    writer.close();
                    Ok::<_, io::Error>(())
                }
            },
            "",
            0,
        )
        .sock(listener)
        .limit(1024)
        .await
        .unwrap();
        let client =
            socket2::Socket::new(socket2::Domain::IPV4, socket2::Type::STREAM, None).unwrap();
        client.set_send_buffer_size(64 * 1024).unwrap();
        client.connect(&addr.into()).unwrap(); // loopback, listening: completes at once
        let (mut reader, writer) = asyncio::open_connection_sock(std::net::TcpStream::from(client))
            .await
            .unwrap();
        let data: Vec<u8> = (0..TOTAL).map(pattern).collect();
        let mut watch = Watch {
            inner: &writer,
            max_buffered: 0,
            waits: 0,
            gate: gate.clone(),
        };
        let copied = futures_util::io::copy(&data[..], &mut watch).await.unwrap();
        assert_eq!(copied, TOTAL as u64);
        let (max_buffered, waits) = (watch.max_buffered, watch.waits);
        gate.open(); // a sender that never waited opens it when done (and fails below)
        AsyncWriteExt::close(&mut &writer).await.unwrap();
        let mut reply = Vec::new();
        AsyncReadExt::read_to_end(&mut reader, &mut reply)
            .await
            .unwrap();
        assert_eq!(reply, b"done");
        let got = received.borrow();
        assert_eq!(got.len(), TOTAL, "bytes lost or duplicated");
        if let Some(i) = (0..TOTAL).find(|&i| got[i] != data[i]) {
            panic!("byte {i} out of order: {} != {}", got[i], data[i]);
        }
        let (high, _) = writer.transport().get_write_buffer_limits();
        assert!(waits > 0, "the sender never felt backpressure");
        assert!(
            max_buffered <= high + 64 * 1024,
            "the transport buffered {max_buffered} bytes: high-water mark {high} not respected"
        );
        writer.close();
        server.close();
    });
}
