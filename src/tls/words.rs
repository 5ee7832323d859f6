//! TLS failures in words a newcomer can act on (issue #14): for each rustls error a user of
//! `open_connection`, `start_server` or `start_tls` can meet, OpenSSL's reason as Python's
//! `ssl.SSLError` prints it (`no shared cipher`, `sslv3 alert handshake failure`), then what
//! it means for this side and what to do. Every other rustls error keeps rustls' own text.
//! Used by `TlsError` (`crate::error`), which keeps rustls' error as the source. Pure
//! functions of a `rustls::Error`: no I/O, no state.

use std::borrow::Cow;

/// A certificate refusal, a key that does not fit its certificate, a peer that does not speak
/// TLS, or a handshake the peer refused with an alert, in a sentence that says what is wrong and what to do (issue #14):
/// rustls' own words (`invalid peer certificate: UnknownIssuer`) stay reachable as the
/// source. `None` for errors rustls already states plainly. The fixed sentences are borrowed:
/// the one `into_owned` in `from_rustls` copies whichever it is, where an owned `String` per
/// sentence put an allocation and a copy inline in every arm.
pub(crate) fn plain_words(e: &rustls::Error) -> Option<Cow<'static, str>> {
    use rustls::CertificateError as C;
    match e {
        // rustls' catch-all, which we build with a sentence of our own (as rustls does with
        // a few of its own): the sentence alone, without rustls' "unexpected error: ".
        rustls::Error::General(sentence) => return Some(Cow::Owned(sentence.clone())),
        // A custom verifier's or provider's own error, without rustls' "other error: ".
        rustls::Error::Other(other) => return Some(Cow::Owned(other.to_string())),
        _ => {}
    }
    if let rustls::Error::InconsistentKeys(rustls::InconsistentKeys::KeyMismatch) = e {
        // `server_config` (Python's `load_cert_chain`): OpenSSL's KEY_VALUES_MISMATCH.
        return Some("key values mismatch: the private key does not belong to the certificate it is loaded with (the first one of the chain file, which must be the server's own certificate, not its CA); give the key made with that certificate".into());
    }
    if let rustls::Error::InvalidMessage(rustls::InvalidMessage::InvalidContentType) = e {
        // The peer's bytes have no TLS record header: OpenSSL's WRONG_VERSION_NUMBER.
        return Some("wrong version number: the peer sent bytes that are not TLS; a client: is that port plain text (e.g. HTTP rather than HTTPS), or a protocol that starts TLS later (STARTTLS: connect without ssl, then start_tls)? a server: the client did not start TLS (a plain-text client, or one that had not asked for STARTTLS yet)".into());
    }
    if let rustls::Error::InappropriateHandshakeMessage {
        expect_types,
        got_type: rustls::HandshakeType::ClientHello,
    } = e
    {
        // A client waiting for the ServerHello got a ClientHello: its own, sent back by a
        // plain-text echo, or the peer's, a TLS client too (both ends of a start_tls given
        // client configurations). The error cannot tell which. OpenSSL's UNEXPECTED_MESSAGE.
        if expect_types.contains(&rustls::HandshakeType::ServerHello) {
            return Some("unexpected message: the peer answered with a ClientHello: either a plain-text echo server sent this side's own back (that port does not speak TLS: connect without ssl, or to the port that does), or the peer is a TLS client too (one side must be the server: with start_tls, the side that accepted the connection gives a server configuration)".into());
        }
    }
    if let rustls::Error::AlertReceived(alert) = e {
        return peer_alert_words(*alert).map(Cow::Borrowed);
    }
    let rustls::Error::InvalidCertificate(c) = e else {
        return None;
    };
    Some(match c {
        C::UnknownIssuer => "certificate verify failed: the peer's certificate was not issued by an authority this side trusts (unknown issuer); give its CA (for a self-signed certificate, the certificate itself) as a trust anchor: a client's with asyncio::tls::client_config_with_roots(ca_file) or SSL_CERT_FILE, a server's (checking client certificates) in the roots of its client verifier"
            .into(),
        C::NotValidForNameContext { expected, presented } => {
            wrong_name_words(expected.to_str().as_ref(), presented).into()
        }
        C::NotValidForName => "certificate verify failed: the certificate is not valid for the name we connected to (or has no subjectAltName: CN is not used); connect with a name it lists, or set server_hostname"
            .into(),
        C::ExpiredContext { time, not_after } => format!(
            "certificate verify failed: the certificate expired on {} (it is now {}); renew it",
            utc(not_after.as_secs()),
            utc(time.as_secs())
        )
        .into(),
        C::Expired => "certificate verify failed: the certificate has expired; renew it".into(),
        C::NotValidYetContext { time, not_before } => format!(
            "certificate verify failed: the certificate is valid only from {} (it is now {}); check the clocks",
            utc(not_before.as_secs()),
            utc(time.as_secs())
        )
        .into(),
        C::NotValidYet => {
            "certificate verify failed: the certificate is not valid yet; check the clocks".into()
        }
        // Either a trust anchor carries the issuer's name but not its key: WebPKI checked the
        // certificate's signature with it and failed (Python, i.e. OpenSSL, says `self-signed
        // certificate`); or the chain checked out and the handshake's own signature
        // (CertificateVerify, or TLS 1.2's key exchange) did not: rustls names both alike.
        C::BadSignature => format!(
            "certificate verify failed: the peer's certificate was not signed by the key of the certificate this side trusts under its issuer's name (bad signature), or the peer signed the handshake with a key that is not its certificate's; if the first, {ANOTHER_CERT_OF_THAT_NAME}; if the second, {KEY_NOT_OF_ITS_CERT}"
        )
        .into(),
        C::UnsupportedSignatureAlgorithmContext { .. } => "certificate verify failed: the certificate is signed with an algorithm rustls does not accept (an old one such as SHA-1 or MD5, or one its ring provider lacks such as ECDSA P-521); make it again with RSA or ECDSA P-256 and SHA-256".into(),
        // The same two causes, with keys of different kinds.
        C::UnsupportedSignatureAlgorithmForPublicKeyContext { .. } => format!(
            "certificate verify failed: the peer's certificate is signed with a kind of key other than that of the certificate this side trusts under its issuer's name (e.g. ECDSA against RSA), or the peer signed the handshake with a key of another kind than its certificate's; if the first, {ANOTHER_CERT_OF_THAT_NAME}; if the second, {KEY_NOT_OF_ITS_CERT}"
        )
        .into(),
        C::Other(o) if format!("{o:?}").contains("CaUsedAsEndEntity") => {
            "certificate verify failed: the peer's certificate is a CA certificate (basicConstraints CA:TRUE) used as its own leaf, which TLS verifiers such as rustls refuse (Python's ssl accepts it); make a leaf certificate instead: openssl req -x509 -newkey rsa:2048 -nodes -keyout key.pem -out cert.pem -subj /CN=localhost -addext basicConstraints=critical,CA:FALSE -addext subjectAltName=DNS:localhost,IP:127.0.0.1"
                .into()
        }
        _ => return None,
    })
}

