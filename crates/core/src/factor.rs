//! A second factor for signing in: who must have one, who may remove one,
//! and what a typed code may be.
//!
//! A second factor is a TOTP authenticator (RFC 6238: six digits, a new
//! code every 30 seconds), or one or more passkeys (WebAuthn credentials:
//! a security key, or the phone's or computer's own), or both, with
//! [`RECOVERY_CODES`] single-use recovery codes for when the device is
//! lost. Programme admins must have one ([`Actor::needs_second_factor`]);
//! anyone else may. Computing and checking codes and signatures, and
//! counting failures, belong to the web layer and the store; what a code
//! or a passkey's name looks like, how many passkeys one person keeps, and
//! who may do what are here.

use crate::{Actor, DomainError, PersonId};

/// Digits in an authenticator's code.
pub const DIGITS: usize = 6;
/// Seconds each authenticator code lasts.
pub const STEP_SECS: i64 = 30;
/// Recovery codes made at once; each signs in once.
pub const RECOVERY_CODES: usize = 10;
/// Characters in a recovery code (shown as two groups of five).
pub const RECOVERY_LEN: usize = 10;
/// What recovery codes are written in: lowercase letters and digits
/// without the ones people misread (0, 1, l, o).
pub const RECOVERY_ALPHABET: &[u8] = b"abcdefghijkmnpqrstuvwxyz23456789";
/// Wrong recovery codes allowed in the sign-in window (15 minutes), counted
/// apart from wrong app codes (5, as passwords), so that a lockout of one
/// does not lock the other.
pub const RECOVERY_LIMIT: u32 = 10;
/// Seconds between a correct password and its code: after this, the
/// password is asked for again.
pub const PENDING_SECS: i64 = 10 * 60;

/// Passkeys one person may have at once: enough for a phone, a laptop and
/// spare security keys, and a bound on what each sign-in lists.
pub const PASSKEYS_MAX: usize = 10;
/// Characters in a passkey's name.
pub const PASSKEY_NAME_MAX: usize = 60;

/// Seconds a proof of the second factor counts as fresh: adding another
/// factor to an account that has one needs a proof this recent in the same
/// session, so that a session left open (or stolen) cannot plant a factor
/// of its own.
pub const FRESH_PROOF_SECS: i64 = 10 * 60;

/// Whether adding a factor now needs a fresh proof first: when the person
/// has one already and this session proved it (`proven_at`, seconds since
/// 1970) longer than [`FRESH_PROOF_SECS`] ago, or never.
pub fn needs_fresh_proof(has_factor: bool, proven_at: Option<i64>, now: i64) -> bool {
    has_factor && proven_at.is_none_or(|at| now - at > FRESH_PROOF_SECS || at > now)
}

/// A passkey's name as its owner typed it: one line of at most
/// [`PASSKEY_NAME_MAX`] characters ("Passkey" when left blank), made
/// different from the names of their other passkeys (`taken`) by a number,
/// "Phone (2)", so that the list to remove one from never shows two alike.
pub fn passkey_name(raw: &str, taken: &[&str]) -> Result<String, DomainError> {
    let name = crate::text::check_line("name", raw, PASSKEY_NAME_MAX)?;
    let name = if name.is_empty() {
        "Passkey".to_string()
    } else {
        name
    };
    if !taken.contains(&name.as_str()) {
        return Ok(name);
    }
    Ok((2..)
        .map(|n| {
            let suffix = format!(" ({n})");
            // The number fits within the limit, cutting the name if need be.
            let room = PASSKEY_NAME_MAX - suffix.chars().count();
            let kept: String = name.chars().take(room).collect();
            format!("{}{suffix}", kept.trim_end())
        })
        .find(|candidate| !taken.contains(&candidate.as_str()))
        .unwrap_or(name))
}

/// Whether `person`, who has `have` passkeys, may add another.
pub fn may_add_passkey(have: usize) -> Result<(), DomainError> {
    if have >= PASSKEYS_MAX {
        Err(DomainError::invalid(
            "name",
            format!(
                "you have {PASSKEYS_MAX} passkeys already, the most one person may have; remove one you no longer use first"
            ),
        ))
    } else {
        Ok(())
    }
}

/// A code someone typed to prove their second factor.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum OneTimeCode {
    /// Six digits from their authenticator app.
    Authenticator(String),
    /// One of their recovery codes, as lowercase letters and digits.
    Recovery(String),
}

impl OneTimeCode {
    /// Reads a typed code: spaces and hyphens anywhere are ignored, and a
    /// recovery code's case does not matter.
    pub fn parse(raw: &str) -> Result<OneTimeCode, DomainError> {
        let wrong = || {
            DomainError::invalid(
                "code",
                "enter the 6-digit code your authenticator app shows, or one of your recovery codes",
            )
        };
        if raw.trim().is_empty() {
            return Err(DomainError::invalid(
                "code",
                "enter the 6-digit code your authenticator app shows, or one of your recovery codes",
            ));
        }
        // A long paste is not a code; refuse before copying it.
        if raw.len() > 64 {
            return Err(wrong());
        }
        let kept: String = raw
            .chars()
            .filter(|c| !c.is_whitespace() && *c != '-')
            .map(|c| c.to_ascii_lowercase())
            .collect();
        if kept.len() == DIGITS && kept.bytes().all(|b| b.is_ascii_digit()) {
            Ok(OneTimeCode::Authenticator(kept))
        } else if kept.len() == RECOVERY_LEN && kept.bytes().all(|b| RECOVERY_ALPHABET.contains(&b))
        {
            Ok(OneTimeCode::Recovery(kept))
        } else {
            Err(wrong())
        }
    }
}

