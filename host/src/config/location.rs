//! Where in a TOML file something is, and the error that names it: every
//! problem is reported as `file:line:column: message`.

use std::fmt;
use std::ops::Range;
use std::path::{Path, PathBuf};
use std::sync::Arc;

/// A place in `routes.toml`, for error messages.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Location {
    /// The file (or folder).
    pub file: Arc<PathBuf>,
    /// 1-based line; 0 when the place is the whole file, as for a route
    /// whose source is its `route.wasm` in a route tree.
    pub line: usize,
    /// 1-based column; 0 with `line`.
    pub column: usize,
}

impl Location {
    /// A whole file or folder, shown as just its path.
    pub fn whole_file(path: &Path) -> Location {
        Location { file: Arc::new(path.to_owned()), line: 0, column: 0 }
    }
}

impl fmt::Display for Location {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        if self.line == 0 {
            return write!(f, "{}", self.file.display());
        }
        write!(f, "{}:{}:{}", self.file.display(), self.line, self.column)
    }
}

/// Why `routes.toml` was rejected.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum ConfigError {
    /// The file could not be read.
    #[error("cannot read {}: {source}", path.display())]
    Read {
        /// The file.
        path: PathBuf,
        /// The I/O error.
        source: std::io::Error,
    },
    /// Two routes cannot both be served: a request could match either.
    #[error("{at}: {conflict}; rename or remove one of the two{}", earlier_at(other.as_ref(), &conflict.with))]
    Conflict {
        /// The later route.
        at: Location,
        /// Where the earlier route is defined.
        other: Option<Location>,
        /// The clash.
        conflict: crate::routing::router::RouteConflict,
    },
    /// The file is readable but wrong.
    #[error("{at}: {message}")]
    Invalid {
        /// Where.
        at: Location,
        /// What is wrong and how to fix it.
        message: String,
    },
}

fn earlier_at(other: Option<&Location>, pattern: &str) -> String {
    other.map(|at| format!(" (`{pattern}` is at {at})")).unwrap_or_default()
}

/// A TOML file's text, to turn byte spans into `file:line:column`.
pub(super) struct TomlText<'a> {
    file: Arc<PathBuf>,
    text: &'a str,
    /// Where each line starts, found once: every route records its location,
    /// and counting newlines from the top for each one made a 1,000-route
    /// file quadratic (3% of a 1,000-route start).
    line_starts: Vec<usize>,
}

impl<'a> TomlText<'a> {
    pub(super) fn new(path: &Path, text: &'a str) -> Self {
        let line_starts = std::iter::once(0).chain(text.match_indices('\n').map(|(nl, _)| nl + 1)).collect();
        TomlText { file: Arc::new(path.to_owned()), text, line_starts }
    }

    pub(super) fn deserialize<T: serde::de::DeserializeOwned>(&self) -> Result<T, ConfigError> {
        toml::from_str(self.text).map_err(|e| ConfigError::Invalid {
            at: self.at(e.span().unwrap_or(0..0)),
            message: e.message().trim_end().to_owned(),
        })
    }

    pub(super) fn at(&self, span: Range<usize>) -> Location {
        let offset = span.start.min(self.text.len());
        // `line_starts[0]` is 0, so at least one start is <= offset.
        let line = self.line_starts.partition_point(|&start| start <= offset);
        let column = offset - self.line_starts[line - 1] + 1;
        Location { file: Arc::clone(&self.file), line, column }
    }

    pub(super) fn invalid(&self, span: Range<usize>, message: impl Into<String>) -> ConfigError {
        ConfigError::Invalid { at: self.at(span), message: message.into() }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn toml_text_turns_offsets_into_lines_and_columns() {
        let text = TomlText::new(Path::new("r.toml"), "ab\ncd\n\nef");
        let at = |offset: usize| {
            let l = text.at(offset..offset);
            (l.line, l.column)
        };
        assert_eq!(at(0), (1, 1));
        assert_eq!(at(2), (1, 3), "the newline itself ends line 1");
        assert_eq!(at(3), (2, 1));
        assert_eq!(at(6), (3, 1), "an empty line");
        assert_eq!(at(8), (4, 2));
        assert_eq!(at(99), (4, 3), "past the end: the end of the text");
    }
}
