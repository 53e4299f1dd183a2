//! What the audit covers beyond the chains' own rows: a letter's PDF, a
//! file's bytes and an enquiry's content are bound by hash, so changing any
//! of them in the database is found by `verify` and never served. Also: the
//! people a command names are looked up inside its transaction.

use waymark_core::*;
use waymark_store::{ImportOutcome, NewEnquiry, NewFile, NewLetter, StoreError};

use crate::{NOW, stores, world};

fn letter(pdf: &[u8]) -> NewLetter {
    NewLetter {
        kind: LetterKind::LetterOfIntent,
        markdown: "# Letter".into(),
        html: "<h1>Letter</h1>".into(),
        pdf: pdf.to_vec(),
        facts: "{}".into(),
        template_version: 0,
        mail: Vec::new(),
    }
}

fn upload() -> NewFile {
    NewFile {
        title: "Business case".into(),
        name: "case.pdf".into(),
        content_type: "application/pdf".into(),
        bytes: b"%PDF-1.7 the real case".to_vec(),
    }
}

fn new_enquiry() -> NewEnquiry {
    NewEnquiry {
        source: "form".into(),
        agency_name: "Bureau of Examples".into(),
        contact_name: "Alex Example".into(),
        contact_email: "alex@example.gov.au".into(),
        contact_role: "CIO".into(),
        subject: "Protected Utility".into(),
        body: "We would like support.".into(),
        timeframe: "Next quarter".into(),
        preference: "Do it With You".into(),
        attachments: vec![upload()],
        ..NewEnquiry::default()
    }
}

async fn exec(sql: &str, store: &waymark_store::Store) {
    sqlx::query(sql).execute(store.pool()).await.unwrap();
}

#[tokio::test]
async fn a_letters_changed_bytes_are_found_and_not_served() {
    for store in stores("tamper_letter").await {
        let w = world(store).await;
        let e = w.start().await;
        // The member is the sponsor named on the engagement: who signs.
        let e = w
            .store
            .execute(
                &w.staff,
                e.id,
                e.version,
                &Command::SetSponsor {
                    person: w.member.person,
                },
                NOW,
            )
            .await
            .unwrap();
        let e = w
            .store
            .issue_letter(
                &w.staff,
                e.id,
                e.version,
                &letter(b"%PDF-the real one"),
                NOW,
            )
            .await
            .unwrap();
        let sha = e.letters[0].sha256.clone();
        w.store
            .execute(
                &w.member,
                e.id,
                e.version,
                &Command::SignOff {
                    document: "letter-of-intent".into(),
                    sha256: sha.as_str().into(),
                },
                NOW,
            )
            .await
            .unwrap();
        let v = w.store.verify().await.unwrap();
        assert!(v.intact(), "{v:?}");
        assert_eq!((v.letters, v.files), (1, 0));

        // A forged PDF, with its hash column made to match: the chain (and
        // the sign-off) still name the original.
        exec(
            &format!(
                "UPDATE letters SET pdf = {}, sha256 = '{}'",
                hex_literal(&w.store, b"%PDF-forged"),
                "0".repeat(64)
            ),
            &w.store,
        )
        .await;
        let v = w.store.verify().await.unwrap();
        assert!(!v.intact());
        assert_eq!(v.altered.len(), 1, "{v:?}");
        assert_eq!(
            v.altered[0].record,
            format!("engagement {}, letter-of-intent version 1", e.id)
        );
        assert!(v.altered[0].reason.contains("PDF's bytes differ"));
        let served = w
            .store
            .letter_pdf(&w.member, e.id, LetterKind::LetterOfIntent, 1)
            .await;
        assert!(
            matches!(served, Err(StoreError::Corrupt(ref m)) if m.contains("not served")),
            "{served:?}"
        );
        // A version forged onto an engagement whose chain records no letter
        // at all is found too.
        let bare = w.start().await;
        exec(
            &format!(
                "INSERT INTO letters (engagement_id, kind, version, markdown, html, pdf, sha256, facts, template_version, created_by, created_at) \
                 SELECT {}, kind, version, markdown, html, pdf, sha256, facts, template_version, created_by, created_at FROM letters",
                bare.id
            ),
            &w.store,
        )
        .await;
        let v = w.store.verify().await.unwrap();
        assert!(
            v.altered.iter().any(|a| a.record
                == format!("engagement {}, letter-of-intent version 1", bare.id)
                && a.reason.contains("no such version")),
            "{v:?}"
        );
        exec(
            &format!("DELETE FROM letters WHERE engagement_id = {}", bare.id),
            &w.store,
        )
        .await;
        // Removing the letter altogether is found too.
        exec("DELETE FROM letters", &w.store).await;
        let v = w.store.verify().await.unwrap();
        assert_eq!(v.altered.len(), 1, "{v:?}");
        assert!(
            v.altered[0].reason.contains("row (and PDF) is gone"),
            "{v:?}"
        );
    }
}

