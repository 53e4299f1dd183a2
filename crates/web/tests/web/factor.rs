//! The second factor through the workspace, on every backend, with codes
//! computed here as an authenticator app computes them (RFC 6238): an
//! admin sets one up before anything else; sign-in asks for a code after
//! the password; a code and a recovery code each work once; wrong codes
//! are rate-limited like passwords; a member's is optional and theirs to
//! turn off; an admin resets a lost one; and the API lists and ends
//! sessions and reads and resets second factors.

use super::*;

async fn post(app: &Router, c: &Client, path: &str, form: &[(&str, &str)]) -> Reply {
    send(app, c, Method::POST, path, form).await
}

/// Signs in with a password only, as far as the code page.
async fn password(app: &Router, email: &str) -> Client {
    let (c, r) = sign_in(app, email, PASSWORD).await;
    assert_eq!(r.status, StatusCode::SEE_OTHER, "{}", r.body);
    assert_eq!(r.location, "/login/code?next=/engagements", "{}", r.body);
    c
}

/// Types `code` on the code page; a signed-in client when it was right.
async fn code(app: &Router, c: &Client, code: &str) -> (Client, Reply) {
    let r = post(
        app,
        c,
        "/login/code",
        &[("code", code), ("next", "/engagements")],
    )
    .await;
    let mut c = Client {
        cookie: cookie_of(&r).or(c.cookie.clone()),
        csrf: String::new(),
    };
    if r.status == StatusCode::SEE_OTHER {
        let home = send(app, &c, Method::GET, "/engagements", &[]).await;
        c.csrf = csrf_of(&home.body).unwrap_or_default();
    }
    (c, r)
}

async fn sign_out(app: &Router, c: &Client) {
    let r = post(app, c, "/logout", &[("csrf", &c.csrf)]).await;
    assert_eq!(r.status, StatusCode::SEE_OTHER);
}

