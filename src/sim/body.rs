//! A response body fed frame by frame from a task: SSE streams, and bodies that a fault breaks
//! off in the middle (an `Err` frame makes hyper abort the connection).

use std::pin::Pin;
use std::task::{Context, Poll};

use bytes::Bytes;
use hyper::body::Frame;
use tokio::sync::mpsc;

/// The sending half: `send` returns false once the client has gone.
pub(super) struct BodySender(mpsc::Sender<Result<Frame<Bytes>, std::io::Error>>);

impl BodySender {
    pub(super) async fn send(&self, data: Bytes) -> bool {
        self.0.send(Ok(Frame::data(data))).await.is_ok()
    }

    /// Breaks the body off: hyper stops writing and closes the connection.
    pub(super) async fn abort(&self) {
        let err = std::io::Error::new(std::io::ErrorKind::ConnectionAborted, "simulated close mid-body");
        let _ = self.0.send(Err(err)).await;
    }
}

/// The receiving half, an `http_body::Body`.
pub(super) struct ChannelBody(mpsc::Receiver<Result<Frame<Bytes>, std::io::Error>>);

pub(super) fn channel() -> (BodySender, ChannelBody) {
    let (tx, rx) = mpsc::channel(16);
    (BodySender(tx), ChannelBody(rx))
}

impl hyper::body::Body for ChannelBody {
    type Data = Bytes;
    type Error = std::io::Error;

    fn poll_frame(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Option<Result<Frame<Bytes>, Self::Error>>> {
        self.0.poll_recv(cx)
    }
}
