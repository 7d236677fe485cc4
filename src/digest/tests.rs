use super::*;
use crate::{
    content::{Lang, PartialDate, load_dir},
    subscription::{Contents, Subscription},
};
use std::{collections::HashSet, path::Path};

fn corpus() -> Corpus {
    load_dir(&Path::new(env!("CARGO_MANIFEST_DIR")).join("messages")).unwrap().corpus
}

fn inputs<'a>(corpus: &'a Corpus, changes: &'a [(u64, PrisonerChange)], head: u64) -> Inputs<'a> {
    Inputs {
        corpus,
        changes,
        news_head: head,
        today: NaiveDate::from_ymd_opt(2026, 11, 25).unwrap(),
        bot_username: "tribune_bot",
    }
}

fn plain(messages: &[OutMessage]) -> String {
    messages.iter().map(|m| crate::render::html::plain_text(&m.html)).collect::<Vec<_>>().join("\n")
}

#[test]
fn a_first_digest_has_slogan_excerpt_and_the_list() {
    let corpus = corpus();
    let sub = Subscription::new(42, ChatKind::Private, Lang::En);
    let digest = compose(&sub, &inputs(&corpus, &[], 0)).unwrap();
    assert_eq!(digest.messages.len(), 1, "fits one message");
    let text = plain(&digest.messages);
    assert!(text.starts_with("🗞 Tribune · 25 November 2026\n\n✊ "), "{text}");
    assert_eq!(text.matches("\n— ").count(), 2, "the slogan and the excerpt are cited: {text}");
    assert!(text.contains("⛓ Political prisoners: 13 behind bars"), "{text}");
    assert!(text.contains("• Mohyaddin Orujov — in prison, since October 2023"), "{text}");
    assert_eq!(digest.seen_excerpts.len(), 1);
    let labels: Vec<&str> =
        digest.messages[0].buttons[0].iter().map(|b| b.label.as_str()).collect();
    assert_eq!(labels, ["📖 Full statement", "⛓ Political prisoners"]);
}

#[test]
fn the_rotation_never_repeats_until_everything_was_seen() {
    let corpus = corpus();
    let mut sub = Subscription::new(7, ChatKind::Private, Lang::En);
    sub.contents = Contents { slogan: false, excerpt: true, prisoners: PrisonerNews::Off };
    let total = corpus.excerpts_for(Lang::En).len();
    let mut seen_texts = HashSet::new();
    for _ in 0..total {
        let digest = compose(&sub, &inputs(&corpus, &[], 0)).unwrap();
        assert!(
            seen_texts.insert(plain(&digest.messages)),
            "an excerpt repeated before the round ended"
        );
        sub.seen_excerpts = digest.seen_excerpts;
    }
    assert_eq!(sub.seen_excerpts.len(), total);
    let next_round = compose(&sub, &inputs(&corpus, &[], 0)).unwrap();
    assert_eq!(next_round.seen_excerpts.len(), 1, "a new round starts");
    // Another chat gets another order.
    let other = Subscription { chat_id: 8, ..Subscription::new(8, ChatKind::Private, Lang::En) };
    let first_other =
        compose(&Subscription { contents: sub.contents, ..other }, &inputs(&corpus, &[], 0))
            .unwrap();
    let first_mine = compose(
        &Subscription { seen_excerpts: Vec::new(), ..sub.clone() },
        &inputs(&corpus, &[], 0),
    )
    .unwrap();
    assert_ne!(plain(&first_other.messages), plain(&first_mine.messages));
}

#[test]
fn later_digests_tell_what_changed() {
    let corpus = corpus();
    let mut sub = Subscription::new(9, ChatKind::Private, Lang::En);
    sub.contents = Contents { slogan: false, excerpt: false, prisoners: PrisonerNews::Changes };
    sub.prisoner_news_seen = 5;
    sub.last_digest = Some(0);
    let quiet = compose(&sub, &inputs(&corpus, &[], 5)).unwrap();
    assert!(plain(&quiet.messages).contains(
        "No changes since your last digest: 13 political prisoners are still behind bars."
    ));
    let change = PrisonerChange {
        prisoner: "tofig-yagublu".into(),
        from: Some(Status::Imprisoned),
        to: Status::Released,
        at: 0,
    };
    let news = compose(&sub, &inputs(&corpus, &[(6, change)], 6)).unwrap();
    assert!(
        plain(&news.messages)
            .contains("What changed since your last digest\n• Tofig Yagublu: released")
    );
    assert_eq!(news.prisoner_news_seen, 6);
}

#[test]
fn days_in_detention_are_counted_when_the_day_is_known() {
    let mut corpus = corpus();
    corpus.prisoners[0].since = Some(PartialDate { year: 2024, month: Some(11), day: Some(25) });
    let mut sub = Subscription::new(10, ChatKind::Private, Lang::Ru);
    sub.contents = Contents { slogan: false, excerpt: false, prisoners: PrisonerNews::List };
    let text = plain(&compose(&sub, &inputs(&corpus, &[], 0)).unwrap().messages);
    assert!(text.contains("— 731-й день под стражей"), "{text}");
}

#[test]
fn groups_and_channels_get_links_not_callbacks() {
    let corpus = corpus();
    let sub = Subscription::new(-100, ChatKind::Channel, Lang::En);
    let digest = compose(&sub, &inputs(&corpus, &[], 0)).unwrap();
    for button in &digest.messages[0].buttons[0] {
        match &button.kind {
            ButtonKind::Url(url) => {
                assert!(url.starts_with("https://t.me/tribune_bot?start="), "{url}")
            }
            other => panic!("a callback in a channel: {other:?}"),
        }
    }
}

#[test]
fn nothing_chosen_means_no_digest() {
    let corpus = corpus();
    let mut sub = Subscription::new(11, ChatKind::Private, Lang::En);
    sub.contents = Contents { slogan: false, excerpt: false, prisoners: PrisonerNews::Off };
    assert_eq!(compose(&sub, &inputs(&corpus, &[], 0)), None);
}

#[test]
fn alerts_name_the_person_and_the_new_status() {
    let corpus = corpus();
    let sub = Subscription::new(12, ChatKind::Private, Lang::En);
    let change = PrisonerChange {
        prisoner: "ulvi-hasanli".into(),
        from: Some(Status::Imprisoned),
        to: Status::Released,
        at: 0,
    };
    let message = alert(&corpus, &sub, &change, "tribune_bot").unwrap();
    assert_eq!(
        crate::render::html::plain_text(&message.html),
        "⛓ Status change: Ulvi Hasanli — released."
    );
}
