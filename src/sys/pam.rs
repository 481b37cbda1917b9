//! Linux-PAM through `dlopen("libpam.so.0")` (why not linked, and why
//! not a binding crate: docs/pam.md). The whole FFI surface: pam_start,
//! pam_set_item, pam_authenticate, pam_acct_mgmt, pam_strerror, pam_end
//! and the conversation trampoline. The policy (which prompt, how many
//! tries, what a return code means for the caller) is auth/pam.rs's.

use std::ffi::{CStr, c_char, c_int, c_uint, c_void};
use std::sync::OnceLock;

pub const PAM_SUCCESS: c_int = 0;
pub const PAM_BUF_ERR: c_int = 5;
pub const PAM_PERM_DENIED: c_int = 6;
pub const PAM_AUTH_ERR: c_int = 7;
pub const PAM_CRED_INSUFFICIENT: c_int = 8;
pub const PAM_AUTHINFO_UNAVAIL: c_int = 9;
pub const PAM_USER_UNKNOWN: c_int = 10;
pub const PAM_MAXTRIES: c_int = 11;
pub const PAM_NEW_AUTHTOK_REQD: c_int = 12;
pub const PAM_ACCT_EXPIRED: c_int = 13;
pub const PAM_CONV_ERR: c_int = 19;

pub const PAM_TTY: c_int = 3;
pub const PAM_RUSER: c_int = 8;
const PAM_FAIL_DELAY: c_int = 10;

const PAM_PROMPT_ECHO_OFF: c_int = 1;
const PAM_PROMPT_ECHO_ON: c_int = 2;
const PAM_ERROR_MSG: c_int = 3;
const PAM_TEXT_INFO: c_int = 4;

pub const PAM_SILENT: c_int = 0x8000;
pub const PAM_DISALLOW_NULL_AUTHTOK: c_int = 0x0001;

const PAM_MAX_NUM_MSG: c_int = 32;

