//! Objects carry the hashes Cloud Storage keeps, CRC32C and MD5 (base64, the CRC32C's bytes
//! big-endian), in their metadata and in a download's `x-goog-hash`, however they were
//! written: a single request, a resumable upload in chunks, a job, a file put in the folder by
//! hand. The library's downloads of a whole object check them, across resumes too.

use bytes::Bytes;
use futures_util::TryStreamExt;
use vertex_batch::emulator::Emulator;

use super::{KIB, download, pattern, raw, storage_for, uri};
use crate::support::client::emulator;

/// The hashes of `123456789`: the CRC32C check value 0xE3069283, and its MD5.
const CRC32C: &str = "4waSgw==";
const MD5: &str = "JfnnlDI7RTiF9RgfG2JNCw==";

async fn hashes_everywhere(emu: &Emulator) {
    let storage = storage_for(emu)
        .with_upload_chunk_size(256 * KIB)
        .build()
        .unwrap();
    let small = uri("gs://bucket/h/digits.txt");
    let info = storage.upload_bytes(&small, "123456789").await.unwrap();
    assert_eq!(info.crc32c.as_deref(), Some(CRC32C));
    assert_eq!(info.md5_hash.as_deref(), Some(MD5));
    let streamed = uri("gs://bucket/h/streamed.txt");
    let pieces = futures_util::stream::iter(["1234", "56789"].map(|p| Ok(Bytes::from(p))));
    let info = storage.upload_stream(&streamed, pieces).await.unwrap();
    assert_eq!(info.crc32c.as_deref(), Some(CRC32C));
    // In the metadata and the listing.
    let meta = storage.metadata(&small).await.unwrap();
    assert_eq!(
        (meta.crc32c.as_deref(), meta.md5_hash.as_deref()),
        (Some(CRC32C), Some(MD5))
    );
    let listed: Vec<_> = storage
        .list(&uri("gs://bucket/h/"))
        .try_collect()
        .await
        .unwrap();
    assert!(
        listed.iter().all(|o| o.crc32c.as_deref() == Some(CRC32C)),
        "{listed:?}"
    );
    // In a download's x-goog-hash, whole or a range (the whole object's, as the service).
    for range in [None, Some("bytes=2-4")] {
        let headers: Vec<(&str, &str)> = range.map(|r| ("range", r)).into_iter().collect();
        let reply = raw::send(
            emu,
            "GET",
            "/download/storage/v1/b/bucket/o/h%2Fdigits.txt?alt=media",
            &headers,
            b"",
        )
        .await;
        let hashes: Vec<_> = reply
            .headers
            .get_all("x-goog-hash")
            .iter()
            .map(|v| v.to_str().unwrap().to_owned())
            .collect();
        assert_eq!(
            hashes,
            [format!("crc32c={CRC32C}"), format!("md5={MD5}")],
            "{range:?}"
        );
    }
    // A large object in chunks, checked by the download of it.
    let data = pattern(700 * KIB + 3);
    let big = uri("gs://bucket/h/big.bin");
    let pieces: Vec<std::io::Result<Bytes>> = data
        .chunks(100_003)
        .map(|piece| Ok(Bytes::copy_from_slice(piece)))
        .collect();
    let info = storage
        .upload_stream(&big, futures_util::stream::iter(pieces))
        .await
        .unwrap();
    assert!(info.crc32c.is_some() && info.md5_hash.is_some());
    assert_eq!(download(&storage, &big, ..).await, data);
    assert_eq!(storage.read_object(&small, 9).await.unwrap().0, "123456789");
}

