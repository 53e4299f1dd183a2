//! Passkeys: WebAuthn credentials a person registered as their second
//! factor, kept as the web layer's WebAuthn library encodes them.
//!
//! The store keeps the rules that need the rows: at most
//! [`PASSKEYS_MAX`](waymark_core::factor::PASSKEYS_MAX) per person, counted
//! in the transaction that adds one (on PostgreSQL, with the person's row
//! held, so two instances adding at once cannot pass the bound); a
//! credential registered once across everyone; recovery codes made with a
//! person's first factor of any kind and dropped with their last; and a
//! signature counter replaced only if it is still what was read, so one
//! assertion signs in once even on two instances.

use sqlx::Row;
use waymark_core::{PersonId, Timestamp};

use crate::{Backend, Store, StoreError};

/// A registered passkey.
#[derive(Clone, PartialEq, Eq)]
pub struct Passkey {
    pub id: i64,
    pub person: PersonId,
    /// The credential's id, as the authenticator gave it.
    pub credential_id: Vec<u8>,
    /// The random handle the authenticator keeps for the person.
    pub user_handle: Vec<u8>,
    /// How the browser may reach the authenticator (encoded).
    pub transports: Vec<u8>,
    /// The public key and what never changes (encoded).
    pub static_state: Vec<u8>,
    /// The signature counter and flags (encoded).
    pub dynamic_state: Vec<u8>,
    pub name: String,
    pub created_at: Timestamp,
    pub last_used_at: Option<Timestamp>,
}

impl std::fmt::Debug for Passkey {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Passkey")
            .field("id", &self.id)
            .field("person", &self.person)
            .field("name", &self.name)
            .field("created_at", &self.created_at)
            .field("last_used_at", &self.last_used_at)
            .finish_non_exhaustive()
    }
}

/// A passkey as its owner's pages and the API show it: never its key.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct PasskeyInfo {
    pub id: i64,
    /// The name its owner gave it.
    pub name: String,
    pub created_at: Timestamp,
    pub last_used_at: Option<Timestamp>,
}

impl Passkey {
    /// What may be shown of it.
    pub fn info(&self) -> PasskeyInfo {
        PasskeyInfo {
            id: self.id,
            name: self.name.clone(),
            created_at: self.created_at,
            last_used_at: self.last_used_at,
        }
    }
}

/// A passkey just registered, as the web layer verified it.
#[derive(Debug, Clone, Copy)]
pub struct NewPasskey<'a> {
    pub credential_id: &'a [u8],
    pub user_handle: &'a [u8],
    pub transports: &'a [u8],
    pub static_state: &'a [u8],
    pub dynamic_state: &'a [u8],
    /// Checked already (`waymark_core::factor::passkey_name`).
    pub name: &'a str,
}

/// What adding a passkey did.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Added {
    pub id: i64,
    /// True when it was the person's first second factor of any kind: the
    /// recovery codes given were kept, and are to be shown once.
    pub first_factor: bool,
}

const COLUMNS: &str = "id, person_id, credential_id, user_handle, transports, static_state, \
                       dynamic_state, name, created_at, last_used_at";

fn passkey(r: &sqlx::any::AnyRow) -> Result<Passkey, StoreError> {
    Ok(Passkey {
        id: r.try_get("id")?,
        person: PersonId(r.try_get("person_id")?),
        credential_id: r.try_get("credential_id")?,
        user_handle: r.try_get("user_handle")?,
        transports: r.try_get("transports")?,
        static_state: r.try_get("static_state")?,
        dynamic_state: r.try_get("dynamic_state")?,
        name: r.try_get("name")?,
        created_at: Timestamp(r.try_get("created_at")?),
        last_used_at: r.try_get::<Option<i64>, _>("last_used_at")?.map(Timestamp),
    })
}

impl Store {
    /// `person`'s passkeys, oldest first.
    pub async fn passkeys_of(&self, person: PersonId) -> Result<Vec<Passkey>, StoreError> {
        let rows = sqlx::query(&format!(
            "SELECT {COLUMNS} FROM passkeys WHERE person_id = $1 ORDER BY id"
        ))
        .bind(person.0)
        .fetch_all(&self.pool)
        .await?;
        rows.iter().map(passkey).collect()
    }

