//! Webhook filters (SPEC 6.4): which checks fire a webhook beyond its events and scope —
//! a least severity and contract-name globs. Pure; the store evaluates a filter before
//! anything is queued, so a filtered-out check writes no delivery.

/// Most patterns in `contract_names`.
pub const MAX_PATTERNS: usize = 100;
/// Longest pattern (a contract name is at most 256 characters).
pub const MAX_PATTERN_CHARS: usize = 256;
/// Highest `min_severity` (severities are 0–100).
pub const MAX_MIN_SEVERITY: u8 = 100;

/// What a check must also be to fire a webhook. Either part may be absent (no condition).
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct WebhookFilter {
    /// The check's severity is at least this.
    pub min_severity: Option<u8>,
    /// The contract's name matches one of these globs (`*` any run, `?` one character,
    /// whole name, case-sensitive); an empty list matches nothing.
    pub contract_names: Option<Vec<String>>,
}

impl WebhookFilter {
    /// Whether a check of this severity, of a contract of this name, passes. `name` is
    /// asked for only when a name pattern needs it (it costs a read).
    pub fn passes(&self, severity: u8, name: impl FnOnce() -> Option<String>) -> bool {
        if self.min_severity.is_some_and(|min| severity < min) {
            return false;
        }
        match &self.contract_names {
            None => true,
            Some(patterns) if patterns.is_empty() => false,
            Some(patterns) => {
                name().is_some_and(|name| patterns.iter().any(|p| glob_matches(p, &name)))
            }
        }
    }

    /// Whether matching needs the contract's name.
    pub fn needs_name(&self) -> bool {
        self.contract_names.as_ref().is_some_and(|p| !p.is_empty())
    }
}

/// Whether `text` matches `pattern` as a whole: `*` matches any run of characters
/// (none included), `?` exactly one, anything else itself.
///
/// Linear in practice and O(pattern × text) at worst, never exponential: on a mismatch
/// it only returns to the last `*` seen (a later `*` makes earlier ones irrelevant), so a
/// pattern of 100 `*` costs what one does.
pub fn glob_matches(pattern: &str, text: &str) -> bool {
    let pattern: Vec<char> = pattern.chars().collect();
    let text: Vec<char> = text.chars().collect();
    let (mut p, mut t) = (0, 0);
    // The last `*` seen, and the text position it is currently made to match up to.
    let mut star: Option<(usize, usize)> = None;
    while t < text.len() {
        match pattern.get(p) {
            Some('*') => {
                star = Some((p, t));
                p += 1;
            }
            Some(&c) if c == '?' || c == text[t] => {
                p += 1;
                t += 1;
            }
            _ => match star {
                // Let the last `*` swallow one more character and try again after it.
                Some((star_p, star_t)) => {
                    star = Some((star_p, star_t + 1));
                    p = star_p + 1;
                    t = star_t + 1;
                }
                None => return false,
            },
        }
    }
    pattern[p..].iter().all(|&c| c == '*')
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    #[test]
    fn globs_match_whole_names() {
        let cases = [
            ("orders_*", "orders_eu", true),
            ("orders_*", "orders_", true),
            ("orders_*", "my_orders_eu", false),
            ("orders_?", "orders_1", true),
            ("orders_?", "orders_12", false),
            ("*", "", true),
            ("", "", true),
            ("", "a", false),
            ("a*b*c", "aXXbYYc", true),
            ("a*b*c", "aXXbYY", false),
            ("*_eu", "orders_eu", true),
            ("Orders", "orders", false),
            ("?", "é", true),
            ("*a", "bbbbbbbbbbbbbbbbba", true),
        ];
        for (pattern, name, expected) in cases {
            assert_eq!(glob_matches(pattern, name), expected, "{pattern} ~ {name}");
        }
    }

    #[test]
    fn a_pattern_of_stars_stays_fast() {
        let pattern = format!("{}b", "*".repeat(100));
        let name = "a".repeat(256);
        let started = std::time::Instant::now();
        for _ in 0..1000 {
            assert!(!glob_matches(&pattern, &name));
        }
        let pattern = "*a".repeat(100);
        assert!(!glob_matches(&pattern, &"a".repeat(99)));
        assert!(glob_matches(&pattern, &"a".repeat(100)));
        // Not a timing assertion: a backtracking matcher takes years here, not seconds.
        assert!(started.elapsed() < std::time::Duration::from_secs(30));
    }

    #[test]
    fn filters_combine_their_parts() {
        let name = || Some("orders_eu".to_owned());
        let none = WebhookFilter::default();
        assert!(none.passes(0, name));
        let severe = WebhookFilter {
            min_severity: Some(40),
            contract_names: None,
        };
        assert!(!severe.passes(39, name));
        assert!(severe.passes(40, name));
        let named = WebhookFilter {
            min_severity: Some(40),
            contract_names: Some(vec!["users".into(), "orders_*".into()]),
        };
        assert!(named.passes(70, name));
        assert!(!named.passes(30, name));
        assert!(!named.passes(70, || Some("users_eu".into())));
        assert!(
            !named.passes(70, || None),
            "a contract that is gone matches nothing"
        );
        let nothing = WebhookFilter {
            min_severity: None,
            contract_names: Some(vec![]),
        };
        assert!(!nothing.passes(100, name));
        assert!(!nothing.needs_name());
    }

    /// A reference matcher by recursion (exponential, so only on small inputs).
    fn reference(p: &[char], t: &[char]) -> bool {
        match p.split_first() {
            None => t.is_empty(),
            Some(('*', rest)) => (0..=t.len()).any(|i| reference(rest, &t[i..])),
            Some((&c, rest)) => t
                .split_first()
                .is_some_and(|(&x, tail)| (c == '?' || c == x) && reference(rest, tail)),
        }
    }

    proptest! {
        #[test]
        fn the_matcher_agrees_with_the_definition(pattern in "[ab*?]{0,8}", text in "[ab]{0,10}") {
            let p: Vec<char> = pattern.chars().collect();
            let t: Vec<char> = text.chars().collect();
            prop_assert_eq!(glob_matches(&pattern, &text), reference(&p, &t));
        }
    }
}
