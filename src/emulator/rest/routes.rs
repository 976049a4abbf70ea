//! The REST routes, read from the `google.api.http` annotations of the vendored protos, so the
//! emulator answers exactly the URLs the service documents.

use std::sync::OnceLock;

use http::Method;
use prost_reflect::{MethodDescriptor, Value};

use super::template::PathTemplate;
use crate::json::descriptor_pool;
use crate::proto::google::api::HttpRule;
use crate::proto::google::api::http_rule::Pattern;

/// The RPCs the emulator serves over REST.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) enum Rpc {
    Create,
    Get,
    List,
    Delete,
    Cancel,
    GetOperation,
}

impl Rpc {
    const ALL: [Rpc; 6] = [
        Rpc::Create,
        Rpc::Get,
        Rpc::List,
        Rpc::Delete,
        Rpc::Cancel,
        Rpc::GetOperation,
    ];

    /// The method's full name in the descriptor pool.
    fn full_name(self) -> &'static str {
        match self {
            Rpc::Create => "google.cloud.aiplatform.v1.JobService.CreateBatchPredictionJob",
            Rpc::Get => "google.cloud.aiplatform.v1.JobService.GetBatchPredictionJob",
            Rpc::List => "google.cloud.aiplatform.v1.JobService.ListBatchPredictionJobs",
            Rpc::Delete => "google.cloud.aiplatform.v1.JobService.DeleteBatchPredictionJob",
            Rpc::Cancel => "google.cloud.aiplatform.v1.JobService.CancelBatchPredictionJob",
            Rpc::GetOperation => "google.longrunning.Operations.GetOperation",
        }
    }
}

/// Vertex AI serves the Operations mixin under its own paths, declared in its service
/// configuration (aiplatform_v1.yaml), not in google/longrunning/operations.proto (whose rule,
/// `/v1/{name=operations/**}`, is the generic one). This is the binding for the operations a
/// Delete returns, `projects/P/locations/L/operations/ID`.
const GET_OPERATION: &str = "/v1/{name=projects/*/locations/*/operations/*}";

/// One route: an HTTP method and path template for one RPC.
#[derive(Debug, Clone)]
pub(super) struct Route {
    pub(super) rpc: Rpc,
    pub(super) method: Method,
    pub(super) template: PathTemplate,
    /// The request field the body fills (`*`: the whole request), or none (no body).
    pub(super) body: Option<String>,
    /// The RPC's descriptor: its input and output message types.
    pub(super) descriptor: MethodDescriptor,
}

/// Every route, built the first time it is needed.
pub(super) fn routes() -> &'static [Route] {
    static ROUTES: OnceLock<Vec<Route>> = OnceLock::new();
    ROUTES.get_or_init(|| {
        Rpc::ALL
            .iter()
            .map(|rpc| {
                // The descriptor set is the crate's own, made by build.rs from the same protos:
                // a method or rule missing from it is a build error, caught by the tests below.
                route(*rpc).unwrap_or_else(|reason| panic!("REST route for {rpc:?}: {reason}"))
            })
            .collect()
    })
}

/// The route for `method` and `path`, with the fields its path binds.
pub(super) fn find(method: &Method, path: &str) -> Option<(&'static Route, Vec<(String, String)>)> {
    routes().iter().find_map(|route| {
        if route.method != *method {
            return None;
        }
        route.template.matches(path).map(|bound| (route, bound))
    })
}

fn route(rpc: Rpc) -> Result<Route, String> {
    let pool = descriptor_pool();
    let descriptor = pool
        .get_service_by_name(rpc.full_name().rsplit_once('.').map_or("", |(s, _)| s))
        .and_then(|service| service.methods().find(|m| m.full_name() == rpc.full_name()))
        .ok_or("the method is not in the descriptor set")?;
    let rule = http_rule(&descriptor)?;
    let (method, template) = match rule.pattern {
        _ if rpc == Rpc::GetOperation => (Method::GET, GET_OPERATION.to_string()),
        Some(Pattern::Get(path)) => (Method::GET, path),
        Some(Pattern::Post(path)) => (Method::POST, path),
        Some(Pattern::Delete(path)) => (Method::DELETE, path),
        Some(Pattern::Put(path)) => (Method::PUT, path),
        Some(Pattern::Patch(path)) => (Method::PATCH, path),
        Some(Pattern::Custom(custom)) => (
            Method::from_bytes(custom.kind.as_bytes()).map_err(|e| e.to_string())?,
            custom.path,
        ),
        None => return Err("the google.api.http rule has no pattern".to_string()),
    };
    Ok(Route {
        rpc,
        method,
        template: PathTemplate::parse(&template)?,
        body: Some(rule.body).filter(|body| !body.is_empty()),
        descriptor,
    })
}

/// The method's `google.api.http` option.
fn http_rule(method: &MethodDescriptor) -> Result<HttpRule, String> {
    let extension = descriptor_pool()
        .get_extension_by_name("google.api.http")
        .ok_or("google.api.http is not in the descriptor set")?;
    let options = method.options();
    if !options.has_extension(&extension) {
        return Err("the method has no google.api.http option".to_string());
    }
    match options.get_extension(&extension).as_ref() {
        Value::Message(rule) => rule.transcode_to().map_err(|e| e.to_string()),
        other => Err(format!("google.api.http is not a message: {other:?}")),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn route_of(rpc: Rpc) -> &'static Route {
        routes().iter().find(|route| route.rpc == rpc).unwrap()
    }

    #[test]
    fn every_rpc_has_its_documented_route() {
        let job = "/v1/projects/p/locations/us-central1/batchPredictionJobs/1";
        let jobs = "/v1/projects/p/locations/us-central1/batchPredictionJobs";
        let operation = "/v1/projects/p/locations/us-central1/operations/7";
        for (method, path, rpc) in [
            (Method::POST, jobs, Rpc::Create),
            (Method::GET, job, Rpc::Get),
            (Method::GET, jobs, Rpc::List),
            (Method::DELETE, job, Rpc::Delete),
            (Method::POST, &format!("{job}:cancel"), Rpc::Cancel),
            (Method::GET, operation, Rpc::GetOperation),
        ] {
            let (route, _) = find(&method, path).unwrap_or_else(|| panic!("{method} {path}"));
            assert_eq!(route.rpc, rpc, "{method} {path}");
        }
        assert!(find(&Method::PUT, job).is_none());
        assert!(find(&Method::GET, "/v1/projects/p/locations/l/customJobs").is_none());
    }

    #[test]
    fn bodies_are_as_annotated() {
        assert_eq!(
            route_of(Rpc::Create).body.as_deref(),
            Some("batch_prediction_job")
        );
        assert_eq!(route_of(Rpc::Cancel).body.as_deref(), Some("*"));
        assert_eq!(route_of(Rpc::Get).body, None);
        assert_eq!(route_of(Rpc::List).body, None);
    }
}
