//! The gates as pure functions of the facts: table-testable without git.

use std::collections::HashMap;

use super::facts::{Facts, MODE_SYMLINK, Pr};
use crate::config::{Gates, LabelRule};
use crate::glob;

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Status {
    Pass,
    Fail,
    Skipped,
}

impl Status {
    pub fn as_str(self) -> &'static str {
        match self {
            Status::Pass => "pass",
            Status::Fail => "FAIL",
            Status::Skipped => "skipped",
        }
    }
}

#[derive(Clone, Debug, PartialEq)]
pub struct Finding {
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
    pub fn location(&self) -> String {
        match (&self.file, self.line, &self.commit) {
            (Some(f), Some(l), _) => format!("{f}:{l}"),
            (Some(f), None, _) => f.clone(),
            (None, _, Some(c)) => format!("commit {}", &c[..c.len().min(12)]),
            _ => "pull request".to_owned(),
        }
    }
}

#[derive(Clone, Debug)]
pub struct GateResult {
    pub name: &'static str,
    pub status: Status,
    pub summary: String,
    pub findings: Vec<Finding>,
}

fn result(name: &'static str, findings: Vec<Finding>, summary: String) -> GateResult {
    let status = if findings.is_empty() { Status::Pass } else { Status::Fail };
    GateResult { name, status, summary, findings }
}

pub fn evaluate(pr: &Pr, facts: &Facts, cfg: &Gates) -> Vec<GateResult> {
    vec![labels(pr, cfg.label_rules), keywords(pr, facts, cfg), large_files(facts, cfg), file_patterns(facts, cfg)]
}

