//! A browser viewer for `.reel` recordings: the page hands the file's bytes to [`render`], which returns the
//! HTML to show (a summary table, an SVG plot per scalar entity, the text records) or an error message.
//!
//! A recording that is cut or corrupted part-way (a crashed writer, an interrupted download) is still shown:
//! every record before the damage, under a warning that says at which byte offset reading stopped and why.
//! A file that is not a recording at all (bad magic, unknown version, a cut header) is an error.
//!
//! The rendering is plain Rust ([`render_html`], [`summary_json`]) so it is tested natively; the
//! `#[wasm_bindgen]` wrappers only convert errors into JavaScript exceptions.

use std::fmt::Write;

use reel::{Payload, Record};
use wasm_bindgen::prelude::*;

/// Most text records listed per entity; the rest are counted.
const MAX_TEXT_ROWS: usize = 200;
const PLOT_W: f64 = 480.0;
const PLOT_H: f64 = 120.0;

/// Renders a recording as HTML, or throws an `Error` whose message names what is wrong and where.
#[wasm_bindgen]
pub fn render(bytes: &[u8]) -> Result<String, JsError> {
    render_html(bytes).map_err(|e| JsError::new(&e))
}

/// A JSON summary of a recording (`{"records":N,"entities":[{"entity":..,"records":..},..]}`), or throws.
#[wasm_bindgen(js_name = summaryJson)]
pub fn summary_json_js(bytes: &[u8]) -> Result<String, JsError> {
    summary_json(bytes).map_err(|e| JsError::new(&e))
}

/// The viewer's version (the workspace version).
#[wasm_bindgen]
pub fn version() -> String {
    env!("CARGO_PKG_VERSION").to_owned()
}

/// What could be read of a recording: the records before the first bad one, and why reading stopped there.
struct Read {
    records: Vec<Record>,
    /// The first error after the header (it names its byte offset), if the file is damaged.
    stopped: Option<(u64, String)>,
}

fn read(bytes: &[u8]) -> Result<Read, String> {
    let reader = reel::Reader::new(bytes).map_err(|e| e.to_string())?;
    let mut records = Vec::new();
    for r in reader {
        match r {
            Ok(r) => records.push(r),
            Err(e) => {
                let offset = e.offset().unwrap_or(0);
                return Ok(Read { records, stopped: Some((offset, e.to_string())) });
            }
        }
    }
    Ok(Read { records, stopped: None })
}

/// See [`summary_json_js`]. A damaged recording has `"stopped":{"offset":N,"reason":"..."}`, else `null`.
pub fn summary_json(bytes: &[u8]) -> Result<String, String> {
    let Read { records, stopped } = read(bytes)?;
    let mut out = format!("{{\"records\":{},", records.len());
    match &stopped {
        Some((offset, reason)) => {
            let _ = write!(out, "\"stopped\":{{\"offset\":{offset},\"reason\":{}}},", json_string(reason));
        }
        None => out.push_str("\"stopped\":null,"),
    }
    out.push_str("\"entities\":[");
    for (i, s) in reel::summarize(&records).iter().enumerate() {
        if i > 0 {
            out.push(',');
        }
        let _ = write!(
            out,
            "{{\"entity\":{},\"records\":{},\"scalars\":{},\"texts\":{}}}",
            json_string(&s.entity),
            s.records,
            s.scalars,
            s.texts
        );
    }
    out.push_str("]}");
    Ok(out)
}

