//! Property tests: the parser never panics, the encoder round-trips through it, and a header
//! that parses whole is incomplete at every cut.

use super::*;

fn any_header() -> impl Strategy<Value = ProxyHeader> {
    let inet = (
        any::<bool>(),
        any::<[u8; 16]>(),
        any::<[u8; 16]>(),
        any::<u16>(),
        any::<u16>(),
    )
        .prop_map(|(v4, s, d, sp, dp)| {
            let ip = |b: [u8; 16]| -> std::net::IpAddr {
                if v4 {
                    std::net::Ipv4Addr::new(b[0], b[1], b[2], b[3]).into()
                } else {
                    std::net::Ipv6Addr::from(b).into()
                }
            };
            Addresses::Inet {
                source: (ip(s), sp).into(),
                destination: (ip(d), dp).into(),
            }
        });
    let path = proptest::collection::vec(1u8..=255, 0..108);
    let unix = (path.clone(), path).prop_map(|(source, destination)| Addresses::Unix {
        source,
        destination,
    });
    let addresses = prop_oneof![Just(Addresses::Unspecified), inet, unix];
    let tlv = (any::<u8>(), proptest::collection::vec(any::<u8>(), 0..40))
        .prop_filter("no CRC (needs its checksum)", |(k, _)| *k != 0x03)
        .prop_map(|(kind, value)| Tlv { kind, value });
    (
        any::<bool>(),
        any::<bool>(),
        prop_oneof![
            Just(SocketKind::Unspecified),
            Just(SocketKind::Stream),
            Just(SocketKind::Datagram)
        ],
        addresses,
        proptest::collection::vec(tlv, 0..5),
    )
        .prop_map(|(v1, local, kind, addresses, tlvs)| {
            if v1 {
                // v1 carries TCP addresses or nothing.
                let inet = matches!(addresses, Addresses::Inet { .. });
                ProxyHeader {
                    version: Version::V1,
                    command: Command::Proxy,
                    kind: if inet {
                        SocketKind::Stream
                    } else {
                        SocketKind::Unspecified
                    },
                    addresses: if inet {
                        addresses
                    } else {
                        Addresses::Unspecified
                    },
                    tlvs: Vec::new(),
                }
            } else {
                ProxyHeader {
                    version: Version::V2,
                    command: if local {
                        Command::Local
                    } else {
                        Command::Proxy
                    },
                    kind,
                    addresses,
                    tlvs,
                }
            }
        })
}

proptest! {
    #[test]
    fn parse_never_panics(bytes in proptest::collection::vec(any::<u8>(), 0..300)) {
        let _ = parse(&bytes);
        // With a signature in front, the parser goes deeper.
        let _ = parse(&[&b"PROXY "[..], &bytes].concat());
        let _ = parse(&[&b"\r\n\r\n\0\r\nQUIT\n"[..], &bytes].concat());
    }

    #[test]
    fn encode_then_parse_round_trips(header in any_header(), tail in proptest::collection::vec(any::<u8>(), 0..20)) {
        let bytes = header.to_bytes().unwrap();
        let with_tail = [&bytes[..], &tail].concat();
        match parse(&with_tail) {
            Parsed::Complete(back, used) => {
                prop_assert_eq!(used, bytes.len());
                prop_assert_eq!(back, header);
            }
            other => prop_assert!(false, "{:?}", other),
        }
        for i in 0..bytes.len() {
            prop_assert_eq!(parse(&bytes[..i]), Parsed::Incomplete);
        }
    }

    /// Where a header is cut must not change the answer: whatever bytes follow the v2
    /// signature (LOCAL or PROXY, any family byte, any block), if the whole header parses, every
    /// shorter prefix of it is Incomplete, not Invalid (split at every byte, spec section 2.2:
    /// a LOCAL header's family is ignored, so it cannot be refused from the family byte alone).
    #[test]
    fn a_header_that_parses_whole_is_incomplete_at_every_cut(
        local in any::<bool>(),
        fam in any::<u8>(),
        body in proptest::collection::vec(any::<u8>(), 0..60),
    ) {
        let whole = v2(if local { 0x20 } else { 0x21 }, fam, &body);
        if let Parsed::Complete(_, used) = parse(&whole) {
            prop_assert_eq!(used, whole.len());
            for i in 0..whole.len() {
                prop_assert_eq!(parse(&whole[..i]), Parsed::Incomplete, "cut at {}", i);
            }
        }
    }
}
