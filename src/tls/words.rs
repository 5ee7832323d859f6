//! TLS failures in words a newcomer can act on (issue #14): for each rustls error a user of
//! `open_connection`, `start_server` or `start_tls` can meet, OpenSSL's reason as Python's
//! `ssl.SSLError` prints it (`no shared cipher`, `sslv3 alert handshake failure`), then what
//! it means for this side and what to do. Every other rustls error keeps rustls' own text.
//! Used by `TlsError` (`crate::error`), which keeps rustls' error as the source. Pure
//! functions of a `rustls::Error`: no I/O, no state.

use std::borrow::Cow;

/// A certificate refusal, a key that does not fit its certificate, a peer that does not speak
/// TLS, a handshake refused by either side, or a record that does not decrypt, in a sentence
/// that says what is wrong and what to do (issue #14): rustls' own words (`invalid peer
/// certificate: UnknownIssuer`) stay reachable as the source. `None` for errors rustls
/// already states plainly. The fixed sentences are borrowed:
/// the one `into_owned` in `from_rustls` copies whichever it is, where an owned `String` per
/// sentence put an allocation and a copy inline in every arm.
pub(crate) fn plain_words(e: &rustls::Error) -> Option<Cow<'static, str>> {
    use rustls::CertificateError as C;
    if let Some(words) = handshake_words(e) {
        return Some(Cow::Borrowed(words));
    }
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
        C::BadSignature => {
            format!("certificate verify failed: bad signature: {ANOTHER_CERT_OR_KEY}").into()
        }
        C::UnsupportedSignatureAlgorithmContext { .. } => "certificate verify failed: the certificate is signed with an algorithm rustls does not accept (an old one such as SHA-1 or MD5, or one its ring provider lacks such as ECDSA P-521); make it again with RSA or ECDSA P-256 and SHA-256".into(),
        // The same two causes, with keys of different kinds.
        C::UnsupportedSignatureAlgorithmForPublicKeyContext { .. } => format!(
            "certificate verify failed: signed by another kind of key (e.g. ECDSA against RSA): {ANOTHER_CERT_OR_KEY}"
        )
        .into(),
        // WebPKI's error, which rustls passes on as `Other`: told by name (a test below
        // fails if it is renamed).
        C::Other(o) if format!("{o:?}").contains("CaUsedAsEndEntity") => {
            // The recipe runs as printed (tests/tls_interop runs it); the certificate it makes
            // is self-signed, so the client trusts it as its own CA (client_config_with_roots).
            "certificate verify failed: a CA certificate used as its own leaf (rustls refuses it); make a leaf, trust it as its own CA: openssl req -x509 -nodes -subj /CN=localhost -addext basicConstraints=CA:FALSE -addext subjectAltName=DNS:localhost,IP:127.0.0.1 -keyout key.pem -out cert.pem"
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

/// The two causes rustls names alike, and what to do about each: a trust anchor with the
/// issuer's name but another key (a stale copy, or an unrelated `CN=localhost` a system store
/// holds, as Debian's ssl-cert-snakeoil), or a peer whose handshake signature is not made with
/// its certificate's key.
const ANOTHER_CERT_OR_KEY: &str = "either this side trusts another certificate of the issuer's name (a stale copy, or a system store's own CN=localhost): trust the issuer's current one (self-signed: the certificate itself) with asyncio::tls::client_config_with_roots(ca_file) or SSL_CERT_FILE (a server: in its client verifier's roots); or the peer's private key does not match its certificate";

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
        A::CertificateUnknown => "sslv3 alert certificate unknown: the peer refused this side's certificate without naming why (a rustls peer says this for a certificate whose name or key usage does not fit); check that it is a leaf certificate for the name in use, with the usage its side needs (serverAuth, clientAuth), sent with its chain",
        A::UnsupportedCertificate => "sslv3 alert unsupported certificate: the peer does not take this kind of certificate (its key type, or a CA certificate used as a leaf); make a leaf certificate with an RSA or ECDSA P-256 key",
        A::CertificateExpired => "sslv3 alert certificate expired: the peer found this side's certificate (or one in its chain) out of date; renew it, or check the peer's clock",
        A::CertificateRevoked => "sslv3 alert certificate revoked: the peer found this side's certificate revoked; get a new one",
        A::AccessDenied => "tlsv1 alert access denied: the peer refused this side; a rustls server says so when it has no certificate for the name asked for (server_hostname, sent as SNI): connect with a name the server serves",
        A::UnrecognisedName => "tlsv1 unrecognized name: the server does not serve the name this side asked for (server_hostname, sent as SNI); connect with a name it serves",
        A::BadRecordMac => "sslv3 alert bad record mac: the peer could not decrypt a record this side sent: bytes were changed on the way (a middlebox or a faulty path) or the two sides' keys disagree; the connection cannot go on: reconnect, and if it recurs look at what sits between the two",
        A::DecryptError => "tlsv1 alert decrypt error: the peer could not verify this side's handshake (a signature or the Finished message): this side's private key does not belong to its certificate, or the handshake was changed on the way; give this side the key made with its certificate",
        A::DecodeError => "tlsv1 alert decode error: the peer could not parse a message this side sent (cut short or changed on the way, or a TLS stack that reads it otherwise); the peer's logs say which",
        A::IllegalParameter => "sslv3 alert illegal parameter: the peer refused a value in this side's handshake (a field it does not accept in that place); compare both sides' TLS settings, and the peer's logs",
        A::UnexpectedMessage => "sslv3 alert unexpected message: the peer got a message it did not expect at that point of the handshake or connection; the two TLS stacks disagree, or bytes were changed on the way",
        A::InsufficientSecurity => "tlsv1 alert insufficient security: the peer wants stronger parameters than any this side offered (cipher suites, key exchange groups); offer the stronger ones it takes",
        A::InternalError => "tlsv1 alert internal error: the peer failed on its own side, not over anything this side sent; the peer's logs say why",
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

/// The refusals this side's own rustls makes in a handshake, and a record that fails to
/// decrypt, in OpenSSL's words as Python prints them (`no shared cipher`, `peer did not
/// return a certificate`, `decryption failed or bad record mac`), then what to do. The peer
/// hears an alert (handshake_failure, protocol_version, certificate_required...), worded in
/// [`peer_alert_words`] on its side. `None` for the errors rustls words well enough: a peer
/// that misbehaves (`peer misbehaved: ...`), a corrupt message, a handshake not complete.
fn handshake_words(e: &rustls::Error) -> Option<&'static str> {
    use rustls::PeerIncompatible as P;
    Some(match e {
        rustls::Error::PeerIncompatible(p) => match p {
            P::NoCipherSuitesInCommon => "no shared cipher: the peer offered no cipher suite this side accepts (rustls takes the AES-GCM and ChaCha20-Poly1305 suites, in TLS 1.2 only with ECDHE); let both sides' cipher suite lists, and the TLS versions they allow, share one",
            P::NoKxGroupsInCommon => "no suitable key share: the peer offered no key exchange group this side accepts (rustls' ring provider takes X25519, P-256 and P-384); let both sides' group lists share one",
            P::NoSignatureSchemesInCommon => "no suitable signature algorithm: this side's certificate key cannot sign with any signature scheme the peer accepts (e.g. a peer that takes Ed25519 only, from an ECDSA or RSA key); give this side a certificate with a key of a kind the peer accepts, or let the peer accept this one's",
            P::NoCertificateRequestSignatureSchemesInCommon => "no suitable signature algorithm: the server asks for a client certificate signed with schemes this side's client key cannot use; give this side a client certificate with a key of a kind the server accepts",
            P::Tls12NotOffered | P::Tls12NotOfferedOrEnabled | P::SupportedVersionsExtensionRequired => "unsupported protocol: the client offered no TLS version this server accepts (rustls speaks TLS 1.2 and 1.3: a client limited to TLS 1.0 or 1.1, or to a version this server's configuration leaves out, is refused); let both sides allow a common version",
            // Checked first by a rustls server: what a TLS 1.0 or 1.1 ClientHello lacks.
            P::SignatureAlgorithmsExtensionRequired => "unsupported protocol: the client's hello has no signature_algorithms extension, which TLS 1.2 and 1.3 clients send: it is a TLS 1.0 or 1.1 client, which rustls does not serve; let the client use TLS 1.2 or 1.3",
            P::ServerTlsVersionIsDisabledByOurConfig | P::ServerDoesNotSupportTls12Or13 => "unsupported protocol: the server chose a TLS version this side does not accept (rustls speaks TLS 1.2 and 1.3, and this side's configuration may allow only one); let both sides allow a common version",
            _ => return None,
        },
        rustls::Error::NoCertificatesPresented => "peer did not return a certificate: this server requires a client certificate and the client sent none; give the client one the server's verifier trusts (rustls' with_client_auth_cert, Python's load_cert_chain on the client's context), or make client certificates optional on this server",
        // rustls' "peer doesn't support any known protocol": a server's ALPN refusal (D13).
        rustls::Error::NoApplicationProtocol => "no application protocol: the client offered ALPN protocols and none of them is in this server's list, so the handshake ended with no_application_protocol (RFC 7301); let the two lists share one, or give the client no ALPN list",
        rustls::Error::DecryptError => "decryption failed or bad record mac: a record from the peer did not decrypt: bytes were changed on the way (a middlebox or a faulty path) or the two sides' keys disagree; the connection cannot go on: reconnect, and if it recurs look at what sits between the two",
        // rustls' own sentence when the server's certificate resolver returns none (an SNI
        // name it does not serve, e.g. `ResolvesServerCertUsingSni`). Python's sni_callback
        // refusing says `callback failed` on the server side. rustls gives it no variant, so
        // the sentence is matched: tests/tls_handshake's refusals_in_words drives a real
        // resolver refusal and fails if rustls rewords it.
        rustls::Error::General(g) if g == "no server certificate chain resolved" => "callback failed: this server's certificate resolver has no certificate for the name the client asked for (its SNI, or none when the client sent no name), so the handshake ended with access_denied; add a certificate for that name to the resolver, or a default one",
        _ => return None,
    })
}

