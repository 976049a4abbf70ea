//! Every piece of advice an error message gives: what to do about a status the service sent
//! and about a connection that failed. Tests pin these messages: the unit tests below, and the
//! transport (TLS, connection refused) and client (errors that say what to do) integration
//! tests.

use std::error::Error as StdError;

use super::TransportFailure;
use super::audience::{Audience, Remedy};
use crate::endpoint::Endpoint;

/// Advice for a status the service sent, where the crate knows the usual cause: the field
/// violations of a `BadRequest` detail, and what to check for the codes that have one.
pub(super) fn for_status(
    status: &tonic::Status,
    endpoint: &Endpoint,
    audience: Audience,
) -> Option<String> {
    use tonic::Code;
    use tonic_types::StatusExt;

    // Batch jobs live on the regional endpoint of their location; `global` and the
    // multi-regions serve only some. A custom endpoint (the emulator, a proxy) says nothing.
    let non_regional = matches!(endpoint.location(), Some("global" | "us" | "eu"));
    let mut hints = Vec::new();
    if let Some(bad) = status.get_details_bad_request() {
        // Only what the message does not say already (the emulator lists them in it).
        for violation in bad.field_violations {
            if !status.message().contains(&violation.description) {
                hints.push(format!(
                    "field `{}`: {}",
                    violation.field, violation.description
                ));
            }
        }
    }
    match status.code() {
        Code::NotFound | Code::Unimplemented if non_regional => hints.push(format!(
            "{} is not a regional endpoint; batch prediction jobs live on the endpoint of their \
             location: {}",
            endpoint.host(),
            Remedy::RegionalEndpoint.text(audience)
        )),
        Code::NotFound => hints.push(format!(
            "no such resource at {}; check the name, the project and the job's location",
            endpoint.host()
        )),
        // Only where the service says a location does not match: a malformed name, whose
        // message shows `locations/` too, is beside the point.
        Code::InvalidArgument if says_location_mismatch(status) => hints.push(format!(
            "{} serves another location than this client's: {}",
            endpoint.host(),
            Remedy::EndpointLocation.text(audience)
        )),
        Code::PermissionDenied => {
            let reason = status
                .get_details_error_info()
                .map(|info| format!("reason {} from {}; ", info.reason, info.domain))
                .unwrap_or_default();
            hints.push(format!(
                "{reason}check that the credentials' principal has roles/aiplatform.user on the \
                 project and that the Vertex AI API is enabled"
            ));
        }
        Code::Unauthenticated => hints.push(
            "the endpoint refused the credentials; check them (gcloud auth application-default login, \
             or the service-account key)"
                .into(),
        ),
        Code::ResourceExhausted => hints.push(Remedy::Quota.text(audience).into()),
        Code::DeadlineExceeded => hints.push(Remedy::Deadline.text(audience).into()),
        _ => {}
    }
    (!hints.is_empty()).then(|| hints.join("; "))
}

/// Whether `status` says a location does not match (the endpoint's and the request's).
fn says_location_mismatch(status: &tonic::Status) -> bool {
    let message = status.message().to_lowercase();
    message.contains("location") && (message.contains("not match") || message.contains("mismatch"))
}

