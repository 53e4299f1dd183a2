//! Commands on the engagement records: `db migrate`, `agency add`,
//! `user add`, `engagement start|list|show`, `audit verify`.
//!
//! The CLI acts with the database's own authority (whoever can run it can
//! read the file), so reads show everything; commands that change an
//! engagement name the person they act as with `--as EMAIL`, and the audit
//! trail records that person.

use std::io::Write;
use std::process::ExitCode;

use anyhow::Context;
use waymark_core::{
    Abbreviation, Actor, AgencyType, Email, EngagementId, Mode, NewAgency, NewPerson, PartnerKind,
    Role,
};
use waymark_store::Store;

use crate::origin::Origin;

pub use waymark_store::now;

/// Runs an async store operation to completion on a small runtime.
pub fn block_on<T>(f: impl std::future::Future<Output = anyhow::Result<T>>) -> anyhow::Result<T> {
    tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .context("cannot start the async runtime")?
        .block_on(f)
}

/// `--files-dir`, set once at start-up for every command that opens the store.
/// Where the records are: the database's URL and, when files are kept
/// outside it, their folder (`--files-dir`).
#[derive(Debug, Clone)]
pub struct Database {
    pub url: String,
    pub files_dir: Option<std::path::PathBuf>,
}

impl Database {
    /// This database if it exists already: a SQLite file that is there, or
    /// any other server. (Opening a missing SQLite file would create it.)
    pub fn existing(&self) -> Option<&Database> {
        (!waymark_store::missing_file(&self.url)).then_some(self)
    }

    pub async fn open(&self) -> anyhow::Result<Store> {
        self.with_files(Store::open(&self.url).await?)
    }

    /// Only a database that already holds Waymark's records (commands that
    /// read or check them: a mistyped URL must not make a new, empty one).
    pub async fn open_existing(&self) -> anyhow::Result<Store> {
        self.with_files(Store::open_existing(&self.url).await?)
    }

    fn with_files(&self, store: Store) -> anyhow::Result<Store> {
        Ok(match self.files_dir.as_deref() {
            Some(dir) => store.with_files_dir(dir)?,
            None => store,
        })
    }
}

/// The person named by `--as`, with their roles.
async fn acting(store: &Store, email: &str) -> anyhow::Result<Actor> {
    let email = Email::parse(email)?;
    let person = store.person_by_email(&email).await?.with_context(|| {
        format!("nobody has the email {email}; add them with `waymark user add`")
    })?;
    Ok(store.actor(person).await?)
}

/// Everything visible: the CLI reads with the database's authority.
fn operator() -> Actor {
    Actor {
        person: waymark_core::PersonId(0),
        roles: vec![Role::ProgrammeStaff],
    }
}

pub fn migrate(db: &Database) -> anyhow::Result<ExitCode> {
    block_on(async {
        let store = db.open().await?;
        store.close().await;
        eprintln!("the database is up to date");
        Ok(ExitCode::SUCCESS)
    })
}

/// `waymark search reindex`: the records' index from the records, and the
/// guide's pages from the model.
pub fn reindex(db: &Database, origin: &crate::origin::Origin) -> anyhow::Result<ExitCode> {
    let loaded = origin.load()?;
    let mut pages = waymark_site::searchable(&loaded.model);
    pages.extend(waymark_site::searchable_articles(
        &origin.articles(&loaded.model),
    ));
    let n_pages = pages.len();
    block_on(async {
        let store = db.open_existing().await?;
        let records = store.reindex_records().await?;
        waymark_web::index_guide(&store, pages).await?;
        store.close().await;
        eprintln!("search index rebuilt: {records} record(s) and {n_pages} guide page(s)");
        Ok(ExitCode::SUCCESS)
    })
}

pub fn agency_add(
    db: &Database,
    name: &str,
    abbreviation: &str,
    portfolio: &str,
    kind: Option<AgencyType>,
) -> anyhow::Result<ExitCode> {
    let agency = NewAgency::parse(name, abbreviation, portfolio, kind)?;
    block_on(async {
        let store = db.open().await?;
        let id = store.add_agency(&agency, now()).await?;
        println!("{id}");
        eprintln!(
            "added agency {} ({}) with id {id}",
            agency.name,
            agency.abbreviation.as_str()
        );
        Ok(ExitCode::SUCCESS)
    })
}

/// The roles `user add --role` accepts.
#[derive(Debug, Clone, Copy, clap::ValueEnum)]
pub enum RoleArg {
    Admin,
    Staff,
    Member,
    Sponsor,
    StrategyPartner,
    TechnologyPartner,
    ChangePartner,
}

