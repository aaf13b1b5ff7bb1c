//! The settings as written ([`Settings`]) and as the rules read them ([`CompiledSettings`]).
//! Every quantity is parsed, and every field checked, once in [`PolicySettings::compile`].

use crate::containers::Resource;
use kepguard_common::settings::{is_dns1123_label, validate_namespaces};
use kepguard_common::{PolicySettings, Quantity};
use serde::Deserialize;
use serde_json::value::RawValue;

/// One unit in `Quantity::nanos`: the smallest factor.
const NANOS_PER_UNIT: i128 = 1_000_000_000;

pub const DEFAULT_LOCK_LABEL: &str = "kepguard.io/resize";

/// A quantity as written in the settings: the raw JSON, a string or a number, parsed by
/// [`Settings::compile`].
#[derive(Deserialize, Debug, Clone)]
#[serde(transparent)]
pub struct QuantityText(Box<RawValue>);

impl QuantityText {
    fn parse(&self) -> Result<Quantity, String> {
        let text = self.0.get();
        match text.as_bytes().first() {
            Some(b'"') => serde_json::from_str::<String>(text)
                .map_err(|error| error.to_string())
                .and_then(|quantity| Quantity::parse(&quantity)),
            Some(b'-' | b'0'..=b'9') => Quantity::parse(text),
            _ => Err(format!(
                "invalid quantity {text}: expected a string or a number"
            )),
        }
    }
}

/// The settings as written. Quantities stay raw JSON until [`Settings::compile`].
#[derive(Deserialize, Debug, Clone)]
#[serde(rename_all = "camelCase", deny_unknown_fields, default)]
pub struct Settings {
    pub cpu: BoundFields,
    pub memory: MemoryFields,
    pub pod_resources: PodResourcesFields,
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
            cpu: BoundFields::default(),
            memory: MemoryFields::default(),
            pod_resources: PodResourcesFields::default(),
            allowed_resizers: AllowedResizers::default(),
            lock_label: DEFAULT_LOCK_LABEL.into(),
            require_resize_policy: false,
            exempt_namespaces: Vec::new(),
        }
    }
}

/// The bounds on one resource as written. An absent field is no bound.
#[derive(Deserialize, Debug, Clone, Default)]
#[serde(rename_all = "camelCase", deny_unknown_fields, default)]
pub struct BoundFields {
    pub min_request: Option<QuantityText>,
    pub max_request: Option<QuantityText>,
    pub max_limit: Option<QuantityText>,
    /// The largest new/old ratio of one resize.
    pub max_increase_factor: Option<QuantityText>,
    /// The largest old/new ratio of one resize.
    pub max_decrease_factor: Option<QuantityText>,
}

/// `memory`: the bounds, plus what only container memory has.
#[derive(Deserialize, Debug, Clone, Default)]
#[serde(rename_all = "camelCase", deny_unknown_fields, default)]
pub struct MemoryFields {
    pub min_request: Option<QuantityText>,
    pub max_request: Option<QuantityText>,
    pub max_limit: Option<QuantityText>,
    pub max_increase_factor: Option<QuantityText>,
    pub max_decrease_factor: Option<QuantityText>,
    pub limit_decrease: Option<LimitDecrease>,
    /// The largest `sizeLimit` of a memory-backed `emptyDir` volume.
    pub max_empty_dir_size_limit: Option<QuantityText>,
}

/// `podResources`: bounds on the pod-level `spec.resources`.
#[derive(Deserialize, Debug, Clone, Default)]
#[serde(rename_all = "camelCase", deny_unknown_fields, default)]
pub struct PodResourcesFields {
    pub cpu: BoundFields,
    pub memory: PodMemoryFields,
}

/// `podResources.memory`: the bounds and `limitDecrease`, which takes `allow` or `deny` only.
#[derive(Deserialize, Debug, Clone, Default)]
#[serde(rename_all = "camelCase", deny_unknown_fields, default)]
pub struct PodMemoryFields {
    pub min_request: Option<QuantityText>,
    pub max_request: Option<QuantityText>,
    pub max_limit: Option<QuantityText>,
    pub max_increase_factor: Option<QuantityText>,
    pub max_decrease_factor: Option<QuantityText>,
    pub limit_decrease: Option<LimitDecrease>,
}

