//! Search: what a visitor's words mean, and who may find what.
//!
//! A query is read, never executed: whatever is typed (quotes, `NEAR`, `*`,
//! `-`, brackets, 10 KB of text, emoji) becomes a short list of plain words
//! and quoted phrases, which the store hands to SQLite FTS5 or PostgreSQL
//! full-text search as bound values. Both backends then see the same terms,
//! so they agree on what matches; only their stemmers (Porter on SQLite,
//! Snowball English on PostgreSQL) and their ranking differ.

use serde::{Deserialize, Serialize};

use crate::{Actor, AgencyId, enquiry};

/// How much of what was typed is read; the rest is ignored.
pub const MAX_QUERY_CHARS: usize = 400;
/// How many words and phrases a query keeps.
pub const MAX_TERMS: usize = 12;
/// How long a word may be; longer ones are cut.
pub const MAX_WORD_CHARS: usize = 40;
/// Results a page of one kind shows.
pub const PAGE_SIZE: u32 = 10;
/// The furthest page one may ask for.
pub const MAX_PAGE: u32 = 20;
/// How many of a kind's matches are counted and ranked: the newest this
/// many, which is what `MAX_PAGE` pages hold. Ranking costs a few
/// microseconds a match, and a word found in a quarter of 100,000
/// documents would otherwise be scored in every one of them before the
/// best five are known; past this many the visitor is told "more than"
/// and asked for another word (docs/benchmarks.md, issue 17).
pub const RANKED: u32 = MAX_PAGE * PAGE_SIZE;

/// Words that carry no meaning for search. PostgreSQL's English
/// configuration drops exactly these; dropping them from every query keeps
/// SQLite (which indexes them) matching the same documents.
const STOP_WORDS: &[&str] = &[
    "a",
    "about",
    "above",
    "after",
    "again",
    "against",
    "all",
    "am",
    "an",
    "and",
    "any",
    "are",
    "as",
    "at",
    "be",
    "because",
    "been",
    "before",
    "being",
    "below",
    "between",
    "both",
    "but",
    "by",
    "can",
    "did",
    "do",
    "does",
    "doing",
    "don",
    "down",
    "during",
    "each",
    "few",
    "for",
    "from",
    "further",
    "had",
    "has",
    "have",
    "having",
    "he",
    "her",
    "here",
    "hers",
    "herself",
    "him",
    "himself",
    "his",
    "how",
    "i",
    "if",
    "in",
    "into",
    "is",
    "it",
    "its",
    "itself",
    "just",
    "me",
    "more",
    "most",
    "my",
    "myself",
    "no",
    "nor",
    "not",
    "now",
    "of",
    "off",
    "on",
    "once",
    "only",
    "or",
    "other",
    "our",
    "ours",
    "ourselves",
    "out",
    "over",
    "own",
    "s",
    "same",
    "she",
    "should",
    "so",
    "some",
    "such",
    "t",
    "than",
    "that",
    "the",
    "their",
    "theirs",
    "them",
    "themselves",
    "then",
    "there",
    "these",
    "they",
    "this",
    "those",
    "through",
    "to",
    "too",
    "under",
    "until",
    "up",
    "very",
    "was",
    "we",
    "were",
    "what",
    "when",
    "where",
    "which",
    "while",
    "who",
    "whom",
    "why",
    "will",
    "with",
    "you",
    "your",
    "yours",
    "yourself",
    "yourselves",
];

/// One part of a query: every part must match.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub enum Term {
    Word(String),
    /// Words that must appear together, in this order.
    Phrase(Vec<String>),
}

/// A visitor's words, made safe and bounded.
#[derive(Debug, Clone, PartialEq, Eq, Default, Serialize)]
pub struct Query {
    pub terms: Vec<Term>,
}

fn words(s: &str) -> impl Iterator<Item = String> + '_ {
    s.split(|c: char| !c.is_alphanumeric())
        .filter(|w| !w.is_empty())
        .map(|w| {
            w.chars()
                .take(MAX_WORD_CHARS)
                .collect::<String>()
                .to_lowercase()
        })
        .filter(|w| !STOP_WORDS.contains(&w.as_str()))
}

