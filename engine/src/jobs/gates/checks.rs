//! The gates as pure functions of the facts: table-testable without git.

use std::collections::HashMap;

use super::facts::{Facts, FileChange, MODE_SYMLINK, Pr};
use crate::glob;
use crate::settings::{Gates, KeywordPlace, LabelRule};

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum Status {
    Pass,
    Fail,
    Skipped,
}

impl Status {
    pub(crate) fn as_str(self) -> &'static str {
        match self {
            Status::Pass => "pass",
            Status::Fail => "FAIL",
            Status::Skipped => "skipped",
        }
    }
}

#[derive(Clone, Debug, PartialEq)]
pub(crate) struct Finding {
    pub file: Option<String>,
    pub line: Option<u32>,
    pub commit: Option<String>,
    pub message: String,
}

impl Finding {
    fn file(file: &str, line: Option<u32>, message: String) -> Finding {
        Finding { file: Some(file.to_owned()), line, commit: None, message }
    }

    /// `file:line: message`, `commit abc1234: message` or the message.
    pub(crate) fn location(&self) -> String {
        match (&self.file, self.line, &self.commit) {
            (Some(f), Some(l), _) => format!("{f}:{l}"),
            (Some(f), None, _) => f.clone(),
            (None, _, Some(c)) => format!("commit {}", &c[..c.len().min(12)]),
            _ => "pull request".to_owned(),
        }
    }
}

#[derive(Clone, Debug)]
pub(crate) struct GateResult {
    pub name: &'static str,
    pub status: Status,
    pub summary: String,
    pub findings: Vec<Finding>,
}

fn result(name: &'static str, findings: Vec<Finding>, summary: String) -> GateResult {
    let status = if findings.is_empty() { Status::Pass } else { Status::Fail };
    GateResult { name, status, summary, findings }
}

pub(super) fn evaluate(pr: &Pr, facts: &Facts, cfg: &Gates) -> Vec<GateResult> {
    vec![
        labels(pr, &cfg.labels),
        keywords(pr, facts, cfg),
        large_files(facts, cfg),
        file_patterns(facts, cfg),
        checklist(pr, cfg),
    ]
}

/// The task-list boxes of a Markdown text that are not ticked: (line number, the line). A box is `[ ]` right
/// after a list marker (`-`, `*`, `+`, or `1.` / `1)`), at any indent; boxes inside fenced code blocks and
/// HTML comments (a PR template's hints) are not tasks.
pub(super) fn unticked_boxes(text: &str) -> Vec<(u32, String)> {
    let mut out = Vec::new();
    let mut fence: Option<String> = None;
    let mut in_comment = false;
    for (n, line) in text.lines().enumerate() {
        let t = line.trim_start();
        if let Some(f) = &fence {
            if t.starts_with(f.as_str()) && t.trim_start_matches(f.chars().next().unwrap_or('`')).trim().is_empty() {
                fence = None;
            }
            continue;
        }
        if in_comment {
            in_comment = !line.contains("-->");
            continue;
        }
        if t.starts_with("```") || t.starts_with("~~~") {
            let c = t.chars().next().unwrap_or('`');
            fence = Some(t.chars().take_while(|&x| x == c).collect());
            continue;
        }
        if let Some(i) = line.find("<!--") {
            in_comment = !line[i..].contains("-->");
            if line[..i].trim().is_empty() {
                continue;
            }
        }
        let rest = match t.chars().next() {
            Some('-' | '*' | '+') => &t[1..],
            Some(c) if c.is_ascii_digit() => {
                let digits = t.bytes().take_while(u8::is_ascii_digit).count();
                match t[digits..].chars().next() {
                    Some('.' | ')') if digits <= 9 => &t[digits + 1..],
                    _ => continue,
                }
            }
            _ => continue,
        };
        if rest.starts_with([' ', '\t']) && rest.trim_start().starts_with("[ ]") {
            out.push((n as u32 + 1, line.trim().to_owned()));
        }
    }
    out
}

/// The PR description's checklist: every task-list box ticked (ci.toml `[gates] checklist = true`).
pub(super) fn checklist(pr: &Pr, cfg: &Gates) -> GateResult {
    let skipped = |summary: &str| GateResult {
        name: "checklist",
        status: Status::Skipped,
        summary: summary.to_owned(),
        findings: Vec::new(),
    };
    if !cfg.checklist {
        return skipped("off (ci.toml [gates] checklist = true turns it on)");
    }
    let Some(body) = &pr.body else {
        return skipped("no PR description known locally: pass --body (or --event PATH)");
    };
    let open = unticked_boxes(body);
    let findings = open
        .iter()
        .map(|(line, text)| Finding {
            file: None,
            line: None,
            commit: None,
            message: format!(
                "line {line} of the PR description is an unticked task: {text}; tick it when it is done, or remove it"
            ),
        })
        .collect();
    result("checklist", findings, "every task-list box of the PR description ticked".to_owned())
}

