//! The kepguard harness, by layer:
//!
//! - [`host`]: the waPC host on wasmtime (engine, imports, instances, errors);
//! - [`admission`]: AdmissionRequests in, AdmissionResponses and JSON patches out;
//! - [`check`]: the policies of a cluster against the manifests of a repository;
//! - [`suite`] and [`bench`]: declarative test suites, and what a policy costs;
//! - [`release`]: metadata, annotation, manifests, Artifact Hub files, OCI push and pull;
//! - [`workspace`]: which folders are policies, and building their modules;
//! - [`commands`]: the bodies of the `kepguard` subcommands.

pub mod admission;
pub mod bench;
pub mod check;
pub mod commands;
pub mod host;
pub mod release;
pub mod suite;
pub mod workspace;
