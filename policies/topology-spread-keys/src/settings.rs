use kepguard_common::labels::check_label_key;
use kepguard_common::settings::{Mode, OnUpdate, validate_namespaces};
use kepguard_common::{PolicySettings, WorkloadKind};
use serde::Deserialize;
use std::collections::BTreeMap;

/// The kinds whose pod templates the policy may judge. Pods are not among them: their spread
/// constraints come from templates, or from users who chose them.
pub const TEMPLATE_KINDS: [WorkloadKind; 7] = [
    WorkloadKind::Deployment,
    WorkloadKind::ReplicaSet,
    WorkloadKind::StatefulSet,
    WorkloadKind::DaemonSet,
    WorkloadKind::Job,
    WorkloadKind::CronJob,
    WorkloadKind::ReplicationController,
];

/// The label the Deployment controller sets on the pods of each ReplicaSet it creates.
pub const POD_TEMPLATE_HASH: &str = "pod-template-hash";

#[derive(Deserialize, Debug, Clone, Default)]
#[serde(rename_all = "camelCase", deny_unknown_fields, default)]
pub struct Settings {
    /// Workload kind → the label keys that identify a revision. A given map replaces the
    /// default `{Deployment: [pod-template-hash]}`.
    pub keys: Option<BTreeMap<String, Vec<String>>>,
    pub mode: Mode,
    pub on_update: OnUpdate,
    pub exempt_namespaces: Vec<String>,
}

/// The settings as the rules read them.
#[derive(Debug, Clone, PartialEq)]
pub struct Compiled {
    /// The configured kinds and their keys, in the order of [`TEMPLATE_KINDS`].
    pub keys: Vec<(WorkloadKind, Vec<String>)>,
    /// Append the missing keys (true) or reject (false).
    pub mutate: bool,
    /// At UPDATE, judge every constraint, not only those the request adds or changes.
    pub judge_all_on_update: bool,
}

impl Compiled {
    /// The keys configured for `kind`, if it is configured.
    pub fn keys_for(&self, kind: WorkloadKind) -> Option<&[String]> {
        self.keys
            .iter()
            .find(|(configured, _)| *configured == kind)
            .map(|(_, keys)| keys.as_slice())
    }
}

fn kind_names() -> String {
    TEMPLATE_KINDS
        .iter()
        .map(|kind| kind.kind())
        .collect::<Vec<_>>()
        .join(", ")
}

fn compile_keys(
    keys: Option<BTreeMap<String, Vec<String>>>,
) -> Result<Vec<(WorkloadKind, Vec<String>)>, String> {
    let Some(keys) = keys else {
        return Ok(vec![(
            WorkloadKind::Deployment,
            vec![POD_TEMPLATE_HASH.to_string()],
        )]);
    };
    let mut compiled = Vec::new();
    for (name, label_keys) in keys {
        let Some(kind) = TEMPLATE_KINDS.into_iter().find(|kind| kind.kind() == name) else {
            let hint = if name == "Pod" {
                " (Pods are not judged: their spread constraints come from templates)"
            } else {
                ""
            };
            return Err(format!(
                "keys: unknown kind {name:?}{hint}; valid kinds are {}",
                kind_names()
            ));
        };
        for (index, key) in label_keys.iter().enumerate() {
            check_label_key(key).map_err(|error| format!("keys.{name}[{index}]: {error}"))?;
            if label_keys[..index].contains(key) {
                return Err(format!("keys.{name}: {key:?} is listed twice"));
            }
        }
        compiled.push((kind, label_keys));
    }
    compiled.sort_by_key(|(kind, _)| TEMPLATE_KINDS.iter().position(|k| k == kind));
    Ok(compiled)
}

impl PolicySettings for Settings {
    type Compiled = Compiled;

    fn exempt_namespaces(&self) -> &[String] {
        &self.exempt_namespaces
    }

    fn compile(self) -> Result<Compiled, String> {
        validate_namespaces("exemptNamespaces", &self.exempt_namespaces)?;
        Ok(Compiled {
            keys: compile_keys(self.keys)?,
            mutate: self.mode == Mode::Mutate,
            judge_all_on_update: self.on_update == OnUpdate::All,
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
    fn the_default_is_pod_template_hash_for_deployments() {
        let compiled = compile(json!({})).unwrap();
        assert_eq!(
            compiled.keys_for(WorkloadKind::Deployment),
            Some(&["pod-template-hash".to_string()][..])
        );
        assert_eq!(compiled.keys_for(WorkloadKind::StatefulSet), None);
        assert!(compiled.mutate);
        assert!(!compiled.judge_all_on_update);
    }

    #[test]
    fn a_given_map_replaces_the_default() {
        let compiled = compile(json!({
            "keys": {"StatefulSet": ["controller-revision-hash"], "CronJob": []},
            "mode": "validate",
            "onUpdate": "all"
        }))
        .unwrap();
        assert_eq!(compiled.keys_for(WorkloadKind::Deployment), None);
        assert_eq!(compiled.keys_for(WorkloadKind::CronJob), Some(&[][..]));
        assert_eq!(compiled.keys[0].0, WorkloadKind::StatefulSet);
        assert!(!compiled.mutate);
        assert!(compiled.judge_all_on_update);
    }

    #[test]
    fn refuses_invalid_settings_naming_the_field() {
        let cases = [
            (
                json!({"keys": {"Pod": ["a"]}}),
                "keys: unknown kind \"Pod\" (Pods are not judged",
            ),
            (
                json!({"keys": {"deployment": ["a"]}}),
                "keys: unknown kind \"deployment\"; valid kinds are Deployment, ReplicaSet, StatefulSet, DaemonSet, Job, CronJob, ReplicationController",
            ),
            (
                json!({"keys": {"Deployment": ["bad key"]}}),
                "keys.Deployment[0]: \"bad key\" is not a valid label key",
            ),
            (
                json!({"keys": {"Deployment": ["a", "a"]}}),
                "keys.Deployment: \"a\" is listed twice",
            ),
            (
                json!({"mode": "enforce"}),
                "unknown variant `enforce`, expected `mutate` or `validate`",
            ),
            (
                json!({"onUpdate": "always"}),
                "unknown variant `always`, expected `changed` or `all`",
            ),
            (
                json!({"exemptNamespaces": ["A"]}),
                "exemptNamespaces: \"A\" is not a valid namespace name",
            ),
            (json!({"key": {}}), "unknown field `key`"),
        ];
        for (settings, expected) in cases {
            let error = compile(settings.clone()).unwrap_err();
            assert!(error.contains(expected), "{settings}: {error}");
        }
    }
}
