//! Settings as the user writes them, and the policy's `validate_settings` verdict.

use crate::Error;
use serde::Deserialize;
use serde_json::{Value, json};

/// Parses settings written as YAML or JSON (JSON is YAML). Empty text, or `null`, means `{}`.
/// `origin` says where the text came from, for the error message ("in settings.yaml").
pub fn parse_settings(text: &str, origin: &str) -> Result<Value, Error> {
    if text.trim().is_empty() {
        return Ok(json!({}));
    }
    let settings: Value = serde_norway::from_str(text).map_err(|error| {
        Error(format!(
            "settings {origin} are not valid YAML or JSON: {error}"
        ))
    })?;
    Ok(match settings {
        Value::Null => json!({}),
        other => other,
    })
}

/// The payload of the waPC `validate_settings` operation: the settings object.
pub fn settings_payload(settings: &Value) -> Vec<u8> {
    serde_json::to_vec(settings).expect("a JSON value serialises")
}

/// The policy's answer to `validate_settings`.
#[derive(Debug, Deserialize, Clone, PartialEq, Eq)]
pub struct SettingsVerdict {
    pub valid: bool,
    pub message: Option<String>,
}

impl SettingsVerdict {
    /// Reads the guest's answer to `validate_settings`.
    pub fn from_guest(answer: &[u8]) -> Result<SettingsVerdict, Error> {
        serde_json::from_slice(answer).map_err(|error| {
            Error(format!(
                "validate_settings answered with malformed JSON: {error}"
            ))
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn settings_accept_yaml_json_and_nothing() {
        assert_eq!(parse_settings("a: 1", "inline").unwrap(), json!({"a": 1}));
        assert_eq!(
            parse_settings("{\"a\": [1]}", "inline").unwrap(),
            json!({"a": [1]})
        );
        assert_eq!(parse_settings("  \n", "inline").unwrap(), json!({}));
        assert_eq!(parse_settings("~", "inline").unwrap(), json!({}));
        let error = parse_settings("a: [", "in x.yaml").unwrap_err();
        assert!(error.0.contains("in x.yaml"), "{error}");
    }

    #[test]
    fn a_settings_verdict_is_read_or_refused() {
        let verdict = SettingsVerdict::from_guest(br#"{"valid":false,"message":"no"}"#).unwrap();
        assert!(!verdict.valid);
        assert_eq!(verdict.message.as_deref(), Some("no"));
        let error = SettingsVerdict::from_guest(b"{").unwrap_err();
        assert!(
            error
                .0
                .starts_with("validate_settings answered with malformed JSON")
        );
    }
}
