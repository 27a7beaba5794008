//! The feed reader on the real Statuspage feeds in `tests/fixtures/statuspage/` (verbatim
//! copies; see SOURCES.md there). Every expectation was read off the files by hand: the tables
//! list each entry's incident code, kind, newest state and number of updates in feed order.

use chrono::{DateTime, Utc};

use super::*;

const DIGITALOCEAN: &[u8] = include_bytes!("../../../tests/fixtures/statuspage/digitalocean-history.rss");
const MOONPAY: &[u8] = include_bytes!("../../../tests/fixtures/statuspage/moonpay-history.rss");
const PARSE: &[u8] = include_bytes!("../../../tests/fixtures/statuspage/parse-history.rss");
const GITHUB_2023: &[u8] = include_bytes!("../../../tests/fixtures/statuspage/githubstatus-history-2023-02-08.atom");
const GITHUB_2026: &[u8] = include_bytes!("../../../tests/fixtures/statuspage/githubstatus-history-2026-07-09.atom");

fn at(s: &str) -> DateTime<Utc> {
    DateTime::parse_from_rfc3339(s).unwrap().with_timezone(&Utc)
}

fn ids<'a>(it: impl Iterator<Item = &'a Incident>) -> Vec<&'a str> {
    it.map(|i| i.id.as_str()).collect()
}

/// Checks the whole table, then returns the feed for further checks.
fn check_table(body: &[u8], table: &[(&str, EntryKind, IncidentState, usize)]) -> Feed {
    let feed = parse(body).expect("fixture parses");
    let got: Vec<(&str, EntryKind, IncidentState, usize)> =
        feed.incidents.iter().map(|i| (i.id.as_str(), i.kind, i.state, i.updates.len())).collect();
    assert_eq!(got, table);
    for incident in &feed.incidents {
        assert!(!incident.title.is_empty() && incident.title != "(untitled)", "{incident:?}");
        let link = incident.link.as_deref().expect("every fixture entry has a link");
        assert!(link.ends_with(&format!("/incidents/{}", incident.id)), "{link}");
        for update in &incident.updates {
            assert_ne!(update.state, IncidentState::Unknown, "every fixture state is known: {update:?}");
            assert!(update.at.is_some(), "every fixture stamp is readable: {update:?}");
            assert!(!update.text.is_empty(), "{update:?}");
        }
    }
    feed
}

/// `digitalocean-history.rss`, entry by entry: (id, kind, newest state, number of updates).
const DIGITALOCEAN_TABLE: &[(&str, EntryKind, IncidentState, usize)] = &[
    ("x0xytvsvky35", EntryKind::Maintenance, IncidentState::InProgress, 2),
    ("3vhcly1y2kgz", EntryKind::Incident, IncidentState::Resolved, 3),
    ("ch277cwcm5sm", EntryKind::Incident, IncidentState::Resolved, 2),
    ("qz40dp1qcs1d", EntryKind::Maintenance, IncidentState::Completed, 3),
    ("2yyk6j58xcxh", EntryKind::Maintenance, IncidentState::Completed, 4),
    ("yp7b8jv4wbjg", EntryKind::Incident, IncidentState::Resolved, 4),
    ("3hb5bwdtxbcc", EntryKind::Incident, IncidentState::Resolved, 2),
    ("sjgrc3h2ktx7", EntryKind::Maintenance, IncidentState::Completed, 3),
    ("tp6yg4h8bfp5", EntryKind::Incident, IncidentState::Resolved, 4),
    ("z8q9mhry7lb4", EntryKind::Incident, IncidentState::Resolved, 4),
    ("t9w8x953n4sd", EntryKind::Incident, IncidentState::Resolved, 4),
    ("byv1hqyr2pb0", EntryKind::Incident, IncidentState::Resolved, 3),
    ("d0glfj89j57y", EntryKind::Incident, IncidentState::Resolved, 4),
    ("z8tp0f9sq047", EntryKind::Incident, IncidentState::Resolved, 2),
    ("qv291p2grwc3", EntryKind::Maintenance, IncidentState::Completed, 3),
    ("qmfcw6b0wpx3", EntryKind::Incident, IncidentState::Resolved, 3),
    ("b939ctcc4yh2", EntryKind::Incident, IncidentState::Resolved, 9),
    ("1gvtdg42r9g4", EntryKind::Incident, IncidentState::Resolved, 3),
    ("2c4jf9nzhxf5", EntryKind::Incident, IncidentState::Resolved, 6),
    ("m6hgmpr20lb0", EntryKind::Incident, IncidentState::Resolved, 1),
    ("4pb1zr8rbpv5", EntryKind::Incident, IncidentState::Resolved, 3),
    ("f4gl1lp3l7zw", EntryKind::Maintenance, IncidentState::Completed, 3),
    ("t3yf6w3z44lc", EntryKind::Incident, IncidentState::Resolved, 3),
    ("vgz86hm2lxgx", EntryKind::Incident, IncidentState::Resolved, 1),
    ("m1f204zrp44m", EntryKind::Incident, IncidentState::Resolved, 4),
];