/// See [`render`].
pub fn render_html(bytes: &[u8]) -> Result<String, String> {
    let Read { records, stopped } = read(bytes)?;
    let summary = reel::summarize(&records);
    let mut html = String::new();
    if let Some((offset, reason)) = &stopped {
        let _ = write!(
            html,
            "<p class=\"reel-warning\" role=\"alert\">Incomplete recording: reading stopped at byte offset {offset} \
             of {}: {}. Shown below: the {} records before that point.</p>",
            bytes.len(),
            escape(reason),
            records.len()
        );
    }
    let _ = write!(
        html,
        "<p class=\"reel-summary\">{} records, {} entities, {} bytes</p>",
        records.len(),
        summary.len(),
        bytes.len()
    );
    html.push_str(
        "<table class=\"reel-entities\"><thead><tr><th>entity</th><th>records</th><th>first (ns)</th>\
         <th>last (ns)</th><th>min</th><th>max</th></tr></thead><tbody>",
    );
    for s in &summary {
        let _ = write!(
            html,
            "<tr><td>{}</td><td>{}</td><td>{}</td><td>{}</td><td>{}</td><td>{}</td></tr>",
            escape(&s.entity),
            s.records,
            s.first_ns,
            s.last_ns,
            s.min.map(fmt_num).unwrap_or_default(),
            s.max.map(fmt_num).unwrap_or_default()
        );
    }
    html.push_str("</tbody></table>");
    for s in &summary {
        let _ = write!(html, "<section class=\"reel-entity\"><h2>{}</h2>", escape(&s.entity));
        let entity_records = || records.iter().filter(|r| r.entity == s.entity);
        if s.scalars > 0 {
            let points: Vec<(i64, f64)> = entity_records()
                .filter_map(|r| match r.payload {
                    Payload::Scalar(v) if v.is_finite() => Some((r.timestamp_ns, v)),
                    _ => None,
                })
                .collect();
            html.push_str(&plot(&s.entity, &points));
        }
        if s.texts > 0 {
            html.push_str("<table class=\"reel-texts\"><tbody>");
            for r in entity_records().take(MAX_TEXT_ROWS) {
                if let Payload::Text(t) = &r.payload {
                    let _ = write!(html, "<tr><td>{}</td><td>{}</td></tr>", r.timestamp_ns, escape(t));
                }
            }
            html.push_str("</tbody></table>");
            if s.texts as usize > MAX_TEXT_ROWS {
                let _ = write!(html, "<p>{} more text records not shown</p>", s.texts as usize - MAX_TEXT_ROWS);
            }
        }
        html.push_str("</section>");
    }
    Ok(html)
}

/// An SVG line plot of `(t, v)` points, scaled to fit.
fn plot(entity: &str, points: &[(i64, f64)]) -> String {
    let mut svg = format!(
        "<svg class=\"reel-plot\" viewBox=\"0 0 {PLOT_W} {PLOT_H}\" width=\"{PLOT_W}\" height=\"{PLOT_H}\" \
         role=\"img\" aria-label=\"{}\">",
        escape(entity)
    );
    if points.is_empty() {
        svg.push_str("<text x=\"4\" y=\"16\">no finite values</text></svg>");
        return svg;
    }
    let (t0, t1) = points.iter().fold((i64::MAX, i64::MIN), |(lo, hi), p| (lo.min(p.0), hi.max(p.0)));
    let (v0, v1) = points.iter().fold((f64::MAX, f64::MIN), |(lo, hi), p| (lo.min(p.1), hi.max(p.1)));
    let pad = 4.0;
    let sx = |t: i64| {
        let span = (t1 as f64 - t0 as f64).max(1.0);
        pad + (t as f64 - t0 as f64) / span * (PLOT_W - 2.0 * pad)
    };
    let sy = |v: f64| {
        let span = if v1 > v0 { v1 - v0 } else { 1.0 };
        PLOT_H - pad - (v - v0) / span * (PLOT_H - 2.0 * pad)
    };
    svg.push_str("<polyline fill=\"none\" stroke=\"currentColor\" stroke-width=\"1.5\" points=\"");
    for (i, &(t, v)) in points.iter().enumerate() {
        let _ = write!(svg, "{}{:.1},{:.1}", if i > 0 { " " } else { "" }, sx(t), sy(v));
    }
    let _ = write!(
        svg,
        "\"/><text x=\"{pad}\" y=\"12\" font-size=\"10\">{}</text><text x=\"{pad}\" y=\"{}\" font-size=\"10\">{}</text></svg>",
        fmt_num(v1),
        PLOT_H - 2.0,
        fmt_num(v0)
    );
    svg
}

fn fmt_num(v: f64) -> String {
    if v.fract() == 0.0 && v.abs() < 1e15 { format!("{v:.0}") } else { format!("{v:.4}") }
}

fn escape(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    for c in s.chars() {
        match c {
            '&' => out.push_str("&amp;"),
            '<' => out.push_str("&lt;"),
            '>' => out.push_str("&gt;"),
            '"' => out.push_str("&quot;"),
            '\'' => out.push_str("&#39;"),
            c => out.push(c),
        }
    }
    out
}

