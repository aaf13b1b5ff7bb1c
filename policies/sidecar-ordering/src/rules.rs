//! The rules, as plain functions over the admission request.

use crate::mutate;
use crate::settings::{Matcher, Settings};
use kepguard_common::image::ImageReference;
use kepguard_common::podspec::{self, WorkloadKind, is_native_sidecar_policy};
use kepguard_common::{AdmissionRequest, Verdict};
use serde::Deserialize;
use serde::de::IgnoredAny;
use serde_json::Value;
use serde_json::value::{RawValue, to_raw_value};

/// What the apiserver defaults an unset `terminationGracePeriodSeconds` to, in Pods and
/// templates alike.
pub const DEFAULT_TERMINATION_GRACE_PERIOD_SECONDS: i64 = 30;

/// The parts of a pod spec these rules read. Lists are `Option`s because the apiserver takes
/// `null` for an empty list.
#[derive(Deserialize, Default, Debug)]
#[serde(rename_all = "camelCase", default)]
pub struct PodSpecView {
    pub containers: Option<Vec<ContainerView>>,
    pub init_containers: Option<Vec<ContainerView>>,
    pub termination_grace_period_seconds: Option<i64>,
}

#[derive(Deserialize, Default, Debug)]
#[serde(rename_all = "camelCase", default)]
pub struct ContainerView {
    pub name: String,
    pub image: Option<String>,
    pub restart_policy: Option<String>,
    pub restart_policy_rules: Option<Vec<IgnoredAny>>,
    pub startup_probe: Option<IgnoredAny>,
}

impl PodSpecView {
    pub fn containers(&self) -> &[ContainerView] {
        self.containers.as_deref().unwrap_or_default()
    }

    pub fn init_containers(&self) -> &[ContainerView] {
        self.init_containers.as_deref().unwrap_or_default()
    }
}

impl ContainerView {
    /// A native sidecar when it is an init container (KEP-753); `Never` and `OnFailure`
    /// with `restartPolicyRules` (Kubernetes 1.34+) are not sidecars.
    pub fn is_native_sidecar(&self) -> bool {
        is_native_sidecar_policy(self.restart_policy.as_deref())
    }

    /// Whether it sets a container-level restart behaviour of its own.
    pub fn sets_restart_behaviour(&self) -> bool {
        self.restart_policy.is_some()
            || self
                .restart_policy_rules
                .as_ref()
                .is_some_and(|r| !r.is_empty())
    }

    fn image_text(&self) -> &str {
        self.image.as_deref().unwrap_or("none")
    }
}

/// What an init container is to these rules.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum InitRole {
    /// An ordinary init container matched by `setupContainers`.
    Setup,
    /// A native sidecar matched by `sidecars[index]`.
    Sidecar(usize),
    /// A native sidecar no matcher knows: not constrained.
    OtherSidecar,
    /// Any other init container.
    Ordinary,
}

/// The role of every container of a pod spec.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Roles {
    pub init: Vec<InitRole>,
    /// For each app container, the `sidecars` matcher it matches, if any.
    pub containers: Vec<Option<usize>>,
}

/// The index of the first matcher that matches the container.
fn first_match(matchers: &[Matcher], container: &ContainerView) -> Option<usize> {
    let image = container
        .image
        .as_deref()
        .and_then(|image| ImageReference::parse(image).ok());
    matchers
        .iter()
        .position(|matcher| matcher.matches(&container.name, image.as_ref()))
}

/// Gives every container its role.
pub fn classify(spec: &PodSpecView, sidecars: &[Matcher], setup: &[Matcher]) -> Roles {
    let init = spec
        .init_containers()
        .iter()
        .map(|container| {
            if container.is_native_sidecar() {
                first_match(sidecars, container).map_or(InitRole::OtherSidecar, InitRole::Sidecar)
            } else if first_match(setup, container).is_some() {
                InitRole::Setup
            } else {
                InitRole::Ordinary
            }
        })
        .collect();
    let containers = spec
        .containers()
        .iter()
        .map(|container| first_match(sidecars, container))
        .collect();
    Roles { init, containers }
}

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
pub fn evaluate(request: &AdmissionRequest, settings: &Settings) -> Verdict {
    // A Pod's containers cannot be added, removed or reordered after creation.
    let Some(kind) = WorkloadKind::judged_when_spec_is_immutable(request) else {
        return Verdict::accept();
    };
    judge(kind, &request.object, settings).unwrap_or_else(|error| kind.invalid(&error))
}

