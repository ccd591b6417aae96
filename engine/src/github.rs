//! GitHub Actions output: annotations and the step summary. Everything here is a no-op outside Actions.

use std::io::Write as _;

use anyhow::{Context, Result};

/// What started a workflow run: the event's name and payload (`local`, and `{}`, on a laptop).
#[derive(Clone, Debug)]
pub(crate) struct Trigger {
    pub name: String,
    pub payload: serde_json::Value,
}

impl Trigger {
    /// From the flags, else (under GitHub Actions, or in a replay) `$GITHUB_EVENT_NAME` and `$GITHUB_EVENT_PATH`.
    pub(crate) fn read(event: Option<&camino::Utf8Path>, event_name: Option<&str>) -> Result<Trigger> {
        let var = run_var;
        let name = event_name.map(str::to_owned).or_else(|| var("GITHUB_EVENT_NAME")).unwrap_or_else(|| "local".into());
        let path = event.map(camino::Utf8Path::to_owned).or_else(|| var("GITHUB_EVENT_PATH").map(Into::into));
        let payload = match path {
            None => serde_json::json!({}),
            Some(p) => {
                let text = std::fs::read_to_string(&p).map_err(|e| {
                    anyhow::anyhow!("cannot read the event file {p}: {e}\nfix: pass --event with an event JSON file")
                })?;
                serde_json::from_str(&text).map_err(|e| {
                    anyhow::anyhow!(
                        "the event file {p} is not JSON ({e})\nfix: pass the file GitHub writes to $GITHUB_EVENT_PATH"
                    )
                })?
            }
        };
        if !payload.is_object() {
            anyhow::bail!(
                "the event payload is not a JSON object\nfix: pass the file GitHub writes to $GITHUB_EVENT_PATH, unmodified"
            );
        }
        if !name.bytes().all(|b| b.is_ascii_lowercase() || b == b'_') || name.is_empty() || name.len() > 40 {
            let shown: String = name.chars().take(40).collect();
            anyhow::bail!(
                "{shown:?} is not an event name\nfix: push, schedule, workflow_dispatch, pull_request, merge_group or local"
            );
        }
        Ok(Trigger { name, payload })
    }

    /// A `workflow_dispatch` input, if the run was dispatched with it non-empty. An input that is not a string
    /// (GitHub sends every `type: string` input as one) is refused rather than read as absent.
    pub(crate) fn input(&self, key: &str) -> Result<Option<String>> {
        if self.name != "workflow_dispatch" {
            return Ok(None);
        }
        match self.payload.pointer(&format!("/inputs/{key}")) {
            None | Some(serde_json::Value::Null) => Ok(None),
            Some(serde_json::Value::String(v)) => Ok(Some(v.trim().to_owned()).filter(|v| !v.is_empty())),
            Some(other) => anyhow::bail!(
                "the dispatch input `{key}` is {}, not a string\nfix: pass the event GitHub wrote (every input of \
                 these workflows is a string, e.g. \"linux,windows\")",
                json_kind(other)
            ),
        }
    }
}

/// What a JSON value is, for a message: "a number", "an array", ...
pub(crate) fn json_kind(v: &serde_json::Value) -> &'static str {
    use serde_json::Value;
    match v {
        Value::Null => "null",
        Value::Bool(_) => "a boolean",
        Value::Number(_) => "a number",
        Value::String(_) => "a string",
        Value::Array(_) => "an array",
        Value::Object(_) => "an object",
    }
}

/// Running under GitHub Actions.
pub(crate) fn actions() -> bool {
    std::env::var("GITHUB_ACTIONS").is_ok_and(|v| v == "true")
}

/// Running as a command of `cargo xtask ci --event FILE` (a workflow run replayed on a laptop): the run's
/// variables below are the replayed event's.
pub(crate) fn replaying() -> bool {
    std::env::var("XTASK_REPLAY").is_ok_and(|v| v == "1")
}

