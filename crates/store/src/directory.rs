//! The directory: agencies, people, their roles, and API tokens.

use std::collections::HashMap;

use sqlx::{AnyPool, Row};
use waymark_core::token::{NewToken, TokenScope};
use waymark_core::{
    Abbreviation, Actor, Agency, AgencyId, Email, NewAgency, NewPerson, Person, PersonId, Role,
    Timestamp,
};

use crate::*;

/// A person's details before and after a correction.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Corrected {
    pub before: Person,
    pub after: Person,
}

impl Store {
    pub async fn add_agency(&self, a: &NewAgency, now: Timestamp) -> Result<AgencyId, StoreError> {
        let kind = a.agency_type.map(|t| json(&t)).transpose()?;
        let mut tx = self.pool.begin().await?;
        let result: Result<AgencyId, StoreError> = async {
            let row = sqlx::query(
                "INSERT INTO agencies (name, abbreviation, portfolio, agency_type, created_at) VALUES ($1, $2, $3, $4, $5) RETURNING id",
            )
            .bind(&a.name)
            .bind(a.abbreviation.as_str())
            .bind(&a.portfolio)
            .bind(kind)
            .bind(now.0)
            .fetch_one(&mut *tx)
            .await
            .map_err(|e| StoreError::unique(e, "abbreviation", a.abbreviation.as_str()))?;
            let id = AgencyId(row.try_get(0)?);
            // A type given at creation is the programme's setting, on the
            // record like any later one.
            if let Some(agency_type) = a.agency_type {
                let event = waymark_core::assessment::AgencyEvent::TypeSet {
                    agency_type,
                    reason: "given when the agency was added".into(),
                };
                crate::assessments::append(&mut tx, id, 0, &event, now).await?;
            }
            crate::search::index_agency(&mut tx, id).await?;
            Ok(id)
        }
        .await;
        finish(tx, result).await
    }

    pub async fn add_person(&self, p: &NewPerson, now: Timestamp) -> Result<PersonId, StoreError> {
        let row = sqlx::query(
            "INSERT INTO people (name, email, created_at) VALUES ($1, $2, $3) RETURNING id",
        )
        .bind(&p.name)
        .bind(p.email.as_str())
        .bind(now.0)
        .fetch_one(&self.pool)
        .await
        .map_err(|e| StoreError::unique(e, "email", p.email.as_str()))?;
        Ok(PersonId(row.try_get(0)?))
    }

    pub async fn add_role(&self, person: PersonId, role: Role) -> Result<(), StoreError> {
        agency_exists(&self.pool, &role).await?;
        sqlx::query("INSERT INTO memberships (person_id, role) VALUES ($1, $2)")
            .bind(person.0)
            .bind(json(&role)?)
            .execute(&self.pool)
            .await
            .map_err(|e| StoreError::unique(e, "role", "this role"))?;
        Ok(())
    }

    /// Adds a person and their roles, all or nothing.
    pub async fn add_person_with_roles(
        &self,
        p: &NewPerson,
        roles: &[Role],
        now: Timestamp,
    ) -> Result<PersonId, StoreError> {
        for role in roles {
            agency_exists(&self.pool, role).await?;
        }
        let mut tx = self.pool.begin().await?;
        let row = sqlx::query(
            "INSERT INTO people (name, email, created_at) VALUES ($1, $2, $3) RETURNING id",
        )
        .bind(&p.name)
        .bind(p.email.as_str())
        .bind(now.0)
        .fetch_one(&mut *tx)
        .await
        .map_err(|e| StoreError::unique(e, "email", p.email.as_str()))?;
        let id = PersonId(row.try_get(0)?);
        for role in roles {
            sqlx::query("INSERT INTO memberships (person_id, role) VALUES ($1, $2)")
                .bind(id.0)
                .bind(json(role)?)
                .execute(&mut *tx)
                .await
                .map_err(|e| StoreError::unique(e, "role", "this role"))?;
        }
        tx.commit().await?;
        Ok(id)
    }