/// `moonpay-history.rss`, entry by entry: (id, kind, newest state, number of updates).
const MOONPAY_TABLE: &[(&str, EntryKind, IncidentState, usize)] = &[
    ("xq1zm66g7klp", EntryKind::Incident, IncidentState::Resolved, 3),
    ("phfrj9h2hbmt", EntryKind::Incident, IncidentState::Resolved, 3),
    ("y2vmbrp74lrr", EntryKind::Incident, IncidentState::Resolved, 5),
    ("fkmbcyw9pl58", EntryKind::Incident, IncidentState::Resolved, 2),
    ("m0bnjqxqsxvz", EntryKind::Incident, IncidentState::Resolved, 2),
    ("mhqm25ty4g37", EntryKind::Incident, IncidentState::Resolved, 2),
    ("kdfn2s8vf683", EntryKind::Incident, IncidentState::Resolved, 2),
    ("5xj4vwsjxjlh", EntryKind::Incident, IncidentState::Resolved, 3),
    ("520p0s430wrk", EntryKind::Incident, IncidentState::Resolved, 3),
    ("wgjvxc02rvp1", EntryKind::Incident, IncidentState::Resolved, 3),
    ("sjt9g51nhm8d", EntryKind::Incident, IncidentState::Resolved, 4),
    ("0rprw0nlkf37", EntryKind::Incident, IncidentState::Resolved, 2),
    ("xbfpfff83pxt", EntryKind::Maintenance, IncidentState::Completed, 3),
    ("1t1b61fr22kp", EntryKind::Incident, IncidentState::Resolved, 2),
    ("t8846zmxm3xs", EntryKind::Maintenance, IncidentState::Completed, 3),
    ("0q99yw999x49", EntryKind::Maintenance, IncidentState::Completed, 3),
    ("634h52tmhkzs", EntryKind::Incident, IncidentState::Resolved, 2),
    ("wjrf3wcjj9vy", EntryKind::Incident, IncidentState::Resolved, 2),
    ("spqtp7nrgt20", EntryKind::Incident, IncidentState::Resolved, 2),
    ("21zj6vqq5rr8", EntryKind::Incident, IncidentState::Resolved, 4),
    ("sk0c7cv8d412", EntryKind::Incident, IncidentState::Resolved, 3),
    ("zhj7g5q175wc", EntryKind::Incident, IncidentState::Resolved, 3),
    ("n7rp6rxljr1m", EntryKind::Incident, IncidentState::Resolved, 2),
    ("1cswgp463wmw", EntryKind::Incident, IncidentState::Resolved, 2),
    ("jsl3fys2pkfg", EntryKind::Incident, IncidentState::Resolved, 4),
];

