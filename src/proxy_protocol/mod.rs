//! The PROXY protocol (versions 1 and 2): how a load balancer tells the server behind it who
//! the client really is.
//!
//! Python's asyncio has no counterpart; the format is HAProxy's `doc/proxy-protocol.txt`. A
//! balancer (HAProxy with `send-proxy`/`send-proxy-v2`, nginx's `proxy_protocol on`, Envoy, a
//! cloud network load balancer) opens its own connection to the server, so the server's
//! socket sees the balancer's address. Before any byte of the client's, the balancer writes
//! one header saying which addresses the client connection had. A server enables reading it
//! with [`CreateServer::proxy_protocol`](crate::CreateServer::proxy_protocol) or
//! [`StartServer::proxy_protocol`](crate::StartServer::proxy_protocol); this module is the
//! format itself: pure functions over bytes, no I/O.
//!
//! ## Version 1: one text line
//!
//! ```text
//! PROXY TCP4 192.0.2.1 198.51.100.7 56324 443\r\n
//! PROXY TCP6 2001:db8::1 2001:db8::2 56324 443\r\n
//! PROXY UNKNOWN\r\n                      (anything may follow UNKNOWN up to the CRLF)
//! ```
//! `PROXY`, one space, the family, then source address, destination address, source port
//! and destination port, separated by single spaces, and CRLF. The whole line is at most 107
//! bytes, so a receiver that has read 107 bytes without a CRLF knows the header is bad.
//! `UNKNOWN` means the balancer could not tell (a health check, say): the receiver accepts the
//! connection and keeps the socket's own addresses.
//!
//! ## Version 2: binary
//!
//! ```text
//! offset  size  field
//!  0      12    signature  \r \n \r \n \0 \r \n Q U I T \n
//! 12       1    version (high nibble, 2) | command (low nibble: 0 LOCAL, 1 PROXY)
//! 13       1    family (high: 0 UNSPEC, 1 INET, 2 INET6, 3 UNIX)
//!               | transport (low: 0 UNSPEC, 1 STREAM, 2 DGRAM)
//! 14       2    length of what follows, big-endian
//! 16       …    addresses: INET 4+4+2+2 = 12 bytes, INET6 16+16+2+2 = 36,
//!               UNIX 108+108 = 216 (NUL-padded paths); source first, ports big-endian
//!  …       …    TLVs to the end: type (1 byte), length (2, big-endian), value
//! ```
//! `LOCAL` is a connection the balancer made for itself (a health check): as with v1's
//! `UNKNOWN`, the receiver accepts it and keeps the real addresses; what its block holds (a
//! family we do not know, bytes that are not TLVs) is discarded, not refused, as the spec
//! says, though a CRC32C it carries must still match. The TLV types defined by
//! the spec have accessors on [`ProxyHeader`]: ALPN (`0x01`), authority, i.e. the TLS SNI
//! (`0x02`), a CRC32C of the whole header (`0x03`, checked by [`parse`]), no-op padding
//! (`0x04`), a unique connection id (`0x05`, at most 128 bytes), TLS details (`0x20`, with
//! sub-TLVs for version `0x21`, client certificate CN `0x22`, cipher `0x23`, signature
//! algorithm `0x24`, key algorithm `0x25`, key exchange group `0x26`, signature scheme `0x27`
//! and the client certificate in DER `0x28`: [`SslInfo`]) and a network namespace (`0x30`).
//! Unknown types are kept, raw, in [`ProxyHeader::tlvs`].
//!
//! ## Parsing
//!
//! [`parse`] takes the bytes received so far and answers [`Parsed::Incomplete`] (read more),
//! [`Parsed::Complete`] (the header and how many bytes it took: the rest is the client's
//! data) or [`Parsed::Invalid`] (close the connection). It never reads past the header, never
//! panics and never needs more than 107 bytes (v1) or [`MAX_V2_LEN`] (v2) to decide.
//!
//! ```
//! use asyncio::proxy_protocol::{parse, Command, Parsed};
//!
//! let bytes = b"PROXY TCP4 192.0.2.1 198.51.100.7 56324 443\r\nGET / HTTP/1.0\r\n";
//! let Parsed::Complete(header, used) = parse(bytes) else { panic!("a complete header") };
//! assert_eq!(header.command, Command::Proxy);
//! assert_eq!(header.source().unwrap().to_string(), "192.0.2.1:56324");
//! assert_eq!(&bytes[used..], b"GET / HTTP/1.0\r\n");
//!
//! assert!(matches!(parse(b"PROXY TCP4 192.0"), Parsed::Incomplete));
//! assert!(matches!(parse(b"GET / HTTP/1.0\r\n"), Parsed::Invalid(_)));
//! ```
//!
//! ## The constants
//!
//! The signatures, the two length limits and the TLV type numbers carry the spec's names
//! (`PP2_TYPE_AUTHORITY`, `PP2_SUBTYPE_SSL_VERSION`, `PP2_CLIENT_SSL`). A v2 header written
//! by hand, field by field as a balancer sends it, then read back:
//!
//! ```
//! use asyncio::proxy_protocol::*;
//!
//! // One TLV: type, 2-byte big-endian length, value.
//! let tlv = |kind: u8, value: &[u8]| {
//!     let mut t = vec![kind];
//!     t.extend_from_slice(&(value.len() as u16).to_be_bytes());
//!     t.extend_from_slice(value);
//!     t
//! };
//! let mut ssl = vec![PP2_CLIENT_SSL | PP2_CLIENT_CERT_SESS, 0, 0, 0, 0]; // client, verify
//! ssl.extend(tlv(PP2_SUBTYPE_SSL_VERSION, b"TLSv1.3"));
//! ssl.extend(tlv(PP2_SUBTYPE_SSL_CN, b"alice"));
//! let mut rest = vec![192, 0, 2, 1, 198, 51, 100, 7]; // source, destination address
//! rest.extend_from_slice(&56324u16.to_be_bytes()); // source port
//! rest.extend_from_slice(&443u16.to_be_bytes()); // destination port
//! rest.extend(tlv(PP2_TYPE_ALPN, b"h2"));
//! rest.extend(tlv(PP2_TYPE_AUTHORITY, b"example.com"));
//! rest.extend(tlv(PP2_TYPE_UNIQUE_ID, b"conn-42"));
//! rest.extend(tlv(PP2_TYPE_NETNS, b"blue"));
//! rest.extend(tlv(PP2_TYPE_NOOP, &[0; 3])); // padding
//! rest.extend(tlv(PP2_TYPE_SSL, &ssl));
//!
//! let mut bytes = V2_SIGNATURE.to_vec();
//! bytes.push(0x21); // version 2, command PROXY
//! bytes.push(0x11); // INET, STREAM
//! bytes.extend_from_slice(&(rest.len() as u16).to_be_bytes());
//! bytes.extend_from_slice(&rest);
//! assert!(bytes.len() <= MAX_V2_LEN);
//!
//! let Parsed::Complete(header, used) = parse(&bytes) else { panic!("a complete header") };
//! assert_eq!(used, bytes.len());
//! assert_eq!(header.alpn(), Some(&b"h2"[..]));
//! assert_eq!(header.authority(), Some("example.com"));
//! assert_eq!(header.tlv(PP2_TYPE_UNIQUE_ID), Some(&b"conn-42"[..]));
//! assert_eq!(header.netns(), Some("blue"));
//! assert_eq!(header.crc32c(), None); // no PP2_TYPE_CRC32C sent
//! let ssl = header.ssl().expect("a PP2_TYPE_SSL TLV");
//! assert!(ssl.client_ssl());
//! assert_eq!(ssl.client & PP2_CLIENT_CERT_CONN, 0); // a certificate this session, not here
//! assert_eq!((ssl.version(), ssl.cn()), (Some("TLSv1.3"), Some("alice")));
//! for sub in [PP2_SUBTYPE_SSL_CIPHER, PP2_SUBTYPE_SSL_SIG_ALG, PP2_SUBTYPE_SSL_KEY_ALG] {
//!     assert!(ssl.tlvs.iter().all(|t| t.kind != sub)); // not sent
//! }
//! assert!(ssl.group().is_none() && ssl.sig_scheme().is_none());
//! assert!(ssl.tlvs.iter().all(|t| t.kind != PP2_SUBTYPE_SSL_CLIENT_CERT));
//!
//! // Version 1: the signature, then the line, never longer than MAX_V1_LEN.
//! let line = b"PROXY TCP4 192.0.2.1 198.51.100.7 56324 443\r\n";
//! assert!(line.starts_with(&V1_SIGNATURE) && line.len() <= MAX_V1_LEN);
//! ```

