//! Personal data: everything the database holds about one person, for
//! their request to see it (Australian Privacy Principle 12), read from a
//! declared list of where people are named ([`HOLDERS`]): by their id in
//! a column, by their email address, or by a key made from it. A test
//! walks the schema and fails when a column that names people is neither
//! here nor in [`NOT_PERSONAL`] with its reason.
//!
//! Secrets are never part of it: password and token hashes, session ids
//! and contents, unsubscribe keys and webhook secrets. Only the listed
//! columns are read, so a secret added to a table later stays out.
//!
//! Who may ask is `Actor::may_see_personal_data`'s question.

use serde::Serialize;
use serde_json::{Map, Value};
use sqlx::{Column, Row};
use waymark_core::{Actor, Person, PersonId};

use crate::*;

/// How a column names a person.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum By {
    /// Their id.
    Id,
    /// Their email address, as typed (compared without case).
    Email,
    /// A key: a prefix, then their id or address, as the rate limits
    /// write them (`account:…`, `community_post:…`).
    Key(&'static str, Then),
}

/// What follows a key's prefix.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Then {
    Id,
    Email,
    /// Their address, `|`, and more (a client's network).
    EmailAndMore,
}

/// One place people are named: its table, the column that names them,
/// how, what the rows are in words, and the columns shown.
#[derive(Debug, Clone, Copy)]
pub struct Holder {
    pub table: &'static str,
    pub column: &'static str,
    pub by: By,
    pub about: &'static str,
    pub columns: &'static [&'static str],
}

const fn h(
    table: &'static str,
    column: &'static str,
    by: By,
    about: &'static str,
    columns: &'static [&'static str],
) -> Holder {
    Holder {
        table,
        column,
        by,
        about,
        columns,
    }
}

