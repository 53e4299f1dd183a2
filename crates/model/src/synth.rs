//! A deterministic generator of synthetic page sets, for benchmarks, in two
//! shapes.
//!
//! The same `(pages, seed, shape)` always gives byte-identical files.
//! - [`Shape::Staged`]: an overview naming five stages, and pages that look
//!   like real stage pages (steps, a decision point, next steps, every
//!   section) at about the seeds' size, linking to one another, with no lint
//!   findings, so a benchmark measures the work on clean content.
//! - [`Shape::Flat`]: what a new user's own pages may look like. No overview;
//!   every page has numbered steps (so every page is a stage); 5 to 8
//!   timeline items and 6 to 8 sections a page; and many links to pages that
//!   are not in the set, so lint has a great deal to say.

use std::fmt::Write;

/// SplitMix64: tiny, fast and good enough to vary synthetic text.
#[derive(Debug, Clone)]
pub struct Rng(u64);

impl Rng {
    pub fn new(seed: u64) -> Self {
        Rng(seed)
    }

    pub fn next_u64(&mut self) -> u64 {
        self.0 = self.0.wrapping_add(0x9e37_79b9_7f4a_7c15);
        let mut z = self.0;
        z = (z ^ (z >> 30)).wrapping_mul(0xbf58_476d_1ce4_e5b9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94d0_49bb_1331_11eb);
        z ^ (z >> 31)
    }

    pub fn below(&mut self, n: usize) -> usize {
        (self.next_u64() % n.max(1) as u64) as usize
    }
}

const WORDS: &[&str] = &[
    "agency",
    "blueprint",
    "desktop",
    "secure",
    "cloud",
    "workshop",
    "sponsor",
    "strategy",
    "risk",
    "change",
    "training",
    "licence",
    "tenant",
    "policy",
    "identity",
    "device",
    "network",
    "mailbox",
    "records",
    "archive",
    "support",
    "vendor",
    "partner",
    "budget",
    "governance",
    "roadmap",
    "capability",
    "sprint",
    "feature",
    "pilot",
    "release",
    "baseline",
    "control",
    "audit",
    "plan",
    "review",
    "design",
    "service",
    "portal",
    "community",
    "survey",
    "feedback",
    "maturity",
    "readiness",
    "adoption",
    "benefit",
    "outcome",
    "process",
    "culture",
    "skills",
    "leaders",
    "staff",
    "migration",
    "security",
    "assessment",
    "analysis",
    "evidence",
    "register",
    "charter",
    "timeline",
    "milestone",
    "measure",
    "target",
    "increment",
    "guide",
    "template",
    "checklist",
    "decision",
    "option",
    "funding",
    "contract",
    "procurement",
    "application",
    "hardware",
    "peripheral",
    "helpdesk",
    "knowledge",
    "article",
    "newsletter",
    "calendar",
    "retrospective",
    "improvement",
    "operations",
    "collaboration",
    "messaging",
    "meetings",
    "files",
    "sharing",
    "classification",
    "protected",
    "endpoint",
    "update",
    "patching",
    "backup",
    "recovery",
    "continuity",
    "privacy",
    "accessibility",
    "inclusion",
    "engagement",
    "discovery",
    "transition",
    "deploy",
    "evaluation",
    "iteration",
    "scope",
    "estimate",
    "schedule",
    "quality",
    "testing",
    "acceptance",
    "handover",
    "closure",
    "lessons",
    "insight",
    "metric",
    "dashboard",
    "portfolio",
];

fn sentence(r: &mut Rng, words: usize) -> String {
    let mut s = String::new();
    for i in 0..words {
        let w = WORDS[r.below(WORDS.len())];
        if i == 0 {
            let mut c = w.chars();
            if let Some(f) = c.next() {
                s.extend(f.to_uppercase());
                s.push_str(c.as_str());
            }
        } else {
            s.push(' ');
            s.push_str(w);
        }
    }
    s.push('.');
    s
}

fn paragraph(r: &mut Rng) -> String {
    let n = 2 + r.below(3);
    (0..n)
        .map(|_| {
            let len = 8 + r.below(8);
            sentence(r, len)
        })
        .collect::<Vec<_>>()
        .join(" ")
}