    /// The person with this email (any case), if there is one.
    pub async fn person_by_email(
        &self,
        email: &waymark_core::Email,
    ) -> Result<Option<PersonId>, StoreError> {
        let row = sqlx::query("SELECT id FROM people WHERE email = $1")
            .bind(email.as_str())
            .fetch_optional(&self.pool)
            .await?;
        Ok(row.map(|r| r.try_get(0)).transpose()?.map(PersonId))
    }

    /// An agency's id from its abbreviation (any case).
    pub async fn agency_by_abbreviation(
        &self,
        abbreviation: &waymark_core::Abbreviation,
    ) -> Result<Option<AgencyId>, StoreError> {
        let row = sqlx::query("SELECT id FROM agencies WHERE abbreviation = $1")
            .bind(abbreviation.as_str())
            .fetch_optional(&self.pool)
            .await?;
        Ok(row.map(|r| r.try_get(0)).transpose()?.map(AgencyId))
    }

    /// Creates a personal access token for `person` that may read and write
    /// and never ends, and returns it (see [`Store::create_token_with`]).
    pub async fn create_token(
        &self,
        person: PersonId,
        name: &str,
        now: Timestamp,
    ) -> Result<String, StoreError> {
        let token = NewToken {
            name: name.to_string(),
            scope: TokenScope::ReadWrite,
            expires: None,
        };
        self.create_token_with(person, &token, now).await
    }

    /// Creates a personal access token for `person` and returns it. Only
    /// its hash is stored, so this is the one time it can be seen.
    pub async fn create_token_with(
        &self,
        person: PersonId,
        new: &NewToken,
        now: Timestamp,
    ) -> Result<String, StoreError> {
        let token = format!("wmk_{}", auth::random_token()?);
        let _turn = self.write_turn().await;
        sqlx::query(
            "INSERT INTO tokens (hash, person_id, name, created_at, scope, expires_at) \
             VALUES ($1, $2, $3, $4, $5, $6)",
        )
        .bind(chain::sha256(&token))
        .bind(person.0)
        .bind(&new.name)
        .bind(now.0)
        .bind(new.scope.as_str())
        .bind(new.expires.map(|t| t.0))
        .execute(&self.pool)
        .await
        .map_err(|e| StoreError::foreign(e, "person", &person.to_string()))?;
        Ok(token)
    }

    /// Deactivates a person who has left: from now on they cannot sign in,
    /// every API token and unused invite of theirs is gone, and each of
    /// their sessions ends on its next request (the signed-in check reads
    /// this). Their name stays on everything they did. Returns them.
    pub async fn deactivate_person(
        &self,
        by: &Actor,
        person: PersonId,
        now: Timestamp,
    ) -> Result<Person, StoreError> {
        by.may_deactivate(person)?;
        let _turn = self.write_turn().await;
        let mut tx = self.begin_write().await?;
        let done = sqlx::query(
            "UPDATE people SET deactivated_at = $1, deactivated_by = $2 \
             WHERE id = $3 AND deactivated_at IS NULL",
        )
        .bind(now.0)
        .bind(by.person.0)
        .bind(person.0)
        .execute(&mut *tx)
        .await?;
        if done.rows_affected() == 0 {
            let exists = sqlx::query("SELECT id FROM people WHERE id = $1")
                .bind(person.0)
                .fetch_optional(&mut *tx)
                .await?;
            let refused = match exists {
                None => StoreError::NoSuchPerson(person.to_string()),
                Some(_) => StoreError::Duplicate {
                    field: "person",
                    value: "already deactivated".into(),
                },
            };
            return crate::finish(tx, Err(refused)).await;
        }
        for sql in [
            "DELETE FROM tokens WHERE person_id = $1",
            "DELETE FROM invites WHERE person_id = $1 AND used_at IS NULL",
            // Every session of theirs ends now (a session saved before
            // sessions were marked with their person ends on its next
            // request instead, by the signed-in check).
            "DELETE FROM sessions WHERE person_id = $1",
        ] {
            sqlx::query(sql).bind(person.0).execute(&mut *tx).await?;
        }
        tx.commit().await?;
        self.person(person)
            .await?
            .ok_or_else(|| StoreError::NoSuchPerson(person.to_string()))
    }

