//! The `herd bench query` dataset: a deterministic B2B model (Zipf-sized accounts of type `org` with plan,
//! industry and employees; users with a user-level `org` group; time-ordered events over `days` days) turned into
//! `herd_model` commands for `ProjectStore::submit`.

use herd_model::{Command, GroupIdentify, GroupSet, Identify, Properties, PropertyOps, Track};
use serde_json::json;

pub(crate) const GROUP_TYPE: &str = "org";
pub(crate) const PLANS: [&str; 4] = ["free", "team", "business", "enterprise"];
const INDUSTRIES: [&str; 6] = ["software", "finance", "retail", "health", "media", "education"];
/// Event types with relative weights: a few common ones, a long tail.
pub(crate) const EVENT_TYPES: [(&str, u32); 8] = [
    ("Page Viewed", 40),
    ("Report Viewed", 20),
    ("Search", 12),
    ("Task Created", 10),
    ("Comment Added", 8),
    ("File Uploaded", 5),
    ("Invite Sent", 3),
    ("Export Run", 2),
];
pub(crate) const FEATURES: [&str; 5] = ["dashboards", "reports", "alerts", "api", "settings"];

/// The size and time range of a dataset.
#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub(crate) struct Params {
    pub(crate) events: u64,
    pub(crate) users: u64,
    pub(crate) accounts: u64,
    pub(crate) days: u64,
    /// Exclusive end of the event range, ms since the epoch (a UTC midnight).
    pub(crate) end_ms: i64,
}

impl Params {
    pub(crate) fn start_ms(&self) -> i64 {
        self.end_ms - self.days as i64 * DAY_MS
    }
}

pub(crate) const DAY_MS: i64 = 86_400_000;

/// splitmix64: small, fast and the same on every platform, so a dataset is reproducible from its parameters.
#[derive(Debug, Clone)]
pub(crate) struct Rng(u64);

impl Rng {
    pub(crate) fn new(seed: u64) -> Rng {
        Rng(seed)
    }
    pub(crate) fn next_u64(&mut self) -> u64 {
        self.0 = self.0.wrapping_add(0x9E37_79B9_7F4A_7C15);
        let mut z = self.0;
        z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
        z ^ (z >> 31)
    }
    /// Uniform in `0..n`.
    pub(crate) fn below(&mut self, n: u64) -> u64 {
        ((u128::from(self.next_u64()) * u128::from(n.max(1))) >> 64) as u64
    }
}

pub(crate) fn account_id(i: u64) -> String {
    format!("acct-{i:05}")
}

pub(crate) fn user_id(i: u64) -> String {
    format!("user-{i:07}")
}

/// The account of each user: account `k` (0-based) gets weight `1 / (k + 1)` (Zipf, s = 1), so a few large
/// customers have hundreds of seats and most have a handful.
pub(crate) fn user_accounts(users: u64, accounts: u64, rng: &mut Rng) -> Vec<u32> {
    let mut cumulative = Vec::with_capacity(accounts as usize);
    let mut sum = 0.0;
    for k in 0..accounts {
        sum += 1.0 / (k as f64 + 1.0);
        cumulative.push(sum);
    }
    (0..users)
        .map(|_| {
            let x = (rng.next_u64() >> 11) as f64 / (1u64 << 53) as f64 * sum;
            cumulative.partition_point(|&c| c < x).min(accounts as usize - 1) as u32
        })
        .collect()
}

fn props(value: serde_json::Value) -> Properties {
    match value {
        serde_json::Value::Object(map) => map,
        _ => Properties::new(),
    }
}

