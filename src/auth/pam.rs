//! The PAM backend, with libpam loaded at run time.
//!
//! Why `dlopen`: linking against libpam needs its headers and `-lpam`
//! (Debian's libpam0g-dev) at build time, and the project must build and test
//! on a machine that has only the runtime library (libpam0g, present on every
//! Debian system). So we load `libpam.so.0` with `libloading` when the backend
//! is set up, and declare the handful of types and functions we call
//! ourselves, from `<security/_pam_types.h>` and `<security/pam_appl.h>` of
//! Linux-PAM. If the library is missing, the backend logs an error once and
//! refuses every login with `NO [UNAVAILABLE]`.
//!
//! The hard part is the conversation callback: PAM asks us for the password
//! through a C function pointer, and frees the answers it gets with `free(3)`,
//! so they must come from `malloc(3)`. Linux-PAM passes the messages as an
//! array of pointers (`msg[i]`), which is what we index.
//!
//! The sequence per login is what UW imapd and Dovecot do: `pam_start`
//! (service from the configuration, default `imap`), `PAM_RHOST` = the client,
//! `pam_authenticate`, `pam_acct_mgmt` (expired or locked accounts), then the
//! user (PAM modules may rename it) is looked up in the password database for
//! uid, gid and home, and `pam_end`. PAM's own failure delay is replaced by a
//! no-op (`PAM_FAIL_DELAY`): the session applies the one growing delay.
//!
//! This is one of the two files with `unsafe` code (the other is
//! mailstore/mmap.rs); every block says what upholds its contract.

#![allow(unsafe_code)]

use std::ffi::{CStr, CString, c_char, c_int, c_uint, c_void};
use std::net::IpAddr;
use std::ptr;

use libloading::Library;
use nix::libc;

use super::{AuthError, Authenticator, Groups, UserInfo};

/// The runtime library's soname (package libpam0g on Debian).
const LIBPAM: &str = "libpam.so.0";

// From Linux-PAM's <security/_pam_types.h>.
const PAM_SUCCESS: c_int = 0;
const PAM_BUF_ERR: c_int = 5;
const PAM_CONV_ERR: c_int = 19;
const PAM_USER: c_int = 2;
const PAM_RHOST: c_int = 4;
const PAM_FAIL_DELAY: c_int = 10;
const PAM_PROMPT_ECHO_OFF: c_int = 1;
const PAM_PROMPT_ECHO_ON: c_int = 2;
const PAM_ERROR_MSG: c_int = 3;
const PAM_TEXT_INFO: c_int = 4;
const PAM_SILENT: c_int = 0x8000;
const PAM_DISALLOW_NULL_AUTHTOK: c_int = 0x0001;

#[repr(C)]
struct PamMessage {
    msg_style: c_int,
    msg: *const c_char,
}

#[repr(C)]
struct PamResponse {
    resp: *mut c_char,
    resp_retcode: c_int,
}

type ConvFn = extern "C" fn(
    num_msg: c_int,
    msg: *mut *const PamMessage,
    resp: *mut *mut PamResponse,
    appdata: *mut c_void,
) -> c_int;

#[repr(C)]
struct PamConv {
    conv: ConvFn,
    appdata_ptr: *mut c_void,
}

/// `pam_handle_t` is opaque.
#[repr(C)]
struct PamHandle {
    _private: [u8; 0],
}

type PamStart = unsafe extern "C" fn(
    service: *const c_char,
    user: *const c_char,
    conv: *const PamConv,
    handle: *mut *mut PamHandle,
) -> c_int;
type PamFlagsFn = unsafe extern "C" fn(handle: *mut PamHandle, flags: c_int) -> c_int;
type PamEnd = unsafe extern "C" fn(handle: *mut PamHandle, status: c_int) -> c_int;
type PamSetItem =
    unsafe extern "C" fn(handle: *mut PamHandle, item: c_int, value: *const c_void) -> c_int;
type PamGetItem =
    unsafe extern "C" fn(handle: *const PamHandle, item: c_int, value: *mut *const c_void) -> c_int;
