//! Every problem of a file that does not parse, as far as the YAML allows, not only the first.
//!
//! serde stops at a document's first error. When the whole file does not parse, its YAML is read
//! once more as a tree of nodes that know where they start and end ([`Node`]); then
//!
//! - each step is parsed on its own, from its own text: one step's error cannot hide another's.
//!   After an error inside a step, the mapping entry holding it is blanked and the step parsed
//!   again, for its next error (a few per step);
//! - the file is parsed once more with the steps that failed replaced by `~`: the top-level keys'
//!   errors (an entry in error blanked each time, for the next);
//! - what then parses is linted as usual, with the names the failed steps save or capture taken
//!   as defined.
//!
//! Blanking replaces characters by spaces and keeps line breaks, so every position stays the
//! file's own. A step that cannot be parsed apart from the file (an alias to an anchor outside
//! it) is left in place, and its error comes from the parse of the file. Where the YAML itself
//! is broken (syntax, limits, several documents) there is no tree: the first error is all.

use std::collections::BTreeSet;
use std::fmt;
use std::path::Path;

use serde::de::{Deserialize, Deserializer, MapAccess, SeqAccess, Visitor};
use serde_saphyr::Spanned;

use super::lint::{self, Unparsed};
use super::step::Step;
use super::{Diagnostic, FileAccess, STEP_LISTS, Scenario, ScenarioSpec, located, yaml_diagnostic, yaml_message, yaml_options};

/// Diagnostics one file gets at most; a last one counts the rest.
pub const MAX_DIAGNOSTICS: usize = 100;

/// Errors looked for in one step: each is one more parse of the step.
const MAX_PER_STEP: usize = 8;

/// Parses of the whole file for its top-level keys (and steps that cannot be parsed alone).
const MAX_FILE_PARSES: usize = 16;

/// Every problem of `text`, whose parse failed with `first`: structural ones (sorted by
/// position) and what lint finds in the parts that parsed; at most [`MAX_DIAGNOSTICS`] and a
/// count of the rest. Never empty.
pub(super) fn problems(path: &Path, text: &str, access: &FileAccess, first: &serde_saphyr::Error) -> Vec<Diagnostic> {
    let first = yaml_diagnostic(path, text, first);
    let mut found = match Tree::read(text) {
        Some(tree) => {
            let line_starts = std::iter::once(0).chain(text.match_indices('\n').map(|(i, _)| i + 1)).collect();
            Recovery { path, text, tree: &tree, line_starts, found: Vec::new() }.run(access)
        }
        None => Vec::new(),
    };
    // The parse of the whole file has the last word where it found its error.
    found.retain(|d| d.pos != first.pos);
    found.push(first);
    bounded(found)
}

/// Sorted by position, duplicates dropped, at most [`MAX_DIAGNOSTICS`] and a count of the rest.
fn bounded(mut found: Vec<Diagnostic>) -> Vec<Diagnostic> {
    found.sort_by(|a, b| (a.pos.line, a.pos.column).cmp(&(b.pos.line, b.pos.column)));
    found.dedup();
    if found.len() > MAX_DIAGNOSTICS {
        let more = found.len() - MAX_DIAGNOSTICS;
        let pos = found[MAX_DIAGNOSTICS].pos.clone();
        found.truncate(MAX_DIAGNOSTICS);
        let message = format!("… and {more} more problem(s) from here on; kubeproof reports the first {MAX_DIAGNOSTICS} of a file");
        found.push(Diagnostic { pos, message });
    }
    found
}

/// A position in the text, in bytes (to slice it) and in characters (what the parser counts).
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, PartialOrd, Ord)]
struct At {
    byte: usize,
    char: usize,
}

/// A YAML node as written: its extent, its position and its children.
#[derive(Debug)]
struct Node {
    start: At,
    /// Past the node's last character (a flow collection's closing bracket included).
    end: At,
    line: u64,
    column: u64,
    /// For an alias (`*a`), where its anchor's node starts: the alias replays that node.
    anchor: Option<usize>,
    kind: Kind,
}

