//! Surveys on both backends: drafts, sending with single-use tokens, one
//! answer per token, who sees what, the chain, and anonymity checked over
//! every table of the database, the outbox included.

use sqlx::Row;
use waymark_core::survey::{Answer, Audience, Definition, Phase, Question, QuestionKind};
use waymark_core::*;
use waymark_store::{Mail, Store, StoreError};

use crate::{NOW, World, stores, world};

/// A day later than `NOW` (2025-11-22), inside the survey's dates.
const DURING: Timestamp = Timestamp(NOW.0 + 86_400);

fn definition(anonymous: bool) -> Definition {
    Definition {
        title: "How is it going?".into(),
        intro: String::new(),
        anonymous,
        opens_on: "2025-11-20".into(),
        closes_on: "2025-12-20".into(),
        questions: vec![
            Question {
                kind: QuestionKind::Rating,
                text: "Rate the desktop".into(),
                hint: String::new(),
                required: true,
                choices: Vec::new(),
            },
            Question {
                kind: QuestionKind::Text,
                text: "Anything else?".into(),
                hint: String::new(),
                required: false,
                choices: Vec::new(),
            },
        ],
    }
}

fn mail(p: &Person, _: &Definition, token: &str) -> Mail {
    Mail {
        kind: "survey_invitation".into(),
        to: p.email.as_str().into(),
        subject: "Your views".into(),
        body: format!("Dear {},\n\nhttps://waymark.test/answer/{token}\n", p.name),
        ..Default::default()
    }
}

fn given(values: &[&str]) -> Vec<Vec<String>> {
    values
        .iter()
        .map(|v| {
            if v.is_empty() {
                Vec::new()
            } else {
                vec![v.to_string()]
            }
        })
        .collect()
}

/// The tokens in the outbox's unsent invitations, by recipient.
async fn tokens(s: &Store) -> Vec<(String, String, i64)> {
    sqlx::query(
        "SELECT recipient, body, id FROM outbox WHERE kind = 'survey_invitation' ORDER BY id",
    )
    .fetch_all(s.pool())
    .await
    .unwrap()
    .iter()
    .filter_map(|r| {
        let body: String = r.get(1);
        let token = body
            .split("/answer/")
            .nth(1)?
            .split_whitespace()
            .next()?
            .to_string();
        Some((r.get::<String, _>(0), token, r.get::<i64, _>(2)))
    })
    .collect()
}

/// A second member of the agency, so an engagement survey invites two.
async fn second_member(w: &World) -> Actor {
    let p = w
        .store
        .add_person(
            &NewPerson::parse("Noah Member", "noah@dta.gov.au").unwrap(),
            NOW,
        )
        .await
        .unwrap();
    w.store
        .add_role(
            p,
            Role::AgencyMember {
                agency: w.agency,
                sponsor: false,
            },
        )
        .await
        .unwrap();
    w.store.actor(p).await.unwrap()
}

async fn sent_engagement_survey(w: &World, anonymous: bool) -> (i64, Engagement) {
    second_member(w).await;
    let e = w.start().await;
    let id = w
        .store
        .create_survey(
            &w.staff,
            &definition(anonymous),
            Audience::Engagement { engagement: e.id },
            NOW,
        )
        .await
        .unwrap();
    let n = w
        .store
        .send_survey(&w.staff, id, &mail, DURING)
        .await
        .unwrap();
    // The agency's two members; never the programme.
    assert_eq!(n, 2);
    (id, e)
}

