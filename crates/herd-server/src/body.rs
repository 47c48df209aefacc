//! Request bodies: gzip decoding with a limit on the decompressed size, whatever the declared content type
//! (browser beacons send JSON as `text/plain`).

use std::io::Read;

use axum::http::HeaderMap;
use bytes::Bytes;

/// Why a body could not be read.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum BodyError {
    #[error("request body is larger than {limit} bytes after decompression")]
    TooLarge { limit: usize },
    #[error("request body says Content-Encoding: gzip but is not valid gzip data: {0}")]
    BadGzip(String),
    #[error("unsupported Content-Encoding {0:?}; send the body uncompressed or gzip-compressed")]
    UnsupportedEncoding(String),
}

/// The body as sent, decompressed if it was gzip, and at most `limit` bytes.
pub fn decode(headers: &HeaderMap, raw: Bytes, limit: usize) -> Result<Bytes, BodyError> {
    let encoding = headers
        .get(axum::http::header::CONTENT_ENCODING)
        .and_then(|v| v.to_str().ok())
        .map(|v| v.trim().to_ascii_lowercase())
        .unwrap_or_default();
    match encoding.as_str() {
        "" | "identity" => {
            if raw.len() > limit {
                return Err(BodyError::TooLarge { limit });
            }
            Ok(raw)
        }
        "gzip" | "x-gzip" => {
            let mut out = Vec::with_capacity(raw.len() * 4);
            let mut decoder = flate2::read::GzDecoder::new(&raw[..]).take(limit as u64 + 1);
            decoder.read_to_end(&mut out).map_err(|e| BodyError::BadGzip(e.to_string()))?;
            if out.len() > limit {
                return Err(BodyError::TooLarge { limit });
            }
            Ok(Bytes::from(out))
        }
        other => Err(BodyError::UnsupportedEncoding(other.to_owned())),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::io::Write;

    fn headers(enc: &str) -> HeaderMap {
        let mut h = HeaderMap::new();
        h.insert(axum::http::header::CONTENT_ENCODING, enc.parse().unwrap());
        h
    }

    #[test]
    fn gzip_and_limits() {
        let mut gz = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::default());
        gz.write_all(&[b'a'; 1000]).unwrap();
        let gz = Bytes::from(gz.finish().unwrap());
        assert_eq!(decode(&headers("gzip"), gz.clone(), 1000).unwrap().len(), 1000);
        assert_eq!(decode(&headers("gzip"), gz, 999), Err(BodyError::TooLarge { limit: 999 }));
        assert!(matches!(decode(&headers("gzip"), Bytes::from_static(b"nope"), 10), Err(BodyError::BadGzip(_))));
        assert_eq!(decode(&HeaderMap::new(), Bytes::from_static(b"abc"), 2), Err(BodyError::TooLarge { limit: 2 }));
    }
}
