//! Logging set-up: tracing-subscriber to stderr (its default writer is stdout, which belongs to
//! command output such as `check-config`), text or JSON.
//!
//! Every loop runs in a span that carries its name (`status_page{page}`, `probe{probe}`,
//! `control{control}`), so no log call repeats it. The text format prints the span before the
//! message, as tracing-subscriber always does; the JSON format writes the spans' fields as
//! top-level fields of the line (`FlatJson`), so a line from a page's loop carries `page`
//! beside its own fields, as the README promises and log queries expect.

use std::fmt;

use std::io::IsTerminal;

use clap::ValueEnum;
use serde_json::Value;
use tracing::field::{Field, Visit};
use tracing::{Event, Subscriber};
use tracing_subscriber::EnvFilter;
use tracing_subscriber::fmt::format::{JsonFields, Writer};
use tracing_subscriber::fmt::time::{FormatTime, SystemTime};
use tracing_subscriber::fmt::{FmtContext, FormatEvent, FormatFields, FormattedFields};
use tracing_subscriber::registry::LookupSpan;

#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, ValueEnum)]
pub enum LogFormat {
    #[default]
    Text,
    Json,
}

/// Installs the global subscriber. The level comes from `--log-level` if given, else from
/// `RUST_LOG`, else `info`. An invalid filter is reported and `info` used, never a crash.
pub fn init(format: LogFormat, level: Option<&str>) {
    let filter = match level {
        Some(level) => EnvFilter::try_new(level),
        None => EnvFilter::try_from_default_env().or_else(|_| EnvFilter::try_new("info")),
    };
    let (filter, bad) = match filter {
        Ok(f) => (f, None),
        Err(e) => (EnvFilter::new("info"), Some(e)),
    };
    // Colours only on a terminal: a container's log, journald or a file would keep the escape
    // codes as text.
    let builder = tracing_subscriber::fmt()
        .with_env_filter(filter)
        .with_writer(std::io::stderr)
        .with_ansi(std::io::stderr().is_terminal());
    let installed = match format {
        LogFormat::Text => builder.try_init(),
        LogFormat::Json => builder.fmt_fields(JsonFields::new()).event_format(FlatJson).try_init(),
    };
    if installed.is_ok()
        && let Some(e) = bad
    {
        tracing::warn!(error = %e, "invalid log level, using info");
    }
}

/// One JSON object per line: `timestamp`, `level`, `message`, the fields of the spans the event
/// is in (outermost first), the event's own fields, `target`. An event field wins over a span
/// field of the same name. Records from the `log` crate (rustls) carry their real target rather
/// than `log`, and none of their `log.*` bookkeeping fields.
#[derive(Clone, Copy, Debug, Default)]
pub(crate) struct FlatJson;

impl<S, N> FormatEvent<S, N> for FlatJson
where
    S: Subscriber + for<'a> LookupSpan<'a>,
    N: for<'a> FormatFields<'a> + 'static,
{
    fn format_event(&self, ctx: &FmtContext<'_, S, N>, mut writer: Writer<'_>, event: &Event<'_>) -> fmt::Result {
        let mut timestamp = String::new();
        SystemTime.format_time(&mut Writer::new(&mut timestamp))?;
        let mut fields = JsonVisitor::default();
        event.record(&mut fields);

        let mut line: Vec<(String, Value)> = vec![
            ("timestamp".into(), Value::String(timestamp)),
            ("level".into(), Value::String(event.metadata().level().to_string())),
        ];
        if let Some(message) = fields.message.take() {
            line.push(("message".into(), message));
        }
        // Span fields as the fmt layer stored them (`JsonFields` writes a JSON object).
        if let Some(scope) = ctx.event_scope() {
            for span in scope.from_root() {
                let extensions = span.extensions();
                let stored = extensions.get::<FormattedFields<N>>().map(|f| f.fields.as_str()).unwrap_or("");
                if let Ok(Value::Object(span_fields)) = serde_json::from_str::<Value>(stored) {
                    for (key, value) in span_fields {
                        if !fields.names.contains(&key) {
                            line.retain(|(k, _)| *k != key);
                            line.push((key, value));
                        }
                    }
                }
            }
        }
        line.extend(fields.values);
        let target = fields.log_target.unwrap_or_else(|| event.metadata().target().to_owned());
        line.push(("target".into(), Value::String(target)));
        // Written pair by pair to keep this order (a JSON map would sort the keys).
        writer.write_char('{')?;
        for (i, (key, value)) in line.iter().enumerate() {
            let key = serde_json::to_string(key).map_err(|_| fmt::Error)?;
            let value = serde_json::to_string(value).map_err(|_| fmt::Error)?;
            let comma = if i == 0 { "" } else { "," };
            write!(writer, "{comma}{key}:{value}")?;
        }
        writer.write_str("}\n")
    }
}

/// An event's fields as JSON values, in the order they were recorded.
#[derive(Default)]
struct JsonVisitor {
    message: Option<Value>,
    values: Vec<(String, Value)>,
    names: Vec<String>,
    /// `log.target` of a record from the `log` crate.
    log_target: Option<String>,
}

