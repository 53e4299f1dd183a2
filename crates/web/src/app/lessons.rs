//! Every lesson the visitor may see, grouped by the model's stages and
//! steps: the programme's answer to "which steps cause the most trouble"
//! (the steps with the most to improve come first in a summary), and an
//! agency's view of its own retrospectives.

use std::collections::{BTreeMap, HashMap};
use std::sync::Arc;

use axum::extract::State;
use axum::http::StatusCode;
use axum::response::Response;
use serde::Serialize;
use waymark_core::lesson::LessonKind;
use waymark_model::Model;
use waymark_store::{LESSONS_MAX, LessonRow};

use super::auth::{SignedIn, UserView};
use super::{AppState, PageError, view_page};

/// How many steps the summary names.
const WORST: usize = 5;

#[derive(Serialize)]
struct LessonsPage {
    title: &'static str,
    user: UserView,
    total: u64,
    shown: usize,
    /// The steps with the most to improve, most first.
    worst: Vec<GroupCount>,
    /// Lessons proposed and not yet answered.
    waiting: usize,
    groups: Vec<Group>,
}

#[derive(Serialize)]
struct GroupCount {
    about: String,
    anchor: String,
    to_improve: usize,
}

/// The lessons about one stage or step.
#[derive(Serialize)]
struct Group {
    about: String,
    anchor: String,
    went_well: usize,
    to_improve: usize,
    try_next: usize,
    lessons: Vec<LessonLine>,
}

#[derive(Serialize)]
struct LessonLine {
    kind: &'static str,
    kind_slug: &'static str,
    text: String,
    agency: String,
    engagement: i64,
    id: u32,
    /// Where its proposal stands, in words, if it was proposed.
    proposal: Option<String>,
}

/// Groups `rows` by stage and step, in the order of `current` (what it
/// does not know goes last), each with its counts by kind. Each lesson is
/// named by the model its engagement runs on (`pinned`, by hash), so a
/// step numbered differently in another version is its own group.
fn groups(
    current: &Model,
    pinned: &HashMap<String, Arc<Model>>,
    rows: Vec<LessonRow>,
) -> Vec<Group> {
    let mut by: BTreeMap<(usize, String, u32, String), Group> = BTreeMap::new();
    for r in rows {
        let model = pinned.get(&r.model_hash).map_or(current, |m| m.as_ref());
        let about = waymark_core::lesson::about(model, &r.stage, r.step);
        let position = current
            .stages
            .iter()
            .position(|s| s.slug == r.stage)
            .unwrap_or(usize::MAX);
        let key = (
            position,
            r.stage.clone(),
            r.step.map_or(0, |n| n + 1),
            about.clone(),
        );
        let g = by.entry(key).or_insert_with(|| Group {
            about,
            anchor: match r.step {
                Some(n) => format!("about-{}-{n}", r.stage),
                None => format!("about-{}", r.stage),
            },
            went_well: 0,
            to_improve: 0,
            try_next: 0,
            lessons: Vec::new(),
        });
        let kind = LessonKind::from_slug(&r.kind).unwrap_or(LessonKind::TryNext);
        match kind {
            LessonKind::WentWell => g.went_well += 1,
            LessonKind::ToImprove => g.to_improve += 1,
            LessonKind::TryNext => g.try_next += 1,
        }
        g.lessons.push(LessonLine {
            kind: kind.label(),
            kind_slug: kind.slug(),
            text: r.text,
            agency: r.agency,
            engagement: r.engagement.0,
            id: r.id,
            proposal: match r.state.as_str() {
                "" => None,
                "proposed" => Some(format!(
                    "proposed for the {}, waiting for the programme",
                    r.target
                )),
                "accepted" => Some(format!(
                    "proposed for the {}, accepted as an article draft",
                    r.target
                )),
                "posted" => Some(format!(
                    "proposed for the {}, accepted and asked in the community",
                    r.target
                )),
                _ => Some(format!("proposed for the {}, declined", r.target)),
            },
        });
    }
    by.into_values().collect()
}

pub async fn lessons(State(s): State<Arc<AppState>>, who: SignedIn) -> Result<Response, PageError> {
    let (rows, total) = s.store.lessons(&who.actor, LESSONS_MAX).await?;
    let shown = rows.len();
    let mut pinned: HashMap<String, Arc<Model>> = HashMap::new();
    for r in &rows {
        if !pinned.contains_key(&r.model_hash) {
            let m = s.store.model(&r.model_hash).await?;
            pinned.insert(r.model_hash.clone(), m);
        }
    }
    let waiting = rows.iter().filter(|r| r.state == "proposed").count();
    let groups = groups(&s.model, &pinned, rows);
    let mut worst: Vec<GroupCount> = groups
        .iter()
        .filter(|g| g.to_improve > 0)
        .map(|g| GroupCount {
            about: g.about.clone(),
            anchor: g.anchor.clone(),
            to_improve: g.to_improve,
        })
        .collect();
    worst.sort_by_key(|w| std::cmp::Reverse(w.to_improve));
    worst.truncate(WORST);
    view_page(
        &s,
        StatusCode::OK,
        "lessons.html",
        &LessonsPage {
            title: "Lessons from retrospectives",
            user: who.view(),
            total,
            shown,
            worst,
            waiting,
            groups,
        },
    )
}
