//! Bounding untrusted or unbounded text before it goes into labels, logs, JSON and error
//! messages.

use std::borrow::Cow;

/// `s` cut to at most `max_chars` characters: unchanged (borrowed) when it fits, otherwise its
/// first `max_chars - 1` characters followed by "…", so the ellipsis counts toward the bound
/// and the result is never longer than `max_chars`. Characters, not bytes, are counted, so the
/// cut always falls on a character boundary. With `max_chars` 0 the result is empty.
pub(crate) fn truncate(s: &str, max_chars: usize) -> Cow<'_, str> {
    if s.char_indices().nth(max_chars).is_none() {
        return Cow::Borrowed(s);
    }
    let Some(keep) = max_chars.checked_sub(1) else {
        return Cow::Borrowed("");
    };
    // `s` has more than `max_chars` characters, so character `keep` exists.
    let cut = s.char_indices().nth(keep).map_or(s.len(), |(i, _)| i);
    Cow::Owned(format!("{}…", &s[..cut]))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn text_that_fits_is_borrowed_unchanged() {
        assert!(matches!(truncate("héllo", 5), Cow::Borrowed("héllo")));
        assert!(matches!(truncate("héllo", 50), Cow::Borrowed("héllo")));
        assert!(matches!(truncate("", 0), Cow::Borrowed("")));
    }

    #[test]
    fn longer_text_ends_in_an_ellipsis_within_the_bound() {
        assert_eq!(truncate("héllo wörld", 5), "héll…");
        assert_eq!(truncate("héllo", 4), "hél…");
        assert_eq!(truncate("héllo", 2), "h…");
        assert_eq!(truncate("héllo", 1), "…");
        assert_eq!(truncate("héllo", 0), "");
        for max in 0..8 {
            assert!(truncate("日本語のテキストです", max).chars().count() <= max, "{max}");
        }
    }
}
