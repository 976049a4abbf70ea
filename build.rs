//! Compiles the vendored protos in `proto/` with protox (no system `protoc`) and generates the
//! tonic client (always) and server (feature `emulator`) code from the descriptor set.

use std::path::PathBuf;
use std::process::ExitCode;

/// The root of the import closure; everything else in `proto/` is what it imports.
const ROOT_PROTO: &str = "google/cloud/aiplatform/v1/job_service.proto";

/// Packages whose services get generated code.
const SERVICE_PACKAGES: [&str; 2] = ["google.cloud.aiplatform.v1", "google.longrunning"];

fn main() -> ExitCode {
    // Cargo's default is to rerun when any file of the package changes; narrow it.
    println!("cargo:rerun-if-changed=proto");
    println!("cargo:rerun-if-changed=build.rs");
    // x-goog-api-client names the compiler (`gl-rust/1.88.0`): src/transport.rs.
    println!(
        "cargo:rustc-env=VERTEX_BATCH_RUSTC_VERSION={}",
        rustc_version()
    );

    match generate() {
        Ok(()) => ExitCode::SUCCESS,
        Err(message) => {
            // A build script's stderr is shown by cargo when it fails.
            eprintln!("error: {message}");
            ExitCode::FAILURE
        }
    }
}

fn generate() -> Result<(), String> {
    let out_dir = PathBuf::from(std::env::var_os("OUT_DIR").ok_or("OUT_DIR is not set")?);

    let compiled = protox::Compiler::new(["proto"])
        .and_then(|mut compiler| {
            compiler
                .include_source_info(true)
                .include_imports(true)
                .open_file(ROOT_PROTO)?;
            Ok(compiler)
        })
        .map_err(|e| {
            format!(
                "could not compile the vendored protos: {e:?}\n\
                 proto/ holds the import closure of {ROOT_PROTO}; a file is missing or damaged. \
                 Run scripts/vendor-protos.sh to restore proto/ from the registry packages."
            )
        })?;
    let fds = compiled.file_descriptor_set();

    // The encoded FileDescriptorSet, for proto3 JSON and reflection through prost-reflect.
    // protox encodes it with extension options (google.api.http, field_behavior ...), which
    // prost_types' FileDescriptorSet drops: the emulator's REST routes come from them.
    let encoded = compiled.encode_file_descriptor_set();
    std::fs::write(out_dir.join("file_descriptor_set.bin"), encoded)
        .map_err(|e| format!("could not write the descriptor set to OUT_DIR: {e}"))?;

    let mut builder = tonic_prost_build::configure()
        .build_client(true)
        .build_server(true)
        .build_transport(true)
        // A server that implements only some RPCs answers UNIMPLEMENTED for the rest.
        .generate_default_stubs(true)
        .emit_rerun_if_changed(false);
    for package in SERVICE_PACKAGES {
        // Server code is compiled only for the emulator: a backend that links the client
        // compiles none of it.
        builder = builder.server_mod_attribute(package, r#"#[cfg(feature = "emulator")]"#);
    }
    builder
        .compile_fds(fds)
        .map_err(|e| format!("could not generate Rust code from the protos: {e}"))
}

/// The version of the rustc compiling this crate, e.g. `1.88.0`.
fn rustc_version() -> String {
    let rustc = std::env::var_os("RUSTC").unwrap_or_else(|| "rustc".into());
    std::process::Command::new(rustc)
        .arg("--version")
        .output()
        .ok()
        .and_then(|out| String::from_utf8(out.stdout).ok())
        .and_then(|text| text.split_whitespace().nth(1).map(str::to_owned))
        .unwrap_or_else(|| "unknown".to_owned())
}
