//! Rules 4 and 5: who may resize, and the lock label.

use crate::settings::CompiledSettings;
use kepguard_common::request::UserInfo;
use kepguard_common::view::lookup;
use serde_json::value::RawValue;

/// The value of `lockLabel` that locks a Pod's resources.
pub const LOCKED: &str = "locked";

/// Rule 4: with any `allowedResizers` list set, only the listed users, members of the listed
/// groups, and the listed service accounts may resize.
pub fn resizer_violation(user: &UserInfo, settings: &CompiledSettings) -> Option<String> {
    let allowed = &settings.resizers;
    if !allowed.is_restricted() {
        return None;
    }
    let permitted = allowed.users.contains(&user.username)
        || allowed
            .groups
            .iter()
            .any(|group| user.groups.contains(group))
        || allowed.service_account_usernames.contains(&user.username);
    (!permitted).then(|| {
        let mut who = Vec::new();
        if !allowed.users.is_empty() {
            who.push(format!("users [{}]", allowed.users.join(", ")));
        }
        if !allowed.groups.is_empty() {
            who.push(format!("groups [{}]", allowed.groups.join(", ")));
        }
        if !allowed.service_accounts.is_empty() {
            who.push(format!(
                "service accounts [{}]",
                allowed.service_accounts.join(", ")
            ));
        }
        format!(
            "{:?} may not resize pods, only allowedResizers may ({}): ask one of them to resize, or recreate the pod",
            user.username,
            who.join(", ")
        )
    })
}

/// Rule 5: the existing Pod carries `lockLabel: locked`.
pub fn lock_violation(old_object: &RawValue, settings: &CompiledSettings) -> Option<String> {
    let value = lookup(old_object, &["metadata", "labels", &settings.lock_label])
        .and_then(|value| serde_json::from_str::<String>(value.get()).ok());
    (value.as_deref() == Some(LOCKED)).then(|| {
        format!(
            "the pod is labelled {}={LOCKED}, which forbids resizing it: remove the label first, or recreate the pod",
            settings.lock_label
        )
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::settings::compiled;
    use serde_json::{Value, json};

    fn user(username: &str, groups: &[&str]) -> UserInfo {
        serde_json::from_value(json!({"username": username, "groups": groups})).unwrap()
    }

    #[test]
    fn who_may_resize() {
        let restricted = json!({"allowedResizers": {
            "users": ["alice"],
            "groups": ["system:masters"],
            "serviceAccounts": ["kube-system/vpa-updater"]
        }});
        let cases: [(Value, &str, &[&str], Option<&str>); 6] = [
            (json!({}), "bob", &[], None),
            (restricted.clone(), "alice", &[], None),
            (
                restricted.clone(),
                "carol",
                &["system:authenticated", "system:masters"],
                None,
            ),
            (
                restricted.clone(),
                "system:serviceaccount:kube-system:vpa-updater",
                &["system:serviceaccounts"],
                None,
            ),
            (
                restricted,
                "system:serviceaccount:default:vpa-updater",
                &["system:serviceaccounts"],
                Some(
                    "\"system:serviceaccount:default:vpa-updater\" may not resize pods, only allowedResizers may (users [alice], groups [system:masters], service accounts [kube-system/vpa-updater]): ask one of them to resize, or recreate the pod",
                ),
            ),
            (
                json!({"allowedResizers": {"groups": ["ops"]}}),
                "Alice",
                &["dev"],
                Some(
                    "\"Alice\" may not resize pods, only allowedResizers may (groups [ops]): ask one of them to resize, or recreate the pod",
                ),
            ),
        ];
        for (settings, username, groups, expected) in cases {
            assert_eq!(
                resizer_violation(&user(username, groups), &compiled(settings)).as_deref(),
                expected,
                "{username}"
            );
        }
    }

    #[test]
    fn the_lock_label_on_the_existing_pod() {
        let default = || json!({});
        let custom = || json!({"lockLabel": "freeze"});
        let locked = json!({"metadata": {"labels": {"kepguard.io/resize": "locked"}}});
        let cases = [
            (default(), locked.clone(), true),
            (
                default(),
                json!({"metadata": {"labels": {"kepguard.io/resize": "unlocked"}}}),
                false,
            ),
            (
                default(),
                json!({"metadata": {"labels": {"kepguard.io/resize": true}}}),
                false,
            ),
            (default(), json!({"metadata": {"labels": null}}), false),
            (default(), json!({}), false),
            (default(), json!("pod"), false),
            (
                custom(),
                json!({"metadata": {"labels": {"freeze": "locked"}}}),
                true,
            ),
            (custom(), locked, false),
        ];
        for (settings, old_object, expected) in cases {
            let raw = serde_json::value::to_raw_value(&old_object).unwrap();
            let found = lock_violation(&raw, &compiled(settings));
            assert_eq!(found.is_some(), expected, "{old_object}");
        }
        let raw = serde_json::value::to_raw_value(
            &json!({"metadata": {"labels": {"kepguard.io/resize": "locked"}}}),
        )
        .unwrap();
        assert_eq!(
            lock_violation(&raw, &compiled(json!({}))).unwrap(),
            "the pod is labelled kepguard.io/resize=locked, which forbids resizing it: remove the label first, or recreate the pod"
        );
    }
}
