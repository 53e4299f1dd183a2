//! The community portal through the API and its pages: categories and who
//! reads them, asking with bad input, answers, votes, acceptance, edits
//! and their history, the step's questions, and paging by `Link`.

use axum::body::Body;
use axum::http::{Request, StatusCode, header};
use serde_json::{Value, json};
use tower::ServiceExt;
use waymark_core::*;
use waymark_store::testing::stores;

use crate::api::{app, call, token};

const NOW: Timestamp = Timestamp(1_763_800_000);

/// An account with no role, and a token for it: a community member only.
async fn newcomer(store: &waymark_store::Store, email: &str) -> String {
    let p = store
        .add_person(&NewPerson::parse("Nia Newcomer", email).unwrap(), NOW)
        .await
        .unwrap();
    store.create_token(p, "test", NOW).await.unwrap()
}

fn fields(body: &Value) -> Vec<String> {
    body["errors"]
        .as_array()
        .map(|a| {
            a.iter()
                .map(|e| e["field"].as_str().unwrap().to_string())
                .collect()
        })
        .unwrap_or_default()
}

/// A page signed out: its status and HTML.
async fn page(app: &axum::Router, uri: &str) -> (StatusCode, String) {
    let res = app
        .clone()
        .oneshot(Request::get(uri).body(Body::empty()).unwrap())
        .await
        .unwrap();
    let status = res.status();
    let bytes = axum::body::to_bytes(res.into_body(), usize::MAX)
        .await
        .unwrap();
    (status, String::from_utf8_lossy(&bytes).into_owned())
}

