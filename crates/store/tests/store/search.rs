//! One search over guide pages and records: the same top results on both
//! backends, exactly the access the core gives, hostile queries answered,
//! records found straight after their change, and a rebuild equal to the
//! live index.

use waymark_core::search::{Kind, Query};
use waymark_core::*;
use waymark_store::{Document, Group, NewEnquiry, Store};

use crate::{NOW, stores, world};

fn doc(reference: &str, title: &str, body: &str) -> Document {
    Document {
        reference: reference.into(),
        title: title.into(),
        body: body.into(),
    }
}

/// Guide pages whose best match for each query below is clear.
fn pages() -> Vec<Document> {
    vec![
        doc(
            "index.html",
            "The engagement model",
            "Agencies adopt the secure desktop blueprint through five stages.",
        ),
        doc(
            "discovery.html",
            "Discovery",
            "Workshops explore the agency's needs. Discovery runs for four to eight weeks. \
             Discovery ends with a decision.",
        ),
        doc(
            "deploy.html",
            "Deploy the blueprint",
            "The blueprint is deployed: Intune policies, devices enrolled, users migrated. \
             Deploying takes sprints.",
        ),
        doc(
            "engagement.html",
            "Engagement",
            "An agency registers on the community portal and sends an initial request email.",
        ),
    ]
}

async fn find(store: &Store, actor: Option<&Actor>, q: &str) -> Vec<Group> {
    store
        .search(actor, &Query::parse(q), None, 1)
        .await
        .unwrap()
}

fn refs(groups: &[Group], kind: Kind) -> Vec<String> {
    groups
        .iter()
        .filter(|g| g.kind == kind)
        .flat_map(|g| g.hits.iter().map(|h| h.reference.clone()))
        .collect()
}

fn top(groups: &[Group]) -> Option<String> {
    refs(groups, Kind::Guide).into_iter().next()
}

#[tokio::test]
async fn both_backends_give_the_same_top_results_with_stems_and_phrases() {
    // (query, the page it must find first, how many pages match)
    let cases = [
        ("discovery", Some("discovery.html"), 1),
        ("Deploying", Some("deploy.html"), 1),
        ("deployed", Some("deploy.html"), 1),
        ("workshop", Some("discovery.html"), 1),
        ("blueprint", Some("deploy.html"), 2),
        ("\"secure desktop\"", Some("index.html"), 1),
        ("\"desktop secure\"", None, 0),
        ("agency community", Some("engagement.html"), 1),
        ("the of and", None, 0),
        ("intune AND enrolled", Some("deploy.html"), 1),
    ];
    for store in stores("search-same").await {
        store.index_pages(Kind::Guide, &pages()).await.unwrap();
        for (q, first, n) in cases {
            let groups = find(&store, None, q).await;
            assert_eq!(top(&groups).as_deref(), first, "{:?}: {q}", store.backend());
            let total = groups
                .iter()
                .find(|g| g.kind == Kind::Guide)
                .map_or(0, |g| g.total);
            assert_eq!(total, n, "{:?}: {q}", store.backend());
        }
        // Snippets mark what matched.
        let groups = find(&store, None, "intune").await;
        let marked: Vec<&str> = groups[0].hits[0]
            .snippet
            .iter()
            .filter(|p| p.mark)
            .map(|p| p.text.as_str())
            .collect();
        assert_eq!(marked, ["Intune"], "{:?}", store.backend());
        // The index is the pages given: a page gone is gone.
        store.index_pages(Kind::Guide, &pages()[..2]).await.unwrap();
        assert!(find(&store, None, "intune").await.is_empty());
    }
}