/// A certificate refused for the name checked, `expected`: the names it is for, or advice to
/// make it again when it has none.
pub(crate) fn wrong_name_words(expected: &str, presented: &[String]) -> String {
    // WebPKI lists the subjectAltNames in Debug form: `DnsName("localhost")`,
    // `IpAddress(127.0.0.1)`; keep the names (other kinds are no host names).
    let names: Vec<&str> = presented
        .iter()
        .filter_map(|p| {
            let p = p.as_str();
            p.strip_prefix("DnsName(\"")
                .and_then(|n| n.strip_suffix("\")"))
                .or_else(|| p.strip_prefix("IpAddress(")?.strip_suffix(')'))
        })
        .collect();
    if names.is_empty() {
        // No name to connect with: the certificate itself must change.
        format!(
            "certificate verify failed: the certificate is for no host name at all (it has no DNS or IP subjectAltName; CN is not used), not for {expected:?}; make it again with one: openssl req ... -addext subjectAltName=DNS:localhost,IP:127.0.0.1"
        )
    } else {
        format!(
            "certificate verify failed: the certificate is for {}, not for {expected:?}; connect with one of those names, or set server_hostname to one",
            names.join(", ")
        )
    }
}

/// What to do when a trusted certificate has the issuer's name but another key.
const ANOTHER_CERT_OF_THAT_NAME: &str = "the trusted one is another certificate of the same name: an old copy of a certificate made again since, or an unrelated one (a system store may hold a `CN=localhost` of its own, e.g. Debian's ssl-cert-snakeoil); give the issuer's current certificate (for a self-signed certificate, the certificate itself) as a trust anchor: a client's with asyncio::tls::client_config_with_roots(ca_file) or SSL_CERT_FILE, a server's (checking client certificates) in the roots of its client verifier";

