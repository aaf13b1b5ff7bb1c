//! The rules, as plain functions over the pod spec, and `evaluate`, which applies them and,
//! in the mutating mode, fixes with `mutate` what rules 1 and 2 would reject.

use crate::mutate;
use crate::settings::CompiledSettings;
use crate::view::{InitRole, PodSpecView, Roles};
use kepguard_common::podspec::{self, WorkloadKind};
use kepguard_common::{AdmissionRequest, Verdict};
use serde_json::value::{RawValue, to_raw_value};

/// What the apiserver defaults an unset `terminationGracePeriodSeconds` to, in Pods and
/// templates alike.
pub const DEFAULT_TERMINATION_GRACE_PERIOD_SECONDS: i64 = 30;

/// Rule 1: a container in `spec.containers` that matches `sidecars` must be a native sidecar.
pub fn legacy_sidecar_violations(
    kind: WorkloadKind,
    spec: &PodSpecView,
    roles: &Roles,
) -> Vec<String> {
    let consequence = if kind.runs_to_completion() {
        "or the Job never completes"
    } else {
        "so that it starts before the init containers and stops after the app containers"
    };
    spec.containers()
        .iter()
        .zip(&roles.containers)
        .enumerate()
        .filter(|(_, (_, matched))| matched.is_some())
        .map(|(index, (container, _))| {
            format!(
                "container {:?} (image {}) is a known sidecar in spec.containers of a {}: declare it in initContainers with restartPolicy: Always, {consequence} (it is at {}.containers[{index}])",
                container.name,
                container.image_text(),
                kind.kind(),
                kind.pod_spec_path(),
            )
        })
        .collect()
}

/// Rule 2: ordinary init containers come after the matched sidecars (with `sidecars_first`),
/// and matched sidecars follow the order of the `sidecars` list.
pub fn order_violations(
    kind: WorkloadKind,
    spec: &PodSpecView,
    roles: &Roles,
    sidecars_first: bool,
) -> Vec<String> {
    let init = spec.init_containers();
    let at = |index: usize| format!("{}.initContainers[{index}]", kind.pod_spec_path());
    let names = |indexes: &[usize]| {
        indexes
            .iter()
            .filter_map(|&i| init.get(i))
            .map(|container| format!("{:?}", container.name))
            .collect::<Vec<_>>()
            .join(", ")
    };
    let mut violations = Vec::new();
    for (index, role) in roles.init.iter().enumerate() {
        let InitRole::Sidecar(matcher) = *role else {
            continue;
        };
        let Some(sidecar) = init.get(index) else {
            continue;
        };
        let earlier = &roles.init[..index];
        let ordinary: Vec<usize> = (0..index)
            .filter(|&i| earlier[i] == InitRole::Ordinary)
            .collect();
        if sidecars_first && !ordinary.is_empty() {
            violations.push(format!(
                "native sidecar {:?} ({}) must precede init container{} {}, which otherwise start{} without it: move it up (only setupContainers may come before the sidecars)",
                sidecar.name,
                at(index),
                if ordinary.len() == 1 { "" } else { "s" },
                names(&ordinary),
                if ordinary.len() == 1 { "s" } else { "" },
            ));
        }
        let later_in_list: Vec<usize> = (0..index)
            .filter(|&i| matches!(earlier[i], InitRole::Sidecar(other) if other > matcher))
            .collect();
        if !later_in_list.is_empty() {
            violations.push(format!(
                "native sidecar {:?} ({}, matched by sidecars[{matcher}]) must precede native sidecar{} {}: sidecars start in the order of the sidecars list",
                sidecar.name,
                at(index),
                if later_in_list.len() == 1 { "" } else { "s" },
                names(&later_in_list),
            ));
        }
    }
    violations
}

/// Rule 3: a matched native sidecar followed by another init container needs a startupProbe,
/// or the next container starts as soon as the sidecar runs, before it is ready.
pub fn startup_probe_violations(
    kind: WorkloadKind,
    spec: &PodSpecView,
    roles: &Roles,
) -> Vec<String> {
    let init = spec.init_containers();
    roles
        .init
        .iter()
        .enumerate()
        .filter(|(_, role)| matches!(role, InitRole::Sidecar(_)))
        .filter_map(|(index, _)| Some((init.get(index)?, init.get(index + 1)?)))
        .filter(|(sidecar, _)| sidecar.startup_probe.is_none())
        .map(|(sidecar, next)| {
            format!(
                "native sidecar {:?} in {}.initContainers has no startupProbe, so init container {:?} after it may start before it is ready: add a startupProbe to {:?}",
                sidecar.name,
                kind.pod_spec_path(),
                next.name,
                sidecar.name,
            )
        })
        .collect()
}