#[tokio::test]
async fn only_the_programme_builds_and_a_sent_survey_keeps_its_questions() {
    for store in stores("surveys-build").await {
        let w = world(store).await;
        let e = w.start().await;
        let audience = Audience::Engagement { engagement: e.id };
        assert!(matches!(
            w.store
                .create_survey(&w.member, &definition(true), audience, NOW)
                .await,
            Err(StoreError::Domain(DomainError::Forbidden { .. }))
        ));
        // Every problem at once; an engagement that does not exist.
        let mut bad = definition(true);
        bad.title = String::new();
        bad.closes_on = "2025-01-01".into();
        match w.store.create_survey(&w.staff, &bad, audience, NOW).await {
            Err(StoreError::Fields(p)) => assert_eq!(p.len(), 2, "{p:?}"),
            other => panic!("{other:?}"),
        }
        let nowhere = Audience::Engagement {
            engagement: EngagementId(9_999),
        };
        assert!(matches!(
            w.store
                .create_survey(&w.staff, &definition(true), nowhere, NOW)
                .await,
            Err(StoreError::Domain(DomainError::Invalid {
                field: "audience",
                ..
            }))
        ));
        // A draft with no questions yet is kept, and cannot be sent.
        let mut empty = definition(true);
        empty.questions.clear();
        let id = w
            .store
            .create_survey(&w.staff, &empty, audience, NOW)
            .await
            .unwrap();
        assert!(matches!(
            w.store.send_survey(&w.staff, id, &mail, DURING).await,
            Err(StoreError::Domain(DomainError::Invalid {
                field: "questions",
                ..
            }))
        ));
        let row = w.store.survey(&w.staff, id, NOW).await.unwrap();
        assert_eq!((row.phase, row.version), (Phase::Draft, 1));
        // A stale version is refused; the current one changes it.
        assert!(matches!(
            w.store
                .change_survey(&w.staff, id, 0, &definition(true), NOW)
                .await,
            Err(StoreError::Domain(DomainError::Conflict { .. }))
        ));
        w.store
            .change_survey(&w.staff, id, 1, &definition(true), NOW)
            .await
            .unwrap();
        assert!(matches!(
            w.store
                .change_survey(&w.staff, id, 2, &definition(true), NOW)
                .await,
            Err(StoreError::Domain(DomainError::Rule(_)))
        ));
        w.store
            .send_survey(&w.staff, id, &mail, DURING)
            .await
            .unwrap();
        let mut again = definition(true);
        again.title = "Changed after sending".into();
        let err = w
            .store
            .change_survey(&w.staff, id, 3, &again, NOW)
            .await
            .unwrap_err();
        assert!(err.to_string().contains("stay as they were asked"), "{err}");
        // Sending again invites only newcomers; with none, it says so.
        let err = w
            .store
            .send_survey(&w.staff, id, &mail, DURING)
            .await
            .unwrap_err();
        assert!(err.to_string().contains("invited already"), "{err}");
        second_member(&w).await;
        assert_eq!(
            w.store
                .send_survey(&w.staff, id, &mail, DURING)
                .await
                .unwrap(),
            1
        );
        // The chain holds every change, and verifies.
        let history = w.store.survey_history(&w.staff, id).await.unwrap();
        let kinds: Vec<&str> = history.iter().map(|h| h.event.kind()).collect();
        assert_eq!(
            kinds,
            [
                "survey_created",
                "survey_changed",
                "survey_sent",
                "survey_sent"
            ]
        );
        let v = w.store.verify().await.unwrap();
        assert_eq!((v.surveys, v.survey_events), (1, 4));
        assert!(v.intact(), "{v:?}");
        // Made named behind the chain's back: found.
        sqlx::query("UPDATE surveys SET definition = REPLACE(definition, '\"anonymous\":true', '\"anonymous\":false')")
            .execute(w.store.pool())
            .await
            .unwrap();
        let v = w.store.verify().await.unwrap();
        assert_eq!(v.broken_surveys.len(), 1, "{v:?}");
        assert!(v.broken_surveys[0].reason.contains("anonymity"), "{v:?}");
        // A survey whose close date has passed is not sent.
        let late = w
            .store
            .create_survey(&w.staff, &definition(true), audience, NOW)
            .await
            .unwrap();
        let err = w
            .store
            .send_survey(&w.staff, late, &mail, Timestamp(NOW.0 + 90 * 86_400))
            .await
            .unwrap_err();
        assert!(err.to_string().contains("closed on 20 Dec 2025"), "{err}");
    }
}