#[derive(Debug)]
enum Kind {
    Map(Vec<(Node, Node)>),
    Seq(Vec<Node>),
    /// A scalar, with its text when it is a short string (keys and names are).
    Scalar(Option<String>),
}

/// Scalars longer than this are not kept (a key or a name is never this long).
const KEPT_SCALAR_CHARS: usize = 256;

/// How deep the tree is read. Reading a node with its span takes more stack than parsing it
/// (a debug build overflows a thread's 2 MiB near the YAML limit of 64): deeper files get
/// their first error only.
const TREE_MAX_DEPTH: usize = 32;

impl Node {
    fn contains(&self, at: usize) -> bool {
        self.start.char <= at && at <= self.end.char
    }

    fn text(&self) -> Option<&str> {
        match &self.kind {
            Kind::Scalar(s) => s.as_deref(),
            _ => None,
        }
    }

    /// The value of key `key`, in a mapping.
    fn get(&self, key: &str) -> Option<&Node> {
        match &self.kind {
            Kind::Map(entries) => entries.iter().find(|(k, _)| k.text() == Some(key)).map(|(_, v)| v),
            _ => None,
        }
    }

    /// Every alias under this node (itself included) as (where it is, where its anchor is).
    fn aliases(&self, out: &mut Vec<(usize, usize)>) {
        if let Some(anchor) = self.anchor {
            out.push((self.start.char, anchor));
            return;
        }
        match &self.kind {
            Kind::Map(entries) => entries.iter().for_each(|(k, v)| {
                k.aliases(out);
                v.aliases(out);
            }),
            Kind::Seq(items) => items.iter().for_each(|n| n.aliases(out)),
            Kind::Scalar(_) => {}
        }
    }
}

/// The whole file as nodes.
struct Tree {
    root: Node,
}

impl Tree {
    /// `None` where the YAML itself is broken, over the limits of [`yaml_options`] or nested
    /// more than [`TREE_MAX_DEPTH`] deep.
    fn read(text: &str) -> Option<Tree> {
        let mut options = yaml_options();
        if let Some(budget) = &mut options.budget {
            budget.max_depth = budget.max_depth.min(TREE_MAX_DEPTH);
        }
        let mut root: Node = serde_saphyr::from_str_with_options(text, options).ok()?;
        close(&mut root, text)?;
        Some(Tree { root })
    }
}

/// Sets where each node ends: its last child's end, or a flow collection's closing bracket.
fn close(node: &mut Node, text: &str) -> Option<()> {
    if node.anchor.is_some() {
        // An alias is its `*name`; its children are the anchor's, replayed.
        return Some(());
    }
    let mut end = node.end;
    match &mut node.kind {
        Kind::Map(entries) => {
            for (k, v) in entries {
                close(k, text)?;
                close(v, text)?;
                end = end.max(k.end).max(v.end);
            }
        }
        Kind::Seq(items) => {
            for item in items {
                close(item, text)?;
                end = end.max(item.end);
            }
        }
        Kind::Scalar(_) => {}
    }
    if !matches!(node.kind, Kind::Scalar(_))
        && let Some(closer) = flow_closer(text, node.start)
    {
        let after_opener = At { byte: node.start.byte + 1, char: node.start.char + 1 };
        end = closing(text, end.max(after_opener), closer)?;
    }
    node.end = end;
    Some(())
}

/// `}` or `]` when the collection at `start` is written in flow style.
fn flow_closer(text: &str, start: At) -> Option<char> {
    match text.get(start.byte..)?.chars().next()? {
        '{' => Some('}'),
        '[' => Some(']'),
        _ => None,
    }
}

/// Past the `closer` that ends a flow collection whose last child ends at `from`: only blanks,
/// commas, comments and the `:` of an empty value (placed before it) may come between.
fn closing(text: &str, from: At, closer: char) -> Option<At> {
    let mut at = from;
    let mut comment = false;
    for c in text.get(from.byte..)?.chars() {
        let next = At { byte: at.byte + c.len_utf8(), char: at.char + 1 };
        if comment {
            comment = c != '\n';
        } else if c == closer {
            return Some(next);
        } else if c == '#' {
            comment = true;
        } else if !matches!(c, ' ' | '\t' | '\r' | '\n' | ',' | ':') {
            return None;
        }
        at = next;
    }
    None
}

