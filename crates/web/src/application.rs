//! The whole application, composed in one place: the workspace, the API
//! and the guide on one router with the health endpoints and request
//! observation (`ops`), and the tasks that run beside them (the mail
//! sender, the session sweeper, SQLite's checkpoints). The binary and the
//! tests build it the same way; `serve` stops it gracefully.

use std::future::Future;
use std::pin::Pin;
use std::sync::Arc;
use std::time::Duration;

use axum::Router;
use waymark_model::{Model, SourceFile};
use waymark_site::server::Guide;
use waymark_store::{Store, StoreError};

use crate::api::ApiState;
use crate::app::{AppState, PROGRAMME_MAILBOX, Views};

/// What the application needs from whoever runs it.
#[derive(Debug)]
pub struct Settings {
    /// The database, opened (and its files folder set) by the caller.
    pub store: Store,
    /// The current model's pages: new engagements pin them.
    pub pages: Arc<Vec<SourceFile>>,
    /// The guidance site, served under `/guide/`; `None` serves none.
    pub guide: Option<Arc<Guide>>,
    /// Where people reach this site (links in mail, secure cookies).
    pub public_url: String,
    /// The programme's address: mail comes from it.
    pub mail_from: String,
    /// `smtp://…` or `smtps://…`; without one, mail waits in the outbox.
    pub smtp_url: Option<String>,
    /// `/metrics` on the main listener, behind this bearer token; without
    /// one it is served only by `metrics_router` (its own listener).
    pub metrics_token: Option<String>,
    /// `/readyz` fails when the oldest due message is older than this.
    pub outbox_max_age: Duration,
    /// The load balancers in front: only their `X-Forwarded-For` is
    /// believed, for rate limits.
    pub trusted_proxies: Vec<ipnet::IpNet>,
    /// The programme's mailbox, read over IMAP while serving.
    pub imap: Option<crate::imap::Settings>,
    /// Networks webhooks may deliver to although they are not public.
    pub webhook_allow: Vec<ipnet::IpNet>,
    /// Whose addresses may register for the community (with subdomains).
    pub community_domains: Vec<String>,
    /// The OpenID providers people may sign in with, beside passwords.
    pub oidc: Vec<crate::oidc::Configured>,
}

impl Settings {
    /// The application over `store` and `pages`, reached at `public_url`,
    /// with mail from the programme's mailbox kept in the outbox.
    pub fn new(store: Store, pages: Arc<Vec<SourceFile>>, public_url: &str) -> Self {
        Settings {
            store,
            pages,
            guide: None,
            public_url: public_url.trim_end_matches('/').to_string(),
            mail_from: PROGRAMME_MAILBOX.to_string(),
            smtp_url: None,
            metrics_token: None,
            outbox_max_age: Duration::from_secs(DEFAULT_OUTBOX_MAX_AGE_SECS),
            trusted_proxies: Vec::new(),
            imap: None,
            webhook_allow: Vec::new(),
            community_domains: vec![waymark_core::community::DEFAULT_DOMAINS.to_string()],
            oidc: Vec::new(),
        }
    }
}