#[tokio::test]
async fn a_token_takes_one_answer_while_the_survey_is_open() {
    for store in stores("surveys-answer").await {
        let w = world(store).await;
        let (id, _) = sent_engagement_survey(&w, false).await;
        let t = tokens(&w.store).await;
        let (mia, token, _) = t.iter().find(|t| t.0 == "mia@dta.gov.au").unwrap();
        assert_eq!(mia, "mia@dta.gov.au");
        // A required question left empty, and 100 KB of text: both named.
        let huge = "x".repeat(100_000);
        match w
            .store
            .answer_invitation(token, &given(&["", &huge]), DURING)
            .await
        {
            Err(StoreError::Fields(p)) => {
                let fields: Vec<String> = p
                    .iter()
                    .map(|e| match e {
                        DomainError::Invalid { field, .. } => field.to_string(),
                        other => other.to_string(),
                    })
                    .collect();
                assert_eq!(fields, ["q1", "q2"]);
            }
            other => panic!("{other:?}"),
        }
        // Nothing was kept: the token still takes its answer.
        w.store
            .answer_invitation(token, &given(&["4", "Good"]), DURING)
            .await
            .unwrap();
        let twice = w
            .store
            .answer_invitation(token, &given(&["5", ""]), DURING)
            .await
            .unwrap_err();
        assert!(
            twice.to_string().contains("already been answered"),
            "{twice}"
        );
        assert!(w.store.invitation(token, DURING).await.unwrap().answered);
        // A token that is no invitation is not found.
        assert!(matches!(
            w.store.invitation("not-a-token", DURING).await,
            Err(StoreError::Domain(DomainError::NotFound))
        ));
        // Named: the answer keeps its person.
        let person: Option<i64> =
            sqlx::query_scalar("SELECT person_id FROM survey_responses WHERE survey_id = $1")
                .bind(id)
                .fetch_one(w.store.pool())
                .await
                .unwrap();
        assert_eq!(person, Some(w.member.person.0));
        // After its close date, or closed early, no answer is taken.
        let (_, noah_token, _) = t.iter().find(|t| t.0 == "noah@dta.gov.au").unwrap();
        let late = Timestamp(NOW.0 + 60 * 86_400);
        let closed = w
            .store
            .answer_invitation(noah_token, &given(&["3", ""]), late)
            .await
            .unwrap_err();
        assert!(
            closed.to_string().contains("closed on 20 Dec 2025"),
            "{closed}"
        );
        w.store
            .close_survey(&w.staff, id, None, DURING)
            .await
            .unwrap();
        assert!(
            w.store
                .answer_invitation(noah_token, &given(&["3", ""]), DURING)
                .await
                .is_err()
        );
        // Moving the close date opens it again; not to a day gone by.
        let err = w
            .store
            .close_survey(&w.staff, id, Some("2025-11-01"), DURING)
            .await
            .unwrap_err();
        assert!(err.to_string().contains("23 Nov 2025"), "{err}");
        w.store
            .close_survey(&w.staff, id, Some("2025-12-31"), DURING)
            .await
            .unwrap();
        w.store
            .answer_invitation(noah_token, &given(&["3", ""]), DURING)
            .await
            .unwrap();
        let (row, results) = w
            .store
            .survey_results(&w.staff, id, None, DURING)
            .await
            .unwrap();
        assert_eq!((row.responses, row.invited, row.answered), (2, 2, 2));
        assert_eq!(results.questions[0].mean.as_deref(), Some("3.5"));
        assert_eq!(results.questions[1].texts, ["Good"]);
        // An export carries it all to either backend, chain intact, and a
        // used token stays used.
        let x = w.store.export().await.unwrap();
        for target in stores("surveys-import").await {
            target.import(&x).await.unwrap();
            let (copy, again) = target
                .survey_results(&w.staff, id, None, DURING)
                .await
                .unwrap();
            assert_eq!((copy, again), (row.clone(), results.clone()));
            let v = target.verify().await.unwrap();
            assert!(v.intact() && v.surveys == 1, "{v:?}");
            assert!(target.invitation(token, DURING).await.unwrap().answered);
            // New surveys after an import take new ids (PostgreSQL's
            // sequences moved).
            let next = target
                .create_survey(&w.staff, &definition(true), Audience::Community, NOW)
                .await
                .unwrap();
            assert_eq!(next, id + 1);
        }
        // The results' counts are what the responses give: forged, found.
        assert!(w.store.verify().await.unwrap().intact());
        sqlx::query("UPDATE survey_counts SET n = n + 50 WHERE question = 0")
            .execute(w.store.pool())
            .await
            .unwrap();
        let v = w.store.verify().await.unwrap();
        assert!(
            v.broken_surveys[0].reason.contains("counts or words"),
            "{v:?}"
        );
        // Responses chain one after another: one removed is found, even
        // with the counts put right behind it.
        sqlx::query("UPDATE survey_counts SET n = n - 50 WHERE question = 0")
            .execute(w.store.pool())
            .await
            .unwrap();
        assert!(w.store.verify().await.unwrap().intact());
        sqlx::query("DELETE FROM survey_responses WHERE seq = 1")
            .execute(w.store.pool())
            .await
            .unwrap();
        let v = w.store.verify().await.unwrap();
        assert!(
            v.broken_surveys[0]
                .reason
                .contains("missing, out of order or changed"),
            "{v:?}"
        );
    }
}