#[tokio::test]
async fn an_admin_sets_up_a_second_factor_and_signs_in_with_it() {
    for store in stores("web-factor-admin").await {
        let w = world(store).await;
        let app = router(&w.store, [127, 0, 0, 21]).await;
        // The password alone (the shared helper would set the factor up).
        let r = post(
            &app,
            &Client::default(),
            "/login",
            &[
                ("email", "ada@dta.gov.au"),
                ("password", PASSWORD),
                ("next", ""),
            ],
        )
        .await;
        assert_eq!(r.status, StatusCode::SEE_OTHER);
        let c = Client {
            cookie: cookie_of(&r),
            csrf: String::new(),
        };
        // Nothing else until it is set up: pages, other forms, the API's
        // pages behind sign-in.
        for path in ["/engagements", "/people", "/settings", "/search?q=x"] {
            let r = send(&app, &c, Method::GET, path, &[]).await;
            assert_eq!(
                (r.status, r.location.as_str()),
                (StatusCode::SEE_OTHER, "/settings/second-factor"),
                "{path}"
            );
        }
        let page = send(&app, &c, Method::GET, "/settings/second-factor", &[]).await;
        assert!(
            page.body
                .contains("Programme admins sign in with a password and a second factor")
        );
        // (minijinja writes `/` in attributes as `&#x2f;`, as browsers read.)
        let shown = page.body.replace("&#x2f;", "/");
        assert!(
            shown.contains("src=\"data:image/svg+xml;base64,"),
            "{}",
            page.body
        );
        let csrf = csrf_of(&page.body).unwrap();
        let r = post(
            &app,
            &c,
            "/settings",
            &[("csrf", &csrf), ("time_zone", "UTC"), ("notify", "each")],
        )
        .await;
        assert_eq!(r.location, "/settings/second-factor");
        // The QR code is the key's otpauth URL, drawn as SVG.
        let b64 = shown.split("data:image/svg+xml;base64,").nth(1).unwrap();
        let svg = base64_decode(&b64[..b64.find('"').unwrap()]);
        assert!(svg.contains("<svg") && svg.contains("</svg>"), "{svg}");
        // The page keeps the same key when reloaded (the app scanned it).
        let again = send(&app, &c, Method::GET, "/settings/second-factor", &[]).await;
        assert_eq!(key_of(&again.body), key_of(&page.body));
        // A wrong code, a recovery-shaped code and nonsense are refused
        // beside the field; nothing is set up.
        for (typed, says) in [
            ("000000", "That code does not match"),
            ("abcde-fghij", "Type the 6 digits"),
            ("<script>", "enter the 6-digit code"),
            (&"9".repeat(100_000), "enter the 6-digit code"),
        ] {
            let r = post(
                &app,
                &c,
                "/settings/second-factor",
                &[("csrf", &csrf), ("code", typed)],
            )
            .await;
            assert_eq!(r.status, StatusCode::UNPROCESSABLE_ENTITY, "{typed:.20}");
            assert!(
                r.body.to_lowercase().contains(&says.to_lowercase()),
                "{typed:.20}: {}",
                r.body
            );
            assert!(!r.body.contains("<script>"));
        }
        // A second browser signed in with the password alone meanwhile.
        let r = post(
            &app,
            &Client::default(),
            "/login",
            &[
                ("email", "ada@dta.gov.au"),
                ("password", PASSWORD),
                ("next", ""),
            ],
        )
        .await;
        let elsewhere = Client {
            cookie: cookie_of(&r),
            csrf: String::new(),
        };
        let (key, enrolled, recovery) = set_up_factor(&app, &c).await;
        // It never gave a code: it is signed out, not let in.
        let r = send(&app, &elsewhere, Method::GET, "/people", &[]).await;
        assert!(r.location.starts_with("/login"), "{}", r.location);
        assert!(
            recovery
                .iter()
                .all(|r| r.len() == 11 && r.as_bytes()[5] == b'-'),
            "{recovery:?}"
        );
        // Shown once: the page now says it is on, with no codes.
        let page = send(&app, &c, Method::GET, "/settings/second-factor", &[]).await;
        assert!(
            page.body.contains("10</strong> recovery codes left"),
            "{}",
            page.body
        );
        assert!(!page.body.contains(&recovery[0]));
        assert!(!page.body.contains("setup-key"));
        let home = send(&app, &c, Method::GET, "/engagements", &[]).await;
        assert_eq!(home.status, StatusCode::OK);
        let c = Client {
            csrf: csrf_of(&home.body).unwrap(),
            ..c
        };
        sign_out(&app, &c).await;

        // Signing in: the password, then the code. Without the code the
        // browser is not signed in.
        let half = password(&app, "ada@dta.gov.au").await;
        let r = send(&app, &half, Method::GET, "/engagements", &[]).await;
        assert!(r.location.starts_with("/login"), "{}", r.location);
        let page = send(
            &app,
            &half,
            Method::GET,
            "/login/code?next=/engagements",
            &[],
        )
        .await;
        assert!(page.body.contains("Enter your code"));
        // The code that set it up (or an older one) does not sign in.
        let (_, r) = code(&app, &half, &code_at(&key, enrolled)).await;
        assert_eq!(
            r.status,
            StatusCode::UNPROCESSABLE_ENTITY,
            "replayed: {}",
            r.location
        );
        let next = code_at(&key, enrolled + 1);
        let spaced = format!("{} {}", &next[..3], &next[3..]);
        let (signed_in, r) = code(&app, &half, &spaced).await;
        assert_eq!(
            (r.status, r.location.as_str()),
            (StatusCode::SEE_OTHER, "/engagements"),
            "{}",
            r.body
        );
        assert!(!signed_in.csrf.is_empty());
        // The same code again, in another browser: refused.
        let other = password(&app, "ada@dta.gov.au").await;
        let (_, r) = code(&app, &other, &next).await;
        assert_eq!(r.status, StatusCode::UNPROCESSABLE_ENTITY);
        assert!(r.body.contains("used already"), "{}", r.body);
        // A recovery code signs in once, and says how many are left.
        let (rescued, r) = code(&app, &other, &recovery[3].to_uppercase()).await;
        assert_eq!(
            r.location, "/settings/second-factor?saved=recovery",
            "{}",
            r.body
        );
        let page = send(&app, &rescued, Method::GET, &r.location, &[]).await;
        assert!(
            page.body.contains("9</strong> recovery codes left"),
            "{}",
            page.body
        );
        let third = password(&app, "ada@dta.gov.au").await;
        let (_, r) = code(&app, &third, &recovery[3]).await;
        assert_eq!(
            r.status,
            StatusCode::UNPROCESSABLE_ENTITY,
            "a recovery code twice"
        );

        // New recovery codes need a code; the old ones stop working.
        let page = send(&app, &rescued, Method::GET, "/settings/second-factor", &[]).await;
        let csrf = csrf_of(&page.body).unwrap();
        let r = post(
            &app,
            &rescued,
            "/settings/second-factor/codes",
            &[("csrf", &csrf), ("code", &recovery[5])],
        )
        .await;
        assert_eq!(r.status, StatusCode::OK, "{}", r.body);
        assert!(r.body.contains("Save your recovery codes now"));
        assert!(!r.body.contains(&recovery[6]));
        let fresh = r.body.split("<li><code>").nth(1).unwrap();
        let fresh = fresh[..fresh.find("</code>").unwrap()].to_string();
        let ada = w
            .store
            .person_by_email(&Email::parse("ada@dta.gov.au").unwrap())
            .await
            .unwrap()
            .unwrap();
        assert!(
            !w.store
                .use_recovery_code(ada, &recovery[6].replace('-', ""), NOW)
                .await
                .unwrap()
        );

        // Moving to a new phone: the old factor goes, and the admin is
        // taken straight to setting up the new one.
        let r = post(
            &app,
            &rescued,
            "/settings/second-factor/off",
            &[("csrf", &csrf), ("code", "111111")],
        )
        .await;
        assert_eq!(
            r.status,
            StatusCode::UNPROCESSABLE_ENTITY,
            "a wrong code turns nothing off"
        );
        assert!(r.body.contains("id=\"off_code-error\""), "{}", r.body);
        let r = post(
            &app,
            &rescued,
            "/settings/second-factor/off",
            &[("csrf", &csrf), ("code", &fresh)],
        )
        .await;
        assert_eq!(
            r.location, "/settings/second-factor?saved=off",
            "{}",
            r.body
        );
        let r = send(&app, &rescued, Method::GET, "/engagements", &[]).await;
        assert_eq!(r.location, "/settings/second-factor");
        let page = send(&app, &rescued, Method::GET, "/settings/second-factor", &[]).await;
        assert!(page.body.contains("setup-key"));
        assert_ne!(key_of(&page.body), key, "a new key");
    }
}

