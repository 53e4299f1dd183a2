//! What a timeline item is, from its title alone.
//!
//! Titles are typed by hand, so the patterns are forgiving: any dash or a colon
//! may separate the parts, case does not matter, and no-break spaces count as
//! spaces. The separator actually used is reported so the lint can point out a
//! page that mixes styles.

use serde::Serialize;

use crate::text::normalize;

/// The separator between "Step 1" and its title.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum Dash {
    Hyphen,
    EnDash,
    EmDash,
    Colon,
}

impl Dash {
    fn from_char(c: char) -> Option<Self> {
        match c {
            '-' => Some(Dash::Hyphen),
            '\u{2013}' => Some(Dash::EnDash),
            '\u{2014}' => Some(Dash::EmDash),
            ':' => Some(Dash::Colon),
            _ => None,
        }
    }

    /// The separator's name with its article, for messages.
    pub fn describe(self) -> &'static str {
        match self {
            Dash::Hyphen => "a hyphen (-)",
            Dash::EnDash => "an en dash (–)",
            Dash::EmDash => "an em dash (—)",
            Dash::Colon => "a colon (:)",
        }
    }
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub enum TitleKind {
    Step { number: u32, title: String },
    Decision { question: String },
    NextSteps,
    Stage { number: u32, name: String },
    Other,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Classified {
    pub kind: TitleKind,
    pub dash: Option<Dash>,
}

/// Strips a case-insensitive ASCII prefix.
fn strip_word<'a>(s: &'a str, word: &str) -> Option<&'a str> {
    let head = s.get(..word.len())?;
    head.eq_ignore_ascii_case(word).then(|| &s[word.len()..])
}

fn split_number(s: &str) -> Option<(u32, &str)> {
    let s = s.trim_start();
    let digits = s.len() - s.trim_start_matches(|c: char| c.is_ascii_digit()).len();
    if digits == 0 {
        return None;
    }
    let n = s[..digits].parse().ok()?;
    Some((n, &s[digits..]))
}

/// `rest` must start (after spaces) with a separator; returns it and the text after.
fn separated(rest: &str) -> Option<(Dash, String)> {
    let rest = rest.trim_start();
    let mut chars = rest.chars();
    let dash = Dash::from_char(chars.next()?)?;
    let text = chars.as_str().trim();
    Some((dash, text.to_string()))
}

pub fn classify(raw_title: &str) -> Classified {
    let title = normalize(raw_title);
    let other = Classified {
        kind: TitleKind::Other,
        dash: None,
    };

    if let Some(rest) = strip_word(&title, "step")
        && let Some((number, rest)) = split_number(rest)
    {
        return match separated(rest) {
            Some((dash, t)) => Classified {
                kind: TitleKind::Step { number, title: t },
                dash: Some(dash),
            },
            None if rest.trim().is_empty() => Classified {
                kind: TitleKind::Step {
                    number,
                    title: String::new(),
                },
                dash: None,
            },
            None => other,
        };
    }
    if let Some(rest) = strip_word(&title, "decision") {
        let rest = rest.trim_start();
        let rest = strip_word(rest, "point").unwrap_or(rest);
        if let Some((dash, question)) = separated(rest) {
            return Classified {
                kind: TitleKind::Decision { question },
                dash: Some(dash),
            };
        }
    }
    {
        let t = title.trim_end_matches(':').trim_end();
        if t.eq_ignore_ascii_case("next steps") || t.eq_ignore_ascii_case("next step") {
            return Classified {
                kind: TitleKind::NextSteps,
                dash: None,
            };
        }
    }
    // "1. Engagement" on the overview, or "Stage 1 - Engagement".
    if let Some((number, rest)) = split_number(&title)
        && let Some(name) = rest.strip_prefix('.')
    {
        let name = name.trim();
        if !name.is_empty() && rest.len() > name.len() + 1 {
            return Classified {
                kind: TitleKind::Stage {
                    number,
                    name: name.to_string(),
                },
                dash: None,
            };
        }
    }
    if let Some(rest) = strip_word(&title, "stage")
        && let Some((number, rest)) = split_number(rest)
        && let Some((dash, name)) = separated(rest)
    {
        return Classified {
            kind: TitleKind::Stage { number, name },
            dash: Some(dash),
        };
    }
    other
}

#[cfg(test)]
mod tests {
    use super::*;

    fn kind(t: &str) -> TitleKind {
        classify(t).kind
    }

    #[test]
    fn steps_with_any_dash() {
        let c = classify("Step 1 – Execution plan");
        assert_eq!(
            c.kind,
            TitleKind::Step {
                number: 1,
                title: "Execution plan".into()
            }
        );
        assert_eq!(c.dash, Some(Dash::EnDash));
        assert_eq!(
            classify("Step 2 - Request support").dash,
            Some(Dash::Hyphen)
        );
        assert_eq!(classify("step\u{a0}3: x").dash, Some(Dash::Colon));
        assert_eq!(
            kind("Step 2 – Product analysis, build, deploy, and evaluate "),
            TitleKind::Step {
                number: 2,
                title: "Product analysis, build, deploy, and evaluate".into()
            }
        );
    }

    #[test]
    fn decisions_next_steps_and_stages() {
        assert_eq!(
            kind("Decision point - Undertake discovery?"),
            TitleKind::Decision {
                question: "Undertake discovery?".into()
            }
        );
        assert_eq!(kind("Next steps  "), TitleKind::NextSteps);
        assert_eq!(kind("next step:"), TitleKind::NextSteps);
        assert_eq!(
            kind("5. Adoption and Evaluation"),
            TitleKind::Stage {
                number: 5,
                name: "Adoption and Evaluation".into()
            }
        );
        assert_eq!(
            kind("Stage 2 – Discovery"),
            TitleKind::Stage {
                number: 2,
                name: "Discovery".into()
            }
        );
    }

    #[test]
    fn everything_else_is_other() {
        for t in [
            "",
            "Steps to take",
            "Stepping stones",
            "1.5 million",
            "2024",
            "Decision",
            "Why?",
        ] {
            assert_eq!(kind(t), TitleKind::Other, "{t:?}");
        }
    }
}
