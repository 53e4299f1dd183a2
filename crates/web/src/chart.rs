//! Charts drawn on the server as SVG: no script, no image files.
//!
//! Drawn 360 units wide, so that on a 320 px phone its text is still
//! about 12 px, and shown no wider than 26rem, where it is 18 px.
//!
//! Every chart is an `<svg role="img">` labelled by its `<title>` and
//! `<desc>`, and the page puts a table of the same data beside it, so a
//! screen reader, a printout and a spreadsheet all get the numbers. Lines
//! and text are drawn in `currentColor`, so the chart follows the page's
//! colours and Windows' high-contrast themes; series differ by dash
//! pattern and marker shape, never by colour alone (WCAG 1.4.1).
//!
//! The scale and tick maths live here, tested by property ([`Scale`],
//! [`ticks`]); the SVG is checked by snapshot. No charting crate does
//! accessible SVG with this little: plotters, the maintained one, draws
//! neither `<title>` nor `<desc>` and would add minutes to a cold build.

use std::fmt::Write as _;

/// A linear map from a domain (data) onto a range (pixels).
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Scale {
    pub domain: (f64, f64),
    pub range: (f64, f64),
}

impl Scale {
    /// A scale over `domain`; an empty domain (one value) is widened by one
    /// either side, so nothing divides by zero.
    pub fn new(domain: (f64, f64), range: (f64, f64)) -> Self {
        let (lo, hi) = if domain.0 <= domain.1 {
            domain
        } else {
            (domain.1, domain.0)
        };
        let (lo, hi) = if hi - lo <= f64::EPSILON * hi.abs().max(1.0) {
            (lo - 1.0, hi + 1.0)
        } else {
            (lo, hi)
        };
        Scale {
            domain: (lo, hi),
            range,
        }
    }

    pub fn map(&self, v: f64) -> f64 {
        let (d0, d1) = self.domain;
        let (r0, r1) = self.range;
        r0 + (v - d0) / (d1 - d0) * (r1 - r0)
    }
}

/// A "nice" step near `span / count`: 1, 2 or 5 times a power of ten.
fn nice_step(span: f64, count: usize) -> f64 {
    let raw = span / count.max(1) as f64;
    let power = 10f64.powf(raw.log10().floor());
    let m = raw / power;
    let nice = if m <= 1.0 {
        1.0
    } else if m <= 2.0 {
        2.0
    } else if m <= 5.0 {
        5.0
    } else {
        10.0
    };
    nice * power
}

/// Round ticks that cover `lo..=hi`: evenly spaced by 1, 2 or 5 times a
/// power of ten, the first at or below `lo` and the last at or above `hi`,
/// about `count` of them (never more than `2 * count + 2`).
pub fn ticks(lo: f64, hi: f64, count: usize) -> Vec<f64> {
    let (lo, hi) = if lo <= hi { (lo, hi) } else { (hi, lo) };
    if !lo.is_finite() || !hi.is_finite() {
        return vec![0.0];
    }
    // One value: ticks around it.
    let (lo, hi) = if hi - lo > f64::EPSILON * hi.abs().max(1.0) {
        (lo, hi)
    } else {
        let m = lo.abs().max(1.0) * 0.5;
        (lo - m, hi + m)
    };
    let step = nice_step(hi - lo, count);
    let first = (lo / step).floor();
    let last = (hi / step).ceil();
    let n = ((last - first) as usize).min(2 * count.max(1) + 1);
    (0..=n).map(|i| clean((first + i as f64) * step)).collect()
}

/// `v` without the floating-point dust of a multiplication (0.30000000000000004).
fn clean(v: f64) -> f64 {
    let r = (v * 1e9).round() / 1e9;
    if r == 0.0 { 0.0 } else { r }
}

/// How a series is drawn.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Style {
    /// A solid line with round markers: what was measured.
    Measured,
    /// A dashed line with square markers: what is aimed for.
    Target,
    /// A dotted line with no markers: a projection.
    Projected,
}

impl Style {
    fn dash(self) -> Option<&'static str> {
        match self {
            Style::Measured => None,
            Style::Target => Some("8 5"),
            Style::Projected => Some("2 4"),
        }
    }
}

