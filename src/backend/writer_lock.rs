//! One writer per file: an advisory `flock`, released explicitly when the writer
//! closes rather than only by closing its descriptor.
//!
//! A `flock` belongs to the open file, which `fork` shares. A program that
//! another thread of this process spawns holds a copy of every descriptor from
//! its fork to its exec (when `O_CLOEXEC` closes them), so a lock left to the
//! close outlives its writer through that window, and a writer reopened right
//! after is refused as if another held it. `LOCK_UN` releases the lock whatever
//! copies exist. Only the process that took the lock releases it: a forked child
//! dropping its inherited copy must not free its parent's lock.

use std::fs::File;
use std::os::unix::io::AsRawFd;

/// An exclusive `flock` held on an open file until dropped.
pub(crate) struct WriterLock {
    /// A descriptor of the locked open file, kept for the unlock.
    file: File,
    /// The process that took the lock: the only one that releases it.
    owner: u32,
}

impl WriterLock {
    /// Takes the lock on `file` without waiting; `Ok(None)` when another writer
    /// holds it.
    pub(crate) fn try_take(file: &File) -> std::io::Result<Option<WriterLock>> {
        // SAFETY: flock on a descriptor the caller owns; no memory is involved.
        if unsafe { libc::flock(file.as_raw_fd(), libc::LOCK_EX | libc::LOCK_NB) } != 0 {
            let e = std::io::Error::last_os_error();
            return match e.raw_os_error() {
                Some(libc::EWOULDBLOCK) => Ok(None),
                _ => Err(e),
            };
        }
        let lock = WriterLock {
            file: file.try_clone()?,
            owner: std::process::id(),
        };
        Ok(Some(lock))
    }
}

impl Drop for WriterLock {
    fn drop(&mut self) {
        if std::process::id() == self.owner {
            // SAFETY: as above.
            unsafe { libc::flock(self.file.as_raw_fd(), libc::LOCK_UN) };
        }
    }
}
