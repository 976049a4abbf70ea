//! Cloud Storage on the emulator: one [`ObjectStore`] (in memory, or the local gs:// folder)
//! that the jobs read and write, served over HTTP on loopback as the JSON API subset a storage
//! client uses. Point a client at it with `STORAGE_EMULATOR_HOST=http://127.0.0.1:PORT`
//! ([`EmulatorHandle::storage_uri`](super::EmulatorHandle::storage_uri)).

mod conditions;
mod faults;
mod http;
mod multipart;
mod resource;
mod store;

pub use faults::StorageFaultCounts;
pub(crate) use faults::StorageFaults;
pub(crate) use http::{StorageApi, router};
pub(crate) use store::{ObjectStore, StoreError, check_bucket};
