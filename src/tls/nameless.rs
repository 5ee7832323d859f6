//! Nameless clients (`server_hostname("")`, T3, T48): the chain is verified, the name is not,
//! and no SNI is sent. CPython keeps the context's chain check and drops only the name check;
//! rustls has no such switch, so `ssl(true)` wraps its verifier ([`NoHostnameCheck`]) and a
//! user's own configuration is asked about the chain only, through a rehearsal handshake in
//! memory against a stand-in server ([`chain_only`], [`rehearse`]). Only the entry points that
//! can go nameless name [`nameless_config`], so a client that never does links none of this.

use std::sync::Arc;

use rustls::client::danger::{HandshakeSignatureValid, ServerCertVerified, ServerCertVerifier};
use rustls::client::WebPkiServerVerifier;
use rustls::pki_types::{CertificateDer, ServerName, UnixTime};
use rustls::{
    CertificateError, ClientConfig, DigitallySignedStruct, ServerConfig, SignatureScheme,
};

use super::config::{default_nameless_config, EnabledTls, NO_NAME};
use crate::error::Error;

/// A verifier that checks the chain, validity dates and signatures like the one it wraps but
/// accepts a certificate issued for another name: `ssl(true)` with `server_hostname("")` (T3,
/// T48).
#[derive(Debug)]
pub(super) struct NoHostnameCheck(pub(super) Arc<WebPkiServerVerifier>);

impl ServerCertVerifier for NoHostnameCheck {
    fn verify_server_cert(
        &self,
        end_entity: &CertificateDer<'_>,
        intermediates: &[CertificateDer<'_>],
        server_name: &ServerName<'_>,
        ocsp_response: &[u8],
        now: UnixTime,
    ) -> Result<ServerCertVerified, rustls::Error> {
        match self
            .0
            .verify_server_cert(end_entity, intermediates, server_name, ocsp_response, now)
        {
            Err(rustls::Error::InvalidCertificate(
                CertificateError::NotValidForName | CertificateError::NotValidForNameContext { .. },
            )) => Ok(ServerCertVerified::assertion()),
            other => other,
        }
    }

    fn verify_tls12_signature(
        &self,
        message: &[u8],
        cert: &CertificateDer<'_>,
        dss: &DigitallySignedStruct,
    ) -> Result<HandshakeSignatureValid, rustls::Error> {
        self.0.verify_tls12_signature(message, cert, dss)
    }

    fn verify_tls13_signature(
        &self,
        message: &[u8],
        cert: &CertificateDer<'_>,
        dss: &DigitallySignedStruct,
    ) -> Result<HandshakeSignatureValid, rustls::Error> {
        self.0.verify_tls13_signature(message, cert, dss)
    }

    fn supported_verify_schemes(&self) -> Vec<SignatureScheme> {
        self.0.supported_verify_schemes()
    }
}

/// The configuration for a connection without a name (`server_hostname=''`, T3, T48): no SNI,
/// the chain verified, the name not.
///
/// With the user's own configuration this runs a rustls *server* (the rehearsal, see
/// [`chain_only`]); with `ssl(true)` it builds a second verifier. So it is reached only as a
/// [`NamelessFn`] value in [`ServerHostname::Nameless`], made by [`ServerHostname::new`] for
/// the entry points that can go nameless: `server_hostname` on the connection builders, and
/// `start_tls`. A client that never asks for a nameless connection links neither (rustls'
/// server half alone is about 190 KiB).
pub(crate) fn nameless_config(ssl: EnabledTls<'_>) -> Result<Arc<ClientConfig>, Error> {
    match ssl {
        EnabledTls::Default => default_nameless_config(),
        EnabledTls::Config(c) => Ok(chain_only(c)),
    }
}

/// The user's configuration without SNI, its verifier asked about the chain only (T3, T48):
/// CPython's `server_hostname=''` keeps the context's chain check and drops the name check.
pub(super) fn chain_only(user: &Arc<ClientConfig>) -> Arc<ClientConfig> {
    let mut rehearsal = (**user).clone();
    rehearsal.enable_sni = false;
    // The rehearsal's session must not be offered to a real server later.
    rehearsal.resumption = rustls::client::Resumption::disabled();
    let mut c = rehearsal.clone();
    let provider = c.crypto_provider().clone();
    c.dangerous().set_certificate_verifier(Arc::new(ChainOnly {
        rehearsal: Arc::new(rehearsal),
        provider,
    }));
    Arc::new(c)
}

/// A verifier that asks the user's own verifier about a server's chain while ignoring the
/// name. rustls gives no access to a configuration's verifier, so it is reached through a
/// rehearsal: an in-memory handshake of the user's configuration against a stand-in server
/// that presents the same chain (signed for with a throwaway key, so that handshake never
/// completes). A refusal for the name alone means the chain passed (a WebPKI verifier checks
/// the chain first); any other refusal is the answer.
pub(super) struct ChainOnly {
    pub(super) rehearsal: Arc<ClientConfig>,
    pub(super) provider: Arc<rustls::crypto::CryptoProvider>,
}

impl std::fmt::Debug for ChainOnly {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("ChainOnly")
    }
}