/// What to do when a resize lowers a memory limit, which the kernel may answer with an OOM kill.
#[derive(Deserialize, Debug, Clone, Copy, PartialEq, Eq)]
#[serde(rename_all = "camelCase")]
pub enum LimitDecrease {
    Allow,
    /// Accepted only when the container restarts on a memory resize.
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

/// Who may resize. All lists empty means anyone may.
#[derive(Deserialize, Debug, Clone, Default)]
#[serde(rename_all = "camelCase", deny_unknown_fields, default)]
pub struct AllowedResizers {
    pub users: Vec<String>,
    pub groups: Vec<String>,
    /// `namespace/name`.
    pub service_accounts: Vec<String>,
}

/// The settings as the rules read them.
#[derive(Debug, Clone)]
pub struct CompiledSettings {
    /// Bounds on each container's values (`cpu`, `memory`).
    pub containers: LevelBounds,
    /// Bounds on the pod-level `spec.resources` (`podResources`).
    pub pod: LevelBounds,
    pub container_limit_decrease: LimitDecrease,
    /// `allow` or `deny`: no pod-level resizePolicy exists to restart with.
    pub pod_limit_decrease: LimitDecrease,
    pub max_empty_dir_size_limit: Option<Quantity>,
    pub resizers: Resizers,
    pub lock_label: String,
    pub require_resize_policy: bool,
}

/// The bounds of one level, containers or pod.
#[derive(Debug, Clone, Default)]
pub struct LevelBounds {
    pub cpu: Bounds,
    pub memory: Bounds,
}

impl LevelBounds {
    pub fn of(&self, resource: Resource) -> &Bounds {
        match resource {
            Resource::Cpu => &self.cpu,
            Resource::Memory => &self.memory,
        }
    }
}

/// The parsed bounds on one resource. `prefix` names them in messages: empty for the
/// container bounds, as messages have always said, and `podResources.cpu.` for the pod's.
#[derive(Debug, Clone, Default)]
pub struct Bounds {
    pub prefix: &'static str,
    pub min_request: Option<Quantity>,
    pub max_request: Option<Quantity>,
    pub max_limit: Option<Quantity>,
    pub max_increase_factor: Option<Quantity>,
    pub max_decrease_factor: Option<Quantity>,
}

/// Who may resize, with the service accounts turned into the usernames they authenticate as.
#[derive(Debug, Clone, Default)]
pub struct Resizers {
    pub users: Vec<String>,
    pub groups: Vec<String>,
    /// As written, `namespace/name`, for messages.
    pub service_accounts: Vec<String>,
    /// `system:serviceaccount:<namespace>:<name>`.
    pub service_account_usernames: Vec<String>,
}

impl Resizers {
    pub fn is_restricted(&self) -> bool {
        !(self.users.is_empty() && self.groups.is_empty() && self.service_accounts.is_empty())
    }
}

/// The five bound fields of one resource, named as written.
type RawBounds<'a> = [(&'static str, &'a Option<QuantityText>); 5];

impl BoundFields {
    fn fields(&self) -> RawBounds<'_> {
        [
            ("minRequest", &self.min_request),
            ("maxRequest", &self.max_request),
            ("maxLimit", &self.max_limit),
            ("maxIncreaseFactor", &self.max_increase_factor),
            ("maxDecreaseFactor", &self.max_decrease_factor),
        ]
    }
}

impl MemoryFields {
    fn fields(&self) -> RawBounds<'_> {
        [
            ("minRequest", &self.min_request),
            ("maxRequest", &self.max_request),
            ("maxLimit", &self.max_limit),
            ("maxIncreaseFactor", &self.max_increase_factor),
            ("maxDecreaseFactor", &self.max_decrease_factor),
        ]
    }
}

impl PodMemoryFields {
    fn fields(&self) -> RawBounds<'_> {
        [
            ("minRequest", &self.min_request),
            ("maxRequest", &self.max_request),
            ("maxLimit", &self.max_limit),
            ("maxIncreaseFactor", &self.max_increase_factor),
            ("maxDecreaseFactor", &self.max_decrease_factor),
        ]
    }
}

