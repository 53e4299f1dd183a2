//! Running the service: a request id and one log line per request,
//! Prometheus metrics, and the health endpoints an operator or a load
//! balancer asks (`/healthz`, `/readyz`, `/metrics`).
//!
//! The request id is the caller's `x-request-id` when it is a plausible one,
//! or a new random one; it is returned on the response, carried by every log
//! line written while the request runs, and shown in problem bodies and
//! error pages, so that a person's report finds its log. Routes are logged
//! and counted by their template (`/invite/{token}`), never their address,
//! so no token or id in a path reaches a log or a metric.

use std::sync::LazyLock;
use std::time::{Duration, Instant};

use axum::extract::{MatchedPath, Request, State};
use axum::http::{HeaderMap, HeaderValue, StatusCode, header};
use axum::middleware::Next;
use axum::response::{IntoResponse, Response};
use axum::{Json, Router, routing::get};
use prometheus_client::encoding::EncodeLabelSet;
use prometheus_client::metrics::counter::Counter;
use prometheus_client::metrics::family::Family;
use prometheus_client::metrics::gauge::Gauge;
use prometheus_client::metrics::histogram::{Histogram, exponential_buckets};
use prometheus_client::metrics::info::Info;
use prometheus_client::registry::Registry;
use serde::Serialize;
use tracing::Instrument;
use waymark_core::Timestamp;
use waymark_store::{Health, Schema, Store};

/// The header that carries a request's id.
pub const REQUEST_ID: &str = "x-request-id";

tokio::task_local! {
    static CURRENT: String;
}

/// The id of the request being served, when there is one.
pub fn request_id() -> Option<String> {
    CURRENT.try_with(Clone::clone).ok()
}

/// A caller's id is kept when it is 1 to 64 letters, digits, `-`, `_`, `.`
/// or `:` (what proxies and tracing systems send); anything else is
/// replaced, so a log line never carries what a caller typed.
fn plausible(id: &str) -> bool {
    (1..=64).contains(&id.len())
        && id
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || matches!(b, b'-' | b'_' | b'.' | b':'))
}

fn new_id() -> String {
    match waymark_store::random_token() {
        Ok(t) => t[..24].to_string(),
        // No randomness: the time still tells requests apart in a log.
        Err(_) => {
            let t = std::time::SystemTime::now()
                .duration_since(std::time::UNIX_EPOCH)
                .map_or(0, |d| d.as_nanos());
            format!("t{t:x}")
        }
    }
}

#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
struct RouteLabels {
    method: String,
    route: String,
}

#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
struct StatusLabels {
    method: String,
    route: String,
    status: u16,
}

#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
struct ViaLabels {
    via: &'static str,
}

#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
struct LimitLabels {
    limit: &'static str,
}

#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
struct OutcomeLabels {
    outcome: &'static str,
}

#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
struct StateLabels {
    state: &'static str,
}

/// Every metric the process keeps. One registry a process: the counters
/// are bumped wherever the event happens (a sign-in refused, a mail sent)
/// without threading a handle through every layer.
pub struct Metrics {
    registry: Registry,
    requests: Family<StatusLabels, Counter>,
    latency: Family<RouteLabels, Histogram>,
    sign_in_failures: Family<ViaLabels, Counter>,
    rate_limited: Family<LimitLabels, Counter>,
    mail_sent: Counter,
    mail_failed: Counter,
    mail_taken: Family<OutcomeLabels, Counter>,
    mailbox_failures: Gauge,
    pool: Family<StateLabels, Gauge>,
    pool_max: Gauge,
    outbox_unsent: Gauge,
    outbox_oldest: Gauge,
    schema_current: Gauge,
}

impl std::fmt::Debug for Metrics {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Metrics").finish_non_exhaustive()
    }
}

/// The process's metrics.
pub static METRICS: LazyLock<Metrics> = LazyLock::new(Metrics::new);