/// A word in more documents than are ranked: the count says "more than",
/// the best come from the newest `RANKED` only, and every page one may ask
/// for has results. The oldest pages use the word most, so ranking them
/// all would put them first.
#[tokio::test]
async fn a_common_word_is_ranked_among_its_newest_matches_on_both_backends() {
    use waymark_core::search::{MAX_PAGE, RANKED};
    let ranked = RANKED as usize;
    let old = 150;
    let mut docs: Vec<Document> = (0..old)
        .map(|i| {
            doc(
                &format!("old-{i}.html"),
                "Tenancy tenancy",
                "tenancy tenancy tenancy",
            )
        })
        .collect();
    docs.extend((0..ranked).map(|i| {
        doc(
            &format!("new-{i}.html"),
            &format!("Page {i}"),
            "Among other things, a tenancy, and a long line of other words to make it longer.",
        )
    }));
    docs.push(doc("newest.html", "Tenancy", "tenancy tenancy"));
    // A rarer word found in exactly as many as are ranked: counted exactly.
    docs.extend((0..ranked - 1).map(|i| doc(&format!("rare-{i}.html"), "Rare", "quokka")));
    docs.push(doc("rare-last.html", "Rare", "quokka"));
    for store in stores("search-ranked").await {
        store.index_pages(Kind::Guide, &docs).await.unwrap();
        let groups = find(&store, None, "tenancy").await;
        let g = &groups[0];
        assert_eq!(
            (g.total, g.exact),
            (RANKED as u64, false),
            "{:?}",
            store.backend()
        );
        assert_eq!(g.hits[0].reference, "newest.html", "{:?}", store.backend());
        for page in [1, MAX_PAGE] {
            let groups = store
                .search(None, &Query::parse("tenancy"), Some(Kind::Guide), page)
                .await
                .unwrap();
            let refs = refs(&groups, Kind::Guide);
            assert_eq!(refs.len(), 10, "{:?} page {page}", store.backend());
            assert!(
                refs.iter().all(|r| !r.starts_with("old-")),
                "{:?} page {page}: {refs:?}",
                store.backend()
            );
        }
        let groups = find(&store, None, "quokka").await;
        assert_eq!((groups[0].total, groups[0].exact), (RANKED as u64, true));
    }
}

/// Paging one kind: each page holds the next ten, best first, and a page
/// past the last has no results but still says how many there are. On
/// SQLite the longer pages score lower; PostgreSQL's ranking ignores
/// length and puts the oldest first: both orders are the same here.
#[tokio::test]
async fn pages_follow_one_another_and_one_past_the_last_keeps_its_count() {
    let docs: Vec<Document> = (0..25)
        .map(|i| {
            doc(
                &format!("p-{i:02}.html"),
                &format!("Page {i}"),
                &format!("sprocket {}", "filler ".repeat(i)),
            )
        })
        .collect();
    for store in stores("search-pages").await {
        store.index_pages(Kind::Guide, &docs).await.unwrap();
        for page in 1..=4u32 {
            let groups = store
                .search(None, &Query::parse("sprocket"), Some(Kind::Guide), page)
                .await
                .unwrap();
            let want: Vec<String> = (10 * (page as usize - 1)..(10 * page as usize).min(25))
                .map(|i| format!("p-{i:02}.html"))
                .collect();
            assert_eq!(
                refs(&groups, Kind::Guide),
                want,
                "{:?} page {page}",
                store.backend()
            );
            assert_eq!(
                groups
                    .iter()
                    .map(|g| (g.kind, g.total, g.exact))
                    .collect::<Vec<_>>(),
                [(Kind::Guide, 25, true)],
                "{:?} page {page}",
                store.backend()
            );
        }
    }
}

#[tokio::test]
async fn hostile_queries_never_error() {
    let long = "x".repeat(10_000);
    let hostile = [
        "\"",
        "\"\"\"",
        "NEAR(a b, 2)",
        "desk*",
        "-blueprint",
        "((((",
        ")",
        "a OR",
        "title:blueprint",
        "^blueprint",
        "'; DROP TABLE search_docs; --",
        "🚀🔒",
        long.as_str(),
        "\u{0}\u{2}\u{3}",
        "blueprint NOT AND OR",
    ];
    for store in stores("search-hostile").await {
        store.index_pages(Kind::Guide, &pages()).await.unwrap();
        for q in hostile {
            for kind in [None, Some(Kind::Guide), Some(Kind::Enquiry)] {
                let r = store.search(None, &Query::parse(q), kind, 50).await;
                assert!(r.is_ok(), "{:?}: {q:?}: {r:?}", store.backend());
            }
        }
        // Operators are words: "-blueprint" finds the blueprint.
        assert_eq!(
            top(&find(&store, None, "-blueprint").await).as_deref(),
            Some("deploy.html")
        );
        assert_eq!(
            top(&find(&store, None, "desk*").await),
            None,
            "no prefix syntax"
        );
    }
}

fn new_enquiry(body: &str) -> NewEnquiry {
    NewEnquiry {
        source: "form".into(),
        message_id: None,
        agency_name: "Bureau of Examples".into(),
        contact_name: "Alex Example".into(),
        contact_email: "alex@example.gov.au".into(),
        contact_role: "CIO".into(),
        subject: "Support, please".into(),
        body: body.into(),
        timeframe: "Soon".into(),
        preference: "Do it With You".into(),
        attachments: Vec::new(),
    }
}

