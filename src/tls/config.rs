//! TLS contexts: what `ssl=` accepts, the default client context of `ssl(true)`, and helpers
//! that load PEM files into rustls configurations.
//!
//! Mirrors `ssl.create_default_context()` as `_create_transport_context` in CPython
//! `Lib/asyncio/sslproto.py` uses it, and the server-hostname rules of
//! `BaseEventLoop.create_connection` / `create_unix_connection` (S6, S8, L84, L111, T1–T3,
//! T47, T48). Ground rules: nothing here drives a connection (that is `engine.rs`); every
//! failure is an [`Error`] naming the file or the rule, never a panic.
//!
//! Roots of `ssl(true)`, as OpenSSL's default verify paths find them: the PEM bundle named by
//! `SSL_CERT_FILE`, else the system bundle (`/etc/ssl/certs/ca-certificates.crt` on Debian,
//! or the Red Hat / SUSE / Alpine equivalents); and the PEM files in the directories of
//! `SSL_CERT_DIR` (colon-separated), so that directory adds to the bundle. With no bundle and
//! no `SSL_CERT_DIR`, every PEM file in `/etc/ssl/certs`. (OpenSSL also searches that
//! directory when `SSL_CERT_FILE` is set; here the file then names every root besides
//! `SSL_CERT_DIR`'s.) The default configuration is built once per thread and per value of
//! those two variables.

use std::cell::RefCell;
use std::ffi::OsString;
use std::io;
use std::path::{Path, PathBuf};
use std::sync::Arc;

use rustls::client::WebPkiServerVerifier;
use rustls::pki_types::pem::PemObject;
use rustls::pki_types::{CertificateDer, PrivateKeyDer, ServerName};
use rustls::{ClientConfig, RootCertStore, ServerConfig};

use super::engine::Engine;
use super::nameless::{nameless_config, NoHostnameCheck};
use crate::error::{strerror, Error, OsError, TlsError};

/// What `ssl=` means on a client: Python's `ssl=False`, `ssl=True` or `ssl=<SSLContext>`.
///
/// Built with `.into()` from `bool`, [`ClientConfig`] or `Arc<ClientConfig>`, so
/// `open_connection(..).ssl(true)` and `.ssl(my_config)` both read naturally.
///
/// # Examples
///
/// ```
/// use asyncio::tls::ClientTls;
///
/// assert!(!ClientTls::from(false).is_enabled()); // ssl=False
/// assert!(matches!(ClientTls::from(true), ClientTls::Default)); // ssl=True
/// // `open_connection(host, port).ssl(true)` or `.ssl(my_client_config)` convert the same way.
/// ```
#[derive(Clone, Debug, Default)]
pub enum ClientTls {
    /// Plain TCP (`ssl=False`, the default).
    #[default]
    Disabled,
    /// The default verifying context (`ssl=True`): system roots or `SSL_CERT_FILE` /
    /// `SSL_CERT_DIR`, host name checked.
    // Checklist: T2, T47.
    Default,
    /// This rustls configuration, used as is (`ssl=<SSLContext>`).
    Config(Arc<ClientConfig>),
}

impl ClientTls {
    /// True unless [`ClientTls::Disabled`] (Python's truthiness of `ssl`).
    ///
    /// # Examples
    ///
    /// ```
    /// use asyncio::tls::ClientTls;
    /// assert!(ClientTls::Default.is_enabled());
    /// assert!(!ClientTls::default().is_enabled());
    /// ```
    pub fn is_enabled(&self) -> bool {
        !matches!(self, ClientTls::Disabled)
    }

    /// The configuration a TLS client uses, or `None` for `ssl=False`: past this, nothing that
    /// builds a client can meet a disabled `ssl`.
    pub(crate) fn enabled(&self) -> Option<EnabledTls<'_>> {
        match self {
            ClientTls::Disabled => None,
            ClientTls::Default => Some(EnabledTls::Default),
            ClientTls::Config(c) => Some(EnabledTls::Config(c)),
        }
    }
}

/// A [`ClientTls`] that is on: the default verifying context or the user's configuration.
#[derive(Clone, Copy, Debug)]
pub(crate) enum EnabledTls<'a> {
    /// `ssl=True`.
    Default,
    /// `ssl=<SSLContext>`.
    Config(&'a Arc<ClientConfig>),
}

impl From<bool> for ClientTls {
    fn from(on: bool) -> Self {
        if on {
            ClientTls::Default
        } else {
            ClientTls::Disabled
        }
    }
}

impl From<Arc<ClientConfig>> for ClientTls {
    fn from(c: Arc<ClientConfig>) -> Self {
        ClientTls::Config(c)
    }
}

impl From<ClientConfig> for ClientTls {
    fn from(c: ClientConfig) -> Self {
        ClientTls::Config(Arc::new(c))
    }
}

/// A TLS context for [`start_tls`](crate::LoopHandle::start_tls) (Python's `SSLContext`):
/// rustls keeps the two sides in two types, so the side follows from the configuration.
///
/// # Examples
///
/// ```
/// # use asyncio::tls::rustls;
/// # let made = rcgen::generate_simple_self_signed(vec!["localhost".into()]).unwrap();
/// # let cert = made.cert.der().clone();
/// # let key = rustls::pki_types::PrivatePkcs8KeyDer::from(made.key_pair.serialize_der());
/// # let server_config = rustls::ServerConfig::builder()
/// #     .with_no_client_auth()
/// #     .with_single_cert(vec![cert.clone()], key.into())
/// #     .unwrap();
/// # let mut roots = rustls::RootCertStore::empty();
/// # roots.add(cert).unwrap();
/// # let client_config = rustls::ClientConfig::builder()
/// #     .with_root_certificates(roots)
/// #     .with_no_client_auth();
/// use asyncio::tls::TlsContext;
///
/// // The side follows the configuration type.
/// assert!(matches!(TlsContext::from(client_config), TlsContext::Client(_)));
/// assert!(matches!(TlsContext::from(server_config), TlsContext::Server(_)));
/// ```
// Checklist: T40.
#[derive(Clone, Debug)]
pub enum TlsContext {
    /// Act as the TLS client.
    Client(Arc<ClientConfig>),
    /// Act as the TLS server.
    Server(Arc<ServerConfig>),
}

