//! What a read-through reads and leaves: the rest of the bytes for a `readline` after it,
//! nothing while reading is paused, nothing for a second reader (S20), nothing once
//! `set_protocol` gave the bytes to another protocol (L56).

use super::*;

#[test]
fn a_read_into_reads_through_and_a_readline_after_a_full_one_gets_the_rest() {
    let (a, mut peer) = asyncio::socketpair().unwrap();
    run(async move {
        let (reader, _writer) = asyncio::open_connection_sock(a).await.unwrap();
        let mut small = [0u8; 4];
        let n = {
            let mut read = pin!(reader.read_into(&mut small));
            // First poll: nothing in the socket, the read waits on the transport.
            must_wait(read.as_mut()).await;
            peer.write_all(b"hello world\nbye\n").unwrap();
            read.await.unwrap()
        };
        assert_eq!(n, 4);
        assert_eq!(&small, b"hell");
        // Read through: the rest is still in the socket, not in the reader's buffer.
        assert_eq!(reader_buffered(&reader), 0);
        // The edge the full read left unused goes back to the protocol path for readline.
        assert_eq!(reader.readline().await.unwrap(), b"o world\n");
        assert_eq!(reader.readline().await.unwrap(), b"bye\n");
        peer.shutdown(Shutdown::Write).unwrap();
        assert_eq!(reader.read_into(&mut small).await.unwrap(), 0);
        assert!(reader.at_eof());
    });
}

#[test]
fn a_read_into_does_not_read_while_reading_is_paused() {
    let (a, mut peer) = asyncio::socketpair().unwrap();
    run(async move {
        let (reader, writer) = asyncio::open_connection_sock(a).await.unwrap();
        let transport = writer.transport();
        let flag = Arc::new(Flag::default());
        let waker = Waker::from(flag.clone());
        let mut buf = [0u8; 64];
        let n = {
            let mut read = pin!(reader.read_into(&mut buf));
            assert!(poll_with(read.as_mut(), &waker).is_pending());
            peer.write_all(b"abc").unwrap();
            turn_until(&flag).await; // the edge is the read's now
            transport.pause_reading();
            assert!(
                poll_with(read.as_mut(), &waker).is_pending(),
                "a paused transport is not read, even by a read-through"
            );
            assert_eq!(reader_buffered(&reader), 0);
            transport.resume_reading();
            read.await.unwrap()
        };
        assert_eq!(n, 3);
        assert_eq!(&buf[..3], b"abc");
    });
}

#[test]
fn a_second_reader_waiting_is_refused_before_any_byte_is_read_through_s20() {
    let (a, mut peer) = asyncio::socketpair().unwrap();
    run(async move {
        let (reader, _writer) = asyncio::open_connection_sock(a).await.unwrap();
        let flag = Arc::new(Flag::default());
        let waker = Waker::from(flag.clone());
        let mut first_buf = [0u8; 8];
        let n = {
            let mut first = pin!(reader.read_into(&mut first_buf));
            assert!(poll_with(first.as_mut(), &waker).is_pending());
            peer.write_all(b"mine").unwrap();
            turn_until(&flag).await;
            let mut other = [0u8; 8];
            let e = reader.read_into(&mut other).await.unwrap_err();
            assert!(e.to_string().contains("another coroutine"), "S20: {e}");
            first.await.unwrap()
        };
        assert_eq!(n, 4);
        assert_eq!(&first_buf[..4], b"mine");
    });
}

#[test]
fn after_set_protocol_the_old_reader_reads_nothing_through_l56() {
    #[derive(Default)]
    struct Sink(Vec<u8>);
    impl asyncio::Protocol for Sink {
        fn data_received(&mut self, data: &[u8]) {
            self.0.extend_from_slice(data);
        }
    }
    let (a, mut peer) = asyncio::socketpair().unwrap();
    run(async move {
        let (reader, writer) = asyncio::open_connection_sock(a).await.unwrap();
        let flag = Arc::new(Flag::default());
        let waker = Waker::from(flag.clone());
        let mut buf = [0u8; 8];
        let mut read = pin!(reader.read_into(&mut buf));
        assert!(poll_with(read.as_mut(), &waker).is_pending());
        let sink = std::rc::Rc::new(std::cell::RefCell::new(Sink::default()));
        writer.transport().set_protocol(sink.clone()).unwrap();
        peer.write_all(b"zz").unwrap();
        for _ in 0..10_000 {
            if sink.borrow().0 == b"zz" {
                break;
            }
            asyncio::yield_now().await;
            // Woken or not, the old reader's read finds nothing of the new protocol's.
            assert!(poll_with(read.as_mut(), &waker).is_pending());
        }
        assert_eq!(sink.borrow().0, b"zz", "the new protocol got the bytes");
        assert_eq!(reader_buffered(&reader), 0);
    });
}
