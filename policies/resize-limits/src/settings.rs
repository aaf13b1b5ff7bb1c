use crate::containers::Resource;
use kepguard_common::settings::{is_dns1123_label, validate_namespaces};
use kepguard_common::{PolicySettings, Quantity};
use serde::Deserialize;

/// One unit in `Quantity::nanos`: the smallest factor.
const NANOS_PER_UNIT: i128 = 1_000_000_000;

pub const DEFAULT_LOCK_LABEL: &str = "kepguard.io/resize";

#[derive(Deserialize, Debug, Clone)]
#[serde(rename_all = "camelCase", deny_unknown_fields, default)]
pub struct Settings {
    pub cpu: Bounds,
    pub memory: MemorySettings,
    pub allowed_resizers: AllowedResizers,
    /// A resize of a Pod whose existing object carries this label with value `locked` is
    /// rejected.
    pub lock_label: String,
    /// Every regular container must declare a resizePolicy for cpu and for memory.
    pub require_resize_policy: bool,
    pub exempt_namespaces: Vec<String>,
}

impl Default for Settings {
    fn default() -> Self {
        Settings {
            cpu: Bounds::default(),
            memory: MemorySettings::default(),
            allowed_resizers: AllowedResizers::default(),
            lock_label: DEFAULT_LOCK_LABEL.into(),
            require_resize_policy: false,
            exempt_namespaces: Vec::new(),
        }
    }
}

impl Settings {
    pub fn bounds(&self, resource: Resource) -> &Bounds {
        match resource {
            Resource::Cpu => &self.cpu,
            Resource::Memory => &self.memory.bounds,
        }
    }
}

/// The bounds on one resource. Every field is optional; an absent one is no bound.
#[derive(Deserialize, Debug, Clone, Default)]
#[serde(rename_all = "camelCase", deny_unknown_fields, default)]
pub struct Bounds {
    pub min_request: Option<Quantity>,
    pub max_request: Option<Quantity>,
    pub max_limit: Option<Quantity>,
    /// The largest new/old ratio of one resize.
    pub max_increase_factor: Option<Quantity>,
    /// The largest old/new ratio of one resize.
    pub max_decrease_factor: Option<Quantity>,
}

/// What to do when a resize lowers a memory limit, which the kernel may answer with an OOM kill.
#[derive(Deserialize, Debug, Clone, Copy, Default, PartialEq, Eq)]
#[serde(rename_all = "camelCase")]
pub enum LimitDecrease {
    Allow,
    /// Accepted only when the container restarts on a memory resize.
    #[default]
    RequireRestart,
    Deny,
}

impl LimitDecrease {
    pub fn name(self) -> &'static str {
        match self {
            LimitDecrease::Allow => "allow",
            LimitDecrease::RequireRestart => "requireRestart",
            LimitDecrease::Deny => "deny",
        }
    }
}

/// The memory bounds plus `limitDecrease`, which exists for memory only.
#[derive(Deserialize, Debug, Clone, Default)]
#[serde(from = "MemorySettingsFields")]
pub struct MemorySettings {
    pub bounds: Bounds,
    pub limit_decrease: LimitDecrease,
}

/// The memory settings as written: the fields of `Bounds` and `limitDecrease`.
#[derive(Deserialize, Default)]
#[serde(rename_all = "camelCase", deny_unknown_fields, default)]
struct MemorySettingsFields {
    min_request: Option<Quantity>,
    max_request: Option<Quantity>,
    max_limit: Option<Quantity>,
    max_increase_factor: Option<Quantity>,
    max_decrease_factor: Option<Quantity>,
    limit_decrease: LimitDecrease,
}

impl From<MemorySettingsFields> for MemorySettings {
    fn from(fields: MemorySettingsFields) -> Self {
        MemorySettings {
            bounds: Bounds {
                min_request: fields.min_request,
                max_request: fields.max_request,
                max_limit: fields.max_limit,
                max_increase_factor: fields.max_increase_factor,
                max_decrease_factor: fields.max_decrease_factor,
            },
            limit_decrease: fields.limit_decrease,
        }
    }
}

