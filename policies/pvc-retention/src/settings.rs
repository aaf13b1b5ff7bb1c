use kepguard_common::PolicySettings;
use kepguard_common::glob::NamespacePattern;
use kepguard_common::labels::check_match_labels;
use kepguard_common::settings::validate_namespaces;
use serde::Deserialize;
use std::collections::BTreeMap;
use std::fmt;

/// What happens to the claims of a StatefulSet's `volumeClaimTemplates` when it is deleted or
/// scaled down: the two values the apiserver accepts.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Retention {
    Retain,
    Delete,
}

impl Retention {
    pub const ALL: [Retention; 2] = [Retention::Retain, Retention::Delete];

    pub fn as_str(self) -> &'static str {
        match self {
            Retention::Retain => "Retain",
            Retention::Delete => "Delete",
        }
    }

    /// Parses a value written in the settings; the error names `field` and the valid values.
    fn parse(field: &str, value: &str) -> Result<Retention, String> {
        Retention::ALL
            .into_iter()
            .find(|candidate| candidate.as_str() == value)
            .ok_or_else(|| {
                format!("{field}: unknown value {value:?}; valid values are Retain, Delete")
            })
    }
}

impl fmt::Display for Retention {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// The two fields of `persistentVolumeClaimRetentionPolicy`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Field {
    WhenDeleted,
    WhenScaled,
}

impl Field {
    pub const ALL: [Field; 2] = [Field::WhenDeleted, Field::WhenScaled];

    pub fn name(self) -> &'static str {
        match self {
            Field::WhenDeleted => "whenDeleted",
            Field::WhenScaled => "whenScaled",
        }
    }
}

#[derive(Deserialize, Debug, Clone, Default)]
#[serde(rename_all = "camelCase", deny_unknown_fields, default)]
pub struct Settings {
    /// Checked in order; the first rule that matches the StatefulSet decides.
    pub rules: Vec<RuleSpec>,
    /// `validate` (the default) or `mutate`.
    pub mode: Option<String>,
    /// In mutate mode, the values set when a request carries no retention policy at all.
    pub set_when_unset: Option<RetentionSpec>,
    pub exempt_namespaces: Vec<String>,
}

/// A rule as written in the settings.
#[derive(Deserialize, Debug, Clone, Default)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct RuleSpec {
    pub name: Option<String>,
    #[serde(default)]
    pub namespaces: Vec<String>,
    #[serde(default)]
    pub match_labels: BTreeMap<String, String>,
    pub when_deleted: Option<Vec<String>>,
    pub when_scaled: Option<Vec<String>>,
}

/// `setWhenUnset` as written in the settings.
#[derive(Deserialize, Debug, Clone, Default)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct RetentionSpec {
    pub when_deleted: Option<String>,
    pub when_scaled: Option<String>,
}

/// The settings as the rules read them.
#[derive(Debug, Clone)]
pub struct Compiled {
    pub rules: Vec<Rule>,
    /// In mutate mode: the values to set where the request has no retention policy.
    pub set_when_unset: Option<SetWhenUnset>,
}

/// A compiled rule.
#[derive(Debug, Clone)]
pub struct Rule {
    /// How messages name the rule: `"production"`, or `rules[2]` when it has no name.
    pub label: String,
    pub namespaces: Vec<NamespacePattern>,
    pub match_labels: BTreeMap<String, String>,
    /// The allowed values of each field; `None` allows any value.
    pub when_deleted: Option<Vec<Retention>>,
    pub when_scaled: Option<Vec<Retention>>,
}

impl Rule {
    pub fn allowed(&self, field: Field) -> Option<&[Retention]> {
        match field {
            Field::WhenDeleted => self.when_deleted.as_deref(),
            Field::WhenScaled => self.when_scaled.as_deref(),
        }
    }
}

/// The values mutate mode sets; a `None` field is left for the apiserver to default.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct SetWhenUnset {
    pub when_deleted: Option<Retention>,
    pub when_scaled: Option<Retention>,
}

impl SetWhenUnset {
    pub fn get(&self, field: Field) -> Option<Retention> {
        match field {
            Field::WhenDeleted => self.when_deleted,
            Field::WhenScaled => self.when_scaled,
        }
    }
}

