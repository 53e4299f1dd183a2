//! Signing in: password hashes, one-time invite links, failed attempts for
//! the rate limit, and session rows. Everything lives in the database, so
//! any number of `waymark serve` instances share it; nothing is held in one
//! process's memory.
//!
//! The store keeps what it is given: hashing passwords (argon2id) and
//! deciding what a session holds belong to the web layer.

use sqlx::Row;
use waymark_core::{Email, NewPerson, PersonId, Timestamp};

use crate::{Store, StoreError, chain};

/// What an invite link leads to.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Invite {
    pub person: PersonId,
    pub name: String,
    pub email: String,
}

impl Store {
    /// The person with this email and their password hash (None until they
    /// have set a password).
    pub async fn credentials(
        &self,
        email: &Email,
    ) -> Result<Option<(PersonId, Option<String>)>, StoreError> {
        let row = sqlx::query(
            "SELECT id, password_hash FROM people WHERE email = $1 AND deactivated_at IS NULL",
        )
        .bind(email.as_str())
        .fetch_optional(&self.pool)
        .await?;
        row.map(|r| Ok((PersonId(r.try_get("id")?), r.try_get("password_hash")?)))
            .transpose()
    }

    pub async fn set_password_hash(&self, person: PersonId, hash: &str) -> Result<(), StoreError> {
        let done = sqlx::query("UPDATE people SET password_hash = $1 WHERE id = $2")
            .bind(hash)
            .bind(person.0)
            .execute(&self.pool)
            .await?;
        if done.rows_affected() == 0 {
            return Err(StoreError::NoSuchPerson(person.to_string()));
        }
        Ok(())
    }

    /// A one-time link token for `person` to set their password, valid
    /// until `expires`. Only its hash is kept.
    pub async fn create_invite(
        &self,
        person: PersonId,
        by: PersonId,
        now: Timestamp,
        expires: Timestamp,
    ) -> Result<String, StoreError> {
        let mut conn = self.pool.acquire().await?;
        insert_invite(&mut conn, person, by, now, expires).await
    }

    /// Whether anyone can sign in yet: a person with a password.
    pub async fn has_accounts(&self) -> Result<bool, StoreError> {
        let row = sqlx::query("SELECT COUNT(*) FROM people WHERE password_hash IS NOT NULL")
            .fetch_one(&self.pool)
            .await?;
        Ok(row.try_get::<i64, _>(0)? > 0)
    }

    /// A new one-time link to create the first admin, while nobody has an
    /// account (else `None`). Links printed before stop working: only the
    /// newest is live.
    pub async fn create_setup_link(
        &self,
        now: Timestamp,
        expires: Timestamp,
    ) -> Result<Option<String>, StoreError> {
        if self.has_accounts().await? {
            return Ok(None);
        }
        let token = random_token()?;
        // In turn with this process's other writers: the guide's pages are
        // indexed while serve starts, and SQLite cannot upgrade a read to a
        // write under another writer's commit.
        let _turn = self.write_turn().await;
        let mut tx = self.begin_write().await?;
        sqlx::query("DELETE FROM setup_links WHERE used_at IS NULL")
            .execute(&mut *tx)
            .await?;
        sqlx::query("INSERT INTO setup_links (hash, created_at, expires_at) VALUES ($1, $2, $3)")
            .bind(chain::sha256(&token))
            .bind(now.0)
            .bind(expires.0)
            .execute(&mut *tx)
            .await?;
        tx.commit().await?;
        Ok(Some(token))
    }

    /// Whether a setup link is live: unused, unexpired, and nobody has an
    /// account yet.
    pub async fn setup_link_live(&self, token: &str, now: Timestamp) -> Result<bool, StoreError> {
        let row = sqlx::query(
            "SELECT COUNT(*) FROM setup_links WHERE hash = $1 AND used_at IS NULL AND expires_at > $2",
        )
        .bind(chain::sha256(token))
        .bind(now.0)
        .fetch_one(&self.pool)
        .await?;
        Ok(row.try_get::<i64, _>(0)? == 1 && !self.has_accounts().await?)
    }

