//! Deep links (`t.me/<bot>?start=<payload>`) open the item they name.

use crate::support::{ask, labels, spawn_app};

#[tokio::test]
async fn each_payload_opens_its_item() {
    let app = spawn_app().await;
    let user = app.user(30, "en");
    let list = ask(&user, "/start prisoners").await;
    assert!(list.plain_text().starts_with("Political prisoners named in the statements: 13"));
    let group = ask(&user, "/start g_journalist").await;
    assert!(group.plain_text().starts_with("Political prisoners named in the statements: 7"));
    let card = ask(&user, "/start p_afiaddin-mammadov").await;
    assert!(card.plain_text().starts_with("⛓ Afiaddin Mammadov\nCourier union"));
    let slogan = ask(&user, "/start s_permanent-revolution").await;
    assert!(slogan.plain_text().starts_with("✊ One Solution, Permanent Revolution!"));
    let statements = ask(&user, "/start statements").await;
    assert!(statements.plain_text().starts_with("Statements (3)"));
    let read = ask(&user, "/start r_political-prisoners-appeal").await;
    assert!(
        read.plain_text()
            .starts_with("Freedom for all political prisoners in Azerbaijan\nİnqilabın Sesi")
    );
    let excerpt = ask(&user, "/start e_cpa-izmir-speech_ru_2").await;
    assert!(
        excerpt.plain_text().starts_with("Первым долгом разрешите выразит благодарность"),
        "{}",
        excerpt.plain_text()
    );
    assert!(excerpt.plain_text().contains("— Выступление на 23-й Международной встрече"));
    app.stop().await;
}

#[tokio::test]
async fn a_broken_or_stale_link_shows_the_menu_with_a_notice() {
    let app = spawn_app().await;
    let user = app.user(31, "en");
    for payload in ["p_nobody", "e_cpa-izmir-speech_en_999", "nonsense", "r_<b>"] {
        let reply = ask(&user, &format!("/start {payload}")).await;
        assert!(
            reply
                .plain_text()
                .starts_with("That link does not lead anywhere any more.\n\nTribune carries"),
            "{payload}: {}",
            reply.plain_text()
        );
        assert_eq!(labels(&reply).len(), 2);
    }
    app.stop().await;
}
