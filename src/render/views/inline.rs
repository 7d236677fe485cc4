//! Inline mode: `@bot words` in any chat offers matching prisoner cards, slogans and excerpts,
//! each a message ready to send with its citation and a deep link back to the bot. An empty
//! query offers the slogan of the day and a few prisoner cards.
//!
//! A Share button's query is the item's deep-link payload (`e_…`, `s_…`, `p_…`): typed inline,
//! it finds exactly that item, so one stable token names an item everywhere. The adapter turns
//! an [`InlinePage`] into Telegram's results; nothing here knows Telegram.

use super::{MAX_QUERY_CHARS, prisoners, reading};
use crate::{
    content::{Excerpt, Prisoner, Slogan, Status, search},
    render::{
        Button, ButtonKind, Ctx, Start,
        html::{MESSAGE_LIMIT, escape, split_plain, visible_len},
    },
};
use chrono::NaiveDate;
use std::collections::HashSet;

/// Results per answer (Telegram allows 50; 20 keep the answer small and quick).
pub const INLINE_PAGE: usize = 20;
/// Prisoner cards offered for an empty query.
pub const FEATURED_PRISONERS: usize = 5;
const TITLE_CHARS: usize = 64;
const DESCRIPTION_CHARS: usize = 120;
/// Room for an excerpt's words in a message sent inline, leaving room for citation and link.
const QUOTE_BUDGET: usize = 3500;

/// One result offered inline: what the list shows, and the message sent when it is chosen.
#[derive(Clone, Debug, PartialEq)]
pub struct InlineResult {
    /// Unique within an answer, at most 64 bytes: the item's deep-link payload.
    pub id: String,
    /// Plain text.
    pub title: String,
    /// Plain text.
    pub description: String,
    /// The message, in Telegram HTML, within the message limit.
    pub html: String,
    /// Link and Share buttons only: a message sent inline belongs to the chat it went to.
    pub buttons: Vec<Vec<Button>>,
}

/// One answer to an inline query.
#[derive(Clone, Debug, Default, PartialEq)]
pub struct InlinePage {
    pub results: Vec<InlineResult>,
    /// The offset to ask for the next page with, when there is one.
    pub next_offset: Option<String>,
    /// When nothing matched: a button's label and the deep link it opens in the bot.
    pub no_match: Option<(String, Start)>,
}

/// The item a shared query names (`e_…`, `s_…` or `p_…`), if it is one.
pub fn shared_item(query: &str) -> Option<Start> {
    match Start::decode(query.trim())? {
        start @ (Start::Excerpt(_) | Start::Slogan(Some(_)) | Start::Prisoner(_)) => Some(start),
        _ => None,
    }
}

/// A Share button: opens inline mode in a chat of the reader's choice, with the query that
/// finds exactly this item.
pub fn share_button(ctx: &Ctx, item: &Start) -> Button {
    Button::share(ctx.t("btn.share"), item.encode())
}

/// Answers an inline query. `offset` is what a previous page gave as `next_offset` (empty for
/// the first page); anything else gets an empty page. `today` picks the slogan of the day.
pub fn inline(ctx: &Ctx, query: &str, offset: &str, today: NaiveDate) -> InlinePage {
    let query: String = query.trim().chars().take(MAX_QUERY_CHARS).collect();
    let items = items(ctx, &query, today);
    let first = match offset {
        "" => 0,
        _ => match parse_offset(offset).filter(|&n| n > 0 && n < items.len()) {
            Some(n) => n,
            None => return InlinePage::default(),
        },
    };
    let mut seen = HashSet::new();
    let results: Vec<InlineResult> = items
        .iter()
        .skip(first)
        .take(INLINE_PAGE)
        .filter_map(|item| result(ctx, item))
        .filter(|r| seen.insert(r.id.clone()))
        .collect();
    let next = first + INLINE_PAGE;
    let no_match = (items.is_empty() && !query.is_empty())
        .then(|| (ctx.t("inline.no_match"), Start::Statements));
    InlinePage { results, next_offset: (next < items.len()).then(|| next.to_string()), no_match }
}