fn json_string(s: &str) -> String {
    let mut out = String::from("\"");
    for c in s.chars() {
        match c {
            '"' => out.push_str("\\\""),
            '\\' => out.push_str("\\\\"),
            c if (c as u32) < 0x20 => {
                let _ = write!(out, "\\u{:04x}", c as u32);
            }
            c => out.push(c),
        }
    }
    out.push('"');
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    fn sample() -> Vec<u8> {
        let mut w = reel::Writer::new(Vec::new()).unwrap();
        for i in 0..10 {
            w.log_scalar(i * 100, "sensor/temp", (i as f64).sin()).unwrap();
        }
        w.log_text(50, "log/<script>", "a \"quoted\" <b>tag</b> & more").unwrap();
        w.finish().unwrap()
    }

    #[test]
    fn renders_table_plot_and_escaped_text() {
        let html = render_html(&sample()).unwrap();
        assert!(html.contains("11 records, 2 entities"), "{html}");
        assert!(html.contains("<td>sensor/temp</td><td>10</td><td>0</td><td>900</td>"), "{html}");
        assert_eq!(html.matches("<svg").count(), 1);
        let polyline = html.split("points=\"").nth(1).unwrap().split('"').next().unwrap();
        assert_eq!(polyline.split(' ').count(), 10);
        assert!(html.contains("log/&lt;script&gt;"));
        assert!(html.contains("a &quot;quoted&quot; &lt;b&gt;tag&lt;/b&gt; &amp; more"));
        assert!(!html.contains("<script>"));
    }

    #[test]
    fn constant_series_and_non_finite_values_do_not_break_the_plot() {
        let mut w = reel::Writer::new(Vec::new()).unwrap();
        w.log_scalar(0, "c", 5.0).unwrap();
        w.log_scalar(0, "c", 5.0).unwrap();
        w.log_scalar(1, "n", f64::NAN).unwrap();
        let html = render_html(&w.finish().unwrap()).unwrap();
        assert!(!html.contains("NaN") && !html.contains("inf"), "{html}");
        assert!(html.contains("no finite values"));
    }

    #[test]
    fn a_damaged_recording_shows_what_was_read_and_where_it_stopped() {
        let bytes = sample();
        let whole = render_html(&bytes).unwrap();
        assert!(!whole.contains("reel-warning"), "{whole}");
        let (last, end) = last_record_and_end(&bytes);
        // Cut in the middle of the last record: the first ten are shown, with the offset of the eleventh.
        let html = render_html(&bytes[..end as usize - 1]).unwrap();
        assert!(html.contains(&format!("reading stopped at byte offset {last} of {}", end - 1)), "{html}");
        assert!(html.contains("truncated recording") && html.contains("10 records, 1 entities"), "{html}");
        assert!(html.find("reel-warning").unwrap() < html.find("reel-summary").unwrap(), "the warning comes first");
        // Cut exactly after the last record (a writer that never finished): every record, and the warning.
        let html = render_html(&bytes[..end as usize]).unwrap();
        assert!(
            html.contains(&format!("reading stopped at byte offset {end} of {end}: unfinished recording")),
            "{html}"
        );
        assert!(html.contains("11 records, 2 entities"), "{html}");
        // A flipped bit in the last record: a checksum error at its offset.
        let mut bad = bytes.clone();
        bad[end as usize - 1] ^= 0xff;
        let html = render_html(&bad).unwrap();
        assert!(html.contains(&format!("corrupted record at byte offset {last}")), "{html}");
        // Cut inside the header, or not a recording at all: nothing to show, an error.
        let err = render_html(&bytes[..5]).unwrap_err();
        assert!(err.contains("truncated") && err.contains("byte offset 0"), "{err}");
        let err = render_html(b"<html>").unwrap_err();
        assert!(err.contains("not a reel recording"), "{err}");
        let json = summary_json(&bytes[..end as usize]).unwrap();
        assert!(
            json.starts_with(&format!("{{\"records\":11,\"stopped\":{{\"offset\":{end},\"reason\":\"unfinished")),
            "{json}"
        );
    }

    /// The byte offsets of the sample's last record and of its end marker.
    fn last_record_and_end(bytes: &[u8]) -> (u64, u64) {
        let mut r = reel::Reader::new(bytes).unwrap();
        let mut starts = vec![r.offset()];
        while r.next().transpose().unwrap().is_some() {
            starts.push(r.offset());
        }
        (starts[starts.len() - 2], starts[starts.len() - 1])
    }

    #[test]
    fn summary_is_json() {
        let json = summary_json(&sample()).unwrap();
        assert_eq!(
            json,
            "{\"records\":11,\"stopped\":null,\"entities\":[{\"entity\":\"sensor/temp\",\"records\":10,\"scalars\":10,\"texts\":0},\
             {\"entity\":\"log/<script>\",\"records\":1,\"scalars\":0,\"texts\":1}]}"
        );
        assert_eq!(json_string("a\"\\\n"), "\"a\\\"\\\\\\u000a\"");
    }
}