mod parse;

use std::net::{IpAddr, SocketAddr};

use crate::error::Error;
use crate::transport::Address;

pub use parse::{parse, Invalid, Parsed};

/// The v2 signature, the spec's `sig[12]`
/// (`\x0D\x0A\x0D\x0A\x00\x0D\x0A\x51\x55\x49\x54\x0A`): the first 12 bytes of every
/// version 2 header.
pub const V2_SIGNATURE: [u8; 12] = *b"\r\n\r\n\0\r\nQUIT\n";
/// The v1 signature, the spec's `"PROXY"` and the single space after it: the first 6 bytes
/// of every version 1 line.
pub const V1_SIGNATURE: [u8; 6] = *b"PROXY ";
/// The longest v1 line, CRLF included: the spec's 107 bytes (its worst case, `PROXY TCP6`
/// with two full IPv6 addresses and two 5-digit ports).
pub const MAX_V1_LEN: usize = 107;
/// The longest v2 header, signature included: the spec's 16-byte fixed part (`sig`, `ver_cmd`,
/// `fam`, `len`) and the most its 16-bit `len` can declare. Every header the format can
/// express is accepted (a TLS TLV may carry a whole DER client certificate); the declared
/// length is known after 16 bytes, so a connection still reading its header holds at most
/// this much (64 KiB, a stream's default read limit).
pub const MAX_V2_LEN: usize = 16 + 65_535;

/// TLV type `PP2_TYPE_ALPN` (0x01): the ALPN protocol the client negotiated with the balancer
/// ([`ProxyHeader::alpn`]).
pub const PP2_TYPE_ALPN: u8 = 0x01;
/// TLV type `PP2_TYPE_AUTHORITY` (0x02): the host name the client asked for, TLS SNI or
/// similar ([`ProxyHeader::authority`]).
pub const PP2_TYPE_AUTHORITY: u8 = 0x02;
/// TLV type `PP2_TYPE_CRC32C` (0x03): CRC32C of the whole header, computed with this field
/// zeroed ([`ProxyHeader::crc32c`]; [`parse`] checks it).
pub const PP2_TYPE_CRC32C: u8 = 0x03;
/// TLV type `PP2_TYPE_NOOP` (0x04): padding, ignored by receivers.
pub const PP2_TYPE_NOOP: u8 = 0x04;
/// TLV type `PP2_TYPE_UNIQUE_ID` (0x05): an opaque id of the client connection, at most 128
/// bytes ([`ProxyHeader::unique_id`]).
pub const PP2_TYPE_UNIQUE_ID: u8 = 0x05;
/// TLV type `PP2_TYPE_SSL` (0x20): how the client's TLS connection to the balancer went, with
/// sub-TLVs of its own ([`ProxyHeader::ssl`], [`SslInfo`]).
pub const PP2_TYPE_SSL: u8 = 0x20;
/// SSL sub-TLV `PP2_SUBTYPE_SSL_VERSION` (0x21): the TLS version, e.g. `TLSv1.3`
/// ([`SslInfo::version`]).
pub const PP2_SUBTYPE_SSL_VERSION: u8 = 0x21;
/// SSL sub-TLV `PP2_SUBTYPE_SSL_CN` (0x22): the client certificate's Common Name
/// ([`SslInfo::cn`]).
pub const PP2_SUBTYPE_SSL_CN: u8 = 0x22;
/// SSL sub-TLV `PP2_SUBTYPE_SSL_CIPHER` (0x23): the cipher, e.g.
/// `ECDHE-RSA-AES128-GCM-SHA256` ([`SslInfo::cipher`]).
pub const PP2_SUBTYPE_SSL_CIPHER: u8 = 0x23;
/// SSL sub-TLV `PP2_SUBTYPE_SSL_SIG_ALG` (0x24): the certificate's signature algorithm
/// ([`SslInfo::sig_alg`]).
pub const PP2_SUBTYPE_SSL_SIG_ALG: u8 = 0x24;
/// SSL sub-TLV `PP2_SUBTYPE_SSL_KEY_ALG` (0x25): the certificate's key algorithm
/// ([`SslInfo::key_alg`]).
pub const PP2_SUBTYPE_SSL_KEY_ALG: u8 = 0x25;
/// SSL sub-TLV `PP2_SUBTYPE_SSL_GROUP` (0x26): the key exchange group of the TLS connection,
/// e.g. `X25519` ([`SslInfo::group`]).
pub const PP2_SUBTYPE_SSL_GROUP: u8 = 0x26;
/// SSL sub-TLV `PP2_SUBTYPE_SSL_SIG_SCHEME` (0x27): the signature scheme the server used in
/// the handshake, e.g. `rsa_pss_rsae_sha256` ([`SslInfo::sig_scheme`]).
pub const PP2_SUBTYPE_SSL_SIG_SCHEME: u8 = 0x27;
/// SSL sub-TLV `PP2_SUBTYPE_SSL_CLIENT_CERT` (0x28): the client certificate, DER-encoded
/// (binary, not text; [`SslInfo::client_cert`]).
pub const PP2_SUBTYPE_SSL_CLIENT_CERT: u8 = 0x28;
/// TLV type `PP2_TYPE_NETNS` (0x30): the network namespace the connection was accepted in
/// ([`ProxyHeader::netns`]).
pub const PP2_TYPE_NETNS: u8 = 0x30;

