//! Headers as HAProxy's `doc/proxy-protocol.txt` writes them: v1 (TCP4, TCP6, UNKNOWN), v2
//! (TCP4, TCP6, LOCAL; byte by byte and in one segment; TLVs; over a Unix server; the largest
//! declarable length), the encoder's refusals, and bad headers closing only their connection.

use super::*;

#[test]
fn v1_tcp4_tcp6_and_unknown() {
    asyncio::run(async {
        let log = Log::default();
        let (server, port) = proxy_server(ProxyProtocol::Required, &log).await?;
        let tcp4 = b"PROXY TCP4 192.0.2.1 198.51.100.7 56324 443\r\n";
        assert_eq!(client(port, &[tcp4, b"hello"]).await, b"ok");
        let tcp6 = b"PROXY TCP6 2001:db8::1 2001:db8::2 40000 8443\r\n";
        assert_eq!(client(port, &[tcp6, b"six"]).await, b"ok");
        assert_eq!(
            client(port, &[b"PROXY UNKNOWN ff::1 whatever\r\n", b"u"]).await,
            b"ok"
        );
        let seen = log.borrow().clone();
        assert_eq!(seen.len(), 3);
        assert_eq!(seen[0].peer, "192.0.2.1:56324");
        assert_eq!(seen[0].sock, "198.51.100.7:443");
        assert_eq!(seen[0].data, b"hello");
        assert!(seen[0]
            .proxy_peer
            .as_deref()
            .unwrap()
            .starts_with("127.0.0.1:"));
        let h = seen[0].header.as_ref().unwrap();
        assert_eq!((h.version, h.command), (Version::V1, Command::Proxy));
        assert_eq!(seen[1].peer, "[2001:db8::1]:40000");
        assert_eq!(seen[1].sock, "[2001:db8::2]:8443");
        // UNKNOWN: accepted, and the socket's own addresses are kept (spec 2.1).
        assert!(seen[2].peer.starts_with("127.0.0.1:"), "{}", seen[2].peer);
        assert_eq!(seen[2].sock, format!("127.0.0.1:{port}"));
        assert_eq!(
            seen[2].header.as_ref().unwrap().addresses,
            Addresses::Unspecified
        );
        assert_eq!(seen[2].data, b"u");
        server.close();
        Ok::<_, asyncio::Error>(())
    })
    .unwrap()
    .unwrap();
}

#[test]
fn v2_tcp4_tcp6_local_byte_by_byte_and_in_one_segment() {
    asyncio::run(async {
        let log = Log::default();
        let (server, port) = proxy_server(ProxyProtocol::Required, &log).await?;
        // PROXY, INET/STREAM: 192.0.2.1:56324 -> 198.51.100.7:443
        let tcp4 = v2(
            0x21,
            0x11,
            &[192, 0, 2, 1, 198, 51, 100, 7, 0xdc, 0x04, 0x01, 0xbb],
        );
        let mut one_segment = tcp4.clone();
        one_segment.extend_from_slice(b"payload");
        assert_eq!(client(port, &[&one_segment]).await, b"ok");
        // The same header, one byte per write.
        let bytes: Vec<&[u8]> = tcp4.chunks(1).chain([&b"x"[..]]).collect();
        assert_eq!(client(port, &bytes).await, b"ok");
        // PROXY, INET6/STREAM: [2001:db8::1]:1 -> [2001:db8::2]:2
        let mut six = Vec::new();
        six.extend_from_slice(
            &"2001:db8::1"
                .parse::<std::net::Ipv6Addr>()
                .unwrap()
                .octets(),
        );
        six.extend_from_slice(
            &"2001:db8::2"
                .parse::<std::net::Ipv6Addr>()
                .unwrap()
                .octets(),
        );
        six.extend_from_slice(&[0, 1, 0, 2]);
        assert_eq!(client(port, &[&v2(0x21, 0x21, &six), b"6"]).await, b"ok");
        // LOCAL (a health check), UNSPEC: accepted, real addresses kept.
        assert_eq!(client(port, &[&v2(0x20, 0x00, &[]), b"l"]).await, b"ok");
        let seen = log.borrow().clone();
        assert_eq!(seen[0].peer, "192.0.2.1:56324");
        assert_eq!(seen[0].sock, "198.51.100.7:443");
        assert_eq!(seen[0].data, b"payload");
        assert_eq!(seen[1].peer, "192.0.2.1:56324");
        assert_eq!(seen[1].data, b"x");
        assert_eq!(seen[2].peer, "[2001:db8::1]:1");
        assert_eq!(seen[2].sock, "[2001:db8::2]:2");
        let local = seen[3].header.as_ref().unwrap();
        assert_eq!(
            (local.version, local.command),
            (Version::V2, Command::Local)
        );
        assert!(seen[3].peer.starts_with("127.0.0.1:"));
        assert_eq!(seen[3].data, b"l");
        server.close();
        Ok::<_, asyncio::Error>(())
    })
    .unwrap()
    .unwrap();
}