impl Query {
    /// Reads what was typed. Text in double quotes is a phrase; everything
    /// that is not a letter or a digit separates words; operators are just
    /// words or separators. Never fails: nothing left means an empty query.
    pub fn parse(input: &str) -> Query {
        let mut rest = input.chars();
        let mut input: String = rest.by_ref().take(MAX_QUERY_CHARS).collect();
        // A word the limit cuts in two is left out, not searched for as
        // its first letters.
        if rest.next().is_some_and(char::is_alphanumeric)
            && input.ends_with(char::is_alphanumeric)
            && let Some(end) = input.rfind(|c: char| !c.is_alphanumeric())
        {
            input.truncate(end);
        }
        let mut terms: Vec<Term> = Vec::new();
        // Between quotes (odd pieces) is a phrase; an unclosed quote runs to the end.
        for (i, piece) in input.split('"').enumerate() {
            if i % 2 == 1 {
                let phrase: Vec<String> = words(piece).collect();
                match phrase.len() {
                    0 => {}
                    1 => terms.extend(phrase.into_iter().map(Term::Word)),
                    _ => terms.push(Term::Phrase(phrase)),
                }
            } else {
                terms.extend(words(piece).map(Term::Word));
            }
        }
        let mut seen = Vec::new();
        terms.retain(|t| {
            let fresh = !seen.contains(t);
            if fresh {
                seen.push(t.clone());
            }
            fresh
        });
        terms.truncate(MAX_TERMS);
        Query { terms }
    }

    pub fn is_empty(&self) -> bool {
        self.terms.is_empty()
    }

    /// The query as the words and phrases it keeps, for "Results for …".
    pub fn describe(&self) -> String {
        self.terms
            .iter()
            .map(|t| match t {
                Term::Word(w) => w.clone(),
                Term::Phrase(p) => format!("\"{}\"", p.join(" ")),
            })
            .collect::<Vec<_>>()
            .join(" ")
    }
}

/// What a search result is.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[serde(rename_all = "snake_case")]
pub enum Kind {
    /// A page of the model's guidance.
    Guide,
    /// A published knowledge article.
    Article,
    Engagement,
    Agency,
    Enquiry,
    /// A community question, with its answers.
    Question,
}

impl Kind {
    /// (New kinds go last: on SQLite each kind's documents take ids by its
    /// place here.)
    pub const ALL: [Kind; 6] = [
        Kind::Guide,
        Kind::Article,
        Kind::Engagement,
        Kind::Agency,
        Kind::Enquiry,
        Kind::Question,
    ];

    pub fn as_str(self) -> &'static str {
        match self {
            Kind::Guide => "guide",
            Kind::Article => "article",
            Kind::Engagement => "engagement",
            Kind::Agency => "agency",
            Kind::Enquiry => "enquiry",
            Kind::Question => "question",
        }
    }

    pub fn parse(s: &str) -> Option<Kind> {
        Kind::ALL.into_iter().find(|k| k.as_str() == s)
    }

    /// The heading of this kind's group of results.
    pub fn label(self) -> &'static str {
        match self {
            Kind::Guide => "Guidance",
            Kind::Article => "Knowledge articles",
            Kind::Engagement => "Engagements",
            Kind::Agency => "Agencies",
            Kind::Enquiry => "Enquiries",
            Kind::Question => "Community questions",
        }
    }
}

/// Which records of a kind `actor` (`None`: signed out) may find. The
/// store turns this into its query's condition, so nothing else (not a
/// count, not a snippet) is ever read for what is not allowed.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Reach {
    Everything,
    Nothing,
    /// Community questions in public categories only (signed out).
    Public,
    /// Engagements: of these agencies, or these assigned ones.
    Engagements {
        agencies: Vec<AgencyId>,
        assigned_to: Option<crate::PersonId>,
    },
    /// Agencies: these.
    Agencies(Vec<AgencyId>),
}

pub fn reach(actor: Option<&Actor>, kind: Kind) -> Reach {
    match (kind, actor) {
        (Kind::Guide | Kind::Article, _) => Reach::Everything,
        // Anyone with an account reads every category; a hidden question
        // is not in the index at all.
        (Kind::Question, None) => Reach::Public,
        (Kind::Question, Some(_)) => Reach::Everything,
        (_, None) => Reach::Nothing,
        (_, Some(a)) if a.is_programme() => Reach::Everything,
        (Kind::Engagement, Some(a)) => Reach::Engagements {
            agencies: a.agencies().collect(),
            assigned_to: a.is_partner().then_some(a.person),
        },
        (Kind::Agency, Some(a)) => Reach::Agencies(a.agencies().collect()),
        (Kind::Enquiry, Some(a)) if enquiry::may_see(a) => Reach::Everything,
        (Kind::Enquiry, Some(_)) => Reach::Nothing,
    }
}