/// A recovery code as it is shown and printed: `abcde-fghij`.
pub fn show_recovery(code: &str) -> String {
    let (a, b) = code.split_at(code.len().min(RECOVERY_LEN / 2));
    format!("{a}-{b}")
}

/// A recovery code from random bytes (one byte per character).
pub fn recovery_code(random: &[u8; RECOVERY_LEN]) -> String {
    random
        .iter()
        .map(|b| RECOVERY_ALPHABET[usize::from(*b) % RECOVERY_ALPHABET.len()] as char)
        .collect()
}

/// What unlinking a provider account must do besides (see
/// [`Actor::may_unlink_sign_in`]).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Unlinking {
    /// End the person's sessions and API tokens.
    pub cut_off: bool,
    /// Send them a link to set a password: it was their only way in.
    pub password_link: bool,
}

impl Actor {
    /// Programme admins see and change everything, people included, so a
    /// stolen password alone must not be enough: they sign in with a second
    /// factor, and set one up before anything else.
    pub fn needs_second_factor(&self) -> bool {
        self.is_admin()
    }

    /// Whether this actor may turn off `person`'s second factor without a
    /// code from it: a programme admin, for someone who lost their device
    /// and recovery codes; never for themselves, which would undo the rule
    /// above with one click. (Anyone turns off their own with a current
    /// code; one who needs a factor is then taken straight to setting up a
    /// new one, which is how they move to a new device.)
    pub fn may_reset_second_factor(&self, person: PersonId) -> Result<(), DomainError> {
        if person == self.person {
            return Err(DomainError::Forbidden {
                action: "reset your own second factor",
                why: "turn it off on your settings page with a code from it, or ask another programme admin",
            });
        }
        if self.is_admin() {
            Ok(())
        } else {
            Err(DomainError::Forbidden {
                action: "reset another person's second factor",
                why: "only a programme admin does that, for someone who lost their device",
            })
        }
    }

    /// Whether this actor may unlink one of `person`'s provider accounts
    /// (an agency's own sign-in), given whether `person` has another way in
    /// (a password, or another linked account) and is active.
    ///
    /// Anyone may unlink their own, unless it is their only way in: a
    /// provider account is linked again only once its owner signs in with a
    /// password, so they would be locked out. A programme admin may unlink
    /// anyone's, however they sign in: that is how access through an account
    /// the person no longer controls (a former agency's, say) is cut off.
    ///
    /// Returns what the unlinking must also do: an admin's unlinking of
    /// someone else's cuts off whoever holds that account (the person's
    /// sessions and API tokens end, since either may have been made
    /// through it), and when it was their only way in, they are sent a link
    /// to set a password, so nobody is left without a way back.
    pub fn may_unlink_sign_in(
        &self,
        person: PersonId,
        other_way: bool,
        active: bool,
    ) -> Result<Unlinking, DomainError> {
        if person != self.person {
            return if self.is_admin() {
                Ok(Unlinking {
                    cut_off: true,
                    // A deactivated person signs in with nothing.
                    password_link: !other_way && active,
                })
            } else {
                Err(DomainError::Forbidden {
                    action: "unlink another person's sign-in account",
                    why: "only the person and the programme's admins do that",
                })
            };
        }
        if !other_way {
            return Err(DomainError::rule(
                "This is your only way to sign in: unlinked, you could not sign in again. Ask a programme admin to unlink it for you: you are then mailed a link to set a Waymark password.",
            ));
        }
        Ok(Unlinking {
            cut_off: false,
            password_link: false,
        })
    }

    /// Whether this actor may send `person` a new link to set a password: a
    /// programme admin, for someone still active who has none (made by their
    /// agency's sign-in, cut off from it, or whose invitation lapsed); for
    /// them it is the only way back in.
    pub fn may_send_password_link(
        &self,
        has_password: bool,
        active: bool,
    ) -> Result<(), DomainError> {
        if !self.is_admin() {
            return Err(DomainError::Forbidden {
                action: "send someone a link to set a password",
                why: "only a programme admin does that",
            });
        }
        if !active {
            return Err(DomainError::rule(
                "They are deactivated: reactivate them first, if they are coming back.",
            ));
        }
        if has_password {
            return Err(DomainError::rule(
                "They have a Waymark password already: they sign in with it, and change it on their settings page.",
            ));
        }
        Ok(())
    }

    /// Whether this actor may list and end `person`'s sessions and read
    /// whether they have a second factor: the person, or a programme admin.
    pub fn may_manage_sign_in_of(&self, person: PersonId) -> Result<(), DomainError> {
        if person == self.person || self.is_admin() {
            Ok(())
        } else {
            Err(DomainError::Forbidden {
                action: "see how another person signs in",
                why: "only the person and the programme's admins see their sessions and second factor",
            })
        }
    }
}