fn page_name(i: usize) -> String {
    format!("page-{i:05}")
}

/// The two shapes of generated page sets.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Shape {
    /// An overview and five stages among ordinary pages (the default).
    Staged,
    /// No overview, every page a stage, many dead links.
    Flat,
}

impl Shape {
    pub fn parse(s: &str) -> Option<Shape> {
        match s {
            "staged" => Some(Shape::Staged),
            "flat" => Some(Shape::Flat),
            _ => None,
        }
    }
}

/// Generates `pages` files of the given shape, as `(file name, contents)`.
pub fn corpus_of(shape: Shape, pages: usize, seed: u64) -> Vec<(String, String)> {
    match shape {
        Shape::Staged => corpus(pages, seed),
        Shape::Flat => flat(pages, seed),
    }
}

/// The flat shape: `page-NNNNN.md` only.
fn flat(pages: usize, seed: u64) -> Vec<(String, String)> {
    const SECTIONS: [&str; 8] = [
        "Roles",
        "Tools, templates and guidance",
        "Enabling services",
        "Benefits",
        "Risks if ignored",
        "What success looks like",
        "Further reading",
        "Contacts",
    ];
    let mut r = Rng::new(seed);
    let mut out = Vec::with_capacity(pages);
    for i in 0..pages {
        // A link to a page of the set, or (as often) to one that is not.
        let link = |r: &mut Rng| {
            if r.below(2) == 0 {
                format!("{}.html", page_name(r.below(pages)))
            } else {
                format!(
                    "/guides/{}.md",
                    page_name(pages + r.below(pages.max(1) * 4))
                )
            }
        };
        let mut p = String::new();
        let _ = write!(
            p,
            "---\nlayout: engagement\ntitle: {} {}\ntimeline:\n",
            sentence(&mut r, 3).trim_end_matches('.'),
            i
        );
        let items = 5 + r.below(4);
        // Most items are steps; some pages end with a decision and next steps.
        let tail = r.below(3);
        let dash = if i % 2 == 0 { '–' } else { '-' };
        for s in 1..=items - tail {
            let _ = write!(
                p,
                "- title: Step {s} {dash} {}\n  body: |\n    {} See [the guidance]({}) and [the template]({}).\n",
                sentence(&mut r, 3).trim_end_matches('.'),
                paragraph(&mut r),
                link(&mut r),
                link(&mut r)
            );
        }
        if tail >= 1 {
            let _ = write!(
                p,
                "- title: Decision point {dash} {}?\n  body: |\n    {}\n\n    * {}\n    * Go on to [the next page]({}).\n\n",
                sentence(&mut r, 3).trim_end_matches('.'),
                paragraph(&mut r),
                sentence(&mut r, 9),
                link(&mut r)
            );
        }
        if tail >= 2 {
            let _ = write!(
                p,
                "- title: Next steps\n  body: |\n    {}\n\n    * Continue with [another page]({}).\n",
                paragraph(&mut r),
                link(&mut r)
            );
        }
        let _ = write!(p, "---\n\n{}\n\n", paragraph(&mut r));
        let sections = 6 + r.below(3);
        for heading in &SECTIONS[..sections] {
            let _ = writeln!(p, "## {heading}\n");
            for _ in 0..2 + r.below(3) {
                let len = 6 + r.below(10);
                let _ = writeln!(
                    p,
                    "* {} See [more]({}).",
                    sentence(&mut r, len),
                    link(&mut r)
                );
            }
            p.push('\n');
        }
        out.push((format!("{}.md", page_name(i)), p));
    }
    out
}

