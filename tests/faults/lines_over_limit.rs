//! Lines over the limit: readuntil and readline past it keep the buffer bounded, discard
//! what they must and go on working (S14, S15, S28, S32, S40).

use super::*;

/// An in-loop server that sends `payload` to each client, then closes.
fn sender(lp: &EventLoop, payload: Rc<Vec<u8>>) -> asyncio::Server {
    run(
        lp,
        asyncio::start_server(
            move |_r: StreamReader, w: StreamWriter| {
                let payload = payload.clone();
                async move {
                    for chunk in payload.chunks(64 * KIB) {
                        w.write(chunk)?;
                        w.drain().await?;
                    }
                    w.close();
                    w.wait_closed().await
                }
            },
            "127.0.0.1",
            0,
        ),
    )
    .unwrap()
}

#[test]
fn readuntil_over_the_limit_keeps_the_buffer_bounded_and_recovers_s32_s14_s15() {
    let _serial = util::serial();
    const LIMIT: usize = 1024;
    const LONG: usize = 1 << 20;
    let lp = EventLoop::new().unwrap();
    let mut payload = vec![b'x'; LONG];
    payload.extend_from_slice(b"\nok\n");
    let server = sender(&lp, Rc::new(payload));
    let port = port_of(&server);
    run(&lp, async move {
        let (reader, writer) = asyncio::open_connection("127.0.0.1", port)
            .limit(LIMIT)
            .await
            .unwrap();
        match reader.readuntil(b"\n").await {
            Err(Error::LimitOverrun { consumed, message }) => {
                assert!(consumed > LIMIT, "S32: consumed {consumed}");
                assert_eq!(
                    message,
                    "Separator is not found, and chunk exceed the limit"
                );
            }
            other => panic!("S32: {other:?}"),
        }
        // Nobody reads now: the buffer (left intact, S32) grows until the reader pauses its
        // transport past 2 x limit (S14), then stays there.
        let t = writer.transport().clone();
        for i in 0.. {
            assert!(i < 1_000_000, "never paused");
            if !t.is_reading() {
                break;
            }
            asyncio::yield_now().await;
        }
        for _ in 0..20 {
            asyncio::yield_now().await;
        }
        let buffered = reader_buffered(&reader);
        assert!(
            buffered > 2 * LIMIT && buffered <= 2 * LIMIT + MAX_READ_SIZE,
            "S14: paused reader holds {buffered} B"
        );
        println!("readuntil: paused with {buffered} B buffered (limit {LIMIT})");
        // asyncio's recovery: discard what the error says is consumed, try again.
        let mut discarded = 0;
        let tail = loop {
            match reader.readuntil(b"\n").await {
                Err(Error::LimitOverrun { consumed, .. }) => {
                    let junk = reader.readexactly(consumed).await.unwrap();
                    assert!(junk.iter().all(|&b| b == b'x'));
                    discarded += consumed;
                    assert!(reader_buffered(&reader) <= 2 * LIMIT + MAX_READ_SIZE);
                }
                Ok(line) => break line,
                Err(e) => panic!("{e:?}"),
            }
        };
        assert!(tail.len() <= LIMIT + 1 && tail.ends_with(b"\n"));
        assert_eq!(discarded + tail.len() - 1, LONG, "every byte accounted for");
        assert_eq!(
            reader.readuntil(b"\n").await.unwrap(),
            b"ok\n",
            "keeps working"
        );
        assert_eq!(reader.read(-1).await.unwrap(), b"");
        writer.close();
        writer.wait_closed().await.unwrap();
    });
    server.close();
    let s2 = server.clone();
    run(&lp, async move { s2.wait_closed().await });
    assert_loop_empty(&lp, 0);
}

#[test]
fn readline_over_the_limit_discards_and_keeps_working_s28_s40() {
    let _serial = util::serial();
    const LIMIT: usize = 1024;
    const LONG: usize = 1 << 20;
    let lp = EventLoop::new().unwrap();
    let mut payload = vec![b'y'; LONG];
    payload.extend_from_slice(b"\nok\n");
    let server = sender(&lp, Rc::new(payload));
    let port = port_of(&server);
    run(&lp, async move {
        let (reader, writer) = asyncio::open_connection("127.0.0.1", port)
            .limit(LIMIT)
            .await
            .unwrap();
        let (mut overruns, mut max_buffered) = (0, 0);
        loop {
            let r = reader.readline().await;
            max_buffered = max_buffered.max(reader_buffered(&reader));
            match r {
                Err(Error::LimitOverrun { consumed, .. }) => {
                    assert!(consumed > LIMIT, "S28: consumed {consumed}");
                    overruns += 1;
                }
                // The rest of the long line, after a discard, comes back as a short "line".
                Ok(line) if line != b"ok\n" => {
                    assert!(
                        line.len() <= LIMIT + 1,
                        "a line over the limit: {}",
                        line.len()
                    );
                    assert!(line.iter().take(line.len() - 1).all(|&b| b == b'y'));
                    assert!(line.ends_with(b"\n"));
                }
                Ok(_) => break,
                Err(e) => panic!("{e:?}"),
            }
            assert!(overruns <= LONG / LIMIT + 1, "no progress");
        }
        assert!(overruns >= 1, "S28: no LimitOverrun for a 1 MiB line");
        assert!(max_buffered <= 2 * LIMIT + MAX_READ_SIZE, "{max_buffered}");
        assert_eq!(reader.readline().await.unwrap(), b"", "then EOF (S27)");
        writer.close();
        writer.wait_closed().await.unwrap();
    });
    server.close();
    let s2 = server.clone();
    run(&lp, async move { s2.wait_closed().await });
    assert_loop_empty(&lp, 0);
}
