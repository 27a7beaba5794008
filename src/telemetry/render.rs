//! `/metrics` rendering with content negotiation, like the official client libraries.
//!
//! prometheus-client writes OpenMetrics only. In OpenMetrics a counter family is named without
//! `_total` (`# TYPE x counter` over samples `x_total`), units get a `# UNIT` line and the body
//! ends in `# EOF`. A reader of the classic text format (curl users, promtool 2.x, older
//! scrapers) would see those `_total` samples as untyped metrics without help, so for them we
//! rewrite the metadata into the classic shape instead of serving OpenMetrics under a wrong
//! content type.

use prometheus_client::registry::Registry;

/// The exposition formats we serve.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum Format {
    OpenMetrics,
    Classic,
}

impl Format {
    pub(crate) const fn content_type(self) -> &'static str {
        match self {
            Format::OpenMetrics => "application/openmetrics-text; version=1.0.0; charset=utf-8",
            Format::Classic => "text/plain; version=0.0.4; charset=utf-8",
        }
    }

    /// OpenMetrics when the Accept header lists it with a weight at least that of
    /// `text/plain` (as Prometheus's own Accept header does); the classic format otherwise,
    /// including when there is no Accept header at all.
    pub(crate) fn negotiate(accept: Option<&str>) -> Format {
        let Some(accept) = accept else { return Format::Classic };
        let mut openmetrics = 0.0_f32;
        let mut classic = 0.0_f32;
        for range in accept.split(',') {
            let mut parts = range.split(';').map(str::trim);
            let media = parts.next().unwrap_or("").to_ascii_lowercase();
            let q = parts
                .filter_map(|p| p.strip_prefix("q=").or_else(|| p.strip_prefix("Q=")))
                .find_map(|v| v.trim().parse::<f32>().ok())
                .unwrap_or(1.0);
            match media.as_str() {
                "application/openmetrics-text" => openmetrics = openmetrics.max(q),
                "text/plain" | "text/*" | "*/*" => classic = classic.max(q),
                _ => {}
            }
        }
        if openmetrics > 0.0 && openmetrics >= classic { Format::OpenMetrics } else { Format::Classic }
    }
}

/// Renders the registry in `format`.
pub(crate) fn render(registry: &Registry, format: Format) -> String {
    let mut openmetrics = String::with_capacity(16 * 1024);
    // Encoding into a String cannot fail: fmt::Write for String is infallible, and the
    // registry's own values are numbers and label strings.
    if let Err(e) = prometheus_client::encoding::text::encode(&mut openmetrics, registry) {
        tracing::error!(error = %e, "encoding metrics failed");
    }
    match format {
        Format::OpenMetrics => openmetrics,
        Format::Classic => openmetrics_to_classic(&openmetrics),
    }
}

/// Rewrites prometheus-client's OpenMetrics text into the classic text format (0.0.4):
/// counter metadata renamed to the `_total` sample name, `info` families as gauges named
/// `…_info`, `unknown` as `untyped`, `# UNIT` and `# EOF` dropped, help text unescaped where the
/// classic format has no escape. Samples pass through unchanged: both formats write them alike
/// for the types this daemon uses (it records no exemplars or created timestamps).
pub(crate) fn openmetrics_to_classic(openmetrics: &str) -> String {
    let mut out = String::with_capacity(openmetrics.len());
    let mut pending_help: Option<(&str, &str)> = None;
    for line in openmetrics.lines() {
        if let Some(rest) = line.strip_prefix("# HELP ") {
            flush_help(&mut out, pending_help.take(), None);
            let (name, help) = rest.split_once(' ').unwrap_or((rest, ""));
            pending_help = Some((name, help));
        } else if let Some(rest) = line.strip_prefix("# TYPE ") {
            let (name, kind) = rest.split_once(' ').unwrap_or((rest, "untyped"));
            let (classic_name, classic_kind) = match kind {
                "counter" => (with_suffix(name, "_total"), "counter"),
                "info" => (with_suffix(name, "_info"), "gauge"),
                "gauge" | "histogram" | "summary" => (name.to_owned(), kind),
                "stateset" => (name.to_owned(), "gauge"),
                _ => (name.to_owned(), "untyped"),
            };
            let help = pending_help.take().filter(|(n, _)| *n == name);
            flush_help(&mut out, help, Some(&classic_name));
            out.push_str("# TYPE ");
            out.push_str(&classic_name);
            out.push(' ');
            out.push_str(classic_kind);
            out.push('\n');
        } else if line.starts_with("# UNIT ") || line == "# EOF" {
            continue;
        } else {
            flush_help(&mut out, pending_help.take(), None);
            out.push_str(line);
            out.push('\n');
        }
    }
    flush_help(&mut out, pending_help, None);
    out
}

