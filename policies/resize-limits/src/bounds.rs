//! Rule 1: the minimum request, maximum request and maximum limit of each resource, for
//! containers (`cpu`, `memory`) and for the pod-level `spec.resources` (`podResources`), and
//! the container `maxLimit` on a pod-level limit that caps containers without their own.

use crate::containers::{Amount, Change, Judged, Owner, Resource};
use crate::settings::{Bounds, CompiledSettings};
use kepguard_common::Quantity;

/// The bounds `change.new` crosses. `existing` says whether the owner existed before,
/// which only changes how the value is described. An absent value is not judged.
pub fn violations(change: &Change<'_>, existing: bool, settings: &CompiledSettings) -> Vec<String> {
    let Some(value) = change.new else {
        return Vec::new();
    };
    let bounds = owner_bounds(change, settings);
    let prefix = bounds.prefix;
    let checks = match change.amount {
        Amount::Request => vec![
            (
                "is below",
                "minRequest",
                bounds.min_request.as_ref().filter(|min| value < *min),
            ),
            (
                "exceeds",
                "maxRequest",
                bounds.max_request.as_ref().filter(|max| value > *max),
            ),
        ],
        Amount::Limit => vec![(
            "exceeds",
            "maxLimit",
            bounds.max_limit.as_ref().filter(|max| value > *max),
        )],
    };
    checks
        .into_iter()
        .filter_map(|(verb, bound_name, crossed)| {
            crossed.map(|bound| {
                format!(
                    "{}: {} {verb} {prefix}{bound_name} {bound}",
                    change.owner,
                    change.describe(existing)
                )
            })
        })
        .collect()
}

/// The bounds of the change's level: the container bounds or `podResources`.
pub fn owner_bounds<'s>(change: &Change<'_>, settings: &'s CompiledSettings) -> &'s Bounds {
    match change.owner {
        Owner::Container(_) => settings.containers.of(change.resource),
        Owner::Pod(_) => settings.pod.of(change.resource),
    }
}

