//! The waPC entry points every policy shares: reading the payload, refusing malformed input
//! with a clear message instead of a trap, exempt namespaces, and writing the response.

use crate::request::{AdmissionRequest, ValidationRequest};
use kubewarden_policy_sdk::response::ValidationResponse;
use kubewarden_policy_sdk::settings::{SettingsValidationResponse, Validatable};
use kubewarden_policy_sdk::wapc_guest::CallResult;
use serde::de::DeserializeOwned;
use serde_json::Value;

/// Defines a policy's waPC entry points: `pub fn validate` and `pub fn validate_settings`
/// (plain functions, so tests and benchmarks can call them natively), and on wasm32 the
/// `wapc_init` export that registers them with `protocol_version`.
///
/// ```ignore
/// kepguard_common::policy_entry_points!(settings::Settings, rules::evaluate);
/// ```
#[macro_export]
macro_rules! policy_entry_points {
    ($settings:ty, $rule:path) => {
        #[cfg(target_arch = "wasm32")]
        #[unsafe(no_mangle)]
        pub extern "C" fn wapc_init() {
            use ::kubewarden_policy_sdk::wapc_guest::register_function;
            register_function("validate", validate);
            register_function("validate_settings", validate_settings);
            register_function(
                "protocol_version",
                ::kubewarden_policy_sdk::protocol_version_guest,
            );
        }

        /// The waPC `validate` operation.
        pub fn validate(payload: &[u8]) -> ::kubewarden_policy_sdk::wapc_guest::CallResult {
            $crate::evaluation::validate::<$settings>(payload, $rule)
        }

        /// The waPC `validate_settings` operation.
        pub fn validate_settings(
            payload: &[u8],
        ) -> ::kubewarden_policy_sdk::wapc_guest::CallResult {
            $crate::evaluation::validate_settings::<$settings>(payload)
        }
    };
}

/// What every policy's settings offer the shared entry points.
pub trait PolicySettings: DeserializeOwned + Default + Validatable {
    /// Requests in these namespaces are accepted untouched.
    fn exempt_namespaces(&self) -> &[String];
}

/// A policy's decision on one request.
#[derive(Debug, Clone, PartialEq)]
pub enum Verdict {
    Accept {
        warnings: Vec<String>,
    },
    Reject {
        message: String,
    },
    Mutate {
        object: Value,
        warnings: Vec<String>,
    },
}

impl Verdict {
    pub fn accept() -> Verdict {
        Verdict::Accept {
            warnings: Vec::new(),
        }
    }

    pub fn reject(message: impl Into<String>) -> Verdict {
        Verdict::Reject {
            message: message.into(),
        }
    }

    /// Rejects with every violation listed, or accepts when there is none.
    pub fn from_violations(violations: Vec<String>) -> Verdict {
        if violations.is_empty() {
            Verdict::accept()
        } else {
            Verdict::reject(violations.join("; "))
        }
    }

    fn into_response(self) -> ValidationResponse {
        let (accepted, message, mutated_object, warnings) = match self {
            Verdict::Accept { warnings } => (true, None, None, warnings),
            Verdict::Reject { message } => (false, Some(message), None, Vec::new()),
            Verdict::Mutate { object, warnings } => (true, None, Some(object), warnings),
        };
        ValidationResponse {
            accepted,
            message,
            code: None,
            mutated_object,
            audit_annotations: None,
            warnings: (!warnings.is_empty()).then_some(warnings),
        }
    }
}

/// The `validate` operation: parses the payload, skips exempt namespaces and applies `rule`.
/// Malformed payloads and settings are rejected with a message; this never returns an error,
/// so the module never reports a failure for bad input.
pub fn validate<S: PolicySettings>(
    payload: &[u8],
    rule: impl FnOnce(&AdmissionRequest, &S) -> Verdict,
) -> CallResult {
    let verdict = match parse::<ValidationRequest<S>>(payload) {
        Err(error) => Verdict::reject(format!("invalid validation request: {error}")),
        Ok(request) => match request.settings.validate() {
            Err(error) => Verdict::reject(format!("invalid policy settings: {error}")),
            Ok(()) if is_exempt(&request.settings, &request.request.namespace) => Verdict::accept(),
            Ok(()) => rule(&request.request, &request.settings),
        },
    };
    Ok(serde_json::to_vec(&verdict.into_response())?)
}

