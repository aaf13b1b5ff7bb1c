use crate::matcher::{ImagePattern, NamePattern};
use kepguard_common::PolicySettings;
use kepguard_common::image::ImageReference;
use kepguard_common::settings::validate_namespaces;
use serde::Deserialize;
use std::cell::OnceCell;

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
    /// The compiled matchers: validating the settings and judging a request need them both,
    /// and compiling the image patterns is a tenth of an evaluation.
    #[serde(skip)]
    matchers: OnceCell<Result<Matchers, String>>,
}

/// `sidecars` and `setupContainers`, compiled.
#[derive(Debug, Clone)]
pub struct Matchers {
    pub sidecars: Vec<Matcher>,
    pub setup: Vec<Matcher>,
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
            matchers: OnceCell::new(),
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

/// A compiled matcher: a container matches when every given pattern matches.
#[derive(Debug, Clone)]
pub struct Matcher {
    name: Option<NamePattern>,
    image: Option<ImagePattern>,
}

impl Matcher {
    /// Compiles `spec`, naming `field` (`sidecars[0]`) in errors.
    pub fn compile(field: &str, spec: &MatcherSpec) -> Result<Matcher, String> {
        if spec.name.is_none() && spec.image.is_none() {
            return Err(format!("{field}: a matcher needs a name, an image or both"));
        }
        let name = spec
            .name
            .as_deref()
            .map(|pattern| {
                NamePattern::parse(pattern)
                    .map_err(|e| format!("{field}.name: the pattern {pattern:?} {e}"))
            })
            .transpose()?;
        let image = spec
            .image
            .as_deref()
            .map(|pattern| {
                ImagePattern::parse(pattern)
                    .map_err(|e| format!("{field}.image: the pattern {pattern:?} {e}"))
            })
            .transpose()?;
        Ok(Matcher { name, image })
    }

    /// Whether a container matches. An image that cannot be parsed never matches an image
    /// pattern.
    pub fn matches(&self, name: &str, image: Option<&ImageReference>) -> bool {
        self.name
            .as_ref()
            .is_none_or(|pattern| pattern.matches(name))
            && self
                .image
                .as_ref()
                .is_none_or(|pattern| image.is_some_and(|image| pattern.matches(image)))
    }
}

/// Compiles every matcher of a list, naming the first invalid one.
pub fn compile_all(field: &str, specs: &[MatcherSpec]) -> Result<Vec<Matcher>, String> {
    specs
        .iter()
        .enumerate()
        .map(|(index, spec)| Matcher::compile(&format!("{field}[{index}]"), spec))
        .collect()
}

impl Settings {
    /// The matchers, compiled on first use; an error names the first invalid one.
    pub fn matchers(&self) -> Result<&Matchers, String> {
        self.matchers
            .get_or_init(|| {
                Ok(Matchers {
                    sidecars: compile_all("sidecars", &self.sidecars)?,
                    setup: compile_all("setupContainers", &self.setup_containers)?,
                })
            })
            .as_ref()
            .map_err(String::clone)
    }
}

impl Settings {
    /// Checks every field; the error names the field and the values it accepts.
    pub fn check(&self) -> Result<(), String> {
        self.matchers()?;
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
        validate_namespaces("exemptNamespaces", &self.exempt_namespaces)
    }
}

impl PolicySettings for Settings {
    type Compiled = Self;

    fn exempt_namespaces(&self) -> &[String] {
        &self.exempt_namespaces
    }

    fn compile(self) -> Result<Self, String> {
        self.check()?;
        Ok(self)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn validate(settings: serde_json::Value) -> Result<(), String> {
        serde_json::from_value::<Settings>(settings)
            .map_err(|e| e.to_string())?
            .check()
    }

    #[test]
    fn defaults_are_valid() {
        assert_eq!(validate(json!({})), Ok(()));
        let settings = Settings::default();
        assert!(settings.sidecars_first);
        assert!(!settings.mutate);
        assert!(!settings.require_startup_probe);
        assert_eq!(settings.min_termination_grace_period_seconds, 0);
    }

    #[test]
    fn the_issue_example_is_valid() {
        let example = json!({
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
        });
        assert_eq!(validate(example), Ok(()));
    }

    #[test]
    fn refuses_empty_and_invalid_matchers_naming_the_field() {
        assert_eq!(
            validate(json!({"sidecars": [{"name": "a"}, {}]})).unwrap_err(),
            "sidecars[1]: a matcher needs a name, an image or both"
        );
        assert_eq!(
            validate(json!({"setupContainers": [{"image": "istio/proxyv2:1.22"}]})).unwrap_err(),
            "setupContainers[0].image: the pattern \"istio/proxyv2:1.22\" has a tag (:1.22): patterns match the repository only, remove it"
        );
        let error = validate(json!({"sidecars": [{"name": "istio proxy"}]})).unwrap_err();
        assert!(
            error.starts_with("sidecars[0].name: the pattern \"istio proxy\" may only contain"),
            "{error}"
        );
        let error = validate(json!({"sidecars": [{"image": "a//b"}]})).unwrap_err();
        assert_eq!(
            error,
            "sidecars[0].image: the pattern \"a//b\" has an empty path segment"
        );
    }

    #[test]
    fn refuses_negative_grace_periods_and_mutate_without_sidecars_first() {
        let error = validate(json!({"minTerminationGracePeriodSeconds": -1})).unwrap_err();
        assert!(
            error.starts_with("minTerminationGracePeriodSeconds: -1 is negative"),
            "{error}"
        );
        let error = validate(json!({"mutate": true, "sidecarsFirst": false})).unwrap_err();
        assert!(
            error.starts_with("mutate: true requires sidecarsFirst: true"),
            "{error}"
        );
        assert_eq!(validate(json!({"mutate": true})), Ok(()));
    }

    #[test]
    fn refuses_unknown_keys_at_every_level() {
        let error = validate(json!({"sidecar": []})).unwrap_err();
        assert!(error.contains("unknown field `sidecar`"), "{error}");
        let error = validate(json!({"sidecars": [{"name": "a", "tag": "1"}]})).unwrap_err();
        assert!(
            error.contains("unknown field `tag`, expected `name` or `image`"),
            "{error}"
        );
        let error = validate(json!({"exemptNamespaces": ["Kube System"]})).unwrap_err();
        assert!(error.starts_with("exemptNamespaces:"), "{error}");
    }

    #[test]
    fn matchers_need_every_given_pattern() {
        let matcher = Matcher::compile(
            "sidecars[0]",
            &MatcherSpec {
                name: Some("istio-proxy".into()),
                image: Some("istio/proxyv2".into()),
            },
        )
        .unwrap();
        let proxy = ImageReference::parse("istio/proxyv2:1.22.0").unwrap();
        let other = ImageReference::parse("envoyproxy/envoy:v1.30").unwrap();
        assert!(matcher.matches("istio-proxy", Some(&proxy)));
        assert!(!matcher.matches("istio-proxy", Some(&other)));
        assert!(!matcher.matches("proxy", Some(&proxy)));
        assert!(!matcher.matches("istio-proxy", None));
        let by_name = Matcher::compile(
            "sidecars[1]",
            &MatcherSpec {
                name: Some("linkerd-proxy".into()),
                image: None,
            },
        )
        .unwrap();
        assert!(by_name.matches("linkerd-proxy", None));
    }
}
