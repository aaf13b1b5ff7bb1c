//! Code shared by every kepguard policy.
//!
//! - [`settings`]: the settings pattern every policy follows (deserialise, then compile once)
//!   and the checks they share.
//! - [`verdict`]: a policy's decision on one request.
//! - [`request`]: the admission request, with the object and old object kept as raw JSON.
//! - [`podspec`]: the pod spec of a Pod and of every workload template, for reading into
//!   small view structs and for patching the raw JSON in place.
//! - [`image`]: container image references, parsed and normalised as the runtime does.
//! - [`quantity`]: Kubernetes quantities, parsed and compared exactly.
//! - [`labels`]: label keys and values, checked as the apiserver checks them.
//! - [`glob`]: namespace patterns with `*` and `?`.
//! - [`view`]: reading raw JSON into a view struct, with errors that name the field's path.
//! - [`entry`]: the waPC `validate` and `validate_settings` plumbing behind
//!   [`policy_entry_points!`], which turns malformed input into clear rejections, not traps.

pub mod entry;
pub mod glob;
pub mod image;
pub mod labels;
pub mod podspec;
pub mod quantity;
pub mod request;
pub mod settings;
pub mod verdict;
pub mod view;

pub use podspec::WorkloadKind;
pub use quantity::Quantity;
pub use request::AdmissionRequest;
pub use settings::PolicySettings;
pub use verdict::Verdict;
