//! Everything the gates look at, gathered with a handful of git processes (independent of repository size
//! but for `ls-tree`), and the pull request's facts from a GitHub event or from flags.

use std::time::{Duration, Instant};

use anyhow::{Context, Result, anyhow, bail};
use camino::{Utf8Path, Utf8PathBuf};
use serde_json::Value;
use xshell::{Shell, cmd};

/// Labels, title and body of the pull request; `None` where unknown (locally, without flags).
#[derive(Clone, Debug, Default)]
pub(crate) struct Pr {
    pub labels: Option<Vec<String>>,
    pub title: Option<String>,
    pub body: Option<String>,
    /// Base and head commits named by the event.
    pub base_sha: Option<String>,
    pub head_sha: Option<String>,
    /// Where the facts came from, for the report.
    pub source: String,
    /// Where the head commit came from (the event, or --head), for messages.
    pub head_from: String,
    /// The pull request a merge_group event is about: its labels, title and body are not in the event.
    pub merge_group: Option<QueueEntry>,
}

impl Pr {
    /// The merge-queue entry whose labels, title or body are still to be read from GitHub's API.
    pub(crate) fn unfetched(&self) -> Option<&QueueEntry> {
        self.merge_group.as_ref().filter(|_| self.labels.is_none() || self.title.is_none() || self.body.is_none())
    }
}

/// A pull request in GitHub's merge queue, as its merge_group event names it.
#[derive(Clone, Debug, PartialEq)]
pub(crate) struct QueueEntry {
    pub number: u64,
    /// `owner/name`, the event's `repository.full_name`.
    pub repository: String,
    /// The branch the queue merges into (from `merge_group.head_ref`).
    pub base_branch: String,
}

#[derive(Clone, Debug, PartialEq)]
pub(crate) struct FileChange {
    pub path: String,
    /// git's status letter: A added, M modified, T type changed, D deleted.
    pub status: char,
    pub old_mode: u32,
    pub new_mode: u32,
    pub old_blob: String,
    pub new_blob: String,
    pub old_size: Option<u64>,
    pub new_size: Option<u64>,
    /// The new content is a Git LFS pointer.
    pub lfs_pointer: bool,
    /// The path as git stored it is valid UTF-8 (`path` is a lossy rendering otherwise).
    pub utf8_name: bool,
    /// The commit that made this change, for the changes of single commits (`None`: the PR's net change).
    pub commit: Option<String>,
    /// Every parent's side of the change (mode, blob): one for a commit (and the net change), one per parent for a
    /// merge's combined record (`old_mode`/`old_blob` are the first's).
    pub parents: Vec<(u32, String)>,
    /// A history entry's first merge-conflict marker line that none of its parents' versions has (1-based).
    pub new_marker_line: Option<u32>,
}

impl Default for FileChange {
    fn default() -> FileChange {
        FileChange {
            path: String::new(),
            status: 'A',
            old_mode: 0,
            new_mode: 0o100644,
            old_blob: String::new(),
            new_blob: String::new(),
            old_size: None,
            new_size: None,
            lfs_pointer: false,
            utf8_name: true,
            commit: None,
            parents: Vec::new(),
            new_marker_line: None,
        }
    }
}

pub(super) const MODE_SYMLINK: u32 = 0o120000;
pub(super) const MODE_GITLINK: u32 = 0o160000;

#[derive(Clone, Debug, PartialEq)]
pub(crate) struct AddedLine {
    pub path: String,
    pub line: u32,
    pub text: String,
}

#[derive(Clone, Debug, PartialEq)]
pub(crate) struct Commit {
    pub sha: String,
    pub message: String,
}

#[derive(Clone, Debug, Default)]
pub(crate) struct Facts {
    /// How the base was chosen, for the report.
    pub base_desc: String,
    /// The base commit itself (what the reproduce command pins).
    pub base: String,
    pub merge_base: String,
    pub head: String,
    pub files: Vec<FileChange>,
    /// What each commit the PR brings puts into history, merges included: every tree entry that differs from
    /// the same path in each of its parents (for a merge, git's combined record: an evil merge's own content).
    /// Empty unless the gates check every commit.
    pub history: Vec<FileChange>,
    pub added: Vec<AddedLine>,
    pub commits: Vec<Commit>,
    /// Every path in the head tree (for case clashes).
    pub tree: Vec<String>,
    /// Time spent waiting for git.
    pub git_time: Duration,
}

/// A bad-input error: what is wrong, and what to do.
pub(super) fn input_error(cause: impl std::fmt::Display, fix: impl std::fmt::Display) -> anyhow::Error {
    anyhow!("{cause}\nfix: {fix}")
}

/// Reads a GitHub `pull_request` or `merge_group` event.
pub(super) fn read_event(path: &Utf8Path) -> Result<Pr> {
    let text = std::fs::read_to_string(path).map_err(|e| {
        input_error(
            format!("cannot read the event file {path}: {e}"),
            "pass --event with the path of a pull_request or merge_group event JSON, or run without --event",
        )
    })?;
    parse_event(&text).map_err(|e| {
        let msg = format!("{e:#}");
        let (cause, fix) = msg.split_once("\nfix: ").unwrap_or((&msg, ""));
        input_error(format!("event file {path}: {cause}"), fix)
    })
}

const UNMODIFIED: &str = "pass the event JSON GitHub writes to $GITHUB_EVENT_PATH, unmodified";

