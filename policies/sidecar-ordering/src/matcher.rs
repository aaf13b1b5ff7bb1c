//! Name and image patterns, and the matchers compiled from them that give every container
//! its role. `*` matches any run of characters within one segment and `?` matches one
//! character.

use crate::view::{ContainerView, InitRole, PodSpecView, Roles};
use kepguard_common::image::ImageReference;

const DEFAULT_DOMAIN: &str = "docker.io";
const LEGACY_DEFAULT_DOMAIN: &str = "index.docker.io";
const LOCALHOST: &str = "localhost";

/// Whether `text` matches the glob `pattern` as a whole.
pub fn glob_matches(pattern: &str, text: &str) -> bool {
    let pattern: Vec<char> = pattern.chars().collect();
    let text: Vec<char> = text.chars().collect();
    let (mut p, mut t) = (0, 0);
    // Where the last `*` was and how much of the text it has swallowed so far.
    let mut backtrack: Option<(usize, usize)> = None;
    while t < text.len() {
        match pattern.get(p) {
            Some('*') => {
                backtrack = Some((p, t));
                p += 1;
            }
            Some(&c) if c == '?' || c == text[t] => {
                p += 1;
                t += 1;
            }
            _ => match backtrack {
                Some((star, swallowed)) => {
                    p = star + 1;
                    t = swallowed + 1;
                    backtrack = Some((star, swallowed + 1));
                }
                None => return false,
            },
        }
    }
    pattern[p..].iter().all(|&c| c == '*')
}

/// A container name pattern.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct NamePattern(String);

impl NamePattern {
    /// Container names are DNS labels, so only their characters and the globs are allowed.
    pub fn parse(pattern: &str) -> Result<NamePattern, String> {
        if pattern.is_empty() {
            return Err("is empty".into());
        }
        let allowed =
            |c: char| c.is_ascii_lowercase() || c.is_ascii_digit() || matches!(c, '-' | '*' | '?');
        if !pattern.chars().all(allowed) {
            return Err(
                "may only contain lowercase letters, digits, '-' and the globs '*' and '?'".into(),
            );
        }
        Ok(NamePattern(pattern.into()))
    }

    pub fn matches(&self, name: &str) -> bool {
        glob_matches(&self.0, name)
    }
}

/// An image repository pattern: `istio/proxyv2`, `gcr.io/istio-release/*`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ImagePattern {
    /// The registry host, normalised; `None` matches any registry by the last path segments.
    host: Option<String>,
    path: Vec<String>,
}

impl ImagePattern {
    pub fn parse(pattern: &str) -> Result<ImagePattern, String> {
        if pattern.is_empty() {
            return Err("is empty".into());
        }
        if pattern.chars().any(char::is_whitespace) {
            return Err("contains whitespace".into());
        }
        if let Some((_, digest)) = pattern.split_once('@') {
            return Err(format!(
                "has a digest (@{digest}): patterns match the repository only, remove it"
            ));
        }
        let segments: Vec<&str> = pattern.split('/').collect();
        if segments.iter().any(|segment| segment.is_empty()) {
            return Err("has an empty path segment".into());
        }
        // Docker's rule: the first of several segments is a host when it has '.' or ':' or is
        // localhost.
        let (host, path) = match segments.split_first() {
            Some((first, rest))
                if !rest.is_empty() && (*first == LOCALHOST || first.contains(['.', ':'])) =>
            {
                (Some(*first), rest)
            }
            _ => (None, segments.as_slice()),
        };
        if let Some(tagged) = path.iter().find(|segment| segment.contains(':')) {
            let tag = tagged
                .split_once(':')
                .map(|(_, tag)| tag)
                .unwrap_or_default();
            return Err(format!(
                "has a tag (:{tag}): patterns match the repository only, remove it"
            ));
        }
        let path_character = |c: char| {
            c.is_ascii_lowercase() || c.is_ascii_digit() || matches!(c, '.' | '_' | '-' | '*' | '?')
        };
        if !path
            .iter()
            .all(|segment| segment.chars().all(path_character))
        {
            return Err("has a repository path with characters other than lowercase letters, digits, '.', '_', '-' and the globs '*' and '?'".into());
        }
        let host_character = |c: char| {
            c.is_ascii_alphanumeric() || matches!(c, '.' | '-' | ':' | '[' | ']' | '*' | '?')
        };
        if host.is_some_and(|host| !host.chars().all(host_character)) {
            return Err("has a registry host with characters other than letters, digits, '.', '-', ':', '[', ']' and the globs '*' and '?'".into());
        }
        let mut path: Vec<String> = path.iter().map(|segment| segment.to_string()).collect();
        let host = host.map(|host| match host {
            LEGACY_DEFAULT_DOMAIN => DEFAULT_DOMAIN.to_string(),
            _ => host.to_string(),
        });
        if host.as_deref() == Some(DEFAULT_DOMAIN) && path.len() == 1 {
            path.insert(0, "library".into());
        }
        Ok(ImagePattern { host, path })
    }

