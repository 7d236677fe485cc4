use super::{MAX_QUERY_CHARS, quoted};
use crate::{
    content::{ExcerptKey, Group, Lang, Prisoner, search},
    render::{Action, Button, Ctx, Reply, Start, html::escape},
};

/// `/prisoners [group]`: everyone named, grouped, with counts; or one group.
pub fn prisoners(ctx: &Ctx, args: &str) -> Reply {
    let args = args.trim();
    if args.is_empty() {
        return prisoners_in(ctx, None);
    }
    match parse_group(ctx, args) {
        Some(group) => prisoners_in(ctx, Some(group)),
        None => {
            let groups: Vec<String> =
                Group::ALL.iter().map(|g| escape(&group_word(ctx, *g))).collect();
            let reply = ctx.f(
                "prisoners.unknown_group",
                &[("query", &quoted(args)), ("groups", &groups.join(", "))],
            );
            Reply::html(reply, vec![filter_buttons(ctx, None)])
        }
    }
}

/// The list for one group, or all of them, with buttons to filter.
pub fn prisoners_in(ctx: &Ctx, only: Option<Group>) -> Reply {
    let all = &ctx.corpus.prisoners;
    let shown: Vec<&Prisoner> = all.iter().filter(|p| only.is_none_or(|g| p.group == g)).collect();
    let mut blocks = vec![ctx.f("prisoners.header", &[("count", &shown.len().to_string())])];
    for group in Group::ALL.into_iter().filter(|g| only.is_none_or(|o| o == *g)) {
        let members: Vec<&&Prisoner> = shown.iter().filter(|p| p.group == group).collect();
        if members.is_empty() {
            continue;
        }
        let mut block = format!(
            "<b>{}</b> ({})",
            escape(&ctx.t(&format!("group.{}", group.code()))),
            members.len()
        );
        for p in members {
            let since = p.since.map(|d| {
                format!(", {}", ctx.f("prisoner.since", &[("date", &ctx.date(&d, false))]))
            });
            block.push_str(&format!(
                "\n• <b>{}</b> — {} · {}{}",
                escape(&display_name(ctx, p)),
                escape(&p.affiliation),
                escape(&ctx.t(&format!("status.{}", p.status.code()))),
                since.unwrap_or_default(),
            ));
        }
        blocks.push(block);
    }
    blocks.push(ctx.t("prisoners.footer"));
    Reply::blocks(blocks, vec![filter_buttons(ctx, only)])
}

fn filter_buttons(ctx: &Ctx, current: Option<Group>) -> Vec<Button> {
    let mut row: Vec<Button> = Group::ALL
        .into_iter()
        .filter(|g| Some(*g) != current)
        .filter(|g| ctx.corpus.prisoners.iter().any(|p| p.group == *g))
        .map(|g| Button::action(group_word(ctx, g), Action::Prisoners(Some(g))))
        .collect();
    if current.is_some() {
        row.insert(0, Button::action(ctx.t("btn.all"), Action::Prisoners(None)));
    }
    row
}

/// `/prisoner <name>`: one card, or a choice when several match.
pub fn prisoner(ctx: &Ctx, args: &str) -> Reply {
    let args = args.trim();
    if args.chars().count() > MAX_QUERY_CHARS {
        return super::too_long(ctx);
    }
    let Some(query) = search::Query::new(args) else {
        return Reply::html(ctx.t("prisoner.usage"), Vec::new());
    };
    let found = search::prisoners_by_name(ctx.corpus, &query);
    match found.as_slice() {
        [] => Reply::html(ctx.f("prisoner.not_found", &[("query", &quoted(args))]), Vec::new()),
        [one] => card(ctx, one),
        many => {
            let buttons = many
                .iter()
                .map(|p| vec![Button::action(display_name(ctx, p), Action::Prisoner(p.id.clone()))])
                .collect();
            Reply::html(ctx.f("prisoner.many", &[("query", &quoted(args))]), buttons)
        }
    }
}

/// A prisoner's card: who, why, since when, status, and the statement's own words.
pub fn card(ctx: &Ctx, p: &Prisoner) -> Reply {
    let group = ctx.t(&format!("group.{}", p.group.code()));
    let mut text = format!(
        "⛓ <b>{}</b>\n{} · {}\n{}",
        escape(&display_name(ctx, p)),
        escape(&group),
        escape(&p.affiliation),
        ctx.f(
            "card.status",
            &[("status", &escape(&ctx.t(&format!("status.{}", p.status.code()))))]
        ),
    );
    if let Some(since) = p.since {
        text.push_str(&format!(
            ", {}",
            ctx.f("prisoner.since", &[("date", &ctx.date(&since, false))])
        ));
    }
    let statement = ctx.corpus.statement(&p.statement);
    // Where the quote stands: the language and paragraph the "Full statement" button opens at.
    let quoted_at = statement.and_then(|s| {
        s.texts.iter().find_map(|(lang, paragraphs)| {
            let index = paragraphs.iter().position(|x| x.text.contains(&p.quote))?;
            Some(ExcerptKey { statement: s.id.clone(), lang: *lang, paragraph: index })
        })
    });
    let quote_lang = quoted_at.as_ref().map_or(Lang::En, |k| k.lang);
    text.push_str(&format!("\n\n<blockquote>{}</blockquote>", escape(&p.quote)));
    if let Some(s) = statement {
        text.push('\n');
        text.push_str(&ctx.citation(s, quote_lang));
    }
    if let Some(note) = &p.note {
        text.push_str(&format!("\n\n{}", escape(note)));
    }
    let mut row = vec![Button::action(ctx.t("btn.prisoners"), Action::PrisonerList)];
    if let Some(key) = quoted_at {
        row.push(Button::action(ctx.t("btn.full"), Action::ReadAt(key)));
    }
    let share = vec![super::share_button(ctx, &Start::Prisoner(p.id.clone()))];
    Reply::html(text, vec![row, share])
}

pub(super) fn display_name(ctx: &Ctx, p: &Prisoner) -> String {
    match &p.name {
        Some(name) => name.clone(),
        None => ctx.f("prisoner.unnamed", &[("affiliation", &p.affiliation)]),
    }
}

/// A group's short label for buttons and lists ("Journalists").
fn group_word(ctx: &Ctx, group: Group) -> String {
    ctx.t(&format!("group.{}", group.code()))
}

/// A group as a reader may type it: its id, or the start of its name in any language.
fn parse_group(ctx: &Ctx, input: &str) -> Option<Group> {
    let typed = search::fold(input.trim());
    if typed.chars().count() < 3 {
        return None;
    }
    Group::ALL.into_iter().find(|g| {
        let mut names = vec![g.code().to_string()];
        names.extend(
            Lang::ALL
                .iter()
                .map(|l| ctx.corpus.ui.get(*l, &format!("group.{}", g.code())).to_string()),
        );
        names.extend(
            Lang::ALL
                .iter()
                .map(|l| ctx.corpus.ui.get(*l, &format!("group.{}.aliases", g.code())).to_string()),
        );
        names.iter().flat_map(|n| n.split([',', ' '])).map(search::fold).any(|n| {
            !n.is_empty()
                && (n.starts_with(&typed) || (typed.starts_with(&n) && n.chars().count() >= 4))
        })
    })
}
