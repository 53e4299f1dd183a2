//! OpenID Connect sign-in, the relying party's side: the authorization
//! code flow with PKCE (S256), `state` and `nonce`.
//!
//! - **Discovery**: `{issuer}/.well-known/openid-configuration`, whose
//!   `issuer` must equal the configured one exactly; it and the provider's
//!   keys (JWKS) are kept for [`FRESH`], and the keys fetched again once
//!   when a token names a key not among them (the provider rolled its keys).
//! - **Start**: a fresh `state`, `nonce` and code verifier, kept in the
//!   visitor's session ([`Pending`]) until the provider sends them back.
//! - **Finish**: the answer's `iss` (RFC 9207, when sent) must be the
//!   issuer; the code is exchanged with the client's secret (HTTP Basic,
//!   or in the body where the provider takes only that) and the verifier;
//!   the ID token's signature is checked with the provider's key for the
//!   algorithm its header names (asymmetric ones only: never `none` or a
//!   shared secret), then its issuer, audience (and `azp` when it has more
//!   than one), expiry (a minute's leeway for clocks), issue time and
//!   nonce, by the `jsonwebtoken` crate. Where the token carries no address
//!   (OpenID Connect Core lets the code flow put it in userinfo only) the
//!   userinfo endpoint is asked with the access token, and its `sub` must
//!   be the token's.
//!
//! Every request goes to the address the provider's name resolves to, waits
//! at most [`TIMEOUT`], follows no redirect and reads at most [`LIMIT`].
//! Who the identity becomes is `waymark_core::oidc::decide`'s question.

use std::collections::HashMap;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use base64::Engine as _;
use http_body_util::Full;
use hyper::body::Bytes;
use jsonwebtoken::jwk::JwkSet;
use jsonwebtoken::{Algorithm, DecodingKey, Validation};
use serde::{Deserialize, Serialize};
use serde_json::Value;
use sha2::Digest as _;
use waymark_core::oidc::{Identity, PENDING_SECS, Provider, SUBJECT_MAX};
use waymark_core::{Email, Timestamp};

/// How long a provider's documents and keys are used before being fetched again.
pub const FRESH: Duration = Duration::from_secs(15 * 60);
/// How long one request to a provider may take.
pub const TIMEOUT: Duration = Duration::from_secs(10);
/// The most of a provider's answer that is read.
pub const LIMIT: usize = 256 * 1024;
/// Clock difference allowed between Waymark and the provider.
const LEEWAY_SECS: u64 = 60;
/// The algorithms an ID token may be signed with.
const ALGORITHMS: &[Algorithm] = &[
    Algorithm::RS256,
    Algorithm::RS384,
    Algorithm::RS512,
    Algorithm::PS256,
    Algorithm::PS384,
    Algorithm::PS512,
    Algorithm::ES256,
    Algorithm::ES384,
    Algorithm::EdDSA,
];

/// A configured provider with its client secret.
#[derive(Clone)]
pub struct Configured {
    pub rules: Provider,
    pub secret: String,
}

impl std::fmt::Debug for Configured {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Configured")
            .field("rules", &self.rules)
            .field("secret", &"…")
            .finish()
    }
}

/// Why a sign-in with a provider did not prove who someone is.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum Failure {
    /// The provider could not be reached, or answered nonsense.
    #[error("Waymark could not reach {0}")]
    Unreachable(String),
    /// The provider's answer did not prove who signed in.
    #[error("the sign-in answer was refused: {0}")]
    Refused(String),
    /// The person (or the provider) stopped the sign-in.
    #[error("the provider said: {0}")]
    Stopped(String),
}

/// A started sign-in, kept in the visitor's session until the provider
/// answers. Secrets: never shown or logged.
#[derive(Clone, Serialize, Deserialize)]
pub struct Pending {
    pub provider: String,
    pub state: String,
    pub nonce: String,
    pub verifier: String,
    /// Where to go once signed in.
    pub next: String,
    pub started: i64,
}

