use kepguard_common::PolicySettings;
use kepguard_common::image::RepositoryPrefix;
use kepguard_common::settings::{Mode, OnUpdate, validate_namespaces};
use serde::Deserialize;

#[derive(Deserialize, Debug, Clone)]
#[serde(rename_all = "camelCase", deny_unknown_fields, default)]
pub struct Settings {
    pub mode: Mode,
    pub on_update: OnUpdate,
    /// Replaces the default list when given.
    pub rewrites: Vec<Rewrite>,
    pub exempt_namespaces: Vec<String>,
}

/// One prefix to replace: a registry host with an optional port and path.
#[derive(Deserialize, Debug, Clone, PartialEq, Eq)]
#[serde(deny_unknown_fields)]
pub struct Rewrite {
    pub from: String,
    pub to: String,
}

impl Default for Settings {
    fn default() -> Self {
        Settings {
            mode: Mode::default(),
            on_update: OnUpdate::default(),
            rewrites: vec![Rewrite {
                from: "k8s.gcr.io".into(),
                to: "registry.k8s.io".into(),
            }],
            exempt_namespaces: Vec::new(),
        }
    }
}

/// The settings as the rules read them: prefixes parsed, longest `from` first.
#[derive(Debug, Clone)]
pub struct Compiled {
    pub mode: Mode,
    pub on_update: OnUpdate,
    pub rewrites: Vec<CompiledRewrite>,
}

#[derive(Debug, Clone)]
pub struct CompiledRewrite {
    pub from: RepositoryPrefix,
    pub to: RepositoryPrefix,
}

impl PolicySettings for Settings {
    type Compiled = Compiled;

    fn exempt_namespaces(&self) -> &[String] {
        &self.exempt_namespaces
    }

    fn compile(self) -> Result<Compiled, String> {
        validate_namespaces("exemptNamespaces", &self.exempt_namespaces)?;
        let mut rewrites: Vec<CompiledRewrite> = Vec::with_capacity(self.rewrites.len());
        for (index, rewrite) in self.rewrites.iter().enumerate() {
            let parse = |field: &str, text: &str| {
                RepositoryPrefix::parse(text).map_err(|error| {
                    format!("rewrites[{index}].{field}: {error}; a prefix is a registry host with an optional port and path, such as registry.k8s.io or harbor.example.com/k8s")
                })
            };
            let from = parse("from", &rewrite.from)?;
            let to = parse("to", &rewrite.to)?;
            if let Some(earlier) = rewrites.iter().position(|r| r.from == from) {
                return Err(format!(
                    "rewrites[{index}].from: {from} is already the from of rewrites[{earlier}]; each prefix is rewritten one way"
                ));
            }
            rewrites.push(CompiledRewrite { from, to });
        }
        // The most specific prefix wins: `gcr.io/google-containers` before `gcr.io`.
        rewrites.sort_by_key(|rewrite| std::cmp::Reverse(rewrite.from.segment_count()));
        Ok(Compiled {
            mode: self.mode,
            on_update: self.on_update,
            rewrites,
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
    fn defaults_rewrite_k8s_gcr_io_in_mutate_mode() {
        let compiled = compile(json!({})).unwrap();
        assert_eq!(compiled.mode, Mode::Mutate);
        assert_eq!(compiled.on_update, OnUpdate::Changed);
        assert_eq!(compiled.rewrites.len(), 1);
        assert_eq!(compiled.rewrites[0].from.to_string(), "k8s.gcr.io");
        assert_eq!(compiled.rewrites[0].to.to_string(), "registry.k8s.io");
    }

    #[test]
    fn a_given_list_replaces_the_default_and_longest_comes_first() {
        let compiled = compile(json!({"rewrites": [
            {"from": "gcr.io", "to": "harbor.example.com/gcr"},
            {"from": "gcr.io/google-containers", "to": "registry.k8s.io"}
        ]}))
        .unwrap();
        let froms: Vec<_> = compiled
            .rewrites
            .iter()
            .map(|r| r.from.to_string())
            .collect();
        assert_eq!(froms, ["gcr.io/google-containers", "gcr.io"]);
        assert!(
            compile(json!({"rewrites": []}))
                .unwrap()
                .rewrites
                .is_empty()
        );
    }

    #[test]
    fn refuses_invalid_prefixes_naming_the_field() {
        for (rewrite, expected) in [
            (
                json!({"from": "", "to": "registry.k8s.io"}),
                "rewrites[0].from: the prefix is empty",
            ),
            (
                json!({"from": "k8s.gcr.io", "to": "https://registry.k8s.io"}),
                "rewrites[0].to: \"https://registry.k8s.io\" has a scheme",
            ),
            (
                json!({"from": "k8s.gcr.io/pause:3.9", "to": "registry.k8s.io"}),
                "has a tag",
            ),
            (
                json!({"from": "k8s.gcr.io", "to": "registry.k8s.io/pause@sha256:0123456789abcdef0123456789abcdef0123456789abcdef0123456789abcdef"}),
                "has a digest",
            ),
        ] {
            let error = compile(json!({"rewrites": [rewrite]})).unwrap_err();
            assert!(error.contains(expected), "{error}");
        }
    }

    #[test]
    fn refuses_duplicate_froms_unknown_keys_and_modes() {
        let error = compile(json!({"rewrites": [
            {"from": "k8s.gcr.io", "to": "registry.k8s.io"},
            {"from": "k8s.gcr.io", "to": "harbor.example.com/k8s"}
        ]}))
        .unwrap_err();
        assert!(
            error.starts_with("rewrites[1].from: k8s.gcr.io is already"),
            "{error}"
        );
        let error =
            compile(json!({"rewrites": [{"from": "a.io", "to": "b.io", "tag": "x"}]})).unwrap_err();
        assert!(error.contains("unknown field `tag`"), "{error}");
        let error = compile(json!({"mode": "audit"})).unwrap_err();
        assert!(error.contains("expected `mutate` or `validate`"), "{error}");
        let error = compile(json!({"onUpdate": "never"})).unwrap_err();
        assert!(error.contains("expected `changed` or `all`"), "{error}");
        let error = compile(json!({"exemptNamespaces": ["Kube"]})).unwrap_err();
        assert!(error.starts_with("exemptNamespaces:"), "{error}");
    }
}
