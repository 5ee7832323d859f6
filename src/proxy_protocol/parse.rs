//! The PROXY header parser: pure functions over the bytes received so far (see the module
//! above for the format). Ground rules: never index past what was checked, never panic, never
//! look beyond `MAX_V1_LEN` / `MAX_V2_LEN` bytes.

use std::fmt;
use std::net::{IpAddr, Ipv4Addr, Ipv6Addr, SocketAddr};

use super::{
    Addresses, Command, ProxyHeader, SocketKind, Tlv, Version, MAX_V1_LEN, PP2_TYPE_CRC32C,
    V1_SIGNATURE, V2_SIGNATURE,
};

/// What [`parse`] made of the bytes so far.
///
/// # Examples
///
/// A v1 line read in two pieces, with the client's data right behind it:
///
/// ```
/// use asyncio::proxy_protocol::{parse, Addresses, Parsed};
///
/// let got = b"PROXY TCP4 192.0.2.1 198.51.100.7 56324 443\r\nGET / HTTP/1.1\r\n";
/// assert_eq!(parse(&got[..20]), Parsed::Incomplete); // read more, then call again
/// match parse(got) {
///     Parsed::Complete(header, used) => {
///         let Addresses::Inet { source, .. } = header.addresses else { panic!() };
///         assert_eq!(source.to_string(), "192.0.2.1:56324");
///         assert_eq!(&got[used..], b"GET / HTTP/1.1\r\n"); // the client's own bytes
///     }
///     other => panic!("{other:?}"),
/// }
/// ```
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Parsed {
    /// A header may be under way: read more and call again with everything so far.
    Incomplete,
    /// A whole header, and how many bytes it took (what follows is the client's data).
    Complete(ProxyHeader, usize),
    /// Not a valid header: close the connection (or, for [`Invalid::NotProxy`] with an
    /// optional header, treat the bytes as the client's).
    Invalid(Invalid),
}

/// Why bytes are not a valid PROXY header.
///
/// # Examples
///
/// ```
/// use asyncio::proxy_protocol::{parse, Invalid, Parsed};
///
/// assert_eq!(parse(b"GET / HTTP/1.1\r\n"), Parsed::Invalid(Invalid::NotProxy));
/// let Parsed::Invalid(why) = parse(b"PROXY TCP4 nonsense\r\n") else { panic!() };
/// assert!(matches!(why, Invalid::V1(_)));
/// assert!(why.to_string().starts_with("malformed PROXY v1 line: "), "{why}");
/// ```
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
#[non_exhaustive]
pub enum Invalid {
    /// The bytes start with neither signature: no PROXY header at all.
    NotProxy,
    /// A v1 line longer than 107 bytes (no CRLF within them).
    V1TooLong,
    /// A v1 line that breaks the grammar; says which part.
    V1(&'static str),
    /// A v2 header that breaks the format; says which part.
    V2(&'static str),
}

impl fmt::Display for Invalid {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Invalid::NotProxy => f.write_str("no PROXY protocol signature"),
            Invalid::V1TooLong => write!(f, "PROXY v1 line longer than {MAX_V1_LEN} bytes"),
            Invalid::V1(what) => write!(f, "malformed PROXY v1 line: {what}"),
            Invalid::V2(what) => write!(f, "malformed PROXY v2 header: {what}"),
        }
    }
}

impl std::error::Error for Invalid {}

