//! Sign-in storage on every backend: invites work once and expire, failures
//! are counted per key, sessions round-trip and expire, and password hashes
//! travel with an export.

use waymark_core::*;

use crate::{NOW, stores, world};

#[tokio::test]
async fn invites_work_once_and_expire() {
    for store in stores("invites").await {
        let w = world(store).await;
        let mia = w.member.person;
        assert_eq!(
            w.store
                .credentials(&Email::parse("MIA@dta.gov.au").unwrap())
                .await
                .unwrap(),
            Some((mia, None))
        );
        let later = Timestamp(NOW.0 + 3600);
        let token = w
            .store
            .create_invite(mia, w.staff.person, NOW, later)
            .await
            .unwrap();
        assert_eq!(token.len(), 64);
        let invite = w.store.invite(&token, NOW).await.unwrap().unwrap();
        assert_eq!(
            (invite.person, invite.email.as_str()),
            (mia, "mia@dta.gov.au")
        );
        assert_eq!(w.store.invite("not-a-token", NOW).await.unwrap(), None);
        // Expired at its expiry time.
        assert_eq!(w.store.invite(&token, later).await.unwrap(), None);
        assert_eq!(
            w.store
                .accept_invite(&token, "$argon2id$x", later)
                .await
                .unwrap(),
            None
        );
        // Used once; the second use finds nothing.
        assert_eq!(
            w.store
                .accept_invite(&token, "$argon2id$x", NOW)
                .await
                .unwrap(),
            Some(mia)
        );
        assert_eq!(
            w.store
                .accept_invite(&token, "$argon2id$y", NOW)
                .await
                .unwrap(),
            None
        );
        assert_eq!(w.store.invite(&token, NOW).await.unwrap(), None);
        let email = Email::parse("mia@dta.gov.au").unwrap();
        assert_eq!(
            w.store.credentials(&email).await.unwrap(),
            Some((mia, Some("$argon2id$x".to_string())))
        );
        // The hash goes with an export, so a move keeps people's passwords.
        let x = w.store.export().await.unwrap();
        let row = x.people.iter().find(|p| p.id == mia.0).unwrap();
        assert_eq!(row.password_hash.as_deref(), Some("$argon2id$x"));
    }
}

#[tokio::test]
async fn sign_in_failures_are_counted_per_key_and_window() {
    for store in stores("failures").await {
        let key = "account:mia@dta.gov.au";
        for i in 0..3 {
            store
                .record_sign_in_failure(key, Timestamp(NOW.0 + i))
                .await
                .unwrap();
        }
        store
            .record_sign_in_failure("address:127.0.0.1", NOW)
            .await
            .unwrap();
        assert_eq!(
            store
                .sign_in_failures(key, Timestamp(NOW.0 - 1))
                .await
                .unwrap(),
            (3, Some(NOW))
        );
        // Only failures after `since` count.
        assert_eq!(
            store.sign_in_failures(key, NOW).await.unwrap(),
            (2, Some(Timestamp(NOW.0 + 1)))
        );
        store
            .clear_sign_in_failures(key, Timestamp(NOW.0 - 100))
            .await
            .unwrap();
        assert_eq!(
            store.sign_in_failures(key, Timestamp(0)).await.unwrap(),
            (0, None)
        );
        assert_eq!(
            store
                .sign_in_failures("address:127.0.0.1", Timestamp(0))
                .await
                .unwrap()
                .0,
            1
        );
    }
}

