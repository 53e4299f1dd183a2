//! Knowledge articles: what an article must hold, how it moves from draft
//! to published to archived, which links in it work, and readers' feedback.
//!
//! The programme writes articles; everyone reads the published ones. A
//! published article keeps every version it was published at; saving one
//! changes its working copy only, and readers see the last published version
//! until it is published again.

use serde::{Deserialize, Serialize};
use waymark_model::{LinkTarget, Model};

use crate::{Actor, DomainError, check_line, check_text, parse_date};

pub const MAX_TITLE: usize = 150;
pub const MAX_SUMMARY: usize = 300;
pub const MAX_BODY: usize = 100_000;
pub const MAX_SLUG: usize = 80;
pub const MAX_TAGS: usize = 12;
pub const MAX_TAG: usize = 40;
pub const MAX_COMMENT: usize = 2_000;

/// Where an article is in its life.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[serde(rename_all = "snake_case")]
pub enum ArticleStatus {
    Draft,
    Published,
    Archived,
}

impl ArticleStatus {
    pub fn as_str(self) -> &'static str {
        match self {
            ArticleStatus::Draft => "draft",
            ArticleStatus::Published => "published",
            ArticleStatus::Archived => "archived",
        }
    }

    pub fn parse(s: &str) -> Option<Self> {
        [Self::Draft, Self::Published, Self::Archived]
            .into_iter()
            .find(|k| k.as_str() == s)
    }

    pub fn label(self) -> &'static str {
        match self {
            ArticleStatus::Draft => "Draft",
            ArticleStatus::Published => "Published",
            ArticleStatus::Archived => "Archived",
        }
    }
}

/// What an article is about: a stage or a step of the model, or a free word.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[serde(tag = "kind", rename_all = "snake_case")]
pub enum Tag {
    Stage { stage: String },
    Step { stage: String, step: u32 },
    Free { word: String },
}

impl Tag {
    /// The stage this tag puts the article on, if any.
    pub fn stage(&self) -> Option<&str> {
        match self {
            Tag::Stage { stage } | Tag::Step { stage, .. } => Some(stage),
            Tag::Free { .. } => None,
        }
    }

    /// As typed in the form: `deploy`, `discovery/2`, `licensing`.
    pub fn typed(&self) -> String {
        match self {
            Tag::Stage { stage } => stage.clone(),
            Tag::Step { stage, step } => format!("{stage}/{step}"),
            Tag::Free { word } => word.clone(),
        }
    }
}

/// What the programme typed, as it came (form or API).
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[serde(default)]
pub struct ArticleInput {
    /// The address: `article-<slug>.html` on the guide. From the title when empty;
    /// fixed once the article exists.
    pub slug: String,
    pub title: String,
    /// One or two sentences, shown in lists and search.
    pub summary: String,
    /// Markdown.
    pub body: String,
    /// Comma-separated: a stage's slug (`deploy`), a step (`discovery/2`), or any word.
    pub tags: String,
    /// `YYYY-MM-DD`, after today.
    pub review_by: String,
}

/// An article that passed every check.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct Article {
    pub slug: String,
    pub title: String,
    pub summary: String,
    pub body: String,
    pub tags: Vec<Tag>,
    pub review_by: String,
}

/// What the programme does to an article.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[serde(rename_all = "snake_case")]
pub enum ArticleAction {
    /// Keep the working copy; a published article stays as it was published.
    Save,
    /// Publish the working copy as a new version.
    Publish,
    /// Take a published article off the guide (its versions are kept).
    Archive,
}

impl ArticleAction {
    pub fn parse(s: &str) -> Option<Self> {
        match s {
            "save" => Some(Self::Save),
            "publish" => Some(Self::Publish),
            "archive" => Some(Self::Archive),
            _ => None,
        }
    }
}