/// An anonymous survey stays closed once closed: its results before and
/// after a late answer would show what the answer said. And an answer
/// leaves the unsent messages alone, so they do not mark whose it was.
#[tokio::test]
async fn an_anonymous_survey_stays_closed_and_answers_leave_the_outbox_alone() {
    for store in stores("surveys-closed").await {
        let w = world(store).await;
        let (id, _) = sent_engagement_survey(&w, true).await;
        let t = tokens(&w.store).await;
        w.store
            .answer_invitation(&t[0].1, &given(&["4", ""]), DURING)
            .await
            .unwrap();
        let unsent: Vec<Option<String>> = sqlx::query_scalar(
            "SELECT secret FROM outbox WHERE kind = 'survey_invitation' ORDER BY id",
        )
        .fetch_all(w.store.pool())
        .await
        .unwrap();
        assert!(unsent.iter().all(Option::is_some), "{unsent:?}");
        w.store
            .close_survey(&w.staff, id, None, DURING)
            .await
            .unwrap();
        let err = w
            .store
            .close_survey(&w.staff, id, Some("2025-12-31"), DURING)
            .await
            .unwrap_err();
        assert!(err.to_string().contains("stays closed"), "{err}");
    }
}

#[tokio::test]
async fn an_agency_sees_its_own_engagements_results_and_nothing_else() {
    for store in stores("surveys-scope").await {
        let w = world(store).await;
        let (id, _) = sent_engagement_survey(&w, true).await;
        let community = w
            .store
            .create_survey(&w.staff, &definition(true), Audience::Community, NOW)
            .await
            .unwrap();
        w.store
            .send_survey(&w.staff, community, &mail, DURING)
            .await
            .unwrap();
        let mine: Vec<i64> = w
            .store
            .surveys(&w.member, DURING)
            .await
            .unwrap()
            .iter()
            .map(|s| s.id)
            .collect();
        assert_eq!(mine, [id]);
        assert!(
            w.store
                .survey_results(&w.member, id, None, DURING)
                .await
                .is_ok()
        );
        for (who, survey) in [
            (&w.other, id),
            (&w.member, community),
            (&w.other, community),
        ] {
            assert!(matches!(
                w.store.survey_results(who, survey, None, DURING).await,
                Err(StoreError::Domain(DomainError::NotFound))
            ));
        }
        assert!(w.store.survey_history(&w.member, id).await.is_err());
        assert!(w.store.surveys(&w.other, DURING).await.unwrap().is_empty());
        // The community survey invited every active person, the programme
        // too.
        let (row, _) = w
            .store
            .survey_results(&w.staff, community, None, DURING)
            .await
            .unwrap();
        assert_eq!(row.invited, 4);
        // The public key is the programme's to see.
        let public = w
            .store
            .create_survey(&w.staff, &definition(true), Audience::Public, NOW)
            .await
            .unwrap();
        assert_eq!(
            w.store
                .send_survey(&w.staff, public, &mail, DURING)
                .await
                .unwrap(),
            0
        );
        let key = w
            .store
            .survey(&w.staff, public, DURING)
            .await
            .unwrap()
            .public_key
            .unwrap();
        let q = w.store.public_survey(&key, DURING).await.unwrap();
        assert_eq!(q.phase, Phase::Open);
        w.store
            .answer_public(&key, Some(w.member.person), &given(&["5", ""]), DURING)
            .await
            .unwrap();
        let person: Option<i64> =
            sqlx::query_scalar("SELECT person_id FROM survey_responses WHERE survey_id = $1")
                .bind(public)
                .fetch_one(w.store.pool())
                .await
                .unwrap();
        assert_eq!(person, None, "an anonymous public answer keeps no person");
        // A named public survey takes one answer from each person signed
        // in, whatever their browser says; signed out, it keeps no one.
        let named = w
            .store
            .create_survey(&w.staff, &definition(false), Audience::Public, NOW)
            .await
            .unwrap();
        w.store
            .send_survey(&w.staff, named, &mail, DURING)
            .await
            .unwrap();
        let key = w
            .store
            .survey(&w.staff, named, DURING)
            .await
            .unwrap()
            .public_key
            .unwrap();
        let mia = Some(w.member.person);
        w.store
            .answer_public(&key, mia, &given(&["5", ""]), DURING)
            .await
            .unwrap();
        let twice = w
            .store
            .answer_public(&key, mia, &given(&["4", ""]), DURING)
            .await
            .unwrap_err();
        assert!(
            twice.to_string().contains("one answer from each person"),
            "{twice}"
        );
        for _ in 0..2 {
            w.store
                .answer_public(&key, None, &given(&["3", ""]), DURING)
                .await
                .unwrap();
        }
        let (row, _) = w
            .store
            .survey_results(&w.staff, named, None, DURING)
            .await
            .unwrap();
        assert_eq!(row.responses, 3);
    }
}