    /// Spends a setup link and creates the first programme admin with their
    /// password, in one transaction: a link works once, and not at all once
    /// anyone has an account (two tabs racing make one admin). `None` when
    /// the link is spent, expired or unknown.
    pub async fn setup_first_admin(
        &self,
        token: &str,
        p: &waymark_core::NewPerson,
        password_hash: &str,
        now: Timestamp,
    ) -> Result<Option<PersonId>, StoreError> {
        let mut tx = self.pool.begin().await?;
        if !spend(&mut tx, OneTime::Setup, token, now).await? {
            return Ok(None);
        }
        let accounts = sqlx::query("SELECT COUNT(*) FROM people WHERE password_hash IS NOT NULL")
            .fetch_one(&mut *tx)
            .await?;
        if accounts.try_get::<i64, _>(0)? > 0 {
            return Ok(None);
        }
        let row = sqlx::query(
            "INSERT INTO people (name, email, created_at, password_hash) VALUES ($1, $2, $3, $4) RETURNING id",
        )
        .bind(&p.name)
        .bind(p.email.as_str())
        .bind(now.0)
        .bind(password_hash)
        .fetch_one(&mut *tx)
        .await
        .map_err(|e| StoreError::unique(e, "email", p.email.as_str()))?;
        let id = PersonId(row.try_get(0)?);
        sqlx::query("INSERT INTO memberships (person_id, role) VALUES ($1, $2)")
            .bind(id.0)
            .bind(crate::json(&waymark_core::Role::ProgrammeAdmin)?)
            .execute(&mut *tx)
            .await?;
        tx.commit().await?;
        Ok(Some(id))
    }

    /// The person an unused, unexpired invite is for.
    pub async fn invite(&self, token: &str, now: Timestamp) -> Result<Option<Invite>, StoreError> {
        let row = sqlx::query(
            "SELECT p.id, p.name, p.email, p.deactivated_at FROM invites i JOIN people p ON p.id = i.person_id \
             WHERE i.hash = $1 AND i.used_at IS NULL AND i.expires_at > $2 AND p.deactivated_at IS NULL",
        )
        .bind(chain::sha256(token))
        .bind(now.0)
        .fetch_optional(&self.pool)
        .await?;
        row.map(|r| {
            Ok(Invite {
                person: PersonId(r.try_get("id")?),
                name: r.try_get("name")?,
                email: r.try_get("email")?,
            })
        })
        .transpose()
    }

    /// Uses an invite: sets the password and spends the link, in one
    /// transaction, so a link works once even when two tabs race.
    pub async fn accept_invite(
        &self,
        token: &str,
        password_hash: &str,
        now: Timestamp,
    ) -> Result<Option<PersonId>, StoreError> {
        let mut tx = self.pool.begin().await?;
        if !spend(&mut tx, OneTime::Invite, token, now).await? {
            return Ok(None);
        }
        let row = sqlx::query("SELECT person_id FROM invites WHERE hash = $1")
            .bind(chain::sha256(token))
            .fetch_one(&mut *tx)
            .await?;
        let person = PersonId(row.try_get(0)?);
        sqlx::query("UPDATE people SET password_hash = $1 WHERE id = $2")
            .bind(password_hash)
            .bind(person.0)
            .execute(&mut *tx)
            .await?;
        tx.commit().await?;
        Ok(Some(person))
    }

    /// Someone registers for the community: queues, in one transaction,
    /// the mail `mail` writes: with `Some(token)`, a new registration's
    /// verification link (valid until `expires`); with `None`, the address
    /// already has an account, and nothing else is kept. The form says the
    /// same either way, so nobody learns who has an account.
    pub async fn register(
        &self,
        p: &NewPerson,
        mail: impl FnOnce(Option<&str>) -> crate::Mail,
        now: Timestamp,
        expires: Timestamp,
    ) -> Result<(), StoreError> {
        let mut tx = self.pool.begin().await?;
        let exists: Option<i64> = sqlx::query_scalar("SELECT id FROM people WHERE email = $1")
            .bind(p.email.as_str())
            .fetch_optional(&mut *tx)
            .await?;
        let m = match exists {
            Some(_) => mail(None),
            None => {
                let token = random_token()?;
                sqlx::query(
                    "INSERT INTO registrations (hash, name, email, created_at, expires_at) VALUES ($1, $2, $3, $4, $5)",
                )
                .bind(chain::sha256(&token))
                .bind(&p.name)
                .bind(p.email.as_str())
                .bind(now.0)
                .bind(expires.0)
                .execute(&mut *tx)
                .await?;
                mail(Some(&token))
            }
        };
        crate::outbox::queue(&mut tx, &m, now).await?;
        tx.commit().await?;
        Ok(())
    }

