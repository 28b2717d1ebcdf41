//! placeholder replaced by the real module
use std::path::{Path, PathBuf};
use super::Config;
#[derive(Debug, Default)]
pub struct Dirs { pub state: Option<PathBuf>, pub logs: Option<PathBuf> }
#[derive(Debug, thiserror::Error)]
pub enum ConfigError { #[error("x")] X }
pub fn load(_path: &Path) -> Result<Config, ConfigError> { Err(ConfigError::X) }
pub fn parse_str(_t: &str, _p: &Path, _d: &Dirs) -> Result<Config, ConfigError> { Err(ConfigError::X) }
