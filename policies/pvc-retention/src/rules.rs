//! The rules: the first settings rule that matches a StatefulSet says which
//! `persistentVolumeClaimRetentionPolicy` values it may have.

use crate::settings::{Compiled, Field, Retention, Rule, SetWhenUnset};
use kepguard_common::labels::labels_match;
use kepguard_common::request::AdmissionRequest;
use kepguard_common::view::read_view;
use kepguard_common::{Verdict, WorkloadKind};
use serde::Deserialize;
use serde::de::IgnoredAny;
use serde_json::value::RawValue;
use serde_json::{Map, Value, json};
use std::collections::BTreeMap;

const POLICY_PATH: &str = "spec.persistentVolumeClaimRetentionPolicy";

/// The fields of a StatefulSet the rules read.
#[derive(Deserialize, Debug, Default)]
#[serde(default)]
struct StatefulSetView {
    metadata: MetadataView,
    spec: SpecView,
}

#[derive(Deserialize, Debug, Default)]
#[serde(default)]
struct MetadataView {
    name: Option<String>,
    namespace: Option<String>,
    labels: Option<BTreeMap<String, String>>,
}

#[derive(Deserialize, Debug, Default)]
#[serde(default, rename_all = "camelCase")]
struct SpecView {
    volume_claim_templates: Option<Vec<IgnoredAny>>,
    persistent_volume_claim_retention_policy: Option<PolicyView>,
}

#[derive(Deserialize, Debug, Default, Clone)]
#[serde(default, rename_all = "camelCase")]
struct PolicyView {
    when_deleted: Option<String>,
    when_scaled: Option<String>,
}

impl PolicyView {
    fn get(&self, field: Field) -> Option<&str> {
        match field {
            Field::WhenDeleted => self.when_deleted.as_deref(),
            Field::WhenScaled => self.when_scaled.as_deref(),
        }
    }
}

/// The value the StatefulSet controller acts on, and whether it was left unset. The apiserver
/// defaults a missing policy, and each empty field of it, to `Retain`.
fn effective(policy: Option<&PolicyView>, field: Field) -> (&str, bool) {
    match policy.and_then(|policy| policy.get(field)) {
        None | Some("") => (Retention::Retain.as_str(), true),
        Some(value) => (value, false),
    }
}

