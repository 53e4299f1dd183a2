//! Reading the programme's mailbox over IMAP while serving.
//!
//! One instance at a time reads a mailbox: it holds a lease in the database
//! (`Store::hold_mailbox`), renewed on every round, and another instance
//! takes over once it runs out (the holder died). Each round selects the
//! mailbox, takes every message in it through [`crate::inbound::take`] (the
//! same code as `intake import`), then flags it and moves it to the done
//! folder, so the mailbox shows what Waymark has taken. A message is taken
//! before it is moved: a crash between the two leaves it in the inbox, and
//! the next round finds it taken (by UIDVALIDITY and UID, or by Message-ID
//! after UIDVALIDITY changed) and only moves it. Between rounds the reader
//! waits in IDLE where the server offers it, otherwise polls.
//!
//! Connections that fail are retried with growing waits (1 s doubling to 5
//! minutes), logged, and written to the lease's row for the status page
//! (`/mailbox`). TLS is rustls; STARTTLS and plain IMAP are refused off
//! loopback unless the operator forces them.

use std::net::IpAddr;
use std::path::PathBuf;
use std::sync::Arc;
use std::time::Duration;

use async_imap::Session;
use futures_util::TryStreamExt;
use tokio::io::{AsyncRead, AsyncWrite};
use tokio::net::TcpStream;
use tokio::sync::watch;
use waymark_core::mailbox::MAX_MESSAGE_BYTES;
use waymark_store::{Lease, MailboxKey, Store, Taken, now};

/// How the connection is protected.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Security {
    /// TLS from the first byte (`imaps://`, port 993).
    Tls,
    /// Plain, then STARTTLS (`imap://`, port 143).
    StartTls,
    /// No TLS at all (`imap://…?tls=none`): loopback only unless forced.
    Plain,
}

/// Where the mailbox is and how to reach it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Target {
    pub security: Security,
    pub host: String,
    pub port: u16,
    pub user: String,
    pub mailbox: String,
}

impl Target {
    /// The mailbox as the status page and the lease name it: no password.
    pub fn label(&self) -> String {
        let scheme = match self.security {
            Security::Tls => "imaps",
            _ => "imap",
        };
        format!(
            "{scheme}://{}@{}:{}/{}",
            self.user,
            self.host.to_ascii_lowercase(),
            self.port,
            self.mailbox
        )
    }

    fn loopback(&self) -> bool {
        self.host.eq_ignore_ascii_case("localhost")
            || self
                .host
                .trim_start_matches('[')
                .trim_end_matches(']')
                .parse::<IpAddr>()
                .is_ok_and(|ip| ip.is_loopback())
    }
}