/// Something inline mode can offer.
enum Item<'a> {
    Excerpt(Excerpt<'a>),
    Slogan { slogan: &'a Slogan, of_the_day: bool },
    Prisoner(&'a Prisoner),
}

/// Everything a query finds, best first.
fn items<'a>(ctx: &Ctx<'a>, query: &str, today: NaiveDate) -> Vec<Item<'a>> {
    let corpus = ctx.corpus;
    if query.is_empty() {
        return featured(ctx, today);
    }
    if let Some(item) = shared_item(query) {
        let found = match item {
            Start::Excerpt(key) => corpus.excerpt(&key).map(Item::Excerpt),
            Start::Slogan(Some(id)) => {
                corpus.slogan(&id).map(|slogan| Item::Slogan { slogan, of_the_day: false })
            }
            Start::Prisoner(id) => corpus.prisoner(&id).map(Item::Prisoner),
            _ => None,
        };
        return found.into_iter().collect();
    }
    let Some(query) = search::Query::new(query) else { return Vec::new() };
    // Each kind is found by the search the commands use, then all are ranked together: the
    // better match first, a prisoner before a slogan before an excerpt among equals, and
    // excerpts in the reader's language before translations.
    let mut scored: Vec<(search::Score, bool, Item)> = Vec::new();
    for p in search::prisoners(corpus, &query, usize::MAX) {
        let by_text = query.score_any([p.affiliation.as_str(), p.note.as_deref().unwrap_or("")]);
        if let Some(score) = query.score_any(p.names()).or(by_text) {
            scored.push((score, true, Item::Prisoner(p)));
        }
    }
    for slogan in &corpus.slogans {
        if let Some(score) = query.score(&slogan.text) {
            scored.push((score, true, Item::Slogan { slogan, of_the_day: false }));
        }
    }
    for e in search::excerpts(corpus, &query, ctx.lang, usize::MAX) {
        if let Some(score) = query.score(e.text) {
            scored.push((score, e.statement.text_lang(ctx.lang) == e.lang, Item::Excerpt(e)));
        }
    }
    // Where anything matches every word, only such matches are offered.
    if scored.iter().any(|(score, _, _)| score.matched >= query.len()) {
        scored.retain(|(score, _, _)| score.matched >= query.len());
    }
    scored.sort_by_key(|(score, preferred, _)| (std::cmp::Reverse(*score), !*preferred));
    scored.into_iter().map(|(_, _, item)| item).collect()
}

/// For an empty query: the slogan of the day, then a few prisoners still held, a different few
/// each day: the window moves by its own length a day, so two days running share no one
/// while at least twice as many are held.
fn featured<'a>(ctx: &Ctx<'a>, today: NaiveDate) -> Vec<Item<'a>> {
    let corpus = ctx.corpus;
    let mut items: Vec<Item> = corpus
        .slogan_of_the_day(today)
        .map(|slogan| Item::Slogan { slogan, of_the_day: true })
        .into_iter()
        .collect();
    let held: Vec<&Prisoner> =
        corpus.prisoners.iter().filter(|p| p.status != Status::Released).collect();
    if !held.is_empty() {
        let day = today.to_epoch_days().unsigned_abs() as usize;
        let count = FEATURED_PRISONERS.min(held.len());
        let first = day.wrapping_mul(count);
        items.extend((0..count).map(|i| Item::Prisoner(held[first.wrapping_add(i) % held.len()])));
    }
    items
}