impl From<Arc<ClientConfig>> for TlsContext {
    fn from(c: Arc<ClientConfig>) -> Self {
        TlsContext::Client(c)
    }
}

impl From<ClientConfig> for TlsContext {
    fn from(c: ClientConfig) -> Self {
        TlsContext::Client(Arc::new(c))
    }
}

impl From<Arc<ServerConfig>> for TlsContext {
    fn from(c: Arc<ServerConfig>) -> Self {
        TlsContext::Server(c)
    }
}

impl From<ServerConfig> for TlsContext {
    fn from(c: ServerConfig) -> Self {
        TlsContext::Server(Arc::new(c))
    }
}

// ---- PEM loading ----------------------------------------------------------------------------

fn pem_error(path: &Path, what: &str, e: rustls::pki_types::pem::Error) -> Error {
    use rustls::pki_types::pem::Error as Pem;
    match e {
        // Python's OSError for the file: `[Errno 2] No such file or directory: '<path>'`, the
        // errno kept for `raw_os_error()`.
        Pem::Io(io) => Error::Io(OsError::io(
            &io,
            format!("{}: '{}'", strerror(&io), path.display()),
        )),
        Pem::NoItemsFound => none_found(path, what),
        other => {
            Error::invalid_argument(format!("{}: not a valid PEM file: {other}", path.display()))
        }
    }
}

/// Reads every certificate (`BEGIN CERTIFICATE`) of a PEM file, in order: a chain for
/// [`server_config`], or a CA bundle.
///
/// # Errors
/// `Error::Io` if the file cannot be read, with the failure's kind and OS error number
/// ([`Error::raw_os_error`]) and the path in the message (`[Errno 2] No such file or
/// directory: '<path>'`); [`Error::InvalidArgument`] if it holds no certificate or bad PEM.
///
/// # Examples
///
/// ```
/// # let dir = std::env::temp_dir().join(format!("asyncio-doc-{}", std::process::id()));
/// # std::fs::create_dir_all(&dir)?;
/// # let made = rcgen::generate_simple_self_signed(vec!["localhost".into()])?;
/// # std::fs::write(dir.join("cert.pem"), made.cert.pem())?;
/// # std::fs::write(dir.join("key.pem"), made.key_pair.serialize_pem())?;
/// let certs = asyncio::tls::load_certs(dir.join("cert.pem"))?;
/// assert_eq!(certs.len(), 1);
/// assert!(asyncio::tls::load_certs(dir.join("missing.pem")).is_err());
/// # std::fs::remove_dir_all(&dir)?;
/// # Ok::<_, Box<dyn std::error::Error>>(())
/// ```
pub fn load_certs(path: impl AsRef<Path>) -> Result<Vec<CertificateDer<'static>>, Error> {
    let path = path.as_ref();
    let iter =
        CertificateDer::pem_file_iter(path).map_err(|e| pem_error(path, "certificate", e))?;
    let certs = iter
        .collect::<Result<Vec<_>, _>>()
        .map_err(|e| pem_error(path, "certificate", e))?;
    if certs.is_empty() {
        return Err(none_found(path, "certificate"));
    }
    Ok(certs)
}

/// Reads the first private key (PKCS#8, PKCS#1 RSA or SEC1 EC) of a PEM file.
///
/// # Errors
/// `Error::Io` if the file cannot be read, as for [`load_certs`];
/// [`Error::InvalidArgument`] if it holds no key, bad PEM, or a password-protected key
/// (not supported: decrypt it first).
///
/// # Examples
///
/// ```
/// # let dir = std::env::temp_dir().join(format!("asyncio-doc-{}", std::process::id()));
/// # std::fs::create_dir_all(&dir)?;
/// # let made = rcgen::generate_simple_self_signed(vec!["localhost".into()])?;
/// # std::fs::write(dir.join("cert.pem"), made.cert.pem())?;
/// # std::fs::write(dir.join("key.pem"), made.key_pair.serialize_pem())?;
/// let key = asyncio::tls::load_private_key(dir.join("key.pem"))?;
/// assert!(!key.secret_der().is_empty());
/// // A file without a key says so.
/// assert!(asyncio::tls::load_private_key(dir.join("cert.pem")).is_err());
/// # std::fs::remove_dir_all(&dir)?;
/// # Ok::<_, Box<dyn std::error::Error>>(())
/// ```
pub fn load_private_key(path: impl AsRef<Path>) -> Result<PrivateKeyDer<'static>, Error> {
    let path = path.as_ref();
    PrivateKeyDer::from_pem_file(path).map_err(|e| match e {
        rustls::pki_types::pem::Error::Io(_) => pem_error(path, "private key", e),
        // The PEM reader skips an `ENCRYPTED PRIVATE KEY` and fails on the headers of the
        // traditional form: neither error would say what is wrong.
        _ if is_encrypted_key(path) => Error::invalid_argument(format!(
            "the private key in {0} is encrypted (password-protected), which is not supported: \
             decrypt it first, e.g. openssl pkey -in {0} -out key.pem",
            path.display()
        )),
        _ => pem_error(path, "private key", e),
    })
}

/// `no {what} found in <path>`, and, when the file holds the other kind of PEM item (a key
/// where a certificate was wanted, or the reverse), which one and where it goes: the two
/// files swapped, or the key given as a CA file, is the usual cause.
fn none_found(path: &Path, what: &str) -> Error {
    let (other, found) = if what == "certificate" {
        (&b"PRIVATE KEY-----"[..], "a private key")
    } else {
        (&b"-----BEGIN CERTIFICATE-----"[..], "a certificate")
    };
    let hint = if pem_holds(path, &[other]) {
        format!(
            "; it holds {found}: were the certificate and key files swapped? \
             (server_config takes the certificate chain first, then the key)"
        )
    } else {
        String::new()
    };
    Error::invalid_argument(format!("no {what} found in {}{hint}", path.display()))
}

/// Whether the file at `path` holds any of `needles` (false if it cannot be read).
fn pem_holds(path: &Path, needles: &[&[u8]]) -> bool {
    let Ok(text) = std::fs::read(path) else {
        return false;
    };
    needles
        .iter()
        .any(|needle| text.windows(needle.len()).any(|w| w == *needle))
}

