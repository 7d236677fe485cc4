use super::*;

fn ok(html: &str) -> Parsed {
    parse(html, Strictness::RejectBareAmpersand).unwrap_or_else(|e| panic!("{html:?}: {e}"))
}

fn err(html: &str) -> String {
    match parse(html, Strictness::RejectBareAmpersand) {
        Ok(p) => panic!("{html:?} parsed to {p:?}"),
        Err(e) => e,
    }
}

fn entity(kind: EntityKind, offset: usize, length: usize) -> Entity {
    Entity { kind, offset, length }
}

#[test]
fn plain_text_passes_through() {
    let p = ok("Hello, world");
    assert_eq!(p.text, "Hello, world");
    assert!(p.entities.is_empty());
}

#[test]
fn entities_are_decoded() {
    assert_eq!(ok("a &lt;b&gt; &amp; &quot;c&quot; &#65;&#x42; &lt").text, "a <b> & \"c\" AB <");
}

#[test]
fn tags_become_entities_with_utf16_offsets() {
    let p = ok("😀 <b>bold <i>both</i></b> <a href=\"https://t.me/x\">link</a>");
    assert_eq!(p.text, "😀 bold both link");
    assert_eq!(
        p.entities,
        vec![
            entity(EntityKind::Bold, 3, 9),
            entity(EntityKind::Italic, 8, 4),
            entity(EntityKind::TextLink { url: "https://t.me/x".into() }, 13, 4),
        ]
    );
}

#[test]
fn every_supported_tag_is_accepted() {
    let html = "<b>1</b><strong>2</strong><i>3</i><em>4</em><u>5</u><ins>6</ins><s>7</s>\
        <strike>8</strike><del>9</del><tg-spoiler>a</tg-spoiler>\
        <span class=\"tg-spoiler\">b</span><code>c</code><pre>d</pre>\
        <blockquote>e</blockquote><blockquote expandable>f</blockquote>\
        <tg-emoji emoji-id=\"5368324170671202286\">👍</tg-emoji><a href='http://x.org'>g</a>";
    let p = ok(html);
    assert_eq!(p.text, "123456789abcdef👍g");
    assert_eq!(p.entities.len(), 17);
    assert!(p.entities.contains(&entity(EntityKind::ExpandableBlockquote, 14, 1)));
}

#[test]
fn pre_with_code_language_becomes_one_pre_entity() {
    let p = ok("<pre><code class=\"language-rust\">fn x</code></pre>");
    assert_eq!(p.entities, vec![entity(EntityKind::Pre { language: Some("rust".into()) }, 0, 4)]);
    let p = ok("<code class=\"language-rust\">fn x</code>");
    assert_eq!(p.entities, vec![entity(EntityKind::Code, 0, 4)]);
}

#[test]
fn empty_entities_are_dropped() {
    assert!(ok("x<b></b>").entities.is_empty());
}

#[test]
fn tag_names_are_case_insensitive() {
    assert_eq!(ok("<B>x</b>").entities, vec![entity(EntityKind::Bold, 0, 1)]);
}

#[test]
fn unsupported_tags_are_rejected_with_offset() {
    assert_eq!(err("ab <foo>x</foo>"), "Unsupported start tag \"foo\" at byte offset 3");
    assert_eq!(err("<br/>"), "Unsupported start tag \"br/\" at byte offset 0");
}

#[test]
fn a_bare_less_than_is_rejected() {
    assert_eq!(err("1 < 2"), "Unsupported start tag \"\" at byte offset 2");
    assert_eq!(err("x<"), "Unclosed start tag at byte offset 1");
}

#[test]
fn a_bare_ampersand_is_rejected_only_when_strict() {
    assert_eq!(err("AT&T"), "Unescaped \"&\" at byte offset 2");
    assert_eq!(err("&#0;"), "Unescaped \"&\" at byte offset 0");
    assert_eq!(parse("AT&T", Strictness::Telegram).unwrap().text, "AT&T");
}

#[test]
fn unclosed_and_mismatched_tags_are_rejected() {
    assert_eq!(err("<b>bold"), "Can't find end tag corresponding to start tag \"b\"");
    assert_eq!(err("x</b>"), "Unexpected end tag at byte offset 1");
    assert_eq!(
        err("<b><i>x</b></i>"),
        "Unmatched end tag at byte offset 7, expected \"</i>\", found \"</b>\""
    );
    assert_eq!(err("<b>x</b"), "Unclosed end tag at byte offset 4");
}

#[test]
fn attribute_errors_are_reported() {
    assert_eq!(
        err("<span>x</span>"),
        "Tag \"span\" must have class \"tg-spoiler\" at byte offset 0"
    );
    assert_eq!(
        err("<a href>x</a>"),
        "Expected equal sign in declaration of an attribute of the tag \"a\" at byte offset 0"
    );
    assert_eq!(err("<a href=x/y>x</a>"), "Unexpected end of name token at byte offset 8");
    assert_eq!(err("<a href=\"x"), "Unclosed start tag at byte offset 0");
    assert_eq!(
        err("<tg-emoji emoji-id=\"abc\">x</tg-emoji>"),
        "Invalid custom emoji identifier specified"
    );
}

#[test]
fn links_are_checked_like_telegram() {
    let p = ok(
        "<a href=\"example.com/a?b=1&amp;c=2\">x</a><a href=\"not a url\">y</a><a>https://t.me</a>",
    );
    assert_eq!(
        p.entities,
        vec![
            entity(EntityKind::TextLink { url: "http://example.com/a?b=1&c=2".into() }, 0, 1),
            entity(EntityKind::TextLink { url: "https://t.me".into() }, 2, 12),
        ]
    );
}

#[test]
fn utf16_length_counts_surrogate_pairs() {
    assert_eq!(utf16_len("abc"), 3);
    assert_eq!(utf16_len("é"), 1);
    assert_eq!(utf16_len("😀"), 2);
    assert_eq!(utf16_len(&ok("<b>😀</b>&amp;").text), 3);
}

#[test]
fn strip_never_fails() {
    assert_eq!(strip("<b>x</b> &amp; y"), "x & y");
    assert_eq!(strip("broken <b"), "broken <b");
}
