//! The release's crates at the registry's pace. A registry bounds a large release twice: its rate limit (crates.io
//! documents a burst, then a steady rate, and answers 429 with `Retry-After`) and the time a published version
//! takes to appear in its index (a crate can be published only once the versions it depends on are visible).
//!
//! [`Schedule`] is the plan of that, as data: each crate waits for its dependencies to be visible, is then ready,
//! sent, and confirmed in the index. Ready crates go out a few at once, the ones with the longest chain of
//! dependents above them first; a 429 holds back every publish until its `Retry-After`; the index is polled only
//! for crates a waiting dependent needs, and at the end for the rest. [`drive`] runs a schedule against a
//! [`Registry`]: the real one (threads sending, the index read in batches) or a simulated one in virtual time
//! (the tests measure the schedule against [`lower_bound`] without a clock).
//!
//! Resumable by construction: nothing is remembered between runs but what the index shows. Right before a crate
//! is sent its index file is read again; a crate the registry already holds with the same sha256 is done, with
//! other bytes the release stops. A publish a killed run sent that has not appeared yet is sent again and
//! answered "already exists": the index then says whose bytes it holds.

use std::collections::BTreeMap;
use std::time::Duration;

use anyhow::{Result, anyhow, bail};

use crate::registry::Presence;
use crate::registry::crates::Answer;

/// How often the index is read while a dependent waits for a crate to appear.
pub(crate) const POLL: Duration = Duration::from_millis(250);

/// The longest `Retry-After` the release waits out; a longer one stops it with the time to run it again.
pub(crate) const MAX_WAIT: Duration = Duration::from_secs(3600);

/// Crates ordered so that every crate comes after the release's crates it depends on.
pub(crate) fn publish_order(crates: &[(String, Vec<String>)]) -> Result<Vec<String>> {
    let mut order: Vec<String> = Vec::new();
    let mut left: Vec<&(String, Vec<String>)> = crates.iter().collect();
    while !left.is_empty() {
        let ready: Vec<String> = left
            .iter()
            .filter(|(_, deps)| deps.iter().all(|d| order.contains(d) || !crates.iter().any(|(n, _)| n == d)))
            .map(|(n, _)| n.clone())
            .collect();
        if ready.is_empty() {
            bail!("the crates depend on each other in a cycle: {:?}", left.iter().map(|(n, _)| n).collect::<Vec<_>>());
        }
        left.retain(|(n, _)| !ready.contains(n));
        order.extend(ready);
    }
    Ok(order)
}

/// The release's crates and their dependencies among themselves.
#[derive(Clone, Debug)]
pub(crate) struct Graph {
    /// In dependency order.
    pub names: Vec<String>,
    deps: Vec<Vec<usize>>,
    dependents: Vec<Vec<usize>>,
    /// The longest chain of dependents above each crate: what holds the most behind it goes first.
    height: Vec<usize>,
}

impl Graph {
    /// `crates`: each crate and the names it depends on (others than the release's crates are ignored).
    pub(crate) fn new(crates: &[(String, Vec<String>)]) -> Result<Graph> {
        let names = publish_order(crates)?;
        let at: BTreeMap<&str, usize> = names.iter().enumerate().map(|(i, n)| (n.as_str(), i)).collect();
        let mut deps = vec![Vec::new(); names.len()];
        for (name, uses) in crates {
            let i = at[name.as_str()];
            deps[i] = uses.iter().filter_map(|u| at.get(u.as_str()).copied()).filter(|&d| d != i).collect();
            deps[i].sort_unstable();
            deps[i].dedup();
        }
        let mut dependents = vec![Vec::new(); names.len()];
        for (i, ds) in deps.iter().enumerate() {
            for &d in ds {
                dependents[d].push(i);
            }
        }
        // Dependents come later in the order: heights from the end.
        let mut height = vec![0; names.len()];
        for i in (0..names.len()).rev() {
            height[i] = dependents[i].iter().map(|&u| height[u] + 1).max().unwrap_or(0);
        }
        Ok(Graph { names, deps, dependents, height })
    }

    pub(crate) fn len(&self) -> usize {
        self.names.len()
    }
}

