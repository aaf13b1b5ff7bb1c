//! `kepguard artifacthub`: `artifacthub/<policy>/artifacthub-pkg.yml`, in the format of
//! `kwctl scaffold artifacthub`, generated from metadata.yml and the README.
//!
//! A policy's `questions-ui.yml`, when present, becomes the `kubewarden/questions-ui` annotation
//! (as `kwctl scaffold artifacthub --questions-path` does): the Rancher UI builds its settings
//! form from it.
//!
//! `createdAt` is kept from the committed file while the version is unchanged, so the file is
//! reproducible and a stale one can be detected; a new version gets the current time.

use crate::release::metadata::{
    DESCRIPTION, DISPLAY_NAME, KEYWORDS, LICENSE, PolicyDir, RESOURCES, SOURCE, TITLE, URL,
};
use anyhow::{Context, Result, bail};
use serde::{Deserialize, Serialize};
use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

#[derive(Serialize)]
#[serde(rename_all = "camelCase")]
struct Package {
    version: String,
    name: String,
    display_name: String,
    created_at: String,
    description: String,
    license: String,
    #[serde(rename = "homeURL")]
    home_url: String,
    containers_images: Vec<ContainerImage>,
    keywords: Vec<String>,
    links: Vec<Link>,
    install: String,
    provider: Provider,
    recommendations: Vec<Recommendation>,
    annotations: BTreeMap<String, String>,
    readme: String,
}

#[derive(Serialize)]
struct ContainerImage {
    name: &'static str,
    image: String,
}

#[derive(Serialize)]
struct Link {
    name: &'static str,
    url: String,
}

#[derive(Serialize)]
struct Provider {
    name: &'static str,
}

#[derive(Serialize)]
struct Recommendation {
    url: &'static str,
}

/// What is read back from a committed file.
#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
struct Committed {
    version: String,
    created_at: String,
}

/// The annotation that carries the text of `questions-ui.yml`.
pub const QUESTIONS_UI: &str = "kubewarden/questions-ui";

/// Where a policy's Rancher questions live.
pub fn questions_path(policy: &PolicyDir) -> PathBuf {
    policy.dir.join("questions-ui.yml")
}

/// The text of the policy's `questions-ui.yml`, if it has one.
fn questions_ui(policy: &PolicyDir) -> Result<Option<String>> {
    let path = questions_path(policy);
    match std::fs::read_to_string(&path) {
        Ok(text) => Ok(Some(text)),
        Err(error) if error.kind() == std::io::ErrorKind::NotFound => Ok(None),
        Err(error) => Err(error).with_context(|| format!("cannot read {}", path.display())),
    }
}

/// Where the package file of a policy lives.
pub fn package_path(root: &Path, policy: &str) -> PathBuf {
    root.join("artifacthub")
        .join(policy)
        .join("artifacthub-pkg.yml")
}

/// The package file's text for `policy`, created at `created_at` (RFC 3339).
pub fn render(policy: &PolicyDir, created_at: &str) -> Result<String> {
    let metadata = &policy.metadata;
    let annotation = |key| metadata.annotation(key).map(str::to_string);
    let version = policy.version.clone();
    let image = policy.image()?;
    let source = annotation(SOURCE)?;
    let keywords: Vec<String> = annotation(KEYWORDS)?
        .split(',')
        .map(|keyword| keyword.trim().to_string())
        .collect();
    if keywords.iter().any(String::is_empty) {
        bail!("{KEYWORDS} must be a comma-separated list without empty entries");
    }
    let mut annotations = BTreeMap::new();
    annotations.insert(
        "kubewarden/mutation".to_string(),
        metadata.mutating.to_string(),
    );
    // Like kwctl: only a context-aware policy carries this annotation, because Artifact Hub
    // and the Rancher UI treat its presence as "context aware".
    if !metadata.context_aware_resources.is_empty() {
        annotations.insert(
            "kubewarden/contextAwareResources".to_string(),
            serde_norway::to_string(&metadata.context_aware_resources)?,
        );
    }
    annotations.insert("kubewarden/resources".to_string(), annotation(RESOURCES)?);
    annotations.insert(
        "kubewarden/rules".to_string(),
        serde_norway::to_string(&metadata.rules)?,
    );
    if let Some(questions) = questions_ui(policy)? {
        annotations.insert(QUESTIONS_UI.to_string(), questions);
    }
    let package = Package {
        name: annotation(TITLE)?,
        display_name: annotation(DISPLAY_NAME)?,
        created_at: created_at.to_string(),
        description: annotation(DESCRIPTION)?,
        license: annotation(LICENSE)?,
        home_url: annotation(URL)?,
        containers_images: vec![ContainerImage {
            name: "policy",
            image: image.clone(),
        }],
        keywords,
        links: vec![
            // The release workflow attaches the annotated module to the policy's release.
            Link {
                name: "policy",
                url: format!(
                    "{source}/releases/download/{}/v{version}/policy.wasm",
                    policy.name
                ),
            },
            Link {
                name: "source",
                url: format!("{source}/tree/main/policies/{}", policy.name),
            },
        ],
        install: format!(
            "The policy can be obtained using [`kwctl`](https://github.com/kubewarden/adm-controller):\n\
             ```console\n\
             kwctl pull {image}\n\
             ```\n\
             Then, generate the policy manifest and tune it to your liking. For example:\n\
             ```console\n\
             kwctl scaffold manifest -t ClusterAdmissionPolicy registry://{image}\n\
             ```\n"
        ),
        provider: Provider { name: "kubewarden" },
        recommendations: vec![Recommendation {
            url: "https://artifacthub.io/packages/helm/kubewarden/kubewarden-controller",
        }],
        annotations,
        readme: policy.readme()?,
        version,
    };
    Ok(format!(
        "# Artifact Hub package of the {name} Kubewarden policy, in the format of\n\
         # `kwctl scaffold artifacthub`. Generated from policies/{name}/metadata.yml, README.md\n\
         # and questions-ui.yml by `make artifacthub`: do not edit by hand.\n{}",
        serde_norway::to_string(&package)?,
        name = policy.name
    ))
}

