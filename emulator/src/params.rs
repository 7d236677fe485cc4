//! Request parameters as Telegram takes them: from the query string, a
//! JSON body or a form, merged, with the loose typing the Bot API allows
//! (numbers as strings, objects as JSON-encoded strings). Uploads come as
//! `multipart/form-data`: its text fields are parameters like any other, its
//! files are kept apart by field name.

use std::collections::HashMap;

use serde_json::{Map, Value};

use super::error::ApiError;

/// Request parameters, merged from the query string and the body.
#[derive(Debug, Default)]
pub(crate) struct Params {
    values: Map<String, Value>,
    /// Uploaded files by field name (multipart requests only).
    files: HashMap<String, Vec<u8>>,
}

impl Params {
    pub(crate) fn from_request(
        query: Option<&str>,
        content_type: &str,
        body: &[u8],
    ) -> Result<Params, ApiError> {
        let mut map = Map::new();
        let mut files = HashMap::new();
        for (key, value) in query.map(form_pairs).unwrap_or_default() {
            map.insert(key, Value::String(value));
        }
        let original = content_type;
        let content_type = content_type.to_ascii_lowercase();
        if content_type.starts_with("application/json") && !body.is_empty() {
            match serde_json::from_slice::<Value>(body) {
                Ok(Value::Object(object)) => map.extend(object),
                _ => return Err(ApiError::bad_request("can't parse JSON object")),
            }
        } else if content_type.starts_with("application/x-www-form-urlencoded") {
            for (key, value) in form_pairs(&String::from_utf8_lossy(body)) {
                map.insert(key, Value::String(value));
            }
        } else if content_type.starts_with("multipart/form-data") {
            let boundary = boundary(original)
                .ok_or_else(|| ApiError::bad_request("multipart boundary is missing"))?;
            for part in multipart_parts(body, &boundary)? {
                match part.filename {
                    Some(_) => {
                        files.insert(part.name, part.body);
                    }
                    None => {
                        let text = String::from_utf8_lossy(&part.body).into_owned();
                        map.insert(part.name, Value::String(text));
                    }
                }
            }
        } else if content_type.starts_with("multipart/") {
            return Err(ApiError::bad_request("unsupported multipart type"));
        }
        Ok(Params { values: map, files })
    }

    /// An uploaded file (a multipart part with a filename), by field name.
    pub fn file(&self, key: &str) -> Option<&[u8]> {
        self.files.get(key).map(Vec::as_slice)
    }

    /// Parameters from a JSON object (tests, and handlers calling each other).
    #[cfg(test)]
    pub fn from_json(value: Value) -> Params {
        match value {
            Value::Object(map) => Params { values: map, files: HashMap::new() },
            _ => Params::default(),
        }
    }

    /// A present, non-null parameter.
    pub fn get(&self, key: &str) -> Option<&Value> {
        self.values.get(key).filter(|v| !v.is_null())
    }

    /// A string parameter; numbers and booleans are taken as their text.
    pub fn string(&self, key: &str) -> Option<String> {
        match self.get(key)? {
            Value::String(s) => Some(s.clone()),
            Value::Number(n) => Some(n.to_string()),
            Value::Bool(b) => Some(b.to_string()),
            _ => None,
        }
    }

    /// An integer parameter, given as a number or a numeric string.
    pub fn int(&self, key: &str) -> Option<i64> {
        match self.get(key)? {
            Value::Number(n) => n.as_i64(),
            Value::String(s) => s.trim().parse().ok(),
            _ => None,
        }
    }

    /// A boolean parameter: `true`, "true" or "1".
    pub fn flag(&self, key: &str) -> bool {
        match self.get(key) {
            Some(Value::Bool(b)) => *b,
            Some(Value::String(s)) => s == "true" || s == "1",
            Some(Value::Number(n)) => n.as_i64() == Some(1),
            _ => false,
        }
    }

    /// An object or array parameter, also accepted as a JSON-encoded string.
    pub fn json(&self, key: &str) -> Result<Option<Value>, ApiError> {
        match self.get(key) {
            None => Ok(None),
            Some(Value::String(s)) if s.is_empty() => Ok(None),
            Some(Value::String(s)) => serde_json::from_str(s)
                .map(Some)
                .map_err(|_| ApiError::bad_request(format!("can't parse {key} JSON object"))),
            Some(value) => Ok(Some(value.clone())),
        }
    }

    /// The required `chat_id`; a username or garbage names no known chat.
    pub fn chat_id(&self) -> Result<i64, ApiError> {
        if self.get("chat_id").is_none() {
            return Err(ApiError::bad_request("chat_id is empty"));
        }
        self.int("chat_id").ok_or_else(ApiError::chat_not_found)
    }
}

/// The `boundary` parameter of a multipart content type (case kept: it is compared exactly).
fn boundary(content_type: &str) -> Option<String> {
    content_type.split(';').skip(1).find_map(|param| {
        let (key, value) = param.trim().split_once('=')?;
        key.trim()
            .eq_ignore_ascii_case("boundary")
            .then(|| value.trim().trim_matches('"').to_owned())
    })
}

/// One part of a multipart body.
#[derive(Debug, PartialEq, Eq)]
struct Part {
    name: String,
    filename: Option<String>,
    body: Vec<u8>,
}

