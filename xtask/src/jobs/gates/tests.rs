//! The gates on real temporary git repositories: a `main` branch, then a change on a branch.

use std::io::Write as _;

use camino::{Utf8Path, Utf8PathBuf};
use xshell::{Shell, cmd};

use super::*;

/// This repository's gates (ci.toml).
static GATES: std::sync::LazyLock<Gates> =
    std::sync::LazyLock::new(|| crate::settings::get().gates("test").unwrap().clone());

/// Spelled from parts so this file does not trip the keyword gate on its own pull request.
fn kw() -> String {
    ["DO", "NOT", "MERGE"].join(" ")
}

/// The marker form, matched in added lines too.
fn marker() -> String {
    ["DO", "NOT", "MERGE"].join("-")
}

pub struct TempRepo {
    pub dir: Utf8PathBuf,
    pub sh: Shell,
}

impl TempRepo {
    pub fn new(name: &str) -> TempRepo {
        static N: std::sync::atomic::AtomicUsize = std::sync::atomic::AtomicUsize::new(0);
        let n = N.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
        let dir = Utf8PathBuf::from_path_buf(std::env::temp_dir())
            .unwrap()
            .join(format!("xtask-gates-{}-{n}-{name}", std::process::id()));
        let _ = std::fs::remove_dir_all(&dir);
        std::fs::create_dir_all(&dir).unwrap();
        let sh = Shell::new().unwrap();
        sh.change_dir(&dir);
        for (k, v) in [
            ("GIT_AUTHOR_NAME", "t"),
            ("GIT_AUTHOR_EMAIL", "t@example.com"),
            ("GIT_COMMITTER_NAME", "t"),
            ("GIT_COMMITTER_EMAIL", "t@example.com"),
            ("GIT_CONFIG_NOSYSTEM", "1"),
        ] {
            sh.set_var(k, v);
        }
        cmd!(sh, "git init -q -b main").run().unwrap();
        cmd!(sh, "git config core.autocrlf false").run().unwrap();
        let repo = TempRepo { dir, sh };
        repo.write("README.md", "# test\n");
        repo.write("src/lib.rs", &format!("// {}: an old line already on main\nfn a() {{}}\n", marker()));
        repo.write("Old.txt", "x");
        repo.commit("initial");
        cmd!(repo.sh, "git checkout -q -b pr").run().unwrap();
        repo
    }

    pub fn write(&self, path: &str, content: &str) {
        self.write_bytes(path, content.as_bytes());
    }

    pub fn write_bytes(&self, path: &str, content: &[u8]) {
        let p = self.dir.join(path);
        std::fs::create_dir_all(p.parent().unwrap()).unwrap();
        std::fs::write(p, content).unwrap();
    }

    pub fn commit(&self, message: &str) {
        let sh = &self.sh;
        cmd!(sh, "git add -A").run().unwrap();
        cmd!(sh, "git commit -q --allow-empty -m {message}").quiet().run().unwrap();
    }

    pub fn evaluate(&self, args: &Args, pr: &Pr) -> Result<Report> {
        evaluate(&self.sh, &self.dir, args, pr, &GATES)
    }
}

impl Drop for TempRepo {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.dir);
    }
}

fn base_main() -> Args {
    Args { base: Some("main".into()), ..Args::default() }
}

fn status_of(r: &Report, gate: &str) -> Status {
    r.results.iter().find(|g| g.name == gate).unwrap().status
}

fn findings_of(r: &Report, gate: &str) -> Vec<String> {
    let g = r.results.iter().find(|g| g.name == gate).unwrap();
    g.findings.iter().map(|f| format!("{}: {}", f.location(), f.message)).collect()
}

type Setup = fn(&TempRepo);