/// `parse-history.rss`, entry by entry: (id, kind, newest state, number of updates).
const PARSE_TABLE: &[(&str, EntryKind, IncidentState, usize)] = &[
    ("lzf7mjchpy20", EntryKind::Incident, IncidentState::Resolved, 3),
    ("x7yb1mmd4721", EntryKind::Incident, IncidentState::Resolved, 3),
    ("hss47d2yk45f", EntryKind::Incident, IncidentState::Resolved, 2),
    ("p9hy357zjvb3", EntryKind::Incident, IncidentState::Postmortem, 3),
    ("q9dns8zcgptk", EntryKind::Incident, IncidentState::Resolved, 1),
    ("3znvknxmk10z", EntryKind::Incident, IncidentState::Resolved, 1),
    ("gtdv7rgyn76g", EntryKind::Incident, IncidentState::Resolved, 2),
    ("8r3c6x51cvss", EntryKind::Incident, IncidentState::Resolved, 2),
    ("hp2xf2v7f8g8", EntryKind::Incident, IncidentState::Resolved, 3),
    ("g3g2fpyvk65j", EntryKind::Incident, IncidentState::Resolved, 3),
    ("5rkdt77rn90b", EntryKind::Incident, IncidentState::Resolved, 2),
    ("49361mvl9p78", EntryKind::Incident, IncidentState::Resolved, 2),
    ("xlqmpvm0v6d4", EntryKind::Incident, IncidentState::Resolved, 3),
    ("jpt6slzfdvjv", EntryKind::Incident, IncidentState::Resolved, 2),
    ("ctfv4ldyy165", EntryKind::Incident, IncidentState::Resolved, 3),
    ("gwywvz2n85bj", EntryKind::Incident, IncidentState::Resolved, 1),
    ("hjvc79kb47c4", EntryKind::Incident, IncidentState::Resolved, 2),
];

/// `githubstatus-history-2023-02-08.atom`, entry by entry: (id, kind, newest state, number of updates).
const GITHUB_2023_TABLE: &[(&str, EntryKind, IncidentState, usize)] = &[
    ("53t2nlxs8016", EntryKind::Maintenance, IncidentState::Update, 2),
    ("cmsz976yn1km", EntryKind::Incident, IncidentState::Update, 13),
    ("wy9lzdg3ycxn", EntryKind::Incident, IncidentState::Resolved, 3),
    ("ygpk8m60shzm", EntryKind::Incident, IncidentState::Resolved, 3),
    ("cvhhm9zxcr49", EntryKind::Incident, IncidentState::Resolved, 4),
    ("dyt4c3n4bqc2", EntryKind::Incident, IncidentState::Resolved, 3),
    ("ll8gxx3svld7", EntryKind::Incident, IncidentState::Resolved, 3),
    ("1cdsggtd2q5k", EntryKind::Incident, IncidentState::Resolved, 3),
    ("dg18mmgm4v3n", EntryKind::Incident, IncidentState::Resolved, 2),
    ("zxl9k08m9xwf", EntryKind::Incident, IncidentState::Resolved, 13),
    ("zf2tk6x40gmh", EntryKind::Incident, IncidentState::Resolved, 5),
    ("d1l8lxw26y8k", EntryKind::Incident, IncidentState::Resolved, 9),
    ("96qcsn6qsl7w", EntryKind::Incident, IncidentState::Resolved, 3),
    ("mxq7707n6gcf", EntryKind::Incident, IncidentState::Resolved, 5),
    ("gbtkj97xtb9n", EntryKind::Incident, IncidentState::Resolved, 2),
    ("4hzj8r2jm0mn", EntryKind::Incident, IncidentState::Resolved, 3),
    ("9c941kssjk0q", EntryKind::Incident, IncidentState::Resolved, 6),
    ("n18j5g7wpg0s", EntryKind::Incident, IncidentState::Resolved, 11),
    ("z2j6pjg527p6", EntryKind::Incident, IncidentState::Resolved, 3),
    ("tyk95n0z3pql", EntryKind::Incident, IncidentState::Resolved, 4),
    ("f3kthhhjt9ss", EntryKind::Incident, IncidentState::Resolved, 3),
    ("hzgtxb033mym", EntryKind::Incident, IncidentState::Resolved, 3),
    ("n6wxc7xwrk1z", EntryKind::Incident, IncidentState::Resolved, 3),
    ("00km0kwpz23b", EntryKind::Incident, IncidentState::Resolved, 4),
    ("ffwkvn9j77d1", EntryKind::Incident, IncidentState::Resolved, 3),
];