impl Metrics {
    fn new() -> Metrics {
        let mut registry = Registry::with_prefix("waymark");
        let requests = Family::<StatusLabels, Counter>::default();
        registry.register(
            "http_requests",
            "Requests answered, by route template and status",
            requests.clone(),
        );
        let latency = Family::<RouteLabels, Histogram>::new_with_constructor(|| {
            // 1 ms to about 16 s.
            Histogram::new(exponential_buckets(0.001, 2.0, 15))
        });
        registry.register(
            "http_request_duration_seconds",
            "Time to answer a request, by route template",
            latency.clone(),
        );
        let sign_in_failures = Family::<ViaLabels, Counter>::default();
        registry.register(
            "sign_in_failures",
            "Refused sign-ins: a wrong password on the form, or an unknown API token",
            sign_in_failures.clone(),
        );
        let rate_limited = Family::<LimitLabels, Counter>::default();
        registry.register(
            "rate_limited",
            "Requests refused by a rate limit",
            rate_limited.clone(),
        );
        // Every label an alert may name exists from the start, at 0, so a
        // rate() over it has a series before the first event.
        for via in ["form", "token"] {
            drop(sign_in_failures.get_or_create(&ViaLabels { via }));
        }
        for limit in [
            "sign_in",
            "password_change",
            "enquiry_form",
            "register_form",
        ] {
            drop(rate_limited.get_or_create(&LimitLabels { limit }));
        }
        let mail_sent = Counter::default();
        registry.register(
            "mail_sent",
            "Messages the outbox delivered",
            mail_sent.clone(),
        );
        let mail_failed = Counter::default();
        registry.register(
            "mail_failed",
            "Attempts to deliver a message that failed (each is retried)",
            mail_failed.clone(),
        );
        let mail_taken = Family::<OutcomeLabels, Counter>::default();
        registry.register(
            "mail_taken",
            "Messages this process took from the mailbox, by what they became",
            mail_taken.clone(),
        );
        for outcome in [
            "enquiry",
            "conversation",
            "attendance",
            "recorded",
            "duplicate",
        ] {
            drop(mail_taken.get_or_create(&OutcomeLabels { outcome }));
        }
        let mailbox_failures = Gauge::default();
        registry.register(
            "mailbox_failures",
            "Failed attempts in a row to read the mailbox, by this process's reader (0 when it reads)",
            mailbox_failures.clone(),
        );
        let pool = Family::<StateLabels, Gauge>::default();
        registry.register(
            "db_pool_connections",
            "Database connections open, in use or idle (read when scraped)",
            pool.clone(),
        );
        let pool_max = Gauge::default();
        registry.register(
            "db_pool_max_connections",
            "The most connections the pool opens",
            pool_max.clone(),
        );
        let outbox_unsent = Gauge::default();
        registry.register(
            "outbox_unsent_messages",
            "Messages not yet sent: due, or waiting to be tried again (read when scraped)",
            outbox_unsent.clone(),
        );
        let outbox_oldest = Gauge::default();
        registry.register(
            "outbox_oldest_unsent_age_seconds",
            "Age of the oldest message not yet sent; 0 when none is",
            outbox_oldest.clone(),
        );
        let schema_current = Gauge::default();
        registry.register(
            "schema_current",
            "1 when the database's schema is the one this binary was built for",
            schema_current.clone(),
        );
        registry.register(
            "build",
            "The running build",
            Info::new(vec![("version", env!("CARGO_PKG_VERSION"))]),
        );
        Metrics {
            registry,
            requests,
            latency,
            sign_in_failures,
            rate_limited,
            mail_sent,
            mail_failed,
            mail_taken,
            mailbox_failures,
            pool,
            pool_max,
            outbox_unsent,
            outbox_oldest,
            schema_current,
        }
    }

    /// A sign-in refused: `"form"` or `"token"`.
    pub fn sign_in_failed(&self, via: &'static str) {
        self.sign_in_failures
            .get_or_create(&ViaLabels { via })
            .inc();
    }

