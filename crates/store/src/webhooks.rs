//! Webhooks: subscriptions, their queue and its log. A delivery is queued
//! in the same transaction as the event it carries (`queue_engagement`,
//! `queue_enquiry`), so an acknowledged write always has its deliveries and
//! a rolled-back one never does. A sender in the web server claims due
//! deliveries under a lease (two instances never send one twice), and
//! records each attempt; the core decides who receives what, the retries,
//! and when a subscription is stopped.

use base64::Engine as _;
use serde::Serialize;
use sqlx::{Any, Row, Transaction};
use waymark_core::webhook::{self, About, NewSubscription, Subscription};
use waymark_core::{Actor, DomainError, Engagement, Event, PersonId, Timestamp};

use crate::{Mail, Store, StoreError, finish, json, unjson};

/// A claimed delivery is left alone by other senders for this long.
const LEASE: i64 = 120;
/// At most this many of one subscription's deliveries are claimed at once.
const PER_SUBSCRIPTION: usize = 2;
/// Resend is refused while a subscription has this many waiting.
const WAITING_MAX: i64 = 50;

/// One delivery of one event to one subscription, with its attempts.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[cfg_attr(feature = "openapi", schema(as = WebhookDelivery))]
pub struct Delivery {
    pub id: i64,
    pub subscription: i64,
    /// The `webhook-id` header: the same on every attempt and resend.
    pub msg_id: String,
    pub event_type: String,
    /// The JSON body sent.
    pub payload: String,
    pub created_at: Timestamp,
    pub attempts: i64,
    /// When it will be tried (again); none once delivered or failed.
    pub next_attempt_at: Option<Timestamp>,
    pub delivered_at: Option<Timestamp>,
    /// Every attempt failed.
    pub failed_at: Option<Timestamp>,
    pub last_status: Option<i64>,
    pub last_error: Option<String>,
    /// The delivery this one sends again.
    pub resent_from: Option<i64>,
    pub log: Vec<Attempt>,
}

/// One attempt: the status the target answered, or why there was none.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[cfg_attr(feature = "openapi", schema(as = WebhookAttempt))]
pub struct Attempt {
    pub at: Timestamp,
    pub status: Option<i64>,
    pub error: Option<String>,
    pub millis: i64,
}

/// A claimed delivery, with what the sender needs.
#[derive(Debug, Clone)]
pub struct Due {
    pub id: i64,
    pub subscription: i64,
    pub url: String,
    pub secret: String,
    pub msg_id: String,
    pub payload: String,
}

/// What an attempt led to.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum AfterAttempt {
    Delivered,
    /// Tried again at this time.
    Retry(Timestamp),
    /// Every attempt failed; the subscription was stopped too when this is
    /// true (and its owner told).
    Failed {
        disabled: bool,
    },
}

const SUB_COLUMNS: &str = "id, owner_id, url, events, description, created_at, enabled, disabled_at, disabled_reason, last_success_at";
const DELIVERY_COLUMNS: &str = "id, subscription_id, msg_id, event_type, payload, created_at, attempts, next_attempt_at, delivered_at, failed_at, last_status, last_error, resent_from";

fn subscription(r: &sqlx::any::AnyRow) -> Result<Subscription, StoreError> {
    let ts = |c: &str| -> Result<Option<Timestamp>, StoreError> {
        Ok(r.try_get::<Option<i64>, _>(c)?.map(Timestamp))
    };
    Ok(Subscription {
        id: r.try_get("id")?,
        owner: PersonId(r.try_get("owner_id")?),
        url: r.try_get("url")?,
        events: types(&r.try_get::<String, _>("events")?),
        description: r.try_get("description")?,
        created_at: Timestamp(r.try_get("created_at")?),
        enabled: r.try_get::<i64, _>("enabled")? != 0,
        disabled_at: ts("disabled_at")?,
        disabled_reason: r.try_get("disabled_reason")?,
        last_success_at: ts("last_success_at")?,
    })
}

