//! The Cloud Storage client against the emulator's storage, over HTTP on loopback: resumable
//! uploads in several chunks, whole and ranged downloads, listing across pages, metadata,
//! delete, STORAGE_EMULATOR_HOST, required tokens shared with Vertex AI; and jobs that read
//! their input from that storage and write their rows there, with the row faults.
//!
//! By topic: `preconditions` (conditional writes, deletes and reads, generations, on both
//! stores), `faults` (every call through the emulator's storage failure and drop rates, and
//! the retries' log), `stall` (stalled downloads and unanswered requests), `restart` (fixed
//! ports across a restart, the launchers' storage flags), `secrets` (no token in clear text or
//! to an emulator host), `escapes` (bucket names, odd requests), `flat` (the flat namespace,
//! `a` and `a/b`, `//x`, in memory and in the folder), `hashes` (CRC32C and MD5 in metadata and
//! `x-goog-hash`, downloads checked against them); `raw` sends raw HTTP.

#[path = "../support/mod.rs"]
mod support;

mod escapes;
mod faults;
mod flat;
mod hashes;
mod preconditions;
mod raw;
mod restart;
mod secrets;
mod stall;

use std::time::Duration;

use bytes::Bytes;
use futures_util::TryStreamExt;
use serde_json::Value;
use support::client::*;
use vertex_batch::OutputLocation;
use vertex_batch::auth::Credentials;
use vertex_batch::emulator::Emulator;
use vertex_batch::storage::{ObjectUri, Storage, StorageBuilder};
use vertex_batch::v1::BatchPredictionJob;
use vertex_batch::v1::JobState;

const AN_HOUR: Duration = Duration::from_secs(3600);
const KIB: usize = 1024;

/// A client for the emulator's storage, with the emulator's tokens.
fn storage_for(emu: &Emulator) -> StorageBuilder {
    Storage::builder()
        .with_endpoint(emu.storage_uri())
        .with_credentials(Credentials::static_token(emu.issue_token()))
}

/// An emulator and a client of its storage that uploads in chunks of 256 KiB, the smallest
/// Cloud Storage takes, so that a few hundred KiB make several.
async fn small_chunks() -> (Emulator, Storage) {
    let emu = emulator().start().await.unwrap();
    let storage = storage_for(&emu)
        .with_upload_chunk_size(256 * KIB)
        .build()
        .unwrap();
    (emu, storage)
}

fn uri(text: &str) -> ObjectUri {
    text.parse().unwrap()
}

/// Deterministic bytes, different at every offset of a long run.
fn pattern(len: usize) -> Vec<u8> {
    (0..len).map(|i| (i * 7 + i / 251) as u8).collect()
}

async fn download(
    storage: &Storage,
    object: &ObjectUri,
    range: impl std::ops::RangeBounds<u64>,
) -> Vec<u8> {
    storage
        .download(object, range)
        .await
        .unwrap()
        .try_fold(Vec::new(), |mut all, bytes| async move {
            all.extend_from_slice(&bytes);
            Ok(all)
        })
        .await
        .unwrap()
}