type PamStrerror = unsafe extern "C" fn(handle: *mut PamHandle, errnum: c_int) -> *const c_char;
type FailDelayFn = extern "C" fn(retval: c_int, usec: c_uint, appdata: *mut c_void);

/// The functions we use, resolved from the loaded library.
struct Functions {
    start: PamStart,
    authenticate: PamFlagsFn,
    acct_mgmt: PamFlagsFn,
    end: PamEnd,
    set_item: PamSetItem,
    get_item: PamGetItem,
    strerror: PamStrerror,
    /// Keeps the code the pointers above point into mapped. Declared last so
    /// it is dropped last.
    _library: Library,
}

/// The PAM backend. See the module doc.
pub struct Pam {
    service: CString,
    functions: Result<Functions, String>,
}

impl Pam {
    /// Loads libpam. A failure is logged now and makes every login `Unavailable`.
    pub fn new(service: &str) -> Self {
        let functions = load();
        if let Err(why) = &functions {
            log::error!("event=pam-unavailable reason={why:?}");
        }
        let service = CString::new(service).unwrap_or_else(|_| c"imap".to_owned());
        Pam { service, functions }
    }
}

impl Authenticator for Pam {
    fn check(
        &self,
        user: &str,
        password: &[u8],
        peer: Option<IpAddr>,
    ) -> Result<UserInfo, AuthError> {
        let f = self
            .functions
            .as_ref()
            .map_err(|why| AuthError::Unavailable(why.clone()))?;
        // A NUL cannot be passed through C; no real password has one.
        let (Ok(c_user), Ok(c_password)) = (CString::new(user), CString::new(password)) else {
            return Err(AuthError::Rejected("NUL in user name or password".into()));
        };
        let name = f.run(&self.service, &c_user, &c_password, peer)?;
        account(&name)
    }

    fn name(&self) -> &'static str {
        "pam"
    }
}

impl Functions {
    /// One PAM transaction; returns the (possibly renamed) user on success.
    fn run(
        &self,
        service: &CStr,
        user: &CStr,
        password: &CStr,
        peer: Option<IpAddr>,
    ) -> Result<String, AuthError> {
        let conv = PamConv {
            conv: converse,
            appdata_ptr: password.as_ptr() as *mut c_void,
        };
        let mut handle: *mut PamHandle = ptr::null_mut();
        // SAFETY: the strings are NUL-terminated and outlive the transaction
        // (they are borrowed for this whole function, and pam_end runs before it
        // returns); `conv` lives on this stack frame until pam_end; `handle` is
        // a valid out-pointer.
        let status = unsafe { (self.start)(service.as_ptr(), user.as_ptr(), &conv, &mut handle) };
        if status != PAM_SUCCESS || handle.is_null() {
            return Err(AuthError::Unavailable(format!(
                "pam_start failed ({status})"
            )));
        }
        let result = self.transaction(handle, peer);
        let last = match &result {
            Ok(_) => PAM_SUCCESS,
            Err((status, _)) => *status,
        };
        // SAFETY: `handle` came from a successful pam_start and is ended once.
        unsafe { (self.end)(handle, last) };
        result.map_err(|(_, e)| e)
    }

    /// The steps between pam_start and pam_end; `Err` carries the PAM status for pam_end.
    fn transaction(
        &self,
        handle: *mut PamHandle,
        peer: Option<IpAddr>,
    ) -> Result<String, (c_int, AuthError)> {
        let rhost = peer.and_then(|p| CString::new(p.to_string()).ok());
        // SAFETY: `handle` is live (see `run`); PAM copies string items; the
        // fail-delay item is a function pointer with the documented signature.
        unsafe {
            if let Some(rhost) = &rhost {
                (self.set_item)(handle, PAM_RHOST, rhost.as_ptr().cast());
            }
            let delay: FailDelayFn = no_fail_delay;
            (self.set_item)(handle, PAM_FAIL_DELAY, delay as *const c_void);
        }
        let flags = PAM_SILENT | PAM_DISALLOW_NULL_AUTHTOK;
        // SAFETY: `handle` is live; the conversation's appdata (the password)
        // outlives this call (borrowed by `run`).
        let status = unsafe { (self.authenticate)(handle, flags) };
        if status != PAM_SUCCESS {
            return Err((status, AuthError::Rejected(self.describe(handle, status))));
        }
        // SAFETY: as above.
        let status = unsafe { (self.acct_mgmt)(handle, flags) };
        if status != PAM_SUCCESS {
            let why = format!("account: {}", self.describe(handle, status));
            return Err((status, AuthError::Rejected(why)));
        }
        let mut item: *const c_void = ptr::null();
        // SAFETY: `handle` is live and `item` a valid out-pointer; PAM_USER is a
        // NUL-terminated string owned by the handle, copied before pam_end.
        let name = unsafe {
            if (self.get_item)(handle, PAM_USER, &mut item) != PAM_SUCCESS || item.is_null() {
                None
            } else {
                CStr::from_ptr(item.cast()).to_str().ok().map(str::to_owned)
            }
        };
        name.ok_or((
            PAM_SUCCESS,
            AuthError::Unavailable("PAM_USER missing after authentication".into()),
        ))
    }