/// `githubstatus-history-2026-07-09.atom`, entry by entry: (id, kind, newest state, number of updates).
const GITHUB_2026_TABLE: &[(&str, EntryKind, IncidentState, usize)] = &[
    ("cstx3v63mklm", EntryKind::Incident, IncidentState::Update, 3),
    ("fz9sdc2q008p", EntryKind::Incident, IncidentState::Resolved, 9),
    ("5bnwwg9tzd4q", EntryKind::Incident, IncidentState::Resolved, 4),
    ("rl7f90w0n0gq", EntryKind::Incident, IncidentState::Resolved, 6),
    ("mc4yx9f8x1hk", EntryKind::Incident, IncidentState::Resolved, 2),
    ("0rkjjs2ssp7z", EntryKind::Incident, IncidentState::Resolved, 5),
    ("v0b3bpsyvqtk", EntryKind::Incident, IncidentState::Resolved, 6),
    ("9ndxtnrwjf37", EntryKind::Incident, IncidentState::Resolved, 6),
    ("9n670kvk0vw9", EntryKind::Incident, IncidentState::Resolved, 4),
    ("5t81zk0vrk3z", EntryKind::Incident, IncidentState::Resolved, 5),
    ("kn7gv3tlfc54", EntryKind::Incident, IncidentState::Resolved, 1),
    ("rfmjwng33vjf", EntryKind::Incident, IncidentState::Resolved, 5),
    ("1s444p9sf9wg", EntryKind::Incident, IncidentState::Resolved, 5),
    ("d9b4dsg8d0r6", EntryKind::Incident, IncidentState::Resolved, 4),
    ("67w72l5v25x3", EntryKind::Incident, IncidentState::Resolved, 4),
    ("4yz3c18qmdxn", EntryKind::Incident, IncidentState::Resolved, 5),
    ("fcj3088jg1wx", EntryKind::Incident, IncidentState::Resolved, 10),
    ("jpd6l1jq0r54", EntryKind::Incident, IncidentState::Resolved, 1),
    ("71hv2q6tk693", EntryKind::Incident, IncidentState::Resolved, 4),
    ("m7n7sm0sr1pz", EntryKind::Incident, IncidentState::Resolved, 8),
    ("4843jm0lsls6", EntryKind::Incident, IncidentState::Resolved, 5),
    ("b0plzff6yl6f", EntryKind::Incident, IncidentState::Resolved, 3),
    ("2nmfnbknhlnv", EntryKind::Incident, IncidentState::Resolved, 8),
    ("5h5lmbffp07c", EntryKind::Incident, IncidentState::Resolved, 9),
    ("tf25qs8wdw5h", EntryKind::Incident, IncidentState::Resolved, 9),
];

#[test]
fn digitalocean_one_maintenance_in_progress_and_nothing_else_active() {
    let feed = check_table(DIGITALOCEAN, DIGITALOCEAN_TABLE);
    assert_eq!(ids(feed.active_incidents()), Vec::<&str>::new());
    assert_eq!(ids(feed.active_maintenances()), ["x0xytvsvky35"]);
    assert_eq!(ids(feed.upcoming_maintenances()), Vec::<&str>::new());
    let first = &feed.incidents[0];
    assert_eq!(first.title, "AMS3 Region Network Maintenance");
    assert_eq!(first.phase, Lifecycle::Active);
    assert_eq!(first.updates[0].label, "In progress");
    assert_eq!(first.updates[0].at, Some(at("2020-01-21T21:00:00Z")));
    assert_eq!(first.updates[1].state, IncidentState::Scheduled);
    assert_eq!(first.updates[1].at, Some(at("2020-01-21T20:59:00Z")));
    assert_eq!(
        first.updates[0].text,
        "Scheduled maintenance is currently in progress. We will provide updates as necessary."
    );
    // The Verifying step of a completed maintenance is history, not a state.
    let email = feed.incidents.iter().find(|i| i.id == "2yyk6j58xcxh").unwrap();
    let states: Vec<IncidentState> = email.updates.iter().map(|u| u.state).collect();
    assert_eq!(
        states,
        [IncidentState::Completed, IncidentState::Verifying, IncidentState::InProgress, IncidentState::Scheduled]
    );
    assert_eq!(email.phase, Lifecycle::Ended);
    // Multi-paragraph text keeps its breaks, and &apos; is decoded.
    assert!(
        first.updates[1].text.contains("AMS3 location.\n\nExpected Impact:\n\nThere may be"),
        "{:?}",
        first.updates[1].text
    );
    assert_eq!(feed.newest_update(), Some(at("2020-01-21T21:00:00Z")));
}