/// Whether the PEM file at `path` holds a password-protected key (PKCS#8's `ENCRYPTED PRIVATE
/// KEY`, or OpenSSL's traditional `Proc-Type: 4,ENCRYPTED`).
fn is_encrypted_key(path: &Path) -> bool {
    pem_holds(
        path,
        &[
            b"-----BEGIN ENCRYPTED PRIVATE KEY-----",
            b"Proc-Type: 4,ENCRYPTED",
        ],
    )
}

/// A client configuration that trusts exactly the CA certificates of one PEM file (Python's
/// `ssl.create_default_context(cafile=…)`), no client certificate. Set `alpn_protocols` on the
/// result if you need ALPN, then pass it to `.ssl(…)`.
///
/// # Errors
/// As [`load_certs`]; [`Error::InvalidArgument`] if no certificate in the file is a usable CA.
///
/// # Examples
///
/// ```
/// # let dir = std::env::temp_dir().join(format!("asyncio-doc-{}", std::process::id()));
/// # std::fs::create_dir_all(&dir)?;
/// # let made = rcgen::generate_simple_self_signed(vec!["localhost".into()])?;
/// # std::fs::write(dir.join("cert.pem"), made.cert.pem())?;
/// # std::fs::write(dir.join("key.pem"), made.key_pair.serialize_pem())?;
/// // Trust exactly the certificates in this PEM file (Python's `cafile=`).
/// let client = asyncio::tls::client_config_with_roots(dir.join("cert.pem"))?;
/// asyncio::run(async move {
///     let server_config = asyncio::tls::server_config(dir.join("cert.pem"), dir.join("key.pem"))?;
///     let noop = |_r: asyncio::StreamReader, w: asyncio::StreamWriter| w.close();
///     let server = asyncio::start_server(noop, "127.0.0.1", 0).ssl(server_config).await?;
///     let port = server.sockets()[0].port().unwrap();
///     let (_reader, writer) = asyncio::open_connection("127.0.0.1", port)
///         .ssl(client)
///         .server_hostname("localhost")
///         .await?; // verified against cert.pem
///     writer.close();
///     server.close();
/// #   std::fs::remove_dir_all(&dir)?;
///     Ok::<_, asyncio::Error>(())
/// })??;
/// # Ok::<_, Box<dyn std::error::Error>>(())
/// ```
pub fn client_config_with_roots(ca_file: impl AsRef<Path>) -> Result<ClientConfig, Error> {
    let ca_file = ca_file.as_ref();
    let mut roots = RootCertStore::empty();
    let (added, _) = roots.add_parsable_certificates(load_certs(ca_file)?);
    if added == 0 {
        return Err(Error::invalid_argument(format!(
            "no usable CA certificate in {}",
            ca_file.display()
        )));
    }
    Ok(ClientConfig::builder()
        .with_root_certificates(roots)
        .with_no_client_auth())
}

/// A server configuration from a PEM certificate chain (leaf first) and its private key, no
/// client authentication (Python's `ctx.load_cert_chain(certfile, keyfile)`). Set
/// `alpn_protocols` on the result for ALPN.
///
/// # Errors
/// As [`load_certs`] and [`load_private_key`]; [`Error::Tls`] if the key does not fit the
/// certificate or is of an unsupported type.
///
/// # Examples
///
/// ```
/// # let dir = std::env::temp_dir().join(format!("asyncio-doc-{}", std::process::id()));
/// # std::fs::create_dir_all(&dir)?;
/// # let made = rcgen::generate_simple_self_signed(vec!["localhost".into()])?;
/// # std::fs::write(dir.join("cert.pem"), made.cert.pem())?;
/// # std::fs::write(dir.join("key.pem"), made.key_pair.serialize_pem())?;
/// let mut config = asyncio::tls::server_config(dir.join("cert.pem"), dir.join("key.pem"))?;
/// config.alpn_protocols = vec![b"h2".to_vec()];
/// // Hand it to `start_server(..).ssl(config)` or `create_server(..).ssl(config)`.
/// # std::fs::remove_dir_all(&dir)?;
/// # Ok::<_, Box<dyn std::error::Error>>(())
/// ```
pub fn server_config(
    cert_chain: impl AsRef<Path>,
    key: impl AsRef<Path>,
) -> Result<ServerConfig, Error> {
    let certs = load_certs(cert_chain)?;
    let key = load_private_key(key)?;
    ServerConfig::builder()
        .with_no_client_auth()
        .with_single_cert(certs, key)
        .map_err(|e| Error::Tls(TlsError::from_rustls(e)))
}

/// The configuration `ssl(true)` uses, freshly built so you can add to it (ALPN, a
/// client certificate needs the builder instead): roots from `SSL_CERT_FILE` (else the system
/// bundle) and the directories of `SSL_CERT_DIR`, host names checked.
///
/// # Errors
/// `Error::Io` if `SSL_CERT_FILE` names a missing file or no CA certificate is found at all.
///
/// # Examples
///
/// ```
/// // `ssl(true)`'s configuration, to adjust before use. Without a system CA bundle
/// // (a minimal container) it reports that instead.
/// match asyncio::tls::default_client_config() {
///     Ok(mut config) => config.alpn_protocols = vec![b"http/1.1".to_vec()],
///     Err(e) => println!("no CA certificates: {e}"),
/// }
/// ```
// Checklist: T2, T47.
pub fn default_client_config() -> Result<ClientConfig, Error> {
    Ok(ClientConfig::builder()
        .with_root_certificates(system_roots()?)
        .with_no_client_auth())
}

/// Debian, Red Hat, SUSE and Alpine spellings of the system CA bundle, tried in order.
const SYSTEM_BUNDLES: [&str; 4] = [
    "/etc/ssl/certs/ca-certificates.crt",
    "/etc/pki/tls/certs/ca-bundle.crt",
    "/etc/ssl/ca-bundle.pem",
    "/etc/ssl/cert.pem",
];
const SYSTEM_CERT_DIR: &str = "/etc/ssl/certs";

fn system_roots() -> Result<RootCertStore, Error> {
    let file = std::env::var_os("SSL_CERT_FILE");
    let dirs = std::env::var_os("SSL_CERT_DIR");
    let bundle = SYSTEM_BUNDLES.iter().map(Path::new).find(|p| p.is_file());
    roots_from(
        file.as_deref().map(Path::new),
        dirs.as_deref(),
        bundle,
        Path::new(SYSTEM_CERT_DIR),
    )
}

