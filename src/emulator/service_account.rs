//! Throwaway service-account keys whose token_uri is the emulator's token endpoint.

use std::fmt;
use std::sync::OnceLock;

use rsa::pkcs8::{EncodePrivateKey, LineEnding};
use rsa::{RsaPrivateKey, RsaPublicKey};

/// The project named in emulator keys.
pub(crate) const KEY_PROJECT: &str = "emulator-project";
/// The client_email of emulator keys.
pub(crate) const KEY_EMAIL: &str = "emulator@emulator-project.iam.gserviceaccount.com";

/// A service-account key, as a JSON key file holds it, for an account the emulator's token
/// endpoint trusts. From [`Emulator::service_account_key`](super::Emulator::service_account_key).
/// Debug output never shows the private key.
///
/// ```no_run
/// # async fn demo() -> Result<(), Box<dyn std::error::Error>> {
/// use gcp_auth::TokenProvider;
/// use vertex_batch::emulator::Emulator;
///
/// let emu = Emulator::builder().with_require_auth(true).start().await?;
/// let key = emu.service_account_key();
/// let account = gcp_auth::CustomServiceAccount::from_json(&key.json)?;
/// let token = account.token(&["https://www.googleapis.com/auth/cloud-platform"]).await?;
/// assert!(!token.as_str().is_empty());
/// # Ok(()) }
/// ```
#[derive(Clone)]
#[non_exhaustive]
pub struct ServiceAccountKey {
    /// The key file's JSON: type, project_id, private_key_id, private_key (PKCS#8 PEM),
    /// client_email, client_id, token_uri (the emulator's token endpoint).
    pub json: String,
    /// The account's email, the JWT issuer the token endpoint looks keys up by.
    pub client_email: String,
}

impl fmt::Debug for ServiceAccountKey {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("ServiceAccountKey")
            .field("client_email", &self.client_email)
            .field("json", &"<redacted: holds a private key>")
            .finish()
    }
}

struct GeneratedKey {
    public: RsaPublicKey,
    pkcs8_pem: String,
    key_id: String,
}

/// One RSA-2048 key per process: generating one takes a while.
fn generated() -> Result<&'static GeneratedKey, String> {
    static KEY: OnceLock<Result<GeneratedKey, String>> = OnceLock::new();
    KEY.get_or_init(|| {
        let mut rng = rand::rngs::OsRng;
        let private = RsaPrivateKey::new(&mut rng, 2048)
            .map_err(|e| format!("could not generate an RSA key: {e}"))?;
        let pkcs8_pem = private
            .to_pkcs8_pem(LineEnding::LF)
            .map_err(|e| format!("could not encode the RSA key as PKCS#8: {e}"))?
            .to_string();
        let key_id: [u8; 20] = rand::Rng::r#gen(&mut rng);
        Ok(GeneratedKey {
            public: RsaPublicKey::from(&private),
            pkcs8_pem,
            key_id: key_id.iter().map(|b| format!("{b:02x}")).collect(),
        })
    })
    .as_ref()
    .map_err(Clone::clone)
}

/// The process's key as a key file pointing at `token_uri`, and its public half.
pub(crate) fn key_for(token_uri: &str) -> Result<(ServiceAccountKey, RsaPublicKey), String> {
    let key = generated()?;
    let json = serde_json::json!({
        "type": "service_account",
        "project_id": KEY_PROJECT,
        "private_key_id": key.key_id,
        "private_key": key.pkcs8_pem,
        "client_email": KEY_EMAIL,
        "client_id": "100000000000000000001",
        "auth_uri": "https://accounts.google.com/o/oauth2/auth",
        "token_uri": token_uri,
        "universe_domain": "googleapis.com",
    });
    Ok((
        ServiceAccountKey {
            json: json.to_string(),
            client_email: KEY_EMAIL.to_string(),
        },
        key.public.clone(),
    ))
}
