//! Every problem of a file that does not parse, as far as the YAML allows, not only the first.
//!
//! serde stops at a document's first error. When the whole file does not parse, its YAML is read
//! once more as a tree of nodes that know where they start and end (`Node`); then
//!
//! - each step is parsed on its own, from its own text: one step's error cannot hide another's.
//!   After an error inside a step, the mapping entry holding it is blanked and the step parsed
//!   again, for its next error (a few per step);
//! - the file is parsed once more, each step as it parsed alone (with its entries in error
//!   blanked) or, if it did not, replaced by `~`: the top-level keys' errors (an entry in error
//!   blanked each time, for the next);
//! - what then parses is linted as usual, with the names the replaced steps save or capture
//!   taken as defined.
//!
//! Blanking replaces characters by spaces and keeps line breaks, so every position stays the
//! file's own. A step that cannot be parsed apart from the file (an alias to an anchor outside
//! it) is left in place, and its error comes from the parse of the file. Where the YAML itself
//! is broken (syntax, limits, several documents) there is no tree: the first error is all.

use std::collections::BTreeSet;
use std::path::Path;

use serde_saphyr::Spanned;

use super::lint::{self, Unparsed};
use super::step::Step;
use super::{
    Diagnostic, FileAccess, STEP_LISTS, Scenario, ScenarioSpec, YAML_MAX_DEPTH, YAML_MAX_NODES, located, yaml_diagnostic, yaml_message,
    yaml_options,
};

/// Diagnostics one file gets at most; a last one counts the rest.
pub const MAX_DIAGNOSTICS: usize = 100;

/// Errors looked for in one step: each is one more parse of the step.
const MAX_PER_STEP: usize = 8;

/// Parses of the whole file for its top-level keys (and steps that cannot be parsed alone).
const MAX_FILE_PARSES: usize = 16;

/// Every problem of `text`, whose parse failed with `error`: structural ones (sorted by
/// position) and what lint finds in the parts that parsed; at most [`MAX_DIAGNOSTICS`] and a
/// count of the rest. Never empty.
pub(super) fn problems(path: &Path, text: &str, access: &FileAccess, error: &serde_saphyr::Error) -> Vec<Diagnostic> {
    recover(path, text, error, |r| r.run(access))
}

/// Every problem of a [step file](super::include) that does not parse: its first, and each
/// step's (step files are not linted on their own: their steps are, where they are included).
pub(super) fn step_file_problems(path: &Path, text: &str, error: &serde_saphyr::Error) -> Vec<Diagnostic> {
    recover(path, text, error, |mut r| {
        r.steps();
        r.add_first();
        r.found
    })
}

/// The first problem, or what `more` finds with it, bounded.
fn recover(path: &Path, text: &str, error: &serde_saphyr::Error, more: impl FnOnce(Recovery) -> Vec<Diagnostic>) -> Vec<Diagnostic> {
    let at = error.location().map(|l| l.span().offset() as usize);
    let first = First { at, message: yaml_message(error), diagnostic: yaml_diagnostic(path, text, error) };
    // Over the limits, the file gets no more work: its first problem is all.
    let tree = if over_limits(error) { None } else { Tree::read(text) };
    let found = match tree {
        Some(tree) => {
            let line_starts = std::iter::once(0).chain(text.match_indices('\n').map(|(i, _)| i + 1)).collect();
            more(Recovery { path, text, tree: &tree, line_starts, first, found: Vec::new() })
        }
        None => vec![first.diagnostic],
    };
    bounded(path, found)
}

/// The error the parse of the whole file stopped at: where (in characters), what it said, and
/// as a diagnostic.
struct First {
    at: Option<usize>,
    message: String,
    diagnostic: Diagnostic,
}