pub(super) fn parse_event(text: &str) -> Result<Pr> {
    let v: Value = serde_json::from_str(text).map_err(|e| input_error(format!("not valid JSON ({e})"), UNMODIFIED))?;
    if let Some(group) = v.get("merge_group").filter(|g| g.is_object()) {
        return parse_merge_group(&v, group);
    }
    let Some(pr) = v.get("pull_request").filter(|p| p.is_object()) else {
        let kind = if v.get("head_commit").is_some() || v.get("pusher").is_some() {
            "a push event"
        } else if v.get("issue").is_some() {
            "an issue event"
        } else {
            "not a pull_request or merge_group event"
        };
        bail!(input_error(
            format!("it is {kind}: it has no `pull_request` or `merge_group` object"),
            "run gates on pull_request and merge_group events only, or pass the PR facts with --labels/--title/--body"
        ));
    };
    let str_at = |v: &Value, ptr: &str| v.pointer(ptr).and_then(Value::as_str).map(str::to_owned);
    let text = pr_text(pr, "pull_request.", UNMODIFIED)?;
    Ok(Pr {
        labels: Some(text.labels),
        title: Some(text.title),
        body: Some(text.body),
        base_sha: str_at(pr, "/base/sha"),
        head_sha: str_at(pr, "/head/sha"),
        source: "event".to_owned(),
        head_from: "the event's pull_request.head.sha".to_owned(),
        merge_group: None,
    })
}

/// Labels, title and body of a pull request object (an event's `pull_request`, or the REST API's answer).
#[derive(Clone, Debug, PartialEq)]
pub(super) struct PrText {
    pub labels: Vec<String>,
    pub title: String,
    pub body: String,
}

/// The labels, title and body of `pr`, a pull request object; `prefix` names it in messages
/// (`pull_request.`), `fix` is the fix of every error.
pub(super) fn pr_text(pr: &Value, prefix: &str, fix: &str) -> Result<PrText> {
    let labels = match pr.get("labels") {
        None | Some(Value::Null) => Vec::new(),
        Some(Value::Array(items)) => items
            .iter()
            .map(|l| {
                l.get("name")
                    .and_then(Value::as_str)
                    .map(str::to_owned)
                    .ok_or_else(|| input_error(format!("a label in `{prefix}labels` has no `name`"), fix))
            })
            .collect::<Result<_>>()?,
        Some(_) => bail!(input_error(format!("`{prefix}labels` is not an array"), fix)),
    };
    let text_at = |field: &str| -> Result<String> {
        match pr.get(field) {
            None | Some(Value::Null) => Ok(String::new()),
            Some(Value::String(s)) => Ok(s.clone()),
            Some(other) => {
                Err(input_error(format!("`{prefix}{field}` is {}, not a string", crate::github::json_kind(other)), fix))
            }
        }
    };
    Ok(PrText { labels, title: text_at("title")?, body: text_at("body")? })
}

/// A value from an event, as a message may quote it: its first 80 characters, escaped (one line).
pub(super) fn shown(s: &str) -> String {
    let head: String = s.chars().take(80).collect();
    format!("{head:?}{}", if s.chars().count() > 80 { "..." } else { "" })
}

/// A `merge_group` event: the PR is named only by the queue's branch (`merge_group.head_ref`); the commits
/// judged are what the group brings on top of its parent (`base_sha..head_sha`).
fn parse_merge_group(v: &Value, group: &Value) -> Result<Pr> {
    let string = |ptr: &str| -> Result<&str> {
        match v.pointer(ptr) {
            Some(Value::String(s)) => Ok(s),
            other => Err(input_error(
                format!(
                    "`{}` is {}, not a string",
                    ptr.trim_start_matches('/').replace('/', "."),
                    other.map_or("missing", crate::github::json_kind)
                ),
                UNMODIFIED,
            )),
        }
    };
    let (base_branch, number) = parse_queue_ref(string("/merge_group/head_ref")?)?;
    let hash = |field: &str| -> Result<String> {
        let sha = string(&format!("/merge_group/{field}"))?;
        if !crate::workspace::is_full_hash(sha) {
            bail!(input_error(format!("`merge_group.{field}` is {}, not a full commit hash", shown(sha)), UNMODIFIED));
        }
        Ok(sha.to_owned())
    };
    let (head_sha, base_sha) = (hash("head_sha")?, hash("base_sha")?);
    // The branch the queue merges into, said twice: both must agree.
    if let Some(base_ref) = group.get("base_ref") {
        let want = format!("refs/heads/{base_branch}");
        if base_ref.as_str() != Some(want.as_str()) {
            bail!(input_error(
                format!(
                    "`merge_group.base_ref` is {}, but `merge_group.head_ref` queues for {}",
                    base_ref.as_str().map_or_else(|| crate::github::json_kind(base_ref).to_owned(), shown),
                    shown(&want)
                ),
                UNMODIFIED,
            ));
        }
    }
    let repository = string("/repository/full_name")?;
    if !is_repository_name(repository) {
        bail!(input_error(format!("`repository.full_name` is {}, not `owner/name`", shown(repository)), UNMODIFIED));
    }
    Ok(Pr {
        labels: None,
        title: None,
        body: None,
        base_sha: Some(base_sha),
        head_sha: Some(head_sha),
        source: format!("merge_group event of PR #{number}"),
        head_from: "the event's merge_group.head_sha".to_owned(),
        merge_group: Some(QueueEntry { number, repository: repository.to_owned(), base_branch }),
    })
}