impl<'de> Deserialize<'de> for Node {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Node, D::Error> {
        let spanned = Spanned::<Shape>::deserialize(d)?;
        let span = spanned.referenced.span();
        let (Some(byte), Some(byte_len)) = (span.byte_offset(), span.byte_len()) else {
            return Err(serde::de::Error::custom("no byte offsets"));
        };
        let start = At { byte: byte as usize, char: span.offset() as usize };
        let defined = spanned.defined.span().offset() as usize;
        Ok(Node {
            start,
            end: At { byte: start.byte + byte_len as usize, char: start.char + span.len() as usize },
            line: spanned.referenced.line(),
            column: spanned.referenced.column(),
            anchor: (defined != start.char).then_some(defined),
            kind: spanned.value.0,
        })
    }
}

/// A node's kind and children, whatever its type.
struct Shape(Kind);

impl<'de> Deserialize<'de> for Shape {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Shape, D::Error> {
        d.deserialize_any(ShapeVisitor)
    }
}

struct ShapeVisitor;

impl ShapeVisitor {
    fn scalar(text: Option<&str>) -> Shape {
        Shape(Kind::Scalar(text.filter(|s| s.chars().count() <= KEPT_SCALAR_CHARS).map(str::to_string)))
    }
}

impl<'de> Visitor<'de> for ShapeVisitor {
    type Value = Shape;

    fn expecting(&self, f: &mut fmt::Formatter) -> fmt::Result {
        f.write_str("any YAML node")
    }

    fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<Shape, A::Error> {
        let mut entries = Vec::new();
        while let Some(key) = map.next_key::<Node>()? {
            entries.push((key, map.next_value::<Node>()?));
        }
        Ok(Shape(Kind::Map(entries)))
    }

    fn visit_seq<A: SeqAccess<'de>>(self, mut seq: A) -> Result<Shape, A::Error> {
        let mut items = Vec::new();
        while let Some(item) = seq.next_element::<Node>()? {
            items.push(item);
        }
        Ok(Shape(Kind::Seq(items)))
    }

    fn visit_str<E>(self, s: &str) -> Result<Shape, E> {
        Ok(Self::scalar(Some(s)))
    }

    fn visit_bool<E>(self, _: bool) -> Result<Shape, E> {
        Ok(Self::scalar(None))
    }

    fn visit_i64<E>(self, _: i64) -> Result<Shape, E> {
        Ok(Self::scalar(None))
    }

    fn visit_u64<E>(self, _: u64) -> Result<Shape, E> {
        Ok(Self::scalar(None))
    }

    fn visit_i128<E>(self, _: i128) -> Result<Shape, E> {
        Ok(Self::scalar(None))
    }

    fn visit_u128<E>(self, _: u128) -> Result<Shape, E> {
        Ok(Self::scalar(None))
    }

    fn visit_f64<E>(self, _: f64) -> Result<Shape, E> {
        Ok(Self::scalar(None))
    }

    fn visit_bytes<E>(self, _: &[u8]) -> Result<Shape, E> {
        Ok(Self::scalar(None))
    }

    fn visit_unit<E>(self) -> Result<Shape, E> {
        Ok(Self::scalar(None))
    }

    fn visit_none<E>(self) -> Result<Shape, E> {
        Ok(Self::scalar(None))
    }

    fn visit_some<D: Deserializer<'de>>(self, d: D) -> Result<Shape, D::Error> {
        Shape::deserialize(d)
    }

    fn visit_newtype_struct<D: Deserializer<'de>>(self, d: D) -> Result<Shape, D::Error> {
        Shape::deserialize(d)
    }
}

/// A step of one of the [`STEP_LISTS`].
struct Item<'t> {
    node: &'t Node,
    /// In a block list (`- …` lines), whose items keep their indentation when parsed alone.
    block: bool,
    /// Parsed on its own or not (an alias to, or an anchor for, a node outside it).
    alone: bool,
    fix: Fix,
}