/// Reads a PROXY header (v1 or v2) from the start of `buf`, the bytes received so far.
///
/// [`Parsed::Incomplete`] until it can decide, then [`Parsed::Invalid`] or
/// [`Parsed::Complete`], the same answer for every longer `buf` (however the bytes were cut
/// into reads). A v2 header is refused as soon as its version, command, family or length
/// rules it out, its block once the declared length is there; a v1 line is judged whole, at
/// its LF (or at 107 bytes without one); bytes that start neither signature are refused at
/// the first byte that differs. Never panics, whatever the bytes.
///
/// # Examples
///
/// ```
/// use asyncio::proxy_protocol::{parse, Invalid, Parsed};
///
/// let v2_local = b"\r\n\r\n\0\r\nQUIT\n\x20\x00\x00\x00";
/// assert!(matches!(parse(v2_local), Parsed::Complete(_, 16)));
/// assert!(matches!(parse(&v2_local[..7]), Parsed::Incomplete));
/// assert_eq!(parse(b"HELO"), Parsed::Invalid(Invalid::NotProxy));
/// ```
pub fn parse(buf: &[u8]) -> Parsed {
    match buf.first() {
        None => Parsed::Incomplete,
        Some(b'P') => parse_v1(buf),
        Some(b'\r') => parse_v2(buf),
        Some(_) => Parsed::Invalid(Invalid::NotProxy),
    }
}

fn parse_v1(buf: &[u8]) -> Parsed {
    let n = buf.len().min(V1_SIGNATURE.len());
    if buf[..n] != V1_SIGNATURE[..n] {
        return Parsed::Invalid(Invalid::NotProxy);
    }
    let window = &buf[..buf.len().min(MAX_V1_LEN)];
    let Some(lf) = window.iter().position(|&b| b == b'\n') else {
        return if buf.len() >= MAX_V1_LEN {
            Parsed::Invalid(Invalid::V1TooLong)
        } else {
            Parsed::Incomplete
        };
    };
    match v1_line(&buf[..lf]) {
        Ok(h) => Parsed::Complete(h, lf + 1),
        Err(what) => Parsed::Invalid(Invalid::V1(what)),
    }
}

/// `line` is everything before the LF.
fn v1_line(line: &[u8]) -> Result<ProxyHeader, &'static str> {
    let line = line.strip_suffix(b"\r").ok_or("no CR before the LF")?;
    let rest = line.strip_prefix(b"PROXY ").ok_or("no PROXY signature")?;
    let unknown = ProxyHeader {
        version: Version::V1,
        command: Command::Proxy,
        kind: SocketKind::Unspecified,
        addresses: Addresses::Unspecified,
        tlvs: Vec::new(),
    };
    // UNKNOWN: anything may follow up to the CRLF, and is ignored (bytes that are not text
    // included: the spec has the receiver ignore them, not read them).
    if rest == b"UNKNOWN" || rest.starts_with(b"UNKNOWN ") {
        return Ok(unknown);
    }
    let rest = std::str::from_utf8(rest).map_err(|_| "not ASCII")?;
    let mut parts = rest.split(' ');
    let fam = parts.next().ok_or("no family")?;
    let v4 = match fam {
        "TCP4" => true,
        "TCP6" => false,
        _ => return Err("family is not TCP4, TCP6 or UNKNOWN"),
    };
    let (Some(src), Some(dst), Some(sport), Some(dport), None) = (
        parts.next(),
        parts.next(),
        parts.next(),
        parts.next(),
        parts.next(),
    ) else {
        return Err("not four fields after the family");
    };
    let ip = |s: &str| -> Result<IpAddr, &'static str> {
        if v4 {
            s.parse::<Ipv4Addr>()
                .map(IpAddr::V4)
                .map_err(|_| "bad IPv4 address")
        } else {
            s.parse::<Ipv6Addr>()
                .map(IpAddr::V6)
                .map_err(|_| "bad IPv6 address")
        }
    };
    let port = |s: &str| -> Result<u16, &'static str> {
        let digits = !s.is_empty() && s.len() <= 5 && s.bytes().all(|b| b.is_ascii_digit());
        let leading_zero = s.len() > 1 && s.starts_with('0');
        if !digits || leading_zero {
            return Err("bad port");
        }
        s.parse().map_err(|_| "port above 65535")
    };
    Ok(ProxyHeader {
        kind: SocketKind::Stream,
        addresses: Addresses::Inet {
            source: SocketAddr::new(ip(src)?, port(sport)?),
            destination: SocketAddr::new(ip(dst)?, port(dport)?),
        },
        ..unknown
    })
}

