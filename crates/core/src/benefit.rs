//! The benefits register: what a benefit measures, in which unit, from
//! which baseline to which target by when, who owns it, its dated
//! readings, and its status, which is derived from those and never typed.
//!
//! A benefit's number is its place on the register, from 1: benefits are
//! never removed (a change is a new event; the old words stay in the chain).
//!
//! ## How the status is worked out ([`assess`])
//! - **Not started**: no baseline and target yet, or no reading dated after
//!   the baseline.
//! - **Realised**: the latest reading has reached the target (at or above
//!   it when the target is above the baseline, at or below it otherwise).
//! - **Missed**: the target date has passed and the latest reading has not
//!   reached the target.
//! - **On track** or **at risk**: a straight line is fitted, by least
//!   squares, through the baseline and every reading (the last one recorded
//!   for each date), and extended to the target date. On track when that
//!   projection reaches the target; at risk when it falls short.

use chrono::NaiveDate;
use serde::{Deserialize, Serialize};

use crate::engagement::{Engagement, Timestamp};
use crate::error::DomainError;
use crate::people::PersonId;
use crate::records::shown;
use crate::text::{Line, Text};

/// The most characters a typed value may have (`"1,250,000.25 hours"`).
pub const VALUE_MAX: usize = 40;
/// The most characters a unit may have.
pub const UNIT_MAX: usize = 40;
/// The most readings one benefit keeps (a monthly reading for 40 years).
pub const READINGS_MAX: usize = 500;
/// Amounts are exact to this many decimal places.
pub const DECIMALS: u32 = 4;
const SCALE: i64 = 10_i64.pow(DECIMALS);
/// The largest magnitude an amount may have: a million million.
const LIMIT: i64 = 1_000_000_000_000;

/// A measured quantity, exact to [`DECIMALS`] places (no binary rounding:
/// 0.1 + 0.2 is 0.3). Written as a decimal string, `"-12.5"`, in events and
/// the API, so no client's floating point changes what was recorded.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct Amount(i64);

impl Amount {
    /// `raw` read as a number in `unit`: thousands may be grouped with
    /// commas, and the unit may be written after the number (`12 hours`,
    /// `35%`) or before it (`$1,200`). Any other word is the wrong unit.
    pub fn parse(field: &'static str, raw: &str, unit: Option<&str>) -> Result<Self, DomainError> {
        // A minus sign or a dash from a word processor is a minus.
        let typed = raw.trim();
        let signed = typed
            .strip_prefix(['\u{2212}', '\u{2013}', '\u{2012}'])
            .map(|rest| format!("-{rest}"));
        let text = signed.as_deref().unwrap_or(typed);
        if text.is_empty() {
            return Err(DomainError::invalid(field, "give a number"));
        }
        // A plain number needs no unit taken off it.
        if let Ok(n) = number(text) {
            return Ok(Amount(n));
        }
        let bare: std::borrow::Cow<'_, str> = match unit.map(str::trim).filter(|u| !u.is_empty()) {
            None => text.into(),
            Some(u) => match (strip_unit(text, u), text.strip_prefix('-')) {
                (Some(b), _) => b.into(),
                // A sign before a unit written first: -$1,200.
                (None, Some(rest)) => match strip_unit(rest, u) {
                    Some(b) if !b.starts_with(['-', '+']) => format!("-{b}").into(),
                    _ => text.into(),
                },
                (None, None) => text.into(),
            },
        };
        number(&bare).map_err(|why| {
            let shown = shown(text);
            let message = match (why, unit.filter(|u| !u.trim().is_empty())) {
                (Why::Words, Some(u)) => format!(
                    "“{shown}” is not a number of {u}: this benefit is measured in {u}, so give the number alone or followed by “{u}”"
                ),
                (Why::Words, None) => format!(
                    "“{shown}” is not a number; this benefit has no unit, so give the number alone"
                ),
                (Why::Decimals, _) => {
                    format!("“{shown}” has more than {DECIMALS} decimal places")
                }
                (Why::Size, _) => format!("“{shown}” is too large: at most a million million"),
                (Why::Grouping, _) => format!(
                    "“{shown}” groups its digits oddly: use commas between groups of three (1,250,000) or none"
                ),
            };
            DomainError::invalid(field, message)
        })
        .map(Amount)
    }

    /// From a whole number, for tests and generated data.
    pub fn whole(n: i64) -> Self {
        Amount(n.clamp(-LIMIT, LIMIT) * SCALE)
    }

    pub fn as_f64(self) -> f64 {
        self.0 as f64 / SCALE as f64
    }

    /// The nearest amount to `f` (for a projection), within the limits.
    pub fn from_f64(f: f64) -> Self {
        let max = (LIMIT * SCALE) as f64;
        Amount((f * SCALE as f64).round().clamp(-max, max) as i64)
    }

    /// The number with thousands grouped and its unit, as people read it:
    /// `1,250 hours`, `35%`, `$1,200`.
    pub fn with_unit(self, unit: Option<&str>) -> String {
        let n = self.grouped();
        match unit.map(str::trim).filter(|u| !u.is_empty()) {
            None => n,
            Some(u) if is_prefix(u) => match n.strip_prefix('-') {
                Some(rest) => format!("-{u}{rest}"),
                None => format!("{u}{n}"),
            },
            Some("%") => format!("{n}%"),
            Some(u) => format!("{n} {u}"),
        }
    }

    fn grouped(self) -> String {
        let plain = self.to_string();
        let (sign, rest) = match plain.strip_prefix('-') {
            Some(r) => ("-", r),
            None => ("", plain.as_str()),
        };
        let (int, frac) = rest
            .split_once('.')
            .map_or((rest, None), |(i, f)| (i, Some(f)));
        let mut out = String::new();
        for (i, c) in int.chars().enumerate() {
            if i > 0 && (int.len() - i) % 3 == 0 {
                out.push(',');
            }
            out.push(c);
        }
        match frac {
            Some(f) => format!("{sign}{out}.{f}"),
            None => format!("{sign}{out}"),
        }
    }
}

