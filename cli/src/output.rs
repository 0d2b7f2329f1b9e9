//! How client commands print: aligned tables for people, JSON for scripts.
//!
//! Everything a command prints goes through [`Out`], which holds stdout
//! locked and buffered; a closed pipe (`skylark topic list | head`) ends the
//! command quietly instead of panicking.

use std::io::{self, BufWriter, StdoutLock, Write};

use serde::Serialize;

/// `--output`: what client commands print.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, clap::ValueEnum)]
pub(crate) enum Format {
    /// Aligned columns with a header row (streams: one text line per message), for people.
    #[default]
    #[value(alias = "text")]
    Table,
    /// JSON: one document for listings, one object per line for streams.
    Json,
}

/// Buffered, locked stdout.
pub(crate) struct Out {
    inner: BufWriter<StdoutLock<'static>>,
}

impl std::fmt::Debug for Out {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("Out(stdout)")
    }
}

impl Default for Out {
    fn default() -> Self {
        Self::new()
    }
}

impl Out {
    /// Locks stdout for this command.
    pub(crate) fn new() -> Self {
        Self {
            inner: BufWriter::new(io::stdout().lock()),
        }
    }

    /// Writes one line.
    pub(crate) fn line(&mut self, text: &str) -> io::Result<()> {
        self.inner.write_all(text.as_bytes())?;
        self.inner.write_all(b"\n")
    }

    /// Writes `value` as one line of compact JSON.
    pub(crate) fn json_line<T: Serialize + ?Sized>(&mut self, value: &T) -> io::Result<()> {
        serde_json::to_writer(&mut self.inner, value).map_err(io::Error::other)?;
        self.inner.write_all(b"\n")
    }

    /// Writes `value` as indented JSON.
    pub(crate) fn json_pretty<T: Serialize + ?Sized>(&mut self, value: &T) -> io::Result<()> {
        serde_json::to_writer_pretty(&mut self.inner, value).map_err(io::Error::other)?;
        self.inner.write_all(b"\n")
    }

    /// Writes `table` with its columns aligned.
    pub(crate) fn table(&mut self, table: &Table) -> io::Result<()> {
        self.inner.write_all(table.render().as_bytes())
    }

    /// Pushes what is buffered to stdout (streams call it after each message).
    pub(crate) fn flush(&mut self) -> io::Result<()> {
        self.inner.flush()
    }
}

/// Prints a listing and flushes: `rows` as one JSON document, or a table
/// of `columns` with one line per row, its cells made by `cells`.
pub(crate) fn print_listing<T: Serialize>(
    format: Format,
    rows: &[T],
    columns: &[(&'static str, Align)],
    cells: impl Fn(&T) -> Vec<String>,
) -> io::Result<()> {
    let mut out = Out::new();
    match format {
        Format::Json => out.json_pretty(rows)?,
        Format::Table => {
            let mut table = Table::new(columns);
            for row in rows {
                table.row(cells(row));
            }
            out.table(&table)?;
        }
    }
    out.flush()
}

/// Which side of its column a cell sits on.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Align {
    /// Text.
    Left,
    /// Numbers.
    Right,
}

/// Rows under a header, rendered with each column as wide as its widest cell.
#[derive(Debug, Clone)]
pub(crate) struct Table {
    header: Vec<(&'static str, Align)>,
    rows: Vec<Vec<String>>,
}

impl Table {
    /// A table with these columns.
    pub(crate) fn new(header: &[(&'static str, Align)]) -> Self {
        Self {
            header: header.to_vec(),
            rows: Vec::new(),
        }
    }

    /// Adds a row (missing cells are blank, extra ones dropped).
    pub(crate) fn row(&mut self, cells: Vec<String>) {
        self.rows.push(cells);
    }

    /// The text: header, then rows, two spaces between columns, no trailing blanks.
    pub(crate) fn render(&self) -> String {
        let columns = self.header.len();
        let mut widths: Vec<usize> = self.header.iter().map(|(h, _)| h.chars().count()).collect();
        for row in &self.rows {
            for (i, cell) in row.iter().take(columns).enumerate() {
                widths[i] = widths[i].max(cell.chars().count());
            }
        }
        let mut text = String::new();
        let header: Vec<String> = self.header.iter().map(|(h, _)| (*h).to_owned()).collect();
        for row in std::iter::once(&header).chain(&self.rows) {
            let mut line = String::new();
            for (i, (_, align)) in self.header.iter().enumerate() {
                let cell = row.get(i).map_or("", String::as_str);
                let pad = widths[i].saturating_sub(cell.chars().count());
                if i > 0 {
                    line.push_str("  ");
                }
                match align {
                    Align::Left => {
                        line.push_str(cell);
                        line.extend(std::iter::repeat_n(' ', pad));
                    }
                    Align::Right => {
                        line.extend(std::iter::repeat_n(' ', pad));
                        line.push_str(cell);
                    }
                }
            }
            text.push_str(line.trim_end());
            text.push('\n');
        }
        text
    }
}

/// Whether an I/O error is stdout's reader having gone away.
pub(crate) fn is_broken_pipe(error: &anyhow::Error) -> bool {
    error.chain().any(|cause| {
        cause
            .downcast_ref::<io::Error>()
            .is_some_and(|e| e.kind() == io::ErrorKind::BrokenPipe)
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn columns_align_text_left_and_numbers_right() {
        let mut table = Table::new(&[("TOPIC", Align::Left), ("QUEUES", Align::Right)]);
        table.row(vec!["A".into(), "8".into()]);
        table.row(vec!["LongTopicName".into(), "16".into()]);
        assert_eq!(
            table.render(),
            "TOPIC          QUEUES\nA                   8\nLongTopicName      16\n"
        );
    }

    #[test]
    fn missing_cells_are_blank_and_lines_have_no_trailing_blanks() {
        let mut table = Table::new(&[("A", Align::Left), ("B", Align::Left)]);
        table.row(vec!["xyz".into()]);
        assert_eq!(table.render(), "A    B\nxyz\n");
    }

    #[test]
    fn width_counts_characters_not_bytes() {
        let mut table = Table::new(&[("K", Align::Left), ("V", Align::Left)]);
        table.row(vec!["héllo".into(), "1".into()]);
        assert_eq!(table.render(), "K      V\nhéllo  1\n");
    }
}
