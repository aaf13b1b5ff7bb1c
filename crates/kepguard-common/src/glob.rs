//! Namespace patterns: namespace names with the wildcards `*` (any run of characters) and `?`
//! (exactly one character), such as `prod-*` or `team-?`.

use crate::settings::is_dns1123_label;

/// A compiled namespace pattern.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct NamespacePattern {
    pattern: String,
}

impl NamespacePattern {
    /// Compiles `pattern`. An empty pattern, or one holding a character that no namespace
    /// name can hold, is an error saying why.
    pub fn parse(pattern: &str) -> Result<NamespacePattern, String> {
        if pattern.is_empty() {
            return Err(
                "a namespace pattern cannot be empty (use \"*\" for every namespace)".into(),
            );
        }
        if let Some(bad) = pattern.chars().find(|c| {
            !(c.is_ascii_lowercase() || c.is_ascii_digit() || matches!(c, '-' | '*' | '?'))
        }) {
            return Err(format!(
                "the namespace pattern {pattern:?} holds {bad:?}, which no namespace name can hold: use lowercase letters, digits, '-', and the wildcards '*' and '?'"
            ));
        }
        // Without wildcards, the pattern must itself be a namespace name.
        if !pattern.contains(['*', '?']) && !is_dns1123_label(pattern) {
            return Err(format!(
                "{pattern:?} is not a valid namespace name (lowercase letters, digits and '-', at most 63 characters, not starting or ending with '-')"
            ));
        }
        Ok(NamespacePattern {
            pattern: pattern.to_string(),
        })
    }

    /// The pattern as written.
    pub fn as_str(&self) -> &str {
        &self.pattern
    }

    /// Whether `namespace` matches the whole pattern.
    pub fn matches(&self, namespace: &str) -> bool {
        wildcard_match(self.pattern.as_bytes(), namespace.as_bytes())
    }
}

/// Iterative wildcard matching with one backtracking point: linear in practice, and never
/// exponential, whatever the pattern.
fn wildcard_match(pattern: &[u8], text: &[u8]) -> bool {
    let (mut p, mut t) = (0, 0);
    // The position after the last `*`, and the text position it was tried at.
    let mut star: Option<(usize, usize)> = None;
    while t < text.len() {
        match pattern.get(p) {
            Some(b'*') => {
                star = Some((p + 1, t));
                p += 1;
            }
            Some(&c) if c == b'?' || c == text[t] => {
                p += 1;
                t += 1;
            }
            _ => match star {
                Some((after_star, tried)) => {
                    p = after_star;
                    t = tried + 1;
                    star = Some((after_star, tried + 1));
                }
                None => return false,
            },
        }
    }
    pattern[p..].iter().all(|&c| c == b'*')
}

#[cfg(test)]
mod tests {
    use super::*;

    fn matches(pattern: &str, namespace: &str) -> bool {
        NamespacePattern::parse(pattern).unwrap().matches(namespace)
    }

    #[test]
    fn matches_wildcards() {
        assert!(matches("*", "anything"));
        assert!(matches("*", ""));
        assert!(matches("prod-*", "prod-eu"));
        assert!(matches("prod-*", "prod-"));
        assert!(!matches("prod-*", "production"));
        assert!(!matches("prod-*", "pre-prod-eu"));
        assert!(matches("*-prod", "eu-prod"));
        assert!(matches("team-?", "team-a"));
        assert!(!matches("team-?", "team-ab"));
        assert!(matches("a*b*c", "axxbyyc"));
        assert!(!matches("a*b*c", "axxbyy"));
        assert!(matches("kube-system", "kube-system"));
        assert!(!matches("kube-system", "kube-system2"));
        assert!(matches("**", "x"));
        assert!(matches("*a", "aaa"));
    }

    #[test]
    fn long_inputs_stay_fast() {
        let pattern = NamespacePattern::parse(&"*a".repeat(20)).unwrap();
        assert!(!pattern.matches(&"a".repeat(19)));
        assert!(pattern.matches(&"a".repeat(63)));
    }

    #[test]
    fn refuses_patterns_no_namespace_can_match() {
        let error = NamespacePattern::parse("").unwrap_err();
        assert!(error.contains("cannot be empty"), "{error}");
        let error = NamespacePattern::parse("Prod-*").unwrap_err();
        assert!(error.contains("holds 'P'"), "{error}");
        assert!(NamespacePattern::parse("prod_*").is_err());
        assert!(NamespacePattern::parse("prod.*").is_err());
        assert!(NamespacePattern::parse("prod/eu").is_err());
        assert!(NamespacePattern::parse("-prod").is_err());
        assert!(NamespacePattern::parse(&"x".repeat(64)).is_err());
        assert_eq!(
            NamespacePattern::parse("prod-*").unwrap().as_str(),
            "prod-*"
        );
    }
}
