//! Reading the files a scenario names, and quoting them in messages, without trusting them:
//! regular files only, a size limit, never outside the tree they were loaded from, valid UTF-8
//! with the position of the first bad byte, and excerpts instead of whole lines.

use std::fs::{File, OpenOptions};
use std::io::Read;
use std::os::unix::fs::{FileTypeExt, OpenOptionsExt};
use std::path::{Path, PathBuf};

use schemars::JsonSchema;
use serde::{Deserialize, Serialize};

/// The largest scenario or manifest file read (real ones are a few KiB).
pub const MAX_FILE_BYTES: u64 = 4 * 1024 * 1024;

/// How many characters of a source line or a value a message quotes.
pub const EXCERPT_CHARS: usize = 120;

/// The longest a diagnostic message gets, whatever it quotes.
const MAX_MESSAGE_CHARS: usize = 1000;

/// Which files a scenario may read: those under `root` (symlinks resolved), or any with
/// `allow_outside` (`--allow-outside-files`).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct FileAccess {
    root: PathBuf,
    allow_outside: bool,
}

impl FileAccess {
    /// Files under `root`, the directory given on the command line or a given file's own directory.
    pub fn under(root: &Path, allow_outside: bool) -> FileAccess {
        // A root that cannot be resolved confines to itself as written: nothing resolves under it.
        let root = std::fs::canonicalize(root).unwrap_or_else(|_| root.to_path_buf());
        FileAccess { root, allow_outside }
    }

    /// The tree a scenario file read on its own may reach: its own directory.
    pub fn beside(scenario: &Path) -> FileAccess {
        FileAccess::under(&parent_dir(scenario), false)
    }

    pub fn root(&self) -> &Path {
        &self.root
    }
}

/// The directory a file lies in (`.` for a bare file name).
pub fn parent_dir(file: &Path) -> PathBuf {
    match file.parent() {
        Some(p) if !p.as_os_str().is_empty() => p.to_path_buf(),
        _ => PathBuf::from("."),
    }
}

/// Why a file could not be read; `at` is the line and column of the first byte that is not
/// UTF-8, when that is the reason.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ReadError {
    pub message: String,
    pub at: Option<(u64, u64)>,
}

impl ReadError {
    fn new(message: String) -> ReadError {
        ReadError { message, at: None }
    }
}

/// Reads a text file the way every scenario input is read: the path resolved (symlinks too) and,
/// with `access`, kept inside it; the type checked before opening and again on the open handle (a FIFO,
/// device or directory swapped in cannot block or stream: the open does not block), at most
/// [`MAX_FILE_BYTES`], and valid UTF-8.
pub fn read_text(path: &Path, access: Option<&FileAccess>) -> Result<String, ReadError> {
    let io = |e: std::io::Error| ReadError::new(e.to_string());
    let real = std::fs::canonicalize(path).map_err(io)?;
    if let Some(access) = access.filter(|a| !a.allow_outside && !real.starts_with(&a.root)) {
        return Err(ReadError::new(format!(
            "it resolves to {}, outside {} where the scenarios were loaded from; \
             pass --allow-outside-files to read it anyway",
            real.display(),
            access.root.display()
        )));
    }
    check_regular(&std::fs::metadata(&real).map_err(io)?)?;
    let file = OpenOptions::new().read(true).custom_flags(libc::O_NONBLOCK | libc::O_NOCTTY).open(&real).map_err(io)?;
    check_regular(&file.metadata().map_err(io)?)?;
    let bytes = read_bounded(file)?;
    utf8(bytes).map_err(|(line, column, byte)| ReadError { message: format!("byte 0x{byte:02x} is not UTF-8"), at: Some((line, column)) })
}

fn check_regular(meta: &std::fs::Metadata) -> Result<(), ReadError> {
    let kind = meta.file_type();
    let what = if kind.is_file() {
        if meta.len() > MAX_FILE_BYTES {
            return Err(ReadError::new(format!("it is {} bytes; the limit is {}", meta.len(), limit_text())));
        }
        return Ok(());
    } else if kind.is_dir() {
        "a directory"
    } else if kind.is_fifo() {
        "a FIFO"
    } else if kind.is_socket() {
        "a socket"
    } else if kind.is_char_device() || kind.is_block_device() {
        "a device"
    } else {
        "not a file"
    };
    Err(ReadError::new(format!("it is {what}, not a regular file")))
}

/// At most the limit, even if the file grows after its size was checked.
fn read_bounded(file: File) -> Result<Vec<u8>, ReadError> {
    let mut bytes = Vec::new();
    file.take(MAX_FILE_BYTES + 1).read_to_end(&mut bytes).map_err(|e| ReadError::new(e.to_string()))?;
    if bytes.len() as u64 > MAX_FILE_BYTES {
        return Err(ReadError::new(format!("it is larger than the limit of {}", limit_text())));
    }
    Ok(bytes)
}

