//! Second factors on every backend: a code's step is accepted once, a
//! recovery code works once, codes are kept only as hashes, and turning a
//! factor off (by its owner, or reset by an admin) takes its codes with it.

use sqlx::Row;
use waymark_core::*;
use waymark_store::StoreError;

use crate::{NOW, stores, world};

fn codes() -> Vec<String> {
    (0..10).map(|i| format!("abcdefgh{i:02}")).collect()
}

#[tokio::test]
async fn a_code_works_once_and_recovery_codes_are_single_use() {
    for store in stores("factor").await {
        let w = world(store).await;
        let mia = w.member.person;
        assert_eq!(w.store.second_factor(mia).await.unwrap(), None);
        assert!(!w.store.has_second_factor(mia).await.unwrap());
        let key = [7u8; 20];
        w.store
            .enrol_second_factor(mia, &key, 100, &codes(), NOW)
            .await
            .unwrap();
        // Once only: a second key is refused while the first is on.
        assert!(matches!(
            w.store
                .enrol_second_factor(mia, &[8u8; 20], 101, &codes(), NOW)
                .await,
            Err(StoreError::Duplicate { .. })
        ));
        let f = w.store.second_factor(mia).await.unwrap().unwrap();
        assert_eq!(
            (
                f.secret.as_slice(),
                f.enrolled_at,
                f.last_step,
                f.recovery_left
            ),
            (key.as_slice(), NOW, 100, 10)
        );
        assert!(
            !format!("{f:?}").contains("7, 7"),
            "the key is never printed"
        );
        // The step that confirmed it, or an earlier one, never signs in.
        assert!(!w.store.accept_step(mia, 100).await.unwrap());
        assert!(!w.store.accept_step(mia, 99).await.unwrap());
        assert!(w.store.accept_step(mia, 101).await.unwrap());
        assert!(!w.store.accept_step(mia, 101).await.unwrap(), "replayed");
        // Someone else's factor is untouched by hers.
        assert!(!w.store.accept_step(w.staff.person, 500).await.unwrap());
        // Recovery codes: each once, and only hers.
        assert!(
            !w.store
                .use_recovery_code(w.staff.person, "abcdefgh00", NOW)
                .await
                .unwrap()
        );
        assert!(
            w.store
                .use_recovery_code(mia, "abcdefgh00", NOW)
                .await
                .unwrap()
        );
        assert!(
            !w.store
                .use_recovery_code(mia, "abcdefgh00", NOW)
                .await
                .unwrap()
        );
        assert!(
            !w.store
                .use_recovery_code(mia, "zzzzzzzzzz", NOW)
                .await
                .unwrap()
        );
        assert_eq!(
            w.store
                .second_factor(mia)
                .await
                .unwrap()
                .unwrap()
                .recovery_left,
            9
        );
        // Kept only as hashes.
        let kept: Vec<String> = sqlx::query("SELECT hash FROM recovery_codes")
            .fetch_all(w.store.pool())
            .await
            .unwrap()
            .iter()
            .map(|r| r.get::<String, _>(0))
            .collect();
        assert_eq!(kept.len(), 10);
        assert!(
            kept.iter()
                .all(|h| h.len() == 64 && !h.contains("abcdefgh"))
        );
        // New codes replace every old one, used or not.
        let fresh: Vec<String> = (0..10).map(|i| format!("mnpqrstu{i:02}")).collect();
        w.store
            .replace_recovery_codes(mia, &fresh, NOW)
            .await
            .unwrap();
        assert!(
            !w.store
                .use_recovery_code(mia, "abcdefgh01", NOW)
                .await
                .unwrap()
        );
        assert_eq!(
            w.store
                .second_factor(mia)
                .await
                .unwrap()
                .unwrap()
                .recovery_left,
            10
        );
        assert!(
            w.store
                .use_recovery_code(mia, "mnpqrstu05", NOW)
                .await
                .unwrap()
        );
    }
}

#[tokio::test]
async fn turning_a_factor_off_takes_its_codes_and_a_reset_ends_sessions() {
    for store in stores("factor-off").await {
        let w = world(store).await;
        let mia = w.member.person;
        let later = Timestamp(NOW.0 + 3600);
        w.store
            .enrol_second_factor(mia, &[1u8; 20], 1, &codes(), NOW)
            .await
            .unwrap();
        w.store
            .save_session("mia-phone", "{}", later, Some(mia))
            .await
            .unwrap();
        // Her own: the codes go, her sessions stay (she is using one).
        assert!(w.store.remove_own_second_factor(mia).await.unwrap());
        assert!(!w.store.remove_own_second_factor(mia).await.unwrap());
        assert_eq!(w.store.second_factor(mia).await.unwrap(), None);
        assert!(
            !w.store
                .use_recovery_code(mia, "abcdefgh03", NOW)
                .await
                .unwrap()
        );
        assert_eq!(w.store.sessions_of(mia, NOW).await.unwrap().len(), 1);
        // An admin's reset: only an admin, never of themselves, and every
        // session of hers ends.
        w.store
            .enrol_second_factor(mia, &[2u8; 20], 1, &codes(), NOW)
            .await
            .unwrap();
        for refused in [&w.staff, &w.member, &w.other] {
            assert!(matches!(
                w.store.reset_second_factor(refused, mia).await,
                Err(StoreError::Domain(DomainError::Forbidden { .. }))
            ));
        }
        let admin = w.admin();
        assert!(matches!(
            w.store.reset_second_factor(&admin, admin.person).await,
            Err(StoreError::Domain(DomainError::Forbidden { .. }))
        ));
        assert!(matches!(
            w.store.reset_second_factor(&admin, PersonId(99_999)).await,
            Err(StoreError::NoSuchPerson(_))
        ));
        assert!(w.store.reset_second_factor(&admin, mia).await.unwrap());
        assert_eq!(w.store.second_factor(mia).await.unwrap(), None);
        assert!(w.store.sessions_of(mia, NOW).await.unwrap().is_empty());
        let left: i64 = sqlx::query("SELECT COUNT(*) FROM recovery_codes")
            .fetch_one(w.store.pool())
            .await
            .unwrap()
            .get(0);
        assert_eq!(left, 0);
    }
}

/// Codes sent all at once are counted one after another: no more than the
/// limit are let through to be checked.
#[tokio::test]
async fn attempts_sent_at_once_never_pass_the_limit() {
    for store in stores("factor-race").await {
        let since = Timestamp(NOW.0 - 900);
        let tries = (0..40).map(|_| {
            let s = store.clone();
            tokio::spawn(async move { s.reserve_attempt("factor:9", 5, since, NOW).await })
        });
        let mut let_through = 0;
        let mut waits = Vec::new();
        for t in tries {
            match t.await.unwrap().unwrap() {
                None => let_through += 1,
                Some(wait) => waits.push(wait),
            }
        }
        assert_eq!(let_through, 5, "{:?}", store.backend());
        assert!(waits.iter().all(|w| *w == 900), "{waits:?}");
        assert_eq!(
            store.sign_in_failures("factor:9", since).await.unwrap().0,
            5
        );
        // Another key is its own count.
        assert_eq!(
            store
                .reserve_attempt("recovery:9", 5, since, NOW)
                .await
                .unwrap(),
            None
        );
    }
}
