//! Tags and the process-wide tag interner.
//!
//! A tag is interned once, then referred to by a [`TagId`] — a `u32` that the hot path
//! copies into the queue instead of hashing or copying the string. Interned strings live
//! for the rest of the process (they are leaked on purpose): a [`Tag`] is then `Copy`,
//! and the worker resolves an id without touching a reference count, which would bounce
//! a cache line between threads for every event. The cost is memory proportional to the
//! number of *distinct* tags ever interned, so avoid tags that embed a step number.

use std::collections::HashMap;
use std::fmt;
use std::sync::LazyLock;
use std::sync::atomic::{AtomicU32, Ordering};

use parking_lot::RwLock;
use serde::{Deserialize, Deserializer, Serialize, Serializer};

use crate::error::{Result, VizError};

/// Longest tag accepted, in bytes.
pub const MAX_TAG_LEN: usize = 1024;

/// A small integer standing for an interned tag. Valid for the life of the process.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct TagId(u32);

impl TagId {
    /// The raw value, as handed across the C ABI.
    pub fn as_u32(self) -> u32 {
        self.0
    }

    /// Rebuilds an id from its raw value, checking that it was issued by the interner.
    pub fn from_u32(raw: u32) -> Result<TagId> {
        if raw < INTERNED.load(Ordering::Acquire) {
            Ok(TagId(raw))
        } else {
            Err(VizError::invalid_argument(
                "unknown tag id: it was not returned by intern",
            ))
        }
    }
}

/// A validated, interned tag: UTF-8, 1 to 1024 bytes, no NUL.
#[derive(Clone, Copy, PartialEq, Eq, Hash)]
pub struct Tag {
    id: TagId,
    name: &'static str,
}

impl Tag {
    /// Validates and interns `name`.
    pub fn new(name: &str) -> Result<Tag> {
        validate(name)?;
        Ok(intern_valid(name))
    }

    /// Validates raw bytes as a tag (used by the C ABI, whose strings may not be UTF-8).
    pub fn from_bytes(bytes: &[u8]) -> Result<Tag> {
        let name = std::str::from_utf8(bytes).map_err(|e| {
            VizError::new(
                crate::ErrorKind::InvalidUtf8,
                format!(
                    "tag is not valid UTF-8 (invalid byte at offset {})",
                    e.valid_up_to()
                ),
            )
        })?;
        Tag::new(name)
    }

    /// The tag for an id issued by the interner.
    pub fn from_id(id: TagId) -> Tag {
        Tag {
            id,
            name: lookup(id),
        }
    }

    /// The interned id.
    pub fn id(self) -> TagId {
        self.id
    }

    /// The tag text.
    pub fn as_str(self) -> &'static str {
        self.name
    }
}

impl fmt::Debug for Tag {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        fmt::Debug::fmt(self.name, f)
    }
}

impl fmt::Display for Tag {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.name)
    }
}

impl Serialize for Tag {
    fn serialize<S: Serializer>(&self, s: S) -> std::result::Result<S::Ok, S::Error> {
        s.serialize_str(self.name)
    }
}

impl<'de> Deserialize<'de> for Tag {
    fn deserialize<D: Deserializer<'de>>(d: D) -> std::result::Result<Tag, D::Error> {
        let s = <std::borrow::Cow<'de, str>>::deserialize(d)?;
        Tag::new(&s).map_err(serde::de::Error::custom)
    }
}

/// Checks the tag rules without interning.
pub fn validate(name: &str) -> Result<()> {
    if name.is_empty() {
        return Err(VizError::invalid_argument("tag is empty"));
    }
    if name.len() > MAX_TAG_LEN {
        return Err(VizError::invalid_argument(format!(
            "tag is {} bytes long; the limit is {MAX_TAG_LEN}",
            name.len()
        )));
    }
    if let Some(pos) = name.bytes().position(|b| b == 0) {
        return Err(VizError::invalid_argument(format!(
            "tag contains a NUL byte at offset {pos}"
        )));
    }
    Ok(())
}

struct Interner {
    by_name: HashMap<&'static str, TagId>,
    by_id: Vec<&'static str>,
}

static INTERNER: LazyLock<RwLock<Interner>> = LazyLock::new(|| {
    RwLock::new(Interner {
        by_name: HashMap::new(),
        by_id: Vec::new(),
    })
});

/// Number of ids issued. Read on the hot path to validate raw ids without a lock.
static INTERNED: AtomicU32 = AtomicU32::new(0);

fn intern_valid(name: &str) -> Tag {
    if let Some((&name, &id)) = INTERNER.read().by_name.get_key_value(name) {
        return Tag { id, name };
    }
    let mut table = INTERNER.write();
    if let Some((&name, &id)) = table.by_name.get_key_value(name) {
        return Tag { id, name };
    }
    let leaked: &'static str = Box::leak(name.to_owned().into_boxed_str());
    let id = TagId(u32::try_from(table.by_id.len()).expect("more than 2^32 distinct tags"));
    table.by_id.push(leaked);
    table.by_name.insert(leaked, id);
    INTERNED.store(id.0 + 1, Ordering::Release);
    Tag { id, name: leaked }
}

fn lookup(id: TagId) -> &'static str {
    INTERNER.read().by_id[id.0 as usize]
}

/// A per-thread mirror of the interner's id table, so the worker resolves ids
/// without taking the interner lock except when it meets a tag it has not seen.
#[derive(Default)]
pub(crate) struct TagCache {
    names: Vec<&'static str>,
}

impl TagCache {
    pub(crate) fn resolve(&mut self, id: TagId) -> Tag {
        let i = id.0 as usize;
        if i >= self.names.len() {
            let table = INTERNER.read();
            self.names
                .extend_from_slice(&table.by_id[self.names.len()..]);
        }
        Tag {
            id,
            name: self.names[i],
        }
    }
}
