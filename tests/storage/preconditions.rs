//! Conditional writes and deletes (`Preconditions`) and whole reads of small objects
//! (`read_object`), against the emulator's storage, which checks the conditions as Cloud Storage
//! does.

use futures_util::StreamExt;
use vertex_batch::emulator::Emulator;
use vertex_batch::storage::Preconditions;

use super::{raw, storage_for, uri};
use crate::support::client::emulator;

#[tokio::test]
async fn read_object_gives_the_bytes_with_the_metadata_of_the_generation_read() {
    let emu = emulator().start().await.unwrap();
    let storage = storage_for(&emu).build().unwrap();
    let object = uri("gs://bucket/run/manifest.json");
    let written = storage
        .upload_bytes(&object, "{\"round\":1}")
        .await
        .unwrap();
    assert_eq!(written.metageneration, 1);

    let (bytes, info) = storage.read_object(&object, 1024).await.unwrap();
    assert_eq!(&bytes[..], b"{\"round\":1}");
    assert_eq!(info.generation, written.generation);
    assert_eq!(info.size, 11);
    assert_eq!(info.metageneration, 1);

    // A limit below the size: an error naming it, nothing downloaded.
    let too_big = storage.read_object(&object, 10).await.unwrap_err();
    assert!(too_big.is_invalid_input(), "{too_big}");
    assert!(too_big.to_string().contains("max_bytes"), "{too_big}");
    assert!(too_big.to_string().contains("11 bytes"), "{too_big}");

    let empty = uri("gs://bucket/run/empty");
    storage.upload_bytes(&empty, "").await.unwrap();
    let (bytes, info) = storage.read_object(&empty, 0).await.unwrap();
    assert!(bytes.is_empty());
    assert_eq!(info.size, 0);

    let missing = storage
        .read_object(&uri("gs://bucket/run/none"), 10)
        .await
        .unwrap_err();
    assert!(missing.is_not_found(), "{missing}");
    emu.shutdown().await;
}

#[tokio::test]
async fn unconditional_writes_and_deletes_go_through_the_conditional_ones() {
    let emu = emulator().start().await.unwrap();
    let storage = storage_for(&emu).build().unwrap();
    let object = uri("gs://bucket/plain.txt");
    let first = storage
        .upload_bytes_if(&object, "one", Preconditions::none())
        .await
        .unwrap();
    let second = storage.upload_bytes(&object, "two").await.unwrap();
    assert!(second.generation > first.generation);
    storage
        .delete_if(&object, Preconditions::none())
        .await
        .unwrap();
    assert!(storage.metadata(&object).await.unwrap_err().is_not_found());
    emu.shutdown().await;
}

/// An empty folder of its own for each call.
fn fresh_root() -> std::path::PathBuf {
    use std::sync::atomic::{AtomicU32, Ordering};
    static NEXT: AtomicU32 = AtomicU32::new(0);
    let root = std::env::temp_dir().join(format!(
        "vertex-batch-conditions-{}-{}",
        std::process::id(),
        NEXT.fetch_add(1, Ordering::Relaxed)
    ));
    let _ = std::fs::remove_dir_all(&root);
    std::fs::create_dir_all(&root).unwrap();
    root
}

/// Both kinds of store: memory, and a local folder.
async fn each_store(test: impl AsyncFn(&Emulator)) {
    let memory = emulator().start().await.unwrap();
    test(&memory).await;
    memory.shutdown().await;
    let root = fresh_root();
    let folder = emulator().with_gcs_root(&root).start().await.unwrap();
    test(&folder).await;
    folder.shutdown().await;
    std::fs::remove_dir_all(&root).unwrap();
}