#[tokio::test]
async fn a_large_stream_goes_up_in_several_resumable_chunks_and_comes_back_whole_and_in_ranges() {
    let (emu, storage) = small_chunks().await;
    let data = pattern(1300 * KIB + 123);
    // Pieces of an odd size, so chunks never line up with them.
    let pieces: Vec<std::io::Result<Bytes>> = data
        .chunks(10_007)
        .map(|piece| Ok(Bytes::copy_from_slice(piece)))
        .collect();
    let object = uri("gs://bucket/big/input.jsonl");
    let info = storage
        .upload_stream(&object, futures_util::stream::iter(pieces))
        .await
        .unwrap();
    assert_eq!(info.uri, object);
    assert_eq!(info.size, data.len() as u64);
    assert_eq!(info.content_type.as_deref(), Some("application/jsonl"));

    // One session, five full chunks of 256 KiB with the size unknown, and the rest with it.
    let puts: Vec<String> = emu
        .storage_requests()
        .into_iter()
        .filter(|r| r.starts_with("PUT /upload/storage/v1/b/bucket/o"))
        .collect();
    let total = data.len();
    let mut expected: Vec<String> = (0..5)
        .map(|i| {
            format!(
                "PUT /upload/storage/v1/b/bucket/o uploadType=resumable content-range: bytes {}-{}/*",
                i * 256 * KIB,
                (i + 1) * 256 * KIB - 1
            )
        })
        .collect();
    expected.push(format!(
        "PUT /upload/storage/v1/b/bucket/o uploadType=resumable content-range: bytes {}-{}/{total}",
        5 * 256 * KIB,
        total - 1
    ));
    assert_eq!(puts, expected);
    assert_eq!(
        emu.storage_requests()
            .iter()
            .filter(|r| r.starts_with("POST") && r.contains("uploadType=resumable"))
            .count(),
        1
    );

    assert_eq!(download(&storage, &object, ..).await, data);
    assert_eq!(
        download(&storage, &object, 300_000..300_100).await,
        data[300_000..300_100]
    );
    assert_eq!(download(&storage, &object, ..=9).await, data[..10]);
    assert_eq!(
        download(&storage, &object, 1_000_000..).await,
        data[1_000_000..]
    );
    assert!(download(&storage, &object, 5..5).await.is_empty());
    assert!(
        emu.storage_requests()
            .iter()
            .any(|r| r.ends_with("range: bytes=300000-300099")),
        "a ranged download asks for its range"
    );

    let meta = storage.metadata(&object).await.unwrap();
    assert_eq!((meta.size, meta.generation), (info.size, info.generation));
    emu.shutdown().await;
}

#[tokio::test]
async fn chunks_cut_off_half_way_are_resumed_from_what_the_service_kept() {
    let (emu, storage) = small_chunks().await;
    let data = pattern(700 * KIB);
    // The first chunk, and the retry's next one, each lose their second half with a 503.
    emu.fail_next_upload_chunks(2);
    let object = uri("gs://bucket/resumed.bin");
    let pieces = futures_util::stream::iter([Ok(Bytes::from(data.clone()))]);
    let info = storage.upload_stream(&object, pieces).await.unwrap();
    assert_eq!(info.size, data.len() as u64);
    assert_eq!(download(&storage, &object, ..).await, data);

    let ranges: Vec<String> = emu
        .storage_requests()
        .into_iter()
        .filter(|r| r.starts_with("PUT"))
        .map(|r| r.rsplit("content-range: ").next().unwrap().to_owned())
        .collect();
    let half = 128 * KIB;
    assert_eq!(
        ranges,
        [
            format!("bytes 0-{}/*", 256 * KIB - 1),
            "bytes */*".to_owned(),
            format!("bytes {half}-{}/*", half + 256 * KIB - 1),
            "bytes */*".to_owned(),
            format!("bytes {}-{}/*", 2 * half, 2 * half + 256 * KIB - 1),
            format!(
                "bytes {}-{}/{}",
                2 * half + 256 * KIB,
                700 * KIB - 1,
                700 * KIB
            ),
        ]
    );
    emu.shutdown().await;
}

#[tokio::test]
async fn a_local_file_uploads_and_a_missing_one_is_an_error_naming_it() {
    let (emu, storage) = small_chunks().await;
    let path =
        std::env::temp_dir().join(format!("vertex-batch-upload-{}.jsonl", std::process::id()));
    let data = pattern(600 * KIB + 1);
    std::fs::write(&path, &data).unwrap();
    let object = uri("gs://bucket/from-file.jsonl");
    let info = storage.upload_file(&path, &object).await.unwrap();
    std::fs::remove_file(&path).unwrap();
    assert_eq!(info.size, data.len() as u64);
    assert_eq!(download(&storage, &object, ..).await, data);

    let err = storage.upload_file(&path, &object).await.unwrap_err();
    assert!(err.is_io(), "{err}");
    assert!(
        err.to_string().contains(&path.display().to_string()),
        "{err}"
    );
    emu.shutdown().await;
}

