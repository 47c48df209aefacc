//! Events-per-second throttling per device and per user, averaged over a sliding window of one-second buckets
//! (Amplitude: 30 EPS on `/2/httpapi`, 1,000 on `/batch`, averaged over 30 seconds).

use std::collections::HashMap;
use std::sync::Mutex;

/// Counts events per (project, id) in one-second buckets.
#[derive(Debug)]
pub struct Throttle {
    window_secs: u32,
    counts: Mutex<HashMap<(u64, String), Window>>,
}

#[derive(Debug, Clone)]
struct Window {
    /// Events per second, indexed by `second % window`.
    buckets: Vec<u32>,
    /// The second each bucket was last written.
    seconds: Vec<i64>,
    last_second: i64,
}

impl Window {
    fn new(window: usize) -> Window {
        Window { buckets: vec![0; window], seconds: vec![i64::MIN; window], last_second: i64::MIN }
    }

    fn total(&self, now: i64) -> u64 {
        let window = self.buckets.len() as i64;
        self.buckets
            .iter()
            .zip(&self.seconds)
            .filter(|(_, s)| now.saturating_sub(**s) < window)
            .map(|(c, _)| u64::from(*c))
            .sum()
    }

    fn add(&mut self, now: i64, n: u32) {
        let i = now.rem_euclid(self.buckets.len() as i64) as usize;
        if self.seconds[i] != now {
            self.seconds[i] = now;
            self.buckets[i] = 0;
        }
        self.buckets[i] = self.buckets[i].saturating_add(n);
        self.last_second = now;
    }
}

/// The ids of one request that are over their limit, with their current rate.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Verdict {
    pub devices: Vec<(String, u64)>,
    pub users: Vec<(String, u64)>,
}

impl Throttle {
    pub fn new(window_secs: u32) -> Throttle {
        Throttle { window_secs: window_secs.max(1), counts: Mutex::new(HashMap::new()) }
    }

    /// Checks a request: `ids` are (is_user, id, events in this request). If no id would go over `eps`
    /// averaged over the window, the events are counted and `None` is returned; otherwise nothing is counted.
    pub fn admit(&self, project: u64, eps: u32, ids: &[(bool, &str, u32)], now_sec: i64) -> Option<Verdict> {
        let limit = u64::from(eps) * u64::from(self.window_secs);
        let mut counts = self.counts.lock().expect("throttle lock");
        let mut verdict = Verdict::default();
        let key = |is_user: bool, id: &str| (project, format!("{}{id}", if is_user { 'u' } else { 'd' }));
        for (is_user, id, n) in ids {
            let current = counts.get(&key(*is_user, id)).map(|w| w.total(now_sec)).unwrap_or(0);
            if current + u64::from(*n) > limit {
                let rate = (current + u64::from(*n)) / u64::from(self.window_secs);
                let entry = ((*id).to_owned(), rate);
                if *is_user { verdict.users.push(entry) } else { verdict.devices.push(entry) }
            }
        }
        if !verdict.devices.is_empty() || !verdict.users.is_empty() {
            return Some(verdict);
        }
        let window = self.window_secs as usize;
        for (is_user, id, n) in ids {
            counts.entry(key(*is_user, id)).or_insert_with(|| Window::new(window)).add(now_sec, *n);
        }
        // Forget ids that have been quiet for a whole window, so memory follows the active population.
        if counts.len() > 100_000 {
            let horizon = i64::from(self.window_secs);
            counts.retain(|_, w| now_sec.saturating_sub(w.last_second) < horizon);
        }
        None
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn over_the_average_is_throttled_and_not_counted() {
        let t = Throttle::new(30);
        // 30 EPS over 30 s = 900 events in the window.
        assert!(t.admit(1, 30, &[(false, "dev", 900)], 100).is_none());
        let v = t.admit(1, 30, &[(false, "dev", 1), (true, "user", 1)], 101).unwrap();
        assert_eq!(v.devices, vec![("dev".to_owned(), 30)]);
        assert!(v.users.is_empty());
        // The refused request was not counted: the user is still at 0.
        assert!(t.admit(1, 30, &[(true, "user", 900)], 101).is_none());
        // A window later the device may send again; other projects are independent.
        assert!(t.admit(1, 30, &[(false, "dev", 10)], 131).is_none());
        assert!(t.admit(2, 30, &[(false, "dev", 900)], 101).is_none());
    }
}
