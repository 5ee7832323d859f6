//! The traits end to end over a connection: `copy` through an echo server, `close` as a
//! half-close, `lines`, `read_line`, `read_exact` and its EOF error, and `fill_buf` or a dropped
//! read losing nothing (S22).

use super::*;

#[test]
fn copy_echoes_through_a_server_and_close_half_closes() {
    run(async {
        let server = asyncio::start_server(copy_echo, "127.0.0.1", 0)
            .await
            .unwrap();
        let (mut reader, mut writer) = asyncio::open_connection("127.0.0.1", port_of(&server))
            .await
            .unwrap();
        let msg: Vec<u8> = (0..100_000u32).map(|i| (i % 251) as u8).collect();
        writer.write_all(&msg).await.unwrap();
        let n = writer
            .write_vectored(&[IoSlice::new(b"ab"), IoSlice::new(b"cd")])
            .await
            .unwrap();
        assert_eq!(n, 4, "poll_write_vectored takes every slice whole");
        AsyncWriteExt::close(&mut writer).await.unwrap();
        assert!(
            !writer.is_closing(),
            "poll_close over TCP is write_eof: the connection stays open for reading"
        );
        let mut echoed = Vec::new();
        AsyncReadExt::read_to_end(&mut reader, &mut echoed)
            .await
            .unwrap();
        assert_eq!(echoed.len(), msg.len() + 4);
        assert_eq!(&echoed[..msg.len()], &msg[..]);
        assert_eq!(&echoed[msg.len()..], b"abcd");
        assert!(reader.at_eof(), "S17: the server's close is our EOF");
        // S44: writing after write_eof is misuse, reported, not a panic.
        let e = writer.write_all(b"late").await.unwrap_err();
        assert!(e.to_string().contains("write_eof"), "{e}");
        writer.close();
        writer.wait_closed().await.unwrap();
        server.close();
    });
}

#[test]
fn poll_close_then_the_peer_reads_eof_and_can_still_answer() {
    run(async {
        let ((a_reader, mut a_writer), (b_reader, b_writer)) = stream_pair().await;
        a_writer.write_all(b"request").await.unwrap();
        AsyncWriteExt::close(&mut a_writer).await.unwrap();
        // The peer reads to EOF with the asyncio API, then answers over its open half.
        let got = b_reader.read(-1).await.unwrap();
        assert_eq!(got, b"request");
        assert!(b_reader.at_eof());
        b_writer.write(b"answer").unwrap();
        b_writer.close();
        let mut a_reader = a_reader;
        let mut answer = String::new();
        a_reader.read_to_string(&mut answer).await.unwrap();
        assert_eq!(answer, "answer");
        // A second close is harmless.
        AsyncWriteExt::close(&mut a_writer).await.unwrap();
        a_writer.close();
    });
}

#[test]
fn lines_and_read_line_over_a_stream_fed_in_pieces() {
    run(async {
        let ((reader, a_writer), (_b_reader, b_writer)) = stream_pair().await;
        let feeder = asyncio::spawn(async move {
            // Lines split across writes, each write its own turn: the reader waits between.
            for piece in [&b"first li"[..], b"ne\nsecond", b" line\n", b"\nlast"] {
                b_writer.write(piece).unwrap();
                b_writer.drain().await.unwrap();
                asyncio::yield_now().await;
            }
            AsyncWriteExt::close(&mut &b_writer).await.unwrap();
            b_writer
        });
        let mut reader = reader;
        let mut line = String::new();
        assert_eq!(reader.read_line(&mut line).await.unwrap(), 11);
        assert_eq!(line, "first line\n");
        let rest: Vec<String> = AsyncBufReadExt::lines(&mut reader)
            .map(|l| l.unwrap())
            .collect()
            .await;
        assert_eq!(rest, ["second line", "", "last"]);
        assert!(reader.at_eof());
        let b_writer = feeder.await.unwrap();
        b_writer.close();
        a_writer.close();
    });
}

#[test]
fn read_exact_and_its_eof_error() {
    run(async {
        let ((mut reader, a_writer), (_b_reader, b_writer)) = stream_pair().await;
        b_writer.write(b"0123456789").unwrap();
        b_writer.write_eof().unwrap();
        let mut four = [0u8; 4];
        reader.read_exact(&mut four).await.unwrap();
        assert_eq!(&four, b"0123");
        let mut ten = [0u8; 10];
        let e = reader.read_exact(&mut ten).await.unwrap_err();
        assert_eq!(e.kind(), io::ErrorKind::UnexpectedEof);
        a_writer.close();
        b_writer.close();
    });
}

#[test]
fn s22_fill_buf_and_a_dropped_read_lose_nothing() {
    run(async {
        let mut reader = StreamReader::new();
        // A futures-io read dropped while waiting leaves no waiter behind (S21): the reader's
        // own read may wait next without S20's error.
        let mut buf = [0u8; 8];
        assert!(AsyncReadExt::read(&mut reader, &mut buf)
            .now_or_never()
            .is_none());
        assert!(
            reader.readline().now_or_never().is_none(),
            "S20 tripped by the dropped futures-io read"
        );
        reader.feed_data(b"alpha\nbeta\n");
        assert_eq!(reader.readline().await.unwrap(), b"alpha\n");
        // fill_buf lends a copy and removes nothing: the reader's own methods still see it.
        assert_eq!(reader.fill_buf().await.unwrap(), b"beta\n");
        assert_eq!(reader.read(2).await.unwrap(), b"be");
        // The copy no longer mirrors the reader: consume leaves the reader alone.
        reader.consume_unpin(5);
        assert_eq!(reader.fill_buf().await.unwrap(), b"ta\n");
        reader.consume_unpin(1);
        reader.feed_data(b"gamma");
        reader.feed_eof();
        assert_eq!(
            reader.fill_buf().await.unwrap(),
            b"a\n",
            "the lent copy, as it was"
        );
        reader.consume_unpin(2);
        let mut rest = Vec::new();
        AsyncReadExt::read_to_end(&mut reader, &mut rest)
            .await
            .unwrap();
        assert_eq!(rest, b"gamma");
        assert!(reader.fill_buf().await.unwrap().is_empty(), "EOF");
    });
}
