//! Sign-in identities: which OpenID provider's subject is which person.
//!
//! The store carries out what `waymark_core::oidc::decide` decided: it
//! reads the two accounts the rule compares (the one linked to the subject,
//! the one with the address), links a subject to a person, or makes a
//! member of an agency and links them, in one transaction. A subject links
//! to one person only (the table's key), so two first sign-ins racing end
//! with one link, which both then follow.

use sqlx::Row;
use waymark_core::oidc::{Found, Outcome};
use waymark_core::{Abbreviation, Actor, Email, PersonId, Role, Timestamp};

use crate::{Store, StoreError, json};

/// What unlinking a provider account did.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Unlinked {
    /// No such account is linked to the person (unlinked already, say):
    /// nothing changed.
    NotLinked,
    Done {
        /// Whether the person's sessions and API tokens ended with it (a
        /// programme admin's unlinking of someone else's).
        cut_off: bool,
        /// When it was their only way in: the token of an invitation to set
        /// a password, for the mail that tells them.
        password_link: Option<String>,
    },
}

/// One provider account linked to a person, as their settings page lists it.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct LinkedIdentity {
    pub issuer: String,
    pub subject: String,
    pub linked_at: Timestamp,
    pub last_used_at: Timestamp,
}

/// Whether `person` has a password, and whether they are active: what the
/// rules about their ways in ask.
async fn way_in(
    conn: &mut sqlx::AnyConnection,
    person: PersonId,
) -> Result<(bool, bool), StoreError> {
    let row = sqlx::query("SELECT password_hash, deactivated_at FROM people WHERE id = $1")
        .bind(person.0)
        .fetch_optional(&mut *conn)
        .await?
        .ok_or_else(|| StoreError::NoSuchPerson(person.to_string()))?;
    let password: Option<String> = row.try_get("password_hash")?;
    let gone: Option<i64> = row.try_get("deactivated_at")?;
    Ok((password.is_some(), gone.is_none()))
}

fn found(row: Option<sqlx::any::AnyRow>) -> Result<Option<Found>, StoreError> {
    row.map(|r| {
        Ok(Found {
            person: PersonId(r.try_get("id")?),
            active: r.try_get::<Option<i64>, _>("deactivated_at")?.is_none(),
        })
    })
    .transpose()
}

impl Store {
    /// The account linked to `subject` at `issuer`, active or not.
    pub async fn identity_account(
        &self,
        issuer: &str,
        subject: &str,
    ) -> Result<Option<Found>, StoreError> {
        let row = sqlx::query(
            "SELECT p.id, p.deactivated_at FROM sign_in_identities i \
             JOIN people p ON p.id = i.person_id WHERE i.issuer = $1 AND i.subject = $2",
        )
        .bind(issuer)
        .bind(subject)
        .fetch_optional(&self.pool)
        .await?;
        found(row)
    }

    /// The account with this address, active or not.
    pub async fn account_by_email(&self, email: &Email) -> Result<Option<Found>, StoreError> {
        let row = sqlx::query("SELECT id, deactivated_at FROM people WHERE email = $1")
            .bind(email.as_str())
            .fetch_optional(&self.pool)
            .await?;
        found(row)
    }

    /// Carries out a sign-in's outcome for `subject` at `issuer`: notes the
    /// use of a link, makes one, or makes a member of the agency and links
    /// them. Returns who signs in: the person linked to the subject when the
    /// call ends (another sign-in may have linked it first).
    pub async fn sign_in_as(
        &self,
        issuer: &str,
        subject: &str,
        outcome: &Outcome,
        now: Timestamp,
    ) -> Result<PersonId, StoreError> {
        // The agency is read before the transaction, whose first statement
        // is then a write: on SQLite a transaction that reads first cannot
        // always become a writer (SQLITE_BUSY), whatever the busy timeout.
        let created = match outcome {
            Outcome::Create {
                agency,
                name,
                email,
            } => {
                let abbreviation = Abbreviation::parse(agency)?;
                let Some(id) = self.agency_by_abbreviation(&abbreviation).await? else {
                    return Err(StoreError::Missing {
                        what: "agency",
                        value: abbreviation.as_str().to_string(),
                    });
                };
                let role = Role::AgencyMember {
                    agency: id,
                    sponsor: false,
                };
                Some((name, email, json(&role)?))
            }
            _ => None,
        };
        let _turn = self.write_turn().await;
        let mut tx = self.begin_write().await?;
        let person = match (outcome, created) {
            (Outcome::SignIn(p) | Outcome::Link(p), _) => *p,
            (Outcome::Create { .. }, Some((name, email, role))) => {
                let row = sqlx::query(
                    "INSERT INTO people (name, email, created_at) VALUES ($1, $2, $3) RETURNING id",
                )
                .bind(name)
                .bind(email.as_str())
                .bind(now.0)
                .fetch_one(&mut *tx)
                .await
                .map_err(|e| StoreError::unique(e, "email", email.as_str()))?;
                let id = PersonId(row.try_get(0)?);
                sqlx::query("INSERT INTO memberships (person_id, role) VALUES ($1, $2)")
                    .bind(id.0)
                    .bind(role)
                    .execute(&mut *tx)
                    .await?;
                id
            }
            _ => {
                return Err(StoreError::Corrupt(
                    "a provider account is linked only once its owner proved the account".into(),
                ));
            }
        };
        sqlx::query(
            "INSERT INTO sign_in_identities (issuer, subject, person_id, linked_at, last_used_at) \
             VALUES ($1, $2, $3, $4, $4) ON CONFLICT (issuer, subject) \
             DO UPDATE SET last_used_at = excluded.last_used_at",
        )
        .bind(issuer)
        .bind(subject)
        .bind(person.0)
        .bind(now.0)
        .execute(&mut *tx)
        .await?;
        let linked: i64 = sqlx::query(
            "SELECT person_id FROM sign_in_identities WHERE issuer = $1 AND subject = $2",
        )
        .bind(issuer)
        .bind(subject)
        .fetch_one(&mut *tx)
        .await?
        .try_get(0)?;
        if linked != person.0 && matches!(outcome, Outcome::Create { .. }) {
            // Another sign-in linked the subject while this one made an
            // account: keep theirs, and make none.
            tx.rollback().await?;
            return Ok(PersonId(linked));
        }
        tx.commit().await?;
        Ok(PersonId(linked))
    }

