//! A bound on how often one kind of log line is written: a flood of bad requests must not turn
//! into a flood of log lines, yet an operator who sees a counter climb must find a line to grep.

use std::sync::atomic::{AtomicU64, Ordering};
use std::time::{Duration, Instant};

/// Lets one line per slot through every `every`, and counts the lines held back so that the
/// next line written can say how many were. Lock-free: a slot is two atomics.
#[derive(Debug)]
pub(crate) struct LogThrottle {
    every_ms: u64,
    epoch: Instant,
    slots: Vec<Slot>,
}

#[derive(Debug, Default)]
struct Slot {
    /// Milliseconds since `epoch` (plus one, so that 0 means never) of the last line written.
    last: AtomicU64,
    held_back: AtomicU64,
}

impl LogThrottle {
    /// A throttle of `slots` independent kinds of line (for example one per reject reason).
    pub(crate) fn new(every: Duration, slots: usize) -> LogThrottle {
        let every_ms = u64::try_from(every.as_millis()).unwrap_or(u64::MAX);
        LogThrottle { every_ms, epoch: Instant::now(), slots: (0..slots).map(|_| Slot::default()).collect() }
    }

    /// Whether a line of `slot` may be written at `now`: `Some(n)` with the number of lines of
    /// that slot held back since the last one written, or `None` to hold this one back too.
    pub(crate) fn allow(&self, slot: usize, now: Instant) -> Option<u64> {
        let Some(s) = self.slots.get(slot) else { return Some(0) };
        let now_ms = u64::try_from(now.saturating_duration_since(self.epoch).as_millis()).unwrap_or(u64::MAX - 1) + 1;
        let last = s.last.load(Ordering::Relaxed);
        let due = last == 0 || now_ms.saturating_sub(last) >= self.every_ms;
        if due && s.last.compare_exchange(last, now_ms, Ordering::Relaxed, Ordering::Relaxed).is_ok() {
            return Some(s.held_back.swap(0, Ordering::Relaxed));
        }
        s.held_back.fetch_add(1, Ordering::Relaxed);
        None
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn one_line_per_slot_and_period_and_the_count_of_the_rest() {
        let throttle = LogThrottle::new(Duration::from_secs(10), 2);
        let t0 = Instant::now();
        assert_eq!(throttle.allow(0, t0), Some(0));
        for i in 1..=5 {
            assert_eq!(throttle.allow(0, t0 + Duration::from_secs(i)), None);
        }
        assert_eq!(throttle.allow(1, t0 + Duration::from_secs(5)), Some(0), "slots are independent");
        assert_eq!(throttle.allow(0, t0 + Duration::from_secs(10)), Some(5));
        assert_eq!(throttle.allow(0, t0 + Duration::from_secs(11)), None);
        assert_eq!(throttle.allow(0, t0 + Duration::from_secs(21)), Some(1));
        assert_eq!(throttle.allow(7, t0), Some(0), "an unknown slot is never held back");
    }

    /// Many threads at once: exactly one line per period gets through, and every other is counted.
    #[test]
    fn racing_callers_let_one_line_through() {
        let throttle = LogThrottle::new(Duration::from_secs(3600), 1);
        let now = Instant::now();
        let allowed: usize = std::thread::scope(|scope| {
            let handles: Vec<_> = (0..4)
                .map(|_| scope.spawn(|| (0..1000).filter(|_| throttle.allow(0, now).is_some()).count()))
                .collect();
            handles.into_iter().map(|h| h.join().unwrap()).sum()
        });
        assert_eq!(allowed, 1);
        assert_eq!(throttle.allow(0, now + Duration::from_secs(3600)), Some(3999));
    }
}
