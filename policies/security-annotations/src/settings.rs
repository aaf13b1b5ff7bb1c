use kepguard_common::PolicySettings;
use kepguard_common::settings::{Mode, OnUpdate, validate_namespaces};
use serde::Deserialize;

#[derive(Deserialize, Debug, Clone, Default)]
#[serde(rename_all = "camelCase", deny_unknown_fields, default)]
pub struct Settings {
    pub mode: Mode,
    pub on_update: OnUpdate,
    /// Whether an `unconfined` annotation is translated (or, in validate mode, judged like
    /// any other) instead of rejected, as the Pod Security Standards' baseline level would.
    pub allow_unconfined: bool,
    pub exempt_namespaces: Vec<String>,
}

impl PolicySettings for Settings {
    type Compiled = Self;

    fn exempt_namespaces(&self) -> &[String] {
        &self.exempt_namespaces
    }

    fn compile(self) -> Result<Self, String> {
        validate_namespaces("exemptNamespaces", &self.exempt_namespaces)?;
        Ok(self)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn compile(settings: serde_json::Value) -> Result<Settings, String> {
        serde_json::from_value::<Settings>(settings)
            .map_err(|e| e.to_string())?
            .compile()
    }

    #[test]
    fn defaults_mutate_only_changed_templates_and_refuse_unconfined() {
        let settings = compile(json!({})).unwrap();
        assert_eq!(settings.mode, Mode::Mutate);
        assert_eq!(settings.on_update, OnUpdate::Changed);
        assert!(!settings.allow_unconfined);
    }

    #[test]
    fn refuses_unknown_keys_values_and_namespaces() {
        let error = compile(json!({"allowUnconfind": true})).unwrap_err();
        assert!(error.contains("unknown field `allowUnconfind`"), "{error}");
        let error = compile(json!({"mode": "fix"})).unwrap_err();
        assert!(error.contains("expected `mutate` or `validate`"), "{error}");
        let error = compile(json!({"allowUnconfined": "yes"})).unwrap_err();
        assert!(error.contains("invalid type"), "{error}");
        let error = compile(json!({"exemptNamespaces": ["a b"]})).unwrap_err();
        assert!(error.starts_with("exemptNamespaces:"), "{error}");
    }
}
