//! Correcting a person's details (Australian Privacy Principle 13): their
//! own name from their settings, anyone's name and address by an admin
//! from the person's page or the API, every problem beside its field.

use super::*;

#[tokio::test]
async fn names_and_addresses_are_corrected() {
    for store in stores("web-details").await {
        let w = world(store).await;
        let app = router(&w.store, [127, 0, 0, 41]).await;
        let mia = w.client(&app, Who::Member).await;
        let r = send(
            &app,
            &mia,
            Method::POST,
            "/settings/name",
            &[("csrf", &mia.csrf), ("name", "  ")],
        )
        .await;
        assert_eq!(r.status, StatusCode::UNPROCESSABLE_ENTITY);
        assert!(r.body.contains("id=\"name-error\""), "{}", r.body);
        let r = send(
            &app,
            &mia,
            Method::POST,
            "/settings/name",
            &[("csrf", &mia.csrf), ("name", "Mia <b>Right</b>")],
        )
        .await;
        assert_eq!(r.location, "/settings?saved=name");
        let page = send(&app, &mia, Method::GET, "/settings?saved=name", &[]).await;
        assert!(
            page.body
                .contains("Signed in as Mia &lt;b&gt;Right&lt;&#x2f;b&gt;"),
            "{}",
            page.body
        );
        assert!(page.body.contains("Your name is corrected"));

        // An admin corrects her address: errors beside the fields, a
        // taken address refused, then saved.
        let admin = w.client(&app, Who::Admin).await;
        let id = w
            .store
            .person_by_email(&Email::parse("mia@bot.gov.au").unwrap())
            .await
            .unwrap()
            .unwrap();
        let path = format!("/people/{id}/details");
        let r = send(
            &app,
            &admin,
            Method::POST,
            &path,
            &[
                ("csrf", &admin.csrf),
                ("name", ""),
                ("email", "not an address"),
            ],
        )
        .await;
        assert_eq!(r.status, StatusCode::UNPROCESSABLE_ENTITY);
        assert!(
            r.body.contains("id=\"name-error\"") && r.body.contains("id=\"email-error\""),
            "{}",
            r.body
        );
        assert!(
            r.body.contains("value=\"not an address\""),
            "what was typed is kept"
        );
        let r = send(
            &app,
            &admin,
            Method::POST,
            &path,
            &[
                ("csrf", &admin.csrf),
                ("name", "Mia"),
                ("email", "sam@dta.gov.au"),
            ],
        )
        .await;
        assert_eq!(r.status, StatusCode::UNPROCESSABLE_ENTITY);
        assert!(r.body.contains("another person has this address"));
        let r = send(
            &app,
            &admin,
            Method::POST,
            &path,
            &[
                ("csrf", &admin.csrf),
                ("name", "Mia Right"),
                ("email", "mia.right@bot.gov.au"),
            ],
        )
        .await;
        assert_eq!(r.location, format!("/people/{id}?saved=details"));
        let (_, r) = sign_in(&app, "mia.right@bot.gov.au", PASSWORD).await;
        assert_eq!(
            r.status,
            StatusCode::SEE_OTHER,
            "she signs in with the corrected address"
        );
        // A member may not correct someone else.
        let r = send(
            &app,
            &mia,
            Method::POST,
            &path,
            &[
                ("csrf", &mia.csrf),
                ("name", "X"),
                ("email", "x@bot.gov.au"),
            ],
        )
        .await;
        assert_eq!(r.status, StatusCode::FORBIDDEN);

        // The API: her own name; not her address; an admin's anything.
        let token = w.store.create_token(id, "test", NOW).await.unwrap();
        let call = |body: &'static str, path: String, token: String| {
            let app = app.clone();
            async move { api_call(&app, Method::POST, &path, &token, body).await.0 }
        };
        let api = format!("/api/v1/people/{id}/details");
        assert_eq!(
            call(
                r#"{"name":"Mia API","email":"mia.right@bot.gov.au"}"#,
                api.clone(),
                token.clone()
            )
            .await,
            StatusCode::OK
        );
        assert_eq!(
            call(
                r#"{"name":"Mia API","email":"elsewhere@bot.gov.au"}"#,
                api.clone(),
                token.clone()
            )
            .await,
            StatusCode::FORBIDDEN
        );
        assert_eq!(
            call(
                r#"{"name":"","email":"mia.right@bot.gov.au"}"#,
                api.clone(),
                token.clone()
            )
            .await,
            StatusCode::UNPROCESSABLE_ENTITY
        );
        assert_eq!(
            call(
                r#"{"name":"X","email":"x@bot.gov.au"}"#,
                "/api/v1/people/99999/details".into(),
                token
            )
            .await,
            StatusCode::FORBIDDEN,
            "nobody learns who exists"
        );
        // An admin corrects her address through the API too; each change
        // of address is told at the old address and the new.
        let ada = token_for(&w.store, "ada@dta.gov.au").await;
        assert_eq!(
            call(
                r#"{"name":"Mia API","email":"mia.api@bot.gov.au"}"#,
                api,
                ada
            )
            .await,
            StatusCode::OK
        );
        let told: Vec<String> =
            sqlx::query("SELECT recipient FROM outbox WHERE kind = 'security' AND recipient LIKE 'mia%' ORDER BY id")
                .fetch_all(w.store.pool())
                .await
                .unwrap()
                .iter()
                .map(|r| sqlx::Row::get::<String, _>(r, 0))
                .collect();
        assert_eq!(
            told,
            [
                "mia@bot.gov.au",
                "mia.right@bot.gov.au",
                "mia.right@bot.gov.au",
                "mia.api@bot.gov.au"
            ]
        );
    }
}