/// Bit `PP2_CLIENT_SSL` (0x01) of the SSL TLV's `client` field ([`SslInfo::client`]): the
/// client connected over TLS.
pub const PP2_CLIENT_SSL: u8 = 0x01;
/// Bit `PP2_CLIENT_CERT_CONN` (0x02) of [`SslInfo::client`]: the client sent a certificate on
/// this connection.
pub const PP2_CLIENT_CERT_CONN: u8 = 0x02;
/// Bit `PP2_CLIENT_CERT_SESS` (0x04) of [`SslInfo::client`]: the client sent a certificate at
/// least once in this TLS session.
pub const PP2_CLIENT_CERT_SESS: u8 = 0x04;

/// Whether a server reads a PROXY header first on each connection
/// ([`CreateServer::proxy_protocol`](crate::CreateServer::proxy_protocol),
/// [`StartServer::proxy_protocol`](crate::StartServer::proxy_protocol)).
///
/// # Examples
///
/// ```
/// use asyncio::ProxyProtocol;
/// assert_eq!(ProxyProtocol::default(), ProxyProtocol::Off);
/// ```
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub enum ProxyProtocol {
    /// No header is read (the default): the first bytes are the client's.
    #[default]
    Off,
    /// Every connection must start with a v1 or v2 header; others are closed.
    Required,
    /// A connection may start with a header; if its first bytes are not a v1 or v2
    /// signature, they are the client's and are delivered as usual. A client silent until
    /// the header timeout (or its EOF), or that sent only the start of a signature by then,
    /// is served as usual too (a server-speaks-first protocol); one that sent a whole
    /// signature and no complete header is closed, as with `Required`.
    Optional,
}

/// Which version of the protocol a header used.
///
/// # Examples
///
/// ```
/// use asyncio::proxy_protocol::{parse, Parsed, Version};
///
/// let Parsed::Complete(h, _) = parse(b"PROXY UNKNOWN\r\n") else { panic!() };
/// assert_eq!(h.version, Version::V1);
/// let Parsed::Complete(h, _) = parse(b"\r\n\r\n\0\r\nQUIT\n\x20\x00\x00\x00") else { panic!() };
/// assert_eq!(h.version, Version::V2);
/// ```
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Version {
    /// The text line.
    V1,
    /// The binary header.
    V2,
}

/// What the balancer says the connection is.
///
/// # Examples
///
/// A v2 `LOCAL` header, as a balancer sends on its health checks: the server keeps the
/// socket's own addresses.
///
/// ```
/// use asyncio::proxy_protocol::{parse, Command, Parsed};
///
/// let local = b"\r\n\r\n\0\r\nQUIT\n\x20\x00\x00\x00"; // version 2, command 0
/// let Parsed::Complete(h, _) = parse(local) else { panic!() };
/// assert_eq!(h.command, Command::Local);
/// assert!(h.source().is_none());
/// ```
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Command {
    /// A relayed client connection: the addresses are the client's.
    Proxy,
    /// v2 `LOCAL`: the balancer's own connection (a health check); the addresses, if any, are
    /// to be ignored and the socket's own used.
    Local,
}

/// The transport the client used (v2's low nibble of byte 13; v1 says TCP or nothing).
///
/// # Examples
///
/// ```
/// use asyncio::proxy_protocol::{parse, Parsed, SocketKind};
///
/// let Parsed::Complete(h, _) = parse(b"PROXY TCP6 ::1 ::1 1000 80\r\n") else { panic!() };
/// assert_eq!(h.kind, SocketKind::Stream);
/// let Parsed::Complete(h, _) = parse(b"PROXY UNKNOWN\r\n") else { panic!() };
/// assert_eq!(h.kind, SocketKind::Unspecified);
/// ```
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum SocketKind {
    /// Not said (v1 `UNKNOWN`, v2 `UNSPEC`): the addresses, if any, are not relayed.
    Unspecified,
    /// A stream: TCP, or a Unix stream socket.
    Stream,
    /// Datagrams: UDP, or a Unix datagram socket.
    Datagram,
}

/// The client connection's two ends, as the header carries them.
///
/// # Examples
///
/// ```
/// use asyncio::proxy_protocol::{parse, Addresses, Parsed};
///
/// let line = b"PROXY TCP6 2001:db8::1 2001:db8::2 56324 443\r\n";
/// let Parsed::Complete(h, _) = parse(line) else { panic!() };
/// let Addresses::Inet { source, destination } = h.addresses else { panic!() };
/// assert_eq!(source.to_string(), "[2001:db8::1]:56324");
/// assert_eq!(destination.port(), 443);
/// ```
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Addresses {
    /// None given (v1 `UNKNOWN`, v2 `UNSPEC` or `LOCAL`): use the socket's own.
    Unspecified,
    /// IPv4 or IPv6 (both ends of the same family).
    Inet {
        /// The client.
        source: SocketAddr,
        /// The address the client connected to (the balancer's front).
        destination: SocketAddr,
    },
    /// Unix socket addresses: a path up to its first NUL, or (leading NUL) an abstract name
    /// with its trailing NUL padding removed.
    ///
    /// A v2 header carries each as a fixed 108-byte `sun_path` with no length (the
    /// specification says only "exactly 108 bytes"), so an abstract name that itself ends in
    /// NUL bytes cannot be told from its padding: it reads back without them (a Linux name is
    /// as long as its socket address says, so `"\0app\0"` and `"\0app"` are two names).
    /// Likewise a name of only the leading NUL reads back empty, as an unnamed socket's
    /// all-zero field does. [`ProxyHeader::to_bytes`] refuses to write either.
    Unix {
        /// The client's path.
        source: Vec<u8>,
        /// The path it connected to.
        destination: Vec<u8>,
    },
}

/// One v2 type-length-value field, as received.
///
/// # Examples
///
/// A type this crate has no accessor for (here a vendor's `0xE0`) arrives raw, in order.
///
/// ```
/// use asyncio::proxy_protocol::{parse, Parsed, Tlv};
/// # use asyncio::proxy_protocol as pp;
/// # let v1 = b"PROXY TCP4 192.0.2.1 198.51.100.7 56324 443\r\n";
/// # let pp::Parsed::Complete(mut header, _) = pp::parse(v1) else { panic!() };
/// # header.version = pp::Version::V2;
/// // `header`: a v2 header relaying 192.0.2.1:56324 -> 198.51.100.7:443, no TLVs yet
/// header.tlvs.push(Tlv { kind: 0xE0, value: b"vpc-1234".to_vec() });
/// let Parsed::Complete(got, _) = parse(&header.to_bytes().unwrap()) else { panic!() };
/// assert_eq!(got.tlvs, [Tlv { kind: 0xE0, value: b"vpc-1234".to_vec() }]);
/// ```
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Tlv {
    /// The type byte (`PP2_TYPE_*`).
    pub kind: u8,
    /// The value (at most 65,535 bytes).
    pub value: Vec<u8>,
}

