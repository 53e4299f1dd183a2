//! A deterministic generator of engagement records, for benchmarks
//! (`waymark dev seed`).
//!
//! Nothing here is made up past the rules: every engagement is a run of
//! commands judged by `waymark_core::decide` and folded by `apply`, exactly
//! as the store does for people, so the records are ones the rules allow,
//! and every event is chained and hashed as `execute` would, so `audit
//! verify` passes on the result. Only the per-command transaction is
//! skipped: rows go in with multi-row inserts, a few hundred engagements per
//! transaction, which is what makes a million events take seconds rather
//! than hours. The same size and seed always give the same records.

use sqlx::{Any, Transaction};
use waymark_core::{
    Actor, AgencyId, Command, DecisionAt, Email, Engagement, EngagementId, Event, Funder, Mode,
    PartnerKind, Person, PersonId, Role, StepStatus, Timestamp,
};
use waymark_model::synth::Rng;
use waymark_model::{Effect, Model, SourceFile};

use crate::{Store, StoreError, chain, json};

/// How much to generate.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Size {
    pub agencies: usize,
    pub engagements: usize,
    /// Events in all, spread over the engagements (each gets half to one
    /// and a half times the average).
    pub events: usize,
    /// Published knowledge articles of synthetic text, for search.
    pub articles: usize,
    /// Community questions: four in five in the Blueprint category, the
    /// rest spread over the stages' categories; each has up to two
    /// answers, some accepted.
    pub questions: usize,
    /// Answers on the first question (a busy page), when there are questions.
    pub answers: usize,
    /// Answers to one public, anonymous Protected Utility survey, open from
    /// the first day to 2099 (for the results benchmark); none: no survey.
    pub survey_answers: usize,
    pub seed: u64,
}

/// What was written.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Generated {
    pub agencies: usize,
    pub people: usize,
    pub engagements: usize,
    pub events: usize,
    pub articles: usize,
    pub questions: usize,
    /// Community posts in all: questions and answers.
    pub posts: usize,
    pub survey_answers: usize,
}

/// The first generated record's time: 2023-11-14.
const START: i64 = 1_700_000_000;
const STAFF: usize = 20;
const PARTNERS: usize = 60;
/// Engagements per transaction.
const BATCH: usize = 200;

const PORTFOLIOS: &[&str] = &[
    "Finance",
    "Health",
    "Home Affairs",
    "Education",
    "Industry",
    "Defence",
    "Social Services",
    "Agriculture",
];

/// A value for a multi-row insert.
enum V {
    I(i64),
    S(String),
    /// A nullable integer or text: PostgreSQL wants NULLs typed.
    OptI(Option<i64>),
    OptS(Option<String>),
}

/// Inserts `rows` into `table (cols)` a hundred rows per statement.
async fn insert(
    tx: &mut Transaction<'_, Any>,
    table: &str,
    cols: &[&str],
    rows: &[Vec<V>],
) -> Result<(), StoreError> {
    for chunk in rows.chunks(100) {
        let mut sql = format!("INSERT INTO {table} ({}) VALUES ", cols.join(", "));
        let mut n = 0;
        for (i, _) in chunk.iter().enumerate() {
            if i > 0 {
                sql.push_str(", ");
            }
            sql.push('(');
            for c in 0..cols.len() {
                n += 1;
                if c > 0 {
                    sql.push_str(", ");
                }
                sql.push_str(&format!("${n}"));
            }
            sql.push(')');
        }
        let mut q = sqlx::query(&sql);
        for row in chunk {
            for v in row {
                q = match v {
                    V::I(i) => q.bind(*i),
                    V::S(s) => q.bind(s.as_str()),
                    V::OptI(i) => q.bind(*i),
                    V::OptS(t) => q.bind(t.as_deref()),
                };
            }
        }
        q.execute(&mut **tx).await?;
    }
    Ok(())
}

/// The people who act on one agency's engagements.
struct Cast {
    staff: Actor,
    member: Actor,
    sponsor: Actor,
    partner: PersonId,
    /// The sponsor and the partner as the directory holds them, for the
    /// commands that name them.
    people: Vec<Person>,
}

/// A partner's kind, as the directory above gives it to partner `i`.
fn partner_kind(i: usize) -> PartnerKind {
    [
        PartnerKind::Strategy,
        PartnerKind::Technology,
        PartnerKind::ChangeManagement,
    ][i % 3]
}

