//! siemproof: proves, with signed evidence, that Microsoft 365 / Azure security logs really reach
//! the SIEM. This crate is the command-line tool and the library its tests drive.
//!
//! Three stages over data: `collect` (online, read-only) writes an evidence bundle, `audit`
//! (offline, pure) turns bundle + checks + config + audit clock into `results.json`, and reports
//! are rendered from that. See DESIGN.md.

#![forbid(unsafe_code)]

pub mod attest;
pub mod audit;
pub mod catalog;
pub mod cli;
pub mod cloud;
pub mod collect;
pub mod config;
pub mod consumer;
pub mod coverage;
pub mod diff;
pub mod engine;
pub mod evidence;
pub mod files;
pub mod fix;
pub mod fleet;
pub mod leave_out;
pub mod ledger;
pub mod netaddr;
pub mod normalize;
pub mod parallel;
pub mod probe;
pub mod redact;
pub mod report;
pub mod results;
pub mod selftest;
pub mod send;
pub mod siem;
pub mod sign;
pub mod signals;
pub mod waiver;
