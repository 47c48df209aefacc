//! The demo dataset: a deterministic B2B SaaS product (a project-management tool) with accounts, their members,
//! and the time-ordered stream of group identifies, identifies and events they produce.
//!
//! Everything is drawn from one `StdRng` seeded with `--seed` (rand 0.9.5 is pinned by Cargo.lock, so a seed gives
//! the same data on every machine). The dataset covers whole UTC days ending with the end day; it is generated
//! for the whole last day and only then cut at "now", so the items before the cut, and their ids, do not depend
//! on the time of the run.
//!
//! Shape:
//! - **Accounts** (group type `org`, value = the company name): team sizes Zipf-distributed (a few large accounts,
//!   many small ones), a plan correlated with size, an industry, a country, an employee count. 40% existed before
//!   the window; the rest sign up during it, more of them towards the end (growth). Some churn (mostly free ones),
//!   some upgrade their plan (an `Upgrade Plan` event followed by a group identify that sets the new `plan`).
//! - **Users** belong to one account (`u{n}@{domain}`); a handful also work in a second account and send both
//!   (an array-valued `org`). Each has a role, a country (mostly the account's), a platform, a lognormal activity
//!   level, and may churn some weeks after joining.
//! - **Events**: `Sign Up` (and, for an account's first member, `Create Project`) on joining, preceded by the
//!   inviter's `Invite Teammate`; on each active day a `Login` and a mix of `Create Task`, `Complete Task`,
//!   `Comment`, `Upload File`, `Create Project`, in one to three sessions placed by a local hour-of-day curve.
//!   Daily counts are Poisson with a mean proportional to activity × weekday factor, scaled so that the total
//!   comes close to `--events`.

use rand::distr::Distribution;
use rand::distr::weighted::WeightedIndex;
use rand::seq::{IndexedRandom, SliceRandom};
use rand::{Rng, SeedableRng, rngs::StdRng};

use super::words::{self, COUNTRIES};

pub(crate) const DAY_MS: i64 = 86_400_000;
const HOUR_MS: i64 = 3_600_000;
const MINUTE_MS: i64 = 60_000;
/// The group type of every account.
pub(crate) const GROUP_TYPE: &str = "org";

/// How much to generate, and for which days.
#[derive(Debug, Clone)]
pub(crate) struct Params {
    pub accounts: usize,
    pub users: usize,
    pub days: u32,
    pub events: usize,
    pub seed: u64,
    /// The last day of the window, in days since the Unix epoch (UTC).
    pub end_day: i64,
    /// Items at or after this time are left out.
    pub now_ms: i64,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
pub(crate) enum Plan {
    Free,
    Starter,
    Pro,
    Enterprise,
}

impl Plan {
    pub(crate) fn name(self) -> &'static str {
        match self {
            Plan::Free => "free",
            Plan::Starter => "starter",
            Plan::Pro => "pro",
            Plan::Enterprise => "enterprise",
        }
    }

    fn next(self) -> Option<Plan> {
        match self {
            Plan::Free => Some(Plan::Starter),
            Plan::Starter => Some(Plan::Pro),
            Plan::Pro => Some(Plan::Enterprise),
            Plan::Enterprise => None,
        }
    }

    /// Monthly price in USD.
    pub(crate) fn price(self) -> u32 {
        match self {
            Plan::Free => 0,
            Plan::Starter => 49,
            Plan::Pro => 199,
            Plan::Enterprise => 999,
        }
    }
}

#[derive(Debug, Clone)]
pub(crate) struct Account {
    pub name: String,
    pub domain: String,
    pub plan: Plan,
    pub industry: &'static str,
    pub employees: u32,
    pub country: usize,
    pub created_ms: i64,
    /// When every member stops (`i64::MAX`: never).
    pub churn_ms: i64,
    pub members: Vec<usize>,
}