/// A person's id: staff first, then partners, then two per agency.
fn member_id(agency: usize, sponsor: bool) -> i64 {
    (STAFF + PARTNERS + 2 * (agency - 1) + usize::from(sponsor) + 1) as i64
}

impl Store {
    /// Fills an empty database with `size` records on the model `pages`,
    /// calling `progress` after each batch.
    pub async fn generate(
        &self,
        pages: &[SourceFile],
        size: Size,
        mut progress: impl FnMut(&Generated),
    ) -> Result<Generated, StoreError> {
        if size.agencies == 0 && size.engagements > 0 {
            return Err(StoreError::Corrupt(
                "engagements need at least one agency".into(),
            ));
        }
        self.require_empty().await?;
        let mut rng = Rng::new(size.seed);
        let mut done = Generated::default();

        let mut tx = self.pool.begin().await?;
        let agencies: Vec<Vec<V>> = (1..=size.agencies)
            .map(|i| {
                vec![
                    V::I(i as i64),
                    V::S(format!("Agency {i:05}")),
                    V::S(format!("AG{i:05}")),
                    V::S(PORTFOLIOS[i % PORTFOLIOS.len()].to_string()),
                    V::OptS(match i % 5 {
                        0 => None,
                        k => Some(
                            [
                                "\"lean\"",
                                "\"aligned\"",
                                "\"self_directed\"",
                                "\"complex\"",
                            ][k - 1]
                                .to_string(),
                        ),
                    }),
                    V::I(START),
                ]
            })
            .collect();
        insert(
            &mut tx,
            "agencies",
            &[
                "id",
                "name",
                "abbreviation",
                "portfolio",
                "agency_type",
                "created_at",
            ],
            &agencies,
        )
        .await?;
        let mut people = Vec::new();
        let mut roles = Vec::new();
        let person = |id: i64, name: String, email: String| {
            vec![V::I(id), V::S(name), V::S(email), V::I(START)]
        };
        for i in 1..=STAFF {
            people.push(person(
                i as i64,
                format!("Programme Officer {i}"),
                format!("officer{i}@dta.gov.au"),
            ));
            roles.push(vec![V::I(i as i64), V::S(json(&Role::ProgrammeStaff)?)]);
        }
        for i in 1..=PARTNERS {
            let id = (STAFF + i) as i64;
            people.push(person(
                id,
                format!("Partner {i}"),
                format!("partner{i}@vendor{}.com.au", i % 7),
            ));
            let kind = partner_kind(i);
            roles.push(vec![V::I(id), V::S(json(&Role::Partner { kind })?)]);
        }
        for a in 1..=size.agencies {
            for sponsor in [false, true] {
                let id = member_id(a, sponsor);
                let (what, role) = if sponsor {
                    ("executive", "Executive Sponsor")
                } else {
                    ("staff", "Staff Member")
                };
                people.push(person(
                    id,
                    format!("{role} {a:05}"),
                    format!("{what}@ag{a:05}.gov.au"),
                ));
                let role = Role::AgencyMember {
                    agency: AgencyId(a as i64),
                    sponsor,
                };
                roles.push(vec![V::I(id), V::S(json(&role)?)]);
            }
        }
        insert(
            &mut tx,
            "people",
            &["id", "name", "email", "created_at"],
            &people,
        )
        .await?;
        insert(&mut tx, "memberships", &["person_id", "role"], &roles).await?;
        tx.commit().await?;
        done.agencies = size.agencies;
        done.people = people.len();

        let hash = self.pin_model(pages, Timestamp(START)).await?;
        let model = self.model(&hash).await?;
        let average = size.events.checked_div(size.engagements).unwrap_or(0);
        let mut first = 1;
        while first <= size.engagements {
            let last = (first + BATCH - 1).min(size.engagements);
            let mut engagements = Vec::new();
            let mut events = Vec::new();
            let mut assignments = Vec::new();
            let mut stages = Vec::new();
            for id in first..=last {
                let agency = (id - 1) % size.agencies + 1;
                let partner = 1 + id % PARTNERS;
                let sponsor_role = Role::AgencyMember {
                    agency: AgencyId(agency as i64),
                    sponsor: true,
                };
                let cast = Cast {
                    staff: Actor {
                        person: PersonId(1 + (id % STAFF) as i64),
                        roles: vec![Role::ProgrammeStaff],
                    },
                    member: Actor {
                        person: PersonId(member_id(agency, false)),
                        roles: vec![Role::AgencyMember {
                            agency: AgencyId(agency as i64),
                            sponsor: false,
                        }],
                    },
                    sponsor: Actor {
                        person: PersonId(member_id(agency, true)),
                        roles: vec![Role::AgencyMember {
                            agency: AgencyId(agency as i64),
                            sponsor: true,
                        }],
                    },
                    partner: PersonId((STAFF + partner) as i64),
                    people: vec![
                        Person {
                            id: PersonId(member_id(agency, true)),
                            name: format!("Executive Sponsor {agency:05}"),
                            email: Email::parse(&format!("executive@ag{agency:05}.gov.au"))?,
                            deactivated_at: None,
                            roles: vec![sponsor_role],
                        },
                        Person {
                            id: PersonId((STAFF + partner) as i64),
                            name: format!("Partner {partner}"),
                            email: Email::parse(&format!(
                                "partner{partner}@vendor{}.com.au",
                                partner % 7
                            ))?,
                            deactivated_at: None,
                            roles: vec![Role::Partner {
                                kind: partner_kind(partner),
                            }],
                        },
                    ],
                };
                let target = if average == 0 {
                    2
                } else {
                    average / 2 + rng.below(average + 1)
                };
                let began = START + (id as i64) * 600;
                let (e, log) = simulate(
                    &model,
                    &hash,
                    EngagementId(id as i64),
                    &cast,
                    &mut rng,
                    target,
                    began,
                )?;
                let mut prev = String::new();
                let mut last_at = began;
                for (seq, (actor, at, command, ev)) in log.iter().enumerate() {
                    let seq = seq as i64 + 1;
                    let payload = json(ev)?;
                    let hash = chain::link(&prev, id as i64, seq, actor.0, at.0, command, &payload);
                    events.push(vec![
                        V::I(id as i64),
                        V::I(seq),
                        V::I(actor.0),
                        V::I(at.0),
                        V::S((*command).to_string()),
                        V::S(payload),
                        V::S(std::mem::take(&mut prev)),
                        V::S(hash.clone()),
                    ]);
                    prev = hash;
                    last_at = at.0;
                }
                for a in &e.assigned {
                    assignments.push(vec![V::I(id as i64), V::I(a.person.0)]);
                }
                for st in &e.stages {
                    stages.push(vec![
                        V::I(id as i64),
                        V::S(st.stage.clone()),
                        V::S(crate::status_name(st.status).to_string()),
                        V::I(i64::from(st.cycles)),
                        V::OptI(st.started_at.map(|t| t.0)),
                    ]);
                }
                engagements.push(vec![
                    V::I(id as i64),
                    V::I(agency as i64),
                    V::S(hash.clone()),
                    V::S(json(&e)?),
                    V::S(json(&e.summary())?),
                    V::I(e.version as i64),
                    V::I(log.len() as i64),
                    V::S(prev),
                    V::I(began),
                    V::I(last_at),
                ]);
                done.events += log.len();
            }
            let mut tx = self.pool.begin().await?;
            insert(
                &mut tx,
                "engagements",
                &[
                    "id",
                    "agency_id",
                    "model_hash",
                    "state",
                    "summary",
                    "version",
                    "event_count",
                    "head_hash",
                    "created_at",
                    "updated_at",
                ],
                &engagements,
            )
            .await?;
            insert(
                &mut tx,
                "events",
                &[
                    "engagement_id",
                    "seq",
                    "actor_id",
                    "at",
                    "command",
                    "payload",
                    "prev_hash",
                    "hash",
                ],
                &events,
            )
            .await?;
            insert(
                &mut tx,
                "assignments",
                &["engagement_id", "person_id"],
                &assignments,
            )
            .await?;
            insert(
                &mut tx,
                "engagement_stages",
                &["engagement_id", "stage", "status", "cycles", "started_at"],
                &stages,
            )
            .await?;
            tx.commit().await?;
            done.engagements = last;
            progress(&done);
            first = last + 1;
        }
        done.articles = self.generate_articles(size, &mut rng).await?;
        if size.questions > 0 {
            done.posts = self.generate_community(&model, size, &mut rng).await?;
            done.questions = size.questions;
        }
        self.reset_sequences().await?;
        if size.survey_answers > 0 {
            self.generate_survey(size, &mut rng).await?;
            done.survey_answers = size.survey_answers;
        }
        self.recount().await?;
        self.rebuild_portfolio_if_missing().await?;
        self.reindex_records().await?;
        // After a bulk load, fresh statistics (and on PostgreSQL a
        // visibility map, so counts can use index-only scans), as
        // autovacuum would give them later.
        let analyze = match self.backend {
            crate::Backend::Sqlite => "ANALYZE",
            crate::Backend::Postgres => "VACUUM ANALYZE",
        };
        sqlx::query(analyze).execute(&self.pool).await?;
        Ok(done)
    }
}

