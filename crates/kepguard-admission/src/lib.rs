//! The engine-independent half of a Kubewarden host: AdmissionRequests in, waPC payloads to
//! the policy, its answers back out as AdmissionResponses with RFC 6902 JSON patches.
//!
//! The kepguard harness (wasmtime) and the browser playground (the browser's WebAssembly)
//! both go through this crate, so that for the same module, settings and request they give
//! byte-identical AdmissionResponses; only the engine that runs the module differs.
//!
//! - [`request`]: an AdmissionRequest from an AdmissionReview, a bare request, or a plain
//!   Kubernetes object wrapped as the apiserver would send it;
//! - [`settings`]: settings text, and the policy's verdict on them;
//! - [`response`]: the `validate` payload, and the AdmissionResponse made of the answer.

pub mod request;
pub mod response;
pub mod settings;

pub use request::{WrapOptions, request_from_document};
pub use response::{
    AdmissionResponse, Status, ValidationResponse, admission_response, validate_payload,
};
pub use settings::{SettingsVerdict, parse_settings, settings_payload};

/// Why an input or a policy's answer could not be used; the message says which and why.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Error(pub String);

impl std::fmt::Display for Error {
    fn fmt(&self, formatter: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        formatter.write_str(&self.0)
    }
}

impl std::error::Error for Error {}
