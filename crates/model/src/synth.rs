//! A deterministic generator of synthetic page sets, for benchmarks.
//!
//! The same `(pages, seed)` always gives byte-identical files. Pages look like
//! real stage pages (steps, a decision point, next steps, every section) at
//! about the seeds' size, link to one another, and carry no lint findings, so
//! a benchmark measures the work on clean content.

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

/// Generates `pages` files: `index.md` (an overview of the first five pages
/// as stages) and `page-NNNNN.md`, as `(file name, contents)`.
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
    }
}