/// The file size limit as messages say it.
pub fn limit_text() -> String {
    format!("{} MiB", MAX_FILE_BYTES / (1024 * 1024))
}

/// The text, or the line, column (in characters, from 1) and value of the first bad byte.
pub fn utf8(bytes: Vec<u8>) -> Result<String, (u64, u64, u8)> {
    String::from_utf8(bytes).map_err(|e| {
        let bytes = e.as_bytes();
        let bad = e.utf8_error().valid_up_to();
        let good = std::str::from_utf8(&bytes[..bad]).unwrap_or_default();
        let line_start = good.rfind('\n').map_or(0, |i| i + 1);
        let line = good.matches('\n').count() as u64 + 1;
        let column = good[line_start..].chars().count() as u64 + 1;
        (line, column, bytes[bad])
    })
}

/// At most [`EXCERPT_CHARS`] characters of `line` around `column` (from 1), trimmed, with `…`
/// where something was cut.
pub fn excerpt_around(line: &str, column: u64) -> String {
    let line = line.trim_end();
    let total = line.chars().count();
    if total <= EXCERPT_CHARS {
        return line.trim_start().to_string();
    }
    let at = usize::try_from(column.saturating_sub(1)).unwrap_or(usize::MAX).min(total);
    let start = at.saturating_sub(EXCERPT_CHARS / 2).min(total - EXCERPT_CHARS);
    let end = start + EXCERPT_CHARS;
    let piece: String = line.chars().skip(start).take(EXCERPT_CHARS).collect();
    let head = if start > 0 { "…" } else { "" };
    let tail = if end < total { "…" } else { "" };
    format!("{head}{}{tail}", if start == 0 { piece.trim_start() } else { &piece })
}

/// A value quoted in a message: at most [`EXCERPT_CHARS`] characters, then `…`.
pub fn excerpt(value: &str) -> String {
    if value.chars().count() <= EXCERPT_CHARS {
        return value.to_string();
    }
    let head: String = value.chars().take(EXCERPT_CHARS).collect();
    format!("{head}… ({} characters)", value.chars().count())
}