/// Generates `pages` files of the staged shape: `index.md` (an overview of
/// the first five pages as stages) and `page-NNNNN.md`.
pub fn corpus(pages: usize, seed: u64) -> Vec<(String, String)> {
    let mut r = Rng::new(seed);
    let mut out = Vec::with_capacity(pages);
    if pages == 0 {
        return out;
    }
    let stage_pages = (pages - 1).min(5);
    let mut ov =
        String::from("---\nlayout: engagement\ntitle: Synthetic engagement model\ntimeline:\n");
    for i in 0..stage_pages {
        let _ = write!(
            ov,
            "- title: {}. Stage {}\n  body: |\n    During [stage {}](/{}.md), {}\n",
            i + 1,
            page_name(i),
            i + 1,
            page_name(i),
            paragraph(&mut r)
        );
    }
    let _ = write!(
        ov,
        "---\n\n{}\n\n## Design principles\n\n",
        paragraph(&mut r)
    );
    for i in 0..4 {
        let _ = writeln!(
            ov,
            "{}.\tPrinciple {}: {}",
            i + 1,
            i + 1,
            sentence(&mut r, 10)
        );
    }
    out.push(("index.md".to_string(), ov));

    for i in 0..pages - 1 {
        let mut p = String::new();
        let link = |r: &mut Rng| page_name(r.below(pages - 1));
        let _ = write!(
            p,
            "---\nlayout: engagement\ntitle: Stage {}\ntimeline:\n",
            page_name(i)
        );
        // Pages differ in dash style, as real ones do, but each is consistent.
        let dash = if i % 2 == 0 { '–' } else { '-' };
        for s in 1..=3 {
            let _ = write!(
                p,
                "- title: Step {s} {dash} {}\n  body: |\n    {} See [related guidance]({}.html).\n",
                sentence(&mut r, 3).trim_end_matches('.'),
                paragraph(&mut r),
                link(&mut r)
            );
        }
        let _ = write!(
            p,
            "- title: Decision point {dash} {}?\n  body: |\n    {}\n\n    * {}\n    * Move to [the next stage](/{}.md).\n    * Exit the programme.\n\n    {}\n",
            sentence(&mut r, 3).trim_end_matches('.'),
            paragraph(&mut r),
            sentence(&mut r, 9),
            link(&mut r),
            sentence(&mut r, 10)
        );
        let _ = write!(
            p,
            "- title: Next steps\n  body: |\n    {}\n\n    * Continue in [another stage]({}.md).\n    * {}\n---\n\n{}\n\n",
            paragraph(&mut r),
            link(&mut r),
            sentence(&mut r, 7),
            paragraph(&mut r)
        );
        for heading in [
            "Roles",
            "Tools, templates and guidance",
            "Enabling services",
            "Benefits",
            "Risks if ignored",
            "What success looks like",
        ] {
            let _ = writeln!(p, "## {heading}\n");
            for _ in 0..2 + r.below(3) {
                let len = 6 + r.below(10);
                let _ = writeln!(p, "* {}", sentence(&mut r, len));
            }
            p.push('\n');
        }
        out.push((format!("{}.md", page_name(i)), p));
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn same_seed_same_pages() {
        assert_eq!(corpus(20, 7), corpus(20, 7));
        assert_ne!(corpus(20, 7), corpus(20, 8));
        assert_eq!(corpus(20, 7).len(), 20);
        assert!(corpus(0, 1).is_empty());
        assert_eq!(corpus_of(Shape::Flat, 20, 7), corpus_of(Shape::Flat, 20, 7));
        assert_eq!(corpus_of(Shape::Flat, 20, 7).len(), 20);
        assert!(corpus_of(Shape::Flat, 0, 1).is_empty());
    }

    #[test]
    fn the_flat_shape_is_what_it_says() {
        let files = corpus_of(Shape::Flat, 200, 3);
        let loaded = crate::build(
            files
                .into_iter()
                .map(|(name, text)| crate::SourceFile {
                    path: name.clone(),
                    name,
                    text,
                })
                .collect(),
        );
        let m = &loaded.model;
        assert_eq!(m.overview, None);
        // Every page has numbered steps, so every page is a stage.
        assert_eq!(m.stages.len(), 200);
        for p in &m.pages {
            assert!((5..=8).contains(&p.timeline.len()), "{}", p.path);
            assert!((6..=8).contains(&p.sections.len()), "{}", p.path);
        }
        let dead = m
            .pages
            .iter()
            .flat_map(|p| &p.links)
            .filter(|l| matches!(l.resolved, crate::model::LinkTarget::UnknownPage { .. }))
            .count();
        let all: usize = m.pages.iter().map(|p| p.links.len()).sum();
        assert!(dead * 3 > all, "{dead} of {all} links are dead");
    }
}
