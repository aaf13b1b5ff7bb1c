//! Rules 2 and 3, which judge how a resize moves a value: the step factors, and memory
//! limit decreases.

use crate::containers::{Amount, Change, RESTART_CONTAINER, Resource};
use crate::settings::{LimitDecrease, Settings};

/// Rule 2: `maxIncreaseFactor` (new/old) and `maxDecreaseFactor` (old/new) on a value of a
/// container that existed before. A value added, or raised from 0, is left to the bounds.
/// Hitting a factor exactly is allowed.
pub fn factor_violation(change: &Change<'_>, settings: &Settings) -> Option<String> {
    let bounds = settings.bounds(change.resource);
    let old = change.old.filter(|old| !old.is_zero())?;
    let described = format!("{}: {}", change.container, change.describe(true));
    match change.new {
        // Removing a limit lifts it to unlimited; removing a request lowers it to nothing.
        // The apiserver refuses both on a pods/resize, but not on a plain update (1.27-1.31).
        None => match change.amount {
            Amount::Limit => bounds.max_increase_factor.as_ref().map(|factor| {
                format!("{described} removes the limit, an unbounded increase beyond maxIncreaseFactor {factor}: keep a limit")
            }),
            Amount::Request => bounds.max_decrease_factor.as_ref().map(|factor| {
                format!("{described} removes the request, a decrease to 0 beyond maxDecreaseFactor {factor}: keep a request")
            }),
        },
        Some(new) if new > old => bounds
            .max_increase_factor
            .as_ref()
            .filter(|factor| new.ratio_exceeds(old, factor))
            .map(|factor| {
                format!("{described} exceeds maxIncreaseFactor {factor}: one resize may multiply it by at most {factor}")
            }),
        Some(new) => bounds
            .max_decrease_factor
            .as_ref()
            .filter(|factor| new.is_zero() || old.ratio_exceeds(new, factor))
            .map(|factor| {
                format!("{described} exceeds maxDecreaseFactor {factor}: one resize may divide it by at most {factor}")
            }),
    }
}