impl std::fmt::Debug for Pending {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Pending")
            .field("provider", &self.provider)
            .field("next", &self.next)
            .field("started", &self.started)
            .finish_non_exhaustive()
    }
}

/// What the provider sent back to the callback address.
#[derive(Debug, Clone, Default, Deserialize)]
pub struct Callback {
    pub code: Option<String>,
    pub state: Option<String>,
    pub iss: Option<String>,
    pub error: Option<String>,
    pub error_description: Option<String>,
}

/// A provider's documents, as discovery found them.
#[derive(Debug)]
struct Discovered {
    authorization: url::Url,
    token: url::Url,
    userinfo: Option<url::Url>,
    /// Whether the token endpoint takes the secret in the body only.
    secret_in_body: bool,
    /// Whether the provider names itself in its answers (RFC 9207): then
    /// an answer without `iss` is refused.
    sends_iss: bool,
    keys: JwkSet,
}

/// The configured providers and what was learnt of each.
pub struct Providers {
    list: Vec<Configured>,
    tls: tokio_rustls::TlsConnector,
    known: Mutex<HashMap<String, (Instant, Arc<Discovered>)>>,
}

impl std::fmt::Debug for Providers {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Providers")
            .field("list", &self.list)
            .finish_non_exhaustive()
    }
}

impl Providers {
    pub fn new(list: Vec<Configured>) -> Self {
        Providers {
            list,
            tls: crate::fetch::tls(),
            known: Mutex::new(HashMap::new()),
        }
    }

    /// The providers, in the configured order.
    pub fn all(&self) -> &[Configured] {
        &self.list
    }

    pub fn get(&self, name: &str) -> Option<&Configured> {
        self.list.iter().find(|p| p.rules.name == name)
    }

    /// Begins a sign-in: the address to send the visitor to, and what to
    /// keep in their session.
    pub async fn start(
        &self,
        p: &Configured,
        redirect_uri: &str,
        next: &str,
        now: Timestamp,
    ) -> Result<(String, Pending), Failure> {
        let d = self.discovered(p, false).await?;
        let random = || {
            waymark_store::random_token()
                .map_err(|e| Failure::Unreachable(format!("no randomness: {e}")))
        };
        let pending = Pending {
            provider: p.rules.name.clone(),
            state: random()?,
            nonce: random()?,
            verifier: random()?,
            next: next.to_string(),
            started: now.0,
        };
        let challenge = base64::engine::general_purpose::URL_SAFE_NO_PAD
            .encode(sha2::Sha256::digest(pending.verifier.as_bytes()));
        let mut url = d.authorization.clone();
        url.query_pairs_mut()
            .append_pair("response_type", "code")
            .append_pair("client_id", &p.rules.client_id)
            .append_pair("redirect_uri", redirect_uri)
            .append_pair("scope", "openid email profile")
            .append_pair("state", &pending.state)
            .append_pair("nonce", &pending.nonce)
            .append_pair("code_challenge", &challenge)
            .append_pair("code_challenge_method", "S256");
        Ok((url.into(), pending))
    }