fn parse_v2(buf: &[u8]) -> Parsed {
    let n = buf.len().min(V2_SIGNATURE.len());
    if buf[..n] != V2_SIGNATURE[..n] {
        return Parsed::Invalid(Invalid::NotProxy);
    }
    // Reject a bad version or family as soon as the byte is there, however many bytes came
    // with it: the answer must not depend on how the header was cut into reads (a bad
    // version in one 16-byte segment used to wait for its declared length, or the timeout).
    // A LOCAL header's family is ignored (see `v2_header`), so it is no reason to refuse one.
    let local = match buf.get(12).map(|&vc| ver_cmd(vc)) {
        Some(Err(what)) => return Parsed::Invalid(Invalid::V2(what)),
        Some(Ok(command)) => command == Command::Local,
        None => false,
    };
    let fam = match buf.get(13).filter(|_| !local).map(|&fp| fam_proto(fp)) {
        Some(Err(what)) => return Parsed::Invalid(Invalid::V2(what)),
        Some(Ok((fam, _))) => fam,
        None => 0,
    };
    let Some(&[_, _, hi, lo, ..]) = buf.get(12..) else {
        return Parsed::Incomplete;
    };
    let declared = usize::from(u16::from_be_bytes([hi, lo]));
    // The same for a length too short for the PROXY command's addresses: known at 16 bytes.
    if declared < address_len(fam) {
        return Parsed::Invalid(Invalid::V2(TOO_SHORT));
    }
    // At most `MAX_V2_LEN`: every length the field can declare is taken.
    let total = 16 + declared;
    if buf.len() < total {
        return Parsed::Incomplete;
    }
    match v2_header(&buf[..total]) {
        Ok(h) => Parsed::Complete(h, total),
        Err(what) => Parsed::Invalid(Invalid::V2(what)),
    }
}

fn ver_cmd(b: u8) -> Result<Command, &'static str> {
    if b >> 4 != 2 {
        return Err("version is not 2");
    }
    match b & 0x0f {
        0 => Ok(Command::Local),
        1 => Ok(Command::Proxy),
        _ => Err("command is not LOCAL or PROXY"),
    }
}

/// (family 0–3, kind)
fn fam_proto(b: u8) -> Result<(u8, SocketKind), &'static str> {
    let kind = match b & 0x0f {
        0 => SocketKind::Unspecified,
        1 => SocketKind::Stream,
        2 => SocketKind::Datagram,
        _ => return Err("transport is not UNSPEC, STREAM or DGRAM"),
    };
    match b >> 4 {
        f @ 0..=3 => Ok((f, kind)),
        _ => Err("family is not UNSPEC, INET, INET6 or UNIX"),
    }
}

/// `h` is exactly the header (16 bytes plus the declared length).
fn v2_header(h: &[u8]) -> Result<ProxyHeader, &'static str> {
    let command = ver_cmd(h[12])?;
    let local = command == Command::Local;
    // LOCAL: the spec has the receiver discard the protocol block, the family included, so a
    // family or transport it does not know is no reason to refuse a health check.
    let (fam, kind) = match fam_proto(h[13]) {
        Err(_) if local => (0, SocketKind::Unspecified),
        other => other?,
    };
    let body = &h[16..];
    let need = address_len(fam);
    let (addresses, rest) = match body.split_at_checked(need) {
        Some((a, rest)) => (addresses(fam, a), rest),
        // LOCAL: the address block is to be ignored, so a short one does not matter.
        None if local => (Addresses::Unspecified, &[][..]),
        None => return Err(TOO_SHORT),
    };
    let tlvs = match tlvs(rest) {
        // LOCAL: a block that does not parse as TLVs is discarded with the rest.
        Err(_) if local => Vec::new(),
        other => other?,
    };
    if let Some(t) = tlvs.iter().find(|t| t.kind == PP2_TYPE_CRC32C) {
        let Ok(carried) = <[u8; 4]>::try_from(&t.value[..]) else {
            return Err("CRC32C value is not 4 bytes");
        };
        // The value's place in `h`: find it by position of the first CRC TLV.
        let at = crc_offset(h, 16 + need).ok_or("CRC32C field not found")?;
        let mut copy = h.to_vec();
        copy[at..at + 4].fill(0);
        if crc32c(&copy) != u32::from_be_bytes(carried) {
            return Err("CRC32C mismatch");
        }
    }
    Ok(ProxyHeader {
        version: super::Version::V2,
        command,
        kind,
        addresses,
        tlvs,
    })
}

