//! Declarative test suites: `fixtures/<policy>/suite.yaml`.
//!
//! ```yaml
//! module: ../../build/my-policy.wasm   # relative to this file
//! mutating: true                       # accepted cases must state `patched` or `mutated: false`
//! settings: {key: value}               # default settings for every case
//! cases:
//!   - name: pod with a pvc gets the default
//!     request: requests/pod-pvc.json   # a bare AdmissionRequest or an AdmissionReview
//!     settings: {...}                  # or settingsFile: settings/strict.yaml
//!     allowed: true
//!     patched: patched/pod-pvc.json    # the exact object after the patch is applied
//!   - name: bad settings
//!     settings: {mode: sideways}
//!     settingsValid: false
//!     message: "mode"
//! ```

use crate::admission::{self, AdmissionResponse};
use crate::host::{Limits, Policy};
use anyhow::{Context, Result, anyhow, bail};
use serde::Deserialize;
use serde_json::Value;
use std::fmt::Write as _;
use std::path::{Path, PathBuf};

#[derive(Debug, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
struct SuiteFile {
    module: PathBuf,
    #[serde(default)]
    mutating: bool,
    #[serde(default)]
    settings: Option<Value>,
    #[serde(default)]
    settings_file: Option<PathBuf>,
    cases: Vec<CaseFile>,
}

#[derive(Debug, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
struct CaseFile {
    name: String,
    #[serde(default)]
    request: Option<PathBuf>,
    #[serde(default)]
    settings: Option<Value>,
    #[serde(default)]
    settings_file: Option<PathBuf>,
    #[serde(default)]
    allowed: Option<bool>,
    #[serde(default)]
    message: Option<String>,
    #[serde(default)]
    code: Option<u16>,
    #[serde(default)]
    warnings: Option<Vec<String>>,
    #[serde(default)]
    patched: Option<PathBuf>,
    #[serde(default)]
    mutated: Option<bool>,
    #[serde(default)]
    settings_valid: Option<bool>,
}

/// The outcome of one case.
pub struct CaseResult {
    pub suite: String,
    pub name: String,
    /// What the policy did: `allowed`, `rejected`, `mutated`, `invalid settings`, `error`.
    pub verdict: String,
    /// Why the case failed, if it did.
    pub failure: Option<String>,
}

/// Options that apply to every suite of a run.
pub struct RunOptions {
    pub limits: Limits,
    pub verbose: bool,
    /// Runs every suite against this module instead of the one it names.
    pub module_override: Option<PathBuf>,
}

/// Runs one suite file. A suite that cannot be read is one failed result naming the file.
pub fn run_suite(path: &Path, options: &RunOptions) -> Vec<CaseResult> {
    let suite_name = path
        .parent()
        .and_then(Path::file_name)
        .map(|name| name.to_string_lossy().into_owned())
        .unwrap_or_else(|| path.display().to_string());
    match load_and_run(path, &suite_name, options) {
        Ok(results) => results,
        Err(error) => vec![CaseResult {
            suite: suite_name,
            name: path.display().to_string(),
            verdict: "error".into(),
            failure: Some(format!("{error:#}")),
        }],
    }
}

fn load_and_run(path: &Path, suite_name: &str, options: &RunOptions) -> Result<Vec<CaseResult>> {
    let text = std::fs::read_to_string(path)
        .with_context(|| format!("cannot read suite {}", path.display()))?;
    let suite: SuiteFile = serde_norway::from_str(&text)
        .with_context(|| format!("suite {} is malformed", path.display()))?;
    let dir = path.parent().unwrap_or(Path::new("."));
    for case in &suite.cases {
        check_case(case, suite.mutating)
            .with_context(|| format!("suite {}: case {:?}", path.display(), case.name))?;
    }
    let module_path = match &options.module_override {
        Some(module) => module.clone(),
        None => dir.join(&suite.module),
    };
    let policy = Policy::load(&module_path, options.limits, options.verbose)?;
    let default_settings = resolve_settings(dir, &suite.settings, &suite.settings_file)?;
    Ok(suite
        .cases
        .iter()
        .map(|case| {
            let (verdict, failure) = match run_case(&policy, dir, case, &default_settings) {
                Ok(outcome) => outcome,
                Err(error) => ("error".to_string(), Some(format!("{error:#}"))),
            };
            CaseResult {
                suite: suite_name.to_string(),
                name: case.name.clone(),
                verdict,
                failure,
            }
        })
        .collect())
}