pub(super) fn labels(pr: &Pr, rules: &[LabelRule]) -> GateResult {
    let Some(labels) = &pr.labels else {
        return GateResult {
            name: "labels",
            status: Status::Skipped,
            summary: "no PR labels known locally: pass --labels a,b (or --event PATH)".to_owned(),
            findings: Vec::new(),
        };
    };
    let mut findings = Vec::new();
    let mut said = Vec::new();
    for rule in rules {
        let LabelRule { exactly_one_of, none_of } = rule;
        for set in [exactly_one_of].into_iter().filter(|s| !s.is_empty()) {
            {
                let have: Vec<&str> =
                    labels.iter().map(String::as_str).filter(|l| set.iter().any(|s| s == l)).collect();
                said.push(format!("exactly one of {}", set.join(", ")));
                if have.len() != 1 {
                    let got = if have.is_empty() { "none".to_owned() } else { have.join(", ") };
                    findings.push(Finding {
                        file: None,
                        line: None,
                        commit: None,
                        message: format!("needs exactly one of [{}], has {got}", set.join(", ")),
                    });
                }
            }
        }
        for set in [none_of].into_iter().filter(|s| !s.is_empty()) {
            {
                said.push(format!("none of {}", set.join(", ")));
                for l in labels.iter().filter(|l| set.contains(l)) {
                    findings.push(Finding {
                        file: None,
                        line: None,
                        commit: None,
                        message: format!("has the blocking label `{l}`; remove it when the PR is ready"),
                    });
                }
            }
        }
    }
    let shown = if labels.is_empty() { "no labels".to_owned() } else { labels.join(", ") };
    result("labels", findings, format!("{shown} (rules: {})", said.join("; ")))
}

/// The first whole-word occurrence of any keyword in `text` (case-insensitive), as it is written there.
pub(super) fn find_keyword(text: &str, keywords: &[impl AsRef<str>]) -> Option<String> {
    find_word(text, keywords, false)
}

/// The first whole-word occurrence of any marker in `text`, matched case-sensitively.
pub(super) fn find_marker(text: &str, markers: &[impl AsRef<str>]) -> Option<String> {
    find_word(text, markers, true)
}

fn find_word(text: &str, words: &[impl AsRef<str>], exact_case: bool) -> Option<String> {
    // ASCII lower-casing keeps byte offsets, so the match can be quoted from the original text.
    let hay = if exact_case { text.to_owned() } else { text.to_ascii_lowercase() };
    let bytes = hay.as_bytes();
    words.iter().find_map(|k| {
        let k = k.as_ref();
        let needle = if exact_case { k.to_owned() } else { k.to_ascii_lowercase() };
        if needle.is_empty() {
            return None;
        }
        hay.match_indices(&needle).find_map(|(i, m)| {
            let before = i.checked_sub(1).map(|j| bytes[j]);
            let after = bytes.get(i + m.len()).copied();
            let word = |b: Option<u8>| b.is_some_and(|b| b.is_ascii_alphanumeric() || b == b'_');
            (!word(before) && !word(after)).then(|| text[i..i + m.len()].to_owned())
        })
    })
}

pub(super) fn keywords(pr: &Pr, facts: &Facts, cfg: &Gates) -> GateResult {
    let mut findings = Vec::new();
    let mut where_ = Vec::new();
    // Phrases in the configured places; markers there too.
    let found_in = |text: &str| find_keyword(text, &cfg.keywords).or_else(|| find_marker(text, &cfg.markers));
    for (place, field, value) in [(KeywordPlace::Title, "title", &pr.title), (KeywordPlace::Body, "body", &pr.body)] {
        if !cfg.keywords_in.contains(&place) {
            continue;
        }
        if let Some(text) = value {
            where_.push(format!("the PR {field}"));
            if let Some(k) = found_in(text) {
                findings.push(Finding {
                    file: None,
                    line: None,
                    commit: None,
                    message: format!("the PR {field} contains \"{k}\""),
                });
            }
        }
    }
    if cfg.keywords_in.contains(&KeywordPlace::CommitMessages) {
        for c in &facts.commits {
            if let Some(k) = found_in(&c.message) {
                let subject = c.message.lines().next().unwrap_or_default();
                findings.push(Finding {
                    file: None,
                    line: None,
                    commit: Some(c.sha.clone()),
                    message: format!("commit message contains \"{k}\" ({subject})"),
                });
            }
        }
        where_.push(format!("{} commit messages", facts.commits.len()));
    }
    // Added lines: only the marker forms (prose in documentation may say the phrase).
    let mut searched = 0;
    for a in &facts.added {
        if glob::first_match(&cfg.keyword_exempt, &a.path).is_some() {
            continue;
        }
        searched += 1;
        if let Some(k) = find_marker(&a.text, &cfg.markers) {
            findings.push(Finding::file(&a.path, Some(a.line), format!("added line contains the marker \"{k}\"")));
        }
    }
    where_.push(format!("{searched} added lines (markers only)"));
    let unknown = [(KeywordPlace::Title, &pr.title), (KeywordPlace::Body, &pr.body)]
        .iter()
        .any(|(p, v)| cfg.keywords_in.contains(p) && v.is_none());
    if unknown {
        where_.push("not the PR title/body (pass --title/--body or --event)".to_owned());
    }
    result("keywords", findings, format!("searched {}", where_.join(", ")))
}