/// What a step needs for the file to parse.
#[derive(Debug, Clone, PartialEq, Eq)]
enum Fix {
    /// Nothing: it parses.
    None,
    /// It parses with these character ranges (its entries in error) blanked.
    Blank(Vec<(usize, usize)>),
    /// It does not parse: `~` instead.
    Replace,
}

impl Item<'_> {
    fn failed(&self) -> bool {
        self.fix != Fix::None
    }
}

/// A step parsed from its own text.
enum Alone {
    /// Its problems, and what it needs for the file to parse.
    Parsed(Vec<Diagnostic>, Fix),
    /// Its text alone does not say what it is (the error is outside it, or a syntax error).
    Tied,
}

struct Recovery<'a> {
    path: &'a Path,
    text: &'a str,
    tree: &'a Tree,
    /// Where each line starts, in bytes: messages quote the line they point at.
    line_starts: Vec<usize>,
    found: Vec<Diagnostic>,
}

impl<'a> Recovery<'a> {
    /// A YAML error at `line:column` of the file, quoting that line.
    fn diagnostic(&self, line: u64, column: u64, e: &serde_saphyr::Error) -> Diagnostic {
        let start = self.line_starts.get(line as usize - 1).copied().unwrap_or(self.text.len());
        let end = self.line_starts.get(line as usize).map_or(self.text.len(), |next| next - 1);
        located(self.path, self.text.get(start..end).unwrap_or_default(), line, column, yaml_message(e))
    }

    fn run(mut self, access: &FileAccess) -> Vec<Diagnostic> {
        let mut items = self.items();
        for item in items.iter_mut().filter(|i| i.alone) {
            // Past the limit, a step is only parsed once: whether it fails is still needed.
            let limit = if self.found.len() > MAX_DIAGNOSTICS { 1 } else { MAX_PER_STEP };
            match self.step_alone(item, limit) {
                Alone::Parsed(problems, fix) => {
                    self.found.extend(problems);
                    item.fix = fix;
                }
                Alone::Tied => item.alone = false,
            }
        }
        if let Some(spec) = self.top_level(&mut items) {
            let unparsed = unparsed(items.iter().filter(|i| i.failed()).map(|i| i.node));
            let scenario = Scenario::from_spec(self.path, self.text, spec, access);
            self.found.extend(lint::lint_partial(&scenario, &unparsed));
        }
        self.found
    }

