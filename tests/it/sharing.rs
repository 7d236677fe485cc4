//! Sharing end to end: inline mode (`@bot words` in any chat), the messages it sends into
//! other chats, the deep links in them, and the Share buttons on excerpts, slogans and cards.

use crate::support;

use crate::support::{Setup, TIMEOUT, ask, next, spawn_app, spawn_app_with, utc};
use std::time::Instant;
use telegram_bot_api_emulator::{BotMessage, InlineAnswer, InlineArticle, User, check_html};
use teloxide::{Bot, prelude::Requester};
use tribune::content::load_dir;

const BOT: &str = "tribune_test_bot";

/// The deep-link payload of a result's "Open" button.
fn payload(result: &InlineArticle) -> String {
    let url = result.buttons.iter().flatten().find_map(|b| b.url.clone()).expect("a link button");
    let prefix = format!("https://t.me/{BOT}?start=");
    url.strip_prefix(&prefix).unwrap_or_else(|| panic!("not a deep link: {url}")).to_string()
}

/// The query of a message's Share button.
fn share_query(message: &BotMessage) -> String {
    message
        .buttons
        .iter()
        .flatten()
        .find_map(|b| b.switch_inline_query.clone())
        .unwrap_or_else(|| panic!("no Share button on {:?}", message.buttons))
}

/// Every result is something Telegram accepts and a reader can follow back to the bot.
fn assert_well_formed(answer: &InlineAnswer) {
    assert!(answer.results.len() <= 50);
    for r in &answer.results {
        check_html(&r.text).unwrap_or_else(|e| panic!("{}: {e}", r.text));
        assert!(r.id.len() <= 64);
        assert_eq!(r.parse_mode.as_deref(), Some("HTML"));
        let link = format!("https://t.me/{BOT}?start={}", payload(r));
        assert!(r.text.contains(&format!("href=\"{link}\"")), "no deep link in {}", r.text);
        assert_eq!(payload(r), r.id, "a result's id is its item's stable token");
        let share: Vec<_> =
            r.buttons.iter().flatten().filter_map(|b| b.switch_inline_query.as_deref()).collect();
        assert_eq!(share, [r.id.as_str()]);
    }
}

async fn inline(user: &User, query: &str) -> InlineAnswer {
    let answer = user.inline_query(query, TIMEOUT).await.expect("the bot answers inline");
    assert_well_formed(&answer);
    answer
}

#[tokio::test]
async fn the_bot_supports_inline_mode() {
    let app = spawn_app().await;
    let bot = Bot::new(app.emulator.token()).set_api_url(app.emulator.api_url().parse().unwrap());
    assert!(bot.get_me().await.unwrap().supports_inline_queries);
    app.stop().await;
}

#[tokio::test]
async fn words_find_cited_results_that_reach_other_chats_with_a_deep_link() {
    // Times an answer: alone on the machine (support::gate).
    let _alone = crate::support::gate::exclusive();
    let app = spawn_app().await;
    let ann = app.user(40, "en");
    let started = Instant::now();
    let answer = inline(&ann, "hasanli").await;
    let took = started.elapsed();
    assert!(took < std::time::Duration::from_secs(2), "answered in {took:?}");
    assert_eq!(answer.cache_time, Some(300));
    assert!(answer.is_personal, "answers are in each reader's language");
    assert_eq!(answer.ids()[0], "p_ulvi-hasanli");
    let card = &answer.results[0];
    assert_eq!(card.title, "⛓ Ulvi Hasanli");
    let text = card.plain_text();
    assert!(text.starts_with("⛓ Ulvi Hasanli\nJournalists"), "{text}");
    assert!(
        text.contains("\n— Freedom for all political prisoners in Azerbaijan"),
        "cited: {text}"
    );
    assert!(text.ends_with("🔗 More from @tribune_test_bot"), "{text}");

    // Ann sends it into a group: the members see the card, its citation and the way back.
    let group = app.emulator.group(-4001, "Friends");
    let seen = ann.send_inline_result(&group, &answer, "p_ulvi-hasanli");
    assert_eq!(seen.plain_text(), text);
    assert!(seen.text.contains(&format!("href=\"https://t.me/{BOT}?start=p_ulvi-hasanli\"")));
    assert_eq!(group.messages_via_bot().len(), 1);

    // A member follows the link: the bot opens the same card in a private chat.
    let bob = app.user(41, "en");
    let opened = ask(&bob, &format!("/start {}", payload(card))).await;
    assert!(opened.plain_text().starts_with("⛓ Ulvi Hasanli\nJournalists"));
    assert!(text.starts_with(opened.plain_text().lines().next().unwrap()));

    // Words that match a slogan and excerpts offer both, each cited.
    let revolution = inline(&ann, "permanent revolution").await;
    assert_eq!(revolution.ids()[0], "s_permanent-revolution");
    let excerpt = revolution.results.iter().find(|r| r.id.starts_with("e_")).expect("an excerpt");
    assert!(excerpt.plain_text().contains("\n— "), "cited: {}", excerpt.plain_text());
    app.stop().await;
}

#[tokio::test]
async fn a_result_sent_into_the_bots_own_chat_is_not_taken_for_a_search() {
    let app = spawn_app().await;
    let ann = app.user(42, "en");
    let answer = inline(&ann, "freedom").await;
    ann.send_inline_result(&ann, &answer, answer.ids()[0]);
    let help = ask(&ann, "/help").await;
    assert!(help.plain_text().contains("/excerpt"), "{}", help.plain_text());
    assert!(ann.take_new().is_empty());
    app.stop().await;
}

