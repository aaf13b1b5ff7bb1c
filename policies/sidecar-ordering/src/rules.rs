//! The rules, as plain functions over the admission request.

use crate::image::ImageReference;
use crate::mutate;
use crate::settings::{Matcher, Settings};
use kepguard_common::Verdict;
use kepguard_common::podspec::{self, WorkloadKind, is_native_sidecar_policy};
use kubewarden_policy_sdk::request::KubernetesAdmissionRequest;
use serde::Deserialize;
use serde_json::Value;

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
    pub restart_policy_rules: Option<Vec<Value>>,
    pub startup_probe: Option<Value>,
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
                "native sidecar {:?} ({}) must precede init container{} {}: init containers start one after another, so these would run without the sidecar; move it before them (only setupContainers may come first)",
                sidecar.name,
                at(index),
                if ordinary.len() == 1 { "" } else { "s" },
                names(&ordinary),
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
pub fn evaluate(request: &KubernetesAdmissionRequest, settings: &Settings) -> Verdict {
    let Some(kind) = WorkloadKind::from_group_kind(&request.kind.group, &request.kind.kind) else {
        return Verdict::accept();
    };
    // A Pod's containers cannot be added, removed or reordered after creation.
    let judged = match request.operation.as_str() {
        "CREATE" => true,
        "UPDATE" => !kind.is_pod(),
        _ => false,
    };
    if !judged {
        return Verdict::accept();
    }
    match judge(kind, &request.object, settings) {
        Ok(verdict) => verdict,
        Err(error) => Verdict::reject(format!("invalid {}: {error}", kind.kind())),
    }
}

fn judge(kind: WorkloadKind, object: &Value, settings: &Settings) -> Result<Verdict, String> {
    let sidecars = settings.sidecar_matchers()?;
    let setup = settings.setup_matchers()?;
    let spec: PodSpecView = podspec::read_pod_spec(kind, object)?;
    let roles = classify(&spec, &sidecars, &setup);

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
    let mut mutated = object.clone();
    let pod_spec =
        podspec::pod_spec_mut(kind, &mut mutated).ok_or("the pod spec cannot be patched")?;
    mutate::apply(pod_spec, &mutate::plan(&roles))?;

    // Rules 3 and 4 still reject, judged on the fixed spec.
    let fixed: PodSpecView = podspec::read_pod_spec(kind, &mutated)?;
    let fixed_roles = classify(&fixed, &sidecars, &setup);
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