/// Every cell of every table, as text: (table, column, value).
pub(crate) async fn every_cell(s: &Store) -> Vec<(String, String, String)> {
    every_cell_by_row(s)
        .await
        .into_iter()
        .map(|((t, _), c, v)| (t, c, v))
        .collect()
}

/// Every cell of every table with its row: ((table, row), column, value).
async fn every_cell_by_row(s: &Store) -> Vec<((String, usize), String, String)> {
    let postgres = matches!(s.backend(), waymark_store::Backend::Postgres);
    let tables: Vec<String> = if postgres {
        sqlx::query(
            "SELECT CAST(table_name AS TEXT) FROM information_schema.tables WHERE table_schema = current_schema() AND table_type = 'BASE TABLE'",
        )
    } else {
        sqlx::query("SELECT name FROM sqlite_master WHERE type = 'table' AND name NOT LIKE 'sqlite_%'")
    }
    .fetch_all(s.pool())
    .await
    .unwrap()
    .iter()
    .map(|r| r.get::<String, _>(0))
    .collect();
    assert!(tables.iter().any(|t| t == "outbox"));
    let mut out = Vec::new();
    for t in tables {
        let columns: Vec<String> = if postgres {
            sqlx::query(
                "SELECT CAST(column_name AS TEXT) FROM information_schema.columns WHERE table_schema = current_schema() AND table_name = $1",
            )
            .bind(&t)
        } else {
            sqlx::query("SELECT name FROM pragma_table_info($1)").bind(&t)
        }
        .fetch_all(s.pool())
        .await
        .unwrap()
        .iter()
        .map(|r| r.get::<String, _>(0))
        .collect();
        // Bytes (a file's) as hex: SQLite's `hex()` in capitals,
        // PostgreSQL's bytea as `\x…` in small letters.
        let select = columns
            .iter()
            .map(|c| {
                if postgres {
                    format!("CAST(\"{c}\" AS TEXT)")
                } else {
                    format!("CASE WHEN typeof(\"{c}\") = 'blob' THEN hex(\"{c}\") ELSE CAST(\"{c}\" AS TEXT) END")
                }
            })
            .collect::<Vec<_>>()
            .join(", ");
        for (n, r) in sqlx::query(&format!("SELECT {select} FROM \"{t}\""))
            .fetch_all(s.pool())
            .await
            .unwrap()
            .into_iter()
            .enumerate()
        {
            for (i, c) in columns.iter().enumerate() {
                if let Some(v) = r.get::<Option<String>, _>(i) {
                    out.push(((t.clone(), n), c.clone(), v));
                }
            }
        }
    }
    out
}

