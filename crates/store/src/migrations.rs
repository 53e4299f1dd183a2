//! Moving engagements to another model version: each in its own
//! transaction (one `Migrated` event in its chain, its row, indexes and
//! search text with it), so one refused engagement never holds back the
//! rest. A preview runs the same judgement and writes nothing.

use serde::Serialize;
use sqlx::Row;

use waymark_core::migration::{self, Mapping};
use waymark_core::{Actor, Engagement, EngagementId, Event, StageRecord, Timestamp};

use crate::engagements::{Head, append_and_save, save_index};
use crate::*;

/// What a migration did, or would do, to one engagement.
#[derive(Debug, Clone, Serialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct Outcome {
    #[cfg_attr(feature = "openapi", schema(value_type = i64))]
    pub engagement: EngagementId,
    /// `migrated` (or, in a preview, would be), `unchanged` (already on the
    /// new version), or `refused` with the reason.
    pub result: &'static str,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub reason: Option<String>,
    pub before: Vec<StageRecord>,
    pub after: Vec<StageRecord>,
    /// What has no place in the new model, kept in words.
    pub archived: Vec<String>,
}

impl Store {
    /// Moves the engagements on `mapping.from` (or only `only`) to
    /// `mapping.to`, both of which must be pinned; with `preview`, says
    /// what would happen and writes nothing.
    pub async fn migrate_engagements(
        &self,
        actor: &Actor,
        mapping: &Mapping,
        only: Option<&[EngagementId]>,
        preview: bool,
        now: Timestamp,
    ) -> Result<Vec<Outcome>, StoreError> {
        migration::may_migrate(actor)?;
        let old = self.pinned(&mapping.from).await?;
        let new = self.pinned(&mapping.to).await?;
        mapping.check(&old, &new)?;
        let ids: Vec<EngagementId> = match only {
            Some(ids) => ids.to_vec(),
            None => sqlx::query("SELECT id FROM engagements WHERE model_hash = $1 ORDER BY id")
                .bind(&mapping.from)
                .fetch_all(&self.pool)
                .await?
                .iter()
                .map(|r| r.try_get(0).map(EngagementId))
                .collect::<Result<_, _>>()?,
        };
        let mut out = Vec::with_capacity(ids.len());
        if !preview {
            // What is tagged to the old model's stages and steps follows.
            self.retag_articles(actor, mapping, now).await?;
        }
        for id in ids {
            let outcome = if preview {
                let e = self.engagement(actor, id).await?;
                judge(actor, &e, &old, &new, mapping).0
            } else {
                self.migrate_one(actor, id, &old, &new, mapping, now)
                    .await?
            };
            out.push(outcome);
        }
        Ok(out)
    }

    /// Moves every article's stage and step tags by `mapping`: the working
    /// copy, and for a published article a new published version with the
    /// same words (so readers see it on the new stage pages and the change is
    /// in its versions). Returns the slugs of articles whose published tags
    /// changed. A second run changes nothing.
    pub async fn retag_articles(
        &self,
        actor: &Actor,
        mapping: &Mapping,
        now: Timestamp,
    ) -> Result<Vec<String>, StoreError> {
        migration::may_migrate(actor)?;
        let _turn = self.write_turn().await;
        let mut tx = self.begin_write().await?;
        let result = async {
            let rows = sqlx::query("SELECT id, slug, status, tags FROM articles ORDER BY id")
                .fetch_all(&mut *tx)
                .await?;
            let mut published = Vec::new();
            for r in rows {
                let id: i64 = r.try_get("id")?;
                let tags: Vec<waymark_core::knowledge::Tag> =
                    unjson(&r.try_get::<String, _>("tags")?)?;
                if let Some(moved) = migration::retag(&tags, mapping) {
                    sqlx::query(
                        "UPDATE articles SET tags = $1, version = version + 1, updated_at = $2 WHERE id = $3",
                    )
                    .bind(json(&moved)?)
                    .bind(now.0)
                    .bind(id)
                    .execute(&mut *tx)
                    .await?;
                }
                // The version readers see: published again with moved tags.
                let latest = sqlx::query(
                    "SELECT number, title, summary, body, tags FROM article_versions WHERE article_id = $1 \
                     ORDER BY number DESC LIMIT 1",
                )
                .bind(id)
                .fetch_optional(&mut *tx)
                .await?;
                let Some(v) = latest else { continue };
                if r.try_get::<String, _>("status")? != "published" {
                    continue;
                }
                let seen: Vec<waymark_core::knowledge::Tag> =
                    unjson(&v.try_get::<String, _>("tags")?)?;
                let Some(moved) = migration::retag(&seen, mapping) else {
                    continue;
                };
                sqlx::query(
                    "INSERT INTO article_versions (article_id, number, title, summary, body, tags, published_by, published_at) \
                     VALUES ($1, $2, $3, $4, $5, $6, $7, $8)",
                )
                .bind(id)
                .bind(v.try_get::<i64, _>("number")? + 1)
                .bind(v.try_get::<String, _>("title")?)
                .bind(v.try_get::<String, _>("summary")?)
                .bind(v.try_get::<String, _>("body")?)
                .bind(json(&moved)?)
                .bind(actor.person.0)
                .bind(now.0)
                .execute(&mut *tx)
                .await?;
                published.push(r.try_get("slug")?);
            }
            Ok(published)
        }
        .await;
        finish(tx, result).await
    }

