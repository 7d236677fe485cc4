//! Inline keyboards: parsing `reply_markup` and enforcing Telegram's rules
//! for buttons (one action per button, callback data of 1 to 64 bytes,
//! links a client can open).

use serde_json::{Map, Value};

use super::{error::ApiError, links};

/// One inline keyboard button as the bot sent it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Button {
    /// The label.
    pub text: String,
    /// Data sent back in a callback query when pressed.
    pub callback_data: Option<String>,
    /// A link the client opens.
    pub url: Option<String>,
    /// Inline query to start in another chat.
    pub switch_inline_query: Option<String>,
    /// Inline query to start in this chat.
    pub switch_inline_query_current_chat: Option<String>,
}

/// A validated inline keyboard.
#[derive(Debug, Clone, PartialEq)]
pub(crate) struct Keyboard {
    pub rows: Vec<Vec<Button>>,
    /// The `inline_keyboard` array to echo back in messages.
    pub json: Value,
}

/// The fields that give a button its action; exactly one must be present.
const ACTIONS: &[&str] = &[
    "callback_data",
    "url",
    "switch_inline_query",
    "switch_inline_query_current_chat",
    "switch_inline_query_chosen_chat",
    "login_url",
    "web_app",
    "pay",
    "callback_game",
    "copy_text",
];

/// Parses a `reply_markup`; `Ok(None)` for no markup or a non-inline one
/// (reply keyboards, force_reply), which carry no buttons to press here.
pub(crate) fn parse(markup: Option<Value>) -> Result<Option<Keyboard>, ApiError> {
    let Some(markup) = markup else { return Ok(None) };
    let Some(object) = markup.as_object() else {
        return Err(ApiError::bad_request("can't parse reply keyboard markup JSON object"));
    };
    let Some(rows_json) = object.get("inline_keyboard") else {
        let other = ["keyboard", "remove_keyboard", "force_reply"];
        return if other.iter().any(|k| object.contains_key(*k)) {
            Ok(None)
        } else {
            Err(ApiError::bad_request("can't parse reply keyboard markup JSON object"))
        };
    };
    let Some(rows_json) = rows_json.as_array() else {
        return Err(ApiError::bad_request(
            "can't parse inline keyboard: field \"inline_keyboard\" must be an Array",
        ));
    };
    let mut rows = Vec::new();
    let mut echo = Vec::new();
    for row in rows_json {
        let Some(row) = row.as_array() else {
            return Err(ApiError::bad_request(
                "can't parse inline keyboard: field \"inline_keyboard\" must be an Array of Arrays",
            ));
        };
        let mut buttons = Vec::new();
        let mut echo_row = Vec::new();
        for button in row {
            let (parsed, json) = parse_button(button)?;
            buttons.push(parsed);
            echo_row.push(json);
        }
        if !buttons.is_empty() {
            rows.push(buttons);
            echo.push(Value::Array(echo_row));
        }
    }
    if rows.is_empty() {
        // An empty inline keyboard removes the keyboard.
        return Ok(None);
    }
    Ok(Some(Keyboard { rows, json: Value::Array(echo) }))
}

fn parse_button(button: &Value) -> Result<(Button, Value), ApiError> {
    let bad = |reason: &str| {
        ApiError::bad_request(format!("can't parse inline keyboard button: {reason}"))
    };
    let Some(object) = button.as_object() else {
        return Err(bad("InlineKeyboardButton must be an Object"));
    };
    let Some(text) = object.get("text").and_then(Value::as_str) else {
        return Err(bad("Field \"text\" must be of type String"));
    };
    let actions: Vec<&str> = ACTIONS.iter().copied().filter(|k| object.contains_key(*k)).collect();
    match actions.len() {
        0 => return Err(bad("Text buttons are unallowed in the inline keyboard")),
        1 => {}
        _ => return Err(bad("exactly one of the optional fields must be used")),
    }
    let string = |key: &str| -> Result<Option<String>, ApiError> {
        match object.get(key) {
            None => Ok(None),
            Some(Value::String(s)) => Ok(Some(s.clone())),
            Some(_) => Err(bad(&format!("Field \"{key}\" must be of type String"))),
        }
    };
    let parsed = Button {
        text: text.to_owned(),
        callback_data: string("callback_data")?,
        url: string("url")?,
        switch_inline_query: string("switch_inline_query")?,
        switch_inline_query_current_chat: string("switch_inline_query_current_chat")?,
    };
    if let Some(data) = &parsed.callback_data
        && !(1..=64).contains(&data.len())
    {
        return Err(ApiError::bad_request("BUTTON_DATA_INVALID"));
    }
    if let Some(url) = &parsed.url
        && !links::is_button_url(url)
    {
        return Err(ApiError::bad_request("BUTTON_URL_INVALID"));
    }
    let mut echo = Map::new();
    echo.insert("text".to_owned(), Value::String(parsed.text.clone()));
    echo.insert(actions[0].to_owned(), object[actions[0]].clone());
    Ok((parsed, Value::Object(echo)))
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    use super::*;

    fn description(markup: Value) -> String {
        parse(Some(markup)).unwrap_err().description
    }

    #[test]
    fn callback_buttons_are_parsed() {
        let k = parse(Some(json!({"inline_keyboard": [[
            {"text": "Another", "callback_data": "next:1"},
            {"text": "Site", "url": "https://example.org/a"}
        ]]})))
        .unwrap()
        .unwrap();
        assert_eq!(k.rows[0][0].callback_data.as_deref(), Some("next:1"));
        assert_eq!(k.rows[0][1].url.as_deref(), Some("https://example.org/a"));
        assert_eq!(k.json[0][1], json!({"text": "Site", "url": "https://example.org/a"}));
    }

    #[test]
    fn callback_data_must_be_1_to_64_bytes() {
        let at =
            |data: String| json!({"inline_keyboard": [[{"text": "x", "callback_data": data}]]});
        assert!(parse(Some(at("a".repeat(64)))).is_ok());
        // 32 two-byte characters are 64 bytes; 33 are too many.
        assert!(parse(Some(at("é".repeat(32)))).is_ok());
        assert_eq!(description(at("é".repeat(33))), "Bad Request: BUTTON_DATA_INVALID");
        assert_eq!(description(at("a".repeat(65))), "Bad Request: BUTTON_DATA_INVALID");
        assert_eq!(description(at(String::new())), "Bad Request: BUTTON_DATA_INVALID");
    }

    #[test]
    fn a_button_needs_exactly_one_action() {
        assert_eq!(
            description(json!({"inline_keyboard": [[{"text": "x"}]]})),
            "Bad Request: can't parse inline keyboard button: \
             Text buttons are unallowed in the inline keyboard"
        );
        let both = json!({"inline_keyboard": [[
            {"text": "x", "callback_data": "a", "url": "https://t.me"}]]});
        assert!(description(both).contains("exactly one"));
    }

    #[test]
    fn bad_urls_are_rejected() {
        let at = |url: &str| json!({"inline_keyboard": [[{"text": "x", "url": url}]]});
        assert_eq!(description(at("example.org")), "Bad Request: BUTTON_URL_INVALID");
        assert_eq!(description(at("https://")), "Bad Request: BUTTON_URL_INVALID");
        assert!(parse(Some(at("tg://resolve?domain=x"))).is_ok());
    }

    #[test]
    fn other_markups_carry_no_buttons() {
        assert_eq!(parse(Some(json!({"remove_keyboard": true}))).unwrap(), None);
        assert_eq!(parse(Some(json!({"inline_keyboard": []}))).unwrap(), None);
        assert!(parse(Some(json!({"foo": 1}))).is_err());
    }
}