/// The TLS details of a v2 `PP2_TYPE_SSL` field: how the client reached the balancer.
///
/// # Examples
///
/// What a balancer that ended the client's TLS reports, and how a server reads it back. The
/// string accessors ([`version`](Self::version), [`cn`](Self::cn), [`cipher`](Self::cipher),
/// [`sig_alg`](Self::sig_alg), [`key_alg`](Self::key_alg)) each find one sub-TLV.
///
/// ```
/// use asyncio::proxy_protocol::*;
/// # use asyncio::proxy_protocol as pp;
/// # let v1 = b"PROXY TCP4 192.0.2.1 198.51.100.7 56324 443\r\n";
/// # let pp::Parsed::Complete(mut header, _) = pp::parse(v1) else { panic!() };
/// # header.version = pp::Version::V2;
/// // `header`: a v2 header relaying 192.0.2.1:56324 -> 198.51.100.7:443, no TLVs yet
/// let sub = |kind, value: &str| Tlv { kind, value: value.as_bytes().to_vec() };
/// let info = SslInfo {
///     client: PP2_CLIENT_SSL | PP2_CLIENT_CERT_CONN,
///     verify: 0,
///     tlvs: vec![
///         sub(PP2_SUBTYPE_SSL_VERSION, "TLSv1.3"),
///         sub(PP2_SUBTYPE_SSL_CN, "alice"),
///         sub(PP2_SUBTYPE_SSL_CIPHER, "TLS_AES_128_GCM_SHA256"),
///     ],
/// };
/// header.tlvs.push(Tlv { kind: PP2_TYPE_SSL, value: info.to_bytes() });
/// let Parsed::Complete(got, _) = parse(&header.to_bytes().unwrap()) else { panic!() };
/// let ssl = got.ssl().expect("an SSL TLV");
/// assert!(ssl.client_ssl() && ssl.client_cert_verified());
/// assert_eq!((ssl.version(), ssl.cn()), (Some("TLSv1.3"), Some("alice")));
/// assert_eq!(ssl.cipher(), Some("TLS_AES_128_GCM_SHA256"));
/// assert_eq!(ssl.sig_alg(), None); // not sent
/// ```
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct SslInfo {
    /// Bit field: [`PP2_CLIENT_SSL`], [`PP2_CLIENT_CERT_CONN`], [`PP2_CLIENT_CERT_SESS`].
    pub client: u8,
    /// 0 if the client presented a certificate and it was verified; nonzero otherwise.
    pub verify: u32,
    /// The sub-TLVs, in order (version, CN, cipher, algorithms, and any other).
    pub tlvs: Vec<Tlv>,
}

impl SslInfo {
    fn sub(&self, kind: u8) -> Option<&str> {
        let t = self.tlvs.iter().find(|t| t.kind == kind)?;
        std::str::from_utf8(&t.value).ok()
    }

    /// The client used TLS.
    ///
    /// # Examples
    ///
    /// ```
    /// use asyncio::proxy_protocol::{SslInfo, PP2_CLIENT_SSL};
    ///
    /// let plain = SslInfo { client: 0, verify: 0, tlvs: vec![] };
    /// assert!(!plain.client_ssl());
    /// let tls = SslInfo { client: PP2_CLIENT_SSL, ..plain };
    /// assert!(tls.client_ssl());
    /// ```
    pub fn client_ssl(&self) -> bool {
        self.client & PP2_CLIENT_SSL != 0
    }

    /// The client presented a certificate (on this connection) and it was verified.
    ///
    /// # Examples
    ///
    /// `verify` is the balancer's verdict; a certificate it did not verify does not count.
    ///
    /// ```
    /// use asyncio::proxy_protocol::{SslInfo, PP2_CLIENT_CERT_CONN, PP2_CLIENT_SSL};
    ///
    /// let client = PP2_CLIENT_SSL | PP2_CLIENT_CERT_CONN;
    /// let verified = SslInfo { client, verify: 0, tlvs: vec![] };
    /// assert!(verified.client_cert_verified());
    /// let rejected = SslInfo { verify: 1, ..verified };
    /// assert!(!rejected.client_cert_verified());
    /// ```
    pub fn client_cert_verified(&self) -> bool {
        self.client & PP2_CLIENT_CERT_CONN != 0 && self.verify == 0
    }

    /// The TLS version (`PP2_SUBTYPE_SSL_VERSION`), e.g. `TLSv1.3`.
    ///
    /// # Examples
    ///
    /// ```
    /// use asyncio::proxy_protocol::{SslInfo, Tlv, PP2_SUBTYPE_SSL_VERSION};
    ///
    /// let v = Tlv { kind: PP2_SUBTYPE_SSL_VERSION, value: b"TLSv1.2".to_vec() };
    /// let info = SslInfo { client: 1, verify: 0, tlvs: vec![v] };
    /// assert_eq!(info.version(), Some("TLSv1.2"));
    /// assert_eq!(info.cn(), None); // no client certificate name was sent
    /// ```
    pub fn version(&self) -> Option<&str> {
        self.sub(PP2_SUBTYPE_SSL_VERSION)
    }

    /// The client certificate's Common Name (`PP2_SUBTYPE_SSL_CN`). Trust it only with
    /// [`client_cert_verified`](Self::client_cert_verified).
    ///
    /// # Examples
    ///
    /// ```
    /// use asyncio::proxy_protocol::{
    ///     SslInfo, Tlv, PP2_CLIENT_CERT_CONN, PP2_CLIENT_SSL, PP2_SUBTYPE_SSL_CN,
    /// };
    ///
    /// let cn = Tlv { kind: PP2_SUBTYPE_SSL_CN, value: b"alice".to_vec() };
    /// let client = PP2_CLIENT_SSL | PP2_CLIENT_CERT_CONN;
    /// let info = SslInfo { client, verify: 0, tlvs: vec![cn] };
    /// let user = info.cn().filter(|_| info.client_cert_verified());
    /// assert_eq!(user, Some("alice"));
    /// ```
    pub fn cn(&self) -> Option<&str> {
        self.sub(PP2_SUBTYPE_SSL_CN)
    }

    /// The cipher (`PP2_SUBTYPE_SSL_CIPHER`), in OpenSSL's spelling.
    ///
    /// # Examples
    ///
    /// ```
    /// use asyncio::proxy_protocol::{SslInfo, Tlv, PP2_SUBTYPE_SSL_CIPHER};
    ///
    /// let name = b"ECDHE-RSA-AES128-GCM-SHA256".to_vec();
    /// let c = Tlv { kind: PP2_SUBTYPE_SSL_CIPHER, value: name };
    /// let info = SslInfo { client: 1, verify: 0, tlvs: vec![c] };
    /// assert_eq!(info.cipher(), Some("ECDHE-RSA-AES128-GCM-SHA256"));
    /// assert_eq!(SslInfo { tlvs: vec![], ..info }.cipher(), None); // not sent
    /// ```
    pub fn cipher(&self) -> Option<&str> {
        self.sub(PP2_SUBTYPE_SSL_CIPHER)
    }

    /// The certificate's signature algorithm (`PP2_SUBTYPE_SSL_SIG_ALG`), e.g. `SHA256`.
    ///
    /// # Examples
    ///
    /// ```
    /// use asyncio::proxy_protocol::{SslInfo, Tlv, PP2_SUBTYPE_SSL_SIG_ALG};
    ///
    /// let alg = Tlv { kind: PP2_SUBTYPE_SSL_SIG_ALG, value: b"SHA256".to_vec() };
    /// let info = SslInfo { client: 1, verify: 0, tlvs: vec![alg] };
    /// assert_eq!(info.sig_alg(), Some("SHA256"));
    /// ```
    pub fn sig_alg(&self) -> Option<&str> {
        self.sub(PP2_SUBTYPE_SSL_SIG_ALG)
    }