/// Why the mailbox cannot be read.
#[derive(Debug, thiserror::Error)]
pub enum ImapError {
    #[error("--imap-url is not usable: {0}")]
    Url(String),
    #[error("the IMAP password is missing: set WAYMARK_IMAP_PASSWORD or --imap-password-file")]
    NoPassword,
    #[error("cannot read the CA file {path}: {reason}")]
    Ca { path: String, reason: String },
    #[error("cannot connect to {0}")]
    Connect(String),
    #[error("TLS with {host} failed: {reason}")]
    Tls { host: String, reason: String },
    #[error("the server refused the sign-in: {0}")]
    Login(String),
    #[error("IMAP: {0}")]
    Protocol(String),
    #[error("the database: {0}")]
    Store(#[from] waymark_store::StoreError),
    #[error("another instance reads this mailbox now")]
    LeaseLost,
    #[error("the server did not answer within {0} s ({1})")]
    Timeout(u64, &'static str),
}

/// `f`, or a timeout: a server that stops answering mid-session must not
/// hang the reader (nor keep renewing a lease it cannot use).
async fn within<T>(
    secs: u64,
    doing: &'static str,
    f: impl std::future::Future<Output = Result<T, ImapError>>,
) -> Result<T, ImapError> {
    tokio::time::timeout(Duration::from_secs(secs), f)
        .await
        .map_err(|_| ImapError::Timeout(secs, doing))?
}

impl From<async_imap::error::Error> for ImapError {
    fn from(e: async_imap::error::Error) -> Self {
        ImapError::Protocol(e.to_string())
    }
}

/// `imaps://user@host[:993]/MAILBOX` or `imap://user@host[:143]/MAILBOX`
/// (STARTTLS; `?tls=none` for none). Plain and STARTTLS need a loopback
/// host unless `force` says otherwise. The mailbox defaults to INBOX.
pub fn parse_url(raw: &str, force: bool) -> Result<Target, ImapError> {
    let bad = |m: &str| ImapError::Url(m.to_string());
    let url = url::Url::parse(raw).map_err(|e| ImapError::Url(e.to_string()))?;
    if url.password().is_some() {
        return Err(bad(
            "it carries a password; give it in WAYMARK_IMAP_PASSWORD or --imap-password-file instead, so it never appears in a process list",
        ));
    }
    if url.fragment().is_some() {
        return Err(bad("it has a #fragment, which means nothing here"));
    }
    if url.query_pairs().filter(|(k, _)| k == "tls").count() > 1 {
        return Err(bad("tls= is given more than once"));
    }
    let tls_param = url
        .query_pairs()
        .find(|(k, _)| k == "tls")
        .map(|(_, v)| v.to_string());
    if let Some((k, _)) = url.query_pairs().find(|(k, _)| k != "tls") {
        return Err(ImapError::Url(format!(
            "unknown setting “{k}” (only tls=none)"
        )));
    }
    let security = match (url.scheme(), tls_param.as_deref()) {
        ("imaps", None) => Security::Tls,
        ("imap", None | Some("starttls")) => Security::StartTls,
        ("imap", Some("none")) => Security::Plain,
        ("imaps", Some(_)) => return Err(bad("imaps:// is always TLS; tls= is for imap://")),
        ("imap", Some(other)) => {
            return Err(ImapError::Url(format!(
                "tls={other} is not known (starttls or none)"
            )));
        }
        (other, _) => {
            return Err(ImapError::Url(format!(
                "the scheme “{other}” is not imaps:// or imap://"
            )));
        }
    };
    let host = url
        .host_str()
        .filter(|h| !h.is_empty())
        .ok_or_else(|| bad("it has no host"))?
        .to_string();
    let user = percent_decode(url.username())
        .ok_or_else(|| bad("the user name is not valid percent-encoding"))?;
    if user.is_empty() {
        return Err(bad("it has no user name (imaps://user@host/INBOX)"));
    }
    let path = url.path().strip_prefix('/').unwrap_or(url.path());
    if path.ends_with('/') {
        return Err(bad(
            "the mailbox name ends with /; name the folder itself (INBOX)",
        ));
    }
    let mailbox = percent_decode(path).unwrap_or_default();
    if !mailbox.is_ascii() {
        return Err(bad(
            "the mailbox name is not plain ASCII (its modified UTF-7 form is not worked out here)",
        ));
    }
    let mailbox = if mailbox.is_empty() {
        "INBOX".to_string()
    } else {
        mailbox
    };
    if mailbox
        .chars()
        .any(|c| c.is_control() || "\"\\*%".contains(c))
    {
        return Err(bad(
            "the mailbox name has quotes, backslashes, wildcards or control characters",
        ));
    }
    let port = url.port().unwrap_or(match security {
        Security::Tls => 993,
        _ => 143,
    });
    let target = Target {
        security,
        host,
        port,
        user,
        mailbox,
    };
    if security != Security::Tls && !force && !target.loopback() {
        return Err(ImapError::Url(format!(
            "{} is not on this machine, so its mail and password would cross the network {}; use imaps://, or --imap-insecure to force it",
            target.host,
            if security == Security::Plain {
                "unencrypted"
            } else {
                "before STARTTLS (which an attacker can strip)"
            }
        )));
    }
    Ok(target)
}

fn percent_decode(s: &str) -> Option<String> {
    let bytes = s.as_bytes();
    let mut out = Vec::with_capacity(bytes.len());
    let mut i = 0;
    while i < bytes.len() {
        if bytes[i] == b'%' {
            let hex = std::str::from_utf8(bytes.get(i + 1..i + 3)?).ok()?;
            out.push(u8::from_str_radix(hex, 16).ok()?);
            i += 3;
        } else {
            out.push(bytes[i]);
            i += 1;
        }
    }
    String::from_utf8(out).ok()
}

/// Everything the reader needs.
#[derive(Debug, Clone)]
pub struct Settings {
    pub target: Target,
    pub password: String,
    /// Where taken messages go (created if missing).
    pub done_folder: String,
    /// How often to look when the server has no IDLE.
    pub poll: Duration,
    /// How long a lease lasts without renewal.
    pub lease: Duration,
    /// A PEM file of certificates to trust besides the built-in roots.
    pub ca_file: Option<PathBuf>,
    /// The programme's address: acknowledgements come from it.
    pub from: String,
}

/// The stream under a session: TCP, or TLS over TCP.
trait Io: AsyncRead + AsyncWrite + Unpin + Send + std::fmt::Debug {}
impl<T: AsyncRead + AsyncWrite + Unpin + Send + std::fmt::Debug> Io for T {}
type Stream = Box<dyn Io>;

fn tls_connector(ca: Option<&PathBuf>) -> Result<tokio_rustls::TlsConnector, ImapError> {
    use rustls_pki_types::pem::PemObject;
    let mut roots = rustls::RootCertStore {
        roots: webpki_roots::TLS_SERVER_ROOTS.to_vec(),
    };
    if let Some(path) = ca {
        let ca_err = |reason: String| ImapError::Ca {
            path: path.display().to_string(),
            reason,
        };
        let certs = rustls_pki_types::CertificateDer::pem_file_iter(path)
            .map_err(|e| ca_err(e.to_string()))?;
        let mut n = 0;
        for c in certs {
            let c = c.map_err(|e| ca_err(e.to_string()))?;
            roots.add(c).map_err(|e| ca_err(e.to_string()))?;
            n += 1;
        }
        if n == 0 {
            return Err(ca_err("it holds no PEM certificate".into()));
        }
    }
    let config = rustls::ClientConfig::builder_with_provider(Arc::new(
        rustls::crypto::ring::default_provider(),
    ))
    .with_safe_default_protocol_versions()
    .map_err(|e| ImapError::Tls {
        host: String::new(),
        reason: e.to_string(),
    })?
    .with_root_certificates(roots)
    .with_no_client_auth();
    Ok(tokio_rustls::TlsConnector::from(Arc::new(config)))
}

/// Checks settings before anything starts: the URL, and the CA file.
pub fn check(s: &Settings) -> Result<(), ImapError> {
    tls_connector(s.ca_file.as_ref()).map(|_| ())
}

async fn wrap_tls(tcp: TcpStream, host: &str, ca: Option<&PathBuf>) -> Result<Stream, ImapError> {
    let name =
        rustls_pki_types::ServerName::try_from(host.to_string()).map_err(|e| ImapError::Tls {
            host: host.into(),
            reason: e.to_string(),
        })?;
    let tls = tls_connector(ca)?
        .connect(name, tcp)
        .await
        .map_err(|e| ImapError::Tls {
            host: host.into(),
            reason: e.to_string(),
        })?;
    Ok(Box::new(tls))
}

/// Connects and signs in.
async fn connect(s: &Settings) -> Result<Session<Stream>, ImapError> {
    let t = &s.target;
    let tcp = tokio::time::timeout(
        Duration::from_secs(20),
        TcpStream::connect((t.host.as_str(), t.port)),
    )
    .await
    .map_err(|_| ImapError::Connect(format!("{}:{} (timed out)", t.host, t.port)))?
    .map_err(|e| ImapError::Connect(format!("{}:{} ({e})", t.host, t.port)))?;
    let stream: Stream = match t.security {
        Security::Tls => wrap_tls(tcp, &t.host, s.ca_file.as_ref()).await?,
        Security::Plain => Box::new(tcp),
        Security::StartTls => {
            let mut client = async_imap::Client::new(tcp);
            client
                .read_response()
                .await
                .map_err(|e| ImapError::Protocol(e.to_string()))?
                .ok_or_else(|| ImapError::Protocol("the server closed at once".into()))?;
            client.run_command_and_check_ok("STARTTLS", None).await?;
            wrap_tls(client.into_inner(), &t.host, s.ca_file.as_ref()).await?
        }
    };
    let mut client = async_imap::Client::new(stream);
    if t.security != Security::StartTls {
        client
            .read_response()
            .await
            .map_err(|e| ImapError::Protocol(e.to_string()))?
            .ok_or_else(|| ImapError::Protocol("the server closed at once".into()))?;
    }
    client
        .login(&t.user, &s.password)
        .await
        .map_err(|(e, _)| ImapError::Login(e.to_string()))
}

/// Quotes a mailbox name for LIST's pattern (async-imap quotes the other
/// commands' names itself).
fn quoted(name: &str) -> String {
    format!("\"{name}\"")
}

/// A reader's state, written to the lease row for the status page.
struct Reporter<'a> {
    store: &'a Store,
    lease: &'a Lease,
}

impl Reporter<'_> {
    async fn say(&self, state: &str, detail: &str, failures: i64) {
        if let Err(e) = self
            .store
            .report_mailbox(self.lease, state, detail, failures, now())
            .await
        {
            tracing::warn!("imap: cannot write the mailbox's status: {e}");
        }
    }
}