    /// Lets a deactivated person sign in again, with the password they had
    /// (or a new invite). Their old tokens stay ended.
    pub async fn reactivate_person(
        &self,
        by: &Actor,
        person: PersonId,
    ) -> Result<Person, StoreError> {
        by.may_deactivate(person)?;
        let _turn = self.write_turn().await;
        // Someone whose personal data was removed has no address to come
        // back with: they are invited again as a new person.
        let done = sqlx::query(
            "UPDATE people SET deactivated_at = NULL, deactivated_by = NULL \
             WHERE id = $1 AND removed_at IS NULL",
        )
        .bind(person.0)
        .execute(&self.pool)
        .await?;
        if done.rows_affected() == 0 && self.person(person).await?.is_some() {
            return Err(StoreError::Domain(waymark_core::DomainError::Forbidden {
                action: "reactivate this person",
                why: "their personal data was removed at their request; invite them again as a new person",
            }));
        }
        self.person(person)
            .await?
            .ok_or_else(|| StoreError::NoSuchPerson(person.to_string()))
    }

    /// A person's API tokens, newest first: each token's id (the first 12
    /// hex digits of its hash, which is all that is kept), name, scope, end
    /// and last use. Ended tokens are listed until they are revoked.
    pub async fn tokens_of(&self, person: PersonId) -> Result<Vec<TokenInfo>, StoreError> {
        let rows = sqlx::query(
            "SELECT substr(hash, 1, 12) AS id, name, created_at, scope, expires_at, last_used_at \
             FROM tokens WHERE person_id = $1 ORDER BY created_at DESC, hash",
        )
        .bind(person.0)
        .fetch_all(&self.pool)
        .await?;
        rows.iter()
            .map(|r| {
                Ok(TokenInfo {
                    id: r.try_get("id")?,
                    name: r.try_get("name")?,
                    created_at: Timestamp(r.try_get("created_at")?),
                    scope: TokenScope::parse(&r.try_get::<String, _>("scope")?)?,
                    expires_at: r.try_get::<Option<i64>, _>("expires_at")?.map(Timestamp),
                    last_used_at: r.try_get::<Option<i64>, _>("last_used_at")?.map(Timestamp),
                })
            })
            .collect()
    }

    /// Ends one of a person's tokens, by the id `tokens_of` shows; the next
    /// request that sends it is refused. False when the person has no such
    /// token (another person's token is never touched).
    pub async fn revoke_token(&self, person: PersonId, id: &str) -> Result<bool, StoreError> {
        if id.len() != 12 || !id.bytes().all(|b| b.is_ascii_hexdigit()) {
            return Ok(false);
        }
        let _turn = self.write_turn().await;
        let done =
            sqlx::query("DELETE FROM tokens WHERE person_id = $1 AND substr(hash, 1, 12) = $2")
                .bind(person.0)
                .bind(id.to_ascii_lowercase())
                .execute(&self.pool)
                .await?;
        Ok(done.rows_affected() > 0)
    }

    /// The actor a token belongs to and what the token may do, if it is a
    /// valid token that has not ended. Its last use is written at most once
    /// a minute (every API request asks this; reads stay reads).
    pub async fn actor_for_token(
        &self,
        token: &str,
        now: Timestamp,
    ) -> Result<Option<(Actor, TokenScope)>, StoreError> {
        let hash = chain::sha256(token.trim());
        let rows = sqlx::query(
            "SELECT t.person_id, t.scope, t.last_used_at, m.role FROM tokens t \
             JOIN people p ON p.id = t.person_id \
             LEFT JOIN memberships m ON m.person_id = t.person_id \
             WHERE t.hash = $1 AND p.deactivated_at IS NULL \
             AND (t.expires_at IS NULL OR t.expires_at > $2) ORDER BY m.role",
        )
        .bind(&hash)
        .bind(now.0)
        .fetch_all(&self.pool)
        .await?;
        let Some(first) = rows.first() else {
            return Ok(None);
        };
        let person = PersonId(first.try_get("person_id")?);
        let scope = TokenScope::parse(&first.try_get::<String, _>("scope")?)?;
        let last = first
            .try_get::<Option<i64>, _>("last_used_at")?
            .map(Timestamp);
        let mut roles = Vec::with_capacity(rows.len());
        for r in &rows {
            if let Some(role) = r.try_get::<Option<String>, _>("role")? {
                roles.push(unjson(&role)?);
            }
        }
        if waymark_core::token::last_use_due(last, now) {
            let _turn = self.write_turn().await;
            // Conditional, so instances racing on one token write it once.
            sqlx::query(
                "UPDATE tokens SET last_used_at = $1 WHERE hash = $2 \
                 AND (last_used_at IS NULL OR last_used_at <= $3)",
            )
            .bind(now.0)
            .bind(&hash)
            .bind(now.0 - waymark_core::token::LAST_USE_EVERY)
            .execute(&self.pool)
            .await?;
        }
        Ok(Some((Actor { person, roles }, scope)))
    }

