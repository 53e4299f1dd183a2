//! The live site, through the router without a socket.

use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};

use axum::body::Body;
use axum::http::{Request, StatusCode, header};
use tower::ServiceExt;
use waymark_site::server::{Guide, router};
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

fn bundled_guide(counter: Arc<AtomicUsize>) -> Guide {
    Guide::new(Box::new(move || {
        counter.fetch_add(1, Ordering::SeqCst);
        let loaded = waymark_model::build(waymark_model::bundled());
        site::build(
            &loaded.model,
            &Dates::default(),
            None,
            &Published::default(),
        )
        .map_err(Into::into)
    }))
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
        Guide::new(Box::new(move || {
            if c.fetch_add(1, Ordering::SeqCst) == 0 {
                let loaded = waymark_model::build(waymark_model::bundled());
                site::build(
                    &loaded.model,
                    &Dates::default(),
                    None,
                    &Published::default(),
                )
                .map_err(Into::into)
            } else {
                Err("templates broken".into())
            }
        }))
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
