//! A failed call becomes an [`Error`]: the one translation every RPC's failure goes through.
//!
//! A `tonic::Status` a generated client returns is one of three things:
//! - the service's answer (a status with no source): [`Error::Status`], with advice;
//! - a token that could not be had (the [`AuthChannel`](crate::transport::AuthChannel) put the
//!   crate's [`Error::Auth`] in the status's source): that error, unchanged;
//! - a connection that failed (a transport error in the source): [`Error::Transport`], with
//!   advice; tonic's own deadline becomes the `DEADLINE_EXCEEDED` it stands for.

use std::error::Error as StdError;

use super::Error;
use super::advice;
use super::audience::{Audience, Remedy};
use crate::endpoint::Endpoint;

/// The crate error behind a status from a call on a channel to `endpoint`, its advice worded
/// for `audience`.
pub(crate) fn from_status(status: tonic::Status, endpoint: &Endpoint, audience: Audience) -> Error {
    let Some(source) = status.source() else {
        // Statuses the server sent have no source.
        return service_answer(status, endpoint, audience);
    };
    for err in chain(source) {
        if err.is::<tonic::TimeoutExpired>() {
            // tonic reports its own deadline as CANCELLED; it is the call's deadline.
            let status = tonic::Status::deadline_exceeded(Remedy::CallDeadline.text(audience));
            return service_answer(status, endpoint, audience);
        }
        if let Some(Error::Auth {
            source_name,
            message,
        }) = err.downcast_ref::<Error>()
        {
            return Error::Auth {
                source_name: source_name.clone(),
                message: message.clone(),
            };
        }
    }
    from_transport(endpoint, source, audience)
}

/// A connection to `endpoint` that could not be made or broke, as [`Error::Transport`] with
/// what to do about it, worded for `audience`.
pub(crate) fn from_transport(
    endpoint: &Endpoint,
    err: &(dyn StdError + 'static),
    audience: Audience,
) -> Error {
    let (failure, advice) = advice::for_connection(endpoint, &chain(err), audience);
    Error::Transport {
        endpoint: endpoint.uri(),
        // tonic's outermost message is only "transport error", which the variant says already.
        message: format!(
            "{}; {advice}",
            flatten(err).trim_start_matches("transport error: ")
        ),
        failure,
    }
}

/// A status the service sent, with advice for the usual causes.
fn service_answer(status: tonic::Status, endpoint: &Endpoint, audience: Audience) -> Error {
    let hint = advice::for_status(&status, endpoint, audience);
    Error::Status {
        status: Box::new(status),
        hint,
    }
}

/// An error and its sources in one line, without repeating a message a parent already shows.
pub(crate) fn flatten(err: &(dyn StdError + 'static)) -> String {
    let mut text = String::new();
    for err in chain(err) {
        let message = err.to_string();
        if text.contains(&message) {
            continue;
        }
        if !text.is_empty() {
            text.push_str(": ");
        }
        text.push_str(&message);
    }
    text
}

/// An error and its sources, outermost first. `std::io::Error` reports its inner error's
/// source rather than the inner error itself, so the inner error is visited explicitly.
fn chain<'a>(err: &'a (dyn StdError + 'static)) -> Vec<&'a (dyn StdError + 'static)> {
    let mut out = Vec::new();
    let mut next = Some(err);
    while let Some(err) = next {
        out.push(err);
        next = match err
            .downcast_ref::<std::io::Error>()
            .and_then(|io| io.get_ref())
        {
            Some(inner) => Some(inner as &(dyn StdError + 'static)),
            None => err.source(),
        };
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::error::TransportFailure;

    #[test]
    fn flatten_skips_repeated_messages_and_reads_inside_io_errors() {
        let inner = std::io::Error::other("deep cause");
        let outer = std::io::Error::other(inner);
        assert_eq!(flatten(&outer), "deep cause");
    }

    #[test]
    fn an_io_error_says_its_cause_once_in_a_chain() {
        let err = Error::Io {
            path: Some("/x".into()),
            error: std::io::Error::from(std::io::ErrorKind::NotFound),
        };
        assert_eq!(err.to_string(), "I/O error on /x: entity not found");
        assert_eq!(flatten(&err), err.to_string());
        assert!(StdError::source(&err).is_none());
    }

    #[test]
    fn a_status_the_server_sent_stays_a_status() {
        let err = from_status(
            tonic::Status::not_found("no job"),
            &Endpoint::global(),
            Audience::Library,
        );
        assert_eq!(err.code(), Some(tonic::Code::NotFound));
    }

    #[test]
    fn a_refused_certificate_is_a_transport_error_that_says_so() {
        let tls = rustls::Error::InvalidCertificate(rustls::CertificateError::UnknownIssuer);
        let io = std::io::Error::other(tls);
        let endpoint = Endpoint::custom("https://127.0.0.1:1").unwrap();
        let err = from_transport(&endpoint, &io, Audience::Library);
        assert!(err.is_transport() && err.is_tls_certificate(), "{err:?}");
        assert!(err.to_string().contains("Endpoint::with_ca_pem"), "{err}");
        let err = from_transport(&endpoint, &io, Audience::CommandLine);
        assert!(err.to_string().contains("--ca-cert FILE"), "{err}");
        assert!(!err.to_string().contains("with_ca_pem"), "{err}");

        let refused = std::io::Error::from(std::io::ErrorKind::ConnectionRefused);
        let err = from_transport(&endpoint, &refused, Audience::Library);
        assert!(err.is_transport() && !err.is_tls_certificate(), "{err:?}");
        assert!(
            matches!(
                err,
                Error::Transport {
                    failure: TransportFailure::Refused,
                    ..
                }
            ),
            "{err:?}"
        );
    }
}
