//! What a resize can change, read from a pod spec into small views: the cpu and memory values
//! of every container and of the pod (`spec.resources`), and the size of memory-backed
//! `emptyDir` volumes.

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

/// Whether a value is a request or a limit.
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
    /// The pod-level resources (KEP-2837).
    #[serde(deserialize_with = "null_as_default")]
    pub resources: ResourcesView,
    #[serde(deserialize_with = "null_as_default")]
    pub volumes: Vec<VolumeView>,
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

#[derive(Deserialize, Default, Debug)]
#[serde(rename_all = "camelCase", default)]
pub struct VolumeView {
    pub name: String,
    pub empty_dir: Option<EmptyDirView>,
}

#[derive(Deserialize, Default, Debug)]
#[serde(rename_all = "camelCase", default)]
pub struct EmptyDirView {
    pub medium: Option<String>,
    pub size_limit: Option<Quantity>,
}

/// Lists and objects may be `null` in hand-written manifests; that means absent.
fn null_as_default<'de, D, T>(deserializer: D) -> Result<T, D::Error>
where
    D: Deserializer<'de>,
    T: Deserialize<'de> + Default,
{
    Option::<T>::deserialize(deserializer).map(Option::unwrap_or_default)
}

impl ResourcesView {
    pub fn value(&self, resource: Resource, amount: Amount) -> Option<&Quantity> {
        let list = match amount {
            Amount::Request => &self.requests,
            Amount::Limit => &self.limits,
        };
        match resource {
            Resource::Cpu => list.cpu.as_ref(),
            Resource::Memory => list.memory.as_ref(),
        }
    }
}

impl ContainerView {
    pub fn value(&self, resource: Resource, amount: Amount) -> Option<&Quantity> {
        self.resources.value(resource, amount)
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

/// Where a container sits. Ephemeral containers have no resources and are never read.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ContainerKind {
    Regular,
    /// An init container with `restartPolicy: Always` (a native sidecar).
    Sidecar,
    /// Any other init container: no restartPolicy, `Never` or `OnFailure`.
    Init,
}

/// A container whose resources are judged: every regular and init container.
#[derive(Debug, Clone, Copy)]
pub struct Judged<'a> {
    pub view: &'a ContainerView,
    pub kind: ContainerKind,
}

impl Judged<'_> {
    pub fn name(&self) -> &str {
        &self.view.name
    }
}

impl fmt::Display for Judged<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let kind = match self.kind {
            ContainerKind::Regular => "container",
            ContainerKind::Sidecar => "sidecar container",
            ContainerKind::Init => "init container",
        };
        write!(f, "{kind} {:?}", self.view.name)
    }
}

/// Whose value a [`Change`] is: a container's, or the pod's own `resources`, which sit at
/// the given pod spec path (`spec` in a Pod, `spec.template.spec` in a Deployment, ...).
#[derive(Debug, Clone, Copy)]
pub enum Owner<'a> {
    Container(Judged<'a>),
    Pod(&'static str),
}

impl fmt::Display for Owner<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Owner::Container(container) => container.fmt(f),
            Owner::Pod(spec_path) => write!(f, "pod-level {spec_path}.resources"),
        }
    }
}

impl PodSpecView {
    pub fn read(kind: WorkloadKind, object: &RawValue) -> Result<PodSpecView, String> {
        podspec::read_pod_spec(kind, object)
    }

    /// Regular containers, then init containers in order. Ephemeral containers have no
    /// resources and are not read.
    pub fn judged(&self) -> impl Iterator<Item = Judged<'_>> {
        let regular = self.containers.iter().map(|view| Judged {
            view,
            kind: ContainerKind::Regular,
        });
        let init = self.init_containers.iter().map(|view| Judged {
            view,
            kind: if is_native_sidecar_policy(view.restart_policy.as_deref()) {
                ContainerKind::Sidecar
            } else {
                ContainerKind::Init
            },
        });
        regular.chain(init)
    }

    /// The container of the same kind (regular, sidecar or init) and name.
    pub fn find(&self, like: &Judged<'_>) -> Option<Judged<'_>> {
        self.judged()
            .find(|c| c.kind == like.kind && c.name() == like.name())
    }

    /// The pod's restartPolicy; the apiserver defaults it to `Always`.
    pub fn pod_restart_policy(&self) -> &str {
        self.restart_policy.as_deref().unwrap_or("Always")
    }

    /// The containers without a limit of `resource` of their own, which the pod-level limit
    /// caps instead (KEP-2837).
    pub fn unlimited(&self, resource: Resource) -> impl Iterator<Item = Judged<'_>> {
        self.judged()
            .filter(move |c| c.view.value(resource, Amount::Limit).is_none())
    }

    /// The memory-backed (`medium: Memory`) emptyDir volumes, by name, with their sizeLimit.
    pub fn memory_volumes(&self) -> impl Iterator<Item = (&str, Option<&Quantity>)> {
        self.volumes.iter().filter_map(|volume| {
            let empty_dir = volume.empty_dir.as_ref()?;
            (empty_dir.medium.as_deref() == Some("Memory"))
                .then_some((volume.name.as_str(), empty_dir.size_limit.as_ref()))
        })
    }
}

