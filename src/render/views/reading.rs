use super::{MAX_QUERY_CHARS, nav, quoted};
use crate::{
    content::{Excerpt, ExcerptKey, Lang, Slogan, Statement, search},
    render::{
        Action, Button, Ctx, Reply, Start,
        html::{escape, split_plain, visible_len},
    },
};

/// Room for a page's paragraphs: the limit less the header and a margin.
const PAGE_BUDGET: usize = 3300;
/// Most results `/search` lists.
const SEARCH_RESULTS: usize = 5;

/// `/excerpt [words | statement]`: a passage with its citation.
pub fn excerpt(ctx: &Ctx, args: &str) -> Reply {
    let args = args.trim();
    if args.is_empty() {
        return another_excerpt(ctx, None, None).unwrap_or_else(|| nothing_found(ctx, ""));
    }
    if args.chars().count() > MAX_QUERY_CHARS {
        return super::too_long(ctx);
    }
    if let Some(statement) = find_statement(ctx, args) {
        return another_excerpt(ctx, Some(&statement.id), None)
            .unwrap_or_else(|| nothing_found(ctx, args));
    }
    let Some(query) = search::Query::new(args) else { return nothing_found(ctx, args) };
    let found = search::excerpts(ctx.corpus, &query, ctx.lang, 3);
    match found.get(ctx.pick(found.len(), 1)) {
        Some(e) => excerpt_reply(ctx, *e, None),
        None => nothing_found(ctx, args),
    }
}

fn nothing_found(ctx: &Ctx, args: &str) -> Reply {
    Reply::html(ctx.f("excerpt.none", &[("query", &quoted(args))]), Vec::new())
}

/// A random excerpt in the reader's language, from one statement or all, never `after` again.
pub fn another_excerpt(
    ctx: &Ctx,
    statement: Option<&str>,
    after: Option<&ExcerptKey>,
) -> Option<Reply> {
    let pool: Vec<Excerpt> = ctx
        .corpus
        .excerpts_for(ctx.lang)
        .into_iter()
        .filter(|e| statement.is_none_or(|s| e.statement.id == s))
        .filter(|e| after.is_none_or(|a| e.key() != *a))
        .collect();
    if pool.is_empty() {
        return None;
    }
    Some(excerpt_reply(ctx, pool[ctx.pick(pool.len(), 2)], statement))
}

/// An excerpt as a quote with its citation, and buttons for another one and the full text.
pub fn excerpt_reply(ctx: &Ctx, excerpt: Excerpt, from: Option<&str>) -> Reply {
    let text = quote_html(ctx, &excerpt, excerpt.text);
    let buttons = vec![
        vec![
            Button::action(
                ctx.t("btn.another"),
                Action::AnotherExcerpt { after: excerpt.key(), same_statement: from.is_some() },
            ),
            Button::action(ctx.t("btn.full"), Action::ReadAt(excerpt.key())),
        ],
        vec![super::share_button(ctx, &Start::Excerpt(excerpt.key()))],
    ];
    Reply::html(text, buttons)
}

/// `text` (an excerpt's words, whole or cut) as a quote, with the excerpt's citation.
pub(super) fn quote_html(ctx: &Ctx, excerpt: &Excerpt, text: &str) -> String {
    format!(
        "<blockquote>{}</blockquote>\n{}",
        escape(text),
        ctx.citation(excerpt.statement, excerpt.lang)
    )
}

/// `/slogan`: a slogan with its source.
pub fn slogan(ctx: &Ctx, args: &str) -> Reply {
    if !args.trim().is_empty() {
        return super::no_arguments(ctx, "/slogan");
    }
    another_slogan(ctx, None)
}

pub fn another_slogan(ctx: &Ctx, after: Option<&str>) -> Reply {
    let pool: Vec<&Slogan> =
        ctx.corpus.slogans.iter().filter(|s| after != Some(s.id.as_str())).collect();
    match pool.get(ctx.pick(pool.len(), 3)) {
        Some(s) => slogan_reply(ctx, s),
        None => Reply::html(ctx.t("slogan.none"), Vec::new()),
    }
}

pub(super) fn slogan_reply(ctx: &Ctx, slogan: &Slogan) -> Reply {
    let statement = ctx.corpus.statement(&slogan.statement);
    let cite = statement.map(|s| ctx.citation(s, slogan.lang)).unwrap_or_default();
    let text = format!("✊ <b>{}</b>\n\n{cite}", escape(&slogan.text));
    let buttons = vec![vec![
        Button::action(
            ctx.t("btn.another_slogan"),
            Action::AnotherSlogan { after: Some(slogan.id.clone()) },
        ),
        super::share_button(ctx, &Start::Slogan(Some(slogan.id.clone()))),
    ]];
    Reply::html(text, buttons)
}

