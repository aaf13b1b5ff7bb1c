//! What the rules and the mutation read of a pod spec, and the role each container plays.

use kepguard_common::podspec::is_native_sidecar_policy;
use serde::Deserialize;
use serde::de::IgnoredAny;

/// The parts of a pod spec these rules read. Lists are `Option`s because the apiserver takes
/// `null` for an empty list.
#[derive(Deserialize, Default, Debug)]
#[serde(rename_all = "camelCase", default)]
pub struct PodSpecView {
    pub containers: Option<Vec<ContainerView>>,
    pub init_containers: Option<Vec<ContainerView>>,
    pub termination_grace_period_seconds: Option<i64>,
}

#[derive(Deserialize, Default, Debug)]
#[serde(rename_all = "camelCase", default)]
pub struct ContainerView {
    pub name: String,
    pub image: Option<String>,
    pub restart_policy: Option<String>,
    pub restart_policy_rules: Option<Vec<IgnoredAny>>,
    pub startup_probe: Option<IgnoredAny>,
}

impl PodSpecView {
    pub fn containers(&self) -> &[ContainerView] {
        self.containers.as_deref().unwrap_or_default()
    }

    pub fn init_containers(&self) -> &[ContainerView] {
        self.init_containers.as_deref().unwrap_or_default()
    }
}

impl ContainerView {
    /// A native sidecar when it is an init container (KEP-753); `Never` and `OnFailure`
    /// with `restartPolicyRules` (Kubernetes 1.34+) are not sidecars.
    pub fn is_native_sidecar(&self) -> bool {
        is_native_sidecar_policy(self.restart_policy.as_deref())
    }

    /// Whether it sets a container-level restart behaviour of its own.
    pub fn sets_restart_behaviour(&self) -> bool {
        self.restart_policy.is_some()
            || self
                .restart_policy_rules
                .as_ref()
                .is_some_and(|r| !r.is_empty())
    }

    /// The image as messages show it.
    pub fn image_text(&self) -> &str {
        self.image.as_deref().unwrap_or("none")
    }
}

/// What an init container is to these rules.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum InitRole {
    /// An ordinary init container matched by `setupContainers`.
    Setup,
    /// A native sidecar matched by `sidecars[index]`.
    Sidecar(usize),
    /// A native sidecar no matcher knows: not constrained.
    OtherSidecar,
    /// Any other init container.
    Ordinary,
}

/// The role of every container of a pod spec.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Roles {
    pub init: Vec<InitRole>,
    /// For each app container, the `sidecars` matcher it matches, if any.
    pub containers: Vec<Option<usize>>,
}