    /// A request refused by the limit named.
    pub fn rate_limited(&self, limit: &'static str) {
        self.rate_limited
            .get_or_create(&LimitLabels { limit })
            .inc();
    }

    pub fn mail_sent(&self) {
        self.mail_sent.inc();
    }

    pub fn mail_failed(&self) {
        self.mail_failed.inc();
    }

    /// A message taken from the mailbox became `outcome`.
    pub fn mail_taken(&self, outcome: &'static str) {
        self.mail_taken
            .get_or_create(&OutcomeLabels { outcome })
            .inc();
    }

    /// The mailbox reader's failures in a row.
    pub fn mailbox_failures(&self, n: i64) {
        self.mailbox_failures.set(n);
    }

    /// The text exposition, with the database's figures read now.
    async fn render(&self, store: &Store) -> String {
        let (size, idle, max) = store.pool_state();
        self.pool
            .get_or_create(&StateLabels { state: "in_use" })
            .set(i64::from(size) - idle as i64);
        self.pool
            .get_or_create(&StateLabels { state: "idle" })
            .set(idle as i64);
        self.pool_max.set(i64::from(max));
        let now = waymark_store::now();
        match store.health().await {
            Ok(h) => {
                self.outbox_unsent.set(h.outbox_unsent as i64);
                self.outbox_oldest
                    .set(h.oldest_unsent_since.map_or(0, |t| (now.0 - t.0).max(0)));
                self.schema_current
                    .set(i64::from(matches!(h.schema, Schema::Current { .. })));
            }
            Err(e) => tracing::warn!("metrics: cannot read the database's figures: {e}"),
        }
        let mut out = String::new();
        if let Err(e) = prometheus_client::encoding::text::encode(&mut out, &self.registry) {
            tracing::error!("metrics: cannot encode: {e}");
        }
        out
    }
}

/// What a request whose handler panicked is answered: nothing about the
/// bug, and the id to quote to an operator.
fn panicked(api: bool, id: &str) -> Response {
    let detail = format!("something went wrong on our side (request {id}); it is logged");
    if api {
        let body = serde_json::json!({
            "type": "about:blank", "title": "Internal error", "status": 500,
            "detail": detail, "code": "internal",
        });
        let mut r = (StatusCode::INTERNAL_SERVER_ERROR, Json(body)).into_response();
        r.headers_mut().insert(
            header::CONTENT_TYPE,
            HeaderValue::from_static("application/problem+json"),
        );
        r
    } else {
        (StatusCode::INTERNAL_SERVER_ERROR, detail).into_response()
    }
}

/// Gives every request an id, a span that carries it into every log line,
/// one log line when it is answered, and its count and latency.
pub async fn observe(mut req: Request, next: Next) -> Response {
    let id = req
        .headers()
        .get(REQUEST_ID)
        .and_then(|v| v.to_str().ok())
        .filter(|v| plausible(v))
        .map_or_else(new_id, str::to_string);
    if let Ok(v) = HeaderValue::from_str(&id) {
        req.headers_mut().insert(REQUEST_ID, v);
    }
    // Anyone may send any method: only the standard ones become labels
    // (and log fields), so a stream of invented ones cannot grow /metrics.
    let method = known_method(req.method()).to_string();
    let route = req
        .extensions()
        .get::<MatchedPath>()
        .map_or("(unrouted)", MatchedPath::as_str)
        .to_string();
    let span = tracing::info_span!("request", id = %id, method = %method, route = %route);
    let started = Instant::now();
    let api = req.uri().path().starts_with("/api/");
    // A handler that panics (a bug) answers 500 and is logged with its
    // request id, instead of cutting the connection without a word.
    let handled = std::panic::AssertUnwindSafe(next.run(req).instrument(span.clone()));
    let mut response = match CURRENT
        .scope(id.clone(), futures_util::FutureExt::catch_unwind(handled))
        .await
    {
        Ok(r) => r,
        Err(panic) => {
            let why = panic
                .downcast_ref::<&str>()
                .map(|s| (*s).to_string())
                .or_else(|| panic.downcast_ref::<String>().cloned())
                .unwrap_or_default();
            span.in_scope(|| tracing::error!("the request's handler panicked: {why}"));
            panicked(api, &id)
        }
    };
    let elapsed = started.elapsed();
    let status = response.status().as_u16();
    span.in_scope(|| {
        tracing::info!(status, ms = elapsed.as_secs_f64() * 1000.0, "answered");
    });
    METRICS
        .requests
        .get_or_create(&StatusLabels {
            method: method.clone(),
            route: route.clone(),
            status,
        })
        .inc();
    METRICS
        .latency
        .get_or_create(&RouteLabels { method, route })
        .observe(elapsed.as_secs_f64());
    if let Ok(v) = HeaderValue::from_str(&id) {
        response.headers_mut().insert(REQUEST_ID, v);
    }
    response
}

