//! Removing a person's personal data at their request, on every backend:
//! their address and full name are put in every kind of place (their
//! account, an enquiry they sent and its conversation, mail to them, a
//! workshop that invited them and their calendar's answer, a comment about
//! them, the sign-in limit's keys, a token, a second factor, a webhook's
//! delivery), and after the removal no table, export or backup holds
//! either, while `audit verify` still passes and names no broken record.

use sqlx::Row;
use waymark_core::discussion::Anchor;
use waymark_core::mailbox::{Answer, CalendarReply};
use waymark_core::*;
use waymark_store::{Parsed, StoreError, Taken};

use crate::{NOW, stores, world};

const EMAIL: &str = "mia@dta.gov.au";
const NAME: &str = "Mia Member";

/// Every place that still holds `needle` (any case), as text or as bytes.
async fn holders(s: &waymark_store::Store, needle: &str) -> Vec<String> {
    let hex_lower: String = needle.bytes().map(|b| format!("{b:02x}")).collect();
    crate::surveys::every_cell(s)
        .await
        .into_iter()
        .filter(|(_, _, v)| {
            // Whole occurrences, as a removal finds them (not inside
            // someone else's address), or as bytes.
            waymark_store::scrub(v, &[needle.to_string()]).is_some()
                || v.to_lowercase().contains(&hex_lower)
        })
        .map(|(t, c, v)| format!("{t}.{c}: {}", v.chars().take(200).collect::<String>()))
        .collect()
}