/// OpenSSL's default verify paths, as Python's `create_default_context` loads them: a file
/// (`file`, i.e. `SSL_CERT_FILE`, else the system `bundle`) and directories (`dirs`, i.e.
/// `SSL_CERT_DIR`, else `system_dir`), each variable replacing only its own default. The
/// system directory is read only when there is no file at all: on the distributions of
/// [`SYSTEM_BUNDLES`] it holds the bundle's certificates again.
fn roots_from(
    file: Option<&Path>,
    dirs: Option<&std::ffi::OsStr>,
    bundle: Option<&Path>,
    system_dir: &Path,
) -> Result<RootCertStore, Error> {
    let mut roots = RootCertStore::empty();
    if let Some(file) = file.or(bundle) {
        roots.add_parsable_certificates(load_certs(file)?);
    }
    match dirs {
        Some(dirs) => {
            for d in std::env::split_paths(dirs) {
                add_pem_dir(&mut roots, &d);
            }
        }
        None if file.or(bundle).is_none() => add_pem_dir(&mut roots, system_dir),
        None => {}
    }
    if roots.is_empty() {
        return Err(Error::Io(io::Error::new(
            io::ErrorKind::NotFound,
            "no CA certificates found for ssl=True: set SSL_CERT_FILE or SSL_CERT_DIR",
        )));
    }
    Ok(roots)
}

/// Adds the certificates of every readable PEM file in `dir`; others are skipped (a
/// certificate directory also holds hash links and non-PEM files).
fn add_pem_dir(roots: &mut RootCertStore, dir: &Path) {
    let Ok(entries) = std::fs::read_dir(dir) else {
        return;
    };
    let mut paths: Vec<PathBuf> = entries.filter_map(|e| e.ok().map(|e| e.path())).collect();
    crate::sort::sort_by(&mut paths, |a, b| a < b); // std's sort would add ~5 KiB
    for path in paths.iter().filter(|p| p.is_file()) {
        if let Ok(iter) = CertificateDer::pem_file_iter(path) {
            roots.add_parsable_certificates(iter.filter_map(Result::ok));
        }
    }
}

/// The default configurations of this thread, for the `SSL_CERT_FILE`/`SSL_CERT_DIR` they were
/// made under: the roots, the configuration that checks names, and the nameless one (T48),
/// made on first use by [`nameless_config`] only.
struct Defaults {
    key: (Option<OsString>, Option<OsString>),
    roots: Arc<RootCertStore>,
    checking: Arc<ClientConfig>,
    nameless: Option<Arc<ClientConfig>>,
}

thread_local! {
    static DEFAULTS: RefCell<Option<Defaults>> = const { RefCell::new(None) };
}

/// Runs `f` on this thread's [`Defaults`], (re)made if the environment changed. `f` must not
/// come back here (it only builds configurations; no user code runs under the borrow).
fn with_defaults<T>(f: impl FnOnce(&mut Defaults) -> Result<T, Error>) -> Result<T, Error> {
    let key = (
        std::env::var_os("SSL_CERT_FILE"),
        std::env::var_os("SSL_CERT_DIR"),
    );
    DEFAULTS.with(|d| {
        let mut d = d.borrow_mut();
        let current = match d.take() {
            Some(defaults) if defaults.key == key => defaults,
            _ => {
                let roots = Arc::new(system_roots()?);
                let checking = Arc::new(
                    ClientConfig::builder()
                        .with_root_certificates(roots.clone())
                        .with_no_client_auth(),
                );
                Defaults {
                    key,
                    roots,
                    checking,
                    nameless: None,
                }
            }
        };
        f(d.insert(current))
    })
}

/// `ssl(true)`'s configuration, shared.
fn default_config() -> Result<Arc<ClientConfig>, Error> {
    with_defaults(|d| Ok(d.checking.clone()))
}

/// `ssl(true)` with `server_hostname("")`: the chain checked against the same roots, the
/// name not (T48); shared.
pub(super) fn default_nameless_config() -> Result<Arc<ClientConfig>, Error> {
    with_defaults(|d| {
        if let Some(nameless) = &d.nameless {
            return Ok(nameless.clone());
        }
        let inner = WebPkiServerVerifier::builder(d.roots.clone())
            .build()
            .map_err(|e| Error::invalid_argument(format!("CA roots unusable: {e}")))?;
        let mut nameless = ClientConfig::builder()
            .dangerous()
            .with_custom_certificate_verifier(Arc::new(NoHostnameCheck(inner)))
            .with_no_client_auth();
        nameless.enable_sni = false;
        // One placeholder name for every nameless connection: resuming would offer one
        // server's ticket to another.
        nameless.resumption = rustls::client::Resumption::disabled();
        let nameless = Arc::new(nameless);
        d.nameless = Some(nameless.clone());
        Ok(nameless)
    })
}

/// Placeholder name for a nameless client (T3): rustls always needs one; `.invalid` is a
/// reserved TLD (RFC 2606), so it can never be a real server's name.
pub(crate) const NO_NAME: &str = "unnamed.invalid";

