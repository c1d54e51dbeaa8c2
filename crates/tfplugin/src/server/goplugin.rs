//! The services go-plugin expects beside the provider itself.

use std::pin::Pin;

use futures::Stream;
use tokio_util::sync::CancellationToken;
use tonic::{Request, Response, Status, Streaming};

use crate::proto::plugin::{
    grpc_broker_server::GrpcBroker, grpc_controller_server::GrpcController,
    grpc_stdio_server::GrpcStdio, ConnInfo, Empty, StdioData,
};

/// `Shutdown` ends the server gracefully; Terraform calls it when it is done with us.
pub struct Controller {
    pub shutdown: CancellationToken,
}

#[tonic::async_trait]
impl GrpcController for Controller {
    async fn shutdown(&self, _request: Request<Empty>) -> Result<Response<Empty>, Status> {
        tracing::debug!("shutdown requested by the client");
        self.shutdown.cancel();
        Ok(Response::new(Empty {}))
    }
}

type BoxStream<T> = Pin<Box<dyn Stream<Item = Result<T, Status>> + Send>>;

/// Our logs go to stderr directly, so the stdio stream stays open and silent until shutdown.
pub struct Stdio {
    pub shutdown: CancellationToken,
}

#[tonic::async_trait]
impl GrpcStdio for Stdio {
    type StreamStdioStream = BoxStream<StdioData>;

    async fn stream_stdio(
        &self,
        _request: Request<()>,
    ) -> Result<Response<Self::StreamStdioStream>, Status> {
        let shutdown = self.shutdown.clone();
        let stream = futures::stream::once(async move {
            shutdown.cancelled().await;
            Err(Status::unavailable("plugin shutting down"))
        });
        Ok(Response::new(Box::pin(stream)))
    }
}

/// The broker multiplexes extra plugin connections; providers never open any, so we
/// accept the stream, drain what the client sends and send nothing back.
pub struct Broker {
    pub shutdown: CancellationToken,
}

#[tonic::async_trait]
impl GrpcBroker for Broker {
    type StartStreamStream = BoxStream<ConnInfo>;

    async fn start_stream(
        &self,
        request: Request<Streaming<ConnInfo>>,
    ) -> Result<Response<Self::StartStreamStream>, Status> {
        let mut incoming = request.into_inner();
        let shutdown = self.shutdown.clone();
        tokio::spawn(async move {
            while let Ok(Some(info)) = incoming.message().await {
                tracing::debug!(
                    service_id = info.service_id,
                    "ignoring broker connection info"
                );
            }
        });
        let stream = futures::stream::once(async move {
            shutdown.cancelled().await;
            Err(Status::unavailable("plugin shutting down"))
        });
        Ok(Response::new(Box::pin(stream)))
    }
}