    /// Ends a sign-in: proves who the provider says signed in, or says why
    /// not. `pending` has already been taken out of the session, so an
    /// answer is used once whatever happens here.
    pub async fn finish(
        &self,
        p: &Configured,
        pending: &Pending,
        answer: &Callback,
        redirect_uri: &str,
        now: Timestamp,
    ) -> Result<Identity, Failure> {
        let refused = |why: &str| Err(Failure::Refused(why.to_string()));
        if pending.provider != p.rules.name {
            return refused("it came back to a different provider's address");
        }
        let state = answer.state.as_deref().unwrap_or_default();
        if !crate::app::constant_eq(state.as_bytes(), pending.state.as_bytes()) {
            return refused("its state is not the one this browser was given");
        }
        if now.0 - pending.started > PENDING_SECS || now.0 < pending.started {
            return refused("it took longer than ten minutes");
        }
        if let Some(iss) = &answer.iss
            && iss != &p.rules.issuer
        {
            return refused("it names a different issuer");
        }
        if let Some(e) = &answer.error {
            let said = answer
                .error_description
                .as_deref()
                .map(|d| format!("{e}: {d}"))
                .unwrap_or_else(|| e.clone());
            return Err(Failure::Stopped(clean(&said, 300)));
        }
        let Some(code) = answer.code.as_deref().filter(|c| !c.is_empty()) else {
            return refused("it has no code");
        };
        let d = self.discovered(p, false).await?;
        if d.sends_iss && answer.iss.is_none() {
            return refused("it does not name its issuer, as this provider's answers do");
        }
        let tokens = self.exchange(p, &d, code, redirect_uri, pending).await?;
        let id_token = tokens
            .get("id_token")
            .and_then(Value::as_str)
            .ok_or_else(|| Failure::Refused("the token answer has no ID token".into()))?;
        let claims = self.verify(p, d, id_token, pending, now).await?;
        let subject = claims
            .get("sub")
            .and_then(Value::as_str)
            .filter(|s| !s.is_empty() && s.len() <= SUBJECT_MAX)
            .ok_or_else(|| {
                Failure::Refused("the ID token's subject is missing or too long".into())
            })?
            .to_string();
        let mut identity = identity_of(&subject, &claims);
        if identity.email.is_none()
            && let Some(access) = tokens.get("access_token").and_then(Value::as_str)
        {
            let d = self.discovered(p, false).await?;
            if let Some(url) = &d.userinfo {
                let info = self.userinfo(p, url, access).await?;
                if info.get("sub").and_then(Value::as_str) != Some(subject.as_str()) {
                    return refused("userinfo describes someone else");
                }
                identity = identity_of(&subject, &info);
            }
        }
        Ok(identity)
    }

    async fn exchange(
        &self,
        p: &Configured,
        d: &Discovered,
        code: &str,
        redirect_uri: &str,
        pending: &Pending,
    ) -> Result<serde_json::Map<String, Value>, Failure> {
        // (The serializer is not Send: it ends before anything is awaited.)
        let form = {
            let mut form = url::form_urlencoded::Serializer::new(String::new());
            form.append_pair("grant_type", "authorization_code")
                .append_pair("code", code)
                .append_pair("redirect_uri", redirect_uri)
                .append_pair("code_verifier", &pending.verifier);
            if d.secret_in_body {
                form.append_pair("client_id", &p.rules.client_id)
                    .append_pair("client_secret", &p.secret);
            }
            form.finish()
        };
        let mut request = hyper::Request::post(crate::fetch::target(&d.token).0)
            .header(
                hyper::header::CONTENT_TYPE,
                "application/x-www-form-urlencoded",
            )
            .header(hyper::header::ACCEPT, "application/json");
        if !d.secret_in_body {
            // RFC 6749 §2.3.1: each part form-encoded before joining.
            let enc =
                |s: &str| url::form_urlencoded::byte_serialize(s.as_bytes()).collect::<String>();
            let basic = base64::engine::general_purpose::STANDARD.encode(format!(
                "{}:{}",
                enc(&p.rules.client_id),
                enc(&p.secret)
            ));
            request = request.header(hyper::header::AUTHORIZATION, format!("Basic {basic}"));
        }
        let answer = self.call(p, &d.token, request, Bytes::from(form)).await?;
        let body = json_object(&answer, &p.rules.label)?;
        if !(200..300).contains(&answer.status) {
            let said = body
                .get("error")
                .and_then(Value::as_str)
                .unwrap_or("no reason given");
            return Err(Failure::Refused(format!(
                "the provider would not exchange the code ({}: {})",
                answer.status,
                clean(said, 100)
            )));
        }
        Ok(body)
    }

