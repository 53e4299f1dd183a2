//! Passkeys through the workspace, on every backend, with a software
//! authenticator written here from the WebAuthn spec (ES256, "none"
//! attestation, CTAP2 canonical CBOR): a member adds one and gets recovery
//! codes once; sign-in asks for it after the password; its signature works
//! once, only for the ceremony the page started, only from this site's
//! origin and only for its owner; hostile answers get a clear message; and
//! removing one needs a proof of the factor. The browser journey with
//! Chromium's own virtual authenticator is `tests/e2e/passkeys.test.mjs`.

use base64::Engine as _;
use p256::ecdsa::signature::Signer as _;
use p256::ecdsa::{Signature, SigningKey};
use serde_json::{Value, json};
use sha2::{Digest as _, Sha256};

use super::*;

const ORIGIN: &str = "http://waymark.test";

fn b64url(bytes: &[u8]) -> String {
    base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(bytes)
}

/// A CBOR head: major type and argument (RFC 8949, shortest form).
fn head(out: &mut Vec<u8>, major: u8, n: u64) {
    let m = major << 5;
    if n < 24 {
        out.push(m | n as u8);
    } else if n < 256 {
        out.extend([m | 24, n as u8]);
    } else {
        out.push(m | 25);
        out.extend((n as u16).to_be_bytes());
    }
}

fn cbor_bytes(out: &mut Vec<u8>, b: &[u8]) {
    head(out, 2, b.len() as u64);
    out.extend(b);
}

fn cbor_text(out: &mut Vec<u8>, t: &str) {
    head(out, 3, t.len() as u64);
    out.extend(t.as_bytes());
}

/// A security key that lives in the test.
struct SoftKey {
    key: SigningKey,
    id: Vec<u8>,
    counter: u32,
    rp_id: &'static str,
    origin: &'static str,
}

impl SoftKey {
    fn new(seed: u8) -> SoftKey {
        SoftKey {
            key: SigningKey::from_bytes(&[seed; 32].into()).unwrap(),
            id: vec![seed; 32],
            counter: 0,
            rp_id: "waymark.test",
            origin: ORIGIN,
        }
    }

    fn client_data(&self, kind: &str, challenge: &str) -> Vec<u8> {
        json!({"type": kind, "challenge": challenge, "origin": self.origin, "crossOrigin": false})
            .to_string()
            .into_bytes()
    }

    fn cose_key(&self) -> Vec<u8> {
        let point = self.key.verifying_key().to_encoded_point(false);
        let mut k = Vec::new();
        head(&mut k, 5, 5);
        k.extend([0x01, 0x02]); // kty: EC2
        k.extend([0x03, 0x26]); // alg: ES256 (-7)
        k.extend([0x20, 0x01]); // crv: P-256
        k.push(0x21); // x
        cbor_bytes(&mut k, point.x().unwrap());
        k.push(0x22); // y
        cbor_bytes(&mut k, point.y().unwrap());
        k
    }

    fn auth_data(&self, flags: u8, attested: bool) -> Vec<u8> {
        let mut a = Sha256::digest(self.rp_id.as_bytes()).to_vec();
        a.push(flags);
        a.extend(self.counter.to_be_bytes());
        if attested {
            a.extend([0u8; 16]); // aaguid
            a.extend((self.id.len() as u16).to_be_bytes());
            a.extend(&self.id);
            a.extend(self.cose_key());
        }
        a
    }

    /// What `navigator.credentials.create()` then `toJSON()` gives for
    /// `options` (the page's).
    fn register(&self, options: &Value) -> String {
        let challenge = options["challenge"].as_str().unwrap();
        let client_data = self.client_data("webauthn.create", challenge);
        // User present, attested credential data.
        let auth_data = self.auth_data(0x41, true);
        let mut attestation = Vec::new();
        head(&mut attestation, 5, 3);
        cbor_text(&mut attestation, "fmt");
        cbor_text(&mut attestation, "none");
        cbor_text(&mut attestation, "attStmt");
        head(&mut attestation, 5, 0);
        cbor_text(&mut attestation, "authData");
        cbor_bytes(&mut attestation, &auth_data);
        json!({
            "id": b64url(&self.id),
            "rawId": b64url(&self.id),
            "type": "public-key",
            "response": {
                "clientDataJSON": b64url(&client_data),
                "attestationObject": b64url(&attestation),
                "transports": ["usb"],
            },
            "clientExtensionResults": {},
        })
        .to_string()
    }