/// Splits a `multipart/form-data` body (RFC 7578) into its named parts.
fn multipart_parts(body: &[u8], boundary: &str) -> Result<Vec<Part>, ApiError> {
    let malformed = || ApiError::bad_request("can't parse multipart/form-data body");
    let delimiter = format!("--{boundary}").into_bytes();
    let mut parts = Vec::new();
    let mut rest = &body[find(body, &delimiter).ok_or_else(malformed)? + delimiter.len()..];
    loop {
        if rest.starts_with(b"--") {
            return Ok(parts);
        }
        rest = rest.strip_prefix(b"\r\n").ok_or_else(malformed)?;
        let head_end = find(rest, b"\r\n\r\n").ok_or_else(malformed)?;
        let head = String::from_utf8_lossy(&rest[..head_end]).into_owned();
        rest = &rest[head_end + 4..];
        let mut end_marker = b"\r\n".to_vec();
        end_marker.extend_from_slice(&delimiter);
        let end = find(rest, &end_marker).ok_or_else(malformed)?;
        let disposition = head
            .lines()
            .find(|line| line.to_ascii_lowercase().starts_with("content-disposition:"))
            .ok_or_else(malformed)?;
        let field = |key: &str| {
            disposition.split(';').find_map(|param| {
                let (k, v) = param.trim().split_once('=')?;
                (k.trim() == key).then(|| v.trim().trim_matches('"').to_owned())
            })
        };
        let name = field("name").ok_or_else(malformed)?;
        parts.push(Part { name, filename: field("filename"), body: rest[..end].to_vec() });
        rest = &rest[end + end_marker.len()..];
    }
}

fn find(haystack: &[u8], needle: &[u8]) -> Option<usize> {
    haystack.windows(needle.len()).position(|w| w == needle)
}

/// Decodes `a=1&b=x%20y` pairs (query strings and form bodies).
fn form_pairs(input: &str) -> Vec<(String, String)> {
    input
        .split('&')
        .filter(|pair| !pair.is_empty())
        .map(|pair| {
            let (key, value) = pair.split_once('=').unwrap_or((pair, ""));
            (percent_decode(key), percent_decode(value))
        })
        .collect()
}

fn percent_decode(s: &str) -> String {
    let bytes = s.as_bytes();
    let mut out = Vec::with_capacity(bytes.len());
    let mut i = 0;
    while i < bytes.len() {
        match bytes[i] {
            b'+' => out.push(b' '),
            b'%' if i + 2 < bytes.len() => match (hex(bytes[i + 1]), hex(bytes[i + 2])) {
                (Some(high), Some(low)) => {
                    out.push(high * 16 + low);
                    i += 2;
                }
                _ => out.push(b'%'),
            },
            other => out.push(other),
        }
        i += 1;
    }
    String::from_utf8_lossy(&out).into_owned()
}

fn hex(digit: u8) -> Option<u8> {
    (digit as char).to_digit(16).map(|d| d as u8)
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    use super::*;

    #[test]
    fn forms_and_queries_are_decoded() {
        assert_eq!(
            form_pairs("chat_id=-42&text=a+b%26c%F0%9F%98%80&x"),
            vec![
                ("chat_id".to_owned(), "-42".to_owned()),
                ("text".to_owned(), "a b&c😀".to_owned()),
                ("x".to_owned(), String::new()),
            ]
        );
        assert_eq!(percent_decode("100%"), "100%");
    }

    #[test]
    fn multipart_text_fields_are_read_and_files_skipped() {
        let body = "--XyZ\r\nContent-Disposition: form-data; name=\"url\"\r\n\r\nhttp://a/b\r\n\
                    --XyZ\r\nContent-Disposition: form-data; name=\"certificate\"; filename=\"c\"\r\n\
                    Content-Type: application/octet-stream\r\n\r\nBYTES\r\n\
                    --XyZ\r\nContent-Disposition: form-data; name=\"secret_token\"\r\n\r\nab_c\r\n--XyZ--\r\n";
        let p = Params::from_request(None, "multipart/form-data; boundary=XyZ", body.as_bytes())
            .unwrap();
        assert_eq!(p.string("url").as_deref(), Some("http://a/b"));
        assert_eq!(p.string("secret_token").as_deref(), Some("ab_c"));
        assert!(p.get("certificate").is_none());
        assert!(Params::from_request(None, "multipart/form-data", b"junk").is_err());
    }

    #[test]
    fn params_merge_query_and_body_and_coerce_types() {
        let p = Params::from_request(
            Some("timeout=5&chat_id=1"),
            "application/json",
            br#"{"chat_id": 7, "reply_markup": "{\"inline_keyboard\":[]}", "flag": true}"#,
        )
        .unwrap();
        assert_eq!(p.int("timeout"), Some(5));
        assert_eq!(p.int("chat_id"), Some(7));
        assert_eq!(p.json("reply_markup").unwrap(), Some(json!({"inline_keyboard": []})));
        assert!(p.flag("flag"));
        assert_eq!(
            Params::default().chat_id().unwrap_err().description,
            "Bad Request: chat_id is empty"
        );
    }

    #[test]
    fn multipart_fields_and_files_are_read() {
        let body = b"--XyZ\r\nContent-Disposition: form-data; name=\"chat_id\"\r\n\r\n42\r\n\
--XyZ\r\nContent-Disposition: form-data; name=\"photo\"; filename=\"chart.png\"\r\n\
Content-Type: image/png\r\n\r\n\x89PNG\r\n--not-the-end\r\n--XyZ--\r\n";
        let p = Params::from_request(None, "multipart/form-data; boundary=XyZ", body).unwrap();
        assert_eq!(p.int("chat_id"), Some(42));
        assert_eq!(p.file("photo"), Some(&b"\x89PNG\r\n--not-the-end"[..]));
        assert_eq!(p.string("photo"), None);
        for bad in [&b"no boundary here"[..], b"--XyZ\r\nContent-Disposition: form-data\r\n\r\nx"] {
            assert!(Params::from_request(None, "multipart/form-data; boundary=XyZ", bad).is_err());
        }
        assert!(Params::from_request(None, "multipart/form-data", body).is_err());
    }
}