#[tokio::test]
async fn if_absent_creates_once_and_if_generation_replaces_only_the_generation_read() {
    each_store(async |emu: &Emulator| {
        let storage = storage_for(emu).build().unwrap();
        let lease = uri("gs://bucket/run/lease.json");
        let first = storage
            .upload_bytes_if(&lease, "holder=a", Preconditions::if_absent())
            .await
            .unwrap();
        assert_eq!(first.metageneration, 1);
        let taken = storage
            .upload_bytes_if(&lease, "holder=b", Preconditions::if_absent())
            .await
            .unwrap_err();
        assert!(taken.is_precondition_failed(), "{taken}");
        assert!(taken.to_string().contains("412"), "{taken}");

        let renewed = storage
            .upload_bytes_if(
                &lease,
                "holder=a;2",
                Preconditions::if_generation(first.generation),
            )
            .await
            .unwrap();
        assert!(renewed.generation > first.generation);
        // The generation written is the one reads see.
        let (bytes, read) = storage.read_object(&lease, 100).await.unwrap();
        assert_eq!(&bytes[..], b"holder=a;2");
        assert_eq!(read.generation, renewed.generation);
        assert_eq!(
            storage.metadata(&lease).await.unwrap().generation,
            renewed.generation
        );

        // A writer still holding the first generation loses, and changes nothing.
        let stale = storage
            .upload_bytes_if(
                &lease,
                "holder=c",
                Preconditions::if_generation(first.generation),
            )
            .await
            .unwrap_err();
        assert!(stale.is_precondition_failed(), "{stale}");
        assert_eq!(
            &storage.read_object(&lease, 100).await.unwrap().0[..],
            b"holder=a;2"
        );

        // A generation on an object that is not there fails too (only 0 means absent).
        let nothing = storage
            .upload_bytes_if(
                &uri("gs://bucket/run/other"),
                "x",
                Preconditions::if_generation(5),
            )
            .await
            .unwrap_err();
        assert!(nothing.is_precondition_failed(), "{nothing}");

        // Metageneration conditions: 1 for a fresh object.
        let mut meta_match = Preconditions::none();
        meta_match.if_metageneration_match = Some(1);
        storage
            .upload_bytes_if(&lease, "m1", meta_match)
            .await
            .unwrap();
        meta_match.if_metageneration_match = Some(2);
        assert!(
            storage
                .upload_bytes_if(&lease, "m2", meta_match)
                .await
                .unwrap_err()
                .is_precondition_failed()
        );
        let mut not_match = Preconditions::none();
        not_match.if_generation_not_match =
            Some(storage.metadata(&lease).await.unwrap().generation);
        assert!(
            storage
                .upload_bytes_if(&lease, "n", not_match)
                .await
                .unwrap_err()
                .is_precondition_failed()
        );
        not_match.if_generation_not_match = Some(1);
        storage
            .upload_bytes_if(&lease, "n", not_match)
            .await
            .unwrap();
    })
    .await;
}

#[tokio::test]
async fn delete_if_removes_only_the_generation_named() {
    each_store(async |emu: &Emulator| {
        let storage = storage_for(emu).build().unwrap();
        let object = uri("gs://bucket/run/lease.json");
        let first = storage.upload_bytes(&object, "a").await.unwrap();
        let second = storage.upload_bytes(&object, "b").await.unwrap();
        assert!(second.generation > first.generation);
        let stale = storage
            .delete_if(&object, Preconditions::if_generation(first.generation))
            .await
            .unwrap_err();
        assert!(stale.is_precondition_failed(), "{stale}");
        assert_eq!(
            storage.metadata(&object).await.unwrap().generation,
            second.generation
        );
        storage
            .delete_if(&object, Preconditions::if_generation(second.generation))
            .await
            .unwrap();
        let gone = storage
            .delete_if(&object, Preconditions::if_generation(second.generation))
            .await
            .unwrap_err();
        assert!(gone.is_not_found(), "{gone}");
    })
    .await;
}

#[tokio::test]
async fn of_many_writers_racing_to_create_one_object_exactly_one_wins() {
    each_store(async |emu: &Emulator| {
        let storage = storage_for(emu).build().unwrap();
        let object = uri("gs://bucket/run/race");
        let attempts = (0..16).map(|i| {
            let (storage, object) = (storage.clone(), object.clone());
            tokio::spawn(async move {
                storage
                    .upload_bytes_if(&object, format!("writer {i}"), Preconditions::if_absent())
                    .await
            })
        });
        let mut won = Vec::new();
        for (i, attempt) in attempts.enumerate() {
            match attempt.await.unwrap() {
                Ok(info) => won.push((i, info)),
                Err(err) => assert!(err.is_precondition_failed(), "{err}"),
            }
        }
        assert_eq!(won.len(), 1, "{won:?}");
        let (bytes, info) = storage.read_object(&object, 100).await.unwrap();
        assert_eq!(bytes, format!("writer {}", won[0].0));
        assert_eq!(info.generation, won[0].1.generation);
    })
    .await;
}

