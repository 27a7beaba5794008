//! Validation of the event format: every field's rules, batches, and the wording of errors.

use std::borrow::Cow;

use super::*;
use crate::classify::ErrorClass;

fn ok(body: &str) -> Vec<Event<'_>> {
    match parse(body.as_bytes(), 1000) {
        Ok(events) => events.as_slice().to_vec(),
        Err(r) => panic!("{body} refused: {}", r.error),
    }
}

fn refused(body: &str) -> Rejected {
    match parse(body.as_bytes(), 3) {
        Ok(events) => panic!("{body} accepted: {events:?}"),
        Err(r) => r,
    }
}

#[test]
fn a_single_event_with_every_field() {
    let events = ok(r#"{"service":"checkout-api","outcome":"retry","class":"overloaded","status":529,
        "attempts":2,"model":"claude-sonnet-4-5","count":7}"#);
    assert_eq!(
        events,
        [Event {
            service: "checkout-api".into(),
            outcome: Outcome::Retry,
            class: Some(ErrorClass::Overloaded),
            status: Some(529),
            attempts: Some(2),
            model: Some("claude-sonnet-4-5".into()),
            count: 7,
        }]
    );
    assert!(matches!(events[0].service, Cow::Borrowed(_)), "strings borrow from the body");
}

#[test]
fn minimal_events_and_defaults() {
    let events = ok(r#"{"service":"a","outcome":"success"}"#);
    assert_eq!((events[0].class, events[0].count, events[0].model.as_deref()), (None, 1, None));
    // Success may name a class, `ok` included; null means absent.
    let events = ok(r#"{"service":"a","outcome":"success","class":"ok","status":null,"model":null}"#);
    assert_eq!((events[0].class, events[0].status), (Some(ErrorClass::Ok), None));
    for outcome in ["retry", "exhausted", "failure"] {
        let body = format!(r#"{{"service":"svc.a:b_c-1","outcome":"{outcome}","class":"rate_limited"}}"#);
        assert_eq!(parse(body.as_bytes(), 10).unwrap().len(), 1, "{body}");
    }
    // An escaped string is still a valid name once unescaped.
    assert_eq!(ok(r#"{"service":"\u0061pi","outcome":"success"}"#)[0].service, "api");
}

#[test]
fn batches_and_their_limits() {
    let events =
        ok(r#"{"events":[{"service":"a","outcome":"success"},{"service":"b","outcome":"retry","class":"timeout"}]}"#);
    assert_eq!(events.len(), 2);
    assert_eq!(events[1].class, Some(ErrorClass::Timeout));
    assert!(ok(r#"{"events":[]}"#).is_empty());

    let four = r#"{"events":[{"service":"a","outcome":"success"},{"service":"a","outcome":"success"},
        {"service":"a","outcome":"success"},{"service":"a","outcome":"success"}]}"#;
    let r = refused(four);
    assert_eq!(r.error.to_string(), "events: holds more than 3 events (the configured max_batch); split the batch");
    assert_eq!(r.events, 4);
}

/// Each invalid body with the exact message it gets.
#[test]
fn every_invalid_field_is_named_with_what_is_wrong() {
    let classes = "overloaded, connection, rate_limited, server_error, timeout, client_error, auth, unexpected";
    let table: &[(&str, &str)] = &[
        (r#"{"outcome":"success"}"#, "service: is required: 1–64 characters of A-Za-z0-9_.:-"),
        (r#"{"service":"","outcome":"success"}"#, r#"service: must be 1–64 characters of A-Za-z0-9_.:-; got """#),
        (r#"{"service":"a b","outcome":"success"}"#, r#"service: must be 1–64 characters of A-Za-z0-9_.:-; got "a b""#),
        (r#"{"service":"é","outcome":"success"}"#, r#"service: must be 1–64 characters of A-Za-z0-9_.:-; got "é""#),
        (r#"{"service":42,"outcome":"success"}"#, "service: must be a string, got an integer"),
        (
            r#"{"service":"other","outcome":"success"}"#,
            r#"service: "other" is reserved: it is where services beyond the configured maximum are counted"#,
        ),
        (r#"{"service":"a"}"#, "outcome: is required: one of retry, exhausted, success, failure"),
        (
            r#"{"service":"a","outcome":"retried"}"#,
            r#"outcome: must be one of retry, exhausted, success, failure; got "retried""#,
        ),
        (r#"{"service":"a","outcome":["retry"]}"#, "outcome: must be a string, got an array"),
        (
            r#"{"service":"a","outcome":"retry"}"#,
            &format!(r#"class: is required when outcome is "retry": one of {classes}"#),
        ),
        (
            r#"{"service":"a","outcome":"failure","class":null}"#,
            &format!(r#"class: is required when outcome is "failure": one of {classes}"#),
        ),
        (
            r#"{"service":"a","outcome":"exhausted","class":"ok"}"#,
            &format!(r#"class: "ok" is not a failure class; outcome "exhausted" needs one of {classes}"#),
        ),
        (
            r#"{"service":"a","outcome":"retry","class":"Overloaded"}"#,
            &format!(r#"class: unknown error class "Overloaded"; expected one of {classes}"#),
        ),
        (r#"{"service":"a","outcome":"retry","class":true}"#, "class: must be a string, got a boolean"),
        (
            r#"{"service":"a","outcome":"success","status":99}"#,
            "status: must be an HTTP status code from 100 to 599; got 99",
        ),
        (
            r#"{"service":"a","outcome":"success","status":600}"#,
            "status: must be an HTTP status code from 100 to 599; got 600",
        ),
        (
            r#"{"service":"a","outcome":"success","status":"500"}"#,
            "status: must be an integer from 100 to 599, got a string",
        ),
        (
            r#"{"service":"a","outcome":"success","status":500.5}"#,
            "status: must be an integer from 100 to 599, got a fractional number",
        ),
        (
            r#"{"service":"a","outcome":"success","attempts":0}"#,
            "attempts: must be the number of attempts the call took from 1 to 100; got 0",
        ),
        (
            r#"{"service":"a","outcome":"success","attempts":101}"#,
            "attempts: must be the number of attempts the call took from 1 to 100; got 101",
        ),
        (
            r#"{"service":"a","outcome":"success","attempts":-1}"#,
            "attempts: must be the number of attempts the call took from 1 to 100; got -1",
        ),
        (
            r#"{"service":"a","outcome":"success","count":0}"#,
            "count: must be a count of occurrences from 1 to 1000000; got 0",
        ),
        (
            r#"{"service":"a","outcome":"success","count":1000001}"#,
            "count: must be a count of occurrences from 1 to 1000000; got 1000001",
        ),
        (
            r#"{"service":"a","outcome":"success","count":{}}"#,
            "count: must be an integer from 1 to 1000000, got an object",
        ),
        (
            r#"{"service":"a","outcome":"success","model":""}"#,
            r#"model: must be 1–64 characters of A-Za-z0-9_.:-; got """#,
        ),
        (
            r#"{"service":"a","outcome":"success","model":"m/x"}"#,
            r#"model: must be 1–64 characters of A-Za-z0-9_.:-; got "m/x""#,
        ),
        (
            r#"{"service":"a","outcome":"success","model":"other"}"#,
            r#"model: "other" is reserved: it is where models beyond the configured maximum are counted"#,
        ),
        (
            r#"{"service":"a","outcome":"success","clas":"x"}"#,
            "clas: unknown field; an event has only service, outcome, class, status, attempts, model, count",
        ),
        (r#"{"service":"a","service":"b","outcome":"success"}"#, "service: appears more than once"),
    ];
    for (body, message) in table {
        let r = refused(body);
        assert_eq!(r.error.to_string(), *message, "{body}");
        assert_eq!(r.error.index, None, "{body}");
        assert_eq!(r.events, 1, "{body}");
    }
    let long = format!(r#"{{"service":"{}","outcome":"success"}}"#, "a".repeat(65));
    assert!(refused(&long).error.to_string().starts_with("service: must be 1–64 characters"));
    assert_eq!(ok(&long.replace(&"a".repeat(65), &"a".repeat(64)))[0].service.len(), 64);
}

#[test]
fn a_bad_event_in_a_batch_names_its_index_and_refuses_the_batch() {
    let r = refused(
        r#"{"events":[{"service":"a","outcome":"success"},{"service":"a","outcome":"retry","class":"nope"},
        {"service":"a","outcome":"oops"}]}"#,
    );
    assert_eq!(r.error.index, Some(1));
    assert_eq!(r.error.field.as_deref(), Some("class"));
    assert!(r.error.to_string().starts_with(r#"events[1].class: unknown error class "nope""#), "{}", r.error);
    assert_eq!(r.events, 3, "every element is counted, even after the first error");

    let r = refused(r#"{"events":[{"service":"a","outcome":"success"}, "x"]}"#);
    assert_eq!(r.error.to_string(), "events[1]: must be an event object, got a string");
}

#[test]
fn body_shapes_that_are_not_events() {
    let table: &[(&str, &str)] = &[
        ("", "body is not valid JSON: EOF while parsing a value at line 1 column 0"),
        ("{\"service\":", "body is not valid JSON: EOF while parsing a value at line 1 column 11"),
        ("{} x", "body is not valid JSON: trailing characters at line 1 column 4"),
        (
            "[1]",
            "body is not an event: invalid type: sequence, expected one event object, or {\"events\": [ ... ]} at line 1 column 0",
        ),
        (
            "\"x\"",
            "body is not an event: invalid type: string \"x\", expected one event object, or {\"events\": [ ... ]} at line 1 column 3",
        ),
        (r#"{"events":{}}"#, "events: must be an array of event objects, got an object"),
        (r#"{"events":null}"#, "events: must be an array of event objects, got null"),
        (
            r#"{"events":[],"service":"a"}"#,
            "a batch body holds only \"events\"; found the event field \"service\" beside it (send one event object, or {\"events\": [ ... ]})",
        ),
        (r#"{"events":[],"events":[]}"#, "events: appears more than once"),
    ];
    for (body, message) in table {
        let r = refused(body);
        assert_eq!(r.error.to_string(), *message, "{body}");
    }
    assert_eq!(refused("[1]").events, 0);
}

#[test]
fn deep_nesting_is_skipped_without_recursion() {
    let deep = format!("{}{}", "[".repeat(100_000), "]".repeat(100_000));
    let body = format!(r#"{{"service":"a","outcome":"success","count":{deep}}}"#);
    assert_eq!(refused(&body).error.to_string(), "count: must be an integer from 1 to 1000000, got an array");
    let body = format!(r#"{{"events":[{deep}]}}"#);
    assert_eq!(refused(&body).error.to_string(), "events[0]: must be an event object, got an array");
}

#[test]
fn echoed_input_is_truncated() {
    let body = format!(r#"{{"service":"a","outcome":"{}"}}"#, "x".repeat(10_000));
    let message = refused(&body).error.to_string();
    assert!(message.len() < 200, "{message}");
    assert!(message.ends_with("…\""), "{message}");
}