#[test]
fn gates_on_real_repositories() {
    let cases: Vec<(&str, Setup, &str, Status, &str)> = vec![
        ("clean", |r| r.write("src/new.rs", "fn b() {}\n"), "", Status::Pass, ""),
        (
            "two-mib",
            |r| r.write_bytes("data/big.bin", &vec![7u8; 2 << 20]),
            "large-files",
            Status::Fail,
            "data/big.bin: is 2.0 MiB",
        ),
        ("allowlisted", |r| r.write_bytes("Cargo.lock", &vec![b'x'; 2 << 20]), "large-files", Status::Pass, ""),
        (
            "lfs-pointer",
            |r| {
                r.write(".gitattributes", "*.bin filter=lfs diff=lfs merge=lfs -text\n");
                r.write(
                    "model.bin",
                    "version https://git-lfs.github.com/spec/v1\noid sha256:4d7a214614ab2935c943f9e0ff69d22eadbb8f32b1258daaa5e2ca24d17e2393\nsize 2097152\n",
                );
            },
            "large-files",
            Status::Pass,
            "",
        ),
        (
            "case-clash",
            |r| r.write("old.txt", "y"),
            "file-patterns",
            Status::Fail,
            "old.txt: differs only by case from Old.txt",
        ),
        (
            "windows-name",
            |r| r.write("docs/aux.md", "x\n"),
            "file-patterns",
            Status::Fail,
            "docs/aux.md: cannot be checked out on Windows",
        ),
        (
            "conflict-marker",
            |r| r.write("src/lib.rs", "<<<<<<< HEAD\nfn a() {}\n=======\nfn a2() {}\n>>>>>>> other\n"),
            "file-patterns",
            Status::Fail,
            "src/lib.rs:1: leftover merge-conflict marker",
        ),
        (
            "forbidden-glob",
            |r| r.write("src/lib.rs.orig", "x\n"),
            "file-patterns",
            Status::Fail,
            "src/lib.rs.orig: matches the forbidden pattern",
        ),
        (
            "keyword-added",
            |r| r.write("src/new.rs", &format!("fn b() {{}}\n// {}\n", marker())),
            "keywords",
            Status::Fail,
            "src/new.rs:2: added line contains the marker",
        ),
        (
            // Prose in a document may say the phrase: only marker forms count in added lines.
            "keyword-prose",
            |r| r.write("docs/releasing.md", &format!("{} until CI is green.\n", kw().to_lowercase())),
            "",
            Status::Pass,
            "",
        ),
        (
            // A moved file's lines are not added: its marker was already on main.
            "keyword-moved",
            |r| cmd!(r.sh, "git mv src/lib.rs src/moved.rs").run().unwrap(),
            "",
            Status::Pass,
            "",
        ),
        (
            // The keyword line is already on main; the change edits another line of the same file.
            "keyword-on-main",
            |r| r.write("src/lib.rs", &format!("// {}: an old line already on main\nfn a() {{ 1; }}\n", marker())),
            "keywords",
            Status::Pass,
            "",
        ),
    ];
    for (name, setup, gate, want, finding) in cases {
        let repo = TempRepo::new(name);
        setup(&repo);
        repo.commit(&format!("change: {name}"));
        let r = repo.evaluate(&base_main(), &Pr::default()).unwrap_or_else(|e| panic!("{name}: {e:#}"));
        assert_eq!(r.facts.commits.len(), 1, "{name}");
        if gate.is_empty() {
            let failed: Vec<_> = r.results.iter().filter(|g| g.status == Status::Fail).map(|g| g.name).collect();
            assert!(failed.is_empty(), "{name}: {failed:?}\n{}", render(&r));
            assert_eq!(status_of(&r, "labels"), Status::Skipped, "{name}");
            continue;
        }
        assert_eq!(status_of(&r, gate), want, "{name}:\n{}", render(&r));
        if !finding.is_empty() {
            let f = findings_of(&r, gate);
            assert!(f.iter().any(|l| l.starts_with(finding)), "{name}: {f:?}");
        }
        // Only the gate under test fails.
        for g in r.results.iter().filter(|g| g.name != gate) {
            assert_ne!(g.status, Status::Fail, "{name}: {} failed too:\n{}", g.name, render(&r));
        }
    }
}

#[cfg(unix)]
#[test]
fn a_symlink_fails_the_file_patterns_gate() {
    let repo = TempRepo::new("symlink");
    std::os::unix::fs::symlink("README.md", repo.dir.join("link.md")).unwrap();
    repo.commit("add a link");
    let r = repo.evaluate(&base_main(), &Pr::default()).unwrap();
    assert_eq!(
        findings_of(&r, "file-patterns"),
        ["link.md: is a symlink; symlinks do not check out on Windows: commit the file itself"]
    );
}

#[test]
fn keyword_in_a_commit_message() {
    let repo = TempRepo::new("commit-msg");
    repo.write("x.txt", "x\n");
    repo.commit(&format!("wip\n\n{}: needs review", kw()));
    let r = repo.evaluate(&base_main(), &Pr::default()).unwrap();
    let f = findings_of(&r, "keywords");
    assert_eq!(f.len(), 1);
    assert!(f[0].starts_with("commit ") && f[0].contains("commit message contains"), "{f:?}");
}