    /// The person with all their roles.
    pub async fn actor(&self, person: PersonId) -> Result<Actor, StoreError> {
        let exists = sqlx::query("SELECT id FROM people WHERE id = $1")
            .bind(person.0)
            .fetch_optional(&self.pool)
            .await?;
        if exists.is_none() {
            return Err(StoreError::NoSuchPerson(person.to_string()));
        }
        let rows = sqlx::query("SELECT role FROM memberships WHERE person_id = $1 ORDER BY role")
            .bind(person.0)
            .fetch_all(&self.pool)
            .await?;
        let roles = rows
            .iter()
            .map(|r| unjson::<Role>(&r.try_get::<String, _>(0)?))
            .collect::<Result<_, _>>()?;
        Ok(Actor { person, roles })
    }

    /// People's names by id (ids with no person are left out).
    pub async fn person_names(
        &self,
        ids: &[PersonId],
    ) -> Result<HashMap<PersonId, String>, StoreError> {
        let mut out = HashMap::new();
        let mut ids: Vec<i64> = ids.iter().map(|p| p.0).collect();
        ids.sort_unstable();
        ids.dedup();
        for chunk in ids.chunks(200) {
            let params = placeholders(1, chunk.len());
            let sql = format!("SELECT id, name FROM people WHERE id IN ({})", params);
            let mut q = sqlx::query(&sql);
            for id in chunk {
                q = q.bind(*id);
            }
            for r in q.fetch_all(&self.pool).await? {
                out.insert(PersonId(r.try_get("id")?), r.try_get("name")?);
            }
        }
        Ok(out)
    }

    /// Agencies by id (ids with no agency are left out).
    pub async fn agencies_by_id(
        &self,
        ids: &[AgencyId],
    ) -> Result<HashMap<AgencyId, Agency>, StoreError> {
        let mut out = HashMap::new();
        let mut ids: Vec<i64> = ids.iter().map(|a| a.0).collect();
        ids.sort_unstable();
        ids.dedup();
        for chunk in ids.chunks(200) {
            let params = placeholders(1, chunk.len());
            let sql = format!(
                "SELECT id, name, abbreviation, portfolio, agency_type FROM agencies WHERE id IN ({})",
                params
            );
            let mut q = sqlx::query(&sql);
            for id in chunk {
                q = q.bind(*id);
            }
            for r in q.fetch_all(&self.pool).await? {
                let a = agency_row(&r)?;
                out.insert(a.id, a);
            }
        }
        Ok(out)
    }