    fn describe(&self, handle: *mut PamHandle, status: c_int) -> String {
        // SAFETY: pam_strerror returns a static string (or NULL) for any status.
        let text = unsafe { (self.strerror)(handle, status) };
        if text.is_null() {
            return format!("PAM error {status}");
        }
        // SAFETY: non-NULL, NUL-terminated, static.
        let text = unsafe { CStr::from_ptr(text) };
        format!("{} ({status})", text.to_string_lossy())
    }
}

/// Resolves the functions from libpam.so.0.
fn load() -> Result<Functions, String> {
    // SAFETY: libpam's initialisers are those of any PAM-using program; we are
    // single-threaded here.
    let library = unsafe { Library::new(LIBPAM) }.map_err(|e| format!("loading {LIBPAM}: {e}"))?;
    macro_rules! symbol {
        ($name:literal) => {
            // SAFETY: the type we name is the C prototype from Linux-PAM's
            // <security/pam_appl.h>; the pointer is copied out and used only
            // while `_library` keeps the code mapped.
            *unsafe { library.get($name) }
                .map_err(|e| format!("{LIBPAM}: {}: {e}", String::from_utf8_lossy($name)))?
        };
    }
    Ok(Functions {
        start: symbol!(b"pam_start"),
        authenticate: symbol!(b"pam_authenticate"),
        acct_mgmt: symbol!(b"pam_acct_mgmt"),
        end: symbol!(b"pam_end"),
        set_item: symbol!(b"pam_set_item"),
        get_item: symbol!(b"pam_get_item"),
        strerror: symbol!(b"pam_strerror"),
        _library: library,
    })
}

/// uid, gid and home of an authenticated user, from the password database.
fn account(name: &str) -> Result<UserInfo, AuthError> {
    let user = nix::unistd::User::from_name(name)
        .map_err(|e| AuthError::Unavailable(format!("getpwnam({name}): {e}")))?
        .ok_or_else(|| {
            AuthError::Rejected("authenticated by PAM but not in the password database".into())
        })?;
    Ok(UserInfo {
        name: user.name,
        uid: user.uid.as_raw(),
        gid: user.gid.as_raw(),
        home: user.dir,
        groups: Groups::FromGroupDatabase,
    })
}