    /// What `navigator.credentials.get()` then `toJSON()` gives.
    fn sign(&mut self, options: &Value) -> String {
        self.counter = self.counter.wrapping_add(1);
        let challenge = options["challenge"].as_str().unwrap();
        let client_data = self.client_data("webauthn.get", challenge);
        let auth_data = self.auth_data(0x01, false);
        let mut signed = auth_data.clone();
        signed.extend(Sha256::digest(&client_data));
        let signature: Signature = self.key.sign(&signed);
        json!({
            "id": b64url(&self.id),
            "rawId": b64url(&self.id),
            "type": "public-key",
            "response": {
                "clientDataJSON": b64url(&client_data),
                "authenticatorData": b64url(&auth_data),
                "signature": b64url(signature.to_der().as_bytes()),
                "userHandle": null,
            },
            "clientExtensionResults": {},
        })
        .to_string()
    }
}

/// The ceremony options a page carries for the element with `id`.
fn options(body: &str, id: &str) -> Option<Value> {
    let at = body.find(&format!("id=\"{id}\" data-options-json=\""))?;
    let start = at + format!("id=\"{id}\" data-options-json=\"").len();
    let end = start + body[start..].find('"')?;
    let raw = body[start..end]
        .replace("&quot;", "\"")
        .replace("&#x27;", "'")
        .replace("&#x2f;", "/")
        .replace("&lt;", "<")
        .replace("&gt;", ">")
        .replace("&amp;", "&");
    Some(serde_json::from_str(&raw).unwrap())
}

async fn post(app: &Router, c: &Client, path: &str, form: &[(&str, &str)]) -> Reply {
    send(app, c, Method::POST, path, form).await
}

/// Adds a passkey named `name` made by `key` from the settings page.
async fn add(app: &Router, c: &Client, key: &SoftKey, name: &str) -> Reply {
    let page = send(app, c, Method::GET, "/settings/second-factor", &[]).await;
    let opts = options(&page.body, "passkey-create").expect("the page offers a passkey");
    let csrf = csrf_of(&page.body).unwrap();
    post(
        app,
        c,
        "/settings/passkeys",
        &[
            ("csrf", &csrf),
            ("name", name),
            ("credential", &key.register(&opts)),
        ],
    )
    .await
}

/// A world on `store` whose member Mia, signed in from 127.0.0.`octet`,
/// has added a passkey named `name` made by a key from `seed`.
async fn mia_with_passkey(
    store: Store,
    octet: u8,
    seed: u8,
    name: &str,
) -> (World, Router, Client, SoftKey) {
    let w = world(store).await;
    let app = router(&w.store, [127, 0, 0, octet]).await;
    let mia = w.client(&app, Who::Member).await;
    let key = SoftKey::new(seed);
    let r = add(&app, &mia, &key, name).await;
    assert_eq!(r.status, StatusCode::OK, "{}", r.body);
    (w, app, mia, key)
}

/// Sends the code page a passkey's answer or a typed code (`field`).
async fn on_code_page(app: &Router, c: &Client, field: &str, value: &str) -> Reply {
    post(
        app,
        c,
        "/login/code",
        &[(field, value), ("next", "/engagements")],
    )
    .await
}

/// The password, then the code page: the client and the page.
async fn password_then_page(app: &Router, email: &str) -> (Client, Reply) {
    let r = post(
        app,
        &Client::default(),
        "/login",
        &[("email", email), ("password", PASSWORD), ("next", "")],
    )
    .await;
    assert_eq!(r.location, "/login/code?next=/engagements", "{}", r.body);
    let c = Client {
        cookie: cookie_of(&r),
        csrf: String::new(),
    };
    let page = send(app, &c, Method::GET, "/login/code?next=/engagements", &[]).await;
    (c, page)
}