/// The client's address: the peer's, unless the peer is a trusted proxy.
/// Then `X-Forwarded-For` is read from the right (each proxy appends the
/// address it saw), skipping trusted proxies; the first address that is not
/// one is the client. A header that cannot be read, or that names only
/// proxies, leaves the last trusted hop, never an address a client typed.
pub fn client_ip(
    peer: std::net::IpAddr,
    forwarded_for: Option<&str>,
    trusted: &[ipnet::IpNet],
) -> std::net::IpAddr {
    // ::ffff:192.0.2.1 is 192.0.2.1 (a dual-stack listener sees the former).
    let peer = peer.to_canonical();
    let is_trusted = |ip: &std::net::IpAddr| trusted.iter().any(|n| n.contains(ip));
    if !is_trusted(&peer) {
        return peer;
    }
    let mut client = peer;
    for hop in forwarded_for.unwrap_or("").rsplit(',') {
        match hop
            .trim()
            .parse::<std::net::IpAddr>()
            .map(|ip| ip.to_canonical())
        {
            Ok(ip) if is_trusted(&ip) => client = ip,
            Ok(ip) => return ip,
            Err(_) => return client,
        }
    }
    client
}

/// Every `X-Forwarded-For` line of a request as one list, in order (RFC
/// 9110 joins repeated fields with commas; a proxy may add a line of its
/// own rather than extend the last). None when there is none, or one is not
/// text.
pub fn forwarded_for(headers: &axum::http::HeaderMap) -> Option<String> {
    let mut lines = Vec::new();
    for v in headers.get_all("x-forwarded-for") {
        lines.push(v.to_str().ok()?);
    }
    (!lines.is_empty()).then(|| lines.join(","))
}

/// The key a client's rate limits count under: its address, or for IPv6
/// its /64, since one household or host holds a whole /64.
pub fn limit_key(ip: std::net::IpAddr) -> String {
    match ip.to_canonical() {
        std::net::IpAddr::V6(v6) => match ipnet::Ipv6Net::new(v6, 64) {
            Ok(net) => net.trunc().to_string(),
            Err(_) => v6.to_string(),
        },
        v4 => v4.to_string(),
    }
}

/// A request's method as a label: one of HTTP's own, or `OTHER`.
fn known_method(m: &axum::http::Method) -> &'static str {
    use axum::http::Method;
    match *m {
        Method::GET => "GET",
        Method::HEAD => "HEAD",
        Method::POST => "POST",
        Method::PUT => "PUT",
        Method::PATCH => "PATCH",
        Method::DELETE => "DELETE",
        Method::OPTIONS => "OPTIONS",
        Method::CONNECT => "CONNECT",
        Method::TRACE => "TRACE",
        _ => "OTHER",
    }
}

/// Reads `--trusted-proxies`: addresses and CIDR blocks, comma-separated.
pub fn parse_trusted(list: &str) -> Result<Vec<ipnet::IpNet>, String> {
    networks(
        list,
        "trusts every address, so any client could choose its own: list the load balancers",
    )
}