    /// The agency of each of these engagements (at most a page's worth),
    /// for lists that name engagements by their agency. The caller has
    /// already been shown these engagements.
    pub async fn engagement_agencies(
        &self,
        ids: &[waymark_core::EngagementId],
    ) -> Result<HashMap<waymark_core::EngagementId, Agency>, StoreError> {
        let mut of = HashMap::new();
        let mut ids: Vec<i64> = ids.iter().map(|e| e.0).collect();
        ids.sort_unstable();
        ids.dedup();
        for chunk in ids.chunks(200) {
            let sql = format!(
                "SELECT id, agency_id FROM engagements WHERE id IN ({})",
                placeholders(1, chunk.len())
            );
            let mut q = sqlx::query(&sql);
            for id in chunk {
                q = q.bind(*id);
            }
            for r in q.fetch_all(&self.pool).await? {
                of.insert(
                    waymark_core::EngagementId(r.try_get("id")?),
                    AgencyId(r.try_get("agency_id")?),
                );
            }
        }
        let agencies = self
            .agencies_by_id(&of.values().copied().collect::<Vec<_>>())
            .await?;
        Ok(of
            .into_iter()
            .filter_map(|(e, a)| agencies.get(&a).map(|a| (e, a.clone())))
            .collect())
    }

    /// Every agency, by name.
    pub async fn agencies(&self) -> Result<Vec<Agency>, StoreError> {
        let rows = sqlx::query(
            "SELECT id, name, abbreviation, portfolio, agency_type FROM agencies ORDER BY name, id",
        )
        .fetch_all(&self.pool)
        .await?;
        rows.iter().map(agency_row).collect()
    }

    pub async fn agency(&self, id: AgencyId) -> Result<Option<Agency>, StoreError> {
        let row = sqlx::query(
            "SELECT id, name, abbreviation, portfolio, agency_type FROM agencies WHERE id = $1",
        )
        .bind(id.0)
        .fetch_optional(&self.pool)
        .await?;
        row.as_ref().map(agency_row).transpose()
    }

    /// Every person with their roles, by name.
    pub async fn people(&self) -> Result<Vec<Person>, StoreError> {
        let rows =
            sqlx::query("SELECT id, name, email, deactivated_at FROM people ORDER BY name, id")
                .fetch_all(&self.pool)
                .await?;
        let roles = sqlx::query("SELECT person_id, role FROM memberships ORDER BY role")
            .fetch_all(&self.pool)
            .await?;
        let mut by_person: HashMap<i64, Vec<Role>> = HashMap::new();
        for r in &roles {
            by_person
                .entry(r.try_get("person_id")?)
                .or_default()
                .push(unjson(&r.try_get::<String, _>("role")?)?);
        }
        rows.iter()
            .map(|r| {
                let id: i64 = r.try_get("id")?;
                person_row(r, by_person.remove(&id).unwrap_or_default())
            })
            .collect()
    }

    /// Corrects `person`'s name and email address as `by` asks
    /// (`Actor::may_correct_person`; the person before and after, so the
    /// caller can tell them at an old address), recording who corrected which fields
    /// and when, never the old values. Names are not copied into events
    /// (they name people by id), so every page and the history show the
    /// corrected name at once. An address another person has is refused.
    pub async fn correct_person(
        &self,
        by: &Actor,
        person: PersonId,
        new: &waymark_core::NewPerson,
        now: waymark_core::Timestamp,
    ) -> Result<Corrected, StoreError> {
        // Permission first, so nobody learns who exists by asking.
        by.may_correct_person(person, false)?;
        let before = self
            .person(person)
            .await?
            .ok_or_else(|| StoreError::NoSuchPerson(person.to_string()))?;
        let email_changes = before.email != new.email;
        by.may_correct_person(person, email_changes)?;
        // Their details were removed at their request: none come back.
        if waymark_core::removal::is_removed(&before.email) {
            return Err(StoreError::Domain(waymark_core::DomainError::Forbidden {
                action: "correct this person's details",
                why: "their personal data was removed at their request; invite them again as a new person",
            }));
        }
        let mut fields = Vec::new();
        if before.name != new.name {
            fields.push("name");
        }
        if email_changes {
            fields.push("email");
        }
        if fields.is_empty() {
            return Ok(Corrected {
                after: before.clone(),
                before,
            });
        }
        let _turn = self.write_turn().await;
        let mut tx = self.begin_write().await?;
        let done = sqlx::query("UPDATE people SET name = $1, email = $2 WHERE id = $3")
            .bind(&new.name)
            .bind(new.email.as_str())
            .bind(person.0)
            .execute(&mut *tx)
            .await;
        match done {
            Err(e) if crate::error::is_unique_violation(&e) => {
                return crate::finish(
                    tx,
                    Err(StoreError::Duplicate {
                        field: "email",
                        value: "another person has this address".into(),
                    }),
                )
                .await;
            }
            other => {
                other?;
            }
        }
        if email_changes {
            // A link to set the password, sent to the old address, would
            // let whoever holds that mailbox into the corrected account:
            // unused links end, and mail of them not yet sent is withdrawn.
            // The admin sends a new invite to the new address.
            sqlx::query("DELETE FROM invites WHERE person_id = $1 AND used_at IS NULL")
                .bind(person.0)
                .execute(&mut *tx)
                .await?;
            sqlx::query(
                "DELETE FROM outbox WHERE recipient = $1 AND kind = 'invite' AND sent_at IS NULL",
            )
            .bind(before.email.as_str())
            .execute(&mut *tx)
            .await?;
        }
        sqlx::query(
            "INSERT INTO person_corrections (person_id, corrected_by, at, fields) VALUES ($1, $2, $3, $4)",
        )
        .bind(person.0)
        .bind(by.person.0)
        .bind(now.0)
        .bind(fields.join(","))
        .execute(&mut *tx)
        .await?;
        tx.commit().await?;
        tracing::info!(by = by.person.0, person = person.0, fields = %fields.join(","), "person corrected");
        let after = self
            .person(person)
            .await?
            .ok_or_else(|| StoreError::NoSuchPerson(person.to_string()))?;
        Ok(Corrected { before, after })
    }