/// Units written before the number.
fn is_prefix(unit: &str) -> bool {
    matches!(unit, "$" | "A$" | "AUD$" | "€" | "£")
}

/// `text` without `unit` before or after it (any case, any spaces).
fn strip_unit<'t>(text: &'t str, unit: &str) -> Option<&'t str> {
    let lower = text.to_lowercase();
    let u = unit.to_lowercase();
    // Lowercasing can change lengths outside ASCII; only strip when it did not.
    if lower.len() != text.len() {
        return None;
    }
    if lower.ends_with(&u) {
        return Some(text[..text.len() - u.len()].trim_end());
    }
    if lower.starts_with(&u) {
        return Some(text[u.len()..].trim_start());
    }
    None
}

enum Why {
    Words,
    Decimals,
    Size,
    Grouping,
}

/// A plain decimal: an optional sign, digits (grouped by commas in threes,
/// or not at all), and up to [`DECIMALS`] places.
fn number(s: &str) -> Result<i64, Why> {
    let (negative, digits) = match s.as_bytes().first() {
        Some(b'-') => (true, &s[1..]),
        Some(b'+') => (false, &s[1..]),
        _ => (false, s),
    };
    let (int, frac) = match digits.split_once('.') {
        Some((i, f)) => (i, f),
        None => (digits, ""),
    };
    let digit = |t: &str| t.bytes().all(|b| b.is_ascii_digit());
    if (int.is_empty() && frac.is_empty())
        || !digit(frac)
        || !int.bytes().all(|b| b.is_ascii_digit() || b == b',')
    {
        return Err(Why::Words);
    }
    if int.contains(',') {
        let groups: Vec<&str> = int.split(',').collect();
        let first = groups[0].len();
        if !(1..=3).contains(&first) || groups[1..].iter().any(|g| g.len() != 3) {
            return Err(Why::Grouping);
        }
    }
    if frac.len() > DECIMALS as usize {
        return Err(Why::Decimals);
    }
    let whole: String = int.chars().filter(|c| *c != ',').collect();
    let whole: i64 = if whole.is_empty() {
        0
    } else if whole.len() > 13 {
        return Err(Why::Size);
    } else {
        whole.parse().map_err(|_| Why::Size)?
    };
    if whole > LIMIT {
        return Err(Why::Size);
    }
    let mut places = frac.to_string();
    while places.len() < DECIMALS as usize {
        places.push('0');
    }
    let part: i64 = places.parse().map_err(|_| Why::Words)?;
    let n = whole * SCALE + part;
    Ok(if negative { -n } else { n })
}

impl std::fmt::Display for Amount {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let sign = if self.0 < 0 { "-" } else { "" };
        let n = self.0.unsigned_abs();
        let (whole, part) = (n / SCALE as u64, n % SCALE as u64);
        if part == 0 {
            write!(f, "{sign}{whole}")
        } else {
            let places = format!("{part:0width$}", width = DECIMALS as usize);
            write!(f, "{sign}{whole}.{}", places.trim_end_matches('0'))
        }
    }
}

