//! Second factors: what a typed code may be, recovery codes' shape, and
//! who must have, reset and see a second factor.

use waymark_core::factor::*;
use waymark_core::*;

#[test]
fn typed_codes_are_read_leniently_and_bounded() {
    for (typed, read) in [
        ("123456", OneTimeCode::Authenticator("123456".into())),
        (" 123 456 ", OneTimeCode::Authenticator("123456".into())),
        ("012-345", OneTimeCode::Authenticator("012345".into())),
        ("abcde-fghij", OneTimeCode::Recovery("abcdefghij".into())),
        ("ABCDE FGHIJ", OneTimeCode::Recovery("abcdefghij".into())),
        ("23456789mn", OneTimeCode::Recovery("23456789mn".into())),
        // A trailing newline is whitespace, as a paste brings it.
        ("123456\n", OneTimeCode::Authenticator("123456".into())),
    ] {
        assert_eq!(OneTimeCode::parse(typed).unwrap(), read, "{typed}");
    }
    for bad in [
        "",
        "   ",
        "12345",
        "1234567",
        "12345a",
        // Misread characters are not in recovery codes.
        "abcde-fghi0",
        "lllll-ooooo",
        "<script>x",
        "１２３４５６",
        "١٢٣٤٥٦",
    ] {
        let refused = OneTimeCode::parse(bad);
        assert!(
            matches!(refused, Err(DomainError::Invalid { field: "code", .. })),
            "{bad:?}: {refused:?}"
        );
    }
    let long = "1".repeat(2 * 1024 * 1024);
    assert!(OneTimeCode::parse(&long).is_err());
}

#[test]
fn recovery_codes_use_every_character_evenly_and_read_back() {
    assert_eq!(RECOVERY_ALPHABET.len(), 32, "256 is a multiple: no bias");
    let mut seen = std::collections::BTreeSet::new();
    for b in 0..=255u8 {
        let code = recovery_code(&[b; RECOVERY_LEN]);
        assert_eq!(code.len(), RECOVERY_LEN);
        seen.insert(code.as_bytes()[0]);
        let shown = show_recovery(&code);
        assert_eq!(shown.len(), RECOVERY_LEN + 1);
        assert_eq!(
            OneTimeCode::parse(&shown).unwrap(),
            OneTimeCode::Recovery(code)
        );
    }
    assert_eq!(seen.len(), 32);
}

/// A programme admin (1), a member of programme staff (2) and an agency's
/// sponsor (3).
fn admin_staff_member() -> (Actor, Actor, Actor) {
    let person = |id, roles| Actor {
        person: PersonId(id),
        roles,
    };
    let member = person(
        3,
        vec![Role::AgencyMember {
            agency: AgencyId(1),
            sponsor: true,
        }],
    );
    (
        person(1, vec![Role::ProgrammeAdmin]),
        person(2, vec![Role::ProgrammeStaff]),
        member,
    )
}

#[test]
fn admins_must_have_one_and_only_admins_reset_others() {
    let (admin, staff, member) = admin_staff_member();
    assert!(admin.needs_second_factor());
    assert!(!staff.needs_second_factor());
    assert!(!member.needs_second_factor());
    assert!(admin.may_reset_second_factor(PersonId(3)).is_ok());
    assert!(
        admin.may_reset_second_factor(PersonId(1)).is_err(),
        "not their own"
    );
    assert!(staff.may_reset_second_factor(PersonId(3)).is_err());
    assert!(member.may_reset_second_factor(PersonId(3)).is_err());
    assert!(member.may_manage_sign_in_of(PersonId(3)).is_ok());
    assert!(member.may_manage_sign_in_of(PersonId(2)).is_err());
    assert!(staff.may_manage_sign_in_of(PersonId(3)).is_err());
    assert!(admin.may_manage_sign_in_of(PersonId(3)).is_ok());
}

