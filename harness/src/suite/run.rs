//! Running a suite's cases against its module and comparing each answer with the case.

use super::{Case, Suite, suite_name};
use crate::admission::{self, AdmissionResponse};
use crate::host::{Limits, Policy};
use anyhow::{Context, Result, anyhow};
use serde_json::Value;
use std::path::{Path, PathBuf};

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
    match Suite::load(path).and_then(|suite| run_cases(&suite, options)) {
        Ok(results) => results,
        Err(error) => vec![CaseResult {
            suite: suite_name(path),
            name: path.display().to_string(),
            verdict: "error".into(),
            failure: Some(format!("{error:#}")),
        }],
    }
}

fn run_cases(suite: &Suite, options: &RunOptions) -> Result<Vec<CaseResult>> {
    let module_path = match &options.module_override {
        Some(module) => module.clone(),
        None => suite.module(),
    };
    let policy = Policy::load(&module_path, options.limits, options.verbose)?;
    let default_settings = suite.default_settings()?;
    Ok(suite
        .file
        .cases
        .iter()
        .map(|case| {
            let (verdict, failure) = match run_case(&policy, suite, case, &default_settings) {
                Ok(outcome) => outcome,
                Err(error) => ("error".to_string(), Some(format!("{error:#}"))),
            };
            CaseResult {
                suite: suite.name.clone(),
                name: case.name.clone(),
                verdict,
                failure,
            }
        })
        .collect())
}

type Outcome = (String, Option<String>);

fn run_case(policy: &Policy, suite: &Suite, case: &Case, defaults: &Value) -> Result<Outcome> {
    let settings = case.settings(suite, defaults)?;
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

    let request_path = suite.path(case.request.as_ref().expect("checked before running"));
    let request = admission::load_request(&request_path)?;
    let response = admission::evaluate(policy, &request, &settings)?;
    let label = response.verdict();
    let failure = compare(suite, case, &request, &response)?;
    Ok((label.into(), failure))
}

/// Compares a response with the case's expectations; every mismatch is reported.
fn compare(
    suite: &Suite,
    case: &Case,
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
            let path = suite.path(file);
            let text = std::fs::read_to_string(&path)
                .with_context(|| format!("cannot read patched file {}", path.display()))?;
            let expected: Value = serde_json::from_str(&text)
                .with_context(|| format!("patched file {} is not valid JSON", path.display()))?;
            if response.patched_object(request)?.as_ref() != Some(&expected) {
                problems.push(format!(
                    "the patched object differs from {}: the policy's patch was {}",
                    path.display(),
                    serde_json::to_string(&patch).unwrap_or_default()
                ));
            }
        }
        (Some(file), None) => problems.push(format!(
            "expected a mutation giving {}, got none",
            suite.path(file).display()
        )),
        (None, Some(patch)) => problems.push(format!(
            "expected no mutation, got the patch {}",
            serde_json::to_string(&patch).unwrap_or_default()
        )),
        (None, None) => {}
    }
    Ok((!problems.is_empty()).then(|| problems.join("; ")))
}