#[tokio::test]
async fn a_member_adds_a_passkey_and_signs_in_with_it() {
    for store in stores("web-passkeys").await {
        let w = world(store).await;
        let app = router(&w.store, [127, 0, 0, 41]).await;
        let mia = w.client(&app, Who::Member).await;
        let page = send(&app, &mia, Method::GET, "/settings/second-factor", &[]).await;
        // The page loads the one script, under a policy that allows it.
        assert!(page.body.contains("<script src=\"/passkey.js\" defer>"));
        let policy = send(&app, &mia, Method::GET, "/settings", &[]).await;
        assert!(!policy.body.contains("<script"), "other pages load none");
        let js = send(&app, &Client::default(), Method::GET, "/passkey.js", &[]).await;
        assert!(js.body.contains("parseCreationOptionsFromJSON"));
        let opts = options(&page.body, "passkey-create").unwrap();
        assert_eq!(opts["rp"]["id"], "waymark.test");
        assert_eq!(opts["user"]["name"], "mia@bot.gov.au");
        assert_eq!(opts["attestation"], "none");
        // Her first factor: recovery codes, shown once.
        let mut key = SoftKey::new(3);
        let r = add(&app, &mia, &key, "Blue key").await;
        assert_eq!(r.status, StatusCode::OK, "{}", r.body);
        assert!(
            r.body.contains("Save your recovery codes now"),
            "{}",
            r.body
        );
        assert!(r.body.contains("Blue key"));
        let codes = r
            .body
            .match_indices("<li><code>")
            .map(|(at, _)| r.body[at + 10..at + 21].replace('-', ""))
            .collect::<Vec<_>>();
        assert_eq!(codes.len(), 10, "{}", r.body);
        // The same device again is refused (the page excludes it, and the
        // store would refuse it anyway); the ceremony was used, too.
        let again = add(&app, &mia, &key, "Blue key again").await;
        assert_eq!(again.status, StatusCode::UNPROCESSABLE_ENTITY);
        assert!(
            again.body.contains("That passkey is added already."),
            "{}",
            again.body
        );
        // Signing in asks for it after the password.
        let (c, page) = password_then_page(&app, "mia@bot.gov.au").await;
        assert!(page.body.contains("Use your passkey"), "{}", page.body);
        let get = options(&page.body, "passkey-get").unwrap();
        assert_eq!(get["allowCredentials"][0]["id"], b64url(&key.id));
        let answer = key.sign(&get);
        let r = on_code_page(&app, &c, "passkey", &answer).await;
        assert_eq!(
            (r.status, r.location.as_str()),
            (StatusCode::SEE_OTHER, "/engagements"),
            "{}",
            r.body
        );
        let signed_in = Client {
            cookie: cookie_of(&r).or(c.cookie.clone()),
            csrf: String::new(),
        };
        let home = send(&app, &signed_in, Method::GET, "/engagements", &[]).await;
        assert_eq!(home.status, StatusCode::OK);
        // The same answer again, on a new sign-in: its ceremony is gone,
        // and its counter would not move.
        let (c2, _) = password_then_page(&app, "mia@bot.gov.au").await;
        let r = on_code_page(&app, &c2, "passkey", &answer).await;
        assert_eq!(r.status, StatusCode::UNPROCESSABLE_ENTITY);
        assert!(r.body.contains("answered already"), "{}", r.body);
        // A recovery code still works instead.
        let r = on_code_page(&app, &c2, "code", &codes[0]).await;
        assert_eq!(r.status, StatusCode::SEE_OTHER, "{}", r.body);
    }
}

#[tokio::test]
async fn a_signature_counts_only_from_this_site_for_this_ceremony_and_its_owner() {
    for store in stores("web-passkeys-hostile").await {
        let (w, app, _mia, mut key) = mia_with_passkey(store, 42, 5, "Laptop").await;
        // Another member's own passkey.
        let sam = w.client(&app, Who::Sponsor).await;
        let mut sams = SoftKey::new(6);
        assert_eq!(add(&app, &sam, &sams, "Sam's").await.status, StatusCode::OK);
        let (c, page) = password_then_page(&app, "mia@bot.gov.au").await;
        let get = options(&page.body, "passkey-get").unwrap();
        let try_with = |answer: String| {
            let (app, c) = (app.clone(), c.clone());
            async move { on_code_page(&app, &c, "passkey", &answer).await }
        };
        // Hostile answers: each refused with a message, none a 500, and each
        // takes the ceremony with it (the page starts a new one).
        let mut phished = SoftKey::new(5);
        phished.origin = "https://waymark.test.evil.example";
        let mut wrong_rp = SoftKey::new(5);
        wrong_rp.rp_id = "evil.example";
        // A megabyte (the form's own limit, 2 MB, stops more before this).
        let huge = format!("{{\"response\":\"{}\"}}", "A".repeat(1024 * 1024));
        for (why, answer) in [
            ("not JSON", "<script>alert(1)</script>".to_string()),
            ("a megabyte", huge),
            ("another origin", phished.sign(&get)),
            ("another relying party", wrong_rp.sign(&get)),
            ("someone else's passkey", sams.sign(&get)),
        ] {
            let r = try_with(answer).await;
            assert_eq!(
                r.status,
                StatusCode::UNPROCESSABLE_ENTITY,
                "{why}: {}",
                r.body
            );
            assert!(r.body.contains("There is a problem"), "{why}");
            assert!(!r.body.contains("<script>alert"), "{why}");
            // The page asks afresh: a new challenge.
            let next = options(&r.body, "passkey-get").unwrap();
            assert_ne!(next["challenge"], get["challenge"], "{why}");
        }
        // Forged answers are no guesses: they count against the address
        // (30 in 15 minutes), never against her, so whoever knows her
        // password cannot lock her own passkey out with five of them.
        // Two pages open (a reload, a second tab): the first one's still
        // works.
        let first = send(&app, &c, Method::GET, "/login/code?next=/engagements", &[]).await;
        let older = options(&first.body, "passkey-get").unwrap();
        let second = send(&app, &c, Method::GET, "/login/code?next=/engagements", &[]).await;
        assert_ne!(
            options(&second.body, "passkey-get").unwrap()["challenge"],
            older["challenge"]
        );
        let r = try_with(key.sign(&older)).await;
        assert_eq!(r.status, StatusCode::SEE_OTHER, "{}", r.body);
    }
}

