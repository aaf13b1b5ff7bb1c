//! Rules 4 and 5: who may resize, and the lock label.

use crate::settings::Settings;
use kepguard_common::request::UserInfo;
use kepguard_common::view::lookup;
use serde_json::value::RawValue;

/// The value of `lockLabel` that locks a Pod's resources.
pub const LOCKED: &str = "locked";

/// Rule 4: with any `allowedResizers` list set, only the listed users, members of the listed
/// groups, and the listed service accounts may resize.
pub fn resizer_violation(user: &UserInfo, settings: &Settings) -> Option<String> {
    let allowed = &settings.allowed_resizers;
    if !allowed.is_restricted() {
        return None;
    }
    let permitted = allowed.users.contains(&user.username)
        || allowed
            .groups
            .iter()
            .any(|group| user.groups.contains(group))
        || allowed
            .service_account_usernames()
            .any(|account| account == user.username);
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
pub fn lock_violation(old_object: &RawValue, settings: &Settings) -> Option<String> {
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
    use serde_json::json;

    fn user(username: &str, groups: &[&str]) -> UserInfo {
        serde_json::from_value(json!({"username": username, "groups": groups})).unwrap()
    }

    fn restricted() -> Settings {
        serde_json::from_value(json!({"allowedResizers": {
            "users": ["alice"],
            "groups": ["system:masters"],
            "serviceAccounts": ["kube-system/vpa-updater"]
        }}))
        .unwrap()
    }

    #[test]
    fn anyone_may_resize_without_a_list() {
        assert_eq!(
            resizer_violation(&user("bob", &[]), &Settings::default()),
            None
        );
    }

    #[test]
    fn listed_users_groups_and_service_accounts_may_resize() {
        let settings = restricted();
        assert_eq!(resizer_violation(&user("alice", &[]), &settings), None);
        assert_eq!(
            resizer_violation(
                &user("carol", &["system:authenticated", "system:masters"]),
                &settings
            ),
            None
        );
        assert_eq!(
            resizer_violation(
                &user(
                    "system:serviceaccount:kube-system:vpa-updater",
                    &["system:serviceaccounts"]
                ),
                &settings
            ),
            None
        );
    }

    #[test]
    fn others_are_named_in_the_rejection() {
        let settings = restricted();
        assert_eq!(
            resizer_violation(
                &user(
                    "system:serviceaccount:default:vpa-updater",
                    &["system:serviceaccounts"]
                ),
                &settings
            )
            .unwrap(),
            "\"system:serviceaccount:default:vpa-updater\" may not resize pods, only allowedResizers may (users [alice], groups [system:masters], service accounts [kube-system/vpa-updater]): ask one of them to resize, or recreate the pod"
        );
        let only_groups: Settings =
            serde_json::from_value(json!({"allowedResizers": {"groups": ["ops"]}})).unwrap();
        assert!(
            resizer_violation(&user("Alice", &["dev"]), &only_groups)
                .unwrap()
                .contains("only allowedResizers may (groups [ops])")
        );
    }

    #[test]
    fn the_lock_label_on_the_existing_pod() {
        let settings = Settings::default();
        let raw = |value: serde_json::Value| serde_json::value::to_raw_value(&value).unwrap();
        let locked = raw(json!({"metadata": {"labels": {"kepguard.io/resize": "locked"}}}));
        assert_eq!(
            lock_violation(&locked, &settings).unwrap(),
            "the pod is labelled kepguard.io/resize=locked, which forbids resizing it: remove the label first, or recreate the pod"
        );
        for open in [
            json!({"metadata": {"labels": {"kepguard.io/resize": "unlocked"}}}),
            json!({"metadata": {"labels": {"kepguard.io/resize": true}}}),
            json!({"metadata": {"labels": null}}),
            json!({}),
            json!("pod"),
        ] {
            let open = raw(open);
            assert_eq!(lock_violation(&open, &settings), None, "{open}");
        }
        let custom: Settings = serde_json::from_value(json!({"lockLabel": "freeze"})).unwrap();
        assert!(
            lock_violation(
                &raw(json!({"metadata": {"labels": {"freeze": "locked"}}})),
                &custom
            )
            .is_some()
        );
        assert_eq!(lock_violation(&locked, &custom), None);
    }
}
