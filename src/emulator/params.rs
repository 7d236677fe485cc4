//! Request parameters as Telegram takes them: from the query string, a
//! JSON body or a form, merged, with the loose typing the Bot API allows
//! (numbers as strings, objects as JSON-encoded strings).

use serde_json::{Map, Value};

use super::error::ApiError;

/// Request parameters, merged from the query string and the body.
#[derive(Debug, Default)]
pub(crate) struct Params(Map<String, Value>);

impl Params {
    pub(crate) fn from_request(
        query: Option<&str>,
        content_type: &str,
        body: &[u8],
    ) -> Result<Params, ApiError> {
        let mut map = Map::new();
        for (key, value) in query.map(form_pairs).unwrap_or_default() {
            map.insert(key, Value::String(value));
        }
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
            // teloxide sends setWebhook (which may carry a certificate) as a multipart form.
            for (key, value) in multipart_fields(&content_type, body)? {
                map.insert(key, Value::String(value));
            }
        } else if content_type.starts_with("multipart/") {
            return Err(ApiError::bad_request("the emulator does not accept multipart requests"));
        }
        Ok(Params(map))
    }

    /// Parameters from a JSON object (tests, and handlers calling each other).
    #[cfg(test)]
    pub fn from_json(value: Value) -> Params {
        match value {
            Value::Object(map) => Params(map),
            _ => Params::default(),
        }
    }

    /// A present, non-null parameter.
    pub fn get(&self, key: &str) -> Option<&Value> {
        self.0.get(key).filter(|v| !v.is_null())
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

/// The text fields of a `multipart/form-data` body (files are not taken: the emulator
/// has no use for them).
fn multipart_fields(content_type: &str, body: &[u8]) -> Result<Vec<(String, String)>, ApiError> {
    let bad = || ApiError::bad_request("can't parse multipart form");
    let boundary = content_type
        .split(';')
        .filter_map(|p| p.trim().strip_prefix("boundary="))
        .next()
        .map(|b| b.trim_matches('"'))
        .ok_or_else(bad)?;
    // The content type was lowercased; the boundary in the body may not be.
    let body = String::from_utf8_lossy(body);
    let start = body.to_ascii_lowercase().find(&format!("--{boundary}")).ok_or_else(bad)?;
    let delimiter = body[start..start + 2 + boundary.len()].to_string();
    let mut fields = Vec::new();
    for part in body[start..].split(delimiter.as_str()).skip(1) {
        if part.starts_with("--") {
            break;
        }
        let (headers, value) = part.split_once("\r\n\r\n").ok_or_else(bad)?;
        let disposition = headers
            .lines()
            .find(|l| l.to_ascii_lowercase().starts_with("content-disposition:"))
            .ok_or_else(bad)?;
        if disposition.contains("filename=") {
            continue;
        }
        let name = disposition
            .split(';')
            .filter_map(|p| p.trim().strip_prefix("name="))
            .next()
            .map(|n| n.trim_matches('"').to_owned())
            .ok_or_else(bad)?;
        fields.push((name, value.strip_suffix("\r\n").unwrap_or(value).to_owned()));
    }
    Ok(fields)
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
        let p = Params::from_request(None, "multipart/form-data; boundary=xyz", body.as_bytes())
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
}
