//! This process's memory as `/proc/self/status` reports it, with the peak (`VmHWM`) reset before each measured
//! question, for `herd bench query`.

fn status(key: &str) -> u64 {
    let s = std::fs::read_to_string("/proc/self/status").unwrap_or_default();
    s.lines().find_map(|l| l.strip_prefix(key)?.strip_prefix(':')?.split_whitespace().next()?.parse().ok()).unwrap_or(0)
}

/// Resets the peak (`VmHWM`) to the current RSS and returns that RSS, KiB.
pub(crate) fn reset_peak() -> u64 {
    if let Err(e) = std::fs::write("/proc/self/clear_refs", "5") {
        eprintln!("cannot reset the peak RSS ({e}); peaks are since the process started");
    }
    status("VmRSS")
}

/// The peak RSS since the last reset, KiB.
pub(crate) fn peak() -> u64 {
    status("VmHWM")
}
