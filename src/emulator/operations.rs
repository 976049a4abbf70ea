//! The long-running operations that Delete starts, and the google.longrunning.Operations service
//! that serves them (GetOperation; the other methods answer UNIMPLEMENTED).

use std::sync::Arc;
use std::time::SystemTime;

use prost::Message;
use prost_types::Any;

use super::clock::lock;
use super::server::Config;
use super::state::EmulatorState;
use crate::proto::google::longrunning::operations_server::Operations;
use crate::proto::google::longrunning::{GetOperationRequest, Operation, operation};
use crate::v1::{DeleteOperationMetadata, GenericOperationMetadata};

/// A delete in progress, done once the clock reaches `done_at`.
#[derive(Debug, Clone)]
pub(crate) struct DeleteOperation {
    pub(crate) name: String,
    pub(crate) created: SystemTime,
    pub(crate) done_at: SystemTime,
}

impl DeleteOperation {
    pub(crate) fn render(&self, now: SystemTime) -> Operation {
        let done = now >= self.done_at;
        let metadata = DeleteOperationMetadata {
            generic_metadata: Some(GenericOperationMetadata {
                partial_failures: Vec::new(),
                create_time: Some(self.created.into()),
                update_time: Some(if done { self.done_at } else { self.created }.into()),
            }),
        };
        Operation {
            name: self.name.clone(),
            metadata: Some(Any {
                type_url: "type.googleapis.com/google.cloud.aiplatform.v1.DeleteOperationMetadata"
                    .to_string(),
                value: metadata.encode_to_vec(),
            }),
            done,
            // A finished delete answers google.protobuf.Empty.
            result: done.then(|| {
                operation::Result::Response(Any {
                    type_url: "type.googleapis.com/google.protobuf.Empty".to_string(),
                    value: Vec::new(),
                })
            }),
        }
    }
}

/// The Operations service over the emulator's state.
#[derive(Debug, Clone)]
pub(crate) struct OperationsService {
    pub(crate) state: EmulatorState,
    pub(crate) config: Arc<Config>,
}

#[tonic::async_trait]
impl Operations for OperationsService {
    async fn get_operation(
        &self,
        request: tonic::Request<GetOperationRequest>,
    ) -> Result<tonic::Response<Operation>, tonic::Status> {
        self.state
            .admit("GetOperation", request.metadata(), &self.config)
            .await?;
        let name = &request.get_ref().name;
        let now = self.state.inner.clock.now();
        let operations = lock(&self.state.inner.operations);
        let operation = operations.get(name).ok_or_else(|| {
            tonic::Status::not_found(format!("operation `{name}` does not exist"))
        })?;
        Ok(tonic::Response::new(operation.render(now)))
    }
}
