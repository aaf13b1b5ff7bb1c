//! The resource behind a manifest's kind, as the apiserver's discovery would name it: for
//! built-in kinds the plural and scope come from `k8s-openapi`'s [`Resource`] metadata; other
//! kinds (custom resources) get the apiserver's own guess at a plural.

use k8s_openapi::{ClusterResourceScope, NamespaceResourceScope, Resource};

/// A kind and the resource it is served as.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ResourceType {
    pub group: String,
    pub version: String,
    pub kind: String,
    /// The plural, as in the URL and in webhook rules.
    pub resource: String,
    /// `None` for kinds k8s-openapi does not know: their scope is unknown.
    pub namespaced: Option<bool>,
}

/// The scope of a top-level resource (subresources are not objects one writes in a manifest).
trait Scope {
    const NAMESPACED: bool;
}

impl Scope for NamespaceResourceScope {
    const NAMESPACED: bool = true;
}

impl Scope for ClusterResourceScope {
    const NAMESPACED: bool = false;
}

struct BuiltIn {
    api_version: &'static str,
    group: &'static str,
    version: &'static str,
    kind: &'static str,
    resource: &'static str,
    namespaced: bool,
}

const fn built_in<R: Resource>() -> BuiltIn
where
    R::Scope: Scope,
{
    BuiltIn {
        api_version: R::API_VERSION,
        group: R::GROUP,
        version: R::VERSION,
        kind: R::KIND,
        resource: R::URL_PATH_SEGMENT,
        namespaced: <R::Scope as Scope>::NAMESPACED,
    }
}

macro_rules! built_ins {
    ($($path:path,)*) => {
        &[$(built_in::<$path>(),)*]
    };
}

/// Every top-level kind of Kubernetes 1.36 that k8s-openapi describes.
const BUILT_INS: &[BuiltIn] = built_ins!(
    k8s_openapi::api::admissionregistration::v1::MutatingAdmissionPolicy,
    k8s_openapi::api::admissionregistration::v1::MutatingAdmissionPolicyBinding,
    k8s_openapi::api::admissionregistration::v1::MutatingWebhookConfiguration,
    k8s_openapi::api::admissionregistration::v1::ValidatingAdmissionPolicy,
    k8s_openapi::api::admissionregistration::v1::ValidatingAdmissionPolicyBinding,
    k8s_openapi::api::admissionregistration::v1::ValidatingWebhookConfiguration,
    k8s_openapi::api::admissionregistration::v1alpha1::MutatingAdmissionPolicy,
    k8s_openapi::api::admissionregistration::v1alpha1::MutatingAdmissionPolicyBinding,
    k8s_openapi::api::admissionregistration::v1beta1::MutatingAdmissionPolicy,
    k8s_openapi::api::admissionregistration::v1beta1::MutatingAdmissionPolicyBinding,
    k8s_openapi::api::apiserverinternal::v1alpha1::StorageVersion,
    k8s_openapi::api::apps::v1::ControllerRevision,
    k8s_openapi::api::apps::v1::DaemonSet,
    k8s_openapi::api::apps::v1::Deployment,
    k8s_openapi::api::apps::v1::ReplicaSet,
    k8s_openapi::api::apps::v1::StatefulSet,
    k8s_openapi::api::autoscaling::v1::HorizontalPodAutoscaler,
    k8s_openapi::api::autoscaling::v2::HorizontalPodAutoscaler,
    k8s_openapi::api::batch::v1::CronJob,
    k8s_openapi::api::batch::v1::Job,
    k8s_openapi::api::certificates::v1::CertificateSigningRequest,
    k8s_openapi::api::certificates::v1alpha1::ClusterTrustBundle,
    k8s_openapi::api::certificates::v1beta1::ClusterTrustBundle,
    k8s_openapi::api::certificates::v1beta1::PodCertificateRequest,
    k8s_openapi::api::coordination::v1::Lease,
    k8s_openapi::api::coordination::v1alpha2::LeaseCandidate,
    k8s_openapi::api::coordination::v1beta1::LeaseCandidate,
    k8s_openapi::api::core::v1::ConfigMap,
    k8s_openapi::api::core::v1::Endpoints,
    k8s_openapi::api::core::v1::Event,
    k8s_openapi::api::core::v1::LimitRange,
    k8s_openapi::api::core::v1::Namespace,
    k8s_openapi::api::core::v1::Node,
    k8s_openapi::api::core::v1::PersistentVolume,
    k8s_openapi::api::core::v1::PersistentVolumeClaim,
    k8s_openapi::api::core::v1::Pod,
    k8s_openapi::api::core::v1::PodTemplate,
    k8s_openapi::api::core::v1::ReplicationController,
    k8s_openapi::api::core::v1::ResourceQuota,
    k8s_openapi::api::core::v1::Secret,
    k8s_openapi::api::core::v1::Service,
    k8s_openapi::api::core::v1::ServiceAccount,
    k8s_openapi::api::discovery::v1::EndpointSlice,
    k8s_openapi::api::events::v1::Event,
    k8s_openapi::api::flowcontrol::v1::FlowSchema,
    k8s_openapi::api::flowcontrol::v1::PriorityLevelConfiguration,
    k8s_openapi::api::networking::v1::IPAddress,
    k8s_openapi::api::networking::v1::Ingress,
    k8s_openapi::api::networking::v1::IngressClass,
    k8s_openapi::api::networking::v1::NetworkPolicy,
    k8s_openapi::api::networking::v1::ServiceCIDR,
    k8s_openapi::api::networking::v1beta1::IPAddress,
    k8s_openapi::api::networking::v1beta1::ServiceCIDR,
    k8s_openapi::api::node::v1::RuntimeClass,
    k8s_openapi::api::policy::v1::PodDisruptionBudget,
    k8s_openapi::api::rbac::v1::ClusterRole,
    k8s_openapi::api::rbac::v1::ClusterRoleBinding,
    k8s_openapi::api::rbac::v1::Role,
    k8s_openapi::api::rbac::v1::RoleBinding,
    k8s_openapi::api::resource::v1::DeviceClass,
    k8s_openapi::api::resource::v1::ResourceClaim,
    k8s_openapi::api::resource::v1::ResourceClaimTemplate,
    k8s_openapi::api::resource::v1::ResourceSlice,
    k8s_openapi::api::resource::v1alpha3::DeviceTaintRule,
    k8s_openapi::api::resource::v1alpha3::ResourcePoolStatusRequest,
    k8s_openapi::api::resource::v1beta1::DeviceClass,
    k8s_openapi::api::resource::v1beta1::ResourceClaim,
    k8s_openapi::api::resource::v1beta1::ResourceClaimTemplate,
    k8s_openapi::api::resource::v1beta1::ResourceSlice,
    k8s_openapi::api::resource::v1beta2::DeviceClass,
    k8s_openapi::api::resource::v1beta2::DeviceTaintRule,
    k8s_openapi::api::resource::v1beta2::ResourceClaim,
    k8s_openapi::api::resource::v1beta2::ResourceClaimTemplate,
    k8s_openapi::api::resource::v1beta2::ResourceSlice,
    k8s_openapi::api::scheduling::v1::PriorityClass,
    k8s_openapi::api::scheduling::v1alpha2::PodGroup,
    k8s_openapi::api::scheduling::v1alpha2::Workload,
    k8s_openapi::api::storage::v1::CSIDriver,
    k8s_openapi::api::storage::v1::CSINode,
    k8s_openapi::api::storage::v1::CSIStorageCapacity,
    k8s_openapi::api::storage::v1::StorageClass,
    k8s_openapi::api::storage::v1::VolumeAttachment,
    k8s_openapi::api::storage::v1::VolumeAttributesClass,
    k8s_openapi::api::storage::v1beta1::VolumeAttributesClass,
    k8s_openapi::api::storagemigration::v1beta1::StorageVersionMigration,
    k8s_openapi::apiextensions_apiserver::pkg::apis::apiextensions::v1::CustomResourceDefinition,
    k8s_openapi::kube_aggregator::pkg::apis::apiregistration::v1::APIService,
);