#[tokio::test]
async fn an_upload_that_ends_on_a_chunk_boundary_and_an_empty_one_both_complete() {
    let (emu, storage) = small_chunks().await;
    let data = pattern(512 * KIB);
    let exact = uri("gs://bucket/exact.bin");
    let one = futures_util::stream::iter([Ok(Bytes::from(data.clone()))]);
    assert_eq!(
        storage.upload_stream(&exact, one).await.unwrap().size,
        512 * KIB as u64
    );
    assert_eq!(download(&storage, &exact, ..).await, data);

    let empty = uri("gs://bucket/empty.bin");
    let nothing = futures_util::stream::iter(Vec::<std::io::Result<Bytes>>::new());
    assert_eq!(
        storage.upload_stream(&empty, nothing).await.unwrap().size,
        0
    );
    assert!(download(&storage, &empty, ..).await.is_empty());

    let small = uri("gs://bucket/manifest.json");
    let info = storage
        .upload_bytes(&small, &b"{\"round\": 1}"[..])
        .await
        .unwrap();
    assert_eq!(
        (info.size, info.content_type.as_deref()),
        (12, Some("application/json"))
    );
    assert_eq!(download(&storage, &small, ..).await, b"{\"round\": 1}");
    emu.shutdown().await;
}

#[tokio::test]
async fn a_listing_pages_through_every_object_under_a_prefix_in_name_order() {
    let emu = emulator().start().await.unwrap();
    let storage = storage_for(&emu).with_list_page_size(10).build().unwrap();
    for i in (0..25).rev() {
        let object = uri(&format!("gs://bucket/runs/a/part-{i:03}.jsonl"));
        storage
            .upload_bytes(&object, format!("{i}\n"))
            .await
            .unwrap();
    }
    for name in ["runs/b/x", "runs/ab", "other"] {
        storage
            .upload_bytes(&uri(&format!("gs://bucket/{name}")), "x")
            .await
            .unwrap();
    }

    let listed: Vec<String> = storage
        .list(&uri("gs://bucket/runs/a/"))
        .map_ok(|info| info.uri.name().to_owned())
        .try_collect()
        .await
        .unwrap();
    let expected: Vec<String> = (0..25)
        .map(|i| format!("runs/a/part-{i:03}.jsonl"))
        .collect();
    assert_eq!(listed, expected);
    let pages = emu
        .storage_requests()
        .into_iter()
        .filter(|r| r.starts_with("GET /storage/v1/b/bucket/o") && !r.contains("/o/"))
        .count();
    assert_eq!(pages, 3, "25 objects, 10 a page");

    // A prefix that is not a directory matches names, as the service's does.
    let runs_a: Vec<_> = storage
        .list(&uri("gs://bucket/runs/a"))
        .try_collect()
        .await
        .unwrap();
    assert_eq!(runs_a.len(), 26);
    let none: Vec<_> = storage
        .list(&uri("gs://bucket/nothing/"))
        .try_collect()
        .await
        .unwrap();
    assert!(none.is_empty());
    let err = storage
        .list(&uri("gs://no-such-bucket/"))
        .try_collect::<Vec<_>>()
        .await
        .unwrap_err();
    assert!(err.is_not_found(), "{err}");
    emu.shutdown().await;
}