#[tokio::test]
async fn generations_grow_with_every_write_even_within_one_microsecond() {
    each_store(async |emu: &Emulator| {
        let storage = storage_for(emu).build().unwrap();
        let object = uri("gs://bucket/gen/x");
        let mut last = 0;
        for i in 0..50 {
            let info = storage.upload_bytes(&object, format!("{i}")).await.unwrap();
            assert!(
                info.generation > last,
                "write {i}: {} after {last}",
                info.generation
            );
            assert_eq!(
                storage.metadata(&object).await.unwrap().generation,
                info.generation
            );
            last = info.generation;
        }
    })
    .await;
}

#[tokio::test]
async fn the_emulator_checks_conditions_on_resumable_sessions_reads_and_deletes_as_the_service() {
    each_store(async |emu: &Emulator| {
        let storage = storage_for(emu).build().unwrap();
        let object = uri("gs://bucket/c/obj");
        let info = storage.upload_bytes(&object, "0123456789").await.unwrap();
        let g = info.generation;
        let get = |q: String| {
            let path = format!("/storage/v1/b/bucket/o/c%2Fobj?{q}");
            async move { raw::send(emu, "GET", &path, &[], b"").await }
        };
        assert_eq!(get(format!("ifGenerationMatch={g}")).await.status, 200);
        let refused = get(format!("ifGenerationMatch={}", g + 1)).await;
        assert_eq!(refused.status, 412);
        let error = refused.json();
        assert_eq!(error["error"]["code"], 412);
        assert_eq!(error["error"]["errors"][0]["reason"], "conditionNotMet");
        // A read whose NotMatch fails is "Not Modified", as on the service.
        assert_eq!(get(format!("ifGenerationNotMatch={g}")).await.status, 304);
        assert_eq!(get("ifMetagenerationNotMatch=1".into()).await.status, 304);
        assert_eq!(get("ifMetagenerationMatch=2".into()).await.status, 412);
        assert_eq!(get(format!("generation={}", g - 1)).await.status, 404);
        assert_eq!(get("ifGenerationMatch=abc".into()).await.status, 400);

        // Downloads: the same, and the generation sent is the one in x-goog-generation.
        let media = |q: String| {
            let path = format!("/download/storage/v1/b/bucket/o/c%2Fobj?alt=media&{q}");
            async move { raw::send(emu, "GET", &path, &[("range", "bytes=2-4")], b"").await }
        };
        let part = media(format!("generation={g}")).await;
        assert_eq!(part.status, 206);
        assert_eq!(&part.body[..], b"234");
        assert_eq!(
            part.header("x-goog-generation"),
            Some(g.to_string().as_str())
        );
        assert_eq!(
            media(format!("ifGenerationMatch={}", g + 1)).await.status,
            412
        );
        assert_eq!(media(format!("ifGenerationNotMatch={g}")).await.status, 304);

        // A resumable session is checked when it starts, and again when it commits.
        let start = |q: &str| {
            let path =
                format!("/upload/storage/v1/b/bucket/o?uploadType=resumable&name=c%2Fnew&{q}");
            async move { raw::send(emu, "POST", &path, &[], b"").await }
        };
        let session = start("ifGenerationMatch=0").await;
        assert_eq!(session.status, 200);
        let location = session.header("location").unwrap().to_owned();
        let session_path = location
            .split_once("127.0.0.1")
            .unwrap()
            .1
            .split_once('/')
            .unwrap()
            .1;
        let session_path = format!("/{session_path}");
        // Meanwhile someone else creates the object: the commit is refused.
        storage
            .upload_bytes(&uri("gs://bucket/c/new"), "theirs")
            .await
            .unwrap();
        let commit = raw::send(
            emu,
            "PUT",
            &session_path,
            &[("content-range", "bytes 0-3/4")],
            b"mine",
        )
        .await;
        assert_eq!(commit.status, 412, "{:?}", commit);
        assert_eq!(
            commit.json()["error"]["errors"][0]["reason"],
            "conditionNotMet"
        );
        assert_eq!(
            &storage
                .read_object(&uri("gs://bucket/c/new"), 10)
                .await
                .unwrap()
                .0[..],
            b"theirs"
        );
        // Now it exists: a session asking for absence is refused at once.
        assert_eq!(start("ifGenerationMatch=0").await.status, 412);

        // Multipart uploads (Google's clients' small uploads), checked the same way.
        let multipart = |name: &str, condition: &str| {
            let path = format!("/upload/storage/v1/b/bucket/o?uploadType=multipart&{condition}");
            let body = format!(
                "--sep\r\ncontent-type: application/json; charset=UTF-8\r\n\r\n\
                 {{\"name\": \"{name}\", \"contentType\": \"text/plain\"}}\r\n--sep\r\n\
                 content-type: text/plain\r\n\r\nmulti\r\npart\r\n--sep--\r\n"
            );
            async move {
                let headers = [("content-type", "multipart/related; boundary=sep")];
                raw::send(emu, "POST", &path, &headers, body.as_bytes()).await
            }
        };
        let refused = multipart("c/obj", "ifGenerationMatch=0").await;
        assert_eq!(refused.status, 412);
        assert_eq!(
            refused.json()["error"]["errors"][0]["reason"],
            "conditionNotMet"
        );
        let created = multipart("c/multi.txt", "ifGenerationMatch=0").await;
        assert_eq!(created.status, 200, "{created:?}");
        assert_eq!(created.json()["name"], "c/multi.txt");
        let (bytes, info) = storage
            .read_object(&uri("gs://bucket/c/multi.txt"), 100)
            .await
            .unwrap();
        assert_eq!(&bytes[..], b"multi\r\npart");
        assert_eq!(created.json()["generation"], info.generation.to_string());

        // Media uploads and deletes answer 412 with Google's JSON error.
        let media_upload = raw::send(
            emu,
            "POST",
            "/upload/storage/v1/b/bucket/o?uploadType=media&name=c%2Fobj&ifGenerationMatch=0",
            &[],
            b"x",
        )
        .await;
        assert_eq!(media_upload.status, 412);
        assert_eq!(
            media_upload.json()["error"]["errors"][0]["reason"],
            "conditionNotMet"
        );
        let delete = raw::send(
            emu,
            "DELETE",
            &format!("/storage/v1/b/bucket/o/c%2Fobj?ifGenerationMatch={}", g + 1),
            &[],
            b"",
        )
        .await;
        assert_eq!(delete.status, 412);
        assert_eq!(storage.metadata(&object).await.unwrap().generation, g);
    })
    .await;
}