    /// The certificate's key algorithm (`PP2_SUBTYPE_SSL_KEY_ALG`), e.g. `RSA2048`.
    ///
    /// # Examples
    ///
    /// ```
    /// use asyncio::proxy_protocol::{SslInfo, Tlv, PP2_SUBTYPE_SSL_KEY_ALG};
    ///
    /// let alg = Tlv { kind: PP2_SUBTYPE_SSL_KEY_ALG, value: b"RSA2048".to_vec() };
    /// let info = SslInfo { client: 1, verify: 0, tlvs: vec![alg] };
    /// assert_eq!(info.key_alg(), Some("RSA2048"));
    /// let bad = Tlv { kind: PP2_SUBTYPE_SSL_KEY_ALG, value: vec![0xff] };
    /// assert_eq!(SslInfo { tlvs: vec![bad], ..info }.key_alg(), None); // not UTF-8
    /// ```
    pub fn key_alg(&self) -> Option<&str> {
        self.sub(PP2_SUBTYPE_SSL_KEY_ALG)
    }

    /// The key exchange group (`PP2_SUBTYPE_SSL_GROUP`), e.g. `X25519`.
    ///
    /// # Examples
    ///
    /// ```
    /// use asyncio::proxy_protocol::{SslInfo, Tlv, PP2_SUBTYPE_SSL_GROUP};
    ///
    /// let g = Tlv { kind: PP2_SUBTYPE_SSL_GROUP, value: b"X25519".to_vec() };
    /// let info = SslInfo { client: 1, verify: 0, tlvs: vec![g] };
    /// assert_eq!(info.group(), Some("X25519"));
    /// ```
    pub fn group(&self) -> Option<&str> {
        self.sub(PP2_SUBTYPE_SSL_GROUP)
    }

    /// The handshake's signature scheme (`PP2_SUBTYPE_SSL_SIG_SCHEME`), e.g.
    /// `rsa_pss_rsae_sha256`.
    ///
    /// # Examples
    ///
    /// ```
    /// use asyncio::proxy_protocol::{SslInfo, Tlv, PP2_SUBTYPE_SSL_SIG_SCHEME};
    ///
    /// let scheme = b"rsa_pss_rsae_sha256".to_vec();
    /// let t = Tlv { kind: PP2_SUBTYPE_SSL_SIG_SCHEME, value: scheme };
    /// let info = SslInfo { client: 1, verify: 0, tlvs: vec![t] };
    /// assert_eq!(info.sig_scheme(), Some("rsa_pss_rsae_sha256"));
    /// ```
    pub fn sig_scheme(&self) -> Option<&str> {
        self.sub(PP2_SUBTYPE_SSL_SIG_SCHEME)
    }

    /// The client certificate's DER bytes (`PP2_SUBTYPE_SSL_CLIENT_CERT`), as sent: binary,
    /// so not UTF-8 checked.
    ///
    /// # Examples
    ///
    /// ```
    /// use asyncio::proxy_protocol::{
    ///     SslInfo, Tlv, PP2_CLIENT_SSL, PP2_SUBTYPE_SSL_CLIENT_CERT, PP2_SUBTYPE_SSL_GROUP,
    ///     PP2_SUBTYPE_SSL_SIG_SCHEME,
    /// };
    ///
    /// let sub = |kind, value: &[u8]| Tlv { kind, value: value.to_vec() };
    /// let info = SslInfo {
    ///     client: PP2_CLIENT_SSL,
    ///     verify: 0,
    ///     tlvs: vec![
    ///         sub(PP2_SUBTYPE_SSL_GROUP, b"X25519"),
    ///         sub(PP2_SUBTYPE_SSL_SIG_SCHEME, b"ecdsa_secp256r1_sha256"),
    ///         sub(PP2_SUBTYPE_SSL_CLIENT_CERT, &[0x30, 0x82, 0xff]),
    ///     ],
    /// };
    /// assert_eq!(info.group(), Some("X25519"));
    /// assert_eq!(info.sig_scheme(), Some("ecdsa_secp256r1_sha256"));
    /// assert_eq!(info.client_cert(), Some(&[0x30, 0x82, 0xff][..]));
    /// ```
    pub fn client_cert(&self) -> Option<&[u8]> {
        let t = self
            .tlvs
            .iter()
            .find(|t| t.kind == PP2_SUBTYPE_SSL_CLIENT_CERT)?;
        Some(&t.value)
    }

    /// The field's value as the spec lays it out (client byte, verify, sub-TLVs). A sub-TLV
    /// over 65,535 bytes cannot be written: the value then comes out too long for a TLV, and
    /// [`ProxyHeader::to_bytes`] refuses the header that carries it.
    ///
    /// # Examples
    ///
    /// ```
    /// use asyncio::proxy_protocol::{SslInfo, Tlv, PP2_CLIENT_SSL, PP2_SUBTYPE_SSL_VERSION};
    ///
    /// let v = Tlv { kind: PP2_SUBTYPE_SSL_VERSION, value: b"TLSv1.3".to_vec() };
    /// let info = SslInfo { client: PP2_CLIENT_SSL, verify: 0, tlvs: vec![v] };
    /// let bytes = info.to_bytes();
    /// assert_eq!(bytes[..5], [PP2_CLIENT_SSL, 0, 0, 0, 0]); // client, then verify (big-endian)
    /// assert_eq!(bytes[5..8], [PP2_SUBTYPE_SSL_VERSION, 0, 7]); // type, length, then the value
    /// assert_eq!(&bytes[8..], b"TLSv1.3");
    /// ```
    pub fn to_bytes(&self) -> Vec<u8> {
        let mut v = vec![self.client];
        v.extend_from_slice(&self.verify.to_be_bytes());
        encode_tlvs(&self.tlvs, &mut v);
        v
    }
}

/// A PROXY protocol header: what [`parse`] found, and what a server reports through
/// [`Transport::proxy_header`](crate::Transport::proxy_header).
///
/// # Examples
///
/// ```
/// use asyncio::proxy_protocol::{
///     parse, Addresses, Command, Parsed, ProxyHeader, SocketKind, Tlv, Version, PP2_TYPE_ALPN,
/// };
///
/// let header = ProxyHeader {
///     version: Version::V2,
///     command: Command::Proxy,
///     kind: SocketKind::Stream,
///     addresses: Addresses::Inet {
///         source: "192.0.2.1:56324".parse().unwrap(),
///         destination: "198.51.100.7:443".parse().unwrap(),
///     },
///     tlvs: vec![Tlv { kind: PP2_TYPE_ALPN, value: b"h2".to_vec() }],
/// };
/// let bytes = header.to_bytes().unwrap();
/// let Parsed::Complete(back, used) = parse(&bytes) else { panic!() };
/// assert_eq!((back, used), (header.clone(), bytes.len()));
/// assert_eq!(header.alpn(), Some(&b"h2"[..]));
/// ```
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ProxyHeader {
    /// Text (v1) or binary (v2).
    pub version: Version,
    /// `PROXY` or `LOCAL` (v1 has only the former).
    pub command: Command,
    /// Stream or datagram, if said.
    pub kind: SocketKind,
    /// The client connection's ends.
    pub addresses: Addresses,
    /// Every v2 TLV in order, known types included (empty for v1).
    pub tlvs: Vec<Tlv>,
}

