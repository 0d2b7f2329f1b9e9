//! Crash-safe persistence of the broker's JSON config files (`topics.json`,
//! `subscriptionGroup.json`, `consumerOffset.json`), as RocketMQ's
//! `ConfigManager` keeps them: the previous version stays as `<file>.bak`,
//! and loading falls back to it when the main file is missing or corrupt.
//!
//! A save writes `<file>.tmp`, fsyncs it, links the current file to
//! `<file>.bak`, renames the temporary file over the main one and fsyncs the
//! directory, so a crash at any point leaves a complete main file or a
//! complete backup.

use std::fs::{self, File};
use std::io::{self, Write};
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Mutex, PoisonError};

use skylark_protocol::body::Body;

use crate::error::BrokerError;

/// One persisted config file.
#[derive(Debug)]
pub(crate) struct ConfigFile {
    path: PathBuf,
    /// Serializes saves, so a snapshot taken later is never overwritten by
    /// one taken earlier.
    writing: Mutex<()>,
    /// Whether the main file holds a good document worth keeping as `.bak`
    /// (false after a load had to fall back to the backup).
    main_is_good: AtomicBool,
}

impl ConfigFile {
    /// The file `name` in `dir`.
    pub(crate) fn new(dir: &Path, name: &str) -> Self {
        Self {
            path: dir.join(name),
            writing: Mutex::new(()),
            main_is_good: AtomicBool::new(true),
        }
    }

    /// The main file's path.
    pub(crate) fn path(&self) -> &Path {
        &self.path
    }

    /// Reads the document: the main file, else its backup; `None` when
    /// neither exists (a fresh broker). A corrupt main file with no good
    /// backup is [`BrokerError::Corrupt`]: starting empty would overwrite it
    /// with less at the next save.
    pub(crate) fn load<T: Body>(&self) -> Result<Option<T>, BrokerError> {
        let main_error = match read_nonempty(&self.path)? {
            None => None,
            Some(bytes) => match T::decode(&bytes) {
                Ok(doc) => return Ok(Some(doc)),
                Err(e) => Some(e),
            },
        };
        let bak = with_suffix(&self.path, ".bak");
        let Some(bytes) = read_nonempty(&bak)? else {
            return match main_error {
                Some(source) => Err(BrokerError::Corrupt {
                    path: self.path.clone(),
                    source,
                }),
                None => Ok(None),
            };
        };
        match T::decode(&bytes) {
            Ok(doc) => {
                match &main_error {
                    Some(error) => tracing::warn!(
                        path = %self.path.display(), %error, "config file is corrupt; loaded its backup"
                    ),
                    None => tracing::warn!(
                        path = %self.path.display(), "config file is missing; loaded its backup"
                    ),
                }
                self.main_is_good.store(false, Ordering::Relaxed);
                Ok(Some(doc))
            }
            // The main file's own error says more when both are bad.
            Err(bak_error) => Err(match main_error {
                Some(source) => BrokerError::Corrupt {
                    path: self.path.clone(),
                    source,
                },
                None => BrokerError::Corrupt {
                    path: bak,
                    source: bak_error,
                },
            }),
        }
    }

    /// Writes the bytes `snapshot` returns, atomically. `snapshot` runs under
    /// this file's write lock, so saves land in the order their snapshots
    /// were taken; it should only copy state out of its own lock.
    pub(crate) fn save(&self, snapshot: impl FnOnce() -> Vec<u8>) -> Result<(), BrokerError> {
        let _writing = self.writing.lock().unwrap_or_else(PoisonError::into_inner);
        let bytes = snapshot();
        self.write_atomically(&bytes)?;
        self.main_is_good.store(true, Ordering::Relaxed);
        Ok(())
    }