    async fn migrate_one(
        &self,
        actor: &Actor,
        id: EngagementId,
        old: &waymark_model::Model,
        new: &waymark_model::Model,
        mapping: &Mapping,
        now: Timestamp,
    ) -> Result<Outcome, StoreError> {
        let _turn = self.write_turn().await;
        let mut tx = self.begin_write().await?;
        let result = async {
            if self.backend == Backend::Postgres {
                sqlx::query("UPDATE engagements SET version = version WHERE id = $1")
                    .bind(id.0)
                    .execute(&mut *tx)
                    .await?;
            }
            let row = sqlx::query(
                "SELECT state, version, event_count, head_hash FROM engagements WHERE id = $1",
            )
            .bind(id.0)
            .fetch_optional(&mut *tx)
            .await?
            .ok_or(StoreError::Domain(waymark_core::DomainError::NotFound))?;
            let mut e: Engagement = unjson(&row.try_get::<String, _>("state")?)?;
            let (outcome, event) = judge(actor, &e, old, new, mapping);
            let Some(event) = event else {
                return Ok(outcome);
            };
            let at = Head::of(&row)?;
            let expected = at.version as u64;
            if !append_and_save(&mut tx, &mut e, &[event], actor.person, now, "migrate", at).await?
            {
                return Err(StoreError::Domain(waymark_core::DomainError::Conflict {
                    expected,
                    actual: expected + 1,
                }));
            }
            save_index(&mut tx, &e).await?;
            search::index_engagement(&mut tx, &e).await?;
            Ok(outcome)
        }
        .await;
        finish(tx, result).await
    }
}

/// The outcome `migration::migrate` gives `e`, with its stages before and
/// after, and the event to record (if any), without writing: judged once,
/// for a preview and for applying alike.
fn judge(
    actor: &Actor,
    e: &Engagement,
    old: &waymark_model::Model,
    new: &waymark_model::Model,
    mapping: &Mapping,
) -> (Outcome, Option<Event>) {
    let base = Outcome {
        engagement: e.id,
        result: "unchanged",
        reason: None,
        before: e.stages.clone(),
        after: e.stages.clone(),
        archived: Vec::new(),
    };
    match migration::migrate(actor, e, old, new, mapping) {
        Ok(None) => (base, None),
        Ok(Some(ev)) => {
            let mut after = e.clone();
            after.apply(&ev, actor.person, Timestamp(0));
            let archived = match &ev {
                Event::Migrated { archived, .. } => archived.clone(),
                _ => Vec::new(),
            };
            let outcome = Outcome {
                result: "migrated",
                after: after.stages,
                archived,
                ..base
            };
            (outcome, Some(ev))
        }
        Err(why) => (
            Outcome {
                result: "refused",
                reason: Some(why.to_string()),
                ..base
            },
            None,
        ),
    }
}
