//! A `serde_json` formatter that writes what fastjson writes.
//!
//! Compact output with three fastjson behaviours layered on serde_json:
//!
//! * Integer (and boolean) map keys: serde_json's map-key serializer calls
//!   `begin_string`, `write_i64`, `end_string`. In [`KeyStyle::Unquoted`] the
//!   opening quote of a key is held back until the key turns out to be text;
//!   when a number arrives instead, both quotes are dropped (`{0:"a"}`).
//! * Object keys: maps keyed by `MessageQueue` serialize each key as a string
//!   holding the queue's compact JSON (see `mq_key_map`). For the top-level
//!   fields named in `object_key_fields`, and only in `Unquoted` style, that
//!   text is written raw, giving fastjson's `{{"brokerName":…}:…}`. The field
//!   list scopes this to maps whose keys we serialized ourselves, so no
//!   user-supplied string can be written unquoted.
//! * Escapes and numbers: strings escape like fastjson (uppercase `\u00XX`,
//!   also DEL, C1 controls and U+2028/9); doubles print like Java. In
//!   `Quoted` style (fastjson's `BrowserCompatible`) `/` and every non-ASCII
//!   UTF-16 unit are escaped too. That feature would also write longs beyond
//!   ±(2^53−1) as strings; we keep them numbers, which every reader accepts
//!   and which our own decoder (strict about number types) needs.

use std::io::{self, Write};

use serde_json::ser::{CharEscape, Formatter};

use super::KeyStyle;
use super::java_number::{format_f32, format_f64};

const HEX: &[u8; 16] = b"0123456789ABCDEF";

/// Formatter state; see the module docs.
#[derive(Debug)]
pub(super) struct FastjsonFormatter<'a> {
    style: KeyStyle,
    object_key_fields: &'a [&'a str],
    /// One entry per open container: does this object take raw keys?
    raw_keys: Vec<bool>,
    /// Set between `begin_object_key` and `end_object_key`.
    key: Option<KeyState>,
    /// The key of the current top-level member.
    top_key: String,
}

#[derive(Debug, Default)]
struct KeyState {
    /// The key's opening quote, not yet written.
    quote_pending: bool,
    /// The key was a number written without quotes.
    bare: bool,
    /// The unescaped key text, for keys written raw.
    raw: Option<String>,
    /// This key belongs to the top-level object.
    top: bool,
}

impl<'a> FastjsonFormatter<'a> {
    pub(super) fn new(style: KeyStyle, object_key_fields: &'a [&'a str]) -> Self {
        Self {
            style,
            object_key_fields,
            raw_keys: Vec::new(),
            key: None,
            top_key: String::new(),
        }
    }

    fn browser(&self) -> bool {
        self.style == KeyStyle::Quoted
    }

    /// Writes a key's opening quote if it is still held back.
    fn flush_quote<W: ?Sized + Write>(&mut self, w: &mut W) -> io::Result<()> {
        if let Some(k) = &mut self.key {
            if k.quote_pending {
                k.quote_pending = false;
                w.write_all(b"\"")?;
            }
        }
        Ok(())
    }

    /// Writes a scalar that may be a map key: bare in `Unquoted` style.
    fn key_scalar<W: ?Sized + Write>(&mut self, w: &mut W, text: &str) -> io::Result<()> {
        if let Some(k) = &mut self.key {
            if k.quote_pending && self.style == KeyStyle::Unquoted {
                k.quote_pending = false;
                k.bare = true;
            }
        }
        self.flush_quote(w)?;
        w.write_all(text.as_bytes())
    }
}

/// Writes `\uXXXX` with uppercase hex, as fastjson does.
fn unicode_escape<W: ?Sized + Write>(w: &mut W, unit: u16) -> io::Result<()> {
    let b = unit.to_be_bytes();
    w.write_all(&[
        b'\\',
        b'u',
        HEX[usize::from(b[0] >> 4)],
        HEX[usize::from(b[0] & 15)],
        HEX[usize::from(b[1] >> 4)],
        HEX[usize::from(b[1] & 15)],
    ])
}

