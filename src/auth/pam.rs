//! Password authentication and account checks through PAM (service
//! `belladonna`, shipped as `packaging/pam.d/belladonna`).
//!
//! libpam is **not linked**: it is loaded with `dlopen("libpam.so.0")` the
//! first time a rule needs PAM. Linking it would make every bdexec call
//! map libpam, libaudit and libcap-ng (measured here: ~0.4-0.5 ms more per
//! exec, more than bdexec's whole hot path), although most rules never
//! ask for a password. bdexec carries file capabilities, so the dynamic
//! loader runs in secure mode (`AT_SECURE`): `LD_LIBRARY_PATH` and
//! friends are ignored and the soname is found through the system's
//! trusted directories only. The FFI surface is small (start, set_item,
//! authenticate, acct_mgmt, strerror, end and a conversation function)
//! and written by hand: see `docs/pam.md` for why not a binding crate.
//!
//! The caller of [`authenticate`] runs with effective uid 0 and real uid
//! = the caller, like sudo; pam_unix then reads the shadow file itself.

use super::tty::{Secret, TtyPrompt, wipe};
use std::cell::RefCell;
use std::ffi::{CStr, CString, c_char, c_int, c_uint, c_void};
use std::sync::OnceLock;
use std::time::Duration;

/// The PAM service name (a compile-time constant; see
/// [`service_name`] for the test-only override).
pub const SERVICE: &str = "belladonna";

/// Default number of password tries per call.
pub const DEFAULT_TRIES: u32 = 3;

/// Delay after each wrong password (sudo's and pam_unix's ~2 s).
pub const FAIL_DELAY: Duration = Duration::from_secs(2);

/// The soname loaded on first use.
const LIBPAM: &CStr = c"libpam.so.0";

/// Kept at this path for callers (`auth::pam::AuthError`); defined in
/// [`super::error`] so the terminal code does not import PAM.
pub use super::error::AuthError;

// ---- the C interface (Linux-PAM, <security/_pam_types.h>) ----

const PAM_SUCCESS: c_int = 0;
const PAM_BUF_ERR: c_int = 5;
const PAM_PERM_DENIED: c_int = 6;
const PAM_AUTH_ERR: c_int = 7;
const PAM_CRED_INSUFFICIENT: c_int = 8;
const PAM_AUTHINFO_UNAVAIL: c_int = 9;
const PAM_USER_UNKNOWN: c_int = 10;
const PAM_MAXTRIES: c_int = 11;
const PAM_NEW_AUTHTOK_REQD: c_int = 12;
const PAM_ACCT_EXPIRED: c_int = 13;
const PAM_CONV_ERR: c_int = 19;

const PAM_TTY: c_int = 3;
const PAM_RUSER: c_int = 8;
const PAM_FAIL_DELAY: c_int = 10;

const PAM_PROMPT_ECHO_OFF: c_int = 1;
const PAM_PROMPT_ECHO_ON: c_int = 2;
const PAM_ERROR_MSG: c_int = 3;
const PAM_TEXT_INFO: c_int = 4;

const PAM_SILENT: c_int = 0x8000;
const PAM_DISALLOW_NULL_AUTHTOK: c_int = 0x0001;
/// Linux-PAM's PAM_MAX_NUM_MSG.
const PAM_MAX_NUM_MSG: c_int = 32;

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

type ConvFn = unsafe extern "C" fn(
    c_int,
    *mut *const PamMessage,
    *mut *mut PamResponse,
    *mut c_void,
) -> c_int;

#[repr(C)]
struct PamConv {
    conv: Option<ConvFn>,
    appdata_ptr: *mut c_void,
}

type DelayFn = unsafe extern "C" fn(c_int, c_uint, *mut c_void);

type StartFn =
    unsafe extern "C" fn(*const c_char, *const c_char, *const PamConv, *mut *mut c_void) -> c_int;
/// pam_end, pam_authenticate, pam_acct_mgmt: (handle, int) -> int.
type HandleIntFn = unsafe extern "C" fn(*mut c_void, c_int) -> c_int;
type SetItemFn = unsafe extern "C" fn(*mut c_void, c_int, *const c_void) -> c_int;
type StrerrorFn = unsafe extern "C" fn(*mut c_void, c_int) -> *const c_char;

/// The functions used from libpam.
struct Lib {
    start: StartFn,
    end: HandleIntFn,
    set_item: SetItemFn,
    authenticate: HandleIntFn,
    acct_mgmt: HandleIntFn,
    strerror: StrerrorFn,
}

