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

/// Refuses any value outside `valid`, naming the field and the valid values.
fn check_known(field: &str, values: &[String], valid: &[&str]) -> Result<(), String> {
    match values.iter().find(|v| !valid.contains(&v.as_str())) {
        Some(unknown) => Err(format!(
            "{field}: unknown value {unknown:?}; valid values are {}",
            valid.join(", ")
        )),
        None => Ok(()),
    }
}

impl Settings {
    /// Checks every field; the error names the field and the values it accepts.
    pub fn check(&self) -> Result<(), String> {
        check_known("allowedPolicies", &self.allowed_policies, &CHANGE_POLICIES)?;
        if self.allowed_policies.is_empty() {
            return Err(format!(
                "allowedPolicies: must name at least one of {}",
                CHANGE_POLICIES.join(", ")
            ));
        }
        check_known(
            "defaultPolicy",
            std::slice::from_ref(&self.default_policy),
            &CHANGE_POLICIES,
        )?;
        if !self.allowed_policies.contains(&self.default_policy) {
            return Err(format!(
                "defaultPolicy: {} is not in allowedPolicies [{}]",
                self.default_policy,
                self.allowed_policies.join(", ")
            ));
        }
        check_known("volumeTypes", &self.volume_types, &VOLUME_TYPES)?;
        check_known(
            "allowedSELinuxChangePolicies",
            &self.allowed_selinux_change_policies,
            &SELINUX_CHANGE_POLICIES,
        )?;
        validate_namespaces("exemptNamespaces", &self.exempt_namespaces)
    }
}

impl PolicySettings for Settings {
    type Compiled = Self;

    fn exempt_namespaces(&self) -> &[String] {
        &self.exempt_namespaces
    }

    fn compile(self) -> Result<Self, String> {
        self.check()?;
        Ok(self)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn validate(settings: serde_json::Value) -> Result<(), String> {
        serde_json::from_value::<Settings>(settings)
            .map_err(|e| e.to_string())?
            .check()
    }

    #[test]
    fn defaults_are_valid() {
        assert_eq!(validate(json!({})), Ok(()));
        let settings = Settings::default();
        assert!(settings.mutate);
        assert_eq!(settings.default_policy, "OnRootMismatch");
    }

    #[test]
    fn refuses_unknown_values_naming_the_field() {
        let error = validate(json!({"allowedPolicies": ["onRootMismatch"]})).unwrap_err();
        assert_eq!(
            error,
            "allowedPolicies: unknown value \"onRootMismatch\"; valid values are OnRootMismatch, Always"
        );
        let error = validate(json!({"volumeTypes": ["pvc"]})).unwrap_err();
        assert!(
            error.starts_with("volumeTypes: unknown value \"pvc\""),
            "{error}"
        );
        let error = validate(json!({"allowedSELinuxChangePolicies": ["recursive"]})).unwrap_err();
        assert!(
            error.starts_with("allowedSELinuxChangePolicies: unknown value"),
            "{error}"
        );
        let error = validate(json!({"defaultPolicy": "Never"})).unwrap_err();
        assert!(
            error.starts_with("defaultPolicy: unknown value \"Never\""),
            "{error}"
        );
    }

    #[test]
    fn default_policy_must_be_allowed() {
        let error = validate(json!({"allowedPolicies": ["Always"]})).unwrap_err();
        assert_eq!(
            error,
            "defaultPolicy: OnRootMismatch is not in allowedPolicies [Always]"
        );
        assert_eq!(
            validate(json!({"allowedPolicies": ["Always"], "defaultPolicy": "Always"})),
            Ok(())
        );
    }

    #[test]
    fn refuses_empty_allowed_policies_and_unknown_keys() {
        let error = validate(json!({"allowedPolicies": []})).unwrap_err();
        assert!(error.starts_with("allowedPolicies: must name"), "{error}");
        let error = validate(json!({"mutat": true})).unwrap_err();
        assert!(error.contains("unknown field `mutat`"), "{error}");
    }
}
