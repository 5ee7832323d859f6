//! The parser's answer does not depend on how a header was cut into reads: once a prefix is
//! `Invalid` or `Complete`, every longer one says the same, and a v2 header whose version,
//! command, family or length already rules it out is refused at once, however many bytes came
//! with that byte (a server then closes the connection without waiting for the declared
//! length or the header timeout).

use super::*;

/// Signature, then version/command, family/transport and length: 16 bytes in all.
fn v2_start(ver_cmd: u8, fam: u8, len: u16) -> Vec<u8> {
    v2(ver_cmd, fam, &vec![0; usize::from(len)])[..16].to_vec()
}

/// Parses every prefix of `bytes`; the first answer that is not `Incomplete` must stay the
/// answer for every longer prefix.
fn first_decision_stays(bytes: &[u8]) -> Result<(), String> {
    let mut decided: Option<(usize, Parsed)> = None;
    for i in 0..=bytes.len() {
        let now = parse(&bytes[..i]);
        match &decided {
            None if now == Parsed::Incomplete => {}
            None => decided = Some((i, now)),
            Some((at, first)) if *first != now => {
                return Err(format!("{first:?} at {at} bytes, then {now:?} at {i}"));
            }
            Some(_) => {}
        }
    }
    Ok(())
}

/// A bad version byte was refused at 13 bytes, but with the length field behind it (one
/// 16-byte read) it was `Incomplete` until the declared length arrived.
#[test]
fn a_bad_v2_version_command_family_or_length_is_invalid_however_the_header_is_cut() {
    for (ver_cmd, fam, len, why) in [
        (0x00, 0x11, 12, "version is not 2"),
        (0x31, 0x11, 12, "version is not 2"),
        (0x22, 0x11, 12, "command is not LOCAL or PROXY"),
        (0x21, 0x41, 12, "family is not UNSPEC, INET, INET6 or UNIX"),
        (0x21, 0x13, 12, "transport is not UNSPEC, STREAM or DGRAM"),
        (0x21, 0x11, 4, "length too short for the address family"),
        (0x21, 0x21, 35, "length too short for the address family"),
        (0x21, 0x31, 215, "length too short for the address family"),
    ] {
        let start = v2_start(ver_cmd, fam, len);
        let want = Parsed::Invalid(asyncio::proxy_protocol::Invalid::V2(why));
        assert_eq!(parse(&start), want, "{ver_cmd:#x} {fam:#x} len {len}");
        assert_eq!(
            first_decision_stays(&start),
            Ok(()),
            "{ver_cmd:#x} {fam:#x}"
        );
    }
    // LOCAL ignores the family and a short address block: still a header under way.
    assert_eq!(parse(&v2_start(0x20, 0x41, 4)), Parsed::Incomplete);
    assert_eq!(parse(&v2_start(0x20, 0x11, 4)), Parsed::Incomplete);
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(2000))]
    /// Whatever follows a signature (or the start of a valid v1 line), the first decision
    /// holds for every longer prefix.
    #[test]
    fn the_first_decision_holds_for_every_longer_prefix(
        start in 0usize..4,
        cut in 0usize..3,
        tail in proptest::collection::vec(any::<u8>(), 0..120),
    ) {
        let starts: [&[u8]; 4] = [
            b"PROXY ",
            b"\r\n\r\n\0\r\nQUIT\n",
            b"PROXY TCP4 192.0.2.1 198.51.100.7 1 2",
            b"\r\n\r\n\0\r\nQUIT\n\x21\x11\x00\x0c",
        ];
        let start = starts[start];
        let bytes = [&start[..start.len() - cut], &tail].concat();
        if let Err(e) = first_decision_stays(&bytes) {
            prop_assert!(false, "{}", e);
        }
    }
}

/// The server side: a bad v2 header that arrives in one read with its length field (the
/// client sends nothing more and keeps its end open) is refused at once, not after an hour's
/// header timeout.
#[test]
fn a_server_closes_a_bad_v2_header_in_one_read_without_waiting_for_the_timeout() {
    asyncio::run(async {
        let log = Log::default();
        let server = asyncio::start_server(recorder(&log), "127.0.0.1", 0)
            .proxy_protocol(ProxyProtocol::Required)
            .proxy_protocol_timeout(Duration::from_secs(3600))
            .await?;
        let port = util::port_of(&server);
        let (reader, writer) = asyncio::open_connection("127.0.0.1", port).await?;
        writer.write(&v2_start(0x31, 0x11, 0xFFFF))?; // version 3, 64 KiB declared
        writer.drain().await?;
        let closed = asyncio::timeout(Duration::from_secs(10), reader.read(-1)).await;
        match closed {
            Ok(Ok(rest)) => assert!(rest.is_empty(), "the server sent {rest:?}"),
            Ok(Err(_)) => {} // reset by the server's abort: closed too
            Err(e) => panic!("the server did not close the connection within 10 s: {e:?}"),
        }
        assert!(log.borrow().is_empty(), "no callback ran");
        writer.close();
        server.close();
        Ok::<_, asyncio::Error>(())
    })
    .unwrap()
    .unwrap();
}
