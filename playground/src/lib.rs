//! The kepguard playground's host: Kubewarden policy modules run in the browser's own
//! WebAssembly engine (or Node's), with the request, settings and response handling of
//! `kepguard run` taken from the same crate, kepguard-admission, so that both give
//! byte-identical AdmissionResponses.
//!
//! [`Playground`] is what JavaScript sees: compile a module, read its metadata, run one
//! evaluation and get everything the page shows as one JSON object ([`Evaluation`]).

mod host;

use host::Guest;
use kepguard_admission::request::parse_document;
use kepguard_admission::{SettingsVerdict, WrapOptions};
use serde::Serialize;
use serde_json::Value;
use wasm_bindgen::prelude::*;

/// The custom section `kwctl annotate` and `kepguard annotate` write.
const METADATA_SECTION: &str = "io.kubewarden.metadata";

/// One compiled policy module.
#[wasm_bindgen]
pub struct Playground {
    guest: Guest,
}

/// Everything one evaluation shows. `response` is the AdmissionResponse exactly as
/// `kepguard run` prints it.
#[derive(Serialize, Default)]
#[serde(rename_all = "camelCase")]
pub struct Evaluation {
    /// "allowed", "rejected", "mutated", "invalid settings" or "error".
    pub verdict: String,
    pub message: Option<String>,
    pub warnings: Vec<String>,
    /// The RFC 6902 patch, decoded.
    pub patch: Option<Value>,
    /// The request's object, and the object with the patch applied.
    pub object: Option<Value>,
    pub patched_object: Option<Value>,
    pub response: Option<String>,
    /// The AdmissionRequest that was sent (after wrapping a plain object).
    pub request: Option<Value>,
    pub log: Vec<String>,
}

impl Evaluation {
    fn error(message: impl Into<String>) -> Evaluation {
        Evaluation {
            verdict: "error".into(),
            message: Some(message.into()),
            ..Evaluation::default()
        }
    }
}

/// The settings `kepguard playground --write-samples` puts in each manifest template.
const SETTINGS_PLACEHOLDER: &str = "__KEPGUARD_SETTINGS__";

/// A ClusterAdmissionPolicy exactly as `kepguard manifest --settings` prints it: `template`
/// is that manifest with the placeholder settings, `settings` YAML or JSON text. The settings
/// are serialised by the same YAML library, at the same depth, in their written order.
#[wasm_bindgen]
pub fn manifest(template: &str, settings: &str) -> Result<String, JsError> {
    render_manifest(template, settings).map_err(|message| JsError::new(&message))
}

fn render_manifest(template: &str, settings: &str) -> Result<String, String> {
    let settings: serde_norway::Mapping = if settings.trim().is_empty() {
        serde_norway::Mapping::new()
    } else {
        serde_norway::from_str(settings)
            .map_err(|error| format!("the settings must be a YAML or JSON mapping: {error}"))?
    };
    let mut spec = serde_norway::Mapping::new();
    spec.insert("settings".into(), settings.into());
    let mut document = serde_norway::Mapping::new();
    document.insert("spec".into(), spec.into());
    let rendered = serde_norway::to_string(&document).map_err(|error| error.to_string())?;
    let block = rendered.strip_prefix("spec:\n").unwrap_or(&rendered);
    let placeholder = format!("  settings:\n    {SETTINGS_PLACEHOLDER}: null\n");
    if !template.contains(&placeholder) {
        return Err("the manifest template has no settings placeholder".into());
    }
    Ok(template.replacen(&placeholder, block, 1))
}

#[wasm_bindgen]
impl Playground {
    /// Compiles a policy module; refuses non-wasm input, modules that are no waPC policy and
    /// modules with imports the playground does not answer, naming them.
    #[wasm_bindgen(constructor)]
    pub fn new(module: &[u8]) -> Result<Playground, JsError> {
        Guest::compile(module)
            .map(|guest| Playground { guest })
            .map_err(|message| JsError::new(&message))
    }

    /// The module's `io.kubewarden.metadata` (JSON text), if it is annotated.
    pub fn metadata(&self) -> Option<String> {
        self.guest.custom_section(METADATA_SECTION)
    }

    /// Validates `settings` (YAML or JSON text), then evaluates `request` (an AdmissionReview,
    /// an AdmissionRequest, or a plain object in YAML or JSON, wrapped with `options`, a JSON
    /// object of kepguard_admission::WrapOptions whose oldObject may be YAML or JSON text).
    /// Returns an [`Evaluation`] as JSON text.
    pub fn run(&self, settings: &str, request: &str, options: &str) -> String {
        let evaluation = self
            .evaluate(settings, request, options)
            .unwrap_or_else(Evaluation::error);
        let evaluation = Evaluation {
            log: self.guest.take_log(),
            ..evaluation
        };
        serde_json::to_string(&evaluation).expect("an evaluation serialises")
    }
}