#[tokio::test]
async fn an_empty_query_offers_the_slogan_of_the_day_as_in_digests_and_prisoner_cards() {
    let app =
        spawn_app_with(Setup { clock: Some(utc("2026-11-25T04:00:00Z")), ..Setup::default() })
            .await;
    let ann = app.user(43, "en");
    let answer = inline(&ann, "").await;
    assert_eq!(answer.results.len(), 6, "{:?}", answer.ids());
    let slogan = &answer.results[0];
    assert_eq!(slogan.title, "✊ Slogan of the day");
    assert!(slogan.id.starts_with("s_"));
    assert!(answer.results[1..].iter().all(|r| r.id.starts_with("p_")), "{:?}", answer.ids());
    assert_eq!(answer.next_offset, None);

    // The digest of the same day carries the same slogan.
    ann.send_text("/subscribe");
    next(&ann).await;
    app.set_time(utc("2026-11-25T05:00:01Z"));
    let digest = next(&ann).await;
    let words = slogan.plain_text().lines().next().unwrap().to_string();
    assert!(digest.plain_text().contains(&words), "{words} not in {}", digest.plain_text());
    app.stop().await;
}

#[tokio::test]
async fn a_query_without_a_match_offers_the_bot_instead() {
    let app = spawn_app().await;
    let ann = app.user(44, "en");
    let answer = inline(&ann, "zzzqqqxxx").await;
    assert!(answer.results.is_empty());
    assert_eq!(
        answer.button,
        Some(("Nothing found: browse the statements".to_string(), "statements".to_string()))
    );
    // The button's start parameter opens the statements.
    let opened = ask(&ann, "/start statements").await;
    assert!(opened.plain_text().starts_with("Statements (3)"));
    app.stop().await;
}

#[tokio::test]
async fn hostile_queries_get_valid_answers() {
    let app = spawn_app().await;
    let ann = app.user(45, "en");
    let huge = "revolution ".repeat(500);
    let queries = [
        "<b>revolution</b>",
        "</a><a href=\"javascript:alert(1)\">",
        "&amp; & &lt; \"'",
        "\u{202e}noitulover\u{202c} مرحبا",
        "free\u{200b}dom\u{200d}\u{fe0f}",
        "🙂🙂🙂",
        huge.as_str(),
        "p_<script>",
        "e_cpa-izmir-speech_en_99999",
        "s_",
        "\n\t ",
        "İNQİLABIN",
    ];
    for query in queries {
        let answer = inline(&ann, query).await;
        assert!(answer.results.len() <= 20, "{query}");
    }
    let id = ann.send_inline_query("freedom", "not-an-offset");
    let answer = ann.wait_for_inline_answer(&id, TIMEOUT).await.unwrap();
    assert!(answer.results.is_empty() && answer.next_offset.is_none());
    app.stop().await;
}

#[tokio::test]
async fn more_results_come_page_by_page() {
    let app = spawn_app().await;
    let ann = app.user(46, "en");
    let mut answer = inline(&ann, "the").await;
    let mut ids: Vec<String> = Vec::new();
    let mut pages = 1;
    loop {
        assert!(answer.results.len() <= 20);
        ids.extend(answer.ids().into_iter().map(String::from));
        let Some(offset) = answer.next_offset.clone() else { break };
        answer = ann.inline_page("the", &offset, TIMEOUT).await.unwrap();
        assert_well_formed(&answer);
        pages += 1;
    }
    assert!(pages > 1, "a common word fills several pages");
    let unique: std::collections::HashSet<&String> = ids.iter().collect();
    assert_eq!(unique.len(), ids.len(), "no result twice");
    app.stop().await;
}

#[tokio::test]
async fn results_are_in_the_readers_language() {
    let app = spawn_app().await;
    let az = app.user(47, "az");
    assert_eq!(inline(&az, "").await.results[0].title, "✊ Günün şüarı");
    let ann = app.user(48, "en");
    ask(&ann, "/lang ru").await;
    let answer = inline(&ann, "").await;
    assert_eq!(answer.results[0].title, "✊ Лозунг дня");
    assert!(answer.results[0].plain_text().ends_with("🔗 Больше у @tribune_test_bot"));
    app.stop().await;
}

#[tokio::test]
async fn share_buttons_find_the_same_item_first() {
    let app = spawn_app().await;
    let corpus = load_dir(&support::messages_dir()).unwrap().corpus;
    // A reader per view, so no one goes over the flood allowance.
    let views = [
        "/excerpt",
        "/excerpt revolution",
        "/slogan",
        "/prisoner yagublu",
        "/start e_cpa-izmir-speech_ru_2",
    ];
    for (i, command) in views.into_iter().enumerate() {
        let reader = app.user(500 + i as i64, "en");
        let view = ask(&reader, command).await;
        let query = share_query(&view);
        let answer = inline(&reader, &query).await;
        assert_eq!(answer.ids(), [query.as_str()], "the Share query finds exactly its item");
        let shared = answer.results[0].plain_text();
        let head = view.plain_text().lines().next().unwrap().to_string();
        assert!(shared.starts_with(&head), "{shared:?} does not start with {head:?}");
        // And the shared message's link opens the item again.
        let opened = ask(&reader, &format!("/start {}", payload(&answer.results[0]))).await;
        assert_eq!(opened.plain_text(), view.plain_text());
    }
    // Every slogan and prisoner has a Share button through its deep link.
    for (i, s) in corpus.slogans.iter().enumerate() {
        let reader = app.user(600 + i as i64, "en");
        let view = ask(&reader, &format!("/start s_{}", s.id)).await;
        assert_eq!(share_query(&view), format!("s_{}", s.id));
    }
    for (i, p) in corpus.prisoners.iter().enumerate() {
        let reader = app.user(700 + i as i64, "en");
        let view = ask(&reader, &format!("/start p_{}", p.id)).await;
        assert_eq!(share_query(&view), format!("p_{}", p.id));
    }
    app.stop().await;
}
