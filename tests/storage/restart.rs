//! An emulator restarted over the same `--gcs-root` on the same ports keeps its storage
//! address (`STORAGE_EMULATOR_HOST`) and its objects: the storage port is fixed by
//! `with_storage_addr` / `--storage-port`, and the launchers make it `--port` + 1 when `--port`
//! is fixed. The launchers take the storage fault flags.

use std::net::{SocketAddr, TcpListener};

use vertex_batch::auth::Credentials;
use vertex_batch::emulator::Emulator;
use vertex_batch::storage::Storage;

use super::{download, uri};
use crate::support::process::Launched;

/// A port `p` such that `p` and `p + 1` are both free just now.
fn two_free_ports() -> u16 {
    loop {
        let first = TcpListener::bind("127.0.0.1:0").unwrap();
        let port = first.local_addr().unwrap().port();
        if port < u16::MAX && TcpListener::bind(("127.0.0.1", port + 1)).is_ok() {
            return port;
        }
    }
}

fn free_port() -> u16 {
    TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port()
}

fn fresh_root(test: &str) -> std::path::PathBuf {
    let root = std::env::temp_dir().join(format!(
        "vertex-batch-restart-{}-{test}",
        std::process::id()
    ));
    let _ = std::fs::remove_dir_all(&root);
    std::fs::create_dir_all(&root).unwrap();
    root
}

fn plain(endpoint: String) -> Storage {
    Storage::builder()
        .with_endpoint(endpoint)
        .with_credentials(Credentials::none())
        .build()
        .unwrap()
}

#[tokio::test]
async fn a_restart_on_the_same_port_and_folder_keeps_the_storage_address_and_the_objects() {
    let root = fresh_root("builder");
    let port = two_free_ports();
    let start = || {
        Emulator::builder()
            .with_addr(SocketAddr::from(([127, 0, 0, 1], port)))
            .with_storage_addr(SocketAddr::from(([127, 0, 0, 1], port + 1)))
            .with_gcs_root(&root)
            .start()
    };
    let first = start().await.unwrap();
    let host = first.storage_uri();
    assert_eq!(host, format!("http://127.0.0.1:{}", port + 1));
    let object = uri("gs://bucket/kept/manifest.json");
    let written = plain(host.clone())
        .upload_bytes(&object, "{\"round\":3}")
        .await
        .unwrap();
    first.shutdown().await;

    let second = start().await.unwrap();
    assert_eq!(second.storage_uri(), host);
    let storage = plain(host);
    let (bytes, info) = storage.read_object(&object, 100).await.unwrap();
    assert_eq!(&bytes[..], b"{\"round\":3}");
    assert_eq!(info.generation, written.generation);
    // Generations go on growing after the restart.
    let rewritten = storage.upload_bytes(&object, "{}").await.unwrap();
    assert!(rewritten.generation > written.generation);
    second.shutdown().await;

    // A storage address given is the one used; port 0 there is any free port.
    let chosen = free_port();
    let emu = Emulator::builder()
        .with_storage_addr(SocketAddr::from(([127, 0, 0, 1], chosen)))
        .start()
        .await
        .unwrap();
    assert_eq!(emu.storage_uri(), format!("http://127.0.0.1:{chosen}"));
    emu.shutdown().await;
    let any = Emulator::builder().start().await.unwrap();
    assert_ne!(any.storage_addr().port(), 0);
    any.shutdown().await;
    std::fs::remove_dir_all(&root).unwrap();
}

#[tokio::test]
async fn the_last_port_has_no_next_one_for_storage() {
    let refused = std::process::Command::new(env!("CARGO_BIN_EXE_vertex-batch-emulator"))
        .args(["--port", "65535"])
        .output()
        .unwrap();
    assert!(!refused.status.success());
    let stderr = String::from_utf8_lossy(&refused.stderr);
    assert!(stderr.contains("--storage-port"), "{stderr}");
}

#[tokio::test]
async fn the_binary_restarted_over_its_gcs_root_prints_the_same_storage_host() {
    let root = fresh_root("binary");
    let port = two_free_ports().to_string();
    let root_arg = root.to_str().unwrap();
    let args = ["--port", &port, "--gcs-root", root_arg];
    let object = uri("gs://bucket/kept.txt");
    let host = {
        let child = Launched::binary(&args);
        let host = child.line("STORAGE_EMULATOR_HOST=");
        plain(host.clone())
            .upload_bytes(&object, "kept")
            .await
            .unwrap();
        host
    };
    let child = Launched::binary(&args);
    assert_eq!(child.line("STORAGE_EMULATOR_HOST="), host);
    assert_eq!(download(&plain(host), &object, ..).await, b"kept");
    drop(child);

    let storage_port = free_port().to_string();
    let child = Launched::binary(&["--port", "0", "--storage-port", &storage_port]);
    assert_eq!(
        child.line("STORAGE_EMULATOR_HOST="),
        format!("http://127.0.0.1:{storage_port}")
    );
    drop(child);
    std::fs::remove_dir_all(&root).unwrap();
}

#[tokio::test]
async fn the_binary_takes_the_storage_fault_flags_and_refuses_bad_rates() {
    let child = Launched::binary(&["--port", "0", "--storage-failure-rate", "1", "--seed", "5"]);
    assert!(
        child
            .line("  storage faults: ")
            .starts_with("1 of requests"),
        "the banner says the faults"
    );
    let storage = Storage::builder()
        .with_endpoint(child.line("STORAGE_EMULATOR_HOST="))
        .with_credentials(Credentials::none())
        .with_retry_policy(vertex_batch::RetryPolicy::none())
        .build()
        .unwrap();
    let err = storage
        .upload_bytes(&uri("gs://bucket/x"), "x")
        .await
        .unwrap_err();
    assert!(
        err.to_string().contains("HTTP 429") || err.to_string().contains("HTTP 503"),
        "{err}"
    );
    drop(child);

    for flag in ["--storage-failure-rate", "--storage-drop-rate"] {
        let refused = std::process::Command::new(env!("CARGO_BIN_EXE_vertex-batch-emulator"))
            .args(["--port", "0", flag, "2"])
            .output()
            .unwrap();
        assert!(!refused.status.success());
        let stderr = String::from_utf8_lossy(&refused.stderr);
        assert!(
            stderr.contains(flag) && stderr.contains("from 0 to 1"),
            "{stderr}"
        );
    }
}
