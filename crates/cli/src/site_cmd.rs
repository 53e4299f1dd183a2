//! `waymark site build` and `waymark serve`: the guidance site, exported or live.

use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::process::ExitCode;
use std::sync::Arc;
use std::time::Duration;

use anyhow::Context;
use waymark_site::server::{self, Guide};
use waymark_site::{self as site, Published};

use waymark_web::{Application, Settings};

use crate::origin::Origin;

/// Files that could not be read as pages are missing from the site; say so.
/// (Broken links only show as plain text; `waymark model lint` lists those.)
fn warn_missing(loaded: &waymark_model::Loaded) {
    let missing = loaded
        .findings
        .iter()
        .filter(|f| f.severity == waymark_model::Severity::Error)
        .count();
    if missing > 0 {
        eprintln!(
            "note: {missing} file(s) could not be read as pages and are not on the site; `waymark model lint` says why"
        );
    }
}

pub fn build(
    origin: &Origin,
    templates: Option<&Path>,
    out: &Path,
    public_url: Option<&str>,
    db: &crate::db_cmd::Database,
) -> anyhow::Result<ExitCode> {
    let loaded = origin.load()?;
    warn_missing(&loaded);
    let dates = site::last_modified(&loaded.model);
    // What the programme published (articles, releases) comes from the
    // database, when there is one; an export links to the workspace only
    // when it knows where that is.
    let published = match db.existing() {
        Some(db) => crate::db_cmd::block_on(async {
            let store = db.open().await?;
            let p = waymark_web::app::published(&store, public_url).await?;
            store.close().await;
            anyhow::Ok(p)
        })?,
        None => {
            eprintln!(
                "note: no database at {}, so the site has the model's pages only (no articles or blueprint releases)",
                db.url
            );
            public_url.map_or_else(Published::default, waymark_web::app::guide_links)
        }
    };
    let published = published.with_files(&origin.articles(&loaded.model));
    let written = site::export(&loaded.model, &dates, templates, &published, out)?;
    eprintln!("wrote {written} files to {}", out.display());
    // As with lint: the process ends here, so skip freeing the model.
    std::mem::forget(loaded);
    Ok(ExitCode::SUCCESS)
}

/// Where mail goes: an SMTP server, or (without one) only the outbox.
#[derive(Debug, Clone)]
pub struct MailSettings {
    pub smtp_url: Option<String>,
    pub from: String,
    /// The programme's mailbox, read while serving.
    pub imap: Option<waymark_web::imap::Settings>,
}

/// How the mailbox is read, besides where it is and the password.
#[derive(Debug, Clone)]
pub struct ImapOptions {
    pub folder: String,
    pub poll: u64,
    pub lease: u64,
    pub ca_file: Option<PathBuf>,
    pub insecure: bool,
    pub from: String,
}

/// The IMAP reader's settings, checked: the URL, and the password from
/// `WAYMARK_IMAP_PASSWORD` or a file (never a flag, so it is never in a
/// process list). Without a URL there is no reader.
pub fn imap_settings(
    url: Option<&str>,
    password_file: Option<&Path>,
    o: ImapOptions,
) -> anyhow::Result<Option<waymark_web::imap::Settings>> {
    let Some(url) = url else {
        if password_file.is_some() {
            anyhow::bail!(
                "imap_password_file is set but imap_url is not: give the mailbox to read"
            );
        }
        return Ok(None);
    };
    let target = waymark_web::imap::parse_url(url, o.insecure)?;
    let from_env = std::env::var("WAYMARK_IMAP_PASSWORD")
        .ok()
        .filter(|p| !p.is_empty());
    let password = match (from_env, password_file) {
        (Some(_), Some(_)) => anyhow::bail!(
            "the IMAP password is given twice (WAYMARK_IMAP_PASSWORD and imap_password_file): keep one"
        ),
        (Some(p), None) => p,
        (None, Some(path)) => crate::config::read_secret(path, "the IMAP password")?,
        (None, None) => anyhow::bail!(waymark_web::imap::ImapError::NoPassword),
    };
    if o.folder.trim().is_empty()
        || !o.folder.is_ascii()
        || o.folder
            .chars()
            .any(|c| c.is_control() || "\"\\*%".contains(c))
    {
        anyhow::bail!("imap_folder “{}” is not a usable folder name", o.folder);
    }
    if o.folder.eq_ignore_ascii_case(&target.mailbox) {
        anyhow::bail!(
            "imap_folder is the mailbox being read ({}): taken mail must go elsewhere",
            target.mailbox
        );
    }
    let settings = waymark_web::imap::Settings {
        target,
        password,
        done_folder: o.folder,
        poll: Duration::from_secs(o.poll),
        lease: Duration::from_secs(o.lease),
        ca_file: o.ca_file,
        from: o.from,
    };
    waymark_web::imap::check(&settings)?;
    Ok(Some(settings))
}