impl Serialize for Amount {
    fn serialize<S: serde::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.serialize_str(&self.to_string())
    }
}

impl<'de> Deserialize<'de> for Amount {
    fn deserialize<D: serde::Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        let s = String::deserialize(d)?;
        number(s.trim()).map(Amount).map_err(|_| {
            serde::de::Error::custom(format!("“{}” is not a decimal number", shown(&s)))
        })
    }
}

#[cfg(feature = "openapi")]
impl utoipa::PartialSchema for Amount {
    fn schema() -> utoipa::openapi::RefOr<utoipa::openapi::schema::Schema> {
        utoipa::openapi::ObjectBuilder::new()
            .schema_type(utoipa::openapi::schema::Type::String)
            .pattern(Some(r"^-?[0-9]{1,13}(\.[0-9]{1,4})?$"))
            .description(Some(
                "A decimal number as a string, exact to four places (\"1250.5\").",
            ))
            .into()
    }
}

#[cfg(feature = "openapi")]
impl utoipa::ToSchema for Amount {}

/// A value on a date (`YYYY-MM-DD`): a baseline or a target.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct Point {
    pub value: Amount,
    pub date: String,
}

/// How a benefit is measured: its unit, baseline, target and owner.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct Plan {
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub unit: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub baseline: Option<Point>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub target: Option<Point>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub owner: Option<PersonId>,
}

impl Plan {
    pub fn is_empty(&self) -> bool {
        *self == Plan::default()
    }
}

/// A dated measurement. A later reading for the same date replaces an
/// earlier one in the status (both stay on the record).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct Reading {
    pub value: Amount,
    pub date: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub note: Option<String>,
    pub by: PersonId,
    pub at: Timestamp,
}

/// Where a benefit came from when it was adopted from the model's
/// "Benefits" section: the stage, and the entry's place in it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct Source {
    pub stage: String,
    pub index: usize,
}

/// A benefit on the register.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct Benefit {
    pub text: String,
    pub measure: Option<String>,
    #[serde(default)]
    pub plan: Plan,
    #[serde(default)]
    pub readings: Vec<Reading>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub source: Option<Source>,
}

impl Benefit {
    /// The readings that count, in date order: for each date, the last one
    /// recorded.
    pub fn effective(&self) -> Vec<&Reading> {
        let by_date: std::collections::BTreeMap<&str, &Reading> =
            self.readings.iter().map(|r| (r.date.as_str(), r)).collect();
        by_date.into_values().collect()
    }

    /// The readings that count on `today`: [`Benefit::effective`], less any
    /// dated after today (a reading is of what has happened).
    pub fn counted(&self, today: &str) -> Vec<&Reading> {
        self.effective()
            .into_iter()
            .filter(|r| r.date.as_str() <= today)
            .collect()
    }

    /// A value with this benefit's unit, as people read it.
    pub fn show(&self, value: Amount) -> String {
        value.with_unit(self.plan.unit.as_deref())
    }
}

/// What a command carries to define or change how a benefit is measured,
/// as typed: each value and date is text until [`plan`] reads it.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[serde(default)]
pub struct PlanInput {
    /// What the readings count (`hours`, `%`, `$`); none for a plain number.
    pub unit: Option<Line<{ UNIT_MAX }>>,
    /// The value before the change, and the date it was measured.
    pub baseline: Option<Line<{ VALUE_MAX }>>,
    pub baseline_date: Option<Line<10>>,
    /// The value to reach, and the date to reach it by.
    pub target: Option<Line<{ VALUE_MAX }>>,
    pub target_date: Option<Line<10>>,
    /// Who answers for it: someone who takes part in the engagement.
    pub owner: Option<PersonId>,
}

/// A typed date, made `YYYY-MM-DD`.
fn date(field: &'static str, raw: &Line<10>) -> Result<String, DomainError> {
    let d = raw.check(field)?;
    let (y, m, d) = crate::records::parse_date(field, d.as_str())?;
    Ok(format!("{y:04}-{m:02}-{d:02}"))
}

