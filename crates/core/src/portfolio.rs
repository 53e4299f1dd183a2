//! The programme's portfolio: what each change to an engagement adds to
//! the counts the dashboard reads, and how those counts become its figures.
//!
//! The store keeps the counts in the transaction that appends the events
//! ([`changes`]), one row per (chart, agency, month, key, bucket), plus a
//! row for every agency together; the dashboard reads a few hundred kept
//! rows, never the event log. Two kinds of count are kept:
//! - *levels*, what is true of an engagement now (active in a stage, an
//!   active Do it With You engagement), kept as the month's change: the
//!   level at a month's end is the sum of every change up to it;
//! - *flows*, what happened in a month: a stage reached for the first time,
//!   a stage finished after so many whole weeks, a decision, a start;
//! - and *standing* counts dated by what they are about rather than when
//!   they changed: a benefit by its target's month, realised or not.
//!
//! [`figures`] turns the rows of a date range into each chart's numbers.

use std::collections::{BTreeMap, BTreeSet};

use serde::Serialize;

use crate::benefit::Benefit;
use crate::{DomainError, Engagement, Event, Funder, Mode, StageStatus, Timestamp};

const WEEK: i64 = 7 * 24 * 3600;

/// The longest stage visit counted by its weeks; longer ones count here.
pub const MAX_WEEKS: i32 = 260;

/// The longest date range the dashboard shows, in months.
pub const MAX_MONTHS: i32 = 60;

/// What a kept count is of.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum Chart {
    /// Level: engagements active in the stage (`key`).
    Active,
    /// Level: Do it With You engagements with a stage active.
    Diwy,
    /// Standing (month 0): Do it With You engagements whose Discovery is
    /// planned (`PlanDiscovery`) and not yet entered.
    Planned,
    /// Flow: engagements started, by mode (`key`).
    Started,
    /// Flow: engagements entering the stage (`key`) for the first time.
    Reached,
    /// Flow: stage visits finished (completed or exited), by stage (`key`)
    /// and whole weeks taken (`bucket`).
    Weeks,
    /// Flow: decisions, by question and option (`key`: both, split by
    /// [`SEPARATOR`]).
    Decision,
    /// Flow: decisions by who funds what they lead to (`key`: the funder).
    Funding,
    /// Standing, by the target's month: measurable benefits (a baseline and
    /// a target).
    BenefitDue,
    /// Standing, by the target's month: those whose latest reading reaches
    /// the target.
    BenefitRealised,
    /// Flow: lessons recorded, by stage (`key`) and kind (`bucket`: its
    /// place in `LessonKind::ALL`).
    Lesson,
}

impl Chart {
    pub const ALL: [Chart; 11] = [
        Chart::Active,
        Chart::Diwy,
        Chart::Planned,
        Chart::Started,
        Chart::Reached,
        Chart::Weeks,
        Chart::Decision,
        Chart::Funding,
        Chart::BenefitDue,
        Chart::BenefitRealised,
        Chart::Lesson,
    ];

    /// The name the store keeps it under.
    pub fn slug(self) -> &'static str {
        match self {
            Chart::Active => "active",
            Chart::Diwy => "diwy",
            Chart::Planned => "planned",
            Chart::Started => "started",
            Chart::Reached => "reached",
            Chart::Weeks => "weeks",
            Chart::Decision => "decision",
            Chart::Funding => "funding",
            Chart::BenefitDue => "benefit_due",
            Chart::BenefitRealised => "benefit_realised",
            Chart::Lesson => "lesson",
        }
    }

    pub fn from_slug(s: &str) -> Option<Chart> {
        Chart::ALL.into_iter().find(|c| c.slug() == s)
    }

    /// A level is summed from the first month, not only the range's.
    pub fn is_level(self) -> bool {
        matches!(self, Chart::Active | Chart::Diwy)
    }
}

/// Between a decision's question and its option in a [`Chart::Decision`] key.
pub const SEPARATOR: char = '\u{1f}';

/// One kept count's place.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct Key {
    pub chart: Chart,
    /// `YYYYMM` in the programme's calendar; 0 where no month applies.
    pub month: i32,
    pub key: String,
    pub bucket: i32,
}