fn judge(kind: WorkloadKind, object: &RawValue, settings: &Settings) -> Result<Verdict, String> {
    let matchers = settings.matchers()?;
    let (sidecars, setup) = (&matchers.sidecars, &matchers.setup);
    let spec: PodSpecView = podspec::read_pod_spec(kind, object)?;
    let roles = classify(&spec, sidecars, setup);

    let mut structural = legacy_sidecar_violations(kind, &spec, &roles);
    structural.extend(order_violations(
        kind,
        &spec,
        &roles,
        settings.sidecars_first,
    ));
    if !settings.mutate || structural.is_empty() {
        let mut violations = structural;
        violations.extend(gating_violations(kind, &spec, &roles, settings));
        return Ok(Verdict::from_violations(violations));
    }

    let blockers = mutate::blockers(kind, &spec, &roles);
    if !blockers.is_empty() {
        return Ok(Verdict::from_violations(blockers));
    }
    let mut mutated: Value =
        serde_json::from_str(object.get()).map_err(|error| error.to_string())?;
    let pod_spec =
        podspec::pod_spec_mut(kind, &mut mutated).ok_or("the pod spec cannot be patched")?;
    mutate::apply(pod_spec, &mutate::plan(&roles))?;

    // Rules 3 and 4 still reject, judged on the fixed spec.
    let fixed_object = to_raw_value(&mutated).map_err(|error| error.to_string())?;
    let fixed: PodSpecView = podspec::read_pod_spec(kind, &fixed_object)?;
    let fixed_roles = classify(&fixed, sidecars, setup);
    let violations = gating_violations(kind, &fixed, &fixed_roles, settings);
    if !violations.is_empty() {
        return Ok(Verdict::from_violations(violations));
    }
    Ok(Verdict::Mutate {
        object: mutated,
        warnings: Vec::new(),
    })
}

