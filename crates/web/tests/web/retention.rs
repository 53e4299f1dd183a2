//! Retention through the workspace and the API: the programme reads the
//! period and the runs; its admins change the period (bad input said
//! beside the field) and run it now; others find nothing.

use super::*;

#[tokio::test]
async fn the_programme_sees_and_sets_retention() {
    for store in stores("web-retention").await {
        let w = world(store).await;
        let app = router(&w.store, [127, 0, 0, 31]).await;
        let admin = w.client(&app, Who::Admin).await;
        let page = send(&app, &admin, Method::GET, "/retention", &[]).await;
        assert_eq!(page.status, StatusCode::OK);
        assert!(
            page.body.contains("<strong>24 months</strong>"),
            "{}",
            page.body
        );
        assert!(page.body.contains("(the default)"));
        assert!(page.body.contains("Retention has not run yet."));
        for bad in [
            "",
            "abc",
            "0",
            "121",
            "-5",
            "1e3",
            &"9".repeat(5000),
            "<b>6</b>",
        ] {
            let r = send(
                &app,
                &admin,
                Method::POST,
                "/retention",
                &[("csrf", &admin.csrf), ("action", "period"), ("months", bad)],
            )
            .await;
            assert_eq!(r.status, StatusCode::UNPROCESSABLE_ENTITY, "{bad:.20}");
            assert!(r.body.contains("id=\"months-error\""), "{bad:.20}");
            assert!(r.body.contains("from 1 to 120"));
            assert!(!r.body.contains("<b>6</b>"));
        }
        let r = send(
            &app,
            &admin,
            Method::POST,
            "/retention",
            &[
                ("csrf", &admin.csrf),
                ("action", "period"),
                ("months", " 6 "),
            ],
        )
        .await;
        assert_eq!(r.location, "/retention?saved=period");
        let r = send(
            &app,
            &admin,
            Method::POST,
            "/retention",
            &[("csrf", &admin.csrf), ("action", "run")],
        )
        .await;
        assert_eq!(r.location, "/retention?saved=run");
        let page = send(&app, &admin, Method::GET, "/retention?saved=run", &[]).await;
        assert!(page.body.contains("<strong>6 months</strong>"));
        assert!(page.body.contains("Retention ran"));
        assert!(
            page.body
                .contains("6 months: closed enquiries last changed before")
        );
        // Staff read it, without the forms, and may not change it.
        let sam = w.client(&app, Who::Staff).await;
        let page = send(&app, &sam, Method::GET, "/retention", &[]).await;
        assert_eq!(page.status, StatusCode::OK);
        assert!(!page.body.contains("Run retention now"));
        let r = send(
            &app,
            &sam,
            Method::POST,
            "/retention",
            &[("csrf", &sam.csrf), ("action", "run")],
        )
        .await;
        assert_eq!(r.status, StatusCode::FORBIDDEN);

        // The API: the same, for programs.
        let (ada, sam, mia) = (
            token_for(&w.store, "ada@dta.gov.au").await,
            token_for(&w.store, "sam@dta.gov.au").await,
            token_for(&w.store, "mia@bot.gov.au").await,
        );
        let call = |method: Method, path: &'static str, token: String, body: &'static str| {
            let app = app.clone();
            async move { api_call(&app, method, path, &token, body).await }
        };
        let (status, v) = call(Method::GET, "/api/v1/retention", ada.clone(), "").await;
        assert_eq!(status, StatusCode::OK, "{v}");
        assert_eq!(v["setting"]["months"], 6);
        assert_eq!(v["runs"].as_array().unwrap().len(), 1);
        assert_eq!(v["due"], 0);
        assert_eq!(
            call(Method::GET, "/api/v1/retention", sam.clone(), "")
                .await
                .0,
            StatusCode::OK
        );
        assert_eq!(
            call(Method::GET, "/api/v1/retention", mia.clone(), "")
                .await
                .0,
            StatusCode::NOT_FOUND
        );
        for bad in [r#"{"months":0}"#, r#"{"months":121}"#] {
            let (status, v) = call(Method::PUT, "/api/v1/retention", ada.clone(), bad).await;
            assert_eq!(status, StatusCode::UNPROCESSABLE_ENTITY, "{bad}: {v}");
        }
        // Not even the right shape: unreadable.
        for bad in [r#"{"months":"x"}"#, r#"{"months":6,"x":1}"#, "6"] {
            let (status, v) = call(Method::PUT, "/api/v1/retention", ada.clone(), bad).await;
            assert_eq!(status, StatusCode::BAD_REQUEST, "{bad}: {v}");
        }
        assert_eq!(
            call(
                Method::PUT,
                "/api/v1/retention",
                sam.clone(),
                r#"{"months":12}"#
            )
            .await
            .0,
            StatusCode::FORBIDDEN
        );
        let (status, v) = call(
            Method::PUT,
            "/api/v1/retention",
            ada.clone(),
            r#"{"months":12}"#,
        )
        .await;
        assert_eq!((status, v["months"].clone()), (StatusCode::OK, 12.into()));
        let (status, v) = call(Method::POST, "/api/v1/retention/run", ada.clone(), "").await;
        assert_eq!(status, StatusCode::OK, "{v}");
        assert_eq!(
            (v["months"].clone(), v["removed"].clone()),
            (12.into(), 0.into())
        );
        assert_eq!(
            call(Method::POST, "/api/v1/retention/run", mia, "").await.0,
            StatusCode::NOT_FOUND
        );
    }
}
