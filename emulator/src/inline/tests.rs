use serde_json::json;

use std::time::Instant;

use super::*;
use crate::{
    dispatch::call,
    inline_user::MAX_QUERY_CHARS,
    method::Method,
    state::InlineQueryRecord,
    world::{Chat, ChatKind},
};

fn state() -> State {
    let mut s = State::new();
    s.chats.insert(1, Chat::new(1, ChatKind::Private { first_name: "Ann".into() }));
    s
}

fn query(s: &mut State, id: &str) {
    s.inline_queries
        .insert(id.into(), InlineQueryRecord { from: 1, at: Instant::now(), answer: None });
}

fn answer(s: &mut State, params: Value) -> Result<Value, ApiError> {
    call(s, Method::AnswerInlineQuery, &Params::from_json(params))
}

fn error(result: Result<Value, ApiError>) -> String {
    result.expect_err("the call should fail").description
}

fn article(id: &str, text: &str) -> Value {
    json!({
        "type": "article",
        "id": id,
        "title": "Title",
        "description": "What it is",
        "input_message_content": {"message_text": text, "parse_mode": "HTML",
            "link_preview_options": {"is_disabled": true}},
        "reply_markup": {"inline_keyboard": [[
            {"text": "Open", "url": "https://t.me/tribune_test_bot?start=s_x"},
            {"text": "Share", "switch_inline_query": "s_x"}
        ]]}
    })
}

#[test]
fn an_answer_is_stored_with_its_results() {
    let mut s = state();
    query(&mut s, "q1");
    let params = json!({
        "inline_query_id": "q1",
        "results": [article("a", "<b>Hi</b> &amp; bye"), article("b", "two")],
        "cache_time": 300,
        "is_personal": true,
        "next_offset": "20",
        "button": {"text": "Open the bot", "start_parameter": "statements"},
    });
    assert_eq!(answer(&mut s, params).unwrap(), json!(true));
    let got = s.inline_queries["q1"].answer.clone().unwrap();
    assert_eq!(got.ids(), ["a", "b"]);
    let a = got.result("a").unwrap();
    assert_eq!(a.plain_text(), "Hi & bye");
    assert_eq!(a.text, "<b>Hi</b> &amp; bye");
    assert_eq!(a.description.as_deref(), Some("What it is"));
    assert_eq!(a.buttons[0][1].switch_inline_query.as_deref(), Some("s_x"));
    assert!(a.disable_link_preview);
    assert_eq!(got.next_offset.as_deref(), Some("20"));
    assert_eq!(got.cache_time, Some(300));
    assert!(got.is_personal);
    assert_eq!(got.button, Some(("Open the bot".into(), "statements".into())));
}

#[test]
fn unknown_answered_and_expired_queries_are_refused() {
    let mut s = state();
    let empty = |id: &str| json!({"inline_query_id": id, "results": []});
    assert_eq!(error(answer(&mut s, empty("nope"))), "Bad Request: QUERY_ID_INVALID");
    query(&mut s, "q1");
    assert!(answer(&mut s, empty("q1")).is_ok());
    assert_eq!(error(answer(&mut s, empty("q1"))), "Bad Request: QUERY_ID_INVALID");
    query(&mut s, "old");
    let long_ago = Instant::now().checked_sub(QUERY_TTL + Duration::from_secs(1));
    s.inline_queries.get_mut("old").unwrap().at = long_ago.unwrap();
    assert_eq!(
        error(answer(&mut s, empty("old"))),
        "Bad Request: query is too old and response timeout expired or query ID is invalid"
    );
}