    async fn verify(
        &self,
        p: &Configured,
        mut d: Arc<Discovered>,
        id_token: &str,
        pending: &Pending,
        now: Timestamp,
    ) -> Result<serde_json::Map<String, Value>, Failure> {
        let refused = |why: String| Failure::Refused(why);
        let header = jsonwebtoken::decode_header(id_token)
            .map_err(|e| refused(format!("the ID token cannot be read: {e}")))?;
        if !ALGORITHMS.contains(&header.alg) {
            return Err(refused(format!(
                "the ID token is signed with {:?}, which Waymark does not accept",
                header.alg
            )));
        }
        let find = |keys: &JwkSet| match &header.kid {
            Some(kid) => keys.find(kid).cloned(),
            None if keys.keys.len() == 1 => keys.keys.first().cloned(),
            None => None,
        };
        let key = match find(&d.keys) {
            Some(k) => k,
            None => {
                // The provider may have rolled its keys since they were read.
                d = self.discovered(p, true).await?;
                find(&d.keys).ok_or_else(|| {
                    refused(
                        "the ID token is signed with a key the provider does not publish".into(),
                    )
                })?
            }
        };
        if let Some(alg) = &key.common.key_algorithm
            && format!("{alg:?}") != format!("{:?}", header.alg)
        {
            return Err(refused("the ID token's algorithm is not its key's".into()));
        }
        let decoding = DecodingKey::from_jwk(&key)
            .map_err(|e| refused(format!("the provider's key cannot be used: {e}")))?;
        let mut v = Validation::new(header.alg);
        v.leeway = LEEWAY_SECS;
        v.validate_nbf = true;
        v.set_issuer(&[&p.rules.issuer]);
        v.set_audience(&[&p.rules.client_id]);
        v.set_required_spec_claims(&["exp", "iat", "iss", "aud", "sub"]);
        let data = jsonwebtoken::decode::<serde_json::Map<String, Value>>(id_token, &decoding, &v)
            .map_err(|e| {
                use jsonwebtoken::errors::ErrorKind as K;
                refused(match e.kind() {
                    K::InvalidAudience => "the ID token was issued for another application".into(),
                    K::ExpiredSignature => "the ID token has expired".into(),
                    K::InvalidIssuer => "the ID token names a different issuer".into(),
                    K::ImmatureSignature => "the ID token is not valid yet".into(),
                    K::InvalidSignature => "the ID token's signature is wrong".into(),
                    other => format!("the ID token is not valid: {other:?}"),
                })
            })?;
        let claims = data.claims;
        let nonce = claims
            .get("nonce")
            .and_then(Value::as_str)
            .unwrap_or_default();
        if !crate::app::constant_eq(nonce.as_bytes(), pending.nonce.as_bytes()) {
            return Err(refused("the ID token's nonce is not this sign-in's".into()));
        }
        let several = matches!(claims.get("aud"), Some(Value::Array(a)) if a.len() > 1);
        match claims.get("azp") {
            Some(azp) if azp.as_str() != Some(p.rules.client_id.as_str()) => {
                return Err(refused(
                    "the ID token was issued to another application (azp)".into(),
                ));
            }
            None if several => {
                return Err(refused(
                    "the ID token has several audiences and no azp".into(),
                ));
            }
            _ => {}
        }
        let Some(iat) = claims.get("iat").and_then(Value::as_i64) else {
            return Err(refused(
                "the ID token does not say when it was issued".into(),
            ));
        };
        if iat > now.0 + LEEWAY_SECS as i64 {
            return Err(refused("the ID token was issued in the future".into()));
        }
        Ok(claims)
    }

    async fn userinfo(
        &self,
        p: &Configured,
        url: &url::Url,
        access: &str,
    ) -> Result<serde_json::Map<String, Value>, Failure> {
        let request = hyper::Request::get(crate::fetch::target(url).0)
            .header(hyper::header::AUTHORIZATION, format!("Bearer {access}"))
            .header(hyper::header::ACCEPT, "application/json");
        let answer = self.call(p, url, request, Bytes::new()).await?;
        if !(200..300).contains(&answer.status) {
            return Err(Failure::Refused(format!(
                "userinfo answered {}",
                answer.status
            )));
        }
        json_object(&answer, &p.rules.label)
    }

