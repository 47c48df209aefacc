//! Events-per-second throttling per device and per user, averaged over a sliding window of one-second buckets
//! (Amplitude: 30 EPS on `/2/httpapi`, 1,000 on `/batch`, averaged over 30 seconds), and a daily quota per device
//! and user over a rolling 24 hours in one-hour buckets (Amplitude: 500,000).

use std::collections::HashMap;
use std::sync::Mutex;

/// Counts events per (project, id).
#[derive(Debug)]
pub struct Throttle {
    window_secs: u32,
    counts: Mutex<HashMap<(u64, String), Counters>>,
}

#[derive(Debug, Clone)]
struct Counters {
    recent: Window,
    daily: Window,
}

/// A sliding window of `slots.len()` buckets, each `width` seconds wide.
#[derive(Debug, Clone)]
struct Window {
    width: i64,
    counts: Vec<u64>,
    /// The bucket number (`second / width`) each slot last counted.
    slots: Vec<i64>,
    last_second: i64,
}

impl Window {
    fn new(buckets: usize, width: i64) -> Window {
        Window { width, counts: vec![0; buckets], slots: vec![i64::MIN; buckets], last_second: i64::MIN }
    }

    fn total(&self, now: i64) -> u64 {
        let current = now.div_euclid(self.width);
        let len = self.counts.len() as i64;
        self.counts.iter().zip(&self.slots).filter(|(_, s)| current.saturating_sub(**s) < len).map(|(c, _)| *c).sum()
    }

    fn add(&mut self, now: i64, n: u64) {
        let bucket = now.div_euclid(self.width);
        let i = bucket.rem_euclid(self.counts.len() as i64) as usize;
        if self.slots[i] != bucket {
            self.slots[i] = bucket;
            self.counts[i] = 0;
        }
        self.counts[i] = self.counts[i].saturating_add(n);
        self.last_second = now;
    }
}

/// The limits one request is checked against.
#[derive(Debug, Clone, Copy)]
pub struct Limits {
    /// Events per second, averaged over the window.
    pub eps: u32,
    /// Events per rolling 24 hours; 0 turns the quota off.
    pub daily_quota: u64,
}

/// The ids of one request that are over a limit, with their current rate or daily count.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Verdict {
    pub devices: Vec<(String, u64)>,
    pub users: Vec<(String, u64)>,
    pub daily_devices: Vec<(String, u64)>,
    pub daily_users: Vec<(String, u64)>,
}

impl Verdict {
    fn is_empty(&self) -> bool {
        self.devices.is_empty() && self.users.is_empty() && self.daily_devices.is_empty() && self.daily_users.is_empty()
    }
}

impl Throttle {
    pub fn new(window_secs: u32) -> Throttle {
        Throttle { window_secs: window_secs.max(1), counts: Mutex::new(HashMap::new()) }
    }

    /// Checks a request: `ids` are (is_user, id, events in this request). If no id would go over a limit, the
    /// events are counted and `None` is returned; otherwise nothing is counted.
    pub fn admit(&self, project: u64, limits: Limits, ids: &[(bool, &str, u32)], now_sec: i64) -> Option<Verdict> {
        let window_limit = u64::from(limits.eps) * u64::from(self.window_secs);
        let mut counts = self.counts.lock().expect("throttle lock");
        let mut verdict = Verdict::default();
        let key = |is_user: bool, id: &str| (project, format!("{}{id}", if is_user { 'u' } else { 'd' }));
        for (is_user, id, n) in ids {
            let n = u64::from(*n);
            let (recent, daily) = counts
                .get(&key(*is_user, id))
                .map(|c| (c.recent.total(now_sec), c.daily.total(now_sec)))
                .unwrap_or((0, 0));
            if recent + n > window_limit {
                let entry = ((*id).to_owned(), (recent + n) / u64::from(self.window_secs));
                if *is_user { verdict.users.push(entry) } else { verdict.devices.push(entry) }
            }
            if limits.daily_quota > 0 && daily + n > limits.daily_quota {
                let entry = ((*id).to_owned(), daily + n);
                if *is_user { verdict.daily_users.push(entry) } else { verdict.daily_devices.push(entry) }
            }
        }
        if !verdict.is_empty() {
            return Some(verdict);
        }
        let window = self.window_secs as usize;
        for (is_user, id, n) in ids {
            let c = counts
                .entry(key(*is_user, id))
                .or_insert_with(|| Counters { recent: Window::new(window, 1), daily: Window::new(24, 3600) });
            c.recent.add(now_sec, u64::from(*n));
            c.daily.add(now_sec, u64::from(*n));
        }
        // Forget ids that have been quiet for a whole day, so memory follows the active population.
        if counts.len() > 100_000 {
            counts.retain(|_, c| now_sec.saturating_sub(c.daily.last_second) < 24 * 3600);
        }
        None
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const EPS30: Limits = Limits { eps: 30, daily_quota: 0 };

    #[test]
    fn over_the_average_is_throttled_and_not_counted() {
        let t = Throttle::new(30);
        // 30 EPS over 30 s = 900 events in the window.
        assert!(t.admit(1, EPS30, &[(false, "dev", 900)], 100).is_none());
        let v = t.admit(1, EPS30, &[(false, "dev", 1), (true, "user", 1)], 101).unwrap();
        assert_eq!(v.devices, vec![("dev".to_owned(), 30)]);
        assert!(v.users.is_empty());
        // The refused request was not counted: the user is still at 0.
        assert!(t.admit(1, EPS30, &[(true, "user", 900)], 101).is_none());
        // A window later the device may send again; other projects are independent.
        assert!(t.admit(1, EPS30, &[(false, "dev", 10)], 131).is_none());
        assert!(t.admit(2, EPS30, &[(false, "dev", 900)], 101).is_none());
    }

    #[test]
    fn daily_quota_rolls_over_24_hours() {
        let t = Throttle::new(30);
        let limits = Limits { eps: 1000, daily_quota: 100 };
        for hour in 0..10 {
            assert!(t.admit(1, limits, &[(true, "u", 10)], hour * 3600).is_none());
        }
        let v = t.admit(1, limits, &[(true, "u", 1)], 10 * 3600).unwrap();
        assert_eq!(v.daily_users, vec![("u".to_owned(), 101)]);
        // A day after the first hour, its events no longer count.
        assert!(t.admit(1, limits, &[(true, "u", 10)], 24 * 3600).is_none());
    }
}
