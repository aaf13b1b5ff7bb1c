//! Rules 2 and 3, which judge how a resize moves a value: the step factors, and memory
//! limit decreases.

use crate::bounds::owner_bounds;
use crate::containers::{Amount, Change, ContainerKind, Owner, RESTART_CONTAINER, Resource};
use crate::settings::{CompiledSettings, LimitDecrease};

/// Rule 2: `maxIncreaseFactor` (new/old) and `maxDecreaseFactor` (old/new) of the value's
/// level, on a value that existed before. A value added, or raised from 0, is left to the
/// bounds. Hitting a factor exactly is allowed.
pub fn factor_violation(change: &Change<'_>, settings: &CompiledSettings) -> Option<String> {
    let bounds = owner_bounds(change, settings);
    let prefix = bounds.prefix;
    let old = change.old.filter(|old| !old.is_zero())?;
    let described = format!("{}: {}", change.owner, change.describe(true));
    match change.new {
        // Removing a limit lifts it to unlimited; removing a request lowers it to nothing.
        // The apiserver refuses both on a pods/resize, but not on a plain update (1.27-1.31).
        None => match change.amount {
            Amount::Limit => bounds.max_increase_factor.as_ref().map(|factor| {
                format!("{described} removes the limit, an unbounded increase beyond {prefix}maxIncreaseFactor {factor}: keep a limit")
            }),
            Amount::Request => bounds.max_decrease_factor.as_ref().map(|factor| {
                format!("{described} removes the request, a decrease to 0 beyond {prefix}maxDecreaseFactor {factor}: keep a request")
            }),
        },
        Some(new) if new > old => bounds
            .max_increase_factor
            .as_ref()
            .filter(|factor| new.ratio_exceeds(old, factor))
            .map(|factor| {
                format!("{described} exceeds {prefix}maxIncreaseFactor {factor}: one resize may multiply it by at most {factor}")
            }),
        Some(new) => bounds
            .max_decrease_factor
            .as_ref()
            .filter(|factor| new.is_zero() || old.ratio_exceeds(new, factor))
            .map(|factor| {
                format!("{described} exceeds {prefix}maxDecreaseFactor {factor}: one resize may divide it by at most {factor}")
            }),
    }
}