#[tokio::test]
async fn sessions_round_trip_and_expire() {
    for store in stores("sessions").await {
        let later = Timestamp(NOW.0 + 60);
        assert!(store.create_session("s1", "{}", later, None).await.unwrap());
        assert!(
            !store
                .create_session("s1", "{\"x\":1}", later, None)
                .await
                .unwrap()
        );
        assert_eq!(
            store.session("s1", NOW).await.unwrap(),
            Some(("{}".to_string(), later))
        );
        store
            .save_session("s1", "{\"person\":3}", later, Some(PersonId(3)))
            .await
            .unwrap();
        assert_eq!(
            store.session("s1", NOW).await.unwrap().unwrap().0,
            "{\"person\":3}"
        );
        // Once signed in, the session is its person's: listed for them, and
        // ended by them only.
        let theirs = store.sessions_of(PersonId(3), NOW).await.unwrap();
        assert_eq!(theirs.len(), 1);
        assert_eq!(theirs[0].0, "s1");
        assert!(
            store
                .sessions_of(PersonId(4), NOW)
                .await
                .unwrap()
                .is_empty()
        );
        assert!(!store.end_session_of(PersonId(4), "s1").await.unwrap());
        assert!(store.session("s1", NOW).await.unwrap().is_some());
        assert_eq!(store.session("s1", later).await.unwrap(), None);
        assert_eq!(store.delete_expired_sessions(later).await.unwrap(), 1);
        store.save_session("s2", "{}", later, None).await.unwrap();
        store
            .save_session("s3", "{}", later, Some(PersonId(3)))
            .await
            .unwrap();
        assert!(store.end_session_of(PersonId(3), "s3").await.unwrap());
        assert_eq!(store.session("s3", NOW).await.unwrap(), None);
        store.delete_session("s2").await.unwrap();
        assert_eq!(store.session("s2", NOW).await.unwrap(), None);
    }
}

/// The first run's link: only while nobody has an account, only the newest,
/// once, before it expires; it makes one programme admin who can sign in.
#[tokio::test]
async fn the_setup_link_makes_one_admin_once() {
    for store in stores("setup-links").await {
        // `world` adds people without passwords: nobody can sign in yet.
        let w = world(store).await;
        let later = Timestamp(NOW.0 + 3600);
        let first = w
            .store
            .create_setup_link(NOW, later)
            .await
            .unwrap()
            .unwrap();
        let token = w
            .store
            .create_setup_link(NOW, later)
            .await
            .unwrap()
            .unwrap();
        assert!(
            !w.store.setup_link_live(&first, NOW).await.unwrap(),
            "only the newest works"
        );
        assert!(w.store.setup_link_live(&token, NOW).await.unwrap());
        assert!(
            !w.store.setup_link_live(&token, later).await.unwrap(),
            "expired"
        );
        let ada = NewPerson::parse("Ada First", "ada.first@dta.gov.au").unwrap();
        assert_eq!(
            w.store
                .setup_first_admin(&token, &ada, "$argon2id$x", later)
                .await
                .unwrap(),
            None
        );
        // An email already on record is refused beside the field, and the
        // link still works (the transaction rolled back).
        let taken = NewPerson::parse("Mia Again", "mia@dta.gov.au").unwrap();
        assert!(matches!(
            w.store
                .setup_first_admin(&token, &taken, "$argon2id$x", NOW)
                .await,
            Err(waymark_store::StoreError::Duplicate { field: "email", .. })
        ));
        let id = w
            .store
            .setup_first_admin(&token, &ada, "$argon2id$x", NOW)
            .await
            .unwrap()
            .unwrap();
        assert!(w.store.actor(id).await.unwrap().is_admin());
        assert_eq!(
            w.store
                .credentials(&Email::parse("ada.first@dta.gov.au").unwrap())
                .await
                .unwrap(),
            Some((id, Some("$argon2id$x".to_string())))
        );
        // Spent, and no new link once someone has an account.
        let again = NewPerson::parse("Eve", "eve@dta.gov.au").unwrap();
        assert_eq!(
            w.store
                .setup_first_admin(&token, &again, "$argon2id$y", NOW)
                .await
                .unwrap(),
            None
        );
        assert_eq!(w.store.create_setup_link(NOW, later).await.unwrap(), None);
        assert!(!w.store.setup_link_live(&token, NOW).await.unwrap());
    }
}