/// Everything people typed into an engagement, one piece a line: what a
/// search of it finds. The store indexes it in the transaction that
/// changed it, and only when it changed.
pub fn engagement_text(e: &crate::Engagement) -> String {
    let mut out: Vec<&str> = Vec::new();
    for r in &e.risks {
        out.push(&r.text);
        out.extend(r.closing_note.as_deref());
    }
    for b in &e.benefits {
        out.push(&b.text);
        out.extend(b.measure.as_deref());
    }
    for i in &e.initiatives {
        out.push(&i.name);
        out.push(&i.description);
    }
    for d in &e.decisions {
        out.push(&d.option_text);
        out.push(&d.rationale);
        out.extend(d.note.as_deref());
    }
    for s in &e.steps {
        if let crate::StepStatus::Skipped { reason } = &s.status {
            out.push(reason);
        }
    }
    for w in &e.workshops {
        out.push(&w.plan.title);
        out.push(&w.plan.agenda);
        out.extend(w.plan.location.as_deref());
        for k in crate::WORKSHOP_HEADINGS {
            out.push(w.notes.get(k.0));
        }
    }
    for d in &e.documents {
        out.push(&d.title);
        out.push(&d.name);
    }
    let dl = &e.delivery;
    out.extend(dl.execution_plan.as_deref());
    for s in &dl.sprints {
        out.push(&s.name);
        out.push(&s.goal);
    }
    for f in &dl.features {
        out.push(&f.capability);
    }
    for s in &dl.stories {
        out.extend([&*s.as_a, &s.i_want, &s.so_that, &s.acceptance]);
    }
    for g in &dl.guides {
        out.push(&g.title);
        out.push(&g.markdown);
    }
    out.retain(|s| !s.is_empty());
    out.join("\n")
}

#[cfg(test)]
mod tests {
    use super::*;

    fn words_of(q: &str) -> Vec<Term> {
        Query::parse(q).terms
    }

    /// Past the limit, a word cut in two is left out: never searched for
    /// as its first letters (which made a required word no record has).
    #[test]
    fn a_word_the_limit_cuts_is_left_out() {
        let long = format!("{}steering committee", "agency ".repeat(55));
        assert!(long.chars().count() > MAX_QUERY_CHARS);
        assert_eq!(
            words_of(&long),
            vec![Term::Word("agency".into()), Term::Word("steering".into())]
        );
        // A word that ends at the limit is whole, and kept.
        let exact = format!("{}steering", "x".repeat(MAX_QUERY_CHARS - 9) + " ");
        assert_eq!(exact.chars().count(), MAX_QUERY_CHARS);
        assert!(words_of(&format!("{exact} more")).contains(&Term::Word("steering".into())));
        // One word longer than the limit is still read (as its first letters).
        assert_eq!(words_of(&"a".repeat(1000)).len(), 1);
    }

    #[test]
    fn operators_and_punctuation_are_separators() {
        assert_eq!(
            words_of("desktop* NEAR(secure -intune) OR (("),
            vec![
                Term::Word("desktop".into()),
                Term::Word("near".into()),
                Term::Word("secure".into()),
                Term::Word("intune".into()),
            ]
        );
    }

    #[test]
    fn quotes_make_phrases_and_an_open_quote_runs_to_the_end() {
        assert_eq!(
            words_of(r#"blueprint "secure desktop" "protected utility"#),
            vec![
                Term::Word("blueprint".into()),
                Term::Phrase(vec!["secure".into(), "desktop".into()]),
                Term::Phrase(vec!["protected".into(), "utility".into()]),
            ]
        );
        assert_eq!(words_of(r#""one""#), vec![Term::Word("one".into())]);
    }

    #[test]
    fn stop_words_repeats_and_emoji_go() {
        assert_eq!(
            words_of("the 🚀 Desktop and the desktop"),
            vec![Term::Word("desktop".into())]
        );
        assert!(Query::parse("the of and \"\" ** --").is_empty());
    }

    #[test]
    fn ten_kilobytes_are_bounded() {
        let long = "abcd ".repeat(2000) + &"x".repeat(10_000);
        let q = Query::parse(&long);
        assert_eq!(q.terms.len(), 1, "the same word repeated is one term");
        let many: String = (0..2000).map(|i| format!("w{i} ")).collect();
        let q = Query::parse(&many);
        assert_eq!(q.terms.len(), MAX_TERMS);
        let q = Query::parse(&"y".repeat(10_000));
        assert_eq!(q.terms, vec![Term::Word("y".repeat(MAX_WORD_CHARS))]);
    }

    #[test]
    fn signed_out_readers_reach_only_public_kinds() {
        for k in Kind::ALL {
            let public = matches!(k, Kind::Guide | Kind::Article);
            assert_eq!(reach(None, k) == Reach::Everything, public, "{k:?}");
            assert_eq!(Kind::parse(k.as_str()), Some(k));
        }
        // Questions: the public categories' signed out, all of them with
        // any account (roles or none).
        assert_eq!(reach(None, Kind::Question), Reach::Public);
        let member = Actor {
            person: crate::PersonId(9),
            roles: Vec::new(),
        };
        assert_eq!(reach(Some(&member), Kind::Question), Reach::Everything);
        assert_eq!(reach(Some(&member), Kind::Enquiry), Reach::Nothing);
    }
}
