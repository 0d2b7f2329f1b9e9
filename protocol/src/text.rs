//! [`Text`]: a string that borrows from a received frame or a literal, or
//! holds a short value inline, so that decoding and answering hot-path
//! commands needs no heap allocation per field.

use std::fmt;

use bytes::Bytes;

/// Bytes an inline [`Text`] holds: a 32-character message id, any integer.
const INLINE_CAP: usize = 38;

/// An immutable UTF-8 string: a literal, a slice of a shared buffer (a
/// received frame), a short inline value, or an owned `String`.
#[derive(Clone)]
pub struct Text(Repr);

#[derive(Clone)]
enum Repr {
    Static(&'static str),
    /// Checked to be UTF-8 when made.
    Shared(Bytes),
    Inline {
        len: u8,
        buf: [u8; INLINE_CAP],
    },
    Owned(String),
}

impl Text {
    /// A literal.
    pub const fn from_static(s: &'static str) -> Self {
        Self(Repr::Static(s))
    }

    /// A view of `bytes` (no copy), or `None` if they are not UTF-8.
    pub fn shared(bytes: Bytes) -> Option<Self> {
        std::str::from_utf8(&bytes).ok()?;
        Some(Self(Repr::Shared(bytes)))
    }

    /// A copy of `s`: inline (no allocation) when it is short.
    pub fn copy_of(s: &str) -> Self {
        if s.len() <= INLINE_CAP {
            let mut buf = [0; INLINE_CAP];
            buf[..s.len()].copy_from_slice(s.as_bytes());
            Self(Repr::Inline {
                len: s.len() as u8,
                buf,
            })
        } else {
            Self(Repr::Owned(s.to_owned()))
        }
    }

    /// The decimal form of `v`, inline.
    pub fn int(v: i64) -> Self {
        Self::copy_of(itoa::Buffer::new().format(v))
    }

    /// The string.
    pub fn as_str(&self) -> &str {
        match &self.0 {
            Repr::Static(s) => s,
            // Checked when made, so the fallback is never taken.
            Repr::Shared(b) => std::str::from_utf8(b).unwrap_or_default(),
            Repr::Inline { len, buf } => {
                std::str::from_utf8(&buf[..usize::from(*len)]).unwrap_or_default()
            }
            Repr::Owned(s) => s,
        }
    }

    /// The UTF-8 bytes, without re-checking them (lookups compare these).
    pub fn as_bytes(&self) -> &[u8] {
        match &self.0 {
            Repr::Static(s) => s.as_bytes(),
            Repr::Shared(b) => b,
            Repr::Inline { len, buf } => &buf[..usize::from(*len)],
            Repr::Owned(s) => s.as_bytes(),
        }
    }

    /// The bytes as a [`Bytes`]: shared without a copy when this is a view.
    pub fn to_bytes(&self) -> Bytes {
        match &self.0 {
            Repr::Shared(b) => b.clone(),
            Repr::Static(s) => Bytes::from_static(s.as_bytes()),
            _ => Bytes::copy_from_slice(self.as_str().as_bytes()),
        }
    }

    /// An owned `String` of this text.
    pub fn into_string(self) -> String {
        match self.0 {
            Repr::Owned(s) => s,
            _ => self.as_str().to_owned(),
        }
    }
}

impl Default for Text {
    fn default() -> Self {
        Self::from_static("")
    }
}

impl From<String> for Text {
    fn from(s: String) -> Self {
        Self(Repr::Owned(s))
    }
}

impl From<&'static str> for Text {
    fn from(s: &'static str) -> Self {
        Self::from_static(s)
    }
}

impl std::ops::Deref for Text {
    type Target = str;
    fn deref(&self) -> &str {
        self.as_str()
    }
}

impl PartialEq for Text {
    fn eq(&self, other: &Self) -> bool {
        self.as_bytes() == other.as_bytes()
    }
}

impl Eq for Text {}

impl PartialEq<str> for Text {
    fn eq(&self, other: &str) -> bool {
        self.as_bytes() == other.as_bytes()
    }
}

impl std::hash::Hash for Text {
    fn hash<H: std::hash::Hasher>(&self, state: &mut H) {
        self.as_str().hash(state);
    }
}

impl fmt::Debug for Text {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        fmt::Debug::fmt(self.as_str(), f)
    }
}

impl fmt::Display for Text {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_form_reads_back_its_string() {
        let long = "x".repeat(INLINE_CAP + 1);
        let cases = [
            Text::from_static("lit"),
            Text::shared(Bytes::from_static("héllo".as_bytes())).unwrap(),
            Text::copy_of("7F00000100002A9F0000000000000001"),
            Text::copy_of(&long),
            Text::int(i64::MIN),
            Text::from(String::from("own")),
        ];
        let want = [
            "lit",
            "héllo",
            "7F00000100002A9F0000000000000001",
            long.as_str(),
            "-9223372036854775808",
            "own",
        ];
        for (t, w) in cases.iter().zip(want) {
            assert_eq!(t.as_str(), w);
            assert_eq!(&t.to_bytes()[..], w.as_bytes());
            assert_eq!(t.as_bytes(), w.as_bytes());
            assert_eq!(t.clone().into_string(), w);
        }
        assert!(Text::shared(Bytes::from_static(&[0xff])).is_none());
        assert_eq!(Text::copy_of("a"), Text::from_static("a"));
    }
}