/// Everywhere a person is named.
pub const HOLDERS: &[Holder] = &[
    h(
        "people",
        "id",
        By::Id,
        "Your account",
        &[
            "id",
            "name",
            "email",
            "created_at",
            "time_zone",
            "notify",
            "deactivated_at",
            "deactivated_by",
            "removed_at",
        ],
    ),
    h("memberships", "person_id", By::Id, "Your roles", &["role"]),
    h(
        "sessions",
        "person_id",
        By::Id,
        "Where you are signed in (ids and contents are secrets, and left out)",
        &["expires_at"],
    ),
    h(
        "person_corrections",
        "person_id",
        By::Id,
        "Corrections of your details (which fields, not the old values)",
        &["corrected_by", "at", "fields"],
    ),
    h(
        "person_corrections",
        "corrected_by",
        By::Id,
        "Corrections you made to people's details",
        &["person_id", "at", "fields"],
    ),
    h(
        "programme_settings",
        "set_by",
        By::Id,
        "Settings you made for the whole programme",
        &["name", "value", "set_at"],
    ),
    h(
        "retention_runs",
        "run_by",
        By::Id,
        "Runs of the retention job you started",
        &["id", "at", "months", "removed"],
    ),
    h(
        "second_factors",
        "person_id",
        By::Id,
        "Your second factor (its key is a secret, and left out)",
        &["enrolled_at"],
    ),
    h(
        "person_removals",
        "person_id",
        By::Id,
        "The removal of your personal data at your request",
        &["id", "at", "rows_changed"],
    ),
    h(
        "person_removals",
        "removed_by",
        By::Id,
        "Removals of personal data you made at people's request",
        &["id", "person_id", "at"],
    ),
    h(
        "sign_in_identities",
        "person_id",
        By::Id,
        "The accounts at other providers you sign in with",
        &["issuer", "subject", "linked_at", "last_used_at"],
    ),
    h(
        "passkeys",
        "person_id",
        By::Id,
        "Your passkeys (their public keys and counters are left out)",
        &["name", "created_at", "last_used_at"],
    ),
    h(
        "recovery_codes",
        "person_id",
        By::Id,
        "Your recovery codes (kept only as fingerprints, which are left out)",
        &["created_at", "used_at"],
    ),
    h(
        "tokens",
        "person_id",
        By::Id,
        "Your API tokens (their secrets are kept only as hashes, and left out)",
        &["name", "created_at", "scope", "expires_at", "last_used_at"],
    ),
    h(
        "invites",
        "person_id",
        By::Id,
        "Invitations to set your password",
        &["created_by", "created_at", "expires_at", "used_at"],
    ),
    h(
        "invites",
        "created_by",
        By::Id,
        "Invitations you sent",
        &["person_id", "created_at", "expires_at", "used_at"],
    ),
    h(
        "registrations",
        "email",
        By::Email,
        "Your registrations for the community",
        &["name", "email", "created_at", "expires_at", "used_at"],
    ),
    h(
        "sign_in_failures",
        "key",
        By::Key("account:", Then::Email),
        "Failed sign-ins to your account",
        &["key", "at"],
    ),
    h(
        "sign_in_failures",
        "key",
        By::Key("pair:", Then::EmailAndMore),
        "Failed sign-ins to your account, with the network they came from",
        &["key", "at"],
    ),
    h(
        "sign_in_failures",
        "key",
        By::Key("factor:", Then::Id),
        "Codes from your authenticator app typed for your account, counted for the limit",
        &["key", "at"],
    ),
    h(
        "sign_in_failures",
        "key",
        By::Key("recovery:", Then::Id),
        "Recovery codes typed for your account, counted for the limit",
        &["key", "at"],
    ),
    h(
        "form_submissions",
        "key",
        By::Key("community_post:", Then::Id),
        "Your community posts, counted for a new account's hourly limit",
        &["key", "at"],
    ),
    h(
        "form_submissions",
        "key",
        By::Key("register_form:to:", Then::Email),
        "Registration mail sent to your address, counted for its hourly limit",
        &["key", "at"],
    ),
    h(
        "people",
        "deactivated_by",
        By::Id,
        "People you deactivated",
        &["id", "name", "deactivated_at"],
    ),
    h(
        "digests",
        "person_id",
        By::Id,
        "Your daily digests",
        &["day", "written_at"],
    ),
    h(
        "outbox",
        "recipient",
        By::Email,
        "Mail sent to you",
        &[
            "id",
            "kind",
            "subject",
            "body",
            "attachment_name",
            "created_at",
            "sent_at",
            "gave_up_at",
        ],
    ),
    h(
        "enquiries",
        "contact_email",
        By::Email,
        "Requests for support you sent",
        &[
            "id",
            "source",
            "agency_name",
            "contact_name",
            "contact_email",
            "contact_role",
            "subject",
            "body",
            "timeframe",
            "preference",
            "status",
            "engagement_id",
            "received_at",
        ],
    ),
    h(
        "enquiry_messages",
        "sender",
        By::Email,
        "Mail you sent about an enquiry",
        &["id", "enquiry_id", "direction", "subject", "body", "at"],
    ),
    h(
        "enquiry_messages",
        "recipient",
        By::Email,
        "Replies sent to you about an enquiry",
        &["id", "enquiry_id", "direction", "subject", "body", "at"],
    ),
    h(
        "enquiry_messages",
        "author_id",
        By::Id,
        "Replies you wrote to enquiries",
        &["id", "enquiry_id", "recipient", "subject", "body", "at"],
    ),
    h(
        "inbound_mail",
        "sender",
        By::Email,
        "Mail from you that reached the programme's mailbox",
        &[
            "id",
            "message_id",
            "outcome",
            "enquiry_id",
            "reason",
            "subject",
            "size",
            "at",
        ],
    ),
    h(
        "inbound_mail",
        "reviewed_by",
        By::Id,
        "Mail you reviewed in the programme's mailbox",
        &["id", "outcome", "subject", "reviewed_at"],
    ),
    h(
        "enquiry_events",
        "actor_id",
        By::Id,
        "What you did on enquiries",
        &["enquiry_id", "seq", "at", "kind", "payload"],
    ),
    h(
        "assignments",
        "person_id",
        By::Id,
        "Engagements you are assigned to",
        &["engagement_id"],
    ),
    h(
        "events",
        "actor_id",
        By::Id,
        "What you did on engagements (their audit trails)",
        &["engagement_id", "seq", "at", "command", "payload"],
    ),
    h(
        "mentions",
        "person_id",
        By::Id,
        "Where you were mentioned in an engagement's discussion",
        &[
            "engagement_id",
            "comment_id",
            "actor_id",
            "at",
            "sent_at",
            "withheld_at",
        ],
    ),
    h(
        "mentions",
        "actor_id",
        By::Id,
        "People you mentioned in an engagement's discussion",
        &["engagement_id", "comment_id", "person_id", "at"],
    ),
    h(
        "surveys",
        "created_by",
        By::Id,
        "Surveys you started",
        &["id", "title", "created_at"],
    ),
    h(
        "survey_events",
        "actor_id",
        By::Id,
        "What you did on surveys (built, sent, closed)",
        &["survey_id", "seq", "at", "kind"],
    ),
    h(
        "survey_invitations",
        "person_id",
        By::Id,
        "Surveys you were invited to (an anonymous survey's link and answer are not here: nothing links them to you)",
        &["survey_id"],
    ),
    h(
        "survey_tokens",
        "person_id",
        By::Id,
        "Your links to named surveys, and whether each took your answer (the link is a secret, and left out)",
        &["survey_id", "used"],
    ),
    h(
        "survey_responses",
        "person_id",
        By::Id,
        "Your answers to named surveys",
        &["survey_id", "answered_on", "answers"],
    ),
    h(
        "agency_events",
        "actor_id",
        By::Id,
        "What you did on agencies' records (assessments)",
        &["agency_id", "seq", "at", "kind", "payload"],
    ),
    h(
        "adopters",
        "listed_by",
        By::Id,
        "Agencies you listed in the adopter directory",
        &["agency_id", "contact", "case_study", "listed_at"],
    ),
    h(
        "files",
        "created_by",
        By::Id,
        "Files you uploaded (their bytes are in the engagement)",
        &[
            "id",
            "name",
            "content_type",
            "size",
            "sha256",
            "engagement_id",
            "enquiry_id",
            "created_at",
        ],
    ),
    h(
        "letters",
        "created_by",
        By::Id,
        "Letters you issued",
        &["engagement_id", "kind", "version", "sha256", "created_at"],
    ),
    h(
        "letter_templates",
        "created_by",
        By::Id,
        "Letter templates you saved",
        &["kind", "version", "created_at"],
    ),
    h(
        "articles",
        "owner_id",
        By::Id,
        "Knowledge articles you own",
        &[
            "id",
            "slug",
            "status",
            "title",
            "review_by",
            "created_at",
            "updated_at",
        ],
    ),
    h(
        "article_versions",
        "published_by",
        By::Id,
        "Article versions you published",
        &["article_id", "number", "title", "published_at"],
    ),
    h(
        "article_feedback",
        "person_id",
        By::Id,
        "Your answers to \"Was this helpful?\"",
        &["article_id", "helpful", "comment", "at"],
    ),
    h(
        "blueprint_releases",
        "recorded_by",
        By::Id,
        "Blueprint releases you recorded",
        &["id", "version", "released_on", "recorded_at"],
    ),
    h(
        "webhook_subscriptions",
        "owner_id",
        By::Id,
        "Your webhook subscriptions (their secrets are left out)",
        &[
            "id",
            "url",
            "events",
            "description",
            "created_at",
            "enabled",
            "disabled_at",
            "disabled_reason",
            "last_success_at",
        ],
    ),
    h(
        "community_topics",
        "author_id",
        By::Id,
        "Questions you asked in the community",
        &[
            "id",
            "category_id",
            "title",
            "tag_stage",
            "tag_step",
            "created_at",
            "hidden",
        ],
    ),
    h(
        "community_posts",
        "author_id",
        By::Id,
        "Your questions' and answers' words",
        &[
            "id",
            "topic_id",
            "is_question",
            "body",
            "votes",
            "created_at",
            "edited_at",
            "hidden_reason",
            "hidden_at",
        ],
    ),
    h(
        "community_revisions",
        "editor_id",
        By::Id,
        "Every version of posts you edited",
        &["post_id", "number", "title", "body", "at"],
    ),
    h(
        "community_votes",
        "person_id",
        By::Id,
        "Your up-votes",
        &["post_id", "at"],
    ),
    h(
        "community_watches",
        "person_id",
        By::Id,
        "What you watch (the unsubscribe keys are left out)",
        &["topic_id", "category_id", "created_at"],
    ),
    h(
        "community_flags",
        "person_id",
        By::Id,
        "Posts you flagged",
        &["post_id", "reason", "at", "resolved_at"],
    ),
    h(
        "community_notices",
        "actor_id",
        By::Id,
        "Notices your answers left for watchers",
        &[
            "id",
            "topic_id",
            "post_id",
            "kind",
            "at",
            "sent_at",
            "withheld_at",
        ],
    ),
    h(
        "community_events",
        "actor_id",
        By::Id,
        "What you did in the community (its audit trail)",
        &["topic_id", "seq", "at", "kind", "payload"],
    ),
];