#[test]
fn v2_tlvs_reach_the_typed_accessor() {
    // TLVs by hand: ALPN "h2", AUTHORITY "example.com", NOOP padding, UNIQUE_ID, SSL with
    // VERSION/CN/CIPHER/SIG_ALG/KEY_ALG, NETNS, an unknown 0xE0, and a CRC32C at the end.
    let mut body = vec![10, 0, 0, 1, 10, 0, 0, 2, 0x30, 0x39, 0x00, 0x50];
    let tlv = |b: &mut Vec<u8>, kind: u8, value: &[u8]| {
        b.push(kind);
        b.extend_from_slice(&(value.len() as u16).to_be_bytes());
        b.extend_from_slice(value);
    };
    tlv(&mut body, 0x01, b"h2");
    tlv(&mut body, 0x02, b"example.com");
    tlv(&mut body, 0x04, &[0, 0, 0]);
    tlv(&mut body, 0x05, b"id-42");
    let mut ssl = vec![0x07, 0, 0, 0, 0];
    tlv(&mut ssl, 0x21, b"TLSv1.3");
    tlv(&mut ssl, 0x22, b"client.example");
    tlv(&mut ssl, 0x23, b"TLS_AES_128_GCM_SHA256");
    tlv(&mut ssl, 0x24, b"SHA256");
    tlv(&mut ssl, 0x25, b"RSA2048");
    tlv(&mut body, 0x20, &ssl);
    tlv(&mut body, 0x30, b"blue");
    tlv(&mut body, 0xE0, b"raw");
    tlv(&mut body, 0x03, &[0, 0, 0, 0]);
    let mut header = v2(0x21, 0x11, &body);
    let crc = crc32c(&header);
    let n = header.len();
    header[n - 4..].copy_from_slice(&crc.to_be_bytes());

    asyncio::run(async {
        let log = Log::default();
        let (server, port) = proxy_server(ProxyProtocol::Required, &log).await?;
        assert_eq!(client(port, &[&header, b"tlv"]).await, b"ok");
        // A wrong checksum is refused.
        let mut bad = header.clone();
        bad[n - 1] ^= 1;
        assert_eq!(client(port, &[&bad, b"no"]).await, b"");
        let seen = log.borrow().clone();
        assert_eq!(seen.len(), 1);
        let h = seen[0].header.clone().unwrap();
        assert_eq!(seen[0].peer, "10.0.0.1:12345");
        assert_eq!(h.alpn(), Some(&b"h2"[..]));
        assert_eq!(h.authority(), Some("example.com"));
        assert_eq!(h.unique_id(), Some(&b"id-42"[..]));
        assert_eq!(h.netns(), Some("blue"));
        assert_eq!(h.crc32c(), Some(crc));
        assert_eq!(h.tlv(0xE0), Some(&b"raw"[..]));
        let ssl = h.ssl().unwrap();
        assert!(ssl.client_ssl() && ssl.client_cert_verified());
        assert_eq!(ssl.version(), Some("TLSv1.3"));
        assert_eq!(ssl.cn(), Some("client.example"));
        assert_eq!(ssl.cipher(), Some("TLS_AES_128_GCM_SHA256"));
        assert_eq!(ssl.sig_alg(), Some("SHA256"));
        assert_eq!(ssl.key_alg(), Some("RSA2048"));
        server.close();
        Ok::<_, asyncio::Error>(())
    })
    .unwrap()
    .unwrap();
}

