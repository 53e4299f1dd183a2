//! Surveys: what a definition must hold, what an answer must be, the
//! phases, who manages and who sees results, and the results' sums.

use waymark_core::DomainError;
use waymark_core::survey::{
    self, Answer, Definition, Phase, Question, QuestionKind, answers, check, tally,
};

use crate::{AGENCY, OTHER_AGENCY, admin, member, other_member, partner, staff};

fn q(kind: QuestionKind, text: &str, required: bool, choices: &[&str]) -> Question {
    Question {
        kind,
        text: text.into(),
        hint: String::new(),
        required,
        choices: choices.iter().map(|c| c.to_string()).collect(),
    }
}

fn definition() -> Definition {
    Definition {
        title: "How is it going?".into(),
        intro: "Five minutes.".into(),
        anonymous: true,
        opens_on: "2027-01-04".into(),
        closes_on: "2027-01-29".into(),
        questions: vec![
            q(QuestionKind::Rating, "Rate the desktop", true, &[]),
            q(QuestionKind::Nps, "Recommend it?", true, &[]),
            q(
                QuestionKind::Single,
                "Your stage",
                false,
                &["Discovery", "Deploy"],
            ),
            q(
                QuestionKind::Multiple,
                "Services used",
                false,
                &["Portal", "Articles", "Mailbox"],
            ),
            q(QuestionKind::Text, "Anything else?", false, &[]),
        ],
    }
}

fn fields(errors: &[DomainError]) -> Vec<&'static str> {
    errors
        .iter()
        .map(|e| match e {
            DomainError::Invalid { field, .. } => *field,
            _ => "not a field error",
        })
        .collect()
}

fn message(errors: &[DomainError], field: &str) -> String {
    errors
        .iter()
        .find_map(|e| match e {
            DomainError::Invalid { field: f, message } if *f == field => Some(message.clone()),
            _ => None,
        })
        .unwrap_or_else(|| panic!("no error for {field} in {errors:?}"))
}

#[test]
fn a_good_definition_is_kept_trimmed() {
    let mut d = definition();
    d.title = "  How is it going?  ".into();
    d.questions[2].choices.push("   ".into());
    let kept = check(&d).expect("a good definition");
    assert_eq!(kept.title, "How is it going?");
    assert_eq!(kept.questions[2].choices, ["Discovery", "Deploy"]);
}

#[test]
fn every_problem_of_a_definition_is_named_at_once() {
    let mut d = definition();
    d.title = " ".into();
    d.opens_on = "2027-02-01".into();
    d.closes_on = "2027-01-01".into();
    d.questions[0].choices = vec!["no".into()];
    d.questions[2].choices = vec!["Only one".into()];
    d.questions[3].choices = vec!["Same".into(), "same".into()];
    d.questions[4].text = "x".repeat(301);
    let errors = check(&d).unwrap_err();
    assert_eq!(
        fields(&errors),
        ["title", "closes_on", "q1", "q3", "q4", "q5"],
        "{errors:?}"
    );
    assert!(message(&errors, "closes_on").contains("1 Feb 2027"));
    assert!(message(&errors, "q1").contains("no choices of its own"));
    assert!(message(&errors, "q3").contains("at least two choices"));
    assert!(message(&errors, "q4").contains("“same” twice"));
    assert!(message(&errors, "q5").contains("at most 300 characters"));
}

#[test]
fn a_draft_may_ask_nothing_yet_but_is_sent_with_questions_and_at_most_forty() {
    let mut d = definition();
    d.questions.clear();
    let kept = check(&d).expect("a draft with no questions yet");
    let not_ready = survey::ready(&kept, "2027-01-10").unwrap_err();
    assert!(not_ready.to_string().contains("at least one question"));
    assert!(survey::ready(&definition(), "2027-01-10").is_ok());
    // Not once its close date has passed.
    let late = survey::ready(&definition(), "2027-01-30").unwrap_err();
    assert!(late.to_string().contains("closed on 29 Jan 2027"), "{late}");
    d.questions = vec![q(QuestionKind::Text, "Why?", false, &[]); 41];
    let errors = check(&d).unwrap_err();
    assert!(message(&errors, "questions").contains("at most 40"));
}

