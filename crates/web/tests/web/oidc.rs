//! Signing in with an OpenID provider, against a real, certified one:
//! panva's `oidc-provider` from npm (`npm ci` installs it), started here on
//! loopback by `scripts/oidc-provider.mjs`, on every backend. The browser
//! is this test: it follows each redirect, to the provider (keeping the
//! provider's cookies) and back to the workspace (keeping the session).
//!
//! A provider account with a member's verified address waits for that
//! member's password before it is linked (anyone else's password links
//! nothing); a new address at a mapped domain makes a member of its agency;
//! an admin still sets up a second factor; and each refusal leaves the visitor signed out
//! with a message: a token for another audience, an expired token, a
//! replayed answer, a domain not allowed, a provider that is down, and a
//! deactivated person.

use std::collections::HashMap;

use super::*;
use waymark_core::oidc::Provider;
use waymark_web::oidc::Configured;

const CLIENT: &str = "waymark-test";
const SECRET: &str = "a client secret for the tests";
const REDIRECT: &str = "http://waymark.test/login/oidc/test/callback";

/// The provider: a node process, stopped on drop.
struct Op {
    base: String,
    child: std::process::Child,
}

impl Drop for Op {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

impl Op {
    /// Starts the provider, or says why it cannot (and the test skips).
    fn start() -> Option<Op> {
        use std::io::BufRead;
        use std::process::{Command, Stdio};
        let root = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("../..");
        if !root.join("node_modules/oidc-provider").is_dir() {
            waymark_store::testing::skip(
                "the OpenID sign-in tests need node and oidc-provider (npm ci)",
            );
            return None;
        }
        let port = waymark_store::testing::free_port();
        let mut child = Command::new("node")
            .arg(root.join("scripts/oidc-provider.mjs"))
            .args([&port.to_string(), CLIENT, SECRET, REDIRECT])
            .current_dir(&root)
            .stdout(Stdio::piped())
            .stderr(Stdio::inherit())
            .spawn()
            .expect("node runs");
        let mut line = String::new();
        let out = child.stdout.take().unwrap();
        std::io::BufReader::new(out).read_line(&mut line).unwrap();
        assert_eq!(line.trim(), "ready", "the provider did not start");
        Some(Op {
            base: format!("http://127.0.0.1:{port}"),
            child,
        })
    }