#[tokio::test]
async fn a_removed_person_leaves_no_trace_and_the_audit_still_verifies() {
    for store in stores("removal").await {
        let w = world(store).await;
        let s = &w.store;
        let admin = w.admin();
        crate::webhook_for_everything(s, &admin).await;
        // An enquiry she sent by mail, acknowledged, with her reply.
        let mut first =
            crate::mailbox::message("req-1@dta.gov.au", "Mia@DTA.gov.au", "Help us", &[]);
        first.headers = format!("From: {NAME} <Mia@DTA.gov.au>\r\nSubject: Help us");
        if let Parsed::Message { enquiry, .. } = &mut first.parsed {
            enquiry.contact_name = NAME.into();
            enquiry.body = format!("Regards,\n{NAME}\n{EMAIL}");
        }
        let ack = |e: &waymark_store::NewEnquiry| waymark_store::Mail {
            kind: "enquiry_acknowledgement".into(),
            to: e.contact_email.clone(),
            subject: "We have your request".into(),
            body: format!("Thanks, {}", e.contact_name),
            thread: Some(waymark_store::MailThread {
                message_id: "ack-1@dta.gov.au".into(),
                ..Default::default()
            }),
            ..Default::default()
        };
        let Taken::Enquiry { enquiry } = s.take_mail(&first, Some(&ack), NOW).await.unwrap() else {
            panic!("not an enquiry");
        };
        let reply = crate::mailbox::message(
            "re-1@dta.gov.au",
            EMAIL,
            "Re: We have your request",
            &["ack-1@dta.gov.au"],
        );
        assert!(matches!(
            s.take_mail(&reply, None, NOW).await.unwrap(),
            Taken::Conversation { .. }
        ));
        s.reply_to_enquiry(
            &admin,
            enquiry,
            &format!("Dear {NAME}, thanks").into(),
            "programme@dta.gov.au",
            "DTA",
            NOW,
        )
        .await
        .unwrap();
        // A workshop that invites her, her calendar's answer, and a comment.
        let e = w.start().await;
        let plan = WorkshopPlan {
            retro: false,
            title: "Initial workshop".into(),
            date: "2026-12-01".into(),
            time: "10:00".into(),
            timezone: "Australia/Canberra".into(),
            minutes: 90,
            location: Some("Canberra".into()),
            link: None,
            agenda: format!("{NAME} presents").into(),
            attendees: vec![
                Attendee {
                    email: EMAIL.into(),
                    name: Some(NAME.into()),
                    person: None,
                },
                Attendee {
                    email: "jordan@records.gov.au".into(),
                    name: Some("Jordan Keeps".into()),
                    person: None,
                },
            ],
        };
        let e = s
            .execute(
                &w.staff,
                e.id,
                e.version,
                &Command::ScheduleWorkshop { id: None, plan },
                NOW,
            )
            .await
            .unwrap();
        let mut yes =
            crate::mailbox::message("cal-1@dta.gov.au", EMAIL, "Accepted: Initial workshop", &[]);
        if let Parsed::Message { calendar, .. } = &mut yes.parsed {
            *calendar = Some(CalendarReply {
                uid: format!("workshop-{}-1@waymark.example", e.id.0),
                attendee: EMAIL.into(),
                answer: Answer::Accepted,
            });
        }
        assert!(matches!(
            s.take_mail(&yes, None, NOW).await.unwrap(),
            Taken::Attendance { .. }
        ));
        let e = s.engagement(&w.staff, e.id).await.unwrap();
        w.comment(
            &e,
            &format!("Ask {NAME} ({EMAIL}, once mia.old@dta.gov.au) first"),
        )
        .await;
        // Someone whose address and name hold hers.
        let ana = s
            .add_person(
                &NewPerson::parse("Amia Members", "ana.mia@dta.gov.au").unwrap(),
                NOW,
            )
            .await
            .unwrap();
        // Mail waiting for her, and for Ana.
        for to in [EMAIL, "ana.mia@dta.gov.au"] {
            s.queue_mail(
                &[waymark_store::Mail {
                    kind: "notice".into(),
                    to: to.into(),
                    subject: "Waiting".into(),
                    body: "A notice".into(),
                    ..Default::default()
                }],
                NOW,
            )
            .await
            .unwrap();
        }
        // Sign-in state and credentials.
        s.record_sign_in_failure(&format!("account:{EMAIL}"), NOW)
            .await
            .unwrap();
        s.create_token(w.member.person, "hers", NOW).await.unwrap();
        assert!(s.verify().await.unwrap().intact());
        let before = holders(s, EMAIL).await;
        for place in [
            "people.email",
            "enquiries.contact_email",
            "events.payload",
            "outbox.recipient",
            "enquiry_messages.sender",
        ] {
            assert!(
                before.iter().any(|h| h.starts_with(place)),
                "{place} not in {before:#?}"
            );
        }

        // Only another programme admin may.
        for who in [&w.member, &w.staff] {
            assert!(matches!(
                s.remove_personal_data(who, w.member.person, &[], NOW).await,
                Err(StoreError::Domain(DomainError::Forbidden { .. }))
            ));
        }
        let mia = Actor {
            person: w.member.person,
            roles: vec![Role::ProgrammeAdmin],
        };
        assert!(
            s.remove_personal_data(&mia, w.member.person, &[], NOW)
                .await
                .is_err()
        );
        // An earlier address she gives must be one; a one-word name is
        // too common to search for.
        for bad in ["mia.old@", "Mia"] {
            assert!(matches!(
                s.remove_personal_data(&admin, w.member.person, &[bad.to_string()], NOW)
                    .await,
                Err(StoreError::Domain(DomainError::Invalid {
                    field: "also",
                    ..
                }))
            ));
        }
        let done = s
            .remove_personal_data(
                &admin,
                w.member.person,
                &["mia.old@dta.gov.au".to_string()],
                NOW,
            )
            .await
            .unwrap();
        assert!(done.rows_changed > 5 && done.redacted >= 3, "{done:?}");
        assert!(matches!(
            s.remove_personal_data(&admin, w.member.person, &[], NOW)
                .await,
            Err(StoreError::Duplicate { .. })
        ));

        // No trace, in any case or as bytes, of her address or her name.
        for needle in [EMAIL, &NAME.to_lowercase(), "mia.old@dta.gov.au"] {
            let left = holders(s, needle).await;
            assert!(left.is_empty(), "{needle} is still in {left:#?}");
        }
        // Her waiting mail is given up; Ana's still goes.
        let outbox = s.outbox(&admin, 100).await.unwrap();
        let waiting = |to: &str| {
            outbox
                .iter()
                .filter(|m| m.subject == "Waiting" && m.recipient == to)
                .map(|m| m.gave_up_at.is_some())
                .collect::<Vec<_>>()
        };
        assert_eq!(waiting("ana.mia@dta.gov.au"), [false]);
        assert_eq!(waiting(waymark_store::MARK), [true]);
        // Others' details stay, even where they hold hers.
        assert!(!holders(s, "jordan@records.gov.au").await.is_empty());
        let ana = s.person(ana).await.unwrap().unwrap();
        assert_eq!(
            (ana.name.as_str(), ana.email.as_str()),
            ("Amia Members", "ana.mia@dta.gov.au")
        );
        // The audit still verifies: every chain, the enquiry's content and
        // its conversation.
        let v = s.verify().await.unwrap();
        assert!(v.intact(), "{v:?}");
        // Her account is deactivated, named as removed, and cannot be
        // brought back.
        let p = s.person(w.member.person).await.unwrap().unwrap();
        assert_eq!(p.name, waymark_store::REMOVED_NAME);
        assert!(p.deactivated_at.is_some());
        assert!(s.reactivate_person(&admin, w.member.person).await.is_err());
        // Nor her details put back.
        assert!(matches!(
            s.correct_person(
                &admin,
                w.member.person,
                &NewPerson::parse(NAME, EMAIL).unwrap(),
                NOW
            )
            .await,
            Err(StoreError::Domain(DomainError::Forbidden { .. }))
        ));
        assert!(s.tokens_of(w.member.person).await.unwrap().is_empty());
        // The removal is recorded: whose, by whom, when.
        let removals = s.person_removals().await.unwrap();
        assert_eq!(removals.len(), 1);
        assert_eq!(
            (removals[0].person, removals[0].removed_by),
            (w.member.person.0, admin.person.0)
        );
        // An export made now holds neither, and another database made from
        // it verifies, with her still removed.
        let x = s.export().await.unwrap();
        let export = serde_json::to_string(&x).unwrap().to_lowercase();
        let gone = |text: &str| {
            waymark_store::scrub(text, &[EMAIL.to_string(), "mia member".to_string()]).is_none()
        };
        assert!(gone(&export));
        // A backup made now holds neither, anywhere in its bytes.
        let file = std::env::temp_dir().join(format!(
            "waymark-removal-{:?}-{}.backup",
            s.backend(),
            std::process::id()
        ));
        let _ = std::fs::remove_file(&file);
        s.backup(&file).await.unwrap();
        let bytes = std::fs::read(&file).unwrap();
        assert!(
            gone(&String::from_utf8_lossy(&bytes)),
            "the backup holds it"
        );
        let _ = std::fs::remove_file(&file);
        for copy in stores("removal-copy").await {
            copy.import(&x).await.unwrap();
            let v = copy.verify().await.unwrap();
            assert!(v.intact() && v.redacted == done.redacted as usize, "{v:?}");
            assert!(
                copy.reactivate_person(&admin, w.member.person)
                    .await
                    .is_err()
            );
        }
        // A later change to a redacted event is still found.
        let done = sqlx::query(
            "UPDATE events SET payload = replace(payload, 'Initial workshop', 'Changed') \
             WHERE engagement_id = $1 AND payload LIKE '%removed at the person%' AND payload LIKE '%Initial workshop%'",
        )
        .bind(e.id.0)
        .execute(s.pool())
        .await
        .unwrap();
        assert!(done.rows_affected() > 0);
        let v = s.verify().await.unwrap();
        assert!(!v.intact(), "{v:?}");
        // Put back, then change who did a redacted event, or add a
        // redaction to hide a change: each is found.
        sqlx::query("UPDATE events SET payload = replace(payload, 'Changed', 'Initial workshop') WHERE engagement_id = $1")
            .bind(e.id.0)
            .execute(s.pool())
            .await
            .unwrap();
        assert!(s.verify().await.unwrap().intact());
        let one = sqlx::query(
            "SELECT seq, actor_id FROM events WHERE engagement_id = $1 AND payload LIKE '%removed at the person%' ORDER BY seq",
        )
        .bind(e.id.0)
        .fetch_one(s.pool())
        .await
        .unwrap();
        let (seq, actor): (i64, i64) = (one.get(0), one.get(1));
        for (who, intact) in [(w.other.person.0, false), (actor, true)] {
            sqlx::query("UPDATE events SET actor_id = $3 WHERE engagement_id = $1 AND seq = $2")
                .bind(e.id.0)
                .bind(seq)
                .bind(who)
                .execute(s.pool())
                .await
                .unwrap();
            assert_eq!(s.verify().await.unwrap().intact(), intact);
        }
        sqlx::query(
            "INSERT INTO redactions (record_table, record_id, seq, sha256, removal_id) VALUES ('events', $1, 1, 'x', $2)",
        )
        .bind(e.id.0)
        .bind(removals[0].id)
        .execute(s.pool())
        .await
        .unwrap();
        let v = s.verify().await.unwrap();
        assert!(
            v.altered
                .iter()
                .any(|a| a.record.starts_with("removal of personal data")),
            "{v:?}"
        );
    }
}

