//! Rule 6: the resizePolicy of each container, as the apiserver validates it
//! (`validateResizePolicy`, and since 1.36 no `RestartContainer` on init containers without
//! `restartPolicy: Always`), so that it is also checked where no apiserver runs, such as on
//! manifests in CI; and optionally required on regular containers.

use crate::containers::{ContainerKind, Judged, NOT_REQUIRED, RESTART_CONTAINER, Resource};

/// The policies the apiserver accepts.
const RESTART_POLICIES: [&str; 2] = [NOT_REQUIRED, RESTART_CONTAINER];

/// What is wrong with `container`'s resizePolicy in a pod whose restartPolicy is
/// `pod_restart_policy`. With `require`, a regular container must declare both resources;
/// init containers need not, since apiservers before 1.33 refuse resizePolicy on them.
pub fn violations(container: Judged<'_>, pod_restart_policy: &str, require: bool) -> Vec<String> {
    let mut violations = Vec::new();
    let mut seen: Vec<&str> = Vec::new();
    for (index, entry) in container.view.resize_policy.iter().enumerate() {
        let at = format!("{container}: resizePolicy[{index}]");
        let resource = entry.resource_name.as_str();
        if !Resource::ALL.iter().any(|r| r.name() == resource) {
            violations.push(format!(
                "{at}.resourceName {resource:?} is not supported: use cpu or memory"
            ));
        } else if seen.contains(&resource) {
            violations.push(format!(
                "{at}.resourceName {resource} is declared twice: keep one entry per resource"
            ));
        } else {
            seen.push(resource);
        }
        let policy = entry.restart_policy.as_str();
        if !RESTART_POLICIES.contains(&policy) {
            violations.push(format!(
                "{at}.restartPolicy {policy:?} is not supported: use NotRequired or RestartContainer"
            ));
        } else if policy != NOT_REQUIRED {
            if container.kind == ContainerKind::Init {
                // kubernetes#137458, 1.36: an init container that is not a sidecar never
                // restarts for a resize.
                violations.push(format!(
                    "{at}.restartPolicy {policy} is not allowed on an init container without restartPolicy Always (refused by the apiserver since Kubernetes 1.36): use NotRequired"
                ));
            } else if pod_restart_policy == "Never" {
                violations.push(format!(
                    "{at}.restartPolicy {policy} is not allowed in a pod whose restartPolicy is Never: use NotRequired"
                ));
            }
        }
    }
    if require && container.kind == ContainerKind::Regular {
        let missing: Vec<&str> = Resource::ALL
            .iter()
            .map(|r| r.name())
            .filter(|name| {
                !container
                    .view
                    .resize_policy
                    .iter()
                    .any(|e| e.resource_name == *name)
            })
            .collect();
        if !missing.is_empty() {
            violations.push(format!(
                "{container}: resizePolicy must declare cpu and memory (requireResizePolicy): add an entry for {} with restartPolicy NotRequired or RestartContainer",
                missing.join(" and ")
            ));
        }
    }
    violations
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::containers::ContainerView;
    use serde_json::{Value, json};

    fn check(
        entries: Value,
        kind: ContainerKind,
        pod_restart_policy: &str,
        require: bool,
    ) -> Vec<String> {
        let view: ContainerView =
            serde_json::from_value(json!({"name": "app", "resizePolicy": entries})).unwrap();
        violations(Judged { view: &view, kind }, pod_restart_policy, require)
    }

    #[test]
    fn resize_policies() {
        use ContainerKind::{Init, Regular, Sidecar};
        let both = json!([
            {"resourceName": "cpu", "restartPolicy": "NotRequired"},
            {"resourceName": "memory", "restartPolicy": "RestartContainer"}
        ]);
        let restart = json!([{"resourceName": "memory", "restartPolicy": "RestartContainer"}]);
        let not_required = json!([{"resourceName": "memory", "restartPolicy": "NotRequired"}]);
        let cpu_only = json!([{"resourceName": "cpu", "restartPolicy": "NotRequired"}]);
        let cases: Vec<(Value, ContainerKind, &str, bool, Vec<&str>)> = vec![
            (both.clone(), Regular, "Always", true, vec![]),
            (both, Regular, "OnFailure", false, vec![]),
            (json!([]), Regular, "Always", false, vec![]),
            (
                json!([
                    {"resourceName": "ephemeral-storage", "restartPolicy": "NotRequired"},
                    {"resourceName": "cpu", "restartPolicy": "PreferNoRestart"},
                    {"resourceName": "", "restartPolicy": ""}
                ]),
                Regular,
                "Always",
                false,
                vec![
                    "container \"app\": resizePolicy[0].resourceName \"ephemeral-storage\" is not supported: use cpu or memory",
                    "container \"app\": resizePolicy[1].restartPolicy \"PreferNoRestart\" is not supported: use NotRequired or RestartContainer",
                    "container \"app\": resizePolicy[2].resourceName \"\" is not supported: use cpu or memory",
                    "container \"app\": resizePolicy[2].restartPolicy \"\" is not supported: use NotRequired or RestartContainer",
                ],
            ),
            (
                json!([
                    {"resourceName": "memory", "restartPolicy": "NotRequired"},
                    {"resourceName": "memory", "restartPolicy": "RestartContainer"}
                ]),
                Sidecar,
                "Always",
                false,
                vec![
                    "sidecar container \"app\": resizePolicy[1].resourceName memory is declared twice: keep one entry per resource",
                ],
            ),
            (
                restart.clone(),
                Regular,
                "Never",
                false,
                vec![
                    "container \"app\": resizePolicy[0].restartPolicy RestartContainer is not allowed in a pod whose restartPolicy is Never: use NotRequired",
                ],
            ),
            (restart.clone(), Regular, "OnFailure", false, vec![]),
            (restart.clone(), Sidecar, "Always", false, vec![]),
            (not_required.clone(), Regular, "Never", false, vec![]),
            (
                restart.clone(),
                Init,
                "Always",
                false,
                vec![
                    "init container \"app\": resizePolicy[0].restartPolicy RestartContainer is not allowed on an init container without restartPolicy Always (refused by the apiserver since Kubernetes 1.36): use NotRequired",
                ],
            ),
            (
                restart,
                Init,
                "Never",
                false,
                vec![
                    "init container \"app\": resizePolicy[0].restartPolicy RestartContainer is not allowed on an init container without restartPolicy Always (refused by the apiserver since Kubernetes 1.36): use NotRequired",
                ],
            ),
            (not_required, Init, "Always", true, vec![]),
            (
                json!([]),
                Regular,
                "Always",
                true,
                vec![
                    "container \"app\": resizePolicy must declare cpu and memory (requireResizePolicy): add an entry for cpu and memory with restartPolicy NotRequired or RestartContainer",
                ],
            ),
            (
                cpu_only,
                Regular,
                "Always",
                true,
                vec![
                    "container \"app\": resizePolicy must declare cpu and memory (requireResizePolicy): add an entry for memory with restartPolicy NotRequired or RestartContainer",
                ],
            ),
            (json!([]), Sidecar, "Always", true, vec![]),
            (json!([]), Init, "Always", true, vec![]),
        ];
        for (entries, kind, pod_restart_policy, require, expected) in cases {
            assert_eq!(
                check(entries.clone(), kind, pod_restart_policy, require),
                expected,
                "{entries} {kind:?} {pod_restart_policy} {require}"
            );
        }
    }
}