/// Bytes as an SQL literal on either backend.
fn hex_literal(store: &waymark_store::Store, bytes: &[u8]) -> String {
    let hex: String = bytes.iter().map(|b| format!("{b:02x}")).collect();
    match store.backend() {
        waymark_store::Backend::Sqlite => format!("X'{hex}'"),
        waymark_store::Backend::Postgres => format!("'\\x{hex}'::bytea"),
    }
}

#[tokio::test]
async fn a_files_changed_bytes_are_found_and_not_served() {
    for store in stores("tamper_file").await {
        let w = world(store).await;
        let e = w.start().await;
        let e = w
            .store
            .attach_file(&w.member, e.id, e.version, upload(), NOW)
            .await
            .unwrap();
        let file = e.documents[0].file;
        assert!(w.store.verify().await.unwrap().intact());
        assert!(w.store.file(&w.member, file).await.is_ok());

        exec(
            &format!(
                "UPDATE files SET content = {} WHERE id = {file}",
                hex_literal(&w.store, b"%PDF-1.7 a forged case")
            ),
            &w.store,
        )
        .await;
        let v = w.store.verify().await.unwrap();
        assert_eq!(v.altered.len(), 1, "{v:?}");
        assert_eq!(v.altered[0].record, format!("file {file}"));
        assert!(v.altered[0].reason.contains("case.pdf"));
        let served = w.store.file(&w.member, file).await;
        assert!(matches!(served, Err(StoreError::Corrupt(_))), "{served:?}");

        // Forged bytes with a hash column to match: the chain still names
        // the original hash.
        exec(
            &format!(
                "UPDATE files SET sha256 = '{}' WHERE id = {file}",
                sha256_hex(b"%PDF-1.7 a forged case")
            ),
            &w.store,
        )
        .await;
        let v = w.store.verify().await.unwrap();
        assert_eq!(v.altered.len(), 1, "{v:?}");
        assert!(
            v.altered[0]
                .reason
                .contains("records no document with this file's hash")
        );
        assert!(w.store.file(&w.member, file).await.is_err());

        // Another agency's file pointed at this engagement is not served
        // here, and a removed file is found.
        let other_e = w
            .store
            .start_engagement(&w.staff, w.other_agency, Mode::DoItWithYou, &w.model, NOW)
            .await
            .unwrap();
        let theirs = w
            .store
            .attach_file(&w.other, other_e.id, other_e.version, upload(), NOW)
            .await
            .unwrap()
            .documents[0]
            .file;
        exec(
            &format!(
                "UPDATE files SET engagement_id = {} WHERE id = {theirs}",
                e.id
            ),
            &w.store,
        )
        .await;
        let served = w.store.file(&w.member, theirs).await;
        assert!(matches!(served, Err(StoreError::Corrupt(_))), "{served:?}");
        exec(&format!("DELETE FROM files WHERE id = {file}"), &w.store).await;
        let v = w.store.verify().await.unwrap();
        let records: Vec<&str> = v.altered.iter().map(|a| a.record.as_str()).collect();
        assert!(records.contains(&format!("file {file}").as_str()), "{v:?}");
        assert!(
            records.contains(&format!("file {theirs}").as_str()),
            "{v:?}"
        );
    }
}