/// Only the programme writes articles.
pub fn may_write(actor: &Actor) -> Result<(), DomainError> {
    if actor.is_programme() {
        Ok(())
    } else {
        Err(DomainError::Forbidden {
            action: "write knowledge articles",
            why: "articles are the programme's",
        })
    }
}

/// An article's owner answers for it (its review date): someone of the
/// programme, as `person` is now.
pub fn may_own(person: Option<&crate::Person>) -> Result<(), DomainError> {
    let programme = person.is_some_and(|p| {
        p.roles
            .iter()
            .any(|r| matches!(r, crate::Role::ProgrammeStaff | crate::Role::ProgrammeAdmin))
    });
    if programme {
        Ok(())
    } else {
        Err(DomainError::invalid(
            "owner",
            "choose someone of the programme to own the article",
        ))
    }
}

/// The status after `action` on an article now in `current` (`None`: new).
pub fn next_status(
    current: Option<ArticleStatus>,
    action: ArticleAction,
) -> Result<ArticleStatus, DomainError> {
    use ArticleStatus::*;
    match (current, action) {
        (None, ArticleAction::Save) => Ok(Draft),
        (Some(s), ArticleAction::Save) => Ok(s),
        (_, ArticleAction::Publish) => Ok(Published),
        (Some(Published), ArticleAction::Archive) => Ok(Archived),
        (Some(Archived), ArticleAction::Archive) => {
            Err(DomainError::rule("this article is already archived"))
        }
        (_, ArticleAction::Archive) => Err(DomainError::rule(
            "only a published article can be archived; a draft is simply not published",
        )),
    }
}

/// A slug from a title: lowercase words joined by hyphens.
pub fn slug_of(title: &str) -> String {
    let mut s = String::new();
    for w in title
        .split(|c: char| !c.is_ascii_alphanumeric())
        .filter(|w| !w.is_empty())
    {
        if !s.is_empty() {
            s.push('-');
        }
        s.push_str(&w.to_ascii_lowercase());
        if s.len() >= MAX_SLUG {
            break;
        }
    }
    s.truncate(MAX_SLUG);
    s.trim_end_matches('-').to_string()
}

fn check_slug(raw: &str) -> Result<String, DomainError> {
    let s = raw.trim();
    let ok = !s.is_empty()
        && s.len() <= MAX_SLUG
        && s.bytes()
            .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'-')
        && !s.starts_with('-')
        && !s.ends_with('-');
    if ok {
        Ok(s.to_string())
    } else {
        Err(DomainError::invalid(
            "slug",
            format!(
                "use lowercase letters, digits and hyphens, at most {MAX_SLUG} (for example licensing-in-deploy)"
            ),
        ))
    }
}

fn check_tags(raw: &str, model: &Model) -> Result<Vec<Tag>, DomainError> {
    let mut tags: Vec<Tag> = Vec::new();
    for t in raw.split(',').map(str::trim).filter(|t| !t.is_empty()) {
        let t = t.to_lowercase();
        let stage = |s: &str| model.stages.iter().find(|st| st.slug == s);
        let tag = if let Some((s, n)) = t.split_once('/') {
            let st = stage(s.trim()).ok_or_else(|| {
                DomainError::invalid("tags", format!("“{s}” is not a stage of the model"))
            })?;
            let n: u32 = n.trim().parse().map_err(|_| {
                DomainError::invalid(
                    "tags",
                    format!("“{t}”: write a step as stage/number, like discovery/2"),
                )
            })?;
            if !st.steps.iter().any(|step| step.number == n) {
                return Err(DomainError::invalid(
                    "tags",
                    format!("{} has no step {n}", st.name),
                ));
            }
            Tag::Step {
                stage: st.slug.clone(),
                step: n,
            }
        } else if let Some(st) = stage(&t) {
            Tag::Stage {
                stage: st.slug.clone(),
            }
        } else {
            if t.chars().count() > MAX_TAG
                || !t
                    .chars()
                    .all(|c| c.is_alphanumeric() || c == '-' || c == ' ')
            {
                return Err(DomainError::invalid(
                    "tags",
                    format!(
                        "“{}”: a tag is a stage, a step like discovery/2, or a word or two (letters, digits, hyphens; at most {MAX_TAG})",
                        t.chars().take(60).collect::<String>()
                    ),
                ));
            }
            Tag::Free { word: t }
        };
        if !tags.contains(&tag) {
            tags.push(tag);
        }
    }
    if tags.len() > MAX_TAGS {
        return Err(DomainError::invalid(
            "tags",
            format!("at most {MAX_TAGS} tags"),
        ));
    }
    Ok(tags)
}