    /// The steps of every list, in file order, with what can be parsed on its own.
    fn items(&self) -> Vec<Item<'a>> {
        let tree: &'a Tree = self.tree;
        let mut items = Vec::new();
        if let Kind::Map(entries) = &tree.root.kind {
            for (key, value) in entries {
                if !key.text().is_some_and(|k| STEP_LISTS.contains(&k)) || value.anchor.is_some() {
                    continue;
                }
                if let Kind::Seq(list) = &value.kind {
                    let block = flow_closer(self.text, value.start).is_none();
                    items.extend(list.iter().map(|node| Item { node, block, alone: node.anchor.is_none(), fix: Fix::None }));
                }
            }
        }
        items.sort_by_key(|i| i.node.start);
        // An alias and its anchor in different places tie both: neither is parsed alone.
        let mut aliases = Vec::new();
        tree.root.aliases(&mut aliases);
        for (alias, anchor) in aliases {
            let (a, b) = (item_at(&items, alias), item_at(&items, anchor));
            if a != b {
                for i in [a, b].into_iter().flatten() {
                    items[i].alone = false;
                }
            }
        }
        items
    }

    /// One step parsed from its own text, up to `limit` times: after an error, the entry
    /// holding it is blanked for the next.
    fn step_alone(&self, item: &Item, limit: usize) -> Alone {
        let node = item.node;
        let pad = if item.block { node.column as usize - 1 } else { 0 };
        let Some(text) = self.text.get(node.start.byte..node.end.byte) else { return Alone::Tied };
        // Ended by a line break, as in the file: a value left empty at the end is placed the same.
        let mut buf: Vec<char> = std::iter::repeat_n(' ', pad).chain(text.chars()).chain(['\n']).collect();
        let mut blanks = Blanks::default();
        let mut found: Vec<Diagnostic> = Vec::new();
        for round in 0..limit {
            let sub: String = buf.iter().collect();
            let Err(e) = serde_saphyr::from_str_with_options::<Step>(&sub, yaml_options()) else {
                let fix = if found.is_empty() { Fix::None } else { Fix::Blank(blanks.ranges) };
                return Alone::Parsed(found, fix);
            };
            // Where the error is, in the file.
            let loc = e.location().filter(|l| l.line() >= 1 && l.column() >= 1);
            let at = loc.and_then(|l| (l.span().offset() as usize).checked_sub(pad)).map(|a| a + node.start.char);
            let syntax = matches!(e, serde_saphyr::Error::ExternalMessage { .. });
            let (Some(loc), Some(at), false) = (loc, at.filter(|a| node.contains(*a)), syntax) else {
                return if round == 0 { Alone::Tied } else { Alone::Parsed(found, Fix::Replace) };
            };
            let missing = missing_field(&e);
            if blanks.explain(at, missing.as_deref()) {
                break;
            }
            let line = node.line + loc.line() - 1;
            let column = if loc.line() == 1 { loc.column() + node.column - 1 - pad as u64 } else { loc.column() };
            let d = self.diagnostic(line, column, &e);
            if found.contains(&d) {
                break;
            }
            found.push(d);
            let Some((map, key, value)) = blanks.entry_at(node, at, missing.is_some(), 2) else { break };
            for i in blanks.add(self.text, map, key, value) {
                if let Some(c) = buf.get_mut(i + pad - node.start.char).filter(|c| **c != '\n') {
                    *c = ' ';
                }
            }
        }
        Alone::Parsed(found, Fix::Replace)
    }

    /// The file parsed with the steps fixed: the top-level keys' errors, an entry in error
    /// blanked each time, and the steps that could not be parsed alone replaced when in error.
    /// What finally parses, with the steps that did.
    fn top_level(&mut self, items: &mut [Item]) -> Option<ScenarioSpec> {
        let mut blanks = Blanks::default();
        for item in items.iter() {
            match &item.fix {
                Fix::None => {}
                Fix::Blank(ranges) => blanks.ranges.extend(ranges),
                Fix::Replace => blanks.ranges.push((item.node.start.char, item.node.end.char)),
            }
        }
        for _ in 0..MAX_FILE_PARSES {
            let repaired = self.repaired(items, &blanks);
            let e = match serde_saphyr::from_str_with_options::<ScenarioSpec<Option<Spanned<Step>>>>(&repaired, yaml_options()) {
                Ok(spec) => return Some(spec.map_steps(|steps| steps.into_iter().flatten().collect())),
                Err(e) => e,
            };
            let loc = e.location().filter(|l| l.line() >= 1 && l.column() >= 1)?;
            let at = loc.span().offset() as usize;
            let missing = missing_field(&e);
            if matches!(e, serde_saphyr::Error::ExternalMessage { .. }) || blanks.explain(at, missing.as_deref()) {
                return None;
            }
            let d = self.diagnostic(loc.line(), loc.column(), &e);
            self.found.push(d);
            match item_at(items, at) {
                Some(i) if !items[i].failed() => {
                    items[i].fix = Fix::Replace;
                    blanks.ranges.push((items[i].node.start.char, items[i].node.end.char));
                }
                _ => {
                    let (map, key, value) = blanks.entry_at(&self.tree.root, at, missing.is_some(), 1)?;
                    blanks.add(self.text, map, key, value);
                }
            }
        }
        None
    }

    /// The text with each replaced step's node as `~` and each range of `blanks` blanked.
    fn repaired(&self, items: &[Item], blanks: &Blanks) -> String {
        let replaced: BTreeSet<usize> = items.iter().filter(|i| i.fix == Fix::Replace).map(|i| i.node.start.char).collect();
        let mut ranges = blanks.ranges.clone();
        ranges.sort();
        let mut ranges = ranges.into_iter().peekable();
        let mut blank_until = 0;
        let mut out = String::with_capacity(self.text.len());
        for (i, c) in self.text.chars().enumerate() {
            while let Some((_, end)) = ranges.next_if(|r| r.0 <= i) {
                blank_until = blank_until.max(end);
            }
            out.push(match c {
                '\n' => '\n',
                _ if replaced.contains(&i) => '~',
                _ if i < blank_until => ' ',
                c => c,
            });
        }
        out
    }
}

