//! The rules: every topology spread constraint of a configured kind's pod template that has a
//! `labelSelector` must list the configured revision keys in `matchLabelKeys`; malformed
//! `matchLabelKeys` are refused whatever the apiserver version.

use crate::settings::Compiled;
use kepguard_common::podspec::{pod_spec_mut, read_pod_spec};
use kepguard_common::request::AdmissionRequest;
use kepguard_common::{Verdict, WorkloadKind};
use serde::Deserialize;
use serde_json::value::RawValue;
use serde_json::{Value, json};
use std::collections::BTreeMap;

#[derive(Deserialize, Debug, Default)]
#[serde(default, rename_all = "camelCase")]
struct SpreadView {
    topology_spread_constraints: Option<Vec<ConstraintView>>,
}

#[derive(Deserialize, Debug, Default)]
#[serde(default, rename_all = "camelCase")]
struct ConstraintView {
    topology_key: Option<String>,
    label_selector: Option<SelectorView>,
    match_label_keys: Option<Vec<String>>,
}

#[derive(Deserialize, Debug, Default)]
#[serde(default, rename_all = "camelCase")]
struct SelectorView {
    match_labels: Option<BTreeMap<String, String>>,
    match_expressions: Option<Vec<ExpressionView>>,
}

#[derive(Deserialize, Debug, Default)]
#[serde(default)]
struct ExpressionView {
    key: String,
}

impl SelectorView {
    fn uses(&self, key: &str) -> bool {
        self.match_labels
            .as_ref()
            .is_some_and(|labels| labels.contains_key(key))
            || self
                .match_expressions
                .iter()
                .flatten()
                .any(|expression| expression.key == key)
    }
}

/// The constraints as plain JSON, to tell which ones an UPDATE adds or changes.
#[derive(Deserialize, Debug, Default)]
#[serde(default, rename_all = "camelCase")]
struct RawSpreadView {
    topology_spread_constraints: Option<Vec<Value>>,
}

fn raw_constraints(kind: WorkloadKind, object: &RawValue) -> Option<Vec<Value>> {
    read_pod_spec::<RawSpreadView>(kind, object)
        .ok()
        .map(|view| view.topology_spread_constraints.unwrap_or_default())
}

/// For each constraint of the object, whether the old object has the same one at its index.
/// When either cannot be read, none counts as unchanged.
fn unchanged_constraints(kind: WorkloadKind, request: &AdmissionRequest) -> Vec<bool> {
    match (
        raw_constraints(kind, &request.old_object),
        raw_constraints(kind, &request.object),
    ) {
        (Some(old), Some(new)) => new
            .iter()
            .enumerate()
            .map(|(index, constraint)| old.get(index) == Some(constraint))
            .collect(),
        _ => Vec::new(),
    }
}

pub fn evaluate(request: &AdmissionRequest, settings: &Compiled) -> Verdict {
    let Some(kind) = WorkloadKind::of_request(request) else {
        return Verdict::accept();
    };
    let Some(keys) = settings.keys_for(kind) else {
        return Verdict::accept();
    };
    if !request.sub_resource.is_empty() {
        return Verdict::accept();
    }
    let is_update = match request.operation.as_str() {
        "CREATE" => false,
        "UPDATE" => true,
        _ => return Verdict::accept(),
    };
    let constraints = match read_pod_spec::<SpreadView>(kind, &request.object) {
        Ok(view) => view.topology_spread_constraints.unwrap_or_default(),
        Err(error) => return kind.invalid(&error),
    };
    if constraints.is_empty() {
        return Verdict::accept();
    }
    // At UPDATE, constraints are paired with the old object's by index; unchanged ones are
    // left alone, since adding a key to an unchanged template would start a rollout.
    let unchanged = if is_update && !settings.judge_all_on_update {
        unchanged_constraints(kind, request)
    } else {
        Vec::new()
    };

    let path = kind.pod_spec_path();
    let mut refusals = Vec::new();
    let mut warnings = Vec::new();
    let mut additions = Vec::new();
    for (index, constraint) in constraints.iter().enumerate() {
        if unchanged.get(index).copied().unwrap_or(false) {
            continue;
        }
        let at = format!(
            "{path}.topologySpreadConstraints[{index}] (topologyKey {:?})",
            constraint.topology_key.as_deref().unwrap_or("")
        );
        let listed = constraint.match_label_keys.as_deref().unwrap_or_default();
        refusals.extend(malformed_keys(
            &at,
            listed,
            constraint.label_selector.as_ref(),
        ));
        let Some(selector) = &constraint.label_selector else {
            if listed.is_empty() && !keys.is_empty() {
                warnings.push(format!(
                    "{at} has no labelSelector: left alone, since matchLabelKeys needs one"
                ));
            }
            continue;
        };
        let mut missing = Vec::new();
        for key in keys {
            if listed.contains(key) {
                continue;
            }
            if selector.uses(key) {
                warnings.push(format!(
                    "{at}: labelSelector already uses {key:?}, so it is not added to matchLabelKeys (the apiserver refuses a key in both)"
                ));
            } else {
                missing.push(key.as_str());
            }
        }
        if !missing.is_empty() {
            additions.push(Addition { index, at, missing });
        }
    }
    if !refusals.is_empty() {
        return Verdict::reject(refusals.join("; "));
    }
    if additions.is_empty() {
        return Verdict::Accept { warnings };
    }
    if !settings.mutate {
        let violations = additions
            .iter()
            .map(|addition| {
                format!(
                    "{} lacks matchLabelKeys [{}]: without them, spreading counts the pods of the old and the new revision together during a rollout; add them after the existing keys",
                    addition.at,
                    addition.missing.join(", ")
                )
            })
            .collect();
        return Verdict::from_violations(violations);
    }
    mutate(kind, &request.object, &additions, warnings)
}