/// One cpu or memory request or limit, before and after an update.
/// At creation, or for a container that is new, `old` is `None` and `existing` is false.
#[derive(Debug, Clone, Copy)]
pub struct Change<'a> {
    pub owner: Owner<'a>,
    pub resource: Resource,
    pub amount: Amount,
    pub old: Option<&'a Quantity>,
    pub new: Option<&'a Quantity>,
}

impl Change<'_> {
    /// `cpu limit 2 -> 6`, or `cpu limit 6` when there is no old value to show.
    pub fn describe(&self, existing: bool) -> String {
        let what = format!("{} {}", self.resource.name(), self.amount.name());
        if existing {
            format!("{what} {} -> {}", show(self.old), show(self.new))
        } else {
            format!("{what} {}", show(self.new))
        }
    }
}

/// A quantity as written, or `none`.
pub fn show(value: Option<&Quantity>) -> String {
    value.map_or("none".to_string(), Quantity::to_string)
}

/// Every cpu and memory value present in `resources`, as judged at creation.
pub fn present_values<'a>(owner: Owner<'a>, resources: &'a ResourcesView) -> Vec<Change<'a>> {
    let mut values = Vec::new();
    for resource in Resource::ALL {
        for amount in Amount::ALL {
            if let Some(new) = resources.value(resource, amount) {
                values.push(Change {
                    owner,
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

/// The cpu and memory values that differ between `old` and `new` resources of one owner.
/// Quantities are compared by value, so `1` to `1000m` is no change.
pub fn changed_values<'a>(
    owner: Owner<'a>,
    old: &'a ResourcesView,
    new: &'a ResourcesView,
) -> Vec<Change<'a>> {
    let mut changes = Vec::new();
    for resource in Resource::ALL {
        for amount in Amount::ALL {
            let before = old.value(resource, amount);
            let after = new.value(resource, amount);
            if before != after {
                changes.push(Change {
                    owner,
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

    fn resources(value: Value) -> ResourcesView {
        serde_json::from_value(value).unwrap()
    }

    fn q(text: &str) -> Quantity {
        Quantity::parse(text).unwrap()
    }

    #[test]
    fn judges_every_regular_and_init_container_but_not_ephemeral_ones() {
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
        assert_eq!(
            names,
            [
                "container \"app\"",
                "init container \"migrate\"",
                "sidecar container \"proxy\"",
                "init container \"once\"",
                "init container \"retry\""
            ]
        );
    }

    #[test]
    fn reads_quantities_in_every_spelling() {
        let view = resources(json!({
            "requests": {"cpu": 0.5, "memory": "1.5Gi"},
            "limits": {"cpu": "1e3", "memory": 1073741824, "nvidia.com/gpu": "1"}
        }));
        let cases = [
            (Resource::Cpu, Amount::Request, "500m"),
            (Resource::Memory, Amount::Request, "1536Mi"),
            (Resource::Cpu, Amount::Limit, "1k"),
            (Resource::Memory, Amount::Limit, "1Gi"),
        ];
        for (resource, amount, expected) in cases {
            assert_eq!(view.value(resource, amount), Some(&q(expected)));
        }
    }

    #[test]
    fn reads_pod_level_resources_and_memory_backed_volumes() {
        let spec = spec(json!({
            "resources": {"limits": {"cpu": "4"}},
            "containers": [{"name": "app", "resources": {"limits": {"memory": "1Gi"}}}],
            "initContainers": [{"name": "setup", "resources": {"limits": {"cpu": "1"}}}],
            "volumes": [
                {"name": "tmp", "emptyDir": {"medium": "Memory", "sizeLimit": "1Gi"}},
                {"name": "unsized", "emptyDir": {"medium": "Memory"}},
                {"name": "disk", "emptyDir": {"sizeLimit": "10Gi"}},
                {"name": "pages", "emptyDir": {"medium": "HugePages"}},
                {"name": "config", "configMap": {"name": "x"}}
            ]
        }));
        assert_eq!(
            spec.resources.value(Resource::Cpu, Amount::Limit),
            Some(&q("4"))
        );
        let volumes: Vec<(&str, Option<&Quantity>)> = spec.memory_volumes().collect();
        let size = q("1Gi");
        assert_eq!(volumes, [("tmp", Some(&size)), ("unsized", None)]);
        let unlimited =
            |resource| -> Vec<String> { spec.unlimited(resource).map(|c| c.to_string()).collect() };
        assert_eq!(unlimited(Resource::Cpu), ["container \"app\""]);
        assert_eq!(unlimited(Resource::Memory), ["init container \"setup\""]);
    }

    #[test]
    fn nulls_read_as_absent() {
        let spec = spec(json!({
            "containers": [{"name": "app", "resources": {"requests": null, "limits": {"cpu": null}}, "resizePolicy": null}],
            "initContainers": null,
            "resources": null,
            "volumes": null
        }));
        let app = spec.judged().next().unwrap();
        assert_eq!(app.view.value(Resource::Cpu, Amount::Limit), None);
        assert!(app.view.resize_policy.is_empty());
        assert_eq!(spec.resources.value(Resource::Cpu, Amount::Limit), None);
        assert_eq!(spec.memory_volumes().count(), 0);
    }

    #[test]
    fn malformed_quantities_name_their_path() {
        let cases = [
            (
                json!({"containers": [{"name": "app", "resources": {"limits": {"memory": "1 Gi"}}}]}),
                "spec.template.spec.containers[0].resources.limits.memory: invalid quantity \"1 Gi\"",
            ),
            (
                json!({"resources": {"requests": {"cpu": "two"}}}),
                "spec.template.spec.resources.requests.cpu: invalid quantity \"two\"",
            ),
            (
                json!({"volumes": [{"name": "v", "emptyDir": {"medium": "Memory", "sizeLimit": "big"}}]}),
                "spec.template.spec.volumes[0].emptyDir.sizeLimit: invalid quantity \"big\"",
            ),
        ];
        for (spec, expected) in cases {
            let error = PodSpecView::read(
                WorkloadKind::Deployment,
                &raw(json!({"spec": {"template": {"spec": spec}}})),
            )
            .unwrap_err();
            assert!(error.starts_with(expected), "{error}");
        }
    }

    #[test]
    fn changes_list_added_removed_and_changed_values_by_value() {
        let cases = [
            (
                json!({"requests": {"cpu": "1", "memory": "1Gi"}, "limits": {"cpu": 2}}),
                json!({"requests": {"cpu": "1000m", "memory": "1024Mi"}, "limits": {"cpu": "2000m"}}),
                vec![],
            ),
            (
                json!({"requests": {"cpu": "1", "memory": "1Gi"}}),
                json!({"requests": {"cpu": "2"}, "limits": {"memory": "2Gi"}}),
                vec![
                    "cpu request 1 -> 2",
                    "memory request 1Gi -> none",
                    "memory limit none -> 2Gi",
                ],
            ),
        ];
        for (old, new, expected) in cases {
            let (old, new) = (resources(old), resources(new));
            let changes: Vec<String> = changed_values(Owner::Pod("spec"), &old, &new)
                .iter()
                .map(|c| c.describe(true))
                .collect();
            assert_eq!(changes, expected);
        }
        let new = resources(json!({"requests": {"cpu": "2"}, "limits": {"memory": "2Gi"}}));
        let present: Vec<String> = present_values(Owner::Pod("spec"), &new)
            .iter()
            .map(|c| c.describe(false))
            .collect();
        assert_eq!(present, ["cpu request 2", "memory limit 2Gi"]);
    }

    #[test]
    fn resize_restart_policy_defaults_to_not_required() {
        let cases = [
            (json!([]), Resource::Memory, NOT_REQUIRED),
            (
                json!([{"resourceName": "memory", "restartPolicy": "RestartContainer"}]),
                Resource::Memory,
                RESTART_CONTAINER,
            ),
            (
                json!([{"resourceName": "memory", "restartPolicy": "RestartContainer"}]),
                Resource::Cpu,
                NOT_REQUIRED,
            ),
        ];
        for (policy, resource, expected) in cases {
            let view: ContainerView =
                serde_json::from_value(json!({"name": "app", "resizePolicy": policy})).unwrap();
            assert_eq!(view.resize_restart_policy(resource), expected);
        }
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
            "initContainers": [{"name": "log", "restartPolicy": "Always"}, {"name": "setup"}]
        }));
        let new = spec(json!({
            "containers": [{"name": "proxy"}, {"name": "app"}],
            "initContainers": [{"name": "setup"}, {"name": "log", "restartPolicy": "Always"}]
        }));
        for container in new.judged() {
            let found = old.find(&container).unwrap();
            assert_eq!(found.name(), container.name());
            assert_eq!(found.kind, container.kind);
        }
        let stranger = ContainerView {
            name: "app".into(),
            ..ContainerView::default()
        };
        for kind in [ContainerKind::Sidecar, ContainerKind::Init] {
            let like = Judged {
                view: &stranger,
                kind,
            };
            assert!(old.find(&like).is_none(), "{kind:?}");
        }
    }
}
