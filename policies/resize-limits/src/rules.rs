//! Which rules apply to which request: creation, a Pod resize, or a workload update.

use crate::containers::{Judged, PodSpecView, changed_values, present_values};
use crate::settings::Settings;
use crate::{access, bounds, resize_policy, steps};
use kepguard_common::{AdmissionRequest, Verdict, WorkloadKind};
use serde_json::value::RawValue;

/// Judges one admission request.
pub fn evaluate(request: &AdmissionRequest, settings: &Settings) -> Verdict {
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
    settings: &Settings,
) -> Result<Vec<String>, String> {
    let spec = PodSpecView::read(kind, object)?;
    Ok(spec
        .judged()
        .flat_map(|container| judge_as_new(container, &spec, settings))
        .collect())
}

/// A container judged as at creation: a new object, or a container whose name is new.
fn judge_as_new(container: Judged<'_>, spec: &PodSpecView, settings: &Settings) -> Vec<String> {
    let mut violations: Vec<String> = present_values(container)
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
/// It is a resize only if it changes a cpu or memory value of a judged container; then every
/// changed value is judged, and the requester and the lock label too. Values left as they
/// were are never judged again, even if they are out of bounds.
fn judge_pod_update(
    request: &AdmissionRequest,
    settings: &Settings,
) -> Result<Vec<String>, String> {
    let new = PodSpecView::read(WorkloadKind::Pod, &request.object)?;
    let old = read_old(WorkloadKind::Pod, &request.old_object)?;
    let mut resized = false;
    let mut violations = Vec::new();
    for container in new.judged() {
        let Some(before) = old.find(&container) else {
            violations.extend(judge_as_new(container, &new, settings));
            continue;
        };
        for change in changed_values(before, container) {
            resized = true;
            violations.extend(bounds::violations(&change, true, settings));
            violations.extend(steps::factor_violation(&change, settings));
            violations.extend(steps::memory_limit_violation(&change, settings));
        }
    }
    if !resized {
        return Ok(violations);
    }
    let mut refusals: Vec<String> = access::resizer_violation(&request.user_info, settings)
        .into_iter()
        .chain(access::lock_violation(&request.old_object, settings))
        .collect();
    refusals.append(&mut violations);
    Ok(refusals)
}

/// A workload update judges only what changed, so that existing workloads keep working:
/// changed values against the bounds, and the resizePolicy of containers that are new or
/// whose resizePolicy changed (a `kubectl rollout restart` of an old template passes).
fn judge_workload_update(
    kind: WorkloadKind,
    object: &RawValue,
    old_object: &RawValue,
    settings: &Settings,
) -> Result<Vec<String>, String> {
    let new = PodSpecView::read(kind, object)?;
    let old = read_old(kind, old_object)?;
    let mut violations = Vec::new();
    for container in new.judged() {
        let Some(before) = old.find(&container) else {
            violations.extend(judge_as_new(container, &new, settings));
            continue;
        };
        for change in changed_values(before, container) {
            violations.extend(bounds::violations(&change, true, settings));
        }
        if before.view.resize_policy != container.view.resize_policy {
            violations.extend(resize_policy::violations(
                container,
                new.pod_restart_policy(),
                settings.require_resize_policy,
            ));
        }
    }
    Ok(violations)
}

fn read_old(kind: WorkloadKind, old_object: &RawValue) -> Result<PodSpecView, String> {
    PodSpecView::read(kind, old_object).map_err(|error| format!("oldObject: {error}"))
}

#[cfg(test)]
mod tests;
