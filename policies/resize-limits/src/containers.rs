//! The containers this policy judges, read from a pod spec into small views, and the cpu and
//! memory values they carry.

use kepguard_common::Quantity;
use kepguard_common::podspec::{self, WorkloadKind, is_native_sidecar_policy};
use serde::{Deserialize, Deserializer};
use serde_json::value::RawValue;
use std::fmt;

/// A resource whose requests and limits can be resized in place.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Resource {
    Cpu,
    Memory,
}

impl Resource {
    pub const ALL: [Resource; 2] = [Resource::Cpu, Resource::Memory];

    pub fn name(self) -> &'static str {
        match self {
            Resource::Cpu => "cpu",
            Resource::Memory => "memory",
        }
    }
}

/// Whether a value is a container's request or its limit.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Amount {
    Request,
    Limit,
}

impl Amount {
    pub const ALL: [Amount; 2] = [Amount::Request, Amount::Limit];

    pub fn name(self) -> &'static str {
        match self {
            Amount::Request => "request",
            Amount::Limit => "limit",
        }
    }
}

/// The parts of a pod spec these rules read.
#[derive(Deserialize, Default, Debug)]
#[serde(rename_all = "camelCase", default)]
pub struct PodSpecView {
    #[serde(deserialize_with = "null_as_default")]
    pub containers: Vec<ContainerView>,
    #[serde(deserialize_with = "null_as_default")]
    pub init_containers: Vec<ContainerView>,
    pub restart_policy: Option<String>,
}

#[derive(Deserialize, Default, Debug)]
#[serde(rename_all = "camelCase", default)]
pub struct ContainerView {
    pub name: String,
    pub restart_policy: Option<String>,
    #[serde(deserialize_with = "null_as_default")]
    pub resources: ResourcesView,
    #[serde(deserialize_with = "null_as_default")]
    pub resize_policy: Vec<ResizePolicyView>,
}

#[derive(Deserialize, Default, Debug)]
#[serde(default)]
pub struct ResourcesView {
    #[serde(deserialize_with = "null_as_default")]
    pub requests: ResourceListView,
    #[serde(deserialize_with = "null_as_default")]
    pub limits: ResourceListView,
}

/// Only cpu and memory; other resources (hugepages, extended resources) are not read.
#[derive(Deserialize, Default, Debug)]
#[serde(default)]
pub struct ResourceListView {
    pub cpu: Option<Quantity>,
    pub memory: Option<Quantity>,
}

#[derive(Deserialize, Default, Debug, Clone, PartialEq, Eq)]
#[serde(rename_all = "camelCase", default)]
pub struct ResizePolicyView {
    pub resource_name: String,
    pub restart_policy: String,
}

/// Lists and objects may be `null` in hand-written manifests; that means absent.
fn null_as_default<'de, D, T>(deserializer: D) -> Result<T, D::Error>
where
    D: Deserializer<'de>,
    T: Deserialize<'de> + Default,
{
    Option::<T>::deserialize(deserializer).map(Option::unwrap_or_default)
}

impl ContainerView {
    pub fn value(&self, resource: Resource, amount: Amount) -> Option<&Quantity> {
        let list = match amount {
            Amount::Request => &self.resources.requests,
            Amount::Limit => &self.resources.limits,
        };
        match resource {
            Resource::Cpu => list.cpu.as_ref(),
            Resource::Memory => list.memory.as_ref(),
        }
    }

    /// The restart policy the container declares for resizing `resource`; the first entry
    /// counts, as in the apiserver, and none means `NotRequired`.
    pub fn resize_restart_policy(&self, resource: Resource) -> &str {
        self.resize_policy
            .iter()
            .find(|entry| entry.resource_name == resource.name())
            .map_or(NOT_REQUIRED, |entry| entry.restart_policy.as_str())
    }
}

pub const NOT_REQUIRED: &str = "NotRequired";
pub const RESTART_CONTAINER: &str = "RestartContainer";

/// A regular container or a native sidecar: the containers whose resources can be resized.
#[derive(Debug, Clone, Copy)]
pub struct Judged<'a> {
    pub view: &'a ContainerView,
    pub sidecar: bool,
}

impl Judged<'_> {
    pub fn name(&self) -> &str {
        &self.view.name
    }
}

impl fmt::Display for Judged<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        if self.sidecar {
            write!(f, "sidecar container {:?}", self.view.name)
        } else {
            write!(f, "container {:?}", self.view.name)
        }
    }
}

