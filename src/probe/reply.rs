//! Reading what the Messages API sent back: the JSON reply, the error body, and the SSE stream
//! (an incremental parser plus the accumulator that follows the documented event sequence).
//! Pure code over bytes, tested without sockets.

use serde::Deserialize;

use super::outcome::MAX_ERROR_LEN;
use crate::text::truncate;

/// Token usage as the API reports it.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Deserialize)]
pub struct Usage {
    #[serde(default)]
    pub input_tokens: Option<u64>,
    #[serde(default)]
    pub output_tokens: Option<u64>,
}

#[derive(Debug, Deserialize)]
struct Message {
    #[serde(rename = "type")]
    kind: String,
    content: Vec<ContentBlock>,
    #[serde(default)]
    usage: Option<Usage>,
}

#[derive(Debug, Deserialize)]
struct ContentBlock {
    #[serde(rename = "type")]
    kind: String,
    #[serde(default)]
    text: Option<String>,
}

/// A non-streaming reply, parsed.
#[derive(Debug, PartialEq, Eq)]
pub struct Reply {
    /// The text blocks, concatenated.
    pub text: String,
    pub usage: Usage,
}

/// Parses a non-streaming Messages reply; the error says briefly why it is not one.
pub fn parse_message(body: &[u8]) -> Result<Reply, String> {
    let message: Message = serde_json::from_slice(body)
        .map_err(|e| truncate(&format!("reply is not a Messages API message: {e}"), MAX_ERROR_LEN).into_owned())?;
    if message.kind != "message" {
        return Err(
            truncate(&format!("reply has type {:?}, expected \"message\"", message.kind), MAX_ERROR_LEN).into_owned()
        );
    }
    let text = message.content.iter().filter(|b| b.kind == "text").filter_map(|b| b.text.as_deref()).collect();
    Ok(Reply { text, usage: message.usage.unwrap_or_default() })
}

/// The `error` object of an API error body or an SSE `error` event.
#[derive(Clone, Debug, Default, PartialEq, Eq, Deserialize)]
pub struct ApiErrorDetail {
    #[serde(rename = "type", default)]
    pub kind: String,
    #[serde(default)]
    pub message: String,
}

#[derive(Deserialize)]
struct ErrorEnvelope {
    error: ApiErrorDetail,
}

/// The `error` of `{"type": "error", "error": {…}, "request_id": …}`, if the body is one.
pub fn parse_error(body: &[u8]) -> Option<ApiErrorDetail> {
    serde_json::from_slice::<ErrorEnvelope>(body).ok().map(|e| e.error)
}

/// Whether `text` passes the probe's `expect` (already lower-cased; empty accepts anything).
pub(crate) fn text_matches(text: &str, expect_lower: &str) -> bool {
    expect_lower.is_empty() || text.to_lowercase().contains(expect_lower)
}

/// One server-sent event.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct SseEvent {
    /// The `event:` field; `message` when absent, as the SSE spec says.
    pub event: String,
    /// The `data:` lines joined by `\n`.
    pub data: String,
}

/// An incremental `text/event-stream` parser: feed it chunks as they arrive, in any split.
/// Lines end in `\n`, `\r\n` or `\r`; `:` lines are comments; unknown fields are ignored.
#[derive(Debug, Default)]
pub struct SseParser {
    line: Vec<u8>,
    /// The previous chunk ended in `\r`: a `\n` at the start of the next one belongs to it.
    after_cr: bool,
    event: Option<String>,
    data: Option<String>,
}

impl SseParser {
    /// Parses `chunk`, appending every event it completes to `out`.
    pub fn push(&mut self, chunk: &[u8], out: &mut Vec<SseEvent>) {
        for &b in chunk {
            if std::mem::take(&mut self.after_cr) && b == b'\n' {
                continue;
            }
            match b {
                b'\n' => self.end_line(out),
                b'\r' => {
                    self.end_line(out);
                    self.after_cr = true;
                }
                _ => self.line.push(b),
            }
        }
    }

    fn end_line(&mut self, out: &mut Vec<SseEvent>) {
        let line = std::mem::take(&mut self.line);
        if line.is_empty() {
            // A blank line dispatches the event, if it has data.
            let event = self.event.take();
            if let Some(data) = self.data.take() {
                out.push(SseEvent { event: event.unwrap_or_else(|| "message".into()), data });
            }
            return;
        }
        if line[0] == b':' {
            return;
        }
        let line = String::from_utf8_lossy(&line);
        let (field, value) = match line.split_once(':') {
            Some((f, v)) => (f, v.strip_prefix(' ').unwrap_or(v)),
            None => (line.as_ref(), ""),
        };
        match field {
            "event" => self.event = Some(value.to_owned()),
            "data" => match &mut self.data {
                Some(data) => {
                    data.push('\n');
                    data.push_str(value);
                }
                None => self.data = Some(value.to_owned()),
            },
            _ => {}
        }
    }
}

