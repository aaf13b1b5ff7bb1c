//! Rule 6: the resizePolicy of each judged container, as the apiserver validates it
//! (`validateResizePolicy`), so that it is also checked where no apiserver runs, such as on
//! manifests in CI; and optionally required on regular containers.

use crate::containers::{Judged, NOT_REQUIRED, RESTART_CONTAINER, Resource};

/// The policies the apiserver accepts.
const RESTART_POLICIES: [&str; 2] = [NOT_REQUIRED, RESTART_CONTAINER];

/// What is wrong with `container`'s resizePolicy in a pod whose restartPolicy is
/// `pod_restart_policy`. With `require`, a regular container must declare both resources;
/// sidecars need not, since apiservers before 1.33 refuse resizePolicy on init containers.
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
        } else if policy != NOT_REQUIRED && pod_restart_policy == "Never" {
            violations.push(format!(
                "{at}.restartPolicy {policy} is not allowed in a pod whose restartPolicy is Never: use NotRequired"
            ));
        }
    }
    if require && !container.sidecar {
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
        sidecar: bool,
        pod_restart_policy: &str,
        require: bool,
    ) -> Vec<String> {
        let view: ContainerView =
            serde_json::from_value(json!({"name": "app", "resizePolicy": entries})).unwrap();
        violations(
            Judged {
                view: &view,
                sidecar,
            },
            pod_restart_policy,
            require,
        )
    }

    #[test]
    fn valid_entries_pass() {
        let both = json!([
            {"resourceName": "cpu", "restartPolicy": "NotRequired"},
            {"resourceName": "memory", "restartPolicy": "RestartContainer"}
        ]);
        assert!(check(both.clone(), false, "Always", true).is_empty());
        assert!(check(both, false, "OnFailure", false).is_empty());
        assert!(check(json!([]), false, "Always", false).is_empty());
    }

    #[test]
    fn unknown_resources_and_policies() {
        let found = check(
            json!([
                {"resourceName": "ephemeral-storage", "restartPolicy": "NotRequired"},
                {"resourceName": "cpu", "restartPolicy": "PreferNoRestart"},
                {"resourceName": "", "restartPolicy": ""}
            ]),
            false,
            "Always",
            false,
        );
        assert_eq!(
            found,
            [
                "container \"app\": resizePolicy[0].resourceName \"ephemeral-storage\" is not supported: use cpu or memory",
                "container \"app\": resizePolicy[1].restartPolicy \"PreferNoRestart\" is not supported: use NotRequired or RestartContainer",
                "container \"app\": resizePolicy[2].resourceName \"\" is not supported: use cpu or memory",
                "container \"app\": resizePolicy[2].restartPolicy \"\" is not supported: use NotRequired or RestartContainer",
            ]
        );
    }

    #[test]
    fn duplicates() {
        let found = check(
            json!([
                {"resourceName": "memory", "restartPolicy": "NotRequired"},
                {"resourceName": "memory", "restartPolicy": "RestartContainer"}
            ]),
            true,
            "Always",
            false,
        );
        assert_eq!(
            found,
            [
                "sidecar container \"app\": resizePolicy[1].resourceName memory is declared twice: keep one entry per resource"
            ]
        );
    }

    #[test]
    fn restart_policy_never_pods_only_take_not_required() {
        let restart = json!([{"resourceName": "memory", "restartPolicy": "RestartContainer"}]);
        assert_eq!(
            check(restart.clone(), false, "Never", false),
            [
                "container \"app\": resizePolicy[0].restartPolicy RestartContainer is not allowed in a pod whose restartPolicy is Never: use NotRequired"
            ]
        );
        assert!(check(restart, false, "OnFailure", false).is_empty());
        let not_required = json!([{"resourceName": "memory", "restartPolicy": "NotRequired"}]);
        assert!(check(not_required, false, "Never", false).is_empty());
    }

    #[test]
    fn required_on_regular_containers_only() {
        assert_eq!(
            check(json!([]), false, "Always", true),
            [
                "container \"app\": resizePolicy must declare cpu and memory (requireResizePolicy): add an entry for cpu and memory with restartPolicy NotRequired or RestartContainer"
            ]
        );
        let cpu_only = json!([{"resourceName": "cpu", "restartPolicy": "NotRequired"}]);
        let found = check(cpu_only, false, "Always", true);
        assert_eq!(found.len(), 1);
        assert!(
            found[0].contains("add an entry for memory with"),
            "{found:?}"
        );
        assert!(
            check(json!([]), true, "Always", true).is_empty(),
            "sidecars are exempt"
        );
        assert!(check(json!([]), false, "Always", false).is_empty());
    }
}