    fn write_atomically(&self, bytes: &[u8]) -> Result<(), BrokerError> {
        let dir = self.path.parent().unwrap_or(Path::new("."));
        fs::create_dir_all(dir).map_err(|e| BrokerError::io("create directory", dir, e))?;
        let tmp = with_suffix(&self.path, ".tmp");
        write_synced(&tmp, bytes).map_err(|e| BrokerError::io("write", &tmp, e))?;
        if self.main_is_good.load(Ordering::Relaxed) {
            self.keep_backup()?;
        }
        fs::rename(&tmp, &self.path).map_err(|e| BrokerError::io("rename", &tmp, e))?;
        sync_dir(dir).map_err(|e| BrokerError::io("sync directory", dir, e))
    }

    /// Makes `<file>.bak` the current main file, if there is one. A hard
    /// link keeps the main file in place throughout; filesystems without
    /// links get a copy.
    fn keep_backup(&self) -> Result<(), BrokerError> {
        let bak = with_suffix(&self.path, ".bak");
        match fs::remove_file(&bak) {
            Ok(()) => {}
            Err(e) if e.kind() == io::ErrorKind::NotFound => {}
            Err(e) => return Err(BrokerError::io("remove", &bak, e)),
        }
        match fs::hard_link(&self.path, &bak) {
            Ok(()) => Ok(()),
            Err(e) if e.kind() == io::ErrorKind::NotFound => Ok(()),
            Err(_) => match fs::copy(&self.path, &bak) {
                Ok(_) => Ok(()),
                Err(e) if e.kind() == io::ErrorKind::NotFound => Ok(()),
                Err(e) => Err(BrokerError::io("back up", &self.path, e)),
            },
        }
    }
}

/// `path` with `suffix` appended to its file name (`topics.json.bak`).
fn with_suffix(path: &Path, suffix: &str) -> PathBuf {
    let mut name = path.as_os_str().to_owned();
    name.push(suffix);
    PathBuf::from(name)
}

/// The file's bytes; `None` when it does not exist or holds only
/// whitespace (Java treats an empty file as missing too).
fn read_nonempty(path: &Path) -> Result<Option<Vec<u8>>, BrokerError> {
    match fs::read(path) {
        Ok(bytes) if bytes.iter().all(u8::is_ascii_whitespace) => Ok(None),
        Ok(bytes) => Ok(Some(bytes)),
        Err(e) if e.kind() == io::ErrorKind::NotFound => Ok(None),
        Err(e) => Err(BrokerError::io("read", path, e)),
    }
}

fn write_synced(path: &Path, bytes: &[u8]) -> io::Result<()> {
    let mut file = File::create(path)?;
    file.write_all(bytes)?;
    file.sync_all()
}

/// Makes the renames in `dir` durable.
fn sync_dir(dir: &Path) -> io::Result<()> {
    File::open(dir)?.sync_all()
}

#[cfg(test)]
mod tests {
    use skylark_protocol::body::{ConsumerOffsetSerializeWrapper, KeyStyle};

    use super::*;

    fn doc(offset: i64) -> ConsumerOffsetSerializeWrapper {
        ConsumerOffsetSerializeWrapper {
            data_version: None,
            offset_table: [("T@G".to_owned(), [(0, offset)].into())].into(),
        }
    }

    fn save(file: &ConfigFile, offset: i64) {
        file.save(|| doc(offset).encode(KeyStyle::Unquoted))
            .unwrap();
    }

    fn load(file: &ConfigFile) -> Option<i64> {
        file.load::<ConsumerOffsetSerializeWrapper>()
            .unwrap()
            .map(|d| d.offset_table["T@G"][&0])
    }

    #[test]
    fn fresh_directory_loads_nothing_and_saves_create_it() {
        let dir = tempfile::tempdir().unwrap();
        let file = ConfigFile::new(&dir.path().join("config"), "consumerOffset.json");
        assert_eq!(load(&file), None);
        save(&file, 1);
        assert_eq!(
            fs::read_to_string(file.path()).unwrap(),
            r#"{"offsetTable":{"T@G":{0:1}}}"#
        );
        assert!(!with_suffix(file.path(), ".tmp").exists());
        assert_eq!(
            load(&ConfigFile::new(
                &dir.path().join("config"),
                "consumerOffset.json"
            )),
            Some(1)
        );
    }