#[derive(Debug)]
pub struct Series {
    pub name: String,
    pub style: Style,
    pub points: Vec<(f64, f64)>,
}

/// A line chart over time: x is a day number, y a number; `x_label` and
/// `y_label` write a tick's value as people read it (a date, an amount
/// with its unit).
pub struct LineChart<'a> {
    /// Unique on the page: the `<title>` and `<desc>` ids derive from it.
    pub id: String,
    pub title: String,
    pub desc: String,
    pub series: Vec<Series>,
    pub x_label: &'a dyn Fn(f64) -> String,
    pub y_label: &'a dyn Fn(f64) -> String,
    /// What the y axis counts ("hours"), written above it once, so each
    /// tick needs only its number.
    pub y_title: String,
    /// The y axis's whole range, when the measure has one (a Net Promoter
    /// Score runs from -100 to 100); otherwise it fits the data.
    pub y_range: Option<(f64, f64)>,
}

impl std::fmt::Debug for LineChart<'_> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("LineChart")
            .field("id", &self.id)
            .field("title", &self.title)
            .field("series", &self.series)
            .finish_non_exhaustive()
    }
}

const WIDTH: f64 = 360.0;
const HEIGHT: f64 = 270.0;
const LEFT: f64 = 96.0;
const RIGHT: f64 = 44.0;
const TOP: f64 = 34.0;
const BOTTOM: f64 = 70.0;

/// Text made safe inside SVG's elements and attributes.
pub fn escape(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    for c in s.chars() {
        match c {
            '&' => out.push_str("&amp;"),
            '<' => out.push_str("&lt;"),
            '>' => out.push_str("&gt;"),
            '"' => out.push_str("&quot;"),
            '\'' => out.push_str("&#39;"),
            c if c.is_control() && c != '\n' && c != '\t' => out.push(' '),
            c => out.push(c),
        }
    }
    out
}

/// A number as an SVG coordinate: one decimal place is finer than a pixel.
fn at(v: f64) -> String {
    let r = (v * 10.0).round() / 10.0;
    if r.fract() == 0.0 {
        format!("{}", r as i64)
    } else {
        format!("{r:.1}")
    }
}

/// Every chart's `<svg>` opening: an image named by its `<title>` and
/// described by its `<desc>`, `height` units tall.
fn opening(id: &str, title: &str, desc: &str, height: f64) -> String {
    let id = escape(id);
    format!(
        r#"<svg class="chart" role="img" aria-labelledby="{id}-title {id}-desc" viewBox="0 0 {w} {h}" width="100%" preserveAspectRatio="xMidYMid meet" xmlns="http://www.w3.org/2000/svg"><title id="{id}-title">{title}</title><desc id="{id}-desc">{desc}</desc>"#,
        w = WIDTH,
        h = at(height),
        title = escape(title),
        desc = escape(desc),
    )
}

/// Opens the axes' group and draws the y axis: its title above it, and a
/// faint line across the plot (`x`: its left and right) at each tick, with
/// its label.
fn y_axis(
    o: &mut String,
    title: &str,
    ticks: &[f64],
    ys: &Scale,
    x: (f64, f64),
    label: &dyn Fn(f64) -> String,
) {
    o.push_str(
        r#"<g class="chart-axis" fill="currentColor" stroke="currentColor" font-size="16">"#,
    );
    if !title.is_empty() {
        let _ = write!(
            o,
            r#"<text x="8" y="18" stroke="none" font-weight="bold">{}</text>"#,
            escape(title)
        );
    }
    for t in ticks {
        let y = at(ys.map(*t));
        let _ = write!(
            o,
            r#"<line x1="{l}" x2="{r}" y1="{y}" y2="{y}" stroke-opacity="0.25"/><text x="{tx}" y="{y}" dy="4" text-anchor="end" stroke="none">{label}</text>"#,
            l = at(x.0),
            r = at(x.1),
            tx = at(x.0 - 8.0),
            label = escape(&label(*t)),
        );
    }
}

