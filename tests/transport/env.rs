//! GOOGLE_CLOUD_LOCATION and GOOGLE_CLOUD_QUOTA_PROJECT are read when not given, as Google's
//! SDKs do. The test runs alone in a process of its own (`support::isolation`): it changes the
//! process environment.
//!
//! Every builder follows one rule (`vertex_batch::env`): a value given in code, else the
//! variable (blank counts as unset), else the default (location `us-central1`); a malformed value
//! from a variable is an error naming the variable.

use crate::support::transport::{emulator, list};
use vertex_batch::JobClient;
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

    // From here on: the same rule in every builder.
    let client = || {
        JobClient::builder()
            .with_endpoint(Endpoint::custom(&emu.uri()).unwrap())
            .with_credentials(Credentials::none())
    };

    // Location unset, or blank: JobClient's location is us-central1, and the channel's
    // endpoint would be us-central1's too (not reached here: it is on the network).
    for unset in [None, Some(" \t")] {
        // SAFETY: as above.
        unsafe {
            match unset {
                Some(blank) => std::env::set_var("GOOGLE_CLOUD_LOCATION", blank),
                None => std::env::remove_var("GOOGLE_CLOUD_LOCATION"),
            }
        }
        let jobs = client()
            .with_project("transport-test")
            .connect()
            .await
            .unwrap();
        assert_eq!(jobs.location().location(), "us-central1", "{unset:?}");
        let err = Endpoint::from_env().unwrap_err();
        assert!(
            err.to_string().contains("GOOGLE_CLOUD_LOCATION is not set"),
            "{err}"
        );
    }

    // Location from the variable, and a location in code wins over it.
    // SAFETY: as above.
    unsafe { std::env::set_var("GOOGLE_CLOUD_LOCATION", "europe-west4") };
    let jobs = client()
        .with_project("transport-test")
        .connect()
        .await
        .unwrap();
    assert_eq!(jobs.location().location(), "europe-west4");
    let jobs = client()
        .with_project("transport-test")
        .with_location("us-central1")
        .connect()
        .await
        .unwrap();
    assert_eq!(jobs.location().location(), "us-central1");

    // A malformed location from the variable: both builders name the variable, before any
    // connection.
    // SAFETY: as above.
    unsafe { std::env::set_var("GOOGLE_CLOUD_LOCATION", "Europe/West4") };
    let err = client()
        .with_project("transport-test")
        .connect()
        .await
        .unwrap_err();
    assert!(
        err.is_invalid_input()
            && err
                .to_string()
                .starts_with("invalid GOOGLE_CLOUD_LOCATION: "),
        "{err}"
    );
    let err = AuthChannel::builder()
        .with_credentials(Credentials::none())
        .connect()
        .await
        .unwrap_err();
    assert!(
        err.is_invalid_input()
            && err
                .to_string()
                .starts_with("invalid GOOGLE_CLOUD_LOCATION: "),
        "{err}"
    );
    // SAFETY: as above.
    unsafe { std::env::remove_var("GOOGLE_CLOUD_LOCATION") };

    // The project: from the variable; unset or blank says how to give one; malformed names
    // the variable.
    // SAFETY: as above.
    unsafe { std::env::set_var("GOOGLE_CLOUD_PROJECT", "env-project") };
    let jobs = client().connect().await.unwrap();
    assert_eq!(jobs.location().project(), "env-project");
    // SAFETY: as above.
    unsafe { std::env::set_var("GOOGLE_CLOUD_PROJECT", "  ") };
    let err = client().connect().await.unwrap_err();
    assert!(
        err.is_invalid_input() && err.to_string().contains("set GOOGLE_CLOUD_PROJECT"),
        "{err}"
    );
    // SAFETY: as above.
    unsafe { std::env::set_var("GOOGLE_CLOUD_PROJECT", "Env_Project") };
    let err = client().connect().await.unwrap_err();
    assert!(
        err.to_string()
            .starts_with("invalid GOOGLE_CLOUD_PROJECT: "),
        "{err}"
    );
    // SAFETY: as above.
    unsafe { std::env::remove_var("GOOGLE_CLOUD_PROJECT") };

    // The quota project: JobClient's calls carry the variable's, as the channel's do; blank
    // is unset.
    let jobs = client()
        .with_project("transport-test")
        .connect()
        .await
        .unwrap();
    list(jobs.channel()).await.unwrap();
    assert_eq!(
        emu.calls().last().unwrap().user_project.as_deref(),
        Some("env-billing")
    );
    // SAFETY: as above.
    unsafe { std::env::set_var("GOOGLE_CLOUD_QUOTA_PROJECT", " ") };
    let jobs = client()
        .with_project("transport-test")
        .connect()
        .await
        .unwrap();
    list(jobs.channel()).await.unwrap();
    assert_eq!(emu.calls().last().unwrap().user_project, None);
}