/// Every problem with a form's fields, gathered so all are shown at once.
#[derive(Default)]
struct Problems(Vec<DomainError>);

impl Problems {
    /// A check's value, or its error kept (and an empty value).
    fn keep(&mut self, r: Result<String, DomainError>) -> String {
        match r {
            Ok(v) => v,
            Err(e) => {
                self.0.push(e);
                String::new()
            }
        }
    }
}

/// A checked value that must not be empty.
fn required(
    r: Result<String, DomainError>,
    field: &'static str,
    message: &'static str,
) -> Result<String, DomainError> {
    r.and_then(|v| {
        if v.is_empty() {
            Err(DomainError::invalid(field, message))
        } else {
            Ok(v)
        }
    })
}

/// Checks everything typed, every problem at once. `today` is `YYYY-MM-DD`
/// in the programme's zone; the review date must come after it.
pub fn check(
    input: &ArticleInput,
    model: &Model,
    today: &str,
) -> Result<Article, Vec<DomainError>> {
    let mut problems = Problems::default();
    let title = problems.keep(required(
        check_line("title", &input.title, MAX_TITLE),
        "title",
        "is required",
    ));
    let summary = problems.keep(required(
        check_line("summary", &input.summary, MAX_SUMMARY),
        "summary",
        "is required: one or two sentences readers see in lists and search",
    ));
    let body = problems.keep(required(
        check_text("body", &input.body, MAX_BODY),
        "body",
        "is required",
    ));
    let slug_raw = if input.slug.trim().is_empty() {
        slug_of(&title)
    } else {
        input.slug.clone()
    };
    let slug = if title.is_empty() && input.slug.trim().is_empty() {
        String::new()
    } else {
        problems.keep(check_slug(&slug_raw))
    };
    let review_by = problems.keep(
        parse_date("review_by", &input.review_by)
            .map_err(|_| {
                DomainError::invalid(
                    "review_by",
                    "give the date to review it by, like 2027-06-30",
                )
            })
            .and_then(|_| {
                let d = input.review_by.trim().to_string();
                if d.as_str() <= today {
                    Err(DomainError::invalid(
                        "review_by",
                        format!("must be after today ({today})"),
                    ))
                } else {
                    Ok(d)
                }
            }),
    );
    let tags = match check_tags(&input.tags, model) {
        Ok(t) => t,
        Err(e) => {
            problems.0.push(e);
            Vec::new()
        }
    };
    if problems.0.is_empty() {
        Ok(Article {
            slug,
            title,
            summary,
            body,
            tags,
            review_by,
        })
    } else {
        Err(problems.0)
    }
}