pub fn evaluate(request: &AdmissionRequest, settings: &Compiled) -> Verdict {
    let kind = WorkloadKind::StatefulSet;
    if request.kind.group != kind.group()
        || request.kind.kind != kind.kind()
        || !request.sub_resource.is_empty()
    {
        return Verdict::accept();
    }
    let is_update = match request.operation.as_str() {
        "CREATE" => false,
        "UPDATE" => true,
        _ => return Verdict::accept(),
    };
    let object: StatefulSetView = match read_view(&request.object, "") {
        Ok(object) => object,
        Err(error) => return kind.invalid(&error),
    };
    // Without volumeClaimTemplates there are no claims to delete.
    if object
        .spec
        .volume_claim_templates
        .as_ref()
        .is_none_or(Vec::is_empty)
    {
        return Verdict::accept();
    }
    let namespace = match (&request.namespace, &object.metadata.namespace) {
        (namespace, _) if !namespace.is_empty() => namespace.as_str(),
        (_, Some(namespace)) => namespace.as_str(),
        _ => "",
    };
    let no_labels = BTreeMap::new();
    let labels = object.metadata.labels.as_ref().unwrap_or(&no_labels);

    let set = match (
        settings.set_when_unset,
        &object.spec.persistent_volume_claim_retention_policy,
    ) {
        (Some(set), None) => Some(set),
        _ => None,
    };
    let policy = match set {
        Some(set) => Some(PolicyView {
            when_deleted: set.when_deleted.map(|value| value.as_str().to_string()),
            when_scaled: set.when_scaled.map(|value| value.as_str().to_string()),
        }),
        None => object.spec.persistent_volume_claim_retention_policy.clone(),
    };

    let mut violations = Vec::new();
    let mut warnings = Vec::new();
    if let Some(rule) = settings
        .rules
        .iter()
        .find(|rule| rule_matches(rule, namespace, labels))
    {
        // An UPDATE may keep a value the rules no longer allow: existing StatefulSets keep working.
        let old = is_update
            .then(|| old_statefulset(&request.old_object))
            .flatten();
        for field in Field::ALL {
            let Some(allowed) = rule.allowed(field) else {
                continue;
            };
            let (value, unset) = effective(policy.as_ref(), field);
            if allowed.iter().any(|candidate| candidate.as_str() == value) {
                continue;
            }
            let origin = if set.and_then(|set| set.get(field)).is_some() {
                " (set by setWhenUnset)"
            } else if unset {
                " (unset: the apiserver defaults it to Retain)"
            } else {
                ""
            };
            let description = format!(
                "{POLICY_PATH}.{} {value:?}{origin} is not allowed in namespace {namespace:?} by rule {}: use one of {}{}",
                field.name(),
                rule.label,
                allowed
                    .iter()
                    .map(|value| value.as_str())
                    .collect::<Vec<_>>()
                    .join(", "),
                consequence(field, value),
            );
            let unchanged = old.as_ref().is_some_and(|old| {
                effective(
                    old.spec.persistent_volume_claim_retention_policy.as_ref(),
                    field,
                )
                .0 == value
            });
            if unchanged {
                warnings.push(format!(
                    "{description}; accepted because it is unchanged from the existing StatefulSet"
                ));
            } else {
                violations.push(description);
            }
        }
    }
    if !violations.is_empty() {
        let name = object.metadata.name.as_deref().unwrap_or("");
        return Verdict::reject(format!("StatefulSet {name:?}: {}", violations.join("; ")));
    }
    match set {
        Some(set) => mutate(&request.object, set, warnings),
        None => Verdict::Accept { warnings },
    }
}

fn rule_matches(rule: &Rule, namespace: &str, labels: &BTreeMap<String, String>) -> bool {
    rule.namespaces
        .iter()
        .any(|pattern| pattern.matches(namespace))
        && labels_match(&rule.match_labels, labels)
}

/// The old object of an UPDATE. When it is missing or cannot be read, every value is judged
/// as a change.
fn old_statefulset(old_object: &RawValue) -> Option<StatefulSetView> {
    if old_object.get() == "null" {
        return None;
    }
    read_view(old_object, "").ok()
}

/// What a value does, for the rejection message.
fn consequence(field: Field, value: &str) -> &'static str {
    match (field, value) {
        (Field::WhenDeleted, "Delete") => {
            " (Delete removes the PersistentVolumeClaims of the volumeClaimTemplates, and their data, when the StatefulSet is deleted)"
        }
        (Field::WhenScaled, "Delete") => {
            " (Delete removes the PersistentVolumeClaims of the pods a scale-down removes, and their data)"
        }
        _ => "",
    }
}

