//! Enquiries, files, letters and the outbox on every backend.

use waymark_core::*;
use waymark_store::{
    EnquiryCommand, EnquiryStatus, ImportOutcome, Mail, NewEnquiry, NewFile, NewLetter, StoreError,
    classify,
};

use crate::{NOW, stores, world};

fn enquiry(message_id: Option<&str>) -> NewEnquiry {
    NewEnquiry {
        source: "email".into(),
        message_id: message_id.map(str::to_string),
        agency_name: "Bureau of Examples".into(),
        contact_name: "Alex Example".into(),
        contact_email: "alex@example.gov.au".into(),
        contact_role: "CIO".into(),
        subject: "Protected Utility".into(),
        body: "We would like support.".into(),
        timeframe: "Next quarter".into(),
        preference: "Do it With You".into(),
        attachments: vec![NewFile {
            title: "attachment".into(),
            name: "brief.pdf".into(),
            content_type: "application/pdf".into(),
            bytes: b"%PDF-1.7 brief\x00\xff".to_vec(),
        }],
    }
}

#[tokio::test]
async fn an_enquiry_is_imported_once_and_triage_is_audited() {
    for store in stores("enquiries").await {
        let w = world(store).await;
        let ack = Mail {
            kind: "enquiry".into(),
            to: "alex@example.gov.au".into(),
            subject: "We received your request".into(),
            body: "Thank you.".into(),
            attachment: None,
            ..Default::default()
        };
        let first = w
            .store
            .add_enquiry(&enquiry(Some("<a@b>")), Some(&ack), NOW)
            .await
            .unwrap();
        let ImportOutcome::Added(id) = first else {
            panic!("{first:?}")
        };
        let again = w
            .store
            .add_enquiry(&enquiry(Some("<a@b>")), Some(&ack), NOW)
            .await
            .unwrap();
        assert_eq!(again, ImportOutcome::Duplicate(id));
        assert_eq!(
            w.store.enquiries(&w.staff, None, 50).await.unwrap().len(),
            1
        );
        // Agency staff cannot see enquiries at all.
        assert!(matches!(
            w.store.enquiry(&w.member, id).await,
            Err(StoreError::Domain(DomainError::NotFound))
        ));

        w.store
            .triage(
                &w.staff,
                id,
                &EnquiryCommand::Note {
                    text: "Called Alex".into(),
                },
                NOW,
            )
            .await
            .unwrap();
        let blank = w
            .store
            .triage(
                &w.staff,
                id,
                &EnquiryCommand::Note { text: "  ".into() },
                NOW,
            )
            .await;
        assert!(matches!(
            blank,
            Err(StoreError::Domain(DomainError::Invalid { .. }))
        ));

        let e = w.start().await;
        w.store
            .triage(
                &w.staff,
                id,
                &EnquiryCommand::Attach { engagement: e.id },
                NOW,
            )
            .await
            .unwrap();
        let closing = w
            .store
            .triage(
                &w.staff,
                id,
                &EnquiryCommand::Close {
                    reason: "dup".into(),
                },
                NOW,
            )
            .await;
        assert!(matches!(
            closing,
            Err(StoreError::Domain(DomainError::Rule(_)))
        ));

        let (enq, events, files) = w.store.enquiry(&w.staff, id).await.unwrap();
        assert_eq!(enq.status, EnquiryStatus::Attached);
        assert_eq!(enq.engagement, Some(e.id));
        assert_eq!(events.len(), 3, "{events:?}");
        // The attachment moved to the engagement, byte for byte, and is
        // recorded there.
        assert_eq!(files[0].engagement, Some(e.id));
        let now = w.store.engagement(&w.member, e.id).await.unwrap();
        assert_eq!(now.documents.len(), 1);
        let (_, bytes) = w.store.file(&w.member, files[0].id).await.unwrap();
        assert_eq!(bytes, b"%PDF-1.7 brief\x00\xff");
        assert!(w.store.file(&w.other, files[0].id).await.is_err());

        // The acknowledgement waits in the outbox, once.
        let admin = w.admin();
        assert_eq!(w.store.outbox(&admin, 10).await.unwrap().len(), 1);

        let v = w.store.verify().await.unwrap();
        assert!(v.intact(), "{v:?}");
        assert_eq!((v.enquiries, v.enquiry_events), (1, 3));
        // Changing a triage note breaks the enquiry's chain.
        sqlx::query("UPDATE enquiry_events SET payload = REPLACE(payload, 'Called', 'Emailed') WHERE seq = 2")
            .execute(w.store.pool())
            .await
            .unwrap();
        let v = w.store.verify().await.unwrap();
        assert_eq!(v.broken_enquiries.len(), 1);
        assert_eq!(v.broken_enquiries[0].seq, 2);
    }
}

