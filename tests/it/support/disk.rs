//! A small file system that can be filled up and given room again: a
//! tmpfs mounted for the test when this process may mount one (as root, as
//! CI runs), else nothing: the tests then cap the database instead.

use std::fs::{self, File};
use std::io::{self, Write};
use std::path::{Path, PathBuf};
use std::process::Command;

use super::fail::OrFail;

pub struct SmallDisk {
    dir: tempfile::TempDir,
}

impl SmallDisk {
    /// A tmpfs of `size` bytes on a fresh folder; `None` where mounting is
    /// not allowed.
    pub fn mount(size: u64) -> Option<SmallDisk> {
        let dir = tempfile::Builder::new()
            .prefix("feedwatch-disk-")
            .tempdir()
            .or_fail("make a mount point");
        let mounted = Command::new("mount")
            .args(["-t", "tmpfs", "-o", &format!("size={size}"), "tmpfs"])
            .arg(dir.path())
            .output()
            .is_ok_and(|out| out.status.success());
        mounted.then_some(SmallDisk { dir })
    }

    pub fn path(&self) -> &Path {
        self.dir.path()
    }

    fn filler(&self) -> PathBuf {
        self.path().join("filler")
    }

    /// Takes all the room left but `spare` bytes.
    pub fn fill(&self, spare: u64) {
        let mut file = File::create(self.filler()).or_fail("create the filler");
        let block = vec![0u8; 64 * 1024];
        loop {
            match file.write(&block) {
                Ok(0) => break,
                Ok(_) => {}
                Err(e) if e.kind() == io::ErrorKind::StorageFull => break,
                Err(e) => panic!("fill the disk: {e}"),
            }
        }
        let _ = file.flush();
        let len = file.metadata().or_fail("size the filler").len();
        file.set_len(len.saturating_sub(spare))
            .or_fail("leave room on the disk");
    }

    /// Gives the room back.
    pub fn free_up(&self) {
        fs::remove_file(self.filler()).or_fail("remove the filler");
    }
}

impl Drop for SmallDisk {
    fn drop(&mut self) {
        let _ = Command::new("umount").arg("-l").arg(self.path()).status();
    }
}