/// Parses an optional quantity; the error names the field.
fn quantity(field: &str, value: &Option<QuantityText>) -> Result<Option<Quantity>, String> {
    let Some(value) = value else {
        return Ok(None);
    };
    let quantity = value.parse().map_err(|error| format!("{field}: {error}"))?;
    if quantity.is_negative() {
        return Err(format!("{field}: {quantity} must not be negative"));
    }
    Ok(Some(quantity))
}

impl Bounds {
    /// Parses and checks the bounds of `resource` (`cpu`, `podResources.memory`, ...).
    fn compile(
        prefix: &'static str,
        resource: &str,
        fields: RawBounds<'_>,
    ) -> Result<Bounds, String> {
        let mut parsed = fields
            .into_iter()
            .map(|(field, value)| quantity(&format!("{resource}.{field}"), value));
        let mut next = || parsed.next().unwrap_or(Ok(None));
        let bounds = Bounds {
            prefix,
            min_request: next()?,
            max_request: next()?,
            max_limit: next()?,
            max_increase_factor: next()?,
            max_decrease_factor: next()?,
        };
        let ordered = [
            (
                "minRequest",
                &bounds.min_request,
                "maxRequest",
                &bounds.max_request,
            ),
            (
                "minRequest",
                &bounds.min_request,
                "maxLimit",
                &bounds.max_limit,
            ),
            (
                "maxRequest",
                &bounds.max_request,
                "maxLimit",
                &bounds.max_limit,
            ),
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
            ("maxIncreaseFactor", &bounds.max_increase_factor),
            ("maxDecreaseFactor", &bounds.max_decrease_factor),
        ];
        for (field, factor) in factors {
            if let Some(factor) = factor.as_ref().filter(|f| f.nanos() < NANOS_PER_UNIT) {
                return Err(format!(
                    "{resource}.{field}: {factor} is below 1; a factor is a ratio between the larger and the smaller value of one resize, at least 1"
                ));
            }
        }
        Ok(bounds)
    }
}