#[tokio::test]
async fn one_signature_signs_in_once_even_sent_four_times_at_once() {
    for store in stores("web-passkeys-race").await {
        // A synced passkey's counter stays at 0, so the counter cannot
        // tell two uses of one signature apart: the ceremony must.
        let (_w, app, _mia, mut key) = mia_with_passkey(store, 44, 12, "Synced").await;
        let (c, page) = password_then_page(&app, "mia@bot.gov.au").await;
        let get = options(&page.body, "passkey-get").unwrap();
        key.counter = u32::MAX; // sign() adds one: a counter of 0
        let answer = key.sign(&get);
        let form = [("passkey", answer.as_str()), ("next", "/engagements")];
        let (a, b, d, e) = tokio::join!(
            post(&app, &c, "/login/code", &form),
            post(&app, &c, "/login/code", &form),
            post(&app, &c, "/login/code", &form),
            post(&app, &c, "/login/code", &form),
        );
        let signed_in = [&a, &b, &d, &e]
            .iter()
            .filter(|r| r.status == StatusCode::SEE_OTHER && r.location == "/engagements")
            .count();
        assert_eq!(
            signed_in, 1,
            "{} {} {} {}",
            a.status, b.status, d.status, e.status
        );
    }
}

#[tokio::test]
async fn adding_a_factor_to_an_account_with_one_needs_a_fresh_proof() {
    for store in stores("web-passkeys-fresh").await {
        let w = world(store).await;
        let app = router(&w.store, [127, 0, 0, 45]).await;
        // Signed in with her password before she had a factor; an app was
        // set up since, elsewhere: this session never proved it.
        let mia = w.client(&app, Who::Member).await;
        let person = w
            .store
            .person_by_email(&Email::parse("mia@bot.gov.au").unwrap())
            .await
            .unwrap()
            .unwrap();
        let secret = [4u8; 20];
        w.store
            .enrol_second_factor(
                person,
                &secret,
                1,
                &["abcdefghjk".into(), "bcdefghjkm".into()],
                NOW,
            )
            .await
            .unwrap();
        let page = send(&app, &mia, Method::GET, "/settings/second-factor", &[]).await;
        assert!(page.body.contains("Confirm it is you"), "{}", page.body);
        assert!(
            options(&page.body, "passkey-create").is_none(),
            "no ceremony to orphan"
        );
        let csrf = csrf_of(&page.body).unwrap();
        let key = SoftKey::new(13);
        let r = post(
            &app,
            &mia,
            "/settings/passkeys",
            &[("csrf", &csrf), ("name", "Planted"), ("credential", "{}")],
        )
        .await;
        assert_eq!(r.status, StatusCode::UNPROCESSABLE_ENTITY);
        assert!(r.body.contains("Confirm it is you first"), "{}", r.body);
        assert!(w.store.passkeys_of(person).await.unwrap().is_empty());
        // A recovery code confirms it; then the passkey goes in.
        let r = post(
            &app,
            &mia,
            "/settings/second-factor/confirm",
            &[("csrf", &csrf), ("code", "abcde-fghjk")],
        )
        .await;
        assert_eq!(
            r.location, "/settings/second-factor?saved=confirmed",
            "{}",
            r.body
        );
        let r = add(&app, &mia, &key, "Laptop").await;
        assert_eq!(r.status, StatusCode::OK, "{}", r.body);
        assert!(r.body.contains("Your passkey is added."));
        assert!(
            !r.body.contains("Save your recovery codes"),
            "she has codes already"
        );
        assert_eq!(w.store.passkeys_of(person).await.unwrap().len(), 1);
        // Confirming again while the proof is fresh spends no recovery code.
        let r = post(
            &app,
            &mia,
            "/settings/second-factor/confirm",
            &[("csrf", &csrf), ("code", "bcdef-ghjkm")],
        )
        .await;
        assert_eq!(r.location, "/settings/second-factor");
        assert_eq!(w.store.recovery_left(person).await.unwrap(), 1);
    }
}