const MODES: &str = "validate, mutate";

impl RuleSpec {
    fn compile(self, index: usize) -> Result<Rule, String> {
        let field = format!("rules[{index}]");
        let label = match &self.name {
            Some(name) if name.trim().is_empty() => {
                return Err(format!(
                    "{field}.name: cannot be empty; leave it out to name the rule {field}"
                ));
            }
            Some(name) => format!("{name:?}"),
            None => field.clone(),
        };
        if self.namespaces.is_empty() {
            return Err(format!(
                "{field}.namespaces: name at least one namespace pattern, such as \"prod-*\", or \"*\" for every namespace"
            ));
        }
        let namespaces = self
            .namespaces
            .iter()
            .enumerate()
            .map(|(i, pattern)| {
                NamespacePattern::parse(pattern)
                    .map_err(|error| format!("{field}.namespaces[{i}]: {error}"))
            })
            .collect::<Result<_, _>>()?;
        check_match_labels(&format!("{field}.matchLabels"), &self.match_labels)?;
        Ok(Rule {
            label,
            namespaces,
            match_labels: self.match_labels,
            when_deleted: compile_allowed(&format!("{field}.whenDeleted"), self.when_deleted)?,
            when_scaled: compile_allowed(&format!("{field}.whenScaled"), self.when_scaled)?,
        })
    }
}

fn compile_allowed(
    field: &str,
    values: Option<Vec<String>>,
) -> Result<Option<Vec<Retention>>, String> {
    let Some(values) = values else {
        return Ok(None);
    };
    if values.is_empty() {
        return Err(format!(
            "{field}: name at least one of Retain, Delete; leave the field out to allow any value"
        ));
    }
    values
        .iter()
        .map(|value| Retention::parse(field, value))
        .collect::<Result<Vec<_>, _>>()
        .map(Some)
}

impl RetentionSpec {
    fn compile(self) -> Result<SetWhenUnset, String> {
        let parse = |field: &str, value: Option<String>| {
            value
                .map(|value| Retention::parse(&format!("setWhenUnset.{field}"), &value))
                .transpose()
        };
        let compiled = SetWhenUnset {
            when_deleted: parse("whenDeleted", self.when_deleted)?,
            when_scaled: parse("whenScaled", self.when_scaled)?,
        };
        if compiled.when_deleted.is_none() && compiled.when_scaled.is_none() {
            return Err("setWhenUnset: name whenDeleted, whenScaled or both".into());
        }
        Ok(compiled)
    }
}

impl PolicySettings for Settings {
    type Compiled = Compiled;

    fn exempt_namespaces(&self) -> &[String] {
        &self.exempt_namespaces
    }