/// Columns that look as if they name people but hold nothing about one,
/// each with why.
pub const NOT_PERSONAL: &[(&str, &str, &str)] = &[
    (
        "spent_ceremonies",
        "key",
        "a hash of a passkey ceremony answered in the last ten minutes",
    ),
    (
        "mailbox_leases",
        "holder",
        "which server instance reads the mailbox",
    ),
    (
        "search_docs",
        "*",
        "an index rebuilt from the records listed here",
    ),
    (
        "articles",
        "review_by",
        "a date: when the article is next reviewed",
    ),
    (
        "form_submissions",
        "key",
        "other keys are a public form's count per network, naming no one",
    ),
];

/// The most rows one place gives a download: a person who did a great
/// deal (a programme officer's years of events) gets the first of them and
/// is told there are more, so one request cannot hold the server's memory.
pub const ROW_CAP: usize = 5_000;

/// The paths of links that carry a secret (an unsubscribe key, an invite,
/// a registration or first-run link), as mail sent to a person holds them.
const SECRET_LINKS: [&str; 4] = ["/unsubscribe/", "/invite/", "/register/", "/setup/"];

/// Everything the database holds about one person.
#[derive(Debug, Clone, Serialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct PersonalData {
    pub person: PersonId,
    pub generated_at: Timestamp,
    pub held: Vec<Held>,
}

