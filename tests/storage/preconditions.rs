//! Conditional writes and deletes (`Preconditions`) and whole reads of small objects
//! (`read_object`), against the emulator's storage, which checks the conditions as Cloud Storage
//! does.

use vertex_batch::storage::Preconditions;

use super::{storage_for, uri};
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