/// A container without a limit of its own runs under the pod-level limit, so the container
/// `maxLimit` also bounds a pod-level `limit` while any container (init containers too) lacks
/// its own limit of that resource. `unlimited` are those containers; the first is named.
pub fn pod_limit_violation(
    pod: Owner<'_>,
    resource: Resource,
    pod_limit: &Quantity,
    unlimited: &[Judged<'_>],
    described: &str,
    settings: &CompiledSettings,
) -> Option<String> {
    let max = settings.containers.of(resource).max_limit.as_ref()?;
    let first = unlimited.first()?;
    (pod_limit > max).then(|| {
        let others = match unlimited.len() {
            1 => String::new(),
            n => format!(" (and {} more)", n - 1),
        };
        format!(
            "{pod}: {described} exceeds {}.maxLimit {max}, which applies because {first}{others} has no {} limit of its own and runs under the pod-level limit: lower it, or give every container its own {} limit",
            resource.name(),
            resource.name(),
            resource.name()
        )
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::containers::{ContainerKind, ContainerView};
    use crate::settings::compiled;
    use serde_json::json;

    fn settings() -> CompiledSettings {
        compiled(json!({
            "cpu": {"minRequest": "100m", "maxRequest": "2", "maxLimit": "4"},
            "memory": {"maxLimit": "1Gi"},
            "podResources": {"cpu": {"minRequest": "200m", "maxLimit": "6"}}
        }))
    }

    fn check(
        pod: bool,
        resource: Resource,
        amount: Amount,
        old: Option<&str>,
        new: Option<&str>,
    ) -> Vec<String> {
        let view = ContainerView {
            name: "app".into(),
            ..ContainerView::default()
        };
        let owner = if pod {
            Owner::Pod("spec")
        } else {
            Owner::Container(Judged {
                view: &view,
                kind: ContainerKind::Regular,
            })
        };
        let old = old.map(|t| Quantity::parse(t).unwrap());
        let new = new.map(|t| Quantity::parse(t).unwrap());
        let change = Change {
            owner,
            resource,
            amount,
            old: old.as_ref(),
            new: new.as_ref(),
        };
        violations(&change, old.is_some(), &settings())
    }

    /// Whether the pod owns it, the resource and amount, old and new, the violations.
    type Case<'a> = (
        bool,
        Resource,
        Amount,
        Option<&'a str>,
        Option<&'a str>,
        &'a [&'a str],
    );

    #[test]
    fn values_against_their_level_bounds() {
        use Amount::{Limit, Request};
        use Resource::{Cpu, Memory};
        let cases: [Case<'_>; 14] = [
            (
                false,
                Cpu,
                Limit,
                Some("2"),
                Some("6"),
                &["container \"app\": cpu limit 2 -> 6 exceeds maxLimit 4"],
            ),
            (
                false,
                Memory,
                Limit,
                None,
                Some("1.5Gi"),
                &["container \"app\": memory limit 1.5Gi exceeds maxLimit 1Gi"],
            ),
            (false, Cpu, Limit, None, Some("4000m"), &[]),
            (false, Memory, Limit, None, Some("1024Mi"), &[]),
            (
                false,
                Cpu,
                Request,
                Some("500m"),
                Some("50m"),
                &["container \"app\": cpu request 500m -> 50m is below minRequest 100m"],
            ),
            (
                false,
                Cpu,
                Request,
                None,
                Some("2.5"),
                &["container \"app\": cpu request 2.5 exceeds maxRequest 2"],
            ),
            (false, Cpu, Request, None, Some("0.1"), &[]),
            (false, Cpu, Limit, None, Some("50m"), &[]),
            (false, Memory, Request, None, Some("2Gi"), &[]),
            (false, Cpu, Limit, Some("2"), None, &[]),
            (
                true,
                Cpu,
                Limit,
                Some("4"),
                Some("8"),
                &["pod-level spec.resources: cpu limit 4 -> 8 exceeds podResources.cpu.maxLimit 6"],
            ),
            (
                true,
                Cpu,
                Request,
                None,
                Some("100m"),
                &[
                    "pod-level spec.resources: cpu request 100m is below podResources.cpu.minRequest 200m",
                ],
            ),
            (true, Cpu, Request, None, Some("3"), &[]),
            (true, Memory, Limit, None, Some("64Gi"), &[]),
        ];
        for (pod, resource, amount, old, new, expected) in cases {
            assert_eq!(
                check(pod, resource, amount, old, new),
                expected,
                "{pod} {resource:?} {amount:?} {old:?} -> {new:?}"
            );
        }
    }

    #[test]
    fn the_container_max_limit_caps_a_pod_limit_over_unlimited_containers() {
        let settings = settings();
        let views: Vec<ContainerView> = ["app", "setup"]
            .into_iter()
            .map(|name| ContainerView {
                name: name.into(),
                ..ContainerView::default()
            })
            .collect();
        let judged = |i: usize, kind| Judged {
            view: &views[i],
            kind,
        };
        let q = |t: &str| Quantity::parse(t).unwrap();
        let one = [judged(0, ContainerKind::Regular)];
        let two = [
            judged(1, ContainerKind::Init),
            judged(0, ContainerKind::Regular),
        ];
        let cases: [(&[Judged<'_>], &str, Option<&str>); 4] = [
            (
                &one,
                "5",
                Some(
                    "pod-level spec.resources: cpu limit 5 exceeds cpu.maxLimit 4, which applies because container \"app\" has no cpu limit of its own",
                ),
            ),
            (
                &two,
                "5",
                Some(
                    "pod-level spec.resources: cpu limit 5 exceeds cpu.maxLimit 4, which applies because init container \"setup\" (and 1 more) has no cpu limit",
                ),
            ),
            (&one, "4", None),
            (&[], "64", None),
        ];
        for (unlimited, limit, expected) in cases {
            let found = pod_limit_violation(
                Owner::Pod("spec"),
                Resource::Cpu,
                &q(limit),
                unlimited,
                &format!("cpu limit {limit}"),
                &settings,
            );
            match expected {
                Some(start) => {
                    let found = found.unwrap_or_default();
                    assert!(found.starts_with(start), "{found}");
                }
                None => assert_eq!(found, None),
            }
        }
        let unbounded = compiled(json!({}));
        assert_eq!(
            pod_limit_violation(
                Owner::Pod("spec"),
                Resource::Cpu,
                &q("64"),
                &one,
                "cpu limit 64",
                &unbounded
            ),
            None
        );
    }
}