/// The base branch and the PR number of a merge queue's branch,
/// `refs/heads/gh-readonly-queue/<base>/pr-<number>-<40 hex digits>` (the base may hold `/`).
pub(super) fn parse_queue_ref(head_ref: &str) -> Result<(String, u64)> {
    let bad = |why: String| {
        input_error(
            format!(
                "`merge_group.head_ref` {} is not a merge queue branch \
                 (refs/heads/gh-readonly-queue/<base>/pr-<number>-<sha>): {why}",
                shown(head_ref)
            ),
            UNMODIFIED,
        )
    };
    let rest = head_ref
        .strip_prefix("refs/heads/gh-readonly-queue/")
        .ok_or_else(|| bad("it does not start with refs/heads/gh-readonly-queue/".to_owned()))?;
    let (base, entry) = rest.rsplit_once('/').ok_or_else(|| bad("it names no base branch".to_owned()))?;
    let entry = entry.strip_prefix("pr-").ok_or_else(|| bad("its last part does not start with `pr-`".to_owned()))?;
    let (number, sha) = entry.split_once('-').ok_or_else(|| bad("no `-<sha>` follows the number".to_owned()))?;
    let digits = !number.is_empty() && number.len() <= 18 && number.bytes().all(|b| b.is_ascii_digit());
    let number = match number.parse::<u64>() {
        Ok(n) if digits && n > 0 && !number.starts_with('0') => n,
        _ => return Err(bad(format!("the PR number {} is not a decimal number", shown(number)))),
    };
    if sha.len() != 40 || !sha.bytes().all(|b| b.is_ascii_digit() || (b'a'..=b'f').contains(&b)) {
        return Err(bad(format!("{} is not a commit hash of 40 hex digits", shown(sha))));
    }
    if !is_branch_name(base) {
        return Err(bad(format!("the base {} is not a branch name", shown(base))));
    }
    Ok((base.to_owned(), number))
}

/// A branch name git accepts (`git check-ref-format --branch`): no control or special characters, no `..`,
/// `@{`, empty or dot-led component, no `.lock` or `.` at the end.
fn is_branch_name(b: &str) -> bool {
    !b.is_empty()
        && b.len() <= 255
        && !b.starts_with('-')
        && !b.ends_with('.')
        && !b.contains("..")
        && !b.contains("@{")
        && b != "@"
        && !b.chars().any(|c| c.is_control() || c.is_whitespace() || "~^:?*[\\".contains(c))
        && b.split('/').all(|part| !part.is_empty() && !part.starts_with('.') && !part.ends_with(".lock"))
}

/// `owner/name` as GitHub spells repositories: letters, digits, `-` in the owner, and `.` `_` in the name too.
fn is_repository_name(s: &str) -> bool {
    let Some((owner, name)) = s.split_once('/') else { return false };
    (1..=39).contains(&owner.len())
        && owner.bytes().all(|b| b.is_ascii_alphanumeric() || b == b'-')
        && (1..=100).contains(&name.len())
        && name.bytes().all(|b| b.is_ascii_alphanumeric() || b"-._".contains(&b))
        && name != "."
        && name != ".."
}

/// Runs git in one repository and keeps count of the time it takes.
pub(super) struct Git<'a> {
    sh: &'a Shell,
    repo: Utf8PathBuf,
    pub time: Duration,
}

