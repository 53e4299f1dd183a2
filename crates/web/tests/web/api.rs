//! The JSON API on every backend.

use std::sync::Arc;

use axum::body::Body;
use axum::http::{Request, StatusCode, header};
use serde_json::{Value, json};
use tower::ServiceExt;
use waymark_core::*;
use waymark_store::Store;
use waymark_store::testing::stores;
use waymark_web::{Application, Settings};

const NOW: Timestamp = Timestamp(1_763_800_000);

/// A JSON request: its answer's status, type and body as JSON (null when
/// it is not JSON).
pub(crate) async fn call(
    app: &axum::Router,
    method: &str,
    uri: &str,
    token: Option<&str>,
    body: Option<&str>,
) -> (StatusCode, String, Value) {
    let (status, ct, bytes) = send(app, method, uri, token, body).await;
    (
        status,
        ct,
        serde_json::from_slice(&bytes).unwrap_or(Value::Null),
    )
}

/// A GET whose answer is bytes (a file, a PDF, an .ics): its status, type
/// and body.
async fn fetch(app: &axum::Router, uri: &str, token: &str) -> (StatusCode, String, Vec<u8>) {
    send(app, "GET", uri, Some(token), None).await
}

async fn send(
    app: &axum::Router,
    method: &str,
    uri: &str,
    token: Option<&str>,
    body: Option<&str>,
) -> (StatusCode, String, Vec<u8>) {
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
    (status, ct, bytes.to_vec())
}

/// A person with `role` and an API token for them.
pub(crate) async fn token(store: &Store, email: &str, role: Role) -> String {
    let p = store
        .add_person(&NewPerson::parse("Someone", email).unwrap(), NOW)
        .await
        .unwrap();
    store.add_role(p, role).await.unwrap();
    store.create_token(p, "test", NOW).await.unwrap()
}

