//! Model pins: each model version an engagement runs on, kept by its hash
//! and built once per process.

use std::sync::Arc;

use sqlx::Row;
use waymark_core::Timestamp;
use waymark_model::{Model, SourceFile};

use crate::*;

impl Store {
    /// Stores a model version (if new) and returns its hash.
    pub async fn pin_model(
        &self,
        pages: &[SourceFile],
        now: Timestamp,
    ) -> Result<String, StoreError> {
        let (hash, text) = chain::model_fingerprint(pages)?;
        let found = sqlx::query("SELECT hash FROM models WHERE hash = $1")
            .bind(&hash)
            .fetch_optional(&self.pool)
            .await?;
        if found.is_none() {
            let inserted =
                sqlx::query("INSERT INTO models (hash, pages, created_at) VALUES ($1, $2, $3)")
                    .bind(&hash)
                    .bind(text)
                    .bind(now.0)
                    .execute(&self.pool)
                    .await;
            // Another instance may have pinned the same model meanwhile.
            if let Err(e) = inserted
                && !error::is_unique_violation(&e)
            {
                return Err(e.into());
            }
        }
        Ok(hash)
    }

    /// The parsed model for a pinned hash.
    pub async fn model(&self, hash: &str) -> Result<Arc<Model>, StoreError> {
        if let Some(m) = self.models.lock().ok().and_then(|m| m.get(hash).cloned()) {
            return Ok(m);
        }
        let row = sqlx::query("SELECT pages FROM models WHERE hash = $1")
            .bind(hash)
            .fetch_optional(&self.pool)
            .await?
            .ok_or_else(|| StoreError::Corrupt(format!("the pinned model {hash} is missing")))?;
        let pages: Vec<SourceFile> = chain::pages_from_json(&row.try_get::<String, _>(0)?)?;
        let model = Arc::new(waymark_model::build(pages).model);
        if let Ok(mut m) = self.models.lock() {
            m.insert(hash.to_string(), Arc::clone(&model));
        }
        Ok(model)
    }
}

/// A pinned model version and how many engagements run on it.
#[derive(Debug, Clone, serde::Serialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct ModelVersion {
    pub hash: String,
    #[cfg_attr(feature = "openapi", schema(value_type = i64))]
    pub pinned_at: Timestamp,
    pub engagements: i64,
}

impl Store {
    /// A pinned model version, or `Missing` when no engagement pinned it:
    /// for versions named by callers.
    pub async fn pinned(&self, hash: &str) -> Result<Arc<Model>, StoreError> {
        let found = sqlx::query("SELECT hash FROM models WHERE hash = $1")
            .bind(hash)
            .fetch_optional(&self.pool)
            .await?;
        if found.is_none() {
            return Err(StoreError::Missing {
                what: "model version",
                value: hash.chars().take(80).collect(),
            });
        }
        self.model(hash).await
    }

    /// Every pinned model version, newest first, with its engagements.
    pub async fn model_versions(&self) -> Result<Vec<ModelVersion>, StoreError> {
        sqlx::query(
            "SELECT m.hash, m.created_at, (SELECT COUNT(*) FROM engagements e WHERE e.model_hash = m.hash) AS n \
             FROM models m ORDER BY m.created_at DESC, m.hash",
        )
        .fetch_all(&self.pool)
        .await?
        .iter()
        .map(|r| {
            Ok(ModelVersion {
                hash: r.try_get("hash")?,
                pinned_at: Timestamp(r.try_get("created_at")?),
                engagements: r.try_get("n")?,
            })
        })
        .collect()
    }
}