/// `/statements`: every statement, numbered, with a Read button each.
pub fn statements(ctx: &Ctx) -> Reply {
    let count = ctx.corpus.statements.len().to_string();
    let mut blocks = vec![ctx.f("statements.header", &[("count", &count)])];
    let mut buttons = Vec::new();
    for (i, s) in ctx.corpus.statements.iter().enumerate() {
        let lang = s.text_lang(ctx.lang);
        let languages: Vec<&str> = s.languages().map(Lang::native_name).collect();
        blocks.push(ctx.f(
            "statements.item",
            &[
                ("n", &(i + 1).to_string()),
                ("title", &escape(s.title(lang))),
                ("organisation", &escape(&s.organisation)),
                ("date", &escape(&ctx.date(&s.date, s.date_approximate))),
                ("languages", &languages.join(", ")),
            ],
        ));
        let label: String = format!("📖 {}. {}", i + 1, s.title(lang)).chars().take(48).collect();
        buttons.push(vec![Button::action(label, Action::Open { statement: s.id.clone(), lang })]);
    }
    Reply::blocks(blocks, buttons)
}

/// `/read <number | id> [page]`.
pub fn read(ctx: &Ctx, args: &str) -> Reply {
    let mut words = args.split_whitespace();
    let Some(which) = words.next() else {
        return Reply::html(ctx.t("read.usage"), Vec::new());
    };
    let Some(statement) = find_statement(ctx, which) else {
        return Reply::html(ctx.f("read.not_found", &[("query", &quoted(which))]), Vec::new());
    };
    let lang = statement.text_lang(ctx.lang);
    let pages = pages(statement, lang).len();
    let page = match (words.next(), words.next()) {
        (None, _) => 1,
        (Some(p), None) => match p.parse::<usize>() {
            Ok(n) if (1..=pages).contains(&n) => n,
            _ => {
                let args = [("page", quoted(p)), ("pages", pages.to_string())];
                let args: Vec<(&str, &str)> = args.iter().map(|(k, v)| (*k, v.as_str())).collect();
                return Reply::html(ctx.f("read.bad_page", &args), Vec::new());
            }
        },
        (Some(_), Some(_)) => return Reply::html(ctx.t("read.usage"), Vec::new()),
    };
    read_page(ctx, statement, lang, page)
}

/// The page of a statement that holds an excerpt.
pub fn read_at(ctx: &Ctx, key: &ExcerptKey) -> Option<Reply> {
    let statement = ctx.corpus.statement(&key.statement)?;
    statement.paragraphs(key.lang).get(key.paragraph)?;
    let page =
        pages(statement, key.lang).iter().position(|p| p.last_paragraph >= key.paragraph)? + 1;
    Some(read_page(ctx, statement, key.lang, page))
}

/// One page of a statement with ◀ ▶ buttons; pages past the end show the last one.
pub fn read_page(ctx: &Ctx, statement: &Statement, lang: Lang, page: usize) -> Reply {
    let pages = pages(statement, lang);
    let total = pages.len().max(1);
    let page = page.clamp(1, total);
    let mut text = ctx.f(
        "read.header",
        &[
            ("title", &escape(statement.title(lang))),
            ("organisation", &escape(&statement.organisation)),
            ("date", &escape(&ctx.date(&statement.date, statement.date_approximate))),
            ("page", &page.to_string()),
            ("pages", &total.to_string()),
        ],
    );
    if let Some(p) = pages.get(page - 1) {
        text.push_str("\n\n");
        text.push_str(&p.html);
    }
    let mut row = Vec::new();
    let read = |page| Action::Read { statement: statement.id.clone(), lang, page };
    if page > 1 {
        row.push(nav(ctx.t("btn.prev"), read(page - 1)));
    }
    row.push(nav(format!("{page}/{total}"), Action::Nothing));
    if page < total {
        row.push(nav(ctx.t("btn.next"), read(page + 1)));
    }
    let mut buttons = vec![row];
    let others: Vec<Button> = statement
        .languages()
        .filter(|l| *l != lang)
        .map(|l| {
            nav(
                l.native_name().to_string(),
                Action::Read { statement: statement.id.clone(), lang: l, page: 1 },
            )
        })
        .collect();
    if !others.is_empty() {
        buttons.push(others);
    }
    buttons.push(vec![nav(ctx.t("btn.statements"), Action::Statements)]);
    Reply::html(text, buttons)
}

/// A page of a statement: its HTML and the index of the last paragraph it reaches.
pub struct Page {
    pub html: String,
    pub last_paragraph: usize,
}

