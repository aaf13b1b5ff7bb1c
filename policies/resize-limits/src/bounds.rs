//! Rule 1: the minimum request, maximum request and maximum limit of each resource.

use crate::containers::{Amount, Change};
use crate::settings::Settings;

/// The bounds `change.new` crosses. `existing` says whether the container existed before,
/// which only changes how the value is described. An absent value is not judged.
pub fn violations(change: &Change<'_>, existing: bool, settings: &Settings) -> Vec<String> {
    let Some(value) = change.new else {
        return Vec::new();
    };
    let bounds = settings.bounds(change.resource);
    let checks = match change.amount {
        Amount::Request => vec![
            (
                "is below minRequest",
                bounds.min_request.as_ref().filter(|min| value < *min),
            ),
            (
                "exceeds maxRequest",
                bounds.max_request.as_ref().filter(|max| value > *max),
            ),
        ],
        Amount::Limit => vec![(
            "exceeds maxLimit",
            bounds.max_limit.as_ref().filter(|max| value > *max),
        )],
    };
    checks
        .into_iter()
        .filter_map(|(what, crossed)| {
            crossed.map(|bound| {
                format!(
                    "{}: {} {what} {bound}",
                    change.container,
                    change.describe(existing)
                )
            })
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::containers::{ContainerView, Judged, Resource};
    use kepguard_common::Quantity;
    use serde_json::json;

    fn settings() -> Settings {
        serde_json::from_value(json!({
            "cpu": {"minRequest": "100m", "maxRequest": "2", "maxLimit": "4"},
            "memory": {"maxLimit": "1Gi"}
        }))
        .unwrap()
    }

    fn check(
        resource: Resource,
        amount: Amount,
        old: Option<&str>,
        new: Option<&str>,
    ) -> Vec<String> {
        let view = ContainerView {
            name: "app".into(),
            ..ContainerView::default()
        };
        let old = old.map(|t| Quantity::parse(t).unwrap());
        let new = new.map(|t| Quantity::parse(t).unwrap());
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
        violations(&change, old.is_some(), &settings())
    }

    #[test]
    fn limits_above_max_limit() {
        assert_eq!(
            check(Resource::Cpu, Amount::Limit, Some("2"), Some("6")),
            ["container \"app\": cpu limit 2 -> 6 exceeds maxLimit 4"]
        );
        assert_eq!(
            check(Resource::Memory, Amount::Limit, None, Some("1.5Gi")),
            ["container \"app\": memory limit 1.5Gi exceeds maxLimit 1Gi"]
        );
        assert!(
            check(Resource::Cpu, Amount::Limit, None, Some("4000m")).is_empty(),
            "the bound itself is allowed"
        );
        assert!(check(Resource::Memory, Amount::Limit, None, Some("1024Mi")).is_empty());
    }

    #[test]
    fn requests_between_min_and_max() {
        assert_eq!(
            check(Resource::Cpu, Amount::Request, Some("500m"), Some("50m")),
            ["container \"app\": cpu request 500m -> 50m is below minRequest 100m"]
        );
        assert_eq!(
            check(Resource::Cpu, Amount::Request, None, Some("2.5")),
            ["container \"app\": cpu request 2.5 exceeds maxRequest 2"]
        );
        assert!(check(Resource::Cpu, Amount::Request, None, Some("0.1")).is_empty());
        assert!(check(Resource::Cpu, Amount::Request, None, Some("2")).is_empty());
        // A limit is never held to the request bounds, nor a request to maxLimit.
        assert!(check(Resource::Cpu, Amount::Limit, None, Some("50m")).is_empty());
        assert!(check(Resource::Memory, Amount::Request, None, Some("2Gi")).is_empty());
    }

    #[test]
    fn absent_values_are_not_judged() {
        assert!(check(Resource::Cpu, Amount::Limit, Some("2"), None).is_empty());
        assert!(check(Resource::Cpu, Amount::Request, None, None).is_empty());
    }
}
