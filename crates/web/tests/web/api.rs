//! The JSON API on every backend.

use std::sync::Arc;

use axum::body::Body;
use axum::http::{Request, StatusCode, header};
use serde_json::{Value, json};
use tower::ServiceExt;
use waymark_core::*;
use waymark_store::testing::stores;
use waymark_web::api::{ApiState, router};

const NOW: Timestamp = Timestamp(1_763_800_000);

async fn call(
    app: &axum::Router,
    method: &str,
    uri: &str,
    token: Option<&str>,
    body: Option<&str>,
) -> (StatusCode, String, Value) {
    let mut req = Request::builder().method(method).uri(uri);
    if let Some(t) = token {
        req = req.header(header::AUTHORIZATION, format!("Bearer {t}"));
    }
    if body.is_some() {
        req = req.header(header::CONTENT_TYPE, "application/json");
    }
    let res = app
        .clone()
        .oneshot(
            req.body(Body::from(body.unwrap_or("").to_string()))
                .unwrap(),
        )
        .await
        .unwrap();
    let status = res.status();
    let ct = res
        .headers()
        .get(header::CONTENT_TYPE)
        .map(|v| v.to_str().unwrap().to_string())
        .unwrap_or_default();
    let bytes = axum::body::to_bytes(res.into_body(), usize::MAX)
        .await
        .unwrap();
    (
        status,
        ct,
        serde_json::from_slice(&bytes).unwrap_or(Value::Null),
    )
}

#[tokio::test]
async fn the_api_runs_an_engagement_and_answers_in_problems() {
    for store in stores("api").await {
        let agency = store
            .add_agency(
                &NewAgency::parse("Agency", "AG", "Finance", None).unwrap(),
                NOW,
            )
            .await
            .unwrap();
        let other = store
            .add_agency(
                &NewAgency::parse("Other", "OT", "Finance", None).unwrap(),
                NOW,
            )
            .await
            .unwrap();
        let person = async |email: &str, role: Role| {
            let p = store
                .add_person(&NewPerson::parse("Someone", email).unwrap(), NOW)
                .await
                .unwrap();
            store.add_role(p, role).await.unwrap();
            store.create_token(p, "test", NOW).await.unwrap()
        };
        let member = person(
            "m@ag.gov.au",
            Role::AgencyMember {
                agency,
                sponsor: false,
            },
        )
        .await;
        let outsider = person(
            "o@ot.gov.au",
            Role::AgencyMember {
                agency: other,
                sponsor: true,
            },
        )
        .await;
        let partner = person(
            "p@vendor.com.au",
            Role::Partner {
                kind: PartnerKind::Technology,
            },
        )
        .await;
        let app = router(Arc::new(ApiState {
            store: store.clone(),
            pages: Arc::new(waymark_model::bundled()),
        }));

        let (s, ct, p) = call(&app, "GET", "/api/v1/me", None, None).await;
        assert_eq!(
            (s, ct.as_str(), p["code"].as_str()),
            (
                StatusCode::UNAUTHORIZED,
                "application/problem+json",
                Some("unauthorized")
            )
        );
        let (s, _, _) = call(&app, "GET", "/api/v1/me", Some("wmk_forged"), None).await;
        assert_eq!(s, StatusCode::UNAUTHORIZED);
        let (s, _, me) = call(&app, "GET", "/api/v1/me", Some(&member), None).await;
        assert_eq!(
            (s, me["roles"][0]["role"].as_str()),
            (StatusCode::OK, Some("agency_member"))
        );

        let (s, _, e) = call(
            &app,
            "POST",
            "/api/v1/engagements",
            Some(&member),
            Some(r#"{"agency":"ag"}"#),
        )
        .await;
        assert_eq!(s, StatusCode::CREATED, "{e}");
        let id = e["id"].as_i64().unwrap();
        assert_eq!(e["version"], 1);
        let (s, _, p) = call(
            &app,
            "POST",
            "/api/v1/engagements",
            Some(&member),
            Some(r#"{"agency":"ZZ"}"#),
        )
        .await;
        assert_eq!(
            (s, p["errors"][0]["field"].as_str()),
            (StatusCode::UNPROCESSABLE_ENTITY, Some("agency"))
        );
        let (s, _, p) = call(
            &app,
            "POST",
            "/api/v1/engagements",
            Some(&member),
            Some("{not json"),
        )
        .await;
        assert_eq!(
            (s, p["code"].as_str()),
            (StatusCode::BAD_REQUEST, Some("bad_request"))
        );

        let uri = format!("/api/v1/engagements/{id}");
        let cmd = |v: u64, c: Value| json!({ "expected_version": v, "command": c }).to_string();
        let step = json!({ "command": "set_step", "stage": "engagement", "step": 1, "status": { "status": "done" } });
        let (s, _, e) = call(
            &app,
            "POST",
            &format!("{uri}/commands"),
            Some(&member),
            Some(&cmd(1, step.clone())),
        )
        .await;
        assert_eq!((s, e["version"].as_u64()), (StatusCode::OK, Some(2)), "{e}");
        let (s, _, p) = call(
            &app,
            "POST",
            &format!("{uri}/commands"),
            Some(&member),
            Some(&cmd(1, step)),
        )
        .await;
        assert_eq!(
            (s, p["code"].as_str()),
            (StatusCode::CONFLICT, Some("conflict"))
        );
        let skip =
            json!({ "command": "skip_step", "stage": "engagement", "step": 2, "reason": "" });
        let (s, _, p) = call(
            &app,
            "POST",
            &format!("{uri}/commands"),
            Some(&member),
            Some(&cmd(2, skip)),
        )
        .await;
        assert_eq!(
            (s, p["errors"][0]["field"].as_str()),
            (StatusCode::UNPROCESSABLE_ENTITY, Some("reason")),
            "{p}"
        );

        // Another agency cannot tell the record exists; an unassigned partner neither.
        for token in [&outsider, &partner] {
            let (s, _, p) = call(&app, "GET", &uri, Some(token), None).await;
            assert_eq!(
                (s, p["code"].as_str()),
                (StatusCode::NOT_FOUND, Some("not_found"))
            );
            let (s, _, _) = call(
                &app,
                "POST",
                &format!("{uri}/commands"),
                Some(token),
                Some(&cmd(
                    2,
                    json!({"command":"add_risk","text":"x","stage":null}),
                )),
            )
            .await;
            assert_eq!(s, StatusCode::NOT_FOUND);
        }
        let (s, _, list) = call(&app, "GET", "/api/v1/engagements", Some(&outsider), None).await;
        assert_eq!((s, list.as_array().unwrap().len()), (StatusCode::OK, 0));

        let (s, _, shown) = call(&app, "GET", &uri, Some(&member), None).await;
        assert_eq!(
            (s, shown["warnings"].as_array().unwrap().len()),
            (StatusCode::OK, 0)
        );
        let (s, _, h) = call(&app, "GET", &format!("{uri}/history"), Some(&member), None).await;
        assert_eq!(s, StatusCode::OK);
        assert_eq!(h.as_array().unwrap().last().unwrap()["command"], "set_step");
        assert!(store.verify().await.unwrap().broken.is_empty());
    }
}