fn dlerror_text() -> String {
    // SAFETY: dlerror returns NULL or a valid C string owned by libc.
    let p = unsafe { libc::dlerror() };
    if p.is_null() {
        return "unknown error".into();
    }
    // SAFETY: non-null pointer from dlerror, NUL-terminated.
    unsafe { CStr::from_ptr(p) }.to_string_lossy().into_owned()
}

fn sym(handle: *mut c_void, name: &CStr) -> Result<*mut c_void, String> {
    // SAFETY: `handle` is a live handle from dlopen; `name` is a C string.
    let p = unsafe { libc::dlsym(handle, name.as_ptr()) };
    if p.is_null() {
        return Err(format!("{}: {}", name.to_string_lossy(), dlerror_text()));
    }
    Ok(p)
}

fn load() -> Result<Lib, String> {
    // SAFETY: dlopen with a constant soname; the handle is never closed
    // (PAM modules keep pointers into libpam).
    let h = unsafe { libc::dlopen(LIBPAM.as_ptr(), libc::RTLD_NOW | libc::RTLD_LOCAL) };
    if h.is_null() {
        return Err(dlerror_text());
    }
    // SAFETY: (all transmutes below) each symbol is the Linux-PAM function
    // of that name, whose C prototype (<security/pam_appl.h>) is exactly
    // the function pointer type of the field it is stored in.
    unsafe {
        Ok(Lib {
            start: std::mem::transmute::<*mut c_void, StartFn>(sym(h, c"pam_start")?),
            end: std::mem::transmute::<*mut c_void, HandleIntFn>(sym(h, c"pam_end")?),
            set_item: std::mem::transmute::<*mut c_void, SetItemFn>(sym(h, c"pam_set_item")?),
            authenticate: std::mem::transmute::<*mut c_void, HandleIntFn>(sym(
                h,
                c"pam_authenticate",
            )?),
            acct_mgmt: std::mem::transmute::<*mut c_void, HandleIntFn>(sym(h, c"pam_acct_mgmt")?),
            strerror: std::mem::transmute::<*mut c_void, StrerrorFn>(sym(h, c"pam_strerror")?),
        })
    }
}

fn lib() -> Result<&'static Lib, AuthError> {
    static LIB: OnceLock<Result<Lib, String>> = OnceLock::new();
    LIB.get_or_init(load)
        .as_ref()
        .map_err(|e| AuthError::Unavailable(e.clone()))
}

/// The PAM service to use: [`SERVICE`]. Builds with the `test-hooks`
/// feature (never release builds) honour `BELLADONNA_TEST_PAM_SERVICE`
/// so tests can use their own service file.
pub fn service_name() -> String {
    #[cfg(feature = "test-hooks")]
    if let Some(s) = std::env::var_os("BELLADONNA_TEST_PAM_SERVICE")
        .and_then(|v| v.into_string().ok())
        .filter(|s| crate::identity::valid_name(s))
    {
        return s;
    }
    SERVICE.to_string()
}

/// What the conversation function needs, and what it reports back.
struct Conv<'a> {
    prompt: &'a TtyPrompt,
    /// The text shown instead of PAM's generic "Password: ".
    password_prompt: String,
    /// Set when the conversation failed on our side (no prompting
    /// allowed, terminal error, signal): authentication stops at once.
    failed: RefCell<Option<AuthError>>,
}

/// True for PAM's generic password prompts, which get our own text.
fn generic_password_prompt(text: &str) -> bool {
    text.trim()
        .trim_end_matches(':')
        .trim()
        .eq_ignore_ascii_case("password")
}

/// A malloc'ed C copy of `s` (PAM frees responses with free(3)).
fn c_dup(s: &[u8]) -> Option<*mut c_char> {
    if s.contains(&0) {
        return None;
    }
    // SAFETY: calloc of len+1 bytes; checked for NULL below.
    let p = unsafe { libc::calloc(s.len() + 1, 1) }.cast::<u8>();
    if p.is_null() {
        return None;
    }
    // SAFETY: `p` has room for s.len()+1 bytes and does not overlap `s`;
    // calloc zeroed the terminating NUL.
    unsafe { std::ptr::copy_nonoverlapping(s.as_ptr(), p, s.len()) };
    Some(p.cast())
}