/// Runs until `stop` says so.
pub async fn run(s: Settings, store: Store, mut stop: watch::Receiver<bool>) {
    let holder = format!(
        "{}:{}:{}",
        hostname(),
        std::process::id(),
        waymark_store::random_token()
            .map(|t| t[..8].to_string())
            .unwrap_or_default()
    );
    let lease = Lease {
        mailbox: s.target.label(),
        holder,
    };
    let report = Reporter {
        store: &store,
        lease: &lease,
    };
    let ttl = s.lease.as_secs().max(2) as i64;
    let mut failures: i64 = 0;
    let mut tries = Tries::new();
    let mut waiting_logged = false;
    tracing::info!("imap: reading {}", lease.mailbox);
    loop {
        if *stop.borrow() {
            break;
        }
        match store.hold_mailbox(&lease, ttl, now()).await {
            Ok(true) => waiting_logged = false,
            Ok(false) => {
                if !waiting_logged {
                    tracing::info!(
                        "imap: another instance reads {}; this one waits to take over",
                        lease.mailbox
                    );
                    waiting_logged = true;
                }
                if pause(&mut stop, Duration::from_secs((ttl / 2).max(1) as u64)).await {
                    break;
                }
                continue;
            }
            Err(e) => {
                tracing::warn!("imap: cannot read the mailbox lease: {e}");
                if pause(&mut stop, Duration::from_secs(5)).await {
                    break;
                }
                continue;
            }
        }
        match session(
            &s,
            &store,
            &lease,
            &report,
            &mut stop,
            &mut failures,
            &mut tries,
        )
        .await
        {
            Ok(()) => break,
            Err(ImapError::LeaseLost) => {
                tracing::warn!(
                    "imap: the lease on {} passed to another instance",
                    lease.mailbox
                );
                continue;
            }
            Err(e) => {
                failures += 1;
                crate::ops::METRICS.mailbox_failures(failures);
                let wait =
                    Duration::from_secs((1u64 << (failures - 1).clamp(0, 9) as u32).min(300));
                tracing::warn!(
                    "imap: {} failed ({failures} in a row), retrying in {} s: {e}",
                    lease.mailbox,
                    wait.as_secs()
                );
                report
                    .say(
                        "failing",
                        &format!("{e}; retrying in {} s", wait.as_secs()),
                        failures,
                    )
                    .await;
                // Keep the lease while waiting, so the status stays ours.
                let _ = store
                    .hold_mailbox(&lease, ttl + wait.as_secs() as i64, now())
                    .await;
                if pause(&mut stop, wait).await {
                    break;
                }
            }
        }
    }
    if let Err(e) = store.release_mailbox(&lease, now()).await {
        tracing::warn!("imap: cannot release the mailbox lease: {e}");
    }
    tracing::info!("imap: stopped");
}