/// Two removals that change one record: each keeps its redactions as it
/// wrote them, and the trail verifies after both.
#[tokio::test]
async fn two_removals_of_one_record_both_verify() {
    for store in stores("removal-twice").await {
        let w = world(store).await;
        let s = &w.store;
        let admin = w.admin();
        let una = s
            .add_person(&NewPerson::parse("Una One", "una@dta.gov.au").unwrap(), NOW)
            .await
            .unwrap();
        let tom = s
            .add_person(&NewPerson::parse("Tom Two", "tom@dta.gov.au").unwrap(), NOW)
            .await
            .unwrap();
        let e = w.start().await;
        w.comment(
            &e,
            "Una One (una@dta.gov.au) and Tom Two (tom@dta.gov.au) met",
        )
        .await;
        s.remove_personal_data(&admin, una, &[], NOW).await.unwrap();
        assert!(s.verify().await.unwrap().intact());
        s.remove_personal_data(&admin, tom, &[], NOW).await.unwrap();
        let v = s.verify().await.unwrap();
        assert!(v.intact() && v.removals == 2, "{v:?}");
    }
}

/// Two people of one name: removing one searches only their address, so
/// the other keeps their name everywhere.
#[tokio::test]
async fn a_namesake_keeps_their_name() {
    for store in stores("removal-namesake").await {
        let w = world(store).await;
        let s = &w.store;
        let admin = w.admin();
        let one = s
            .add_person(
                &NewPerson::parse("Sam Same", "sam.one@dta.gov.au").unwrap(),
                NOW,
            )
            .await
            .unwrap();
        let two = s
            .add_person(
                &NewPerson::parse("Sam  same", "sam.two@dta.gov.au").unwrap(),
                NOW,
            )
            .await
            .unwrap();
        let e = w.start().await;
        w.comment(
            &e,
            "Sam Same (sam.one@dta.gov.au) and Sam Same (sam.two@dta.gov.au)",
        )
        .await;
        s.remove_personal_data(&admin, one, &[], NOW).await.unwrap();
        assert_eq!(s.person(two).await.unwrap().unwrap().name, "Sam same");
        let cells = crate::surveys::every_cell(s).await;
        let comment = cells
            .iter()
            .find(|(t, c, v)| t == "events" && c == "payload" && v.contains("sam.two@dta.gov.au"))
            .expect("the comment");
        assert!(!comment.2.contains("sam.one@dta.gov.au"), "{}", comment.2);
        assert_eq!(comment.2.matches("Sam Same").count(), 2, "{}", comment.2);
        assert!(s.verify().await.unwrap().intact());
    }
}

