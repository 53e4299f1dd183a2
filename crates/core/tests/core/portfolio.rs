//! The portfolio's kept counts: what each command changes, and the
//! dashboard's figures from them.

use std::collections::BTreeMap;

use proptest::prelude::*;
use waymark_core::portfolio::{
    Chart, Extras, Key, Marks, Range, Row, Tally, changes, figures, month_from, month_of, quantile,
};
use waymark_core::*;

use crate::*;

/// 2024-03-10 in Canberra.
const MARCH: i64 = 1_710_000_000;
const DAY: i64 = 86_400;

/// Runs `cmd` and adds what it changes to `kept`, as the store does.
fn kept_run(kept: &mut Tally, e: &mut Engagement, actor: &Actor, cmd: Command, at: i64) {
    let before = Marks::of(e);
    let events = run(e, actor, cmd, at).unwrap();
    add_all(kept, changes(&before, e, &events, Timestamp(at)));
}

fn add_all(kept: &mut Tally, t: Tally) {
    for (k, n) in t {
        *kept.entry(k).or_default() += n;
    }
    kept.retain(|_, n| *n != 0);
}

fn rows(kept: &Tally) -> Vec<Row> {
    kept.iter()
        .map(|(k, n)| Row {
            chart: k.chart,
            month: k.month,
            key: k.key.clone(),
            bucket: k.bucket,
            n: *n,
        })
        .collect()
}

fn started(kept: &mut Tally, at: i64) -> Engagement {
    let mut e = Engagement::new(EngagementId(1), AGENCY);
    let events = start(model(), "hash", AGENCY, &staff(), Mode::DoItWithYou).unwrap();
    let before = Marks::of(&e);
    for ev in &events {
        e.apply(ev, STAFF, Timestamp(at));
    }
    e.version = 1;
    add_all(kept, changes(&before, &e, &events, Timestamp(at)));
    e
}

fn key(chart: Chart, month: i32, key: &str, bucket: i32) -> Key {
    Key {
        chart,
        month,
        key: key.into(),
        bucket,
    }
}

#[test]
fn a_journey_keeps_levels_flows_and_durations() {
    let mut kept = Tally::new();
    let mut e = started(&mut kept, MARCH);
    assert_eq!(month_of(Timestamp(MARCH)), 202403);
    assert_eq!(
        kept.get(&key(Chart::Active, 202403, "engagement", 0)),
        Some(&1)
    );
    assert_eq!(kept.get(&key(Chart::Diwy, 202403, "", 0)), Some(&1));
    assert_eq!(
        kept.get(&key(Chart::Reached, 202403, "engagement", 0)),
        Some(&1)
    );
    assert_eq!(
        kept.get(&key(Chart::Started, 202403, "do_it_with_you", 0)),
        Some(&1)
    );
    // Into Discovery 40 days later, funded by the DTA.
    let later = MARCH + 40 * DAY;
    kept_run(
        &mut kept,
        &mut e,
        &sponsor(),
        Command::Decide {
            stage: "engagement".into(),
            at: DecisionAt::Point { index: 0 },
            option: 0,
            rationale: "We need to understand our readiness first.".into(),
            funded_by: Funder::Dta,
            note: None,
        },
        later,
    );
    let april = month_of(Timestamp(later));
    assert_eq!(april, 202404);
    assert_eq!(
        kept.get(&key(Chart::Active, april, "discovery", 0)),
        Some(&1)
    );
    assert_eq!(kept.get(&key(Chart::Funding, april, "dta", 0)), Some(&1));
    assert_eq!(
        kept.iter()
            .filter(|(k, _)| k.chart == Chart::Decision && k.month == april)
            .count(),
        1
    );
    // Engagement stays active beside Discovery: no visit finished yet.
    assert_eq!(
        e.stage("engagement").map(|s| s.status),
        Some(StageStatus::Active)
    );
    assert!(!kept.keys().any(|k| k.chart == Chart::Weeks));
    // Completing it finishes a visit of 41 days: five whole weeks.
    let left = later + DAY;
    kept_run(
        &mut kept,
        &mut e,
        &staff(),
        Command::CompleteStage {
            stage: "engagement".into(),
        },
        left,
    );
    assert_eq!(
        kept.get(&key(Chart::Weeks, april, "engagement", 5)),
        Some(&1)
    );
    assert_eq!(
        kept.get(&key(Chart::Active, april, "engagement", 0)),
        Some(&-1)
    );
    let f = figures(
        model(),
        &rows(&kept),
        Range {
            from: 202402,
            to: 202405,
        },
        "2024-05-01",
        Extras {
            capacity: 6,
            ..Extras::default()
        },
    );
    assert_eq!(f.months, ["2024-02", "2024-03", "2024-04", "2024-05"]);
    let disc = f.by_stage.iter().find(|s| s.stage == "discovery").unwrap();
    assert_eq!(disc.active, [0, 0, 1, 1]);
    let load: Vec<(String, i64)> = f
        .capacity
        .quarters
        .iter()
        .map(|q| (q.quarter.clone(), q.active))
        .collect();
    assert_eq!(load, [("2024 Q1".into(), 1), ("2024 Q2".into(), 1)]);
    assert!(
        f.funnel
            .iter()
            .any(|t| t.key == "discovery" && t.count == 1)
    );
    assert_eq!(f.funding.iter().find(|t| t.key == "dta").unwrap().count, 1);
    // A range that ends before it started shows nothing active.
    let early = figures(
        model(),
        &rows(&kept),
        Range {
            from: 202401,
            to: 202402,
        },
        "2024-05-01",
        Extras::default(),
    );
    assert!(
        early
            .by_stage
            .iter()
            .all(|s| s.active.iter().all(|n| *n == 0))
    );
    assert!(early.funnel.iter().all(|t| t.count == 0));
}