/// The `validate_settings` operation. Unparsable settings are reported as invalid with the
/// path of the offending field, never as a module error. An empty payload means `{}`.
pub fn validate_settings<S: PolicySettings>(payload: &[u8]) -> CallResult {
    let payload = if payload.iter().all(u8::is_ascii_whitespace) || payload == b"null" {
        b"{}".as_slice()
    } else {
        payload
    };
    // serde would also read a struct from a JSON array; settings are an object.
    let outcome = match payload.iter().find(|b| !b.is_ascii_whitespace()) {
        Some(b'{') => parse::<S>(payload).and_then(|settings| settings.validate()),
        _ => Err("settings must be a JSON object".to_string()),
    };
    let response = SettingsValidationResponse {
        valid: outcome.is_ok(),
        message: outcome.err(),
    };
    Ok(serde_json::to_vec(&response)?)
}

fn is_exempt<S: PolicySettings>(settings: &S, namespace: &str) -> bool {
    !namespace.is_empty() && settings.exempt_namespaces().iter().any(|n| n == namespace)
}

/// Deserialises JSON; on a type mismatch, parses again to name the path of the offending
/// field. The fast path carries no path bookkeeping; syntax errors have no useful path.
fn parse<T: DeserializeOwned>(payload: &[u8]) -> Result<T, String> {
    // UTF-8 checked once up front spares a check of every string; invalid UTF-8 is left to
    // serde_json, whose message says where it is.
    let parsed = match std::str::from_utf8(payload) {
        Ok(text) => serde_json::from_str(text),
        Err(_) => serde_json::from_slice(payload),
    };
    parsed.map_err(|error| {
        if !error.is_data() {
            return error.to_string();
        }
        let mut deserializer = serde_json::Deserializer::from_slice(payload);
        match serde_path_to_error::deserialize::<_, T>(&mut deserializer) {
            Err(located) if located.path().to_string() != "." => {
                format!("{}: {}", located.path(), located.inner())
            }
            _ => error.to_string(),
        }
    })
}

/// Validation helpers shared by every policy's settings.
pub mod settings {
    /// Checks that every namespace name is a DNS-1123 label.
    pub fn validate_namespaces(field: &str, namespaces: &[String]) -> Result<(), String> {
        match namespaces.iter().find(|n| !is_dns1123_label(n)) {
            Some(bad) => Err(format!(
                "{field}: {bad:?} is not a valid namespace name (lowercase letters, digits and '-', at most 63 characters)"
            )),
            None => Ok(()),
        }
    }

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
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde::Deserialize;
    use serde_json::json;

    #[derive(Deserialize, Default, Debug)]
    #[serde(rename_all = "camelCase", deny_unknown_fields, default)]
    struct TestSettings {
        exempt_namespaces: Vec<String>,
        limit: u32,
    }

    impl Validatable for TestSettings {
        fn validate(&self) -> Result<(), String> {
            settings::validate_namespaces("exemptNamespaces", &self.exempt_namespaces)?;
            if self.limit > 10 {
                return Err(format!("limit: {} is above 10", self.limit));
            }
            Ok(())
        }
    }

    impl PolicySettings for TestSettings {
        fn exempt_namespaces(&self) -> &[String] {
            &self.exempt_namespaces
        }
    }

    fn run(payload: Value) -> Value {
        let bytes = serde_json::to_vec(&payload).unwrap();
        let response = validate::<TestSettings>(&bytes, |request, _| {
            if request.operation == "DELETE" {
                Verdict::reject("no deletes")
            } else {
                Verdict::accept()
            }
        })
        .unwrap();
        serde_json::from_slice(&response).unwrap()
    }

