//! The page's documents as Statuspage writes them: the Atom and RSS history feeds (each
//! entry's updates as HTML, newest first) and the JSON summary.

use chrono::{DateTime, Utc};
use serde_json::{Value, json};

use super::model::{IncidentImpact, IncidentKind, Page, SimIncident, SimState};

/// The page's own name in its feeds.
const PAGE_NAME: &str = "Claude (simulated)";

/// Escapes text for XML content and attributes (and for HTML, which needs the same).
fn escape(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    for c in s.chars() {
        match c {
            '&' => out.push_str("&amp;"),
            '<' => out.push_str("&lt;"),
            '>' => out.push_str("&gt;"),
            '"' => out.push_str("&quot;"),
            '\'' => out.push_str("&#39;"),
            c => out.push(c),
        }
    }
    out
}

/// `Feb <var data-var='date'> 8</var>, <var data-var='time'>03:55</var> UTC`
fn stamp(t: DateTime<Utc>) -> String {
    format!(
        "{} <var data-var='date'>{}</var>, <var data-var='time'>{}</var> UTC",
        t.format("%b"),
        t.format("%e"),
        t.format("%H:%M")
    )
}

/// An entry's HTML, newest update first, in the newer (spaced) Statuspage layout.
fn entry_html(incident: &SimIncident) -> String {
    let mut html = String::new();
    if let Some((start, end)) = incident.window {
        html.push_str(&format!(
            "<p><strong>THIS IS A SCHEDULED EVENT {} &nbsp;-&nbsp; {}</strong></p>",
            stamp(start),
            stamp(end)
        ));
    }
    for update in incident.updates.iter().rev() {
        let label = update.label.as_deref().unwrap_or(update.state.label());
        html.push_str(&format!(
            "<p> <small>{}</small><br> <strong>{}</strong> - {} </p>",
            stamp(update.at),
            escape(label),
            escape(&update.text).replace('\n', "<br />")
        ));
    }
    html
}

/// Newest first, as Statuspage lists them.
pub(super) fn newest_first(page: &Page) -> Vec<&SimIncident> {
    let mut list: Vec<&SimIncident> = page.incidents.iter().collect();
    list.sort_by(|a, b| b.created.cmp(&a.created).then(b.number.cmp(&a.number)));
    list
}

pub(super) fn render_atom(page: &Page, base: &str) -> String {
    let mut out = String::from(
        "<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n<feed xml:lang=\"en-US\" xmlns=\"http://www.w3.org/2005/Atom\">\n",
    );
    out.push_str(&format!(
        "  <id>tag:sim.claudewatch,2005:/history</id>\n  <link rel=\"alternate\" type=\"text/html\" href=\"{b}\"/>\n  <link rel=\"self\" type=\"application/atom+xml\" href=\"{b}/history.atom\"/>\n  <title>{name} - Incident History</title>\n  <updated>{updated}</updated>\n  <author>\n    <name>{name}</name>\n  </author>\n",
        b = escape(base),
        name = escape(PAGE_NAME),
        updated = page.changed.to_rfc3339_opts(chrono::SecondsFormat::Secs, true),
    ));
    for incident in newest_first(page) {
        let published = incident.window.map_or(incident.created, |w| w.0);
        out.push_str(&format!(
            "  <entry>\n    <id>tag:sim.claudewatch,2005:Incident/{number}</id>\n    <published>{published}</published>\n    <updated>{updated}</updated>\n    <link rel=\"alternate\" type=\"text/html\" href=\"{b}/incidents/{code}\"/>\n    <title>{title}</title>\n    <content type=\"html\">{content}</content>\n  </entry>\n",
            number = incident.number,
            published = published.to_rfc3339_opts(chrono::SecondsFormat::Secs, true),
            updated = incident.updated().to_rfc3339_opts(chrono::SecondsFormat::Secs, true),
            b = escape(base),
            code = escape(&incident.code),
            title = escape(&incident.title),
            content = escape(&entry_html(incident)),
        ));
    }
    out.push_str("</feed>\n");
    out
}