/// A registry's limits, as its documentation states them (crates.io: new versions 30 at once, then one a minute).
#[derive(Clone, Copy, Debug)]
pub(crate) struct Limits {
    /// Publishes accepted at once.
    pub burst: u32,
    /// Then one each this often.
    pub interval: Duration,
    /// How long a published version takes to appear in the index.
    pub index_delay: Duration,
}

/// The least time any publisher needs for `todo` (indices of `g`) under `limits`, to the last one visible: with
/// a bucket of `burst` tokens refilled one per `interval`, the `m` crates whose chain of unpublished dependencies
/// is `k` deep can start only `k` index delays in, and `m - burst` of them wait a token each; the last is seen
/// one index delay after it is sent. The largest of those over `k`.
pub(crate) fn lower_bound(g: &Graph, todo: &[usize], limits: Limits) -> Duration {
    let mut depth: BTreeMap<usize, usize> = BTreeMap::new();
    // `todo` in dependency order: each depth from the depths of its unpublished dependencies.
    let mut sorted = todo.to_vec();
    sorted.sort_unstable();
    for &i in &sorted {
        let d = g.deps[i].iter().filter_map(|dep| depth.get(dep)).map(|d| d + 1).max().unwrap_or(0);
        depth.insert(i, d);
    }
    let deepest = depth.values().copied().max();
    let Some(deepest) = deepest else { return Duration::ZERO };
    (0..=deepest)
        .map(|k| {
            let m = depth.values().filter(|&&d| d >= k).count() as u32;
            limits.index_delay * k as u32 + limits.interval * m.saturating_sub(limits.burst) + limits.index_delay
        })
        .max()
        .unwrap_or_default()
}

#[derive(Clone, Copy, Debug, PartialEq)]
enum State {
    /// A dependency is not visible yet.
    Waiting,
    Ready,
    /// Checked and handed to a sender; no answer yet.
    Sending,
    /// Accepted (or "already there") at this time; not seen in the index yet.
    Sent(Duration),
    Visible,
}

/// Where each crate of a release stands (see the module's documentation).
#[derive(Clone, Debug)]
pub(crate) struct Schedule {
    g: Graph,
    state: Vec<State>,
    /// No publish goes out before this: a 429's `Retry-After`.
    gate: Duration,
}

impl Schedule {
    pub(crate) fn new(g: Graph) -> Schedule {
        let state = g.deps.iter().map(|d| if d.is_empty() { State::Ready } else { State::Waiting }).collect();
        Schedule { g, state, gate: Duration::ZERO }
    }

    pub(crate) fn graph(&self) -> &Graph {
        &self.g
    }

    /// Up to `slots` ready crates to send now (none before the gate), the longest chains above first.
    pub(crate) fn dispatch(&mut self, now: Duration, slots: usize) -> Vec<usize> {
        if now < self.gate {
            return Vec::new();
        }
        let mut ready: Vec<usize> = (0..self.g.len()).filter(|&i| self.state[i] == State::Ready).collect();
        ready.sort_by_key(|&i| (std::cmp::Reverse(self.g.height[i]), std::cmp::Reverse(self.g.dependents[i].len()), i));
        ready.truncate(slots);
        for &i in &ready {
            self.state[i] = State::Sending;
        }
        ready
    }

    /// The registry took crate `i` (or says it holds it): to be confirmed in the index.
    pub(crate) fn sent(&mut self, i: usize, now: Duration) {
        self.state[i] = State::Sent(now);
    }

    /// A 429 for crate `i`: it is ready again, and nothing goes out before `now + wait`.
    pub(crate) fn limited(&mut self, i: usize, now: Duration, wait: Duration) {
        self.state[i] = State::Ready;
        self.gate = self.gate.max(now + wait);
    }

    /// Crate `i` is in the index with the release's bytes: its dependents whose dependencies are all visible
    /// are ready.
    pub(crate) fn visible(&mut self, i: usize) {
        self.state[i] = State::Visible;
        for &u in &self.g.dependents[i] {
            if self.state[u] == State::Waiting && self.g.deps[u].iter().all(|&d| self.state[d] == State::Visible) {
                self.state[u] = State::Ready;
            }
        }
    }

