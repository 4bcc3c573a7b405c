//! Routing: which events a destination receives, by kind and tag prefix.

use crate::event::{Event, EventKind, KindSet};

/// A destination's filter. The default route accepts every event.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Route {
    kinds: KindSet,
    tag_prefixes: Vec<String>,
}

impl Default for Route {
    fn default() -> Self {
        Route::all()
    }
}

impl Route {
    /// Accepts every event.
    pub fn all() -> Route {
        Route {
            kinds: KindSet::ALL,
            tag_prefixes: Vec::new(),
        }
    }

    /// Accepts only events of `kinds`.
    pub fn kinds(kinds: &[EventKind]) -> Route {
        Route {
            kinds: KindSet::of(kinds),
            tag_prefixes: Vec::new(),
        }
    }

    /// Also requires the tag to start with `prefix`; several prefixes are alternatives.
    pub fn tag_prefix(mut self, prefix: impl Into<String>) -> Route {
        self.tag_prefixes.push(prefix.into());
        self
    }

    /// Whether no event can pass (no kind selected).
    pub(crate) fn accepts_nothing(&self) -> bool {
        self.kinds == KindSet::EMPTY
    }

    /// Whether the route accepts everything (lets delivery share one batch).
    pub(crate) fn is_all(&self) -> bool {
        self.kinds == KindSet::ALL && self.tag_prefixes.is_empty()
    }

    /// Whether `event` passes.
    pub fn matches(&self, event: &Event) -> bool {
        self.kinds.contains(event.kind())
            && (self.tag_prefixes.is_empty()
                || self
                    .tag_prefixes
                    .iter()
                    .any(|p| event.tag.as_str().starts_with(p.as_str())))
    }
}