impl PodSpecView {
    pub fn read(kind: WorkloadKind, object: &RawValue) -> Result<PodSpecView, String> {
        podspec::read_pod_spec(kind, object)
    }

    /// Regular containers and native sidecars. Ordinary init containers (no restartPolicy,
    /// `Never` or `OnFailure`) cannot be resized, and ephemeral containers have no resources.
    pub fn judged(&self) -> impl Iterator<Item = Judged<'_>> {
        let regular = self.containers.iter().map(|view| Judged {
            view,
            sidecar: false,
        });
        let sidecars = self
            .init_containers
            .iter()
            .filter(|c| is_native_sidecar_policy(c.restart_policy.as_deref()))
            .map(|view| Judged {
                view,
                sidecar: true,
            });
        regular.chain(sidecars)
    }

    /// The judged container of the same kind (regular or sidecar) and name.
    pub fn find(&self, like: &Judged<'_>) -> Option<Judged<'_>> {
        self.judged()
            .find(|c| c.sidecar == like.sidecar && c.name() == like.name())
    }

    /// The pod's restartPolicy; the apiserver defaults it to `Always`.
    pub fn pod_restart_policy(&self) -> &str {
        self.restart_policy.as_deref().unwrap_or("Always")
    }
}

/// One cpu or memory request or limit of a container, before and after an update.
/// At creation, or for a container that is new, `old` is `None` and `existing` is false.
#[derive(Debug, Clone, Copy)]
pub struct Change<'a> {
    pub container: Judged<'a>,
    pub resource: Resource,
    pub amount: Amount,
    pub old: Option<&'a Quantity>,
    pub new: Option<&'a Quantity>,
}

impl Change<'_> {
    /// `cpu limit 2 -> 6`, or `cpu limit 6` when there is no old container.
    pub fn describe(&self, existing: bool) -> String {
        let what = format!("{} {}", self.resource.name(), self.amount.name());
        let show = |value: Option<&Quantity>| value.map_or("none".to_string(), Quantity::to_string);
        if existing {
            format!("{what} {} -> {}", show(self.old), show(self.new))
        } else {
            format!("{what} {}", show(self.new))
        }
    }
}

/// Every cpu and memory value present on `container`, as judged at creation.
pub fn present_values<'a>(container: Judged<'a>) -> Vec<Change<'a>> {
    let mut values = Vec::new();
    for resource in Resource::ALL {
        for amount in Amount::ALL {
            if let Some(new) = container.view.value(resource, amount) {
                values.push(Change {
                    container,
                    resource,
                    amount,
                    old: None,
                    new: Some(new),
                });
            }
        }
    }
    values
}