fn types(stored: &str) -> Vec<String> {
    stored.split_whitespace().map(str::to_string).collect()
}

fn delivery(r: &sqlx::any::AnyRow) -> Result<Delivery, StoreError> {
    let ts = |c: &str| -> Result<Option<Timestamp>, StoreError> {
        Ok(r.try_get::<Option<i64>, _>(c)?.map(Timestamp))
    };
    Ok(Delivery {
        id: r.try_get("id")?,
        subscription: r.try_get("subscription_id")?,
        msg_id: r.try_get("msg_id")?,
        event_type: r.try_get("event_type")?,
        payload: r.try_get("payload")?,
        created_at: Timestamp(r.try_get("created_at")?),
        attempts: r.try_get("attempts")?,
        next_attempt_at: ts("next_attempt_at")?,
        delivered_at: ts("delivered_at")?,
        failed_at: ts("failed_at")?,
        last_status: r.try_get("last_status")?,
        last_error: r.try_get("last_error")?,
        resent_from: r.try_get("resent_from")?,
        log: Vec::new(),
    })
}

/// A new signing secret: `whsec_` and 32 random bytes in base64, as
/// Standard Webhooks writes them.
fn new_secret() -> Result<String, StoreError> {
    let mut bytes = [0u8; 32];
    getrandom::fill(&mut bytes)
        .map_err(|e| StoreError::Corrupt(format!("no randomness available: {e}")))?;
    Ok(format!(
        "whsec_{}",
        base64::engine::general_purpose::STANDARD.encode(bytes)
    ))
}

/// The enabled subscriptions whose owners are active, each with its owner
/// as an actor.
async fn listeners(
    tx: &mut Transaction<'_, Any>,
) -> Result<Vec<(i64, Vec<String>, Actor)>, StoreError> {
    let rows = sqlx::query(
        "SELECT s.id, s.owner_id, s.events, m.role FROM webhook_subscriptions s \
         JOIN people p ON p.id = s.owner_id LEFT JOIN memberships m ON m.person_id = s.owner_id \
         WHERE s.enabled = 1 AND p.deactivated_at IS NULL ORDER BY s.id",
    )
    .fetch_all(&mut **tx)
    .await?;
    let mut out: Vec<(i64, Vec<String>, Actor)> = Vec::new();
    for r in &rows {
        let id: i64 = r.try_get("id")?;
        if out.last().is_none_or(|l| l.0 != id) {
            out.push((
                id,
                types(&r.try_get::<String, _>("events")?),
                Actor {
                    person: PersonId(r.try_get("owner_id")?),
                    roles: Vec::new(),
                },
            ));
        }
        if let (Some(last), Some(role)) = (out.last_mut(), r.try_get::<Option<String>, _>("role")?)
        {
            last.2.roles.push(unjson(&role)?);
        }
    }
    Ok(out)
}

/// The body every delivery of an event carries (Standard Webhooks' shape:
/// `type`, `timestamp`, `data`).
fn body(kind: &str, at: Timestamp, data: serde_json::Value) -> Result<String, StoreError> {
    let timestamp = chrono::DateTime::from_timestamp(at.0, 0)
        .map(|t| t.to_rfc3339_opts(chrono::SecondsFormat::Secs, true))
        .unwrap_or_default();
    json(&serde_json::json!({ "type": kind, "timestamp": timestamp, "data": data }))
}

async fn insert(
    tx: &mut Transaction<'_, Any>,
    subscription: i64,
    msg_id: &str,
    kind: &str,
    payload: &str,
    now: Timestamp,
    resent_from: Option<i64>,
) -> Result<i64, StoreError> {
    let row = sqlx::query(
        "INSERT INTO webhook_deliveries (subscription_id, msg_id, event_type, payload, created_at, attempts, next_attempt_at, resent_from) \
         VALUES ($1, $2, $3, $4, $5, 0, $5, $6) RETURNING id",
    )
    .bind(subscription)
    .bind(msg_id)
    .bind(kind)
    .bind(payload)
    .bind(now.0)
    .bind(resent_from)
    .fetch_one(&mut **tx)
    .await?;
    Ok(row.try_get(0)?)
}