pub(super) fn render_rss(page: &Page, base: &str) -> String {
    let mut out = String::from(
        "<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n<rss version=\"2.0\" xmlns:dc=\"http://purl.org/dc/elements/1.1/\">\n  <channel>\n",
    );
    out.push_str(&format!(
        "    <title>{name} - Incident History</title>\n    <link>{b}</link>\n    <description>Statuspage</description>\n    <pubDate>{date}</pubDate>\n",
        name = escape(PAGE_NAME),
        b = escape(base),
        date = page.changed.to_rfc2822(),
    ));
    for incident in newest_first(page) {
        let link = format!("{base}/incidents/{}", incident.code);
        out.push_str(&format!(
            "    <item>\n      <title>{title}</title>\n      <description>\n{content}      </description>\n      <pubDate>{date}</pubDate>\n      <link>{link}</link>\n      <guid>{link}</guid>\n    </item>\n",
            title = escape(&incident.title),
            content = escape(&entry_html(incident)),
            date = incident.updated().to_rfc2822(),
            link = escape(&link),
        ));
    }
    out.push_str("  </channel>\n</rss>\n");
    out
}

pub(super) fn render_summary(page: &Page, base: &str) -> String {
    let time = |t: DateTime<Utc>| t.to_rfc3339_opts(chrono::SecondsFormat::Millis, true);
    let components: Vec<Value> = page
        .components
        .iter()
        .enumerate()
        .map(|(position, c)| {
            let children: Vec<&str> = page
                .components
                .iter()
                .filter(|x| x.group.as_deref() == Some(c.id.as_str()))
                .map(|x| x.id.as_str())
                .collect();
            let mut v = json!({
                "id": c.id, "name": c.name, "status": c.status, "created_at": time(page.changed),
                "updated_at": time(page.changed), "position": position + 1, "description": null, "showcase": true,
                "start_date": null, "group_id": c.group, "page_id": "simpage00001", "group": !children.is_empty(),
                "only_show_if_degraded": false,
            });
            if !children.is_empty() {
                v["components"] = json!(children);
            }
            v
        })
        .collect();
    let entry = |i: &SimIncident| {
        let updates: Vec<Value> = i
            .updates
            .iter()
            .rev()
            .enumerate()
            .map(|(n, u)| json!({"id": format!("{}u{n}", i.code), "status": u.state.as_str(), "body": u.text, "incident_id": i.code, "created_at": time(u.at), "updated_at": time(u.at), "display_at": time(u.at)}))
            .collect();
        json!({
            "id": i.code, "name": i.title, "status": i.json_status().as_str(), "created_at": time(i.created),
            "updated_at": time(i.updated()), "monitoring_at": null, "resolved_at": null,
            "impact": if i.kind == IncidentKind::Maintenance { "maintenance" } else { i.impact.as_str() },
            "shortlink": format!("{base}/incidents/{}", i.code), "started_at": time(i.created), "page_id": "simpage00001",
            "incident_updates": updates, "components": [],
        })
    };
    let open = |kind: IncidentKind| -> Vec<Value> {
        newest_first(page).into_iter().filter(|i| i.kind == kind && i.json_status().is_open()).map(entry).collect()
    };
    let worst_incident = page
        .incidents
        .iter()
        .filter(|i| i.kind == IncidentKind::Incident && i.json_status().is_open())
        .map(|i| i.impact)
        .max();
    let worst_component = page
        .components
        .iter()
        .map(|c| match c.status.as_str() {
            "major_outage" => IncidentImpact::Major,
            "partial_outage" | "degraded_performance" => IncidentImpact::Minor,
            _ => IncidentImpact::None,
        })
        .max()
        .unwrap_or(IncidentImpact::None);
    let in_maintenance = page.incidents.iter().any(|i| {
        i.kind == IncidentKind::Maintenance && matches!(i.json_status(), SimState::InProgress | SimState::Verifying)
    });
    let indicator = worst_incident.unwrap_or(IncidentImpact::None).max(worst_component);
    let (indicator, description) = match indicator {
        IncidentImpact::None if in_maintenance => ("maintenance", "Service Under Maintenance"),
        IncidentImpact::None => ("none", "All Systems Operational"),
        IncidentImpact::Minor => ("minor", "Partially Degraded Service"),
        IncidentImpact::Major => ("major", "Partial System Outage"),
        IncidentImpact::Critical => ("critical", "Major System Outage"),
    };
    json!({
        "page": {"id": "simpage00001", "name": PAGE_NAME, "url": base, "time_zone": "Etc/UTC", "updated_at": time(page.changed)},
        "components": components,
        "incidents": open(IncidentKind::Incident),
        "scheduled_maintenances": open(IncidentKind::Maintenance),
        "status": {"indicator": indicator, "description": description},
    })
    .to_string()
}