/// What a Messages stream has said so far.
#[derive(Debug, Default)]
pub struct StreamReply {
    pub text: String,
    pub usage: Usage,
    pub started: bool,
    pub stopped: bool,
    /// Set by the first `content_block_delta`.
    pub first_delta_seen: bool,
    /// An `error` event.
    pub error: Option<ApiErrorDetail>,
    /// Why the stream is not a valid Messages stream, if it is not.
    pub malformed: Option<String>,
}

#[derive(Deserialize)]
struct MessageStart {
    message: MessageStartMessage,
}

#[derive(Deserialize)]
struct MessageStartMessage {
    #[serde(default)]
    usage: Option<Usage>,
}

#[derive(Deserialize)]
struct BlockDelta {
    delta: Delta,
}

#[derive(Deserialize)]
struct Delta {
    #[serde(rename = "type")]
    kind: String,
    #[serde(default)]
    text: Option<String>,
}

#[derive(Deserialize)]
struct MessageDelta {
    #[serde(default)]
    usage: Option<Usage>,
}

impl StreamReply {
    /// Takes one event. Returns true when it was the first `content_block_delta` (the moment
    /// of the first token).
    pub fn on_event(&mut self, event: &SseEvent) -> bool {
        fn parse<'a, T: Deserialize<'a>>(event: &'a SseEvent) -> Result<T, String> {
            serde_json::from_str(&event.data)
                .map_err(|e| truncate(&format!("malformed {} event: {e}", event.event), MAX_ERROR_LEN).into_owned())
        }
        let mut first = false;
        let result = match event.event.as_str() {
            "message_start" => parse::<MessageStart>(event).map(|m| {
                self.started = true;
                if let Some(u) = m.message.usage {
                    self.usage.input_tokens = u.input_tokens.or(self.usage.input_tokens);
                    self.usage.output_tokens = u.output_tokens.or(self.usage.output_tokens);
                }
            }),
            "content_block_delta" => parse::<BlockDelta>(event).map(|d| {
                first = !self.first_delta_seen;
                self.first_delta_seen = true;
                if d.delta.kind == "text_delta"
                    && let Some(t) = d.delta.text
                {
                    self.text.push_str(&t);
                }
            }),
            // Usage in message_delta is cumulative: the last one is the total.
            "message_delta" => parse::<MessageDelta>(event).map(|d| {
                if let Some(u) = d.usage {
                    self.usage.input_tokens = u.input_tokens.or(self.usage.input_tokens);
                    self.usage.output_tokens = u.output_tokens.or(self.usage.output_tokens);
                }
            }),
            "message_stop" => {
                self.stopped = true;
                Ok(())
            }
            "error" => {
                self.error = Some(parse::<ErrorEnvelope>(event).map(|e| e.error).unwrap_or_else(|_| ApiErrorDetail {
                    kind: String::new(),
                    message: truncate(&event.data, MAX_ERROR_LEN).into_owned(),
                }));
                Ok(())
            }
            // ping, content_block_start/stop and types added later carry nothing we need.
            _ => Ok(()),
        };
        if let Err(e) = result
            && self.malformed.is_none()
        {
            self.malformed = Some(e);
        }
        first
    }