#[tokio::test]
async fn delete_removes_an_object_and_errors_name_the_object() {
    let emu = emulator().start().await.unwrap();
    let storage = storage_for(&emu).build().unwrap();
    let object = uri("gs://bucket/doomed.txt");
    storage.upload_bytes(&object, "bye").await.unwrap();
    storage.delete(&object).await.unwrap();

    let err = storage.metadata(&object).await.unwrap_err();
    assert!(err.is_not_found(), "{err}");
    assert!(err.to_string().contains("gs://bucket/doomed.txt"), "{err}");
    assert!(err.to_string().contains("HTTP 404"), "{err}");
    let err = storage.delete(&object).await.unwrap_err();
    assert!(err.is_not_found(), "{err}");
    let err = match storage.download(&object, ..).await {
        Ok(_) => panic!("a deleted object cannot be downloaded"),
        Err(err) => err,
    };
    assert!(
        err.to_string()
            .starts_with("Cloud Storage refused the download of gs://bucket/doomed.txt"),
        "{err}"
    );

    storage.upload_bytes(&object, "0123456789").await.unwrap();
    let err = match storage.download(&object, 10..20).await {
        Ok(_) => panic!("a range past the end is refused"),
        Err(err) => err,
    };
    assert!(err.to_string().contains("HTTP 416"), "{err}");
    emu.shutdown().await;
}

#[tokio::test]
async fn required_tokens_are_checked_and_one_token_serves_vertex_ai_and_storage() {
    let emu = emulator().start().await.unwrap();
    let anonymous = Storage::builder()
        .with_endpoint(emu.storage_uri())
        .with_credentials(Credentials::none())
        .build()
        .unwrap();
    let err = anonymous
        .upload_bytes(&uri("gs://bucket/x"), "x")
        .await
        .unwrap_err();
    assert!(err.to_string().contains("HTTP 401"), "{err}");

    let client = client_builder(&emu).connect().await.unwrap();
    client
        .list(vertex_batch::JobFilter::default())
        .try_collect::<Vec<_>>()
        .await
        .unwrap();
    assert_eq!(emu.tokens_issued(), 1);
    let storage = storage_with_token_of(&emu, &client);
    let object = uri("gs://bucket/shared.txt");
    storage.upload_bytes(&object, "one token").await.unwrap();
    assert_eq!(download(&storage, &object, ..).await, b"one token");
    assert_eq!(
        emu.tokens_issued(),
        1,
        "storage used the Vertex AI client's token"
    );
    emu.shutdown().await;
}

#[tokio::test]
async fn storage_emulator_host_points_a_client_from_env_at_the_emulator() {
    // The environment is this test's alone: the listener seeing no token runs here too.
    secrets::an_emulator_host_gets_no_token().await;
    let emu = vertex_batch::emulator::Emulator::builder()
        .start()
        .await
        .unwrap();
    let host = emu.storage_uri().trim_start_matches("http://").to_owned();
    // SAFETY: no other test of this binary reads or writes the environment.
    unsafe { std::env::set_var("STORAGE_EMULATOR_HOST", &host) };
    let storage = Storage::from_env().build().unwrap();
    unsafe { std::env::remove_var("STORAGE_EMULATOR_HOST") };
    assert_eq!(storage.endpoint(), emu.storage_uri());
    let object = uri("gs://bucket/from-env.txt");
    storage.upload_bytes(&object, "hello").await.unwrap();
    assert_eq!(download(&storage, &object, ..).await, b"hello");
    assert_eq!(
        Storage::from_env().build().unwrap().endpoint(),
        "https://storage.googleapis.com"
    );
    emu.shutdown().await;
}

/// 200 request lines, each with its row id in `labels`.
fn labelled_prompts(n: usize) -> String {
    (0..n)
        .map(|i| {
            format!(
                "{{\"request\": {{\"labels\": {{\"row\": \"r{i}\"}}, \"contents\": [{{\"role\": \"user\", \"parts\": [{{\"text\": \"prompt {i}\"}}]}}]}}}}\n"
            )
        })
        .collect()
}