/// A case must state what it expects, so that it can fail.
fn check_case(case: &CaseFile, mutating: bool) -> Result<()> {
    if case.settings.is_some() && case.settings_file.is_some() {
        bail!("give settings or settingsFile, not both");
    }
    if case.settings_valid == Some(false) {
        if case.request.is_some() || case.allowed.is_some() {
            bail!("a settingsValid: false case takes no request and no allowed");
        }
        if case.message.is_none() {
            bail!("a settingsValid: false case must state the expected message");
        }
        return Ok(());
    }
    if case.request.is_none() {
        bail!("missing request (only settingsValid: false cases go without one)");
    }
    match case.allowed {
        None => bail!("missing allowed: every case states its verdict"),
        Some(false) if case.message.is_none() => {
            bail!("a rejected case must state the expected message")
        }
        Some(false) if case.patched.is_some() || case.mutated == Some(true) => {
            bail!("a rejected case cannot be mutated")
        }
        _ => {}
    }
    if case.patched.is_some() && case.mutated.is_some() {
        bail!("give patched or mutated, not both");
    }
    if case.mutated == Some(true) {
        bail!("mutated: true says too little: give the patched object with patched: FILE");
    }
    if mutating && case.allowed == Some(true) && case.patched.is_none() && case.mutated.is_none() {
        bail!("the policy mutates: an accepted case states patched: FILE or mutated: false");
    }
    Ok(())
}

fn resolve_settings(dir: &Path, inline: &Option<Value>, file: &Option<PathBuf>) -> Result<Value> {
    match (inline, file) {
        (Some(_), Some(_)) => bail!("give settings or settingsFile, not both"),
        (Some(Value::Null), None) | (None, None) => Ok(Value::Object(Default::default())),
        (Some(settings), None) => Ok(settings.clone()),
        (None, Some(file)) => {
            let path = dir.join(file);
            let text = std::fs::read_to_string(&path)
                .with_context(|| format!("cannot read settings file {}", path.display()))?;
            admission::parse_settings(&text, &format!("in {}", path.display()))
        }
    }
}

type Outcome = (String, Option<String>);

fn run_case(policy: &Policy, dir: &Path, case: &CaseFile, defaults: &Value) -> Result<Outcome> {
    let settings = if case.settings.is_some() || case.settings_file.is_some() {
        resolve_settings(dir, &case.settings, &case.settings_file)?
    } else {
        defaults.clone()
    };
    let verdict = admission::validate_settings(policy, &settings)
        .map_err(|error| anyhow!("module {}: {error}", policy.name()))?;
    if case.settings_valid == Some(false) {
        let expected = case.message.as_deref().unwrap_or_default();
        let message = verdict.message.unwrap_or_default();
        let failure = if verdict.valid {
            Some("expected invalid settings, but the policy accepted them".to_string())
        } else if !message.contains(expected) {
            Some(format!(
                "expected a settings message containing {expected:?}, got {message:?}"
            ))
        } else {
            None
        };
        let label = if verdict.valid {
            "valid settings"
        } else {
            "invalid settings"
        };
        return Ok((label.into(), failure));
    }
    if !verdict.valid {
        return Ok((
            "invalid settings".into(),
            Some(format!(
                "the policy refused the settings: {}",
                verdict.message.unwrap_or_default()
            )),
        ));
    }

    let request_path = dir.join(case.request.as_ref().expect("checked before running"));
    let request = admission::load_request(&request_path)?;
    let response = admission::evaluate(policy, &request, &settings)?;
    let label = match (&response.patch, response.allowed) {
        (Some(_), _) => "mutated",
        (None, true) => "allowed",
        (None, false) => "rejected",
    };
    let failure = compare(dir, case, &request, &response)?;
    Ok((label.into(), failure))
}

/// Compares a response with the case's expectations; every mismatch is reported.
fn compare(
    dir: &Path,
    case: &CaseFile,
    request: &Value,
    response: &AdmissionResponse,
) -> Result<Option<String>> {
    let mut problems = Vec::new();
    let message = response.status.as_ref().and_then(|s| s.message.clone());
    if case.allowed != Some(response.allowed) {
        problems.push(format!(
            "expected allowed: {}, got allowed: {} (message: {})",
            case.allowed.unwrap_or_default(),
            response.allowed,
            message.as_deref().unwrap_or("none")
        ));
    }
    if let Some(expected) = &case.message {
        match &message {
            Some(actual) if actual.contains(expected.as_str()) => {}
            actual => problems.push(format!(
                "expected a message containing {expected:?}, got {:?}",
                actual.as_deref().unwrap_or("")
            )),
        }
    }
    if let Some(expected) = case.code {
        let actual = response.status.as_ref().and_then(|s| s.code);
        if actual != Some(expected) {
            problems.push(format!("expected code {expected}, got {actual:?}"));
        }
    }
    let actual_warnings = response.warnings.clone().unwrap_or_default();
    let expected_warnings = case.warnings.clone().unwrap_or_default();
    let warnings_match = actual_warnings.len() == expected_warnings.len()
        && actual_warnings
            .iter()
            .zip(&expected_warnings)
            .all(|(actual, expected)| actual.contains(expected.as_str()));
    if !warnings_match {
        problems.push(format!(
            "expected warnings containing {expected_warnings:?}, got {actual_warnings:?}"
        ));
    }
    match (&case.patched, response.decoded_patch()?) {
        (Some(file), Some(patch)) => {
            let path = dir.join(file);
            let text = std::fs::read_to_string(&path)
                .with_context(|| format!("cannot read patched file {}", path.display()))?;
            let expected: Value = serde_json::from_str(&text)
                .with_context(|| format!("patched file {} is not valid JSON", path.display()))?;
            let mut patched = request.get("object").cloned().unwrap_or(Value::Null);
            json_patch::patch(&mut patched, &patch)
                .map_err(|error| anyhow!("the patch does not apply to the object: {error}"))?;
            if patched != expected {
                problems.push(format!(
                    "the patched object differs from {}: the policy's patch was {}",
                    path.display(),
                    serde_json::to_string(&patch).unwrap_or_default()
                ));
            }
        }
        (Some(file), None) => problems.push(format!(
            "expected a mutation giving {}, got none",
            dir.join(file).display()
        )),
        (None, Some(patch)) => problems.push(format!(
            "expected no mutation, got the patch {}",
            serde_json::to_string(&patch).unwrap_or_default()
        )),
        (None, None) => {}
    }
    Ok((!problems.is_empty()).then(|| problems.join("; ")))
}