/// The result for an item; `None` if its message cannot be made to fit (never with real content).
fn result(ctx: &Ctx, item: &Item) -> Option<InlineResult> {
    let (start, title, description, html) = match item {
        Item::Excerpt(e) => {
            let pieces = split_plain(e.text, QUOTE_BUDGET);
            let words = match pieces.as_slice() {
                [whole] => whole.clone(),
                [first, ..] => format!("{first} …"),
                [] => return None,
            };
            (
                Start::Excerpt(e.key()),
                format!("📜 {}", e.statement.title(e.lang)),
                e.text.to_string(),
                reading::quote_html(ctx, e, &words),
            )
        }
        Item::Slogan { slogan, of_the_day } => {
            let source = ctx.corpus.statement(&slogan.statement);
            let (title, description) = if *of_the_day {
                (ctx.t("inline.today"), slogan.text.clone())
            } else {
                let source = source.map(|s| s.title(slogan.lang).to_string());
                (format!("✊ {}", slogan.text), source.unwrap_or_default())
            };
            let html = reading::slogan_reply(ctx, slogan).messages.into_iter().next()?.html;
            (Start::Slogan(Some(slogan.id.clone())), title, description, html)
        }
        Item::Prisoner(p) => {
            let description = [
                ctx.t(&format!("group.{}", p.group.code())),
                p.affiliation.clone(),
                ctx.t(&format!("status.{}", p.status.code())),
            ]
            .join(" · ");
            let html = prisoners::card(ctx, p).messages.into_iter().next()?.html;
            let name = prisoners::display_name(ctx, p);
            (Start::Prisoner(p.id.clone()), format!("⛓ {name}"), description, html)
        }
    };
    let link = ctx.deep_link(&start);
    let html = format!(
        "{html}\n\n{}",
        ctx.f("inline.link", &[("link", &escape(&link)), ("bot", &escape(ctx.bot_username))])
    );
    if visible_len(&html) > MESSAGE_LIMIT {
        return None;
    }
    let open = Button { label: ctx.t("btn.open"), kind: ButtonKind::Url(link) };
    Some(InlineResult {
        id: start.encode(),
        title: clip(&title, TITLE_CHARS),
        description: clip(&description, DESCRIPTION_CHARS),
        html,
        buttons: vec![vec![open, share_button(ctx, &start)]],
    })
}

/// Plain text on one line, cut to `max` characters with an ellipsis.
fn clip(text: &str, max: usize) -> String {
    let line = text.split_whitespace().collect::<Vec<_>>().join(" ");
    if line.chars().count() <= max {
        return line;
    }
    let cut: String = line.chars().take(max - 1).collect();
    format!("{}…", cut.trim_end())
}