impl JsonVisitor {
    fn put(&mut self, field: &Field, value: Value) {
        let name = field.name();
        if name == "message" {
            self.message = Some(value);
        } else if name == "log.target" {
            self.log_target = value.as_str().map(str::to_owned);
        } else if !name.starts_with("log.") {
            self.names.push(name.to_owned());
            self.values.push((name.to_owned(), value));
        }
    }
}

impl Visit for JsonVisitor {
    fn record_f64(&mut self, field: &Field, value: f64) {
        self.put(field, serde_json::Number::from_f64(value).map_or(Value::Null, Value::Number));
    }

    fn record_i64(&mut self, field: &Field, value: i64) {
        self.put(field, Value::from(value));
    }

    fn record_u64(&mut self, field: &Field, value: u64) {
        self.put(field, Value::from(value));
    }

    fn record_bool(&mut self, field: &Field, value: bool) {
        self.put(field, Value::from(value));
    }

    fn record_str(&mut self, field: &Field, value: &str) {
        self.put(field, Value::from(value));
    }

    fn record_debug(&mut self, field: &Field, value: &dyn fmt::Debug) {
        self.put(field, Value::String(format!("{value:?}")));
    }
}

#[cfg(test)]
mod tests {
    use std::io;
    use std::sync::{Arc, Mutex};

    use super::*;

    /// Collects what the subscriber writes.
    #[derive(Clone, Default)]
    struct Buffer(Arc<Mutex<Vec<u8>>>);

    impl io::Write for Buffer {
        fn write(&mut self, bytes: &[u8]) -> io::Result<usize> {
            self.0.lock().unwrap().extend_from_slice(bytes);
            Ok(bytes.len())
        }

        fn flush(&mut self) -> io::Result<()> {
            Ok(())
        }
    }

    /// The keys of a raw JSON line, in the order written.
    fn keys(line: &str) -> Vec<String> {
        let parsed: Value = serde_json::from_str(line).unwrap();
        let mut keys: Vec<(usize, String)> = parsed
            .as_object()
            .unwrap()
            .keys()
            .map(|k| (line.find(&format!("{}:", serde_json::to_string(k).unwrap())).unwrap(), k.clone()))
            .collect();
        keys.sort();
        keys.into_iter().map(|(_, k)| k).collect()
    }

    fn raw_lines(log: impl FnOnce()) -> Vec<String> {
        let buffer = Buffer::default();
        let writer = buffer.clone();
        let subscriber = tracing_subscriber::fmt()
            .with_writer(move || writer.clone())
            .with_max_level(tracing::Level::DEBUG)
            .fmt_fields(JsonFields::new())
            .event_format(FlatJson)
            .finish();
        tracing::subscriber::with_default(subscriber, log);
        let text = String::from_utf8(buffer.0.lock().unwrap().clone()).unwrap();
        text.lines().map(str::to_owned).collect()
    }

    fn json_lines(log: impl FnOnce()) -> Vec<Value> {
        raw_lines(log).iter().map(|l| serde_json::from_str(l).unwrap_or_else(|e| panic!("{e}: {l}"))).collect()
    }

    #[test]
    fn span_fields_become_fields_of_the_line() {
        let log = || {
            let outer = tracing::info_span!("status_page", page = "anthropic");
            let _outer = outer.enter();
            tracing::info!(id = "abc", count = 3, ok = true, "status page incident appeared");
            let inner = tracing::info_span!("inner", page = "shadowed", extra = 1.5);
            let _inner = inner.enter();
            tracing::warn!(page = "own", "own field wins");
        };
        let raw = raw_lines(log);
        let lines = json_lines(log);
        assert_eq!(lines.len(), 2, "{lines:?}");
        let first = &lines[0];
        assert_eq!(first["message"], "status page incident appeared");
        assert_eq!((first["page"].as_str(), first["id"].as_str()), (Some("anthropic"), Some("abc")));
        assert_eq!((first["count"].as_u64(), first["ok"].as_bool()), (Some(3), Some(true)));
        assert_eq!(first["level"], "INFO");
        assert!(first["target"].as_str().unwrap().starts_with("claudewatch"), "{first}");
        assert!(first["timestamp"].as_str().is_some_and(|t| t.ends_with('Z')), "{first}");
        assert_eq!(keys(&raw[0]), ["timestamp", "level", "message", "page", "id", "count", "ok", "target"]);
        let second = &lines[1];
        assert_eq!((second["page"].as_str(), second["extra"].as_f64()), (Some("own"), Some(1.5)), "{second}");
    }

    #[test]
    fn lines_outside_any_span_are_as_before() {
        let lines = raw_lines(|| tracing::info!(addr = "127.0.0.1:1", "claudewatch listening"));
        assert_eq!(keys(&lines[0]), ["timestamp", "level", "message", "addr", "target"]);
    }
}
