//! A convergence run drawn as an SVG: applied, created and Ready objects and the operator's
//! RSS over time, with the two floors as vertical lines, so a reader sees where the time
//! went without reading the table.

use std::fmt::Write;

use crate::floors::Floors;

/// One reading while converging.
#[derive(Debug, Clone, Copy)]
pub struct Sample {
    /// Seconds since the apply began.
    pub at: f64,
    pub applied: f64,
    pub created: f64,
    pub ready: f64,
    /// Every replica's RSS added up.
    pub rss_mib: f64,
}

const WIDTH: f64 = 900.0;
const HEIGHT: f64 = 420.0;
const LEFT: f64 = 70.0;
const RIGHT: f64 = 70.0;
const TOP: f64 = 40.0;
const BOTTOM: f64 = 50.0;
/// More points than this are thinned out evenly: the chart is read, not zoomed.
const MAX_POINTS: usize = 600;

/// Where a series is drawn and how.
struct Line {
    label: &'static str,
    colour: &'static str,
    dashed: bool,
    /// Against the right-hand (MiB) axis.
    right: bool,
    value: fn(&Sample) -> f64,
}

const LINES: [Line; 4] = [
    Line {
        label: "applied",
        colour: "#888888",
        dashed: false,
        right: false,
        value: |s| s.applied,
    },
    Line {
        label: "created at AWS",
        colour: "#1f77b4",
        dashed: false,
        right: false,
        value: |s| s.created,
    },
    Line {
        label: "Ready",
        colour: "#2ca02c",
        dashed: false,
        right: false,
        value: |s| s.ready,
    },
    Line {
        label: "operator RSS (MiB, right)",
        colour: "#d62728",
        dashed: true,
        right: true,
        value: |s| s.rss_mib,
    },
];

/// The SVG of a run of `objects` objects.
pub fn svg(title: &str, objects: usize, samples: &[Sample], floors: &Floors) -> String {
    let last = samples.last().map_or(1.0, |s| s.at);
    let x_max = nice(last.max(floors.binding().as_secs_f64() * 1.05));
    let y_max = nice(objects as f64);
    let rss_max = nice(samples.iter().map(|s| s.rss_mib).fold(1.0, f64::max) * 1.1);
    let plot_w = WIDTH - LEFT - RIGHT;
    let plot_h = HEIGHT - TOP - BOTTOM;
    let x = |t: f64| LEFT + t / x_max * plot_w;
    let y = |v: f64, max: f64| TOP + plot_h - v / max * plot_h;

    let mut out = String::new();
    let _ = writeln!(
        out,
        r#"<svg xmlns="http://www.w3.org/2000/svg" width="{WIDTH}" height="{HEIGHT}" viewBox="0 0 {WIDTH} {HEIGHT}" font-family="sans-serif" font-size="12">"#
    );
    let _ = writeln!(
        out,
        r#"<rect width="{WIDTH}" height="{HEIGHT}" fill="white"/>"#
    );
    let _ = writeln!(
        out,
        r#"<text x="{}" y="20" text-anchor="middle" font-size="14">{}</text>"#,
        WIDTH / 2.0,
        escape(title)
    );
    axes(&mut out, x_max, y_max, rss_max, &x, &y);
    for (floor, label) in [
        (floors.quota, "AWS quota floor"),
        (floors.apiserver(), "API server floor"),
    ] {
        let fx = x(floor.as_secs_f64());
        let _ = writeln!(
            out,
            r##"<line x1="{fx:.1}" y1="{TOP}" x2="{fx:.1}" y2="{:.1}" stroke="#444444" stroke-dasharray="2,3"/>"##,
            TOP + plot_h
        );
        let _ = writeln!(
            out,
            r##"<text x="{:.1}" y="{:.1}" fill="#444444" transform="rotate(-90 {:.1} {:.1})">{label}</text>"##,
            fx - 4.0,
            TOP + plot_h - 4.0,
            fx - 4.0,
            TOP + plot_h - 4.0,
        );
    }
    let stride = samples.len().div_ceil(MAX_POINTS).max(1);
    for (i, line) in LINES.iter().enumerate() {
        let max = if line.right { rss_max } else { y_max };
        let points: Vec<String> = samples
            .iter()
            .step_by(stride)
            .chain(samples.last())
            .map(|s| format!("{:.1},{:.1}", x(s.at), y((line.value)(s), max)))
            .collect();
        let dash = if line.dashed {
            r#" stroke-dasharray="6,3""#
        } else {
            ""
        };
        let _ = writeln!(
            out,
            r#"<polyline fill="none" stroke="{}" stroke-width="1.5"{dash} points="{}"/>"#,
            line.colour,
            points.join(" ")
        );
        // The legend, top left inside the plot.
        let ly = TOP + 14.0 + i as f64 * 16.0;
        let _ = writeln!(
            out,
            r#"<line x1="{:.1}" y1="{ly:.1}" x2="{:.1}" y2="{ly:.1}" stroke="{}" stroke-width="2"{dash}/><text x="{:.1}" y="{:.1}">{}</text>"#,
            LEFT + 10.0,
            LEFT + 34.0,
            line.colour,
            LEFT + 40.0,
            ly + 4.0,
            line.label
        );
    }
    out.push_str("</svg>\n");
    out
}

