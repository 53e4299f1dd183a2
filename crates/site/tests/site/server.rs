//! The live site, through the router without a socket.

use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};

use axum::body::Body;
use axum::http::{Request, StatusCode, header};
use tower::ServiceExt;
use waymark_site::server::{Guide, Source, router};
use waymark_site::{self as site, Dates, Published};

async fn get(app: &axum::Router, uri: &str) -> (StatusCode, String, String) {
    let res = app
        .clone()
        .oneshot(Request::get(uri).body(Body::empty()).unwrap())
        .await
        .unwrap();
    let status = res.status();
    let ct = res
        .headers()
        .get(header::CONTENT_TYPE)
        .or_else(|| res.headers().get(header::LOCATION))
        .map(|v| v.to_str().unwrap().to_string())
        .unwrap_or_default();
    let body = axum::body::to_bytes(res.into_body(), usize::MAX)
        .await
        .unwrap();
    (status, ct, String::from_utf8_lossy(&body).into_owned())
}

fn bundled() -> Source {
    Source {
        model: waymark_model::build(waymark_model::bundled()).model,
        dates: Dates::default(),
        templates: None,
        articles: Vec::new(),
    }
}

fn bundled_guide(counter: Arc<AtomicUsize>) -> Guide {
    Guide::new(
        Box::new(move || {
            counter.fetch_add(1, Ordering::SeqCst);
            Ok(bundled())
        }),
        Published::default(),
    )
    .unwrap()
}

#[tokio::test]
async fn serves_the_same_pages_under_guide() {
    let app = router(Arc::new(bundled_guide(Arc::default())));
    let (s, ct, body) = get(&app, "/guide/").await;
    assert_eq!(s, StatusCode::OK);
    assert_eq!(ct, "text/html; charset=utf-8");
    assert!(body.contains("<h1>Protected Utility engagement model</h1>"));
    let (s, _, body) = get(&app, "/guide/deploy.html").await;
    assert_eq!(s, StatusCode::OK);
    assert!(body.contains("<h1>Deploy</h1>"));
    let (s, ct, _) = get(&app, "/guide/assets/site.css").await;
    assert_eq!(
        (s, ct.as_str()),
        (StatusCode::OK, "text/css; charset=utf-8")
    );
    let (s, ct, _) = get(&app, "/guide/engagement-model.svg").await;
    assert_eq!((s, ct.as_str()), (StatusCode::OK, "image/svg+xml"));
    let (s, _, body) = get(&app, "/guide/nope.html").await;
    assert_eq!(s, StatusCode::NOT_FOUND);
    assert!(body.contains("Page not found"));
    let (s, location, _) = get(&app, "/").await;
    assert_eq!((s, location.as_str()), (StatusCode::SEE_OTHER, "/guide/"));
}

#[tokio::test]
async fn live_pages_match_the_static_export() {
    let app = router(Arc::new(bundled_guide(Arc::default())));
    let loaded = waymark_model::build(waymark_model::bundled());
    let built = site::build(
        &loaded.model,
        &Dates::default(),
        None,
        &Published::default(),
    )
    .unwrap();
    for (name, bytes) in &built.files {
        let (s, _, body) = get(&app, &format!("/guide/{name}")).await;
        assert_eq!(s, StatusCode::OK, "{name}");
        assert_eq!(body.as_bytes(), bytes.as_slice(), "{name}");
    }
}

#[tokio::test]
async fn reload_swaps_in_a_new_build_and_a_failed_one_keeps_the_old() {
    let counter = Arc::new(AtomicUsize::new(0));
    let guide = Arc::new(bundled_guide(Arc::clone(&counter)));
    assert_eq!(counter.load(Ordering::SeqCst), 1);
    guide.reload().unwrap();
    assert_eq!(counter.load(Ordering::SeqCst), 2);

    let calls = Arc::new(AtomicUsize::new(0));
    let c = Arc::clone(&calls);
    let flaky = Arc::new(
        Guide::new(
            Box::new(move || {
                if c.fetch_add(1, Ordering::SeqCst) == 0 {
                    Ok(bundled())
                } else {
                    Err("templates broken".into())
                }
            }),
            Published::default(),
        )
        .unwrap(),
    );
    assert_eq!(flaky.reload().unwrap_err().to_string(), "templates broken");
    let (s, _, _) = get(&router(flaky), "/guide/deploy.html").await;
    assert_eq!(s, StatusCode::OK);
}

#[test]
fn fingerprint_changes_when_content_changes() {
    let dir = crate::tempdir("fingerprint");
    std::fs::write(dir.join("a.md"), "one").unwrap();
    let before = waymark_site::server::fingerprint(std::slice::from_ref(&dir));
    assert_eq!(
        before,
        waymark_site::server::fingerprint(std::slice::from_ref(&dir))
    );
    std::fs::write(dir.join("b.md"), "two").unwrap();
    assert_ne!(
        before,
        waymark_site::server::fingerprint(std::slice::from_ref(&dir))
    );
}