impl ProxyHeader {
    /// The value of the first TLV of type `kind`.
    ///
    /// # Examples
    ///
    /// ```
    /// use asyncio::proxy_protocol::{parse, Parsed, Tlv, PP2_TYPE_AUTHORITY};
    /// # use asyncio::proxy_protocol as pp;
    /// # let v1 = b"PROXY TCP4 192.0.2.1 198.51.100.7 56324 443\r\n";
    /// # let pp::Parsed::Complete(mut header, _) = pp::parse(v1) else { panic!() };
    /// # header.version = pp::Version::V2;
    /// // `header`: a v2 header relaying 192.0.2.1:56324 -> 198.51.100.7:443, no TLVs yet
    /// header.tlvs.push(Tlv { kind: PP2_TYPE_AUTHORITY, value: b"example.com".to_vec() });
    /// header.tlvs.push(Tlv { kind: PP2_TYPE_AUTHORITY, value: b"second.example".to_vec() });
    /// let Parsed::Complete(got, _) = parse(&header.to_bytes().unwrap()) else { panic!() };
    /// assert_eq!(got.tlv(PP2_TYPE_AUTHORITY), Some(&b"example.com"[..])); // the first one
    /// assert_eq!(got.tlv(0xE0), None);
    /// ```
    pub fn tlv(&self, kind: u8) -> Option<&[u8]> {
        self.tlvs
            .iter()
            .find(|t| t.kind == kind)
            .map(|t| &t.value[..])
    }

    /// `PP2_TYPE_ALPN`: the protocol the client negotiated, e.g. `h2`.
    ///
    /// # Examples
    ///
    /// ```
    /// use asyncio::proxy_protocol::{parse, Parsed, Tlv, PP2_TYPE_ALPN};
    /// # use asyncio::proxy_protocol as pp;
    /// # let v1 = b"PROXY TCP4 192.0.2.1 198.51.100.7 56324 443\r\n";
    /// # let pp::Parsed::Complete(mut header, _) = pp::parse(v1) else { panic!() };
    /// # header.version = pp::Version::V2;
    /// // `header`: a v2 header relaying 192.0.2.1:56324 -> 198.51.100.7:443, no TLVs yet
    /// header.tlvs.push(Tlv { kind: PP2_TYPE_ALPN, value: b"http/1.1".to_vec() });
    /// let Parsed::Complete(got, _) = parse(&header.to_bytes().unwrap()) else { panic!() };
    /// assert_eq!(got.alpn(), Some(&b"http/1.1"[..]));
    /// ```
    pub fn alpn(&self) -> Option<&[u8]> {
        self.tlv(PP2_TYPE_ALPN)
    }

    /// `PP2_TYPE_AUTHORITY`: the host name the client asked for (SNI), if UTF-8.
    ///
    /// # Examples
    ///
    /// ```
    /// use asyncio::proxy_protocol::{parse, Parsed, Tlv, PP2_TYPE_AUTHORITY};
    /// # use asyncio::proxy_protocol as pp;
    /// # let v1 = b"PROXY TCP4 192.0.2.1 198.51.100.7 56324 443\r\n";
    /// # let pp::Parsed::Complete(mut header, _) = pp::parse(v1) else { panic!() };
    /// # header.version = pp::Version::V2;
    /// // `header`: a v2 header relaying 192.0.2.1:56324 -> 198.51.100.7:443, no TLVs yet
    /// header.tlvs.push(Tlv { kind: PP2_TYPE_AUTHORITY, value: b"api.example.com".to_vec() });
    /// let Parsed::Complete(got, _) = parse(&header.to_bytes().unwrap()) else { panic!() };
    /// assert_eq!(got.authority(), Some("api.example.com"));
    /// ```
    pub fn authority(&self) -> Option<&str> {
        std::str::from_utf8(self.tlv(PP2_TYPE_AUTHORITY)?).ok()
    }

    /// `PP2_TYPE_UNIQUE_ID`: the balancer's id for the client connection.
    ///
    /// # Examples
    ///
    /// The id is opaque bytes (at most 128): log it to match the balancer's own logs.
    ///
    /// ```
    /// use asyncio::proxy_protocol::{parse, Parsed, Tlv, PP2_TYPE_UNIQUE_ID};
    /// # use asyncio::proxy_protocol as pp;
    /// # let v1 = b"PROXY TCP4 192.0.2.1 198.51.100.7 56324 443\r\n";
    /// # let pp::Parsed::Complete(mut header, _) = pp::parse(v1) else { panic!() };
    /// # header.version = pp::Version::V2;
    /// // `header`: a v2 header relaying 192.0.2.1:56324 -> 198.51.100.7:443, no TLVs yet
    /// header.tlvs.push(Tlv { kind: PP2_TYPE_UNIQUE_ID, value: vec![0x9f, 0x00, 0x17] });
    /// let Parsed::Complete(got, _) = parse(&header.to_bytes().unwrap()) else { panic!() };
    /// assert_eq!(got.unique_id(), Some(&[0x9f, 0x00, 0x17][..]));
    /// ```
    pub fn unique_id(&self) -> Option<&[u8]> {
        self.tlv(PP2_TYPE_UNIQUE_ID)
    }

    /// `PP2_TYPE_NETNS`: the network namespace name, if UTF-8.
    ///
    /// # Examples
    ///
    /// ```
    /// use asyncio::proxy_protocol::{parse, Parsed, Tlv, PP2_TYPE_NETNS};
    /// # use asyncio::proxy_protocol as pp;
    /// # let v1 = b"PROXY TCP4 192.0.2.1 198.51.100.7 56324 443\r\n";
    /// # let pp::Parsed::Complete(mut header, _) = pp::parse(v1) else { panic!() };
    /// # header.version = pp::Version::V2;
    /// // `header`: a v2 header relaying 192.0.2.1:56324 -> 198.51.100.7:443, no TLVs yet
    /// assert_eq!(header.netns(), None);
    /// header.tlvs.push(Tlv { kind: PP2_TYPE_NETNS, value: b"tenant-7".to_vec() });
    /// let Parsed::Complete(got, _) = parse(&header.to_bytes().unwrap()) else { panic!() };
    /// assert_eq!(got.netns(), Some("tenant-7"));
    /// ```
    pub fn netns(&self) -> Option<&str> {
        std::str::from_utf8(self.tlv(PP2_TYPE_NETNS)?).ok()
    }