/// Rule 4: a pod spec with native sidecars needs time to stop them after the app containers.
pub fn grace_period_violation(
    kind: WorkloadKind,
    spec: &PodSpecView,
    minimum: i64,
) -> Option<String> {
    if minimum <= 0 {
        return None;
    }
    let sidecars: Vec<String> = spec
        .init_containers()
        .iter()
        .filter(|container| container.is_native_sidecar())
        .map(|container| format!("{:?}", container.name))
        .collect();
    if sidecars.is_empty() {
        return None;
    }
    let (period, shown) = match spec.termination_grace_period_seconds {
        Some(period) => (period, period.to_string()),
        None => (
            DEFAULT_TERMINATION_GRACE_PERIOD_SECONDS,
            format!("unset (so {DEFAULT_TERMINATION_GRACE_PERIOD_SECONDS})"),
        ),
    };
    (period < minimum).then(|| {
        format!(
            "{}.terminationGracePeriodSeconds is {shown}, but native sidecars ({}) stop only after the app containers exit, within the same grace period: set it to at least {minimum}",
            kind.pod_spec_path(),
            sidecars.join(", "),
        )
    })
}

/// Judges one admission request.
pub fn evaluate(request: &AdmissionRequest, settings: &CompiledSettings) -> Verdict {
    // A Pod's containers cannot be added, removed or reordered after creation.
    podspec::judge_immutable_spec(request, |kind, object| judge(kind, object, settings))
}

/// Validates the pod spec; in the mutating mode, fixes what rules 1 and 2 refuse instead.
fn judge(
    kind: WorkloadKind,
    object: &RawValue,
    settings: &CompiledSettings,
) -> Result<Verdict, String> {
    let spec: PodSpecView = podspec::read_pod_spec(kind, object)?;
    let roles = settings.matchers.classify(&spec);
    let mut violations = structural_violations(kind, &spec, &roles, settings);
    if settings.mutate && !violations.is_empty() {
        return fix_then_validate(kind, object, &spec, &roles, settings);
    }
    violations.extend(gating_violations(kind, &spec, &roles, settings));
    Ok(Verdict::from_violations(violations))
}

/// Fixes rules 1 and 2 by moving and reordering containers; rules 3 and 4 still reject,
/// judged on the fixed spec.
fn fix_then_validate(
    kind: WorkloadKind,
    object: &RawValue,
    spec: &PodSpecView,
    roles: &Roles,
    settings: &CompiledSettings,
) -> Result<Verdict, String> {
    let blockers = mutate::blockers(kind, spec, roles);
    if !blockers.is_empty() {
        return Ok(Verdict::from_violations(blockers));
    }
    let fixed = mutate::fix(kind, object, roles)?;
    let fixed_object = to_raw_value(&fixed).map_err(|error| error.to_string())?;
    let fixed_spec: PodSpecView = podspec::read_pod_spec(kind, &fixed_object)?;
    let fixed_roles = settings.matchers.classify(&fixed_spec);
    let violations = gating_violations(kind, &fixed_spec, &fixed_roles, settings);
    if !violations.is_empty() {
        return Ok(Verdict::from_violations(violations));
    }
    Ok(Verdict::Mutate {
        object: fixed,
        warnings: Vec::new(),
    })
}

/// Rules 1 and 2: what the mutating mode can fix.
fn structural_violations(
    kind: WorkloadKind,
    spec: &PodSpecView,
    roles: &Roles,
    settings: &CompiledSettings,
) -> Vec<String> {
    let mut violations = legacy_sidecar_violations(kind, spec, roles);
    violations.extend(order_violations(kind, spec, roles, settings.sidecars_first));
    violations
}

