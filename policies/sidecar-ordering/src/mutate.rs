//! The mutating mode: moves known sidecars into `initContainers` and rewrites their order,
//! patching the incoming JSON so that fields this policy does not know survive untouched.

use crate::view::{InitRole, PodSpecView, Roles};
use kepguard_common::podspec::{self, WorkloadKind};
use serde_json::value::RawValue;
use serde_json::{Map, Value};

/// `object` with its known sidecars moved and its init containers reordered, as `roles`
/// call for. Check [`blockers`] first.
pub fn fix(kind: WorkloadKind, object: &RawValue, roles: &Roles) -> Result<Value, String> {
    podspec::patch_pod_spec(kind, object, |spec| apply(spec, &plan(roles)))
}

/// Where an entry of the rewritten `initContainers` comes from.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Source {
    Init(usize),
    /// An app container, moved and made a native sidecar.
    Container(usize),
}

/// The rewritten `initContainers`: setup containers in their relative order; then matched
/// sidecars in the order of the `sidecars` list, where two of the same matcher keep their
/// relative order, existing init containers before moved ones; then every other init
/// container in its relative order.
pub fn plan(roles: &Roles) -> Vec<Source> {
    let setup = roles
        .init
        .iter()
        .enumerate()
        .filter(|(_, role)| **role == InitRole::Setup)
        .map(|(index, _)| Source::Init(index));
    let mut sidecars: Vec<(usize, Source)> = roles
        .init
        .iter()
        .enumerate()
        .filter_map(|(index, role)| match role {
            InitRole::Sidecar(matcher) => Some((*matcher, Source::Init(index))),
            _ => None,
        })
        .chain(
            roles
                .containers
                .iter()
                .enumerate()
                .filter_map(|(index, matched)| Some((((*matched)?), Source::Container(index)))),
        )
        .collect();
    // Stable: within one matcher, existing before moved, each in its original order.
    sidecars.sort_by_key(|(matcher, _)| *matcher);
    let others = roles
        .init
        .iter()
        .enumerate()
        .filter(|(_, role)| matches!(role, InitRole::OtherSidecar | InitRole::Ordinary))
        .map(|(index, _)| Source::Init(index));
    setup
        .chain(sidecars.into_iter().map(|(_, source)| source))
        .chain(others)
        .collect()
}

/// Why the known sidecars in `spec.containers` cannot be moved, if they cannot.
pub fn blockers(kind: WorkloadKind, spec: &PodSpecView, roles: &Roles) -> Vec<String> {
    let at = kind.pod_spec_path();
    let moved: Vec<_> = spec
        .containers()
        .iter()
        .zip(&roles.containers)
        .filter(|(_, matched)| matched.is_some())
        .map(|(container, _)| container)
        .collect();
    let mut blockers: Vec<String> = moved
        .iter()
        .filter(|container| container.sets_restart_behaviour())
        .map(|container| {
            format!(
                "container {:?} in {at}.containers is a known sidecar but sets its own restartPolicy or restartPolicyRules, so it cannot be made a native sidecar: remove them, or declare it in initContainers with restartPolicy: Always",
                container.name
            )
        })
        .collect();
    if !moved.is_empty() && moved.len() == spec.containers().len() {
        let names: Vec<String> = moved.iter().map(|c| format!("{:?}", c.name)).collect();
        blockers.push(format!(
            "moving the known sidecar{} {} to initContainers would leave {at}.containers empty: a pod needs an app container",
            if names.len() == 1 { "" } else { "s" },
            names.join(", ")
        ));
    }
    blockers
}

