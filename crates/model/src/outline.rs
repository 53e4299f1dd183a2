//! `waymark model show`: the model as a readable outline, or as JSON.
//!
//! The JSON shape is documented in `docs/model-json.md`; change both together.

use std::fmt::Write;

use serde::Serialize;

use crate::model::*;

/// The JSON document of `waymark model show --format json`; serialise it
/// directly to keep the documented key order.
#[derive(Debug, Serialize)]
pub struct ModelJson<'a> {
    stages: Vec<StageJson<'a>>,
    principles: &'a [Principle],
    assessment: Option<&'a crate::Questionnaire>,
    pages: Vec<PageJson<'a>>,
}

#[derive(Debug, Serialize)]
struct StageJson<'a> {
    #[serde(flatten)]
    stage: &'a Stage,
    /// Path of the stage's page, or null when the set has none.
    page: Option<&'a str>,
}

#[derive(Debug, Serialize)]
struct PageJson<'a> {
    path: &'a str,
    slug: &'a str,
    title: &'a str,
    layout: Option<&'a str>,
    front_matter: &'a std::collections::BTreeMap<String, serde_json::Value>,
    intro: &'a str,
    timeline: Vec<ItemJson<'a>>,
    sections: Vec<SectionJson<'a>>,
}

#[derive(Debug, Serialize)]
struct ItemJson<'a> {
    title: &'a str,
    kind: &'static str,
    line: u32,
    body: Option<&'a str>,
}

#[derive(Debug, Serialize)]
struct SectionJson<'a> {
    heading: &'a str,
    kind: SectionKind,
    /// Each top-level list item's markdown.
    items: Vec<&'a str>,
}

/// The model as a JSON document.
pub fn to_json(m: &Model) -> ModelJson<'_> {
    ModelJson {
        stages: m
            .stages
            .iter()
            .map(|s| StageJson {
                stage: s,
                page: s.page.map(|p| m.page(p).path.as_str()),
            })
            .collect(),
        principles: &m.principles,
        assessment: m.questionnaire(),
        pages: m
            .pages
            .iter()
            .map(|p| PageJson {
                path: &p.path,
                slug: &p.slug,
                title: &p.title,
                layout: p.layout.as_deref(),
                front_matter: &p.extra,
                intro: &p.intro,
                timeline: p
                    .timeline
                    .iter()
                    .map(|t| ItemJson {
                        title: &t.title,
                        kind: t.kind.name(),
                        line: t.line,
                        body: t.body.as_deref(),
                    })
                    .collect(),
                sections: p
                    .sections
                    .iter()
                    .map(|s| SectionJson {
                        heading: &s.heading,
                        kind: s.kind,
                        items: s.items.iter().map(|e| e.markdown()).collect(),
                    })
                    .collect(),
            })
            .collect(),
    }
}

fn effect_words(m: &Model, e: &Effect) -> String {
    match e {
        Effect::EnterStage { stage } => {
            let name = m.stage(stage).map_or(stage.as_str(), |s| s.name.as_str());
            format!("enters {name}")
        }
        Effect::DoItYourself => "Do it Yourself: programme support ends".to_string(),
        Effect::Exit => "leaves the programme".to_string(),
        Effect::Unspecified => "effect not stated".to_string(),
    }
}

fn list(out: &mut String, heading: &str, entries: &[Entry]) {
    if entries.is_empty() {
        return;
    }
    let _ = writeln!(out, "  {heading}");
    for e in entries {
        let _ = writeln!(out, "    - {}", e.text());
    }
}

/// A readable outline: stages in order with everything the model says of them.
pub fn to_text(m: &Model) -> String {
    let mut out = String::new();
    if let Some(ov) = m.overview.map(|o| m.page(o)) {
        let _ = writeln!(out, "{} ({})", ov.title, ov.path);
    } else {
        let _ = writeln!(out, "Engagement model (no overview page)");
    }
    if !m.principles.is_empty() {
        let _ = writeln!(out, "\nDesign principles");
        for (i, p) in m.principles.iter().enumerate() {
            if p.name.is_empty() {
                let _ = writeln!(out, "  {}. {}", i + 1, p.description);
            } else {
                let _ = writeln!(out, "  {}. {}: {}", i + 1, p.name, p.description);
            }
        }
    }
    for s in &m.stages {
        let page = s
            .page
            .map_or_else(|| "no page".to_string(), |p| m.page(p).path.clone());
        let _ = writeln!(out, "\nStage {}: {} [{}]", s.number, s.name, page);
        if !s.steps.is_empty() {
            let _ = writeln!(out, "  Steps");
            for st in &s.steps {
                let _ = writeln!(out, "    {}. {}", st.number, st.title);
                let t = &st.tailoring;
                if !t.optional.is_empty() {
                    let types: Vec<&str> = t.optional.iter().map(|k| k.label()).collect();
                    let _ = writeln!(out, "       optional for {}", types.join(", "));
                }
                for (k, why) in &t.not_applicable {
                    let _ = writeln!(out, "       not needed for {}: {why}", k.label());
                }
            }
        }
        for d in &s.decisions {
            let _ = writeln!(out, "  Decision: {}", d.question);
            for o in &d.choices.options {
                let _ = writeln!(out, "    - {} ({})", o.text(), effect_words(m, &o.effect));
            }
        }
        if !s.exits.is_empty() {
            let _ = writeln!(out, "  Next steps");
            for o in &s.exits {
                let _ = writeln!(out, "    - {} ({})", o.text(), effect_words(m, &o.effect));
            }
        }
        list(&mut out, "Roles", &s.roles);
        list(&mut out, "Tools, templates and guidance", &s.artefacts);
        list(&mut out, "Enabling services", &s.enabling_services);
        list(&mut out, "Benefits", &s.benefits);
        list(&mut out, "Risks if ignored", &s.risks);
        list(&mut out, "What success looks like", &s.success);
        list(&mut out, "Tasks and activities", &s.tasks);
    }
    let others: Vec<_> = m.other_pages().collect();
    if !others.is_empty() {
        let _ = writeln!(out, "\nOther pages");
        for p in others {
            let _ = writeln!(
                out,
                "  {} ({})",
                if p.title.is_empty() {
                    &p.slug
                } else {
                    &p.title
                },
                p.path
            );
        }
    }
    out
}
