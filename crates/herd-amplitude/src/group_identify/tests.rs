//! Tests for `/groupidentify` parsing: the seed documents' curl requests exactly as written, GET query
//! strings, and the error bodies.

use super::*;
use serde_json::json;

/// What `curl --data 'api_key=…' --data 'identification={…}'` sends: the fields joined with `&`, not encoded.
const SEED_SINGLE: &str = r#"api_key=040062a5d38552315b98302ba4f2f&identification={"group_properties":{"org csm":"Lucas","org plan":"Enterprise","org owner":"Luis"},"group_value":"1234","group_type":"org id"}"#;

const SEED_BATCH: &str = r#"api_key=040062a5d38552315b98302ba4f2f&identification=[{"group_properties":{"org csm":"Lucas","org plan":"Enterprise","org owner":"Luis"},"group_value":"success","group_type":"org id"},{"group_properties":{"org csm":"Sarah","org plan":"Growth","org owner":"Sandy"},"group_value":"1234","group_type":"org id"}]"#;

/// (type, value, plain properties) of each command.
fn summary(req: &GroupIdentifyRequest) -> Vec<(String, String, Value)> {
    req.commands
        .iter()
        .map(|c| match c {
            Command::GroupIdentify(g) => {
                (g.group_type.clone(), g.group_value.clone(), Value::Object(g.ops.plain.clone()))
            }
            other => panic!("unexpected command {other:?}"),
        })
        .collect()
}

fn rejected(body: &str) -> Value {
    let err = parse_group_identify(body.as_bytes()).expect_err("must be rejected");
    err.body(err.kind().status())
}

#[test]
fn seed_single_as_post_body() {
    let req = parse_group_identify(SEED_SINGLE.as_bytes()).expect("accepted");
    assert_eq!(req.api_key, "040062a5d38552315b98302ba4f2f");
    let props = json!({"org csm": "Lucas", "org plan": "Enterprise", "org owner": "Luis"});
    assert_eq!(summary(&req), [("org id".into(), "1234".into(), props)]);
}

#[test]
fn seed_batch_as_post_body() {
    let req = parse_group_identify(SEED_BATCH.as_bytes()).expect("accepted");
    let got: Vec<(String, String)> = summary(&req).into_iter().map(|(t, v, _)| (t, v)).collect();
    assert_eq!(got, [("org id".into(), "success".into()), ("org id".into(), "1234".into())]);
    insta::assert_debug_snapshot!(req.commands);
}

/// The GET form of the same request, as a browser or HTTP client encodes the query string.
fn as_query(body: &str, encode_braces: bool) -> String {
    let mut out = String::new();
    for c in body.chars() {
        match c {
            ' ' => out.push_str("%20"),
            '"' => out.push_str("%22"),
            '{' if encode_braces => out.push_str("%7B"),
            '}' if encode_braces => out.push_str("%7D"),
            '[' if encode_braces => out.push_str("%5B"),
            ']' if encode_braces => out.push_str("%5D"),
            ':' if encode_braces => out.push_str("%3A"),
            ',' if encode_braces => out.push_str("%2C"),
            c => out.push(c),
        }
    }
    out
}

#[test]
fn seed_requests_as_get_query_strings() {
    for body in [SEED_SINGLE, SEED_BATCH] {
        let post = summary(&parse_group_identify(body.as_bytes()).expect("post accepted"));
        for encode_braces in [false, true] {
            let query = as_query(body, encode_braces);
            let get = parse_group_identify(query.as_bytes()).expect("get accepted");
            assert_eq!(summary(&get), post, "{query}");
        }
        // Amplitude's GET example writes the JSON unencoded; a leading `?` is tolerated too.
        let raw = parse_group_identify(format!("?{body}").as_bytes()).expect("raw get accepted");
        assert_eq!(summary(&raw), post);
    }
}

#[test]
fn form_encoded_body_with_operations_and_number_value() {
    let identification = json!([{"group_type": "org id", "group_value": 1234, "insert_id": "g-1",
        "time": 1_700_000_000_000_i64, "library": "segment",
        "group_properties": {"$set": {"plan": "A+B"}, "$add": {"seats": 5}}}]);
    let encoded: String = identification
        .to_string()
        .bytes()
        .map(|b| if b.is_ascii_alphanumeric() { (b as char).to_string() } else { format!("%{b:02X}") })
        .collect();
    let req = parse_group_identify(format!("api_key=k&identification={encoded}").as_bytes()).expect("accepted");
    let [Command::GroupIdentify(g)] = req.commands.as_slice() else { panic!("one command") };
    assert_eq!((g.group_type.as_str(), g.group_value.as_str()), ("org id", "1234"));
    assert_eq!(g.ops.ops[0].1["plan"], "A+B");
    assert_eq!((g.insert_id.as_deref(), g.time), (Some("g-1"), Some(1_700_000_000_000)));
    assert_eq!(Value::Object(g.extra.clone()), json!({"library": "segment"}));
}

#[test]
fn bad_identifications() {
    let body = r#"api_key=k&identification=[{"group_value":"1"},{"group_type":"t","group_value":[1]},{"group_type":" ","group_value":"v","group_properties":{"$set":2}},"x"]"#;
    insta::assert_json_snapshot!(rejected(body));
}

#[test]
fn limits() {
    let one = json!({"group_type": "t", "group_value": "v"});
    let body = format!("api_key=k&identification={}", Value::from(vec![one; MAX_GROUP_IDENTIFICATIONS + 1]));
    assert_eq!(rejected(&body)["error"], "Too many identifications: 1025, at most 1024 per request");

    let props: serde_json::Map<String, Value> = (0..600).map(|i| (format!("p{i}"), json!(i))).collect();
    let two = json!([{"group_type": "t", "group_value": "a", "group_properties": props},
                     {"group_type": "t", "group_value": "b", "group_properties": {"$set": props}}]);
    let body = format!("api_key=k&identification={two}");
    assert_eq!(
        rejected(&body),
        json!({"code": 400, "error": "Too many group properties: 1200, at most 1024 per request",
               "message": "the request sets 1200 group properties; send at most 1024 per request"})
    );
}
