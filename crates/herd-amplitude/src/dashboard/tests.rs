//! Tests for the Dashboard REST API edge: query strings → reports (snapshots), the bad-input table with exact
//! bodies, and response shapes (snapshots).

use super::*;
use herd_model::report::Series;
use proptest::prelude::*;

/// 2024-01-01T00:00:00Z.
const JAN_1: i64 = 1_704_067_200_000;
const HOUR: i64 = 3_600_000;

/// Form-encodes a value as Python's `requests` does (`+` for spaces, everything else reserved as `%XX`).
fn encode(s: &str) -> String {
    s.bytes()
        .map(|b| match b {
            b'A'..=b'Z' | b'a'..=b'z' | b'0'..=b'9' | b'-' | b'_' | b'.' | b'~' => (b as char).to_string(),
            b' ' => "+".into(),
            other => format!("%{other:02X}"),
        })
        .collect()
}

fn parse(query: &str) -> Segmentation {
    parse_segmentation(query, "UTC").unwrap_or_else(|e| panic!("{query}: {e}"))
}

#[test]
fn query_strings_to_reports() {
    let python_event = r#"{"event_type": "pageview", "group_by": [{"type": "event", "value": "app"}, {"type": "event", "value": "team"}]}"#;
    let python = format!("e={}&m=uniques&start=20220601&end=20220602&i=1&limit=1000", encode(python_event));
    let doc_event = r#"{"event_type":"CompletedProfile","filters":[{"subprop_type":"event","subprop_key":"EmailVerified","subprop_op":"is","subprop_value":["true"]},{"subprop_type":"user","subprop_key":"gp:SignUpDate","subprop_op":"is","subprop_value":["2021-08-18"]}],"group_by":[{"type":"user","value":"platform"}]}"#;
    let cases: Vec<(&str, String, &str)> = vec![
        ("minimal", r#"e={"event_type":"_active"}&start=20240101&end=20240107"#.into(), "UTC"),
        ("docs_event_format_totals_weekly", format!("e={doc_event}&start=20240101&end=20240131&m=totals&i=7"), "UTC"),
        (
            "curl_raw_json_percent_escapes_two_events_formula",
            r#"e={"event_type":"ce:My%20Custom%20Event"}&e2={"event_type":"_all"}&start=20240101&end=20240102&m=formula&formula=UNIQUES(A)/UNIQUES(B)"#.into(),
            "UTC",
        ),
        ("python_requests_encoded", python, "UTC"),
        (
            "groups_count_group_group_props_current",
            r#"e={"event_type":"Song Played","filters":[{"subprop_type":"group","group_type":"org%20id","subprop_key":"grp:plan","subprop_op":"is","subprop_value":["enterprise"]}],"group_by":[{"type":"group","group_type":"org%20id","value":"$group_value"},{"type":"group","group_type":"org%20id","value":"industry"}]}&start=20240101&end=20240101&countGroup=org%20id&properties=current&m=pct_dau"#.into(),
            "UTC",
        ),
        (
            "group_value_by_omitted_value_and_group_value_filter",
            r#"e={"event_type":"_all","filters":[{"subprop_type":"group","group_type":"org","subprop_key":"$group_value","subprop_op":"is not","subprop_value":["acme"]}],"group_by":[{"type":"group","group_type":"org"}]}&start=20240101&end=20240101&m=average"#.into(),
            "UTC",
        ),
        (
            "sums_property_from_first_group_by",
            r#"e={"event_type":"Purchase","group_by":[{"type":"event","value":"price"},{"type":"user","value":"country"}]}&e2={"event_type":"Refund","group_by":[{"type":"event","value":"price"}]}&start=20240101&end=20240103&m=sums"#.into(),
            "UTC",
        ),
        (
            "value_avg",
            r#"e={"event_type":"Purchase","group_by":[{"type":"event","value":"price"}]}&start=20240101&end=20240103&m=value_avg"#.into(),
            "UTC",
        ),
        (
            "segment_with_user_and_builtin_props_and_g",
            r#"e={"event_type":"_active"}&start=20240101&end=20240103&s=[{"prop":"version","op":"contains","values":["1.0","2.0"]},{"prop":"gp:gender","op":"is","values":["female"]},{"prop":"plan","op":"set is not","values":[null,3,true]}]&g=gp:plan"#.into(),
            "UTC",
        ),
        (
            "two_segments_repeated_s_and_group_g_object",
            r#"e={"event_type":"_active"}&start=20240101&end=20240103&s=[{"prop":"country","op":"is","values":["France"]}]&s=[{"prop":"plan","op":"is","values":["pro"],"group_type":"org"}]&g={"type":"group","group_type":"org","value":"grp:tier"}"#.into(),
            "UTC",
        ),
        (
            "segments_array_of_arrays",
            r#"e={"event_type":"_active"}&start=20240101&end=20240101&s=[[{"prop":"DMA","op":"is","values":["x"]}],[]]"#.into(),
            "UTC",
        ),
        (
            "every_operator",
            format!(
                "e={{\"event_type\":\"a\",\"filters\":[{}]}}&start=20240101&end=20240101",
                [
                    "is", "is not", "contains", "does not contain", "less", "less or equal", "greater",
                    "greater or equal", "set is", "SET_IS_NOT",
                ]
                .iter()
                .map(|op| format!(
                    r#"{{"subprop_type":"event","subprop_key":"k","subprop_op":"{op}","subprop_value":"1"}}"#
                ))
                .collect::<Vec<_>>()
                .join(",")
            ),
            "UTC",
        ),
        ("hourly_fixed_offset", r#"e={"event_type":"_all"}&start=20240101&end=20240102&i=-3600000"#.into(), "+02:00"),
        ("realtime_negative_offset", r#"e={"event_type":"_all"}&start=2024-01-01&end=2024-01-02&i=-300000&n=any"#.into(), "-05"),
        ("monthly_iana_zone_utc_midnights", r#"e={"event_type":"_all"}&start=20240101&end=20241231&i=30"#.into(), "Europe/Berlin"),
        ("leading_question_mark_and_unknown_params", r#"?e={"event_type":"_all"}&start=20240101&end=20240101&foo=bar&limit=5"#.into(), "UTC"),
    ];
    for (name, query, tz) in cases {
        let seg = parse_segmentation(&query, tz).unwrap_or_else(|e| panic!("{name}: {e}"));
        insta::with_settings!({ description => format!("{query}  [time zone {tz}]"), omit_expression => true }, {
            insta::assert_json_snapshot!(format!("parse_{name}"), seg);
        });
    }
}

#[test]
fn day_boundaries_in_time_zones() {
    let q = r#"e={"event_type":"_all"}&start=20240101&end=20240102"#;
    let utc = parse(q);
    assert_eq!((utc.start_ms, utc.end_ms), (JAN_1, JAN_1 + 48 * HOUR));
    let plus2 = parse_segmentation(q, "+02:00").expect("valid");
    assert_eq!((plus2.start_ms, plus2.end_ms), (JAN_1 - 2 * HOUR, JAN_1 + 46 * HOUR));
    let minus0530 = parse_segmentation(q, "-05:30").expect("valid");
    assert_eq!(minus0530.start_ms, JAN_1 + 11 * HOUR / 2);
    // IANA names: UTC midnights here, the name kept for the query engine ...
    let berlin = parse_segmentation(q, "Europe/Berlin").expect("valid");
    assert_eq!((berlin.start_ms, berlin.time_zone.as_str()), (JAN_1, "Europe/Berlin"));
    // ... or the caller's local midnights.
    let seen = std::cell::RefCell::new(Vec::new());
    let berlin = parse_segmentation_with(q, "Europe/Berlin", &|y, m, d| {
        seen.borrow_mut().push((y, m, d));
        utc_midnight(y, m, d) - HOUR
    })
    .expect("valid");
    assert_eq!((berlin.start_ms, berlin.end_ms), (JAN_1 - HOUR, JAN_1 + 47 * HOUR));
    assert_eq!(*seen.borrow(), vec![(2024, 1, 1), (2024, 1, 3)]);
    // Month and year ends.
    let leap = parse(r#"e={"event_type":"_all"}&start=20240228&end=20240229"#);
    assert_eq!(leap.end_ms - leap.start_ms, 48 * HOUR);
    assert_eq!(parse_segmentation(q, "").expect("valid").time_zone, "UTC");
}

#[test]
fn bad_input_table() {
    let e = r#"e={"event_type":"_all"}"#;
    let dates = "start=20240101&end=20240107";
    let ok = format!("{e}&{dates}");
    let cases: Vec<(&str, String, Value)> = vec![
        (
            "missing e",
            dates.into(),
            json!({"code": 400, "error": "Missing required parameter: e",
                "message": "add e=<event JSON>, URL-encoded, e.g. e={\"event_type\":\"ce:Song Played\"}; `_all` is any event"}),
        ),
        (
            "e is not JSON",
            format!("e=%7Bevent_type%7D&{dates}"),
            json!({"code": 400, "error": "Invalid JSON in parameter e",
                "message": "e must be URL-encoded JSON, e.g. e={\"event_type\":\"ce:Song Played\"}; the parser said: key must be a string at line 1 column 2"}),
        ),
        (
            "e is empty",
            format!("e=&{dates}"),
            json!({"code": 400, "error": "Invalid parameter: e", "message": "e is empty"}),
        ),
        (
            "e is an array",
            format!("e=[1]&{dates}"),
            json!({"code": 400, "error": "Invalid parameter: e",
                "message": "e must be a JSON object like {\"event_type\":\"ce:Song Played\"}, got an array"}),
        ),
        (
            "e without event_type",
            format!("e={{}}&{dates}"),
            json!({"code": 400, "error": "Invalid parameter: e.event_type",
                "message": "e.event_type is missing; use e.g. {\"event_type\":\"ce:Song Played\"}, \"_all\" (any event) or \"_active\""}),
        ),
        (
            "revenue pseudo-event",
            format!("e={{\"event_type\":\"revenue_amount\"}}&{dates}"),
            json!({"code": 400, "error": "Unsupported parameter: e.event_type \"revenue_amount\"",
                "message": "Herd does not support e.event_type \"revenue_amount\"; name the event itself, e.g. ce:Purchase (m=sums with its price property sums revenue)"}),
        ),
        (
            "three events",
            format!("{e}&e={{\"event_type\":\"b\"}}&e2={{\"event_type\":\"c\"}}&{dates}"),
            json!({"code": 400, "error": "Invalid parameter: e",
                "message": "e is given with e2 for 3 events in all; a chart has at most 2 (e and e2)"}),
        ),
        (
            "unknown metric",
            format!("{ok}&m=median"),
            json!({"code": 400, "error": "Unknown metric: median",
                "message": "m must be one of uniques (default), totals, pct_dau, average, sums, value_avg, histogram, formula"}),
        ),
        (
            "metric given twice",
            format!("{ok}&m=totals&m=uniques"),
            json!({"code": 400, "error": "Invalid parameter: m", "message": "m is given 2 times; give it once"}),
        ),
        (
            "histogram without its property",
            format!("{ok}&m=histogram"),
            json!({"code": 400, "error": "Invalid parameter: e.group_by",
                "message": "e.group_by is needed with m=histogram: its first entry is the property to aggregate, e.g. \"group_by\":[{\"type\":\"event\",\"value\":\"price\"}]"}),
        ),
        (
            "formula metric without formula",
            format!("{ok}&m=formula"),
            json!({"code": 400, "error": "Missing required parameter: formula",
                "message": "m=formula needs formula=<formula>, e.g. formula=UNIQUES(A)/UNIQUES(B) (A is e, B is e2)"}),
        ),
        (
            "formula without m=formula",
            format!("{ok}&formula=UNIQUES(A)"),
            json!({"code": 400, "error": "Invalid parameter: formula",
                "message": "formula is only used with m=formula; add m=formula or leave formula out"}),
        ),
        (
            "sums without a group-by",
            format!("{ok}&m=sums"),
            json!({"code": 400, "error": "Invalid parameter: e.group_by",
                "message": "e.group_by is needed with m=sums: its first entry is the property to aggregate, e.g. \"group_by\":[{\"type\":\"event\",\"value\":\"price\"}]"}),
        ),
        (
            "missing start",
            format!("{e}&end=20240107"),
            json!({"code": 400, "error": "Missing required parameter: start",
                "message": "add start=YYYYMMDD (a day in the project's time zone; start and end are included)"}),
        ),
        (
            "bad end date",
            format!("{e}&start=20240101&end=2024013"),
            json!({"code": 400, "error": "Invalid parameter: end",
                "message": "end is \"2024013\"; write a date as YYYYMMDD, e.g. 20240131"}),
        ),
        (
            "end before start",
            format!("{e}&start=20240107&end=20240101"),
            json!({"code": 400, "error": "End date is before start date",
                "message": "end (20240101) must be the same day as start (20240107) or later; both days are included"}),
        ),
        (
            "unknown interval",
            format!("{ok}&i=2"),
            json!({"code": 400, "error": "Invalid parameter: i",
                "message": "i is \"2\"; use -300000 (real-time, 5 minutes), -3600000 (hourly), 1 (daily, the default), 7 (weekly) or 30 (monthly)"}),
        ),
        (
            "real-time range too long",
            format!("{ok}&i=-300000"),
            json!({"code": 400, "error": "Invalid parameter: end",
                "message": "end makes a range of 7 days; real-time (i=-300000) charts cover at most 2 days: move start or end, or use a longer interval"}),
        ),
        (
            "three group-bys in e",
            format!(
                "e={{\"event_type\":\"a\",\"group_by\":[{0},{0},{0}]}}&{dates}",
                r#"{"type":"user","value":"country"}"#
            ),
            json!({"code": 400, "error": "Too many group-bys", "message": "e has 3 group-bys; use at most 2"}),
        ),
        (
            "two group-bys in e plus g",
            format!(
                "e={{\"event_type\":\"a\",\"group_by\":[{0},{0}]}}&{dates}&g=platform",
                r#"{"type":"user","value":"country"}"#
            ),
            json!({"code": 400, "error": "Too many group-bys",
                "message": "e has 3 group-bys (its own group_by plus g); use at most 2"}),
        ),
        (
            "unknown operator",
            format!(
                "e={{\"event_type\":\"a\",\"filters\":[{}]}}&{dates}",
                r#"{"subprop_type":"event","subprop_key":"k","subprop_op":"equals","subprop_value":["1"]}"#
            ),
            json!({"code": 400, "error": "Unknown filter operator: equals",
                "message": "e.filters[0].subprop_op must be one of is, is not, contains, does not contain, less, less or equal, greater, greater or equal, set is, set is not"}),
        ),
        (
            "unknown subprop_type",
            format!(
                "e={{\"event_type\":\"a\",\"filters\":[{}]}}&{dates}",
                r#"{"subprop_type":"device","subprop_key":"k","subprop_op":"is","subprop_value":["1"]}"#
            ),
            json!({"code": 400, "error": "Invalid parameter: e.filters[0].subprop_type",
                "message": "e.filters[0].subprop_type is \"device\"; use event, user or group"}),
        ),
        (
            "group filter without group_type",
            format!(
                "e={{\"event_type\":\"a\",\"filters\":[{}]}}&{dates}",
                r#"{"subprop_type":"group","subprop_key":"plan","subprop_op":"is","subprop_value":["pro"]}"#
            ),
            json!({"code": 400, "error": "Invalid parameter: e.filters[0].group_type",
                "message": "e.filters[0].group_type is needed with type group: the group type whose property this is, e.g. \"org id\""}),
        ),
        (
            "filter without values",
            format!(
                "e={{\"event_type\":\"a\",\"filters\":[{}]}}&{dates}",
                r#"{"subprop_type":"event","subprop_key":"k","subprop_op":"is"}"#
            ),
            json!({"code": 400, "error": "Invalid parameter: e.filters[0].subprop_value",
                "message": "e.filters[0].subprop_value is missing; give the values to compare with as a list, e.g. [\"iOS\"]"}),
        ),
        (
            "grp: key without group type",
            format!("{ok}&g=grp:plan"),
            json!({"code": 400, "error": "Invalid parameter: g",
                "message": "g is the group property \"grp:plan\" but has no group type; use {\"type\":\"group\",\"group_type\":\"org id\",\"value\":\"grp:plan\"}"}),
        ),
        (
            "limit too large",
            format!("{ok}&limit=5000"),
            json!({"code": 400, "error": "Invalid parameter: limit",
                "message": "limit is \"5000\"; use a whole number from 1 to 1000 (default 100)"}),
        ),
        (
            "rolling window",
            format!("{ok}&rollingWindow=7"),
            json!({"code": 400, "error": "Unsupported parameter: rollingWindow",
                "message": "Herd does not support rollingWindow; ask for the plain series and compute the rolling values yourself"}),
        ),
        (
            "cohort segment with a comparison",
            format!("{ok}&s=[{{\"prop\":\"userdata_cohort\",\"op\":\"less\",\"values\":[\"5mjbq8w\"]}}]"),
            json!({"code": 400, "error": "Invalid parameter: s[0].op",
                "message": "s[0].op must be is or is not in a cohort condition"}),
        ),
        (
            "segment is not an array",
            format!("{ok}&s={{\"prop\":\"country\"}}"),
            json!({"code": 400, "error": "Invalid parameter: s",
                "message": "s must be a JSON array of conditions like [{\"prop\":\"country\",\"op\":\"is\",\"values\":[\"France\"]}], got an object"}),
        ),
        (
            "countGroup Event",
            format!("{ok}&countGroup=Event"),
            json!({"code": 400, "error": "Unsupported parameter: countGroup=Event",
                "message": "Herd does not support countGroup=Event; use m=totals to count events"}),
        ),
        (
            "empty countGroup",
            format!("{ok}&countGroup="),
            json!({"code": 400, "error": "Invalid parameter: countGroup",
                "message": "countGroup is empty; use User (the default) or a group type name, e.g. org id"}),
        ),
        (
            "unknown property mode",
            format!("{ok}&properties=latest"),
            json!({"code": 400, "error": "Invalid parameter: properties",
                "message": "properties is \"latest\"; use stamped (as on each event, the default) or current (as now)"}),
        ),
    ];
    for (name, query, expected) in cases {
        let err = parse_segmentation(&query, "UTC").expect_err(name);
        assert_eq!(err.kind(), RejectionKind::BadRequest, "{name}");
        let code = err.kind().status();
        assert_eq!(err.body(code), expected, "{name}: {query}");
    }
}

fn series(event_index: usize, segment_index: usize, labels: &[&str], values: &[f64], total: f64) -> Series {
    Series {
        event_index,
        segment_index,
        labels: labels.iter().map(|l| (*l).to_owned()).collect(),
        values: values.to_vec(),
        total,
    }
}

fn respond(query: &str, series: Vec<Series>) -> Value {
    let req = parse(query);
    let x_values: Vec<i64> = (0..3).map(|d| JAN_1 + d * 24 * HOUR).collect();
    let labels = x_labels(&x_values, req.interval, &req.time_zone).expect("UTC");
    segmentation_response(&req, &SegmentationResult { x_values, series }, &labels)
}

#[test]
fn response_one_event_without_group_by() {
    let body = respond(
        r#"e={"event_type":"_active"}&start=20240101&end=20240103"#,
        vec![series(0, 0, &[], &[12.0, 9.0, 15.0], 27.0)],
    );
    insta::assert_json_snapshot!(body);
}

#[test]
fn response_group_by_with_two_values() {
    let body = respond(
        r#"e={"event_type":"Song Played","group_by":[{"type":"user","value":"platform"}]}&start=20240101&end=20240103"#,
        vec![series(0, 0, &["iOS"], &[7.0, 5.0, 9.0], 15.0), series(0, 0, &["(none)"], &[1.0, 0.0, 2.0], 3.0)],
    );
    insta::assert_json_snapshot!(body);
}

#[test]
fn response_two_segments() {
    let body = respond(
        r#"e={"event_type":"_active"}&start=20240101&end=20240103&s=[{"prop":"country","op":"is","values":["France"]}]&s=[{"prop":"country","op":"is not","values":["France"]}]&g=gp:plan"#,
        vec![
            series(0, 0, &["pro"], &[3.0, 4.0, 5.0], 8.0),
            series(0, 1, &["pro"], &[1.0, 1.0, 0.0], 2.0),
            series(0, 1, &["free"], &[10.0, 11.0, 12.0], 25.0),
        ],
    );
    insta::assert_json_snapshot!(body);
}

#[test]
fn response_formula() {
    let body = respond(
        r#"e={"event_type":"Purchase"}&e2={"event_type":"_active"}&start=20240101&end=20240103&m=formula&formula=UNIQUES(A)/UNIQUES(B)"#,
        vec![series(0, 0, &[], &[0.25, 0.5, 0.0], 1.0 / 3.0)],
    );
    insta::assert_json_snapshot!(body);
}

#[test]
fn response_two_group_bys_and_odd_numbers() {
    let body = respond(
        r#"e={"event_type":"a","group_by":[{"type":"user","value":"platform"},{"type":"user","value":"country"}]}&start=20240101&end=20240103"#,
        vec![series(0, 0, &["iOS", "France"], &[1.5, f64::NAN, f64::INFINITY], -2.0)],
    );
    assert_eq!(body["data"]["seriesLabels"], json!([[0, "iOS; France"]]));
    assert_eq!(body["data"]["series"], json!([[1.5, 0, 0]]));
    assert_eq!(body["data"]["seriesCollapsed"], json!([[{"setId": "", "value": -2}]]));
    assert_eq!(body["data"]["seriesMeta"][0]["labels"], json!(["iOS", "France"]));
}

#[test]
fn x_axis_labels() {
    let days = [JAN_1, JAN_1 + 24 * HOUR];
    assert_eq!(x_labels(&days, Interval::Day, "UTC"), Some(vec!["2024-01-01".into(), "2024-01-02".into()]));
    // Local midnights of +02:00 are 22:00 UTC the day before.
    let local = [JAN_1 - 2 * HOUR];
    assert_eq!(x_labels(&local, Interval::Week, "+02:00"), Some(vec!["2024-01-01".into()]));
    assert_eq!(
        x_labels(&[JAN_1 + 5 * 60_000], Interval::FiveMinutes, "-05:30"),
        Some(vec!["2023-12-31T18:35:00".into()])
    );
    assert_eq!(x_labels(&[JAN_1 + 13 * HOUR], Interval::Hour, "utc"), Some(vec!["2024-01-01T13:00:00".into()]));
    assert_eq!(x_labels(&days, Interval::Day, "Europe/Berlin"), None);
    assert_eq!(format_x_value(JAN_1 + HOUR, Interval::Month), "2024-01-01");
    assert_eq!(format_x_value(i64::MAX, Interval::Day), i64::MAX.to_string());
}

proptest! {
    /// Any query made of the characters that matter: a report or an error, never a panic.
    #[test]
    fn never_panics(s in "[a-z0-9_=&%+{}\\[\\]\":, \\-]{0,60}") {
        let _ = parse_segmentation(&s, "UTC");
        let _ = parse_segmentation(&format!("e={s}&start=20240101&end=20240102"), "+01:00");
        let _ = parse_segmentation(&format!("e={{\"event_type\":\"a\"}}&start=20240101&end=20240102&s={s}&g={s}"), "UTC");
    }
}