/// Axes, ticks and their labels: seconds along the bottom, objects on the left, MiB on
/// the right.
fn axes(
    out: &mut String,
    x_max: f64,
    y_max: f64,
    rss_max: f64,
    x: &dyn Fn(f64) -> f64,
    y: &dyn Fn(f64, f64) -> f64,
) {
    let bottom = y(0.0, 1.0);
    let right = x(x_max);
    let _ = writeln!(
        out,
        r##"<path d="M{LEFT},{TOP} V{bottom:.1} H{right:.1} V{TOP}" fill="none" stroke="#000000"/>"##
    );
    for i in 0..=5 {
        let f = f64::from(i) / 5.0;
        let (tx, ty) = (x(x_max * f), y(y_max * f, y_max));
        let _ = writeln!(
            out,
            r##"<line x1="{tx:.1}" y1="{bottom:.1}" x2="{tx:.1}" y2="{:.1}" stroke="#000000"/><text x="{tx:.1}" y="{:.1}" text-anchor="middle">{}</text>"##,
            bottom + 5.0,
            bottom + 18.0,
            trim(x_max * f)
        );
        let _ = writeln!(
            out,
            r##"<line x1="{LEFT}" y1="{ty:.1}" x2="{right:.1}" y2="{ty:.1}" stroke="#eeeeee"/><text x="{:.1}" y="{:.1}" text-anchor="end">{}</text><text x="{:.1}" y="{:.1}" fill="#d62728">{}</text>"##,
            LEFT - 6.0,
            ty + 4.0,
            trim(y_max * f),
            right + 6.0,
            ty + 4.0,
            trim(rss_max * f)
        );
    }
    let _ = writeln!(
        out,
        r#"<text x="{:.1}" y="{:.1}" text-anchor="middle">seconds since the apply began</text>"#,
        (LEFT + right) / 2.0,
        bottom + 38.0
    );
}

/// The next round number at or above `v` (1, 1.5, 2, 2.5, 3, 4, 5, 6 or 8 times a power of
/// ten), so the plot fills most of its width.
fn nice(v: f64) -> f64 {
    if v <= 0.0 {
        return 1.0;
    }
    let power = 10f64.powf(v.log10().floor());
    [1.0, 1.5, 2.0, 2.5, 3.0, 4.0, 5.0, 6.0, 8.0, 10.0]
        .into_iter()
        .map(|m| m * power)
        .find(|&n| n >= v)
        .unwrap_or(10.0 * power)
}

/// `2000.0` → `2000`, `2.5` → `2.5`.
fn trim(v: f64) -> String {
    if (v - v.round()).abs() < 1e-9 {
        format!("{}", v.round() as i64)
    } else {
        format!("{v:.1}")
    }
}

fn escape(text: &str) -> String {
    text.replace('&', "&amp;")
        .replace('<', "&lt;")
        .replace('>', "&gt;")
}