/// Syllables of the synthetic vocabulary: 8,000 made-up words, so that no
/// English stemmer folds two of them together.
const SYLLABLES: &[&str] = &[
    "ka", "lo", "mir", "tan", "vel", "qua", "dor", "sen", "pim", "rux", "bel", "zo", "gar", "nif",
    "tho", "wex", "yul", "cre", "dag", "fom",
];

fn word(i: usize) -> String {
    let n = SYLLABLES.len();
    format!(
        "{}{}{}",
        SYLLABLES[i % n],
        SYLLABLES[(i / n) % n],
        SYLLABLES[(i / (n * n)) % n]
    )
}

/// A word drawn as in prose once its stop words are gone (a Zipf law
/// shifted by 100 ranks): the commonest is in about a quarter of the
/// articles, most are rare.
fn skewed_word(rng: &mut Rng) -> String {
    let u = rng.below(1_000_000) as f64 / 1_000_000.0;
    word((100.0 * 81f64.powf(u) - 100.0) as usize)
}

/// `n` skewed words, joined by spaces.
fn skewed_words(rng: &mut Rng, n: usize) -> String {
    (0..n)
        .map(|_| skewed_word(rng))
        .collect::<Vec<_>>()
        .join(" ")
}

impl Store {
    /// `size.articles` published articles of synthetic words, each with one
    /// version, written by the first programme officer.
    async fn generate_articles(&self, size: Size, rng: &mut Rng) -> Result<usize, StoreError> {
        let mut done = 0;
        while done < size.articles {
            let n = (size.articles - done).min(2_000);
            let mut articles = Vec::with_capacity(n);
            let mut versions = Vec::with_capacity(n);
            for i in done + 1..=done + n {
                let (title, summary) = (skewed_words(rng, 4), skewed_words(rng, 12) + ".");
                let body: Vec<String> = (0..150).map(|_| skewed_word(rng)).collect();
                let body = body
                    .chunks(30)
                    .map(|p| p.join(" ") + ".")
                    .collect::<Vec<_>>()
                    .join("\n\n");
                articles.push(vec![
                    V::I(i as i64),
                    V::S(format!("synthetic-{i}")),
                    V::S("published".into()),
                    V::S(title.clone()),
                    V::S(summary.clone()),
                    V::S(body.clone()),
                    V::S("[]".into()),
                    V::S("2099-01-01".into()),
                    V::I(1),
                    V::I(2),
                    V::I(START),
                    V::I(START),
                ]);
                versions.push(vec![
                    V::I(i as i64),
                    V::I(1),
                    V::S(title),
                    V::S(summary),
                    V::S(body),
                    V::S("[]".into()),
                    V::I(1),
                    V::I(START),
                ]);
            }
            let mut tx = self.pool.begin().await?;
            insert(
                &mut tx,
                "articles",
                &[
                    "id",
                    "slug",
                    "status",
                    "title",
                    "summary",
                    "body",
                    "tags",
                    "review_by",
                    "owner_id",
                    "version",
                    "created_at",
                    "updated_at",
                ],
                &articles,
            )
            .await?;
            insert(
                &mut tx,
                "article_versions",
                &[
                    "article_id",
                    "number",
                    "title",
                    "summary",
                    "body",
                    "tags",
                    "published_by",
                    "published_at",
                ],
                &versions,
            )
            .await?;
            tx.commit().await?;
            done += n;
        }
        Ok(done)
    }