fn base64_decode(s: &str) -> String {
    use base64::Engine;
    String::from_utf8(base64::engine::general_purpose::STANDARD.decode(s).unwrap()).unwrap()
}

#[tokio::test]
async fn a_member_chooses_a_second_factor_and_an_admin_resets_a_lost_one() {
    for store in stores("web-factor-member").await {
        let w = world(store).await;
        let app = router(&w.store, [127, 0, 0, 22]).await;
        let mia = w.client(&app, Who::Member).await;
        // Optional: her pages work without one, and her settings offer it.
        let settings = send(&app, &mia, Method::GET, "/settings", &[]).await;
        assert!(
            settings.body.contains("Set up a second factor"),
            "{}",
            settings.body
        );
        let (key, step, _) = set_up_factor(&app, &mia).await;
        let settings = send(&app, &mia, Method::GET, "/settings", &[]).await;
        assert!(
            settings
                .body
                .contains("On: you sign in with your password and a code from your phone")
        );
        // She turns it off with a code, and signs in with a password again.
        let page = send(&app, &mia, Method::GET, "/settings/second-factor", &[]).await;
        assert!(page.body.contains("Turn off the app"));
        let csrf = csrf_of(&page.body).unwrap();
        let r = post(
            &app,
            &mia,
            "/settings/second-factor/off",
            &[("csrf", &csrf), ("code", &code_at(&key, step + 1))],
        )
        .await;
        assert_eq!(r.location, "/settings/second-factor?saved=off");
        let (_, r) = sign_in(&app, "mia@bot.gov.au", PASSWORD).await;
        assert_eq!(r.location, "/engagements");
        // On again. A browser she signed in with her password before that
        // (someone who knew it, say) is signed out by it.
        let (_, r) = sign_in(&app, "mia@bot.gov.au", PASSWORD).await;
        let before = Client {
            cookie: cookie_of(&r),
            csrf: String::new(),
        };
        assert_eq!(
            send(&app, &before, Method::GET, "/engagements", &[])
                .await
                .status,
            StatusCode::OK
        );
        let (key, step, recovery) = set_up_factor(&app, &mia).await;
        let r = send(&app, &before, Method::GET, "/engagements", &[]).await;
        assert!(
            r.location.starts_with("/login"),
            "a password-only session lives on"
        );
        assert_eq!(
            send(&app, &mia, Method::GET, "/engagements", &[])
                .await
                .status,
            StatusCode::OK
        );
        // Guessing her code: five wrong ones, then even a right one waits,
        // whichever browser asks.
        let (_, r) = sign_in(&app, "mia@bot.gov.au", PASSWORD).await;
        assert!(r.location.starts_with("/login/code"));
        let half = Client {
            cookie: cookie_of(&r),
            csrf: String::new(),
        };
        for _ in 0..5 {
            let (_, r) = code(&app, &half, "123456").await;
            assert_eq!(r.status, StatusCode::UNPROCESSABLE_ENTITY);
        }
        let (_, r) = code(&app, &half, &code_at(&key, step + 1)).await;
        assert_eq!(r.status, StatusCode::TOO_MANY_REQUESTS);
        assert!(r.retry_after.is_some());
        // Her recovery codes are counted apart: she still gets in with one.
        let (_, r) = code(&app, &half, &recovery[0]).await;
        assert_eq!(
            r.location, "/settings/second-factor?saved=recovery",
            "{}",
            r.body
        );
        // She loses her phone; an admin resets it.
        let admin = w.client(&app, Who::Admin).await;
        let mia_id = w
            .store
            .person_by_email(&Email::parse("mia@bot.gov.au").unwrap())
            .await
            .unwrap()
            .unwrap();
        let page = send(&app, &admin, Method::GET, &format!("/people/{mia_id}"), &[]).await;
        assert!(
            page.body.contains("Reset Person's second factor"),
            "{}",
            page.body
        );
        // Not a member's to do, nor an admin's for themselves.
        let sam = w.client(&app, Who::Staff).await;
        let r = post(
            &app,
            &sam,
            &format!("/people/{mia_id}/second-factor/reset"),
            &[("csrf", &sam.csrf)],
        )
        .await;
        assert_eq!(r.status, StatusCode::FORBIDDEN);
        let ada = w
            .store
            .person_by_email(&Email::parse("ada@dta.gov.au").unwrap())
            .await
            .unwrap()
            .unwrap();
        let r = post(
            &app,
            &admin,
            &format!("/people/{ada}/second-factor/reset"),
            &[("csrf", &admin.csrf)],
        )
        .await;
        assert_eq!(r.status, StatusCode::FORBIDDEN);
        let r = post(
            &app,
            &admin,
            "/people/99999/second-factor/reset",
            &[("csrf", &admin.csrf)],
        )
        .await;
        assert_eq!(r.status, StatusCode::NOT_FOUND);
        let r = post(
            &app,
            &admin,
            &format!("/people/{mia_id}/second-factor/reset"),
            &[("csrf", &admin.csrf)],
        )
        .await;
        assert_eq!(r.location, format!("/people/{mia_id}?saved=factor"));
        // Her sessions ended; she signs in with her password alone.
        let r = send(&app, &mia, Method::GET, "/engagements", &[]).await;
        assert!(r.location.starts_with("/login"), "still signed in");
        let (_, r) = sign_in(&app, "mia@bot.gov.au", PASSWORD).await;
        assert_eq!(r.location, "/engagements");
        let page = send(
            &app,
            &admin,
            Method::GET,
            &format!("/people/{mia_id}?saved=factor"),
            &[],
        )
        .await;
        assert!(page.body.contains("Their second factor is off"));
        // She was told of each change to how she signs in: set up twice,
        // turned off once, reset once.
        let told: Vec<String> = sqlx::query(
            "SELECT body FROM outbox WHERE recipient = 'mia@bot.gov.au' AND kind = 'security' ORDER BY id",
        )
        .fetch_all(w.store.pool())
        .await
        .unwrap()
        .iter()
        .map(|r| sqlx::Row::get::<String, _>(r, 0))
        .collect();
        assert_eq!(told.len(), 4, "{told:?}");
        assert!(
            told[3].contains("a programme admin, turned off the second factor"),
            "{}",
            told[3]
        );
        assert!(
            page.body
                .contains("Off: they sign in with a password alone.")
        );
    }
}

