//! Webhooks end to end, on every backend: subscriptions through the API,
//! deliveries queued with the event, signed and sent by the real sender
//! over loopback to `scripts/webhook-receiver.py`, which checks signatures
//! with its own HMAC (Python's `hmac`, by hand from the Standard Webhooks
//! text). Time is the sender's argument, so a day of retries takes no time.
//!
//! Needs python3 (any 3.9+; no packages). Without it the test is skipped
//! and says so (a failure under WAYMARK_REQUIRE_ALL=1).

use std::path::PathBuf;
use std::process::{Child, Command, Stdio};
use std::sync::Arc;
use std::time::Duration;

use serde_json::{Value, json};
use waymark_core::*;
use waymark_store::testing::{skip, stores};
use waymark_store::{Store, now};
use waymark_web::webhook::Sender;
use waymark_web::{Application, Settings};

use crate::api::{call, token};

struct Receiver {
    child: Child,
    port: u16,
    log: PathBuf,
    secrets: PathBuf,
}

impl Receiver {
    fn start(name: &str) -> Option<Receiver> {
        let dir =
            std::env::temp_dir().join(format!("waymark-webhooks-{}-{name}", std::process::id()));
        let _ = std::fs::remove_dir_all(&dir);
        std::fs::create_dir_all(&dir).unwrap();
        let script = concat!(
            env!("CARGO_MANIFEST_DIR"),
            "/../../scripts/webhook-receiver.py"
        );
        let (port_file, log, secrets) = (dir.join("port"), dir.join("log"), dir.join("secrets"));
        let child = Command::new("python3")
            .arg(script)
            .args([&port_file, &log, &secrets])
            .stdin(Stdio::null())
            .spawn();
        let Ok(child) = child else {
            skip("the webhook receiver test: python3 is not installed");
            return None;
        };
        for _ in 0..200 {
            if let Ok(p) = std::fs::read_to_string(&port_file) {
                return Some(Receiver {
                    child,
                    port: p.trim().parse().unwrap(),
                    log,
                    secrets,
                });
            }
            std::thread::sleep(Duration::from_millis(25));
        }
        panic!("the webhook receiver did not start");
    }

    fn url(&self, path: &str) -> String {
        format!("http://127.0.0.1:{}{path}", self.port)
    }

    /// Gives the receiver a subscription's secret.
    fn trust(&self, secret: &str) {
        use std::io::Write;
        let mut f = std::fs::OpenOptions::new()
            .append(true)
            .create(true)
            .open(&self.secrets)
            .unwrap();
        writeln!(f, "{secret}").unwrap();
    }

    /// What it received, oldest first.
    fn log(&self) -> Vec<Value> {
        std::fs::read_to_string(&self.log)
            .unwrap_or_default()
            .lines()
            .map(|l| serde_json::from_str(l).unwrap())
            .collect()
    }

    fn at(&self, path: &str) -> Vec<Value> {
        self.log()
            .into_iter()
            .filter(|e| e["path"] == path)
            .collect()
    }
}

