//! GetProviderSchema answered from bytes encoded once.
//!
//! The schema never changes while the plugin runs, and Terraform asks for it at the start
//! of every command. The generated service clones the whole response message and encodes
//! it on every call, which made the RPC slower than the Go provider's; this layer in front
//! of it answers that one method with the gRPC frame built at start-up and passes every
//! other call through untouched.

use std::convert::Infallible;
use std::future::Future;
use std::pin::Pin;
use std::task::{Context, Poll};

use bytes::Bytes;
use http_body_util::BodyExt;
use prost::Message;
use tonic::body::BoxBody;
use tonic::server::NamedService;
use tower::Service;

/// The method this layer answers itself.
const PATH: &str = "/tfplugin6.Provider/GetProviderSchema";

/// `inner`, with GetProviderSchema served from `frame`.
#[derive(Clone)]
pub struct CachedSchema<S> {
    inner: S,
    /// The length-prefixed gRPC message: flag byte 0 (uncompressed), u32 length, bytes.
    frame: Bytes,
}

impl<S> CachedSchema<S> {
    pub fn new(inner: S, response: &impl Message) -> Self {
        let message = response.encode_to_vec();
        let mut frame = Vec::with_capacity(message.len() + 5);
        frame.push(0);
        frame.extend_from_slice(&(message.len() as u32).to_be_bytes());
        frame.extend_from_slice(&message);
        Self {
            inner,
            frame: Bytes::from(frame),
        }
    }

    fn response(&self) -> http::Response<BoxBody> {
        let mut trailers = http::HeaderMap::new();
        trailers.insert("grpc-status", http::HeaderValue::from_static("0"));
        let frames = futures::stream::iter([
            Ok::<_, tonic::Status>(http_body::Frame::data(self.frame.clone())),
            Ok(http_body::Frame::trailers(trailers)),
        ]);
        let body = http_body_util::StreamBody::new(frames).boxed_unsync();
        http::Response::builder()
            .status(200)
            .header("content-type", "application/grpc")
            .body(body)
            .expect("a static response is valid")
    }
}

impl<S: NamedService> NamedService for CachedSchema<S> {
    const NAME: &'static str = S::NAME;
}

impl<S> Service<http::Request<BoxBody>> for CachedSchema<S>
where
    S: Service<http::Request<BoxBody>, Response = http::Response<BoxBody>, Error = Infallible>,
    S::Future: Send + 'static,
{
    type Response = http::Response<BoxBody>;
    type Error = Infallible;
    type Future = Pin<Box<dyn Future<Output = Result<Self::Response, Infallible>> + Send>>;

    fn poll_ready(&mut self, cx: &mut Context<'_>) -> Poll<Result<(), Infallible>> {
        self.inner.poll_ready(cx)
    }

    fn call(&mut self, request: http::Request<BoxBody>) -> Self::Future {
        if request.uri().path() == PATH {
            let response = self.response();
            return Box::pin(async move { Ok(response) });
        }
        Box::pin(self.inner.call(request))
    }
}
