use crate::matcher::{Matcher, Matchers};
use kepguard_common::PolicySettings;
use kepguard_common::settings::validate_namespaces;
use serde::Deserialize;

#[derive(Deserialize, Debug, Clone)]
#[serde(rename_all = "camelCase", deny_unknown_fields, default)]
pub struct Settings {
    /// Containers that are sidecars, in the order they must start.
    pub sidecars: Vec<MatcherSpec>,
    /// Ordinary init containers that belong before the sidecars (mesh iptables setup).
    pub setup_containers: Vec<MatcherSpec>,
    /// Every other init container must come after the matched sidecars.
    pub sidecars_first: bool,
    /// A matched sidecar followed by another init container needs a startupProbe.
    pub require_startup_probe: bool,
    /// With any native sidecar, terminationGracePeriodSeconds must be at least this; 0 is off.
    pub min_termination_grace_period_seconds: i64,
    /// Fix rules 1 and 2 instead of rejecting.
    pub mutate: bool,
    pub exempt_namespaces: Vec<String>,
}

impl Default for Settings {
    fn default() -> Self {
        Settings {
            sidecars: Vec::new(),
            setup_containers: Vec::new(),
            sidecars_first: true,
            require_startup_probe: false,
            min_termination_grace_period_seconds: 0,
            mutate: false,
            exempt_namespaces: Vec::new(),
        }
    }
}

/// A matcher as written in the settings.
#[derive(Deserialize, Debug, Clone, Default)]
#[serde(deny_unknown_fields)]
pub struct MatcherSpec {
    pub name: Option<String>,
    pub image: Option<String>,
}

/// The settings as the rules read them: checked, with the matchers compiled.
#[derive(Debug, Clone)]
pub struct CompiledSettings {
    pub matchers: Matchers,
    pub sidecars_first: bool,
    pub require_startup_probe: bool,
    /// 0 is off.
    pub min_termination_grace_period_seconds: i64,
    pub mutate: bool,
}

/// Compiles every matcher of a list, naming the first invalid one.
fn compile_all(field: &str, specs: &[MatcherSpec]) -> Result<Vec<Matcher>, String> {
    specs
        .iter()
        .enumerate()
        .map(|(index, spec)| {
            Matcher::compile(
                &format!("{field}[{index}]"),
                spec.name.as_deref(),
                spec.image.as_deref(),
            )
        })
        .collect()
}

impl PolicySettings for Settings {
    type Compiled = CompiledSettings;

    fn exempt_namespaces(&self) -> &[String] {
        &self.exempt_namespaces
    }

    fn compile(self) -> Result<CompiledSettings, String> {
        let matchers = Matchers {
            sidecars: compile_all("sidecars", &self.sidecars)?,
            setup: compile_all("setupContainers", &self.setup_containers)?,
        };
        if self.min_termination_grace_period_seconds < 0 {
            return Err(format!(
                "minTerminationGracePeriodSeconds: {} is negative; use 0 to turn the check off or a number of seconds",
                self.min_termination_grace_period_seconds
            ));
        }
        if self.mutate && !self.sidecars_first {
            return Err(
                "mutate: true requires sidecarsFirst: true, the order the mutation writes".into(),
            );
        }
        validate_namespaces("exemptNamespaces", &self.exempt_namespaces)?;
        Ok(CompiledSettings {
            matchers,
            sidecars_first: self.sidecars_first,
            require_startup_probe: self.require_startup_probe,
            min_termination_grace_period_seconds: self.min_termination_grace_period_seconds,
            mutate: self.mutate,
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use kepguard_testing::unit::{
        assert_refused_settings, assert_valid_settings, compile, compiled,
    };
    use serde_json::json;

    #[test]
    fn defaults_are_valid() {
        let settings = compiled::<Settings>(json!({}));
        assert!(settings.sidecars_first);
        assert!(!settings.mutate);
        assert!(!settings.require_startup_probe);
        assert_eq!(settings.min_termination_grace_period_seconds, 0);
        assert!(settings.matchers.sidecars.is_empty() && settings.matchers.setup.is_empty());
    }

    #[test]
    fn the_issue_example_is_valid() {
        let settings = compiled::<Settings>(json!({
            "sidecars": [
                {"name": "istio-proxy", "image": "istio/proxyv2"},
                {"name": "linkerd-proxy"},
                {"name": "vault-agent", "image": "hashicorp/vault"},
                {"image": "cloud-sql-connectors/cloud-sql-proxy"}
            ],
            "setupContainers": [
                {"name": "istio-init"}, {"name": "istio-validation"}, {"name": "linkerd-init"}
            ],
            "sidecarsFirst": true,
            "requireStartupProbe": false,
            "minTerminationGracePeriodSeconds": 0,
            "mutate": false,
            "exemptNamespaces": []
        }));
        assert_eq!(settings.matchers.sidecars.len(), 4);
        assert_eq!(settings.matchers.setup.len(), 3);
    }

    #[test]
    fn valid_settings() {
        assert_valid_settings::<Settings>([
            ("mutate with sidecarsFirst", json!({"mutate": true})),
            (
                "a grace period",
                json!({"minTerminationGracePeriodSeconds": 30}),
            ),
            (
                "exempt namespaces",
                json!({"exemptNamespaces": ["kube-system"]}),
            ),
        ]);
    }

    #[test]
    fn invalid_settings_name_the_field() {
        assert_refused_settings::<Settings>([
            (
                "an empty matcher",
                json!({"sidecars": [{"name": "a"}, {}]}),
                "sidecars[1]: a matcher needs a name, an image or both",
            ),
            (
                "a tagged image pattern",
                json!({"setupContainers": [{"image": "istio/proxyv2:1.22"}]}),
                "setupContainers[0].image: the pattern \"istio/proxyv2:1.22\" has a tag (:1.22): patterns match the repository only, remove it",
            ),
            (
                "a name pattern with a space",
                json!({"sidecars": [{"name": "istio proxy"}]}),
                "sidecars[0].name: the pattern \"istio proxy\" may only contain lowercase letters, digits, '-' and the globs '*' and '?'",
            ),
            (
                "an empty path segment",
                json!({"sidecars": [{"image": "a//b"}]}),
                "sidecars[0].image: the pattern \"a//b\" has an empty path segment",
            ),
            (
                "a negative grace period",
                json!({"minTerminationGracePeriodSeconds": -1}),
                "minTerminationGracePeriodSeconds: -1 is negative; use 0 to turn the check off or a number of seconds",
            ),
            (
                "mutate without sidecarsFirst",
                json!({"mutate": true, "sidecarsFirst": false}),
                "mutate: true requires sidecarsFirst: true, the order the mutation writes",
            ),
            (
                "an invalid namespace",
                json!({"exemptNamespaces": ["Kube System"]}),
                "exemptNamespaces: \"Kube System\" is not a valid namespace name (lowercase letters, digits and '-', at most 63 characters)",
            ),
        ]);
    }

    #[test]
    fn refuses_unknown_keys_at_every_level() {
        let cases = [
            (
                "top level",
                json!({"sidecar": []}),
                "unknown field `sidecar`",
            ),
            (
                "in a matcher",
                json!({"sidecars": [{"name": "a", "tag": "1"}]}),
                "unknown field `tag`, expected `name` or `image`",
            ),
        ];
        for (name, settings, expected) in cases {
            let error = compile::<Settings>(settings).err().unwrap_or_default();
            assert!(error.contains(expected), "{name}: {error}");
        }
    }
}
