//! Everything held about one person (a request under Australian Privacy
//! Principle 12), on every backend: what is there, what never is (secrets),
//! who may ask, and a walk of the schema that fails when a column naming
//! people is neither read nor explained.

use sqlx::Row;
use waymark_core::discussion::Anchor;
use waymark_core::*;
use waymark_store::{HOLDERS, Mail, NOT_PERSONAL, StoreError};

use crate::*;

#[tokio::test]
async fn a_person_downloads_what_is_held_about_them_and_nothing_secret() {
    for s in stores("privacy").await {
        let w = world(s).await;
        let s = &w.store;
        let mia = w.member.person;
        let e = w.start().await;
        s.set_password_hash(mia, "$argon2id$v=19$secret-hash")
            .await
            .unwrap();
        let token = s.create_token(mia, "jira", NOW).await.unwrap();
        s.create_session(
            "mia-session-id",
            "{\"csrf\":\"session-secret\"}",
            Timestamp(NOW.0 + 3600),
            Some(mia),
        )
        .await
        .unwrap();
        s.record_sign_in_failure("account:mia@dta.gov.au", NOW)
            .await
            .unwrap();
        s.record_sign_in_failure("pair:mia@dta.gov.au|10.1.2.0", NOW)
            .await
            .unwrap();
        s.record_sign_in_failure("pair:mia@dta.gov.au.evil|10.1.2.0", NOW)
            .await
            .unwrap();
        s.record_sign_in_failure("account:sam@dta.gov.au", NOW)
            .await
            .unwrap();
        // Mia comments, mentioning Sam; Sam's mention of Mia names her too.
        let e = s
            .execute(
                &w.member,
                e.id,
                e.version,
                &Command::Comment {
                    about: Anchor::Engagement,
                    body: "Mia's own words, @Sam Staff".into(),
                },
                NOW,
            )
            .await
            .unwrap();
        s.execute(
            &w.staff,
            e.id,
            e.version,
            &Command::Comment {
                about: Anchor::Engagement,
                body: "Noted, @Mia Member".into(),
            },
            NOW,
        )
        .await
        .unwrap();
        s.queue_mail(
            &[Mail {
                kind: "test".into(),
                to: "MIA@dta.gov.au".into(),
                subject: "For Mia".into(),
                body: "A letter to Mia. Stop: https://w.example/unsubscribe/KEY123SECRET; \
                       set your password: https://w.example/invite/INVITE-TOKEN_9."
                    .into(),
                ..Default::default()
            }],
            NOW,
        )
        .await
        .unwrap();

        // Others cannot ask, and cannot tell who exists.
        for (who, id) in [
            (&w.staff, mia),
            (&w.other, mia),
            (&w.member, PersonId(99_999)),
        ] {
            assert!(matches!(
                s.personal_data(who, id, NOW).await,
                Err(StoreError::Domain(DomainError::Forbidden { .. }))
            ));
        }
        let admin = w.admin();
        assert!(matches!(
            s.personal_data(&admin, PersonId(99_999), NOW).await,
            Err(StoreError::NoSuchPerson(_))
        ));
        let own = s.personal_data(&w.member, mia, NOW).await.unwrap();
        let for_her = s.personal_data(&admin, mia, NOW).await.unwrap();
        let text = serde_json::to_string(&own).unwrap();
        assert_eq!(text, serde_json::to_string(&for_her).unwrap());
        let tables: Vec<&str> = own.held.iter().map(|h| h.table).collect();
        for t in [
            "people",
            "memberships",
            "sessions",
            "tokens",
            "sign_in_failures",
            "events",
            "mentions",
            "outbox",
        ] {
            assert!(tables.contains(&t), "{t} missing from {tables:?}");
        }
        for word in [
            "Mia's own words",
            "jira",
            "A letter to Mia",
            "pair:mia@dta.gov.au|10.1.2.0",
        ] {
            assert!(text.contains(word), "{word} missing");
        }
        // Where Sam mentioned her: the comment is named, its words are Sam's.
        let mentioned = own
            .held
            .iter()
            .find(|h| h.table == "mentions" && h.about.starts_with("Where you were"))
            .unwrap();
        assert_eq!(mentioned.rows[0]["actor_id"], w.staff.person.0);
        assert!(!text.contains("Noted, @Mia Member"));
        // Never a secret, and nobody else's.
        assert!(text.contains(
            "/unsubscribe/[left out]; set your password: https://w.example/invite/[left out]."
        ));
        let token_hash = waymark_store::token_id(&token);
        for secret in [
            "KEY123SECRET",
            "INVITE-TOKEN_9",
            "secret-hash",
            "argon2",
            "mia-session-id",
            "session-secret",
            token.as_str(),
            token_hash.as_str(),
            "sam@dta.gov.au",
            ".evil",
        ] {
            assert!(!text.contains(secret), "{secret} is in the download");
        }
        // A place with more rows than a download holds says so.
        let mut tx = s.pool().begin().await.unwrap();
        for day in 0..=waymark_store::ROW_CAP {
            sqlx::query("INSERT INTO digests (person_id, day, written_at) VALUES ($1, $2, $3)")
                .bind(mia.0)
                .bind(format!("d{day:05}"))
                .bind(NOW.0)
                .execute(&mut *tx)
                .await
                .unwrap();
        }
        tx.commit().await.unwrap();
        let own = s.personal_data(&w.member, mia, NOW).await.unwrap();
        let digests = own.held.iter().find(|h| h.table == "digests").unwrap();
        assert_eq!(digests.rows.len(), waymark_store::ROW_CAP);
        assert!(digests.more);
        assert!(!own.held.iter().find(|h| h.table == "people").unwrap().more);
        // The events are shown as the JSON they are.
        let events = own.held.iter().find(|h| h.table == "events").unwrap();
        assert!(
            events
                .rows
                .iter()
                .any(|r| r["payload"]["type"] == "commented" || r["payload"].is_object())
        );
    }
}

