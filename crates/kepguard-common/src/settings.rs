//! Policy settings: the one pattern every policy follows, and the checks they share.
//!
//! A policy's `Settings` is the plain serde struct users write (`deny_unknown_fields` at every
//! level). [`PolicySettings::compile`] checks it and turns it into what the rules read, once
//! per request: patterns compiled, ranges and quantities parsed. `validate_settings` is
//! `compile` with the result thrown away, so a setting that compiles is a setting that works.

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