/// A removal while commands land on the engagement it changes: every
/// acknowledged command stays, her address leaves the saved state too,
/// and the trail verifies.
#[tokio::test]
async fn a_removal_while_commands_land_loses_nothing() {
    for store in stores("removal-concurrent").await {
        let w = world(store).await;
        let s = w.store.clone();
        let admin = w.admin();
        let e = w.start().await;
        let e = w.comment(&e, &format!("Ask {EMAIL}")).await;
        // Her address in the saved state too (the workshop's guests), a
        // row every command rewrites.
        let plan = WorkshopPlan {
            retro: false,
            title: "Initial workshop".into(),
            date: "2026-12-01".into(),
            time: "10:00".into(),
            timezone: "Australia/Canberra".into(),
            minutes: 90,
            location: Some("Canberra".into()),
            link: None,
            agenda: "Sponsorship".into(),
            attendees: vec![Attendee {
                email: EMAIL.into(),
                name: None,
                person: None,
            }],
        };
        let e = s
            .execute(
                &w.staff,
                e.id,
                e.version,
                &Command::ScheduleWorkshop { id: None, plan },
                NOW,
            )
            .await
            .unwrap();
        let writer = {
            let s = s.clone();
            let staff = w.staff.clone();
            tokio::spawn(async move {
                let mut done = 0;
                for n in 0..30 {
                    let current = s.engagement(&staff, e.id).await.unwrap();
                    let body = format!("Comment {n} for {EMAIL}");
                    if s.execute(
                        &staff,
                        e.id,
                        current.version,
                        &Command::Comment {
                            about: Anchor::Engagement,
                            body: body.into(),
                        },
                        NOW,
                    )
                    .await
                    .is_ok()
                    {
                        done += 1;
                    }
                }
                done
            })
        };
        let removed = s
            .remove_personal_data(&admin, w.member.person, &[], NOW)
            .await;
        let done = writer.await.unwrap();
        // A removal that met a row changed under it says so and changes
        // nothing; tried again, it goes through.
        if removed.is_err() {
            s.remove_personal_data(&admin, w.member.person, &[], NOW)
                .await
                .unwrap();
        }
        let after = s.engagement(&w.staff, e.id).await.unwrap();
        // Every acknowledged comment is there: start, the first comment,
        // and each one done.
        assert_eq!(after.version as usize, 3 + done, "{done} done");
        let v = s.verify().await.unwrap();
        assert!(v.intact(), "{v:?}");
        // The saved state and the comment written before the removal lost
        // her address.
        let state = crate::surveys::every_cell(&s)
            .await
            .into_iter()
            .find(|(t, c, _)| t == "engagements" && c == "state")
            .unwrap()
            .2;
        assert!(!state.contains(EMAIL), "{state}");
        let payloads: Vec<String> = crate::surveys::every_cell(&s)
            .await
            .into_iter()
            .filter(|(t, c, _)| t == "events" && c == "payload")
            .map(|(_, _, v)| v)
            .collect();
        assert!(
            payloads
                .iter()
                .any(|p| p.contains("Ask [removed at the person's request]")),
            "{payloads:#?}"
        );
    }
}