impl ServerCertVerifier for ChainOnly {
    fn verify_server_cert(
        &self,
        end_entity: &CertificateDer<'_>,
        intermediates: &[CertificateDer<'_>],
        _server_name: &ServerName<'_>,
        ocsp_response: &[u8],
        _now: UnixTime,
    ) -> Result<ServerCertVerified, rustls::Error> {
        let mut chain = vec![end_entity.clone().into_owned()];
        chain.extend(intermediates.iter().map(|c| c.clone().into_owned()));
        let rehearse = |key| rehearse(&self.rehearsal, &self.provider, &chain, ocsp_response, key);
        // The user's verifier accepted everything (it verifies nothing), or refused the name
        // only (a WebPKI verifier checks the chain first).
        let passed = |r: &Result<(), Rehearsal>| match r {
            Ok(()) => true,
            Err(Rehearsal::Refused(e)) => matches!(
                e,
                rustls::Error::InvalidCertificate(
                    CertificateError::NotValidForName
                        | CertificateError::NotValidForNameContext { .. }
                )
            ),
            Err(Rehearsal::Unusable(_)) => false,
        };
        let first = rehearse(0);
        if passed(&first) {
            return Ok(ServerCertVerified::assertion());
        }
        let second = rehearse(1);
        if passed(&second) {
            return Ok(ServerCertVerified::assertion());
        }
        match (first, second) {
            // The chain's verdict cannot depend on the stand-in key, the signature's does: two
            // different refusals mean the chain passed and the stand-in signatures did not.
            (Err(Rehearsal::Refused(a)), Err(Rehearsal::Refused(b))) if !same_refusal(&a, &b) => {
                Ok(ServerCertVerified::assertion())
            }
            (Err(Rehearsal::Refused(e)), _) | (_, Err(Rehearsal::Refused(e))) => Err(e),
            (Err(Rehearsal::Unusable(e)), _) => Err(e),
            (Ok(()), _) => Ok(ServerCertVerified::assertion()), // unreachable: passed
        }
    }

    fn verify_tls12_signature(
        &self,
        message: &[u8],
        cert: &CertificateDer<'_>,
        dss: &DigitallySignedStruct,
    ) -> Result<HandshakeSignatureValid, rustls::Error> {
        rustls::crypto::verify_tls12_signature(
            message,
            cert,
            dss,
            &self.provider.signature_verification_algorithms,
        )
    }

    fn verify_tls13_signature(
        &self,
        message: &[u8],
        cert: &CertificateDer<'_>,
        dss: &DigitallySignedStruct,
    ) -> Result<HandshakeSignatureValid, rustls::Error> {
        rustls::crypto::verify_tls13_signature(
            message,
            cert,
            dss,
            &self.provider.signature_verification_algorithms,
        )
    }

    fn supported_verify_schemes(&self) -> Vec<SignatureScheme> {
        self.provider
            .signature_verification_algorithms
            .supported_schemes()
    }
}

/// Whether two rehearsals ended with the same refusal. Not `==`: a validity check records the
/// time it ran at (`ExpiredContext`, `NotValidYetContext`, `ExpiredRevocationListContext`),
/// which may pass a second boundary between the two rehearsals, and rustls' `OtherError`
/// equals nothing, itself included; either way one chain refusal would look like two
/// different signature refusals and the chain would pass. So the time is left out and the
/// rest compared by its text.
pub(super) fn same_refusal(a: &rustls::Error, b: &rustls::Error) -> bool {
    use rustls::Error::InvalidCertificate as Cert;
    use CertificateError::{ExpiredContext, ExpiredRevocationListContext, NotValidYetContext};
    match (a, b) {
        (Cert(ExpiredContext { not_after: x, .. }), Cert(ExpiredContext { not_after: y, .. }))
        | (
            Cert(NotValidYetContext { not_before: x, .. }),
            Cert(NotValidYetContext { not_before: y, .. }),
        )
        | (
            Cert(ExpiredRevocationListContext { next_update: x, .. }),
            Cert(ExpiredRevocationListContext { next_update: y, .. }),
        ) => x == y,
        _ => format!("{a:?}") == format!("{b:?}"),
    }
}

/// Throwaway PKCS#8 keys (Ed25519, ECDSA P-256) the rehearsal's stand-in server signs with.
/// They guard nothing: a client checks that signature against the real certificate's key, so
/// it always fails, after the chain was judged.
pub(super) const STAND_IN_KEYS: [&[u8]; 2] = [
    &[
        0x30, 0x2e, 0x02, 0x01, 0x00, 0x30, 0x05, 0x06, 0x03, 0x2b, 0x65, 0x70, 0x04, 0x22, 0x04,
        0x20, 0x96, 0x5a, 0x62, 0x83, 0xc9, 0x28, 0x25, 0x0b, 0xf3, 0x80, 0x5f, 0x19, 0x8c, 0xde,
        0x52, 0x33, 0xfc, 0x32, 0xed, 0x35, 0xde, 0xa2, 0xeb, 0x79, 0x88, 0xdd, 0xac, 0x69, 0x0f,
        0x25, 0xd5, 0xba,
    ],
    &[
        0x30, 0x81, 0x87, 0x02, 0x01, 0x00, 0x30, 0x13, 0x06, 0x07, 0x2a, 0x86, 0x48, 0xce, 0x3d,
        0x02, 0x01, 0x06, 0x08, 0x2a, 0x86, 0x48, 0xce, 0x3d, 0x03, 0x01, 0x07, 0x04, 0x6d, 0x30,
        0x6b, 0x02, 0x01, 0x01, 0x04, 0x20, 0x7d, 0x14, 0x15, 0xed, 0xc6, 0x5a, 0x34, 0x88, 0xcc,
        0x73, 0xe6, 0x8b, 0xe6, 0xc5, 0xea, 0x4b, 0x60, 0x36, 0x96, 0x80, 0xe0, 0xcc, 0xcf, 0xea,
        0xbe, 0xe6, 0xe9, 0x30, 0x27, 0x8a, 0xb8, 0x0f, 0xa1, 0x44, 0x03, 0x42, 0x00, 0x04, 0x96,
        0xec, 0x0a, 0x6f, 0x06, 0x36, 0xa3, 0x76, 0x54, 0x3c, 0x10, 0xc2, 0x85, 0x57, 0x15, 0x9a,
        0xdf, 0x3a, 0xf8, 0x3c, 0xc3, 0xf6, 0x58, 0xe2, 0x45, 0x4b, 0x75, 0xa8, 0x3a, 0xdd, 0xc0,
        0x93, 0x4d, 0x33, 0xd6, 0x61, 0xea, 0x9f, 0x00, 0x55, 0x1d, 0x1c, 0x19, 0x31, 0x64, 0x93,
        0x03, 0xdd, 0x99, 0xd7, 0x8a, 0x94, 0xaf, 0x98, 0x06, 0xcb, 0x1a, 0x64, 0xe0, 0xa6, 0xca,
        0x39, 0xc6, 0x7d,
    ],
];

/// The stand-in server's certificate: the real chain, with a throwaway key.
#[derive(Debug)]
pub(super) struct StandIn(Arc<rustls::sign::CertifiedKey>);

impl rustls::server::ResolvesServerCert for StandIn {
    fn resolve(
        &self,
        _: rustls::server::ClientHello<'_>,
    ) -> Option<Arc<rustls::sign::CertifiedKey>> {
        Some(self.0.clone())
    }
}

/// How a rehearsal ended short of completing.
pub(super) enum Rehearsal {
    /// The client side refused: the user's verifier's verdict (on the chain, or on the
    /// stand-in signature once the chain passed).
    Refused(rustls::Error),
    /// The rehearsal could not run that far (no common scheme, version, …).
    Unusable(rustls::Error),
}

/// The user's verifier's verdict on `chain` under the placeholder name, the stand-in server
/// signing with `STAND_IN_KEYS[key]`: the error the client side of an in-memory handshake
/// ends with, or `Ok` if it completes.
pub(super) fn rehearse(
    client: &Arc<ClientConfig>,
    provider: &Arc<rustls::crypto::CryptoProvider>,
    chain: &[CertificateDer<'static>],
    ocsp: &[u8],
    key: usize,
) -> Result<(), Rehearsal> {
    let unusable = |why: &dyn std::fmt::Display| {
        Rehearsal::Unusable(rustls::Error::General(format!(
            "cannot check the server's certificate chain without a name ({why})"
        )))
    };
    let der = rustls::pki_types::PrivatePkcs8KeyDer::from(STAND_IN_KEYS[key].to_vec());
    let signer = provider
        .key_provider
        .load_private_key(der.into())
        .map_err(|e| unusable(&e))?;
    let mut certified = rustls::sign::CertifiedKey::new(chain.to_vec(), signer);
    certified.ocsp = (!ocsp.is_empty()).then(|| ocsp.to_vec());
    let server = ServerConfig::builder_with_provider(provider.clone())
        .with_safe_default_protocol_versions()
        .map_err(|e| unusable(&e))?
        .with_no_client_auth()
        .with_cert_resolver(Arc::new(StandIn(Arc::new(certified))));
    let name = ServerName::try_from(NO_NAME).expect("placeholder is a valid DNS name");
    let mut c = rustls::ClientConnection::new(client.clone(), name).map_err(|e| unusable(&e))?;
    let mut s = rustls::ServerConnection::new(Arc::new(server)).map_err(|e| unusable(&e))?;
    // A handshake is a few flights; the bound only guards against a surprise.
    for _ in 0..16 {
        let mut wire = Vec::new();
        while c.wants_write() {
            c.write_tls(&mut wire).map_err(|e| unusable(&e))?;
        }
        let mut r = &wire[..];
        while !r.is_empty() {
            s.read_tls(&mut r).map_err(|e| unusable(&e))?;
            s.process_new_packets().map_err(|e| unusable(&e))?;
        }
        let mut wire = Vec::new();
        while s.wants_write() {
            s.write_tls(&mut wire).map_err(|e| unusable(&e))?;
        }
        let mut r = &wire[..];
        while !r.is_empty() {
            c.read_tls(&mut r).map_err(|e| unusable(&e))?;
            c.process_new_packets().map_err(Rehearsal::Refused)?;
        }
        if !c.is_handshaking() {
            return Ok(());
        }
    }
    Err(unusable(&"the rehearsal did not finish"))
}