/// Queues a delivery of each of an engagement's new events (numbered from
/// `first_seq`) to every subscription that receives it. `e` is the
/// engagement after the events.
pub(crate) async fn queue_engagement(
    tx: &mut Transaction<'_, Any>,
    e: &Engagement,
    events: &[Event],
    first_seq: i64,
    actor: PersonId,
    at: Timestamp,
) -> Result<(), StoreError> {
    let listeners = listeners(tx).await?;
    if listeners.is_empty() {
        return Ok(());
    }
    for (i, ev) in events.iter().enumerate() {
        let kind = webhook::engagement_type(ev);
        let seq = first_seq + i as i64;
        let to: Vec<i64> = listeners
            .iter()
            .filter(|(_, types, owner)| {
                webhook::receives(owner, types, &kind, About::Engagement(e))
            })
            .map(|l| l.0)
            .collect();
        if to.is_empty() {
            continue;
        }
        let payload = body(
            &kind,
            at,
            serde_json::json!({
                "engagement": e.id.0, "agency": e.agency.0, "seq": seq,
                "actor": actor.0, "event": ev,
            }),
        )?;
        let msg_id = format!("msg_e{}_{seq}", e.id.0);
        for s in to {
            insert(tx, s, &msg_id, &kind, &payload, at, None).await?;
        }
    }
    Ok(())
}

/// Queues a delivery of an enquiry's new event (its `seq`-th).
pub(crate) async fn queue_enquiry(
    tx: &mut Transaction<'_, Any>,
    enquiry: i64,
    seq: i64,
    event: &waymark_core::enquiry::Triage,
    actor: Option<PersonId>,
    at: Timestamp,
) -> Result<(), StoreError> {
    let listeners = listeners(tx).await?;
    let kind = webhook::enquiry_type(event);
    let to: Vec<i64> = listeners
        .iter()
        .filter(|(_, types, owner)| webhook::receives(owner, types, &kind, About::Enquiry))
        .map(|l| l.0)
        .collect();
    if to.is_empty() {
        return Ok(());
    }
    let payload = body(
        &kind,
        at,
        serde_json::json!({
            "enquiry": enquiry, "seq": seq, "actor": actor.map(|p| p.0), "event": event,
        }),
    )?;
    let msg_id = format!("msg_q{enquiry}_{seq}");
    for s in to {
        insert(tx, s, &msg_id, &kind, &payload, at, None).await?;
    }
    Ok(())
}

/// The mail telling an owner their subscription was stopped, composed by
/// the caller (who knows the site's address).
pub type DisabledMail<'a> = &'a (dyn Fn(&Subscription, &str) -> Mail + Send + Sync);

impl Store {
    /// Subscribes `new.url` for `actor`; returns the subscription and its
    /// signing secret (shown once: only the sender reads it again).
    pub async fn create_webhook(
        &self,
        actor: &Actor,
        new: &NewSubscription,
        now: Timestamp,
    ) -> Result<(Subscription, String), StoreError> {
        webhook::may_subscribe(actor)?;
        let secret = new_secret()?;
        let _turn = self.write_turn().await;
        let mut tx = self.begin_write().await?;
        let result = async {
            let held: i64 = sqlx::query(
                "SELECT COUNT(*) FROM webhook_subscriptions WHERE owner_id = $1",
            )
            .bind(actor.person.0)
            .fetch_one(&mut *tx)
            .await?
            .try_get(0)?;
            if held >= webhook::PER_OWNER_MAX as i64 {
                return Err(StoreError::Domain(DomainError::rule(format!(
                    "you hold {held} subscriptions, the most one person may; send more event types to one you have"
                ))));
            }
            let row = sqlx::query(&format!(
                "INSERT INTO webhook_subscriptions (owner_id, url, secret, events, description, created_at, enabled) \
                 VALUES ($1, $2, $3, $4, $5, $6, 1) RETURNING {SUB_COLUMNS}"
            ))
            .bind(actor.person.0)
            .bind(&new.url)
            .bind(&secret)
            .bind(new.types.join(" "))
            .bind(&new.description)
            .bind(now.0)
            .fetch_one(&mut *tx)
            .await?;
            subscription(&row)
        }
        .await;
        Ok((finish(tx, result).await?, secret))
    }