/// Who may resize. All lists empty means anyone may.
#[derive(Deserialize, Debug, Clone, Default)]
#[serde(rename_all = "camelCase", deny_unknown_fields, default)]
pub struct AllowedResizers {
    pub users: Vec<String>,
    pub groups: Vec<String>,
    /// `namespace/name`.
    pub service_accounts: Vec<String>,
}

impl AllowedResizers {
    pub fn is_restricted(&self) -> bool {
        !(self.users.is_empty() && self.groups.is_empty() && self.service_accounts.is_empty())
    }

    /// The usernames the listed service accounts authenticate as.
    pub fn service_account_usernames(&self) -> impl Iterator<Item = String> + '_ {
        self.service_accounts.iter().filter_map(|account| {
            let (namespace, name) = account.split_once('/')?;
            Some(format!("system:serviceaccount:{namespace}:{name}"))
        })
    }
}

impl Bounds {
    fn validate(&self, resource: &str) -> Result<(), String> {
        let quantities = [
            ("minRequest", &self.min_request),
            ("maxRequest", &self.max_request),
            ("maxLimit", &self.max_limit),
            ("maxIncreaseFactor", &self.max_increase_factor),
            ("maxDecreaseFactor", &self.max_decrease_factor),
        ];
        for (field, value) in quantities {
            if let Some(value) = value.as_ref().filter(|v| v.is_negative()) {
                return Err(format!("{resource}.{field}: {value} must not be negative"));
            }
        }
        let ordered = [
            (
                "minRequest",
                &self.min_request,
                "maxRequest",
                &self.max_request,
            ),
            ("minRequest", &self.min_request, "maxLimit", &self.max_limit),
            ("maxRequest", &self.max_request, "maxLimit", &self.max_limit),
        ];
        for (low_field, low, high_field, high) in ordered {
            if let (Some(low), Some(high)) = (low, high)
                && low > high
            {
                return Err(format!(
                    "{resource}.{low_field}: {low} is above {high_field} {high}; {low_field} must be at most {high_field}"
                ));
            }
        }
        let factors = [
            ("maxIncreaseFactor", &self.max_increase_factor),
            ("maxDecreaseFactor", &self.max_decrease_factor),
        ];
        for (field, factor) in factors {
            if let Some(factor) = factor.as_ref().filter(|f| f.nanos() < NANOS_PER_UNIT) {
                return Err(format!(
                    "{resource}.{field}: {factor} is below 1; a factor is a ratio between the larger and the smaller value of one resize, at least 1"
                ));
            }
        }
        Ok(())
    }
}

/// `namespace/name` with a valid namespace and service account name.
fn is_service_account_reference(reference: &str) -> bool {
    reference
        .split_once('/')
        .is_some_and(|(namespace, name)| is_dns1123_label(namespace) && is_dns1123_subdomain(name))
}

/// A DNS-1123 subdomain, as service account names and label key prefixes are.
fn is_dns1123_subdomain(name: &str) -> bool {
    name.len() <= 253 && name.split('.').all(is_dns1123_label)
}

/// A label key: an optional DNS subdomain prefix and `/`, then a name of at most 63
/// alphanumerics, `-`, `_` or `.`, beginning and ending with an alphanumeric.
fn is_label_key(key: &str) -> bool {
    let (prefix, name) = match key.split_once('/') {
        Some((prefix, name)) => (Some(prefix), name),
        None => (None, key),
    };
    let bytes = name.as_bytes();
    let name_valid = match (bytes.first(), bytes.last()) {
        (Some(first), Some(last)) => {
            bytes.len() <= 63
                && first.is_ascii_alphanumeric()
                && last.is_ascii_alphanumeric()
                && bytes
                    .iter()
                    .all(|b| b.is_ascii_alphanumeric() || matches!(b, b'-' | b'_' | b'.'))
        }
        _ => false,
    };
    name_valid && prefix.is_none_or(is_dns1123_subdomain)
}