#[tokio::test]
async fn a_conditional_stream_upload_is_checked_at_its_start_and_at_its_end() {
    each_store(async |emu: &Emulator| {
        let storage = storage_for(emu)
            .with_upload_chunk_size(256 * 1024)
            .build()
            .unwrap();
        let object = uri("gs://bucket/stream/shard.jsonl");
        let data = super::pattern(600 * 1024);
        let chunks = |data: &[u8]| {
            let pieces: Vec<std::io::Result<bytes::Bytes>> = data
                .chunks(100_000)
                .map(|p| Ok(bytes::Bytes::copy_from_slice(p)))
                .collect();
            futures_util::stream::iter(pieces)
        };
        let first = storage
            .upload_stream_if(&object, chunks(&data), Preconditions::if_absent())
            .await
            .unwrap();
        assert_eq!(first.size, data.len() as u64);
        // It exists now: refused at the start.
        let again = storage
            .upload_stream_if(&object, chunks(&data), Preconditions::if_absent())
            .await
            .unwrap_err();
        assert!(again.is_precondition_failed(), "{again}");
        // Replaced while the upload is under way: refused at the end, the other write kept.
        let racing = uri("gs://bucket/stream/raced.jsonl");
        let (storage2, racing2) = (storage.clone(), racing.clone());
        let data2 = data.clone();
        let pieces = futures_util::stream::iter(
            data2
                .chunks(100_000)
                .map(|p| p.to_vec())
                .collect::<Vec<_>>(),
        )
        .then(move |piece| {
            let (storage, racing) = (storage2.clone(), racing2.clone());
            async move {
                // Before the last piece, someone else creates the object.
                if piece.len() < 100_000 {
                    storage.upload_bytes(&racing, "theirs").await.unwrap();
                }
                Ok(bytes::Bytes::from(piece))
            }
        });
        let lost = storage
            .upload_stream_if(&racing, pieces, Preconditions::if_absent())
            .await
            .unwrap_err();
        assert!(lost.is_precondition_failed(), "{lost}");
        assert_eq!(
            &storage.read_object(&racing, 100).await.unwrap().0[..],
            b"theirs"
        );
        // With the generation read, a replacement goes through.
        let replaced = storage
            .upload_stream_if(
                &object,
                chunks(b"new"),
                Preconditions::if_generation(first.generation),
            )
            .await
            .unwrap();
        assert!(replaced.generation > first.generation);
    })
    .await;
}