    /// The provider's documents and keys: those kept, unless stale or
    /// `again`, else fetched now.
    async fn discovered(&self, p: &Configured, again: bool) -> Result<Arc<Discovered>, Failure> {
        if !again
            && let Some((at, d)) = self.known().get(&p.rules.name)
            && at.elapsed() < FRESH
        {
            return Ok(Arc::clone(d));
        }
        let issuer = p.rules.issuer.trim_end_matches('/');
        let url = parse_url(&format!("{issuer}/.well-known/openid-configuration"), p)?;
        let answer = self.document(p, &url).await?;
        let doc = json_object(&answer, &p.rules.label)?;
        if doc.get("issuer").and_then(Value::as_str) != Some(p.rules.issuer.as_str()) {
            return Err(Failure::Unreachable(format!(
                "{}'s discovery document names a different issuer",
                p.rules.label
            )));
        }
        let endpoint = |key: &str| -> Result<url::Url, Failure> {
            let raw = doc.get(key).and_then(Value::as_str).ok_or_else(|| {
                Failure::Unreachable(format!(
                    "{}'s discovery document has no {key}",
                    p.rules.label
                ))
            })?;
            parse_url(raw, p)
        };
        let authorization = endpoint("authorization_endpoint")?;
        let token = endpoint("token_endpoint")?;
        let jwks_uri = endpoint("jwks_uri")?;
        let userinfo = endpoint("userinfo_endpoint").ok();
        let methods: Vec<&str> = doc
            .get("token_endpoint_auth_methods_supported")
            .and_then(Value::as_array)
            .map(|a| a.iter().filter_map(Value::as_str).collect())
            .unwrap_or_default();
        let secret_in_body = !methods.is_empty()
            && !methods.contains(&"client_secret_basic")
            && methods.contains(&"client_secret_post");
        let sends_iss = doc
            .get("authorization_response_iss_parameter_supported")
            .and_then(Value::as_bool)
            .unwrap_or(false);
        let keys_answer = self.document(p, &jwks_uri).await?;
        let keys: JwkSet = serde_json::from_slice(&keys_answer.body).map_err(|e| {
            Failure::Unreachable(format!("{}'s keys cannot be read: {e}", p.rules.label))
        })?;
        let d = Arc::new(Discovered {
            authorization,
            token,
            userinfo,
            secret_in_body,
            sends_iss,
            keys,
        });
        self.known()
            .insert(p.rules.name.clone(), (Instant::now(), Arc::clone(&d)));
        Ok(d)
    }

    fn known(&self) -> std::sync::MutexGuard<'_, HashMap<String, (Instant, Arc<Discovered>)>> {
        self.known
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
    }

    async fn document(
        &self,
        p: &Configured,
        url: &url::Url,
    ) -> Result<crate::fetch::Answer, Failure> {
        let request = hyper::Request::get(crate::fetch::target(url).0)
            .header(hyper::header::ACCEPT, "application/json");
        let answer = self.call(p, url, request, Bytes::new()).await?;
        if answer.status != 200 {
            return Err(Failure::Unreachable(format!(
                "{} answered {} for {}",
                p.rules.label,
                answer.status,
                url.path()
            )));
        }
        Ok(answer)
    }

    /// One request to the provider, within [`TIMEOUT`] and [`LIMIT`].
    async fn call(
        &self,
        p: &Configured,
        url: &url::Url,
        request: hyper::http::request::Builder,
        body: Bytes,
    ) -> Result<crate::fetch::Answer, Failure> {
        let label = &p.rules.label;
        let down = |why: String| Failure::Unreachable(format!("{label}: {why}"));
        let request = request
            .header(hyper::header::HOST, crate::fetch::target(url).1)
            .header(hyper::header::USER_AGENT, "Waymark-Sign-In/1")
            .body(Full::new(body))
            .map_err(|e| down(format!("cannot make the request: {e}")))?;
        let answer = tokio::time::timeout(TIMEOUT, async {
            let addrs = crate::fetch::resolve(url).await?;
            let addr = addrs.first().copied().ok_or("it has no address")?;
            crate::fetch::send(&self.tls, url, addr, request, LIMIT).await
        })
        .await
        .map_err(|_| down(format!("no answer within {} seconds", TIMEOUT.as_secs())))?
        .map_err(down)?;
        if (300..400).contains(&answer.status) {
            return Err(down(format!(
                "it answered {} (a redirect, which Waymark does not follow)",
                answer.status
            )));
        }
        if !answer.complete {
            return Err(down(format!("its answer was longer than {LIMIT} bytes")));
        }
        Ok(answer)
    }
}

