//! One pass of pulldown-cmark over a markdown text, keeping what the model
//! needs: links, headings and top-level lists, each with its byte range.
//!
//! Sections, decision options and exit options are all derived from this scan,
//! so the whole crate agrees with CommonMark on what is a list or a heading
//! (`1.<TAB>` markers, lists right after a paragraph, and so on).

use std::ops::Range;

use pulldown_cmark::{Event, HeadingLevel, Options, Parser, Tag, TagEnd};

use crate::text::normalize;

/// The markdown options used everywhere Waymark reads or renders a body.
pub fn options() -> Options {
    Options::ENABLE_TABLES | Options::ENABLE_STRIKETHROUGH | Options::ENABLE_HEADING_ATTRIBUTES
}

#[derive(Debug, Clone, Default)]
pub struct Scan {
    pub links: Vec<ScannedLink>,
    pub headings: Vec<ScannedHeading>,
    /// Lists that are not nested in another list.
    pub lists: Vec<ScannedList>,
}

#[derive(Debug, Clone)]
pub struct ScannedLink {
    pub text: String,
    pub dest: String,
    pub start: usize,
    pub image: bool,
}

#[derive(Debug, Clone)]
pub struct ScannedHeading {
    pub level: u8,
    pub text: String,
    pub range: Range<usize>,
}

#[derive(Debug, Clone)]
pub struct ScannedList {
    pub range: Range<usize>,
    pub items: Vec<ScannedItem>,
}

#[derive(Debug, Clone)]
pub struct ScannedItem {
    pub range: Range<usize>,
    /// The item's text with markup removed and whitespace normalised.
    pub text: String,
}

fn level(l: HeadingLevel) -> u8 {
    match l {
        HeadingLevel::H1 => 1,
        HeadingLevel::H2 => 2,
        HeadingLevel::H3 => 3,
        HeadingLevel::H4 => 4,
        HeadingLevel::H5 => 5,
        HeadingLevel::H6 => 6,
    }
}

pub fn scan(md: &str) -> Scan {
    let mut scan = Scan::default();
    let mut list_depth = 0usize;
    let mut item_text: Option<String> = None;
    // A break or block end separates words; the space is written only when
    // more text follows, so item text rarely needs normalising.
    let mut gap = false;
    let mut heading: Option<(u8, String, usize)> = None;
    // Links may nest inside an image's alt text; keep a small stack.
    let mut links: Vec<(usize, String)> = Vec::new();

    for (event, range) in Parser::new_ext(md, options()).into_offset_iter() {
        match event {
            Event::Start(Tag::List(_)) => {
                // Keep a nested list's words apart from its parent item's.
                gap = true;
                list_depth += 1;
                if list_depth == 1 {
                    scan.lists.push(ScannedList {
                        range: range.clone(),
                        items: Vec::new(),
                    });
                }
            }
            Event::End(TagEnd::List(_)) => list_depth = list_depth.saturating_sub(1),
            Event::Start(Tag::Item) if list_depth == 1 => {
                item_text = Some(String::new());
                gap = false;
                if let Some(list) = scan.lists.last_mut() {
                    list.items.push(ScannedItem {
                        range,
                        text: String::new(),
                    });
                }
            }
            Event::End(TagEnd::Item) if list_depth == 1 => {
                if let (Some(text), Some(item)) = (
                    item_text.take(),
                    scan.lists.last_mut().and_then(|l| l.items.last_mut()),
                ) {
                    item.text = normalize(&text);
                }
            }
            Event::Start(Tag::Heading { level: l, .. }) => {
                heading = Some((level(l), String::new(), range.start));
            }
            Event::End(TagEnd::Heading(_)) => {
                if let Some((level, text, start)) = heading.take() {
                    scan.headings.push(ScannedHeading {
                        level,
                        text: normalize(&text),
                        range: start..range.end,
                    });
                }
            }
            Event::Start(Tag::Link { dest_url, .. }) => {
                scan.links.push(ScannedLink {
                    text: String::new(),
                    dest: dest_url.to_string(),
                    start: range.start,
                    image: false,
                });
                links.push((scan.links.len() - 1, String::new()));
            }
            Event::Start(Tag::Image { dest_url, .. }) => {
                scan.links.push(ScannedLink {
                    text: String::new(),
                    dest: dest_url.to_string(),
                    start: range.start,
                    image: true,
                });
                links.push((scan.links.len() - 1, String::new()));
            }
            Event::End(TagEnd::Link | TagEnd::Image) => {
                if let Some((i, text)) = links.pop() {
                    scan.links[i].text = normalize(&text);
                }
            }
            Event::Text(t) | Event::Code(t) => {
                if std::mem::take(&mut gap) {
                    push_text(&mut item_text, &mut heading, &mut links, " ");
                }
                push_text(&mut item_text, &mut heading, &mut links, &t);
            }
            Event::End(TagEnd::Paragraph) | Event::SoftBreak | Event::HardBreak => gap = true,
            _ => {}
        }
    }
    scan
}