/// How the service is run: metrics, readiness, stopping.
#[derive(Debug, Clone)]
pub struct OpsSettings {
    pub metrics_bind: Option<SocketAddr>,
    pub metrics_token_file: Option<PathBuf>,
    pub outbox_max_age: Duration,
    pub shutdown_grace: Duration,
    pub trusted_proxies: Vec<ipnet::IpNet>,
    pub webhook_allow: Vec<ipnet::IpNet>,
    pub community_domains: Vec<String>,
    pub sign_in_providers: Vec<waymark_web::oidc::Configured>,
}

/// A bearer token read from a file: one line of at least 16 characters,
/// with no spaces or control characters (a client could never send them).
pub(crate) fn secret_file(path: &Path, what: &str) -> anyhow::Result<String> {
    let secret = crate::config::read_secret(path, what)?;
    if secret.chars().any(|c| c.is_whitespace() || c.is_control()) {
        anyhow::bail!(
            "the {what} in {} holds spaces or control characters: make one of letters and digits (openssl rand -hex 32)",
            path.display()
        );
    }
    if secret.chars().count() < 16 || !secret.is_ascii() {
        anyhow::bail!(
            "the {what} in {} is not at least 16 plain characters: make a long random one (openssl rand -hex 32)",
            path.display()
        );
    }
    Ok(secret)
}

/// Resolves on SIGTERM (what service managers send) or Ctrl-C.
async fn stop_signal() {
    #[cfg(unix)]
    {
        use tokio::signal::unix::{SignalKind, signal};
        match signal(SignalKind::terminate()) {
            Ok(mut term) => {
                tokio::select! {
                    _ = term.recv() => {}
                    _ = tokio::signal::ctrl_c() => {}
                }
            }
            Err(_) => {
                let _ = tokio::signal::ctrl_c().await;
            }
        }
    }
    #[cfg(not(unix))]
    {
        let _ = tokio::signal::ctrl_c().await;
    }
}