#[tokio::test]
async fn files_come_back_byte_for_byte_and_are_checked() {
    for store in stores("files").await {
        let w = world(store).await;
        let e = w.start().await;
        let bytes: Vec<u8> = (0..=255u8).cycle().take(70_000).collect();
        let mut pdf = b"%PDF-1.4\n".to_vec();
        pdf.extend(&bytes);
        let kind = classify("Business case.PDF", &pdf).unwrap();
        let e2 = w
            .store
            .attach_file(
                &w.member,
                e.id,
                e.version,
                NewFile {
                    title: "Discovery business case".into(),
                    name: "Business case.PDF".into(),
                    content_type: kind.into(),
                    bytes: pdf.clone(),
                },
                NOW,
            )
            .await
            .unwrap();
        let doc = &e2.documents[0];
        assert_eq!(doc.size, pdf.len() as u64);
        let (row, back) = w.store.file(&w.member, doc.file).await.unwrap();
        assert_eq!(back, pdf);
        assert_eq!(row.sha256, doc.sha256);
        assert!(w.store.file(&w.other, doc.file).await.is_err());

        // A refused upload (here: a version the engagement never had) saves
        // nothing, not even the bytes.
        let stale = w
            .store
            .attach_file(
                &w.member,
                e.id,
                e.version + 10,
                NewFile {
                    title: "x".into(),
                    name: "x.txt".into(),
                    content_type: "text/plain".into(),
                    bytes: b"x".to_vec(),
                },
                NOW,
            )
            .await;
        assert!(matches!(
            stale,
            Err(StoreError::Domain(DomainError::Conflict { .. }))
        ));
        let n: i64 = sqlx::query_scalar::<_, i64>("SELECT COUNT(*) FROM files")
            .fetch_one(w.store.pool())
            .await
            .unwrap();
        assert_eq!(n, 1);
    }
    assert!(classify("a.exe", b"MZ").is_err());
    assert!(
        classify("a.pdf", b"<html>").is_err(),
        "bytes must match the name"
    );
    assert!(classify("a.docx", b"PK\x03\x04rest").is_ok());
    assert!(classify("notes.txt", b"\x00binary").is_err());
    assert!(classify("empty.txt", b"").is_err());
}

#[tokio::test]
async fn letters_keep_every_version_and_its_exact_bytes() {
    for store in stores("letters").await {
        let w = world(store).await;
        let e = w.start().await;
        let letter = |pdf: &[u8]| NewLetter {
            kind: LetterKind::LetterOfIntent,
            markdown: "# Letter".into(),
            html: "<h1>Letter</h1>".into(),
            pdf: pdf.to_vec(),
            facts: "{}".into(),
            template_version: 0,
            mail: Vec::new(),
        };
        // Through the generic command path (the API, the CLI) a letter or a
        // file would be an event without bytes: refused, nothing recorded.
        for cmd in [
            Command::IssueLetter {
                kind: LetterKind::LetterOfIntent,
                sha256: "a".repeat(64).into(),
            },
            Command::AttachDocument {
                file: 99,
                title: "t".into(),
                name: "n.pdf".into(),
                content_type: "application/pdf".into(),
                size: 1,
                sha256: "b".repeat(64).into(),
            },
        ] {
            let bare = w.store.execute(&w.staff, e.id, e.version, &cmd, NOW).await;
            assert!(
                matches!(bare, Err(StoreError::Domain(DomainError::Rule(ref m))) if m.contains("bytes are kept")),
                "{bare:?}"
            );
        }
        let e1 = w
            .store
            .issue_letter(&w.staff, e.id, e.version, &letter(b"%PDF-one"), NOW)
            .await
            .unwrap();
        // The agency cannot issue letters; an unchanged letter is refused.
        assert!(
            w.store
                .issue_letter(&w.member, e.id, e1.version, &letter(b"%PDF-two"), NOW)
                .await
                .is_err()
        );
        assert!(
            w.store
                .issue_letter(&w.staff, e.id, e1.version, &letter(b"%PDF-one"), NOW)
                .await
                .is_err()
        );
        let e2 = w
            .store
            .issue_letter(&w.staff, e.id, e1.version, &letter(b"%PDF-two"), NOW)
            .await
            .unwrap();
        let versions = w
            .store
            .letters(&w.member, e.id, LetterKind::LetterOfIntent)
            .await
            .unwrap();
        assert_eq!(
            versions.iter().map(|l| l.version).collect::<Vec<_>>(),
            [1, 2]
        );
        let (row, pdf) = w
            .store
            .letter_pdf(&w.member, e.id, LetterKind::LetterOfIntent, 1)
            .await
            .unwrap();
        assert_eq!(pdf, b"%PDF-one");
        assert_eq!(row.sha256, e2.letters[0].sha256);
        assert!(
            w.store
                .letter_pdf(&w.other, e.id, LetterKind::LetterOfIntent, 1)
                .await
                .is_err()
        );
        // Templates: the programme saves versions; others cannot.
        assert_eq!(
            w.store
                .save_letter_template(&w.staff, LetterKind::LetterOfIntent, "v1", NOW)
                .await
                .unwrap(),
            1
        );
        w.store
            .save_letter_template(&w.staff, LetterKind::LetterOfIntent, "v2", NOW)
            .await
            .unwrap();
        let t = w
            .store
            .letter_template(LetterKind::LetterOfIntent)
            .await
            .unwrap()
            .unwrap();
        assert_eq!((t.version, t.body.as_str()), (2, "v2"));
        assert!(
            w.store
                .save_letter_template(&w.member, LetterKind::LetterOfIntent, "x", NOW)
                .await
                .is_err()
        );
        assert!(w.store.verify().await.unwrap().intact());
    }
}

