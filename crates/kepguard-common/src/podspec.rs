//! Where the pod spec lives in a Pod and in every workload that carries a pod template.

use crate::Verdict;
use crate::request::AdmissionRequest;
use crate::view::{self, read_view};
use k8s_openapi::Resource;
use k8s_openapi::api::apps::v1::{DaemonSet, Deployment, ReplicaSet, StatefulSet};
use k8s_openapi::api::batch::v1::{CronJob, Job};
use k8s_openapi::api::core::v1::{Pod, ReplicationController};
use serde::Deserialize;
use serde::de::DeserializeOwned;
use serde_json::Value;
use serde_json::value::RawValue;

/// A kind that is a Pod or carries a pod template.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum WorkloadKind {
    Pod,
    Deployment,
    ReplicaSet,
    StatefulSet,
    DaemonSet,
    Job,
    CronJob,
    ReplicationController,
}

impl WorkloadKind {
    pub const ALL: [WorkloadKind; 8] = [
        WorkloadKind::Pod,
        WorkloadKind::Deployment,
        WorkloadKind::ReplicaSet,
        WorkloadKind::StatefulSet,
        WorkloadKind::DaemonSet,
        WorkloadKind::Job,
        WorkloadKind::CronJob,
        WorkloadKind::ReplicationController,
    ];

    /// Recognises a kind by its API group and kind, as in an AdmissionRequest's `kind`.
    pub fn from_group_kind(group: &str, kind: &str) -> Option<WorkloadKind> {
        WorkloadKind::ALL
            .into_iter()
            .find(|candidate| candidate.group() == group && candidate.kind() == kind)
    }

    /// The workload kind of an admission request, if it is one.
    pub fn of_request(request: &AdmissionRequest) -> Option<WorkloadKind> {
        WorkloadKind::from_group_kind(&request.kind.group, &request.kind.kind)
    }

    /// For rules on pod-spec fields a running Pod cannot change (its securityContext, its
    /// container lists): the kind to judge at every CREATE and at a workload UPDATE, and
    /// `None` for a Pod UPDATE, other operations and other kinds.
    pub fn judged_when_spec_is_immutable(request: &AdmissionRequest) -> Option<WorkloadKind> {
        let kind = WorkloadKind::of_request(request)?;
        match request.operation.as_str() {
            "CREATE" => Some(kind),
            "UPDATE" if !kind.is_pod() => Some(kind),
            _ => None,
        }
    }

    /// The rejection for an object whose fields could not be read.
    pub fn invalid(self, error: &str) -> Verdict {
        Verdict::reject(format!("invalid {}: {error}", self.kind()))
    }

