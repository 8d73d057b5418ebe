//! Shared by the integration tests (`mod support;`); each test uses only
//! part of it.
#![allow(dead_code)]

pub mod postgres;