/// Rule 3: a resize that lowers a memory limit, or adds one where there was none (a decrease
/// from unlimited, as Kubernetes 1.33 counts it), under `memory.limitDecrease`.
pub fn memory_limit_violation(change: &Change<'_>, settings: &Settings) -> Option<String> {
    if change.resource != Resource::Memory || change.amount != Amount::Limit {
        return None;
    }
    let new = change.new?;
    let what = match change.old {
        None => "adds a memory limit, lowering it from unlimited",
        Some(old) if new < old => "lowers the memory limit",
        Some(_) => return None,
    };
    let described = format!("{}: {} {what}", change.container, change.describe(true));
    match settings.memory.limit_decrease {
        LimitDecrease::Allow => None,
        LimitDecrease::RequireRestart => {
            let policy = change
                .container
                .view
                .resize_restart_policy(Resource::Memory);
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
    use crate::containers::{ContainerView, Judged, RESTART_CONTAINER, ResizePolicyView};
    use kepguard_common::Quantity;
    use serde_json::json;

    fn settings(value: serde_json::Value) -> Settings {
        serde_json::from_value(value).unwrap()
    }

    fn factors() -> Settings {
        settings(json!({
            "cpu": {"maxIncreaseFactor": 2, "maxDecreaseFactor": 4},
            "memory": {"maxIncreaseFactor": "1.5", "maxDecreaseFactor": 2}
        }))
    }

    fn container(memory_policy: Option<&str>) -> ContainerView {
        ContainerView {
            name: "app".into(),
            resize_policy: memory_policy
                .map(|policy| ResizePolicyView {
                    resource_name: "memory".into(),
                    restart_policy: policy.into(),
                })
                .into_iter()
                .collect(),
            ..ContainerView::default()
        }
    }

    fn quantity(text: Option<&str>) -> Option<Quantity> {
        text.map(|t| Quantity::parse(t).unwrap())
    }

    fn factor(
        settings: &Settings,
        resource: Resource,
        amount: Amount,
        old: Option<&str>,
        new: Option<&str>,
    ) -> Option<String> {
        let view = container(None);
        let (old, new) = (quantity(old), quantity(new));
        let change = Change {
            container: Judged {
                view: &view,
                sidecar: false,
            },
            resource,
            amount,
            old: old.as_ref(),
            new: new.as_ref(),
        };
        factor_violation(&change, settings)
    }

    fn memory_limit(
        settings: &Settings,
        policy: Option<&str>,
        old: Option<&str>,
        new: Option<&str>,
    ) -> Option<String> {
        let view = container(policy);
        let (old, new) = (quantity(old), quantity(new));
        let change = Change {
            container: Judged {
                view: &view,
                sidecar: true,
            },
            resource: Resource::Memory,
            amount: Amount::Limit,
            old: old.as_ref(),
            new: new.as_ref(),
        };
        memory_limit_violation(&change, settings)
    }

    #[test]
    fn increase_factor_is_exact() {
        let s = factors();
        assert_eq!(
            factor(&s, Resource::Cpu, Amount::Request, Some("1"), Some("2000m")),
            None
        );
        assert_eq!(
            factor(&s, Resource::Cpu, Amount::Request, Some("1"), Some("2001m")).unwrap(),
            "container \"app\": cpu request 1 -> 2001m exceeds maxIncreaseFactor 2: one resize may multiply it by at most 2"
        );
        assert_eq!(
            factor(
                &s,
                Resource::Memory,
                Amount::Limit,
                Some("1Gi"),
                Some("1.5Gi")
            ),
            None
        );
        assert!(
            factor(
                &s,
                Resource::Memory,
                Amount::Limit,
                Some("1Gi"),
                Some("1537Mi")
            )
            .is_some()
        );
    }

    #[test]
    fn decrease_factor_is_exact() {
        let s = factors();
        assert_eq!(
            factor(&s, Resource::Cpu, Amount::Limit, Some("4"), Some("1")),
            None
        );
        assert_eq!(
            factor(&s, Resource::Cpu, Amount::Limit, Some("4"), Some("999m")).unwrap(),
            "container \"app\": cpu limit 4 -> 999m exceeds maxDecreaseFactor 4: one resize may divide it by at most 4"
        );
        assert_eq!(
            factor(
                &s,
                Resource::Memory,
                Amount::Request,
                Some("2Gi"),
                Some("1024Mi")
            ),
            None
        );
        assert!(
            factor(
                &s,
                Resource::Memory,
                Amount::Request,
                Some("2Gi"),
                Some("1023Mi")
            )
            .is_some()
        );
    }

    #[test]
    fn lowering_to_zero_exceeds_any_decrease_factor() {
        let s = settings(json!({"cpu": {"maxDecreaseFactor": "1e18"}}));
        assert!(
            factor(&s, Resource::Cpu, Amount::Request, Some("1"), Some("0"))
                .unwrap()
                .contains("exceeds maxDecreaseFactor 1e18")
        );
    }

    #[test]
    fn added_values_and_values_raised_from_zero_are_left_to_the_bounds() {
        let s = factors();
        assert_eq!(
            factor(&s, Resource::Cpu, Amount::Request, None, Some("64")),
            None
        );
        assert_eq!(
            factor(&s, Resource::Cpu, Amount::Request, Some("0"), Some("64")),
            None
        );
    }

    #[test]
    fn removals_are_unbounded_steps() {
        let s = factors();
        assert!(
            factor(&s, Resource::Cpu, Amount::Limit, Some("1"), None)
                .unwrap()
                .contains("removes the limit")
        );
        assert!(
            factor(&s, Resource::Cpu, Amount::Request, Some("1"), None)
                .unwrap()
                .contains("removes the request")
        );
        assert_eq!(
            factor(
                &settings(json!({})),
                Resource::Cpu,
                Amount::Limit,
                Some("1"),
                None
            ),
            None
        );
    }

    #[test]
    fn no_factor_means_no_limit_on_steps() {
        let s = settings(json!({}));
        assert_eq!(
            factor(&s, Resource::Cpu, Amount::Request, Some("1m"), Some("64")),
            None
        );
        assert_eq!(
            factor(
                &s,
                Resource::Memory,
                Amount::Request,
                Some("64Gi"),
                Some("0")
            ),
            None
        );
    }

    #[test]
    fn memory_limit_decrease_require_restart() {
        let s = settings(json!({}));
        assert_eq!(
            memory_limit(&s, None, Some("2Gi"), Some("1Gi")).unwrap(),
            "sidecar container \"app\": memory limit 2Gi -> 1Gi lowers the memory limit without a restart (its memory resizePolicy is NotRequired), which can OOM-kill it: set its memory resizePolicy to RestartContainer, or recreate the pod"
        );
        assert!(memory_limit(&s, Some("NotRequired"), Some("2Gi"), Some("1Gi")).is_some());
        assert_eq!(
            memory_limit(&s, Some(RESTART_CONTAINER), Some("2Gi"), Some("1Gi")),
            None
        );
        assert_eq!(
            memory_limit(&s, None, Some("1Gi"), Some("2Gi")),
            None,
            "an increase"
        );
        assert_eq!(
            memory_limit(&s, None, Some("1Gi"), Some("1024Mi")),
            None,
            "no change"
        );
    }

    #[test]
    fn adding_a_memory_limit_is_a_decrease_from_unlimited() {
        let s = settings(json!({}));
        assert!(
            memory_limit(&s, None, None, Some("1Gi")).unwrap().contains(
                "memory limit none -> 1Gi adds a memory limit, lowering it from unlimited"
            )
        );
        assert_eq!(
            memory_limit(&s, Some(RESTART_CONTAINER), None, Some("1Gi")),
            None
        );
        assert_eq!(
            memory_limit(&s, None, Some("1Gi"), None),
            None,
            "a removal is an increase"
        );
    }

    #[test]
    fn memory_limit_decrease_allow_and_deny() {
        let allow = settings(json!({"memory": {"limitDecrease": "allow"}}));
        assert_eq!(memory_limit(&allow, None, Some("2Gi"), Some("1Gi")), None);
        let deny = settings(json!({"memory": {"limitDecrease": "deny"}}));
        assert_eq!(
            memory_limit(&deny, Some(RESTART_CONTAINER), Some("2Gi"), Some("1Gi")).unwrap(),
            "sidecar container \"app\": memory limit 2Gi -> 1Gi lowers the memory limit, which memory.limitDecrease deny forbids: recreate the pod with the new limit"
        );
        assert_eq!(memory_limit(&deny, None, Some("1Gi"), Some("2Gi")), None);
    }

    #[test]
    fn cpu_limits_and_memory_requests_are_not_memory_limits() {
        let view = container(None);
        let (old, new) = (quantity(Some("2")), quantity(Some("1")));
        for (resource, amount) in [
            (Resource::Cpu, Amount::Limit),
            (Resource::Memory, Amount::Request),
        ] {
            let change = Change {
                container: Judged {
                    view: &view,
                    sidecar: false,
                },
                resource,
                amount,
                old: old.as_ref(),
                new: new.as_ref(),
            };
            assert_eq!(
                memory_limit_violation(
                    &change,
                    &settings(json!({"memory": {"limitDecrease": "deny"}}))
                ),
                None
            );
        }
    }
}