/// The networks webhooks may deliver to although they are not public
/// (`--webhook-allow`): addresses or CIDR blocks, comma-separated, never
/// every address.
pub fn parse_networks(list: &str) -> Result<Vec<ipnet::IpNet>, String> {
    networks(list, "allows every address: name the receivers' networks")
}

fn networks(list: &str, everything: &str) -> Result<Vec<ipnet::IpNet>, String> {
    list.split(',')
        .map(str::trim)
        .filter(|s| !s.is_empty())
        .map(|s| {
            s.parse::<ipnet::IpNet>()
                .or_else(|_| s.parse::<std::net::IpAddr>().map(ipnet::IpNet::from))
                .map_err(|_| {
                    format!("“{s}” is not an address or a CIDR block (such as 10.0.0.0/8)")
                })
                .and_then(|net| {
                    if net.prefix_len() == 0 {
                        Err(format!("“{s}” {everything}"))
                    } else {
                        Ok(net)
                    }
                })
        })
        .collect()
}

/// What `/readyz` checks, and the answer.
#[derive(Debug, Clone)]
pub struct Readiness {
    pub store: Store,
    /// Whether mail is sent (without SMTP, mail waits for admins by design
    /// and its age says nothing of health).
    pub sends_mail: bool,
    /// How old the oldest due message may grow.
    pub outbox_max_age: Duration,
}

#[derive(Debug, Serialize, PartialEq)]
pub struct Check {
    pub ok: bool,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub detail: Option<String>,
}

#[derive(Debug, Serialize, PartialEq)]
pub struct Ready {
    pub ready: bool,
    pub database: Check,
    pub schema: Check,
    pub outbox: Check,
}

fn check(ok: bool, detail: impl Into<String>) -> Check {
    Check {
        ok,
        detail: Some(detail.into()).filter(|d: &String| !d.is_empty()),
    }
}

/// Reads what the database said as the three checks of `/readyz`.
pub fn judge(
    health: Result<Health, String>,
    now: Timestamp,
    sends_mail: bool,
    max_age: Duration,
) -> Ready {
    let h = match health {
        Ok(h) => h,
        Err(e) => {
            let unknown = || check(false, "not checked: the database did not answer");
            return Ready {
                ready: false,
                database: check(false, e),
                schema: unknown(),
                outbox: unknown(),
            };
        }
    };
    let schema = match h.schema {
        Schema::Current { version } => check(true, format!("version {version}")),
        Schema::Behind { database, binary } => check(
            false,
            format!("the database is at version {database}, this binary needs {binary}"),
        ),
        Schema::Ahead { database, binary } => check(
            false,
            format!("the database is at version {database}, newer than this binary's {binary}"),
        ),
        Schema::Failed { version } => check(
            false,
            format!("migration {version} started and did not finish"),
        ),
    };
    let age = h.oldest_unsent_since.map_or(0, |t| (now.0 - t.0).max(0));
    let outbox = if !sends_mail {
        check(
            true,
            format!("{} messages wait (no SMTP server is set)", h.outbox_unsent),
        )
    } else if age as u64 > max_age.as_secs() {
        check(
            false,
            format!(
                "{} messages are unsent; the oldest is {age} s old (the limit is {} s)",
                h.outbox_unsent,
                max_age.as_secs()
            ),
        )
    } else {
        check(true, format!("{} messages are unsent", h.outbox_unsent))
    };
    Ready {
        ready: schema.ok && outbox.ok,
        database: check(true, ""),
        schema,
        outbox,
    }
}

async fn healthz() -> Response {
    (
        [(header::CACHE_CONTROL, "no-store")],
        Json(serde_json::json!({ "status": "alive" })),
    )
        .into_response()
}

