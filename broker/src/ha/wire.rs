//! The classic HA protocol's bytes (RocketMQ's `DefaultHAConnection` /
//! `DefaultHAClient`), and cutting a received stream at record boundaries.
//!
//! - replica → master: the replica's CommitLog max offset, 8 bytes big-endian,
//!   regularly and after each receipt;
//! - master → replica: a 12-byte header (8-byte physical offset, 4-byte body
//!   size) then that many CommitLog bytes; size 0 is a heartbeat.
//!
//! A master cuts its chunks anywhere (a Java master sends at most
//! `haTransferBatchSize` bytes, records torn across chunks), while the store
//! appends only whole records, so the replica keeps the torn tail for the
//! next chunk ([`RecordCutter`]).

use skylark_protocol::message::record::{BLANK_LEN, BLANK_MAGIC_CODE};

/// Bytes of a transfer header: physical offset and body size.
pub const TRANSFER_HEADER_LEN: usize = 12;
/// Bytes of a replica's offset report.
pub const REPORT_LEN: usize = 8;

/// A master's transfer header.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct TransferHeader {
    /// CommitLog offset of the first body byte (for a heartbeat: where the
    /// next transfer starts).
    pub offset: i64,
    /// Body bytes that follow; 0 for a heartbeat.
    pub size: u32,
}

impl TransferHeader {
    /// The header's bytes.
    pub fn encode(&self) -> [u8; TRANSFER_HEADER_LEN] {
        let mut out = [0; TRANSFER_HEADER_LEN];
        out[..8].copy_from_slice(&self.offset.to_be_bytes());
        out[8..].copy_from_slice(&self.size.to_be_bytes());
        out
    }

    /// Reads a header; a negative size (Java writes an `int`) is an error.
    pub fn decode(bytes: &[u8; TRANSFER_HEADER_LEN]) -> Result<Self, WireError> {
        let mut offset = [0; 8];
        offset.copy_from_slice(&bytes[..8]);
        let mut size = [0; 4];
        size.copy_from_slice(&bytes[8..]);
        let size = i32::from_be_bytes(size);
        let size = u32::try_from(size).map_err(|_| WireError::NegativeSize(size))?;
        Ok(Self {
            offset: i64::from_be_bytes(offset),
            size,
        })
    }
}

/// Bytes the HA protocol does not allow.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum WireError {
    /// A transfer header with a negative body size.
    #[error("transfer header with a negative body size {0}")]
    NegativeSize(i32),
    /// A transfer body larger than the replica accepts.
    #[error("transfer body of {size} bytes exceeds the {max}-byte limit")]
    TooLarge {
        /// Announced size.
        size: u32,
        /// Largest accepted.
        max: usize,
    },
}

/// Finds how much of a received stream holds whole CommitLog entries.
///
/// A BLANK record's padding runs to the end of its file and may come over
/// several chunks; a TOTALSIZE of 0 is padding too (a replica reconnecting
/// inside padding resumes there, and a record never has size 0). Offsets are
/// not checked here; the store checks every boundary when appending.
#[derive(Debug, Clone, Copy)]
pub struct RecordCutter {
    file_size: usize,
}

impl RecordCutter {
    /// A cutter for CommitLog files of `file_size` bytes.
    pub fn new(file_size: usize) -> Self {
        Self {
            file_size: file_size.max(1),
        }
    }

    /// How many leading bytes of `data`, which starts at CommitLog offset
    /// `start`, end at a record boundary or inside a BLANK's padding. A
    /// record whose header is bogus is passed on whole, so the store refuses
    /// it with its reason.
    pub fn whole_prefix(&self, start: i64, data: &[u8]) -> usize {
        let mut at = 0;
        loop {
            let rest = &data[at..];
            let offset = start + at as i64;
            let to_file_end = self.file_size
                - usize::try_from(offset.rem_euclid(self.file_size as i64)).unwrap_or(0);
            if rest.len() >= 4 && rest[..4] == [0; 4] {
                // Padding (after a BLANK header we passed on before).
                at += to_file_end.min(rest.len());
                continue;
            }
            if rest.len() < BLANK_LEN {
                return at;
            }
            let total = i32::from_be_bytes([rest[0], rest[1], rest[2], rest[3]]);
            let magic = i32::from_be_bytes([rest[4], rest[5], rest[6], rest[7]]);
            let Ok(total) = usize::try_from(total) else {
                return data.len();
            };
            if total < BLANK_LEN {
                return data.len();
            }
            if magic == BLANK_MAGIC_CODE {
                // The BLANK's header and whatever padding came with it.
                at += to_file_end.min(rest.len());
                continue;
            }
            if total > rest.len() {
                return at;
            }
            at += total;
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn record(len: usize) -> Vec<u8> {
        let mut r = vec![0u8; len];
        r[..4].copy_from_slice(&i32::try_from(len).unwrap().to_be_bytes());
        r[4..8].copy_from_slice(&0xDAA3_20A7_u32.to_be_bytes());
        r
    }

    fn blank(total: usize) -> Vec<u8> {
        let mut r = vec![0u8; BLANK_LEN];
        r[..4].copy_from_slice(&i32::try_from(total).unwrap().to_be_bytes());
        r[4..8].copy_from_slice(&BLANK_MAGIC_CODE.to_be_bytes());
        r
    }

    #[test]
    fn header_round_trip_and_negative_size() {
        let h = TransferHeader {
            offset: 1 << 40,
            size: 32 * 1024,
        };
        assert_eq!(TransferHeader::decode(&h.encode()), Ok(h));
        let mut bad = h.encode();
        bad[8..].copy_from_slice(&(-1i32).to_be_bytes());
        assert_eq!(
            TransferHeader::decode(&bad),
            Err(WireError::NegativeSize(-1))
        );
    }

    #[test]
    fn cuts_torn_records_and_padding() {
        // A 210-byte file: two records, a BLANK and its padding; then a record.
        let mut stream = record(100);
        stream.extend(record(60));
        stream.extend(blank(50));
        stream.extend(vec![0u8; 42]);
        stream.extend(record(30));
        let cutter = RecordCutter::new(210);
        // A chunk ending inside the second record: only the first is whole.
        assert_eq!(cutter.whole_prefix(0, &stream[..130]), 100);
        // Ending inside the BLANK's padding: everything up to there goes.
        assert_eq!(cutter.whole_prefix(100, &stream[100..180]), 80);
        // Resuming inside the padding, with a torn record after it.
        assert_eq!(cutter.whole_prefix(180, &stream[180..230]), 30);
        assert_eq!(cutter.whole_prefix(210, &stream[210..]), 30);
    }

    #[test]
    fn bogus_sizes_are_passed_on_for_the_store_to_refuse() {
        let mut bad = record(100);
        bad[..4].copy_from_slice(&(-5i32).to_be_bytes());
        assert_eq!(RecordCutter::new(1 << 20).whole_prefix(0, &bad), 100);
        assert_eq!(RecordCutter::new(1 << 20).whole_prefix(0, &bad[..7]), 0);
    }
}