fn push_text(
    item: &mut Option<String>,
    heading: &mut Option<(u8, String, usize)>,
    links: &mut [(usize, String)],
    t: &str,
) {
    if let Some(s) = item {
        s.push_str(t);
    }
    if let Some((_, s, _)) = heading {
        s.push_str(t);
    }
    for (_, s) in links.iter_mut() {
        s.push_str(t);
    }
}

/// Plain text of a whole markdown fragment, for comparing bodies.
pub fn plain_text(md: &str) -> String {
    let mut out = String::with_capacity(md.len());
    for event in Parser::new_ext(md, options()) {
        match event {
            Event::Text(t) | Event::Code(t) => out.push_str(&t),
            // Blocks and breaks separate words; the end of a link or emphasis does not.
            Event::SoftBreak
            | Event::HardBreak
            | Event::End(
                TagEnd::Paragraph
                | TagEnd::Heading(_)
                | TagEnd::Item
                | TagEnd::List(_)
                | TagEnd::BlockQuote(_)
                | TagEnd::CodeBlock
                | TagEnd::TableCell
                | TagEnd::TableRow
                | TagEnd::TableHead,
            ) => out.push(' '),
            _ => {}
        }
    }
    normalize(&out)
}

/// The markdown of a list item without its marker, each line trimmed.
pub fn item_markdown(md: &str, range: &Range<usize>) -> String {
    let raw = md.get(range.clone()).unwrap_or("").trim_start();
    let rest = if let Some(r) = raw.strip_prefix(['*', '-', '+']) {
        r
    } else {
        let digits = raw.len() - raw.trim_start_matches(|c: char| c.is_ascii_digit()).len();
        raw[digits..].strip_prefix(['.', ')']).unwrap_or(raw)
    };
    let mut out = String::with_capacity(rest.len());
    for line in rest.lines() {
        let line = line.trim();
        if !out.is_empty() {
            out.push('\n');
        }
        out.push_str(line);
    }
    out.trim().to_string()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn tab_after_number_is_a_list() {
        let md = "Principles:\n\n1.\tBest practice: based on a guide.\n2.\tClear: simple.\n";
        let s = scan(md);
        assert_eq!(s.lists.len(), 1);
        let items: Vec<_> = s.lists[0].items.iter().map(|i| i.text.as_str()).collect();
        assert_eq!(
            items,
            ["Best practice: based on a guide.", "Clear: simple."]
        );
        assert_eq!(
            item_markdown(md, &s.lists[0].items[0].range),
            "Best practice: based on a guide."
        );
    }

    #[test]
    fn list_right_after_a_paragraph() {
        let s = scan("The stages are:\n1. [Engagement](/engagement.md)\n2. Discovery\n");
        assert_eq!(s.lists.len(), 1);
        assert_eq!(s.lists[0].items.len(), 2);
        assert_eq!(s.links[0].text, "Engagement");
        assert_eq!(s.links[0].dest, "/engagement.md");
    }

    #[test]
    fn empty_links_and_images_are_seen() {
        let s = scan("A [Letter of Intent]() and ![diagram](model.svg).");
        assert_eq!(s.links.len(), 2);
        assert_eq!(s.links[0].dest, "");
        assert_eq!(s.links[0].start, 2);
        assert!(s.links[1].image);
    }

    #[test]
    fn nested_lists_stay_inside_their_item() {
        let s = scan("* one\n  * inner\n* two\n");
        assert_eq!(s.lists.len(), 1);
        assert_eq!(s.lists[0].items.len(), 2);
        assert_eq!(s.lists[0].items[0].text, "one inner");
    }

    #[test]
    fn plain_text_keeps_punctuation_after_links() {
        assert_eq!(
            plain_text("See [the blueprint](/b/), then *act*.\n\n* one\n* two"),
            "See the blueprint, then act. one two"
        );
    }

    #[test]
    fn headings_in_any_case() {
        let s = scan("## Tools, Templates and Guidance \n\n* x\n");
        assert_eq!(s.headings[0].text, "Tools, Templates and Guidance");
        assert_eq!(s.headings[0].level, 2);
    }
}
