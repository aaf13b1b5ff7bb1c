//! Which rules apply to which request: creation, a Pod resize, or a workload update.

use crate::containers::{
    Amount, Change, Judged, Owner, PodSpecView, Resource, changed_values, present_values, show,
};
use crate::settings::CompiledSettings;
use crate::{access, bounds, empty_dir, resize_policy, steps};
use kepguard_common::{AdmissionRequest, Verdict, WorkloadKind};
use serde_json::value::RawValue;

/// Judges one admission request.
pub fn evaluate(request: &AdmissionRequest, settings: &CompiledSettings) -> Verdict {
    let Some(kind) = WorkloadKind::of_request(request) else {
        return Verdict::accept();
    };
    // Other subresources (status, ephemeralcontainers, binding) cannot change resources.
    if !matches!(request.sub_resource.as_str(), "" | "resize") {
        return Verdict::accept();
    }
    let violations = match request.operation.as_str() {
        "CREATE" => judge_create(kind, &request.object, settings),
        "UPDATE" if kind.is_pod() => judge_pod_update(request, settings),
        "UPDATE" => judge_workload_update(kind, &request.object, &request.old_object, settings),
        _ => return Verdict::accept(),
    };
    match violations {
        Ok(violations) => Verdict::from_violations(violations),
        Err(error) => kind.invalid(&error),
    }
}

/// At creation, every value present is held to the bounds, and every resizePolicy checked.
/// This includes Pods that controllers create from templates written before the policy.
fn judge_create(
    kind: WorkloadKind,
    object: &RawValue,
    settings: &CompiledSettings,
) -> Result<Vec<String>, String> {
    let spec = PodSpecView::read(kind, object)?;
    let mut violations: Vec<String> = spec
        .judged()
        .flat_map(|container| judge_as_new(container, &spec, settings))
        .collect();
    let pod = Owner::Pod(kind.pod_spec_path());
    for value in present_values(pod, &spec.resources) {
        violations.extend(bounds::violations(&value, false, settings));
    }
    violations.extend(pod_limit_violations(
        pod,
        &PodSpecView::default(),
        &spec,
        settings,
    ));
    for size in empty_dir::present(&spec) {
        violations.extend(empty_dir::violation(&size, settings));
    }
    Ok(violations)
}

/// A container judged as at creation: a new object, or a container whose name is new.
fn judge_as_new(
    container: Judged<'_>,
    spec: &PodSpecView,
    settings: &CompiledSettings,
) -> Vec<String> {
    let mut violations: Vec<String> =
        present_values(Owner::Container(container), &container.view.resources)
            .iter()
            .flat_map(|value| bounds::violations(value, false, settings))
            .collect();
    violations.extend(resize_policy::violations(
        container,
        spec.pod_restart_policy(),
        settings.require_resize_policy,
    ));
    violations
}

/// A `pods/resize` request or a plain Pod update (how clusters from 1.27 to 1.31 resize).
/// It is a resize if it changes what `pods/resize` may change: a cpu or memory value of any
/// container or of the pod, or the sizeLimit of a memory-backed emptyDir. Then every changed
/// value is judged, and the requester and the lock label too. Values left as they were are
/// never judged again, even if they are out of bounds.
fn judge_pod_update(
    request: &AdmissionRequest,
    settings: &CompiledSettings,
) -> Result<Vec<String>, String> {
    let new = PodSpecView::read(WorkloadKind::Pod, &request.object)?;
    let old = read_old(WorkloadKind::Pod, &request.old_object)?;
    let Judgement {
        resized,
        violations,
    } = judge_update(WorkloadKind::Pod, &old, &new, Update::PodResize, settings);
    if !resized {
        return Ok(violations);
    }
    let mut refusals: Vec<String> = access::resizer_violation(&request.user_info, settings)
        .into_iter()
        .chain(access::lock_violation(&request.old_object, settings))
        .collect();
    refusals.extend(violations);
    Ok(refusals)
}