/// Wipe and free the responses built so far.
///
/// SAFETY: `r` points to `n` PamResponse structs from calloc whose
/// `resp` fields are NULL or strings from [`c_dup`].
unsafe fn free_responses(r: *mut PamResponse, n: usize) {
    for i in 0..n {
        // SAFETY: i < n, within the array (caller's contract).
        let item = unsafe { &mut *r.add(i) };
        if !item.resp.is_null() {
            // SAFETY: a NUL-terminated string from c_dup.
            let len = unsafe { libc::strlen(item.resp) };
            // SAFETY: `len` bytes are owned by this allocation.
            wipe(unsafe { std::slice::from_raw_parts_mut(item.resp.cast::<u8>(), len) });
            // SAFETY: allocated by calloc in c_dup.
            unsafe { libc::free(item.resp.cast()) };
        }
    }
    // SAFETY: allocated by calloc in `conversation`.
    unsafe { libc::free(r.cast()) };
}

unsafe extern "C" fn conversation(
    num_msg: c_int,
    msg: *mut *const PamMessage,
    resp: *mut *mut PamResponse,
    appdata: *mut c_void,
) -> c_int {
    if appdata.is_null()
        || msg.is_null()
        || resp.is_null()
        || !(1..=PAM_MAX_NUM_MSG).contains(&num_msg)
    {
        return PAM_CONV_ERR;
    }
    // SAFETY: appdata is the `Conv` that `Session::start` registered; it
    // outlives the PAM handle (pam_end runs before it is dropped).
    let conv = unsafe { &*appdata.cast::<Conv<'_>>() };
    let n = num_msg as usize;
    // SAFETY: calloc of n responses; checked for NULL.
    let out = unsafe { libc::calloc(n, std::mem::size_of::<PamResponse>()) }.cast::<PamResponse>();
    if out.is_null() {
        return PAM_BUF_ERR;
    }
    for i in 0..n {
        // SAFETY: Linux-PAM passes an array of `num_msg` message pointers.
        let m = unsafe { *msg.add(i) };
        if m.is_null() {
            // SAFETY: `out` holds n calloc'ed responses, filled up to i.
            unsafe { free_responses(out, i) };
            return PAM_CONV_ERR;
        }
        // SAFETY: non-null pointer to a PamMessage owned by the module.
        let m = unsafe { &*m };
        let text = if m.msg.is_null() {
            String::new()
        } else {
            // SAFETY: PAM message texts are NUL-terminated C strings.
            unsafe { CStr::from_ptr(m.msg) }
                .to_string_lossy()
                .into_owned()
        };
        let answer: Result<Option<Secret>, AuthError> = match m.msg_style {
            PAM_PROMPT_ECHO_OFF => {
                let shown = if generic_password_prompt(&text) {
                    conv.password_prompt.clone()
                } else {
                    text
                };
                conv.prompt.read_secret(&shown).map(Some)
            }
            PAM_PROMPT_ECHO_ON => conv.prompt.read_visible(&text).map(Some),
            PAM_ERROR_MSG | PAM_TEXT_INFO => {
                conv.prompt.message(&text);
                Ok(None)
            }
            other => Err(AuthError::Pam(format!(
                "unknown conversation message style {other}"
            ))),
        };
        match answer {
            Ok(None) => {}
            Ok(Some(secret)) => match c_dup(secret.as_bytes()) {
                // SAFETY: i < n; `out` holds n zeroed responses.
                Some(p) => unsafe { (*out.add(i)).resp = p },
                None => {
                    // SAFETY: as above, filled up to i.
                    unsafe { free_responses(out, i) };
                    *conv.failed.borrow_mut() =
                        Some(AuthError::Tty("answer contains a NUL byte".into()));
                    return PAM_CONV_ERR;
                }
            },
            Err(e) => {
                // SAFETY: as above, filled up to i.
                unsafe { free_responses(out, i) };
                *conv.failed.borrow_mut() = Some(e);
                return PAM_CONV_ERR;
            }
        }
    }
    // SAFETY: `resp` is PAM's out-pointer; PAM takes ownership of `out`.
    unsafe { *resp = out };
    PAM_SUCCESS
}

/// libpam calls this instead of sleeping itself: bdexec applies its own
/// [`FAIL_DELAY`] after a wrong password only (not after `-n` refusals,
/// interrupted prompts or account checks).
unsafe extern "C" fn no_delay(_retval: c_int, _usec: c_uint, _appdata: *mut c_void) {}

/// One PAM transaction; `pam_end` on drop.
struct Handle<'l> {
    lib: &'l Lib,
    h: *mut c_void,
    last: c_int,
}