    /// The sent crates worth reading the index for now: those a waiting crate depends on; all of them once
    /// nothing else is left.
    pub(crate) fn to_poll(&self) -> Vec<usize> {
        let sent = |i: &usize| matches!(self.state[*i], State::Sent(_));
        let only_sent_left = self.state.iter().all(|s| matches!(s, State::Sent(_) | State::Visible));
        (0..self.g.len())
            .filter(sent)
            .filter(|&i| only_sent_left || self.g.dependents[i].iter().any(|&u| self.state[u] == State::Waiting))
            .collect()
    }

    /// How long ago crate `i` was sent, if it is waiting to appear.
    pub(crate) fn sent_for(&self, i: usize, now: Duration) -> Option<Duration> {
        match self.state[i] {
            State::Sent(at) => Some(now.saturating_sub(at)),
            _ => None,
        }
    }

    pub(crate) fn gate(&self) -> Duration {
        self.gate
    }

    pub(crate) fn done(&self) -> bool {
        self.state.iter().all(|s| *s == State::Visible)
    }
}

/// What [`drive`] needs of a registry; the real one and the tests' simulation.
pub(crate) trait Registry {
    /// Time since the publishing began.
    fn now(&self) -> Duration;
    /// Where each of the crates stands in the index (by index into the schedule's graph).
    fn presences(&mut self, crates: &[usize]) -> Result<Vec<Presence>>;
    /// Hands crate `i` to a sender (returns at once); an error when it cannot be sent at all (no credential).
    fn send(&mut self, i: usize) -> Result<()>;
    /// The next answer of a sender, waiting at most `wait`.
    fn answer(&mut self, wait: Duration) -> Option<(usize, Result<Answer>)>;
    /// Says what happens (the registry's limit): the log.
    fn say(&mut self, line: &str);
}

/// How a run went.
#[derive(Clone, Debug, Default, PartialEq)]
pub(crate) struct Report {
    /// Crates the registry accepted from this run.
    pub published: usize,
    /// Crates already in the index with the same bytes.
    pub present: usize,
    /// Crates the registry said it held already (an earlier run's publish, not yet in the index when this one
    /// looked), then seen in the index with the same bytes.
    pub existed: usize,
    /// 429s answered.
    pub limited: usize,
    /// From the first check to the last crate visible.
    pub elapsed: Duration,
}

/// A failure of the publishing, before or after other crates went out.
#[derive(Debug)]
pub(crate) enum Stop {
    /// Other bytes hold crate `.0`'s version (`.1` says whose): running again stops here again.
    Conflict(usize, Presence),
    Failed(anyhow::Error),
}

/// Runs `s` against `reg` with at most `jobs` publishes in flight; a crate not visible `index_wait` after it was
/// sent fails the run. After the first failure nothing new is sent; what is in flight is awaited.
pub(crate) fn drive(
    s: &mut Schedule,
    reg: &mut impl Registry,
    jobs: usize,
    index_wait: Duration,
) -> std::result::Result<Report, Stop> {
    let mut run = Run {
        s,
        reg,
        jobs,
        index_wait,
        report: Report::default(),
        in_flight: 0,
        failure: None,
        next_poll: Duration::ZERO,
        exists: BTreeMap::new(),
        no_retry_after: 0,
    };
    loop {
        let now = run.reg.now();
        if run.dispatch(now) || run.poll(now) {
            continue;
        }
        if run.in_flight == 0 {
            if let Some(stop) = run.failure.take() {
                return Err(stop);
            }
            if run.s.done() {
                run.report.elapsed = run.reg.now();
                return Ok(run.report);
            }
        }
        // Until the next poll is due (a poll period when none is), or the gate opens.
        let mut wait = if run.next_poll > now { run.next_poll - now } else { POLL };
        if run.s.gate() > now {
            wait = wait.min(run.s.gate() - now);
        }
        if let Some((i, answer)) = run.reg.answer(wait) {
            run.in_flight -= 1;
            run.answered(i, answer);
        }
    }
}

