//! The `validate` call: its payload, the policy's answer, and the AdmissionResponse the
//! apiserver would receive, as `kwctl run` shows it.

use crate::Error;
use base64::Engine as _;
use serde::{Deserialize, Serialize};
use serde_json::{Value, json};
use std::collections::BTreeMap;

/// The payload of the waPC `validate` operation, as policy-server sends it.
pub fn validate_payload(request: &Value, settings: &Value) -> Vec<u8> {
    serde_json::to_vec(&json!({"request": request, "settings": settings}))
        .expect("a JSON value serialises")
}

/// The policy's answer to `validate`, as the SDK writes it.
#[derive(Debug, Deserialize, Clone)]
pub struct ValidationResponse {
    pub accepted: bool,
    pub message: Option<String>,
    pub code: Option<u16>,
    pub mutated_object: Option<Value>,
    pub audit_annotations: Option<BTreeMap<String, String>>,
    pub warnings: Option<Vec<String>>,
}

/// An AdmissionResponse as the apiserver receives it.
#[derive(Debug, Serialize, Deserialize, PartialEq, Clone)]
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

#[derive(Debug, Serialize, Deserialize, PartialEq, Clone)]
pub struct Status {
    #[serde(skip_serializing_if = "Option::is_none")]
    pub message: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub code: Option<u16>,
}

/// Turns the guest's answer to `validate` into an AdmissionResponse: a mutated object becomes
/// a base64 RFC 6902 patch against the request's object.
pub fn admission_response(request: &Value, answer: &[u8]) -> Result<AdmissionResponse, Error> {
    let response: ValidationResponse = serde_json::from_slice(answer)
        .map_err(|error| Error(format!("validate answered with malformed JSON: {error}")))?;
    Ok(AdmissionResponse::new(request, response))
}

impl AdmissionResponse {
    pub fn new(request: &Value, response: ValidationResponse) -> AdmissionResponse {
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

    /// The response as the JSON text `kepguard run` prints.
    pub fn to_json(&self) -> String {
        serde_json::to_string(self).expect("an AdmissionResponse serialises")
    }

    /// "mutated", "allowed" or "rejected", the labels of the suites' verdict tables.
    pub fn verdict(&self) -> &'static str {
        match (&self.patch, self.allowed) {
            (Some(_), _) => "mutated",
            (None, true) => "allowed",
            (None, false) => "rejected",
        }
    }

    /// The JSON patch the response carries, decoded.
    pub fn decoded_patch(&self) -> Result<Option<json_patch::Patch>, Error> {
        let Some(encoded) = &self.patch else {
            return Ok(None);
        };
        let bytes = base64::engine::general_purpose::STANDARD
            .decode(encoded)
            .map_err(|error| Error(format!("the patch is not valid base64: {error}")))?;
        serde_json::from_slice(&bytes)
            .map(Some)
            .map_err(|error| Error(format!("the patch is not an RFC 6902 JSON patch: {error}")))
    }

    /// The request's object with the patch applied, when the response carries one.
    pub fn patched_object(&self, request: &Value) -> Result<Option<Value>, Error> {
        let Some(patch) = self.decoded_patch()? else {
            return Ok(None);
        };
        let mut object = request.get("object").cloned().unwrap_or(Value::Null);
        json_patch::patch(&mut object, &patch)
            .map_err(|error| Error(format!("the patch does not apply to the object: {error}")))?;
        Ok(Some(object))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn answer(accepted: bool, mutated: Option<Value>) -> Vec<u8> {
        serde_json::to_vec(&json!({
            "accepted": accepted,
            "message": (!accepted).then_some("no"),
            "code": null,
            "mutated_object": mutated,
            "audit_annotations": null,
            "warnings": [],
        }))
        .unwrap()
    }

    #[test]
    fn a_mutation_becomes_a_json_patch() {
        let request = json!({"uid": "u-1", "object": {"spec": {"a": 1, "b": [1, 2]}}});
        let mutated = json!({"spec": {"a": 2, "b": [1, 2], "c": "new"}});
        let admission = admission_response(&request, &answer(true, Some(mutated.clone()))).unwrap();
        assert_eq!(admission.uid, "u-1");
        assert_eq!(admission.verdict(), "mutated");
        assert_eq!(admission.patch_type.as_deref(), Some("JSONPatch"));
        let patch = admission.decoded_patch().unwrap().unwrap();
        assert_eq!(
            serde_json::to_value(&patch).unwrap(),
            json!([
                {"op": "replace", "path": "/spec/a", "value": 2},
                {"op": "add", "path": "/spec/c", "value": "new"}
            ])
        );
        assert_eq!(admission.patched_object(&request).unwrap(), Some(mutated));
        assert_eq!(admission.warnings, None);
    }

    #[test]
    fn a_rejection_carries_its_status() {
        let admission = admission_response(&json!({"uid": "u-2"}), &answer(false, None)).unwrap();
        assert!(!admission.allowed);
        assert_eq!(admission.verdict(), "rejected");
        assert_eq!(admission.status.unwrap().message.as_deref(), Some("no"));
        assert_eq!(admission.patch, None);
    }

    #[test]
    fn the_json_form_leaves_absent_fields_out() {
        let admission = admission_response(&json!({"uid": "u-3"}), &answer(true, None)).unwrap();
        assert_eq!(admission.to_json(), r#"{"uid":"u-3","allowed":true}"#);
    }

    #[test]
    fn a_malformed_answer_is_refused() {
        let error = admission_response(&json!({}), b"[1]").unwrap_err();
        assert!(
            error.0.starts_with("validate answered with malformed JSON"),
            "{error}"
        );
    }
}
