//! Passkeys on every backend: the first factor of any kind brings recovery
//! codes and the last takes them, a credential is registered once, a
//! person keeps a bounded number, a counter moves only from what was read,
//! and an admin's reset or a removal of personal data takes them all.

use waymark_core::*;
use waymark_store::{NewPasskey, StoreError};

use crate::{NOW, stores, world};

fn codes(tag: &str) -> Vec<String> {
    (0..10).map(|i| format!("{tag}{i:02}")).collect()
}

fn key<'a>(id: &'a [u8], name: &'a str) -> NewPasskey<'a> {
    NewPasskey {
        credential_id: id,
        user_handle: &[7u8; 64],
        transports: &[0],
        static_state: b"public key",
        dynamic_state: &[1, 0, 0, 0, 0, 0, 0],
        name,
    }
}

#[tokio::test]
async fn the_first_passkey_brings_recovery_codes_and_the_last_takes_them() {
    for store in stores("passkeys").await {
        let w = world(store).await;
        let mia = w.member.person;
        assert!(w.store.passkeys_of(mia).await.unwrap().is_empty());
        let first = w
            .store
            .add_passkey(mia, key(b"credential-1", "Laptop"), &codes("abcdefgh"), NOW)
            .await
            .unwrap();
        assert!(first.first_factor);
        assert!(w.store.has_second_factor(mia).await.unwrap());
        assert_eq!(w.store.recovery_left(mia).await.unwrap(), 10);
        assert!(
            w.store
                .use_recovery_code(mia, "abcdefgh00", NOW)
                .await
                .unwrap()
        );
        // A second passkey, then an app: her codes stay the ones she saved.
        let second = w
            .store
            .add_passkey(mia, key(b"credential-2", "Key"), &codes("zzzzzzzz"), NOW)
            .await
            .unwrap();
        assert!(!second.first_factor);
        assert!(
            !w.store
                .enrol_second_factor(mia, &[3u8; 20], 1, &codes("yyyyyyyy"), NOW)
                .await
                .unwrap(),
            "not her first factor"
        );
        assert_eq!(w.store.recovery_left(mia).await.unwrap(), 9);
        assert!(
            !w.store
                .use_recovery_code(mia, "zzzzzzzz01", NOW)
                .await
                .unwrap()
        );
        let kept = w.store.passkeys_of(mia).await.unwrap();
        assert_eq!(
            kept.iter().map(|p| p.name.as_str()).collect::<Vec<_>>(),
            ["Laptop", "Key"]
        );
        assert!(!format!("{:?}", kept[0]).contains("public key"));
        // Turning the app off keeps the codes: her passkeys remain.
        assert!(w.store.remove_own_second_factor(mia).await.unwrap());
        assert_eq!(w.store.recovery_left(mia).await.unwrap(), 9);
        // Only hers are hers to remove.
        assert!(
            !w.store
                .remove_passkey(w.other.person, first.id)
                .await
                .unwrap()
        );
        assert!(w.store.remove_passkey(mia, first.id).await.unwrap());
        assert!(!w.store.remove_passkey(mia, first.id).await.unwrap());
        assert_eq!(w.store.recovery_left(mia).await.unwrap(), 9);
        // The last one goes: so do the codes, and the factor.
        assert!(w.store.remove_passkey(mia, second.id).await.unwrap());
        assert_eq!(w.store.recovery_left(mia).await.unwrap(), 0);
        assert!(!w.store.has_second_factor(mia).await.unwrap());
    }
}

#[tokio::test]
async fn a_credential_is_registered_once_and_a_person_keeps_a_bounded_number() {
    for store in stores("passkeys-bound").await {
        let w = world(store).await;
        let mia = w.member.person;
        w.store
            .add_passkey(mia, key(b"shared", "One"), &codes("abcdefgh"), NOW)
            .await
            .unwrap();
        // Another person cannot register the same credential, nor she twice.
        for who in [w.other.person, mia] {
            assert!(matches!(
                w.store
                    .add_passkey(who, key(b"shared", "Two"), &codes("abcdefgh"), NOW)
                    .await,
                Err(StoreError::Duplicate { .. })
            ));
        }
        for i in 1..factor::PASSKEYS_MAX {
            w.store
                .add_passkey(mia, key(format!("k{i}").as_bytes(), "More"), &[], NOW)
                .await
                .unwrap();
        }
        assert!(matches!(
            w.store
                .add_passkey(mia, key(b"one-too-many", "More"), &[], NOW)
                .await,
            Err(StoreError::Domain(DomainError::Invalid { .. }))
        ));
        assert_eq!(
            w.store.passkeys_of(mia).await.unwrap().len(),
            factor::PASSKEYS_MAX
        );
        // Nobody who is not there, or has left, adds one.
        assert!(matches!(
            w.store
                .add_passkey(PersonId(99_999), key(b"ghost", "G"), &[], NOW)
                .await,
            Err(StoreError::NoSuchPerson(_))
        ));
        let admin = w.admin();
        w.store
            .deactivate_person(&admin, w.other.person, NOW)
            .await
            .unwrap();
        assert!(matches!(
            w.store
                .add_passkey(w.other.person, key(b"left", "L"), &[], NOW)
                .await,
            Err(StoreError::NoSuchPerson(_))
        ));
    }
}

#[tokio::test]
async fn a_counter_moves_only_from_what_was_read_and_a_reset_takes_every_passkey() {
    for store in stores("passkeys-use").await {
        let w = world(store).await;
        let mia = w.member.person;
        let added = w
            .store
            .add_passkey(mia, key(b"c", "Phone"), &codes("abcdefgh"), NOW)
            .await
            .unwrap();
        let before = [1u8, 0, 0, 0, 0, 0, 0];
        let after = [1u8, 0, 0, 0, 5, 0, 0];
        let later = Timestamp(NOW.0 + 60);
        assert!(
            w.store
                .passkey_used(mia, added.id, &before, &after, later)
                .await
                .unwrap()
        );
        // The same signature's state again (a replay, or a second instance
        // that read it at the same moment) does not count.
        assert!(
            !w.store
                .passkey_used(mia, added.id, &before, &after, later)
                .await
                .unwrap()
        );
        // Nor for someone else.
        assert!(
            !w.store
                .passkey_used(w.other.person, added.id, &after, &after, later)
                .await
                .unwrap()
        );
        let kept = &w.store.passkeys_of(mia).await.unwrap()[0];
        assert_eq!(
            (kept.dynamic_state.as_slice(), kept.last_used_at),
            (after.as_slice(), Some(later))
        );
        // An admin's reset for a lost device takes every passkey, and codes.
        let admin = w.admin();
        assert!(w.store.reset_second_factor(&admin, mia).await.unwrap());
        assert!(w.store.passkeys_of(mia).await.unwrap().is_empty());
        assert_eq!(w.store.recovery_left(mia).await.unwrap(), 0);
        assert!(!w.store.reset_second_factor(&admin, mia).await.unwrap());
    }
}

#[tokio::test]
async fn a_ceremony_is_spent_once_and_old_records_go() {
    for store in stores("passkeys-spent").await {
        let w = world(store).await;
        assert!(w.store.spend_ceremony("state one", NOW).await.unwrap());
        assert!(!w.store.spend_ceremony("state one", NOW).await.unwrap());
        assert!(w.store.spend_ceremony("state two", NOW).await.unwrap());
        // Eleven minutes on, the old records are gone (ceremonies last five).
        let later = Timestamp(NOW.0 + 11 * 60);
        assert!(w.store.spend_ceremony("state one", later).await.unwrap());
    }
}