    /// The name and address an unused, unexpired registration link is for.
    pub async fn registration(
        &self,
        token: &str,
        now: Timestamp,
    ) -> Result<Option<NewPerson>, StoreError> {
        let row = sqlx::query(
            "SELECT r.name, r.email FROM registrations r WHERE r.hash = $1 AND r.used_at IS NULL AND r.expires_at > $2 \
             AND NOT EXISTS (SELECT 1 FROM people p WHERE p.email = r.email)",
        )
        .bind(chain::sha256(token))
        .bind(now.0)
        .fetch_optional(&self.pool)
        .await?;
        row.map(|r| {
            Ok(NewPerson {
                name: r.try_get("name")?,
                email: Email::parse(&r.try_get::<String, _>("email")?)
                    .map_err(|e| StoreError::Corrupt(e.to_string()))?,
            })
        })
        .transpose()
    }

    /// Follows a registration link: makes the account (no role) with its
    /// password and spends the link, in one transaction. `None` when the
    /// link is spent, expired or unknown; a duplicate when the address got
    /// an account meanwhile (the link stays unspent).
    pub async fn complete_registration(
        &self,
        token: &str,
        password_hash: &str,
        now: Timestamp,
    ) -> Result<Option<PersonId>, StoreError> {
        let mut tx = self.pool.begin().await?;
        if !spend(&mut tx, OneTime::Registration, token, now).await? {
            return Ok(None);
        }
        let r = sqlx::query("SELECT name, email FROM registrations WHERE hash = $1")
            .bind(chain::sha256(token))
            .fetch_one(&mut *tx)
            .await?;
        let email: String = r.try_get("email")?;
        let id: i64 = sqlx::query_scalar(
            "INSERT INTO people (name, email, created_at, password_hash) VALUES ($1, $2, $3, $4) RETURNING id",
        )
        .bind(r.try_get::<String, _>("name")?)
        .bind(&email)
        .bind(now.0)
        .bind(password_hash)
        .fetch_one(&mut *tx)
        .await
        .map_err(|e| StoreError::unique(e, "email", &email))?;
        // The address's other links are spent with this one.
        sqlx::query("UPDATE registrations SET used_at = $1 WHERE email = $2 AND used_at IS NULL")
            .bind(now.0)
            .bind(&email)
            .execute(&mut *tx)
            .await?;
        tx.commit().await?;
        Ok(Some(PersonId(id)))
    }

    /// Notes a failed sign-in under `key` ("account:…" or "address:…").
    pub async fn record_sign_in_failure(
        &self,
        key: &str,
        now: Timestamp,
    ) -> Result<(), StoreError> {
        // Every write to the counts takes the writer's turn, so that a
        // counted attempt (`reserve_attempt`) never meets another writer
        // mid-transaction (SQLite refuses that at once, without waiting).
        let _turn = self.write_turn().await;
        sqlx::query("INSERT INTO sign_in_failures (key, at) VALUES ($1, $2)")
            .bind(key)
            .bind(now.0)
            .execute(&self.pool)
            .await?;
        Ok(())
    }

    /// Counts an attempt under `key` before it is checked, if fewer than
    /// `limit` were made since `since`: `Some(seconds to wait)` if not. The
    /// count and the insert are one step (SQLite's single writer; a
    /// PostgreSQL advisory lock on the key), so attempts sent all at once
    /// are counted one after another and no more than `limit` get through.
    /// The attempt stays counted as a failure unless the caller clears the
    /// key after it succeeded.
    pub async fn reserve_attempt(
        &self,
        key: &str,
        limit: u32,
        since: Timestamp,
        now: Timestamp,
    ) -> Result<Option<i64>, StoreError> {
        let _turn = self.write_turn().await;
        let mut tx = self.begin_write().await?;
        if self.backend == crate::Backend::Postgres {
            let digest = chain::sha256(key);
            let lock = i64::from_str_radix(&digest[..15], 16)
                .map_err(|e| StoreError::Corrupt(format!("lock key: {e}")))?;
            sqlx::query("SELECT pg_advisory_xact_lock($1)")
                .bind(lock)
                .execute(&mut *tx)
                .await?;
        }
        let row = sqlx::query(
            "SELECT COUNT(*) AS failures, MIN(at) AS oldest FROM sign_in_failures WHERE key = $1 AND at > $2",
        )
        .bind(key)
        .bind(since.0)
        .fetch_one(&mut *tx)
        .await?;
        let n: i64 = row.try_get("failures")?;
        if n >= i64::from(limit) {
            let oldest: Option<i64> = row.try_get("oldest")?;
            let window = now.0 - since.0;
            let wait = oldest.map_or(window, |o| o + window - now.0).max(1);
            return crate::finish(tx, Ok(Some(wait))).await;
        }
        sqlx::query("INSERT INTO sign_in_failures (key, at) VALUES ($1, $2)")
            .bind(key)
            .bind(now.0)
            .execute(&mut *tx)
            .await?;
        tx.commit().await?;
        Ok(None)
    }

