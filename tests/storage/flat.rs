//! Cloud Storage's namespace is flat, and so is the emulator's, in memory and in its
//! `--gcs-root` folder alike: objects `a` and `a/b` at once, names with empty segments (`/x`,
//! `a//b`, `dir/`) and `.`/`..` segments, each stored, listed, read and deleted by its own
//! name. In the folder, ordinary names are at their natural paths; the others are encoded
//! inside the root, never outside it.

use futures_util::TryStreamExt;
use vertex_batch::emulator::Emulator;
use vertex_batch::storage::Storage;

use vertex_batch::v1::{BatchPredictionJob, JobState};

use super::{AN_HOUR, download, labelled_prompts, output_rows, storage_for, uri};
use crate::support::client::{client_builder, emulator};

/// Names that a folder cannot hold as they are, with ordinary ones among them; in name order.
const NAMES: &[&str] = &[
    "//double",
    "/lead",
    "a",
    "a/",
    "a/../up",
    "a/./here",
    "a//b",
    "a/b",
    "a/b/c",
    "a/b/c/d",
    "dir/file.jsonl",
    "odd%2F%",
];

async fn names(storage: &Storage, prefix: &str) -> Vec<String> {
    storage
        .list(&uri(&format!("gs://bucket/{prefix}")))
        .map_ok(|info| info.uri.name().to_owned())
        .try_collect()
        .await
        .unwrap()
}

/// Every name written (in an order that puts each of `a`, `a/b`, `a/b/c` in another's way),
/// then read, listed, replaced and deleted by its own name.
async fn flat(emu: &Emulator) {
    let storage = storage_for(emu).with_list_page_size(2).build().unwrap();
    let order = [
        "a",
        "a/b/c/d",
        "a/b",
        "a/b/c",
        "a/",
        "a//b",
        "/lead",
        "//double",
        "a/../up",
        "a/./here",
        "dir/file.jsonl",
        "odd%2F%",
    ];
    for name in order {
        let info = storage
            .upload_bytes(&uri(&format!("gs://bucket/{name}")), format!("<{name}>"))
            .await
            .unwrap();
        assert_eq!(info.uri.name(), name);
    }
    for name in NAMES {
        let object = uri(&format!("gs://bucket/{name}"));
        assert_eq!(
            download(&storage, &object, ..).await,
            format!("<{name}>").as_bytes(),
            "{name}"
        );
        assert_eq!(storage.metadata(&object).await.unwrap().uri.name(), *name);
    }
    assert_eq!(names(&storage, "").await, NAMES);
    assert_eq!(
        names(&storage, "a/").await,
        [
            "a/", "a/../up", "a/./here", "a//b", "a/b", "a/b/c", "a/b/c/d"
        ]
    );
    assert_eq!(names(&storage, "a/b").await, ["a/b", "a/b/c", "a/b/c/d"]);
    assert_eq!(names(&storage, "/").await, ["//double", "/lead"]);
    assert_eq!(names(&storage, "//").await, ["//double"]);
    assert_eq!(names(&storage, "a//").await, ["a//b"]);
    // A path through an object is no object, whichever came first.
    for missing in [
        "a/b/c/d/e",
        "dir/file.jsonl/x",
        "a/b/x",
        "/lead/x",
        "b",
        "a/b/",
    ] {
        let err = storage
            .metadata(&uri(&format!("gs://bucket/{missing}")))
            .await
            .unwrap_err();
        assert!(err.is_not_found(), "{missing}: {err}");
    }
    // A replaced object that has objects below it keeps them.
    storage
        .upload_bytes(&uri("gs://bucket/a/b"), "new")
        .await
        .unwrap();
    assert_eq!(
        download(&storage, &uri("gs://bucket/a/b"), ..).await,
        b"new"
    );
    assert_eq!(
        download(&storage, &uri("gs://bucket/a/b/c"), ..).await,
        b"<a/b/c>"
    );
    // Deleting one name deletes that object only.
    for name in ["a/b", "a", "a/b/c/d"] {
        storage
            .delete(&uri(&format!("gs://bucket/{name}")))
            .await
            .unwrap();
    }
    let left: Vec<&str> = NAMES
        .iter()
        .filter(|n| !["a/b", "a", "a/b/c/d"].contains(n))
        .copied()
        .collect();
    assert_eq!(names(&storage, "").await, left);
    // The names `.` and `..` are refused, as the service does.
    for bad in [".", ".."] {
        let err = storage
            .upload_bytes(&uri(&format!("gs://bucket/{bad}")), "x")
            .await
            .unwrap_err();
        assert!(err.to_string().contains("HTTP 400"), "{bad}: {err}");
    }
}

