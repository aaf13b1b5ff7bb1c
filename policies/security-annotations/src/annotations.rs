//! The deprecated annotations, their values, and the `securityContext` profiles they stand for.

use serde::Deserialize;
use serde_json::{Value, json};
use std::fmt;

/// seccomp's alpha annotation for the whole pod (KEP-135).
pub const SECCOMP_POD: &str = "seccomp.security.alpha.kubernetes.io/pod";
/// seccomp's alpha annotation for one container, followed by its name.
pub const SECCOMP_CONTAINER_PREFIX: &str = "container.seccomp.security.alpha.kubernetes.io/";
/// AppArmor's beta annotation for one container, followed by its name (KEP-24).
pub const APPARMOR_CONTAINER_PREFIX: &str = "container.apparmor.security.beta.kubernetes.io/";

/// Which confinement an annotation configures.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Confinement {
    Seccomp,
    AppArmor,
}

impl Confinement {
    /// The `securityContext` field that replaces the annotation.
    pub fn field(self) -> &'static str {
        match self {
            Confinement::Seccomp => "seccompProfile",
            Confinement::AppArmor => "appArmorProfile",
        }
    }

    fn forms(self) -> &'static str {
        match self {
            Confinement::Seccomp => {
                "runtime/default, docker/default, unconfined or localhost/<profile path>"
            }
            Confinement::AppArmor => "runtime/default, unconfined or localhost/<profile name>",
        }
    }
}

/// Where an annotation applies.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Target {
    Pod,
    Container(String),
}

/// A recognised annotation key.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AnnotationKey {
    pub confinement: Confinement,
    pub target: Target,
}

impl AnnotationKey {
    /// Recognises one of the deprecated keys; other annotations are `None`.
    pub fn parse(key: &str) -> Option<AnnotationKey> {
        if key == SECCOMP_POD {
            return Some(AnnotationKey {
                confinement: Confinement::Seccomp,
                target: Target::Pod,
            });
        }
        let (confinement, container) =
            if let Some(name) = key.strip_prefix(SECCOMP_CONTAINER_PREFIX) {
                (Confinement::Seccomp, name)
            } else {
                (
                    Confinement::AppArmor,
                    key.strip_prefix(APPARMOR_CONTAINER_PREFIX)?,
                )
            };
        Some(AnnotationKey {
            confinement,
            target: Target::Container(container.to_string()),
        })
    }
}

/// A profile as the `securityContext` fields hold it.
#[derive(Deserialize, Debug, Clone, Default, PartialEq, Eq)]
#[serde(rename_all = "camelCase", default)]
pub struct Profile {
    #[serde(rename = "type")]
    pub kind: String,
    pub localhost_profile: Option<String>,
}

pub const RUNTIME_DEFAULT: &str = "RuntimeDefault";
pub const LOCALHOST: &str = "Localhost";
pub const UNCONFINED: &str = "Unconfined";

impl Profile {
    /// The profile an annotation value stands for, or why it stands for none.
    pub fn from_annotation(confinement: Confinement, value: &str) -> Result<Profile, String> {
        let profile = |kind: &str, localhost: Option<&str>| Profile {
            kind: kind.to_string(),
            localhost_profile: localhost.map(str::to_string),
        };
        match value {
            "runtime/default" => Ok(profile(RUNTIME_DEFAULT, None)),
            "docker/default" if confinement == Confinement::Seccomp => {
                Ok(profile(RUNTIME_DEFAULT, None))
            }
            "unconfined" => Ok(profile(UNCONFINED, None)),
            _ => match value.strip_prefix("localhost/") {
                Some(name) if !name.is_empty() && name.trim() == name => {
                    Ok(profile(LOCALHOST, Some(name)))
                }
                Some(_) => Err(
                    "a localhost profile needs a name, without leading or trailing whitespace"
                        .to_string(),
                ),
                None => Err(format!("the valid values are {}", confinement.forms())),
            },
        }
    }

    pub fn is_unconfined(&self) -> bool {
        self.kind == UNCONFINED
    }

    /// The field's value as JSON.
    pub fn to_json(&self) -> Value {
        match &self.localhost_profile {
            Some(name) => json!({"type": self.kind, "localhostProfile": name}),
            None => json!({"type": self.kind}),
        }
    }
}

/// `{type: Localhost, localhostProfile: "x"}`, as in messages.
impl fmt::Display for Profile {
    fn fmt(&self, formatter: &mut fmt::Formatter) -> fmt::Result {
        write!(formatter, "{{type: {}", self.kind)?;
        if let Some(name) = &self.localhost_profile {
            write!(formatter, ", localhostProfile: {name:?}")?;
        }
        formatter.write_str("}")
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn recognises_the_three_key_forms_only() {
        assert_eq!(
            AnnotationKey::parse(SECCOMP_POD).unwrap().target,
            Target::Pod
        );
        let key =
            AnnotationKey::parse("container.seccomp.security.alpha.kubernetes.io/app").unwrap();
        assert_eq!(key.confinement, Confinement::Seccomp);
        assert_eq!(key.target, Target::Container("app".into()));
        let key =
            AnnotationKey::parse("container.apparmor.security.beta.kubernetes.io/app").unwrap();
        assert_eq!(key.confinement, Confinement::AppArmor);
        assert!(AnnotationKey::parse("apparmor.security.beta.kubernetes.io/pod").is_none());
        assert!(AnnotationKey::parse("seccomp.security.alpha.kubernetes.io/app").is_none());
    }

    #[test]
    fn translates_every_value() {
        let seccomp = |v| Profile::from_annotation(Confinement::Seccomp, v).map(|p| p.to_string());
        let apparmor =
            |v| Profile::from_annotation(Confinement::AppArmor, v).map(|p| p.to_string());
        assert_eq!(
            seccomp("runtime/default").unwrap(),
            "{type: RuntimeDefault}"
        );
        assert_eq!(seccomp("docker/default").unwrap(), "{type: RuntimeDefault}");
        assert_eq!(seccomp("unconfined").unwrap(), "{type: Unconfined}");
        assert_eq!(
            seccomp("localhost/profiles/audit.json").unwrap(),
            r#"{type: Localhost, localhostProfile: "profiles/audit.json"}"#
        );
        assert_eq!(
            apparmor("runtime/default").unwrap(),
            "{type: RuntimeDefault}"
        );
        assert_eq!(
            apparmor("localhost/k8s-deny-write").unwrap(),
            r#"{type: Localhost, localhostProfile: "k8s-deny-write"}"#
        );
        assert!(
            apparmor("docker/default")
                .unwrap_err()
                .contains("runtime/default, unconfined")
        );
        assert!(seccomp("localhost/").unwrap_err().contains("needs a name"));
        assert!(apparmor("localhost/ x").unwrap_err().contains("whitespace"));
        assert!(seccomp("Unconfined").is_err());
        assert!(apparmor("").is_err());
    }
}