/// A unique word planted in every kind of record is found exactly by those
/// who may see that record, straight after the change, and by nobody else
/// (not in a count either).
#[tokio::test]
async fn each_visitor_finds_exactly_what_they_may_see() {
    for store in stores("search-access").await {
        let w = world(store).await;
        let s = &w.store;
        let pat = {
            let p = s
                .add_person_with_roles(
                    &NewPerson::parse("Pat Partner", "pat@vendor.com.au").unwrap(),
                    &[Role::Partner {
                        kind: PartnerKind::Technology,
                    }],
                    NOW,
                )
                .await
                .unwrap();
            s.actor(p).await.unwrap()
        };
        let ours = w.start().await;
        let theirs = s
            .start_engagement(&w.staff, w.other_agency, Mode::DoItWithYou, &w.model, NOW)
            .await
            .unwrap();
        let risk = |word: &str| Command::AddRisk {
            text: Text::from(format!("Licences may lapse ({word})").as_str()),
            stage: None,
        };
        s.execute(&w.member, ours.id, ours.version, &risk("zorblax"), NOW)
            .await
            .unwrap();
        let theirs = s
            .execute(
                &w.other,
                theirs.id,
                theirs.version,
                &risk("quillfeather"),
                NOW,
            )
            .await
            .unwrap();
        s.execute(
            &w.staff,
            theirs.id,
            theirs.version,
            &Command::Assign {
                person: pat.person,
                partner: Some(PartnerKind::Technology),
            },
            NOW,
        )
        .await
        .unwrap();
        s.add_enquiry(&new_enquiry("We use the word glimmerwick."), None, NOW)
            .await
            .unwrap();
        // Agencies are found by name and abbreviation ("DTA" is ours).
        let seen = async |actor: Option<&Actor>, q: &str| -> Vec<(Kind, u64)> {
            find(s, actor, q)
                .await
                .iter()
                .map(|g| (g.kind, g.total))
                .collect()
        };
        let one = |k: Kind| vec![(k, 1)];
        let none: Vec<(Kind, u64)> = Vec::new();
        let who: [(&str, Option<&Actor>); 6] = [
            ("signed out", None),
            ("programme", Some(&w.staff)),
            ("member", Some(&w.member)),
            ("other agency", Some(&w.other)),
            ("partner", Some(&pat)),
            (
                "nobody",
                Some(
                    &w.store
                        .actor(w.member.person)
                        .await
                        .map(|mut a| {
                            a.roles.clear();
                            a
                        })
                        .unwrap(),
                ),
            ),
        ];
        for (name, actor) in who {
            let (ours_seen, theirs_seen, enquiry_seen, dta_seen) = match name {
                "programme" => (true, true, true, true),
                "member" => (true, false, false, true),
                "other agency" => (false, true, false, false),
                "partner" => (false, true, false, false),
                _ => (false, false, false, false),
            };
            let expect = |b: bool, k: Kind| if b { one(k) } else { none.clone() };
            assert_eq!(
                seen(actor, "zorblax").await,
                expect(ours_seen, Kind::Engagement),
                "{name}"
            );
            assert_eq!(
                seen(actor, "quillfeather").await,
                expect(theirs_seen, Kind::Engagement),
                "{name}"
            );
            assert_eq!(
                seen(actor, "glimmerwick").await,
                expect(enquiry_seen, Kind::Enquiry),
                "{name}"
            );
            assert_eq!(
                seen(actor, "dta").await,
                expect(dta_seen, Kind::Agency),
                "{name}"
            );
            for kind in Kind::ALL {
                let r = s
                    .search(actor, &Query::parse("zorblax quillfeather"), Some(kind), 1)
                    .await
                    .unwrap();
                assert!(r.is_empty(), "{name}: no record has both words");
            }
        }
        // Closing the risk with a note: found by the note at once.
        let e = s.engagement(&w.member, ours.id).await.unwrap();
        s.execute(
            &w.member,
            e.id,
            e.version,
            &Command::CloseRisk {
                id: e.risks[0].id,
                note: Text::from("Renewed through brackenmoor"),
            },
            NOW,
        )
        .await
        .unwrap();
        assert_eq!(
            seen(Some(&w.member), "brackenmoor").await,
            one(Kind::Engagement)
        );
        assert_eq!(seen(Some(&w.other), "brackenmoor").await, none);
        // The rebuilt index is the live one.
        let live = s.index_contents().await.unwrap();
        s.reindex_records().await.unwrap();
        assert_eq!(s.index_contents().await.unwrap(), live, "{:?}", s.backend());
        assert!(live.iter().any(|d| d[0] == "engagement"));
    }
}