/// The rows of a job's output, read back through the storage client.
async fn output_rows(storage: &Storage, job: &vertex_batch::v1::BatchPredictionJob) -> Vec<String> {
    let Some(OutputLocation::Gcs(dir)) = job.output_location() else {
        panic!("a gs:// output directory");
    };
    let files: Vec<_> = storage
        .list(&uri(&format!("{dir}/")))
        .try_collect()
        .await
        .unwrap();
    assert_eq!(files.len(), 1, "{files:?}");
    assert!(files[0].uri.name().ends_with("/predictions.jsonl"));
    let bytes = download(storage, &files[0].uri, ..).await;
    String::from_utf8(bytes)
        .unwrap()
        .lines()
        .map(str::to_owned)
        .collect()
}

#[tokio::test]
async fn a_job_reads_uploaded_input_and_writes_rows_echoing_requests_with_row_faults() {
    let emu = emulator()
        .with_row_failure_rate(0.2)
        .with_row_permanent_failure_rate(0.1)
        .with_seed(7)
        .start()
        .await
        .unwrap();
    let client = client_builder(&emu).connect().await.unwrap();
    let storage = storage_with_token_of(&emu, &client);
    let input = uri("gs://bucket/in/prompts.jsonl");
    storage
        .upload_bytes(&input, labelled_prompts(200))
        .await
        .unwrap();

    let job = client
        .create(
            BatchPredictionJob::builder("gemini-2.0-flash-001")
                .with_display_name("from-storage")
                .with_input(input.to_string())
                .with_output("gs://bucket/out"),
        )
        .await
        .unwrap();
    emu.advance(AN_HOUR);
    let done = client.wait(&job.name).await.unwrap();
    assert_eq!(done.state(), JobState::Succeeded);

    let rows = output_rows(&storage, &done).await;
    assert_eq!(rows.len(), 200);
    let (mut answered, mut transient, mut permanent) = (0, 0, 0);
    for (i, line) in rows.iter().enumerate() {
        assert!(
            line.starts_with("{\"status\":"),
            "the service's key order: {line}"
        );
        let row: Value = serde_json::from_str(line).unwrap();
        assert_eq!(
            row["request"]["labels"]["row"],
            format!("r{i}"),
            "the labels come back"
        );
        let time = row["processed_time"].as_str().unwrap();
        assert!(time.ends_with("+00:00") && time.len() == 29, "{time}");
        let status = row["status"].as_str().unwrap();
        if status.is_empty() {
            answered += 1;
            let text = &row["response"]["candidates"][0]["content"]["parts"][0]["text"];
            assert_eq!(text, &format!("echo: prompt {i}"));
        } else if status.starts_with("Too Many Requests: {\"error\": {\"code\": 429") {
            transient += 1;
            // A failed row carries an empty response, as the service writes it.
            assert_eq!(row["response"], serde_json::json!({}));
        } else {
            assert!(
                status.starts_with("Bad Request: {\"error\": {\"code\": 400"),
                "{status}"
            );
            permanent += 1;
        }
    }
    let progress = done.progress();
    assert_eq!(progress.successful, answered);
    assert_eq!(progress.failed, transient + permanent);
    assert!(
        transient > 20 && permanent > 5,
        "{transient} transient, {permanent} permanent"
    );
    emu.shutdown().await;
}

