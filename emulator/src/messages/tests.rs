use serde_json::json;

use super::*;
use crate::{commands, dispatch::call, method::Method, world::ChatKind};

fn state() -> State {
    let mut s = State::new();
    s.chats.insert(1, Chat::new(1, ChatKind::Private { first_name: "Ann".into() }));
    s
}

fn run(s: &mut State, method: Method, params: Value) -> Result<Value, ApiError> {
    call(s, method, &Params::from_json(params))
}

fn send(s: &mut State, params: Value) -> Result<Value, ApiError> {
    run(s, Method::SendMessage, params)
}

fn error(result: Result<Value, ApiError>) -> String {
    result.expect_err("the call should fail").description
}

#[test]
fn message_ids_increase_from_one() {
    let mut s = state();
    for expected in 1..=3 {
        let m = send(&mut s, json!({"chat_id": 1, "text": "hi"})).unwrap();
        assert_eq!(m["message_id"], expected);
        assert_eq!(m["from"]["is_bot"], true);
        assert_eq!(m["chat"]["type"], "private");
    }
}

#[test]
fn unknown_chats_and_missing_ids_are_refused() {
    let mut s = state();
    assert_eq!(
        error(send(&mut s, json!({"chat_id": 2, "text": "x"}))),
        "Bad Request: chat not found"
    );
    assert_eq!(
        error(send(&mut s, json!({"chat_id": "@nobody", "text": "x"}))),
        "Bad Request: chat not found"
    );
    assert_eq!(error(send(&mut s, json!({"text": "x"}))), "Bad Request: chat_id is empty");
}

#[test]
fn empty_text_is_refused() {
    let mut s = state();
    for params in [
        json!({"chat_id": 1}),
        json!({"chat_id": 1, "text": ""}),
        json!({"chat_id": 1, "text": "  \n "}),
        json!({"chat_id": 1, "text": "<b></b>", "parse_mode": "HTML"}),
    ] {
        assert_eq!(error(send(&mut s, params)), "Bad Request: message text is empty");
    }
}

#[test]
fn length_is_counted_in_utf16_after_parsing() {
    let mut s = state();
    let ok = |s: &mut State, text: String| {
        send(s, json!({"chat_id": 1, "text": text, "parse_mode": "HTML"}))
    };
    assert!(ok(&mut s, "a".repeat(4096)).is_ok());
    assert!(ok(&mut s, format!("<b>{}</b>&amp;", "a".repeat(4095))).is_ok());
    assert!(ok(&mut s, "😀".repeat(2048)).is_ok());
    // 4096 'é' are 8192 bytes but 4096 UTF-16 units: fine.
    assert!(ok(&mut s, "é".repeat(4096)).is_ok());
    assert_eq!(error(ok(&mut s, "a".repeat(4097))), "Bad Request: message is too long");
    assert_eq!(error(ok(&mut s, "😀".repeat(2048) + "a")), "Bad Request: message is too long");
}

#[test]
fn bad_html_is_refused_with_telegrams_reason() {
    let mut s = state();
    let result = send(&mut s, json!({"chat_id": 1, "text": "<b>x", "parse_mode": "HTML"}));
    assert_eq!(
        error(result),
        "Bad Request: can't parse entities: Can't find end tag corresponding to start tag \"b\""
    );
    // Without a parse mode, markup is just text.
    let m = send(&mut s, json!({"chat_id": 1, "text": "<b>x"})).unwrap();
    assert_eq!(m["text"], "<b>x");
}

#[test]
fn html_becomes_text_and_entities() {
    let mut s = state();
    let m =
        send(&mut s, json!({"chat_id": 1, "text": "<b>Hi</b> &amp; bye", "parse_mode": "HTML"}))
            .unwrap();
    assert_eq!(m["text"], "Hi & bye");
    assert_eq!(m["entities"], json!([{"type": "bold", "offset": 0, "length": 2}]));
}

#[test]
fn replies_need_an_existing_message_unless_allowed() {
    let mut s = state();
    send(&mut s, json!({"chat_id": 1, "text": "first"})).unwrap();
    let m =
        send(&mut s, json!({"chat_id": 1, "text": "re", "reply_parameters": {"message_id": 1}}))
            .unwrap();
    assert_eq!(m["reply_to_message"]["message_id"], 1);
    let missing = json!({"chat_id": 1, "text": "re", "reply_parameters": {"message_id": 9}});
    assert_eq!(error(send(&mut s, missing)), "Bad Request: message to be replied not found");
    let lenient = json!({"chat_id": 1, "text": "re",
        "reply_parameters": {"message_id": 9, "allow_sending_without_reply": true}});
    assert!(send(&mut s, lenient).is_ok());
}

