//! An emulator restarted over the same `--gcs-root` on the same ports keeps its storage
//! address (`STORAGE_EMULATOR_HOST`), its token endpoint (a key's `token_uri`) and its objects:
//! the ports are fixed by `with_storage_addr` / `--storage-port` and `with_token_addr` /
//! `--token-port`, and the launchers make them `--port` + 1 and + 2 when `--port` is fixed. The
//! launchers take the storage fault flags.

use std::net::{SocketAddr, TcpListener};

use vertex_batch::auth::Credentials;
use vertex_batch::emulator::Emulator;
use vertex_batch::storage::Storage;

use super::{download, uri};
use crate::support::process::Launched;

/// A port `p` such that `p`, `p + 1` and `p + 2` are free just now, below the ephemeral range
/// (Linux: 32768 and up), where no connection or `bind(0)` of the other tests can take them
/// before the emulator binds them.
fn three_free_ports() -> u16 {
    fixed_ports(3)
}

/// One free port below the ephemeral range.
fn free_port() -> u16 {
    fixed_ports(1)
}

fn fixed_ports(n: u16) -> u16 {
    use std::hash::{BuildHasher, RandomState};
    loop {
        let port = 20_000 + (RandomState::new().hash_one(0u8) % 12_000) as u16;
        if (0..n).all(|i| TcpListener::bind(("127.0.0.1", port + i)).is_ok()) {
            return port;
        }
    }
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
    let port = three_free_ports();
    let loopback = |port| SocketAddr::from(([127, 0, 0, 1], port));
    let builder = || {
        Emulator::builder()
            .with_require_auth(true)
            .with_addr(loopback(port))
            .with_storage_addr(loopback(port + 1))
            .with_token_addr(loopback(port + 2))
            .with_gcs_root(&root)
    };
    let first = builder().start().await.unwrap();
    let host = first.storage_uri();
    assert_eq!(host, format!("http://127.0.0.1:{}", port + 1));
    let token_uri = first.token_uri();
    assert_eq!(token_uri, format!("http://127.0.0.1:{}/token", port + 2));
    // A key made before the restart: its token_uri is the token endpoint's fixed address.
    let key = first.service_account_key().json;
    let with_key = || {
        Storage::builder()
            .with_endpoint(host.clone())
            .with_credentials(Credentials::service_account_json(key.clone()))
            .build()
            .unwrap()
    };
    let object = uri("gs://bucket/kept/manifest.json");
    let written = with_key()
        .upload_bytes(&object, "{\"round\":3}")
        .await
        .unwrap();
    let requests_before = first.storage_faults().requests;
    assert!(requests_before > 0);
    let state = first.state();
    first.shutdown().await;

    let second = builder().with_state(state).start().await.unwrap();
    assert_eq!(second.storage_uri(), host);
    assert_eq!(second.token_uri(), token_uri);
    // The storage counts go on with the state.
    assert_eq!(second.storage_faults().requests, requests_before);
    // A new client holding the old key gets a token from the restarted emulator.
    let storage = with_key();
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
    for (args, flag) in [
        (&["--port", "65535"][..], "--storage-port"),
        (
            &["--port", "65534", "--storage-port", "0"][..],
            "--token-port",
        ),
    ] {
        let refused = std::process::Command::new(env!("CARGO_BIN_EXE_vertex-batch-emulator"))
            .args(args)
            .output()
            .unwrap();
        assert!(!refused.status.success());
        let stderr = String::from_utf8_lossy(&refused.stderr);
        assert!(stderr.contains(flag), "{stderr}");
    }
}

#[tokio::test]
async fn the_binary_restarted_over_its_gcs_root_prints_the_same_storage_host() {
    let root = fresh_root("binary");
    let port = three_free_ports();
    let port_arg = port.to_string();
    let root_arg = root.to_str().unwrap();
    let args = ["--port", &port_arg, "--gcs-root", root_arg];
    let object = uri("gs://bucket/kept.txt");
    let token_line = format!("http://127.0.0.1:{}/token", port + 2);
    let host = {
        let child = Launched::binary(&args);
        let host = child.line("STORAGE_EMULATOR_HOST=");
        assert_eq!(host, format!("http://127.0.0.1:{}", port + 1));
        assert_eq!(child.line("  token endpoint: "), token_line);
        plain(host.clone())
            .upload_bytes(&object, "kept")
            .await
            .unwrap();
        host
    };
    let child = Launched::binary(&args);
    assert_eq!(child.line("STORAGE_EMULATOR_HOST="), host);
    assert_eq!(child.line("  token endpoint: "), token_line);
    assert_eq!(download(&plain(host), &object, ..).await, b"kept");
    drop(child);

    let (storage_port, token_port) = (free_port().to_string(), free_port().to_string());
    let child = Launched::binary(&[
        "--port",
        "0",
        "--storage-port",
        &storage_port,
        "--token-port",
        &token_port,
    ]);
    assert_eq!(
        child.line("STORAGE_EMULATOR_HOST="),
        format!("http://127.0.0.1:{storage_port}")
    );
    assert_eq!(
        child.line("  token endpoint: "),
        format!("http://127.0.0.1:{token_port}/token")
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
