//! Tag patterns: an exact tag, a glob, or a regular expression.

use crate::error::{Result, VizError};

/// Which tags a query selects.
#[derive(Clone, Debug)]
pub enum TagPattern {
    /// This tag exactly.
    Exact(String),
    /// A glob: `*` matches any run of characters (slashes included), `?` any one
    /// character; everything else matches itself. `train/*` selects every tag under
    /// `train/`.
    Glob(String),
    /// A regular expression (Rust `regex` syntax), matched anywhere in the tag
    /// unless anchored with `^` and `$`.
    Regex(regex::Regex),
}

impl PartialEq for TagPattern {
    fn eq(&self, other: &TagPattern) -> bool {
        match (self, other) {
            (TagPattern::Exact(a), TagPattern::Exact(b)) => a == b,
            (TagPattern::Glob(a), TagPattern::Glob(b)) => a == b,
            (TagPattern::Regex(a), TagPattern::Regex(b)) => a.as_str() == b.as_str(),
            _ => false,
        }
    }
}

impl TagPattern {
    /// An exact tag.
    pub fn exact(tag: impl Into<String>) -> TagPattern {
        TagPattern::Exact(tag.into())
    }

    /// A glob (see [`TagPattern::Glob`]).
    pub fn glob(pattern: impl Into<String>) -> TagPattern {
        TagPattern::Glob(pattern.into())
    }

    /// A regular expression; an invalid one is an error that says why.
    pub fn regex(pattern: &str) -> Result<TagPattern> {
        regex::Regex::new(pattern)
            .map(TagPattern::Regex)
            .map_err(|e| {
                VizError::invalid_argument(format!("tag regex '{pattern}' is invalid: {e}"))
            })
    }

    /// Whether `tag` matches.
    pub fn matches(&self, tag: &str) -> bool {
        match self {
            TagPattern::Exact(t) => t == tag,
            TagPattern::Glob(g) => glob_matches(g.as_bytes(), tag.as_bytes()),
            TagPattern::Regex(r) => r.is_match(tag),
        }
    }
}

/// Glob matching with `*` and `?`, iteratively with one backtrack point, so a
/// pattern of many stars cannot take exponential time.
fn glob_matches(pattern: &[u8], text: &[u8]) -> bool {
    let (mut p, mut t) = (0, 0);
    let mut star: Option<(usize, usize)> = None;
    while t < text.len() {
        match pattern.get(p) {
            Some(b'*') => {
                star = Some((p, t));
                p += 1;
            }
            Some(&c) if c == b'?' || c == text[t] => {
                p += 1;
                t += 1;
            }
            _ => match star {
                // Let the last star take one more byte and try again from there.
                Some((sp, st)) => {
                    p = sp + 1;
                    t = st + 1;
                    star = Some((sp, st + 1));
                }
                None => return false,
            },
        }
    }
    pattern[p..].iter().all(|&c| c == b'*')
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn globs_match_stars_and_question_marks() {
        let g = |p: &str, t: &str| TagPattern::glob(p).matches(t);
        assert!(g("train/*", "train/loss"));
        assert!(g("train/*", "train/a/b"));
        assert!(!g("train/*", "eval/loss"));
        assert!(g("*/loss", "eval/loss"));
        assert!(g("t?ain/*", "train/x"));
        assert!(g("*", ""));
        assert!(!g("a*b", "ac"));
        assert!(g("a*b*c", "aXbYbZc"));
        assert!(g(&"*".repeat(40), "short"));
        assert!(!g(&format!("{}x", "*a".repeat(20)), &"a".repeat(60)));
    }

    #[test]
    fn a_bad_regex_is_refused_by_name() {
        let e = TagPattern::regex("train/(").unwrap_err();
        assert!(
            e.message().contains("tag regex 'train/(' is invalid"),
            "{e}"
        );
        assert!(
            TagPattern::regex("^train/.*loss$")
                .unwrap()
                .matches("train/x/loss")
        );
    }
}