/// Changes to kept counts, each non-zero, in key order (the order the
/// store writes them in, so two writers never wait on each other's rows in
/// opposite orders).
pub type Tally = BTreeMap<Key, i64>;

fn add(t: &mut Tally, chart: Chart, month: i32, key: &str, bucket: i32, n: i64) {
    let k = Key {
        chart,
        month,
        key: key.to_string(),
        bucket,
    };
    let v = t.entry(k.clone()).or_default();
    *v += n;
    if *v == 0 {
        t.remove(&k);
    }
}

/// Adds `more` to `into`, leaving out what comes to zero.
pub fn merge(into: &mut Tally, more: Tally) {
    for (k, n) in more {
        add(into, k.chart, k.month, &k.key, k.bucket, n);
    }
}

/// `YYYYMM` of `t` in the programme's calendar (Canberra).
pub fn month_of(t: Timestamp) -> i32 {
    crate::today(t).get(..7).and_then(month_from).unwrap_or(0)
}

/// `YYYYMM` of a `YYYY-MM` or `YYYY-MM-DD` text.
pub fn month_from(s: &str) -> Option<i32> {
    let y: i32 = s.get(..4)?.parse().ok()?;
    if s.get(4..5)? != "-" {
        return None;
    }
    let m: i32 = s.get(5..7)?.parse().ok()?;
    let rest = s.get(7..)?;
    if !(rest.is_empty() || rest.starts_with('-')) || !(1..=12).contains(&m) || y < 1 {
        return None;
    }
    Some(y * 100 + m)
}

/// `YYYY-MM` of a `YYYYMM`.
pub fn month_text(m: i32) -> String {
    format!("{:04}-{:02}", m / 100, m % 100)
}

/// The month after `m`.
pub fn next_month(m: i32) -> i32 {
    if m % 100 == 12 { m + 89 } else { m + 1 }
}

/// What an engagement adds to the counts before a command: compared with
/// the engagement after it by [`changes`].
#[derive(Debug, Clone, Default)]
pub struct Marks {
    active: BTreeSet<String>,
    diwy: bool,
    standing: Tally,
}

impl Marks {
    pub fn of(e: &Engagement) -> Marks {
        Marks {
            active: e.active_stages().map(|s| s.stage.clone()).collect(),
            diwy: e.mode == Mode::DoItWithYou && e.active_stages().next().is_some(),
            standing: standing(e),
        }
    }
}

/// Whether `b`'s latest reading reaches its target (the direction is from
/// the baseline to the target). A reading dated ahead counts once recorded:
/// the counts cannot wait for a date to pass.
pub fn realised(b: &Benefit) -> bool {
    let (Some(base), Some(target)) = (&b.plan.baseline, &b.plan.target) else {
        return false;
    };
    let Some(last) = b.effective().last().map(|r| r.value) else {
        return false;
    };
    if target.value > base.value {
        last >= target.value
    } else {
        last <= target.value
    }
}

fn standing(e: &Engagement) -> Tally {
    let mut t = Tally::new();
    let discovery_waits = e
        .stage(crate::DISCOVERY)
        .is_some_and(|s| s.status == StageStatus::NotStarted);
    if e.mode == Mode::DoItWithYou && e.discovery_weeks.is_some() && discovery_waits {
        add(&mut t, Chart::Planned, 0, "", 0, 1);
    }
    for b in &e.benefits {
        let (Some(_), Some(target)) = (&b.plan.baseline, &b.plan.target) else {
            continue;
        };
        let Some(m) = month_from(&target.date) else {
            continue;
        };
        add(&mut t, Chart::BenefitDue, m, "", 0, 1);
        if realised(b) {
            add(&mut t, Chart::BenefitRealised, m, "", 0, 1);
        }
    }
    t
}