impl<'a> Git<'a> {
    pub(super) fn new(sh: &'a Shell, repo: &Utf8Path) -> Git<'a> {
        Git { sh, repo: repo.to_owned(), time: Duration::ZERO }
    }

    fn run(&mut self, args: &[&str], stdin: Option<&[u8]>) -> Result<Result<Vec<u8>, String>> {
        let repo = &self.repo;
        let t = Instant::now();
        let mut c = cmd!(self.sh, "git -C {repo} -c core.quotePath=false {args...}").quiet().ignore_status();
        if let Some(input) = stdin {
            c = c.stdin(input);
        }
        let out = c.output().with_context(|| format!("running git {} in {repo}", args.join(" ")))?;
        self.time += t.elapsed();
        Ok(if out.status.success() {
            Ok(out.stdout)
        } else {
            Err(String::from_utf8_lossy(&out.stderr).trim().to_owned())
        })
    }

    /// Runs git; a failure is an error naming the command.
    pub(super) fn out(&mut self, args: &[&str]) -> Result<Vec<u8>> {
        self.run(args, None)?.map_err(|e| anyhow!("git {} failed: {e}", args.join(" ")))
    }

    fn text(&mut self, args: &[&str]) -> Result<String> {
        Ok(String::from_utf8_lossy(&self.out(args)?).trim().to_owned())
    }

    /// The commit `rev` names, if it exists here.
    pub(super) fn commit(&mut self, rev: &str) -> Result<Option<String>> {
        let spec = format!("{rev}^{{commit}}");
        Ok(self
            .run(&["rev-parse", "--verify", "--quiet", &spec], None)?
            .ok()
            .map(|o| String::from_utf8_lossy(&o).trim().to_owned()))
    }

    fn shallow(&mut self) -> Result<bool> {
        Ok(self.text(&["rev-parse", "--is-shallow-repository"])? == "true")
    }
}

const FETCH_FIX: &str = "fetch the history: `git fetch --unshallow` (or `git fetch --deepen=N origin`); in GitHub \
Actions give actions/checkout `fetch-depth: 0`";

/// Finds the base and head, then collects the change between their merge-base and head.
pub(super) fn collect(
    sh: &Shell,
    repo: &Utf8Path,
    base: Option<&str>,
    pr: &Pr,
    cfg: &crate::settings::Gates,
) -> Result<Facts> {
    let main_branch = cfg.main_branch.as_str();
    let mut git = Git::new(sh, repo);
    let head = find_head(&mut git, repo, pr)?;
    let (base_rev, base_desc) = find_base(&mut git, base, pr, main_branch)?;
    let (base_commit, merge_base) = merge_base_of(&mut git, &base_rev, &head, main_branch)?;
    // What the PR brings: the commits reachable from the head and not from the base (with two merge-bases, a
    // criss-cross history, `merge_base..head` would hold commits main already has).
    let commits = read_commits(&mut git, &format!("{base_commit}..{head}"))?;
    let (mut files, on_base) = changed_files(&mut git, &base_commit, &merge_base, &head)?;
    fill_sizes(&mut git, &mut files)?;
    let mut added = added_lines(&mut git, &merge_base, &head)?;
    added.retain(|a| !on_base.contains(&a.path));
    // --full-tree: every path of the repository, wherever in it the gates run.
    let tree = git.out(&["ls-tree", "-r", "-z", "--full-tree", "--name-only", &head])?;
    let tree =
        tree.split(|&b| b == 0).filter(|p| !p.is_empty()).map(|p| String::from_utf8_lossy(p).into_owned()).collect();
    let history =
        if cfg.every_commit && !commits.is_empty() { history_entries(&mut git, &commits, &files)? } else { Vec::new() };
    Ok(Facts {
        base_desc,
        base: base_commit,
        merge_base,
        head,
        files,
        history,
        added,
        commits,
        tree,
        git_time: git.time,
    })
}

/// The head commit: the PR's (never a silent fallback to HEAD: the verdict would be about another commit), else
/// HEAD.
fn find_head(git: &mut Git<'_>, repo: &Utf8Path, pr: &Pr) -> Result<String> {
    if git.run(&["rev-parse", "--git-dir"], None)?.is_err() {
        bail!(input_error(format!("{repo} is not a git repository"), "run gates inside a clone of the repository"));
    }
    if let Some(bad) = pr.head_sha.as_deref().filter(|h| h.is_empty() || h.starts_with('-') || h.len() > 256) {
        let shown: String = bad.chars().take(80).collect();
        bail!(input_error(
            format!("the head {shown:?} ({}) is not a revision", pr.head_from),
            "name a commit: a hash, a branch or a tag"
        ));
    }
    Ok(match pr.head_sha.as_deref() {
        // Never a silent fallback to HEAD: the verdict would be about another commit than the PR's.
        Some(sha) => git.commit(sha)?.ok_or_else(|| {
            input_error(
                format!("the head commit {sha:?} ({}) is not in this repository", pr.head_from),
                format!(
                    "check out the pull request's head (actions/checkout does), or `git fetch origin {sha}`{}",
                    if git.shallow().unwrap_or(false) {
                        "; this clone is shallow: `git fetch --unshallow`"
                    } else {
                        ""
                    }
                ),
            )
        })?,
        None => git
            .commit("HEAD")?
            .ok_or_else(|| input_error("the repository has no commits", "commit the change, then run gates"))?,
    })
}

/// The revision to compare with, and how it was found: `--base`, the event's, else the remote's default branch,
/// `origin/<main>` or `<main>`.
fn find_base(git: &mut Git<'_>, base: Option<&str>, pr: &Pr, main_branch: &str) -> Result<(String, String)> {
    Ok(match (base, pr.base_sha.as_deref()) {
        (Some(b), _) => (b.to_owned(), format!("--base {b}")),
        (None, Some(sha)) => (
            sha.to_owned(),
            match &pr.merge_group {
                // The group's parent: the base branch's tip, or the group ahead of it in the queue.
                Some(q) => format!("the merge group's base_sha, in the {} queue", q.base_branch),
                None => "the event's base".to_owned(),
            },
        ),
        (None, None) => {
            let origin = format!("origin/{main_branch}");
            // The remote's default branch, where it says (`git remote set-head origin --auto` records it).
            let remote_default = git
                .run(&["symbolic-ref", "--quiet", "--short", "refs/remotes/origin/HEAD"], None)?
                .ok()
                .map(|o| String::from_utf8_lossy(&o).trim().to_owned())
                .filter(|r| !r.is_empty());
            let candidates: Vec<String> =
                remote_default.into_iter().chain([origin.clone(), main_branch.to_owned()]).collect();
            let found = candidates.into_iter().find(|r| matches!(git.commit(r), Ok(Some(_))));
            match found {
                Some(r) => (r.clone(), r),
                None => bail!(input_error(
                    format!("no base to compare with: neither {origin} nor {main_branch} exists"),
                    format!(
                        "pass --base REV, `git fetch origin {main_branch}`, or name the main branch in ci.toml ([gates] main-branch)"
                    )
                )),
            }
        }
    })
}

/// The base's commit and its merge-base with the head (an error says how to fetch what a shallow clone lacks).
fn merge_base_of(git: &mut Git<'_>, base_rev: &str, head: &str, main_branch: &str) -> Result<(String, String)> {
    let Some(base_commit) = git.commit(base_rev)? else {
        if git.shallow()? {
            bail!(input_error(format!("the base {base_rev} is not in this shallow clone"), FETCH_FIX));
        }
        bail!(input_error(
            format!("unknown base `{base_rev}`: no such commit, branch or tag"),
            format!(
                "pass an existing revision, e.g. --base origin/{main_branch} after `git fetch origin {main_branch}`"
            )
        ));
    };
    let merge_base = match git.run(&["merge-base", &base_commit, head], None)? {
        Ok(out) => String::from_utf8_lossy(&out).trim().to_owned(),
        Err(_) if git.shallow()? => {
            bail!(input_error(format!("{base_rev} and HEAD have no common history in this shallow clone"), FETCH_FIX))
        }
        Err(e) => bail!(input_error(
            format!("{base_rev} and HEAD have no common ancestor ({e})"),
            "pass a --base that HEAD was branched from"
        )),
    };
    Ok((base_commit, merge_base))
}

/// The commits of `range`, oldest first, each read whole (hashes, then each object by its length: no byte a
/// message can hold splits it).
fn read_commits(git: &mut Git<'_>, range: &str) -> Result<Vec<Commit>> {
    let list = git.out(&["rev-list", "--topo-order", "--reverse", range])?;
    let shas: Vec<String> = String::from_utf8_lossy(&list).split_whitespace().map(str::to_owned).collect();
    Ok(if shas.is_empty() {
        Vec::new()
    } else {
        let query: String = shas.iter().map(|s| format!("{s}\n")).collect();
        let out = git.run(&["cat-file", "--batch"], Some(query.as_bytes()))?;
        let batch = out.map_err(|e| anyhow!("git cat-file --batch failed: {e}"))?;
        let mut commits = parse_commits(&batch)?;
        // A message in another encoding (the commit's `encoding` header) is read as git shows it, re-encoded to
        // UTF-8: a keyword in EBCDIC or UTF-16 is a keyword all the same. Rare, so one git process each.
        for (c, encoding) in commits.iter_mut().zip(commit_encodings(&batch)?) {
            if encoding.is_some_and(|e| !e.eq_ignore_ascii_case("utf-8") && !e.eq_ignore_ascii_case("utf8")) {
                let shown = git.out(&["log", "-1", "--encoding=UTF-8", "--format=%B", &c.sha])?;
                c.message = format!("{}\n{}", String::from_utf8_lossy(&shown).trim_end(), c.message);
            }
        }
        commits
    })
}

/// The files the PR changes (merge-base to head), less what the base already holds where a criss-cross history
/// has several merge-bases; and the paths left out that way.
fn changed_files(
    git: &mut Git<'_>,
    base_commit: &str,
    merge_base: &str,
    head: &str,
) -> Result<(Vec<FileChange>, std::collections::HashSet<String>)> {
    let raw = git.out(&["diff", "--raw", "-z", "--no-abbrev", "--no-renames", merge_base, head])?;
    let mut files = parse_raw(&raw)?;
    // With several merge-bases the diff from one of them can show what main itself has: an entry the base holds
    // at the same path with the same content is not the PR's change.
    let mut on_base = std::collections::HashSet::new();
    let bases = git.out(&["merge-base", "--all", base_commit, head])?;
    if String::from_utf8_lossy(&bases).split_whitespace().count() > 1 {
        let listing = git.out(&["ls-tree", "-r", "-z", "--full-tree", base_commit])?;
        let base_entries: std::collections::HashSet<(u32, String, String)> = listing
            .split(|&b| b == 0)
            .filter_map(|rec| {
                let tab = rec.iter().position(|&b| b == b'\t')?;
                let meta = String::from_utf8_lossy(&rec[..tab]).into_owned();
                let mut parts = meta.split(' ');
                let mode = u32::from_str_radix(parts.next()?, 8).ok()?;
                let blob = parts.nth(1)?.to_owned();
                Some((mode, blob, String::from_utf8_lossy(&rec[tab + 1..]).into_owned()))
            })
            .collect();
        files.retain(|f| {
            let there = base_entries.contains(&(f.new_mode, f.new_blob.clone(), f.path.clone()));
            if there {
                on_base.insert(f.path.clone());
            }
            !there
        });
    }
    Ok((files, on_base))
}

/// The lines the PR adds (a moved file's lines are not added lines: only what the move changed is).
fn added_lines(git: &mut Git<'_>, merge_base: &str, head: &str) -> Result<Vec<AddedLine>> {
    let patch = git.out(&[
        "diff",
        "-U0",
        "--no-color",
        "--no-ext-diff",
        // A moved file's lines are not added lines: only what the move changed is.
        "--find-renames",
        "--src-prefix=a/",
        "--dst-prefix=b/",
        merge_base,
        head,
    ])?;
    Ok(parse_added_lines(&String::from_utf8_lossy(&patch)))
}

/// Every tree entry each commit of the PR brings into history (merges included), with the conflict markers of
/// those the net change does not show.
fn history_entries(git: &mut Git<'_>, commits: &[Commit], files: &[FileChange]) -> Result<Vec<FileChange>> {
    // `-c`: a merge's combined record lists the paths whose result differs from every parent (what the
    // merge itself brings: a conflict resolution, or an evil merge's own content); a commit's record is
    // its diff with its parent. Together: every tree entry the PR brings into history.
    let list: String = commits.iter().map(|c| format!("{}\n", c.sha)).collect();
    let out = git.run(
        &["diff-tree", "--stdin", "-r", "-z", "-c", "--no-abbrev", "--no-renames", "--root"],
        Some(list.as_bytes()),
    )?;
    let mut history = parse_diff_tree(&out.map_err(|e| anyhow!("git diff-tree --stdin failed: {e}"))?)?;
    fill_sizes(git, &mut history)?;
    let net: std::collections::HashSet<(&str, &str, u32)> =
        files.iter().map(|f| (f.path.as_str(), f.new_blob.as_str(), f.new_mode)).collect();
    let only_history: Vec<usize> = (0..history.len())
        .filter(|&i| {
            let f = &history[i];
            f.status != 'D' && !net.contains(&(f.path.as_str(), f.new_blob.as_str(), f.new_mode))
        })
        .collect();
    find_new_markers(git, &mut history, &only_history)?;
    Ok(history)
}

/// Commits from `git cat-file --batch`: each `<sha> commit <size>\n`, then that many bytes (headers, a blank
/// line, the message), then `\n`.
pub(super) fn parse_commits(out: &[u8]) -> Result<Vec<Commit>> {
    Ok(parse_batch(out)?
        .into_iter()
        .map(|(sha, body)| {
            let message = match body.windows(2).position(|w| w == b"\n\n") {
                Some(i) => &body[i + 2..],
                None => &[][..],
            };
            Commit { sha, message: String::from_utf8_lossy(message).trim_end().to_owned() }
        })
        .collect())
}

/// Each commit's `encoding` header, if it has one (in the order of [`parse_commits`]).
fn commit_encodings(out: &[u8]) -> Result<Vec<Option<String>>> {
    Ok(parse_batch(out)?
        .into_iter()
        .map(|(_, body)| {
            let end = body.windows(2).position(|w| w == b"\n\n").unwrap_or(body.len());
            String::from_utf8_lossy(&body[..end])
                .lines()
                .find_map(|l| l.strip_prefix("encoding ").map(|e| e.trim().to_owned()))
        })
        .collect())
}

/// The objects of `git cat-file --batch` output, each read by the length its header gives: (sha, content).
fn parse_batch(out: &[u8]) -> Result<Vec<(String, &[u8])>> {
    let mut objects = Vec::new();
    let mut rest = out;
    while !rest.is_empty() {
        let nl = rest.iter().position(|&b| b == b'\n').context("git cat-file --batch: a header without an end")?;
        let header = String::from_utf8_lossy(&rest[..nl]).into_owned();
        let mut parts = header.split(' ');
        let (Some(sha), Some(kind), Some(size)) = (parts.next(), parts.next(), parts.next()) else {
            bail!("git cat-file --batch: unexpected header {header:?}");
        };
        let size: usize = size.parse().with_context(|| format!("git cat-file --batch: a bad size in {header:?}"))?;
        let start = nl + 1;
        let end = start + size;
        if end > rest.len() || kind == "missing" {
            bail!("git cat-file --batch: {sha} is cut short");
        }
        objects.push((sha.to_owned(), &rest[start..end]));
        rest = rest.get(end + 1..).unwrap_or_default();
    }
    Ok(objects)
}

/// Parses `git diff-tree --stdin -r -z [-c]`: each commit's hash, then its raw records (a merge's combined).
pub(super) fn parse_diff_tree(out: &[u8]) -> Result<Vec<FileChange>> {
    let mut changes = Vec::new();
    let mut commit: Option<String> = None;
    let mut fields = out.split(|&b| b == 0).filter(|f| !f.is_empty()).peekable();
    while let Some(field) = fields.next() {
        if !field.starts_with(b":") {
            let sha = String::from_utf8_lossy(field).trim().to_owned();
            if !crate::workspace::is_full_hash(&sha) {
                bail!("git diff-tree: expected a commit hash, got {sha:?}");
            }
            commit = Some(sha);
            continue;
        }
        let path = fields.next().context("git diff-tree: a record without a path")?;
        let mut record = parse_record(field, path)?;
        record.commit = commit.clone();
        changes.push(record);
    }
    Ok(changes)
}

/// Parses `git diff --raw -z --no-abbrev --no-renames`.
pub(super) fn parse_raw(raw: &[u8]) -> Result<Vec<FileChange>> {
    let mut out = Vec::new();
    let mut fields = raw.split(|&b| b == 0).filter(|f| !f.is_empty());
    while let Some(header) = fields.next() {
        let path = fields.next().context("git diff --raw: a record without a path")?;
        out.push(parse_record(header, path)?);
    }
    Ok(out)
}

/// One raw record: `:old_mode new_mode old_sha new_sha status` and the path; or a combined one (a merge with
/// N parents): N colons, N+1 modes, N+1 blobs (the parents', then the result's), N status letters.
fn parse_record(header: &[u8], path: &[u8]) -> Result<FileChange> {
    let header = String::from_utf8_lossy(header);
    let parents = header.bytes().take_while(|&b| b == b':').count();
    let parts: Vec<&str> = header[parents..].split(' ').collect();
    if parents == 0 || parts.len() != 2 * (parents + 1) + 1 {
        bail!("git diff --raw: unexpected record {header:?}");
    }
    let mode = |m: &str| u32::from_str_radix(m, 8).with_context(|| format!("bad mode {m}"));
    let modes = parts[..=parents].iter().map(|m| mode(m)).collect::<Result<Vec<u32>>>()?;
    let blobs = &parts[parents + 1..2 * parents + 2];
    let letters = parts[2 * parents + 2];
    let null = |b: &str| b.bytes().all(|c| c == b'0');
    let status = if null(blobs[parents]) && modes[parents] == 0 {
        'D'
    } else if letters.chars().all(|c| c == 'A') {
        'A'
    } else {
        letters.chars().find(|&c| c != 'A').unwrap_or('M')
    };
    Ok(FileChange {
        path: String::from_utf8_lossy(path).into_owned(),
        status,
        old_mode: modes[0],
        new_mode: modes[parents],
        old_blob: blobs[0].to_owned(),
        new_blob: blobs[parents].to_owned(),
        utf8_name: std::str::from_utf8(path).is_ok(),
        parents: (0..parents).map(|i| (modes[i], blobs[i].to_owned())).collect(),
        ..FileChange::default()
    })
}

/// Whether `blob` is a Git LFS pointer by the spec (git-lfs's docs/spec.md): under 1024 bytes of UTF-8 `key
/// value` lines, each ending in `\n`; `version` first (the spec's URL), the other keys in sorted order, each once;
/// an `oid sha256:` of 64 lower-case hex digits and a decimal `size`. Anything else is a file, whatever it starts
/// with.
pub(super) fn is_lfs_pointer(blob: &[u8]) -> bool {
    const VERSIONS: [&str; 2] = ["https://git-lfs.github.com/spec/v1", "https://hawser.github.com/spec/v1"];
    let Ok(text) = std::str::from_utf8(blob) else { return false };
    if blob.len() >= 1024 || !text.ends_with('\n') {
        return false;
    }
    let mut lines = text[..text.len() - 1].split('\n');
    match lines.next().and_then(|l| l.strip_prefix("version ")) {
        Some(v) if VERSIONS.contains(&v) => {}
        _ => return false,
    }
    let (mut oid, mut size, mut last_key) = (false, false, String::new());
    for line in lines {
        let Some((key, value)) = line.split_once(' ') else { return false };
        let key_ok = !key.is_empty()
            && key.bytes().all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'.' || b == b'-');
        if !key_ok || key <= last_key.as_str() || key == "version" || value.is_empty() {
            return false;
        }
        match key {
            "oid" => {
                let Some(hex) = value.strip_prefix("sha256:") else { return false };
                if hex.len() != 64 || !hex.bytes().all(|b| b.is_ascii_digit() || (b'a'..=b'f').contains(&b)) {
                    return false;
                }
                oid = true;
            }
            "size" => {
                if !value.bytes().all(|b| b.is_ascii_digit()) || value.parse::<u64>().is_err() {
                    return false;
                }
                size = true;
            }
            _ => {}
        }
        last_key = key.to_owned();
    }
    oid && size
}