/// A value and its date, both given or neither: each read on its own, so
/// a bad value does not hide a bad date.
fn point(
    value: &Option<Line<{ VALUE_MAX }>>,
    day: &Option<Line<10>>,
    unit: Option<&str>,
    fields: (&'static str, &'static str),
    what: &str,
    problems: &mut Vec<DomainError>,
) -> (Option<Amount>, Option<String>) {
    let (vf, df) = fields;
    let value = Line::optional(value, vf).map_err(|e| problems.push(e));
    let day = Line::optional(day, df).map_err(|e| problems.push(e));
    let (Ok(value), Ok(day)) = (value, day) else {
        return (None, None);
    };
    match (value, day) {
        (None, None) => (None, None),
        (Some(_), None) => {
            problems.push(DomainError::invalid(
                df,
                format!("give the date of the {what}"),
            ));
            (None, None)
        }
        (None, Some(_)) => {
            problems.push(DomainError::invalid(vf, format!("give the {what} value")));
            (None, None)
        }
        (Some(v), Some(d)) => (
            Amount::parse(vf, v.as_str(), unit)
                .map_err(|e| problems.push(e))
                .ok(),
            date(df, &d).map_err(|e| problems.push(e)).ok(),
        ),
    }
}

/// Every problem with a plan as typed, at once, or the plan. The owner is
/// checked against the engagement by the caller.
pub fn plan(input: &PlanInput) -> Result<Plan, Vec<DomainError>> {
    let mut problems = Vec::new();
    let unit = match Line::optional(&input.unit, "unit") {
        Ok(u) => u.map(Line::into_string),
        Err(e) => {
            problems.push(e);
            None
        }
    };
    if let Some(u) = &unit
        && (u.chars().any(|c| c.is_ascii_digit())
            || u.chars().all(|c| {
                matches!(
                    c,
                    '-' | '+' | '.' | ',' | '\u{2010}'..='\u{2015}' | '\u{2212}'
                ) || c.is_whitespace()
            }))
    {
        problems.push(DomainError::invalid(
            "unit",
            "a unit names what is counted (hours, %, $): no digits, and not a sign or a decimal point alone",
        ));
    }
    let unit_ref = unit.as_deref();
    let baseline = point(
        &input.baseline,
        &input.baseline_date,
        unit_ref,
        ("baseline", "baseline_date"),
        "baseline",
        &mut problems,
    );
    let target = point(
        &input.target,
        &input.target_date,
        unit_ref,
        ("target", "target_date"),
        "target",
        &mut problems,
    );
    let target_given = input.target.as_ref().is_some_and(|t| !t.trim().is_empty());
    let baseline_given = input
        .baseline
        .as_ref()
        .is_some_and(|t| !t.trim().is_empty());
    if target_given && !baseline_given {
        problems.push(DomainError::invalid(
            "baseline",
            "give the baseline too: progress is measured from it to the target",
        ));
    }
    if let (Some(b), Some(t)) = (&baseline.1, &target.1)
        && t <= b
    {
        problems.push(DomainError::invalid(
            "target_date",
            format!("the target date must be after the baseline date ({b})"),
        ));
    }
    if let (Some(b), Some(t)) = (baseline.0, target.0)
        && t == b
    {
        problems.push(DomainError::invalid(
            "target",
            "the target must differ from the baseline, or there is nothing to realise",
        ));
    }
    let both = |(value, date): (Option<Amount>, Option<String>)| {
        Some(Point {
            value: value?,
            date: date?,
        })
    };
    if problems.is_empty() {
        Ok(Plan {
            unit,
            baseline: both(baseline),
            target: both(target),
            owner: input.owner,
        })
    } else {
        Err(problems)
    }
}

/// Every problem with a benefit's words and plan as typed.
pub(crate) fn problems(
    text: &Text<2000>,
    measure: &Option<Text<2000>>,
    input: &PlanInput,
) -> Vec<DomainError> {
    let mut found = Vec::new();
    if let Err(e) = text.required("text") {
        found.push(e);
    }
    if let Err(e) = Text::optional(measure, "measure") {
        found.push(e);
    }
    if let Err(p) = plan(input) {
        found.extend(p);
    }
    found
}

/// The reading a command records, read against its benefit: a number in
/// the benefit's unit, dated no earlier than its baseline.
pub(crate) fn reading(
    b: &Benefit,
    value: &Line<{ VALUE_MAX }>,
    day: &Line<10>,
) -> Result<(Amount, String), DomainError> {
    if b.readings.len() >= READINGS_MAX {
        return Err(DomainError::rule(format!(
            "this benefit has {READINGS_MAX} readings, as many as one benefit keeps; add a new benefit to go on measuring"
        )));
    }
    let v = value.check("value")?;
    let value = Amount::parse("value", v.as_str(), b.plan.unit.as_deref())?;
    let day = day.required("date").and_then(|d| date("date", &d))?;
    if let Some(base) = &b.plan.baseline
        && day < base.date
    {
        return Err(DomainError::invalid(
            "date",
            format!(
                "a reading is dated on or after the baseline date ({})",
                base.date
            ),
        ));
    }
    Ok((value, day))
}