pub(super) fn large_files(facts: &Facts, cfg: &Gates) -> GateResult {
    let limit = cfg.max_file_bytes;
    let mut findings = Vec::new();
    let mut allowed = 0;
    let mut pointers = 0;
    // A file moved (deleted here, added there with the same content) brings no new blob.
    let deleted: std::collections::HashSet<&str> =
        facts.files.iter().filter(|f| f.status == 'D').map(|f| f.old_blob.as_str()).collect();
    let too_large = |f: &FileChange| {
        let new = f.new_size?;
        let grown = f.old_size.is_none_or(|old| new > old);
        let moved = f.status == 'A' && !f.new_blob.is_empty() && deleted.contains(f.new_blob.as_str());
        (new >= limit && grown && !moved).then_some(new)
    };
    for f in facts.files.iter().filter(|f| f.status != 'D') {
        pointers += usize::from(f.lfs_pointer);
        let Some(new) = too_large(f) else { continue };
        if glob::first_match(&cfg.large_file_allow, &f.path).is_some() {
            allowed += 1;
            continue;
        }
        let how = match f.old_size {
            Some(old) => format!("grew from {}", sizes(old, new)),
            None => format!("is {}", human(new)),
        };
        findings.push(Finding::file(
            &f.path,
            None,
            format!(
                "{how}, at or over the {} limit; use Git LFS or allow it in ci.toml's [gates] large-file-allow",
                human(limit)
            ),
        ));
    }
    findings.extend(large_in_history(facts, cfg));
    let mut summary = format!("{} changed files checked against {}", facts.files.len(), human(limit));
    if !facts.history.is_empty() {
        summary.push_str(&format!(
            " (and what every commit brings into history, merges included: {} tree entries)",
            facts.history.len()
        ));
    }
    if allowed > 0 {
        summary.push_str(&format!(", {allowed} allowed by glob"));
    }
    if pointers > 0 {
        summary.push_str(&format!(", {pointers} Git LFS pointers counted as pointers"));
    }
    result("large-files", findings, summary)
}

/// What each commit brings into history that the net change does not show (added, then removed, shrunk or
/// replaced by a Git LFS pointer later; or a merge's own content) at or over the limit: it stays in history on a
/// merge that keeps the commits. A blob a commit only moves (deleted at one path, added at another) is no new
/// content.
fn large_in_history(facts: &Facts, cfg: &Gates) -> Vec<Finding> {
    let limit = cfg.max_file_bytes;
    let mut findings = Vec::new();
    let final_blobs: std::collections::HashSet<&str> = facts.files.iter().map(|f| f.new_blob.as_str()).collect();
    let moved_in: std::collections::HashSet<(&str, &str)> = facts
        .history
        .iter()
        .filter(|f| f.status == 'D')
        .filter_map(|f| Some((f.commit.as_deref()?, f.old_blob.as_str())))
        .collect();
    let mut seen = std::collections::HashSet::new();
    for f in facts.history.iter().filter(|f| f.status != 'D' && !final_blobs.contains(f.new_blob.as_str())) {
        let Some(new) = f.new_size.filter(|&n| n >= limit && f.old_size.is_none_or(|old| n > old)) else { continue };
        let moved = f.commit.as_deref().is_some_and(|c| moved_in.contains(&(c, f.new_blob.as_str())));
        if moved || !seen.insert(f.new_blob.as_str()) || glob::first_match(&cfg.large_file_allow, &f.path).is_some() {
            continue;
        }
        let commit = f.commit.as_deref().unwrap_or_default();
        findings.push(Finding {
            file: Some(f.path.clone()),
            line: None,
            commit: f.commit.clone(),
            message: format!(
                "is {} in commit {} (at or over the {} limit) and stays in history even though the PR's final tree \
                 does not hold it; squash it out of the branch",
                human(new),
                &commit[..commit.len().min(12)],
                human(limit)
            ),
        });
    }
    findings
}