/// The names of columns that may name people: ids of people, "…_by",
/// addresses, and keys.
fn names_people(column: &str) -> bool {
    matches!(
        column,
        "person_id"
            | "author_id"
            | "actor_id"
            | "editor_id"
            | "owner_id"
            | "email"
            | "contact_email"
            | "recipient"
            | "sender"
            | "key"
            | "holder"
    ) || column.ends_with("_by")
}

#[tokio::test]
async fn every_column_that_names_people_is_read_or_explained() {
    // The schema is the same on both backends; SQLite's is walked.
    let s = stores("privacy-schema").await.into_iter().next().unwrap();
    let tables: Vec<String> = sqlx::query(
        "SELECT name FROM sqlite_master WHERE type = 'table' AND name NOT LIKE 'sqlite_%' AND name NOT LIKE '_sqlx%'",
    )
    .fetch_all(s.pool())
    .await
    .unwrap()
    .iter()
    .map(|r| r.get::<String, _>(0))
    .collect();
    assert!(tables.len() > 40, "{tables:?}");
    let mut unexplained = Vec::new();
    for t in &tables {
        let columns: Vec<String> =
            sqlx::query(&format!("SELECT name FROM pragma_table_info('{t}')"))
                .fetch_all(s.pool())
                .await
                .unwrap()
                .iter()
                .map(|r| r.get::<String, _>(0))
                .collect();
        for c in columns.iter().filter(|c| names_people(c)) {
            let read = HOLDERS
                .iter()
                .any(|h| h.table == t && (h.column == c || h.columns.contains(&c.as_str())));
            let explained = NOT_PERSONAL
                .iter()
                .any(|(table, column, _)| table == t && (column == c || *column == "*"));
            if !read && !explained {
                unexplained.push(format!("{t}.{c}"));
            }
        }
    }
    assert!(
        unexplained.is_empty(),
        "columns that may name people, neither read nor explained: {unexplained:?}"
    );
    // Every holder reads columns that exist.
    for h in HOLDERS {
        let sql = format!(
            "SELECT {} FROM {} WHERE 1 = 0",
            h.columns.join(", "),
            h.table
        );
        sqlx::query(&sql)
            .fetch_all(s.pool())
            .await
            .unwrap_or_else(|e| panic!("{sql}: {e}"));
    }
}