/// What the apiserver refuses in some versions and not in others: this policy refuses it in all.
fn malformed_keys(at: &str, listed: &[String], selector: Option<&SelectorView>) -> Vec<String> {
    let mut refusals = Vec::new();
    if listed.is_empty() {
        return refusals;
    }
    match selector {
        None => refusals.push(format!(
            "{at}: matchLabelKeys [{}] is set without a labelSelector, which the apiserver refuses: add a labelSelector or remove matchLabelKeys",
            listed.join(", ")
        )),
        Some(selector) => {
            for key in listed.iter().filter(|key| selector.uses(key)) {
                refusals.push(format!(
                    "{at}: label key {key:?} is in both matchLabelKeys and labelSelector: remove it from one of them (the apiserver refuses this in the template, or in the Pods created from it, depending on its version)"
                ));
            }
        }
    }
    for (index, key) in listed.iter().enumerate() {
        if listed[..index].contains(key) {
            refusals.push(format!(
                "{at}: label key {key:?} is listed twice in matchLabelKeys: list it once (an apiserver that merges matchLabelKeys into labelSelector, 1.34 and later, refuses the Pods created from it)"
            ));
        }
    }
    refusals
}

/// Keys to append to one constraint's `matchLabelKeys`.
struct Addition<'k> {
    index: usize,
    /// The constraint, as messages name it.
    at: String,
    missing: Vec<&'k str>,
}

/// Appends the missing keys to `matchLabelKeys` in the incoming JSON, after the existing ones,
/// so that every other field survives untouched.
fn mutate(
    kind: WorkloadKind,
    raw: &RawValue,
    additions: &[Addition],
    mut warnings: Vec<String>,
) -> Verdict {
    let mut object: Value = match serde_json::from_str(raw.get()) {
        Ok(object) => object,
        Err(error) => return kind.invalid(&error.to_string()),
    };
    let Some(spec) = pod_spec_mut(kind, &mut object) else {
        return Verdict::Accept { warnings };
    };
    for addition in additions {
        // The constraint was read as an object: it is one.
        let Some(constraint) = spec
            .pointer_mut(&format!("/topologySpreadConstraints/{}", addition.index))
            .and_then(Value::as_object_mut)
        else {
            continue;
        };
        let listed = constraint
            .entry("matchLabelKeys")
            .or_insert_with(|| json!([]));
        if !listed.is_array() {
            *listed = json!([]);
        }
        if let Some(listed) = listed.as_array_mut() {
            listed.extend(addition.missing.iter().map(|key| json!(key)));
        }
        warnings.push(format!(
            "{}: added matchLabelKeys [{}], so that spreading counts only the pods of the same revision",
            addition.at,
            addition.missing.join(", ")
        ));
    }
    Verdict::Mutate { object, warnings }
}
