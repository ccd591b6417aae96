//! The gates on real temporary git repositories: a `main` branch, then a change on a branch.

use std::io::Write as _;

use camino::{Utf8Path, Utf8PathBuf};
use xshell::{Shell, cmd};

use super::*;

/// This repository's gates (ci.toml).
static GATES: std::sync::LazyLock<Gates> =
    std::sync::LazyLock::new(|| crate::settings::this_repository().gates("test").unwrap().clone());

/// Spelled from parts so this file does not trip the keyword gate on its own pull request.
fn kw() -> String {
    ["DO", "NOT", "MERGE"].join(" ")
}

/// The marker form, matched in added lines too.
fn marker() -> String {
    ["DO", "NOT", "MERGE"].join("-")
}

pub(super) struct TempRepo {
    pub dir: Utf8PathBuf,
    pub sh: Shell,
}

impl TempRepo {
    pub(super) fn new(name: &str) -> TempRepo {
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

    pub(super) fn write(&self, path: &str, content: &str) {
        self.write_bytes(path, content.as_bytes());
    }

    pub(super) fn write_bytes(&self, path: &str, content: &[u8]) {
        let p = self.dir.join(path);
        std::fs::create_dir_all(p.parent().unwrap()).unwrap();
        std::fs::write(p, content).unwrap();
    }

    pub(super) fn commit(&self, message: &str) {
        let sh = &self.sh;
        cmd!(sh, "git add -A").run().unwrap();
        cmd!(sh, "git commit -q --allow-empty -m {message}").quiet().run().unwrap();
    }

    pub(super) fn evaluate(&self, args: &flags::Gates, pr: &Pr) -> Result<Report> {
        evaluate(&self.sh, &self.dir, args, pr, &GATES)
    }
}

impl Drop for TempRepo {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.dir);
    }
}

/// The environment of a run outside GitHub Actions, without a token.
fn local_env() -> Env {
    Env {
        actions: None,
        api_url: "https://api.github.invalid".into(),
        token: None,
        tmp: Utf8PathBuf::from_path_buf(std::env::temp_dir()).unwrap().join("xtask-gates-http"),
    }
}

/// The PR facts of `args`, outside GitHub Actions.
fn read_facts(args: &flags::Gates) -> Result<Pr> {
    pr_facts(&Shell::new().unwrap(), args, &local_env())
}