    /// The subscriptions `actor` sees: their own, or everyone's for an
    /// admin who asks for all.
    pub async fn webhooks(
        &self,
        actor: &Actor,
        all: bool,
    ) -> Result<Vec<Subscription>, StoreError> {
        let rows = if all && actor.is_admin() {
            sqlx::query(&format!(
                "SELECT {SUB_COLUMNS} FROM webhook_subscriptions ORDER BY id"
            ))
            .fetch_all(&self.pool)
            .await?
        } else {
            sqlx::query(&format!(
                "SELECT {SUB_COLUMNS} FROM webhook_subscriptions WHERE owner_id = $1 ORDER BY id"
            ))
            .bind(actor.person.0)
            .fetch_all(&self.pool)
            .await?
        };
        rows.iter().map(subscription).collect()
    }

    /// One subscription, if `actor` may manage it; to anyone else it does
    /// not exist.
    pub async fn webhook(&self, actor: &Actor, id: i64) -> Result<Subscription, StoreError> {
        let row = sqlx::query(&format!(
            "SELECT {SUB_COLUMNS} FROM webhook_subscriptions WHERE id = $1"
        ))
        .bind(id)
        .fetch_optional(&self.pool)
        .await?;
        match row.map(|r| subscription(&r)).transpose()? {
            Some(s) if webhook::may_manage(actor, s.owner) => Ok(s),
            _ => Err(StoreError::Domain(DomainError::NotFound)),
        }
    }

    /// Starts or stops a subscription. Starting it again resumes the
    /// deliveries that were waiting, if its owner may still subscribe.
    pub async fn set_webhook_enabled(
        &self,
        actor: &Actor,
        id: i64,
        enabled: bool,
        now: Timestamp,
    ) -> Result<Subscription, StoreError> {
        let s = self.webhook(actor, id).await?;
        if enabled {
            self.owner_may_subscribe(s.owner).await?;
        }
        let _turn = self.write_turn().await;
        let reason = if actor.person == s.owner {
            "stopped by its owner".to_string()
        } else {
            format!("stopped by a programme admin (person {})", actor.person.0)
        };
        sqlx::query(
            "UPDATE webhook_subscriptions SET enabled = $1, \
             disabled_at = CASE WHEN $1 = 1 THEN NULL ELSE $2 END, \
             disabled_reason = CASE WHEN $1 = 1 THEN NULL ELSE $3 END WHERE id = $4",
        )
        .bind(i64::from(enabled))
        .bind(now.0)
        .bind(&reason)
        .bind(id)
        .execute(&self.pool)
        .await?;
        self.webhook(actor, id).await
    }