/// A workload update judges only what changed, so that existing workloads keep working:
/// changed values against the bounds, and the resizePolicy of containers that are new or
/// whose resizePolicy changed (a `kubectl rollout restart` of an old template passes).
fn judge_workload_update(
    kind: WorkloadKind,
    object: &RawValue,
    old_object: &RawValue,
    settings: &CompiledSettings,
) -> Result<Vec<String>, String> {
    let new = PodSpecView::read(kind, object)?;
    let old = read_old(kind, old_object)?;
    Ok(judge_update(kind, &old, &new, Update::Template, settings).violations)
}

/// What is updated: a running Pod, or the pod template of a workload.
#[derive(Clone, Copy, PartialEq, Eq)]
enum Update {
    /// Step factors and memory limit decreases apply; resizePolicy cannot change.
    PodResize,
    /// Bounds only; a changed resizePolicy is checked again.
    Template,
}

struct Judgement {
    /// Whether anything that `pods/resize` may change has changed.
    resized: bool,
    violations: Vec<String>,
}

fn judge_update(
    kind: WorkloadKind,
    old: &PodSpecView,
    new: &PodSpecView,
    update: Update,
    settings: &CompiledSettings,
) -> Judgement {
    let mut changes: Vec<Change<'_>> = Vec::new();
    let mut violations = Vec::new();
    for container in new.judged() {
        let Some(before) = old.find(&container) else {
            violations.extend(judge_as_new(container, new, settings));
            continue;
        };
        changes.extend(changed_values(
            Owner::Container(container),
            &before.view.resources,
            &container.view.resources,
        ));
        // The apiserver ratchets resizePolicy checks: an unchanged one stays accepted.
        if update == Update::Template && before.view.resize_policy != container.view.resize_policy {
            violations.extend(resize_policy::violations(
                container,
                new.pod_restart_policy(),
                settings.require_resize_policy,
            ));
        }
    }
    let pod = Owner::Pod(kind.pod_spec_path());
    changes.extend(changed_values(pod, &old.resources, &new.resources));
    let sizes = empty_dir::changed(old, new);
    let resized = !changes.is_empty() || !sizes.is_empty();
    for change in &changes {
        violations.extend(bounds::violations(change, true, settings));
        if update == Update::PodResize {
            violations.extend(steps::factor_violation(change, settings));
            violations.extend(steps::memory_limit_violation(change, settings));
        }
    }
    violations.extend(pod_limit_violations(pod, old, new, settings));
    for size in &sizes {
        violations.extend(empty_dir::violation(size, settings));
    }
    Judgement {
        resized,
        violations,
    }
}

/// The container `maxLimit` on each pod-level limit that caps containers without their own,
/// judged when the pod-level limit changed or a container newly runs without its own limit.
fn pod_limit_violations(
    pod: Owner<'_>,
    old: &PodSpecView,
    new: &PodSpecView,
    settings: &CompiledSettings,
) -> Vec<String> {
    let mut violations = Vec::new();
    for resource in Resource::ALL {
        let Some(limit) = new.resources.value(resource, Amount::Limit) else {
            continue;
        };
        let old_limit = old.resources.value(resource, Amount::Limit);
        let unlimited: Vec<Judged<'_>> = new.unlimited(resource).collect();
        let newly_unlimited = unlimited.iter().any(|container| {
            old.find(container)
                .is_none_or(|before| before.view.value(resource, Amount::Limit).is_some())
        });
        let changed = old_limit != Some(limit);
        if !(changed || newly_unlimited) {
            continue;
        }
        let described = if changed && old_limit.is_some() {
            format!("{} limit {} -> {limit}", resource.name(), show(old_limit))
        } else {
            format!("{} limit {limit}", resource.name())
        };
        violations.extend(bounds::pod_limit_violation(
            pod, resource, limit, &unlimited, &described, settings,
        ));
    }
    violations
}

fn read_old(kind: WorkloadKind, old_object: &RawValue) -> Result<PodSpecView, String> {
    PodSpecView::read(kind, old_object).map_err(|error| format!("oldObject: {error}"))
}

#[cfg(test)]
mod tests;
