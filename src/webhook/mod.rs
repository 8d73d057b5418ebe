//! Webhooks: signing and verifying HTTP requests.
