//! The portfolio dashboard through the workspace and the API: the
//! programme's charts, each with its title, description, table and CSV;
//! filters said wrong beside their fields; the capacity; nobody else sees it.

use super::*;

const RANGE: &str = "from=2025-01&to=2025-12";

#[tokio::test]
async fn the_programme_reads_the_portfolio_and_sets_its_capacity() {
    for store in stores("web-portfolio").await {
        let w = world(store).await;
        let sponsor = w.store.actor(PersonId(4)).await.unwrap();
        let e = w.store.engagement(&sponsor, w.engagement).await.unwrap();
        w.store
            .execute(
                &sponsor,
                e.id,
                e.version,
                &Command::Decide {
                    stage: "engagement".into(),
                    at: DecisionAt::Point { index: 0 },
                    option: 0,
                    rationale: "We need to understand our readiness first.".into(),
                    funded_by: Funder::CoFunded,
                    note: None,
                },
                NOW,
            )
            .await
            .unwrap();
        let app = router(&w.store, [127, 0, 0, 32]).await;
        let sam = w.client(&app, Who::Staff).await;
        let page = send(&app, &sam, Method::GET, &format!("/portfolio?{RANGE}"), &[]).await;
        assert_eq!(page.status, StatusCode::OK, "{}", page.body);
        let body = &page.body;
        assert!(body.contains("aria-current=\"page\">Portfolio</a>"));
        for slug in [
            "stages",
            "funnel",
            "time-in-stage",
            "past-timebox",
            "capacity",
            "decisions",
            "funding",
            "benefits",
            "surveys",
            "lessons",
        ] {
            assert!(
                body.contains(&format!(
                    "<section class=\"record portfolio-chart\" id=\"portfolio-{slug}\""
                )),
                "{slug}"
            );
            assert!(
                body.contains(&format!(
                    "href=\"&#x2f;portfolio&#x2f;{slug}.csv?{}\"",
                    RANGE.replace('&', "&amp;")
                )) || body.contains(&format!("href=\"/portfolio/{slug}.csv?")),
                "{slug}'s CSV link"
            );
        }
        // Every chart drawn is an image named by its title and description,
        // and each has its table.
        let svgs = body.matches("<svg class=\"chart\" role=\"img\"").count();
        assert!(svgs >= 5, "{svgs} charts drawn");
        assert_eq!(body.matches("<title id=\"chart-").count(), svgs);
        assert_eq!(body.matches("<desc id=\"chart-").count(), svgs);
        assert_eq!(
            body.matches("<table class=\"stack\">").count(),
            10 - body.matches("Nothing for these months.").count()
        );
        assert!(body.contains("Co-funded by the DTA and the agency"));
        // No id twice: a label, a link or a chart's name would find the wrong one.
        let mut ids: Vec<&str> = body
            .split(" id=\"")
            .skip(1)
            .filter_map(|rest| rest.split('"').next())
            .collect();
        let all = ids.len();
        ids.sort_unstable();
        ids.dedup();
        assert_eq!(ids.len(), all, "an id repeats");
        assert!(
            body.contains("<label for=\"capacity\">How many Do it With You engagements"),
            "{}",
            &body[body.find("id=\"capacity\"").unwrap_or(0)..]
                [..3000.min(body.len() - body.find("id=\"capacity\"").unwrap_or(0))]
        );
        assert!(body.contains("every agency, 2025-01 to 2025-12"));

        // A chart's CSV: the same table, filtered the same way.
        let csv = send(
            &app,
            &sam,
            Method::GET,
            &format!("/portfolio/funding.csv?{RANGE}"),
            &[],
        )
        .await;
        assert_eq!(csv.status, StatusCode::OK);
        assert!(csv.body.starts_with("Funder,Decisions\n"), "{}", csv.body);
        assert!(
            csv.body.contains("Co-funded by the DTA and the agency,1"),
            "{}",
            csv.body
        );
        let stages = send(
            &app,
            &sam,
            Method::GET,
            &format!("/portfolio/stages.csv?{RANGE}"),
            &[],
        )
        .await;
        assert!(stages.body.starts_with("Month,"), "{}", stages.body);
        assert_eq!(stages.body.lines().count(), 13, "a header and 12 months");
        for missing in ["/portfolio/nothing.csv", "/portfolio/funding.txt"] {
            assert_eq!(
                send(&app, &sam, Method::GET, missing, &[]).await.status,
                StatusCode::NOT_FOUND
            );
        }
        let bad = send(
            &app,
            &sam,
            Method::GET,
            "/portfolio/funding.csv?from=2025-13",
            &[],
        )
        .await;
        assert_eq!(bad.status, StatusCode::UNPROCESSABLE_ENTITY);

        // Another portfolio's agencies only: nothing of this one's.
        let other = send(
            &app,
            &sam,
            Method::GET,
            &format!("/portfolio/funding.csv?{RANGE}&portfolio=Finance"),
            &[],
        )
        .await;
        assert!(
            other.body.contains("Co-funded by the DTA and the agency,0"),
            "{}",
            other.body
        );
        let mine = send(
            &app,
            &sam,
            Method::GET,
            &format!("/portfolio?{RANGE}&portfolio=Industry"),
            &[],
        )
        .await;
        assert!(mine.body.contains("agencies in the Industry portfolio"));

        // Bad filters: each said beside its field, nothing lost, no markup.
        let r = send(
            &app,
            &sam,
            Method::GET,
            "/portfolio?from=2025-13&to=soon&agency_type=%3Cb%3E&portfolio=%3Cscript%3Ex",
            &[],
        )
        .await;
        assert_eq!(r.status, StatusCode::UNPROCESSABLE_ENTITY);
        for field in ["from", "to", "agency_type", "portfolio"] {
            assert!(
                r.body.contains(&format!("id=\"{field}-error\"")),
                "{field}: {}",
                r.body
            );
        }
        assert!(!r.body.contains("<script>x"));
        assert!(
            r.body.contains("value=\"2025-13\""),
            "what was typed is kept"
        );
        let r = send(
            &app,
            &sam,
            Method::GET,
            "/portfolio?from=2025-06&to=2025-01",
            &[],
        )
        .await;
        assert!(r.body.contains("is after the last"));
        let long = "9".repeat(60_000);
        let r = send(
            &app,
            &sam,
            Method::GET,
            &format!("/portfolio?from={long}"),
            &[],
        )
        .await;
        assert_eq!(r.status, StatusCode::UNPROCESSABLE_ENTITY);
        assert!(!r.body.contains(&long), "a long value is not echoed whole");

        // The capacity: bad values said beside the field; a good one kept.
        for bad in ["", "0", "501", "six", "<b>3</b>"] {
            let r = send(
                &app,
                &sam,
                Method::POST,
                "/portfolio/capacity",
                &[("csrf", &sam.csrf), ("capacity", bad)],
            )
            .await;
            assert_eq!(r.status, StatusCode::UNPROCESSABLE_ENTITY, "{bad}");
            assert!(r.body.contains("id=\"capacity-error\""), "{bad}");
            assert!(!r.body.contains("<b>3</b>"));
        }
        let r = send(
            &app,
            &sam,
            Method::POST,
            "/portfolio/capacity",
            &[
                ("csrf", &sam.csrf),
                ("capacity", " 4 "),
                ("portfolio", "Industry"),
                ("from", "2025-01"),
                ("to", "2025-12"),
            ],
        )
        .await;
        // Back to the same filter.
        assert_eq!(
            r.location,
            "/portfolio?saved=capacity&from=2025-01&to=2025-12&portfolio=Industry#portfolio-capacity"
        );
        let page = send(
            &app,
            &sam,
            Method::GET,
            &format!("/portfolio?saved=capacity&{RANGE}"),
            &[],
        )
        .await;
        assert!(page.body.contains("The capacity is saved"));
        assert!(
            page.body
                .contains("against the 4 the programme can support")
        );

        // A CSV's name says its filter.
        let named = send(
            &app,
            &sam,
            Method::GET,
            &format!("/portfolio/funding.csv?{RANGE}&portfolio=Industry"),
            &[],
        )
        .await;
        assert_eq!(named.status, StatusCode::OK);

        // Nobody else sees it: not the page, its CSV, its form or the link,
        // however malformed the request.
        let member = w.client(&app, Who::Member).await;
        for path in [
            "/portfolio?from=2023-11&from=2024-01",
            "/portfolio/funding.csv?to=1&to=2",
        ] {
            let r = send(&app, &member, Method::GET, path, &[]).await;
            assert_eq!(r.status, StatusCode::NOT_FOUND, "{path}");
        }
        let r = send(
            &app,
            &member,
            Method::POST,
            "/portfolio/capacity",
            &[("capacity", "0"), ("capacity", "1")],
        )
        .await;
        assert_eq!(r.status, StatusCode::NOT_FOUND);
        // Nobody else sees it: not the page, its CSV, its form or the link.
        for who in [
            Who::Sponsor,
            Who::Member,
            Who::OtherAgency,
            Who::PartnerAssigned,
        ] {
            let c = w.client(&app, who).await;
            let home = send(&app, &c, Method::GET, "/engagements", &[]).await;
            assert!(!home.body.contains("href=\"&#x2f;portfolio\""), "{who:?}");
            assert!(!home.body.contains("href=\"/portfolio\""), "{who:?}");
            for path in ["/portfolio", "/portfolio/funding.csv"] {
                assert_eq!(
                    send(&app, &c, Method::GET, path, &[]).await.status,
                    StatusCode::NOT_FOUND,
                    "{who:?} {path}"
                );
            }
            let r = send(
                &app,
                &c,
                Method::POST,
                "/portfolio/capacity",
                &[("csrf", &c.csrf), ("capacity", "50")],
            )
            .await;
            assert_eq!(r.status, StatusCode::NOT_FOUND);
        }

        // The API: the same figures and capacity, for programs.
        let (sam_token, mia_token) = (
            token_for(&w.store, "sam@dta.gov.au").await,
            token_for(&w.store, "mia@bot.gov.au").await,
        );
        let (status, v) = api_call(
            &app,
            Method::GET,
            &format!("/api/v1/portfolio?{RANGE}"),
            &sam_token,
            "",
        )
        .await;
        assert_eq!(status, StatusCode::OK, "{v}");
        assert_eq!(v["from"], "2025-01");
        assert_eq!(v["capacity"]["capacity"], 4);
        let funding = v["funding"].as_array().unwrap();
        assert!(
            funding
                .iter()
                .any(|f| f["key"] == "co_funded" && f["count"] == 1),
            "{v}"
        );
        assert_eq!(v["months"].as_array().unwrap().len(), 12);
        let (status, v) = api_call(
            &app,
            Method::GET,
            "/api/v1/portfolio?from=2025-13&agency_type=big",
            &sam_token,
            "",
        )
        .await;
        assert_eq!(status, StatusCode::UNPROCESSABLE_ENTITY, "{v}");
        assert_eq!(v["errors"].as_array().unwrap().len(), 2, "{v}");
        let (status, _) = api_call(
            &app,
            Method::GET,
            "/api/v1/portfolio?colour=red",
            &sam_token,
            "",
        )
        .await;
        assert_eq!(status, StatusCode::BAD_REQUEST);
        let (status, _) = api_call(&app, Method::GET, "/api/v1/portfolio", &mia_token, "").await;
        assert_eq!(status, StatusCode::NOT_FOUND);
        let (status, v) = api_call(
            &app,
            Method::PUT,
            "/api/v1/portfolio/capacity",
            &sam_token,
            r#"{"capacity":7}"#,
        )
        .await;
        assert_eq!(
            (status, v["capacity"].clone()),
            (StatusCode::OK, 7.into()),
            "{v}"
        );
        let (status, _) = api_call(
            &app,
            Method::PUT,
            "/api/v1/portfolio/capacity",
            &sam_token,
            r#"{"capacity":0}"#,
        )
        .await;
        assert_eq!(status, StatusCode::UNPROCESSABLE_ENTITY);
        let (status, _) = api_call(
            &app,
            Method::PUT,
            "/api/v1/portfolio/capacity",
            &mia_token,
            r#"{"capacity":7}"#,
        )
        .await;
        assert_eq!(status, StatusCode::NOT_FOUND);
        let (status, v) = api_call(
            &app,
            Method::GET,
            "/api/v1/portfolio/capacity",
            &sam_token,
            "",
        )
        .await;
        assert_eq!((status, v["capacity"].clone()), (StatusCode::OK, 7.into()));
    }
}