impl AllowedResizers {
    fn compile(self) -> Result<Resizers, String> {
        if let Some(bad) = self
            .service_accounts
            .iter()
            .find(|account| !is_service_account_reference(account))
        {
            return Err(format!(
                "allowedResizers.serviceAccounts: {bad:?} is not a service account reference: write namespace/name, such as kube-system/vpa-updater"
            ));
        }
        let empty = |list: &[String]| list.iter().any(String::is_empty);
        if empty(&self.users) || empty(&self.groups) {
            return Err(
                "allowedResizers: users and groups must not contain empty names".to_string(),
            );
        }
        let service_account_usernames = self
            .service_accounts
            .iter()
            .filter_map(|account| {
                let (namespace, name) = account.split_once('/')?;
                Some(format!("system:serviceaccount:{namespace}:{name}"))
            })
            .collect();
        Ok(Resizers {
            users: self.users,
            groups: self.groups,
            service_accounts: self.service_accounts,
            service_account_usernames,
        })
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

impl PolicySettings for Settings {
    type Compiled = CompiledSettings;

    fn exempt_namespaces(&self) -> &[String] {
        &self.exempt_namespaces
    }

    /// Checks every field and parses every quantity; the error names the field and the
    /// values it accepts.
    fn compile(self) -> Result<CompiledSettings, String> {
        let containers = LevelBounds {
            cpu: Bounds::compile("", "cpu", self.cpu.fields())?,
            memory: Bounds::compile("", "memory", self.memory.fields())?,
        };
        let pod = LevelBounds {
            cpu: Bounds::compile(
                "podResources.cpu.",
                "podResources.cpu",
                self.pod_resources.cpu.fields(),
            )?,
            memory: Bounds::compile(
                "podResources.memory.",
                "podResources.memory",
                self.pod_resources.memory.fields(),
            )?,
        };
        let pod_limit_decrease = match self.pod_resources.memory.limit_decrease {
            None => LimitDecrease::Allow,
            Some(LimitDecrease::RequireRestart) => {
                return Err("podResources.memory.limitDecrease: requireRestart is not available for pod-level resources, which have no resizePolicy to restart with: use allow or deny".to_string());
            }
            Some(mode) => mode,
        };
        let max_empty_dir_size_limit = quantity(
            "memory.maxEmptyDirSizeLimit",
            &self.memory.max_empty_dir_size_limit,
        )?;
        let resizers = self.allowed_resizers.compile()?;
        if !is_label_key(&self.lock_label) {
            return Err(format!(
                "lockLabel: {:?} is not a valid label key: an optional DNS subdomain prefix and '/', then at most 63 letters, digits, '-', '_' or '.', beginning and ending with a letter or digit, such as {DEFAULT_LOCK_LABEL}",
                self.lock_label
            ));
        }
        validate_namespaces("exemptNamespaces", &self.exempt_namespaces)?;
        Ok(CompiledSettings {
            containers,
            pod,
            container_limit_decrease: self
                .memory
                .limit_decrease
                .unwrap_or(LimitDecrease::RequireRestart),
            pod_limit_decrease,
            max_empty_dir_size_limit,
            resizers,
            lock_label: self.lock_label,
            require_resize_policy: self.require_resize_policy,
        })
    }
}

/// Settings from JSON, compiled, for the unit tests of every module.
#[cfg(test)]
pub fn compiled(settings: serde_json::Value) -> CompiledSettings {
    parse(settings).expect("valid settings")
}

/// Through text, as the policy reads settings: raw values cannot come from a `Value`.
#[cfg(test)]
fn parse(settings: serde_json::Value) -> Result<CompiledSettings, String> {
    let settings: Settings =
        serde_json::from_str(&settings.to_string()).map_err(|e| e.to_string())?;
    settings.compile()
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::{Value, json};

    fn error(settings: Value) -> String {
        parse(settings).expect_err("invalid settings")
    }

    #[test]
    fn empty_settings_are_valid_with_defaults() {
        let settings = compiled(json!({}));
        assert_eq!(settings.lock_label, DEFAULT_LOCK_LABEL);
        assert_eq!(
            settings.container_limit_decrease,
            LimitDecrease::RequireRestart
        );
        assert_eq!(settings.pod_limit_decrease, LimitDecrease::Allow);
        assert!(!settings.require_resize_policy);
        assert!(!settings.resizers.is_restricted());
        assert!(settings.containers.cpu.max_limit.is_none());
        assert!(settings.pod.memory.max_limit.is_none());
        assert!(settings.max_empty_dir_size_limit.is_none());
    }

    #[test]
    fn the_documented_example_compiles() {
        let settings = compiled(json!({
            "cpu": {"minRequest": "50m", "maxRequest": "4", "maxLimit": "8", "maxIncreaseFactor": 2, "maxDecreaseFactor": 4},
            "memory": {"minRequest": "64Mi", "maxRequest": "8Gi", "maxLimit": "16Gi", "maxIncreaseFactor": 2, "maxDecreaseFactor": 2, "limitDecrease": "requireRestart", "maxEmptyDirSizeLimit": "4Gi"},
            "podResources": {
                "cpu": {"maxRequest": "8", "maxLimit": "16", "maxIncreaseFactor": 2},
                "memory": {"maxLimit": "32Gi", "limitDecrease": "deny"}
            },
            "allowedResizers": {"users": [], "groups": ["system:masters"], "serviceAccounts": ["kube-system/vpa-updater"]},
            "lockLabel": "kepguard.io/resize",
            "requireResizePolicy": false,
            "exemptNamespaces": ["kube-system"]
        }));
        let text = |q: &Option<Quantity>| q.as_ref().map(|q| q.text().to_string());
        assert_eq!(
            text(&settings.containers.cpu.max_limit).as_deref(),
            Some("8")
        );
        assert_eq!(
            text(&settings.containers.of(Resource::Memory).max_limit).as_deref(),
            Some("16Gi")
        );
        assert_eq!(text(&settings.pod.cpu.max_limit).as_deref(), Some("16"));
        assert_eq!(settings.pod.cpu.prefix, "podResources.cpu.");
        assert_eq!(settings.containers.cpu.prefix, "");
        assert_eq!(settings.pod_limit_decrease, LimitDecrease::Deny);
        assert_eq!(
            text(&settings.max_empty_dir_size_limit).as_deref(),
            Some("4Gi")
        );
        assert!(settings.resizers.is_restricted());
        assert_eq!(
            settings.resizers.service_account_usernames,
            ["system:serviceaccount:kube-system:vpa-updater"]
        );
    }

    #[test]
    fn limit_decrease_values() {
        let cases = [
            (
                json!({}),
                LimitDecrease::RequireRestart,
                LimitDecrease::Allow,
            ),
            (
                json!({"memory": {"limitDecrease": "allow"}}),
                LimitDecrease::Allow,
                LimitDecrease::Allow,
            ),
            (
                json!({"memory": {"limitDecrease": "requireRestart"}}),
                LimitDecrease::RequireRestart,
                LimitDecrease::Allow,
            ),
            (
                json!({"memory": {"limitDecrease": "deny"}, "podResources": {"memory": {"limitDecrease": "deny"}}}),
                LimitDecrease::Deny,
                LimitDecrease::Deny,
            ),
            (
                json!({"podResources": {"memory": {"limitDecrease": "allow"}}}),
                LimitDecrease::RequireRestart,
                LimitDecrease::Allow,
            ),
        ];
        for (settings, container, pod) in cases {
            let compiled = compiled(settings.clone());
            assert_eq!(compiled.container_limit_decrease, container, "{settings}");
            assert_eq!(compiled.pod_limit_decrease, pod, "{settings}");
        }
        for mode in [
            LimitDecrease::Allow,
            LimitDecrease::RequireRestart,
            LimitDecrease::Deny,
        ] {
            let parsed: LimitDecrease = serde_json::from_value(json!(mode.name())).unwrap();
            assert_eq!(parsed, mode);
        }
    }

    #[test]
    fn valid_settings_compile() {
        let cases = [
            json!({"cpu": {"minRequest": "1", "maxRequest": "1000m", "maxLimit": 1}}),
            json!({"cpu": {"maxIncreaseFactor": 1, "maxDecreaseFactor": "1.5"}}),
            json!({"podResources": {"cpu": {"minRequest": "1", "maxLimit": "1000m"}}}),
            json!({"memory": {"maxEmptyDirSizeLimit": 0}}),
            json!({"memory": {"maxEmptyDirSizeLimit": "2\u{47}i", "maxLimit": 1e10}}),
            json!({"cpu": {"maxLimit": 2.5, "maxRequest": "2500m"}}),
            json!({"allowedResizers": {"serviceAccounts": ["kube-system/vpa.updater-1"]}}),
            json!({"lockLabel": "kepguard.io/resize"}),
            json!({"lockLabel": "resize-lock"}),
            json!({"lockLabel": "example.com/a_b.c"}),
            json!({"memory": {"maxLimit": null}, "podResources": {}}),
        ];
        for settings in cases {
            assert!(parse(settings.clone()).is_ok(), "{settings}");
        }
    }

    /// Each invalid setting and the start of its message.
    #[test]
    fn invalid_settings_name_the_field() {
        let long_label = "x".repeat(64);
        let cases = [
            (
                json!({"cpu": {"maxLimit": "4 cores"}}),
                "cpu.maxLimit: invalid quantity \"4 cores\"",
            ),
            (
                json!({"memory": {"maxIncreaseFactor": true}}),
                "memory.maxIncreaseFactor: invalid quantity true: expected a string or a number",
            ),
            (
                json!({"podResources": {"memory": {"maxRequest": "lots"}}}),
                "podResources.memory.maxRequest: invalid quantity \"lots\"",
            ),
            (
                json!({"memory": {"maxEmptyDirSizeLimit": "1 Gi"}}),
                "memory.maxEmptyDirSizeLimit: invalid quantity \"1 Gi\"",
            ),
            (
                json!({"memory": {"maxEmptyDirSizeLimit": "-1Gi"}}),
                "memory.maxEmptyDirSizeLimit: -1Gi must not be negative",
            ),
            (
                json!({"cpu": {"minRequest": "2", "maxRequest": "1500m"}}),
                "cpu.minRequest: 2 is above maxRequest 1500m; minRequest must be at most maxRequest",
            ),
            (
                json!({"memory": {"maxRequest": "8Gi", "maxLimit": "4Gi"}}),
                "memory.maxRequest: 8Gi is above maxLimit 4Gi; maxRequest must be at most maxLimit",
            ),
            (
                json!({"memory": {"minRequest": "1Gi", "maxLimit": "512Mi"}}),
                "memory.minRequest: 1Gi is above maxLimit 512Mi; minRequest must be at most maxLimit",
            ),
            (
                json!({"podResources": {"cpu": {"maxRequest": "4", "maxLimit": "2"}}}),
                "podResources.cpu.maxRequest: 4 is above maxLimit 2",
            ),
            (
                json!({"cpu": {"maxLimit": "-1"}}),
                "cpu.maxLimit: -1 must not be negative",
            ),
            (
                json!({"memory": {"maxDecreaseFactor": 0.5}}),
                "memory.maxDecreaseFactor: 0.5 is below 1",
            ),
            (
                json!({"cpu": {"maxIncreaseFactor": "999m"}}),
                "cpu.maxIncreaseFactor: 999m is below 1",
            ),
            (
                json!({"podResources": {"memory": {"maxIncreaseFactor": "0.9"}}}),
                "podResources.memory.maxIncreaseFactor: 0.9 is below 1",
            ),
            (
                json!({"podResources": {"memory": {"limitDecrease": "requireRestart"}}}),
                "podResources.memory.limitDecrease: requireRestart is not available for pod-level resources",
            ),
            (
                json!({"memory": {"limitDecrease": "RequireRestart"}}),
                "unknown variant `RequireRestart`, expected one of `allow`, `requireRestart`, `deny`",
            ),
            (
                json!({"cpu": {"limitDecrease": "deny"}}),
                "unknown field `limitDecrease`",
            ),
            (
                json!({"cpu": {"maxEmptyDirSizeLimit": "1Gi"}}),
                "unknown field `maxEmptyDirSizeLimit`",
            ),
            (
                json!({"podResources": {"memory": {"maxEmptyDirSizeLimit": "1Gi"}}}),
                "unknown field `maxEmptyDirSizeLimit`",
            ),
            (
                json!({"podResources": {"ephemeral-storage": {}}}),
                "unknown field `ephemeral-storage`",
            ),
            (
                json!({"memory": {"maxLimits": "1Gi"}}),
                "unknown field `maxLimits`",
            ),
            (
                json!({"allowedResizers": {"serviceaccounts": []}}),
                "unknown field `serviceaccounts`",
            ),
            (json!({"lockLabels": "x"}), "unknown field `lockLabels`"),
            (
                json!({"allowedResizers": {"users": [""]}}),
                "allowedResizers: users and groups",
            ),
            (
                json!({"exemptNamespaces": ["Kube-System"]}),
                "exemptNamespaces: \"Kube-System\"",
            ),
            (json!({"lockLabel": ""}), "lockLabel: "),
            (json!({"lockLabel": "kepguard.io/"}), "lockLabel: "),
            (json!({"lockLabel": "/resize"}), "lockLabel: "),
            (json!({"lockLabel": "-lock"}), "lockLabel: "),
            (json!({"lockLabel": "a b"}), "lockLabel: "),
            (json!({"lockLabel": "Example.com/x"}), "lockLabel: "),
            (json!({"lockLabel": long_label}), "lockLabel: "),
        ];
        for (settings, expected) in cases {
            let message = error(settings.clone());
            assert!(
                message.starts_with(expected) || message.contains(expected),
                "{settings}: {message}"
            );
        }
    }

    #[test]
    fn malformed_service_accounts_are_refused_with_the_form_to_use() {
        for bad in [
            "vpa-updater",
            "kube-system/",
            "/vpa",
            "Kube-System/vpa",
            "system:serviceaccount:a:b",
            "a/b/c",
        ] {
            assert_eq!(
                error(json!({"allowedResizers": {"serviceAccounts": [bad]}})),
                format!(
                    "allowedResizers.serviceAccounts: {bad:?} is not a service account reference: write namespace/name, such as kube-system/vpa-updater"
                )
            );
        }
    }
}