/// Redirects, refused methods and the missing page carry the same security
/// headers as pages; the missing page fits a phone.
#[tokio::test]
async fn every_answer_carries_the_security_headers() {
    let app = router(Arc::new(bundled_guide(Arc::default())));
    for (method, uri) in [
        ("GET", "/guide"),
        ("GET", "/"),
        ("POST", "/guide/"),
        ("GET", "/guide/nope.html"),
        ("GET", "/guide/index.html"),
    ] {
        let res = app
            .clone()
            .oneshot(
                Request::builder()
                    .method(method)
                    .uri(uri)
                    .body(Body::empty())
                    .unwrap(),
            )
            .await
            .unwrap();
        let csp = res
            .headers()
            .get(header::CONTENT_SECURITY_POLICY)
            .map(|v| v.to_str().unwrap().to_string())
            .unwrap_or_default();
        assert!(csp.contains("script-src 'none'"), "{method} {uri}: {csp:?}");
        assert!(
            res.headers().contains_key(header::X_CONTENT_TYPE_OPTIONS),
            "{method} {uri}"
        );
    }
    let (_, _, body) = get(&app, "/guide/nope.html").await;
    assert!(body.contains("name=\"viewport\""));
}

fn article(slug: &str, stages: &[&str], body: &str) -> site::ArticlePage {
    site::ArticlePage {
        slug: slug.into(),
        title: format!("About {slug}"),
        summary: "<b>A summary</b> & more".into(),
        body: body.into(),
        stages: stages.iter().map(|s| s.to_string()).collect(),
        tags: vec!["licensing".into()],
        version: 2,
        published_on: "2 December 2026".into(),
        changes: Some(format!("/knowledge/{slug}/changes")),
        feedback: Some(format!("/knowledge/{slug}/feedback")),
        faq: None,
        asked: None,
    }
}

/// Publishing an article renders only its page, the list of articles and
/// the pages of the stages it is tagged to, and the result is byte for byte
/// what a whole build gives; archiving takes its page away. A release
/// shows on every page.
#[tokio::test]
async fn publishing_renders_only_what_it_touches_and_equals_a_full_build() {
    let guide = Arc::new(bundled_guide(Arc::default()));
    let app = router(Arc::clone(&guide));
    let src = bundled();
    let mut p = Published {
        articles: vec![article("other", &[], "Another.")],
        ..Published::default()
    };
    // The first article puts "Knowledge articles" in every page's navigation.
    let all = guide
        .publish(p.clone(), Some(&["other".to_string()]))
        .unwrap();
    assert!(all > 10, "{all}");
    p.articles.push(article(
        "licensing",
        &["deploy"],
        "See [Discovery](discovery.md) <script>x</script>",
    ));
    let n = guide
        .publish(p.clone(), Some(&["licensing".to_string()]))
        .unwrap();
    // The article, the list, and Deploy's page.
    assert_eq!(n, 3);
    let full = site::build(&src.model, &src.dates, None, &p).unwrap();
    for (name, bytes) in &full.files {
        let (s, _, body) = get(&app, &format!("/guide/{name}")).await;
        assert_eq!(s, StatusCode::OK, "{name}");
        assert!(
            body.as_bytes() == bytes.as_slice(),
            "{name} differs from a full build"
        );
    }
    let (_, _, deploy) = get(&app, "/guide/deploy.html").await;
    assert!(deploy.contains("href=\"article-licensing.html\""));
    let (_, _, discovery) = get(&app, "/guide/discovery.html").await;
    assert!(
        !discovery.contains("article-licensing.html"),
        "not tagged there"
    );
    let (_, _, a) = get(&app, "/guide/article-licensing.html").await;
    assert!(
        a.contains("href=\"discovery.html\""),
        "links resolve as on model pages"
    );
    assert!(
        !a.contains("<script>x") && !a.contains("<b>A summary"),
        "escaped"
    );
    assert!(a.contains("&#x2f;knowledge&#x2f;licensing&#x2f;feedback"));

    // Moved to Discovery: both stages' pages change, Discovery's for each
    // agency type too (its steps are tailored): 1 + 5, the article, the list.
    p.articles[1] = article("licensing", &["discovery"], "Moved.");
    assert_eq!(
        guide
            .publish(p.clone(), Some(&["licensing".to_string()]))
            .unwrap(),
        8
    );
    let (_, _, deploy) = get(&app, "/guide/deploy.html").await;
    assert!(!deploy.contains("article-licensing.html"));
    // Archived: gone.
    p.articles.pop();
    guide
        .publish(p.clone(), Some(&["licensing".to_string()]))
        .unwrap();
    let (s, _, _) = get(&app, "/guide/article-licensing.html").await;
    assert_eq!(s, StatusCode::NOT_FOUND);

    // A release: every page names it.
    p.releases = vec![site::Release {
        version: "2.1 <i>".into(),
        released_on: "1 December 2026".into(),
        notes: "Adds **Intune** baselines.".into(),
        link: "https://desktop.gov.au/blueprint".into(),
    }];
    guide.publish(p.clone(), None).unwrap();
    for (name, _) in site::build(&src.model, &src.dates, None, &p)
        .unwrap()
        .files
        .iter()
        .filter(|(n, _)| n.ends_with(".html"))
    {
        let (_, _, body) = get(&app, &format!("/guide/{name}")).await;
        assert!(
            body.contains("Blueprint version 2.1 &lt;i&gt;, released 1 December 2026"),
            "{name}"
        );
    }
    let (_, _, notes) = get(&app, "/guide/blueprint.html").await;
    assert!(notes.contains("<strong>Intune</strong>"));
}