/// The conversation function: answers every prompt that hides its input with
/// the password, and echoing prompts (a user name) with nothing.
extern "C" fn converse(
    num_msg: c_int,
    msg: *mut *const PamMessage,
    resp: *mut *mut PamResponse,
    appdata: *mut c_void,
) -> c_int {
    let Ok(count) = usize::try_from(num_msg) else {
        return PAM_CONV_ERR;
    };
    if count == 0 || msg.is_null() || resp.is_null() || appdata.is_null() {
        return PAM_CONV_ERR;
    }
    // SAFETY: calloc of `count` zeroed responses; PAM frees them (and each
    // `resp` string) with free(3), which is why they come from the C allocator.
    let replies = unsafe { libc::calloc(count, size_of::<PamResponse>()) }.cast::<PamResponse>();
    if replies.is_null() {
        return PAM_BUF_ERR;
    }
    for i in 0..count {
        // SAFETY: Linux-PAM passes `num_msg` valid message pointers in `msg`.
        let style = unsafe { (**msg.add(i)).msg_style };
        let answer = match style {
            // SAFETY: appdata is the NUL-terminated password `run` passed.
            PAM_PROMPT_ECHO_OFF => unsafe { libc::strdup(appdata as *const c_char) },
            PAM_PROMPT_ECHO_ON => unsafe { libc::strdup(c"".as_ptr()) },
            PAM_ERROR_MSG | PAM_TEXT_INFO => ptr::null_mut(),
            _ => {
                free_replies(replies, i);
                return PAM_CONV_ERR;
            }
        };
        let needs_text = matches!(style, PAM_PROMPT_ECHO_OFF | PAM_PROMPT_ECHO_ON);
        if needs_text && answer.is_null() {
            free_replies(replies, i);
            return PAM_BUF_ERR;
        }
        // SAFETY: `i < count`, within the calloc'd array.
        unsafe { (*replies.add(i)).resp = answer };
    }
    // SAFETY: `resp` is PAM's valid out-pointer.
    unsafe { *resp = replies };
    PAM_SUCCESS
}

/// Frees the first `filled` answers and the array (a failed conversation).
fn free_replies(replies: *mut PamResponse, filled: usize) {
    for i in 0..filled {
        // SAFETY: entries below `filled` hold strdup'd strings or NULL; the
        // password copy is wiped before it is freed.
        unsafe {
            let text = (*replies.add(i)).resp;
            if !text.is_null() {
                libc::memset(text.cast(), 0, libc::strlen(text));
                libc::free(text.cast());
            }
        }
    }
    // SAFETY: allocated by calloc in `converse`.
    unsafe { libc::free(replies.cast()) };
}

/// PAM_FAIL_DELAY callback: no delay here; the session applies its own.
extern "C" fn no_fail_delay(_: c_int, _: c_uint, _: *mut c_void) {}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn conversation_answers_hidden_prompts_with_the_password() {
        let password = c"hunter2";
        let prompts = [
            PamMessage {
                msg_style: PAM_TEXT_INFO,
                msg: c"hello".as_ptr(),
            },
            PamMessage {
                msg_style: PAM_PROMPT_ECHO_OFF,
                msg: c"Password: ".as_ptr(),
            },
        ];
        let mut pointers: Vec<*const PamMessage> = prompts.iter().map(|m| m as *const _).collect();
        let mut replies: *mut PamResponse = ptr::null_mut();
        let status = converse(
            2,
            pointers.as_mut_ptr(),
            &mut replies,
            password.as_ptr() as *mut c_void,
        );
        assert_eq!(status, PAM_SUCCESS);
        // SAFETY: converse filled two calloc'd replies.
        unsafe {
            assert!((*replies).resp.is_null());
            assert_eq!(CStr::from_ptr((*replies.add(1)).resp), password);
        }
        free_replies(replies, 2);
    }

    #[test]
    fn unknown_prompt_styles_fail_the_conversation() {
        let prompts = [PamMessage {
            msg_style: 99,
            msg: c"?".as_ptr(),
        }];
        let mut pointers: Vec<*const PamMessage> = prompts.iter().map(|m| m as *const _).collect();
        let mut replies: *mut PamResponse = ptr::null_mut();
        let status = converse(
            1,
            pointers.as_mut_ptr(),
            &mut replies,
            c"x".as_ptr() as *mut c_void,
        );
        assert_eq!(status, PAM_CONV_ERR);
        assert!(replies.is_null());
    }

    #[test]
    fn a_missing_service_or_library_refuses_without_panicking() {
        // With libpam present this runs a real transaction against a service
        // file that does not exist (PAM falls back to "other"); either way the
        // answer for a nonexistent user is a refusal, never a panic.
        let pam = Pam::new("mbox-imapd-test-no-such-service");
        let result = pam.check("mbox-imapd-no-such-user", b"x", None);
        assert!(result.is_err(), "{result:?}");
        let broken = Pam {
            service: c"imap".to_owned(),
            functions: Err("loading libpam.so.0: not found".into()),
        };
        assert!(matches!(
            broken.check("alice", b"x", None),
            Err(AuthError::Unavailable(_))
        ));
    }
}