#[test]
fn moonpay_everything_resolved_or_completed() {
    let feed = check_table(MOONPAY, MOONPAY_TABLE);
    assert_eq!(ids(feed.active_incidents()), Vec::<&str>::new());
    assert_eq!(ids(feed.active_maintenances()), Vec::<&str>::new());
    assert_eq!(ids(feed.upcoming_maintenances()), Vec::<&str>::new());
    assert!(feed.incidents.iter().all(|i| i.phase == Lifecycle::Ended));
    // An `Update` whose text begins "Resolved - " is an update, not a resolution.
    let portal = feed.incidents.iter().find(|i| i.id == "phfrj9h2hbmt").unwrap();
    assert_eq!(portal.updates[1].state, IncidentState::Update);
    assert_eq!(portal.updates[1].text, "Resolved - All systems are operating normally.");
    assert_eq!(portal.updates[1].at, Some(at("2025-11-19T18:35:00Z")));
    // The ampersand in the title is decoded once.
    assert_eq!(feed.incidents[8].title, "Notification & deep-link issues");
    assert_eq!(feed.newest_update(), Some(at("2025-11-21T05:07:00Z")));
}

#[test]
fn parse_old_layout_pacific_time_and_postmortem_above_resolved() {
    let feed = check_table(PARSE, PARSE_TABLE);
    assert_eq!(ids(feed.active_incidents()), Vec::<&str>::new());
    assert_eq!(ids(feed.active_maintenances()), Vec::<&str>::new());
    let first = &feed.incidents[0];
    // `Jan  1, 09:09 PST`: no <var>, two spaces, the page's own zone.
    assert_eq!(first.updates[0].at, Some(at("2014-01-01T17:09:00Z")));
    assert_eq!(first.updates[2].at, Some(at("2014-01-01T16:17:00Z")));
    let postmortem = feed.incidents.iter().find(|i| i.id == "p9hy357zjvb3").unwrap();
    assert_eq!(postmortem.title, "Elevated error rates and latency");
    assert_eq!(postmortem.state, IncidentState::Postmortem);
    assert_eq!(postmortem.phase, Lifecycle::Ended);
    let states: Vec<IncidentState> = postmortem.updates.iter().map(|u| u.state).collect();
    assert_eq!(states, [IncidentState::Postmortem, IncidentState::Resolved, IncidentState::Investigating]);
    // Posted two days after the entry's pubDate (Dec 24), in PST.
    assert_eq!(postmortem.updates[0].at, Some(at("2013-12-26T18:22:00Z")));
    assert!(postmortem.updates[0].text.starts_with("# Summary of the December 24 Parse Service Disruption\n"));
    let analytics = feed.incidents.iter().find(|i| i.id == "x7yb1mmd4721").unwrap();
    assert!(analytics.updates[1].text.contains("We're working to restore"), "{:?}", analytics.updates[1].text);
    assert_eq!(feed.newest_update(), Some(at("2014-01-01T17:09:00Z")));
}