/// On SQLite a search reads through connections of its own, opened with
/// the store: when the file is moved under a running server, searches go on
/// reading the file the writers write, not whatever is at the path now.
#[tokio::test]
async fn sqlite_searches_read_the_file_the_store_opened() {
    let url = waymark_store::testing::sqlite_url("search-moved");
    let path = std::path::PathBuf::from(url.trim_start_matches("sqlite://"));
    let store = Store::open(&url).await.unwrap();
    store.index_pages(Kind::Guide, &pages()).await.unwrap();
    let moved = path.with_file_name("moved.db");
    for suffix in ["", "-wal", "-shm"] {
        let from = format!("{}{suffix}", path.display());
        if std::path::Path::new(&from).exists() {
            std::fs::rename(&from, format!("{}{suffix}", moved.display())).unwrap();
        }
    }
    for _ in 0..8 {
        assert_eq!(
            top(&find(&store, None, "intune").await).as_deref(),
            Some("deploy.html")
        );
    }
    assert!(!path.exists(), "nothing was made at the old path");
}

/// On SQLite a query of one phrase is ranked by `bm25_tf` (waymark-fts),
/// not by the index's own rank (bm25 with the title weighted above the
/// body, migration 0017), which first counts the phrase in the whole index:
/// the two must give the same order, read here straight from the index.
#[tokio::test]
async fn sqlite_ranks_one_phrase_in_the_order_of_the_index_rank() {
    let store = Store::open(&waymark_store::testing::sqlite_url("search-tf"))
        .await
        .unwrap();
    // Some pages have the word in their title, the rest more or less of it
    // in bodies of different lengths.
    let docs: Vec<Document> = (0..40usize)
        .map(|i| {
            let title = if i % 7 == 0 { "Gateway" } else { "Page" };
            let body = format!(
                "{}{}",
                "gateway filler ".repeat(i % 5 + 1),
                "other ".repeat((i * 13) % 31)
            );
            doc(&format!("g-{i:02}.html"), title, &body)
        })
        .collect();
    store.index_pages(Kind::Guide, &docs).await.unwrap();
    // (query, as FTS5 reads it, the best page: the title weighs most)
    for (q, fts, best) in [
        ("gateway", "\"gateway\"", Some("g-00.html")),
        ("\"gateway filler\"", "\"gateway filler\"", None),
    ] {
        // Sorted here as the store sorts: best first, the older on a tie.
        let mut rows: Vec<(String, f64, i64)> = sqlx::query_as(
            "SELECT d.ref, search_fts.rank, d.id FROM search_fts \
             JOIN search_docs d ON d.id = search_fts.rowid WHERE search_fts MATCH $1",
        )
        .bind(fts)
        .fetch_all(store.pool())
        .await
        .unwrap();
        rows.sort_by(|a, b| a.1.total_cmp(&b.1).then(a.2.cmp(&b.2)));
        let want: Vec<String> = rows.into_iter().take(10).map(|r| r.0).collect();
        if let Some(best) = best {
            assert_eq!(want[0], best, "{want:?}");
        }
        let groups = store
            .search(None, &Query::parse(q), Some(Kind::Guide), 1)
            .await
            .unwrap();
        assert_eq!(refs(&groups, Kind::Guide), want, "{q}");
    }
}

/// SQLite is built without STAT4 (`.cargo/config.toml`): with it, once
/// ANALYZE has run, FTS5 re-prepares a statement at every segment it reads,
/// and a search costs about a fifth more. ANALYZE's plain statistics stay.
/// Nor does it keep memory statistics (a global mutex on every allocation).
#[tokio::test]
async fn sqlite_is_built_without_stat4_or_memory_statistics() {
    let store = Store::open(&waymark_store::testing::sqlite_url("search-stat4"))
        .await
        .unwrap();
    for (option, built) in [("ENABLE_STAT4", 0), ("DEFAULT_MEMSTATUS=0", 1)] {
        let (used,): (i64,) = sqlx::query_as("SELECT sqlite_compileoption_used($1)")
            .bind(option)
            .fetch_one(store.pool())
            .await
            .unwrap();
        assert_eq!(used, built, "{option}: is .cargo/config.toml in effect?");
    }
    store.index_pages(Kind::Guide, &pages()).await.unwrap();
    sqlx::query("ANALYZE").execute(store.pool()).await.unwrap();
    assert_eq!(
        top(&find(&store, None, "intune").await).as_deref(),
        Some("deploy.html")
    );
}