#[test]
fn v2_over_a_unix_server() {
    let dir = util::temp_dir("proxy-unix");
    let path = dir.join("s.sock");
    asyncio::run(async move {
        let log = Log::default();
        let server = asyncio::start_unix_server(recorder(&log), &path)
            .proxy_protocol(ProxyProtocol::Required)
            .await?;
        let mut body = vec![0u8; 216];
        body[..11].copy_from_slice(b"/run/client");
        body[108..108 + 8].copy_from_slice(b"/run/lb0");
        let header = v2(0x21, 0x31, &body);
        let answer = asyncio::timeout(Duration::from_secs(10), async {
            let (reader, writer) = asyncio::open_unix_connection(&path).await?;
            send(&writer, &[&header, b"unix"]).await?;
            reader.read(-1).await
        })
        .await??;
        assert_eq!(answer, b"ok");
        let seen = log.borrow().clone();
        assert_eq!(seen[0].peer, "/run/client");
        assert_eq!(seen[0].sock, "/run/lb0");
        assert_eq!(seen[0].data, b"unix");
        server.close();
        Ok::<_, asyncio::Error>(())
    })
    .unwrap()
    .unwrap();
}

#[test]
fn bad_headers_close_that_connection_only() {
    asyncio::run(async {
        let log = Log::default();
        let (server, port) = proxy_server(ProxyProtocol::Required, &log).await?;
        let too_long = [&b"PROXY UNKNOWN "[..], &[b'x'; 200]].concat();
        let oversized_v2 = {
            let mut v = v2(0x21, 0x11, &[]);
            v[14..16].copy_from_slice(&0xFFFFu16.to_be_bytes());
            v
        };
        for bad in [
            &b"hello, no header\r\n"[..],        // Required, plain client
            b"PROXY TCP4 1.2.3.4 5.6.7.8 1\r\n", // malformed v1
            &too_long,                           // v1 over 107 bytes
            &oversized_v2,                       // v2 length beyond the cap
            &v2(0x31, 0x11, &[0; 12]),           // v2 version 3
            b"PROXY TCP4 1.2.3.4",               // truncated, then EOF
            &v2(0x21, 0x11, &[0; 12])[..20],     // truncated v2, then EOF
        ] {
            assert_eq!(
                client(port, &[bad]).await,
                b"",
                "{:?}",
                String::from_utf8_lossy(bad)
            );
        }
        assert!(
            log.borrow().is_empty(),
            "no callback ran for a refused connection"
        );
        // The server is fine: the next good connection is served.
        assert_eq!(client(port, &[b"PROXY UNKNOWN\r\n", b"ok?"]).await, b"ok");
        assert_eq!(log.borrow().len(), 1);
        assert!(server.is_serving());
        server.close();
        Ok::<_, asyncio::Error>(())
    })
    .unwrap()
    .unwrap();
}

