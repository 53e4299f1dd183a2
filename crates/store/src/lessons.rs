//! Lessons from every engagement's retrospectives, as the `lessons` rows
//! (kept by `save_index` in each command's transaction) hold them: what
//! the programme reads to see which steps of the model cause the most
//! trouble, and an agency reads of its own.

use serde::Serialize;
use sqlx::Row;
use waymark_core::{Actor, EngagementId, Timestamp};

use crate::listing::{Scope, scope};
use crate::*;

/// The most lessons one read returns.
pub const LESSONS_MAX: u32 = 2000;

/// One lesson, with the engagement and agency it came from.
#[derive(Debug, Clone, Serialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct LessonRow {
    #[cfg_attr(feature = "openapi", schema(value_type = i64))]
    pub engagement: EngagementId,
    pub id: u32,
    pub agency: String,
    /// `went_well`, `to_improve` or `try_next`.
    pub kind: String,
    pub stage: String,
    pub step: Option<u32>,
    pub text: String,
    #[cfg_attr(feature = "openapi", schema(value_type = i64))]
    pub at: Timestamp,
    /// Empty until proposed; then `proposed`, `accepted` (an article
    /// draft), `posted` (a community question) or `declined`.
    pub state: String,
    /// `blueprint` or `guidance` once proposed.
    pub target: String,
    /// The model version the engagement runs on, which names its stage
    /// and step.
    #[serde(skip)]
    pub model_hash: String,
}

impl Store {
    /// The lessons `actor` may see (the programme: every engagement's; an
    /// agency: its own; a partner: those they are assigned to), in the
    /// model's order of stage and step, at most `limit` of them, with how
    /// many there are in all.
    pub async fn lessons(
        &self,
        actor: &Actor,
        limit: u32,
    ) -> Result<(Vec<LessonRow>, u64), StoreError> {
        let mut binds = Vec::new();
        let filter = match scope(actor, "e.", &mut binds) {
            Scope::Nothing => return Ok((Vec::new(), 0)),
            Scope::All => "1 = 1".to_string(),
            Scope::Where(c) => c,
        };
        let from = format!(
            "FROM lessons l JOIN engagements e ON e.id = l.engagement_id \
             JOIN agencies a ON a.id = e.agency_id WHERE {filter}"
        );
        let count_sql = format!("SELECT COUNT(*) {from}");
        let mut count = sqlx::query(&count_sql);
        for b in &binds {
            count = count.bind(*b);
        }
        let total: i64 = count.fetch_one(&self.pool).await?.try_get(0)?;
        let sql = format!(
            "SELECT l.engagement_id, l.id, a.name, l.kind, l.stage, l.step, l.text, l.at, l.state, l.target, e.model_hash {from} \
             ORDER BY l.stage, l.step, l.engagement_id, l.id LIMIT {}",
            limit.clamp(1, LESSONS_MAX)
        );
        let mut q = sqlx::query(&sql);
        for b in &binds {
            q = q.bind(*b);
        }
        let rows = q
            .fetch_all(&self.pool)
            .await?
            .iter()
            .map(|r| {
                Ok(LessonRow {
                    engagement: EngagementId(r.try_get(0)?),
                    id: u32::try_from(r.try_get::<i64, _>(1)?).unwrap_or(0),
                    agency: r.try_get(2)?,
                    kind: r.try_get(3)?,
                    stage: r.try_get(4)?,
                    step: r
                        .try_get::<Option<i64>, _>(5)?
                        .and_then(|n| u32::try_from(n).ok()),
                    text: r.try_get(6)?,
                    at: Timestamp(r.try_get(7)?),
                    state: r.try_get(8)?,
                    target: r.try_get(9)?,
                    model_hash: r.try_get(10)?,
                })
            })
            .collect::<Result<Vec<_>, sqlx::Error>>()?;
        Ok((rows, total as u64))
    }
}