#[tokio::test]
async fn the_outbox_leases_retries_with_backoff_and_keeps_sent_mail() {
    for store in stores("outbox").await {
        let w = world(store).await;
        let mail = |to: &str| Mail {
            kind: "invite".into(),
            to: to.into(),
            subject: "Hello".into(),
            body: "Body".into(),
            attachment: Some((
                "invite.ics".into(),
                "text/calendar".into(),
                "BEGIN:VCALENDAR".into(),
            )),
            ..Default::default()
        };
        let ids = w
            .store
            .queue_mail(&[mail("a@x.gov.au"), mail("b@x.gov.au")], NOW)
            .await
            .unwrap();
        let claimed = w.store.claim_mail(NOW, 10).await.unwrap();
        assert_eq!(claimed.len(), 2);
        // A second sender finds nothing while the lease holds.
        assert!(w.store.claim_mail(NOW, 10).await.unwrap().is_empty());
        w.store.mail_sent(ids[0], NOW).await.unwrap();
        w.store
            .mail_failed(ids[1], "connection refused", NOW)
            .await
            .unwrap();
        // Not due again until the backoff has passed.
        assert!(
            w.store
                .claim_mail(Timestamp(NOW.0 + 29), 10)
                .await
                .unwrap()
                .is_empty()
        );
        // A message waiting for its retry is still unsent: readiness and
        // the outbox metrics count it, and its age runs from when it was
        // written, so mail that keeps failing is seen to be stuck.
        let health = w.store.health().await.unwrap();
        assert_eq!(health.outbox_unsent, 1);
        assert_eq!(health.oldest_unsent_since, Some(NOW));
        let retry = w.store.claim_mail(Timestamp(NOW.0 + 30), 10).await.unwrap();
        assert_eq!(retry.len(), 1);
        assert_eq!(retry[0].attempts, 1);
        assert_eq!(retry[0].last_error.as_deref(), Some("connection refused"));
        let admin = w.admin();
        let all = w.store.outbox(&admin, 10).await.unwrap();
        assert_eq!(all.len(), 2, "sent mail stays in the outbox");
        assert!(all.iter().any(|m| m.sent_at == Some(NOW)));
        assert!(w.store.outbox(&w.staff, 10).await.is_err(), "admins only");
    }
}

#[tokio::test]
async fn files_can_live_in_a_directory_and_still_come_back_exactly() {
    for store in stores("files-dir").await {
        let dir = std::env::temp_dir().join(format!(
            "waymark-files-{}-{:?}",
            std::process::id(),
            store.backend()
        ));
        let _ = std::fs::remove_dir_all(&dir);
        let w = world(store.with_files_dir(&dir).unwrap()).await;
        let e = w.start().await;
        let bytes: Vec<u8> = (0..=255u8).cycle().take(50_000).collect();
        let e = w
            .store
            .attach_file(
                &w.member,
                e.id,
                e.version,
                NewFile {
                    title: "Change plan".into(),
                    name: "plan.txt".into(),
                    content_type: "application/octet-stream".into(),
                    bytes: bytes.clone(),
                },
                NOW,
            )
            .await
            .unwrap();
        let doc = &e.documents[0];
        // On disk, named by its hash; not in the database.
        let on_disk = dir.join(&doc.sha256[..2]).join(&doc.sha256);
        assert_eq!(std::fs::read(&on_disk).unwrap(), bytes);
        let n: i64 =
            sqlx::query_scalar::<_, i64>("SELECT COUNT(*) FROM files WHERE location IS NOT NULL")
                .fetch_one(w.store.pool())
                .await
                .unwrap();
        assert_eq!(n, 1);
        let (_, back) = w.store.file(&w.member, doc.file).await.unwrap();
        assert_eq!(back, bytes);

        // The export carries the bytes, so an import elsewhere (no
        // directory) has the whole file.
        let x = w.store.export().await.unwrap();
        let target =
            waymark_store::Store::open(&waymark_store::testing::sqlite_url("files-dir-dst"))
                .await
                .unwrap();
        target.import(&x).await.unwrap();
        let (_, copied) = target.file(&w.member, doc.file).await.unwrap();
        assert_eq!(copied, bytes);

        // A changed or missing file on disk is reported, never served.
        std::fs::write(&on_disk, b"tampered").unwrap();
        let err = w.store.file(&w.member, doc.file).await.unwrap_err();
        assert!(
            err.to_string()
                .contains("no longer holds the file that was stored"),
            "{err}"
        );
        std::fs::remove_file(&on_disk).unwrap();
        assert!(
            w.store
                .file(&w.member, doc.file)
                .await
                .unwrap_err()
                .to_string()
                .contains("cannot read")
        );
        let _ = std::fs::remove_dir_all(&dir);
    }
}