/// Removing a person's personal data at their request: only an admin, from
/// the person's page once their address is typed again, or the API; after
/// it the pages name them as removed and they cannot be brought back.
#[tokio::test]
async fn personal_data_is_removed_by_an_admin_who_confirms_it() {
    for store in stores("web-removal").await {
        let w = world(store).await;
        let app = router(&w.store, [127, 0, 0, 42]).await;
        let admin = w.client(&app, Who::Admin).await;
        let mia = w
            .store
            .person_by_email(&Email::parse("mia@bot.gov.au").unwrap())
            .await
            .unwrap()
            .unwrap();
        let path = format!("/people/{mia}/remove");
        let page = send(&app, &admin, Method::GET, &format!("/people/{mia}"), &[]).await;
        assert!(
            page.body
                .contains("If they ask for their personal data to be removed")
        );
        // A sponsor may not; a wrong or missing confirmation changes nothing.
        let eve = w.client(&app, Who::Sponsor).await;
        let r = send(
            &app,
            &eve,
            Method::POST,
            &path,
            &[("csrf", &eve.csrf), ("confirm", "mia@bot.gov.au")],
        )
        .await;
        assert_eq!(r.status, StatusCode::FORBIDDEN);
        for typed in ["", "eve@bot.gov.au"] {
            let r = send(
                &app,
                &admin,
                Method::POST,
                &path,
                &[("csrf", &admin.csrf), ("confirm", typed)],
            )
            .await;
            assert_eq!(r.status, StatusCode::UNPROCESSABLE_ENTITY, "{}", r.body);
            assert!(r.body.contains("id=\"confirm-error\""), "{}", r.body);
        }
        assert!(
            w.store
                .person(mia)
                .await
                .unwrap()
                .unwrap()
                .deactivated_at
                .is_none()
        );
        // An earlier name of one word is refused beside its field.
        let r = send(
            &app,
            &admin,
            Method::POST,
            &path,
            &[
                ("csrf", &admin.csrf),
                ("confirm", "mia@bot.gov.au"),
                ("also", "mia.old@bot.gov.au\nMia"),
            ],
        )
        .await;
        assert_eq!(r.status, StatusCode::UNPROCESSABLE_ENTITY, "{}", r.body);
        assert!(r.body.contains("id=\"also-error\""), "{}", r.body);
        let r = send(
            &app,
            &admin,
            Method::POST,
            &path,
            &[
                ("csrf", &admin.csrf),
                ("confirm", " MIA@bot.gov.au "),
                ("also", "mia.old@bot.gov.au\n\nMia Old-Name"),
            ],
        )
        .await;
        assert_eq!(
            r.location,
            format!("/people/{mia}?saved=removed"),
            "{}",
            r.body
        );
        let page = send(&app, &admin, Method::GET, &r.location, &[]).await;
        assert!(
            page.body.contains("Their personal data is removed"),
            "{}",
            page.body
        );
        assert!(
            page.body.contains("Removed at the person&#x27;s request"),
            "{}",
            page.body
        );
        assert!(!page.body.contains("mia@bot.gov.au"));
        assert!(!page.body.contains("Reactivate"));
        // The people list names her as removed.
        let people = send(&app, &admin, Method::GET, "/people", &[]).await;
        assert!(!people.body.contains("mia@bot.gov.au"));
        // The API: removed already is a conflict; one's own is refused.
        let token = token_for(&w.store, "ada@dta.gov.au").await;
        let (status, body) = api_call(
            &app,
            Method::POST,
            &format!("/api/v1/people/{mia}/remove-personal-data"),
            &token,
            "{}",
        )
        .await;
        assert_eq!(status, StatusCode::CONFLICT, "{body}");
        let ada = w
            .store
            .person_by_email(&Email::parse("ada@dta.gov.au").unwrap())
            .await
            .unwrap()
            .unwrap();
        let (status, _) = api_call(
            &app,
            Method::POST,
            &format!("/api/v1/people/{ada}/remove-personal-data"),
            &token,
            "{}",
        )
        .await;
        assert_eq!(status, StatusCode::FORBIDDEN);
        let sam = w
            .store
            .person_by_email(&Email::parse("sam@dta.gov.au").unwrap())
            .await
            .unwrap()
            .unwrap();
        let (status, body) = api_call(
            &app,
            Method::POST,
            &format!("/api/v1/people/{sam}/remove-personal-data"),
            &token,
            r#"{"also": ["Sam"]}"#,
        )
        .await;
        assert_eq!(status, StatusCode::UNPROCESSABLE_ENTITY, "{body}");
        let (status, body) = api_call(
            &app,
            Method::POST,
            &format!("/api/v1/people/{sam}/remove-personal-data"),
            &token,
            r#"{"also": ["sam.old@dta.gov.au"]}"#,
        )
        .await;
        assert_eq!(status, StatusCode::OK, "{body}");
        assert_eq!(body["person"], sam.0);
        let (status, _) = api_call(
            &app,
            Method::POST,
            &format!("/api/v1/people/{sam}/reactivate"),
            &token,
            "",
        )
        .await;
        assert_eq!(status, StatusCode::FORBIDDEN);
    }
}