/// Rules 3 and 4, as the settings turn them on.
fn gating_violations(
    kind: WorkloadKind,
    spec: &PodSpecView,
    roles: &Roles,
    settings: &Settings,
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
    use serde_json::json;

    fn settings(extra: Value) -> Settings {
        let mut base = json!({
            "sidecars": [
                {"name": "istio-proxy", "image": "istio/proxyv2"},
                {"name": "linkerd-proxy"},
                {"name": "vault-agent", "image": "hashicorp/vault"},
                {"image": "cloud-sql-connectors/cloud-sql-proxy"}
            ],
            "setupContainers": [{"name": "istio-init"}, {"name": "linkerd-init"}]
        });
        if let (Some(base), Some(extra)) = (base.as_object_mut(), extra.as_object()) {
            base.extend(extra.clone());
        }
        serde_json::from_value(base).unwrap()
    }

    fn spec(value: Value) -> PodSpecView {
        serde_json::from_value(value).unwrap()
    }

    fn roles(spec: &PodSpecView) -> Roles {
        let settings = settings(json!({}));
        classify(
            spec,
            &settings.matchers().unwrap().sidecars,
            &settings.matchers().unwrap().setup,
        )
    }

    fn proxy() -> Value {
        json!({"name": "istio-proxy", "image": "docker.io/istio/proxyv2:1.22.0", "restartPolicy": "Always"})
    }

    fn init(name: &str) -> Value {
        json!({"name": name, "image": "busybox"})
    }

    fn raw(object: Value) -> Box<RawValue> {
        to_raw_value(&object).unwrap()
    }

    fn object(kind: WorkloadKind, pod_spec: Value) -> Value {
        match kind {
            WorkloadKind::Pod => json!({"spec": pod_spec}),
            WorkloadKind::CronJob => {
                json!({"spec": {"jobTemplate": {"spec": {"template": {"spec": pod_spec}}}}})
            }
            _ => json!({"spec": {"template": {"spec": pod_spec}}}),
        }
    }

    fn rejection(verdict: Verdict) -> String {
        match verdict {
            Verdict::Reject { message } => message,
            other => panic!("expected a rejection, got {other:?}"),
        }
    }

    #[test]
    fn classifies_every_container() {
        let spec = spec(json!({
            "initContainers": [
                init("istio-init"),
                proxy(),
                {"name": "other", "image": "envoy", "restartPolicy": "Always"},
                {"name": "linkerd-proxy", "image": "x", "restartPolicy": "Never",
                 "restartPolicyRules": [{"action": "Restart", "exitCodes": {"operator": "In", "values": [42]}}]},
                {"name": "vault-agent", "image": "hashicorp/vault:1.17", "restartPolicy": "OnFailure"},
                init("migrate")
            ],
            "containers": [
                {"name": "app", "image": "app"},
                {"name": "sql", "image": "gcr.io/cloud-sql-connectors/cloud-sql-proxy:2.11"},
                {"name": "istio-proxy", "image": "envoyproxy/envoy"}
            ]
        }));
        assert_eq!(
            roles(&spec),
            Roles {
                init: vec![
                    InitRole::Setup,
                    InitRole::Sidecar(0),
                    InitRole::OtherSidecar,
                    // Never and OnFailure are not sidecars, restartPolicyRules or not.
                    InitRole::Ordinary,
                    InitRole::Ordinary,
                    InitRole::Ordinary,
                ],
                // Name and image must both match: istio-proxy with an envoy image does not.
                containers: vec![None, Some(3), None],
            }
        );
    }

    #[test]
    fn unparsable_images_never_match_image_patterns() {
        let spec = spec(json!({"containers": [
            {"name": "sql", "image": "gcr.io/Cloud-SQL-Connectors/cloud-sql-proxy"},
            {"name": "sql2"},
            {"name": "linkerd-proxy", "image": "not a reference"}
        ]}));
        assert_eq!(roles(&spec).containers, vec![None, None, Some(1)]);
    }

    #[test]
    fn legacy_sidecars_are_rejected_with_the_job_consequence() {
        let pod_spec = spec(json!({"containers": [init("app"), proxy()]}));
        let violations = legacy_sidecar_violations(WorkloadKind::Job, &pod_spec, &roles(&pod_spec));
        assert_eq!(
            violations,
            vec![
                "container \"istio-proxy\" (image docker.io/istio/proxyv2:1.22.0) is a known sidecar in spec.containers of a Job: declare it in initContainers with restartPolicy: Always, or the Job never completes (it is at spec.template.spec.containers[1])"
            ]
        );
        let violations =
            legacy_sidecar_violations(WorkloadKind::Deployment, &pod_spec, &roles(&pod_spec));
        assert!(
            violations[0].contains(
                "so that it starts before the init containers and stops after the app containers"
            ),
            "{violations:?}"
        );
    }

    #[test]
    fn ordinary_init_containers_come_after_matched_sidecars() {
        let pod_spec = spec(json!({"initContainers": [
            init("istio-init"), init("migrate"), init("wait"), proxy()
        ]}));
        let roles = roles(&pod_spec);
        assert_eq!(
            order_violations(WorkloadKind::Pod, &pod_spec, &roles, true),
            vec![
                "native sidecar \"istio-proxy\" (spec.initContainers[3]) must precede init containers \"migrate\", \"wait\", which otherwise start without it: move it up (only setupContainers may come before the sidecars)"
            ]
        );
        assert!(order_violations(WorkloadKind::Pod, &pod_spec, &roles, false).is_empty());

        // Istio's layout: setup, sidecar, app init containers.
        let pod_spec =
            spec(json!({"initContainers": [init("istio-init"), proxy(), init("migrate")]}));
        assert!(
            order_violations(WorkloadKind::Pod, &pod_spec, &self::roles(&pod_spec), true)
                .is_empty()
        );
        // A setup container may also come after the sidecars.
        let pod_spec = spec(json!({"initContainers": [proxy(), init("istio-init")]}));
        assert!(
            order_violations(WorkloadKind::Pod, &pod_spec, &self::roles(&pod_spec), true)
                .is_empty()
        );
    }

    #[test]
    fn matched_sidecars_follow_the_list_order_and_others_are_free() {
        let vault = json!({"name": "vault-agent", "image": "hashicorp/vault:1.17", "restartPolicy": "Always"});
        let other = json!({"name": "other", "image": "envoy", "restartPolicy": "Always"});
        let pod_spec = spec(json!({"initContainers": [vault, other, proxy(), init("migrate")]}));
        let violations = order_violations(
            WorkloadKind::Deployment,
            &pod_spec,
            &roles(&pod_spec),
            false,
        );
        assert_eq!(
            violations,
            vec![
                "native sidecar \"istio-proxy\" (spec.template.spec.initContainers[2], matched by sidecars[0]) must precede native sidecar \"vault-agent\": sidecars start in the order of the sidecars list"
            ]
        );
        // An ordinary init container before an unmatched sidecar is fine.
        let pod_spec = spec(json!({"initContainers": [
            init("migrate"), {"name": "other", "image": "envoy", "restartPolicy": "Always"}
        ]}));
        assert!(order_violations(WorkloadKind::Pod, &pod_spec, &roles(&pod_spec), true).is_empty());
    }

    #[test]
    fn sidecars_followed_by_init_containers_need_a_startup_probe() {
        let pod_spec = spec(json!({"initContainers": [proxy(), init("migrate")]}));
        assert_eq!(
            startup_probe_violations(WorkloadKind::Pod, &pod_spec, &roles(&pod_spec)),
            vec![
                "native sidecar \"istio-proxy\" in spec.initContainers has no startupProbe, so init container \"migrate\" after it may start before it is ready: add a startupProbe to \"istio-proxy\""
            ]
        );
        let mut probed = proxy();
        probed["startupProbe"] = json!({"tcpSocket": {"port": 15021}});
        let pod_spec = spec(json!({"initContainers": [probed, init("migrate")]}));
        assert!(
            startup_probe_violations(WorkloadKind::Pod, &pod_spec, &roles(&pod_spec)).is_empty()
        );
        // The last init container has nothing to gate; unmatched sidecars are not judged.
        let pod_spec = spec(json!({"initContainers": [
            {"name": "other", "image": "envoy", "restartPolicy": "Always"}, proxy()
        ]}));
        assert!(
            startup_probe_violations(WorkloadKind::Pod, &pod_spec, &roles(&pod_spec)).is_empty()
        );
    }

    #[test]
    fn grace_period_counts_any_native_sidecar_and_defaults_to_30() {
        let other = json!({"name": "other", "image": "envoy", "restartPolicy": "Always"});
        let unset = spec(json!({"initContainers": [other]}));
        assert_eq!(
            grace_period_violation(WorkloadKind::Pod, &unset, 45).as_deref(),
            Some(
                "spec.terminationGracePeriodSeconds is unset (so 30), but native sidecars (\"other\") stop only after the app containers exit, within the same grace period: set it to at least 45"
            )
        );
        assert_eq!(grace_period_violation(WorkloadKind::Pod, &unset, 30), None);
        assert_eq!(grace_period_violation(WorkloadKind::Pod, &unset, 0), None);
        let short = spec(json!({"initContainers": [proxy()], "terminationGracePeriodSeconds": 10}));
        let message = grace_period_violation(WorkloadKind::CronJob, &short, 20).unwrap();
        assert!(
            message.starts_with(
                "spec.jobTemplate.spec.template.spec.terminationGracePeriodSeconds is 10,"
            ),
            "{message}"
        );
        let no_sidecar =
            spec(json!({"initContainers": [init("migrate")], "terminationGracePeriodSeconds": 0}));
        assert_eq!(
            grace_period_violation(WorkloadKind::Pod, &no_sidecar, 60),
            None
        );
    }

    #[test]
    fn judge_lists_every_violation() {
        let settings =
            settings(json!({"requireStartupProbe": true, "minTerminationGracePeriodSeconds": 60}));
        let pod_spec = json!({
            "initContainers": [init("migrate"), proxy(), init("wait")],
            "containers": [init("app"), {"name": "linkerd-proxy", "image": "cr.l5d.io/linkerd/proxy"}]
        });
        let message = rejection(
            judge(
                WorkloadKind::Pod,
                &raw(object(WorkloadKind::Pod, pod_spec)),
                &settings,
            )
            .unwrap(),
        );
        let parts: Vec<&str> = message.split("; ").collect();
        assert_eq!(parts.len(), 4, "{message}");
        assert!(
            parts[0].starts_with("container \"linkerd-proxy\""),
            "{message}"
        );
        assert!(parts[1].starts_with("native sidecar \"istio-proxy\" (spec.initContainers[1]) must precede init container \"migrate\""), "{message}");
        assert!(parts[2].contains("has no startupProbe"), "{message}");
        assert!(
            parts[3].contains("terminationGracePeriodSeconds is unset"),
            "{message}"
        );
    }

    #[test]
    fn malformed_specs_are_rejected_with_their_path() {
        let settings = settings(json!({}));
        let pod_spec = json!({"initContainers": [{"name": "x", "restartPolicy": 1}]});
        let error = judge(
            WorkloadKind::Deployment,
            &raw(object(WorkloadKind::Deployment, pod_spec)),
            &settings,
        )
        .unwrap_err();
        assert!(
            error.starts_with("spec.template.spec.initContainers[0].restartPolicy: invalid type"),
            "{error}"
        );
        // null lists are empty lists.
        let pod_spec = json!({"initContainers": null, "containers": [init("app")]});
        assert_eq!(
            judge(
                WorkloadKind::Pod,
                &raw(object(WorkloadKind::Pod, pod_spec)),
                &settings
            )
            .unwrap(),
            Verdict::accept()
        );
        assert_eq!(
            judge(WorkloadKind::Job, &raw(json!({})), &settings).unwrap(),
            Verdict::accept()
        );
    }

    #[test]
    fn mutate_mode_fixes_a_cronjob_and_keeps_unknown_fields() {
        let settings = settings(json!({"mutate": true}));
        let mut legacy = json!({"name": "istio-proxy", "image": "istio/proxyv2:1.22.0",
            "resizePolicy": [{"resourceName": "cpu", "restartPolicy": "NotRequired"}]});
        let pod_spec = json!({
            "initContainers": [init("migrate"), init("istio-init")],
            "containers": [init("app"), legacy.clone()],
            "x-unknown": {"kept": [1, 2.5]}
        });
        let verdict = judge(
            WorkloadKind::CronJob,
            &raw(object(WorkloadKind::CronJob, pod_spec)),
            &settings,
        )
        .unwrap();
        let Verdict::Mutate {
            object: mutated,
            warnings,
        } = verdict
        else {
            panic!("expected a mutation, got {verdict:?}");
        };
        assert!(warnings.is_empty());
        legacy["restartPolicy"] = json!("Always");
        assert_eq!(
            mutated,
            object(
                WorkloadKind::CronJob,
                json!({
                    "initContainers": [init("istio-init"), legacy, init("migrate")],
                    "containers": [init("app")],
                    "x-unknown": {"kept": [1, 2.5]}
                })
            )
        );
    }

    #[test]
    fn mutate_mode_leaves_a_right_spec_untouched_and_still_judges_rules_3_and_4() {
        let settings = settings(json!({"mutate": true, "requireStartupProbe": true}));
        let right =
            json!({"initContainers": [init("istio-init"), proxy()], "containers": [init("app")]});
        assert_eq!(
            judge(
                WorkloadKind::Pod,
                &raw(object(WorkloadKind::Pod, right)),
                &settings
            )
            .unwrap(),
            Verdict::accept()
        );
        // Fixed, then judged: the moved proxy is followed by "migrate" without a startupProbe.
        let wrong = json!({"initContainers": [init("migrate")], "containers": [
            init("app"), {"name": "istio-proxy", "image": "istio/proxyv2"}
        ]});
        let message = rejection(
            judge(
                WorkloadKind::Pod,
                &raw(object(WorkloadKind::Pod, wrong)),
                &settings,
            )
            .unwrap(),
        );
        assert!(
            message.starts_with("native sidecar \"istio-proxy\" in spec.initContainers has no startupProbe, so init container \"migrate\""),
            "{message}"
        );
    }

    #[test]
    fn mutate_mode_rejects_moves_it_cannot_make() {
        let settings = settings(json!({"mutate": true}));
        let only_sidecars =
            json!({"containers": [{"name": "istio-proxy", "image": "istio/proxyv2"}]});
        let message = rejection(
            judge(
                WorkloadKind::Deployment,
                &raw(object(WorkloadKind::Deployment, only_sidecars)),
                &settings,
            )
            .unwrap(),
        );
        assert_eq!(
            message,
            "moving the known sidecar \"istio-proxy\" to initContainers would leave spec.template.spec.containers empty: a pod needs an app container"
        );
        let own_policy = json!({"containers": [init("app"),
            {"name": "istio-proxy", "image": "istio/proxyv2", "restartPolicy": "Never",
             "restartPolicyRules": [{"action": "Restart", "exitCodes": {"operator": "In", "values": [42]}}]}]});
        let message = rejection(
            judge(
                WorkloadKind::Pod,
                &raw(object(WorkloadKind::Pod, own_policy)),
                &settings,
            )
            .unwrap(),
        );
        assert!(
            message.starts_with("container \"istio-proxy\" in spec.containers is a known sidecar but sets its own restartPolicy or restartPolicyRules"),
            "{message}"
        );
    }
}