/// Prints one line per case, then `N passed, N failed`.
pub fn report(results: &[CaseResult]) -> String {
    let suite_width = results.iter().map(|r| r.suite.len()).max().unwrap_or(0);
    let mut out = String::new();
    for result in results {
        let status = if result.failure.is_none() {
            "PASS"
        } else {
            "FAIL"
        };
        let _ = writeln!(
            out,
            "{status}  {:suite_width$}  {:16}  {}",
            result.suite, result.verdict, result.name
        );
        if let Some(failure) = &result.failure {
            let _ = writeln!(out, "      {failure}");
        }
    }
    let failed = results.iter().filter(|r| r.failure.is_some()).count();
    let _ = writeln!(out, "{} passed, {} failed", results.len() - failed, failed);
    out
}

/// JUnit XML, one testsuite per policy suite.
pub fn junit(results: &[CaseResult]) -> String {
    let mut suites: Vec<&str> = results.iter().map(|r| r.suite.as_str()).collect();
    suites.dedup();
    let mut xml = String::from("<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n<testsuites>\n");
    for suite in suites {
        let cases: Vec<&CaseResult> = results.iter().filter(|r| r.suite == suite).collect();
        let failures = cases.iter().filter(|c| c.failure.is_some()).count();
        let _ = writeln!(
            xml,
            "  <testsuite name=\"{}\" tests=\"{}\" failures=\"{failures}\">",
            escape(suite),
            cases.len()
        );
        for case in cases {
            let _ = write!(
                xml,
                "    <testcase classname=\"{}\" name=\"{}\"",
                escape(suite),
                escape(&case.name)
            );
            match &case.failure {
                None => xml.push_str("/>\n"),
                Some(failure) => {
                    let _ = writeln!(
                        xml,
                        ">\n      <failure message=\"{}\"/>\n    </testcase>",
                        escape(failure)
                    );
                }
            }
        }
        xml.push_str("  </testsuite>\n");
    }
    xml.push_str("</testsuites>\n");
    xml
}

fn escape(text: &str) -> String {
    text.replace('&', "&amp;")
        .replace('<', "&lt;")
        .replace('>', "&gt;")
        .replace('"', "&quot;")
}

#[cfg(test)]
mod tests {
    use super::*;

    fn case(yaml: &str) -> CaseFile {
        serde_norway::from_str(yaml).unwrap()
    }

    #[test]
    fn cases_must_state_expectations() {
        let error = |yaml: &str, mutating: bool| check_case(&case(yaml), mutating).unwrap_err();
        assert!(
            error("name: a\nrequest: r.json", false)
                .to_string()
                .contains("allowed")
        );
        assert!(
            error("name: a\nrequest: r.json\nallowed: false", false)
                .to_string()
                .contains("message")
        );
        assert!(
            error("name: a\nrequest: r.json\nallowed: true", true)
                .to_string()
                .contains("patched")
        );
        assert!(
            error("name: a\nsettingsValid: false", false)
                .to_string()
                .contains("message")
        );
        assert!(
            error("name: a\nallowed: true", false)
                .to_string()
                .contains("request")
        );
        assert!(check_case(&case("name: a\nrequest: r.json\nallowed: true"), false).is_ok());
        assert!(
            check_case(
                &case("name: a\nrequest: r.json\nallowed: true\nmutated: false"),
                true
            )
            .is_ok()
        );
    }

    #[test]
    fn unknown_case_keys_are_refused() {
        let parsed: Result<CaseFile, _> = serde_norway::from_str("name: a\nalowed: true");
        assert!(parsed.unwrap_err().to_string().contains("alowed"));
    }

    #[test]
    fn report_ends_with_the_totals() {
        let results = vec![
            CaseResult {
                suite: "p".into(),
                name: "one".into(),
                verdict: "allowed".into(),
                failure: None,
            },
            CaseResult {
                suite: "p".into(),
                name: "two <&>".into(),
                verdict: "rejected".into(),
                failure: Some("expected allowed".into()),
            },
        ];
        let text = report(&results);
        assert_eq!(text.lines().last(), Some("1 passed, 1 failed"));
        assert!(text.contains("FAIL  p  rejected          two <&>"));
        let xml = junit(&results);
        assert!(xml.contains("<testsuite name=\"p\" tests=\"2\" failures=\"1\">"));
        assert!(xml.contains("name=\"two &lt;&amp;&gt;\""));
    }
}
