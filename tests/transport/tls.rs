//! TLS to the emulator: trusted through its CA it works; without the CA the error says the
//! certificate is not trusted and what to do. Also the other connection failures' advice.

use crate::support::transport::{emulator, list};
use vertex_batch::auth::Credentials;
use vertex_batch::endpoint::Endpoint;
use vertex_batch::transport::AuthChannel;

#[tokio::test]
async fn tls_with_the_emulators_ca_works() {
    let emu = emulator()
        .with_tls(true)
        .with_require_auth(true)
        .start()
        .await
        .unwrap();
    let uri = emu.uri();
    assert!(uri.starts_with("https://"), "{uri}");
    let channel = AuthChannel::builder()
        .with_endpoint(
            Endpoint::custom(&uri)
                .unwrap()
                .with_ca_pem(emu.ca_pem().unwrap()),
        )
        .with_credentials(Credentials::static_token(emu.issue_token()))
        .connect()
        .await
        .unwrap();
    list(&channel).await.unwrap();
    assert_eq!(emu.calls().len(), 1);
}

#[tokio::test]
async fn tls_without_the_ca_says_the_certificate_is_not_trusted() {
    let emu = emulator().with_tls(true).start().await.unwrap();
    let endpoint = Endpoint::custom(&emu.uri()).unwrap();

    // Eager connect: the error comes from connect().
    let err = AuthChannel::builder()
        .with_endpoint(endpoint.clone())
        .with_credentials(Credentials::none())
        .connect()
        .await
        .unwrap_err();
    let text = err.to_string();
    assert!(
        text.starts_with("transport error talking to https://127.0.0.1:"),
        "{text}"
    );
    assert!(text.contains("certificate is not trusted"), "{text}");
    assert!(text.contains("Endpoint::with_ca_pem"), "{text}");

    // Lazy connect: the call fails, and the channel explains the status the same way.
    let channel = AuthChannel::builder()
        .with_endpoint(endpoint.with_lazy_connect(true))
        .with_credentials(Credentials::none())
        .connect()
        .await
        .unwrap();
    let status = list(&channel).await.unwrap_err();
    let err = channel.error_from_status(status);
    assert!(
        matches!(err, vertex_batch::Error::Transport { .. }),
        "{err:?}"
    );
    assert!(
        err.to_string().contains("certificate is not trusted"),
        "{err}"
    );
    assert!(emu.calls().is_empty());
}

#[tokio::test]
async fn a_certificate_for_another_name_says_so() {
    let emu = emulator().with_tls(true).start().await.unwrap();
    let err = AuthChannel::builder()
        .with_endpoint(
            Endpoint::custom(&emu.uri())
                .unwrap()
                .with_ca_pem(emu.ca_pem().unwrap())
                .with_tls_domain("us-central1-aiplatform.googleapis.com"),
        )
        .with_credentials(Credentials::none())
        .connect()
        .await
        .unwrap_err();
    assert!(err.to_string().contains("not valid for the name"), "{err}");
}

#[tokio::test]
async fn nothing_listening_says_so() {
    // Bind a port, then free it: nothing listens there any more.
    let port = {
        let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
        listener.local_addr().unwrap().port()
    };
    let err = AuthChannel::builder()
        .with_endpoint(Endpoint::custom(&format!("http://127.0.0.1:{port}")).unwrap())
        .with_credentials(Credentials::none())
        .connect()
        .await
        .unwrap_err();
    assert!(
        err.to_string().contains("nothing accepts connections"),
        "{err}"
    );
}

#[tokio::test]
async fn a_server_status_stays_a_status() {
    let emu = emulator().with_require_auth(true).start().await.unwrap();
    let channel = AuthChannel::builder()
        .with_endpoint(Endpoint::custom(&emu.uri()).unwrap())
        .with_credentials(Credentials::none())
        .connect()
        .await
        .unwrap();
    let status = list(&channel).await.unwrap_err();
    let err = channel.error_from_status(status);
    assert_eq!(err.code(), Some(tonic::Code::Unauthenticated), "{err:?}");
}

#[tokio::test]
async fn a_bad_ca_pem_is_refused_as_input() {
    let err = AuthChannel::builder()
        .with_endpoint(
            Endpoint::custom("https://127.0.0.1:1")
                .unwrap()
                .with_ca_pem("not a pem"),
        )
        .with_credentials(Credentials::none())
        .connect()
        .await
        .unwrap_err();
    assert!(err.is_invalid_input(), "{err:?}");
    assert!(err.to_string().starts_with("invalid ca_pem"), "{err}");
}