#[test]
fn results_follow_telegrams_limits() {
    let mut s = state();
    let mut n = 0;
    let mut try_results = |results: Vec<Value>, extra: Value| {
        n += 1;
        let id = format!("q{n}");
        query(&mut s, &id);
        let mut params = json!({"inline_query_id": id, "results": results});
        for (k, v) in extra.as_object().unwrap() {
            params[k] = v.clone();
        }
        answer(&mut s, params)
    };
    let many = |count: usize| (0..count).map(|i| article(&i.to_string(), "x")).collect();
    assert!(try_results(many(50), json!({})).is_ok());
    assert_eq!(error(try_results(many(51), json!({}))), "Bad Request: RESULTS_TOO_MUCH");
    let twice = vec![article("a", "x"), article("a", "y")];
    assert_eq!(error(try_results(twice, json!({}))), "Bad Request: RESULT_ID_DUPLICATE");
    assert!(try_results(vec![article(&"i".repeat(64), "x")], json!({})).is_ok());
    let long_id = vec![article(&"i".repeat(65), "x")];
    assert_eq!(error(try_results(long_id, json!({}))), "Bad Request: RESULT_ID_INVALID");
    assert_eq!(
        error(try_results(vec![article("", "x")], json!({}))),
        "Bad Request: RESULT_ID_INVALID"
    );
    for empty in ["", "  ", "<b></b>"] {
        let result = try_results(vec![article("a", empty)], json!({}));
        assert_eq!(error(result), "Bad Request: MESSAGE_EMPTY");
    }
    assert!(try_results(vec![article("a", &"a".repeat(4096))], json!({})).is_ok());
    let long = vec![article("a", &"a".repeat(4097))];
    assert_eq!(error(try_results(long, json!({}))), "Bad Request: MESSAGE_TOO_LONG");
    let unclosed = vec![article("a", "<b>x")];
    assert_eq!(
        error(try_results(unclosed, json!({}))),
        "Bad Request: can't parse entities: Can't find end tag corresponding to start tag \"b\""
    );
    let bare_amp = vec![article("a", "R&D")];
    assert!(error(try_results(bare_amp, json!({}))).contains("can't parse entities"));
    let mut untitled = article("a", "x");
    untitled["title"] = json!("");
    assert_eq!(error(try_results(vec![untitled], json!({}))), "Bad Request: ARTICLE_TITLE_EMPTY");
    let mut photo = article("a", "x");
    photo["type"] = json!("photo");
    assert_eq!(error(try_results(vec![photo], json!({}))), "Bad Request: RESULT_TYPE_INVALID");
    let mut bad_button = article("a", "x");
    bad_button["reply_markup"] = json!({"inline_keyboard": [[{"text": "x", "url": "nope"}]]});
    assert_eq!(error(try_results(vec![bad_button], json!({}))), "Bad Request: BUTTON_URL_INVALID");
    let offset = json!({"next_offset": "9".repeat(65)});
    assert_eq!(error(try_results(vec![], offset)), "Bad Request: NEXT_OFFSET_INVALID");
    assert!(try_results(vec![], json!({"next_offset": "9".repeat(64)})).is_ok());
    let button = |start: &str| json!({"button": {"text": "Open", "start_parameter": start}});
    assert_eq!(error(try_results(vec![], button("a b"))), "Bad Request: START_PARAM_INVALID");
    assert_eq!(error(try_results(vec![], button(""))), "Bad Request: START_PARAM_INVALID");
    assert!(try_results(vec![], button("g_journalist")).is_ok());
}

#[test]
fn a_refused_answer_leaves_the_query_open() {
    let mut s = state();
    query(&mut s, "q1");
    let bad = json!({"inline_query_id": "q1", "results": [article("a", "")]});
    assert!(answer(&mut s, bad).is_err());
    let good = json!({"inline_query_id": "q1", "results": [article("a", "x")]});
    assert!(answer(&mut s, good).is_ok());
}

#[tokio::test]
async fn a_chosen_result_is_sent_via_the_bot_and_reaches_the_bot() {
    let emulator = crate::Emulator::start().await.unwrap();
    let ann = emulator.user(1, "Ann", Some("en"));
    let group = emulator.group(-5, "Friends");
    let id = ann.send_inline_query(&"x".repeat(300), "");
    let (update, query_len) = emulator.with_state(|s| {
        let u = s.updates.last().unwrap();
        let len = u["inline_query"]["query"].as_str().unwrap().chars().count();
        (u, len)
    });
    assert_eq!(update["inline_query"]["id"], json!(id));
    assert_eq!(update["inline_query"]["from"]["id"], json!(1));
    assert_eq!(query_len, MAX_QUERY_CHARS, "cut as a client does");
    emulator.with_state(|s| {
        let params = json!({"inline_query_id": id, "results": [article("s_x", "<i>Hi</i>")]});
        answer(s, params).unwrap();
    });
    let got = ann.wait_for_inline_answer(&id, Duration::from_secs(1)).await.unwrap();
    let sent = ann.send_inline_result(&group, &got, "s_x");
    assert_eq!(sent.plain_text(), "Hi");
    assert_eq!(sent.buttons[0][0].url.as_deref(), Some("https://t.me/tribune_test_bot?start=s_x"));
    assert_eq!(group.messages_via_bot(), vec![sent.clone()]);
    assert!(group.messages().is_empty(), "the message is the user's, not the bot's");
    let message = emulator.with_state(|s| s.updates.last().unwrap());
    assert_eq!(message["message"]["via_bot"]["username"], json!("tribune_test_bot"));
    assert_eq!(message["message"]["from"]["id"], json!(1));
    assert_eq!(message["message"]["message_id"], json!(sent.message_id));
    // teloxide reads the update as a message sent via the bot.
    let parsed: teloxide::types::Update = serde_json::from_str(&message.to_string()).unwrap();
    let teloxide::types::UpdateKind::Message(m) = parsed.kind else {
        panic!("not a message: {:?}", parsed.kind)
    };
    assert_eq!(m.via_bot.unwrap().id.0, 7_000_000_001);
    let parsed: teloxide::types::Update = serde_json::from_str(&update.to_string()).unwrap();
    assert!(matches!(parsed.kind, teloxide::types::UpdateKind::InlineQuery(_)));
    emulator.shutdown().await;
}
