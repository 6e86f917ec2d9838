//! MIT Kerberos's GSSAPI (`libgssapi_krb5.so.2`, Debian's libgssapi-krb5-2, on every Debian system) as the
//! lab's acceptor: the registrar and the web services accept sfbkit's AP-REQs and check and make MIC tokens
//! with the reference implementation, not with sfbkit's own Kerberos code.
//!
//! The library is opened at run time (`dlopen`), so building the lab needs no Kerberos headers and a lab
//! without Kerberos needs no library. Credentials come from the lab's keytab through
//! `gss_acquire_cred_from` (MIT 1.11+): nothing process-wide (`KRB5_KTNAME`) is set.

use std::ffi::{CString, c_char, c_int, c_void};
use std::sync::{Arc, Mutex, OnceLock};

type OmUint32 = u32;
type Ctx = *mut c_void;
type Cred = *mut c_void;
type Name = *mut c_void;

#[repr(C)]
struct Buffer {
    length: usize,
    value: *mut c_void,
}

#[repr(C)]
struct KeyValue {
    key: *const c_char,
    value: *const c_char,
}

#[repr(C)]
struct KeyValueSet {
    count: OmUint32,
    elements: *const KeyValue,
}

const GSS_C_ACCEPT: c_int = 2;
const GSS_C_GSS_CODE: c_int = 1;
const GSS_C_MECH_CODE: c_int = 2;
const GSS_S_CONTINUE_NEEDED: OmUint32 = 1;

type AcquireCredFrom = unsafe extern "C" fn(
    *mut OmUint32,
    Name,
    OmUint32,
    *const c_void,
    c_int,
    *const KeyValueSet,
    *mut Cred,
    *mut c_void,
    *mut OmUint32,
) -> OmUint32;
type AcceptSecContext = unsafe extern "C" fn(
    *mut OmUint32,
    *mut Ctx,
    Cred,
    *const Buffer,
    *const c_void,
    *mut Name,
    *mut c_void,
    *mut Buffer,
    *mut OmUint32,
    *mut OmUint32,
    *mut Cred,
) -> OmUint32;
type DisplayName = unsafe extern "C" fn(*mut OmUint32, Name, *mut Buffer, *mut c_void) -> OmUint32;
type GetMic = unsafe extern "C" fn(*mut OmUint32, Ctx, OmUint32, *const Buffer, *mut Buffer) -> OmUint32;
type VerifyMic = unsafe extern "C" fn(*mut OmUint32, Ctx, *const Buffer, *const Buffer, *mut OmUint32) -> OmUint32;
type ReleaseBuffer = unsafe extern "C" fn(*mut OmUint32, *mut Buffer) -> OmUint32;
type ReleaseName = unsafe extern "C" fn(*mut OmUint32, *mut Name) -> OmUint32;
type DeleteSecContext = unsafe extern "C" fn(*mut OmUint32, *mut Ctx, *mut Buffer) -> OmUint32;
type ReleaseCred = unsafe extern "C" fn(*mut OmUint32, *mut Cred) -> OmUint32;
type DisplayStatus =
    unsafe extern "C" fn(*mut OmUint32, OmUint32, c_int, *const c_void, *mut OmUint32, *mut Buffer) -> OmUint32;

/// The functions used, from the library opened once per process.
struct Library {
    acquire_cred_from: AcquireCredFrom,
    accept_sec_context: AcceptSecContext,
    display_name: DisplayName,
    get_mic: GetMic,
    verify_mic: VerifyMic,
    release_buffer: ReleaseBuffer,
    release_name: ReleaseName,
    delete_sec_context: DeleteSecContext,
    release_cred: ReleaseCred,
    display_status: DisplayStatus,
}

/// The library's name on Debian and most Linux distributions.
pub const LIBRARY: &str = "libgssapi_krb5.so.2";