/// What `events` at `at` change in the kept counts of the engagement that
/// was `before` and is now `after`. The store calls it an event at a time
/// (a stage finished and entered again in one command is still one visit
/// finished), and the counts from the events always sum to the same.
pub fn changes(before: &Marks, after: &Engagement, events: &[Event], at: Timestamp) -> Tally {
    let m = month_of(at);
    let mut t = Tally::new();
    let now = Marks::of(after);
    for s in before.active.difference(&now.active) {
        add(&mut t, Chart::Active, m, s, 0, -1);
    }
    for s in now.active.difference(&before.active) {
        add(&mut t, Chart::Active, m, s, 0, 1);
    }
    if before.diwy != now.diwy {
        add(&mut t, Chart::Diwy, m, "", 0, if now.diwy { 1 } else { -1 });
    }
    for (k, n) in &before.standing {
        add(&mut t, k.chart, k.month, &k.key, k.bucket, -n);
    }
    for (k, n) in &now.standing {
        add(&mut t, k.chart, k.month, &k.key, k.bucket, *n);
    }
    for ev in events {
        match ev {
            Event::Started { mode, .. } => add(&mut t, Chart::Started, m, mode_slug(*mode), 0, 1),
            Event::StageEntered { stage, cycle: 1 } => add(&mut t, Chart::Reached, m, stage, 0, 1),
            Event::StageCompleted { stage } | Event::StageExited { stage } => {
                let Some(rec) = after.stage(stage) else {
                    continue;
                };
                if let (Some(s), Some(e)) = (rec.started_at, rec.ended_at)
                    && rec.status != StageStatus::Active
                {
                    let weeks = ((e.0 - s.0).max(0) / WEEK).min(i64::from(MAX_WEEKS)) as i32;
                    add(&mut t, Chart::Weeks, m, stage, weeks, 1);
                }
            }
            Event::Decided {
                question,
                option_text,
                funded_by,
                ..
            } => {
                let key = format!("{question}{SEPARATOR}{option_text}");
                add(&mut t, Chart::Decision, m, &key, 0, 1);
                add(&mut t, Chart::Funding, m, funder_slug(*funded_by), 0, 1);
            }
            Event::LessonRecorded { kind, stage, .. } => {
                let place = crate::lesson::LessonKind::ALL
                    .iter()
                    .position(|k| k == kind)
                    .unwrap_or(0);
                add(&mut t, Chart::Lesson, m, stage, place as i32, 1);
            }
            _ => {}
        }
    }
    t
}

pub fn mode_slug(m: Mode) -> &'static str {
    match m {
        Mode::DoItWithYou => "do_it_with_you",
        Mode::DoItYourself => "do_it_yourself",
    }
}

pub fn funder_slug(f: Funder) -> &'static str {
    match f {
        Funder::Dta => "dta",
        Funder::CoFunded => "co_funded",
        Funder::Agency => "agency",
    }
}

/// A kept count as read back.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Row {
    pub chart: Chart,
    pub month: i32,
    pub key: String,
    pub bucket: i32,
    pub n: i64,
}

/// The months a dashboard covers, first and last inclusive (`YYYYMM`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
pub struct Range {
    pub from: i32,
    pub to: i32,
}

impl Range {
    fn fixed(self) -> Range {
        // The month eleven before `to`.
        let mut from = self.to;
        for _ in 0..11 {
            from = prev_month(from);
        }
        Range { from, to: self.to }
    }

    /// The range a filter form or query gives (`YYYY-MM` each, either
    /// may be empty), every problem named by its field.
    pub fn parse(from: &str, to: &str, today: Timestamp) -> Result<Range, Vec<DomainError>> {
        let mut problems = Vec::new();
        let mut read = |field: &'static str, s: &str| {
            let s = s.trim();
            if s.is_empty() {
                return None;
            }
            match month_from(s).filter(|_| s.len() == 7) {
                Some(m) => Some(m),
                None => {
                    let shaped = s.len() == 7
                        && s.bytes().enumerate().all(|(i, b)| {
                            if i == 4 {
                                b == b'-'
                            } else {
                                b.is_ascii_digit()
                            }
                        });
                    problems.push(DomainError::invalid(
                        field,
                        if shaped {
                            "there is no such month: years start at 0001 and months run from 01 to 12"
                        } else {
                            "give a month as YYYY-MM, such as 2027-03"
                        },
                    ));
                    None
                }
            }
        };
        let (f, t) = (read("from", from), read("to", to));
        if !problems.is_empty() {
            return Err(problems);
        }
        let to = t.unwrap_or_else(|| month_of(today));
        let from = f.unwrap_or_else(|| Range { from: to, to }.fixed().from);
        if from > to {
            return Err(vec![DomainError::invalid(
                "from",
                format!(
                    "the first month, {}, is after the last, {}",
                    month_text(from),
                    month_text(to)
                ),
            )]);
        }
        let r = Range { from, to };
        if r.months().len() as i32 > MAX_MONTHS {
            return Err(vec![DomainError::invalid(
                "from",
                format!("a range covers at most {MAX_MONTHS} months"),
            )]);
        }
        Ok(r)
    }

    pub fn months(&self) -> Vec<i32> {
        let mut out = Vec::new();
        let mut m = self.from;
        while m <= self.to && out.len() <= MAX_MONTHS as usize {
            out.push(m);
            m = next_month(m);
        }
        out
    }

    pub fn contains(&self, m: i32) -> bool {
        (self.from..=self.to).contains(&m)
    }
}

