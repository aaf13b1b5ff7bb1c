use kepguard_common::PolicySettings;
use kepguard_common::settings::validate_namespaces;
use serde::Deserialize;

/// The values the apiserver accepts for `fsGroupChangePolicy`.
pub const CHANGE_POLICIES: [&str; 2] = ["OnRootMismatch", "Always"];

/// The values the apiserver accepts for `seLinuxChangePolicy`.
pub const SELINUX_CHANGE_POLICIES: [&str; 2] = ["Recursive", "MountOption"];

/// Pod volume source field names (Kubernetes 1.36).
pub const VOLUME_TYPES: [&str; 30] = [
    "awsElasticBlockStore",
    "azureDisk",
    "azureFile",
    "cephfs",
    "cinder",
    "configMap",
    "csi",
    "downwardAPI",
    "emptyDir",
    "ephemeral",
    "fc",
    "flexVolume",
    "flocker",
    "gcePersistentDisk",
    "gitRepo",
    "glusterfs",
    "hostPath",
    "image",
    "iscsi",
    "nfs",
    "persistentVolumeClaim",
    "photonPersistentDisk",
    "portworxVolume",
    "projected",
    "quobyte",
    "rbd",
    "scaleIO",
    "secret",
    "storageos",
    "vsphereVolume",
];

#[derive(Deserialize, Debug, Clone)]
#[serde(rename_all = "camelCase", deny_unknown_fields, default)]
pub struct Settings {
    /// Set the missing policy (true) or reject the pod spec (false).
    pub mutate: bool,
    pub default_policy: String,
    pub allowed_policies: Vec<String>,
    pub volume_types: Vec<String>,
    #[serde(rename = "allowedSELinuxChangePolicies")]
    pub allowed_selinux_change_policies: Vec<String>,
    pub exempt_namespaces: Vec<String>,
}

impl Default for Settings {
    fn default() -> Self {
        Settings {
            mutate: true,
            default_policy: "OnRootMismatch".into(),
            allowed_policies: strings(&CHANGE_POLICIES),
            volume_types: strings(&["persistentVolumeClaim", "ephemeral", "csi"]),
            allowed_selinux_change_policies: strings(&SELINUX_CHANGE_POLICIES),
            exempt_namespaces: Vec::new(),
        }
    }
}

fn strings(values: &[&str]) -> Vec<String> {
    values.iter().map(|v| v.to_string()).collect()
}

/// The settings as the rules read them: checked, every value one the apiserver knows.
#[derive(Debug, Clone, PartialEq)]
pub struct CompiledSettings {
    /// Set the missing policy (true) or reject the pod spec (false).
    pub mutate: bool,
    pub default_policy: &'static str,
    pub allowed_policies: Vec<&'static str>,
    pub volume_types: Vec<&'static str>,
    pub allowed_selinux_change_policies: Vec<&'static str>,
}

