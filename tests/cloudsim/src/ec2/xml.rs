//! EC2's response and error documents, shaped as AWS shapes them so that
//! `aws-sdk-ec2` parses them: `<XResponse xmlns="…"><requestId>…` with
//! camelCase members and `<item>` list members; errors as
//! `<Response><Errors><Error><Code>…` with AWS's HTTP statuses.

use std::fmt::Display;

use axum::http::{HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};
use quick_xml::escape::escape;

use crate::ids;

pub const NAMESPACE: &str = "http://ec2.amazonaws.com/doc/2016-11-15/";

/// An EC2 error: code, message, HTTP status.
#[derive(Debug, Clone, PartialEq)]
pub struct Ec2Error {
    pub status: u16,
    pub code: String,
    pub message: String,
}

impl Ec2Error {
    pub fn new(status: u16, code: impl Into<String>, message: impl Into<String>) -> Ec2Error {
        Ec2Error {
            status,
            code: code.into(),
            message: message.into(),
        }
    }

    /// A client error (HTTP 400).
    pub fn bad(code: impl Into<String>, message: impl Into<String>) -> Ec2Error {
        Ec2Error::new(400, code, message)
    }

    /// `InvalidParameterValue`: a parameter's value breaks AWS's rules.
    pub fn invalid(message: impl Into<String>) -> Ec2Error {
        Ec2Error::bad("InvalidParameterValue", message)
    }

    /// `InvalidParameterCombination`: parameters that do not go together.
    pub fn combination(message: impl Into<String>) -> Ec2Error {
        Ec2Error::bad("InvalidParameterCombination", message)
    }

    pub fn internal(message: impl Display) -> Ec2Error {
        Ec2Error::new(
            500,
            "InternalError",
            format!("An internal error has occurred: {message}"),
        )
    }

    pub fn unauthorized(action: &str) -> Ec2Error {
        Ec2Error::new(
            403,
            "UnauthorizedOperation",
            format!("You are not authorized to perform this operation: ec2:{action}."),
        )
    }

    pub fn dry_run() -> Ec2Error {
        Ec2Error::new(
            412,
            "DryRunOperation",
            "Request would have succeeded, but DryRun flag is set.",
        )
    }

    pub fn throttled() -> Ec2Error {
        Ec2Error::new(503, "RequestLimitExceeded", "Request limit exceeded.")
    }

    pub fn volume_not_found(id: &str) -> Ec2Error {
        Ec2Error::bad(
            "InvalidVolume.NotFound",
            format!("The volume '{id}' does not exist."),
        )
    }

    pub fn snapshot_not_found(id: &str) -> Ec2Error {
        Ec2Error::bad(
            "InvalidSnapshot.NotFound",
            format!("The snapshot '{id}' does not exist."),
        )
    }

    pub fn instance_not_found(id: &str) -> Ec2Error {
        Ec2Error::bad(
            "InvalidInstanceID.NotFound",
            format!("The instance ID '{id}' does not exist"),
        )
    }
}

impl IntoResponse for Ec2Error {
    fn into_response(self) -> Response {
        let request_id = ids::request_id();
        let body = format!(
            "<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n<Response><Errors><Error><Code>{}</Code><Message>{}</Message></Error></Errors><RequestID>{}</RequestID></Response>",
            escape(self.code.as_str()),
            escape(self.message.as_str()),
            request_id
        );
        let status = StatusCode::from_u16(self.status).unwrap_or(StatusCode::INTERNAL_SERVER_ERROR);
        xml_response(status, body)
    }
}

/// A success document being written.
pub struct Xml {
    action: String,
    out: String,
}

impl Xml {
    /// `<{action}Response xmlns=…><requestId>…</requestId>`, members to follow.
    pub fn response(action: &str) -> Xml {
        let out = format!(
            "<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n<{action}Response xmlns=\"{NAMESPACE}\"><requestId>{}</requestId>",
            ids::request_id()
        );
        Xml {
            action: action.to_string(),
            out,
        }
    }

    /// `<name>value</name>`.
    pub fn field(&mut self, name: &str, value: impl Display) -> &mut Xml {
        let value = value.to_string();
        self.out
            .push_str(&format!("<{name}>{}</{name}>", escape(value.as_str())));
        self
    }

    /// `<name>value</name>` when there is a value.
    pub fn opt(&mut self, name: &str, value: Option<impl Display>) -> &mut Xml {
        if let Some(value) = value {
            self.field(name, value);
        }
        self
    }

    /// `<name>…</name>` with `inner` writing the members.
    pub fn el(&mut self, name: &str, inner: impl FnOnce(&mut Xml)) -> &mut Xml {
        self.out.push_str(&format!("<{name}>"));
        inner(self);
        self.out.push_str(&format!("</{name}>"));
        self
    }

    /// `<name><item>…</item>…</name>`, one item per element of `items`.
    pub fn list<T>(
        &mut self,
        name: &str,
        items: impl IntoIterator<Item = T>,
        mut each: impl FnMut(&mut Xml, T),
    ) -> &mut Xml {
        self.el(name, |x| {
            for item in items {
                x.el("item", |x| each(x, item));
            }
        })
    }

    /// A `tagSet` (omitted when empty, as AWS does).
    pub fn tags<'a>(
        &mut self,
        tags: impl IntoIterator<Item = (&'a String, &'a String)>,
    ) -> &mut Xml {
        let tags: Vec<_> = tags.into_iter().collect();
        if !tags.is_empty() {
            self.list("tagSet", tags, |x, (k, v)| {
                x.field("key", k).field("value", v);
            });
        }
        self
    }

    pub fn finish(mut self) -> Response {
        self.out.push_str(&format!("</{}Response>", self.action));
        xml_response(StatusCode::OK, self.out)
    }

    /// A response with nothing but `<return>true</return>`.
    pub fn returns_true(action: &str) -> Response {
        let mut x = Xml::response(action);
        x.field("return", true);
        x.finish()
    }
}

fn xml_response(status: StatusCode, body: String) -> Response {
    let mut response = (status, body).into_response();
    response.headers_mut().insert(
        header::CONTENT_TYPE,
        HeaderValue::from_static("text/xml;charset=UTF-8"),
    );
    response
        .headers_mut()
        .insert(header::SERVER, HeaderValue::from_static("AmazonEC2"));
    response
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn escapes_values() {
        let mut x = Xml::response("CreateTags");
        x.field("value", "a<b&c");
        assert!(x.out.contains("<value>a&lt;b&amp;c</value>"), "{}", x.out);
    }
}