/// Whether (`sha`, `mode`) names a blob: not the null hash (40 or 64 zeros), a deletion or a submodule's commit.
fn is_blob(sha: &str, mode: u32) -> bool {
    !sha.bytes().all(|b| b == b'0') && mode != MODE_GITLINK && mode != 0
}

/// Looks up every side's blob size with one `git cat-file --batch-check` (a merge's record: the largest
/// parent's is the old size), and reads the new blobs under 1024 bytes with one `git cat-file --batch` to tell
/// Git LFS pointers by the spec.
fn fill_sizes(git: &mut Git<'_>, files: &mut [FileChange]) -> Result<()> {
    let olds = |f: &FileChange| -> Vec<(u32, String)> {
        if f.parents.is_empty() { vec![(f.old_mode, f.old_blob.clone())] } else { f.parents.clone() }
    };
    let mut query = String::new();
    let mut asked = std::collections::HashSet::new();
    for f in files.iter() {
        for (mode, sha) in olds(f).into_iter().chain([(f.new_mode, f.new_blob.clone())]) {
            if is_blob(&sha, mode) && asked.insert(sha.clone()) {
                query.push_str(&sha);
                query.push('\n');
            }
        }
    }
    if query.is_empty() {
        return Ok(());
    }
    let out = git.run(&["cat-file", "--batch-check=%(objectname) %(objectsize)"], Some(query.as_bytes()))?;
    let out = out.map_err(|e| anyhow!("git cat-file --batch-check failed: {e}"))?;
    let sizes: std::collections::HashMap<String, u64> = String::from_utf8_lossy(&out)
        .lines()
        .filter_map(|l| {
            let (sha, size) = l.split_once(' ')?;
            Some((sha.to_owned(), size.parse().ok()?))
        })
        .collect();
    let mut small = String::new();
    let mut asked = std::collections::HashSet::new();
    for f in files.iter_mut() {
        f.old_size =
            olds(f).iter().filter(|(m, sha)| is_blob(sha, *m)).filter_map(|(_, sha)| sizes.get(sha)).max().copied();
        if is_blob(&f.new_blob, f.new_mode) {
            f.new_size = sizes.get(&f.new_blob).copied();
            if f.new_size.is_some_and(|s| s < 1024) && asked.insert(f.new_blob.clone()) {
                small.push_str(&f.new_blob);
                small.push('\n');
            }
        }
    }
    if small.is_empty() {
        return Ok(());
    }
    let out = git.run(&["cat-file", "--batch"], Some(small.as_bytes()))?;
    let out = out.map_err(|e| anyhow!("git cat-file --batch failed: {e}"))?;
    let pointers: std::collections::HashSet<String> =
        parse_batch(&out)?.into_iter().filter(|(_, body)| is_lfs_pointer(body)).map(|(sha, _)| sha).collect();
    for f in files.iter_mut() {
        f.lfs_pointer = pointers.contains(&f.new_blob);
    }
    Ok(())
}

