//! The SIEM side: what the SIEM itself says about the Microsoft inputs it runs.
//!
//! Targets are configured as `[[siem]]` (or `[[siem.targets]]`): QRadar, Splunk and Elastic,
//! each with its base URL and the *name* of the environment variable or file that holds its
//! read-only credential. The collector reads their inputs through the same read-only client as
//! the Microsoft planes ([`collect`]), the normaliser turns every SIEM's answer into one shape
//! ([`model`]), and the `siem` checks judge it.

pub mod collect;
pub mod config;
pub mod elastic;
pub mod model;
pub mod normalize;
pub mod splunk;