/// Cuts a statement into pages on paragraph boundaries (a paragraph longer than a page is cut
/// between sentences).
pub fn pages(statement: &Statement, lang: Lang) -> Vec<Page> {
    let mut pages: Vec<Page> = Vec::new();
    let mut current = String::new();
    let mut last_in_current = 0;
    for (i, paragraph) in statement.paragraphs(lang).iter().enumerate() {
        for piece in split_plain(&paragraph.text, PAGE_BUDGET) {
            let block = if paragraph.heading {
                format!("<b>{}</b>", escape(&piece))
            } else {
                escape(&piece)
            };
            if !current.is_empty() && visible_len(&current) + 2 + visible_len(&block) > PAGE_BUDGET
            {
                pages.push(Page {
                    html: std::mem::take(&mut current),
                    last_paragraph: last_in_current,
                });
            }
            if !current.is_empty() {
                current.push_str("\n\n");
            }
            current.push_str(&block);
            last_in_current = i;
        }
    }
    if !current.is_empty() {
        pages.push(Page { html: current, last_paragraph: last_in_current });
    }
    pages
}

/// `/search <words>`: matching excerpts (a sentence each), prisoners and slogans.
pub fn search(ctx: &Ctx, args: &str) -> Reply {
    let args = args.trim();
    if args.chars().count() > MAX_QUERY_CHARS {
        return super::too_long(ctx);
    }
    let Some(query) = search::Query::new(args) else {
        return Reply::html(ctx.t("search.usage"), Vec::new());
    };
    let excerpts = search::excerpts(ctx.corpus, &query, ctx.lang, SEARCH_RESULTS);
    let prisoners = search::prisoners(ctx.corpus, &query, SEARCH_RESULTS);
    let slogans: Vec<&Slogan> =
        ctx.corpus.slogans.iter().filter(|s| query.score(&s.text).is_some()).collect();
    let count = excerpts.len() + prisoners.len() + slogans.len();
    if count == 0 {
        return Reply::html(ctx.f("search.none", &[("query", &quoted(args))]), Vec::new());
    }
    let mut blocks =
        vec![ctx.f("search.header", &[("query", &quoted(args)), ("count", &count.to_string())])];
    let mut buttons = Vec::new();
    for (i, e) in excerpts.iter().enumerate() {
        let sentence = best_sentence(e.text, &query);
        blocks.push(format!(
            "{}. <i>«{}»</i>\n{}",
            i + 1,
            escape(&sentence),
            ctx.citation(e.statement, e.lang)
        ));
        buttons.push(Button::action(format!("📖 {}", i + 1), Action::ReadAt(e.key())));
    }
    for p in &prisoners {
        let name = p.name.clone().unwrap_or_else(|| ctx.t("prisoner.unnamed_short"));
        blocks.push(format!("⛓ <b>{}</b> — {}", escape(&name), escape(&p.affiliation)));
    }
    for s in &slogans {
        blocks.push(format!("✊ <b>{}</b>", escape(&s.text)));
    }
    let mut rows: Vec<Vec<Button>> = buttons.chunks(5).map(<[Button]>::to_vec).collect();
    rows.extend(prisoners.chunks(2).map(|chunk| {
        chunk
            .iter()
            .map(|p| {
                let name = p.name.clone().unwrap_or_else(|| ctx.t("prisoner.unnamed_short"));
                Button::action(format!("⛓ {name}"), Action::Prisoner(p.id.clone()))
            })
            .collect()
    }));
    Reply::blocks(blocks, rows)
}

/// The sentence of a paragraph that best matches the query, cut to a readable length.
fn best_sentence(text: &str, query: &search::Query) -> String {
    let best = text
        .split_inclusive(['.', '!', '?'])
        .filter_map(|s| query.score(s).map(|score| (score, s.trim())))
        .max_by_key(|(score, _)| *score)
        .map(|(_, s)| s)
        .unwrap_or(text);
    let cut: String = best.chars().take(300).collect();
    if cut.len() < best.len() { format!("{}…", cut.trim_end()) } else { cut }
}

/// A statement named by its number in `/statements`, its id, or the start of its id.
fn find_statement<'a>(ctx: &Ctx<'a>, which: &str) -> Option<&'a Statement> {
    let statements = &ctx.corpus.statements;
    if let Ok(n) = which.parse::<usize>() {
        return n.checked_sub(1).and_then(|i| statements.get(i));
    }
    let which = which.to_lowercase();
    statements.iter().find(|s| s.id == which).or_else(|| {
        let mut prefixed =
            statements.iter().filter(|s| which.len() >= 3 && s.id.starts_with(&which));
        match (prefixed.next(), prefixed.next()) {
            (Some(only), None) => Some(only),
            _ => None,
        }
    })
}