pub fn user_add(
    db: &Database,
    name: &str,
    email: &str,
    role: RoleArg,
    agency: Option<&str>,
    password: Option<waymark_core::Password>,
    public_url: &str,
) -> anyhow::Result<ExitCode> {
    let person = NewPerson::parse(name, email)?;
    block_on(async {
        let store = db.open().await?;
        let agency_id = match agency {
            Some(a) => {
                let abbr = Abbreviation::parse(a)?;
                Some(
                    store
                        .agency_by_abbreviation(&abbr)
                        .await?
                        .with_context(|| {
                            format!(
                                "no agency is abbreviated {}; add it with `waymark agency add`",
                                abbr.as_str()
                            )
                        })?,
                )
            }
            None => None,
        };
        let role = match (role, agency_id) {
            (RoleArg::Admin, _) => Role::ProgrammeAdmin,
            (RoleArg::Staff, _) => Role::ProgrammeStaff,
            (RoleArg::Member, Some(agency)) => Role::AgencyMember {
                agency,
                sponsor: false,
            },
            (RoleArg::Sponsor, Some(agency)) => Role::AgencyMember {
                agency,
                sponsor: true,
            },
            (RoleArg::Member | RoleArg::Sponsor, None) => {
                anyhow::bail!("--role member and --role sponsor need --agency ABBREVIATION")
            }
            (RoleArg::StrategyPartner, _) => Role::Partner {
                kind: PartnerKind::Strategy,
            },
            (RoleArg::TechnologyPartner, _) => Role::Partner {
                kind: PartnerKind::Technology,
            },
            (RoleArg::ChangePartner, _) => Role::Partner {
                kind: PartnerKind::ChangeManagement,
            },
        };
        let id = match store.person_by_email(&person.email).await? {
            Some(id) => id,
            None => store.add_person(&person, now()).await?,
        };
        store.add_role(id, role).await?;
        println!("{id}");
        // The role in plain words, with the agency's abbreviation.
        let role_words = match (&role, &agency) {
            (Role::AgencyMember { .. }, Some(a)) => format!("{} of {}", role.label(), a.trim()),
            _ => role.label().to_string(),
        };
        eprintln!("{} <{}> is now: {role_words}", person.name, person.email);
        match password {
            Some(p) => {
                let hash = waymark_web::app::hash_password(&p)?;
                store.set_password_hash(id, &hash).await?;
                eprintln!("their password is set; they sign in at /login");
            }
            None if store
                .credentials(&person.email)
                .await?
                .is_some_and(|(_, h)| h.is_none()) =>
            {
                let t = now();
                let token = store
                    .create_invite(
                        id,
                        id,
                        t,
                        waymark_core::Timestamp(t.0 + INVITE_DAYS * 86_400),
                    )
                    .await?;
                let link = waymark_web::mail::invite_link(public_url, &token);
                store
                    .queue_mail(
                        &[waymark_web::mail::invite(
                            person.email.as_str(),
                            &person.name,
                            &link,
                            INVITE_DAYS,
                        )],
                        t,
                    )
                    .await?;
                eprintln!(
                    "to sign in they set a password at {link} (works once, for 14 days); the link is also in the outbox, sent once `serve --smtp-url` runs"
                );
            }
            None => {}
        }
        Ok(ExitCode::SUCCESS)
    })
}

/// Reads a new password from standard input (the first line), checked
/// against the policy.
pub fn password_from_stdin() -> anyhow::Result<waymark_core::Password> {
    let mut line = String::new();
    std::io::stdin()
        .read_line(&mut line)
        .context("cannot read the password from standard input")?;
    let p = line.trim_end_matches(['\n', '\r']);
    Ok(waymark_core::Password::parse(p, p)?)
}

pub fn engagement_start(
    db: &Database,
    origin: &Origin,
    agency: &str,
    as_email: &str,
    diy: bool,
) -> anyhow::Result<ExitCode> {
    let abbr = Abbreviation::parse(agency)?;
    let pages = origin.pages()?;
    block_on(async {
        let store = db.open().await?;
        let actor = acting(&store, as_email).await?;
        let agency = store
            .agency_by_abbreviation(&abbr)
            .await?
            .with_context(|| format!("no agency is abbreviated {}", abbr.as_str()))?;
        let hash = store.pin_model(&pages, now()).await?;
        let mode = if diy {
            Mode::DoItYourself
        } else {
            Mode::DoItWithYou
        };
        let e = store
            .start_engagement(&actor, agency, mode, &hash, now())
            .await?;
        println!("{}", e.id);
        eprintln!(
            "started engagement {} for {} on model {}",
            e.id,
            abbr.as_str(),
            &hash[..12]
        );
        Ok(ExitCode::SUCCESS)
    })
}