    /// Ends every session of `person` but `keep` (the one asking): after
    /// their second factor is set up, a session that signed in without it
    /// signs in again.
    pub async fn end_other_sessions(
        &self,
        person: PersonId,
        keep: &str,
    ) -> Result<u64, StoreError> {
        let done = sqlx::query("DELETE FROM sessions WHERE person_id = $1 AND id <> $2")
            .bind(person.0)
            .bind(keep)
            .execute(&self.pool)
            .await?;
        Ok(done.rows_affected())
    }

    /// How many failures `key` had since `since`, and the oldest of them.
    pub async fn sign_in_failures(
        &self,
        key: &str,
        since: Timestamp,
    ) -> Result<(u32, Option<Timestamp>), StoreError> {
        let row = sqlx::query(
            "SELECT COUNT(*) AS failures, MIN(at) AS oldest FROM sign_in_failures WHERE key = $1 AND at > $2",
        )
        .bind(key)
        .bind(since.0)
        .fetch_one(&self.pool)
        .await?;
        let n: i64 = row.try_get("failures")?;
        let oldest: Option<i64> = row.try_get("oldest")?;
        Ok((n as u32, oldest.map(Timestamp)))
    }

    /// Forgets an account's failures after it signs in, and every failure
    /// older than `before`.
    pub async fn clear_sign_in_failures(
        &self,
        key: &str,
        before: Timestamp,
    ) -> Result<(), StoreError> {
        let _turn = self.write_turn().await;
        sqlx::query("DELETE FROM sign_in_failures WHERE key = $1 OR at < $2")
            .bind(key)
            .bind(before.0)
            .execute(&self.pool)
            .await?;
        Ok(())
    }

    /// A session row: its data (JSON) and expiry, if it has not expired at `now`.
    pub async fn session(
        &self,
        id: &str,
        now: Timestamp,
    ) -> Result<Option<(String, Timestamp)>, StoreError> {
        let row =
            sqlx::query("SELECT data, expires_at FROM sessions WHERE id = $1 AND expires_at > $2")
                .bind(id)
                .bind(now.0)
                .fetch_optional(&self.pool)
                .await?;
        row.map(|r| Ok((r.try_get("data")?, Timestamp(r.try_get("expires_at")?))))
            .transpose()
    }

    /// Inserts a new session (whose, once signed in); false if the id is
    /// taken.
    pub async fn create_session(
        &self,
        id: &str,
        data: &str,
        expires: Timestamp,
        person: Option<PersonId>,
    ) -> Result<bool, StoreError> {
        let done = sqlx::query(
            "INSERT INTO sessions (id, data, expires_at, person_id) VALUES ($1, $2, $3, $4) ON CONFLICT (id) DO NOTHING",
        )
        .bind(id)
        .bind(data)
        .bind(expires.0)
        .bind(person.map(|p| p.0))
        .execute(&self.pool)
        .await?;
        Ok(done.rows_affected() == 1)
    }

    pub async fn save_session(
        &self,
        id: &str,
        data: &str,
        expires: Timestamp,
        person: Option<PersonId>,
    ) -> Result<(), StoreError> {
        sqlx::query(
            "INSERT INTO sessions (id, data, expires_at, person_id) VALUES ($1, $2, $3, $4) \
             ON CONFLICT (id) DO UPDATE SET data = excluded.data, expires_at = excluded.expires_at, \
             person_id = excluded.person_id",
        )
        .bind(id)
        .bind(data)
        .bind(expires.0)
        .bind(person.map(|p| p.0))
        .execute(&self.pool)
        .await?;
        Ok(())
    }

    pub async fn delete_session(&self, id: &str) -> Result<(), StoreError> {
        sqlx::query("DELETE FROM sessions WHERE id = $1")
            .bind(id)
            .execute(&self.pool)
            .await?;
        Ok(())
    }