/// [`nameless_config`], passed as a value so that only callers that may go nameless link it.
pub(crate) type NamelessFn = fn(EnabledTls<'_>) -> Result<Arc<ClientConfig>, Error>;

/// The name a client sends as SNI and checks (Python's `server_hostname`, T2, T3).
#[derive(Clone, Debug)]
pub(crate) enum ServerHostname {
    /// This name. Invariant: not empty (made by [`ServerHostname::new`] or from a non-empty
    /// host).
    Name(String),
    /// `server_hostname=''` (or none, for `start_tls`): no SNI and no name check, the chain
    /// still verified (T3, T48), through this [`nameless_config`]: only the entry points that
    /// can go nameless name it, so only they link it.
    Nameless(NamelessFn),
}

impl ServerHostname {
    /// `server_hostname=name`: `""` is [`ServerHostname::Nameless`].
    pub(crate) fn new(name: &str) -> Self {
        if name.is_empty() {
            ServerHostname::Nameless(nameless_config)
        } else {
            ServerHostname::Name(name.to_string())
        }
    }
}

/// Everything a client engine needs, resolved before any I/O.
pub(crate) struct ClientSetup {
    pub(crate) config: Arc<ClientConfig>,
    pub(crate) name: ServerName<'static>,
    /// The name sent as SNI and checked, for `get_extra_info("server_hostname")`.
    pub(crate) server_hostname: Option<String>,
    /// `name` is the stand-in [`NO_NAME`] for `server_hostname`, a name rustls cannot match
    /// as given (see [`client_setup`]).
    stand_in: bool,
}

impl ClientSetup {
    /// The client engine, and the name for `get_extra_info("server_hostname")`.
    pub(crate) fn into_engine(self) -> Result<(Engine, Option<String>), Error> {
        let mut engine = Engine::client(self.config, self.name)?;
        if let (true, Some(host)) = (self.stand_in, &self.server_hostname) {
            engine.check_name_as(host);
        }
        Ok((engine, self.server_hostname))
    }
}

/// Python's `set_alpn_protocols` rule: every name 1 to 255 bytes; and the list at most
/// [`ALPN_LIST_MAX`] bytes encoded. rustls takes any list and panics on an empty name as it
/// builds a ClientHello (a longer one goes out with a wrapped length), and aborts on a list
/// over the 16-bit length the ClientHello gives it, so a configuration is checked before use.
pub(crate) fn check_alpn(protocols: &[Vec<u8>]) -> Result<(), Error> {
    if protocols.iter().any(|p| p.is_empty() || p.len() > 255) {
        return Err(Error::invalid_argument(
            "ALPN protocols must be 1 to 255 in length",
        ));
    }
    let encoded: usize = protocols.iter().map(|p| 1 + p.len()).sum();
    if encoded > ALPN_LIST_MAX {
        return Err(Error::invalid_argument(format!(
            "ALPN protocol list too long: {encoded} bytes encoded, at most {ALPN_LIST_MAX}"
        )));
    }
    Ok(())
}

/// The most an ALPN list may take in a ClientHello, each name with its length byte: half of
/// the 16-bit length the extensions share, leaving the others (key shares, SNI, a ticket)
/// room. A real list takes a few dozen bytes.
const ALPN_LIST_MAX: usize = 32 * 1024;

/// Resolves `ssl` plus `server_hostname` into a configuration and a name (T2, T3, T48).
///
/// A name is checked as CPython's OpenSSL checks it, literally: an IP address in its
/// standard spelling, or a DNS name. One rustls would take otherwise (`localhost.` matches
/// `localhost` there, once brackets were trimmed here) or not at all (`127.1`, `[::1]`,
/// `a b`), which CPython sends and then refuses as a hostname mismatch, is checked as the
/// stand-in [`NO_NAME`], which no certificate names, with no SNI: the handshake fails with a
/// certificate error naming the name given, never the stand-in (`TlsError::for_name`),
/// unless the configuration verifies nothing, as CPython's `CERT_NONE` connects. Only what
/// CPython refuses before connecting is refused here (`check_name_text`).
pub(crate) fn client_setup(
    ssl: EnabledTls<'_>,
    server_hostname: ServerHostname,
) -> Result<ClientSetup, Error> {
    if let EnabledTls::Config(c) = ssl {
        check_alpn(&c.alpn_protocols)?;
    }
    match server_hostname {
        ServerHostname::Name(n) => {
            check_name_text(&n)?;
            let config = match ssl {
                EnabledTls::Default => default_config()?,
                EnabledTls::Config(c) => c.clone(),
            };
            let (name, config, stand_in) = match matched_name(&n) {
                Some(name) => (name, config, false),
                None => (stand_in_name(), stand_in_config(&config), true),
            };
            Ok(ClientSetup {
                config,
                name,
                server_hostname: Some(n),
                stand_in,
            })
        }
        ServerHostname::Nameless(nameless) => Ok(ClientSetup {
            config: nameless(ssl)?,
            name: stand_in_name(),
            server_hostname: None,
            stand_in: false,
        }),
    }
}

fn stand_in_name() -> ServerName<'static> {
    ServerName::try_from(NO_NAME).expect("placeholder is a valid DNS name")
}

/// What CPython refuses before connecting: a name Python's `idna` codec cannot encode (an
/// empty label, one over 63 characters; a non-ASCII name, which it would encode and rustls
/// cannot) or with a NUL, which `ssl` refuses.
// Checklist: S6, T3.
fn check_name_text(n: &str) -> Result<(), Error> {
    let why = if !n.is_ascii() {
        "rustls takes ASCII names only; give an internationalized name in its IDNA (xn--) form"
    } else if n.contains('\0') {
        "it holds a NUL character"
    } else if n
        .strip_suffix('.')
        .unwrap_or(n)
        .split('.')
        .any(|label| label.is_empty() || label.len() > 63)
    {
        "a label (the text between dots) is empty or longer than 63 characters"
    } else {
        return Ok(());
    };
    Err(Error::invalid_argument(format!(
        "invalid server_hostname {n:?}: {why}"
    )))
}

/// The name rustls checks for `n` when it matches as OpenSSL does: an IP address spelled as
/// one (`127.0.0.1`, `::1`; not `127.1` or `[::1]`), or a DNS name without a final dot.
fn matched_name(n: &str) -> Option<ServerName<'static>> {
    if let Ok(ip) = n.parse::<std::net::IpAddr>() {
        return Some(ServerName::IpAddress(ip.into()));
    }
    if n.ends_with('.') {
        return None;
    }
    let dns = rustls::pki_types::DnsName::try_from(n).ok()?;
    Some(ServerName::DnsName(dns.to_owned()))
}

/// `config` for a stand-in name: no SNI (the stand-in is no name to send), and no session
/// kept (filed under the stand-in, it would be offered to every server so named).
fn stand_in_config(config: &Arc<ClientConfig>) -> Arc<ClientConfig> {
    let mut c = (**config).clone();
    c.enable_sni = false;
    c.resumption = rustls::client::Resumption::disabled();
    Arc::new(c)
}

/// Python's client rules on `server_hostname` with `ssl` on (S6 for TCP, S8/L111 for Unix):
/// returns the name to use. `host` is the connection's host (`None` with `sock=` or a Unix
/// path). (With `ssl=False` a name is an error of its own: `ClientOptions::prepare`.)
pub(crate) fn resolve_server_hostname(
    server_hostname: Option<&ServerHostname>,
    host: Option<&str>,
    unix: bool,
) -> Result<ServerHostname, Error> {
    match (server_hostname, host) {
        (Some(name), _) => Ok(name.clone()),
        (None, _) if unix => Err(Error::invalid_argument(
            "you have to pass server_hostname when using ssl",
        )),
        // A bracketed IPv6 host (which the resolver takes) names its address.
        (None, Some(host)) if !host.is_empty() => {
            let bare = host.strip_prefix('[').and_then(|h| h.strip_suffix(']'));
            let host = bare.filter(|h| h.contains(':')).unwrap_or(host);
            Ok(ServerHostname::Name(host.to_string()))
        }
        (None, _) => Err(Error::invalid_argument(
            "You must set server_hostname when using ssl without a host",
        )),
    }
}