    pub fn kind(self) -> &'static str {
        match self {
            WorkloadKind::Pod => Pod::KIND,
            WorkloadKind::Deployment => Deployment::KIND,
            WorkloadKind::ReplicaSet => ReplicaSet::KIND,
            WorkloadKind::StatefulSet => StatefulSet::KIND,
            WorkloadKind::DaemonSet => DaemonSet::KIND,
            WorkloadKind::Job => Job::KIND,
            WorkloadKind::CronJob => CronJob::KIND,
            WorkloadKind::ReplicationController => ReplicationController::KIND,
        }
    }

    pub fn group(self) -> &'static str {
        match self {
            WorkloadKind::Pod => Pod::GROUP,
            WorkloadKind::Deployment => Deployment::GROUP,
            WorkloadKind::ReplicaSet => ReplicaSet::GROUP,
            WorkloadKind::StatefulSet => StatefulSet::GROUP,
            WorkloadKind::DaemonSet => DaemonSet::GROUP,
            WorkloadKind::Job => Job::GROUP,
            WorkloadKind::CronJob => CronJob::GROUP,
            WorkloadKind::ReplicationController => ReplicationController::GROUP,
        }
    }

    pub fn api_version(self) -> &'static str {
        match self {
            WorkloadKind::Pod => Pod::API_VERSION,
            WorkloadKind::Deployment => Deployment::API_VERSION,
            WorkloadKind::ReplicaSet => ReplicaSet::API_VERSION,
            WorkloadKind::StatefulSet => StatefulSet::API_VERSION,
            WorkloadKind::DaemonSet => DaemonSet::API_VERSION,
            WorkloadKind::Job => Job::API_VERSION,
            WorkloadKind::CronJob => CronJob::API_VERSION,
            WorkloadKind::ReplicationController => ReplicationController::API_VERSION,
        }
    }

    pub fn is_pod(self) -> bool {
        self == WorkloadKind::Pod
    }

    /// Whether the pods of this kind run to completion, so a container that never exits
    /// keeps them from finishing.
    pub fn runs_to_completion(self) -> bool {
        matches!(self, WorkloadKind::Job | WorkloadKind::CronJob)
    }

    /// The keys that lead from the object to its pod spec.
    pub fn pod_spec_keys(self) -> &'static [&'static str] {
        match self {
            WorkloadKind::Pod => &["spec"],
            WorkloadKind::CronJob => &["spec", "jobTemplate", "spec", "template", "spec"],
            _ => &["spec", "template", "spec"],
        }
    }

    /// The pod spec's path in messages: `spec.template.spec`.
    pub fn pod_spec_path(self) -> &'static str {
        match self {
            WorkloadKind::Pod => "spec",
            WorkloadKind::CronJob => "spec.jobTemplate.spec.template.spec",
            _ => "spec.template.spec",
        }
    }

    /// The pod spec's location as an RFC 6901 JSON pointer.
    pub fn pod_spec_pointer(self) -> &'static str {
        match self {
            WorkloadKind::Pod => "/spec",
            WorkloadKind::CronJob => "/spec/jobTemplate/spec/template/spec",
            _ => "/spec/template/spec",
        }
    }

    /// The keys that lead from the object to the pod's metadata: the Pod's own, or the
    /// template's, whose annotations and labels every created pod gets.
    pub fn pod_metadata_keys(self) -> &'static [&'static str] {
        match self {
            WorkloadKind::Pod => &["metadata"],
            WorkloadKind::CronJob => &["spec", "jobTemplate", "spec", "template", "metadata"],
            _ => &["spec", "template", "metadata"],
        }
    }

    /// The pod metadata's path in messages: `spec.template.metadata`.
    pub fn pod_metadata_path(self) -> &'static str {
        match self {
            WorkloadKind::Pod => "metadata",
            WorkloadKind::CronJob => "spec.jobTemplate.spec.template.metadata",
            _ => "spec.template.metadata",
        }
    }

    /// The pod metadata's location as an RFC 6901 JSON pointer.
    pub fn pod_metadata_pointer(self) -> &'static str {
        match self {
            WorkloadKind::Pod => "/metadata",
            WorkloadKind::CronJob => "/spec/jobTemplate/spec/template/metadata",
            _ => "/spec/template/metadata",
        }
    }
}

/// The pod spec of `object`, or `None` when the object has none (yet).
/// A value of the wrong type on the way is an error naming its path.
pub fn pod_spec(kind: WorkloadKind, object: &RawValue) -> Result<Option<&RawValue>, String> {
    object_at(object, kind.pod_spec_keys())
}

/// The object under `keys`, or `None` when one is missing; see [`pod_spec`].
fn object_at<'a>(object: &'a RawValue, keys: &[&str]) -> Result<Option<&'a RawValue>, String> {
    let mut current = object;
    let mut path = String::new();
    for key in keys {
        let next = view::member(current, key).map_err(|_| not_an_object(&path))?;
        if !path.is_empty() {
            path.push('.');
        }
        path.push_str(key);
        match next {
            None => return Ok(None),
            Some(next) => current = next,
        }
    }
    if !current.get().starts_with('{') {
        return Err(not_an_object(&path));
    }
    Ok(Some(current))
}

/// The pod spec of `object` for in-place mutation; see [`pod_spec`].
pub fn pod_spec_mut(kind: WorkloadKind, object: &mut Value) -> Option<&mut Value> {
    object
        .pointer_mut(kind.pod_spec_pointer())
        .filter(|spec| spec.is_object())
}

/// For rules on pod-spec fields a running Pod cannot change: `judge` applied to the object
/// of a request [`WorkloadKind::judged_when_spec_is_immutable`] picks, an error becoming the
/// kind's rejection ([`WorkloadKind::invalid`]). Any other request is accepted.
pub fn judge_immutable_spec(
    request: &AdmissionRequest,
    judge: impl FnOnce(WorkloadKind, &RawValue) -> Result<Verdict, String>,
) -> Verdict {
    let Some(kind) = WorkloadKind::judged_when_spec_is_immutable(request) else {
        return Verdict::accept();
    };
    judge(kind, &request.object).unwrap_or_else(|error| kind.invalid(&error))
}

