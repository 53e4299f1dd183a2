//! The engagement model visual: an SVG drawn from the model, so it always
//! matches the pages. Stages run left to right; a loop marks a stage that can
//! repeat; arcs underneath show a stage leading back to an earlier one, which
//! is how stages come to overlap; each stage's exits are listed under it.
//! The same facts are given as text by [`text`], for the page around it.
//!
//! It stays readable at any size: past [`MAX_DRAWN`] stages it draws the
//! first few and one box counting the rest, which the contents pages list.

use std::fmt::Write;

use serde::Serialize;
use waymark_model::{Effect, Model};

const WIDTH: usize = 960;
const BOX_Y: usize = 96;
const BOX_H: usize = 76;
const GAP: usize = 28;
const MARGIN: usize = 24;
/// Room under the exits for the arcs back to earlier stages.
const ARC_ROOM: usize = 30;
/// The most boxes the visual draws, the "more stages" box included.
pub const MAX_DRAWN: usize = 8;

fn esc(s: &str) -> String {
    s.replace('&', "&amp;")
        .replace('<', "&lt;")
        .replace('>', "&gt;")
        .replace('"', "&quot;")
}

/// `s` cut to `width` characters, with "…" when cut.
fn fit(s: &str, width: usize) -> String {
    if s.chars().count() <= width {
        return s.to_string();
    }
    let mut out: String = s.chars().take(width.saturating_sub(1)).collect();
    out.push('…');
    out
}

/// Splits a name into at most two lines of at most `width` characters; the
/// rest is cut with "…", so a name never runs out of its box.
fn wrap(name: &str, width: usize) -> Vec<String> {
    wrap_words(name, width)
        .into_iter()
        .map(|l| fit(&l, width))
        .collect()
}

fn wrap_words(name: &str, width: usize) -> Vec<String> {
    if name.chars().count() <= width {
        return vec![name.to_string()];
    }
    let words: Vec<&str> = name.split(' ').collect();
    let mut best = (usize::MAX, 1);
    for cut in 1..words.len() {
        let a = words[..cut].join(" ").chars().count();
        let b = words[cut..].join(" ").chars().count();
        if a.max(b) < best.0 {
            best = (a.max(b), cut);
        }
    }
    vec![words[..best.1].join(" "), words[best.1..].join(" ")]
}

fn exit_words(model: &Model, stage: &str, e: &Effect) -> String {
    match e {
        Effect::EnterStage { stage: s } if s == stage => "Repeat this stage".to_string(),
        Effect::EnterStage { stage: s } => {
            format!(
                "To {}",
                model.stage(s).map_or(s.as_str(), |x| x.name.as_str())
            )
        }
        Effect::DoItYourself => "Do it Yourself".to_string(),
        Effect::Exit => "Exit".to_string(),
        Effect::Unspecified => "Other".to_string(),
    }
}

/// Each stage and the exits it offers (decision options included), in words.
#[derive(Debug, Clone, Serialize)]
pub struct VisualStage {
    pub name: String,
    /// "4 to 8 weeks", when the stage's page gives a timebox.
    pub timebox: Option<String>,
    pub exits: Vec<String>,
}

/// The stages the visual draws, and how many more there are.
#[derive(Debug, Clone, Serialize)]
pub struct Drawn {
    pub stages: Vec<VisualStage>,
    /// Stages not drawn, counted in the last box.
    pub more: usize,
}

pub fn text(model: &Model) -> Drawn {
    let n = model.stages.len();
    let shown = if n > MAX_DRAWN { MAX_DRAWN - 1 } else { n };
    let stages = model.stages[..shown]
        .iter()
        .map(|s| {
            let mut exits: Vec<String> = s
                .decisions
                .iter()
                .flat_map(|d| &d.choices.options)
                .chain(&s.exits)
                .map(|o| exit_words(model, &s.slug, &o.effect))
                .collect();
            let mut seen = std::collections::HashSet::new();
            exits.retain(|e| seen.insert(e.clone()));
            VisualStage {
                name: s.name.clone(),
                timebox: s.timebox.map(|t| t.describe()),
                exits,
            }
        })
        .collect();
    Drawn {
        stages,
        more: n - shown,
    }
}

