//! The Cloud Storage client of the commands that stage or read files: the embedded emulator's,
//! or `--storage-endpoint`, or `STORAGE_EMULATOR_HOST`, or Google's.
//!
//! Which of them get the Vertex AI client's token (one token source for both services): Google's
//! endpoint, an `https://` `--storage-endpoint` (a private endpoint of Cloud Storage) and the
//! embedded emulator (ours, on loopback). An emulator reached by `STORAGE_EMULATOR_HOST` or a
//! plain `http://` `--storage-endpoint` gets none, as Google's own storage clients send none to
//! an emulator host, unless the user asks with `--storage-token` (or
//! `VERTEX_BATCH_STORAGE_TOKEN`), for an emulator that requires tokens
//! (`vertex-batch-emulator --require-auth`). Even then a token never crosses the network in
//! clear text: the library's builder refuses plain HTTP beyond loopback, and [`flags`] words
//! its error.

use vertex_batch::auth::Credentials;
use vertex_batch::storage::{EMULATOR_HOST_ENV, Storage};

use crate::connect::{Connected, Globals};
use crate::{flags, read};

/// The storage options `run`, `results` and `status` share.
#[derive(clap::Args, Debug)]
pub struct StorageArgs {
    /// The Cloud Storage endpoint (default STORAGE_EMULATOR_HOST when set, else Google's). An
    /// https:// endpoint gets the Vertex AI token; an http:// one is an emulator, and gets none
    /// unless --storage-token.
    #[arg(long, value_name = "URL")]
    pub storage_endpoint: Option<String>,
    /// Send the Vertex AI token to an emulator's Cloud Storage too (STORAGE_EMULATOR_HOST or an
    /// http:// --storage-endpoint), for one that requires tokens (vertex-batch-emulator
    /// --require-auth). Only to this machine over plain HTTP: elsewhere it is refused.
    #[arg(long, env = "VERTEX_BATCH_STORAGE_TOKEN", value_parser = clap::builder::FalseyValueParser::new())]
    pub storage_token: bool,
}

/// The storage client for `connected`.
pub fn storage_for(
    globals: &Globals,
    connected: &Connected,
    args: &StorageArgs,
) -> anyhow::Result<Storage> {
    let mut builder = Storage::from_env();
    let emulator_host = std::env::var(EMULATOR_HOST_ENV).is_ok_and(|host| !host.trim().is_empty());
    let token = if let Some(emulator) = &connected.emulator {
        builder = builder.with_endpoint(emulator.storage_uri());
        true
    } else if let Some(endpoint) = &args.storage_endpoint {
        builder = builder.with_endpoint(endpoint);
        !plain_http(endpoint) || args.storage_token
    } else {
        !emulator_host || args.storage_token
    };
    if let Some(path) = &globals.ca_cert {
        let pem = read::whole("--ca-cert", path, false, read::MAX_CA_CERT_BYTES)?;
        builder = builder.with_ca_pem(pem);
    }
    builder = if token {
        builder.with_tokens_of(connected.client.channel())
    } else {
        builder.with_credentials(Credentials::none())
    };
    let storage = builder.build().map_err(|err| {
        let asked = args.storage_token && token && err.is_invalid_input();
        let err = flags::storage_words(err);
        if asked {
            // Without the token the same endpoint would do.
            anyhow::anyhow!("{err} (leave out --storage-token)")
        } else {
            err
        }
    })?;
    tracing::debug!(endpoint = storage.endpoint(), token, "Cloud Storage");
    Ok(storage)
}

/// Whether `endpoint` is plain HTTP (an emulator's, by Cloud Storage's convention).
fn plain_http(endpoint: &str) -> bool {
    endpoint
        .get(.."http://".len())
        .is_some_and(|scheme| scheme.eq_ignore_ascii_case("http://"))
}