/// `old to new`, in bytes where the rounded sizes would read the same.
fn sizes(old: u64, new: u64) -> String {
    if human(old) == human(new) { format!("{old} to {new} bytes") } else { format!("{} to {}", human(old), human(new)) }
}

fn human(bytes: u64) -> String {
    match bytes {
        b if b >= 1 << 20 => format!("{:.1} MiB", b as f64 / f64::from(1 << 20)),
        b if b >= 1 << 10 => format!("{:.1} KiB", b as f64 / 1024.0),
        b => format!("{b} B"),
    }
}

const WINDOWS_RESERVED: &[&str] = &[
    "CON", "PRN", "AUX", "NUL", "COM1", "COM2", "COM3", "COM4", "COM5", "COM6", "COM7", "COM8", "COM9", "LPT1", "LPT2",
    "LPT3", "LPT4", "LPT5", "LPT6", "LPT7", "LPT8", "LPT9",
];

/// Why a path cannot be checked out on Windows, if it cannot.
pub(super) fn windows_problem(path: &str) -> Option<String> {
    for comp in path.split('/') {
        let stem = comp.split('.').next().unwrap_or(comp).trim_end();
        if WINDOWS_RESERVED.iter().any(|r| r.eq_ignore_ascii_case(stem)) {
            return Some(format!("`{comp}` is a reserved device name on Windows"));
        }
        if let Some(c) =
            comp.chars().find(|c| matches!(c, '<' | '>' | ':' | '"' | '|' | '?' | '*' | '\\') || c.is_control())
        {
            return Some(format!("`{comp}` contains {c:?}, which Windows does not allow in file names"));
        }
        if comp.ends_with('.') || comp.ends_with(' ') {
            return Some(format!("`{comp}` ends with a dot or a space, which Windows strips"));
        }
    }
    None
}

/// A line that is a merge-conflict marker (`<<<<<<<`, `>>>>>>>`, `|||||||`, alone or before a space).
pub(super) fn conflict_marker(text: &str) -> bool {
    ["<<<<<<<", ">>>>>>>", "|||||||"]
        .iter()
        .any(|m| text.strip_prefix(m).is_some_and(|rest| rest.is_empty() || rest.starts_with(' ')))
}

/// Why a path's name is unusable whatever the platform, if it is.
pub(super) fn name_problem(f: &FileChange) -> Option<String> {
    if !f.utf8_name {
        return Some("the file name is not valid UTF-8 (shown with U+FFFD for the bad bytes); rename it".to_owned());
    }
    let c = f.path.chars().find(|c| c.is_control())?;
    Some(format!("the file name contains the control character {:?}; rename it", c))
}

/// The findings about one added or modified path.
fn path_findings(f: &FileChange, cfg: &Gates, findings: &mut Vec<Finding>) {
    let mut push = |message: String| {
        let message = match &f.commit {
            Some(c) => format!("{message} (in commit {}, which the PR brings)", &c[..c.len().min(12)]),
            None => message,
        };
        findings.push(Finding { file: Some(f.path.clone()), line: None, commit: f.commit.clone(), message });
    };
    if let Some(why) = name_problem(f) {
        push(why);
        return;
    }
    if f.new_mode == MODE_SYMLINK {
        push("is a symlink; symlinks do not check out on Windows: commit the file itself".to_owned());
    }
    if let Some(why) = windows_problem(&f.path) {
        push(format!("cannot be checked out on Windows: {why}"));
    }
    if let Some(g) = glob::first_match(&cfg.forbidden, &f.path) {
        push(format!("matches the forbidden pattern `{g}`"));
    }
    let lfs_rule =
        glob::first_match(&cfg.lfs, &f.path).filter(|_| glob::first_match(&cfg.lfs_allow, &f.path).is_none());
    if let Some(g) = lfs_rule.filter(|_| !f.lfs_pointer && f.new_mode != MODE_SYMLINK) {
        push(format!(
            "matches `{g}`, which must be stored in Git LFS, but is committed as a plain file: \
             `git lfs track '{g}'`, then `git rm --cached` and `git add` it again"
        ));
    }
}