/// The rows of one place, in words.
#[derive(Debug, Clone, Serialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct Held {
    pub table: &'static str,
    pub about: &'static str,
    /// There are more rows than [`ROW_CAP`]: the programme's export holds
    /// the rest.
    pub more: bool,
    /// Each row: its columns' values.
    #[cfg_attr(feature = "openapi", schema(value_type = Vec<Object>))]
    pub rows: Vec<Map<String, Value>>,
}

impl Store {
    /// Everything the database holds about `person`, if `actor` may see it
    /// (themselves, or a programme admin for them).
    pub async fn personal_data(
        &self,
        actor: &Actor,
        person: PersonId,
        now: Timestamp,
    ) -> Result<PersonalData, StoreError> {
        actor.may_see_personal_data(person)?;
        let found: Option<Person> = self.person(person).await?;
        let Some(found) = found else {
            return Err(StoreError::NoSuchPerson(person.0.to_string()));
        };
        let email = found.email.as_str().to_lowercase();
        let mut held = Vec::new();
        for hl in HOLDERS {
            let columns = hl.columns.join(", ");
            let (table, column) = (hl.table, hl.column);
            let rows = match hl.by {
                By::Id => {
                    sqlx::query(&format!(
                        "SELECT {columns} FROM {table} WHERE {column} = $1 ORDER BY 1 LIMIT {}",
                        ROW_CAP + 1
                    ))
                    .bind(person.0)
                    .fetch_all(&self.pool)
                    .await?
                }
                By::Email => sqlx::query(&format!(
                    "SELECT {columns} FROM {table} WHERE LOWER({column}) = $1 ORDER BY 1 LIMIT {}",
                    ROW_CAP + 1
                ))
                .bind(email.clone())
                .fetch_all(&self.pool)
                .await?,
                // Keys are few and short-lived: those with the prefix are
                // read, and only the person's kept.
                By::Key(prefix, then) => {
                    let exact = match then {
                        Then::Id => format!("{prefix}{}", person.0),
                        Then::Email | Then::EmailAndMore => format!("{prefix}{email}"),
                    };
                    let rows = sqlx::query(&format!(
                        "SELECT {column}, {columns} FROM {table} WHERE {column} LIKE $1 ORDER BY 2"
                    ))
                    .bind(format!("{prefix}%"))
                    .fetch_all(&self.pool)
                    .await?;
                    let mut mine = Vec::new();
                    for r in rows {
                        let key = r.try_get::<String, _>(0)?.to_lowercase();
                        let fits = match then {
                            Then::EmailAndMore => key.starts_with(&format!("{exact}|")),
                            _ => key == exact,
                        };
                        if fits {
                            mine.push(r);
                        }
                    }
                    mine
                }
            };
            if rows.is_empty() {
                continue;
            }
            let skip = usize::from(matches!(hl.by, By::Key(..)));
            let more = rows.len() > ROW_CAP;
            let mut out = rows
                .iter()
                .take(ROW_CAP)
                .map(|r| row_json(r, skip))
                .collect::<Result<Vec<_>, _>>()?;
            // Mail keeps its links; those that carry a secret lose it.
            for row in &mut out {
                for value in row.values_mut() {
                    if let Value::String(text) = value {
                        *text = without_secret_links(text);
                    }
                }
            }
            held.push(Held {
                table: hl.table,
                about: hl.about,
                more,
                rows: out,
            });
        }
        Ok(PersonalData {
            person,
            generated_at: now,
            held,
        })
    }
}