#[allow(clippy::too_many_arguments)]
pub fn serve(
    origin: Origin,
    templates: Option<PathBuf>,
    bind: SocketAddr,
    db: &crate::db_cmd::Database,
    public_url: Option<String>,
    mail: MailSettings,
    ops: OpsSettings,
) -> anyhow::Result<ExitCode> {
    if ops.metrics_bind == Some(bind) {
        anyhow::bail!(
            "metrics_bind and bind are both {bind}: give the metrics a port of their own, or use metrics_token_file"
        );
    }
    let metrics_token = ops
        .metrics_token_file
        .as_deref()
        .map(|p| secret_file(p, "metrics token"))
        .transpose()?;
    let db = db.clone();
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
        .context("cannot start the async runtime")?;
    let result = runtime.block_on(async move {
        let mut watched = origin.watched();
        watched.extend(templates.iter().cloned());
        let store = db.open().await?;
        // Served beside the workspace, every guide page links to it, and
        // shows what the programme published (articles, releases).
        let published = waymark_web::app::published(&store, Some("")).await?;
        let builder_origin = origin.clone();
        let builder_templates = templates.clone();
        // Each load of the model hands its pages to search.
        let (pages_tx, mut pages_rx) = tokio::sync::mpsc::unbounded_channel();
        let guide = tokio::task::spawn_blocking(move || {
            Guide::new(
                Box::new(move || {
                    let loaded = builder_origin.load().map_err(|e| crate::said(&e))?;
                    warn_missing(&loaded);
                    let articles = builder_origin.articles(&loaded.model);
                    let mut pages = site::searchable(&loaded.model);
                    pages.extend(site::searchable_articles(&articles));
                    let _ = pages_tx.send(pages);
                    Ok(server::Source {
                        dates: site::last_modified(&loaded.model),
                        model: loaded.model,
                        templates: builder_templates.clone(),
                        articles,
                    })
                }),
                published,
            )
        })
        .await
        .context("the first build of the site stopped")?
        .map_err(|e| anyhow::anyhow!(e))?;
        let guide = Arc::new(guide);
        server::watch(Arc::clone(&guide), watched, Duration::from_secs(2));
        let index_store = store.clone();
        tokio::spawn(async move {
            while let Some(pages) = pages_rx.recv().await {
                if let Err(e) = waymark_web::index_guide(&index_store, pages).await {
                    eprintln!("search: cannot index the guide's pages: {e}");
                }
            }
        });
        let pages = Arc::new(origin.pages()?);
        let listener = tokio::net::TcpListener::bind(bind)
            .await
            .with_context(|| format!("cannot listen on {bind}"))?;
        let addr = listener.local_addr().unwrap_or(bind);
        let public_url = public_url.unwrap_or_else(|| format!("http://{addr}"));
        if mail.smtp_url.is_none() {
            eprintln!(
                "mail: no --smtp-url, so mail waits in the outbox (admins read it at {public_url}/outbox)"
            );
        }
        first_run(&store, &db.url, &public_url).await?;
        let mut settings = Settings::new(store, pages, &public_url);
        settings.guide = Some(guide);
        settings.mail_from = mail.from;
        settings.smtp_url = mail.smtp_url;
        if let Some(imap) = &mail.imap {
            eprintln!("mail: reading {} (taken mail goes to {})", imap.target.label(), imap.done_folder);
        }
        settings.imap = mail.imap;
        settings.metrics_token = metrics_token;
        settings.outbox_max_age = ops.outbox_max_age;
        settings.trusted_proxies = ops.trusted_proxies;
        settings.webhook_allow = ops.webhook_allow;
        settings.community_domains = ops.community_domains;
        for p in &ops.sign_in_providers {
            eprintln!("sign-in: {} ({})", p.rules.name, p.rules.issuer);
        }
        settings.oidc = ops.sign_in_providers;
        let app = Application::build(settings).await?;
        if let Some(addr) = ops.metrics_bind {
            let metrics = tokio::net::TcpListener::bind(addr)
                .await
                .with_context(|| format!("cannot listen for metrics on {addr}"))?;
            let router = app.metrics_router();
            tokio::spawn(async move {
                if let Err(e) = axum::serve(metrics, router).await {
                    tracing::error!("metrics: the listener stopped: {e}");
                }
            });
            eprintln!("metrics: http://{addr}/metrics");
        }
        eprintln!("Waymark is serving the workspace at {public_url}/engagements, the guidance site at {public_url}/guide/ and the API at {public_url}/api/v1 (Ctrl-C stops it)");
        let grace = ops.shutdown_grace;
        app.serve(
            listener,
            async move {
                stop_signal().await;
                tracing::info!(
                    "stopping: no new connections; requests in flight have {} s to finish",
                    grace.as_secs()
                );
            },
            grace,
        )
        .await
        .context("the server stopped")?;
        tracing::info!("stopped");
        Ok(ExitCode::SUCCESS)
    });
    // Tasks still running (the guide's watcher, the sweepers) are not
    // waited for: what had to finish has finished.
    runtime.shutdown_timeout(Duration::from_secs(1));
    result
}

/// How long the first run's setup link works.
const SETUP_LINK_HOURS: i64 = 24;

/// While nobody has an account, prints a one-time link that creates the
/// first programme admin in the browser, and the command that does the same.
/// Printed to the terminal, never logged: the link is a secret.
async fn first_run(
    store: &waymark_store::Store,
    database_url: &str,
    public_url: &str,
) -> anyhow::Result<()> {
    let t = waymark_store::now();
    let expires = waymark_core::Timestamp(t.0 + SETUP_LINK_HOURS * 3600);
    let Some(token) = store.create_setup_link(t, expires).await? else {
        return Ok(());
    };
    // The terminal may be a journal: a password in the URL is never printed.
    let shown = waymark_store::redact(database_url);
    let (db, note) = if database_url == crate::DEFAULT_DATABASE_URL {
        (String::new(), "")
    } else if shown != database_url {
        (
            " --config FILE".to_string(),
            "\n(FILE: this server's configuration, or the same WAYMARK_DATABASE_URL; its password is not shown)\n",
        )
    } else {
        let quoted = format!(" --database-url '{}'", shown.replace('\'', "'\\''"));
        (quoted, "")
    };
    eprintln!(
        "\nNobody has an account yet. Create the first programme admin in your browser\n\
         (this link works once, for {SETUP_LINK_HOURS} hours):\n\n    {public_url}/setup/{token}\n\n\
         or in a terminal:\n\n    waymark{db} user add --name 'Your Name' --email you@agency.gov.au --role admin --password-stdin\n{note}"
    );
    Ok(())
}