fn library() -> Result<&'static Library, String> {
    static LIB: OnceLock<Result<Library, String>> = OnceLock::new();
    LIB.get_or_init(|| {
        let name = CString::new(LIBRARY).map_err(|e| e.to_string())?;
        // SAFETY: dlopen with a valid C string; the handle is kept for the life of the process.
        let handle = unsafe { libc::dlopen(name.as_ptr(), libc::RTLD_NOW | libc::RTLD_LOCAL) };
        if handle.is_null() {
            return Err(format!("{LIBRARY} is not installed (Debian: apt-get install libgssapi-krb5-2)"));
        }
        let sym = |s: &str| -> Result<*mut c_void, String> {
            let c = CString::new(s).map_err(|e| e.to_string())?;
            // SAFETY: dlsym on the handle opened above with a valid C string.
            let p = unsafe { libc::dlsym(handle, c.as_ptr()) };
            if p.is_null() { Err(format!("{LIBRARY} lacks {s} (MIT Kerberos 1.11 or later is needed)")) } else { Ok(p) }
        };
        // SAFETY: each symbol is the MIT GSSAPI function of that name, whose C signature the type states
        // (gssapi.h, gssapi_ext.h).
        unsafe {
            Ok(Library {
                acquire_cred_from: std::mem::transmute::<*mut c_void, AcquireCredFrom>(sym("gss_acquire_cred_from")?),
                accept_sec_context: std::mem::transmute::<*mut c_void, AcceptSecContext>(sym(
                    "gss_accept_sec_context",
                )?),
                display_name: std::mem::transmute::<*mut c_void, DisplayName>(sym("gss_display_name")?),
                get_mic: std::mem::transmute::<*mut c_void, GetMic>(sym("gss_get_mic")?),
                verify_mic: std::mem::transmute::<*mut c_void, VerifyMic>(sym("gss_verify_mic")?),
                release_buffer: std::mem::transmute::<*mut c_void, ReleaseBuffer>(sym("gss_release_buffer")?),
                release_name: std::mem::transmute::<*mut c_void, ReleaseName>(sym("gss_release_name")?),
                delete_sec_context: std::mem::transmute::<*mut c_void, DeleteSecContext>(sym(
                    "gss_delete_sec_context",
                )?),
                release_cred: std::mem::transmute::<*mut c_void, ReleaseCred>(sym("gss_release_cred")?),
                display_status: std::mem::transmute::<*mut c_void, DisplayStatus>(sym("gss_display_status")?),
            })
        }
    })
    .as_ref()
    .map_err(|e| e.clone())
}

fn failed(major: OmUint32) -> bool {
    major & 0xffff_0000 != 0
}

/// MIT's own words for a status pair.
fn describe(lib: &Library, major: OmUint32, minor: OmUint32) -> String {
    let mut parts = Vec::new();
    for (code, kind) in [(major, GSS_C_GSS_CODE), (minor, GSS_C_MECH_CODE)] {
        if code == 0 {
            continue;
        }
        let mut ctx: OmUint32 = 0;
        for _ in 0..4 {
            let mut m = 0;
            let mut buf = Buffer { length: 0, value: std::ptr::null_mut() };
            // SAFETY: out-parameters are valid; the buffer is released below.
            let r = unsafe { (lib.display_status)(&mut m, code, kind, std::ptr::null(), &mut ctx, &mut buf) };
            if failed(r) {
                break;
            }
            parts.push(take(lib, &mut buf).map(|b| String::from_utf8_lossy(&b).into_owned()).unwrap_or_default());
            if ctx == 0 {
                break;
            }
        }
    }
    parts.join(": ")
}

/// Copies and releases a buffer MIT allocated.
fn take(lib: &Library, buf: &mut Buffer) -> Option<Vec<u8>> {
    let out = if buf.value.is_null() {
        None
    } else {
        // SAFETY: MIT returned `length` bytes at `value`.
        Some(unsafe { std::slice::from_raw_parts(buf.value as *const u8, buf.length) }.to_vec())
    };
    let mut m = 0;
    // SAFETY: releasing a buffer MIT allocated (or an empty one).
    unsafe { (lib.release_buffer)(&mut m, buf) };
    out
}

fn input(bytes: &[u8]) -> Buffer {
    Buffer { length: bytes.len(), value: bytes.as_ptr() as *mut c_void }
}

/// The acceptor credential of the lab's service principals (its keytab).
pub struct Acceptor {
    cred: Cred,
    lib: &'static Library,
}

// SAFETY: MIT's credential handles may be used from any thread (the library is thread-safe for distinct
// contexts; the credential is only read by gss_accept_sec_context).
unsafe impl Send for Acceptor {}
unsafe impl Sync for Acceptor {}

impl Acceptor {
    /// Credentials for every service principal in `keytab`, with no replay cache (the lab accepts many
    /// contexts per second from one client).
    pub fn new(keytab: &std::path::Path) -> Result<Arc<Acceptor>, String> {
        let lib = library()?;
        let path = CString::new(format!("FILE:{}", keytab.display())).map_err(|e| e.to_string())?;
        let (k_keytab, k_rcache, none) = (c"keytab", c"rcache", c"none:");
        let elements = [
            KeyValue { key: k_keytab.as_ptr(), value: path.as_ptr() },
            KeyValue { key: k_rcache.as_ptr(), value: none.as_ptr() },
        ];
        let store = KeyValueSet { count: 2, elements: elements.as_ptr() };
        let mut minor = 0;
        let mut cred: Cred = std::ptr::null_mut();
        // SAFETY: the store and its strings outlive the call; the out-parameters are valid.
        let major = unsafe {
            (lib.acquire_cred_from)(
                &mut minor,
                std::ptr::null_mut(),
                0,
                std::ptr::null(),
                GSS_C_ACCEPT,
                &store,
                &mut cred,
                std::ptr::null_mut(),
                std::ptr::null_mut(),
            )
        };
        if failed(major) {
            return Err(format!("gss_acquire_cred_from: {}", describe(lib, major, minor)));
        }
        Ok(Arc::new(Acceptor { cred, lib }))
    }