/// An article kept as a markdown file in the content folder's `_articles/`
/// (a programme that keeps its site in git): front matter `title`,
/// `summary`, `tags` (a list, or words separated by commas), `review_by`
/// and optionally `slug` (else the file's name). Its review date may have
/// passed (it is then due); everything else is checked as in the workspace.
pub fn from_file(path: &str, text: &str, model: &Model) -> Result<Article, String> {
    let raw = waymark_model::page::parse_page(text).map_err(|e| e.to_string())?;
    let field = |k: &str| -> String {
        match raw.extra.get(k) {
            Some(serde_json::Value::String(s)) => s.clone(),
            Some(serde_json::Value::Array(items)) => items
                .iter()
                .filter_map(|v| v.as_str())
                .collect::<Vec<_>>()
                .join(", "),
            Some(other) => other.to_string(),
            None => String::new(),
        }
    };
    let stem = std::path::Path::new(path)
        .file_stem()
        .and_then(|s| s.to_str())
        .unwrap_or_default()
        .to_string();
    let slug = match field("slug") {
        s if s.is_empty() => stem,
        s => s,
    };
    let input = ArticleInput {
        slug,
        title: raw.title.clone().unwrap_or_default(),
        summary: field("summary"),
        body: raw.body.trim().to_string(),
        tags: field("tags"),
        review_by: field("review_by"),
    };
    // Any review date is accepted here: a past one means it is due.
    match check(&input, model, "0000-00-00") {
        Ok(a) => Ok(a),
        Err(problems) => Err(problems
            .iter()
            .map(ToString::to_string)
            .collect::<Vec<_>>()
            .join("; ")),
    }
}

/// Links in an article's body that would not work on the guide, as the
/// model's lint judges page links: each as a sentence for the author.
/// `articles` are the slugs of the other published articles, which may be
/// linked as `article-<slug>.html` (a draft's or an archived one's page does
/// not exist).
pub fn link_problems(body: &str, model: &Model, articles: &[String]) -> Vec<String> {
    let scan = waymark_model::markdown::scan(body);
    let mut out = Vec::new();
    for l in &scan.links {
        let dest = l.dest.trim();
        let shown: String = dest.chars().take(80).collect();
        let article = dest
            .strip_prefix("article-")
            .and_then(|d| d.split('#').next())
            .and_then(|d| d.strip_suffix(".html"))
            .is_some_and(|s| articles.iter().any(|a| a == s));
        if article {
            continue;
        }
        match model.resolve(dest) {
            LinkTarget::Page { .. }
            | LinkTarget::External
            | LinkTarget::Contact
            | LinkTarget::Anchor => {}
            LinkTarget::Empty => out.push(format!("the link “{}” has no address", l.text)),
            LinkTarget::UnknownPage { .. } => out.push(format!(
                "the link to “{shown}” goes to no page of the guide"
            )),
            _ => out.push(format!(
                "the link to “{shown}” uses an address that is never published (only http, https and pages of the guide)"
            )),
        }
    }
    out
}

/// Whether an article's review is due (its date is today or past).
pub fn review_due(review_by: &str, today: &str) -> bool {
    review_by <= today
}

/// A reader's answer to "Was this helpful?".
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct Feedback {
    pub helpful: bool,
    pub comment: String,
}

/// Checks a reader's answer: `helpful` is "yes" or "no".
pub fn feedback(helpful: &str, comment: &str) -> Result<Feedback, Vec<DomainError>> {
    let mut problems = Vec::new();
    let helpful = match helpful.trim() {
        "yes" => Some(true),
        "no" => Some(false),
        _ => {
            problems.push(DomainError::invalid("helpful", "choose yes or no"));
            None
        }
    };
    let comment = match check_text("comment", comment, MAX_COMMENT) {
        Ok(c) => c,
        Err(e) => {
            problems.push(e);
            String::new()
        }
    };
    match helpful {
        Some(helpful) if problems.is_empty() => Ok(Feedback { helpful, comment }),
        _ => Err(problems),
    }
}

/// The event that records which blueprint an engagement deploys: when
/// `events` enter Deploy and a release (`current`, the newest) exists.
pub fn blueprint_entering(events: &[crate::Event], current: Option<&str>) -> Option<crate::Event> {
    let enters = events
        .iter()
        .any(|e| matches!(e, crate::Event::StageEntered { stage, .. } if stage == crate::DEPLOY));
    match (enters, current) {
        (true, Some(v)) => Some(crate::Event::BlueprintRecorded {
            version: v.to_string(),
        }),
        _ => None,
    }
}