#[test]
fn github_2023_one_unresolved_update_and_one_upcoming_maintenance() {
    let feed = check_table(GITHUB_2023, GITHUB_2023_TABLE);
    assert_eq!(ids(feed.active_incidents()), ["cmsz976yn1km"]);
    assert_eq!(ids(feed.active_maintenances()), Vec::<&str>::new());
    assert_eq!(ids(feed.upcoming_maintenances()), ["53t2nlxs8016"]);

    let maintenance = &feed.incidents[0];
    assert_eq!(maintenance.title, "Planned maintenance on GitHub Package Registry");
    assert_eq!(maintenance.kind, EntryKind::Maintenance);
    // Its newest update is an `Update` under `Scheduled`: still upcoming.
    assert_eq!(maintenance.state, IncidentState::Update);
    assert_eq!(maintenance.phase, Lifecycle::Upcoming);
    // `published` is the window's start and lies after `updated`.
    assert_eq!(maintenance.published, Some(at("2023-02-08T22:00:00Z")));
    assert_eq!(maintenance.updated, Some(at("2023-02-07T11:52:40Z")));
    assert_eq!(maintenance.updates[0].at, Some(at("2023-02-07T11:52:00Z")));
    assert_eq!(maintenance.updates[1].at, Some(at("2023-02-07T10:08:00Z")));
    assert_eq!(maintenance.last_activity(), Some(at("2023-02-07T11:52:00Z")));
    assert!(maintenance.updates[0].text.starts_with("Due to planned maintenance"), "{:?}", maintenance.updates[0].text);

    let codespaces = &feed.incidents[1];
    assert_eq!(codespaces.title, "Incident with Codespaces");
    assert_eq!(codespaces.link.as_deref(), Some("https://www.githubstatus.com/incidents/cmsz976yn1km"));
    assert_eq!(codespaces.phase, Lifecycle::Active);
    assert_eq!(codespaces.updates[12].state, IncidentState::Investigating);
    assert_eq!(codespaces.updates[0].at, Some(at("2023-02-08T03:55:00Z")));
    assert_eq!(feed.newest_update(), Some(at("2023-02-08T03:55:00Z")));
}

#[test]
fn github_2026_whitespace_layout_and_a_maintenance_titled_incident() {
    let feed = check_table(GITHUB_2026, GITHUB_2026_TABLE);
    assert_eq!(ids(feed.active_incidents()), ["cstx3v63mklm"]);
    assert_eq!(ids(feed.active_maintenances()), Vec::<&str>::new());
    assert_eq!(ids(feed.upcoming_maintenances()), Vec::<&str>::new());
    let first = &feed.incidents[0];
    assert_eq!(first.title, "Delays starting Actions runs");
    let states: Vec<IncidentState> = first.updates.iter().map(|u| u.state).collect();
    assert_eq!(states, [IncidentState::Update, IncidentState::Update, IncidentState::Investigating]);
    assert_eq!(first.updates[0].at, Some(at("2026-07-09T06:01:00Z")));
    assert_eq!(first.updates[0].text, "We are continuing to work on a mitigation.");
    assert_eq!(first.updates[2].text, "We are investigating reports of degraded performance for Actions");
    let eu = feed.incidents.iter().find(|i| i.id == "4843jm0lsls6").unwrap();
    assert_eq!(eu.title, "EU Network Maintenance");
    assert_eq!((eu.kind, eu.state, eu.phase), (EntryKind::Incident, IncidentState::Resolved, Lifecycle::Ended));
    assert_eq!(feed.newest_update(), Some(at("2026-07-09T06:01:00Z")));
}

#[test]
fn state_labels_are_read_loosely_and_unknown_is_kept() {
    assert_eq!(IncidentState::from_label("In progress"), IncidentState::InProgress);
    assert_eq!(IncidentState::from_label("  in\u{a0}PROGRESS "), IncidentState::InProgress);
    assert_eq!(IncidentState::from_label("in_progress"), IncidentState::InProgress);
    assert_eq!(IncidentState::from_label("Postmortem"), IncidentState::Postmortem);
    assert_eq!(IncidentState::from_label("Mitigated"), IncidentState::Unknown);
    assert_eq!(IncidentState::from_label(""), IncidentState::Unknown);
    for state in IncidentState::ALL {
        assert_eq!(IncidentState::from_label(state.as_str()), state);
    }
}

