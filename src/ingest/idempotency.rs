//! `Idempotency-Key`: a key seen within the window is answered again without counting twice.
//!
//! Keys are scoped by the client that sent them ([`ClientId`]: which configured token it
//! presented), so one client reusing another's key cannot suppress that client's batch. With
//! authentication off every client shares one scope.
//!
//! Memory is bounded twice over: keys are at most [`MAX_KEY_LEN`] bytes, and at most `capacity`
//! keys are remembered; past that the oldest key is forgotten early (a resend of a batch that
//! old would then count again, which the README states). Keys expire after the window.

use std::collections::{HashMap, VecDeque};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use super::auth::ClientId;

/// How long a key is remembered.
pub(super) const WINDOW: Duration = Duration::from_secs(600);

/// The longest key accepted, in bytes.
pub(super) const MAX_KEY_LEN: usize = 128;

/// Keys remembered at most (about 2 MB at the longest keys).
pub(super) const DEFAULT_CAPACITY: usize = 10_000;

/// Checks an `Idempotency-Key` value: 1–128 visible ASCII characters.
pub(super) fn check_key(key: &[u8]) -> Result<&str, String> {
    if key.is_empty() || key.len() > MAX_KEY_LEN || !key.iter().all(|b| (0x21..=0x7e).contains(b)) {
        return Err(format!(
            "must be 1–{MAX_KEY_LEN} visible ASCII characters (no spaces), such as a UUID; got {} bytes",
            key.len()
        ));
    }
    // Visible ASCII is valid UTF-8.
    std::str::from_utf8(key).map_err(|_| "must be visible ASCII".to_owned())
}

/// The keys seen within the window, oldest first.
#[derive(Debug)]
pub(super) struct SeenKeys {
    window: Duration,
    capacity: usize,
    inner: Mutex<Inner>,
}

#[derive(Debug, Default)]
struct Inner {
    /// Client → key → when it was first accepted. A map per client (there are as many as
    /// configured tokens) lets a lookup borrow the request's key instead of building one.
    when: HashMap<ClientId, HashMap<Arc<str>, Instant>>,
    /// The same keys in the order they were accepted, for expiry and eviction; also their
    /// number, since every remembered key is here exactly once.
    order: VecDeque<(Instant, ClientId, Arc<str>)>,
}

impl Inner {
    fn forget_front(&mut self) {
        let Some((at, client, key)) = self.order.pop_front() else { return };
        if let Some(keys) = self.when.get_mut(&client)
            && keys.get(&key) == Some(&at)
        {
            keys.remove(&key);
            if keys.is_empty() {
                self.when.remove(&client);
            }
        }
    }
}

impl SeenKeys {
    pub(super) fn new(window: Duration, capacity: usize) -> Self {
        Self { window, capacity: capacity.max(1), inner: Mutex::new(Inner::default()) }
    }

    /// Records `key` of `client` as accepted at `now` and returns `false`, or returns `true`
    /// when the same client's key was already accepted within the window (and then records
    /// nothing).
    pub(super) fn check_and_insert(&self, client: ClientId, key: &str, now: Instant) -> bool {
        let mut inner = self.inner.lock().unwrap_or_else(std::sync::PoisonError::into_inner);
        while let Some((at, _, _)) = inner.order.front() {
            if now.saturating_duration_since(*at) < self.window {
                break;
            }
            inner.forget_front();
        }
        if inner.when.get(&client).is_some_and(|keys| keys.contains_key(key)) {
            return true;
        }
        while inner.order.len() >= self.capacity {
            inner.forget_front();
        }
        let key: Arc<str> = Arc::from(key);
        inner.when.entry(client).or_default().insert(Arc::clone(&key), now);
        inner.order.push_back((now, client, key));
        false
    }

