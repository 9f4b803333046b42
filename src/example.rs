//! The example campaign that ships with the app. The installed copy lives in a folder
//! nobody may write to (`/usr/lib/MergeGuard/examples`), and a campaign writes next to
//! itself (its Outbox folder), so "Load example" opens a copy in a folder of the user's.
//!
//! Architecture invariant: nothing here knows where the app is installed. The caller
//! passes the folder holding the bundled files (Tauri's resource folder, or a source
//! checkout in tests), so no path of the build machine is compiled into a binary.

use std::path::{Path, PathBuf};

use crate::error::{ErrorCode, UserError};

/// The files of the example campaign, as shipped. Nothing else is copied: a stray file
/// in the install folder (an old Outbox message) never reaches the user's copy.
pub const FILES: [&str; 6] = [
    "campaign.toml",
    "customers.csv",
    "customers.utf8.csv",
    "newsletter.txt",
    "newsletter.html",
    "coupon.txt",
];

/// The name of a copy's folder; the second and later copies get " (2)", " (3)", ….
const FOLDER: &str = "Example campaign";
/// More copies than anyone makes by hand; past it the user is asked to tidy up.
const MAX_COPIES: u32 = 99;

/// Where the user's campaign folders go: `MergeGuard` in their documents folder (XDG
/// `DOCUMENTS` on Linux, "Documents" on macOS and Windows), else `~/Documents` when it
/// exists, else the data folder, which always exists.
pub fn campaigns_home(data_dir: &Path) -> PathBuf {
    dirs::document_dir()
        .or_else(|| {
            dirs::home_dir()
                .map(|h| h.join("Documents"))
                .filter(|d| d.is_dir())
        })
        .map(|d| d.join("MergeGuard"))
        .unwrap_or_else(|| data_dir.join("campaigns"))
}

fn io_error(what: &str, path: &Path, e: std::io::Error) -> UserError {
    UserError::new(
        ErrorCode::Io,
        format!("cannot {what} {}: {e}", path.display()),
    )
}

/// Copies the example from `bundled` (the folder holding [`FILES`]) into a new folder
/// under `parent` and returns the copy's campaign file. A copy made earlier that is
/// still identical to the bundled files is opened again instead of copied anew; one the
/// user changed is left alone and the next free "Example campaign (N)" is used.
pub fn copy_example(bundled: &Path, parent: &Path) -> Result<PathBuf, UserError> {
    let mut originals = Vec::with_capacity(FILES.len());
    for name in FILES {
        let path = bundled.join(name);
        let bytes = std::fs::read(&path).map_err(|e| {
            UserError::new(
                ErrorCode::Io,
                format!(
                    "the example campaign is incomplete in this installation: {} ({e})",
                    path.display()
                ),
            )
        })?;
        originals.push((name, bytes));
    }
    for n in 1..=MAX_COPIES {
        let folder = match n {
            1 => parent.join(FOLDER),
            n => parent.join(format!("{FOLDER} ({n})")),
        };
        if folder.exists() {
            let unchanged = originals
                .iter()
                .all(|(name, bytes)| std::fs::read(folder.join(name)).is_ok_and(|b| b == *bytes));
            if unchanged {
                return Ok(folder.join("campaign.toml"));
            }
            continue;
        }
        std::fs::create_dir_all(&folder).map_err(|e| io_error("create the folder", &folder, e))?;
        for (name, bytes) in &originals {
            let to = folder.join(name);
            std::fs::write(&to, bytes).map_err(|e| io_error("write", &to, e))?;
        }
        return Ok(folder.join("campaign.toml"));
    }
    Err(UserError::new(
        ErrorCode::Io,
        format!(
            "there are already {MAX_COPIES} copies of the example in {}; remove some and try again",
            parent.display()
        ),
    ))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn bundled() -> PathBuf {
        Path::new(env!("CARGO_MANIFEST_DIR")).join("examples")
    }

    #[test]
    fn copies_only_the_listed_files_and_reuses_an_unchanged_copy() {
        let tmp = tempfile::tempdir().unwrap();
        let first = copy_example(&bundled(), tmp.path()).unwrap();
        assert_eq!(first, tmp.path().join("Example campaign/campaign.toml"));
        let mut names: Vec<_> = std::fs::read_dir(first.parent().unwrap())
            .unwrap()
            .map(|e| e.unwrap().file_name().into_string().unwrap())
            .collect();
        names.sort();
        let mut expected: Vec<_> = FILES.iter().map(|s| s.to_string()).collect();
        expected.sort();
        assert_eq!(
            names, expected,
            "make-customers.sh and outbox/ are not copied"
        );
        assert_eq!(copy_example(&bundled(), tmp.path()).unwrap(), first);
    }

    #[test]
    fn a_changed_copy_is_kept_and_a_new_one_made() {
        let tmp = tempfile::tempdir().unwrap();
        let first = copy_example(&bundled(), tmp.path()).unwrap();
        std::fs::write(
            first.parent().unwrap().join("newsletter.txt"),
            "my own text",
        )
        .unwrap();
        let second = copy_example(&bundled(), tmp.path()).unwrap();
        assert_eq!(
            second,
            tmp.path().join("Example campaign (2)/campaign.toml")
        );
        let kept = std::fs::read_to_string(first.parent().unwrap().join("newsletter.txt")).unwrap();
        assert_eq!(kept, "my own text", "the user's edit is never overwritten");
    }

    #[test]
    fn an_incomplete_installation_is_named() {
        let tmp = tempfile::tempdir().unwrap();
        let e = copy_example(tmp.path(), &tmp.path().join("out")).unwrap_err();
        assert_eq!(e.code, ErrorCode::Io);
        assert!(e.message.contains("incomplete"), "{}", e.message);
        assert!(!tmp.path().join("out").exists(), "nothing is created");
    }
}