    /// A subscription's deliveries, newest first, `limit` of them before
    /// delivery `before`, each with its attempts.
    pub async fn webhook_deliveries(
        &self,
        actor: &Actor,
        id: i64,
        limit: u32,
        before: Option<i64>,
    ) -> Result<Vec<Delivery>, StoreError> {
        self.webhook(actor, id).await?;
        let rows = sqlx::query(&format!(
            "SELECT {DELIVERY_COLUMNS} FROM webhook_deliveries WHERE subscription_id = $1 AND id < $2 \
             ORDER BY id DESC LIMIT $3"
        ))
        .bind(id)
        .bind(before.unwrap_or(i64::MAX))
        .bind(i64::from(limit))
        .fetch_all(&self.pool)
        .await?;
        let mut out: Vec<Delivery> = rows.iter().map(delivery).collect::<Result<_, _>>()?;
        if let (Some(first), Some(last)) = (out.first(), out.last()) {
            let attempts = sqlx::query(
                "SELECT delivery_id, at, status, error, millis FROM webhook_attempts \
                 WHERE delivery_id >= $1 AND delivery_id <= $2 ORDER BY id",
            )
            .bind(last.id)
            .bind(first.id)
            .fetch_all(&self.pool)
            .await?;
            for a in &attempts {
                let of: i64 = a.try_get("delivery_id")?;
                if let Some(d) = out.iter_mut().find(|d| d.id == of) {
                    d.log.push(Attempt {
                        at: Timestamp(a.try_get("at")?),
                        status: a.try_get("status")?,
                        error: a.try_get("error")?,
                        millis: a.try_get("millis")?,
                    });
                }
            }
        }
        Ok(out)
    }

    /// Queues delivery `delivery` of subscription `id` again, with the same
    /// `webhook-id`, due now. Refused while the subscription is stopped.
    pub async fn resend_webhook(
        &self,
        actor: &Actor,
        id: i64,
        delivery_id: i64,
        now: Timestamp,
    ) -> Result<Delivery, StoreError> {
        let s = self.webhook(actor, id).await?;
        if !s.enabled {
            return Err(StoreError::Domain(DomainError::rule(
                "this subscription is stopped: start it again, then resend",
            )));
        }
        self.owner_may_subscribe(s.owner).await?;
        let waiting: i64 = sqlx::query(
            "SELECT COUNT(*) FROM webhook_deliveries WHERE subscription_id = $1 AND next_attempt_at IS NOT NULL",
        )
        .bind(id)
        .fetch_one(&self.pool)
        .await?
        .try_get(0)?;
        if waiting >= WAITING_MAX {
            return Err(StoreError::Domain(DomainError::rule(format!(
                "{waiting} deliveries are already waiting to go to this address; resend when they have gone"
            ))));
        }
        let _turn = self.write_turn().await;
        let mut tx = self.begin_write().await?;
        let result = async {
            let row = sqlx::query(&format!(
                "SELECT {DELIVERY_COLUMNS} FROM webhook_deliveries WHERE id = $1 AND subscription_id = $2"
            ))
            .bind(delivery_id)
            .bind(id)
            .fetch_optional(&mut *tx)
            .await?
            .ok_or(StoreError::Missing {
                what: "delivery",
                value: delivery_id.to_string(),
            })?;
            let old = delivery(&row)?;
            let new = insert(
                &mut tx,
                id,
                &old.msg_id,
                &old.event_type,
                &old.payload,
                now,
                Some(old.id),
            )
            .await?;
            let row = sqlx::query(&format!(
                "SELECT {DELIVERY_COLUMNS} FROM webhook_deliveries WHERE id = $1"
            ))
            .bind(new)
            .fetch_one(&mut *tx)
            .await?;
            delivery(&row)
        }
        .await;
        finish(tx, result).await
    }

