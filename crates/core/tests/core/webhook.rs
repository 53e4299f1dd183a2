//! Webhooks' rules: scope, targets, retries, types.

use std::net::IpAddr;

use waymark_core::webhook::*;
use waymark_core::*;

use crate::*;

fn ip(s: &str) -> IpAddr {
    s.parse().unwrap()
}

#[test]
fn private_and_special_addresses_are_refused_unless_allowed() {
    for refused in [
        "127.0.0.1",
        "127.8.9.10",
        "10.1.2.3",
        "172.16.0.1",
        "172.31.255.255",
        "192.168.1.1",
        "169.254.169.254",
        "100.64.0.1",
        "0.0.0.0",
        "0.1.2.3",
        "224.0.0.1",
        "255.255.255.255",
        "240.0.0.1",
        "192.0.2.1",
        "198.18.0.1",
        "192.0.0.8",
        "::1",
        "::",
        "fc00::1",
        "fd12:3456::1",
        "fe80::1",
        "ff02::1",
        "2001:db8::1",
        "::ffff:127.0.0.1",
        "::ffff:10.0.0.1",
        "::ffff:169.254.169.254",
        "64:ff9b::a9fe:a9fe",
        "::127.0.0.1",
    ] {
        assert!(
            refused_address(ip(refused), &[]).is_some(),
            "{refused} should be refused"
        );
    }
    for public in [
        "1.1.1.1",
        "203.0.114.5",
        "172.32.0.1",
        "100.128.0.1",
        "2606:4700::1111",
        "::ffff:1.1.1.1",
    ] {
        assert_eq!(refused_address(ip(public), &[]), None, "{public}");
    }
    let loopback: Vec<ipnet::IpNet> = vec!["127.0.0.0/8".parse().unwrap()];
    assert_eq!(refused_address(ip("127.0.0.1"), &loopback), None);
    assert_eq!(refused_address(ip("::ffff:127.0.0.1"), &loopback), None);
    assert!(refused_address(ip("10.0.0.1"), &loopback).is_some());
}

#[test]
fn a_target_is_an_http_address_without_credentials() {
    let ok = check_url(" https://hooks.example.gov.au/waymark?x=1 ", &[]).unwrap();
    assert_eq!(ok, "https://hooks.example.gov.au/waymark?x=1");
    for (bad, says) in [
        ("", "give the address"),
        ("ftp://example.com/", "https://"),
        ("https://user:pw@example.com/", "user name"),
        ("https://example.com/#frag", "fragment"),
        ("not a url", "not an address"),
        ("http://127.0.0.1:8080/", "loopback"),
        ("http://[::1]/", "loopback"),
        ("http://localhost/", "loopback"),
        ("http://a.localhost./", "loopback"),
        ("http://169.254.169.254/latest/meta-data", "link-local"),
        ("http://10.0.0.1/", "private"),
        ("http://2130706433/", "loopback"),
        ("http://0x7f.1/", "loopback"),
    ] {
        let e = check_url(bad, &[]).unwrap_err().to_string();
        assert!(e.contains(says), "{bad}: {e}");
    }
    let long = format!("https://example.com/{}", "a".repeat(URL_MAX));
    assert!(
        check_url(&long, &[])
            .unwrap_err()
            .to_string()
            .contains("at most")
    );
    let allowed: Vec<ipnet::IpNet> = vec!["127.0.0.0/8".parse().unwrap()];
    assert!(check_url("http://127.0.0.1:9/x", &allowed).is_ok());
}

