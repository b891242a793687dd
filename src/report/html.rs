//! The usage report as one self-contained HTML dashboard: headline tiles and the 7-day
//! trends on top, then each report with its charts (inline SVG drawn by `charts-rs`, a
//! day × hour heatmap as a shaded table) before its tables; tables longer than
//! [`FOLD_ROWS`] rows (or charted ones longer than [`FOLD_CHARTED`]) are folded in a
//! `<details>`, nothing dropped. Charts are built from the same record batches as the
//! tables, so their numbers are the tables'. Nothing is loaded over the network.

use std::fmt::Write as _;

use charts_rs::{BarChart, HorizontalBarChart, LineChart, Series};
use datafusion::arrow::array::RecordBatch;
use datafusion::arrow::util::display::{ArrayFormatter, FormatOptions};

use super::{ChartKind, ChartSpec, ReportResult, SectionResult};

use crate::render::html_escape as esc;

/// Every cell of a column as text (nulls as "").
fn column_text(batches: &[RecordBatch], name: &str) -> Option<Vec<String>> {
    let opts = FormatOptions::default().with_null("");
    let mut out = Vec::new();
    for b in batches {
        let idx = b.schema().index_of(name).ok()?;
        let f = ArrayFormatter::try_new(b.column(idx).as_ref(), &opts).ok()?;
        out.extend((0..b.num_rows()).map(|i| f.value(i).to_string()));
    }
    Some(out)
}

/// Every cell of a numeric column as f32 (nulls and non-numbers as None).
fn column_numbers(batches: &[RecordBatch], name: &str) -> Option<Vec<Option<f32>>> {
    Some(
        column_text(batches, name)?
            .iter()
            .map(|s| s.parse::<f32>().ok())
            .collect(),
    )
}

/// A chart's named series of values, one per category (None where there is no value).
pub type ChartSeries = Vec<(String, Vec<Option<f32>>)>;

/// The categories and series a chart shows, straight from the result.
pub fn chart_data(s: &SectionResult, spec: &ChartSpec) -> Option<(Vec<String>, ChartSeries)> {
    let x = column_text(&s.batches, &spec.x)?;
    match &spec.by {
        None => {
            let series = spec
                .y
                .iter()
                .map(|y| Some((y.clone(), column_numbers(&s.batches, y)?)))
                .collect::<Option<Vec<_>>>()?;
            Some((x, series))
        }
        Some(by) => {
            // One series per value of `by`; categories in order of first appearance.
            let keys = column_text(&s.batches, by)?;
            let vals = column_numbers(&s.batches, spec.y.first()?)?;
            let mut cats: Vec<String> = Vec::new();
            let mut names: Vec<String> = Vec::new();
            for (c, k) in x.iter().zip(&keys) {
                if !cats.contains(c) {
                    cats.push(c.clone());
                }
                if !names.contains(k) {
                    names.push(k.clone());
                }
            }
            let mut series: ChartSeries = names
                .iter()
                .map(|n| (n.clone(), vec![None; cats.len()]))
                .collect();
            for ((c, k), v) in x.iter().zip(&keys).zip(vals) {
                let ci = cats.iter().position(|x| x == c)?;
                let si = names.iter().position(|x| x == k)?;
                series[si].1[ci] = v;
            }
            Some((cats, series))
        }
    }
}

/// A y axis from 0 to a round maximum with whole-number steps (counts read badly as 0.9,
/// 1.8, ...), titled with what it measures.
fn y_axis(
    series: &ChartSeries,
    base: &charts_rs::YAxisConfig,
    title: String,
) -> charts_rs::YAxisConfig {
    let max = series
        .iter()
        .flat_map(|(_, v)| v.iter().flatten())
        .fold(0f32, |m, x| m.max(*x));
    let raw = (max / 5.0).max(1.0);
    let magnitude = 10f32.powf(raw.log10().floor());
    let step = [1.0, 2.0, 5.0, 10.0]
        .into_iter()
        .map(|m| m * magnitude)
        .find(|s| *s >= raw)
        .unwrap_or(raw);
    let top = ((max / step).ceil() * step).max(step);
    let mut cfg = base.clone();
    cfg.min = Some(0.0);
    cfg.max = Some(top);
    cfg.split_number = (top / step).round().max(1.0) as usize;
    cfg.title = Some(title);
    cfg
}