#[cfg(test)]
mod tests {
    use super::super::nameless::{ChainOnly, NoHostnameCheck};
    use super::*;
    use rustls::client::danger::{HandshakeSignatureValid, ServerCertVerified, ServerCertVerifier};
    use rustls::pki_types::UnixTime;
    use rustls::{CertificateError, DigitallySignedStruct, SignatureScheme};

    #[test]
    fn s6_s8_server_hostname_rules() {
        // `server_hostname` with ssl=False is ClientOptions::prepare's error, tested in
        // tests/tls_arguments/keyword_checks.rs (t1_s6_s8_l84_argument_rules_before_any_io).
        let resolve = |name: Option<&str>, host, unix| {
            let name = name.map(ServerHostname::new);
            resolve_server_hostname(name.as_ref(), host, unix)
        };
        assert!(
            matches!(resolve(None, Some("127.0.0.1"), false), Ok(ServerHostname::Name(n)) if n == "127.0.0.1"),
            "S6: defaults to host, even an IP literal"
        );
        let e = resolve(None, None, false).unwrap_err();
        assert_eq!(
            e.to_string(),
            "You must set server_hostname when using ssl without a host"
        );
        let e = resolve(None, Some(""), false).unwrap_err();
        assert_eq!(
            e.to_string(),
            "You must set server_hostname when using ssl without a host"
        );
        let e = resolve(None, None, true).unwrap_err();
        assert_eq!(
            e.to_string(),
            "you have to pass server_hostname when using ssl"
        );
        assert!(
            matches!(
                resolve(Some(""), None, true),
                Ok(ServerHostname::Nameless(_))
            ),
            "S8: '' is accepted, and means no name"
        );
        assert!(
            matches!(resolve(Some("x"), Some("h"), false), Ok(ServerHostname::Name(n)) if n == "x"),
            "a given name wins over the host"
        );
    }