/// A row as a JSON object of its columns after the first `skip`: numbers,
/// texts or nulls (JSON kept as text is shown as the JSON it is).
fn row_json(r: &sqlx::any::AnyRow, skip: usize) -> Result<Map<String, Value>, StoreError> {
    let mut out = Map::new();
    for (i, c) in r.columns().iter().enumerate().skip(skip) {
        let v = if let Ok(n) = r.try_get::<Option<i64>, _>(i) {
            n.map_or(Value::Null, Value::from)
        } else {
            let t: Option<String> = r.try_get(i)?;
            match t {
                None => Value::Null,
                Some(t) if c.name() == "payload" || c.name() == "role" => {
                    serde_json::from_str(&t).unwrap_or(Value::String(t))
                }
                Some(t) => Value::String(t),
            }
        };
        out.insert(c.name().to_string(), v);
    }
    Ok(out)
}

/// `text` with the secret of every link that carries one (an unsubscribe
/// key, an invite's or a registration's token) left out.
pub fn without_secret_links(text: &str) -> String {
    if !SECRET_LINKS.iter().any(|p| text.contains(p)) {
        return text.to_string();
    }
    let mut out = String::with_capacity(text.len());
    let mut rest = text;
    while let Some((at, path)) = SECRET_LINKS
        .iter()
        .filter_map(|p| rest.find(p).map(|i| (i, *p)))
        .min()
    {
        let after = at + path.len();
        out.push_str(&rest[..after]);
        let token = rest[after..]
            .find(|c: char| !(c.is_ascii_alphanumeric() || c == '-' || c == '_'))
            .unwrap_or(rest.len() - after);
        if token > 0 {
            out.push_str("[left out]");
        }
        rest = &rest[after + token..];
    }
    out.push_str(rest);
    out
}

#[cfg(test)]
mod tests {
    use super::without_secret_links as clean;

    #[test]
    fn secret_links_lose_their_secret_and_keep_the_rest() {
        assert_eq!(clean("no links here"), "no links here");
        assert_eq!(
            clean("a /unsubscribe/k3y, then /invite/t-0_k. /register/ end /setup/x"),
            "a /unsubscribe/[left out], then /invite/[left out]. /register/ end /setup/[left out]"
        );
        assert_eq!(
            clean("/unsubscribe/ab/unsubscribe/cd"),
            "/unsubscribe/[left out]/unsubscribe/[left out]"
        );
        assert_eq!(clean("é /invite/ü"), "é /invite/ü");
    }
}