pub fn engagement_list(
    db: &Database,
    agency: Option<&str>,
    limit: u32,
    offset: u32,
) -> anyhow::Result<ExitCode> {
    let agency = agency.map(Abbreviation::parse).transpose()?;
    block_on(async {
        let store = db.open_existing().await?;
        let agency = match agency {
            Some(a) => Some(
                store
                    .agency_by_abbreviation(&a)
                    .await?
                    .with_context(|| format!("no agency is abbreviated {}", a.as_str()))?,
            ),
            None => None,
        };
        let filter = waymark_store::ListFilter {
            agency,
            limit,
            offset,
            before: None,
        };
        let page = store.engagements(&operator(), &filter).await?;
        eprintln!(
            "{} engagement(s); showing {} from offset {offset}",
            page.total,
            page.items.len()
        );
        let list = page.items;
        let mut out = std::io::stdout().lock();
        writeln!(
            out,
            "{:>6}  {:>6}  {:>7}  {:<14}  active stages",
            "id", "agency", "version", "mode"
        )?;
        for e in list {
            let active: Vec<String> = e
                .active_stages()
                .map(|s| format!("{} (cycle {})", s.stage, s.cycles))
                .collect();
            writeln!(
                out,
                "{:>6}  {:>6}  {:>7}  {:<14}  {}",
                e.id,
                e.agency,
                e.version,
                e.mode.label(),
                if active.is_empty() {
                    "-".to_string()
                } else {
                    active.join(", ")
                }
            )?;
        }
        Ok(ExitCode::SUCCESS)
    })
}

/// The record, its history, and its warnings by the current model's
/// timeboxes (`--model`, or the bundled model), as the workspace shows them.
pub fn engagement_show(
    db: &Database,
    origin: &crate::origin::Origin,
    id: i64,
) -> anyhow::Result<ExitCode> {
    let model = origin.load()?.model;
    block_on(async {
        let store = db.open_existing().await?;
        let e = store
            .engagement(&operator(), EngagementId(id))
            .await
            .map_err(not_found(EngagementId(id)))?;
        let history = store.history(&operator(), e.id).await?;
        let doc = serde_json::json!({ "engagement": e, "warnings": e.warnings(&model, now()), "history": history });
        println!("{}", serde_json::to_string_pretty(&doc)?);
        Ok(ExitCode::SUCCESS)
    })
}

/// Runs one command (JSON, as in the API's `command` field) on an
/// engagement, acting as `as_email`. Without `expected_version` it acts on
/// the version it reads; a change in between is still refused as a conflict.
pub fn engagement_run(
    db: &Database,
    id: i64,
    as_email: &str,
    expected_version: Option<u64>,
    command: &str,
) -> anyhow::Result<ExitCode> {
    let cmd: waymark_core::Command = serde_json::from_str(command).with_context(|| {
        format!(
            "the command is not one Waymark knows; write it as JSON, for example \
             '{{\"command\":\"set_step\",\"stage\":\"engagement\",\"step\":1,\"status\":{{\"status\":\"done\"}}}}' \
             (commands: {})",
            waymark_core::Command::NAMES[..waymark_core::Command::NAMES.len() - 1].join(", ")
        )
    })?;
    block_on(async {
        let store = db.open_existing().await?;
        let actor = acting(&store, as_email).await?;
        let id = EngagementId(id);
        let version = match expected_version {
            Some(v) => v,
            None => {
                store
                    .engagement(&operator(), id)
                    .await
                    .map_err(not_found(id))?
                    .version
            }
        };
        let e = store
            .execute(&actor, id, version, &cmd, now())
            .await
            .map_err(not_found(id))?;
        println!("{}", serde_json::to_string_pretty(&e.summary())?);
        Ok(ExitCode::SUCCESS)
    })
}

fn not_found(id: EngagementId) -> impl Fn(waymark_store::StoreError) -> anyhow::Error {
    move |err| match err {
        waymark_store::StoreError::Domain(waymark_core::DomainError::NotFound) => {
            anyhow::anyhow!("there is no engagement {id} (or you may not see it)")
        }
        other => other.into(),
    }
}

