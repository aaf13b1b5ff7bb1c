//! The glue between the waPC host and the engine-independent kepguard-admission crate, which
//! the browser playground shares: requests and settings from files, and the two calls.

use crate::host::{CallError, Policy};
use anyhow::{Context, Result, anyhow};
pub use kepguard_admission::{AdmissionResponse, SettingsVerdict, Status, validate_payload};
use kepguard_admission::{WrapOptions, request::parse_document, request_from_document};
use serde_json::Value;
use std::path::Path;

/// Reads an AdmissionRequest from a file holding the bare request, a whole AdmissionReview,
/// or a plain Kubernetes object (wrapped as a CREATE), in JSON or YAML.
pub fn load_request(path: &Path) -> Result<Value> {
    let text = std::fs::read_to_string(path)
        .with_context(|| format!("cannot read request file {}", path.display()))?;
    let document = parse_document(&text)
        .with_context(|| format!("request file {} is not valid JSON or YAML", path.display()))?;
    request_from_document(document, &WrapOptions::default())
        .with_context(|| format!("request file {} holds no AdmissionRequest", path.display()))
}

/// Parses settings written as YAML or JSON (JSON is YAML). Empty text means `{}`.
pub fn parse_settings(text: &str, origin: &str) -> Result<Value> {
    Ok(kepguard_admission::parse_settings(text, origin)?)
}

pub fn validate_settings(policy: &Policy, settings: &Value) -> Result<SettingsVerdict, CallError> {
    let answer = policy.call(
        "validate_settings",
        &kepguard_admission::settings_payload(settings),
    )?;
    SettingsVerdict::from_guest(&answer).map_err(|error| CallError::Trap(error.0))
}

/// Sends `request` with `settings` to the policy's `validate` and turns the answer into an
/// AdmissionResponse.
pub fn evaluate(policy: &Policy, request: &Value, settings: &Value) -> Result<AdmissionResponse> {
    let answer = policy
        .call("validate", &validate_payload(request, settings))
        .map_err(|error| anyhow!("module {}: {error}", policy.name()))?;
    kepguard_admission::admission_response(request, &answer)
        .map_err(|error| anyhow!("module {}: {error}", policy.name()))
}