impl Settings {
    /// Checks every field; the error names the field and the values it accepts.
    pub fn check(&self) -> Result<(), String> {
        self.cpu.validate("cpu")?;
        self.memory.bounds.validate("memory")?;
        if let Some(bad) = self
            .allowed_resizers
            .service_accounts
            .iter()
            .find(|account| !is_service_account_reference(account))
        {
            return Err(format!(
                "allowedResizers.serviceAccounts: {bad:?} is not a service account reference: write namespace/name, such as kube-system/vpa-updater"
            ));
        }
        let empty = |list: &[String]| list.iter().any(String::is_empty);
        if empty(&self.allowed_resizers.users) || empty(&self.allowed_resizers.groups) {
            return Err(
                "allowedResizers: users and groups must not contain empty names".to_string(),
            );
        }
        if !is_label_key(&self.lock_label) {
            return Err(format!(
                "lockLabel: {:?} is not a valid label key: an optional DNS subdomain prefix and '/', then at most 63 letters, digits, '-', '_' or '.', beginning and ending with a letter or digit, such as {DEFAULT_LOCK_LABEL}",
                self.lock_label
            ));
        }
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
    use serde_json::{Value, json};

    fn parse(settings: Value) -> Result<Settings, String> {
        let settings: Settings = serde_json::from_value(settings).map_err(|e| e.to_string())?;
        settings.check().map(|()| settings)
    }

    fn error(settings: Value) -> String {
        parse(settings).unwrap_err()
    }

    #[test]
    fn empty_settings_are_valid_with_defaults() {
        let settings = parse(json!({})).unwrap();
        assert_eq!(settings.lock_label, DEFAULT_LOCK_LABEL);
        assert_eq!(
            settings.memory.limit_decrease,
            LimitDecrease::RequireRestart
        );
        assert!(!settings.require_resize_policy);
        assert!(!settings.allowed_resizers.is_restricted());
        assert!(settings.cpu.max_limit.is_none());
    }

    #[test]
    fn the_issue_example_is_valid() {
        let settings = parse(json!({
            "cpu": {"minRequest": "50m", "maxRequest": "4", "maxLimit": "8", "maxIncreaseFactor": 2, "maxDecreaseFactor": 4},
            "memory": {"minRequest": "64Mi", "maxRequest": "8Gi", "maxLimit": "16Gi", "maxIncreaseFactor": 2, "maxDecreaseFactor": 2, "limitDecrease": "requireRestart"},
            "allowedResizers": {"users": [], "groups": ["system:masters"], "serviceAccounts": ["kube-system/vpa-updater"]},
            "lockLabel": "kepguard.io/resize",
            "requireResizePolicy": false,
            "exemptNamespaces": ["kube-system"]
        }))
        .unwrap();
        assert_eq!(settings.cpu.max_limit.as_ref().unwrap().text(), "8");
        assert_eq!(
            settings
                .bounds(Resource::Memory)
                .max_limit
                .as_ref()
                .unwrap()
                .text(),
            "16Gi"
        );
        assert!(settings.allowed_resizers.is_restricted());
        let usernames: Vec<String> = settings
            .allowed_resizers
            .service_account_usernames()
            .collect();
        assert_eq!(usernames, ["system:serviceaccount:kube-system:vpa-updater"]);
    }

    #[test]
    fn limit_decrease_values() {
        for (text, mode) in [
            ("allow", LimitDecrease::Allow),
            ("requireRestart", LimitDecrease::RequireRestart),
            ("deny", LimitDecrease::Deny),
        ] {
            let settings = parse(json!({"memory": {"limitDecrease": text}})).unwrap();
            assert_eq!(settings.memory.limit_decrease, mode);
            assert_eq!(mode.name(), text);
        }
        let message = error(json!({"memory": {"limitDecrease": "RequireRestart"}}));
        assert!(
            message.contains("unknown variant `RequireRestart`, expected one of `allow`, `requireRestart`, `deny`"),
            "{message}"
        );
    }

    #[test]
    fn refuses_unparsable_quantities() {
        let message = error(json!({"cpu": {"maxLimit": "4 cores"}}));
        assert!(
            message.contains("invalid quantity \"4 cores\""),
            "{message}"
        );
        let message = error(json!({"memory": {"maxIncreaseFactor": true}}));
        assert!(
            message.contains("expected a string or a number"),
            "{message}"
        );
    }

    #[test]
    fn refuses_crossed_bounds() {
        assert_eq!(
            error(json!({"cpu": {"minRequest": "2", "maxRequest": "1500m"}})),
            "cpu.minRequest: 2 is above maxRequest 1500m; minRequest must be at most maxRequest"
        );
        assert_eq!(
            error(json!({"memory": {"maxRequest": "8Gi", "maxLimit": "4Gi"}})),
            "memory.maxRequest: 8Gi is above maxLimit 4Gi; maxRequest must be at most maxLimit"
        );
        assert_eq!(
            error(json!({"memory": {"minRequest": "1Gi", "maxLimit": "512Mi"}})),
            "memory.minRequest: 1Gi is above maxLimit 512Mi; minRequest must be at most maxLimit"
        );
        // Equal bounds are fine, in any spelling.
        assert!(
            parse(json!({"cpu": {"minRequest": "1", "maxRequest": "1000m", "maxLimit": 1}}))
                .is_ok()
        );
    }

    #[test]
    fn refuses_negative_values_and_small_factors() {
        assert_eq!(
            error(json!({"cpu": {"maxLimit": "-1"}})),
            "cpu.maxLimit: -1 must not be negative"
        );
        let message = error(json!({"memory": {"maxDecreaseFactor": 0.5}}));
        assert!(
            message.starts_with("memory.maxDecreaseFactor: 0.5 is below 1"),
            "{message}"
        );
        let message = error(json!({"cpu": {"maxIncreaseFactor": "999m"}}));
        assert!(
            message.starts_with("cpu.maxIncreaseFactor: 999m is below 1"),
            "{message}"
        );
        assert!(
            parse(json!({"cpu": {"maxIncreaseFactor": 1, "maxDecreaseFactor": "1.5"}})).is_ok()
        );
    }

    #[test]
    fn refuses_unknown_keys_at_every_level() {
        let message = error(json!({"cpu": {"limitDecrease": "deny"}}));
        assert!(
            message.contains("unknown field `limitDecrease`"),
            "{message}"
        );
        let message = error(json!({"memory": {"maxLimits": "1Gi"}}));
        assert!(message.contains("unknown field `maxLimits`"), "{message}");
        let message = error(json!({"allowedResizers": {"serviceaccounts": []}}));
        assert!(
            message.contains("unknown field `serviceaccounts`"),
            "{message}"
        );
        let message = error(json!({"lockLabels": "x"}));
        assert!(message.contains("unknown field `lockLabels`"), "{message}");
    }

    #[test]
    fn refuses_malformed_service_accounts() {
        for bad in [
            "vpa-updater",
            "kube-system/",
            "/vpa",
            "Kube-System/vpa",
            "system:serviceaccount:a:b",
            "a/b/c",
        ] {
            let message = error(json!({"allowedResizers": {"serviceAccounts": [bad]}}));
            assert_eq!(
                message,
                format!(
                    "allowedResizers.serviceAccounts: {bad:?} is not a service account reference: write namespace/name, such as kube-system/vpa-updater"
                )
            );
        }
        assert!(
            parse(json!({"allowedResizers": {"serviceAccounts": ["kube-system/vpa.updater-1"]}}))
                .is_ok()
        );
        let message = error(json!({"allowedResizers": {"users": [""]}}));
        assert!(
            message.starts_with("allowedResizers: users and groups"),
            "{message}"
        );
    }

    #[test]
    fn lock_label_must_be_a_label_key() {
        for good in ["kepguard.io/resize", "resize-lock", "example.com/a_b.c"] {
            assert!(parse(json!({"lockLabel": good})).is_ok(), "{good}");
        }
        for bad in [
            "",
            "kepguard.io/",
            "/resize",
            "-lock",
            "a b",
            "Example.com/x",
            &"x".repeat(64),
        ] {
            let message = error(json!({"lockLabel": bad}));
            assert!(message.starts_with("lockLabel: "), "{message}");
        }
    }

    #[test]
    fn refuses_invalid_exempt_namespaces() {
        let message = error(json!({"exemptNamespaces": ["Kube-System"]}));
        assert!(
            message.starts_with("exemptNamespaces: \"Kube-System\""),
            "{message}"
        );
    }
}