pub fn svg(model: &Model) -> String {
    let Drawn { stages, more } = text(model);
    let n = (stages.len() + usize::from(more > 0)).max(1);
    let box_w = (WIDTH - 2 * MARGIN - (n - 1) * GAP) / n;
    let x = |i: usize| MARGIN + i * (box_w + GAP);
    let max_exits = stages.iter().map(|s| s.exits.len()).max().unwrap_or(0);
    let height = BOX_Y + BOX_H + 40 + max_exits * 20 + 40 + ARC_ROOM;

    let mut desc = String::from("The engagement model's stages, in order: ");
    desc.push_str(
        &stages
            .iter()
            .map(|s| fit(&s.name, 120))
            .collect::<Vec<_>>()
            .join(", "),
    );
    if more > 0 {
        let _ = write!(desc, ", and {more} more");
    }
    desc.push_str(". Stages are fluid: they may run at the same time, and a stage may repeat. ");
    for s in &stages {
        if !s.exits.is_empty() {
            let _ = write!(
                desc,
                "After {}: {}. ",
                fit(&s.name, 120),
                fit(&s.exits.join("; "), 600)
            );
        }
    }

    let mut out = String::new();
    let _ = write!(
        out,
        r##"<svg xmlns="http://www.w3.org/2000/svg" viewBox="0 0 {WIDTH} {height}" width="100%" role="img" aria-labelledby="model-visual-title model-visual-desc" class="model-visual">
<title id="model-visual-title">The engagement model</title>
<desc id="model-visual-desc">{}</desc>
<defs><marker id="arrow" viewBox="0 0 10 10" refX="9" refY="5" markerWidth="7" markerHeight="7" orient="auto-start-reverse"><path d="M0,0 L10,5 L0,10 z" fill="#313131"/></marker></defs>
<style>text{{font-family:system-ui,-apple-system,"Segoe UI",Roboto,sans-serif;fill:#313131}} .num{{font-size:13px;fill:#ffffff}} .name{{font-size:16px;font-weight:700;fill:#ffffff}} .exit{{font-size:13px}} .note{{font-size:14px}}</style>
"##,
        esc(desc.trim_end())
    );
    // The band that says stages overlap and repeat.
    let _ = write!(
        out,
        r##"<rect x="{MARGIN}" y="20" width="{}" height="44" rx="22" fill="#e6f0f5" stroke="#00698f" stroke-dasharray="6 4"/>
<text class="note" x="{}" y="47" text-anchor="middle">Stages are fluid: they may overlap, run at the same time, and repeat</text>
"##,
        WIDTH - 2 * MARGIN,
        WIDTH / 2
    );
    for (i, s) in stages.iter().enumerate() {
        let bx = x(i);
        let cx = bx + box_w / 2;
        let _ = write!(
            out,
            r##"<g><rect x="{bx}" y="{BOX_Y}" width="{box_w}" height="{BOX_H}" rx="8" fill="#00405e"/>
<text class="num" x="{cx}" y="{}" text-anchor="middle">Stage {}</text>
"##,
            BOX_Y + 22,
            i + 1
        );
        let lines = wrap(&s.name, (box_w / 10).max(6));
        for (l, line) in lines.iter().enumerate() {
            let y = BOX_Y + if lines.len() == 1 { 50 } else { 44 + l * 20 };
            let _ = writeln!(
                out,
                r##"<text class="name" x="{cx}" y="{y}" text-anchor="middle">{}</text>"##,
                esc(line)
            );
        }
        if s.exits.iter().any(|e| e == "Repeat this stage") {
            // A loop over the box's top-right corner.
            let lx = bx + box_w - 18;
            let _ = writeln!(
                out,
                r##"<path d="M{} {} a14 14 0 1 1 20 0" fill="none" stroke="#313131" stroke-width="2" marker-end="url(#arrow)"/>"##,
                lx - 10,
                BOX_Y + 2
            );
        }
        for (e, exit) in s.exits.iter().enumerate() {
            let _ = writeln!(
                out,
                r##"<text class="exit" x="{}" y="{}">{}</text>"##,
                bx + 4,
                BOX_Y + BOX_H + 24 + e * 20,
                // About 6.5 px a character at 13 px: up to the next box.
                esc(&fit(&format!("› {exit}"), ((box_w + GAP) * 2 / 13).max(6)))
            );
        }
        out.push_str("</g>\n");
        if i + 1 < n {
            let _ = writeln!(
                out,
                r##"<line x1="{}" y1="{}" x2="{}" y2="{}" stroke="#313131" stroke-width="2" marker-end="url(#arrow)"/>"##,
                bx + box_w + 3,
                BOX_Y + BOX_H / 2,
                x(i + 1) - 3,
                BOX_Y + BOX_H / 2
            );
        }
    }
    if more > 0 {
        // One box for the stages not drawn.
        let bx = x(stages.len());
        let cx = bx + box_w / 2;
        let _ = write!(
            out,
            r##"<g><rect x="{bx}" y="{BOX_Y}" width="{box_w}" height="{BOX_H}" rx="8" fill="#ffffff" stroke="#00405e" stroke-width="2" stroke-dasharray="6 4"/>
<text class="exit" x="{cx}" y="{}" text-anchor="middle">and {more}</text>
<text class="exit" x="{cx}" y="{}" text-anchor="middle">more {}</text></g>
"##,
            BOX_Y + 34,
            BOX_Y + 54,
            if more == 1 { "stage" } else { "stages" }
        );
    }
    // Arcs back to earlier stages: the same stage may be worked on again
    // while a later one runs.
    let arc_y = BOX_Y + BOX_H + 40 + max_exits * 20;
    let drawn = &model.stages[..stages.len()];
    let position: std::collections::HashMap<&str, usize> = drawn
        .iter()
        .enumerate()
        .map(|(i, s)| (s.slug.as_str(), i))
        .collect();
    for (i, s) in drawn.iter().enumerate() {
        for o in s
            .decisions
            .iter()
            .flat_map(|d| &d.choices.options)
            .chain(&s.exits)
        {
            if let Effect::EnterStage { stage } = &o.effect
                && let Some(&j) = position.get(stage.as_str())
                && j < i
            {
                let (from, to) = (x(i) + box_w / 2, x(j) + box_w / 2 + 12);
                let _ = writeln!(
                    out,
                    r##"<path d="M{from} {} C{from} {} {to} {} {to} {}" fill="none" stroke="#00698f" stroke-width="2" stroke-dasharray="5 4" marker-end="url(#arrow)"/>"##,
                    arc_y - 10,
                    arc_y + 30,
                    arc_y + 30,
                    arc_y - 10,
                );
            }
        }
    }
    out.push_str("</svg>\n");
    out
}
