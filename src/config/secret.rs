//! Reading a secret named by `*_file` or `*_env`, and the warning for a
//! secret file every user can read.

use std::path::{Path, PathBuf};

use super::SecretRef;

/// Why a secret could not be read; never shows the secret.
#[derive(Debug, thiserror::Error)]
pub enum SecretReadError {
    #[error("cannot read the secret file {}", path.display())]
    File {
        path: PathBuf,
        #[source]
        source: std::io::Error,
    },
    #[error("the environment variable {0} holding the secret is not set")]
    Env(String),
    #[error("the secret in {0} is empty")]
    Empty(String),
}

impl SecretRef {
    /// The secret, without the whitespace around it (a file's final newline).
    pub fn read(&self) -> Result<String, SecretReadError> {
        let (raw, place) = match self {
            SecretRef::File(path) => (
                std::fs::read_to_string(path).map_err(|source| SecretReadError::File {
                    path: path.clone(),
                    source,
                })?,
                path.display().to_string(),
            ),
            SecretRef::Env(name) => (
                std::env::var(name).map_err(|_| SecretReadError::Env(name.clone()))?,
                format!("${name}"),
            ),
        };
        let secret = raw.trim();
        if secret.is_empty() {
            return Err(SecretReadError::Empty(place));
        }
        Ok(secret.to_string())
    }
}

/// A warning when the secret file at `path` is readable by every user.
#[cfg(unix)]
pub fn readable_by_others(path: &Path) -> Option<String> {
    use std::os::unix::fs::PermissionsExt;
    let mode = std::fs::metadata(path).ok()?.permissions().mode();
    (mode & 0o004 != 0).then(|| {
        format!(
            "the secret file {} is readable by every user; restrict it with chmod 600",
            path.display()
        )
    })
}

#[cfg(not(unix))]
pub fn readable_by_others(_path: &Path) -> Option<String> {
    None
}