/// What was blanked, to tell the errors that blanking caused from the file's own.
#[derive(Default)]
struct Blanks {
    /// Character ranges (a failed step's node, an entry with its flow comma).
    ranges: Vec<(usize, usize)>,
    /// The keys removed, with the extent of their mapping.
    keys: Vec<(usize, usize, String)>,
}

impl Blanks {
    /// Blanks entry `key: value` of `map` (and the comma after it in a flow mapping); the
    /// character range to blank.
    fn add(&mut self, text: &str, map: &Node, key: &Node, value: &Node) -> std::ops::Range<usize> {
        let mut end = key.end.max(value.end);
        if flow_closer(text, map.start).is_some() {
            end = comma_after(text, end).unwrap_or(end);
        }
        self.ranges.push((key.start.char, end.char));
        self.keys.push((map.start.char, map.end.char, key.text().unwrap_or_default().to_string()));
        key.start.char..end.char
    }

    fn blanked(&self, at: usize) -> bool {
        self.ranges.iter().any(|&(start, end)| start <= at && at <= end)
    }

    /// The error at `at` comes from blanking: it is in (or right after) a blanked range, or it
    /// misses a key that was blanked from a mapping around it.
    fn explain(&self, at: usize, missing: Option<&str>) -> bool {
        self.blanked(at)
            || missing.is_some_and(|field| self.keys.iter().any(|(start, end, key)| (*start..=*end).contains(&at) && key == field))
    }

    /// The entry to blank after an error at character `at`: the deepest mapping entry holding
    /// it, `min_depth` mappings down or more, in a mapping left with another entry (no mapping
    /// is emptied). A missing field, reported at its mapping's last key, is that mapping's
    /// fault: the entry holding the mapping is blanked.
    fn entry_at<'n>(&self, root: &'n Node, at: usize, missing: bool, min_depth: usize) -> Option<(&'n Node, &'n Node, &'n Node)> {
        let mut node = root;
        let mut depth = 0;
        let mut found = None;
        loop {
            if node.anchor.is_some() {
                return found;
            }
            match &node.kind {
                Kind::Map(entries) => {
                    let kept = entries.iter().filter(|(k, _)| !self.blanked(k.start.char)).count();
                    let Some((key, value)) = entries.iter().find(|(k, v)| k.start.char <= at && at <= k.end.max(v.end).char) else {
                        return found;
                    };
                    if missing && key.start.char == at {
                        return found;
                    }
                    depth += 1;
                    if depth >= min_depth && kept >= 2 && key.anchor.is_none() {
                        found = Some((node, key, value));
                    }
                    node = value;
                }
                Kind::Seq(items) => match items.iter().find(|n| n.contains(at)) {
                    Some(item) => node = item,
                    None => return found,
                },
                Kind::Scalar(_) => return found,
            }
        }
    }
}

/// Past the comma that follows a flow entry ending at `from` (blanks and comments between).
fn comma_after(text: &str, from: At) -> Option<At> {
    let mut at = from;
    let mut comment = false;
    for c in text.get(from.byte..)?.chars() {
        let next = At { byte: at.byte + c.len_utf8(), char: at.char + 1 };
        if comment {
            comment = c != '\n';
        } else if c == ',' {
            return Some(next);
        } else if c == '#' {
            comment = true;
        } else if !c.is_whitespace() {
            return None;
        }
        at = next;
    }
    None
}