/// The done-when of the issue: symlink, 1 MiB file and a keyword line all named; with an event lacking
/// labels the label gate fails too.
#[test]
fn a_bad_branch_names_everything_and_an_event_adds_the_label_gate() {
    let repo = TempRepo::new("bad-branch");
    repo.write_bytes("assets/blob.bin", &vec![1u8; 1 << 20]);
    repo.write("notes.txt", &format!("{}\n", marker()));
    #[cfg(unix)]
    std::os::unix::fs::symlink("notes.txt", repo.dir.join("notes-link")).unwrap();
    repo.commit("bad things");
    let r = repo.evaluate(&base_main(), &Pr::default()).unwrap();
    let text = render(&r);
    assert!(text.contains("assets/blob.bin: is 1.0 MiB"), "{text}");
    assert!(text.contains("notes.txt:1: added line contains"), "{text}");
    #[cfg(unix)]
    assert!(text.contains("notes-link: is a symlink"), "{text}");

    let event = repo.dir.join("event.json");
    std::fs::write(&event, r#"{"pull_request":{"title":"Add things","body":"","labels":[]}}"#).unwrap();
    // An event without a head commit is refused: the verdict would be about whatever HEAD is.
    let no_head = Args { event: Some(event.clone()), ..base_main() };
    let err = format!("{:#}", pr_facts(&no_head).unwrap_err());
    assert!(err.contains("`pull_request.head.sha` is missing") && err.contains("--head REV"), "{err}");
    let args = Args { event: Some(event.clone()), head: Some("HEAD".into()), ..base_main() };
    let pr = pr_facts(&args).unwrap();
    let r = repo.evaluate(&args, &pr).unwrap();
    assert_eq!(status_of(&r, "labels"), Status::Fail);
    assert!(findings_of(&r, "labels")[0].contains("needs exactly one of"));

    std::fs::write(
        &event,
        r#"{"pull_request":{"title":"Add things","body":null,"labels":[{"name":"kind: feature"}]}}"#,
    )
    .unwrap();
    let pr = pr_facts(&args).unwrap();
    let r = repo.evaluate(&args, &pr).unwrap();
    assert_eq!(status_of(&r, "labels"), Status::Pass);
    // Flags override the event.
    let pr = pr_facts(&Args { labels: Some(vec!["wip".into()]), ..args }).unwrap();
    assert_eq!(status_of(&repo.evaluate(&base_main(), &pr).unwrap(), "labels"), Status::Fail);
}

#[test]
fn bad_input_is_one_clear_error() {
    let repo = TempRepo::new("bad-input");
    repo.write("x.txt", "x\n");
    repo.commit("x");
    let dir = &repo.dir;
    std::fs::write(dir.join("broken.json"), "{\"pull_request\": {").unwrap();
    std::fs::write(dir.join("push.json"), r#"{"ref":"refs/heads/main","head_commit":{"id":"1"}}"#).unwrap();
    let cases: Vec<(Args, &str)> = vec![
        (Args { event: Some(dir.join("missing.json")), ..Args::default() }, "cannot read the event file"),
        (Args { event: Some(dir.join("broken.json")), ..Args::default() }, "not valid JSON"),
        (Args { event: Some(dir.join("push.json")), ..Args::default() }, "it is a push event"),
    ];
    for (args, want) in cases {
        let err = format!("{:#}", pr_facts(&args).unwrap_err());
        assert!(err.contains(want) && err.contains("\nfix: "), "{err}");
    }
    let err = format!(
        "{:#}",
        repo.evaluate(&Args { base: Some("nope".into()), ..Args::default() }, &Pr::default()).err().unwrap()
    );
    assert!(err.contains("unknown base `nope`") && err.contains("fix: "), "{err}");
    let err =
        format!("{:#}", evaluate(&repo.sh, Utf8Path::new("/"), &base_main(), &Pr::default(), &GATES).err().unwrap());
    assert!(err.contains("not a git repository"), "{err}");
}

#[test]
fn a_shallow_clone_without_the_base_says_to_fetch() {
    let repo = TempRepo::new("shallow-src");
    repo.write("x.txt", "x\n");
    repo.commit("x");
    let base = cmd!(repo.sh, "git rev-parse main").read().unwrap();
    let clone = repo.dir.join("clone");
    let url = format!("file://{}", repo.dir);
    cmd!(repo.sh, "git clone -q --depth 1 --branch pr {url} {clone}").run().unwrap();
    let sh = Shell::new().unwrap();
    let err =
        evaluate(&sh, &clone, &Args { base: Some(base), ..Args::default() }, &Pr::default(), &GATES).err().unwrap();
    let err = format!("{err:#}");
    assert!(err.contains("shallow clone") && err.contains("fetch-depth: 0"), "{err}");
}

#[test]
fn default_base_is_main_and_json_is_machine_readable() {
    let repo = TempRepo::new("default-base");
    repo.write("x.txt", "x\n");
    repo.commit("x");
    let r = repo.evaluate(&Args::default(), &Pr::default()).unwrap();
    assert_eq!(r.facts.base_desc, "main");
    let v = to_json(&r);
    assert_eq!(v["passed"], true);
    assert_eq!(v["gates"].as_array().unwrap().len(), 5);
    assert_eq!(v["gates"][0]["status"], "skipped");
}

#[test]
fn an_event_naming_a_head_not_here_or_a_non_string_title_is_refused() {
    let repo = TempRepo::new("bad-event");
    repo.write("x.txt", "x\n");
    repo.commit("x");
    let dir = &repo.dir;
    let missing = "f".repeat(40);
    std::fs::write(dir.join("e.json"), format!(r#"{{"pull_request":{{"title":"t","head":{{"sha":"{missing}"}}}}}}"#))
        .unwrap();
    let args = Args { event: Some(dir.join("e.json")), ..base_main() };
    let e = repo.evaluate(&args, &pr_facts(&args).unwrap()).err().unwrap();
    assert!(e.downcast_ref::<JobFailed>().is_none(), "bad input (exit 2), not a gate verdict");
    let err = format!("{e:#}");
    assert!(
        err.contains(&format!("the head commit \"{missing}\"")) && err.contains("is not in this repository"),
        "{err}"
    );
    assert!(err.contains("\nfix: "), "{err}");
    std::fs::write(dir.join("e.json"), r#"{"pull_request":{"title":"t","head":{"sha":"HEAD"}}}"#).unwrap();
    let err = format!("{:#}", pr_facts(&args).unwrap_err());
    assert!(err.contains("is \"HEAD\", not a full commit hash"), "{err}");
    for (field, value) in [("title", "42"), ("body", "{\"a\":1}"), ("title", "[\"x\"]")] {
        std::fs::write(dir.join("e.json"), format!(r#"{{"pull_request":{{"{field}":{value}}}}}"#)).unwrap();
        let err = format!("{:#}", pr_facts(&args).unwrap_err());
        assert!(err.contains(&format!("`pull_request.{field}` is")) && err.contains("not a string"), "{err}");
    }
}

#[test]
fn every_commit_is_checked_and_the_root_may_be_a_subdirectory() {
    let repo = TempRepo::new("history");
    repo.write_bytes("assets/huge.bin", &vec![3u8; 1 << 20]);
    repo.commit("add a blob");
    cmd!(repo.sh, "git rm -q assets/huge.bin").run().unwrap();
    repo.commit("remove it again");
    let r = repo.evaluate(&base_main(), &Pr::default()).unwrap();
    assert_eq!(r.facts.files.len(), 0, "the net change is empty");
    let f = findings_of(&r, "large-files");
    assert!(f.len() == 1 && f[0].starts_with("assets/huge.bin: is 1.0 MiB in commit"), "{f:?}");
    // A repository that only squash-merges says so.
    let squash = Gates { every_commit: false, ..GATES.clone() };
    let r = evaluate(&repo.sh, &repo.dir, &base_main(), &Pr::default(), &squash).unwrap();
    assert_eq!(status_of(&r, "large-files"), Status::Pass);

    // The project in a subdirectory of the repository: case clashes with paths elsewhere are still seen.
    let repo = TempRepo::new("subdir");
    repo.write("proj/Cargo.toml", "[workspace]\n");
    repo.write("README.MD", "x\n");
    repo.commit("a clash outside the project's directory");
    let r = evaluate(&repo.sh, &repo.dir.join("proj"), &base_main(), &Pr::default(), &GATES).unwrap();
    let f = findings_of(&r, "file-patterns");
    assert!(f.iter().any(|l| l.starts_with("README.MD: differs only by case from README.md")), "{f:?}");
}

#[test]
fn names_from_the_pr_cannot_forge_output_lines() {
    let repo = TempRepo::new("names");
    repo.write("evil\n::warning::forged.orig", "x\n");
    repo.write("esc\u{1b}[2J.txt", "x\n");
    repo.commit("hostile names");
    let r = repo.evaluate(&base_main(), &Pr::default()).unwrap();
    let text = render(&r);
    assert!(!text.lines().any(|l| l.starts_with("::")), "a line starts with a workflow command:\n{text}");
    assert!(!text.contains('\u{1b}'), "an escape sequence reached the output");
    assert!(text.contains("evil\\n::warning::forged.orig"), "{text}");
    assert_eq!(status_of(&r, "file-patterns"), Status::Fail);
    let md = summary_markdown(&r);
    assert!(!md.lines().any(|l| l.starts_with("::")) && !md.contains('\u{1b}'), "{md}");
    assert_eq!(md.lines().filter(|l| l.starts_with('|')).count(), 2 + r.results.len(), "one row per gate:\n{md}");
}

#[test]
fn the_printed_reproduce_command_gives_the_same_verdict() {
    let repo = TempRepo::new("reproduce");
    repo.write("x.txt", "x\n");
    repo.commit("x");
    let head = cmd!(repo.sh, "git rev-parse HEAD").read().unwrap();
    // Another commit on top: the command must pin the head that was checked, not whatever HEAD is later.
    repo.write("y.txt", "y\n");
    repo.commit("y");
    let title = format!("it's [{}] \"now\" $HOME\n::warning::forged\u{1b}[2J", kw());
    let pr = Pr {
        labels: Some(vec!["kind: fix".into(), "do-not-merge,x".into()]),
        title: Some(title.clone()),
        body: Some("line one\nline 'two'".into()),
        head_sha: Some(head.clone()),
        head_from: "test".into(),
        ..Pr::default()
    };
    let r = repo.evaluate(&base_main(), &pr).unwrap();
    let line = reproduce(&r, &pr);
    assert!(line.starts_with("cargo xtask gates --base ") && line.contains(&format!("--head {head}")), "{line}");
    assert!(!line.contains('\n') && !line.contains('\u{1b}'), "one line, no escape sequence: {line}");
    // bash's own word splitting of the printed line ($'...' quoting), then the CLI's own parser.
    let script = format!("printf '%s\\0' {}", line.trim_start_matches("cargo xtask "));
    let out = cmd!(repo.sh, "bash -c {script}").output().unwrap();
    let argv: Vec<String> = out
        .stdout
        .split(|&b| b == 0)
        .filter(|a| !a.is_empty())
        .map(|a| String::from_utf8(a.to_vec()).unwrap())
        .collect();
    let crate::jobs::Job::Gates(args) = crate::cli::parse_from(&argv).unwrap().1 else { panic!("not gates") };
    let again = repo.evaluate(&args, &pr_facts(&args).unwrap()).unwrap();
    let verdict = |r: &Report| r.results.iter().map(|g| (g.name, g.status, g.findings.len())).collect::<Vec<_>>();
    assert_eq!(verdict(&again), verdict(&r));
    assert_eq!(pr_facts(&args).unwrap().labels, pr.labels, "a label with a comma stays one label");
    assert_eq!(pr_facts(&args).unwrap().title, pr.title);
    assert_eq!(again.facts.head, head);
    assert_eq!(status_of(&again, "keywords"), Status::Fail, "the title's keyword is part of the verdict");
}

/// The gates on the git the pin's lower bound names (Debian 12's, /usr/bin/git on such a machine), when this
/// machine has it beside a newer one: the bound is one the gates have run on.
#[cfg(unix)]
#[test]
fn the_gates_run_on_the_lowest_git_the_pin_allows() {
    let crate::config::Pin::AtLeast(lowest) = crate::config::tool_named("git").pin else { panic!("git's pin") };
    let git = Utf8Path::new("/usr/bin/git");
    let sh = Shell::new().unwrap();
    let version = cmd!(sh, "{git} --version").read().unwrap_or_default();
    if !version.contains(&format!(" {lowest}.")) {
        eprintln!("skipped: /usr/bin/git is {version:?}, not git {lowest} (the pin's lower bound)");
        return;
    }
    let bin = crate::testutil::temp_dir("lowest-git");
    std::os::unix::fs::symlink(git, bin.join("git")).unwrap();
    let repo = TempRepo::new("lowest-git");
    repo.write_bytes("assets/huge.bin", &vec![3u8; 1 << 20]);
    repo.write("SRC", "x\n");
    repo.write("src/lib2.rs", "fn c() {}\n");
    repo.commit("a big file and a case clash");
    cmd!(repo.sh, "git rm -q assets/huge.bin").run().unwrap();
    repo.commit("remove the big file again");
    let path = format!("{bin}:{}", std::env::var("PATH").unwrap_or_default());
    repo.sh.set_var("PATH", &path);
    assert!(cmd!(repo.sh, "git --version").read().unwrap().contains(&format!(" {lowest}.")));
    let r = repo.evaluate(&base_main(), &Pr::default()).unwrap();
    assert_eq!(status_of(&r, "large-files"), Status::Fail, "every commit, on git {lowest}");
    assert!(findings_of(&r, "file-patterns").iter().any(|f| f.contains("differs only by case")), "{}", render(&r));
    std::fs::remove_dir_all(&bin).unwrap();
}

/// A valid Git LFS pointer (git-lfs's spec: version, then sorted keys, a 64-hex sha256 oid and a size).
const POINTER: &str = "version https://git-lfs.github.com/spec/v1\noid sha256:4d7a214614ab2935c943f9e0ff69d22eadbb8f32b1258daaa5e2ca24d17e2393\nsize 61440\n";

impl TempRepo {
    fn git(&self, args: &[&str]) {
        let sh = &self.sh;
        cmd!(sh, "git {args...}").quiet().ignore_stdout().ignore_stderr().run().unwrap();
    }

    /// `message` committed with every byte as given (a record separator, say), through a file.
    fn commit_raw_message(&self, message: &[u8]) {
        let path = self.dir.join(".git/MSG");
        std::fs::write(&path, message).unwrap();
        self.git(&["add", "-A"]);
        self.git(&["commit", "-q", "--allow-empty", "--cleanup=verbatim", "-F", path.as_str()]);
    }

    /// `main` gets a commit of its own (`file`), then the PR branch merges it: `tweak` runs before the merge
    /// commit is made, so what it stages is the merge's own content.
    fn merge_main(&self, file: &str, tweak: impl Fn(&TempRepo)) {
        self.git(&["checkout", "-q", "main"]);
        self.write(file, "main's own change\n");
        self.commit(&format!("main: {file}"));
        self.git(&["checkout", "-q", "pr"]);
        self.git(&["merge", "-q", "--no-ff", "--no-commit", "main"]);
        tweak(self);
        self.git(&["add", "-A"]);
        self.git(&["commit", "-q", "--no-edit"]);
    }

    fn head(&self) -> String {
        let sh = &self.sh;
        cmd!(sh, "git rev-parse HEAD").read().unwrap()
    }
}

/// What a pull request brings into history is judged as content: every tree entry of every commit, merge
/// commits included (an evil merge's own content), whatever a later commit does at the same path; commit
/// messages read by length; Git LFS pointers by the spec. Each row: a history, the gate, and the findings
/// (prefixes) or a pass. The tests pass `--base main` after the PR branch merged it, as CI would.
#[test]
fn history_is_judged_by_every_object_it_brings() {
    /// Builds the history; returns the commit the findings name.
    type Build = fn(&TempRepo) -> String;
    /// (gate, the start of a finding): `{c}` is that commit's short hash.
    type Wanted = &'static [(&'static str, &'static str)];
    let cases: Vec<(&str, Build, Wanted)> = vec![
        (
            "an evil merge adds a 200 KiB blob and a key, the next commit removes them",
            |r| {
                r.write("src/pr.rs", "fn pr() {}\n");
                r.commit("pr work");
                r.merge_main("docs/main.md", |r| {
                    r.write_bytes("vendor/blob.bin", &vec![9u8; 200 << 10]);
                    r.write("deploy/key.pem", "-----BEGIN PRIVATE KEY-----\n");
                });
                let merge = r.head();
                rm_all(r, &["vendor/blob.bin", "deploy/key.pem"]);
                r.commit("remove them again");
                merge
            },
            &[
                ("large-files", "vendor/blob.bin: is 200.0 KiB in commit {c}"),
                ("file-patterns", "deploy/key.pem: matches the forbidden pattern `*.pem` (in commit {c}"),
            ],
        ),
        (
            "the same evil merge, seen by the file patterns",
            |r| {
                r.merge_main("docs/main.md", |r| r.write("deploy/key.pem", "-----BEGIN PRIVATE KEY-----\n"));
                let merge = r.head();
                rm_all(r, &["deploy/key.pem"]);
                r.commit("remove it again");
                merge
            },
            &[("file-patterns", "deploy/key.pem: matches the forbidden pattern `*.pem` (in commit {c}")],
        ),
        (
            "an evil merge changes a file neither side changed",
            |r| {
                r.merge_main("docs/main.md", |r| r.write("src/lib.rs", "<<<<<<< HEAD\nfn a() {}\n>>>>>>> main\n"));
                let merge = r.head();
                r.write("src/lib.rs", "fn a() {}\n");
                r.commit("resolve");
                merge
            },
            &[("file-patterns", "src/lib.rs:1: leftover merge-conflict marker (in commit {c}")],
        ),
        (
            "a 60 KB plain PNG later replaced by an LFS pointer at the same path",
            |r| {
                r.write_bytes("img/logo.png", &vec![0x89u8; 60_000]);
                r.commit("add the logo");
                let c = r.head();
                r.write("img/logo.png", POINTER);
                r.commit("move it to LFS");
                c
            },
            &[(
                "file-patterns",
                "img/logo.png: matches `*.png`, which must be stored in Git LFS, but is committed as a plain file: `git lfs track '*.png'`, then `git rm --cached` and `git add` it again (in commit {c}",
            )],
        ),
        (
            "a symlink to /etc/passwd later replaced by a regular file",
            |r| {
                #[cfg(unix)]
                std::os::unix::fs::symlink("/etc/passwd", r.dir.join("config.txt")).unwrap();
                r.commit("add a link");
                let c = r.head();
                std::fs::remove_file(r.dir.join("config.txt")).unwrap();
                r.write("config.txt", "plain\n");
                r.commit("make it a file");
                c
            },
            &[(
                "file-patterns",
                "config.txt: is a symlink; symlinks do not check out on Windows: commit the file itself (in commit {c}",
            )],
        ),
        (
            "conflict markers committed, then resolved",
            |r| {
                r.write("src/b.rs", "fn b() {}\n<<<<<<< HEAD\nfn c() {}\n=======\nfn d() {}\n>>>>>>> other\n");
                r.commit("half a merge");
                let c = r.head();
                r.write("src/b.rs", "fn b() {}\nfn c() {}\n");
                r.commit("resolved");
                c
            },
            &[("file-patterns", "src/b.rs:2: leftover merge-conflict marker (in commit {c}")],
        ),
        (
            "a record separator in a commit message does not hide the keyword",
            |r| {
                r.write("x.txt", "x\n");
                r.commit_raw_message(format!("fix\x1e{}\x1f\n\nmore\x1e", kw()).as_bytes());
                r.head()
            },
            &[("keywords", "commit {c12}: commit message contains")],
        ),
        (
            "a forbidden file changed by three commits, then deleted: one finding",
            |r| {
                r.write("notes.orig", "1\n");
                r.commit("one");
                let c = r.head();
                r.write("notes.orig", "2\n");
                r.commit("two");
                r.write("notes.orig", "3\n");
                r.commit("three");
                rm_all(r, &["notes.orig"]);
                r.commit("gone");
                c
            },
            &[("file-patterns", "notes.orig: matches the forbidden pattern `*.orig` (in commit {c}")],
        ),
        (
            "a message in another encoding (EBCDIC) does not hide the keyword",
            |r| {
                r.write("y.txt", "y\n");
                let ebcdic: Vec<u8> = format!("fix\n\n{}\n", kw())
                    .bytes()
                    .map(|b| match b {
                        b'\n' => 0x25,
                        b' ' => 0x40,
                        b'D' => 0xC4,
                        b'E' => 0xC5,
                        b'G' => 0xC7,
                        b'M' => 0xD4,
                        b'N' => 0xD5,
                        b'O' => 0xD6,
                        b'R' => 0xD9,
                        b'T' => 0xE3,
                        b'f' => 0x86,
                        b'i' => 0x89,
                        b'x' => 0xA7,
                        other => other,
                    })
                    .collect();
                let path = r.dir.join(".git/MSG");
                std::fs::write(&path, ebcdic).unwrap();
                r.git(&["add", "-A"]);
                r.git(&["-c", "i18n.commitEncoding=IBM037", "commit", "-q", "--cleanup=verbatim", "-F", path.as_str()]);
                r.head()
            },
            &[("keywords", "commit {c12}: commit message contains")],
        ),
        (
            "a blob that starts with the LFS version line but is no pointer",
            |r| {
                r.write("img/fake.png", "version https://git-lfs.github.com/spec/v1\nsize 12\n");
                r.write("img/bad-oid.png", "version https://git-lfs.github.com/spec/v1\noid sha256:xyz\nsize 1\n");
                r.write("img/good.png", POINTER);
                r.commit("pointers?");
                r.head()
            },
            &[
                ("file-patterns", "img/bad-oid.png: matches `*.png`, which must be stored in Git LFS"),
                ("file-patterns", "img/fake.png: matches `*.png`"),
            ],
        ),
        (
            "main merged in, with main's own large file and markers: none of it is the PR's",
            |r| {
                r.git(&["checkout", "-q", "main"]);
                r.write_bytes("examples/data/big.bin", &vec![1u8; 300 << 10]);
                r.write("docs/merge.md", "<<<<<<< a line main keeps on purpose\n");
                r.commit("main: data");
                r.git(&["checkout", "-q", "pr"]);
                r.write("src/pr.rs", "fn pr() {}\n");
                r.commit("pr work");
                r.merge_main("docs/main.md", |_| {});
                r.head()
            },
            &[],
        ),
        (
            "a criss-cross history (two merge-bases): main's own large file is not the PR's",
            |r| {
                r.write("p1.txt", "p1\n");
                r.commit("p1");
                r.git(&["checkout", "-q", "main"]);
                r.write_bytes("mainbig.bin", &vec![5u8; 200 << 10]);
                r.commit("main: big");
                let m1 = r.head();
                r.git(&["merge", "-q", "--no-ff", "pr", "-m", "main merges pr"]);
                r.git(&["checkout", "-q", "pr"]);
                r.git(&["merge", "-q", "--no-ff", &m1, "-m", "pr merges main's big commit"]);
                r.write("p2.txt", "p2\n");
                r.commit("p2");
                r.head()
            },
            &[],
        ),
        (
            "a merge that resolves a conflict without markers",
            |r| {
                r.write("docs/main.md", "the PR's version\n");
                r.commit("pr edits the same file");
                r.git(&["checkout", "-q", "main"]);
                r.write("docs/main.md", "main's version\n");
                r.commit("main edits it");
                r.git(&["checkout", "-q", "pr"]);
                let sh = &r.sh;
                let _ = cmd!(sh, "git merge -q main").quiet().ignore_stdout().ignore_stderr().ignore_status().run();
                r.write("docs/main.md", "both, resolved\n");
                r.commit("merge main");
                r.head()
            },
            &[],
        ),
        (
            "a large file moved by a commit is no new content",
            |r| {
                r.git(&["checkout", "-q", "main"]);
                r.write_bytes("examples/data/old.bin", &vec![4u8; 300 << 10]);
                r.commit("main: data");
                r.git(&["checkout", "-q", "pr"]);
                r.git(&["merge", "-q", "main"]);
                std::fs::create_dir_all(r.dir.join("assets")).unwrap();
                r.git(&["mv", "examples/data/old.bin", "assets/old.bin"]);
                r.commit("move it");
                let c = r.head();
                r.git(&["mv", "assets/old.bin", "examples/data/old.bin"]);
                r.commit("move it back");
                c
            },
            &[],
        ),
    ];
    let cfg = Gates { lfs: vec!["*.png".into()], ..GATES.clone() };
    for (name, build, wanted) in cases {
        let repo = TempRepo::new("history-objects");
        let c = build(&repo);
        let r = evaluate(&repo.sh, &repo.dir, &base_main(), &Pr::default(), &cfg).unwrap();
        for g in &r.results {
            let expect_fail = wanted.iter().any(|(gate, _)| *gate == g.name);
            assert_eq!(
                g.status == Status::Fail,
                expect_fail,
                "{name}: gate {} is {:?}:\n{}",
                g.name,
                g.status,
                render(&r)
            );
            let found = findings_of(&r, g.name);
            let want: Vec<String> = wanted
                .iter()
                .filter(|(gate, _)| *gate == g.name)
                .map(|(_, w)| w.replace("{c12}", &c[..12]).replace("{c}", &c[..12]))
                .collect();
            for w in &want {
                assert!(
                    found.iter().any(|f| f.starts_with(w.as_str())),
                    "{name}: no finding starting with {w:?} in {found:?}"
                );
            }
            assert_eq!(found.len(), want.len(), "{name}: {found:?}");
        }
        // The summary says what was read.
        let summary = &r.results.iter().find(|g| g.name == "file-patterns").unwrap().summary;
        assert!(summary.contains("tree entries every commit brings into history (merges included)"), "{summary}");
    }
}

fn rm_all(r: &TempRepo, paths: &[&str]) {
    for p in paths {
        r.git(&["rm", "-q", p]);
    }
}

/// A pointer is judged by the spec, not by its first line.
#[test]
fn lfs_pointers_by_the_spec() {
    use super::facts::is_lfs_pointer;
    assert!(is_lfs_pointer(POINTER.as_bytes()));
    let with_ext = POINTER.replace("oid sha256", "ext-0-foo sha256:00\noid sha256");
    assert!(is_lfs_pointer(with_ext.as_bytes()), "extensions sort before oid");
    let legacy = POINTER.replace("git-lfs.github.com", "hawser.github.com");
    assert!(is_lfs_pointer(legacy.as_bytes()));
    let bad = [
        "version https://git-lfs.github.com/spec/v1\nsize 12\n".to_owned(),
        POINTER.replace("sha256:4d7a", "sha256:4D7A"),
        POINTER.replace("sha256:4d7a", "sha256:4d7"),
        POINTER.replace("size 61440", "size -1"),
        POINTER.replace("size 61440", "size "),
        POINTER.trim_end().to_owned(),
        POINTER.replace("oid sha256", "zzz x\noid sha256"),
        format!("{POINTER}size 2\n"),
        POINTER.replace("version https://git-lfs.github.com/spec/v1", "version https://example.com/spec/v1"),
        format!("{POINTER}{}\n", "x".repeat(1024)),
        POINTER.replace('\n', "\r\n"),
    ];
    for b in bad {
        assert!(!is_lfs_pointer(b.as_bytes()), "{b:?}");
    }
}

/// A pull request of 2,000 commits (made with `git fast-import`): a 150 KiB blob added by commit 1,000 and
/// removed by the next is found among them, and a marker line in one message. The time is printed (the
/// bench's `gates` row measures it), not asserted.
#[test]
fn a_pr_of_two_thousand_commits_is_read_whole() {
    let repo = TempRepo::new("two-thousand");
    let mut stream = Vec::new();
    let base = {
        let sh = &repo.sh;
        cmd!(sh, "git rev-parse HEAD").read().unwrap()
    };
    for n in 1..=2000u32 {
        let message = if n == 1500 { format!("commit {n}\n\n{}\n", kw()) } else { format!("commit {n}\n") };
        let _ = write!(stream, "commit refs/heads/pr\ncommitter t <t@example.com> {} +0000\n", 1_700_000_000 + n);
        let _ = write!(stream, "data {}\n{message}", message.len());
        if n == 1 {
            let _ = writeln!(stream, "from {base}");
        }
        let file = format!("src/f{}.rs", n % 50);
        let body = format!("fn f{n}() {{}}\n");
        let _ = write!(stream, "M 100644 inline {file}\ndata {}\n{body}\n", body.len());
        if n == 1000 {
            let blob = vec![b'z'; 150 << 10];
            let _ = write!(stream, "M 100644 inline assets/big.bin\ndata {}\n", blob.len());
            stream.extend_from_slice(&blob);
            stream.push(b'\n');
        }
        if n == 1001 {
            stream.extend_from_slice(b"D assets/big.bin\n");
        }
    }
    let sh = &repo.sh;
    cmd!(sh, "git fast-import --quiet --force").stdin(stream).run().unwrap();
    cmd!(sh, "git checkout -q -f pr").run().unwrap();
    let t = std::time::Instant::now();
    let r = repo.evaluate(&base_main(), &Pr::default()).unwrap();
    eprintln!(
        "gates over 2,000 commits: {:.0} ms (git {:.0} ms)",
        t.elapsed().as_secs_f64() * 1e3,
        r.facts.git_time.as_secs_f64() * 1e3
    );
    assert_eq!(r.facts.commits.len(), 2000);
    let f = findings_of(&r, "large-files");
    assert!(f.len() == 1 && f[0].starts_with("assets/big.bin: is 150.0 KiB in commit"), "{f:?}");
    let k = findings_of(&r, "keywords");
    assert!(k.len() == 1 && k[0].contains("(commit 1500)"), "{k:?}");
}

/// The checklist gate from a real `pull_request` event: an unticked box in the description fails it (named by
/// line), ticking it (an `edited` event) passes, and the printed reproduce command gives the same verdict.
#[test]
fn an_unticked_box_in_the_description_fails_the_checklist_gate() {
    let repo = TempRepo::new("checklist");
    repo.write("src/new.rs", "fn b() {}\n");
    repo.commit("work");
    let head = repo.head();
    let cfg = Gates { checklist: true, ..GATES.clone() };
    let event = |body: &str| {
        let v = serde_json::json!({
            "action": "edited",
            "pull_request": {"title": "t", "body": body, "labels": [{"name": "kind: fix"}], "head": {"sha": head}},
        });
        let path = repo.dir.join(".git/event.json");
        std::fs::write(&path, v.to_string()).unwrap();
        pr_facts(&Args { event: Some(path), ..Args::default() }).unwrap()
    };
    let pr = event("Fixes the thing.\n\n- [x] tests\n- [ ] docs updated\n");
    let r = evaluate(&repo.sh, &repo.dir, &base_main(), &pr, &cfg).unwrap();
    assert_eq!(status_of(&r, "checklist"), Status::Fail, "{}", render(&r));
    assert_eq!(
        findings_of(&r, "checklist"),
        [
            "pull request: line 4 of the PR description is an unticked task: - [ ] docs updated; tick it when it is done, or remove it"
        ]
    );
    assert!(r.results.iter().filter(|g| g.name != "checklist").all(|g| g.status != Status::Fail), "{}", render(&r));
    let printed = reproduce(&r, &pr);
    assert!(printed.contains("--body"), "{printed}");
    let pr = event("Fixes the thing.\n\n- [x] tests\n- [x] docs updated\n");
    let r = evaluate(&repo.sh, &repo.dir, &base_main(), &pr, &cfg).unwrap();
    assert_eq!(status_of(&r, "checklist"), Status::Pass, "{}", render(&r));
}