    /// A person's live sessions: each one's id, data (JSON) and expiry,
    /// soonest to expire last. For the person themselves only: ids are
    /// secrets.
    pub async fn sessions_of(
        &self,
        person: PersonId,
        now: Timestamp,
    ) -> Result<Vec<(String, String, Timestamp)>, StoreError> {
        let rows = sqlx::query(
            "SELECT id, data, expires_at FROM sessions WHERE person_id = $1 AND expires_at > $2 \
             ORDER BY expires_at DESC, id",
        )
        .bind(person.0)
        .bind(now.0)
        .fetch_all(&self.pool)
        .await?;
        rows.iter()
            .map(|r| {
                Ok((
                    r.try_get("id")?,
                    r.try_get("data")?,
                    Timestamp(r.try_get("expires_at")?),
                ))
            })
            .collect()
    }

    /// Ends one of a person's sessions; false if they have no such session.
    pub async fn end_session_of(&self, person: PersonId, id: &str) -> Result<bool, StoreError> {
        let done = sqlx::query("DELETE FROM sessions WHERE id = $1 AND person_id = $2")
            .bind(id)
            .bind(person.0)
            .execute(&self.pool)
            .await?;
        Ok(done.rows_affected() > 0)
    }

    /// Removes expired sessions; returns how many.
    pub async fn delete_expired_sessions(&self, now: Timestamp) -> Result<u64, StoreError> {
        let done = sqlx::query("DELETE FROM sessions WHERE expires_at <= $1")
            .bind(now.0)
            .execute(&self.pool)
            .await?;
        Ok(done.rows_affected())
    }
}

/// 256 random bits as hex, for tokens and form keys.
/// Makes an invitation for `person` to set their password (see
/// [`Store::create_invite`]) on `conn`, inside the caller's transaction if
/// it has one; returns its token.
pub(crate) async fn insert_invite(
    conn: &mut sqlx::AnyConnection,
    person: PersonId,
    by: PersonId,
    now: Timestamp,
    expires: Timestamp,
) -> Result<String, StoreError> {
    let token = random_token()?;
    sqlx::query(
        "INSERT INTO invites (hash, person_id, created_by, created_at, expires_at) VALUES ($1, $2, $3, $4, $5)",
    )
    .bind(chain::sha256(&token))
    .bind(person.0)
    .bind(by.0)
    .bind(now.0)
    .bind(expires.0)
    .execute(&mut *conn)
    .await
    .map_err(|e| StoreError::foreign(e, "person", &person.to_string()))?;
    Ok(token)
}

pub fn random_token() -> Result<String, StoreError> {
    Ok(chain::hex(&random_bytes::<32>()?))
}

/// `N` bytes from the operating system's randomness (keys, codes).
pub fn random_bytes<const N: usize>() -> Result<[u8; N], StoreError> {
    let mut bytes = [0u8; N];
    getrandom::fill(&mut bytes)
        .map_err(|e| StoreError::Corrupt(format!("no randomness available: {e}")))?;
    Ok(bytes)
}

/// The one-time links: an invite, the first run's setup link, and a
/// community registration's verification link.
#[derive(Clone, Copy)]
enum OneTime {
    Invite,
    Setup,
    Registration,
}

/// Spends a one-time link inside `tx`: `true` only for the one caller that
/// found it unused and unexpired (a link works once even when two tabs race).
async fn spend(
    tx: &mut sqlx::Transaction<'_, sqlx::Any>,
    kind: OneTime,
    token: &str,
    now: Timestamp,
) -> Result<bool, StoreError> {
    let sql = match kind {
        OneTime::Invite => {
            "UPDATE invites SET used_at = $1 WHERE hash = $2 AND used_at IS NULL AND expires_at > $1"
        }
        OneTime::Setup => {
            "UPDATE setup_links SET used_at = $1 WHERE hash = $2 AND used_at IS NULL AND expires_at > $1"
        }
        OneTime::Registration => {
            "UPDATE registrations SET used_at = $1 WHERE hash = $2 AND used_at IS NULL AND expires_at > $1"
        }
    };
    let spent = sqlx::query(sql)
        .bind(now.0)
        .bind(chain::sha256(token))
        .execute(&mut **tx)
        .await?;
    Ok(spent.rows_affected() == 1)
}