async fn readyz(State(r): State<Readiness>) -> Response {
    let now = waymark_store::now();
    let health = match tokio::time::timeout(Duration::from_secs(3), r.store.health()).await {
        Ok(Ok(h)) => Ok(h),
        Ok(Err(e)) => Err(e.to_string()),
        Err(_) => Err("the database did not answer within 3 seconds".to_string()),
    };
    let ready = judge(health, now, r.sends_mail, r.outbox_max_age);
    let status = if ready.ready {
        StatusCode::OK
    } else {
        StatusCode::SERVICE_UNAVAILABLE
    };
    (status, [(header::CACHE_CONTROL, "no-store")], Json(ready)).into_response()
}

/// `/healthz` and `/readyz`: unauthenticated, and saying nothing secret.
pub fn health_router(r: Readiness) -> Router {
    Router::new()
        .route("/healthz", get(healthz))
        .route("/readyz", get(readyz))
        .with_state(r)
}

#[derive(Clone)]
struct Scrape {
    store: Store,
    token: Option<String>,
}

/// The token of an `Authorization: Bearer …` header (the scheme's name is
/// case-insensitive, RFC 9110).
pub fn bearer(h: &HeaderMap) -> Option<&str> {
    let value = h.get(header::AUTHORIZATION)?.to_str().ok()?;
    let (scheme, token) = value.split_once(' ')?;
    scheme.eq_ignore_ascii_case("bearer").then(|| token.trim())
}

fn bearer_matches(h: &HeaderMap, token: &str) -> bool {
    let Some(sent) = bearer(h) else {
        return false;
    };
    // Compared in time that does not depend on where they differ.
    let (a, b) = (sent.as_bytes(), token.as_bytes());
    a.len() == b.len() && a.iter().zip(b).fold(0u8, |acc, (x, y)| acc | (x ^ y)) == 0
}

async fn metrics(State(s): State<Scrape>, headers: HeaderMap) -> Response {
    if let Some(token) = &s.token
        && !bearer_matches(&headers, token)
    {
        return (
            StatusCode::UNAUTHORIZED,
            [(header::WWW_AUTHENTICATE, "Bearer")],
            "metrics need the bearer token set by --metrics-token-file\n",
        )
            .into_response();
    }
    (
        [(
            header::CONTENT_TYPE,
            "application/openmetrics-text; version=1.0.0; charset=utf-8",
        )],
        METRICS.render(&s.store).await,
    )
        .into_response()
}

