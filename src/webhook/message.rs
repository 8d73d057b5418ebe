//! What is delivered (a message: id, event type, payload) and where to
//! (an endpoint's id).

use serde::{Deserialize, Serialize};

/// One message to deliver: the same id, type and body on every attempt and
/// to every endpoint, so receivers can deduplicate by id.
#[derive(Debug, Clone, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[non_exhaustive]
pub struct Message {
    /// The webhook (message) id, such as `msg_2b9v…`: non-empty visible
    /// ASCII, sent in the scheme's id header.
    pub id: String,
    /// The event type that endpoint filters match, such as `invoice.paid`.
    pub event_type: String,
    /// The request body, usually JSON.
    pub payload: String,
}

impl Message {
    /// A message with `id`, `event_type` and `payload`.
    pub fn new(
        id: impl Into<String>,
        event_type: impl Into<String>,
        payload: impl Into<String>,
    ) -> Self {
        Self {
            id: id.into(),
            event_type: event_type.into(),
            payload: payload.into(),
        }
    }
}

/// Names an endpoint in a [`Delivery`](super::Delivery) (whatever key the caller stores
/// endpoints under).
#[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(transparent)]
pub struct EndpointId(pub String);

impl From<&str> for EndpointId {
    fn from(id: &str) -> Self {
        Self(id.to_owned())
    }
}

impl From<String> for EndpointId {
    fn from(id: String) -> Self {
        Self(id)
    }
}

impl std::fmt::Display for EndpointId {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        // `pad`, so that widths and alignment apply.
        f.pad(&self.0)
    }
}