#[tokio::test]
async fn a_job_made_to_expire_exports_its_first_rows_and_the_next_job_runs_to_the_end() {
    let emu = emulator().with_expire_after_rows(50).start().await.unwrap();
    let client = client_builder(&emu).connect().await.unwrap();
    let storage = storage_with_token_of(&emu, &client);
    let input = uri("gs://bucket/in/prompts.jsonl");
    storage
        .upload_bytes(&input, labelled_prompts(200))
        .await
        .unwrap();

    let mut ended = Vec::new();
    for name in ["cut-short", "full"] {
        let job = client
            .create(
                BatchPredictionJob::builder("gemini-2.0-flash-001")
                    .with_display_name(name)
                    .with_input(input.to_string())
                    .with_output(format!("gs://bucket/{name}")),
            )
            .await
            .unwrap();
        emu.advance(AN_HOUR);
        ended.push(client.wait(&job.name).await.unwrap());
    }
    let (cut, full) = (&ended[0], &ended[1]);
    assert_eq!(cut.state(), JobState::Expired);
    let progress = cut.progress();
    assert_eq!(
        (progress.successful + progress.failed, progress.incomplete),
        (50, Some(150))
    );
    let message = cut.job_error().unwrap().message.clone();
    assert!(message.contains("50 of 200 rows"), "{message}");
    // The rows it exported are there, and they are the first ones.
    let rows = output_rows(&storage, cut).await;
    let labels: Vec<String> = rows
        .iter()
        .map(|line| {
            serde_json::from_str::<Value>(line).unwrap()["request"]["labels"]["row"]
                .as_str()
                .unwrap()
                .to_owned()
        })
        .collect();
    assert_eq!(labels, (0..50).map(|i| format!("r{i}")).collect::<Vec<_>>());

    assert_eq!(full.state(), JobState::Succeeded);
    assert_eq!(full.progress().successful, 200);
    assert_eq!(output_rows(&storage, full).await.len(), 200);
    emu.shutdown().await;
}

#[tokio::test]
async fn with_a_gcs_root_uploads_are_files_there_and_files_there_are_objects() {
    let root = std::env::temp_dir().join(format!("vertex-batch-storage-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&root);
    std::fs::create_dir_all(root.join("bucket")).unwrap();
    let emu = emulator().with_gcs_root(&root).start().await.unwrap();
    let storage = storage_for(&emu)
        .with_upload_chunk_size(256 * KIB)
        .build()
        .unwrap();

    let data = pattern(300 * KIB);
    let object = uri("gs://bucket/dir/uploaded.bin");
    let pieces = futures_util::stream::iter([Ok(Bytes::from(data.clone()))]);
    storage.upload_stream(&object, pieces).await.unwrap();
    assert_eq!(
        std::fs::read(root.join("bucket/dir/uploaded.bin")).unwrap(),
        data
    );

    std::fs::write(root.join("bucket/dir/placed.txt"), "put there by hand").unwrap();
    let names: Vec<String> = storage
        .list(&uri("gs://bucket/dir/"))
        .map_ok(|info| info.uri.name().to_owned())
        .try_collect()
        .await
        .unwrap();
    assert_eq!(names, ["dir/placed.txt", "dir/uploaded.bin"]);
    assert_eq!(
        download(&storage, &uri("gs://bucket/dir/placed.txt"), 4..10).await,
        b"there "
    );
    storage.delete(&object).await.unwrap();
    assert!(!root.join("bucket/dir/uploaded.bin").exists());
    emu.shutdown().await;
    std::fs::remove_dir_all(&root).unwrap();
}

#[tokio::test]
async fn the_emulator_binary_prints_its_storage_host_and_takes_the_fault_flags() {
    let child = crate::support::process::Launched::binary(&[
        "--port",
        "0",
        "--row-failure-rate",
        "0.05",
        "--row-permanent-failure-rate",
        "0.01",
        "--expire-after-rows",
        "10",
        "--seed",
        "3",
    ]);
    let host = child.line("STORAGE_EMULATOR_HOST=");
    assert!(host.starts_with("http://127.0.0.1:"), "{host}");
    let storage = Storage::builder()
        .with_endpoint(host)
        .with_credentials(Credentials::none())
        .build()
        .unwrap();
    let object = uri("gs://bucket/via-binary.txt");
    storage.upload_bytes(&object, "served").await.unwrap();
    assert_eq!(download(&storage, &object, ..).await, b"served");

    let refused = std::process::Command::new(env!("CARGO_BIN_EXE_vertex-batch-emulator"))
        .args(["--port", "0", "--row-failure-rate", "1.5"])
        .output()
        .unwrap();
    assert!(!refused.status.success());
    let stderr = String::from_utf8_lossy(&refused.stderr);
    assert!(
        stderr.contains("--row-failure-rate") && stderr.contains("from 0 to 1"),
        "{stderr}"
    );
}