/// The resource of `apiVersion` + `kind`.
pub fn resolve(api_version: &str, kind: &str) -> ResourceType {
    if let Some(known) = BUILT_INS
        .iter()
        .find(|known| known.api_version == api_version && known.kind == kind)
    {
        return ResourceType {
            group: known.group.to_string(),
            version: known.version.to_string(),
            kind: known.kind.to_string(),
            resource: known.resource.to_string(),
            namespaced: Some(known.namespaced),
        };
    }
    let (group, version) = api_version.rsplit_once('/').unwrap_or(("", api_version));
    ResourceType {
        group: group.to_string(),
        version: version.to_string(),
        kind: kind.to_string(),
        resource: guess_plural(kind),
        namespaced: None,
    }
}

/// The apiserver's guess for kinds it has no discovery for, apimachinery's
/// `meta.UnsafeGuessKindToResource`.
fn guess_plural(kind: &str) -> String {
    let singular = kind.to_lowercase();
    if singular.ends_with('s') {
        format!("{singular}es")
    } else if let Some(stem) = singular.strip_suffix('y') {
        format!("{stem}ies")
    } else {
        format!("{singular}s")
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn built_in_kinds_get_their_plural_and_scope() {
        let deployment = resolve("apps/v1", "Deployment");
        assert_eq!(
            (deployment.group.as_str(), deployment.version.as_str()),
            ("apps", "v1")
        );
        assert_eq!(deployment.resource, "deployments");
        assert_eq!(deployment.namespaced, Some(true));
        assert_eq!(resolve("v1", "Endpoints").resource, "endpoints");
        assert_eq!(resolve("v1", "Namespace").namespaced, Some(false));
        assert_eq!(resolve("batch/v1", "CronJob").resource, "cronjobs");
        assert_eq!(
            resolve("networking.k8s.io/v1", "IngressClass").resource,
            "ingressclasses"
        );
    }

    #[test]
    fn other_kinds_get_the_apiserver_s_guess() {
        let policy = resolve("policies.kubewarden.io/v1", "ClusterAdmissionPolicy");
        assert_eq!(policy.group, "policies.kubewarden.io");
        assert_eq!(policy.resource, "clusteradmissionpolicies");
        assert_eq!(policy.namespaced, None);
        assert_eq!(resolve("example.com/v1", "Ingress").resource, "ingresses");
        assert_eq!(resolve("example.com/v1", "Widget").resource, "widgets");
        // A built-in kind under a version k8s-openapi does not have is not built in.
        assert_eq!(resolve("apps/v1beta1", "Deployment").namespaced, None);
    }
}
