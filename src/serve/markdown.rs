//! Markdown as the bot writes it, rendered safely: paragraphs, lists, headings, fenced code
//! blocks, `inline code`, **bold**, and links, which become links only for `http:` and
//! `https:` addresses (any other, `javascript:` first, stays text). Every text is escaped;
//! no HTML from the input is ever passed through. `<cite>n</cite>` becomes a reference to
//! context `n` of the message, and the search's words are marked.

use super::search::matches;

pub use crate::render::html_escape as esc;

/// Escaped text with the search's `terms` marked.
pub fn marked(s: &str, terms: &[String]) -> String {
    let mut out = String::with_capacity(s.len());
    let mut at = 0;
    for r in matches(s, terms) {
        out.push_str(&esc(&s[at..r.start]));
        out.push_str("<mark>");
        out.push_str(&esc(&s[r.clone()]));
        out.push_str("</mark>");
        at = r.end;
    }
    out.push_str(&esc(&s[at..]));
    out
}

/// Renders `text`; `cite` makes the anchor of context `n` (`None`: citations as text).
pub fn render(text: &str, terms: &[String], cite: Option<&dyn Fn(usize) -> String>) -> String {
    let mut out = String::new();
    let mut lines = text.lines().peekable();
    let mut para: Vec<&str> = Vec::new();
    let flush = |para: &mut Vec<&str>, out: &mut String| {
        if !para.is_empty() {
            out.push_str("<p>");
            out.push_str(&inline(&para.join("\n"), terms, cite).replace('\n', "<br>"));
            out.push_str("</p>\n");
            para.clear();
        }
    };
    while let Some(line) = lines.next() {
        let t = line.trim_start();
        if t.starts_with("```") {
            flush(&mut para, &mut out);
            let mut code = Vec::new();
            for l in lines.by_ref() {
                if l.trim_start().starts_with("```") {
                    break;
                }
                code.push(l);
            }
            out.push_str("<pre><code>");
            out.push_str(&marked(&code.join("\n"), terms));
            out.push_str("</code></pre>\n");
        } else if let Some(item) = list_item(t) {
            flush(&mut para, &mut out);
            let ordered = item.0;
            out.push_str(if ordered { "<ol>" } else { "<ul>" });
            out.push_str(&format!("<li>{}</li>", inline(item.1, terms, cite)));
            while let Some(next) = lines.peek().and_then(|l| list_item(l.trim_start())) {
                if next.0 != ordered {
                    break;
                }
                out.push_str(&format!("<li>{}</li>", inline(next.1, terms, cite)));
                lines.next();
            }
            out.push_str(if ordered { "</ol>\n" } else { "</ul>\n" });
        } else if let Some(h) = heading(t) {
            flush(&mut para, &mut out);
            out.push_str(&format!("<h4>{}</h4>\n", inline(h, terms, cite)));
        } else if t.is_empty() {
            flush(&mut para, &mut out);
        } else {
            para.push(line);
        }
    }
    flush(&mut para, &mut out);
    out
}

/// `- item`, `* item` (unordered) or `1. item` (ordered).
fn list_item(t: &str) -> Option<(bool, &str)> {
    if let Some(rest) = t.strip_prefix("- ").or_else(|| t.strip_prefix("* ")) {
        return Some((false, rest));
    }
    let digits = t.bytes().take_while(u8::is_ascii_digit).count();
    if digits > 0 && digits < 4 {
        if let Some(rest) = t[digits..].strip_prefix(". ") {
            return Some((true, rest));
        }
    }
    None
}

fn heading(t: &str) -> Option<&str> {
    let hashes = t.bytes().take_while(|b| *b == b'#').count();
    (1..=6)
        .contains(&hashes)
        .then(|| t[hashes..].strip_prefix(' '))
        .flatten()
}

