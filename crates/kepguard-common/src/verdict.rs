//! A policy's decision on one request, and the waPC response it becomes.

use kubewarden_policy_sdk::response::ValidationResponse;
use serde_json::Value;

/// A policy's decision on one request.
#[derive(Debug, Clone, PartialEq)]
pub enum Verdict {
    Accept {
        warnings: Vec<String>,
    },
    Reject {
        message: String,
    },
    Mutate {
        object: Value,
        warnings: Vec<String>,
    },
}

impl Verdict {
    pub fn accept() -> Verdict {
        Verdict::Accept {
            warnings: Vec::new(),
        }
    }

    pub fn reject(message: impl Into<String>) -> Verdict {
        Verdict::Reject {
            message: message.into(),
        }
    }

    /// Rejects with every violation listed, or accepts when there is none.
    pub fn from_violations(violations: Vec<String>) -> Verdict {
        if violations.is_empty() {
            Verdict::accept()
        } else {
            Verdict::reject(violations.join("; "))
        }
    }

    pub(crate) fn into_response(self) -> ValidationResponse {
        let (accepted, message, mutated_object, warnings) = match self {
            Verdict::Accept { warnings } => (true, None, None, warnings),
            Verdict::Reject { message } => (false, Some(message), None, Vec::new()),
            Verdict::Mutate { object, warnings } => (true, None, Some(object), warnings),
        };
        ValidationResponse {
            accepted,
            message,
            code: None,
            mutated_object,
            audit_annotations: None,
            warnings: (!warnings.is_empty()).then_some(warnings),
        }
    }
}