    /// Claims up to `limit` deliveries due at `now` to started
    /// subscriptions, each leased to this caller.
    pub async fn claim_webhooks(&self, now: Timestamp, limit: u32) -> Result<Vec<Due>, StoreError> {
        let due = sqlx::query(
            "SELECT d.id, d.subscription_id, d.msg_id, d.payload, d.next_attempt_at, s.url, s.secret \
             FROM webhook_deliveries d JOIN webhook_subscriptions s ON s.id = d.subscription_id \
             JOIN people p ON p.id = s.owner_id \
             WHERE d.next_attempt_at <= $1 AND s.enabled = 1 AND p.deactivated_at IS NULL \
             ORDER BY d.next_attempt_at, d.id LIMIT $2",
        )
        .bind(now.0)
        .bind(i64::from(limit) * 8)
        .fetch_all(&self.pool)
        .await?;
        // A few per subscription in one pass, so one slow or flooded
        // target cannot take every sending slot from the others.
        // The claims are writes: in turn with this process's other writers
        // (on SQLite, a writer that found the lock taken mid-transaction
        // would fail at once with "database is locked").
        let _turn = self.write_turn().await;
        let mut per: std::collections::HashMap<i64, usize> = std::collections::HashMap::new();
        let mut claimed = Vec::new();
        for r in &due {
            if claimed.len() >= limit as usize {
                break;
            }
            let n = per
                .entry(r.try_get::<i64, _>("subscription_id")?)
                .or_default();
            if *n >= PER_SUBSCRIPTION {
                continue;
            }
            *n += 1;
            let id: i64 = r.try_get("id")?;
            let won = sqlx::query(
                "UPDATE webhook_deliveries SET next_attempt_at = $1 WHERE id = $2 AND next_attempt_at = $3",
            )
            .bind(now.0 + LEASE)
            .bind(id)
            .bind(r.try_get::<i64, _>("next_attempt_at")?)
            .execute(&self.pool)
            .await?;
            if won.rows_affected() == 1 {
                claimed.push(Due {
                    id,
                    subscription: r.try_get("subscription_id")?,
                    url: r.try_get("url")?,
                    secret: r.try_get("secret")?,
                    msg_id: r.try_get("msg_id")?,
                    payload: r.try_get("payload")?,
                });
            }
        }
        Ok(claimed)
    }