/// Tables with more rows than this are folded.
pub const FOLD_ROWS: usize = 25;
/// Tables under a chart with more rows than this are folded (the chart shows them).
pub const FOLD_CHARTED: usize = 12;

/// The section's chart as an SVG element, or None when there is nothing to draw (or the
/// section is drawn another way: tiles, trends and heatmaps).
pub fn chart_svg(s: &SectionResult, spec: &ChartSpec) -> Option<String> {
    if matches!(
        spec.kind,
        ChartKind::Heatmap | ChartKind::Tiles | ChartKind::Trend
    ) {
        return None;
    }
    let (mut cats, mut series) = chart_data(s, spec)?;
    if cats.is_empty() {
        return None;
    }
    if spec.kind == ChartKind::HBar {
        // Horizontal bars are drawn bottom-up: reverse so the first row is on top.
        cats.reverse();
        for (_, v) in series.iter_mut() {
            v.reverse();
        }
    }
    let y_title = match &spec.by {
        Some(by) => format!("{} by {by}", spec.y.join(", ")),
        None => spec.y.join(", "),
    };
    let integral = series
        .iter()
        .flat_map(|(_, v)| v.iter().flatten())
        .all(|x| x.fract() == 0.0);
    let axis = |c: &[charts_rs::YAxisConfig]| -> Vec<charts_rs::YAxisConfig> {
        match c.first() {
            Some(base) if integral => vec![y_axis(&series, base, y_title.clone())],
            _ => c.to_vec(),
        }
    };
    let list: Vec<Series> = series
        .iter()
        .cloned()
        .map(|(name, data)| Series {
            name,
            data,
            ..Default::default()
        })
        .collect();
    let height = if spec.kind == ChartKind::HBar {
        (80 + 28 * cats.len()).clamp(200, 900) as f32
    } else {
        340.0
    };
    // The three chart types share the sizing; bars and lines also get the count axis.
    macro_rules! draw {
        ($chart:expr, $y_axis:expr) => {{
            let mut c = $chart;
            c.base.width = 760.0;
            c.base.height = height;
            if $y_axis {
                c.y_axis_configs = axis(&c.y_axis_configs);
            }
            c.svg()
        }};
    }
    let svg = match spec.kind {
        ChartKind::Line => draw!(LineChart::new(list, cats), true),
        ChartKind::Bar => draw!(BarChart::new(list, cats), true),
        ChartKind::HBar => {
            let mut c = HorizontalBarChart::new(list, cats);
            c.base.width = 760.0;
            c.base.height = height;
            c.svg()
        }
        ChartKind::Heatmap | ChartKind::Tiles | ChartKind::Trend => return None,
    };
    svg.ok()
}

