//! Fleets: many tenants, one command. A fleet file lists the tenants; `fleet audit` audits
//! them all (or one shard of them) on every core with one compiled catalogue, each exactly as
//! `siemproof audit` would, and `fleet report` renders the portfolio over the fleet's state,
//! or over the state directories of its shards.
//!
//! Every single-tenant guarantee holds per tenant: a tenant's outputs are written whole or not
//! at all, its failure is its own exit 2 and never stops the others, and the fleet exits with
//! its worst tenant's code. See docs/fleet.md.

pub mod collect;
pub mod file;
pub mod portfolio;
pub mod run;
pub mod shard;

pub use file::{Fleet, Tenant};
pub use shard::Shard;