/// A person corrects their own name; an admin corrects anyone's name and
/// address; the record says which fields, by whom and when, never the old
/// values; an address another person has is refused.
#[tokio::test]
async fn details_are_corrected_by_the_person_or_an_admin() {
    for s in stores("privacy-correct").await {
        let w = world(s).await;
        let s = &w.store;
        let mia = w.member.person;
        let new = |name: &str, email: &str| NewPerson::parse(name, email).unwrap();
        // Her own name, not her own address.
        let p = s
            .correct_person(&w.member, mia, &new("Mia Corrected", "mia@dta.gov.au"), NOW)
            .await
            .unwrap()
            .after;
        assert_eq!(p.name, "Mia Corrected");
        assert!(matches!(
            s.correct_person(&w.member, mia, &new("Mia", "mia.new@dta.gov.au"), NOW)
                .await,
            Err(StoreError::Domain(DomainError::Forbidden { .. }))
        ));
        // Not someone else's, whether they exist or not.
        for id in [w.staff.person, PersonId(99_999)] {
            assert!(matches!(
                s.correct_person(&w.member, id, &new("X", "x@dta.gov.au"), NOW)
                    .await,
                Err(StoreError::Domain(DomainError::Forbidden { .. }))
            ));
        }
        let admin = w.admin();
        assert!(matches!(
            s.correct_person(&admin, PersonId(99_999), &new("X", "x@dta.gov.au"), NOW)
                .await,
            Err(StoreError::NoSuchPerson(_))
        ));
        // An invitation sent to her old address, its mail not yet gone.
        let link = s
            .create_invite(mia, admin.person, NOW, Timestamp(NOW.0 + 3600))
            .await
            .unwrap();
        s.queue_mail(
            &[Mail {
                kind: "invite".into(),
                to: "mia@dta.gov.au".into(),
                subject: "Your Waymark account".into(),
                body: format!("https://w.example/invite/{link}"),
                ..Default::default()
            }],
            NOW,
        )
        .await
        .unwrap();
        let staff_email = s.person(w.staff.person).await.unwrap().unwrap().email;
        assert!(matches!(
            s.correct_person(&admin, mia, &new("Mia", staff_email.as_str()), NOW)
                .await,
            Err(StoreError::Duplicate { field: "email", .. })
        ));
        let p = s
            .correct_person(&admin, mia, &new("Mia Right", "Mia.Right@DTA.gov.au"), NOW)
            .await
            .unwrap()
            .after;
        assert_eq!(
            (p.name.as_str(), p.email.as_str()),
            ("Mia Right", "mia.right@dta.gov.au")
        );
        // The link to the old address no longer works, and its mail is
        // withdrawn: whoever reads that mailbox does not get her account.
        assert!(s.invite(&link, NOW).await.unwrap().is_none());
        assert!(
            s.outbox(&admin, 50)
                .await
                .unwrap()
                .iter()
                .all(|m| m.kind != "invite"),
            "the invitation is still queued"
        );
        // She signs in with the corrected address; the old one is nobody's.
        assert!(
            s.credentials(&Email::parse("mia.right@dta.gov.au").unwrap())
                .await
                .unwrap()
                .is_some()
        );
        assert!(
            s.credentials(&Email::parse("mia@dta.gov.au").unwrap())
                .await
                .unwrap()
                .is_none()
        );
        // The record: fields, who and when; none of the old values.
        let rows: Vec<(i64, String)> = sqlx::query("SELECT corrected_by, fields FROM person_corrections WHERE person_id = $1 ORDER BY at, fields")
            .bind(mia.0)
            .fetch_all(s.pool())
            .await
            .unwrap()
            .iter()
            .map(|r| (r.get::<i64, _>(0), r.get::<String, _>(1)))
            .collect();
        assert_eq!(
            rows,
            vec![
                (mia.0, "name".into()),
                (admin.person.0, "name,email".into())
            ]
        );
        let export = serde_json::to_string(&s.export().await.unwrap()).unwrap();
        assert!(!export.contains("Mia Corrected"), "an old value is kept");
        // Nothing changed: nothing recorded.
        s.correct_person(&admin, mia, &new("Mia Right", "mia.right@dta.gov.au"), NOW)
            .await
            .unwrap();
        let n: i64 = sqlx::query("SELECT COUNT(*) FROM person_corrections")
            .fetch_one(s.pool())
            .await
            .unwrap()
            .get(0);
        assert_eq!(n, 2);
    }
}