/// Why a PROXY header whose length cannot hold its family's addresses is refused.
const TOO_SHORT: &str = "length too short for the address family";

/// The bytes of the address block of family `fam` (0-3): INET, INET6, UNIX, none.
fn address_len(fam: u8) -> usize {
    match fam {
        1 => 12,
        2 => 36,
        3 => 216,
        _ => 0,
    }
}

fn addresses(fam: u8, a: &[u8]) -> Addresses {
    let port = |i: usize| u16::from_be_bytes([a[i], a[i + 1]]);
    match fam {
        1 => {
            let ip = |i: usize| IpAddr::V4(Ipv4Addr::new(a[i], a[i + 1], a[i + 2], a[i + 3]));
            Addresses::Inet {
                source: SocketAddr::new(ip(0), port(8)),
                destination: SocketAddr::new(ip(4), port(10)),
            }
        }
        2 => {
            let ip = |i: usize| {
                let mut o = [0u8; 16];
                o.copy_from_slice(&a[i..i + 16]);
                IpAddr::V6(Ipv6Addr::from(o))
            };
            Addresses::Inet {
                source: SocketAddr::new(ip(0), port(32)),
                destination: SocketAddr::new(ip(16), port(34)),
            }
        }
        3 => {
            // Each field is a copied `sun_path`. A pathname ends at its first NUL (senders copy
            // all 108 bytes, and what follows the terminator may be anything); an abstract name
            // (leading NUL) has no terminator, so only its NUL padding is trimmed.
            let path = |p: &[u8]| {
                let end = match p.first() {
                    Some(0) => p.iter().rposition(|&b| b != 0).map_or(0, |i| i + 1),
                    _ => p.iter().position(|&b| b == 0).unwrap_or(p.len()),
                };
                p[..end].to_vec()
            };
            Addresses::Unix {
                source: path(&a[..108]),
                destination: path(&a[108..216]),
            }
        }
        _ => Addresses::Unspecified,
    }
}

/// Splits a TLV list (the tail of a v2 header, or an SSL field's sub-TLVs).
pub(super) fn tlvs(mut b: &[u8]) -> Result<Vec<Tlv>, &'static str> {
    let mut out = Vec::new();
    while !b.is_empty() {
        let [kind, hi, lo, ref rest @ ..] = *b else {
            return Err("truncated TLV");
        };
        let len = usize::from(u16::from_be_bytes([hi, lo]));
        let (value, tail) = rest
            .split_at_checked(len)
            .ok_or("TLV longer than the header")?;
        out.push(Tlv {
            kind,
            value: value.to_vec(),
        });
        b = tail;
    }
    Ok(out)
}

/// Where the first CRC32C TLV's value starts in the header `h` (TLVs from `from`).
fn crc_offset(h: &[u8], mut at: usize) -> Option<usize> {
    while at + 3 <= h.len() {
        let len = usize::from(u16::from_be_bytes([h[at + 1], h[at + 2]]));
        if h[at] == PP2_TYPE_CRC32C {
            return Some(at + 3).filter(|&v| v + 4 <= h.len());
        }
        at += 3 + len;
    }
    None
}

