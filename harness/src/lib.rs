//! The kepguard harness: a native waPC host for Kubewarden policy modules, and the
//! declarative suite runner built on it, and the release tooling: annotation, manifests,
//! Artifact Hub files, and OCI push and pull.

pub mod admission;
pub mod annotate;
pub mod artifacthub;
pub mod bench;
pub mod host;
pub mod manifest;
pub mod metadata;
pub mod oci;
pub mod suite;
