//! Delivering webhooks: the sender claims due deliveries from the store,
//! signs each as Standard Webhooks says (`webhook-id`, `webhook-timestamp`,
//! `webhook-signature`: `v1,` and the base64 HMAC-SHA256 of
//! `id.timestamp.body` under the secret's bytes), and POSTs it.
//!
//! Every address the target's name resolves to is judged by
//! `waymark_core::webhook::refused_address` before anything is sent, and the
//! connection goes to the address judged (a second lookup could answer
//! differently). Redirects are not followed. Each attempt is recorded; the
//! core decides on retries and on stopping the subscription.

use std::net::SocketAddr;
use std::sync::Arc;
use std::time::{Duration, Instant};

use base64::Engine as _;
use hmac::{Hmac, Mac};
use http_body_util::Full;
use hyper::body::Bytes;
use waymark_core::Timestamp;
use waymark_core::webhook::Subscription;
use waymark_store::{AfterAttempt, Due, Mail, Store};

/// How long one attempt may take, from lookup to status line.
const ATTEMPT_TIMEOUT: Duration = Duration::from_secs(10);
/// How many deliveries are sent at once.
const AT_ONCE: usize = 16;
/// How many are claimed in one pass: two rounds at most, so a pass of dead
/// targets ends in 20 s, well inside the store's two-minute lease (no other
/// instance takes a delivery this one is still sending).
const PER_PASS: u32 = 2 * AT_ONCE as u32;

/// `v1,` and the signature of `id.timestamp.payload` under `secret`
/// (`whsec_` and base64), as Standard Webhooks defines it.
pub fn sign(secret: &str, msg_id: &str, timestamp: i64, payload: &str) -> Option<String> {
    let key = base64::engine::general_purpose::STANDARD
        .decode(secret.strip_prefix("whsec_").unwrap_or(secret))
        .ok()?;
    let mut mac = Hmac::<sha2::Sha256>::new_from_slice(&key).ok()?;
    mac.update(format!("{msg_id}.{timestamp}.").as_bytes());
    mac.update(payload.as_bytes());
    Some(format!(
        "v1,{}",
        base64::engine::general_purpose::STANDARD.encode(mac.finalize().into_bytes())
    ))
}

/// The sender: where deliveries may go, and how TLS is checked.
#[derive(Clone)]
pub struct Sender {
    /// Networks the operator allows although they are not public.
    pub allowed: Arc<Vec<ipnet::IpNet>>,
    /// The site's address, for the links in mail.
    pub public_url: String,
    tls: tokio_rustls::TlsConnector,
}

impl std::fmt::Debug for Sender {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Sender")
            .field("allowed", &self.allowed)
            .finish_non_exhaustive()
    }
}

impl Sender {
    pub fn new(allowed: Vec<ipnet::IpNet>, public_url: &str) -> Self {
        Sender {
            allowed: Arc::new(allowed),
            public_url: public_url.trim_end_matches('/').to_string(),
            tls: crate::fetch::tls(),
        }
    }

    /// Sends every delivery due at `now` once, at most `AT_ONCE` at a
    /// time; returns how many were attempted.
    pub async fn deliver_due(&self, store: &Store, now: Timestamp) -> usize {
        let due = match store.claim_webhooks(now, PER_PASS).await {
            Ok(d) => d,
            Err(e) => {
                tracing::warn!("webhooks: cannot read the queue: {e}");
                return 0;
            }
        };
        let n = due.len();
        use futures_util::StreamExt as _;
        futures_util::stream::iter(due)
            .for_each_concurrent(AT_ONCE, |d| async move {
                let started = Instant::now();
                let outcome = self.attempt(&d, now).await;
                let millis = started.elapsed().as_millis().min(i64::MAX as u128) as i64;
                let mail = |s: &Subscription, to: &str| self.disabled_mail(s, to);
                // The target has answered: recording it must not fail on a
                // moment's contention (another instance writing the same
                // SQLite file), or the delivery would be sent again. The
                // record is one transaction, so trying again is safe.
                let mut recorded = store
                    .record_webhook_attempt(d.id, outcome.clone(), millis, now, &mail)
                    .await;
                for wait in [50, 200, 500, 1000, 2000] {
                    if recorded.is_ok() {
                        break;
                    }
                    tokio::time::sleep(Duration::from_millis(wait)).await;
                    recorded = store
                        .record_webhook_attempt(d.id, outcome.clone(), millis, now, &mail)
                        .await;
                }
                match recorded {
                    Ok(AfterAttempt::Failed { disabled: true }) => tracing::warn!(
                        "webhooks: subscription {} stopped after repeated failures",
                        d.subscription
                    ),
                    Ok(_) => {}
                    Err(e) => tracing::error!("webhooks: cannot record delivery {}: {e}", d.id),
                }
            })
            .await;
        n
    }

