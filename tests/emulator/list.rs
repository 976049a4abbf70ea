//! 250 jobs listed in pages, with filters on state, display_name and labels.

use std::collections::HashSet;
use std::time::Duration;

use crate::support::stub::{PARENT, client, create, job};
use tonic::Code;
use tonic::transport::Channel;
use vertex_batch::emulator::Emulator;
use vertex_batch::v1::job_service_client::JobServiceClient;
use vertex_batch::v1::{CancelBatchPredictionJobRequest, ListBatchPredictionJobsRequest};

/// 250 jobs: display names `job-0` .. `job-249`, label `parity` = even|odd, label `tens` on
/// every tenth job; jobs 0..100 created first and then run to the end, job 0..10 cancelled.
async fn fixture() -> (Emulator, JobServiceClient<Channel>, Vec<String>) {
    let emu = Emulator::builder()
        .with_manual_clock(true)
        .with_durations(Duration::from_secs(10), Duration::from_secs(10))
        .with_cancel_duration(Duration::from_secs(1))
        .start()
        .await
        .unwrap();
    let mut client = client(&emu).await;
    let mut names = Vec::new();
    for i in 0..250 {
        if i == 100 {
            emu.advance(Duration::from_secs(30));
        }
        let mut submitted = job(&format!("job-{i}"));
        let parity = if i % 2 == 0 { "even" } else { "odd" };
        submitted.labels.insert("parity".into(), parity.into());
        if i % 10 == 0 {
            submitted.labels.insert("tens".into(), "yes".into());
        }
        let created = client
            .create_batch_prediction_job(create(submitted))
            .await
            .unwrap()
            .into_inner();
        names.push(created.name);
        if (100..110).contains(&i) {
            let cancel = CancelBatchPredictionJobRequest {
                name: names[i].clone(),
            };
            client.cancel_batch_prediction_job(cancel).await.unwrap();
        }
    }
    emu.advance(Duration::from_secs(2));
    (emu, client, names)
}

/// Lists every page and returns the display names in order, and the number of pages.
async fn list_all(
    client: &mut JobServiceClient<Channel>,
    filter: &str,
    page_size: i32,
) -> (Vec<String>, usize) {
    let mut names = Vec::new();
    let mut pages = 0;
    let mut page_token = String::new();
    loop {
        let request = ListBatchPredictionJobsRequest {
            parent: PARENT.into(),
            filter: filter.into(),
            page_size,
            page_token,
            read_mask: None,
        };
        let page = client
            .list_batch_prediction_jobs(request)
            .await
            .unwrap()
            .into_inner();
        pages += 1;
        names.extend(
            page.batch_prediction_jobs
                .into_iter()
                .map(|j| j.display_name),
        );
        if page.next_page_token.is_empty() {
            return (names, pages);
        }
        page_token = page.next_page_token;
    }
}

#[tokio::test]
async fn pages_cover_every_job_once_newest_first() {
    let (_emu, mut client, _) = fixture().await;
    let (names, pages) = list_all(&mut client, "", 30).await;
    assert_eq!(pages, 9);
    assert_eq!(names.len(), 250);
    assert_eq!(names.iter().collect::<HashSet<_>>().len(), 250);
    assert_eq!(names[0], "job-249");
    assert_eq!(names[249], "job-0");
    // The default page size is 100.
    let (all, pages) = list_all(&mut client, "", 0).await;
    assert_eq!((all.len(), pages), (250, 3));
}

#[tokio::test]
async fn filters_on_state_display_name_and_labels() {
    let (_emu, client, _) = fixture().await;
    let count = |filter: &'static str| {
        let mut client = client.clone();
        async move { list_all(&mut client, filter, 50).await.0.len() }
    };
    assert_eq!(count("state=JOB_STATE_SUCCEEDED").await, 100);
    assert_eq!(count("state=\"JOB_STATE_CANCELLED\"").await, 10);
    assert_eq!(count("state=JOB_STATE_PENDING").await, 140);
    assert_eq!(count("state!=JOB_STATE_PENDING").await, 110);
    assert_eq!(count("display_name=\"job-7\"").await, 1);
    assert_eq!(count("display_name!=\"job-7\"").await, 249);
    assert_eq!(count("display_name:\"job-1*\"").await, 111);
    assert_eq!(count("labels.parity=even").await, 125);
    assert_eq!(count("labels.tens:*").await, 25);
    assert_eq!(count("labels.tens!=yes").await, 225);
    assert_eq!(
        count("labels.parity=odd AND state=JOB_STATE_SUCCEEDED").await,
        50
    );
    assert_eq!(
        count("state=JOB_STATE_CANCELLED OR state=JOB_STATE_SUCCEEDED").await,
        110
    );
    // OR binds tighter than AND (AIP-160).
    assert_eq!(
        count("labels.tens=yes AND state=JOB_STATE_CANCELLED OR state=JOB_STATE_SUCCEEDED").await,
        11
    );
    assert_eq!(
        count("NOT labels.parity=even AND (display_name=\"job-1\" OR display_name=\"job-2\")")
            .await,
        1
    );
}

