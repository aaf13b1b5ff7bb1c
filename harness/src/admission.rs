//! Admission requests in, AdmissionResponses out, the way `kwctl run` shows them.

use crate::host::{CallError, Policy};
use anyhow::{Context, Result, anyhow, bail};
use base64::Engine as _;
use serde::{Deserialize, Serialize};
use serde_json::{Value, json};
use std::collections::BTreeMap;
use std::path::Path;

/// Reads an AdmissionRequest from a file holding either the bare request or a whole
/// AdmissionReview.
pub fn load_request(path: &Path) -> Result<Value> {
    let text = std::fs::read_to_string(path)
        .with_context(|| format!("cannot read request file {}", path.display()))?;
    let document: Value = serde_json::from_str(&text)
        .with_context(|| format!("request file {} is not valid JSON", path.display()))?;
    let request = match document.get("request") {
        Some(request) if document.get("kind") == Some(&json!("AdmissionReview")) => request.clone(),
        _ => document,
    };
    if !request.is_object() {
        bail!(
            "request file {} holds no AdmissionRequest object",
            path.display()
        );
    }
    Ok(request)
}

/// Parses settings written as YAML or JSON (JSON is YAML). Empty text means `{}`.
pub fn parse_settings(text: &str, origin: &str) -> Result<Value> {
    if text.trim().is_empty() {
        return Ok(json!({}));
    }
    let settings: Value = serde_norway::from_str(text)
        .with_context(|| format!("settings {origin} are not valid YAML or JSON"))?;
    Ok(match settings {
        Value::Null => json!({}),
        other => other,
    })
}

/// The policy's answer to `validate_settings`.
#[derive(Debug, Deserialize)]
pub struct SettingsVerdict {
    pub valid: bool,
    pub message: Option<String>,
}

pub fn validate_settings(policy: &Policy, settings: &Value) -> Result<SettingsVerdict, CallError> {
    let payload = serde_json::to_vec(settings).expect("a JSON value serialises");
    let response = policy.call("validate_settings", &payload)?;
    serde_json::from_slice(&response).map_err(|error| {
        CallError::Trap(format!(
            "validate_settings answered with malformed JSON: {error}"
        ))
    })
}

/// The policy's answer to `validate`, as the SDK writes it.
#[derive(Debug, Deserialize)]
pub struct ValidationResponse {
    pub accepted: bool,
    pub message: Option<String>,
    pub code: Option<u16>,
    pub mutated_object: Option<Value>,
    pub audit_annotations: Option<BTreeMap<String, String>>,
    pub warnings: Option<Vec<String>>,
}

/// An AdmissionResponse as the apiserver receives it.
#[derive(Debug, Serialize, Deserialize, PartialEq)]
#[serde(rename_all = "camelCase")]
pub struct AdmissionResponse {
    pub uid: String,
    pub allowed: bool,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub status: Option<Status>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub patch_type: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub patch: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub warnings: Option<Vec<String>>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub audit_annotations: Option<BTreeMap<String, String>>,
}

#[derive(Debug, Serialize, Deserialize, PartialEq)]
pub struct Status {
    #[serde(skip_serializing_if = "Option::is_none")]
    pub message: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub code: Option<u16>,
}

impl AdmissionResponse {
    /// The JSON patch the response carries, decoded.
    pub fn decoded_patch(&self) -> Result<Option<json_patch::Patch>> {
        let Some(encoded) = &self.patch else {
            return Ok(None);
        };
        let bytes = base64::engine::general_purpose::STANDARD
            .decode(encoded)
            .context("the patch is not valid base64")?;
        Ok(Some(
            serde_json::from_slice(&bytes).context("the patch is not an RFC 6902 JSON patch")?,
        ))
    }
}

/// The payload of the waPC `validate` operation, as policy-server sends it.
pub fn validate_payload(request: &Value, settings: &Value) -> Vec<u8> {
    serde_json::to_vec(&json!({"request": request, "settings": settings}))
        .expect("a JSON value serialises")
}

/// Sends `request` with `settings` to the policy's `validate` and turns the answer into an
/// AdmissionResponse: a mutated object becomes a base64 RFC 6902 patch against the
/// request's object.
pub fn evaluate(policy: &Policy, request: &Value, settings: &Value) -> Result<AdmissionResponse> {
    let raw = policy
        .call("validate", &validate_payload(request, settings))
        .map_err(|error| anyhow!("module {}: {error}", policy.name()))?;
    let response: ValidationResponse = serde_json::from_slice(&raw).with_context(|| {
        format!(
            "module {}: validate answered with malformed JSON",
            policy.name()
        )
    })?;
    Ok(admission_response(request, response))
}

fn admission_response(request: &Value, response: ValidationResponse) -> AdmissionResponse {
    let uid = request
        .get("uid")
        .and_then(Value::as_str)
        .unwrap_or_default()
        .to_string();
    let status = (!response.accepted).then(|| Status {
        message: response.message.clone(),
        code: response.code,
    });
    let patch = response.mutated_object.as_ref().map(|mutated| {
        let original = request.get("object").unwrap_or(&Value::Null);
        let patch = json_patch::diff(original, mutated);
        base64::engine::general_purpose::STANDARD
            .encode(serde_json::to_vec(&patch).expect("a JSON patch serialises"))
    });
    AdmissionResponse {
        uid,
        allowed: response.accepted,
        status,
        patch_type: patch.as_ref().map(|_| "JSONPatch".to_string()),
        patch,
        warnings: response.warnings.filter(|w| !w.is_empty()),
        audit_annotations: response.audit_annotations.filter(|a| !a.is_empty()),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn response(accepted: bool, mutated: Option<Value>) -> ValidationResponse {
        ValidationResponse {
            accepted,
            message: (!accepted).then(|| "no".to_string()),
            code: None,
            mutated_object: mutated,
            audit_annotations: None,
            warnings: Some(vec![]),
        }
    }

    #[test]
    fn a_mutation_becomes_a_json_patch() {
        let request = json!({"uid": "u-1", "object": {"spec": {"a": 1, "b": [1, 2]}}});
        let mutated = json!({"spec": {"a": 2, "b": [1, 2], "c": "new"}});
        let admission = admission_response(&request, response(true, Some(mutated.clone())));
        assert_eq!(admission.uid, "u-1");
        assert_eq!(admission.patch_type.as_deref(), Some("JSONPatch"));
        let patch = admission.decoded_patch().unwrap().unwrap();
        let ops = serde_json::to_value(&patch).unwrap();
        assert_eq!(
            ops,
            json!([
                {"op": "replace", "path": "/spec/a", "value": 2},
                {"op": "add", "path": "/spec/c", "value": "new"}
            ])
        );
        let mut patched = request["object"].clone();
        json_patch::patch(&mut patched, &patch).unwrap();
        assert_eq!(patched, mutated);
        assert_eq!(admission.warnings, None);
    }

    #[test]
    fn a_rejection_carries_its_status() {
        let admission = admission_response(&json!({"uid": "u-2"}), response(false, None));
        assert!(!admission.allowed);
        assert_eq!(admission.status.unwrap().message.as_deref(), Some("no"));
        assert_eq!(admission.patch, None);
    }

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
        assert!(format!("{error:#}").contains("in x.yaml"), "{error:#}");
    }
}