/// CRC-32C (Castagnoli, reflected polynomial 0x82F63B78), bit by bit: headers are short.
pub(super) fn crc32c(data: &[u8]) -> u32 {
    let mut crc = !0u32;
    for &b in data {
        crc ^= u32::from(b);
        for _ in 0..8 {
            crc = if crc & 1 != 0 {
                (crc >> 1) ^ 0x82F6_3B78
            } else {
                crc >> 1
            };
        }
    }
    !crc
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn crc32c_check_value() {
        // The standard check value of CRC-32C.
        assert_eq!(crc32c(b"123456789"), 0xE306_9283);
    }

    #[test]
    fn v1_lines() {
        let ok = b"PROXY TCP6 ::1 2001:db8::2 1 65535\r\n";
        let Parsed::Complete(h, n) = parse(ok) else {
            panic!("{:?}", parse(ok))
        };
        assert_eq!(n, ok.len());
        assert_eq!(h.source().unwrap().to_string(), "[::1]:1");
        for bad in [
            &b"PROXY TCP4 1.2.3.4 5.6.7.8 1 2\n"[..],
            b"PROXY TCP4 1.2.3.4 5.6.7.8 1\r\n",
            b"PROXY TCP4 1.2.3.4 5.6.7.8 1 65536\r\n",
            b"PROXY TCP4 1.2.3.4 5.6.7.8 01 2\r\n",
            b"PROXY TCP4 ::1 ::2 1 2\r\n",
            b"PROXY TCP6 1.2.3.4 5.6.7.8 1 2\r\n",
            b"PROXY UDP4 1.2.3.4 5.6.7.8 1 2\r\n",
            b"PROXY  TCP4 1.2.3.4 5.6.7.8 1 2\r\n",
            b"PROXY TCP4 1.2.3.4 5.6.7.8 1 2 3\r\n",
        ] {
            assert!(
                matches!(parse(bad), Parsed::Invalid(Invalid::V1(_))),
                "{:?}: {:?}",
                String::from_utf8_lossy(bad),
                parse(bad)
            );
        }
        // Spec 2.1: after UNKNOWN the receiver ignores anything up to the CRLF, text or not.
        for unknown in [
            &b"PROXY UNKNOWN\r\n"[..],
            b"PROXY UNKNOWN ffff::1 ffff::2 65535 65535\r\n",
            b"PROXY UNKNOWN \xff\xfe\x00\r\n",
        ] {
            let Parsed::Complete(h, n) = parse(unknown) else {
                panic!(
                    "{:?}: {:?}",
                    String::from_utf8_lossy(unknown),
                    parse(unknown)
                )
            };
            assert_eq!((n, h.addresses), (unknown.len(), Addresses::Unspecified));
        }
        let long = [b"PROXY UNKNOWN ".as_slice(), &[b'x'; 100]].concat();
        assert_eq!(parse(&long), Parsed::Invalid(Invalid::V1TooLong));
        assert_eq!(parse(&long[..106]), Parsed::Incomplete);
    }

    #[test]
    fn every_prefix_of_a_header_is_incomplete() {
        let v1 = b"PROXY TCP4 1.2.3.4 5.6.7.8 1 2\r\n".to_vec();
        let mut v2 = V2_SIGNATURE.to_vec();
        v2.extend_from_slice(&[0x21, 0x11, 0, 12, 1, 2, 3, 4, 5, 6, 7, 8, 0, 1, 0, 2]);
        for h in [v1, v2] {
            for i in 0..h.len() {
                assert_eq!(parse(&h[..i]), Parsed::Incomplete, "prefix {i}");
            }
            assert!(matches!(parse(&h), Parsed::Complete(_, n) if n == h.len()));
        }
    }

    /// The spec's LOCAL: the receiver discards the protocol block, family included, so an
    /// unknown family or a block that is not TLVs does not refuse a health check; the same
    /// bytes under PROXY are refused.
    #[test]
    fn v2_local_ignores_what_its_block_holds() {
        let header = |vc: u8, fp: u8, body: &[u8]| {
            let mut v = V2_SIGNATURE.to_vec();
            v.extend_from_slice(&[vc, fp]);
            v.extend_from_slice(&(body.len() as u16).to_be_bytes());
            v.extend_from_slice(body);
            v
        };
        let unknown_family = (0x51, &[0u8; 4][..]);
        let not_tlvs = (0x11, &[1, 2, 3, 4, 5, 6, 7, 8, 0, 1, 0, 2, 0x04, 0x00][..]);
        for (fp, body) in [unknown_family, not_tlvs] {
            let local = header(0x20, fp, body);
            let Parsed::Complete(h, n) = parse(&local) else {
                panic!("LOCAL {fp:#x}: {:?}", parse(&local))
            };
            assert_eq!(n, local.len());
            assert_eq!(h.command, Command::Local);
            assert!(h.tlvs.is_empty(), "{:?}", h.tlvs);
            let proxy = header(0x21, fp, body);
            assert!(
                matches!(parse(&proxy), Parsed::Invalid(Invalid::V2(_))),
                "PROXY {fp:#x}: {:?}",
                parse(&proxy)
            );
        }
    }

    /// The spec's UNSPEC transport (low nibble of byte 13): "the receiver should ignore address
    /// information", as for the UNSPEC family; the socket's own addresses stay. A stated
    /// transport over the same address block relays it.
    #[test]
    fn v2_unspec_transport_relays_no_addresses() {
        let inet = [1, 2, 3, 4, 5, 6, 7, 8, 0, 1, 0, 2];
        let mut unix = [0u8; 216];
        unix[0] = b'/';
        unix[108] = b'/';
        for (fam, body) in [(0x10, &inet[..]), (0x20, &[1u8; 36][..]), (0x30, &unix[..])] {
            for (proto, relays) in [(0, false), (1, true), (2, true)] {
                let mut v = V2_SIGNATURE.to_vec();
                v.extend_from_slice(&[0x21, fam | proto]);
                v.extend_from_slice(&(body.len() as u16).to_be_bytes());
                v.extend_from_slice(body);
                let Parsed::Complete(h, _) = parse(&v) else {
                    panic!("{:#x}: {:?}", fam | proto, parse(&v))
                };
                assert_eq!(h.relays_addresses(), relays, "{:#x}", fam | proto);
                assert_eq!(h.source().is_some(), relays, "{:#x}", fam | proto);
                assert_eq!(h.destination().is_some(), relays, "{:#x}", fam | proto);
            }
        }
        // Written as v1, such a header says UNKNOWN: TCP4 would relay what v2 did not.
        let Parsed::Complete(mut h, _) = parse(b"PROXY TCP4 1.2.3.4 5.6.7.8 1 2\r\n") else {
            panic!()
        };
        h.kind = SocketKind::Unspecified;
        assert_eq!(h.to_bytes().unwrap(), b"PROXY UNKNOWN\r\n");
    }

    /// A pathname ends at its first NUL, whatever the sender left after it in the 108 bytes
    /// (a `sun_path` copied whole); an abstract name keeps its inner bytes, padding trimmed.
    #[test]
    fn v2_unix_pathname_ends_at_its_first_nul() {
        let mut body = [0u8; 216];
        body[..11].copy_from_slice(b"/run/a.sock");
        body[12..20].copy_from_slice(b"leftover"); // after the terminator at 11
        body[109..113].copy_from_slice(b"a\0bc"); // destination: abstract "\0a\0bc"
        let mut v = V2_SIGNATURE.to_vec();
        v.extend_from_slice(&[0x21, 0x31, 0, 216]);
        v.extend_from_slice(&body);
        let Parsed::Complete(h, _) = parse(&v) else {
            panic!("{:?}", parse(&v))
        };
        let Addresses::Unix {
            source,
            destination,
        } = &h.addresses
        else {
            panic!("{:?}", h.addresses)
        };
        assert_eq!(source, b"/run/a.sock");
        assert_eq!(destination, b"\0a\0bc");
        let peer = h.source().expect("a pathname address");
        assert_eq!(peer.to_string(), "/run/a.sock");
        // So the encoder refuses a pathname with a NUL in it, which it would write whole and
        // the parse above read back shorter; an abstract name keeps its inner NULs.
        let mut h = h;
        h.addresses = Addresses::Unix {
            source: b"/run/a.sock\0leftover".to_vec(),
            destination: b"\0a\0bc".to_vec(),
        };
        let e = h.to_bytes().unwrap_err();
        assert!(e.to_string().contains("holds a NUL byte"), "{e}");
        h.addresses = Addresses::Unix {
            source: b"/run/a.sock".to_vec(),
            destination: b"\0a\0bc".to_vec(),
        };
        let Parsed::Complete(back, _) = parse(&h.to_bytes().unwrap()) else {
            panic!()
        };
        assert_eq!(back.addresses, h.addresses);
    }

    /// An abstract name ending in NUL bytes reads back without them: the 108-byte field has
    /// no length, and its padding is NULs too. So the encoder refuses such a name (and the
    /// empty one, a lone NUL, which reads back as an unnamed socket) rather than write a
    /// header that names another socket. It used to write them.
    #[test]
    fn v2_abstract_names_ending_in_nul_are_refused_not_read_back_trimmed() {
        let mut body = [0u8; 216];
        body[108..113].copy_from_slice(b"\0app\0"); // destination: the abstract name "\0app\0"
        let mut v = V2_SIGNATURE.to_vec();
        v.extend_from_slice(&[0x21, 0x31, 0, 216]);
        v.extend_from_slice(&body);
        let Parsed::Complete(mut h, _) = parse(&v) else {
            panic!("{:?}", parse(&v))
        };
        let want = Addresses::Unix {
            source: Vec::new(), // all zeros: an unnamed client
            destination: b"\0app".to_vec(),
        };
        assert_eq!(
            h.addresses, want,
            "the padding and the name's own NUL, trimmed"
        );
        for name in [&b"\0app\0"[..], b"\0app\0\0", b"\0"] {
            h.addresses = Addresses::Unix {
                source: Vec::new(),
                destination: name.to_vec(),
            };
            let e = h.to_bytes().unwrap_err();
            assert!(
                e.to_string().contains("ends in a NUL byte"),
                "{name:?}: {e}"
            );
        }
        h.addresses = want;
        let Parsed::Complete(back, _) = parse(&h.to_bytes().unwrap()) else {
            panic!()
        };
        assert_eq!(
            back.addresses, h.addresses,
            "a name without one round-trips"
        );
    }

    #[test]
    fn v2_rejects() {
        let head = |vc: u8, fp: u8, len: u16| {
            let mut v = V2_SIGNATURE.to_vec();
            v.extend_from_slice(&[vc, fp]);
            v.extend_from_slice(&len.to_be_bytes());
            v
        };
        let mut short = head(0x21, 0x11, 4);
        short.extend_from_slice(&[0; 4]);
        assert!(matches!(parse(&short), Parsed::Invalid(Invalid::V2(_))));
        assert!(matches!(
            parse(&head(0x11, 0x11, 0)),
            Parsed::Invalid(Invalid::V2(_))
        ));
        assert!(matches!(
            parse(&head(0x22, 0x11, 0)),
            Parsed::Invalid(Invalid::V2(_))
        ));
        assert!(matches!(
            parse(&head(0x21, 0x41, 0)),
            Parsed::Invalid(Invalid::V2(_))
        ));
        assert!(matches!(
            parse(&head(0x21, 0x13, 0)),
            Parsed::Invalid(Invalid::V2(_))
        ));
        // The most the length field can declare is taken: the rest is awaited.
        assert_eq!(parse(&head(0x21, 0x11, 0xffff)), Parsed::Incomplete);
        // Under PROXY (under LOCAL the block is discarded:
        // `v2_local_ignores_what_its_block_holds`).
        let mut bad_tlv = head(0x21, 0x00, 2);
        bad_tlv.extend_from_slice(&[1, 0]);
        assert!(matches!(parse(&bad_tlv), Parsed::Invalid(Invalid::V2(_))));
        let mut crc = head(0x20, 0x00, 7);
        crc.extend_from_slice(&[PP2_TYPE_CRC32C, 0, 4, 1, 2, 3, 4]);
        assert_eq!(parse(&crc), Parsed::Invalid(Invalid::V2("CRC32C mismatch")));
    }
}