#[cfg(test)]
mod tests {
    use crate::error::TlsError;
    use rustls::{AlertDescription as A, Error as E, PeerIncompatible as P};
    use std::error::Error as _;

    /// Each error a user can meet reads OpenSSL's reason first (as Python's `ssl.SSLError`
    /// prints it), then what to do, with rustls' own text as the source; every other error
    /// is rustls' text, with no source repeating it.
    #[test]
    fn rustls_errors_in_openssl_words_then_what_to_do() {
        let worded = [
            (
                E::PeerIncompatible(P::NoCipherSuitesInCommon),
                "no shared cipher: ",
            ),
            (
                E::PeerIncompatible(P::NoKxGroupsInCommon),
                "no suitable key share: ",
            ),
            (
                E::PeerIncompatible(P::NoSignatureSchemesInCommon),
                "no suitable signature algorithm: ",
            ),
            (
                E::PeerIncompatible(P::NoCertificateRequestSignatureSchemesInCommon),
                "no suitable signature algorithm: ",
            ),
            (
                E::PeerIncompatible(P::Tls12NotOffered),
                "unsupported protocol: the client",
            ),
            (
                E::PeerIncompatible(P::Tls12NotOfferedOrEnabled),
                "unsupported protocol: the client",
            ),
            (
                E::PeerIncompatible(P::SupportedVersionsExtensionRequired),
                "unsupported protocol: the client",
            ),
            (
                E::PeerIncompatible(P::SignatureAlgorithmsExtensionRequired),
                "unsupported protocol: the client's hello",
            ),
            (
                E::PeerIncompatible(P::ServerTlsVersionIsDisabledByOurConfig),
                "unsupported protocol: the server",
            ),
            (
                E::NoCertificatesPresented,
                "peer did not return a certificate: ",
            ),
            (E::NoApplicationProtocol, "no application protocol: "),
            (E::DecryptError, "decryption failed or bad record mac: "),
            (
                E::General("no server certificate chain resolved".into()),
                "callback failed: ",
            ),
            (
                E::AlertReceived(A::BadRecordMac),
                "sslv3 alert bad record mac: ",
            ),
            (
                E::AlertReceived(A::DecryptError),
                "tlsv1 alert decrypt error: ",
            ),
            (
                E::AlertReceived(A::AccessDenied),
                "tlsv1 alert access denied: ",
            ),
            (
                E::AlertReceived(A::UnrecognisedName),
                "tlsv1 unrecognized name: ",
            ),
            (
                E::AlertReceived(A::DecodeError),
                "tlsv1 alert decode error: ",
            ),
            (
                E::AlertReceived(A::IllegalParameter),
                "sslv3 alert illegal parameter: ",
            ),
            (
                E::AlertReceived(A::UnexpectedMessage),
                "sslv3 alert unexpected message: ",
            ),
            (
                E::AlertReceived(A::InternalError),
                "tlsv1 alert internal error: ",
            ),
            (
                E::AlertReceived(A::InsufficientSecurity),
                "tlsv1 alert insufficient security: ",
            ),
            (
                E::AlertReceived(A::CertificateExpired),
                "sslv3 alert certificate expired: ",
            ),
            (
                E::AlertReceived(A::CertificateUnknown),
                "sslv3 alert certificate unknown: ",
            ),
            (
                E::AlertReceived(A::CertificateRevoked),
                "sslv3 alert certificate revoked: ",
            ),
            (
                E::AlertReceived(A::UnsupportedCertificate),
                "sslv3 alert unsupported certificate: ",
            ),
        ];
        for (rustls_error, opening) in worded {
            let rustls_text = rustls_error.to_string();
            let e = TlsError::from_rustls(rustls_error);
            let text = e.to_string();
            assert!(text.starts_with(opening), "{rustls_text}: {text}");
            assert!(text.contains(';'), "{rustls_text}: no advice in {text}");
            let source = e.source().map(|s| s.to_string());
            assert_eq!(source.as_deref(), Some(rustls_text.as_str()), "{text}");
        }
        let passed_through = [
            E::PeerMisbehaved(rustls::PeerMisbehaved::TooMuchEarlyDataReceived),
            E::PeerIncompatible(P::NullCompressionRequired),
            E::InvalidMessage(rustls::InvalidMessage::MessageTooShort),
            E::HandshakeNotComplete,
            E::UnsupportedNameType,
            E::EncryptError,
            E::PeerSentOversizedRecord,
            E::AlertReceived(A::UserCanceled),
        ];
        for rustls_error in passed_through {
            let rustls_text = rustls_error.to_string();
            let e = TlsError::from_rustls(rustls_error);
            assert_eq!(e.to_string(), rustls_text);
            assert!(e.source().is_none(), "{rustls_text} repeated as the source");
        }
        // Our own sentence in rustls' catch-all stays the sentence alone, with no source.
        let e = TlsError::from_rustls(E::General("the peer did a thing".into()));
        assert_eq!(e.to_string(), "the peer did a thing");
        assert!(e.source().is_none());
    }