#[derive(Debug, Clone)]
pub(crate) struct User {
    pub user_id: String,
    pub device_id: String,
    pub account: usize,
    pub second_account: Option<usize>,
    pub role: &'static str,
    pub country: usize,
    pub platform: usize,
    pub joined_ms: i64,
    /// When the user stops being active (`i64::MAX`: never).
    pub end_ms: i64,
    activity: f64,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum EventKind {
    SignUp { invited: bool },
    Login,
    CreateProject,
    CreateTask,
    CompleteTask,
    Comment,
    UploadFile,
    InviteTeammate { invitee: u32 },
    UpgradePlan { from: Plan, to: Plan },
}

impl EventKind {
    pub(crate) fn name(self) -> &'static str {
        match self {
            EventKind::SignUp { .. } => "Sign Up",
            EventKind::Login => "Login",
            EventKind::CreateProject => "Create Project",
            EventKind::CreateTask => "Create Task",
            EventKind::CompleteTask => "Complete Task",
            EventKind::Comment => "Comment",
            EventKind::UploadFile => "Upload File",
            EventKind::InviteTeammate { .. } => "Invite Teammate",
            EventKind::UpgradePlan { .. } => "Upgrade Plan",
        }
    }
}

#[derive(Debug, Clone, Copy)]
pub(crate) enum Item {
    /// The account's group properties as it is created (or, for accounts older than the window, at its start).
    AccountCreated {
        account: u32,
    },
    /// A plan change: group identify `$set` of `plan`.
    PlanChanged {
        account: u32,
        to: Plan,
    },
    /// The user's properties, just before their first event in the window.
    Identify {
        user: u32,
    },
    Event {
        user: u32,
        kind: EventKind,
        session_ms: i64,
    },
}

impl Item {
    /// Order among items of the same millisecond: group state, then user state, then events.
    fn rank(&self) -> u8 {
        match self {
            Item::AccountCreated { .. } | Item::PlanChanged { .. } => 0,
            Item::Identify { .. } => 1,
            Item::Event { .. } => 2,
        }
    }
}

/// An item with its time and a number unique in the dataset (the base of its `insert_id`).
#[derive(Debug, Clone, Copy)]
pub(crate) struct Timed {
    pub time_ms: i64,
    pub id: u32,
    pub item: Item,
}

#[derive(Debug, Clone)]
pub(crate) struct Dataset {
    pub seed: u64,
    pub start_ms: i64,
    pub accounts: Vec<Account>,
    pub users: Vec<User>,
    /// Sorted by time (group state, then user state, then events within one millisecond).
    pub items: Vec<Timed>,
}

impl Dataset {
    pub(crate) fn event_count(&self) -> usize {
        self.items.iter().filter(|t| matches!(t.item, Item::Event { .. })).count()
    }
}

/// A standard normal draw (Box–Muller).
fn normal(rng: &mut StdRng) -> f64 {
    let u1: f64 = rng.random::<f64>().max(f64::MIN_POSITIVE);
    let u2: f64 = rng.random();
    (-2.0 * u1.ln()).sqrt() * (std::f64::consts::TAU * u2).cos()
}

/// An exponential draw with the given mean.
fn exponential(rng: &mut StdRng, mean: f64) -> f64 {
    -mean * (1.0 - rng.random::<f64>()).ln()
}

/// A Poisson draw (Knuth's method for small means, a rounded normal for large ones).
fn poisson(rng: &mut StdRng, mean: f64) -> usize {
    if mean <= 0.0 {
        return 0;
    }
    if mean > 30.0 {
        return (mean + mean.sqrt() * normal(rng)).round().max(0.0) as usize;
    }
    let limit = (-mean).exp();
    let (mut k, mut p) = (0, 1.0);
    loop {
        p *= rng.random::<f64>();
        if p <= limit {
            return k;
        }
        k += 1;
    }
}

fn weighted<T: Copy>(rng: &mut StdRng, items: &[(T, u32)]) -> T {
    let index = WeightedIndex::new(items.iter().map(|(_, w)| *w)).expect("positive weights");
    items[index.sample(rng)].0
}

fn uniform_ms(rng: &mut StdRng, from: i64, to: i64) -> i64 {
    if to <= from { from } else { rng.random_range(from..to) }
}

/// Sunday = 0.
fn weekday(day: i64) -> usize {
    (day + 4).rem_euclid(7) as usize
}

fn slug(name: &str) -> String {
    name.chars().filter(char::is_ascii_alphanumeric).collect::<String>().to_ascii_lowercase()
}