    /// `PP2_TYPE_CRC32C`: the checksum the header carried ([`parse`] has checked it).
    ///
    /// # Examples
    ///
    /// A sender asks for a checksum with a zero placeholder; a header changed on the way is
    /// refused.
    ///
    /// ```
    /// use asyncio::proxy_protocol::{parse, Parsed, Tlv, PP2_TYPE_CRC32C};
    /// # use asyncio::proxy_protocol as pp;
    /// # let v1 = b"PROXY TCP4 192.0.2.1 198.51.100.7 56324 443\r\n";
    /// # let pp::Parsed::Complete(mut header, _) = pp::parse(v1) else { panic!() };
    /// # header.version = pp::Version::V2;
    /// // `header`: a v2 header relaying 192.0.2.1:56324 -> 198.51.100.7:443, no TLVs yet
    /// header.tlvs.push(Tlv { kind: PP2_TYPE_CRC32C, value: vec![0; 4] }); // filled in by to_bytes
    /// let mut bytes = header.to_bytes().unwrap();
    /// let Parsed::Complete(got, _) = parse(&bytes) else { panic!() };
    /// assert!(got.crc32c().is_some_and(|crc| crc != 0));
    /// bytes[17] ^= 1; // one bit of the source address flipped
    /// assert!(matches!(parse(&bytes), Parsed::Invalid(_)));
    /// ```
    pub fn crc32c(&self) -> Option<u32> {
        let v: [u8; 4] = self.tlv(PP2_TYPE_CRC32C)?.try_into().ok()?;
        Some(u32::from_be_bytes(v))
    }

    /// `PP2_TYPE_SSL`: TLS details; `None` if absent or not laid out as the spec says.
    ///
    /// # Examples
    ///
    /// More in [`SslInfo`].
    ///
    /// ```
    /// use asyncio::proxy_protocol::{parse, Parsed, SslInfo, Tlv, PP2_CLIENT_SSL, PP2_TYPE_SSL};
    /// # use asyncio::proxy_protocol as pp;
    /// # let v1 = b"PROXY TCP4 192.0.2.1 198.51.100.7 56324 443\r\n";
    /// # let pp::Parsed::Complete(mut header, _) = pp::parse(v1) else { panic!() };
    /// # header.version = pp::Version::V2;
    /// // `header`: a v2 header relaying 192.0.2.1:56324 -> 198.51.100.7:443, no TLVs yet
    /// let info = SslInfo { client: PP2_CLIENT_SSL, verify: 0, tlvs: vec![] };
    /// header.tlvs.push(Tlv { kind: PP2_TYPE_SSL, value: info.to_bytes() });
    /// let Parsed::Complete(got, _) = parse(&header.to_bytes().unwrap()) else { panic!() };
    /// assert_eq!(got.ssl(), Some(info));
    /// ```
    pub fn ssl(&self) -> Option<SslInfo> {
        let v = self.tlv(PP2_TYPE_SSL)?;
        if v.len() < 5 {
            return None;
        }
        let tlvs = parse::tlvs(&v[5..]).ok()?;
        Some(SslInfo {
            client: v[0],
            verify: u32::from_be_bytes([v[1], v[2], v[3], v[4]]),
            tlvs,
        })
    }

    /// Whether the addresses replace the socket's: a `PROXY` command with Internet or Unix
    /// addresses over a stated transport. `LOCAL`, `UNKNOWN`, the `UNSPEC` family and the
    /// `UNSPEC` transport keep the socket's own (as the spec says: the receiver should ignore
    /// the address block of a connection whose transport is not said).
    ///
    /// # Examples
    ///
    /// ```
    /// use asyncio::proxy_protocol::{parse, Parsed};
    ///
    /// let line = b"PROXY TCP4 192.0.2.1 192.0.2.2 1 2\r\n";
    /// let Parsed::Complete(relayed, _) = parse(line) else { panic!() };
    /// assert!(relayed.relays_addresses());
    /// let Parsed::Complete(unknown, _) = parse(b"PROXY UNKNOWN\r\n") else { panic!() };
    /// assert!(!unknown.relays_addresses()); // keep peername as the socket says
    /// ```
    pub fn relays_addresses(&self) -> bool {
        self.command == Command::Proxy
            && self.kind != SocketKind::Unspecified
            && self.addresses != Addresses::Unspecified
    }

    /// The client's address, if the header relays one.
    ///
    /// # Examples
    ///
    /// A v2 header can relay Unix socket paths too (NUL-padded to 108 bytes each).
    ///
    /// ```
    /// use asyncio::proxy_protocol::{parse, Parsed};
    ///
    /// let mut v2 = b"\r\n\r\n\0\r\nQUIT\n\x21\x31\x00\xd8".to_vec(); // PROXY, UNIX STREAM, 216
    /// for path in [&b"/run/client.sock"[..], b"/run/app.sock"] {
    ///     let mut field = [0u8; 108];
    ///     field[..path.len()].copy_from_slice(path);
    ///     v2.extend_from_slice(&field);
    /// }
    /// let Parsed::Complete(h, _) = parse(&v2) else { panic!() };
    /// assert_eq!(h.source().unwrap().to_string(), "/run/client.sock");
    /// ```
    pub fn source(&self) -> Option<Address> {
        match &self.addresses {
            Addresses::Inet { source, .. } if self.relays_addresses() => {
                Some(Address::Inet(*source))
            }
            Addresses::Unix { source, .. } if self.relays_addresses() => unix_address(source),
            _ => None,
        }
    }

    /// The address the client connected to, if the header relays one.
    ///
    /// # Examples
    ///
    /// ```
    /// use asyncio::proxy_protocol::{parse, Parsed};
    ///
    /// let line = b"PROXY TCP4 192.0.2.1 198.51.100.7 56324 443\r\n";
    /// let Parsed::Complete(h, _) = parse(line) else { panic!() };
    /// let front = h.destination().and_then(|a| a.as_inet()).unwrap();
    /// assert_eq!(front.to_string(), "198.51.100.7:443"); // the balancer's public address
    /// ```
    pub fn destination(&self) -> Option<Address> {
        match &self.addresses {
            Addresses::Inet { destination, .. } if self.relays_addresses() => {
                Some(Address::Inet(*destination))
            }
            Addresses::Unix { destination, .. } if self.relays_addresses() => {
                unix_address(destination)
            }
            _ => None,
        }
    }

