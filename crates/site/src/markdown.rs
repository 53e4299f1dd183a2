//! Markdown to HTML for the guidance site, with the model's idea of links.
//!
//! Links to other pages of the model point at the built page; links with an
//! empty, unknown or scheme-less target become plain text, never a dead
//! anchor (`waymark model lint` reports them). Raw HTML in the source is shown
//! as text: pages are content, and content must not inject markup or script.

use pulldown_cmark::{CowStr, Event, HeadingLevel, Parser, Tag, TagEnd};
use waymark_model::markdown::options;
use waymark_model::{LinkTarget, Model};

use super::Hrefs;

/// Renders `md` to HTML, appending to `out`.
pub fn render(md: &str, model: &Model, hrefs: &Hrefs, out: &mut String) {
    // CommonMark has U+0000 shown as U+FFFD; pulldown-cmark passes it
    // through, and a NUL in HTML is a parse error.
    let md: std::borrow::Cow<str> = if md.contains('\0') {
        md.replace('\0', "\u{fffd}").into()
    } else {
        md.into()
    };
    // For each open link or image: was it kept?
    let mut kept: Vec<bool> = Vec::new();
    let events =
        without_empty_headings(Parser::new_ext(&md, options())).filter_map(|event| match event {
            Event::Start(Tag::Link {
                link_type,
                dest_url,
                title,
                id,
            }) => keep(&mut kept, href(&dest_url, model, hrefs)).map(|dest_url| {
                Event::Start(Tag::Link {
                    link_type,
                    dest_url,
                    title,
                    id,
                })
            }),
            Event::Start(Tag::Image {
                link_type,
                dest_url,
                title,
                id,
            }) => keep(&mut kept, href(&dest_url, model, hrefs)).map(|dest_url| {
                Event::Start(Tag::Image {
                    link_type,
                    dest_url,
                    title,
                    id,
                })
            }),
            Event::End(TagEnd::Link | TagEnd::Image) => {
                if kept.pop().unwrap_or(false) {
                    Some(event)
                } else {
                    None
                }
            }
            // Headings inside a body sit below the page's own `h2`s.
            Event::Start(Tag::Heading {
                level,
                id,
                classes,
                attrs,
            }) => Some(Event::Start(Tag::Heading {
                level: demote(level),
                id,
                classes,
                attrs,
            })),
            Event::End(TagEnd::Heading(level)) => Some(Event::End(TagEnd::Heading(demote(level)))),
            Event::Html(html) | Event::InlineHtml(html) => Some(Event::Text(html)),
            other => Some(other),
        });
    pulldown_cmark::html::push_html(out, events);
}

/// Drops headings with no content (`### ` alone on its line): an empty
/// heading tells a screen reader's list of headings nothing.
fn without_empty_headings<'a>(
    events: impl Iterator<Item = Event<'a>>,
) -> impl Iterator<Item = Event<'a>> {
    let mut events = events.peekable();
    std::iter::from_fn(move || {
        loop {
            let event = events.next()?;
            if matches!(event, Event::Start(Tag::Heading { .. }))
                && matches!(events.peek(), Some(Event::End(TagEnd::Heading(_))))
            {
                events.next();
                continue;
            }
            return Some(event);
        }
    })
}

/// Notes whether an opened link or image is kept, so its end tag follows suit.
fn keep<'a>(kept: &mut Vec<bool>, dest: Option<CowStr<'a>>) -> Option<CowStr<'a>> {
    kept.push(dest.is_some());
    dest
}

fn demote(level: HeadingLevel) -> HeadingLevel {
    match level {
        HeadingLevel::H1 | HeadingLevel::H2 | HeadingLevel::H3 => HeadingLevel::H3,
        HeadingLevel::H4 => HeadingLevel::H4,
        HeadingLevel::H5 => HeadingLevel::H5,
        HeadingLevel::H6 => HeadingLevel::H6,
    }
}

/// Where a link should go on the built site, or `None` to render its text only.
fn href<'a>(dest: &CowStr<'a>, model: &Model, hrefs: &Hrefs) -> Option<CowStr<'a>> {
    // A published article's page, as `article-<slug>.html`.
    if hrefs.is_article(dest.split('#').next().unwrap_or_default()) {
        return Some(dest.clone());
    }
    match model.resolve(dest) {
        LinkTarget::Page { page, fragment } => {
            let mut h = hrefs.page(page).to_string();
            if let Some(f) = fragment {
                h.push('#');
                h.push_str(&f);
            }
            Some(CowStr::from(h))
        }
        LinkTarget::External | LinkTarget::Contact | LinkTarget::Anchor => Some(dest.clone()),
        LinkTarget::Empty
        | LinkTarget::UnknownPage { .. }
        | LinkTarget::NoScheme
        | LinkTarget::Unsafe { .. } => None,
    }
}

/// Inline markdown (a title or a list item) without the surrounding `<p>`.
pub fn render_inline(md: &str, model: &Model, hrefs: &Hrefs) -> String {
    let mut out = String::new();
    render(md, model, hrefs, &mut out);
    let t = out.trim();
    match t.strip_prefix("<p>").and_then(|t| t.strip_suffix("</p>")) {
        Some(inner) if !inner.contains("<p>") => inner.to_string(),
        _ => t.to_string(),
    }
}
