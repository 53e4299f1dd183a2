//! Passkeys (WebAuthn) as a second factor, the relying party's side, by
//! the `webauthn_rp` crate (pure Rust: RustCrypto for P-256, P-384,
//! Ed25519 and RSA; no OpenSSL to install on a fresh machine).
//!
//! - **Who we are**: the relying party id is the public URL's host, and the
//!   only origin accepted is the public URL's own. WebAuthn needs a domain
//!   name: on a public URL with an IP address ([`RelyingParty::for_public_url`]
//!   gives `None`) passkeys are not offered.
//! - **Ceremonies**: each page that offers one starts it. The options go
//!   into the page for the browser; the server's half is encoded into the
//!   visitor's session (kept in the database, never sent to the browser),
//!   so any instance finishes what another started. The form that comes
//!   back takes it out of the session before anything is checked, so a
//!   ceremony is finished at most once. Each lasts five minutes.
//! - **Registration**: a credential for the signed-in person, with the
//!   person's random user handle and their existing passkeys excluded (so
//!   one authenticator is not registered twice). Attestation is not asked
//!   for: Waymark trusts the person who is signed in, not a vendor.
//! - **Assertion**: allowed are the person's own passkeys only; the
//!   signature, challenge, origin, relying party and counter are checked
//!   by the crate, and the counter is kept only if nobody moved it since it
//!   was read (`Store::passkey_used`).
//!
//! What is kept per passkey is the crate's own binary encoding (`bin`).

use base64::Engine as _;
use waymark_store::Passkey;
use webauthn_rp::bin::{Decode, Encode};
use webauthn_rp::request::auth::{
    AllowedCredentials, AuthenticationVerificationOptions,
    NonDiscoverableAuthenticationServerState, NonDiscoverableCredentialRequestOptions,
};
use webauthn_rp::request::register::{
    Nickname, PublicKeyCredentialCreationOptions, PublicKeyCredentialUserEntity,
    RegistrationServerState, RegistrationVerificationOptions, UserHandle64, Username,
};
use webauthn_rp::request::{
    AsciiDomain, Credentials as _, PublicKeyCredentialDescriptor, RpId, TimedCeremony as _,
};
use webauthn_rp::response::register::{CompressedPubKey, DynamicState, StaticState};
use webauthn_rp::response::{AuthTransports, CredentialId};
use webauthn_rp::{AuthenticatedCredential, NonDiscoverableAuthentication64, Registration};

/// A public key as kept: Ed25519, compressed P-256 or P-384, or RSA.
type StoredKey = CompressedPubKey<[u8; 32], [u8; 32], [u8; 48], Vec<u8>>;

/// The most of a browser's answer that is read (an answer is a few KB; an
/// RSA key with every extension stays far under this).
pub const RESPONSE_LIMIT: usize = 64 * 1024;

/// Why a ceremony's answer was not accepted, said to the person (a
/// sentence; the page says what to do next).
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum Refusal {
    #[error("Nothing came back from the browser.")]
    Missing,
    #[error("The browser's answer is too long.")]
    TooLong,
    #[error(
        "This page was open too long, or its passkey request was answered already, or newer pages replaced it."
    )]
    Expired,
    #[error("The browser's answer could not be read.")]
    Unreadable,
    #[error("That is not one of your passkeys.")]
    NotYours,
    #[error("The passkey's answer did not check out.")]
    Invalid,
}

/// What a ceremony is for.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Ceremony {
    /// Adding a passkey.
    Create,
    /// Proving one.
    Get,
}

/// What a registration proved, ready to keep.
#[derive(Debug)]
pub struct Registered {
    pub credential_id: Vec<u8>,
    pub user_handle: Vec<u8>,
    pub transports: Vec<u8>,
    pub static_state: Vec<u8>,
    pub dynamic_state: Vec<u8>,
}

/// What an assertion proved: which passkey, and its state before and after.
#[derive(Debug)]
pub struct Asserted {
    pub id: i64,
    pub before: Vec<u8>,
    pub after: Vec<u8>,
}

/// A ceremony started: the options for the browser (JSON, for
/// `PublicKeyCredential.parse…OptionsFromJSON`) and the server's half to
/// keep in the session (base64).
#[derive(Debug, Clone)]
pub struct Started {
    pub options: String,
    pub state: String,
}

impl Started {
    /// The browser's half as JSON, and the server's encoded half.
    fn new<E: std::fmt::Debug>(
        client: &impl serde::Serialize,
        server: Result<Vec<u8>, E>,
    ) -> Result<Started, String> {
        Ok(Started {
            options: serde_json::to_string(client).map_err(|e| internal("write the options", e))?,
            state: b64().encode(server.map_err(|e| internal("keep the ceremony", e))?),
        })
    }
}

/// Waymark as a WebAuthn relying party.
#[derive(Debug)]
pub struct RelyingParty {
    rp_id: RpId,
    origins: [String; 1],
}

fn internal(what: &str, e: impl std::fmt::Debug) -> String {
    format!("cannot {what}: {e:?}")
}