/// The model's benefits of `stage` not yet on `e`'s register, with their
/// places in the stage's list: what adopting the stage adds, and what the
/// register offers to adopt. One on the register has the same words, or
/// was adopted from that place.
pub fn unadopted<'m>(e: &Engagement, stage: &'m waymark_model::Stage) -> Vec<(usize, &'m str)> {
    stage
        .benefits
        .iter()
        .enumerate()
        .map(|(index, entry)| (index, entry.text().trim()))
        .filter(|(index, text)| {
            !text.is_empty()
                && !e.benefits.iter().any(|b| {
                    b.text == *text
                        || b.source
                            .as_ref()
                            .is_some_and(|x| x.stage == stage.slug && x.index == *index)
                })
        })
        .collect()
}

/// A benefit's status.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[serde(rename_all = "snake_case")]
pub enum Status {
    NotStarted,
    OnTrack,
    AtRisk,
    Realised,
    Missed,
}

impl Status {
    pub const ALL: [Status; 5] = [
        Status::NotStarted,
        Status::OnTrack,
        Status::AtRisk,
        Status::Realised,
        Status::Missed,
    ];

    pub fn label(self) -> &'static str {
        match self {
            Status::NotStarted => "Not started",
            Status::OnTrack => "On track",
            Status::AtRisk => "At risk",
            Status::Realised => "Realised",
            Status::Missed => "Missed",
        }
    }

    pub fn slug(self) -> &'static str {
        match self {
            Status::NotStarted => "not_started",
            Status::OnTrack => "on_track",
            Status::AtRisk => "at_risk",
            Status::Realised => "realised",
            Status::Missed => "missed",
        }
    }
}

/// A benefit's status, why, and where its trend goes.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct Assessment {
    pub status: Status,
    /// The reason, in a sentence.
    pub why: String,
    /// On track: the day (`YYYY-MM-DD`) the trend reaches the target.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub reaches_on: Option<String>,
    /// At risk: where the trend is on the target date, rounded as the
    /// baseline and target are.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub projected: Option<Amount>,
}

/// A `YYYY-MM-DD` date as a day number (days since the common era), to
/// measure between dates and draw them on a time axis.
pub fn day_number(d: &str) -> Option<i64> {
    NaiveDate::parse_from_str(d, "%Y-%m-%d")
        .ok()
        .map(|d| i64::from(chrono::Datelike::num_days_from_ce(&d)))
}

fn date_of(n: i64) -> Option<NaiveDate> {
    NaiveDate::from_num_days_from_ce_opt(i32::try_from(n).ok()?)
}

/// A date as a sentence says it: "30 Jun 2027".
pub fn spoken(date: &str) -> String {
    NaiveDate::parse_from_str(date, "%Y-%m-%d")
        .map(|d| d.format("%-d %b %Y").to_string())
        .unwrap_or_else(|_| date.to_string())
}

/// How many decimal places `a` is written with.
fn places(a: Amount) -> u32 {
    a.to_string()
        .split_once('.')
        .map_or(0, |(_, f)| f.len() as u32)
}

impl Amount {
    /// Rounded to `places` decimal places (at most [`DECIMALS`]).
    pub fn rounded(self, places: u32) -> Self {
        let unit = 10_i64.pow(DECIMALS - places.min(DECIMALS));
        Amount((self.0 as f64 / unit as f64).round() as i64 * unit)
    }
}

/// The least-squares line through `points` (day, value), or `None` when
/// they all share one day.
pub fn fit(points: &[(f64, f64)]) -> Option<(f64, f64)> {
    let n = points.len() as f64;
    if points.len() < 2 {
        return None;
    }
    let mx = points.iter().map(|p| p.0).sum::<f64>() / n;
    let my = points.iter().map(|p| p.1).sum::<f64>() / n;
    let sxx: f64 = points.iter().map(|p| (p.0 - mx).powi(2)).sum();
    if sxx == 0.0 {
        return None;
    }
    let sxy: f64 = points.iter().map(|p| (p.0 - mx) * (p.1 - my)).sum();
    let slope = sxy / sxx;
    Some((slope, my - slope * mx))
}

