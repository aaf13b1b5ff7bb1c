//! Releasing policies the way the Kubewarden hub does: metadata checked against the crate,
//! annotated modules, `ClusterAdmissionPolicy` manifests, Artifact Hub files, and OCI push
//! and pull, cosign signatures and SBOMs.

pub mod annotate;
pub mod artifacthub;
pub mod manifest;
pub mod metadata;
pub mod oci;
pub mod sbom;
pub mod signing;
pub mod verification;