    /// Unlinks `person`'s account `subject` at `issuer`, when `by` may, and
    /// does in the same transaction what the core says must go with it
    /// ([`Actor::may_unlink_sign_in`]): ending the person's sessions and API
    /// tokens, and making an invitation to set a password (valid until
    /// `expires`) when it was their only way in.
    pub async fn unlink_identity(
        &self,
        by: &Actor,
        person: PersonId,
        issuer: &str,
        subject: &str,
        now: Timestamp,
        expires: Timestamp,
    ) -> Result<Unlinked, StoreError> {
        // Who may ask at all, before anything is read about the person.
        by.may_unlink_sign_in(person, true, true)?;
        let _turn = self.write_turn().await;
        let mut tx = self.begin_write().await?;
        let result: Result<Unlinked, StoreError> = async {
            let (has_password, active) = way_in(&mut tx, person).await?;
            let links: Vec<(String, String)> = sqlx::query(
                "SELECT issuer, subject FROM sign_in_identities WHERE person_id = $1",
            )
            .bind(person.0)
            .fetch_all(&mut *tx)
            .await?
            .into_iter()
            .map(|r| Ok((r.try_get("issuer")?, r.try_get("subject")?)))
            .collect::<Result<_, StoreError>>()?;
            if !links.iter().any(|(i, s)| i == issuer && s == subject) {
                return Ok(Unlinked::NotLinked);
            }
            let other_way = has_password || links.len() > 1;
            let then = by.may_unlink_sign_in(person, other_way, active)?;
            sqlx::query(
                "DELETE FROM sign_in_identities WHERE person_id = $1 AND issuer = $2 AND subject = $3",
            )
            .bind(person.0)
            .bind(issuer)
            .bind(subject)
            .execute(&mut *tx)
            .await?;
            if then.cut_off {
                for sql in [
                    "DELETE FROM sessions WHERE person_id = $1",
                    "DELETE FROM tokens WHERE person_id = $1",
                ] {
                    sqlx::query(sql).bind(person.0).execute(&mut *tx).await?;
                }
            }
            let password_link = if then.password_link {
                Some(crate::auth::insert_invite(&mut tx, person, by.person, now, expires).await?)
            } else {
                None
            };
            Ok(Unlinked::Done {
                cut_off: then.cut_off,
                password_link,
            })
        }
        .await;
        crate::finish(tx, result).await
    }

    /// Makes a new link for `person` to set a password (an invitation,
    /// valid until `expires`), when `by` may
    /// ([`Actor::may_send_password_link`]); returns its token for the mail.
    pub async fn password_link(
        &self,
        by: &Actor,
        person: PersonId,
        now: Timestamp,
        expires: Timestamp,
    ) -> Result<String, StoreError> {
        let _turn = self.write_turn().await;
        let mut tx = self.begin_write().await?;
        let result: Result<String, StoreError> = async {
            // Only an admin learns whether the person exists.
            by.may_send_password_link(false, true)?;
            let (has_password, active) = way_in(&mut tx, person).await?;
            by.may_send_password_link(has_password, active)?;
            crate::auth::insert_invite(&mut tx, person, by.person, now, expires).await
        }
        .await;
        crate::finish(tx, result).await
    }

    /// The provider accounts linked to `person`, newest first.
    pub async fn identities_of(&self, person: PersonId) -> Result<Vec<LinkedIdentity>, StoreError> {
        let rows = sqlx::query(
            "SELECT issuer, subject, linked_at, last_used_at FROM sign_in_identities \
             WHERE person_id = $1 ORDER BY linked_at DESC, issuer, subject",
        )
        .bind(person.0)
        .fetch_all(&self.pool)
        .await?;
        rows.into_iter()
            .map(|r| {
                Ok(LinkedIdentity {
                    issuer: r.try_get("issuer")?,
                    subject: r.try_get("subject")?,
                    linked_at: Timestamp(r.try_get("linked_at")?),
                    last_used_at: Timestamp(r.try_get("last_used_at")?),
                })
            })
            .collect()
    }
}