    /// The header as a balancer would send it: v1 writes `TCP4`/`TCP6` for Internet
    /// addresses it relays ([`relays_addresses`](Self::relays_addresses)) and `UNKNOWN`
    /// otherwise (no TLVs); v2 writes every field, TLVs as given
    /// (add a [`PP2_TYPE_CRC32C`] TLV of four zero bytes to have it filled in).
    ///
    /// # Errors
    ///
    /// [`Error::InvalidArgument`] when a v2 header cannot hold what it is given, rather than
    /// a header that says something else: a Unix path over 108 bytes or, not an abstract
    /// name, with a NUL byte in it, an abstract name ending in a NUL byte (read back as
    /// padding: see [`Addresses::Unix`]), or addresses and TLVs over the 65,535 bytes the
    /// length field can declare.
    ///
    /// # Examples
    ///
    /// A client (or a test) speaking for a balancer writes this before its own bytes.
    ///
    /// ```
    /// use asyncio::proxy_protocol::{Addresses, Command, ProxyHeader, SocketKind, Version};
    ///
    /// let header = ProxyHeader {
    ///     version: Version::V1,
    ///     command: Command::Proxy,
    ///     kind: SocketKind::Stream,
    ///     addresses: Addresses::Inet {
    ///         source: "192.0.2.1:56324".parse().unwrap(),
    ///         destination: "198.51.100.7:443".parse().unwrap(),
    ///     },
    ///     tlvs: vec![],
    /// };
    /// let line = header.to_bytes()?;
    /// assert_eq!(line, b"PROXY TCP4 192.0.2.1 198.51.100.7 56324 443\r\n");
    /// # Ok::<_, asyncio::Error>(())
    /// ```
    pub fn to_bytes(&self) -> Result<Vec<u8>, Error> {
        match self.version {
            Version::V1 => Ok(self.to_v1()),
            Version::V2 => self.to_v2(),
        }
    }

    fn to_v1(&self) -> Vec<u8> {
        let line = match (&self.addresses, self.command) {
            (
                Addresses::Inet {
                    source,
                    destination,
                },
                Command::Proxy,
            ) if source.is_ipv4() == destination.is_ipv4() && self.relays_addresses() => {
                let fam = if source.is_ipv4() { "TCP4" } else { "TCP6" };
                format!(
                    "PROXY {fam} {} {} {} {}\r\n",
                    source.ip(),
                    destination.ip(),
                    source.port(),
                    destination.port()
                )
            }
            _ => "PROXY UNKNOWN\r\n".to_string(),
        };
        line.into_bytes()
    }

    fn to_v2(&self) -> Result<Vec<u8>, Error> {
        let mut v = V2_SIGNATURE.to_vec();
        v.push(match self.command {
            Command::Local => 0x20,
            Command::Proxy => 0x21,
        });
        let proto = match self.kind {
            SocketKind::Unspecified => 0,
            SocketKind::Stream => 1,
            SocketKind::Datagram => 2,
        };
        let mut body = Vec::new();
        let fam = match &self.addresses {
            Addresses::Unspecified => 0,
            Addresses::Inet {
                source,
                destination,
            } => match (source.ip(), destination.ip()) {
                (IpAddr::V4(s), IpAddr::V4(d)) => {
                    body.extend_from_slice(&s.octets());
                    body.extend_from_slice(&d.octets());
                    body.extend_from_slice(&source.port().to_be_bytes());
                    body.extend_from_slice(&destination.port().to_be_bytes());
                    1
                }
                (s, d) => {
                    body.extend_from_slice(&to_v6(s).octets());
                    body.extend_from_slice(&to_v6(d).octets());
                    body.extend_from_slice(&source.port().to_be_bytes());
                    body.extend_from_slice(&destination.port().to_be_bytes());
                    2
                }
            },
            Addresses::Unix {
                source,
                destination,
            } => {
                for p in [source, destination] {
                    // A pathname ends at its first NUL on the receiving side: one with a NUL
                    // inside would be read back shorter (an abstract name starts with one).
                    if p.first() != Some(&0) && p.contains(&0) {
                        return Err(Error::invalid_argument(format!(
                            "PROXY v2 Unix path {:?} holds a NUL byte: a receiver would end it \
                             there",
                            String::from_utf8_lossy(p)
                        )));
                    }
                    // An abstract name's trailing NULs look like the field's padding: a
                    // receiver would trim them (and a name of the lone NUL reads as none).
                    if p.first() == Some(&0) && p.last() == Some(&0) {
                        return Err(Error::invalid_argument(format!(
                            "PROXY v2 abstract Unix name {:?} ends in a NUL byte: a receiver \
                             would take it for padding",
                            String::from_utf8_lossy(p)
                        )));
                    }
                    let mut field = [0u8; 108];
                    field
                        .get_mut(..p.len())
                        .ok_or_else(|| too_long("Unix address", p.len(), 108))?
                        .copy_from_slice(p);
                    body.extend_from_slice(&field);
                }
                3
            }
        };
        v.push(fam << 4 | proto);
        let crc_at = encode_tlvs_find_crc(&self.tlvs, &mut body);
        // One TLV over 65,535 bytes makes the body longer than that too.
        let len = u16::try_from(body.len())
            .map_err(|_| too_long("address block and TLVs", body.len(), 65_535))?;
        v.extend_from_slice(&len.to_be_bytes());
        let start = v.len();
        v.extend_from_slice(&body);
        if let Some(at) = crc_at.map(|at| start + at).filter(|at| at + 4 <= v.len()) {
            v[at..at + 4].fill(0);
            let crc = parse::crc32c(&v);
            v[at..at + 4].copy_from_slice(&crc.to_be_bytes());
        }
        Ok(v)
    }
}

#[cold]
fn too_long(what: &str, n: usize, max: usize) -> Error {
    Error::invalid_argument(format!("PROXY v2 {what} of {n} bytes (at most {max})"))
}

fn to_v6(ip: IpAddr) -> std::net::Ipv6Addr {
    match ip {
        IpAddr::V4(a) => a.to_ipv6_mapped(),
        IpAddr::V6(a) => a,
    }
}

fn encode_tlvs(tlvs: &[Tlv], out: &mut Vec<u8>) {
    encode_tlvs_find_crc(tlvs, out);
}

/// Appends the TLVs; returns where the first 4-byte CRC32C value sits in `out`. A value over
/// 65,535 bytes is written whole (its length field cannot say so): the result is then too
/// long for a header, which `to_v2` refuses with the true size.
fn encode_tlvs_find_crc(tlvs: &[Tlv], out: &mut Vec<u8>) -> Option<usize> {
    let mut crc_at = None;
    for t in tlvs {
        let len = u16::try_from(t.value.len()).unwrap_or(u16::MAX);
        out.push(t.kind);
        out.extend_from_slice(&len.to_be_bytes());
        if t.kind == PP2_TYPE_CRC32C && t.value.len() == 4 && crc_at.is_none() {
            crc_at = Some(out.len());
        }
        out.extend_from_slice(&t.value);
    }
    crc_at
}

/// A Unix address from the header's bytes: a path, or (leading NUL) a Linux abstract name.
fn unix_address(bytes: &[u8]) -> Option<Address> {
    use std::os::unix::ffi::OsStrExt;
    use std::os::unix::net::SocketAddr as UnixAddr;
    if let Some(name) = bytes.strip_prefix(&[0]) {
        #[cfg(any(target_os = "linux", target_os = "android"))]
        {
            #[cfg(target_os = "android")]
            use std::os::android::net::SocketAddrExt;
            #[cfg(target_os = "linux")]
            use std::os::linux::net::SocketAddrExt;
            return UnixAddr::from_abstract_name(name).ok().map(Address::Unix);
        }
        #[cfg(not(any(target_os = "linux", target_os = "android")))]
        {
            let _ = name;
            return None;
        }
    }
    let path = std::ffi::OsStr::from_bytes(bytes);
    UnixAddr::from_pathname(path).ok().map(Address::Unix)
}