#[test]
fn the_programme_and_sponsors_subscribe_to_what_they_may_see() {
    let types = |t: &[&str]| t.iter().map(|s| s.to_string()).collect::<Vec<_>>();
    let url = "https://hooks.example.gov.au/";
    assert!(NewSubscription::parse(&staff(), url, &types(&["*"]), "", &[]).is_ok());
    let s = NewSubscription::parse(
        &sponsor(),
        url,
        &types(&["engagement.*", "engagement.signed_off", "engagement.*", " "]),
        " Power BI ",
        &[],
    )
    .unwrap();
    assert_eq!(s.types, types(&["engagement.*", "engagement.signed_off"]));
    assert_eq!(s.description, "Power BI");
    for who in [member(), partner()] {
        let e = NewSubscription::parse(&who, url, &types(&["*"]), "", &[]).unwrap_err();
        assert!(matches!(e, DomainError::Forbidden { .. }), "{e}");
    }
    for t in ["enquiry.*", "enquiry.received", "*"] {
        let e = NewSubscription::parse(&sponsor(), url, &types(&[t]), "", &[]).unwrap_err();
        assert!(e.to_string().contains("programme"), "{t}: {e}");
    }
    for (t, says) in [
        (&[][..], "at least one"),
        (&["engagement.nope"][..], "not an event type"),
        (&["ENGAGEMENT.*"][..], "not an event type"),
    ] {
        let e = NewSubscription::parse(&staff(), url, &types(t), "", &[]).unwrap_err();
        assert!(e.to_string().contains(says), "{t:?}: {e}");
    }
    let e = NewSubscription::parse(&staff(), url, &types(&["*"]), "a\r\nb", &[]).unwrap_err();
    assert!(
        e.to_string().starts_with("description: must be one line"),
        "{e}"
    );
    let long = "d".repeat(DESCRIPTION_MAX + 1);
    assert!(NewSubscription::parse(&staff(), url, &types(&["*"]), &long, &[]).is_err());
}

#[test]
fn an_event_reaches_only_owners_who_may_see_it() {
    let e = engagement();
    let (entered, about) = ("engagement.stage_entered", About::Engagement(&e));
    let all = vec!["engagement.*".to_string()];
    assert!(receives(&staff(), &all, entered, about));
    assert!(receives(&sponsor(), &all, entered, about));
    assert!(
        !receives(&other_member(), &all, entered, about),
        "another agency"
    );
    assert!(!receives(&member(), &all, entered, about), "not a sponsor");
    assert!(
        !receives(&partner(), &all, entered, about),
        "partners do not subscribe"
    );
    let nobody = Actor {
        person: SPONSOR,
        roles: vec![],
    };
    assert!(!receives(&nobody, &all, entered, about), "lost their role");
    assert!(!receives(
        &staff(),
        &["engagement.signed_off".into()],
        entered,
        about
    ));
    assert!(receives(&staff(), &["*".into()], entered, about));
    let enquiry = "enquiry.received";
    assert!(receives(&staff(), &["*".into()], enquiry, About::Enquiry));
    assert!(!receives(
        &sponsor(),
        &["*".into()],
        enquiry,
        About::Enquiry
    ));
    assert!(!receives(&staff(), &all, enquiry, About::Enquiry));
}

#[test]
fn every_event_of_a_journey_has_a_known_type() {
    let known = known_types();
    for ev in start(model(), "hash-1", AGENCY, &staff(), Mode::DoItWithYou).unwrap() {
        let kind = engagement_type(&ev);
        let tagged = serde_json::to_value(&ev).unwrap()["type"]
            .as_str()
            .unwrap()
            .to_string();
        assert_eq!(kind, format!("engagement.{tagged}"));
        assert!(known.contains(&kind), "{kind}");
    }
}

#[test]
fn failures_are_retried_for_a_day_then_the_subscription_stops() {
    let waits: Vec<i64> = (1..ATTEMPTS).map(|n| retry_after(n).unwrap()).collect();
    assert_eq!(waits, [5, 300, 1800, 7200, 18000, 36000, 36000]);
    assert_eq!(retry_after(ATTEMPTS), None);
    assert_eq!(retry_after(0), None);
    assert!(waits.iter().sum::<i64>() > 86_400);
    assert!(should_disable(Timestamp(100), None));
    assert!(should_disable(Timestamp(100), Some(Timestamp(99))));
    assert!(!should_disable(Timestamp(100), Some(Timestamp(100))));
    assert!(delivered(200) && delivered(204) && !delivered(301) && !delivered(500));
}
