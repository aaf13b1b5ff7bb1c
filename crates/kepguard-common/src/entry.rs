//! The waPC entry points every policy shares: reading the payload, refusing malformed input
//! with a clear message instead of a trap, exempt namespaces, and writing the response.

use crate::request::{AdmissionRequest, ValidationRequest};
use crate::settings::PolicySettings;
use crate::verdict::Verdict;
use kubewarden_policy_sdk::settings::SettingsValidationResponse;
use kubewarden_policy_sdk::wapc_guest::CallResult;
use serde::de::DeserializeOwned;

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
            $crate::entry::validate::<$settings>(payload, $rule)
        }

        /// The waPC `validate_settings` operation.
        pub fn validate_settings(
            payload: &[u8],
        ) -> ::kubewarden_policy_sdk::wapc_guest::CallResult {
            $crate::entry::validate_settings::<$settings>(payload)
        }
    };
}

/// The `validate` operation: parses the payload, skips exempt namespaces and applies `rule`.
/// Malformed payloads and settings are rejected with a message; this never returns an error,
/// so the module never reports a failure for bad input.
pub fn validate<S: PolicySettings>(
    payload: &[u8],
    rule: impl FnOnce(&AdmissionRequest, &S::Compiled) -> Verdict,
) -> CallResult {
    let verdict = match parse::<ValidationRequest<S>>(payload) {
        Err(error) => Verdict::reject(format!("invalid validation request: {error}")),
        Ok(ValidationRequest { request, settings }) => {
            let exempt = is_exempt(&settings, &request.namespace);
            match settings.compile() {
                Err(error) => Verdict::reject(format!("invalid policy settings: {error}")),
                Ok(_) if exempt => Verdict::accept(),
                Ok(compiled) => rule(&request, &compiled),
            }
        }
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
        Some(b'{') => parse::<S>(payload).and_then(|settings| settings.compile().map(drop)),
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

#[cfg(test)]
mod tests {
    use super::*;
    use crate::verdict::Verdict;
    use serde::Deserialize;
    use serde_json::Value;
    use serde_json::json;

    #[derive(Deserialize, Default, Debug)]
    #[serde(rename_all = "camelCase", deny_unknown_fields, default)]
    struct TestSettings {
        exempt_namespaces: Vec<String>,
        limit: u32,
    }

    impl PolicySettings for TestSettings {
        type Compiled = u32;

        fn exempt_namespaces(&self) -> &[String] {
            &self.exempt_namespaces
        }

        fn compile(self) -> Result<u32, String> {
            crate::settings::validate_namespaces("exemptNamespaces", &self.exempt_namespaces)?;
            if self.limit > 10 {
                return Err(format!("limit: {} is above 10", self.limit));
            }
            Ok(self.limit)
        }
    }

    fn run(payload: Value) -> Value {
        let bytes = serde_json::to_vec(&payload).unwrap();
        let response = validate::<TestSettings>(&bytes, |request, limit| {
            if request.operation == "DELETE" || *limit == 7 {
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
        // The rule reads the compiled settings.
        let response = run(json!({"settings": {"limit": 7}, "request": {"operation": "CREATE"}}));
        assert_eq!(response["message"], "no deletes");
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
