//! The Cloud Storage client of the commands that stage or read files: the embedded emulator's,
//! or `--storage-endpoint`, or `STORAGE_EMULATOR_HOST`, or Google's; always with the tokens of
//! the Vertex AI client (one token source for both).

use vertex_batch::storage::Storage;

use crate::connect::{Connected, Globals};
use crate::read;

/// The storage client for `connected`.
pub fn storage_for(
    globals: &Globals,
    connected: &Connected,
    endpoint: Option<&str>,
) -> anyhow::Result<Storage> {
    let mut builder = Storage::from_env();
    if let Some(emulator) = &connected.emulator {
        builder = builder.with_endpoint(emulator.storage_uri());
    } else if let Some(endpoint) = endpoint {
        builder = builder.with_endpoint(endpoint);
    }
    if let Some(path) = &globals.ca_cert {
        let pem = read::whole("--ca-cert", path, false, read::MAX_CA_CERT_BYTES)?;
        builder = builder.with_ca_pem(pem);
    }
    let storage = builder
        .with_tokens_of(connected.client.channel())
        .build()
        .map_err(crate::flags::storage_words)?;
    tracing::debug!(endpoint = storage.endpoint(), "Cloud Storage");
    Ok(storage)
}