#[tokio::test]
async fn objects_carry_crc32c_and_md5_in_memory_and_in_the_folder() {
    let emu = emulator().start().await.unwrap();
    hashes_everywhere(&emu).await;
    emu.shutdown().await;

    let root = std::env::temp_dir().join(format!("vertex-batch-hashes-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&root);
    std::fs::create_dir_all(root.join("bucket")).unwrap();
    let emu = emulator().with_gcs_root(&root).start().await.unwrap();
    hashes_everywhere(&emu).await;
    // A file put there by hand has them too, and new ones once it changes.
    std::fs::write(root.join("bucket/by-hand.txt"), "123456789").unwrap();
    let storage = storage_for(&emu).build().unwrap();
    let by_hand = uri("gs://bucket/by-hand.txt");
    assert_eq!(
        storage.metadata(&by_hand).await.unwrap().crc32c.as_deref(),
        Some(CRC32C)
    );
    std::fs::write(root.join("bucket/by-hand.txt"), "12345678").unwrap();
    let changed = storage.metadata(&by_hand).await.unwrap();
    assert_ne!(changed.crc32c.as_deref(), Some(CRC32C));
    assert_eq!(download(&storage, &by_hand, ..).await, b"12345678");
    emu.shutdown().await;
    std::fs::remove_dir_all(&root).unwrap();
}

#[tokio::test]
async fn a_whole_download_whose_bytes_do_not_match_their_hash_ends_with_an_error() {
    let root = std::env::temp_dir().join(format!("vertex-batch-rot-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&root);
    std::fs::create_dir_all(root.join("bucket")).unwrap();
    let emu = emulator().with_gcs_root(&root).start().await.unwrap();
    let storage = storage_for(&emu).build().unwrap();
    let object = uri("gs://bucket/rotten.txt");
    let data = pattern(100 * KIB);
    let info = storage.upload_bytes(&object, data.clone()).await.unwrap();
    // The bytes change where they are kept, and nothing the store looks at shows it (same
    // size, same modification time: the same generation, so the hashes it knows).
    let path = emu.local_path("gs://bucket/rotten.txt").unwrap();
    let mtime = std::fs::metadata(&path).unwrap().modified().unwrap();
    let mut rotten = data.clone();
    rotten[50_000] ^= 1;
    std::fs::write(&path, &rotten).unwrap();
    std::fs::File::options()
        .write(true)
        .open(&path)
        .unwrap()
        .set_modified(mtime)
        .unwrap();
    assert_eq!(
        storage.metadata(&object).await.unwrap().generation,
        info.generation
    );

    let mut stream = storage.download(&object, ..).await.unwrap();
    let mut received = Vec::new();
    let err = loop {
        match stream.try_next().await {
            Ok(Some(bytes)) => received.extend_from_slice(&bytes),
            Ok(None) => panic!("a download whose bytes do not match their hash ended as whole"),
            Err(err) => break err,
        }
    };
    assert_eq!(received, rotten);
    let text = err.to_string();
    assert!(
        text.contains("gs://bucket/rotten.txt")
            && text.contains("CRC32C")
            && text.contains("download it again"),
        "{text}"
    );
    assert!(stream.try_next().await.unwrap().is_none());
    let err = storage.read_object(&object, 1 << 20).await.unwrap_err();
    assert!(err.to_string().contains("CRC32C"), "{err}");
    // A range cannot be checked against the whole object's hash: it is served as it is.
    assert_eq!(
        download(&storage, &object, 49_990..50_010).await,
        rotten[49_990..50_010]
    );
    emu.shutdown().await;
    std::fs::remove_dir_all(&root).unwrap();
}

#[tokio::test]
async fn a_resumed_whole_download_is_checked_across_its_pieces() {
    let emu = emulator().with_seed(21).start().await.unwrap();
    let storage = storage_for(&emu)
        .with_retry_policy(super::faults::patient())
        .build()
        .unwrap();
    let object = uri("gs://bucket/resumed.bin");
    let data = pattern(300 * KIB + 1);
    storage.upload_bytes(&object, data.clone()).await.unwrap();
    emu.set_storage_fault_rates(0.0, 1.0).unwrap();
    assert_eq!(download(&storage, &object, ..).await, data);
    assert!(emu.storage_faults().dropped > 0);
    assert!(storage.retries() > 0);
    emu.shutdown().await;
}