#[tokio::test]
async fn someone_with_passkeys_sets_up_an_app_too() {
    for store in stores("web-passkeys-app").await {
        let (_w, app, mia, _key) = mia_with_passkey(store, 46, 14, "Key").await;
        let page = send(&app, &mia, Method::GET, "/settings/second-factor", &[]).await;
        assert!(
            page.body.contains("Set up an authenticator app too"),
            "{}",
            page.body
        );
        let secret = key_of(&page.body);
        let csrf = csrf_of(&page.body).unwrap();
        let r = post(
            &app,
            &mia,
            "/settings/second-factor",
            &[("csrf", &csrf), ("code", &code_at(&secret, step_now()))],
        )
        .await;
        assert_eq!(r.status, StatusCode::OK, "{}", r.body);
        assert!(!r.body.contains("Save your recovery codes"), "she has hers");
        assert!(
            r.body.contains("Your authenticator app is on."),
            "{}",
            r.body
        );
        let after = send(&app, &mia, Method::GET, "/settings/second-factor", &[]).await;
        assert!(after.body.contains("On since"), "{}", after.body);
    }
}

#[tokio::test]
async fn removing_a_passkey_needs_a_proof_and_the_last_takes_the_codes() {
    for store in stores("web-passkeys-remove").await {
        let w = world(store).await;
        let app = router(&w.store, [127, 0, 0, 43]).await;
        let mia = w.client(&app, Who::Member).await;
        let mut key = SoftKey::new(9);
        let r = add(&app, &mia, &key, "Phone").await;
        assert_eq!(r.status, StatusCode::OK);
        let second = SoftKey::new(10);
        let r = add(&app, &mia, &second, "<b>Spare</b> \"key\"").await;
        assert_eq!(r.status, StatusCode::OK, "{}", r.body);
        assert!(r.body.contains("Your passkey is added."));
        assert!(!r.body.contains("Save your recovery codes"), "once only");
        assert!(
            r.body.contains("&lt;b&gt;Spare&lt;&#x2f;b&gt;")
                || r.body.contains("&lt;b&gt;Spare&lt;/b&gt;")
        );
        // A name that breaks a line, or is too long, is refused beside it.
        let page = send(&app, &mia, Method::GET, "/settings/second-factor", &[]).await;
        let csrf = csrf_of(&page.body).unwrap();
        for bad in ["Line\r\nBcc: x@evil.example", &"n".repeat(61)] {
            let r = post(
                &app,
                &mia,
                "/settings/passkeys",
                &[("csrf", &csrf), ("name", bad), ("credential", "{}")],
            )
            .await;
            assert_eq!(r.status, StatusCode::UNPROCESSABLE_ENTITY);
            assert!(r.body.contains("The name"), "{}", r.body);
        }
        let page = send(&app, &mia, Method::GET, "/settings/second-factor", &[]).await;
        let csrf = csrf_of(&page.body).unwrap();
        let ids: Vec<String> = page
            .body
            .match_indices("name=\"passkey_id\" value=\"")
            .map(|(at, m)| {
                let rest = &page.body[at + m.len()..];
                rest[..rest.find('"').unwrap()].to_string()
            })
            .collect();
        assert_eq!(ids.len(), 2, "{}", page.body);
        // No proof, a wrong code, or another person's passkey id: refused.
        let first = ids[0].clone();
        let r = post(
            &app,
            &mia,
            "/settings/passkeys/remove",
            &[
                ("csrf", &csrf),
                ("passkey_id", &first),
                ("code", "abcde-fghij"),
            ],
        )
        .await;
        assert_eq!(r.status, StatusCode::UNPROCESSABLE_ENTITY);
        let r = post(
            &app,
            &mia,
            "/settings/passkeys/remove",
            &[
                ("csrf", &csrf),
                ("passkey_id", "99999"),
                ("code", "abcde-fghij"),
            ],
        )
        .await;
        assert_eq!(r.status, StatusCode::UNPROCESSABLE_ENTITY);
        assert!(r.body.contains("Choose which passkey to remove"));
        // With a signature from her passkey: removed.
        let page = send(&app, &mia, Method::GET, "/settings/second-factor", &[]).await;
        let get = options(&page.body, "passkey-get").unwrap();
        let r = post(
            &app,
            &mia,
            "/settings/passkeys/remove",
            &[
                ("csrf", &csrf),
                ("passkey_id", &first),
                ("passkey", &key.sign(&get)),
            ],
        )
        .await;
        assert_eq!(
            (r.status, r.location.as_str()),
            (
                StatusCode::SEE_OTHER,
                "/settings/second-factor?saved=passkey-removed"
            ),
            "{}",
            r.body
        );
        let page = send(
            &app,
            &mia,
            Method::GET,
            "/settings/second-factor?saved=passkey-removed",
            &[],
        )
        .await;
        assert!(page.body.contains("The passkey is removed"));
        assert!(!page.body.contains(">Phone<"));
        // Her settings say what is left.
        let settings = send(&app, &mia, Method::GET, "/settings", &[]).await;
        assert!(
            settings.body.contains("You have 1 passkey."),
            "{}",
            settings.body
        );
    }
}