/// Generates the dataset. `users` and `accounts` must be at least 1.
pub(crate) fn generate(p: &Params) -> Dataset {
    let mut rng = StdRng::seed_from_u64(p.seed);
    let start_ms = (p.end_day - i64::from(p.days.max(1)) + 1) * DAY_MS;
    let end_ms = (p.end_day + 1) * DAY_MS;
    let n_users = p.users.max(1);
    let mut accounts = make_accounts(&mut rng, p.accounts.clamp(1, n_users), n_users, start_ms, end_ms);
    let users = make_users(&mut rng, &mut accounts, start_ms, end_ms);
    let mut items = Vec::new();
    let mut next_id = 0u32;
    let mut push = |items: &mut Vec<Timed>, time_ms: i64, item: Item| {
        items.push(Timed { time_ms, id: next_id, item });
        next_id += 1;
    };
    for (a, account) in accounts.iter().enumerate() {
        push(&mut items, account.created_ms.max(start_ms), Item::AccountCreated { account: a as u32 });
    }
    for (u, user) in users.iter().enumerate() {
        push(&mut items, user.joined_ms.max(start_ms) - 1000, Item::Identify { user: u as u32 });
    }
    // Invitations: the account's first member invites each later member shortly before they join.
    for (u, user) in users.iter().enumerate() {
        let owner = accounts[user.account].members[0];
        if u == owner || user.joined_ms < start_ms {
            continue;
        }
        let inviter = &users[owner];
        let t = (user.joined_ms - rng.random_range(5 * MINUTE_MS..36 * HOUR_MS)).max(inviter.joined_ms + MINUTE_MS);
        if t < user.joined_ms && t >= start_ms && t < inviter.end_ms {
            let kind = EventKind::InviteTeammate { invitee: u as u32 };
            push(&mut items, t, Item::Event { user: owner as u32, kind, session_ms: t });
        }
    }
    // Plan upgrades, done by a member active at the time, then the group identify that records them.
    for (a, account) in accounts.iter().enumerate() {
        let chance = match account.plan {
            Plan::Free => 0.25,
            Plan::Starter => 0.2,
            Plan::Pro => 0.12,
            Plan::Enterprise => 0.0,
        };
        let Some(to) = account.plan.next() else { continue };
        if !rng.random_bool(chance) {
            continue;
        }
        let from_ms = account.created_ms.max(start_ms) + 3 * DAY_MS;
        let t = uniform_ms(&mut rng, from_ms, account.churn_ms.min(end_ms));
        let active = account.members.iter().copied().find(|&m| users[m].joined_ms < t && users[m].end_ms > t);
        if let (Some(m), true) = (active, t < end_ms) {
            let kind = EventKind::UpgradePlan { from: account.plan, to };
            push(&mut items, t, Item::Event { user: m as u32, kind, session_ms: t });
            push(&mut items, t + 1000, Item::PlanChanged { account: a as u32, to });
        }
    }
    // Daily activity, scaled so the total comes close to the target.
    let fixed = items.iter().filter(|t| matches!(t.item, Item::Event { .. })).count()
        + users.iter().filter(|u| u.joined_ms >= start_ms).count()
        + accounts.iter().filter(|a| a.created_ms >= start_ms).count();
    let total_weight: f64 = users.iter().map(|u| active_days(u, start_ms, end_ms).map(|(_, w)| w).sum::<f64>()).sum();
    let scale = if total_weight > 0.0 { p.events.saturating_sub(fixed) as f64 / total_weight } else { 0.0 };
    let hours = WeightedIndex::new(words::HOUR_WEIGHTS).expect("hour weights");
    for (u, user) in users.iter().enumerate() {
        let owner = accounts[user.account].members[0] == u;
        let offset = COUNTRIES[user.country].offset_min * MINUTE_MS;
        let joins_now = user.joined_ms >= start_ms;
        let join_day = (user.joined_ms + offset).div_euclid(DAY_MS);
        if joins_now {
            let kind = EventKind::SignUp { invited: !owner };
            push(&mut items, user.joined_ms, Item::Event { user: u as u32, kind, session_ms: user.joined_ms });
            if owner {
                let t = user.joined_ms + rng.random_range(2 * MINUTE_MS..15 * MINUTE_MS);
                let kind = EventKind::CreateProject;
                push(&mut items, t, Item::Event { user: u as u32, kind, session_ms: user.joined_ms });
            }
        }
        let stop = user.end_ms.min(end_ms);
        for (day, weight) in active_days(user, start_ms, end_ms) {
            let n = poisson(&mut rng, scale * weight);
            if n == 0 {
                continue;
            }
            let sessions = 1 + (n / 10).min(2);
            let midnight = day * DAY_MS - offset;
            let mut starts: Vec<i64> = (0..sessions)
                .map(|_| midnight + hours.sample(&mut rng) as i64 * HOUR_MS + rng.random_range(0..HOUR_MS))
                .map(|t| if joins_now && day == join_day { t.max(user.joined_ms + 20 * MINUTE_MS) } else { t })
                .collect();
            starts.sort_unstable();
            let mut first = !(joins_now && day == join_day);
            for (s, session_ms) in starts.iter().copied().enumerate() {
                let count = n / sessions + usize::from(s < n % sessions);
                let mut t = session_ms;
                for _ in 0..count {
                    let kind = if first { EventKind::Login } else { action(&mut rng, user.role) };
                    first = false;
                    if t >= start_ms && t < stop {
                        push(&mut items, t, Item::Event { user: u as u32, kind, session_ms });
                    }
                    t += rng.random_range(20_000..8 * MINUTE_MS);
                }
            }
        }
    }
    items.retain(|t| t.time_ms < p.now_ms);
    items.sort_by_key(|t| (t.time_ms, t.item.rank()));
    Dataset { seed: p.seed, start_ms, accounts, users, items }
}