    /// Runs until told to stop: sends what is due every second. Told to
    /// stop in the middle of sending, it stops at once: what it had claimed
    /// is due again when its lease ends, so a delivery may arrive twice
    /// (receivers tell by its `webhook-id`) but is never lost.
    pub async fn run(self, store: Store, mut stop: tokio::sync::watch::Receiver<bool>) {
        loop {
            if *stop.borrow() {
                return;
            }
            let sent = tokio::select! {
                n = self.deliver_due(&store, waymark_store::now()) => n,
                _ = stop.changed() => return,
            };
            if sent > 0 {
                continue;
            }
            tokio::select! {
                _ = stop.changed() => return,
                () = tokio::time::sleep(Duration::from_secs(1)) => {}
            }
        }
    }

    fn disabled_mail(&self, s: &Subscription, to: &str) -> Mail {
        Mail {
            kind: "webhook-disabled".into(),
            to: to.to_string(),
            subject: "Waymark stopped a webhook subscription".into(),
            body: format!(
                "Waymark could not deliver to your webhook subscription for more than a day, so it has stopped sending to it.\n\n\
                 Address: {}\nWhy: {}\n\n\
                 Nothing is lost: each event is still in its engagement's history. When the address works again, start the subscription and resend what it missed:\n{}/settings/webhooks/{}\n",
                s.url,
                s.disabled_reason.as_deref().unwrap_or("repeated failures"),
                self.public_url,
                s.id
            ),
            auto_submitted: Some("auto-generated"),
            ..Mail::default()
        }
    }

    /// One attempt: the status the target answered, or why there was none.
    async fn attempt(&self, d: &Due, now: Timestamp) -> Result<u16, String> {
        match tokio::time::timeout(ATTEMPT_TIMEOUT, self.post(d, now)).await {
            Ok(r) => r,
            Err(_) => Err(format!(
                "no answer within {} seconds",
                ATTEMPT_TIMEOUT.as_secs()
            )),
        }
    }

    async fn post(&self, d: &Due, now: Timestamp) -> Result<u16, String> {
        let url = url::Url::parse(&d.url).map_err(|e| format!("not an address: {e}"))?;
        let host = url.host_str().ok_or("the address has no host")?.to_string();
        let addr = self.resolve(&url, &host).await?;
        let signature = sign(&d.secret, &d.msg_id, now.0, &d.payload)
            .ok_or("the subscription's secret is damaged; make a new subscription")?;
        let (path, authority) = crate::fetch::target(&url);
        let request = hyper::Request::post(path)
            .header(hyper::header::HOST, authority)
            .header(hyper::header::CONTENT_TYPE, "application/json")
            .header(hyper::header::USER_AGENT, "Waymark-Webhooks/1")
            .header("webhook-id", &d.msg_id)
            .header("webhook-timestamp", now.0.to_string())
            .header("webhook-signature", signature)
            .body(Full::new(Bytes::from(d.payload.clone())))
            .map_err(|e| format!("cannot make the request: {e}"))?;
        // A little of the answer is read so the connection ends cleanly;
        // what it says is not kept.
        crate::fetch::send(&self.tls, &url, addr, request, 64 * 1024)
            .await
            .map(|a| a.status)
    }

    /// The address to connect to: every address the name has must be one
    /// deliveries may go to.
    async fn resolve(&self, url: &url::Url, host: &str) -> Result<SocketAddr, String> {
        let addrs = crate::fetch::resolve(url).await?;
        for a in &addrs {
            if let Some(why) = waymark_core::webhook::refused_address(a.ip(), &self.allowed) {
                return Err(format!(
                    "refused: {host} is at {}, {why}; deliveries go only to public addresses",
                    a.ip()
                ));
            }
        }
        addrs
            .first()
            .copied()
            .ok_or_else(|| format!("{host} has no address"))
    }
}
