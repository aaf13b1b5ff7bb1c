//! Label keys and values, checked as the apiserver checks them
//! (`k8s.io/apimachinery/pkg/util/validation`: `IsQualifiedName`, `IsValidLabelValue`).

use std::collections::BTreeMap;

/// The most characters of a label value and of a key's name part.
const MAX_NAME_LENGTH: usize = 63;
/// The most characters of a key's prefix, a DNS-1123 subdomain.
const MAX_PREFIX_LENGTH: usize = 253;

/// Checks a label key: an optional DNS-1123 subdomain prefix and `/`, then a name of at most
/// 63 characters that starts and ends with a letter or digit and holds only letters, digits,
/// `-`, `_` and `.`. The error says what is wrong, for a message that names the field.
pub fn check_label_key(key: &str) -> Result<(), String> {
    let (prefix, name) = match key.split_once('/') {
        Some((prefix, name)) => (Some(prefix), name),
        None => (None, key),
    };
    if let Some(prefix) = prefix
        && !is_dns1123_subdomain(prefix)
    {
        return Err(format!(
            "{key:?} is not a valid label key: the prefix {prefix:?} must be a DNS subdomain (lowercase letters, digits, '-' and '.', at most {MAX_PREFIX_LENGTH} characters)"
        ));
    }
    if name.is_empty() || name.len() > MAX_NAME_LENGTH || !is_name_part(name) {
        return Err(format!(
            "{key:?} is not a valid label key: the name part must be 1 to {MAX_NAME_LENGTH} letters, digits, '-', '_' or '.', starting and ending with a letter or digit, after an optional DNS subdomain prefix and '/'"
        ));
    }
    Ok(())
}

/// Checks a label value: empty, or at most 63 letters, digits, `-`, `_` and `.`, starting and
/// ending with a letter or digit.
pub fn check_label_value(value: &str) -> Result<(), String> {
    if value.is_empty() || (value.len() <= MAX_NAME_LENGTH && is_name_part(value)) {
        Ok(())
    } else {
        Err(format!(
            "{value:?} is not a valid label value: at most {MAX_NAME_LENGTH} letters, digits, '-', '_' or '.', starting and ending with a letter or digit"
        ))
    }
}

/// Checks every key and value of a `matchLabels` map written in settings, naming `field`.
pub fn check_match_labels(field: &str, labels: &BTreeMap<String, String>) -> Result<(), String> {
    for (key, value) in labels {
        check_label_key(key).map_err(|error| format!("{field}: {error}"))?;
        check_label_value(value).map_err(|error| format!("{field}.{key}: {error}"))?;
    }
    Ok(())
}

/// Whether every pair of `wanted` is among `labels`, as a `matchLabels` selector matches.
pub fn labels_match(wanted: &BTreeMap<String, String>, labels: &BTreeMap<String, String>) -> bool {
    wanted
        .iter()
        .all(|(key, value)| labels.get(key) == Some(value))
}

fn is_name_part(name: &str) -> bool {
    let bytes = name.as_bytes();
    let alphanumeric = |b: &u8| b.is_ascii_alphanumeric();
    bytes.first().is_some_and(alphanumeric)
        && bytes.last().is_some_and(alphanumeric)
        && bytes
            .iter()
            .all(|b| b.is_ascii_alphanumeric() || matches!(b, b'-' | b'_' | b'.'))
}

/// A DNS-1123 subdomain: dot-separated DNS-1123 labels, at most 253 characters.
pub fn is_dns1123_subdomain(name: &str) -> bool {
    !name.is_empty()
        && name.len() <= MAX_PREFIX_LENGTH
        && name.split('.').all(|label| {
            let bytes = label.as_bytes();
            !bytes.is_empty()
                && bytes
                    .iter()
                    .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || *b == b'-')
                && bytes[0] != b'-'
                && bytes[bytes.len() - 1] != b'-'
        })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn accepts_the_keys_kubernetes_accepts() {
        for key in [
            "pod-template-hash",
            "controller-revision-hash",
            "app.kubernetes.io/name",
            "example.com/Tier_1",
            "a",
            "A.b-c_D",
            &"x".repeat(63),
        ] {
            assert_eq!(check_label_key(key), Ok(()), "{key}");
        }
    }

    #[test]
    fn refuses_the_keys_kubernetes_refuses() {
        for key in [
            "",
            "/name",
            "-app",
            "app-",
            "has space",
            "Example.com/name",
            "example.com/",
            "a/b/c",
            "ex_ample.com/name",
            &"x".repeat(64),
            &format!("{}/n", "a".repeat(254)),
        ] {
            assert!(check_label_key(key).is_err(), "{key}");
        }
        let error = check_label_key("Example.com/name").unwrap_err();
        assert!(error.contains("the prefix \"Example.com\""), "{error}");
    }

    #[test]
    fn checks_values_and_maps() {
        assert_eq!(check_label_value(""), Ok(()));
        assert_eq!(check_label_value("db-1.2_x"), Ok(()));
        assert!(check_label_value("-db").is_err());
        assert!(check_label_value(&"v".repeat(64)).is_err());
        let labels = BTreeMap::from([("tier".to_string(), "data base".to_string())]);
        let error = check_match_labels("rules[0].matchLabels", &labels).unwrap_err();
        assert!(
            error
                .starts_with("rules[0].matchLabels.tier: \"data base\" is not a valid label value"),
            "{error}"
        );
    }

    #[test]
    fn match_labels_needs_every_pair() {
        let labels = BTreeMap::from([
            ("app".to_string(), "db".to_string()),
            ("tier".to_string(), "data".to_string()),
        ]);
        let wanted = BTreeMap::from([("tier".to_string(), "data".to_string())]);
        assert!(labels_match(&wanted, &labels));
        assert!(labels_match(&BTreeMap::new(), &labels));
        let other = BTreeMap::from([("tier".to_string(), "web".to_string())]);
        assert!(!labels_match(&other, &labels));
        assert!(!labels_match(&wanted, &BTreeMap::new()));
    }
}