#[tokio::test]
async fn sessions_and_second_factors_through_the_api() {
    for store in stores("api-factor").await {
        let w = world(store).await;
        let app = router(&w.store, [127, 0, 0, 23]).await;
        let _laptop = w.client(&app, Who::Member).await;
        let _phone = w.client(&app, Who::Member).await;
        let mia = w
            .store
            .person_by_email(&Email::parse("mia@bot.gov.au").unwrap())
            .await
            .unwrap()
            .unwrap();
        let (own, admin, staff) = (
            token_for(&w.store, "mia@bot.gov.au").await,
            token_for(&w.store, "ada@dta.gov.au").await,
            token_for(&w.store, "sam@dta.gov.au").await,
        );
        let call = |method: Method, path: String, token: String| {
            let app = app.clone();
            async move { api_call(&app, method, &path, &token, "").await }
        };
        let list = format!("/api/v1/people/{mia}/sessions");
        let (status, sessions) = call(Method::GET, list.clone(), own.clone()).await;
        assert_eq!(status, StatusCode::OK, "{sessions}");
        assert_eq!(sessions.as_array().unwrap().len(), 2, "{sessions}");
        let reference = sessions[0]["reference"].as_str().unwrap().to_string();
        assert_eq!(reference.len(), 16);
        assert!(sessions[0]["expires_at"].as_i64().unwrap() > NOW.0);
        // Another member of staff may not look; an admin may.
        assert_eq!(
            call(Method::GET, list.clone(), staff.clone()).await.0,
            StatusCode::FORBIDDEN
        );
        assert_eq!(
            call(Method::GET, list.clone(), admin.clone()).await.0,
            StatusCode::OK
        );
        assert_eq!(
            call(
                Method::GET,
                "/api/v1/people/99999/sessions".into(),
                admin.clone()
            )
            .await
            .0,
            StatusCode::NOT_FOUND
        );
        let end = format!("/api/v1/people/{mia}/sessions/{reference}/end");
        assert_eq!(
            call(Method::POST, end.clone(), staff.clone()).await.0,
            StatusCode::FORBIDDEN
        );
        assert_eq!(
            call(Method::POST, end.clone(), own.clone()).await.0,
            StatusCode::NO_CONTENT
        );
        assert_eq!(
            call(Method::POST, end, own.clone()).await.0,
            StatusCode::NOT_FOUND
        );
        assert_eq!(
            call(Method::GET, list.clone(), own.clone())
                .await
                .1
                .as_array()
                .unwrap()
                .len(),
            1
        );
        // Second factors: read, and reset by an admin only.
        let factor = format!("/api/v1/people/{mia}/second-factor");
        let (_, v) = call(Method::GET, factor.clone(), own.clone()).await;
        assert_eq!(v["enabled"], false);
        assert_eq!(v["required"], false);
        let key = [3u8; 20];
        w.store
            .enrol_second_factor(mia, &key, 1, &["abcdefghij".into()], NOW)
            .await
            .unwrap();
        let (_, v) = call(Method::GET, factor.clone(), admin.clone()).await;
        assert_eq!(
            (v["enabled"].clone(), v["recovery_codes_left"].clone()),
            (true.into(), 1.into())
        );
        let ada = w
            .store
            .person_by_email(&Email::parse("ada@dta.gov.au").unwrap())
            .await
            .unwrap()
            .unwrap();
        let (_, v) = call(
            Method::GET,
            format!("/api/v1/people/{ada}/second-factor"),
            admin.clone(),
        )
        .await;
        assert_eq!(v["required"], true, "{v}");
        assert_eq!(
            call(Method::GET, factor.clone(), staff.clone()).await.0,
            StatusCode::FORBIDDEN
        );
        let reset = format!("/api/v1/people/{mia}/second-factor/reset");
        assert_eq!(
            call(Method::POST, reset.clone(), own.clone()).await.0,
            StatusCode::FORBIDDEN
        );
        assert_eq!(
            call(Method::POST, reset.clone(), staff.clone()).await.0,
            StatusCode::FORBIDDEN
        );
        assert_eq!(
            call(Method::POST, reset.clone(), admin.clone()).await.0,
            StatusCode::NO_CONTENT
        );
        assert_eq!(
            call(Method::POST, reset, admin.clone()).await.0,
            StatusCode::CONFLICT,
            "the person exists; there is nothing left to reset"
        );
        assert_eq!(call(Method::GET, factor, own).await.1["enabled"], false);
        assert!(
            call(Method::GET, list, admin)
                .await
                .1
                .as_array()
                .unwrap()
                .is_empty(),
            "a reset ends her sessions"
        );
    }
}