/// Sets the retention policy the request lacks, in the incoming JSON, so that every other
/// field survives untouched.
fn mutate(raw: &RawValue, set: SetWhenUnset, warnings: Vec<String>) -> Verdict {
    let mut object: Value = match serde_json::from_str(raw.get()) {
        Ok(object) => object,
        Err(error) => return WorkloadKind::StatefulSet.invalid(&error.to_string()),
    };
    let mut policy = Map::new();
    let mut written = Vec::new();
    for field in Field::ALL {
        if let Some(value) = set.get(field) {
            policy.insert(field.name().to_string(), json!(value.as_str()));
            written.push(format!("{}: {value}", field.name()));
        }
    }
    // `spec` was read as an object (it holds volumeClaimTemplates).
    let Some(spec) = object.get_mut("spec").and_then(Value::as_object_mut) else {
        return Verdict::Accept { warnings };
    };
    spec.insert(
        "persistentVolumeClaimRetentionPolicy".to_string(),
        Value::Object(policy),
    );
    let mut warnings = warnings;
    warnings.push(format!(
        "{POLICY_PATH} was not set: set {} (setWhenUnset)",
        written.join(", ")
    ));
    Verdict::Mutate { object, warnings }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::settings::Settings;
    use kepguard_common::PolicySettings;

    fn run(settings: Value, operation: &str, object: Value, old: Value) -> Verdict {
        let compiled = serde_json::from_value::<Settings>(settings)
            .unwrap()
            .compile()
            .unwrap();
        let request: AdmissionRequest = serde_json::from_value(json!({
            "kind": {"group": "apps", "version": "v1", "kind": "StatefulSet"},
            "namespace": "prod-eu",
            "operation": operation,
            "object": object,
            "oldObject": old,
        }))
        .unwrap();
        evaluate(&request, &compiled)
    }

    fn statefulset(policy: Value) -> Value {
        let mut object = json!({
            "metadata": {"name": "db", "labels": {"tier": "db"}},
            "spec": {"volumeClaimTemplates": [{"metadata": {"name": "data"}}]}
        });
        if !policy.is_null() {
            object["spec"]["persistentVolumeClaimRetentionPolicy"] = policy;
        }
        object
    }

    fn production() -> Value {
        json!({"rules": [{"name": "production", "namespaces": ["prod-*"], "whenDeleted": ["Retain"], "whenScaled": ["Retain"]}]})
    }

    #[test]
    fn empty_fields_count_as_retain() {
        let verdict = run(
            production(),
            "CREATE",
            statefulset(json!({"whenDeleted": "", "whenScaled": null})),
            Value::Null,
        );
        assert_eq!(verdict, Verdict::accept());
    }

    #[test]
    fn unset_fields_named_as_defaulted() {
        let settings = json!({"rules": [{"namespaces": ["*"], "whenScaled": ["Delete"]}]});
        let Verdict::Reject { message } =
            run(settings, "CREATE", statefulset(Value::Null), Value::Null)
        else {
            panic!("rejected")
        };
        assert_eq!(
            message,
            "StatefulSet \"db\": spec.persistentVolumeClaimRetentionPolicy.whenScaled \"Retain\" (unset: the apiserver defaults it to Retain) is not allowed in namespace \"prod-eu\" by rule rules[0]: use one of Delete"
        );
    }

    #[test]
    fn a_changed_value_is_rejected_and_an_unchanged_one_warned_about() {
        let old = statefulset(json!({"whenDeleted": "Delete", "whenScaled": "Retain"}));
        let new = statefulset(json!({"whenDeleted": "Delete", "whenScaled": "Delete"}));
        let Verdict::Reject { message } = run(production(), "UPDATE", new, old.clone()) else {
            panic!("rejected")
        };
        assert!(message.contains("whenScaled \"Delete\""), "{message}");
        assert!(!message.contains("whenDeleted"), "{message}");
        let Verdict::Accept { warnings } = run(production(), "UPDATE", old.clone(), old) else {
            panic!("accepted")
        };
        assert_eq!(warnings.len(), 1);
        assert!(
            warnings[0].ends_with("accepted because it is unchanged from the existing StatefulSet")
        );
    }

    #[test]
    fn an_update_without_a_readable_old_object_is_judged_as_a_change() {
        let new = statefulset(json!({"whenDeleted": "Delete"}));
        for old in [Value::Null, json!({"spec": 3})] {
            let verdict = run(production(), "UPDATE", new.clone(), old);
            assert!(matches!(verdict, Verdict::Reject { .. }), "{verdict:?}");
        }
    }

    #[test]
    fn labels_must_match() {
        let settings = json!({"rules": [{"namespaces": ["*"], "matchLabels": {"tier": "web"}, "whenDeleted": ["Retain"]}]});
        let verdict = run(
            settings,
            "CREATE",
            statefulset(json!({"whenDeleted": "Delete"})),
            Value::Null,
        );
        assert_eq!(verdict, Verdict::accept());
    }
}
