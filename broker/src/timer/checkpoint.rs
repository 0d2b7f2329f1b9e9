//! The timer's progress (Java's `TimerCheckpoint`, as JSON): the next
//! `rmq_sys_wheel_timer` queue offset to put into the wheel, and the next
//! slot time to deliver. It is written only after the wheel and log it
//! describes are synced, so after a restart nothing is lost and only what
//! was delivered since the last save is delivered again.

use std::fs::File;
use std::io::Write;
use std::path::{Path, PathBuf};

use serde::{Deserialize, Serialize};

use crate::error::BrokerError;

/// The saved progress.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub(crate) struct Checkpoint {
    /// Next timer queue offset to dispatch into the wheel.
    pub(crate) queue_offset: i64,
    /// Next slot time (ms) to deliver.
    pub(crate) read_time_ms: i64,
}

/// Where the checkpoint is kept.
#[derive(Debug)]
pub(crate) struct CheckpointFile {
    path: PathBuf,
}

impl CheckpointFile {
    /// `checkpoint.json` in `dir`.
    pub(crate) fn new(dir: &Path) -> Self {
        Self {
            path: dir.join("checkpoint.json"),
        }
    }

    /// The saved checkpoint; `None` for a fresh timer. A file that does not
    /// parse stops the broker rather than restarting delivery from scratch.
    pub(crate) fn load(&self) -> Result<Option<Checkpoint>, BrokerError> {
        match std::fs::read(&self.path) {
            Ok(bytes) => serde_json::from_slice(&bytes).map(Some).map_err(|e| {
                BrokerError::Config(format!("{} is corrupt: {e}", self.path.display()))
            }),
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(None),
            Err(e) => Err(BrokerError::io("read", &self.path, e)),
        }
    }

    /// Saves `checkpoint`: a temporary file, synced, renamed over the old one.
    pub(crate) fn save(&self, checkpoint: &Checkpoint) -> Result<(), BrokerError> {
        let tmp = self.path.with_extension("json.tmp");
        let text = serde_json::to_vec(checkpoint)
            .map_err(|e| BrokerError::Config(format!("cannot encode timer checkpoint: {e}")))?;
        let mut file = File::create(&tmp).map_err(|e| BrokerError::io("create", &tmp, e))?;
        file.write_all(&text)
            .and_then(|()| file.sync_all())
            .map_err(|e| BrokerError::io("write", &tmp, e))?;
        std::fs::rename(&tmp, &self.path).map_err(|e| BrokerError::io("rename", &tmp, e))?;
        if let Some(dir) = self.path.parent() {
            // The rename itself must survive a crash.
            File::open(dir)
                .and_then(|d| d.sync_all())
                .map_err(|e| BrokerError::io("sync", dir, e))?;
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn saves_and_loads() {
        let dir = tempfile::tempdir().unwrap();
        let file = CheckpointFile::new(dir.path());
        assert_eq!(file.load().unwrap(), None);
        let saved = Checkpoint {
            queue_offset: 42,
            read_time_ms: 1_700_000_000_000,
        };
        file.save(&saved).unwrap();
        assert_eq!(file.load().unwrap(), Some(saved));
        std::fs::write(dir.path().join("checkpoint.json"), b"{").unwrap();
        assert!(file.load().is_err());
    }
}