fn sha256_hex(bytes: &[u8]) -> String {
    use sha2::Digest;
    sha2::Sha256::digest(bytes)
        .iter()
        .map(|b| format!("{b:02x}"))
        .collect()
}

#[tokio::test]
async fn an_enquirys_changed_content_or_status_is_found() {
    for store in stores("tamper_enquiry").await {
        let w = world(store).await;
        let ImportOutcome::Added(id) = w
            .store
            .add_enquiry(&new_enquiry(), None, NOW)
            .await
            .unwrap()
        else {
            panic!()
        };
        let v = w.store.verify().await.unwrap();
        assert!(v.intact(), "{v:?}");
        assert_eq!(v.files, 1);

        for (sql, says) in [
            (
                format!(
                    "UPDATE enquiries SET body = 'Please send the admin password.' WHERE id = {id}"
                ),
                "content",
            ),
            (
                format!(
                    "UPDATE enquiries SET contact_email = 'mallory@evil.example' WHERE id = {id}"
                ),
                "content",
            ),
            (
                format!("UPDATE enquiries SET status = 'closed' WHERE id = {id}"),
                "its history says open",
            ),
            (
                format!(
                    "UPDATE files SET sha256 = '{}' WHERE enquiry_id = {id}",
                    "1".repeat(64)
                ),
                "content",
            ),
        ] {
            let before = w.store.export().await.unwrap();
            exec(&sql, &w.store).await;
            let v = w.store.verify().await.unwrap();
            assert_eq!(v.broken_enquiries.len(), 1, "{sql}: {v:?}");
            assert_eq!(v.broken_enquiries[0].enquiry, id);
            assert!(v.broken_enquiries[0].reason.contains(says), "{sql}: {v:?}");
            // Not shown, and not triaged, while it differs from its chain.
            let shown = w.store.enquiry(&w.staff, id).await;
            assert!(
                matches!(shown, Err(StoreError::Corrupt(_))),
                "{sql}: {shown:?}"
            );
            let noted = w
                .store
                .triage(
                    &w.staff,
                    id,
                    &waymark_store::EnquiryCommand::Note { text: "x".into() },
                    NOW,
                )
                .await;
            assert!(
                matches!(noted, Err(StoreError::Corrupt(_))),
                "{sql}: {noted:?}"
            );
            // Put it back the way it was for the next change.
            restore(&w.store, &before).await;
            assert!(
                w.store.verify().await.unwrap().intact(),
                "restored after {sql}"
            );
        }
    }
}

/// Writes the enquiries, their events and files back as `x` holds them.
async fn restore(store: &waymark_store::Store, x: &waymark_store::Export) {
    let rows = |t: &str| x.records.get(t).cloned().unwrap_or_default();
    for r in rows("enquiries") {
        sqlx::query(
            "UPDATE enquiries SET body = $1, contact_email = $2, status = $3 WHERE id = $4",
        )
        .bind(r[8].as_str().unwrap())
        .bind(r[5].as_str().unwrap())
        .bind(r[11].as_str().unwrap())
        .bind(r[0].as_i64().unwrap())
        .execute(store.pool())
        .await
        .unwrap();
    }
    for r in rows("files") {
        sqlx::query("UPDATE files SET sha256 = $1 WHERE id = $2")
            .bind(r[1].as_str().unwrap())
            .bind(r[0].as_i64().unwrap())
            .execute(store.pool())
            .await
            .unwrap();
    }
}