/// A variable GitHub sets for the run (`GITHUB_EVENT_NAME`, `GITHUB_EVENT_PATH`, `GITHUB_REF`, ...): read under
/// GitHub Actions or in a replay, never from a laptop's stray environment; empty is unset.
pub(crate) fn run_var(name: &str) -> Option<String> {
    (actions() || replaying()).then(|| std::env::var(name).ok()).flatten().filter(|v| !v.is_empty())
}

/// Workflow-command data: `%`, CR and LF as the runner decodes them; every other character a printed line never
/// holds raw (controls, bidi and line separators: tool output can carry file names from a PR) percent-encoded,
/// so an annotation is one line and sends no escape sequence to a log viewer.
fn escape_data(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    for c in s.chars() {
        match c {
            '%' => out.push_str("%25"),
            '\r' => out.push_str("%0D"),
            '\n' => out.push_str("%0A"),
            c if is_unsafe_char(c) => {
                let mut buf = [0u8; 4];
                c.encode_utf8(&mut buf).bytes().for_each(|b| out.push_str(&format!("%{b:02X}")));
            }
            c => out.push(c),
        }
    }
    out
}

fn escape_property(s: &str) -> String {
    escape_data(s).replace(':', "%3A").replace(',', "%2C")
}

/// `::error file=..,line=..,title=..::message` on stdout.
pub(crate) fn error(file: Option<&str>, line: Option<u32>, title: &str, message: &str) {
    error_to(false, file, line, title, message);
}

/// [`error`], on stderr when `stderr` (when stdout is reserved for a JSON document).
pub(crate) fn error_to(stderr: bool, file: Option<&str>, line: Option<u32>, title: &str, message: &str) {
    let mut props = Vec::new();
    if let Some(f) = file {
        props.push(format!("file={}", escape_property(f)));
    }
    if let Some(l) = line {
        props.push(format!("line={l}"));
    }
    props.push(format!("title={}", escape_property(title)));
    let line = format!("::error {}::{}", props.join(","), escape_data(message));
    if stderr {
        eprintln!("{line}");
    } else {
        println!("{line}");
    }
}

/// Sets a step output (`$GITHUB_OUTPUT`); outside Actions, says where it would have gone.
pub(crate) fn output(name: &str, value: &str) -> Result<()> {
    let Some(path) = std::env::var_os("GITHUB_OUTPUT") else {
        eprintln!("note: $GITHUB_OUTPUT is not set (not in GitHub Actions): output `{name}` printed above only");
        return Ok(());
    };
    let mut f = std::fs::OpenOptions::new()
        .append(true)
        .create(true)
        .open(&path)
        .with_context(|| format!("opening $GITHUB_OUTPUT ({})", path.to_string_lossy()))?;
    writeln!(f, "{name}={value}").context("writing $GITHUB_OUTPUT")?;
    Ok(())
}

/// Appends markdown to `$GITHUB_STEP_SUMMARY`.
pub(crate) fn summary(markdown: &str) -> Result<()> {
    let Some(path) = std::env::var_os("GITHUB_STEP_SUMMARY") else { return Ok(()) };
    let mut f = std::fs::OpenOptions::new()
        .append(true)
        .create(true)
        .open(&path)
        .with_context(|| format!("opening $GITHUB_STEP_SUMMARY ({})", path.to_string_lossy()))?;
    f.write_all(markdown.as_bytes()).context("writing $GITHUB_STEP_SUMMARY")?;
    Ok(())
}

/// Characters a printed command never holds raw: controls, and the line and bidi separators that reorder or
/// break what a reader sees.
pub(crate) fn is_unsafe_char(c: char) -> bool {
    c.is_control()
        || matches!(c, '\u{2028}' | '\u{2029}' | '\u{200e}' | '\u{200f}' | '\u{202a}'..='\u{202e}' | '\u{2066}'..='\u{2069}')
}

#[cfg(test)]
mod tests {
    #[test]
    fn annotation_properties_are_escaped() {
        assert_eq!(super::escape_property("a,b:c\n"), "a%2Cb%3Ac%0A");
        assert_eq!(super::escape_data("50% done\n"), "50%25 done%0A");
        assert_eq!(super::escape_data("a\u{1b}[2J\u{202e}b"), "a%1B[2J%E2%80%AEb");
    }
}
