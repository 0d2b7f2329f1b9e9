//! A bounds-checked big-endian reader over untrusted bytes.
//!
//! Every read returns `None` instead of panicking when the input is short, so
//! decoders can map a short read to the error that names the field.

/// Reads big-endian integers and slices from a byte slice, front to back.
#[derive(Debug, Clone)]
pub(crate) struct Cursor<'a> {
    buf: &'a [u8],
    pos: usize,
}

impl<'a> Cursor<'a> {
    /// A cursor at the start of `buf`.
    pub(crate) fn new(buf: &'a [u8]) -> Self {
        Self { buf, pos: 0 }
    }

    /// Bytes consumed so far.
    pub(crate) fn pos(&self) -> usize {
        self.pos
    }

    /// The next `n` bytes, or `None` (consuming nothing) if fewer remain.
    pub(crate) fn take(&mut self, n: usize) -> Option<&'a [u8]> {
        let end = self.pos.checked_add(n)?;
        let out = self.buf.get(self.pos..end)?;
        self.pos = end;
        Some(out)
    }

    /// The next `N` bytes as an array.
    pub(crate) fn array<const N: usize>(&mut self) -> Option<[u8; N]> {
        self.take(N)?.try_into().ok()
    }

    /// One byte, read as Java's signed `byte`.
    pub(crate) fn i8(&mut self) -> Option<i8> {
        self.array().map(i8::from_be_bytes)
    }

    /// A big-endian `short`.
    pub(crate) fn i16(&mut self) -> Option<i16> {
        self.array().map(i16::from_be_bytes)
    }

    /// A big-endian `int`.
    pub(crate) fn i32(&mut self) -> Option<i32> {
        self.array().map(i32::from_be_bytes)
    }

    /// A big-endian `long`.
    pub(crate) fn i64(&mut self) -> Option<i64> {
        self.array().map(i64::from_be_bytes)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn reads_big_endian_and_stops_at_the_end() {
        let data = [0x80, 0x01, 0x02, 0x03, 0x04, 0x05, 0x06, 0x07, 0x08];
        let mut c = Cursor::new(&data);
        assert_eq!(c.i8(), Some(-128));
        assert_eq!(c.i16(), Some(0x0102));
        assert_eq!(c.i64(), None, "short read consumes nothing");
        assert_eq!(c.pos(), 3);
        assert_eq!(c.i32(), Some(0x0304_0506));
        assert_eq!(c.take(2), Some(&[7, 8][..]));
        assert_eq!(c.take(1), None);
        assert_eq!(c.take(0), Some(&[][..]));
        assert_eq!(c.take(usize::MAX), None);
    }
}