/// The report's own rules, on top of [`crate::render::page::BASE_STYLE`].
const STYLE: &str = "
.tiles{display:grid;grid-template-columns:repeat(auto-fill,minmax(150px,1fr));gap:12px;margin:16px 0}
.tile{background:#fff;border:1px solid #d0d7de;border-radius:8px;padding:10px 14px}
.tile .label{color:#57606a;font-size:12px;text-transform:uppercase;letter-spacing:.03em}
.tile .value{font-size:24px;font-weight:600;font-variant-numeric:tabular-nums;margin-top:2px}
.tile .delta{font-size:13px;margin-top:2px;color:#57606a}
.up{color:#1a7f37}.down{color:#cf222e}
details{margin:6px 0}
summary{cursor:pointer;color:#0550ae}
table.heat td.num{min-width:22px;padding:4px 6px}
@media (max-width:600px){section.report{padding:6px 12px 12px}.tile .value{font-size:20px}}
section.report{background:#fff;border:1px solid #d0d7de;border-radius:8px;padding:8px 24px 16px;margin:20px 0}
section.report h2{border-bottom:1px solid #d0d7de;padding-bottom:6px}
p.desc{color:#57606a;margin-top:-6px}
h3{margin:22px 0 8px;font-size:16px}
.chart{margin:8px 0;overflow-x:auto}
.empty{color:#57606a;font-style:italic}
";

/// Rows of a section.
fn row_count(s: &SectionResult) -> usize {
    s.batches.iter().map(|b| b.num_rows()).sum()
}

/// Whether the section's table is folded behind a click.
pub fn folded(s: &SectionResult) -> bool {
    let rows = row_count(s);
    let charted = s.chart.as_ref().is_some_and(|c| {
        !matches!(
            c.kind,
            ChartKind::Heatmap | ChartKind::Tiles | ChartKind::Trend
        )
    });
    rows > FOLD_ROWS || (charted && rows > FOLD_CHARTED)
}

/// Where a table cell links to, from its column name, its text and the row's cells (name,
/// text); `None` leaves it plain. `chatql serve` links report rows to its filtered list.
pub type CellLink<'a> = &'a dyn Fn(&str, &str, &[(&str, String)]) -> Option<String>;

fn table_html(s: &SectionResult, out: &mut String, link: CellLink) {
    let rows = row_count(s);
    if rows == 0 {
        out.push_str("<p class=\"empty\">No rows.</p>\n");
        return;
    }
    let fold = folded(s);
    if fold {
        let _ = writeln!(
            out,
            "<details><summary>Show the table ({rows} rows)</summary>"
        );
    }
    let heat = s
        .chart
        .as_ref()
        .is_some_and(|c| c.kind == ChartKind::Heatmap);
    // Heatmap cells are shaded by their share of the largest cell.
    let max = if heat {
        s.schema
            .fields()
            .iter()
            .skip(1)
            .filter_map(|f| column_numbers(&s.batches, f.name()))
            .flatten()
            .flatten()
            .fold(0f32, f32::max) as f64
    } else {
        0.0
    };
    let opts = FormatOptions::default().with_null("");
    out.push_str(if heat {
        "<div class=\"scroll\"><table class=\"heat\">\n<thead><tr>"
    } else {
        "<div class=\"scroll\"><table>\n<thead><tr>"
    });
    for f in s.schema.fields() {
        let _ = write!(out, "<th>{}</th>", esc(f.name()));
    }
    out.push_str("</tr></thead>\n<tbody>\n");
    for b in &s.batches {
        let Ok(fmts) = crate::render::formatters(b, &opts) else {
            out.push_str("</tbody></table>\n<p class=\"empty\">A column cannot be shown.</p>\n");
            return;
        };
        let names: Vec<&str> = s
            .schema
            .fields()
            .iter()
            .map(|f| f.name().as_str())
            .collect();
        for i in 0..b.num_rows() {
            out.push_str("<tr>");
            let cells: Vec<(&str, String)> = names
                .iter()
                .zip(&fmts)
                .map(|(n, f)| (*n, f.value(i).to_string()))
                .collect();
            for (col, (name, text)) in b.columns().iter().zip(&cells) {
                let numeric = col.data_type().is_numeric();
                let shade = match text.parse::<f64>() {
                    Ok(v) if heat && numeric && max > 0.0 && v > 0.0 => format!(
                        " style=\"background:rgba(5,80,174,{:.2});color:{}\"",
                        0.12 + 0.88 * v / max,
                        if v / max > 0.5 { "#fff" } else { "#1f2328" }
                    ),
                    _ => String::new(),
                };
                let shown = match link(name, text, &cells) {
                    Some(url) => format!("<a href=\"{}\">{}</a>", esc(&url), esc(text)),
                    None => esc(text),
                };
                let _ = write!(
                    out,
                    "<td{}{shade}>{shown}</td>",
                    if numeric { " class=\"num\"" } else { "" },
                );
            }
            out.push_str("</tr>\n");
        }
    }
    out.push_str("</tbody></table></div>\n");
    if fold {
        out.push_str("</details>\n");
    }
}

/// Cells of a one-row section by column name, as text.
fn first_row(s: &SectionResult) -> Vec<(String, String)> {
    s.schema
        .fields()
        .iter()
        .filter_map(|f| {
            let v = column_text(&s.batches, f.name())?.into_iter().next()?;
            Some((f.name().replace('_', " "), v))
        })
        .collect()
}

/// Headline tiles (`tiles`: one per column) or trend tiles (`trend X`: one per row).
fn tiles_html(s: &SectionResult, spec: &ChartSpec, out: &mut String) {
    out.push_str("<div class=\"tiles\">");
    if spec.kind == ChartKind::Tiles {
        for (label, value) in first_row(s) {
            let _ = write!(
                out,
                "<div class=\"tile\"><div class=\"label\">{}</div><div class=\"value\">{}</div></div>",
                esc(&label),
                esc(&value)
            );
        }
    } else {
        let col = |n: &str| column_text(&s.batches, n).unwrap_or_default();
        let (names, last, prev, change) = (
            col(&spec.x),
            col("last_7_days"),
            col("previous_7_days"),
            col("change_pct"),
        );
        for (i, name) in names.iter().enumerate() {
            let get = |v: &Vec<String>| v.get(i).cloned().unwrap_or_default();
            let delta = get(&change);
            let class = match delta.parse::<f64>() {
                Ok(d) if d > 0.0 => "up",
                Ok(d) if d < 0.0 => "down",
                _ => "",
            };
            let shown = match delta.parse::<f64>() {
                Ok(d) => format!("{}{d}% vs {}", if d > 0.0 { "+" } else { "" }, get(&prev)),
                Err(_) => format!("vs {} the 7 days before", get(&prev)),
            };
            let _ = write!(
                out,
                "<div class=\"tile\"><div class=\"label\">{} · last 7 days</div><div class=\"value\">{}</div><div class=\"delta {class}\">{}</div></div>",
                esc(name),
                esc(&get(&last)),
                esc(&shown)
            );
        }
    }
    out.push_str("</div>\n");
}

/// The whole page.
pub fn report_page(results: &[ReportResult], subtitle: &str) -> String {
    report_page_linked(results, subtitle, &|_, _, _| None, None)
}

/// [`report_page`] with table cells linked by `link`, and `home` (the app's question list)
/// first in the navigation.
pub fn report_page_linked(
    results: &[ReportResult],
    subtitle: &str,
    link: CellLink,
    home: Option<&str>,
) -> String {
    let mut out = String::with_capacity(64 << 10);
    out.push_str(&crate::render::page::head(
        "chatql usage report",
        "Usage report",
        subtitle,
        STYLE,
    ));
    out.push_str("<nav>");
    if let Some(h) = home {
        let _ = write!(out, "<a href=\"{}\">\u{2190} Questions</a>", esc(h));
    }
    for r in results {
        let _ = write!(out, "<a href=\"#{}\">{}</a>", esc(&r.name), esc(&r.title));
    }
    out.push_str("</nav>\n<main>\n");
    for r in results {
        for s in &r.sections {
            if let Some(spec) = s.chart.as_ref().filter(|c| {
                matches!(c.kind, ChartKind::Tiles | ChartKind::Trend) && row_count(s) > 0
            }) {
                tiles_html(s, spec, &mut out);
            }
        }
    }
    for r in results {
        let _ = write!(
            out,
            "<section class=\"report\" id=\"{}\">\n<h2>{}</h2>\n<p class=\"desc\">{}</p>\n",
            esc(&r.name),
            esc(&r.title),
            esc(&r.description)
        );
        for s in &r.sections {
            let _ = writeln!(out, "<h3>{}</h3>", esc(&s.title));
            if let Some(spec) = &s.chart {
                if let Some(svg) = chart_svg(s, spec) {
                    let _ = writeln!(out, "<div class=\"chart\">{svg}</div>");
                }
            }
            table_html(s, &mut out, link);
        }
        out.push_str("</section>\n");
    }
    out.push_str("</main>\n<footer style=\"padding:0 32px 24px;color:#57606a;font-size:12px\">");
    let _ = write!(out, "Made by chatql {}.", env!("CARGO_PKG_VERSION"));
    out.push_str("</footer>\n</body></html>\n");
    out
}