#[tokio::test]
async fn answers_sent_all_at_once_from_one_address_stop_at_its_limit() {
    for store in stores("web-passkeys-flood").await {
        let (_w, app, _mia, _key) = mia_with_passkey(store, 47, 15, "Key").await;
        let (c, _) = password_then_page(&app, "mia@bot.gov.au").await;
        let form = [("passkey", "{\"forged\": true}"), ("next", "/engagements")];
        let tries = (0..36).map(|_| post(&app, &c, "/login/code", &form));
        let answers = futures_util::future::join_all(tries).await;
        let checked = answers
            .iter()
            .filter(|r| r.status == StatusCode::UNPROCESSABLE_ENTITY)
            .count();
        let refused = answers
            .iter()
            .filter(|r| r.status == StatusCode::TOO_MANY_REQUESTS)
            .count();
        // The address's limit (30 in 15 minutes), counted before each is read.
        assert_eq!((checked, refused), (30, 6));
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn one_recovery_code_sent_from_ten_sessions_at_once_signs_in_once_without_errors() {
    for store in stores("web-recovery-race").await {
        let w = world(store).await;
        let app = router(&w.store, [127, 0, 0, 48]).await;
        let mia = w.client(&app, Who::Member).await;
        let r = add(&app, &mia, &SoftKey::new(16), "Key").await;
        let code = r.body[r.body.find("<li><code>").unwrap() + 10..][..11].to_string();
        let mut pending = Vec::new();
        for _ in 0..10 {
            pending.push(password_then_page(&app, "mia@bot.gov.au").await.0);
        }
        // Each on a task of its own, so that they run on the runtime's
        // threads at once, as a server's requests do.
        let tasks: Vec<_> = pending
            .into_iter()
            .map(|c| {
                let (app, code) = (app.clone(), code.clone());
                tokio::spawn(async move {
                    let form = [("code", code.as_str()), ("next", "/engagements")];
                    post(&app, &c, "/login/code", &form).await.status
                })
            })
            .collect();
        let mut statuses = Vec::new();
        for t in tasks {
            statuses.push(t.await.unwrap());
        }
        // Each session saves itself while codes are checked: one sign-in,
        // and no error for the others (a served SQLite once gave "database
        // is locked" here; every writing transaction now takes the lock
        // when it begins, Store::begin_write).
        assert!(
            statuses
                .iter()
                .all(|s| *s != StatusCode::INTERNAL_SERVER_ERROR),
            "{statuses:?}"
        );
        assert_eq!(
            statuses
                .iter()
                .filter(|s| **s == StatusCode::SEE_OTHER)
                .count(),
            1,
            "{statuses:?}"
        );
    }
}