/// Waits `d` or until told to stop; true when told to stop.
async fn pause(stop: &mut watch::Receiver<bool>, d: Duration) -> bool {
    let told = tokio::select! {
        () = tokio::time::sleep(d) => false,
        _ = stop.wait_for(|s| *s) => true,
    };
    told || *stop.borrow()
}

fn hostname() -> String {
    std::fs::read_to_string("/etc/hostname")
        .map(|h| h.trim().to_string())
        .ok()
        .filter(|h| !h.is_empty())
        .unwrap_or_else(|| "waymark".into())
}

/// One connection: rounds of taking, with IDLE or polling between, until
/// stopped (Ok) or something fails (Err).
async fn session(
    s: &Settings,
    store: &Store,
    lease: &Lease,
    report: &Reporter<'_>,
    stop: &mut watch::Receiver<bool>,
    failures: &mut i64,
    tries: &mut Tries,
) -> Result<(), ImapError> {
    report.say("connecting", "", *failures).await;
    let mut session = within(60, "connecting and signing in", connect(s)).await?;
    let caps = within(60, "CAPABILITY", async {
        Ok(session.capabilities().await?)
    })
    .await?;
    let idle = caps.has_str("IDLE");
    let moves = caps.has_str("MOVE");
    let uidplus = caps.has_str("UIDPLUS");
    drop(caps);
    within(
        60,
        "finding the done folder",
        ensure_folder(&mut session, &s.done_folder),
    )
    .await?;
    let ttl = s.lease.as_secs().max(2) as i64;
    let mut taken_total = 0usize;
    loop {
        if *stop.borrow() {
            let _ = session.logout().await;
            return Ok(());
        }
        if !store.hold_mailbox(lease, ttl, now()).await? {
            let _ = session.logout().await;
            return Err(ImapError::LeaseLost);
        }
        let mailbox = within(60, "SELECT", async {
            Ok(session.select(&s.target.mailbox).await?)
        })
        .await?;
        let validity = mailbox
            .uid_validity
            .ok_or_else(|| ImapError::Protocol("the server gave no UIDVALIDITY".into()))?;
        // At most 500 messages a round, each fetched and moved.
        let n = within(
            900,
            "taking messages",
            sweep(
                &mut session,
                s,
                store,
                lease,
                validity,
                moves,
                uidplus,
                stop,
                tries,
            ),
        )
        .await?;
        taken_total += n;
        // A whole round worked: the backoff starts again from its start.
        *failures = 0;
        crate::ops::METRICS.mailbox_failures(0);
        let stuck: Vec<u32> = tries
            .iter()
            .filter(|((v, _), n)| *v == validity && **n >= MAX_TRIES)
            .map(|((_, uid), _)| *uid)
            .collect();
        let how = if idle { "waiting (IDLE)" } else { "polling" };
        let skipped = if stuck.is_empty() {
            String::new()
        } else {
            format!(
                "; {} message(s) the server would not give after {MAX_TRIES} tries are left in the mailbox (UIDs {:?})",
                stuck.len(),
                stuck
            )
        };
        report
            .say(
                "connected",
                &format!("{how}; {taken_total} message(s) taken since connecting{skipped}"),
                0,
            )
            .await;
        if *stop.borrow() {
            let _ = session.logout().await;
            return Ok(());
        }
        // Wait for news: at most half a lease, so the lease is renewed.
        let wait =
            Duration::from_secs((ttl / 2).max(1) as u64).min(s.poll.max(Duration::from_secs(1)));
        if idle {
            let mut handle = session.idle();
            within(60, "IDLE", async { Ok(handle.init().await?) }).await?;
            let (news, interrupt) =
                handle.wait_with_timeout(Duration::from_secs((ttl / 2).max(1) as u64));
            let stopped = tokio::select! {
                r = news => { r?; false }
                _ = stop.wait_for(|s| *s) => true,
            };
            drop(interrupt);
            session = within(60, "DONE", async { Ok(handle.done().await?) }).await?;
            if stopped {
                let _ = session.logout().await;
                return Ok(());
            }
        } else if pause(stop, wait).await {
            let _ = session.logout().await;
            return Ok(());
        }
    }
}