impl LineChart<'_> {
    /// The chart as one `<svg>` element.
    pub fn svg(&self) -> String {
        let all = self.series.iter().flat_map(|s| s.points.iter());
        let (mut x0, mut x1, mut y0, mut y1) = (f64::MAX, f64::MIN, f64::MAX, f64::MIN);
        for (x, y) in all.filter(|p| p.0.is_finite() && p.1.is_finite()) {
            x0 = x0.min(*x);
            x1 = x1.max(*x);
            y0 = y0.min(*y);
            y1 = y1.max(*y);
        }
        if x0 > x1 {
            (x0, x1, y0, y1) = (0.0, 1.0, 0.0, 1.0);
        }
        if let Some((lo, hi)) = self.y_range {
            (y0, y1) = (lo.min(y0), hi.max(y1));
        }
        let yt = ticks(y0, y1, 5);
        let (ylo, yhi) = (yt[0], yt[yt.len() - 1]);
        let xs = Scale::new((x0, x1), (LEFT, WIDTH - RIGHT));
        let ys = Scale::new((ylo, yhi), (HEIGHT - BOTTOM, TOP));
        let mut o = opening(&self.id, &self.title, &self.desc, HEIGHT);
        y_axis(
            &mut o,
            &self.y_title,
            &yt,
            &ys,
            (LEFT, WIDTH - RIGHT),
            self.y_label,
        );
        // The x axis is time: its two ends, labelled as dates (round day
        // numbers mean nothing to a reader, and a third label would crowd
        // a phone's width).
        let xt: Vec<f64> = if x1 > x0 { vec![x0, x1] } else { vec![x0] };
        let base = at(HEIGHT - BOTTOM);
        for (i, t) in xt.iter().enumerate() {
            let x = at(xs.map(*t));
            // The first label starts at its tick and the last ends at its
            // tick, so both stay inside the chart.
            let anchor = if i + 1 == xt.len() && i > 0 {
                "end"
            } else if xt.len() > 1 {
                "start"
            } else {
                "middle"
            };
            let _ = write!(
                o,
                r#"<line x1="{x}" x2="{x}" y1="{base}" y2="{b6}"/><text x="{x}" y="{ty}" text-anchor="{anchor}" stroke="none">{label}</text>"#,
                b6 = at(HEIGHT - BOTTOM + 6.0),
                ty = at(HEIGHT - BOTTOM + 22.0),
                label = escape(&(self.x_label)(*t)),
            );
        }
        let _ = write!(
            o,
            r#"<line x1="{l}" x2="{r}" y1="{base}" y2="{base}"/></g>"#,
            l = at(LEFT),
            r = at(WIDTH - RIGHT),
        );
        for s in &self.series {
            let pts: Vec<String> = s
                .points
                .iter()
                .filter(|p| p.0.is_finite() && p.1.is_finite())
                .map(|(x, y)| format!("{},{}", at(xs.map(*x)), at(ys.map(*y))))
                .collect();
            if pts.is_empty() {
                continue;
            }
            let dash = s
                .style
                .dash()
                .map(|d| format!(r#" stroke-dasharray="{d}""#))
                .unwrap_or_default();
            let _ = write!(
                o,
                r#"<g class="chart-series" stroke="currentColor" fill="none" stroke-width="2.5"><polyline points="{}"{dash}/>"#,
                pts.join(" ")
            );
            for p in &pts {
                let (x, y) = p.split_once(',').unwrap_or(("0", "0"));
                match s.style {
                    Style::Measured => {
                        let _ = write!(
                            o,
                            r#"<circle cx="{x}" cy="{y}" r="4.5" fill="currentColor"/>"#
                        );
                    }
                    Style::Target => {
                        let _ = write!(
                            o,
                            r#"<rect x="{x}" y="{y}" width="9" height="9" transform="translate(-4.5 -4.5)" fill="none"/>"#
                        );
                    }
                    Style::Projected => {}
                }
            }
            o.push_str("</g>");
        }
        // The key: each series' line as drawn, and its name.
        let mut kx = 16.0;
        let ky = HEIGHT - 14.0;
        o.push_str(r#"<g class="chart-key" font-size="16" fill="currentColor">"#);
        for s in &self.series {
            let dash = s
                .style
                .dash()
                .map(|d| format!(r#" stroke-dasharray="{d}""#))
                .unwrap_or_default();
            let _ = write!(
                o,
                r#"<line x1="{a}" x2="{b}" y1="{y}" y2="{y}" stroke="currentColor" stroke-width="2.5"{dash}/><text x="{t}" y="{y}" dy="4">{name}</text>"#,
                a = at(kx),
                b = at(kx + 28.0),
                y = at(ky),
                t = at(kx + 34.0),
                name = escape(&s.name),
            );
            kx += 34.0 + 9.0 * s.name.chars().count() as f64 + 20.0;
        }
        o.push_str("</g></svg>");
        o
    }
}

/// Counts as horizontal bars, one a row, each with its label above it and
/// its count at its end: long labels (a survey's choices) stay readable on
/// a phone, where columns would squeeze them.
#[derive(Debug)]
pub struct BarChart {
    /// Unique on the page: the `<title>` and `<desc>` ids derive from it.
    pub id: String,
    pub title: String,
    pub desc: String,
    pub bars: Vec<(String, u64)>,
}

/// One bar's row: its label, then the bar.
const ROW: f64 = 46.0;
/// The longest label drawn; the table beside the chart has it whole.
const LABEL_CHARS: usize = 34;

impl BarChart {
    pub fn svg(&self) -> String {
        let max = self.bars.iter().map(|b| b.1).max().unwrap_or(0);
        let top = ticks(0.0, max.max(1) as f64, 4);
        // Short labels (a scale's numbers) sit beside their bars, in rows
        // half as tall; longer ones above.
        let beside = self.bars.iter().all(|b| b.0.chars().count() <= 3);
        let (row_height, left) = if beside { (26.0, 44.0) } else { (ROW, 8.0) };
        let xs = Scale::new((0.0, top[top.len() - 1]), (left, WIDTH - 56.0));
        let height = 12.0 + row_height * self.bars.len().max(1) as f64;
        let mut o = opening(&self.id, &self.title, &self.desc, height);
        o.push_str(r#"<g fill="currentColor" font-size="16">"#);
        for (i, (label, n)) in self.bars.iter().enumerate() {
            let y = 6.0 + row_height * i as f64;
            let mut shown: String = label.chars().take(LABEL_CHARS).collect();
            if label.chars().nth(LABEL_CHARS).is_some() {
                shown.push('…');
            }
            let end = xs.map(*n as f64);
            // A zero is a hairline, so the row does not look missing.
            let width = (end - left).max(1.5);
            // Beside: the label ends before the bar, level with it.
            let (tx, ty, anchor, bar_y) = if beside {
                (left - 10.0, y + 14.0, "end", y + 2.0)
            } else {
                (8.0, y + 14.0, "start", y + 22.0)
            };
            let _ = write!(
                o,
                r#"<text x="{tx}" y="{ty}" text-anchor="{anchor}">{label}</text><rect x="{bx}" y="{by}" width="{bw}" height="16"/><text x="{cx}" y="{cy}">{n}</text>"#,
                tx = at(tx),
                ty = at(ty),
                bx = at(left),
                by = at(bar_y),
                bw = at(width),
                cx = at(left + width + 8.0),
                cy = at(bar_y + 14.0),
                label = escape(&shown),
            );
        }
        o.push_str("</g></svg>");
        o
    }
}

/// Counts over periods as stacked columns, one a period: each series a
/// fill pattern of its own (solid, hatched, dotted, lined, crossed,
/// empty), named in a key below, so no series is told apart by colour.
#[derive(Debug)]
pub struct StackedChart {
    /// Unique on the page: the `<title>` and `<desc>` ids derive from it.
    pub id: String,
    pub title: String,
    pub desc: String,
    /// Each column's label ("2027-03", "2027 Q1").
    pub columns: Vec<String>,
    /// Each series' name and its count for every column.
    pub series: Vec<(String, Vec<u64>)>,
    /// What the y axis counts, written above it.
    pub y_title: String,
}

/// The fill patterns, in the order series take them.
const PATTERNS: usize = 6;

fn pattern_defs(id: &str) -> String {
    let id = escape(id);
    let mut o = String::from("<defs>");
    let shapes = [
        r#"<rect width="8" height="8" fill="currentColor"/>"#,
        r#"<line x1="0" y1="0" x2="0" y2="8" stroke="currentColor" stroke-width="3"/>"#,
        r#"<circle cx="4" cy="4" r="1.8" fill="currentColor"/>"#,
        r#"<line x1="0" y1="4" x2="8" y2="4" stroke="currentColor" stroke-width="2"/>"#,
        r#"<path d="M0 0L8 8M8 0L0 8" stroke="currentColor" stroke-width="1.5"/>"#,
        "",
    ];
    for (i, shape) in shapes.iter().enumerate() {
        let turn = if i == 1 {
            r#" patternTransform="rotate(45)""#
        } else {
            ""
        };
        let _ = write!(
            o,
            r#"<pattern id="{id}-p{i}" width="8" height="8" patternUnits="userSpaceOnUse"{turn}>{shape}</pattern>"#
        );
    }
    o.push_str("</defs>");
    o
}

impl StackedChart {
    pub fn svg(&self) -> String {
        let totals: Vec<u64> = (0..self.columns.len())
            .map(|c| {
                self.series
                    .iter()
                    .map(|s| s.1.get(c).copied().unwrap_or(0))
                    .sum()
            })
            .collect();
        let max = totals.iter().copied().max().unwrap_or(0).max(1);
        // Counts: whole-number ticks only (0, 0.5, 1 would say half an
        // engagement).
        let mut yt: Vec<f64> = ticks(0.0, max as f64, 4)
            .into_iter()
            .filter(|t| t.fract() == 0.0)
            .collect();
        if yt.len() < 2 {
            yt = vec![0.0, max as f64];
        }
        let top = yt[yt.len() - 1];
        let (left, right, plot_top, plot_bottom) = (56.0, WIDTH - 12.0, TOP, 200.0);
        let ys = Scale::new((0.0, top), (plot_bottom, plot_top));
        // One key row per series, below the axis labels.
        let key_top = plot_bottom + 40.0;
        let height = key_top + 24.0 * self.series.len() as f64 + 4.0;
        let mut o = opening(&self.id, &self.title, &self.desc, height);
        o.push_str(&pattern_defs(&self.id));
        y_axis(&mut o, &self.y_title, &yt, &ys, (left, right), &|t| {
            t.to_string()
        });
        let n = self.columns.len().max(1) as f64;
        let slot = (right - left) / n;
        // Columns no wider than a finger, however few.
        let width = (slot * 0.7).clamp(1.0, 44.0);
        // The first and last columns' labels: more would crowd a phone.
        let last = self.columns.len().saturating_sub(1);
        for (i, label) in self.columns.iter().enumerate() {
            if i != 0 && i != last {
                continue;
            }
            let x = left + slot * (i as f64 + 0.5);
            let anchor = if self.columns.len() == 1 {
                "middle"
            } else if i == 0 {
                "start"
            } else {
                "end"
            };
            let tx = if anchor == "start" {
                x - width / 2.0
            } else if anchor == "end" {
                x + width / 2.0
            } else {
                x
            };
            let _ = write!(
                o,
                r#"<text x="{tx}" y="{ty}" text-anchor="{anchor}" stroke="none">{label}</text>"#,
                tx = at(tx),
                ty = at(plot_bottom + 22.0),
                label = escape(label),
            );
        }
        let _ = write!(
            o,
            r#"<line x1="{l}" x2="{r}" y1="{b}" y2="{b}"/></g><g class="chart-series" stroke="currentColor" stroke-width="1">"#,
            l = at(left),
            r = at(right),
            b = at(plot_bottom),
        );
        let id = escape(&self.id);
        for c in 0..self.columns.len() {
            let x = left + slot * c as f64 + (slot - width) / 2.0;
            let mut base = 0u64;
            for (k, (_, counts)) in self.series.iter().enumerate() {
                let v = counts.get(c).copied().unwrap_or(0);
                if v == 0 {
                    continue;
                }
                let (y0, y1) = (ys.map(base as f64), ys.map((base + v) as f64));
                let _ = write!(
                    o,
                    r#"<rect x="{x}" y="{y}" width="{w}" height="{h}" fill="url(#{id}-p{p})"/>"#,
                    x = at(x),
                    y = at(y1),
                    w = at(width),
                    h = at(y0 - y1),
                    p = k % PATTERNS,
                );
                base += v;
            }
        }
        o.push_str(r#"</g><g class="chart-key" font-size="16" fill="currentColor">"#);
        for (k, (name, _)) in self.series.iter().enumerate() {
            let y = key_top + 24.0 * k as f64;
            let _ = write!(
                o,
                r#"<rect x="16" y="{y}" width="18" height="18" fill="url(#{id}-p{p})" stroke="currentColor"/><text x="44" y="{ty}">{name}</text>"#,
                y = at(y),
                ty = at(y + 14.0),
                p = k % PATTERNS,
                name = escape(name),
            );
        }
        o.push_str("</g></svg>");
        o
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    proptest! {
        #[test]
        fn a_scale_maps_its_domain_onto_its_range(
            a in -1e9f64..1e9, b in -1e9f64..1e9, r0 in 0f64..1000.0, r1 in 0f64..1000.0, t in 0f64..=1.0,
        ) {
            let s = Scale::new((a, b), (r0, r1));
            let (d0, d1) = s.domain;
            prop_assert!(d0 < d1);
            prop_assert!((s.map(d0) - r0).abs() < 1e-6);
            prop_assert!((s.map(d1) - r1).abs() < 1e-6);
            // Monotone, and a point between maps between.
            let v = d0 + t * (d1 - d0);
            let m = s.map(v);
            prop_assert!(m >= r0.min(r1) - 1e-6 && m <= r0.max(r1) + 1e-6);
        }

        #[test]
        fn ticks_cover_the_data_evenly_and_roundly(
            lo in -1e9f64..1e9, span in 0f64..1e9, count in 1usize..10,
        ) {
            let hi = lo + span;
            let t = ticks(lo, hi, count);
            prop_assert!(t.len() >= 2);
            prop_assert!(t.len() <= 2 * count + 2);
            prop_assert!(t[0] <= lo + 1e-6 * lo.abs().max(1.0));
            prop_assert!(*t.last().unwrap() >= hi - 1e-6 * hi.abs().max(1.0));
            let step = t.get(1).map_or(1.0, |b| b - t[0]);
            prop_assert!(step > 0.0);
            // 1, 2 or 5 times a power of ten.
            let m = step / 10f64.powf(step.log10().floor());
            prop_assert!([1.0, 2.0, 5.0, 10.0].iter().any(|n| (m - n).abs() < 1e-6), "step {}", step);
            for w in t.windows(2) {
                prop_assert!(((w[1] - w[0]) - step).abs() <= 1e-6 * step.max(1.0));
            }
        }
    }

    #[test]
    fn ticks_of_common_ranges() {
        assert_eq!(
            ticks(0.0, 100.0, 5),
            vec![0.0, 20.0, 40.0, 60.0, 80.0, 100.0]
        );
        assert_eq!(ticks(47.0, 103.0, 5), vec![40.0, 60.0, 80.0, 100.0, 120.0]);
        assert_eq!(ticks(0.1, 0.3, 2), vec![0.1, 0.2, 0.3]);
        let one = ticks(5.0, 5.0, 5);
        assert!(
            one.contains(&5.0) && one[0] < 5.0 && one[one.len() - 1] > 5.0,
            "{one:?}"
        );
        assert_eq!(ticks(f64::NAN, 1.0, 5), vec![0.0]);
    }

    #[test]
    fn the_svg_says_what_it_shows() {
        let x = |v: f64| format!("day {v}");
        let y = |v: f64| format!("{v} h");
        let chart = LineChart {
            id: "b1".into(),
            title: "Hours on patching <per month>".into(),
            desc: "From 100 hours to 70 & falling".into(),
            series: vec![
                Series {
                    name: "Readings".into(),
                    style: Style::Measured,
                    points: vec![(0.0, 100.0), (30.0, 80.0), (60.0, 70.0)],
                },
                Series {
                    name: "Target".into(),
                    style: Style::Target,
                    points: vec![(0.0, 50.0), (90.0, 50.0)],
                },
                Series {
                    name: "Trend".into(),
                    style: Style::Projected,
                    points: vec![(60.0, 70.0), (90.0, 55.0)],
                },
            ],
            x_label: &x,
            y_label: &y,
            y_title: "hours".into(),
            y_range: None,
        };
        let svg = chart.svg();
        assert!(
            svg.starts_with(r#"<svg class="chart" role="img" aria-labelledby="b1-title b1-desc""#)
        );
        assert!(svg.contains("<title id=\"b1-title\">Hours on patching &lt;per month&gt;</title>"));
        assert!(svg.contains("70 &amp; falling"));
        insta::assert_snapshot!(svg);
    }

    #[test]
    fn an_empty_chart_still_draws() {
        let f = |v: f64| v.to_string();
        let svg = LineChart {
            id: "e".into(),
            title: "Nothing".into(),
            desc: "No data yet".into(),
            series: Vec::new(),
            x_label: &f,
            y_label: &f,
            y_title: String::new(),
            y_range: None,
        }
        .svg();
        assert!(svg.ends_with("</svg>"));
        assert!(!svg.contains("NaN"));
        // A measure with a range of its own keeps it, whatever the data.
        let nps = LineChart {
            id: "n".into(),
            title: "Scores".into(),
            desc: "One survey".into(),
            series: vec![Series {
                name: "Net Promoter Score".into(),
                style: Style::Measured,
                points: vec![(1.0, -33.0)],
            }],
            x_label: &f,
            y_label: &f,
            y_title: String::new(),
            y_range: Some((-100.0, 100.0)),
        }
        .svg();
        assert!(
            nps.contains(">-100</text>") && nps.contains(">100</text>"),
            "{nps}"
        );
    }

    #[test]
    fn bars_say_what_they_show_and_keep_long_labels_short() {
        let chart = BarChart {
            id: "q1".into(),
            title: "Which services <have you used>?".into(),
            desc: "Portal 3, articles 0".into(),
            bars: vec![
                ("Community portal".into(), 3),
                ("Knowledge articles".into(), 0),
                (
                    "A choice far too long to draw whole on a phone's narrow screen".into(),
                    1,
                ),
            ],
        };
        let svg = chart.svg();
        assert!(
            svg.contains("<title id=\"q1-title\">Which services &lt;have you used&gt;?</title>")
        );
        assert!(svg.contains("A choice far too long to draw whol…"));
        assert!(!svg.contains("narrow screen"));
        insta::assert_snapshot!(svg);
    }

    #[test]
    fn a_scale_s_numbers_sit_beside_their_bars() {
        let bars: Vec<(String, u64)> = (0..=10).map(|v| (v.to_string(), v % 3)).collect();
        let svg = BarChart {
            id: "nps".into(),
            title: "Likely to recommend".into(),
            desc: "0 to 10".into(),
            bars,
        }
        .svg();
        assert!(svg.contains(r#"viewBox="0 0 360 298""#), "{svg}");
        assert!(
            svg.contains(r#"<text x="34" y="20" text-anchor="end">0</text>"#),
            "{svg}"
        );
    }

    #[test]
    fn stacked_columns_name_each_series_by_pattern() {
        let chart = StackedChart {
            id: "stages".into(),
            title: "Engagements by stage <over> time".into(),
            desc: "At the end of each month.".into(),
            columns: vec!["2027-01".into(), "2027-02".into(), "2027-03".into()],
            series: vec![
                ("Engagement".into(), vec![3, 2, 0]),
                ("Discovery".into(), vec![0, 4, 5]),
            ],
            y_title: "Engagements".into(),
        };
        let svg = chart.svg();
        assert!(svg.contains("&lt;over&gt;"));
        // Four segments (zeros are not drawn), and a key of two.
        assert_eq!(svg.matches("fill=\"url(#stages-p").count(), 4 + 2);
        insta::assert_snapshot!(svg);
        let empty = StackedChart {
            columns: Vec::new(),
            series: Vec::new(),
            ..chart
        }
        .svg();
        assert!(empty.starts_with("<svg") && empty.ends_with("</svg>"));
    }

    #[test]
    fn bars_with_no_counts_still_draw() {
        let svg = BarChart {
            id: "e".into(),
            title: "Nothing".into(),
            desc: "No answers yet".into(),
            bars: Vec::new(),
        }
        .svg();
        assert!(svg.ends_with("</svg>") && !svg.contains("NaN"));
    }
}