impl Playground {
    fn evaluate(&self, settings: &str, request: &str, options: &str) -> Result<Evaluation, String> {
        let settings = kepguard_admission::parse_settings(settings, "in the settings editor")
            .map_err(|error| error.0)?;
        // The request is read before the settings are validated, as `kepguard run` does; an
        // empty one is allowed, so that a settings-only sample can be run.
        let request = match request.trim() {
            "" => None,
            text => Some(read_request(text, options)?),
        };
        let answer = self
            .guest
            .call(
                "validate_settings",
                &kepguard_admission::settings_payload(&settings),
            )
            .map_err(|error| format!("validate_settings failed: {error}"))?;
        let verdict = SettingsVerdict::from_guest(&answer).map_err(|error| error.0)?;
        if !verdict.valid {
            return Ok(Evaluation {
                verdict: "invalid settings".into(),
                message: Some(verdict.message.unwrap_or_default()),
                ..Evaluation::default()
            });
        }
        let Some(request) = request else {
            return Err("the settings are valid; write a request to evaluate".into());
        };
        let answer = self
            .guest
            .call(
                "validate",
                &kepguard_admission::validate_payload(&request, &settings),
            )
            .map_err(|error| format!("validate failed: {error}"))?;
        let response =
            kepguard_admission::admission_response(&request, &answer).map_err(|error| error.0)?;
        let patch = response.decoded_patch().map_err(|error| error.0)?;
        let patched_object = response.patched_object(&request).map_err(|error| error.0)?;
        Ok(Evaluation {
            verdict: response.verdict().into(),
            message: response
                .status
                .as_ref()
                .and_then(|status| status.message.clone()),
            warnings: response.warnings.clone().unwrap_or_default(),
            patch: patch.map(|patch| serde_json::to_value(patch).expect("a patch serialises")),
            object: request.get("object").cloned(),
            patched_object,
            response: Some(response.to_json()),
            request: Some(request),
            log: Vec::new(),
        })
    }
}

fn read_request(text: &str, options: &str) -> Result<Value, String> {
    let options = wrap_options(options)?;
    let document = parse_document(text)
        .map_err(|error| format!("the request is not valid JSON or YAML: {error}"))?;
    kepguard_admission::request_from_document(document, &options).map_err(|error| error.0)
}

/// The wrap options from the page: a JSON object whose `oldObject` and `userInfo` may be
/// YAML or JSON text, and whose empty strings mean "not given".
fn wrap_options(options: &str) -> Result<WrapOptions, String> {
    if options.trim().is_empty() {
        return Ok(WrapOptions::default());
    }
    let mut value: Value = serde_json::from_str(options)
        .map_err(|error| format!("the request options are not a JSON object: {error}"))?;
    if let Some(fields) = value.as_object_mut() {
        fields.retain(|_, field| field.as_str().is_none_or(|text| !text.trim().is_empty()));
        for name in ["oldObject", "userInfo"] {
            if let Some(Value::String(text)) = fields.get(name) {
                let parsed = parse_document(text)
                    .map_err(|error| format!("{name} is not valid JSON or YAML: {error}"))?;
                fields.insert(name.to_string(), parsed);
            }
        }
    }
    serde_json::from_value(value).map_err(|error| format!("the request options: {error}"))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn manifest_settings_replace_the_placeholder_at_their_depth() {
        let template =
            "spec:\n  module: m\n  settings:\n    __KEPGUARD_SETTINGS__: null\n  rules: []\n";
        assert_eq!(
            render_manifest(template, "b: 1\na: [x]\n").unwrap(),
            "spec:\n  module: m\n  settings:\n    b: 1\n    a:\n    - x\n  rules: []\n"
        );
        assert_eq!(
            render_manifest(template, "").unwrap(),
            "spec:\n  module: m\n  settings: {}\n  rules: []\n"
        );
        assert!(render_manifest(template, "[1]").is_err());
    }

    #[test]
    fn wrap_options_read_text_fields_and_skip_empty_ones() {
        let options = wrap_options(
            r#"{"oldObject": "apiVersion: v1\nkind: Pod", "namespace": "", "subResource": "resize"}"#,
        )
        .unwrap();
        assert_eq!(options.old_object.unwrap()["kind"], "Pod");
        assert_eq!(options.namespace, None);
        assert_eq!(options.sub_resource.as_deref(), Some("resize"));
        assert!(wrap_options(r#"{"bogus": 1}"#).is_err());
        assert!(wrap_options("").unwrap().operation.is_none());
    }
}