    /// Keeps `person`'s new passkey. When it is their first second factor
    /// of any kind, `recovery` becomes their recovery codes (any left from
    /// before are replaced) and [`Added::first_factor`] says so. Refused
    /// past the bound, for a credential registered already (by anyone),
    /// and for a person who is not there or was deactivated meanwhile.
    pub async fn add_passkey(
        &self,
        person: PersonId,
        new: NewPasskey<'_>,
        recovery: &[String],
        now: Timestamp,
    ) -> Result<Added, StoreError> {
        let _turn = self.write_turn().await;
        let mut tx = self.begin_write().await?;
        let hold = match self.backend {
            Backend::Postgres => " FOR UPDATE",
            Backend::Sqlite => "",
        };
        let live = sqlx::query(&format!(
            "SELECT deactivated_at, removed_at FROM people WHERE id = $1{hold}"
        ))
        .bind(person.0)
        .fetch_optional(&mut *tx)
        .await?;
        let gone = match &live {
            None => true,
            Some(r) => {
                r.try_get::<Option<i64>, _>("deactivated_at")?.is_some()
                    || r.try_get::<Option<i64>, _>("removed_at")?.is_some()
            }
        };
        if gone {
            return crate::finish(tx, Err(StoreError::NoSuchPerson(person.to_string()))).await;
        }
        let have: i64 = sqlx::query("SELECT COUNT(*) FROM passkeys WHERE person_id = $1")
            .bind(person.0)
            .fetch_one(&mut *tx)
            .await?
            .try_get(0)?;
        if let Err(e) = waymark_core::factor::may_add_passkey(usize::try_from(have).unwrap_or(0)) {
            return crate::finish(tx, Err(e.into())).await;
        }
        let totp = sqlx::query("SELECT 1 FROM second_factors WHERE person_id = $1")
            .bind(person.0)
            .fetch_optional(&mut *tx)
            .await?;
        let first_factor = have == 0 && totp.is_none();
        let id: i64 = match sqlx::query(
            "INSERT INTO passkeys (person_id, credential_id, user_handle, transports, static_state, \
             dynamic_state, name, created_at) VALUES ($1, $2, $3, $4, $5, $6, $7, $8) RETURNING id",
        )
        .bind(person.0)
        .bind(new.credential_id.to_vec())
        .bind(new.user_handle.to_vec())
        .bind(new.transports.to_vec())
        .bind(new.static_state.to_vec())
        .bind(new.dynamic_state.to_vec())
        .bind(new.name)
        .bind(now.0)
        .fetch_one(&mut *tx)
        .await
        {
            Ok(r) => r.try_get(0)?,
            Err(e) => {
                let e = StoreError::unique(e, "passkey", "this passkey is registered already");
                return crate::finish(tx, Err(e)).await;
            }
        };
        if first_factor {
            sqlx::query("DELETE FROM recovery_codes WHERE person_id = $1")
                .bind(person.0)
                .execute(&mut *tx)
                .await?;
            crate::factor::insert_codes(&mut tx, person, recovery, now).await?;
        }
        tx.commit().await?;
        Ok(Added { id, first_factor })
    }

    /// Records that passkey `id` of `person` signed them in: its state
    /// becomes `after` (when the signature moved it) and its last use
    /// `now`, but only if its state is still `before`. False when another
    /// sign-in moved it first, or it was removed meanwhile: the assertion
    /// then does not count.
    pub async fn passkey_used(
        &self,
        person: PersonId,
        id: i64,
        before: &[u8],
        after: &[u8],
        now: Timestamp,
    ) -> Result<bool, StoreError> {
        let _turn = self.write_turn().await;
        let done = sqlx::query(
            "UPDATE passkeys SET dynamic_state = $4, last_used_at = $5 \
             WHERE id = $1 AND person_id = $2 AND dynamic_state = $3",
        )
        .bind(id)
        .bind(person.0)
        .bind(before.to_vec())
        .bind(after.to_vec())
        .bind(now.0)
        .execute(&self.pool)
        .await?;
        Ok(done.rows_affected() == 1)
    }

    /// Records that the ceremony whose server half is `state` was answered
    /// (its SHA-256 is kept, not the state): true the first time, false
    /// ever after, so that two answers racing from one session (or two
    /// instances) count once. Records older than ten minutes go
    /// (ceremonies last five).
    pub async fn spend_ceremony(&self, state: &str, now: Timestamp) -> Result<bool, StoreError> {
        let key = crate::chain::sha256(state);
        let _turn = self.write_turn().await;
        let mut tx = self.begin_write().await?;
        sqlx::query("DELETE FROM spent_ceremonies WHERE spent_at < $1")
            .bind(now.0 - 600)
            .execute(&mut *tx)
            .await?;
        let spent = sqlx::query("INSERT INTO spent_ceremonies (key, spent_at) VALUES ($1, $2)")
            .bind(&key)
            .bind(now.0)
            .execute(&mut *tx)
            .await;
        match spent {
            Ok(_) => {
                tx.commit().await?;
                Ok(true)
            }
            Err(e) if crate::error::is_unique_violation(&e) => {
                tx.rollback().await?;
                Ok(false)
            }
            Err(e) => Err(e.into()),
        }
    }

    /// Removes `person`'s passkey `id` (the web layer checked a proof of
    /// their factor first). When it was their last second factor, their
    /// recovery codes go too. False if they had no such passkey.
    pub async fn remove_passkey(&self, person: PersonId, id: i64) -> Result<bool, StoreError> {
        let _turn = self.write_turn().await;
        let mut tx = self.begin_write().await?;
        let done = sqlx::query("DELETE FROM passkeys WHERE id = $1 AND person_id = $2")
            .bind(id)
            .bind(person.0)
            .execute(&mut *tx)
            .await?;
        if done.rows_affected() == 1 {
            crate::factor::drop_codes_without_factor(&mut tx, person).await?;
        }
        tx.commit().await?;
        Ok(done.rows_affected() == 1)
    }
}
