//! What keeps the API's contract honest in both directions.
//!
//! - [`Body`] reads a JSON request the way its schema reads it: `2.0` is the
//!   integer 2 (JSON Schema says so; serde does not), a body that is not
//!   JSON is 415 or 400, never plain text.
//! - [`Problems`] declares on every operation the problems every operation
//!   can answer with (an unreadable request, a missing token, a body too
//!   large, another agency's record), as `application/problem+json`, so
//!   that each handler declares only what is its own; and gives every
//!   integer the range its Rust type holds (a `usize` otherwise has none, so
//!   a generated 10^28 would be "valid" and refused).

use axum::body::Bytes;
use axum::extract::{FromRequest, Request};
use axum::http::{StatusCode, header};
use serde::de::DeserializeOwned;
use serde_json::{Number, Value};
use utoipa::Number as Bound;
use utoipa::openapi::path::{Operation, ParameterIn};
use utoipa::openapi::schema::{AdditionalProperties, ArrayItems, Schema, SchemaType, Type};
use utoipa::openapi::{ContentBuilder, Ref, RefOr, ResponseBuilder};

use super::{Problem, unreadable};

/// A JSON request body, read as its schema describes it.
#[derive(Debug)]
pub struct Body<T>(pub T);

impl<S, T> FromRequest<S> for Body<T>
where
    T: DeserializeOwned,
    S: Send + Sync,
{
    type Rejection = Problem;

    async fn from_request(req: Request, state: &S) -> Result<Self, Problem> {
        if !is_json(req.headers().get(header::CONTENT_TYPE)) {
            return Err(Problem::new(
                StatusCode::UNSUPPORTED_MEDIA_TYPE,
                "unsupported_media_type",
                "Not JSON",
                "send the body as JSON, with Content-Type: application/json",
            ));
        }
        if crate::api::encoded_body(req.headers()) {
            return Err(Problem::new(
                StatusCode::UNSUPPORTED_MEDIA_TYPE,
                "unsupported_media_type",
                "Compressed",
                "send the body uncompressed (no Content-Encoding)",
            ));
        }
        let bytes = Bytes::from_request(req, state).await.map_err(|e| {
            if e.status() == StatusCode::PAYLOAD_TOO_LARGE {
                too_large()
            } else {
                unreadable(format!("the body did not arrive whole: {e}"))
            }
        })?;
        let mut value: Value = serde_json::from_slice(&bytes)
            .map_err(|e| unreadable(format!("the body is not valid JSON: {e}")))?;
        whole_numbers(&mut value);
        serde_path_to_error::deserialize(value)
            .map(Body)
            .map_err(|e| match e.path().to_string().as_str() {
                "." => unreadable(format!("the body does not fit this request: {}", e.inner())),
                path => unreadable(format!("{path}: {}", e.inner())),
            })
    }
}

pub(super) fn too_large() -> Problem {
    Problem::new(
        StatusCode::PAYLOAD_TOO_LARGE,
        "too_large",
        "Request too large",
        "the request body is larger than the API accepts (2 MB; uploads 20 MB)",
    )
}

/// `application/json`, or any `application/…+json`, with or without
/// parameters.
fn is_json(value: Option<&axum::http::HeaderValue>) -> bool {
    let Some(v) = value.and_then(|v| v.to_str().ok()) else {
        return false;
    };
    let essence = v
        .split(';')
        .next()
        .unwrap_or("")
        .trim()
        .to_ascii_lowercase();
    essence == "application/json"
        || (essence.starts_with("application/") && essence.ends_with("+json"))
}

/// Every number with no fraction becomes an integer, as JSON Schema counts
/// it (`"integer"` matches `2.0`); a number beyond 64 bits stays as it is,
/// and a field that wants an integer then refuses it.
fn whole_numbers(v: &mut Value) {
    match v {
        Value::Number(n) => {
            if let Some(f) = n.as_f64().filter(|_| n.is_f64())
                && f.fract() == 0.0
            {
                // -2^63 ..= 2^64 - 1, compared in f64 (both bounds exact).
                if (-9_223_372_036_854_775_808.0..0.0).contains(&f) {
                    *n = Number::from(f as i64);
                } else if (0.0..18_446_744_073_709_551_616.0).contains(&f) {
                    *n = Number::from(f as u64);
                }
            }
        }
        Value::Array(items) => items.iter_mut().for_each(whole_numbers),
        Value::Object(fields) => fields.values_mut().for_each(whole_numbers),
        _ => {}
    }
}

/// Request bodies that are enums tagged by a field (`serde(tag)`) and
/// refuse unknown fields (`deny_unknown_fields`): utoipa closes a struct's
/// schema but not each variant's, so the document says it here.
const CLOSED_VARIANTS: &[&str] = &["ModerateRequest", "SurveyAudience"];

/// Declares the problems any operation may answer with, and names the
/// problem's own content type wherever a handler declared a problem.
pub struct Problems;