pub(super) fn file_patterns(facts: &Facts, cfg: &Gates) -> GateResult {
    let mut findings = Vec::new();
    let changed: Vec<_> = facts.files.iter().filter(|f| f.status != 'D').collect();
    for f in &changed {
        path_findings(f, cfg, &mut findings);
    }
    history_path_findings(facts, cfg, &changed, &mut findings);
    case_clashes(facts, &changed, &mut findings);
    let mut marker_files = std::collections::HashSet::new();
    for a in &facts.added {
        if conflict_marker(&a.text) || (a.text == "=======" && marker_files.contains(&a.path)) {
            marker_files.insert(a.path.clone());
            findings.push(Finding::file(&a.path, Some(a.line), "leftover merge-conflict marker".to_owned()));
        }
    }
    result(
        "file-patterns",
        findings,
        format!(
            "{} changed paths{}: names, symlinks, case clashes, Windows names, conflict markers, forbidden globs",
            changed.len(),
            if facts.history.is_empty() {
                String::new()
            } else {
                format!(" and {} tree entries every commit brings into history (merges included)", facts.history.len())
            }
        ),
    )
}

/// Every tree entry a commit of the PR (a merge included) brings into history that the net change does not
/// show: one replaced later at the same path (a plain file later made a Git LFS pointer, a symlink later made a
/// file, a conflict resolved later) enters history all the same. What a path's findings depend on is its name, its
/// mode and whether it is a pointer: each such state is judged once (a path that many commits change is one
/// finding, not one per commit); markers per blob.
fn history_path_findings(facts: &Facts, cfg: &Gates, changed: &[&FileChange], findings: &mut Vec<Finding>) {
    let state = |f: &FileChange| (f.path.clone(), f.new_mode, f.lfs_pointer);
    let mut judged: std::collections::HashSet<(String, u32, bool)> = changed.iter().map(|f| state(f)).collect();
    let net_blobs: std::collections::HashSet<(&str, &str)> =
        changed.iter().map(|f| (f.path.as_str(), f.new_blob.as_str())).collect();
    let mut marked = std::collections::HashSet::new();
    for f in facts.history.iter().filter(|f| f.status != 'D') {
        if judged.insert(state(f)) {
            path_findings(f, cfg, findings);
        }
        let in_net = net_blobs.contains(&(f.path.as_str(), f.new_blob.as_str()));
        if let (Some(line), Some(c), false) = (f.new_marker_line, &f.commit, in_net)
            && marked.insert((f.path.as_str(), f.new_blob.as_str()))
        {
            findings.push(Finding {
                file: Some(f.path.clone()),
                line: Some(line),
                commit: f.commit.clone(),
                message: format!(
                    "leftover merge-conflict marker (in commit {}, which the PR brings)",
                    &c[..c.len().min(12)]
                ),
            });
        }
    }
}