    pub fn matches(&self, image: &ImageReference) -> bool {
        let image_path: Vec<&str> = image.path_segments().collect();
        match &self.host {
            Some(host) => {
                glob_matches(host, &image.domain)
                    && image_path.len() == self.path.len()
                    && self.segments_match(&image_path)
            }
            None => {
                image_path.len() >= self.path.len()
                    && self.segments_match(&image_path[image_path.len() - self.path.len()..])
            }
        }
    }

    fn segments_match(&self, segments: &[&str]) -> bool {
        self.path
            .iter()
            .zip(segments)
            .all(|(pattern, segment)| glob_matches(pattern, segment))
    }
}

/// A compiled matcher: a container matches when every given pattern matches.
#[derive(Debug, Clone)]
pub struct Matcher {
    name: Option<NamePattern>,
    image: Option<ImagePattern>,
}

impl Matcher {
    /// Compiles a matcher's patterns, naming `field` (`sidecars[0]`) in errors.
    pub fn compile(
        field: &str,
        name: Option<&str>,
        image: Option<&str>,
    ) -> Result<Matcher, String> {
        if name.is_none() && image.is_none() {
            return Err(format!("{field}: a matcher needs a name, an image or both"));
        }
        let name = name
            .map(|pattern| {
                NamePattern::parse(pattern)
                    .map_err(|e| format!("{field}.name: the pattern {pattern:?} {e}"))
            })
            .transpose()?;
        let image = image
            .map(|pattern| {
                ImagePattern::parse(pattern)
                    .map_err(|e| format!("{field}.image: the pattern {pattern:?} {e}"))
            })
            .transpose()?;
        Ok(Matcher { name, image })
    }

    /// Whether a container matches. An image that cannot be parsed never matches an image
    /// pattern.
    pub fn matches(&self, name: &str, image: Option<&ImageReference>) -> bool {
        self.name
            .as_ref()
            .is_none_or(|pattern| pattern.matches(name))
            && self
                .image
                .as_ref()
                .is_none_or(|pattern| image.is_some_and(|image| pattern.matches(image)))
    }
}

/// The compiled `sidecars` and `setupContainers` lists.
#[derive(Debug, Clone)]
pub struct Matchers {
    pub sidecars: Vec<Matcher>,
    pub setup: Vec<Matcher>,
}

impl Matchers {
    /// Gives every container of `spec` its role.
    pub fn classify(&self, spec: &PodSpecView) -> Roles {
        let init = spec
            .init_containers()
            .iter()
            .map(|container| {
                if container.is_native_sidecar() {
                    first_match(&self.sidecars, container)
                        .map_or(InitRole::OtherSidecar, InitRole::Sidecar)
                } else if first_match(&self.setup, container).is_some() {
                    InitRole::Setup
                } else {
                    InitRole::Ordinary
                }
            })
            .collect();
        let containers = spec
            .containers()
            .iter()
            .map(|container| first_match(&self.sidecars, container))
            .collect();
        Roles { init, containers }
    }
}