impl utoipa::Modify for Problems {
    fn modify(&self, doc: &mut utoipa::openapi::OpenApi) {
        if let Some(components) = doc.components.as_mut() {
            components.schemas.values_mut().for_each(bound_integers);
            for name in CLOSED_VARIANTS {
                if let Some(RefOr::T(Schema::OneOf(o))) = components.schemas.get_mut(*name) {
                    for item in &mut o.items {
                        if let RefOr::T(Schema::Object(v)) = item {
                            v.additional_properties =
                                Some(Box::new(AdditionalProperties::FreeForm(false)));
                        }
                    }
                }
            }
        }
        for (path, item) in doc.paths.paths.iter_mut() {
            let writes = [
                &mut item.post,
                &mut item.put,
                &mut item.patch,
                &mut item.delete,
            ];
            let reads = [&mut item.get];
            for (op, write) in writes
                .into_iter()
                .map(|o| (o, true))
                .chain(reads.into_iter().map(|o| (o, false)))
            {
                if let Some(op) = op.as_mut() {
                    declare(op, path.contains('{'), write);
                }
            }
        }
    }
}

/// An integer with no format is a `usize` (from 0) or an `isize`: its
/// bounds are said, as utoipa says them for the fixed-width types.
fn bound_integers(schema: &mut RefOr<Schema>) {
    let RefOr::T(schema) = schema else {
        return;
    };
    match schema {
        Schema::Object(o) => {
            let integer = match &o.schema_type {
                SchemaType::Type(t) => *t == Type::Integer,
                SchemaType::Array(ts) => ts.contains(&Type::Integer),
                SchemaType::AnyValue => false,
            };
            if integer && o.format.is_none() && o.maximum.is_none() {
                if o.minimum.is_some() {
                    o.maximum = Some(Bound::UInt(usize::MAX));
                } else {
                    o.minimum = Some(Bound::Int(isize::MIN));
                    o.maximum = Some(Bound::Int(isize::MAX));
                }
            }
            o.properties.values_mut().for_each(bound_integers);
            if let Some(AdditionalProperties::RefOr(values)) =
                o.additional_properties.as_deref_mut()
            {
                bound_integers(values);
            }
        }
        Schema::Array(a) => {
            if let ArrayItems::RefOrSchema(items) = &mut a.items {
                bound_integers(items);
            }
        }
        Schema::OneOf(o) => o.items.iter_mut().for_each(bound_integers),
        Schema::AllOf(o) => o.items.iter_mut().for_each(bound_integers),
        Schema::AnyOf(o) => o.items.iter_mut().for_each(bound_integers),
        _ => {}
    }
}

fn declare(op: &mut Operation, has_path_params: bool, write: bool) {
    let has_query = op
        .parameters
        .iter()
        .flatten()
        .any(|p| p.parameter_in == ParameterIn::Query);
    let has_body = op.request_body.is_some();
    if let Some(body) = op.request_body.as_mut() {
        for content in body.content.values_mut() {
            if let Some(schema) = content.schema.as_mut() {
                bound_integers(schema);
            }
        }
    }
    let mut common = vec![
        ("400", "The request could not be read: `bad_request`"),
        ("401", "No token, or one that is not valid: `unauthorized`"),
    ];
    if has_path_params {
        common.push((
            "404",
            "No such record, or one the caller may not see: `not_found`",
        ));
    }
    if write {
        common.push(("403", "The caller may not do this: `forbidden`"));
    }
    if has_body {
        common.push(("413", "The body is too large: `too_large`"));
        common.push(("415", "The body is not of the declared type"));
    }
    if has_body || has_query {
        common.push(("422", "A field is invalid; see `errors`"));
    }
    for (status, description) in common {
        op.responses
            .responses
            .entry(status.to_string())
            .or_insert_with(|| problem_response(description));
    }
    for response in op.responses.responses.values_mut() {
        let RefOr::T(response) = response else {
            continue;
        };
        let is_problem = response.content.get("application/json").is_some_and(
            |c| matches!(&c.schema, Some(RefOr::Ref(r)) if r.ref_location.ends_with("/Problem")),
        );
        if is_problem && let Some(c) = response.content.shift_remove("application/json") {
            response
                .content
                .insert("application/problem+json".to_string(), c);
        }
    }
}

fn problem_response(description: &str) -> RefOr<utoipa::openapi::Response> {
    RefOr::T(
        ResponseBuilder::new()
            .description(description)
            .content(
                "application/problem+json",
                ContentBuilder::new()
                    .schema(Some(Ref::from_schema_name("Problem")))
                    .build(),
            )
            .build(),
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn whole_numbers_become_integers_and_fractions_stay() {
        let mut v: Value =
            serde_json::from_str(r#"{"a": 2.0, "b": [-3.0, 1.5], "c": 1e300, "d": 7}"#).unwrap();
        whole_numbers(&mut v);
        assert_eq!(v["a"], Value::from(2u64));
        assert_eq!(v["b"][0], Value::from(-3i64));
        assert!(v["b"][1].is_f64());
        assert!(v["c"].is_f64(), "beyond 64 bits stays a float");
        assert_eq!(v["d"], Value::from(7u64));
        let n: u64 = serde_json::from_value(v["a"].clone()).unwrap();
        assert_eq!(n, 2);
    }

    #[test]
    fn json_content_types() {
        let h = |s: &'static str| Some(axum::http::HeaderValue::from_static(s));
        assert!(is_json(h("application/json").as_ref()));
        assert!(is_json(h("Application/JSON; charset=utf-8").as_ref()));
        assert!(is_json(h("application/merge-patch+json").as_ref()));
        assert!(!is_json(h("text/plain").as_ref()));
        assert!(!is_json(None));
    }
}