fn prev_month(m: i32) -> i32 {
    if m % 100 == 1 { m - 89 } else { m - 1 }
}

/// `2027 Q1` for a `YYYYMM`.
pub fn quarter_of(m: i32) -> String {
    format!("{} Q{}", m / 100, (m % 100 - 1) / 3 + 1)
}

/// What the dashboard reads besides the kept counts.
#[derive(Debug, Clone, Default)]
pub struct Extras {
    /// Enquiries received in the range (not filtered by agency: an enquiry
    /// names its agency in its own words until it is converted).
    pub enquiries: u64,
    /// Enquiries open now.
    pub open_enquiries: u64,
    /// (stage, active now, active past its timebox now).
    pub active_now: Vec<(String, u64, u64)>,
    /// How many Do it With You engagements the programme can support at once.
    pub capacity: u32,
    pub surveys: Vec<SurveyScore>,
}

/// One survey's scores, for the scores over time.
#[derive(Debug, Clone, PartialEq, Serialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct SurveyScore {
    pub survey: i64,
    pub title: String,
    /// The day it opened (`YYYY-MM-DD`).
    pub opens_on: String,
    pub responses: u64,
    /// Its first likely-to-recommend question's Net Promoter Score.
    pub nps: Option<i64>,
    /// The mean of all its ratings (1 to 5), to one decimal place.
    pub mean_rating: Option<String>,
    /// Why its scores are not shown (too few answers to stay anonymous).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub withheld: Option<String>,
}

/// A survey's scores from its kept counts ((question, value, n)).
pub fn survey_score(
    id: i64,
    d: &crate::survey::Definition,
    responses: u64,
    counts: &[(usize, i64, u64)],
) -> SurveyScore {
    // The programme sees an anonymous survey's results from three answers.
    let withheld = crate::survey::withheld(d, responses, true, crate::survey::Phase::Closed);
    let mut score = SurveyScore {
        survey: id,
        title: d.title.clone(),
        opens_on: d.opens_on.clone(),
        responses,
        nps: None,
        mean_rating: None,
        withheld: withheld.clone(),
    };
    if withheld.is_some() {
        return score;
    }
    let r = crate::survey::results(d, responses, counts, Vec::new());
    score.nps = r.questions.iter().find_map(|q| q.nps);
    let (mut sum, mut n) = (0u64, 0u64);
    for (q, v, c) in counts {
        if d.questions.get(*q).map(|q| q.kind) == Some(crate::survey::QuestionKind::Rating)
            && let Ok(v) = u64::try_from(*v)
        {
            sum += v * c;
            n += c;
        }
    }
    score.mean_rating = (sum * 10 + n / 2)
        .checked_div(n)
        .map(|tenths| format!("{}.{}", tenths / 10, tenths % 10));
    score
}