#[tokio::test]
async fn objects_a_and_a_slash_b_and_names_with_empty_segments_live_side_by_side_in_memory() {
    let emu = emulator().start().await.unwrap();
    flat(&emu).await;
    emu.shutdown().await;
}

#[tokio::test]
async fn the_gcs_root_folder_holds_the_same_flat_namespace_inside_the_root() {
    let outside = std::env::temp_dir().join(format!("vertex-batch-flat-{}", std::process::id()));
    let root = outside.join("root");
    let _ = std::fs::remove_dir_all(&outside);
    std::fs::create_dir_all(root.join("bucket")).unwrap();
    let emu = emulator().with_gcs_root(&root).start().await.unwrap();
    flat(&emu).await;
    // Ordinary names are at their natural paths; the rest inside the root.
    assert_eq!(
        std::fs::read_to_string(root.join("bucket/dir/file.jsonl")).unwrap(),
        "<dir/file.jsonl>"
    );
    assert_eq!(
        emu.local_path("gs://bucket/dir/file.jsonl").unwrap(),
        root.join("bucket/dir/file.jsonl")
    );
    assert_eq!(
        std::fs::read_dir(&outside).unwrap().count(),
        1,
        "only the root"
    );
    assert!(
        emu.local_path("gs://bucket/a/../up")
            .unwrap()
            .starts_with(root.join("bucket/a"))
    );
    // An object in the way of a folder moves into it, and back once the folder empties.
    let storage = storage_for(&emu).build().unwrap();
    storage
        .upload_bytes(&uri("gs://bucket/p"), "p")
        .await
        .unwrap();
    assert_eq!(std::fs::read_to_string(root.join("bucket/p")).unwrap(), "p");
    storage
        .upload_bytes(&uri("gs://bucket/p/q"), "q")
        .await
        .unwrap();
    assert_eq!(
        std::fs::read_to_string(root.join("bucket/p/%%")).unwrap(),
        "p"
    );
    assert_eq!(
        std::fs::read_to_string(root.join("bucket/p/q")).unwrap(),
        "q"
    );
    storage.delete(&uri("gs://bucket/p/q")).await.unwrap();
    assert_eq!(std::fs::read_to_string(root.join("bucket/p")).unwrap(), "p");
    assert_eq!(download(&storage, &uri("gs://bucket/p"), ..).await, b"p");
    // A job reads and writes such names too (a run staged under `gs://bucket//x`).
    let client = client_builder(&emu).connect().await.unwrap();
    let storage = storage_for(&emu).build().unwrap();
    let input = uri("gs://bucket//x/in.jsonl");
    storage
        .upload_bytes(&input, labelled_prompts(20))
        .await
        .unwrap();
    let job = client
        .create(
            BatchPredictionJob::builder("gemini-2.0-flash-001")
                .with_display_name("double-slash")
                .with_input(input.to_string())
                .with_output("gs://bucket//x/out"),
        )
        .await
        .unwrap();
    emu.advance(AN_HOUR);
    let done = client.wait(&job.name).await.unwrap();
    assert_eq!(done.state(), JobState::Succeeded, "{:?}", done.job_error());
    assert_eq!(output_rows(&storage, &done).await.len(), 20);
    emu.shutdown().await;
    std::fs::remove_dir_all(&outside).unwrap();
}
