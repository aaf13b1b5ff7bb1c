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

pub mod report;
pub mod run;

use crate::admission;
use anyhow::{Context, Result, bail};
use serde::Deserialize;
use serde_json::Value;
use std::path::{Path, PathBuf};

pub use report::{junit, report};
pub use run::{CaseResult, RunOptions, run_suite};

/// A suite file as written, with the folder its paths are relative to. `kepguard test` and
/// `kepguard bench` both load suites through [`Suite::load`].
pub struct Suite {
    /// The suite's folder, `fixtures/<policy>`.
    pub dir: PathBuf,
    /// The suite's name: its folder's name, the policy's.
    pub name: String,
    pub file: SuiteFile,
}

#[derive(Debug, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct SuiteFile {
    pub module: PathBuf,
    #[serde(default)]
    pub mutating: bool,
    #[serde(default)]
    pub settings: Option<Value>,
    #[serde(default)]
    pub settings_file: Option<PathBuf>,
    pub cases: Vec<Case>,
}

#[derive(Debug, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct Case {
    pub name: String,
    #[serde(default)]
    pub request: Option<PathBuf>,
    #[serde(default)]
    pub settings: Option<Value>,
    #[serde(default)]
    pub settings_file: Option<PathBuf>,
    #[serde(default)]
    pub allowed: Option<bool>,
    #[serde(default)]
    pub message: Option<String>,
    #[serde(default)]
    pub code: Option<u16>,
    #[serde(default)]
    pub warnings: Option<Vec<String>>,
    #[serde(default)]
    pub patched: Option<PathBuf>,
    #[serde(default)]
    pub mutated: Option<bool>,
    #[serde(default)]
    pub settings_valid: Option<bool>,
}

impl Suite {
    /// Reads and checks a suite file: every case must state what it expects.
    pub fn load(path: &Path) -> Result<Suite> {
        let text = std::fs::read_to_string(path)
            .with_context(|| format!("cannot read suite {}", path.display()))?;
        let file: SuiteFile = serde_norway::from_str(&text)
            .with_context(|| format!("suite {} is malformed", path.display()))?;
        for case in &file.cases {
            check_case(case, file.mutating)
                .with_context(|| format!("suite {}: case {:?}", path.display(), case.name))?;
        }
        Ok(Suite {
            dir: path.parent().unwrap_or(Path::new(".")).to_path_buf(),
            name: suite_name(path),
            file,
        })
    }

    /// The module the suite names, relative to the suite's folder.
    pub fn module(&self) -> PathBuf {
        self.dir.join(&self.file.module)
    }

    /// The settings every case without its own uses.
    pub fn default_settings(&self) -> Result<Value> {
        resolve_settings(&self.dir, &self.file.settings, &self.file.settings_file)
    }

    /// A path a case names, relative to the suite's folder.
    pub fn path(&self, file: &Path) -> PathBuf {
        self.dir.join(file)
    }
}

impl Case {
    /// Whether the case runs with the suite's default settings.
    pub fn uses_default_settings(&self) -> bool {
        self.settings.is_none() && self.settings_file.is_none()
    }

    /// The case's own settings, or `defaults`.
    pub fn settings(&self, suite: &Suite, defaults: &Value) -> Result<Value> {
        if self.uses_default_settings() {
            Ok(defaults.clone())
        } else {
            resolve_settings(&suite.dir, &self.settings, &self.settings_file)
        }
    }
}

/// A suite's name: its folder's name.
pub fn suite_name(path: &Path) -> String {
    path.parent()
        .and_then(Path::file_name)
        .map(|name| name.to_string_lossy().into_owned())
        .unwrap_or_else(|| path.display().to_string())
}

/// A case must state what it expects, so that it can fail.
fn check_case(case: &Case, mutating: bool) -> Result<()> {
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

/// The one settings resolver: inline settings, a settings file, or `{}`.
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

#[cfg(test)]
mod tests {
    use super::*;

    fn case(yaml: &str) -> Case {
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
        let parsed: Result<Case, _> = serde_norway::from_str("name: a\nalowed: true");
        assert!(parsed.unwrap_err().to_string().contains("alowed"));
    }
}