fn entry_html(html: &str) -> Feed {
    let xml = format!(
        "<?xml version=\"1.0\"?><feed xmlns=\"http://www.w3.org/2005/Atom\"><id>x</id><title>t</title>\
         <updated>2024-03-01T00:00:00Z</updated><entry><id>tag:x,2005:Incident/1</id>\
         <updated>2024-03-01T00:00:00Z</updated><link rel=\"alternate\" href=\"https://s.example/incidents/abc\"/>\
         <title>T</title><content type=\"html\">{}</content></entry></feed>",
        html.replace('&', "&amp;").replace('<', "&lt;").replace('>', "&gt;")
    );
    parse(xml.as_bytes()).unwrap()
}

#[test]
fn unknown_and_update_states_keep_the_phase_before_them() {
    let p = |s: &str| format!("<p><small>Feb 29, 10:00 UTC</small><br><strong>{s}</strong> - x</p>");
    let feed = entry_html(&format!("{}{}", p("Mitigated"), p("Investigating")));
    let i = &feed.incidents[0];
    assert_eq!((i.state, i.phase), (IncidentState::Unknown, Lifecycle::Active));
    assert_eq!(i.updates[0].label, "Mitigated");
    assert_eq!(i.updates[0].at, Some(at("2024-02-29T10:00:00Z")));
    // An update posted to a resolved incident does not reopen it.
    let feed = entry_html(&format!("{}{}", p("Update"), p("Resolved")));
    assert_eq!((feed.incidents[0].state, feed.incidents[0].phase), (IncidentState::Update, Lifecycle::Ended));
    // Only unknown labels: nothing to go by, not active.
    let feed = entry_html(&p("Something new"));
    assert_eq!((feed.incidents[0].kind, feed.incidents[0].phase), (EntryKind::Incident, Lifecycle::Unknown));
    // No updates at all.
    let feed = entry_html("<p>Just text</p>");
    assert_eq!(
        (feed.incidents[0].state, feed.incidents[0].phase, feed.incidents[0].updates.len()),
        (IncidentState::Unknown, Lifecycle::Unknown, 0)
    );
}

#[test]
fn odd_html_is_read_without_panicking() {
    // Unclosed tags, stray strong in the text, a small that does not open its paragraph,
    // entities, and a missing state label.
    let feed = entry_html(
        "<p><small>Feb 1, 10:00 UTC</small><br><strong>Identified</strong> - <strong>Bold</strong> \
         and <small>tiny</small> &amp; &lt;b&gt; &#x2014; &nbsp;done<p><small>Jan 31, 23:59 UTC</small> no label here\
         <p><small>garbage</small><br><strong>Investigating",
    );
    let i = &feed.incidents[0];
    let states: Vec<IncidentState> = i.updates.iter().map(|u| u.state).collect();
    assert_eq!(states, [IncidentState::Identified, IncidentState::Unknown, IncidentState::Investigating]);
    assert_eq!(i.updates[0].text, "Bold and tiny & <b> \u{2014} done");
    assert_eq!(i.updates[1].text, "no label here");
    assert_eq!(i.updates[1].at, Some(at("2024-01-31T23:59:00Z")));
    assert_eq!(i.updates[2].at, None);
    assert_eq!(i.phase, Lifecycle::Active);
}

#[test]
fn stamps_in_other_shapes_and_zones() {
    let r = Some(at("2024-01-03T00:00:00Z"));
    assert_eq!(parse_stamp("Jan 2, 09:00 PST", r), Some(at("2024-01-02T17:00:00Z")));
    // December stamps of a January entry belong to the year before.
    assert_eq!(parse_stamp("Dec 31, 23:00 UTC", r), Some(at("2023-12-31T23:00:00Z")));
    assert_eq!(parse_stamp("Dec 29, 2013 - 12:20 PST", r), Some(at("2013-12-29T20:20:00Z")));
    assert_eq!(parse_stamp("January 2, 3:05 PM CEST", r), Some(at("2024-01-02T13:05:00Z")));
    assert_eq!(parse_stamp("Jan 2, 12:05am +0530", r), Some(at("2024-01-01T18:35:00Z")));
    assert_eq!(parse_stamp("Jan 2, 09:00 IST", r), None, "ambiguous zone");
    assert_eq!(parse_stamp("Jan 2, 09:00 UTC", None), None, "no year to go by");
    assert_eq!(parse_stamp("Jul 2, 09:00 UTC", r), Some(at("2024-07-02T09:00:00Z")), "the nearer year");
    assert_eq!(parse_stamp("Feb 30, 09:00 UTC", r), None);
    assert_eq!(parse_stamp("Feb 3, 25:00 UTC", r), None);
    assert_eq!(parse_stamp("", r), None);
    assert_eq!(parse_stamp("Febxyz 3, 10:00 UTC", r), None);
}