pub fn audit_verify(db: &Database) -> anyhow::Result<ExitCode> {
    block_on(async {
        let store = db.open_existing().await?;
        let v = store.verify().await?;
        if v.intact() {
            println!(
                "audit: {} event(s) in {} engagement(s), {} event(s) in {} enquiry(ies), {} event(s) in {} agency(ies), {} event(s) in {} community question(s), {} event(s) in {} survey(s), {} letter version(s) and {} file(s) verified; the trail is intact",
                v.events,
                v.engagements,
                v.enquiry_events,
                v.enquiries,
                v.agency_events,
                v.agencies,
                v.topic_events,
                v.topics,
                v.survey_events,
                v.surveys,
                v.letters,
                v.files
            );
            if v.removals > 0 {
                println!(
                    "audit: {} event(s) or record(s) hold what {} removal(s) of personal data at people's request left, and were checked against it",
                    v.redacted, v.removals
                );
            }
            Ok(ExitCode::SUCCESS)
        } else {
            for b in &v.broken {
                println!(
                    "audit: engagement {}, event {}: {}",
                    b.engagement, b.seq, b.reason
                );
            }
            for b in &v.broken_enquiries {
                println!(
                    "audit: enquiry {}, event {}: {}",
                    b.enquiry, b.seq, b.reason
                );
            }
            for b in &v.broken_agencies {
                println!("audit: agency {}, event {}: {}", b.agency, b.seq, b.reason);
            }
            for b in &v.broken_topics {
                println!(
                    "audit: community question {}, event {}: {}",
                    b.topic, b.seq, b.reason
                );
            }
            for b in &v.broken_surveys {
                println!("audit: survey {}, event {}: {}", b.survey, b.seq, b.reason);
            }
            for a in &v.altered {
                println!("audit: {}: {}", a.record, a.reason);
            }
            for d in &v.portfolio_drift {
                println!("audit: the portfolio's count of {d}");
            }
            println!(
                "audit: the trail was altered in {} engagement(s), {} enquiry(ies), {} agency(ies), {} community question(s), {} survey(s), {} letter(s) or file(s) and {} removal(s) of personal data; {} portfolio count(s) differ from the events",
                v.broken.len(),
                v.broken_enquiries.len(),
                v.broken_agencies.len(),
                v.broken_topics.len(),
                v.broken_surveys.len(),
                v.altered
                    .iter()
                    .filter(|a| !a.record.starts_with("removal of"))
                    .count(),
                v.altered
                    .iter()
                    .filter(|a| a.record.starts_with("removal of"))
                    .count(),
                v.portfolio_drift.len()
            );
            Ok(ExitCode::FAILURE)
        }
    })
}

pub fn backup(db: &Database, file: &std::path::Path) -> anyhow::Result<ExitCode> {
    block_on(async {
        let store = db.open_existing().await?;
        store.backup(file).await?;
        eprintln!("backed up to {}", file.display());
        Ok(ExitCode::SUCCESS)
    })
}

pub fn export(db: &Database, out: Option<&std::path::Path>) -> anyhow::Result<ExitCode> {
    block_on(async {
        let store = db.open_existing().await?;
        let x = store.export().await?;
        let text = serde_json::to_string_pretty(&x)?;
        match out {
            Some(path) => {
                // Readable by its owner alone: an export holds password and
                // token hashes.
                let mut options = std::fs::OpenOptions::new();
                options.write(true).create(true).truncate(true);
                #[cfg(unix)]
                std::os::unix::fs::OpenOptionsExt::mode(&mut options, 0o600);
                options
                    .open(path)
                    .and_then(|mut f| f.write_all(text.as_bytes()))
                    .with_context(|| format!("cannot write {}", path.display()))?;
                eprintln!(
                    "exported {} engagement(s) and {} event(s) to {}",
                    x.engagements.len(),
                    x.events.len(),
                    path.display()
                );
            }
            None => writeln!(std::io::stdout().lock(), "{text}")?,
        }
        Ok(ExitCode::SUCCESS)
    })
}

pub fn import(db: &Database, file: &std::path::Path) -> anyhow::Result<ExitCode> {
    let text =
        std::fs::read_to_string(file).with_context(|| format!("cannot read {}", file.display()))?;
    let x: waymark_store::Export = serde_json::from_str(&text)
        .with_context(|| format!("{} is not a Waymark export", file.display()))?;
    block_on(async {
        let store = db.open().await?;
        store.import(&x).await?;
        let v = store.verify().await?;
        eprintln!(
            "imported {} engagement(s) and {} event(s); the audit trail {}",
            x.engagements.len(),
            x.events.len(),
            if v.intact() {
                "verifies"
            } else {
                "does NOT verify: run `waymark audit verify`"
            }
        );
        Ok(if v.intact() {
            ExitCode::SUCCESS
        } else {
            ExitCode::FAILURE
        })
    })
}