/// One [`drive`] in progress.
struct Run<'a, R> {
    s: &'a mut Schedule,
    reg: &'a mut R,
    jobs: usize,
    index_wait: Duration,
    report: Report,
    in_flight: usize,
    failure: Option<Stop>,
    next_poll: Duration,
    /// The registry's "already there" replies, by crate.
    exists: BTreeMap<usize, String>,
    /// 429s in a row without a `Retry-After`.
    no_retry_after: u32,
}

impl<R: Registry> Run<'_, R> {
    fn fail(&mut self, stop: Stop) {
        self.failure.get_or_insert(stop);
    }

    /// Sends what is ready (each checked in the index right before); `true` when something was taken up.
    fn dispatch(&mut self, now: Duration) -> bool {
        if self.failure.is_some() || self.in_flight >= self.jobs {
            return false;
        }
        let picks = self.s.dispatch(now, self.jobs - self.in_flight);
        if picks.is_empty() {
            return false;
        }
        match self.reg.presences(&picks) {
            Err(e) => self.fail(Stop::Failed(e)),
            Ok(found) => {
                for (i, p) in picks.into_iter().zip(found) {
                    match p {
                        Presence::Same => {
                            self.report.present += 1;
                            self.s.visible(i);
                        }
                        p @ Presence::Other(_) => self.fail(Stop::Conflict(i, p)),
                        Presence::Missing if self.failure.is_none() => match self.reg.send(i) {
                            Ok(()) => self.in_flight += 1,
                            Err(e) => self.fail(Stop::Failed(e)),
                        },
                        Presence::Missing => {}
                    }
                }
            }
        }
        true
    }

    /// Reads the index for the sent crates a dependent waits for (at most every [`POLL`]); `true` when one
    /// appeared.
    fn poll(&mut self, now: Duration) -> bool {
        if self.failure.is_some() || now < self.next_poll {
            return false;
        }
        let poll = self.s.to_poll();
        if poll.is_empty() {
            return false;
        }
        self.next_poll = now + POLL;
        let found = match self.reg.presences(&poll) {
            Ok(found) => found,
            Err(e) => {
                self.fail(Stop::Failed(e));
                return false;
            }
        };
        let mut appeared = false;
        for (&i, p) in poll.iter().zip(found) {
            match p {
                Presence::Same => {
                    self.s.visible(i);
                    appeared = true;
                }
                p @ Presence::Other(_) => self.fail(Stop::Conflict(i, p)),
                Presence::Missing if self.s.sent_for(i, now).is_some_and(|t| t > self.index_wait) => {
                    let e = self.not_in_index(i);
                    self.fail(Stop::Failed(e));
                }
                Presence::Missing => {}
            }
        }
        appeared
    }

    /// The failure of crate `i`, sent but not in the index after the wait.
    fn not_in_index(&self, i: usize) -> anyhow::Error {
        let name = &self.s.graph().names[i];
        let secs = self.index_wait.as_secs();
        match self.exists.get(&i) {
            Some(reply) => anyhow!(
                "the registry says {name} is already there ({reply}) but the index does not show it after {secs} \
                 s\nfix: run again once the index shows it: published crates are compared by sha256 and skipped"
            ),
            None => anyhow!(
                "{name} was uploaded but the index does not show it after {secs} s\nfix: run again once it does"
            ),
        }
    }

    /// A sender's answer for crate `i`.
    fn answered(&mut self, i: usize, answer: Result<Answer>) {
        let now = self.reg.now();
        match answer {
            Ok(Answer::Accepted) => {
                self.report.published += 1;
                self.s.sent(i, now);
            }
            Ok(Answer::Exists(reply)) => {
                self.report.existed += 1;
                self.exists.insert(i, reply);
                self.s.sent(i, now);
            }
            Ok(Answer::RateLimited(asked)) => self.limited(i, now, asked),
            Ok(Answer::Refused(why)) => match self.reg.presences(&[i]).map(|p| p.into_iter().next()) {
                Ok(Some(Presence::Same)) => self.s.visible(i),
                Ok(Some(p @ Presence::Other(_))) => self.fail(Stop::Conflict(i, p)),
                Ok(_) => self.fail(Stop::Failed(anyhow!("{why}"))),
                Err(e) => self.fail(Stop::Failed(e)),
            },
            Err(e) => self.fail(Stop::Failed(e)),
        }
    }

    /// A 429 for crate `i`: every publish waits as long as it asks (without a `Retry-After`: 1 s, doubling with
    /// each such answer in a row, at most a minute); longer than [`MAX_WAIT`] stops the run.
    fn limited(&mut self, i: usize, now: Duration, asked: Option<Duration>) {
        self.report.limited += 1;
        self.no_retry_after = if asked.is_some() { 0 } else { self.no_retry_after + 1 };
        let backoff =
            Duration::from_secs(1 << self.no_retry_after.saturating_sub(1).min(6)).min(Duration::from_secs(60));
        let wait = asked.unwrap_or(backoff);
        let name = &self.s.graph().names[i];
        if wait > MAX_WAIT {
            let e = anyhow!(
                "the registry limits the rate of publishing and asks to wait {} min before {name}\nfix: run the \
                 release again after that (or ask the registry to raise the limit): published crates are skipped",
                wait.as_secs() / 60,
            );
            self.fail(Stop::Failed(e));
        } else if self.s.gate() < now + wait {
            let line = format!(
                "the registry's rate limit (HTTP 429) for {name}: every publish waits {:.1} s, as it asks",
                wait.as_secs_f64()
            );
            self.reg.say(&line);
        }
        self.s.limited(i, now, wait);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A registry in virtual time: a token bucket (`burst`, one more each `interval`), versions visible
    /// `index_delay` after they are accepted, a 429 with whole seconds of `Retry-After` (as HTTP has them), each
    /// request taking `latency` each way; it refuses a version twice.
    struct Simulated {
        now: Duration,
        limits: Limits,
        latency: Duration,
        tokens: f64,
        refilled: Duration,
        accepted_at: Vec<Option<Duration>>,
        /// (time it arrives, crate, answer).
        answers: Vec<(Duration, usize, Answer)>,
        accepted: Vec<usize>,
    }

    impl Simulated {
        fn new(n: usize, limits: Limits, latency: Duration) -> Simulated {
            Simulated {
                now: Duration::ZERO,
                limits,
                latency,
                tokens: limits.burst as f64,
                refilled: Duration::ZERO,
                accepted_at: vec![None; n],
                answers: Vec::new(),
                accepted: Vec::new(),
            }
        }
    }

    impl Registry for Simulated {
        fn now(&self) -> Duration {
            self.now
        }

        fn presences(&mut self, crates: &[usize]) -> Result<Vec<Presence>> {
            self.now += self.latency * 2;
            Ok(crates
                .iter()
                .map(|&i| match self.accepted_at[i] {
                    Some(t) if t + self.limits.index_delay <= self.now => Presence::Same,
                    _ => Presence::Missing,
                })
                .collect())
        }

        fn send(&mut self, i: usize) -> Result<()> {
            let arrives = self.now + self.latency;
            let interval = self.limits.interval.as_secs_f64();
            self.tokens =
                (self.tokens + (arrives - self.refilled).as_secs_f64() / interval).min(self.limits.burst as f64);
            self.refilled = arrives;
            let answer = if self.accepted_at[i].is_some() {
                Answer::Exists("already exists".into())
            } else if self.tokens >= 1.0 {
                self.tokens -= 1.0;
                self.accepted_at[i] = Some(arrives);
                self.accepted.push(i);
                Answer::Accepted
            } else {
                let secs = ((1.0 - self.tokens) * interval).ceil();
                Answer::RateLimited(Some(Duration::from_secs_f64(secs)))
            };
            self.answers.push((arrives + self.latency, i, answer));
            Ok(())
        }

        fn say(&mut self, _: &str) {}

        fn answer(&mut self, wait: Duration) -> Option<(usize, Result<Answer>)> {
            let first = (0..self.answers.len()).min_by_key(|&k| self.answers[k].0);
            match first {
                Some(k) if self.answers[k].0 <= self.now + wait => {
                    let (at, i, answer) = self.answers.remove(k);
                    self.now = self.now.max(at);
                    Some((i, Ok(answer)))
                }
                _ => {
                    self.now += wait;
                    None
                }
            }
        }
    }

    /// `levels` levels of `width` crates, each depending on two crates of the level below (the large
    /// workspace's shape).
    fn layered(levels: usize, width: usize) -> Graph {
        let name = |l: usize, k: usize| format!("c{l}-{k}");
        let crates: Vec<(String, Vec<String>)> = (0..levels)
            .flat_map(|l| {
                (0..width).map(move |k| {
                    let deps = if l == 0 { vec![] } else { vec![name(l - 1, k), name(l - 1, (k + 1) % width)] };
                    (name(l, k), deps)
                })
            })
            .collect();
        Graph::new(&crates).unwrap()
    }

    fn ms(n: u64) -> Duration {
        Duration::from_millis(n)
    }

    #[test]
    fn the_graph_orders_and_ranks_by_what_waits_behind() {
        let g = layered(3, 2);
        assert_eq!(g.names[..2], ["c0-0", "c0-1"]);
        let (top, bottom) = (g.names.iter().position(|n| n == "c2-0").unwrap(), 0);
        assert_eq!((g.height[bottom], g.height[top]), (2, 0));
        assert_eq!(g.deps[top].len(), 2);
        let cycle = [("a".to_owned(), vec!["b".to_owned()]), ("b".to_owned(), vec!["a".to_owned()])];
        assert!(Graph::new(&cycle).is_err());
    }

    /// The bound: the rate term (97 crates, 10 at once, then 2 a second) or the chain of index delays,
    /// whichever is longer.
    #[test]
    fn the_lower_bound_takes_the_binding_limit() {
        let g = layered(10, 10);
        let all: Vec<usize> = (0..g.len()).collect();
        let rate = Limits { burst: 10, interval: ms(500), index_delay: ms(1000) };
        // Depth 0: (100 - 10) x 0.5 s + 1 s.
        assert_eq!(lower_bound(&g, &all, rate), ms(46_000));
        let chain = Limits { burst: 1000, interval: ms(500), index_delay: ms(1000) };
        assert_eq!(lower_bound(&g, &all, chain), ms(10_000), "ten levels, each seen a second after it is sent");
        assert_eq!(lower_bound(&g, &[], rate), Duration::ZERO);
    }

    fn simulate(g: Graph, limits: Limits, jobs: usize) -> (Report, Simulated) {
        let n = g.len();
        let mut s = Schedule::new(g);
        let mut reg = Simulated::new(n, limits, ms(5));
        let report = drive(&mut s, &mut reg, jobs, Duration::from_secs(120)).unwrap_or_else(|_| panic!("failed"));
        (report, reg)
    }

    /// Against the registry's limits, in virtual time: every crate accepted exactly once, never before its
    /// dependencies were visible, and the whole within 1.15x of the bound, whichever limit binds.
    #[test]
    fn a_hundred_crates_publish_within_the_bound_of_the_limits() {
        for limits in [
            Limits { burst: 10, interval: ms(500), index_delay: ms(1000) },
            Limits { burst: 30, interval: ms(1000), index_delay: ms(3000) },
            Limits { burst: 1000, interval: ms(100), index_delay: ms(2000) },
            Limits { burst: 10, interval: ms(250), index_delay: ms(1000) },
            Limits { burst: 20, interval: ms(250), index_delay: ms(500) },
        ] {
            let g = layered(10, 10);
            let all: Vec<usize> = (0..g.len()).collect();
            let bound = lower_bound(&g, &all, limits);
            let (report, reg) = simulate(g.clone(), limits, 4);
            let mut accepted = reg.accepted.clone();
            accepted.sort_unstable();
            assert_eq!(accepted, all, "each crate accepted exactly once");
            for (i, at) in reg.accepted_at.iter().enumerate() {
                for &d in &g.deps[i] {
                    assert!(reg.accepted_at[d].unwrap() + limits.index_delay <= at.unwrap(), "{i} before {d}");
                }
            }
            assert_eq!(report.published, 100);
            let ratio = report.elapsed.as_secs_f64() / bound.as_secs_f64();
            eprintln!("{limits:?}: {:?} against {bound:?}: {ratio:.3}", report.elapsed);
            assert!((1.0..=1.15).contains(&ratio), "{limits:?}: {:?} against {bound:?}", report.elapsed);
        }
    }

    /// A run that stopped half-way, run again: what the index shows is skipped, the rest is accepted once.
    #[test]
    fn a_second_run_skips_what_the_first_published() {
        let limits = Limits { burst: 1000, interval: ms(100), index_delay: ms(1000) };
        let g = layered(4, 5);
        let mut reg = Simulated::new(g.len(), limits, ms(5));
        // Published by the first run, long enough ago to be in the index.
        reg.now = Duration::from_secs(10);
        for i in 0..7 {
            reg.accepted_at[i] = Some(Duration::ZERO);
        }
        let mut s = Schedule::new(g);
        let report = drive(&mut s, &mut reg, 4, Duration::from_secs(120)).unwrap_or_else(|_| panic!("failed"));
        assert_eq!((report.present, report.published), (7, 13));
        assert!(reg.accepted.iter().all(|&i| i >= 7));
    }

    /// Other bytes under a version stop the run; nothing new is sent after it.
    #[test]
    fn other_bytes_stop_the_run() {
        struct Taken(Simulated);
        impl Registry for Taken {
            fn now(&self) -> Duration {
                self.0.now()
            }
            fn presences(&mut self, crates: &[usize]) -> Result<Vec<Presence>> {
                let mut p = self.0.presences(crates)?;
                for (k, &i) in crates.iter().enumerate() {
                    if i == 3 {
                        p[k] = Presence::Other(vec!["b".repeat(64)]);
                    }
                }
                Ok(p)
            }
            fn send(&mut self, i: usize) -> Result<()> {
                self.0.send(i)
            }
            fn answer(&mut self, wait: Duration) -> Option<(usize, Result<Answer>)> {
                self.0.answer(wait)
            }
            fn say(&mut self, _: &str) {}
        }
        let limits = Limits { burst: 1000, interval: ms(100), index_delay: ms(1000) };
        let g = layered(3, 5);
        let mut reg = Taken(Simulated::new(g.len(), limits, ms(5)));
        let mut s = Schedule::new(g);
        match drive(&mut s, &mut reg, 2, Duration::from_secs(120)) {
            Err(Stop::Conflict(i, p)) => assert_eq!((i, p), (3, Presence::Other(vec!["b".repeat(64)]))),
            other => panic!("{other:?}"),
        }
        assert!(reg.0.accepted.iter().all(|&i| i < 5), "nothing of the next level went out");
    }

    /// A Retry-After beyond [`MAX_WAIT`] stops the run with when to run it again.
    #[test]
    fn an_hour_long_limit_stops_with_its_fix() {
        struct Closed(Simulated);
        impl Registry for Closed {
            fn now(&self) -> Duration {
                self.0.now()
            }
            fn presences(&mut self, crates: &[usize]) -> Result<Vec<Presence>> {
                self.0.presences(crates)
            }
            fn send(&mut self, i: usize) -> Result<()> {
                self.0.answers.push((self.0.now, i, Answer::RateLimited(Some(Duration::from_secs(7200)))));
                Ok(())
            }
            fn answer(&mut self, wait: Duration) -> Option<(usize, Result<Answer>)> {
                self.0.answer(wait)
            }
            fn say(&mut self, _: &str) {}
        }
        let limits = Limits { burst: 1, interval: ms(100), index_delay: ms(1000) };
        let mut reg = Closed(Simulated::new(4, limits, ms(5)));
        let mut s = Schedule::new(layered(1, 4));
        match drive(&mut s, &mut reg, 2, Duration::from_secs(120)) {
            Err(Stop::Failed(e)) => {
                let e = format!("{e:#}");
                assert!(e.contains("asks to wait 120 min") && e.contains("\nfix: run the release again"), "{e}");
            }
            other => panic!("{other:?}"),
        }
    }
}