#[test]
fn dates_must_be_dates() {
    let mut d = definition();
    d.opens_on = "next week".into();
    let errors = check(&d).unwrap_err();
    assert!(message(&errors, "opens_on").contains("not a date"));
}

#[test]
fn the_bundled_template_is_a_good_survey() {
    let d = survey::template("2027-01-04", "2027-01-29").expect("it reads");
    let kept = check(&d).expect("the template passes every check");
    assert_eq!(kept.title, "Protected Utility survey");
    assert!(kept.anonymous);
    let kinds: Vec<QuestionKind> = kept.questions.iter().map(|q| q.kind).collect();
    for k in QuestionKind::ALL {
        assert!(kinds.contains(&k), "the template asks no {k:?} question");
    }
}

fn given(values: &[&[&str]]) -> Vec<Vec<String>> {
    values
        .iter()
        .map(|v| v.iter().map(|s| s.to_string()).collect())
        .collect()
}

#[test]
fn answers_are_read_by_kind() {
    let d = definition();
    let a = answers(
        &d,
        &given(&[&["4"], &["10"], &["1"], &["2", "0", "2"], &["  Good  "]]),
    )
    .unwrap();
    assert_eq!(
        a,
        [
            Answer::Score(4),
            Answer::Score(10),
            Answer::Choice(1),
            Answer::Choices(vec![0, 2]),
            Answer::Text("Good".into()),
        ]
    );
    let a = answers(&d, &given(&[&["1"], &["0"]])).unwrap();
    assert_eq!(a[2..], [Answer::Skipped, Answer::Skipped, Answer::Skipped]);
}

#[test]
fn every_bad_answer_is_named_by_its_question() {
    let d = definition();
    let errors = answers(
        &d,
        &given(&[&["6"], &[], &["3"], &["0", "9"], &[&"x".repeat(100_000)]]),
    )
    .unwrap_err();
    assert_eq!(fields(&errors), ["q1", "q2", "q3", "q4", "q5"]);
    assert_eq!(message(&errors, "q1"), "choose a number from 1 to 5");
    assert_eq!(
        message(&errors, "q2"),
        "answer this question: it is required"
    );
    assert_eq!(message(&errors, "q3"), "choose from the choices listed");
    assert!(message(&errors, "q5").contains("at most 5000 characters, and this has 100000"));
    let errors = answers(&d, &given(&[&["1", "2"], &["x"]])).unwrap_err();
    assert_eq!(message(&errors, "q1"), "choose one answer");
    assert_eq!(message(&errors, "q2"), "choose a number from 0 to 10");
}

#[test]
fn a_required_text_of_spaces_is_empty() {
    let mut d = definition();
    d.questions[4].required = true;
    let errors = answers(&d, &given(&[&["1"], &["1"], &[], &[], &["   "]])).unwrap_err();
    assert_eq!(fields(&errors), ["q5"]);
}

#[test]
fn more_answers_than_questions_is_refused() {
    let d = definition();
    let errors = answers(&d, &vec![vec!["1".to_string()]; 6]).unwrap_err();
    assert!(message(&errors, "answers").contains("asks 5 questions"));
}

#[test]
fn phases_follow_the_dates_in_the_programme_zone() {
    let d = definition();
    assert_eq!(Phase::of(false, false, &d, "2027-01-10"), Phase::Draft);
    assert_eq!(Phase::of(true, false, &d, "2027-01-03"), Phase::Scheduled);
    assert_eq!(Phase::of(true, false, &d, "2027-01-04"), Phase::Open);
    assert_eq!(Phase::of(true, false, &d, "2027-01-29"), Phase::Open);
    assert_eq!(Phase::of(true, false, &d, "2027-01-30"), Phase::Closed);
    assert_eq!(Phase::of(true, true, &d, "2027-01-10"), Phase::Closed);
    let closed = survey::may_answer(Phase::Closed, &d, false).unwrap_err();
    assert!(closed.to_string().contains("closed on 29 Jan 2027"));
    // Closed early, it says so rather than naming a date still to come.
    let early = survey::may_answer(Phase::Closed, &d, true).unwrap_err();
    assert!(
        early.to_string().contains("has closed this survey"),
        "{early}"
    );
    let later = survey::may_answer(Phase::Scheduled, &d, false).unwrap_err();
    assert!(later.to_string().contains("opens on 4 Jan 2027"));
    assert_eq!(
        survey::may_answer(Phase::Draft, &d, false),
        Err(DomainError::NotFound)
    );
}

