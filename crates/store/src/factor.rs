//! Second factors: each person's authenticator key, the last step whose
//! code was accepted, and their recovery codes (kept as SHA-256 hashes).
//!
//! Both checks that stop a code being used twice are single statements
//! (`accept_step`, `use_recovery_code`), so they hold across instances:
//! two sign-ins racing with one code see one succeed.

use sqlx::Row;
use waymark_core::{Actor, PersonId, Timestamp};

use crate::{Store, StoreError, chain};

/// A person's second factor, as sign-in checks it.
#[derive(Clone, PartialEq, Eq)]
pub struct SecondFactor {
    /// The authenticator's key (a secret).
    pub secret: Vec<u8>,
    pub enrolled_at: Timestamp,
    /// The last 30-second step whose code was accepted.
    pub last_step: i64,
    /// Recovery codes not used yet.
    pub recovery_left: i64,
}

impl std::fmt::Debug for SecondFactor {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("SecondFactor")
            .field("secret", &"…")
            .field("enrolled_at", &self.enrolled_at)
            .field("last_step", &self.last_step)
            .field("recovery_left", &self.recovery_left)
            .finish()
    }
}

impl Store {
    /// `person`'s second factor, if they set one up.
    pub async fn second_factor(
        &self,
        person: PersonId,
    ) -> Result<Option<SecondFactor>, StoreError> {
        let row = sqlx::query(
            "SELECT secret, enrolled_at, last_step, \
             (SELECT COUNT(*) FROM recovery_codes r WHERE r.person_id = f.person_id AND r.used_at IS NULL) AS left_over \
             FROM second_factors f WHERE person_id = $1",
        )
        .bind(person.0)
        .fetch_optional(&self.pool)
        .await?;
        row.map(|r| {
            Ok(SecondFactor {
                secret: r.try_get("secret")?,
                enrolled_at: Timestamp(r.try_get("enrolled_at")?),
                last_step: r.try_get("last_step")?,
                recovery_left: r.try_get("left_over")?,
            })
        })
        .transpose()
    }

    /// Whether `person` has a second factor (one indexed read, asked on
    /// every request of those who must have one).
    pub async fn has_second_factor(&self, person: PersonId) -> Result<bool, StoreError> {
        let row = sqlx::query("SELECT 1 FROM second_factors WHERE person_id = $1")
            .bind(person.0)
            .fetch_optional(&self.pool)
            .await?;
        Ok(row.is_some())
    }

    /// Keeps `person`'s new authenticator key, confirmed by a code of
    /// `step` (so that code cannot sign in again), and their recovery
    /// codes. Refused as a duplicate if they already have one: the old one
    /// is turned off first, with a code from it.
    pub async fn enrol_second_factor(
        &self,
        person: PersonId,
        secret: &[u8],
        step: i64,
        recovery: &[String],
        now: Timestamp,
    ) -> Result<(), StoreError> {
        let _turn = self.write_turn().await;
        let mut tx = self.pool.begin().await?;
        let had = sqlx::query("SELECT 1 FROM second_factors WHERE person_id = $1")
            .bind(person.0)
            .fetch_optional(&mut *tx)
            .await?;
        if had.is_some() {
            return crate::finish(
                tx,
                Err(StoreError::Duplicate {
                    field: "code",
                    value: "a second factor is already set up".into(),
                }),
            )
            .await;
        }
        sqlx::query(
            "INSERT INTO second_factors (person_id, secret, enrolled_at, last_step) VALUES ($1, $2, $3, $4)",
        )
        .bind(person.0)
        .bind(secret.to_vec())
        .bind(now.0)
        .bind(step)
        .execute(&mut *tx)
        .await
        .map_err(|e| StoreError::foreign(e, "person", &person.to_string()))?;
        insert_codes(&mut tx, person, recovery, now).await?;
        tx.commit().await?;
        Ok(())
    }

