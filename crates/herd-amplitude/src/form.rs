//! Form bodies and query strings (`a=1&b=2`) as Amplitude's form APIs receive them, including unencoded JSON.
//!
//! Amplitude's own docs show `curl --data 'identification={"group_type":"org id",…}'`: curl joins the fields
//! with `&` but does not url-encode them, so the JSON arrives raw, with spaces, quotes, braces, and possibly
//! `+`, `%` or `&` inside strings. A form encoder always encodes `{` and `[`, so a value that *starts* with a
//! raw `{` or `[` was not form-encoded:
//! 1. if a complete JSON value starts there (and is followed by `&` or the end), it is taken verbatim,
//!    even across `&` characters inside its strings;
//! 2. otherwise (e.g. a browser-typed query `{%22a%22:1}`) it is percent-decoded but `+` stays `+`.
//!
//! Every other value is decoded as ordinary form data (`+` is a space).

/// The decoded fields of a form, in order.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub(crate) struct Form {
    pairs: Vec<(String, String)>,
}

/// The body could not be read as text.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("the body is not UTF-8 text (form data must be UTF-8)")]
pub(crate) struct NotUtf8;

impl Form {
    pub(crate) fn parse(body: &[u8]) -> Result<Form, NotUtf8> {
        let text = std::str::from_utf8(body).map_err(|_| NotUtf8)?;
        Ok(Form::parse_text(text, false))
    }

    /// A URL query string (the Dashboard REST API's): as [`Form::parse`], except that raw JSON values are also
    /// percent-decoded (keeping `+`), because Amplitude's docs tell users to write `Play%20Song` inside the
    /// JSON of `e` (`curl -g '…?e={"event_type":"ce:Play%20Song"}'`).
    pub(crate) fn parse_query(text: &str) -> Form {
        Form::parse_text(text, true)
    }

    fn parse_text(text: &str, decode_raw_json: bool) -> Form {
        let mut rest = text.strip_prefix('?').unwrap_or(text);
        let mut pairs = Vec::new();
        while !rest.is_empty() {
            let piece_end = rest.find('&').unwrap_or(rest.len());
            let (key, value, consumed) = match rest[..piece_end].find('=') {
                None => (decode(&rest[..piece_end], true), String::new(), piece_end),
                Some(eq) => {
                    let key = decode(&rest[..eq], true);
                    let raw = &rest[eq + 1..];
                    match raw_json_len(raw) {
                        Some(len) if decode_raw_json => (key, decode(raw[..len].trim(), false), eq + 1 + len),
                        Some(len) => (key, raw[..len].trim().to_owned(), eq + 1 + len),
                        None => {
                            let value = &rest[eq + 1..piece_end];
                            let plus_is_space = !starts_json(value);
                            (key, decode(value, plus_is_space), piece_end)
                        }
                    }
                }
            };
            if !key.is_empty() {
                pairs.push((key, value));
            }
            rest = rest.get(consumed + 1..).unwrap_or("");
        }
        Form { pairs }
    }

    /// Every field, in order, repeated keys included.
    pub(crate) fn pairs(&self) -> &[(String, String)] {
        &self.pairs
    }

    /// The first value of a field.
    pub(crate) fn get(&self, key: &str) -> Option<&str> {
        self.pairs.iter().find(|(k, _)| k == key).map(|(_, v)| v.as_str())
    }
}

fn starts_json(raw: &str) -> bool {
    raw.trim_start().starts_with(['{', '['])
}

/// If `raw` starts with a raw JSON object or array followed by `&` or the end (whitespace allowed),
/// the length up to that `&`.
fn raw_json_len(raw: &str) -> Option<usize> {
    if !starts_json(raw) {
        return None;
    }
    let mut stream = serde_json::Deserializer::from_str(raw).into_iter::<serde::de::IgnoredAny>();
    stream.next()?.ok()?;
    let end = stream.byte_offset();
    let after = &raw[end..];
    let trailing = after.len() - after.trim_start().len();
    let next = end + trailing;
    (next == raw.len() || raw[next..].starts_with('&')).then_some(next)
}

/// Percent-decodes one key or value; malformed escapes are kept as written (as browsers do).
fn decode(raw: &str, plus_is_space: bool) -> String {
    let mut bytes = Vec::with_capacity(raw.len());
    let mut iter = raw.bytes().enumerate();
    while let Some((i, b)) = iter.next() {
        match b {
            b'+' if plus_is_space => bytes.push(b' '),
            b'%' => match raw.get(i + 1..i + 3).and_then(|h| u8::from_str_radix(h, 16).ok()) {
                Some(byte) if raw.as_bytes()[i + 1].is_ascii_hexdigit() => {
                    bytes.push(byte);
                    iter.nth(1);
                }
                _ => bytes.push(b'%'),
            },
            other => bytes.push(other),
        }
    }
    String::from_utf8_lossy(&bytes).into_owned()
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    proptest! {
        /// Any text made of the characters that matter to the parser: never a panic, and form APIs
        /// built on it answer with a value or an error.
        #[test]
        fn never_panics(s in "[a-z_=&%+{}\\[\\]\":, 0-9A-F\u{e9}]{0,40}") {
            let _ = Form::parse(s.as_bytes());
            let identify = format!("api_key=k&identification={s}");
            let _ = crate::parse_identify(identify.as_bytes());
            let _ = crate::parse_group_identify(identify.as_bytes());
            let legacy = format!("client=k&e={s}");
            let _ = crate::parse_legacy(legacy.as_bytes(), crate::UploadLimits::default());
        }
    }

    fn form(s: &str) -> Form {
        Form::parse(s.as_bytes()).expect("utf-8")
    }

    #[test]
    fn ordinary_form_data() {
        let f = form("api_key=abc&identification=%7B%22a%22%3A%22x+y%2Bz%22%7D&empty=&flag");
        assert_eq!(f.get("api_key"), Some("abc"));
        assert_eq!(f.get("identification"), Some(r#"{"a":"x y+z"}"#));
        assert_eq!(f.get("empty"), Some(""));
        assert_eq!(f.get("flag"), Some(""));
        assert_eq!(f.get("missing"), None);
    }

    #[test]
    fn raw_json_from_curl_data() {
        let f = form(r#"api_key=k&identification={"a":"AT&T + 100%","b":[1,2]}&x=1"#);
        assert_eq!(f.get("identification"), Some(r#"{"a":"AT&T + 100%","b":[1,2]}"#));
        assert_eq!(f.get("x"), Some("1"));
        let f = form("identification=[{\"a\":1}]\n");
        assert_eq!(f.get("identification"), Some(r#"[{"a":1}]"#));
    }

    #[test]
    fn browser_query_with_raw_braces() {
        let f = form("?api_key=k&identification={%22org%20id%22:%22a+b%22}");
        assert_eq!(f.get("api_key"), Some("k"));
        assert_eq!(f.get("identification"), Some(r#"{"org id":"a+b"}"#));
    }

    #[test]
    fn broken_json_and_escapes_do_not_panic() {
        let f = form(r#"identification={"a":&b=%zz%4&c=%e2%82%ac%ff"#);
        assert_eq!(f.get("identification"), Some(r#"{"a":"#));
        assert_eq!(f.get("b"), Some("%zz%4"));
        assert_eq!(f.get("c"), Some("€\u{fffd}"));
        assert!(Form::parse(&[0xff, b'=']).is_err());
    }
}