    /// A person with their roles (one query: every signed-in page asks).
    pub async fn person(&self, id: PersonId) -> Result<Option<Person>, StoreError> {
        let rows = sqlx::query(
            "SELECT p.id, p.name, p.email, p.deactivated_at, m.role FROM people p LEFT JOIN memberships m ON m.person_id = p.id \
             WHERE p.id = $1 ORDER BY m.role",
        )
        .bind(id.0)
        .fetch_all(&self.pool)
        .await?;
        Ok(people_from_rows(&rows)?.pop())
    }

    /// A person with their roles and their own settings, in one query:
    /// every signed-in request needs both.
    pub async fn person_and_settings(
        &self,
        id: PersonId,
    ) -> Result<Option<(Person, waymark_core::Settings)>, StoreError> {
        let rows = sqlx::query(
            "SELECT p.id, p.name, p.email, p.deactivated_at, p.time_zone, p.notify, m.role FROM people p \
             LEFT JOIN memberships m ON m.person_id = p.id WHERE p.id = $1 ORDER BY m.role",
        )
        .bind(id.0)
        .fetch_all(&self.pool)
        .await?;
        let Some(first) = rows.first() else {
            return Ok(None);
        };
        let settings = settings_row(first)?;
        Ok(people_from_rows(&rows)?.pop().map(|p| (p, settings)))
    }

    /// The active people who hold any of `roles`, by name, with all their
    /// roles (who can be given work: never someone who has left).
    pub async fn people_with_roles(&self, roles: &[Role]) -> Result<Vec<Person>, StoreError> {
        let mut conn = self.pool.acquire().await?;
        holding(&mut conn, roles).await
    }

    /// One agency's members (the executive sponsor among them), by name.
    pub async fn members_of(&self, agency: AgencyId) -> Result<Vec<Person>, StoreError> {
        self.people_with_roles(&[
            Role::AgencyMember {
                agency,
                sponsor: false,
            },
            Role::AgencyMember {
                agency,
                sponsor: true,
            },
        ])
        .await
    }
}

pub(crate) fn agency_row(r: &sqlx::any::AnyRow) -> Result<Agency, StoreError> {
    let kind: Option<String> = r.try_get("agency_type")?;
    Ok(Agency {
        id: AgencyId(r.try_get("id")?),
        name: r.try_get("name")?,
        abbreviation: Abbreviation::parse(&r.try_get::<String, _>("abbreviation")?)
            .map_err(|e| StoreError::Corrupt(e.to_string()))?,
        portfolio: r.try_get("portfolio")?,
        agency_type: kind.as_deref().map(unjson).transpose()?,
    })
}