    /// Records that a code of `step` signed `person` in: true only if no
    /// code of this step or a later one had, so each code works once.
    pub async fn accept_step(&self, person: PersonId, step: i64) -> Result<bool, StoreError> {
        let _turn = self.write_turn().await;
        let done = sqlx::query(
            "UPDATE second_factors SET last_step = $2 WHERE person_id = $1 AND last_step < $2",
        )
        .bind(person.0)
        .bind(step)
        .execute(&self.pool)
        .await?;
        Ok(done.rows_affected() == 1)
    }

    /// Uses one of `person`'s recovery codes: true if it was theirs and
    /// not used before; it never works again.
    pub async fn use_recovery_code(
        &self,
        person: PersonId,
        code: &str,
        now: Timestamp,
    ) -> Result<bool, StoreError> {
        let _turn = self.write_turn().await;
        let done = sqlx::query(
            "UPDATE recovery_codes SET used_at = $3 WHERE person_id = $1 AND hash = $2 AND used_at IS NULL",
        )
        .bind(person.0)
        .bind(chain::sha256(code))
        .bind(now.0)
        .execute(&self.pool)
        .await?;
        Ok(done.rows_affected() == 1)
    }

    /// Replaces all of `person`'s recovery codes with new ones.
    pub async fn replace_recovery_codes(
        &self,
        person: PersonId,
        recovery: &[String],
        now: Timestamp,
    ) -> Result<(), StoreError> {
        let _turn = self.write_turn().await;
        let mut tx = self.pool.begin().await?;
        sqlx::query("DELETE FROM recovery_codes WHERE person_id = $1")
            .bind(person.0)
            .execute(&mut *tx)
            .await?;
        insert_codes(&mut tx, person, recovery, now).await?;
        tx.commit().await?;
        Ok(())
    }

    /// Turns off `person`'s own second factor and deletes their recovery
    /// codes, after they proved a code from it (the web layer checks it).
    /// False if they had none.
    pub async fn remove_own_second_factor(&self, person: PersonId) -> Result<bool, StoreError> {
        self.delete_factor(person, false).await
    }

    /// Turns off `person`'s second factor for them, as a programme admin
    /// does when they lost their device (`Actor::may_reset_second_factor`).
    /// Every session of theirs ends too: whoever holds one may be why.
    /// False if they had none.
    pub async fn reset_second_factor(
        &self,
        by: &Actor,
        person: PersonId,
    ) -> Result<bool, StoreError> {
        by.may_reset_second_factor(person)?;
        self.delete_factor(person, true).await
    }

    async fn delete_factor(
        &self,
        person: PersonId,
        end_sessions: bool,
    ) -> Result<bool, StoreError> {
        let _turn = self.write_turn().await;
        let mut tx = self.pool.begin().await?;
        let exists = sqlx::query("SELECT id FROM people WHERE id = $1")
            .bind(person.0)
            .fetch_optional(&mut *tx)
            .await?;
        if exists.is_none() {
            return crate::finish(tx, Err(StoreError::NoSuchPerson(person.to_string()))).await;
        }
        sqlx::query("DELETE FROM recovery_codes WHERE person_id = $1")
            .bind(person.0)
            .execute(&mut *tx)
            .await?;
        let done = sqlx::query("DELETE FROM second_factors WHERE person_id = $1")
            .bind(person.0)
            .execute(&mut *tx)
            .await?;
        if end_sessions {
            sqlx::query("DELETE FROM sessions WHERE person_id = $1")
                .bind(person.0)
                .execute(&mut *tx)
                .await?;
        }
        tx.commit().await?;
        Ok(done.rows_affected() == 1)
    }
}

async fn insert_codes(
    tx: &mut sqlx::Transaction<'_, sqlx::Any>,
    person: PersonId,
    recovery: &[String],
    now: Timestamp,
) -> Result<(), StoreError> {
    for code in recovery {
        sqlx::query("INSERT INTO recovery_codes (person_id, hash, created_at) VALUES ($1, $2, $3)")
            .bind(person.0)
            .bind(chain::sha256(code))
            .bind(now.0)
            .execute(&mut **tx)
            .await?;
    }
    Ok(())
}