    /// One public anonymous survey (the bundled template) and `size`'s
    /// answers to it, each kept by the store's own path: judged by the core
    /// and written in its own transaction, as a person's would be.
    async fn generate_survey(&self, size: Size, rng: &mut Rng) -> Result<(), StoreError> {
        use waymark_core::survey::{self, Audience};
        let at = Timestamp(START);
        let staff = Actor {
            person: PersonId(1),
            roles: vec![Role::ProgrammeStaff],
        };
        let opens = waymark_core::today(at);
        let d = survey::template(&opens, "2099-12-31").map_err(StoreError::Corrupt)?;
        let id = self.create_survey(&staff, &d, Audience::Public, at).await?;
        self.send_survey(&staff, id, &|_, _, _| crate::Mail::default(), at)
            .await?;
        let key = self
            .survey(&staff, id, at)
            .await?
            .public_key
            .ok_or_else(|| StoreError::Corrupt("a sent public survey has no link".into()))?;
        for i in 0..size.survey_answers {
            let mut given: Vec<Vec<String>> = Vec::new();
            for q in &d.questions {
                let v: Vec<String> = match q.kind {
                    survey::QuestionKind::Rating => vec![(1 + rng.below(5)).to_string()],
                    survey::QuestionKind::Nps => vec![rng.below(11).to_string()],
                    survey::QuestionKind::Single => vec![rng.below(q.choices.len()).to_string()],
                    survey::QuestionKind::Multiple => (0..q.choices.len())
                        .filter(|_| rng.below(3) == 0)
                        .map(|c| c.to_string())
                        .collect(),
                    // One in four says something, in words of its own.
                    survey::QuestionKind::Text if rng.below(4) == 0 => {
                        vec![format!(
                            "Synthetic answer {i}: more training on the desktop, please."
                        )]
                    }
                    survey::QuestionKind::Text => Vec::new(),
                };
                given.push(v);
            }
            self.answer_public(&key, None, &given, at).await?;
        }
        Ok(())
    }
}