/// What to do when the peer's handshake signature does not fit its (verified) certificate.
const KEY_NOT_OF_ITS_CERT: &str = "its private key does not belong to its certificate: the peer must be given the key made with that certificate";

/// The alerts a peer sends most when it refuses a handshake, in OpenSSL's words as Python
/// shows them (`tlsv1 alert protocol version`), then what they mean for this side and what to
/// do; rustls says only `received fatal alert: ProtocolVersion`. `None` for the others.
fn peer_alert_words(alert: rustls::AlertDescription) -> Option<&'static str> {
    use rustls::AlertDescription as A;
    Some(match alert {
        A::ProtocolVersion => "tlsv1 alert protocol version: the peer accepts none of the TLS versions this side offered (rustls speaks TLS 1.2 and 1.3; check both sides' minimum and maximum versions)",
        A::HandshakeFailure => "sslv3 alert handshake failure: the peer refused the handshake: it found nothing in common with this side's offer (cipher suites, key exchange groups or signature schemes), or, in TLS 1.2, it requires a client certificate and this side sent none; compare both sides' TLS settings",
        A::NoApplicationProtocol => "tlsv1 alert no application protocol: the peer speaks none of the ALPN protocols this side offered; offer one it supports",
        A::CertificateRequired => "tlsv13 alert certificate required: the server requires a client certificate and this side sent none; build the client configuration with one (rustls' with_client_auth_cert)",
        A::UnknownCA => "tlsv1 alert unknown ca: the peer does not trust the authority that issued this side's certificate; give the peer that CA as a trust anchor",
        A::BadCertificate => "sslv3 alert bad certificate: the peer refused this side's certificate; check that it is a leaf certificate for the name in use, in date, sent with its chain",
        // Only a handshake gets this error: a close_notify after it is the clean end of reads.
        A::CloseNotify => "TLS/SSL connection has been closed (EOF): the peer sent close_notify during the handshake, ending the connection before it was secured (a refusal without a reason given: the peer's logs say why)",
        _ => return None,
    })
}

/// `secs` since the Unix epoch as `YYYY-MM-DD HH:MM:SS UTC` (civil-from-days, no dependency).
/// Out of line: [`plain_words`] has four calls, each a six-argument `format!` inlined.
#[inline(never)]
pub(crate) fn utc(secs: u64) -> String {
    let days = (secs / 86_400) as i64;
    let rem = secs % 86_400;
    // Howard Hinnant's days-to-civil algorithm.
    let z = days + 719_468;
    let era = z.div_euclid(146_097);
    let doe = z.rem_euclid(146_097);
    let yoe = (doe - doe / 1_460 + doe / 36_524 - doe / 146_096) / 365;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let d = doy - (153 * mp + 2) / 5 + 1;
    let m = if mp < 10 { mp + 3 } else { mp - 9 };
    let y = yoe + era * 400 + i64::from(m <= 2);
    format!(
        "{y:04}-{m:02}-{d:02} {:02}:{:02}:{:02} UTC",
        rem / 3600,
        rem % 3600 / 60,
        rem % 60
    )
}