fn b64() -> base64::engine::GeneralPurpose {
    base64::engine::general_purpose::STANDARD_NO_PAD
}

impl RelyingParty {
    /// Which of the ceremonies a session keeps (`states`, as started) the
    /// browser's `answer` belongs to, by its challenge: the person may have
    /// several pages open. Expired ones never match.
    pub fn which(&self, kind: Ceremony, states: &[String], answer: &str) -> Result<usize, Refusal> {
        let answer = bounded(answer)?;
        let sent = match kind {
            Ceremony::Create => Registration::from_json_relaxed(answer.as_bytes())
                .map_err(|_| Refusal::Unreadable)?
                .challenge_relaxed(),
            Ceremony::Get => NonDiscoverableAuthentication64::from_json_relaxed(answer.as_bytes())
                .map_err(|_| Refusal::Unreadable)?
                .challenge_relaxed(),
        }
        .map_err(|_| Refusal::Unreadable)?;
        let now = std::time::SystemTime::now();
        states
            .iter()
            .position(|state| {
                let Ok(bytes) = b64().decode(state) else {
                    return false;
                };
                let (challenge, until) = match kind {
                    Ceremony::Create => {
                        match RegistrationServerState::<64>::decode(bytes.as_slice()) {
                            Ok(s) => (s.sent_challenge(), s.expiration()),
                            Err(_) => return false,
                        }
                    }
                    Ceremony::Get => {
                        match NonDiscoverableAuthenticationServerState::decode(bytes.as_slice()) {
                            Ok(s) => (s.sent_challenge(), s.expiration()),
                            Err(_) => return false,
                        }
                    }
                };
                challenge == sent && until > now
            })
            .ok_or(Refusal::Expired)
    }

    /// The relying party for a service at `public_url`; `None` when its
    /// host is not a domain name (WebAuthn refuses IP addresses).
    pub fn for_public_url(public_url: &str) -> Option<Self> {
        let url = url::Url::parse(public_url).ok()?;
        if !matches!(url.scheme(), "https" | "http") {
            return None;
        }
        let host = match url.host()? {
            url::Host::Domain(d) => d.to_ascii_lowercase(),
            _ => return None,
        };
        let rp_id = RpId::Domain(AsciiDomain::try_from(host).ok()?);
        Some(RelyingParty {
            rp_id,
            origins: [url.origin().ascii_serialization()],
        })
    }

    /// Starts registering a passkey for the person signed in as `email`
    /// (shown by the authenticator, with `name`), whose user handle is
    /// `handle` (a new random one for their first passkey) and who has
    /// `existing` passkeys.
    pub fn start_registration(
        &self,
        email: &str,
        name: &str,
        handle: &UserHandle64,
        existing: &[Passkey],
    ) -> Result<Started, String> {
        let exclude = existing
            .iter()
            .filter_map(|p| descriptor(p).ok())
            .collect::<Vec<_>>();
        let user = PublicKeyCredentialUserEntity {
            name: Username::try_from(email)
                .or_else(|_| Username::try_from("waymark"))
                .map_err(|e| internal("name the passkey's account", e))?,
            id: handle,
            display_name: Nickname::try_from(name).ok(),
        };
        let (server, client) =
            PublicKeyCredentialCreationOptions::second_factor(&self.rp_id, user, exclude)
                .start_ceremony()
                .map_err(|e| internal("start registering a passkey", e))?;
        Started::new(&client, server.encode())
    }

    /// Checks a registration (`answer`, the browser's `toJSON()`) against
    /// the ceremony kept as `state`.
    pub fn finish_registration(&self, state: &str, answer: &str) -> Result<Registered, Refusal> {
        let answer = bounded(answer)?;
        let server = b64()
            .decode(state)
            .ok()
            .and_then(|bytes| RegistrationServerState::<64>::decode(bytes.as_slice()).ok())
            .ok_or(Refusal::Expired)?;
        let registration =
            Registration::from_json_relaxed(answer.as_bytes()).map_err(|_| Refusal::Unreadable)?;
        let options = RegistrationVerificationOptions::<String, String> {
            allowed_origins: &self.origins,
            ..RegistrationVerificationOptions::default()
        };
        let credential = server
            .verify(&self.rp_id, &registration, &options)
            .map_err(|e| refused(&format!("{e:?}")))?;
        let (id, transports, user, static_state, dynamic_state, _) = credential.into_parts();
        let encoded = |what: &str, e: &dyn std::fmt::Debug| {
            tracing::warn!("passkey registration: cannot encode its {what}: {e:?}");
            Refusal::Invalid
        };
        Ok(Registered {
            credential_id: id.encode().map_err(|e| encoded("id", &e))?.to_vec(),
            user_handle: user.encode().map_err(|e| encoded("user", &e))?.to_vec(),
            transports: vec![transports.encode().map_err(|e| encoded("transports", &e))?],
            static_state: static_state
                .encode()
                .map_err(|e| encoded("key", &e))?
                .to_vec(),
            dynamic_state: dynamic_state
                .encode()
                .map_err(|e| encoded("state", &e))?
                .to_vec(),
        })
    }