pub fn token_create(
    db: &Database,
    email: &str,
    name: &str,
    read_only: bool,
    expires_in_days: Option<&str>,
) -> anyhow::Result<ExitCode> {
    let scope = if read_only { "read" } else { "read_write" };
    let new =
        waymark_core::token::NewToken::parse(name, scope, expires_in_days.unwrap_or(""), now())
            .map_err(|problems| {
                anyhow::anyhow!(
                    "{}",
                    problems
                        .iter()
                        .map(ToString::to_string)
                        .collect::<Vec<_>>()
                        .join("; ")
                )
            })?;
    block_on(async {
        let store = db.open_existing().await?;
        let actor = acting(&store, email).await?;
        let token = store.create_token_with(actor.person, &new, now()).await?;
        println!("{token}");
        let ends = match new.expires {
            Some(t) => {
                let (y, m, d) = waymark_core::letter::ymd(t);
                format!("until {y}-{m:02}-{d:02}")
            }
            None => "with no end".to_string(),
        };
        eprintln!(
            "this token acts as {email} ({}), {ends}; it is shown once and stored only as a hash",
            if read_only {
                "read only"
            } else {
                "read and write"
            }
        );
        Ok(ExitCode::SUCCESS)
    })
}

/// `waymark token list EMAIL`.
pub fn token_list(db: &Database, email: &str) -> anyhow::Result<ExitCode> {
    block_on(async {
        let store = db.open_existing().await?;
        let actor = acting(&store, email).await?;
        let tokens = store.tokens_of(actor.person).await?;
        if tokens.is_empty() {
            eprintln!("{email} has no API tokens");
        }
        let day = |t: waymark_core::Timestamp| {
            let (y, m, d) = waymark_core::letter::ymd(t);
            format!("{y}-{m:02}-{d:02}")
        };
        let now = now();
        for t in tokens {
            // A name cannot forge a line of this list.
            let name: String = t
                .name
                .chars()
                .map(|c| if c.is_control() { '?' } else { c })
                .collect();
            let ends = match t.expires_at {
                Some(e) if e.0 <= now.0 => format!("ended {}", day(e)),
                Some(e) => format!("ends {}", day(e)),
                None => "no end".into(),
            };
            let used = t
                .last_used_at
                .map_or_else(|| "never used".into(), |u| format!("used {}", day(u)));
            println!(
                "{}  {:<10}  made {}  {ends}  {used}  {name}",
                t.id,
                t.scope.as_str(),
                day(t.created_at)
            );
        }
        Ok(ExitCode::SUCCESS)
    })
}

/// `waymark token revoke EMAIL ID`.
pub fn token_revoke(db: &Database, email: &str, id: &str) -> anyhow::Result<ExitCode> {
    block_on(async {
        let store = db.open_existing().await?;
        let actor = acting(&store, email).await?;
        if store.revoke_token(actor.person, id.trim()).await? {
            eprintln!("revoked: the token {id} of {email} is refused from now on");
            Ok(ExitCode::SUCCESS)
        } else {
            anyhow::bail!(
                "{email} has no token with the id {id:?} (`waymark token list {email}` shows their ids)"
            )
        }
    })
}

/// `waymark dev seed`: deterministic records for benchmarks.
pub fn seed(
    db: &Database,
    origin: &Origin,
    size: waymark_store::generate::Size,
) -> anyhow::Result<ExitCode> {
    let pages = origin.pages()?;
    block_on(async {
        let store = db.open().await?;
        let started = std::time::Instant::now();
        let done = store
            .generate(&pages, size, |g| {
                if g.engagements % 2_000 == 0 || g.engagements == size.engagements {
                    eprintln!(
                        "seed: {} engagements, {} events ({:.1} s)",
                        g.engagements,
                        g.events,
                        started.elapsed().as_secs_f64()
                    );
                }
            })
            .await?;
        store.close().await;
        println!(
            "{} agencies, {} people, {} engagements, {} events, {} articles, {} questions ({} posts), {} survey answers in {:.1} s",
            done.agencies,
            done.people,
            done.engagements,
            done.events,
            done.articles,
            done.questions,
            done.posts,
            done.survey_answers,
            started.elapsed().as_secs_f64()
        );
        Ok(ExitCode::SUCCESS)
    })
}

/// How long the invitation `user add` makes lasts.
const INVITE_DAYS: i64 = 14;