    /// Accepts one initial token (krb5 or SPNEGO). Returns the context, the client principal and the
    /// token to send back (an AP-REP or a SPNEGO reply), if any.
    pub fn accept(&self, token: &[u8]) -> Result<(Context, String, Option<Vec<u8>>), String> {
        let lib = self.lib;
        let mut minor = 0;
        let mut ctx: Ctx = std::ptr::null_mut();
        let mut name: Name = std::ptr::null_mut();
        let mut out = Buffer { length: 0, value: std::ptr::null_mut() };
        let tok = input(token);
        // SAFETY: all pointers are valid for the call; MIT allocates ctx, name and out.
        let major = unsafe {
            (lib.accept_sec_context)(
                &mut minor,
                &mut ctx,
                self.cred,
                &tok,
                std::ptr::null(),
                &mut name,
                std::ptr::null_mut(),
                &mut out,
                std::ptr::null_mut(),
                std::ptr::null_mut(),
                std::ptr::null_mut(),
            )
        };
        let reply = take(lib, &mut out).filter(|r| !r.is_empty());
        let context = Context { ctx: Mutex::new(ctx), lib };
        if failed(major) {
            return Err(describe(lib, major, minor));
        }
        if major & GSS_S_CONTINUE_NEEDED != 0 {
            return Err("the context needs another leg, which the lab does not do".into());
        }
        let mut display = Buffer { length: 0, value: std::ptr::null_mut() };
        // SAFETY: `name` came from gss_accept_sec_context.
        let r = unsafe { (lib.display_name)(&mut minor, name, &mut display, std::ptr::null_mut()) };
        let principal = if failed(r) {
            String::new()
        } else {
            take(lib, &mut display).map(|b| String::from_utf8_lossy(&b).into_owned()).unwrap_or_default()
        };
        // SAFETY: releasing the name MIT allocated.
        unsafe { (lib.release_name)(&mut minor, &mut name) };
        Ok((context, principal, reply))
    }
}

impl std::fmt::Debug for Acceptor {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("Acceptor(MIT GSSAPI)")
    }
}

impl Drop for Acceptor {
    fn drop(&mut self) {
        let mut minor = 0;
        // SAFETY: releasing the credential acquired in `new`, once.
        unsafe { (self.lib.release_cred)(&mut minor, &mut self.cred) };
    }
}

/// An established acceptor context: makes and checks MIC tokens.
pub struct Context {
    ctx: Mutex<Ctx>,
    lib: &'static Library,
}

// SAFETY: the context handle is used under its mutex, one call at a time.
unsafe impl Send for Context {}
unsafe impl Sync for Context {}

impl Context {
    pub fn get_mic(&self, message: &[u8]) -> Result<Vec<u8>, String> {
        let ctx = self.ctx.lock().unwrap_or_else(|p| p.into_inner());
        let mut minor = 0;
        let mut out = Buffer { length: 0, value: std::ptr::null_mut() };
        let msg = input(message);
        // SAFETY: a valid context under its lock; MIT allocates `out`.
        let major = unsafe { (self.lib.get_mic)(&mut minor, *ctx, 0, &msg, &mut out) };
        if failed(major) {
            return Err(describe(self.lib, major, minor));
        }
        take(self.lib, &mut out).ok_or_else(|| "an empty MIC".to_string())
    }

    pub fn verify_mic(&self, message: &[u8], token: &[u8]) -> Result<(), String> {
        let ctx = self.ctx.lock().unwrap_or_else(|p| p.into_inner());
        let mut minor = 0;
        let (msg, tok) = (input(message), input(token));
        let mut qop = 0;
        // SAFETY: a valid context under its lock; the buffers outlive the call.
        let major = unsafe { (self.lib.verify_mic)(&mut minor, *ctx, &msg, &tok, &mut qop) };
        if failed(major) { Err(describe(self.lib, major, minor)) } else { Ok(()) }
    }
}

impl Drop for Context {
    fn drop(&mut self) {
        let ctx = self.ctx.get_mut().unwrap_or_else(|p| p.into_inner());
        if !ctx.is_null() {
            let mut minor = 0;
            // SAFETY: deleting a context MIT created, once.
            unsafe { (self.lib.delete_sec_context)(&mut minor, ctx, std::ptr::null_mut()) };
        }
    }
}

/// Whether MIT's GSSAPI can be loaded here.
pub fn available() -> Result<(), String> {
    library().map(|_| ())
}