    fn settings_response(payload: &[u8]) -> Value {
        serde_json::from_slice(&validate_settings::<TestSettings>(payload).unwrap()).unwrap()
    }

    #[test]
    fn applies_the_rule() {
        let response = run(json!({"settings": {}, "request": {"operation": "DELETE"}}));
        assert_eq!(response["accepted"], false);
        assert_eq!(response["message"], "no deletes");
        let response = run(json!({"settings": {}, "request": {"operation": "CREATE"}}));
        assert_eq!(response["accepted"], true);
        assert_eq!(response["message"], Value::Null);
    }

    #[test]
    fn exempt_namespaces_are_accepted() {
        let response = run(json!({
            "settings": {"exemptNamespaces": ["kube-system"]},
            "request": {"operation": "DELETE", "namespace": "kube-system"}
        }));
        assert_eq!(response["accepted"], true);
    }

    #[test]
    fn malformed_payloads_are_rejected_with_a_message() {
        let response: Value = serde_json::from_slice(
            &validate::<TestSettings>(b"{\"settings\": {", |_, _| Verdict::accept()).unwrap(),
        )
        .unwrap();
        assert_eq!(response["accepted"], false);
        assert!(
            response["message"]
                .as_str()
                .unwrap()
                .starts_with("invalid validation request: EOF"),
            "{response}"
        );

        let response = run(json!({"settings": {}, "request": {"operation": 5}}));
        assert_eq!(
            response["message"],
            "invalid validation request: request.operation: invalid type: integer `5`, expected a string at line 1 column 25"
        );
    }

    #[test]
    fn invalid_settings_at_validation_time_are_rejected() {
        let response = run(json!({"settings": {"limit": 11}, "request": {}}));
        assert_eq!(response["accepted"], false);
        assert_eq!(
            response["message"],
            "invalid policy settings: limit: 11 is above 10"
        );
    }

    #[test]
    fn settings_validation_names_the_field() {
        assert_eq!(settings_response(b"{}")["valid"], true);
        assert_eq!(settings_response(b"")["valid"], true);
        assert_eq!(settings_response(b"null")["valid"], true);
        let response = settings_response(br#"{"limit": 11}"#);
        assert_eq!(response["valid"], false);
        assert_eq!(response["message"], "limit: 11 is above 10");
        let response = settings_response(br#"{"limt": 1}"#);
        assert!(
            response["message"]
                .as_str()
                .unwrap()
                .contains("unknown field `limt`, expected `exemptNamespaces` or `limit`"),
            "{response}"
        );
        let response = settings_response(br#"{"exemptNamespaces": ["Kube System"]}"#);
        assert!(
            response["message"]
                .as_str()
                .unwrap()
                .starts_with("exemptNamespaces: \"Kube System\" is not a valid namespace"),
            "{response}"
        );
        let response = settings_response(b"[]");
        assert_eq!(response["message"], "settings must be a JSON object");
        let response = settings_response(br#"{"exemptNamespaces": "kube-system"}"#);
        assert!(
            response["message"]
                .as_str()
                .unwrap()
                .starts_with("exemptNamespaces: invalid type"),
            "{response}"
        );
    }

    #[test]
    fn warnings_and_mutations_are_carried() {
        let mutate = Verdict::Mutate {
            object: json!({"a": 1}),
            warnings: vec!["careful".into()],
        }
        .into_response();
        assert!(mutate.accepted);
        assert_eq!(mutate.mutated_object, Some(json!({"a": 1})));
        assert_eq!(mutate.warnings, Some(vec!["careful".to_string()]));
        assert_eq!(Verdict::accept().into_response().warnings, None);
        assert_eq!(
            Verdict::from_violations(vec!["a".into(), "b".into()]),
            Verdict::reject("a; b")
        );
    }
}
