//! Policy settings: the one pattern every policy follows, and the checks they share.
//!
//! A policy's `Settings` is the plain serde struct users write (`deny_unknown_fields` at every
//! level). [`PolicySettings::compile`] checks it and turns it into what the rules read, once
//! per request: patterns compiled, ranges and quantities parsed. `validate_settings` is
//! `compile` with the result thrown away, so a setting that compiles is a setting that works.

use serde::Deserialize;
use serde::de::DeserializeOwned;

/// What every policy's settings offer the shared entry points.
pub trait PolicySettings: DeserializeOwned + Default {
    /// The settings as the rules read them. Policies with nothing to compile use `Self`.
    type Compiled;

    /// Requests in these namespaces are accepted untouched.
    fn exempt_namespaces(&self) -> &[String];

    /// Checks every field and compiles the settings. An error names the field and the
    /// values it accepts.
    fn compile(self) -> Result<Self::Compiled, String>;
}

/// What a mutating policy does with an object it would change.
#[derive(Deserialize, Debug, Clone, Copy, PartialEq, Eq, Default)]
#[serde(rename_all = "lowercase")]
pub enum Mode {
    /// Patch the object, with a warning per change.
    #[default]
    Mutate,
    /// Reject the object, naming what to change.
    Validate,
}

/// Which workload UPDATEs a policy changes or judges. Changing a pod template starts a
/// rollout, so by default only what the UPDATE itself changes is touched.
#[derive(Deserialize, Debug, Clone, Copy, PartialEq, Eq, Default)]
#[serde(rename_all = "lowercase")]
pub enum OnUpdate {
    /// Only what this UPDATE changes.
    #[default]
    Changed,
    /// Everything, as at CREATE.
    All,
}

/// Checks that every namespace name is a DNS-1123 label.
pub fn validate_namespaces(field: &str, namespaces: &[String]) -> Result<(), String> {
    match namespaces.iter().find(|n| !is_dns1123_label(n)) {
        Some(bad) => Err(format!(
            "{field}: {bad:?} is not a valid namespace name (lowercase letters, digits and '-', at most 63 characters)"
        )),
        None => Ok(()),
    }
}

/// Whether `name` is a DNS-1123 label, the form of a namespace name.
pub fn is_dns1123_label(name: &str) -> bool {
    let bytes = name.as_bytes();
    !bytes.is_empty()
        && bytes.len() <= 63
        && bytes
            .iter()
            .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || *b == b'-')
        && bytes[0] != b'-'
        && bytes[bytes.len() - 1] != b'-'
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn modes_are_lowercase_and_name_the_valid_values() {
        assert_eq!(
            serde_json::from_str::<Mode>(r#""validate""#).unwrap(),
            Mode::Validate
        );
        assert_eq!(
            serde_json::from_str::<OnUpdate>(r#""all""#).unwrap(),
            OnUpdate::All
        );
        let error = serde_json::from_str::<Mode>(r#""Mutate""#).unwrap_err();
        assert!(
            error
                .to_string()
                .starts_with("unknown variant `Mutate`, expected `mutate` or `validate`"),
            "{error}"
        );
        let error = serde_json::from_str::<OnUpdate>(r#""some""#).unwrap_err();
        assert!(
            error
                .to_string()
                .starts_with("unknown variant `some`, expected `changed` or `all`"),
            "{error}"
        );
    }

    #[test]
    fn namespaces_are_dns_labels() {
        assert!(validate_namespaces("exemptNamespaces", &["kube-system".into()]).is_ok());
        assert!(validate_namespaces("exemptNamespaces", &["Kube".into()]).is_err());
    }
}