/// The field a "missing field" error names.
fn missing_field(e: &serde_saphyr::Error) -> Option<String> {
    let message = yaml_message(e);
    Some(message.strip_prefix("missing field `")?.strip_suffix('`')?.to_string())
}

/// The index of the item whose node holds character `at`.
fn item_at(items: &[Item], at: usize) -> Option<usize> {
    let i = items.partition_point(|i| i.node.start.char <= at).checked_sub(1)?;
    items[i].node.contains(at).then_some(i)
}

/// What the steps that did not parse would have defined: the tokens they `save` and the
/// variables they `capture`, as far as their YAML says.
fn unparsed<'n>(failed: impl Iterator<Item = &'n Node>) -> Unparsed {
    let mut out = Unparsed::default();
    for step in failed {
        out.steps += 1;
        let Kind::Map(entries) = &step.kind else { continue };
        for (_, fields) in entries {
            if let Some(name) = fields.get("save").and_then(Node::text) {
                out.tokens.insert(name.to_string());
            }
            if let Some(Kind::Map(captures)) = fields.get("capture").map(|c| &c.kind) {
                out.vars.extend(captures.iter().filter_map(|(k, _)| k.text().map(str::to_string)));
            }
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::scenario::SourcePos;

    fn tree(text: &str) -> Tree {
        Tree::read(text).expect("a tree")
    }

    fn slice<'t>(text: &'t str, n: &Node) -> &'t str {
        &text[n.start.byte..n.end.byte]
    }

    #[test]
    fn nodes_end_where_they_are_written() {
        let text = "steps:\n  - token: {a: [1, 2 ], \"é\": 'x'}  # c\n  - call:\n      as: é\n      body: |\n        hi\n  - {get: {}}\n";
        let t = tree(text);
        let Kind::Map(entries) = &t.root.kind else { panic!() };
        let Kind::Seq(steps) = &entries[0].1.kind else { panic!() };
        assert_eq!(slice(text, &steps[0]), "token: {a: [1, 2 ], \"é\": 'x'}");
        assert!(slice(text, &steps[1]).starts_with("call:\n      as: é\n      body: |\n        hi"));
        assert_eq!(slice(text, &steps[2]), "{get: {}}");
        assert_eq!((steps[2].line, steps[2].column), (7, 5));
    }

    #[test]
    fn aliases_know_their_anchor() {
        let text = "steps:\n  - &a {token: {}}\n  - *a\n";
        let t = tree(text);
        let mut aliases = Vec::new();
        t.root.aliases(&mut aliases);
        assert_eq!(aliases.len(), 1);
        assert_eq!(&text[aliases[0].1..aliases[0].1 + 1], "{");
    }

    #[test]
    fn broken_yaml_has_no_tree() {
        assert!(Tree::read("a: b: c\n").is_none());
        assert!(Tree::read("a: 1\n---\nb: 2\n").is_none());
    }

    /// Within a test thread's 2 MiB, in a debug build: as deep as the tree goes, and deeper.
    #[test]
    fn deep_trees_fit_a_small_stack() {
        for depth in [TREE_MAX_DEPTH - 1, TREE_MAX_DEPTH + 1, 200] {
            let text = format!("a: {}1{}\n", "{a: ".repeat(depth), "}".repeat(depth));
            let read = std::thread::Builder::new().stack_size(2 << 20).spawn(move || Tree::read(&text).is_some());
            assert_eq!(read.unwrap().join().unwrap(), depth < TREE_MAX_DEPTH, "depth {depth}");
        }
    }

    #[test]
    fn the_bound_counts_the_rest() {
        let d = |line| Diagnostic { pos: SourcePos { file: "f".into(), line, column: 1 }, message: "m".into() };
        let out = bounded((1..=150).rev().map(d).collect());
        assert_eq!(out.len(), MAX_DIAGNOSTICS + 1);
        assert_eq!(out[0].pos.line, 1);
        assert_eq!(out[MAX_DIAGNOSTICS].pos.line, 101);
        assert!(out[MAX_DIAGNOSTICS].message.contains("50 more"), "{}", out[MAX_DIAGNOSTICS].message);
    }
}