#[test]
fn a_benefit_counts_by_its_target_month_and_once_realised() {
    let mut kept = Tally::new();
    let mut e = started(&mut kept, MARCH);
    kept_run(
        &mut kept,
        &mut e,
        &sponsor(),
        Command::AddBenefit {
            text: "Less time patching".into(),
            measure: None,
            plan: measured_plan(),
        },
        MARCH + DAY,
    );
    assert_eq!(kept.get(&key(Chart::BenefitDue, 202706, "", 0)), Some(&1));
    assert_eq!(kept.get(&key(Chart::BenefitRealised, 202706, "", 0)), None);
    for (value, day) in [("70", 2), ("45", 3), ("60", 4)] {
        kept_run(
            &mut kept,
            &mut e,
            &sponsor(),
            Command::RecordReading {
                id: 1,
                value: value.into(),
                date: format!("2026-0{day}-01").as_str().into(),
                note: None,
            },
            MARCH + day * DAY,
        );
        // Falling from 100 to 50: realised while the latest reading is at
        // or under 50, and no longer when a later one rises again.
        let realised = kept.get(&key(Chart::BenefitRealised, 202706, "", 0));
        assert_eq!(realised, (value == "45").then_some(&1), "after {value}");
    }
    let range = Range {
        from: 202701,
        to: 202712,
    };
    let f = figures(
        model(),
        &rows(&kept),
        range,
        "2027-08-01",
        Extras::default(),
    );
    assert_eq!(f.benefits.len(), 1);
    let q = &f.benefits[0];
    assert_eq!((q.quarter.as_str(), q.due, q.realised), ("2027 Q2", 1, 0));
    assert_eq!((q.missed, q.pending), (1, 0), "the quarter has passed");
    let f = figures(
        model(),
        &rows(&kept),
        range,
        "2027-05-01",
        Extras::default(),
    );
    assert_eq!((f.benefits[0].missed, f.benefits[0].pending), (0, 1));
}

#[test]
fn a_range_is_read_with_every_problem_named() {
    let now = Timestamp(MARCH);
    let r = Range::parse("", "", now).unwrap();
    assert_eq!((r.from, r.to), (202304, 202403));
    assert_eq!(r.months().len(), 12);
    let r = Range::parse("2023-11", "2024-02", now).unwrap();
    assert_eq!(r.months(), [202311, 202312, 202401, 202402]);
    let field = |r: Result<Range, Vec<DomainError>>| -> Vec<String> {
        r.unwrap_err()
            .into_iter()
            .map(|e| match e {
                DomainError::Invalid { field, message } => format!("{field}: {message}"),
                other => other.to_string(),
            })
            .collect()
    };
    let both = field(Range::parse("March", "2024-13", now));
    assert_eq!(both.len(), 2, "{both:?}");
    assert!(both[0].starts_with("from: give a month as YYYY-MM"));
    assert!(both[1].starts_with("to: "));
    let backwards = field(Range::parse("2024-05", "2024-01", now));
    assert!(backwards[0].contains("after the last"), "{backwards:?}");
    let long = field(Range::parse("2010-01", "2024-01", now));
    assert!(long[0].contains("at most 60 months"), "{long:?}");
    assert!(Range::parse("2024-01-05", "", now).is_err());
    let zero = field(Range::parse("0000-01", "2024-00", now));
    assert!(
        zero.iter().all(|p| p.contains("there is no such month")),
        "{zero:?}"
    );
    // A range into the future: the levels stop at this month.
    let ahead = figures(
        model(),
        &[],
        Range::parse("2024-01", "2024-12", now).unwrap(),
        "2024-03-10",
        Extras::default(),
    );
    assert_eq!(ahead.months, ["2024-01", "2024-02", "2024-03"]);
    assert!(Range::parse("2024-1", "", now).is_err());
}