/// Creates the done folder if the server has no folder of that name.
async fn ensure_folder(session: &mut Session<Stream>, folder: &str) -> Result<(), ImapError> {
    let names: Vec<_> = session
        .list(None, Some(&quoted(folder)))
        .await?
        .try_collect()
        .await?;
    if names.is_empty() {
        session.create(folder).await?;
        tracing::info!("imap: created the folder {folder} for taken mail");
    }
    Ok(())
}

/// How often each message (UIDVALIDITY, UID) was begun and not finished:
/// one the server cannot give (a damaged file) would otherwise stop every
/// later message for ever.
type Tries = std::collections::HashMap<(u32, u32), u32>;

/// A message begun this many times and never finished is left alone (and
/// named on the status page) until the process restarts.
const MAX_TRIES: u32 = 3;

/// Takes every message in the selected mailbox; returns how many were new.
#[allow(clippy::too_many_arguments)]
async fn sweep(
    session: &mut Session<Stream>,
    s: &Settings,
    store: &Store,
    lease: &Lease,
    validity: u32,
    moves: bool,
    uidplus: bool,
    stop: &watch::Receiver<bool>,
    tries: &mut Tries,
) -> Result<usize, ImapError> {
    let ttl = s.lease.as_secs().max(2) as i64;
    let mut uids: Vec<u32> = session.uid_search("ALL").await?.into_iter().collect();
    uids.sort_unstable();
    let mut taken = 0;
    for uid in uids.into_iter().take(500) {
        if *stop.borrow() {
            break;
        }
        if tries.get(&(validity, uid)).is_some_and(|n| *n >= MAX_TRIES) {
            continue;
        }
        // A long round keeps the lease, or stops when it passed on.
        if !store.hold_mailbox(lease, ttl, now()).await? {
            return Err(ImapError::LeaseLost);
        }
        let key = MailboxKey {
            mailbox: lease.mailbox.clone(),
            uidvalidity: validity,
            uid,
        };
        if !store.mail_taken(&key).await? {
            let sizes: Vec<_> = session
                .uid_fetch(uid.to_string(), "RFC822.SIZE")
                .await?
                .try_collect()
                .await?;
            let Some(size) = sizes
                .iter()
                .find(|f| f.uid == Some(uid))
                .and_then(|f| f.size)
            else {
                continue; // gone since the search
            };
            let incoming = if u64::from(size) > MAX_MESSAGE_BYTES {
                let heads: Vec<_> = session
                    .uid_fetch(uid.to_string(), "BODY.PEEK[HEADER]")
                    .await?
                    .try_collect()
                    .await?;
                let header = heads
                    .iter()
                    .find(|f| f.uid == Some(uid))
                    .and_then(|f| f.header())
                    .unwrap_or_default()
                    .to_vec();
                crate::inbound::too_large(&header, u64::from(size), &lease.mailbox, Some(key))
            } else {
                // Counted from here: a message whose fetch keeps failing
                // (the connection dropping under it) is left after a few.
                *tries.entry((validity, uid)).or_insert(0) += 1;
                let bodies: Vec<_> = session
                    .uid_fetch(uid.to_string(), "BODY.PEEK[]")
                    .await?
                    .try_collect()
                    .await?;
                let Some(raw) = bodies
                    .iter()
                    .find(|f| f.uid == Some(uid))
                    .and_then(|f| f.body())
                else {
                    // The server would not give it (dovecot then drops the
                    // connection): leave it, and start again without it.
                    tries.insert((validity, uid), MAX_TRIES);
                    return Err(ImapError::Protocol(format!(
                        "the server would not give message UID {uid}; it is left in the mailbox"
                    )));
                };
                crate::inbound::read(raw, &lease.mailbox, Some(key))
            };
            let outcome = crate::inbound::take(store, &incoming, true, &s.from).await?;
            crate::ops::METRICS.mail_taken(match &outcome {
                Taken::Enquiry { .. } => "enquiry",
                Taken::Conversation { .. } => "conversation",
                Taken::Attendance { .. } => "attendance",
                Taken::Recorded { .. } => "recorded",
                Taken::Duplicate => "duplicate",
            });
            match &outcome {
                Taken::Duplicate => {}
                Taken::Recorded { reason, .. } => {
                    taken += 1;
                    tracing::info!("imap: message {uid} kept as a record: {reason}");
                }
                other => {
                    taken += 1;
                    tracing::info!("imap: message {uid} taken: {other:?}");
                }
            }
        }
        // Taken (now or before): flag it and move it out of the inbox.
        let _: Vec<_> = session
            .uid_store(uid.to_string(), "+FLAGS.SILENT (\\Seen \\Flagged)")
            .await?
            .try_collect()
            .await?;
        if moves {
            session.uid_mv(uid.to_string(), &s.done_folder).await?;
        } else {
            session.uid_copy(uid.to_string(), &s.done_folder).await?;
            let _: Vec<_> = session
                .uid_store(uid.to_string(), "+FLAGS.SILENT (\\Deleted)")
                .await?
                .try_collect()
                .await?;
            if uidplus {
                let _: Vec<_> = session
                    .uid_expunge(uid.to_string())
                    .await?
                    .try_collect()
                    .await?;
            } else {
                let _: Vec<_> = session.expunge().await?.try_collect().await?;
            }
        }
        tries.remove(&(validity, uid));
    }
    Ok(taken)
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]
    use super::*;

    #[tokio::test]
    async fn a_server_that_stops_answering_times_out() {
        // A listener that accepts and never says a word.
        let silent = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let port = silent.local_addr().unwrap().port();
        let s = Settings {
            target: parse_url(&format!("imap://u@127.0.0.1:{port}/INBOX?tls=none"), false).unwrap(),
            password: "pw".into(),
            done_folder: "Waymark".into(),
            poll: Duration::from_secs(1),
            lease: Duration::from_secs(2),
            ca_file: None,
            from: "pu@dta.gov.au".into(),
        };
        let e = within(1, "connecting and signing in", connect(&s))
            .await
            .unwrap_err();
        assert!(matches!(e, ImapError::Timeout(1, _)), "{e}");
        assert!(e.to_string().contains("did not answer within 1 s"), "{e}");
        drop(silent);
    }

    #[test]
    fn urls_say_how_to_connect_and_refuse_what_would_leak() {
        let t = parse_url("imaps://inbox@mail.example.gov.au/INBOX", false).unwrap();
        assert_eq!(
            (
                t.security,
                t.host.as_str(),
                t.port,
                t.user.as_str(),
                t.mailbox.as_str()
            ),
            (Security::Tls, "mail.example.gov.au", 993, "inbox", "INBOX")
        );
        let t = parse_url("imap://pu%40dta.gov.au@127.0.0.1:1143?tls=none", false).unwrap();
        assert_eq!(
            (t.security, t.port, t.user.as_str(), t.mailbox.as_str()),
            (Security::Plain, 1143, "pu@dta.gov.au", "INBOX")
        );
        assert_eq!(
            parse_url("imap://u@localhost/Support", false)
                .unwrap()
                .security,
            Security::StartTls
        );
        for (bad, says) in [
            ("imaps://u:secret@host/INBOX", "password"),
            ("imap://u@mail.example.gov.au/INBOX", "not on this machine"),
            ("imap://u@mail.example.gov.au/INBOX?tls=none", "unencrypted"),
            ("pop3://u@host/", "scheme"),
            ("imaps://host/INBOX", "user name"),
            ("imaps://u@host/IN%22BOX", "quotes"),
            ("imap://u@localhost/?tls=maybe", "tls=maybe"),
            ("imaps://u@host/?tls=none", "always TLS"),
            ("imaps://u@host/?x=1", "unknown setting"),
            (
                "imap://u@localhost/INBOX?tls=none&tls=starttls",
                "more than once",
            ),
            ("imaps://u@host/INBOX#x", "fragment"),
            ("imaps://u@host/INBOX/", "ends with /"),
            ("imaps://u@host/Anfragen%C3%BC", "ASCII"),
        ] {
            let e = parse_url(bad, false).unwrap_err().to_string();
            assert!(e.contains(says), "{bad}: {e}");
        }
        // Forced: the operator's choice, off loopback.
        assert!(parse_url("imap://u@mail.example.gov.au/INBOX?tls=none", true).is_ok());
        // The label never holds a password.
        assert_eq!(
            parse_url("imaps://inbox@host/INBOX", false)
                .unwrap()
                .label(),
            "imaps://inbox@host:993/INBOX"
        );
    }
}
