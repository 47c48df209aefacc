//! Unit tests of the demo generator: determinism, sizes, shape (Zipf teams, weekly rhythm) and ordering.

use std::collections::HashMap;

use super::*;

fn params(events: usize) -> Params {
    Params { accounts: 50, users: 600, days: 28, events, seed: 7, end_day: 20_000, now_ms: i64::MAX }
}

fn events(d: &Dataset) -> impl Iterator<Item = (i64, u32, EventKind)> + '_ {
    d.items.iter().filter_map(|t| match t.item {
        Item::Event { user, kind, .. } => Some((t.time_ms, user, kind)),
        _ => None,
    })
}

#[test]
fn same_seed_same_data_other_seed_other_data() {
    let a = generate(&params(20_000));
    let b = generate(&params(20_000));
    let key = |d: &Dataset| d.items.iter().map(|t| (t.time_ms, t.id)).collect::<Vec<_>>();
    assert_eq!(key(&a), key(&b));
    assert_eq!(
        a.users.iter().map(|u| &u.user_id).collect::<Vec<_>>(),
        b.users.iter().map(|u| &u.user_id).collect::<Vec<_>>()
    );
    let c = generate(&Params { seed: 8, ..params(20_000) });
    assert_ne!(key(&a), key(&c));
}

#[test]
fn sizes_follow_the_flags() {
    let d = generate(&params(20_000));
    assert_eq!(d.accounts.len(), 50);
    assert_eq!(d.users.len(), 600);
    let n = d.event_count();
    assert!((18_000..22_000).contains(&n), "{n} events for a target of 20,000");
    let ids: std::collections::HashSet<u32> = d.items.iter().map(|t| t.id).collect();
    assert_eq!(ids.len(), d.items.len(), "ids are unique");
    let names: std::collections::HashSet<&str> = d.accounts.iter().map(|a| a.name.as_str()).collect();
    assert_eq!(names.len(), 50, "account names are unique");
}

#[test]
fn teams_are_zipf_sized_and_some_users_have_two_accounts() {
    let d = generate(&params(1_000));
    let mut sizes: Vec<usize> = d.accounts.iter().map(|a| a.members.len()).collect();
    sizes.sort_unstable_by(|a, b| b.cmp(a));
    assert!(sizes[0] > 5 * sizes[25], "largest {} vs median {}", sizes[0], sizes[25]);
    assert!(sizes.iter().all(|s| *s >= 1));
    assert!(d.users.iter().any(|u| u.second_account.is_some()));
}

#[test]
fn weekdays_are_busier_than_weekends_and_items_are_time_ordered() {
    let d = generate(&params(20_000));
    let mut by_weekday = [0usize; 7];
    for (t, _, _) in events(&d) {
        by_weekday[weekday(t.div_euclid(DAY_MS))] += 1;
    }
    let weekend = (by_weekday[0] + by_weekday[6]) as f64 / 2.0;
    let weekdays = by_weekday[1..6].iter().sum::<usize>() as f64 / 5.0;
    assert!(weekdays > 2.0 * weekend, "{by_weekday:?}");
    assert!(d.items.windows(2).all(|w| w[0].time_ms <= w[1].time_ms));
}

#[test]
fn every_user_signs_up_before_acting_and_is_identified_first() {
    let d = generate(&params(20_000));
    let mut seen: HashMap<u32, (bool, bool)> = HashMap::new();
    for t in &d.items {
        match t.item {
            Item::Identify { user } => {
                seen.entry(user).or_default().0 = true;
            }
            Item::Event { user, kind, .. } => {
                let entry = seen.entry(user).or_default();
                assert!(entry.0, "user {user} acted before being identified");
                if d.users[user as usize].joined_ms >= d.start_ms {
                    let is_sign_up = matches!(kind, EventKind::SignUp { .. });
                    assert!(entry.1 || is_sign_up, "user {user}'s first event is {kind:?}");
                }
                entry.1 = true;
            }
            _ => {}
        }
    }
}

#[test]
fn upgrades_are_followed_by_a_plan_change() {
    let d = generate(&Params { accounts: 200, users: 1_000, ..params(20_000) });
    let upgrades = events(&d).filter(|(_, _, k)| matches!(k, EventKind::UpgradePlan { .. })).count();
    let changes = d.items.iter().filter(|t| matches!(t.item, Item::PlanChanged { .. })).count();
    assert!(upgrades > 0);
    assert_eq!(upgrades, changes);
}

#[test]
fn nothing_after_now() {
    let all = generate(&params(5_000));
    let cut = all.items[all.items.len() / 2].time_ms;
    let d = generate(&Params { now_ms: cut, ..params(5_000) });
    assert!(d.items.iter().all(|t| t.time_ms < cut));
    // The items before the cut are the same ones, with the same ids.
    let before: Vec<u32> = all.items.iter().filter(|t| t.time_ms < cut).map(|t| t.id).collect();
    assert_eq!(before, d.items.iter().map(|t| t.id).collect::<Vec<_>>());
}
