//! Code shared by every kepguard policy.
//!
//! - [`quantity`]: Kubernetes quantities, parsed and compared exactly.
//! - [`podspec`]: the pod spec of a Pod and of every workload template, for reading into
//!   small view structs and for patching the raw JSON in place.
//! - [`request`]: the admission request, with the object and old object kept as raw JSON.
//! - [`view`]: reading raw JSON into a view struct, with errors that name the field's path.
//! - [`evaluation`]: the waPC `validate` and `validate_settings` plumbing, which turns
//!   malformed input into clear rejections instead of traps.

pub mod evaluation;
pub mod podspec;
pub mod quantity;
pub mod request;
pub mod view;

pub use evaluation::{PolicySettings, Verdict};
pub use podspec::WorkloadKind;
pub use quantity::Quantity;
pub use request::AdmissionRequest;
