//! The one page shell of chatql's HTML pages (the usage report, the topic map, serve's
//! pages): the head, the stylesheet every page shares, and the header; each page adds only
//! its own rules.

/// The rules every page shares: colours, the header, the navigation, the main column, tables.
pub const BASE_STYLE: &str = "
body{font-family:-apple-system,'Segoe UI',Roboto,Helvetica,Arial,sans-serif;margin:0;color:#1f2328;background:#f6f8fa}
header{background:#13294b;color:#fff;padding:20px 32px}
header h1{margin:0;font-size:24px}
header p{margin:6px 0 0;color:#c8d1e0}
main{padding:8px 32px 40px;max-width:1100px}
.scroll{overflow-x:auto;max-width:100%}
table{border-collapse:collapse;font-size:13px;margin:6px 0 4px}
th,td{border:1px solid #d0d7de;padding:4px 10px;text-align:left;vertical-align:top}
th{background:#f6f8fa}
td.num{text-align:right;font-variant-numeric:tabular-nums}
nav{padding:8px 32px;background:#fff;border-bottom:1px solid #d0d7de}
nav a{display:inline-block;white-space:nowrap;margin:2px 16px 2px 0;color:#0550ae;text-decoration:none}
@media (max-width:600px){header,nav,main{padding-left:12px;padding-right:12px}}
";

/// A page's start: the document head with the shared stylesheet and the page's own
/// `style`, and the header with `heading` and `subtitle` (both escaped here).
pub fn head(title: &str, heading: &str, subtitle: &str, style: &str) -> String {
    let esc = super::html_escape;
    format!(
        "<!DOCTYPE html>\n<html lang=\"en\"><head><meta charset=\"utf-8\">\n\
         <meta name=\"viewport\" content=\"width=device-width, initial-scale=1\">\n\
         <title>{}</title>\n<style>{BASE_STYLE}{style}</style></head><body>\n\
         <header><h1>{}</h1><p>{}</p></header>\n",
        esc(title),
        esc(heading),
        esc(subtitle)
    )
}

#[cfg(test)]
mod tests {
    #[test]
    fn the_head_escapes_what_it_is_given() {
        let h = super::head("t<", "H&", "<script>x</script>", "p{}");
        assert!(h.contains("<title>t&lt;</title>"));
        assert!(h.contains("<h1>H&amp;</h1><p>&lt;script&gt;x&lt;/script&gt;</p>"));
        assert!(h.contains("p{}</style>"));
    }
}