#[test]
fn quantiles_by_nearest_rank() {
    let hist: BTreeMap<i32, i64> = [(2, 5), (4, 4), (9, 1)].into_iter().collect();
    assert_eq!(quantile(&hist, 0.5), Some(2));
    assert_eq!(quantile(&hist, 0.9), Some(4));
    assert_eq!(quantile(&hist, 1.0), Some(9));
    assert_eq!(quantile(&BTreeMap::new(), 0.5), None);
}

proptest! {
    #[test]
    fn a_quantile_is_a_value_with_that_share_at_or_below(
        values in proptest::collection::vec(0i32..60, 1..200), q in 0.01f64..=1.0,
    ) {
        let mut hist = BTreeMap::new();
        for v in &values {
            *hist.entry(*v).or_insert(0i64) += 1;
        }
        let got = quantile(&hist, q).unwrap();
        let mut sorted = values.clone();
        sorted.sort();
        let rank = ((q * sorted.len() as f64).ceil() as usize).clamp(1, sorted.len());
        prop_assert_eq!(got, sorted[rank - 1]);
    }

    #[test]
    fn months_round_trip(y in 1000i32..9999, m in 1i32..=12) {
        let text = format!("{y:04}-{m:02}");
        prop_assert_eq!(month_from(&text), Some(y * 100 + m));
        prop_assert_eq!(waymark_core::portfolio::month_text(y * 100 + m), text);
        let next = waymark_core::portfolio::next_month(y * 100 + m);
        prop_assert!(next > y * 100 + m && (1..=12).contains(&(next % 100)));
    }
}

#[test]
fn only_the_programme_sees_the_portfolio_and_sets_its_capacity() {
    use waymark_core::portfolio::{may_see, month_start, parse_capacity};
    assert!(may_see(&staff()).is_ok() && may_see(&admin()).is_ok());
    for a in [sponsor(), member(), partner()] {
        assert_eq!(may_see(&a), Err(DomainError::NotFound));
    }
    assert_eq!(parse_capacity(" 8 "), Ok(8));
    for bad in ["0", "501", "six", "-1", "2.5", ""] {
        assert!(parse_capacity(bad).is_err(), "{bad}");
    }
    // Midnight on 1 March 2024 in Canberra (daylight time, UTC+11).
    assert_eq!(month_start(202403), Timestamp(1_709_211_600));
    assert_eq!(month_of(month_start(202403)), 202403);
    assert_eq!(month_of(Timestamp(month_start(202403).0 - 1)), 202402);
}

#[test]
fn lessons_count_by_stage_and_kind() {
    let mut kept = Tally::new();
    let mut e = started(&mut kept, MARCH);
    kept_run(
        &mut kept,
        &mut e,
        &member(),
        Command::ScheduleWorkshop {
            id: None,
            plan: WorkshopPlan {
                retro: true,
                ..workshop_plan()
            },
        },
        MARCH + DAY,
    );
    let workshop = e.workshops[0].id;
    for (kind, stage) in [
        (waymark_core::lesson::LessonKind::ToImprove, "discovery"),
        (waymark_core::lesson::LessonKind::ToImprove, "discovery"),
        (waymark_core::lesson::LessonKind::WentWell, "engagement"),
    ] {
        kept_run(
            &mut kept,
            &mut e,
            &member(),
            Command::RecordLesson {
                workshop,
                kind,
                text: "Book the assessor early.".into(),
                stage: stage.into(),
                step: None,
            },
            MARCH + 2 * DAY,
        );
    }
    assert_eq!(
        kept.get(&key(Chart::Lesson, 202403, "discovery", 1)),
        Some(&2)
    );
    assert_eq!(
        kept.get(&key(Chart::Lesson, 202403, "engagement", 0)),
        Some(&1)
    );
    let f = figures(
        model(),
        &rows(&kept),
        Range {
            from: 202403,
            to: 202403,
        },
        "2024-03-31",
        Extras::default(),
    );
    let discovery = f.lessons.iter().find(|l| l.stage == "discovery").unwrap();
    assert_eq!((discovery.to_improve, discovery.went_well), (2, 0));
}
