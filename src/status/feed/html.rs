//! Reading one entry's HTML into its updates with a WHATWG tokenizer (html5gum), which decodes
//! every entity, so a word like "Resolved" at the start of an update's text is text, never a
//! state. An update starts at a `<small>` that opens its paragraph (only whitespace before it
//! inside the `<p>`); its state is the `<strong>` right after the stamp; its text runs to the next
//! update. A `<strong>` that opens a paragraph outside an update may be the scheduled-event
//! header.

use chrono::{DateTime, Utc};
use html5gum::{Token, Tokenizer};

use super::model::{EntryHtml, IncidentState, Update};
use super::stamp::parse_stamp;
use crate::text::truncate;

/// How many updates of one entry are kept.
pub(super) const MAX_UPDATES_PER_ENTRY: usize = 200;

/// Longest update text kept, in characters.
pub(super) const MAX_TEXT_CHARS: usize = 2000;

/// The opening of the header Statuspage puts above a scheduled maintenance's updates.
const SCHEDULED_EVENT_MARKER: &str = "THIS IS A SCHEDULED EVENT";

/// Where the tokenizer walk is inside one update.
#[derive(Clone, Copy, PartialEq, Eq)]
enum Mode {
    /// Outside any update (before the first one, or in the scheduled-event header).
    Outside,
    /// Inside `<small>`: the stamp.
    Stamp,
    /// After `</small>`, waiting for `<strong>`.
    AfterStamp,
    /// Inside the `<strong>` that names the state.
    Label,
    /// The update's text.
    Text,
}

/// One update being collected.
#[derive(Default)]
struct Draft {
    stamp: String,
    label: String,
    text: String,
}

/// The walk over one entry's tokens.
struct Walk {
    reference: Option<DateTime<Utc>>,
    read: EntryHtml,
    draft: Option<Draft>,
    mode: Mode,
    /// Only whitespace since the current `<p>` opened.
    paragraph_fresh: bool,
    /// Collecting a paragraph-leading `<strong>` outside an update (a possible header).
    header: Option<String>,
}

/// Reads the updates of one entry's HTML; stamps without a year take the year that puts them
/// closest to `reference` (the entry's own date).
pub fn read_updates(html: &str, reference: Option<DateTime<Utc>>) -> EntryHtml {
    let mut walk = Walk {
        reference,
        read: EntryHtml::default(),
        draft: None,
        mode: Mode::Outside,
        paragraph_fresh: true,
        header: None,
    };
    for token in Tokenizer::new(html).flatten() {
        match token {
            Token::StartTag(tag) => walk.start_tag(tag.name.as_slice()),
            Token::EndTag(tag) => walk.end_tag(tag.name.as_slice()),
            Token::String(s) => walk.text(&String::from_utf8_lossy(&s)),
            // Comments, doctypes and tokenizer errors (the tokenizer recovers) carry nothing.
            Token::Comment(_) | Token::Doctype(_) | Token::Error(_) => {}
        }
    }
    walk.finish_draft();
    walk.read
}

impl Walk {
    fn start_tag(&mut self, name: &[u8]) {
        match name {
            b"p" => {
                if self.mode == Mode::Text
                    && let Some(d) = self.draft.as_mut()
                {
                    d.text.push_str("\n\n");
                }
                self.paragraph_fresh = true;
                return;
            }
            b"small" if self.paragraph_fresh => {
                self.finish_draft();
                self.draft = Some(Draft::default());
                self.mode = Mode::Stamp;
            }
            b"strong" if self.mode == Mode::AfterStamp => self.mode = Mode::Label,
            b"strong" if self.paragraph_fresh && self.draft.is_none() => self.header = Some(String::new()),
            b"br" => self.line_break(),
            _ => {}
        }
        self.paragraph_fresh = false;
    }

    /// `<br>`: a line break in the text, a space in the stamp or the label.
    fn line_break(&mut self) {
        let Some(d) = self.draft.as_mut() else { return };
        match self.mode {
            Mode::Text => d.text.push('\n'),
            Mode::Stamp => d.stamp.push(' '),
            Mode::Label => d.label.push(' '),
            Mode::AfterStamp | Mode::Outside => {}
        }
    }

    fn end_tag(&mut self, name: &[u8]) {
        match name {
            b"small" if self.mode == Mode::Stamp => self.mode = Mode::AfterStamp,
            b"strong" if self.mode == Mode::Label => self.mode = Mode::Text,
            b"strong" => {
                if let Some(text) = self.header.take()
                    && collapse_whitespace(&text).to_uppercase().starts_with(SCHEDULED_EVENT_MARKER)
                {
                    self.read.scheduled_header = true;
                }
            }
            b"p" => self.paragraph_fresh = false,
            _ => {}
        }
    }

    fn text(&mut self, s: &str) {
        let visible = s.chars().any(|c| !c.is_whitespace());
        if visible {
            self.paragraph_fresh = false;
        }
        if let Some(h) = self.header.as_mut() {
            h.push_str(s);
            return;
        }
        let Some(d) = self.draft.as_mut() else { return };
        match self.mode {
            Mode::Stamp => d.stamp.push_str(s),
            Mode::Label => d.label.push_str(s),
            // Text before any `<strong>`: an update without a state label.
            Mode::AfterStamp if visible => {
                self.mode = Mode::Text;
                d.text.push_str(s);
            }
            // Bytes, not chars: a cheap bound; `clean_text` cuts exactly.
            Mode::Text if d.text.len() < MAX_TEXT_CHARS * 8 => d.text.push_str(s),
            Mode::AfterStamp | Mode::Text | Mode::Outside => {}
        }
    }

    /// The update being collected, if any, joins the list (up to [`MAX_UPDATES_PER_ENTRY`]).
    fn finish_draft(&mut self) {
        if let Some(d) = self.draft.take()
            && self.read.updates.len() < MAX_UPDATES_PER_ENTRY
        {
            self.read.updates.push(finish_update(d, self.reference));
        }
    }
}

fn finish_update(d: Draft, reference: Option<DateTime<Utc>>) -> Update {
    let label = collapse_whitespace(&d.label);
    let text = clean_text(&d.text);
    Update {
        at: parse_stamp(&collapse_whitespace(&d.stamp), reference),
        state: IncidentState::from_label(&label),
        label,
        text,
    }
}

/// Whitespace runs (including no-break spaces) as one space, trimmed.
pub(super) fn collapse_whitespace(s: &str) -> String {
    s.split_whitespace().collect::<Vec<_>>().join(" ")
}

/// The update text: the ` - ` after the state dropped, each line's whitespace collapsed, blank
/// line runs kept to one, capped in length.
fn clean_text(raw: &str) -> String {
    let mut lines: Vec<String> = Vec::new();
    for line in raw.split('\n') {
        let line = collapse_whitespace(line);
        if line.is_empty() && lines.last().is_none_or(std::string::String::is_empty) {
            continue;
        }
        lines.push(line);
    }
    while lines.last().is_some_and(std::string::String::is_empty) {
        lines.pop();
    }
    let mut text = lines.join("\n");
    if let Some(rest) = text.strip_prefix('-') {
        text = rest.trim_start().to_owned();
    }
    truncate(&text, MAX_TEXT_CHARS).into_owned()
}