    /// Keys currently remembered.
    #[cfg(test)]
    fn len(&self) -> usize {
        self.inner.lock().unwrap_or_else(|p| p.into_inner()).order.len()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const A: ClientId = ClientId::ANYONE;

    #[test]
    fn a_key_is_a_duplicate_within_the_window_only() {
        let seen = SeenKeys::new(Duration::from_secs(10), 100);
        let t0 = Instant::now();
        assert!(!seen.check_and_insert(A, "k", t0));
        assert!(seen.check_and_insert(A, "k", t0 + Duration::from_secs(9)));
        assert!(!seen.check_and_insert(A, "k", t0 + Duration::from_secs(10)), "expired after the window");
        assert!(seen.check_and_insert(A, "k", t0 + Duration::from_secs(11)));
        assert_eq!(seen.len(), 1);
    }

    #[test]
    fn capacity_evicts_the_oldest_key() {
        let seen = SeenKeys::new(Duration::from_secs(600), 3);
        let t0 = Instant::now();
        for k in ["a", "b", "c", "d"] {
            assert!(!seen.check_and_insert(A, k, t0));
        }
        assert_eq!(seen.len(), 3);
        assert!(seen.check_and_insert(A, "d", t0));
        assert!(seen.check_and_insert(A, "b", t0));
        assert!(!seen.check_and_insert(A, "a", t0), "a was evicted");
    }

    #[test]
    fn a_flood_of_keys_stays_within_capacity() {
        let seen = SeenKeys::new(Duration::from_secs(600), 1000);
        let t0 = Instant::now();
        for i in 0..50_000 {
            seen.check_and_insert(ClientId(i % 3), &format!("key-{i}"), t0);
        }
        assert_eq!(seen.len(), 1000);
        let inner = seen.inner.lock().unwrap();
        assert_eq!(inner.when.values().map(HashMap::len).sum::<usize>(), 1000);
    }

    #[test]
    fn keys_are_scoped_by_client() {
        let seen = SeenKeys::new(Duration::from_secs(600), 100);
        let t0 = Instant::now();
        let (alice, bob) = (ClientId(0), ClientId(1));
        assert!(!seen.check_and_insert(alice, "batch-1", t0));
        assert!(!seen.check_and_insert(bob, "batch-1", t0), "bob's batch is not alice's resend");
        assert!(seen.check_and_insert(alice, "batch-1", t0));
        assert!(seen.check_and_insert(bob, "batch-1", t0));
        assert_eq!(seen.len(), 2);
    }

    #[test]
    fn eviction_and_expiry_work_across_clients() {
        let seen = SeenKeys::new(Duration::from_secs(10), 2);
        let t0 = Instant::now();
        assert!(!seen.check_and_insert(ClientId(0), "k", t0));
        assert!(!seen.check_and_insert(ClientId(1), "k", t0 + Duration::from_secs(1)));
        assert!(!seen.check_and_insert(ClientId(2), "k", t0 + Duration::from_secs(2)), "evicts client 0's key");
        assert!(!seen.check_and_insert(ClientId(0), "k", t0 + Duration::from_secs(3)), "client 0's key was evicted");
        assert!(seen.check_and_insert(ClientId(2), "k", t0 + Duration::from_secs(4)));
        assert_eq!(seen.len(), 2);
        // Client 2's key (t0 + 2 s) has expired at t0 + 12 s, client 0's (t0 + 3 s) has not;
        // client 1, whose only key was evicted, takes no memory.
        assert!(!seen.check_and_insert(ClientId(2), "k", t0 + Duration::from_secs(12)), "expired");
        assert!(seen.check_and_insert(ClientId(0), "k", t0 + Duration::from_secs(12)), "not yet expired");
        let inner = seen.inner.lock().unwrap();
        assert!(!inner.when.contains_key(&ClientId(1)), "{inner:?}");
    }

    #[test]
    fn keys_must_be_short_visible_ascii() {
        assert_eq!(check_key(b"3f2a-uuid"), Ok("3f2a-uuid"));
        assert!(check_key(b"").is_err());
        assert!(check_key(b"has space").is_err());
        assert!(check_key(&[b'a'; 129]).is_err());
        assert!(check_key("é".as_bytes()).is_err());
    }
}