fn base_main() -> flags::Gates {
    flags::Gates { base: Some("main".into()), ..flags::Gates::default() }
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
    let no_head = flags::Gates { event: Some(event.clone()), ..base_main() };
    let err = format!("{:#}", read_facts(&no_head).unwrap_err());
    assert!(err.contains("`pull_request.head.sha` is missing") && err.contains("--head REV"), "{err}");
    let args = flags::Gates { event: Some(event.clone()), head: Some("HEAD".into()), ..base_main() };
    let pr = read_facts(&args).unwrap();
    let r = repo.evaluate(&args, &pr).unwrap();
    assert_eq!(status_of(&r, "labels"), Status::Fail);
    assert!(findings_of(&r, "labels")[0].contains("needs exactly one of"));

    std::fs::write(
        &event,
        r#"{"pull_request":{"title":"Add things","body":null,"labels":[{"name":"kind: feature"}]}}"#,
    )
    .unwrap();
    let pr = read_facts(&args).unwrap();
    let r = repo.evaluate(&args, &pr).unwrap();
    assert_eq!(status_of(&r, "labels"), Status::Pass);
    // Flags override the event.
    let pr = read_facts(&flags::Gates { labels: Some("wip".into()), ..args }).unwrap();
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
    let cases: Vec<(flags::Gates, &str)> = vec![
        (
            flags::Gates { event: Some(dir.join("missing.json")), ..flags::Gates::default() },
            "cannot read the event file",
        ),
        (flags::Gates { event: Some(dir.join("broken.json")), ..flags::Gates::default() }, "not valid JSON"),
        (flags::Gates { event: Some(dir.join("push.json")), ..flags::Gates::default() }, "it is a push event"),
    ];
    for (args, want) in cases {
        let err = format!("{:#}", read_facts(&args).unwrap_err());
        assert!(err.contains(want) && err.contains("\nfix: "), "{err}");
    }
    let err = format!(
        "{:#}",
        repo.evaluate(&flags::Gates { base: Some("nope".into()), ..flags::Gates::default() }, &Pr::default())
            .err()
            .unwrap()
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
        evaluate(&sh, &clone, &flags::Gates { base: Some(base), ..flags::Gates::default() }, &Pr::default(), &GATES)
            .err()
            .unwrap();
    let err = format!("{err:#}");
    assert!(err.contains("shallow clone") && err.contains("fetch-depth: 0"), "{err}");
}

#[test]
fn default_base_is_main_and_json_is_machine_readable() {
    let repo = TempRepo::new("default-base");
    repo.write("x.txt", "x\n");
    repo.commit("x");
    let r = repo.evaluate(&flags::Gates::default(), &Pr::default()).unwrap();
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
    let args = flags::Gates { event: Some(dir.join("e.json")), ..base_main() };
    let e = repo.evaluate(&args, &read_facts(&args).unwrap()).err().unwrap();
    assert!(e.downcast_ref::<JobFailed>().is_none(), "bad input (exit 2), not a gate verdict");
    let err = format!("{e:#}");
    assert!(
        err.contains(&format!("the head commit \"{missing}\"")) && err.contains("is not in this repository"),
        "{err}"
    );
    assert!(err.contains("\nfix: "), "{err}");
    std::fs::write(dir.join("e.json"), r#"{"pull_request":{"title":"t","head":{"sha":"HEAD"}}}"#).unwrap();
    let err = format!("{:#}", read_facts(&args).unwrap_err());
    assert!(err.contains("is \"HEAD\", not a full commit hash"), "{err}");
    for (field, value) in [("title", "42"), ("body", "{\"a\":1}"), ("title", "[\"x\"]")] {
        std::fs::write(dir.join("e.json"), format!(r#"{{"pull_request":{{"{field}":{value}}}}}"#)).unwrap();
        let err = format!("{:#}", read_facts(&args).unwrap_err());
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
    let crate::flags::XtaskCmd::Gates(args) = crate::cli::parse_from(&argv).unwrap().1 else { panic!("not gates") };
    let again = repo.evaluate(&args, &read_facts(&args).unwrap()).unwrap();
    let verdict = |r: &Report| r.results.iter().map(|g| (g.name, g.status, g.findings.len())).collect::<Vec<_>>();
    assert_eq!(verdict(&again), verdict(&r));
    assert_eq!(read_facts(&args).unwrap().labels, pr.labels, "a label with a comma stays one label");
    assert_eq!(read_facts(&args).unwrap().title, pr.title);
    assert_eq!(again.facts.head, head);
    assert_eq!(status_of(&again, "keywords"), Status::Fail, "the title's keyword is part of the verdict");
}

/// The gates on the git the pin's lower bound names (Debian 12's, /usr/bin/git on such a machine), when this
/// machine has it beside a newer one: the bound is one the gates have run on.
#[cfg(unix)]
#[test]
fn the_gates_run_on_the_lowest_git_the_pin_allows() {
    let crate::config::Pin::AtLeast(lowest) = crate::config::tool::GIT.tool().pin else { panic!("git's pin") };
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
        read_facts(&flags::Gates { event: Some(path), ..flags::Gates::default() }).unwrap()
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

/// The repository the merge-group events below come from.
const REPOSITORY: &str = "octo-org/reel";

impl TempRepo {
    /// What GitHub's merge queue does for `branch` (PR `number`): a merge commit of it on top of `parent` (the
    /// base branch's tip, or the group ahead in the queue). Returns the group's head.
    fn queue_group(&self, parent: &str, branch: &str, number: u64) -> String {
        self.git(&["checkout", "-q", "--detach", parent]);
        self.git(&["merge", "-q", "--no-ff", "-m", &format!("Merge pull request #{number} from {branch}"), branch]);
        let head = self.head();
        self.git(&["checkout", "-q", branch]);
        head
    }

    /// The `merge_group` event GitHub writes for that group, in a file.
    fn merge_group_event(&self, number: u64, base_sha: &str, head_sha: &str) -> Utf8PathBuf {
        let v = serde_json::json!({
            "action": "checks_requested",
            "merge_group": {
                "head_sha": head_sha,
                "head_ref": format!("refs/heads/gh-readonly-queue/main/pr-{number}-{base_sha}"),
                "base_sha": base_sha,
                "base_ref": "refs/heads/main",
                "head_commit": {"id": head_sha, "tree_id": "0".repeat(40), "message": format!("Merge pull request #{number}")},
            },
            "repository": {"full_name": REPOSITORY, "name": "reel", "owner": {"login": "octo-org"}},
            "sender": {"login": "github-merge-queue[bot]"},
        });
        let path = self.dir.join(format!(".git/merge-group-{number}.json"));
        std::fs::write(&path, v.to_string()).unwrap();
        path
    }

    /// A run's environment with a token and GitHub's API at `api`.
    fn api_env(&self, api: &str) -> Env {
        Env { api_url: api.to_owned(), token: Some(TOKEN.into()), tmp: self.dir.join(".git/xtask-tmp"), ..local_env() }
    }
}

const TOKEN: &str = "ghs_t0kenForTheTestsOnly";

/// GitHub's answer for `GET /repos/{owner}/{repo}/pulls/{number}` (the fields the gates read, and a few more).
fn pr_object(number: u64, title: &str, body: &str, labels: &[&str], head: &str) -> String {
    serde_json::json!({
        "url": format!("https://api.github.com/repos/{REPOSITORY}/pulls/{number}"),
        "number": number,
        "state": "open",
        "title": title,
        "body": body,
        "labels": labels.iter().map(|l| serde_json::json!({"id": 1, "name": l, "color": "ededed"})).collect::<Vec<_>>(),
        "head": {"ref": "pr", "sha": head},
        "base": {"ref": "main"},
    })
    .to_string()
}

/// The API of GitHub on 127.0.0.1, knowing one pull request: anything else is a 404.
fn api_serving(number: u64, pr: String) -> crate::testutil::MockHttp {
    let path = format!("/repos/{REPOSITORY}/pulls/{number}");
    crate::testutil::MockHttp::start(move |r| {
        if r.method == "GET" && r.target == path {
            (200, pr.clone())
        } else {
            (404, r#"{"message":"Not Found","documentation_url":"https://docs.github.com/rest","status":"404"}"#.into())
        }
    })
}

fn verdict(r: &Report) -> Vec<(&'static str, Status, Vec<String>)> {
    r.results.iter().map(|g| (g.name, g.status, findings_of(r, g.name))).collect()
}

/// A pull request in GitHub's merge queue gets the verdict its pull_request event gets: the merge_group event
/// names only the PR's number (in its branch), the labels, title and body come from GitHub's API (a server on
/// 127.0.0.1 here), and the commits are what the group brings on top of its parent, after main moved on.
#[test]
fn a_merge_group_passes_or_fails_like_its_pull_request() {
    type Build = fn(&TempRepo);
    /// A name, the PR's commits, its labels and description, and the gates that fail.
    type Row<'a> = (&'a str, Build, &'a [&'a str], &'a str, &'a [&'a str]);
    let clean: Build = |r| r.write("src/new.rs", "fn b() {}\n");
    let rows: Vec<Row> = vec![
        ("clean and labelled", clean, &["kind: fix"], "Fixes it.\n\n- [x] tests\n", &[]),
        ("no kind label on the PR", clean, &[], "", &["labels"]),
        ("a do-not-merge label added", clean, &["kind: fix", "do-not-merge"], "", &["labels"]),
        ("an unticked box in the description", clean, &["kind: docs"], "- [ ] docs updated\n", &["checklist"]),
        (
            "a large file added, then removed",
            |r| {
                r.write_bytes("assets/huge.bin", &vec![3u8; 300 << 10]);
                r.commit("add a blob");
                cmd!(r.sh, "git rm -q assets/huge.bin").run().unwrap();
            },
            &["kind: fix"],
            "",
            &["large-files"],
        ),
        (
            "a keyword in a commit message",
            |r| {
                r.write("x.txt", "x\n");
                r.commit(&format!("wip\n\n{}", kw()));
            },
            &["kind: fix"],
            "",
            &["keywords"],
        ),
    ];
    for (name, build, labels, body, failing) in rows {
        let repo = TempRepo::new("merge-group");
        let opened_on = repo.head();
        build(&repo);
        repo.commit(&format!("change: {name}"));
        let pr_head = repo.head();
        // main moves on before the PR is queued.
        repo.git(&["checkout", "-q", "main"]);
        repo.write("docs/main.md", "main's own change\n");
        repo.commit("main moves on");
        let main_tip = repo.head();
        repo.git(&["checkout", "-q", "pr"]);

        let event = serde_json::json!({
            "action": "synchronize",
            "number": 42,
            "pull_request": {
                "number": 42, "title": "Make it better", "body": body,
                "labels": labels.iter().map(|l| serde_json::json!({"name": l})).collect::<Vec<_>>(),
                "head": {"sha": pr_head}, "base": {"ref": "main", "sha": opened_on},
            },
        });
        let pr_event = repo.dir.join(".git/pull-request.json");
        std::fs::write(&pr_event, event.to_string()).unwrap();
        let args = flags::Gates { event: Some(pr_event), ..flags::Gates::default() };
        let pr = read_facts(&args).unwrap();
        let on_pr = evaluate(&repo.sh, &repo.dir, &args, &pr, &GATES).unwrap();

        let group_head = repo.queue_group(&main_tip, "pr", 42);
        let server = api_serving(42, pr_object(42, "Make it better", body, labels, &pr_head));
        let args =
            flags::Gates { event: Some(repo.merge_group_event(42, &main_tip, &group_head)), ..flags::Gates::default() };
        let pr = pr_facts(&repo.sh, &args, &repo.api_env(&server.url())).unwrap_or_else(|e| panic!("{name}: {e:#}"));
        let in_queue = evaluate(&repo.sh, &repo.dir, &args, &pr, &GATES).unwrap();

        assert_eq!(
            (in_queue.facts.base.as_str(), in_queue.facts.head.as_str()),
            (main_tip.as_str(), group_head.as_str())
        );
        assert_eq!(
            in_queue.facts.commits.len(),
            on_pr.facts.commits.len() + 1,
            "{name}: the PR's commits and the merge"
        );
        let failed: Vec<&str> = in_queue.results.iter().filter(|g| g.status == Status::Fail).map(|g| g.name).collect();
        assert_eq!(failed, failing, "{name}:\n{}", render(&in_queue));
        assert_eq!(verdict(&in_queue), verdict(&on_pr), "{name}: queue\n{}\nPR\n{}", render(&in_queue), render(&on_pr));
        let asked = server.requests();
        assert_eq!(asked.len(), 1, "{name}: one request");
        assert_eq!((asked[0].method.as_str(), asked[0].target.as_str()), ("GET", "/repos/octo-org/reel/pulls/42"));
        assert_eq!(asked[0].header("authorization"), Some(format!("Bearer {TOKEN}").as_str()));
        assert_eq!(asked[0].header("accept"), Some("application/vnd.github+json"));
    }
}

/// The second PR of a queue: its group's `base_sha` is the head of the group ahead of it (main plus the first
/// PR), not main's tip. The gates judge `base_sha..head_sha`, what that PR brings: the first PR's large file is
/// the first PR's finding, not the second's (judged against main, the second would fail for it).
#[test]
fn the_second_pr_in_a_queue_is_judged_by_what_it_brings() {
    let repo = TempRepo::new("queue-of-two");
    repo.write_bytes("assets/huge.bin", &vec![3u8; 300 << 10]);
    repo.commit("pr 41: a large file");
    let main = cmd!(repo.sh, "git rev-parse main").read().unwrap();
    repo.git(&["checkout", "-q", "-b", "pr-b", "main"]);
    repo.write("src/b.rs", "fn b() {}\n");
    repo.commit("pr 42: clean");
    let first = repo.queue_group(&main, "pr", 41);
    let second = repo.queue_group(&first, "pr-b", 42);
    for (number, base, head, fails) in [(41, &main, &first, true), (42, &first, &second, false)] {
        let server = api_serving(number, pr_object(number, "t", "", &["kind: fix"], "unused"));
        let args = flags::Gates { event: Some(repo.merge_group_event(number, base, head)), ..flags::Gates::default() };
        let pr = pr_facts(&repo.sh, &args, &repo.api_env(&server.url())).unwrap();
        let r = evaluate(&repo.sh, &repo.dir, &args, &pr, &GATES).unwrap();
        assert_eq!(r.facts.base, *base);
        assert_eq!(r.facts.commits.len(), 2, "PR #{number}: its commit and its merge");
        assert_eq!(status_of(&r, "large-files") == Status::Fail, fails, "PR #{number}:\n{}", render(&r));
        assert!(r.facts.base_desc.contains("merge group's base_sha"), "{}", r.facts.base_desc);
    }
    let against_main = flags::Gates { base: Some("main".into()), head: Some(second), ..flags::Gates::default() };
    let r = evaluate(&repo.sh, &repo.dir, &against_main, &read_facts(&against_main).unwrap(), &GATES).unwrap();
    assert_eq!(status_of(&r, "large-files"), Status::Fail, "main..second holds the first PR's file");
}

/// Every malformed merge_group event is one line of cause and one of fix (exit 2), asks GitHub nothing and never
/// panics: the queue branch is parsed strictly (`pr-`, a decimal number, 40 hex digits, a branch name).
#[test]
fn malformed_merge_group_events_are_one_clean_input_error() {
    let repo = TempRepo::new("bad-merge-group");
    let sha = "a".repeat(40);
    let server = api_serving(42, pr_object(42, "t", "", &["kind: fix"], &sha));
    let env = repo.api_env(&server.url());
    let queue = |tail: &str| format!("refs/heads/gh-readonly-queue/{tail}");
    let head_refs: Vec<(String, &str)> = vec![
        ("refs/heads/main".into(), "does not start with refs/heads/gh-readonly-queue/"),
        (queue(&format!("main/42-{sha}")), "does not start with `pr-`"),
        (queue(&format!("main/pull-42-{sha}")), "does not start with `pr-`"),
        (queue(&format!("main/pr-4x2-{sha}")), "the PR number \"4x2\" is not a decimal number"),
        (queue(&format!("main/pr--{sha}")), "the PR number \"\" is not a decimal number"),
        (queue(&format!("main/pr-042-{sha}")), "is not a decimal number"),
        (queue(&format!("main/pr-0-{sha}")), "is not a decimal number"),
        (queue(&format!("main/pr-99999999999999999999-{sha}")), "is not a decimal number"),
        (queue(&format!("main/pr-\u{661}\u{662}-{sha}")), "is not a decimal number"),
        (queue(&format!("main/pr-+42-{sha}")), "is not a decimal number"),
        (queue("main/pr-42"), "no `-<sha>` follows the number"),
        (queue("main/pr-42-abc123"), "\"abc123\" is not a commit hash of 40 hex digits"),
        (queue(&format!("main/pr-42-{}", "A".repeat(40))), "is not a commit hash of 40 hex digits"),
        (queue(&format!("main/pr-42-{sha}0")), "is not a commit hash of 40 hex digits"),
        (queue(&format!("main/pr-42-{sha}\n::error::forged")), "is not a commit hash of 40 hex digits"),
        (queue(&format!("ma\nin/pr-42-{sha}")), "the base \"ma\\nin\" is not a branch name"),
        (queue(&format!("../main/pr-42-{sha}")), "is not a branch name"),
        (queue(&format!("main/../x/pr-42-{sha}")), "is not a branch name"),
        (queue(&format!("ma in/pr-42-{sha}")), "is not a branch name"),
        (queue(&format!("/pr-42-{sha}")), "is not a branch name"),
        (queue(&format!("pr-42-{sha}")), "names no base branch"),
        (format!("{}\u{202e}", queue(&format!("main/pr-42-{sha}"))), "is not a commit hash"),
    ];
    let good = serde_json::json!({
        "merge_group": {
            "head_sha": sha, "head_ref": queue(&format!("main/pr-42-{sha}")), "base_sha": sha, "base_ref": "refs/heads/main",
        },
        "repository": {"full_name": REPOSITORY},
    });
    let mut cases: Vec<(serde_json::Value, String)> = head_refs
        .into_iter()
        .map(|(head_ref, want)| {
            let mut v = good.clone();
            v["merge_group"]["head_ref"] = head_ref.into();
            (v, want.to_owned())
        })
        .collect();
    let edits: Vec<(&str, serde_json::Value, &str)> = vec![
        ("/merge_group/head_ref", 42.into(), "`merge_group.head_ref` is a number, not a string"),
        ("/merge_group/head_ref", serde_json::Value::Null, "`merge_group.head_ref` is null, not a string"),
        ("/merge_group/head_sha", "HEAD".into(), "`merge_group.head_sha` is \"HEAD\", not a full commit hash"),
        ("/merge_group/head_sha", "é".repeat(60).into(), "not a full commit hash"),
        ("/merge_group/base_sha", "".into(), "`merge_group.base_sha` is \"\", not a full commit hash"),
        (
            "/merge_group/base_ref",
            "refs/heads/release".into(),
            "but `merge_group.head_ref` queues for \"refs/heads/main\"",
        ),
        ("/repository/full_name", "octo-org/../../admin".into(), "is \"octo-org/../../admin\", not `owner/name`"),
        ("/repository/full_name", "octo-org/reel?x=1".into(), "not `owner/name`"),
        ("/repository", serde_json::json!({}), "`repository.full_name` is missing, not a string"),
    ];
    for (pointer, value, want) in edits {
        let mut v = good.clone();
        *v.pointer_mut(pointer).unwrap() = value;
        cases.push((v, want.to_owned()));
    }
    let path = repo.dir.join(".git/event.json");
    for (event, want) in cases {
        std::fs::write(&path, event.to_string()).unwrap();
        let args = flags::Gates { event: Some(path.clone()), ..flags::Gates::default() };
        let err = format!("{:#}", pr_facts(&repo.sh, &args, &env).unwrap_err());
        let lines: Vec<&str> = err.lines().collect();
        assert!(lines.len() == 2 && lines[1].starts_with("fix: "), "one line of cause, one of fix: {err}");
        assert!(lines[0].contains(&want), "{want:?} not in {err}");
        assert!(!err.contains('\u{202e}') && !err.contains('\u{1b}'), "{err:?}");
    }
    assert!(server.requests().is_empty(), "a malformed event asked GitHub: {:?}", server.requests());
    // The base branch may hold `/`.
    let (base, number) = facts::parse_queue_ref(&queue(&format!("release/1.x/pr-7-{sha}"))).unwrap();
    assert_eq!((base.as_str(), number), ("release/1.x", 7));
}

/// Without a token the job says how to give the gates step one (or to pass the facts by hand); flags given on
/// the command line override the API's answer, and with all three no request is made.
#[test]
fn a_merge_group_without_a_token_says_how_to_give_it_one() {
    let repo = TempRepo::new("merge-group-token");
    let sha = repo.head();
    let server = api_serving(42, pr_object(42, "From the API", "api body", &["wip"], &sha));
    let event = repo.merge_group_event(42, &sha, &sha);
    let args = flags::Gates { event: Some(event), ..flags::Gates::default() };
    let no_token = Env { token: None, ..repo.api_env(&server.url()) };
    let err = format!("{:#}", pr_facts(&repo.sh, &args, &no_token).unwrap_err());
    assert_eq!(
        err,
        format!(
            "a merge_group event does not carry PR #42's labels, title and body, and GITHUB_TOKEN is not set to read \
             them from {}/repos/{REPOSITORY}/pulls/42\nfix: give the gates step `GITHUB_TOKEN: ${{{{ github.token }}}}` \
             (its `env:`), or pass the PR's facts with --labels/--title/--body locally",
            server.url()
        )
    );
    // All three by hand: nothing to fetch, no token needed.
    let by_hand = flags::Gates {
        label: vec!["kind: fix".into()],
        title: Some("t".into()),
        body: Some(String::new()),
        event: args.event.clone(),
        ..flags::Gates::default()
    };
    let pr = pr_facts(&repo.sh, &by_hand, &no_token).unwrap();
    assert_eq!((pr.labels, pr.title), (Some(vec!["kind: fix".to_owned()]), Some("t".to_owned())));
    assert!(server.requests().is_empty());
    // Some by hand: the rest from the API, the flags winning.
    let some = flags::Gates { labels: Some("kind: fix".into()), event: args.event.clone(), ..flags::Gates::default() };
    let pr = pr_facts(&repo.sh, &some, &repo.api_env(&server.url())).unwrap();
    assert_eq!(pr.labels, Some(vec!["kind: fix".to_owned()]));
    assert_eq!((pr.title.as_deref(), pr.body.as_deref()), (Some("From the API"), Some("api body")));
    assert_eq!(server.requests().len(), 1);
    // A dry run reads the event and fetches nothing.
    let pr = event_and_flags(&args, &repo.api_env(&server.url())).unwrap();
    assert_eq!(pr.unfetched().map(|q| q.number), Some(42));
    assert_eq!(server.requests().len(), 1);
}

/// An answer that is not that pull request (an error status, not JSON, another PR, a wrong type) is one line
/// naming what came back, and a fix; the token is in neither, whatever the server says.
#[test]
fn the_api_must_answer_with_that_pull_request() {
    let repo = TempRepo::new("merge-group-api");
    let sha = repo.head();
    let echo = format!(r#"{{"message":"Resource not accessible by integration (token {TOKEN})"}}"#);
    let cases: Vec<(u16, String, &str, &str)> = vec![
        (404, r#"{"message":"Not Found"}"#.into(), "answered HTTP 404: Not Found", "exists in octo-org/reel"),
        (401, r#"{"message":"Bad credentials"}"#.into(), "answered HTTP 401: Bad credentials", "refused the token"),
        (403, echo, "answered HTTP 403: Resource not accessible by integration (token ***)", "pull-requests: read"),
        (
            200,
            "<html>\n<body>a proxy's login page</body>".into(),
            "not JSON: \"<html>\\n<body>a proxy's",
            "GITHUB_API_URL",
        ),
        (200, String::new(), "not JSON: an empty body", "GITHUB_API_URL"),
        (200, pr_object(43, "t", "", &[], &sha), "answered with pull request #43, not #42", "GITHUB_API_URL"),
        (200, "[]".into(), "JSON that is not a pull request (no `number`)", "GITHUB_API_URL"),
        (
            200,
            r#"{"number":42,"title":42}"#.into(),
            "pull request #42: `title` is a number, not a string",
            "GITHUB_API_URL",
        ),
        (200, r#"{"number":42,"labels":"kind: fix"}"#.into(), "`labels` is not an array", "GITHUB_API_URL"),
    ];
    let args = flags::Gates { event: Some(repo.merge_group_event(42, &sha, &sha)), ..flags::Gates::default() };
    for (status, body, cause, fix) in cases {
        let server = crate::testutil::MockHttp::start(move |_| (status, body.clone()));
        let err = format!("{:#}", pr_facts(&repo.sh, &args, &repo.api_env(&server.url())).unwrap_err());
        let lines: Vec<&str> = err.lines().collect();
        assert!(lines.len() == 2 && lines[1].starts_with("fix: "), "{err}");
        assert!(lines[0].starts_with(&format!("GET {}/repos/octo-org/reel/pulls/42", server.url())), "{err}");
        assert!(lines[0].contains(cause) && lines[1].contains(fix), "{cause:?} / {fix:?} not in {err}");
        assert!(!err.contains(TOKEN), "{err}");
    }
    // The token goes only over https or to this machine.
    let err = format!("{:#}", pr_facts(&repo.sh, &args, &repo.api_env("http://api.github.example")).unwrap_err());
    assert!(err.starts_with("GITHUB_API_URL: refusing to send a credential to http://api.github.example/"), "{err}");
    assert!(err.contains("\nfix: set GITHUB_API_URL") && !err.contains(TOKEN), "{err}");
}

/// Under GitHub Actions the gates take a merge_group run's event from `$GITHUB_EVENT_PATH`, as they take a
/// pull_request run's; a push or schedule run is still refused with the fix.
#[test]
fn a_merge_group_workflow_run_is_gated_and_a_push_is_not() {
    let repo = TempRepo::new("merge-group-run");
    let sha = repo.head();
    let server = api_serving(42, pr_object(42, "t", "", &["kind: fix"], &sha));
    let event = repo.merge_group_event(42, &sha, &sha);
    let run = |name: &str| Env {
        actions: Some(ActionsRun { event_name: Some(name.to_owned()), event_path: Some(event.clone()) }),
        ..repo.api_env(&server.url())
    };
    let pr = pr_facts(&repo.sh, &flags::Gates::default(), &run("merge_group")).unwrap();
    assert_eq!((pr.labels, pr.head_sha), (Some(vec!["kind: fix".to_owned()]), Some(sha.clone())));
    assert_eq!(pr.merge_group.map(|q| (q.number, q.base_branch)), Some((42, "main".to_owned())));
    for name in ["push", "schedule", "workflow_dispatch"] {
        let err = format!("{:#}", pr_facts(&repo.sh, &flags::Gates::default(), &run(name)).unwrap_err());
        assert_eq!(
            err,
            format!(
                "gates check pull requests; this workflow run is a `{name}` event\nfix: trigger the gates workflow on \
                 pull_request or merge_group, or pass --event / --labels / --title / --body"
            )
        );
    }
    assert_eq!(server.requests().len(), 1);
}