/// People from rows of (id, name, email, role or NULL), one row per role,
/// each person's rows together.
/// A membership names an agency that exists (roles are stored as JSON, so
/// no foreign key can say so).
pub(crate) async fn agency_exists(pool: &AnyPool, role: &Role) -> Result<(), StoreError> {
    if let Role::AgencyMember { agency, .. } = role {
        let found = sqlx::query("SELECT 1 FROM agencies WHERE id = $1")
            .bind(agency.0)
            .fetch_optional(pool)
            .await?;
        if found.is_none() {
            return Err(StoreError::Missing {
                what: "agency",
                value: agency.to_string(),
            });
        }
    }
    Ok(())
}

/// [`Store::people_with_roles`], read on `conn` (a transaction's too).
pub(crate) async fn holding(
    conn: &mut sqlx::AnyConnection,
    roles: &[Role],
) -> Result<Vec<Person>, StoreError> {
    if roles.is_empty() {
        return Ok(Vec::new());
    }
    // Roles are stored as their JSON, so a role is found by its exact
    // text, through the index on it.
    let sql = format!(
        "SELECT p.id, p.name, p.email, p.deactivated_at, r.role FROM people p \
         JOIN memberships r ON r.person_id = p.id \
         WHERE p.deactivated_at IS NULL \
         AND p.id IN (SELECT person_id FROM memberships WHERE role IN ({})) \
         ORDER BY p.name, p.id, r.role",
        placeholders(1, roles.len())
    );
    let mut q = sqlx::query(&sql);
    for role in roles {
        q = q.bind(json(role)?);
    }
    people_from_rows(&q.fetch_all(&mut *conn).await?)
}

/// The people with these ids, with their roles, read on `conn` (a
/// transaction's too).
pub(crate) async fn people_in(
    conn: &mut sqlx::AnyConnection,
    ids: &[PersonId],
) -> Result<Vec<Person>, StoreError> {
    if ids.is_empty() {
        return Ok(Vec::new());
    }
    let sql = format!(
        "SELECT p.id, p.name, p.email, p.deactivated_at, m.role FROM people p LEFT JOIN memberships m ON m.person_id = p.id \
         WHERE p.id IN ({}) ORDER BY p.id, m.role",
        placeholders(1, ids.len())
    );
    let mut q = sqlx::query(&sql);
    for id in ids {
        q = q.bind(id.0);
    }
    people_from_rows(&q.fetch_all(&mut *conn).await?)
}

/// Every active person with their roles, read on `conn` (a transaction's
/// too).
pub(crate) async fn active_people(
    conn: &mut sqlx::AnyConnection,
) -> Result<Vec<Person>, StoreError> {
    let rows = sqlx::query(
        "SELECT p.id, p.name, p.email, p.deactivated_at, r.role FROM people p \
         JOIN memberships r ON r.person_id = p.id \
         WHERE p.deactivated_at IS NULL ORDER BY p.name, p.id, r.role",
    )
    .fetch_all(&mut *conn)
    .await?;
    people_from_rows(&rows)
}

pub(crate) fn people_from_rows(rows: &[sqlx::any::AnyRow]) -> Result<Vec<Person>, StoreError> {
    let mut out: Vec<Person> = Vec::new();
    for r in rows {
        let id = PersonId(r.try_get("id")?);
        if out.last().is_none_or(|p| p.id != id) {
            out.push(person_row(r, Vec::new())?);
        }
        if let (Some(p), Some(role)) = (out.last_mut(), r.try_get::<Option<String>, _>("role")?) {
            let role: Role = unjson(&role)?;
            if !p.roles.contains(&role) {
                p.roles.push(role);
            }
        }
    }
    Ok(out)
}

pub(crate) fn person_row(r: &sqlx::any::AnyRow, roles: Vec<Role>) -> Result<Person, StoreError> {
    Ok(Person {
        id: PersonId(r.try_get("id")?),
        name: r.try_get("name")?,
        email: Email::parse(&r.try_get::<String, _>("email")?)
            .map_err(|e| StoreError::Corrupt(e.to_string()))?,
        roles,
        deactivated_at: r
            .try_get::<Option<i64>, _>("deactivated_at")?
            .map(Timestamp),
    })
}