fn parse_offset(offset: &str) -> Option<usize> {
    (offset.len() <= 6 && offset.bytes().all(|b| b.is_ascii_digit()))
        .then(|| offset.parse().ok())
        .flatten()
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::content::{Corpus, Lang, load_dir};
    use std::path::Path;

    fn corpus() -> Corpus {
        load_dir(&Path::new(env!("CARGO_MANIFEST_DIR")).join("messages")).unwrap().corpus
    }

    fn ctx(corpus: &Corpus, lang: Lang) -> Ctx<'_> {
        Ctx { corpus, lang, bot_username: "tribune_bot", seed: 0 }
    }

    fn day(d: u32) -> NaiveDate {
        NaiveDate::from_ymd_opt(2026, 3, d).unwrap()
    }

    fn ids(page: &InlinePage) -> Vec<&str> {
        page.results.iter().map(|r| r.id.as_str()).collect()
    }

    #[test]
    fn an_empty_query_offers_the_slogan_of_the_day_and_prisoners() {
        let corpus = corpus();
        let ctx = ctx(&corpus, Lang::En);
        for d in [1, 2] {
            let page = inline(&ctx, "  ", "", day(d));
            let today = corpus.slogan_of_the_day(day(d)).unwrap();
            assert_eq!(page.results[0].id, format!("s_{}", today.id));
            assert_eq!(page.results[0].title, "✊ Slogan of the day");
            assert_eq!(page.results.len(), 1 + FEATURED_PRISONERS);
            assert!(page.results[1..].iter().all(|r| r.id.starts_with("p_")));
            assert_eq!(page.next_offset, None);
            assert_eq!(page.no_match, None);
        }
        let (one, two) = (inline(&ctx, "", "", day(1)), inline(&ctx, "", "", day(2)));
        assert_ne!(ids(&one), ids(&two), "a different pick each day");
        assert_eq!(ids(&one), ids(&inline(&ctx, "", "", day(1))), "the same all day");
    }

    #[test]
    fn words_find_cited_results_with_a_deep_link() {
        let corpus = corpus();
        let ctx = ctx(&corpus, Lang::En);
        let page = inline(&ctx, "hasanli", "", day(1));
        let card = &page.results[0];
        assert_eq!(card.id, "p_ulvi-hasanli");
        assert_eq!(card.title, "⛓ Ulvi Hasanli");
        assert!(card.html.contains("— <i>"), "cited: {}", card.html);
        assert!(card.html.contains(
            "<a href=\"https://t.me/tribune_bot?start=p_ulvi-hasanli\">More from @tribune_bot</a>"
        ));
        let kinds: Vec<&ButtonKind> = card.buttons.iter().flatten().map(|b| &b.kind).collect();
        assert_eq!(
            kinds,
            [
                &ButtonKind::Url("https://t.me/tribune_bot?start=p_ulvi-hasanli".into()),
                &ButtonKind::Share("p_ulvi-hasanli".into())
            ]
        );
        let revolution = inline(&ctx, "permanent revolution", "", day(1));
        assert_eq!(revolution.results[0].id, "s_permanent-revolution");
        assert!(revolution.results.iter().any(|r| r.id.starts_with("e_")));
    }

    #[test]
    fn a_shared_token_finds_exactly_its_item() {
        let corpus = corpus();
        let ctx = ctx(&corpus, Lang::Ru);
        let excerpt = corpus.excerpts().nth(3).unwrap().key();
        let token = Start::Excerpt(excerpt).encode();
        for query in [token.as_str(), "s_world-revolution", "p_tofig-yagublu"] {
            let page = inline(&ctx, &format!(" {query} "), "", day(1));
            assert_eq!(ids(&page), [query]);
        }
        assert_eq!(inline(&ctx, "p_nobody", "", day(1)).results, []);
        assert_eq!(shared_item("slogan"), None, "a plain word is searched, not a token");
        assert_eq!(shared_item("prisoners"), None);
    }

    #[test]
    fn pages_follow_offsets_without_repeats() {
        let corpus = corpus();
        let ctx = ctx(&corpus, Lang::En);
        let mut offset = String::new();
        let mut all = Vec::new();
        let mut pages = 0;
        loop {
            let page = inline(&ctx, "the", &offset, day(1));
            assert!(page.results.len() <= INLINE_PAGE);
            all.extend(page.results.iter().map(|r| r.id.clone()));
            pages += 1;
            match page.next_offset {
                Some(next) => offset = next,
                None => break,
            }
        }
        assert!(pages > 1, "a common word fills more than one page");
        let unique: HashSet<&String> = all.iter().collect();
        assert_eq!(unique.len(), all.len());
        for bad in ["-1", "abc", "99999999", "0", "1e3", "٣"] {
            assert_eq!(inline(&ctx, "the", bad, day(1)), InlinePage::default(), "{bad}");
        }
    }

    #[test]
    fn no_match_offers_the_bot_instead() {
        let corpus = corpus();
        let ctx = ctx(&corpus, Lang::Az);
        let page = inline(&ctx, "zzzqqqxxx", "", day(1));
        assert!(page.results.is_empty());
        let (label, start) = page.no_match.unwrap();
        assert_eq!(label, "Heç nə tapılmadı: bəyanatların siyahısını aç");
        assert_eq!(start, Start::Statements);
    }

    #[test]
    fn results_are_within_telegrams_limits() {
        let corpus = corpus();
        for lang in Lang::ALL {
            let ctx = ctx(&corpus, lang);
            for query in ["", "the", "revolution", "свобода", "azadlıq", "<b>&amp;\u{202e}"]
            {
                for r in inline(&ctx, query, "", day(1)).results {
                    assert!(r.id.len() <= 64 && !r.id.is_empty());
                    assert!(visible_len(&r.html) <= MESSAGE_LIMIT);
                    assert!(!r.title.is_empty() && r.title.chars().count() <= TITLE_CHARS);
                    assert!(r.description.chars().count() <= DESCRIPTION_CHARS);
                }
            }
        }
    }

    #[test]
    fn clip_cuts_on_characters() {
        assert_eq!(clip("a  b\nc", 10), "a b c");
        assert_eq!(clip("Həsənli Həsənli", 8), "Həsənli…");
    }
}
