//! Reading files and turning their bytes into UTF-8 text, with one-line errors for content
//! that is not text.

use crate::error::{ReadError, Result};

/// The bytes of the file at `path` and the path as shown in errors.
///
/// # Errors
/// [`ReadError::IsDirectory`] for a directory, [`ReadError::Io`] for a missing or unreadable
/// file.
pub(crate) fn read_file(path: &std::path::Path) -> Result<(Vec<u8>, String)> {
    let shown = path.display().to_string();
    if path.is_dir() {
        return Err(ReadError::IsDirectory { path: shown });
    }
    let bytes = std::fs::read(path).map_err(|source| ReadError::Io {
        path: shown.clone(),
        source,
    })?;
    Ok((bytes, shown))
}

/// Checks that `bytes` are non-empty UTF-8 text and returns them as `&str` (without a BOM).
///
/// # Errors
/// [`ReadError::Empty`], [`ReadError::Utf16`], [`ReadError::Binary`] or [`ReadError::Utf8`].
pub(crate) fn decode<'a>(bytes: &'a [u8], path: &str) -> Result<&'a str> {
    let path_s = || path.to_owned();
    if bytes.iter().all(u8::is_ascii_whitespace) {
        return Err(ReadError::Empty { path: path_s() });
    }
    if let Some(endian) = utf16_endian(bytes) {
        return Err(ReadError::Utf16 {
            path: path_s(),
            endian,
        });
    }
    let bytes = bytes.strip_prefix(b"\xEF\xBB\xBF").unwrap_or(bytes);
    if let Some(offset) = bytes
        .iter()
        .take(64 * 1024)
        .position(|&b| b == 0 || (b < 0x20 && !matches!(b, b'\t' | b'\n' | b'\r' | 0x0c)))
    {
        return Err(ReadError::Binary {
            path: path_s(),
            offset,
            byte: bytes[offset],
        });
    }
    std::str::from_utf8(bytes).map_err(|e| ReadError::Utf8 {
        path: path_s(),
        offset: e.valid_up_to(),
    })
}

/// `Some("little-endian" | "big-endian")` when the bytes look like UTF-16 (a BOM, or ASCII
/// text with every other byte NUL).
pub(crate) fn utf16_endian(bytes: &[u8]) -> Option<&'static str> {
    if bytes.starts_with(&[0xFF, 0xFE]) {
        return Some("little-endian");
    }
    if bytes.starts_with(&[0xFE, 0xFF]) {
        return Some("big-endian");
    }
    let head = &bytes[..bytes.len().min(256)];
    if head.len() >= 4 {
        let even_nul = head.iter().step_by(2).filter(|&&b| b == 0).count();
        let odd_nul = head.iter().skip(1).step_by(2).filter(|&&b| b == 0).count();
        let half = head.len() / 2;
        if odd_nul * 10 >= half * 9 && even_nul == 0 {
            return Some("little-endian");
        }
        if even_nul * 10 >= half * 9 && odd_nul == 0 {
            return Some("big-endian");
        }
    }
    None
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn empty_and_blank_are_empty() {
        assert!(matches!(decode(b"", "a"), Err(ReadError::Empty { .. })));
        assert!(matches!(
            decode(b" \n\t", "a"),
            Err(ReadError::Empty { .. })
        ));
    }

    #[test]
    fn utf16_with_and_without_bom() {
        assert!(matches!(
            decode(b"\xFF\xFE{\0}\0", "a"),
            Err(ReadError::Utf16 {
                endian: "little-endian",
                ..
            })
        ));
        assert!(matches!(
            decode(b"\0{\0\"\0a\0\"", "a"),
            Err(ReadError::Utf16 {
                endian: "big-endian",
                ..
            })
        ));
    }

    #[test]
    fn binary_and_bad_utf8() {
        assert!(matches!(
            decode(b"PK\x03\x04", "a"),
            Err(ReadError::Binary { offset: 2, .. })
        ));
        assert!(matches!(
            decode(b"{\"a\": \"\xC3\x28\"}", "a"),
            Err(ReadError::Utf8 { offset: 7, .. })
        ));
    }

    #[test]
    fn bom_is_stripped() {
        assert_eq!(decode(b"\xEF\xBB\xBF{}", "a").ok(), Some("{}"));
    }
}

/// The 1-based line of a CSV position, computed from its byte offset: the `csv` crate's own
/// line count is one short after the first record when lines end in CRLF (its record start
/// points at the `\n` of the previous CRLF), so line terminators at the offset are skipped.
pub(crate) fn csv_line(text: &str, pos: Option<&csv::Position>) -> usize {
    let Some(pos) = pos else { return 0 };
    let bytes = text.as_bytes();
    let mut end = usize::try_from(pos.byte())
        .unwrap_or(usize::MAX)
        .min(bytes.len());
    while end < bytes.len() && matches!(bytes[end], b'\r' | b'\n') {
        end += 1;
    }
    1 + bytes[..end].iter().filter(|&&b| b == b'\n').count()
}

/// A CSV reader over `text` as every reader here wants it: rows of any width (checked by the
/// caller, with a message naming both widths), cells trimmed.
pub(crate) fn csv_reader(text: &str) -> csv::Reader<&[u8]> {
    csv::ReaderBuilder::new()
        .flexible(true)
        .trim(csv::Trim::All)
        .from_reader(text.as_bytes())
}

/// A CSV syntax error of `path` as a [`ReadError::Field`] with the line it happened on.
pub(crate) fn csv_error(path: &str, text: &str, e: &csv::Error) -> crate::error::ReadError {
    crate::error::ReadError::Field {
        path: path.to_owned(),
        location: crate::error::Location::Line {
            line: csv_line(text, e.position()),
            column: 0,
        },
        value: "CSV record".to_owned(),
        message: crate::error::shorten(&e.to_string()),
    }
}

#[cfg(test)]
mod csv_line_tests {
    #[test]
    fn crlf_lines() {
        for text in ["a,b\r\nc,d\r\ne,f\r\n", "a,b\nc,d\ne,f"] {
            lines_are_1_2_3(text);
        }
    }

    fn lines_are_1_2_3(text: &str) {
        let mut r = csv::ReaderBuilder::new()
            .has_headers(false)
            .from_reader(text.as_bytes());
        let lines: Vec<usize> = r
            .records()
            .map(|rec| super::csv_line(text, rec.ok().as_ref().and_then(|r| r.position())))
            .collect();
        assert_eq!(lines, [1, 2, 3]);
    }
}