impl Drop for Receiver {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

fn loopback() -> Vec<ipnet::IpNet> {
    vec!["127.0.0.0/8".parse().unwrap()]
}

async fn app(store: &Store, allow: Vec<ipnet::IpNet>) -> axum::Router {
    crate::logs();
    let mut settings = Settings::new(
        store.clone(),
        Arc::new(waymark_model::bundled()),
        "https://waymark.example.gov.au",
    );
    settings.webhook_allow = allow;
    Application::build(settings).await.unwrap().router()
}

/// Subscribes `url` to `events` as the token's owner: (id, secret).
async fn subscribe(app: &axum::Router, token: &str, url: &str, events: &[&str]) -> (i64, String) {
    let body = json!({ "url": url, "events": events, "description": "test" }).to_string();
    let (status, _, v) = call(app, "POST", "/api/v1/webhooks", Some(token), Some(&body)).await;
    assert_eq!(status, 201, "{v}");
    (
        v["subscription"]["id"].as_i64().unwrap(),
        v["secret"].as_str().unwrap().to_string(),
    )
}

/// Sends everything due at `t`, pass after pass.
async fn drain(sender: &Sender, store: &Store, t: Timestamp) -> usize {
    let mut n = 0;
    loop {
        match sender.deliver_due(store, t).await {
            0 => return n,
            k => n += k,
        }
    }
}

async fn deliveries(app: &axum::Router, token: &str, id: i64) -> Vec<Value> {
    let (status, _, v) = call(
        app,
        "GET",
        &format!("/api/v1/webhooks/{id}/deliveries?limit=200"),
        Some(token),
        None,
    )
    .await;
    assert_eq!(status, 200, "{v}");
    v.as_array().unwrap().clone()
}

#[tokio::test]
async fn webhooks_are_signed_retried_stopped_and_kept_in_scope() {
    for store in stores("webhooks").await {
        static RUN: std::sync::atomic::AtomicUsize = std::sync::atomic::AtomicUsize::new(0);
        let n = RUN.fetch_add(1, std::sync::atomic::Ordering::SeqCst);
        let Some(rx) = Receiver::start(&n.to_string()) else {
            return;
        };
        let app = app(&store, loopback()).await;
        let strict = self::app(&store, Vec::new()).await;
        let mine = store
            .add_agency(
                &NewAgency::parse("Mine", "MI", "Finance", None).unwrap(),
                now(),
            )
            .await
            .unwrap();
        let theirs = store
            .add_agency(
                &NewAgency::parse("Theirs", "TH", "Finance", None).unwrap(),
                now(),
            )
            .await
            .unwrap();
        let admin = token(&store, "admin@dta.gov.au", Role::ProgrammeAdmin).await;
        let sponsor = token(
            &store,
            "sponsor@mine.gov.au",
            Role::AgencyMember {
                agency: mine,
                sponsor: true,
            },
        )
        .await;
        let stranger = token(
            &store,
            "sponsor@theirs.gov.au",
            Role::AgencyMember {
                agency: theirs,
                sponsor: true,
            },
        )
        .await;
        let member = token(
            &store,
            "member@mine.gov.au",
            Role::AgencyMember {
                agency: mine,
                sponsor: false,
            },
        )
        .await;

        // Private targets are refused unless the operator allows them; the
        // metadata address is refused even with loopback allowed.
        for (router, url, says) in [
            (&strict, rx.url("/ok"), "loopback"),
            (&strict, "http://localhost:9/".to_string(), "loopback"),
            (
                &app,
                "http://169.254.169.254/latest".to_string(),
                "link-local",
            ),
            (&app, "http://10.0.0.8/".to_string(), "private"),
            (&app, "http://[::ffff:192.168.0.1]/".to_string(), "private"),
        ] {
            let body = json!({ "url": url, "events": ["*"] }).to_string();
            let (status, ct, v) = call(
                router,
                "POST",
                "/api/v1/webhooks",
                Some(&admin),
                Some(&body),
            )
            .await;
            assert_eq!(status, 422, "{url}: {v}");
            assert_eq!(ct, "application/problem+json");
            assert_eq!(v["errors"][0]["field"], "url");
            assert!(v["detail"].as_str().unwrap().contains(says), "{url}: {v}");
        }
        // Partners and members do not subscribe; sponsors get no enquiries.
        let body = json!({ "url": rx.url("/ok"), "events": ["engagement.*"] }).to_string();
        let (status, _, _) =
            call(&app, "POST", "/api/v1/webhooks", Some(&member), Some(&body)).await;
        assert_eq!(status, 403);
        let body = json!({ "url": rx.url("/ok"), "events": ["enquiry.*"] }).to_string();
        let (status, _, v) = call(
            &app,
            "POST",
            "/api/v1/webhooks",
            Some(&sponsor),
            Some(&body),
        )
        .await;
        assert_eq!(status, 422, "{v}");

        let (all, all_secret) = subscribe(&app, &admin, &rx.url("/ok"), &["*"]).await;
        let (flaky, flaky_secret) =
            subscribe(&app, &sponsor, &rx.url("/flaky"), &["engagement.*"]).await;
        let (theirs_sub, theirs_secret) =
            subscribe(&app, &stranger, &rx.url("/ok"), &["engagement.*"]).await;
        let (down, down_secret) =
            subscribe(&app, &admin, &rx.url("/down"), &["engagement.started"]).await;
        // One the receiver was never told the secret of: its deliveries must
        // fail the receiver's check.
        let (forged, _) = subscribe(&app, &admin, &rx.url("/ok"), &["engagement.started"]).await;
        for s in [&all_secret, &flaky_secret, &theirs_secret, &down_secret] {
            assert!(s.starts_with("whsec_"), "{s}");
            rx.trust(s);
        }
        // Nobody else sees a subscription, not even that it exists.
        let (status, _, v) = call(
            &app,
            "GET",
            &format!("/api/v1/webhooks/{flaky}"),
            Some(&stranger),
            None,
        )
        .await;
        assert_eq!(status, 404);
        assert_eq!(v["detail"], "no such webhook subscription");
        let (status, _, v) =
            call(&app, "GET", "/api/v1/webhooks?all=true", Some(&admin), None).await;
        assert_eq!(status, 200);
        assert_eq!(v.as_array().unwrap().len(), 5);

        // One write: an engagement started for the sponsor's agency.
        let body = json!({ "agency": "MI", "mode": "do_it_with_you" }).to_string();
        let (status, _, v) = call(
            &app,
            "POST",
            "/api/v1/engagements",
            Some(&admin),
            Some(&body),
        )
        .await;
        assert_eq!(status, 201, "{v}");
        let engagement = v["id"].as_i64().unwrap();
        let (_, _, me) = call(&app, "GET", "/api/v1/me", Some(&admin), None).await;
        let admin_actor: Actor = serde_json::from_value(me).unwrap();
        let events = store
            .history(&admin_actor, EngagementId(engagement))
            .await
            .unwrap()
            .len();
        assert!(events >= 2, "{events}");
        // Queued with the event: every event to the programme and to the
        // agency's sponsor, nothing to another agency's sponsor.
        assert_eq!(deliveries(&app, &admin, all).await.len(), events);
        assert_eq!(deliveries(&app, &sponsor, flaky).await.len(), events);
        assert!(deliveries(&app, &stranger, theirs_sub).await.is_empty());
        assert_eq!(deliveries(&app, &admin, down).await.len(), 1);

        // The sender, with loopback allowed as the operator would.
        let sender = Sender::new(loopback(), "https://waymark.example.gov.au");
        let t0 = now();
        // One pass takes at most two of a subscription's deliveries, so a
        // flooded target cannot hold up the others; the rest follow.
        let first = sender.deliver_due(&store, t0).await;
        assert_eq!(first, 2 + 2 + 1 + 1, "{:?}", rx.log());
        let sent = first + drain(&sender, &store, t0).await;
        assert_eq!(sent, 2 * events + 2, "{:?}", rx.log());
        let ok = rx.at("/ok");
        let verified: Vec<&Value> = ok.iter().filter(|e| e["verified"] == true).collect();
        assert_eq!(verified.len(), events, "{ok:?}");
        assert!(
            verified
                .iter()
                .all(|e| e["status"] == 204 && e["fresh"] == true)
        );
        assert!(
            verified
                .iter()
                .all(|e| e["content_type"] == "application/json")
        );
        assert!(
            verified
                .iter()
                .all(|e| e["data"]["engagement"] == engagement),
            "{verified:?}"
        );
        assert!(verified.iter().any(|e| e["type"] == "engagement.started"));
        // The forged one: the receiver's own check refused it.
        let refused: Vec<&Value> = ok.iter().filter(|e| e["verified"] == false).collect();
        assert_eq!(refused.len(), 1, "{ok:?}");
        assert_eq!(refused[0]["status"], 401);
        let d = deliveries(&app, &admin, forged).await;
        assert_eq!(
            (d[0]["attempts"].as_i64(), d[0]["last_status"].as_i64()),
            (Some(1), Some(401))
        );

        // A 500 is tried again 5 s later, with the same webhook-id.
        let first = deliveries(&app, &sponsor, flaky).await;
        assert!(first.iter().all(|d| d["delivered_at"].is_null()
            && d["last_status"] == 500
            && d["next_attempt_at"] == t0.0 + 5));
        assert_eq!(sender.deliver_due(&store, Timestamp(t0.0 + 4)).await, 0);
        // The flaky ones, and the retries of /down and the forged one.
        assert_eq!(
            sender.deliver_due(&store, Timestamp(t0.0 + 5)).await,
            events + 2
        );
        let flaky_log = rx.at("/flaky");
        assert_eq!(flaky_log.len(), 2 * events);
        assert!(flaky_log.iter().all(|e| e["verified"] == true));
        for d in deliveries(&app, &sponsor, flaky).await {
            assert_eq!(d["delivered_at"], t0.0 + 5, "{d}");
            let statuses: Vec<i64> = d["log"]
                .as_array()
                .unwrap()
                .iter()
                .map(|a| a["status"].as_i64().unwrap())
                .collect();
            assert_eq!(statuses, [500, 204]);
            let id = d["msg_id"].as_str().unwrap();
            assert_eq!(flaky_log.iter().filter(|e| e["id"] == id).count(), 2);
        }

        // /down fails for more than a day: then its delivery has failed and
        // the subscription stops, and its owner is told by mail.
        let mut t = t0.0 + 5;
        for _ in 0..10 {
            let d = &deliveries(&app, &admin, down).await[0];
            let Some(next) = d["next_attempt_at"].as_i64() else {
                break;
            };
            t = next;
            drain(&sender, &store, Timestamp(t)).await;
        }
        let d = &deliveries(&app, &admin, down).await[0];
        assert_eq!(d["attempts"], webhook::ATTEMPTS, "{d}");
        assert!(d["failed_at"].is_i64(), "{d}");
        assert!(t - t0.0 > 86_400, "retries span more than a day");
        assert_eq!(rx.at("/down").len() as i64, webhook::ATTEMPTS);
        let (_, _, w) = call(
            &app,
            "GET",
            &format!("/api/v1/webhooks/{down}"),
            Some(&admin),
            None,
        )
        .await;
        assert_eq!(w["enabled"], false, "{w}");
        assert!(
            w["disabled_reason"]
                .as_str()
                .unwrap()
                .contains("answered 500"),
            "{w}"
        );
        let told = store.outbox(&admin_actor, 50).await.unwrap();
        let link = format!("https://waymark.example.gov.au/settings/webhooks/{down}\n");
        assert!(
            told.iter().any(|m| m.kind == "webhook-disabled"
                && m.recipient == "admin@dta.gov.au"
                && m.body.contains(&link)),
            "the owner is told: {told:?}"
        );
        // The forged subscription never delivered either, so it stopped
        // too; the one that delivers runs on.
        let (_, _, w) = call(
            &app,
            "GET",
            &format!("/api/v1/webhooks/{forged}"),
            Some(&admin),
            None,
        )
        .await;
        assert_eq!(w["enabled"], false);
        let (_, _, w) = call(
            &app,
            "GET",
            &format!("/api/v1/webhooks/{all}"),
            Some(&admin),
            None,
        )
        .await;
        assert_eq!(w["enabled"], true);

        // Stopped: resend is refused; started again, resend goes out with
        // the same webhook-id.
        let resend = format!("/api/v1/webhooks/{down}/deliveries/{}/resend", d["id"]);
        let (status, _, v) = call(&app, "POST", &resend, Some(&admin), None).await;
        assert_eq!(status, 409, "{v}");
        let (status, _, _) = call(&app, "POST", &resend, Some(&sponsor), None).await;
        assert_eq!(status, 404, "not the sponsor's");
        let (status, _, w) = call(
            &app,
            "POST",
            &format!("/api/v1/webhooks/{down}/enable"),
            Some(&admin),
            None,
        )
        .await;
        assert_eq!(status, 200);
        assert_eq!(w["enabled"], true);
        let (status, _, v) = call(&app, "POST", &resend, Some(&admin), None).await;
        assert_eq!(status, 201, "{v}");
        assert_eq!(v["msg_id"], d["msg_id"]);
        assert_eq!(v["resent_from"], d["id"]);
        let before = rx.at("/down").len();
        assert_eq!(sender.deliver_due(&store, Timestamp(t + 1)).await, 1);
        assert_eq!(rx.at("/down").len(), before + 1);
        assert_eq!(rx.at("/down").last().unwrap()["id"], d["msg_id"]);

        // A sender without the operator's allowance refuses loopback when
        // it connects, and says so in the log.
        let (status, _, _) = call(
            &app,
            "POST",
            &format!("/api/v1/webhooks/{down}/disable"),
            Some(&admin),
            None,
        )
        .await;
        assert_eq!(status, 200);
        let body = json!({ "agency": "MI", "mode": "do_it_with_you" }).to_string();
        let (status, _, _) = call(
            &app,
            "POST",
            "/api/v1/engagements",
            Some(&admin),
            Some(&body),
        )
        .await;
        assert_eq!(status, 201);
        assert_eq!(
            deliveries(&app, &admin, down).await.len(),
            2,
            "nothing queued while stopped"
        );
        let strict_sender = Sender::new(Vec::new(), "https://waymark.example.gov.au");
        let before = rx.log().len();
        assert!(drain(&strict_sender, &store, Timestamp(t + 2)).await > 0);
        assert_eq!(rx.log().len(), before, "nothing reached loopback");
        // The log is walked by its Link header, two at a time.
        let total = deliveries(&app, &admin, all).await.len();
        let (mut seen, mut uri) = (
            Vec::new(),
            format!("/api/v1/webhooks/{all}/deliveries?limit=2"),
        );
        loop {
            use tower::ServiceExt;
            let res = app
                .clone()
                .oneshot(
                    axum::http::Request::get(&uri)
                        .header("authorization", format!("Bearer {admin}"))
                        .body(axum::body::Body::empty())
                        .unwrap(),
                )
                .await
                .unwrap();
            let link = res
                .headers()
                .get("link")
                .map(|v| v.to_str().unwrap().to_string());
            let body = axum::body::to_bytes(res.into_body(), usize::MAX)
                .await
                .unwrap();
            let page: Value = serde_json::from_slice(&body).unwrap();
            seen.extend(
                page.as_array()
                    .unwrap()
                    .iter()
                    .map(|d| d["id"].as_i64().unwrap()),
            );
            let Some(link) = link else { break };
            uri = link[1..link.find('>').unwrap()].to_string();
        }
        let unique: std::collections::BTreeSet<i64> = seen.iter().copied().collect();
        assert_eq!((seen.len(), unique.len()), (total, total), "{seen:?}");
        let newest = &deliveries(&app, &admin, all).await[0];
        assert!(
            newest["last_error"]
                .as_str()
                .unwrap()
                .starts_with("refused: 127.0.0.1"),
            "{newest}"
        );
    }
}
