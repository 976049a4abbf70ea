//! GOOGLE_CLOUD_LOCATION and GOOGLE_CLOUD_QUOTA_PROJECT are read when not given, as Google's
//! SDKs do. The test runs alone in a process of its own (`support::isolation`): it changes the
//! process environment.

use crate::support::transport::{emulator, list};
use vertex_batch::auth::Credentials;
use vertex_batch::endpoint::Endpoint;
use vertex_batch::transport::AuthChannel;

#[tokio::test]
async fn location_and_quota_project_come_from_the_environment() {
    if crate::support::isolation::rerun_alone(
        module_path!(),
        "location_and_quota_project_come_from_the_environment",
    ) {
        return;
    }
    // SAFETY: the only test in this process, so no other thread reads the environment meanwhile.
    unsafe {
        std::env::set_var("GOOGLE_CLOUD_LOCATION", "europe-west4");
        std::env::set_var("GOOGLE_CLOUD_QUOTA_PROJECT", "env-billing");
    }
    let endpoint = Endpoint::from_env().unwrap();
    assert_eq!(
        endpoint.uri(),
        "https://europe-west4-aiplatform.googleapis.com:443"
    );

    let emu = emulator().start().await.unwrap();
    let channel = AuthChannel::builder()
        .with_endpoint(Endpoint::custom(&emu.uri()).unwrap())
        .with_credentials(Credentials::none())
        .connect()
        .await
        .unwrap();
    list(&channel).await.unwrap();
    assert_eq!(emu.calls()[0].user_project.as_deref(), Some("env-billing"));

    // A quota project given in code wins over the environment.
    let channel = AuthChannel::builder()
        .with_endpoint(Endpoint::custom(&emu.uri()).unwrap())
        .with_credentials(Credentials::none())
        .with_quota_project("code-billing")
        .connect()
        .await
        .unwrap();
    list(&channel).await.unwrap();
    assert_eq!(emu.calls()[1].user_project.as_deref(), Some("code-billing"));

    // SAFETY: as above.
    unsafe { std::env::set_var("GOOGLE_CLOUD_LOCATION", "Europe/West4") };
    let err = Endpoint::from_env().unwrap_err();
    assert!(
        err.to_string()
            .starts_with("invalid GOOGLE_CLOUD_LOCATION: "),
        "{err}"
    );
    // SAFETY: as above.
    unsafe { std::env::remove_var("GOOGLE_CLOUD_LOCATION") };
    let err = Endpoint::from_env().unwrap_err();
    assert!(
        err.to_string().contains("GOOGLE_CLOUD_LOCATION is not set"),
        "{err}"
    );
}
