//! Becoming the user after a login: the one place the server stops being root.
//!
//! Order matters, and every step is checked: supplementary groups first
//! (initgroups for a system user, only the primary gid for a virtual one),
//! then the gid, then the uid (after setuid we could no longer change
//! groups), real, effective and saved alike (`setresgid`/`setresuid`, so no
//! saved root id is left to return to). Then we verify what we cannot take on
//! faith: `setuid(0)` must now fail, and the ids must be the user's. Only then
//! `chdir` to the home directory. uid 0 and gid 0 are refused outright,
//! whatever a backend said.
//!
//! Any failure is an error the caller turns into `* BYE` and a log line; the
//! process then exits, still root but having served nothing of the user's.

use std::ffi::CString;

use nix::unistd::{self, Gid, Uid};
use thiserror::Error;

use crate::auth::{Groups, UserInfo};

#[derive(Debug, Error)]
pub enum PrivilegeError {
    #[error("refusing to serve uid 0 or gid 0 ({0})")]
    Root(String),
    #[error("{step} failed: {errno}")]
    Call {
        step: &'static str,
        errno: nix::errno::Errno,
    },
    #[error("root privileges could still be regained after dropping them")]
    StillRoot,
    #[error("ids after the drop are uid {uid}/{euid}, gid {gid}/{egid}")]
    WrongIds {
        uid: u32,
        euid: u32,
        gid: u32,
        egid: u32,
    },
    #[error("chdir to home {home}: {errno}")]
    Home {
        home: String,
        errno: nix::errno::Errno,
    },
}

/// Drops root for good and enters the user's home. See the module doc.
pub fn become_user(user: &UserInfo) -> Result<(), PrivilegeError> {
    if user.uid == 0 || user.gid == 0 {
        return Err(PrivilegeError::Root(user.name.clone()));
    }
    let (uid, gid) = (Uid::from_raw(user.uid), Gid::from_raw(user.gid));
    let call = |step: &'static str| move |errno| PrivilegeError::Call { step, errno };
    match user.groups {
        Groups::FromGroupDatabase => {
            let name = CString::new(user.name.as_str())
                .map_err(|_| PrivilegeError::Root(user.name.clone()))?;
            unistd::initgroups(&name, gid).map_err(call("initgroups"))?;
        }
        Groups::PrimaryOnly => unistd::setgroups(&[gid]).map_err(call("setgroups"))?,
    }
    unistd::setresgid(gid, gid, gid).map_err(call("setresgid"))?;
    unistd::setresuid(uid, uid, uid).map_err(call("setresuid"))?;
    if unistd::setuid(Uid::from_raw(0)).is_ok() || unistd::seteuid(Uid::from_raw(0)).is_ok() {
        return Err(PrivilegeError::StillRoot);
    }
    let ids = (
        unistd::getuid(),
        unistd::geteuid(),
        unistd::getgid(),
        unistd::getegid(),
    );
    if ids != (uid, uid, gid, gid) {
        return Err(PrivilegeError::WrongIds {
            uid: ids.0.as_raw(),
            euid: ids.1.as_raw(),
            gid: ids.2.as_raw(),
            egid: ids.3.as_raw(),
        });
    }
    unistd::chdir(&user.home).map_err(|errno| PrivilegeError::Home {
        home: user.home.display().to_string(),
        errno,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn root_is_never_served() {
        // Refused before any system call, so this is safe to run as root.
        for (uid, gid) in [(0, 100), (1000, 0)] {
            let user = UserInfo {
                name: "toor".into(),
                uid,
                gid,
                home: "/".into(),
                groups: Groups::PrimaryOnly,
            };
            assert!(matches!(become_user(&user), Err(PrivilegeError::Root(_))));
        }
    }
}
