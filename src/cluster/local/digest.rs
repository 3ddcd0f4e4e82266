//! A file's sha256, as the cache records and the download sites publish it.

use std::fs::File;
use std::path::Path;

use super::FileError;
use sha2::{Digest, Sha256};

/// The file's sha256 in lowercase hex, read in 1 MiB pieces.
pub fn sha256_file(path: &Path) -> Result<String, FileError> {
    let mut f = File::open(path).map_err(FileError::at(path))?;
    let mut h = Sha256::new();
    let mut buf = vec![0u8; 1 << 20];
    loop {
        let n = std::io::Read::read(&mut f, &mut buf).map_err(FileError::at(path))?;
        if n == 0 {
            break;
        }
        h.update(&buf[..n]);
    }
    Ok(hex::encode(h.finalize()))
}