/// Blobs read for conflict markers: text files up to this size (a larger one is a large-file finding anyway).
const MARKER_SCAN_BYTES: u64 = 1 << 20;

/// For the history entries `which` (those the net change does not show): the first merge-conflict marker line
/// of the new blob that none of its parents' versions of the path holds, with one `git cat-file --batch`.
fn find_new_markers(git: &mut Git<'_>, history: &mut [FileChange], which: &[usize]) -> Result<()> {
    let regular = |mode: u32| mode & 0o170000 == 0o100000;
    let mut query = String::new();
    let mut asked = std::collections::HashSet::new();
    let mut ask = |sha: &str, query: &mut String| {
        if asked.insert(sha.to_owned()) {
            query.push_str(sha);
            query.push('\n');
        }
    };
    for &i in which {
        let f = &history[i];
        if !regular(f.new_mode) || f.new_size.is_none_or(|s| s > MARKER_SCAN_BYTES) {
            continue;
        }
        ask(&f.new_blob, &mut query);
        for (mode, sha) in &f.parents {
            if is_blob(sha, *mode) && regular(*mode) {
                ask(sha, &mut query);
            }
        }
    }
    if query.is_empty() {
        return Ok(());
    }
    let out = git.run(&["cat-file", "--batch"], Some(query.as_bytes()))?;
    let out = out.map_err(|e| anyhow!("git cat-file --batch failed: {e}"))?;
    // Each blob's marker lines (text, line number); binary blobs (a NUL byte) have none.
    let markers: std::collections::HashMap<String, Vec<(String, u32)>> = parse_batch(&out)?
        .into_iter()
        .map(|(sha, body)| {
            let lines = if body.contains(&0) {
                Vec::new()
            } else {
                String::from_utf8_lossy(body)
                    .lines()
                    .enumerate()
                    .filter(|(_, l)| super::checks::conflict_marker(l.trim_end_matches('\r')))
                    .map(|(n, l)| (l.to_owned(), n as u32 + 1))
                    .collect()
            };
            (sha, lines)
        })
        .collect();
    for &i in which {
        let f = &history[i];
        let Some(new) = markers.get(&f.new_blob) else { continue };
        let old: std::collections::HashSet<&str> =
            f.parents.iter().filter_map(|(_, sha)| markers.get(sha)).flatten().map(|(l, _)| l.as_str()).collect();
        let line = new.iter().find(|(l, _)| !old.contains(l.as_str())).map(|&(_, n)| n);
        history[i].new_marker_line = line;
    }
    Ok(())
}