impl Store {
    /// A person's own settings (time zone, how they hear about things).
    pub async fn settings(&self, person: PersonId) -> Result<waymark_core::Settings, StoreError> {
        let row = sqlx::query("SELECT time_zone, notify FROM people WHERE id = $1")
            .bind(person.0)
            .fetch_optional(&self.pool)
            .await?
            .ok_or(StoreError::NoSuchPerson(person.0.to_string()))?;
        settings_row(&row)
    }

    /// Saves a person's settings.
    pub async fn set_settings(
        &self,
        person: PersonId,
        s: &waymark_core::Settings,
    ) -> Result<(), StoreError> {
        let done = sqlx::query("UPDATE people SET time_zone = $1, notify = $2 WHERE id = $3")
            .bind(&s.time_zone)
            .bind(s.notify.as_str())
            .bind(person.0)
            .execute(&self.pool)
            .await?;
        if done.rows_affected() != 1 {
            return Err(StoreError::NoSuchPerson(person.0.to_string()));
        }
        Ok(())
    }

    /// People who asked for a daily digest and can sign in, with their
    /// settings.
    pub async fn digest_readers(
        &self,
    ) -> Result<Vec<(Person, waymark_core::Settings)>, StoreError> {
        let rows = sqlx::query(
            "SELECT id, time_zone, notify FROM people WHERE notify = 'daily' AND password_hash IS NOT NULL ORDER BY id",
        )
        .fetch_all(&self.pool)
        .await?;
        let mut out = Vec::new();
        for r in &rows {
            let id = PersonId(r.try_get("id")?);
            if let Some(p) = self.person(id).await? {
                out.push((p, settings_row(r)?));
            }
        }
        Ok(out)
    }

    /// Queues a person's digest for `day` (`YYYY-MM-DD` in their zone) with
    /// its record, in one transaction; `false` if that day's digest was
    /// already written (by this server or another).
    pub async fn write_digest(
        &self,
        person: PersonId,
        day: &str,
        mail: &crate::outbox::Mail,
        now: Timestamp,
    ) -> Result<bool, StoreError> {
        let mut tx = self.pool.begin().await?;
        let done = sqlx::query(
            "INSERT INTO digests (person_id, day, written_at) VALUES ($1, $2, $3) ON CONFLICT DO NOTHING",
        )
        .bind(person.0)
        .bind(day)
        .bind(now.0)
        .execute(&mut *tx)
        .await?;
        if done.rows_affected() != 1 {
            return Ok(false);
        }
        crate::outbox::queue(&mut tx, mail, now).await?;
        tx.commit().await?;
        Ok(true)
    }
}

fn settings_row(r: &sqlx::any::AnyRow) -> Result<waymark_core::Settings, StoreError> {
    let notify: String = r.try_get("notify")?;
    Ok(waymark_core::Settings {
        time_zone: r.try_get("time_zone")?,
        notify: waymark_core::Notify::parse(&notify)
            .map_err(|e| StoreError::Corrupt(e.to_string()))?,
    })
}

/// A token's id, as [`TokenInfo::id`] shows it: the first 12 hex digits of
/// its SHA-256.
pub fn token_id(token: &str) -> String {
    chain::sha256(token.trim())[..12].to_string()
}

/// An API token as its owner may see it: never the token itself.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct TokenInfo {
    /// The first 12 hex digits of the token's SHA-256.
    pub id: String,
    pub name: String,
    #[cfg_attr(feature = "openapi", schema(value_type = i64))]
    pub created_at: Timestamp,
    pub scope: TokenScope,
    /// When it stops working (unix seconds); never, when absent.
    #[cfg_attr(feature = "openapi", schema(value_type = Option<i64>))]
    pub expires_at: Option<Timestamp>,
    /// When it was last used, to the minute; never, when absent.
    #[cfg_attr(feature = "openapi", schema(value_type = Option<i64>))]
    pub last_used_at: Option<Timestamp>,
}
