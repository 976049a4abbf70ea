//! Who reads an error's advice, and the advice that differs by reader: a program's author is
//! told which function to call, a person at the command line which flag to pass. Every such
//! text is here once, with both wordings side by side.

/// Who an error's advice is for: it names functions ([`Audience::Library`], the default) or
/// `vertex-batch` flags ([`Audience::CommandLine`]). Set it with
/// [`JobClientBuilder::with_audience`](crate::JobClientBuilder::with_audience) or
/// [`AuthChannelBuilder::with_audience`](crate::transport::AuthChannelBuilder::with_audience).
///
/// ```
/// use vertex_batch::{Audience, JobClient};
///
/// let builder = JobClient::builder().with_audience(Audience::CommandLine);
/// ```
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
#[non_exhaustive]
pub enum Audience {
    /// A program using this crate: advice names functions (`Endpoint::with_ca_pem`).
    #[default]
    Library,
    /// A person running the `vertex-batch` tool: advice names its flags (`--ca-cert`).
    CommandLine,
}

/// A piece of advice whose wording depends on the [`Audience`].
#[derive(Clone, Copy, Debug)]
pub(crate) enum Remedy {
    /// A location whose endpoint does not serve batch jobs: use a region.
    RegionalEndpoint,
    /// A custom endpoint serving another location than the client's.
    EndpointLocation,
    /// A server certificate from an unknown issuer: trust its CA.
    TrustIssuer,
    /// A server certificate refused for another reason: check it, or trust its CA.
    CheckCertificate,
    /// A server certificate not valid for the endpoint's name.
    CertificateName,
    /// RESOURCE_EXHAUSTED, which is not retried by default.
    Quota,
    /// DEADLINE_EXCEEDED: advice after the status.
    Deadline,
    /// DEADLINE_EXCEEDED: what tonic's own deadline stands for, as the status's message.
    CallDeadline,
}

impl Remedy {
    /// The advice, worded for `audience`.
    pub(crate) fn text(self, audience: Audience) -> &'static str {
        let cli = audience == Audience::CommandLine;
        match self {
            Remedy::RegionalEndpoint if cli => {
                "pass --location us-central1, or the location of the job"
            }
            Remedy::RegionalEndpoint => {
                "use Endpoint::for_location(\"us-central1\") or the location of the job"
            }
            Remedy::EndpointLocation if cli => "pass the endpoint's location with --location",
            Remedy::EndpointLocation => {
                "give the client the endpoint's location (JobClientBuilder::with_location)"
            }
            Remedy::TrustIssuer if cli => "add its CA certificate with --ca-cert FILE",
            Remedy::TrustIssuer => {
                "add its CA certificate with Endpoint::with_ca_pem, or use TrustRoots::Native \
                 when the CA is installed on this machine"
            }
            Remedy::CheckCertificate if cli => {
                "check the endpoint's certificate, or trust its CA with --ca-cert FILE"
            }
            Remedy::CheckCertificate => {
                "check the endpoint's certificate, or trust its CA with Endpoint::with_ca_pem"
            }
            Remedy::CertificateName if cli => {
                "reach the endpoint by a name its certificate carries (--endpoint https://NAME:PORT)"
            }
            Remedy::CertificateName => {
                "reach the endpoint by a name its certificate carries, or set that name with \
                 Endpoint::with_tls_domain"
            }
            Remedy::Quota if cli => "quota exhausted; retry later",
            Remedy::Quota => {
                "quota exhausted; retry later, or opt in with \
                 RetryPolicy::with_retry_resource_exhausted"
            }
            Remedy::Deadline if cli => {
                "no answer in time; check the network to the endpoint and try again"
            }
            Remedy::Deadline => {
                "no answer in time; raise RetryPolicy::with_attempt_timeout if the network is slow"
            }
            Remedy::CallDeadline if cli => "no answer before the call's deadline",
            Remedy::CallDeadline => {
                "no answer before the call's deadline (RetryPolicy::with_attempt_timeout)"
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const ALL: [Remedy; 8] = [
        Remedy::RegionalEndpoint,
        Remedy::EndpointLocation,
        Remedy::TrustIssuer,
        Remedy::CheckCertificate,
        Remedy::CertificateName,
        Remedy::Quota,
        Remedy::Deadline,
        Remedy::CallDeadline,
    ];

    #[test]
    fn the_command_line_is_never_told_a_function_nor_a_program_a_flag() {
        for remedy in ALL {
            let cli = remedy.text(Audience::CommandLine);
            assert!(!cli.contains("::") && !cli.contains("with_"), "{cli}");
            let library = remedy.text(Audience::Library);
            assert!(!library.contains("--"), "{library}");
        }
    }
}
