//! The topic map as one self-contained page: a 2D map of the questions (inline SVG: each
//! question a dot coloured by its topic, the topic's number and first term at its centre),
//! the topic table, and per topic its months, documents and representative questions.
//! Nothing is loaded over the network.

use std::fmt::Write as _;

use super::TopicMap;
use crate::render::html_escape as esc;

/// Twelve colours distinguishable on white (Tableau 10 and two more); topics beyond twelve
/// reuse them.
const COLOURS: [&str; 12] = [
    "#4e79a7", "#f28e2b", "#e15759", "#76b7b2", "#59a14f", "#edc948", "#b07aa1", "#ff9da7",
    "#9c755f", "#bab0ac", "#1b9e77", "#7570b3",
];

/// The map's own rules, on top of [`crate::render::page::BASE_STYLE`].
const STYLE: &str = "
section{background:#fff;border:1px solid #d0d7de;border-radius:8px;padding:8px 24px 16px;margin:20px 0}
h2{font-size:18px;border-bottom:1px solid #d0d7de;padding-bottom:6px}
svg{width:100%;height:auto;max-width:900px;display:block}
svg text{font-size:18px;font-weight:600;paint-order:stroke;stroke:#fff;stroke-width:4px}
.legend{display:flex;flex-wrap:wrap;gap:4px 18px;margin:8px 0;font-size:14px;padding:0;list-style:none}
td.num{white-space:nowrap}
.swatch{display:inline-block;width:10px;height:10px;border-radius:5px;margin-right:6px}
.topic h3{margin:18px 0 6px;font-size:16px}
.topic ol{margin:4px 0 8px;padding-left:22px}
.meta{color:#57606a;font-size:13px}
.notes{color:#57606a;font-size:14px}
@media (max-width:600px){section{padding:6px 12px 12px}}
";

fn colour(t: usize) -> &'static str {
    COLOURS[t % COLOURS.len()]
}

/// The map as SVG, scaled into a 900 × 520 box with a margin.
fn map_svg(m: &TopicMap) -> String {
    let (w, h, pad) = (900.0f32, 520.0f32, 40.0f32);
    let xs = m.points.iter().map(|p| p.0);
    let ys = m.points.iter().map(|p| p.1);
    let (x0, x1) = (
        xs.clone().fold(f32::MAX, f32::min),
        xs.fold(f32::MIN, f32::max),
    );
    let (y0, y1) = (
        ys.clone().fold(f32::MAX, f32::min),
        ys.fold(f32::MIN, f32::max),
    );
    let sx = |x: f32| pad + (x - x0) / (x1 - x0).max(1e-6) * (w - 2.0 * pad);
    let sy = |y: f32| h - pad - (y - y0) / (y1 - y0).max(1e-6) * (h - 2.0 * pad);
    let mut out = String::new();
    let _ = write!(
        out,
        "<svg viewBox=\"0 0 {w} {h}\" role=\"img\" aria-label=\"map of the questions by topic\">\
         <rect width=\"{w}\" height=\"{h}\" fill=\"#fff\"/>"
    );
    for &(x, y, t) in &m.points {
        let _ = write!(
            out,
            "<circle cx=\"{:.1}\" cy=\"{:.1}\" r=\"3.5\" fill=\"{}\" fill-opacity=\"0.7\"/>",
            sx(x),
            sy(y),
            colour(t)
        );
    }
    for (t, topic) in m.topics.iter().enumerate() {
        let first = topic.label.split(", ").next().unwrap_or("");
        let (x, y) = (sx(topic.centre.0), sy(topic.centre.1));
        let anchor = if x > w * 0.75 {
            "end"
        } else if x < w * 0.25 {
            "start"
        } else {
            "middle"
        };
        let _ = write!(
            out,
            "<text x=\"{x:.1}\" y=\"{y:.1}\" text-anchor=\"{anchor}\" fill=\"{}\">{} {}</text>",
            colour(t),
            topic.id,
            esc(first)
        );
    }
    out.push_str("</svg>");
    out
}

/// The page.
pub fn page(m: &TopicMap, subtitle: &str) -> String {
    page_linked(m, subtitle, None)
}

/// [`page`] with each topic's question count linked to `list(topic id)` (`chatql serve`'s
/// question list of that topic).
pub fn page_linked(m: &TopicMap, subtitle: &str, list: Option<&dyn Fn(usize) -> String>) -> String {
    let mut out =
        crate::render::page::head("chatql topics", "What students ask about", subtitle, STYLE);
    // Served by the app: its navigation, as on the report.
    if list.is_some() {
        out.push_str(
            "<nav><a href=\"/\">\u{2190} Questions</a><a href=\"/report\">Report</a></nav>\n",
        );
    }
    out.push_str("<main>\n");
    let _ = write!(
        out,
        "<section><h2>Map</h2><p class=\"meta\">Each dot is a distinct question ({} of {}), \
         placed by how close it is to each topic; near dots are questions about the same \
         things. Topics are numbered by size.</p>{}",
        m.points.len(),
        m.distinct,
        map_svg(m)
    );
    // The legend reads at any width, where the labels on the map may not.
    out.push_str("<ul class=\"legend\">");
    for (t, topic) in m.topics.iter().enumerate() {
        let _ = write!(
            out,
            "<li><span class=\"swatch\" style=\"background:{}\"></span>{}. {}</li>",
            colour(t),
            topic.id,
            esc(&topic.label)
        );
    }
    out.push_str("</ul>");
    for n in &m.notes {
        let _ = write!(out, "<p class=\"notes\">{}</p>", esc(n));
    }
    out.push_str(
        "</section>\n<section><h2>Topics</h2><div class=\"scroll\"><table>\
        <tr><th>topic</th><th>label</th><th>questions</th><th>share</th><th>conversations</th>\
        <th>users</th><th>rated down</th><th>most cited documents</th></tr>",
    );
    for (t, topic) in m.topics.iter().enumerate() {
        let neg = topic.negative_rate.map_or("–".to_owned(), |r| {
            format!("{:.0}% of {}", r * 100.0, topic.rated)
        });
        let docs = topic
            .documents
            .iter()
            .map(|(d, n)| format!("{} ({n})", esc(d)))
            .collect::<Vec<_>>()
            .join("<br>");
        let questions = match list {
            Some(link) => format!(
                "<a href=\"{}\" title=\"these questions\">{}</a>",
                esc(&link(topic.id)),
                topic.questions
            ),
            None => topic.questions.to_string(),
        };
        let _ = write!(
            out,
            "<tr><td class=\"num\"><span class=\"swatch\" style=\"background:{}\"></span>{}</td>\
             <td><a href=\"#topic-{}\">{}</a></td><td class=\"num\">{}</td>\
             <td class=\"num\">{:.1}%</td><td class=\"num\">{}</td><td class=\"num\">{}</td>\
             <td class=\"num\">{}</td><td>{}</td></tr>",
            colour(t),
            topic.id,
            topic.id,
            esc(&topic.label),
            questions,
            topic.share * 100.0,
            topic.conversations,
            topic.users,
            neg,
            docs
        );
    }
    out.push_str("</table></div></section>\n<section><h2>Questions by topic</h2>");
    for (t, topic) in m.topics.iter().enumerate() {
        let months = topic
            .months
            .iter()
            .map(|(m, n)| format!("{m}: {n}"))
            .collect::<Vec<_>>()
            .join(", ");
        let _ = write!(
            out,
            "<div class=\"topic\" id=\"topic-{}\"><h3><span class=\"swatch\" \
             style=\"background:{}\"></span>{}. {}</h3><p class=\"meta\">{} question(s); \
             per month: {}</p><ol>",
            topic.id,
            colour(t),
            topic.id,
            esc(&topic.label),
            topic.questions,
            esc(&months)
        );
        for q in &topic.examples {
            let _ = write!(out, "<li>{}</li>", esc(q));
        }
        out.push_str("</ol></div>");
    }
    out.push_str("</section>\n</main></body></html>\n");
    out
}