    /// Starts asking for a signature from one of `passkeys` (a person's,
    /// at least one).
    pub fn start_assertion(&self, passkeys: &[Passkey]) -> Result<Started, String> {
        let mut allowed = AllowedCredentials::with_capacity(passkeys.len());
        for p in passkeys {
            match descriptor(p) {
                Ok(d) => {
                    allowed.push(d.into());
                }
                Err(e) => tracing::warn!(passkey = p.id, "a kept passkey cannot be read: {e}"),
            }
        }
        let (server, client) =
            NonDiscoverableCredentialRequestOptions::second_factor(&self.rp_id, allowed)
                .map_err(|e| internal("ask for a passkey", e))?
                .start_ceremony()
                .map_err(|e| internal("ask for a passkey", e))?;
        Started::new(&client, server.encode())
    }

    /// Checks a signature (`answer`, the browser's `toJSON()`) against the
    /// ceremony kept as `state`, from one of `passkeys`.
    pub fn finish_assertion(
        &self,
        state: &str,
        answer: &str,
        passkeys: &[Passkey],
    ) -> Result<Asserted, Refusal> {
        let answer = bounded(answer)?;
        let server = b64()
            .decode(state)
            .ok()
            .and_then(|bytes| {
                NonDiscoverableAuthenticationServerState::decode(bytes.as_slice()).ok()
            })
            .ok_or(Refusal::Expired)?;
        let assertion = NonDiscoverableAuthentication64::from_json_relaxed(answer.as_bytes())
            .map_err(|_| Refusal::Unreadable)?;
        let raw = assertion.raw_id();
        let kept = passkeys
            .iter()
            .find(|p| p.credential_id.as_slice() == raw.as_ref())
            .ok_or(Refusal::NotYours)?;
        let handle = user_handle(&kept.user_handle).map_err(|_| Refusal::Invalid)?;
        let static_state = StaticState::<StoredKey>::decode(kept.static_state.as_slice())
            .map_err(|_| Refusal::Invalid)?;
        let dynamic = <[u8; 7]>::try_from(kept.dynamic_state.as_slice())
            .ok()
            .and_then(|b| DynamicState::decode(b).ok())
            .ok_or(Refusal::Invalid)?;
        let id = CredentialId::<&[u8]>::decode(kept.credential_id.as_slice())
            .map_err(|_| Refusal::Invalid)?;
        let mut credential = AuthenticatedCredential::new(id, &handle, static_state, dynamic)
            .map_err(|_| Refusal::Invalid)?;
        let options = AuthenticationVerificationOptions::<String, String> {
            allowed_origins: &self.origins,
            ..AuthenticationVerificationOptions::default()
        };
        server
            .verify(&self.rp_id, &assertion, &mut credential, &options)
            .map_err(|e| refused(&format!("{e:?}")))?;
        let after = credential
            .dynamic_state()
            .encode()
            .map_err(|_| Refusal::Invalid)?
            .to_vec();
        Ok(Asserted {
            id: kept.id,
            before: kept.dynamic_state.clone(),
            after,
        })
    }
}

/// A new random user handle, or the one a person's passkeys share.
pub fn handle_for(existing: &[Passkey]) -> UserHandle64 {
    existing
        .first()
        .and_then(|p| user_handle(&p.user_handle).ok())
        // The crate's default handle is a new random one (`UserHandle64::new`).
        .unwrap_or_default()
}

fn user_handle(bytes: &[u8]) -> Result<UserHandle64, String> {
    let array = <[u8; 64]>::try_from(bytes).map_err(|_| "a user handle of another length")?;
    UserHandle64::decode(array).map_err(|e| internal("read a user handle", e))
}

fn descriptor(p: &Passkey) -> Result<PublicKeyCredentialDescriptor<Vec<u8>>, String> {
    let id = CredentialId::<Vec<u8>>::decode(p.credential_id.clone())
        .map_err(|e| internal("read a credential id", e))?;
    let transports = p
        .transports
        .first()
        .copied()
        .map_or_else(|| AuthTransports::decode(0), AuthTransports::decode)
        .map_err(|e| internal("read transports", e))?;
    Ok(PublicKeyCredentialDescriptor { id, transports })
}

fn bounded(answer: &str) -> Result<&str, Refusal> {
    let answer = answer.trim();
    if answer.is_empty() {
        Err(Refusal::Missing)
    } else if answer.len() > RESPONSE_LIMIT {
        Err(Refusal::TooLong)
    } else {
        Ok(answer)
    }
}

/// A verification failure: logged with the crate's reason, answered as
/// [`Refusal::Expired`] when the ceremony timed out, else [`Refusal::Invalid`].
fn refused(reason: &str) -> Refusal {
    tracing::warn!("passkey refused: {reason}");
    if reason.contains("Timeout") {
        Refusal::Expired
    } else {
        Refusal::Invalid
    }
}
