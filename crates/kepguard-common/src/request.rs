//! The parts of a Kubewarden validation request that the rules read.
//!
//! The SDK's `ValidationRequest` builds a `serde_json::Value` tree of the whole object and
//! old object, and hash sets of the user's groups and extra fields, on every request. Here
//! the object and old object stay raw JSON text: syntax is checked once, and each rule then
//! reads only the fields it needs, straight into small view structs. Fields no rule reads
//! are skipped without being built.

use serde::de::Error as _;
use serde::{Deserialize, Deserializer};
use serde_json::value::RawValue;

/// serde_json refuses to build values nested deeper than this, but skips deeper ones
/// without a limit; raw objects are held to the same limit as built ones.
pub const MAX_NESTING: usize = 128;

/// The waPC `validate` payload: the policy's settings and the admission request.
#[derive(Deserialize, Debug)]
pub struct ValidationRequest<S> {
    pub settings: S,
    pub request: AdmissionRequest,
}

/// An AdmissionRequest. Field names are camelCase, as policy-server sends them; the SDK's
/// snake_case spellings are accepted too.
#[derive(Deserialize, Debug)]
#[serde(default, rename_all = "camelCase")]
pub struct AdmissionRequest {
    pub kind: GroupKind,
    #[serde(alias = "sub_resource")]
    pub sub_resource: String,
    pub namespace: String,
    pub operation: String,
    #[serde(alias = "user_info")]
    pub user_info: UserInfo,
    /// The object as sent, `null` when there is none (DELETE).
    #[serde(deserialize_with = "raw_object")]
    pub object: Box<RawValue>,
    /// The object before an UPDATE, `null` otherwise.
    #[serde(alias = "old_object", deserialize_with = "raw_object")]
    pub old_object: Box<RawValue>,
}

impl Default for AdmissionRequest {
    fn default() -> AdmissionRequest {
        AdmissionRequest {
            kind: GroupKind::default(),
            sub_resource: String::new(),
            namespace: String::new(),
            operation: String::new(),
            user_info: UserInfo::default(),
            object: RawValue::NULL.to_owned(),
            old_object: RawValue::NULL.to_owned(),
        }
    }
}

/// The kind of the object; rules tell kinds apart by group and kind, not by version.
#[derive(Deserialize, Debug, Default, Clone, PartialEq, Eq)]
#[serde(default)]
pub struct GroupKind {
    pub group: String,
    pub kind: String,
}

/// Who sent the request.
#[derive(Deserialize, Debug, Default, Clone, PartialEq, Eq)]
#[serde(default)]
pub struct UserInfo {
    pub username: String,
    pub groups: Vec<String>,
}

fn raw_object<'de, D: Deserializer<'de>>(deserializer: D) -> Result<Box<RawValue>, D::Error> {
    let raw = Box::<RawValue>::deserialize(deserializer)?;
    if nesting_exceeds(raw.get(), MAX_NESTING) {
        return Err(D::Error::custom(format!(
            "recursion limit exceeded: nested deeper than {MAX_NESTING} levels"
        )));
    }
    Ok(raw)
}

/// Whether the JSON text `json`, known to be valid, nests arrays and objects deeper than
/// `limit`.
fn nesting_exceeds(json: &str, limit: usize) -> bool {
    // Most objects open fewer arrays and objects in all than the limit: no need to follow
    // strings and depth then.
    if json.bytes().filter(|b| matches!(b, b'[' | b'{')).count() <= limit {
        return false;
    }
    let mut depth = 0usize;
    let mut bytes = json.bytes();
    while let Some(byte) = bytes.next() {
        match byte {
            b'"' => {
                // Skip the string, escapes included.
                while let Some(byte) = bytes.next() {
                    match byte {
                        b'\\' => {
                            bytes.next();
                        }
                        b'"' => break,
                        _ => {}
                    }
                }
            }
            b'[' | b'{' => {
                depth += 1;
                if depth > limit {
                    return true;
                }
            }
            b']' | b'}' => depth = depth.saturating_sub(1),
            _ => {}
        }
    }
    false
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn reads_the_fields_in_both_spellings() {
        let request: AdmissionRequest = serde_json::from_value(json!({
            "uid": "1",
            "kind": {"group": "apps", "version": "v1", "kind": "Deployment"},
            "subResource": "scale",
            "namespace": "shop",
            "operation": "UPDATE",
            "userInfo": {"username": "jane", "groups": ["dev"], "extra": {"a": ["b"]}},
            "object": {"spec": {"replicas": 2}},
            "oldObject": {"spec": {"replicas": 1}},
            "options": {"fieldManager": "kubectl"}
        }))
        .unwrap();
        assert_eq!(request.kind.kind, "Deployment");
        assert_eq!(request.sub_resource, "scale");
        assert_eq!(request.user_info.groups, ["dev"]);
        assert_eq!(request.object.get(), r#"{"spec":{"replicas":2}}"#);
        assert_eq!(request.old_object.get(), r#"{"spec":{"replicas":1}}"#);

        let request: AdmissionRequest = serde_json::from_str(
            r#"{"sub_resource": "resize", "user_info": {"username": "bob"}, "old_object": {}}"#,
        )
        .unwrap();
        assert_eq!(request.sub_resource, "resize");
        assert_eq!(request.user_info.username, "bob");
        assert_eq!(request.old_object.get(), "{}");
    }

    #[test]
    fn missing_and_null_objects_are_null() {
        let request: AdmissionRequest = serde_json::from_str(r#"{"oldObject": null}"#).unwrap();
        assert_eq!(request.object.get(), "null");
        assert_eq!(request.old_object.get(), "null");
    }

    #[test]
    fn objects_nested_too_deep_are_errors() {
        let nested = |depth: usize| format!("{}{}", "[".repeat(depth), "]".repeat(depth));
        let request = format!(r#"{{"object": {{"a": {}}}}}"#, nested(MAX_NESTING - 1));
        assert!(serde_json::from_str::<AdmissionRequest>(&request).is_ok());
        let request = format!(r#"{{"oldObject": {{"a": {}}}}}"#, nested(MAX_NESTING));
        let error = serde_json::from_str::<AdmissionRequest>(&request).unwrap_err();
        assert!(
            error
                .to_string()
                .starts_with("recursion limit exceeded: nested deeper than 128"),
            "{error}"
        );
        // Brackets in strings, escaped quotes included, do not count.
        let text = format!(r#"{{"a": "\"{}"}}"#, "[".repeat(200));
        assert!(!nesting_exceeds(&text, 2));
        assert!(nesting_exceeds(r#"{"a": [{"b": []}]}"#, 3));
        assert!(!nesting_exceeds(r#"{"a": [{"b": 1}]}"#, 3));
    }

    #[test]
    fn wrong_types_are_errors() {
        let error = serde_json::from_str::<AdmissionRequest>(r#"{"operation": 5}"#).unwrap_err();
        assert!(
            error
                .to_string()
                .starts_with("invalid type: integer `5`, expected a string")
        );
        assert!(serde_json::from_str::<AdmissionRequest>(r#"{"object": {"a": }}"#).is_err());
    }
}