/// The cpu and memory values that differ between `old` and `new` of the same container.
/// Quantities are compared by value, so `1` to `1000m` is no change.
pub fn changed_values<'a>(old: Judged<'a>, new: Judged<'a>) -> Vec<Change<'a>> {
    let mut changes = Vec::new();
    for resource in Resource::ALL {
        for amount in Amount::ALL {
            let before = old.view.value(resource, amount);
            let after = new.view.value(resource, amount);
            if before != after {
                changes.push(Change {
                    container: new,
                    resource,
                    amount,
                    old: before,
                    new: after,
                });
            }
        }
    }
    changes
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::{Value, json};

    fn raw(value: Value) -> Box<RawValue> {
        serde_json::value::to_raw_value(&value).unwrap()
    }

    fn spec(value: Value) -> PodSpecView {
        PodSpecView::read(WorkloadKind::Pod, &raw(json!({ "spec": value }))).unwrap()
    }

    fn container(resources: Value) -> ContainerView {
        serde_json::from_value(json!({"name": "app", "resources": resources})).unwrap()
    }

    #[test]
    fn judges_regular_containers_and_sidecars_only() {
        let spec = spec(json!({
            "containers": [{"name": "app"}],
            "initContainers": [
                {"name": "migrate"},
                {"name": "proxy", "restartPolicy": "Always"},
                {"name": "once", "restartPolicy": "Never"},
                {"name": "retry", "restartPolicy": "OnFailure"}
            ],
            "ephemeralContainers": [{"name": "debug"}]
        }));
        let names: Vec<String> = spec.judged().map(|c| c.to_string()).collect();
        assert_eq!(names, ["container \"app\"", "sidecar container \"proxy\""]);
    }

    #[test]
    fn reads_quantities_in_every_spelling() {
        let view = container(json!({
            "requests": {"cpu": 0.5, "memory": "1.5Gi"},
            "limits": {"cpu": "1e3", "memory": 1073741824, "nvidia.com/gpu": "1"}
        }));
        let q = |text: &str| Quantity::parse(text).unwrap();
        assert_eq!(view.value(Resource::Cpu, Amount::Request), Some(&q("500m")));
        assert_eq!(
            view.value(Resource::Memory, Amount::Request),
            Some(&q("1536Mi"))
        );
        assert_eq!(view.value(Resource::Cpu, Amount::Limit), Some(&q("1k")));
        assert_eq!(view.value(Resource::Memory, Amount::Limit), Some(&q("1Gi")));
    }

    #[test]
    fn nulls_read_as_absent() {
        let spec = spec(json!({
            "containers": [{"name": "app", "resources": {"requests": null, "limits": {"cpu": null}}, "resizePolicy": null}],
            "initContainers": null
        }));
        let app = spec.judged().next().unwrap();
        assert_eq!(app.view.value(Resource::Cpu, Amount::Limit), None);
        assert!(app.view.resize_policy.is_empty());
    }

    #[test]
    fn malformed_quantities_name_their_path() {
        let error = PodSpecView::read(
            WorkloadKind::Deployment,
            &raw(json!({"spec": {"template": {"spec": {"containers": [{"name": "app", "resources": {"limits": {"memory": "1 Gi"}}}]}}}})),
        )
        .unwrap_err();
        assert!(
            error.starts_with("spec.template.spec.containers[0].resources.limits.memory: invalid quantity \"1 Gi\""),
            "{error}"
        );
    }

    #[test]
    fn spelling_changes_are_no_change() {
        let old =
            container(json!({"requests": {"cpu": "1", "memory": "1Gi"}, "limits": {"cpu": 2}}));
        let new = container(
            json!({"requests": {"cpu": "1000m", "memory": "1024Mi"}, "limits": {"cpu": "2000m"}}),
        );
        let judged = |view| Judged {
            view,
            sidecar: false,
        };
        assert!(changed_values(judged(&old), judged(&new)).is_empty());
    }

    #[test]
    fn changes_list_added_removed_and_changed_values() {
        let old = container(json!({"requests": {"cpu": "1", "memory": "1Gi"}}));
        let new = container(json!({"requests": {"cpu": "2"}, "limits": {"memory": "2Gi"}}));
        let judged = |view| Judged {
            view,
            sidecar: false,
        };
        let changes: Vec<String> = changed_values(judged(&old), judged(&new))
            .iter()
            .map(|c| c.describe(true))
            .collect();
        assert_eq!(
            changes,
            [
                "cpu request 1 -> 2",
                "memory request 1Gi -> none",
                "memory limit none -> 2Gi"
            ]
        );
        let present: Vec<String> = present_values(judged(&new))
            .iter()
            .map(|c| c.describe(false))
            .collect();
        assert_eq!(present, ["cpu request 2", "memory limit 2Gi"]);
    }

    #[test]
    fn resize_restart_policy_defaults_to_not_required() {
        let mut view = container(json!({}));
        assert_eq!(view.resize_restart_policy(Resource::Memory), NOT_REQUIRED);
        view.resize_policy = vec![ResizePolicyView {
            resource_name: "memory".into(),
            restart_policy: RESTART_CONTAINER.into(),
        }];
        assert_eq!(
            view.resize_restart_policy(Resource::Memory),
            RESTART_CONTAINER
        );
        assert_eq!(view.resize_restart_policy(Resource::Cpu), NOT_REQUIRED);
    }

    #[test]
    fn pod_restart_policy_defaults_to_always() {
        assert_eq!(spec(json!({})).pod_restart_policy(), "Always");
        assert_eq!(
            spec(json!({"restartPolicy": "Never"})).pod_restart_policy(),
            "Never"
        );
    }

    #[test]
    fn pairs_containers_by_kind_and_name() {
        let old = spec(json!({
            "containers": [{"name": "app"}, {"name": "proxy"}],
            "initContainers": [{"name": "log", "restartPolicy": "Always"}]
        }));
        let new = spec(json!({
            "containers": [{"name": "proxy"}, {"name": "app"}],
            "initContainers": [{"name": "log", "restartPolicy": "Always"}]
        }));
        for container in new.judged() {
            let found = old.find(&container).unwrap();
            assert_eq!(found.name(), container.name());
            assert_eq!(found.sidecar, container.sidecar);
        }
        let stranger = ContainerView {
            name: "app".into(),
            ..ContainerView::default()
        };
        assert!(
            old.find(&Judged {
                view: &stranger,
                sidecar: true
            })
            .is_none()
        );
    }
}