#[tokio::test]
async fn nothing_in_any_table_links_an_anonymous_answer_to_its_person_or_token() {
    for store in stores("surveys-anonymous").await {
        let w = world(store).await;
        let (id, _) = sent_engagement_survey(&w, true).await;
        let t = tokens(&w.store).await;
        let (_, mia_token, mia_mail) = t.iter().find(|t| t.0 == "mia@dta.gov.au").unwrap().clone();
        let (_, noah_token, noah_mail) =
            t.iter().find(|t| t.0 == "noah@dta.gov.au").unwrap().clone();
        // Both invitations are sent (Mia answers from hers): the outbox
        // forgets each token then. Noah's is refused for good by his
        // server, which forgets it too.
        w.store.mail_sent(mia_mail, DURING).await.unwrap();
        w.store
            .mail_refused(noah_mail, "550 no such mailbox", DURING)
            .await
            .unwrap();
        let marker = "A marker only the first answer holds";
        let answered_at = Timestamp(DURING.0 + 4_321);
        w.store
            .answer_invitation(&mia_token, &given(&["2", marker]), answered_at)
            .await
            .unwrap();
        let cells = every_cell(&w.store).await;
        // Neither token is anywhere, the outbox included.
        for token in [&mia_token, &noah_token] {
            let hex: String = token.bytes().map(|b| format!("{b:02x}")).collect();
            let found: Vec<_> = cells
                .iter()
                .filter(|c| {
                    let lower = c.2.to_lowercase();
                    c.2.contains(token.as_str()) || lower.contains(&hex)
                })
                .collect();
            assert!(found.is_empty(), "a usable token is kept: {found:?}");
        }
        for mail in [mia_mail, noah_mail] {
            let forgotten: String = sqlx::query_scalar("SELECT body FROM outbox WHERE id = $1")
                .bind(mail)
                .fetch_one(w.store.pool())
                .await
                .unwrap();
            assert!(forgotten.contains("removed once sent"), "{forgotten}");
        }
        // The answer is in its response's row (its survey, its day and its
        // answers) and, for the results, in the free-text row kept with it
        // (its survey, its question and its words): no person, no token or
        // its hash, no time.
        let mut holding: Vec<(&str, &str)> = cells
            .iter()
            .filter(|c| c.2.contains(marker))
            .map(|c| (c.0.as_str(), c.1.as_str()))
            .collect();
        holding.sort_unstable();
        assert_eq!(
            holding,
            [("survey_responses", "answers"), ("survey_texts", "text")]
        );
        let words: Vec<(i64, i64)> = sqlx::query("SELECT survey_id, question FROM survey_texts")
            .fetch_all(w.store.pool())
            .await
            .unwrap()
            .iter()
            .map(|r| (r.get(0), r.get(1)))
            .collect();
        assert_eq!(words, [(id, 1)]);
        let row = sqlx::query(
            "SELECT CAST(id AS TEXT), CAST(survey_id AS TEXT), answered_on, CAST(person_id AS TEXT), answers FROM survey_responses WHERE survey_id = $1",
        )
        .bind(id)
        .fetch_one(w.store.pool())
        .await
        .unwrap();
        let values: Vec<Option<String>> = (0..5).map(|i| row.get(i)).collect();
        assert_eq!(values[1].as_deref(), Some(id.to_string().as_str()));
        assert_eq!(values[2].as_deref(), Some(today(answered_at).as_str()));
        assert_eq!(values[3], None);
        let hash = {
            use sha2::Digest;
            let d = sha2::Sha256::digest(mia_token.as_bytes());
            d.iter().map(|b| format!("{b:02x}")).collect::<String>()
        };
        for v in values.iter().flatten() {
            assert!(!v.contains(&hash) && !v.contains(&mia_token));
            assert!(!v.contains("mia@") && !v.contains("Mia"));
        }
        let answers: Vec<Answer> = serde_json::from_str(values[4].as_deref().unwrap()).unwrap();
        assert_eq!(answers, [Answer::Score(2), Answer::Text(marker.into())]);
        // No cell anywhere holds the moment it was answered, to the second
        // or the minute: not a log, a chain, a count or a session.
        let second = answered_at.0.to_string();
        let minute = (answered_at.0 / 60).to_string();
        let timed: Vec<_> = cells
            .iter()
            .filter(|c| c.2 == second || c.2 == minute || c.2.contains(&format!("\"at\":{second}")))
            .collect();
        assert!(timed.is_empty(), "the answer's time is kept: {timed:?}");
        // The chain says nothing of answers.
        let history = w.store.survey_history(&w.staff, id).await.unwrap();
        assert_eq!(history.last().unwrap().event.kind(), "survey_sent");
        // The invitations say who was invited, not who answered; the
        // tokens say one was used, not whose it was: no row anywhere holds
        // both Mia and her token's hash.
        let tokens: Vec<(Option<i64>, i64)> =
            sqlx::query("SELECT person_id, used FROM survey_tokens WHERE survey_id = $1")
                .bind(id)
                .fetch_all(w.store.pool())
                .await
                .unwrap()
                .iter()
                .map(|r| (r.get(0), r.get(1)))
                .collect();
        assert_eq!(tokens.len(), 2);
        assert!(tokens.iter().all(|t| t.0.is_none()), "{tokens:?}");
        assert_eq!(tokens.iter().filter(|t| t.1 == 1).count(), 1);
        let mut rows: std::collections::BTreeMap<(String, usize), Vec<String>> = Default::default();
        for (row, _, value) in every_cell_by_row(&w.store).await {
            rows.entry(row).or_default().push(value);
        }
        let mia = w.member.person.0.to_string();
        for ((table, _), values) in &rows {
            let has_hash = values.iter().any(|v| v == &hash);
            let has_mia = values.iter().any(|v| v == &mia);
            assert!(
                !(has_hash && has_mia),
                "{table} joins Mia to her token: {values:?}"
            );
        }
        let (row, _) = w
            .store
            .survey_results(&w.staff, id, None, DURING)
            .await
            .unwrap();
        assert_eq!((row.invited, row.answered, row.responses), (2, 1, 1));
    }
}
