//! `crdgen [DIR...]`: writes the CRD YAML into each DIR (default: `crds/` and
//! `charts/skylark/crds/` of the repository).

use std::path::{Path, PathBuf};

use anyhow::Context as _;

fn main() -> anyhow::Result<()> {
    let mut dirs: Vec<PathBuf> = std::env::args_os().skip(1).map(PathBuf::from).collect();
    if dirs.is_empty() {
        let root = Path::new(env!("CARGO_MANIFEST_DIR"))
            .parent()
            .context("operator/ has no parent directory")?;
        dirs = vec![root.join("crds"), root.join("charts/skylark/crds")];
    }
    for dir in &dirs {
        std::fs::create_dir_all(dir).with_context(|| format!("cannot create {}", dir.display()))?;
        for (file, crd) in skylark_operator::crd::all() {
            let path = dir.join(file);
            let yaml = skylark_operator::crd::to_yaml(&crd)?;
            std::fs::write(&path, yaml)
                .with_context(|| format!("cannot write {}", path.display()))?;
            eprintln!("wrote {}", path.display());
        }
    }
    Ok(())
}