#[tokio::test]
async fn bad_filters_page_sizes_and_tokens_are_invalid_argument() {
    let (_emu, mut client, _) = fixture().await;
    let list = |filter: &str, page_size: i32, page_token: &str| ListBatchPredictionJobsRequest {
        parent: PARENT.into(),
        filter: filter.into(),
        page_size,
        page_token: page_token.into(),
        read_mask: None,
    };
    for filter in [
        "create_time>\"2024\"",
        "state=DONE",
        "state=",
        "(state=JOB_STATE_RUNNING",
        "display_name=\"x",
    ] {
        let status = client
            .list_batch_prediction_jobs(list(filter, 10, ""))
            .await
            .unwrap_err();
        assert_eq!(status.code(), Code::InvalidArgument, "{filter}");
    }
    let status = client
        .list_batch_prediction_jobs(list("", -1, ""))
        .await
        .unwrap_err();
    assert_eq!(status.code(), Code::InvalidArgument);
    let status = client
        .list_batch_prediction_jobs(list("", 10, "garbage"))
        .await
        .unwrap_err();
    assert_eq!(status.code(), Code::InvalidArgument);
    // A token is bound to its query.
    let first = client
        .list_batch_prediction_jobs(list("", 10, ""))
        .await
        .unwrap()
        .into_inner();
    let status = client
        .list_batch_prediction_jobs(list("labels.parity=odd", 10, &first.next_page_token))
        .await
        .unwrap_err();
    assert_eq!(status.code(), Code::InvalidArgument);
    assert!(status.message().contains("page_token"));
}

/// Filters the service takes on `create_time` (compared with an RFC 3339 time) and on
/// `model_display_name`; operators a field does not take are refused naming those it does.
#[tokio::test]
async fn filters_on_create_time_and_model_display_name() {
    let (_emu, client, names) = fixture().await;
    let created = |name: &str| {
        let mut client = client.clone();
        let name = name.to_owned();
        async move {
            let request = vertex_batch::v1::GetBatchPredictionJobRequest { name };
            let job = client
                .get_batch_prediction_job(request)
                .await
                .unwrap()
                .into_inner();
            job.create_time.expect("a create time").to_string()
        }
    };
    // Jobs 0..100 were created at `first`, the others 30 s later, at `later`.
    let (first, later) = (created(&names[0]).await, created(&names[100]).await);
    assert_ne!(first, later);
    let count = |filter: String| {
        let mut client = client.clone();
        async move { list_all(&mut client, &filter, 100).await.0.len() }
    };
    for (filter, expected) in [
        (format!("create_time>\"{first}\""), 150),
        (format!("create_time>=\"{first}\""), 250),
        (format!("create_time<\"{later}\""), 100),
        (format!("create_time<=\"{first}\""), 100),
        (format!("create_time=\"{later}\""), 150),
        (format!("create_time!=\"{later}\""), 100),
        (
            format!("create_time>\"{first}\" AND labels.parity=even"),
            75,
        ),
        ("create_time>\"2000-01-01T00:00:00Z\"".to_owned(), 250),
        ("create_time<\"2000-01-01T00:00:00+01:00\"".to_owned(), 0),
        (
            "model_display_name=\"gemini-2.0-flash-001\"".to_owned(),
            250,
        ),
        ("model_display_name!=\"gemini-2.0-flash-001\"".to_owned(), 0),
        ("model_display_name=gemini-1.5-pro".to_owned(), 0),
    ] {
        assert_eq!(count(filter.clone()).await, expected, "{filter}");
    }

    let mut client = client.clone();
    for (filter, says) in [
        (
            "create_time:\"2026\"",
            "`create_time` must be followed by one of `=`, `!=`, `<`",
        ),
        ("create_time>\"yesterday\"", "RFC 3339"),
        ("create_time>\"2026-13-01T00:00:00Z\"", "RFC 3339"),
        (
            "display_name>\"a\"",
            "`display_name` must be followed by one of `=`, `!=`, `:`",
        ),
        ("model_display_name:\"gem*\"", "one of `=`, `!=`"),
        (
            "update_time>\"2026-01-01T00:00:00Z\"",
            "cannot be filtered on",
        ),
    ] {
        let request = ListBatchPredictionJobsRequest {
            parent: PARENT.into(),
            filter: filter.into(),
            page_size: 10,
            page_token: String::new(),
            read_mask: None,
        };
        let status = client
            .list_batch_prediction_jobs(request)
            .await
            .expect_err(filter);
        assert_eq!(status.code(), Code::InvalidArgument, "{filter}");
        assert!(
            status.message().contains(says),
            "{filter}: {}",
            status.message()
        );
    }
}