#[tokio::test]
async fn a_deactivated_person_cannot_sign_in_and_their_tokens_end() {
    for store in stores("deactivate").await {
        let w = world(store).await;
        let admin = w.admin();
        let mia = w.member.person;
        let email = Email::parse("mia@dta.gov.au").unwrap();
        w.store.set_password_hash(mia, "$argon2id$x").await.unwrap();
        let token = w.store.create_token(mia, "jira", NOW).await.unwrap();
        let far = Timestamp(NOW.0 + 86_400);
        w.store
            .create_session("mia-phone", "{}", far, Some(mia))
            .await
            .unwrap();
        let invite = w
            .store
            .create_invite(mia, admin.person, NOW, Timestamp(NOW.0 + 3600))
            .await
            .unwrap();
        // Only an admin, and never on themselves.
        assert!(matches!(
            w.store.deactivate_person(&w.staff, mia, NOW).await,
            Err(waymark_store::StoreError::Domain(
                DomainError::Forbidden { .. }
            ))
        ));
        assert!(matches!(
            w.store.deactivate_person(&admin, admin.person, NOW).await,
            Err(waymark_store::StoreError::Domain(
                DomainError::Forbidden { .. }
            ))
        ));
        assert!(matches!(
            w.store.deactivate_person(&admin, PersonId(9999), NOW).await,
            Err(waymark_store::StoreError::NoSuchPerson(_))
        ));
        let gone = w.store.deactivate_person(&admin, mia, NOW).await.unwrap();
        assert_eq!(gone.deactivated_at, Some(NOW));
        assert_eq!(w.store.credentials(&email).await.unwrap(), None);
        assert_eq!(w.store.actor_for_token(&token, NOW).await.unwrap(), None);
        assert_eq!(w.store.invite(&invite, NOW).await.unwrap(), None);
        assert!(w.store.tokens_of(mia).await.unwrap().is_empty());
        assert_eq!(w.store.session("mia-phone", NOW).await.unwrap(), None);
        // Their name stays: the person is still there to be named.
        assert_eq!(w.store.person(mia).await.unwrap().unwrap().name, gone.name);
        assert!(matches!(
            w.store.deactivate_person(&admin, mia, NOW).await,
            Err(waymark_store::StoreError::Duplicate { .. })
        ));
        // Nobody gives work to someone who has left.
        let members = w.store.people_with_roles(&w.member.roles).await.unwrap();
        assert!(members.iter().all(|p| p.id != mia), "{members:?}");
        // Reactivated: their password works again; the ended token does not.
        let back = w.store.reactivate_person(&admin, mia).await.unwrap();
        assert_eq!(back.deactivated_at, None);
        assert!(w.store.credentials(&email).await.unwrap().is_some());
        assert_eq!(w.store.actor_for_token(&token, NOW).await.unwrap(), None);
    }
}

/// What every signed-in request reads in one query is what the two reads
/// it replaced give: the person with every role, and their own settings.
#[tokio::test]
async fn a_person_and_their_settings_come_together() {
    for store in stores("person-settings").await {
        let w = world(store).await;
        let settings = Settings::parse("Australia/Perth", "daily").unwrap();
        w.store
            .set_settings(w.member.person, &settings)
            .await
            .unwrap();
        for id in [w.member.person, w.staff.person] {
            let (person, got) = w.store.person_and_settings(id).await.unwrap().unwrap();
            assert_eq!(Some(person), w.store.person(id).await.unwrap());
            assert_eq!(got, w.store.settings(id).await.unwrap());
        }
        let (_, got) = w
            .store
            .person_and_settings(w.member.person)
            .await
            .unwrap()
            .unwrap();
        assert_eq!(got, settings);
        assert_eq!(
            w.store
                .person_and_settings(PersonId(999_999))
                .await
                .unwrap(),
            None
        );
    }
}