/// The known value that `value` names; an unknown one is refused, naming the field and the
/// valid values.
fn known(field: &str, value: &str, valid: &[&'static str]) -> Result<&'static str, String> {
    valid
        .iter()
        .find(|known| **known == value)
        .copied()
        .ok_or_else(|| {
            format!(
                "{field}: unknown value {value:?}; valid values are {}",
                valid.join(", ")
            )
        })
}

/// [`known`] for every value of a list.
fn all_known(
    field: &str,
    values: &[String],
    valid: &[&'static str],
) -> Result<Vec<&'static str>, String> {
    values
        .iter()
        .map(|value| known(field, value, valid))
        .collect()
}

impl PolicySettings for Settings {
    type Compiled = CompiledSettings;

    fn exempt_namespaces(&self) -> &[String] {
        &self.exempt_namespaces
    }

    fn compile(self) -> Result<CompiledSettings, String> {
        let allowed_policies =
            all_known("allowedPolicies", &self.allowed_policies, &CHANGE_POLICIES)?;
        if allowed_policies.is_empty() {
            return Err(format!(
                "allowedPolicies: must name at least one of {}",
                CHANGE_POLICIES.join(", ")
            ));
        }
        let default_policy = known("defaultPolicy", &self.default_policy, &CHANGE_POLICIES)?;
        if !allowed_policies.contains(&default_policy) {
            return Err(format!(
                "defaultPolicy: {default_policy} is not in allowedPolicies [{}]",
                allowed_policies.join(", ")
            ));
        }
        let volume_types = all_known("volumeTypes", &self.volume_types, &VOLUME_TYPES)?;
        let allowed_selinux_change_policies = all_known(
            "allowedSELinuxChangePolicies",
            &self.allowed_selinux_change_policies,
            &SELINUX_CHANGE_POLICIES,
        )?;
        validate_namespaces("exemptNamespaces", &self.exempt_namespaces)?;
        Ok(CompiledSettings {
            mutate: self.mutate,
            default_policy,
            allowed_policies,
            volume_types,
            allowed_selinux_change_policies,
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use kepguard_testing::unit::{assert_refused_settings, assert_valid_settings, compile};
    use serde_json::json;

    #[test]
    fn defaults_are_valid() {
        assert_eq!(
            compile::<Settings>(json!({})),
            Ok(CompiledSettings {
                mutate: true,
                default_policy: "OnRootMismatch",
                allowed_policies: vec!["OnRootMismatch", "Always"],
                volume_types: vec!["persistentVolumeClaim", "ephemeral", "csi"],
                allowed_selinux_change_policies: vec!["Recursive", "MountOption"],
            })
        );
    }

    #[test]
    fn valid_settings() {
        assert_valid_settings::<Settings>([
            (
                "Always as the default",
                json!({"allowedPolicies": ["Always"], "defaultPolicy": "Always"}),
            ),
            ("validate mode", json!({"mutate": false})),
            ("every volume type", json!({"volumeTypes": VOLUME_TYPES})),
            (
                "exempt namespaces",
                json!({"exemptNamespaces": ["kube-system"]}),
            ),
        ]);
    }

    #[test]
    fn invalid_settings_name_the_field_and_the_valid_values() {
        assert_refused_settings::<Settings>([
            (
                "a wrongly cased policy",
                json!({"allowedPolicies": ["onRootMismatch"]}),
                "allowedPolicies: unknown value \"onRootMismatch\"; valid values are OnRootMismatch, Always",
            ),
            (
                "an unknown volume type",
                json!({"volumeTypes": ["pvc"]}),
                "volumeTypes: unknown value \"pvc\"; valid values are awsElasticBlockStore, azureDisk, azureFile, cephfs, cinder, configMap, csi, downwardAPI, emptyDir, ephemeral, fc, flexVolume, flocker, gcePersistentDisk, gitRepo, glusterfs, hostPath, image, iscsi, nfs, persistentVolumeClaim, photonPersistentDisk, portworxVolume, projected, quobyte, rbd, scaleIO, secret, storageos, vsphereVolume",
            ),
            (
                "a wrongly cased SELinux policy",
                json!({"allowedSELinuxChangePolicies": ["recursive"]}),
                "allowedSELinuxChangePolicies: unknown value \"recursive\"; valid values are Recursive, MountOption",
            ),
            (
                "an unknown default",
                json!({"defaultPolicy": "Never"}),
                "defaultPolicy: unknown value \"Never\"; valid values are OnRootMismatch, Always",
            ),
            (
                "a default that is not allowed",
                json!({"allowedPolicies": ["Always"]}),
                "defaultPolicy: OnRootMismatch is not in allowedPolicies [Always]",
            ),
            (
                "no allowed policy",
                json!({"allowedPolicies": []}),
                "allowedPolicies: must name at least one of OnRootMismatch, Always",
            ),
            (
                "an invalid namespace",
                json!({"exemptNamespaces": ["Kube System"]}),
                "exemptNamespaces: \"Kube System\" is not a valid namespace name (lowercase letters, digits and '-', at most 63 characters)",
            ),
        ]);
    }

    #[test]
    fn refuses_unknown_keys() {
        let error = compile::<Settings>(json!({"mutat": true})).unwrap_err();
        assert!(error.contains("unknown field `mutat`"), "{error}");
    }
}