/// Any message made short enough to read: long quoted spans (`…` and "…") become excerpts,
/// and what is still too long loses its middle. Messages quote user input; this is the bound.
pub fn bounded_message(message: &str) -> String {
    if message.chars().count() <= EXCERPT_CHARS * 2 {
        return message.to_string();
    }
    let mut out = String::new();
    let mut rest = message;
    while let Some(open) = rest.find(['`', '"']) {
        let quote = &rest[open..open + 1];
        let Some(len) = rest[open + 1..].find(quote) else { break };
        out.push_str(&rest[..open + 1]);
        out.push_str(&excerpt(&rest[open + 1..open + 1 + len]));
        out.push_str(quote);
        rest = &rest[open + 1 + len + 1..];
    }
    out.push_str(rest);
    let total = out.chars().count();
    if total <= MAX_MESSAGE_CHARS {
        return out;
    }
    // Keep the start (what is wrong) and the end (often the valid choices).
    let head: String = out.chars().take(MAX_MESSAGE_CHARS * 2 / 3).collect();
    let tail: String = out.chars().skip(total - MAX_MESSAGE_CHARS / 3).collect();
    format!("{head} … ({} characters left out) … {tail}", total - head.chars().count() - tail.chars().count())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn temp_dir(name: &str) -> PathBuf {
        let dir = std::env::temp_dir().join(format!("kubeproof-source-{}-{name}", std::process::id()));
        let _ = std::fs::remove_dir_all(&dir);
        std::fs::create_dir_all(&dir).unwrap();
        dir
    }

    #[test]
    fn first_bad_byte_is_located_in_characters() {
        assert_eq!(utf8(b"ab\ncd\xffe".to_vec()), Err((2, 3, 0xff)));
        assert_eq!(utf8(b"\xc3\xa9\n\xc3\xa9x\x80".to_vec()).map_err(|e| (e.0, e.1)), Err((2, 3)));
        assert_eq!(utf8(b"\xc3".to_vec()), Err((1, 1, 0xc3)));
        assert_eq!(utf8(b"fine\n".to_vec()).as_deref(), Ok("fine\n"));
    }

    #[test]
    fn excerpts_are_bounded_and_marked() {
        let line = format!("{}X{}", "a".repeat(5000), "b".repeat(5000));
        let cut = excerpt_around(&line, 5001);
        assert!(cut.starts_with('…') && cut.ends_with('…'), "{cut}");
        assert!(cut.contains('X'));
        assert_eq!(cut.chars().count(), EXCERPT_CHARS + 2);
        assert_eq!(excerpt_around("  short: line  ", 3), "short: line");
        let start = excerpt_around(&line, 1);
        assert!(!start.starts_with('…') && start.ends_with('…'));
        assert!(excerpt_around(&line, u64::MAX).starts_with('…'));
        assert!(excerpt(&"x".repeat(1000)).ends_with("… (1000 characters)"));
    }

    #[test]
    fn long_messages_are_bounded() {
        let long = format!("`{}` is wrong: pick one of a, b", "z".repeat(1_000_000));
        let msg = bounded_message(&long);
        assert!(msg.chars().count() < 300, "{}", msg.len());
        assert!(msg.ends_with("is wrong: pick one of a, b"));
        let unquoted = format!("{} (valid: a, b)", "w ".repeat(100_000));
        let msg = bounded_message(&unquoted);
        assert!(msg.chars().count() <= MAX_MESSAGE_CHARS + 60, "{}", msg.chars().count());
        assert!(msg.ends_with("(valid: a, b)"));
        assert_eq!(bounded_message("short `x`"), "short `x`");
    }

    #[test]
    fn only_regular_files_inside_the_tree() {
        let dir = temp_dir("regular");
        std::fs::write(dir.join("ok.yaml"), "a: b\n").unwrap();
        let access = FileAccess::under(&dir, false);
        assert_eq!(read_text(&dir.join("ok.yaml"), Some(&access)).unwrap(), "a: b\n");

        let fifo = dir.join("fifo.yaml");
        let status = std::process::Command::new("mkfifo").arg(&fifo).status().unwrap();
        assert!(status.success());
        assert!(read_text(&fifo, Some(&access)).unwrap_err().message.contains("a FIFO, not a regular file"));
        assert!(read_text(&dir, Some(&access)).unwrap_err().message.contains("a directory"));

        let outside = temp_dir("outside");
        std::fs::write(outside.join("secret.yaml"), "x: y\n").unwrap();
        std::os::unix::fs::symlink(outside.join("secret.yaml"), dir.join("link.yaml")).unwrap();
        let refused = read_text(&dir.join("link.yaml"), Some(&access)).unwrap_err().message;
        assert!(refused.contains("outside") && refused.contains("--allow-outside-files"), "{refused}");
        assert!(read_text(&dir.join("../").join(outside.file_name().unwrap()).join("secret.yaml"), Some(&access)).is_err());
        assert!(read_text(&dir.join("link.yaml"), Some(&FileAccess::under(&dir, true))).is_ok());

        let big = dir.join("big.yaml");
        std::fs::File::create(&big).unwrap().set_len(MAX_FILE_BYTES + 1).unwrap();
        assert!(read_text(&big, Some(&access)).unwrap_err().message.contains("the limit is 4 MiB"));

        std::fs::write(dir.join("bad.yaml"), b"a: b\nc: \xfe\n").unwrap();
        let bad = read_text(&dir.join("bad.yaml"), Some(&access)).unwrap_err();
        assert_eq!(bad.at, Some((2, 4)));
        assert!(bad.message.contains("0xfe"), "{}", bad.message);
        let _ = std::fs::remove_dir_all(&dir);
        let _ = std::fs::remove_dir_all(&outside);
    }

    #[test]
    fn devices_are_refused_without_reading() {
        assert!(read_text(Path::new("/dev/zero"), None).unwrap_err().message.contains("a device"));
    }
}

/// A place in a scenario file; without a line, the file as a whole.
#[derive(Debug, Clone, Serialize, Deserialize, JsonSchema, PartialEq, Eq)]
pub struct Position {
    pub file: PathBuf,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub line: Option<u64>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub column: Option<u64>,
}

impl Position {
    pub fn file(file: &std::path::Path) -> Position {
        Position { file: file.to_path_buf(), line: None, column: None }
    }
}

impl From<SourcePos> for Position {
    fn from(p: SourcePos) -> Position {
        Position { file: p.file, line: Some(p.line), column: Some(p.column) }
    }
}

impl std::fmt::Display for Position {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{}", self.file.display())?;
        if let Some(line) = self.line {
            write!(f, ":{line}")?;
        }
        if let Some(column) = self.column {
            write!(f, ":{column}")?;
        }
        Ok(())
    }
}

/// `" (included from a.yaml:7:5, from b.yaml:3:5)"`, or nothing for a scenario's own step.
pub fn note(via: &[SourcePos]) -> String {
    let places: Vec<String> = via.iter().map(|p| p.to_string()).collect();
    match places.is_empty() {
        true => String::new(),
        false => format!(" (included from {})", places.join(", from ")),
    }
}

/// A position in a scenario file.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SourcePos {
    pub file: PathBuf,
    pub line: u64,
    pub column: u64,
}

impl std::fmt::Display for SourcePos {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{}:{}:{}", self.file.display(), self.line, self.column)
    }
}

/// Something wrong with a scenario file, found without a cluster.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Diagnostic {
    pub pos: SourcePos,
    pub message: String,
}

impl std::fmt::Display for Diagnostic {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{}: {}", self.pos, self.message)
    }
}

impl std::error::Error for Diagnostic {}
