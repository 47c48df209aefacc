//! The settings document analytics.js 2.0 (analytics-next) loads before it sends anything:
//! `GET {cdnURL}/v1/projects/{writeKey}/settings` (research `segment.md` §1.1, ANEXT `browser/index.ts`).
//!
//! analytics-next needs only `integrations["Segment.io"]` (its `CDNSettings` type makes everything else
//! optional, ANEXT `browser/settings.ts`); from it the Segment.io plugin takes `apiKey` (sent back as the body's
//! `writeKey`), `apiHost` and `protocol`, and posts to `{protocol}://{apiHost}/{t|i|g|p|s|a}` (ANEXT
//! `plugins/segmentio/index.ts`). The document also sets `metrics.sampleRate` to 0: analytics-next otherwise
//! sends its own usage metrics to `api.segment.io/v1/m` (ANEXT `core/stats/remote-metrics.ts`), which a
//! self-hosted setup must not do. No device-mode destination, middleware or remote plugin is listed, so the page
//! loads no code from elsewhere.

use serde_json::{Value, json};

/// The settings document for one write key.
///
/// `api_host` is where the tracking API is, including the `/v1` prefix, e.g. `https://herd.example.com/v1` or
/// `localhost:8080/v1`. A leading `http://` or `https://` sets `protocol` (default `https`, analytics-next's own
/// default) and is stripped, because analytics-next builds the URL as `{protocol}://{apiHost}`.
pub fn settings_document(write_key: &str, api_host: &str) -> Value {
    let host = api_host.trim().trim_end_matches('/');
    let (protocol, host) = if let Some(rest) = host.strip_prefix("http://") {
        ("http", rest)
    } else if let Some(rest) = host.strip_prefix("https://") {
        ("https", rest)
    } else {
        ("https", host)
    };
    json!({
        "integrations": {
            "Segment.io": {
                "apiKey": write_key,
                "apiHost": host,
                "protocol": protocol
            }
        },
        "plan": {
            "track": {"__default": {"enabled": true, "integrations": {}}},
            "identify": {"__default": {"enabled": true}},
            "group": {"__default": {"enabled": true}}
        },
        "edgeFunction": {},
        "analyticsNextEnabled": true,
        "middlewareSettings": {},
        "enabledMiddleware": {},
        "metrics": {"sampleRate": 0},
        "legacyVideoPluginsEnabled": false,
        "remotePlugins": []
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn document() {
        let doc = settings_document("wk_123", "http://localhost:8080/v1/");
        let segment_io = &doc["integrations"]["Segment.io"];
        assert_eq!(segment_io["apiKey"], "wk_123");
        assert_eq!(segment_io["apiHost"], "localhost:8080/v1");
        assert_eq!(segment_io["protocol"], "http");
        assert_eq!(doc["metrics"]["sampleRate"], 0);
        let secure = settings_document("k", "https://herd.example.com/v1");
        assert_eq!(secure["integrations"]["Segment.io"]["protocol"], "https");
        assert_eq!(secure["integrations"]["Segment.io"]["apiHost"], "herd.example.com/v1");
        assert_eq!(settings_document("k", "herd.example.com/v1")["integrations"]["Segment.io"]["protocol"], "https");
        insta::assert_json_snapshot!(doc);
    }
}
