//! Bucket names are checked as Cloud Storage checks them wherever a bucket appears, so no
//! request reaches outside the emulator's `--gcs-root` (`..`, `/`) or into its in-flight
//! uploads; a path through an object is a missing object (404), not a failure. Odd requests
//! get the service's answers: a JSON 405, a `Range` that is not one byte range ignored, a
//! chunk whose `Content-Range` does not match its body refused.

use vertex_batch::emulator::Emulator;

use super::{raw, storage_for, uri};
use crate::support::client::emulator;

#[tokio::test]
async fn bad_bucket_names_are_400s_and_nothing_outside_the_folder_is_reached() {
    let outside = std::env::temp_dir().join(format!("vertex-batch-escape-{}", std::process::id()));
    let root = outside.join("root");
    let _ = std::fs::remove_dir_all(&outside);
    std::fs::create_dir_all(root.join("bucket")).unwrap();
    std::fs::write(outside.join("secret.txt"), "outside").unwrap();
    let folder = emulator().with_gcs_root(&root).start().await.unwrap();
    let memory = emulator().start().await.unwrap();
    for emu in [&folder, &memory] {
        check(emu).await;
    }
    // A path through an object is no object.
    let storage = storage_for(&folder).build().unwrap();
    storage
        .upload_bytes(&uri("gs://bucket/a"), "file")
        .await
        .unwrap();
    let through = storage.metadata(&uri("gs://bucket/a/b")).await.unwrap_err();
    assert!(through.is_not_found(), "{through}");
    let through = raw::send(
        &folder,
        "GET",
        "/download/storage/v1/b/bucket/o/a%2Fb?alt=media",
        &[],
        b"",
    )
    .await;
    assert_eq!(through.status, 404);
    assert_eq!(
        std::fs::read_to_string(outside.join("secret.txt")).unwrap(),
        "outside"
    );
    folder.shutdown().await;
    memory.shutdown().await;
    std::fs::remove_dir_all(&outside).unwrap();
}

async fn check(emu: &Emulator) {
    for bucket in [
        "%2E%2E",
        "%2F",
        ".vertex-batch-uploads",
        "..%2Froot",
        "ab",
        "Upper",
        "-dash",
        "under_",
        &"x".repeat(64),
    ] {
        for (method, path) in [
            ("GET", format!("/storage/v1/b/{bucket}/o")),
            ("GET", format!("/storage/v1/b/{bucket}/o/secret.txt")),
            (
                "GET",
                format!("/storage/v1/b/{bucket}/o/secret.txt?alt=media"),
            ),
            (
                "GET",
                format!("/download/storage/v1/b/{bucket}/o/secret.txt?alt=media"),
            ),
            ("DELETE", format!("/storage/v1/b/{bucket}/o/secret.txt")),
            (
                "POST",
                format!("/upload/storage/v1/b/{bucket}/o?uploadType=media&name=x"),
            ),
        ] {
            let answer = raw::send(emu, method, &path, &[], b"x").await;
            assert_eq!(answer.status, 400, "{method} {path}: {answer:?}");
            let message = answer.json()["error"]["message"]
                .as_str()
                .unwrap()
                .to_owned();
            assert!(message.contains("Invalid bucket name"), "{message}");
        }
    }
    // Names the service takes are taken.
    let storage = storage_for(emu).build().unwrap();
    for bucket in [
        "abc",
        "a-b_c.d",
        &format!("{}.{}", "x".repeat(63), "y".repeat(63)),
    ] {
        let object = uri(&format!("gs://{bucket}/o"));
        storage.upload_bytes(&object, "ok").await.unwrap();
        storage.delete(&object).await.unwrap();
    }
}

#[tokio::test]
async fn a_method_not_served_is_a_json_405_and_odd_ranges_are_ignored() {
    let emu = emulator().start().await.unwrap();
    let storage = storage_for(&emu).build().unwrap();
    storage
        .upload_bytes(&uri("gs://bucket/r.txt"), "0123456789")
        .await
        .unwrap();
    let put = raw::send(&emu, "PUT", "/storage/v1/b/bucket/o/r.txt", &[], b"").await;
    assert_eq!(put.status, 405);
    assert_eq!(put.json()["error"]["code"], 405);
    assert_eq!(
        put.json()["error"]["errors"][0]["reason"],
        "methodNotAllowed"
    );
    let path = "/download/storage/v1/b/bucket/o/r.txt?alt=media";
    for ignored in ["bytes=0-1,5-6", "bytes=5-2", "bytes=x-", "lines=1-2"] {
        let whole = raw::send(&emu, "GET", path, &[("range", ignored)], b"").await;
        assert_eq!(
            (whole.status, &whole.body[..]),
            (200, &b"0123456789"[..]),
            "{ignored}"
        );
    }
    let part = raw::send(&emu, "GET", path, &[("range", "bytes=-3")], b"").await;
    assert_eq!((part.status, &part.body[..]), (206, &b"789"[..]));
    let past = raw::send(&emu, "GET", path, &[("range", "bytes=10-")], b"").await;
    assert_eq!(past.status, 416);

    // A chunk whose Content-Range does not say what its body holds is refused.
    let start = raw::send(
        &emu,
        "POST",
        "/upload/storage/v1/b/bucket/o?uploadType=resumable&name=chunked",
        &[],
        b"",
    )
    .await;
    let location = start.header("location").unwrap().to_owned();
    let session = format!("/{}", location.splitn(4, '/').nth(3).unwrap());
    for (range, body) in [("bytes 0-9/10", &b"short"[..]), ("bytes 0-1/2", b"longer")] {
        let refused = raw::send(&emu, "PUT", &session, &[("content-range", range)], body).await;
        assert_eq!(refused.status, 400, "{range}: {refused:?}");
        let message = refused.json()["error"]["message"]
            .as_str()
            .unwrap()
            .to_owned();
        assert!(message.contains("Content-Range"), "{message}");
    }
    let done = raw::send(
        &emu,
        "PUT",
        &session,
        &[("content-range", "bytes 0-4/5")],
        b"right",
    )
    .await;
    assert_eq!(done.status, 200, "{done:?}");
    emu.shutdown().await;
}