/// Why the application could not be built.
#[derive(Debug, thiserror::Error)]
pub enum BuildError {
    #[error(transparent)]
    Views(#[from] crate::app::ViewError),
    #[error(transparent)]
    Mail(#[from] crate::mail::MailError),
    #[error(transparent)]
    Store(#[from] StoreError),
    #[error(transparent)]
    Imap(#[from] crate::imap::ImapError),
}

/// How old the oldest due message may be before `/readyz` says not ready.
pub const DEFAULT_OUTBOX_MAX_AGE_SECS: u64 = 900;

type Task = Pin<Box<dyn Future<Output = ()> + Send>>;

/// The router and the tasks that must run beside it.
pub struct Application {
    router: Router,
    tasks: Vec<(&'static str, Task)>,
    /// Tasks that finish their work when told to stop (the mail sender).
    stopping: Vec<(&'static str, Task)>,
    stop: tokio::sync::watch::Sender<bool>,
    store: Store,
    /// The model the application was built with, shared by every part.
    pub model: Arc<Model>,
}

impl std::fmt::Debug for Application {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let tasks: Vec<&str> = self.tasks.iter().map(|(n, _)| *n).collect();
        f.debug_struct("Application")
            .field("tasks", &tasks)
            .finish_non_exhaustive()
    }
}

/// Makes the search index's guide pages exactly `pages` (at start, and
/// whenever the served guide is rebuilt from changed content).
pub async fn index_guide(
    store: &Store,
    pages: Vec<waymark_site::Searchable>,
) -> Result<(), StoreError> {
    let docs: Vec<waymark_store::Document> = pages
        .into_iter()
        .map(|p| waymark_store::Document {
            reference: p.href,
            title: p.title,
            body: p.text,
        })
        .collect();
    store
        .index_pages(waymark_core::search::Kind::Guide, &docs)
        .await
}

impl Application {
    /// Builds the model once, the workspace and API over it, and the tasks.
    pub async fn build(s: Settings) -> Result<Application, BuildError> {
        let model = Arc::new(waymark_model::build(s.pages.as_ref().clone()).model);
        // Search finds the guide's pages as the served guide has them (its
        // content folder's articles too), or as this model has them.
        let pages = match &s.guide {
            Some(g) => {
                let src = g.source();
                let mut pages = waymark_site::searchable(&src.model);
                pages.extend(waymark_site::searchable_articles(&src.articles));
                pages
            }
            None => waymark_site::searchable(&model),
        };
        index_guide(&s.store, pages).await?;
        // The community's stage categories follow the model's stages.
        s.store
            .ensure_categories(&waymark_core::community::defaults(&model))
            .await?;
        let mut tasks: Vec<(&'static str, Task)> = Vec::new();
        let mut stopping: Vec<(&'static str, Task)> = Vec::new();
        let (stop, stopped) = tokio::sync::watch::channel(false);
        // SQLite: WAL checkpoints in a task of their own, not in requests.
        if let Some(checkpoints) = s.store.checkpoint_in_background().await? {
            tasks.push(("checkpoints", Box::pin(checkpoints)));
        }
        // Mail: with SMTP configured, a sender delivers the outbox and
        // retries failures; without it, mail waits in the outbox for admins.
        if let Some(url) = &s.smtp_url {
            let sender = crate::mail::Sender::new(url, &s.mail_from)?;
            stopping.push((
                "mail",
                Box::pin(sender.run(s.store.clone(), stopped.clone())),
            ));
        }
        // The mailbox: one instance at a time reads it (a lease), and it
        // gives the lease up when told to stop.
        if let Some(imap) = s.imap.clone() {
            crate::imap::check(&imap)?;
            stopping.push((
                "imap",
                Box::pin(crate::imap::run(imap, s.store.clone(), stopped.clone())),
            ));
        }
        // Webhooks: every instance sends what is due (each delivery is
        // claimed by one), and stops between deliveries when told.
        let webhooks = crate::webhook::Sender::new(s.webhook_allow.clone(), &s.public_url);
        stopping.push((
            "webhooks",
            Box::pin(webhooks.run(s.store.clone(), stopped.clone())),
        ));
        // Expired sessions are refused when read; this only tidies the table.
        let sweeper = s.store.clone();
        tasks.push((
            "sessions",
            Box::pin(async move {
                let mut tick = tokio::time::interval(Duration::from_secs(600));
                loop {
                    tick.tick().await;
                    if let Err(e) = sweeper.delete_expired_sessions(waymark_store::now()).await {
                        tracing::warn!("sessions: cannot remove expired sessions: {e}");
                    }
                }
            }),
        ));
        // Daily digests, for those who asked for one: looked for every ten
        // minutes; each is written once a day whatever the servers.
        let (digest_store, digest_model, base) =
            (s.store.clone(), Arc::clone(&model), s.public_url.clone());
        tasks.push((
            "digests",
            Box::pin(async move {
                let mut tick = tokio::time::interval(Duration::from_secs(600));
                loop {
                    tick.tick().await;
                    let t = waymark_store::now();
                    if let Err(e) =
                        crate::app::write_digests(&digest_store, &digest_model, &base, t).await
                    {
                        tracing::warn!("digests: {e}");
                    }
                }
            }),
        ));
        // Retention: closed enquiries past the programme's period go, with
        // their mail, once a day (looked for hourly; each run recorded).
        let retention_store = s.store.clone();
        tasks.push((
            "retention",
            Box::pin(async move {
                let mut tick = tokio::time::interval(Duration::from_secs(3600));
                loop {
                    tick.tick().await;
                    if let Err(e) = crate::app::run_retention_daily(&retention_store).await {
                        tracing::warn!("retention: {e}");
                    }
                }
            }),
        ));
        // The community's notices become mail for those who watch, soon
        // after each answer; every server looks, each notice goes once.
        let (notice_store, base) = (s.store.clone(), s.public_url.clone());
        tasks.push((
            "community mail",
            Box::pin(async move {
                let mut tick = tokio::time::interval(Duration::from_secs(10));
                loop {
                    tick.tick().await;
                    if let Err(e) =
                        crate::app::send_notices(&notice_store, &base, waymark_store::now()).await
                    {
                        tracing::warn!("community mail: {e}");
                    }
                    // And mentions in engagements' discussions.
                    if let Err(e) =
                        crate::app::send_mentions(&notice_store, &base, waymark_store::now()).await
                    {
                        tracing::warn!("mentions: {e}");
                    }
                }
            }),
        ));
        // Other servers publish too: when what the guide shows from the
        // database changed, show it here as well.
        if let Some(guide) = s.guide.clone() {
            let (store, mut seen) = (s.store.clone(), s.store.publication_stamp().await?);
            tasks.push((
                "publications",
                Box::pin(async move {
                    let mut tick = tokio::time::interval(Duration::from_secs(5));
                    loop {
                        tick.tick().await;
                        let stamp = match store.publication_stamp().await {
                            Ok(stamp) if stamp != seen => stamp,
                            Ok(_) => continue,
                            Err(e) => {
                                tracing::warn!("guide: cannot read what is published: {e}");
                                continue;
                            }
                        };
                        match crate::app::published(&store, Some("")).await {
                            Ok(p) => {
                                let g = Arc::clone(&guide);
                                match tokio::task::spawn_blocking(move || g.publish(p, None)).await
                                {
                                    Ok(Ok(_)) => seen = stamp,
                                    Ok(Err(e)) => tracing::error!("guide: cannot render: {e}"),
                                    Err(e) => tracing::error!("guide: the render stopped: {e}"),
                                }
                            }
                            Err(e) => tracing::warn!("guide: cannot read what is published: {e}"),
                        }
                    }
                }),
            ));
        }
        let app = AppState {
            guide: s.guide.clone(),
            store: s.store.clone(),
            pages: Arc::clone(&s.pages),
            model: Arc::clone(&model),
            views: Views::new()?,
            public_url: s.public_url.clone(),
            mail_from: s.mail_from.clone(),
            smtp: s.smtp_url.is_some(),
            trusted_proxies: s.trusted_proxies.clone().into(),
            webhook_allow: Arc::new(s.webhook_allow.clone()),
            community_domains: Arc::new(s.community_domains.clone()),
            oidc: Arc::new(crate::oidc::Providers::new(s.oidc.clone())),
        };
        let readiness = crate::ops::Readiness {
            store: s.store.clone(),
            sends_mail: s.smtp_url.is_some(),
            outbox_max_age: s.outbox_max_age,
        };
        let store = s.store.clone();
        let mut api = ApiState::new(s.store, s.pages, Arc::clone(&model))
            .with_addresses(&s.public_url, &s.mail_from);
        api.actions.guide = s.guide.clone();
        api.actions.webhook_allow = Arc::new(s.webhook_allow.clone());
        let mut router = crate::api::router(Arc::new(api)).merge(crate::app::router(Arc::new(app)));
        if let Some(guide) = s.guide {
            router = router.merge(waymark_site::server::router(guide));
        }
        router = router.merge(crate::ops::health_router(readiness));
        if let Some(token) = s.metrics_token {
            router = router.merge(crate::ops::metrics_router(store.clone(), Some(token)));
        }
        // Outermost: every request gets its id, span, log line and metrics.
        let router = router.layer(axum::middleware::from_fn(crate::ops::observe));
        Ok(Application {
            router,
            tasks,
            stopping,
            stop,
            store,
            model,
        })
    }

    /// `/metrics` alone, for a listener of its own (`--metrics-bind`).
    pub fn metrics_router(&self) -> Router {
        crate::ops::metrics_router(self.store.clone(), None)
    }

    /// The composed router (for tests that call it without a socket).
    pub fn router(&self) -> Router {
        self.router.clone()
    }

    /// Starts the background tasks on the current runtime; they run until
    /// it stops. Only the first call starts them; the handles are of the
    /// tasks that stop when told.
    pub fn start_tasks(&mut self) -> Vec<(&'static str, tokio::task::JoinHandle<()>)> {
        for (name, task) in self.tasks.drain(..) {
            tracing::debug!("starting the {name} task");
            tokio::spawn(task);
        }
        self.stopping
            .drain(..)
            .map(|(name, task)| (name, tokio::spawn(task)))
            .collect()
    }

    /// [`Application::serve`] with another limit on how long a request's
    /// headers may take to arrive, and its body may pause (tests use a
    /// short one).
    pub async fn serve_with_header_timeout(
        mut self,
        listener: tokio::net::TcpListener,
        shutdown: impl Future<Output = ()> + Send + 'static,
        grace: Duration,
        header_timeout: Duration,
    ) -> std::io::Result<()> {
        let stoppable = self.start_tasks();
        serve_connections(listener, self.router, shutdown, grace, header_timeout).await;
        let _ = self.stop.send(true);
        for (name, handle) in stoppable {
            if tokio::time::timeout(grace, handle).await.is_err() {
                tracing::warn!("stopping: the {name} task did not finish in time");
            }
        }
        Ok(())
    }

    /// Starts the tasks and serves on `listener` until `shutdown` resolves.
    /// Then no connection is taken, requests in flight are finished (for at
    /// most `grace`), and the mail sender delivers the message it holds and
    /// hands the rest back to the outbox.
    pub async fn serve(
        self,
        listener: tokio::net::TcpListener,
        shutdown: impl Future<Output = ()> + Send + 'static,
        grace: Duration,
    ) -> std::io::Result<()> {
        self.serve_with_header_timeout(listener, shutdown, grace, HEADER_READ_TIMEOUT)
            .await
    }
}

/// How long a client may take to send a request's headers, and how long
/// its body may pause: past it, the connection is closed (a client sending
/// them a byte at a time, or never finishing them, would otherwise hold it
/// for ever).
pub const HEADER_READ_TIMEOUT: Duration = Duration::from_secs(30);

/// A request's body that fails once no part of it has arrived for `idle`
/// while it is being read: hyper limits only the headers' time, so a client
/// announcing a body (`Content-Length: 1000000`) and sending three bytes
/// held its connection for ever. The handler's extractor then refuses the
/// request, and the connection closes.
struct IdleBody {
    inner: hyper::body::Incoming,
    idle: Duration,
    /// Set when the body is first read, and again at each part.
    deadline: Option<std::pin::Pin<Box<tokio::time::Sleep>>>,
}

impl IdleBody {
    fn new(inner: hyper::body::Incoming, idle: Duration) -> Self {
        IdleBody {
            inner,
            idle,
            deadline: None,
        }
    }
}

impl hyper::body::Body for IdleBody {
    type Data = hyper::body::Bytes;
    type Error = Box<dyn std::error::Error + Send + Sync>;

    fn poll_frame(
        mut self: std::pin::Pin<&mut Self>,
        cx: &mut std::task::Context<'_>,
    ) -> std::task::Poll<Option<Result<hyper::body::Frame<Self::Data>, Self::Error>>> {
        use std::task::Poll;
        let this = &mut *self;
        let idle = this.idle;
        let deadline = this
            .deadline
            .get_or_insert_with(|| Box::pin(tokio::time::sleep(idle)));
        match std::pin::Pin::new(&mut this.inner).poll_frame(cx) {
            Poll::Ready(frame) => {
                deadline.as_mut().reset(tokio::time::Instant::now() + idle);
                Poll::Ready(frame.map(|f| f.map_err(Into::into)))
            }
            Poll::Pending => match deadline.as_mut().poll(cx) {
                Poll::Ready(()) => Poll::Ready(Some(Err(format!(
                    "no part of the request's body arrived for {} s",
                    idle.as_secs()
                )
                .into()))),
                Poll::Pending => Poll::Pending,
            },
        }
    }

    fn is_end_stream(&self) -> bool {
        self.inner.is_end_stream()
    }

    fn size_hint(&self) -> hyper::body::SizeHint {
        self.inner.size_hint()
    }
}

/// Serves `router` on `listener`, one HTTP/1 connection per task, each
/// request knowing its peer (`ConnectInfo`), until `shutdown` resolves.
/// Then the listener closes (new connections are refused), idle
/// connections close, and requests in flight have `grace` to finish.
async fn serve_connections(
    listener: tokio::net::TcpListener,
    router: Router,
    shutdown: impl Future<Output = ()> + Send + 'static,
    grace: Duration,
    header_timeout: Duration,
) {
    use hyper_util::rt::{TokioIo, TokioTimer};
    use tower::ServiceExt;
    let graceful = hyper_util::server::graceful::GracefulShutdown::new();
    let mut shutdown = std::pin::pin!(shutdown);
    loop {
        let (stream, peer) = tokio::select! {
            accepted = listener.accept() => match accepted {
                Ok(pair) => pair,
                // Out of file descriptors, or a connection reset before it
                // was taken: wait a moment rather than spin.
                Err(e) => {
                    tracing::warn!("accepting a connection: {e}");
                    tokio::time::sleep(Duration::from_millis(50)).await;
                    continue;
                }
            },
            () = &mut shutdown => break,
        };
        let router = router.clone();
        let service =
            hyper::service::service_fn(move |req: hyper::Request<hyper::body::Incoming>| {
                let mut req =
                    req.map(|body| axum::body::Body::new(IdleBody::new(body, header_timeout)));
                req.extensions_mut()
                    .insert(axum::extract::ConnectInfo(peer));
                router.clone().oneshot(req)
            });
        let mut http = hyper::server::conn::http1::Builder::new();
        http.timer(TokioTimer::new())
            .header_read_timeout(header_timeout);
        let connection = graceful.watch(http.serve_connection(TokioIo::new(stream), service));
        tokio::spawn(async move {
            if let Err(e) = connection.await {
                tracing::debug!("connection from {peer}: {e}");
            }
        });
    }
    drop(listener);
    tokio::select! {
        () = graceful.shutdown() => {}
        () = tokio::time::sleep(grace) => tracing::warn!(
            "stopping: connections still open after {} s (a request in flight, or a client still sending its headers) were closed",
            grace.as_secs()
        ),
    }
}