    #[test]
    fn load_errors_name_the_file() {
        let e = load_certs("/nonexistent/x.pem").unwrap_err();
        assert_eq!(e.kind(), io::ErrorKind::NotFound);
        assert!(e.to_string().contains("/nonexistent/x.pem"), "{e}");
        let dir = std::env::temp_dir().join(format!("asyncio-tls-cfg-{}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        let empty = dir.join("empty.pem");
        std::fs::write(&empty, "no pem here\n").unwrap();
        let e = load_certs(&empty).unwrap_err();
        assert!(matches!(e, Error::InvalidArgument(_)), "{e:?}");
        assert!(e.to_string().contains("no certificate found"), "{e}");
        let e = load_private_key(&empty).unwrap_err();
        assert!(matches!(e, Error::InvalidArgument(_)), "{e:?}");
        std::fs::remove_dir_all(&dir).unwrap();
    }

    /// A newcomer's swapped arguments (`server_config(key, cert)`) or a key given as the CA
    /// file: the error says which kind of item the file does hold, and where it goes.
    #[test]
    fn a_swapped_cert_and_key_are_named() {
        let dir = std::env::temp_dir().join(format!("asyncio-tls-swap-{}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        let made = rcgen::generate_simple_self_signed(vec!["localhost".into()]).unwrap();
        let (cert, key) = (dir.join("cert.pem"), dir.join("key.pem"));
        std::fs::write(&cert, made.cert.pem()).unwrap();
        std::fs::write(&key, made.key_pair.serialize_pem()).unwrap();
        let e = server_config(&key, &cert).unwrap_err();
        assert!(matches!(e, Error::InvalidArgument(_)), "{e:?}");
        let text = e.to_string();
        assert!(text.starts_with("no certificate found in "), "{text}");
        assert!(text.contains("it holds a private key"), "{text}");
        assert!(
            text.contains("certificate chain first, then the key"),
            "{text}"
        );
        let e = client_config_with_roots(&key).unwrap_err();
        assert!(e.to_string().contains("it holds a private key"), "{e}");
        let e = load_private_key(&cert).unwrap_err();
        assert!(matches!(e, Error::InvalidArgument(_)), "{e:?}");
        let text = e.to_string();
        assert!(text.starts_with("no private key found in "), "{text}");
        assert!(text.contains("it holds a certificate"), "{text}");
        std::fs::remove_dir_all(&dir).unwrap();
    }

    /// Roots holding one CA ("trusted"), a leaf for `localhost` it signed, and a leaf for the
    /// same name signed by a CA the roots lack ("stranger").
    fn trusted_and_stranger_leaves() -> (RootCertStore, rcgen::Certificate, rcgen::Certificate) {
        use rcgen::{BasicConstraints, CertificateParams, IsCa, KeyPair};
        let ca = |name: &str| {
            let key = KeyPair::generate().unwrap();
            let mut p = CertificateParams::new(Vec::<String>::new()).unwrap();
            p.distinguished_name.push(rcgen::DnType::CommonName, name);
            p.is_ca = IsCa::Ca(BasicConstraints::Unconstrained);
            (p.self_signed(&key).unwrap(), key)
        };
        let ((ca_cert, ca_key), (other_cert, other_key)) = (ca("trusted"), ca("stranger"));
        let leaf_key = KeyPair::generate().unwrap();
        let leaf = |issuer, issuer_key| {
            CertificateParams::new(vec!["localhost".to_string()])
                .unwrap()
                .signed_by(&leaf_key, issuer, issuer_key)
                .unwrap()
        };
        let (good, stranger) = (leaf(&ca_cert, &ca_key), leaf(&other_cert, &other_key));
        let mut roots = RootCertStore::empty();
        roots.add(ca_cert.der().clone()).unwrap();
        (roots, good, stranger)
    }

    #[test]
    fn t48_nameless_verifier_checks_the_chain_but_not_the_name() {
        let (roots, good, stranger) = trusted_and_stranger_leaves();
        let inner = WebPkiServerVerifier::builder(Arc::new(roots))
            .build()
            .unwrap();
        let nameless = NoHostnameCheck(inner.clone());
        let other_name = ServerName::try_from("other.example").unwrap();
        let now = UnixTime::now();
        assert!(inner
            .verify_server_cert(good.der(), &[], &other_name, &[], now)
            .is_err());
        assert!(
            nameless
                .verify_server_cert(good.der(), &[], &other_name, &[], now)
                .is_ok(),
            "T48: the name is not checked"
        );
        let e = nameless
            .verify_server_cert(stranger.der(), &[], &other_name, &[], now)
            .unwrap_err();
        assert!(
            matches!(
                e,
                rustls::Error::InvalidCertificate(CertificateError::UnknownIssuer)
            ),
            "the chain still is: {e:?}"
        );
    }

    /// A user's own verifier asked about the chain only, through the rehearsal.
    #[test]
    fn t3_t48_own_configuration_checks_the_chain_only() {
        let (roots, good, stranger) = trusted_and_stranger_leaves();
        let user = Arc::new(
            ClientConfig::builder()
                .with_root_certificates(roots.clone())
                .with_no_client_auth(),
        );
        let provider = user.crypto_provider().clone();
        let verifier = ChainOnly {
            rehearsal: user.clone(),
            provider,
        };
        let name = ServerName::try_from(NO_NAME).unwrap();
        let now = UnixTime::now();
        assert!(
            verifier
                .verify_server_cert(good.der(), &[], &name, &[], now)
                .is_ok(),
            "the name is not checked"
        );
        let e = verifier
            .verify_server_cert(stranger.der(), &[], &name, &[], now)
            .unwrap_err();
        assert!(
            matches!(
                e,
                rustls::Error::InvalidCertificate(CertificateError::UnknownIssuer)
            ),
            "the chain still is: {e:?}"
        );
        // A verifier that checks nothing keeps checking nothing.
        #[derive(Debug)]
        struct Anything(Arc<rustls::crypto::CryptoProvider>);
        impl ServerCertVerifier for Anything {
            fn verify_server_cert(
                &self,
                _: &CertificateDer<'_>,
                _: &[CertificateDer<'_>],
                _: &ServerName<'_>,
                _: &[u8],
                _: UnixTime,
            ) -> Result<ServerCertVerified, rustls::Error> {
                Ok(ServerCertVerified::assertion())
            }
            fn verify_tls12_signature(
                &self,
                _: &[u8],
                _: &CertificateDer<'_>,
                _: &DigitallySignedStruct,
            ) -> Result<HandshakeSignatureValid, rustls::Error> {
                Ok(HandshakeSignatureValid::assertion())
            }
            fn verify_tls13_signature(
                &self,
                _: &[u8],
                _: &CertificateDer<'_>,
                _: &DigitallySignedStruct,
            ) -> Result<HandshakeSignatureValid, rustls::Error> {
                Ok(HandshakeSignatureValid::assertion())
            }
            fn supported_verify_schemes(&self) -> Vec<SignatureScheme> {
                self.0.signature_verification_algorithms.supported_schemes()
            }
        }
        let p = user.crypto_provider().clone();
        let anything = Arc::new(
            ClientConfig::builder()
                .dangerous()
                .with_custom_certificate_verifier(Arc::new(Anything(p.clone())))
                .with_no_client_auth(),
        );
        let verifier = ChainOnly {
            rehearsal: anything,
            provider: p.clone(),
        };
        assert!(verifier
            .verify_server_cert(stranger.der(), &[], &name, &[], now)
            .is_ok());
        // A verifier that ignores names but checks the chain and the signatures: it refuses
        // the stand-in signatures, differently for the two stand-in keys.
        let ignoring = Arc::new(
            ClientConfig::builder()
                .dangerous()
                .with_custom_certificate_verifier(Arc::new(NoHostnameCheck(
                    WebPkiServerVerifier::builder(Arc::new(roots))
                        .build()
                        .unwrap(),
                )))
                .with_no_client_auth(),
        );
        let verifier = ChainOnly {
            rehearsal: ignoring,
            provider: p,
        };
        assert!(
            verifier
                .verify_server_cert(good.der(), &[], &name, &[], now)
                .is_ok(),
            "two different refusals of the stand-in signatures: the chain passed"
        );
        let e = verifier
            .verify_server_cert(stranger.der(), &[], &name, &[], now)
            .unwrap_err();
        assert!(
            matches!(
                e,
                rustls::Error::InvalidCertificate(CertificateError::UnknownIssuer)
            ),
            "{e:?}"
        );
    }

    /// A verifier that refuses every chain with `refusal(n)`, `n` counting its calls.
    #[derive(Debug)]
    struct Refuses(
        Arc<rustls::crypto::CryptoProvider>,
        std::sync::atomic::AtomicU64,
        fn(u64) -> rustls::Error,
    );

    impl ServerCertVerifier for Refuses {
        fn verify_server_cert(
            &self,
            _: &CertificateDer<'_>,
            _: &[CertificateDer<'_>],
            _: &ServerName<'_>,
            _: &[u8],
            _: UnixTime,
        ) -> Result<ServerCertVerified, rustls::Error> {
            let n = self.1.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
            Err((self.2)(n))
        }
        fn verify_tls12_signature(
            &self,
            m: &[u8],
            c: &CertificateDer<'_>,
            d: &DigitallySignedStruct,
        ) -> Result<HandshakeSignatureValid, rustls::Error> {
            let algs = &self.0.signature_verification_algorithms;
            rustls::crypto::verify_tls12_signature(m, c, d, algs)
        }
        fn verify_tls13_signature(
            &self,
            m: &[u8],
            c: &CertificateDer<'_>,
            d: &DigitallySignedStruct,
        ) -> Result<HandshakeSignatureValid, rustls::Error> {
            let algs = &self.0.signature_verification_algorithms;
            rustls::crypto::verify_tls13_signature(m, c, d, algs)
        }
        fn supported_verify_schemes(&self) -> Vec<SignatureScheme> {
            self.0.signature_verification_algorithms.supported_schemes()
        }
    }

    /// T3/T48: the same chain refusal in both rehearsals is a refusal, even when it carries
    /// the time the check ran at (an expired certificate while the clock passes a second
    /// boundary between the rehearsals: WebPKI's `ExpiredContext`) or an `OtherError`
    /// (which rustls never finds equal to anything). Before, either was taken for two
    /// different stand-in signature refusals, and the chain accepted.
    #[test]
    fn t3_t48_a_refusal_that_carries_the_time_or_an_other_error_stays_a_refusal() {
        let (_, good, _) = trusted_and_stranger_leaves();
        let name = ServerName::try_from(NO_NAME).unwrap();
        let expired_as_the_clock_ticks = |n: u64| {
            rustls::Error::InvalidCertificate(CertificateError::ExpiredContext {
                time: UnixTime::since_unix_epoch(std::time::Duration::from_secs(2_000_000_000 + n)),
                not_after: UnixTime::since_unix_epoch(std::time::Duration::from_secs(1_000)),
            })
        };
        let other = |_: u64| {
            rustls::Error::InvalidCertificate(CertificateError::Other(rustls::OtherError(
                Arc::new(io::Error::other("revoked by policy")),
            )))
        };
        let refusals: [fn(u64) -> rustls::Error; 2] = [expired_as_the_clock_ticks, other];
        for refusal in refusals {
            let p = Arc::new(rustls::crypto::ring::default_provider());
            let user = Arc::new(
                ClientConfig::builder_with_provider(p.clone())
                    .with_safe_default_protocol_versions()
                    .unwrap()
                    .dangerous()
                    .with_custom_certificate_verifier(Arc::new(Refuses(
                        p.clone(),
                        Default::default(),
                        refusal,
                    )))
                    .with_no_client_auth(),
            );
            let verifier = ChainOnly {
                rehearsal: user,
                provider: p,
            };
            let r = verifier.verify_server_cert(good.der(), &[], &name, &[], UnixTime::now());
            assert!(r.is_err(), "{:?}: the chain was refused", refusal(0));
        }
    }

    /// T47: `ssl(true)`'s roots as OpenSSL's default verify paths find them (Python's
    /// `create_default_context`): `SSL_CERT_FILE` replaces the system bundle, `SSL_CERT_DIR`
    /// the system directory, each only its own. Before, setting `SSL_CERT_DIR` (to add a
    /// private CA) dropped the system bundle too, and every public server became an unknown
    /// issuer. Paths are passed in: no environment is changed.
    #[test]
    fn t47_ssl_cert_dir_adds_to_the_system_bundle_and_ssl_cert_file_replaces_it() {
        let dir = std::env::temp_dir().join(format!("asyncio-tls-roots-{}", std::process::id()));
        let _ = std::fs::remove_dir_all(&dir);
        let (bundle_dir, extra_dir, system_dir) =
            (dir.join("bundle"), dir.join("extra"), dir.join("system"));
        for d in [&bundle_dir, &extra_dir, &system_dir] {
            std::fs::create_dir_all(d).unwrap();
        }
        let ca = |name: &str, at: &Path| {
            let key = rcgen::KeyPair::generate().unwrap();
            let mut p = rcgen::CertificateParams::new(Vec::<String>::new()).unwrap();
            p.distinguished_name.push(rcgen::DnType::CommonName, name);
            p.is_ca = rcgen::IsCa::Ca(rcgen::BasicConstraints::Unconstrained);
            std::fs::write(at, p.self_signed(&key).unwrap().pem()).unwrap();
        };
        let bundle = bundle_dir.join("ca-certificates.crt");
        ca("system bundle", &bundle);
        ca("private CA", &extra_dir.join("private.pem"));
        ca("system directory", &system_dir.join("system.pem"));
        let own = dir.join("own.pem");
        ca("own bundle", &own);
        let subjects = |r: RootCertStore| {
            let mut names: Vec<String> = r
                .roots
                .iter()
                .map(|a| String::from_utf8_lossy(a.subject.as_ref()).into_owned())
                .collect();
            names.sort();
            names
        };
        let has = |names: &[String], n: &str| names.iter().any(|s| s.ends_with(n));
        let extra = extra_dir.as_os_str();
        let system = system_dir.as_path();
        // SSL_CERT_DIR alone: its CA besides the system bundle.
        let r = subjects(roots_from(None, Some(extra), Some(&bundle), system).unwrap());
        assert!(has(&r, "system bundle") && has(&r, "private CA"), "{r:?}");
        assert_eq!(r.len(), 2, "{r:?}");
        // SSL_CERT_FILE alone: it replaces the bundle.
        let r = subjects(roots_from(Some(&own), None, Some(&bundle), system).unwrap());
        assert_eq!(r.len(), 1, "{r:?}");
        assert!(has(&r, "own bundle"), "{r:?}");
        // Both: the file and the directory.
        let r = subjects(roots_from(Some(&own), Some(extra), Some(&bundle), system).unwrap());
        assert!(has(&r, "own bundle") && has(&r, "private CA"), "{r:?}");
        assert_eq!(r.len(), 2, "{r:?}");
        // Neither: the bundle; without a bundle, the system directory.
        let r = subjects(roots_from(None, None, Some(&bundle), system).unwrap());
        assert!(has(&r, "system bundle") && r.len() == 1, "{r:?}");
        let r = subjects(roots_from(None, None, None, system).unwrap());
        assert!(has(&r, "system directory") && r.len() == 1, "{r:?}");
        // SSL_CERT_DIR replaces the system directory: nothing there and no bundle is an error.
        let empty = dir.join("empty");
        std::fs::create_dir_all(&empty).unwrap();
        let e = roots_from(None, Some(empty.as_os_str()), None, system).unwrap_err();
        assert_eq!(e.kind(), io::ErrorKind::NotFound);
        std::fs::remove_dir_all(&dir).unwrap();
    }

    #[test]
    fn t48_nameless_client_has_no_sni() {
        let c = Arc::new(
            ClientConfig::builder()
                .with_root_certificates(RootCertStore::empty())
                .with_no_client_auth(),
        );
        let s = client_setup(EnabledTls::Config(&c), ServerHostname::new("")).unwrap();
        assert!(!s.config.enable_sni);
        assert_eq!(s.server_hostname, None);
        let s = client_setup(EnabledTls::Config(&c), ServerHostname::new("example.com")).unwrap();
        assert!(s.config.enable_sni);
        assert_eq!(s.server_hostname.as_deref(), Some("example.com"));
    }
}