impl Handle<'_> {
    fn start<'l>(lib: &'l Lib, user: &str, conv: &PamConv) -> Result<Handle<'l>, AuthError> {
        let service = CString::new(service_name())
            .map_err(|_| AuthError::Pam("service name contains NUL".into()))?;
        let cuser =
            CString::new(user).map_err(|_| AuthError::Pam("user name contains NUL".into()))?;
        let mut h: *mut c_void = std::ptr::null_mut();
        // SAFETY: service and user are C strings, `conv` is a live PamConv
        // (pam_start copies the struct; the appdata it points to outlives
        // the handle), `h` is a live out-pointer.
        let rc = unsafe { (lib.start)(service.as_ptr(), cuser.as_ptr(), conv, &mut h) };
        if rc != PAM_SUCCESS || h.is_null() {
            return Err(AuthError::Pam(format!(
                "pam_start({}): {}",
                service.to_string_lossy(),
                strerror(lib, std::ptr::null_mut(), rc)
            )));
        }
        Ok(Handle { lib, h, last: rc })
    }

    fn set_str(&self, item: c_int, value: &str) -> Result<(), AuthError> {
        let v = CString::new(value).map_err(|_| AuthError::Pam("PAM item contains NUL".into()))?;
        // SAFETY: live handle; PAM copies string items.
        let rc = unsafe { (self.lib.set_item)(self.h, item, v.as_ptr().cast()) };
        self.check(rc, "pam_set_item")
    }

    fn set_delay(&self) -> Result<(), AuthError> {
        let f: DelayFn = no_delay;
        // SAFETY: PAM_FAIL_DELAY takes a function pointer of DelayFn's type.
        let rc = unsafe { (self.lib.set_item)(self.h, PAM_FAIL_DELAY, f as *const c_void) };
        self.check(rc, "pam_set_item(PAM_FAIL_DELAY)")
    }

    fn check(&self, rc: c_int, what: &str) -> Result<(), AuthError> {
        if rc == PAM_SUCCESS {
            Ok(())
        } else {
            Err(AuthError::Pam(format!("{what}: {}", self.error(rc))))
        }
    }

    fn error(&self, rc: c_int) -> String {
        strerror(self.lib, self.h, rc)
    }

    fn authenticate(&mut self, flags: c_int) -> c_int {
        // SAFETY: live handle.
        self.last = unsafe { (self.lib.authenticate)(self.h, flags) };
        self.last
    }

    fn acct_mgmt(&mut self, flags: c_int) -> c_int {
        // SAFETY: live handle.
        self.last = unsafe { (self.lib.acct_mgmt)(self.h, flags) };
        self.last
    }
}

impl Drop for Handle<'_> {
    fn drop(&mut self) {
        // SAFETY: the handle from pam_start, ended exactly once.
        unsafe { (self.lib.end)(self.h, self.last) };
    }
}

fn strerror(lib: &Lib, h: *mut c_void, rc: c_int) -> String {
    // SAFETY: pam_strerror accepts any handle (it is unused by
    // Linux-PAM) and returns a static string or NULL.
    let p = unsafe { (lib.strerror)(h, rc) };
    if p.is_null() {
        return format!("PAM error {rc}");
    }
    // SAFETY: non-null, NUL-terminated static string.
    unsafe { CStr::from_ptr(p) }.to_string_lossy().into_owned()
}

fn account_result(h: &Handle<'_>, rc: c_int) -> Result<(), AuthError> {
    match rc {
        PAM_SUCCESS => Ok(()),
        PAM_ACCT_EXPIRED => Err(AuthError::AccountExpired),
        PAM_NEW_AUTHTOK_REQD => Err(AuthError::PasswordExpired),
        PAM_PERM_DENIED | PAM_AUTH_ERR | PAM_USER_UNKNOWN => {
            Err(AuthError::AccountRefused(h.error(rc)))
        }
        other => Err(AuthError::Pam(format!("account check: {}", h.error(other)))),
    }
}

/// The prompt bdexec shows for a password.
pub fn password_prompt(user: &str) -> String {
    format!("[bdexec] password for {user}: ")
}