/// Whether `s` is a web address to publish as a link: http or https, a
/// host, no spaces and no user name.
pub fn web_address(s: &str) -> bool {
    (s.starts_with("https://") || s.starts_with("http://"))
        && !s.contains(char::is_whitespace)
        && s.split('/')
            .nth(2)
            .is_some_and(|host| !host.is_empty() && !host.contains('@'))
}

/// A release of the blueprint.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct Release {
    /// As the programme names it: `2.1`, `2026.12`.
    pub version: String,
    /// `YYYY-MM-DD`
    pub released_on: String,
    /// Markdown.
    pub notes: String,
    /// Where the release is published (http or https), or empty.
    pub link: String,
}

/// Checks a release as typed, every problem at once. `today` is
/// `YYYY-MM-DD`: a release is recorded once it is out, so its date may not
/// be later (a future date would make it "current" on every page and in
/// engagements entering Deploy).
pub fn release(
    version: &str,
    released_on: &str,
    notes: &str,
    link: &str,
    today: &str,
) -> Result<Release, Vec<DomainError>> {
    let mut problems = Problems::default();
    let version = problems.keep(required(
        check_line("version", version, 40),
        "version",
        "is required, like 2.1",
    ));
    let released_on = problems.keep(
        parse_date("released_on", released_on)
            .map(|_| released_on.trim().to_string())
            .map_err(|_| {
                DomainError::invalid("released_on", "give the release date, like 2026-12-01")
            })
            .and_then(|d| {
                if d.as_str() > today {
                    Err(DomainError::invalid(
                        "released_on",
                        format!("is after today ({today}): record a release once it is out"),
                    ))
                } else {
                    Ok(d)
                }
            }),
    );
    let notes = problems.keep(required(
        check_text("notes", notes, 20_000),
        "notes",
        "are required: what changed in this release",
    ));
    let link = problems.keep(check_line("link", link, 1000).and_then(|l| {
        if l.is_empty() || web_address(&l) {
            Ok(l)
        } else {
            Err(DomainError::invalid(
                "link",
                "must be a web address starting with https:// (with a host, no spaces or user name), or be left empty",
            ))
        }
    }));
    if problems.0.is_empty() {
        Ok(Release {
            version,
            released_on,
            notes,
            link,
        })
    } else {
        Err(problems.0)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn model() -> Model {
        waymark_model::build(waymark_model::bundled()).model
    }

    fn input() -> ArticleInput {
        ArticleInput {
            slug: String::new(),
            title: "Licensing in Deploy: what to buy first".into(),
            summary: "Which licences an agency needs before the first sprint.".into(),
            body: "See [Deploy](deploy.md) and [Microsoft](https://learn.microsoft.com).".into(),
            tags: "deploy, discovery/2, Licensing".into(),
            review_by: "2027-06-30".into(),
        }
    }

    #[test]
    fn a_good_article_gets_a_slug_and_typed_tags() {
        let a = check(&input(), &model(), "2026-12-02").unwrap();
        assert_eq!(a.slug, "licensing-in-deploy-what-to-buy-first");
        assert_eq!(
            a.tags,
            vec![
                Tag::Stage {
                    stage: "deploy".into()
                },
                Tag::Step {
                    stage: "discovery".into(),
                    step: 2
                },
                Tag::Free {
                    word: "licensing".into()
                },
            ]
        );
        assert!(link_problems(&a.body, &model(), &[]).is_empty());
    }

    #[test]
    fn every_problem_is_reported_at_once() {
        let bad = ArticleInput {
            slug: "Not A Slug!".into(),
            title: "t".repeat(MAX_TITLE + 1),
            summary: String::new(),
            body: "x".repeat(MAX_BODY + 1),
            tags: "nowhere/2".into(),
            review_by: "2026-12-02".into(),
        };
        let problems = check(&bad, &model(), "2026-12-02").unwrap_err();
        let fields: Vec<&str> = problems
            .iter()
            .map(|p| match p {
                DomainError::Invalid { field, .. } => *field,
                _ => "",
            })
            .collect();
        assert_eq!(
            fields,
            ["title", "summary", "body", "slug", "review_by", "tags"]
        );
        let past = ArticleInput {
            review_by: "2026-01-01".into(),
            ..input()
        };
        assert!(check(&past, &model(), "2026-12-02").is_err());
        let step = ArticleInput {
            tags: "discovery/99".into(),
            ..input()
        };
        assert!(check(&step, &model(), "2026-12-02").is_err());
    }

    #[test]
    fn broken_and_unsafe_links_are_found() {
        let body = "[a](nowhere.md) [b]() [c](javascript:alert(1)) [d](article-other.html) [e](discovery.md)";
        let p = link_problems(body, &model(), &["other".into()]);
        assert_eq!(p.len(), 3, "{p:?}");
        assert!(p[0].contains("nowhere.md"));
    }

    #[test]
    fn only_published_articles_archive() {
        use ArticleStatus::*;
        assert_eq!(next_status(None, ArticleAction::Save).unwrap(), Draft);
        assert_eq!(
            next_status(Some(Published), ArticleAction::Save).unwrap(),
            Published
        );
        assert_eq!(
            next_status(Some(Archived), ArticleAction::Publish).unwrap(),
            Published
        );
        assert!(next_status(Some(Draft), ArticleAction::Archive).is_err());
        assert!(next_status(None, ArticleAction::Archive).is_err());
        assert!(next_status(Some(Archived), ArticleAction::Archive).is_err());
    }

    #[test]
    fn entering_deploy_records_the_current_blueprint() {
        let enter = |stage: &str| crate::Event::StageEntered {
            stage: stage.into(),
            cycle: 1,
        };
        assert_eq!(
            blueprint_entering(&[enter("deploy")], Some("2.1")),
            Some(crate::Event::BlueprintRecorded {
                version: "2.1".into()
            })
        );
        assert_eq!(blueprint_entering(&[enter("discovery")], Some("2.1")), None);
        assert_eq!(blueprint_entering(&[enter("deploy")], None), None);
    }

    #[test]
    fn articles_in_files_read_their_front_matter() {
        let text = "---\ntitle: Licensing\nsummary: What to buy.\ntags: [deploy, licensing]\nreview_by: 2020-01-01\n---\nBuy **E5**.\n";
        let a = from_file("content/_articles/licensing-first.md", text, &model()).unwrap();
        assert_eq!(a.slug, "licensing-first");
        assert_eq!(a.tags.len(), 2);
        assert_eq!(
            a.review_by, "2020-01-01",
            "a past review date is due, not refused"
        );
        let bad = from_file("x.md", "---\ntitle: \n---\n", &model()).unwrap_err();
        assert!(bad.contains("title"), "{bad}");
        assert!(from_file("x.md", "no front matter", &model()).is_err());
    }

    #[test]
    fn releases_need_a_version_date_notes_and_a_web_link() {
        let today = "2026-12-02";
        let ok = release(
            "2.1",
            "2026-12-01",
            "Adds.",
            "https://desktop.gov.au",
            today,
        );
        assert!(ok.is_ok());
        let p = release("", "01/12/2026", "", "javascript:alert(1)", today).unwrap_err();
        assert_eq!(p.len(), 4);
        assert!(
            release("3", "2099-01-01", "Soon.", "", today).is_err(),
            "not out yet"
        );
        for bad in ["https://", "https://a b", "https://user:pass@evil.example/"] {
            assert!(
                release("3", "2026-12-01", "x", bad, today).is_err(),
                "{bad}"
            );
        }
    }

    #[test]
    fn feedback_is_yes_or_no_with_a_bounded_comment() {
        assert!(feedback("yes", "").unwrap().helpful);
        assert!(feedback("maybe", "").is_err());
        assert_eq!(
            feedback("no", &"c".repeat(MAX_COMMENT + 1))
                .unwrap_err()
                .len(),
            1
        );
    }
}