/// Rule 3: a resize that lowers a memory limit, or adds one where there was none (a decrease
/// from unlimited, as Kubernetes 1.33 counts it), under `memory.limitDecrease` for a
/// container and `podResources.memory.limitDecrease` for the pod.
pub fn memory_limit_violation(change: &Change<'_>, settings: &CompiledSettings) -> Option<String> {
    if change.resource != Resource::Memory || change.amount != Amount::Limit {
        return None;
    }
    let new = change.new?;
    let what = match change.old {
        None => "adds a memory limit, lowering it from unlimited",
        Some(old) if new < old => "lowers the memory limit",
        Some(_) => return None,
    };
    let described = format!("{}: {} {what}", change.owner, change.describe(true));
    let container = match change.owner {
        Owner::Pod(_) => {
            return (settings.pod_limit_decrease == LimitDecrease::Deny).then(|| {
                format!("{described}, which podResources.memory.limitDecrease deny forbids: recreate the pod with the new limit")
            });
        }
        Owner::Container(container) => container,
    };
    match settings.container_limit_decrease {
        LimitDecrease::Allow => None,
        // Since 1.36 the apiserver refuses RestartContainer on these (kubernetes#137458).
        LimitDecrease::RequireRestart if container.kind == ContainerKind::Init => Some(format!(
            "{described} without a restart, which can OOM-kill it, and an init container without restartPolicy Always cannot use the RestartContainer resizePolicy: recreate the pod, or set memory.limitDecrease to allow"
        )),
        LimitDecrease::RequireRestart => {
            let policy = container.view.resize_restart_policy(Resource::Memory);
            (policy != RESTART_CONTAINER).then(|| {
                format!(
                    "{described} without a restart (its memory resizePolicy is {policy}), which can OOM-kill it: set its memory resizePolicy to RestartContainer, or recreate the pod"
                )
            })
        }
        LimitDecrease::Deny => Some(format!(
            "{described}, which memory.limitDecrease deny forbids: recreate the pod with the new limit"
        )),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::containers::{ContainerView, Judged};
    use crate::settings::compiled;
    use kepguard_common::Quantity;
    use serde_json::{Value, json};

    /// Who owns the value in a test case.
    #[derive(Clone, Copy, Debug)]
    enum Who {
        Container(ContainerKind),
        Pod,
    }

    const APP: Who = Who::Container(ContainerKind::Regular);
    const PROXY: Who = Who::Container(ContainerKind::Sidecar);
    const SETUP: Who = Who::Container(ContainerKind::Init);

    struct Case {
        settings: Value,
        who: Who,
        memory_policy: Option<&'static str>,
        resource: Resource,
        amount: Amount,
        old: Option<&'static str>,
        new: Option<&'static str>,
    }

    impl Case {
        fn judge(
            &self,
            rule: fn(&Change<'_>, &CompiledSettings) -> Option<String>,
        ) -> Option<String> {
            let view = ContainerView {
                name: "app".into(),
                resize_policy: self
                    .memory_policy
                    .map(|policy| {
                        serde_json::from_value(
                            json!({"resourceName": "memory", "restartPolicy": policy}),
                        )
                        .unwrap()
                    })
                    .into_iter()
                    .collect(),
                ..ContainerView::default()
            };
            let owner = match self.who {
                Who::Pod => Owner::Pod("spec"),
                Who::Container(kind) => Owner::Container(Judged { view: &view, kind }),
            };
            let parse = |text: Option<&str>| text.map(|t| Quantity::parse(t).unwrap());
            let (old, new) = (parse(self.old), parse(self.new));
            let change = Change {
                owner,
                resource: self.resource,
                amount: self.amount,
                old: old.as_ref(),
                new: new.as_ref(),
            };
            rule(&change, &compiled(self.settings.clone()))
        }
    }

    fn factors() -> Value {
        json!({
            "cpu": {"maxIncreaseFactor": 2, "maxDecreaseFactor": 4},
            "memory": {"maxIncreaseFactor": "1.5", "maxDecreaseFactor": 2},
            "podResources": {"cpu": {"maxIncreaseFactor": 3}}
        })
    }

    fn case(
        settings: Value,
        who: Who,
        resource: Resource,
        amount: Amount,
        old: Option<&'static str>,
        new: Option<&'static str>,
    ) -> Case {
        Case {
            settings,
            who,
            memory_policy: None,
            resource,
            amount,
            old,
            new,
        }
    }

    #[test]
    fn step_factors() {
        use Amount::{Limit, Request};
        use Resource::{Cpu, Memory};
        let cases: Vec<(Case, Option<&str>)> = vec![
            (
                case(factors(), APP, Cpu, Request, Some("1"), Some("2000m")),
                None,
            ),
            (
                case(factors(), APP, Cpu, Request, Some("1"), Some("2001m")),
                Some(
                    "container \"app\": cpu request 1 -> 2001m exceeds maxIncreaseFactor 2: one resize may multiply it by at most 2",
                ),
            ),
            (
                case(factors(), APP, Memory, Limit, Some("1Gi"), Some("1.5Gi")),
                None,
            ),
            (
                case(factors(), PROXY, Memory, Limit, Some("1Gi"), Some("1537Mi")),
                Some(
                    "sidecar container \"app\": memory limit 1Gi -> 1537Mi exceeds maxIncreaseFactor 1.5",
                ),
            ),
            (
                case(factors(), SETUP, Cpu, Limit, Some("4"), Some("1")),
                None,
            ),
            (
                case(factors(), SETUP, Cpu, Limit, Some("4"), Some("999m")),
                Some(
                    "init container \"app\": cpu limit 4 -> 999m exceeds maxDecreaseFactor 4: one resize may divide it by at most 4",
                ),
            ),
            (
                case(factors(), APP, Memory, Request, Some("2Gi"), Some("1024Mi")),
                None,
            ),
            (
                case(factors(), APP, Memory, Request, Some("2Gi"), Some("1023Mi")),
                Some("exceeds maxDecreaseFactor 2"),
            ),
            (
                case(
                    json!({"cpu": {"maxDecreaseFactor": "1e18"}}),
                    APP,
                    Cpu,
                    Request,
                    Some("1"),
                    Some("0"),
                ),
                Some("exceeds maxDecreaseFactor 1e18"),
            ),
            (case(factors(), APP, Cpu, Request, None, Some("64")), None),
            (
                case(factors(), APP, Cpu, Request, Some("0"), Some("64")),
                None,
            ),
            (
                case(factors(), APP, Cpu, Limit, Some("1"), None),
                Some("removes the limit, an unbounded increase beyond maxIncreaseFactor 2"),
            ),
            (
                case(factors(), APP, Cpu, Request, Some("1"), None),
                Some("removes the request, a decrease to 0 beyond maxDecreaseFactor 4"),
            ),
            (case(json!({}), APP, Cpu, Limit, Some("1"), None), None),
            (
                case(json!({}), APP, Cpu, Request, Some("1m"), Some("64")),
                None,
            ),
            (
                case(json!({}), APP, Memory, Request, Some("64Gi"), Some("0")),
                None,
            ),
            // The pod level has its own factors; the container factors do not carry over.
            (
                case(factors(), Who::Pod, Cpu, Limit, Some("1"), Some("3")),
                None,
            ),
            (
                case(factors(), Who::Pod, Cpu, Limit, Some("1"), Some("3001m")),
                Some(
                    "pod-level spec.resources: cpu limit 1 -> 3001m exceeds podResources.cpu.maxIncreaseFactor 3",
                ),
            ),
            (
                case(factors(), Who::Pod, Memory, Limit, Some("8Gi"), Some("1Gi")),
                None,
            ),
        ];
        for (case, expected) in cases {
            let found = case.judge(factor_violation);
            match expected {
                None => assert_eq!(
                    found, None,
                    "{:?} {:?} -> {:?}",
                    case.who, case.old, case.new
                ),
                Some(part) => {
                    let found = found.unwrap_or_default();
                    assert!(found.contains(part), "{found} lacks {part}");
                }
            }
        }
    }

    #[test]
    fn memory_limit_decreases() {
        use Amount::{Limit, Request};
        use Resource::{Cpu, Memory};
        let allow = || json!({"memory": {"limitDecrease": "allow"}});
        let deny = || json!({"memory": {"limitDecrease": "deny"}});
        let pod_deny = || json!({"podResources": {"memory": {"limitDecrease": "deny"}}});
        let with_policy = |mut case: Case, policy| {
            case.memory_policy = Some(policy);
            case
        };
        let cases: Vec<(Case, Option<&str>)> = vec![
            (
                case(json!({}), PROXY, Memory, Limit, Some("2Gi"), Some("1Gi")),
                Some(
                    "sidecar container \"app\": memory limit 2Gi -> 1Gi lowers the memory limit without a restart (its memory resizePolicy is NotRequired), which can OOM-kill it: set its memory resizePolicy to RestartContainer, or recreate the pod",
                ),
            ),
            (
                with_policy(
                    case(json!({}), APP, Memory, Limit, Some("2Gi"), Some("1Gi")),
                    "NotRequired",
                ),
                Some("without a restart"),
            ),
            (
                with_policy(
                    case(json!({}), APP, Memory, Limit, Some("2Gi"), Some("1Gi")),
                    RESTART_CONTAINER,
                ),
                None,
            ),
            (
                case(json!({}), APP, Memory, Limit, Some("1Gi"), Some("2Gi")),
                None,
            ),
            (
                case(json!({}), APP, Memory, Limit, Some("1Gi"), Some("1024Mi")),
                None,
            ),
            (
                case(json!({}), APP, Memory, Limit, None, Some("1Gi")),
                Some("memory limit none -> 1Gi adds a memory limit, lowering it from unlimited"),
            ),
            (
                with_policy(
                    case(json!({}), APP, Memory, Limit, None, Some("1Gi")),
                    RESTART_CONTAINER,
                ),
                None,
            ),
            (case(json!({}), APP, Memory, Limit, Some("1Gi"), None), None),
            (
                case(json!({}), SETUP, Memory, Limit, Some("2Gi"), Some("1Gi")),
                Some(
                    "init container \"app\": memory limit 2Gi -> 1Gi lowers the memory limit without a restart, which can OOM-kill it, and an init container without restartPolicy Always cannot use the RestartContainer resizePolicy",
                ),
            ),
            (
                case(allow(), SETUP, Memory, Limit, Some("2Gi"), Some("1Gi")),
                None,
            ),
            (
                case(allow(), APP, Memory, Limit, Some("2Gi"), Some("1Gi")),
                None,
            ),
            (
                with_policy(
                    case(deny(), PROXY, Memory, Limit, Some("2Gi"), Some("1Gi")),
                    RESTART_CONTAINER,
                ),
                Some(
                    "sidecar container \"app\": memory limit 2Gi -> 1Gi lowers the memory limit, which memory.limitDecrease deny forbids: recreate the pod with the new limit",
                ),
            ),
            (
                case(deny(), APP, Memory, Limit, Some("1Gi"), Some("2Gi")),
                None,
            ),
            (case(deny(), APP, Cpu, Limit, Some("2"), Some("1")), None),
            (
                case(deny(), APP, Memory, Request, Some("2Gi"), Some("1Gi")),
                None,
            ),
            // The pod level: allow by default, whatever the container setting says.
            (
                case(deny(), Who::Pod, Memory, Limit, Some("2Gi"), Some("1Gi")),
                None,
            ),
            (
                case(json!({}), Who::Pod, Memory, Limit, None, Some("1Gi")),
                None,
            ),
            (
                case(
                    pod_deny(),
                    Who::Pod,
                    Memory,
                    Limit,
                    Some("2Gi"),
                    Some("1Gi"),
                ),
                Some(
                    "pod-level spec.resources: memory limit 2Gi -> 1Gi lowers the memory limit, which podResources.memory.limitDecrease deny forbids",
                ),
            ),
            (
                case(pod_deny(), Who::Pod, Memory, Limit, None, Some("1Gi")),
                Some(
                    "adds a memory limit, lowering it from unlimited, which podResources.memory.limitDecrease deny forbids",
                ),
            ),
        ];
        for (case, expected) in cases {
            let found = case.judge(memory_limit_violation);
            match expected {
                None => assert_eq!(
                    found, None,
                    "{:?} {:?} -> {:?}",
                    case.who, case.old, case.new
                ),
                Some(part) => {
                    let found = found.unwrap_or_default();
                    assert!(found.contains(part), "{found} lacks {part}");
                }
            }
        }
    }
}