/// A copy of `object` with its pod spec changed by `patch`. The raw JSON is edited, never a
/// typed object, so fields no view knows survive.
pub fn patch_pod_spec(
    kind: WorkloadKind,
    object: &RawValue,
    patch: impl FnOnce(&mut Value) -> Result<(), String>,
) -> Result<Value, String> {
    let mut object: Value =
        serde_json::from_str(object.get()).map_err(|error| error.to_string())?;
    patch(pod_spec_mut(kind, &mut object).ok_or("the pod spec cannot be patched")?)?;
    Ok(object)
}

/// Reads the pod spec of `object` into a view struct holding only the fields a rule needs.
/// A missing pod spec reads as `T::default()`. Wrong types are errors naming the full path,
/// such as `spec.template.spec.containers[0].name: invalid type: ...`.
pub fn read_pod_spec<T: DeserializeOwned + Default>(
    kind: WorkloadKind,
    object: &RawValue,
) -> Result<T, String> {
    read_under(object, kind.pod_spec_keys(), kind.pod_spec_path())
}

/// Reads the pod metadata of `object` (the Pod's, or its template's) into a view struct, like
/// [`read_pod_spec`].
pub fn read_pod_metadata<T: DeserializeOwned + Default>(
    kind: WorkloadKind,
    object: &RawValue,
) -> Result<T, String> {
    read_under(object, kind.pod_metadata_keys(), kind.pod_metadata_path())
}

/// The pod metadata of `object` for in-place mutation; see [`read_pod_metadata`].
pub fn pod_metadata_mut(kind: WorkloadKind, object: &mut Value) -> Option<&mut Value> {
    object
        .pointer_mut(kind.pod_metadata_pointer())
        .filter(|metadata| metadata.is_object())
}

fn read_under<T: DeserializeOwned + Default>(
    object: &RawValue,
    keys: &[&str],
    path: &str,
) -> Result<T, String> {
    if let Ok(view) = view::read_at(object, keys) {
        return Ok(view.unwrap_or_default());
    }
    // Read again, step by step, to name the path of the error.
    match object_at(object, keys)? {
        None => Ok(T::default()),
        Some(found) => read_view(found, path),
    }
}

fn not_an_object(path: &str) -> String {
    if path.is_empty() {
        "the object is not a JSON object".to_string()
    } else {
        format!("{path} is not an object")
    }
}

/// The three container lists of a pod spec, read into a view `C` of each container. Lists are
/// `Option`s because the apiserver takes `null` for an empty list.
#[derive(Deserialize, Debug)]
#[serde(rename_all = "camelCase", default)]
pub struct ContainerLists<C> {
    pub init_containers: Option<Vec<C>>,
    pub containers: Option<Vec<C>>,
    pub ephemeral_containers: Option<Vec<C>>,
}

impl<C> Default for ContainerLists<C> {
    fn default() -> Self {
        ContainerLists {
            init_containers: None,
            containers: None,
            ephemeral_containers: None,
        }
    }
}

impl<C> ContainerLists<C> {
    /// Every container with its list's JSON key and its index in that list.
    pub fn iter(&self) -> impl Iterator<Item = (&'static str, usize, &C)> {
        [
            ("initContainers", &self.init_containers),
            ("containers", &self.containers),
            ("ephemeralContainers", &self.ephemeral_containers),
        ]
        .into_iter()
        .flat_map(|(key, list)| {
            list.iter()
                .flatten()
                .enumerate()
                .map(move |(index, container)| (key, index, container))
        })
    }
}