    /// Why a stream that ended (without an error event) does not count as a reply.
    pub fn incomplete(&self) -> Option<String> {
        if let Some(m) = &self.malformed {
            return Some(m.clone());
        }
        if !self.started {
            return Some("stream ended without message_start".into());
        }
        if !self.stopped {
            return Some("stream ended without message_stop".into());
        }
        None
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The documented event sequence of a short streamed reply.
    pub(super) const STREAM: &str = "event: message_start\n\
data: {\"type\":\"message_start\",\"message\":{\"id\":\"msg_1\",\"type\":\"message\",\"role\":\"assistant\",\"content\":[],\"model\":\"m\",\"stop_reason\":null,\"usage\":{\"input_tokens\":15,\"output_tokens\":1}}}\n\
\n\
event: content_block_start\n\
data: {\"type\":\"content_block_start\",\"index\":0,\"content_block\":{\"type\":\"text\",\"text\":\"\"}}\n\
\n\
event: ping\n\
data: {\"type\": \"ping\"}\n\
\n\
event: content_block_delta\n\
data: {\"type\":\"content_block_delta\",\"index\":0,\"delta\":{\"type\":\"text_delta\",\"text\":\"O\"}}\n\
\n\
event: content_block_delta\n\
data: {\"type\":\"content_block_delta\",\"index\":0,\"delta\":{\"type\":\"text_delta\",\"text\":\"K\"}}\n\
\n\
event: content_block_stop\n\
data: {\"type\":\"content_block_stop\",\"index\":0}\n\
\n\
event: message_delta\n\
data: {\"type\":\"message_delta\",\"delta\":{\"stop_reason\":\"end_turn\",\"stop_sequence\":null},\"usage\":{\"output_tokens\":3}}\n\
\n\
event: message_stop\n\
data: {\"type\":\"message_stop\"}\n\
\n";

    fn events(chunks: &[&[u8]]) -> Vec<SseEvent> {
        let mut parser = SseParser::default();
        let mut out = Vec::new();
        for c in chunks {
            parser.push(c, &mut out);
        }
        out
    }

    #[test]
    fn parses_the_documented_sequence_in_any_split() {
        let whole = events(&[STREAM.as_bytes()]);
        let names: Vec<_> = whole.iter().map(|e| e.event.as_str()).collect();
        assert_eq!(
            names,
            [
                "message_start",
                "content_block_start",
                "ping",
                "content_block_delta",
                "content_block_delta",
                "content_block_stop",
                "message_delta",
                "message_stop"
            ]
        );
        // Byte by byte, and with CRLF line ends, the same events come out.
        let bytes: Vec<&[u8]> = STREAM.as_bytes().chunks(1).collect();
        assert_eq!(events(&bytes), whole);
        let crlf = STREAM.replace('\n', "\r\n");
        let split: Vec<&[u8]> = crlf.as_bytes().chunks(7).collect();
        assert_eq!(events(&split), whole);
        let cr = STREAM.replace('\n', "\r");
        assert_eq!(events(&[cr.as_bytes()]), whole);
    }

    #[test]
    fn sse_details_follow_the_spec() {
        let out = events(&[b": comment\ndata: a\ndata:b\nid: 7\n\nevent: x\n\nevent: y\ndata\n\n"]);
        assert_eq!(
            out,
            [
                SseEvent { event: "message".into(), data: "a\nb".into() },
                SseEvent { event: "y".into(), data: String::new() },
            ]
        );
        assert!(events(&[b"event: unfinished\ndata: 1\n"]).is_empty(), "no blank line, no event");
    }

    #[test]
    fn accumulates_text_usage_and_first_token() {
        let mut reply = StreamReply::default();
        let firsts: Vec<bool> = events(&[STREAM.as_bytes()]).iter().map(|e| reply.on_event(e)).collect();
        assert_eq!(firsts.iter().filter(|f| **f).count(), 1);
        assert!(firsts[3], "the first content_block_delta is the first token");
        assert_eq!(reply.text, "OK");
        assert_eq!(reply.usage, Usage { input_tokens: Some(15), output_tokens: Some(3) });
        assert_eq!(reply.incomplete(), None);
        assert!(reply.error.is_none());
    }

    #[test]
    fn error_events_and_truncated_streams() {
        let mut reply = StreamReply::default();
        let cut = STREAM.split("event: content_block_stop").next().unwrap().to_owned()
            + "event: error\ndata: {\"type\":\"error\",\"error\":{\"type\":\"overloaded_error\",\"message\":\"Overloaded\"}}\n\n";
        for e in events(&[cut.as_bytes()]) {
            reply.on_event(&e);
        }
        assert_eq!(reply.error, Some(ApiErrorDetail { kind: "overloaded_error".into(), message: "Overloaded".into() }));

        let mut reply = StreamReply::default();
        for e in events(&[STREAM.split("event: message_stop").next().unwrap().as_bytes()]) {
            reply.on_event(&e);
        }
        assert_eq!(reply.incomplete().as_deref(), Some("stream ended without message_stop"));

        let mut reply = StreamReply::default();
        reply.on_event(&SseEvent { event: "message_start".into(), data: "{not json".into() });
        assert!(reply.incomplete().unwrap().starts_with("malformed message_start event"), "{:?}", reply.incomplete());

        let mut reply = StreamReply::default();
        reply.on_event(&SseEvent { event: "future_event".into(), data: "whatever".into() });
        assert!(reply.malformed.is_none(), "unknown events are ignored");
    }

    #[test]
    fn non_streaming_replies_and_errors() {
        let body = br#"{"id":"msg_1","type":"message","role":"assistant","model":"m","content":[{"type":"text","text":"OK."}],"stop_reason":"end_turn","stop_sequence":null,"usage":{"input_tokens":15,"output_tokens":2}}"#;
        let reply = parse_message(body).unwrap();
        assert_eq!(reply.text, "OK.");
        assert_eq!(reply.usage, Usage { input_tokens: Some(15), output_tokens: Some(2) });
        assert!(parse_message(b"<html>").unwrap_err().contains("not a Messages API message"));
        assert!(parse_message(br#"{"type":"error","content":[]}"#).unwrap_err().contains("expected \"message\""));

        let err =
            br#"{"type":"error","error":{"type":"overloaded_error","message":"Overloaded"},"request_id":"req_1"}"#;
        assert_eq!(
            parse_error(err),
            Some(ApiErrorDetail { kind: "overloaded_error".into(), message: "Overloaded".into() })
        );
        assert_eq!(parse_error(b"<html>502</html>"), None);
    }

    #[test]
    fn expect_is_a_case_insensitive_substring() {
        assert!(text_matches("OK.", "ok"));
        assert!(text_matches("Sure: ok", "ok"));
        assert!(!text_matches("No", "ok"));
        assert!(text_matches("anything", ""));
    }
}