/// The lines a `git diff -U0` patch adds, with their line numbers in the new file.
pub(super) fn parse_added_lines(patch: &str) -> Vec<AddedLine> {
    let mut out = Vec::new();
    let mut path: Option<String> = None;
    let mut lines = patch.lines();
    while let Some(line) = lines.next() {
        if let Some(rest) = line.strip_prefix("+++ ") {
            path = if rest == "/dev/null" { None } else { Some(unquote(rest).trim_start_matches("b/").to_owned()) };
        } else if line.starts_with("diff --git ") {
            path = None;
        } else if let Some(hunk) = line.strip_prefix("@@ ") {
            let Some((old, new)) = hunk_counts(hunk) else { continue };
            let (mut to_remove, (mut lineno, mut to_add)) = (old, new);
            while to_remove + to_add > 0 {
                let Some(l) = lines.next() else { break };
                if l.starts_with('\\') {
                    continue; // "\ No newline at end of file"
                }
                if let Some(text) = l.strip_prefix('+') {
                    if let Some(p) = &path {
                        out.push(AddedLine { path: p.clone(), line: lineno, text: text.to_owned() });
                    }
                    lineno += 1;
                    to_add = to_add.saturating_sub(1);
                } else {
                    to_remove = to_remove.saturating_sub(1);
                }
            }
        }
    }
    out
}