#[test]
fn a_sign_in_account_is_unlinked_by_its_person_while_they_keep_a_way_in_or_by_an_admin() {
    let (admin, staff, member) = admin_staff_member();
    // Their own, with a password or another account to sign in with.
    assert!(member.may_unlink_sign_in(PersonId(3), true, true).is_ok());
    assert!(staff.may_unlink_sign_in(PersonId(2), true, true).is_ok());
    // Their own and only way in: refused, with what to do instead.
    let only = member
        .may_unlink_sign_in(PersonId(3), false, true)
        .unwrap_err();
    assert!(only.to_string().contains("Ask a programme admin"), "{only}");
    // Someone else's: only an admin, and then whatever it leaves them.
    assert!(member.may_unlink_sign_in(PersonId(2), true, true).is_err());
    assert!(staff.may_unlink_sign_in(PersonId(3), true, true).is_err());
    // Their own leaves everything else as it is; an admin's cuts the person
    // off, and sends a way back when it was their only way in.
    use waymark_core::factor::Unlinking;
    assert_eq!(
        member.may_unlink_sign_in(PersonId(3), true, true).unwrap(),
        Unlinking {
            cut_off: false,
            password_link: false
        }
    );
    assert_eq!(
        admin.may_unlink_sign_in(PersonId(3), true, true).unwrap(),
        Unlinking {
            cut_off: true,
            password_link: false
        }
    );
    assert_eq!(
        admin.may_unlink_sign_in(PersonId(3), false, true).unwrap(),
        Unlinking {
            cut_off: true,
            password_link: true
        }
    );
    assert_eq!(
        admin.may_unlink_sign_in(PersonId(3), false, false).unwrap(),
        Unlinking {
            cut_off: true,
            password_link: false
        },
        "no link for someone deactivated"
    );
    assert!(admin.may_unlink_sign_in(PersonId(1), true, true).is_ok());
    assert!(
        admin.may_unlink_sign_in(PersonId(1), false, true).is_err(),
        "an admin cannot lock themselves out either"
    );
}

#[test]
fn a_passkey_name_is_one_bounded_line_unlike_the_others() {
    use waymark_core::factor::{PASSKEY_NAME_MAX, passkey_name};
    assert_eq!(passkey_name("  Work laptop ", &[]).unwrap(), "Work laptop");
    assert_eq!(passkey_name("   ", &[]).unwrap(), "Passkey");
    assert_eq!(
        passkey_name("", &["Passkey", "Passkey (2)"]).unwrap(),
        "Passkey (3)"
    );
    assert_eq!(passkey_name("Phone", &["Phone"]).unwrap(), "Phone (2)");
    assert!(passkey_name("Ada\r\nBcc: x@y", &[]).is_err());
    assert!(passkey_name("a\u{202E}b", &[]).is_err());
    let full = "k".repeat(PASSKEY_NAME_MAX);
    assert_eq!(passkey_name(&full, &[]).unwrap(), full);
    let numbered = passkey_name(&full, &[full.as_str()]).unwrap();
    assert_eq!(numbered.chars().count(), PASSKEY_NAME_MAX);
    assert!(numbered.ends_with(" (2)"), "{numbered}");
    let long = passkey_name(&"k".repeat(PASSKEY_NAME_MAX + 1), &[]).unwrap_err();
    assert!(long.to_string().contains("too long"), "{long}");
}

#[test]
fn one_person_keeps_a_bounded_number_of_passkeys() {
    use waymark_core::factor::{PASSKEYS_MAX, may_add_passkey};
    assert!(may_add_passkey(0).is_ok());
    assert!(may_add_passkey(PASSKEYS_MAX - 1).is_ok());
    let full = may_add_passkey(PASSKEYS_MAX).unwrap_err();
    assert!(full.to_string().contains("remove one"), "{full}");
}

#[test]
fn adding_a_factor_to_an_account_with_one_needs_a_fresh_proof() {
    use waymark_core::factor::{FRESH_PROOF_SECS, needs_fresh_proof};
    let now = 1_000_000;
    // The first factor needs none: there is nothing to prove yet.
    assert!(!needs_fresh_proof(false, None, now));
    assert!(needs_fresh_proof(true, None, now));
    assert!(!needs_fresh_proof(true, Some(now), now));
    assert!(!needs_fresh_proof(true, Some(now - FRESH_PROOF_SECS), now));
    assert!(needs_fresh_proof(
        true,
        Some(now - FRESH_PROOF_SECS - 1),
        now
    ));
    // A proof dated in the future is not believed.
    assert!(needs_fresh_proof(true, Some(now + 60), now));
}

#[test]
fn an_admin_sends_a_password_link_to_someone_active_without_one() {
    let (admin, staff, member) = admin_staff_member();
    assert!(admin.may_send_password_link(false, true).is_ok());
    for other in [&staff, &member] {
        assert!(matches!(
            other.may_send_password_link(false, true),
            Err(waymark_core::DomainError::Forbidden { .. })
        ));
    }
    let has = admin.may_send_password_link(true, true).unwrap_err();
    assert!(
        has.to_string().contains("have a Waymark password already"),
        "{has}"
    );
    let gone = admin.may_send_password_link(false, false).unwrap_err();
    assert!(gone.to_string().contains("reactivate them first"), "{gone}");
}