/// Provider accounts are unlinked by their person, while they keep a way
/// in, or by a programme admin, which signs them out and tells them; in
/// the browser and through the API, never someone else's.
#[tokio::test]
async fn a_sign_in_account_is_unlinked_by_its_person_or_an_admin() {
    use waymark_core::oidc::Outcome;
    for store in stores("web-unlink").await {
        let w = world(store).await;
        let app = router(&w.store, [127, 0, 0, 24]).await;
        let (bot, old) = ("https://id.bot.gov.au", "https://id.former.gov.au");
        let mia_id = w.id("mia@bot.gov.au").await;
        for (issuer, subject) in [(bot, "mia-sub"), (old, "mia-old")] {
            w.store
                .sign_in_as(issuer, subject, &Outcome::Link(mia_id), NOW)
                .await
                .unwrap();
        }
        // Nina was made by her agency's sign-in: no password, one account.
        let nina = w
            .store
            .sign_in_as(
                bot,
                "nina-sub",
                &Outcome::Create {
                    agency: "BOT".into(),
                    name: "Nina".into(),
                    email: Email::parse("nina@bot.gov.au").unwrap(),
                },
                NOW,
            )
            .await
            .unwrap();
        let links = |p| {
            let store = w.store.clone();
            async move {
                store
                    .identities_of(p)
                    .await
                    .unwrap()
                    .into_iter()
                    .map(|i| i.subject)
                    .collect::<Vec<_>>()
            }
        };

        // Mia's settings list both, each with its own button.
        let mia = w.client(&app, Who::Member).await;
        let page = send(&app, &mia, Method::GET, "/settings", &[]).await;
        assert_eq!(
            page.body
                .matches("action=\"/settings/sign-in-accounts/unlink\"")
                .count(),
            2,
            "{}",
            page.body
        );
        assert!(page.body.contains("value=\"mia-old\""), "{}", page.body);
        assert!(
            page.body
                .contains("these organisation accounts, as well as with your Waymark password"),
            "{}",
            page.body
        );
        // She unlinks her former agency's, and stays signed in.
        let unlink = |c: &Client, path: &str, issuer: &str, subject: &str| {
            let (app, c, path) = (app.clone(), c.clone(), path.to_string());
            let (issuer, subject) = (issuer.to_string(), subject.to_string());
            async move {
                post(
                    &app,
                    &c,
                    &path,
                    &[
                        ("csrf", &c.csrf),
                        ("issuer", &issuer),
                        ("subject", &subject),
                    ],
                )
                .await
            }
        };
        let own = "/settings/sign-in-accounts/unlink";
        let r = unlink(&mia, own, old, "mia-old").await;
        assert_eq!(r.location, "/settings?saved=unlinked", "{}", r.body);
        assert_eq!(links(mia_id).await, ["mia-sub"]);
        let page = send(&app, &mia, Method::GET, "/settings?saved=unlinked", &[]).await;
        assert!(
            page.body.contains("That account is unlinked"),
            "{}",
            page.body
        );
        // Again, or one she never had, or hostile text: nothing goes, and
        // the page says so.
        let long = format!("mia-sub\r\n{}", "x".repeat(100_000));
        for (issuer, subject) in [(old, "mia-old"), (bot, "nina-sub"), (bot, long.as_str())] {
            let r = unlink(&mia, own, issuer, subject).await;
            assert_eq!(r.status, StatusCode::NOT_FOUND, "{}", r.body);
            assert!(r.body.contains("nothing was unlinked"), "{}", r.body);
        }
        assert_eq!(links(mia_id).await, ["mia-sub"]);
        assert_eq!(links(nina).await, ["nina-sub"]);
        // Nor is anyone else's hers to unlink, nor a member of staff's.
        let theirs = format!("/people/{nina}/sign-in-accounts/unlink");
        let sam = w.client(&app, Who::Staff).await;
        for c in [&mia, &sam] {
            let r = unlink(c, &theirs, bot, "nina-sub").await;
            assert_eq!(r.status, StatusCode::FORBIDDEN, "{}", r.body);
        }
        assert_eq!(links(nina).await, ["nina-sub"]);

        // Nina's only way in is not hers to unlink: said, and kept.
        let call = |path: String, token: String, body: String| {
            let app = app.clone();
            async move { api_call(&app, Method::POST, &path, &token, &body).await }
        };
        let body = |issuer: &str, subject: &str| {
            serde_json::json!({ "issuer": issuer, "subject": subject }).to_string()
        };
        let nina_token = token_for(&w.store, "nina@bot.gov.au").await;
        let api_path = |p: PersonId| format!("/api/v1/people/{p}/sign-in-accounts/unlink");
        let (status, v) = call(api_path(nina), nina_token.clone(), body(bot, "nina-sub")).await;
        assert_eq!(status, StatusCode::CONFLICT, "{v}");
        assert_eq!(v["code"], "rule_violated", "{v}");
        assert!(
            v["detail"]
                .as_str()
                .unwrap()
                .contains("only way to sign in"),
            "{v}"
        );
        assert_eq!(links(nina).await, ["nina-sub"]);

        // An admin sees it on her page, warned that it is her only way in.
        let admin = w.client(&app, Who::Admin).await;
        let page = send(&app, &admin, Method::GET, &format!("/people/{nina}"), &[]).await;
        assert!(page.body.contains("Organisation accounts"), "{}", page.body);
        assert!(page.body.contains(&theirs), "{}", page.body);
        assert!(
            page.body.contains("This is their only way in"),
            "{}",
            page.body
        );
        assert!(
            page.body.contains("has no Waymark password"),
            "{}",
            page.body
        );
        assert!(
            page.body
                .contains("Off: they sign in with their organisation&#x27;s account alone."),
            "{}",
            page.body
        );
        // One that is not hers: nothing is done, and nobody is told.
        let mails = |to: &'static str| {
            let store = w.store.clone();
            async move {
                let admin = store
                    .actor(
                        store
                            .person_by_email(&Email::parse("ada@dta.gov.au").unwrap())
                            .await
                            .unwrap()
                            .unwrap(),
                    )
                    .await
                    .unwrap();
                store
                    .outbox(&admin, 100)
                    .await
                    .unwrap()
                    .into_iter()
                    .filter(|m| {
                        m.recipient == to && m.body.contains("unlinked an organisation account")
                    })
                    .map(|m| m.body)
                    .collect::<Vec<_>>()
            }
        };
        let r = unlink(&admin, &theirs, bot, "not-hers").await;
        assert_eq!(r.status, StatusCode::NOT_FOUND, "{}", r.body);
        assert!(r.body.contains("nothing was unlinked"), "{}", r.body);
        assert!(mails("nina@bot.gov.au").await.is_empty());
        // Hers: cut off, her token ended, and mailed a link to set a password.
        let r = unlink(&admin, &theirs, bot, "nina-sub").await;
        assert_eq!(r.location, format!("/people/{nina}?saved=unlinked-last"));
        assert!(links(nina).await.is_empty());
        let page = send(&app, &admin, Method::GET, &r.location, &[]).await;
        assert!(
            page.body
                .contains("mailed a link to set a Waymark password"),
            "{}",
            page.body
        );
        let told = mails("nina@bot.gov.au").await;
        assert_eq!(told.len(), 1, "{told:?}");
        assert!(told[0].contains("/invite/"), "{}", told[0]);
        let (status, _) = api_call(&app, Method::GET, "/api/v1/me", &nina_token, "").await;
        assert_eq!(status, StatusCode::UNAUTHORIZED, "her token ended");
        let r = unlink(&admin, "/people/99999/sign-in-accounts/unlink", bot, "x").await;
        assert_eq!(r.status, StatusCode::NOT_FOUND);

        // Should that link lapse, her page offers a new one, to an admin
        // only, and only while she has no password.
        let page = send(&app, &admin, Method::GET, &format!("/people/{nina}"), &[]).await;
        assert!(
            page.body.contains("Send Nina a link to set a password"),
            "{}",
            page.body
        );
        assert!(page.body.contains("they cannot sign in"), "{}", page.body);
        assert!(
            page.body
                .contains("Off, and they have no password or organisation account"),
            "never a password she has not got: {}",
            page.body
        );
        let send_link = format!("/people/{nina}/password-link");
        for c in [&mia, &sam] {
            let r = post(&app, c, &send_link, &[("csrf", &c.csrf)]).await;
            assert_eq!(r.status, StatusCode::FORBIDDEN, "{}", r.body);
        }
        let r = post(&app, &admin, &send_link, &[("csrf", &admin.csrf)]).await;
        assert_eq!(
            r.location,
            format!("/people/{nina}?saved=link"),
            "{}",
            r.body
        );
        let invites: Vec<String> = w
            .store
            .outbox(
                &w.store.actor(w.id("ada@dta.gov.au").await).await.unwrap(),
                100,
            )
            .await
            .unwrap()
            .into_iter()
            .filter(|m| m.recipient == "nina@bot.gov.au" && m.subject == "Your Waymark account")
            .map(|m| m.body)
            .collect();
        assert_eq!(invites.len(), 1, "{invites:?}");
        let path = invites[0]
            .split_whitespace()
            .find_map(|w| w.find("/invite/").map(|i| w[i..].to_string()))
            .unwrap();
        let page = send(&app, &Client::default(), Method::GET, &path, &[]).await;
        assert_eq!(
            page.status,
            StatusCode::OK,
            "the new link works: {}",
            page.body
        );
        // Not for someone with a password, nor through the API but by an admin.
        let r = post(
            &app,
            &admin,
            &format!("/people/{mia_id}/password-link"),
            &[("csrf", &admin.csrf)],
        )
        .await;
        assert_eq!(r.status, StatusCode::UNPROCESSABLE_ENTITY, "{}", r.body);
        assert!(
            r.body.contains("have a Waymark password already"),
            "{}",
            r.body
        );
        let link_path = |p: PersonId| format!("/api/v1/people/{p}/password-link");
        let ada_token = token_for(&w.store, "ada@dta.gov.au").await;
        let sam_token = token_for(&w.store, "sam@dta.gov.au").await;
        assert_eq!(
            call(link_path(nina), ada_token.clone(), String::new())
                .await
                .0,
            StatusCode::NO_CONTENT
        );
        assert_eq!(
            call(link_path(nina), sam_token, String::new()).await.0,
            StatusCode::FORBIDDEN
        );
        let (status, v) = call(link_path(mia_id), ada_token.clone(), String::new()).await;
        assert_eq!(status, StatusCode::CONFLICT, "{v}");
        assert_eq!(
            call(link_path(PersonId(99_999)), ada_token, String::new())
                .await
                .0,
            StatusCode::NOT_FOUND
        );

        // Through the API: not staff's; an admin's, which signs Mia out and
        // ends her tokens; she keeps her password, so no link is sent.
        let (admin_token, staff_token, mia_token) = (
            token_for(&w.store, "ada@dta.gov.au").await,
            token_for(&w.store, "sam@dta.gov.au").await,
            token_for(&w.store, "mia@bot.gov.au").await,
        );
        let (status, _) = call(api_path(mia_id), staff_token, body(bot, "mia-sub")).await;
        assert_eq!(status, StatusCode::FORBIDDEN);
        let (status, _) = call(api_path(mia_id), admin_token.clone(), body(bot, "nobody")).await;
        assert_eq!(status, StatusCode::NOT_FOUND);
        let (status, _) = call(
            api_path(PersonId(99_999)),
            admin_token.clone(),
            body(bot, "mia-sub"),
        )
        .await;
        assert_eq!(status, StatusCode::NOT_FOUND);
        let (status, v) = call(api_path(mia_id), admin_token.clone(), "{}".into()).await;
        assert_eq!(status, StatusCode::BAD_REQUEST, "{v}");
        assert!(mails("mia@bot.gov.au").await.is_empty());
        let (status, v) = call(api_path(mia_id), admin_token.clone(), body(bot, "mia-sub")).await;
        assert_eq!(status, StatusCode::NO_CONTENT, "{v}");
        assert!(links(mia_id).await.is_empty());
        let r = send(&app, &mia, Method::GET, "/engagements", &[]).await;
        assert!(r.location.starts_with("/login"), "still signed in");
        let (status, _) = api_call(&app, Method::GET, "/api/v1/me", &mia_token, "").await;
        assert_eq!(status, StatusCode::UNAUTHORIZED, "her token ended");
        let told = mails("mia@bot.gov.au").await;
        assert_eq!(told.len(), 1, "{told:?}");
        assert!(!told[0].contains("/invite/"), "{}", told[0]);
        assert!(told[0].contains("ended your API tokens"), "{}", told[0]);
        let (status, _) = call(api_path(mia_id), admin_token, body(bot, "mia-sub")).await;
        assert_eq!(status, StatusCode::NOT_FOUND, "already gone");
    }
}

/// Two accounts at one provider are told apart by the end of their
/// subject, in the list and in their buttons' names.
#[tokio::test]
async fn two_accounts_at_one_provider_are_told_apart() {
    use waymark_core::oidc::Outcome;
    for store in stores("web-unlink-two").await {
        let w = world(store).await;
        let app = router(&w.store, [127, 0, 0, 25]).await;
        let mia = w.id("mia@bot.gov.au").await;
        for subject in ["mia-sub", "mia-sub-2"] {
            w.store
                .sign_in_as("https://id.bot.gov.au", subject, &Outcome::Link(mia), NOW)
                .await
                .unwrap();
        }
        let c = w.client(&app, Who::Member).await;
        let page = send(&app, &c, Method::GET, "/settings", &[]).await;
        for ending in ["ia-sub", "-sub-2"] {
            assert_eq!(
                page.body.matches(&format!("ending “{ending}”")).count(),
                2,
                "shown and in its button: {}",
                page.body
            );
        }
    }
}
