//! Releasing policies the way the Kubewarden hub does: metadata checked against the crate,
//! annotated modules, `ClusterAdmissionPolicy` manifests, Artifact Hub files, and OCI push
//! and pull.

pub mod annotate;
pub mod artifacthub;
pub mod manifest;
pub mod metadata;
pub mod oci;