/// Sorted by position (the file's own first, then those of the step files it includes),
/// duplicates dropped, at most [`MAX_DIAGNOSTICS`] and a count of the rest.
fn bounded(path: &Path, mut found: Vec<Diagnostic>) -> Vec<Diagnostic> {
    found.sort_by_cached_key(|d| (d.pos.file != path, d.pos.file.clone(), d.pos.line, d.pos.column));
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

impl At {
    fn of(marker: &granit_parser::Marker) -> Option<At> {
        Some(At { byte: marker.byte_offset()?, char: marker.index() })
    }

    /// One character further, for an ASCII character.
    fn next(self) -> At {
        At { byte: self.byte + 1, char: self.char + 1 }
    }
}

/// A YAML node as written: its extent, its position and its children.
#[derive(Debug)]
struct Node {
    start: At,
    /// Past the node's last character (a flow collection's closing bracket included).
    end: At,
    line: u64,
    column: u64,
    /// Written in flow style (`{…}`, `[…]`).
    flow: bool,
    /// For an alias (`*a`), where its anchor's node starts.
    anchor: Option<usize>,
    kind: Kind,
}

#[derive(Debug)]
enum Kind {
    Map(Vec<(Node, Node)>),
    Seq(Vec<Node>),
    /// A scalar, with its text when it is short (keys and names are).
    Scalar(Option<String>),
}

/// Scalars longer than this are not kept (a key or a name is never this long).
const KEPT_SCALAR_CHARS: usize = 256;

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
}

/// The whole file as nodes, and its aliases in file order as (where the alias starts, where
/// it ends, where its anchor starts).
struct Tree {
    root: Node,
    aliases: Vec<(usize, usize, usize)>,
}

impl Tree {
    /// Where the anchor is of the alias written at `at`: an error in what an alias replays is
    /// placed at the alias.
    fn anchor_of(&self, at: usize) -> Option<usize> {
        let i = self.aliases.partition_point(|a| a.0 <= at).checked_sub(1)?;
        let (start, end, anchor) = self.aliases[i];
        (start <= at && at <= end).then_some(anchor)
    }
}

impl Tree {
    /// `None` where the YAML itself is broken, holds several documents, or is over the limits
    /// of [`yaml_options`] (values are counted as written: aliases are not expanded here).
    fn read(text: &str) -> Option<Tree> {
        use granit_parser::{Event, StructureStyle};
        let mut parser = granit_parser::Parser::new_from_str(text);
        // Collections being read, each with its key waiting for a value (in a mapping).
        let mut open: Vec<(Node, Option<Node>)> = Vec::new();
        let mut anchors = std::collections::HashMap::new();
        let mut aliases = Vec::new();
        let (mut nodes, mut documents) = (0, 0);
        let mut root = None;
        while let Some(event) = parser.next_event() {
            let (event, span) = event.ok()?;
            let (start, end) = (At::of(&span.start)?, At::of(&span.end)?);
            let node = |kind, flow, anchor| Node {
                start,
                end,
                line: span.start.line() as u64,
                column: span.start.col() as u64 + 1,
                flow,
                anchor,
                kind,
            };
            let done = match event {
                Event::DocumentStart(..) => {
                    documents += 1;
                    if documents > 1 {
                        return None;
                    }
                    continue;
                }
                Event::MappingStart(style, id, _) | Event::SequenceStart(style, id, _) => {
                    if id != 0 {
                        anchors.insert(id, start.char);
                    }
                    let kind = match event {
                        Event::MappingStart(..) => Kind::Map(Vec::new()),
                        _ => Kind::Seq(Vec::new()),
                    };
                    let mut collection = node(kind, style == StructureStyle::Flow, None);
                    // A block collection ends with its last child; a flow one with its bracket.
                    collection.end = start;
                    open.push((collection, None));
                    if open.len() > YAML_MAX_DEPTH {
                        return None;
                    }
                    continue;
                }
                Event::MappingEnd | Event::SequenceEnd => {
                    let (mut collection, _) = open.pop()?;
                    if collection.flow {
                        collection.end = end;
                    }
                    collection
                }
                Event::Scalar(value, _, id, _) => {
                    if id != 0 {
                        anchors.insert(id, start.char);
                    }
                    let kept = (value.chars().count() <= KEPT_SCALAR_CHARS).then(|| value.into_owned());
                    node(Kind::Scalar(kept), false, None)
                }
                Event::Alias(id) => {
                    let anchor = *anchors.get(&id)?;
                    aliases.push((start.char, end.char, anchor));
                    node(Kind::Scalar(None), false, Some(anchor))
                }
                _ => continue,
            };
            nodes += 1;
            if nodes > YAML_MAX_NODES {
                return None;
            }
            let Some((parent, key)) = open.last_mut() else {
                root = Some(done);
                continue;
            };
            parent.end = parent.end.max(done.end);
            match &mut parent.kind {
                Kind::Seq(items) => items.push(done),
                Kind::Map(entries) => match key.take() {
                    None => *key = Some(done),
                    Some(k) => {
                        let mut value = done;
                        // An empty value is placed at the `:` before it, which belongs to the entry.
                        if value.start == value.end && text.get(value.start.byte..)?.starts_with(':') {
                            value.end = value.start.next();
                        }
                        parent.end = parent.end.max(value.end);
                        entries.push((k, value));
                    }
                },
                Kind::Scalar(_) => return None,
            }
        }
        Some(Tree { root: root?, aliases })
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
    /// The error of the parse of the whole file: a step parsed alone may place the same error
    /// elsewhere (a value missing at its end), and it is not repeated.
    first: First,
    found: Vec<Diagnostic>,
}

impl<'a> Recovery<'a> {
    /// A YAML error at `line:column` of the file, quoting that line.
    fn diagnostic(&self, line: u64, column: u64, message: &str) -> Diagnostic {
        let start = self.line_starts.get(line as usize - 1).copied().unwrap_or(self.text.len());
        let end = self.line_starts.get(line as usize).map_or(self.text.len(), |next| next - 1);
        located(self.path, self.text.get(start..end).unwrap_or_default(), line, column, message.to_string())
    }