/// `-a,b +c,d @@` -> (b, (c, d)); a missing count is 1.
fn hunk_counts(hunk: &str) -> Option<(u32, (u32, u32))> {
    let mut parts = hunk.split(' ');
    let old = parts.next()?.strip_prefix('-')?;
    let new = parts.next()?.strip_prefix('+')?;
    let count = |s: &str| -> Option<(u32, u32)> {
        match s.split_once(',') {
            Some((start, n)) => Some((start.parse().ok()?, n.parse().ok()?)),
            None => Some((s.parse().ok()?, 1)),
        }
    };
    Some((count(old)?.1, count(new)?))
}

/// Undoes git's C-style quoting of unusual paths (`"b/a\"b"`).
fn unquote(s: &str) -> String {
    let Some(inner) = s.strip_prefix('"').and_then(|s| s.strip_suffix('"')) else { return s.to_owned() };
    let mut bytes = Vec::new();
    let mut chars = inner.bytes().peekable();
    while let Some(c) = chars.next() {
        if c != b'\\' {
            bytes.push(c);
            continue;
        }
        match chars.next() {
            Some(b'n') => bytes.push(b'\n'),
            Some(b't') => bytes.push(b'\t'),
            Some(d @ b'0'..=b'7') => {
                let mut v = u32::from(d - b'0');
                for _ in 0..2 {
                    if let Some(&d @ b'0'..=b'7') = chars.peek() {
                        v = v * 8 + u32::from(d - b'0');
                        chars.next();
                    }
                }
                bytes.push(v as u8);
            }
            Some(other) => bytes.push(other),
            None => {}
        }
    }
    String::from_utf8_lossy(&bytes).into_owned()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn added_lines_with_line_numbers() {
        let patch = "diff --git a/x.txt b/x.txt\n--- a/x.txt\n+++ b/x.txt\n@@ -2,0 +3,2 @@ ctx\n+one\n++++ looks like a header\n@@ -10 +11 @@\n-old\n+new\ndiff --git a/gone b/gone\n--- a/gone\n+++ /dev/null\n@@ -1 +0,0 @@\n-bye\ndiff --git \"a/q\\\"x\" \"b/q\\\"x\"\n--- /dev/null\n+++ \"b/q\\\"x\"\n@@ -0,0 +1 @@\n+quoted\n\\ No newline at end of file\n";
        let added = parse_added_lines(patch);
        let got: Vec<_> = added.iter().map(|a| (a.path.as_str(), a.line, a.text.as_str())).collect();
        assert_eq!(
            got,
            [("x.txt", 3, "one"), ("x.txt", 4, "+++ looks like a header"), ("x.txt", 11, "new"), ("q\"x", 1, "quoted")]
        );
    }

    #[test]
    fn events() {
        let pr = parse_event(
            r#"{"action":"opened","pull_request":{"title":"T","body":null,"labels":[{"name":"kind: fix"}],"base":{"sha":"abc"},"head":{"sha":"def"}}}"#,
        )
        .unwrap();
        assert_eq!(pr.labels, Some(vec!["kind: fix".to_owned()]));
        assert_eq!((pr.title.as_deref(), pr.body.as_deref()), (Some("T"), Some("")));
        assert_eq!((pr.base_sha.as_deref(), pr.head_sha.as_deref()), (Some("abc"), Some("def")));

        let err = format!("{:#}", parse_event("{\"pull_request\": ").unwrap_err());
        assert!(err.starts_with("not valid JSON") && err.contains("\nfix: "), "{err}");
        let err = format!("{:#}", parse_event(r#"{"ref":"refs/heads/main","head_commit":{}}"#).unwrap_err());
        assert!(err.contains("a push event") && err.contains("--labels"), "{err}");
        let err = format!("{:#}", parse_event(r#"{"pull_request":{"labels":{}}}"#).unwrap_err());
        assert!(err.contains("not an array"), "{err}");
        let err = format!("{:#}", parse_event("[]").unwrap_err());
        assert!(err.contains("not a pull_request or merge_group event"), "{err}");
    }

    #[test]
    fn raw_records() {
        let z = ":000000 120000 0000000000000000000000000000000000000000 1111111111111111111111111111111111111111 A\0link\0:100644 100644 2222222222222222222222222222222222222222 3333333333333333333333333333333333333333 M\0dir/a b.txt\0";
        let files = parse_raw(z.as_bytes()).unwrap();
        assert_eq!(files.len(), 2);
        assert_eq!((files[0].status, files[0].new_mode), ('A', MODE_SYMLINK));
        assert_eq!(files[1].path, "dir/a b.txt");
        assert!(parse_raw(b":bad\0p\0").is_err());
    }
}