#[test]
fn broken_bodies_are_errors_not_panics() {
    let full = GITHUB_2026;
    for cut in [0, 10, full.len() / 3, full.len() / 2, full.len() - 10] {
        assert!(parse(&full[..cut]).is_err(), "cut at {cut} must not parse");
    }
    assert!(parse(b"<html><body>Service Unavailable</body></html>").is_err());
    assert!(parse(b"{\"json\": true}").is_err());
    assert!(parse(&[0xff, 0xfe, 0x00, 0x3c]).is_err());
}

/// Seeded garbage: the real entries' HTML cut, spliced and sprinkled with markup, and whole
/// feeds with bytes flipped. Nothing may panic; whatever comes back stays within the caps.
#[test]
fn garbage_never_panics() {
    let mut rng = fastrand::Rng::with_seed(0x5747_4154_5553);
    let feed = parse(GITHUB_2023).unwrap();
    let html: Vec<String> = [DIGITALOCEAN, PARSE, GITHUB_2026]
        .iter()
        .flat_map(|f| parse(f).unwrap().incidents)
        .chain(feed.incidents)
        .flat_map(|i| {
            i.updates
                .into_iter()
                .map(|u| format!("<p><small>x</small><br><strong>{}</strong> - {}</p>", u.label, u.text))
        })
        .collect();
    let sprinkles = [
        "<p>",
        "</p>",
        "<small>",
        "</small>",
        "<strong>",
        "</strong>",
        "<br>",
        "<br/>",
        "&",
        "&amp",
        "&#x110000;",
        "<",
        ">",
        "<!--",
        "\u{0}",
        "<var>",
        "THIS IS A SCHEDULED EVENT",
    ];
    for _ in 0..3000 {
        let mut soup = String::new();
        for _ in 0..rng.usize(1..6) {
            let piece = &html[rng.usize(..html.len())];
            let mut cut = rng.usize(..=piece.len());
            while !piece.is_char_boundary(cut) {
                cut -= 1;
            }
            soup.push_str(if rng.bool() { &piece[..cut] } else { &piece[cut..] });
            soup.push_str(sprinkles[rng.usize(..sprinkles.len())]);
        }
        let body = read_updates(&soup, Some(at("2024-03-01T00:00:00Z")));
        assert!(body.updates.len() <= MAX_UPDATES_PER_ENTRY);
        for u in &body.updates {
            assert!(u.text.chars().count() <= MAX_TEXT_CHARS);
        }
    }
    for _ in 0..20 {
        let mut bytes = GITHUB_2026.to_vec();
        for _ in 0..rng.usize(1..50) {
            let i = rng.usize(..bytes.len());
            bytes[i] = *b"<>&;/\"' x\n"[..].get(rng.usize(..10)).unwrap();
        }
        if let Ok(feed) = parse(&bytes) {
            assert!(feed.incidents.len() <= MAX_ENTRIES);
        }
    }
}

#[test]
fn entry_and_update_counts_are_capped() {
    let update = "<p><small>Mar 1, 10:00 UTC</small><br><strong>Update</strong> - x</p>";
    let feed = entry_html(&update.repeat(MAX_UPDATES_PER_ENTRY + 50));
    assert_eq!(feed.incidents[0].updates.len(), MAX_UPDATES_PER_ENTRY);
    let long = format!("<p><small>Mar 1, 10:00 UTC</small><br><strong>Update</strong> - {}</p>", "word ".repeat(5000));
    let text = &entry_html(&long).incidents[0].updates[0].text;
    assert_eq!(text.chars().count(), MAX_TEXT_CHARS);
    assert!(text.ends_with('…'));
}
