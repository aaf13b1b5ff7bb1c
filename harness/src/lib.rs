//! The kepguard harness: a native waPC host for Kubewarden policy modules, and the
//! declarative suite runner built on it.

pub mod admission;
pub mod host;
pub mod suite;