    /// The one refusal told by name only: WebPKI's `CaUsedAsEndEntity` reaches rustls as
    /// `CertificateError::Other` (rustls has no variant for it, and WebPKI is no dependency
    /// of ours to downcast to), so `plain_words` finds the name in its Debug text. rustls'
    /// own verifier, over a CA certificate given as its own leaf: should rustls or WebPKI
    /// rename the error or give it a variant, this fails rather than the words going
    /// silently. (tests/tls_interop checks the same over a handshake, where openssl is.)
    #[test]
    fn a_ca_certificate_as_its_own_leaf_is_still_told_by_name() {
        use rustls::client::danger::ServerCertVerifier;
        use rustls::pki_types::{ServerName, UnixTime};
        use std::sync::Arc;
        let mut params = rcgen::CertificateParams::new(vec!["localhost".to_string()]).unwrap();
        params.is_ca = rcgen::IsCa::Ca(rcgen::BasicConstraints::Unconstrained);
        let key = rcgen::KeyPair::generate().unwrap();
        let der = params.self_signed(&key).unwrap().der().clone();
        let mut roots = rustls::RootCertStore::empty();
        roots.add(der.clone()).unwrap();
        let provider = Arc::new(rustls::crypto::ring::default_provider());
        let verifier =
            rustls::client::WebPkiServerVerifier::builder_with_provider(Arc::new(roots), provider)
                .build()
                .unwrap();
        let name = ServerName::try_from("localhost").unwrap();
        let refused = verifier
            .verify_server_cert(&der, &[], &name, &[], UnixTime::now())
            .unwrap_err();
        assert!(
            matches!(
                refused,
                E::InvalidCertificate(rustls::CertificateError::Other(_))
            ),
            "{refused:?}"
        );
        let e = TlsError::from_rustls(refused).to_string();
        assert!(
            e.starts_with("certificate verify failed: a CA certificate used as its own leaf"),
            "{e}"
        );
        // The way out, in one line a newcomer reads to the end (it was 638 characters): a
        // leaf with a name to check, and the new certificate, self-signed too, trusted as its
        // own CA, or the next try fails again, for the issuer (a first-hour stumble).
        assert!(e.len() < 300, "{} characters: {e}", e.len());
        assert!(
            e.contains("make a leaf, trust it as its own CA: openssl req "),
            "{e}"
        );
        assert!(e.contains(" -addext basicConstraints=CA:FALSE "), "{e}");
        assert!(
            e.contains(" -addext subjectAltName=DNS:localhost,IP:127.0.0.1 "),
            "{e}"
        );
    }
}