/// The `createdAt` to use: the committed one while the version is unchanged.
pub fn committed_created_at(root: &Path, policy: &PolicyDir) -> Result<Option<String>> {
    let path = package_path(root, &policy.name);
    let text = match std::fs::read_to_string(&path) {
        Ok(text) => text,
        Err(error) if error.kind() == std::io::ErrorKind::NotFound => return Ok(None),
        Err(error) => return Err(error).with_context(|| format!("cannot read {}", path.display())),
    };
    let committed: Committed = serde_norway::from_str(&text)
        .with_context(|| format!("{} is not an Artifact Hub package file", path.display()))?;
    Ok((committed.version == policy.version).then_some(committed.created_at))
}

/// Writes the package file; returns whether it changed.
pub fn write(root: &Path, policy: &PolicyDir) -> Result<bool> {
    let created_at = committed_created_at(root, policy)?.unwrap_or_else(now_rfc3339);
    let text = render(policy, &created_at)?;
    let path = package_path(root, &policy.name);
    if std::fs::read_to_string(&path).ok().as_deref() == Some(text.as_str()) {
        return Ok(false);
    }
    std::fs::create_dir_all(path.parent().unwrap_or(root))?;
    std::fs::write(&path, text).with_context(|| format!("cannot write {}", path.display()))?;
    Ok(true)
}

/// Why the committed package file is not what the generator makes now, if it is not.
pub fn staleness(root: &Path, policy: &PolicyDir) -> Result<Option<String>> {
    let path = package_path(root, &policy.name);
    let Some(created_at) = committed_created_at(root, policy)? else {
        return Ok(Some(format!(
            "{} is missing or is for another version than {}",
            path.display(),
            policy.version
        )));
    };
    let expected = render(policy, &created_at)?;
    let actual = std::fs::read_to_string(&path)?;
    if actual == expected {
        return Ok(None);
    }
    let line = actual
        .lines()
        .zip(expected.lines())
        .position(|(a, e)| a != e)
        .unwrap_or_else(|| actual.lines().count().min(expected.lines().count()))
        + 1;
    Ok(Some(format!(
        "{} is stale (first difference at line {line})",
        path.display()
    )))
}

/// The current UTC time in RFC 3339, to the second.
pub fn now_rfc3339() -> String {
    let seconds = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(0, |elapsed| elapsed.as_secs());
    rfc3339(seconds)
}

fn rfc3339(unix_seconds: u64) -> String {
    let days = (unix_seconds / 86_400) as i64;
    let second_of_day = unix_seconds % 86_400;
    // Howard Hinnant's days-to-civil conversion.
    let z = days + 719_468;
    let era = z.div_euclid(146_097);
    let day_of_era = z.rem_euclid(146_097);
    let year_of_era =
        (day_of_era - day_of_era / 1460 + day_of_era / 36_524 - day_of_era / 146_096) / 365;
    let day_of_year = day_of_era - (365 * year_of_era + year_of_era / 4 - year_of_era / 100);
    let shifted_month = (5 * day_of_year + 2) / 153;
    let day = day_of_year - (153 * shifted_month + 2) / 5 + 1;
    let month = if shifted_month < 10 {
        shifted_month + 3
    } else {
        shifted_month - 9
    };
    let year = year_of_era + era * 400 + i64::from(month <= 2);
    format!(
        "{year:04}-{month:02}-{day:02}T{:02}:{:02}:{:02}Z",
        second_of_day / 3600,
        second_of_day / 60 % 60,
        second_of_day % 60
    )
}

#[cfg(test)]
mod tests {
    use super::rfc3339;

    #[test]
    fn rfc3339_matches_known_instants() {
        assert_eq!(rfc3339(0), "1970-01-01T00:00:00Z");
        assert_eq!(rfc3339(951_782_400), "2000-02-29T00:00:00Z");
        assert_eq!(rfc3339(1_747_402_644), "2025-05-16T13:37:24Z");
        assert_eq!(rfc3339(4_102_444_799), "2099-12-31T23:59:59Z");
    }
}