/// The soname loaded on first use.
const LIBPAM: &CStr = c"libpam.so.0";

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
pub struct Lib {
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

/// libpam, loaded on first use (the error is dlopen's/dlsym's text).
pub fn lib() -> Result<&'static Lib, &'static str> {
    static LIB: OnceLock<Result<Lib, String>> = OnceLock::new();
    LIB.get_or_init(load).as_ref().map_err(String::as_str)
}

/// What a PAM module asks of the application.
pub enum Message<'a> {
    /// A prompt; `echo` when the answer may be shown.
    Prompt { echo: bool, text: &'a str },
    /// A message to show (`error` for PAM_ERROR_MSG).
    Info { error: bool, text: &'a str },
}

/// The application ended the conversation (it keeps its own record of
/// why); the module gets PAM_CONV_ERR.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ConvFailed;

/// The application's side of the conversation.
pub trait Conversation {
    /// The answer's type (wiped on drop by the implementation).
    type Answer: AsRef<[u8]>;
    /// Answer a prompt (`Some`) or show a message (`None`); `Err` ends
    /// the conversation (the module gets PAM_CONV_ERR) and the
    /// implementation keeps its own record of why.
    fn converse(&self, m: Message<'_>) -> Result<Option<Self::Answer>, ConvFailed>;
    /// An answer held a NUL byte (it cannot be passed to PAM).
    fn nul_in_answer(&self);
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
/// # Safety
/// `r` points to `n` PamResponse structs from calloc whose `resp` fields
/// are NULL or strings from [`c_dup`].
unsafe fn free_responses(r: *mut PamResponse, n: usize) {
    for i in 0..n {
        // SAFETY: i < n, within the array (caller's contract).
        let item = unsafe { &mut *r.add(i) };
        if !item.resp.is_null() {
            // SAFETY: a NUL-terminated string from c_dup.
            let len = unsafe { libc::strlen(item.resp) };
            // SAFETY: `len` bytes are owned by this allocation.
            super::mem::wipe(unsafe {
                std::slice::from_raw_parts_mut(item.resp.cast::<u8>(), len)
            });
            // SAFETY: allocated by calloc in c_dup.
            unsafe { libc::free(item.resp.cast()) };
        }
    }
    // SAFETY: allocated by calloc in `conversation`.
    unsafe { libc::free(r.cast()) };
}

/// The trampoline PAM calls; `appdata` is the `C` of [`Handle::start`].
///
/// # Safety
/// Called by Linux-PAM only, with its documented arguments.
unsafe extern "C" fn conversation<C: Conversation>(
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
    // SAFETY: appdata is the `C` that `Handle::start` registered; it
    // outlives the PAM handle (the handle borrows it).
    let conv = unsafe { &*appdata.cast::<C>() };
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
        let message = match m.msg_style {
            PAM_PROMPT_ECHO_OFF => Message::Prompt {
                echo: false,
                text: &text,
            },
            PAM_PROMPT_ECHO_ON => Message::Prompt {
                echo: true,
                text: &text,
            },
            PAM_ERROR_MSG => Message::Info {
                error: true,
                text: &text,
            },
            PAM_TEXT_INFO => Message::Info {
                error: false,
                text: &text,
            },
            _ => {
                // SAFETY: as above, filled up to i.
                unsafe { free_responses(out, i) };
                return PAM_CONV_ERR;
            }
        };
        match conv.converse(message) {
            Ok(None) => {}
            Ok(Some(answer)) => match c_dup(answer.as_ref()) {
                // SAFETY: i < n; `out` holds n zeroed responses.
                Some(p) => unsafe { (*out.add(i)).resp = p },
                None => {
                    // SAFETY: as above, filled up to i.
                    unsafe { free_responses(out, i) };
                    conv.nul_in_answer();
                    return PAM_CONV_ERR;
                }
            },
            Err(ConvFailed) => {
                // SAFETY: as above, filled up to i.
                unsafe { free_responses(out, i) };
                return PAM_CONV_ERR;
            }
        }
    }
    // SAFETY: `resp` is PAM's out-pointer; PAM takes ownership of `out`.
    unsafe { *resp = out };
    PAM_SUCCESS
}

/// libpam calls this instead of sleeping itself: the application applies
/// its own delay after a wrong password.
unsafe extern "C" fn no_delay(_retval: c_int, _usec: c_uint, _appdata: *mut c_void) {}

/// One PAM transaction borrowing its conversation; `pam_end` on drop.
pub struct Handle<'c, C: Conversation> {
    lib: &'static Lib,
    h: *mut c_void,
    last: c_int,
    _conv: std::marker::PhantomData<&'c C>,
}

impl<'c, C: Conversation> Handle<'c, C> {
    /// `pam_start(service, user)` with `conv`; `Err` holds PAM's text.
    pub fn start(service: &CStr, user: &CStr, conv: &'c C) -> Result<Self, String> {
        let lib = lib().map_err(str::to_string)?;
        let pc = PamConv {
            conv: Some(conversation::<C>),
            appdata_ptr: (conv as *const C).cast_mut().cast(),
        };
        let mut h: *mut c_void = std::ptr::null_mut();
        // SAFETY: service and user are C strings, `pc` is a live PamConv
        // (pam_start copies the struct; the `C` it points to is borrowed
        // for 'c, longer than the handle), `h` is a live out-pointer.
        let rc = unsafe { (lib.start)(service.as_ptr(), user.as_ptr(), &pc, &mut h) };
        if rc != PAM_SUCCESS || h.is_null() {
            return Err(strerror(lib, std::ptr::null_mut(), rc));
        }
        Ok(Handle {
            lib,
            h,
            last: rc,
            _conv: std::marker::PhantomData,
        })
    }

    /// `pam_set_item` of a string item (PAM copies it).
    pub fn set_str(&self, item: c_int, value: &CStr) -> Result<(), c_int> {
        // SAFETY: live handle; PAM copies string items.
        let rc = unsafe { (self.lib.set_item)(self.h, item, value.as_ptr().cast()) };
        if rc == PAM_SUCCESS { Ok(()) } else { Err(rc) }
    }

    /// Tell PAM not to sleep after a failure (the caller delays).
    pub fn set_no_delay(&self) -> Result<(), c_int> {
        let f: DelayFn = no_delay;
        // SAFETY: PAM_FAIL_DELAY takes a function pointer of DelayFn's type.
        let rc = unsafe { (self.lib.set_item)(self.h, PAM_FAIL_DELAY, f as *const c_void) };
        if rc == PAM_SUCCESS { Ok(()) } else { Err(rc) }
    }

    /// `pam_authenticate(flags)`.
    pub fn authenticate(&mut self, flags: c_int) -> c_int {
        // SAFETY: live handle.
        self.last = unsafe { (self.lib.authenticate)(self.h, flags) };
        self.last
    }

    /// `pam_acct_mgmt(flags)`.
    pub fn acct_mgmt(&mut self, flags: c_int) -> c_int {
        // SAFETY: live handle.
        self.last = unsafe { (self.lib.acct_mgmt)(self.h, flags) };
        self.last
    }

    /// `pam_strerror` of `rc`.
    pub fn error(&self, rc: c_int) -> String {
        strerror(self.lib, self.h, rc)
    }
}

impl<C: Conversation> Drop for Handle<'_, C> {
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

#[cfg(test)]
mod tests {
    use super::*;

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
