//! Second factors: each person's authenticator key, the last step whose
//! code was accepted, and their recovery codes (kept as SHA-256 hashes).
//! Passkeys, the other kind, are `passkeys.rs`'s; recovery codes belong to
//! the person whichever kinds they have, and go with the last of them.
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

    /// Whether `person` has a second factor of any kind, an authenticator
    /// app or a passkey (indexed reads, asked on every request of those who
    /// must have one).
    pub async fn has_second_factor(&self, person: PersonId) -> Result<bool, StoreError> {
        let row = sqlx::query(
            "SELECT 1 FROM second_factors WHERE person_id = $1 \
             UNION ALL SELECT 1 FROM passkeys WHERE person_id = $1 LIMIT 1",
        )
        .bind(person.0)
        .fetch_optional(&self.pool)
        .await?;
        Ok(row.is_some())
    }

    /// How many of `person`'s recovery codes are not used yet.
    pub async fn recovery_left(&self, person: PersonId) -> Result<i64, StoreError> {
        let row = sqlx::query(
            "SELECT COUNT(*) FROM recovery_codes WHERE person_id = $1 AND used_at IS NULL",
        )
        .bind(person.0)
        .fetch_one(&self.pool)
        .await?;
        Ok(row.try_get(0)?)
    }

    /// Keeps `person`'s new authenticator key, confirmed by a code of
    /// `step` (so that code cannot sign in again), and, when it is their
    /// first second factor of any kind, `recovery` as their recovery codes:
    /// true then, and the codes are to be shown once. Refused as a
    /// duplicate if they already have a key: the old one is turned off
    /// first, with a code from it.
    pub async fn enrol_second_factor(
        &self,
        person: PersonId,
        secret: &[u8],
        step: i64,
        recovery: &[String],
        now: Timestamp,
    ) -> Result<bool, StoreError> {
        let _turn = self.write_turn().await;
        let mut tx = self.begin_write().await?;
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
        // One with passkeys has recovery codes already, shown when the
        // first passkey was added: those stay.
        let passkeys = sqlx::query("SELECT 1 FROM passkeys WHERE person_id = $1 LIMIT 1")
            .bind(person.0)
            .fetch_optional(&mut *tx)
            .await?;
        let first_factor = passkeys.is_none();
        if first_factor {
            sqlx::query("DELETE FROM recovery_codes WHERE person_id = $1")
                .bind(person.0)
                .execute(&mut *tx)
                .await?;
            insert_codes(&mut tx, person, recovery, now).await?;
        }
        tx.commit().await?;
        Ok(first_factor)
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
        let mut tx = self.begin_write().await?;
        sqlx::query("DELETE FROM recovery_codes WHERE person_id = $1")
            .bind(person.0)
            .execute(&mut *tx)
            .await?;
        insert_codes(&mut tx, person, recovery, now).await?;
        tx.commit().await?;
        Ok(())
    }

    /// Turns off `person`'s own authenticator app, after they proved a code
    /// (the web layer checks it); their recovery codes go too unless they
    /// keep passkeys. False if they had no app.
    pub async fn remove_own_second_factor(&self, person: PersonId) -> Result<bool, StoreError> {
        self.delete_factor(person, false).await
    }

    /// Turns off every second factor of `person`'s (their app, their
    /// passkeys and their recovery codes), as a programme admin does when
    /// they lost their device (`Actor::may_reset_second_factor`). Every
    /// session of theirs ends too: whoever holds one may be why. False if
    /// they had none.
    pub async fn reset_second_factor(
        &self,
        by: &Actor,
        person: PersonId,
    ) -> Result<bool, StoreError> {
        by.may_reset_second_factor(person)?;
        self.delete_factor(person, true).await
    }

    /// Deletes `person`'s authenticator app; with `everything`, their
    /// passkeys and sessions too (an admin's reset).
    async fn delete_factor(&self, person: PersonId, everything: bool) -> Result<bool, StoreError> {
        let _turn = self.write_turn().await;
        let mut tx = self.begin_write().await?;
        let exists = sqlx::query("SELECT id FROM people WHERE id = $1")
            .bind(person.0)
            .fetch_optional(&mut *tx)
            .await?;
        if exists.is_none() {
            return crate::finish(tx, Err(StoreError::NoSuchPerson(person.to_string()))).await;
        }
        let mut removed = sqlx::query("DELETE FROM second_factors WHERE person_id = $1")
            .bind(person.0)
            .execute(&mut *tx)
            .await?
            .rows_affected();
        if everything {
            removed += sqlx::query("DELETE FROM passkeys WHERE person_id = $1")
                .bind(person.0)
                .execute(&mut *tx)
                .await?
                .rows_affected();
            sqlx::query("DELETE FROM sessions WHERE person_id = $1")
                .bind(person.0)
                .execute(&mut *tx)
                .await?;
        }
        drop_codes_without_factor(&mut tx, person).await?;
        tx.commit().await?;
        Ok(removed > 0)
    }
}

/// Deletes `person`'s recovery codes if they have no second factor left.
pub(crate) async fn drop_codes_without_factor(
    tx: &mut sqlx::Transaction<'_, sqlx::Any>,
    person: PersonId,
) -> Result<(), StoreError> {
    sqlx::query(
        "DELETE FROM recovery_codes WHERE person_id = $1 \
         AND NOT EXISTS (SELECT 1 FROM second_factors WHERE person_id = $1) \
         AND NOT EXISTS (SELECT 1 FROM passkeys WHERE person_id = $1)",
    )
    .bind(person.0)
    .execute(&mut **tx)
    .await?;
    Ok(())
}

pub(crate) async fn insert_codes(
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