/// `/metrics`, behind `token` when one is given (the main listener), or
/// open (a listener of its own, reached only by the operator's network).
pub fn metrics_router(store: Store, token: Option<String>) -> Router {
    Router::new()
        .route("/metrics", get(metrics))
        .with_state(Scrape { store, token })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn health(schema: Schema, due: u64, since: Option<i64>) -> Result<Health, String> {
        Ok(Health {
            schema,
            outbox_unsent: due,
            oldest_unsent_since: since.map(Timestamp),
        })
    }

    #[test]
    fn readiness_names_the_check_that_failed() {
        let now = Timestamp(10_000);
        let limit = Duration::from_secs(600);
        let current = Schema::Current { version: 18 };
        assert!(judge(health(current, 0, None), now, true, limit).ready);
        let late = judge(health(current, 3, Some(9_000)), now, true, limit);
        assert!(!late.ready && !late.outbox.ok && late.schema.ok);
        assert!(late.outbox.detail.unwrap().contains("1000 s old"));
        // Without SMTP, mail waits by design.
        assert!(judge(health(current, 3, Some(1)), now, false, limit).ready);
        let ahead = Schema::Ahead {
            database: 19,
            binary: 18,
        };
        let r = judge(health(ahead, 0, None), now, true, limit);
        assert!(!r.ready && !r.schema.ok);
        let down = judge(Err("connection refused".into()), now, true, limit);
        assert!(!down.ready && !down.database.ok);
        assert_eq!(down.database.detail.as_deref(), Some("connection refused"));
    }

    #[test]
    fn only_plausible_request_ids_are_kept() {
        assert!(plausible("abc-123_x.y:z"));
        assert!(!plausible(""));
        assert!(!plausible("a b"));
        assert!(!plausible("x\r\nSet-Cookie: a=b"));
        assert!(!plausible("<script>"));
        assert!(!plausible(&"a".repeat(65)));
        assert_eq!(new_id().len(), 24);
        assert_ne!(new_id(), new_id());
    }

    #[test]
    fn only_trusted_proxies_are_believed() {
        let ip = |s: &str| s.parse::<std::net::IpAddr>().unwrap();
        let trusted = parse_trusted("10.0.0.0/8, 127.0.0.2").unwrap();
        // A client straight to us: its header is ignored.
        assert_eq!(
            client_ip(ip("203.0.113.9"), Some("1.2.3.4"), &trusted),
            ip("203.0.113.9")
        );
        // Through the balancer: the address it saw.
        assert_eq!(
            client_ip(ip("10.1.1.1"), Some("203.0.113.9"), &trusted),
            ip("203.0.113.9")
        );
        // A client's own X-Forwarded-For comes first, and is not believed.
        assert_eq!(
            client_ip(
                ip("127.0.0.2"),
                Some("1.2.3.4, 203.0.113.9, 10.0.0.7"),
                &trusted
            ),
            ip("203.0.113.9")
        );
        // Garbage or only proxies: the last trusted hop.
        assert_eq!(
            client_ip(ip("10.1.1.1"), Some("x, junk"), &trusted),
            ip("10.1.1.1")
        );
        assert_eq!(client_ip(ip("10.1.1.1"), None, &trusted), ip("10.1.1.1"));
        // A dual-stack listener's mapped address is the IPv4 one.
        assert_eq!(
            client_ip(ip("::ffff:10.1.1.1"), Some("203.0.113.9"), &trusted),
            ip("203.0.113.9")
        );
        assert_eq!(limit_key(ip("::ffff:7.7.7.7")), "7.7.7.7");
        assert_eq!(limit_key(ip("2001:db8:1:2:aaaa::1")), "2001:db8:1:2::/64");
        assert_eq!(limit_key(ip("2001:db8:1:2:bbbb::9")), "2001:db8:1:2::/64");
        let mut h = axum::http::HeaderMap::new();
        h.append("x-forwarded-for", "198.51.100.1".parse().unwrap());
        h.append("x-forwarded-for", "203.0.113.9".parse().unwrap());
        assert_eq!(
            forwarded_for(&h).as_deref(),
            Some("198.51.100.1,203.0.113.9")
        );
        assert_eq!(
            client_ip(ip("10.1.1.1"), forwarded_for(&h).as_deref(), &trusted),
            ip("203.0.113.9"),
            "a forged first line decides nothing"
        );
        assert_eq!(
            known_method(&axum::http::Method::from_bytes(b"XYZZY").unwrap()),
            "OTHER"
        );
        assert_eq!(
            client_ip(ip("10.1.1.1"), Some("10.2.2.2"), &trusted),
            ip("10.2.2.2")
        );
        // Nothing trusted: the peer, always.
        assert_eq!(
            client_ip(ip("10.1.1.1"), Some("1.2.3.4"), &[]),
            ip("10.1.1.1")
        );
        assert!(
            parse_trusted("10.0.0.0/33")
                .unwrap_err()
                .contains("10.0.0.0/33")
        );
        assert!(parse_trusted("").unwrap().is_empty());
        assert!(parse_trusted("10.0.0.5, 0.0.0.0/0").is_err());
        assert!(parse_trusted("::/0").is_err());
    }

    #[test]
    fn a_metrics_token_must_match_exactly() {
        let mut h = HeaderMap::new();
        assert!(!bearer_matches(&h, "secret"));
        h.insert(
            header::AUTHORIZATION,
            HeaderValue::from_static("Bearer secret"),
        );
        assert!(bearer_matches(&h, "secret"));
        assert!(!bearer_matches(&h, "secreT"));
        assert!(!bearer_matches(&h, "secret2"));
    }
}