    #[test]
    fn keeps_the_previous_version_as_bak() {
        let dir = tempfile::tempdir().unwrap();
        let file = ConfigFile::new(dir.path(), "f.json");
        save(&file, 1);
        save(&file, 2);
        save(&file, 3);
        let bak = with_suffix(file.path(), ".bak");
        assert_eq!(
            fs::read_to_string(&bak).unwrap(),
            r#"{"offsetTable":{"T@G":{0:2}}}"#
        );
        assert_eq!(load(&file), Some(3));
    }

    #[test]
    fn falls_back_to_bak_when_main_is_missing_empty_or_corrupt() {
        let dir = tempfile::tempdir().unwrap();
        let file = ConfigFile::new(dir.path(), "f.json");
        save(&file, 1);
        save(&file, 2);
        for broken in [
            None,
            Some(&b"  \n"[..]),
            Some(&b"{\"offsetTable\":{\"T@G\":{0:"[..]),
        ] {
            match broken {
                None => fs::remove_file(file.path()).unwrap(),
                Some(bytes) => fs::write(file.path(), bytes).unwrap(),
            }
            let reopened = ConfigFile::new(dir.path(), "f.json");
            assert_eq!(load(&reopened), Some(1), "{broken:?}");
        }
    }

    #[test]
    fn a_save_after_falling_back_keeps_the_good_backup() {
        let dir = tempfile::tempdir().unwrap();
        let file = ConfigFile::new(dir.path(), "f.json");
        save(&file, 1);
        save(&file, 2);
        fs::write(file.path(), b"garbage").unwrap();
        let reopened = ConfigFile::new(dir.path(), "f.json");
        assert_eq!(load(&reopened), Some(1));
        save(&reopened, 5);
        let bak = with_suffix(file.path(), ".bak");
        assert_eq!(
            fs::read_to_string(bak).unwrap(),
            r#"{"offsetTable":{"T@G":{0:1}}}"#
        );
        assert_eq!(load(&reopened), Some(5));
    }

    #[test]
    fn corrupt_without_good_backup_is_refused() {
        let dir = tempfile::tempdir().unwrap();
        let file = ConfigFile::new(dir.path(), "f.json");
        fs::write(file.path(), b"[1,2]").unwrap();
        let err = file.load::<ConsumerOffsetSerializeWrapper>().unwrap_err();
        assert!(
            matches!(&err, BrokerError::Corrupt { path, .. } if path == file.path()),
            "{err}"
        );
        // A corrupt backup does not rescue it, and the error names the main file.
        fs::write(with_suffix(file.path(), ".bak"), b"{").unwrap();
        let err = file.load::<ConsumerOffsetSerializeWrapper>().unwrap_err();
        assert!(
            matches!(&err, BrokerError::Corrupt { path, .. } if path == file.path()),
            "{err}"
        );
        // Only a corrupt backup: named as such.
        fs::remove_file(file.path()).unwrap();
        let err = file.load::<ConsumerOffsetSerializeWrapper>().unwrap_err();
        let bak = with_suffix(file.path(), ".bak");
        assert!(
            matches!(&err, BrokerError::Corrupt { path, .. } if *path == bak),
            "{err}"
        );
    }

    #[test]
    fn reads_javas_pretty_printed_file() {
        let dir = tempfile::tempdir().unwrap();
        let file = ConfigFile::new(dir.path(), "f.json");
        fs::write(
            file.path(),
            "{\n\t\"offsetTable\":{\n\t\t\"T@G\":{0:42,1:7\n\t\t}\n\t}\n}",
        )
        .unwrap();
        assert_eq!(load(&file), Some(42));
    }
}