/// The status of `b` on `today` (`YYYY-MM-DD`, the programme's calendar).
pub fn assess(b: &Benefit, today: &str) -> Assessment {
    let plain = |status, why: String| Assessment {
        status,
        why,
        reaches_on: None,
        projected: None,
    };
    let (Some(base), Some(target)) = (&b.plan.baseline, &b.plan.target) else {
        return plain(
            Status::NotStarted,
            "It has no baseline and target yet, so it cannot be measured.".into(),
        );
    };
    let rising = target.value > base.value;
    let reached = |v: Amount| {
        if rising {
            v >= target.value
        } else {
            v <= target.value
        }
    };
    let show = |v: Amount| b.show(v);
    let readings = b.counted(today);
    let ahead = b.effective().len() - readings.len();
    let later = match ahead {
        0 => String::new(),
        1 => " (A reading dated after today counts from its date.)".to_string(),
        n => format!(" ({n} readings dated after today count from their dates.)"),
    };
    let goal = format!("{} by {}", show(target.value), spoken(&target.date));
    if let Some(last) = readings.last()
        && reached(last.value)
    {
        let late = if last.date > target.date {
            format!(
                ", later than planned: the target of {} was due by {}",
                show(target.value),
                spoken(&target.date)
            )
        } else {
            format!(" the target of {goal}")
        };
        return plain(
            Status::Realised,
            format!(
                "The latest reading, {} on {}, reaches{late}.{later}",
                show(last.value),
                spoken(&last.date)
            ),
        );
    }
    if today > target.date.as_str() {
        let latest = readings.last().map_or_else(
            || "there is no reading".to_string(),
            |r| {
                format!(
                    "the latest reading is {} on {}",
                    show(r.value),
                    spoken(&r.date)
                )
            },
        );
        return plain(
            Status::Missed,
            format!("The target date has passed and {latest}; the target was {goal}.{later}"),
        );
    }
    let (Some(x0), Some(xt)) = (day_number(&base.date), day_number(&target.date)) else {
        return plain(Status::NotStarted, "Its dates cannot be read.".into());
    };
    let mut points = vec![(0.0, base.value.as_f64())];
    for r in &readings {
        if let Some(x) = day_number(&r.date) {
            points.push(((x - x0) as f64, r.value.as_f64()));
        }
    }
    let fitted = points
        .iter()
        .any(|p| p.0 > 0.0)
        .then(|| fit(&points))
        .flatten();
    let Some((slope, intercept)) = fitted else {
        return plain(
            Status::NotStarted,
            format!("There is no reading after the baseline date yet.{later}"),
        );
    };
    let n = readings.len();
    let rate = format!(
        "At the rate of the readings so far (a straight line through the baseline and {n} reading{})",
        if n == 1 { "" } else { "s" }
    );
    let toward = if rising { slope > 0.0 } else { slope < 0.0 };
    if toward {
        let reach = ((target.value.as_f64() - intercept) / slope).ceil() as i64;
        if reach <= xt - x0
            && let Some(on) = date_of(x0 + reach)
        {
            let on = on.format("%Y-%m-%d").to_string();
            // The trend said it would be there by now, and no reading shows it.
            if on.as_str() < today {
                return Assessment {
                    status: Status::AtRisk,
                    why: format!(
                        "{rate}, it would have reached {} around {}, but no reading shows it: record a new reading.{later}",
                        show(target.value),
                        spoken(&on)
                    ),
                    reaches_on: None,
                    projected: None,
                };
            }
            return Assessment {
                status: Status::OnTrack,
                why: format!(
                    "{rate}, it reaches {} around {}, by its target date of {}.{later}",
                    show(target.value),
                    spoken(&on),
                    spoken(&target.date)
                ),
                reaches_on: Some(on),
                projected: None,
            };
        }
    }
    let projected = Amount::from_f64(slope * (xt - x0) as f64 + intercept)
        .rounded(places(base.value).max(places(target.value)));
    let why = if toward {
        format!(
            "{rate}, it reaches only {} by {}: the target is {}.{later}",
            show(projected),
            spoken(&target.date),
            show(target.value)
        )
    } else {
        format!("The readings so far move away from the target of {goal}, or stay level.{later}")
    };
    Assessment {
        status: Status::AtRisk,
        why,
        reaches_on: None,
        projected: Some(projected),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn amount(s: &str, unit: Option<&str>) -> Result<String, String> {
        Amount::parse("value", s, unit)
            .map(|a| a.to_string())
            .map_err(|e| e.to_string())
    }

    #[test]
    fn amounts_read_as_people_write_them() {
        assert_eq!(amount("12", None).unwrap(), "12");
        assert_eq!(amount(" -12.50 ", None).unwrap(), "-12.5");
        assert_eq!(amount("1,250,000.25", None).unwrap(), "1250000.25");
        assert_eq!(amount("12 hours", Some("hours")).unwrap(), "12");
        assert_eq!(amount("12 Hours", Some("hours")).unwrap(), "12");
        assert_eq!(amount("35%", Some("%")).unwrap(), "35");
        assert_eq!(amount("$1,200", Some("$")).unwrap(), "1200");
        assert_eq!(amount(".5", None).unwrap(), "0.5");
        assert!(
            amount("12 days", Some("hours"))
                .unwrap_err()
                .contains("not a number of hours")
        );
        assert!(amount("twelve", None).unwrap_err().contains("not a number"));
        assert!(
            amount("1.23456", None)
                .unwrap_err()
                .contains("decimal places")
        );
        assert!(amount("12,34", None).unwrap_err().contains("groups"));
        assert!(
            amount("99999999999999", None)
                .unwrap_err()
                .contains("too large")
        );
        assert!(amount("", None).unwrap_err().contains("give a number"));
        assert!(amount("-", None).is_err());
        assert!(amount(".", None).is_err());
        assert!(amount("1e5", None).is_err());
        // A unit that looks like part of a number never changes it.
        assert_eq!(amount("-5", Some("-")).unwrap(), "-5");
        assert_eq!(amount(".5", Some(".")).unwrap(), "0.5");
        assert_eq!(amount("\u{2212}5", None).unwrap(), "-5");
        assert_eq!(amount("\u{2013}5 hours", Some("hours")).unwrap(), "-5");
    }

    #[test]
    fn amounts_show_grouped_with_their_unit() {
        let a = Amount::parse("v", "-1250000.5", None).unwrap();
        assert_eq!(a.with_unit(Some("hours")), "-1,250,000.5 hours");
        assert_eq!(a.with_unit(Some("$")), "-$1,250,000.5");
        assert_eq!(a.rounded(0).to_string(), "-1250001");
        assert_eq!(
            Amount::parse("v", "2.345", None)
                .unwrap()
                .rounded(2)
                .to_string(),
            "2.35"
        );
        assert_eq!(Amount::parse("v", "-$1,250,000.5", Some("$")).unwrap(), a);
        assert!(Amount::parse("v", "-$-5", Some("$")).is_err());
        assert_eq!(Amount::whole(35).with_unit(Some("%")), "35%");
        assert_eq!(Amount::whole(100).with_unit(None), "100");
        let json = serde_json::to_string(&a).unwrap();
        assert_eq!(json, "\"-1250000.5\"");
        assert_eq!(serde_json::from_str::<Amount>(&json).unwrap(), a);
        assert!(serde_json::from_str::<Amount>("\"ten\"").is_err());
    }

    fn input(b: (&str, &str), t: (&str, &str)) -> PlanInput {
        fn o<const N: usize>(s: &str) -> Option<Line<N>> {
            (!s.is_empty()).then(|| s.into())
        }
        PlanInput {
            unit: Some("hours".into()),
            baseline: o(b.0),
            baseline_date: o(b.1),
            target: o(t.0),
            target_date: o(t.1),
            owner: None,
        }
    }

    fn fields(r: Result<Plan, Vec<DomainError>>) -> Vec<&'static str> {
        r.unwrap_err()
            .iter()
            .map(|e| match e {
                DomainError::Invalid { field, .. } => *field,
                _ => "",
            })
            .collect()
    }

    #[test]
    fn a_plan_names_every_problem_at_once() {
        assert!(plan(&input(("100", "2026-01-01"), ("50", "2026-12-31"))).is_ok());
        assert_eq!(
            fields(plan(&input(("100", "2026-06-01"), ("50", "2026-01-01")))),
            ["target_date"]
        );
        assert_eq!(
            fields(plan(&input(("ten", "2026-13-01"), ("50 days", "")))),
            ["baseline", "baseline_date", "target_date"]
        );
        assert_eq!(
            fields(plan(&input(("", ""), ("50", "2026-01-01")))),
            ["baseline"]
        );
        assert_eq!(
            fields(plan(&input(("50", "2026-01-01"), ("50", "2026-02-01")))),
            ["target"]
        );
        let mut digits = input(("", ""), ("", ""));
        digits.unit = Some("2 hours".into());
        assert_eq!(fields(plan(&digits)), ["unit"]);
        for sign in ["-", ".", ",", "+ -", "\u{2212}", "\u{2013}"] {
            digits.unit = Some(sign.into());
            assert_eq!(fields(plan(&digits)), ["unit"], "{sign}");
        }
    }

    fn benefit(readings: &[(&str, i64)]) -> Benefit {
        Benefit {
            text: "Less time on patching".into(),
            measure: None,
            plan: Plan {
                unit: Some("hours".into()),
                baseline: Some(Point {
                    value: Amount::whole(100),
                    date: "2026-01-01".into(),
                }),
                target: Some(Point {
                    value: Amount::whole(50),
                    date: "2026-11-28".into(),
                }),
                owner: None,
            },
            readings: readings
                .iter()
                .map(|(d, v)| Reading {
                    value: Amount::whole(*v),
                    date: (*d).into(),
                    note: None,
                    by: PersonId(1),
                    at: Timestamp(0),
                })
                .collect(),
            source: None,
        }
    }

    #[test]
    fn the_status_follows_the_readings() {
        let status = |b: &Benefit, today| assess(b, today).status;
        assert_eq!(status(&benefit(&[]), "2026-02-01"), Status::NotStarted);
        // Halfway in time, more than halfway down: on track.
        let on = benefit(&[("2026-06-15", 70)]);
        assert_eq!(status(&on, "2026-06-20"), Status::OnTrack);
        let a = assess(&on, "2026-06-20");
        assert!(a.why.contains("reaches 50 hours around"), "{}", a.why);
        assert!(a.reaches_on.as_deref() < Some("2026-11-28"), "{a:?}");
        // Halfway in time, a quarter of the way: at risk, and where it gets to.
        let slow = assess(&benefit(&[("2026-06-15", 88)]), "2026-06-20");
        assert_eq!(slow.status, Status::AtRisk);
        assert!(slow.why.contains("reaches only"), "{}", slow.why);
        assert!(slow.projected.is_some_and(|p| p > Amount::whole(50)));
        // Halfway in time, barely moved: at risk.
        assert_eq!(
            status(&benefit(&[("2026-06-15", 95)]), "2026-06-20"),
            Status::AtRisk
        );
        // Moving the wrong way: at risk.
        assert_eq!(
            status(&benefit(&[("2026-06-15", 120)]), "2026-06-20"),
            Status::AtRisk
        );
        // Reached: realised, even after the date.
        assert_eq!(
            status(&benefit(&[("2026-06-15", 50)]), "2027-06-20"),
            Status::Realised
        );
        // The date passed short of the target: missed.
        assert_eq!(
            status(&benefit(&[("2026-06-15", 70)]), "2026-11-29"),
            Status::Missed
        );
        assert_eq!(status(&benefit(&[]), "2026-11-29"), Status::Missed);
        // A second reading for a date replaces the first.
        let corrected = benefit(&[("2026-06-15", 50), ("2026-06-15", 95)]);
        assert_eq!(corrected.effective().len(), 1);
        assert_eq!(status(&corrected, "2026-06-20"), Status::AtRisk);
        // On track once, but the day it should have got there has passed.
        assert_eq!(status(&on, "2026-11-01"), Status::AtRisk);
        assert!(
            assess(&on, "2026-11-01")
                .why
                .contains("record a new reading")
        );
        // A reading dated after today does not count yet.
        let ahead = benefit(&[("2026-06-15", 40)]);
        assert_eq!(status(&ahead, "2026-06-01"), Status::NotStarted);
        assert!(
            assess(&ahead, "2026-06-01")
                .why
                .contains("dated after today")
        );
        // Reached after the date: realised, and said to be late.
        let late = assess(&benefit(&[("2026-12-15", 45)]), "2026-12-20");
        assert_eq!(late.status, Status::Realised);
        assert!(late.why.contains("later than planned"), "{}", late.why);
        // A reading on the baseline date shows no trend yet.
        assert_eq!(
            status(&benefit(&[("2026-01-01", 90)]), "2026-01-02"),
            Status::NotStarted
        );
    }

    #[test]
    fn a_rising_target_is_reached_from_below() {
        let mut b = benefit(&[("2026-03-01", 40)]);
        b.plan.baseline = Some(Point {
            value: Amount::whole(10),
            date: "2026-01-01".into(),
        });
        b.plan.target = Some(Point {
            value: Amount::whole(40),
            date: "2026-12-01".into(),
        });
        assert_eq!(assess(&b, "2026-03-02").status, Status::Realised);
    }
}