/// Rewrites `initContainers` as `plan` says and removes the moved containers from
/// `containers`, giving each moved container `restartPolicy: Always`.
pub fn apply(spec: &mut Value, plan: &[Source]) -> Result<(), String> {
    let spec = spec
        .as_object_mut()
        .ok_or("the pod spec is not an object")?;
    let init = list(spec, "initContainers");
    let containers = list(spec, "containers");
    let mut new_init = Vec::with_capacity(plan.len());
    let mut moved = vec![false; containers.len()];
    for source in plan {
        let container = match *source {
            Source::Init(index) => init.get(index).cloned(),
            Source::Container(index) => containers.get(index).cloned().map(|mut container| {
                if let Some(slot) = moved.get_mut(index) {
                    *slot = true;
                }
                if let Some(fields) = container.as_object_mut() {
                    fields.insert("restartPolicy".into(), Value::String("Always".into()));
                }
                container
            }),
        };
        new_init.push(container.ok_or("the pod spec has no container at a planned position")?);
    }
    let remaining: Vec<Value> = containers
        .into_iter()
        .zip(moved)
        .filter(|(_, moved)| !moved)
        .map(|(container, _)| container)
        .collect();
    spec.insert("initContainers".into(), Value::Array(new_init));
    spec.insert("containers".into(), Value::Array(remaining));
    Ok(())
}

/// A list field of the pod spec; missing or `null` is empty.
fn list(spec: &Map<String, Value>, key: &str) -> Vec<Value> {
    match spec.get(key) {
        Some(Value::Array(items)) => items.clone(),
        _ => Vec::new(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn plans() {
        let cases = [
            (
                "setup, then sidecars by list, then the rest",
                Roles {
                    init: vec![
                        InitRole::Ordinary,     // 0 migrate
                        InitRole::Sidecar(2),   // 1 vault
                        InitRole::Setup,        // 2 istio-init
                        InitRole::OtherSidecar, // 3 unmatched sidecar
                        InitRole::Sidecar(0),   // 4 istio-proxy
                        InitRole::Setup,        // 5 linkerd-init
                        InitRole::Sidecar(2),   // 6 second vault
                    ],
                    containers: vec![None, Some(2), Some(0), None, Some(1)],
                },
                vec![
                    Source::Init(2),
                    Source::Init(5),
                    Source::Init(4),
                    Source::Container(2),
                    Source::Container(4),
                    Source::Init(1),
                    Source::Init(6),
                    Source::Container(1),
                    Source::Init(0),
                    Source::Init(3),
                ],
            ),
            (
                "a right order is kept",
                Roles {
                    init: vec![
                        InitRole::Setup,
                        InitRole::Sidecar(0),
                        InitRole::Sidecar(1),
                        InitRole::Ordinary,
                    ],
                    containers: vec![None],
                },
                vec![
                    Source::Init(0),
                    Source::Init(1),
                    Source::Init(2),
                    Source::Init(3),
                ],
            ),
        ];
        for (name, roles, expected) in cases {
            assert_eq!(plan(&roles), expected, "{name}");
        }
    }

    #[test]
    fn applying_a_plan() {
        let cases = [
            (
                "moves and reorders, keeping every field",
                json!({
                    "initContainers": [{"name": "migrate", "x-field": {"a": [1, 2.5, "b"]}}],
                    "containers": [
                        {"name": "app"},
                        {"name": "proxy", "resizePolicy": [{"resourceName": "cpu", "restartPolicy": "NotRequired"}]}
                    ],
                    "terminationGracePeriodSeconds": 45
                }),
                vec![Source::Container(1), Source::Init(0)],
                Ok(json!({
                    "initContainers": [
                        {"name": "proxy", "restartPolicy": "Always",
                         "resizePolicy": [{"resourceName": "cpu", "restartPolicy": "NotRequired"}]},
                        {"name": "migrate", "x-field": {"a": [1, 2.5, "b"]}}
                    ],
                    "containers": [{"name": "app"}],
                    "terminationGracePeriodSeconds": 45
                })),
            ),
            (
                "creates initContainers when missing",
                json!({"containers": [{"name": "app"}, {"name": "proxy"}]}),
                vec![Source::Container(1)],
                Ok(json!({
                    "initContainers": [{"name": "proxy", "restartPolicy": "Always"}],
                    "containers": [{"name": "app"}]
                })),
            ),
            (
                "a planned container that is not there",
                json!({"containers": []}),
                vec![Source::Init(3)],
                Err("the pod spec has no container at a planned position"),
            ),
            (
                "a pod spec that is not an object",
                json!([]),
                vec![],
                Err("the pod spec is not an object"),
            ),
        ];
        for (name, mut spec, plan, expected) in cases {
            let outcome = apply(&mut spec, &plan).map(|()| spec);
            assert_eq!(outcome, expected.map_err(String::from), "{name}");
        }
    }
}
