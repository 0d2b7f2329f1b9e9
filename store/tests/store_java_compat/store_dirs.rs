//! Copying and comparing store directories.

use super::*;

/// A temporary directory, kept when `SKYLARK_COMPAT_KEEP=1`.
pub(crate) struct Scratch {
    /// Deletes the directory when dropped (`None` when kept).
    pub(crate) _dir: Option<TempDir>,
    pub(crate) path: PathBuf,
}

impl Scratch {
    pub(crate) fn new(test: &str) -> Self {
        let dir = tempfile::Builder::new()
            .prefix(&format!("skylark-{test}-"))
            .tempdir()
            .unwrap();
        let path = dir.path().to_path_buf();
        if std::env::var("SKYLARK_COMPAT_KEEP").as_deref() == Ok("1") {
            eprintln!("{test}: keeping {}", path.display());
            return Self {
                _dir: None,
                path: dir.keep(),
            };
        }
        Self {
            _dir: Some(dir),
            path,
        }
    }

    pub(crate) fn path(&self) -> &Path {
        &self.path
    }
}

pub(crate) fn copy_dir(from: &Path, to: &Path) {
    std::fs::create_dir_all(to).unwrap();
    for entry in std::fs::read_dir(from).unwrap() {
        let entry = entry.unwrap();
        let target = to.join(entry.file_name());
        if entry.file_type().unwrap().is_dir() {
            copy_dir(&entry.path(), &target);
        } else {
            std::fs::copy(entry.path(), &target).unwrap();
        }
    }
}

/// Contents of every file under `commitlog/`, `consumequeue/` (Skylark's
/// dot-files aside) and `index/`, by relative path.
pub(crate) fn data_files(root: &Path) -> BTreeMap<PathBuf, Vec<u8>> {
    fn walk(root: &Path, dir: &Path, out: &mut BTreeMap<PathBuf, Vec<u8>>) {
        let Ok(entries) = std::fs::read_dir(dir) else {
            return;
        };
        for entry in entries {
            let path = entry.unwrap().path();
            if path.is_dir() {
                walk(root, &path, out);
            } else if !path.file_name().unwrap().to_string_lossy().starts_with('.') {
                let rel = path.strip_prefix(root).unwrap().to_path_buf();
                out.insert(rel, std::fs::read(&path).unwrap());
            }
        }
    }
    let mut out = BTreeMap::new();
    for sub in ["commitlog", "consumequeue", "index"] {
        walk(root, &root.join(sub), &mut out);
    }
    out
}

/// Names the files that differ between two [`data_files`] snapshots, with
/// the first differing byte of each.
pub(crate) fn changed_files(
    before: &BTreeMap<PathBuf, Vec<u8>>,
    after: &BTreeMap<PathBuf, Vec<u8>>,
) -> Vec<String> {
    let mut out = Vec::new();
    for (path, old) in before {
        match after.get(path) {
            None => out.push(format!("{} deleted", path.display())),
            Some(new) if new != old => {
                let at = old.iter().zip(new).position(|(a, b)| a != b);
                out.push(format!(
                    "{} changed: len {} -> {}, first difference at byte {at:?}",
                    path.display(),
                    old.len(),
                    new.len()
                ));
            }
            Some(_) => {}
        }
    }
    for (path, new) in after.iter().filter(|(p, _)| !before.contains_key(*p)) {
        // Skylark keeps the next CommitLog file pre-allocated (all zeros);
        // RocketMQ's recovery ignores and truncates such a file.
        let preallocated = path.starts_with("commitlog") && new.iter().all(|&b| b == 0);
        if preallocated {
            eprintln!("note: {} pre-allocated (all zeros)", path.display());
        } else {
            out.push(format!("{} created", path.display()));
        }
    }
    out
}