/// The API over `store`, with the bundled model.
pub(crate) async fn app(store: &Store) -> axum::Router {
    crate::logs();
    let settings = Settings::new(
        store.clone(),
        Arc::new(waymark_model::bundled()),
        "http://localhost",
    );
    Application::build(settings).await.unwrap().router()
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
        let member = token(
            &store,
            "m@ag.gov.au",
            Role::AgencyMember {
                agency,
                sponsor: false,
            },
        )
        .await;
        let outsider = token(
            &store,
            "o@ot.gov.au",
            Role::AgencyMember {
                agency: other,
                sponsor: true,
            },
        )
        .await;
        let partner = token(
            &store,
            "p@vendor.com.au",
            Role::Partner {
                kind: PartnerKind::Technology,
            },
        )
        .await;
        let app = app(&store).await;

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
        assert_eq!((s, list["total"].as_u64()), (StatusCode::OK, Some(0)));
        let (s, _, list) = call(&app, "GET", "/api/v1/engagements", Some(&member), None).await;
        assert_eq!((s, list["total"].as_u64()), (StatusCode::OK, Some(1)));
        assert_eq!(list["items"][0]["id"].as_i64(), Some(id));
        assert_eq!(list["items"][0]["version"].as_u64(), Some(2));
        let (s, _, list) = call(
            &app,
            "GET",
            "/api/v1/engagements?agency=OT&limit=10",
            Some(&member),
            None,
        )
        .await;
        assert_eq!((s, list["total"].as_u64()), (StatusCode::OK, Some(0)));
        let (s, _, p) = call(
            &app,
            "GET",
            "/api/v1/engagements?limit=0",
            Some(&member),
            None,
        )
        .await;
        assert_eq!(
            (s, p["errors"][0]["field"].as_str()),
            (StatusCode::UNPROCESSABLE_ENTITY, Some("limit"))
        );
        let (s, _, _) = call(
            &app,
            "GET",
            "/api/v1/engagements?limit=many",
            Some(&member),
            None,
        )
        .await;
        assert_eq!(s, StatusCode::BAD_REQUEST);

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

#[tokio::test]
async fn agencies_and_people_through_the_api() {
    for store in stores("api-people").await {
        let agency = store
            .add_agency(
                &NewAgency::parse("Agency", "AG", "Finance", None).unwrap(),
                NOW,
            )
            .await
            .unwrap();
        let admin = token(&store, "admin@dta.gov.au", Role::ProgrammeAdmin).await;
        let staff = token(&store, "staff@dta.gov.au", Role::ProgrammeStaff).await;
        let member = token(
            &store,
            "m@ag.gov.au",
            Role::AgencyMember {
                agency,
                sponsor: false,
            },
        )
        .await;
        let app = app(&store).await;
        let new_agency = r#"{"name":"Bureau of Things","abbreviation":"bot","portfolio":"Industry","agency_type":"lean"}"#;
        let (s, _, p) = call(
            &app,
            "POST",
            "/api/v1/agencies",
            Some(&member),
            Some(new_agency),
        )
        .await;
        assert_eq!(
            (s, p["code"].as_str()),
            (StatusCode::FORBIDDEN, Some("forbidden"))
        );
        let (s, _, a) = call(
            &app,
            "POST",
            "/api/v1/agencies",
            Some(&staff),
            Some(new_agency),
        )
        .await;
        assert_eq!(s, StatusCode::CREATED, "{a}");
        assert_eq!(
            (a["abbreviation"].as_str(), a["agency_type"].as_str()),
            (Some("BOT"), Some("lean"))
        );
        let (s, _, p) = call(
            &app,
            "POST",
            "/api/v1/agencies",
            Some(&staff),
            Some(new_agency),
        )
        .await;
        assert_eq!(
            (s, p["code"].as_str()),
            (StatusCode::CONFLICT, Some("duplicate"))
        );
        let (s, _, p) = call(
            &app,
            "POST",
            "/api/v1/agencies",
            Some(&staff),
            Some(r#"{"name":"","abbreviation":"XY","portfolio":"P"}"#),
        )
        .await;
        assert_eq!(
            (s, p["errors"][0]["field"].as_str()),
            (StatusCode::UNPROCESSABLE_ENTITY, Some("name"))
        );
        let (s, _, list) = call(&app, "GET", "/api/v1/agencies", Some(&member), None).await;
        assert_eq!((s, list.as_array().unwrap().len()), (StatusCode::OK, 2));
        let uri = format!("/api/v1/agencies/{}", a["id"]);
        let (s, _, one) = call(&app, "GET", &uri, Some(&member), None).await;
        assert_eq!(
            (s, one["name"].as_str()),
            (StatusCode::OK, Some("Bureau of Things"))
        );
        let (s, _, _) = call(&app, "GET", "/api/v1/agencies/9999", Some(&member), None).await;
        assert_eq!(s, StatusCode::NOT_FOUND);

        // People: admins add them; staff may not; members see only their own agency.
        let jo = format!(
            r#"{{"name":"Jo Citizen","email":"Jo@AG.gov.au","roles":[{{"role":"agency_member","agency":{agency},"sponsor":true}}]}}"#
        );
        let (s, _, _) = call(&app, "POST", "/api/v1/people", Some(&staff), Some(&jo)).await;
        assert_eq!(s, StatusCode::FORBIDDEN);
        let (s, _, p) = call(&app, "POST", "/api/v1/people", Some(&admin), Some(&jo)).await;
        assert_eq!(s, StatusCode::CREATED, "{p}");
        assert_eq!(p["email"], "jo@ag.gov.au");
        assert_eq!(p["roles"][0]["sponsor"], true);
        let (s, _, e) = call(&app, "POST", "/api/v1/people", Some(&admin), Some(&jo)).await;
        assert_eq!(
            (s, e["code"].as_str()),
            (StatusCode::CONFLICT, Some("duplicate"))
        );
        let (s, _, e) = call(
            &app,
            "POST",
            "/api/v1/people",
            Some(&admin),
            Some(r#"{"name":"X","email":"not-an-email"}"#),
        )
        .await;
        assert_eq!(
            (s, e["errors"][0]["field"].as_str()),
            (StatusCode::UNPROCESSABLE_ENTITY, Some("email"))
        );
        let roles = format!("/api/v1/people/{}/roles", p["id"]);
        let (s, _, p2) = call(
            &app,
            "POST",
            &roles,
            Some(&admin),
            Some(r#"{"role":"partner","kind":"strategy"}"#),
        )
        .await;
        assert_eq!(
            (s, p2["roles"].as_array().unwrap().len()),
            (StatusCode::OK, 2)
        );
        let (s, _, _) = call(
            &app,
            "POST",
            "/api/v1/people/9999/roles",
            Some(&admin),
            Some(r#"{"role":"programme_staff"}"#),
        )
        .await;
        assert_eq!(s, StatusCode::NOT_FOUND);

        // People leave: the admin deactivates the new person (whose token
        // then ends), never themselves; only admins may; twice is 409.
        let them = token(&store, "leaver@dta.gov.au", Role::ProgrammeStaff).await;
        let (_, _, me) = call(&app, "GET", "/api/v1/me", Some(&them), None).await;
        let leaver = me["person"].clone();
        let deactivate = format!("/api/v1/people/{leaver}/deactivate");
        let (s, _, _) = call(&app, "POST", &deactivate, Some(&staff), None).await;
        assert_eq!(s, StatusCode::FORBIDDEN);
        let (s, _, gone) = call(&app, "POST", &deactivate, Some(&admin), None).await;
        assert_eq!(s, StatusCode::OK, "{gone}");
        assert!(gone["deactivated_at"].is_i64(), "{gone}");
        let (s, _, _) = call(&app, "GET", "/api/v1/me", Some(&them), None).await;
        assert_eq!(s, StatusCode::UNAUTHORIZED, "the token outlived its owner");
        let (s, _, _) = call(&app, "POST", &deactivate, Some(&admin), None).await;
        assert_eq!(s, StatusCode::CONFLICT);
        let (s, _, _) = call(
            &app,
            "POST",
            "/api/v1/people/9999/deactivate",
            Some(&admin),
            None,
        )
        .await;
        assert_eq!(s, StatusCode::NOT_FOUND);
        let (_, _, me) = call(&app, "GET", "/api/v1/me", Some(&admin), None).await;
        let own = format!("/api/v1/people/{}/deactivate", me["person"]);
        let (s, _, _) = call(&app, "POST", &own, Some(&admin), None).await;
        assert_eq!(s, StatusCode::FORBIDDEN);
        let reactivate = format!("/api/v1/people/{leaver}/reactivate");
        let (s, _, back) = call(&app, "POST", &reactivate, Some(&admin), None).await;
        assert_eq!((s, back.get("deactivated_at")), (StatusCode::OK, None));

        let (_, _, seen) = call(&app, "GET", "/api/v1/people", Some(&member), None).await;
        let mut emails: Vec<&str> = seen
            .as_array()
            .unwrap()
            .iter()
            .map(|p| p["email"].as_str().unwrap())
            .collect();
        emails.sort();
        assert_eq!(emails, ["jo@ag.gov.au", "m@ag.gov.au"]);
        let (_, _, seen) = call(&app, "GET", "/api/v1/people", Some(&staff), None).await;
        assert_eq!(seen.as_array().unwrap().len(), 5);
        let admin_id = seen
            .as_array()
            .unwrap()
            .iter()
            .find(|p| p["email"] == "admin@dta.gov.au")
            .unwrap()["id"]
            .clone();
        let (s, _, _) = call(
            &app,
            "GET",
            &format!("/api/v1/people/{admin_id}"),
            Some(&member),
            None,
        )
        .await;
        assert_eq!(s, StatusCode::NOT_FOUND);
    }
}

#[tokio::test]
async fn the_openapi_document_covers_every_route_and_command() {
    let store = waymark_store::Store::open(&waymark_store::testing::sqlite_url("openapi"))
        .await
        .unwrap();
    let app = app(&store).await;
    let (s, ct, doc) = call(&app, "GET", "/api/openapi.json", None, None).await;
    assert_eq!(s, StatusCode::OK);
    assert!(ct.starts_with("application/json"), "{ct}");
    assert!(
        doc["openapi"].as_str().unwrap().starts_with("3.1"),
        "{}",
        doc["openapi"]
    );
    let paths = doc["paths"].as_object().unwrap();
    for (path, methods) in [
        ("/api/v1/me", &["get"][..]),
        ("/api/v1/engagements", &["get", "post"]),
        ("/api/v1/engagements/{id}", &["get"]),
        ("/api/v1/engagements/{id}/history", &["get"]),
        ("/api/v1/engagements/{id}/benefits", &["get"]),
        ("/api/v1/lessons", &["get"]),
        ("/api/v1/surveys", &["get", "post"]),
        ("/api/v1/surveys/template", &["get"]),
        ("/api/v1/surveys/{id}", &["get", "post"]),
        ("/api/v1/surveys/{id}/send", &["post"]),
        ("/api/v1/surveys/{id}/close", &["post"]),
        ("/api/v1/surveys/{id}/results", &["get"]),
        ("/api/v1/surveys/{id}/history", &["get"]),
        ("/api/v1/portfolio", &["get"]),
        ("/api/v1/portfolio/capacity", &["get", "put"]),
        ("/api/v1/engagements/{id}/commands", &["post"]),
        ("/api/v1/agencies", &["get", "post"]),
        ("/api/v1/agencies/{id}", &["get"]),
        ("/api/v1/people", &["get", "post"]),
        ("/api/v1/people/{id}", &["get"]),
        ("/api/v1/people/{id}/roles", &["post"]),
        ("/api/v1/people/{id}/deactivate", &["post"]),
        ("/api/v1/people/{id}/reactivate", &["post"]),
        ("/api/v1/people/{id}/remove-personal-data", &["post"]),
        ("/api/v1/people/{id}/sign-in-accounts", &["get"]),
        ("/api/v1/people/{id}/sign-in-accounts/unlink", &["post"]),
        ("/api/v1/people/{id}/password-link", &["post"]),
        ("/api/v1/dashboard", &["get"]),
        ("/api/v1/search", &["get"]),
        ("/api/v1/articles", &["get", "post"]),
        ("/api/v1/articles/drafts", &["get"]),
        ("/api/v1/articles/{id}", &["post"]),
        ("/api/v1/articles/{id}/versions", &["get"]),
        ("/api/v1/articles/{id}/feedback", &["post"]),
        ("/api/v1/blueprint/releases", &["get", "post"]),
        ("/api/v1/adopters", &["get"]),
        ("/api/v1/agencies/{id}/directory", &["post"]),
    ] {
        for m in methods {
            assert!(paths[path][*m].is_object(), "{m} {path} is not documented");
        }
    }
    // Two types of one name would share one schema: the survey's are
    // named apart from the self-assessment's and the lessons'.
    let schemas = &doc["components"]["schemas"];
    assert!(schemas["Question"]["properties"]["answers"].is_object());
    assert!(schemas["SurveyQuestion"]["properties"]["kind"].is_object());
    assert!(schemas["Answer"]["properties"]["weight"].is_object());
    assert!(schemas["SurveyTally"]["properties"]["questions"].is_object());
    // Every command the core knows is in the Command schema.
    let text = doc["components"]["schemas"]["Command"].to_string();
    for name in Command::NAMES.iter().filter(|n| **n != "start") {
        assert!(
            text.contains(&format!("\"{name}\"")),
            "command {name} missing"
        );
    }
    assert_eq!(
        doc["components"]["securitySchemes"]["bearer"]["scheme"],
        "bearer"
    );

    // Swagger UI is served from the binary: page, script and style.
    let get = |uri: &'static str| {
        let app = app.clone();
        async move {
            let res = app
                .oneshot(Request::get(uri).body(Body::empty()).unwrap())
                .await
                .unwrap();
            let status = res.status();
            let bytes = axum::body::to_bytes(res.into_body(), usize::MAX)
                .await
                .unwrap();
            (status, String::from_utf8_lossy(&bytes).into_owned())
        }
    };
    let (s, html) = get("/api/docs/").await;
    assert_eq!(s, StatusCode::OK);
    assert!(html.contains("swagger-ui"), "{html}");
    let (s, init) = get("/api/docs/swagger-initializer.js").await;
    assert_eq!(s, StatusCode::OK);
    assert!(init.contains("/api/openapi.json"));
    let (s, js) = get("/api/docs/swagger-ui-bundle.js").await;
    assert!(
        s == StatusCode::OK && js.len() > 100_000,
        "{s} {}",
        js.len()
    );
}

/// What schemathesis checks from outside (scripts/api-contract), held here
/// too where it needs no Python: problems are declared with their own type,
/// requests are read as their schema reads them, and the bounds the document
/// gives are the server's.
#[tokio::test]
async fn the_api_keeps_its_contract() {
    let store = waymark_store::Store::open(&waymark_store::testing::sqlite_url("contract"))
        .await
        .unwrap();
    let app = app(&store).await;
    let (_, _, doc) = call(&app, "GET", "/api/openapi.json", None, None).await;
    // Every operation declares 400 and 401, each problem as problem+json;
    // a body brings 413, 415 and 422; a path parameter 404.
    for (path, methods) in doc["paths"].as_object().unwrap() {
        for (method, op) in methods.as_object().unwrap() {
            let responses = op["responses"].as_object().unwrap();
            let mut needed = vec!["400", "401"];
            if op.get("requestBody").is_some() {
                needed.extend(["413", "415", "422"]);
            }
            if path.contains('{') {
                needed.push("404");
            }
            for status in needed {
                assert!(
                    responses.contains_key(status),
                    "{method} {path} does not declare {status}"
                );
            }
            for (status, r) in responses {
                if status.starts_with('4') {
                    let content = r["content"].as_object().unwrap();
                    assert!(
                        content.contains_key("application/problem+json")
                            && !content.contains_key("application/json"),
                        "{method} {path} {status}: {content:?}"
                    );
                }
            }
        }
    }
    let limit = &doc["paths"]["/api/v1/engagements"]["get"]["parameters"]
        .as_array()
        .unwrap()
        .iter()
        .find(|p| p["name"] == "offset")
        .unwrap()["schema"];
    assert_eq!(limit["maximum"], 1_000_000);

    let admin = token(&store, "admin@dta.gov.au", Role::ProgrammeAdmin).await;
    let t = Some(admin.as_str());
    // A whole number written as 2.0 is an integer, as JSON Schema says.
    let (s, _, body) = call(
        &app,
        "POST",
        "/api/v1/agencies",
        t,
        Some(r#"{"name":"Agency","abbreviation":"AG","portfolio":"Finance"}"#),
    )
    .await;
    assert_eq!(s, StatusCode::CREATED, "{body}");
    let (s, _, body) = call(
        &app,
        "POST",
        "/api/v1/engagements",
        t,
        Some(r#"{"agency":"AG"}"#),
    )
    .await;
    assert_eq!(s, StatusCode::CREATED, "{body}");
    let id = body["id"].as_i64().unwrap();
    let version = body["version"].as_f64().unwrap();
    let (s, ct, body) = call(
        &app,
        "POST",
        &format!("/api/v1/engagements/{id}/commands"),
        t,
        Some(&format!(
            r#"{{"expected_version":{version:.1},"command":{{"command":"add_risk","text":"Skills gap","stage":null}}}}"#
        )),
    )
    .await;
    assert_eq!(s, StatusCode::OK, "{ct} {body}");
    // A fraction is not an integer; an unknown field is refused and named.
    let (s, ct, body) = call(
        &app,
        "POST",
        &format!("/api/v1/engagements/{id}/commands"),
        t,
        Some(
            r#"{"expected_version":1.5,"command":{"command":"add_risk","text":"x","stage":null}}"#,
        ),
    )
    .await;
    assert_eq!(s, StatusCode::BAD_REQUEST, "{body}");
    assert_eq!(ct, "application/problem+json");
    assert!(
        body["detail"]
            .as_str()
            .unwrap()
            .contains("expected_version"),
        "{body}"
    );
    let (s, _, body) = call(
        &app,
        "POST",
        "/api/v1/engagements",
        t,
        Some(r#"{"agency":"AG","colour":"blue"}"#),
    )
    .await;
    assert_eq!(s, StatusCode::BAD_REQUEST, "{body}");
    assert!(
        body["detail"].as_str().unwrap().contains("colour"),
        "{body}"
    );
    // Not JSON at all, or JSON marked as compressed (refused, not read as
    // plain): 415, as a problem.
    for (content_type, encoding) in [("text/plain", None), ("application/json", Some("br"))] {
        let mut req = Request::post("/api/v1/engagements")
            .header(header::AUTHORIZATION, format!("Bearer {admin}"))
            .header(header::CONTENT_TYPE, content_type);
        if let Some(encoding) = encoding {
            req = req.header(header::CONTENT_ENCODING, encoding);
        }
        let res = app
            .clone()
            .oneshot(req.body(Body::from(r#"{"agency":"AG"}"#)).unwrap())
            .await
            .unwrap();
        assert_eq!(
            res.status(),
            StatusCode::UNSUPPORTED_MEDIA_TYPE,
            "{encoding:?}"
        );
        assert_eq!(
            res.headers()[header::CONTENT_TYPE],
            "application/problem+json"
        );
    }
    // The offset's bound is the server's too.
    let (s, _, body) = call(&app, "GET", "/api/v1/engagements?offset=1000001", t, None).await;
    assert_eq!(s, StatusCode::UNPROCESSABLE_ENTITY, "{body}");
    assert_eq!(body["errors"][0]["field"], "offset");
    let (s, _, _) = call(&app, "GET", "/api/v1/engagements?offset=1000000", t, None).await;
    assert_eq!(s, StatusCode::OK);
    // A path id beyond 64 bits is a problem, not plain text.
    let (s, ct, _) = call(
        &app,
        "GET",
        "/api/v1/articles/9223372036854775808/versions",
        t,
        None,
    )
    .await;
    assert_eq!(s, StatusCode::BAD_REQUEST);
    assert_eq!(ct, "application/problem+json");
    // An article's field problems name their place in the request.
    let (s, _, body) = call(
        &app,
        "POST",
        "/api/v1/articles",
        t,
        Some(r#"{"action":"save","article":{}}"#),
    )
    .await;
    assert_eq!(s, StatusCode::UNPROCESSABLE_ENTITY, "{body}");
    assert_eq!(body["errors"][0]["field"], "article.title", "{body}");
}

/// The token-scope matrix, from the API's own document: a read-only token
/// is refused on every operation that is not a GET, before anything else
/// is read; on every GET it is never refused for its scope. Then tokens are
/// made, listed and ended through the API itself.
#[tokio::test]
async fn read_only_tokens_are_refused_on_every_write() {
    for store in stores("token-scopes").await {
        let app = app(&store).await;
        let admin = store
            .add_person(&NewPerson::parse("Ada", "ada@dta.gov.au").unwrap(), NOW)
            .await
            .unwrap();
        store.add_role(admin, Role::ProgrammeAdmin).await.unwrap();
        let new = waymark_core::token::NewToken::parse("reader", "read", "", NOW).unwrap();
        let reader = store.create_token_with(admin, &new, NOW).await.unwrap();
        let writer = store.create_token(admin, "writer", NOW).await.unwrap();
        let (_, _, doc) = call(&app, "GET", "/api/openapi.json", None, None).await;
        let mut writes = 0;
        for (path, methods) in doc["paths"].as_object().unwrap() {
            let uri = path
                .replace("{id}", &admin.0.to_string())
                .replace("{kind}", "letter-of-intent")
                .replace("{token}", "000000000000");
            for method in methods.as_object().unwrap().keys() {
                let m = method.to_uppercase();
                let (s, _, p) = call(&app, &m, &uri, Some(&reader), Some("{}")).await;
                if m == "GET" {
                    assert_ne!(
                        (s, p["detail"].as_str().unwrap_or("").contains("read-only")),
                        (StatusCode::FORBIDDEN, true),
                        "GET {uri}: {p}"
                    );
                } else {
                    writes += 1;
                    assert_eq!(s, StatusCode::FORBIDDEN, "{m} {uri}: {p}");
                    assert!(
                        p["detail"].as_str().unwrap().contains("read-only"),
                        "{m} {uri}: {p}"
                    );
                }
            }
        }
        assert!(writes >= 20, "only {writes} writes in the document");

        // Tokens through the API: made for oneself only, listed, ended.
        let path = format!("/api/v1/people/{}/tokens", admin.0);
        let (s, _, made) = call(
            &app,
            "POST",
            &path,
            Some(&writer),
            Some(r#"{"name":"Power BI","scope":"read","expires_in_days":30}"#),
        )
        .await;
        assert_eq!(s, StatusCode::CREATED, "{made}");
        let token = made["token"].as_str().unwrap().to_string();
        assert_eq!(made["scope"], "read");
        assert_eq!(
            made["expires_at"].as_i64().unwrap() - made["created_at"].as_i64().unwrap(),
            30 * 86_400
        );
        let (s, _, me) = call(&app, "GET", "/api/v1/me", Some(&token), None).await;
        assert_eq!((s, me["person"].as_i64()), (StatusCode::OK, Some(admin.0)));
        let (s, _, p) = call(
            &app,
            "POST",
            &path,
            Some(&writer),
            Some(r#"{"name":"","expires_in_days":0}"#),
        )
        .await;
        assert_eq!(s, StatusCode::UNPROCESSABLE_ENTITY, "{p}");
        let (_, _, list) = call(&app, "GET", &path, Some(&writer), None).await;
        assert_eq!(list.as_array().unwrap().len(), 3, "{list}");
        assert!(!list.to_string().contains(&token));
        // Another person: an admin may not make one that acts as them, and
        // someone else may not even look.
        let sam = store
            .add_person(&NewPerson::parse("Sam", "sam@dta.gov.au").unwrap(), NOW)
            .await
            .unwrap();
        store.add_role(sam, Role::ProgrammeStaff).await.unwrap();
        let sams = store.create_token(sam, "sam", NOW).await.unwrap();
        let (s, _, _) = call(
            &app,
            "POST",
            &format!("/api/v1/people/{}/tokens", sam.0),
            Some(&writer),
            Some(r#"{"name":"as sam"}"#),
        )
        .await;
        assert_eq!(s, StatusCode::FORBIDDEN);
        let (s, _, _) = call(&app, "GET", &path, Some(&sams), None).await;
        assert_eq!(s, StatusCode::FORBIDDEN);
        let (s, _, _) = call(
            &app,
            "GET",
            "/api/v1/people/999999/tokens",
            Some(&sams),
            None,
        )
        .await;
        assert_eq!(s, StatusCode::FORBIDDEN, "no hint that 999999 is nobody");
        // An admin ends Sam's token; Sam's requests are refused at once.
        let sam_id = waymark_store::token_id(&sams);
        let (s, _, _) = call(
            &app,
            "POST",
            &format!("/api/v1/people/{}/tokens/{sam_id}/revoke", sam.0),
            Some(&writer),
            None,
        )
        .await;
        assert_eq!(s, StatusCode::NO_CONTENT);
        let (s, _, _) = call(&app, "GET", "/api/v1/me", Some(&sams), None).await;
        assert_eq!(s, StatusCode::UNAUTHORIZED);
        let (s, _, _) = call(
            &app,
            "POST",
            &format!("/api/v1/people/{}/tokens/{sam_id}/revoke", sam.0),
            Some(&writer),
            None,
        )
        .await;
        assert_eq!(s, StatusCode::NOT_FOUND, "already gone");
    }
}

/// Enquiries through the API, on the same path as their page: listed,
/// read, noted, converted with a new agency and the sponsor invited, and
/// attached; refused to anyone outside the programme, and with bad input.
#[tokio::test]
async fn enquiries_through_the_api() {
    for store in stores("api-enquiries").await {
        let app = app(&store).await;
        let staff = token(&store, "sam@dta.gov.au", Role::ProgrammeStaff).await;
        let t = Some(staff.as_str());
        let add = |subject: &str| waymark_store::NewEnquiry {
            source: "form".into(),
            message_id: None,
            agency_name: "Bureau of Meteorology".into(),
            contact_name: "Bea <Sponsor>".into(),
            contact_email: "bea@bom.gov.au".into(),
            contact_role: "CIO".into(),
            subject: subject.into(),
            body: "We would like to adopt the blueprint.".into(),
            timeframe: "".into(),
            preference: "".into(),
            attachments: Vec::new(),
        };
        let id = |o: waymark_store::ImportOutcome| match o {
            waymark_store::ImportOutcome::Added(id) => id,
            other => panic!("{other:?}"),
        };
        let first = id(store.add_enquiry(&add("First"), None, NOW).await.unwrap());
        let second = id(store.add_enquiry(&add("Second"), None, NOW).await.unwrap());
        let (s, _, list) = call(&app, "GET", "/api/v1/enquiries", t, None).await;
        assert_eq!(s, StatusCode::OK, "{list}");
        assert_eq!(list.as_array().unwrap().len(), 2);
        let (s, _, p) = call(&app, "GET", "/api/v1/enquiries?status=lost", t, None).await;
        assert_eq!(
            (s, &p["errors"][0]["field"]),
            (StatusCode::UNPROCESSABLE_ENTITY, &json!("status"))
        );

        let uri = format!("/api/v1/enquiries/{first}/triage");
        let (s, _, done) = call(
            &app,
            "POST",
            &uri,
            t,
            Some(r#"{"action":"note","text":"Called Bea"}"#),
        )
        .await;
        assert_eq!(s, StatusCode::OK, "{done}");
        let (s, _, view) = call(&app, "GET", &format!("/api/v1/enquiries/{first}"), t, None).await;
        assert_eq!(s, StatusCode::OK);
        assert_eq!(view["events"][1]["triage"]["type"], "note", "{view}");
        assert_eq!(view["enquiry"]["contact_name"], "Bea <Sponsor>");

        // Bad input, every field named; nothing is converted.
        let (s, _, p) = call(
            &app,
            "POST",
            &uri,
            t,
            Some(r#"{"action":"convert","new_agency":{"name":"","abbreviation":"B","portfolio":""}}"#),
        )
        .await;
        assert_eq!(s, StatusCode::UNPROCESSABLE_ENTITY, "{p}");
        assert!(
            p["errors"].to_string().contains("new_agency.abbreviation"),
            "{p}"
        );
        let (s, _, p) = call(
            &app,
            "POST",
            &uri,
            t,
            Some(r#"{"action":"convert","agency":"NOPE"}"#),
        )
        .await;
        assert_eq!(s, StatusCode::UNPROCESSABLE_ENTITY, "{p}");
        let (s, _, _) = call(&app, "POST", &uri, t, Some(r#"{"action":"launch"}"#)).await;
        assert_eq!(s, StatusCode::BAD_REQUEST);
        let (s, _, p) = call(&app, "POST", &uri, t, Some(r#"{"action":"close"}"#)).await;
        assert_eq!(
            (s, &p["errors"][0]["field"]),
            (StatusCode::UNPROCESSABLE_ENTITY, &json!("reason"))
        );
        let (s, _, _) = call(
            &app,
            "POST",
            "/api/v1/enquiries/9223372036854775806/triage",
            t,
            Some(r#"{"action":"note","text":"x"}"#),
        )
        .await;
        assert_eq!(s, StatusCode::NOT_FOUND);

        // Converted: a new agency, an engagement, the sponsor invited.
        let (s, _, done) = call(
            &app,
            "POST",
            &uri,
            t,
            Some(r#"{"action":"convert","new_agency":{"name":"Bureau of Meteorology","abbreviation":"BOM","portfolio":"Environment"},"invite_sponsor":true}"#),
        )
        .await;
        assert_eq!(s, StatusCode::OK, "{done}");
        assert_eq!(done["enquiry"]["status"], "converted");
        let engagement = done["conversion"]["engagement"].as_i64().unwrap();
        assert_eq!(done["enquiry"]["engagement"], engagement);
        assert_eq!(done["conversion"]["sponsor"]["email"], "bea@bom.gov.au");
        assert_eq!(done["conversion"]["sponsor"]["named"], true);
        let (_, _, e) = call(
            &app,
            "GET",
            &format!("/api/v1/engagements/{engagement}"),
            t,
            None,
        )
        .await;
        assert!(e["sponsor"].is_i64(), "{e}");
        // Again: it is no longer open.
        let (s, _, p) = call(
            &app,
            "POST",
            &uri,
            t,
            Some(r#"{"action":"convert","agency":"BOM"}"#),
        )
        .await;
        assert_eq!(s, StatusCode::CONFLICT, "{p}");

        // The second is attached to that engagement; to one that does not
        // exist, the field is named.
        let uri2 = format!("/api/v1/enquiries/{second}/triage");
        let (s, _, p) = call(
            &app,
            "POST",
            &uri2,
            t,
            Some(r#"{"action":"attach","engagement":999999}"#),
        )
        .await;
        assert_eq!(
            (s, &p["errors"][0]["field"]),
            (StatusCode::UNPROCESSABLE_ENTITY, &json!("engagement"))
        );
        let (s, _, done) = call(
            &app,
            "POST",
            &uri2,
            t,
            Some(&format!(
                r#"{{"action":"attach","engagement":{engagement}}}"#
            )),
        )
        .await;
        assert_eq!(
            (s, &done["enquiry"]["status"]),
            (StatusCode::OK, &json!("attached"))
        );
        let (_, _, open) = call(&app, "GET", "/api/v1/enquiries", t, None).await;
        assert!(open.as_array().unwrap().is_empty(), "{open}");
        let (_, _, all) = call(&app, "GET", "/api/v1/enquiries?status=all", t, None).await;
        assert_eq!(all.as_array().unwrap().len(), 2);

        // Four conversions at once: one engagement, the rest refused, and
        // nothing left belonging to nothing.
        let third = id(store.add_enquiry(&add("Third"), None, NOW).await.unwrap());
        let programme = Actor {
            person: PersonId(0),
            roles: vec![Role::ProgrammeAdmin],
        };
        let count = async || {
            store
                .engagements(&programme, &waymark_store::ListFilter::default())
                .await
                .unwrap()
                .total
        };
        let before = count().await;
        let uri3 = format!("/api/v1/enquiries/{third}/triage");
        let tries = (0..4).map(|_| {
            call(
                &app,
                "POST",
                &uri3,
                t,
                Some(r#"{"action":"convert","agency":"BOM"}"#),
            )
        });
        let answers = futures_util::future::join_all(tries).await;
        let ok = answers
            .iter()
            .filter(|(s, _, _)| *s == StatusCode::OK)
            .count();
        assert_eq!(ok, 1, "{answers:?}");
        assert!(
            answers
                .iter()
                .all(|(s, _, _)| *s == StatusCode::OK || *s == StatusCode::CONFLICT),
            "{answers:?}"
        );
        assert_eq!(count().await, before + 1);

        // An address that already has an account gains nothing from an
        // enquiry: anyone can type it.
        let other = store
            .add_agency(
                &NewAgency::parse("Other", "OTH", "Finance", None).unwrap(),
                NOW,
            )
            .await
            .unwrap();
        let mo = token(
            &store,
            "mo@other.gov.au",
            Role::AgencyMember {
                agency: other,
                sponsor: false,
            },
        )
        .await;
        let mut forged = add("Forged");
        forged.contact_email = "mo@other.gov.au".into();
        let fourth = id(store.add_enquiry(&forged, None, NOW).await.unwrap());
        let (s, _, done) = call(
            &app,
            "POST",
            &format!("/api/v1/enquiries/{fourth}/triage"),
            t,
            Some(r#"{"action":"convert","agency":"BOM","invite_sponsor":true}"#),
        )
        .await;
        assert_eq!(s, StatusCode::OK, "{done}");
        assert_eq!(done["conversion"]["sponsor"]["existing"], true, "{done}");
        assert_eq!(done["conversion"]["sponsor"]["named"], false);
        let bom_engagement = done["conversion"]["engagement"].as_i64().unwrap();
        let (_, _, me) = call(&app, "GET", "/api/v1/me", Some(&mo), None).await;
        assert_eq!(me["roles"].as_array().unwrap().len(), 1, "{me}");
        let (s, _, _) = call(
            &app,
            "GET",
            &format!("/api/v1/engagements/{bom_engagement}"),
            Some(&mo),
            None,
        )
        .await;
        assert_eq!(s, StatusCode::NOT_FOUND);

        // Nobody outside the programme reads or triages them.
        let agency = other;
        let member = token(
            &store,
            "mo2@other.gov.au",
            Role::AgencyMember {
                agency,
                sponsor: true,
            },
        )
        .await;
        let m = Some(member.as_str());
        for (method, uri, body) in [
            ("GET", "/api/v1/enquiries".to_string(), None),
            ("GET", format!("/api/v1/enquiries/{first}"), None),
            ("POST", uri.clone(), Some(r#"{"action":"note","text":"x"}"#)),
        ] {
            let (s, _, _) = call(&app, method, &uri, m, body).await;
            assert!(
                s == StatusCode::FORBIDDEN || s == StatusCode::NOT_FOUND,
                "{method} {uri}: {s}"
            );
        }
    }
}

#[tokio::test]
async fn a_whole_engagement_through_the_api() {
    use waymark_store::testing::{Who, assert_journey_done, journey};
    for store in stores("api-journey").await {
        let agency = store
            .add_agency(
                &NewAgency::parse("Bureau of Things", "BOT", "Industry", None).unwrap(),
                NOW,
            )
            .await
            .unwrap();
        let staff = token(&store, "sam@dta.gov.au", Role::ProgrammeStaff).await;
        let member = token(
            &store,
            "mia@bot.gov.au",
            Role::AgencyMember {
                agency,
                sponsor: false,
            },
        )
        .await;
        let sponsor = token(
            &store,
            "eve@bot.gov.au",
            Role::AgencyMember {
                agency,
                sponsor: true,
            },
        )
        .await;
        let app = app(&store).await;
        let (s, _, e) = call(
            &app,
            "POST",
            "/api/v1/engagements",
            Some(&staff),
            Some(r#"{"agency":"BOT"}"#),
        )
        .await;
        assert_eq!(s, StatusCode::CREATED);
        let uri = format!("/api/v1/engagements/{}/commands", e["id"]);
        let mut version = e["version"].as_u64().unwrap();
        for (who, cmd) in journey() {
            let token = match who {
                Who::Staff => &staff,
                Who::Member => &member,
                Who::Sponsor => &sponsor,
            };
            let body = json!({ "expected_version": version, "command": cmd }).to_string();
            let (s, _, after) = call(&app, "POST", &uri, Some(token), Some(&body)).await;
            assert_eq!(s, StatusCode::OK, "{cmd}: {after}");
            version = after["version"].as_u64().unwrap();
        }
        let (_, _, shown) = call(
            &app,
            "GET",
            &format!("/api/v1/engagements/{}", e["id"]),
            Some(&member),
            None,
        )
        .await;
        assert_journey_done(&shown);
        // The home page's dashboard, as JSON: the finished engagement is in
        // no stage's column, and its events are the latest activity.
        let (s, _, dash) = call(&app, "GET", "/api/v1/dashboard", Some(&member), None).await;
        assert_eq!(s, StatusCode::OK, "{dash}");
        let stages: Vec<&str> = dash["by_stage"]
            .as_array()
            .unwrap()
            .iter()
            .map(|c| c["stage"].as_str().unwrap())
            .collect();
        assert_eq!(
            stages,
            [
                "engagement",
                "discovery",
                "deploy",
                "transition",
                "adoption-evaluation"
            ]
        );
        assert!(
            dash["by_stage"]
                .as_array()
                .unwrap()
                .iter()
                .all(|c| c["active"] == 0)
        );
        assert_eq!(dash["recent"][0]["command"], "complete_stage");
        assert_eq!(dash["recent"].as_array().unwrap().len(), 12);
        assert!(dash["overdue"].as_array().unwrap().is_empty());
        let v = store.verify().await.unwrap();
        assert!(v.broken.is_empty());
    }
}

/// Parses `.ics` text with Python's icalendar and prints what a calendar
/// would see: the organizers, the URL, and each attendee with its name.
fn ics_as_python_reads_it(text: &str) -> Option<String> {
    let script = r#"
import sys, icalendar
cal = icalendar.Calendar.from_ical(sys.stdin.read())
for ev in cal.walk("VEVENT"):
    org = ev.get("organizer")
    org = org if isinstance(org, list) else ([org] if org else [])
    print("ORGANIZERS", len(org))
    print("URL", ev.get("url"))
    att = ev.get("attendee") or []
    att = att if isinstance(att, list) else [att]
    for a in att:
        print("ATTENDEE", str(a), "CN=" + str(a.params.get("CN")))
    print("SUMMARY", ev.get("summary"))
"#;
    let ok = std::process::Command::new("python3")
        .args(["-c", "import icalendar"])
        .output()
        .is_ok_and(|o| o.status.success());
    if !ok {
        waymark_store::testing::skip(
            "iCalendar injection test: Python's icalendar is not installed (python3 -m pip install icalendar)",
        );
        return None;
    }
    Some(crate::python(script, text))
}

/// The four findings of the outside probe, each through the API as the
/// attacker sent it, and the small ones beside them.
#[tokio::test]
async fn what_an_attacker_found_is_closed() {
    for store in stores("api-attacks").await {
        let agency = store
            .add_agency(
                &NewAgency::parse("Bureau of Things", "BOT", "Industry", None).unwrap(),
                NOW,
            )
            .await
            .unwrap();
        let other_agency = store
            .add_agency(
                &NewAgency::parse("Other", "OTH", "Finance", None).unwrap(),
                NOW,
            )
            .await
            .unwrap();
        let staff = token(&store, "sam@dta.gov.au", Role::ProgrammeStaff).await;
        let member = token(
            &store,
            "mia@bot.gov.au",
            Role::AgencyMember {
                agency,
                sponsor: false,
            },
        )
        .await;
        let outsider = token(
            &store,
            "olly@oth.gov.au",
            Role::AgencyMember {
                agency: other_agency,
                sponsor: true,
            },
        )
        .await;
        let person_of = async |email: &str| {
            store
                .person_by_email(&Email::parse(email).unwrap())
                .await
                .unwrap()
                .unwrap()
        };
        let mia = person_of("mia@bot.gov.au").await;
        let olly = person_of("olly@oth.gov.au").await;
        let app = app(&store).await;
        let (_, _, e) = call(
            &app,
            "POST",
            "/api/v1/engagements",
            Some(&staff),
            Some(r#"{"agency":"BOT"}"#),
        )
        .await;
        let id = e["id"].as_i64().unwrap();
        let uri = format!("/api/v1/engagements/{id}/commands");
        let run = async |who: &str, cmd: Value| {
            let (_, _, now) = call(
                &app,
                "GET",
                &format!("/api/v1/engagements/{id}"),
                Some(&staff),
                None,
            )
            .await;
            let body = json!({ "expected_version": now["version"], "command": cmd }).to_string();
            call(&app, "POST", &uri, Some(who), Some(&body)).await
        };

        // 1. A member cannot make themself sponsor; nobody can name another
        // agency's person, or a person who does not exist.
        let (s, ct, p) = run(&member, json!({"command": "set_sponsor", "person": mia.0})).await;
        assert_eq!(
            (s, p["code"].as_str()),
            (StatusCode::FORBIDDEN, Some("forbidden")),
            "{p}"
        );
        assert_eq!(ct, "application/problem+json");
        for person in [olly.0, 999_999] {
            let (s, _, p) = run(&staff, json!({"command": "set_sponsor", "person": person})).await;
            assert_eq!(s, StatusCode::UNPROCESSABLE_ENTITY, "{p}");
            assert_eq!(p["errors"][0]["field"], "person");
        }
        // ...so the member cannot sign the letter either.
        let (s, _, _) = run(
            &member,
            json!({"command": "sign_off", "document": "letter-of-intent", "sha256": "a".repeat(64)}),
        )
        .await;
        assert_eq!(s, StatusCode::FORBIDDEN);
        // The programme names the member; the engagement never names Olly.
        let (s, _, after) = run(&staff, json!({"command": "set_sponsor", "person": mia.0})).await;
        assert_eq!(s, StatusCode::OK, "{after}");
        assert_eq!(after["sponsor"], mia.0);

        // 2. iCalendar injection: CR/LF in a name is refused at the core;
        // quotes, colons, semicolons and commas are encoded, not obeyed.
        let plan = |name: &str| {
            json!({"command": "schedule_workshop", "plan": {
            "title": "Initial workshop; \"kick-off\", part 1: scope",
            "date": "2026-12-01", "time": "10:00", "timezone": "Australia/Canberra",
            "minutes": 60, "location": "Room 1, Level 2; Canberra",
            "agenda": "Sponsorship\r\nBudget",
            "attendees": [
                {"email": "guest@example.org", "name": name},
                {"email": "ignored@evil.example", "person": olly.0},
            ]}})
        };
        let injected = "Guest\r\nORGANIZER;CN=Attacker:mailto:attacker@evil.example\r\nURL:https://evil.example/phish";
        let (s, _, p) = run(&member, plan(injected)).await;
        assert_eq!(s, StatusCode::UNPROCESSABLE_ENTITY, "{p}");
        assert_eq!(p["errors"][0]["field"], "attendees");
        // Another agency's person cannot be invited by id either.
        let tricky = "Guest \"Boss\"; ROLE=CHAIR:mailto:x@evil.example, ^n";
        let (s, _, p) = run(&member, plan(tricky)).await;
        assert_eq!(s, StatusCode::UNPROCESSABLE_ENTITY, "{p}");
        assert!(p["detail"].as_str().unwrap().contains("takes part"), "{p}");
        let mut ok = plan(tricky);
        ok["plan"]["attendees"][1]["person"] = json!(mia.0);
        let (s, _, after) = run(&member, ok).await;
        assert_eq!(s, StatusCode::OK, "{after}");
        // The API's workshop invites its attendees, as the form's does.
        let admin = Actor {
            person: PersonId(0),
            roles: vec![Role::ProgrammeAdmin],
        };
        let mail = store.outbox(&admin, 50).await.unwrap();
        let invites: Vec<_> = mail.iter().filter(|m| m.kind == "workshop").collect();
        assert_eq!(invites.len(), 2, "{mail:?}");
        // Mia is invited at her own address, whatever the request said.
        assert!(invites.iter().any(|m| m.recipient == "mia@bot.gov.au"));
        assert!(!mail.iter().any(|m| m.recipient.contains("evil.example")));
        let ics = invites[0].attachment.clone().unwrap();
        if let Some(seen) = ics_as_python_reads_it(&ics) {
            assert!(seen.contains("ORGANIZERS 1\n"), "{seen}\n{ics}");
            assert!(seen.contains("URL None\n"), "{seen}\n{ics}");
            assert!(seen.contains(&format!("CN={tricky}\n")), "{seen}\n{ics}");
            assert!(
                seen.contains(
                    "SUMMARY Initial workshop; \"kick-off\", part 1: scope (Bureau of Things)"
                ),
                "{seen}"
            );
        }
        // The invitation through the API is the one the attendees got; to
        // another agency it does not exist.
        let workshop = after["workshops"][0]["id"].as_u64().unwrap();
        let ics_uri = format!("/api/v1/engagements/{id}/workshops/{workshop}/invitation");
        let (status, ct, body) = fetch(&app, &ics_uri, &member).await;
        assert_eq!(status, StatusCode::OK);
        assert!(ct.starts_with("text/calendar"), "{ct}");
        let text = String::from_utf8(body).unwrap();
        if let Some(seen) = ics_as_python_reads_it(&text) {
            assert!(seen.contains("ORGANIZERS 1\n"), "{seen}\n{text}");
            assert!(seen.contains(&format!("CN={tricky}\n")), "{seen}\n{text}");
        }
        let (s, ct, _) = call(&app, "GET", &ics_uri, Some(&outsider), None).await;
        assert_eq!(
            (s, ct.as_str()),
            (StatusCode::NOT_FOUND, "application/problem+json")
        );
        let (s, _, _) = call(
            &app,
            "GET",
            &format!("/api/v1/engagements/{id}/workshops/99/invitation"),
            Some(&member),
            None,
        )
        .await;
        assert_eq!(s, StatusCode::NOT_FOUND);

        // 3. Text is bounded: 1.9 MB of initiative description is refused.
        let big = "x".repeat(1_900_000);
        let (s, _, p) = run(
            &member,
            json!({"command": "link_initiative", "name": "Records", "description": big}),
        )
        .await;
        assert_eq!(s, StatusCode::UNPROCESSABLE_ENTITY);
        assert_eq!(p["errors"][0]["field"], "description");
        assert!(
            p["detail"].as_str().unwrap().contains("at most 4000"),
            "{p}"
        );
        // An over-long skip reason says what is wrong.
        let (_, _, p) = run(
            &member,
            json!({"command": "skip_step", "stage": "engagement", "step": 1, "reason": "r".repeat(2001)}),
        )
        .await;
        assert!(p["detail"].as_str().unwrap().contains("too long"), "{p}");

        // 4. Letters and documents through the API take the workspace's
        // path, bytes and all; their bytes are checked when served.
        let (_, _, now) = call(
            &app,
            "GET",
            &format!("/api/v1/engagements/{id}"),
            Some(&staff),
            None,
        )
        .await;
        let (s, _, p) = call(
            &app,
            "POST",
            &format!("/api/v1/engagements/{id}/letters/letter-of-intent"),
            Some(&member),
            Some(&json!({"expected_version": now["version"]}).to_string()),
        )
        .await;
        assert_eq!(s, StatusCode::FORBIDDEN, "{p}");

        // The small ones: path ids answer problems; the docs have a policy.
        for (uri, want, code) in [
            (
                "/api/v1/engagements/abc",
                StatusCode::BAD_REQUEST,
                "bad_request",
            ),
            (
                "/api/v1/engagements/1/letters/x/y",
                StatusCode::NOT_FOUND,
                "not_found",
            ),
        ] {
            let (s, ct, p) = call(&app, "GET", uri, Some(&staff), None).await;
            assert_eq!(
                (s, ct.as_str()),
                (want, "application/problem+json"),
                "{uri}"
            );
            assert_eq!(p["code"], code, "{uri}");
        }
        for (method, uri, want) in [
            ("GET", "/api/v1/nonexistent", StatusCode::NOT_FOUND),
            (
                "DELETE",
                "/api/v1/engagements/1",
                StatusCode::METHOD_NOT_ALLOWED,
            ),
        ] {
            let (s, ct, p) = call(&app, method, uri, Some(&staff), None).await;
            assert_eq!(
                (s, ct.as_str()),
                (want, "application/problem+json"),
                "{method} {uri}: {p}"
            );
        }
        let huge = json!({"expected_version": 1, "command": {"command": "add_risk", "text": "x".repeat(3_000_000)}}).to_string();
        let (s, ct, p) = call(&app, "POST", &uri, Some(&staff), Some(&huge)).await;
        assert_eq!(
            (s, ct.as_str()),
            (StatusCode::PAYLOAD_TOO_LARGE, "application/problem+json"),
            "{p}"
        );
        // A person cannot be given a membership of an agency that does not exist.
        let admin = token(&store, "ada@dta.gov.au", Role::ProgrammeAdmin).await;
        let (s, _, p) = call(
            &app,
            "POST",
            "/api/v1/people",
            Some(&admin),
            Some(r#"{"name":"Nobody","email":"n@x.gov.au","roles":[{"role":"agency_member","agency":999,"sponsor":false}]}"#),
        )
        .await;
        assert_eq!(
            (s, p["code"].as_str()),
            (StatusCode::UNPROCESSABLE_ENTITY, Some("missing")),
            "{p}"
        );
        let (s, ct, _) = call(&app, "GET", "/api/v1/engagements/abc", Some(&staff), None).await;
        assert_eq!(
            (s, ct.as_str()),
            (StatusCode::BAD_REQUEST, "application/problem+json")
        );
        let res = app
            .clone()
            .oneshot(Request::get("/api/docs/").body(Body::empty()).unwrap())
            .await
            .unwrap();
        assert_eq!(res.status(), StatusCode::OK);
        let csp = res.headers()[header::CONTENT_SECURITY_POLICY]
            .to_str()
            .unwrap();
        assert!(csp.contains("frame-ancestors 'none'"), "{csp}");
        assert!(csp.contains("script-src 'self'"), "{csp}");
        let _ = outsider;
    }
}

/// Uploading a document and issuing a letter through the API, as an
/// integrator would, land exactly as the workspace's do.
#[tokio::test]
async fn documents_and_letters_through_the_api() {
    for store in stores("api-records").await {
        let agency = store
            .add_agency(
                &NewAgency::parse("Bureau of Things", "BOT", "Industry", None).unwrap(),
                NOW,
            )
            .await
            .unwrap();
        let staff = token(&store, "sam@dta.gov.au", Role::ProgrammeStaff).await;
        let member = token(
            &store,
            "mia@bot.gov.au",
            Role::AgencyMember {
                agency,
                sponsor: true,
            },
        )
        .await;
        let app = app(&store).await;
        let (_, _, e) = call(
            &app,
            "POST",
            "/api/v1/engagements",
            Some(&staff),
            Some(r#"{"agency":"BOT"}"#),
        )
        .await;
        let id = e["id"].as_i64().unwrap();
        let version = e["version"].as_u64().unwrap();
        let multipart = |version: u64, name: &str, bytes: &[u8]| {
            let mut body = Vec::new();
            for (field, value) in [
                ("expected_version", version.to_string()),
                ("title", "Business case".into()),
            ] {
                body.extend(format!("--XyZ\r\nContent-Disposition: form-data; name=\"{field}\"\r\n\r\n{value}\r\n").as_bytes());
            }
            body.extend(format!("--XyZ\r\nContent-Disposition: form-data; name=\"file\"; filename=\"{name}\"\r\nContent-Type: application/octet-stream\r\n\r\n").as_bytes());
            body.extend(bytes);
            body.extend(b"\r\n--XyZ--\r\n");
            Request::post(format!("/api/v1/engagements/{id}/documents"))
                .header(header::AUTHORIZATION, format!("Bearer {member}"))
                .header(header::CONTENT_TYPE, "multipart/form-data; boundary=XyZ")
                .body(Body::from(body))
                .unwrap()
        };
        let res = app
            .clone()
            .oneshot(multipart(version, "../../case.pdf", b"not a pdf"))
            .await
            .unwrap();
        assert_eq!(res.status(), StatusCode::UNPROCESSABLE_ENTITY);
        let res = app
            .clone()
            .oneshot(multipart(version, "../../case.pdf", b"%PDF-1.7 the case"))
            .await
            .unwrap();
        assert_eq!(res.status(), StatusCode::OK);
        let bytes = axum::body::to_bytes(res.into_body(), usize::MAX)
            .await
            .unwrap();
        let after: Value = serde_json::from_slice(&bytes).unwrap();
        assert_eq!(after["documents"][0]["name"], "case.pdf");
        assert_eq!(after["documents"][0]["title"], "Business case");
        assert_eq!(after["documents"][0]["content_type"], "application/pdf");
        // The file comes back as it went in, to those who see the
        // engagement; to another agency it does not exist.
        let file = after["documents"][0]["file"].as_i64().unwrap();
        let (status, ct, got) = fetch(&app, &format!("/api/v1/files/{file}"), &staff).await;
        assert_eq!((status, ct.as_str()), (StatusCode::OK, "application/pdf"));
        assert_eq!(&got[..], b"%PDF-1.7 the case");
        let other = store
            .add_agency(
                &NewAgency::parse("Other", "OTH", "Finance", None).unwrap(),
                NOW,
            )
            .await
            .unwrap();
        let outsider = token(
            &store,
            "olly@oth.gov.au",
            Role::AgencyMember {
                agency: other,
                sponsor: false,
            },
        )
        .await;
        let (s, _, _) = call(
            &app,
            "GET",
            &format!("/api/v1/files/{file}"),
            Some(&outsider),
            None,
        )
        .await;
        assert_eq!(s, StatusCode::NOT_FOUND);
        // Deploy's exports, as the workspace gives them.
        for (name, kind) in [
            ("sprints.csv", "text/csv"),
            ("stories.csv", "text/csv"),
            ("delivery.md", "text/markdown"),
        ] {
            let (s, ct, _) = call(
                &app,
                "GET",
                &format!("/api/v1/engagements/{id}/delivery/{name}"),
                Some(&member),
                None,
            )
            .await;
            assert_eq!(s, StatusCode::OK, "{name}");
            assert!(ct.starts_with(kind), "{name}: {ct}");
        }
        let (s, _, _) = call(
            &app,
            "GET",
            &format!("/api/v1/engagements/{id}/delivery/secrets.txt"),
            Some(&member),
            None,
        )
        .await;
        assert_eq!(s, StatusCode::NOT_FOUND);
        // The outbox is the admins': to others it does not exist.
        let admin = token(&store, "ada@dta.gov.au", Role::ProgrammeAdmin).await;
        let (s, _, mail) = call(&app, "GET", "/api/v1/outbox", Some(&admin), None).await;
        assert_eq!(s, StatusCode::OK, "{mail}");
        assert!(mail.is_array());
        let (s, _, _) = call(&app, "GET", "/api/v1/outbox", Some(&staff), None).await;
        assert_eq!(s, StatusCode::NOT_FOUND);

        // A letter needs the decision it records first: refused with the reason.
        let (s, _, p) = call(
            &app,
            "POST",
            &format!("/api/v1/engagements/{id}/letters/letter-of-intent"),
            Some(&staff),
            Some(&json!({"expected_version": after["version"]}).to_string()),
        )
        .await;
        assert_eq!(s, StatusCode::CONFLICT, "{p}");
        assert!(
            p["detail"]
                .as_str()
                .unwrap()
                .contains("cannot be written yet"),
            "{p}"
        );
        let (s, _, _) = call(
            &app,
            "POST",
            &format!("/api/v1/engagements/{id}/letters/nonsense"),
            Some(&staff),
            Some(&json!({"expected_version": after["version"]}).to_string()),
        )
        .await;
        assert_eq!(s, StatusCode::NOT_FOUND);
        // With the decision recorded, the letter is issued, and its PDF is
        // read back through the API as it was issued.
        let (s, _, decided) = call(
            &app,
            "POST",
            &format!("/api/v1/engagements/{id}/commands"),
            Some(&staff),
            Some(
                &json!({"expected_version": after["version"], "command": {
                    "command": "decide", "stage": "engagement", "at": {"kind": "point", "index": 0},
                    "option": 0, "rationale": "A business case first.", "funded_by": "dta", "note": null}})
                .to_string(),
            ),
        )
        .await;
        assert_eq!(s, StatusCode::OK, "{decided}");
        let mia = store
            .person_by_email(&Email::parse("mia@bot.gov.au").unwrap())
            .await
            .unwrap()
            .unwrap();
        let (s, _, decided) = call(
            &app,
            "POST",
            &format!("/api/v1/engagements/{id}/commands"),
            Some(&staff),
            Some(
                &json!({"expected_version": decided["version"], "command": {"command": "set_sponsor", "person": mia.0}})
                    .to_string(),
            ),
        )
        .await;
        assert_eq!(s, StatusCode::OK, "{decided}");
        let (s, _, issued) = call(
            &app,
            "POST",
            &format!("/api/v1/engagements/{id}/letters/letter-of-intent"),
            Some(&staff),
            Some(&json!({"expected_version": decided["version"]}).to_string()),
        )
        .await;
        assert_eq!(s, StatusCode::OK, "{issued}");
        let pdf_uri = format!("/api/v1/engagements/{id}/letters/letter-of-intent/1/pdf");
        let (status, ct, pdf) = fetch(&app, &pdf_uri, &member).await;
        assert_eq!((status, ct.as_str()), (StatusCode::OK, "application/pdf"));
        assert!(pdf.starts_with(b"%PDF-"));
        for (uri, who) in [
            (pdf_uri.clone(), &outsider),
            (
                format!("/api/v1/engagements/{id}/letters/letter-of-intent/2/pdf"),
                &member,
            ),
            (
                format!("/api/v1/engagements/{id}/letters/closure-letter/1/pdf"),
                &member,
            ),
        ] {
            let (s, _, _) = call(&app, "GET", &uri, Some(who), None).await;
            assert_eq!(s, StatusCode::NOT_FOUND, "{uri}");
        }
    }
}

/// Search through the API: the caller's reach, grouped results, and
/// problems for a kind or page that does not exist.
#[tokio::test]
async fn search_through_the_api() {
    for store in stores("api-search").await {
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
        let staff = token(&store, "s@dta.gov.au", Role::ProgrammeStaff).await;
        let outsider = token(
            &store,
            "o@ot.gov.au",
            Role::AgencyMember {
                agency: other,
                sponsor: true,
            },
        )
        .await;
        let app = app(&store).await;
        let _ = agency;
        let (st, _, e) = call(
            &app,
            "POST",
            "/api/v1/engagements",
            Some(&staff),
            Some(r#"{"agency":"ag"}"#),
        )
        .await;
        assert_eq!(st, StatusCode::CREATED, "{e}");
        let id = e["id"].as_i64().unwrap();
        let cmd = r#"{"expected_version": 1, "command": {"command": "add_risk", "text": "Vexillum tokens expire", "stage": null}}"#;
        let (st, _, r) = call(
            &app,
            "POST",
            &format!("/api/v1/engagements/{id}/commands"),
            Some(&staff),
            Some(cmd),
        )
        .await;
        assert_eq!(st, StatusCode::OK, "{r}");
        let (st, _, r) = call(&app, "GET", "/api/v1/search?q=vexillum", Some(&staff), None).await;
        assert_eq!(st, StatusCode::OK, "{r}");
        assert_eq!(r["groups"][0]["kind"], "engagement", "{r}");
        assert_eq!(r["groups"][0]["total"], 1);
        assert_eq!(r["groups"][0]["hits"][0]["reference"], id.to_string());
        let (st, _, r) = call(
            &app,
            "GET",
            "/api/v1/search?q=vexillum",
            Some(&outsider),
            None,
        )
        .await;
        assert_eq!(st, StatusCode::OK);
        assert_eq!(
            r["groups"],
            serde_json::json!([]),
            "another agency's engagement: {r}"
        );
        let (st, _, r) = call(
            &app,
            "GET",
            "/api/v1/search?q=discovery&kind=guide&page=1",
            Some(&outsider),
            None,
        )
        .await;
        assert_eq!(st, StatusCode::OK);
        assert_eq!(r["query"], "discovery");
        assert_eq!(
            r["groups"][0]["hits"][0]["reference"], "discovery.html",
            "{r}"
        );
        // An unknown kind is told every kind there is.
        let (_, _, r) = call(
            &app,
            "GET",
            "/api/v1/search?q=a&kind=secrets",
            Some(&staff),
            None,
        )
        .await;
        assert!(
            r.to_string()
                .contains("choose one of guide, article, engagement, agency, enquiry, question"),
            "{r}"
        );
        for bad in ["kind=secrets", "page=0", "page=51", "kind=guide&page=x"] {
            let (st, ct, r) = call(
                &app,
                "GET",
                &format!("/api/v1/search?q=a&{bad}"),
                Some(&staff),
                None,
            )
            .await;
            assert!(st.is_client_error(), "{bad}: {st}");
            assert!(
                ct.starts_with("application/problem+json"),
                "{bad}: {ct} {r}"
            );
        }
        let (st, _, _) = call(&app, "GET", "/api/v1/search?q=a", None, None).await;
        assert_eq!(st, StatusCode::UNAUTHORIZED);
    }
}

/// Articles and releases through the API: the same rules and the same
/// path as the workspace.
#[tokio::test]
async fn articles_and_releases_through_the_api() {
    for store in stores("api-articles").await {
        let agency = store
            .add_agency(
                &NewAgency::parse("Agency", "AG", "Finance", None).unwrap(),
                NOW,
            )
            .await
            .unwrap();
        let staff = token(&store, "s@dta.gov.au", Role::ProgrammeStaff).await;
        let member = token(
            &store,
            "m@ag.gov.au",
            Role::AgencyMember {
                agency,
                sponsor: false,
            },
        )
        .await;
        let app = app(&store).await;
        let article = |action: &str, body: &str, version: Option<i64>| {
            json!({
                "article": {
                    "title": "Licensing", "summary": "What to buy.", "body": body,
                    "tags": "deploy", "review_by": "2099-01-01"
                },
                "action": action,
                "expected_version": version,
            })
            .to_string()
        };
        let (st, _, p) = call(
            &app,
            "POST",
            "/api/v1/articles",
            Some(&member),
            Some(&article("publish", "x", None)),
        )
        .await;
        assert_eq!(st, StatusCode::FORBIDDEN, "{p}");
        let bad = json!({"article": {"title": "", "review_by": "2001-01-01", "tags": "nowhere/1"}, "action": "save"}).to_string();
        let (st, ct, p) = call(&app, "POST", "/api/v1/articles", Some(&staff), Some(&bad)).await;
        assert_eq!(st, StatusCode::UNPROCESSABLE_ENTITY);
        assert!(ct.starts_with("application/problem+json"));
        let fields: Vec<&str> = p["errors"]
            .as_array()
            .unwrap()
            .iter()
            .map(|e| e["field"].as_str().unwrap())
            .collect();
        assert_eq!(
            fields,
            [
                "article.title",
                "article.summary",
                "article.body",
                "article.review_by",
                "article.tags"
            ],
            "{p}"
        );
        let (st, _, p) = call(
            &app,
            "POST",
            "/api/v1/articles",
            Some(&staff),
            Some(&article("publish", "See [x](nowhere.md).", None)),
        )
        .await;
        assert_eq!(
            st,
            StatusCode::UNPROCESSABLE_ENTITY,
            "broken links are not published: {p}"
        );
        let (st, _, p) = call(
            &app,
            "POST",
            "/api/v1/articles",
            Some(&staff),
            Some(&article("publish", "Buy E5.", None)),
        )
        .await;
        assert_eq!(st, StatusCode::CREATED, "{p}");
        let id = p["id"].as_i64().unwrap();
        let (st, _, list) = call(&app, "GET", "/api/v1/articles", Some(&member), None).await;
        assert_eq!(st, StatusCode::OK);
        assert_eq!(list["total"], 1);
        assert_eq!(list["items"][0]["slug"], "licensing");
        assert_eq!(list["items"][0]["version"]["number"], 1);
        let (st, _, _) = call(
            &app,
            "GET",
            "/api/v1/articles?limit=501",
            Some(&member),
            None,
        )
        .await;
        assert_eq!(st, StatusCode::UNPROCESSABLE_ENTITY);
        let (_, _, empty) = call(
            &app,
            "GET",
            "/api/v1/articles?offset=5",
            Some(&member),
            None,
        )
        .await;
        assert_eq!(
            (
                empty["total"].as_u64(),
                empty["items"].as_array().map(Vec::len)
            ),
            (Some(1), Some(0))
        );
        let (st, _, _) = call(&app, "GET", "/api/v1/articles/drafts", Some(&member), None).await;
        assert_eq!(st, StatusCode::FORBIDDEN);
        let (_, _, drafts) = call(&app, "GET", "/api/v1/articles/drafts", Some(&staff), None).await;
        let version = drafts[0]["version"].as_i64().unwrap();
        let uri = format!("/api/v1/articles/{id}");
        let (st, _, _) = call(
            &app,
            "POST",
            &uri,
            Some(&staff),
            Some(&article("publish", "Buy E3.", None)),
        )
        .await;
        assert_eq!(
            st,
            StatusCode::UNPROCESSABLE_ENTITY,
            "a change names the version read"
        );
        let (st, _, _) = call(
            &app,
            "POST",
            &uri,
            Some(&staff),
            Some(&article("publish", "Buy E3.", Some(version + 5))),
        )
        .await;
        assert_eq!(st, StatusCode::CONFLICT);
        let (st, _, p) = call(
            &app,
            "POST",
            &uri,
            Some(&staff),
            Some(&article("publish", "Buy E3.", Some(version))),
        )
        .await;
        assert_eq!(st, StatusCode::OK, "{p}");
        let (_, _, versions) =
            call(&app, "GET", &format!("{uri}/versions"), Some(&member), None).await;
        assert_eq!(versions.as_array().unwrap().len(), 2);
        let (st, _, _) = call(
            &app,
            "POST",
            &format!("{uri}/feedback"),
            Some(&member),
            Some(r#"{"helpful": true, "comment": "Clear"}"#),
        )
        .await;
        assert_eq!(st, StatusCode::NO_CONTENT);
        let (st, _, _) = call(
            &app,
            "POST",
            "/api/v1/articles/999/feedback",
            Some(&member),
            Some(r#"{"helpful": true}"#),
        )
        .await;
        assert_eq!(st, StatusCode::NOT_FOUND);
        // Releases.
        let release = r#"{"version": "2.1", "released_on": "2026-12-01", "notes": "Baselines.", "link": "https://desktop.gov.au"}"#;
        let (st, _, _) = call(
            &app,
            "POST",
            "/api/v1/blueprint/releases",
            Some(&member),
            Some(release),
        )
        .await;
        assert_eq!(st, StatusCode::FORBIDDEN);
        let (st, _, p) = call(
            &app,
            "POST",
            "/api/v1/blueprint/releases",
            Some(&staff),
            Some(release),
        )
        .await;
        assert_eq!(st, StatusCode::CREATED, "{p}");
        let (st, _, _) = call(
            &app,
            "POST",
            "/api/v1/blueprint/releases",
            Some(&staff),
            Some(release),
        )
        .await;
        assert_eq!(st, StatusCode::CONFLICT);
        let bad = r#"{"version": "3", "released_on": "soon", "notes": "x", "link": "javascript:alert(1)"}"#;
        let (st, _, p) = call(
            &app,
            "POST",
            "/api/v1/blueprint/releases",
            Some(&staff),
            Some(bad),
        )
        .await;
        assert_eq!(st, StatusCode::UNPROCESSABLE_ENTITY);
        assert_eq!(p["errors"].as_array().unwrap().len(), 2, "{p}");
        let (_, _, list) = call(
            &app,
            "GET",
            "/api/v1/blueprint/releases",
            Some(&member),
            None,
        )
        .await;
        assert_eq!(list[0]["version"], "2.1");
    }
}

/// The directory through the API: the sponsor lists the agency; what it
/// shows comes from the record; another agency cannot change it.
#[tokio::test]
async fn the_adopter_directory_through_the_api() {
    for store in stores("api-adopters").await {
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
        let sponsor = token(
            &store,
            "s@ag.gov.au",
            Role::AgencyMember {
                agency,
                sponsor: true,
            },
        )
        .await;
        let outsider = token(
            &store,
            "o@ot.gov.au",
            Role::AgencyMember {
                agency: other,
                sponsor: true,
            },
        )
        .await;
        let app = app(&store).await;
        let (st, _, e) = call(
            &app,
            "POST",
            "/api/v1/engagements",
            Some(&sponsor),
            Some(r#"{"agency":"ag"}"#),
        )
        .await;
        assert_eq!(st, StatusCode::CREATED, "{e}");
        let uri = format!("/api/v1/agencies/{}/directory", agency.0);
        let (st, _, _) = call(
            &app,
            "POST",
            &uri,
            Some(&outsider),
            Some(r#"{"listed": true}"#),
        )
        .await;
        assert_eq!(st, StatusCode::FORBIDDEN);
        let (st, _, p) = call(
            &app,
            "POST",
            &uri,
            Some(&sponsor),
            Some(r#"{"listed": true, "contact": "x", "case_study": "ftp://x"}"#),
        )
        .await;
        assert_eq!(st, StatusCode::UNPROCESSABLE_ENTITY);
        assert_eq!(p["errors"].as_array().unwrap().len(), 2, "{p}");
        let (st, _, _) = call(
            &app,
            "POST",
            &uri,
            Some(&sponsor),
            Some(r#"{"listed": true, "contact": "cio@ag.gov.au"}"#),
        )
        .await;
        assert_eq!(st, StatusCode::NO_CONTENT);
        let (_, _, list) = call(&app, "GET", "/api/v1/adopters", Some(&outsider), None).await;
        assert_eq!(list[0]["abbreviation"], "AG", "{list}");
        assert_eq!(list[0]["furthest"], "Engagement");
        assert_eq!(list[0]["active"], json!(["Engagement"]));
        let (st, _, _) = call(
            &app,
            "POST",
            "/api/v1/agencies/999/directory",
            Some(&sponsor),
            Some(r#"{"listed": false}"#),
        )
        .await;
        assert_eq!(st, StatusCode::NOT_FOUND);
        let (st, _, _) = call(
            &app,
            "POST",
            &uri,
            Some(&sponsor),
            Some(r#"{"listed": false}"#),
        )
        .await;
        assert_eq!(st, StatusCode::NO_CONTENT);
        let (_, _, list) = call(&app, "GET", "/api/v1/adopters", Some(&outsider), None).await;
        assert_eq!(list, json!([]));
    }
}

#[tokio::test]
async fn the_self_assessment_and_the_tailored_journey_through_the_api() {
    for store in stores("api-assess").await {
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
        let sponsor = token(
            &store,
            "s@ag.gov.au",
            Role::AgencyMember {
                agency,
                sponsor: true,
            },
        )
        .await;
        let member = token(
            &store,
            "m@ag.gov.au",
            Role::AgencyMember {
                agency,
                sponsor: false,
            },
        )
        .await;
        let outsider = token(
            &store,
            "o@ot.gov.au",
            Role::AgencyMember {
                agency: other,
                sponsor: true,
            },
        )
        .await;
        let staff = token(&store, "p@dta.gov.au", Role::ProgrammeStaff).await;
        let app = app(&store).await;
        let (st, _, e) = call(
            &app,
            "POST",
            "/api/v1/engagements",
            Some(&sponsor),
            Some(r#"{"agency":"ag"}"#),
        )
        .await;
        assert_eq!(st, StatusCode::CREATED, "{e}");
        let id = e["id"].as_i64().unwrap();
        // The questionnaire, as the model gives it.
        let (st, _, q) = call(&app, "GET", "/api/v1/assessment", Some(&member), None).await;
        assert_eq!(st, StatusCode::OK);
        assert_eq!(q["factors"].as_array().unwrap().len(), 2);
        assert_eq!(q["version"].as_str().unwrap().len(), 64);
        let keys: Vec<String> = q["factors"]
            .as_array()
            .unwrap()
            .iter()
            .flat_map(|f| f["questions"].as_array().unwrap())
            .map(|q| q["key"].as_str().unwrap().to_string())
            .collect();
        assert_eq!(keys.len(), 8);
        let body = |pick: usize| {
            let answers: serde_json::Map<String, Value> =
                keys.iter().map(|k| (k.clone(), json!(pick))).collect();
            json!({ "answers": answers }).to_string()
        };
        let uri = format!("/api/v1/agencies/{agency}/assessments");
        // Not the sponsor, or another agency's: 403; no such agency: 404.
        for t in [&member, &outsider] {
            let (st, _, p) = call(&app, "POST", &uri, Some(t), Some(&body(0))).await;
            assert_eq!(st, StatusCode::FORBIDDEN, "{p}");
        }
        let (st, _, _) = call(
            &app,
            "POST",
            "/api/v1/agencies/999/assessments",
            Some(&staff),
            Some(&body(0)),
        )
        .await;
        assert_eq!(st, StatusCode::NOT_FOUND);
        // Incomplete, unknown and impossible answers: 422, each named.
        let bad = json!({ "answers": { "ways-of-working": 7, "<script>": 0 } }).to_string();
        let (st, ct, p) = call(&app, "POST", &uri, Some(&sponsor), Some(&bad)).await;
        assert_eq!(st, StatusCode::UNPROCESSABLE_ENTITY, "{p}");
        assert_eq!(ct, "application/problem+json");
        let fields: Vec<&str> = p["errors"]
            .as_array()
            .unwrap()
            .iter()
            .map(|e| e["field"].as_str().unwrap())
            .collect();
        assert!(fields.contains(&"answers.<script>"), "{p}");
        assert!(fields.contains(&"answers.ways-of-working"), "{p}");
        assert!(fields.contains(&"answers.resources"), "{p}");
        // An unknown property, or an answer that is not a whole number: 400.
        for unreadable in [
            r#"{"answers":{},"extra":1}"#,
            r#"{"answers":{"access":-1}}"#,
            r#"{"answers":{"access":"0"}}"#,
        ] {
            let (st, _, p) = call(&app, "POST", &uri, Some(&sponsor), Some(unreadable)).await;
            assert_eq!(st, StatusCode::BAD_REQUEST, "{unreadable}: {p}");
        }
        // The sponsor answers: the agency is Lean, and so is the journey.
        let (st, _, r) = call(&app, "POST", &uri, Some(&sponsor), Some(&body(0))).await;
        assert_eq!(st, StatusCode::CREATED, "{r}");
        assert_eq!(r["event"]["placement"]["type"], "lean");
        assert_eq!(r["event"]["questionnaire"], q["version"]);
        let (_, _, a) = call(
            &app,
            "GET",
            &format!("/api/v1/agencies/{agency}"),
            Some(&outsider),
            None,
        )
        .await;
        assert_eq!(a["agency_type"], "lean");
        let (st, _, j) = call(
            &app,
            "GET",
            &format!("/api/v1/engagements/{id}/journey"),
            Some(&member),
            None,
        )
        .await;
        assert_eq!(st, StatusCode::OK, "{j}");
        assert_eq!(j["agency_type"], "lean");
        let discovery = j["stages"]
            .as_array()
            .unwrap()
            .iter()
            .find(|s| s["slug"] == "discovery")
            .unwrap();
        let six = &discovery["steps"][5];
        assert_eq!(six["relevance"], "not_applicable");
        assert!(six["reason"].as_str().unwrap().contains("Lean"));
        assert_eq!(discovery["steps"][2]["relevance"], "optional");
        assert_eq!(discovery["steps"][0]["relevance"], "essential");
        // Another agency's journey is not found.
        let (st, _, _) = call(
            &app,
            "GET",
            &format!("/api/v1/engagements/{id}/journey"),
            Some(&outsider),
            None,
        )
        .await;
        assert_eq!(st, StatusCode::NOT_FOUND);
        // The programme sets a type, with a reason; the sponsor may not.
        let set = format!("/api/v1/agencies/{agency}/type");
        let (st, _, _) = call(
            &app,
            "POST",
            &set,
            Some(&sponsor),
            Some(r#"{"agency_type":"complex","reason":"x"}"#),
        )
        .await;
        assert_eq!(st, StatusCode::FORBIDDEN);
        for (req, want) in [
            (
                r#"{"agency_type":"complex","reason":" "}"#,
                StatusCode::UNPROCESSABLE_ENTITY,
            ),
            (
                r#"{"agency_type":"huge","reason":"x"}"#,
                StatusCode::BAD_REQUEST,
            ),
        ] {
            let (st, _, p) = call(&app, "POST", &set, Some(&staff), Some(req)).await;
            assert_eq!(st, want, "{req}: {p}");
        }
        let long = json!({ "agency_type": "complex", "reason": "r".repeat(2_000_000) }).to_string();
        let (st, _, _) = call(&app, "POST", &set, Some(&staff), Some(&long)).await;
        assert!(
            st == StatusCode::UNPROCESSABLE_ENTITY || st == StatusCode::PAYLOAD_TOO_LARGE,
            "{st}"
        );
        let (st, _, r) = call(
            &app,
            "POST",
            &set,
            Some(&staff),
            Some(r#"{"agency_type":"complex","reason":"Their legislation is unusual"}"#),
        )
        .await;
        assert_eq!(st, StatusCode::CREATED, "{r}");
        // The history: the programme and the agency's people; nobody else.
        let (st, _, h) = call(&app, "GET", &uri, Some(&member), None).await;
        assert_eq!(st, StatusCode::OK);
        let kinds: Vec<&str> = h
            .as_array()
            .unwrap()
            .iter()
            .map(|r| r["event"]["type"].as_str().unwrap())
            .collect();
        assert_eq!(kinds, ["assessed", "type_set"]);
        let (st, _, _) = call(&app, "GET", &uri, Some(&outsider), None).await;
        assert_eq!(st, StatusCode::NOT_FOUND);
        // The engagement's own history says why its journey changed.
        let (_, _, events) = call(
            &app,
            "GET",
            &format!("/api/v1/engagements/{id}/history"),
            Some(&member),
            None,
        )
        .await;
        let tailored: Vec<&Value> = events
            .as_array()
            .unwrap()
            .iter()
            .filter(|e| e["event"]["type"] == "tailored")
            .map(|e| &e["event"]["agency_type"])
            .collect();
        assert_eq!(tailored, [&json!("lean"), &json!("complex")]);
    }
}

/// The API over `store` with the framework-shaped model as the current one.
async fn framework_app(store: &Store) -> axum::Router {
    let dir = format!("{}/../../content/framework", env!("CARGO_MANIFEST_DIR"));
    let (pages, _) = waymark_model::read_paths(&[dir.into()]).unwrap();
    let settings = Settings::new(store.clone(), Arc::new(pages), "http://localhost");
    Application::build(settings).await.unwrap().router()
}

#[tokio::test]
async fn engagements_move_to_a_new_model_through_the_api() {
    for store in stores("api-migrate").await {
        store
            .add_agency(
                &NewAgency::parse("Agency", "AG", "Finance", None).unwrap(),
                NOW,
            )
            .await
            .unwrap();
        let staff = token(&store, "p@dta.gov.au", Role::ProgrammeStaff).await;
        let sponsor = token(
            &store,
            "s@ag.gov.au",
            Role::AgencyMember {
                agency: AgencyId(1),
                sponsor: true,
            },
        )
        .await;
        let old_app = app(&store).await;
        let mut ids = Vec::new();
        for _ in 0..2 {
            let (st, _, e) = call(
                &old_app,
                "POST",
                "/api/v1/engagements",
                Some(&staff),
                Some(r#"{"agency":"ag"}"#),
            )
            .await;
            assert_eq!(st, StatusCode::CREATED, "{e}");
            ids.push(e["id"].as_i64().unwrap());
        }
        let (st, _, e) = call(
            &old_app,
            "POST",
            &format!("/api/v1/engagements/{}/commands", ids[0]),
            Some(&staff),
            Some(r#"{"expected_version":1,"command":{"command":"set_step","stage":"engagement","step":1,"status":{"status":"done"}}}"#),
        )
        .await;
        assert_eq!(st, StatusCode::OK, "{e}");
        // The programme's pages change: the server now runs the framework.
        let app = framework_app(&store).await;
        let (st, _, v) = call(&app, "GET", "/api/v1/models", Some(&staff), None).await;
        assert_eq!(st, StatusCode::OK, "{v}");
        let old = v["versions"]
            .as_array()
            .unwrap()
            .iter()
            .find(|m| m["engagements"] == 2)
            .unwrap()["hash"]
            .as_str()
            .unwrap()
            .to_string();
        assert_ne!(old, v["current"].as_str().unwrap());
        for (uri, who) in [("/api/v1/models", &sponsor)] {
            let (st, _, _) = call(&app, "GET", uri, Some(who), None).await;
            assert_eq!(st, StatusCode::FORBIDDEN);
        }
        let (st, _, _) = call(
            &app,
            "GET",
            "/api/v1/migrations/proposal?from=nope",
            Some(&staff),
            None,
        )
        .await;
        assert_eq!(st, StatusCode::NOT_FOUND);
        let (st, _, mapping) = call(
            &app,
            "GET",
            &format!("/api/v1/migrations/proposal?from={old}"),
            Some(&staff),
            None,
        )
        .await;
        assert_eq!(st, StatusCode::OK, "{mapping}");
        assert_eq!(mapping["stages"][0]["to"], "connect-align");
        // A mapping naming a step the new model lacks: 422, nothing moves.
        let mut bad = mapping.clone();
        bad["steps"][0]["to"] = json!({ "stage": "connect-align", "step": 99 });
        let (st, _, p) = call(
            &app,
            "POST",
            "/api/v1/migrations/preview",
            Some(&staff),
            Some(&json!({ "mapping": bad }).to_string()),
        )
        .await;
        assert_eq!(st, StatusCode::UNPROCESSABLE_ENTITY, "{p}");
        // Preview, then apply; a second run changes nothing.
        let req = json!({ "mapping": mapping }).to_string();
        let (st, _, preview) = call(
            &app,
            "POST",
            "/api/v1/migrations/preview",
            Some(&staff),
            Some(&req),
        )
        .await;
        assert_eq!(st, StatusCode::OK, "{preview}");
        assert_eq!(preview.as_array().unwrap().len(), 2);
        assert!(
            preview
                .as_array()
                .unwrap()
                .iter()
                .all(|o| o["result"] == "migrated")
        );
        let (st, _, _) = call(
            &app,
            "POST",
            "/api/v1/migrations",
            Some(&sponsor),
            Some(&req),
        )
        .await;
        assert_eq!(st, StatusCode::FORBIDDEN);
        let (_, _, e) = call(
            &app,
            "GET",
            &format!("/api/v1/engagements/{}", ids[0]),
            Some(&staff),
            None,
        )
        .await;
        assert_eq!(
            e["model_hash"].as_str().unwrap(),
            old,
            "the preview wrote nothing"
        );
        let (st, _, done) =
            call(&app, "POST", "/api/v1/migrations", Some(&staff), Some(&req)).await;
        assert_eq!(st, StatusCode::OK, "{done}");
        assert!(
            done.as_array()
                .unwrap()
                .iter()
                .all(|o| o["result"] == "migrated"),
            "{done}"
        );
        let (_, _, again) =
            call(&app, "POST", "/api/v1/migrations", Some(&staff), Some(&req)).await;
        assert_eq!(
            again.as_array().unwrap().len(),
            0,
            "no engagement is on the old version any more"
        );
        let one = json!({ "mapping": mapping, "engagements": [ids[0]] }).to_string();
        let (_, _, again) =
            call(&app, "POST", "/api/v1/migrations", Some(&staff), Some(&one)).await;
        assert_eq!(again[0]["result"], "unchanged");
        // The journey reads the framework; the done step followed its place.
        let (_, _, j) = call(
            &app,
            "GET",
            &format!("/api/v1/engagements/{}/journey", ids[0]),
            Some(&sponsor),
            None,
        )
        .await;
        assert_eq!(j["stages"][0]["slug"], "connect-align");
        assert_eq!(j["stages"][0]["steps"][2]["status"]["status"], "done");
        let (_, _, h) = call(
            &app,
            "GET",
            &format!("/api/v1/engagements/{}/history", ids[0]),
            Some(&sponsor),
            None,
        )
        .await;
        assert_eq!(
            h.as_array().unwrap().last().unwrap()["event"]["type"],
            "migrated"
        );
        assert!(store.verify().await.unwrap().intact());
    }
}

#[tokio::test]
async fn the_mailbox_and_conversations_through_the_api() {
    for store in stores("api-mailbox").await {
        let staff = token(&store, "pu@dta.gov.au", Role::ProgrammeStaff).await;
        let agency = store
            .add_agency(
                &NewAgency::parse("Agency", "AG", "Finance", None).unwrap(),
                NOW,
            )
            .await
            .unwrap();
        let member = token(
            &store,
            "m@ag.gov.au",
            Role::AgencyMember {
                agency,
                sponsor: true,
            },
        )
        .await;
        let raw = b"From: Jo <jo@records.gov.au>\r\nSubject: Help\r\nMessage-ID: <q1@records.gov.au>\r\n\r\nPlease help.\r\n";
        let incoming = waymark_web::inbound::read(raw, "test", None);
        let taken = waymark_web::inbound::take(&store, &incoming, true, "pu@dta.gov.au")
            .await
            .unwrap();
        let waymark_store::Taken::Enquiry { enquiry: id } = taken else {
            panic!("{taken:?}")
        };
        let app = app(&store).await;
        let replies = format!("/api/v1/enquiries/{id}/replies");
        let (st, _, r) = call(
            &app,
            "POST",
            &replies,
            Some(&staff),
            Some(r#"{"body":"Tuesday?"}"#),
        )
        .await;
        assert_eq!(st, StatusCode::CREATED, "{r}");
        let (st, _, c) = call(
            &app,
            "GET",
            &format!("/api/v1/enquiries/{id}/conversation"),
            Some(&staff),
            None,
        )
        .await;
        assert_eq!(st, StatusCode::OK, "{c}");
        assert_eq!(c[0]["direction"], "out");
        assert_eq!(c[0]["id"], r["message"]);
        assert!(c[0]["body"].as_str().unwrap().starts_with("Tuesday?"));
        // Empty, unknown fields, another's enquiry, a missing one.
        let (st, _, p) = call(
            &app,
            "POST",
            &replies,
            Some(&staff),
            Some(r#"{"body":" "}"#),
        )
        .await;
        assert_eq!(st, StatusCode::UNPROCESSABLE_ENTITY, "{p}");
        let (st, _, _) = call(
            &app,
            "POST",
            &replies,
            Some(&staff),
            Some(r#"{"body":"x","to":"evil@x"}"#),
        )
        .await;
        assert_eq!(st, StatusCode::BAD_REQUEST);
        for (method, path, body) in [
            ("POST", replies.as_str(), Some(r#"{"body":"x"}"#)),
            ("GET", &format!("/api/v1/enquiries/{id}/conversation"), None),
            ("GET", "/api/v1/mailbox", None),
        ] {
            let (st, _, _) = call(&app, method, path, Some(&member), body).await;
            assert_eq!(st, StatusCode::NOT_FOUND, "{method} {path}");
            let (st, _, _) = call(&app, method, path, None, body).await;
            assert_eq!(st, StatusCode::UNAUTHORIZED, "{method} {path}");
        }
        let (st, _, _) = call(
            &app,
            "GET",
            "/api/v1/enquiries/999/conversation",
            Some(&staff),
            None,
        )
        .await;
        assert_eq!(st, StatusCode::NOT_FOUND);
        let (st, _, m) = call(&app, "GET", "/api/v1/mailbox", Some(&staff), None).await;
        assert_eq!(st, StatusCode::OK, "{m}");
        assert_eq!(m["taken"][0]["outcome"], "enquiry");
        assert_eq!(m["taken"][0]["enquiry"], id);
    }
}

/// Parity: every action a person can take in the workspace (each route of
/// the workspace's table that writes) can also be taken through the API,
/// which the OpenAPI document must hold; or it is a known exception, with
/// the reason. A new workspace form fails this test until it has its API
/// operation or its reason here.
#[tokio::test]
async fn every_workspace_action_has_an_api_operation() {
    // (workspace route, API operations or the reason it has none)
    let api = |ops: &'static [&'static str]| Ok::<_, &'static str>(ops);
    let parity: &[(&str, Result<&[&str], &str>)] = &[
        (
            "/login",
            Err("signing in with a password is the browser's; programs use a token"),
        ),
        (
            "/logout",
            Err("ends a browser session; a token is revoked instead"),
        ),
        (
            "/invite/{token}",
            Err("a person accepts their own invitation, in the browser"),
        ),
        (
            "/setup/{token}",
            Err("the first run's setup link, once, in the browser"),
        ),
        (
            "/settings",
            Err("a person's own display zone and mail preference, set by them in the browser"),
        ),
        (
            "/settings/password",
            Err("passwords are typed by people, never sent by programs"),
        ),
        ("/surveys", api(&["post /api/v1/surveys"])),
        (
            "/surveys/{id}",
            api(&[
                "post /api/v1/surveys/{id}",
                "post /api/v1/surveys/{id}/send",
                "post /api/v1/surveys/{id}/close",
            ]),
        ),
        (
            "/answer/{token}",
            Err("a person answers with the link their invitation carries, in the browser"),
        ),
        (
            "/answer/link/{key}",
            Err("anyone answers a public survey in a browser, one answer per browser session"),
        ),
        (
            "/settings/sessions",
            api(&["post /api/v1/people/{id}/sessions/{reference}/end"]),
        ),
        ("/settings/name", api(&["post /api/v1/people/{id}/details"])),
        (
            "/people/{id}/details",
            api(&["post /api/v1/people/{id}/details"]),
        ),
        (
            "/retention",
            api(&["put /api/v1/retention", "post /api/v1/retention/run"]),
        ),
        (
            "/portfolio/capacity",
            api(&["put /api/v1/portfolio/capacity"]),
        ),
        (
            "/login/code",
            Err("the second factor's code is typed by a person signing in, in the browser"),
        ),
        (
            "/settings/second-factor",
            Err("setting up an authenticator app needs its QR code and the person's phone"),
        ),
        (
            "/settings/second-factor/codes",
            Err(
                "new recovery codes need a code from the person's phone, and are shown to them once",
            ),
        ),
        (
            "/settings/second-factor/off",
            Err("turning a second factor off needs a code from the person's phone"),
        ),
        (
            "/settings/second-factor/confirm",
            Err(
                "a fresh proof of the person's own factor, in the browser, before they add another",
            ),
        ),
        (
            "/settings/passkeys",
            Err("a passkey is made by the person's own device, through their browser"),
        ),
        (
            "/settings/passkeys/remove",
            Err(
                "removing a passkey needs a proof from the person's own factor; an admin's reset removes them all",
            ),
        ),
        (
            "/people/{id}/second-factor/reset",
            api(&["post /api/v1/people/{id}/second-factor/reset"]),
        ),
        (
            "/people/{id}/sign-in-accounts/unlink",
            api(&["post /api/v1/people/{id}/sign-in-accounts/unlink"]),
        ),
        (
            "/settings/sign-in-accounts/unlink",
            api(&["post /api/v1/people/{id}/sign-in-accounts/unlink"]),
        ),
        (
            "/people/{id}/password-link",
            api(&["post /api/v1/people/{id}/password-link"]),
        ),
        (
            "/register",
            Err("a newcomer joins the community in the browser, before they have any token"),
        ),
        (
            "/register/{token}",
            Err("the mailed link is followed in the browser, where the password is typed"),
        ),
        (
            "/request-support",
            Err("the public form, for people without an account; mail is the other way in"),
        ),
        (
            "/settings/tokens",
            api(&["post /api/v1/people/{id}/tokens"]),
        ),
        (
            "/settings/tokens/revoke",
            api(&["post /api/v1/people/{id}/tokens/{token}/revoke"]),
        ),
        ("/settings/webhooks", api(&["post /api/v1/webhooks"])),
        (
            "/settings/webhooks/{id}",
            api(&[
                "post /api/v1/webhooks/{id}/enable",
                "post /api/v1/webhooks/{id}/disable",
                "post /api/v1/webhooks/{id}/deliveries/{delivery}/resend",
            ]),
        ),
        ("/engagements", api(&["post /api/v1/engagements"])),
        (
            "/engagements/{id}",
            api(&["post /api/v1/engagements/{id}/commands"]),
        ),
        (
            "/engagements/{id}/workshops",
            api(&[
                "post /api/v1/engagements/{id}/commands",
                "get /api/v1/engagements/{id}/workshops/{workshop}/invitation",
            ]),
        ),
        (
            "/engagements/{id}/letters/{kind}",
            api(&[
                "post /api/v1/engagements/{id}/letters/{kind}",
                "post /api/v1/engagements/{id}/commands",
                "get /api/v1/engagements/{id}/letters/{kind}/{version}/pdf",
            ]),
        ),
        (
            "/engagements/{id}/delivery",
            api(&[
                "post /api/v1/engagements/{id}/commands",
                "get /api/v1/engagements/{id}/delivery/{file}",
            ]),
        ),
        (
            "/engagements/{id}/documents",
            api(&[
                "post /api/v1/engagements/{id}/documents",
                "get /api/v1/files/{id}",
            ]),
        ),
        ("/agencies", api(&["post /api/v1/agencies"])),
        (
            "/agencies/{id}/directory",
            api(&["post /api/v1/agencies/{id}/directory"]),
        ),
        (
            "/agencies/{id}/assessment",
            api(&["post /api/v1/agencies/{id}/assessments"]),
        ),
        (
            "/agencies/{id}/type",
            api(&["post /api/v1/agencies/{id}/type"]),
        ),
        ("/people", api(&["post /api/v1/people"])),
        ("/people/{id}", api(&["post /api/v1/people/{id}/roles"])),
        (
            "/people/{id}/deactivate",
            api(&["post /api/v1/people/{id}/deactivate"]),
        ),
        (
            "/people/{id}/reactivate",
            api(&["post /api/v1/people/{id}/reactivate"]),
        ),
        (
            "/people/{id}/remove",
            api(&["post /api/v1/people/{id}/remove-personal-data"]),
        ),
        (
            "/enquiries/{id}",
            api(&[
                "post /api/v1/enquiries/{id}/triage",
                "post /api/v1/enquiries/{id}/replies",
            ]),
        ),
        (
            "/letter-templates/{kind}",
            api(&[
                "get /api/v1/letter-templates/{kind}",
                "post /api/v1/letter-templates/{kind}",
            ]),
        ),
        ("/mailbox", api(&["post /api/v1/mailbox/{record}/review"])),
        ("/articles/new", api(&["post /api/v1/articles"])),
        ("/articles/{id}", api(&["post /api/v1/articles/{id}"])),
        (
            "/knowledge/{slug}/feedback",
            api(&["post /api/v1/articles/{id}/feedback"]),
        ),
        (
            "/migrations",
            api(&[
                "get /api/v1/migrations/proposal",
                "post /api/v1/migrations/preview",
                "post /api/v1/migrations",
            ]),
        ),
        ("/blueprint", api(&["post /api/v1/blueprint/releases"])),
        (
            "/community/categories",
            api(&["post /api/v1/community/categories"]),
        ),
        ("/community/ask", api(&["post /api/v1/community/questions"])),
        (
            "/community/q/{id}",
            api(&[
                "post /api/v1/community/questions/{id}/answers",
                "post /api/v1/community/questions/{id}/accept",
                "post /api/v1/community/posts/{id}/vote",
                "post /api/v1/community/questions/{id}/promote",
                "put /api/v1/community/questions/{id}/watch",
                "delete /api/v1/community/questions/{id}/watch",
                "post /api/v1/community/posts/{id}/flag",
                "post /api/v1/community/questions/{id}/moderate",
            ]),
        ),
        (
            "/community/c/{slug}",
            api(&[
                "put /api/v1/community/categories/{slug}/watch",
                "delete /api/v1/community/categories/{slug}/watch",
            ]),
        ),
        (
            "/community/flags",
            api(&["post /api/v1/community/posts/{id}/flags/dismiss"]),
        ),
        (
            "/articles/faq",
            api(&["put /api/v1/faq/{article}/position"]),
        ),
        (
            "/unsubscribe/{key}",
            Err(
                "a mail's one-click link, by its key and with no account; a program unwatches by DELETE on the watch",
            ),
        ),
        (
            "/community/posts/{id}/edit",
            api(&["post /api/v1/community/posts/{id}/edit"]),
        ),
    ];
    let store = waymark_store::Store::open(&waymark_store::testing::sqlite_url("parity"))
        .await
        .unwrap();
    let app = app(&store).await;
    let (_, _, doc) = call(&app, "GET", "/api/openapi.json", None, None).await;
    let mut missing = Vec::new();
    for route in waymark_web::app::table() {
        if route.method == axum::http::Method::GET {
            continue;
        }
        match parity.iter().find(|(p, _)| *p == route.path) {
            None => missing.push(format!(
                "{} {} has no API operation and no reason here",
                route.method, route.path
            )),
            Some((_, Err(reason))) => assert!(reason.len() > 20, "{}: say why", route.path),
            Some((_, Ok(ops))) => {
                for op in *ops {
                    let (method, path) = op.split_once(' ').unwrap();
                    if !doc["paths"][path][method].is_object() {
                        missing.push(format!(
                            "{} {}: the document has no {op}",
                            route.method, route.path
                        ));
                    }
                }
            }
        }
    }
    // No row for a route that is gone.
    for (path, _) in parity {
        assert!(
            waymark_web::app::table()
                .iter()
                .any(|r| r.path == *path && r.method != axum::http::Method::GET),
            "{path} is no longer a workspace action: remove its row"
        );
    }
    assert!(missing.is_empty(), "{}", missing.join("\n"));
}

/// A walk by cursor sees every engagement that was there when it began,
/// once each, while new ones are started between its pages; a cursor from
/// elsewhere, or with an offset, is refused.
#[tokio::test]
async fn a_cursor_walk_neither_skips_nor_repeats() {
    for store in stores("api-cursor").await {
        let app = app(&store).await;
        store
            .add_agency(
                &NewAgency::parse("Agency", "AG", "Finance", None).unwrap(),
                NOW,
            )
            .await
            .unwrap();
        let staff = token(&store, "sam@dta.gov.au", Role::ProgrammeStaff).await;
        let t = Some(staff.as_str());
        let start = async || {
            let (s, _, e) = call(
                &app,
                "POST",
                "/api/v1/engagements",
                t,
                Some(r#"{"agency":"AG"}"#),
            )
            .await;
            assert_eq!(s, StatusCode::CREATED, "{e}");
            e["id"].as_i64().unwrap()
        };
        let mut there = std::collections::BTreeSet::new();
        for _ in 0..123 {
            there.insert(start().await);
        }
        let mut seen = Vec::new();
        let mut uri = "/api/v1/engagements?limit=50".to_string();
        loop {
            let (s, _, page) = call(&app, "GET", &uri, t, None).await;
            assert_eq!(s, StatusCode::OK, "{page}");
            seen.extend(
                page["items"]
                    .as_array()
                    .unwrap()
                    .iter()
                    .map(|i| i["id"].as_i64().unwrap()),
            );
            // Writes between pages: new engagements, newer than the walk.
            start().await;
            match page["next_cursor"].as_str() {
                Some(c) => uri = format!("/api/v1/engagements?limit=50&cursor={c}"),
                None => break,
            }
        }
        let unique: std::collections::BTreeSet<i64> = seen.iter().copied().collect();
        assert_eq!(unique.len(), seen.len(), "an engagement came twice");
        assert_eq!(
            unique, there,
            "the walk skipped one, or saw one started after it began"
        );
        // "%F0%90%80%80" is one four-byte character: it once panicked.
        for bad in [
            "zz",
            "76313a",
            "76313a2d31",
            "abc",
            "%F0%90%80%80",
            "%C3%A9aa",
        ] {
            let (s, _, p) = call(
                &app,
                "GET",
                &format!("/api/v1/engagements?cursor={bad}"),
                t,
                None,
            )
            .await;
            assert_eq!(
                (s, &p["errors"][0]["field"]),
                (StatusCode::UNPROCESSABLE_ENTITY, &json!("cursor")),
                "{bad}"
            );
        }
        let (s, _, _) = call(
            &app,
            "GET",
            "/api/v1/engagements?cursor=76313a31&offset=5",
            t,
            None,
        )
        .await;
        assert_eq!(s, StatusCode::UNPROCESSABLE_ENTITY);
    }
}

/// A handler that panics answers 500 (a problem under /api/) with the
/// request's id, and the server goes on answering.
#[tokio::test]
async fn a_panicking_handler_answers_500_and_the_server_goes_on() {
    use axum::routing::get;
    async fn boom() -> &'static str {
        panic!("boom")
    }
    async fn page_boom() -> String {
        panic!("page {}", "boom")
    }
    crate::logs();
    let app = axum::Router::new()
        .route("/api/boom", get(boom))
        .route("/page", get(page_boom))
        .route("/api/fine", get(|| async { "fine" }))
        .layer(axum::middleware::from_fn(waymark_web::ops::observe));
    let (status, ct, v) = call(&app, "GET", "/api/boom", None, None).await;
    assert_eq!(status, StatusCode::INTERNAL_SERVER_ERROR);
    assert_eq!(ct, "application/problem+json");
    assert_eq!(v["code"], "internal");
    assert!(!v["detail"].as_str().unwrap().contains("boom"), "{v}");
    let (status, _, body) = send(&app, "GET", "/page", None, None).await;
    assert_eq!(status, StatusCode::INTERNAL_SERVER_ERROR);
    assert!(String::from_utf8_lossy(&body).contains("request "));
    let (status, _, body) = send(&app, "GET", "/api/fine", None, None).await;
    assert_eq!((status, body.as_slice()), (StatusCode::OK, &b"fine"[..]));
}

/// Lists answered as arrays (enquiries, the outbox) are walked by their
/// `Link: rel="next"` header: nothing skipped or repeated while new ones
/// arrive, and a cursor from another list is refused.
#[tokio::test]
async fn array_lists_walk_by_their_link_header() {
    for store in stores("api-link").await {
        let app = app(&store).await;
        let admin = token(&store, "ada@dta.gov.au", Role::ProgrammeAdmin).await;
        let add = async |n: usize, at: i64| {
            let outcome = store
                .add_enquiry(
                    &waymark_store::NewEnquiry {
                        source: "form".into(),
                        agency_name: format!("Bureau {n}"),
                        contact_name: "Alex".into(),
                        contact_email: format!("alex{n}@bureau.gov.au"),
                        subject: "Help".into(),
                        body: "Please".into(),
                        ..Default::default()
                    },
                    None,
                    // Several share a second: the cursor's id breaks ties.
                    Timestamp(NOW.0 + at / 3),
                )
                .await
                .unwrap();
            match outcome {
                waymark_store::ImportOutcome::Added(id) => id,
                other => panic!("{other:?}"),
            }
        };
        let mut there = std::collections::BTreeSet::new();
        for n in 0..11 {
            there.insert(add(n, n as i64).await);
        }
        // The outbox holds each enquiry's acknowledgement, and two more.
        let mail = |n: usize| waymark_store::Mail {
            kind: "test".into(),
            to: format!("x{n}@example.gov.au"),
            subject: "S".into(),
            body: "B".into(),
            ..Default::default()
        };
        store.queue_mail(&[mail(1), mail(2)], NOW).await.unwrap();
        let in_outbox = store
            .outbox(&store.actor(PersonId(1)).await.unwrap(), 500)
            .await
            .unwrap()
            .len();
        for (first, total, added) in [
            ("/api/v1/enquiries?status=all&limit=4", there.len(), true),
            ("/api/v1/outbox?limit=3", in_outbox, false),
        ] {
            let mut seen = Vec::new();
            let mut uri = first.to_string();
            let mut pages = 0;
            loop {
                let res = app
                    .clone()
                    .oneshot(
                        Request::get(&uri)
                            .header(header::AUTHORIZATION, format!("Bearer {admin}"))
                            .body(Body::empty())
                            .unwrap(),
                    )
                    .await
                    .unwrap();
                assert_eq!(res.status(), StatusCode::OK, "{uri}");
                let next = res
                    .headers()
                    .get(header::LINK)
                    .map(|v| v.to_str().unwrap().to_string());
                let body = axum::body::to_bytes(res.into_body(), usize::MAX)
                    .await
                    .unwrap();
                let page: Value = serde_json::from_slice(&body).unwrap();
                seen.extend(
                    page.as_array()
                        .unwrap()
                        .iter()
                        .map(|i| i["id"].as_i64().unwrap()),
                );
                pages += 1;
                if added && pages == 1 {
                    // Newer than the walk: it must not appear in it.
                    add(99, 100).await;
                }
                let Some(link) = next else { break };
                let target = link
                    .strip_prefix('<')
                    .and_then(|l| l.split_once(">; rel=\"next\""))
                    .unwrap_or_else(|| panic!("{link}"))
                    .0;
                uri = target.to_string();
            }
            let unique: std::collections::BTreeSet<i64> = seen.iter().copied().collect();
            assert_eq!(unique.len(), seen.len(), "{first}: repeated {seen:?}");
            assert_eq!(seen.len(), total, "{first}: {seen:?}");
            if added {
                assert_eq!(unique, there, "{first}");
            }
        }
        // A cursor from the engagement list, and one that is not hex.
        for cursor in ["76313a33", "zz", "76313a"] {
            let (s, _, v) = call(
                &app,
                "GET",
                &format!("/api/v1/enquiries?cursor={cursor}"),
                Some(&admin),
                None,
            )
            .await;
            assert_eq!(s, StatusCode::UNPROCESSABLE_ENTITY, "{cursor}: {v}");
            assert_eq!(v["errors"][0]["field"], "cursor");
        }
    }
}

#[tokio::test]
async fn an_engagement_discussion_through_the_api_and_its_mail() {
    for store in stores("api-discussion").await {
        let agency = store
            .add_agency(
                &NewAgency::parse("Bureau of Things", "BOT", "Industry", None).unwrap(),
                NOW,
            )
            .await
            .unwrap();
        let other = store
            .add_agency(
                &NewAgency::parse("Other Office", "OTH", "Finance", None).unwrap(),
                NOW,
            )
            .await
            .unwrap();
        let named = async |name: &str, email: &str, role: Role| {
            let p = store
                .add_person(&NewPerson::parse(name, email).unwrap(), NOW)
                .await
                .unwrap();
            store.add_role(p, role).await.unwrap();
            store.create_token(p, "test", NOW).await.unwrap()
        };
        let sam = named("Sam Staff", "sam@dta.gov.au", Role::ProgrammeStaff).await;
        let mia = named(
            "Mia Member",
            "mia@bot.gov.au",
            Role::AgencyMember {
                agency,
                sponsor: false,
            },
        )
        .await;
        let olly = named(
            "Olly Other",
            "olly@oth.gov.au",
            Role::AgencyMember {
                agency: other,
                sponsor: true,
            },
        )
        .await;
        let app = app(&store).await;
        let (_, _, e) = call(
            &app,
            "POST",
            "/api/v1/engagements",
            Some(&sam),
            Some(r#"{"agency":"BOT"}"#),
        )
        .await;
        let id = e["id"].as_i64().unwrap();
        let commands = format!("/api/v1/engagements/{id}/commands");
        let discussion = format!("/api/v1/engagements/{id}/discussion");
        let body = json!({
            "expected_version": e["version"],
            "command": {
                "command": "comment",
                "about": { "kind": "step", "stage": "engagement", "step": 2 },
                "body": "@Sam Staff is the <b>workshop</b> booked?\r\nSubject: injected"
            }
        })
        .to_string();
        let (s, _, after) = call(&app, "POST", &commands, Some(&mia), Some(&body)).await;
        assert_eq!(s, StatusCode::OK, "{after}");
        assert_eq!(after["comments"][0]["id"], 1);
        // Another agency cannot post or read, and cannot tell it exists.
        let (s, _, _) = call(&app, "POST", &commands, Some(&olly), Some(&body)).await;
        assert_eq!(s, StatusCode::NOT_FOUND);
        let (s, _, _) = call(&app, "GET", &discussion, Some(&olly), None).await;
        assert_eq!(s, StatusCode::NOT_FOUND);
        // About something that is not there: a problem naming the field.
        let bad = json!({
            "expected_version": after["version"],
            "command": { "command": "comment", "about": { "kind": "risk", "id": 9 }, "body": "x" }
        })
        .to_string();
        let (s, _, p) = call(&app, "POST", &commands, Some(&mia), Some(&bad)).await;
        assert_eq!(s, StatusCode::UNPROCESSABLE_ENTITY, "{p}");
        assert!(p.to_string().contains("about"), "{p}");
        let (s, _, d) = call(&app, "GET", &discussion, Some(&sam), None).await;
        assert_eq!(s, StatusCode::OK, "{d}");
        let c = &d["comments"][0];
        assert_eq!(
            c["anchor"],
            json!({ "kind": "step", "stage": "engagement", "step": 2 })
        );
        assert!(
            c["about"]
                .as_str()
                .unwrap()
                .starts_with("Engagement, step 2"),
            "{c}"
        );
        assert_eq!(c["mentions"].as_array().unwrap().len(), 1);
        let names: Vec<&str> = d["people"]
            .as_array()
            .unwrap()
            .iter()
            .map(|p| p["name"].as_str().unwrap())
            .collect();
        assert!(
            names.contains(&"Mia Member")
                && names.contains(&"Sam Staff")
                && !names.contains(&"Olly Other"),
            "{names:?}"
        );

        // The mention becomes one mail to Sam, whose subject cannot be bent
        // by what was typed and whose link opens the comment.
        let queued = waymark_web::app::send_mentions(&store, "https://waymark.example.gov.au", NOW)
            .await
            .unwrap();
        assert_eq!(queued, 1);
        assert_eq!(
            waymark_web::app::send_mentions(&store, "https://waymark.example.gov.au", NOW)
                .await
                .unwrap(),
            0
        );
        let admin = Actor {
            person: PersonId(0),
            roles: vec![Role::ProgrammeAdmin],
        };
        let mail: Vec<_> = store
            .outbox(&admin, 50)
            .await
            .unwrap()
            .into_iter()
            .filter(|m| m.kind == "mention")
            .collect();
        assert_eq!(mail.len(), 1);
        assert_eq!(mail[0].recipient, "sam@dta.gov.au");
        assert_eq!(
            mail[0].subject,
            "Mia Member mentioned you: Bureau of Things"
        );
        assert!(mail[0].body.contains(&format!(
            "https://waymark.example.gov.au/engagements/{id}/discussion?about=step:engagement:2#comment-1"
        )), "{}", mail[0].body);
        assert!(
            mail[0]
                .body
                .contains("> @Sam Staff is the <b>workshop</b> booked?")
        );

        // Hidden: the member's history and discussion no longer carry the
        // words; the programme's do.
        let hide = json!({
            "expected_version": after["version"],
            "command": { "command": "hide_comment", "id": 1, "reason": "Not here" }
        })
        .to_string();
        let (s, _, _) = call(&app, "POST", &commands, Some(&mia), Some(&hide)).await;
        assert_eq!(s, StatusCode::FORBIDDEN);
        let (s, _, _) = call(&app, "POST", &commands, Some(&sam), Some(&hide)).await;
        assert_eq!(s, StatusCode::OK);
        // The author still reads their own words; a second member does not.
        let dee = named(
            "Dee Daily",
            "dee@bot.gov.au",
            Role::AgencyMember {
                agency,
                sponsor: false,
            },
        )
        .await;
        let (_, _, d) = call(&app, "GET", &discussion, Some(&mia), None).await;
        assert!(
            d["comments"][0]["body"]
                .as_str()
                .unwrap()
                .contains("workshop")
        );
        let (_, _, d) = call(&app, "GET", &discussion, Some(&dee), None).await;
        assert_eq!(d["comments"][0]["body"], "");
        assert_eq!(d["comments"][0]["hidden"], "");
        let (_, _, h) = call(
            &app,
            "GET",
            &format!("/api/v1/engagements/{id}/history"),
            Some(&dee),
            None,
        )
        .await;
        assert!(
            !h.to_string().contains("workshop") && !h.to_string().contains("Not here"),
            "{h}"
        );
        let (_, _, h) = call(
            &app,
            "GET",
            &format!("/api/v1/engagements/{id}/history"),
            Some(&sam),
            None,
        )
        .await;
        assert!(h.to_string().contains("workshop") && h.to_string().contains("Not here"));
        assert!(store.verify().await.unwrap().broken.is_empty());
    }
}

#[tokio::test]
async fn a_person_downloads_what_is_held_about_them_through_the_api() {
    for store in stores("api-personal-data").await {
        let agency = store
            .add_agency(
                &NewAgency::parse("Bureau of Things", "BOT", "Industry", None).unwrap(),
                NOW,
            )
            .await
            .unwrap();
        let admin = token(&store, "ada@dta.gov.au", Role::ProgrammeAdmin).await;
        let mia = token(
            &store,
            "mia@bot.gov.au",
            Role::AgencyMember {
                agency,
                sponsor: false,
            },
        )
        .await;
        let sam = token(&store, "sam@dta.gov.au", Role::ProgrammeStaff).await;
        let app = app(&store).await;
        let (_, _, me) = call(&app, "GET", "/api/v1/me", Some(&mia), None).await;
        let id = me["person"].as_i64().unwrap();
        let uri = format!("/api/v1/people/{id}/data");
        let (s, ct, own) = call(&app, "GET", &uri, Some(&mia), None).await;
        assert_eq!(s, StatusCode::OK, "{own}");
        let res = app
            .clone()
            .oneshot(
                Request::get(&uri)
                    .header(header::AUTHORIZATION, format!("Bearer {mia}"))
                    .body(Body::empty())
                    .unwrap(),
            )
            .await
            .unwrap();
        assert_eq!(res.headers()[header::CACHE_CONTROL], "no-store");
        assert!(ct.starts_with("application/json"));
        assert_eq!(own["person"], id);
        let account = own["held"]
            .as_array()
            .unwrap()
            .iter()
            .find(|h| h["table"] == "people")
            .unwrap();
        assert_eq!(account["rows"][0]["email"], "mia@bot.gov.au");
        assert!(!own.to_string().contains("password_hash"));
        let tokens = own["held"]
            .as_array()
            .unwrap()
            .iter()
            .find(|h| h["table"] == "tokens")
            .unwrap();
        assert_eq!(tokens["rows"][0]["name"], "test");
        assert!(!own.to_string().contains(&mia), "the token itself");
        // An admin for her: the same; staff, or anyone for a made-up id: 403.
        let (s, _, for_her) = call(&app, "GET", &uri, Some(&admin), None).await;
        assert_eq!(s, StatusCode::OK);
        assert_eq!(for_her["held"], own["held"]);
        for (t, u) in [
            (&sam, uri.clone()),
            (&mia, "/api/v1/people/999999/data".to_string()),
        ] {
            let (s, _, p) = call(&app, "GET", &u, Some(t), None).await;
            assert_eq!(s, StatusCode::FORBIDDEN, "{u}: {p}");
        }
        let (s, _, _) = call(
            &app,
            "GET",
            "/api/v1/people/999999/data",
            Some(&admin),
            None,
        )
        .await;
        assert_eq!(s, StatusCode::NOT_FOUND);
    }
}

#[tokio::test]
async fn the_benefits_register_through_the_api() {
    for store in stores("api-benefits").await {
        let agency = store
            .add_agency(
                &NewAgency::parse("Bureau of Things", "BOT", "Industry", None).unwrap(),
                NOW,
            )
            .await
            .unwrap();
        let other = store
            .add_agency(
                &NewAgency::parse("Other Office", "OTH", "Finance", None).unwrap(),
                NOW,
            )
            .await
            .unwrap();
        let staff = token(&store, "sam@dta.gov.au", Role::ProgrammeStaff).await;
        let sponsor = token(
            &store,
            "eve@bot.gov.au",
            Role::AgencyMember {
                agency,
                sponsor: true,
            },
        )
        .await;
        let outsider = token(
            &store,
            "olly@oth.gov.au",
            Role::AgencyMember {
                agency: other,
                sponsor: true,
            },
        )
        .await;
        let app = app(&store).await;
        let (_, _, e) = call(
            &app,
            "POST",
            "/api/v1/engagements",
            Some(&staff),
            Some(r#"{"agency":"BOT"}"#),
        )
        .await;
        let id = e["id"].as_i64().unwrap();
        let uri = format!("/api/v1/engagements/{id}/commands");
        let mut version = e["version"].as_u64().unwrap();
        let mut run = async |token: &str, cmd: serde_json::Value| {
            let body = json!({ "expected_version": version, "command": cmd }).to_string();
            let (s, _, after) = call(&app, "POST", &uri, Some(token), Some(&body)).await;
            if s == StatusCode::OK {
                version = after["version"].as_u64().unwrap();
            }
            (s, after)
        };
        // Every problem with the plan at once, each naming its field.
        let (s, p) = run(
            &sponsor,
            json!({"command": "add_benefit", "text": "Faster onboarding",
                "plan": {"unit": "days", "baseline": "20", "baseline_date": "2026-01-01",
                         "target": "five", "target_date": "2025-01-01"}}),
        )
        .await;
        assert_eq!(s, StatusCode::UNPROCESSABLE_ENTITY, "{p}");
        assert_eq!(p["code"], "invalid", "{p}");
        let fields: Vec<&str> = p["errors"]
            .as_array()
            .unwrap()
            .iter()
            .filter_map(|e| e["field"].as_str())
            .collect();
        assert!(fields.contains(&"target"), "{p}");
        // Every problem of the plan at once, as the forms show them.
        assert!(fields.contains(&"target_date"), "{p}");
        let (s, _) = run(
            &sponsor,
            json!({"command": "add_benefit", "text": "Faster onboarding",
                "plan": {"unit": "days", "baseline": "20", "baseline_date": "2026-01-01",
                         "target": "5", "target_date": "2099-01-01"}}),
        )
        .await;
        assert_eq!(s, StatusCode::OK);
        let (s, p) = run(
            &sponsor,
            json!({"command": "record_reading", "id": 1, "value": "12 hours", "date": "2026-02-01"}),
        )
        .await;
        assert_eq!(s, StatusCode::UNPROCESSABLE_ENTITY);
        assert_eq!(p["errors"][0]["field"], "value", "{p}");
        let (s, p) = run(
            &sponsor,
            json!({"command": "record_reading", "id": 9, "value": "12", "date": "2026-02-01"}),
        )
        .await;
        assert_eq!(s, StatusCode::UNPROCESSABLE_ENTITY);
        assert_eq!(p["errors"][0]["field"], "id", "{p}");
        // Slowly: the trend reaches the target decades from now, so the
        // status is on track whatever day the test runs.
        for (value, date) in [("19.9 days", "2026-03-01"), ("19.8", "2026-06-01")] {
            let (s, p) = run(
                &sponsor,
                json!({"command": "record_reading", "id": 1, "value": value, "date": date}),
            )
            .await;
            assert_eq!(s, StatusCode::OK, "{p}");
        }
        let (s, _) = run(
            &staff,
            json!({"command": "adopt_benefits", "stage": "discovery"}),
        )
        .await;
        assert_eq!(s, StatusCode::OK);
        let (s, _, list) = call(
            &app,
            "GET",
            &format!("/api/v1/engagements/{id}/benefits"),
            Some(&sponsor),
            None,
        )
        .await;
        assert_eq!(s, StatusCode::OK);
        assert_eq!(list[0]["id"], 1);
        assert_eq!(list[0]["plan"]["target"]["value"], "5");
        assert_eq!(list[0]["readings"][1]["value"], "19.8");
        assert_eq!(list[0]["assessment"]["status"], "on_track", "{list}");
        assert_eq!(list[1]["source"]["stage"], "discovery");
        assert_eq!(list[1]["assessment"]["status"], "not_started");
        // Another agency's register is not there at all.
        let (s, _, _) = call(
            &app,
            "GET",
            &format!("/api/v1/engagements/{id}/benefits"),
            Some(&outsider),
            None,
        )
        .await;
        assert_eq!(s, StatusCode::NOT_FOUND);
        let (s, _, history) = call(
            &app,
            "GET",
            &format!("/api/v1/engagements/{id}/history"),
            Some(&staff),
            None,
        )
        .await;
        assert_eq!(s, StatusCode::OK);
        let kinds: Vec<&str> = history
            .as_array()
            .unwrap()
            .iter()
            .filter_map(|e| e["event"]["type"].as_str())
            .collect();
        assert_eq!(
            kinds
                .iter()
                .filter(|k| **k == "benefit_reading_recorded")
                .count(),
            2,
            "{kinds:?}"
        );
    }
}

/// Surveys through the API: the programme builds, sends and closes; every
/// problem with a definition at once; the agency reads its own results and
/// no other's; the history is the programme's.
#[tokio::test]
async fn surveys_through_the_api() {
    for store in stores("api-surveys").await {
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
        let staff = token(&store, "sam@dta.gov.au", Role::ProgrammeStaff).await;
        let member = token(
            &store,
            "m@ag.gov.au",
            Role::AgencyMember {
                agency,
                sponsor: false,
            },
        )
        .await;
        let outsider = token(
            &store,
            "o@ot.gov.au",
            Role::AgencyMember {
                agency: other,
                sponsor: true,
            },
        )
        .await;
        let app = app(&store).await;
        let (s, _, e) = call(
            &app,
            "POST",
            "/api/v1/engagements",
            Some(&staff),
            Some(r#"{"agency":"AG"}"#),
        )
        .await;
        assert_eq!(s, StatusCode::CREATED, "{e}");
        let engagement = e["id"].as_i64().unwrap();
        // The bundled template, dated from today.
        let (s, _, mut template) =
            call(&app, "GET", "/api/v1/surveys/template", Some(&staff), None).await;
        assert_eq!(s, StatusCode::OK);
        assert_eq!(template["title"], "Protected Utility survey");
        assert_eq!(template["questions"].as_array().unwrap().len(), 6);
        // Every problem at once, each by its field.
        let mut bad = template.clone();
        bad["title"] = json!("");
        bad["closes_on"] = json!("2000-01-01");
        bad["questions"][3]["choices"] = json!(["Only one"]);
        let (s, _, p) = call(
            &app,
            "POST",
            "/api/v1/surveys",
            Some(&staff),
            Some(&json!({"definition": bad, "audience": {"kind": "engagement", "engagement": engagement}}).to_string()),
        )
        .await;
        assert_eq!(s, StatusCode::UNPROCESSABLE_ENTITY, "{p}");
        let fields: Vec<&str> = p["errors"]
            .as_array()
            .unwrap()
            .iter()
            .map(|e| e["field"].as_str().unwrap())
            .collect();
        assert_eq!(fields, ["title", "closes_on", "q4"], "{p}");
        // Only the programme creates; an unknown engagement is named.
        let body = json!({"definition": template, "audience": {"kind": "engagement", "engagement": engagement}}).to_string();
        let (s, _, _) = call(&app, "POST", "/api/v1/surveys", Some(&member), Some(&body)).await;
        assert_eq!(s, StatusCode::FORBIDDEN);
        let nowhere =
            json!({"definition": template, "audience": {"kind": "engagement", "engagement": 999}})
                .to_string();
        let (s, _, p) = call(
            &app,
            "POST",
            "/api/v1/surveys",
            Some(&staff),
            Some(&nowhere),
        )
        .await;
        assert_eq!(s, StatusCode::UNPROCESSABLE_ENTITY, "{p}");
        assert_eq!(p["errors"][0]["field"], "audience");
        let (s, _, made) = call(&app, "POST", "/api/v1/surveys", Some(&staff), Some(&body)).await;
        assert_eq!(s, StatusCode::CREATED, "{made}");
        let id = made["id"].as_i64().unwrap();
        // A change with a stale version is a conflict; with the current one
        // it lands.
        template["intro"] = json!("Five minutes, no more.");
        let change = |v: i64| json!({"expected_version": v, "definition": template}).to_string();
        let uri = format!("/api/v1/surveys/{id}");
        let (s, _, _) = call(&app, "POST", &uri, Some(&staff), Some(&change(7))).await;
        assert_eq!(s, StatusCode::CONFLICT);
        let (s, _, row) = call(&app, "POST", &uri, Some(&staff), Some(&change(1))).await;
        assert_eq!(s, StatusCode::OK, "{row}");
        assert_eq!(
            (row["version"].as_i64(), row["phase"].as_str()),
            (Some(2), Some("draft"))
        );
        // A draft is not the agency's to see.
        let (s, _, _) = call(&app, "GET", &uri, Some(&member), None).await;
        assert_eq!(s, StatusCode::NOT_FOUND);
        // Sending invites the agency's member.
        let (s, _, sent) = call(&app, "POST", &format!("{uri}/send"), Some(&staff), None).await;
        assert_eq!(s, StatusCode::OK, "{sent}");
        assert_eq!(sent["invited"], 1);
        assert_eq!(sent["survey"]["phase"], "open");
        let (s, _, again) = call(&app, "POST", &format!("{uri}/send"), Some(&staff), None).await;
        assert_eq!(s, StatusCode::CONFLICT, "{again}");
        // The member reads the results; the outsider finds nothing.
        let (s, _, r) = call(&app, "GET", &format!("{uri}/results"), Some(&member), None).await;
        assert_eq!(s, StatusCode::OK, "{r}");
        assert_eq!(r["results"]["responses"], 0);
        // Anonymous, with fewer than three answers: counted, not shown.
        assert!(
            r["results"]["withheld"]
                .as_str()
                .unwrap()
                .contains("at least 3 people"),
            "{r}"
        );
        assert_eq!(r["results"]["questions"], json!([]));
        assert!(r["survey"].get("public_key").is_none());
        for path in [
            uri.clone(),
            format!("{uri}/results"),
            format!("{uri}/history"),
        ] {
            let (s, _, _) = call(&app, "GET", &path, Some(&outsider), None).await;
            assert_eq!(s, StatusCode::NOT_FOUND, "{path}");
        }
        let (s, _, list) = call(&app, "GET", "/api/v1/surveys", Some(&outsider), None).await;
        assert_eq!((s, list.as_array().unwrap().len()), (StatusCode::OK, 0));
        let (s, _, _) = call(&app, "GET", &format!("{uri}/history"), Some(&member), None).await;
        assert_eq!(s, StatusCode::FORBIDDEN);
        let (s, _, h) = call(&app, "GET", &format!("{uri}/history"), Some(&staff), None).await;
        assert_eq!(s, StatusCode::OK);
        let kinds: Vec<&str> = h
            .as_array()
            .unwrap()
            .iter()
            .map(|e| e["event"]["type"].as_str().unwrap())
            .collect();
        assert_eq!(kinds, ["created", "changed", "sent"]);
        // Closing: a bad date is named; then closed now; twice is refused.
        let close = |body: &str| {
            let app = app.clone();
            let staff = staff.clone();
            let uri = format!("{uri}/close");
            let body = body.to_string();
            async move { call(&app, "POST", &uri, Some(&staff), Some(&body)).await }
        };
        let (s, _, p) = close(r#"{"closes_on": "soon"}"#).await;
        assert_eq!(s, StatusCode::UNPROCESSABLE_ENTITY, "{p}");
        assert_eq!(p["errors"][0]["field"], "closes_on");
        let (s, _, row) = close("{}").await;
        assert_eq!((s, row["phase"].as_str()), (StatusCode::OK, Some("closed")));
        let (s, _, _) = close("{}").await;
        assert_eq!(s, StatusCode::CONFLICT);
    }
}
