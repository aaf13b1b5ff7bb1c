//! Name and image patterns. `*` matches any run of characters within one segment and `?`
//! matches one character.

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

#[cfg(test)]
mod tests {
    use super::*;

    const SHA: &str = "0123456789abcdef0123456789abcdef0123456789abcdef0123456789abcdef";

    fn image_matches(pattern: &str, image: &str) -> bool {
        let pattern = ImagePattern::parse(pattern).unwrap_or_else(|e| panic!("{pattern}: {e}"));
        let image = ImageReference::parse(image).unwrap_or_else(|e| panic!("{image}: {e}"));
        pattern.matches(&image)
    }

    #[test]
    fn globs() {
        assert!(glob_matches("istio-proxy", "istio-proxy"));
        assert!(!glob_matches("istio-proxy", "istio-proxy2"));
        assert!(glob_matches("*-proxy", "istio-proxy"));
        assert!(glob_matches("*", ""));
        assert!(glob_matches("a*b*c", "axxbyyc"));
        assert!(glob_matches("a*b*c", "abbbc"));
        assert!(!glob_matches("a*b*c", "abcx"));
        assert!(glob_matches("vault-agent?", "vault-agent1"));
        assert!(!glob_matches("vault-agent?", "vault-agent"));
        assert!(!glob_matches("vault-agent?", "vault-agent12"));
        assert!(glob_matches("??", "ab"));
        assert!(!glob_matches("", "a"));
        assert!(glob_matches("**x", "yx"));
    }

    #[test]
    fn name_patterns() {
        let pattern = NamePattern::parse("linkerd-*").unwrap();
        assert!(pattern.matches("linkerd-proxy"));
        assert!(!pattern.matches("linkerd"));
        assert!(
            NamePattern::parse("istio-proxy")
                .unwrap()
                .matches("istio-proxy")
        );
        assert!(
            !NamePattern::parse("istio-proxy")
                .unwrap()
                .matches("istio-proxy-2")
        );
        assert_eq!(NamePattern::parse("").unwrap_err(), "is empty");
        assert!(
            NamePattern::parse("Istio")
                .unwrap_err()
                .starts_with("may only contain")
        );
        assert!(NamePattern::parse("istio proxy").is_err());
        assert!(NamePattern::parse("istio/proxy").is_err());
    }

    #[test]
    fn the_issue_examples() {
        assert!(image_matches(
            "istio/proxyv2",
            "docker.io/istio/proxyv2:1.22.0"
        ));
        assert!(image_matches(
            "istio/proxyv2",
            &format!("my.registry:5000/mirror/istio/proxyv2@sha256:{SHA}")
        ));
        assert!(image_matches("proxyv2", "gcr.io/istio-release/proxyv2"));
        assert!(image_matches("library/nginx", "nginx:1.27"));
        assert!(!image_matches("*/proxyv2", "registry.local:5000/proxyv2"));
        assert!(image_matches(
            "docker.io/istio/proxyv2",
            "istio/proxyv2:1.22.0"
        ));
    }

    #[test]
    fn hostless_patterns_match_trailing_segments() {
        assert!(image_matches("nginx", "nginx"));
        assert!(image_matches(
            "istio/proxyv2",
            "index.docker.io/istio/proxyv2"
        ));
        assert!(!image_matches(
            "istio/proxyv2",
            "docker.io/myistio/proxyv2x"
        ));
        assert!(!image_matches("istio/proxyv2", "docker.io/myistio/proxyv2"));
        assert!(!image_matches("istio/proxyv2", "gcr.io/proxyv2"));
        assert!(!image_matches("proxyv2", "gcr.io/istio/proxyv2-extra"));
        assert!(image_matches("*/proxyv2", "gcr.io/istio-release/proxyv2"));
        assert!(image_matches("istio/proxy*", "istio/proxyv2:1.22"));
        // `*` never crosses a '/'.
        assert!(!image_matches("istio*", "istio/proxyv2"));
        assert!(image_matches(
            "cloud-sql-connectors/cloud-sql-proxy",
            "gcr.io/cloud-sql-connectors/cloud-sql-proxy:2.11.0"
        ));
    }

    #[test]
    fn hosted_patterns_match_the_whole_repository() {
        assert!(image_matches("docker.io/nginx", "nginx:1.27"));
        assert!(image_matches(
            "index.docker.io/nginx",
            "docker.io/library/nginx"
        ));
        assert!(image_matches(
            "docker.io/library/nginx",
            "index.docker.io/nginx"
        ));
        assert!(!image_matches(
            "docker.io/istio/proxyv2",
            "gcr.io/istio/proxyv2"
        ));
        assert!(!image_matches("gcr.io/proxyv2", "gcr.io/istio/proxyv2"));
        assert!(image_matches(
            "gcr.io/istio-release/*",
            "gcr.io/istio-release/proxyv2:1.0"
        ));
        assert!(image_matches("*.gcr.io/app", "eu.gcr.io/app"));
        assert!(image_matches("localhost:5000/app", "localhost:5000/app:v1"));
        assert!(image_matches("localhost/app", "localhost/app"));
        assert!(!image_matches("localhost/app", "docker.io/localhost/app"));
    }

    #[test]
    fn invalid_image_patterns() {
        let error = |pattern: &str| ImagePattern::parse(pattern).unwrap_err();
        assert_eq!(error(""), "is empty");
        assert_eq!(error("istio/ proxyv2"), "contains whitespace");
        assert!(error("istio/proxyv2:1.22").starts_with("has a tag (:1.22)"));
        assert!(error("nginx:latest").starts_with("has a tag (:latest)"));
        assert!(error("localhost:5000").starts_with("has a tag (:5000)"));
        assert!(error(&format!("istio/proxyv2@sha256:{SHA}")).starts_with("has a digest"));
        assert_eq!(error("istio//proxyv2"), "has an empty path segment");
        assert_eq!(error("/proxyv2"), "has an empty path segment");
        assert_eq!(error("gcr.io/"), "has an empty path segment");
        assert!(error("Istio/proxyv2").starts_with("has a repository path with characters"));
        assert!(error("gcr.io/pro$y").starts_with("has a repository path with characters"));
        assert!(error("gc_r.io/proxy").starts_with("has a registry host with characters"));
        assert!(ImagePattern::parse("my.registry:5000/mirror/*").is_ok());
    }
}
