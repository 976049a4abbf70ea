//! The code generated from the vendored protos, one module per proto package.
//!
//! `google.cloud.aiplatform.v1` is also reachable as [`crate::v1`]. Well-known types
//! (`google.protobuf.*`) are [`prost_types`]. Client code is always here; the server
//! traits (`job_service_server`, `operations_server`) exist only with feature `emulator`.
//!
//! This module is generated: lint allowances for it live here and nowhere else.
#![allow(
    missing_docs,
    clippy::all,
    clippy::pedantic,
    rustdoc::all,
    unreachable_pub
)]

/// `google.*` proto packages.
pub mod google {
    /// `google.api`: resource and field annotations, HTTP rules.
    pub mod api {
        include!(concat!(env!("OUT_DIR"), "/google.api.rs"));
    }
    /// `google.rpc`: `Status`.
    pub mod rpc {
        include!(concat!(env!("OUT_DIR"), "/google.rpc.rs"));
    }
    /// `google.longrunning`: `Operation` and the Operations service.
    pub mod longrunning {
        include!(concat!(env!("OUT_DIR"), "/google.longrunning.rs"));
    }
    /// `google.type`: `Money`.
    pub mod r#type {
        include!(concat!(env!("OUT_DIR"), "/google.r#type.rs"));
    }
    /// `google.cloud.*`.
    pub mod cloud {
        /// `google.cloud.aiplatform.*`.
        pub mod aiplatform {
            /// `google.cloud.aiplatform.v1`: JobService, BatchPredictionJob and their messages.
            pub mod v1 {
                include!(concat!(env!("OUT_DIR"), "/google.cloud.aiplatform.v1.rs"));
            }
        }
    }
}

/// The encoded `google.protobuf.FileDescriptorSet` of every vendored proto and the
/// `google/protobuf` files they import, for reflection and proto3 JSON (prost-reflect).
pub const FILE_DESCRIPTOR_SET: &[u8] =
    include_bytes!(concat!(env!("OUT_DIR"), "/file_descriptor_set.bin"));
