//! Ordering keys: messages sharing a key go out one after another, in
//! order, to each endpoint.

use super::message::EndpointId;

/// Picks, from pending deliveries oldest first, those that may be attempted
/// now when deliveries with the same ordering key must reach each endpoint
/// in order: every delivery without a key, and for each (endpoint, key)
/// only the oldest pending one. The next message of a key waits until the
/// one before it has ended (delivered or given up), so a receiver never sees
/// `invoice.paid` before `invoice.created` for the same invoice.
///
/// `key` gives a delivery's endpoint and ordering key (`None`: unordered).
/// A sender whose store does the selection (SQL) applies the same rule
/// there; this is that rule, for an in-memory queue or a test oracle.
///
/// ```
/// use webwire::webhook::{EndpointId, sendable_in_order};
///
/// let ep = EndpointId::from("ep_1");
/// let pending = [
///     ("m1", Some("invoice_7")),
///     ("m2", None),
///     ("m3", Some("invoice_7")), // waits for m1
///     ("m4", Some("invoice_8")),
/// ];
/// let now: Vec<_> = sendable_in_order(&pending, |(_, key)| (&ep, *key)).map(|(id, _)| *id).collect();
/// assert_eq!(now, ["m1", "m2", "m4"]);
/// ```
pub fn sendable_in_order<T>(
    pending: &[T],
    key: impl Fn(&T) -> (&EndpointId, Option<&str>),
) -> impl Iterator<Item = &T> {
    let mut seen: std::collections::HashSet<(&EndpointId, &str)> = std::collections::HashSet::new();
    pending.iter().filter(move |item| match key(item) {
        (_, None) => true,
        (endpoint, Some(ordering)) => seen.insert((endpoint, ordering)),
    })
}