/// Authenticate `user` (the caller, by name) through PAM, with up to
/// `tries` password prompts (0 counts as 1) on `tty`, then run PAM's
/// account stage (an expired account or password is refused even with
/// the right password). Each wrong password costs [`FAIL_DELAY`].
/// With [`TtyPrompt::none`] no prompt is shown and a module that needs a
/// password makes this fail with [`AuthError::PasswordRequired`].
///
/// Run with effective uid 0 (real uid = the caller).
pub fn authenticate(user: &str, tty: &TtyPrompt, tries: u32) -> Result<(), AuthError> {
    let lib = lib()?;
    let conv_state = Conv {
        prompt: tty,
        password_prompt: password_prompt(user),
        failed: RefCell::new(None),
    };
    let conv = PamConv {
        conv: Some(conversation),
        appdata_ptr: (&conv_state as *const Conv<'_>).cast_mut().cast(),
    };
    let mut h = Handle::start(lib, user, &conv)?;
    h.set_str(PAM_RUSER, user)?;
    if let Some(path) = tty.path() {
        h.set_str(PAM_TTY, path)?;
    }
    h.set_delay()?;
    let tries = tries.max(1);
    let mut done = 0;
    loop {
        done += 1;
        let rc = h.authenticate(PAM_DISALLOW_NULL_AUTHTOK);
        if let Some(e) = conv_state.failed.borrow_mut().take() {
            return Err(e);
        }
        match rc {
            PAM_SUCCESS => break,
            PAM_AUTH_ERR
            | PAM_CRED_INSUFFICIENT
            | PAM_USER_UNKNOWN
            | PAM_AUTHINFO_UNAVAIL
            | PAM_MAXTRIES => {
                std::thread::sleep(FAIL_DELAY);
                // Without a terminal there is nothing to retry with.
                if rc == PAM_MAXTRIES || done >= tries || !tty.interactive() {
                    return Err(AuthError::Failed { tries: done });
                }
                tty.message("Sorry, try again.");
            }
            PAM_CONV_ERR if !tty.interactive() => return Err(AuthError::PasswordRequired),
            other => return Err(AuthError::Pam(h.error(other))),
        }
    }
    let rc = h.acct_mgmt(0);
    account_result(&h, rc)
}

/// PAM's account stage alone (no prompt, silent): for rules that need no
/// password but must still refuse an expired or locked-out account.
pub fn account_ok(user: &str) -> Result<(), AuthError> {
    let lib = lib()?;
    let none = TtyPrompt::none();
    let conv_state = Conv {
        prompt: &none,
        password_prompt: password_prompt(user),
        failed: RefCell::new(None),
    };
    let conv = PamConv {
        conv: Some(conversation),
        appdata_ptr: (&conv_state as *const Conv<'_>).cast_mut().cast(),
    };
    let mut h = Handle::start(lib, user, &conv)?;
    h.set_str(PAM_RUSER, user)?;
    h.set_delay()?;
    let rc = h.acct_mgmt(PAM_SILENT);
    account_result(&h, rc)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn prompts() {
        assert!(generic_password_prompt("Password: "));
        assert!(generic_password_prompt("password:"));
        assert!(!generic_password_prompt("Verification code: "));
        assert_eq!(password_prompt("alice"), "[bdexec] password for alice: ");
        assert!(!service_name().is_empty());
    }

    #[test]
    fn messages_are_one_line() {
        for e in [
            AuthError::PasswordRequired,
            AuthError::Failed { tries: 3 },
            AuthError::Failed { tries: 1 },
            AuthError::AccountExpired,
            AuthError::NoTty("no controlling terminal".into()),
        ] {
            assert!(!e.to_string().contains('\n'));
        }
        assert!(
            AuthError::PasswordRequired
                .to_string()
                .contains("a password is required")
        );
        assert_eq!(
            AuthError::Failed { tries: 3 }.to_string(),
            "3 incorrect password attempts"
        );
    }

    #[test]
    fn libpam_loads() {
        // libpam0g is part of every Debian system.
        assert!(lib().is_ok(), "{:?}", lib().err());
    }

    #[test]
    fn c_dup_refuses_nul() {
        assert!(c_dup(b"a\0b").is_none());
        let p = c_dup(b"abc").expect("alloc");
        // SAFETY: p is a NUL-terminated string from c_dup.
        let s = unsafe { CStr::from_ptr(p) }.to_bytes().to_vec();
        // SAFETY: allocated by calloc in c_dup.
        unsafe { libc::free(p.cast()) };
        assert_eq!(s, b"abc");
    }
}