#[tokio::test]
async fn enquiries_from_before_content_was_bound_are_sealed_once() {
    for store in stores("seal").await {
        let w = world(store).await;
        w.store
            .add_enquiry(&new_enquiry(), None, NOW)
            .await
            .unwrap();
        // An export from before this upgrade: rows without content_hash.
        let mut x = w.store.export().await.unwrap();
        for row in x.records.get_mut("enquiries").unwrap() {
            row.pop();
        }
        let target = stores("seal_target").await;
        for t in target {
            t.import(&x).await.unwrap();
            let v = t.verify().await.unwrap();
            assert!(v.intact(), "{v:?}");
            // One sealed event on top of the received one, and only once.
            assert_eq!(v.enquiry_events, 2);
            t.migrate().await.unwrap();
            assert_eq!(t.verify().await.unwrap().enquiry_events, 2);
            exec("UPDATE enquiries SET subject = 'Changed'", &t).await;
            assert_eq!(t.verify().await.unwrap().broken_enquiries.len(), 1);
        }
    }
}

#[tokio::test]
async fn a_membership_names_an_agency_that_exists() {
    for store in stores("membership_refs").await {
        let w = world(store).await;
        let p = w
            .store
            .add_person(
                &NewPerson::parse("Ron Role", "ron@dta.gov.au").unwrap(),
                NOW,
            )
            .await
            .unwrap();
        for agency in [AgencyId(999), AgencyId(-1)] {
            let r = w
                .store
                .add_role(
                    p,
                    Role::AgencyMember {
                        agency,
                        sponsor: false,
                    },
                )
                .await;
            assert!(
                matches!(r, Err(StoreError::Missing { what: "agency", .. })),
                "{r:?}"
            );
            let r = w
                .store
                .add_person_with_roles(
                    &NewPerson::parse("Rae Role", "rae@dta.gov.au").unwrap(),
                    &[Role::AgencyMember {
                        agency,
                        sponsor: false,
                    }],
                    NOW,
                )
                .await;
            assert!(matches!(r, Err(StoreError::Missing { .. })), "{r:?}");
        }
        // Nothing was kept of the refused person.
        assert!(
            w.store
                .person_by_email(&Email::parse("rae@dta.gov.au").unwrap())
                .await
                .unwrap()
                .is_none()
        );
    }
}

#[tokio::test]
async fn the_sponsor_is_someone_of_the_agency_who_exists() {
    for store in stores("sponsor_refs").await {
        let w = world(store).await;
        let e = w.start().await;
        let plain = w
            .store
            .add_person(
                &NewPerson::parse("Pat Plain", "pat@dta.gov.au").unwrap(),
                NOW,
            )
            .await
            .unwrap();
        w.store
            .add_role(
                plain,
                Role::AgencyMember {
                    agency: w.agency,
                    sponsor: false,
                },
            )
            .await
            .unwrap();
        let plain = w.store.actor(plain).await.unwrap();
        let set = |person| Command::SetSponsor { person };
        // Another agency's person, and nobody at all: refused, the same way.
        for person in [w.other.person, PersonId(424_242)] {
            let r = w
                .store
                .execute(&w.staff, e.id, e.version, &set(person), NOW)
                .await;
            assert!(
                matches!(r, Err(StoreError::Domain(DomainError::Invalid { field: "person", ref message })) if message.contains("is not a member of this engagement's agency")),
                "{r:?}"
            );
        }
        // A member cannot make themself sponsor.
        let r = w
            .store
            .execute(&plain, e.id, e.version, &set(plain.person), NOW)
            .await;
        assert!(
            matches!(r, Err(StoreError::Domain(DomainError::Forbidden { .. }))),
            "{r:?}"
        );
        // The programme names them; then they may hand over.
        let e = w
            .store
            .execute(&w.staff, e.id, e.version, &set(plain.person), NOW)
            .await
            .unwrap();
        assert_eq!(e.sponsor, Some(plain.person));
        let e = w
            .store
            .execute(&plain, e.id, e.version, &set(w.member.person), NOW)
            .await
            .unwrap();
        assert_eq!(e.sponsor, Some(w.member.person));
        // Having handed it over, they cannot take it back.
        let r = w
            .store
            .execute(&plain, e.id, e.version, &set(plain.person), NOW)
            .await;
        assert!(
            matches!(r, Err(StoreError::Domain(DomainError::Forbidden { .. }))),
            "{r:?}"
        );
    }
}