/// The portfolio's figures over a range.
#[derive(Debug, Clone, PartialEq, Serialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[cfg_attr(feature = "openapi", schema(as = PortfolioFigures))]
pub struct Figures {
    /// `YYYY-MM`.
    pub from: String,
    pub to: String,
    /// The range's months up to this one: those `by_stage` and the
    /// capacity's quarters have a value for.
    pub months: Vec<String>,
    /// Engagements active in each stage at each month's end.
    pub by_stage: Vec<StageSeries>,
    /// Enquiries, engagements started and stages first reached, in the range.
    pub funnel: Vec<Tallied>,
    pub time_in_stage: Vec<StageTime>,
    pub past_timebox: Vec<PastTimebox>,
    pub capacity: Capacity,
    pub decisions: Vec<DecisionCount>,
    pub funding: Vec<Tallied>,
    /// By the quarter of the targets' dates, within the range.
    pub benefits: Vec<BenefitQuarter>,
    /// Surveys that opened in the range, oldest first.
    pub surveys: Vec<SurveyScore>,
    /// Lessons recorded in the range, by the stage they are about.
    pub lessons: Vec<StageLessons>,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct StageLessons {
    pub stage: String,
    pub name: String,
    pub went_well: i64,
    pub to_improve: i64,
    pub try_next: i64,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct StageSeries {
    pub stage: String,
    pub name: String,
    /// One for each of `months`.
    pub active: Vec<i64>,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[cfg_attr(feature = "openapi", schema(as = PortfolioCount))]
pub struct Tallied {
    /// What it counts, in the programme's words.
    pub label: String,
    /// A stable name (a stage's or funder's slug, `enquiries`, `started`).
    pub key: String,
    pub count: i64,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct StageTime {
    pub stage: String,
    pub name: String,
    /// Visits finished (completed or exited) in the range.
    pub finished: i64,
    /// Whole weeks.
    pub median_weeks: Option<i32>,
    pub p90_weeks: Option<i32>,
    pub timebox_weeks: Option<u32>,
    /// Finished visits that ran past the timebox.
    pub over_timebox: i64,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct PastTimebox {
    pub stage: String,
    pub name: String,
    pub timebox_weeks: u32,
    /// Engagements active in the stage now.
    pub active: u64,
    /// Of those, how many have run past its timebox.
    pub past: u64,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[cfg_attr(feature = "openapi", schema(as = PortfolioCapacity))]
pub struct Capacity {
    /// How many Do it With You engagements the programme can support at once.
    pub capacity: u32,
    pub quarters: Vec<QuarterLoad>,
    /// Enquiries open now: the queue.
    pub open_enquiries: u64,
    /// Do it With You engagements whose Discovery is planned, not started.
    pub planned_starts: i64,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct QuarterLoad {
    /// `2027 Q1`.
    pub quarter: String,
    /// The quarter's last month in the range (`YYYY-MM`).
    pub month: String,
    /// Active Do it With You engagements at that month's end.
    pub active: i64,
    /// The most active at any month's end in the quarter.
    pub peak: i64,
    pub over_capacity: bool,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct DecisionCount {
    pub question: String,
    pub option: String,
    pub count: i64,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct BenefitQuarter {
    pub quarter: String,
    /// Measurable benefits whose target falls in the quarter.
    pub due: i64,
    pub realised: i64,
    /// Not realised, and the quarter's last day has passed.
    pub missed: i64,
    /// Not realised, and still to come.
    pub pending: i64,
}

/// The value at or below which `q` (0 to 1) of a histogram's counts fall
/// (the nearest-rank method): `None` for an empty one.
pub fn quantile(hist: &BTreeMap<i32, i64>, q: f64) -> Option<i32> {
    let total: i64 = hist.values().filter(|n| **n > 0).sum();
    if total <= 0 {
        return None;
    }
    let rank = ((q * total as f64).ceil() as i64).clamp(1, total);
    let mut seen = 0;
    for (v, n) in hist {
        seen += (*n).max(0);
        if seen >= rank {
            return Some(*v);
        }
    }
    hist.keys().next_back().copied()
}

/// Each chart's numbers from the kept `rows` (levels from the first month
/// kept, the rest within `range`), `today` (`YYYY-MM-DD`) and what else
/// was read.
pub fn figures(
    model: &waymark_model::Model,
    rows: &[Row],
    range: Range,
    today: &str,
    extras: Extras,
) -> Figures {
    // Levels are known to this month: later ones have not happened.
    let this_month = month_from(today).unwrap_or(range.to);
    let months: Vec<i32> = range
        .months()
        .into_iter()
        .filter(|m| *m <= this_month)
        .collect();
    let stages: Vec<(&str, &str)> = model
        .stages
        .iter()
        .map(|s| (s.slug.as_str(), s.name.as_str()))
        .collect();
    let mut level: BTreeMap<(Chart, &str), BTreeMap<i32, i64>> = BTreeMap::new();
    let mut flow: BTreeMap<(Chart, &str), i64> = BTreeMap::new();
    let mut weeks: BTreeMap<&str, BTreeMap<i32, i64>> = BTreeMap::new();
    let mut lessons: BTreeMap<&str, [i64; 3]> = BTreeMap::new();
    let mut planned = 0;
    let mut benefits: BTreeMap<i32, (i64, i64)> = BTreeMap::new();
    for r in rows {
        if r.chart.is_level() {
            *level
                .entry((r.chart, r.key.as_str()))
                .or_default()
                .entry(r.month)
                .or_default() += r.n;
            continue;
        }
        match r.chart {
            Chart::Planned => planned += r.n,
            Chart::BenefitDue | Chart::BenefitRealised => {
                if range.contains(r.month) {
                    let q = r.month / 100 * 10 + (r.month % 100 - 1) / 3;
                    let e = benefits.entry(q).or_default();
                    if r.chart == Chart::BenefitDue {
                        e.0 += r.n;
                    } else {
                        e.1 += r.n;
                    }
                }
            }
            _ if !range.contains(r.month) => {}
            Chart::Lesson => {
                if let Some(n) = lessons
                    .entry(r.key.as_str())
                    .or_default()
                    .get_mut(usize::try_from(r.bucket).unwrap_or(usize::MAX))
                {
                    *n += r.n;
                }
            }
            Chart::Weeks => {
                *weeks
                    .entry(r.key.as_str())
                    .or_default()
                    .entry(r.bucket)
                    .or_default() += r.n;
            }
            _ => *flow.entry((r.chart, r.key.as_str())).or_default() += r.n,
        }
    }
    // A level at each month's end: every change up to it.
    let at_ends = |chart: Chart, key: &str| -> Vec<i64> {
        let changes = level.get(&(chart, key));
        months
            .iter()
            .map(|m| changes.map_or(0, |c| c.range(..=*m).map(|(_, n)| n).sum::<i64>().max(0)))
            .collect()
    };
    let by_stage = stages
        .iter()
        .map(|(slug, name)| StageSeries {
            stage: slug.to_string(),
            name: name.to_string(),
            active: at_ends(Chart::Active, slug),
        })
        .collect();
    let flow_of = |chart: Chart, key: &str| flow.get(&(chart, key)).copied().unwrap_or(0);
    let mut funnel = vec![
        Tallied {
            label: "Enquiries received".into(),
            key: "enquiries".into(),
            count: extras.enquiries as i64,
        },
        Tallied {
            label: "Engagements started".into(),
            key: "started".into(),
            count: flow_of(Chart::Started, mode_slug(Mode::DoItWithYou))
                + flow_of(Chart::Started, mode_slug(Mode::DoItYourself)),
        },
    ];
    for (slug, name) in &stages {
        funnel.push(Tallied {
            label: format!("Reached {name}"),
            key: slug.to_string(),
            count: flow_of(Chart::Reached, slug),
        });
    }
    let time_in_stage = model
        .stages
        .iter()
        .map(|s| {
            let hist = weeks.get(s.slug.as_str()).cloned().unwrap_or_default();
            let timebox = s.timebox.map(|t| t.max_weeks);
            StageTime {
                stage: s.slug.clone(),
                name: s.name.clone(),
                finished: hist.values().sum(),
                median_weeks: quantile(&hist, 0.5),
                p90_weeks: quantile(&hist, 0.9),
                timebox_weeks: timebox,
                over_timebox: timebox.map_or(0, |t| {
                    hist.iter()
                        .filter(|(w, _)| i64::from(**w) > i64::from(t))
                        .map(|(_, n)| n)
                        .sum()
                }),
            }
        })
        .collect();
    let past_timebox = model
        .stages
        .iter()
        .filter_map(|s| {
            let t = s.timebox?;
            let (_, active, past) = extras
                .active_now
                .iter()
                .find(|(slug, ..)| *slug == s.slug)
                .cloned()
                .unwrap_or_default();
            Some(PastTimebox {
                stage: s.slug.clone(),
                name: s.name.clone(),
                timebox_weeks: t.max_weeks,
                active,
                past,
            })
        })
        .collect();
    let diwy = at_ends(Chart::Diwy, "");
    let mut quarters: Vec<QuarterLoad> = Vec::new();
    for (m, n) in months.iter().zip(&diwy) {
        let quarter = quarter_of(*m);
        match quarters.last_mut() {
            Some(q) if q.quarter == quarter => {
                q.month = month_text(*m);
                q.active = *n;
                q.peak = q.peak.max(*n);
            }
            _ => quarters.push(QuarterLoad {
                quarter,
                month: month_text(*m),
                active: *n,
                peak: *n,
                over_capacity: false,
            }),
        }
    }
    for q in &mut quarters {
        q.over_capacity = q.peak > i64::from(extras.capacity);
    }
    let mut decisions: Vec<DecisionCount> = flow
        .iter()
        .filter(|((c, _), _)| *c == Chart::Decision)
        .map(|((_, key), n)| {
            let (question, option) = key.split_once(SEPARATOR).unwrap_or(("", key));
            DecisionCount {
                question: question.to_string(),
                option: option.to_string(),
                count: *n,
            }
        })
        .filter(|d| d.count > 0)
        .collect();
    decisions.sort_by(|a, b| {
        b.count
            .cmp(&a.count)
            .then_with(|| a.question.cmp(&b.question))
    });
    let funding = [Funder::Dta, Funder::CoFunded, Funder::Agency]
        .into_iter()
        .map(|f| Tallied {
            label: f.label().to_string(),
            key: funder_slug(f).to_string(),
            count: flow_of(Chart::Funding, funder_slug(f)),
        })
        .collect();
    let this_quarter = month_from(today).map(|m| m / 100 * 10 + (m % 100 - 1) / 3);
    // A quarter whose counts came to nothing (an agency moved away) is none.
    let benefits = benefits
        .into_iter()
        .filter(|(_, (due, _))| *due > 0)
        .map(|(q, (due, realised))| {
            let open = due - realised;
            let past = this_quarter.is_some_and(|t| q < t);
            BenefitQuarter {
                quarter: format!("{} Q{}", q / 10, q % 10 + 1),
                due,
                realised,
                missed: if past { open } else { 0 },
                pending: if past { 0 } else { open },
            }
        })
        .collect();
    let mut surveys: Vec<SurveyScore> = extras
        .surveys
        .into_iter()
        .filter(|s| month_from(&s.opens_on).is_some_and(|m| range.contains(m)))
        .collect();
    surveys.sort_by(|a, b| a.opens_on.cmp(&b.opens_on).then(a.survey.cmp(&b.survey)));
    Figures {
        from: month_text(range.from),
        to: month_text(range.to),
        months: months.iter().map(|m| month_text(*m)).collect(),
        by_stage,
        funnel,
        time_in_stage,
        past_timebox,
        capacity: Capacity {
            capacity: extras.capacity,
            quarters,
            open_enquiries: extras.open_enquiries,
            planned_starts: planned,
        },
        decisions,
        funding,
        benefits,
        surveys,
        lessons: stages
            .iter()
            .map(|(slug, name)| {
                let [went_well, to_improve, try_next] =
                    lessons.get(slug).copied().unwrap_or_default();
                StageLessons {
                    stage: slug.to_string(),
                    name: name.to_string(),
                    went_well,
                    to_improve,
                    try_next,
                }
            })
            .collect(),
    }
}

/// Whether `actor` may see the portfolio: the programme, which sees every
/// agency's engagements together (to anyone else it does not exist).
pub fn may_see(actor: &crate::Actor) -> Result<(), DomainError> {
    if actor.is_programme() {
        Ok(())
    } else {
        Err(DomainError::NotFound)
    }
}

/// How many Do it With You engagements the programme supports at once
/// until it says otherwise: six were funded.
pub const CAPACITY_DEFAULT: u32 = 6;

/// The capacity a setting may hold.
pub const CAPACITY_RANGE: std::ops::RangeInclusive<u32> = 1..=500;

/// A capacity as typed.
pub fn parse_capacity(raw: &str) -> Result<u32, DomainError> {
    raw.trim()
        .parse::<u32>()
        .ok()
        .filter(|n| CAPACITY_RANGE.contains(n))
        .ok_or_else(|| {
            DomainError::invalid(
                "capacity",
                format!(
                    "enter a whole number of engagements from {} to {}",
                    CAPACITY_RANGE.start(),
                    CAPACITY_RANGE.end()
                ),
            )
        })
}

/// The first moment of month `m` in the programme's calendar.
pub fn month_start(m: i32) -> Timestamp {
    use chrono::TimeZone;
    let first = chrono::NaiveDate::from_ymd_opt(m / 100, (m % 100) as u32, 1)
        .and_then(|d| d.and_hms_opt(0, 0, 0))
        .and_then(|t| crate::PROGRAMME_ZONE.from_local_datetime(&t).earliest());
    Timestamp(first.map_or(0, |t| t.timestamp()))
}

/// Which agencies and months a dashboard counts.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Filter {
    /// Agencies of this portfolio (as the directory names it) only.
    pub portfolio: Option<String>,
    pub agency_type: Option<crate::AgencyType>,
    pub range: Range,
}

impl Filter {
    /// The one scope whose counts this filter reads.
    pub fn scope(&self) -> String {
        match (&self.portfolio, self.agency_type) {
            (None, None) => ALL.to_string(),
            (Some(p), None) => format!("p:{p}"),
            (None, Some(t)) => format!("t:{}", t.slug()),
            (Some(p), Some(t)) => format!("pt:{}:{p}", t.slug()),
        }
    }

    /// Every agency.
    pub fn is_all(&self) -> bool {
        self.portfolio.is_none() && self.agency_type.is_none()
    }

    /// The filter a form or query gives (each value may be empty), every
    /// problem named by its field; `known` are the portfolios agencies are in.
    pub fn read(
        portfolio: &str,
        agency_type: &str,
        from: &str,
        to: &str,
        known: &[String],
        now: Timestamp,
    ) -> Result<Filter, Vec<DomainError>> {
        let mut problems = Vec::new();
        let portfolio = portfolio.trim();
        let portfolio = if portfolio.is_empty() {
            None
        } else if known.iter().any(|k| k == portfolio) {
            Some(portfolio.to_string())
        } else {
            problems.push(DomainError::invalid(
                "portfolio",
                "no agency is in that portfolio: choose one from the list",
            ));
            None
        };
        let agency_type = match agency_type.trim() {
            "" => None,
            t => match crate::AgencyType::from_slug(t) {
                Some(t) => Some(t),
                None => {
                    problems.push(DomainError::invalid(
                        "agency_type",
                        "choose lean, aligned, self_directed or complex",
                    ));
                    None
                }
            },
        };
        let range = Range::parse(from, to, now);
        match range {
            Ok(range) if problems.is_empty() => Ok(Filter {
                portfolio,
                agency_type,
                range,
            }),
            Ok(_) => Err(problems),
            Err(more) => {
                problems.extend(more);
                Err(problems)
            }
        }
    }

    /// The filter in words, for a chart's description.
    pub fn words(&self) -> String {
        let who = match (&self.portfolio, self.agency_type) {
            (None, None) => "every agency".to_string(),
            (Some(p), None) => format!("agencies in the {p} portfolio"),
            (None, Some(t)) => format!("{} agencies", t.label()),
            (Some(p), Some(t)) => format!("{} agencies in the {p} portfolio", t.label()),
        };
        format!(
            "{who}, {} to {}",
            month_text(self.range.from),
            month_text(self.range.to)
        )
    }
}

/// The scope every agency's counts are kept in together.
pub const ALL: &str = "all";

/// The scopes an agency's counts are kept in: every agency, its
/// portfolio, its type, both, and the agency alone (last).
pub fn scopes(
    agency: crate::AgencyId,
    portfolio: &str,
    kind: Option<crate::AgencyType>,
) -> [String; 5] {
    let t = kind.map_or("none", |k| k.slug());
    [
        ALL.to_string(),
        format!("p:{portfolio}"),
        format!("t:{t}"),
        format!("pt:{t}:{portfolio}"),
        agency_scope(agency),
    ]
}

/// The scope that keeps one agency's counts alone.
pub fn agency_scope(agency: crate::AgencyId) -> String {
    format!("a:{}", agency.0)
}
