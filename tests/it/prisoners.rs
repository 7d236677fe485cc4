//! Political-prisoner lists and cards end to end.

use crate::support::{TIMEOUT, ask, labels, next, press, spawn_app};

#[tokio::test]
async fn the_list_is_grouped_with_counts() {
    let app = spawn_app().await;
    let user = app.user(20, "en");
    let list = ask(&user, "/prisoners").await;
    let text = list.plain_text();
    assert!(text.starts_with("Political prisoners named in the statements: 13"), "{text}");
    for header in ["Courier union (3)", "Journalists (7)", "Politicians (1)", "Activists (2)"] {
        assert!(text.contains(header), "{header} missing from {text}");
    }
    assert!(
        text.contains("• Afiaddin Mammadov — Union of Courier Association, leader · in prison")
    );
    assert!(text.contains("• Tofig Yagublu — Musavat Party · in prison"));
    assert!(text.contains("• A member of İnqilabın Sesi (Voice of Revolution) (name not given) —"));
    assert!(text.contains(
        "• Mohyaddin Orujov — Critic of the government on Instagram · in prison, since October 2023"
    ));
    assert_eq!(
        labels(&list),
        vec![vec!["Courier union", "Journalists", "Politicians", "Activists"]]
    );

    // Filtering edits the list in place.
    press(&user, &list, "Journalists");
    let journalists = user.wait_for_edit(list.message_id, TIMEOUT).await.unwrap();
    assert!(journalists.plain_text().starts_with("Political prisoners named in the statements: 7"));
    assert!(!journalists.plain_text().contains("Couriers"));
    assert_eq!(labels(&journalists)[0][0], "All");
    app.stop().await;
}

#[tokio::test]
async fn groups_can_be_named_in_any_language() {
    let app = spawn_app().await;
    let user = app.user(21, "en");
    assert!(ask(&user, "/prisoners couriers").await.plain_text().contains("Courier union (3)"));
    assert!(ask(&user, "/prisoners журналисты").await.plain_text().contains("Journalists (7)"));
    assert!(ask(&user, "/prisoners politician").await.plain_text().contains("Politicians (1)"));
    let unknown = ask(&user, "/prisoners poets").await;
    assert_eq!(
        unknown.plain_text(),
        "There is no group “poets”. Groups: Courier union, Journalists, Politicians, Activists."
    );
    app.stop().await;
}

#[tokio::test]
async fn a_card_says_who_why_since_when_and_quotes_the_statement() {
    let app = spawn_app().await;
    let user = app.user(22, "en");
    let card = ask(&user, "/prisoner hasanli").await;
    let text = card.plain_text();
    assert!(
        text.starts_with(
            "⛓ Ulvi Hasanli\nJournalists · Abzas Media\nStatus: in prison, since November 2023"
        ),
        "{text}"
    );
    assert!(text.contains("So far, independent journalists such as UlviHasanli, SevinjVagifgizi"));
    assert!(text.contains("— Freedom for all political prisoners in Azerbaijan, İnqilabın Sesi (Voice of Revolution), about December 2023"));
    press(&user, &card, "Full statement");
    assert!(next(&user).await.plain_text().contains("Union leader AfiaddinMammadov"));

    // The statement's fused spelling and the Azerbaijani spelling find the same person.
    assert!(
        ask(&user, "/prisoner SevinjVagifgizi")
            .await
            .plain_text()
            .starts_with("⛓ Sevinj Vagifgizi")
    );
    assert!(ask(&user, "/prisoner Yağublu").await.plain_text().starts_with("⛓ Tofig Yagublu"));
    app.stop().await;
}

#[tokio::test]
async fn several_matches_offer_a_choice_and_none_is_explained() {
    let app = spawn_app().await;
    let user = app.user(23, "en");
    let choice = ask(&user, "/prisoner orujov").await;
    assert_eq!(choice.plain_text(), "Several people match “orujov”. Choose one:");
    assert_eq!(labels(&choice), vec![vec!["Aziz Orujov"], vec!["Mohyaddin Orujov"]]);
    press(&user, &choice, "Mohyaddin Orujov");
    assert!(next(&user).await.plain_text().contains("imprisoned again after his release"));
    let none = ask(&user, "/prisoner Smith").await;
    assert_eq!(none.plain_text(), "No one named “Smith” is on the list. See everyone: /prisoners.");
    let usage = ask(&user, "/prisoner").await;
    assert!(usage.plain_text().starts_with("Whose card?"));
    app.stop().await;
}

#[tokio::test]
async fn cards_are_localised() {
    let app = spawn_app().await;
    let user = app.user(24, "ru");
    let card = ask(&user, "/prisoner Tofig").await;
    assert!(
        card.plain_text().starts_with("⛓ Tofig Yagublu\nПолитики · Musavat Party"),
        "{}",
        card.plain_text()
    );
    app.stop().await;
}

#[tokio::test]
async fn names_are_shown_as_the_statement_spells_them_and_other_spellings_still_find_them() {
    let app = spawn_app().await;
    let user = app.user(25, "en");
    // The appeal writes "SevinjVagifgizi": readers see that, with the space restored.
    let list = ask(&user, "/prisoners journalists").await.plain_text();
    assert!(list.contains("• Sevinj Vagifgizi — Abzas Media · in prison"), "{list}");
    assert!(!list.contains("Vagifqizi"), "{list}");
    // The spelling the card used before, and the Azerbaijani one, are search aliases.
    for query in ["Sevinj Vagifqizi", "vagifqizi", "Sevinc Vaqifqızı"] {
        let card = ask(&user, &format!("/prisoner {query}")).await.plain_text();
        assert!(
            card.starts_with("⛓ Sevinj Vagifgizi\nJournalists · Abzas Media"),
            "{query}: {card}"
        );
    }
    app.stop().await;
}
