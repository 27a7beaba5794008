//! Reading a Statuspage history feed (RSS 2.0 or Atom) into incidents, without sockets.
//!
//! feed-rs reads the XML. Each entry's HTML lists the incident's updates newest first:
//!
//! ```html
//! <p><small>Feb <var data-var='date'> 8</var>, <var data-var='time'>03:55</var> UTC</small><br>
//!    <strong>Update</strong> - We continue to work to mitigate …</p>
//! ```
//!
//! Newer feeds put spaces after `<p>` and `<br>`; older ones have no `<var>` tags; stamps carry no
//! year and are written in the page's own time zone; a scheduled maintenance opens with
//! `<p><strong>THIS IS A SCHEDULED EVENT …</strong></p>`.
//!
//! - `model`: the entries and updates as the daemon sees them.
//! - `html`: one entry's HTML read into its updates (a WHATWG tokenizer walk).
//! - `stamp`: the updates' stamps.
//!
//! This file reads the feed itself (feed-rs) and decides each entry's kind and lifecycle.

mod html;
mod model;
mod stamp;

#[cfg(test)]
use html::MAX_UPDATES_PER_ENTRY;
pub use html::read_updates;
pub use model::{EntryHtml, EntryKind, Feed, Incident, IncidentState, Lifecycle, Update};
pub use stamp::parse_stamp;

#[cfg(test)]
use self::html::MAX_TEXT_CHARS;
use self::html::collapse_whitespace;

/// How many entries one feed may hold before the rest are ignored. Statuspage serves 25; the
/// body-size cap bounds the input anyway, this bounds the work and the label sets.
pub(crate) const MAX_ENTRIES: usize = 500;

/// Why a body is not a usable feed: feed-rs's reason (not XML, truncated, not a feed).
#[derive(Debug, thiserror::Error)]
#[error(transparent)]
pub struct FeedError(#[from] feed_rs::parser::ParseFeedError);

/// Parses an RSS or Atom body. Invalid or truncated XML, or a document that is no feed, is an
/// error; anything odd inside an entry (unknown states, unreadable stamps, missing parts) is not.
pub fn parse(body: &[u8]) -> Result<Feed, FeedError> {
    let feed = feed_rs::parser::parse(body)?;
    let incidents = feed.entries.into_iter().take(MAX_ENTRIES).map(incident_from_entry).collect();
    Ok(Feed { incidents })
}

fn incident_from_entry(entry: feed_rs::model::Entry) -> Incident {
    let link = entry
        .links
        .iter()
        .find(|l| l.rel.as_deref().is_none_or(|r| r == "alternate"))
        .or_else(|| entry.links.first())
        .map(|l| l.href.trim().to_owned())
        .filter(|l| !l.is_empty());
    let id = incident_id(link.as_deref(), &entry.id);
    let title = entry.title.as_ref().map(|t| collapse_whitespace(&t.content)).filter(|t| !t.is_empty());
    let html = entry
        .content
        .as_ref()
        .and_then(|c| c.body.as_deref())
        .or_else(|| entry.summary.as_ref().map(|s| s.content.as_str()))
        .unwrap_or("");
    let reference = entry.updated.or(entry.published);
    let body = read_updates(html, reference);
    let kind = if body.scheduled_header || body.updates.iter().any(|u| u.state.is_maintenance_state()) {
        EntryKind::Maintenance
    } else {
        EntryKind::Incident
    };
    let state = body.updates.first().map_or(IncidentState::Unknown, |u| u.state);
    let phase = phase_of(kind, &body.updates);
    Incident {
        id,
        title: title.unwrap_or_else(|| "(untitled)".to_owned()),
        link,
        kind,
        state,
        phase,
        published: entry.published,
        updated: entry.updated,
        updates: body.updates,
    }
}

/// The incident code: the path segment after `/incidents/` in the link, else the last segment
/// of the entry id (`tag:…,2005:Incident/16051676` → `16051676`), else the whole id.
fn incident_id(link: Option<&str>, entry_id: &str) -> String {
    let from_link = link.and_then(|l| {
        let rest = &l[l.find("/incidents/")? + "/incidents/".len()..];
        let code = rest.split(['/', '?', '#']).next().unwrap_or("");
        (!code.is_empty()).then(|| code.to_owned())
    });
    from_link.unwrap_or_else(|| {
        let id = entry_id.trim();
        let tail = id.rsplit(['/', ':']).find(|s| !s.is_empty()).unwrap_or(id);
        tail.to_owned()
    })
}

/// The lifecycle phase. Statuspage labels an update that keeps the status as `Update`, so the
/// phase is that of the newest update that names a status; `Update` and unknown labels do not
/// change it. An incident whose updates are all `Update` is active.
fn phase_of(kind: EntryKind, updates: &[Update]) -> Lifecycle {
    let mut saw_update = false;
    for update in updates {
        match update.state {
            IncidentState::Investigating | IncidentState::Identified | IncidentState::Monitoring => {
                return Lifecycle::Active;
            }
            IncidentState::InProgress | IncidentState::Verifying => return Lifecycle::Active,
            IncidentState::Scheduled => return Lifecycle::Upcoming,
            IncidentState::Resolved | IncidentState::Postmortem | IncidentState::Completed => return Lifecycle::Ended,
            IncidentState::Update => saw_update = true,
            IncidentState::Unknown => {}
        }
    }
    match kind {
        // Only the scheduled-event header, or only `Update`s under it: not started yet.
        EntryKind::Maintenance => Lifecycle::Upcoming,
        EntryKind::Incident if saw_update => Lifecycle::Active,
        EntryKind::Incident => Lifecycle::Unknown,
    }
}

#[cfg(test)]
mod tests;