pub fn labels(pr: &Pr, rules: &[LabelRule]) -> GateResult {
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
        match rule {
            LabelRule::ExactlyOneOf(set) => {
                let have: Vec<&str> = labels.iter().map(String::as_str).filter(|l| set.contains(l)).collect();
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
            LabelRule::NoneOf(set) => {
                said.push(format!("none of {}", set.join(", ")));
                for l in labels.iter().filter(|l| set.contains(&l.as_str())) {
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

/// Case-insensitive whole-word occurrences of any keyword in `text`.
pub fn find_keyword<'k>(text: &str, keywords: &[&'k str]) -> Option<&'k str> {
    let hay = text.to_ascii_lowercase();
    let bytes = hay.as_bytes();
    keywords.iter().copied().find(|k| {
        let needle = k.to_ascii_lowercase();
        hay.match_indices(&needle).any(|(i, m)| {
            let before = i.checked_sub(1).map(|j| bytes[j]);
            let after = bytes.get(i + m.len()).copied();
            let word = |b: Option<u8>| b.is_some_and(|b| b.is_ascii_alphanumeric() || b == b'_');
            !word(before) && !word(after)
        })
    })
}

pub fn keywords(pr: &Pr, facts: &Facts, cfg: &Gates) -> GateResult {
    let kw = cfg.keywords;
    let mut findings = Vec::new();
    let mut where_ = Vec::new();
    for (field, value) in [("title", &pr.title), ("body", &pr.body)] {
        if let Some(text) = value {
            where_.push(format!("the PR {field}"));
            if let Some(k) = find_keyword(text, kw) {
                findings.push(Finding {
                    file: None,
                    line: None,
                    commit: None,
                    message: format!("the PR {field} contains \"{k}\""),
                });
            }
        }
    }
    for c in &facts.commits {
        if let Some(k) = find_keyword(&c.message, kw) {
            let subject = c.message.lines().next().unwrap_or_default();
            findings.push(Finding {
                file: None,
                line: None,
                commit: Some(c.sha.clone()),
                message: format!("commit message contains \"{k}\" ({subject})"),
            });
        }
    }
    let mut searched = 0;
    for a in &facts.added {
        if glob::first_match(cfg.keyword_exempt, &a.path).is_some() {
            continue;
        }
        searched += 1;
        if let Some(k) = find_keyword(&a.text, kw) {
            findings.push(Finding::file(&a.path, Some(a.line), format!("added line contains \"{k}\"")));
        }
    }
    where_.push(format!("{} commit messages", facts.commits.len()));
    where_.push(format!("{searched} added lines"));
    if pr.title.is_none() {
        where_.push("not the PR title/body (pass --title/--body or --event)".to_owned());
    }
    result("keywords", findings, format!("searched {}", where_.join(", ")))
}

pub fn large_files(facts: &Facts, cfg: &Gates) -> GateResult {
    let limit = cfg.max_file_bytes;
    let mut findings = Vec::new();
    let mut allowed = 0;
    let mut pointers = 0;
    for f in facts.files.iter().filter(|f| f.status != 'D') {
        pointers += usize::from(f.lfs_pointer);
        let Some(new) = f.new_size else { continue };
        let grown = f.old_size.is_none_or(|old| new > old);
        if new <= limit || !grown {
            continue;
        }
        if glob::first_match(cfg.large_file_allow, &f.path).is_some() {
            allowed += 1;
            continue;
        }
        let how = match f.old_size {
            Some(old) => format!("grew from {} to {}", human(old), human(new)),
            None => format!("is {}", human(new)),
        };
        findings.push(Finding::file(
            &f.path,
            None,
            format!(
                "{how}, over the {} limit; use Git LFS or allow it in config::GATES.large_file_allow",
                human(limit)
            ),
        ));
    }
    let mut summary = format!("{} changed files checked against {}", facts.files.len(), human(limit));
    if allowed > 0 {
        summary.push_str(&format!(", {allowed} allowed by glob"));
    }
    if pointers > 0 {
        summary.push_str(&format!(", {pointers} Git LFS pointers counted as pointers"));
    }
    result("large-files", findings, summary)
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
pub fn windows_problem(path: &str) -> Option<String> {
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

fn conflict_marker(text: &str) -> bool {
    ["<<<<<<<", ">>>>>>>", "|||||||"]
        .iter()
        .any(|m| text.strip_prefix(m).is_some_and(|rest| rest.is_empty() || rest.starts_with(' ')))
}

pub fn file_patterns(facts: &Facts, cfg: &Gates) -> GateResult {
    let mut findings = Vec::new();
    let changed: Vec<_> = facts.files.iter().filter(|f| f.status != 'D').collect();
    for f in &changed {
        if f.new_mode == MODE_SYMLINK {
            findings.push(Finding::file(
                &f.path,
                None,
                "is a symlink; symlinks do not check out on Windows: commit the file itself".to_owned(),
            ));
        }
        if let Some(why) = windows_problem(&f.path) {
            findings.push(Finding::file(&f.path, None, format!("cannot be checked out on Windows: {why}")));
        }
        if let Some(g) = glob::first_match(cfg.forbidden_globs, &f.path) {
            findings.push(Finding::file(&f.path, None, format!("matches the forbidden pattern `{g}`")));
        }
    }
    // Case clashes that involve a path the change adds or modifies.
    let mut by_lower: HashMap<String, Vec<&str>> = HashMap::with_capacity(facts.tree.len());
    for p in &facts.tree {
        by_lower.entry(p.to_lowercase()).or_default().push(p);
    }
    for f in &changed {
        if let Some(group) = by_lower.get(&f.path.to_lowercase()).filter(|g| g.len() > 1) {
            let others: Vec<_> = group.iter().filter(|p| **p != f.path).copied().collect();
            findings.push(Finding::file(
                &f.path,
                None,
                format!("differs only by case from {}; they collide on macOS and Windows", others.join(", ")),
            ));
        }
    }
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
            "{} changed paths: symlinks, case clashes, Windows names, conflict markers, forbidden globs",
            changed.len()
        ),
    )
}

#[cfg(test)]
mod tests {
    use super::super::facts::{AddedLine, Commit, FileChange};
    use super::*;
    use crate::config::GATES;

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
            lfs_pointer: false,
        }
    }

    #[test]
    fn label_rules() {
        let rules = GATES.label_rules;
        let blocking = rules
            .iter()
            .find_map(|r| match r {
                LabelRule::NoneOf(set) => Some(set[0]),
                LabelRule::ExactlyOneOf(_) => None,
            })
            .unwrap();
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
        assert_eq!(find_keyword(&format!("x {} y", k.to_lowercase()), &kws), Some(k.as_str()));
        assert_eq!(find_keyword(&format!("({})", nm.to_lowercase()), &kws), Some(nm.as_str()));
        assert_eq!(find_keyword(&format!("{nm}able"), &kws), None);
        assert_eq!(find_keyword(&format!("x{nm}"), &kws), None);
        assert_eq!(find_keyword("", &kws), None);
    }

    #[test]
    fn keywords_in_pr_commits_and_added_lines() {
        let facts = Facts {
            commits: vec![
                Commit { sha: "a".repeat(40), message: format!("wip\n\n{}", kw()) },
                Commit { sha: "b".repeat(40), message: "fine".into() },
            ],
            added: vec![
                AddedLine { path: "src/x.rs".into(), line: 7, text: format!("// {}", kw()) },
                AddedLine { path: "xtask/src/config.rs".into(), line: 1, text: kw() },
            ],
            ..Facts::default()
        };
        let pr = Pr { title: Some(format!("[{}] x", kw())), body: Some(String::new()), ..Pr::default() };
        let r = keywords(&pr, &facts, &GATES);
        let locations: Vec<_> = r.findings.iter().map(Finding::location).collect();
        assert_eq!(locations, ["pull request", &format!("commit {}", "a".repeat(12)), "src/x.rs:7"]);
        assert_eq!(r.status, Status::Fail);
        let r = keywords(&Pr::default(), &Facts::default(), &GATES);
        assert_eq!(r.status, Status::Pass);
        assert!(r.summary.contains("not the PR title/body"));
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