/// Questions per transaction.
const TOPIC_BATCH: usize = 2_000;

impl Store {
    /// `size.questions` community questions with their answers, each with
    /// its own hash chain as the store writes it (asked, answered,
    /// accepted), so `audit verify` replays them. Authors are the agencies'
    /// people and the programme officers. Returns the posts written.
    async fn generate_community(
        &self,
        model: &Model,
        size: Size,
        rng: &mut Rng,
    ) -> Result<usize, StoreError> {
        use waymark_core::community::{TopicEvent, defaults};
        // An agency's person, or (with no agencies) a programme officer.
        let person = |n: usize, sponsor: bool| -> i64 {
            if size.agencies == 0 {
                (n % STAFF + 1) as i64
            } else {
                member_id(n % size.agencies + 1, sponsor)
            }
        };
        let categories = defaults(model);
        let rows: Vec<Vec<V>> = categories
            .iter()
            .enumerate()
            .map(|(i, c)| {
                vec![
                    V::I(i as i64 + 1),
                    V::S(c.slug.clone()),
                    V::S(c.name.clone()),
                    V::S(c.description.clone()),
                    V::S(c.visibility.as_str().into()),
                    V::I(i64::from(c.programme_only)),
                    V::I(i as i64),
                ]
            })
            .collect();
        let mut tx = self.pool.begin().await?;
        insert(
            &mut tx,
            "community_categories",
            &[
                "id",
                "slug",
                "name",
                "description",
                "visibility",
                "programme_only",
                "position",
            ],
            &rows,
        )
        .await?;
        tx.commit().await?;
        let blueprint = categories
            .iter()
            .position(|c| c.slug == "blueprint")
            .unwrap_or(0);
        let stages = model.stages.len().max(1);
        let mut post_id = 0i64;
        let mut first = 1;
        while first <= size.questions {
            let last = (first + TOPIC_BATCH - 1).min(size.questions);
            let (mut topics, mut posts, mut revisions, mut events) =
                (Vec::new(), Vec::new(), Vec::new(), Vec::new());
            for id in first..=last {
                let topic = id as i64;
                let category = if id % 5 == 0 {
                    (id / 5) % stages
                } else {
                    blueprint
                };
                let slug = categories[category].slug.clone();
                let asker = if id % 7 == 0 {
                    (id % STAFF + 1) as i64
                } else {
                    person(id, id % 2 == 0)
                };
                let mut at = START + topic * 60;
                let title = format!("How do we {}?", skewed_words(rng, 5));
                let body = skewed_words(rng, 40) + ".";
                let answers = if id == 1 { size.answers } else { rng.below(3) };
                let mut chain: Vec<(i64, i64, &'static str, String)> = Vec::new();
                post_id += 1;
                let question = post_id;
                posts.push(vec![
                    V::I(question),
                    V::I(topic),
                    V::I(asker),
                    V::I(1),
                    V::S(body.clone()),
                    V::I(at),
                ]);
                revisions.push(vec![
                    V::I(question),
                    V::I(1),
                    V::OptS(Some(title.clone())),
                    V::S(body.clone()),
                    V::I(asker),
                    V::I(at),
                ]);
                let asked = TopicEvent::Asked {
                    category: slug,
                    post: question,
                    title: title.clone(),
                    body,
                    tag: None,
                };
                chain.push((asker, at, asked.kind(), json(&asked)?));
                let mut first_answer = None;
                for k in 0..answers {
                    post_id += 1;
                    at += 600;
                    let author = if k % 3 == 0 {
                        ((id + k) % STAFF + 1) as i64
                    } else {
                        person(id + k, k % 2 == 0)
                    };
                    let text = skewed_words(rng, 30) + ".";
                    posts.push(vec![
                        V::I(post_id),
                        V::I(topic),
                        V::I(author),
                        V::I(0),
                        V::S(text.clone()),
                        V::I(at),
                    ]);
                    revisions.push(vec![
                        V::I(post_id),
                        V::I(1),
                        V::OptS(None),
                        V::S(text.clone()),
                        V::I(author),
                        V::I(at),
                    ]);
                    let e = TopicEvent::Answered {
                        post: post_id,
                        body: text,
                    };
                    chain.push((author, at, e.kind(), json(&e)?));
                    first_answer.get_or_insert(post_id);
                }
                let accepted = first_answer.filter(|_| rng.below(2) == 0);
                if let Some(post) = accepted {
                    at += 600;
                    let e = TopicEvent::Accepted { post };
                    chain.push((asker, at, e.kind(), json(&e)?));
                }
                let mut head = String::new();
                for (seq, (actor, when, kind, payload)) in chain.iter().enumerate() {
                    let seq = seq as i64 + 1;
                    let hash = chain::link(&head, topic, seq, *actor, *when, kind, payload);
                    events.push(vec![
                        V::I(topic),
                        V::I(seq),
                        V::I(*actor),
                        V::I(*when),
                        V::S((*kind).to_string()),
                        V::S(payload.clone()),
                        V::S(head.clone()),
                        V::S(hash.clone()),
                    ]);
                    head = hash;
                }
                topics.push(vec![
                    V::I(topic),
                    V::I(category as i64 + 1),
                    V::I(asker),
                    V::S(title),
                    V::OptI(accepted),
                    V::I(answers as i64),
                    V::I(START + topic * 60),
                    V::I(at),
                    V::I(chain.len() as i64),
                    V::S(head),
                ]);
            }
            let mut tx = self.pool.begin().await?;
            insert(
                &mut tx,
                "community_topics",
                &[
                    "id",
                    "category_id",
                    "author_id",
                    "title",
                    "accepted_post_id",
                    "answer_count",
                    "created_at",
                    "last_activity_at",
                    "event_count",
                    "head_hash",
                ],
                &topics,
            )
            .await?;
            insert(
                &mut tx,
                "community_posts",
                &[
                    "id",
                    "topic_id",
                    "author_id",
                    "is_question",
                    "body",
                    "created_at",
                ],
                &posts,
            )
            .await?;
            insert(
                &mut tx,
                "community_revisions",
                &["post_id", "number", "title", "body", "editor_id", "at"],
                &revisions,
            )
            .await?;
            insert(
                &mut tx,
                "community_events",
                &[
                    "topic_id",
                    "seq",
                    "actor_id",
                    "at",
                    "kind",
                    "payload",
                    "prev_hash",
                    "hash",
                ],
                &events,
            )
            .await?;
            tx.commit().await?;
            first = last + 1;
        }
        sqlx::query(
            "UPDATE community_categories SET question_count = \
             (SELECT COUNT(*) FROM community_topics t WHERE t.category_id = community_categories.id)",
        )
        .execute(&self.pool)
        .await?;
        Ok(post_id as usize)
    }
}

type Logged = (PersonId, Timestamp, &'static str, Event);

/// One engagement: start, then random commands the rules accept until it
/// has about `target` events.
fn simulate(
    model: &Model,
    hash: &str,
    id: EngagementId,
    cast: &Cast,
    rng: &mut Rng,
    target: usize,
    began: i64,
) -> Result<(Engagement, Vec<Logged>), StoreError> {
    let agency = match cast.member.roles.first() {
        Some(Role::AgencyMember { agency, .. }) => *agency,
        _ => AgencyId(0),
    };
    let mut e = Engagement::new(id, agency);
    let mut log: Vec<Logged> = Vec::new();
    let mut at = began;
    let start = waymark_core::start(model, hash, agency, &cast.staff, Mode::DoItWithYou)?;
    for ev in start {
        e.apply(&ev, cast.staff.person, Timestamp(at));
        log.push((cast.staff.person, Timestamp(at), "start", ev));
    }
    e.version = 1;
    // Some agencies end up doing it themselves: the record then stays as it is.
    let diy = rng.below(100) < 3;
    let mut attempts = 0;
    while log.len() < target && attempts < target * 4 {
        attempts += 1;
        at += 3600 + rng.below(3 * 86_400) as i64;
        let Some((actor, cmd)) = pick(model, &e, cast, rng, diy && log.len() + 4 >= target) else {
            continue;
        };
        let Ok(events) = waymark_core::decide(model, &e, actor, &cast.people, &cmd) else {
            continue;
        };
        for ev in events {
            e.apply(&ev, actor.person, Timestamp(at));
            log.push((actor.person, Timestamp(at), cmd.name(), ev));
        }
        e.version += 1;
        if e.mode == Mode::DoItYourself {
            break;
        }
    }
    Ok((e, log))
}

/// A plausible next command and who gives it.
fn pick<'c>(
    model: &Model,
    e: &Engagement,
    cast: &'c Cast,
    rng: &mut Rng,
    end_diy: bool,
) -> Option<(&'c Actor, Command)> {
    let active: Vec<&str> = e.active_stages().map(|s| s.stage.as_str()).collect();
    if active.is_empty() {
        let s = &model.stages[rng.below(model.stages.len())];
        return Some((
            &cast.staff,
            Command::StartStage {
                stage: s.slug.as_str().into(),
            },
        ));
    }
    let slug = active[rng.below(active.len())];
    let stage = model.stage(slug)?;
    if end_diy {
        let (at, option) = stage
            .decisions
            .iter()
            .enumerate()
            .find_map(|(i, d)| {
                d.choices
                    .options
                    .iter()
                    .position(|o| o.effect == Effect::DoItYourself)
                    .map(|o| (DecisionAt::Point { index: i }, o))
            })
            .or_else(|| {
                stage
                    .exits
                    .iter()
                    .position(|o| o.effect == Effect::DoItYourself)
                    .map(|o| (DecisionAt::Exit, o))
            })?;
        return Some((
            &cast.sponsor,
            Command::Decide {
                stage: (*slug).into(),
                at,
                option,
                rationale: "The agency has the capability to carry on alone.".into(),
                funded_by: Funder::Agency,
                note: None,
            },
        ));
    }
    let n = e.version;
    let cmd = match rng.below(100) {
        0..55 if !stage.steps.is_empty() => {
            let status = if rng.below(3) == 0 {
                StepStatus::InProgress
            } else {
                StepStatus::Done
            };
            let step = stage.steps[rng.below(stage.steps.len())].number;
            (
                &cast.member,
                Command::SetStep {
                    stage: (*slug).into(),
                    step,
                    status,
                },
            )
        }
        55..60 if !stage.steps.is_empty() => (
            &cast.member,
            Command::SkipStep {
                stage: (*slug).into(),
                step: stage.steps[rng.below(stage.steps.len())].number,
                reason: format!("Covered by existing work (note {n}).").into(),
            },
        ),
        60..68 => (
            &cast.member,
            Command::AddRisk {
                text: format!(
                    "Licensing lead times may delay the rollout (raised at version {n})."
                )
                .into(),
                stage: Some((*slug).into()),
            },
        ),
        68..74 => {
            let open: Vec<u32> = e.risks.iter().filter(|r| r.open).map(|r| r.id).collect();
            if open.is_empty() {
                return None;
            }
            (
                &cast.staff,
                Command::CloseRisk {
                    id: open[rng.below(open.len())],
                    note: "Mitigated: the vendor confirmed supply.".into(),
                },
            )
        }
        // Readings of a measured benefit, once there is one: falling from
        // the baseline of 40 builds towards the target of 10, some faster.
        74..78 if !e.benefits.is_empty() && rng.below(3) > 0 => {
            let id = 1 + rng.below(e.benefits.len()) as u32;
            let month = 2 + rng.below(17);
            let (year, month) = (2026 + (month - 1) / 12, 1 + (month - 1) % 12);
            (
                &cast.member,
                Command::RecordReading {
                    id,
                    value: (40_i64 - (month as i64) * (1 + rng.below(3) as i64))
                        .max(0)
                        .to_string()
                        .into(),
                    date: format!("{year}-{month:02}-{:02}", 1 + rng.below(28)).into(),
                    note: None,
                },
            )
        }
        74..78 => (
            &cast.member,
            Command::AddBenefit {
                text: format!("Fewer desktop builds to maintain (benefit {n}).").into(),
                measure: Some("Builds per year".into()),
                plan: waymark_core::benefit::PlanInput {
                    unit: Some("builds".into()),
                    baseline: Some("40".into()),
                    baseline_date: Some("2026-01-01".into()),
                    target: Some("10".into()),
                    target_date: Some("2027-06-30".into()),
                    owner: None,
                },
            },
        ),
        // Criteria that a recorded fact meets are not ticked by hand.
        78..83 if stage.success.len() > stage.met_by.len() => (
            &cast.member,
            Command::CheckSuccess {
                stage: (*slug).into(),
                criterion: {
                    let by_hand: Vec<usize> = (0..stage.success.len())
                        .filter(|i| !stage.met_by.iter().any(|m| m.criterion == *i))
                        .collect();
                    by_hand[rng.below(by_hand.len())]
                },
                evidence: "Confirmed at the fortnightly check-in.".into(),
            },
        ),
        83..85 => (
            &cast.staff,
            Command::PlanDiscovery {
                weeks: 4 + rng.below(7) as u32,
            },
        ),
        85..95 => {
            let onward: Vec<usize> = stage
                .exits
                .iter()
                .enumerate()
                .filter(|(_, o)| matches!(o.effect, Effect::EnterStage { .. }))
                .map(|(i, _)| i)
                .collect();
            if onward.is_empty() {
                return None;
            }
            (
                &cast.sponsor,
                Command::Decide {
                    stage: (*slug).into(),
                    at: DecisionAt::Exit,
                    option: onward[rng.below(onward.len())],
                    rationale: "Agreed at the steering committee.".into(),
                    funded_by: [Funder::Dta, Funder::CoFunded, Funder::Agency][rng.below(3)],
                    note: None,
                },
            )
        }
        95..97 if e.assigned.is_empty() => (
            &cast.staff,
            Command::Assign {
                person: cast.partner,
                partner: None,
            },
        ),
        97..99 if e.sponsor.is_none() => (
            &cast.staff,
            Command::SetSponsor {
                person: cast.sponsor.person,
            },
        ),
        // A retrospective, then lessons from it about the stage at hand,
        // most of them "to improve" (the portfolio's lessons by stage).
        95..99 if !e.workshops.iter().any(|w| w.plan.retro) => (
            &cast.sponsor,
            Command::ScheduleWorkshop {
                id: None,
                plan: waymark_core::WorkshopPlan {
                    title: "Retrospective".into(),
                    date: "2024-06-14".into(),
                    time: "10:00".into(),
                    timezone: "Australia/Canberra".into(),
                    minutes: 60,
                    location: Some("Canberra".into()),
                    link: None,
                    agenda: "What went well, what to improve, what to try next.".into(),
                    attendees: Vec::new(),
                    retro: true,
                },
            },
        ),
        95..99 => {
            let workshop = e.workshops.iter().find(|w| w.plan.retro)?.id;
            let kind = waymark_core::lesson::LessonKind::ALL[[1, 1, 0, 2][rng.below(4)]];
            let step = stage
                .steps
                .get(rng.below(stage.steps.len().max(1)))
                .map(|s| s.number);
            (
                &cast.sponsor,
                Command::RecordLesson {
                    workshop,
                    kind,
                    text: format!("Book the specialists earlier (lesson {n}).").into(),
                    stage: (*slug).into(),
                    step,
                },
            )
        }
        _ => (
            &cast.member,
            Command::LinkInitiative {
                name: format!("Initiative {n}").into(),
                description: "Existing desktop refresh work.".into(),
            },
        ),
    };
    Some(cmd)
}