    /// Who signs in at the provider next, and how the token is spoilt.
    async fn next(&self, sub: &str, email: &str, verified: bool, tamper: Option<&str>) {
        let body = serde_json::json!({
            "account": {"sub": sub, "email": email, "email_verified": verified, "name": "Test Person"},
            "tamper": tamper,
        });
        let (status, _, _) = fetch(
            &format!("{}/__test", self.base),
            "POST",
            &mut HashMap::new(),
            body.to_string(),
        )
        .await;
        assert_eq!(status, 204);
    }
}

/// One request to the provider: status, `Location`, body; its cookies kept.
async fn fetch(
    url: &str,
    method: &str,
    jar: &mut HashMap<String, String>,
    body: String,
) -> (u16, String, String) {
    use http_body_util::Full;
    let url = url::Url::parse(url).unwrap();
    let (path, host) = waymark_web::fetch::target(&url);
    let cookies = jar
        .iter()
        .map(|(k, v)| format!("{k}={v}"))
        .collect::<Vec<_>>()
        .join("; ");
    let req = hyper::Request::builder()
        .method(method)
        .uri(path)
        .header(header::HOST, host)
        .header(header::COOKIE, cookies)
        .header(header::CONTENT_TYPE, "application/json")
        .body(Full::new(hyper::body::Bytes::from(body)))
        .unwrap();
    let addr = waymark_web::fetch::resolve(&url).await.unwrap()[0];
    let a = waymark_web::fetch::send(&waymark_web::fetch::tls(), &url, addr, req, 1 << 20)
        .await
        .unwrap();
    for c in a.headers.get_all(header::SET_COOKIE) {
        let pair = c.to_str().unwrap().split(';').next().unwrap();
        if let Some((k, v)) = pair.split_once('=') {
            jar.insert(k.to_string(), v.to_string());
        }
    }
    let location = a
        .headers
        .get(header::LOCATION)
        .map(|v| v.to_str().unwrap().to_string())
        .unwrap_or_default();
    (
        a.status,
        location,
        String::from_utf8_lossy(&a.body).into_owned(),
    )
}

/// The workspace with the test provider and one that is down.
async fn app_with(store: &Store, op: &Op) -> Router {
    crate::logs();
    let mut settings = Settings::new(
        store.clone(),
        Arc::new(waymark_model::bundled()),
        &format!("http://{HOST}"),
    );
    let provider = |name: &str, issuer: &str| Configured {
        rules: Provider {
            name: name.into(),
            label: format!("{name} ID"),
            issuer: issuer.into(),
            client_id: CLIENT.into(),
            agencies: [("bot.gov.au".to_string(), "BOT".to_string())].into(),
            domains: vec!["dta.gov.au".into()],
            create_accounts: true,
            trust_email: false,
        },
        secret: SECRET.into(),
    };
    let closed = waymark_store::testing::free_port();
    settings.oidc = vec![
        provider("test", &op.base),
        provider("down", &format!("http://127.0.0.1:{closed}")),
    ];
    Application::build(settings)
        .await
        .unwrap()
        .router()
        .layer(MockConnectInfo(SocketAddr::from(([127, 0, 0, 77], 40000))))
}

/// Signs in with the provider as far as the callback's answer: the
/// browser's session, and the callback's address and reply.
async fn through_provider(app: &Router, op: &Op) -> (Client, String, Reply) {
    let start = send(
        app,
        &Client::default(),
        Method::GET,
        "/login/oidc/test?next=/engagements",
        &[],
    )
    .await;
    assert_eq!(start.status, StatusCode::SEE_OTHER, "{}", start.body);
    assert!(start.location.starts_with(&op.base), "{}", start.location);
    for part in [
        "code_challenge_method=S256",
        "state=",
        "nonce=",
        "response_type=code",
    ] {
        assert!(start.location.contains(part), "{part}: {}", start.location);
    }
    let c = Client {
        cookie: cookie_of(&start),
        csrf: String::new(),
    };
    let mut jar = HashMap::new();
    let mut url = start.location.clone();
    for _ in 0..8 {
        let (status, location, body) = fetch(&url, "GET", &mut jar, String::new()).await;
        assert_eq!(status, 303, "{url}: {body}");
        let next = url::Url::parse(&url)
            .unwrap()
            .join(&location)
            .unwrap()
            .to_string();
        if let Some(path) = next.strip_prefix("http://waymark.test") {
            let r = send(app, &c, Method::GET, path, &[]).await;
            return (c, path.to_string(), r);
        }
        url = next;
    }
    panic!("the provider never sent the browser back");
}

/// Signs in at the provider as `sub` with `email`, an address that has a
/// Waymark account, so the provider account waits (the page offers the
/// password form with the address); then types the password of
/// `password_of` in the same browser. The browser as it started, the
/// callback's address, the browser after, and the password's reply.
async fn waiting_then_password(
    app: &Router,
    op: &Op,
    sub: &str,
    email: &str,
    password_of: &str,
    next: &str,
) -> (Client, String, Client, Reply) {
    op.next(sub, email, true, None).await;
    let (c, callback, r) = through_provider(app, op).await;
    assert_eq!(r.status, StatusCode::OK, "{}", r.body);
    assert!(r.body.contains("which has a Waymark account"), "{}", r.body);
    let prefilled = format!("value=\"{}\"", email.to_lowercase());
    assert!(r.body.contains(&prefilled), "{}", r.body);
    assert!(!signed_in(app, &c, &r).await);
    let browser = Client {
        cookie: cookie_of(&r).or(c.cookie.clone()),
        csrf: String::new(),
    };
    let login = send(
        app,
        &browser,
        Method::POST,
        "/login",
        &[
            ("email", password_of),
            ("password", PASSWORD),
            ("next", next),
        ],
    )
    .await;
    assert_eq!(login.status, StatusCode::SEE_OTHER, "{}", login.body);
    (c, callback, browser, login)
}

/// Whether `c` (with the cookie `r` set, if any) is signed in.
async fn signed_in(app: &Router, c: &Client, r: &Reply) -> bool {
    let c = Client {
        cookie: cookie_of(r).or(c.cookie.clone()),
        csrf: String::new(),
    };
    let home = send(app, &c, Method::GET, "/engagements", &[]).await;
    home.status == StatusCode::OK
}

#[tokio::test]
async fn sign_in_with_a_real_openid_provider_and_each_refusal() {
    let Some(op) = Op::start() else {
        return;
    };
    for store in stores("web-oidc").await {
        let w = world(store).await;
        let app = app_with(&w.store, &op).await;

        // The sign-in page offers the provider.
        let page = send(
            &app,
            &Client::default(),
            Method::GET,
            "/login?next=/engagements",
            &[],
        )
        .await;
        assert!(page.body.contains("Sign in with test ID"), "{}", page.body);
        assert!(
            page.body
                .contains("href=\"&#x2f;login&#x2f;oidc&#x2f;test?next=&#x2f;engagements\""),
            "{}",
            page.body
        );

        // Someone else's provider account with Mia's verified address:
        // it waits for her password, and the sponsor's own password does
        // not link it to anyone.
        waiting_then_password(&app, &op, "not-mia", "mia@bot.gov.au", "eve@bot.gov.au", "").await;
        let mia = w
            .store
            .person_by_email(&Email::parse("mia@bot.gov.au").unwrap())
            .await
            .unwrap()
            .unwrap();
        let eve = w
            .store
            .person_by_email(&Email::parse("eve@bot.gov.au").unwrap())
            .await
            .unwrap()
            .unwrap();
        assert!(w.store.identities_of(mia).await.unwrap().is_empty());
        assert!(w.store.identities_of(eve).await.unwrap().is_empty());

        // Mia's own: her provider vouches for her address, she signs in
        // with her password once in the same browser, and it is linked;
        // she is told by mail.
        let (c, callback, browser, r) = waiting_then_password(
            &app,
            &op,
            "mia-at-idp",
            "Mia@bot.gov.au",
            "mia@bot.gov.au",
            "/engagements",
        )
        .await;
        assert_eq!(r.location, "/engagements", "{}", r.body);
        assert!(signed_in(&app, &browser, &r).await);
        let links = w.store.identities_of(mia).await.unwrap();
        assert_eq!(links.len(), 1);
        assert_eq!(
            (links[0].issuer.as_str(), links[0].subject.as_str()),
            (op.base.as_str(), "mia-at-idp")
        );
        let admin = Actor {
            person: mia,
            roles: vec![Role::ProgrammeAdmin],
        };
        let told = w.store.outbox(&admin, 50).await.unwrap();
        assert!(
            told.iter()
                .any(|m| m.recipient == "mia@bot.gov.au" && m.body.contains("You linked test ID")),
            "{told:?}"
        );
        // From now on the button alone signs her in.
        op.next("mia-at-idp", "mia@bot.gov.au", true, None).await;
        let (_, _, again) = through_provider(&app, &op).await;
        assert_eq!(again.location, "/engagements", "{}", again.body);
        // Her settings list the account; her data download holds the link.
        let signed = Client {
            cookie: cookie_of(&r),
            csrf: String::new(),
        };
        let settings = send(&app, &signed, Method::GET, "/settings", &[]).await;
        assert!(
            settings.body.contains("Accounts you sign in with"),
            "{}",
            settings.body
        );
        assert!(
            settings.body.contains("test ID: first used"),
            "{}",
            settings.body
        );
        let data = send(&app, &signed, Method::GET, "/settings/data", &[]).await;
        assert!(data.body.contains("\"mia-at-idp\""), "{}", data.body);
        // The API lists them to her, and to nobody else but admins.
        let path = format!("/api/v1/people/{}/sign-in-accounts", mia.0);
        let (status, body) = api_call(
            &app,
            Method::GET,
            &path,
            &token_for(&w.store, "mia@bot.gov.au").await,
            "",
        )
        .await;
        assert_eq!(status, StatusCode::OK, "{body}");
        assert_eq!(body[0]["subject"], "mia-at-idp");
        assert_eq!(body[0]["issuer"], op.base.as_str());
        let (status, _) = api_call(
            &app,
            Method::GET,
            &path,
            &token_for(&w.store, "eve@bot.gov.au").await,
            "",
        )
        .await;
        assert_eq!(status, StatusCode::FORBIDDEN);

        // A replayed answer: the same callback again, in the browser that
        // started it and in the signed-in one, is refused.
        let again = send(&app, &c, Method::GET, &callback, &[]).await;
        assert_eq!(again.status, StatusCode::BAD_REQUEST, "{}", again.body);
        assert!(again.body.contains("already been used"), "{}", again.body);
        let signed = Client {
            cookie: cookie_of(&r),
            csrf: String::new(),
        };
        let again = send(&app, &signed, Method::GET, &callback, &[]).await;
        assert_eq!(again.status, StatusCode::BAD_REQUEST, "{}", again.body);
        // A forged state in a started sign-in is refused too.
        op.next("mia-at-idp", "mia@bot.gov.au", true, None).await;
        let start = send(
            &app,
            &Client::default(),
            Method::GET,
            "/login/oidc/test",
            &[],
        )
        .await;
        let forged = Client {
            cookie: cookie_of(&start),
            csrf: String::new(),
        };
        let r2 = send(
            &app,
            &forged,
            Method::GET,
            "/login/oidc/test/callback?code=x&state=forged",
            &[],
        )
        .await;
        assert_eq!(r2.status, StatusCode::BAD_REQUEST, "{}", r2.body);
        assert!(r2.body.contains("state is not the one"), "{}", r2.body);
        assert!(!signed_in(&app, &forged, &r2).await);

        // The same subject again signs in by its link, with a new address
        // on an allowed domain.
        op.next("mia-at-idp", "mia.m@bot.gov.au", false, None).await;
        let (c, _, r) = through_provider(&app, &op).await;
        assert_eq!(r.status, StatusCode::SEE_OTHER, "{}", r.body);
        assert!(signed_in(&app, &c, &r).await);

        // A new address at a mapped domain makes a member of its agency.
        op.next("nina-at-idp", "nina@bot.gov.au", true, None).await;
        let (c, _, r) = through_provider(&app, &op).await;
        assert_eq!(r.status, StatusCode::SEE_OTHER, "{}", r.body);
        assert!(signed_in(&app, &c, &r).await);
        let nina = w
            .store
            .person_by_email(&Email::parse("nina@bot.gov.au").unwrap())
            .await
            .unwrap()
            .unwrap();
        let actor = w.store.actor(nina).await.unwrap();
        assert_eq!(
            actor.roles,
            vec![Role::AgencyMember {
                agency: w.agency,
                sponsor: false
            }]
        );

        // An unverified address links to nobody.
        op.next("sam-at-idp", "sam@dta.gov.au", false, None).await;
        let (c, _, r) = through_provider(&app, &op).await;
        assert_eq!(r.status, StatusCode::FORBIDDEN, "{}", r.body);
        assert!(
            r.body.contains("has not verified your email address"),
            "{}",
            r.body
        );
        assert!(!signed_in(&app, &c, &r).await);

        // An admin linked by her password and signed in by the provider
        // still sets up a second factor.
        waiting_then_password(
            &app,
            &op,
            "ada-at-idp",
            "ada@dta.gov.au",
            "ada@dta.gov.au",
            "",
        )
        .await;
        op.next("ada-at-idp", "ada@dta.gov.au", true, None).await;
        let (_, _, r) = through_provider(&app, &op).await;
        assert_eq!(r.status, StatusCode::SEE_OTHER, "{}", r.body);
        let signed = Client {
            cookie: cookie_of(&r),
            csrf: String::new(),
        };
        let home = send(&app, &signed, Method::GET, "/engagements", &[]).await;
        assert_eq!(home.location, "/settings/second-factor", "{}", home.body);

        // Refusals, each leaving the visitor signed out.
        type Case<'a> = (&'a str, &'a str, bool, Option<&'a str>, StatusCode, &'a str);
        let cases: [Case; 4] = [
            (
                "mia-at-idp",
                "mia@bot.gov.au",
                true,
                Some("audience"),
                StatusCode::BAD_REQUEST,
                "issued for another application",
            ),
            (
                "mia-at-idp",
                "mia@bot.gov.au",
                true,
                Some("expired"),
                StatusCode::BAD_REQUEST,
                "has expired",
            ),
            (
                "gus-at-idp",
                "gus@gmail.com",
                true,
                None,
                StatusCode::FORBIDDEN,
                "Addresses at gmail.com cannot sign in",
            ),
            (
                "olly-at-idp",
                "olly@oth.gov.au",
                true,
                None,
                StatusCode::FORBIDDEN,
                "Addresses at oth.gov.au cannot sign in",
            ),
        ];
        for (sub, email, verified, tamper, status, says) in cases {
            op.next(sub, email, verified, tamper).await;
            let (c, _, r) = through_provider(&app, &op).await;
            assert_eq!(r.status, status, "{email} {tamper:?}: {}", r.body);
            assert!(r.body.contains(says), "{says}: {}", r.body);
            assert!(!signed_in(&app, &c, &r).await, "{email} {tamper:?}");
        }
        assert!(
            w.store
                .person_by_email(&Email::parse("gus@gmail.com").unwrap())
                .await
                .unwrap()
                .is_none()
        );

        // A provider that is down: a message, and the password form still.
        let down = send(
            &app,
            &Client::default(),
            Method::GET,
            "/login/oidc/down",
            &[],
        )
        .await;
        assert_eq!(down.status, StatusCode::BAD_GATEWAY, "{}", down.body);
        assert!(
            down.body.contains("could not reach down ID"),
            "{}",
            down.body
        );
        assert!(down.body.contains("name=\"password\""));
        // An unknown provider is no page.
        let none = send(
            &app,
            &Client::default(),
            Method::GET,
            "/login/oidc/nobody",
            &[],
        )
        .await;
        assert_eq!(none.status, StatusCode::NOT_FOUND);

        // A deactivated person cannot sign in by their link.
        let admin = w
            .store
            .person_by_email(&Email::parse("ada@dta.gov.au").unwrap())
            .await
            .unwrap()
            .unwrap();
        let admin = w.store.actor(admin).await.unwrap();
        w.store.deactivate_person(&admin, mia, NOW).await.unwrap();
        op.next("mia-at-idp", "mia@bot.gov.au", true, None).await;
        let (c, _, r) = through_provider(&app, &op).await;
        assert_eq!(r.status, StatusCode::FORBIDDEN, "{}", r.body);
        assert!(r.body.contains("deactivated"), "{}", r.body);
        assert!(!signed_in(&app, &c, &r).await);
    }
}