#[test]
fn edits_follow_telegrams_rules() {
    let mut s = state();
    let keyboard = json!({"inline_keyboard": [[{"text": "More", "callback_data": "more"}]]});
    send(
        &mut s,
        json!({"chat_id": 1, "text": "<b>a</b>", "parse_mode": "HTML", "reply_markup": keyboard}),
    )
    .unwrap();
    let edit = |s: &mut State, params: Value| run(s, Method::EditMessageText, params);
    let same = json!({"chat_id": 1, "message_id": 1, "text": "<b>a</b>", "parse_mode": "HTML",
        "reply_markup": keyboard});
    assert!(
        error(edit(&mut s, same)).starts_with("Bad Request: message is not modified: specified")
    );
    let missing = json!({"chat_id": 1, "message_id": 7, "text": "b"});
    assert_eq!(error(edit(&mut s, missing)), "Bad Request: message to edit not found");
    let long = json!({"chat_id": 1, "message_id": 1, "text": "a".repeat(4097)});
    assert_eq!(error(edit(&mut s, long)), "Bad Request: MESSAGE_TOO_LONG");
    // Same text but no markup: the keyboard goes, so it is a change.
    let m = edit(
        &mut s,
        json!({"chat_id": 1, "message_id": 1, "text": "<b>a</b>", "parse_mode": "HTML"}),
    )
    .unwrap();
    assert!(m.get("reply_markup").is_none());
    assert!(m["edit_date"].is_i64());
    let markup = |s: &mut State, params: Value| run(s, Method::EditMessageReplyMarkup, params);
    assert!(
        markup(&mut s, json!({"chat_id": 1, "message_id": 1, "reply_markup": keyboard})).is_ok()
    );
    let again = json!({"chat_id": 1, "message_id": 1, "reply_markup": keyboard});
    assert!(error(markup(&mut s, again)).contains("message is not modified"));
}

#[test]
fn people_messages_cannot_be_edited_by_the_bot() {
    let mut s = state();
    let person = Person {
        id: 1,
        first_name: "Ann".into(),
        username: None,
        language_code: None,
        is_bot: false,
    };
    let text = Content::Text {
        raw: "x".into(),
        parse_mode: None,
        parsed: html::parse("x", Strictness::Telegram).unwrap(),
    };
    s.chats.get_mut(&1).unwrap().store(StoredMessage::new(person, text));
    let result =
        run(&mut s, Method::EditMessageText, json!({"chat_id": 1, "message_id": 1, "text": "y"}));
    assert_eq!(error(result), "Bad Request: message can't be edited");
}

#[test]
fn delete_removes_once() {
    let mut s = state();
    send(&mut s, json!({"chat_id": 1, "text": "x"})).unwrap();
    let params = json!({"chat_id": 1, "message_id": 1});
    assert_eq!(run(&mut s, Method::DeleteMessage, params.clone()).unwrap(), json!(true));
    assert_eq!(
        error(run(&mut s, Method::DeleteMessage, params)),
        "Bad Request: message to delete not found"
    );
}

#[test]
fn callback_queries_are_answered_once() {
    let mut s = state();
    s.callbacks.insert("q1".into(), crate::state::CallbackRecord { chat_id: 1, answered: false });
    let answer = json!({"callback_query_id": "q1", "text": "Saved"});
    assert_eq!(run(&mut s, Method::AnswerCallbackQuery, answer.clone()).unwrap(), json!(true));
    let invalid =
        "Bad Request: query is too old and response timeout expired or query ID is invalid";
    assert_eq!(error(run(&mut s, Method::AnswerCallbackQuery, answer)), invalid);
    let unknown = json!({"callback_query_id": "nope"});
    assert_eq!(error(run(&mut s, Method::AnswerCallbackQuery, unknown)), invalid);
    assert_eq!(s.chats[&1].answers[0].text.as_deref(), Some("Saved"));
}

#[test]
fn commands_are_stored_per_scope_and_language() {
    let mut s = state();
    let en = json!({"commands": [{"command": "start", "description": "Start"}]});
    let ru =
        json!({"commands": [{"command": "start", "description": "Начать"}], "language_code": "ru"});
    run(&mut s, Method::SetMyCommands, en).unwrap();
    run(&mut s, Method::SetMyCommands, ru).unwrap();
    let got = run(&mut s, Method::GetMyCommands, json!({"language_code": "ru"})).unwrap();
    assert_eq!(got, json!([{"command": "start", "description": "Начать"}]));
    assert_eq!(commands::visible_in_private(&s, Some("ru"))[0].1, "Начать");
    assert_eq!(commands::visible_in_private(&s, Some("az"))[0].1, "Start");
    let bad = json!({"commands": [{"command": "Start!", "description": "x"}]});
    assert_eq!(error(run(&mut s, Method::SetMyCommands, bad)), "Bad Request: BOT_COMMAND_INVALID");
    run(&mut s, Method::DeleteMyCommands, json!({})).unwrap();
    assert!(commands::visible_in_private(&s, None).is_empty());
}