    /// The line and column of a position.
    fn line_column(&self, at: At) -> (u64, u64) {
        let line = self.line_starts.partition_point(|start| *start <= at.byte).max(1);
        let start = self.line_starts[line - 1];
        (line as u64, self.text.get(start..at.byte).map_or(0, |s| s.chars().count()) as u64 + 1)
    }

    fn run(mut self, access: &FileAccess) -> Vec<Diagnostic> {
        let mut items = self.steps();
        let spec = self.top_level(&mut items);
        self.add_first();
        if let Some(spec) = spec {
            let unparsed = unparsed(&items);
            let scenario = Scenario::from_spec(self.path, self.text, spec, access);
            self.found.extend(lint::lint_partial(&scenario, &unparsed));
        }
        self.found
    }

    /// The parse of the whole file has the last word where it found its error.
    fn add_first(&mut self) {
        let first = &self.first.diagnostic;
        self.found.retain(|d| d.pos != first.pos);
        self.found.push(first.clone());
    }

    /// Each step parsed on its own: its problems, and what it needs for the file to parse.
    fn steps(&mut self) -> Vec<Item<'a>> {
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
        items
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
                    let block = !value.flow;
                    items.extend(list.iter().map(|node| Item { node, block, alone: node.anchor.is_none(), fix: Fix::None }));
                }
            }
        }
        items.sort_by_key(|i| i.node.start);
        // An alias and its anchor in different places tie both: neither is parsed alone.
        for &(alias, _, anchor) in &tree.aliases {
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
            let Err(e) = serde_saphyr::from_str_with_options::<Step>(&sub, options()) else {
                let fix = if round == 0 { Fix::None } else { Fix::Blank(blanks.ranges) };
                return Alone::Parsed(found, fix);
            };
            // Where the error is, in the file; past the step's end (a value it lacks), at its end.
            let loc = e.location().filter(|l| l.line() >= 1 && l.column() >= 1);
            let at = loc.and_then(|l| (l.span().offset() as usize).checked_sub(pad)).map(|a| a + node.start.char);
            let syntax = matches!(original(&e), serde_saphyr::Error::ExternalMessage { .. });
            let (Some(loc), Some(at), false) = (loc, at, syntax) else {
                return if round == 0 { Alone::Tied } else { Alone::Parsed(found, Fix::Replace) };
            };
            let message = yaml_message(&e);
            let missing = missing_field(&message);
            if blanks.explain(at, missing) || self.tree.anchor_of(at).is_some_and(|anchor| blanks.blanked(anchor)) {
                break;
            }
            let (at, (line, column)) = match at > node.end.char {
                true => (node.end.char, self.line_column(node.end)),
                false => {
                    let column = if loc.line() == 1 { loc.column() + node.column - 1 - pad as u64 } else { loc.column() };
                    (at, (node.line + loc.line() - 1, column))
                }
            };
            let d = self.diagnostic(line, column, &message);
            if found.contains(&d) {
                break;
            }
            let said_first = self.first.at.is_some_and(|first| node.contains(first)) && message == self.first.message;
            if !said_first {
                found.push(d);
            }
            if over_limits(&e) {
                break;
            }
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
            let e = match serde_saphyr::from_str_with_options::<ScenarioSpec<Option<Spanned<Step>>>>(&repaired, options()) {
                Ok(spec) => return Some(spec.map_steps(|steps| steps.into_iter().flatten().collect())),
                Err(e) => e,
            };
            let loc = e.location().filter(|l| l.line() >= 1 && l.column() >= 1)?;
            let at = loc.span().offset() as usize;
            let message = yaml_message(&e);
            let missing = missing_field(&message);
            let syntax = matches!(original(&e), serde_saphyr::Error::ExternalMessage { .. });
            if syntax || over_limits(&e) || blanks.explain(at, missing) {
                return None;
            }
            let item = item_at(items, at);
            // An alias of something blanked replays blanks: that error is not the file's.
            let replays_blank = self.tree.anchor_of(at).is_some_and(|anchor| blanks.blanked(anchor));
            if !replays_blank {
                let d = self.diagnostic(loc.line(), loc.column(), &message);
                self.found.push(d);
            }
            match item {
                Some(i) if items[i].fix != Fix::Replace => {
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
        if map.flow {
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
            || missing.is_some_and(|field| self.keys.iter().any(|(start, end, key)| key == field && (*start..=*end).contains(&at)))
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
                    let holds = |(k, v): &&(Node, Node)| k.start.char <= at && at <= k.end.max(v.end).char;
                    let Some((key, value)) = entries.iter().find(holds) else { return found };
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

/// The error itself, without what wraps it (a snippet, the alias it was replayed from).
fn original(e: &serde_saphyr::Error) -> &serde_saphyr::Error {
    match e {
        serde_saphyr::Error::WithSnippet { error, .. } | serde_saphyr::Error::AliasError { error, .. } => original(error),
        e => e,
    }
}

/// An error of the YAML's size (its values, nesting, what its aliases copy): over
/// [`yaml_options`]' limits.
fn over_limits(e: &serde_saphyr::Error) -> bool {
    use serde_saphyr::Error as E;
    matches!(
        original(e),
        E::Budget { .. }
            | E::AliasReplayCounterOverflow { .. }
            | E::AliasReplayLimitExceeded { .. }
            | E::AliasExpansionLimitExceeded { .. }
            | E::AliasReplayStackDepthExceeded { .. }
    )
}

/// The field a "missing field" error names.
fn missing_field(message: &str) -> Option<&str> {
    message.strip_prefix("missing field `")?.strip_suffix('`')
}

/// The options of every parse: errors are read, not shown, so no snippets (rendering them
/// costs more than the parse of a step).
fn options() -> serde_saphyr::Options {
    let mut options = yaml_options();
    options.with_snippet = false;
    options
}

/// The index of the item whose node holds character `at`.
fn item_at(items: &[Item], at: usize) -> Option<usize> {
    let i = items.partition_point(|i| i.node.start.char <= at).checked_sub(1)?;
    items[i].node.contains(at).then_some(i)
}

/// The steps left out, and what the steps that did not parse as written would have defined:
/// the tokens they `save` and the variables they `capture`, as far as their YAML says (an entry
/// set aside may be one of them).
fn unparsed(items: &[Item]) -> Unparsed {
    let mut out = Unparsed::default();
    for item in items.iter().filter(|i| i.fix != Fix::None) {
        out.steps += usize::from(item.fix == Fix::Replace);
        let Kind::Map(entries) = &item.node.kind else { continue };
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
        let text = "steps:\n  - token: {a: [1, 2 ], \"é\": 'x', e: }  # c\n  - call:\n      as: é\n      body: |\n        hi\n  - {get: {}}\n  - k:\n";
        let t = tree(text);
        let Kind::Map(entries) = &t.root.kind else { panic!() };
        let Kind::Seq(steps) = &entries[0].1.kind else { panic!() };
        assert_eq!(slice(text, &steps[0]), "token: {a: [1, 2 ], \"é\": 'x', e: }");
        assert!(slice(text, &steps[1]).starts_with("call:\n      as: é\n      body: |\n        hi"));
        assert_eq!(slice(text, &steps[2]), "{get: {}}");
        assert_eq!((steps[2].line, steps[2].column, steps[2].flow), (7, 5, true));
        assert_eq!(slice(text, &steps[3]), "k:");
    }

    #[test]
    fn aliases_know_their_anchor() {
        let text = "steps:\n  - &a {token: {}}\n  - *a\n";
        let t = tree(text);
        assert_eq!(t.aliases.len(), 1);
        let (start, end, anchor) = t.aliases[0];
        assert_eq!(&text[start..end], "*a");
        assert_eq!(&text[anchor..anchor + 1], "{");
        assert_eq!(t.anchor_of(start + 1), Some(anchor));
        assert_eq!(t.anchor_of(anchor), None);
    }

    #[test]
    fn broken_or_unbounded_yaml_has_no_tree() {
        assert!(Tree::read("a: b: c\n").is_none());
        assert!(Tree::read("a: 1\n---\nb: 2\n").is_none());
        assert!(Tree::read("a: *nothing\n").is_none());
        let deep = |depth: usize| format!("a: {}1{}\n", "[".repeat(depth), "]".repeat(depth));
        assert!(Tree::read(&deep(YAML_MAX_DEPTH - 1)).is_some());
        assert!(Tree::read(&deep(YAML_MAX_DEPTH + 1)).is_none());
        assert!(Tree::read(&format!("a: [{}]\n", vec!["1"; YAML_MAX_NODES].join(","))).is_none());
    }

    /// The entry set aside after an error: the deepest holding it whose mapping keeps another;
    /// for a missing field (placed at its mapping's last key), the entry holding that mapping.
    #[test]
    fn entries_set_aside() {
        let text = "token: {service-account: sa, bound-object: {kind: Pod, nam: p}, expect: [{equal: 1}]}\n";
        let t = tree(text);
        let at = |needle: &str| text.find(needle).unwrap();
        let key_at = |needle: &str, missing: bool| {
            let (_, key, _) = Blanks::default().entry_at(&t.root, at(needle), missing, 2)?;
            Some(slice(text, key))
        };
        assert_eq!(key_at("nam:", false), Some("nam"));
        assert_eq!(key_at("kind", true), Some("bound-object"));
        assert_eq!(key_at("equal", false), Some("expect"));
        assert_eq!(key_at("service-account", true), None, "the kind itself is never set aside");
        // In a flow mapping, the comma after the entry goes with it.
        let mut blanks = Blanks::default();
        let (map, key, value) = blanks.entry_at(&t.root, at("kind"), false, 2).unwrap();
        assert_eq!(blanks.add(text, map, key, value), at("kind")..at("kind") + "kind: Pod,".len());
        assert!(blanks.explain(at("kind") + 3, None) && !blanks.explain(at("expect"), None));
        assert!(blanks.explain(at("{kind"), Some("kind")), "a key set aside from that mapping");
        // `nam:` is then its mapping's only entry: the entry holding the mapping goes.
        let (_, key, _) = blanks.entry_at(&t.root, at("nam:"), false, 2).unwrap();
        assert_eq!(slice(text, key), "bound-object");
        let mut fresh = Blanks::default();
        let (map, key, value) = fresh.entry_at(&t.root, at("nam:"), false, 2).unwrap();
        assert_eq!(fresh.add(text, map, key, value), at("nam:")..at("nam:") + "nam: p".len());
    }

    #[test]
    fn the_bound_counts_the_rest() {
        let d = |line| Diagnostic { pos: SourcePos { file: "f".into(), line, column: 1 }, message: "m".into() };
        let out = bounded(Path::new("f"), (1..=150).rev().map(d).collect());
        assert_eq!(out.len(), MAX_DIAGNOSTICS + 1);
        assert_eq!(out[0].pos.line, 1);
        assert_eq!(out[MAX_DIAGNOSTICS].pos.line, 101);
        assert!(out[MAX_DIAGNOSTICS].message.contains("50 more"), "{}", out[MAX_DIAGNOSTICS].message);
    }
}