    /// Records an attempt at delivery `id`: the status the target answered
    /// (`Ok`) or why there was none (`Err`), and how long it took. A
    /// failure is tried again later, or, after the last attempt, marks the
    /// delivery failed; then, when nothing has reached the target since the
    /// delivery was queued, the subscription is stopped and its owner told
    /// by `mail`, in the same transaction.
    pub async fn record_webhook_attempt(
        &self,
        id: i64,
        outcome: Result<u16, String>,
        millis: i64,
        now: Timestamp,
        mail: DisabledMail<'_>,
    ) -> Result<AfterAttempt, StoreError> {
        let _turn = self.write_turn().await;
        let mut tx = self.begin_write().await?;
        let result = async {
            let row = sqlx::query(
                "SELECT d.subscription_id, d.attempts, d.created_at, d.delivered_at, s.last_success_at \
                 FROM webhook_deliveries d JOIN webhook_subscriptions s ON s.id = d.subscription_id WHERE d.id = $1",
            )
            .bind(id)
            .fetch_one(&mut *tx)
            .await?;
            let sub: i64 = row.try_get("subscription_id")?;
            let attempts = row.try_get::<i64, _>("attempts")? + 1;
            let (status, error) = match &outcome {
                Ok(s) => (Some(i64::from(*s)), None),
                Err(e) => (None, Some(e.chars().take(500).collect::<String>())),
            };
            sqlx::query(
                "INSERT INTO webhook_attempts (delivery_id, at, status, error, millis) VALUES ($1, $2, $3, $4, $5)",
            )
            .bind(id)
            .bind(now.0)
            .bind(status)
            .bind(error.as_deref())
            .bind(millis)
            .execute(&mut *tx)
            .await?;
            let ok = matches!(outcome, Ok(s) if webhook::delivered(s));
            let error = error.or_else(|| status.map(|s| format!("answered {s}")));
            if ok {
                sqlx::query(
                    "UPDATE webhook_deliveries SET attempts = $1, delivered_at = $2, next_attempt_at = NULL, \
                     last_status = $3, last_error = NULL WHERE id = $4",
                )
                .bind(attempts)
                .bind(now.0)
                .bind(status)
                .bind(id)
                .execute(&mut *tx)
                .await?;
                sqlx::query("UPDATE webhook_subscriptions SET last_success_at = $1 WHERE id = $2")
                    .bind(now.0)
                    .bind(sub)
                    .execute(&mut *tx)
                    .await?;
                return Ok(AfterAttempt::Delivered);
            }
            if let Some(wait) = webhook::retry_after(attempts) {
                let next = Timestamp(now.0 + wait);
                sqlx::query(
                    "UPDATE webhook_deliveries SET attempts = $1, next_attempt_at = $2, last_status = $3, last_error = $4 WHERE id = $5",
                )
                .bind(attempts)
                .bind(next.0)
                .bind(status)
                .bind(error.as_deref())
                .bind(id)
                .execute(&mut *tx)
                .await?;
                return Ok(AfterAttempt::Retry(next));
            }
            sqlx::query(
                "UPDATE webhook_deliveries SET attempts = $1, next_attempt_at = NULL, failed_at = $2, last_status = $3, last_error = $4 WHERE id = $5",
            )
            .bind(attempts)
            .bind(now.0)
            .bind(status)
            .bind(error.as_deref())
            .bind(id)
            .execute(&mut *tx)
            .await?;
            let queued = Timestamp(row.try_get("created_at")?);
            let last = row.try_get::<Option<i64>, _>("last_success_at")?.map(Timestamp);
            if !webhook::should_disable(queued, last) {
                return Ok(AfterAttempt::Failed { disabled: false });
            }
            let reason = format!(
                "every attempt to deliver {} failed for more than a day (last: {})",
                id,
                error.as_deref().unwrap_or("no answer")
            );
            let stopped = sqlx::query(
                "UPDATE webhook_subscriptions SET enabled = 0, disabled_at = $1, disabled_reason = $2 \
                 WHERE id = $3 AND enabled = 1",
            )
            .bind(now.0)
            .bind(&reason)
            .bind(sub)
            .execute(&mut *tx)
            .await?;
            if stopped.rows_affected() == 1 {
                let s = sqlx::query(&format!(
                    "SELECT {SUB_COLUMNS} FROM webhook_subscriptions WHERE id = $1"
                ))
                .bind(sub)
                .fetch_one(&mut *tx)
                .await?;
                let s = subscription(&s)?;
                let to: String = sqlx::query("SELECT email FROM people WHERE id = $1")
                    .bind(s.owner.0)
                    .fetch_one(&mut *tx)
                    .await?
                    .try_get(0)?;
                crate::outbox::queue(&mut tx, &mail(&s, &to), now).await?;
            }
            Ok(AfterAttempt::Failed {
                disabled: stopped.rows_affected() == 1,
            })
        }
        .await;
        finish(tx, result).await
    }

    /// Hands claimed deliveries back, due at `now` (a sender stopping).
    pub async fn release_webhooks(&self, ids: &[i64], now: Timestamp) -> Result<(), StoreError> {
        let _turn = self.write_turn().await;
        for id in ids {
            sqlx::query(
                "UPDATE webhook_deliveries SET next_attempt_at = $1 WHERE id = $2 AND next_attempt_at IS NOT NULL",
            )
            .bind(now.0)
            .bind(id)
            .execute(&self.pool)
            .await?;
        }
        Ok(())
    }
}

impl Store {
    /// Refused unless a subscription's owner is active and still may
    /// subscribe (starting it again, resending).
    async fn owner_may_subscribe(&self, owner: PersonId) -> Result<(), StoreError> {
        let row = sqlx::query("SELECT deactivated_at FROM people WHERE id = $1")
            .bind(owner.0)
            .fetch_optional(&self.pool)
            .await?;
        let active = match row {
            Some(r) => r.try_get::<Option<i64>, _>(0)?.is_none(),
            None => false,
        };
        if !active || webhook::may_subscribe(&self.actor(owner).await?).is_err() {
            return Err(StoreError::Domain(DomainError::rule(
                "its owner no longer may subscribe; make a new subscription",
            )));
        }
        Ok(())
    }
}