/// Group identifies for every account, then an identify (user-level `org` group, a role) for every user.
pub(crate) fn setup_commands(p: &Params, accounts_of_users: &[u32], rng: &mut Rng) -> Vec<Command> {
    let mut out = Vec::new();
    let t = p.start_ms() - DAY_MS;
    for k in 0..p.accounts {
        // Larger (lower-ranked) accounts are on bigger plans more often.
        let plan = PLANS[(3 - (k * 4 / p.accounts.max(1)).min(3) as usize + rng.below(2) as usize).min(3)];
        out.push(Command::GroupIdentify(Box::new(GroupIdentify {
            group_type: GROUP_TYPE.into(),
            group_value: account_id(k),
            ops: PropertyOps::set(props(json!({
                "plan": plan,
                "industry": INDUSTRIES[rng.below(INDUSTRIES.len() as u64) as usize],
                "employees": 5 + rng.below(5000),
            }))),
            time: Some(t),
            ..Default::default()
        })));
    }
    for (u, &k) in accounts_of_users.iter().enumerate() {
        let mut groups = GroupSet::new();
        groups.insert(GROUP_TYPE, &account_id(u64::from(k)));
        let role = ["admin", "member", "viewer"][u % 3];
        out.push(Command::Identify(Box::new(Identify {
            user_id: Some(user_id(u as u64)),
            time: Some(t),
            user_ops: PropertyOps::set(props(json!({ "role": role }))),
            groups,
            ..Default::default()
        })));
    }
    out
}

/// Events `from..to` of the dataset (time-ordered; event `i` sits at `start + i * span / events`).
pub(crate) fn events(p: &Params, from: u64, to: u64, rng: &mut Rng) -> Vec<Command> {
    let total_weight: u32 = EVENT_TYPES.iter().map(|(_, w)| w).sum();
    let span = p.end_ms - p.start_ms();
    (from..to)
        .map(|i| {
            let mut w = rng.below(u64::from(total_weight)) as u32;
            let event_type = EVENT_TYPES
                .iter()
                .find(|(_, weight)| {
                    let hit = w < *weight;
                    w = w.saturating_sub(*weight);
                    hit
                })
                .map(|(name, _)| *name)
                .unwrap_or("Page Viewed");
            let time = p.start_ms() + (i128::from(i) * i128::from(span) / i128::from(p.events.max(1))) as i64;
            Command::Track(Box::new(Track {
                user_id: Some(user_id(rng.below(p.users))),
                event_type: event_type.into(),
                time: Some(time),
                event_properties: props(json!({
                    "feature": FEATURES[rng.below(FEATURES.len() as u64) as usize],
                    "duration_ms": rng.below(10_000),
                })),
                ..Default::default()
            }))
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn params() -> Params {
        Params { events: 1000, users: 50, accounts: 10, days: 3, end_ms: 1_764_720_000_000 }
    }

    #[test]
    fn same_parameters_give_the_same_commands() {
        let p = params();
        let run = || {
            let mut rng = Rng::new(7);
            let accounts = user_accounts(p.users, p.accounts, &mut rng);
            let mut all = setup_commands(&p, &accounts, &mut rng);
            all.extend(events(&p, 0, p.events, &mut rng));
            all
        };
        let (a, b) = (run(), run());
        assert_eq!(a.len(), 10 + 50 + 1000);
        assert_eq!(a, b);
    }

    #[test]
    fn accounts_are_zipf_sized_and_events_time_ordered_in_range() {
        let p = params();
        let mut rng = Rng::new(1);
        let accounts = user_accounts(10_000, 100, &mut rng);
        let count = |k: u32| accounts.iter().filter(|&&a| a == k).count();
        assert!(count(0) > 5 * count(50), "largest {} vs middle {}", count(0), count(50));
        assert!(accounts.iter().all(|&a| a < 100));
        let times: Vec<i64> = events(&p, 0, p.events, &mut rng)
            .iter()
            .map(|c| match c {
                Command::Track(t) => t.time.expect("time"),
                _ => unreachable!(),
            })
            .collect();
        assert!(times.windows(2).all(|w| w[0] <= w[1]));
        assert!(times[0] >= p.start_ms() && *times.last().expect("events") < p.end_ms);
    }
}