/// A v2 header as long as the length field allows (16 + 65,535 bytes): a TLS TLV carrying a
/// whole DER client certificate (sub-TLV 0x28, as ghostunnel and go-proxyproto send it) is a
/// real header, not an attack. Sent in 4 KiB pieces, it is accepted, and the bytes after it
/// are the client's.
#[test]
fn v2_header_of_the_largest_declarable_length_split_across_reads() {
    let tlv = |b: &mut Vec<u8>, kind: u8, value: &[u8]| {
        b.push(kind);
        b.extend_from_slice(&(value.len() as u16).to_be_bytes());
        b.extend_from_slice(value);
    };
    let mut body = vec![10, 0, 0, 1, 10, 0, 0, 2, 0x30, 0x39, 0x00, 0x50];
    let mut ssl = vec![0x03, 0, 0, 0, 0];
    tlv(&mut ssl, 0x22, b"client.example");
    let cert: Vec<u8> = (0..65_535 - body.len() - 3 - ssl.len() - 3)
        .map(|i| (i * 7) as u8)
        .collect();
    tlv(&mut ssl, 0x28, &cert);
    tlv(&mut body, 0x20, &ssl);
    assert_eq!(body.len(), 65_535);
    let header = v2(0x21, 0x11, &body);
    let mut chunks: Vec<&[u8]> = header.chunks(4096).collect();
    chunks.push(b"after");

    asyncio::run(async {
        let log = Log::default();
        let (server, port) = proxy_server(ProxyProtocol::Required, &log).await?;
        assert_eq!(client(port, &chunks).await, b"ok");
        let seen = log.borrow().clone();
        assert_eq!(seen[0].peer, "10.0.0.1:12345");
        assert_eq!(seen[0].data, b"after");
        let ssl = seen[0].header.as_ref().unwrap().ssl().unwrap();
        assert_eq!(ssl.cn(), Some("client.example"));
        let got = ssl
            .tlvs
            .iter()
            .find(|t| t.kind == 0x28)
            .expect("the certificate");
        assert!(got.value == cert, "the certificate arrives whole");
        server.close();
        Ok::<_, asyncio::Error>(())
    })
    .unwrap()
    .unwrap();
}

/// The encoder refuses what a v2 header cannot hold instead of writing one that says
/// something else: a Unix path over 108 bytes (it was cut short), addresses and TLVs over
/// 65,535 bytes (the length and the body were cut short). At the limits it round-trips.
#[test]
fn encoder_refuses_what_a_v2_header_cannot_hold() {
    let unix = |n: usize| ProxyHeader {
        version: Version::V2,
        command: Command::Proxy,
        kind: SocketKind::Stream,
        addresses: Addresses::Unix {
            source: vec![b'a'; n],
            destination: b"/run/app.sock".to_vec(),
        },
        tlvs: Vec::new(),
    };
    let fits = unix(108).to_bytes().expect("108 bytes fill the field");
    assert_eq!(parse(&fits), Parsed::Complete(unix(108), fits.len()));
    match unix(109).to_bytes() {
        Err(asyncio::Error::InvalidArgument(msg)) => {
            assert_eq!(msg, "PROXY v2 Unix address of 109 bytes (at most 108)")
        }
        other => panic!("{other:?}"),
    }

    // INET addresses take 12 bytes and a TLV's type and length 3: 65,520 bytes of value fill
    // the body exactly.
    let with_tlv = |n: usize| ProxyHeader {
        addresses: Addresses::Inet {
            source: "192.0.2.1:1".parse().unwrap(),
            destination: "192.0.2.2:2".parse().unwrap(),
        },
        tlvs: vec![Tlv {
            kind: 0xE0,
            value: vec![0x5a; n],
        }],
        ..unix(0)
    };
    let fits = with_tlv(65_520).to_bytes().expect("the largest body");
    assert_eq!(fits.len(), 16 + 65_535);
    assert_eq!(parse(&fits), Parsed::Complete(with_tlv(65_520), fits.len()));
    for n in [65_521, 65_536, 70_000] {
        match with_tlv(n).to_bytes() {
            Err(asyncio::Error::InvalidArgument(msg)) => assert_eq!(
                msg,
                format!(
                    "PROXY v2 address block and TLVs of {} bytes (at most 65535)",
                    n + 15
                )
            ),
            other => panic!("{n}: {other:?}"),
        }
    }
}