/// The index of the first matcher that matches the container.
fn first_match(matchers: &[Matcher], container: &ContainerView) -> Option<usize> {
    let image = container
        .image
        .as_deref()
        .and_then(|image| ImageReference::parse(image).ok());
    matchers
        .iter()
        .position(|matcher| matcher.matches(&container.name, image.as_ref()))
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::{Value, json};

    const SHA: &str = "0123456789abcdef0123456789abcdef0123456789abcdef0123456789abcdef";

    fn image_matches(pattern: &str, image: &str) -> bool {
        let pattern = ImagePattern::parse(pattern).unwrap_or_else(|e| panic!("{pattern}: {e}"));
        let image = ImageReference::parse(image).unwrap_or_else(|e| panic!("{image}: {e}"));
        pattern.matches(&image)
    }

    #[test]
    fn globs() {
        let cases = [
            ("istio-proxy", "istio-proxy", true),
            ("istio-proxy", "istio-proxy2", false),
            ("*-proxy", "istio-proxy", true),
            ("*", "", true),
            ("a*b*c", "axxbyyc", true),
            ("a*b*c", "abbbc", true),
            ("a*b*c", "abcx", false),
            ("vault-agent?", "vault-agent1", true),
            ("vault-agent?", "vault-agent", false),
            ("vault-agent?", "vault-agent12", false),
            ("??", "ab", true),
            ("", "a", false),
            ("**x", "yx", true),
        ];
        for (pattern, text, expected) in cases {
            assert_eq!(
                glob_matches(pattern, text),
                expected,
                "{pattern:?} on {text:?}"
            );
        }
    }

    #[test]
    fn name_patterns() {
        let cases = [
            ("linkerd-*", "linkerd-proxy", true),
            ("linkerd-*", "linkerd", false),
            ("istio-proxy", "istio-proxy", true),
            ("istio-proxy", "istio-proxy-2", false),
        ];
        for (pattern, name, expected) in cases {
            let parsed = NamePattern::parse(pattern).unwrap();
            assert_eq!(parsed.matches(name), expected, "{pattern:?} on {name:?}");
        }
    }

    #[test]
    fn invalid_name_patterns() {
        let only = "may only contain lowercase letters, digits, '-' and the globs '*' and '?'";
        let cases = [
            ("", "is empty"),
            ("Istio", only),
            ("istio proxy", only),
            ("istio/proxy", only),
        ];
        for (pattern, expected) in cases {
            assert_eq!(
                NamePattern::parse(pattern).unwrap_err(),
                expected,
                "{pattern:?}"
            );
        }
    }

    #[test]
    fn image_patterns() {
        let mirrored = format!("my.registry:5000/mirror/istio/proxyv2@sha256:{SHA}");
        let cases = [
            // The examples.
            ("istio/proxyv2", "docker.io/istio/proxyv2:1.22.0", true),
            ("istio/proxyv2", mirrored.as_str(), true),
            ("proxyv2", "gcr.io/istio-release/proxyv2", true),
            ("library/nginx", "nginx:1.27", true),
            ("*/proxyv2", "registry.local:5000/proxyv2", false),
            ("docker.io/istio/proxyv2", "istio/proxyv2:1.22.0", true),
            // Patterns without a host match trailing segments.
            ("nginx", "nginx", true),
            ("istio/proxyv2", "index.docker.io/istio/proxyv2", true),
            ("istio/proxyv2", "docker.io/myistio/proxyv2x", false),
            ("istio/proxyv2", "docker.io/myistio/proxyv2", false),
            ("istio/proxyv2", "gcr.io/proxyv2", false),
            ("proxyv2", "gcr.io/istio/proxyv2-extra", false),
            ("*/proxyv2", "gcr.io/istio-release/proxyv2", true),
            ("istio/proxy*", "istio/proxyv2:1.22", true),
            // `*` never crosses a '/'.
            ("istio*", "istio/proxyv2", false),
            (
                "cloud-sql-connectors/cloud-sql-proxy",
                "gcr.io/cloud-sql-connectors/cloud-sql-proxy:2.11.0",
                true,
            ),
            // Patterns with a host match the whole repository.
            ("docker.io/nginx", "nginx:1.27", true),
            ("index.docker.io/nginx", "docker.io/library/nginx", true),
            ("docker.io/library/nginx", "index.docker.io/nginx", true),
            ("docker.io/istio/proxyv2", "gcr.io/istio/proxyv2", false),
            ("gcr.io/proxyv2", "gcr.io/istio/proxyv2", false),
            (
                "gcr.io/istio-release/*",
                "gcr.io/istio-release/proxyv2:1.0",
                true,
            ),
            ("*.gcr.io/app", "eu.gcr.io/app", true),
            ("localhost:5000/app", "localhost:5000/app:v1", true),
            ("localhost/app", "localhost/app", true),
            ("localhost/app", "docker.io/localhost/app", false),
        ];
        for (pattern, image, expected) in cases {
            assert_eq!(
                image_matches(pattern, image),
                expected,
                "{pattern:?} on {image:?}"
            );
        }
    }

    #[test]
    fn invalid_image_patterns() {
        let digest = format!("istio/proxyv2@sha256:{SHA}");
        let digest_error =
            format!("has a digest (@sha256:{SHA}): patterns match the repository only, remove it");
        let tag = |tag: &str| {
            format!("has a tag (:{tag}): patterns match the repository only, remove it")
        };
        let path = "has a repository path with characters other than lowercase letters, digits, '.', '_', '-' and the globs '*' and '?'";
        let host = "has a registry host with characters other than letters, digits, '.', '-', ':', '[', ']' and the globs '*' and '?'";
        let cases = [
            ("", "is empty".to_string()),
            ("istio/ proxyv2", "contains whitespace".to_string()),
            ("istio/proxyv2:1.22", tag("1.22")),
            ("nginx:latest", tag("latest")),
            ("localhost:5000", tag("5000")),
            (digest.as_str(), digest_error),
            ("istio//proxyv2", "has an empty path segment".to_string()),
            ("/proxyv2", "has an empty path segment".to_string()),
            ("gcr.io/", "has an empty path segment".to_string()),
            ("Istio/proxyv2", path.to_string()),
            ("gcr.io/pro$y", path.to_string()),
            ("gc_r.io/proxy", host.to_string()),
        ];
        for (pattern, expected) in cases {
            assert_eq!(
                ImagePattern::parse(pattern).unwrap_err(),
                expected,
                "{pattern:?}"
            );
        }
        assert!(ImagePattern::parse("my.registry:5000/mirror/*").is_ok());
    }

    #[test]
    fn matchers_need_every_given_pattern() {
        let both = Matcher::compile("sidecars[0]", Some("istio-proxy"), Some("istio/proxyv2"));
        let by_name = Matcher::compile("sidecars[1]", Some("linkerd-proxy"), None);
        let (both, by_name) = (both.unwrap(), by_name.unwrap());
        let proxy = ImageReference::parse("istio/proxyv2:1.22.0").unwrap();
        let other = ImageReference::parse("envoyproxy/envoy:v1.30").unwrap();
        let cases = [
            ("name and image", &both, "istio-proxy", Some(&proxy), true),
            ("other image", &both, "istio-proxy", Some(&other), false),
            ("other name", &both, "proxy", Some(&proxy), false),
            ("no image", &both, "istio-proxy", None, false),
            ("name only", &by_name, "linkerd-proxy", None, true),
        ];
        for (name, matcher, container, image, expected) in cases {
            assert_eq!(matcher.matches(container, image), expected, "{name}");
        }
    }

    #[test]
    fn a_matcher_needs_a_pattern_and_names_the_bad_one() {
        let cases = [
            (
                None,
                None,
                "sidecars[2]: a matcher needs a name, an image or both",
            ),
            (
                Some("istio proxy"),
                None,
                "sidecars[2].name: the pattern \"istio proxy\" may only contain lowercase letters, digits, '-' and the globs '*' and '?'",
            ),
            (
                None,
                Some("a//b"),
                "sidecars[2].image: the pattern \"a//b\" has an empty path segment",
            ),
        ];
        for (name, image, expected) in cases {
            let error = Matcher::compile("sidecars[2]", name, image).unwrap_err();
            assert_eq!(error, expected, "{name:?} {image:?}");
        }
    }

    /// The matchers of the example settings.
    fn matchers() -> Matchers {
        let compile = |field: &str, name, image| Matcher::compile(field, name, image).unwrap();
        Matchers {
            sidecars: vec![
                compile("sidecars[0]", Some("istio-proxy"), Some("istio/proxyv2")),
                compile("sidecars[1]", Some("linkerd-proxy"), None),
                compile("sidecars[2]", Some("vault-agent"), Some("hashicorp/vault")),
                compile(
                    "sidecars[3]",
                    None,
                    Some("cloud-sql-connectors/cloud-sql-proxy"),
                ),
            ],
            setup: vec![
                compile("setupContainers[0]", Some("istio-init"), None),
                compile("setupContainers[1]", Some("linkerd-init"), None),
            ],
        }
    }

    fn classify(spec: Value) -> Roles {
        matchers().classify(&serde_json::from_value(spec).unwrap())
    }

    #[test]
    fn classifies_every_container() {
        let roles = classify(json!({
            "initContainers": [
                {"name": "istio-init", "image": "busybox"},
                {"name": "istio-proxy", "image": "docker.io/istio/proxyv2:1.22.0", "restartPolicy": "Always"},
                {"name": "other", "image": "envoy", "restartPolicy": "Always"},
                {"name": "linkerd-proxy", "image": "x", "restartPolicy": "Never",
                 "restartPolicyRules": [{"action": "Restart", "exitCodes": {"operator": "In", "values": [42]}}]},
                {"name": "vault-agent", "image": "hashicorp/vault:1.17", "restartPolicy": "OnFailure"},
                {"name": "migrate", "image": "busybox"}
            ],
            "containers": [
                {"name": "app", "image": "app"},
                {"name": "sql", "image": "gcr.io/cloud-sql-connectors/cloud-sql-proxy:2.11"},
                {"name": "istio-proxy", "image": "envoyproxy/envoy"}
            ]
        }));
        assert_eq!(
            roles,
            Roles {
                init: vec![
                    InitRole::Setup,
                    InitRole::Sidecar(0),
                    InitRole::OtherSidecar,
                    // Never and OnFailure are not sidecars, restartPolicyRules or not.
                    InitRole::Ordinary,
                    InitRole::Ordinary,
                    InitRole::Ordinary,
                ],
                // Name and image must both match: istio-proxy with an envoy image does not.
                containers: vec![None, Some(3), None],
            }
        );
    }

    #[test]
    fn unparsable_images_never_match_image_patterns() {
        let roles = classify(json!({"containers": [
            {"name": "sql", "image": "gcr.io/Cloud-SQL-Connectors/cloud-sql-proxy"},
            {"name": "sql2"},
            {"name": "linkerd-proxy", "image": "not a reference"}
        ]}));
        assert_eq!(roles.containers, vec![None, None, Some(1)]);
    }
}