/// `restartPolicy: Always` on an init container makes it a native sidecar (KEP-753).
/// `Never` and `OnFailure` (Kubernetes 1.34+) do not.
pub fn is_native_sidecar_policy(restart_policy: Option<&str>) -> bool {
    restart_policy == Some("Always")
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde::Deserialize;
    use serde_json::json;

    #[derive(Deserialize, Default, Debug, PartialEq)]
    #[serde(rename_all = "camelCase", default)]
    struct ContainersView {
        containers: Vec<NameView>,
    }

    #[derive(Deserialize, Default, Debug, PartialEq)]
    #[serde(default)]
    struct NameView {
        name: String,
    }

    fn raw(value: &Value) -> Box<RawValue> {
        serde_json::value::to_raw_value(value).unwrap()
    }

    fn object_for(kind: WorkloadKind, spec: Value) -> Value {
        let mut object = json!({});
        let keys = kind.pod_spec_keys();
        let mut current = &mut object;
        for key in &keys[..keys.len() - 1] {
            current[*key] = json!({});
            current = &mut current[*key];
        }
        current[keys[keys.len() - 1]] = spec;
        object
    }

    #[test]
    fn recognises_every_kind_by_group() {
        let expected = [
            ("", "Pod"),
            ("apps", "Deployment"),
            ("apps", "ReplicaSet"),
            ("apps", "StatefulSet"),
            ("apps", "DaemonSet"),
            ("batch", "Job"),
            ("batch", "CronJob"),
            ("", "ReplicationController"),
        ];
        for ((group, kind), workload) in expected.into_iter().zip(WorkloadKind::ALL) {
            assert_eq!(WorkloadKind::from_group_kind(group, kind), Some(workload));
        }
        assert_eq!(
            WorkloadKind::from_group_kind("example.com", "Deployment"),
            None
        );
        assert_eq!(WorkloadKind::from_group_kind("", "Service"), None);
    }

    #[test]
    fn finds_the_pod_spec_of_every_kind() {
        for kind in WorkloadKind::ALL {
            let object = object_for(kind, json!({"containers": [{"name": "app"}]}));
            let raw_object = raw(&object);
            let spec = pod_spec(kind, &raw_object).unwrap().unwrap();
            assert_eq!(spec.get(), r#"{"containers":[{"name":"app"}]}"#, "{kind:?}");
            assert_eq!(
                object.pointer(kind.pod_spec_pointer()).unwrap().to_string(),
                spec.get()
            );
            let view: ContainersView = read_pod_spec(kind, &raw(&object)).unwrap();
            assert_eq!(view.containers[0].name, "app");
        }
    }

    #[test]
    fn missing_spec_is_none_and_reads_as_default() {
        for kind in WorkloadKind::ALL {
            assert!(pod_spec(kind, &raw(&json!({}))).unwrap().is_none());
            assert!(
                pod_spec(kind, &raw(&json!({"spec": null})))
                    .unwrap()
                    .is_none()
            );
            let view: ContainersView = read_pod_spec(kind, &raw(&json!({}))).unwrap();
            assert_eq!(view, ContainersView::default());
        }
    }

    #[test]
    fn wrong_types_name_their_path() {
        let error = pod_spec(
            WorkloadKind::CronJob,
            &raw(&json!({"spec": {"jobTemplate": 3}})),
        )
        .unwrap_err();
        assert_eq!(error, "spec.jobTemplate is not an object");
        let error = pod_spec(WorkloadKind::Pod, &raw(&json!({"spec": []}))).unwrap_err();
        assert_eq!(error, "spec is not an object");
        let error = pod_spec(WorkloadKind::Pod, &raw(&json!("pod"))).unwrap_err();
        assert_eq!(error, "the object is not a JSON object");

        let object = object_for(
            WorkloadKind::Deployment,
            json!({"containers": [{"name": 7}]}),
        );
        let error =
            read_pod_spec::<ContainersView>(WorkloadKind::Deployment, &raw(&object)).unwrap_err();
        assert!(
            error.starts_with("spec.template.spec.containers[0].name: invalid type"),
            "{error}"
        );
    }

    #[test]
    fn mutable_access_reaches_the_same_spec() {
        let mut object = object_for(WorkloadKind::Job, json!({"containers": []}));
        pod_spec_mut(WorkloadKind::Job, &mut object).unwrap()["hostNetwork"] = json!(true);
        assert_eq!(object["spec"]["template"]["spec"]["hostNetwork"], true);
        assert!(pod_spec_mut(WorkloadKind::Pod, &mut json!({"spec": 1})).is_none());
    }

    #[test]
    fn immutable_specs_are_judged_at_create_and_on_workload_updates() {
        let request = |kind: &str, group: &str, operation: &str| -> AdmissionRequest {
            serde_json::from_value(json!({
                "kind": {"group": group, "version": "v1", "kind": kind},
                "operation": operation,
                "object": {"spec": {}},
            }))
            .unwrap()
        };
        let refuse = |kind: WorkloadKind, object: &RawValue| -> Result<Verdict, String> {
            Err(format!("{} {}", kind.kind(), object.get()))
        };
        let cases = [
            (
                "a Pod CREATE",
                request("Pod", "", "CREATE"),
                Verdict::reject(r#"invalid Pod: Pod {"spec":{}}"#),
            ),
            (
                "a Pod UPDATE",
                request("Pod", "", "UPDATE"),
                Verdict::accept(),
            ),
            (
                "a Deployment UPDATE",
                request("Deployment", "apps", "UPDATE"),
                Verdict::reject(r#"invalid Deployment: Deployment {"spec":{}}"#),
            ),
            (
                "a DELETE",
                request("Job", "batch", "DELETE"),
                Verdict::accept(),
            ),
            (
                "a Service",
                request("Service", "", "CREATE"),
                Verdict::accept(),
            ),
        ];
        for (name, request, expected) in cases {
            assert_eq!(judge_immutable_spec(&request, refuse), expected, "{name}");
        }
    }

    #[test]
    fn patching_keeps_every_other_field() {
        let object = object_for(
            WorkloadKind::CronJob,
            json!({"containers": [], "x-unknown": [1, 2.5]}),
        );
        let patched = patch_pod_spec(WorkloadKind::CronJob, &raw(&object), |spec| {
            spec["hostNetwork"] = json!(true);
            Ok(())
        })
        .unwrap();
        assert_eq!(
            patched,
            object_for(
                WorkloadKind::CronJob,
                json!({"containers": [], "x-unknown": [1, 2.5], "hostNetwork": true})
            )
        );
        let failing = |_: &mut Value| Err("refused".to_string());
        assert_eq!(
            patch_pod_spec(WorkloadKind::Pod, &raw(&object), failing),
            Err("refused".to_string())
        );
        assert_eq!(
            patch_pod_spec(WorkloadKind::Pod, &raw(&json!({"spec": 1})), failing),
            Err("the pod spec cannot be patched".to_string())
        );
    }

    #[test]
    fn reads_the_pod_metadata_of_every_kind() {
        #[derive(Deserialize, Default, Debug)]
        #[serde(default)]
        struct MetadataView {
            annotations: std::collections::BTreeMap<String, String>,
        }
        for kind in WorkloadKind::ALL {
            let keys = kind.pod_metadata_keys();
            let mut object = json!({});
            let mut current = &mut object;
            for key in keys {
                current[*key] = json!({});
                current = &mut current[*key];
            }
            *current = json!({"annotations": {"a": "b"}});
            let view: MetadataView = read_pod_metadata(kind, &raw(&object)).unwrap();
            assert_eq!(view.annotations["a"], "b", "{kind:?}");
            assert_eq!(
                kind.pod_metadata_path().replace('.', "/"),
                kind.pod_metadata_pointer()[1..]
            );
            pod_metadata_mut(kind, &mut object).unwrap()["annotations"] = json!({});
            let view: MetadataView = read_pod_metadata(kind, &raw(&object)).unwrap();
            assert!(view.annotations.is_empty());
            *current_mut(&mut object, keys) = json!({"annotations": {"a": 1}});
            let error = read_pod_metadata::<MetadataView>(kind, &raw(&object)).unwrap_err();
            assert!(
                error.starts_with(&format!(
                    "{}.annotations.a: invalid type",
                    kind.pod_metadata_path()
                )),
                "{error}"
            );
        }
    }

    fn current_mut<'a>(object: &'a mut Value, keys: &[&str]) -> &'a mut Value {
        keys.iter().fold(object, |current, key| &mut current[*key])
    }

    #[test]
    fn lists_every_container_with_its_place() {
        let spec = json!({
            "containers": [{"name": "app"}, {"name": "proxy"}],
            "initContainers": null,
            "ephemeralContainers": [{"name": "debug"}]
        });
        let lists: ContainerLists<NameView> =
            read_pod_spec(WorkloadKind::Pod, &raw(&json!({"spec": spec}))).unwrap();
        let places: Vec<_> = lists
            .iter()
            .map(|(key, index, c)| format!("{key}[{index}]={}", c.name))
            .collect();
        assert_eq!(
            places,
            [
                "containers[0]=app",
                "containers[1]=proxy",
                "ephemeralContainers[0]=debug"
            ]
        );
    }

    #[test]
    fn only_always_makes_a_sidecar() {
        assert!(is_native_sidecar_policy(Some("Always")));
        assert!(!is_native_sidecar_policy(Some("Never")));
        assert!(!is_native_sidecar_policy(Some("OnFailure")));
        assert!(!is_native_sidecar_policy(None));
    }
}