#[test]
fn a_close_date_moves_only_to_today_or_later() {
    let d = definition();
    let err = survey::check_close(&d, "2027-01-09", "2027-01-10").unwrap_err();
    assert!(err.to_string().contains("10 Jan 2027"));
    assert_eq!(
        survey::check_close(&d, "2027-02-10", "2027-01-10").unwrap(),
        "2027-02-10"
    );
    assert!(survey::check_close(&d, "2027-01-01", "2026-12-01").is_err());
}

#[test]
fn only_the_programme_manages_and_agencies_see_their_own_results() {
    assert!(survey::may_manage(&staff()).is_ok());
    assert!(survey::may_manage(&admin()).is_ok());
    for a in [member(), partner(), other_member()] {
        assert!(survey::may_manage(&a).is_err());
    }
    assert!(survey::may_see_results(&staff(), None));
    assert!(survey::may_see_results(&member(), Some(AGENCY)));
    assert!(!survey::may_see_results(&member(), Some(OTHER_AGENCY)));
    assert!(!survey::may_see_results(&member(), None));
    assert!(!survey::may_see_results(&other_member(), Some(AGENCY)));
    assert!(!survey::may_see_results(&partner(), Some(AGENCY)));
}

#[test]
fn results_count_means_and_net_promoter_score() {
    let d = definition();
    let rs = [
        vec![
            Answer::Score(5),
            Answer::Score(10),
            Answer::Choice(0),
            Answer::Choices(vec![0, 2]),
            Answer::Text("More training".into()),
        ],
        vec![
            Answer::Score(4),
            Answer::Score(9),
            Answer::Skipped,
            Answer::Choices(vec![2]),
            Answer::Skipped,
        ],
        vec![
            Answer::Score(4),
            Answer::Score(3),
            Answer::Choice(1),
            Answer::Skipped,
            Answer::Text("More training".into()),
        ],
    ];
    let r = tally(&d, rs.iter().map(Vec::as_slice));
    assert_eq!(r.responses, 3);
    let rating = &r.questions[0];
    assert_eq!(rating.mean.as_deref(), Some("4.3"));
    assert_eq!(
        rating.counts.iter().map(|c| c.count).collect::<Vec<_>>(),
        [0, 0, 0, 2, 1]
    );
    // Two promoters and one detractor of three: 33.
    assert_eq!(r.questions[1].nps, Some(33));
    assert_eq!(r.questions[1].counts.len(), 11);
    assert_eq!((r.questions[2].answered, r.questions[2].skipped), (2, 1));
    assert_eq!(
        r.questions[3]
            .counts
            .iter()
            .map(|c| c.count)
            .collect::<Vec<_>>(),
        [1, 0, 2]
    );
    assert_eq!(r.questions[4].texts.len(), 2);
    assert_eq!(r.withheld, None);
    let rows = survey::rows(&r);
    assert!(rows.contains(&[
        "5".into(),
        "Anything else?".into(),
        "More training".into(),
        "2".into()
    ]));
    assert!(rows.contains(&[
        "3".into(),
        "Your stage".into(),
        "(left empty)".into(),
        "1".into()
    ]));
}

