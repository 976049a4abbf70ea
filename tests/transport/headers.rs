//! Every request on an AuthChannel carries Google's headers, exactly as the emulator receives
//! them, whichever generated client sends it.

use crate::support::transport::{PARENT, channel, emulator, endpoint, get_missing, list};
use vertex_batch::auth::Credentials;
use vertex_batch::proto::google::longrunning::GetOperationRequest;
use vertex_batch::proto::google::longrunning::operations_client::OperationsClient;
use vertex_batch::routing;
use vertex_batch::transport::{API_CLIENT, AuthChannel};

#[tokio::test]
async fn headers_arrive_exactly_as_sent() {
    let emu = emulator().with_require_auth(true).start().await.unwrap();
    let channel = AuthChannel::builder()
        .with_endpoint(endpoint(&emu))
        .with_credentials(Credentials::static_token(emu.issue_token()))
        .with_quota_project("billing-project")
        .connect()
        .await
        .unwrap();

    list(&channel).await.unwrap();
    assert_eq!(get_missing(&channel).await.code(), tonic::Code::NotFound);

    let calls = emu.calls();
    assert_eq!(calls.len(), 2, "{calls:?}");
    let (listed, got) = (&calls[0], &calls[1]);
    assert_eq!(listed.method, "ListBatchPredictionJobs");
    assert_eq!(
        listed.request_params.as_deref(),
        Some("parent=projects/transport-test/locations/us-central1")
    );
    assert_eq!(got.method, "GetBatchPredictionJob");
    assert_eq!(
        got.request_params.as_deref(),
        Some("name=projects/transport-test/locations/us-central1/batchPredictionJobs/404")
    );
    for call in [listed, got] {
        assert!(call.authorization_present);
        assert_eq!(call.user_project.as_deref(), Some("billing-project"));
        assert_eq!(call.api_client.as_deref(), Some(API_CLIENT));
        let user_agent = call.user_agent.as_deref().unwrap();
        assert!(
            user_agent.starts_with(concat!(
                "vertex-batch/",
                env!("CARGO_PKG_VERSION"),
                " tonic/"
            )),
            "{user_agent}"
        );
    }
    let api_client = calls[0].api_client.as_deref().unwrap();
    assert!(api_client.starts_with("gl-rust/1."), "{api_client}");
    assert!(api_client.contains(" grpc/0.14 "), "{api_client}");
    assert!(
        api_client.ends_with(concat!(" gccl/", env!("CARGO_PKG_VERSION"))),
        "{api_client}"
    );
}

#[tokio::test]
async fn the_operations_client_runs_on_the_same_channel_with_the_same_headers() {
    let emu = emulator().with_require_auth(true).start().await.unwrap();
    let channel = channel(&emu, Credentials::static_token(emu.issue_token())).await;
    let name = format!("{PARENT}/operations/1");
    let status = OperationsClient::new(channel)
        .get_operation(routing::with_name(
            tonic::Request::new(GetOperationRequest { name: name.clone() }),
            &name,
        ))
        .await
        .unwrap_err();
    // Past authentication: the operation just does not exist.
    assert_eq!(status.code(), tonic::Code::NotFound, "{status:?}");
    let call = &emu.calls()[0];
    assert_eq!(call.method, "GetOperation");
    assert!(call.authorization_present);
    assert_eq!(call.api_client.as_deref(), Some(API_CLIENT));
    assert_eq!(
        call.request_params.as_deref(),
        Some("name=projects/transport-test/locations/us-central1/operations/1")
    );
}

#[tokio::test]
async fn no_credentials_send_no_authorization_and_no_quota_project_unless_set() {
    let emu = emulator().start().await.unwrap();
    let channel = channel(&emu, Credentials::none()).await;
    list(&channel).await.unwrap();
    let call = &emu.calls()[0];
    assert!(!call.authorization_present);
    assert_eq!(call.user_project, None);
    assert_eq!(call.api_client.as_deref(), Some(API_CLIENT));
}

#[tokio::test]
async fn debug_output_shows_no_token() {
    let emu = emulator().with_require_auth(true).start().await.unwrap();
    let token = emu.issue_token();
    let credentials = Credentials::static_token(token.clone());
    assert!(!format!("{credentials:?}").contains(&token));
    let channel = channel(&emu, credentials).await;
    list(&channel).await.unwrap();
    let debug = format!("{channel:?}");
    assert!(debug.contains("static token"), "{debug}");
    assert!(!debug.contains(&token), "{debug}");
}