/// Writes a run of text that serde_json found escape-free, adding the
/// escapes fastjson makes and serde_json does not.
fn fragment<W: ?Sized + Write>(w: &mut W, s: &str, browser: bool) -> io::Result<()> {
    let needs = |c: char| {
        if browser {
            c == '/' || !c.is_ascii() || c == '\u{7f}'
        } else {
            ('\u{7f}'..='\u{9f}').contains(&c) || c == '\u{2028}' || c == '\u{2029}'
        }
    };
    let mut start = 0;
    for (i, c) in s.char_indices() {
        if !needs(c) {
            continue;
        }
        w.write_all(&s.as_bytes()[start..i])?;
        start = i + c.len_utf8();
        if c == '/' {
            w.write_all(b"\\/")?;
        } else {
            let mut units = [0u16; 2];
            for unit in c.encode_utf16(&mut units) {
                unicode_escape(w, *unit)?;
            }
        }
    }
    w.write_all(&s.as_bytes()[start..])
}

/// The character a serde_json escape stands for.
fn unescaped(e: &CharEscape) -> char {
    match e {
        CharEscape::Quote => '"',
        CharEscape::ReverseSolidus => '\\',
        CharEscape::Solidus => '/',
        CharEscape::Backspace => '\u{8}',
        CharEscape::FormFeed => '\u{c}',
        CharEscape::LineFeed => '\n',
        CharEscape::CarriageReturn => '\r',
        CharEscape::Tab => '\t',
        CharEscape::AsciiControl(b) => char::from(*b),
    }
}

