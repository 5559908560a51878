//! Consumer health from the Azure side: what the SIEM's own checkpoint store says.
//!
//! The SIEM writes a checkpoint (and, for the modern processors, an ownership claim) per
//! partition into the checkpoint storage account the guide creates. siemproof lists that
//! container read-only through the Blob service (`blob.checkpoints`: GET List Blobs with an Entra
//! token for storage, the Storage Blob Data Reader role; never a key, a write or a lease),
//! recognises the layout that wrote it ([`layout`]), and the `consumer` checks judge whether the
//! SIEM reads every partition, is alive, and reads alone ([`normalize`], [`model`]).

pub mod layout;
pub mod model;
pub mod normalize;
pub mod partitions;