/// The user's active local days in the window with their weight (activity × weekday factor).
fn active_days(user: &User, start_ms: i64, end_ms: i64) -> impl Iterator<Item = (i64, f64)> + '_ {
    let offset = COUNTRIES[user.country].offset_min * MINUTE_MS;
    let first = user.joined_ms.max(start_ms);
    let last = user.end_ms.min(end_ms);
    let (d0, d1) = ((first + offset).div_euclid(DAY_MS), (last - 1 + offset).div_euclid(DAY_MS));
    let days = if first < last { d0..d1 + 1 } else { 0..0 };
    days.map(move |d| (d, user.activity * words::WEEKDAY_FACTOR[weekday(d)]))
}

fn action(rng: &mut StdRng, role: &str) -> EventKind {
    let mix: &[(EventKind, u32)] = match role {
        "viewer" => &[(EventKind::Comment, 70), (EventKind::UploadFile, 10), (EventKind::CompleteTask, 20)],
        "admin" | "manager" => &[
            (EventKind::CreateTask, 32),
            (EventKind::CompleteTask, 18),
            (EventKind::Comment, 30),
            (EventKind::UploadFile, 12),
            (EventKind::CreateProject, 8),
        ],
        _ => &[
            (EventKind::CreateTask, 30),
            (EventKind::CompleteTask, 30),
            (EventKind::Comment, 27),
            (EventKind::UploadFile, 10),
            (EventKind::CreateProject, 3),
        ],
    };
    weighted(rng, mix)
}

fn make_accounts(rng: &mut StdRng, n: usize, users: usize, start_ms: i64, end_ms: i64) -> Vec<Account> {
    // Team sizes: one member each, the rest by Zipf weight over a shuffled rank.
    let mut ranks: Vec<usize> = (1..=n).collect();
    ranks.shuffle(rng);
    let zipf = WeightedIndex::new(ranks.iter().map(|r| 1.0 / (*r as f64).powf(1.05))).expect("zipf weights");
    let mut sizes = vec![1usize; n];
    for _ in n..users {
        sizes[zipf.sample(rng)] += 1;
    }
    let countries: Vec<(usize, u32)> = COUNTRIES.iter().enumerate().map(|(i, c)| (i, c.weight)).collect();
    let mut used = std::collections::HashSet::new();
    let mut accounts = Vec::with_capacity(n);
    for (i, size) in sizes.into_iter().enumerate() {
        let mut name = String::new();
        for _ in 0..20 {
            let first = words::NAME_FIRST.choose(rng).expect("words");
            let second = words::NAME_SECOND.choose(rng).expect("words");
            name = format!("{first} {second}");
            if !used.contains(&name) {
                break;
            }
        }
        if used.contains(&name) {
            name = format!("{name} {}", i + 1);
        }
        used.insert(name.clone());
        let plans: &[(Plan, u32)] = match size {
            50.. => &[(Plan::Starter, 10), (Plan::Pro, 40), (Plan::Enterprise, 50)],
            10..=49 => &[(Plan::Free, 20), (Plan::Starter, 35), (Plan::Pro, 35), (Plan::Enterprise, 10)],
            _ => &[(Plan::Free, 55), (Plan::Starter, 30), (Plan::Pro, 13), (Plan::Enterprise, 2)],
        };
        let plan = weighted(rng, plans);
        let size_u32 = u32::try_from(size).unwrap_or(u32::MAX);
        let employees = size_u32.saturating_mul(rng.random_range(2..12)) + rng.random_range(0..20);
        let created_ms = if rng.random_bool(0.4) {
            start_ms - rng.random_range(14 * DAY_MS..720 * DAY_MS)
        } else {
            // More sign-ups towards the end: the product grows.
            let span = (end_ms - start_ms - 6 * HOUR_MS).max(HOUR_MS) as f64;
            start_ms + (span * rng.random::<f64>().powf(0.7)) as i64
        };
        let churn_chance = match plan {
            Plan::Free => 0.18,
            Plan::Starter => 0.08,
            Plan::Pro => 0.04,
            Plan::Enterprise => 0.0,
        };
        let churn_from = created_ms.max(start_ms) + 7 * DAY_MS;
        let churn_ms = if churn_from < end_ms && rng.random_bool(churn_chance) {
            uniform_ms(rng, churn_from, end_ms)
        } else {
            i64::MAX
        };
        accounts.push(Account {
            domain: format!("{}.com", slug(&name)),
            name,
            plan,
            industry: weighted(rng, words::INDUSTRIES),
            employees,
            country: weighted(rng, &countries),
            created_ms,
            churn_ms,
            members: vec![usize::MAX; size],
        });
    }
    accounts
}