fn with_suffix(name: &str, suffix: &str) -> String {
    if name.ends_with(suffix) { name.to_owned() } else { format!("{name}{suffix}") }
}

/// Writes a held `# HELP` line, under `rename` when its `# TYPE` line renamed the family.
fn flush_help(out: &mut String, help: Option<(&str, &str)>, rename: Option<&str>) {
    let Some((name, text)) = help else { return };
    out.push_str("# HELP ");
    out.push_str(rename.unwrap_or(name));
    out.push(' ');
    // OpenMetrics escapes `"` in help text; the classic format knows only `\\` and `\n`.
    out.push_str(&text.replace("\\\"", "\""));
    out.push('\n');
}

#[cfg(test)]
mod tests {
    use super::*;
    use prometheus_client::metrics::counter::Counter;
    use prometheus_client::metrics::histogram::Histogram;
    use prometheus_client::registry::Unit;

    const PROMETHEUS_ACCEPT: &str = "application/openmetrics-text;version=1.0.0,application/openmetrics-text;version=0.0.1;q=0.75,text/plain;version=0.0.4;q=0.5,*/*;q=0.1";

    #[test]
    fn negotiates_like_the_official_clients() {
        assert_eq!(Format::negotiate(Some(PROMETHEUS_ACCEPT)), Format::OpenMetrics);
        assert_eq!(Format::negotiate(None), Format::Classic);
        assert_eq!(Format::negotiate(Some("*/*")), Format::Classic);
        assert_eq!(Format::negotiate(Some("text/plain;version=0.0.4")), Format::Classic);
        assert_eq!(Format::negotiate(Some("application/openmetrics-text;q=0")), Format::Classic);
        assert_eq!(Format::negotiate(Some("text/plain;q=0.9, application/openmetrics-text;q=0.5")), Format::Classic);
    }

    #[test]
    fn classic_rendering_names_counters_by_their_samples() {
        let mut registry = Registry::default();
        let counter = Counter::<u64>::default();
        counter.inc();
        registry.register("demo_requests", "Requests with a \"quoted\" word", counter);
        let histogram = Histogram::new([0.1, 1.0]);
        histogram.observe(0.5);
        registry.register_with_unit("demo_duration", "Durations", Unit::Seconds, histogram);

        let classic = render(&registry, Format::Classic);
        assert!(classic.contains("# HELP demo_requests_total Requests with a \"quoted\" word.\n"), "{classic}");
        assert!(classic.contains("# TYPE demo_requests_total counter\ndemo_requests_total 1\n"), "{classic}");
        assert!(classic.contains("# TYPE demo_duration_seconds histogram\n"), "{classic}");
        assert!(classic.contains("demo_duration_seconds_bucket{le=\"1.0\"} 1\n"), "{classic}");
        assert!(!classic.contains("# UNIT"), "{classic}");
        assert!(!classic.contains("# EOF"), "{classic}");

        let openmetrics = render(&registry, Format::OpenMetrics);
        assert!(openmetrics.contains("# TYPE demo_requests counter\n"), "{openmetrics}");
        assert!(openmetrics.ends_with("# EOF\n"), "{openmetrics}");
    }

    #[test]
    fn info_and_unknown_families_map_to_classic_types() {
        let om = "# HELP x_build Build.\n# TYPE x_build info\nx_build_info{v=\"1\"} 1\n# TYPE y unknown\ny 3\n# EOF\n";
        let classic = openmetrics_to_classic(om);
        assert_eq!(
            classic,
            "# HELP x_build_info Build.\n# TYPE x_build_info gauge\nx_build_info{v=\"1\"} 1\n# TYPE y untyped\ny 3\n"
        );
    }
}