/// Case clashes that involve a path the change adds or modifies, between files and directories alike (`SRC`
/// next to `src/`): every path and every directory above it, by lower-cased name.
fn case_clashes(facts: &Facts, changed: &[&FileChange], findings: &mut Vec<Finding>) {
    let mut by_lower: HashMap<String, std::collections::BTreeSet<&str>> = HashMap::with_capacity(facts.tree.len());
    for p in &facts.tree {
        let mut end = p.len();
        loop {
            let name = &p[..end];
            by_lower.entry(name.to_lowercase()).or_default().insert(name);
            match name.rfind('/') {
                Some(i) => end = i,
                None => break,
            }
        }
    }
    let mut reported = std::collections::HashSet::new();
    for f in changed {
        let mut end = f.path.len();
        loop {
            let name = &f.path[..end];
            if let Some(group) = by_lower.get(&name.to_lowercase()).filter(|g| g.len() > 1)
                && reported.insert(name.to_lowercase())
            {
                let others: Vec<_> = group.iter().filter(|p| **p != name).copied().collect();
                findings.push(Finding::file(
                    name,
                    None,
                    format!("differs only by case from {}; they collide on macOS and Windows", others.join(", ")),
                ));
            }
            match name.rfind('/') {
                Some(i) => end = i,
                None => break,
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::super::facts::{AddedLine, Commit, FileChange};
    use super::*;
    /// This repository's gates (ci.toml).
    static GATES: std::sync::LazyLock<Gates> =
        std::sync::LazyLock::new(|| crate::settings::this_repository().gates("test").unwrap().clone());

    // Built from parts so that this file does not trip the gate it tests.
    fn kw() -> String {
        ["DO", "NOT", "MERGE"].join(" ")
    }

    fn file(path: &str, status: char, old: Option<u64>, new: Option<u64>) -> FileChange {
        FileChange {
            path: path.into(),
            status,
            old_mode: if old.is_some() { 0o100644 } else { 0 },
            new_mode: 0o100644,
            old_blob: String::new(),
            new_blob: String::new(),
            old_size: old,
            new_size: new,
            ..FileChange::default()
        }
    }

    #[test]
    fn label_rules() {
        let rules = &GATES.labels;
        let blocking = rules.iter().find_map(|r| r.none_of.first()).unwrap().as_str();
        let with = |ls: &[&str]| Pr { labels: Some(ls.iter().map(|s| (*s).to_owned()).collect()), ..Pr::default() };
        let cases: &[(&[&str], Status, usize)] = &[
            (&["kind: fix"], Status::Pass, 0),
            (&[], Status::Fail, 1),
            (&["kind: fix", "kind: docs"], Status::Fail, 1),
            (&["kind: fix", blocking], Status::Fail, 1),
            (&["wip", "blocked"], Status::Fail, 3),
        ];
        for (ls, status, n) in cases {
            let r = labels(&with(ls), rules);
            assert_eq!((r.status, r.findings.len()), (*status, *n), "{ls:?}: {:?}", r.findings);
        }
        assert_eq!(labels(&Pr::default(), rules).status, Status::Skipped);
        assert!(labels(&Pr::default(), rules).summary.contains("--labels"));
    }

    #[test]
    fn keywords_are_whole_words_and_case_insensitive() {
        let (k, nm) = (kw(), ["NO", "MERGE"].concat());
        let kws = [k.as_str(), nm.as_str()];
        // What was found is quoted as written, not as configured.
        assert_eq!(find_keyword(&format!("x {} y", k.to_lowercase()), &kws), Some(k.to_lowercase()));
        assert_eq!(find_keyword(&format!("({})", nm.to_lowercase()), &kws), Some(nm.to_lowercase()));
        assert_eq!(find_marker(&nm.to_lowercase(), &kws), None, "markers match their exact case");
        assert_eq!(find_marker(&format!("// {nm}"), &kws), Some(nm.clone()));
        assert_eq!(find_keyword(&format!("{nm}able"), &kws), None);
        assert_eq!(find_keyword(&format!("x{nm}"), &kws), None);
        assert_eq!(find_keyword("", &kws), None);
    }

    #[test]
    fn keywords_in_pr_commits_and_added_lines() {
        let marker = ["DO", "NOT", "MERGE"].join("-");
        let facts = Facts {
            commits: vec![
                Commit { sha: "a".repeat(40), message: format!("wip\n\n{}", kw().to_lowercase()) },
                Commit { sha: "b".repeat(40), message: "fine".into() },
            ],
            added: vec![
                AddedLine { path: "src/x.rs".into(), line: 7, text: format!("// {marker}") },
                // Prose in documentation is not a marker.
                AddedLine {
                    path: "docs/release.md".into(),
                    line: 3,
                    text: format!("{} until CI is green.", kw().to_lowercase()),
                },
                AddedLine { path: "ci.toml".into(), line: 1, text: marker.clone() },
            ],
            ..Facts::default()
        };
        let pr = Pr { title: Some(format!("[{}] x", kw())), body: Some(kw()), ..Pr::default() };
        let r = keywords(&pr, &facts, &GATES);
        let locations: Vec<_> = r.findings.iter().map(Finding::location).collect();
        assert_eq!(locations, ["pull request", &format!("commit {}", "a".repeat(12)), "src/x.rs:7"]);
        assert_eq!(r.findings[1].message, format!("commit message contains \"{}\" (wip)", kw().to_lowercase()));
        assert!(r.findings[2].message.contains(&format!("the marker \"{marker}\"")), "{:?}", r.findings[2]);
        assert_eq!(r.status, Status::Fail);
        let r = keywords(&Pr::default(), &Facts::default(), &GATES);
        assert_eq!(r.status, Status::Pass);
        assert!(r.summary.contains("not the PR title/body"));
        // The body is searched only where the configuration says so.
        let with_body = Gates { keywords_in: vec![KeywordPlace::Body], ..GATES.clone() };
        let r = keywords(
            &Pr { title: Some(String::new()), body: Some(kw()), ..Pr::default() },
            &Facts::default(),
            &with_body,
        );
        assert_eq!(r.findings.len(), 1);
    }

    #[test]
    fn names_that_are_not_utf8_or_hold_control_characters_fail() {
        let facts = Facts {
            files: vec![
                FileChange { utf8_name: false, ..file("bad\u{fffd}name.txt", 'A', None, Some(5)) },
                file("evil\n::warning::forged.txt", 'A', None, Some(5)),
                file("esc\u{1b}[31m.txt", 'A', None, Some(5)),
                file("fine-ünïcode.txt", 'A', None, Some(5)),
            ],
            ..Facts::default()
        };
        let r = file_patterns(&facts, &GATES);
        let msgs: Vec<_> = r.findings.iter().map(|f| f.message.as_str()).collect();
        assert_eq!(r.findings.len(), 3, "{msgs:?}");
        assert!(
            msgs[0].contains("not valid UTF-8") && msgs[1].contains("'\\n'") && msgs[2].contains("'\\u{1b}'"),
            "{msgs:?}"
        );
    }

    #[test]
    fn every_commit_of_the_pr_is_checked_not_only_the_net_change() {
        let big = GATES.max_file_bytes;
        let added = FileChange {
            commit: Some("c".repeat(40)),
            new_blob: "1".repeat(40),
            ..file("blob.bin", 'A', None, Some(5 << 20))
        };
        let removed =
            FileChange { commit: Some("d".repeat(40)), status: 'D', ..file("blob.bin", 'D', Some(5 << 20), None) };
        let mut orig = file("fix.orig", 'A', None, Some(5));
        orig.commit = Some("c".repeat(40));
        let facts = Facts { history: vec![added, orig, removed], ..Facts::default() };
        let r = large_files(&facts, &GATES);
        assert_eq!(r.findings.len(), 1, "{:?}", r.findings);
        assert!(r.findings[0].message.contains(&format!("in commit {}", "c".repeat(12))), "{:?}", r.findings);
        let r = file_patterns(&facts, &GATES);
        assert!(r.findings.iter().any(|f| f.file.as_deref() == Some("fix.orig")), "{:?}", r.findings);
        // The limit itself fails (`>=`), one byte under passes.
        let at = Facts {
            files: vec![file("at.bin", 'A', None, Some(big)), file("under.bin", 'A', None, Some(big - 1))],
            ..Facts::default()
        };
        let r = large_files(&at, &GATES);
        assert_eq!(r.findings.iter().map(|f| f.location()).collect::<Vec<_>>(), ["at.bin"]);
        // A move is no new content.
        let moved = Facts {
            files: vec![
                FileChange { old_blob: "9".repeat(40), ..file("old/place.bin", 'D', Some(big * 3), None) },
                FileChange { new_blob: "9".repeat(40), ..file("new/place.bin", 'A', None, Some(big * 3)) },
            ],
            ..Facts::default()
        };
        assert_eq!(large_files(&moved, &GATES).status, Status::Pass);
        // Rounding never hides a change.
        let grew = Facts { files: vec![file("g.bin", 'M', Some(big + 10), Some(big + 20))], ..Facts::default() };
        let msg = &large_files(&grew, &GATES).findings[0].message;
        assert!(msg.starts_with(&format!("grew from {} to {} bytes", big + 10, big + 20)), "{msg}");
    }

    #[test]
    fn a_file_and_a_directory_differing_only_by_case_clash() {
        let facts = Facts {
            files: vec![file("SRC", 'A', None, Some(5))],
            tree: ["SRC", "src/lib.rs", "docs/a.md", "Docs/b.md"].map(String::from).to_vec(),
            ..Facts::default()
        };
        let r = file_patterns(&facts, &GATES);
        assert_eq!(r.findings.len(), 1, "{:?}", r.findings);
        assert!(r.findings[0].message.contains("differs only by case from src"), "{:?}", r.findings);
        let facts = Facts { files: vec![file("Docs/b.md", 'A', None, Some(5))], ..facts };
        let r = file_patterns(&facts, &GATES);
        assert!(r.findings.iter().any(|f| f.location() == "Docs" && f.message.contains("docs")), "{:?}", r.findings);
    }

    #[test]
    fn large_files_added_or_grown() {
        let big = GATES.max_file_bytes + 1;
        let facts = Facts {
            files: vec![
                file("new.bin", 'A', None, Some(2 << 20)),
                file("grown.bin", 'M', Some(10), Some(big)),
                file("shrunk.bin", 'M', Some(big + 10), Some(big)),
                file("Cargo.lock", 'M', Some(10), Some(big)),
                file("small.txt", 'A', None, Some(10)),
                file("deleted.bin", 'D', Some(big), None),
                FileChange { lfs_pointer: true, ..file("model.bin", 'A', None, Some(130)) },
            ],
            ..Facts::default()
        };
        let r = large_files(&facts, &GATES);
        let paths: Vec<_> = r.findings.iter().map(|f| f.file.clone().unwrap()).collect();
        assert_eq!(paths, ["new.bin", "grown.bin"]);
        assert!(r.findings[0].message.starts_with("is 2.0 MiB"), "{}", r.findings[0].message);
        assert!(r.summary.contains("1 allowed by glob") && r.summary.contains("1 Git LFS pointers"), "{}", r.summary);
    }

    #[test]
    fn unticked_task_boxes_in_a_description() {
        let body = "## Checklist\n- [x] tests\n- [ ] docs\n  * [ ] nested item\n+ [X] done\n1. [ ] numbered\n2) [ ]\n\
                    -[ ] not a list item\n- [] not a box\ntext - [ ] mid-line\n```md\n- [ ] inside a code block\n```\n\
                    <!-- a template hint:\n- [ ] inside a comment\n-->\n~~~~\n- [ ] tilde fence\n~~~~\n- [ ] last\n";
        let got: Vec<u32> = unticked_boxes(body).iter().map(|(n, _)| *n).collect();
        assert_eq!(got, [3, 4, 6, 7, 20], "{:?}", unticked_boxes(body));
        let on = Gates { checklist: true, ..GATES.clone() };
        let with = |b: &str| Pr { body: Some(b.to_owned()), ..Pr::default() };
        let r = checklist(&with(body), &on);
        assert_eq!((r.status, r.findings.len()), (Status::Fail, 5));
        assert!(r.findings[0].message.starts_with("line 3 of the PR description is an unticked task: - [ ] docs"));
        assert_eq!(checklist(&with("- [x] all done\n"), &on).status, Status::Pass);
        assert_eq!(checklist(&Pr::default(), &on).status, Status::Skipped, "no body known locally");
        let off = Gates { checklist: false, ..GATES.clone() };
        assert_eq!(checklist(&with(body), &off).status, Status::Skipped);
    }

    /// `lfs-allow` exempts paths from the LFS rule (icons kept in git on purpose); elsewhere the rule holds.
    #[test]
    fn lfs_allow_exempts_paths_from_the_lfs_rule() {
        let cfg = Gates { lfs: vec!["*.png".into()], lfs_allow: vec!["assets/icons/**".into()], ..GATES.clone() };
        let facts = Facts {
            files: vec![
                file("assets/icons/app.png", 'A', None, Some(900)),
                file("docs/shot.png", 'A', None, Some(900)),
            ],
            ..Facts::default()
        };
        let r = file_patterns(&facts, &cfg);
        let got: Vec<_> = r.findings.iter().map(Finding::location).collect();
        assert_eq!(got, ["docs/shot.png"], "{:?}", r.findings);
    }

    #[test]
    fn windows_names() {
        for bad in ["CON", "dir/aux.txt", "com1.rs", "a:b", "what?", "x/y*", "trailing.", "space ", "q\"x", "a\\b"] {
            assert!(windows_problem(bad).is_some(), "{bad}");
        }
        for good in ["console.rs", "conf/x", "a.b.c", "COM10", "nul_device.rs"] {
            assert_eq!(windows_problem(good), None, "{good}");
        }
    }

    #[test]
    fn file_patterns_table() {
        let mut link = file("link", 'A', None, Some(5));
        link.new_mode = MODE_SYMLINK;
        let facts = Facts {
            files: vec![
                link,
                file("README.MD", 'A', None, Some(5)),
                file("ok.rs", 'M', Some(1), Some(2)),
                file("patch.orig", 'A', None, Some(5)),
                file("nul.txt", 'A', None, Some(5)),
            ],
            tree: ["link", "README.MD", "README.md", "ok.rs", "patch.orig", "nul.txt", "Old.txt", "old.txt"]
                .map(String::from)
                .to_vec(),
            added: vec![
                AddedLine { path: "ok.rs".into(), line: 3, text: "<<<<<<< HEAD".into() },
                AddedLine { path: "ok.rs".into(), line: 4, text: "=======".into() },
                AddedLine { path: "ok.rs".into(), line: 5, text: ">>>>>>> branch".into() },
                AddedLine { path: "doc.md".into(), line: 2, text: "=======".into() },
                AddedLine { path: "doc.md".into(), line: 9, text: "<<<<<<<<<< not a marker".into() },
            ],
            ..Facts::default()
        };
        let r = file_patterns(&facts, &GATES);
        let got: Vec<_> = r.findings.iter().map(|f| f.location()).collect();
        assert_eq!(got, ["link", "patch.orig", "nul.txt", "README.MD", "ok.rs:3", "ok.rs:4", "ok.rs:5"]);
        // A case clash that was already on main (Old.txt/old.txt) is not this change's fault.
        assert!(!r.findings.iter().any(|f| f.message.contains("Old.txt")));
    }
}