impl Formatter for FastjsonFormatter<'_> {
    fn write_bool<W: ?Sized + Write>(&mut self, w: &mut W, value: bool) -> io::Result<()> {
        self.key_scalar(w, if value { "true" } else { "false" })
    }

    fn write_i8<W: ?Sized + Write>(&mut self, w: &mut W, value: i8) -> io::Result<()> {
        self.key_scalar(w, itoa::Buffer::new().format(value))
    }

    fn write_i16<W: ?Sized + Write>(&mut self, w: &mut W, value: i16) -> io::Result<()> {
        self.key_scalar(w, itoa::Buffer::new().format(value))
    }

    fn write_i32<W: ?Sized + Write>(&mut self, w: &mut W, value: i32) -> io::Result<()> {
        self.key_scalar(w, itoa::Buffer::new().format(value))
    }

    fn write_i64<W: ?Sized + Write>(&mut self, w: &mut W, value: i64) -> io::Result<()> {
        self.key_scalar(w, itoa::Buffer::new().format(value))
    }

    fn write_i128<W: ?Sized + Write>(&mut self, w: &mut W, value: i128) -> io::Result<()> {
        self.key_scalar(w, itoa::Buffer::new().format(value))
    }

    fn write_u8<W: ?Sized + Write>(&mut self, w: &mut W, value: u8) -> io::Result<()> {
        self.key_scalar(w, itoa::Buffer::new().format(value))
    }

    fn write_u16<W: ?Sized + Write>(&mut self, w: &mut W, value: u16) -> io::Result<()> {
        self.key_scalar(w, itoa::Buffer::new().format(value))
    }

    fn write_u32<W: ?Sized + Write>(&mut self, w: &mut W, value: u32) -> io::Result<()> {
        self.key_scalar(w, itoa::Buffer::new().format(value))
    }

    fn write_u64<W: ?Sized + Write>(&mut self, w: &mut W, value: u64) -> io::Result<()> {
        self.key_scalar(w, itoa::Buffer::new().format(value))
    }

    fn write_u128<W: ?Sized + Write>(&mut self, w: &mut W, value: u128) -> io::Result<()> {
        self.key_scalar(w, itoa::Buffer::new().format(value))
    }

    fn write_f32<W: ?Sized + Write>(&mut self, w: &mut W, value: f32) -> io::Result<()> {
        self.key_scalar(w, &format_f32(value))
    }

    fn write_f64<W: ?Sized + Write>(&mut self, w: &mut W, value: f64) -> io::Result<()> {
        self.key_scalar(w, &format_f64(value))
    }

    fn begin_string<W: ?Sized + Write>(&mut self, w: &mut W) -> io::Result<()> {
        match &mut self.key {
            // Held back until we know the key is text (see module docs).
            Some(k) if k.raw.is_none() => {
                k.quote_pending = true;
                Ok(())
            }
            Some(_) => Ok(()),
            None => w.write_all(b"\""),
        }
    }

    fn end_string<W: ?Sized + Write>(&mut self, w: &mut W) -> io::Result<()> {
        match &mut self.key {
            Some(k) if k.raw.is_some() => {
                let raw = k.raw.take().unwrap_or_default();
                w.write_all(raw.as_bytes())
            }
            Some(k) if k.bare => Ok(()),
            Some(_) => {
                // An empty key never wrote its opening quote.
                self.flush_quote(w)?;
                w.write_all(b"\"")
            }
            None => w.write_all(b"\""),
        }
    }

    fn write_string_fragment<W: ?Sized + Write>(
        &mut self,
        w: &mut W,
        value: &str,
    ) -> io::Result<()> {
        if let Some(k) = &mut self.key {
            if let Some(raw) = &mut k.raw {
                raw.push_str(value);
                return Ok(());
            }
            if k.top {
                self.top_key.push_str(value);
            }
        }
        self.flush_quote(w)?;
        fragment(w, value, self.browser())
    }

    fn write_char_escape<W: ?Sized + Write>(
        &mut self,
        w: &mut W,
        char_escape: CharEscape,
    ) -> io::Result<()> {
        if let Some(k) = &mut self.key {
            if let Some(raw) = &mut k.raw {
                raw.push(unescaped(&char_escape));
                return Ok(());
            }
            if k.top {
                self.top_key.push(unescaped(&char_escape));
            }
        }
        self.flush_quote(w)?;
        let short: &[u8] = match char_escape {
            CharEscape::Quote => b"\\\"",
            CharEscape::ReverseSolidus => b"\\\\",
            CharEscape::Solidus => b"\\/",
            CharEscape::Backspace => b"\\b",
            CharEscape::FormFeed => b"\\f",
            CharEscape::LineFeed => b"\\n",
            CharEscape::CarriageReturn => b"\\r",
            CharEscape::Tab => b"\\t",
            CharEscape::AsciiControl(b) => return unicode_escape(w, u16::from(b)),
        };
        w.write_all(short)
    }

    fn begin_array<W: ?Sized + Write>(&mut self, w: &mut W) -> io::Result<()> {
        self.raw_keys.push(false);
        w.write_all(b"[")
    }

    fn end_array<W: ?Sized + Write>(&mut self, w: &mut W) -> io::Result<()> {
        self.raw_keys.pop();
        w.write_all(b"]")
    }

    fn begin_array_value<W: ?Sized + Write>(&mut self, w: &mut W, first: bool) -> io::Result<()> {
        if first { Ok(()) } else { w.write_all(b",") }
    }

    fn begin_object<W: ?Sized + Write>(&mut self, w: &mut W) -> io::Result<()> {
        // Only a direct value of a listed top-level member takes raw keys.
        let raw = self.style == KeyStyle::Unquoted
            && self.raw_keys.len() == 1
            && self.object_key_fields.contains(&self.top_key.as_str());
        self.raw_keys.push(raw);
        w.write_all(b"{")
    }

    fn end_object<W: ?Sized + Write>(&mut self, w: &mut W) -> io::Result<()> {
        self.raw_keys.pop();
        w.write_all(b"}")
    }

    fn begin_object_key<W: ?Sized + Write>(&mut self, w: &mut W, first: bool) -> io::Result<()> {
        let top = self.raw_keys.len() == 1;
        if top {
            self.top_key.clear();
        }
        let raw = self.raw_keys.last().copied().unwrap_or(false);
        self.key = Some(KeyState {
            raw: raw.then(String::new),
            top,
            ..KeyState::default()
        });
        if first { Ok(()) } else { w.write_all(b",") }
    }

    fn end_object_key<W: ?Sized + Write>(&mut self, _w: &mut W) -> io::Result<()> {
        self.key = None;
        Ok(())
    }

    fn begin_object_value<W: ?Sized + Write>(&mut self, w: &mut W) -> io::Result<()> {
        w.write_all(b":")
    }
}
