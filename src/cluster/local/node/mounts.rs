//! Mounts a node leaves under its directory: containers' root filesystems (overlay), pods'
//! volumes (tmpfs), pods' network namespaces (nsfs), sandboxes' /dev/shm.

use std::path::{Path, PathBuf};

use super::NodeError;

/// `/proc/self/mountinfo` escapes space, tab, newline and backslash as `\ooo`.
pub fn unescape(field: &str) -> String {
    let bytes = field.as_bytes();
    let mut out = Vec::with_capacity(bytes.len());
    let mut i = 0;
    while i < bytes.len() {
        if bytes[i] == b'\\' && i + 3 < bytes.len() && bytes[i + 1..i + 4].iter().all(|b| (b'0'..=b'7').contains(b)) {
            let value = (bytes[i + 1] - b'0') * 64 + (bytes[i + 2] - b'0') * 8 + (bytes[i + 3] - b'0');
            out.push(value);
            i += 4;
        } else {
            out.push(bytes[i]);
            i += 1;
        }
    }
    String::from_utf8_lossy(&out).into_owned()
}

/// Mount points at or below `dir`, deepest first.
pub fn under(dir: &Path) -> Vec<PathBuf> {
    let Ok(text) = std::fs::read_to_string("/proc/self/mountinfo") else { return Vec::new() };
    let mut out: Vec<PathBuf> = text
        .lines()
        .filter_map(|line| line.split_whitespace().nth(4).map(|m| PathBuf::from(unescape(m))))
        .filter(|m| m.starts_with(dir))
        .collect();
    out.sort_by_key(|m| std::cmp::Reverse(m.components().count()));
    out.dedup();
    out
}

/// Unmounts (lazily: a mount still in use goes once unused) everything at or below `dir`,
/// deepest first, until nothing is left.
pub fn unmount_under(dir: &Path) -> Result<(), NodeError> {
    use std::os::unix::ffi::OsStrExt as _;
    for _round in 0..10 {
        let mounts = under(dir);
        if mounts.is_empty() {
            return Ok(());
        }
        for m in mounts {
            let Ok(path) = std::ffi::CString::new(m.as_os_str().as_bytes()) else { continue };
            // SAFETY: plain syscall on a path we own.
            unsafe {
                libc::umount2(path.as_ptr(), libc::MNT_DETACH);
            }
        }
    }
    let left = under(dir);
    if left.is_empty() { Ok(()) } else { Err(NodeError::MountsLeft { dir: dir.to_path_buf(), left }) }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn mountinfo_escapes_are_undone() {
        assert_eq!(unescape(r"/a\040b/c\134d"), r"/a b/c\d");
        assert_eq!(unescape("/plain"), "/plain");
        assert_eq!(unescape(r"/end\04"), r"/end\04");
    }
}