/// An address from the provider's documents: `https`, or `http` on this
/// machine only for a provider that is itself on this machine (an https
/// issuer's code and secret never go over plain http).
fn parse_url(raw: &str, p: &Configured) -> Result<url::Url, Failure> {
    waymark_core::oidc::issuer_problem(raw.split(['?', '#']).next().unwrap_or(raw)).map_err(
        |why| Failure::Unreachable(format!("{}: an address it gave {why}", p.rules.label)),
    )?;
    if p.rules.issuer.starts_with("https://") && !raw.starts_with("https://") {
        return Err(Failure::Unreachable(format!(
            "{}: an address it gave is not https, as its issuer is",
            p.rules.label
        )));
    }
    url::Url::parse(raw).map_err(|e| {
        Failure::Unreachable(format!(
            "{}: an address it gave is not one: {e}",
            p.rules.label
        ))
    })
}

fn json_object(
    answer: &crate::fetch::Answer,
    label: &str,
) -> Result<serde_json::Map<String, Value>, Failure> {
    match serde_json::from_slice::<Value>(&answer.body) {
        Ok(Value::Object(m)) => Ok(m),
        _ => Err(Failure::Unreachable(format!(
            "{label} answered {} with something that is not a JSON object",
            answer.status
        ))),
    }
}

/// The identity claims say: an unreadable address is no address.
fn identity_of(subject: &str, claims: &serde_json::Map<String, Value>) -> Identity {
    let verified = match claims.get("email_verified") {
        Some(Value::Bool(b)) => *b,
        Some(Value::String(s)) => s == "true",
        _ => false,
    };
    Identity {
        subject: subject.to_string(),
        // ASCII only: a look-alike letter that lowercases to ASCII (the
        // Kelvin sign is a K) must not name someone else's address.
        email: claims
            .get("email")
            .and_then(Value::as_str)
            .filter(|e| e.is_ascii())
            .and_then(|e| Email::parse(e).ok()),
        email_verified: verified,
        name: claims
            .get("name")
            .and_then(Value::as_str)
            .map(str::to_string),
    }
}

/// A provider's words, fit to show and log: at most `max` characters, one
/// line (`waymark_core::one_line`: a forged log line's newline, or an
/// invisible direction override, becomes a space).
fn clean(text: &str, max: usize) -> String {
    waymark_core::one_line(&text.chars().take(max).collect::<String>())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn claims(v: serde_json::Value) -> serde_json::Map<String, Value> {
        match v {
            Value::Object(m) => m,
            _ => unreachable!(),
        }
    }

    #[test]
    fn an_address_that_only_lowercases_to_ascii_is_no_address() {
        let kelvin =
            claims(serde_json::json!({"email": "\u{212A}im@bot.gov.au", "email_verified": true}));
        assert_eq!(identity_of("s", &kelvin).email, None);
        let plain =
            claims(serde_json::json!({"email": "Kim@Bot.gov.au", "email_verified": "true"}));
        let id = identity_of("s", &plain);
        assert_eq!(id.email.unwrap().as_str(), "kim@bot.gov.au");
        assert!(id.email_verified);
    }

    #[test]
    fn a_providers_words_cannot_forge_a_log_line() {
        assert_eq!(
            clean("denied\n2026 INFO signed in\r\u{2028}", 300),
            "denied 2026 INFO signed in"
        );
        assert_eq!(clean(&"x".repeat(500), 300).len(), 300);
    }
}