/// What kind of connection failure `errors` (an error and its sources, outermost first) is,
/// and what to do about it.
pub(super) fn for_connection(
    endpoint: &Endpoint,
    errors: &[&(dyn StdError + 'static)],
    audience: Audience,
) -> (TransportFailure, String) {
    if let Some(tls) = errors
        .iter()
        .find_map(|e| e.downcast_ref::<rustls::Error>())
    {
        return tls_advice(endpoint, tls, audience);
    }
    // The first I/O error in the chain whose kind has advice of its own.
    let io_kind = errors.iter().find_map(|e| {
        let kind = e.downcast_ref::<std::io::Error>()?.kind();
        matches!(
            kind,
            std::io::ErrorKind::ConnectionRefused | std::io::ErrorKind::TimedOut
        )
        .then_some(kind)
    });
    match io_kind {
        Some(std::io::ErrorKind::ConnectionRefused) => (
            TransportFailure::Refused,
            format!(
                "nothing accepts connections at {}: check the host and port, and that \
                 the server (or the emulator) is running",
                endpoint.uri()
            ),
        ),
        Some(std::io::ErrorKind::TimedOut) => (
            TransportFailure::Other,
            "the connection timed out: check network access to the endpoint \
             (firewall, proxy, VPC Service Controls)"
                .to_owned(),
        ),
        _ => (
            TransportFailure::Other,
            format!(
                "check the endpoint ({}), that this machine can reach it (DNS, firewall, proxy), \
                 and that it speaks {}",
                endpoint.uri(),
                if endpoint.is_tls() {
                    "TLS (for plain HTTP write http://)"
                } else {
                    "plain HTTP/2 (for TLS write https://)"
                }
            ),
        ),
    }
}

/// What to do about a TLS failure; a refused certificate says which check failed.
fn tls_advice(
    endpoint: &Endpoint,
    err: &rustls::Error,
    audience: Audience,
) -> (TransportFailure, String) {
    use rustls::CertificateError as Cert;
    match err {
        rustls::Error::InvalidCertificate(Cert::UnknownIssuer | Cert::BadSignature) => {
            certificate(format!(
                "the server's TLS certificate is not trusted (its issuer is not a trusted CA): if \
             {} is a proxy, Private Service Connect or the emulator, {}",
                endpoint.host(),
                Remedy::TrustIssuer.text(audience)
            ))
        }
        rustls::Error::InvalidCertificate(
            Cert::NotValidForName | Cert::NotValidForNameContext { .. },
        ) => certificate(format!(
            "the server's TLS certificate is not valid for the name {}: {}",
            endpoint.host(),
            Remedy::CertificateName.text(audience)
        )),
        rustls::Error::InvalidCertificate(Cert::Expired | Cert::ExpiredContext { .. }) => {
            certificate(
                "the server's TLS certificate has expired (or this machine's clock is wrong)"
                    .to_owned(),
            )
        }
        rustls::Error::InvalidCertificate(other) => certificate(format!(
            "the server's TLS certificate was refused ({other:?}): {}",
            Remedy::CheckCertificate.text(audience)
        )),
        other => (
            TransportFailure::Other,
            format!("the TLS handshake failed ({other}): check the endpoint speaks TLS"),
        ),
    }
}

/// Advice about a certificate this client refused.
fn certificate(advice: String) -> (TransportFailure, String) {
    (TransportFailure::TlsCertificate, advice)
}

#[cfg(test)]
mod tests {
    use super::*;
    use tonic::Code;
    use tonic_types::{ErrorDetails, StatusExt};

    fn message(status: tonic::Status, endpoint: &Endpoint) -> String {
        super::super::from_status(status, endpoint, Audience::Library).to_string()
    }

    #[test]
    fn a_404_from_the_global_endpoint_points_to_the_regional_one() {
        let text = message(tonic::Status::not_found("no job"), &Endpoint::global());
        assert!(text.contains("not a regional endpoint"), "{text}");
        assert!(text.contains("Endpoint::for_location"), "{text}");
        let regional = Endpoint::for_location("us-central1").unwrap();
        let text = message(tonic::Status::not_found("no job"), &regional);
        assert!(!text.contains("not a regional endpoint"), "{text}");
    }

    #[test]
    fn advice_names_functions_for_a_program_and_flags_for_the_command_line() {
        let global = Endpoint::global();
        for (status, library, cli) in [
            (
                tonic::Status::not_found("no job"),
                "Endpoint::for_location",
                "--location us-central1",
            ),
            (
                tonic::Status::resource_exhausted("quota"),
                "RetryPolicy::with_retry_resource_exhausted",
                "retry later",
            ),
            (
                tonic::Status::deadline_exceeded("slow"),
                "RetryPolicy::with_attempt_timeout",
                "check the network",
            ),
        ] {
            let for_program = super::super::from_status(status.clone(), &global, Audience::Library);
            assert!(for_program.to_string().contains(library), "{for_program}");
            let for_person =
                super::super::from_status(status, &global, Audience::CommandLine).to_string();
            assert!(for_person.contains(cli), "{for_person}");
            assert!(!for_person.contains("::"), "{for_person}");
        }
    }

    #[test]
    fn location_advice_only_where_a_location_does_not_match() {
        let endpoint = Endpoint::custom("https://127.0.0.1:8443").unwrap();
        let mismatch = tonic::Status::invalid_argument(
            "location `europe-west4` does not match this endpoint's location `us-central1`",
        );
        let text = message(mismatch, &endpoint);
        assert!(text.contains("serves another location"), "{text}");
        assert!(text.contains("JobClientBuilder::with_location"), "{text}");
        let malformed = tonic::Status::invalid_argument(
            "`projects/p/locations/us-central1/batchPredictionJobs/abc` is not a batch \
             prediction job name: expected `projects/{project}/locations/{location}/...`",
        );
        let text = message(malformed, &endpoint);
        assert!(!text.contains("serves another location"), "{text}");
    }

    #[test]
    fn field_violations_the_message_lists_are_not_repeated() {
        let details = ErrorDetails::with_bad_request(vec![
            tonic_types::FieldViolation::new("output_config", "required: where predictions go"),
            tonic_types::FieldViolation::new("model", "required: a model"),
        ]);
        let status = tonic::Status::with_error_details(
            Code::InvalidArgument,
            "Request contains an invalid argument. output_config: required: where predictions go",
            details,
        );
        let text = message(status, &Endpoint::for_location("us-central1").unwrap());
        assert_eq!(
            text.matches("required: where predictions go").count(),
            1,
            "{text}"
        );
        assert!(
            text.contains("(field `model`: required: a model)"),
            "{text}"
        );
    }

    #[test]
    fn permission_denied_shows_the_error_info_reason() {
        let details = ErrorDetails::with_error_info(
            "IAM_PERMISSION_DENIED",
            "aiplatform.googleapis.com",
            std::collections::HashMap::new(),
        );
        let status = tonic::Status::with_error_details(Code::PermissionDenied, "denied", details);
        let text = message(status, &Endpoint::global());
        assert!(
            text.contains("reason IAM_PERMISSION_DENIED from aiplatform.googleapis.com"),
            "{text}"
        );
        assert!(text.contains("roles/aiplatform.user"), "{text}");
    }

    #[test]
    fn bad_request_field_violations_are_listed() {
        let details =
            ErrorDetails::with_bad_request_violation("batch_prediction_job.model", "is required");
        let status = tonic::Status::with_error_details(Code::InvalidArgument, "invalid", details);
        let text = message(status, &Endpoint::for_location("eu").unwrap());
        assert!(
            text.contains("field `batch_prediction_job.model`: is required"),
            "{text}"
        );
    }
}