#[test]
fn the_score_rounds_half_away_from_zero() {
    let d = Definition {
        questions: vec![q(QuestionKind::Nps, "Recommend?", true, &[])],
        ..definition()
    };
    let score = |vs: &[u8]| {
        let rs: Vec<Vec<Answer>> = vs.iter().map(|v| vec![Answer::Score(*v)]).collect();
        tally(&d, rs.iter().map(Vec::as_slice)).questions[0].nps
    };
    assert_eq!(score(&[0, 0, 0, 0, 0, 0, 0, 9]), Some(-75));
    assert_eq!(score(&[9, 7, 7, 7, 7, 7, 7, 7]), Some(13));
    assert_eq!(score(&[6, 10]), Some(0));
    assert_eq!(score(&[]), None);
}

#[test]
fn answers_that_do_not_fit_count_as_skipped() {
    let d = definition();
    let odd = [vec![
        Answer::Choice(1),
        Answer::Score(99),
        Answer::Choice(7),
        Answer::Text("x".into()),
    ]];
    let r = tally(&d, odd.iter().map(Vec::as_slice));
    assert!(
        r.questions
            .iter()
            .all(|q| q.answered == 0 && q.skipped == 1)
    );
}

#[test]
fn anonymous_results_wait_for_three_answers_and_for_agencies_the_close() {
    let d = definition();
    let why = survey::withheld(&d, 2, true, Phase::Open).unwrap();
    assert!(
        why.contains("at least 3 people") && why.contains("2 so far"),
        "{why}"
    );
    assert_eq!(survey::withheld(&d, 3, true, Phase::Open), None);
    let agency = survey::withheld(&d, 3, false, Phase::Open).unwrap();
    assert!(
        agency.contains("once the survey closes after 29 Jan 2027"),
        "{agency}"
    );
    assert_eq!(survey::withheld(&d, 3, false, Phase::Closed), None);
    assert!(survey::withheld(&d, 2, false, Phase::Closed).is_some());
    // A named survey's results show from the first answer.
    let named = Definition {
        anonymous: false,
        ..definition()
    };
    assert_eq!(survey::withheld(&named, 1, false, Phase::Open), None);
}

#[test]
fn free_text_answers_are_not_kept_in_the_order_they_came() {
    let d = Definition {
        questions: vec![q(QuestionKind::Text, "Anything?", false, &[])],
        ..definition()
    };
    let rs: Vec<Vec<Answer>> = ["zebra", "apple", "mango"]
        .iter()
        .map(|t| vec![Answer::Text((*t).into())])
        .collect();
    let r = tally(&d, rs.iter().map(Vec::as_slice));
    assert_eq!(r.questions[0].texts, ["apple", "mango", "zebra"]);
}

#[test]
fn results_from_kept_counts_match_a_tally_and_say_what_text_was_left_out() {
    let d = definition();
    let rs = [
        vec![
            Answer::Score(5),
            Answer::Score(10),
            Answer::Choice(0),
            Answer::Choices(vec![0, 2]),
            Answer::Text("b".into()),
        ],
        vec![
            Answer::Score(3),
            Answer::Score(2),
            Answer::Skipped,
            Answer::Skipped,
            Answer::Text("a".into()),
        ],
    ];
    let mut counts = std::collections::BTreeMap::new();
    let mut texts = Vec::new();
    for r in &rs {
        let m = survey::marks(&d, r);
        for c in m.counts {
            *counts.entry(c).or_insert(0u64) += 1;
        }
        texts.extend(m.texts);
    }
    // Each question counts once per response: a value, several choices, a
    // text, or skipped.
    assert_eq!(counts.get(&(2, survey::SKIPPED)), Some(&1));
    assert_eq!(counts.get(&(3, 2)), Some(&1));
    let counts: Vec<(usize, i64, u64)> = counts.into_iter().map(|((q, v), n)| (q, v, n)).collect();
    texts.sort();
    assert_eq!(
        survey::results(&d, 2, &counts, texts.clone()),
        tally(&d, rs.iter().map(Vec::as_slice))
    );
    // Shown one of two: the other is said to be left out.
    let shown = survey::results(&d, 2, &counts, texts[..1].to_vec());
    assert_eq!(
        (
            shown.questions[4].texts.len(),
            shown.questions[4].texts_left_out
        ),
        (1, 1)
    );
}
