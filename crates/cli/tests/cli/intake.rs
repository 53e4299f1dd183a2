//! `waymark intake import`: .eml, mbox and Maildir into enquiries, once.

use crate::{fixture, stderr, stdout, waymark};

#[tokio::test]
async fn mail_becomes_enquiries_once_and_bad_messages_are_named() {
    let url = waymark_store::testing::sqlite_url("intake");
    let args = |extra: &[String]| {
        let mut a = vec![
            "--database-url".to_string(),
            url.clone(),
            "intake".into(),
            "import".into(),
        ];
        a.extend(extra.iter().cloned());
        a
    };
    let paths = vec![
        fixture("mail/request.eml"),
        fixture("mail/inbox.mbox"),
        fixture("mail/maildir"),
    ];
    let run = |a: Vec<String>| waymark(&a.iter().map(String::as_str).collect::<Vec<_>>());

    // Without --acknowledge nobody is mailed: an old mailbox must not
    // thank thousands of people again.
    let quiet_url = waymark_store::testing::sqlite_url("intake-quiet");
    let mut quiet = vec![
        "--database-url".to_string(),
        quiet_url.clone(),
        "intake".into(),
        "import".into(),
    ];
    quiet.extend(paths.iter().cloned());
    let q = run(quiet);
    assert!(stdout(&q).contains("intake: 5 added"), "{}", stdout(&q));
    let quiet_store = waymark_store::Store::open(&quiet_url).await.unwrap();
    let quiet_admin = waymark_core::Actor {
        person: waymark_core::PersonId(1),
        roles: vec![waymark_core::Role::ProgrammeAdmin],
    };
    assert!(
        quiet_store
            .outbox(&quiet_admin, 50)
            .await
            .unwrap()
            .is_empty()
    );

    let mut paths = paths;
    paths.push("--acknowledge".into());
    let first = run(args(&paths));
    let (out, err) = (stdout(&first), stderr(&first));
    // One message has no From: it is named, the rest still go in, and the
    // exit status says something failed.
    assert_eq!(first.status.code(), Some(1), "{out}{err}");
    assert!(
        err.contains("inbox.mbox, message 2: it could not be read: it has no From address"),
        "{err}"
    );
    assert!(
        out.contains("intake: 5 added, 0 already imported, 1 could not be read"),
        "{out}"
    );

    let second = run(args(&paths));
    let out2 = stdout(&second);
    // The message with no From was kept as a record the first time.
    assert!(
        out2.contains("intake: 0 added, 6 already imported, 0 could not be read"),
        "{out2}"
    );

    let store = waymark_store::Store::open(&url).await.unwrap();
    let staff = waymark_core::Actor {
        person: waymark_core::PersonId(1),
        roles: vec![waymark_core::Role::ProgrammeStaff],
    };
    let all = store.enquiries(&staff, None, 50).await.unwrap();
    assert_eq!(all.len(), 5);
    let health = all
        .iter()
        .find(|e| e.contact_email == "sam@health.gov.au")
        .unwrap();
    // HTML became text: the words stay, the markup and script do not.
    assert!(
        health.body.contains("We need a secure desktop by June."),
        "{}",
        health.body
    );
    assert!(
        !health.body.contains('<') && !health.body.contains("alert"),
        "{}",
        health.body
    );
    let (_, _, files) = store.enquiry(&staff, health.id).await.unwrap();
    assert_eq!(files.len(), 1);
    assert_eq!(
        (files[0].name.as_str(), files[0].content_type.as_str()),
        ("brief.pdf", "application/pdf")
    );
    let (_, bytes) = store.file(&staff, files[0].id).await.unwrap();
    assert_eq!(bytes, b"%PDF-1.4\nbrief for the programme\n");
    let records = all
        .iter()
        .find(|e| e.contact_email == "jordan.lee@records.gov.au")
        .unwrap();
    assert_eq!(records.contact_name, "Jordan Lee");
    assert_eq!(records.message_id.as_deref(), Some("req-1@records.gov.au"));
    // Every new enquiry's sender is thanked once, however often it is imported.
    let admin = waymark_core::Actor {
        person: waymark_core::PersonId(1),
        roles: vec![waymark_core::Role::ProgrammeAdmin],
    };
    assert_eq!(store.outbox(&admin, 50).await.unwrap().len(), 5);
    assert!(store.verify().await.unwrap().intact());

    let missing = run(args(&["/nonexistent/box.mbox".to_string()]));
    assert_eq!(missing.status.code(), Some(1));
    assert!(
        stderr(&missing).contains("cannot read /nonexistent/box.mbox"),
        "{}",
        stderr(&missing)
    );
}

#[tokio::test]
async fn a_person_added_without_a_password_is_emailed_their_invite() {
    let url = waymark_store::testing::sqlite_url("cli-invite");
    let o = waymark(&[
        "--database-url",
        &url,
        "user",
        "add",
        "--name",
        "Nia New",
        "--email",
        "nia@dta.gov.au",
        "--role",
        "staff",
        "--public-url",
        "https://waymark.example",
    ]);
    assert_eq!(o.status.code(), Some(0), "{}", stderr(&o));
    let printed = stderr(&o);
    let at = printed
        .find("https://waymark.example/invite/")
        .expect(&printed);
    let link: String = printed[at..]
        .chars()
        .take_while(|c| !c.is_whitespace())
        .collect();
    let store = waymark_store::Store::open(&url).await.unwrap();
    let admin = waymark_core::Actor {
        person: waymark_core::PersonId(1),
        roles: vec![waymark_core::Role::ProgrammeAdmin],
    };
    let mail = store.outbox(&admin, 10).await.unwrap();
    assert_eq!(mail.len(), 1);
    assert_eq!(
        (mail[0].kind.as_str(), mail[0].recipient.as_str()),
        ("invite", "nia@dta.gov.au")
    );
    assert!(mail[0].body.contains(&link), "{}", mail[0].body);
}