/// Inline markup of one block.
fn inline(s: &str, terms: &[String], cite: Option<&dyn Fn(usize) -> String>) -> String {
    let mut out = String::new();
    let mut rest = s;
    while !rest.is_empty() {
        let next = ["`", "**", "[", "<cite>"]
            .iter()
            .filter_map(|m| rest.find(m).map(|i| (i, *m)))
            .min();
        let Some((i, m)) = next else {
            out.push_str(&marked(rest, terms));
            break;
        };
        out.push_str(&marked(&rest[..i], terms));
        let after = &rest[i + m.len()..];
        let close = match m {
            "`" => "`",
            "**" => "**",
            "<cite>" => "</cite>",
            _ => "]",
        };
        let Some(end) = after.find(close) else {
            out.push_str(&esc(m));
            rest = after;
            continue;
        };
        let inner = &after[..end];
        let mut tail = &after[end + close.len()..];
        match m {
            "`" => out.push_str(&format!("<code>{}</code>", marked(inner, terms))),
            "**" => out.push_str(&format!("<strong>{}</strong>", marked(inner, terms))),
            "<cite>" => {
                for (k, n) in inner.split(',').enumerate() {
                    let n = n.trim();
                    if k > 0 {
                        out.push(' ');
                    }
                    match (n.parse::<usize>(), cite) {
                        (Ok(n), Some(anchor)) if n > 0 => out.push_str(&format!(
                            "<a class=\"cite\" href=\"#{}\">[{n}]</a>",
                            esc(&anchor(n))
                        )),
                        _ => out.push_str(&format!("[{}]", esc(n))),
                    }
                }
            }
            _ => {
                // [text](url): a link only for http and https.
                let url = tail
                    .strip_prefix('(')
                    .and_then(|t| t.find(')').map(|e| (&t[..e], &t[e + 1..])));
                match url {
                    Some((u, t)) => {
                        let lower = u.trim().to_ascii_lowercase();
                        if lower.starts_with("http://") || lower.starts_with("https://") {
                            out.push_str(&format!(
                                "<a href=\"{}\" rel=\"noopener noreferrer nofollow\">{}</a>",
                                esc(u.trim()),
                                marked(inner, terms)
                            ));
                        } else {
                            out.push_str(&marked(&format!("{inner} ({u})"), terms));
                        }
                        tail = t;
                    }
                    None => out.push_str(&marked(&format!("[{inner}]"), terms)),
                }
            }
        }
        rest = tail;
    }
    out
}

/// A link to `url` if it is http or https, else the text escaped.
pub fn link(url: &str, text: &str) -> String {
    let lower = url.trim().to_ascii_lowercase();
    if lower.starts_with("http://") || lower.starts_with("https://") {
        format!(
            "<a href=\"{}\" rel=\"noopener noreferrer nofollow\">{}</a>",
            esc(url.trim()),
            esc(text)
        )
    } else {
        esc(text)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn markdown_is_rendered_and_nothing_else_gets_through() {
        let md = "Hello **world** and `x<y`\n\n- one\n- [two](https://ex.org/a?b=1&c=\"2\")\n\n\
                  ```\n<script>alert(1)</script>\n```\n[bad](javascript:alert(1)) <b>raw</b> \
                  <cite>2</cite>";
        let html = render(md, &["world".into()], Some(&|n| format!("m1-{n}")));
        assert!(
            html.contains(
                "<p>Hello <strong><mark>world</mark></strong> and <code>x&lt;y</code></p>"
            ),
            "{html}"
        );
        assert!(html.contains("<ul><li>one</li><li><a href=\"https://ex.org/a?b=1&amp;c=&quot;2&quot;\" rel=\"noopener noreferrer nofollow\">two</a></li></ul>"), "{html}");
        assert!(
            html.contains("<pre><code>&lt;script&gt;alert(1)&lt;/script&gt;</code></pre>"),
            "{html}"
        );
        assert!(!html.contains("href=\"javascript"), "{html}");
        assert!(html.contains("bad (javascript:alert(1))"), "{html}");
        assert!(html.contains("&lt;b&gt;raw&lt;/b&gt;"), "{html}");
        assert!(
            html.contains("<a class=\"cite\" href=\"#m1-2\">[2]</a>"),
            "{html}"
        );
        assert!(!html.contains("<script") && !html.contains("<b>"));
        assert_eq!(esc("'\""), "&#39;&quot;");
        assert_eq!(link("javascript:x", "t"), "t");
    }
}