fn make_users(rng: &mut StdRng, accounts: &mut [Account], start_ms: i64, end_ms: i64) -> Vec<User> {
    let countries: Vec<(usize, u32)> = COUNTRIES.iter().enumerate().map(|(i, c)| (i, c.weight)).collect();
    let platforms: Vec<(usize, u32)> = words::PLATFORMS.iter().enumerate().map(|(i, p)| (i, p.2)).collect();
    let mut users = Vec::new();
    for (a, account) in accounts.iter_mut().enumerate() {
        for m in 0..account.members.len() {
            let owner = m == 0;
            let joined_ms = if owner {
                account.created_ms + 30_000
            } else if account.created_ms < start_ms && rng.random_bool(0.65) {
                uniform_ms(rng, account.created_ms + HOUR_MS, start_ms)
            } else {
                let from = account.created_ms.max(start_ms) + 10 * MINUTE_MS;
                let t = from + exponential(rng, 5.0 * DAY_MS as f64) as i64;
                if t < end_ms { t } else { uniform_ms(rng, from, end_ms) }
            };
            let role = if owner { "admin" } else { weighted(rng, words::ROLES) };
            let churn_chance =
                if role == "viewer" { 0.3 } else { 0.18 } + if account.plan == Plan::Free { 0.07 } else { 0.0 };
            let own_end = if !owner && rng.random_bool(churn_chance) {
                joined_ms.max(start_ms) + 2 * DAY_MS + exponential(rng, 25.0 * DAY_MS as f64) as i64
            } else {
                i64::MAX
            };
            let role_factor = match role {
                "viewer" => 0.4,
                "admin" => 0.9,
                "manager" => 1.1,
                _ => 1.0,
            };
            let plan_factor = match account.plan {
                Plan::Free => 0.75,
                Plan::Starter => 1.0,
                Plan::Pro => 1.15,
                Plan::Enterprise => 1.3,
            };
            let n = users.len();
            account.members[m] = n;
            users.push(User {
                user_id: format!("u{}@{}", m + 1, account.domain),
                device_id: format!("{:016x}", rng.random::<u64>()),
                account: a,
                second_account: None,
                role,
                country: if rng.random_bool(0.8) { account.country } else { weighted(rng, &countries) },
                platform: weighted(rng, &platforms),
                joined_ms,
                end_ms: own_end.min(account.churn_ms),
                activity: (0.9 * normal(rng)).exp() * role_factor * plan_factor,
            });
        }
    }
    // A handful of people (consultants, agencies) also work in a second account.
    if accounts.len() > 1 {
        let count = (users.len() / 100).clamp(1, 25);
        for _ in 0..count {
            let u = rng.random_range(0..users.len());
            let other = rng.random_range(0..accounts.len() - 1);
            let other = if other >= users[u].account { other + 1 } else { other };
            users[u].second_account = Some(other);
        }
    }
    users
}

#[cfg(test)]
mod tests;