    fn compile(self) -> Result<Compiled, String> {
        validate_namespaces("exemptNamespaces", &self.exempt_namespaces)?;
        let mutate = match self.mode.as_deref() {
            None | Some("validate") => false,
            Some("mutate") => true,
            Some(other) => {
                return Err(format!(
                    "mode: unknown value {other:?}; valid values are {MODES}"
                ));
            }
        };
        let set_when_unset = match (mutate, self.set_when_unset) {
            (true, Some(spec)) => Some(spec.compile()?),
            (true, None) => {
                return Err(
                    "mode: mutate needs setWhenUnset, the values to set where a StatefulSet has no persistentVolumeClaimRetentionPolicy".into(),
                );
            }
            (false, Some(_)) => {
                return Err(
                    "setWhenUnset: only used with mode: mutate; set mode: mutate or remove it"
                        .into(),
                );
            }
            (false, None) => None,
        };
        let rules = self
            .rules
            .into_iter()
            .enumerate()
            .map(|(index, rule)| rule.compile(index))
            .collect::<Result<_, _>>()?;
        Ok(Compiled {
            rules,
            set_when_unset,
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn compile(settings: serde_json::Value) -> Result<Compiled, String> {
        kepguard_testing::unit::compile::<Settings>(settings)
    }

    #[test]
    fn empty_settings_have_no_rules() {
        let compiled = compile(json!({})).unwrap();
        assert!(compiled.rules.is_empty());
        assert_eq!(compiled.set_when_unset, None);
    }

    #[test]
    fn compiles_rules_in_order() {
        let compiled = compile(json!({
            "rules": [
                {"name": "production", "namespaces": ["prod-*", "kube-system"],
                 "matchLabels": {"tier": "db"}, "whenDeleted": ["Retain"]},
                {"namespaces": ["*"], "whenScaled": ["Retain", "Delete"]}
            ]
        }))
        .unwrap();
        let [first, second] = &compiled.rules[..] else {
            panic!("two rules")
        };
        assert_eq!(first.label, "\"production\"");
        assert_eq!(
            first.allowed(Field::WhenDeleted),
            Some(&[Retention::Retain][..])
        );
        assert_eq!(first.allowed(Field::WhenScaled), None);
        assert_eq!(first.namespaces[1].as_str(), "kube-system");
        assert_eq!(second.label, "rules[1]");
        assert_eq!(
            second.allowed(Field::WhenScaled),
            Some(&[Retention::Retain, Retention::Delete][..])
        );
    }

    #[test]
    fn refuses_invalid_rules_naming_the_field() {
        let cases = [
            (
                json!({"rules": [{"namespaces": ["Prod"]}]}),
                "rules[0].namespaces[0]: the namespace pattern \"Prod\" holds 'P'",
            ),
            (
                json!({"rules": [{"namespaces": [""]}]}),
                "rules[0].namespaces[0]: a namespace pattern cannot be empty",
            ),
            (
                json!({"rules": [{"namespaces": []}]}),
                "rules[0].namespaces: name at least one",
            ),
            (
                json!({"rules": [{"whenDeleted": ["Retain"]}]}),
                "rules[0].namespaces: name at least one",
            ),
            (
                json!({"rules": [{"namespaces": ["*"], "whenDeleted": ["delete"]}]}),
                "rules[0].whenDeleted: unknown value \"delete\"; valid values are Retain, Delete",
            ),
            (
                json!({"rules": [{"namespaces": ["*"], "whenScaled": []}]}),
                "rules[0].whenScaled: name at least one of Retain, Delete",
            ),
            (
                json!({"rules": [{"namespaces": ["*"], "matchLabels": {"-x": "y"}}]}),
                "rules[0].matchLabels: \"-x\" is not a valid label key",
            ),
            (
                json!({"rules": [{"namespaces": ["*"], "name": " "}]}),
                "rules[0].name: cannot be empty",
            ),
            (
                json!({"rules": [{"namespaces": ["*"], "whenDeletd": ["Retain"]}]}),
                "unknown field `whenDeletd`",
            ),
            (
                json!({"mode": "Mutate"}),
                "mode: unknown value \"Mutate\"; valid values are validate, mutate",
            ),
            (json!({"mode": "mutate"}), "mode: mutate needs setWhenUnset"),
            (
                json!({"setWhenUnset": {"whenDeleted": "Retain"}}),
                "setWhenUnset: only used with mode: mutate",
            ),
            (
                json!({"mode": "mutate", "setWhenUnset": {}}),
                "setWhenUnset: name whenDeleted, whenScaled or both",
            ),
            (
                json!({"mode": "mutate", "setWhenUnset": {"whenScaled": "Keep"}}),
                "setWhenUnset.whenScaled: unknown value \"Keep\"",
            ),
            (
                json!({"mode": "mutate", "setWhenUnset": {"when": "Retain"}}),
                "unknown field `when`",
            ),
            (
                json!({"exemptNamespaces": ["Kube"]}),
                "exemptNamespaces: \"Kube\" is not a valid namespace name",
            ),
            (json!({"rule": []}), "unknown field `rule`"),
        ];
        for (settings, expected) in cases {
            let error = compile(settings.clone()).unwrap_err();
            assert!(error.contains(expected), "{settings}: {error}");
        }
    }

    #[test]
    fn mutate_mode_compiles_set_when_unset() {
        let compiled =
            compile(json!({"mode": "mutate", "setWhenUnset": {"whenScaled": "Delete"}})).unwrap();
        let set = compiled.set_when_unset.unwrap();
        assert_eq!(set.get(Field::WhenDeleted), None);
        assert_eq!(set.get(Field::WhenScaled), Some(Retention::Delete));
    }
}
