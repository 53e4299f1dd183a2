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

/// One API call with token `t`, owning what it needs (so a test's
/// `send` closure borrows nothing): status, content type and JSON.
async fn as_caller(
    app: axum::Router,
    method: &'static str,
    uri: String,
    t: String,
    body: Option<Value>,
) -> (StatusCode, String, Value) {
    let body = body.map(|b| b.to_string());
    call(&app, method, &uri, Some(&t), body.as_deref()).await
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

#[tokio::test]
async fn an_accepted_answer_becomes_an_faq_entry_on_the_guide() {
    for store in stores("community-faq").await {
        let app = crate::app::with_guide(&store).await;
        let staff = token(&store, "sam@dta.gov.au", Role::ProgrammeStaff).await;
        let nia = newcomer(&store, "nia@council.gov.au").await;
        let send = |method, uri, t: &str, body| as_caller(app.clone(), method, uri, t.into(), body);
        let mut questions = Vec::new();
        for title in [
            "Who comes to the <b>first</b> workshop?",
            "Which licences do we need first?",
        ] {
            let (s, _, asked) = send(
                "POST",
                "/api/v1/community/questions".into(),
                &nia,
                Some(json!({"category": "discovery", "title": title, "body": "We have *three* sites.", "tag": "discovery/2"})),
            )
            .await;
            assert_eq!(s, StatusCode::CREATED, "{asked}");
            let q = asked["id"].as_i64().unwrap();
            let promote = format!("/api/v1/community/questions/{q}/promote");
            // Not before an answer is accepted.
            let (s, _, p) = send("POST", promote.clone(), &staff, None).await;
            assert_eq!(s, StatusCode::CONFLICT, "{p}");
            let (_, _, a) = send(
                "POST",
                format!("/api/v1/community/questions/{q}/answers"),
                &staff,
                Some(json!({"body": "Your sponsor and <script>alert(1)</script> IT lead."})),
            )
            .await;
            let (s, _, _) = send(
                "POST",
                format!("/api/v1/community/questions/{q}/accept"),
                &nia,
                Some(json!({"post": a["id"]})),
            )
            .await;
            assert_eq!(s, StatusCode::NO_CONTENT);
            // The asker cannot promote; the programme can, once.
            assert_eq!(
                send("POST", promote.clone(), &nia, None).await.0,
                StatusCode::FORBIDDEN
            );
            let (s, _, made) = send("POST", promote.clone(), &staff, None).await;
            assert_eq!(s, StatusCode::CREATED, "{made}");
            let (s, _, again) = send("POST", promote, &staff, None).await;
            assert_eq!(s, StatusCode::CONFLICT);
            assert!(
                again["detail"]
                    .as_str()
                    .unwrap()
                    .contains("already in the FAQ")
            );
            questions.push((q, made["article"].as_i64().unwrap()));
        }
        assert_eq!(
            send(
                "POST",
                "/api/v1/community/questions/999999/promote".into(),
                &staff,
                None
            )
            .await
            .0,
            StatusCode::NOT_FOUND
        );
        // The programme sees the entries in order; nobody else does.
        let (s, _, faq) = send("GET", "/api/v1/faq".into(), &staff, None).await;
        assert_eq!(s, StatusCode::OK);
        let order = |v: &Value| -> Vec<i64> {
            v.as_array()
                .unwrap()
                .iter()
                .map(|e| e["article"].as_i64().unwrap())
                .collect()
        };
        assert_eq!(order(&faq), [questions[0].1, questions[1].1]);
        assert_eq!(faq[0]["status"], "draft");
        assert_eq!(
            send("GET", "/api/v1/faq".into(), &nia, None).await.0,
            StatusCode::FORBIDDEN
        );
        // Drafts are not on the guide.
        assert_eq!(
            page(&app, "/guide/community-faq.html").await.0,
            StatusCode::NOT_FOUND
        );

        // Publish both through the articles' one path, then move the
        // second first: the guide shows that order, each answer with its
        // question's link, markup as text.
        for (_, article) in &questions {
            let (_, _, drafts) = send("GET", "/api/v1/articles/drafts".into(), &staff, None).await;
            let d = drafts
                .as_array()
                .unwrap()
                .iter()
                .find(|d| d["id"] == *article)
                .unwrap()
                .clone();
            let (s, _, p) = send(
                "POST",
                format!("/api/v1/articles/{article}"),
                &staff,
                Some(json!({
                    "article": {"title": d["title"], "summary": d["summary"], "body": d["body"],
                                "tags": "discovery/2", "review_by": d["review_by"]},
                    "action": "publish",
                    "expected_version": d["version"],
                })),
            )
            .await;
            assert_eq!(s, StatusCode::OK, "{p}");
        }
        let (s, _, moved) = send(
            "PUT",
            format!("/api/v1/faq/{}/position", questions[1].1),
            &staff,
            Some(json!({"position": 1})),
        )
        .await;
        assert_eq!(s, StatusCode::OK, "{moved}");
        assert_eq!(order(&moved), [questions[1].1, questions[0].1]);
        for (body, status) in [
            (json!({"position": 0}), StatusCode::UNPROCESSABLE_ENTITY),
            (json!({"position": "1"}), StatusCode::BAD_REQUEST),
            (json!({"position": 1, "extra": 1}), StatusCode::BAD_REQUEST),
        ] {
            let (s, _, p) = send(
                "PUT",
                format!("/api/v1/faq/{}/position", questions[1].1),
                &staff,
                Some(body.clone()),
            )
            .await;
            assert_eq!(s, status, "{body}: {p}");
        }
        assert_eq!(
            send(
                "PUT",
                "/api/v1/faq/999999/position".into(),
                &staff,
                Some(json!({"position": 1}))
            )
            .await
            .0,
            StatusCode::NOT_FOUND
        );
        assert_eq!(
            send(
                "PUT",
                format!("/api/v1/faq/{}/position", questions[1].1),
                &nia,
                Some(json!({"position": 2}))
            )
            .await
            .0,
            StatusCode::FORBIDDEN
        );
        let (s, html) = page(&app, "/guide/community-faq.html").await;
        assert_eq!(s, StatusCode::OK);
        // (minijinja writes `/` as `&#x2f;`.)
        let html = html.replace("&#x2f;", "/");
        let licences = html.find("Which licences do we need first?").unwrap();
        let workshop = html
            .find("Who comes to the &lt;b&gt;first&lt;/b&gt; workshop?")
            .expect("the title, escaped");
        assert!(licences < workshop, "the moved entry comes first");
        assert!(!html.contains("<script>alert"), "{html}");
        assert!(html.contains(&format!("/community/q/{}", questions[0].0)));
        // The guide's navigation names it; its articles list does not
        // repeat the entries, and each entry has its own page.
        let (_, overview) = page(&app, "/guide/index.html").await;
        assert!(overview.contains("Questions from the community"));
        let (_, list) = page(&app, "/guide/articles.html").await;
        assert!(!list.contains("Which licences"), "{list}");
        // Readers of the API see each entry's FAQ place.
        let (_, _, arts) = send("GET", "/api/v1/articles".into(), &nia, None).await;
        let places: Vec<i64> = arts["items"]
            .as_array()
            .unwrap()
            .iter()
            .map(|a| a["faq"]["position"].as_i64().unwrap())
            .collect();
        assert_eq!(places.len(), 2);
        // The question's page links to its FAQ entry.
        let (_, q) = page(&app, &format!("/community/q/{}", questions[0].0)).await;
        assert!(q.contains("community FAQ</a> on the guide"), "{q}");
        assert!(
            q.replace("&#x2f;", "/")
                .contains("/guide/community-faq.html#faq-")
        );
    }
}

#[tokio::test]
async fn watchers_get_mail_with_a_one_click_unsubscribe_through_real_smtp() {
    let smtp = crate::python_has("aiosmtpd");
    if !smtp {
        waymark_store::testing::skip(
            "community mail through SMTP: Python's aiosmtpd is not installed (python3 -m pip install aiosmtpd); the outbox is checked instead",
        );
    }
    for store in stores("community-watch").await {
        let app = app(&store).await;
        let staff = token(&store, "sam@dta.gov.au", Role::ProgrammeStaff).await;
        let nia = newcomer(&store, "nia@council.gov.au").await;
        let olly = newcomer(&store, "olly@shire.gov.au").await;
        token(&store, "ada@dta.gov.au", Role::ProgrammeAdmin).await;
        for email in ["sam@dta.gov.au", "nia@council.gov.au", "olly@shire.gov.au"] {
            let p = store
                .person_by_email(&Email::parse(email).unwrap())
                .await
                .unwrap()
                .unwrap();
            store.set_password_hash(p, "x").await.unwrap();
        }
        let send = |method, uri, t: &str, body| as_caller(app.clone(), method, uri, t.into(), body);
        // Nia asks (and so watches); Olly watches the category; a title
        // with CR/LF and markup goes into the mail's subject as one line.
        let (_, _, asked) = send(
            "POST",
            "/api/v1/community/questions".into(),
            &nia,
            Some(json!({"category": "discovery", "title": "Who <b>signs</b> the letter?", "body": "We wonder."})),
        )
        .await;
        let q = asked["id"].as_i64().unwrap();
        assert_eq!(
            send(
                "PUT",
                "/api/v1/community/categories/discovery/watch".into(),
                &olly,
                None
            )
            .await
            .0,
            StatusCode::NO_CONTENT
        );
        assert_eq!(
            send(
                "PUT",
                "/api/v1/community/categories/nowhere/watch".into(),
                &olly,
                None
            )
            .await
            .0,
            StatusCode::NOT_FOUND
        );
        assert_eq!(
            send(
                "PUT",
                "/api/v1/community/questions/999999/watch".into(),
                &olly,
                None
            )
            .await
            .0,
            StatusCode::NOT_FOUND
        );
        let (s, _, w) = send("GET", "/api/v1/community/watching".into(), &nia, None).await;
        assert_eq!(s, StatusCode::OK);
        assert_eq!(w["questions"][0]["id"], q);
        // The programme answers: both watchers hear, the author does not.
        send(
            "POST",
            format!("/api/v1/community/questions/{q}/answers"),
            &staff,
            Some(json!({"body": "The sponsor.\r\nBcc: evil@example.com\n\n<script>x</script>"})),
        )
        .await;
        let queued = waymark_web::app::send_notices(&store, "https://waymark.example.gov.au", NOW)
            .await
            .unwrap();
        assert_eq!(queued, 2);
        // Again: nothing more.
        assert_eq!(
            waymark_web::app::send_notices(&store, "https://waymark.example.gov.au", NOW)
                .await
                .unwrap(),
            0
        );
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
        let outbox = store.outbox(&admin, 10).await.unwrap();
        let to: Vec<&str> = outbox.iter().map(|m| m.recipient.as_str()).collect();
        assert!(
            to.contains(&"nia@council.gov.au") && to.contains(&"olly@shire.gov.au"),
            "{to:?}"
        );
        assert!(!to.contains(&"sam@dta.gov.au"));
        let nias = outbox
            .iter()
            .find(|m| m.recipient == "nia@council.gov.au")
            .unwrap();
        assert_eq!(nias.subject, "New answer: Who <b>signs</b> the letter?");
        assert!(nias.body.contains("because you watch this question"));
        assert!(
            outbox
                .iter()
                .find(|m| m.recipient == "olly@shire.gov.au")
                .unwrap()
                .body
                .contains("because you watch Discovery")
        );
        let stop = nias.list_unsubscribe.clone().unwrap();
        assert!(nias.body.contains(&stop));
        let path = stop.trim_start_matches("https://waymark.example.gov.au");

        if smtp {
            // Delivered by real SMTP: one line of subject, the RFC 8058
            // headers, and no header smuggled in from the answer.
            let sink = crate::Sink::start().await;
            let up =
                waymark_web::mail::Sender::new(&sink.url(), "protectedutility@dta.gov.au").unwrap();
            assert_eq!(up.send_due(&store).await.unwrap(), (2, 0));
            let got = sink.read(
                r#"
import sys, mailbox
for m in sorted(mailbox.Maildir(sys.argv[1], create=False), key=lambda m: m["To"]):
    print(m["To"], "|", m["Subject"], "|", m["List-Unsubscribe"], "|", m["List-Unsubscribe-Post"], "|", m["Bcc"], "|", m["Auto-Submitted"])
"#,
            );
            let lines: Vec<&str> = got.lines().collect();
            assert_eq!(lines.len(), 2, "{got}");
            assert_eq!(
                lines[0],
                format!(
                    "nia@council.gov.au | New answer: Who <b>signs</b> the letter? | <{stop}> | List-Unsubscribe=One-Click | None | auto-generated"
                )
            );
        }

        // The link asks first (scanners follow links); one POST stops it,
        // signed out, as a mail program's one click does; then it stops
        // nothing.
        let (s, html) = page(&app, path).await;
        assert_eq!(s, StatusCode::OK);
        assert!(
            html.contains("Stop mail about “Who &lt;b&gt;signs&lt;&#x2f;b&gt; the letter?”"),
            "{html}"
        );
        let res = app
            .clone()
            .oneshot(
                Request::post(path)
                    .header(header::CONTENT_TYPE, "application/x-www-form-urlencoded")
                    .header(header::ORIGIN, "https://mail.example.com")
                    .body(Body::from("List-Unsubscribe=One-Click"))
                    .unwrap(),
            )
            .await
            .unwrap();
        assert_eq!(res.status(), StatusCode::OK);
        let (_, _, w) = send("GET", "/api/v1/community/watching".into(), &nia, None).await;
        assert_eq!(w["questions"].as_array().unwrap().len(), 0);
        assert_eq!(page(&app, path).await.0, StatusCode::NOT_FOUND);
        // A second click (a mail program retrying) says so plainly.
        let res = app
            .clone()
            .oneshot(
                Request::post(path)
                    .header(header::CONTENT_TYPE, "application/x-www-form-urlencoded")
                    .body(Body::from("List-Unsubscribe=One-Click"))
                    .unwrap(),
            )
            .await
            .unwrap();
        assert_eq!(res.status(), StatusCode::NOT_FOUND);
        let again = String::from_utf8(
            axum::body::to_bytes(res.into_body(), usize::MAX)
                .await
                .unwrap()
                .to_vec(),
        )
        .unwrap();
        assert!(
            again.contains("This link stops nothing now") && !again.contains("None"),
            "{again}"
        );
        assert_eq!(
            page(&app, "/unsubscribe/not-a-key").await.0,
            StatusCode::NOT_FOUND
        );
        // Olly stops watching the category by the API; the next answer
        // reaches nobody.
        assert_eq!(
            send(
                "DELETE",
                "/api/v1/community/categories/discovery/watch".into(),
                &olly,
                None
            )
            .await
            .0,
            StatusCode::NO_CONTENT
        );
        send(
            "POST",
            format!("/api/v1/community/questions/{q}/answers"),
            &staff,
            Some(json!({"body": "Or a delegate."})),
        )
        .await;
        assert_eq!(
            waymark_web::app::send_notices(&store, "https://waymark.example.gov.au", NOW)
                .await
                .unwrap(),
            0
        );
    }
}

#[tokio::test]
async fn flags_and_moderation_through_the_api_keep_the_chain_and_tell_the_author() {
    for store in stores("community-moderation").await {
        let app = app(&store).await;
        let staff = token(&store, "sam@dta.gov.au", Role::ProgrammeStaff).await;
        let ada = token(&store, "ada@dta.gov.au", Role::ProgrammeAdmin).await;
        let nia = newcomer(&store, "nia@council.gov.au").await;
        let olly = newcomer(&store, "olly@shire.gov.au").await;
        let send = |method, uri, t: &str, body| as_caller(app.clone(), method, uri, t.into(), body);
        let (_, _, asked) = send(
            "POST",
            "/api/v1/community/questions".into(),
            &nia,
            Some(json!({"category": "discovery", "title": "Who signs the letter of intent?", "body": "We wonder."})),
        )
        .await;
        let q = asked["id"].as_i64().unwrap();
        let (_, _, spam) = send(
            "POST",
            format!("/api/v1/community/questions/{q}/answers"),
            &olly,
            Some(
                json!({"body": "Buy cheap licences at <a href=\"https://evil.example\">here</a>"}),
            ),
        )
        .await;
        let spam = spam["id"].as_i64().unwrap();

        // Flags: anyone but the author, with a reason of one line.
        let flag = format!("/api/v1/community/posts/{spam}/flag");
        assert_eq!(
            send("POST", flag.clone(), &olly, Some(json!({}))).await.0,
            StatusCode::CONFLICT
        );
        assert_eq!(
            send(
                "POST",
                flag.clone(),
                &nia,
                Some(json!({"reason": "x".repeat(501)}))
            )
            .await
            .0,
            StatusCode::UNPROCESSABLE_ENTITY
        );
        assert_eq!(
            send(
                "POST",
                flag.clone(),
                &nia,
                Some(json!({"reason": "Advertising <b>spam</b>"}))
            )
            .await
            .0,
            StatusCode::NO_CONTENT
        );
        assert_eq!(
            send(
                "POST",
                "/api/v1/community/posts/999999/flag".into(),
                &nia,
                Some(json!({}))
            )
            .await
            .0,
            StatusCode::NOT_FOUND
        );
        assert_eq!(
            send("GET", "/api/v1/community/flags".into(), &nia, None)
                .await
                .0,
            StatusCode::FORBIDDEN
        );
        let (s, _, queue) = send("GET", "/api/v1/community/flags".into(), &staff, None).await;
        assert_eq!(s, StatusCode::OK);
        assert_eq!(queue[0]["post"], spam);
        assert_eq!(queue[0]["reasons"][0], "Advertising <b>spam</b>");

        // Hiding: the programme only, with a reason; the author is told.
        let moderate = format!("/api/v1/community/questions/{q}/moderate");
        assert_eq!(
            send(
                "POST",
                moderate.clone(),
                &nia,
                Some(json!({"action": "lock"}))
            )
            .await
            .0,
            StatusCode::FORBIDDEN
        );
        let (s, _, p) = send(
            "POST",
            moderate.clone(),
            &staff,
            Some(json!({"action": "hide", "post": spam, "reason": " "})),
        )
        .await;
        assert_eq!(s, StatusCode::UNPROCESSABLE_ENTITY, "{p}");
        assert_eq!(fields(&p), ["reason"]);
        let hide = json!({"action": "hide", "post": spam, "reason": "Advertising\r\nBcc: evil@example.com"});
        assert_eq!(
            send("POST", moderate.clone(), &staff, Some(hide)).await.0,
            StatusCode::UNPROCESSABLE_ENTITY,
            "a reason of two lines would break the mail"
        );
        let hide = json!({"action": "hide", "post": spam, "reason": "Advertising"});
        assert_eq!(
            send("POST", moderate.clone(), &staff, Some(hide.clone()))
                .await
                .0,
            StatusCode::NO_CONTENT
        );
        assert_eq!(
            send("POST", moderate.clone(), &staff, Some(hide)).await.0,
            StatusCode::CONFLICT
        );
        let other_post = json!({"action": "hide", "post": 999999, "reason": "x"});
        assert_eq!(
            send("POST", moderate.clone(), &staff, Some(other_post))
                .await
                .0,
            StatusCode::UNPROCESSABLE_ENTITY
        );
        let thread = |t: String| async move {
            send("GET", format!("/api/v1/community/questions/{q}"), &t, None)
                .await
                .2
        };
        // Others read that it is hidden, not its text nor why; its author
        // (and the programme) read both.
        let seen = thread(nia.clone()).await;
        assert_eq!(seen["answers"][0]["hidden"], "");
        assert_eq!(seen["answers"][0]["body"], "");
        let own = thread(olly.clone()).await;
        assert_eq!(own["answers"][0]["hidden"], "Advertising");
        assert!(
            own["answers"][0]["body"]
                .as_str()
                .unwrap()
                .contains("cheap licences")
        );
        // Nobody accepts it or votes for it any more.
        let (st, _, p) = send(
            "POST",
            format!("/api/v1/community/questions/{q}/accept"),
            &nia,
            Some(json!({"post": spam})),
        )
        .await;
        assert_eq!(st, StatusCode::CONFLICT, "{p}");
        assert!(
            p["detail"].as_str().unwrap().contains("hid this answer"),
            "{p}"
        );
        assert_eq!(
            send(
                "GET",
                format!("/api/v1/community/posts/{spam}/revisions"),
                &nia,
                None
            )
            .await
            .0,
            StatusCode::NOT_FOUND
        );
        let (_, html) = page(&app, &format!("/community/q/{q}")).await;
        assert!(
            !html.contains("cheap licences")
                && html.contains("Hidden by the programme.")
                && !html.contains("Advertising")
        );
        // The flag is closed, and the author got a mail saying why.
        let (_, _, queue) = send("GET", "/api/v1/community/flags".into(), &staff, None).await;
        assert_eq!(queue.as_array().unwrap().len(), 0);
        let admin = store.actor(PersonId(2)).await.unwrap();
        let told: Vec<_> = store
            .outbox(&admin, 20)
            .await
            .unwrap()
            .into_iter()
            .filter(|m| m.kind == "community_hidden")
            .collect();
        assert_eq!(told.len(), 1);
        assert_eq!(told[0].recipient, "olly@shire.gov.au");
        assert!(told[0].body.contains("The reason given: Advertising"));
        let _ = ada;

        // Locked: only the programme answers; moved; each in the chain.
        assert_eq!(
            send(
                "POST",
                moderate.clone(),
                &staff,
                Some(json!({"action": "lock"}))
            )
            .await
            .0,
            StatusCode::NO_CONTENT
        );
        let answers = format!("/api/v1/community/questions/{q}/answers");
        assert_eq!(
            send(
                "POST",
                answers.clone(),
                &nia,
                Some(json!({"body": "Me too."}))
            )
            .await
            .0,
            StatusCode::FORBIDDEN
        );
        assert_eq!(
            send(
                "POST",
                answers.clone(),
                &staff,
                Some(json!({"body": "The sponsor signs."}))
            )
            .await
            .0,
            StatusCode::CREATED
        );
        assert_eq!(
            send(
                "POST",
                moderate.clone(),
                &staff,
                Some(json!({"action": "move", "category": "nowhere"}))
            )
            .await
            .0,
            StatusCode::UNPROCESSABLE_ENTITY
        );
        assert_eq!(
            send(
                "POST",
                moderate.clone(),
                &staff,
                Some(json!({"action": "move", "category": "discovery"}))
            )
            .await
            .0,
            StatusCode::CONFLICT
        );
        assert_eq!(
            send(
                "POST",
                moderate.clone(),
                &staff,
                Some(json!({"action": "move", "category": "engagement"}))
            )
            .await
            .0,
            StatusCode::NO_CONTENT
        );
        assert_eq!(thread(nia.clone()).await["topic"]["category"], "engagement");
        let v = store.verify().await.unwrap();
        assert!(v.broken_topics.is_empty(), "{:?}", v.broken_topics);

        // Hiding the question hides it all, but from the programme and its asker.
        let (_, _, t) = send(
            "GET",
            format!("/api/v1/community/questions/{q}"),
            &staff,
            None,
        )
        .await;
        let question_post = t["question"]["id"].as_i64().unwrap();
        assert_eq!(
            send(
                "POST",
                moderate.clone(),
                &staff,
                Some(json!({"action": "hide", "post": question_post, "reason": "Duplicate"}))
            )
            .await
            .0,
            StatusCode::NO_CONTENT
        );
        assert_eq!(
            send(
                "GET",
                format!("/api/v1/community/questions/{q}"),
                &olly,
                None
            )
            .await
            .0,
            StatusCode::NOT_FOUND
        );
        assert_eq!(
            page(&app, &format!("/community/q/{q}")).await.0,
            StatusCode::NOT_FOUND
        );
        let (st, _, mine) = send(
            "GET",
            format!("/api/v1/community/questions/{q}"),
            &nia,
            None,
        )
        .await;
        assert_eq!(st, StatusCode::OK, "its asker still reads it");
        assert_eq!(mine["topic"]["hidden"], true);
        assert_eq!(
            send("POST", answers.clone(), &nia, Some(json!({"body": "Bump"})))
                .await
                .0,
            StatusCode::FORBIDDEN
        );
        let (_, html) = page(&app, "/community/c/engagement").await;
        assert!(!html.contains("Who signs the letter"));
        // Hidden again inside the hidden question, the answer's author
        // is told without its title or a link they cannot open.
        for action in ["unhide", "hide"] {
            let body = json!({"action": action, "post": spam, "reason": "Still advertising"});
            let body = if action == "unhide" {
                json!({"action": action, "post": spam})
            } else {
                body
            };
            assert_eq!(
                send("POST", moderate.clone(), &staff, Some(body)).await.0,
                StatusCode::NO_CONTENT
            );
        }
        let told: Vec<_> = store
            .outbox(&admin, 20)
            .await
            .unwrap()
            .into_iter()
            .filter(|m| m.kind == "community_hidden")
            .collect();
        let last = told.iter().max_by_key(|m| m.id).unwrap();
        assert_eq!(last.subject, "Your post in the community was hidden");
        assert!(
            !last.body.contains("Who signs") && !last.body.contains("/community/q/"),
            "{}",
            last.body
        );
        assert_eq!(
            send(
                "GET",
                format!("/api/v1/community/questions/{q}"),
                &staff,
                None
            )
            .await
            .0,
            StatusCode::OK
        );
        // A row changed behind the chain's back is found.
        sqlx::query("UPDATE community_posts SET hidden_reason = NULL WHERE id = $1")
            .bind(spam)
            .execute(store.pool())
            .await
            .unwrap();
        let v = store.verify().await.unwrap();
        assert_eq!(v.broken_topics.len(), 1);
        assert!(
            v.broken_topics[0].reason.contains("hidden"),
            "{:?}",
            v.broken_topics
        );
    }
}

#[tokio::test]
async fn a_new_account_posts_a_few_times_an_hour_by_api() {
    for store in stores("community-limit").await {
        let app = app(&store).await;
        let nia = newcomer(&store, "nia@council.gov.au").await;
        let staff = token(&store, "sam@dta.gov.au", Role::ProgrammeStaff).await;
        // What is refused anyway (no such question; a category only the
        // programme posts in) costs none of the hour's posts.
        for (uri, body, status) in [
            (
                "/api/v1/community/questions/999999/answers",
                json!({"body": "x"}),
                StatusCode::NOT_FOUND,
            ),
            (
                "/api/v1/community/questions",
                json!({"category": "announcements", "title": "Not mine to post", "body": "x"}),
                StatusCode::FORBIDDEN,
            ),
        ] {
            for _ in 0..3 {
                let (s, _, _) = call(&app, "POST", uri, Some(&nia), Some(&body.to_string())).await;
                assert_eq!(s, status);
            }
        }
        let mut statuses = Vec::new();
        for i in 0..=waymark_core::community::NEW_POSTS_PER_HOUR {
            let body = json!({"category": "discovery", "title": format!("Question number {i} here"), "body": "x"});
            let (s, _, p) = call(
                &app,
                "POST",
                "/api/v1/community/questions",
                Some(&nia),
                Some(&body.to_string()),
            )
            .await;
            statuses.push(s);
            if s == StatusCode::TOO_MANY_REQUESTS {
                assert!(p["detail"].as_str().unwrap().contains("New members post"));
            }
        }
        // And says when to try again; an answer counts the same.
        let res = app
            .clone()
            .oneshot(
                Request::post("/api/v1/community/questions/1/answers")
                    .header(header::AUTHORIZATION, format!("Bearer {nia}"))
                    .header(header::CONTENT_TYPE, "application/json")
                    .body(Body::from(json!({"body": "x"}).to_string()))
                    .unwrap(),
            )
            .await
            .unwrap();
        assert_eq!(res.status(), StatusCode::TOO_MANY_REQUESTS);
        assert_eq!(res.headers().get(header::RETRY_AFTER).unwrap(), "3600");
        assert_eq!(
            statuses.last(),
            Some(&StatusCode::TOO_MANY_REQUESTS),
            "{statuses:?}"
        );
        assert!(
            statuses[..statuses.len() - 1]
                .iter()
                .all(|s| *s == StatusCode::CREATED)
        );
        // The programme is not limited.
        for i in 0..=waymark_core::community::NEW_POSTS_PER_HOUR {
            let body = json!({"category": "discovery", "title": format!("Programme question {i}"), "body": "x"});
            let (s, _, _) = call(
                &app,
                "POST",
                "/api/v1/community/questions",
                Some(&staff),
                Some(&body.to_string()),
            )
            .await;
            assert_eq!(s, StatusCode::CREATED);
        }
    }
}

#[tokio::test]
async fn a_busy_question_shows_its_answers_a_page_at_a_time() {
    for store in stores("community-pages").await {
        let app = app(&store).await;
        let staff = token(&store, "sam@dta.gov.au", Role::ProgrammeStaff).await;
        let nia = newcomer(&store, "nia@council.gov.au").await;
        let post = |uri, t, body| as_caller(app.clone(), "POST", uri, t, Some(body));
        let (_, _, asked) = post(
            "/api/v1/community/questions".into(),
            nia.clone(),
            json!({"category": "blueprint", "title": "Which licences do we need first?", "body": "Asking."}),
        )
        .await;
        let q = asked["id"].as_i64().unwrap();
        let per = waymark_store::ANSWERS_PAGE;
        let mut answers = Vec::new();
        for i in 0..(2 * per + 20) {
            let (s, _, a) = post(
                format!("/api/v1/community/questions/{q}/answers"),
                staff.clone(),
                json!({"body": format!("Answer number {i:03}.")}),
            )
            .await;
            assert_eq!(s, StatusCode::CREATED, "{a}");
            answers.push(a["id"].as_i64().unwrap());
        }
        // The asker accepts the last answer, and votes for the 100th.
        let last = *answers.last().unwrap();
        post(
            format!("/api/v1/community/questions/{q}/accept"),
            nia.clone(),
            json!({"post": last}),
        )
        .await;
        let (s, _, v) = post(
            format!("/api/v1/community/posts/{}/vote", answers[99]),
            nia.clone(),
            json!({"up": true}),
        )
        .await;
        assert_eq!(s, StatusCode::OK, "{v}");
        let shown = |html: &str| -> Vec<i64> {
            answers
                .iter()
                .copied()
                .filter(|a| html.contains(&format!("id=\"post-{a}\"")))
                .collect()
        };
        // Page 1: the accepted answer, the voted one, then the oldest.
        let (s, one) = page(&app, &format!("/community/q/{q}")).await;
        assert_eq!(s, StatusCode::OK);
        assert_eq!(shown(&one).len(), per as usize);
        let first = one.find(&format!("id=\"post-{last}\"")).unwrap();
        let voted = one.find(&format!("id=\"post-{}\"", answers[99])).unwrap();
        let oldest = one.find(&format!("id=\"post-{}\"", answers[0])).unwrap();
        assert!(first < voted && voted < oldest);
        assert!(
            one.contains("120 answers") && one.contains("Page 1 of 3"),
            "{one}"
        );
        assert!(one.contains(&format!("href=\"/community/q/{q}?page=2#answers\"")));
        // Every answer on exactly one page; past the last, nothing.
        let mut all = shown(&one);
        for n in 2..=3 {
            let (s, html) = page(&app, &format!("/community/q/{q}?page={n}")).await;
            assert_eq!(s, StatusCode::OK);
            all.extend(shown(&html));
        }
        all.sort();
        assert_eq!(all, answers);
        for bad in [
            "4",
            "0",
            "-1",
            "x",
            "99999999999999999999",
            "9223372036854775807",
        ] {
            assert_eq!(
                page(&app, &format!("/community/q/{q}?page={bad}")).await.0,
                StatusCode::NOT_FOUND,
                "page {bad}"
            );
        }
        // A mail's link to an answer opens the page that shows it.
        let far = answers[per as usize + 10];
        let (_, html) = page(&app, &format!("/community/q/{q}?post={far}")).await;
        assert!(html.contains(&format!("id=\"post-{far}\"")) && html.contains("Page 2 of 3"));
        let (_, html) = page(&app, &format!("/community/q/{q}?post={last}")).await;
        assert!(html.contains("Page 1 of 3"));
        // The API still gives every answer, in the same order.
        let (_, _, t) = call(
            &app,
            "GET",
            &format!("/api/v1/community/questions/{q}"),
            Some(&nia),
            None,
        )
        .await;
        let ids: Vec<i64> = t["answers"]
            .as_array()
            .unwrap()
            .iter()
            .map(|a| a["id"].as_i64().unwrap())
            .collect();
        assert_eq!(ids.len(), answers.len());
        assert_eq!(ids[..2], [last, answers[99]]);
    }
}