#[tokio::test]
async fn the_community_through_the_api_and_its_pages() {
    for store in stores("community-api").await {
        let app = app(&store).await;
        let staff = token(&store, "sam@dta.gov.au", Role::ProgrammeStaff).await;
        let nia = newcomer(&store, "nia@council.gov.au").await;
        let olly = newcomer(&store, "olly@shire.gov.au").await;
        let post = |uri: &str, t: &str, body: Value| {
            let app = app.clone();
            let t = t.to_string();
            let uri = uri.to_string();
            async move { call(&app, "POST", &uri, Some(&t), Some(&body.to_string())).await }
        };

        // The defaults follow the model's stages.
        let (s, _, cats) = call(
            &app,
            "GET",
            "/api/v1/community/categories",
            Some(&nia),
            None,
        )
        .await;
        assert_eq!(s, StatusCode::OK);
        let slugs: Vec<&str> = cats
            .as_array()
            .unwrap()
            .iter()
            .map(|c| c["slug"].as_str().unwrap())
            .collect();
        assert_eq!(&slugs[..2], ["engagement", "discovery"]);
        assert!(slugs.contains(&"announcements"));

        // Only the programme adds a category; a second of the same name is a conflict.
        let leads = json!({"name": "Agency leads", "visibility": "members"});
        assert_eq!(
            post("/api/v1/community/categories", &nia, leads.clone())
                .await
                .0,
            StatusCode::FORBIDDEN
        );
        let (s, _, made) = post("/api/v1/community/categories", &staff, leads.clone()).await;
        assert_eq!(s, StatusCode::CREATED, "{made}");
        assert_eq!(made["slug"], "agency-leads");
        assert_eq!(
            post("/api/v1/community/categories", &staff, leads).await.0,
            StatusCode::CONFLICT
        );
        let (s, _, bad) = post(
            "/api/v1/community/categories",
            &staff,
            json!({"name": "", "visibility": "secret"}),
        )
        .await;
        assert_eq!(s, StatusCode::UNPROCESSABLE_ENTITY);
        assert_eq!(fields(&bad), ["name", "visibility"]);

        // Bad questions: every problem named by its field.
        let (s, _, bad) = post(
            "/api/v1/community/questions",
            &nia,
            json!({"category": "discovery", "title": "Why?", "body": "x".repeat(30_001), "tag": "discovery/99"}),
        )
        .await;
        assert_eq!(s, StatusCode::UNPROCESSABLE_ENTITY);
        assert_eq!(fields(&bad), ["title", "body", "tag"]);
        let q = json!({"category": "announcements", "title": "Is the blueprint new?", "body": "x"});
        assert_eq!(
            post("/api/v1/community/questions", &nia, q).await.0,
            StatusCode::FORBIDDEN
        );
        let q = json!({"category": "nowhere", "title": "Is the blueprint new?", "body": "x"});
        let (s, _, p) = post("/api/v1/community/questions", &nia, q).await;
        assert_eq!(s, StatusCode::NOT_FOUND);
        assert_eq!(p["detail"], "no such category");

        // A question about Discovery step 2, answered twice.
        let (s, _, asked) = post(
            "/api/v1/community/questions",
            &nia,
            json!({"category": "discovery", "title": "Who comes to the first workshop?", "body": "We have *three* sites.", "tag": "discovery/2"}),
        )
        .await;
        assert_eq!(s, StatusCode::CREATED, "{asked}");
        let q = asked["id"].as_i64().unwrap();
        let answers = &format!("/api/v1/community/questions/{q}/answers");
        let (s, _, a1) = post(
            answers,
            &staff,
            json!({"body": "Your sponsor and IT lead."}),
        )
        .await;
        assert_eq!(s, StatusCode::CREATED);
        let (_, _, a2) = post(answers, &olly, json!({"body": "Bring security too."})).await;
        let (a1, a2) = (a1["id"].as_i64().unwrap(), a2["id"].as_i64().unwrap());
        assert_eq!(
            post(answers, &olly, json!({"body": "  "})).await.0,
            StatusCode::UNPROCESSABLE_ENTITY
        );
        assert_eq!(
            call(
                &app,
                "POST",
                "/api/v1/community/questions/999999/answers",
                Some(&olly),
                Some(r#"{"body":"x"}"#)
            )
            .await
            .0,
            StatusCode::NOT_FOUND
        );

        // Votes: once each, never one's own.
        let vote = |post: i64| format!("/api/v1/community/posts/{post}/vote");
        let (s, _, v) = post(&vote(a2), &nia, json!({"up": true})).await;
        assert_eq!((s, v["votes"].as_i64()), (StatusCode::OK, Some(1)));
        // A rule refuses them: 409, "not possible now".
        let (s, _, again) = post(&vote(a2), &nia, json!({"up": true})).await;
        assert_eq!(s, StatusCode::CONFLICT);
        assert_eq!(again["detail"], "you already voted for this post");
        assert_eq!(
            post(&vote(a1), &staff, json!({"up": true})).await.0,
            StatusCode::CONFLICT
        );

        // Only the asker or the programme accepts; the accepted answer shows first.
        let accept = &format!("/api/v1/community/questions/{q}/accept");
        assert_eq!(
            post(accept, &olly, json!({"post": a2})).await.0,
            StatusCode::FORBIDDEN
        );
        assert_eq!(
            post(accept, &nia, json!({"post": q * 1000})).await.0,
            StatusCode::UNPROCESSABLE_ENTITY
        );
        assert_eq!(
            post(accept, &nia, json!({"post": a1})).await.0,
            StatusCode::NO_CONTENT
        );
        let (_, _, t) = call(
            &app,
            "GET",
            &format!("/api/v1/community/questions/{q}"),
            Some(&nia),
            None,
        )
        .await;
        assert_eq!(t["answers"][0]["id"], a1);
        assert_eq!(t["answers"][0]["accepted"], true);
        assert_eq!(t["voted"], json!([a2]));
        assert_eq!(t["topic"]["tag"], json!({"stage": "discovery", "step": 2}));

        // An edit keeps the text before.
        let qpost = t["question"]["id"].as_i64().unwrap();
        let edit = &format!("/api/v1/community/posts/{qpost}/edit");
        assert_eq!(
            post(edit, &olly, json!({"body": "Mine now"})).await.0,
            StatusCode::FORBIDDEN
        );
        let (s, _, e) = post(
            edit,
            &nia,
            json!({"body": "We have four sites.", "revisions": 1}),
        )
        .await;
        assert_eq!((s, e["revision"].as_i64()), (StatusCode::OK, Some(2)));
        let (s, _, stale) = post(edit, &nia, json!({"body": "Five.", "revisions": 1})).await;
        assert_eq!(s, StatusCode::CONFLICT, "{stale}");
        assert!(
            stale["detail"]
                .as_str()
                .unwrap()
                .contains("edited since you opened it")
        );
        let (_, _, revs) = call(
            &app,
            "GET",
            &format!("/api/v1/community/posts/{qpost}/revisions"),
            Some(&olly),
            None,
        )
        .await;
        assert_eq!(revs[0]["body"], "We have *three* sites.");
        assert_eq!(revs[1]["body"], "We have four sites.");

        // The step's questions; a step that is not the model's is refused.
        let (_, _, by_step) = call(
            &app,
            "GET",
            "/api/v1/community/questions?tag=discovery/2",
            Some(&olly),
            None,
        )
        .await;
        assert_eq!(by_step[0]["id"], q);
        assert_eq!(
            call(
                &app,
                "GET",
                "/api/v1/community/questions?tag=discovery/99",
                Some(&olly),
                None
            )
            .await
            .0,
            StatusCode::UNPROCESSABLE_ENTITY
        );

        // Pages walk by their Link header.
        for i in 0..3 {
            post("/api/v1/community/questions", &olly, json!({"category": "blueprint", "title": format!("Blueprint question {i}"), "body": "x"})).await;
        }
        let mut uri = "/api/v1/community/categories/blueprint/questions?limit=2".to_string();
        let mut seen = 0;
        loop {
            let res = app
                .clone()
                .oneshot(
                    Request::get(&uri)
                        .header(header::AUTHORIZATION, format!("Bearer {olly}"))
                        .body(Body::empty())
                        .unwrap(),
                )
                .await
                .unwrap();
            let next = res
                .headers()
                .get(header::LINK)
                .map(|v| v.to_str().unwrap().to_string());
            let bytes = axum::body::to_bytes(res.into_body(), usize::MAX)
                .await
                .unwrap();
            seen += serde_json::from_slice::<Value>(&bytes)
                .unwrap()
                .as_array()
                .unwrap()
                .len();
            match next {
                Some(l) => {
                    uri = l
                        .trim_start_matches('<')
                        .split('>')
                        .next()
                        .unwrap()
                        .to_string()
                }
                None => break,
            }
        }
        assert_eq!(seen, 3);

        // Pages: signed out reads the public question, never a members-only one.
        let (s, html) = page(&app, &format!("/community/q/{q}")).await;
        assert_eq!(s, StatusCode::OK);
        assert!(html.contains("Accepted answer"), "{html}");
        assert!(html.contains("We have four sites."));
        // Escaped in the attribute: &#x2f; is "/".
        assert!(html.contains("about?tag=discovery&#x2f;2"), "{html}");
        let (s, html) = page(&app, "/community/about?tag=discovery/2").await;
        assert_eq!(s, StatusCode::OK);
        assert!(html.contains("Who comes to the first workshop?"));
        let (_, _, private) = post(
            "/api/v1/community/questions",
            &olly,
            json!({"category": "agency-leads", "title": "When do the leads meet?", "body": "x"}),
        )
        .await;
        assert_eq!(
            page(&app, &format!("/community/q/{}", private["id"]))
                .await
                .0,
            StatusCode::NOT_FOUND
        );
        assert_eq!(
            page(&app, "/community/c/agency-leads").await.0,
            StatusCode::NOT_FOUND
        );
        assert!(!page(&app, "/community").await.1.contains("Agency leads"));
        // A name in another script: its address is percent-encoded in
        // the Location and Link headers, and the page answers at it.
        let (s, _, made) = post(
            "/api/v1/community/categories",
            &staff,
            json!({"name": "日本語", "visibility": "public"}),
        )
        .await;
        assert_eq!(
            (s, made["slug"].as_str()),
            (StatusCode::CREATED, Some("日本語"))
        );
        let (s, _) = page(&app, "/community/c/%E6%97%A5%E6%9C%AC%E8%AA%9E").await;
        assert_eq!(s, StatusCode::OK);
        // A look-alike of Announcements is Announcements.
        let (s, _, _) = post(
            "/api/v1/community/categories",
            &staff,
            json!({"name": "\u{ff21}nnouncements", "visibility": "public"}),
        )
        .await;
        assert_eq!(s, StatusCode::CONFLICT);
        assert_eq!(store.verify().await.unwrap().broken_topics, []);
    }
}