/// Rules 3 and 4, as the settings turn them on.
fn gating_violations(
    kind: WorkloadKind,
    spec: &PodSpecView,
    roles: &Roles,
    settings: &CompiledSettings,
) -> Vec<String> {
    let mut violations = Vec::new();
    if settings.require_startup_probe {
        violations.extend(startup_probe_violations(kind, spec, roles));
    }
    violations.extend(grace_period_violation(
        kind,
        spec,
        settings.min_termination_grace_period_seconds,
    ));
    violations
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::settings::Settings;
    use kepguard_testing::unit::{compiled, merge, object, request};
    use serde_json::{Value, json};

    fn settings(extra: Value) -> CompiledSettings {
        let example = json!({
            "sidecars": [
                {"name": "istio-proxy", "image": "istio/proxyv2"},
                {"name": "linkerd-proxy"},
                {"name": "vault-agent", "image": "hashicorp/vault"},
                {"image": "cloud-sql-connectors/cloud-sql-proxy"}
            ],
            "setupContainers": [{"name": "istio-init"}, {"name": "linkerd-init"}]
        });
        compiled::<Settings>(merge(example, extra))
    }

    /// A pod spec and the roles the example settings give its containers.
    fn classified(spec: Value) -> (PodSpecView, Roles) {
        let spec: PodSpecView = serde_json::from_value(spec).unwrap();
        let roles = settings(json!({})).matchers.classify(&spec);
        (spec, roles)
    }

    fn proxy() -> Value {
        json!({"name": "istio-proxy", "image": "docker.io/istio/proxyv2:1.22.0", "restartPolicy": "Always"})
    }

    fn other_sidecar() -> Value {
        json!({"name": "other", "image": "envoy", "restartPolicy": "Always"})
    }

    fn init(name: &str) -> Value {
        json!({"name": name, "image": "busybox"})
    }

    #[test]
    fn legacy_sidecars_are_rejected_with_the_consequence_for_the_kind() {
        let (spec, roles) = classified(json!({"containers": [init("app"), proxy()]}));
        let cases = [
            (
                WorkloadKind::Job,
                "container \"istio-proxy\" (image docker.io/istio/proxyv2:1.22.0) is a known sidecar in spec.containers of a Job: declare it in initContainers with restartPolicy: Always, or the Job never completes (it is at spec.template.spec.containers[1])",
            ),
            (
                WorkloadKind::Deployment,
                "container \"istio-proxy\" (image docker.io/istio/proxyv2:1.22.0) is a known sidecar in spec.containers of a Deployment: declare it in initContainers with restartPolicy: Always, so that it starts before the init containers and stops after the app containers (it is at spec.template.spec.containers[1])",
            ),
        ];
        for (kind, expected) in cases {
            assert_eq!(
                legacy_sidecar_violations(kind, &spec, &roles),
                vec![expected],
                "{kind:?}"
            );
        }
    }

    #[test]
    fn init_container_order() {
        let vault = json!({"name": "vault-agent", "image": "hashicorp/vault:1.17", "restartPolicy": "Always"});
        let cases: [(&str, WorkloadKind, Value, bool, Vec<&str>); 6] = [
            (
                "ordinary init containers come after matched sidecars",
                WorkloadKind::Pod,
                json!([init("istio-init"), init("migrate"), init("wait"), proxy()]),
                true,
                vec![
                    "native sidecar \"istio-proxy\" (spec.initContainers[3]) must precede init containers \"migrate\", \"wait\", which otherwise start without it: move it up (only setupContainers may come before the sidecars)",
                ],
            ),
            (
                "without sidecarsFirst they may come before",
                WorkloadKind::Pod,
                json!([init("istio-init"), init("migrate"), init("wait"), proxy()]),
                false,
                vec![],
            ),
            (
                "Istio's layout: setup, sidecar, app init containers",
                WorkloadKind::Pod,
                json!([init("istio-init"), proxy(), init("migrate")]),
                true,
                vec![],
            ),
            (
                "a setup container may also come after the sidecars",
                WorkloadKind::Pod,
                json!([proxy(), init("istio-init")]),
                true,
                vec![],
            ),
            (
                "matched sidecars follow the list order, others are free",
                WorkloadKind::Deployment,
                json!([vault, other_sidecar(), proxy(), init("migrate")]),
                false,
                vec![
                    "native sidecar \"istio-proxy\" (spec.template.spec.initContainers[2], matched by sidecars[0]) must precede native sidecar \"vault-agent\": sidecars start in the order of the sidecars list",
                ],
            ),
            (
                "an ordinary init container before an unmatched sidecar",
                WorkloadKind::Pod,
                json!([init("migrate"), other_sidecar()]),
                true,
                vec![],
            ),
        ];
        for (name, kind, init_containers, sidecars_first, expected) in cases {
            let (spec, roles) = classified(json!({"initContainers": init_containers}));
            assert_eq!(
                order_violations(kind, &spec, &roles, sidecars_first),
                expected,
                "{name}"
            );
        }
    }

    #[test]
    fn sidecars_followed_by_init_containers_need_a_startup_probe() {
        let mut probed = proxy();
        probed["startupProbe"] = json!({"tcpSocket": {"port": 15021}});
        let cases: [(&str, Value, Vec<&str>); 3] = [
            (
                "no probe",
                json!([proxy(), init("migrate")]),
                vec![
                    "native sidecar \"istio-proxy\" in spec.initContainers has no startupProbe, so init container \"migrate\" after it may start before it is ready: add a startupProbe to \"istio-proxy\"",
                ],
            ),
            ("a probe", json!([probed, init("migrate")]), vec![]),
            (
                "the last init container gates nothing, unmatched sidecars are not judged",
                json!([other_sidecar(), proxy()]),
                vec![],
            ),
        ];
        for (name, init_containers, expected) in cases {
            let (spec, roles) = classified(json!({"initContainers": init_containers}));
            assert_eq!(
                startup_probe_violations(WorkloadKind::Pod, &spec, &roles),
                expected,
                "{name}"
            );
        }
    }

    #[test]
    fn grace_period_counts_any_native_sidecar_and_defaults_to_30() {
        let unset = json!({"initContainers": [other_sidecar()]});
        let short = json!({"initContainers": [proxy()], "terminationGracePeriodSeconds": 10});
        let no_sidecar =
            json!({"initContainers": [init("migrate")], "terminationGracePeriodSeconds": 0});
        let cases = [
            (
                "unset is 30, below the minimum",
                WorkloadKind::Pod,
                unset.clone(),
                45,
                Some(
                    "spec.terminationGracePeriodSeconds is unset (so 30), but native sidecars (\"other\") stop only after the app containers exit, within the same grace period: set it to at least 45",
                ),
            ),
            (
                "unset is 30, the minimum",
                WorkloadKind::Pod,
                unset.clone(),
                30,
                None,
            ),
            ("the check is off", WorkloadKind::Pod, unset, 0, None),
            (
                "set below the minimum",
                WorkloadKind::CronJob,
                short,
                20,
                Some(
                    "spec.jobTemplate.spec.template.spec.terminationGracePeriodSeconds is 10, but native sidecars (\"istio-proxy\") stop only after the app containers exit, within the same grace period: set it to at least 20",
                ),
            ),
            ("no native sidecar", WorkloadKind::Pod, no_sidecar, 60, None),
        ];
        for (name, kind, spec, minimum, expected) in cases {
            let (spec, _) = classified(spec);
            assert_eq!(
                grace_period_violation(kind, &spec, minimum).as_deref(),
                expected,
                "{name}"
            );
        }
    }

    #[test]
    fn evaluates_pod_specs() {
        let linkerd = json!({"name": "linkerd-proxy", "image": "cr.l5d.io/linkerd/proxy"});
        let istio = json!({"name": "istio-proxy", "image": "istio/proxyv2"});
        let legacy = json!({"name": "istio-proxy", "image": "istio/proxyv2:1.22.0",
            "resizePolicy": [{"resourceName": "cpu", "restartPolicy": "NotRequired"}]});
        let mut moved = legacy.clone();
        moved["restartPolicy"] = json!("Always");
        let own_policy = json!({"name": "istio-proxy", "image": "istio/proxyv2", "restartPolicy": "Never",
            "restartPolicyRules": [{"action": "Restart", "exitCodes": {"operator": "In", "values": [42]}}]});
        let cases = [
            (
                "every violation is listed",
                json!({"requireStartupProbe": true, "minTerminationGracePeriodSeconds": 60}),
                WorkloadKind::Pod,
                json!({
                    "initContainers": [init("migrate"), proxy(), init("wait")],
                    "containers": [init("app"), linkerd]
                }),
                Verdict::reject(
                    [
                        "container \"linkerd-proxy\" (image cr.l5d.io/linkerd/proxy) is a known sidecar in spec.containers of a Pod: declare it in initContainers with restartPolicy: Always, so that it starts before the init containers and stops after the app containers (it is at spec.containers[1])",
                        "native sidecar \"istio-proxy\" (spec.initContainers[1]) must precede init container \"migrate\", which otherwise starts without it: move it up (only setupContainers may come before the sidecars)",
                        "native sidecar \"istio-proxy\" in spec.initContainers has no startupProbe, so init container \"wait\" after it may start before it is ready: add a startupProbe to \"istio-proxy\"",
                        "spec.terminationGracePeriodSeconds is unset (so 30), but native sidecars (\"istio-proxy\") stop only after the app containers exit, within the same grace period: set it to at least 60",
                    ]
                    .join("; "),
                ),
            ),
            (
                "a malformed spec is rejected with its path",
                json!({}),
                WorkloadKind::Deployment,
                json!({"initContainers": [{"name": "x", "restartPolicy": 1}]}),
                Verdict::reject(
                    "invalid Deployment: spec.template.spec.initContainers[0].restartPolicy: invalid type: integer `1`, expected a string",
                ),
            ),
            (
                "null lists are empty lists",
                json!({}),
                WorkloadKind::Pod,
                json!({"initContainers": null, "containers": [init("app")]}),
                Verdict::accept(),
            ),
            (
                "mutate: a CronJob is fixed and unknown fields are kept",
                json!({"mutate": true}),
                WorkloadKind::CronJob,
                json!({
                    "initContainers": [init("migrate"), init("istio-init")],
                    "containers": [init("app"), legacy],
                    "x-unknown": {"kept": [1, 2.5]}
                }),
                Verdict::Mutate {
                    object: object(
                        WorkloadKind::CronJob,
                        json!({
                            "initContainers": [init("istio-init"), moved, init("migrate")],
                            "containers": [init("app")],
                            "x-unknown": {"kept": [1, 2.5]}
                        }),
                    ),
                    warnings: Vec::new(),
                },
            ),
            (
                "mutate: a right spec is left untouched",
                json!({"mutate": true, "requireStartupProbe": true}),
                WorkloadKind::Pod,
                json!({"initContainers": [init("istio-init"), proxy()], "containers": [init("app")]}),
                Verdict::accept(),
            ),
            (
                "mutate: rules 3 and 4 judge the fixed spec",
                json!({"mutate": true, "requireStartupProbe": true}),
                WorkloadKind::Pod,
                json!({"initContainers": [init("migrate")], "containers": [init("app"), istio.clone()]}),
                Verdict::reject(
                    "native sidecar \"istio-proxy\" in spec.initContainers has no startupProbe, so init container \"migrate\" after it may start before it is ready: add a startupProbe to \"istio-proxy\"",
                ),
            ),
            (
                "mutate: a move that would leave no app container",
                json!({"mutate": true}),
                WorkloadKind::Deployment,
                json!({"containers": [istio]}),
                Verdict::reject(
                    "moving the known sidecar \"istio-proxy\" to initContainers would leave spec.template.spec.containers empty: a pod needs an app container",
                ),
            ),
            (
                "mutate: a sidecar with its own restart policy",
                json!({"mutate": true}),
                WorkloadKind::Pod,
                json!({"containers": [init("app"), own_policy]}),
                Verdict::reject(
                    "container \"istio-proxy\" in spec.containers is a known sidecar but sets its own restartPolicy or restartPolicyRules, so it cannot be made a native sidecar: remove them, or declare it in initContainers with restartPolicy: Always",
                ),
            ),
        ];
        for (name, extra, kind, pod_spec, expected) in cases {
            let request = request(kind, "CREATE", None, object(kind, pod_spec), None);
            assert_eq!(evaluate(&request, &settings(extra)), expected, "{name}");
        }
    }

    #[test]
    fn an_object_without_a_pod_spec_is_accepted() {
        let object = json!({"apiVersion": "batch/v1", "kind": "Job"});
        let request = request(WorkloadKind::Job, "CREATE", None, object, None);
        assert_eq!(evaluate(&request, &settings(json!({}))), Verdict::accept());
    }
}
